/* Model configs: the NaLaFormer backbone description, and JSON config files with mmdet/mmseg-style
 * `_base_` merging and table-driven validation (core/config_*.c).
 *
 *   nala_backbone_cfg bb;
 *   nala_err err;
 *   if (nala_backbone_cfg_preset("t", &bb, &err) != NALA_OK ||
 *       nala_backbone_cfg_set_attn(&bb, "l,l,v,v", &err) != NALA_OK) fprintf(stderr, "%s\n", err.msg);
 *
 *   nala_config *cfg;
 *   if (nala_config_load("configs/nalaformer_t_backbone.json", &cfg, &err) == NALA_OK) {
 *     const nala_backbone_cfg *b = &nala_config_model(cfg)->backbone; ...
 *     nala_config_free(cfg);
 *   }
 *
 * A nala_config is immutable after load and holds no global state: threads may share one. */
#ifndef NALA_CONFIG_H
#define NALA_CONFIG_H

#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NALA_BACKBONE_STAGES 4
/* attn[s] holds one char per block of stage s plus the NUL, so a stage has at most 63 blocks. */
#define NALA_BACKBONE_MAX_DEPTH 63

/* NaLaFormer backbone hyper-parameters, named as in the official NaLaformer/NALA.py. */
typedef struct nala_backbone_cfg {
  char variant[8];                                   /* "xt","t","s","b","l", or "custom" */
  int embed_dims[NALA_BACKBONE_STAGES];
  int depths[NALA_BACKBONE_STAGES];                  /* blocks per stage */
  int num_heads[NALA_BACKBONE_STAGES];
  int ffn_dims[NALA_BACKBONE_STAGES];                /* int(mlp_ratio * embed_dim), as NALA.py */
  float mlp_ratios[NALA_BACKBONE_STAGES];
  int layerscales[NALA_BACKBONE_STAGES];             /* 0/1: gamma_1/gamma_2 present */
  float layer_init_values[NALA_BACKBONE_STAGES];
  char attn[NALA_BACKBONE_STAGES][NALA_BACKBONE_MAX_DEPTH + 1]; /* 'l' NaLa / 'v' softmax, per block */
  int out_indices[NALA_BACKBONE_STAGES], n_out;      /* stages whose outputs are returned */
  char weights[4096];                                /* checkpoint path, "" = none */
} nala_backbone_cfg;

/* Fills out with an official variant ("xt","t","s","b","l", any case), default attention
 * (stages 1-2 'l', stages 3-4 'v'), out_indices 0..3 and no weights. */
nala_status nala_backbone_cfg_preset(const char *variant, nala_backbone_cfg *out, nala_err *err);

/* Sets cfg->attn from a spec, using cfg->depths: "l,l,v,v" (one flag per stage), "ll,ll,vvvvvv,vv"
 * (per block, per stage), "llvv" (4 chars: per stage), "llllvvvvvvvv" (sum(depths) chars: per block)
 * or "l" (every block). cfg is unchanged on error. */
nala_status nala_backbone_cfg_set_attn(nala_backbone_cfg *cfg, const char *spec, nala_err *err);

/* Fills cfg->attn with the official default for cfg->depths: stages 1-2 'l', stages 3-4 'v'. */
void nala_backbone_cfg_default_attn(nala_backbone_cfg *cfg);

/* Sets ffn_dims[s] = int(mlp_ratios[s] * embed_dims[s]) (the truncation NALA.py uses). */
void nala_backbone_cfg_derive_ffn(nala_backbone_cfg *cfg);

/* Checks every field: positive dims, embed_dim % heads == 0, head_dim % 4 == 0 (RoPE), 1 <= depth
 * <= 63, attn flags 'l'/'v' with one per block, out_indices unique in 0..3. Names the field at fault. */
nala_status nala_backbone_cfg_validate(const nala_backbone_cfg *cfg, nala_err *err);

#ifdef __cplusplus
}
#endif

#endif
