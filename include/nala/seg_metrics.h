/* Semantic-segmentation metrics (aAcc, mIoU, mAcc, per-class IoU/Acc) the way mmseg's IoUMetric
 * computes them, accumulated frame by frame in O(classes^2) memory whatever the dataset size.
 *
 *   nala_seg_metrics *m;
 *   NALA_CHECK(nala_seg_metrics_create(150, 255, &m, &err));
 *   for each image:  nala_seg_metrics_add(m, pred, w, label, w, h, w, &img_counts, &err);
 *   nala_seg_result *r = malloc(sizeof *r);  nala_seg_metrics_result(m, r);
 *   nala_seg_print_tables(stdout, r, nala_seg_dataset_find("ade20k")->class_names, 0);  // seg_report.h
 *   nala_seg_metrics_free(m);  free(r);
 *
 * Semantics (mmseg/evaluation/metrics/iou_metric.py): pixels whose label == ignore_index are
 * dropped; per class c, intersect = #(pred == label == c), pred_area = #(pred == c),
 * label_area = #(label == c), union = pred_area + label_area - intersect, each summed over the
 * dataset; IoU = intersect / union, Acc = intersect / label_area, mIoU / mAcc = mean over the
 * classes where they are defined (NaN skipped, like np.nanmean), aAcc = sum intersect / sum
 * label_area.
 * Out-of-range values (>= num_classes, other than ignore_index) are counted, never silently
 * dropped, and affect the numbers exactly as in mmseg (torch.histc drops them): a pixel whose
 * prediction is out of range still counts in its label's label_area (a miss); a pixel whose label
 * is out of range still counts in its prediction's pred_area (a false positive) but in no
 * label_area, so it is not in aAcc's denominator.
 *
 * Two sets of numbers are kept. The exact ones come from 64-bit integer counts. The mmseg ones
 * reproduce mmseg's float32 arithmetic to the bit (per-image float32 histograms summed in
 * float32 in add order, float32 division, np.nanmean's pairwise float32 sum), whose bits differ
 * from the exact ones once a class totals more than 2^24 pixels (any full ADE20K/Cityscapes run);
 * now and then the last printed digit differs too, so print the mmseg ones when
 * comparing with mmseg. One add call = one image, as mmseg sums one result per image. Matched:
 * mmseg 1.x and 0.x >= 0.17 (pre_eval), numpy 1.x scalar promotion, torch's AVX2 float32 sum for
 * aAcc; not matched: images over 2^24 pixels (torch.histc's float32 bins saturate there).
 *
 * A nala_seg_metrics is not thread-safe; use one per thread (no global state is shared). */
#ifndef NALA_SEG_METRICS_H
#define NALA_SEG_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NALA_SEG_MAX_CLASSES 256 /* inputs are 8-bit class indices */
#define NALA_SEG_NO_IGNORE (-1)  /* ignore_index value meaning "no label is ignored" */

typedef struct nala_seg_metrics nala_seg_metrics;

/* What one add call saw, so callers can report bad input per file. */
typedef struct nala_seg_image_counts {
  uint64_t pixels;             /* h * w */
  uint64_t ignored;            /* label == ignore_index */
  uint64_t label_out_of_range; /* label >= num_classes and != ignore_index */
  uint64_t pred_out_of_range;  /* pred >= num_classes anywhere (only non-ignored pixels change the numbers) */
  int first_bad_label;         /* first out-of-range label value in raster order, or -1 */
  int first_bad_pred;          /* first out-of-range prediction value in raster order, or -1 */
} nala_seg_image_counts;

typedef struct nala_seg_class_result {
  uint64_t intersect, union_area, pred_area, label_area; /* exact dataset totals */
  double iou, acc;                                       /* exact fractions; NaN when 0/0 */
  float iou_mmseg, acc_mmseg;                            /* mmseg's float32 values; NaN when 0/0 */
} nala_seg_class_result;

/* Fractions in [0, 1] (multiply by 100 for mmseg's percentages, see nala_seg_round_pct*). */
typedef struct nala_seg_result {
  int num_classes;
  uint64_t images;                                  /* add calls */
  nala_seg_image_counts totals;                     /* summed over images; first_bad_* of the first image with one */
  double aacc, miou, macc;                          /* exact; NaN when nothing is defined */
  float aacc_mmseg, miou_mmseg, macc_mmseg;         /* as mmseg computes them before rounding */
  nala_seg_class_result cls[NALA_SEG_MAX_CLASSES];  /* [0, num_classes) are filled */
} nala_seg_result;

/* Creates an empty accumulator for num_classes in [1, 256] classes; ignore_index in [0, 255] or
 * NALA_SEG_NO_IGNORE. Allocates O(num_classes^2) once; add never allocates. */
nala_status nala_seg_metrics_create(int num_classes, int ignore_index, nala_seg_metrics **out, nala_err *err);

/* Frees an accumulator; NULL is a no-op. */
void nala_seg_metrics_free(nala_seg_metrics *m);

/* Forgets every image added so far. */
void nala_seg_metrics_reset(nala_seg_metrics *m);

/* Adds one image: h x w class indices, rows pred_stride / label_stride bytes apart (>= w).
 * counts (may be NULL) receives what this image contained. Fails only on bad arguments. */
nala_status nala_seg_metrics_add(nala_seg_metrics *m, const uint8_t *pred, size_t pred_stride, const uint8_t *label,
                                 size_t label_stride, int h, int w, nala_seg_image_counts *counts, nala_err *err);

/* Fills *out with the metrics over every image added so far (out is ~15 KB: heap it on small stacks). */
void nala_seg_metrics_result(const nala_seg_metrics *m, nala_seg_result *out);

/* The (num_classes+1)^2 confusion counts, row = label, column = prediction, index num_classes =
 * "out of range"; ignored pixels are not in it. Valid until the next add/reset/free. */
const uint64_t *nala_seg_metrics_confusion(const nala_seg_metrics *m, int *side);

/* The same (num_classes+1)^2 counts for the image of the last add call only (zeros before any).
 * Valid until the next add/reset/free. With nala_seg_metrics_add_confusion, a sharded run can save
 * its images and a merge replay them. */
const uint64_t *nala_seg_metrics_image_confusion(const nala_seg_metrics *m, int *side);

/* Adds one image given as its confusion counts (side x side, side = num_classes + 1, the layout above)
 * and its counts (may be NULL: all zero, first_bad_* -1), exactly as nala_seg_metrics_add of its
 * pixels would: same exact totals, same float32 running sums. Replaying the images of shards in
 * their dataset order gives the numbers of one unsharded run to the bit. */
nala_status nala_seg_metrics_add_confusion(nala_seg_metrics *m, const uint64_t *confusion, int side,
                                           const nala_seg_image_counts *counts, nala_err *err);

/* np.round(x * 100, 2) in double: mmseg's summary rounding (numpy 1.x promotes np.float32 * 100
 * to float64, so pass (double)miou_mmseg etc.) and the rounding of exact numbers. NaN stays NaN. */
double nala_seg_round_pct(double fraction);

/* np.round(x * 100, 2) on a float32 array, as mmseg rounds its per-class IoU/Acc table. */
float nala_seg_round_pct_f32(float fraction);

#ifdef __cplusplus
}
#endif

#endif
