/* mmdet AnchorGenerator (mmdet/models/task_modules/prior_generators/anchor_generator.py):
 * base_size = stride, centre offset 0 (anchors centred on a cell's top-left corner), no rounding
 * (torchvision's AnchorGenerator rounds; mmdet does not), float32 in torch's operation order. */
#include <math.h>

#include "det/det.h"

nala_status nala_det_octave_scales(double octave_base_scale, int scales_per_octave, float *out, nala_err *err) {
  if (!out || scales_per_octave <= 0 || !(octave_base_scale > 0))
    return nala_fail(err, NALA_E_ARG, "octave scales: octave_base_scale %g, scales_per_octave %d (need > 0)",
                     octave_base_scale, scales_per_octave);
  /* numpy: 2 ** (i / n) * base in float64, then torch.Tensor(...) rounds once to float32. */
  for (int i = 0; i < scales_per_octave; i++)
    out[i] = (float)(pow(2.0, (double)i / scales_per_octave) * octave_base_scale);
  return NALA_OK;
}

nala_status nala_det_base_anchors(float base_size, const float *ratios, int n_ratios, const float *scales,
                                  int n_scales, float *out, nala_err *err) {
  if (!ratios || !scales || !out || n_ratios <= 0 || n_scales <= 0 || !(base_size > 0))
    return nala_fail(err, NALA_E_ARG, "base anchors: base_size %g, %d ratios, %d scales (need > 0)",
                     (double)base_size, n_ratios, n_scales);
  for (int r = 0; r < n_ratios; r++) {
    if (!(ratios[r] > 0))
      return nala_fail(err, NALA_E_ARG, "base anchors: ratio %d is %g (need > 0)", r, (double)ratios[r]);
    float h_ratio = sqrtf(ratios[r]);
    float w_ratio = 1.0f / h_ratio;
    for (int s = 0; s < n_scales; s++) {
      /* (base * ratio) * scale, as torch evaluates w * w_ratios[:, None] * scales[None, :]. */
      float ws = base_size * w_ratio * scales[s];
      float hs = base_size * h_ratio * scales[s];
      float *a = out + 4 * ((size_t)r * n_scales + s);
      a[0] = 0.0f - 0.5f * ws;
      a[1] = 0.0f - 0.5f * hs;
      a[2] = 0.0f + 0.5f * ws;
      a[3] = 0.0f + 0.5f * hs;
    }
  }
  return NALA_OK;
}

nala_status nala_det_grid_anchors(const float *base, int n_base, int stride_w, int stride_h, int feat_h,
                                  int feat_w, float *out, size_t out_cap, nala_err *err) {
  if (!base || !out || n_base <= 0 || stride_w <= 0 || stride_h <= 0 || feat_h < 0 || feat_w < 0)
    return nala_fail(err, NALA_E_ARG, "grid anchors: %d base anchors, stride %dx%d, map %dx%d", n_base, stride_w,
                     stride_h, feat_h, feat_w);
  size_t need = (size_t)feat_h * (size_t)feat_w * (size_t)n_base;
  if (out_cap < need)
    return nala_fail(err, NALA_E_NOMEM, "grid anchors: output holds %zu anchors, a %dx%d map with %d needs %zu",
                     out_cap, feat_h, feat_w, n_base, need);
  float *a = out;
  for (int y = 0; y < feat_h; y++) {
    float shift_y = (float)y * (float)stride_h;
    for (int x = 0; x < feat_w; x++) {
      float shift_x = (float)x * (float)stride_w;
      for (int k = 0; k < n_base; k++, a += 4) {
        a[0] = base[4 * k + 0] + shift_x;
        a[1] = base[4 * k + 1] + shift_y;
        a[2] = base[4 * k + 2] + shift_x;
        a[3] = base[4 * k + 3] + shift_y;
      }
    }
  }
  return NALA_OK;
}
