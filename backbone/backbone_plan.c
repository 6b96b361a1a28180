/* Planning a backbone forward into a graph: workspace regions, oneDNN layers, RoPE tables, and
 * the LayerNorm / attention kernels as {fn, args} ops. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/internal.h"
#include "core/kernels/rope.h"

#define FS sizeof(float)

static size_t align_up(size_t n) { return (n + NALA_GRAPH_ALIGN - 1) / NALA_GRAPH_ALIGN * NALA_GRAPH_ALIGN; }
static int half_up(int n) { return (n + 1) / 2; }
static int min_int(int a, int b) { return a < b ? a : b; }

/* Profiling buckets, in the order nala_backbone_profile reports them. */
enum { PROF_CONV, PROF_DWCONV, PROF_LINEAR, PROF_NORM, PROF_ATTN_L, PROF_ATTN_V, PROF_COUNT };
static const char *const bucket_names[PROF_COUNT] = {"stem+downsample convs", "depthwise convs", "linears",
                                                     "layernorm+gate", "nala attention", "softmax attention"};

typedef struct builder {
  const nala_backbone *m;
  nala_graph *g;
  int bucket[PROF_COUNT];
  size_t band_bytes; /* BAND_BYTES, or 0 (whole maps) under NALA_BANDS=0 */
  nala_err *err;
} builder;

/* Kernel ops: offsets are workspace bytes. */
typedef struct ln_args {
  nala_ln_fn fn;
  const nala_ln *ln;
  size_t src, dst;
  int rows;
} ln_args;

static nala_status run_ln(const void *p, char *ws, int nthreads, nala_err *err) {
  (void)err;
  const ln_args *a = p;
  a->fn(a->ln, (const float *)(ws + a->src), a->ln->c, (float *)(ws + a->dst), a->ln->c, a->rows, nthreads);
  return NALA_OK;
}

/* dst = LN(att + lepe) * gate */
typedef struct ln_gate_args {
  nala_ln_gate_fn fn;
  const nala_ln *ln;
  size_t att, lepe, gate, dst;
  int rows;
} ln_gate_args;

static nala_status run_ln_gate(const void *p, char *ws, int nthreads, nala_err *err) {
  (void)err;
  const ln_gate_args *a = p;
  int c = a->ln->c;
  a->fn(a->ln, (const float *)(ws + a->att), (const float *)(ws + a->lepe), c, (const float *)(ws + a->gate), c,
        (float *)(ws + a->dst), c, a->rows, nthreads);
  return NALA_OK;
}

typedef struct attn_args {
  nala_attn_fn fn;
  const nala_rope *rope;
  size_t qk, v, out, ws_off, ws_floats;
  int n, heads, dim, head_dim;
} attn_args;

static nala_status run_attn(const void *p, char *ws, int nthreads, nala_err *err) {
  const attn_args *a = p;
  const float *qk = (const float *)(ws + a->qk);
  nala_attn_args k = {.q = qk, .k = qk + a->dim, .v = (const float *)(ws + a->v), .ld_qk = 2 * a->dim,
                      .ld_v = a->dim, .out = (float *)(ws + a->out), .ld_out = a->dim, .N = a->n, .heads = a->heads,
                      .d = a->head_dim, .rope = a->rope, .ws = (float *)(ws + a->ws_off), .ws_floats = a->ws_floats,
                      .nthreads = nthreads, .err = err};
  return a->fn(&k);
}

static nala_status conv(builder *b, const nala_layer *L, int h, int w, size_t src, size_t dst, int posts) {
  return nala_conv_op(b->g, L, h, w, src, 0, dst, 0, posts, b->bucket[L->conv.groups > 1 ? PROF_DWCONV : PROF_CONV],
                      b->err);
}

static nala_status linear(builder *b, const nala_layer *L, int rows, size_t src, size_t dst, int posts) {
  return nala_linear_op(b->g, L, rows, src, 0, dst, 0, posts, b->bucket[PROF_LINEAR], b->err);
}

/* dst = GELU(L(src)) on rows tokens: our GELU right after the linear, on its output while that is
 * still in cache (a band of rows, or a stage-3/4 map of at most 4 MB); core/nn/gelu.h says why not
 * oneDNN's post-op. Counted with the linears, where the post-op was. */
static nala_status linear_gelu(builder *b, const nala_layer *L, int rows, size_t src, size_t dst) {
  NALA_CHECK(linear(b, L, rows, src, dst, 0));
  return nala_gelu_op(b->g, b->m->gelu, dst, (size_t)rows * L->out, b->bucket[PROF_LINEAR], b->err);
}

