/* Attention kernels of the NaLaFormer blocks: a plain-C reference and AVX2 and AVX-512 versions of
 * each, picked once at model creation (nala_isa_resolve + nala_attn_*_for). A tier's function may
 * only be called where nala_isa_supported(tier) holds: its prologue alone may use the tier's
 * instructions.
 *
 * Layout (token-major, tokens n = y*W + x of an H x W map, N = H*W, C = heads*d):
 *   q, k: rows of length ld_qk, head h at columns [h*d, (h+1)*d); v likewise with ld_v;
 *   out:  [N, ld_out], head h written at columns [h*d, (h+1)*d).
 * RoPE is separable: for token (y, x) the first d/2 features rotate with the row tables at y,
 * the last d/2 with the column tables at x; rotation pairs (2i, 2i+1):
 *   out[2i] = x[2i]*cos[2i] - x[2i+1]*sin[2i],  out[2i+1] = x[2i+1]*cos[2i+1] + x[2i]*sin[2i+1]
 * (theta_shift of NALA.py, products rounded to fp32 then added, as PyTorch does).
 *
 * NaLa (linear) per head, q, k, v the token's d-vectors (NormAwareLinearAttn of NALA.py):
 *   k3 = k*k*k; K = [relu(k3), relu(-k3)]; qn = ||q||_2; p = 3*(0.5 + tanh(qn));
 *   Q = [(relu(q)/qn)^p, (relu(-q)/qn)^p]; Qr, Kr = RoPE of each d-half;
 *   kv = sum_n Kr_n^T v_n / N; kmean = mean_n K_n; out_n = (Qr_n . kv) / (Q_n . kmean + 1e-6).
 * Defined where PyTorch is not finite:
 *   - qn == 0 (an all-zero query row, or one whose sum of squares, taken in double, rounds to
 *     0 in fp32): PyTorch gives 0/0 = NaN; we define out_n = 0 (the token attends to nothing).
 *     Rows of ~1e-23 whose fp32 squares underflow are NaN in PyTorch and finite here.
 *   - qn is the fp32 norm: a sum of squares above FLT_MAX gives qn = inf as in PyTorch, so the
 *     features are 0 and out_n = 0 (PyTorch: also 0 while kv is finite). An infinite element of
 *     q takes the same path (PyTorch: inf/inf = NaN). A NaN in q gives NaN, as in PyTorch.
 *   - |k| > ~7e12 makes k^3 overflow to inf; inf/NaN then propagate exactly as in PyTorch
 *     (no finite answer is defined: such keys mean broken weights or inputs).
 * Softmax ('v' blocks, VanillaSelfAttention): qr, kr = RoPE(q), RoPE(k);
 *   out_n = sum_m softmax_m((d^-0.5 * qr_n) . kr_m) v_m, computed with an online softmax:
 *   memory is O(N*d), never an N x N matrix. Finite scores always give finite weights (the max
 *   is subtracted); scores that overflow fp32 (|q|*|k| beyond ~1e38) give NaN as in PyTorch
 *   (the reference scores in double and stays finite there). A NaN score, from a NaN or inf in
 *   q or k, makes its query's output NaN as in PyTorch: a NaN query poisons its own row, a NaN
 *   key every row of its head.
 *
 * Threading: kernels run OpenMP with a->nthreads threads (<= 0: omp_get_max_threads()) and
 * keep all state in a->ws, so two calls with separate workspaces may run concurrently. */
#ifndef NALA_CORE_KERNELS_ATTENTION_H
#define NALA_CORE_KERNELS_ATTENTION_H

#include <stddef.h>

#include "nala/isa.h"
#include "nala/status.h"

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
  int N, heads, d;              /* d % 4 == 0; the SIMD kernels serve d in {32, 64, 96, 128}
                                   (official configs: 32, 64, 96) and fall back to the reference
                                   for other d */
  const nala_rope *rope;        /* rope->H * rope->W == N, rope->d == d */
  float *ws;                    /* workspace of at least nala_attn_*_ws_floats(N, heads, d, nthreads)
                                   floats; any float alignment (kernels align it themselves) */
  int nthreads;                 /* <= 0: omp_get_max_threads() at call time; must not exceed the
                                   nthreads the workspace was sized for */
  nala_err *err;                /* optional: receives the message when the argument check fails */
  size_t ws_floats;             /* optional: floats available at ws; when nonzero the kernel fails
                                   with NALA_E_NOMEM instead of running with a short workspace */
} nala_attn_args;

/* Kernels return NALA_E_ARG (message in a->err) for NULL pointers, d not a multiple of 4,
 * strides shorter than heads*d, or RoPE tables whose H*W or d disagree, NALA_E_NOMEM when a
 * nonzero ws_floats is below the kernel's need; otherwise NALA_OK. */
typedef nala_status (*nala_attn_fn)(const nala_attn_args *a);

/* Norm-aware linear attention (NormAwareLinearAttn of NALA.py, up to its lepe/ln/gate/out_proj).
 * The reference accumulates kv and kmean in double; the AVX-512 one sums 64-token blocks in fp32
 * registers and adds the blocks into double. */
nala_status nala_attn_linear_ref(const nala_attn_args *a);
nala_status nala_attn_linear_avx2(const nala_attn_args *a);
nala_status nala_attn_linear_avx512(const nala_attn_args *a);
/* Workspace floats for any linear kernel (every tier shares the size). */
size_t nala_attn_linear_ws_floats(int N, int heads, int d, int nthreads);

/* Softmax attention with RoPE on q, k and scale d^-0.5 (VanillaSelfAttention), never N x N.
 * The reference computes scores, exponentials and sums in double. */
nala_status nala_attn_softmax_ref(const nala_attn_args *a);
nala_status nala_attn_softmax_avx2(const nala_attn_args *a);
nala_status nala_attn_softmax_avx512(const nala_attn_args *a);
/* Workspace floats for any softmax kernel: O(heads*N*d + nthreads*(N + block sizes)). */
size_t nala_attn_softmax_ws_floats(int N, int heads, int d, int nthreads);

/* Checks a's pointers, sizes and RoPE tables (what the kernels check before running). */
nala_status nala_attn_args_check(const nala_attn_args *a, const char *kernel);

/* Kernel of a tier (ref for AUTO and for every tier off x86-64). */
nala_attn_fn nala_attn_linear_for(nala_isa isa);
nala_attn_fn nala_attn_softmax_for(nala_isa isa);

#endif
