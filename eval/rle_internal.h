/* Pieces of the RLE library the COCO evaluator calls directly (no public API promise). */
#ifndef NALA_EVAL_RLE_INTERNAL_H
#define NALA_EVAL_RLE_INTERNAL_H

#include "nala/rle.h"

/* Sets r to h x w with m runs copied from counts (or uninitialised when counts is NULL). */
nala_status nala_rle_init(nala_rle *r, uint32_t h, uint32_t w, uint32_t m, const uint32_t *counts,
                          nala_err *err);

/* maskApi bbIou for one pair: 0 when the boxes do not overlap. */
double nala_box_iou_one(const double *dt, const double *gt, int crowd);

/* maskApi rleIou's run walk for one pair whose boxes overlap: -1 when the sizes differ. */
double nala_rle_iou_one(const nala_rle *dt, const nala_rle *gt, int crowd);

/* rleToBbox fed one run at a time (for strings decoded on the fly). */
typedef struct nala_rle_bbox_acc {
  uint32_t h, m_even, xs, ys, xe, ye, cc;
} nala_rle_bbox_acc;
void nala_rle_bbox_begin(nala_rle_bbox_acc *acc, uint32_t h, uint32_t w, uint32_t m);
void nala_rle_bbox_add(nala_rle_bbox_acc *acc, uint32_t j, uint32_t count);
void nala_rle_bbox_end(const nala_rle_bbox_acc *acc, double bbox[4]);

/* Validates a compressed counts string for h x w and gives its run count, area and box without
 * storing the runs. */
nala_status nala_rle_string_scan(const char *s, size_t len, uint32_t h, uint32_t w, uint32_t *m, uint64_t *area,
                                 double bbox[4], nala_err *err);
/* Decodes a string that nala_rle_string_scan accepted into counts (m entries). */
void nala_rle_string_decode(const char *s, size_t len, uint32_t *counts);

#endif
