/* Mask R-CNN (heads/rpn_head.c, heads/roi_head.c, heads/bbox_head.c, heads/mask_head.c) on
 * NaLaFormer-XT against tools/reference/make_maskrcnn_fixtures.py (mmdet 3.x semantics restated in
 * tools/reference/mmdet_maskrcnn_ref.py) at 512x512 and 480x640:
 *   raw head outputs (rpn_cls / rpn_reg per level, rcnn cls_score / bbox_pred, mask probabilities)
 *     rel-L2 <= 1e-4;
 *   proposals and detections as sets: each reference box has one of ours with IoU > 0.99, coordinates
 *     within 1e-3 px, score within 1e-5 (detections: same label);
 *   masks pasted at the image size: >= 99.9% of the pixels of each detection's paste window agree;
 *   two thread counts bit-identical; bad configs rejected with the key named.
 * Weights: seeded (nala_weights_seeded's generator) with the fixture's four tuned head tensors put
 * over them, as one in-memory safetensors image (keys and shapes from the fixture's metadata). */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "det/det.h"
#include "heads/two_stage.h"
#include "models/model.h"
#include "nala/config.h"
#include "nala/detector.h"
#include "nala/preprocess.h"
#include "nala/rle.h"
#include "nala/safetensors.h"
#include "nala/seeded_init.h"
#include "nala/weights.h"
#include "tests/det_fixture.h"
#include "tests/support/compare.h"
#include "tests/support/cli.h"
#include "tests/support/files.h"
#include "tests/support/suite.h"

#define FIX(name) NALA_FIXTURES "/maskrcnn/" name
#define L 5

/* ---- weights: seeded + tuned overrides, as a safetensors image in memory ---- */

typedef struct image {
  char *buf;
  size_t size;
} image;

static image build_weights(void) {
  nala_st_file *tuned = det_open(FIX("maskrcnn_xt_tuned.safetensors"));
  uint64_t seed = strtoull(nala_st_metadata(tuned, "seed"), NULL, 10);
  cJSON *keys = cJSON_Parse(nala_st_metadata(tuned, "keys"));
  ck_assert_ptr_nonnull(keys);
  size_t hcap = 1 << 20, hlen = 0, data = 0;
  char *header = malloc(hcap);
  hlen += (size_t)snprintf(header + hlen, hcap - hlen, "{");
  const cJSON *k;
  cJSON_ArrayForEach(k, keys) {
    size_t n = 1;
    const cJSON *d;
    hlen += (size_t)snprintf(header + hlen, hcap - hlen, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", hlen > 1 ? "," : "",
                             k->string);
    int first = 1;
    cJSON_ArrayForEach(d, k) {
      n *= (size_t)d->valuedouble;
      hlen += (size_t)snprintf(header + hlen, hcap - hlen, "%s%d", first ? "" : ",", (int)d->valuedouble);
      first = 0;
    }
    hlen += (size_t)snprintf(header + hlen, hcap - hlen, "],\"data_offsets\":[%zu,%zu]}", data, data + 4 * n);
    data += 4 * n;
    ck_assert(hlen + 256 < hcap);
  }
  hlen += (size_t)snprintf(header + hlen, hcap - hlen, "}");
  while (hlen % 8)
    header[hlen++] = ' ';
  image im = {malloc(8 + hlen + data), 8 + hlen + data};
  uint64_t h64 = hlen;
  memcpy(im.buf, &h64, 8);
  memcpy(im.buf + 8, header, hlen);
  float *dst = (float *)(im.buf + 8 + hlen);
  int n_tuned = 0;
  cJSON_ArrayForEach(k, keys) {
    int64_t shape[8];
    int nd = 0;
    size_t n = 1;
    const cJSON *d;
    cJSON_ArrayForEach(d, k) n *= (size_t)(shape[nd++] = (int64_t)d->valuedouble);
    const nala_st_tensor *t = nala_st_find(tuned, k->string);
    nala_err err;
    if (t) {
      ck_assert_uint_eq(nala_st_numel(t), n);
      memcpy(dst, t->data, 4 * n);
      n_tuned++;
    } else {
      ck_assert_msg(nala_seeded_fill(seed, k->string, nd, shape, dst, &err) == NALA_OK, "%s", err.msg);
    }
    dst += n;
  }
  ck_assert_int_eq(n_tuned, 4);
  free(header);
  cJSON_Delete(keys);
  nala_st_close(tuned);
  return im;
}

/* ---- the model ---- */

typedef struct run {
  nala_model *m;
  nala_nn_ctx ctx;
  int h, w;
} run;

static nala_model *create_model(const char *config_path, image *im) {
  nala_err err;
  nala_config *cfg = NULL;
  ck_assert_msg(nala_config_load(config_path, &cfg, &err) == NALA_OK, "%s", err.msg);
  nala_weights *w = NULL;
  ck_assert_msg(nala_weights_open_memory(im->buf, im->size, "maskrcnn_xt", &w, &err) == NALA_OK, "%s", err.msg);
  nala_model *m = NULL;
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(nala_config_json(cfg), "model");
  ck_assert_msg(nala_model_create(model, w, NALA_ISA_AUTO, &m, &err) == NALA_OK, "%s", err.msg);
  nala_weights_close(w);
  nala_config_free(cfg);
  return m;
}

