/* RoPE angle and sin/cos tables, bit-compatible with NALA.py's RoPE module in float32. */
#include "core/kernels/rope.h"

#include <math.h>

/* nala_rope_angle lives in core/seeded_init.c (verified bit for bit against PyTorch there). */

static void rope_axis(int len, int half, const float *angle, float *sin_t, float *cos_t) {
  for (int p = 0; p < len; p++)
    for (int j = 0; j < half; j++) {
      float theta = (float)p * angle[j];
      sin_t[(size_t)p * half + j] = sinf(theta);
      cos_t[(size_t)p * half + j] = cosf(theta);
    }
}

void nala_rope_tables(int H, int W, int d, const float *angle, float *sin_h, float *cos_h, float *sin_w,
                      float *cos_w) {
  rope_axis(H, d / 2, angle, sin_h, cos_h);
  rope_axis(W, d / 2, angle, sin_w, cos_w);
}

size_t nala_rope_tables_floats(int H, int W, int d) { return (size_t)2 * ((size_t)H + (size_t)W) * (size_t)(d / 2); }

void nala_rope_build(int H, int W, int d, const float *angle, float *buf, nala_rope *rope) {
  size_t hs = (size_t)H * (size_t)(d / 2), wsz = (size_t)W * (size_t)(d / 2);
  float *sin_h = buf, *cos_h = buf + hs, *sin_w = buf + 2 * hs, *cos_w = buf + 2 * hs + wsz;
  nala_rope_tables(H, W, d, angle, sin_h, cos_h, sin_w, cos_w);
  rope->H = H, rope->W = W, rope->d = d;
  rope->sin_h = sin_h, rope->cos_h = cos_h, rope->sin_w = sin_w, rope->cos_w = cos_w;
}
