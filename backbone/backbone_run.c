/* Contexts, workspaces and the forward pass: a walk over the planned steps. */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/internal.h"

nala_status nala_backbone_ctx_create(const nala_backbone *model, int nthreads, nala_backbone_ctx **out,
                                     nala_err *err) {
  if (!model || !out)
    return nala_fail(err, NALA_E_ARG, "nala_backbone_ctx_create: model and out must not be NULL");
  nala_backbone_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for a backbone context");
  ctx->model = model;
  ctx->nthreads = nthreads > 0 ? nthreads : omp_get_num_procs();
  dnnl_status_t ds = dnnl_stream_create(&ctx->stream, model->engine, dnnl_stream_default_flags);
  if (ds != dnnl_success) {
    free(ctx);
    return nala_dnnl_status(ds, "dnnl_stream_create", err);
  }
  *out = ctx;
  return NALA_OK;
}

void nala_backbone_ctx_free(nala_backbone_ctx *ctx) {
  if (!ctx)
    return;
  nala_plan_release(ctx);
  free(ctx->ops);
  free(ctx->rope_buf);
  if (ctx->ws_owned)
    free(ctx->ws);
  dnnl_stream_destroy(ctx->stream);
  free(ctx);
}

nala_status nala_backbone_plan(nala_backbone_ctx *ctx, int h, int w, nala_err *err) {
  if (!ctx)
    return nala_fail(err, NALA_E_ARG, "nala_backbone_plan: ctx is NULL");
  if (h <= 0 || w <= 0 || h > 16384 || w > 16384)
    return nala_fail(err, NALA_E_ARG, "nala_backbone_plan: input size %dx%d outside 1..16384", h, w);
  NALA_CHECK(nala_plan_build(ctx, h, w, err));
  if (ctx->ws_bytes > ctx->ws_cap) {
    if (ctx->ws && !ctx->ws_owned) {
      size_t need = ctx->ws_bytes, have = ctx->ws_cap;
      nala_plan_release(ctx);
      return nala_fail(err, NALA_E_NOMEM, "workspace of %zu bytes is too small for %dx%d: the plan needs %zu bytes",
                       have, h, w, need);
    }
    free(ctx->ws);
    ctx->ws = aligned_alloc(64, ctx->ws_bytes);
    ctx->ws_cap = ctx->ws ? ctx->ws_bytes : 0;
    ctx->ws_owned = 1;
    if (!ctx->ws) {
      nala_plan_release(ctx);
      return nala_fail(err, NALA_E_NOMEM, "out of memory for a %zu-byte workspace (%dx%d)", ctx->ws_bytes, h, w);
    }
  }
  nala_plan_bind(ctx);
  return NALA_OK;
}

nala_status nala_backbone_set_workspace(nala_backbone_ctx *ctx, void *buffer, size_t bytes, nala_err *err) {
  if (!ctx || !buffer)
    return nala_fail(err, NALA_E_ARG, "nala_backbone_set_workspace: ctx and buffer must not be NULL");
  if ((uintptr_t)buffer % 64)
    return nala_fail(err, NALA_E_ARG, "nala_backbone_set_workspace: buffer %p is not 64-byte aligned", buffer);
  if (ctx->planned && bytes < ctx->ws_bytes)
    return nala_fail(err, NALA_E_NOMEM, "workspace of %zu bytes is too small: the plan for %dx%d needs %zu bytes",
                     bytes, ctx->h, ctx->w, ctx->ws_bytes);
  if (ctx->ws_owned)
    free(ctx->ws);
  ctx->ws = buffer;
  ctx->ws_cap = bytes;
  ctx->ws_owned = 0;
  if (ctx->planned)
    nala_plan_bind(ctx);
  return NALA_OK;
}

static nala_status run_ops(nala_backbone_ctx *ctx, nala_err *err) {
  const nala_backbone *m = ctx->model;
  float *ws = ctx->ws;
  int nt = ctx->nthreads;
  for (int i = 0; i < ctx->n_ops; i++) {
    const nala_op *op = &ctx->ops[i];
    double t0 = ctx->profiling ? omp_get_wtime() : 0;
    switch (op->kind) {
    case NALA_OP_DNNL: {
      dnnl_status_t ds = dnnl_primitive_execute(op->prim, ctx->stream, op->nargs, op->args);
      if (ds != dnnl_success)
        return nala_dnnl_status(ds, "dnnl_primitive_execute", err);
      break;
    }
    case NALA_OP_LN:
      m->norm.ln(op->ln, ws + op->src, op->ld_src, ws + op->dst, op->ld_dst, op->rows, nt);
      break;
    case NALA_OP_ATTN: {
      const nala_stage *S = &m->stages[op->stage];
      nala_attn_args a = {
          .q = ws + op->src, .k = ws + op->src + S->dim, .v = ws + op->src2, .ld_qk = 2 * S->dim, .ld_v = S->dim,
          .out = ws + op->dst, .ld_out = S->dim, .N = op->rows, .heads = S->heads, .d = S->head_dim,
          .rope = &ctx->rope[op->stage], .ws = ws + ctx->attn_ws_off, .ws_floats = ctx->attn_ws_floats,
          .nthreads = nt, .err = err};
      NALA_CHECK((op->attn_flag == 'l' ? m->attn_linear : m->attn_softmax)(&a));
      break;
    }
    case NALA_OP_ATTN_EPILOGUE:
      m->norm.ln_gate(op->ln, ws + op->src, ws + op->src2, op->ld_src, ws + op->gate, op->ld_gate, ws + op->dst,
                      op->ld_dst, op->rows, nt);
      break;
    }
    if (ctx->profiling) {
      if (op->kind == NALA_OP_DNNL)
        dnnl_stream_wait(ctx->stream);
      ctx->profile_ms[op->prof] += 1e3 * (omp_get_wtime() - t0);
    }
  }
  dnnl_status_t ds = dnnl_stream_wait(ctx->stream);
  if (ds != dnnl_success)
    return nala_dnnl_status(ds, "dnnl_stream_wait", err);
  return NALA_OK;
}

