/* The detector object behind include/nala/detector.h (internal).
 *
 * Generic part (det/detector.c): the model root (models/model.h: backbone, neck and head modules
 * from the registry), the FRAME preprocessing (nala_preprocess_into straight into the graph's input
 * map), contexts, plans, forward, reading results and profiling. What differs between RetinaNet and
 * Mask R-CNN is one nala_det_arch, found by model.type:
 *   create  reads what the architecture needs beyond the modules (model.test_cfg, the head modules'
 *           settings) into its own immutable state
 *   plan    plans the network (nala_model_plan over the modules) and appends its post-processing as
 *           kernel ops into the same graph, with every buffer a workspace region sized for the
 *           config's limits (nms_pre, max_per_img, ...), so forward never allocates; it records
 *           where the results and the parity tensors live in the plan's det_layout
 * RetinaNet: det/retina_post.c. A two-stage model adds its file(s) and one row in detector.c. */
#ifndef NALA_DET_DETECTOR_INTERNAL_H
#define NALA_DET_DETECTOR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/nn/context.h"
#include "models/model.h"
#include "nala/detector.h"
#include "nala/preprocess.h"

struct cJSON;

/* What a plan knows about its input, for the post-processing. */
typedef struct det_plan_info {
  nala_det_input kind;
  int img_h, img_w;        /* mmdet img_shape: boxes are clipped to it (resized size, before padding) */
  int rescale;             /* FRAME: boxes go back to original pixels (mmdet rescale=True) */
  double w_scale, h_scale; /* the Resize scale factors (nala_preprocess_meta) */
  int nthreads;
} det_plan_info;

/* A tensor the parity dump writes (nala_det_raw). */
#define DET_MAX_RAW 24
typedef struct det_raw_entry {
  char name[32];
  int is_map;      /* 1: feature map feat (NHWC in the arena), dumped as [1, c, h, w] */
  nala_feat feat;
  int dtype;       /* NALA_DET_F32 / I32 / U8 for arrays */
  int ndim;
  int64_t shape[4];
  size_t off;      /* arrays: workspace byte offset (row-major) */
  size_t count_off; /* arrays whose first dim is data-dependent: int32 count at this offset, else SIZE_MAX */
} det_raw_entry;

/* Detections in the arena at results_off: int32 count, then max_dets boxes [4], scores, labels. */
typedef struct det_results_view {
  int32_t *n;
  float *boxes, *scores;
  int32_t *labels;
} det_results_view;

size_t det_results_bytes(int max_dets);
det_results_view det_results_at(char *ws, size_t off, int max_dets);

/* The plan's layout (the graph's user block, so it moves with the graph). */
typedef struct det_layout {
  nala_det_input kind;
  int in_h, in_w;            /* size the caller plans: the frame (FRAME) or the tensor (TENSOR) */
  nala_preprocess_sizes pre; /* FRAME: the pipeline's sizes and meta for frames of in_h x in_w */
  size_t pre_scratch_off;    /* FRAME: resize scratch region */
  size_t results_off;
  int max_dets;
  det_raw_entry raw[DET_MAX_RAW];
  int n_raw;
  size_t masks_off;  /* masks (Mask R-CNN): [max_dets][mask_h][mask_w] probabilities of each */
  int mask_h, mask_w; /* detection's label, pasted at read time (0 = no masks) */
  float mask_thr;    /* test_cfg.rcnn.mask_thr_binary */
} det_layout;

typedef struct nala_det_arch {
  const char *type; /* model.type */
  int has_masks;
  nala_status (*create)(nala_detector *d, const struct cJSON *model_section, nala_err *err);
  void (*free)(void *state);
  nala_status (*plan)(const nala_detector *d, nala_graph *g, const det_plan_info *info, det_layout *lay,
                      nala_err *err);
} nala_det_arch;

struct nala_detector {
  nala_model *model;
  const nala_det_arch *arch;
  void *state; /* the arch's (immutable after create) */
  nala_preprocess_cfg pre;
  int num_classes;
};

/* Adds a map tensor / an array tensor to the layout's parity list. */
nala_status det_layout_add_map(det_layout *lay, const char *name, const nala_feat *f, nala_err *err);
nala_status det_layout_add_array(det_layout *lay, const char *name, int dtype, int ndim, const int64_t *shape,
                                 size_t off, size_t count_off, nala_err *err);

extern const nala_det_arch nala_det_arch_retinanet; /* det/retina_post.c */
extern const nala_det_arch nala_det_arch_maskrcnn;  /* det/maskrcnn_arch.c */

#endif
