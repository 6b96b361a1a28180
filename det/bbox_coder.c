/* mmdet DeltaXYWHBBoxCoder.decode (delta2bbox in
 * mmdet/models/task_modules/coders/delta_xywh_bbox_coder.py), add_ctr_clamp=False: float32 in
 * torch's operation order, no +1 on widths (mmdet >= 2.0). */
#include <math.h>

#include "det/det.h"

nala_det_delta_cfg nala_det_delta_default(float std_xy, float std_wh, int img_h, int img_w) {
  nala_det_delta_cfg cfg = {{0, 0, 0, 0}, {std_xy, std_xy, std_wh, std_wh}, 16.0 / 1000.0, 1, img_h, img_w};
  return cfg;
}

/* torch.clamp(x, min, max) on floats: max first, then min (NaN stays NaN). */
static inline float clampf(float x, float lo, float hi) {
  x = x < lo ? lo : x;
  return x > hi ? hi : x;
}

nala_status nala_det_delta_decode(const nala_det_delta_cfg *cfg, const float *rois, const float *deltas, size_t n,
                                  int k, float *out, nala_err *err) {
  if (!cfg || (n && (!rois || !deltas || !out)) || k <= 0)
    return nala_fail(err, NALA_E_ARG, "delta decode: NULL buffer or %d boxes per roi", k);
  if (!(cfg->wh_ratio_clip > 0) || (cfg->clip && (cfg->img_h <= 0 || cfg->img_w <= 0)))
    return nala_fail(err, NALA_E_ARG, "delta decode: wh_ratio_clip %g, clip image %dx%d", cfg->wh_ratio_clip,
                     cfg->img_h, cfg->img_w);
  /* np.abs(np.log(clip)) is float64; torch.clamp casts the bound to the tensor's float32. */
  const float max_ratio = (float)fabs(log(cfg->wh_ratio_clip));
  const float w_max = (float)cfg->img_w, h_max = (float)cfg->img_h;
  for (size_t i = 0; i < n; i++) {
    const float *roi = rois + 4 * i;
    float px = (roi[0] + roi[2]) * 0.5f, py = (roi[1] + roi[3]) * 0.5f;
    float pw = roi[2] - roi[0], ph = roi[3] - roi[1];
    for (int j = 0; j < k; j++) {
      const float *d = deltas + (i * (size_t)k + (size_t)j) * 4;
      float dx = d[0] * cfg->stds[0] + cfg->means[0];
      float dy = d[1] * cfg->stds[1] + cfg->means[1];
      float dw = clampf(d[2] * cfg->stds[2] + cfg->means[2], -max_ratio, max_ratio);
      float dh = clampf(d[3] * cfg->stds[3] + cfg->means[3], -max_ratio, max_ratio);
      float gx = px + pw * dx, gy = py + ph * dy;
      float gw = pw * expf(dw), gh = ph * expf(dh);
      float *o = out + (i * (size_t)k + (size_t)j) * 4;
      o[0] = gx - gw * 0.5f;
      o[1] = gy - gh * 0.5f;
      o[2] = gx + gw * 0.5f;
      o[3] = gy + gh * 0.5f;
      if (cfg->clip) {
        o[0] = clampf(o[0], 0.0f, w_max);
        o[1] = clampf(o[1], 0.0f, h_max);
        o[2] = clampf(o[2], 0.0f, w_max);
        o[3] = clampf(o[3], 0.0f, h_max);
      }
    }
  }
  return NALA_OK;
}
