/* NaLaFormer backbone: image -> 4-level feature pyramid (strides 4, 8, 16, 32).
 *
 * Model / context split (as ncnn's Net / Extractor):
 *   nala_backbone      immutable after nala_backbone_create: folded and reordered weights, oneDNN
 *                      engine, chosen kernels. Share one between any number of threads.
 *   nala_backbone_ctx  one per thread or video stream: primitives for one input size, oneDNN
 *                      stream, workspace (activations, scratchpads), thread count.
 *
 * Plan, then run: nala_backbone_plan(ctx, h, w) creates the primitives for an input size and
 * sizes the workspace; forward never allocates. A new input size is an explicit replan. The caller
 * may hand in its own workspace (fixed memory) sized with nala_backbone_workspace_size.
 *
 *   nala_backbone_cfg cfg;  nala_weights *w;  nala_backbone *m;  nala_backbone_ctx *ctx;  nala_err e;
 *   nala_backbone_cfg_preset("t", &cfg, &e);
 *   nala_weights_open("nalaformer_t.safetensors", &w, &e);
 *   nala_backbone_create(&cfg, w, NULL, &m, &e);     // NULL: default options; then nala_weights_close(w)
 *   nala_backbone_ctx_create(m, 2, &ctx, &e);
 *   nala_backbone_plan(ctx, 512, 512, &e);
 *   nala_backbone_forward(ctx, image_nchw, &e);      // float [1,3,512,512], normalised
 *   nala_feature f;  nala_backbone_output(ctx, 0, &f, &e);  // NHWC [128][128][64]
 *   nala_backbone_ctx_free(ctx);  nala_backbone_free(m);
 */
#ifndef NALA_BACKBONE_H
#define NALA_BACKBONE_H

#include <stddef.h>

#include "nala/config.h"
#include "nala/isa.h"
#include "nala/status.h"
#include "nala/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nala_backbone nala_backbone;
typedef struct nala_backbone_ctx nala_backbone_ctx;

/* A feature map in the context's workspace, NHWC: element (y, x, c) at data[(y*w + x)*c_count + c]. */
typedef struct nala_feature {
  int c, h, w;
  const float *data;
} nala_feature;

/* Options beyond the config (zero-initialise for defaults). */
typedef struct nala_backbone_opts {
  nala_isa isa; /* tier of the attention/LayerNorm kernels (nala/isa.h); AUTO (0): NALA_ISA, else the
                   best the CPU has; a tier the CPU lacks makes create fail with NALA_E_UNSUPPORTED */
} nala_backbone_opts;

/* Builds the model from cfg and weights (keys "backbone.*"; every missing, unexpected, wrong-shape or
 * wrong-dtype key is reported in one error). The weights may be closed after this returns. */
nala_status nala_backbone_create(const nala_backbone_cfg *cfg, nala_weights *weights,
                                 const nala_backbone_opts *opts, nala_backbone **out, nala_err *err);

/* Frees a model; every context made from it must be freed first. NULL is a no-op. */
void nala_backbone_free(nala_backbone *model);

/* Kernel tier the model runs (never AUTO). */
nala_isa nala_backbone_isa(const nala_backbone *model);

/* The config the model was built with. */
const nala_backbone_cfg *nala_backbone_config(const nala_backbone *model);

/* Multiply-accumulates of one forward at h x w (convs, linears, attention), for GFLOP/s figures. */
double nala_backbone_macs(const nala_backbone_cfg *cfg, int h, int w);

/* Workspace bytes nala_backbone_plan needs for h x w (exact). For a size not planned yet this
 * builds that plan once and keeps it aside: the next nala_backbone_plan(h, w) takes it without
 * rebuilding, and the current plan is not disturbed. */
nala_status nala_backbone_workspace_size(nala_backbone_ctx *ctx, int h, int w, size_t *bytes, nala_err *err);

/* New context with its own oneDNN stream; nthreads <= 0 means all cores. */
nala_status nala_backbone_ctx_create(const nala_backbone *model, int nthreads, nala_backbone_ctx **out,
                                     nala_err *err);

/* Frees a context (and the workspace it allocated, not one the caller handed in). */
void nala_backbone_ctx_free(nala_backbone_ctx *ctx);

/* Creates the primitives for an h x w input. With no caller workspace set, allocates one sized for
 * exactly this plan; with one set, fails (NALA_E_NOMEM, naming both sizes) when it is too small. */
nala_status nala_backbone_plan(nala_backbone_ctx *ctx, int h, int w, nala_err *err);

/* Hands the context a caller-owned, 64-byte aligned buffer to use as workspace from now on. */
nala_status nala_backbone_set_workspace(nala_backbone_ctx *ctx, void *buffer, size_t bytes, nala_err *err);

/* Runs the planned size on a normalised float image, NCHW [1, 3, h, w]. No allocation. */
nala_status nala_backbone_forward(nala_backbone_ctx *ctx, const float *image_nchw, nala_err *err);

/* Same with an NHWC [h, w, 3] image (what the preprocessing writes for the backbone). */
nala_status nala_backbone_forward_nhwc(nala_backbone_ctx *ctx, const float *image_nhwc, nala_err *err);

/* Number of oneDNN primitives of the current plan that run on a reference (slow) implementation;
 * 0 is expected on x86-64 with AVX2 or AVX-512. */
int nala_backbone_slow_primitives(const nala_backbone_ctx *ctx);

/* Input size of the current plan (0 before the first plan). */
int nala_backbone_ctx_height(const nala_backbone_ctx *ctx);
int nala_backbone_ctx_width(const nala_backbone_ctx *ctx);

/* Output of pyramid level (0..3) after a forward; NALA_E_ARG if level is not in out_indices.
 * The data stays valid until the next forward, plan or set_workspace. */
nala_status nala_backbone_output(const nala_backbone_ctx *ctx, int level, nala_feature *out, nala_err *err);

/* Turns per-step timing on (1) or off (0) and clears the totals; timing waits for each oneDNN
 * step, so it costs a little speed. */
void nala_backbone_ctx_set_profiling(nala_backbone_ctx *ctx, int on);

/* Milliseconds spent per kind of step since profiling was turned on; returns the number of
 * kinds written (at most max). */
int nala_backbone_profile(const nala_backbone_ctx *ctx, const char **names, double *ms, int max);

/* Copies a feature to NCHW [c, h, w] (e.g. to dump it). */
void nala_feature_to_nchw(const nala_feature *f, float *dst);

#ifdef __cplusplus
}
#endif

#endif
