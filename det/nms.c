/* Greedy NMS and mmcv batched_nms (mmcv/ops/nms.py), offset 0 (mmdet >= 2.0 boxes have no +1).
 *
 * Batched NMS by id: we reproduce mmcv's decisions rather than pick one method. mmcv adds
 * offset = id * (max(boxes) + 1) to every box (unless class_agnostic) and then, below split_thr
 * (10000) boxes, runs one NMS over all offset boxes; from split_thr on it loops over the ids and
 * runs NMS per id on the same offset boxes, then re-sorts the kept boxes by score. The offset is not
 * neutral: IoUs are computed on offset coordinates, so float rounding of (x + offset) can move an
 * IoU across the threshold, and boxes with negative coordinates can meet boxes of another id (a
 * box of id 1 at x = -11 lands on id 0's x = 0 when the offset is 11). Exact per-id NMS merged by
 * score would differ from mmdet in exactly those cases, so both paths here run on mmcv's offset
 * boxes; the per-id path is the same greedy pass with suppression limited to equal ids (per-id
 * greedy orders are subsequences of the global one, and mmcv's final re-sort gives that global
 * order back). mmcv also loops per id for class_agnostic calls with >= split_thr boxes (on raw
 * boxes); we do the same.
 *
 * Both versions stop once max_keep boxes are kept: greedy order makes the first max_keep of the
 * full result the same, which is mmdet's dets[:max_per_img]. */
#include <math.h>
#include <string.h>

#include "det/det.h"

/* Workspace carving, 64-byte aligned slices. */
typedef struct ws_cursor {
  unsigned char *p;
  size_t left;
} ws_cursor;

static void *ws_take(ws_cursor *c, size_t bytes) {
  size_t pad = (64 - ((uintptr_t)c->p & 63)) & 63;
  if (pad + bytes > c->left)
    return NULL;
  void *out = c->p + pad;
  c->p += pad + bytes;
  c->left -= pad + bytes;
  return out;
}

/* The larger of the fast layout (order, merge buffer, x1 y1 x2 y2 area id index, a dead flag: 37
 * bytes per box) and the reference's (three index lists, two flags, offset boxes: 30 bytes per box),
 * plus up to 63 bytes of alignment for each of at most 11 slices. */
size_t nala_det_nms_ws_size(size_t n) { return 56 * n + 16 * 64; }

nala_det_nms_cfg nala_det_nms_default(float iou_thr) {
  nala_det_nms_cfg cfg = {iou_thr, 0, 10000, 0};
  return cfg;
}

/* torch.sort(descending) order: larger first, NaN before everything. */
static inline int score_before(float a, float b) { return (isnan(a) && !isnan(b)) || a > b; }

/* Stable descending sort of idx[0..m) by scores (bottom-up merge sort; tmp holds m). */
static void stable_sort_desc(int32_t *idx, int32_t *tmp, size_t m, const float *scores) {
  int32_t *src = idx, *dst = tmp;
  for (size_t width = 1; width < m; width *= 2) {
    for (size_t lo = 0; lo < m; lo += 2 * width) {
      size_t mid = lo + width < m ? lo + width : m, hi = lo + 2 * width < m ? lo + 2 * width : m;
      size_t a = lo, b = mid, o = lo;
      while (a < mid && b < hi)
        dst[o++] = score_before(scores[src[b]], scores[src[a]]) ? src[b++] : src[a++];
      while (a < mid)
        dst[o++] = src[a++];
      while (b < hi)
        dst[o++] = src[b++];
    }
    int32_t *t = src;
    src = dst, dst = t;
  }
  if (src != idx)
    memcpy(idx, src, m * sizeof *idx);
}

void nala_det_sort_desc(int32_t *idx, int32_t *tmp, size_t m, const float *scores) {
  stable_sort_desc(idx, tmp, m, scores);
}

static nala_status check_args(const float *boxes, const float *scores, size_t n, const int32_t *keep,
                              const size_t *n_keep, const void *ws, size_t ws_bytes, const char *what, nala_err *err) {
  if (!n_keep || (n && (!boxes || !scores || !keep)))
    return nala_fail(err, NALA_E_ARG, "%s: NULL boxes, scores, keep or count", what);
  if (n > (size_t)INT32_MAX)
    return nala_fail(err, NALA_E_ARG, "%s: %zu boxes exceed the int32 index range", what, n);
  if (n && (!ws || ws_bytes < nala_det_nms_ws_size(n)))
    return nala_fail(err, NALA_E_NOMEM, "%s: workspace of %zu bytes, %zu boxes need %zu", what, ws_bytes, n,
                     nala_det_nms_ws_size(n));
  return NALA_OK;
}

