/* COCOeval.evaluateImg: the per-(image, category) matching of detections to ground truth, with
 * pycocotools' exact semantics (rule numbers follow the order of pycocotools/cocoeval.py's rules,
 * as listed in the project's COCO-eval reference notes), parallel over (image, category) pairs. Per pair we keep at most 100 detections ("slots") and, per slot, area range
 * and IoU threshold, two bits: matched to a GT with a non-zero id, and ignored. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "eval/coco_eval_internal.h"
#include "eval/rle_internal.h"

enum { SLOT_MATCHED = 1, SLOT_IGNORED = 2 };

const double coco_area_lo[COCO_A] = {0, 0, 1024, 9216};
const double coco_area_hi[COCO_A] = {1e10, 1024, 9216, 1e10};
const int coco_max_dets[COCO_M] = {1, 10, 100};

/* numpy linspace values (rule 26): i*step + start, the last one set to stop. */
void coco_thresholds(double iou_thr[COCO_T], double rec_thr[COCO_R]) {
  double iou_step = (0.95 - 0.5) / (COCO_T - 1), rec_step = (1.0 - 0.0) / (COCO_R - 1);
  for (int t = 0; t < COCO_T; t++)
    iou_thr[t] = t * iou_step + 0.5;
  iou_thr[COCO_T - 1] = 0.95;
  for (int r = 0; r < COCO_R; r++)
    rec_thr[r] = r * rec_step + 0.0;
  rec_thr[COCO_R - 1] = 1.0;
}

/* Stable sort of idx by score, highest first (np.argsort(-score, kind='mergesort')). */
void coco_sort_by_score(uint32_t *idx, size_t n, const double *score, uint32_t *tmp) {
  for (size_t width = 1; width < n; width *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * width) {
      size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
      size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi)
        tmp[k++] = score[idx[j]] > score[idx[i]] ? idx[j++] : idx[i++];
      while (i < mid)
        tmp[k++] = idx[i++];
      while (j < hi)
        tmp[k++] = idx[j++];
    }
    memcpy(idx, tmp, sizeof(uint32_t) * n);
  }
}

typedef struct pair_scratch {
  uint32_t *dets, *tmp, *perm;
  double *iou;
  uint8_t *gt_ignore, *gt_matched;
  nala_rle *dt_mask, *gt_mask; /* segm: views of the pair's masks */
  uint32_t *runs;              /* decoded runs of string-stored masks */
  size_t runs_cap;
} pair_scratch;

static void scratch_free(pair_scratch *s) {
  free(s->dt_mask);
  free(s->gt_mask);
  free(s->runs);
  free(s->dets);
  free(s->tmp);
  free(s->perm);
  free(s->iou);
  free(s->gt_ignore);
  free(s->gt_matched);
}

static int scratch_alloc(pair_scratch *s, size_t max_d, size_t max_g) {
  size_t d = max_d ? max_d : 1, g = max_g ? max_g : 1, dd = d < COCO_MAX_DET ? d : COCO_MAX_DET;
  s->dets = malloc(sizeof(uint32_t) * d);
  s->tmp = malloc(sizeof(uint32_t) * d);
  s->perm = malloc(sizeof(uint32_t) * g);
  s->iou = malloc(sizeof(double) * dd * g);
  s->gt_ignore = malloc(g);
  s->gt_matched = malloc(g);
  s->dt_mask = malloc(sizeof(nala_rle) * dd);
  s->gt_mask = malloc(sizeof(nala_rle) * g);
  return s->dets && s->tmp && s->perm && s->iou && s->gt_ignore && s->gt_matched && s->dt_mask && s->gt_mask;
}

/* Views of the pair's masks, string-stored ones decoded into the thread's run buffer. */
static int pair_masks(const coco_eval_state *e, const coco_pair *p, const uint32_t *dets, size_t n_d, pair_scratch *s) {
  const coco_objs *gt = e->gt, *dt = e->dt;
  size_t need = 0, n_g = p->g1 - p->g0, used = 0;
  for (size_t d = 0; d < n_d; d++)
    need += dt->mask_is_text[dets[d]] ? dt->mask_m[dets[d]] : 0;
  for (size_t g = 0; g < n_g; g++) {
    uint32_t gi = e->gt_order[p->g0 + g];
    need += gt->mask_is_text[gi] ? gt->mask_m[gi] : 0;
  }
  if (need > s->runs_cap) {
    uint32_t *grown = realloc(s->runs, sizeof(uint32_t) * need * 2);
    if (!grown)
      return 0;
    s->runs = grown;
    s->runs_cap = need * 2;
  }
  /* Without string-stored masks the run buffer may still be NULL: no pointer arithmetic on it. */
  for (size_t d = 0; d < n_d; d++) {
    s->dt_mask[d] = coco_objs_mask(dt, dets[d], s->runs ? s->runs + used : NULL);
    used += dt->mask_is_text[dets[d]] ? dt->mask_m[dets[d]] : 0;
  }
  for (size_t g = 0; g < n_g; g++) {
    uint32_t gi = e->gt_order[p->g0 + g];
    s->gt_mask[g] = coco_objs_mask(gt, gi, s->runs ? s->runs + used : NULL);
    used += gt->mask_is_text[gi] ? gt->mask_m[gi] : 0;
  }
  return 1;
}

