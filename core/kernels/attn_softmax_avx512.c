/* AVX-512 RoPE softmax attention, flash-attention style (semantics in attention.h, scalar twin
 * in attn_softmax_ref.c).
 *
 * Dims, named once: N tokens, d head dim (32, 64, 96 or 128; others use the reference), D = d/16 vectors
 * per row, QB query rows x KB keys per block (attn_internal.h), nkb = ceil(N / KB).
 * Phase 1 stores the RoPE'd keys transposed per key block, kt [heads][nkb][d][KB] (zero past N),
 * so a score tile is QB broadcasts x KB/16 vector loads per feature. Phase 2, per (head, query
 * block): scores S = (d^-0.5 * RoPE(q)) kt for one key block at a time, online softmax (running
 * max m, running sum l, output rescaled by exp(m_old - m_new)), O += P V, and out = O / l at the
 * end. Memory is O(heads * N * d) plus QB x (2d + KB + 18) per thread, never N x N.
 * Scores and softmax are fused per 6-row register tile (score_softmax_tile); P V runs after all
 * tiles of a key block. Measured against the previous kernel (separate softmax pass, scalar
 * sums, 4-row tiles, 64-row blocks) in one process, alternating calls, min of 3-9 (1 thread,
 * d 64, CPU time, Xeon at load ~5-8 on 2 cores), GFLOP/s = 4 N^2 d heads / t:
 *            N x heads = 1,024 x 4   3,400 x 4   850 x 8   4,096 x 1   16,384 x 1
 *   before                   95.5        93.1      77.6       104.4         92.1
 *   after                   112.3       106.9      83.1       123.0        107.4
 * (x1.07-1.18; run to run the ratio moves by ~0.04 on that machine).
 * Tried and dropped: prefetching the next key and value blocks or the next query rows (no
 * change); P V per 6- or 24-row group right after its scores (same speed); 48 or 144 query rows
 * per block (48: -5%, 144: same); unrolling the tile loops by 2 (slower).
 * Accuracy: rel_l2 2.2e-7 vs PyTorch in fp64 at 4k tokens (before: 2.5e-7), <= 3.7e-7 vs the
 * double reference for d 32-128, thanks to per-block P V partial sums. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/kernels/attn_internal.h"
#include "core/kernels/avx512_math.h"

#define QB NALA_SM_QBLOCK
#define KB NALA_SM_KBLOCK
/* Query rows per register tile of both products at d = 64 (and of the scores at every d):
 * 6 rows x 4 vectors = 24 accumulators + 4 key/value vectors + 1 broadcast of 32 registers. */
#define TR 6

_Static_assert(QB % 24 == 0 && KB == 64, "query block: whole 6-row tiles and 8-row (d = 32) P V tiles");

typedef struct query_block {
  float *qs;   /* [QB][d] scaled, RoPE'd queries */
  float *s;    /* [QB][KB] scores, then weights */
  float *o;    /* [QB][d] unnormalised output */
  float *l;    /* [QB][16] running sums, 16 lanes per row */
  float *m, *alpha; /* [QB] running max, rescale of the current block */
} query_block;

/* r[i][j] <- r[j][i] for a 16 x 16 tile: unpack pairs of rows, then pairs of pairs, then two
 * rounds of 128-bit lane shuffles (64 shuffles for 256 floats). */
static inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]), c = _mm512_castps_pd(t[i + 2]),
            e = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, e));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, e));
  }
  /* each 128-bit lane now holds a 4 x 4 transposed block */
  for (int i = 0; i < 4; i++) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
  }
  for (int i = 0; i < 8; i++) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
}

/* Also copies the values to vp [heads][npad][d], contiguous per head: in place, the rows of one
 * head sit ld_v floats apart (1-2 KB in the backbone), so a key block's 64 rows fall into a
 * quarter or less of the L1 sets and P V reloaded them from L2 for every tile of query rows.
 * 16 keys at a time: their RoPE'd rows, then 16 x 16 transposes into kt, a vector store per
 * feature; one scalar store per feature and key took ~7% of the kernel at 1,024 tokens. */