/* ---------------------------------------------------------------- reference: torchvision's loop */

/* Greedy NMS over the boxes idx[0..m) of `boxes` (mmcv's loop, areas from the same coordinates).
 * Sorts idx in place; writes kept original indices to keep; returns their count. */
static size_t greedy_ref(const float *boxes, const float *scores, int32_t *idx, int32_t *tmp, unsigned char *sup,
                         size_t m, float thr, int32_t *keep) {
  stable_sort_desc(idx, tmp, m, scores);
  memset(sup, 0, m);
  size_t kept = 0;
  for (size_t a = 0; a < m; a++) {
    if (sup[a])
      continue;
    const float *bi = boxes + 4 * (size_t)idx[a];
    keep[kept++] = idx[a];
    float iarea = (bi[2] - bi[0]) * (bi[3] - bi[1]);
    for (size_t b = a + 1; b < m; b++) {
      if (sup[b])
        continue;
      const float *bj = boxes + 4 * (size_t)idx[b];
      float jarea = (bj[2] - bj[0]) * (bj[3] - bj[1]);
      float xx1 = fmaxf(bi[0], bj[0]), yy1 = fmaxf(bi[1], bj[1]);
      float xx2 = fminf(bi[2], bj[2]), yy2 = fminf(bi[3], bj[3]);
      float w = fmaxf(0.0f, xx2 - xx1), h = fmaxf(0.0f, yy2 - yy1);
      float inter = w * h;
      float iou = inter / (iarea + jarea - inter);
      if (iou > thr)
        sup[b] = 1;
    }
  }
  return kept;
}

nala_status nala_det_nms_ref(const float *boxes, const float *scores, size_t n, float iou_thr, size_t max_keep,
                             int32_t *keep, size_t *n_keep, void *ws, size_t ws_bytes, nala_err *err) {
  NALA_CHECK(check_args(boxes, scores, n, keep, n_keep, ws, ws_bytes, "nms", err));
  *n_keep = 0;
  if (!n)
    return NALA_OK;
  ws_cursor c = {ws, ws_bytes};
  int32_t *idx = ws_take(&c, n * 4), *tmp = ws_take(&c, n * 4);
  unsigned char *sup = ws_take(&c, n);
  for (size_t i = 0; i < n; i++)
    idx[i] = (int32_t)i;
  size_t kept = greedy_ref(boxes, scores, idx, tmp, sup, n, iou_thr, keep);
  *n_keep = max_keep && kept > max_keep ? max_keep : kept;
  return NALA_OK;
}

/* mmcv: boxes + id * (boxes.max() + 1), in float32 like the torch expression. */
static void offset_boxes(const float *boxes, const int32_t *ids, size_t n, float *out) {
  float max_coord = boxes[0];
  for (size_t i = 0; i < 4 * n; i++)
    max_coord = score_before(boxes[i], max_coord) ? boxes[i] : max_coord;
  float step = max_coord + 1.0f;
  for (size_t i = 0; i < n; i++) {
    float off = (float)ids[i] * step;
    for (int k = 0; k < 4; k++)
      out[4 * i + k] = boxes[4 * i + k] + off;
  }
}

