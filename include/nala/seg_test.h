/* mmseg test modes: whole-image or slide-window inference (mmseg's EncoderDecoder.slide_inference),
 * the windows of an image, and the test_cfg of a config (datasets/seg_test.c). */
#ifndef NALA_SEG_TEST_H
#define NALA_SEG_TEST_H

#include <stddef.h>

#include "nala/config.h"
#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nala_seg_mode { NALA_SEG_WHOLE = 0, NALA_SEG_SLIDE = 1 } nala_seg_mode;

/* mmseg test_cfg: mode, and for 'slide' the crop and stride (height, width). */
typedef struct nala_seg_test_cfg {
  nala_seg_mode mode;
  int crop_h, crop_w;
  int stride_h, stride_w;
} nala_seg_test_cfg;

/* ADE20K: whole (UperNet base configs); slide fields preset to crop 512x512, stride 341x341. */
nala_seg_test_cfg nala_seg_test_ade20k(void);
/* Cityscapes: whole; slide fields preset to crop 512x1024, stride 341x683 (a common choice; set yours). */
nala_seg_test_cfg nala_seg_test_cityscapes(void);

/* model.test_cfg of a JSON config ("whole" or "slide" with crop_size and stride as (h, w)). */
nala_status nala_seg_test_from_config(const struct nala_test_cfg *test_cfg, nala_seg_test_cfg *out, nala_err *err);

/* One crop of an image: rows [y1, y2), columns [x1, x2). */
typedef struct nala_crop_window {
  int y1, x1, y2, x2;
} nala_crop_window;

/* mmseg slide_inference windows for an h x w (resized) image, in its loop order (rows outer):
 * grids = max(size - crop + stride - 1, 0) / stride + 1; y1 = i*stride; y2 = min(y1 + crop, h);
 * y1 = max(y2 - crop, 0) (same for x). *count gets the number of windows; with out == NULL only
 * the count is computed, else out must hold cap >= *count windows. */
nala_status nala_seg_slide_windows(const nala_seg_test_cfg *cfg, int h, int w, nala_crop_window *out, size_t cap,
                                   size_t *count, nala_err *err);

#ifdef __cplusplus
}
#endif

#endif
