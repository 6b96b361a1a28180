/* Plain-C reference of the LayerNorm kernels: statistics in double, so the AVX-512 version (float
 * statistics over 16 lanes) is checked against something more exact than itself. */
#include "backbone/norm_ops.h"

#include <math.h>
#include <stddef.h>

static void ln_row(const nala_ln *ln, const float *x, const float *x2, const float *gate, float *dst) {
  int c = ln->c;
  double sum = 0;
  for (int i = 0; i < c; i++)
    sum += (double)x[i] + (x2 ? (double)x2[i] : 0.0);
  double mean = sum / c, var = 0;
  for (int i = 0; i < c; i++) {
    double d = (double)x[i] + (x2 ? (double)x2[i] : 0.0) - mean;
    var += d * d;
  }
  double rstd = 1.0 / sqrt(var / c + ln->eps);
  for (int i = 0; i < c; i++) {
    double v = ((double)x[i] + (x2 ? (double)x2[i] : 0.0) - mean) * rstd * ln->gamma[i] + ln->beta[i];
    dst[i] = (float)(gate ? v * gate[i] : v);
  }
}

void nala_ln_ref(const nala_ln *ln, const float *src, int ld_src, float *dst, int ld_dst, int rows, int nthreads) {
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int r = 0; r < rows; r++)
    ln_row(ln, src + (size_t)r * ld_src, 0, 0, dst + (size_t)r * ld_dst);
}

void nala_ln_gate_ref(const nala_ln *ln, const float *a, const float *b, int ld_ab, const float *gate, int ld_gate,
                      float *dst, int ld_dst, int rows, int nthreads) {
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int r = 0; r < rows; r++)
    ln_row(ln, a + (size_t)r * ld_ab, b + (size_t)r * ld_ab, gate + (size_t)r * ld_gate, dst + (size_t)r * ld_dst);
}

nala_norm_kernels nala_norm_kernels_for(nala_isa isa) {
  nala_norm_kernels k = {nala_ln_ref, nala_ln_gate_ref};
#if NALA_X86_TIERS
  if (isa == NALA_ISA_AVX512)
    k = (nala_norm_kernels){nala_ln_avx512, nala_ln_gate_avx512};
  else if (isa == NALA_ISA_AVX2)
    k = (nala_norm_kernels){nala_ln_avx2, nala_ln_gate_avx2};
#endif
  (void)isa;
  return k;
}