static void build_keys(const nala_attn_args *a, float *kt, float *vp, int npad) {
  int d = a->d, D = d / 16, N = a->N, groups = npad / 16;
#pragma omp for schedule(static)
  for (long long hg = 0; hg < (long long)a->heads * groups; hg++) {
    int h = (int)(hg / groups), n0 = (int)(hg % groups) * 16;
    float *col = kt + ((size_t)h * npad + (size_t)(n0 / KB) * KB) * d + n0 % KB;
    float kr[16][128] __attribute__((aligned(64)));
    for (int j = 0; j < 16; j++) {
      int n = n0 + j;
      float *vrow = vp + ((size_t)h * npad + n) * d;
      if (n < N) {
        nala_rope_vec_avx512(a->k + (size_t)n * a->ld_qk + (size_t)h * d, kr[j], D, nala_rope_rows_of(a->rope, n));
        memcpy(vrow, a->v + (size_t)n * a->ld_v + (size_t)h * d, sizeof(float) * d);
      } else {
        memset(kr[j], 0, sizeof(float) * d);
        memset(vrow, 0, sizeof(float) * d);
      }
    }
    for (int c = 0; c < D; c++) {
      __m512 r[16];
      for (int j = 0; j < 16; j++)
        r[j] = _mm512_load_ps(kr[j] + 16 * c);
      transpose16(r);
      for (int i = 0; i < 16; i++)
        _mm512_storeu_ps(col + (size_t)(16 * c + i) * KB, r[i]);
    }
  }
}

