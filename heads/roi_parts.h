/* The parts of mmdet's StandardRoIHead (heads/roi_head.c) at test time, internal:
 *   SingleLevelRoIExtractor  RoIAlign by level mapping (read here, run by the heads' align kernels)
 *   Shared2FCBBoxHead        heads/bbox_head.c: RoIs -> cls_score / bbox_pred -> multiclass NMS
 *   FCNMaskHead              heads/mask_head.c: final boxes -> mask probabilities of their label
 * Both heads run their oneDNN layers on a variable number of RoIs: each layer is planned once per
 * batch size of nala_roi_buckets and gated (nala_graph_gate_since) to the counts that bucket serves,
 * so forward runs the smallest planned batch that holds the count (at most 2x the rows needed)
 * without creating anything; the align kernels zero the rows between the count and that batch. */
#ifndef NALA_HEADS_ROI_PARTS_H
#define NALA_HEADS_ROI_PARTS_H

#include "core/nn/graph.h"
#include "core/nn/runtime.h"
#include "core/config_schema.h"
#include "det/det.h"
#include "heads/det_cfg.h"
#include "nala/weights.h"

struct cJSON;

#define NALA_ROI_MAX_LEVELS 8
#define NALA_ROI_MAX_BUCKETS 8

extern const nala_schema nala_roi_extractor_schema; /* {"type": "SingleLevelRoIExtractor", ...} */
extern const nala_schema nala_bbox_head_schema;     /* {"type": "Shared2FCBBoxHead", ...} */
extern const nala_schema nala_mask_head_schema;     /* {"type": "FCNMaskHead", ...} */

typedef struct nala_roi_extractor {
  int out_size, sampling_ratio, out_channels, n_levels;
  int strides[NALA_ROI_MAX_LEVELS];
  float finest_scale;
} nala_roi_extractor;
nala_status nala_roi_extractor_read(const struct cJSON *s, const char *path, nala_roi_extractor *out,
                                    nala_err *err);

/* Batch sizes max, ceil(max/2), ceil(max/4), ... >= 1 (at most NALA_ROI_MAX_BUCKETS), descending. */
int nala_roi_buckets(int max, int *b);
/* The smallest bucket >= count (count <= b[0]). */
int nala_roi_bucket_of(const int *b, int n, int count);
/* Gates the ops added since op index first (bucket k's layers) to the counts bucket k serves:
 * b[k+1] < count <= b[k]. */
nala_status nala_roi_gate(nala_graph *g, int first, size_t count_off, const int *b, int n, int k, nala_err *err);

/* The RoI feature step both heads open with: RoIAlign of the RoIs (c 4, w max) by the
 * extractor's level mapping into feats ([max][C][s][s], or [max][s][s][C] with channel_last),
 * the rows between the count and its bucket zeroed. Lives in graph memory (the kernel's args
 * point at it); the heads read its buckets / count / feats when they plan their layers. */
typedef struct nala_roi_feats {
  nala_det_feat levels[NALA_ROI_MAX_LEVELS]; /* data = workspace byte offset, resolved per run */
  size_t level_off[NALA_ROI_MAX_LEVELS];
  int n_levels, out_size, sampling_ratio, channel_last, n_buckets, buckets[NALA_ROI_MAX_BUCKETS];
  float finest_scale;
  size_t rois, count, feats, align_ws;
} nala_roi_feats;
/* Fills a from ex / levels / rois / count (max = rois->w), takes feats + the align workspace from
 * g and adds the align kernel to bucket; who names the head in errors (a level that is a slice). */
nala_status nala_roi_feats_plan(nala_graph *g, nala_roi_feats *a, const nala_roi_extractor *ex,
                                const nala_feat *levels, int in_ch, const nala_feat *rois, const nala_feat *count,
                                int channel_last, int bucket, const char *who, nala_err *err);
/* The RoI count in the workspace, clamped to [0, buckets[0]]. */
int nala_roi_count(const char *ws, const nala_roi_feats *a);

typedef struct nala_bbox_head nala_bbox_head;
nala_status nala_bbox_head_create(const struct cJSON *s, nala_weights *w, const char *prefix, const nala_rt *rt,
                                  int in_channels, nala_bbox_head **out, nala_err *err);
void nala_bbox_head_free(nala_bbox_head *h);
int nala_bbox_head_classes(const nala_bbox_head *h);
/* Plans RoI features of the proposals (c 4, w P) by their count, the fcs, and the post-processing
 * into out[0 .. 4] = ROI_OUT_RCNN .. ROI_OUT_COUNT (heads/two_stage.h); max_shape = g's img_h x
 * img_w. *scratch_mark: the arena mark after its outputs, where its own buffers start (dead once
 * its last op ran: the caller may rewind to it). */
nala_status nala_bbox_head_plan(const nala_bbox_head *h, nala_graph *g, const nala_roi_extractor *ex,
                                const nala_feat *levels, const nala_feat *proposals, const nala_feat *count,
                                const nala_rcnn_test_cfg *t, nala_feat *out, size_t *scratch_mark, nala_err *err);

typedef struct nala_mask_head nala_mask_head;
nala_status nala_mask_head_create(const struct cJSON *s, nala_weights *w, const char *prefix, const nala_rt *rt,
                                  int in_channels, int num_classes, nala_mask_head **out, nala_err *err);
void nala_mask_head_free(nala_mask_head *h);
/* Plans the mask branch on the detections (boxes c 4 / labels / count as the bbox head left them)
 * into *masks: {c mask_h * mask_w, h 1, w max} sigmoid probabilities of each detection's label; its
 * own buffers are handed back (rewound) at the end. */
nala_status nala_mask_head_plan(const nala_mask_head *h, nala_graph *g, const nala_roi_extractor *ex,
                                const nala_feat *levels, const nala_feat *boxes, const nala_feat *labels,
                                const nala_feat *count, nala_feat *masks, nala_err *err);

#endif
