/* The public nala_backbone_* context calls: a thin layer over the runtime's context (core/nn). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/internal.h"

/* The whole graph of a backbone-only model: the image region, then the backbone. */
static nala_status build(const void *model, nala_graph *g, int h, int w, nala_err *err) {
  const nala_backbone *m = model;
  g->input = nala_graph_feat(g, 3, h, w);
  NALA_CHECK(nala_backbone_plan_graph(m, g, &g->input, g->outs, err));
  g->n_outs = 4;
  return NALA_OK;
}

nala_status nala_backbone_ctx_create(const nala_backbone *model, int nthreads, nala_backbone_ctx **out,
                                     nala_err *err) {
  if (!model || !out)
    return nala_fail(err, NALA_E_ARG, "nala_backbone_ctx_create: model and out must not be NULL");
  nala_backbone_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for a backbone context");
  ctx->model = model;
  nala_status st = nala_nn_ctx_init(&ctx->nn, model, build, model->rt->engine, nthreads, err);
  if (st) {
    nala_nn_ctx_release(&ctx->nn);
    free(ctx);
    return st;
  }
  *out = ctx;
  return NALA_OK;
}

void nala_backbone_ctx_free(nala_backbone_ctx *ctx) {
  if (!ctx)
    return;
  nala_nn_ctx_release(&ctx->nn);
  free(ctx);
}

static nala_status check_size(const char *caller, int h, int w, nala_err *err) {
  if (h <= 0 || w <= 0 || h > 16384 || w > 16384)
    return nala_fail(err, NALA_E_ARG, "%s: input size %dx%d outside 1..16384", caller, h, w);
  return NALA_OK;
}

nala_status nala_backbone_plan(nala_backbone_ctx *ctx, int h, int w, nala_err *err) {
  if (!ctx)
    return nala_fail(err, NALA_E_ARG, "nala_backbone_plan: ctx is NULL");
  NALA_CHECK(check_size("nala_backbone_plan", h, w, err));
  return nala_nn_ctx_plan(&ctx->nn, h, w, err);
}

nala_status nala_backbone_workspace_size(nala_backbone_ctx *ctx, int h, int w, size_t *bytes, nala_err *err) {
  if (!ctx || !bytes)
    return nala_fail(err, NALA_E_ARG, "nala_backbone_workspace_size: ctx and bytes must not be NULL");
  NALA_CHECK(check_size("nala_backbone_workspace_size", h, w, err));
  return nala_nn_ctx_workspace_size(&ctx->nn, h, w, bytes, err);
}

nala_status nala_backbone_set_workspace(nala_backbone_ctx *ctx, void *buffer, size_t bytes, nala_err *err) {
  if (!ctx || !buffer)
    return nala_fail(err, NALA_E_ARG, "nala_backbone_set_workspace: ctx and buffer must not be NULL");
  return nala_nn_ctx_set_workspace(&ctx->nn, buffer, bytes, err);
}

static nala_status check_ready(const nala_backbone_ctx *ctx, const float *image, nala_err *err) {
  if (!ctx || !image)
    return nala_fail(err, NALA_E_ARG, "nala_backbone_forward: ctx and image must not be NULL");
  return nala_nn_ctx_ready(&ctx->nn, "nala_backbone_forward", err);
}

nala_status nala_backbone_forward(nala_backbone_ctx *ctx, const float *image_nchw, nala_err *err) {
  NALA_CHECK(check_ready(ctx, image_nchw, err));
  const nala_graph *g = &ctx->nn.graph;
  float *dst = nala_nn_ctx_at(&ctx->nn, g->input.off);
  size_t hw = (size_t)g->h * g->w;
#pragma omp parallel for num_threads(g->nthreads) schedule(static)
  for (size_t p = 0; p < hw; p++)
    for (int c = 0; c < 3; c++)
      dst[p * 3 + c] = image_nchw[c * hw + p];
  return nala_nn_ctx_run(&ctx->nn, err);
}

nala_status nala_backbone_forward_nhwc(nala_backbone_ctx *ctx, const float *image_nhwc, nala_err *err) {
  NALA_CHECK(check_ready(ctx, image_nhwc, err));
  const nala_graph *g = &ctx->nn.graph;
  memcpy(nala_nn_ctx_at(&ctx->nn, g->input.off), image_nhwc, (size_t)g->h * g->w * 3 * sizeof(float));
  return nala_nn_ctx_run(&ctx->nn, err);
}

nala_status nala_backbone_output(const nala_backbone_ctx *ctx, int level, nala_feature *out, nala_err *err) {
  if (!ctx || !out || level < 0 || level > 3)
    return nala_fail(err, NALA_E_ARG, "nala_backbone_output: bad arguments (level %d)", level);
  if (!ctx->nn.planned)
    return nala_fail(err, NALA_E_STATE, "nala_backbone_output: no plan");
  if (!ctx->model->want[level])
    return nala_fail(err, NALA_E_ARG, "nala_backbone_output: level %d is not in out_indices", level);
  const nala_feat *f = &ctx->nn.graph.outs[level];
  out->c = f->c, out->h = f->h, out->w = f->w;
  out->data = nala_nn_ctx_at(&ctx->nn, f->off);
  return NALA_OK;
}

void nala_feature_to_nchw(const nala_feature *f, float *dst) {
  size_t hw = (size_t)f->h * f->w;
  for (size_t p = 0; p < hw; p++)
    for (int c = 0; c < f->c; c++)
      dst[(size_t)c * hw + p] = f->data[p * f->c + c];
}

void nala_backbone_ctx_set_profiling(nala_backbone_ctx *ctx, int on) { nala_nn_ctx_set_profiling(&ctx->nn, on); }

int nala_backbone_ctx_height(const nala_backbone_ctx *ctx) { return ctx->nn.planned ? ctx->nn.graph.h : 0; }
int nala_backbone_ctx_width(const nala_backbone_ctx *ctx) { return ctx->nn.planned ? ctx->nn.graph.w : 0; }

int nala_backbone_slow_primitives(const nala_backbone_ctx *ctx) { return nala_graph_slow_primitives(&ctx->nn.graph); }
