/* RetinaNet's dense head (mmdet/models/dense_heads/retina_head.py, 3.x), shared by every level:
 *   cls: x -> cls_convs[0..stacked_convs) (ConvModule 3x3 + ReLU, no norm) -> retina_cls 3x3 (A * C)
 *   reg: x -> reg_convs[0..stacked_convs) (ConvModule 3x3 + ReLU)          -> retina_reg 3x3 (A * 4)
 * with A = len(ratios) * scales_per_octave anchors per location. Outputs, for L input levels:
 * out[0..L) the raw class logits, out[L..2L) the raw box deltas, NHWC, so that element
 * (y, x, a * C + c) is mmdet's cls_score.permute(1, 2, 0).reshape(-1, C)[(y * W + x) * A + a, c].
 * The stacked convs of all levels share two scratch maps (ops run in order), so the head's
 * workspace is its outputs plus two maps of the largest level.
 * Keys: bbox_head.cls_convs.<i>.conv.*, bbox_head.reg_convs.<i>.conv.*, bbox_head.retina_cls.*,
 * bbox_head.retina_reg.*. The anchor generator and box coder settings are read here too (they are
 * this section's keys) and handed to the post-processing (det/retina_post.c), which builds the anchors. */
#include "heads/retina_head.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn/layer.h"

#define RETINA_MAX_CONVS 16

static const nala_schema_key anchor_keys[] = {
    NALA_SKEY_POS_NUMBER("octave_base_scale", 0),
    NALA_SKEY_INT("scales_per_octave", 1, RETINA_MAX_SCALES, 0),
    {.key = "scales", .kinds = NALA_SK_ARRAY, .item_kinds = NALA_SK_NUMBER, .has_min = 1, .min = 0,
     .min_exclusive = 1, .min_items = 1, .max_items = RETINA_MAX_SCALES},
    {.key = "ratios", .kinds = NALA_SK_ARRAY, .item_kinds = NALA_SK_NUMBER, .has_min = 1, .min = 0,
     .min_exclusive = 1, .min_items = 1, .max_items = RETINA_MAX_RATIOS, .required = 1},
    NALA_SKEY_POS_INT_LIST("strides", 1, RETINA_MAX_LEVELS, 1),
    /* mmdet's defaults are the only values this port implements */
    NALA_SKEY_NUMBER_IN("center_offset", 0, 0, 0),
    {.key = "scale_major", .kinds = NALA_SK_BOOL},
};
static const nala_schema anchor_keys_schema = NALA_SCHEMA(anchor_keys);
static const nala_schema_type anchor_types[] = {{"AnchorGenerator", &anchor_keys_schema}};
static const nala_schema anchor_schema = NALA_SCHEMA_TYPED(anchor_types);

static const nala_schema_key coder_keys[] = {
    NALA_SKEY_LIST("target_means", NALA_SK_NUMBER, 4, 4, 0),
    {.key = "target_stds", .kinds = NALA_SK_ARRAY, .item_kinds = NALA_SK_NUMBER, .has_min = 1, .min = 0,
     .min_exclusive = 1, .min_items = 4, .max_items = 4},
    NALA_SKEY_BOOL("clip_border", 0),
    {.key = "add_ctr_clamp", .kinds = NALA_SK_BOOL}, /* only false (checked below) */
    NALA_SKEY_POS_NUMBER("ctr_clamp", 0),
};
static const nala_schema coder_keys_schema = NALA_SCHEMA(coder_keys);
static const nala_schema_type coder_types[] = {{"DeltaXYWHBBoxCoder", &coder_keys_schema}};
static const nala_schema coder_schema = NALA_SCHEMA_TYPED(coder_types);

static const nala_schema_key retina_keys[] = {
    NALA_SKEY_POS_INT("num_classes", 1),
    NALA_SKEY_POS_INT("in_channels", 1),
    NALA_SKEY_INT("stacked_convs", 0, RETINA_MAX_CONVS, 0),
    NALA_SKEY_POS_INT("feat_channels", 0),
    NALA_SKEY_OBJECT("anchor_generator", &anchor_schema, 1),
    NALA_SKEY_OBJECT("bbox_coder", &coder_schema, 0),
    {.key = "conv_cfg", .kinds = NALA_SK_NULL},
    {.key = "norm_cfg", .kinds = NALA_SK_NULL},
    /* training-only settings: accepted and ignored (use_sigmoid is checked below) */
    {.key = "loss_cls", .kinds = NALA_SK_OBJECT},
    {.key = "loss_bbox", .kinds = NALA_SK_OBJECT},
    {.key = "init_cfg", .kinds = NALA_SK_OBJECT | NALA_SK_ARRAY | NALA_SK_NULL},
    NALA_SKEY_BOOL("reg_decoded_bbox", 0),
};
static const nala_schema retina_schema = NALA_SCHEMA(retina_keys);

typedef struct retina_head {
  nala_retina_head_info info;
  int in_ch, feat_ch, n_convs;
  int n_cls, n_reg; /* layers loaded, for free */
  nala_layer cls_convs[RETINA_MAX_CONVS], reg_convs[RETINA_MAX_CONVS];
  nala_layer retina_cls, retina_reg;
} retina_head;

