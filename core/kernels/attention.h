/* Attention kernels of the NaLaFormer blocks, one plain-C reference and one AVX-512 version
 * of each, picked once at model creation (nala_attn_select).
 *
 * Layout (token-major, tokens n = y*W + x of an H x W map, N = H*W, C = heads*d):
 *   q, k: rows of length ld_qk, head h at columns [h*d, (h+1)*d); v likewise with ld_v;
 *   out:  [N, ld_out], head h written at columns [h*d, (h+1)*d).
 * RoPE is separable: for token (y, x) the first d/2 features rotate with the row tables at y,
 * the last d/2 with the column tables at x; rotation pairs (2i, 2i+1):
 *   out[2i] = x[2i]*cos[2i] - x[2i+1]*sin[2i],  out[2i+1] = x[2i+1]*cos[2i+1] + x[2i]*sin[2i+1]. */
#ifndef NALA_CORE_KERNELS_ATTENTION_H
#define NALA_CORE_KERNELS_ATTENTION_H

#include <stddef.h>

typedef struct nala_rope {
  int H, W, d;                  /* map size and head dim; tables are [H][d/2] and [W][d/2] */
  const float *sin_h, *cos_h;   /* [H][d/2] */
  const float *sin_w, *cos_w;   /* [W][d/2] */
} nala_rope;

typedef struct nala_attn_args {
  const float *q, *k, *v;
  int ld_qk, ld_v;
  float *out;
  int ld_out;
  int N, heads, d;              /* d in {32, 64} for every official config; others take the slow path */
  const nala_rope *rope;
  float *ws;                    /* workspace of nala_attn_*_ws_floats(...) floats, 64-byte aligned */
  int nthreads;
} nala_attn_args;

typedef enum nala_isa { NALA_ISA_REF = 0, NALA_ISA_AVX512 = 1 } nala_isa;

/* Norm-aware linear attention (NormAwareLinearAttn of NALA.py, up to its lepe/ln/gate/out_proj). */
void nala_attn_linear_ref(const nala_attn_args *a);
void nala_attn_linear_avx512(const nala_attn_args *a);
size_t nala_attn_linear_ws_floats(int N, int heads, int d, int nthreads);

/* Softmax attention with RoPE on q, k and scale d^-0.5 (VanillaSelfAttention), never N x N. */
void nala_attn_softmax_ref(const nala_attn_args *a);
void nala_attn_softmax_avx512(const nala_attn_args *a);
size_t nala_attn_softmax_ws_floats(int N, int heads, int d, int nthreads);

typedef void (*nala_attn_fn)(const nala_attn_args *a);

/* Best ISA of this CPU, unless NALA_ISA=ref (or avx512) in the environment forces one. */
nala_isa nala_isa_detect(void);

/* Kernel pair for an ISA. */
nala_attn_fn nala_attn_linear_for(nala_isa isa);
nala_attn_fn nala_attn_softmax_for(nala_isa isa);

#endif
