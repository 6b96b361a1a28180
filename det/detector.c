/* The detector object (include/nala/detector.h): model root, contexts, plans, forward, results.
 * What is architecture-specific lives behind nala_det_arch (det/detector_internal.h). */
#include <cjson/cJSON.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "det/det.h"
#include "det/detector_internal.h"

static const nala_det_arch *const archs[] = {&nala_det_arch_retinanet, &nala_det_arch_maskrcnn};
enum { N_ARCHS = sizeof archs / sizeof *archs };

struct nala_det_ctx {
  const nala_detector *d;
  nala_nn_ctx nn;
  nala_det_input building; /* kind the next build makes */
  int has_results;
  int profiling;
  double pre_ms;
};

/* ---- results and layout helpers ---- */

static size_t align64(size_t n) { return (n + 63) / 64 * 64; }

size_t det_results_bytes(int max_dets) {
  size_t m = (size_t)(max_dets > 0 ? max_dets : 1);
  return 64 + align64(m * 16) + align64(m * 4) + align64(m * 4);
}

det_results_view det_results_at(char *ws, size_t off, int max_dets) {
  size_t m = (size_t)(max_dets > 0 ? max_dets : 1);
  char *p = ws + off;
  det_results_view v = {.n = (int32_t *)p,
                        .boxes = (float *)(p + 64),
                        .scores = (float *)(p + 64 + align64(m * 16)),
                        .labels = (int32_t *)(p + 64 + align64(m * 16) + align64(m * 4))};
  return v;
}

nala_status det_layout_add_map(det_layout *lay, const char *name, const nala_feat *f, nala_err *err) {
  if (lay->n_raw == DET_MAX_RAW)
    return nala_fail(err, NALA_E_ARG, "detector: more than %d parity tensors", DET_MAX_RAW);
  det_raw_entry *r = &lay->raw[lay->n_raw++];
  memset(r, 0, sizeof *r);
  snprintf(r->name, sizeof r->name, "%s", name);
  r->is_map = 1;
  r->feat = *f;
  r->dtype = NALA_DET_F32;
  r->ndim = 4;
  r->shape[0] = 1, r->shape[1] = f->c, r->shape[2] = f->h, r->shape[3] = f->w;
  r->count_off = SIZE_MAX;
  return NALA_OK;
}

nala_status det_layout_add_array(det_layout *lay, const char *name, int dtype, int ndim, const int64_t *shape,
                                 size_t off, size_t count_off, nala_err *err) {
  if (lay->n_raw == DET_MAX_RAW || ndim < 1 || ndim > 4)
    return nala_fail(err, NALA_E_ARG, "detector: parity tensor %s (%d dims, %d listed)", name, ndim, lay->n_raw);
  det_raw_entry *r = &lay->raw[lay->n_raw++];
  memset(r, 0, sizeof *r);
  snprintf(r->name, sizeof r->name, "%s", name);
  r->dtype = dtype;
  r->ndim = ndim;
  for (int i = 0; i < ndim; i++)
    r->shape[i] = shape[i];
  r->off = off;
  r->count_off = count_off;
  return NALA_OK;
}

/* ---- model ---- */

void nala_detector_free(nala_detector *d) {
  if (!d)
    return;
  if (d->arch && d->arch->free)
    d->arch->free(d->state);
  nala_model_free(d->model);
  free(d);
}

