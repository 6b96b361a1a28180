/* AVX2 LayerNorm kernels: the AVX-512 file's structure on 8-lane YMM vectors. Rows of whole
 * vectors at the official widths up to c = 512 (4-64 vectors) are loaded once and kept in
 * registers (spilled to the stack past the 16 YMM, still one pass over the row), with the sums as
 * trees: 0.18-0.24 ns an element against 0.41-0.47 for the three-pass loop below (in-cache rows, 1
 * thread, Xeon family 6 model 167). That loop, kept for the other widths, reads the row three
 * times from L1 (mean, variance, normalise); its tail of c % 8 channels uses masked loads and
 * stores, which never touch memory past the row. */
#include <immintrin.h>
#include <omp.h>
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

/* The sum of V vectors as a balanced tree (fewer dependent adds than a running sum). */
static inline __attribute__((always_inline)) __m256 tree_sum(__m256 *t, const int V) {
#pragma GCC unroll 64
  for (int w = V; w > 1; w = (w + 1) / 2) {
#pragma GCC unroll 64
    for (int k = 0; k < w / 2; k++)
      t[k] = _mm256_add_ps(t[k], t[k + (w + 1) / 2]);
  }
  return t[0];
}

/* One row of exactly V vectors (c = 8 V), read once into registers; ln_row's formulas. */
static inline __attribute__((always_inline)) void ln_row_reg(const nala_ln *ln, const float *x, const float *x2,
                                                              const float *gate, float *dst, const int V) {
  __m256 v[64], t[64];
#pragma GCC unroll 64
  for (int k = 0; k < V; k++) {
    v[k] = _mm256_loadu_ps(x + 8 * k);
    if (x2)
      v[k] = _mm256_add_ps(v[k], _mm256_loadu_ps(x2 + 8 * k));
    t[k] = v[k];
  }
  __m256 vmean = _mm256_set1_ps(hsum(tree_sum(t, V)) / (float)(8 * V));
#pragma GCC unroll 64
  for (int k = 0; k < V; k++) {
    v[k] = _mm256_sub_ps(v[k], vmean);
    t[k] = _mm256_mul_ps(v[k], v[k]);
  }
  float var = hsum(tree_sum(t, V)) / (float)(8 * V);
  __m256 rstd = _mm256_set1_ps(1.0f / __builtin_sqrtf(var + ln->eps));
#pragma GCC unroll 64
  for (int k = 0; k < V; k++) {
    __m256 y = _mm256_mul_ps(v[k], rstd);
    y = _mm256_fmadd_ps(y, _mm256_loadu_ps(ln->gamma + 8 * k), _mm256_loadu_ps(ln->beta + 8 * k));
    if (gate)
      y = _mm256_mul_ps(y, _mm256_loadu_ps(gate + 8 * k));
    _mm256_storeu_ps(dst + 8 * k, y);
  }
}

static inline __attribute__((always_inline)) void ln_rows_reg(const nala_ln *ln, const float *a, const float *b,
                                                               size_t ld_ab, const float *gate, size_t ld_gate,
                                                               float *dst, size_t ld_dst, int r0, int r1,
                                                               const int V) {
  for (int r = r0; r < r1; r++)
    ln_row_reg(ln, a + r * ld_ab, b ? b + r * ld_ab : 0, gate ? gate + r * ld_gate : 0, dst + r * ld_dst, V);
}

/* Rows [r0, r1) of LN(a (+ b)) (* gate): the register form at the official widths, else ln_row. */
static void ln_rows(const nala_ln *ln, const float *a, const float *b, size_t ld_ab, const float *gate,
                    size_t ld_gate, float *dst, size_t ld_dst, int r0, int r1) {
  switch (ln->c) {
  case 32:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 4);
    return;
  case 64:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 8);
    return;
  case 96:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 12);
    return;
  case 128:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 16);
    return;
  case 192:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 24);
    return;
  case 256:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 32);
    return;
  case 320:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 40);
    return;
  case 384:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 48);
    return;
  case 448:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 56);
    return;
  case 512:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 64);
    return;
  default:
    for (int r = r0; r < r1; r++)
      ln_row(ln, a + r * ld_ab, b ? b + r * ld_ab : 0, gate ? gate + r * ld_gate : 0, dst + r * ld_dst);
  }
}

/* Rows split in one static block per thread (the loop the omp for would make). */
static void ln_parallel(const nala_ln *ln, const float *a, const float *b, size_t ld_ab, const float *gate,
                        size_t ld_gate, float *dst, size_t ld_dst, int rows, int nthreads) {
  if (nthreads <= 1) { /* no parallel region at 1 thread */
    ln_rows(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, 0, rows);
    return;
  }
#pragma omp parallel num_threads(nthreads)
  {
    int nt = omp_get_num_threads(), t = omp_get_thread_num();
    int r0 = (int)((long long)rows * t / nt), r1 = (int)((long long)rows * (t + 1) / nt);
    ln_rows(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1);
  }
}

void nala_ln_avx2(const nala_ln *ln, const float *src, int ld_src, float *dst, int ld_dst, int rows, int nthreads) {
  ln_parallel(ln, src, 0, (size_t)ld_src, 0, 0, dst, (size_t)ld_dst, rows, nthreads);
}

void nala_ln_gate_avx2(const nala_ln *ln, const float *a, const float *b, int ld_ab, const float *gate,
                       int ld_gate, float *dst, int ld_dst, int rows, int nthreads) {
  ln_parallel(ln, a, b, (size_t)ld_ab, gate, (size_t)ld_gate, dst, (size_t)ld_dst, rows, nthreads);
}
