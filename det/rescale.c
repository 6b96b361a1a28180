/* Boxes back to original image pixels. mmcv's Resize records per-axis w_scale = new_w / w and
 * h_scale = new_h / h (float64); mmdet moves them to a float32 tensor before using them, so both
 * modes round the factor (or its float64 inverse) to float once, then do one float32 op. */
#include "det/det.h"

nala_status nala_det_rescale_boxes(float *boxes, size_t n, double w_scale, double h_scale,
                                   nala_det_rescale_mode mode, nala_err *err) {
  if ((n && !boxes) || !(w_scale > 0) || !(h_scale > 0))
    return nala_fail(err, NALA_E_ARG, "rescale boxes: scale factors w %g h %g (need > 0)", w_scale, h_scale);
  if (mode == NALA_DET_RESCALE_DIVIDE) {
    const float sw = (float)w_scale, sh = (float)h_scale;
    for (size_t i = 0; i < n; i++) {
      float *b = boxes + 4 * i;
      b[0] /= sw, b[1] /= sh, b[2] /= sw, b[3] /= sh;
    }
  } else if (mode == NALA_DET_RESCALE_MUL_INVERSE) {
    const float iw = (float)(1.0 / w_scale), ih = (float)(1.0 / h_scale);
    for (size_t i = 0; i < n; i++) {
      float *b = boxes + 4 * i;
      b[0] *= iw, b[1] *= ih, b[2] *= iw, b[3] *= ih;
    }
  } else {
    return nala_fail(err, NALA_E_ARG, "rescale boxes: unknown mode %d", (int)mode);
  }
  return NALA_OK;
}
