/* AVX-512 tier of bilinear.h: 16 classes / channels per vector, the tail under a mask. */
#include <immintrin.h>
#include <math.h>

#include "core/nn/bilinear.h"

static inline __m512 blend16(__m512 hy0, __m512 hy1, __m512 wx0, __m512 wx1, __m512 a, __m512 b, __m512 c, __m512 d) {
  __m512 top = _mm512_add_ps(_mm512_mul_ps(wx0, a), _mm512_mul_ps(wx1, b));
  __m512 bot = _mm512_add_ps(_mm512_mul_ps(wx0, c), _mm512_mul_ps(wx1, d));
  return _mm512_add_ps(_mm512_mul_ps(hy0, top), _mm512_mul_ps(hy1, bot));
}

static void blend_avx512(const nala_bilinear_px *px, int n, float *out) {
  const float *p00 = px->p00, *p01 = px->p01, *p10 = px->p10, *p11 = px->p11;
  __m512 hy0 = _mm512_set1_ps(px->hy0), hy1 = _mm512_set1_ps(px->hy1);
  __m512 wx0 = _mm512_set1_ps(px->wx0), wx1 = _mm512_set1_ps(px->wx1);
  int c = 0;
  for (; c + 16 <= n; c += 16)
    _mm512_storeu_ps(out + c, blend16(hy0, hy1, wx0, wx1, _mm512_loadu_ps(p00 + c), _mm512_loadu_ps(p01 + c),
                                      _mm512_loadu_ps(p10 + c), _mm512_loadu_ps(p11 + c)));
  if (c < n) {
    __mmask16 m = (__mmask16)((1u << (n - c)) - 1);
    __m512 r = blend16(hy0, hy1, wx0, wx1, _mm512_maskz_loadu_ps(m, p00 + c), _mm512_maskz_loadu_ps(m, p01 + c),
                       _mm512_maskz_loadu_ps(m, p10 + c), _mm512_maskz_loadu_ps(m, p11 + c));
    _mm512_mask_storeu_ps(out + c, m, r);
  }
}

/* Pass 1: the maximum (lanes past n hold -inf) and whether any value is NaN; pass 2: the first
 * index equal to the maximum, which is where a strict > scan stops updating. */
static int argmax_avx512(const float *v, int n) {
  if (n <= 0)
    return 0;
  __m512 ninf = _mm512_set1_ps(-INFINITY), mx = ninf;
  __mmask16 nan = 0;
  int c = 0;
  for (; c + 16 <= n; c += 16) {
    __m512 x = _mm512_loadu_ps(v + c);
    nan |= _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    mx = _mm512_max_ps(mx, x);
  }
  __mmask16 tail = (__mmask16)(c < n ? (1u << (n - c)) - 1 : 0);
  if (tail) {
    __m512 x = _mm512_mask_loadu_ps(ninf, tail, v + c);
    nan |= _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    mx = _mm512_max_ps(mx, x);
  }
  if (nan) {
    for (int k = 0; k < n; k++)
      if (isnan(v[k]))
        return k;
  }
  __m512 top = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
  for (c = 0; c + 16 <= n; c += 16) {
    __mmask16 eq = _mm512_cmp_ps_mask(_mm512_loadu_ps(v + c), top, _CMP_EQ_OQ);
    if (eq)
      return c + __builtin_ctz(eq);
  }
  __mmask16 eq = _mm512_mask_cmp_ps_mask(tail, _mm512_maskz_loadu_ps(tail, v + c), top, _CMP_EQ_OQ);
  return eq ? c + __builtin_ctz(eq) : 0;
}

const nala_bilinear_kernels nala_bilinear_avx512 = {blend_avx512, argmax_avx512};
