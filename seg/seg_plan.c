/* Segmentor contexts: create, plan (the network graph at the pass size plus the seg buffers in one
 * arena), workspace ownership. Forward and the read calls are in seg/seg_run.c. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn/dnnl_util.h"
#include "seg/seg_internal.h"

nala_status nala_seg_ctx_create(const nala_segmentor *model, int nthreads, nala_seg_ctx **out, nala_err *err) {
  if (!model || !out)
    return nala_fail(err, NALA_E_ARG, "nala_seg_ctx_create: model and out must not be NULL");
  *out = NULL;
  nala_seg_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for a segmentor context");
  ctx->m = model;
  ctx->nthreads = nthreads > 0 ? nthreads : omp_get_num_procs();
  nala_graph_init(&ctx->cur.g, model->model->rt->engine, ctx->nthreads);
  nala_graph_init(&ctx->pending.g, model->model->rt->engine, ctx->nthreads);
  dnnl_status_t ds = dnnl_stream_create(&ctx->stream, model->model->rt->engine, dnnl_stream_default_flags);
  if (ds != dnnl_success) {
    free(ctx);
    return nala_dnnl_status(ds, "dnnl_stream_create", err);
  }
  *out = ctx;
  return NALA_OK;
}

void nala_seg_ctx_free(nala_seg_ctx *ctx) {
  if (!ctx)
    return;
  nala_graph_release(&ctx->cur.g);
  nala_graph_release(&ctx->pending.g);
  if (ctx->ws_owned)
    free(ctx->ws);
  dnnl_stream_destroy(ctx->stream);
  free(ctx);
}

static const char *kind_name(nala_seg_input kind) { return kind == NALA_SEG_FRAME ? "frame" : "tensor"; }

static nala_status check_args(const char *caller, nala_seg_input kind, int h, int w, nala_err *err) {
  if (kind != NALA_SEG_FRAME && kind != NALA_SEG_TENSOR)
    return nala_fail(err, NALA_E_ARG, "%s: input kind %d is neither NALA_SEG_FRAME nor NALA_SEG_TENSOR", caller,
                     (int)kind);
  if (h <= 0 || w <= 0 || h > 16384 || w > 16384)
    return nala_fail(err, NALA_E_ARG, "%s: input size %dx%d outside 1..16384", caller, h, w);
  return NALA_OK;
}

static int imin(int a, int b) { return a < b ? a : b; }

static void reset_plan(seg_plan *p) {
  nala_graph_release(&p->g);
  nala_graph g = p->g;
  memset(p, 0, sizeof *p);
  p->g = g;
}

/* Sizes, windows, the network graph and the seg regions of a plan of (kind, h, w). */
static nala_status build(const nala_seg_ctx *ctx, seg_plan *p, nala_seg_input kind, int h, int w, nala_err *err) {
  const nala_segmentor *m = ctx->m;
  reset_plan(p);
  p->kind = kind, p->h = h, p->w = w, p->classes = m->num_classes;
  p->img_h = p->t_h = h, p->img_w = p->t_w = w;
  if (kind == NALA_SEG_FRAME) {
    nala_preprocess_sizes sz;
    NALA_CHECK(nala_preprocess_out_size(&m->pre, h, w, &sz, err));
    p->img_h = sz.meta.img_h, p->img_w = sz.meta.img_w;
    p->t_h = sz.meta.pad_h, p->t_w = sz.meta.pad_w;
    p->scratch_bytes = sz.scratch_bytes;
  }
  int slide = m->test.mode == NALA_SEG_SLIDE;
  p->net_h = slide ? imin(m->test.crop_h, p->t_h) : p->t_h;
  p->net_w = slide ? imin(m->test.crop_w, p->t_w) : p->t_w;
  size_t n_win = 1;
  if (slide)
    NALA_CHECK(nala_seg_slide_windows(&m->test, p->t_h, p->t_w, NULL, 0, &n_win, err));
  p->win = nala_graph_alloc(&p->g, n_win * sizeof *p->win, err);
  if (!p->win)
    return NALA_E_NOMEM;
  p->n_win = (int)n_win;
  if (slide)
    NALA_CHECK(nala_seg_slide_windows(&m->test, p->t_h, p->t_w, p->win, n_win, &n_win, err));
  else
    p->win[0] = (nala_crop_window){0, 0, p->t_h, p->t_w};

  int saved = nala_threads_enter(ctx->nthreads); /* oneDNN fixes a primitive's threads at creation */
  nala_status st = nala_model_build(m->model, &p->g, p->net_h, p->net_w, p->module_ops, err);
  nala_threads_leave(saved);
  NALA_CHECK(st);
  if (p->g.n_outs != 1 || p->g.outs[0].c != p->classes)
    return nala_fail(err, NALA_E_FORMAT,
                     "model.decode_head: gives %d map(s) of %d channels, expected one of num_classes = %d",
                     p->g.n_outs, p->g.n_outs ? p->g.outs[0].c : 0, p->classes);
  size_t t_px = (size_t)p->t_h * p->t_w, C = (size_t)p->classes;
  p->full_off = slide ? nala_graph_region(&p->g, t_px * 3 * sizeof(float)) : p->g.input.off;
  p->scratch_off = p->scratch_bytes ? nala_graph_region(&p->g, p->scratch_bytes) : 0;
  /* whole mode needs no map at the tensor size: seg_resize2_argmax streams it two rows at a time */
  p->two_resizes = !slide && !(p->img_h == h && p->img_w == w && p->t_h == h && p->t_w == w);
  p->acc_off = slide ? nala_graph_region(&p->g, t_px * C * sizeof(float)) : SIZE_MAX;
  p->cnt_off = slide ? nala_graph_region(&p->g, t_px * sizeof(float)) : 0;
  p->labels_off = nala_graph_region(&p->g, (size_t)h * w * sizeof(int32_t));
  size_t per_thread = p->two_resizes ? (2 * (size_t)p->img_w + 1) * C : C;
  p->tmp_off = nala_graph_region(&p->g, (size_t)ctx->nthreads * per_thread * sizeof(float));
  p->bk = nala_bilinear_for(m->model->rt->isa);
  p->g.h = h, p->g.w = w;
  return NALA_OK;
}