static nala_status ln(builder *b, const nala_ln *ln, int rows, size_t src, size_t dst) {
  ln_args a = {b->m->norm.ln, ln, src, dst, rows};
  return nala_graph_add_kernel(b->g, run_ln, &a, sizeof a, b->bucket[PROF_NORM], b->err);
}

/* Workspace regions shared by every stage (sized for the largest). */
typedef struct layout {
  size_t x[2], a, work, attn_ws, attn_ws_floats;
  const nala_rope *rope[4];
} layout;

/* Blocks run in bands of image rows (build_block_banded) of about this many bytes of the FFN's
 * hidden map (4x the block's channels), and only on maps whose hidden map is more than twice that:
 * smaller ones stay in cache whole, and more ops only add overhead (~9 us per oneDNN op at 1
 * thread). At 512x512 that bands stages 1 (8 bands) and 2 (4 bands). NALA_BANDS=0 in the
 * environment plans whole maps (for comparisons: the output is the same up to rounding). */
#define BAND_BYTES ((size_t)2 << 20)

/* Image rows per band on an h x w map of a stage with ffn hidden channels (h: the whole map);
 * band_bytes 0: whole maps. */
static int band_rows(int h, int w, int ffn, size_t band_bytes) {
  size_t row = (size_t)w * ffn * FS;
  if (!band_bytes || row * h <= 2 * band_bytes)
    return h;
  int rows = (int)(band_bytes / row);
  return rows < 1 ? 1 : rows > h ? h : rows;
}

/* Where a block's maps live in the work region. Banded (rows < h): g, lepe and attn first, then
 * q|k and v, which are dead once the attention has run, so the FFN's hidden map h1 can start
 * there while the rows of g, lepe and attn below the current band are still to be read; then one
 * band of the depthwise conv's output (h2). Whole maps: h1 and h2 from the start of the region
 * (the attention phase is over before the FFN starts). */
typedef struct block_maps {
  size_t g, lepe, att, qk, v, h1, h2;
} block_maps;

static block_maps block_maps_at(size_t work, int n, int C, int F, int rows, int h) {
  size_t map = align_up((size_t)n * C * FS);
  block_maps M;
  M.g = work, M.lepe = M.g + map, M.att = M.lepe + map, M.qk = M.att + map;
  M.v = M.qk + align_up(2 * (size_t)n * C * FS);
  M.h1 = rows < h ? M.qk : work;
  M.h2 = M.h1 + align_up((size_t)n * F * FS);
  return M;
}

/* Floats of the work region a stage needs on an h x w map (block_maps_at), alignment aside. */
static size_t stage_work_floats(const nala_stage *S, int h, int w, size_t band_bytes) {
  int rows = band_rows(h, w, S->ffn, band_bytes);
  size_t n = (size_t)h * w, C = (size_t)S->dim, F = (size_t)S->ffn, attn = 6 * n * C;
  size_t ffn = rows < h ? 3 * n * C + (n + (size_t)rows * w) * F : 2 * n * F;
  return attn > ffn ? attn : ffn;
}

static nala_status attention_op(builder *b, const layout *L, int si, const nala_block *B, const block_maps *M,
                                int n) {
  const nala_stage *S = &b->m->stages[si];
  attn_args aa = {B->flag == 'l' ? b->m->attn_linear : b->m->attn_softmax, L->rope[si], M->qk, M->v, M->att,
                  L->attn_ws, L->attn_ws_floats, n, S->heads, S->dim, S->head_dim};
  int attn_bucket = b->bucket[B->flag == 'l' ? PROF_ATTN_L : PROF_ATTN_V];
  return nala_graph_add_kernel(b->g, run_attn, &aa, sizeof aa, attn_bucket, b->err);
}

/* dst rows [r0, r1) = LN(attn + lepe) * g */
static nala_status ln_gate_op(builder *b, const nala_block *B, const block_maps *M, int r0, int r1, int w, int C,
                              size_t dst) {
  size_t at = (size_t)r0 * w * C * FS;
  ln_gate_args ga = {b->m->norm.ln_gate, &B->attn_ln, M->att + at, M->lepe + at, M->g + at, dst + at, (r1 - r0) * w};
  return nala_graph_add_kernel(b->g, run_ln_gate, &ga, sizeof ga, b->bucket[PROF_NORM], b->err);
}

