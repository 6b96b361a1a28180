/* The counting allocator of tests/support/alloc_count.h. */
#define _GNU_SOURCE /* dladdr */
#include "tests/support/alloc_count.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
int nala_alloc_count_available(void) { return 0; }
void nala_alloc_count_start(void) {}
void nala_alloc_count_stop(void) {}
long nala_alloc_count(nala_alloc_class c) {
  (void)c;
  return 0;
}
#else
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_long counts[NALA_ALLOC_CLASSES];
static _Thread_local int in_hook;
static atomic_int counting;

/* Libraries by class, first match wins: FFmpeg's (libav*, libsw*) and its external codecs run
 * under opencv_videoio, so the codec class is tried first. */
static const char *const codec_libs[] = {"libav", "libsw", "libx264", "libx265", "libvpx", "libopenh264",
                                         "libopencv_videoio", "libdav1d", "libaom", NULL};

static nala_alloc_class classify(void) {
  void *frames[32];
  int n = backtrace(frames, 32);
  int onednn = 0, opencv = 0;
  for (int i = 1; i < n; i++) {
    Dl_info info;
    if (!dladdr(frames[i], &info) || !info.dli_fname)
      continue;
    for (const char *const *lib = codec_libs; *lib; lib++)
      if (strstr(info.dli_fname, *lib))
        return NALA_ALLOC_CODEC;
    onednn |= strstr(info.dli_fname, "libdnnl") != NULL;
    opencv |= strstr(info.dli_fname, "libopencv") != NULL;
  }
  return onednn ? NALA_ALLOC_ONEDNN : opencv ? NALA_ALLOC_OPENCV : NALA_ALLOC_OURS;
}

static void count(void) {
  if (in_hook || !atomic_load(&counting))
    return;
  in_hook = 1;
  atomic_fetch_add(&counts[classify()], 1);
  in_hook = 0;
}

int nala_alloc_count_available(void) { return 1; }
void nala_alloc_count_start(void) {
  void *warm[4];
  backtrace(warm, 4); /* loads the unwinder before the first counted call */
  atomic_store(&counting, 1);
}
void nala_alloc_count_stop(void) { atomic_store(&counting, 0); }
long nala_alloc_count(nala_alloc_class c) { return c < NALA_ALLOC_CLASSES ? atomic_load(&counts[c]) : 0; }

void *malloc(size_t n) {
  count();
  return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
  count();
  return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
  count();
  return __libc_realloc(p, n);
}
void *aligned_alloc(size_t align, size_t n) {
  count();
  return __libc_memalign(align, n);
}
int posix_memalign(void **out, size_t align, size_t n) {
  count();
  *out = __libc_memalign(align, n);
  return *out ? 0 : 12;
}
#endif
