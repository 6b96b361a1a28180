/* RetinaNet as a nala_det_arch: the network (backbone -> FPN -> RetinaHead, one nala_model_plan)
 * and mmdet 3.x's dense-head test post-processing as one kernel op in the same graph:
 *
 * BaseDenseHead._predict_by_feat_single, per level (mmdet/models/dense_heads/base_dense_head.py):
 *   scores = cls_score.permute(1, 2, 0).reshape(-1, C).sigmoid()
 *   filter_scores_and_topk (mmdet/models/utils/misc.py): keep scores > score_thr (strict), sort
 *     descending, first min(nms_pre, n) (anchor, label) pairs
 *   the kept anchors' deltas, decoded (DeltaXYWHBBoxCoder, max_shape = img_shape)
 * then levels concatenated and _bbox_post_process:
 *   rescale (FRAME only: boxes * float(1 / scale_factor), scale_boxes), drop boxes with
 *   w <= min_bbox_size or h <= min_bbox_size (when min_bbox_size >= 0), mmcv batched_nms by label,
 *   first max_per_img.
 * The sort is torch.sort's order with ties broken by the lower flat index (a stable sort; see
 * det/det.h on NMS ties). It is computed without sorting the level: each thread keeps the best
 * nms_pre of its share in a heap under that total order; the heaps are sorted in place and merged,
 * which gives the same first nms_pre whatever the thread count. Logits at or below the threshold's
 * logit (minus a margin that covers expf rounding) are skipped before the sigmoid.
 * Every buffer is a workspace region sized from nms_pre, the levels and max_per_img. */
#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "det/det.h"
#include "det/detector_internal.h"
#include "heads/retina_head.h"

typedef struct retina_state {
  const nala_retina_head_info *head;
  float base[RETINA_MAX_LEVELS][RETINA_MAX_RATIOS * RETINA_MAX_SCALES][4];
  int nms_pre, max_per_img;
  float score_thr;
  int filter_small; /* min_bbox_size >= 0 */
  float min_bbox_size;
  nala_det_nms_cfg nms;
} retina_state;

typedef struct cand {
  float score;
  int32_t pad;
  int64_t idx; /* flat index into the level's (H * W * A, C) scores */
} cand;

#define POST_MAX_THREADS 256

typedef struct post_plan {
  const retina_state *st;
  int L, A, C, K;
  struct {
    size_t cls, reg;
    int h, w, stride;
  } lv[RETINA_MAX_LEVELS];
  det_plan_info info;
  int nthreads;
  size_t heaps;                              /* nthreads * K cands */
  size_t merged;                             /* K cands: one level's top K */
  size_t anchors, deltas, boxes, scores, labels, keep; /* L * K */
  size_t nms_ws, nms_ws_bytes;
  size_t results;
} post_plan;

static const cJSON *member(const cJSON *o, const char *key) { return o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL; }

static void state_free(void *s) { free(s); }

static nala_status read_test_cfg(const cJSON *tc, retina_state *s, nala_err *err) {
  static const char *const required[] = {"nms_pre", "nms", "max_per_img"};
  for (int i = 0; i < 3; i++)
    if (!member(tc, required[i]))
      return nala_fail(err, NALA_E_FORMAT, "model.test_cfg.%s: required for RetinaNet (mmdet: e.g. nms_pre=1000, "
                                           "nms=dict(type='nms', iou_threshold=0.5), max_per_img=100)",
                       required[i]);
  s->nms_pre = (int)member(tc, "nms_pre")->valuedouble;
  s->max_per_img = (int)member(tc, "max_per_img")->valuedouble;
  /* mmdet cfg.get defaults: score_thr 0, min_bbox_size -1 (no filter); torch compares a float32
   * tensor with a Python number in float32 */
  s->score_thr = member(tc, "score_thr") ? (float)member(tc, "score_thr")->valuedouble : 0.0f;
  double mbs = member(tc, "min_bbox_size") ? member(tc, "min_bbox_size")->valuedouble : -1.0;
  s->filter_small = mbs >= 0;
  s->min_bbox_size = (float)mbs;
  const cJSON *nms = member(tc, "nms");
  s->nms = nala_det_nms_default((float)member(nms, "iou_threshold")->valuedouble);
  if (member(nms, "split_thr"))
    s->nms.split_thr = (size_t)member(nms, "split_thr")->valuedouble;
  s->nms.class_agnostic = cJSON_IsTrue(member(nms, "class_agnostic"));
  s->nms.max_keep = (size_t)s->max_per_img;
  return NALA_OK;
}

