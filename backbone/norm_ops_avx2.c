/* AVX2 LayerNorm kernels: the AVX-512 file's structure on 8-lane YMM vectors. A row is at most a
 * few KB, so it is read three times from L1 (mean, variance, normalise); the tail of c % 8 channels
 * uses masked loads and stores, which never touch memory past the row. */
#include <immintrin.h>
#include <stddef.h>

#include "backbone/norm_ops.h"

/* Lanes [0, c - i) set (all 8 when c - i >= 8). */
static inline __m256i tail_mask(int c, int i) {
  int n = c - i;
  __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
}

/* x[i..i+8) (+ x2[i..i+8) when given), zero outside the row. */
static inline __m256 load_row(__m256i m, const float *x, const float *x2, int i) {
  __m256 v = _mm256_maskload_ps(x + i, m);
  return x2 ? _mm256_add_ps(v, _mm256_maskload_ps(x2 + i, m)) : v;
}

static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

static void ln_row(const nala_ln *ln, const float *x, const float *x2, const float *gate, float *dst) {
  int c = ln->c;
  __m256 acc = _mm256_setzero_ps();
  for (int i = 0; i < c; i += 8)
    acc = _mm256_add_ps(acc, load_row(tail_mask(c, i), x, x2, i));
  float mean = hsum(acc) / (float)c;
  __m256 vmean = _mm256_set1_ps(mean);
  __m256 accv = _mm256_setzero_ps();
  for (int i = 0; i < c; i += 8) {
    __m256i m = tail_mask(c, i);
    __m256 d = _mm256_and_ps(_mm256_sub_ps(load_row(m, x, x2, i), vmean), _mm256_castsi256_ps(m));
    accv = _mm256_fmadd_ps(d, d, accv);
  }
  float var = hsum(accv) / (float)c;
  __m256 rstd = _mm256_set1_ps(1.0f / __builtin_sqrtf(var + ln->eps));
  for (int i = 0; i < c; i += 8) {
    __m256i m = tail_mask(c, i);
    __m256 y = _mm256_mul_ps(_mm256_sub_ps(load_row(m, x, x2, i), vmean), rstd);
    y = _mm256_fmadd_ps(y, _mm256_maskload_ps(ln->gamma + i, m), _mm256_maskload_ps(ln->beta + i, m));
    if (gate)
      y = _mm256_mul_ps(y, _mm256_maskload_ps(gate + i, m));
    _mm256_maskstore_ps(dst + i, m, y);
  }
}

void nala_ln_avx2(const nala_ln *ln, const float *src, int ld_src, float *dst, int ld_dst, int rows, int nthreads) {
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int r = 0; r < rows; r++)
    ln_row(ln, src + (size_t)r * ld_src, 0, 0, dst + (size_t)r * ld_dst);
}

void nala_ln_gate_avx2(const nala_ln *ln, const float *a, const float *b, int ld_ab, const float *gate,
                       int ld_gate, float *dst, int ld_dst, int rows, int nthreads) {
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int r = 0; r < rows; r++)
    ln_row(ln, a + (size_t)r * ld_ab, b + (size_t)r * ld_ab, gate + (size_t)r * ld_gate, dst + (size_t)r * ld_dst);
}
