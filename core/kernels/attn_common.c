/* Argument checks, workspace sizes and the scalar feature maps shared by every attention kernel. */
#include <math.h>
#include <omp.h>

#include "core/kernels/attn_internal.h"

int nala_attn_default_threads(void) { return omp_get_max_threads(); }

nala_status nala_attn_args_check(const nala_attn_args *a, const char *kernel) {
  if (!a)
    return NALA_E_ARG;
  nala_err *e = a->err;
  if (!a->q || !a->k || !a->v || !a->out || !a->ws || !a->rope)
    return nala_fail(e, NALA_E_ARG, "%s: NULL %s", kernel,
                     !a->q ? "q" : !a->k ? "k" : !a->v ? "v" : !a->out ? "out" : !a->ws ? "ws (workspace)" : "rope");
  if (a->N < 1 || a->heads < 1 || a->d < 4 || a->d % 4)
    return nala_fail(e, NALA_E_ARG, "%s: N=%d heads=%d d=%d (need N >= 1, heads >= 1, d a positive multiple of 4)",
                     kernel, a->N, a->heads, a->d);
  long long C = (long long)a->heads * a->d;
  if (a->ld_qk < C || a->ld_v < C || a->ld_out < C)
    return nala_fail(e, NALA_E_ARG, "%s: strides ld_qk=%d ld_v=%d ld_out=%d shorter than heads*d=%lld", kernel,
                     a->ld_qk, a->ld_v, a->ld_out, C);
  const nala_rope *r = a->rope;
  if (!r->sin_h || !r->cos_h || !r->sin_w || !r->cos_w)
    return nala_fail(e, NALA_E_ARG, "%s: rope table pointer is NULL", kernel);
  if (r->d != a->d || r->H < 1 || r->W < 1 || (long long)r->H * r->W != a->N)
    return nala_fail(e, NALA_E_ARG, "%s: rope tables for %dx%d d=%d do not fit N=%d d=%d", kernel, r->H, r->W, r->d,
                     a->N, a->d);
  return NALA_OK;
}

nala_status nala_attn_ws_check(const nala_attn_args *a, size_t need, const char *kernel) {
  if (a->ws_floats && a->ws_floats < need)
    return nala_fail(a->err, NALA_E_NOMEM,
                     "%s: workspace of %zu floats is too small for N=%d heads=%d d=%d nthreads=%d: needs %zu",
                     kernel, a->ws_floats, a->N, a->heads, a->d, a->nthreads, need);
  return NALA_OK;
}

/* Floats of each kernel's workspace; the public sizes are the max over every tier so the
 * caller can switch ISA without replanning. Doubles count as two floats; +16 is alignment slack. */
static size_t linear_ref_floats(int heads, int d, int nt) {
  size_t state = (size_t)2 * d * d + 2 * (size_t)d; /* kv [2d][d] + ksum [2d], double */
  /* summed states of every head + per-thread partials of every head + per-thread Q, Qr, K, Kr */
  return 16 + 2 * state * (size_t)heads * (size_t)(nt + 1) + (size_t)nt * 8 * d;
}

static size_t linear_avx_floats(int heads, int d, int nt) {
  size_t state = nala_round16((size_t)2 * d * d + 2 * (size_t)d);
  size_t block = nala_round16((size_t)NALA_LIN_BLOCK * 2 * d); /* one [block][2d] feature tile */
  /* shared: final fp32 kv + kmean of every head; per thread: double partial states of every
   * head, two feature tiles, and qn, p, z of one block */
  return 16 + (size_t)heads * state + (size_t)nt * ((size_t)heads * 2 * state + 2 * block + 4 * NALA_LIN_BLOCK);
}

size_t nala_attn_linear_ws_floats(int N, int heads, int d, int nthreads) {
  (void)N;
  int nt = nthreads > 0 ? nthreads : nala_attn_default_threads();
  size_t r = linear_ref_floats(heads, d, nt), v = linear_avx_floats(heads, d, nt);
  return r > v ? r : v;
}

static size_t softmax_ref_floats(int N, int heads, int d, int nt) {
  /* kr [heads][N][d] fp32 + per thread: scaled query (d), scores (N doubles), out accum (d doubles) */
  return 16 + (size_t)heads * N * d + (size_t)nt * ((size_t)d + 2 * (size_t)N + 2 * (size_t)d);
}

static size_t softmax_avx_floats(int N, int heads, int d, int nt) {
  size_t npad = ((size_t)N + NALA_SM_KBLOCK - 1) / NALA_SM_KBLOCK * NALA_SM_KBLOCK;
  /* RoPE'd keys, transposed per key block: [heads][npad/KB][d][KB]; the values packed per head,
   * [heads][npad][d]; per thread: queries,
   * scores, output accumulators and the per-row values of
   * one query block (16-lane running sums, max, rescale). */
  size_t per_thread = (size_t)NALA_SM_QBLOCK * (2 * (size_t)d + NALA_SM_KBLOCK + 18);
  return 16 + 2 * (size_t)heads * npad * d + (size_t)nt * nala_round16(per_thread);
}

/* The AVX2 kernel: the same layout with its own block sizes (attn_softmax_avx2.c). */
static size_t softmax_avx2_floats(int N, int heads, int d, int nt) {
  size_t npad = ((size_t)N + NALA_SM_AVX2_KBLOCK - 1) / NALA_SM_AVX2_KBLOCK * NALA_SM_AVX2_KBLOCK;
  size_t per_thread = (size_t)NALA_SM_AVX2_QBLOCK * (2 * (size_t)d + NALA_SM_AVX2_KBLOCK + 10);
  return 16 + 2 * (size_t)heads * npad * d + (size_t)nt * nala_round16(per_thread);
}

size_t nala_attn_softmax_ws_floats(int N, int heads, int d, int nthreads) {
  int nt = nthreads > 0 ? nthreads : nala_attn_default_threads();
  size_t r = softmax_ref_floats(N, heads, d, nt), v = softmax_avx_floats(N, heads, d, nt);
  size_t v2 = softmax_avx2_floats(N, heads, d, nt);
  r = r > v ? r : v;
  return r > v2 ? r : v2;
}

void nala_lin_reduce_states(float *kv_all, const float *thread_base, size_t per_thread, size_t total, size_t state,
                            size_t state_used, int T, double inv_n) {
#pragma omp for schedule(static)
  for (size_t i = 0; i < total; i++) {
    if (i % state >= state_used)
      continue;
    double s = 0.0;
    for (int u = 0; u < T; u++)
      s += ((const double *)(thread_base + (size_t)u * per_thread))[i];
    kv_all[i] = (float)(s * inv_n);
  }
}

float nala_query_norm_ref(const float *q, int d) {
  double s = 0.0;
  for (int i = 0; i < d; i++)
    s += (double)q[i] * q[i];
  return sqrtf((float)s);
}

int nala_query_features_ref(const float *q, int d, float *qf) {
  float qn = nala_query_norm_ref(q, d);
  /* qn NaN (a NaN in q) is left to propagate so broken inputs stay visible, as in PyTorch. */
  if (qn == 0.0f || isinf(qn)) {
    for (int i = 0; i < 2 * d; i++)
      qf[i] = 0.0f;
    return 0;
  }
  float p = 3.0f * (0.5f + tanhf(qn));
  for (int i = 0; i < d; i++) {
    float pos = q[i] > 0.0f ? q[i] : 0.0f, neg = -q[i] > 0.0f ? -q[i] : 0.0f;
    qf[i] = powf(pos / qn, p);
    qf[d + i] = powf(neg / qn, p);
  }
  return 1;
}
