/* mmdet RPNHead at test time (mmdet/models/dense_heads/rpn_head.py, mmdet 3.x), one conv:
 *   per level  x = relu(rpn_conv(x))  3x3;  rpn_cls(x) 1x1 -> A logits;  rpn_reg(x) 1x1 -> 4A deltas
 *   _predict_by_feat_single, per level: scores = sigmoid(cls) in (y, x, anchor) order; when
 *     0 < nms_pre < n: the first nms_pre of scores.sort(descending) (else all, in anchor order)
 *   all levels concatenated; DeltaXYWH decode with max_shape = img_shape
 *   _bbox_post_process: keep w > min_bbox_size and h > min_bbox_size (when min_bbox_size >= 0),
 *     mmcv batched_nms by level id, the first max_per_img.
 * mmdet's sort is torch.sort without stable=True; on exact score ties we take the stable order (lower
 * anchor index first), as det/det.h does for NMS (det/topk.c finds the first nms_pre without sorting
 * the level). Every scratch buffer is sized at plan from nms_pre, the levels and max_per_img.
 * rpn_cls and rpn_reg run as one 1x1 conv of A + 4A outputs (their weights stacked at load), so one
 * map per level carries both in the channel orders mmdet permutes (heads/two_stage.h).
 * Keys: <prefix>.rpn_conv.{weight,bias}, <prefix>.rpn_cls.{weight,bias}, <prefix>.rpn_reg.{...}. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn/layer.h"
#include "core/nn/module.h"
#include "det/det.h"
#include "heads/det_cfg.h"
#include "heads/two_stage.h"

#define RPN_MAX_LEVELS 8

static const nala_schema_key rpn_keys[] = {
    NALA_SKEY_POS_INT("in_channels", 1),
    NALA_SKEY_POS_INT("feat_channels", 0),
    NALA_SKEY_INT("num_convs", 1, 1, 0),
    NALA_SKEY_INT("num_classes", 1, 1, 0),
    NALA_SKEY_OBJECT("anchor_generator", &nala_anchor_generator_schema, 1),
    NALA_SKEY_OBJECT("bbox_coder", &nala_delta_coder_schema, 0),
    NALA_SKEY_OBJECT("loss_cls", NULL, 0),
    NALA_SKEY_OBJECT("loss_bbox", NULL, 0),
    {.key = "init_cfg", .kinds = NALA_SK_NULL | NALA_SK_OBJECT | NALA_SK_ARRAY},
    {.key = "train_cfg", .kinds = NALA_SK_NULL | NALA_SK_OBJECT},
    NALA_SKEY_OBJECT("test_cfg", &nala_rpn_test_cfg_schema, 0),
};
static const nala_schema rpn_schema = NALA_SCHEMA(rpn_keys);

typedef struct rpn {
  int in_ch, feat_ch;
  nala_anchor_cfg anchors;
  nala_delta_coder coder;
  nala_rpn_test_cfg test;
  nala_layer conv, out; /* rpn_conv (+ReLU), rpn_cls|rpn_reg stacked */
} rpn;

static void rpn_free(void *module) {
  rpn *r = module;
  if (!r)
    return;
  nala_layer_free(&r->conv);
  nala_layer_free(&r->out);
  free(r);
}

