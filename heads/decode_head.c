/* BaseDecodeHead's shared parts (see decode_head.h), and the FCNHead table of model.auxiliary_head. */
#include "heads/decode_head.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static const nala_schema_key norm_keys[] = {
    NALA_SKEY_BOOL("requires_grad", 0),
    /* mmcv BN eps is 1e-5, what the loader folds with; another eps would change the numbers */
    NALA_SKEY_NUMBER_IN("eps", 1e-5, 1e-5, 0),
    NALA_SKEY_NUMBER("momentum", 0),
};
static const nala_schema norm_key_schema = NALA_SCHEMA(norm_keys);
static const nala_schema_type norm_types[] = {{"BN", &norm_key_schema}, {"SyncBN", &norm_key_schema}};
const nala_schema nala_head_norm_schema = NALA_SCHEMA_TYPED(norm_types);

static const nala_schema_key act_keys[] = {NALA_SKEY_BOOL("inplace", 0)};
static const nala_schema act_key_schema = NALA_SCHEMA(act_keys);
static const nala_schema_type act_types[] = {{"ReLU", &act_key_schema}};
const nala_schema nala_head_act_schema = NALA_SCHEMA_TYPED(act_types);

/* UPerHead and FPNHead pass input_transform='multiple_select' to BaseDecodeHead themselves. */
const char *const nala_head_input_transforms[] = {"multiple_select", NULL};

