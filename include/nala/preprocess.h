/* Test-time preprocessing of mmdet 3.x / mmseg 1.x: keep-ratio Resize (mmcv rescale_size + cv2.resize),
 * then one fused pass for BGR->RGB, (x - mean) / std and bottom/right padding, into a float32
 * [1,3,H,W] (NCHW) or [1,H,W,3] (NHWC) tensor.
 *
 *   nala_preprocess_cfg cfg = nala_preprocess_mmdet_coco();
 *   nala_preprocess_sizes sz;                          // once per frame size
 *   nala_preprocess_out_size(&cfg, frame.h, frame.w, &sz, &err);
 *   float *input = malloc(sz.out_floats * sizeof *input);
 *   uint8_t *scratch = malloc(sz.scratch_bytes ? sz.scratch_bytes : 1);
 *   for (each camera frame)                            // allocates nothing per frame
 *     nala_preprocess_into(&cfg, &frame, input, sz.out_floats, scratch, sz.scratch_bytes, &meta, &err);
 *
 * Results on the tensor map back to original pixels with meta: x_ori = x / w_scale, y_ori = y / h_scale.
 * No global state: concurrent calls with their own buffers are safe. */
#ifndef NALA_PREPROCESS_H
#define NALA_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "nala/image_io.h"
#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nala_layout { NALA_NCHW = 0, NALA_NHWC = 1 } nala_layout;

typedef struct nala_preprocess_cfg {
  int scale[2];       /* mmcv Resize scale: keep_ratio -> max long and short edge (either order), else (w, h) */
  int keep_ratio;     /* 1: mmcv imrescale rules; 0: resize to exactly scale (w, h) */
  nala_interp interp; /* cv2 INTER_LINEAR ('bilinear', the mm default) or INTER_NEAREST */
  float mean[3], std[3]; /* per output channel (RGB order when to_rgb) */
  int to_rgb;         /* 1: output channels R,G,B (mm bgr_to_rgb=True); 0: B,G,R. Input order comes from the image */
  int pad_divisor;    /* pad bottom/right up to a multiple of this (mmdet 32); 0 or 1 = no divisor padding */
  int pad_h, pad_w;   /* or pad up to at least this size (mmseg test_cfg 'size'); 0 = none. Not with a divisor > 1 */
  float pad_value;    /* written in padded pixels after normalisation (mm pad_val 0) */
  nala_layout layout;
  int no_resize;      /* 1: the pipeline has no Resize step (scale and keep_ratio unused) */
} nala_preprocess_cfg;

/* Where the tensor's pixels come from (mmdet ori_shape, img_shape, pad_shape, scale_factor). */
typedef struct nala_preprocess_meta {
  int ori_h, ori_w;        /* input image */
  int img_h, img_w;        /* after resize, before padding */
  int pad_h, pad_w;        /* tensor height and width */
  double w_scale, h_scale; /* img_w / ori_w and img_h / ori_h, as mmcv's Resize records them */
} nala_preprocess_meta;

/* Buffers one call needs for a given input size. */
typedef struct nala_preprocess_sizes {
  size_t out_floats;    /* 3 * pad_h * pad_w */
  size_t scratch_bytes; /* resized uint8 image (img_h * img_w * 3, first) + the resize's tables; 0 when no resize */
  nala_preprocess_meta meta;
} nala_preprocess_sizes;

/* An owned output tensor from nala_preprocess; shape [n=1, c=3, h, w] in the given layout. */
typedef struct nala_preprocessed {
  float *data;
  int n, c, h, w;
  nala_layout layout;
  nala_preprocess_meta meta;
} nala_preprocessed;

/* mmdet COCO: Resize (1333, 800) keep-ratio bilinear, mean/std of ImageNet, BGR->RGB, pad to 32, NCHW. */
nala_preprocess_cfg nala_preprocess_mmdet_coco(void);
/* mmseg ADE20K: Resize (2048, 512) keep-ratio, same normalisation, no padding (mmseg test default). */
nala_preprocess_cfg nala_preprocess_mmseg_ade20k(void);
/* mmseg Cityscapes: Resize (2048, 1024) keep-ratio, same normalisation, no padding. */
nala_preprocess_cfg nala_preprocess_mmseg_cityscapes(void);

struct nala_preprocess_section; /* nala/config.h */

/* The pipeline a JSON config describes (model.data_preprocessor + the test_pipeline Resize, bilinear):
 * pad_size_divisor <= 1 means none; data_preprocessor.size is ignored (mmseg pads to it only when
 * training); no Resize step sets no_resize. */
nala_status nala_preprocess_from_config(const struct nala_preprocess_section *section, nala_layout layout,
                                        nala_preprocess_cfg *out, nala_err *err);

/* Checks a configuration; the message names the bad field. */
nala_status nala_preprocess_validate(const nala_preprocess_cfg *cfg, nala_err *err);

/* Output size, scratch size and meta for an h x w input. */
nala_status nala_preprocess_out_size(const nala_preprocess_cfg *cfg, int h, int w, nala_preprocess_sizes *sizes,
                                     nala_err *err);

/* Preprocesses a 3-channel image (owned or borrowed, any stride, BGR or RGB) into caller memory
 * (out_floats and scratch_bytes at least what nala_preprocess_out_size says); never allocates. */
nala_status nala_preprocess_into(const nala_preprocess_cfg *cfg, const nala_image *img, float *out, size_t out_floats,
                                 uint8_t *scratch, size_t scratch_bytes, nala_preprocess_meta *meta, nala_err *err);

/* Same, allocating the output tensor (release with nala_preprocessed_free). */
nala_status nala_preprocess(const nala_preprocess_cfg *cfg, const nala_image *img, nala_preprocessed *out,
                            nala_err *err);

/* Frees an output tensor and zeroes the struct; safe on a zeroed struct. */
void nala_preprocessed_free(nala_preprocessed *t);

#ifdef __cplusplus
}
#endif

#endif
