/* AVX-512 LayerNorm kernels: a row is at most a few KB, so it is read twice from L1 (statistics,
 * then normalise); the tail of c % 16 channels uses masked loads. */
#include <immintrin.h>
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

void nala_ln_avx512(const nala_ln *ln, const float *src, int ld_src, float *dst, int ld_dst, int rows,
                    int nthreads) {
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int r = 0; r < rows; r++)
    ln_row(ln, src + (size_t)r * ld_src, 0, 0, dst + (size_t)r * ld_dst);
}

void nala_ln_gate_avx512(const nala_ln *ln, const float *a, const float *b, int ld_ab, const float *gate,
                         int ld_gate, float *dst, int ld_dst, int rows, int nthreads) {
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int r = 0; r < rows; r++)
    ln_row(ln, a + (size_t)r * ld_ab, b + (size_t)r * ld_ab, gate + (size_t)r * ld_gate, dst + (size_t)r * ld_dst);
}
