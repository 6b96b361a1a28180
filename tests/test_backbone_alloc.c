/* The per-frame contract: after plan (and one warm-up forward, which lets OpenMP and oneDNN
 * settle their thread pools), nothing of ours allocates in forward. malloc and friends are
 * interposed with counters (tests/support/alloc_count.c), and each allocation is attributed by its
 * call stack: oneDNN 2.6's dnnl_primitive_execute builds a small
 * argument map on the heap at every call (freed before it returns), which its C API offers no way
 * to avoid; those are counted apart and must stay constant per forward, with no growth of the heap.
 * The sanitizer build replaces malloc itself, so this test only counts in the plain build. */
#include <cjson/cJSON.h>
#include <check.h>
#include <malloc.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>

#include "models/model.h"
#include "nala/backbone.h"
#include "nala/config.h"
#include "nala/preprocess.h"
#include "nala/segmentor.h"
#include "nala/weights.h"
#include "tests/support/alloc_count.h"
#include "tests/support/suite.h"

#if defined(__SANITIZE_ADDRESS__)
#define COUNTING 0
#else
#define COUNTING 1
#endif

/* The counter of tests/support/alloc_count.h by the names this file grew up with. */
#define n_allocs_now() nala_alloc_count(NALA_ALLOC_OURS)
#define n_onednn_now() nala_alloc_count(NALA_ALLOC_ONEDNN)
#define n_opencv_now() nala_alloc_count(NALA_ALLOC_OPENCV)

START_TEST(forward_allocates_nothing) {
#if !COUNTING
  printf("sanitizer build: allocation counting skipped\n");
#else
  nala_err err;
  nala_backbone_cfg cfg;
  ck_assert_int_eq(nala_backbone_cfg_preset("xt", &cfg, &err), NALA_OK);
  nala_weights *w = NULL;
  ck_assert_int_eq(nala_weights_seeded(0, &w, &err), NALA_OK);
  nala_backbone *m = NULL;
  ck_assert_int_eq(nala_backbone_create(&cfg, w, NULL, &m, &err), NALA_OK);
  nala_weights_close(w);
  nala_backbone_ctx *ctx = NULL;
  ck_assert_int_eq(nala_backbone_ctx_create(m, 2, &ctx, &err), NALA_OK);
  ck_assert_int_eq(nala_backbone_plan(ctx, 120, 152, &err), NALA_OK);
  float *x = calloc(3 * 120 * 152, sizeof(float));
  for (int i = 0; i < 3 * 120 * 152; i++)
    x[i] = (float)((i * 7919) % 255) / 64.0f - 2.0f;
  ck_assert_int_eq(nala_backbone_forward(ctx, x, &err), NALA_OK);
  long onednn_per_forward[3];
  size_t heap_before = mallinfo2().uordblks;
  nala_status st[3];
  /* No ck_assert while counting: check allocates to record each assertion's location. */
  nala_alloc_count_start();
  for (int i = 0; i < 3; i++) {
    long d0 = n_onednn_now();
    st[i] = nala_backbone_forward(ctx, x, &err);
    onednn_per_forward[i] = n_onednn_now() - d0;
  }
  nala_alloc_count_stop();
  for (int i = 0; i < 3; i++)
    ck_assert_int_eq(st[i], NALA_OK);
  size_t heap_after = mallinfo2().uordblks;
  long ours = n_allocs_now();
  printf("3 forwards after warm-up: %ld allocations outside oneDNN; inside dnnl_primitive_execute "
         "%ld, %ld, %ld (transient argument maps); heap in use %zu -> %zu bytes\n",
         ours, onednn_per_forward[0], onednn_per_forward[1], onednn_per_forward[2], heap_before, heap_after);
  ck_assert_int_eq(ours, 0);
  ck_assert_int_eq(onednn_per_forward[1], onednn_per_forward[0]);
  ck_assert_int_eq(onednn_per_forward[2], onednn_per_forward[0]);
  ck_assert_uint_eq(heap_after, heap_before);
  /* The counter itself works: a replan does allocate outside oneDNN. */
  nala_alloc_count_start();
  nala_status replan = nala_backbone_plan(ctx, 64, 64, &err);
  nala_alloc_count_stop();
  ck_assert_int_eq(replan, NALA_OK);
  ck_assert_int_gt(n_allocs_now(), 0);
  free(x);
  nala_backbone_ctx_free(ctx);
  nala_backbone_free(m);
#endif
}
END_TEST

#include "nala/detector.h"

