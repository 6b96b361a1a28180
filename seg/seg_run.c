/* Segmentor forward (mmseg EncoderDecoder.predict at test time) and the read calls. Nothing here
 * allocates: every buffer is a region of the plan's workspace (seg/seg_plan.c). */
#include <omp.h>
#include <string.h>

#include "seg/seg_internal.h"

static const char *const stage_names[SEG_N_STAGES] = {"preprocess", "backbone", "neck", "head", "postprocess"};

static char *ws_of(const nala_seg_ctx *ctx) { return (char *)ctx->ws; }

static nala_status ready(const nala_seg_ctx *ctx, const char *caller, nala_seg_input kind, nala_err *err) {
  if (!ctx->planned)
    return nala_fail(err, NALA_E_STATE, "%s: no plan (call nala_seg_plan first)", caller);
  if (!ctx->ws || ctx->ws_cap < nala_graph_ws_bytes(&ctx->cur.g))
    return nala_fail(err, NALA_E_STATE, "%s: workspace missing or smaller than the plan", caller);
  if (ctx->cur.kind != kind)
    return nala_fail(err, NALA_E_STATE, "%s: the plan is for NALA_SEG_%s input", caller,
                     ctx->cur.kind == NALA_SEG_FRAME ? "FRAME" : "TENSOR");
  return NALA_OK;
}

/* One network pass; with profiling, module by module (backbone, [neck], head). */
static nala_status run_net(nala_seg_ctx *ctx, nala_err *err) {
  seg_plan *p = &ctx->cur;
  if (!ctx->profiling)
    return nala_graph_execute(&p->g, ctx->stream, err);
  int n = ctx->m->model->n, first = 0;
  for (int i = 0; i < n; i++) {
    double t0 = omp_get_wtime();
    NALA_CHECK(nala_graph_execute_range(&p->g, ctx->stream, first, p->module_ops[i], err));
    int stage = i == 0 ? SEG_ST_BACKBONE : i == n - 1 ? SEG_ST_HEAD : SEG_ST_NECK;
    ctx->stage_ms[stage] += 1e3 * (omp_get_wtime() - t0);
    first = p->module_ops[i];
  }
  return NALA_OK;
}

static void add_ms(nala_seg_ctx *ctx, int stage, double t0) {
  if (ctx->profiling)
    ctx->stage_ms[stage] += 1e3 * (omp_get_wtime() - t0);
}

/* The decode head's logits of the last pass as a map. */
static seg_map logits_map(const seg_plan *p) {
  const nala_feat *f = &p->g.outs[0];
  seg_map m = {.off = f->off, .h = f->h, .w = f->w, .pitch = f->w, .ld = nala_feat_ld(f)};
  return m;
}

