/* Planning a backbone forward for one input size: workspace layout, oneDNN primitives with their
 * memories pointing into the workspace, RoPE tables, and the flat list of steps forward runs. */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/internal.h"
#include "core/kernels/rope.h"

#define ALIGN_BYTES 64

static size_t align_up(size_t n) { return (n + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES; }

/* Byte offsets of the workspace regions; every region is 64-byte aligned. */
typedef struct layout {
  size_t cursor;
  size_t input, x[2], a, work, attn_ws, out[4]; /* the work region is split per stage in build_block */
} layout;

static size_t region(layout *L, size_t floats) {
  size_t off = L->cursor;
  L->cursor += align_up(floats * sizeof(float));
  return off;
}

static int half_up(int n) { return (n + 1) / 2; }

typedef struct builder {
  nala_backbone_ctx *ctx;
  int dry; /* only size things: no primitives kept */
  size_t max_scratch;
  nala_err *err;
} builder;

static nala_status push_op(builder *b, nala_op **out) {
  nala_backbone_ctx *ctx = b->ctx;
  if (ctx->n_ops == ctx->cap_ops) {
    int cap = ctx->cap_ops ? 2 * ctx->cap_ops : 64;
    nala_op *ops = realloc(ctx->ops, (size_t)cap * sizeof *ops);
    if (!ops)
      return nala_fail(b->err, NALA_E_NOMEM, "out of memory for the plan");
    ctx->ops = ops;
    ctx->cap_ops = cap;
  }
  *out = &ctx->ops[ctx->n_ops++];
  memset(*out, 0, sizeof **out);
  return NALA_OK;
}

/* Adds an activation memory (at workspace byte offset off), a model memory (off = NALA_MEM_MODEL)
 * or a memory the plan owns (off = NALA_MEM_PLAN). */
static nala_status add_arg(builder *b, nala_op *op, int arg, const dnnl_memory_desc_t *md, size_t off,
                           dnnl_memory_t given) {
  dnnl_memory_t mem = given;
  if (off < NALA_MEM_PLAN)
    NALA_DNNL(dnnl_memory_create(&mem, md, b->ctx->model->engine, DNNL_MEMORY_NONE), b->err);
  op->args[op->nargs].arg = arg;
  op->args[op->nargs].memory = mem;
  op->mem_off[op->nargs] = off;
  op->nargs++;
  return NALA_OK;
}

/* The weights memory a primitive wants: the model's, or (when this input size makes oneDNN pick
 * another format) a copy reordered at plan time and owned by the plan. */
static nala_status weights_for(builder *b, dnnl_primitive_desc_t pd, const nala_layer *layer, dnnl_memory_t *mem,
                               size_t *off) {
  const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  if (dnnl_memory_desc_equal(want, &layer->wmd)) {
    *mem = layer->w;
    *off = NALA_MEM_MODEL;
    return NALA_OK;
  }
  void *data = NULL;
  NALA_DNNL(dnnl_memory_get_data_handle(layer->w, &data), b->err);
  *off = NALA_MEM_PLAN;
  return nala_dnnl_reorder_new(b->ctx->model->engine, &layer->wmd, data, want, mem, b->err);
}

/* A oneDNN step src -> dst with the layer's weights; takes ownership of pd. */
static nala_status add_dnnl(builder *b, dnnl_primitive_desc_t pd, const nala_layer *layer, size_t src,
                            size_t dst, int prof) {
  const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  size_t scratch = sp ? dnnl_memory_desc_get_size(sp) : 0;
  if (scratch > b->max_scratch)
    b->max_scratch = scratch;
  if (b->dry) {
    dnnl_primitive_desc_destroy(pd);
    return NALA_OK;
  }
  nala_op *op;
  nala_status st = push_op(b, &op);
  if (st) {
    dnnl_primitive_desc_destroy(pd);
    return st;
  }
  op->kind = NALA_OP_DNNL;
  op->prof = prof;
  dnnl_status_t ds = dnnl_primitive_create(&op->prim, pd);
  if (ds != dnnl_success) {
    dnnl_primitive_desc_destroy(pd);
    op->prim = NULL;
    return nala_dnnl_status(ds, "dnnl_primitive_create", b->err);
  }
  nala_backbone_ctx *ctx = b->ctx;
  dnnl_memory_t wmem = NULL;
  size_t woff = NALA_MEM_MODEL;
  if (!(st = add_arg(b, op, DNNL_ARG_SRC, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), src, NULL)) &&
      !(st = add_arg(b, op, DNNL_ARG_DST, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), dst, NULL)) &&
      !(st = weights_for(b, pd, layer, &wmem, &woff)) &&
      !(st = add_arg(b, op, DNNL_ARG_WEIGHTS, NULL, woff, wmem)) &&
      !(st = add_arg(b, op, DNNL_ARG_BIAS, NULL, NALA_MEM_MODEL, layer->b)))
    st = add_arg(b, op, DNNL_ARG_SCRATCHPAD, sp, ctx->scratch_off, NULL);
  dnnl_primitive_desc_destroy(pd);
  return st;
}

