/* nala_coco_evaluate: groups GT and detections by (image, category), then runs the per-pair
 * matching, the per-category accumulation and the summary. */
#include <stdlib.h>
#include <string.h>

#include "eval/coco_eval_internal.h"

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x > y ? 1 : x < y ? -1 : 0;
}

/* Object indices sorted by (image, category), file order kept within (a key-then-index sort). */
static nala_status group_objects(const coco_objs *o, size_t n_cat, uint32_t **order, uint64_t **keys,
                                 nala_err *err) {
  size_t n = o->n ? o->n : 1;
  uint64_t *packed = malloc(sizeof(uint64_t) * n);
  uint32_t *by_rank = o->rank ? malloc(sizeof(uint32_t) * n) : NULL;
  *order = malloc(sizeof(uint32_t) * n);
  *keys = malloc(sizeof(uint64_t) * n);
  if (!packed || !*order || !*keys || (o->rank && !by_rank)) {
    free(packed);
    free(by_rank);
    return nala_fail(err, NALA_E_NOMEM, "out of memory grouping %zu objects", o->n);
  }
  /* Within a pair, objects keep their file order, or the rank order of repeated GT ids. */
  for (size_t i = 0; i < o->n; i++) {
    uint32_t pos = o->rank ? o->rank[i] : (uint32_t)i;
    if (by_rank)
      by_rank[pos] = (uint32_t)i;
    packed[i] = (((uint64_t)o->img[i] * n_cat + o->cat[i]) << 32) | pos;
  }
  qsort(packed, o->n, sizeof(uint64_t), cmp_u64);
  for (size_t i = 0; i < o->n; i++) {
    uint32_t pos = (uint32_t)packed[i];
    (*order)[i] = by_rank ? by_rank[pos] : pos;
    (*keys)[i] = packed[i] >> 32;
  }
  free(packed);
  free(by_rank);
  return NALA_OK;
}

static nala_status build_pairs(coco_eval_state *e, nala_err *err) {
  uint64_t *gkey = NULL, *dkey = NULL;
  nala_status st = group_objects(e->gt, e->n_cat, &e->gt_order, &gkey, err);
  if (st == NALA_OK)
    st = group_objects(e->dt, e->n_cat, &e->dt_order, &dkey, err);
  size_t ng = e->gt->n, nd = e->dt->n;
  e->pairs = st == NALA_OK ? malloc(sizeof(coco_pair) * (ng + nd + 1)) : NULL;
  e->cat_pair_start = st == NALA_OK ? calloc(e->n_cat + 2, sizeof(size_t)) : NULL;
  if (st == NALA_OK && (!e->pairs || !e->cat_pair_start))
    st = nala_fail(err, NALA_E_NOMEM, "out of memory for (image, category) pairs");
  size_t gi = 0, di = 0, n_pairs = 0, slots = 0;
  while (st == NALA_OK && (gi < ng || di < nd)) {
    uint64_t key = gi < ng ? gkey[gi] : UINT64_MAX;
    if (di < nd && dkey[di] < key)
      key = dkey[di];
    coco_pair *p = &e->pairs[n_pairs];
    p->index = n_pairs;
    p->img = (uint32_t)(key / e->n_cat);
    p->cat = (uint32_t)(key % e->n_cat);
    p->g0 = gi;
    while (gi < ng && gkey[gi] == key)
      gi++;
    p->g1 = gi;
    p->d0 = di;
    while (di < nd && dkey[di] == key)
      di++;
    p->d1 = di;
    p->slot0 = slots;
    size_t n_d = p->d1 - p->d0, n_g = p->g1 - p->g0;
    slots += n_d < COCO_MAX_DET ? n_d : COCO_MAX_DET;
    e->max_pair_dets = n_d > e->max_pair_dets ? n_d : e->max_pair_dets;
    e->max_pair_gts = n_g > e->max_pair_gts ? n_g : e->max_pair_gts;
    e->cat_pair_start[p->cat + 2]++;
    n_pairs++;
  }
  free(gkey);
  free(dkey);
  NALA_CHECK(st);
  e->n_pairs = n_pairs;
  e->n_slots = slots;
  /* Pairs come in (image, category) order, so a stable bucketing by category keeps image order. */
  for (size_t k = 0; k < e->n_cat; k++)
    e->cat_pair_start[k + 2] += e->cat_pair_start[k + 1];
  e->cat_pairs = malloc(sizeof(uint32_t) * (n_pairs ? n_pairs : 1));
  e->slot_score = malloc(sizeof(double) * (slots ? slots : 1));
  e->slot_rank = malloc(slots ? slots : 1);
  e->slot_flags = malloc((slots ? slots : 1) * COCO_A * COCO_T);
  e->npig = malloc(sizeof(uint32_t) * (n_pairs ? n_pairs : 1) * COCO_A);
  if (!e->cat_pairs || !e->slot_score || !e->slot_rank || !e->slot_flags || !e->npig)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for %zu detection slots", slots);
  for (size_t i = 0; i < n_pairs; i++) {
    const coco_pair *p = &e->pairs[i];
    e->cat_pairs[e->cat_pair_start[p->cat + 1]++] = (uint32_t)i;
    size_t n_d = p->d1 - p->d0;
    for (size_t d = 0; d < n_d && d < COCO_MAX_DET; d++)
      e->slot_rank[p->slot0 + d] = (uint8_t)d;
  }
  return NALA_OK;
}

