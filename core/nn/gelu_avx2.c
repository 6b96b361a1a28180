/* AVX2 + FMA tier of gelu.h: 8 floats per vector, the tail through a stack copy. */
#include <immintrin.h>
#include <string.h>

#include "core/nn/gelu.h"
#include "core/nn/gelu_poly.h"

/* As gelu16 of gelu_avx512.c, with a true division: vrcpps has only 12 bits and differs between
 * Intel and AMD, so a Newton step would leave up to ~1.3e-7 of vendor-dependent error. */
static inline __m256 gelu8(__m256 x) {
  __m256 s = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678f));
  s = _mm256_max_ps(_mm256_min_ps(s, _mm256_set1_ps(NALA_ERF_CLAMP)), _mm256_set1_ps(-NALA_ERF_CLAMP));
  __m256 s2 = _mm256_mul_ps(s, s);
  __m256 p = _mm256_fmadd_ps(s2, _mm256_set1_ps(NALA_ERF_P6), _mm256_set1_ps(NALA_ERF_P5));
  p = _mm256_fmadd_ps(s2, p, _mm256_set1_ps(NALA_ERF_P4));
  p = _mm256_fmadd_ps(s2, p, _mm256_set1_ps(NALA_ERF_P3));
  p = _mm256_fmadd_ps(s2, p, _mm256_set1_ps(NALA_ERF_P2));
  p = _mm256_fmadd_ps(s2, p, _mm256_set1_ps(NALA_ERF_P1));
  p = _mm256_fmadd_ps(s2, p, _mm256_set1_ps(NALA_ERF_P0));
  __m256 q = _mm256_fmadd_ps(s2, _mm256_set1_ps(NALA_ERF_Q4), _mm256_set1_ps(NALA_ERF_Q3));
  q = _mm256_fmadd_ps(s2, q, _mm256_set1_ps(NALA_ERF_Q2));
  q = _mm256_fmadd_ps(s2, q, _mm256_set1_ps(NALA_ERF_Q1));
  q = _mm256_fmadd_ps(s2, q, _mm256_set1_ps(NALA_ERF_Q0));
  __m256 erf = _mm256_div_ps(_mm256_mul_ps(s, p), q);
  __m256 h = _mm256_mul_ps(x, _mm256_set1_ps(0.5f));
  return _mm256_fmadd_ps(h, erf, h);
}

void nala_gelu_avx2(float *x, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 a = gelu8(_mm256_loadu_ps(x + i)), b = gelu8(_mm256_loadu_ps(x + i + 8));
    _mm256_storeu_ps(x + i, a);
    _mm256_storeu_ps(x + i + 8, b);
  }
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(x + i, gelu8(_mm256_loadu_ps(x + i)));
  if (i < n) {
    float tail[8] = {0};
    memcpy(tail, x + i, (n - i) * sizeof *x);
    _mm256_storeu_ps(tail, gelu8(_mm256_loadu_ps(tail)));
    memcpy(x + i, tail, (n - i) * sizeof *x);
  }
}
