/* Mask R-CNN as a nala_det_arch (mmdet TwoStageDetector.predict): the whole chain backbone -> FPN ->
 * RPNHead (with its proposal kernel) -> StandardRoIHead (bbox head + multiclass NMS, mask head) is one
 * nala_model_plan over the registered modules (heads/two_stage.h says what they hand on); this
 * file adds what the detector object needs from them:
 *   results: the RoI head's detections copied into the detector's results block, boxes rescaled to
 *     the frame for FRAME plans. With a mask head mmdet 3.x divides the boxes by scale_factor in
 *     FCNMaskHead._predict_by_feat_single (NALA_DET_RESCALE_DIVIDE) and pastes the masks with those
 *     boxes at ori_shape; nala_det_read_mask does the paste (det/mask_paste.c) when a mask is read.
 *   parity tensors: rpn_cls_l / rpn_reg_l (channel slices of the RPN's stacked map), proposals,
 *     proposal_scores, rcnn_cls_score / rcnn_bbox_pred (split out of the stacked rows), mask_probs. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "det/det.h"
#include "det/detector_internal.h"
#include "heads/two_stage.h"

typedef struct mrcnn_state {
  float mask_thr;
  int n_cls;
} mrcnn_state;

static const cJSON *member(const cJSON *o, const char *key) {
  return o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static void state_free(void *s) { free(s); }

static nala_status mrcnn_create(nala_detector *d, const cJSON *model, nala_err *err) {
  const cJSON *roi = member(model, "roi_head"), *bbox = member(roi, "bbox_head");
  if (!member(model, "rpn_head") || !roi || !member(roi, "mask_head"))
    return nala_fail(err, NALA_E_FORMAT, "model: MaskRCNN needs rpn_head and roi_head with a mask_head");
  mrcnn_state *s = calloc(1, sizeof *s);
  if (!s)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for the Mask R-CNN state");
  const cJSON *thr = member(member(member(model, "test_cfg"), "rcnn"), "mask_thr_binary");
  s->mask_thr = thr ? (float)thr->valuedouble : 0.5f;
  s->n_cls = (int)member(bbox, "num_classes")->valuedouble;
  d->state = s;
  d->num_classes = s->n_cls;
  return NALA_OK;
}

typedef struct finish_plan {
  det_plan_info info;
  int max_dets, n_cls, max_props;
  size_t boxes, scores, labels, count, results;      /* RoI head outputs -> results block */
  size_t rcnn, prop_count, cls_out, reg_out;         /* stacked rows -> dense parity arrays */
} finish_plan;

static nala_status finish(const void *args, char *ws, int nthreads, nala_err *err) {
  (void)nthreads;
  const finish_plan *p = *(const finish_plan *const *)args;
  int n = nala_ws_count(ws, p->count), np = nala_ws_count(ws, p->prop_count);
  n = n < 0 ? 0 : n > p->max_dets ? p->max_dets : n;
  np = np < 0 ? 0 : np > p->max_props ? p->max_props : np;
  det_results_view v = det_results_at(ws, p->results, p->max_dets);
  *v.n = n;
  memcpy(v.boxes, ws + p->boxes, (size_t)n * 16);
  memcpy(v.scores, ws + p->scores, (size_t)n * 4);
  memcpy(v.labels, ws + p->labels, (size_t)n * 4);
  if (p->info.rescale)
    NALA_CHECK(nala_det_rescale_boxes(v.boxes, (size_t)n, p->info.w_scale, p->info.h_scale, NALA_DET_RESCALE_DIVIDE,
                                      err));
  const int K1 = p->n_cls + 1, R = 4 * p->n_cls;
  const float *rows = (const float *)(ws + p->rcnn);
  float *cls = (float *)(ws + p->cls_out), *reg = (float *)(ws + p->reg_out);
  for (int i = 0; i < np; i++) {
    memcpy(cls + (size_t)i * K1, rows + (size_t)i * (K1 + R), (size_t)K1 * 4);
    memcpy(reg + (size_t)i * R, rows + (size_t)i * (K1 + R) + K1, (size_t)R * 4);
  }
  return NALA_OK;
}

