/* mmdet StandardRoIHead at test time (mmdet/models/roi_heads/standard_roi_head.py, mmdet 3.x):
 *   predict_bbox: rois = the RPN proposals; bbox_roi_extractor -> bbox_head -> multiclass NMS
 *   predict_mask: rois = the final boxes (not rescaled: with a mask head mmdet keeps img_shape
 *                 boxes here, rescale happens at paste); mask_roi_extractor -> mask_head
 * The module takes the RPN head's outputs (heads/two_stage.h) and outputs the RPN maps and
 * proposals (for the parity dump) followed by its own results (ROI_OUT_*). Its test_cfg is mmdet's
 * model.test_cfg.rcnn (merged into this section by the model root, as mmdet's builder does). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn/module.h"
#include "heads/roi_parts.h"
#include "heads/two_stage.h"

static const char *const pool_modes[] = {"avg", NULL};
static const nala_schema_key roi_layer_keys[] = {
    NALA_SKEY_INT("output_size", 1, 64, 1),
    NALA_SKEY_INT("sampling_ratio", 0, 16, 0),
    NALA_SKEY_BOOL("aligned", 0),
    NALA_SKEY_ENUM("pool_mode", pool_modes, 0),
};
static const nala_schema roi_layer_keys_schema = NALA_SCHEMA(roi_layer_keys);
static const nala_schema_type roi_layer_types[] = {{"RoIAlign", &roi_layer_keys_schema}};
static const nala_schema roi_layer_schema = NALA_SCHEMA_TYPED(roi_layer_types);

static const nala_schema_key extractor_keys[] = {
    NALA_SKEY_OBJECT("roi_layer", &roi_layer_schema, 1),
    NALA_SKEY_POS_INT("out_channels", 1),
    NALA_SKEY_POS_INT_LIST("featmap_strides", 1, NALA_ROI_MAX_LEVELS, 1),
    NALA_SKEY_POS_NUMBER("finest_scale", 0),
    {.key = "init_cfg", .kinds = NALA_SK_NULL | NALA_SK_OBJECT},
};
static const nala_schema extractor_keys_schema = NALA_SCHEMA(extractor_keys);
static const nala_schema_type extractor_types[] = {{"SingleLevelRoIExtractor", &extractor_keys_schema}};
const nala_schema nala_roi_extractor_schema = NALA_SCHEMA_TYPED(extractor_types);

static const nala_schema_key roi_head_keys[] = {
    NALA_SKEY_OBJECT("bbox_roi_extractor", &nala_roi_extractor_schema, 1),
    NALA_SKEY_OBJECT("bbox_head", &nala_bbox_head_schema, 1),
    NALA_SKEY_OBJECT("mask_roi_extractor", &nala_roi_extractor_schema, 0),
    NALA_SKEY_OBJECT("mask_head", &nala_mask_head_schema, 0),
    {.key = "init_cfg", .kinds = NALA_SK_NULL | NALA_SK_OBJECT},
    {.key = "train_cfg", .kinds = NALA_SK_NULL | NALA_SK_OBJECT},
    NALA_SKEY_OBJECT("test_cfg", &nala_rcnn_test_cfg_schema, 0),
};
static const nala_schema roi_head_schema = NALA_SCHEMA(roi_head_keys);

static const cJSON *member(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

nala_status nala_roi_extractor_read(const cJSON *s, const char *path, nala_roi_extractor *x, nala_err *err) {
  *x = (nala_roi_extractor){0};
  const cJSON *layer = member(s, "roi_layer"), *it;
  x->out_size = (int)member(layer, "output_size")->valuedouble;
  x->sampling_ratio = member(layer, "sampling_ratio") ? (int)member(layer, "sampling_ratio")->valuedouble : 0;
  if (member(layer, "aligned") && !cJSON_IsTrue(member(layer, "aligned")))
    return nala_fail(err, NALA_E_UNSUPPORTED, "%s.roi_layer.aligned: only true (mmdet's RoIAlign default)", path);
  x->out_channels = (int)member(s, "out_channels")->valuedouble;
  cJSON_ArrayForEach(it, member(s, "featmap_strides")) x->strides[x->n_levels++] = (int)it->valuedouble;
  x->finest_scale = member(s, "finest_scale") ? (float)member(s, "finest_scale")->valuedouble : 56.0f;
  return NALA_OK;
}

int nala_roi_buckets(int max, int *b) {
  int n = 0;
  for (int v = max; n < NALA_ROI_MAX_BUCKETS; v = (v + 1) / 2) {
    b[n++] = v;
    if (v == 1)
      break;
  }
  return n;
}

int nala_roi_bucket_of(const int *b, int n, int count) {
  int k = 0;
  while (k + 1 < n && b[k + 1] >= count)
    k++;
  return b[k];
}

nala_status nala_roi_gate(nala_graph *g, int first, size_t count_off, const int *b, int n, int k, nala_err *err) {
  return nala_graph_gate_since(g, first, count_off, k + 1 < n ? b[k + 1] : 0, b[k], err);
}

int nala_roi_count(const char *ws, const nala_roi_feats *a) {
  int c = nala_ws_count(ws, a->count);
  return c < 0 ? 0 : c > a->buckets[0] ? a->buckets[0] : c;
}

/* RoIAlign of the counted RoIs, then zeros up to the bucket the layers after it run. */
static nala_status roi_feats_run(const void *args, char *ws, int nthreads, nala_err *err) {
  const nala_roi_feats *a = *(const nala_roi_feats *const *)args;
  int n = nala_roi_count(ws, a);
  if (!n)
    return NALA_OK;
  nala_det_feat lv[NALA_ROI_MAX_LEVELS];
  for (int l = 0; l < a->n_levels; l++) {
    lv[l] = a->levels[l];
    lv[l].data = (const float *)(ws + a->level_off[l]);
  }
  size_t per = (size_t)lv[0].c * a->out_size * a->out_size;
  float *feats = (float *)(ws + a->feats);
  size_t ws_floats = nala_det_roi_align_ws_floats(lv[0].c, nthreads);
  NALA_CHECK(nala_det_roi_align_levels_layout(lv, a->n_levels, a->finest_scale, (const float *)(ws + a->rois),
                                              (size_t)n, a->out_size, a->out_size, a->sampling_ratio,
                                              a->channel_last, feats, NULL, nthreads, (float *)(ws + a->align_ws),
                                              ws_floats, err));
  int b = nala_roi_bucket_of(a->buckets, a->n_buckets, n);
  memset(feats + (size_t)n * per, 0, (size_t)(b - n) * per * sizeof *feats);
  return NALA_OK;
}

