/* AVX-512 NaLa linear attention (semantics in attention.h, scalar twin in attn_linear_ref.c).
 *
 * Dims, named once: N tokens, d head dim (32, 64, 96 or 128; others use the reference), D = d/16 vectors
 * per d-row, F = 2d features, B = NALA_LIN_BLOCK tokens per block.
 * Two passes over the tokens, each thread on its own contiguous token range, every head of a
 * block of B tokens in turn:
 *   pass 1, one sweep: K features, Kr, and kv += Kr^T v, ksum += K over the block in fp32
 *           registers, each block's sums then added into the thread's double state of the head;
 *   (threads' states summed, scaled by 1/N and rounded once to fp32 kv [F][d], kmean [F])
 *   pass 2: query norms -> tanh (8 lanes, double) -> power p, the features
 *           Q = (|q|/qn)^p split by sign, z = 1/(Q . kmean + 1e-6), Qr, then out = (Qr kv) * z.
 * Measured (1 thread, d 64, CPU time): ~115-130 GFLOP/s, 270-290 ns/token from 4k to 64k tokens;
 * vs the reference rel_l2 ~2e-7 at 64k tokens. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/kernels/attn_internal.h"
#include "core/kernels/avx512_math.h"

#define B NALA_LIN_BLOCK
/* how far ahead rows are prefetched: measured flattest ns/token from 4k to 64k tokens */
#define PREFETCH_ROWS (2 * B)

typedef struct thread_bufs {
  double *state;       /* [heads][state]: kv then ksum partial sums of each head */
  float *feat, *featr; /* [B][F]: features and their RoPE'd copies */
  float *qn, *pw, *z;  /* [B]: query norm, power, normalizer */
} thread_bufs;

/* Prefetch hint for the d-float row `rows` rows of `ld` floats after row (the next block's rows,
 * which at large N come from DRAM). Integer arithmetic: the row may lie past the buffer's end,
 * where a prefetch is harmless but pointer arithmetic would not be. */
static inline void prefetch_ahead(const float *row, int rows, int ld, int d) {
  uintptr_t p = (uintptr_t)row + (uintptr_t)rows * (uintptr_t)ld * sizeof(float);
  for (int c = 0; c < d; c += 16)
    _mm_prefetch((const char *)(p + (uintptr_t)c * sizeof(float)), _MM_HINT_T0);
}

/* acc (16 floats) added into 16 doubles */
static inline void add_to_double(double *dst, __m512 acc) {
  __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(acc));
  __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1)));
  _mm512_storeu_pd(dst, _mm512_add_pd(_mm512_loadu_pd(dst), lo));
  _mm512_storeu_pd(dst + 8, _mm512_add_pd(_mm512_loadu_pd(dst + 8), hi));
}