/* Descriptor for a layer at this size: with the model's weights format when oneDNN has a fast
 * implementation for it, otherwise with the format oneDNN prefers here (weights_for reorders). */
static int is_reference_impl(dnnl_primitive_desc_t pd) { return !strncmp(nala_dnnl_impl(pd), "ref", 3); }

static nala_status conv_op(builder *b, const nala_layer *L, int h, int w, size_t src, size_t dst, int posts) {
  nala_conv_shape s = L->conv;
  s.h = h;
  s.w = w;
  dnnl_primitive_desc_t pd;
  NALA_CHECK(nala_conv_pd(b->ctx->model->engine, &s, &L->wmd, posts, &pd, b->err));
  if (is_reference_impl(pd)) {
    dnnl_primitive_desc_destroy(pd);
    NALA_CHECK(nala_conv_pd(b->ctx->model->engine, &s, NULL, posts, &pd, b->err));
  }
  return add_dnnl(b, pd, L, src, dst, s.groups > 1 ? NALA_PROF_DWCONV : NALA_PROF_CONV);
}

static nala_status linear_op(builder *b, const nala_layer *L, int rows, size_t src, size_t dst, int posts) {
  dnnl_primitive_desc_t pd;
  dnnl_engine_t eng = b->ctx->model->engine;
  NALA_CHECK(nala_matmul_pd(eng, rows, L->in, L->out, L->in, L->out, &L->wmd, posts, &pd, b->err));
  if (is_reference_impl(pd)) {
    dnnl_primitive_desc_destroy(pd);
    NALA_CHECK(nala_matmul_pd(eng, rows, L->in, L->out, L->in, L->out, NULL, posts, &pd, b->err));
  }
  return add_dnnl(b, pd, L, src, dst, NALA_PROF_LINEAR);
}

static nala_status ln_op(builder *b, const nala_ln *ln, int rows, size_t src, size_t dst) {
  if (b->dry)
    return NALA_OK;
  nala_op *op;
  NALA_CHECK(push_op(b, &op));
  op->kind = NALA_OP_LN;
  op->prof = NALA_PROF_NORM;
  op->ln = ln;
  op->rows = rows;
  op->cols = ln->c;
  op->src = src / sizeof(float);
  op->dst = dst / sizeof(float);
  op->ld_src = op->ld_dst = ln->c;
  return NALA_OK;
}

/* Bytes of the work region a stage needs: attention phase (q|k, v, g, lepe, attn) or FFN phase. */
static size_t stage_work_floats(const nala_stage *S, size_t n) {
  size_t attn = 6 * n * (size_t)S->dim, ffn = 2 * n * (size_t)S->ffn;
  return attn > ffn ? attn : ffn;
}

static nala_status build_block(builder *b, const layout *L, int si, int bi, int h, int w, int *cur) {
  nala_backbone_ctx *ctx = b->ctx;
  const nala_stage *S = &ctx->model->stages[si];
  const nala_block *B = &S->blocks[bi];
  int n = h * w, C = S->dim;
  size_t fs = sizeof(float), x = L->x[*cur], xo = L->x[1 - *cur];
  size_t qk = L->work, v = qk + align_up(2 * (size_t)n * C * fs), g = v + align_up((size_t)n * C * fs);
  size_t lepe = g + align_up((size_t)n * C * fs), att = lepe + align_up((size_t)n * C * fs);
  size_t h1 = L->work, h2 = h1 + align_up((size_t)n * S->ffn * fs);

  /* x = x + cpe1(x) (residual folded into the weights), written to the other buffer: a conv
   * cannot run in place. */
  NALA_CHECK(conv_op(b, &B->cpe1, h, w, x, xo, 0));
  *cur = 1 - *cur;
  x = L->x[*cur], xo = L->x[1 - *cur];
  NALA_CHECK(ln_op(b, &B->norm1, n, x, L->a));
  NALA_CHECK(linear_op(b, &B->qk, n, L->a, qk, 0));
  NALA_CHECK(linear_op(b, &B->v, n, L->a, v, 0));
  NALA_CHECK(linear_op(b, &B->g, n, L->a, g, NALA_POST_SWISH));
  NALA_CHECK(conv_op(b, &B->lepe, h, w, v, lepe, 0));
  if (!b->dry) {
    nala_op *op;
    NALA_CHECK(push_op(b, &op));
    op->kind = NALA_OP_ATTN;
    op->attn_flag = B->flag;
    op->prof = B->flag == 'l' ? NALA_PROF_ATTN_L : NALA_PROF_ATTN_V;
    op->stage = si;
    op->src = qk / fs;
    op->src2 = v / fs;
    op->dst = att / fs;
    op->rows = n;
    NALA_CHECK(push_op(b, &op));
    op->kind = NALA_OP_ATTN_EPILOGUE;
    op->prof = NALA_PROF_NORM;
    op->ln = &B->attn_ln;
    op->rows = n;
    op->cols = C;
    op->src = att / fs;
    op->src2 = lepe / fs;
    op->gate = g / fs;
    op->dst = L->a / fs;
    op->ld_src = op->ld_gate = op->ld_dst = C;
  }
  NALA_CHECK(linear_op(b, &B->out_proj, n, L->a, x, NALA_POST_SUM));
  NALA_CHECK(conv_op(b, &B->cpe2, h, w, x, xo, 0));
  *cur = 1 - *cur;
  x = L->x[*cur];
  NALA_CHECK(ln_op(b, &B->norm2, n, x, L->a));
  NALA_CHECK(linear_op(b, &B->fc1, n, L->a, h1, NALA_POST_GELU));
  NALA_CHECK(conv_op(b, &B->ffn_dw, h, w, h1, h2, 0));
  NALA_CHECK(linear_op(b, &B->fc2, n, h2, x, NALA_POST_SUM));
  return NALA_OK;
}

