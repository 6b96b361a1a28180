/* Allocation counting for the "no allocation in the per-frame path" tests. Linking this object
 * interposes malloc, calloc, realloc, aligned_alloc and posix_memalign in the test executable (glibc
 * resolves them to the executable's definitions first); while counting is on, every call is
 * attributed by its call stack to the first class whose library appears in it. The sanitizer builds
 * replace malloc themselves: there nala_alloc_count_available() is 0 and tests print a skip line. */
#ifndef NALA_TEST_ALLOC_COUNT_H
#define NALA_TEST_ALLOC_COUNT_H

typedef enum nala_alloc_class {
  NALA_ALLOC_CODEC,  /* FFmpeg and the codecs it loads, and OpenCV's videoio that drives them */
  NALA_ALLOC_ONEDNN, /* oneDNN 2.6's per-execute argument maps (freed before it returns) */
  NALA_ALLOC_OPENCV, /* any other OpenCV module (imgproc, core) */
  NALA_ALLOC_OURS,   /* everything else: nala, the test, libc */
  NALA_ALLOC_CLASSES
} nala_alloc_class;

/* 1 when the counting allocator is linked in and active (not under ASan). */
int nala_alloc_count_available(void);
/* Starts / stops counting (no ck_assert while counting: check allocates to record assertions). */
void nala_alloc_count_start(void);
void nala_alloc_count_stop(void);
/* Calls counted so far of one class (all threads). */
long nala_alloc_count(nala_alloc_class c);

#endif
