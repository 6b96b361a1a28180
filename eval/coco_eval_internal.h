/* State shared by the COCO evaluation steps (pairs -> accumulate -> summarize). */
#ifndef NALA_EVAL_COCO_EVAL_INTERNAL_H
#define NALA_EVAL_COCO_EVAL_INTERNAL_H

#include "eval/coco_internal.h"

enum { COCO_T = 10, COCO_R = 101, COCO_A = 4, COCO_M = 3, COCO_MAX_DET = 100 };

extern const double coco_area_lo[COCO_A], coco_area_hi[COCO_A]; /* all, small, medium, large */
extern const int coco_max_dets[COCO_M];

/* One (image, category) with at least one GT or detection. */
typedef struct coco_pair {
  size_t index;
  uint32_t img, cat;
  size_t g0, g1; /* range in gt_order */
  size_t d0, d1; /* range in dt_order */
  size_t slot0;  /* first of min(d1 - d0, 100) slots */
} coco_pair;

typedef struct coco_eval_state {
  nala_coco_iou_type iou_type;
  const coco_objs *gt, *dt;
  size_t n_img, n_cat;
  double iou_thr[COCO_T], rec_thr[COCO_R];
  uint32_t *gt_order, *dt_order; /* object indices sorted by (image, category), file order within */
  coco_pair *pairs;              /* by (image, category) */
  size_t n_pairs, max_pair_dets, max_pair_gts;
  size_t *cat_pair_start;        /* pairs of category k: cat_pairs[cat_pair_start[k] .. [k+1]) */
  uint32_t *cat_pairs;           /* pair indices grouped by category, image order within */
  size_t n_slots;
  double *slot_score;            /* per slot, descending within a pair */
  uint8_t *slot_rank;            /* position of the slot within its pair (0..99) */
  uint8_t *slot_flags;           /* [slot][A][T] SLOT_MATCHED | SLOT_IGNORED */
  uint32_t *npig;                /* [pair][A] non-ignored GTs */
  double *precision, *recall;    /* [T][R][K][A][M], [T][K][A][M] */
} coco_eval_state;

void coco_thresholds(double iou_thr[COCO_T], double rec_thr[COCO_R]);
void coco_sort_by_score(uint32_t *idx, size_t n, const double *score, uint32_t *tmp);
nala_status coco_evaluate_pairs(coco_eval_state *e, int num_threads, nala_err *err);
nala_status coco_accumulate(coco_eval_state *e, int num_threads, nala_err *err);
/* numpy's np.mean of a contiguous float64 array, summed in the same order (rule 29). */
double coco_numpy_mean(const double *v, size_t n);
/* The 12 stats and per-category AP from precision/recall (rules 27-28). */
nala_status coco_summarize(const coco_eval_state *e, nala_coco_result *res, nala_err *err);

#endif
