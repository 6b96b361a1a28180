/* COCO detection / instance segmentation evaluation with pycocotools' COCOeval semantics.
 *
 * Stats are bit-identical to pycocotools 2.0.x (loadRes + COCOeval evaluate/accumulate/summarize
 * with default params) on the same files, following pycocotools/cocoeval.py rule by rule (the
 * comments in eval/coco_*.c name the rule each step reproduces). Ground truth and detections are immutable after loading, so several threads may
 * evaluate the same ground truth at once. Evaluation is parallel (OpenMP) over (image, category)
 * pairs and over categories.
 *
 *   nala_coco_gt *gt; nala_coco_dets *dets; nala_coco_result res; nala_err err;
 *   nala_coco_gt_load("instances_val2017.json", 1, &gt, &err);
 *   nala_coco_dets_load("segm.json", gt, 1, &dets, &err);
 *   nala_coco_evaluate(gt, dets, NALA_COCO_SEGM, NULL, &res, &err);
 *   nala_coco_summary_print(stdout, &res);           // the 12 lines of summarize()
 *   nala_coco_result_free(&res); nala_coco_dets_free(dets); nala_coco_gt_free(gt);
 */
#ifndef NALA_COCO_H
#define NALA_COCO_H

#include <stdint.h>
#include <stdio.h>

#include "nala/rle.h"
#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nala_coco_iou_type { NALA_COCO_BBOX = 0, NALA_COCO_SEGM = 1 } nala_coco_iou_type;

#define NALA_COCO_NUM_STATS 12

typedef struct nala_coco_gt nala_coco_gt;     /* images, categories, annotations (opaque) */
typedef struct nala_coco_dets nala_coco_dets; /* detections matched to one ground truth (opaque) */

/* Loads an instances JSON. with_masks != 0 also converts every segmentation (polygons,
 * uncompressed or compressed RLE) to RLE, as needed for iou type segm. Errors name the file and
 * the record (e.g. "annotations[12] (id 345): segmentation[1]: odd number of coordinates"). */
nala_status nala_coco_gt_load(const char *path, int with_masks, nala_coco_gt **out, nala_err *err);

/* Same from JSON text in memory; name is used in error messages. */
nala_status nala_coco_gt_parse(const char *json, size_t len, const char *name, int with_masks,
                               nala_coco_gt **out, nala_err *err);

void nala_coco_gt_free(nala_coco_gt *gt);

size_t nala_coco_gt_num_images(const nala_coco_gt *gt);
size_t nala_coco_gt_num_categories(const nala_coco_gt *gt);
/* Category ids in ascending order (the order of per-category results); i < num_categories. */
int64_t nala_coco_gt_category_id(const nala_coco_gt *gt, size_t i);
/* Category name from the GT file, "" when absent. */
const char *nala_coco_gt_category_name(const nala_coco_gt *gt, size_t i);

/* Loads a results JSON (list of {image_id, category_id, bbox, score[, segmentation]}) against gt,
 * like pycocotools loadRes: the first result picks the box branch (area = w*h, missing mask = box
 * polygon) or the mask branch (area = mask pixels, missing bbox = mask box). with_masks != 0 keeps
 * the masks (iou type segm). Image ids missing from gt are an error naming them; unknown
 * category ids are dropped and counted (nala_coco_dets_num_unknown_category). */
nala_status nala_coco_dets_load(const char *path, const nala_coco_gt *gt, int with_masks,
                                nala_coco_dets **out, nala_err *err);

/* Same from JSON text in memory; name is used in error messages. */
nala_status nala_coco_dets_parse(const char *json, size_t len, const char *name, const nala_coco_gt *gt,
                                 int with_masks, nala_coco_dets **out, nala_err *err);

/* One detection handed in from memory (e.g. by a detection head). */
typedef struct nala_coco_det {
  int64_t image_id, category_id;
  double bbox[4];        /* x, y, w, h in pixels of the original image */
  double score;
  const nala_rle *mask;  /* optional (NULL: the box polygon is used for segm), at the image size */
} nala_coco_det;

/* Detections from memory with the box-branch semantics of loadRes (area = w*h), as mmdet's
 * results2json output would be loaded. The masks are copied. */
nala_status nala_coco_dets_from_array(const nala_coco_gt *gt, const nala_coco_det *dets, size_t n,
                                      nala_coco_dets **out, nala_err *err);

void nala_coco_dets_free(nala_coco_dets *dets);

size_t nala_coco_dets_count(const nala_coco_dets *dets);               /* kept detections */
size_t nala_coco_dets_num_unknown_category(const nala_coco_dets *dets); /* dropped ones */

typedef struct nala_coco_params {
  int num_threads; /* OpenMP threads; 0 = OpenMP default */
} nala_coco_params;

typedef struct nala_coco_result {
  nala_coco_iou_type iou_type;
  /* AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl; -1 when undefined */
  double stats[NALA_COCO_NUM_STATS];
  size_t num_categories;
  int64_t *category_ids; /* ascending */
  double *category_ap;   /* AP@[.5:.95], area all, 100 dets (mmdet's classwise AP); -1 without GT */
  /* pycocotools eval['precision'] [T=10][R=101][K][A=4][M=3] and eval['recall'] [T][K][A][M],
   * row-major, -1 where undefined. */
  double *precision, *recall;
} nala_coco_result;

/* Runs evaluate + accumulate + summarize. params may be NULL (defaults). *out must be freed with
 * nala_coco_result_free. Fails when iou_type needs masks or boxes the loaded data lack. */
nala_status nala_coco_evaluate(const nala_coco_gt *gt, const nala_coco_dets *dets, nala_coco_iou_type iou_type,
                               const nala_coco_params *params, nala_coco_result *out, nala_err *err);

void nala_coco_result_free(nala_coco_result *res);

/* Prints the 12 lines exactly as pycocotools' summarize() does. */
void nala_coco_summary_print(FILE *out, const nala_coco_result *res);

/* Writes {"iou_type", "stats": [12], "per_category": {"<id>": AP}} atomically (temp + rename). */
nala_status nala_coco_result_write_json(const char *path, const nala_coco_result *res, nala_err *err);

#ifdef __cplusplus
}
#endif

#endif
