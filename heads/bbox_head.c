/* mmdet Shared2FCBBoxHead at test time (mmdet/models/roi_heads/bbox_heads/convfc_bbox_head.py and
 * bbox_head.py _predict_by_feat_single, mmdet 3.x):
 *   x = RoIAlign(rois) [n][C][7][7] (SingleLevelRoIExtractor level mapping), flatten (c, y, x)
 *   x = relu(shared_fcs.0(x)); x = relu(shared_fcs.1(x))
 *   cls_score = fc_cls(x) [n][K+1]; bbox_pred = fc_reg(x) [n][4K] (class-specific)
 *   scores = softmax(cls_score) (background last); boxes = DeltaXYWH decode of each RoI with its K
 *     deltas, stds from bbox_coder (.1 .1 .2 .2), max_shape = img_shape
 *   multiclass_nms(score_thr, nms, max_per_img) (det/multiclass_nms.c)
 * fc_cls and fc_reg run as one linear of K+1 + 4K outputs (weights stacked at load): the output
 * map holds cls_score then bbox_pred per RoI, as the parity dump slices them.
 * Keys: <prefix>.shared_fcs.{0,1}.{weight,bias}, <prefix>.fc_cls.*, <prefix>.fc_reg.*. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn/layer.h"
#include "det/det.h"
#include "heads/roi_parts.h"
#include "heads/two_stage.h"

#define BBOX_MAX_FCS 4

static const nala_schema_key bbox_keys[] = {
    NALA_SKEY_POS_INT("in_channels", 0),
    NALA_SKEY_POS_INT("fc_out_channels", 0),
    NALA_SKEY_INT("roi_feat_size", 1, 64, 0),
    NALA_SKEY_INT("num_classes", 1, 10000, 1),
    NALA_SKEY_OBJECT("bbox_coder", &nala_delta_coder_schema, 0),
    NALA_SKEY_BOOL("reg_class_agnostic", 0),
    NALA_SKEY_BOOL("reg_decoded_bbox", 0),
    NALA_SKEY_BOOL("with_avg_pool", 0),
    NALA_SKEY_OBJECT("loss_cls", NULL, 0),
    NALA_SKEY_OBJECT("loss_bbox", NULL, 0),
    {.key = "init_cfg", .kinds = NALA_SK_NULL | NALA_SK_OBJECT | NALA_SK_ARRAY},
};
static const nala_schema bbox_keys_schema = NALA_SCHEMA(bbox_keys);
static const nala_schema_type bbox_types[] = {{"Shared2FCBBoxHead", &bbox_keys_schema}};
const nala_schema nala_bbox_head_schema = NALA_SCHEMA_TYPED(bbox_types);

struct nala_bbox_head {
  int in_ch, roi_size, fc_ch, n_cls;
  nala_delta_coder coder;
  nala_layer fc[2], out; /* shared_fcs (+ReLU), fc_cls|fc_reg stacked */
};

