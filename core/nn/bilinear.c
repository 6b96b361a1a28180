/* Plain-C tier of bilinear.h and the tier choice. */
#include "core/nn/bilinear.h"

#include <math.h>

static void blend_ref(const nala_bilinear_px *px, int n, float *out) {
  const float *p00 = px->p00, *p01 = px->p01, *p10 = px->p10, *p11 = px->p11;
  float hy0 = px->hy0, hy1 = px->hy1, wx0 = px->wx0, wx1 = px->wx1;
  for (int c = 0; c < n; c++)
    out[c] = hy0 * (wx0 * p00[c] + wx1 * p01[c]) + hy1 * (wx0 * p10[c] + wx1 * p11[c]);
}

static int argmax_ref(const float *v, int n) {
  if (n <= 0 || isnan(v[0]))
    return 0;
  int best = 0;
  float bv = v[0];
  for (int c = 1; c < n; c++) {
    if (isnan(v[c]))
      return c;
    if (v[c] > bv) /* strict: the first maximum wins */
      bv = v[c], best = c;
  }
  return best;
}

const nala_bilinear_kernels nala_bilinear_ref = {blend_ref, argmax_ref};

const nala_bilinear_kernels *nala_bilinear_for(nala_isa isa) {
#if NALA_X86_TIERS
  if (isa == NALA_ISA_AUTO)
    isa = nala_isa_best();
  if (isa >= NALA_ISA_AVX512 && nala_isa_supported(NALA_ISA_AVX512))
    return &nala_bilinear_avx512;
  if (isa >= NALA_ISA_AVX2 && nala_isa_supported(NALA_ISA_AVX2))
    return &nala_bilinear_avx2;
#else
  (void)isa;
#endif
  return &nala_bilinear_ref;
}