static nala_status build(builder *b, int h, int w) {
  nala_backbone_ctx *ctx = b->ctx;
  const nala_backbone *m = ctx->model;
  int c0 = m->cfg.embed_dims[0], half = c0 / 2;
  int hs[4], ws[4];
  int h1 = half_up(h), w1 = half_up(w);
  hs[0] = half_up(h1), ws[0] = half_up(w1);
  for (int i = 1; i < 4; i++)
    hs[i] = half_up(hs[i - 1]), ws[i] = half_up(ws[i - 1]);

  layout L = {0};
  size_t max_xc = 0, max_work = 2 * (size_t)h1 * w1 * half, max_attn_ws = 0;
  for (int si = 0; si <= m->last_stage; si++) {
    const nala_stage *S = &m->stages[si];
    size_t n = (size_t)hs[si] * ws[si];
    if (n * S->dim > max_xc)
      max_xc = n * S->dim;
    if (si < m->last_stage && (size_t)hs[si + 1] * ws[si + 1] * m->stages[si + 1].dim > max_xc)
      max_xc = (size_t)hs[si + 1] * ws[si + 1] * m->stages[si + 1].dim;
    size_t wk = stage_work_floats(S, n);
    if (wk > max_work)
      max_work = wk;
    size_t aw = nala_attn_linear_ws_floats((int)n, S->heads, S->head_dim, ctx->nthreads);
    size_t sw = nala_attn_softmax_ws_floats((int)n, S->heads, S->head_dim, ctx->nthreads);
    if (aw > max_attn_ws)
      max_attn_ws = aw;
    if (sw > max_attn_ws)
      max_attn_ws = sw;
  }
  L.input = region(&L, (size_t)h * w * 3);
  L.x[0] = region(&L, max_xc);
  L.x[1] = region(&L, max_xc);
  L.a = region(&L, max_xc);
  L.work = region(&L, max_work + 6 * ALIGN_BYTES / sizeof(float));
  L.attn_ws = region(&L, max_attn_ws);
  for (int si = 0; si < 4; si++) {
    ctx->levels[si].c = m->stages[si].dim;
    ctx->levels[si].h = hs[si];
    ctx->levels[si].w = ws[si];
    if (m->want[si])
      L.out[si] = region(&L, (size_t)hs[si] * ws[si] * m->stages[si].dim);
    ctx->levels[si].off = L.out[si] / sizeof(float);
  }
  ctx->input_off = L.input / sizeof(float);
  ctx->scratch_off = L.cursor;
  ctx->attn_ws_off = L.attn_ws / sizeof(float);
  ctx->attn_ws_floats = max_attn_ws;

  /* Stem: conv-BN-GELU x3 at stride 2, 1, 1, then conv-BN at stride 2, ping-ponging in work. */
  size_t sa = L.work, sb = L.work + align_up((size_t)h1 * w1 * half * sizeof(float));
  NALA_CHECK(conv_op(b, &m->stem[0], h, w, L.input, sa, NALA_POST_GELU));
  NALA_CHECK(conv_op(b, &m->stem[1], h1, w1, sa, sb, NALA_POST_GELU));
  NALA_CHECK(conv_op(b, &m->stem[2], h1, w1, sb, sa, NALA_POST_GELU));
  NALA_CHECK(conv_op(b, &m->stem[3], h1, w1, sa, L.x[0], 0));
  int cur = 0;
  for (int si = 0; si <= m->last_stage; si++) {
    const nala_stage *S = &m->stages[si];
    for (int bi = 0; bi < S->depth; bi++)
      NALA_CHECK(build_block(b, &L, si, bi, hs[si], ws[si], &cur));
    if (m->want[si])
      NALA_CHECK(ln_op(b, &S->extra_norm, hs[si] * ws[si], L.x[cur], L.out[si]));
    if (si < m->last_stage) {
      NALA_CHECK(conv_op(b, &S->down, hs[si], ws[si], L.x[cur], L.x[1 - cur], 0));
      cur = 1 - cur;
    }
  }
  ctx->ws_bytes = ctx->scratch_off + align_up(b->max_scratch);
  return NALA_OK;
}

