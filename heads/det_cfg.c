/* Shared detection config sections (see det_cfg.h); defaults are mmdet's. */
#include "heads/det_cfg.h"

#include <cjson/cJSON.h>
#include <math.h>

#include "det/det.h"

static const nala_schema_key anchor_keys[] = {
    NALA_SKEY_POS_INT_LIST("strides", 1, NALA_ANCHOR_MAX_LEVELS, 1),
    {.key = "ratios", .kinds = NALA_SK_ARRAY, .item_kinds = NALA_SK_NUMBER, .has_min = 1, .min = 0,
     .min_exclusive = 1, .min_items = 1, .max_items = NALA_ANCHOR_MAX_BASE, .required = 1},
    {.key = "scales", .kinds = NALA_SK_ARRAY, .item_kinds = NALA_SK_NUMBER, .has_min = 1, .min = 0,
     .min_exclusive = 1, .min_items = 1, .max_items = NALA_ANCHOR_MAX_BASE},
    NALA_SKEY_POS_NUMBER("octave_base_scale", 0),
    NALA_SKEY_INT("scales_per_octave", 1, NALA_ANCHOR_MAX_BASE, 0),
    {.key = "base_sizes", .kinds = NALA_SK_ARRAY, .item_kinds = NALA_SK_NUMBER, .has_min = 1, .min = 0,
     .min_exclusive = 1, .min_items = 1, .max_items = NALA_ANCHOR_MAX_LEVELS},
    NALA_SKEY_NUMBER_IN("center_offset", 0, 0, 0),
    NALA_SKEY_BOOL("scale_major", 0),
};
static const nala_schema anchor_keys_schema = NALA_SCHEMA(anchor_keys);
static const nala_schema_type anchor_types[] = {{"AnchorGenerator", &anchor_keys_schema}};
const nala_schema nala_anchor_generator_schema = NALA_SCHEMA_TYPED(anchor_types);

static const nala_schema_key coder_keys[] = {
    NALA_SKEY_LIST("target_means", NALA_SK_NUMBER, 4, 4, 0),
    {.key = "target_stds", .kinds = NALA_SK_ARRAY, .item_kinds = NALA_SK_NUMBER, .has_min = 1, .min = 0,
     .min_exclusive = 1, .min_items = 4, .max_items = 4},
    NALA_SKEY_BOOL("clip_border", 0),
    {.key = "add_ctr_clamp", .kinds = NALA_SK_BOOL},
};
static const nala_schema coder_keys_schema = NALA_SCHEMA(coder_keys);
static const nala_schema_type coder_types[] = {{"DeltaXYWHBBoxCoder", &coder_keys_schema}};
const nala_schema nala_delta_coder_schema = NALA_SCHEMA_TYPED(coder_types);

static const nala_schema_key nms_keys[] = {
    NALA_SKEY_NUMBER_IN("iou_threshold", 0, 1, 1),
};
static const nala_schema nms_keys_schema = NALA_SCHEMA(nms_keys);
static const nala_schema_type nms_types[] = {{"nms", &nms_keys_schema}};
static const nala_schema nms_schema = NALA_SCHEMA_TYPED(nms_types);

/* Workspaces are sized by these, so they are bounded. */
static const nala_schema_key rpn_test_keys[] = {
    NALA_SKEY_INT("nms_pre", -1, 100000, 0),
    NALA_SKEY_INT("max_per_img", 1, 10000, 1),
    NALA_SKEY_OBJECT("nms", &nms_schema, 1),
    NALA_SKEY_NUMBER_IN("min_bbox_size", -1, 1e6, 0),
    NALA_SKEY_NUMBER_IN("score_thr", 0, 1, 0),
};
const nala_schema nala_rpn_test_cfg_schema = NALA_SCHEMA(rpn_test_keys);

static const nala_schema_key rcnn_test_keys[] = {
    NALA_SKEY_NUMBER_IN("score_thr", 0, 1, 1),
    NALA_SKEY_OBJECT("nms", &nms_schema, 1),
    NALA_SKEY_INT("max_per_img", 1, 1000, 1),
    NALA_SKEY_NUMBER_IN("mask_thr_binary", 0, 1, 0),
};
const nala_schema nala_rcnn_test_cfg_schema = NALA_SCHEMA(rcnn_test_keys);

static const cJSON *member(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

static int read_floats(const cJSON *list, float *out, int cap) {
  int n = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, list) if (n < cap) out[n++] = (float)it->valuedouble;
  return n;
}