nala_status nala_detector_create(const nala_config *cfg, nala_weights *weights, const nala_detector_opts *opts,
                                 nala_detector **out, nala_err *err) {
  if (!cfg || !weights || !out)
    return nala_fail(err, NALA_E_ARG, "nala_detector_create: cfg, weights and out must not be NULL");
  *out = NULL;
  const nala_model_cfg *mc = nala_config_model(cfg);
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(nala_config_json(cfg), "model");
  if (!mc || !model)
    return nala_fail(err, NALA_E_FORMAT, "config has no \"model\" section");
  const nala_det_arch *arch = NULL;
  for (int i = 0; i < N_ARCHS; i++)
    if (!strcmp(archs[i]->type, mc->type))
      arch = archs[i];
  if (!arch) {
    char known[128] = "";
    for (int i = 0, n = 0; i < N_ARCHS && n < (int)sizeof known; i++)
      n += snprintf(known + n, sizeof known - (size_t)n, i ? ", %s" : "%s", archs[i]->type);
    return nala_fail(err, NALA_E_UNSUPPORTED, "model.type: \"%s\" is not a detector this build runs (%s)", mc->type,
                     known);
  }
  nala_detector *d = calloc(1, sizeof *d);
  if (!d)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for a detector");
  d->arch = arch;
  nala_status st = nala_preprocess_from_config(&mc->preprocess, NALA_NHWC, &d->pre, err);
  if (!st)
    st = nala_model_create(model, weights, opts ? opts->isa : NALA_ISA_AUTO, &d->model, err);
  if (!st)
    st = arch->create(d, model, err);
  if (st) {
    nala_detector_free(d);
    return st;
  }
  *out = d;
  return NALA_OK;
}

int nala_detector_num_classes(const nala_detector *d) { return d ? d->num_classes : 0; }
int nala_detector_has_masks(const nala_detector *d) { return d ? d->arch->has_masks : 0; }
nala_isa nala_detector_isa(const nala_detector *d) { return d ? d->model->rt->isa : NALA_ISA_AUTO; }

/* ---- contexts and plans ---- */

static nala_status build(const void *owner, nala_graph *g, int h, int w, nala_err *err) {
  const nala_det_ctx *c = owner;
  const nala_detector *d = c->d;
  det_layout *lay = nala_graph_alloc(g, sizeof *lay, err);
  if (!lay)
    return NALA_E_NOMEM;
  memset(lay, 0, sizeof *lay);
  g->user = lay;
  lay->kind = c->building;
  lay->in_h = h, lay->in_w = w;
  det_plan_info info = {.kind = c->building, .img_h = h, .img_w = w, .nthreads = g->nthreads};
  if (c->building == NALA_DET_FRAME) {
    NALA_CHECK(nala_preprocess_out_size(&d->pre, h, w, &lay->pre, err));
    const nala_preprocess_meta *m = &lay->pre.meta;
    g->input = nala_graph_feat(g, 3, m->pad_h, m->pad_w);
    lay->pre_scratch_off = nala_graph_region(g, lay->pre.scratch_bytes);
    info.img_h = m->img_h, info.img_w = m->img_w;
    info.rescale = 1;
    info.w_scale = m->w_scale, info.h_scale = m->h_scale;
  } else {
    g->input = nala_graph_feat(g, 3, h, w);
    lay->pre.meta = (nala_preprocess_meta){h, w, h, w, h, w, 1.0, 1.0};
  }
  return d->arch->plan(d, g, &info, lay, err);
}

nala_status nala_det_ctx_create(const nala_detector *d, int nthreads, nala_det_ctx **out, nala_err *err) {
  if (!d || !out)
    return nala_fail(err, NALA_E_ARG, "nala_det_ctx_create: model and out must not be NULL");
  nala_det_ctx *c = calloc(1, sizeof *c);
  if (!c)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for a detector context");
  c->d = d;
  nala_status st = nala_nn_ctx_init(&c->nn, c, build, d->model->rt->engine, nthreads, err);
  if (st) {
    nala_nn_ctx_release(&c->nn);
    free(c);
    return st;
  }
  *out = c;
  return NALA_OK;
}

void nala_det_ctx_free(nala_det_ctx *c) {
  if (!c)
    return;
  nala_nn_ctx_release(&c->nn);
  free(c);
}

static const det_layout *layout_of(const nala_graph *g) { return g->user; }

static nala_status check_plan_args(const char *caller, const nala_det_ctx *c, nala_det_input kind, int h, int w,
                                   nala_err *err) {
  if (!c)
    return nala_fail(err, NALA_E_ARG, "%s: ctx is NULL", caller);
  if (kind != NALA_DET_FRAME && kind != NALA_DET_TENSOR)
    return nala_fail(err, NALA_E_ARG, "%s: unknown input kind %d", caller, (int)kind);
  if (h <= 0 || w <= 0 || h > 16384 || w > 16384)
    return nala_fail(err, NALA_E_ARG, "%s: input size %dx%d outside 1..16384", caller, h, w);
  return NALA_OK;
}