/* The tensor is in place (whole: the graph's input; slide: p->full_off): passes, then postprocess. */
static nala_status run_passes(nala_seg_ctx *ctx, nala_err *err) {
  seg_plan *p = &ctx->cur;
  char *ws = ws_of(ctx);
  int nt = ctx->nthreads, C = p->classes;
  size_t t_px = (size_t)p->t_h * p->t_w;
  ctx->ran = 0;
  if (ctx->m->test.mode == NALA_SEG_WHOLE) {
    NALA_CHECK(run_net(ctx, err));
    double t0 = omp_get_wtime();
    seg_map lg = logits_map(p);
    if (p->two_resizes) /* predict_by_feat to the padded size, postprocess_result's crop and resize */
      seg_resize2_argmax(p->bk, ws, &lg, C, p->t_h, p->t_w, p->img_h, p->img_w, p->labels_off, p->h, p->w, p->tmp_off, nt);
    else /* tensor = img = ori: the second resize is the identity */
      seg_resize_argmax(p->bk, ws, &lg, C, p->labels_off, p->h, p->w, p->tmp_off, nt);
    add_ms(ctx, SEG_ST_POST, t0);
  } else {
    double t0 = omp_get_wtime();
    memset(ws + p->acc_off, 0, t_px * C * sizeof(float));
    memset(ws + p->cnt_off, 0, t_px * sizeof(float));
    add_ms(ctx, SEG_ST_POST, t0);
    for (int k = 0; k < p->n_win; k++) {
      t0 = omp_get_wtime();
      seg_extract_window(ws, p->full_off, p->t_w, p->win[k], p->g.input.off, nt);
      add_ms(ctx, SEG_ST_PRE, t0);
      NALA_CHECK(run_net(ctx, err));
      t0 = omp_get_wtime();
      seg_map lg = logits_map(p);
      seg_accumulate(ws, &lg, C, p->win[k], p->acc_off, p->cnt_off, p->t_w, nt);
      add_ms(ctx, SEG_ST_POST, t0);
    }
    t0 = omp_get_wtime();
    seg_divide(ws, p->acc_off, p->cnt_off, C, p->t_h, p->t_w, nt);
    seg_map src = {.off = p->acc_off, .h = p->img_h, .w = p->img_w, .pitch = p->t_w, .ld = C};
    seg_resize_argmax(p->bk, ws, &src, C, p->labels_off, p->h, p->w, p->tmp_off, nt);
    add_ms(ctx, SEG_ST_POST, t0);
  }
  ctx->ran = 1;
  return NALA_OK;
}

nala_status nala_seg_forward_tensor(nala_seg_ctx *ctx, const float *nchw, nala_err *err) {
  if (!ctx || !nchw)
    return nala_fail(err, NALA_E_ARG, "nala_seg_forward_tensor: ctx and nchw must not be NULL");
  NALA_CHECK(ready(ctx, "nala_seg_forward_tensor", NALA_SEG_TENSOR, err));
  const seg_plan *p = &ctx->cur;
  double t0 = omp_get_wtime();
  float *dst = (float *)(ws_of(ctx) + p->full_off);
  size_t hw = (size_t)p->t_h * p->t_w;
#pragma omp parallel for num_threads(ctx->nthreads) schedule(static)
  for (size_t i = 0; i < hw; i++)
    for (int c = 0; c < 3; c++)
      dst[i * 3 + c] = nchw[c * hw + i];
  add_ms(ctx, SEG_ST_PRE, t0);
  return run_passes(ctx, err);
}

nala_status nala_seg_forward_frame(nala_seg_ctx *ctx, const nala_image *img, nala_err *err) {
  if (!ctx || !img)
    return nala_fail(err, NALA_E_ARG, "nala_seg_forward_frame: ctx and img must not be NULL");
  NALA_CHECK(ready(ctx, "nala_seg_forward_frame", NALA_SEG_FRAME, err));
  const seg_plan *p = &ctx->cur;
  if (img->h != p->h || img->w != p->w || img->c != 3)
    return nala_fail(err, NALA_E_SHAPE, "nala_seg_forward_frame: image of %dx%d with %d channel(s), the plan is for "
                     "%dx%d with 3", img->h, img->w, img->c, p->h, p->w);
  double t0 = omp_get_wtime();
  char *ws = ws_of(ctx);
  nala_preprocess_meta meta;
  NALA_CHECK(nala_preprocess_into(&ctx->m->pre, img, (float *)(ws + p->full_off), (size_t)p->t_h * p->t_w * 3,
                                  p->scratch_bytes ? (uint8_t *)(ws + p->scratch_off) : NULL, p->scratch_bytes, &meta,
                                  err));
  add_ms(ctx, SEG_ST_PRE, t0);
  return run_passes(ctx, err);
}

static nala_status has_run(const nala_seg_ctx *ctx, const char *caller, nala_err *err) {
  if (!ctx)
    return nala_fail(err, NALA_E_ARG, "%s: ctx is NULL", caller);
  if (!ctx->planned || !ctx->ran)
    return nala_fail(err, NALA_E_STATE, "%s: no forward since the last plan or workspace change", caller);
  return NALA_OK;
}

