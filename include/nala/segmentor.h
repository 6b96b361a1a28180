/* Semantic segmentation (mmseg EncoderDecoder at test time): backbone -> [neck] -> decode head,
 * whole or slide inference, logits resized to the original image, argmax.
 *
 * Same contract as the backbone (nala/backbone.h): a nala_segmentor is immutable after create and
 * may be shared by any number of threads; a nala_seg_ctx is one per thread or video stream and
 * holds the plan for one input size and the workspace it runs in. Plan, then run: forward never
 * allocates; a new input size is an explicit replan.
 *
 *   nala_config *cfg;  nala_weights *w;  nala_segmentor *m;  nala_seg_ctx *ctx;  nala_err e;
 *   nala_config_load("configs/fpn_nalaformer-t_512x512_ade20k.json", &cfg, &e);
 *   nala_weights_open("fpn_t.safetensors", &w, &e);
 *   nala_segmentor_create(cfg, w, NULL, &m, &e);          // then nala_weights_close(w)
 *   nala_seg_ctx_create(m, 2, &ctx, &e);
 *   nala_seg_plan(ctx, NALA_SEG_FRAME, 480, 640, &e);     // camera frames of 640x480
 *   for (each frame) {                                    // nala_image, BGR, borrowed, any stride
 *     nala_seg_forward_frame(ctx, &frame, &e);
 *     nala_seg_read_labels(ctx, labels, 480 * 640, &e);   // uint8 class per pixel
 *   }
 *   nala_seg_ctx_free(ctx);  nala_segmentor_free(m);  nala_config_free(cfg);
 */
#ifndef NALA_SEGMENTOR_H
#define NALA_SEGMENTOR_H

#include <stddef.h>
#include <stdint.h>

#include "nala/config.h"
#include "nala/image_io.h"
#include "nala/isa.h"
#include "nala/status.h"
#include "nala/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nala_segmentor nala_segmentor;
typedef struct nala_seg_ctx nala_seg_ctx;

/* Options beyond the config (zero-initialise for defaults). */
typedef struct nala_segmentor_opts {
  nala_isa isa; /* kernel tier, as nala_backbone_opts.isa */
} nala_segmentor_opts;

/* What a plan's forward takes. */
typedef enum nala_seg_input {
  NALA_SEG_FRAME = 0,  /* an 8-bit 3-channel image of the planned size: the config's test pipeline
                          (resize, normalise) runs first, labels come out at the image size */
  NALA_SEG_TENSOR = 1, /* a normalised float32 NCHW [1,3,h,w] used as is (no resize, no pad;
                          img_shape = ori_shape = h x w): the parity interface */
} nala_seg_input;

/* Builds the model of cfg's "model" section (type EncoderDecoder) with weights "backbone.*",
 * "neck.*", "decode_head.*" ("auxiliary_head.*" and "num_batches_tracked" are ignored); every
 * missing, unexpected or wrong-shape key is named in one error. The weights may be closed after. */
nala_status nala_segmentor_create(const nala_config *cfg, nala_weights *weights, const nala_segmentor_opts *opts,
                                  nala_segmentor **out, nala_err *err);

/* Frees a model; every context made from it must be freed first. NULL is a no-op. */
void nala_segmentor_free(nala_segmentor *model);

/* Classes the decode head predicts. */
int nala_segmentor_num_classes(const nala_segmentor *model);

/* Kernel tier the model runs (never AUTO). */
nala_isa nala_segmentor_isa(const nala_segmentor *model);

/* New context; nthreads <= 0 means all cores. */
nala_status nala_seg_ctx_create(const nala_segmentor *model, int nthreads, nala_seg_ctx **out, nala_err *err);

/* Frees a context (and the workspace it allocated, not one the caller handed in). NULL is a no-op. */
void nala_seg_ctx_free(nala_seg_ctx *ctx);

/* Workspace bytes a plan of (input, h, w) needs (exact), without disturbing the current plan. */
nala_status nala_seg_workspace_size(nala_seg_ctx *ctx, nala_seg_input input, int h, int w, size_t *bytes,
                                    nala_err *err);

/* Plans the network pass and the pre/post-processing for inputs of h x w: whole mode runs the network
 * once on the (resized, padded) image; slide mode on each window, all of one size min(crop, image)
 * per side (mmseg clamps the last window into the image), so one graph serves every window.
 * Allocates the workspace unless the caller handed one in (then fails with NALA_E_NOMEM naming both
 * sizes when it is too small). */
nala_status nala_seg_plan(nala_seg_ctx *ctx, nala_seg_input input, int h, int w, nala_err *err);

/* Hands the context a caller-owned, 64-byte aligned buffer to use as workspace from now on. */
nala_status nala_seg_set_workspace(nala_seg_ctx *ctx, void *buffer, size_t bytes, nala_err *err);

/* Runs a NALA_SEG_FRAME plan on img (h x w of the plan, 3 channels, BGR or RGB as img->order says,
 * rows img->stride apart; read in place, not copied). No allocation. */
nala_status nala_seg_forward_frame(nala_seg_ctx *ctx, const nala_image *img, nala_err *err);

/* Runs a NALA_SEG_TENSOR plan on a normalised float32 NCHW [1,3,h,w] tensor. No allocation. */
nala_status nala_seg_forward_tensor(nala_seg_ctx *ctx, const float *nchw, nala_err *err);

/* Shape of the decode head's logits of the last pass, before any resize: [classes, ceil(H/4),
 * ceil(W/4)] of the network input (whole mode: the image; slide mode: the last window, bottom-right). */
nala_status nala_seg_logits_shape(const nala_seg_ctx *ctx, int *c, int *h, int *w, nala_err *err);

/* Copies those logits, NCHW float32, into dst (cap floats at least c*h*w). */
nala_status nala_seg_read_logits(const nala_seg_ctx *ctx, float *dst, size_t cap, nala_err *err);

/* Copies the label map of the planned input size into dst, row-major: uint8 (classes <= 256) or
 * int32; cap is in elements. mmseg's test path: logits resized to the padded image (whole) or each
 * window's logits resized, summed and divided by the window count (slide), padding cropped, resized
 * to the input size, argmax over classes (first maximum wins). The last resize is fused with the
 * argmax, bit-identical to the unfused formula; no classes x image-size map is stored in whole mode. */
nala_status nala_seg_read_labels(const nala_seg_ctx *ctx, uint8_t *dst, size_t cap, nala_err *err);
nala_status nala_seg_read_labels_i32(const nala_seg_ctx *ctx, int32_t *dst, size_t cap, nala_err *err);

/* Per-stage milliseconds ("preprocess", "backbone", "neck", "head", "postprocess" = resizes and
 * argmax, slide sums) summed over the forwards since profiling was turned on (set_profiling clears
 * them; timing waits once per module per pass); returns the number of stages written (at most max). */
void nala_seg_ctx_set_profiling(nala_seg_ctx *ctx, int on);
int nala_seg_profile(const nala_seg_ctx *ctx, const char **names, double *ms, int max);

#ifdef __cplusplus
}
#endif

#endif