nala_status nala_roi_feats_plan(nala_graph *g, nala_roi_feats *a, const nala_roi_extractor *ex,
                                const nala_feat *levels, int in_ch, const nala_feat *rois, const nala_feat *count,
                                int channel_last, int bucket, const char *who, nala_err *err) {
  a->n_levels = ex->n_levels, a->out_size = ex->out_size, a->sampling_ratio = ex->sampling_ratio;
  a->finest_scale = ex->finest_scale, a->channel_last = channel_last;
  for (int l = 0; l < ex->n_levels; l++) {
    a->levels[l] = (nala_det_feat){NULL, levels[l].h, levels[l].w, levels[l].c, 1.0f / (float)ex->strides[l]};
    a->level_off[l] = levels[l].off;
    if (nala_feat_ld(&levels[l]) != levels[l].c)
      return nala_fail(err, NALA_E_ARG, "%s: level %d is a channel slice", who, l);
  }
  int max = rois->w;
  a->n_buckets = nala_roi_buckets(max, a->buckets);
  a->rois = rois->off, a->count = count->off;
  a->feats = nala_graph_region(g, (size_t)max * in_ch * a->out_size * a->out_size * 4);
  a->align_ws = nala_graph_region(g, nala_det_roi_align_ws_floats(in_ch, g->nthreads) * 4);
  return nala_graph_add_kernel(g, roi_feats_run, &a, sizeof a, bucket, err);
}

typedef struct roi_head {
  nala_roi_extractor bbox_ex, mask_ex;
  nala_rcnn_test_cfg test;
  nala_bbox_head *bbox;
  nala_mask_head *mask;
} roi_head;

static void roi_head_free(void *module) {
  roi_head *r = module;
  if (!r)
    return;
  nala_bbox_head_free(r->bbox);
  nala_mask_head_free(r->mask);
  free(r);
}