nala_status nala_seg_logits_shape(const nala_seg_ctx *ctx, int *c, int *h, int *w, nala_err *err) {
  if (!ctx || !c || !h || !w)
    return nala_fail(err, NALA_E_ARG, "nala_seg_logits_shape: NULL argument");
  if (!ctx->planned)
    return nala_fail(err, NALA_E_STATE, "nala_seg_logits_shape: no plan");
  const nala_feat *f = &ctx->cur.g.outs[0];
  *c = f->c, *h = f->h, *w = f->w;
  return NALA_OK;
}

nala_status nala_seg_read_logits(const nala_seg_ctx *ctx, float *dst, size_t cap, nala_err *err) {
  NALA_CHECK(has_run(ctx, "nala_seg_read_logits", err));
  if (!dst)
    return nala_fail(err, NALA_E_ARG, "nala_seg_read_logits: dst is NULL");
  const nala_feat *f = &ctx->cur.g.outs[0];
  size_t hw = (size_t)f->h * f->w, need = hw * f->c;
  if (cap < need)
    return nala_fail(err, NALA_E_ARG, "nala_seg_read_logits: cap %zu floats, the logits [%d,%d,%d] need %zu", cap,
                     f->c, f->h, f->w, need);
  const float *src = (const float *)(ws_of(ctx) + f->off);
  int ld = nala_feat_ld(f);
  for (size_t p = 0; p < hw; p++)
    for (int c = 0; c < f->c; c++)
      dst[(size_t)c * hw + p] = src[p * ld + c];
  return NALA_OK;
}

static nala_status labels_cap(const nala_seg_ctx *ctx, const char *caller, const void *dst, size_t cap,
                              nala_err *err) {
  NALA_CHECK(has_run(ctx, caller, err));
  if (!dst)
    return nala_fail(err, NALA_E_ARG, "%s: dst is NULL", caller);
  size_t need = (size_t)ctx->cur.h * ctx->cur.w;
  if (cap < need)
    return nala_fail(err, NALA_E_ARG, "%s: cap %zu, the %dx%d label map needs %zu", caller, cap, ctx->cur.h,
                     ctx->cur.w, need);
  return NALA_OK;
}

nala_status nala_seg_read_labels(const nala_seg_ctx *ctx, uint8_t *dst, size_t cap, nala_err *err) {
  NALA_CHECK(labels_cap(ctx, "nala_seg_read_labels", dst, cap, err));
  if (ctx->cur.classes > 256)
    return nala_fail(err, NALA_E_ARG, "nala_seg_read_labels: %d classes do not fit uint8 (use "
                     "nala_seg_read_labels_i32)", ctx->cur.classes);
  const int32_t *src = (const int32_t *)(ws_of(ctx) + ctx->cur.labels_off);
  size_t n = (size_t)ctx->cur.h * ctx->cur.w;
  for (size_t i = 0; i < n; i++)
    dst[i] = (uint8_t)src[i];
  return NALA_OK;
}

nala_status nala_seg_read_labels_i32(const nala_seg_ctx *ctx, int32_t *dst, size_t cap, nala_err *err) {
  NALA_CHECK(labels_cap(ctx, "nala_seg_read_labels_i32", dst, cap, err));
  memcpy(dst, ws_of(ctx) + ctx->cur.labels_off, (size_t)ctx->cur.h * ctx->cur.w * sizeof(int32_t));
  return NALA_OK;
}

void nala_seg_ctx_set_profiling(nala_seg_ctx *ctx, int on) {
  if (!ctx)
    return;
  ctx->profiling = on;
  memset(ctx->stage_ms, 0, sizeof ctx->stage_ms);
}

int nala_seg_profile(const nala_seg_ctx *ctx, const char **names, double *ms, int max) {
  if (!ctx || !names || !ms)
    return 0;
  int n = max < SEG_N_STAGES ? max : SEG_N_STAGES;
  for (int i = 0; i < n; i++)
    names[i] = stage_names[i], ms[i] = ctx->stage_ms[i];
  return n;
}
