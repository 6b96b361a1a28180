/* Detection runtime pieces shared by the dense and RoI heads (internal, not public API).
 *
 * Each piece reproduces one mmdet / mmcv test-time operation in float32 with mmdet's operation
 * order, so that decisions (NMS keeps, level choices, thresholded mask pixels) match mmdet's:
 *   anchors.c     mmdet AnchorGenerator (base anchors, grid priors)
 *   bbox_coder.c  DeltaXYWHBBoxCoder.decode
 *   nms.c         greedy NMS and mmcv batched_nms (reference and fast versions)
 *   roi_align.c   mmcv RoIAlign (aligned, adaptive sampling, avg) over NHWC maps, level mapping
 *   mask_paste.c  mmdet FCNMaskHead _do_paste_mask, CPU path (skip_empty)
 *   rescale.c     boxes back to original image pixels (mmdet scale_factor)
 * Boxes are float [n][4] x1, y1, x2, y2. Nothing here allocates: callers pass outputs and, where
 * scratch is needed, a workspace of the size the matching *_ws_size function gives.
 * Fixtures and the torch restatements: tools/reference/make_det_fixtures.py. */
#ifndef NALA_DET_DET_H
#define NALA_DET_DET_H

#include <stddef.h>
#include <stdint.h>

#include "nala/status.h"

/* ---- anchors (mmdet AnchorGenerator: base_size = stride, centre offset 0, scale_major) ---- */

/* RetinaNet octave scales: octave_base_scale * 2^(i / scales_per_octave), in double then float
 * (mmdet builds them with numpy). out holds scales_per_octave floats. */
nala_status nala_det_octave_scales(double octave_base_scale, int scales_per_octave, float *out, nala_err *err);

/* Base anchors of one level, ratio-major / scale-minor: index r * n_scales + s.
 * h_ratio = sqrt(r), w_ratio = 1 / h_ratio, w = base * w_ratio * scale; box = [-w/2, -h/2, w/2, h/2].
 * out: [n_ratios * n_scales][4]. */
nala_status nala_det_base_anchors(float base_size, const float *ratios, int n_ratios, const float *scales,
                                  int n_scales, float *out, nala_err *err);

/* Anchors of an feat_h x feat_w map: y outer, x inner, anchor fastest; anchor + (x*stride_w, y*stride_h).
 * out: [feat_h * feat_w * n_base][4]; out_cap is its size in anchors. */
nala_status nala_det_grid_anchors(const float *base, int n_base, int stride_w, int stride_h, int feat_h,
                                  int feat_w, float *out, size_t out_cap, nala_err *err);

/* ---- DeltaXYWHBBoxCoder.decode ---- */

typedef struct nala_det_delta_cfg {
  float means[4], stds[4]; /* target_means / target_stds: RetinaNet and RPN 0 / 1, RCNN 0 / (.1,.1,.2,.2) */
  double wh_ratio_clip;    /* 16 / 1000: dw, dh clamped to +-|log(wh_ratio_clip)| */
  int clip;                /* 1: clamp x to [0, img_w] and y to [0, img_h] (mmdet max_shape = img_shape) */
  int img_h, img_w;
} nala_det_delta_cfg;

/* mmdet's defaults with the given stds and image size (clip on). */
nala_det_delta_cfg nala_det_delta_default(float std_xy, float std_wh, int img_h, int img_w);

/* rois [n][4], deltas [n][k*4] (k boxes per roi: class-specific RCNN deltas) -> out [n][k*4].
 * out may alias deltas. */
nala_status nala_det_delta_decode(const nala_det_delta_cfg *cfg, const float *rois, const float *deltas, size_t n,
                                  int k, float *out, nala_err *err);

/* ---- NMS (torchvision / mmcv nms_cpu semantics, offset 0) ----
 * Order: scores descending, ties by lower index (a stable sort). torchvision 0.14's CPU nms sorts
 * stably; mmcv's nms_cpu calls scores.sort(descending) without stable=True, whose tie order is
 * torch's implementation detail (it equals the stable order up to 16 boxes on torch 1.13 and not
 * beyond), so on exact score ties we follow torchvision and the stable order. IoU = inter /
 * (area_i + area_j - inter) with area = (x2 - x1) * (y2 - y1); box j is suppressed iff IoU > thr,
 * with thr in float as mmcv takes it. */

