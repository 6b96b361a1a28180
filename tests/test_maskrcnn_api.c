/* Mask R-CNN through the public detector API (det/maskrcnn_arch.c over the modules) against the
 * fixtures of tools/reference/make_maskrcnn_fixtures.py: a TENSOR plan with detections and masks read
 * back (bitmap and COCO RLE) and the parity tensors listed; FRAME input (the test pipeline, boxes
 * divided by the scale factor, masks pasted at the frame size) against TENSOR; and `nala det --dump`
 * (the parity interface) at 480x640. */
#include <unistd.h>

#include "nala/detector.h"
#include "nala/preprocess.h"
#include "nala/rle.h"
#include "tests/maskrcnn_fixture.h"
#include "tests/support/cli.h"
#include "tests/support/suite.h"
#include "tests/support/frames.h"

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
  float *x = seeded_input(f, h, w);
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
  nala_image img = nala_test_pattern_frame(H, W);
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
  float *x = seeded_input(f, h, w);
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

int main(void) {
  Suite *s = suite_create("maskrcnn_api");
  TCase *tc = tcase_create("api");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, detector_api_512x512);
  tcase_add_test(tc, frame_vs_tensor);
  tcase_add_test(tc, cli_dump_480x640);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
