/* Config sections the detection heads share (mmdet dict names): anchor_generator, bbox_coder, the
 * RPN's test_cfg (model.test_cfg.rpn) and the RoI head's (model.test_cfg.rcnn). Schemas validate at
 * config load; readers take a validated section (NULL = mmdet's default where it has one). */
#ifndef NALA_HEADS_DET_CFG_H
#define NALA_HEADS_DET_CFG_H

#include "core/config_schema.h"

struct cJSON;

#define NALA_ANCHOR_MAX_LEVELS 8
#define NALA_ANCHOR_MAX_BASE 16

extern const nala_schema nala_anchor_generator_schema; /* {"type": "AnchorGenerator", ...} */
extern const nala_schema nala_delta_coder_schema;      /* {"type": "DeltaXYWHBBoxCoder", ...} */
extern const nala_schema nala_rpn_test_cfg_schema;
extern const nala_schema nala_rcnn_test_cfg_schema;

/* mmdet AnchorGenerator: strides per level, base_sizes (default = strides), ratios, scales
 * (or octave_base_scale x 2^(i / scales_per_octave)); n_base = ratios x scales. */
typedef struct nala_anchor_cfg {
  int n_levels, strides[NALA_ANCHOR_MAX_LEVELS];
  float base_sizes[NALA_ANCHOR_MAX_LEVELS];
  int n_ratios, n_scales, n_base;
  float ratios[NALA_ANCHOR_MAX_BASE], scales[NALA_ANCHOR_MAX_BASE];
} nala_anchor_cfg;
nala_status nala_anchor_cfg_read(const struct cJSON *s, const char *path, nala_anchor_cfg *out, nala_err *err);

/* DeltaXYWHBBoxCoder target_means / target_stds / clip_border (defaults 0, std_xy/std_wh, true). */
typedef struct nala_delta_coder {
  float means[4], stds[4];
  int clip_border;
} nala_delta_coder;
nala_status nala_delta_coder_read(const struct cJSON *s, float std_xy, float std_wh, nala_delta_coder *out);

/* test_cfg.rpn: nms_pre (<= 0: all), max_per_img, nms.iou_threshold, min_bbox_size (< 0: no filter). */
typedef struct nala_rpn_test_cfg {
  int nms_pre, max_per_img;
  float iou_thr, min_bbox_size;
} nala_rpn_test_cfg;
nala_status nala_rpn_test_cfg_read(const struct cJSON *s, const char *path, nala_rpn_test_cfg *out, nala_err *err);

/* test_cfg.rcnn: score_thr, nms.iou_threshold, max_per_img, mask_thr_binary. */
typedef struct nala_rcnn_test_cfg {
  float score_thr, iou_thr, mask_thr;
  int max_per_img;
} nala_rcnn_test_cfg;
nala_status nala_rcnn_test_cfg_read(const struct cJSON *s, const char *path, nala_rcnn_test_cfg *out,
                                    nala_err *err);

#endif