static nala_status retina_create(nala_detector *d, const cJSON *model_section, nala_err *err) {
  const nala_module_type *type = NULL;
  const void *head = nala_model_module(d->model, "bbox_head", &type);
  extern const nala_module_type nala_retina_head_module;
  if (!head || type != &nala_retina_head_module)
    return nala_fail(err, NALA_E_FORMAT, "model.bbox_head: RetinaNet needs a RetinaHead");
  if (!nala_model_module(d->model, "neck", NULL))
    return nala_fail(err, NALA_E_FORMAT, "model.neck: RetinaNet needs a neck (FPN)");
  retina_state *s = calloc(1, sizeof *s);
  if (!s)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for RetinaNet");
  d->state = s;
  s->head = nala_retina_head_info_of(head);
  d->num_classes = s->head->num_classes;
  const nala_retina_head_info *h = s->head;
  float scales[RETINA_MAX_SCALES];
  if (h->octave)
    NALA_CHECK(nala_det_octave_scales(h->octave_base_scale, h->n_scales, scales, err));
  else
    memcpy(scales, h->scales, sizeof scales);
  for (int l = 0; l < h->n_levels; l++)
    NALA_CHECK(nala_det_base_anchors((float)h->strides[l], h->ratios, h->n_ratios, scales, h->n_scales,
                                     &s->base[l][0][0], err));
  return read_test_cfg(member(model_section, "test_cfg"), s, err);
}

/* ---- the post-processing kernel ---- */

/* a ranks after b: lower score, or the same score at a higher index */
static inline int worse(const cand *a, const cand *b) {
  return a->score < b->score || (a->score == b->score && a->idx > b->idx);
}

static void sift_down(cand *h, int n, int i) {
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && worse(&h[l], &h[m]))
      m = l;
    if (r < n && worse(&h[r], &h[m]))
      m = r;
    if (m == i)
      return;
    cand t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

static void sift_up(cand *h, int i) {
  while (i > 0) {
    int p = (i - 1) / 2;
    if (!worse(&h[i], &h[p]))
      return;
    cand t = h[i];
    h[i] = h[p];
    h[p] = t;
    i = p;
  }
}

/* Logit below which no sigmoid can exceed s (a margin over expf / division rounding). */
static float skip_below(float s) {
  if (!(s > 0.0f))
    return -INFINITY;
  if (s >= 1.0f)
    return INFINITY;
  double z = log((double)s / (1.0 - (double)s));
  return (float)(z - 1e-3 * (1.0 + fabs(z)));
}

/* torch's sigmoid on float32: 1 / (1 + exp(-x)) */
static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* Best K of scores[lo, hi) above thr into heap h (worst at the root); returns how many. */
static int scan(const float *logits, int64_t lo, int64_t hi, float thr, int K, cand *h) {
  int n = 0;
  const float skip0 = skip_below(thr);
  float skip = skip0;
  for (int64_t i = lo; i < hi; i++) {
    float x = logits[i];
    if (!(x > skip))
      continue;
    float s = sigmoidf(x);
    if (!(s > thr))
      continue;
    if (n < K) {
      h[n] = (cand){s, 0, i};
      sift_up(h, n++);
      if (n == K) {
        float t = skip_below(h[0].score);
        skip = t > skip0 ? t : skip0;
      }
    } else if (s > h[0].score) { /* equal scores at higher indices rank after the root */
      h[0] = (cand){s, 0, i};
      sift_down(h, n, 0);
      float t = skip_below(h[0].score);
      skip = t > skip0 ? t : skip0;
    }
  }
  return n;
}

/* Heap h of n (worst at the root) into best-first order, in place (heapsort: no allocation). */
static void heap_to_sorted(cand *h, int n) {
  for (int end = n - 1; end > 0; end--) {
    cand t = h[0];
    h[0] = h[end];
    h[end] = t;
    sift_down(h, end, 0);
  }
}