#if COUNTING
/* The detector of config on seeded weights (seed 0) and its 2-thread context; the caller frees all three. */
static nala_det_ctx *seeded_detector(const char *config, nala_config **cfg, nala_detector **d) {
  nala_err err;
  ck_assert_msg(nala_config_load(config, cfg, &err) == NALA_OK, "%s", err.msg);
  nala_weights *w = NULL;
  ck_assert_int_eq(nala_weights_seeded(0, &w, &err), NALA_OK);
  ck_assert_msg(nala_detector_create(*cfg, w, NULL, d, &err) == NALA_OK, "%s", err.msg);
  nala_weights_close(w);
  nala_det_ctx *ctx = NULL;
  ck_assert_int_eq(nala_det_ctx_create(*d, 2, &ctx, &err), NALA_OK);
  return ctx;
}
#endif

/* A detector (RetinaNet: backbone + FPN + head + the dense post-processing kernel) on tensors and on
 * frames (the test pipeline's resize and normalisation run inside forward too, in plan memory: OpenCV
 * is counted apart and must stay at 0 since the resize left cv::resize). */
START_TEST(detector_runs_without_allocating) {
#if !COUNTING
  printf("sanitizer build: allocation counting skipped\n");
#else
  nala_err err;
  nala_config *cfg = NULL;
  nala_detector *d = NULL;
  nala_det_ctx *ctx = seeded_detector(NALA_FIXTURES "/retina/retinanet_xt_c8.json", &cfg, &d);
  float *x = calloc(3 * 96 * 128, sizeof(float));
  for (int i = 0; i < 3 * 96 * 128; i++)
    x[i] = (float)((i * 7919) % 255) / 64.0f - 2.0f;
  nala_image img = {.h = 60, .w = 80, .c = 3, .stride = 240, .order = NALA_BGR};
  img.data = malloc(60 * 240);
  for (int i = 0; i < 60 * 240; i++)
    img.data[i] = (uint8_t)((i * 31) & 255);
  for (int kind = 0; kind < 2; kind++) {
    if (kind == 0)
      ck_assert_msg(nala_det_plan(ctx, NALA_DET_TENSOR, 96, 128, &err) == NALA_OK, "%s", err.msg);
    else
      ck_assert_msg(nala_det_plan(ctx, NALA_DET_FRAME, 60, 80, &err) == NALA_OK, "%s", err.msg);
    ck_assert_int_eq(kind ? nala_det_forward_frame(ctx, &img, &err) : nala_det_forward_tensor(ctx, x, &err), NALA_OK);
    long before = n_allocs_now(), cv[3];
    nala_status st[3];
    nala_alloc_count_start();
    for (int i = 0; i < 3; i++) {
      long cv0 = n_opencv_now();
      st[i] = kind ? nala_det_forward_frame(ctx, &img, &err) : nala_det_forward_tensor(ctx, x, &err);
      cv[i] = n_opencv_now() - cv0;
    }
    nala_alloc_count_stop();
    for (int i = 0; i < 3; i++)
      ck_assert_msg(st[i] == NALA_OK, "%s", err.msg);
    long ours = n_allocs_now() - before;
    printf("RetinaNet %s: 3 forwards after warm-up, %ld allocations outside oneDNN and OpenCV (OpenCV %ld, %ld, "
           "%ld), %d detections\n",
           kind ? "frame 60x80 (-> 800x1088)" : "tensor 96x128", ours, cv[0], cv[1], cv[2], nala_det_count(ctx));
    ck_assert_int_eq(ours, 0);
    ck_assert_int_eq(cv[0] + cv[1] + cv[2], 0);
  }
  free(img.data);
  free(x);
  nala_det_ctx_free(ctx);
  nala_detector_free(d);
  nala_config_free(cfg);
#endif
}
END_TEST

/* Mask R-CNN (RPN proposals, RoI heads on count-gated batches, mask head) on a tensor: the number of
 * proposals and detections changes nothing either. */