static void run_model(run *r, nala_model *m, int h, int w, uint64_t input_seed, float input_scale, int threads) {
  nala_err err;
  r->m = m, r->h = h, r->w = w;
  ck_assert_int_eq(nala_model_ctx_init(m, threads, &r->ctx, &err), NALA_OK);
  ck_assert_msg(nala_nn_ctx_plan(&r->ctx, h, w, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(r->ctx.graph.n_outs, L + 3 + ROI_N_OUT);
  size_t n = (size_t)3 * h * w;
  float *nchw = malloc(n * sizeof *nchw);
  int64_t shape[4] = {1, 3, h, w};
  ck_assert_int_eq(nala_seeded_fill(input_seed, "input.weight", 4, shape, nchw, &err), NALA_OK);
  float *x = nala_nn_ctx_at(&r->ctx, r->ctx.graph.input.off);
  for (int c = 0; c < 3; c++)
    for (size_t p = 0; p < (size_t)h * w; p++)
      x[p * 3 + c] = nchw[c * (size_t)h * w + p] * input_scale;
  free(nchw);
  ck_assert_msg(nala_nn_ctx_run(&r->ctx, &err) == NALA_OK, "%s", err.msg);
}

static const nala_feat *out_at(const run *r, int i) { return &r->ctx.graph.outs[i]; }
static const float *outf(const run *r, int i) { return nala_nn_ctx_at(&r->ctx, out_at(r, i)->off); }
static int out_count(const run *r, int i) {
  return nala_ws_count((const char *)r->ctx.ws, out_at(r, i)->off);
}
#define RES(k) (L + 3 + (k))

static void run_free(run *r) { nala_nn_ctx_release(&r->ctx); }

/* ---- comparisons ---- */

static double iou(const float *a, const float *b) {
  double w = fmin(a[2], b[2]) - fmax(a[0], b[0]), h = fmin(a[3], b[3]) - fmax(a[1], b[1]);
  if (w <= 0 || h <= 0)
    return 0;
  double inter = w * h, ua = (a[2] - a[0]) * (double)(a[3] - a[1]) + (b[2] - b[0]) * (double)(b[3] - b[1]) - inter;
  return ua > 0 ? inter / ua : 0;
}

/* match[j] = our index for reference box j (IoU > 0.99, same label when labels given), asserting
 * coordinates within 1e-3 px and scores within 1e-5; prints the worst errors. */
static void match_sets(const char *what, const float *ours, const float *our_scores, const int32_t *our_labels,
                       int n_ours, const float *ref, const float *ref_scores, const int64_t *ref_labels, int n_ref,
                       int *match) {
  ck_assert_msg(n_ours == n_ref, "%s: %d ours vs %d reference", what, n_ours, n_ref);
  char *used = calloc((size_t)n_ours + 1, 1);
  double worst_box = 0, worst_score = 0, worst_iou = 1;
  for (int j = 0; j < n_ref; j++) {
    int best = -1;
    double best_iou = 0;
    for (int i = 0; i < n_ours; i++) {
      if (used[i] || (our_labels && our_labels[i] != ref_labels[j]))
        continue;
      double v = iou(ours + 4 * i, ref + 4 * j);
      if (v > best_iou)
        best_iou = v, best = i;
    }
    ck_assert_msg(best >= 0 && best_iou > 0.99, "%s: reference box %d [%g %g %g %g] has no match (best IoU %g)",
                  what, j, ref[4 * j], ref[4 * j + 1], ref[4 * j + 2], ref[4 * j + 3], best_iou);
    used[best] = 1;
    match[j] = best;
    for (int k = 0; k < 4; k++)
      worst_box = fmax(worst_box, fabs(ours[4 * best + k] - ref[4 * j + k]));
    worst_score = fmax(worst_score, fabs(our_scores[best] - ref_scores[j]));
    worst_iou = fmin(worst_iou, best_iou);
  }
  printf("%s: %d matched, min IoU %.7f, max box err %.3g px, max score err %.3g\n", what, n_ref, worst_iou,
         worst_box, worst_score);
  ck_assert_msg(worst_box <= 1e-3, "%s: box error %g px", what, worst_box);
  ck_assert_msg(worst_score <= 1e-5, "%s: score error %g", what, worst_score);
  free(used);
}

/* rel-L2 of rows: ours[match[j]] vs ref[j], row floats each. */
static void compare_rows(const char *what, const float *ours, int ld_ours, const float *ref, int row, int n,
                         const int *match) {
  float *gathered = malloc((size_t)n * row * sizeof *gathered + 4);
  for (int j = 0; j < n; j++)
    memcpy(gathered + (size_t)j * row, ours + (size_t)match[j] * ld_ours, (size_t)row * sizeof *gathered);
  nala_cmp c = nala_compare_f32(what, gathered, ref, (size_t)n * row, 0, 0);
  ck_assert_msg(c.rel_l2 <= 1e-4 && c.n_nonfinite == 0, "%s: rel-L2 %g", what, c.rel_l2);
  free(gathered);
}

/* Reference mask j (run lengths over its paste window) into ref; asserts >= 99.9% of the window's
 * pixels agree with ours (h x w, 0/1); returns the reference's pixel count. */
static size_t compare_mask(int j, const uint8_t *ours, uint8_t *ref, int h, int w, const int64_t *win,
                           const int64_t *rle, int64_t n_rle, double *worst) {
  memset(ref, 0, (size_t)h * w);
  int y0 = (int)win[0], y1 = (int)win[1], x0 = (int)win[2], x1 = (int)win[3];
  size_t pos = 0, ww = (size_t)(x1 - x0);
  for (int64_t k = 0; k < n_rle; k++)
    for (int64_t q = 0; q < rle[k]; q++, pos++)
      if (k % 2)
        ref[(size_t)(y0 + pos / ww) * w + x0 + pos % ww] = 1;
  ck_assert_uint_eq(pos, (size_t)(y1 - y0) * ww);
  size_t diff = 0, set = 0;
  for (size_t p = 0; p < (size_t)h * w; p++)
    diff += ours[p] != ref[p], set += ref[p];
  double agree = 1.0 - (double)diff / (double)((size_t)(y1 - y0) * ww);
  *worst = fmin(*worst, agree);
  ck_assert_msg(agree >= 0.999, "mask of detection %d: %.5f agreement (%zu pixels differ)", j, agree, diff);
  return set;
}

static void check_case(const char *fixture, int h, int w) {
  nala_st_file *f = det_open(fixture);
  uint64_t input_seed = strtoull(nala_st_metadata(f, "input_seed"), NULL, 10);
  float input_scale = strtof(nala_st_metadata(f, "input_scale"), NULL);
  image im = build_weights();
  nala_model *m = create_model(FIX("maskrcnn_xt_fixture.json"), &im);
  run r;
  run_model(&r, m, h, w, input_seed, input_scale, 2);

  /* raw RPN maps: ours NHWC [h][w][3 + 12], the reference NCHW */
  for (int l = 0; l < L; l++) {
    const nala_feat *map = out_at(&r, l);
    int64_t dc[4], dr[4];
    size_t nc, nr;
    char name[32];
    snprintf(name, sizeof name, "rpn_cls_%d", l);
    const float *ref_cls = det_f32(f, name, &nc, dc);
    snprintf(name, sizeof name, "rpn_reg_%d", l);
    const float *ref_reg = det_f32(f, name, &nr, dr);
    ck_assert_int_eq(dc[2], map->h);
    ck_assert_int_eq(dc[3], map->w);
    size_t px = (size_t)map->h * map->w;
    float *cls = malloc(nc * sizeof *cls), *reg = malloc(nr * sizeof *reg);
    const float *ours = nala_nn_ctx_at(&r.ctx, map->off);
    for (size_t p = 0; p < px; p++) {
      for (int a = 0; a < 3; a++)
        cls[a * px + p] = ours[p * map->c + a];
      for (int k = 0; k < 12; k++)
        reg[k * px + p] = ours[p * map->c + 3 + k];
    }
    snprintf(name, sizeof name, "rpn_cls_%d", l);
    nala_cmp c1 = nala_compare_f32(name, cls, ref_cls, nc, 0, 0);
    snprintf(name, sizeof name, "rpn_reg_%d", l);
    nala_cmp c2 = nala_compare_f32(name, reg, ref_reg, nr, 0, 0);
    ck_assert(c1.rel_l2 <= 1e-4 && c2.rel_l2 <= 1e-4);
    free(cls), free(reg);
  }

  /* proposals as sets */
  size_t np, nd;
  const float *ref_props = det_f32(f, "proposals", &np, NULL);
  const float *ref_pscores = det_f32(f, "proposal_scores", NULL, NULL);
  int P = (int)(np / 4), n_props = out_count(&r, L + 2);
  int *pmatch = malloc((size_t)P * sizeof *pmatch + 4);
  match_sets("proposals", outf(&r, L), outf(&r, L + 1), NULL, n_props, ref_props, ref_pscores, NULL, P, pmatch);

  /* rcnn raw outputs on the matched proposals: [P][K+1 + 4K] */
  int64_t dcs[4], dbp[4];
  const float *ref_cls = det_f32(f, "rcnn_cls_score", NULL, dcs);
  const float *ref_bp = det_f32(f, "rcnn_bbox_pred", NULL, dbp);
  int K1 = (int)dcs[1], R4 = (int)dbp[1], row = out_at(&r, RES(ROI_OUT_RCNN))->c;
  ck_assert_int_eq(row, K1 + R4);
  compare_rows("rcnn_cls_score", outf(&r, RES(ROI_OUT_RCNN)), row, ref_cls, K1, P, pmatch);
  compare_rows("rcnn_bbox_pred", outf(&r, RES(ROI_OUT_RCNN)) + K1, row, ref_bp, R4, P, pmatch);

  /* detections as sets */
  const float *ref_boxes = det_f32(f, "det_bboxes", &nd, NULL);
  const float *ref_scores = det_f32(f, "det_scores", NULL, NULL);
  int n = (int)(nd / 4);
  int64_t *ref_labels = malloc((size_t)n * sizeof *ref_labels + 8);
  det_i64(f, "det_labels", ref_labels, (size_t)n);
  int n_dets = out_count(&r, RES(ROI_OUT_COUNT));
  int *dmatch = malloc((size_t)n * sizeof *dmatch + 4);
  const float *boxes = outf(&r, RES(ROI_OUT_BOXES));
  const int32_t *labels = (const int32_t *)outf(&r, RES(ROI_OUT_LABELS));
  match_sets("detections", boxes, outf(&r, RES(ROI_OUT_SCORES)), labels, n_dets, ref_boxes, ref_scores, ref_labels,
             n, dmatch);
  ck_assert_int_gt(n, 10);

  /* mask probabilities and pasted masks */
  int S = 28;
  ck_assert_int_eq(out_at(&r, RES(ROI_OUT_MASKS))->c, S * S);
  compare_rows("mask_probs", outf(&r, RES(ROI_OUT_MASKS)), S * S, det_f32(f, "mask_probs", NULL, NULL), S * S, n,
               dmatch);
  int64_t *wins = malloc((size_t)n * 4 * sizeof *wins + 8), *lens = malloc((size_t)n * sizeof *lens + 8);
  det_i64(f, "mask_windows", wins, (size_t)n * 4);
  det_i64(f, "mask_rle_len", lens, (size_t)n);
  size_t n_rle;
  det_tensor(f, "mask_rle", NALA_DT_I64, &n_rle, NULL);
  int64_t *rle = malloc(n_rle * sizeof *rle + 8);
  det_i64(f, "mask_rle", rle, n_rle);
  uint8_t *ours = malloc((size_t)h * w), *ref = malloc((size_t)h * w);
  size_t at = 0, total_px = 0;
  double worst = 1;
  nala_err err;
  for (int j = 0; j < n; j++) {
    int i = dmatch[j];
    ck_assert_int_eq(nala_det_paste_mask(outf(&r, RES(ROI_OUT_MASKS)) + (size_t)i * S * S, S, S, boxes + 4 * i, 0.5f,
                                         h, w, ours, (size_t)w, &err),
                     NALA_OK);
    total_px += compare_mask(j, ours, ref, h, w, wins + 4 * j, rle + at, lens[j], &worst);
    at += (size_t)lens[j];
  }
  printf("masks: %d detections, %zu reference mask pixels, worst window agreement %.6f\n", n, total_px, worst);
  ck_assert_uint_gt(total_px, 0);

  free(ours), free(ref), free(rle), free(wins), free(lens), free(dmatch), free(ref_labels), free(pmatch);
  run_free(&r);
  nala_model_free(m);
  free(im.buf);
  nala_st_close(f);
}

START_TEST(maskrcnn_512x512) { check_case(FIX("maskrcnn_xt_512x512.safetensors"), 512, 512); }
END_TEST

START_TEST(maskrcnn_480x640) { check_case(FIX("maskrcnn_xt_480x640.safetensors"), 480, 640); }
END_TEST

/* The same model through the public detector API (det/maskrcnn_arch.c): a TENSOR plan, detections
 * and masks read back (bitmap and RLE), the parity tensors listed. */
START_TEST(detector_api_512x512) {
  const int h = 512, w = 512;
  nala_st_file *f = det_open(FIX("maskrcnn_xt_512x512.safetensors"));
  image im = build_weights();
  nala_err err;
  nala_config *cfg = NULL;
  ck_assert_msg(nala_config_load(FIX("maskrcnn_xt_fixture.json"), &cfg, &err) == NALA_OK, "%s", err.msg);
  nala_weights *wts = NULL;
  ck_assert_int_eq(nala_weights_open_memory(im.buf, im.size, "maskrcnn_xt", &wts, &err), NALA_OK);
  nala_detector *d = NULL;
  ck_assert_msg(nala_detector_create(cfg, wts, NULL, &d, &err) == NALA_OK, "%s", err.msg);
  nala_weights_close(wts);
  ck_assert_int_eq(nala_detector_has_masks(d), 1);
  ck_assert_int_eq(nala_detector_num_classes(d), 4);
  nala_det_ctx *ctx = NULL;
  ck_assert_int_eq(nala_det_ctx_create(d, 2, &ctx, &err), NALA_OK);
  uint8_t probe[4];
  ck_assert_int_eq(nala_det_read_mask(ctx, 0, probe, sizeof probe, &err), NALA_E_STATE);
  ck_assert_msg(nala_det_plan(ctx, NALA_DET_TENSOR, h, w, &err) == NALA_OK, "%s", err.msg);
  float *x = malloc((size_t)3 * h * w * sizeof *x);
  int64_t shape[4] = {1, 3, h, w};
  ck_assert_int_eq(nala_seeded_fill(strtoull(nala_st_metadata(f, "input_seed"), NULL, 10), "input.weight", 4, shape, x,
                                    &err),
                   NALA_OK);
  float scale = strtof(nala_st_metadata(f, "input_scale"), NULL);
  for (size_t i = 0; i < (size_t)3 * h * w; i++)
    x[i] *= scale;
  ck_assert_msg(nala_det_forward_tensor(ctx, x, &err) == NALA_OK, "%s", err.msg);
  free(x);
  static const char *const names[] = {"rpn_cls_0", "rpn_reg_0", "rpn_cls_4", "rpn_reg_4", "proposals",
                                      "proposal_scores", "rcnn_cls_score", "rcnn_bbox_pred", "mask_probs"};
  for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
    int found = 0;
    for (int i = 0; i < nala_det_raw_count(ctx); i++) {
      nala_det_raw raw;
      ck_assert_int_eq(nala_det_raw_at(ctx, i, &raw, &err), NALA_OK);
      found |= !strcmp(raw.name, names[k]);
      if (!strcmp(raw.name, "proposals"))
        ck_assert_int_eq(raw.shape[0], 1000);
      if (!strcmp(raw.name, "rpn_cls_0"))
        ck_assert(raw.nhwc && raw.shape[1] == 3 && raw.shape[2] == 128 && raw.ld == 15);
    }
    ck_assert_msg(found, "no parity tensor %s", names[k]);
  }
  size_t nd;
  const float *ref_boxes = det_f32(f, "det_bboxes", &nd, NULL);
  int n = (int)(nd / 4), got = 0;
  ck_assert_int_eq(nala_det_count(ctx), n);
  nala_detection *dets = malloc((size_t)n * sizeof *dets);
  ck_assert_int_eq(nala_det_read(ctx, dets, n, &got, &err), NALA_OK);
  float *boxes = malloc((size_t)n * 16), *scores = malloc((size_t)n * 4);
  int32_t *labels = malloc((size_t)n * 4);
  for (int i = 0; i < n; i++) {
    memcpy(boxes + 4 * i, &dets[i].x1, 16);
    scores[i] = dets[i].score, labels[i] = dets[i].label;
    ck_assert(i == 0 || dets[i].score <= dets[i - 1].score);
  }
  int64_t *ref_labels = malloc((size_t)n * 8), *wins = malloc((size_t)n * 32), *lens = malloc((size_t)n * 8);
  det_i64(f, "det_labels", ref_labels, (size_t)n);
  det_i64(f, "mask_windows", wins, (size_t)n * 4);
  det_i64(f, "mask_rle_len", lens, (size_t)n);
  size_t n_rle;
  det_tensor(f, "mask_rle", NALA_DT_I64, &n_rle, NULL);
  int64_t *rle = malloc(n_rle * 8);
  det_i64(f, "mask_rle", rle, n_rle);
  int *match = malloc((size_t)n * sizeof *match);
  match_sets("api detections", boxes, scores, labels, got, ref_boxes, det_f32(f, "det_scores", NULL, NULL), ref_labels,
             n, match);
  uint8_t *ours = malloc((size_t)h * w), *ref = malloc((size_t)h * w), *dec = malloc((size_t)h * w);
  ck_assert_int_eq(nala_det_read_mask(ctx, 0, ours, (size_t)h * w - 1, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_det_read_mask(ctx, n, ours, (size_t)h * w, &err), NALA_E_ARG);
  size_t at = 0;
  double worst = 1;
  for (int j = 0; j < n; j++) {
    ck_assert_int_eq(nala_det_read_mask(ctx, match[j], ours, (size_t)h * w, &err), NALA_OK);
    compare_mask(j, ours, ref, h, w, wins + 4 * j, rle + at, lens[j], &worst);
    at += (size_t)lens[j];
    if (j < 5) { /* RLE round trip: column-major COCO order */
      nala_rle r;
      ck_assert_int_eq(nala_det_read_mask_rle(ctx, match[j], &r, &err), NALA_OK);
      ck_assert_int_eq(nala_rle_decode(&r, dec, &err), NALA_OK);
      for (int y = 0; y < h; y++)
        for (int xx = 0; xx < w; xx++)
          ck_assert_int_eq(dec[(size_t)xx * h + y], ours[(size_t)y * w + xx]);
      nala_rle_free(&r);
    }
  }
  printf("api masks: worst window agreement %.6f\n", worst);
  free(ours), free(ref), free(dec), free(match), free(rle), free(wins), free(lens), free(ref_labels);
  free(boxes), free(scores), free(labels), free(dets);
  nala_det_ctx_free(ctx);
  nala_detector_free(d);
  nala_config_free(cfg);
  free(im.buf);
  nala_st_close(f);
}
END_TEST

/* FRAME input: the test pipeline's Resize at (512, 256) keep-ratio makes a 128x256 frame exactly
 * 2x (256x512, multiples of 32), so the TENSOR plan on the same preprocessed tensor clips to the same
 * img_shape: FRAME boxes are the TENSOR boxes / 2 (mmdet 3.x mask head: bboxes / scale_factor,
 * exact), scores and labels the same, and each FRAME mask is mmdet's paste of the same
 * probabilities with the frame box at the frame size. */
START_TEST(frame_vs_tensor) {
  static const char *const small_pipeline[] = {
      "test_pipeline=[{\"type\": \"LoadImageFromFile\"}, {\"type\": \"Resize\", \"scale\": [512, 256], "
      "\"keep_ratio\": true}, {\"type\": \"PackDetInputs\"}]"};
  const int H = 128, W = 256;
  nala_err err;
  nala_image img = {.h = H, .w = W, .c = 3, .stride = (size_t)W * 3, .order = NALA_BGR};
  img.data = malloc((size_t)H * W * 3);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      for (int c = 0; c < 3; c++)
        img.data[((size_t)y * W + x) * 3 + c] = (uint8_t)((x * 7 + y * 13 + c * 50 + ((x * y) % 97)) & 255);
  image im = build_weights();
  nala_config *cfg = NULL;
  ck_assert_msg(nala_config_load_with(FIX("maskrcnn_xt_fixture.json"), small_pipeline, 1, &cfg, &err) == NALA_OK, "%s",
                err.msg);
  nala_weights *wts = NULL;
  ck_assert_int_eq(nala_weights_open_memory(im.buf, im.size, "maskrcnn_xt", &wts, &err), NALA_OK);
  nala_detector *d = NULL;
  ck_assert_msg(nala_detector_create(cfg, wts, NULL, &d, &err) == NALA_OK, "%s", err.msg);
  nala_weights_close(wts);
  nala_det_ctx *ctx = NULL;
  ck_assert_int_eq(nala_det_ctx_create(d, 2, &ctx, &err), NALA_OK);
  ck_assert_msg(nala_det_plan(ctx, NALA_DET_FRAME, H, W, &err) == NALA_OK, "%s", err.msg);
  nala_preprocess_meta meta;
  ck_assert_int_eq(nala_det_plan_meta(ctx, &meta, &err), NALA_OK);
  ck_assert(meta.img_h == 256 && meta.img_w == 512 && meta.pad_h == 256 && meta.pad_w == 512);
  ck_assert_msg(nala_det_forward_frame(ctx, &img, &err) == NALA_OK, "%s", err.msg);
  int n_fr = nala_det_count(ctx), got = 0;
  ck_assert_int_gt(n_fr, 0);
  nala_detection *fr = malloc((size_t)n_fr * sizeof *fr), *tn = malloc((size_t)n_fr * sizeof *tn);
  ck_assert_int_eq(nala_det_read(ctx, fr, n_fr, &got, &err), NALA_OK);
  uint8_t *mask = malloc((size_t)H * W), *want = malloc((size_t)H * W);
  float *probs = malloc((size_t)n_fr * 28 * 28 * sizeof *probs);
  for (int i = 0; i < nala_det_raw_count(ctx); i++) {
    nala_det_raw raw;
    ck_assert_int_eq(nala_det_raw_at(ctx, i, &raw, &err), NALA_OK);
    if (!strcmp(raw.name, "mask_probs")) {
      ck_assert_int_eq(raw.shape[0], n_fr);
      memcpy(probs, raw.data, (size_t)n_fr * 28 * 28 * sizeof *probs);
    }
  }
  size_t px = 0;
  for (int i = 0; i < n_fr; i++) {
    ck_assert_int_eq(nala_det_read_mask(ctx, i, mask, (size_t)H * W, &err), NALA_OK);
    float box[4] = {fr[i].x1, fr[i].y1, fr[i].x2, fr[i].y2};
    ck_assert_int_eq(nala_det_paste_mask(probs + (size_t)i * 28 * 28, 28, 28, box, 0.5f, H, W, want, (size_t)W, &err),
                     NALA_OK);
    ck_assert(!memcmp(mask, want, (size_t)H * W));
    for (size_t p = 0; p < (size_t)H * W; p++)
      px += mask[p];
  }
  nala_preprocess_cfg pp;
  ck_assert(nala_preprocess_from_config(&nala_config_model(cfg)->preprocess, NALA_NCHW, &pp, &err) == NALA_OK);
  nala_preprocessed t;
  ck_assert_msg(nala_preprocess(&pp, &img, &t, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(nala_det_plan(ctx, NALA_DET_TENSOR, t.h, t.w, &err), NALA_OK);
  ck_assert_msg(nala_det_forward_tensor(ctx, t.data, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(nala_det_count(ctx), n_fr);
  ck_assert_int_eq(nala_det_read(ctx, tn, n_fr, &got, &err), NALA_OK);
  for (int i = 0; i < n_fr; i++) {
    ck_assert_int_eq(fr[i].label, tn[i].label);
    ck_assert(fr[i].score == tn[i].score);
    ck_assert(fr[i].x1 == tn[i].x1 / 2.0f && fr[i].y1 == tn[i].y1 / 2.0f && fr[i].x2 == tn[i].x2 / 2.0f &&
              fr[i].y2 == tn[i].y2 / 2.0f);
  }
  printf("frame 128x256: %d detections (%zu mask pixels), tensor 256x512 the same, boxes / 2\n", n_fr, px);
  nala_preprocessed_free(&t);
  free(fr), free(tn), free(mask), free(want), free(probs), free(img.data);
  nala_det_ctx_free(ctx);
  nala_detector_free(d);
  nala_config_free(cfg);
  free(im.buf);
}
END_TEST

/* `nala det --dump` (the parity interface) at 480x640: every Mask R-CNN tensor present with its
 * shape, raw maps and RCNN rows as close as the library's, proposals and detections as sets,
 * det_masks uint8 [n,H,W] agreeing with the reference masks. */
START_TEST(cli_dump_480x640) {
  const int h = 480, w = 640;
  char in[256], wpath[256], out[256], args[2048];
  snprintf(in, sizeof in, "/tmp/nala_test_mrcnn_in_%d.safetensors", (int)getpid());
  snprintf(wpath, sizeof wpath, "/tmp/nala_test_mrcnn_w_%d.safetensors", (int)getpid());
  snprintf(out, sizeof out, "/tmp/nala_test_mrcnn_out_%d.safetensors", (int)getpid());
  nala_st_file *f = det_open(FIX("maskrcnn_xt_480x640.safetensors"));
  image im = build_weights();
  FILE *wf = fopen(wpath, "wb");
  ck_assert_ptr_nonnull(wf);
  ck_assert_uint_eq(fwrite(im.buf, 1, im.size, wf), im.size);
  fclose(wf);
  free(im.buf);
  nala_err err;
  float *x = malloc((size_t)3 * h * w * sizeof *x);
  int64_t shape[4] = {1, 3, h, w};
  ck_assert_int_eq(nala_seeded_fill(strtoull(nala_st_metadata(f, "input_seed"), NULL, 10), "input.weight", 4, shape, x,
                                    &err),
                   NALA_OK);
  float scale = strtof(nala_st_metadata(f, "input_scale"), NULL);
  for (size_t i = 0; i < (size_t)3 * h * w; i++)
    x[i] *= scale;
  nala_st_tensor t = {.name = "input", .dtype = NALA_DT_F32, .ndim = 4, .shape = {1, 3, h, w}, .data = x,
                      .nbytes = (size_t)3 * h * w * 4};
  ck_assert_int_eq(nala_st_write(in, &t, 1, &err), NALA_OK);
  free(x);
  snprintf(args, sizeof args, "det --config %s --weights %s --input %s --dump %s --threads 2",
           FIX("maskrcnn_xt_fixture.json"), wpath, in, out);
  char *so = NULL, *se = NULL;
  int rc = nala_run_cli(args, &so, &se);
  printf("%s%s", so ? so : "", se ? se : "");
  ck_assert_int_eq(rc, 0);
  free(so), free(se);
  nala_st_file *d = det_open(out);
  char name[32];
  for (int l = 0; l < L; l++)
    for (int k = 0; k < 2; k++) {
      snprintf(name, sizeof name, k ? "rpn_reg_%d" : "rpn_cls_%d", l);
      size_t n1, n2;
      int64_t d1[4], d2[4];
      const float *a = det_f32(d, name, &n1, d1), *b = det_f32(f, name, &n2, d2);
      ck_assert(n1 == n2 && d1[1] == d2[1] && d1[2] == d2[2] && d1[3] == d2[3]);
      ck_assert(nala_compare_f32(name, a, b, n1, 0, 0).rel_l2 <= 1e-4);
    }
  size_t np, nr, nd;
  int64_t dims[4];
  const float *props = det_f32(d, "proposals", &np, NULL), *ref_props = det_f32(f, "proposals", &nr, NULL);
  int P = (int)(nr / 4);
  int *pmatch = malloc((size_t)P * sizeof *pmatch);
  match_sets("dump proposals", props, det_f32(d, "proposal_scores", NULL, NULL), NULL, (int)(np / 4), ref_props,
             det_f32(f, "proposal_scores", NULL, NULL), NULL, P, pmatch);
  const float *cls = det_f32(d, "rcnn_cls_score", NULL, dims);
  ck_assert(dims[0] == P && dims[1] == 5);
  compare_rows("dump rcnn_cls_score", cls, 5, det_f32(f, "rcnn_cls_score", NULL, NULL), 5, P, pmatch);
  const float *reg = det_f32(d, "rcnn_bbox_pred", NULL, dims);
  ck_assert(dims[0] == P && dims[1] == 16);
  compare_rows("dump rcnn_bbox_pred", reg, 16, det_f32(f, "rcnn_bbox_pred", NULL, NULL), 16, P, pmatch);
  const float *boxes = det_f32(d, "det_bboxes", &nd, NULL);
  int n = (int)(nd / 4);
  const int32_t *labels = det_tensor(d, "det_labels", NALA_DT_I32, NULL, NULL);
  int64_t *ref_labels = malloc((size_t)n * 8 + 8);
  det_i64(f, "det_labels", ref_labels, (size_t)n);
  int *dmatch = malloc((size_t)n * sizeof *dmatch + 4);
  size_t nref;
  const float *ref_boxes = det_f32(f, "det_bboxes", &nref, NULL);
  match_sets("dump detections", boxes, det_f32(d, "det_scores", NULL, NULL), labels, n, ref_boxes,
             det_f32(f, "det_scores", NULL, NULL), ref_labels, (int)(nref / 4), dmatch);
  const float *probs = det_f32(d, "mask_probs", NULL, dims);
  ck_assert(dims[0] == n && dims[1] == 28 && dims[2] == 28);
  compare_rows("dump mask_probs", probs, 28 * 28, det_f32(f, "mask_probs", NULL, NULL), 28 * 28, n, dmatch);
  const uint8_t *masks = det_tensor(d, "det_masks", NALA_DT_U8, NULL, dims);
  ck_assert(dims[0] == n && dims[1] == h && dims[2] == w);
  int64_t *wins = malloc((size_t)n * 32 + 8), *lens = malloc((size_t)n * 8 + 8);
  det_i64(f, "mask_windows", wins, (size_t)n * 4);
  det_i64(f, "mask_rle_len", lens, (size_t)n);
  size_t n_rle;
  det_tensor(f, "mask_rle", NALA_DT_I64, &n_rle, NULL);
  int64_t *rle = malloc(n_rle * 8 + 8);
  det_i64(f, "mask_rle", rle, n_rle);
  uint8_t *ref = malloc((size_t)h * w);
  size_t at = 0;
  double worst = 1;
  for (int j = 0; j < n; j++) {
    compare_mask(j, masks + (size_t)dmatch[j] * h * w, ref, h, w, wins + 4 * j, rle + at, lens[j], &worst);
    at += (size_t)lens[j];
  }
  printf("dump masks: worst window agreement %.6f\n", worst);
  free(ref), free(rle), free(wins), free(lens), free(dmatch), free(ref_labels), free(pmatch);
  nala_st_close(d);
  nala_st_close(f);
  unlink(in), unlink(wpath), unlink(out);
}
END_TEST

/* One and two threads: every output (maps, proposals, RCNN rows, detections, masks) bit-identical. */
START_TEST(threads_bit_identical) {
  image im = build_weights();
  nala_model *m = create_model(FIX("maskrcnn_xt_fixture.json"), &im);
  run a, b;
  int h = 256, w = 320;
  run_model(&a, m, h, w, 3, 1024.0f, 1);
  run_model(&b, m, h, w, 3, 1024.0f, 2);
  ck_assert_int_gt(out_count(&a, RES(ROI_OUT_COUNT)), 0);
  for (int i = 0; i < a.ctx.graph.n_outs; i++) {
    const nala_feat *fa = out_at(&a, i), *fb = out_at(&b, i);
    size_t bytes = (size_t)fa->c * fa->h * fa->w * sizeof(float);
    ck_assert_int_eq(fa->c * fa->h * fa->w, fb->c * fb->h * fb->w);
    size_t used = bytes;
    if (i == L || i == L + 1) /* proposals: only the first count rows are written */
      used = (size_t)out_count(&a, L + 2) * fa->c * sizeof(float);
    else if (i == RES(ROI_OUT_RCNN))
      used = (size_t)out_count(&a, L + 2) * fa->c * sizeof(float);
    else if (i >= RES(ROI_OUT_BOXES) && i != RES(ROI_OUT_COUNT))
      used = (size_t)out_count(&a, RES(ROI_OUT_COUNT)) * fa->c * sizeof(float);
    ck_assert_msg(!memcmp(nala_nn_ctx_at(&a.ctx, fa->off), nala_nn_ctx_at(&b.ctx, fb->off), used),
                  "output %d differs between 1 and 2 threads", i);
  }
  printf("threads: %d proposals, %d detections, bit-identical\n", out_count(&a, L + 2),
         out_count(&a, RES(ROI_OUT_COUNT)));
  run_free(&a);
  run_free(&b);
  nala_model_free(m);
  free(im.buf);
}
END_TEST

/* Graph gates: an op runs only when lo < count <= hi. */
static nala_status set_count(const void *args, char *ws, int nthreads, nala_err *err) {
  (void)nthreads, (void)err;
  memcpy(ws, args, sizeof(int32_t));
  return NALA_OK;
}
static nala_status bump(const void *args, char *ws, int nthreads, nala_err *err) {
  (void)nthreads, (void)err;
  int k = *(const int *)args;
  ((int32_t *)ws)[1 + k]++;
  return NALA_OK;
}
START_TEST(graph_gates) {
  nala_err err;
  nala_rt *rt = NULL;
  ck_assert_int_eq(nala_rt_create(NALA_ISA_AUTO, &rt, &err), NALA_OK);
  dnnl_stream_t stream;
  ck_assert_int_eq(dnnl_stream_create(&stream, rt->engine, dnnl_stream_default_flags), dnnl_success);
  nala_graph g;
  nala_graph_init(&g, rt->engine, 1);
  size_t off = nala_graph_region(&g, 64);
  ck_assert_uint_eq(off, 0);
  static const int buckets[] = {100, 50, 25, 13, 7, 4, 2, 1};
  for (int count = 0; count <= 100; count++) {
    nala_graph_release(&g);
    nala_graph_region(&g, 64);
    int32_t c = count;
    ck_assert_int_eq(nala_graph_add_kernel(&g, set_count, &c, sizeof c, -1, &err), NALA_OK);
    for (int k = 0; k < 8; k++) {
      ck_assert_int_eq(nala_graph_add_kernel(&g, bump, &k, sizeof k, -1, &err), NALA_OK);
      ck_assert_int_eq(nala_graph_gate_last(&g, 0, k + 1 < 8 ? buckets[k + 1] : 0, buckets[k], &err), NALA_OK);
    }
    int32_t ws[16] = {0};
    g.ws = (char *)ws;
    ck_assert_int_eq(nala_graph_execute(&g, stream, &err), NALA_OK);
    int ran = 0, which = -1;
    for (int k = 0; k < 8; k++)
      if (ws[1 + k])
        ran++, which = k;
    ck_assert_int_eq(ran, count ? 1 : 0);
    if (count)
      ck_assert(buckets[which] >= count && (which == 7 || buckets[which + 1] < count));
  }
  ck_assert_int_eq(nala_graph_gate_last(&g, 2, 0, 1, &err), NALA_E_ARG);
  /* mark / rewind: regions after the mark are handed out again, the workspace keeps the peak */
  nala_graph_release(&g);
  size_t a = nala_graph_region(&g, 100), mark = nala_graph_mark(&g);
  size_t b = nala_graph_region(&g, 1000);
  size_t peak = nala_graph_ws_bytes(&g);
  nala_graph_rewind(&g, mark);
  size_t c = nala_graph_region(&g, 10);
  ck_assert(a == 0 && b == 128 && c == b);
  ck_assert_uint_eq(nala_graph_ws_bytes(&g), peak);
  ck_assert_uint_eq(peak, 128 + 1024);
  nala_graph_release(&g);
  dnnl_stream_destroy(stream);
  nala_rt_free(rt);
}
END_TEST

/* Bad configs: the error names the key. */
START_TEST(bad_configs) {
  static const struct {
    const char *find, *replace, *want;
  } cases[] = {
      {"\"max_per_img\": 100, ", "\"max_per_img\": 0, ", "rcnn.max_per_img"},
      {"\"rcnn\": {", "\"rcnx\": {", "rcnx"},
      {"\"reg_class_agnostic\": false", "\"reg_class_agnostic\": true", "reg_class_agnostic"},
      {"\"conv_out_channels\": 16, \"num_classes\": 4", "\"conv_out_channels\": 16, \"num_classes\": 3",
       "mask_head.num_classes"},
      {"\"strides\": [4, 8, 16, 32, 64]", "\"strides\": [4, 8, 16, 32]", "RPNHead"},
      {"\"iou_threshold\": 0.7", "\"iou_threshold\": 1.7", "iou_threshold"},
      {"\"type\": \"FCNMaskHead\"", "\"type\": \"HTCMaskHead\"", "HTCMaskHead"},
  };
  size_t len = 0;
  char *text = (char *)nala_test_read_bytes(FIX("maskrcnn_xt_fixture.json"), &len);
  ck_assert_ptr_nonnull(text);
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    const char *at = strstr(text, cases[c].find);
    ck_assert_msg(at != NULL, "fixture config lacks %s", cases[c].find);
    size_t pre = (size_t)(at - text), flen = strlen(cases[c].find), rlen = strlen(cases[c].replace);
    char *bad = malloc(len + rlen + 1);
    memcpy(bad, text, pre);
    memcpy(bad + pre, cases[c].replace, rlen);
    memcpy(bad + pre + rlen, at + flen, len - pre - flen);
    size_t blen = len - flen + rlen;
    bad[blen] = 0;
    nala_err err;
    nala_err_clear(&err);
    nala_config *cfg = NULL;
    nala_status st = nala_config_parse("bad.json", bad, blen, NULL, NULL, 0, &cfg, &err);
    if (!st) {
      nala_weights *w = NULL;
      ck_assert_int_eq(nala_weights_seeded(1, &w, &err), NALA_OK);
      nala_model *m = NULL;
      st = nala_model_create(cJSON_GetObjectItemCaseSensitive(nala_config_json(cfg), "model"), w, NALA_ISA_AUTO, &m,
                             &err);
      nala_weights_close(w);
      if (!st) {
        nala_nn_ctx ctx;
        ck_assert_int_eq(nala_model_ctx_init(m, 1, &ctx, &err), NALA_OK);
        st = nala_nn_ctx_plan(&ctx, 64, 64, &err);
        nala_nn_ctx_release(&ctx);
        nala_model_free(m);
      }
      nala_config_free(cfg);
    }
    printf("bad config %zu: %s\n", c, err.msg);
    ck_assert_msg(st != NALA_OK, "case %zu accepted", c);
    ck_assert_msg(strstr(err.msg, cases[c].want) != NULL, "want \"%s\" in \"%s\"", cases[c].want, err.msg);
    free(bad);
  }
  free(text);
}
END_TEST

int main(void) {
  Suite *s = suite_create("maskrcnn");
  TCase *units = tcase_create("units");
  tcase_set_timeout(units, 300);
  tcase_add_test(units, graph_gates);
  tcase_add_test(units, bad_configs);
  suite_add_tcase(s, units);
  TCase *tc = tcase_create("fixtures");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, maskrcnn_512x512);
  tcase_add_test(tc, maskrcnn_480x640);
  tcase_add_test(tc, detector_api_512x512);
  tcase_add_test(tc, frame_vs_tensor);
  tcase_add_test(tc, cli_dump_480x640);
  tcase_add_test(tc, threads_bit_identical);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