static void state_free(coco_eval_state *e) {
  free(e->gt_order);
  free(e->dt_order);
  free(e->pairs);
  free(e->cat_pair_start);
  free(e->cat_pairs);
  free(e->slot_score);
  free(e->slot_rank);
  free(e->slot_flags);
  free(e->npig);
}

nala_status nala_coco_evaluate(const nala_coco_gt *gt, const nala_coco_dets *dets, nala_coco_iou_type iou_type,
                               const nala_coco_params *params, nala_coco_result *out, nala_err *err) {
  if (!gt || !dets || !out)
    return nala_fail(err, NALA_E_ARG, "nala_coco_evaluate: NULL argument");
  memset(out, 0, sizeof *out);
  if (iou_type != NALA_COCO_BBOX && iou_type != NALA_COCO_SEGM)
    return nala_fail(err, NALA_E_ARG, "nala_coco_evaluate: unknown iou type %d", (int)iou_type);
  if (iou_type == NALA_COCO_SEGM && (!gt->anns.has_masks || !dets->dets.has_masks))
    return nala_fail(err, NALA_E_STATE, "segm evaluation needs ground truth and detections loaded with masks");
  if ((uint64_t)gt->n_img * (gt->n_cat ? gt->n_cat : 1) >= ((uint64_t)1 << 32) || gt->anns.n >= ((uint64_t)1 << 32) ||
      dets->dets.n >= ((uint64_t)1 << 32))
    return nala_fail(err, NALA_E_UNSUPPORTED, "more than 2^32 (image, category) pairs or objects");
  int threads = params ? params->num_threads : 0;
  coco_eval_state e = {0};
  e.iou_type = iou_type;
  e.gt = &gt->anns;
  e.dt = &dets->dets;
  e.n_img = gt->n_img;
  e.n_cat = gt->n_cat;
  coco_thresholds(e.iou_thr, e.rec_thr);
  size_t n_prec = (size_t)COCO_T * COCO_R * e.n_cat * COCO_A * COCO_M, n_rec = (size_t)COCO_T * e.n_cat * COCO_A * COCO_M;
  out->iou_type = iou_type;
  out->precision = malloc(sizeof(double) * (n_prec ? n_prec : 1));
  out->recall = malloc(sizeof(double) * (n_rec ? n_rec : 1));
  nala_status st = out->precision && out->recall ? NALA_OK : nala_fail(err, NALA_E_NOMEM, "out of memory");
  if (st == NALA_OK) {
    for (size_t i = 0; i < n_prec; i++)
      out->precision[i] = -1;
    for (size_t i = 0; i < n_rec; i++)
      out->recall[i] = -1;
    e.precision = out->precision;
    e.recall = out->recall;
    st = build_pairs(&e, err);
  }
  if (st == NALA_OK)
    st = coco_evaluate_pairs(&e, threads, err);
  if (st == NALA_OK)
    st = coco_accumulate(&e, threads, err);
  if (st == NALA_OK)
    st = coco_summarize(&e, out, err);
  if (st == NALA_OK) {
    out->num_categories = gt->n_cat;
    out->category_ids = malloc(sizeof(int64_t) * (gt->n_cat ? gt->n_cat : 1));
    if (out->category_ids)
      memcpy(out->category_ids, gt->cat_ids, sizeof(int64_t) * gt->n_cat);
    else
      st = nala_fail(err, NALA_E_NOMEM, "out of memory");
  }
  state_free(&e);
  if (st != NALA_OK)
    nala_coco_result_free(out);
  return st;
}

void nala_coco_result_free(nala_coco_result *res) {
  if (!res)
    return;
  free(res->category_ids);
  free(res->category_ap);
  free(res->precision);
  free(res->recall);
  memset(res, 0, sizeof *res);
}