START_TEST(maskrcnn_runs_without_allocating) {
#if !COUNTING
  printf("sanitizer build: allocation counting skipped\n");
#else
  nala_err err;
  nala_config *cfg = NULL;
  nala_detector *d = NULL;
  nala_det_ctx *ctx = seeded_detector(NALA_FIXTURES "/maskrcnn/maskrcnn_xt_fixture.json", &cfg, &d);
  float *x[2] = {calloc(3 * 128 * 160, sizeof(float)), calloc(3 * 128 * 160, sizeof(float))};
  for (int i = 0; i < 3 * 128 * 160; i++) {
    x[0][i] = (float)((i * 7919) % 255) / 64.0f - 2.0f;
    x[1][i] = (float)(((long)i * 104729) % 251) / 50.0f - 2.5f;
  }
  ck_assert_msg(nala_det_plan(ctx, NALA_DET_TENSOR, 128, 160, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(nala_det_forward_tensor(ctx, x[0], &err), NALA_OK);
  long before = n_allocs_now();
  nala_status st[4];
  int n_dets[4];
  nala_alloc_count_start();
  for (int i = 0; i < 4; i++) {
    st[i] = nala_det_forward_tensor(ctx, x[i % 2], &err);
    n_dets[i] = nala_det_count(ctx);
  }
  nala_alloc_count_stop();
  for (int i = 0; i < 4; i++)
    ck_assert_msg(st[i] == NALA_OK, "%s", err.msg);
  long ours = n_allocs_now() - before;
  printf("Mask R-CNN tensor 128x160: 4 forwards after warm-up, %ld allocations outside oneDNN, %d / %d detections\n",
         ours, n_dets[0], n_dets[1]);
  ck_assert_int_eq(ours, 0);
  ck_assert_int_gt(n_dets[0], 0);
  free(x[0]), free(x[1]);
  nala_det_ctx_free(ctx);
  nala_detector_free(d);
  nala_config_free(cfg);
#endif
}
END_TEST

/* The same for a model root's graph: NaLaFormer-XT + FPN (with max-pool and conv extra levels). */
START_TEST(model_with_neck_runs_without_allocating) {
#if !COUNTING
  printf("sanitizer build: allocation counting skipped\n");
#else
  static const char *const model_json =
      "{\"type\": \"RetinaNet\", \"backbone\": {\"type\": \"NaLaFormer\", \"variant\": \"xt\"},"
      " \"neck\": {\"type\": \"FPN\", \"in_channels\": [32, 64, 128, 384], \"out_channels\": 16,"
      " \"start_level\": 1, \"add_extra_convs\": \"on_output\", \"relu_before_extra_convs\": true, \"num_outs\": 5}}";
  nala_err err;
  cJSON *section = cJSON_Parse(model_json);
  nala_weights *w = NULL;
  ck_assert_int_eq(nala_weights_seeded(0, &w, &err), NALA_OK);
  nala_model *m = NULL;
  ck_assert_msg(nala_model_create(section, w, NALA_ISA_AUTO, &m, &err) == NALA_OK, "%s", err.msg);
  nala_weights_close(w);
  nala_nn_ctx ctx;
  ck_assert_int_eq(nala_model_ctx_init(m, 2, &ctx, &err), NALA_OK);
  ck_assert_int_eq(nala_nn_ctx_plan(&ctx, 120, 152, &err), NALA_OK);
  float *x = nala_nn_ctx_at(&ctx, ctx.graph.input.off);
  for (int i = 0; i < 3 * 120 * 152; i++)
    x[i] = (float)((i * 7919) % 255) / 64.0f - 2.0f;
  ck_assert_int_eq(nala_nn_ctx_run(&ctx, &err), NALA_OK);
  long before = n_allocs_now();
  nala_status st[3];
  nala_alloc_count_start();
  for (int i = 0; i < 3; i++)
    st[i] = nala_nn_ctx_run(&ctx, &err);
  nala_alloc_count_stop();
  for (int i = 0; i < 3; i++)
    ck_assert_int_eq(st[i], NALA_OK);
  long ours = n_allocs_now() - before;
  printf("backbone + FPN: 3 runs after warm-up, %ld allocations outside oneDNN\n", ours);
  ck_assert_int_eq(ours, 0);
  nala_nn_ctx_release(&ctx);
  nala_model_free(m);
  cJSON_Delete(section);
#endif
}
END_TEST

/* The segmentor: a frame through the test pipeline (resize, then two logit resizes) and a tensor in
 * slide mode (windows, sums, counts): the segmentor allocates nothing per forward either, and neither
 * does nala_preprocess_into alone (its resize was cv::resize, 2 transient mallocs per call, until it
 * became datasets/image_resize.c). */
START_TEST(segmentor_forward_allocates_nothing) {
#if !COUNTING
  printf("sanitizer build: allocation counting skipped\n");
#else
  static const char *const configs[2] = {NALA_FIXTURES "/segmentor/fpn_xt_frame_down.json",
                                         NALA_FIXTURES "/segmentor/upernet_xt_slide.json"};
  for (int k = 0; k < 2; k++) {
    nala_err err;
    nala_config *cfg = NULL;
    nala_weights *w = NULL;
    nala_segmentor *m = NULL;
    nala_seg_ctx *ctx = NULL;
    ck_assert_msg(nala_config_load(configs[k], &cfg, &err) == NALA_OK, "%s", err.msg);
    ck_assert_int_eq(nala_weights_seeded(0, &w, &err), NALA_OK);
    ck_assert_msg(nala_segmentor_create(cfg, w, NULL, &m, &err) == NALA_OK, "%s", err.msg);
    nala_weights_close(w);
    ck_assert_int_eq(nala_seg_ctx_create(m, 2, &ctx, &err), NALA_OK);
    int h = 150, wd = 170;
    nala_seg_input kind = k == 0 ? NALA_SEG_FRAME : NALA_SEG_TENSOR;
    ck_assert_msg(nala_seg_plan(ctx, kind, h, wd, &err) == NALA_OK, "%s", err.msg);
    uint8_t *pixels = malloc((size_t)h * wd * 3);
    float *x = malloc((size_t)3 * h * wd * sizeof *x);
    uint8_t *labels = malloc((size_t)h * wd);
    for (int i = 0; i < 3 * h * wd; i++) {
      pixels[i] = (uint8_t)((i * 7919) % 251);
      x[i] = (float)((i * 7919) % 255) / 64.0f - 2.0f;
    }
    nala_image img = {.h = h, .w = wd, .c = 3, .stride = (size_t)wd * 3, .data = pixels, .order = NALA_BGR};
    /* what the preprocessing alone allocates per call, on the same frame (measured before the
     * segmentor runs, so OpenCV's per-thread buffers are in place before the heap is read) */
    long pre_per_call = 0;
    if (k == 0) {
      nala_preprocess_cfg pre;
      nala_preprocess_sizes sz;
      nala_preprocess_meta meta;
      ck_assert_int_eq(nala_preprocess_from_config(&nala_config_model(cfg)->preprocess, NALA_NHWC, &pre, &err),
                       NALA_OK);
      ck_assert_int_eq(nala_preprocess_out_size(&pre, h, wd, &sz, &err), NALA_OK);
      float *out = malloc(sz.out_floats * sizeof *out);
      uint8_t *scratch = malloc(sz.scratch_bytes + 1);
      ck_assert_int_eq(nala_preprocess_into(&pre, &img, out, sz.out_floats, scratch, sz.scratch_bytes, &meta, &err),
                       NALA_OK);
      long b0 = n_allocs_now();
      nala_alloc_count_start();
      nala_status pst = nala_preprocess_into(&pre, &img, out, sz.out_floats, scratch, sz.scratch_bytes, &meta, &err);
      nala_alloc_count_stop();
      ck_assert_int_eq(pst, NALA_OK);
      pre_per_call = n_allocs_now() - b0;
      free(out);
      free(scratch);
    }
    nala_status warm = k == 0 ? nala_seg_forward_frame(ctx, &img, &err) : nala_seg_forward_tensor(ctx, x, &err);
    ck_assert_msg(warm == NALA_OK, "%s", err.msg);
    /* a second warm-up forward with its label read: cv::resize keeps per-thread buffers it sets up
     * on its first calls (176 bytes seen after one warm-up); the steady state must not grow */
    warm = k == 0 ? nala_seg_forward_frame(ctx, &img, &err) : nala_seg_forward_tensor(ctx, x, &err);
    ck_assert_msg(warm == NALA_OK, "%s", err.msg);
    ck_assert_msg(nala_seg_read_labels(ctx, labels, (size_t)h * wd, &err) == NALA_OK, "%s", err.msg);
    size_t heap_before = mallinfo2().uordblks;
    long before = n_allocs_now();
    nala_status st[3];
    nala_alloc_count_start();
    for (int i = 0; i < 3; i++) {
      st[i] = k == 0 ? nala_seg_forward_frame(ctx, &img, &err) : nala_seg_forward_tensor(ctx, x, &err);
      if (!st[i])
        st[i] = nala_seg_read_labels(ctx, labels, (size_t)h * wd, &err);
    }
    nala_alloc_count_stop();
    for (int i = 0; i < 3; i++)
      ck_assert_msg(st[i] == NALA_OK, "%s", err.msg);
    long ours = n_allocs_now() - before - 3 * pre_per_call;
    size_t heap_after = mallinfo2().uordblks;
    printf("segmentor (%s): 3 forwards after warm-up, %ld allocations outside oneDNN beyond the %ld per call of "
           "nala_preprocess_into alone; heap in use %zu -> %zu bytes\n",
           k == 0 ? "frame, whole, resized" : "tensor, slide", ours, pre_per_call, heap_before, heap_after);
    ck_assert_int_eq(ours, 0);
    /* Frames and tensors: the heap is exactly flat. */
    ck_assert_int_eq(pre_per_call, 0);
    ck_assert_uint_eq(heap_after, heap_before);
    free(pixels);
    free(x);
    free(labels);
    nala_seg_ctx_free(ctx);
    nala_segmentor_free(m);
    nala_config_free(cfg);
  }
#endif
}
END_TEST

int main(void) {
  Suite *s = suite_create("backbone_alloc");
  TCase *tc = tcase_create("alloc");
  tcase_add_test(tc, forward_allocates_nothing);
  tcase_add_test(tc, detector_runs_without_allocating);
  tcase_add_test(tc, maskrcnn_runs_without_allocating);
  tcase_add_test(tc, model_with_neck_runs_without_allocating);
  tcase_add_test(tc, segmentor_forward_allocates_nothing);
  suite_add_tcase(s, tc);
  return nala_run_suite_nofork(s);
}