/* One level: the first min(K, n above thr) in mmdet's order into out (returns the count). Each
 * thread's heap is sorted in place, then the sorted runs are merged (no allocation in forward). */
static int level_topk(const post_plan *p, char *ws, int l, int nthreads, cand *out) {
  const float *logits = (const float *)(ws + p->lv[l].cls);
  int64_t n = (int64_t)p->lv[l].h * p->lv[l].w * p->A * p->C;
  cand *heaps = (cand *)(ws + p->heaps);
  int T = nthreads < p->nthreads ? nthreads : p->nthreads;
  if (T > POST_MAX_THREADS)
    T = POST_MAX_THREADS;
  if (T < 1 || n < 65536)
    T = 1;
  int counts[POST_MAX_THREADS] = {0}, heads[POST_MAX_THREADS] = {0};
#pragma omp parallel num_threads(T)
  {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    int64_t lo = n * t / nt, hi = n * (t + 1) / nt;
    cand *h = heaps + (size_t)t * p->K;
    counts[t] = scan(logits, lo, hi, p->st->score_thr, p->K, h);
    heap_to_sorted(h, counts[t]);
  }
  int m = 0;
  while (m < p->K) {
    int best = -1;
    for (int t = 0; t < T; t++)
      if (heads[t] < counts[t] &&
          (best < 0 || worse(&heaps[(size_t)best * p->K + heads[best]], &heaps[(size_t)t * p->K + heads[t]])))
        best = t;
    if (best < 0)
      break;
    out[m++] = heaps[(size_t)best * p->K + heads[best]++];
  }
  return m;
}

static nala_status post_run(const void *args, char *ws, int nthreads, nala_err *err) {
  const post_plan *p = *(const post_plan *const *)args;
  const retina_state *st = p->st;
  float *anchors = (float *)(ws + p->anchors), *deltas = (float *)(ws + p->deltas);
  float *boxes = (float *)(ws + p->boxes), *scores = (float *)(ws + p->scores);
  int32_t *labels = (int32_t *)(ws + p->labels), *keep = (int32_t *)(ws + p->keep);
  cand *merged = (cand *)(ws + p->merged);
  size_t total = 0;
  for (int l = 0; l < p->L; l++) {
    int k = level_topk(p, ws, l, nthreads, merged);
    const float *reg = (const float *)(ws + p->lv[l].reg);
    const int A = p->A, C = p->C, w = p->lv[l].w;
    const float stride = (float)p->lv[l].stride;
    for (int j = 0; j < k; j++, total++) {
      int64_t anchor = merged[j].idx / C;
      int64_t pos = anchor / A;
      int a = (int)(anchor % A);
      /* mmdet grid priors: base anchor + (x * stride, y * stride), y outer, x inner, anchor fastest */
      float sx = (float)(pos % w) * stride, sy = (float)(pos / w) * stride;
      const float *b = st->base[l][a];
      float *an = anchors + 4 * total;
      an[0] = b[0] + sx, an[1] = b[1] + sy, an[2] = b[2] + sx, an[3] = b[3] + sy;
      memcpy(deltas + 4 * total, reg + (size_t)anchor * 4, 4 * sizeof(float));
      scores[total] = merged[j].score;
      labels[total] = (int32_t)(merged[j].idx % C);
    }
  }
  nala_det_delta_cfg dc = nala_det_delta_default(1.0f, 1.0f, p->info.img_h, p->info.img_w);
  memcpy(dc.means, st->head->means, sizeof dc.means);
  memcpy(dc.stds, st->head->stds, sizeof dc.stds);
  dc.clip = st->head->clip_border;
  NALA_CHECK(nala_det_delta_decode(&dc, anchors, deltas, total, 1, boxes, err));
  if (p->info.rescale)
    NALA_CHECK(nala_det_rescale_boxes(boxes, total, p->info.w_scale, p->info.h_scale, NALA_DET_RESCALE_MUL_INVERSE,
                                      err));
  size_t m = total;
  if (st->filter_small) {
    m = 0;
    for (size_t i = 0; i < total; i++) {
      const float *b = boxes + 4 * i;
      if (!(b[2] - b[0] > st->min_bbox_size && b[3] - b[1] > st->min_bbox_size))
        continue;
      memmove(boxes + 4 * m, b, 4 * sizeof(float));
      scores[m] = scores[i];
      labels[m++] = labels[i];
    }
  }
  det_results_view r = det_results_at(ws, p->results, st->max_per_img);
  size_t n_keep = 0;
  if (m)
    NALA_CHECK(nala_det_batched_nms(boxes, scores, labels, m, &st->nms, keep, &n_keep, ws + p->nms_ws,
                                    p->nms_ws_bytes, err));
  if (n_keep > (size_t)st->max_per_img)
    n_keep = (size_t)st->max_per_img;
  for (size_t i = 0; i < n_keep; i++) {
    memcpy(r.boxes + 4 * i, boxes + 4 * (size_t)keep[i], 4 * sizeof(float));
    r.scores[i] = scores[keep[i]];
    r.labels[i] = labels[keep[i]];
  }
  *r.n = (int32_t)n_keep;
  return NALA_OK;
}

