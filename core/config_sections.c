/* Typed structs from a merged tree the schema has already checked (kinds, ranges and lengths are
 * guaranteed here); what remains are cross-field rules, defaults and derived values. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config_internal.h"

static const cJSON *member(const cJSON *object, const char *key) {
  return object ? cJSON_GetObjectItemCaseSensitive(object, key) : NULL;
}

/* Reads a list of n numbers, or one number for all n (mlp_ratios: 4, layer_init_values: 4.0). */
static void read_floats(const cJSON *item, float *out, int n) {
  /* Beyond FLT_MAX the float conversion is undefined in C: it becomes inf and validation names it. */
  for (int i = 0; i < n; i++) {
    double v = cJSON_IsArray(item) ? cJSON_GetArrayItem(item, i)->valuedouble : item->valuedouble;
    out[i] = v > FLT_MAX ? INFINITY : v < -FLT_MAX ? -INFINITY : (float)v;
  }
}

static void read_ints(const cJSON *item, int *out, int n) {
  for (int i = 0; i < n; i++)
    out[i] = (int)cJSON_GetArrayItem(item, i)->valuedouble;
}

/* Re-labels a backbone-level failure as a config format error under the given path prefix. */
static nala_status as_format_error(nala_err *err, const char *prefix) {
  if (!err)
    return NALA_E_FORMAT;
  err->status = NALA_E_FORMAT;
  return nala_err_prefix(err, "%s", prefix);
}

nala_status cfg_parse_backbone(const cJSON *json, nala_backbone_cfg *bb, nala_err *err) {
  const cJSON *variant = member(json, "variant");
  const cJSON *embed = member(json, "embed_dims"), *depths = member(json, "depths");
  const cJSON *heads = member(json, "num_heads"), *mlp = member(json, "mlp_ratios");
  if (variant) {
    if (nala_backbone_cfg_preset(variant->valuestring, bb, err) != NALA_OK)
      return as_format_error(err, "model.backbone.variant: ");
  } else {
    if (!embed || !depths || !heads || !mlp)
      return nala_fail(err, NALA_E_FORMAT,
                       "model.backbone: without \"variant\", all of embed_dims, depths, num_heads and mlp_ratios "
                       "are required");
    /* NALA.py's constructor defaults: no layerscale, init 1e-6, all four outputs. */
    memset(bb, 0, sizeof *bb);
    snprintf(bb->variant, sizeof bb->variant, "custom");
    for (int s = 0; s < NALA_BACKBONE_STAGES; s++) {
      bb->layer_init_values[s] = 1e-6f;
      bb->out_indices[s] = s;
    }
    bb->n_out = NALA_BACKBONE_STAGES;
  }
  if (embed)
    read_ints(embed, bb->embed_dims, 4);
  if (depths)
    read_ints(depths, bb->depths, 4);
  if (heads)
    read_ints(heads, bb->num_heads, 4);
  if (mlp)
    read_floats(mlp, bb->mlp_ratios, 4);
  const cJSON *layerscales = member(json, "layerscales");
  for (int s = 0; layerscales && s < 4; s++)
    bb->layerscales[s] = cJSON_IsTrue(cJSON_IsArray(layerscales) ? cJSON_GetArrayItem(layerscales, s) : layerscales);
  if (member(json, "layer_init_values"))
    read_floats(member(json, "layer_init_values"), bb->layer_init_values, 4);
  nala_backbone_cfg_derive_ffn(bb);
  nala_backbone_cfg_default_attn(bb);
  const cJSON *attn = member(json, "attn");
  if (attn) {
    char spec[4 * (NALA_BACKBONE_MAX_DEPTH + 1) + 8] = "";
    if (cJSON_IsString(attn)) {
      if (strlen(attn->valuestring) >= sizeof spec)
        return nala_fail(err, NALA_E_FORMAT, "model.backbone.attn: string longer than %zu flags", sizeof spec - 1);
      snprintf(spec, sizeof spec, "%s", attn->valuestring);
    } else {
      size_t len = 0;
      for (int s = 0; s < 4; s++) {
        const char *stage = cJSON_GetArrayItem(attn, s)->valuestring;
        if (strchr(stage, ',') || strlen(stage) > NALA_BACKBONE_MAX_DEPTH)
          return nala_fail(err, NALA_E_FORMAT, "model.backbone.attn[%d]: expected 1..%d flags 'l'/'v', got \"%.80s\"",
                           s, NALA_BACKBONE_MAX_DEPTH, stage);
        len += (size_t)snprintf(spec + len, sizeof spec - len, s ? ",%s" : "%s", stage);
      }
    }
    nala_status st = nala_backbone_cfg_set_attn(bb, spec, err);
    if (st != NALA_OK)
      return as_format_error(err, "model.backbone: ");
  }
  const cJSON *out_indices = member(json, "out_indices");
  if (out_indices) {
    bb->n_out = cJSON_GetArraySize(out_indices);
    read_ints(out_indices, bb->out_indices, bb->n_out);
  }
  const cJSON *weights = member(json, "weights");
  if (cJSON_IsString(weights)) {
    if (strlen(weights->valuestring) >= sizeof bb->weights)
      return nala_fail(err, NALA_E_FORMAT, "model.backbone.weights: path longer than %zu bytes",
                       sizeof bb->weights - 1);
    snprintf(bb->weights, sizeof bb->weights, "%s", weights->valuestring);
  }
  if (nala_backbone_cfg_validate(bb, err) != NALA_OK)
    return as_format_error(err, "model.backbone.");
  return NALA_OK;
}

