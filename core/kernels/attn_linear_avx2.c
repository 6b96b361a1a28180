/* AVX2 NaLa linear attention (semantics in attention.h, scalar twin in attn_linear_ref.c, the
 * same structure as attn_linear_avx512.c on 8-lane YMM vectors and 16 registers).
 *
 * Dims, named once: N tokens, d head dim (32, 64, 96 or 128; others use the reference), D8 = d/8
 * vectors per d-row, F = 2d features, B = NALA_LIN_BLOCK tokens per block.
 * Two passes over the tokens, each thread on its own contiguous token range, every head of a
 * block of B tokens in turn:
 *   pass 1, one sweep: K features, Kr, and kv += Kr^T v, ksum += K over the block in fp32
 *           registers, each block's sums then added into the thread's double state of the head;
 *   (threads' states summed, scaled by 1/N and rounded once to fp32 kv [F][d], kmean [F])
 *   pass 2: query norms -> tanh (4 lanes, double) -> power p, the features
 *           Q = (|q|/qn)^p split by sign, z = 1/(Q . kmean + 1e-6), Qr, then out = (Qr kv) * z.
 * Register tiles (16 YMM): both products run 4 rows (features in kv_tile, tokens in out_tile)
 * by a chunk of C column vectors of v / kv: 4*C accumulators + C row loads + 1 broadcast. Chunks
 * are 3 vectors (12 accumulators + 3 + 1 = 16 registers, 7 loads per 12 FMAs, 12 independent
 * chains for the 4-cycle FMA latency on 2 pipes), 2-vector chunks for the rest: d 32 -> 2,2;
 * 64 -> 3,3,2; 96 -> 3,3,3,3; 128 -> 3,3,3,3,2,2 (objdump: the inner loops touch no stack).
 * Unlike the AVX-512 kernel the unrotated features never reach memory (RoPE in registers), which
 * keeps one [B][F] tile instead of two in L1.
 * Measured (d 64, 1 head, 1 thread, Zen 4 EPYC under KVM, CPU time, median of 5 runs of
 * `nala bench attention --runs 5`, machine shared, load ~24 on 2 cores):
 *   tokens      4,096   16,384   65,536   ns/token
 *   avx2          651      574      584   (fastest runs 563 / 560 / 577: flat within 3%)
 *   avx512        438      480      491
 *   ref         11268    11142    11209
 * i.e. ~56-58 GFLOP/s (8 d^2 per token), ~0.7-0.85x the AVX-512 kernel on the same core, ~19x the
 * reference. Split by removing parts: the two tiles ~355 ns (~85% of the 1-core FMA peak of
 * ~110 GFLOP/s measured with a register-only loop), the query powers ~70-90 ns (their ~120-cycle
 * dependency chain, not the instruction count, limits them: interleaving two chains did not help),
 * the rest (features, norms, tanh, streaming q/k/v/out) ~85 ns. Prefetch distances B/2..4B, B of
 * 32 or 128 and other tile shapes (4x2, 3x3, 2x4) measured the same or slower.
 * vs the reference rel_l2 ~1-2.4e-7 (tests/test_attention.c prints it per shape). */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/kernels/attn_internal.h"
#include "core/kernels/avx2_math.h"

#define B NALA_LIN_BLOCK
/* how far ahead rows are prefetched (as the AVX-512 kernel: the next block's rows) */
#define PREFETCH_ROWS (2 * B)

typedef struct thread_bufs {
  double *state;      /* [heads][state]: kv then ksum partial sums of each head */
  float *featr;       /* [B][F]: RoPE'd features (the unrotated ones never leave registers) */
  float *qn, *pw, *z; /* [B]: query norm, power, normalizer */
} thread_bufs;

/* Prefetch hint for the d-float row `rows` rows of `ld` floats after row. Integer arithmetic: the
 * row may lie past the buffer's end, where a prefetch is harmless but pointer arithmetic is not. */
static inline void prefetch_ahead(const float *row, int rows, int ld, int d) {
  uintptr_t p = (uintptr_t)row + (uintptr_t)rows * (uintptr_t)ld * sizeof(float);
  for (int c = 0; c < d; c += 16)
    _mm_prefetch((const char *)(p + (uintptr_t)c * sizeof(float)), _MM_HINT_T0);
}

