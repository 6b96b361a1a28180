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

#endif