/* The runtime keys plans by size only: a pending build of the other input kind is dropped first. */
static void drop_other_pending(nala_det_ctx *c, nala_det_input kind) {
  if (c->nn.has_pending && layout_of(&c->nn.pending)->kind != kind) {
    nala_graph_release(&c->nn.pending);
    c->nn.has_pending = 0;
  }
}

nala_status nala_det_workspace_size(nala_det_ctx *c, nala_det_input kind, int h, int w, size_t *bytes,
                                    nala_err *err) {
  NALA_CHECK(check_plan_args("nala_det_workspace_size", c, kind, h, w, err));
  if (!bytes)
    return nala_fail(err, NALA_E_ARG, "nala_det_workspace_size: bytes is NULL");
  drop_other_pending(c, kind);
  int planned = c->nn.planned;
  /* the current plan of the other kind at the same size must not answer: hide it for the query */
  if (planned && layout_of(&c->nn.graph)->kind != kind)
    c->nn.planned = 0;
  c->building = kind;
  nala_status st = nala_nn_ctx_workspace_size(&c->nn, h, w, bytes, err);
  c->nn.planned = planned;
  return st;
}

nala_status nala_det_plan(nala_det_ctx *c, nala_det_input kind, int h, int w, nala_err *err) {
  NALA_CHECK(check_plan_args("nala_det_plan", c, kind, h, w, err));
  drop_other_pending(c, kind);
  if (c->nn.planned && layout_of(&c->nn.graph)->kind != kind)
    c->nn.planned = 0; /* rebuilt; the old graph is released when the new one takes its place */
  c->building = kind;
  c->has_results = 0;
  return nala_nn_ctx_plan(&c->nn, h, w, err);
}

nala_status nala_det_set_workspace(nala_det_ctx *c, void *buffer, size_t bytes, nala_err *err) {
  if (!c || !buffer)
    return nala_fail(err, NALA_E_ARG, "nala_det_set_workspace: ctx and buffer must not be NULL");
  c->has_results = 0;
  return nala_nn_ctx_set_workspace(&c->nn, buffer, bytes, err);
}

nala_status nala_det_plan_meta(const nala_det_ctx *c, nala_preprocess_meta *meta, nala_err *err) {
  if (!c || !meta)
    return nala_fail(err, NALA_E_ARG, "nala_det_plan_meta: ctx and meta must not be NULL");
  if (!c->nn.planned)
    return nala_fail(err, NALA_E_STATE, "nala_det_plan_meta: no plan (call nala_det_plan first)");
  *meta = layout_of(&c->nn.graph)->pre.meta;
  return NALA_OK;
}

/* ---- forward ---- */

static nala_status ready(nala_det_ctx *c, const void *input, nala_det_input kind, const char *caller,
                         nala_err *err) {
  if (!c || !input)
    return nala_fail(err, NALA_E_ARG, "%s: ctx and input must not be NULL", caller);
  NALA_CHECK(nala_nn_ctx_ready(&c->nn, caller, err));
  if (layout_of(&c->nn.graph)->kind != kind)
    return nala_fail(err, NALA_E_STATE, "%s: the plan is for %s input", caller,
                     kind == NALA_DET_FRAME ? "tensor (NALA_DET_TENSOR)" : "frame (NALA_DET_FRAME)");
  return NALA_OK;
}

static nala_status run(nala_det_ctx *c, nala_err *err) {
  c->has_results = 0;
  NALA_CHECK(nala_nn_ctx_run(&c->nn, err));
  c->has_results = 1;
  return NALA_OK;
}

