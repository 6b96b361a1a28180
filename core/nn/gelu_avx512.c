/* AVX-512 tier of gelu.h: 16 floats per vector, the tail under a mask. */
#include <immintrin.h>

#include "core/nn/gelu.h"
#include "core/nn/gelu_poly.h"

/* GELU(x) = h + h * erf(s), h = x/2, s = x/sqrt(2) clamped to [-4, 4] (where fp32 erf is +-1):
 * erf(s) = s P(s^2) / Q(s^2), Eigen's generic_fast_erf_float coefficients. A true division: as fast
 * here as vrcp14ps + a Newton step (the FMAs are the bottleneck) and the same on every vendor. */
static inline __m512 gelu16(__m512 x) {
  __m512 s = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678f));
  s = _mm512_max_ps(_mm512_min_ps(s, _mm512_set1_ps(NALA_ERF_CLAMP)), _mm512_set1_ps(-NALA_ERF_CLAMP));
  __m512 s2 = _mm512_mul_ps(s, s);
  __m512 p = _mm512_fmadd_ps(s2, _mm512_set1_ps(NALA_ERF_P6), _mm512_set1_ps(NALA_ERF_P5));
  p = _mm512_fmadd_ps(s2, p, _mm512_set1_ps(NALA_ERF_P4));
  p = _mm512_fmadd_ps(s2, p, _mm512_set1_ps(NALA_ERF_P3));
  p = _mm512_fmadd_ps(s2, p, _mm512_set1_ps(NALA_ERF_P2));
  p = _mm512_fmadd_ps(s2, p, _mm512_set1_ps(NALA_ERF_P1));
  p = _mm512_fmadd_ps(s2, p, _mm512_set1_ps(NALA_ERF_P0));
  __m512 q = _mm512_fmadd_ps(s2, _mm512_set1_ps(NALA_ERF_Q4), _mm512_set1_ps(NALA_ERF_Q3));
  q = _mm512_fmadd_ps(s2, q, _mm512_set1_ps(NALA_ERF_Q2));
  q = _mm512_fmadd_ps(s2, q, _mm512_set1_ps(NALA_ERF_Q1));
  q = _mm512_fmadd_ps(s2, q, _mm512_set1_ps(NALA_ERF_Q0));
  __m512 erf = _mm512_div_ps(_mm512_mul_ps(s, p), q);
  __m512 h = _mm512_mul_ps(x, _mm512_set1_ps(0.5f));
  return _mm512_fmadd_ps(h, erf, h);
}

void nala_gelu_avx512(float *x, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 a = gelu16(_mm512_loadu_ps(x + i)), b = gelu16(_mm512_loadu_ps(x + i + 16));
    _mm512_storeu_ps(x + i, a);
    _mm512_storeu_ps(x + i + 16, b);
  }
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(x + i, gelu16(_mm512_loadu_ps(x + i)));
  if (i < n) {
    __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(x + i, m, gelu16(_mm512_maskz_loadu_ps(m, x + i)));
  }
}
