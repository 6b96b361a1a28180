/* mmseg test modes and slide-inference windows (spec in include/nala/seg_test.h). */
#include "nala/seg_test.h"

#include <string.h>

static int max_int(int a, int b) { return a > b ? a : b; }

nala_seg_test_cfg nala_seg_test_ade20k(void) {
  nala_seg_test_cfg cfg = {NALA_SEG_WHOLE, 512, 512, 341, 341};
  return cfg;
}

nala_seg_test_cfg nala_seg_test_cityscapes(void) {
  nala_seg_test_cfg cfg = {NALA_SEG_WHOLE, 512, 1024, 341, 683};
  return cfg;
}

nala_status nala_seg_test_from_config(const nala_test_cfg *test_cfg, nala_seg_test_cfg *out, nala_err *err) {
  if (!test_cfg || !out)
    return nala_fail(err, NALA_E_ARG, "nala_seg_test_from_config: test_cfg or out is NULL");
  nala_seg_test_cfg cfg = {NALA_SEG_WHOLE, test_cfg->crop_size[0], test_cfg->crop_size[1], test_cfg->stride[0],
                           test_cfg->stride[1]};
  if (!strcmp(test_cfg->mode, "slide")) {
    cfg.mode = NALA_SEG_SLIDE;
    if (cfg.crop_h <= 0 || cfg.crop_w <= 0 || cfg.stride_h <= 0 || cfg.stride_w <= 0)
      return nala_fail(err, NALA_E_ARG,
                       "model.test_cfg: slide mode needs positive crop_size and stride, got %dx%d / %dx%d",
                       cfg.crop_h, cfg.crop_w, cfg.stride_h, cfg.stride_w);
  } else if (strcmp(test_cfg->mode, "whole") && test_cfg->mode[0]) {
    return nala_fail(err, NALA_E_ARG, "model.test_cfg.mode: expected \"whole\" or \"slide\", got \"%.8s\"",
                     test_cfg->mode);
  }
  *out = cfg;
  return NALA_OK;
}

nala_status nala_seg_slide_windows(const nala_seg_test_cfg *cfg, int h, int w, nala_crop_window *out, size_t cap,
                                   size_t *count, nala_err *err) {
  if (!cfg || !count)
    return nala_fail(err, NALA_E_ARG, "nala_seg_slide_windows: cfg or count is NULL");
  *count = 0;
  if (cfg->crop_h <= 0 || cfg->crop_w <= 0 || cfg->stride_h <= 0 || cfg->stride_w <= 0)
    return nala_fail(err, NALA_E_ARG, "seg test cfg: crop %dx%d and stride %dx%d (HxW) must be positive", cfg->crop_h,
                     cfg->crop_w, cfg->stride_h, cfg->stride_w);
  if (h <= 0 || w <= 0)
    return nala_fail(err, NALA_E_SHAPE, "seg slide: zero-sized image %dx%d (HxW)", h, w);
  int h_grids = max_int(h - cfg->crop_h + cfg->stride_h - 1, 0) / cfg->stride_h + 1;
  int w_grids = max_int(w - cfg->crop_w + cfg->stride_w - 1, 0) / cfg->stride_w + 1;
  size_t n = (size_t)h_grids * w_grids;
  *count = n;
  if (!out)
    return NALA_OK;
  if (cap < n)
    return nala_fail(err, NALA_E_NOMEM, "seg slide: %zu windows for %dx%d, out holds %zu", n, h, w, cap);
  size_t k = 0;
  for (int hi = 0; hi < h_grids; hi++)
    for (int wi = 0; wi < w_grids; wi++) {
      int y2 = hi * cfg->stride_h + cfg->crop_h, x2 = wi * cfg->stride_w + cfg->crop_w;
      y2 = y2 < h ? y2 : h;
      x2 = x2 < w ? x2 : w;
      nala_crop_window win = {max_int(y2 - cfg->crop_h, 0), max_int(x2 - cfg->crop_w, 0), y2, x2};
      out[k++] = win;
    }
  return NALA_OK;
}
