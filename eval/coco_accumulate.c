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

/* Precision at the 101 recall points and the final recall for one (k, a, m), all thresholds in
 * one pass over the detections. Ignored detections are left out of the curves: in numpy they
 * repeat the previous (tp, fp), which neither the right-to-left envelope nor
 * searchsorted(side='left') can tell apart from leaving them out, so the numbers are unchanged. */
static void curves(coco_eval_state *e, curve_buf *b, size_t nd, size_t cap, uint32_t npig, size_t k, int a, int m) {
  double tp[COCO_T] = {0}, fp[COCO_T] = {0};
  size_t n[COCO_T] = {0};
  for (size_t i = 0; i < nd; i++) {
    const uint8_t *f = &e->slot_flags[((size_t)b->kept[i] * COCO_A + a) * COCO_T];
    for (int t = 0; t < COCO_T; t++) {
      if (f[t] & SLOT_IGNORED)
        continue;
      tp[t] += (f[t] & SLOT_MATCHED) != 0;
      fp[t] += (f[t] & SLOT_MATCHED) == 0;
      b->rc[t * cap + n[t]] = tp[t] / npig;
      b->pr[t * cap + n[t]] = tp[t] / (fp[t] + tp[t] + DBL_EPSILON); /* np.spacing(1) */
      n[t]++;
    }
  }
  for (int t = 0; t < COCO_T; t++) {
    double *rc = b->rc + t * cap, *pr = b->pr + t * cap;
    size_t len = n[t];
    e->recall[rec_index(e, t, k, a, m)] = len ? rc[len - 1] : 0;
    for (size_t i = len - (len > 0); i > 0; i--)
      if (pr[i] > pr[i - 1])
        pr[i - 1] = pr[i];
    size_t i = 0;
    for (int r = 0; r < COCO_R; r++) {
      while (i < len && rc[i] < e->rec_thr[r]) /* searchsorted(side='left') */
        i++;
      e->precision[prec_index(e, t, r, k, a, m)] = i < len ? pr[i] : 0;
    }
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
                 malloc(sizeof(double) * cap * COCO_T), malloc(sizeof(double) * cap * COCO_T)};
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
        curves(e, &b, nd, cap, (uint32_t)npig, k, a, m);
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