/* oneDNN's OpenMP runtime sizes its teams from the calling thread's nthreads ICV: set it for the
 * forward and restore the caller's value afterwards. */
static nala_status forward(nala_backbone_ctx *ctx, nala_err *err) {
  int saved = omp_get_max_threads();
  omp_set_num_threads(ctx->nthreads);
  nala_status st = run_ops(ctx, err);
  omp_set_num_threads(saved);
  return st;
}

static nala_status check_ready(const nala_backbone_ctx *ctx, const float *image, nala_err *err) {
  if (!ctx || !image)
    return nala_fail(err, NALA_E_ARG, "nala_backbone_forward: ctx and image must not be NULL");
  if (!ctx->planned)
    return nala_fail(err, NALA_E_STATE, "nala_backbone_forward: no plan (call nala_backbone_plan first)");
  if (!ctx->ws || ctx->ws_cap < ctx->ws_bytes)
    return nala_fail(err, NALA_E_STATE, "nala_backbone_forward: workspace missing or smaller than the plan");
  return NALA_OK;
}

nala_status nala_backbone_forward(nala_backbone_ctx *ctx, const float *image_nchw, nala_err *err) {
  NALA_CHECK(check_ready(ctx, image_nchw, err));
  float *dst = (float *)ctx->ws + ctx->input_off;
  size_t hw = (size_t)ctx->h * ctx->w;
#pragma omp parallel for num_threads(ctx->nthreads) schedule(static)
  for (size_t p = 0; p < hw; p++)
    for (int c = 0; c < 3; c++)
      dst[p * 3 + c] = image_nchw[c * hw + p];
  return forward(ctx, err);
}

nala_status nala_backbone_forward_nhwc(nala_backbone_ctx *ctx, const float *image_nhwc, nala_err *err) {
  NALA_CHECK(check_ready(ctx, image_nhwc, err));
  memcpy((float *)ctx->ws + ctx->input_off, image_nhwc, (size_t)ctx->h * ctx->w * 3 * sizeof(float));
  return forward(ctx, err);
}

nala_status nala_backbone_output(const nala_backbone_ctx *ctx, int level, nala_feature *out, nala_err *err) {
  if (!ctx || !out || level < 0 || level > 3)
    return nala_fail(err, NALA_E_ARG, "nala_backbone_output: bad arguments (level %d)", level);
  if (!ctx->planned)
    return nala_fail(err, NALA_E_STATE, "nala_backbone_output: no plan");
  if (!ctx->model->want[level])
    return nala_fail(err, NALA_E_ARG, "nala_backbone_output: level %d is not in out_indices", level);
  const nala_level *L = &ctx->levels[level];
  out->c = L->c, out->h = L->h, out->w = L->w;
  out->data = (const float *)ctx->ws + L->off;
  return NALA_OK;
}

void nala_feature_to_nchw(const nala_feature *f, float *dst) {
  size_t hw = (size_t)f->h * f->w;
  for (size_t p = 0; p < hw; p++)
    for (int c = 0; c < f->c; c++)
      dst[(size_t)c * hw + p] = f->data[p * f->c + c];
}

void nala_backbone_ctx_set_profiling(nala_backbone_ctx *ctx, int on) {
  ctx->profiling = on;
  memset(ctx->profile_ms, 0, sizeof ctx->profile_ms);
}

int nala_backbone_profile(const nala_backbone_ctx *ctx, const char **names, double *ms, int max) {
  static const char *const kind_names[NALA_PROF_COUNT] = {"stem+downsample convs", "depthwise convs", "linears",
                                                           "layernorm+gate", "nala attention",
                                                           "softmax attention"};
  int n = 0;
  for (int k = 0; k < NALA_PROF_COUNT && n < max; k++, n++) {
    names[n] = kind_names[k];
    ms[n] = ctx->profile_ms[k];
  }
  return n;
}

int nala_backbone_ctx_height(const nala_backbone_ctx *ctx) { return ctx->planned ? ctx->h : 0; }
int nala_backbone_ctx_width(const nala_backbone_ctx *ctx) { return ctx->planned ? ctx->w : 0; }

int nala_backbone_slow_primitives(const nala_backbone_ctx *ctx) {
  int slow = 0;
  for (int i = 0; i < ctx->n_ops; i++) {
    const_dnnl_primitive_desc_t pd = NULL;
    if (ctx->ops[i].kind == NALA_OP_DNNL && dnnl_primitive_get_primitive_desc(ctx->ops[i].prim, &pd) == dnnl_success &&
        !strncmp(nala_dnnl_impl(pd), "ref", 3))
      slow++;
  }
  return slow;
}
