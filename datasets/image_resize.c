/* cv2.resize on uint8 in plain C (datasets/image_resize.h). The arithmetic is OpenCV 4.x's
 * (modules/imgproc/src/resize.cpp, generic INTER_LINEAR path for CV_8U), reproduced step by step:
 * - coordinates: fx = (float)((dx + 0.5) * scale_x - 0.5), sx = floor(fx), fx -= sx, in double then
 *   float as OpenCV does; sx < 0 -> (sx 0, fx 0), sx >= W - 1 -> (sx W - 1, fx 0);
 * - weights: 11-bit fixed point, cvRound((1 - fx) * 2048) and cvRound(fx * 2048);
 * - horizontal: h = S[sx] * a0 + S[sx + 1] * a1 (int, exact);
 * - vertical: ((b0 * (h0 >> 4)) >> 16) + ((b1 * (h1 >> 4)) >> 16) + 2) >> 2, the formula of both
 *   OpenCV's SIMD and scalar VResizeLinear<uchar> (so the result does not depend on vector width);
 *   the two source rows are clip(sy) and clip(sy + 1) into [0, H - 1], weights unchanged.
 * OpenCV turns an exact 2x downscale into INTER_AREA's (a + b + c + d + 2) >> 2, which the formula
 * above gives too (fx = 0.5 exactly). INTER_NEAREST: sx = min(floor(dx * (1 / inv_scale_x)), W - 1).
 * The coordinate arithmetic must not be contracted into FMAs (OpenCV's is not): the build's -std=c11
 * (not gnu11) implies GCC's -ffp-contract=off.
 * OpenCV caches the horizontal pass of each source row; here each output row recomputes its two,
 * which needs no row buffers (none to size per thread) and costs a few multiplies per byte. */
#include "datasets/image_resize.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define COEF_SCALE 2048 /* OpenCV INTER_RESIZE_COEF_SCALE (1 << 11) */

/* One output coordinate: the two source indices and their fixed-point weights. */
typedef struct resize_tap {
  int32_t i0, i1;
  int16_t w0, w1;
} resize_tap;

size_t nala_resize_u8_table_bytes(int dst_h, int dst_w) {
  if (dst_h <= 0 || dst_w <= 0)
    return 0;
  return ((size_t)dst_h + (size_t)dst_w) * sizeof(resize_tap) + _Alignof(resize_tap);
}

/* OpenCV's saturate_cast<short>(float): round half to even, then clamp. */
static int16_t round_weight(float v) {
  long r = lrintf(v);
  return (int16_t)(r < INT16_MIN ? INT16_MIN : r > INT16_MAX ? INT16_MAX : r);
}

/* Bilinear taps of n outputs over a source of len samples (OpenCV's xofs/ialpha, or yofs/ibeta with
 * the row clip applied here instead of in the row loop). */
static void linear_taps(int n, int len, resize_tap *taps) {
  double scale = 1.0 / ((double)n / len); /* 1 / inv_scale, as OpenCV computes it */
  for (int d = 0; d < n; d++) {
    float f = (float)((d + 0.5) * scale - 0.5);
    int s = (int)floorf(f);
    f -= (float)s;
    int i0 = s, i1 = s + 1;
    if (s < 0)
      f = 0.0f, i0 = i1 = 0;
    else if (s >= len - 1)
      f = 0.0f, i0 = i1 = len - 1;
    taps[d].i0 = i0;
    taps[d].i1 = i1 < len ? i1 : len - 1;
    taps[d].w0 = round_weight((1.0f - f) * COEF_SCALE);
    taps[d].w1 = round_weight(f * COEF_SCALE);
  }
}

/* Vertical taps: OpenCV does not zero the weight of a clipped row (fy stays), it clips the row index. */
static void linear_row_taps(int n, int len, resize_tap *taps) {
  double scale = 1.0 / ((double)n / len);
  for (int d = 0; d < n; d++) {
    float f = (float)((d + 0.5) * scale - 0.5);
    int s = (int)floorf(f);
    f -= (float)s;
    int i0 = s < 0 ? 0 : s >= len ? len - 1 : s, i1 = s + 1 < 0 ? 0 : s + 1 >= len ? len - 1 : s + 1;
    taps[d].i0 = i0;
    taps[d].i1 = i1;
    taps[d].w0 = round_weight((1.0f - f) * COEF_SCALE);
    taps[d].w1 = round_weight(f * COEF_SCALE);
  }
}

static void nearest_taps(int n, int len, resize_tap *taps) {
  double inv = 1.0 / ((double)n / len);
  for (int d = 0; d < n; d++) {
    int s = (int)floor(d * inv);
    taps[d].i0 = taps[d].i1 = s < len - 1 ? s : len - 1;
    taps[d].w0 = COEF_SCALE, taps[d].w1 = 0;
  }
}

/* One output row of the bilinear resize: rows r0, r1 of the source with weights b0, b1. Inlined with a
 * constant cn for 1 and 3 channels, so the channel loop unrolls. */