/* acc (8 floats) added into 8 doubles */
static inline void add_to_double(double *dst, __m256 acc) {
  __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(acc));
  __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(acc, 1));
  _mm256_storeu_pd(dst, _mm256_add_pd(_mm256_loadu_pd(dst), lo));
  _mm256_storeu_pd(dst + 4, _mm256_add_pd(_mm256_loadu_pd(dst + 4), hi));
}

static inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* Vector c of a d-row's RoPE table: the first half of the row from the map row's table, the
 * second from the map column's. */
static inline __m256 rope_col(const float *row_tab, const float *col_tab, int c, int D8) {
  return _mm256_loadu_ps(c < D8 / 2 ? row_tab + 8 * c : col_tab + 8 * (c - D8 / 2));
}

/* Rows of a register tile (feature rows in kv_tile, token rows in out_tile). */
#define TILE_ROWS 4

/* Column vectors of the next chunk when rem remain: 3, but never leave a single vector. */
static inline int chunk_of(int rem) { return rem == 4 ? 2 : rem >= 3 ? 3 : rem; }

/* kv[f][8*c0 ..] += sum_t featr[t][f] * v_t[8*c0 ..] for f in [f0, f0+R), C <= 3 column vectors,
 * R*C <= 12 accumulators. */
static inline __attribute__((always_inline)) void kv_tile(const float *featr, int F, const float *const *vrows, int nb,
                                                          int f0, int c0, double *kv, int d, const int R, const int C) {
  __m256 acc[12];
#pragma GCC unroll 12
  for (int i = 0; i < R * C; i++)
    acc[i] = _mm256_setzero_ps();
  const float *fr = featr + f0;
  for (int t = 0; t < nb; t++, fr += F) {
    __m256 vv[3];
    const float *vrow = vrows[t] + 8 * c0;
#pragma GCC unroll 3
    for (int c = 0; c < C; c++)
      vv[c] = _mm256_loadu_ps(vrow + 8 * c);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
      __m256 kr = _mm256_broadcast_ss(fr + r);
#pragma GCC unroll 3
      for (int c = 0; c < C; c++)
        acc[r * C + c] = _mm256_fmadd_ps(kr, vv[c], acc[r * C + c]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; r++)
#pragma GCC unroll 3
    for (int c = 0; c < C; c++)
      add_to_double(kv + (size_t)(f0 + r) * d + 8 * (c0 + c), acc[r * C + c]);
}

static void keys_block(const nala_attn_args *a, int h, int n0, int nb, thread_bufs *tb, double *state) {
  int d = a->d, D8 = d / 8, F = 2 * d;
  const float *vrows[B];
  float ksum[256] __attribute__((aligned(32))); /* F <= 256 */
  memset(ksum, 0, sizeof(float) * (size_t)F);
  __m256 zero = _mm256_setzero_ps();
  for (int t = 0; t < nb; t++) {
    int n = n0 + t;
    const float *k = a->k + (size_t)n * a->ld_qk + (size_t)h * d;
    vrows[t] = a->v + (size_t)n * a->ld_v + (size_t)h * d;
    prefetch_ahead(k, PREFETCH_ROWS, a->ld_qk, d);
    prefetch_ahead(vrows[t], PREFETCH_ROWS, a->ld_v, d);
    /* K and its RoPE in registers: only Kr is stored (the tile kv_tile reads) */
    float *kr = tb->featr + (size_t)t * F;
    nala_rope_rows rows = nala_rope_rows_of(a->rope, n);
    for (int c = 0; c < D8; c++) {
      __m256 kk = _mm256_loadu_ps(k + 8 * c);
      __m256 k3 = _mm256_mul_ps(_mm256_mul_ps(kk, kk), kk);
      __m256 kp = _mm256_max_ps(k3, zero);
      __m256 kn = _mm256_max_ps(_mm256_sub_ps(zero, k3), zero);
      _mm256_store_ps(ksum + 8 * c, _mm256_add_ps(_mm256_load_ps(ksum + 8 * c), kp));
      _mm256_store_ps(ksum + d + 8 * c, _mm256_add_ps(_mm256_load_ps(ksum + d + 8 * c), kn));
      __m256 sn = rope_col(rows.sin_h, rows.sin_w, c, D8), cs = rope_col(rows.cos_h, rows.cos_w, c, D8);
      _mm256_storeu_ps(kr + 8 * c, nala_rope_ymm(kp, sn, cs));
      _mm256_storeu_ps(kr + d + 8 * c, nala_rope_ymm(kn, sn, cs));
    }
  }
  double *kv = state, *ks = state + (size_t)F * d;
  for (int c = 0; c < 2 * D8; c++)
    add_to_double(ks + 8 * c, _mm256_load_ps(ksum + 8 * c));
  for (int c0 = 0, C; c0 < D8; c0 += C) {
    C = chunk_of(D8 - c0);
    if (C == 3)
      for (int f0 = 0; f0 < F; f0 += TILE_ROWS)
        kv_tile(tb->featr, F, vrows, nb, f0, c0, kv, d, TILE_ROWS, 3);
    else
      for (int f0 = 0; f0 < F; f0 += TILE_ROWS)
        kv_tile(tb->featr, F, vrows, nb, f0, c0, kv, d, TILE_ROWS, 2);
  }
}

/* out rows [t0, t0+R) of the block, columns 8*c0 ..: (featr[t] . kv) * z[t], C <= 3 vectors per row,
 * R*C <= 12 accumulators. */
static inline __attribute__((always_inline)) void out_tile(const float *featr, int F, const float *kv, int t0, int c0,
                                                           const thread_bufs *tb, float *const *orows, int nb,
                                                           const int R, const int C) {
  __m256 acc[12];
#pragma GCC unroll 12
  for (int i = 0; i < R * C; i++)
    acc[i] = _mm256_setzero_ps();
  int d = F / 2;
  const float *fr = featr + (size_t)t0 * F, *kvc = kv + 8 * c0;
  for (int f = 0; f < F; f++, kvc += d) {
    __m256 kvv[3];
#pragma GCC unroll 3
    for (int c = 0; c < C; c++)
      kvv[c] = _mm256_load_ps(kvc + 8 * c);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
      __m256 qr = _mm256_broadcast_ss(fr + (size_t)r * F + f);
#pragma GCC unroll 3
      for (int c = 0; c < C; c++)
        acc[r * C + c] = _mm256_fmadd_ps(qr, kvv[c], acc[r * C + c]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; r++) {
    int t = t0 + r;
    if (t >= nb)
      break;
    float qn = tb->qn[t];
    int zero_row = qn == 0.0f || isinf(qn); /* defined out = 0 (attention.h) */
    __m256 z = _mm256_set1_ps(tb->z[t]);
#pragma GCC unroll 3
    for (int c = 0; c < C; c++)
      _mm256_storeu_ps(orows[t] + 8 * (c0 + c), zero_row ? _mm256_setzero_ps() : _mm256_mul_ps(acc[r * C + c], z));
  }
}

/* Query norms as nala_query_norm_ref: squares and sum in double, rounded once to fp32. */
static inline float query_norm(const float *q, int D8) {
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  for (int c = 0; c < D8; c++) {
    __m256 v = _mm256_loadu_ps(q + 8 * c);
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    s0 = _mm256_fmadd_pd(lo, lo, s0);
    s1 = _mm256_fmadd_pd(hi, hi, s1);
  }
  __m256d s = _mm256_add_pd(s0, s1);
  __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
  h = _mm_add_sd(h, _mm_unpackhi_pd(h, h));
  return sqrtf((float)_mm_cvtsd_f64(h));
}

static void queries_block(const nala_attn_args *a, int h, int n0, int nb, const float *kv, const float *kmean,
                          thread_bufs *tb) {
  int d = a->d, D8 = d / 8, F = 2 * d;
  float *orows[B];
  for (int t = 0; t < nb; t++) {
    tb->qn[t] = query_norm(a->q + (size_t)(n0 + t) * a->ld_qk + (size_t)h * d, D8);
    orows[t] = a->out + (size_t)(n0 + t) * a->ld_out + (size_t)h * d;
  }
  /* p = 3 * (0.5 + tanh(qn)) in PyTorch's fp32 op order, tanh itself from double */
  for (int t = 0; t < nb; t += 4) {
    float qn4[4] = {0.0f, 0.0f, 0.0f, 0.0f}, p4[4];
    int live = nb - t < 4 ? nb - t : 4;
    memcpy(qn4, tb->qn + t, sizeof(float) * (size_t)live);
    __m128 th = _mm256_cvtpd_ps(nala_tanh_pd256(_mm256_cvtps_pd(_mm_loadu_ps(qn4))));
    _mm_storeu_ps(p4, _mm_mul_ps(_mm_set1_ps(3.0f), _mm_add_ps(_mm_set1_ps(0.5f), th)));
    memcpy(tb->pw + t, p4, sizeof(float) * (size_t)live);
  }
  __m256 zero = _mm256_setzero_ps(), sign = _mm256_set1_ps(-0.0f);
  for (int t = 0; t < nb; t++) {
    const float *q = a->q + (size_t)(n0 + t) * a->ld_qk + (size_t)h * d;
    prefetch_ahead(q, PREFETCH_ROWS, a->ld_qk, d);
    prefetch_ahead(orows[t], PREFETCH_ROWS, a->ld_out, d);
    float *qr = tb->featr + (size_t)t * F;
    nala_rope_rows rows = nala_rope_rows_of(a->rope, n0 + t);
    __m256 qn = _mm256_set1_ps(tb->qn[t]), p = _mm256_set1_ps(tb->pw[t]);
    __m256 den0 = zero, den1 = zero;
    for (int c = 0; c < D8; c++) {
      __m256 qq = _mm256_loadu_ps(q + 8 * c);
      /* relu(+-q)/qn: one of the two is |q|/qn, the other 0; the division matches PyTorch's */
      __m256 xp = nala_pow_unit_ps256(_mm256_div_ps(_mm256_andnot_ps(sign, qq), qn), p);
      __m256 qp = _mm256_and_ps(_mm256_cmp_ps(qq, zero, _CMP_GT_OQ), xp);
      __m256 qm = _mm256_and_ps(_mm256_cmp_ps(qq, zero, _CMP_LT_OQ), xp);
      den0 = _mm256_fmadd_ps(qp, _mm256_load_ps(kmean + 8 * c), den0);
      den1 = _mm256_fmadd_ps(qm, _mm256_load_ps(kmean + d + 8 * c), den1);
      __m256 sn = rope_col(rows.sin_h, rows.sin_w, c, D8), cs = rope_col(rows.cos_h, rows.cos_w, c, D8);
      _mm256_storeu_ps(qr + 8 * c, nala_rope_ymm(qp, sn, cs));
      _mm256_storeu_ps(qr + d + 8 * c, nala_rope_ymm(qm, sn, cs));
    }
    tb->z[t] = 1.0f / (hsum_ps(_mm256_add_ps(den0, den1)) + 1e-6f);
    if (isnan(tb->qn[t]))
      tb->z[t] = NAN; /* a NaN in q propagates as in PyTorch and the reference */
  }
  for (int c0 = 0, C; c0 < D8; c0 += C) {
    C = chunk_of(D8 - c0);
    if (C == 3)
      for (int t0 = 0; t0 < nb; t0 += TILE_ROWS)
        out_tile(tb->featr, F, kv, t0, c0, tb, orows, nb, TILE_ROWS, 3);
    else
      for (int t0 = 0; t0 < nb; t0 += TILE_ROWS)
        out_tile(tb->featr, F, kv, t0, c0, tb, orows, nb, TILE_ROWS, 2);
  }
}

nala_status nala_attn_linear_avx2(const nala_attn_args *a) {
  NALA_CHECK(nala_attn_args_check(a, "nala_attn_linear_avx2"));
  NALA_CHECK(
      nala_attn_ws_check(a, nala_attn_linear_ws_floats(a->N, a->heads, a->d, a->nthreads), "nala_attn_linear_avx2"));
  if (a->d % 32 || a->d > 128) /* RoPE halves of whole vector pairs, at most 16 vectors a row */
    return nala_attn_linear_ref(a);
  int d = a->d, F = 2 * d, heads = a->heads, nt = nala_attn_threads(a);
  size_t state = nala_round16((size_t)F * d + F), block = nala_round16((size_t)B * F);
  size_t state_used = (size_t)F * d + F;
  float *kv_all = nala_ws_align(a->ws); /* [heads][state]: kv [F][d] then kmean [F], fp32, shared */
  float *thread_base = kv_all + (size_t)heads * state;
  /* per thread: [heads][state] double partial sums (2 floats each), two feature tiles, qn/p/z */
  size_t per_thread = (size_t)heads * 2 * state + 2 * block + 4 * B;
  double inv_n = 1.0 / a->N;
  /* One parallel region and one reduction for all heads; token blocks are the outer loop so each
   * row of q, k, v is read from DRAM once for all its heads (as the AVX-512 kernel). */
#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num(), T = omp_get_num_threads();
    float *base = thread_base + (size_t)t * per_thread;
    float *bufs = base + (size_t)heads * 2 * state;
    /* the workspace has room for two feature tiles (the AVX-512 layout); this kernel uses one */
    thread_bufs tb = {(double *)base, bufs, bufs + block, bufs + block + B, bufs + block + 2 * B};
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
