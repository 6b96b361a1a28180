/* A context: one oneDNN stream, one graph and the workspace it runs in (per thread or video
 * stream; many contexts may share one model). Planning an input size builds the graph once:
 * a size query before plan builds the pending graph that the plan of that size then takes, so
 * nothing is built twice and the current plan is never disturbed by a query. The caller may own
 * the workspace (fixed memory); the context never reallocates one it was handed. */
#ifndef NALA_CORE_NN_CONTEXT_H
#define NALA_CORE_NN_CONTEXT_H

#include "core/nn/graph.h"

/* Appends the whole model's ops for an h x w input to an empty graph and fills g->input/outs. */
typedef nala_status (*nala_build_fn)(const void *model, nala_graph *g, int h, int w, nala_err *err);

typedef struct nala_nn_ctx {
  const void *model;
  nala_build_fn build;
  dnnl_stream_t stream;
  nala_graph graph;   /* current plan (valid when planned) */
  nala_graph pending; /* built by a size query for another size (valid when has_pending) */
  int planned, has_pending;
  int profiling;
  void *ws;
  size_t ws_cap;
  int ws_owned;
} nala_nn_ctx;

/* nthreads <= 0 means all cores. */
nala_status nala_nn_ctx_init(nala_nn_ctx *ctx, const void *model, nala_build_fn build, dnnl_engine_t engine,
                             int nthreads, nala_err *err);
void nala_nn_ctx_release(nala_nn_ctx *ctx);

/* Workspace bytes of a plan at h x w (exact; builds the pending graph when h x w is not planned). */
nala_status nala_nn_ctx_workspace_size(nala_nn_ctx *ctx, int h, int w, size_t *bytes, nala_err *err);

/* Makes h x w the current plan; allocates a workspace when none was handed in, fails
 * (NALA_E_NOMEM naming both sizes) when a caller's is too small. */
nala_status nala_nn_ctx_plan(nala_nn_ctx *ctx, int h, int w, nala_err *err);

/* Hands the context a caller-owned, 64-byte aligned workspace. */
nala_status nala_nn_ctx_set_workspace(nala_nn_ctx *ctx, void *buffer, size_t bytes, nala_err *err);

/* NALA_OK when a plan and a large enough workspace are in place. */
nala_status nala_nn_ctx_ready(const nala_nn_ctx *ctx, const char *caller, nala_err *err);

/* Runs the current plan (no allocation). */
nala_status nala_nn_ctx_run(nala_nn_ctx *ctx, nala_err *err);

/* Pointer to a feature of the current plan in the workspace. */
static inline float *nala_nn_ctx_at(const nala_nn_ctx *ctx, size_t off) { return (float *)((char *)ctx->ws + off); }

void nala_nn_ctx_set_profiling(nala_nn_ctx *ctx, int on);

#endif