static nala_status retina_plan(const nala_detector *d, nala_graph *g, const det_plan_info *info, det_layout *lay,
                               nala_err *err) {
  const retina_state *st = d->state;
  const nala_retina_head_info *h = st->head;
  nala_feat outs[NALA_GRAPH_MAX_IO];
  int n = 0;
  NALA_CHECK(nala_model_plan(d->model, 0, d->model->n, g, &g->input, 1, outs, &n, err));
  int L = h->n_levels;
  if (n != 2 * L)
    return nala_fail(err, NALA_E_ARG, "RetinaNet: the head gives %d maps for %d levels", n, L);
  char name[32];
  for (int l = 0; l < L; l++) {
    snprintf(name, sizeof name, "cls_scores_%d", l);
    NALA_CHECK(det_layout_add_map(lay, name, &outs[l], err));
  }
  for (int l = 0; l < L; l++) {
    snprintf(name, sizeof name, "bbox_preds_%d", l);
    NALA_CHECK(det_layout_add_map(lay, name, &outs[L + l], err));
  }
  post_plan *p = nala_graph_alloc(g, sizeof *p, err);
  if (!p)
    return NALA_E_NOMEM;
  memset(p, 0, sizeof *p);
  p->st = st;
  p->L = L, p->A = h->n_base, p->C = h->num_classes, p->K = st->nms_pre;
  p->info = *info;
  p->nthreads = g->nthreads > 0 ? g->nthreads : 1;
  size_t cap = 0; /* candidates over all levels: at most K per level, never more than the level has */
  for (int l = 0; l < L; l++) {
    p->lv[l].cls = outs[l].off, p->lv[l].reg = outs[L + l].off;
    p->lv[l].h = outs[l].h, p->lv[l].w = outs[l].w, p->lv[l].stride = h->strides[l];
    size_t level = (size_t)outs[l].h * outs[l].w * p->A * p->C;
    cap += level < (size_t)p->K ? level : (size_t)p->K;
  }
  size_t K = (size_t)p->K, T = (size_t)(p->nthreads < POST_MAX_THREADS ? p->nthreads : POST_MAX_THREADS);
  p->heaps = nala_graph_region(g, T * K * sizeof(cand));
  p->merged = nala_graph_region(g, K * sizeof(cand));
  p->anchors = nala_graph_region(g, cap * 4 * sizeof(float));
  p->deltas = nala_graph_region(g, cap * 4 * sizeof(float));
  p->boxes = nala_graph_region(g, cap * 4 * sizeof(float));
  p->scores = nala_graph_region(g, cap * sizeof(float));
  p->labels = nala_graph_region(g, cap * sizeof(int32_t));
  p->keep = nala_graph_region(g, cap * sizeof(int32_t));
  p->nms_ws_bytes = nala_det_nms_ws_size(cap);
  p->nms_ws = nala_graph_region(g, p->nms_ws_bytes);
  lay->max_dets = st->max_per_img;
  lay->results_off = p->results = nala_graph_region(g, det_results_bytes(st->max_per_img));
  const post_plan *arg = p;
  return nala_graph_add_kernel(g, post_run, &arg, sizeof arg, nala_graph_bucket(g, "postprocess"), err);
}

const nala_det_arch nala_det_arch_retinanet = {
    .type = "RetinaNet", .has_masks = 0, .create = retina_create, .free = state_free, .plan = retina_plan};