nala_status nala_det_forward_frame(nala_det_ctx *c, const nala_image *img, nala_err *err) {
  NALA_CHECK(ready(c, img, NALA_DET_FRAME, "nala_det_forward_frame", err));
  const nala_graph *g = &c->nn.graph;
  const det_layout *lay = layout_of(g);
  if (img->h != lay->in_h || img->w != lay->in_w || img->c != 3)
    return nala_fail(err, NALA_E_SHAPE, "nala_det_forward_frame: frame %dx%dx%d, the plan is for %dx%dx3", img->h,
                     img->w, img->c, lay->in_h, lay->in_w);
  double t0 = c->profiling ? omp_get_wtime() : 0;
  int saved = nala_threads_enter(g->nthreads);
  nala_preprocess_meta meta;
  nala_status st = nala_preprocess_into(&c->d->pre, img, nala_nn_ctx_at(&c->nn, g->input.off),
                                        (size_t)3 * g->input.h * g->input.w,
                                        (uint8_t *)nala_nn_ctx_at(&c->nn, lay->pre_scratch_off),
                                        lay->pre.scratch_bytes, &meta, err);
  nala_threads_leave(saved);
  if (st)
    return st;
  if (c->profiling)
    c->pre_ms += 1e3 * (omp_get_wtime() - t0);
  return run(c, err);
}

nala_status nala_det_forward_tensor(nala_det_ctx *c, const float *nchw, nala_err *err) {
  NALA_CHECK(ready(c, nchw, NALA_DET_TENSOR, "nala_det_forward_tensor", err));
  const nala_graph *g = &c->nn.graph;
  float *dst = nala_nn_ctx_at(&c->nn, g->input.off);
  size_t hw = (size_t)g->input.h * g->input.w;
#pragma omp parallel for num_threads(g->nthreads) schedule(static)
  for (size_t p = 0; p < hw; p++)
    for (int ch = 0; ch < 3; ch++)
      dst[p * 3 + ch] = nchw[ch * hw + p];
  return run(c, err);
}

/* ---- results ---- */

static det_results_view results(const nala_det_ctx *c) {
  const det_layout *lay = layout_of(&c->nn.graph);
  return det_results_at(c->nn.ws, lay->results_off, lay->max_dets);
}

int nala_det_count(const nala_det_ctx *c) {
  if (!c || !c->has_results)
    return 0;
  return *results(c).n;
}

nala_status nala_det_read(const nala_det_ctx *c, nala_detection *dst, int max, int *n, nala_err *err) {
  if (!c || !n || (max > 0 && !dst) || max < 0)
    return nala_fail(err, NALA_E_ARG, "nala_det_read: NULL argument or max %d < 0", max);
  if (!c->has_results)
    return nala_fail(err, NALA_E_STATE, "nala_det_read: no results (run a forward first)");
  det_results_view v = results(c);
  int k = *v.n < max ? *v.n : max;
  for (int i = 0; i < k; i++)
    dst[i] = (nala_detection){v.boxes[4 * i], v.boxes[4 * i + 1], v.boxes[4 * i + 2], v.boxes[4 * i + 3],
                              v.scores[i], v.labels[i]};
  *n = k;
  return NALA_OK;
}

/* Detection i's mask: mmdet's CPU paste of its probabilities with its (rescaled) box at the size the
 * caller planned, thresholded at mask_thr_binary (det/mask_paste.c). */
static nala_status mask_checks(const nala_det_ctx *c, int i, const char *caller, nala_err *err) {
  if (!c)
    return nala_fail(err, NALA_E_ARG, "%s: ctx is NULL", caller);
  if (!c->d->arch->has_masks)
    return nala_fail(err, NALA_E_UNSUPPORTED, "%s: %s predicts no masks", caller, c->d->arch->type);
  if (!c->has_results)
    return nala_fail(err, NALA_E_STATE, "%s: no results (run a forward first)", caller);
  if (i < 0 || i >= nala_det_count(c))
    return nala_fail(err, NALA_E_ARG, "%s: detection %d of %d", caller, i, nala_det_count(c));
  return NALA_OK;
}

nala_status nala_det_read_mask(const nala_det_ctx *c, int i, uint8_t *dst, size_t cap, nala_err *err) {
  NALA_CHECK(mask_checks(c, i, "nala_det_read_mask", err));
  const det_layout *lay = layout_of(&c->nn.graph);
  size_t need = (size_t)lay->in_h * lay->in_w;
  if (!dst || cap < need)
    return nala_fail(err, NALA_E_ARG, "nala_det_read_mask: buffer of %zu bytes, a %dx%d mask needs %zu", cap,
                     lay->in_h, lay->in_w, need);
  det_results_view v = results(c);
  const float *probs = nala_nn_ctx_at(&c->nn, lay->masks_off) + (size_t)i * lay->mask_h * lay->mask_w;
  return nala_det_paste_mask(probs, lay->mask_h, lay->mask_w, v.boxes + 4 * (size_t)i, lay->mask_thr, lay->in_h,
                             lay->in_w, dst, (size_t)lay->in_w, err);
}

