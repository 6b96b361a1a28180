/* AVX2 tier of bilinear.h: 8 classes / channels per vector, the tail in plain C (same expression). */
#include <immintrin.h>
#include <math.h>

#include "core/nn/bilinear.h"

static void blend_avx2(const nala_bilinear_px *px, int n, float *out) {
  const float *p00 = px->p00, *p01 = px->p01, *p10 = px->p10, *p11 = px->p11;
  __m256 hy0 = _mm256_set1_ps(px->hy0), hy1 = _mm256_set1_ps(px->hy1);
  __m256 wx0 = _mm256_set1_ps(px->wx0), wx1 = _mm256_set1_ps(px->wx1);
  int c = 0;
  for (; c + 8 <= n; c += 8) {
    __m256 top = _mm256_add_ps(_mm256_mul_ps(wx0, _mm256_loadu_ps(p00 + c)), _mm256_mul_ps(wx1, _mm256_loadu_ps(p01 + c)));
    __m256 bot = _mm256_add_ps(_mm256_mul_ps(wx0, _mm256_loadu_ps(p10 + c)), _mm256_mul_ps(wx1, _mm256_loadu_ps(p11 + c)));
    _mm256_storeu_ps(out + c, _mm256_add_ps(_mm256_mul_ps(hy0, top), _mm256_mul_ps(hy1, bot)));
  }
  for (; c < n; c++)
    out[c] = px->hy0 * (px->wx0 * p00[c] + px->wx1 * p01[c]) + px->hy1 * (px->wx0 * p10[c] + px->wx1 * p11[c]);
}

static float hmax8(__m256 x) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

/* As argmax_avx512: the maximum and a NaN flag, then the first index equal to the maximum. */
static int argmax_avx2(const float *v, int n) {
  if (n <= 0)
    return 0;
  __m256 mx = _mm256_set1_ps(-INFINITY);
  int nan = 0, c = 0;
  for (; c + 8 <= n; c += 8) {
    __m256 x = _mm256_loadu_ps(v + c);
    nan |= _mm256_movemask_ps(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    mx = _mm256_max_ps(mx, x);
  }
  float top = hmax8(mx);
  for (int k = c; k < n; k++) {
    nan |= isnan(v[k]);
    top = v[k] > top ? v[k] : top;
  }
  if (nan) {
    for (int k = 0; k < n; k++)
      if (isnan(v[k]))
        return k;
  }
  __m256 t = _mm256_set1_ps(top);
  for (c = 0; c + 8 <= n; c += 8) {
    int eq = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(v + c), t, _CMP_EQ_OQ));
    if (eq)
      return c + __builtin_ctz((unsigned)eq);
  }
  for (; c < n; c++)
    if (v[c] == top)
      return c;
  return 0;
}

const nala_bilinear_kernels nala_bilinear_avx2 = {blend_avx2, argmax_avx2};