nala_status nala_det_batched_nms_ref(const float *boxes, const float *scores, const int32_t *ids, size_t n,
                                     const nala_det_nms_cfg *cfg, int32_t *keep, size_t *n_keep, void *ws,
                                     size_t ws_bytes, nala_err *err) {
  NALA_CHECK(check_args(boxes, scores, n, keep, n_keep, ws, ws_bytes, "batched nms", err));
  if (!cfg || (n && !ids && !cfg->class_agnostic))
    return nala_fail(err, NALA_E_ARG, "batched nms: NULL config, or NULL ids without class_agnostic");
  *n_keep = 0;
  if (!n)
    return NALA_OK;
  ws_cursor c = {ws, ws_bytes};
  int32_t *idx = ws_take(&c, n * 4), *tmp = ws_take(&c, n * 4), *sub_keep = ws_take(&c, n * 4);
  unsigned char *sup = ws_take(&c, n), *mark = ws_take(&c, n);
  float *nms_boxes = ws_take(&c, n * 16);
  if (cfg->class_agnostic)
    memcpy(nms_boxes, boxes, n * 16);
  else
    offset_boxes(boxes, ids, n, nms_boxes);
  size_t kept;
  if (n < cfg->split_thr) {
    for (size_t i = 0; i < n; i++)
      idx[i] = (int32_t)i;
    kept = greedy_ref(nms_boxes, scores, idx, tmp, sup, n, cfg->iou_thr, keep);
  } else {
    /* mmcv: for id in torch.unique(idxs) (ascending): nms on that id's boxes, mark the kept. */
    memset(mark, 0, n);
    int have_prev = 0;
    int32_t prev = 0;
    for (;;) {
      int found = 0;
      int32_t cur = 0;
      for (size_t i = 0; i < n; i++) {
        int32_t id = ids ? ids[i] : 0;
        if ((!have_prev || id > prev) && (!found || id < cur))
          cur = id, found = 1;
      }
      if (!found)
        break;
      size_t m = 0;
      for (size_t i = 0; i < n; i++)
        if ((ids ? ids[i] : 0) == cur)
          idx[m++] = (int32_t)i;
      size_t k = greedy_ref(nms_boxes, scores, idx, tmp, sup, m, cfg->iou_thr, sub_keep);
      for (size_t i = 0; i < k; i++)
        mark[sub_keep[i]] = 1;
      prev = cur, have_prev = 1;
    }
    kept = 0;
    for (size_t i = 0; i < n; i++)
      if (mark[i])
        keep[kept++] = (int32_t)i;
    stable_sort_desc(keep, tmp, kept, scores);
  }
  *n_keep = cfg->max_keep && kept > cfg->max_keep ? cfg->max_keep : kept;
  return NALA_OK;
}

/* ---------------------------------------------------------------- fast version */

/* Sorted structure-of-arrays of the candidates. Each kept box runs one branch-free IoU pass over
 * the contiguous tail (it vectorises); suppressed boxes stay in place with their flag set and are
 * squeezed out only once they are a quarter of the tail, so copying stays a fraction of the IoU
 * work whether NMS suppresses much (RPN) or little (many classes). */
typedef struct nms_soa {
  float *x1, *y1, *x2, *y2, *area;
  int32_t *id, *index;
  unsigned char *dead;
} nms_soa;

/* Drops the dead entries of [from, m); returns the new m. */
static size_t squeeze(nms_soa *s, size_t from, size_t m) {
  size_t out = from;
  for (size_t j = from; j < m; j++) {
    if (s->dead[j])
      continue;
    s->x1[out] = s->x1[j], s->y1[out] = s->y1[j], s->x2[out] = s->x2[j], s->y2[out] = s->y2[j];
    s->area[out] = s->area[j], s->id[out] = s->id[j], s->index[out] = s->index[j], s->dead[out] = 0;
    out++;
  }
  return out;
}

static size_t greedy_fast(nms_soa *s, size_t m, float thr, int same_id_only, size_t max_keep, int32_t *keep) {
  size_t kept = 0, i = 0;
  memset(s->dead, 0, m);
  while (i < m) {
    keep[kept++] = s->index[i];
    if (max_keep && kept == max_keep)
      break;
    const float ix1 = s->x1[i], iy1 = s->y1[i], ix2 = s->x2[i], iy2 = s->y2[i], iarea = s->area[i];
    const int32_t iid = s->id[i];
    const float *x1 = s->x1, *y1 = s->y1, *x2 = s->x2, *y2 = s->y2, *area = s->area;
    const int32_t *id = s->id;
    unsigned char *dead = s->dead;
    size_t n_dead = 0;
    /* Same float ops as the reference, in the same order; only the loop shape differs. */
#pragma omp simd reduction(+ : n_dead)
    for (size_t j = i + 1; j < m; j++) {
      float xx1 = ix1 > x1[j] ? ix1 : x1[j], yy1 = iy1 > y1[j] ? iy1 : y1[j];
      float xx2 = ix2 < x2[j] ? ix2 : x2[j], yy2 = iy2 < y2[j] ? iy2 : y2[j];
      float w = xx2 - xx1, h = yy2 - yy1;
      w = w > 0.0f ? w : 0.0f;
      h = h > 0.0f ? h : 0.0f;
      float inter = w * h;
      float iou = inter / (iarea + area[j] - inter);
      unsigned char d = (unsigned char)(dead[j] | ((iou > thr) & (!same_id_only | (id[j] == iid))));
      dead[j] = d;
      n_dead += d;
    }
    i++;
    if (4 * n_dead > m - i) {
      m = squeeze(s, i, m);
    } else {
      while (i < m && dead[i])
        i++;
    }
  }
  return kept;
}

