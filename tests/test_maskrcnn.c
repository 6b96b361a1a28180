/* Mask R-CNN (heads/rpn_head.c, heads/roi_head.c, heads/bbox_head.c, heads/mask_head.c) on
 * NaLaFormer-XT against tools/reference/make_maskrcnn_fixtures.py (mmdet 3.x semantics restated in
 * tools/reference/mmdet_maskrcnn_ref.py) at 512x512 and 480x640, through the model root:
 *   raw head outputs (rpn_cls / rpn_reg per level, rcnn cls_score / bbox_pred, mask probabilities)
 *     rel-L2 <= 1e-4;
 *   proposals and detections as sets: each reference box has one of ours with IoU > 0.99, coordinates
 *     within 1e-3 px, score within 1e-5 (detections: same label);
 *   masks pasted at the image size: >= 99.9% of the pixels of each detection's paste window agree;
 *   two thread counts bit-identical; the graph's gates and scratch rewind; bad configs rejected with
 *   the key named. The detector API, FRAME input and `nala det --dump`: test_maskrcnn_api.c. */
#include "tests/maskrcnn_fixture.h"
#include "tests/support/files.h"
#include "tests/support/suite.h"

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

/* Bytes of output i that the run wrote (proposal, RCNN and detection rows only up to their counts). */
static size_t used_bytes(run *r, int i) {
  const nala_feat *f = out_at(r, i);
  if (i == L || i == L + 1 || i == RES(ROI_OUT_RCNN))
    return (size_t)out_count(r, L + 2) * f->c * sizeof(float);
  if (i >= RES(ROI_OUT_BOXES) && i != RES(ROI_OUT_COUNT))
    return (size_t)out_count(r, RES(ROI_OUT_COUNT)) * f->c * sizeof(float);
  return (size_t)f->c * f->h * f->w * sizeof(float);
}

/* Two contexts at the same thread count: every output (maps, proposals, RCNN rows, detections, masks)
 * bit-identical, which is the contract. One against two threads: the same proposal and detection
 * counts, and bit-identical where oneDNN's reduction order does not depend on the thread count (its
 * AVX2 sgemm splits K across threads for the RCNN fcs, so there the rows may differ in the last bits). */
START_TEST(threads_bit_identical) {
  image im = build_weights();
  nala_model *m = create_model(FIX("maskrcnn_xt_fixture.json"), &im);
  run a, b, c;
  int h = 256, w = 320;
  run_model(&a, m, h, w, 3, 1024.0f, 1);
  run_model(&b, m, h, w, 3, 1024.0f, 2);
  run_model(&c, m, h, w, 3, 1024.0f, 2);
  ck_assert_int_gt(out_count(&a, RES(ROI_OUT_COUNT)), 0);
  ck_assert_int_eq(out_count(&a, L + 2), out_count(&b, L + 2));
  ck_assert_int_eq(out_count(&a, RES(ROI_OUT_COUNT)), out_count(&b, RES(ROI_OUT_COUNT)));
  int differ_1v2 = 0;
  for (int i = 0; i < b.ctx.graph.n_outs; i++) {
    const nala_feat *fb = out_at(&b, i), *fc = out_at(&c, i), *fa = out_at(&a, i);
    ck_assert_int_eq(fb->c * fb->h * fb->w, fc->c * fc->h * fc->w);
    ck_assert_int_eq(fa->c * fa->h * fa->w, fb->c * fb->h * fb->w);
    size_t used = used_bytes(&b, i);
    ck_assert_msg(!memcmp(nala_nn_ctx_at(&b.ctx, fb->off), nala_nn_ctx_at(&c.ctx, fc->off), used),
                  "output %d differs between two contexts at 2 threads", i);
    if (memcmp(nala_nn_ctx_at(&a.ctx, fa->off), nala_nn_ctx_at(&b.ctx, fb->off), used)) {
      differ_1v2++;
      printf("threads: output %d differs in bits between 1 and 2 threads\n", i);
    }
  }
  printf("threads: %d proposals, %d detections; two contexts bit-identical; 1 vs 2 threads: %d outputs differ in bits\n",
         out_count(&a, L + 2), out_count(&a, RES(ROI_OUT_COUNT)), differ_1v2);
  run_free(&a);
  run_free(&b);
  run_free(&c);
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
  tcase_add_test(tc, threads_bit_identical);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