/* Workspace bytes for nala_det_nms / nala_det_batched_nms (and their _ref versions) on n boxes. */
size_t nala_det_nms_ws_size(size_t n);

typedef struct nala_det_nms_cfg {
  float iou_thr;
  int class_agnostic; /* 1: ids ignored (mmcv batched_nms class_agnostic) */
  size_t split_thr;   /* mmcv 10000: from this many boxes on, a per-id loop instead of one NMS */
  size_t max_keep;    /* stop after this many kept (mmdet's [:max_per_img]); 0 = no limit */
} nala_det_nms_cfg;

/* mmcv batched_nms defaults with the given IoU threshold. */
nala_det_nms_cfg nala_det_nms_default(float iou_thr);

/* Single-class greedy NMS: keep gets the kept indices in order (capacity n); *n_keep their count. */
nala_status nala_det_nms(const float *boxes, const float *scores, size_t n, float iou_thr, size_t max_keep,
                         int32_t *keep, size_t *n_keep, void *ws, size_t ws_bytes, nala_err *err);
nala_status nala_det_nms_ref(const float *boxes, const float *scores, size_t n, float iou_thr, size_t max_keep,
                             int32_t *keep, size_t *n_keep, void *ws, size_t ws_bytes, nala_err *err);

/* mmcv batched_nms by id (class or level): see nms.c for how mmcv's two paths are reproduced.
 * keep: kept indices in one global score order (capacity n). ids may be NULL when class_agnostic. */
nala_status nala_det_batched_nms(const float *boxes, const float *scores, const int32_t *ids, size_t n,
                                 const nala_det_nms_cfg *cfg, int32_t *keep, size_t *n_keep, void *ws,
                                 size_t ws_bytes, nala_err *err);
nala_status nala_det_batched_nms_ref(const float *boxes, const float *scores, const int32_t *ids, size_t n,
                                     const nala_det_nms_cfg *cfg, int32_t *keep, size_t *n_keep, void *ws,
                                     size_t ws_bytes, nala_err *err);

/* Stable descending sort of the indices idx[0..m) by scores (torch.sort order: NaN first, ties by
 * position); tmp holds m. */
void nala_det_sort_desc(int32_t *idx, int32_t *tmp, size_t m, const float *scores);

/* The first min(k, n) indices of a stable descending sort of scores[0..n) (mmdet's
 * scores.sort(descending=True)[:k]) in that order, in O(n + k log k): idx holds min(k, n). */
size_t nala_det_topk_ws_size(size_t n);
nala_status nala_det_topk(const float *scores, size_t n, size_t k, int32_t *idx, size_t *n_out, void *ws,
                          size_t ws_bytes, nala_err *err);

/* mmdet multiclass_nms (mmdet/models/layers/bbox_nms.py) on class-specific boxes: candidates are
 * (box i, class j) with scores[i][j] > score_thr (strict), box-major / class-minor as
 * valid_mask.nonzero() lists them; mmcv batched_nms by class; the first max_num kept.
 * boxes [n][n_cls][4], scores [n][n_cls + 1] (background last, ignored). Outputs hold max_num. */
size_t nala_det_multiclass_nms_ws_size(size_t n, int n_cls);
nala_status nala_det_multiclass_nms(const float *boxes, const float *scores, size_t n, int n_cls, float score_thr,
                                    float iou_thr, size_t max_num, float *out_boxes, float *out_scores,
                                    int32_t *out_labels, size_t *n_out, void *ws, size_t ws_bytes, nala_err *err);

/* ---- RoIAlign (mmcv aligned=True, pool_mode avg) over channel-last maps ---- */

/* One feature level, NHWC for one image: data[(y * w + x) * c + ch]. */
typedef struct nala_det_feat {
  const float *data;
  int h, w, c;
  float spatial_scale; /* 1 / stride */
} nala_det_feat;

/* mmdet SingleLevelRoIExtractor.map_roi_levels: floor(log2(sqrt(w*h) / finest_scale + 1e-6)),
 * clamped to [0, n_levels - 1]; float32 as torch computes it. */