/* kv[f][:] += sum_t featr[t][f] * v_t[:] for f in [f0, f0+R): R rows x D vectors of accumulators. */
static inline __attribute__((always_inline)) void kv_tile(const float *featr, int F, const float *const *vrows,
                                                          int nb, int f0, double *kv, int d, const int D,
                                                          const int R) {
  __m512 acc[16];
#pragma GCC unroll 16
  for (int i = 0; i < R * D; i++)
    acc[i] = _mm512_setzero_ps();
  for (int t = 0; t < nb; t++) {
    __m512 vv[8];
#pragma GCC unroll 8
    for (int c = 0; c < D; c++)
      vv[c] = _mm512_loadu_ps(vrows[t] + 16 * c);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      __m512 kr = _mm512_set1_ps(featr[(size_t)t * F + f0 + r]);
#pragma GCC unroll 8
      for (int c = 0; c < D; c++)
        acc[r * D + c] = _mm512_fmadd_ps(kr, vv[c], acc[r * D + c]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; r++)
#pragma GCC unroll 8
    for (int c = 0; c < D; c++)
      add_to_double(kv + (size_t)(f0 + r) * d + 16 * c, acc[r * D + c]);
}

static void keys_block(const nala_attn_args *a, int h, int n0, int nb, thread_bufs *tb, double *state) {
  int d = a->d, D = d / 16, F = 2 * d;
  const float *vrows[B];
  __m512 ksum[16];
  for (int c = 0; c < 2 * D; c++)
    ksum[c] = _mm512_setzero_ps();
  for (int t = 0; t < nb; t++) {
    int n = n0 + t;
    const float *k = a->k + (size_t)n * a->ld_qk + (size_t)h * d;
    vrows[t] = a->v + (size_t)n * a->ld_v + (size_t)h * d;
    prefetch_ahead(k, PREFETCH_ROWS, a->ld_qk, d);
    prefetch_ahead(vrows[t], PREFETCH_ROWS, a->ld_v, d);
    float *kf = tb->feat + (size_t)t * F;
    for (int c = 0; c < D; c++) {
      __m512 kk = _mm512_loadu_ps(k + 16 * c);
      __m512 k3 = _mm512_mul_ps(_mm512_mul_ps(kk, kk), kk);
      __m512 kp = _mm512_max_ps(k3, _mm512_setzero_ps());
      __m512 kn = _mm512_max_ps(_mm512_sub_ps(_mm512_setzero_ps(), k3), _mm512_setzero_ps());
      _mm512_storeu_ps(kf + 16 * c, kp);
      _mm512_storeu_ps(kf + d + 16 * c, kn);
      ksum[c] = _mm512_add_ps(ksum[c], kp);
      ksum[D + c] = _mm512_add_ps(ksum[D + c], kn);
    }
    nala_rope_rows rows = nala_rope_rows_of(a->rope, n);
    nala_rope_vec_avx512(kf, tb->featr + (size_t)t * F, D, rows);
    nala_rope_vec_avx512(kf + d, tb->featr + (size_t)t * F + d, D, rows);
  }
  double *kv = state, *ks = state + (size_t)F * d;
  for (int c = 0; c < 2 * D; c++)
    add_to_double(ks + 16 * c, ksum[c]);
  /* rows per tile so that rows x D accumulators fill 12-16 of the 32 registers */
  switch (D) {
  case 2:
    for (int f0 = 0; f0 < F; f0 += 8)
      kv_tile(tb->featr, F, vrows, nb, f0, kv, d, 2, 8);
    break;
  case 4:
    for (int f0 = 0; f0 < F; f0 += 4)
      kv_tile(tb->featr, F, vrows, nb, f0, kv, d, 4, 4);
    break;
  case 6:
    for (int f0 = 0; f0 < F; f0 += 2)
      kv_tile(tb->featr, F, vrows, nb, f0, kv, d, 6, 2);
    break;
  default:
    for (int f0 = 0; f0 < F; f0 += 2)
      kv_tile(tb->featr, F, vrows, nb, f0, kv, d, 8, 2);
  }
}

/* out rows [t0, t0+R) of the block: (featr[t] . kv) * z[t], D vectors per row. */
static inline __attribute__((always_inline)) void out_tile(const float *featr, int F, const float *kv, int t0,
                                                           const thread_bufs *tb, float *const *orows, int nb,
                                                           const int D, const int R) {
  __m512 acc[16];
#pragma GCC unroll 16
  for (int i = 0; i < R * D; i++)
    acc[i] = _mm512_setzero_ps();
  for (int f = 0; f < F; f++) {
    __m512 kvv[8];
#pragma GCC unroll 8
    for (int c = 0; c < D; c++)
      kvv[c] = _mm512_load_ps(kv + (size_t)f * (F / 2) + 16 * c);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      __m512 qr = _mm512_set1_ps(featr[(size_t)(t0 + r) * F + f]);
#pragma GCC unroll 8
      for (int c = 0; c < D; c++)
        acc[r * D + c] = _mm512_fmadd_ps(qr, kvv[c], acc[r * D + c]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) {
    int t = t0 + r;
    if (t >= nb)
      break;
    float qn = tb->qn[t];
    int zero_row = qn == 0.0f || isinf(qn); /* defined out = 0 (attention.h) */
    __m512 z = _mm512_set1_ps(tb->z[t]);
#pragma GCC unroll 8
    for (int c = 0; c < D; c++)
      _mm512_storeu_ps(orows[t] + 16 * c, zero_row ? _mm512_setzero_ps() : _mm512_mul_ps(acc[r * D + c], z));
  }
}

/* Query norms as nala_query_norm_ref: squares and sum in double, rounded once to fp32. */
static inline float query_norm(const float *q, int D) {
  __m512d s = _mm512_setzero_pd();
  for (int c = 0; c < D; c++) {
    __m512 v = _mm512_loadu_ps(q + 16 * c);
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    s = _mm512_fmadd_pd(lo, lo, s);
    s = _mm512_fmadd_pd(hi, hi, s);
  }
  return sqrtf((float)_mm512_reduce_add_pd(s));
}

static void queries_block(const nala_attn_args *a, int h, int n0, int nb, const float *kv, const float *kmean,
                          thread_bufs *tb) {
  int d = a->d, D = d / 16, F = 2 * d;
  float *orows[B];
  for (int t = 0; t < nb; t++) {
    tb->qn[t] = query_norm(a->q + (size_t)(n0 + t) * a->ld_qk + (size_t)h * d, D);
    orows[t] = a->out + (size_t)(n0 + t) * a->ld_out + (size_t)h * d;
  }
  /* p = 3 * (0.5 + tanh(qn)) in PyTorch's fp32 op order, tanh itself from double */
  for (int t = 0; t < nb; t += 8) {
    __mmask8 live = (__mmask8)(nb - t >= 8 ? 0xFF : (1u << (nb - t)) - 1);
    __m256 qn = _mm256_maskz_loadu_ps(live, tb->qn + t);
    __m256 th = _mm512_cvtpd_ps(nala_tanh_pd(_mm512_cvtps_pd(qn)));
    __m256 p = _mm256_mul_ps(_mm256_set1_ps(3.0f), _mm256_add_ps(_mm256_set1_ps(0.5f), th));
    _mm256_mask_storeu_ps(tb->pw + t, live, p);
  }
  __m512 zero = _mm512_setzero_ps(), sign = _mm512_set1_ps(-0.0f);
  for (int t = 0; t < nb; t++) {
    const float *q = a->q + (size_t)(n0 + t) * a->ld_qk + (size_t)h * d;
    prefetch_ahead(q, PREFETCH_ROWS, a->ld_qk, d);
    prefetch_ahead(orows[t], PREFETCH_ROWS, a->ld_out, d);
    float *qf = tb->feat + (size_t)t * F;
    __m512 qn = _mm512_set1_ps(tb->qn[t]), p = _mm512_set1_ps(tb->pw[t]);
    __m512 den = zero;
    for (int c = 0; c < D; c++) {
      __m512 qq = _mm512_loadu_ps(q + 16 * c);
      /* relu(+-q)/qn: one of the two is |q|/qn, the other 0; the division matches PyTorch's */
      __m512 x = _mm512_div_ps(_mm512_andnot_ps(sign, qq), qn);
      __m512 xp = nala_pow_unit_ps(x, p);
      __m512 qp = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(qq, zero, _CMP_GT_OQ), xp);
      __m512 qm = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(qq, zero, _CMP_LT_OQ), xp);
      _mm512_storeu_ps(qf + 16 * c, qp);
      _mm512_storeu_ps(qf + d + 16 * c, qm);
      den = _mm512_fmadd_ps(qp, _mm512_load_ps(kmean + 16 * c), den);
      den = _mm512_fmadd_ps(qm, _mm512_load_ps(kmean + d + 16 * c), den);
    }
    tb->z[t] = 1.0f / (_mm512_reduce_add_ps(den) + 1e-6f);
    if (isnan(tb->qn[t]))
      tb->z[t] = NAN; /* a NaN in q propagates as in PyTorch and the reference */
    nala_rope_rows rows = nala_rope_rows_of(a->rope, n0 + t);
    nala_rope_vec_avx512(qf, tb->featr + (size_t)t * F, D, rows);
    nala_rope_vec_avx512(qf + d, tb->featr + (size_t)t * F + d, D, rows);
  }
  switch (D) {
  case 2:
    for (int t0 = 0; t0 < nb; t0 += 8)
      out_tile(tb->featr, F, kv, t0, tb, orows, nb, 2, 8);
    break;
  case 4:
    for (int t0 = 0; t0 < nb; t0 += 4)
      out_tile(tb->featr, F, kv, t0, tb, orows, nb, 4, 4);
    break;
  case 6:
    for (int t0 = 0; t0 < nb; t0 += 2)
      out_tile(tb->featr, F, kv, t0, tb, orows, nb, 6, 2);
    break;
  default:
    for (int t0 = 0; t0 < nb; t0 += 2)
      out_tile(tb->featr, F, kv, t0, tb, orows, nb, 8, 2);
  }
}