/* A block on whole maps, one op after another (maps that fit in L2). */
static nala_status build_block_whole(builder *b, const layout *L, int si, const nala_block *B, const block_maps *M,
                                     int h, int w, size_t x, size_t xo) {
  int n = h * w;
  /* x + cpe1(x) (residual folded into the weights) into the other buffer: a conv cannot run in place */
  NALA_CHECK(conv(b, &B->cpe1, h, w, x, xo, 0));
  NALA_CHECK(ln(b, &B->norm1, n, xo, L->a));
  NALA_CHECK(linear(b, &B->qk, n, L->a, M->qk, 0));
  NALA_CHECK(linear(b, &B->v, n, L->a, M->v, 0));
  NALA_CHECK(linear(b, &B->g, n, L->a, M->g, NALA_POST_SWISH));
  NALA_CHECK(conv(b, &B->lepe, h, w, M->v, M->lepe, 0));
  NALA_CHECK(attention_op(b, L, si, B, M, n));
  NALA_CHECK(ln_gate_op(b, B, M, 0, h, w, b->m->stages[si].dim, L->a));
  NALA_CHECK(linear(b, &B->out_proj, n, L->a, xo, NALA_POST_SUM));
  NALA_CHECK(conv(b, &B->cpe2, h, w, xo, x, 0));
  NALA_CHECK(ln(b, &B->norm2, n, x, L->a));
  NALA_CHECK(linear_gelu(b, &B->fc1, n, L->a, M->h1));
  NALA_CHECK(conv(b, &B->ffn_dw, h, w, M->h1, M->h2, 0));
  return linear(b, &B->fc2, n, M->h2, x, NALA_POST_SUM);
}

/* The same block in bands of image rows, so that what one op writes the next reads from L2 rather
 * than memory (the large maps of stages 1-3). Each op runs on the rows the next one needs that it
 * has not computed yet: an op feeding a k x k conv runs k/2 rows ahead of it (the halo), computed
 * once and kept for the next band. The attention kernel alone needs whole maps (its sums run over
 * every token), which splits the block in two chains:
 *   x -> cpe1 -> xo -> norm1 -> a -> q|k, v, g (SiLU); v -> lepe (5x5: 2 rows of halo)
 *   attn, lepe, g -> ln_gate -> a -> out_proj (+= xo) -> cpe2 -> x -> norm2 -> a -> fc1 (GELU) -> h1
 *     -> dw -> h2 (one band) -> fc2 (+= x)
 * a serves the three LayerNorms: every row is consumed before a later op writes it (ln_gate and
 * out_proj run ahead of norm2 and fc1). Inputs are read before they are written: cpe1 reads x,
 * which nothing writes in the first chain; norm2 reads rows of x that fc2, behind it, has not
 * summed into yet. */
static nala_status build_block_banded(builder *b, const layout *L, int si, const nala_block *B,
                                      const block_maps *M, int h, int w, int rows, size_t x, size_t xo) {
  int C = b->m->stages[si].dim, dw = b->bucket[PROF_DWCONV];
  size_t crow = (size_t)w * C * FS, frow = (size_t)w * b->m->stages[si].ffn * FS;
  int pre = 0; /* rows of xo, a, q|k, v, g done */
  for (int r0 = 0; r0 < h; r0 += rows) {
    int r1 = min_int(r0 + rows, h), need = min_int(r1 + B->lepe.conv.k / 2, h);
    if (need > pre) { /* the last band's halo may have come with the band before */
      int m = (need - pre) * w;
      size_t at = (size_t)pre * crow;
      NALA_CHECK(nala_conv_op_rows(b->g, &B->cpe1, h, w, pre, need, x, xo + at, 0, dw, b->err));
      NALA_CHECK(ln(b, &B->norm1, m, xo + at, L->a + at));
      NALA_CHECK(linear(b, &B->qk, m, L->a + at, M->qk + 2 * at, 0));
      NALA_CHECK(linear(b, &B->v, m, L->a + at, M->v + at, 0));
      NALA_CHECK(linear(b, &B->g, m, L->a + at, M->g + at, NALA_POST_SWISH));
      pre = need;
    }
    NALA_CHECK(nala_conv_op_rows(b->g, &B->lepe, h, w, r0, r1, M->v, M->lepe + r0 * crow, 0, dw, b->err));
  }
  NALA_CHECK(attention_op(b, L, si, B, M, h * w));
  int proj = 0, cpe = 0, fc1 = 0; /* rows of xo (ln_gate + out_proj), x (cpe2), h1 (norm2 + fc1) done */
  for (int r0 = 0; r0 < h; r0 += rows) {
    int r1 = min_int(r0 + rows, h), need_fc1 = min_int(r1 + B->ffn_dw.conv.k / 2, h);
    int need_proj = min_int(need_fc1 + B->cpe2.conv.k / 2, h);
    if (need_proj > proj) {
      NALA_CHECK(ln_gate_op(b, B, M, proj, need_proj, w, C, L->a));
      NALA_CHECK(linear(b, &B->out_proj, (need_proj - proj) * w, L->a + proj * crow, xo + proj * crow,
                        NALA_POST_SUM));
      proj = need_proj;
    }
    if (need_fc1 > cpe) {
      NALA_CHECK(nala_conv_op_rows(b->g, &B->cpe2, h, w, cpe, need_fc1, xo, x + cpe * crow, 0, dw, b->err));
      cpe = need_fc1;
    }
    if (need_fc1 > fc1) {
      NALA_CHECK(ln(b, &B->norm2, (need_fc1 - fc1) * w, x + fc1 * crow, L->a + fc1 * crow));
      NALA_CHECK(linear_gelu(b, &B->fc1, (need_fc1 - fc1) * w, L->a + fc1 * crow, M->h1 + fc1 * frow));
      fc1 = need_fc1;
    }
    NALA_CHECK(nala_conv_op_rows(b->g, &B->ffn_dw, h, w, r0, r1, M->h1, M->h2, 0, dw, b->err));
    NALA_CHECK(linear(b, &B->fc2, (r1 - r0) * w, M->h2, x + r0 * crow, NALA_POST_SUM));
  }
  return NALA_OK;
}