static const cJSON *member(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

void nala_bbox_head_free(nala_bbox_head *h) {
  if (!h)
    return;
  nala_layer_free(&h->fc[0]);
  nala_layer_free(&h->fc[1]);
  nala_layer_free(&h->out);
  free(h);
}

int nala_bbox_head_classes(const nala_bbox_head *h) { return h->n_cls; }

/* fc_cls [K+1][F] and fc_reg [4K][F] as one [5K+1][F] linear. */
static nala_status load_outputs(const nala_rt *rt, nala_weights *w, nala_bbox_head *h, const char *prefix,
                                nala_err *err) {
  int K = h->n_cls, F = h->fc_ch;
  float *W, *B;
  nala_status st = nala_take_stacked(w, prefix, "fc_cls", K + 1, "fc_reg", 4 * K, F, 2, &W, &B, err);
  if (!st)
    st = nala_linear_init(rt, &h->out, F, 5 * K + 1, W, B, err);
  free(W), free(B);
  return st;
}

nala_status nala_bbox_head_create(const cJSON *s, nala_weights *w, const char *prefix, const nala_rt *rt,
                                  int in_channels, nala_bbox_head **out, nala_err *err) {
  nala_bbox_head *h = calloc(1, sizeof *h);
  if (!h)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for the bbox head");
  h->in_ch = member(s, "in_channels") ? (int)member(s, "in_channels")->valuedouble : 256;
  h->roi_size = member(s, "roi_feat_size") ? (int)member(s, "roi_feat_size")->valuedouble : 7;
  h->fc_ch = member(s, "fc_out_channels") ? (int)member(s, "fc_out_channels")->valuedouble : 1024;
  h->n_cls = (int)member(s, "num_classes")->valuedouble;
  nala_status st = nala_delta_coder_read(member(s, "bbox_coder"), 0.1f, 0.2f, &h->coder);
  if (!st && cJSON_IsTrue(member(s, "reg_class_agnostic")))
    st = nala_fail(err, NALA_E_UNSUPPORTED, "model.roi_head.bbox_head.reg_class_agnostic: only false");
  if (!st && cJSON_IsTrue(member(s, "with_avg_pool")))
    st = nala_fail(err, NALA_E_UNSUPPORTED, "model.roi_head.bbox_head.with_avg_pool: only false");
  if (!st && h->in_ch != in_channels)
    st = nala_fail(err, NALA_E_FORMAT, "model.roi_head.bbox_head.in_channels: %d, the RoI extractor gives %d",
                   h->in_ch, in_channels);
  char key[256];
  int in = h->in_ch * h->roi_size * h->roi_size;
  for (int i = 0; !st && i < 2; i++) {
    snprintf(key, sizeof key, "%s.shared_fcs.%d", prefix, i);
    st = nala_linear_load(rt, w, &h->fc[i], i ? h->fc_ch : in, h->fc_ch, key, err);
    h->fc[i].act = NALA_POST_RELU;
  }
  if (!st)
    st = load_outputs(rt, w, h, prefix, err);
  if (st) {
    nala_bbox_head_free(h);
    return st;
  }
  *out = h;
  return NALA_OK;
}

/* ---- kernels ---- */

typedef struct bbox_run {
  nala_roi_feats roi; /* the RoIAlign of the proposals, [count][C][s][s] */
  int n_cls, max_det;
  nala_rcnn_test_cfg test;
  nala_det_delta_cfg dcfg;
  size_t rcnn, probs, boxes, nms_ws, nms_ws_bytes; /* post */
  size_t out_boxes, out_scores, out_labels, out_count;
} bbox_run;

/* softmax (torch: exp(x - max) / sum), class-specific decode, multiclass NMS. */
static nala_status bbox_post(const void *args, char *ws, int nthreads, nala_err *err) {
  (void)nthreads;
  const bbox_run *p = *(const bbox_run *const *)args;
  int n = nala_roi_count(ws, &p->roi), K = p->n_cls, row = 5 * K + 1;
  const float *rcnn = (const float *)(ws + p->rcnn), *rois = (const float *)(ws + p->roi.rois);
  float *probs = (float *)(ws + p->probs), *boxes = (float *)(ws + p->boxes);
  for (int i = 0; i < n; i++) {
    const float *x = rcnn + (size_t)i * row;
    float *o = probs + (size_t)i * (K + 1);
    float mx = x[0];
    for (int j = 1; j <= K; j++)
      mx = x[j] > mx ? x[j] : mx;
    float sum = 0;
    for (int j = 0; j <= K; j++)
      sum += (o[j] = expf(x[j] - mx));
    for (int j = 0; j <= K; j++)
      o[j] /= sum;
    /* bbox_pred follows cls_score in the row: decode in place of a copy, row by row */
    NALA_CHECK(nala_det_delta_decode(&p->dcfg, rois + 4 * (size_t)i, x + K + 1, 1, K, boxes + (size_t)i * 4 * K,
                                     err));
  }
  size_t kept = 0;
  NALA_CHECK(nala_det_multiclass_nms(boxes, probs, (size_t)n, K, p->test.score_thr, p->test.iou_thr,
                                     (size_t)p->max_det, (float *)(ws + p->out_boxes), (float *)(ws + p->out_scores),
                                     (int32_t *)(ws + p->out_labels), &kept, ws + p->nms_ws, p->nms_ws_bytes, err));
  int32_t c = (int32_t)kept;
  memcpy(ws + p->out_count, &c, sizeof c);
  return NALA_OK;
}

nala_status nala_bbox_head_plan(const nala_bbox_head *h, nala_graph *g, const nala_roi_extractor *ex,
                                const nala_feat *levels, const nala_feat *proposals, const nala_feat *count,
                                const nala_rcnn_test_cfg *t, nala_feat *out, size_t *scratch_mark, nala_err *err) {
  if (ex->out_size != h->roi_size)
    return nala_fail(err, NALA_E_ARG, "bbox head: roi_feat_size %d, the extractor's output_size %d", h->roi_size,
                     ex->out_size);
  bbox_run *p = nala_graph_alloc(g, sizeof *p, err);
  if (!p)
    return NALA_E_NOMEM;
  memset(p, 0, sizeof *p);
  int P = proposals->w, K = h->n_cls, bucket = nala_graph_bucket(g, "roi heads");
  p->n_cls = K, p->max_det = t->max_per_img, p->test = *t;
  int img_h = g->img_h > 0 ? g->img_h : g->input.h, img_w = g->img_w > 0 ? g->img_w : g->input.w;
  p->dcfg = nala_det_delta_default(0.1f, 0.2f, img_h, img_w);
  memcpy(p->dcfg.means, h->coder.means, sizeof p->dcfg.means);
  memcpy(p->dcfg.stds, h->coder.stds, sizeof p->dcfg.stds);
  p->dcfg.clip = h->coder.clip_border;
  /* outputs first, then (after *scratch_mark) what only this head's ops touch */
  int D = t->max_per_img;
  out[ROI_OUT_RCNN] = nala_graph_feat(g, 5 * K + 1, 1, P);
  p->rcnn = out[ROI_OUT_RCNN].off;
  out[ROI_OUT_BOXES] = nala_graph_feat(g, 4, 1, D);
  out[ROI_OUT_SCORES] = nala_graph_feat(g, 1, 1, D);
  out[ROI_OUT_LABELS] = nala_graph_feat(g, 1, 1, D);
  out[ROI_OUT_COUNT] = nala_graph_feat(g, 1, 1, 1);
  p->out_boxes = out[ROI_OUT_BOXES].off, p->out_scores = out[ROI_OUT_SCORES].off;
  p->out_labels = out[ROI_OUT_LABELS].off, p->out_count = out[ROI_OUT_COUNT].off;
  *scratch_mark = nala_graph_mark(g);
  NALA_CHECK(nala_roi_feats_plan(g, &p->roi, ex, levels, h->in_ch, proposals, count, 0, bucket, "bbox head", err));
  const int *buckets = p->roi.buckets, n_buckets = p->roi.n_buckets;
  size_t fc0 = nala_graph_region(g, (size_t)P * h->fc_ch * 4), fc1 = nala_graph_region(g, (size_t)P * h->fc_ch * 4);
  for (int k = 0; k < n_buckets; k++) {
    int rows = buckets[k], first = g->n_ops;
    NALA_CHECK(nala_linear_op(g, &h->fc[0], rows, p->roi.feats, 0, fc0, 0, 0, bucket, err));
    NALA_CHECK(nala_linear_op(g, &h->fc[1], rows, fc0, 0, fc1, 0, 0, bucket, err));
    NALA_CHECK(nala_linear_op(g, &h->out, rows, fc1, 0, p->rcnn, 0, 0, bucket, err));
    NALA_CHECK(nala_roi_gate(g, first, count->off, buckets, n_buckets, k, err));
  }
  p->probs = nala_graph_region(g, (size_t)P * (K + 1) * 4);
  p->boxes = nala_graph_region(g, (size_t)P * K * 16);
  p->nms_ws_bytes = nala_det_multiclass_nms_ws_size((size_t)P, K);
  p->nms_ws = nala_graph_region(g, p->nms_ws_bytes);
  return nala_graph_add_kernel(g, bbox_post, &p, sizeof p, nala_graph_bucket(g, "postprocess"), err);
}
