/* AVX2 RoPE softmax attention, flash-attention style: the structure of attn_softmax_avx512.c on
 * 8-lane YMM vectors with tiles sized for 16 registers (semantics in attention.h, scalar twin in
 * attn_softmax_ref.c).
 *
 * Dims, named once: N tokens, d head dim (32, 64, 96 or 128; others use the reference), QB query
 * rows x KB keys per block (NALA_SM_AVX2_* in attn_internal.h), nkb = ceil(N / KB).
 * Phase 1 stores the RoPE'd keys transposed per key block, kt [heads][nkb][d][KB] (zero past N).
 * Phase 2, per (head, query block): scores S = (d^-0.5 * RoPE(q)) kt one key block at a time,
 * online softmax (running max m, running sum l, output rescaled by exp(m_old - m_new)),
 * O = O * alpha + P V with the block's P V summed from zero, and out = O / l at the end.
 * Memory is O(heads * N * d) plus QB x (2d + KB + 10) per thread, never N x N.
 *
 * Register tiles (16 YMM): both products are 6 rows x 16 columns, the shape of the classic AVX2
 * sgemm micro-kernel: 12 accumulators, 2 column vectors loaded once per step and 1 broadcast
 * reused by both, so 12 FMAs per 8 loads and 15 live registers (objdump -d: neither inner loop
 * touches the stack; the tiles are out of line so the caller's pointers cannot crowd them).
 *   score tile: 6 query rows (broadcast from qs) x 16 keys (2 vectors of a kt row), over d;
 *   P V tile:   6 query rows (broadcast from P) x 16 features (2 vectors of a v row), over KB keys.
 * QB = 192 query rows (a multiple of 6), KB = 64 keys. While a block computes, the next key and
 * value blocks are prefetched (past ~8k tokens they stream from L3). Tried and dropped: 96-row
 * blocks (-3% at 16k), running softmax and P V per 6-row group right after its scores (-5%:
 * the key and value blocks then fight over L1).
 * Measured on Zen 4 (AMD EPYC, 1 thread, d 64, 1 head, `nala bench attention --runs 3`; CPU
 * time, as the machine was shared at load ~26 on 2 cores; median of 3 invocations at 4k and 16k,
 * one at 64k), GFLOP/s = 4 N^2 d / t:
 *            N = 4,096   16,384   65,536
 *   avx2        83.5      85.8     85.4
 *   avx512      89.4      79.2     79.5
 * oneDNN sgemm 2048^3 on 1 core, CPU time, same session: 101-103 GFLOP/s with
 * ONEDNN_MAX_CPU_ISA=AVX2, 105-107 unrestricted, so avx2 runs at ~83-85% of the AVX2 sgemm peak
 * (bench/matmul_peak's wall-time figure was 26 under that load, 93 at load ~8). Of the time at
 * 4k, ~80% is the two tiles (108 GFLOP/s alone) and ~14% the exponentials.
 * Later (same-process A/B on a Xeon, alternating calls, min CPU time): the softmax pass with
 * vector row maxima and sums, alpha only when the maximum grows and a 12-op exponential took
 * 1,024 x 4 heads 67.1 -> 68.6, 3,400 x 4 66.1 -> 72.0, 850 x 8 56.1 -> 63.3, 4,096 76.3 -> 80.0,
 * 16,384 74.8 -> 80.1 GFLOP/s.
 * Accuracy: rel_l2 2.3e-7 vs PyTorch at 4,096 tokens (AVX-512: 2.2e-7), 1.4-3.7e-7 vs the
 * double reference for d 32-128. A NaN score (NaN or inf in q or k), which max and exp would
 * drop, is carried into its row's sum, so that row is NaN as in the reference.
 */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/kernels/attn_internal.h"
#include "core/kernels/avx2_math.h"

#define QB NALA_SM_AVX2_QBLOCK
#define KB NALA_SM_AVX2_KBLOCK
#define TILE_ROWS 6

