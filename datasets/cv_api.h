/* The table of entry points of the OpenCV shim (datasets/image_io.cpp, built as libnala_cv.so), which
 * the C side loads with dlopen on the first image/video call (datasets/cv_load.c). OpenCV 4.6 as Debian
 * ships it pulls in ~240 shared libraries (gdal, poppler, avcodec, ...), about 30 MB of resident pages:
 * a program that never reads an image or a video must not pay for them, so nothing in libnala links
 * OpenCV. Each entry has the signature of the public function of the same name (include/nala/image_io.h,
 * include/nala/image_draw.h), whose wrapper in datasets/image_io.c calls it. Internal. */
#ifndef NALA_DATASETS_CV_API_H
#define NALA_DATASETS_CV_API_H

#include <stddef.h>
#include <stdint.h>

#include "nala/image_draw.h"
#include "nala/image_io.h"
#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever the table changes; the loader refuses a shim of another version (a stale build). */
#define NALA_CV_API_VERSION 1
#define NALA_CV_LIBRARY_NAME "libnala_cv.so"
/* The one symbol the shim exports: returns its (static, immutable) table. */
#define NALA_CV_API_SYMBOL "nala_cv_api_v1"

typedef struct nala_cv_api {
  int version;        /* NALA_CV_API_VERSION of the shim */
  size_t struct_size; /* sizeof(nala_cv_api) of the shim */
  nala_status (*image_read_exif)(const char *path, nala_channel_order order, size_t max_pixels, nala_exif_mode exif,
                                 nala_image *out, nala_err *err);
  nala_status (*image_decode)(const uint8_t *bytes, size_t n, const char *name, nala_channel_order order,
                              size_t max_pixels, nala_exif_mode exif, nala_image *out, nala_err *err);
  nala_status (*image_write)(const char *path, const nala_image *img, nala_err *err);
  nala_status (*image_resize)(const nala_image *src, nala_image *dst, nala_interp interp, nala_err *err);
  nala_status (*image_convert)(const nala_image *src, nala_image *dst, nala_err *err);
  nala_status (*image_text_size)(const char *text, double scale, int *w, int *h, int *baseline, nala_err *err);
  nala_status (*image_draw_text)(nala_image *img, const char *text, int x, int y, double scale,
                                 const uint8_t color[3], nala_err *err);
  nala_status (*text_mask_render)(const char *text, double scale, nala_text_mask *m, nala_err *err);
  nala_status (*video_open)(const char *path, nala_video_reader **out, nala_err *err);
  nala_status (*video_open_camera)(int index, nala_video_reader **out, nala_err *err);
  nala_video_info (*video_get_info)(const nala_video_reader *reader);
  nala_status (*video_read)(nala_video_reader *reader, nala_channel_order order, nala_image *frame, int *got,
                            nala_err *err);
  void (*video_close)(nala_video_reader *reader);
  nala_status (*video_writer_open)(const char *path, int w, int h, double fps, const char *fourcc,
                                   nala_video_writer **out, nala_err *err);
  nala_status (*video_write)(nala_video_writer *writer, const nala_image *frame, nala_err *err);
  nala_status (*video_writer_close)(nala_video_writer *writer, nala_err *err);
  void (*video_writer_abort)(nala_video_writer *writer);
} nala_cv_api;

typedef const nala_cv_api *(*nala_cv_api_fn)(void);

/* The shim's table, loading libnala_cv.so on the first call (once per process, thread-safe). When it
 * cannot be loaded, every call returns NALA_E_UNSUPPORTED with a message naming each path tried and
 * dlerror()'s reason. Where it is looked for: $NALA_CV_LIBRARY if set (that file only); else beside
 * the object holding this code (the executable, or a shared libnala), then the build tree's copy,
 * then the dynamic linker's search (LD_LIBRARY_PATH, RUNPATH, ld.so.cache). */
nala_status nala_cv_get(const nala_cv_api **api, nala_err *err);

#ifdef __cplusplus
}
#endif

#endif
