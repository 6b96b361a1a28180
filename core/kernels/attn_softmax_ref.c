/* Plain-C reference of RoPE softmax attention (VanillaSelfAttention's core, see attention.h).
 *
 * Dims, named once: N tokens (queries and keys), d head dim.
 * RoPE'd keys kr [heads][N][d] are built once in the workspace (fp32, PyTorch's op order); the
 * query is RoPE'd and scaled by d^-0.5 in fp32 (PyTorch scales q before the matmul). Scores,
 * their max, the exponentials, the sum and the weighted sum of v are double, per query, with one
 * score row of N doubles per thread: memory O(N*d), never N x N. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/kernels/attn_internal.h"

static void attend_one(const nala_attn_args *a, int h, int n, const float *kr, float *qs, double *scores,
                       double *acc) {
  int d = a->d, N = a->N;
  const float *q = a->q + (size_t)n * a->ld_qk + (size_t)h * d;
  float scale = (float)(1.0 / sqrt((double)d));
  nala_rope_apply_ref(q, qs, d, nala_rope_rows_of(a->rope, n));
  for (int i = 0; i < d; i++)
    qs[i] = scale * qs[i];
  double smax = -INFINITY;
  for (int m = 0; m < N; m++) {
    const float *km = kr + (size_t)m * d;
    double s = 0.0;
    for (int i = 0; i < d; i++)
      s += (double)qs[i] * km[i];
    scores[m] = s;
    if (s > smax)
      smax = s;
  }
  memset(acc, 0, (size_t)d * sizeof *acc);
  double sum = 0.0;
  for (int m = 0; m < N; m++) {
    double w = exp(scores[m] - smax);
    sum += w;
    const float *vm = a->v + (size_t)m * a->ld_v + (size_t)h * d;
    for (int i = 0; i < d; i++)
      acc[i] += w * vm[i];
  }
  float *out = a->out + (size_t)n * a->ld_out + (size_t)h * d;
  for (int i = 0; i < d; i++)
    out[i] = (float)(acc[i] / sum);
}

nala_status nala_attn_softmax_ref(const nala_attn_args *a) {
  NALA_CHECK(nala_attn_args_check(a, "nala_attn_softmax_ref"));
  NALA_CHECK(nala_attn_ws_check(a, nala_attn_softmax_ws_floats(a->N, a->heads, a->d, a->nthreads),
                                "nala_attn_softmax_ref"));
  int d = a->d, N = a->N, heads = a->heads, nt = nala_attn_threads(a);
  double *thread_base = nala_ws_align(a->ws); /* [nt][N + d] doubles: scores, accumulators */
  float *qs_base = (float *)(thread_base + (size_t)nt * ((size_t)N + d)); /* [nt][d] */
  float *kr = qs_base + (size_t)nt * d;        /* [heads][N][d] */
#pragma omp parallel num_threads(nt)
  {
#pragma omp for schedule(static)
    for (long long hn = 0; hn < (long long)heads * N; hn++) {
      int h = (int)(hn / N), n = (int)(hn % N);
      const float *k = a->k + (size_t)n * a->ld_qk + (size_t)h * d;
      nala_rope_apply_ref(k, kr + ((size_t)h * N + n) * d, d, nala_rope_rows_of(a->rope, n));
    }
    int t = omp_get_thread_num();
    double *scores = thread_base + (size_t)t * ((size_t)N + d), *acc = scores + N;
    float *qs = qs_base + (size_t)t * d;
#pragma omp for schedule(dynamic, 16)
    for (long long hn = 0; hn < (long long)heads * N; hn++)
      attend_one(a, (int)(hn / N), (int)(hn % N), kr + (size_t)(hn / N) * N * d, qs, scores, acc);
  }
  return NALA_OK;
}
