/* Plain-C reference of NaLa linear attention (semantics in attention.h).
 *
 * Dims, named once: N tokens, d head dim, F = 2d feature width (positive and negative halves).
 * Per head: pass 1 accumulates kv [F][d] = sum_n Kr_n^T v_n and ksum [F] = sum_n K_n in double
 * (per-thread partials over static token chunks, summed after); pass 2 computes each token's
 * Q, Qr and out_n = (Qr_n . kv) / N / (Q_n . ksum / N + 1e-6) in double, rounded once to fp32.
 * Features and RoPE are fp32 with PyTorch's operation order; only the sums are wider. */
#include <omp.h>
#include <string.h>

#include "core/kernels/attn_internal.h"

static void accumulate_keys(const nala_attn_args *a, int h, int n0, int n1, double *kv, double *ksum, float *kf,
                            float *kr) {
  int d = a->d, F = 2 * d;
  for (int n = n0; n < n1; n++) {
    const float *k = a->k + (size_t)n * a->ld_qk + (size_t)h * d;
    const float *v = a->v + (size_t)n * a->ld_v + (size_t)h * d;
    nala_rope_rows rows = nala_rope_rows_of(a->rope, n);
    nala_key_features_ref(k, d, kf);
    nala_rope_apply_ref(kf, kr, d, rows);
    nala_rope_apply_ref(kf + d, kr + d, d, rows);
    for (int f = 0; f < F; f++) {
      ksum[f] += kf[f];
      double kr_f = kr[f];
      if (kr_f == 0.0)
        continue; /* about half the features are relu zeros */
      double *kv_row = kv + (size_t)f * d;
      for (int j = 0; j < d; j++)
        kv_row[j] += kr_f * v[j];
    }
  }
}

static void emit_queries(const nala_attn_args *a, int h, int n0, int n1, const double *kv, const double *ksum,
                         float *qf, float *qr) {
  int d = a->d, F = 2 * d;
  double inv_n = 1.0 / a->N;
  for (int n = n0; n < n1; n++) {
    const float *q = a->q + (size_t)n * a->ld_qk + (size_t)h * d;
    float *out = a->out + (size_t)n * a->ld_out + (size_t)h * d;
    if (!nala_query_features_ref(q, d, qf)) {
      memset(out, 0, (size_t)d * sizeof *out);
      continue;
    }
    nala_rope_rows rows = nala_rope_rows_of(a->rope, n);
    nala_rope_apply_ref(qf, qr, d, rows);
    nala_rope_apply_ref(qf + d, qr + d, d, rows);
    double denom = 0.0;
    for (int f = 0; f < F; f++)
      denom += (double)qf[f] * ksum[f];
    double z = 1.0 / (denom * inv_n + 1e-6);
    for (int j = 0; j < d; j++) {
      double acc = 0.0;
      for (int f = 0; f < F; f++)
        acc += (double)qr[f] * kv[(size_t)f * d + j];
      out[j] = (float)(acc * inv_n * z);
    }
  }
}

nala_status nala_attn_linear_ref(const nala_attn_args *a) {
  NALA_CHECK(nala_attn_args_check(a, "nala_attn_linear_ref"));
  NALA_CHECK(nala_attn_ws_check(a, nala_attn_linear_ws_floats(a->N, a->heads, a->d, a->nthreads),
                                "nala_attn_linear_ref"));
  int d = a->d, F = 2 * d, heads = a->heads, nt = nala_attn_threads(a);
  size_t state = (size_t)F * d + F;
  double *head_state = nala_ws_align(a->ws);                 /* [heads][state]: kv then ksum */
  double *partial = head_state + (size_t)heads * state;      /* [nt][heads][state] */
  float *scratch = (float *)(partial + (size_t)nt * heads * state); /* [nt][4F]: K, Kr / Q, Qr */
  /* one parallel region and one reduction for all heads (few sync points when heads are many) */
#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num(), T = omp_get_num_threads();
    double *mine = partial + (size_t)t * heads * state;
    float *f0 = scratch + (size_t)t * 4 * F, *f1 = f0 + F;
    memset(mine, 0, (size_t)heads * state * sizeof *mine);
    /* contiguous static chunks: each thread reads a run of rows */
    int n0 = (int)((long long)a->N * t / T), n1 = (int)((long long)a->N * (t + 1) / T);
    for (int h = 0; h < heads; h++)
      accumulate_keys(a, h, n0, n1, mine + (size_t)h * state, mine + (size_t)h * state + (size_t)F * d, f0, f1);
#pragma omp barrier
#pragma omp for schedule(static)
    for (size_t i = 0; i < (size_t)heads * state; i++) {
      double s = 0.0;
      for (int u = 0; u < T; u++)
        s += partial[(size_t)u * heads * state + i];
      head_state[i] = s;
    }
    /* implicit barrier of omp for: head_state is complete */
    for (int h = 0; h < heads; h++)
      emit_queries(a, h, n0, n1, head_state + (size_t)h * state, head_state + (size_t)h * state + (size_t)F * d,
                   f0, f1);
  }
  return NALA_OK;
}
