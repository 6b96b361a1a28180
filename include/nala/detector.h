/* Object detection and instance segmentation (mmdet RetinaNet and Mask R-CNN at test time):
 * backbone -> FPN -> dense head (RetinaNet) or RPN + RoI heads (Mask R-CNN), results in original
 * image pixels.
 *
 * Same contract as the backbone (nala/backbone.h): a nala_detector is immutable after create and
 * may be shared by any number of threads; a nala_det_ctx is one per thread or video stream with
 * the plan for one input size and its workspace (sized for the config's nms_pre / max_per_img, so
 * the number of boxes never makes forward allocate).
 *
 *   nala_detector_create(cfg, weights, NULL, &m, &e);
 *   nala_det_ctx_create(m, 2, &ctx, &e);
 *   nala_det_plan(ctx, NALA_DET_FRAME, 480, 640, &e);       // frames of 640x480
 *   nala_det_forward_frame(ctx, &frame, &e);               // BGR nala_image, borrowed
 *   int n = nala_det_count(ctx);
 *   nala_det_read(ctx, dets, 100, &n, &e);                 // boxes in frame pixels
 *   nala_det_read_mask(ctx, 0, bitmap, 480 * 640, &e);     // Mask R-CNN: detection 0's mask
 */
#ifndef NALA_DETECTOR_H
#define NALA_DETECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "nala/config.h"
#include "nala/image_io.h"
#include "nala/isa.h"
#include "nala/preprocess.h"
#include "nala/rle.h"
#include "nala/status.h"
#include "nala/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nala_detector nala_detector;
typedef struct nala_det_ctx nala_det_ctx;

typedef struct nala_detector_opts {
  nala_isa isa; /* kernel tier, as nala_backbone_opts.isa */
} nala_detector_opts;

typedef enum nala_det_input {
  NALA_DET_FRAME = 0,  /* an 8-bit 3-channel image of the planned size: the config's test pipeline
                          (Resize keep-ratio, normalise, pad) runs first; results in its pixels */
  NALA_DET_TENSOR = 1, /* a normalised float32 NCHW [1,3,h,w] used as is (img_shape = h x w, no
                          resize, no pad, no rescale): the parity interface */
} nala_det_input;

/* One detection: x1 y1 x2 y2 in input-image pixels, score, 0-based class label. */
typedef struct nala_detection {
  float x1, y1, x2, y2;
  float score;
  int label;
} nala_detection;

/* Builds the model of cfg's "model" section (type RetinaNet or MaskRCNN) with mmdet's keys
 * ("backbone.*", "neck.*", "bbox_head.*" or "rpn_head.*" and "roi_head.*"); strict as the backbone. */
nala_status nala_detector_create(const nala_config *cfg, nala_weights *weights, const nala_detector_opts *opts,
                                 nala_detector **out, nala_err *err);
void nala_detector_free(nala_detector *model);

int nala_detector_num_classes(const nala_detector *model);
int nala_detector_has_masks(const nala_detector *model);
nala_isa nala_detector_isa(const nala_detector *model);

nala_status nala_det_ctx_create(const nala_detector *model, int nthreads, nala_det_ctx **out, nala_err *err);
void nala_det_ctx_free(nala_det_ctx *ctx);

/* Workspace bytes of a plan (exact), without disturbing the current plan. */
nala_status nala_det_workspace_size(nala_det_ctx *ctx, nala_det_input input, int h, int w, size_t *bytes,
                                    nala_err *err);
/* Plans for inputs of h x w; allocates the workspace unless the caller handed one in. */
nala_status nala_det_plan(nala_det_ctx *ctx, nala_det_input input, int h, int w, nala_err *err);
nala_status nala_det_set_workspace(nala_det_ctx *ctx, void *buffer, size_t bytes, nala_err *err);

/* Runs a NALA_DET_FRAME plan on img (read in place). No allocation. */
nala_status nala_det_forward_frame(nala_det_ctx *ctx, const nala_image *img, nala_err *err);
/* Runs a NALA_DET_TENSOR plan on a normalised float32 NCHW [1,3,h,w]. No allocation. */
nala_status nala_det_forward_tensor(nala_det_ctx *ctx, const float *nchw, nala_err *err);

/* Detections of the last forward, sorted by descending score. */
int nala_det_count(const nala_det_ctx *ctx);
/* Copies the first min(count, max) detections into dst; *n gets that number. */
nala_status nala_det_read(const nala_det_ctx *ctx, nala_detection *dst, int max, int *n, nala_err *err);
/* Mask R-CNN: detection i's binary mask at the input size (h x w, row-major, 0/1) into dst. */
nala_status nala_det_read_mask(const nala_det_ctx *ctx, int i, uint8_t *dst, size_t cap, nala_err *err);
/* Mask R-CNN: detection i's mask as COCO RLE (free with nala_rle_free). */
nala_status nala_det_read_mask_rle(const nala_det_ctx *ctx, int i, nala_rle *out, nala_err *err);

/* Parity tensors of the last forward, as `nala det --dump` writes them (RetinaNet: cls_scores_{0..4},
 * bbox_preds_{0..4}; Mask R-CNN adds its own). Views into the workspace, valid until the next
 * forward or plan. */
typedef enum nala_det_dtype { NALA_DET_F32 = 0, NALA_DET_I32 = 1, NALA_DET_U8 = 2 } nala_det_dtype;
typedef struct nala_det_raw {
  const char *name;
  nala_det_dtype dtype;
  int ndim;
  int64_t shape[4]; /* as dumped; a feature map is [1, c, h, w] */
  int nhwc;         /* 1: a map stored channel-last: element (ch, y, x) at data[(y * w + x) * ld + ch] */
  int ld;
  const void *data; /* otherwise row-major, shape as given */
} nala_det_raw;
/* Number of parity tensors of the current plan (0 without one). */
int nala_det_raw_count(const nala_det_ctx *ctx);
/* Parity tensor i (0 <= i < nala_det_raw_count). */
nala_status nala_det_raw_at(const nala_det_ctx *ctx, int i, nala_det_raw *out, nala_err *err);

/* Size (h x w) and Resize meta of the current plan's input (FRAME: frame size, scale factors). */
nala_status nala_det_plan_meta(const nala_det_ctx *ctx, nala_preprocess_meta *meta, nala_err *err);

/* Per-stage timing (preprocess, backbone, neck, dense/RPN head, RoI heads, masks, postprocess). */
void nala_det_ctx_set_profiling(nala_det_ctx *ctx, int on);
int nala_det_profile(const nala_det_ctx *ctx, const char **names, double *ms, int max);

#ifdef __cplusplus
}
#endif

#endif
