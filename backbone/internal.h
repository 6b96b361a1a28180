/* Private structs of the NaLaFormer backbone: the model (immutable weights) and its plan. */
#ifndef NALA_BACKBONE_INTERNAL_H
#define NALA_BACKBONE_INTERNAL_H

#include <stdint.h>

#include "backbone/norm_ops.h"
#include "core/kernels/attention.h"
#include "core/nn/context.h"
#include "core/nn/gelu.h"
#include "core/nn/layer.h"
#include "nala/backbone.h"

typedef struct nala_block {
  char flag; /* 'l' NaLa linear attention, 'v' softmax */
  nala_layer cpe1, cpe2, lepe, ffn_dw;
  nala_layer qk, v, g, out_proj, fc1, fc2; /* qkvg is split: q|k, v and g (g carries the SiLU) */
  nala_ln norm1, norm2, attn_ln;
} nala_block;

typedef struct nala_stage {
  int dim, heads, head_dim, depth, ffn;
  nala_block *blocks;
  nala_ln extra_norm;
  nala_layer down; /* PatchMerging conv + BN, stages 0..2 */
  float *angle;    /* RoPE angles, head_dim/2 */
} nala_stage;

struct nala_backbone {
  nala_backbone_cfg cfg;
  const nala_rt *rt; /* engine + ISA, shared with the other modules of a model */
  nala_rt *own_rt;   /* set when nala_backbone_create made the root itself */
  nala_layer stem[4];
  nala_stage stages[4];
  int last_stage; /* highest stage any requested output needs */
  int want[4];    /* level requested */
  nala_norm_kernels norm;
  nala_attn_fn attn_linear, attn_softmax;
  nala_gelu_fn gelu; /* fc1's activation (core/nn/gelu.h) */
};

struct nala_backbone_ctx {
  const nala_backbone *model;
  nala_nn_ctx nn;
};

/* Loads NaLaFormer under key prefix ("backbone") on a shared root; the weights' strict finish is
 * the caller's (so a model root can check every module's keys at once). */
nala_status nala_backbone_load(const nala_backbone_cfg *cfg, nala_weights *weights, const char *prefix,
                               const nala_rt *rt, nala_backbone **out, nala_err *err);

/* Appends the backbone's ops for an image at input (NHWC, 3 channels) to g; levels[s] receive the
 * requested pyramid levels (c, h, w always; off only when requested). */
nala_status nala_backbone_plan_graph(const nala_backbone *m, nala_graph *g, const nala_feat *input,
                                     nala_feat levels[4], nala_err *err);

#endif
