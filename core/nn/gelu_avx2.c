/* AVX2 + FMA tier of gelu.h: 8 floats per vector, the tail through a stack copy. */
#include <immintrin.h>
#include <string.h>

#include "core/nn/gelu.h"

/* As gelu16 of gelu_avx512.c, with a true division: vrcpps has only 12 bits and differs between
 * Intel and AMD, so a Newton step would leave up to ~1.3e-7 of vendor-dependent error. */
static inline __m256 gelu8(__m256 x) {
  __m256 s = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678f));
  s = _mm256_max_ps(_mm256_min_ps(s, _mm256_set1_ps(4.0f)), _mm256_set1_ps(-4.0f));
  __m256 s2 = _mm256_mul_ps(s, s);
  __m256 p = _mm256_fmadd_ps(s2, _mm256_set1_ps(-2.72614225801306e-10f), _mm256_set1_ps(2.77068142495902e-08f));
  p = _mm256_fmadd_ps(s2, p, _mm256_set1_ps(-2.10102402082508e-06f));
  p = _mm256_fmadd_ps(s2, p, _mm256_set1_ps(-5.69250639462346e-05f));
  p = _mm256_fmadd_ps(s2, p, _mm256_set1_ps(-7.34990630326855e-04f));
  p = _mm256_fmadd_ps(s2, p, _mm256_set1_ps(-2.95459980854025e-03f));
  p = _mm256_fmadd_ps(s2, p, _mm256_set1_ps(-1.60960333262415e-02f));
  __m256 q = _mm256_fmadd_ps(s2, _mm256_set1_ps(-1.45660718464996e-05f), _mm256_set1_ps(-2.13374055278905e-04f));
  q = _mm256_fmadd_ps(s2, q, _mm256_set1_ps(-1.68282697438203e-03f));
  q = _mm256_fmadd_ps(s2, q, _mm256_set1_ps(-7.37332916720468e-03f));
  q = _mm256_fmadd_ps(s2, q, _mm256_set1_ps(-1.42647390514189e-02f));
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