/* computeIoU (rules 11-14): detections sorted and cut, IoU[d][g] with g in GT file order. */
static int pair_iou(const coco_eval_state *e, const coco_pair *p, const uint32_t *dets, size_t n_d, pair_scratch *s) {
  const coco_objs *gt = e->gt, *dt = e->dt;
  size_t n_g = p->g1 - p->g0;
  int segm = e->iou_type == NALA_COCO_SEGM;
  if (segm && !pair_masks(e, p, dets, n_d, s))
    return 0;
  for (size_t d = 0; d < n_d; d++) {
    uint32_t di = dets[d];
    for (size_t g = 0; g < n_g; g++) {
      uint32_t gi = e->gt_order[p->g0 + g];
      int crowd = gt->crowd[gi];
      double *out = &s->iou[d * n_g + g];
      if (!segm) {
        *out = nala_box_iou_one(dt->bbox + 4 * di, gt->bbox + 4 * gi, crowd);
      } else {
        *out = nala_box_iou_one(dt->mask_bbox + 4 * di, gt->mask_bbox + 4 * gi, crowd);
        if (*out > 0)
          *out = nala_rle_iou_one(&s->dt_mask[d], &s->gt_mask[g], crowd);
      }
    }
  }
  return 1;
}

/* evaluateImg for every area range and threshold (rules 15-18). */
static void pair_match(coco_eval_state *e, const coco_pair *p, const uint32_t *dets, size_t n_d, pair_scratch *s) {
  const coco_objs *gt = e->gt, *dt = e->dt;
  size_t n_g = p->g1 - p->g0;
  for (int a = 0; a < COCO_A; a++) {
    double lo = coco_area_lo[a], hi = coco_area_hi[a];
    size_t n_keep = 0, k = 0;
    for (size_t g = 0; g < n_g; g++) {
      uint32_t gi = e->gt_order[p->g0 + g];
      double area = gt->area[gi];
      s->gt_ignore[g] = gt->crowd[gi] || area < lo || area > hi;
      n_keep += !s->gt_ignore[g];
    }
    for (size_t g = 0; g < n_g; g++) /* non-ignored GTs first, each group in file order */
      if (!s->gt_ignore[g])
        s->perm[k++] = (uint32_t)g;
    for (size_t g = 0; g < n_g; g++)
      if (s->gt_ignore[g])
        s->perm[k++] = (uint32_t)g;
    e->npig[p->index * COCO_A + a] = (uint32_t)n_keep;
    for (int t = 0; t < COCO_T; t++) {
      memset(s->gt_matched, 0, n_g);
      double thr = e->iou_thr[t] < 1 - 1e-10 ? e->iou_thr[t] : 1 - 1e-10;
      for (size_t d = 0; d < n_d; d++) {
        double best = thr;
        long m = -1;
        for (size_t k2 = 0; k2 < n_g; k2++) {
          uint32_t g = s->perm[k2], gi = e->gt_order[p->g0 + g];
          if (s->gt_matched[k2] && !gt->crowd[gi])
            continue;
          if (m > -1 && !s->gt_ignore[s->perm[m]] && s->gt_ignore[g])
            break;
          double v = s->iou[d * n_g + g];
          if (v < best)
            continue;
          best = v; /* an equal IoU moves the match to the later GT */
          m = (long)k2;
        }
        uint8_t flags = 0;
        if (m > -1) {
          uint32_t g = s->perm[m];
          s->gt_matched[m] = 1;
          if (s->gt_ignore[g])
            flags |= SLOT_IGNORED;
          if (gt->id[e->gt_order[p->g0 + g]] != 0) /* dtMatches holds the GT id, tested for truth */
            flags |= SLOT_MATCHED;
        }
        double dt_area = dt->area[dets[d]];
        if (!(flags & SLOT_MATCHED) && (dt_area < lo || dt_area > hi))
          flags |= SLOT_IGNORED;
        e->slot_flags[((p->slot0 + d) * COCO_A + a) * COCO_T + t] = flags;
      }
    }
  }
}

static int eval_pair(coco_eval_state *e, const coco_pair *p, pair_scratch *s) {
  size_t n_all = p->d1 - p->d0;
  memcpy(s->dets, e->dt_order + p->d0, sizeof(uint32_t) * n_all);
  coco_sort_by_score(s->dets, n_all, e->dt->score, s->tmp);
  size_t n_d = n_all < COCO_MAX_DET ? n_all : COCO_MAX_DET;
  for (size_t d = 0; d < n_d; d++)
    e->slot_score[p->slot0 + d] = e->dt->score[s->dets[d]];
  if (n_d && p->g1 > p->g0 && !pair_iou(e, p, s->dets, n_d, s))
    return 0;
  pair_match(e, p, s->dets, n_d, s);
  return 1;
}

nala_status coco_evaluate_pairs(coco_eval_state *e, int num_threads, nala_err *err) {
  int failed = 0;
#pragma omp parallel num_threads(num_threads > 0 ? num_threads : omp_get_max_threads())
  {
    pair_scratch s = {0};
    int ok = scratch_alloc(&s, e->max_pair_dets, e->max_pair_gts);
    if (!ok) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(dynamic, 8)
    for (size_t i = 0; i < e->n_pairs; i++)
      if (ok && !eval_pair(e, &e->pairs[i], &s)) {
        ok = 0;
#pragma omp atomic write
        failed = 1;
      }
    scratch_free(&s);
  }
  if (failed)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for per-thread evaluation buffers");
  return NALA_OK;
}