nala_status nala_attn_linear_avx512(const nala_attn_args *a) {
  NALA_CHECK(nala_attn_args_check(a, "nala_attn_linear_avx512"));
  NALA_CHECK(nala_attn_ws_check(a, nala_attn_linear_ws_floats(a->N, a->heads, a->d, a->nthreads),
                                "nala_attn_linear_avx512"));
  if (a->d % 32 || a->d > 128) /* RoPE halves of whole vectors, at most 8 vectors a row */
    return nala_attn_linear_ref(a);
  int d = a->d, F = 2 * d, heads = a->heads, nt = nala_attn_threads(a);
  size_t state = nala_round16((size_t)F * d + F), block = nala_round16((size_t)B * F);
  size_t state_used = (size_t)F * d + F;
  float *kv_all = nala_ws_align(a->ws); /* [heads][state]: kv [F][d] then kmean [F], fp32, shared */
  float *thread_base = kv_all + (size_t)heads * state;
  /* per thread: [heads][state] double partial sums (2 floats each), two feature tiles, qn/p/z */
  size_t per_thread = (size_t)heads * 2 * state + 2 * block + 4 * B;
  double inv_n = 1.0 / a->N;
  /* One parallel region and one reduction for all heads: with many heads and few tokens (last
   * stage) per-head regions would cost more in synchronisation than in arithmetic. Token blocks
   * are the outer loop so each row of q, k, v is read from DRAM once for all its heads. */
#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num(), T = omp_get_num_threads();
    float *base = thread_base + (size_t)t * per_thread;
    float *bufs = base + (size_t)heads * 2 * state;
    thread_bufs tb = {(double *)base, bufs, bufs + block, bufs + 2 * block, bufs + 2 * block + B,
                      bufs + 2 * block + 2 * B};
    memset(tb.state, 0, sizeof(double) * (size_t)heads * state);
    /* rows of out_tile past the block's end read these: keep them finite */
    memset(tb.featr, 0, sizeof(float) * B * F);
    int n0 = (int)((long long)a->N * t / T), n1 = (int)((long long)a->N * (t + 1) / T);
    for (int n = n0; n < n1; n += B)
      for (int h = 0; h < heads; h++)
        keys_block(a, h, n, n1 - n < B ? n1 - n : B, &tb, tb.state + (size_t)h * state);
#pragma omp barrier
    nala_lin_reduce_states(kv_all, thread_base, per_thread, (size_t)heads * state, state, state_used, T, inv_n);
    for (int n = n0; n < n1; n += B)
      for (int h = 0; h < heads; h++) {
        const float *kv = kv_all + (size_t)h * state;
        queries_block(a, h, n, n1 - n < B ? n1 - n : B, kv, kv + (size_t)F * d, &tb);
      }
  }
  return NALA_OK;
}