nala_status nala_anchor_cfg_read(const cJSON *s, const char *path, nala_anchor_cfg *a, nala_err *err) {
  *a = (nala_anchor_cfg){0};
  if (!s)
    return nala_fail(err, NALA_E_FORMAT, "%s: required", path);
  const cJSON *it;
  cJSON_ArrayForEach(it, member(s, "strides")) a->strides[a->n_levels++] = (int)it->valuedouble;
  a->n_ratios = read_floats(member(s, "ratios"), a->ratios, NALA_ANCHOR_MAX_BASE);
  const cJSON *scales = member(s, "scales"), *obs = member(s, "octave_base_scale"),
              *spo = member(s, "scales_per_octave");
  if ((scales != NULL) == (obs != NULL || spo != NULL) || (obs != NULL) != (spo != NULL))
    return nala_fail(err, NALA_E_FORMAT, "%s: give scales, or octave_base_scale with scales_per_octave", path);
  if (scales) {
    a->n_scales = read_floats(scales, a->scales, NALA_ANCHOR_MAX_BASE);
  } else {
    a->n_scales = (int)spo->valuedouble;
    NALA_CHECK(nala_det_octave_scales(obs->valuedouble, a->n_scales, a->scales, err));
  }
  a->n_base = a->n_ratios * a->n_scales;
  if (a->n_base > NALA_ANCHOR_MAX_BASE)
    return nala_fail(err, NALA_E_FORMAT, "%s: %d ratios x %d scales is more than %d anchors per position", path,
                     a->n_ratios, a->n_scales, NALA_ANCHOR_MAX_BASE);
  const cJSON *scale_major = member(s, "scale_major");
  if (scale_major && !cJSON_IsTrue(scale_major))
    return nala_fail(err, NALA_E_UNSUPPORTED, "%s.scale_major: only true (mmdet's default)", path);
  const cJSON *bs = member(s, "base_sizes");
  if (bs && cJSON_GetArraySize(bs) != a->n_levels)
    return nala_fail(err, NALA_E_FORMAT, "%s.base_sizes: %d values for %d strides", path, cJSON_GetArraySize(bs),
                     a->n_levels);
  for (int l = 0; l < a->n_levels; l++)
    a->base_sizes[l] = bs ? (float)cJSON_GetArrayItem(bs, l)->valuedouble : (float)a->strides[l];
  return NALA_OK;
}

nala_status nala_delta_coder_read(const cJSON *s, float std_xy, float std_wh, nala_delta_coder *c) {
  *c = (nala_delta_coder){{0, 0, 0, 0}, {std_xy, std_xy, std_wh, std_wh}, 1};
  if (!s)
    return NALA_OK;
  if (member(s, "target_means"))
    read_floats(member(s, "target_means"), c->means, 4);
  if (member(s, "target_stds"))
    read_floats(member(s, "target_stds"), c->stds, 4);
  if (member(s, "clip_border"))
    c->clip_border = cJSON_IsTrue(member(s, "clip_border"));
  return NALA_OK;
}

static float iou_of(const cJSON *s) {
  return (float)member(member(s, "nms"), "iou_threshold")->valuedouble;
}

nala_status nala_rpn_test_cfg_read(const cJSON *s, const char *path, nala_rpn_test_cfg *t, nala_err *err) {
  if (!s)
    return nala_fail(err, NALA_E_FORMAT, "%s: required (nms_pre, max_per_img, nms)", path);
  t->nms_pre = member(s, "nms_pre") ? (int)member(s, "nms_pre")->valuedouble : -1;
  t->max_per_img = (int)member(s, "max_per_img")->valuedouble;
  t->iou_thr = iou_of(s);
  t->min_bbox_size = member(s, "min_bbox_size") ? (float)member(s, "min_bbox_size")->valuedouble : -1.0f;
  return NALA_OK;
}

nala_status nala_rcnn_test_cfg_read(const cJSON *s, const char *path, nala_rcnn_test_cfg *t, nala_err *err) {
  if (!s)
    return nala_fail(err, NALA_E_FORMAT, "%s: required (score_thr, nms, max_per_img)", path);
  t->score_thr = (float)member(s, "score_thr")->valuedouble;
  t->iou_thr = iou_of(s);
  t->max_per_img = (int)member(s, "max_per_img")->valuedouble;
  t->mask_thr = member(s, "mask_thr_binary") ? (float)member(s, "mask_thr_binary")->valuedouble : 0.5f;
  return NALA_OK;
}