/* Sorts, fills the SoA from boxes (+ the mmcv offset when ids given and !agnostic), runs greedy. */
static nala_status run_fast(const float *boxes, const float *scores, const int32_t *ids, size_t n, float thr,
                            int use_offset, int same_id_only, size_t max_keep, int32_t *keep, size_t *n_keep,
                            void *ws, size_t ws_bytes) {
  *n_keep = 0;
  if (!n)
    return NALA_OK;
  ws_cursor c = {ws, ws_bytes};
  int32_t *order = ws_take(&c, n * 4), *tmp = ws_take(&c, n * 4);
  nms_soa s;
  s.x1 = ws_take(&c, n * 4), s.y1 = ws_take(&c, n * 4), s.x2 = ws_take(&c, n * 4), s.y2 = ws_take(&c, n * 4);
  s.area = ws_take(&c, n * 4), s.id = ws_take(&c, n * 4), s.index = ws_take(&c, n * 4);
  s.dead = ws_take(&c, n);
  for (size_t i = 0; i < n; i++)
    order[i] = (int32_t)i;
  stable_sort_desc(order, tmp, n, scores);
  float step = 0.0f;
  if (use_offset) {
    float max_coord = boxes[0];
    for (size_t i = 0; i < 4 * n; i++)
      max_coord = score_before(boxes[i], max_coord) ? boxes[i] : max_coord;
    step = max_coord + 1.0f;
  }
  for (size_t r = 0; r < n; r++) {
    size_t i = (size_t)order[r];
    const float *b = boxes + 4 * i;
    int32_t id = ids ? ids[i] : 0;
    float off = use_offset ? (float)id * step : 0.0f;
    /* + 0.0f is exact, so the class-agnostic path sees the raw coordinates. */
    s.x1[r] = b[0] + off, s.y1[r] = b[1] + off, s.x2[r] = b[2] + off, s.y2[r] = b[3] + off;
    s.area[r] = (s.x2[r] - s.x1[r]) * (s.y2[r] - s.y1[r]);
    s.id[r] = id, s.index[r] = (int32_t)i;
  }
  *n_keep = greedy_fast(&s, n, thr, same_id_only, max_keep, keep);
  return NALA_OK;
}

nala_status nala_det_nms(const float *boxes, const float *scores, size_t n, float iou_thr, size_t max_keep,
                         int32_t *keep, size_t *n_keep, void *ws, size_t ws_bytes, nala_err *err) {
  NALA_CHECK(check_args(boxes, scores, n, keep, n_keep, ws, ws_bytes, "nms", err));
  return run_fast(boxes, scores, NULL, n, iou_thr, 0, 0, max_keep, keep, n_keep, ws, ws_bytes);
}

nala_status nala_det_batched_nms(const float *boxes, const float *scores, const int32_t *ids, size_t n,
                                 const nala_det_nms_cfg *cfg, int32_t *keep, size_t *n_keep, void *ws,
                                 size_t ws_bytes, nala_err *err) {
  NALA_CHECK(check_args(boxes, scores, n, keep, n_keep, ws, ws_bytes, "batched nms", err));
  if (!cfg || (n && !ids && !cfg->class_agnostic))
    return nala_fail(err, NALA_E_ARG, "batched nms: NULL config, or NULL ids without class_agnostic");
  return run_fast(boxes, scores, ids, n, cfg->iou_thr, !cfg->class_agnostic, n >= cfg->split_thr, cfg->max_keep,
                  keep, n_keep, ws, ws_bytes);
}
