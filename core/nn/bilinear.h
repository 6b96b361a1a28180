/* Vector kernels of the bilinear resize (align_corners=False) and of the argmax over classes, one
 * pixel at a time, shared by the runtime's resize op (core/nn/prims.c) and the segmentor's fused
 * resize + argmax (seg/seg_post.c). Tiers: plain C (bilinear.c), AVX2, AVX-512
 * (bilinear_avx2.c / bilinear_avx512.c), picked by nala_bilinear_for once per plan.
 *
 * Every tier computes the same expression in the same order with separate multiplies and adds (C11
 * mode: no FMA contraction), so the tiers agree bit for bit and a fused kernel equals the unfused
 * resize followed by an argmax: the choice of tier changes only the speed. */
#ifndef NALA_CORE_NN_BILINEAR_H
#define NALA_CORE_NN_BILINEAR_H

#include <stddef.h>

#include "nala/isa.h"

/* The four taps of one output pixel (rows p0x = source row y0, p1x = y1; columns x0, x1) and the
 * weights of both axes (nala_linear_taps). */
typedef struct nala_bilinear_px {
  const float *p00, *p01, *p10, *p11;
  float hy0, hy1, wx0, wx1;
} nala_bilinear_px;

typedef struct nala_bilinear_kernels {
  /* out[c] = hy0 * (wx0 * p00[c] + wx1 * p01[c]) + hy1 * (wx0 * p10[c] + wx1 * p11[c]), c < n */
  void (*blend)(const nala_bilinear_px *px, int n, float *out);
  /* torch.argmax of v[0..n): the first maximum; the first NaN when there is one; 0 when n <= 0 */
  int (*argmax)(const float *v, int n);
} nala_bilinear_kernels;

/* The fastest tier at most isa that this CPU runs (REF when nothing else is supported). */
const nala_bilinear_kernels *nala_bilinear_for(nala_isa isa);

/* The tiers' own tables (tests compare them); NULL when not built (off x86-64). */
extern const nala_bilinear_kernels nala_bilinear_ref, nala_bilinear_avx2, nala_bilinear_avx512;

#endif