static const cJSON *member(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

/* rpn_cls [A][C][1][1] and rpn_reg [4A][C][1][1] as one [5A][C] 1x1 conv. */
static nala_status load_outputs(const nala_rt *rt, nala_weights *w, rpn *r, const char *prefix, nala_err *err) {
  int A = r->anchors.n_base, C = r->feat_ch;
  float *W, *B;
  nala_status st = nala_take_stacked(w, prefix, "rpn_cls", A, "rpn_reg", 4 * A, C, 4, &W, &B, err);
  if (!st)
    st = nala_conv_init(rt, &r->out, (nala_conv_shape)NALA_CONV_SHAPE(C, 5 * A, 1, 1, 1), W, B, err);
  free(W), free(B);
  return st;
}

static nala_status rpn_create(const cJSON *s, nala_weights *w, const char *prefix, const nala_rt *rt, void **out,
                              nala_err *err) {
  rpn *r = calloc(1, sizeof *r);
  if (!r)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for the RPN head");
  r->in_ch = (int)member(s, "in_channels")->valuedouble;
  r->feat_ch = member(s, "feat_channels") ? (int)member(s, "feat_channels")->valuedouble : r->in_ch;
  nala_status st = nala_anchor_cfg_read(member(s, "anchor_generator"), "model.rpn_head.anchor_generator",
                                        &r->anchors, err);
  if (!st)
    st = nala_delta_coder_read(member(s, "bbox_coder"), 1.0f, 1.0f, &r->coder);
  if (!st)
    st = nala_rpn_test_cfg_read(member(s, "test_cfg"), "model.test_cfg.rpn", &r->test, err);
  char key[256];
  snprintf(key, sizeof key, "%s.rpn_conv", prefix);
  if (!st)
    st = nala_conv_load(rt, w, &r->conv, (nala_conv_shape)NALA_CONV_SHAPE(r->in_ch, r->feat_ch, 3, 1, 1), key, 1,
                        NULL, 0, err);
  if (!st) {
    r->conv.act = NALA_POST_RELU;
    st = load_outputs(rt, w, r, prefix, err);
  }
  if (st) {
    rpn_free(r);
    return st;
  }
  *out = r;
  return NALA_OK;
}

/* The proposal kernel's plan: everything lives in plan-owned memory (anchors) or the workspace. */
typedef struct rpn_run {
  int L, A, h[RPN_MAX_LEVELS], w[RPN_MAX_LEVELS];
  size_t map[RPN_MAX_LEVELS];       /* [h][w][5A] maps */
  const float *anchors[RPN_MAX_LEVELS];
  nala_rpn_test_cfg test;
  nala_det_delta_cfg dcfg;
  size_t max_cand;                  /* sum over levels of min(nms_pre, h w A) */
  size_t sig, topk, topk_ws, topk_ws_bytes; /* per-level scratch (largest level) */
  size_t cb, cd, ca, cs, cid, keep, nms_ws, nms_ws_bytes; /* candidates */
  size_t out_boxes, out_scores, out_count;
} rpn_run;

static float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

static nala_status rpn_proposals(const void *args, char *ws, int nthreads, nala_err *err) {
  (void)nthreads;
  const rpn_run *p = *(const rpn_run *const *)args;
  float *sig = (float *)(ws + p->sig), *cb = (float *)(ws + p->cb), *cd = (float *)(ws + p->cd);
  float *ca = (float *)(ws + p->ca), *cs = (float *)(ws + p->cs);
  int32_t *topk = (int32_t *)(ws + p->topk), *cid = (int32_t *)(ws + p->cid), *keep = (int32_t *)(ws + p->keep);
  const int A = p->A, ch = 5 * A;
  size_t m = 0;
  for (int l = 0; l < p->L; l++) {
    const float *map = (const float *)(ws + p->map[l]);
    size_t n = (size_t)p->h[l] * p->w[l] * A;
    for (size_t i = 0; i < n; i++)
      sig[i] = sigmoidf(map[(i / A) * ch + i % A]);
    size_t k = n;
    if (p->test.nms_pre > 0 && (size_t)p->test.nms_pre < n)
      NALA_CHECK(nala_det_topk(sig, n, (size_t)p->test.nms_pre, topk, &k, ws + p->topk_ws, p->topk_ws_bytes, err));
    else
      for (size_t i = 0; i < n; i++)
        topk[i] = (int32_t)i;
    for (size_t j = 0; j < k; j++, m++) {
      size_t i = (size_t)topk[j];
      cs[m] = sig[i];
      cid[m] = l;
      memcpy(ca + 4 * m, p->anchors[l] + 4 * i, 16);
      memcpy(cd + 4 * m, map + (i / A) * ch + A + 4 * (i % A), 16);
    }
  }
  NALA_CHECK(nala_det_delta_decode(&p->dcfg, ca, cd, m, 1, cb, err));
  /* w > min_bbox_size & h > min_bbox_size, compacting in order (results[valid_mask]) */
  size_t v = 0;
  for (size_t i = 0; i < m; i++) {
    const float *b = cb + 4 * i;
    if (p->test.min_bbox_size >= 0 && !(b[2] - b[0] > p->test.min_bbox_size && b[3] - b[1] > p->test.min_bbox_size))
      continue;
    memmove(cb + 4 * v, b, 16);
    cs[v] = cs[i];
    cid[v] = cid[i];
    v++;
  }
  size_t kept = 0;
  if (v) {
    nala_det_nms_cfg cfg = nala_det_nms_default(p->test.iou_thr);
    cfg.max_keep = (size_t)p->test.max_per_img;
    NALA_CHECK(nala_det_batched_nms(cb, cs, cid, v, &cfg, keep, &kept, ws + p->nms_ws, p->nms_ws_bytes, err));
  }
  float *ob = (float *)(ws + p->out_boxes), *os = (float *)(ws + p->out_scores);
  for (size_t k = 0; k < kept; k++) {
    memcpy(ob + 4 * k, cb + 4 * (size_t)keep[k], 16);
    os[k] = cs[keep[k]];
  }
  int32_t count = (int32_t)kept;
  memcpy(ws + p->out_count, &count, sizeof count);
  return NALA_OK;
}

/* Plan-owned anchors of every level (mmdet grid_priors at this input size). */
static nala_status plan_anchors(const rpn *r, nala_graph *g, rpn_run *p, nala_err *err) {
  float base[4 * NALA_ANCHOR_MAX_BASE];
  for (int l = 0; l < p->L; l++) {
    const nala_anchor_cfg *a = &r->anchors;
    NALA_CHECK(nala_det_base_anchors(a->base_sizes[l], a->ratios, a->n_ratios, a->scales, a->n_scales, base, err));
    size_t n = (size_t)p->h[l] * p->w[l] * p->A;
    float *dst = nala_graph_alloc(g, (n ? n : 1) * 16, err);
    if (!dst)
      return NALA_E_NOMEM;
    NALA_CHECK(nala_det_grid_anchors(base, p->A, a->strides[l], a->strides[l], p->h[l], p->w[l], dst, n, err));
    p->anchors[l] = dst;
  }
  return NALA_OK;
}

static nala_status rpn_plan(const void *module, nala_graph *g, const nala_feat *in, int n_in, nala_feat *out,
                            int *n_out, nala_err *err) {
  const rpn *r = module;
  int L = r->anchors.n_levels;
  if (n_in != L || RPN_N_OUT(L) > NALA_MODULE_MAX_FEATS)
    return nala_fail(err, NALA_E_ARG, "RPNHead: anchor_generator.strides lists %d levels, the neck gives %d", L, n_in);
  rpn_run *p = nala_graph_alloc(g, sizeof *p, err);
  if (!p)
    return NALA_E_NOMEM;
  memset(p, 0, sizeof *p);
  p->L = L, p->A = r->anchors.n_base, p->test = r->test;
  int img_h = g->img_h > 0 ? g->img_h : g->input.h, img_w = g->img_w > 0 ? g->img_w : g->input.w;
  p->dcfg = nala_det_delta_default(1.0f, 1.0f, img_h, img_w);
  memcpy(p->dcfg.means, r->coder.means, sizeof p->dcfg.means);
  memcpy(p->dcfg.stds, r->coder.stds, sizeof p->dcfg.stds);
  p->dcfg.clip = r->coder.clip_border;
  int bucket = nala_graph_bucket(g, "rpn head");
  /* outputs first; the scratch after the mark (the hidden map of the largest level, the proposal
   * kernel's buffers) is handed back at the end of the plan for later modules' ops */
  size_t max_level = 0, max_px = 0;
  for (int l = 0; l < L; l++) {
    if (in[l].c != r->in_ch)
      return nala_fail(err, NALA_E_ARG, "RPNHead: in_channels %d, level %d has %d channels", r->in_ch, l, in[l].c);
    out[l] = in[l];
    out[L + l] = nala_graph_feat(g, 5 * p->A, in[l].h, in[l].w);
    p->h[l] = in[l].h, p->w[l] = in[l].w, p->map[l] = out[L + l].off;
    size_t px = (size_t)in[l].h * in[l].w, n = px * p->A;
    max_level = n > max_level ? n : max_level;
    max_px = px > max_px ? px : max_px;
    p->max_cand += r->test.nms_pre > 0 && (size_t)r->test.nms_pre < n ? (size_t)r->test.nms_pre : n;
  }
  size_t M = p->max_cand ? p->max_cand : 1, P = (size_t)r->test.max_per_img;
  out[RPN_OUT_PROPOSALS(L)] = nala_graph_feat(g, 4, 1, (int)P);
  out[RPN_OUT_SCORES(L)] = nala_graph_feat(g, 1, 1, (int)P);
  out[RPN_OUT_COUNT(L)] = nala_graph_feat(g, 1, 1, 1);
  p->out_boxes = out[RPN_OUT_PROPOSALS(L)].off;
  p->out_scores = out[RPN_OUT_SCORES(L)].off;
  p->out_count = out[RPN_OUT_COUNT(L)].off;
  size_t mark = nala_graph_mark(g);
  size_t hid = nala_graph_region(g, max_px * (size_t)r->feat_ch * sizeof(float));
  for (int l = 0; l < L; l++) {
    NALA_CHECK(nala_conv_op(g, &r->conv, in[l].h, in[l].w, in[l].off, nala_feat_ld(&in[l]), hid, 0, 0, bucket, err));
    NALA_CHECK(nala_conv_op(g, &r->out, in[l].h, in[l].w, hid, 0, out[L + l].off, 0, 0, bucket, err));
  }
  NALA_CHECK(plan_anchors(r, g, p, err));
  p->sig = nala_graph_region(g, max_level * 4);
  p->topk = nala_graph_region(g, max_level * 4);
  p->topk_ws_bytes = nala_det_topk_ws_size(max_level);
  p->topk_ws = nala_graph_region(g, p->topk_ws_bytes);
  p->cb = nala_graph_region(g, M * 16);
  p->cd = nala_graph_region(g, M * 16);
  p->ca = nala_graph_region(g, M * 16);
  p->cs = nala_graph_region(g, M * 4);
  p->cid = nala_graph_region(g, M * 4);
  p->keep = nala_graph_region(g, M * 4);
  p->nms_ws_bytes = nala_det_nms_ws_size(M);
  p->nms_ws = nala_graph_region(g, p->nms_ws_bytes);
  NALA_CHECK(nala_graph_add_kernel(g, rpn_proposals, &p, sizeof p, bucket, err));
  nala_graph_rewind(g, mark);
  *n_out = RPN_N_OUT(L);
  return NALA_OK;
}

const nala_module_type nala_rpn_head_module = {
    .type = {"RPNHead", &rpn_schema}, .create = rpn_create, .plan = rpn_plan, .free = rpn_free};