static nala_status roi_head_create(const cJSON *s, nala_weights *w, const char *prefix, const nala_rt *rt,
                                   void **out, nala_err *err) {
  roi_head *r = calloc(1, sizeof *r);
  if (!r)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for the RoI head");
  char key[256];
  nala_status st = nala_rcnn_test_cfg_read(member(s, "test_cfg"), "model.test_cfg.rcnn", &r->test, err);
  if (!st)
    st = nala_roi_extractor_read(member(s, "bbox_roi_extractor"), "model.roi_head.bbox_roi_extractor", &r->bbox_ex,
                                 err);
  snprintf(key, sizeof key, "%s.bbox_head", prefix);
  if (!st)
    st = nala_bbox_head_create(member(s, "bbox_head"), w, key, rt, r->bbox_ex.out_channels, &r->bbox, err);
  const cJSON *mex = member(s, "mask_roi_extractor"), *mh = member(s, "mask_head");
  if (!st && (mex != NULL) != (mh != NULL))
    st = nala_fail(err, NALA_E_FORMAT, "model.roi_head: mask_roi_extractor and mask_head come together (%s only)",
                   mex ? "mask_roi_extractor" : "mask_head");
  if (!st && mh)
    st = nala_roi_extractor_read(mex, "model.roi_head.mask_roi_extractor", &r->mask_ex, err);
  snprintf(key, sizeof key, "%s.mask_head", prefix);
  if (!st && mh)
    st = nala_mask_head_create(mh, w, key, rt, r->mask_ex.out_channels, nala_bbox_head_classes(r->bbox), &r->mask,
                               err);
  if (st) {
    roi_head_free(r);
    return st;
  }
  *out = r;
  return NALA_OK;
}

static nala_status check_levels(const nala_roi_extractor *x, const char *name, const nala_feat *in, int L,
                                nala_err *err) {
  if (x->n_levels > L)
    return nala_fail(err, NALA_E_ARG, "StandardRoIHead: %s.featmap_strides lists %d levels, the RPN passes %d", name,
                     x->n_levels, L);
  for (int l = 0; l < x->n_levels; l++)
    if (in[l].c != x->out_channels)
      return nala_fail(err, NALA_E_ARG, "StandardRoIHead: %s.out_channels %d, level %d has %d channels", name,
                       x->out_channels, l, in[l].c);
  return NALA_OK;
}

static nala_status roi_head_plan(const void *module, nala_graph *g, const nala_feat *in, int n_in, nala_feat *out,
                                 int *n_out, nala_err *err) {
  const roi_head *r = module;
  if (n_in < 3 || (n_in - 3) % 2)
    return nala_fail(err, NALA_E_ARG, "StandardRoIHead: %d inputs; it follows an RPNHead (levels, maps, proposals)",
                     n_in);
  int L = (n_in - 3) / 2;
  if (L + 3 + ROI_N_OUT > NALA_MODULE_MAX_FEATS)
    return nala_fail(err, NALA_E_ARG, "StandardRoIHead: %d levels give too many outputs", L);
  NALA_CHECK(check_levels(&r->bbox_ex, "bbox_roi_extractor", in, L, err));
  if (r->mask)
    NALA_CHECK(check_levels(&r->mask_ex, "mask_roi_extractor", in, L, err));
  for (int i = 0; i < L + 3; i++)
    out[i] = in[L + i];
  nala_feat *res = out + L + 3;
  size_t bbox_scratch = 0;
  NALA_CHECK(nala_bbox_head_plan(r->bbox, g, &r->bbox_ex, in, &in[RPN_OUT_PROPOSALS(L)], &in[RPN_OUT_COUNT(L)],
                                 &r->test, res, &bbox_scratch, err));
  /* the mask branch runs after every bbox op: its buffers reuse the bbox head's */
  nala_graph_rewind(g, bbox_scratch);
  if (r->mask) {
    NALA_CHECK(nala_mask_head_plan(r->mask, g, &r->mask_ex, in, &res[ROI_OUT_BOXES], &res[ROI_OUT_LABELS],
                                   &res[ROI_OUT_COUNT], &res[ROI_OUT_MASKS], err));
  } else {
    res[ROI_OUT_MASKS] = (nala_feat){0};
  }
  *n_out = L + 3 + ROI_N_OUT;
  return NALA_OK;
}

const nala_module_type nala_roi_head_module = {
    .type = {"StandardRoIHead", &roi_head_schema}, .create = roi_head_create, .plan = roi_head_plan,
    .free = roi_head_free};