static inline __attribute__((always_inline)) void linear_row_cn(const uint8_t *r0, const uint8_t *r1, int b0, int b1,
                                                               const resize_tap *xt, int w, const int cn,
                                                               uint8_t *out) {
  for (int x = 0; x < w; x++) {
    const int o0 = xt[x].i0 * cn, o1 = xt[x].i1 * cn, a0 = xt[x].w0, a1 = xt[x].w1;
    for (int c = 0; c < cn; c++) {
      int h0 = r0[o0 + c] * a0 + r0[o1 + c] * a1;
      int h1 = r1[o0 + c] * a0 + r1[o1 + c] * a1;
      out[x * cn + c] = (uint8_t)((((b0 * (h0 >> 4)) >> 16) + ((b1 * (h1 >> 4)) >> 16) + 2) >> 2);
    }
  }
}

static void linear_row(const uint8_t *r0, const uint8_t *r1, int b0, int b1, const resize_tap *xt, int w, int cn,
                       uint8_t *out) {
  if (cn == 3)
    linear_row_cn(r0, r1, b0, b1, xt, w, 3, out);
  else if (cn == 1)
    linear_row_cn(r0, r1, b0, b1, xt, w, 1, out);
  else
    linear_row_cn(r0, r1, b0, b1, xt, w, cn, out);
}

static void nearest_row(const uint8_t *row, const resize_tap *xt, int w, int cn, uint8_t *out) {
  for (int x = 0; x < w; x++)
    memcpy(out + (size_t)x * cn, row + (size_t)xt[x].i0 * cn, (size_t)cn);
}

nala_status nala_resize_u8(const nala_image *src, nala_image *dst, nala_interp interp, void *tables,
                           size_t table_bytes, nala_err *err) {
  if (!src || !dst || !src->data || !dst->data)
    return nala_fail(err, NALA_E_ARG, "nala_resize_u8: src or dst (or its pixels) is NULL");
  const int cn = src->c;
  if (src->h <= 0 || src->w <= 0 || dst->h <= 0 || dst->w <= 0 || cn < 1 || cn > 4 || dst->c != cn)
    return nala_fail(err, NALA_E_SHAPE, "nala_resize_u8: %dx%dx%d -> %dx%dx%d (HxWxC): need positive sizes and the "
                     "same 1 to 4 channels", src->h, src->w, cn, dst->h, dst->w, dst->c);
  if (src->stride < (size_t)src->w * cn || dst->stride < (size_t)dst->w * cn)
    return nala_fail(err, NALA_E_ARG, "nala_resize_u8: stride %zu (src) or %zu (dst) shorter than a row",
                     src->stride, dst->stride);
  if (interp != NALA_INTERP_BILINEAR && interp != NALA_INTERP_NEAREST)
    return nala_fail(err, NALA_E_ARG, "nala_resize_u8: interpolation %d is not bilinear or nearest "
                     "(INTER_AREA: nala_image_resize)", (int)interp);
  size_t need = nala_resize_u8_table_bytes(dst->h, dst->w);
  if (!tables || table_bytes < need)
    return nala_fail(err, NALA_E_NOMEM, "nala_resize_u8: tables hold %zu bytes, %dx%d needs %zu",
                     tables ? table_bytes : 0, dst->h, dst->w, need);
  const int sh = src->h, sw = src->w, dh = dst->h, dw = dst->w;
  dst->order = src->order;
  if (sh == dh && sw == dw) { /* cv::resize copies */
    for (int y = 0; y < dh; y++)
      memcpy(dst->data + (size_t)y * dst->stride, src->data + (size_t)y * src->stride, (size_t)dw * cn);
    return NALA_OK;
  }
  uintptr_t at = ((uintptr_t)tables + _Alignof(resize_tap) - 1) & ~(uintptr_t)(_Alignof(resize_tap) - 1);
  resize_tap *xt = (resize_tap *)at, *yt = xt + dw;
  int linear = interp == NALA_INTERP_BILINEAR;
  if (linear) {
    linear_taps(dw, sw, xt);
    linear_row_taps(dh, sh, yt);
  } else {
    nearest_taps(dw, sw, xt);
    nearest_taps(dh, sh, yt);
  }
  const uint8_t *in = src->data;
  const size_t in_stride = src->stride, out_stride = dst->stride;
  uint8_t *out = dst->data;
#pragma omp parallel for schedule(static) if ((size_t)dh * dw > 65536)
  for (int y = 0; y < dh; y++) {
    if (linear)
      linear_row(in + (size_t)yt[y].i0 * in_stride, in + (size_t)yt[y].i1 * in_stride, yt[y].w0, yt[y].w1, xt, dw,
                 cn, out + (size_t)y * out_stride);
    else
      nearest_row(in + (size_t)yt[y].i0 * in_stride, xt, dw, cn, out + (size_t)y * out_stride);
  }
  return NALA_OK;
}