static void parse_preprocess(const cJSON *dp, const cJSON *pipeline, nala_preprocess_section *pp) {
  /* mmengine's BaseDataPreprocessor defaults: no normalisation, no channel swap, no padding. */
  for (int c = 0; c < 3; c++) {
    pp->mean[c] = 0.0f;
    pp->std[c] = 1.0f;
  }
  pp->pad_size_divisor = 1;
  pp->seg_pad_val = 255;
  if (member(dp, "mean"))
    read_floats(member(dp, "mean"), pp->mean, 3);
  if (member(dp, "std"))
    read_floats(member(dp, "std"), pp->std, 3);
  pp->bgr_to_rgb = cJSON_IsTrue(member(dp, "bgr_to_rgb"));
  if (member(dp, "pad_size_divisor"))
    pp->pad_size_divisor = (int)member(dp, "pad_size_divisor")->valuedouble;
  if (member(dp, "size"))
    read_ints(member(dp, "size"), pp->pad_size, 2);
  if (member(dp, "pad_val"))
    pp->pad_val = (float)member(dp, "pad_val")->valuedouble;
  if (member(dp, "seg_pad_val"))
    pp->seg_pad_val = (int)member(dp, "seg_pad_val")->valuedouble;
  for (const cJSON *step = pipeline ? pipeline->child : NULL; step; step = step->next) {
    if (strcmp(member(step, "type")->valuestring, "Resize"))
      continue;
    pp->has_resize = 1;
    read_ints(member(step, "scale"), pp->scale, 2);
    pp->keep_ratio = cJSON_IsTrue(member(step, "keep_ratio")); /* mmcv Resize: keep_ratio=False */
  }
}

static nala_status parse_test_cfg(const cJSON *json, nala_test_cfg *tc, nala_err *err) {
  const cJSON *mode = member(json, "mode");
  snprintf(tc->mode, sizeof tc->mode, "%s", mode ? mode->valuestring : "whole");
  if (member(json, "crop_size"))
    read_ints(member(json, "crop_size"), tc->crop_size, 2);
  if (member(json, "stride"))
    read_ints(member(json, "stride"), tc->stride, 2);
  if (!strcmp(tc->mode, "slide") && (!member(json, "crop_size") || !member(json, "stride")))
    return nala_fail(err, NALA_E_FORMAT, "model.test_cfg: mode \"slide\" needs crop_size and stride");
  return NALA_OK;
}

nala_status cfg_parse_model(const cJSON *model, const cJSON *test_pipeline, nala_model_cfg *out, nala_err *err) {
  memset(out, 0, sizeof *out);
  snprintf(out->type, sizeof out->type, "%s", member(model, "type")->valuestring);
  NALA_CHECK(cfg_parse_backbone(member(model, "backbone"), &out->backbone, err));
  parse_preprocess(member(model, "data_preprocessor"), test_pipeline, &out->preprocess);
  return parse_test_cfg(member(model, "test_cfg"), &out->test_cfg, err);
}

/* data_root + "/" + rel unless rel is absolute (mmengine joins the same way). */
static nala_status join_root(const char *root, const char *rel, char *out, size_t size, const char *key,
                             nala_err *err) {
  int n = rel[0] == '/' || !root[0] ? snprintf(out, size, "%s", rel)
                                    : snprintf(out, size, "%s%s%s", root, root[strlen(root) - 1] == '/' ? "" : "/", rel);
  if (n < 0 || (size_t)n >= size)
    return nala_fail(err, NALA_E_FORMAT, "dataset.%s: path longer than %zu bytes", key, size - 1);
  return NALA_OK;
}

