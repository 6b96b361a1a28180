/* What every mmseg decode head shares (mmseg/models/decode_heads/decode_head.py BaseDecodeHead at
 * test time): its config keys, input selection (in_index, 'multiple_select'), the ConvModule
 * norm/act choice, and cls_seg (dropout = identity, conv_seg 1x1 with bias). Internal to heads/. */
#ifndef NALA_HEADS_DECODE_HEAD_H
#define NALA_HEADS_DECODE_HEAD_H

#include "core/config_schema.h"
#include "core/nn/graph.h"
#include "core/nn/layer.h"

struct cJSON;

#define NALA_HEAD_MAX_INS 8

extern const nala_schema nala_head_norm_schema; /* norm_cfg: {"type": "BN" | "SyncBN", "requires_grad"} */
extern const nala_schema nala_head_act_schema;  /* act_cfg: {"type": "ReLU", "inplace"} */
extern const char *const nala_head_input_transforms[];

/* BaseDecodeHead's keys, the first rows of every head's table (in_channels, in_index, channels,
 * num_classes required; the training-only keys are accepted and ignored). */
#define NALA_DECODE_HEAD_KEYS                                                                                      \
  NALA_SKEY_POS_INT_LIST("in_channels", 1, NALA_HEAD_MAX_INS, 1),                                                 \
      {.key = "in_index", .kinds = NALA_SK_INT | NALA_SK_ARRAY, .item_kinds = NALA_SK_INT, .has_min = 1,          \
       .min = -NALA_HEAD_MAX_INS, .has_max = 1, .max = NALA_HEAD_MAX_INS - 1, .min_items = 1,                    \
       .max_items = NALA_HEAD_MAX_INS, .required = 1},                                                           \
      NALA_SKEY_POS_INT("channels", 1), NALA_SKEY_POS_INT("num_classes", 1), NALA_SKEY_POS_INT("out_channels", 0), \
      NALA_SKEY_ENUM("input_transform", nala_head_input_transforms, 0),                                           \
      {.key = "dropout_ratio", .kinds = NALA_SK_NUMBER, .has_min = 1, .min = 0, .has_max = 1, .max = 1},          \
      {.key = "conv_cfg", .kinds = NALA_SK_NULL},                                                                 \
      {.key = "norm_cfg", .kinds = NALA_SK_NULL | NALA_SK_OBJECT, .object = &nala_head_norm_schema},              \
      {.key = "act_cfg", .kinds = NALA_SK_NULL | NALA_SK_OBJECT, .object = &nala_head_act_schema},                \
      NALA_SKEY_BOOL("align_corners", 0),                                                                         \
      {.key = "loss_decode", .kinds = NALA_SK_OBJECT | NALA_SK_ARRAY, .item_kinds = NALA_SK_OBJECT},              \
      {.key = "ignore_index", .kinds = NALA_SK_INT}, {.key = "sampler", .kinds = NALA_SK_NULL | NALA_SK_OBJECT},  \
      NALA_SKEY_NUMBER("threshold", 0),                                                                           \
      {.key = "init_cfg", .kinds = NALA_SK_NULL | NALA_SK_OBJECT | NALA_SK_ARRAY, .item_kinds = NALA_SK_OBJECT}

typedef struct nala_head_base {
  int n_in, in_ch[NALA_HEAD_MAX_INS], in_index[NALA_HEAD_MAX_INS];
  int channels, num_classes;
  int norm;   /* norm_cfg given (BN folded into the convs; mmcv bias='auto' drops the conv bias) */
  nala_act act; /* act_cfg: ReLU by default, none when null */
  nala_layer conv_seg;
  int has_conv_seg;
} nala_head_base;

/* Reads the validated section's shared keys; path ("model.decode_head") names errors. Fails on
 * what the runtime does not run: align_corners true, out_channels != num_classes, in_index and
 * in_channels of different lengths. */
nala_status nala_head_base_parse(const struct cJSON *section, const char *path, nala_head_base *b, nala_err *err);

/* Loads "<prefix>.conv_seg" (nn.Conv2d channels -> num_classes, 1x1, bias). */
nala_status nala_head_conv_seg_load(const nala_rt *rt, nala_weights *w, nala_head_base *b, const char *prefix,
                                    nala_err *err);

/* A ConvModule of this head (its norm and act) at prefix. */
nala_status nala_head_convmodule(const nala_rt *rt, nala_weights *w, const nala_head_base *b, nala_layer *L,
                                 int ic, int oc, int k, const char *prefix, nala_err *err);

/* The head's inputs from the previous module's outputs (in_index, negative from the end), their
 * channel counts checked against in_channels. name ("UPerHead") prefixes errors. */
nala_status nala_head_select(const nala_head_base *b, const char *name, const nala_feat *in, int n_in,
                             nala_feat *sel, nala_err *err);

/* Plans conv L on src into a new map of g (returned in dst). */
nala_status nala_head_conv(nala_graph *g, const nala_layer *L, const nala_feat *src, nala_feat *dst, int bucket,
                           nala_err *err);

void nala_head_base_free(nala_head_base *b);

/* model.auxiliary_head: mmseg FCNHead's keys, validated but never built (training-only head). */
extern const nala_schema_type nala_fcn_aux_type;

#endif
