/* Plain-C tier of gelu.h, the tier choice and the graph op. */
#include "core/nn/gelu.h"

#include <math.h>

void nala_gelu_ref(float *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    x[i] = (float)(0.5 * x[i] * (1.0 + erf(x[i] * 0.70710678118654752)));
}

nala_gelu_fn nala_gelu_for(nala_isa isa) {
#if NALA_X86_TIERS
  if (isa == NALA_ISA_AUTO)
    isa = nala_isa_best();
  if (isa >= NALA_ISA_AVX512 && nala_isa_supported(NALA_ISA_AVX512))
    return nala_gelu_avx512;
  if (isa >= NALA_ISA_AVX2 && nala_isa_supported(NALA_ISA_AVX2))
    return nala_gelu_avx2;
#else
  (void)isa;
#endif
  return nala_gelu_ref;
}

typedef struct gelu_args {
  nala_gelu_fn fn;
  size_t off, n;
} gelu_args;

/* Threads take equal slices rounded to 64 bytes, so no two write one cache line. */
static nala_status run_gelu(const void *p, char *ws, int nthreads, nala_err *err) {
  (void)err;
  const gelu_args *a = p;
  float *x = (float *)(ws + a->off);
  size_t per = (a->n / (size_t)nthreads + 15) / 16 * 16;
  if (nthreads <= 1 || per == 0) {
    a->fn(x, a->n);
    return NALA_OK;
  }
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int t = 0; t < nthreads; t++) {
    size_t i0 = (size_t)t * per, i1 = i0 + per < a->n ? i0 + per : a->n;
    if (i0 < i1)
      a->fn(x + i0, i1 - i0);
  }
  return NALA_OK;
}

nala_status nala_gelu_op(nala_graph *g, nala_gelu_fn fn, size_t off, size_t n, int bucket, nala_err *err) {
  gelu_args a = {fn, off, n};
  return nala_graph_add_kernel(g, run_gelu, &a, sizeof a, bucket, err);
}
