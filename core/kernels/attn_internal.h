/* Shared by the attention kernels: argument check, workspace carving, scalar RoPE and the
 * scalar NaLa feature maps (the reference semantics the AVX-512 code reproduces). */
#ifndef NALA_CORE_KERNELS_ATTN_INTERNAL_H
#define NALA_CORE_KERNELS_ATTN_INTERNAL_H

#include <stdint.h>

#include "core/kernels/attention.h"

/* Tokens per block of the AVX-512 linear kernel (also sizes its workspace). */
#define NALA_LIN_BLOCK 64
/* Query rows and key columns per block of the AVX-512 softmax kernel. 64 query rows halve the
 * key/value traffic of 32 (each query block streams all keys); measured ~125-135 -> ~155 GFLOP/s
 * of CPU time at 4k-16k tokens, the working set (~80 KB) still in L2. 72 = 12 of its 6-row
 * register tiles (and 3 of the 24-row groups at d = 32). */
#define NALA_SM_QBLOCK 72
#define NALA_SM_KBLOCK 64
/* The same for the AVX2 softmax kernel: its 6-row register tiles want a multiple of 6 query rows
 * (and 8, for the per-row vectors). Each query block streams all keys and values, so more rows
 * per block mean less of that traffic: measured 84 (96 rows) -> 87 (192) GFLOP/s of CPU time at
 * 16k tokens; 192 rows keep the block's ~150 KB (d = 64) in L2 and leave several blocks per
 * head at the backbone's 1k-4k tokens. */
#define NALA_SM_AVX2_QBLOCK 192
#define NALA_SM_AVX2_KBLOCK 64

/* omp_get_max_threads(), kept out of this header so it needs no <omp.h>. */
int nala_attn_default_threads(void);

static inline int nala_attn_threads(const nala_attn_args *a) {
  return a->nthreads > 0 ? a->nthreads : nala_attn_default_threads();
}

/* NALA_E_NOMEM when the caller said how big ws is (a->ws_floats != 0) and it is below need. */
nala_status nala_attn_ws_check(const nala_attn_args *a, size_t need, const char *kernel);

/* The SIMD linear kernels' reduction, called by every thread of their parallel region (an orphaned
 * `omp for`): kv_all[i] = (float)(sum over the T threads' double partial states[i] * inv_n) for the
 * first state_used floats of each state-sized head slot; thread u's doubles start at
 * thread_base + u * per_thread floats. */
void nala_lin_reduce_states(float *kv_all, const float *thread_base, size_t per_thread, size_t total, size_t state,
                            size_t state_used, int T, double inv_n);

/* First 64-byte aligned address at or after ws (workspace sizes carry 16 floats of slack). */
static inline void *nala_ws_align(float *ws) {
  uintptr_t p = (uintptr_t)ws;
  return (void *)((p + 63) & ~(uintptr_t)63);
}

static inline size_t nala_round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* The four RoPE table rows of token n (row y = n / W, column x = n % W). */
typedef struct nala_rope_rows {
  const float *sin_h, *cos_h, *sin_w, *cos_w;
} nala_rope_rows;

static inline nala_rope_rows nala_rope_rows_of(const nala_rope *r, int n) {
  int half = r->d / 2, y = n / r->W, x = n % r->W;
  nala_rope_rows rows = {r->sin_h + (size_t)y * half, r->cos_h + (size_t)y * half, r->sin_w + (size_t)x * half,
                         r->cos_w + (size_t)x * half};
  return rows;
}

/* theta_shift of one d-vector, fp32 products then add (no FMA: this file's users are built
 * without -mfma and C11 mode keeps -ffp-contract=off). */
static inline void nala_rope_apply_ref(const float *x, float *out, int d, nala_rope_rows rows) {
  int half = d / 2;
  for (int i = 0; i < d; i += 2) {
    const float *sn = i < half ? rows.sin_h + i : rows.sin_w + (i - half);
    const float *cs = i < half ? rows.cos_h + i : rows.cos_w + (i - half);
    float a0 = x[i] * cs[0], b0 = -x[i + 1] * sn[0];
    float a1 = x[i + 1] * cs[1], b1 = x[i] * sn[1];
    out[i] = a0 + b0;
    out[i + 1] = a1 + b1;
  }
}

/* Query norm as PyTorch's fp32 q.norm(): summed in double here, then rounded to fp32, so a sum
 * past FLT_MAX is inf and one below the smallest subnormal is 0, as in fp32. */
float nala_query_norm_ref(const float *q, int d);

/* Q features of one token: qf[2d] = [(relu(q)/qn)^p, (relu(-q)/qn)^p]; returns 0 and leaves qf
 * all zero when qn is 0 or inf (the out_n = 0 cases of attention.h), 1 otherwise. */
int nala_query_features_ref(const float *q, int d, float *qf);

/* K features of one token: kf[2d] = [relu(k^3), relu(-k^3)], k^3 = (k*k)*k in fp32. */
static inline void nala_key_features_ref(const float *k, int d, float *kf) {
  for (int i = 0; i < d; i++) {
    float k3 = k[i] * k[i] * k[i];
    kf[i] = k3 > 0.0f ? k3 : 0.0f;
    kf[d + i] = -k3 > 0.0f ? -k3 : 0.0f;
  }
}

#endif