static int same(const seg_plan *p, nala_seg_input kind, int h, int w) {
  return p->kind == kind && p->h == h && p->w == w;
}

static nala_status build_pending(nala_seg_ctx *ctx, nala_seg_input kind, int h, int w, nala_err *err) {
  if (ctx->has_pending && same(&ctx->pending, kind, h, w))
    return NALA_OK;
  ctx->has_pending = 0;
  nala_status st = build(ctx, &ctx->pending, kind, h, w, err);
  if (st) {
    reset_plan(&ctx->pending);
    return st;
  }
  ctx->has_pending = 1;
  return NALA_OK;
}

nala_status nala_seg_workspace_size(nala_seg_ctx *ctx, nala_seg_input input, int h, int w, size_t *bytes,
                                    nala_err *err) {
  if (!ctx || !bytes)
    return nala_fail(err, NALA_E_ARG, "nala_seg_workspace_size: ctx and bytes must not be NULL");
  NALA_CHECK(check_args("nala_seg_workspace_size", input, h, w, err));
  if (ctx->planned && same(&ctx->cur, input, h, w)) {
    *bytes = nala_graph_ws_bytes(&ctx->cur.g);
    return NALA_OK;
  }
  NALA_CHECK(build_pending(ctx, input, h, w, err));
  *bytes = nala_graph_ws_bytes(&ctx->pending.g);
  return NALA_OK;
}

static void swap_plans(nala_seg_ctx *ctx) {
  seg_plan t = ctx->cur;
  ctx->cur = ctx->pending;
  ctx->pending = t;
}

nala_status nala_seg_plan(nala_seg_ctx *ctx, nala_seg_input input, int h, int w, nala_err *err) {
  if (!ctx)
    return nala_fail(err, NALA_E_ARG, "nala_seg_plan: ctx is NULL");
  NALA_CHECK(check_args("nala_seg_plan", input, h, w, err));
  if (!(ctx->planned && same(&ctx->cur, input, h, w))) {
    NALA_CHECK(build_pending(ctx, input, h, w, err));
    swap_plans(ctx); /* the old plan becomes the pending one, released */
    reset_plan(&ctx->pending);
    ctx->has_pending = 0;
    ctx->planned = 1;
  }
  ctx->ran = 0;
  size_t need = nala_graph_ws_bytes(&ctx->cur.g);
  if (need > ctx->ws_cap) {
    if (ctx->ws && !ctx->ws_owned) {
      /* keep the build aside: a bigger set_workspace then the same plan does not rebuild */
      swap_plans(ctx);
      ctx->has_pending = 1;
      ctx->planned = 0;
      return nala_fail(err, NALA_E_NOMEM,
                       "nala_seg_plan: caller workspace of %zu bytes is too small for a %s of %dx%d: the plan needs "
                       "%zu bytes",
                       ctx->ws_cap, kind_name(input), h, w, need);
    }
    free(ctx->ws);
    ctx->ws = aligned_alloc(NALA_GRAPH_ALIGN, need);
    ctx->ws_cap = ctx->ws ? need : 0;
    ctx->ws_owned = 1;
    if (!ctx->ws) {
      reset_plan(&ctx->cur);
      ctx->planned = 0;
      return nala_fail(err, NALA_E_NOMEM, "out of memory for a %zu-byte workspace (%s of %dx%d)", need,
                       kind_name(input), h, w);
    }
  }
  nala_graph_bind(&ctx->cur.g, ctx->ws);
  return NALA_OK;
}

nala_status nala_seg_set_workspace(nala_seg_ctx *ctx, void *buffer, size_t bytes, nala_err *err) {
  if (!ctx || !buffer)
    return nala_fail(err, NALA_E_ARG, "nala_seg_set_workspace: ctx and buffer must not be NULL");
  if ((uintptr_t)buffer % NALA_GRAPH_ALIGN)
    return nala_fail(err, NALA_E_ARG, "nala_seg_set_workspace: buffer %p is not 64-byte aligned", buffer);
  size_t need = ctx->planned ? nala_graph_ws_bytes(&ctx->cur.g) : 0;
  if (bytes < need)
    return nala_fail(err, NALA_E_NOMEM,
                     "nala_seg_set_workspace: %zu bytes are too small: the plan for a %s of %dx%d needs %zu bytes",
                     bytes, kind_name(ctx->cur.kind), ctx->cur.h, ctx->cur.w, need);
  if (ctx->ws_owned)
    free(ctx->ws);
  ctx->ws = buffer;
  ctx->ws_cap = bytes;
  ctx->ws_owned = 0;
  ctx->ran = 0;
  if (ctx->planned)
    nala_graph_bind(&ctx->cur.g, ctx->ws);
  return NALA_OK;
}