/* One block: x (L->x[cur]) -> cpe1 -> the other buffer -> ... -> cpe2 -> back into x's buffer (the
 * block's output is where its input was). */
static nala_status build_block(builder *b, const layout *L, int si, int bi, int h, int w, int cur) {
  const nala_stage *S = &b->m->stages[si];
  const nala_block *B = &S->blocks[bi];
  int rows = band_rows(h, w, S->ffn, b->band_bytes);
  block_maps M = block_maps_at(L->work, h * w, S->dim, S->ffn, rows, h);
  size_t x = L->x[cur], xo = L->x[1 - cur];
  if (rows >= h)
    return build_block_whole(b, L, si, B, &M, h, w, x, xo);
  return build_block_banded(b, L, si, B, &M, h, w, rows, x, xo);
}

/* RoPE tables of every stage, owned by the plan. */
static nala_status build_rope(builder *b, const int *hs, const int *ws, nala_rope rope[4]) {
  const nala_backbone *m = b->m;
  size_t total = 0;
  for (int si = 0; si <= m->last_stage; si++)
    total += nala_rope_tables_floats(hs[si], ws[si], m->stages[si].head_dim);
  float *buf = nala_graph_alloc(b->g, total * FS, b->err);
  if (!buf)
    return NALA_E_NOMEM;
  for (int si = 0; si <= m->last_stage; si++) {
    int d = m->stages[si].head_dim;
    nala_rope_build(hs[si], ws[si], d, m->stages[si].angle, buf, &rope[si]);
    buf += nala_rope_tables_floats(hs[si], ws[si], d);
  }
  return NALA_OK;
}