int nala_det_roi_level(const float roi[4], float finest_scale, int n_levels);

/* Workspace floats for nala_det_roi_align(_levels): one channel accumulator per thread. */
size_t nala_det_roi_align_ws_floats(int c, int n_threads);

/* RoIs [n][4] in image pixels on one level -> out [n][c][out_h][out_w] (mmdet's (c, y, x) flatten).
 * sampling_ratio 0 = adaptive ceil(roi / out) samples per bin. Threads over RoIs (n_threads <= 0: 1). */
nala_status nala_det_roi_align(const nala_det_feat *feat, const float *rois, size_t n, int out_h, int out_w,
                               int sampling_ratio, float *out, int n_threads, float *ws, size_t ws_floats,
                               nala_err *err);

/* Multi-level: each RoI on the level nala_det_roi_level picks (levels[] ordered finest first, all the
 * same c). roi_levels (may be NULL) receives the chosen level per RoI. */
nala_status nala_det_roi_align_levels(const nala_det_feat *levels, int n_levels, float finest_scale,
                                      const float *rois, size_t n, int out_h, int out_w, int sampling_ratio,
                                      float *out, int32_t *roi_levels, int n_threads, float *ws, size_t ws_floats,
                                      nala_err *err);

/* As nala_det_roi_align_levels; channel_last 1 writes out [n][out_h][out_w][c] (the NHWC maps the
 * mask head's convolutions take) instead of [n][c][out_h][out_w]. */
nala_status nala_det_roi_align_levels_layout(const nala_det_feat *levels, int n_levels, float finest_scale,
                                             const float *rois, size_t n, int out_h, int out_w, int sampling_ratio,
                                             int channel_last, float *out, int32_t *roi_levels, int n_threads,
                                             float *ws, size_t ws_floats, nala_err *err);

/* Plain reference of one RoI on one level (the mmcv loop, no threads, no channel-last gathers). */
void nala_det_roi_align_ref(const nala_det_feat *feat, const float roi[4], int out_h, int out_w, int sampling_ratio,
                            float *out);

/* ---- mask paste (mmdet _do_paste_mask, CPU, skip_empty=True) ---- */

/* Pixel window [y0, y1) x [x0, x1) the paste touches: floor(box.x1) - 1 .. ceil(box.x2) + 1 clamped
 * to the image (lower bounds at 0, upper at the size); empty when y1 <= y0 or x1 <= x0. */
typedef struct nala_det_window {
  int y0, y1, x0, x1;
} nala_det_window;
nala_det_window nala_det_paste_window(const float box[4], int img_h, int img_w);

/* Mask probabilities [mask_h][mask_w] resampled into the window (grid_sample bilinear,
 * align_corners=False, zero padding): probs[(y - y0) * (x1 - x0) + (x - x0)]. */
void nala_det_paste_mask_probs(const float *mask, int mask_h, int mask_w, const float box[4], nala_det_window win,
                               float *probs);

/* Thresholded paste (value >= thr, mmdet mask_thr_binary 0.5) into a full img_h x img_w bitmap
 * (row stride `stride` bytes): 1 inside the mask, 0 elsewhere, the whole image written. */
nala_status nala_det_paste_mask(const float *mask, int mask_h, int mask_w, const float box[4], float thr, int img_h,
                                int img_w, uint8_t *bitmap, size_t stride, nala_err *err);

/* ---- rescale to original pixels ---- */

typedef enum nala_det_rescale_mode {
  /* box / float(scale): mmdet 2.x heads, and the 3.x mask head (also the boxes it returns). */
  NALA_DET_RESCALE_DIVIDE = 0,
  /* box * float(1 / scale): mmdet 3.x bbox and dense heads (scale_boxes with 1 / scale_factor). */
  NALA_DET_RESCALE_MUL_INVERSE = 1
} nala_det_rescale_mode;

/* In place on boxes [n][4]; w_scale, h_scale as nala_preprocess_meta records them. */
nala_status nala_det_rescale_boxes(float *boxes, size_t n, double w_scale, double h_scale,
                                   nala_det_rescale_mode mode, nala_err *err);

#endif
