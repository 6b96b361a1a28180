/* Token-wise LayerNorm kernels of the backbone (rows = tokens, NHWC): plain C, AVX2 and AVX-512
 * (a tier's functions only where nala_isa_supported(tier)).
 *   ln:      dst[r] = LN(src[r])                        (norm1/norm2/extra_norms, eps 1e-6)
 *   ln_gate: dst[r] = LN(a[r] + b[r]) * gate[r]         (attention output + lepe, attn.ln eps 1e-5,
 *                                                        gate = SiLU(g) already applied)
 * dst may alias src / a (a row is read completely before it is written). */
#ifndef NALA_BACKBONE_NORM_OPS_H
#define NALA_BACKBONE_NORM_OPS_H

#include "nala/isa.h"

typedef struct nala_ln {
  int c;
  float eps;
  float *gamma, *beta; /* model-owned, c each */
} nala_ln;

typedef void (*nala_ln_fn)(const nala_ln *ln, const float *src, int ld_src, float *dst, int ld_dst, int rows,
                           int nthreads);
typedef void (*nala_ln_gate_fn)(const nala_ln *ln, const float *a, const float *b, int ld_ab, const float *gate,
                                int ld_gate, float *dst, int ld_dst, int rows, int nthreads);

typedef struct nala_norm_kernels {
  nala_ln_fn ln;
  nala_ln_gate_fn ln_gate;
} nala_norm_kernels;

void nala_ln_ref(const nala_ln *ln, const float *src, int ld_src, float *dst, int ld_dst, int rows, int nthreads);
void nala_ln_gate_ref(const nala_ln *ln, const float *a, const float *b, int ld_ab, const float *gate, int ld_gate,
                      float *dst, int ld_dst, int rows, int nthreads);
void nala_ln_avx2(const nala_ln *ln, const float *src, int ld_src, float *dst, int ld_dst, int rows, int nthreads);
void nala_ln_gate_avx2(const nala_ln *ln, const float *a, const float *b, int ld_ab, const float *gate, int ld_gate,
                       float *dst, int ld_dst, int rows, int nthreads);
void nala_ln_avx512(const nala_ln *ln, const float *src, int ld_src, float *dst, int ld_dst, int rows,
                    int nthreads);
void nala_ln_gate_avx512(const nala_ln *ln, const float *a, const float *b, int ld_ab, const float *gate,
                         int ld_gate, float *dst, int ld_dst, int rows, int nthreads);

/* Kernels of a tier (ref for AUTO and for every tier off x86-64). */
nala_norm_kernels nala_norm_kernels_for(nala_isa isa);

#endif