nala_status nala_dataset_cfg_init(nala_dataset_type type, const char *data_root, nala_dataset_cfg *out,
                                  nala_err *err) {
  if (!data_root || !out)
    return nala_fail(err, NALA_E_ARG, "nala_dataset_cfg_init: NULL argument");
  memset(out, 0, sizeof *out);
  /* Default layouts of the official releases (mmdet coco_instance.py, mmseg ade20k.py / cityscapes.py). */
  const char *img_dir, *seg_map_dir = "", *ann_file = "", *name;
  if (type == NALA_DATASET_COCO) {
    name = "CocoDataset";
    img_dir = "val2017/";
    ann_file = "annotations/instances_val2017.json";
  } else if (type == NALA_DATASET_ADE20K) {
    name = "ADE20KDataset";
    img_dir = "images/validation";
    seg_map_dir = "annotations/validation";
    out->reduce_zero_label = 1;
  } else if (type == NALA_DATASET_CITYSCAPES) {
    name = "CityscapesDataset";
    img_dir = "leftImg8bit/val";
    seg_map_dir = "gtFine/val";
  } else {
    return nala_fail(err, NALA_E_ARG, "nala_dataset_cfg_init: unknown dataset type %d", (int)type);
  }
  out->type = type;
  snprintf(out->type_name, sizeof out->type_name, "%s", name);
  if (strlen(data_root) >= sizeof out->data_root)
    return nala_fail(err, NALA_E_FORMAT, "dataset.data_root: path longer than %zu bytes", sizeof out->data_root - 1);
  snprintf(out->data_root, sizeof out->data_root, "%s", data_root);
  NALA_CHECK(join_root(data_root, img_dir, out->img_dir, sizeof out->img_dir, "img_dir", err));
  if (seg_map_dir[0])
    NALA_CHECK(join_root(data_root, seg_map_dir, out->seg_map_dir, sizeof out->seg_map_dir, "seg_map_dir", err));
  if (ann_file[0])
    NALA_CHECK(join_root(data_root, ann_file, out->ann_file, sizeof out->ann_file, "ann_file", err));
  return NALA_OK;
}

nala_status cfg_parse_dataset(const cJSON *json, nala_dataset_cfg *out, nala_err *err) {
  const char *type = member(json, "type")->valuestring;
  nala_dataset_type kind = !strcmp(type, "CocoDataset")     ? NALA_DATASET_COCO
                           : !strcmp(type, "ADE20KDataset") ? NALA_DATASET_ADE20K
                                                            : NALA_DATASET_CITYSCAPES;
  const char *root = member(json, "data_root")->valuestring;
  NALA_CHECK(nala_dataset_cfg_init(kind, root, out, err));
  if (member(json, "img_dir"))
    NALA_CHECK(join_root(root, member(json, "img_dir")->valuestring, out->img_dir, sizeof out->img_dir, "img_dir", err));
  if (member(json, "seg_map_dir"))
    NALA_CHECK(join_root(root, member(json, "seg_map_dir")->valuestring, out->seg_map_dir, sizeof out->seg_map_dir,
                         "seg_map_dir", err));
  if (member(json, "ann_file"))
    NALA_CHECK(join_root(root, member(json, "ann_file")->valuestring, out->ann_file, sizeof out->ann_file, "ann_file",
                         err));
  if (member(json, "reduce_zero_label"))
    out->reduce_zero_label = cJSON_IsTrue(member(json, "reduce_zero_label"));
  const cJSON *classes = member(json, "classes");
  if (classes) {
    int n = cJSON_GetArraySize(classes);
    out->classes = calloc((size_t)n, sizeof *out->classes);
    if (!out->classes)
      return nala_fail(err, NALA_E_NOMEM, "dataset.classes: out of memory");
    for (int i = 0; i < n; i++) {
      const char *name = cJSON_GetArrayItem(classes, i)->valuestring;
      for (int j = 0; j < i; j++)
        if (!strcmp(out->classes[j], name)) {
          cfg_dataset_release(out);
          return nala_fail(err, NALA_E_FORMAT, "dataset.classes[%d]: \"%s\" repeats dataset.classes[%d]", i, name, j);
        }
      if (!(out->classes[i] = strdup(name))) {
        cfg_dataset_release(out);
        return nala_fail(err, NALA_E_NOMEM, "dataset.classes: out of memory");
      }
      out->n_classes = i + 1;
    }
  }
  return NALA_OK;
}

void cfg_dataset_release(nala_dataset_cfg *dataset) {
  for (int i = 0; i < dataset->n_classes; i++)
    free(dataset->classes[i]);
  free(dataset->classes);
  dataset->classes = NULL;
  dataset->n_classes = 0;
}