_Static_assert(QB % TILE_ROWS == 0 && QB % 8 == 0, "query block: whole tiles and whole row vectors");
_Static_assert(KB % 16 == 0, "key block: whole 16-key tiles");

typedef struct query_block {
  float *qs;   /* [QB][d] scaled, RoPE'd queries */
  float *s;    /* [QB][KB] scores, then weights */
  float *o;    /* [QB][d] unnormalised output */
  float *l;    /* [QB][8] running sums, 8 lanes per row */
  float *m, *alpha; /* [QB] running max, rescale of the current block */
} query_block;

/* Floats of one thread's query_block (also counted by attn_common.c). */
static size_t per_thread_floats(int d) { return nala_round16((size_t)QB * (2 * (size_t)d + KB + 10)); }

/* r[i][j] <- r[j][i] for an 8 x 8 tile: unpack pairs of rows, shuffle pairs of pairs, then swap
 * 128-bit halves (24 shuffles for 64 floats). */
static inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; i++) {
    r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

/* Also copies the values to vp [heads][npad][d], contiguous per head: in place, the rows of one
 * head sit ld_v floats apart (1-2 KB in the backbone), so a key block's rows fall into a quarter
 * or less of the L1 sets and P V reloaded them from L2 for every group of query rows.
 * 8 keys at a time: their RoPE'd rows, then 8 x 8 transposes into kt, a vector store per
 * feature, instead of one scalar store per feature and key. */
static void build_keys(const nala_attn_args *a, float *kt, float *vp, int npad) {
  int d = a->d, D8 = d / 8, N = a->N, groups = npad / 8;
#pragma omp for schedule(static)
  for (long long hg = 0; hg < (long long)a->heads * groups; hg++) {
    int h = (int)(hg / groups), n0 = (int)(hg % groups) * 8;
    float *col = kt + ((size_t)h * npad + (size_t)(n0 / KB) * KB) * d + n0 % KB;
    float kr[8][128] __attribute__((aligned(32)));
    for (int j = 0; j < 8; j++) {
      int n = n0 + j;
      float *vrow = vp + ((size_t)h * npad + n) * d;
      if (n < N) {
        nala_rope_vec_avx2(a->k + (size_t)n * a->ld_qk + (size_t)h * d, kr[j], D8, nala_rope_rows_of(a->rope, n));
        memcpy(vrow, a->v + (size_t)n * a->ld_v + (size_t)h * d, sizeof(float) * d);
      } else {
        memset(kr[j], 0, sizeof(float) * d);
        memset(vrow, 0, sizeof(float) * d);
      }
    }
    for (int c = 0; c < D8; c++) {
      __m256 r[8];
      for (int j = 0; j < 8; j++)
        r[j] = _mm256_load_ps(kr[j] + 8 * c);
      transpose8(r);
      for (int i = 0; i < 8; i++)
        _mm256_storeu_ps(col + (size_t)(8 * c + i) * KB, r[i]);
    }
  }
}

/* S rows [0, 6) x keys [0, 16) = 6 query rows (stride d) . 16 key columns of kt (stride KB). */
static __attribute__((noinline)) void score_tile(const float *q, const float *kt, float *s, int d) {
  __m256 acc[TILE_ROWS][2];
#pragma GCC unroll 6
  for (int r = 0; r < TILE_ROWS; r++)
    acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int c = 0; c < d; c++) {
    __m256 k0 = _mm256_load_ps(kt + (size_t)c * KB), k1 = _mm256_load_ps(kt + (size_t)c * KB + 8);
#pragma GCC unroll 6
    for (int r = 0; r < TILE_ROWS; r++) {
      __m256 qb = _mm256_broadcast_ss(q + (size_t)r * d + c);
      acc[r][0] = _mm256_fmadd_ps(qb, k0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(qb, k1, acc[r][1]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < TILE_ROWS; r++) {
    _mm256_store_ps(s + (size_t)r * KB, acc[r][0]);
    _mm256_store_ps(s + (size_t)r * KB + 8, acc[r][1]);
  }
}

/* O rows [0, 6) x features [0, 16) = O * alpha + P V over nk keys: p is 6 weight rows (stride
 * KB), v the first key's 16 features (stride ld_v), o 6 output rows (stride d). The block's P V
 * starts from zero and is added to the rescaled O at the end: two-level sums (within a block,
 * then across blocks) instead of one fp32 chain over all N keys. */
static __attribute__((noinline)) void pv_tile(const float *p, const float *v, size_t ld_v, int nk, const float *alpha, float *o,
                           int d) {
  __m256 acc[TILE_ROWS][2];
#pragma GCC unroll 6
  for (int r = 0; r < TILE_ROWS; r++)
    acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int j = 0; j < nk; j++, v += ld_v) {
    __m256 v0 = _mm256_loadu_ps(v), v1 = _mm256_loadu_ps(v + 8);
#pragma GCC unroll 6
    for (int r = 0; r < TILE_ROWS; r++) {
      __m256 pb = _mm256_broadcast_ss(p + (size_t)r * KB + j);
      acc[r][0] = _mm256_fmadd_ps(pb, v0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(pb, v1, acc[r][1]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < TILE_ROWS; r++) {
    __m256 al = _mm256_broadcast_ss(alpha + r);
    float *orow = o + (size_t)r * d;
    _mm256_store_ps(orow, _mm256_fmadd_ps(_mm256_load_ps(orow), al, acc[r][0]));
    _mm256_store_ps(orow + 8, _mm256_fmadd_ps(_mm256_load_ps(orow + 8), al, acc[r][1]));
  }
}

/* Cache lines [t0, t1) of the next key block (kt, contiguous) into L1 while this block computes.
 * Past ~8k tokens the keys and values no longer fit in L2 and stream from L3 or memory, where
 * the hardware prefetcher alone left the FMAs waiting: measured 73 -> 84 GFLOP/s at 64k tokens
 * with these, and +5% at 4k-16k. */
static inline void prefetch_keys(const float *kt_next, int t0, int t1) {
  for (int t = t0; t < t1; t++)
    _mm_prefetch((const char *)kt_next + 64 * (size_t)t, _MM_HINT_T0);
}

/* The same for the next value block: line t is row t / per_row, 16 features at 16 * (t % per_row). */
static inline void prefetch_values(const float *v_next, size_t ld_v, int per_row, int t0, int t1) {
  for (int t = t0; t < t1; t++)
    _mm_prefetch((const char *)(v_next + (size_t)(t / per_row) * ld_v + 16 * (t % per_row)), _MM_HINT_T0);
}

/* The maximum of v's 8 lanes, in every lane. */
static inline __m256 allmax_ps256(__m256 v) {
  v = _mm256_max_ps(v, _mm256_permute2f128_ps(v, v, 0x01));
  v = _mm256_max_ps(v, _mm256_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm256_max_ps(v, _mm256_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
}

static inline float hsum_ps256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/* Lanes [0, n) of an 8-lane mask set (n may be <= 0 or >= 8). */
static inline __m256i lanes_below(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Online softmax over one score block: weights into s, rescale factors into alpha. The row
 * maximum stays a vector (no scalar round trip), the sums stay 8-lane vectors per row
 * (l = l * alpha + sum P, reduced once at the end) and alpha is 1 without an exponential when
 * the maximum did not grow, nearly always after the first blocks. A NaN score, which max drops,
 * reaches the sum through its own weight exp(NaN) = NaN, so its row ends NaN as in the
 * reference. */
static void softmax_block(query_block *qb, int rows, int nk) {
  __m256 neg_inf = _mm256_set1_ps(-INFINITY);
  __m256 live[KB / 8]; /* keys past N score -inf, so their weight is 0 */
  for (int v = 0; v < KB / 8; v++)
    live[v] = _mm256_castsi256_ps(lanes_below(nk - 8 * v));
  for (int i = 0; i < rows; i++) {
    float *si = qb->s + (size_t)i * KB;
    __m256 mx = neg_inf;
    if (nk == KB) {
      for (int v = 0; v < KB / 8; v++)
        mx = _mm256_max_ps(mx, _mm256_load_ps(si + 8 * v));
    } else {
      for (int v = 0; v < KB / 8; v++) {
        __m256 sv = _mm256_blendv_ps(neg_inf, _mm256_load_ps(si + 8 * v), live[v]);
        _mm256_store_ps(si + 8 * v, sv);
        mx = _mm256_max_ps(mx, sv);
      }
    }
    float m_old = qb->m[i];
    __m256 mn = _mm256_max_ps(allmax_ps256(mx), _mm256_set1_ps(m_old));
    float m_new = _mm256_cvtss_f32(mn);
    __m256 sum0 = _mm256_setzero_ps(), sum1 = _mm256_setzero_ps();
    for (int v = 0; v < KB / 8; v += 2) {
      __m256 p0 = nala_exp_softmax_ps256(_mm256_sub_ps(_mm256_load_ps(si + 8 * v), mn));
      __m256 p1 = nala_exp_softmax_ps256(_mm256_sub_ps(_mm256_load_ps(si + 8 * v + 8), mn));
      _mm256_store_ps(si + 8 * v, p0);
      _mm256_store_ps(si + 8 * v + 8, p1);
      sum0 = _mm256_add_ps(sum0, p0);
      sum1 = _mm256_add_ps(sum1, p1);
    }
    __m256 sum = _mm256_add_ps(sum0, sum1);
    float *li = qb->l + (size_t)i * 8;
    if (m_new == m_old) { /* NaN != NaN: a NaN maximum takes the exponential path */
      _mm256_store_ps(li, _mm256_add_ps(_mm256_load_ps(li), sum));
      qb->alpha[i] = 1.0f;
    } else {
      __m256 al = nala_exp_softmax_ps256(_mm256_sub_ps(_mm256_set1_ps(m_old), mn));
      _mm256_store_ps(li, _mm256_fmadd_ps(_mm256_load_ps(li), al, sum));
      qb->alpha[i] = _mm256_cvtss_f32(al);
      qb->m[i] = m_new;
    }
  }
}

static void attend_block(const nala_attn_args *a, int h, int q0, const float *kt, const float *vp, int npad,
                         query_block *qb) {
  int d = a->d, D8 = d / 8, N = a->N, rows = N - q0 < QB ? N - q0 : QB;
  /* tiles run over whole groups of 6 rows; the padding rows have zero queries, so their scores
   * and P V stay finite and are never stored */
  int groups = (rows + TILE_ROWS - 1) / TILE_ROWS;
  __m256 scale = _mm256_set1_ps((float)(1.0 / sqrt((double)d)));
  memset(qb->qs, 0, sizeof(float) * QB * d);
  for (int i = 0; i < rows; i++) {
    float *qi = qb->qs + (size_t)i * d;
    nala_rope_vec_avx2(a->q + (size_t)(q0 + i) * a->ld_qk + (size_t)h * d, qi, D8, nala_rope_rows_of(a->rope, q0 + i));
    for (int c = 0; c < D8; c++) /* PyTorch scales the RoPE'd q before the matmul */
      _mm256_store_ps(qi + 8 * c, _mm256_mul_ps(scale, _mm256_load_ps(qi + 8 * c)));
  }
  memset(qb->o, 0, sizeof(float) * QB * d);
  memset(qb->l, 0, sizeof(float) * QB * 8);
  for (int i = 0; i < QB; i++)
    qb->m[i] = -INFINITY, qb->alpha[i] = 1.0f;
  const float *vh = vp + (size_t)h * npad * d;
  for (int k0 = 0; k0 < N; k0 += KB) {
    int nk = N - k0 < KB ? N - k0 : KB;
    const float *ktb = kt + ((size_t)h * npad + k0) * d;
    const float *vb = vh + (size_t)k0 * d;
    /* the next block's key and value lines, a share per row group of this block */
    int nk_next = N - k0 - KB <= 0 ? 0 : N - k0 - KB < KB ? N - k0 - KB : KB;
    int klines = nk_next ? KB * d / 16 : 0, kshare = (klines + groups - 1) / groups;
    int vlines = nk_next * (d / 16), vshare = (vlines + groups - 1) / groups;
    for (int g = 0; g < groups; g++) {
      prefetch_keys(ktb + (size_t)KB * d, g * kshare, g * kshare + kshare < klines ? g * kshare + kshare : klines);
      for (int j0 = 0; j0 < KB; j0 += 16)
        score_tile(qb->qs + (size_t)g * TILE_ROWS * d, ktb + j0, qb->s + (size_t)g * TILE_ROWS * KB + j0, d);
    }
    softmax_block(qb, rows, nk);
    for (int g = 0; g < groups; g++) {
      prefetch_values(vb + (size_t)KB * d, (size_t)d, d / 16, g * vshare,
                      g * vshare + vshare < vlines ? g * vshare + vshare : vlines);
      int i0 = g * TILE_ROWS;
      for (int c0 = 0; c0 < d; c0 += 16)
        pv_tile(qb->s + (size_t)i0 * KB, vb + c0, (size_t)d, nk, qb->alpha + i0, qb->o + (size_t)i0 * d + c0, d);
    }
  }
  for (int i = 0; i < rows; i++) {
    float *out = a->out + (size_t)(q0 + i) * a->ld_out + (size_t)h * d;
    __m256 l = _mm256_set1_ps(hsum_ps256(_mm256_load_ps(qb->l + (size_t)i * 8)));
    for (int c = 0; c < D8; c++)
      _mm256_storeu_ps(out + 8 * c, _mm256_div_ps(_mm256_load_ps(qb->o + (size_t)i * d + 8 * c), l));
  }
}

nala_status nala_attn_softmax_avx2(const nala_attn_args *a) {
  NALA_CHECK(nala_attn_args_check(a, "nala_attn_softmax_avx2"));
  NALA_CHECK(nala_attn_ws_check(a, nala_attn_softmax_ws_floats(a->N, a->heads, a->d, a->nthreads),
                                "nala_attn_softmax_avx2"));
  if (a->d % 32 || a->d > 128) /* RoPE halves of whole vectors, 16-feature P V tiles, kr[128] */
    return nala_attn_softmax_ref(a);
  int d = a->d, nt = nala_attn_threads(a);
  int npad = (a->N + KB - 1) / KB * KB, nqb = (a->N + QB - 1) / QB;
  float *kt = nala_ws_align(a->ws);
  float *vp = kt + (size_t)a->heads * npad * d;
  float *thread_base = vp + (size_t)a->heads * npad * d;
  size_t per_thread = per_thread_floats(d);
#pragma omp parallel num_threads(nt)
  {
    float *base = thread_base + (size_t)omp_get_thread_num() * per_thread;
    float *l = base + (size_t)QB * (2 * d + KB); /* 32-byte aligned: QB and d are multiples of 8 */
    query_block qb = {base, base + (size_t)QB * d, base + (size_t)QB * (d + KB), l, l + (size_t)QB * 8,
                      l + (size_t)QB * 9};
    build_keys(a, kt, vp, npad); /* ends with the barrier of its omp for */
#pragma omp for schedule(dynamic, 1)
    for (long long hb = 0; hb < (long long)a->heads * nqb; hb++)
      attend_block(a, (int)(hb / nqb), (int)(hb % nqb) * QB, kt, vp, npad, &qb);
  }
  return NALA_OK;
}