nala_status nala_det_read_mask_rle(const nala_det_ctx *c, int i, nala_rle *out, nala_err *err) {
  NALA_CHECK(mask_checks(c, i, "nala_det_read_mask_rle", err));
  if (!out)
    return nala_fail(err, NALA_E_ARG, "nala_det_read_mask_rle: out is NULL");
  const det_layout *lay = layout_of(&c->nn.graph);
  size_t h = (size_t)lay->in_h, w = (size_t)lay->in_w;
  uint8_t *rows = malloc(h * w), *cols = malloc(h * w);
  nala_status st = rows && cols ? nala_det_read_mask(c, i, rows, h * w, err)
                                : nala_fail(err, NALA_E_NOMEM, "out of memory for a %zux%zu mask", h, w);
  if (!st) {
    for (size_t y = 0; y < h; y++) /* COCO RLE runs down the columns */
      for (size_t x = 0; x < w; x++)
        cols[x * h + y] = rows[y * w + x];
    st = nala_rle_encode(cols, (uint32_t)h, (uint32_t)w, out, err);
  }
  free(rows);
  free(cols);
  return st;
}

int nala_det_raw_count(const nala_det_ctx *c) {
  return c && c->nn.planned ? layout_of(&c->nn.graph)->n_raw : 0;
}

nala_status nala_det_raw_at(const nala_det_ctx *c, int i, nala_det_raw *out, nala_err *err) {
  if (!c || !out || i < 0 || i >= nala_det_raw_count(c))
    return nala_fail(err, NALA_E_ARG, "nala_det_raw_at: no parity tensor %d (%d planned)", i, nala_det_raw_count(c));
  const det_raw_entry *r = &layout_of(&c->nn.graph)->raw[i];
  memset(out, 0, sizeof *out);
  out->name = r->name;
  out->dtype = (nala_det_dtype)r->dtype;
  out->ndim = r->ndim;
  for (int k = 0; k < 4; k++)
    out->shape[k] = r->shape[k];
  if (r->is_map) {
    out->nhwc = 1;
    out->ld = nala_feat_ld(&r->feat);
    out->data = nala_nn_ctx_at(&c->nn, r->feat.off);
  } else {
    out->data = nala_nn_ctx_at(&c->nn, r->off);
    if (r->count_off != SIZE_MAX)
      out->shape[0] = c->has_results ? *(const int32_t *)nala_nn_ctx_at(&c->nn, r->count_off) : 0;
  }
  return NALA_OK;
}

/* ---- profiling ---- */

void nala_det_ctx_set_profiling(nala_det_ctx *c, int on) {
  if (!c)
    return;
  c->profiling = on;
  c->pre_ms = 0;
  nala_nn_ctx_set_profiling(&c->nn, on);
}

/* Stages in report order; graph buckets with other names (the backbone's own) count as "backbone". */
static const char *const stages[] = {"preprocess", "backbone",  "neck",  "dense head",
                                     "rpn head",   "roi heads", "masks", "postprocess"};
enum { N_STAGES = sizeof stages / sizeof *stages };

int nala_det_profile(const nala_det_ctx *c, const char **names, double *ms, int max) {
  if (!c || !names || !ms)
    return 0;
  double t[N_STAGES] = {c->pre_ms};
  int present[N_STAGES] = {1, 1};
  const nala_graph *g = &c->nn.graph;
  for (int b = 0; b < g->n_buckets; b++) {
    int s = 1;
    for (int k = 2; k < N_STAGES; k++)
      if (!strcmp(g->bucket_names[b], stages[k]))
        s = k;
    t[s] += g->bucket_ms[b];
    present[s] = 1;
  }
  int n = 0;
  for (int s = 0; s < N_STAGES && n < max; s++)
    if (present[s]) {
      names[n] = stages[s];
      ms[n++] = t[s];
    }
  return n;
}