static const cJSON *member(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

nala_status nala_head_base_parse(const cJSON *s, const char *path, nala_head_base *b, nala_err *err) {
  const cJSON *in = member(s, "in_channels"), *idx = member(s, "in_index");
  b->n_in = cJSON_GetArraySize(in);
  for (int i = 0; i < b->n_in; i++)
    b->in_ch[i] = (int)cJSON_GetArrayItem(in, i)->valuedouble;
  if (!cJSON_IsArray(idx))
    return nala_fail(err, NALA_E_FORMAT, "%s.in_index: a list is needed (this head takes several levels)", path);
  if (cJSON_GetArraySize(idx) != b->n_in)
    return nala_fail(err, NALA_E_FORMAT, "%s.in_index: %d entries but in_channels has %d", path,
                     cJSON_GetArraySize(idx), b->n_in);
  for (int i = 0; i < b->n_in; i++)
    b->in_index[i] = (int)cJSON_GetArrayItem(idx, i)->valuedouble;
  b->channels = (int)member(s, "channels")->valuedouble;
  b->num_classes = (int)member(s, "num_classes")->valuedouble;
  const cJSON *oc = member(s, "out_channels");
  if (oc && (int)oc->valuedouble != b->num_classes)
    return nala_fail(err, NALA_E_FORMAT, "%s.out_channels: %d differs from num_classes %d (sigmoid heads are not supported)",
                     path, (int)oc->valuedouble, b->num_classes);
  if (cJSON_IsTrue(member(s, "align_corners")))
    return nala_fail(err, NALA_E_UNSUPPORTED, "%s.align_corners: true is not supported (bilinear resizes run with align_corners=False)",
                     path);
  const cJSON *norm = member(s, "norm_cfg");
  b->norm = norm && cJSON_IsObject(norm); /* mmseg's default norm_cfg is None */
  const cJSON *act = member(s, "act_cfg");
  b->act = act && cJSON_IsNull(act) ? NALA_ACT_NONE : NALA_ACT_RELU;
  return NALA_OK;
}

nala_status nala_head_conv_seg_load(const nala_rt *rt, nala_weights *w, nala_head_base *b, const char *prefix,
                                    nala_err *err) {
  char key[256];
  snprintf(key, sizeof key, "%s.conv_seg", prefix);
  nala_conv_shape s = NALA_CONV_SHAPE(b->channels, b->num_classes, 1, 1, 1);
  NALA_CHECK(nala_conv_load(rt, w, &b->conv_seg, s, key, 1, NULL, 0, err));
  b->has_conv_seg = 1;
  return NALA_OK;
}

nala_status nala_head_convmodule(const nala_rt *rt, nala_weights *w, const nala_head_base *b, nala_layer *L,
                                 int ic, int oc, int k, const char *prefix, nala_err *err) {
  nala_conv_shape s = NALA_CONV_SHAPE(ic, oc, k, 1, 1);
  return nala_convmodule_load(rt, w, L, s, prefix, b->norm, b->act, err);
}

nala_status nala_head_select(const nala_head_base *b, const char *name, const nala_feat *in, int n_in,
                             nala_feat *sel, nala_err *err) {
  for (int i = 0; i < b->n_in; i++) {
    int j = b->in_index[i] < 0 ? n_in + b->in_index[i] : b->in_index[i];
    if (j < 0 || j >= n_in)
      return nala_fail(err, NALA_E_ARG, "%s: in_index[%d] = %d but the previous module gives %d levels", name, i,
                       b->in_index[i], n_in);
    if (in[j].c != b->in_ch[i])
      return nala_fail(err, NALA_E_ARG, "%s: in_channels[%d] = %d, the input level %d has %d channels", name, i,
                       b->in_ch[i], j, in[j].c);
    sel[i] = in[j];
  }
  return NALA_OK;
}

nala_status nala_head_conv(nala_graph *g, const nala_layer *L, const nala_feat *src, nala_feat *dst, int bucket,
                           nala_err *err) {
  int oh, ow;
  nala_layer_out_size(L, src->h, src->w, &oh, &ow);
  *dst = nala_graph_feat(g, L->conv.oc, oh, ow);
  return nala_conv_op(g, L, src->h, src->w, src->off, nala_feat_ld(src), dst->off, 0, 0, bucket, err);
}

void nala_head_base_free(nala_head_base *b) {
  if (b->has_conv_seg)
    nala_layer_free(&b->conv_seg);
  b->has_conv_seg = 0;
}

/* mmseg decode_heads/fcn_head.py: BaseDecodeHead keys plus its own. */
static const nala_schema_key fcn_keys[] = {
    {.key = "in_channels", .kinds = NALA_SK_INT | NALA_SK_ARRAY, .item_kinds = NALA_SK_INT, .has_min = 1, .min = 1,
     .min_items = 1, .max_items = NALA_HEAD_MAX_INS, .required = 1},
    {.key = "in_index", .kinds = NALA_SK_INT | NALA_SK_ARRAY, .item_kinds = NALA_SK_INT},
    NALA_SKEY_POS_INT("channels", 1),
    NALA_SKEY_POS_INT("num_classes", 1),
    NALA_SKEY_POS_INT("out_channels", 0),
    {.key = "input_transform", .kinds = NALA_SK_NULL | NALA_SK_STRING},
    {.key = "dropout_ratio", .kinds = NALA_SK_NUMBER, .has_min = 1, .min = 0, .has_max = 1, .max = 1},
    {.key = "conv_cfg", .kinds = NALA_SK_NULL},
    {.key = "norm_cfg", .kinds = NALA_SK_NULL | NALA_SK_OBJECT, .object = &nala_head_norm_schema},
    {.key = "act_cfg", .kinds = NALA_SK_NULL | NALA_SK_OBJECT, .object = &nala_head_act_schema},
    NALA_SKEY_BOOL("align_corners", 0),
    {.key = "loss_decode", .kinds = NALA_SK_OBJECT | NALA_SK_ARRAY, .item_kinds = NALA_SK_OBJECT},
    {.key = "ignore_index", .kinds = NALA_SK_INT},
    {.key = "sampler", .kinds = NALA_SK_NULL | NALA_SK_OBJECT},
    NALA_SKEY_NUMBER("threshold", 0),
    {.key = "init_cfg", .kinds = NALA_SK_NULL | NALA_SK_OBJECT | NALA_SK_ARRAY, .item_kinds = NALA_SK_OBJECT},
    NALA_SKEY_INT("num_convs", 0, 64, 0),
    NALA_SKEY_POS_INT("kernel_size", 0),
    NALA_SKEY_BOOL("concat_input", 0),
    NALA_SKEY_POS_INT("dilation", 0),
};
static const nala_schema fcn_schema = NALA_SCHEMA(fcn_keys);
const nala_schema_type nala_fcn_aux_type = {"FCNHead", &fcn_schema};
