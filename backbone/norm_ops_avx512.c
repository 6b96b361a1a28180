/* AVX-512 LayerNorm kernels. Rows of whole vectors at the official widths (c = 32..640, 2-40
 * vectors) are loaded once and kept in registers (the compiler spills the wider ones to the stack,
 * still one pass over the row), with the sums as trees. The three-pass loop below, kept for the
 * other widths, spent ~0.34 ns an element at c = 64 on latency chains (a serial sum per pass,
 * per-vector tail masks); the register form 0.14-0.17 ns (in-L1/L2 rows, 1 thread, Xeon
 * family 6 model 167); its tail of c % 16 channels uses masked loads. */
#include <immintrin.h>
#include <omp.h>
#include <stddef.h>

#include "backbone/norm_ops.h"

static inline __mmask16 tail_mask(int c, int i) {
  int n = c - i;
  return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

/* x[i..i+16) (+ x2[i..i+16) when given), masked to the row. */
static inline __m512 load_row(__mmask16 m, const float *x, const float *x2, int i) {
  __m512 v = _mm512_maskz_loadu_ps(m, x + i);
  return x2 ? _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, x2 + i)) : v;
}

static void ln_row(const nala_ln *ln, const float *x, const float *x2, const float *gate, float *dst) {
  int c = ln->c;
  __m512 acc = _mm512_setzero_ps();
  for (int i = 0; i < c; i += 16) {
    __mmask16 m = tail_mask(c, i);
    __m512 v = load_row(m, x, x2, i);
    acc = _mm512_add_ps(acc, v);
  }
  float mean = _mm512_reduce_add_ps(acc) / (float)c;
  __m512 vmean = _mm512_set1_ps(mean);
  __m512 accv = _mm512_setzero_ps();
  for (int i = 0; i < c; i += 16) {
    __mmask16 m = tail_mask(c, i);
    __m512 v = load_row(m, x, x2, i);
    __m512 d = _mm512_maskz_sub_ps(m, v, vmean);
    accv = _mm512_fmadd_ps(d, d, accv);
  }
  float var = _mm512_reduce_add_ps(accv) / (float)c;
  __m512 rstd = _mm512_set1_ps(1.0f / __builtin_sqrtf(var + ln->eps));
  for (int i = 0; i < c; i += 16) {
    __mmask16 m = tail_mask(c, i);
    __m512 v = load_row(m, x, x2, i);
    __m512 y = _mm512_mul_ps(_mm512_sub_ps(v, vmean), rstd);
    y = _mm512_fmadd_ps(y, _mm512_maskz_loadu_ps(m, ln->gamma + i), _mm512_maskz_loadu_ps(m, ln->beta + i));
    if (gate)
      y = _mm512_mul_ps(y, _mm512_maskz_loadu_ps(m, gate + i));
    _mm512_mask_storeu_ps(dst + i, m, y);
  }
}

/* The sum of V vectors as a balanced tree (fewer dependent adds than a running sum). */
static inline __attribute__((always_inline)) __m512 tree_sum(__m512 *t, const int V) {
#pragma GCC unroll 40
  for (int w = V; w > 1; w = (w + 1) / 2) {
#pragma GCC unroll 40
    for (int k = 0; k < w / 2; k++)
      t[k] = _mm512_add_ps(t[k], t[k + (w + 1) / 2]);
  }
  return t[0];
}

/* One row of exactly V vectors (c = 16 V), read once into registers. Same formulas as ln_row:
 * mean, then the variance of the centred values, then (v - mean) * rstd * gamma + beta (* gate). */
static inline __attribute__((always_inline)) void ln_row_reg(const nala_ln *ln, const float *x, const float *x2,
                                                              const float *gate, float *dst, const int V) {
  __m512 v[40], t[40];
#pragma GCC unroll 40
  for (int k = 0; k < V; k++) {
    v[k] = _mm512_loadu_ps(x + 16 * k);
    if (x2)
      v[k] = _mm512_add_ps(v[k], _mm512_loadu_ps(x2 + 16 * k));
    t[k] = v[k];
  }
  __m512 vmean = _mm512_set1_ps(_mm512_reduce_add_ps(tree_sum(t, V)) / (float)(16 * V));
#pragma GCC unroll 40
  for (int k = 0; k < V; k++) {
    v[k] = _mm512_sub_ps(v[k], vmean);
    t[k] = _mm512_mul_ps(v[k], v[k]);
  }
  float var = _mm512_reduce_add_ps(tree_sum(t, V)) / (float)(16 * V);
  __m512 rstd = _mm512_set1_ps(1.0f / __builtin_sqrtf(var + ln->eps));
#pragma GCC unroll 40
  for (int k = 0; k < V; k++) {
    __m512 y = _mm512_mul_ps(v[k], rstd);
    y = _mm512_fmadd_ps(y, _mm512_loadu_ps(ln->gamma + 16 * k), _mm512_loadu_ps(ln->beta + 16 * k));
    if (gate)
      y = _mm512_mul_ps(y, _mm512_loadu_ps(gate + 16 * k));
    _mm512_storeu_ps(dst + 16 * k, y);
  }
}

/* rows rows of LN(a (+ b)) (* gate); ld_* 0 where the operand is absent. */
static inline __attribute__((always_inline)) void ln_rows_reg(const nala_ln *ln, const float *a, const float *b,
                                                               size_t ld_ab, const float *gate, size_t ld_gate,
                                                               float *dst, size_t ld_dst, int r0, int r1,
                                                               const int V) {
  for (int r = r0; r < r1; r++)
    ln_row_reg(ln, a + r * ld_ab, b ? b + r * ld_ab : 0, gate ? gate + r * ld_gate : 0, dst + r * ld_dst, V);
}

/* Rows [r0, r1): the register form at the official widths (c = 16 V), else ln_row. */
static void ln_rows(const nala_ln *ln, const float *a, const float *b, size_t ld_ab, const float *gate,
                    size_t ld_gate, float *dst, size_t ld_dst, int r0, int r1) {
  switch (ln->c) {
  case 32:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 2);
    return;
  case 64:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 4);
    return;
  case 96:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 6);
    return;
  case 128:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 8);
    return;
  case 192:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 12);
    return;
  case 256:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 16);
    return;
  case 320:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 20);
    return;
  case 384:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 24);
    return;
  case 448:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 28);
    return;
  case 512:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 32);
    return;
  case 640:
    ln_rows_reg(ln, a, b, ld_ab, gate, ld_gate, dst, ld_dst, r0, r1, 40);
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

void nala_ln_avx512(const nala_ln *ln, const float *src, int ld_src, float *dst, int ld_dst, int rows,
                    int nthreads) {
  ln_parallel(ln, src, 0, (size_t)ld_src, 0, 0, dst, (size_t)ld_dst, rows, nthreads);
}

void nala_ln_gate_avx512(const nala_ln *ln, const float *a, const float *b, int ld_ab, const float *gate,
                         int ld_gate, float *dst, int ld_dst, int rows, int nthreads) {
  ln_parallel(ln, a, b, (size_t)ld_ab, gate, (size_t)ld_gate, dst, (size_t)ld_dst, rows, nthreads);
}
