/* Contexts: plan (build once, swap in), workspace ownership, run (see context.h). */
#include "core/nn/context.h"

#include <omp.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/nn/dnnl_util.h"

nala_status nala_nn_ctx_init(nala_nn_ctx *ctx, const void *model, nala_build_fn build, dnnl_engine_t engine,
                             int nthreads, nala_err *err) {
  *ctx = (nala_nn_ctx){.model = model, .build = build};
  int nt = nthreads > 0 ? nthreads : omp_get_num_procs();
  nala_graph_init(&ctx->graph, engine, nt);
  nala_graph_init(&ctx->pending, engine, nt);
  NALA_DNNL(dnnl_stream_create(&ctx->stream, engine, dnnl_stream_default_flags), err);
  return NALA_OK;
}

void nala_nn_ctx_release(nala_nn_ctx *ctx) {
  nala_graph_release(&ctx->graph);
  nala_graph_release(&ctx->pending);
  if (ctx->ws_owned)
    free(ctx->ws);
  if (ctx->stream)
    dnnl_stream_destroy(ctx->stream);
  ctx->stream = NULL;
  ctx->ws = NULL;
}

/* Builds h x w into the pending graph, unless it already holds that size. Primitives are created
 * under the context's thread count: oneDNN fixes a primitive's threads when it is created. */
static nala_status build_pending(nala_nn_ctx *ctx, int h, int w, nala_err *err) {
  if (ctx->has_pending && ctx->pending.h == h && ctx->pending.w == w)
    return NALA_OK;
  nala_graph_release(&ctx->pending);
  ctx->has_pending = 0;
  int saved = nala_threads_enter(ctx->pending.nthreads);
  nala_status st = ctx->build(ctx->model, &ctx->pending, h, w, err);
  nala_threads_leave(saved);
  if (st) {
    nala_graph_release(&ctx->pending);
    return st;
  }
  ctx->pending.h = h;
  ctx->pending.w = w;
  ctx->has_pending = 1;
  return NALA_OK;
}

nala_status nala_nn_ctx_workspace_size(nala_nn_ctx *ctx, int h, int w, size_t *bytes, nala_err *err) {
  if (ctx->planned && ctx->graph.h == h && ctx->graph.w == w) {
    *bytes = nala_graph_ws_bytes(&ctx->graph);
    return NALA_OK;
  }
  NALA_CHECK(build_pending(ctx, h, w, err));
  *bytes = nala_graph_ws_bytes(&ctx->pending);
  return NALA_OK;
}

nala_status nala_nn_ctx_plan(nala_nn_ctx *ctx, int h, int w, nala_err *err) {
  if (!(ctx->planned && ctx->graph.h == h && ctx->graph.w == w)) {
    NALA_CHECK(build_pending(ctx, h, w, err));
    /* swap: the old plan becomes the (released) pending one */
    nala_graph old = ctx->graph;
    ctx->graph = ctx->pending;
    ctx->pending = old;
    nala_graph_release(&ctx->pending);
    ctx->has_pending = 0;
    ctx->planned = 1;
  }
  size_t need = nala_graph_ws_bytes(&ctx->graph);
  if (need > ctx->ws_cap) {
    if (ctx->ws && !ctx->ws_owned) {
      /* keep the build as pending: set_workspace with a bigger buffer + plan does not rebuild */
      nala_graph t = ctx->pending;
      ctx->pending = ctx->graph;
      ctx->graph = t;
      ctx->has_pending = 1;
      ctx->planned = 0;
      return nala_fail(err, NALA_E_NOMEM, "workspace of %zu bytes is too small for %dx%d: the plan needs %zu bytes",
                       ctx->ws_cap, h, w, need);
    }
    free(ctx->ws);
    ctx->ws = aligned_alloc(NALA_GRAPH_ALIGN, need);
    ctx->ws_cap = ctx->ws ? need : 0;
    ctx->ws_owned = 1;
    if (!ctx->ws) {
      nala_graph_release(&ctx->graph);
      ctx->planned = 0;
      return nala_fail(err, NALA_E_NOMEM, "out of memory for a %zu-byte workspace (%dx%d)", need, h, w);
    }
  }
  nala_graph_bind(&ctx->graph, ctx->ws);
  nala_graph_set_profiling(&ctx->graph, ctx->profiling);
  return NALA_OK;
}

nala_status nala_nn_ctx_set_workspace(nala_nn_ctx *ctx, void *buffer, size_t bytes, nala_err *err) {
  if ((uintptr_t)buffer % NALA_GRAPH_ALIGN)
    return nala_fail(err, NALA_E_ARG, "workspace buffer %p is not 64-byte aligned", buffer);
  size_t need = ctx->planned ? nala_graph_ws_bytes(&ctx->graph) : 0;
  if (bytes < need)
    return nala_fail(err, NALA_E_NOMEM, "workspace of %zu bytes is too small: the plan for %dx%d needs %zu bytes",
                     bytes, ctx->graph.h, ctx->graph.w, need);
  if (ctx->ws_owned)
    free(ctx->ws);
  ctx->ws = buffer;
  ctx->ws_cap = bytes;
  ctx->ws_owned = 0;
  if (ctx->planned)
    nala_graph_bind(&ctx->graph, ctx->ws);
  return NALA_OK;
}

nala_status nala_nn_ctx_ready(const nala_nn_ctx *ctx, const char *caller, nala_err *err) {
  if (!ctx->planned)
    return nala_fail(err, NALA_E_STATE, "%s: no plan (call the plan function first)", caller);
  if (!ctx->ws || ctx->ws_cap < nala_graph_ws_bytes(&ctx->graph))
    return nala_fail(err, NALA_E_STATE, "%s: workspace missing or smaller than the plan", caller);
  return NALA_OK;
}

nala_status nala_nn_ctx_run(nala_nn_ctx *ctx, nala_err *err) {
  return nala_graph_execute(&ctx->graph, ctx->stream, err);
}

void nala_nn_ctx_set_profiling(nala_nn_ctx *ctx, int on) {
  ctx->profiling = on;
  nala_graph_set_profiling(&ctx->graph, on);
}