nala_status nala_backbone_plan_graph(const nala_backbone *m, nala_graph *g, const nala_feat *input,
                                     nala_feat levels[4], nala_err *err) {
  const char *bands = getenv("NALA_BANDS");
  builder b = {.m = m, .g = g, .band_bytes = bands && !strcmp(bands, "0") ? 0 : BAND_BYTES, .err = err};
  for (int i = 0; i < PROF_COUNT; i++)
    b.bucket[i] = nala_graph_bucket(g, bucket_names[i]);
  int h = input->h, w = input->w;
  int c0 = m->cfg.embed_dims[0], half = c0 / 2;
  int hs[4], ws[4];
  int h1 = half_up(h), w1 = half_up(w);
  hs[0] = half_up(h1), ws[0] = half_up(w1);
  for (int i = 1; i < 4; i++)
    hs[i] = half_up(hs[i - 1]), ws[i] = half_up(ws[i - 1]);

  size_t max_xc = 0, max_work = 2 * (size_t)h1 * w1 * half, max_attn_ws = 0;
  for (int si = 0; si <= m->last_stage; si++) {
    const nala_stage *S = &m->stages[si];
    size_t n = (size_t)hs[si] * ws[si];
    if (n * S->dim > max_xc)
      max_xc = n * S->dim;
    if (si < m->last_stage && (size_t)hs[si + 1] * ws[si + 1] * m->stages[si + 1].dim > max_xc)
      max_xc = (size_t)hs[si + 1] * ws[si + 1] * m->stages[si + 1].dim;
    size_t wk = stage_work_floats(S, hs[si], ws[si], b.band_bytes);
    if (wk > max_work)
      max_work = wk;
    /* the attention workspace of the kernels this stage's blocks run only (softmax's holds a copy of
     * the RoPE'd keys: 4 MB at stage 1 of a 512x512 input, which runs NaLa) */
    int linear = 0, softmax = 0;
    for (int bi = 0; bi < S->depth; bi++) {
      if (S->blocks[bi].flag == 'l')
        linear = 1;
      else
        softmax = 1;
    }
    size_t aw = linear ? nala_attn_linear_ws_floats((int)n, S->heads, S->head_dim, g->nthreads) : 0;
    size_t sw = softmax ? nala_attn_softmax_ws_floats((int)n, S->heads, S->head_dim, g->nthreads) : 0;
    if (aw > max_attn_ws)
      max_attn_ws = aw;
    if (sw > max_attn_ws)
      max_attn_ws = sw;
  }
  layout L = {0};
  L.x[0] = nala_graph_region(g, max_xc * FS);
  L.x[1] = nala_graph_region(g, max_xc * FS);
  L.a = nala_graph_region(g, max_xc * FS);
  L.work = nala_graph_region(g, (max_work + 6 * NALA_GRAPH_ALIGN / FS) * FS);
  L.attn_ws = nala_graph_region(g, max_attn_ws * FS);
  L.attn_ws_floats = max_attn_ws;
  for (int si = 0; si < 4; si++) {
    levels[si] = (nala_feat){.c = m->stages[si].dim, .h = hs[si], .w = ws[si], .off = SIZE_MAX};
    if (m->want[si])
      levels[si].off = nala_graph_region(g, (size_t)hs[si] * ws[si] * m->stages[si].dim * FS);
  }
  nala_rope *rope = nala_graph_alloc(g, 4 * sizeof *rope, err);
  if (!rope)
    return NALA_E_NOMEM;
  NALA_CHECK(build_rope(&b, hs, ws, rope));
  for (int si = 0; si < 4; si++)
    L.rope[si] = &rope[si];

  /* Stem: conv-BN-GELU x3 at stride 2, 1, 1, then conv-BN at stride 2, ping-ponging in work. */
  size_t sa = L.work, sb = L.work + align_up((size_t)h1 * w1 * half * FS);
  /* The stem keeps oneDNN's GELU post-op: its 8 MB maps do not stay in cache for a separate
   * pass (measured 1-2 ms slower at 512x512 with our kernel after the conv). */
  NALA_CHECK(conv(&b, &m->stem[0], h, w, input->off, sa, NALA_POST_GELU));
  NALA_CHECK(conv(&b, &m->stem[1], h1, w1, sa, sb, NALA_POST_GELU));
  NALA_CHECK(conv(&b, &m->stem[2], h1, w1, sb, sa, NALA_POST_GELU));
  NALA_CHECK(conv(&b, &m->stem[3], h1, w1, sa, L.x[0], 0));
  int cur = 0;
  for (int si = 0; si <= m->last_stage; si++) {
    const nala_stage *S = &m->stages[si];
    for (int bi = 0; bi < S->depth; bi++)
      NALA_CHECK(build_block(&b, &L, si, bi, hs[si], ws[si], cur));
    if (m->want[si])
      NALA_CHECK(ln(&b, &S->extra_norm, hs[si] * ws[si], L.x[cur], levels[si].off));
    if (si < m->last_stage) {
      NALA_CHECK(conv(&b, &S->down, hs[si], ws[si], L.x[cur], L.x[1 - cur], 0));
      cur = 1 - cur;
    }
  }
  return NALA_OK;
}

int nala_backbone_profile(const nala_backbone_ctx *ctx, const char **names, double *ms, int max) {
  int n = 0;
  for (int k = 0; k < PROF_COUNT && n < max; k++, n++) {
    names[n] = bucket_names[k];
    ms[n] = ctx->nn.planned ? nala_graph_bucket_ms(&ctx->nn.graph, bucket_names[k]) : 0;
  }
  return n;
}
