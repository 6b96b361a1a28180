/* The evaluation half of `nala eval coco --config` and `--merge`: a run's image list (P.meta.json),
 * merging shard outputs, and the 12 stats over exactly the images a run processed (mmdet's CocoMetric
 * sets COCOeval.params.imgIds to the images it saw, so a --limit or --shard run is scored on its own
 * images, not penalised for the rest of the annotation file). */
#ifndef NALA_TOOLS_DET_COCO_EVAL_H
#define NALA_TOOLS_DET_COCO_EVAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nala/coco.h"
#include "nala/status.h"

/* What a run (or a merge) covered: its annotation file, the image ids it ran (dataset order), and
 * whether it wrote masks (P.segm.json). */
typedef struct det_coco_run_meta {
  char *ann_file;
  int64_t *image_ids;
  size_t n_images, cap;
  int has_segm;
  size_t n_bad; /* images that could not be read or run (named on stderr by the run) */
} det_coco_run_meta;

/* Appends an image id (grows the list). */
nala_status det_coco_meta_add(det_coco_run_meta *m, int64_t image_id, nala_err *err);
void det_coco_meta_free(det_coco_run_meta *m);

/* Writes / reads <prefix>.meta.json: {"ann_file": ..., "segm": true|false, "bad": n, "image_ids": [...]}. */
nala_status det_coco_meta_write(const char *prefix, const det_coco_run_meta *m, nala_err *err);
nala_status det_coco_meta_read(const char *prefix, det_coco_run_meta *m, nala_err *err);

/* Ground truth restricted to the given images (the whole file when they are all of its images, in
 * any order). with_masks as nala_coco_gt_load. */
nala_status det_coco_gt_load_subset(const char *ann_file, const int64_t *ids, size_t n, int with_masks,
                                    nala_coco_gt **out, nala_err *err);

/* Loads results JSON text against gt, evaluates iou_type and prints "Evaluating <type>..." and the
 * 12 summary lines to out. */
nala_status det_coco_eval_text(const nala_coco_gt *gt, const char *text, size_t len, const char *name,
                               nala_coco_iou_type iou_type, int threads, FILE *out, double stats[12],
                               nala_err *err);

/* Concatenates the results lists of <prefix_i>.<kind>.json (kind "bbox" or "segm") in the order given
 * (each validated as a JSON list) into one list text (malloc'd; *len its length). For shards of one
 * run this is byte for byte the file of the unsharded run. */
nala_status det_coco_merge_lists(const char *const *prefixes, int n, const char *kind, char **text, size_t *len,
                                 nala_err *err);

#endif