const nala_retina_head_info *nala_retina_head_info_of(const void *module) { return &((const retina_head *)module)->info; }

static const cJSON *member(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

static void head_free(void *module) {
  retina_head *h = module;
  if (!h)
    return;
  for (int i = 0; i < h->n_cls; i++)
    nala_layer_free(&h->cls_convs[i]);
  for (int i = 0; i < h->n_reg; i++)
    nala_layer_free(&h->reg_convs[i]);
  nala_layer_free(&h->retina_cls);
  nala_layer_free(&h->retina_reg);
  free(h);
}

static void read_floats(const cJSON *list, float *out, int n) {
  for (int i = 0; i < n; i++)
    out[i] = (float)cJSON_GetArrayItem(list, i)->valuedouble;
}

/* Anchor generator and box coder (validated by the tables: kinds and ranges hold). */
static nala_status read_anchors(const cJSON *s, nala_retina_head_info *info, nala_err *err) {
  const cJSON *ag = member(s, "anchor_generator");
  const cJSON *obs = member(ag, "octave_base_scale"), *spo = member(ag, "scales_per_octave");
  const cJSON *scales_json = member(ag, "scales"), *ratios_json = member(ag, "ratios");
  const cJSON *major = member(ag, "scale_major");
  if (major && !cJSON_IsTrue(major))
    return nala_fail(err, NALA_E_UNSUPPORTED, "model.bbox_head.anchor_generator.scale_major: only true is supported");
  if (scales_json) {
    /* mmdet: scales and (octave_base_scale, scales_per_octave) are exclusive */
    if (obs || spo)
      return nala_fail(err, NALA_E_FORMAT,
                       "model.bbox_head.anchor_generator: scales and octave_base_scale / scales_per_octave are "
                       "exclusive");
    info->n_scales = cJSON_GetArraySize(scales_json);
    read_floats(scales_json, info->scales, info->n_scales);
  } else {
    if (!obs || !spo)
      return nala_fail(err, NALA_E_FORMAT,
                       "model.bbox_head.anchor_generator: needs scales, or octave_base_scale and scales_per_octave");
    info->octave = 1;
    info->octave_base_scale = obs->valuedouble;
    info->n_scales = (int)spo->valuedouble;
  }
  info->n_ratios = cJSON_GetArraySize(ratios_json);
  read_floats(ratios_json, info->ratios, info->n_ratios);
  const cJSON *strides = member(ag, "strides");
  info->n_levels = cJSON_GetArraySize(strides);
  info->n_base = info->n_ratios * info->n_scales;
  for (int l = 0; l < info->n_levels; l++)
    info->strides[l] = (int)cJSON_GetArrayItem(strides, l)->valuedouble;
  const cJSON *coder = member(s, "bbox_coder");
  for (int j = 0; j < 4; j++)
    info->means[j] = 0.0f, info->stds[j] = 1.0f; /* DeltaXYWHBBoxCoder defaults */
  info->clip_border = 1;
  if (coder) {
    if (cJSON_IsTrue(member(coder, "add_ctr_clamp")))
      return nala_fail(err, NALA_E_UNSUPPORTED, "model.bbox_head.bbox_coder.add_ctr_clamp: only false is supported");
    if (member(coder, "target_means"))
      read_floats(member(coder, "target_means"), info->means, 4);
    if (member(coder, "target_stds"))
      read_floats(member(coder, "target_stds"), info->stds, 4);
    if (member(coder, "clip_border"))
      info->clip_border = cJSON_IsTrue(member(coder, "clip_border"));
  }
  return NALA_OK;
}

static nala_status read_config(const cJSON *s, retina_head *h, nala_err *err) {
  h->info.num_classes = (int)member(s, "num_classes")->valuedouble;
  h->in_ch = (int)member(s, "in_channels")->valuedouble;
  h->n_convs = member(s, "stacked_convs") ? (int)member(s, "stacked_convs")->valuedouble : 4;
  h->feat_ch = member(s, "feat_channels") ? (int)member(s, "feat_channels")->valuedouble : 256;
  const cJSON *loss = member(s, "loss_cls");
  const cJSON *sig = loss ? member(loss, "use_sigmoid") : NULL;
  /* mmdet: use_sigmoid_cls = loss_cls.get('use_sigmoid', False) picks sigmoid over softmax */
  if (loss && !cJSON_IsTrue(sig))
    return nala_fail(err, NALA_E_UNSUPPORTED,
                     "model.bbox_head.loss_cls.use_sigmoid: only sigmoid classification (true) is supported");
  if ((long)h->info.num_classes * RETINA_MAX_RATIOS * RETINA_MAX_SCALES > (1L << 24))
    return nala_fail(err, NALA_E_FORMAT, "model.bbox_head.num_classes: %d is too many", h->info.num_classes);
  return read_anchors(s, &h->info, err);
}

static nala_status head_create(const cJSON *section, nala_weights *w, const char *prefix, const nala_rt *rt,
                               void **out, nala_err *err) {
  retina_head *h = calloc(1, sizeof *h);
  if (!h)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for the RetinaNet head");
  nala_status st = read_config(section, h, err);
  char key[256];
  for (int i = 0; !st && i < h->n_convs; i++, h->n_cls++) {
    snprintf(key, sizeof key, "%s.cls_convs.%d", prefix, i);
    st = nala_convmodule_load(rt, w, &h->cls_convs[i],
                              (nala_conv_shape)NALA_CONV_SHAPE(i ? h->feat_ch : h->in_ch, h->feat_ch, 3, 1, 1), key,
                              0, NALA_ACT_RELU, err);
  }
  for (int i = 0; !st && i < h->n_convs; i++, h->n_reg++) {
    snprintf(key, sizeof key, "%s.reg_convs.%d", prefix, i);
    st = nala_convmodule_load(rt, w, &h->reg_convs[i],
                              (nala_conv_shape)NALA_CONV_SHAPE(i ? h->feat_ch : h->in_ch, h->feat_ch, 3, 1, 1), key,
                              0, NALA_ACT_RELU, err);
  }
  int cin = h->n_convs ? h->feat_ch : h->in_ch, A = h->info.n_base;
  if (!st) {
    snprintf(key, sizeof key, "%s.retina_cls", prefix);
    st = nala_conv_load(rt, w, &h->retina_cls, (nala_conv_shape)NALA_CONV_SHAPE(cin, A * h->info.num_classes, 3, 1, 1),
                        key, 1, NULL, 0, err);
  }
  if (!st) {
    snprintf(key, sizeof key, "%s.retina_reg", prefix);
    st = nala_conv_load(rt, w, &h->retina_reg, (nala_conv_shape)NALA_CONV_SHAPE(cin, A * 4, 3, 1, 1), key, 1, NULL, 0,
                        err);
  }
  if (st) {
    head_free(h);
    return st;
  }
  *out = h;
  return NALA_OK;
}

/* One 3x3 conv (pad 1, stride 1) from src into dst (same h, w). */
static nala_status conv(nala_graph *g, const nala_layer *L, const nala_feat *src, const nala_feat *dst, int bucket,
                        nala_err *err) {
  return nala_conv_op(g, L, src->h, src->w, src->off, nala_feat_ld(src), dst->off, 0, 0, bucket, err);
}

/* A scratch map viewed at another level's size (same region, dense). */
static nala_feat view(size_t off, int c, int h, int w) {
  nala_feat f = {.c = c, .h = h, .w = w, .off = off};
  return f;
}

static nala_status branch(nala_graph *g, const nala_layer *convs, int n, const nala_layer *last, const nala_feat *x,
                          const size_t scratch[2], int feat_ch, nala_feat *out, int bucket, nala_err *err) {
  nala_feat cur = *x;
  for (int i = 0; i < n; i++) {
    nala_feat next = view(scratch[i & 1], feat_ch, x->h, x->w);
    NALA_CHECK(conv(g, &convs[i], &cur, &next, bucket, err));
    cur = next;
  }
  *out = nala_graph_feat(g, last->conv.oc, x->h, x->w);
  return conv(g, last, &cur, out, bucket, err);
}

static nala_status head_plan(const void *module, nala_graph *g, const nala_feat *in, int n_in, nala_feat *out,
                             int *n_out, nala_err *err) {
  const retina_head *h = module;
  if (n_in != h->info.n_levels || 2 * n_in > NALA_MODULE_MAX_FEATS)
    return nala_fail(err, NALA_E_ARG,
                     "RetinaHead: anchor_generator.strides lists %d levels, the previous module gives %d",
                     h->info.n_levels, n_in);
  size_t most = 0;
  for (int l = 0; l < n_in; l++) {
    if (in[l].c != h->in_ch)
      return nala_fail(err, NALA_E_ARG, "RetinaHead: in_channels = %d, input level %d has %d channels", h->in_ch, l,
                       in[l].c);
    size_t px = (size_t)in[l].h * in[l].w;
    most = px > most ? px : most;
  }
  size_t scratch[2] = {0, 0};
  if (h->n_convs) {
    scratch[0] = nala_graph_region(g, most * h->feat_ch * sizeof(float));
    scratch[1] = nala_graph_region(g, most * h->feat_ch * sizeof(float));
  }
  int bucket = nala_graph_bucket(g, "dense head");
  for (int l = 0; l < n_in; l++) {
    NALA_CHECK(branch(g, h->cls_convs, h->n_convs, &h->retina_cls, &in[l], scratch, h->feat_ch, &out[l], bucket, err));
    NALA_CHECK(
        branch(g, h->reg_convs, h->n_convs, &h->retina_reg, &in[l], scratch, h->feat_ch, &out[n_in + l], bucket, err));
  }
  *n_out = 2 * n_in;
  return NALA_OK;
}

const nala_module_type nala_retina_head_module = {
    .type = {"RetinaHead", &retina_schema}, .create = head_create, .plan = head_plan, .free = head_free};