void nala_plan_release(nala_backbone_ctx *ctx) {
  for (int i = 0; i < ctx->n_ops; i++) {
    nala_op *op = &ctx->ops[i];
    if (op->kind != NALA_OP_DNNL)
      continue;
    for (int a = 0; a < op->nargs; a++)
      if (op->mem_off[a] != NALA_MEM_MODEL && op->args[a].memory)
        dnnl_memory_destroy(op->args[a].memory);
    if (op->prim)
      dnnl_primitive_destroy(op->prim);
  }
  ctx->n_ops = 0;
  ctx->planned = 0;
}

/* Points every activation memory at the current workspace. */
void nala_plan_bind(nala_backbone_ctx *ctx) {
  for (int i = 0; i < ctx->n_ops; i++) {
    nala_op *op = &ctx->ops[i];
    if (op->kind != NALA_OP_DNNL)
      continue;
    for (int a = 0; a < op->nargs; a++)
      if (op->mem_off[a] < NALA_MEM_PLAN)
        dnnl_memory_set_data_handle(op->args[a].memory, (char *)ctx->ws + op->mem_off[a]);
  }
}

static nala_status build_rope(nala_backbone_ctx *ctx, nala_err *err) {
  const nala_backbone *m = ctx->model;
  size_t total = 0;
  for (int si = 0; si <= m->last_stage; si++)
    total += nala_rope_tables_floats(ctx->levels[si].h, ctx->levels[si].w, m->stages[si].head_dim);
  float *buf = realloc(ctx->rope_buf, total * sizeof(float) + 1);
  if (!buf)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for RoPE tables");
  ctx->rope_buf = buf;
  for (int si = 0; si <= m->last_stage; si++) {
    int H = ctx->levels[si].h, W = ctx->levels[si].w, d = m->stages[si].head_dim;
    nala_rope_build(H, W, d, m->stages[si].angle, buf, &ctx->rope[si]);
    buf += nala_rope_tables_floats(H, W, d);
  }
  return NALA_OK;
}

/* oneDNN fixes a primitive's thread count when it is created (from the calling thread's OpenMP
 * nthreads), not when it runs: create them under the context's count. */
static nala_status build_with_threads(builder *b, int h, int w) {
  int saved = omp_get_max_threads();
  omp_set_num_threads(b->ctx->nthreads);
  nala_status st = build(b, h, w);
  omp_set_num_threads(saved);
  return st;
}

nala_status nala_plan_build(nala_backbone_ctx *ctx, int h, int w, nala_err *err) {
  nala_plan_release(ctx);
  builder b = {.ctx = ctx, .dry = 0, .err = err};
  nala_status st = build_with_threads(&b, h, w);
  if (!st)
    st = build_rope(ctx, err);
  if (st) {
    nala_plan_release(ctx);
    return st;
  }
  ctx->h = h;
  ctx->w = w;
  ctx->planned = 1;
  return NALA_OK;
}

nala_status nala_backbone_workspace_size(nala_backbone_ctx *ctx, int h, int w, size_t *bytes, nala_err *err) {
  if (!ctx || !bytes || h <= 0 || w <= 0)
    return nala_fail(err, NALA_E_ARG, "nala_backbone_workspace_size: bad arguments (h=%d, w=%d)", h, w);
  if (ctx->planned && ctx->h == h && ctx->w == w) {
    *bytes = ctx->ws_bytes;
    return NALA_OK;
  }
  /* A dry build creates the primitive descriptors (for scratchpad sizes) but keeps nothing; it
   * must not disturb the current plan's offsets, so it runs on a copy of the context. */
  nala_backbone_ctx tmp = *ctx;
  tmp.ops = NULL, tmp.n_ops = tmp.cap_ops = 0, tmp.rope_buf = NULL;
  builder b = {.ctx = &tmp, .dry = 1, .err = err};
  NALA_CHECK(build_with_threads(&b, h, w));
  *bytes = tmp.ws_bytes;
  return NALA_OK;
}