/* The maximum of x's 16 lanes, in every lane: a butterfly of 4 shuffles, no scalar round trip. */
static inline __m512 allmax_ps(__m512 x) {
  x = _mm512_max_ps(x, _mm512_shuffle_f32x4(x, x, _MM_SHUFFLE(1, 0, 3, 2)));
  x = _mm512_max_ps(x, _mm512_shuffle_f32x4(x, x, _MM_SHUFFLE(2, 3, 0, 1)));
  x = _mm512_max_ps(x, _mm512_permute_ps(x, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm512_max_ps(x, _mm512_permute_ps(x, _MM_SHUFFLE(2, 3, 0, 1)));
}

/* Rows [i0, i0+TR) of one key block, scores and online softmax fused: S = qs rows . kt block in
 * TR rows x 4 vectors of accumulators, then, still in registers, the row maxima, the weights
 * P = exp(S - m_new) (stored to s for P V), the rescale alpha = exp(m_old - m_new) and the
 * running sums. The accumulators start from kbias[KB] (0 for a key, -inf past N), so the keys
 * past N score -inf and weigh 0 without a masked pass: masking the 24 accumulators made GCC
 * spill them, and the last key block alone cost ~4% of the kernel.
 * The sums stay 16-lane vectors per row (l[i][16], l = l * alpha + sum P), reduced once at the
 * end, and alpha is 1 without an exponential when the row maximum did not grow, which after the
 * first few blocks is nearly always: the separate pass this replaces spent ~24% of the kernel on
 * reloading scores, horizontal sums and per-row constants. */
static inline __attribute__((always_inline)) void score_softmax_tile(query_block *qb, const float *ktb, int i0,
                                                                     int d, const float *kbias) {
  __m512 acc[TR][4];
  __m512 b0 = _mm512_load_ps(kbias), b1 = _mm512_load_ps(kbias + 16), b2 = _mm512_load_ps(kbias + 32),
         b3 = _mm512_load_ps(kbias + 48);
#pragma GCC unroll 8
  for (int r = 0; r < TR; r++)
    acc[r][0] = b0, acc[r][1] = b1, acc[r][2] = b2, acc[r][3] = b3;
  const float *q0 = qb->qs + (size_t)i0 * d;
  for (int c = 0; c < d; c++) {
    const float *kc = ktb + (size_t)c * KB;
    __m512 k0 = _mm512_load_ps(kc), k1 = _mm512_load_ps(kc + 16), k2 = _mm512_load_ps(kc + 32),
           k3 = _mm512_load_ps(kc + 48);
#pragma GCC unroll 8
    for (int r = 0; r < TR; r++) {
      __m512 qv = _mm512_set1_ps(q0[(size_t)r * d + c]);
      acc[r][0] = _mm512_fmadd_ps(qv, k0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(qv, k1, acc[r][1]);
      acc[r][2] = _mm512_fmadd_ps(qv, k2, acc[r][2]);
      acc[r][3] = _mm512_fmadd_ps(qv, k3, acc[r][3]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < TR; r++) {
    int i = i0 + r;
    float m_old = qb->m[i];
    /* max(m_old, row max): a NaN score, which max drops, still reaches the sum through its
     * own weight exp(NaN) = NaN, so the row ends NaN as in the reference */
    __m512 mx = allmax_ps(_mm512_max_ps(_mm512_max_ps(acc[r][0], acc[r][1]), _mm512_max_ps(acc[r][2], acc[r][3])));
    __m512 mn = _mm512_max_ps(mx, _mm512_set1_ps(m_old));
    float m_new = _mm512_cvtss_f32(mn);
    float *si = qb->s + (size_t)i * KB;
    __m512 p0 = nala_exp_softmax_ps(_mm512_sub_ps(acc[r][0], mn));
    __m512 p1 = nala_exp_softmax_ps(_mm512_sub_ps(acc[r][1], mn));
    __m512 p2 = nala_exp_softmax_ps(_mm512_sub_ps(acc[r][2], mn));
    __m512 p3 = nala_exp_softmax_ps(_mm512_sub_ps(acc[r][3], mn));
    _mm512_store_ps(si, p0);
    _mm512_store_ps(si + 16, p1);
    _mm512_store_ps(si + 32, p2);
    _mm512_store_ps(si + 48, p3);
    __m512 sum = _mm512_add_ps(_mm512_add_ps(p0, p1), _mm512_add_ps(p2, p3));
    float *li = qb->l + (size_t)i * 16;
    if (m_new == m_old) { /* NaN != NaN: a NaN maximum takes the exponential path */
      _mm512_store_ps(li, _mm512_add_ps(_mm512_load_ps(li), sum));
      qb->alpha[i] = 1.0f;
    } else {
      __m512 al = nala_exp_softmax_ps(_mm512_sub_ps(_mm512_set1_ps(m_old), mn));
      _mm512_store_ps(li, _mm512_fmadd_ps(_mm512_load_ps(li), al, sum));
      qb->alpha[i] = _mm512_cvtss_f32(al);
      qb->m[i] = m_new;
    }
  }
}

/* O rows [i0, i0+R) = O * alpha + P V over nk keys: R rows x D vectors of accumulators. */
static inline __attribute__((always_inline)) void pv_tile(query_block *qb, const float *vb, int nk,
                                                          int i0, int d, const int D, const int R) {
  /* the block's P V starts from zero and is added to the rescaled O at the end: two-level sums
   * (within a block, then across blocks) instead of one fp32 chain over all N keys */
  __m512 acc[24];
#pragma GCC unroll 24
  for (int i = 0; i < R * D; i++)
    acc[i] = _mm512_setzero_ps();
  for (int j = 0; j < nk; j++) {
    __m512 vv[8];
#pragma GCC unroll 8
    for (int c = 0; c < D; c++)
      vv[c] = _mm512_load_ps(vb + (size_t)j * d + 16 * c);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      __m512 p = _mm512_set1_ps(qb->s[(size_t)(i0 + r) * KB + j]);
#pragma GCC unroll 8
      for (int c = 0; c < D; c++)
        acc[r * D + c] = _mm512_fmadd_ps(p, vv[c], acc[r * D + c]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) {
    __m512 al = _mm512_set1_ps(qb->alpha[i0 + r]);
#pragma GCC unroll 8
    for (int c = 0; c < D; c++) {
      float *o = qb->o + (size_t)(i0 + r) * d + 16 * c;
      _mm512_store_ps(o, _mm512_fmadd_ps(_mm512_load_ps(o), al, acc[r * D + c]));
    }
  }
}

/* P V of rows [g0, g1), in the tile shape of head dim 16 * D: rows x D accumulators fill 16-24
 * of the 32 registers. */
static inline __attribute__((always_inline)) void pv_rows(query_block *qb, const float *vb, int nk, int g0, int g1,
                                                          int d, int D) {
  switch (D) {
  case 2:
    for (int i0 = g0; i0 < g1; i0 += 8)
      pv_tile(qb, vb, nk, i0, d, 2, 8);
    break;
  case 4:
    for (int i0 = g0; i0 < g1; i0 += TR)
      pv_tile(qb, vb, nk, i0, d, 4, TR);
    break;
  case 6:
    for (int i0 = g0; i0 < g1; i0 += 2)
      pv_tile(qb, vb, nk, i0, d, 6, 2);
    break;
  default:
    for (int i0 = g0; i0 < g1; i0 += 2)
      pv_tile(qb, vb, nk, i0, d, 8, 2);
  }
}

static void attend_block(const nala_attn_args *a, int h, int q0, const float *kt, const float *vp, int npad,
                         query_block *qb) {
  int d = a->d, D = d / 16, N = a->N, rows = N - q0 < QB ? N - q0 : QB;
  /* tiles run over whole groups of rows (24 for d = 32, a multiple of its 8-row P V tiles, else
   * 6); the padding rows have zero queries, so their scores stay finite and are never stored */
  int group = D == 2 ? 24 : TR, rows_pad = (rows + group - 1) / group * group;
  __m512 scale = _mm512_set1_ps((float)(1.0 / sqrt((double)d)));
  memset(qb->qs, 0, sizeof(float) * QB * d);
  for (int i = 0; i < rows; i++) {
    float *qi = qb->qs + (size_t)i * d;
    nala_rope_vec_avx512(a->q + (size_t)(q0 + i) * a->ld_qk + (size_t)h * d, qi, D, nala_rope_rows_of(a->rope, q0 + i));
    for (int c = 0; c < D; c++) /* PyTorch scales the RoPE'd q before the matmul */
      _mm512_store_ps(qi + 16 * c, _mm512_mul_ps(scale, _mm512_load_ps(qi + 16 * c)));
  }
  memset(qb->o, 0, sizeof(float) * QB * d);
  memset(qb->l, 0, sizeof(float) * QB * 16);
  for (int i = 0; i < QB; i++)
    qb->m[i] = -INFINITY, qb->alpha[i] = 1.0f;
  for (int k0 = 0; k0 < N; k0 += KB) {
    int nk = N - k0 < KB ? N - k0 : KB;
    const float *ktb = kt + ((size_t)h * npad + k0) * d;
    const float *vb = vp + ((size_t)h * npad + k0) * d; /* 64-byte aligned: d is a multiple of 32 */
    float kbias[KB] __attribute__((aligned(64)));
    for (int j = 0; j < KB; j++)
      kbias[j] = j < nk ? 0.0f : -INFINITY;
    for (int i0 = 0; i0 < rows_pad; i0 += TR)
      score_softmax_tile(qb, ktb, i0, d, kbias);
    pv_rows(qb, vb, nk, 0, rows_pad, d, D);
  }
  for (int i = 0; i < rows; i++) {
    float *out = a->out + (size_t)(q0 + i) * a->ld_out + (size_t)h * d;
    __m512 l = _mm512_set1_ps(_mm512_reduce_add_ps(_mm512_load_ps(qb->l + (size_t)i * 16)));
    for (int c = 0; c < D; c++)
      _mm512_storeu_ps(out + 16 * c, _mm512_div_ps(_mm512_load_ps(qb->o + (size_t)i * d + 16 * c), l));
  }
}

nala_status nala_attn_softmax_avx512(const nala_attn_args *a) {
  NALA_CHECK(nala_attn_args_check(a, "nala_attn_softmax_avx512"));
  NALA_CHECK(nala_attn_ws_check(a, nala_attn_softmax_ws_floats(a->N, a->heads, a->d, a->nthreads),
                                "nala_attn_softmax_avx512"));
  if (a->d % 32 || a->d > 128) /* RoPE halves of whole vectors, at most 8 vectors a row */
    return nala_attn_softmax_ref(a);
  int d = a->d, nt = nala_attn_threads(a);
  int npad = (a->N + KB - 1) / KB * KB, nqb = (a->N + QB - 1) / QB;
  float *kt = nala_ws_align(a->ws);
  float *vp = kt + (size_t)a->heads * npad * d;
  float *thread_base = vp + (size_t)a->heads * npad * d;
  size_t per_thread = nala_round16((size_t)QB * (2 * (size_t)d + KB + 18)); /* counted in attn_common.c */
#pragma omp parallel num_threads(nt)
  {
    float *base = thread_base + (size_t)omp_get_thread_num() * per_thread;
    float *l = base + (size_t)QB * (2 * d + KB); /* 64-byte aligned: QB and d are multiples of 16 */
    query_block qb = {base, base + (size_t)QB * d, base + (size_t)QB * (d + KB), l, l + (size_t)QB * 16,
                      l + (size_t)QB * 17};
    build_keys(a, kt, vp, npad); /* ends with the barrier of its omp for */
#pragma omp for schedule(dynamic, 1)
    for (long long hb = 0; hb < (long long)a->heads * nqb; hb++)
      attend_block(a, (int)(hb / nqb), (int)(hb % nqb) * QB, kt, vp, npad, &qb);
  }
  return NALA_OK;
}
