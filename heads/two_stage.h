/* What the two stages of Mask R-CNN hand each other and the detector through the graph (internal).
 *
 * rpn_head (heads/rpn_head.c) plans on the L FPN levels and outputs, in order:
 *   [0, L)        the FPN levels, passed through for the RoI head
 *   [L, 2L)       per level one NHWC map of A + 4A channels: rpn_cls (A logits, before sigmoid)
 *                 then rpn_reg (A x 4 deltas), mmdet's channel orders
 *   2L            proposals   {c 4, h 1, w max_per_img}: x1 y1 x2 y2 after NMS, global score order
 *   2L + 1        scores      {c 1, h 1, w max_per_img}
 *   2L + 2        count       {c 1, h 1, w 1}: int32 number of proposals
 * roi_head (heads/roi_head.c) takes those and outputs, for the parity dump and the detector:
 *   [0, L)        the rpn maps (as above)
 *   L, L+1, L+2   proposals, scores, count (as above)
 *   L + 3 + k     its own results, k = ROI_OUT_* below. */
#ifndef NALA_HEADS_TWO_STAGE_H
#define NALA_HEADS_TWO_STAGE_H

#include <string.h>

#include "core/nn/graph.h"

#define RPN_OUT_MAPS(L) (L)
#define RPN_OUT_PROPOSALS(L) (2 * (L))
#define RPN_OUT_SCORES(L) (2 * (L) + 1)
#define RPN_OUT_COUNT(L) (2 * (L) + 2)
#define RPN_N_OUT(L) (2 * (L) + 3)

/* roi_head outputs after the L rpn maps and the 3 proposal outputs (offset L + 3): */
enum {
  ROI_OUT_RCNN = 0,   /* {c n_cls+1 + 4 n_cls, h 1, w max proposals}: cls_score then bbox_pred per RoI */
  ROI_OUT_BOXES,      /* {c 4, h 1, w max_per_img}: final x1 y1 x2 y2 (img_shape pixels), score order */
  ROI_OUT_SCORES,     /* {c 1, ...} */
  ROI_OUT_LABELS,     /* {c 1, ...}: int32 0-based labels */
  ROI_OUT_COUNT,      /* {c 1, h 1, w 1}: int32 number of detections */
  ROI_OUT_MASKS,      /* {c mask_h * mask_w, h 1, w max_per_img}: sigmoid of the label's channel */
  ROI_N_OUT
};

/* The int32 count a kernel op left at byte off of the workspace ws. */
static inline int nala_ws_count(const char *ws, size_t off) {
  int c;
  memcpy(&c, ws + off, sizeof c);
  return c;
}

#endif
