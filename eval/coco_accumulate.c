/* COCOeval.accumulate (rules 20-25), one category per task: the category's detections over all
 * images are ordered once by score (stable, so ties follow image id then per-image order); the
 * maxDets 1 and 10 curves are that order filtered to each image's first 1 / 10 detections. */
#include <float.h>
#include <omp.h>
#include <stdlib.h>

#include "eval/coco_eval_internal.h"

enum { SLOT_MATCHED = 1, SLOT_IGNORED = 2 };

typedef struct curve_buf {
  uint32_t *order, *tmp, *kept;
  double *rc, *pr;
} curve_buf;

static size_t prec_index(const coco_eval_state *e, int t, int r, size_t k, int a, int m) {
  return ((((size_t)t * COCO_R + r) * e->n_cat + k) * COCO_A + a) * COCO_M + m;
}

static size_t rec_index(const coco_eval_state *e, int t, size_t k, int a, int m) {
  return (((size_t)t * e->n_cat + k) * COCO_A + a) * COCO_M + m;
}

/* Precision at the 101 recall points and the final recall, for one (k, a, m, t). */
static void one_curve(coco_eval_state *e, curve_buf *b, size_t nd, uint32_t npig, size_t k, int a, int m, int t) {
  double tp = 0, fp = 0;
  for (size_t i = 0; i < nd; i++) {
    uint8_t f = e->slot_flags[((size_t)b->kept[i] * COCO_A + a) * COCO_T + t];
    if (!(f & SLOT_IGNORED)) {
      tp += (f & SLOT_MATCHED) != 0;
      fp += (f & SLOT_MATCHED) == 0;
    }
    b->rc[i] = tp / npig;
    b->pr[i] = tp / (fp + tp + DBL_EPSILON); /* np.spacing(1) */
  }
  e->recall[rec_index(e, t, k, a, m)] = nd ? b->rc[nd - 1] : 0;
  for (size_t i = nd - (nd > 0); i > 0; i--)
    if (b->pr[i] > b->pr[i - 1])
      b->pr[i - 1] = b->pr[i];
  size_t i = 0;
  for (int r = 0; r < COCO_R; r++) {
    while (i < nd && b->rc[i] < e->rec_thr[r]) /* searchsorted(side='left') */
      i++;
    e->precision[prec_index(e, t, r, k, a, m)] = i < nd ? b->pr[i] : 0;
  }
}

static int accumulate_category(coco_eval_state *e, size_t k) {
  size_t p0 = e->cat_pair_start[k], p1 = e->cat_pair_start[k + 1], n_all = 0;
  if (p0 == p1) /* no image has a GT or detection of k: stays -1 */
    return 1;
  for (size_t i = p0; i < p1; i++) {
    const coco_pair *p = &e->pairs[e->cat_pairs[i]];
    size_t nd = p->d1 - p->d0;
    n_all += nd < COCO_MAX_DET ? nd : COCO_MAX_DET;
  }
  size_t cap = n_all ? n_all : 1;
  curve_buf b = {malloc(sizeof(uint32_t) * cap), malloc(sizeof(uint32_t) * cap), malloc(sizeof(uint32_t) * cap),
                 malloc(sizeof(double) * cap), malloc(sizeof(double) * cap)};
  int ok = b.order && b.tmp && b.kept && b.rc && b.pr;
  if (ok) {
    size_t n = 0;
    for (size_t i = p0; i < p1; i++) {
      const coco_pair *p = &e->pairs[e->cat_pairs[i]];
      size_t nd = p->d1 - p->d0;
      nd = nd < COCO_MAX_DET ? nd : COCO_MAX_DET;
      for (size_t d = 0; d < nd; d++)
        b.order[n++] = (uint32_t)(p->slot0 + d);
    }
    coco_sort_by_score(b.order, n_all, e->slot_score, b.tmp);
    for (int a = 0; a < COCO_A; a++) {
      uint64_t npig = 0;
      for (size_t i = p0; i < p1; i++)
        npig += e->npig[e->cat_pairs[i] * COCO_A + a];
      if (npig == 0) /* no non-ignored GT: stays -1 (rule 22) */
        continue;
      for (int m = 0; m < COCO_M; m++) {
        size_t nd = 0;
        for (size_t i = 0; i < n_all; i++)
          if (e->slot_rank[b.order[i]] < coco_max_dets[m])
            b.kept[nd++] = b.order[i];
        for (int t = 0; t < COCO_T; t++)
          one_curve(e, &b, nd, (uint32_t)npig, k, a, m, t);
      }
    }
  }
  free(b.order);
  free(b.tmp);
  free(b.kept);
  free(b.rc);
  free(b.pr);
  return ok;
}

nala_status coco_accumulate(coco_eval_state *e, int num_threads, nala_err *err) {
  int failed = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(num_threads > 0 ? num_threads : omp_get_max_threads())
  for (size_t k = 0; k < e->n_cat; k++)
    if (!accumulate_category(e, k)) {
#pragma omp atomic write
      failed = 1;
    }
  if (failed)
    return nala_fail(err, NALA_E_NOMEM, "out of memory accumulating precision curves");
  return NALA_OK;
}