static nala_status mrcnn_plan(const nala_detector *d, nala_graph *g, const det_plan_info *info, det_layout *lay,
                              nala_err *err) {
  const mrcnn_state *st = d->state;
  g->img_h = info->img_h, g->img_w = info->img_w;
  nala_feat outs[NALA_GRAPH_MAX_IO];
  int n = 0;
  NALA_CHECK(nala_model_plan(d->model, 0, d->model->n, g, &g->input, 1, outs, &n, err));
  int L = (n - ROI_N_OUT - 3);
  if (L < 1 || n != L + 3 + ROI_N_OUT || outs[L + 3 + ROI_OUT_MASKS].c <= 0)
    return nala_fail(err, NALA_E_ARG, "MaskRCNN: the RoI head gives %d outputs (expected levels + %d, with masks)", n,
                     3 + ROI_N_OUT);
  const nala_feat *res = outs + L + 3;
  char name[32];
  for (int l = 0; l < L; l++) {
    int A = outs[l].c / 5;
    nala_feat cls = nala_feat_slice(&outs[l], 0, A), reg = nala_feat_slice(&outs[l], A, 4 * A);
    snprintf(name, sizeof name, "rpn_cls_%d", l);
    NALA_CHECK(det_layout_add_map(lay, name, &cls, err));
    snprintf(name, sizeof name, "rpn_reg_%d", l);
    NALA_CHECK(det_layout_add_map(lay, name, &reg, err));
  }
  finish_plan *p = nala_graph_alloc(g, sizeof *p, err);
  if (!p)
    return NALA_E_NOMEM;
  memset(p, 0, sizeof *p);
  p->info = *info;
  p->n_cls = st->n_cls;
  p->max_dets = res[ROI_OUT_BOXES].w;
  p->max_props = outs[L].w;
  p->boxes = res[ROI_OUT_BOXES].off, p->scores = res[ROI_OUT_SCORES].off, p->labels = res[ROI_OUT_LABELS].off;
  p->count = res[ROI_OUT_COUNT].off;
  p->rcnn = res[ROI_OUT_RCNN].off, p->prop_count = outs[L + 2].off;
  if (res[ROI_OUT_RCNN].c != 5 * st->n_cls + 1)
    return nala_fail(err, NALA_E_ARG, "MaskRCNN: RCNN rows of %d for %d classes", res[ROI_OUT_RCNN].c, st->n_cls);
  p->cls_out = nala_graph_region(g, (size_t)p->max_props * (st->n_cls + 1) * 4);
  p->reg_out = nala_graph_region(g, (size_t)p->max_props * 4 * st->n_cls * 4);
  lay->max_dets = p->max_dets;
  lay->results_off = p->results = nala_graph_region(g, det_results_bytes(p->max_dets));
  size_t props_n = outs[L + 2].off;
  int64_t s_props[2] = {p->max_props, 4}, s_ps[1] = {p->max_props};
  int64_t s_cls[2] = {p->max_props, st->n_cls + 1}, s_reg[2] = {p->max_props, 4 * st->n_cls};
  NALA_CHECK(det_layout_add_array(lay, "proposals", NALA_DET_F32, 2, s_props, outs[L].off, props_n, err));
  NALA_CHECK(det_layout_add_array(lay, "proposal_scores", NALA_DET_F32, 1, s_ps, outs[L + 1].off, props_n, err));
  NALA_CHECK(det_layout_add_array(lay, "rcnn_cls_score", NALA_DET_F32, 2, s_cls, p->cls_out, props_n, err));
  NALA_CHECK(det_layout_add_array(lay, "rcnn_bbox_pred", NALA_DET_F32, 2, s_reg, p->reg_out, props_n, err));
  int S = (int)lround(sqrt((double)res[ROI_OUT_MASKS].c));
  int64_t s_masks[3] = {p->max_dets, S, S};
  NALA_CHECK(det_layout_add_array(lay, "mask_probs", NALA_DET_F32, 3, s_masks, res[ROI_OUT_MASKS].off,
                                  res[ROI_OUT_COUNT].off, err));
  lay->masks_off = res[ROI_OUT_MASKS].off;
  lay->mask_h = lay->mask_w = S;
  lay->mask_thr = st->mask_thr;
  const finish_plan *arg = p;
  return nala_graph_add_kernel(g, finish, &arg, sizeof arg, nala_graph_bucket(g, "postprocess"), err);
}

const nala_det_arch nala_det_arch_maskrcnn = {
    .type = "MaskRCNN", .has_masks = 1, .create = mrcnn_create, .free = state_free, .plan = mrcnn_plan};
