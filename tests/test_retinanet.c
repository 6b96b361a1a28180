/* RetinaNet end to end (nala/detector.h) against the PyTorch restatement of mmdet 3.x
 * (tools/reference/mmdet_ref.py, fixtures by make_retina_fixtures.py): NaLaFormer-XT + FPN + RetinaHead
 * (8 classes) with seeded weights and tuned predictors, at 512x512 and 480x640.
 *   raw head outputs (cls_scores_i, bbox_preds_i): rel-L2 <= 1e-4
 *   detections as sets: same count, each torch detection matched by one of nala's with the same
 *   label and IoU > 0.99, boxes within 1e-3 px, scores within 1e-5 (480x640 also under a second
 *   test_cfg given by --cfg-options: the values come from the config)
 * plus: FRAME input (test pipeline + rescale) against the TENSOR path, two contexts in two threads
 * bit-identical, errors on bad configs / weights / calls, and `nala det --dump`. */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nala/detector.h"
#include "nala/safetensors.h"
#include "nala/seeded_init.h"
#include "tests/support/cli.h"
#include "tests/support/compare.h"
#include "tests/support/suite.h"
#include "tests/support/frames.h"

#define FIX NALA_FIXTURES "/retina/"
#define CONFIG FIX "retinanet_xt_c8.json"
#define MAX_DETS 320

static char weights_path[256];

/* The fixture's full checkpoint: seeded (seed 0) for every key listed in the weights fixture's
 * metadata, and the tuned predictors stored there, written once per process. */
static const char *weights_file(void) {
  if (weights_path[0])
    return weights_path;
  nala_err err;
  nala_st_file *f = NULL;
  ck_assert_msg(nala_st_open(FIX "retina_weights.safetensors", &f, &err) == NALA_OK, "%s", err.msg);
  cJSON *keys = cJSON_Parse(nala_st_metadata(f, "seeded_keys"));
  ck_assert_ptr_nonnull(keys);
  int n_keys = cJSON_GetArraySize(keys), n_tuned = (int)nala_st_count(f);
  nala_st_tensor *t = calloc((size_t)(n_keys + n_tuned), sizeof *t);
  float **bufs = calloc((size_t)n_keys, sizeof *bufs);
  int n = 0;
  for (cJSON *k = keys->child; k; k = k->next, n++) {
    t[n].name = k->string;
    t[n].dtype = NALA_DT_F32;
    t[n].ndim = cJSON_GetArraySize(k);
    size_t count = 1;
    for (int d = 0; d < t[n].ndim; d++)
      count *= (size_t)(t[n].shape[d] = (int64_t)cJSON_GetArrayItem(k, d)->valuedouble);
    bufs[n] = malloc(count * sizeof(float));
    ck_assert_msg(nala_seeded_fill(0, k->string, t[n].ndim, t[n].shape, bufs[n], &err) == NALA_OK, "%s", err.msg);
    t[n].data = bufs[n];
    t[n].nbytes = count * sizeof(float);
  }
  for (int i = 0; i < n_tuned; i++)
    t[n++] = *nala_st_at(f, (size_t)i);
  snprintf(weights_path, sizeof weights_path, "/tmp/nala_test_retina_%d.safetensors", (int)getpid());
  ck_assert_msg(nala_st_write(weights_path, t, (size_t)n, &err) == NALA_OK, "%s", err.msg);
  for (int i = 0; i < n_keys; i++)
    free(bufs[i]);
  free(bufs);
  free(t);
  cJSON_Delete(keys);
  nala_st_close(f);
  return weights_path;
}

static void remove_weights(void) {
  if (weights_path[0])
    unlink(weights_path);
}

/* 16 * seeded("input.bias", [1,3,h,w], seed): the fixture's input, regenerated. */
static float *make_input(int h, int w, uint64_t seed) {
  int64_t shape[4] = {1, 3, h, w};
  size_t n = (size_t)3 * h * w;
  float *x = malloc(n * sizeof *x);
  nala_err err;
  ck_assert_msg(nala_seeded_fill(seed, "input.bias", 4, shape, x, &err) == NALA_OK, "%s", err.msg);
  for (size_t i = 0; i < n; i++)
    x[i] *= 16.0f;
  return x;
}

static nala_detector *make_detector(const char *const *overrides, int n_overrides) {
  nala_err err;
  nala_config *cfg = NULL;
  nala_weights *w = NULL;
  nala_detector *d = NULL;
  ck_assert_msg(nala_config_load_with(CONFIG, overrides, n_overrides, &cfg, &err) == NALA_OK, "%s", err.msg);
  ck_assert_msg(nala_weights_open(weights_file(), &w, &err) == NALA_OK, "%s", err.msg);
  ck_assert_msg(nala_detector_create(cfg, w, NULL, &d, &err) == NALA_OK, "%s", err.msg);
  nala_weights_close(w);
  nala_config_free(cfg);
  return d;
}

static float iou(const float *a, const float *b) {
  float iw = fminf(a[2], b[2]) - fmaxf(a[0], b[0]), ih = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);
  if (iw <= 0 || ih <= 0)
    return 0;
  float inter = iw * ih, ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return inter / ua;
}

/* Detections as sets: every wanted one matched once by a got one with the same label, IoU > 0.99,
 * boxes within 1e-3 px and score within 1e-5. */
static void compare_dets(const char *label, const nala_detection *got, int n_got, const float *boxes,
                         const float *scores, const int64_t *labels, int n_want) {
  printf("%s: %d detections (torch %d)\n", label, n_got, n_want);
  ck_assert_int_eq(n_got, n_want);
  int used[MAX_DETS] = {0};
  double max_box = 0, max_score = 0, min_iou = 1;
  for (int i = 0; i < n_want; i++) {
    int best = -1;
    float best_iou = 0;
    for (int j = 0; j < n_got; j++) {
      if (used[j] || got[j].label != labels[i])
        continue;
      float gb[4] = {got[j].x1, got[j].y1, got[j].x2, got[j].y2};
      float v = iou(gb, boxes + 4 * i);
      if (v > best_iou)
        best_iou = v, best = j;
    }
    ck_assert_msg(best >= 0 && best_iou > 0.99f, "%s: torch detection %d (label %lld, score %.6f) has no match (best IoU %.4f)",
                  label, i, (long long)labels[i], scores[i], best_iou);
    used[best] = 1;
    const float gb[4] = {got[best].x1, got[best].y1, got[best].x2, got[best].y2};
    for (int k = 0; k < 4; k++)
      max_box = fmax(max_box, fabs(gb[k] - boxes[4 * i + k]));
    max_score = fmax(max_score, fabs(got[best].score - scores[i]));
    min_iou = fmin(min_iou, best_iou);
  }
  printf("%s: boxes max_abs=%.3g px, scores max_abs=%.3g, min IoU %.6f\n", label, max_box, max_score, min_iou);
  ck_assert_msg(max_box <= 1e-3, "%s: box error %.3g px", label, max_box);
  ck_assert_msg(max_score <= 1e-5, "%s: score error %.3g", label, max_score);
}

static const void *fixture_tensor(nala_st_file *f, const char *name, nala_dtype dt, size_t *n) {
  const nala_st_tensor *t = nala_st_find(f, name);
  ck_assert_msg(t && t->dtype == dt, "%s: no %s tensor %s", nala_st_path(f), nala_dtype_name(dt), name);
  *n = nala_st_numel(t);
  return t->data;
}

/* Compares one raw map (NHWC in the context) with the fixture's NCHW tensor. */
static void compare_raw(nala_st_file *f, const nala_det_raw *r) {
  size_t n;
  const float *want = fixture_tensor(f, r->name, NALA_DT_F32, &n);
  const nala_st_tensor *t = nala_st_find(f, r->name);
  ck_assert_int_eq(t->ndim, 4);
  for (int k = 0; k < 4; k++)
    ck_assert_int_eq(t->shape[k], r->shape[k]);
  size_t c = (size_t)r->shape[1], hw = (size_t)r->shape[2] * (size_t)r->shape[3];
  float *got = malloc(n * sizeof *got);
  const float *src = r->data;
  for (size_t p = 0; p < hw; p++)
    for (size_t ch = 0; ch < c; ch++)
      got[ch * hw + p] = src[p * (size_t)r->ld + ch];
  nala_cmp cmp = nala_compare_f32(r->name, got, want, n, 1e-3, 1e-3);
  free(got);
  ck_assert_msg(cmp.rel_l2 <= 1e-4 && cmp.n_nonfinite == 0, "%s: rel_l2 %.3g", r->name, cmp.rel_l2);
}

static void read_all(nala_det_ctx *ctx, nala_detection *dets, int *n) {
  nala_err err;
  ck_assert_msg(nala_det_read(ctx, dets, MAX_DETS, n, &err) == NALA_OK, "%s", err.msg);
}

static void run_case(int h, int w) {
  char path[256];
  snprintf(path, sizeof path, FIX "retina_%dx%d.safetensors", h, w);
  nala_err err;
  nala_st_file *f = NULL;
  ck_assert_msg(nala_st_open(path, &f, &err) == NALA_OK, "%s", err.msg);
  int seed = atoi(nala_st_metadata(f, "input_seed"));
  float *x = make_input(h, w, (uint64_t)seed);
  nala_detector *d = make_detector(NULL, 0);
  ck_assert_int_eq(nala_detector_num_classes(d), 8);
  ck_assert_int_eq(nala_detector_has_masks(d), 0);
  nala_det_ctx *ctx = NULL;
  ck_assert_msg(nala_det_ctx_create(d, 2, &ctx, &err) == NALA_OK, "%s", err.msg);
  ck_assert_msg(nala_det_plan(ctx, NALA_DET_TENSOR, h, w, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(nala_det_count(ctx), 0);
  ck_assert_msg(nala_det_forward_tensor(ctx, x, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(nala_det_raw_count(ctx), 10);
  for (int i = 0; i < 10; i++) {
    nala_det_raw r;
    ck_assert_msg(nala_det_raw_at(ctx, i, &r, &err) == NALA_OK, "%s", err.msg);
    compare_raw(f, &r);
  }
  nala_detection dets[MAX_DETS];
  int n = 0;
  read_all(ctx, dets, &n);
  size_t nb, ns, nl;
  const float *boxes = fixture_tensor(f, "det_bboxes", NALA_DT_F32, &nb);
  const float *scores = fixture_tensor(f, "det_scores", NALA_DT_F32, &ns);
  const unsigned char *lab = fixture_tensor(f, "det_labels", NALA_DT_I64, &nl);
  int64_t labels[MAX_DETS];
  ck_assert(nl <= MAX_DETS && nb == 4 * nl && ns == nl);
  memcpy(labels, lab, nl * sizeof *labels); /* I64 may sit at a 4-byte offset */
  ck_assert_int_gt((int)nl, 10);
  for (int i = 1; i < n; i++)
    ck_assert(dets[i - 1].score >= dets[i].score);
  compare_dets(path, dets, n, boxes, scores, labels, (int)nl);
  /* read with a smaller maximum: the first ones */
  nala_detection few[3];
  int k = 0;
  ck_assert(nala_det_read(ctx, few, 3, &k, &err) == NALA_OK && k == 3);
  ck_assert(!memcmp(few, dets, sizeof few));
  nala_det_ctx_free(ctx);
  nala_detector_free(d);
  /* the same outputs under another test_cfg (nms_pre, score_thr, IoU, max_per_img all changed) */
  const char *alt = nala_st_metadata(f, "alt_test_cfg");
  if (alt) {
    char override[512];
    snprintf(override, sizeof override, "model.test_cfg=%s", alt);
    const char *ov[] = {override};
    printf("%s\n", override);
    d = make_detector(ov, 1);
    ck_assert(nala_det_ctx_create(d, 2, &ctx, &err) == NALA_OK);
    ck_assert(nala_det_plan(ctx, NALA_DET_TENSOR, h, w, &err) == NALA_OK);
    ck_assert_msg(nala_det_forward_tensor(ctx, x, &err) == NALA_OK, "%s", err.msg);
    read_all(ctx, dets, &n);
    boxes = fixture_tensor(f, "alt_det_bboxes", NALA_DT_F32, &nb);
    scores = fixture_tensor(f, "alt_det_scores", NALA_DT_F32, &ns);
    lab = fixture_tensor(f, "alt_det_labels", NALA_DT_I64, &nl);
    ck_assert(nl <= MAX_DETS && nb == 4 * nl && ns == nl);
    memcpy(labels, lab, nl * sizeof *labels);
    compare_dets("alt test_cfg", dets, n, boxes, scores, labels, (int)nl);
    nala_det_ctx_free(ctx);
    nala_detector_free(d);
  }
  nala_st_close(f);
  free(x);
}

START_TEST(test_512x512) { run_case(512, 512); }
END_TEST

START_TEST(test_480x640) { run_case(480, 640); }
END_TEST

/* FRAME input: with the test pipeline's Resize at (512, 256) keep-ratio (smaller than COCO's
 * (1333, 800) to keep the test fast), a 128x256 image resizes by exactly 2 to 256x512, multiples
 * of 32, so the TENSOR path on the same preprocessed tensor clips to the same img_shape; FRAME boxes
 * are those times float(1 / 2) (exact), NMS decisions the same. */
static const char *const small_pipeline[] = {
    "test_pipeline=[{\"type\": \"LoadImageFromFile\"}, {\"type\": \"Resize\", \"scale\": [512, 256], "
    "\"keep_ratio\": true}, {\"type\": \"PackDetInputs\"}]"};

START_TEST(test_frame_vs_tensor) {
  nala_err err;
  const int H = 128, W = 256;
  nala_image img = nala_test_pattern_frame(H, W);
  nala_detector *d = make_detector(small_pipeline, 1);
  nala_det_ctx *ctx = NULL;
  ck_assert(nala_det_ctx_create(d, 2, &ctx, &err) == NALA_OK);
  ck_assert_msg(nala_det_plan(ctx, NALA_DET_FRAME, H, W, &err) == NALA_OK, "%s", err.msg);
  nala_preprocess_meta meta;
  ck_assert(nala_det_plan_meta(ctx, &meta, &err) == NALA_OK);
  ck_assert(meta.img_h == 256 && meta.img_w == 512 && meta.pad_h == 256 && meta.pad_w == 512);
  ck_assert_msg(nala_det_forward_frame(ctx, &img, &err) == NALA_OK, "%s", err.msg);
  nala_detection fr[MAX_DETS], tn[MAX_DETS];
  int n_fr = 0, n_tn = 0;
  read_all(ctx, fr, &n_fr);
  /* the same tensor through nala_preprocess (NCHW), then the TENSOR plan */
  nala_config *cfg = NULL;
  ck_assert(nala_config_load_with(CONFIG, small_pipeline, 1, &cfg, &err) == NALA_OK);
  nala_preprocess_cfg pp;
  ck_assert(nala_preprocess_from_config(&nala_config_model(cfg)->preprocess, NALA_NCHW, &pp, &err) == NALA_OK);
  nala_preprocessed t;
  ck_assert_msg(nala_preprocess(&pp, &img, &t, &err) == NALA_OK, "%s", err.msg);
  ck_assert(nala_det_plan(ctx, NALA_DET_TENSOR, t.h, t.w, &err) == NALA_OK);
  ck_assert_msg(nala_det_forward_tensor(ctx, t.data, &err) == NALA_OK, "%s", err.msg);
  read_all(ctx, tn, &n_tn);
  printf("frame 128x256: %d detections, tensor 256x512: %d\n", n_fr, n_tn);
  ck_assert_int_eq(n_fr, n_tn);
  ck_assert_int_gt(n_fr, 0);
  for (int i = 0; i < n_fr; i++) {
    ck_assert_int_eq(fr[i].label, tn[i].label);
    ck_assert(fr[i].score == tn[i].score);
    ck_assert(fr[i].x1 == tn[i].x1 * 0.5f && fr[i].y1 == tn[i].y1 * 0.5f && fr[i].x2 == tn[i].x2 * 0.5f &&
              fr[i].y2 == tn[i].y2 * 0.5f);
  }
  /* a frame of another size is refused, and a plan for frames refuses tensors */
  ck_assert(nala_det_plan(ctx, NALA_DET_FRAME, H, W, &err) == NALA_OK);
  nala_image small = img;
  small.h = 50;
  ck_assert_int_eq(nala_det_forward_frame(ctx, &small, &err), NALA_E_SHAPE);
  ck_assert_int_eq(nala_det_forward_tensor(ctx, t.data, &err), NALA_E_STATE);
  printf("expected: %s\n", err.msg);
  nala_preprocessed_free(&t);
  nala_config_free(cfg);
  nala_det_ctx_free(ctx);
  nala_detector_free(d);
  free(img.data);
}
END_TEST

typedef struct thread_job {
  const nala_detector *d;
  const float *x;
  nala_detection dets[MAX_DETS];
  int n;
  float *cls0;
  size_t cls0_n;
  nala_status st;
} thread_job;

static void *thread_run(void *arg) {
  thread_job *j = arg;
  nala_err err;
  nala_det_ctx *ctx = NULL;
  j->st = nala_det_ctx_create(j->d, 1, &ctx, &err);
  if (!j->st)
    j->st = nala_det_plan(ctx, NALA_DET_TENSOR, 256, 320, &err);
  for (int rep = 0; rep < 2 && !j->st; rep++)
    j->st = nala_det_forward_tensor(ctx, j->x, &err);
  if (!j->st)
    j->st = nala_det_read(ctx, j->dets, MAX_DETS, &j->n, &err);
  nala_det_raw r;
  if (!j->st && !(j->st = nala_det_raw_at(ctx, 0, &r, &err))) {
    j->cls0_n = (size_t)r.shape[1] * r.shape[2] * r.shape[3];
    j->cls0 = malloc(j->cls0_n * sizeof(float));
    memcpy(j->cls0, r.data, j->cls0_n * sizeof(float));
  }
  nala_det_ctx_free(ctx);
  return NULL;
}

START_TEST(test_two_threads_bit_identical) {
  nala_detector *d = make_detector(NULL, 0);
  float *x = make_input(256, 320, 6);
  thread_job *jobs = calloc(2, sizeof *jobs);
  pthread_t th[2];
  for (int i = 0; i < 2; i++) {
    jobs[i].d = d, jobs[i].x = x;
    ck_assert_int_eq(pthread_create(&th[i], NULL, thread_run, &jobs[i]), 0);
  }
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  ck_assert(jobs[0].st == NALA_OK && jobs[1].st == NALA_OK);
  printf("two threads: %d and %d detections\n", jobs[0].n, jobs[1].n);
  ck_assert_int_gt(jobs[0].n, 0);
  ck_assert_int_eq(jobs[0].n, jobs[1].n);
  ck_assert(!memcmp(jobs[0].dets, jobs[1].dets, (size_t)jobs[0].n * sizeof(nala_detection)));
  ck_assert(jobs[0].cls0_n == jobs[1].cls0_n && !memcmp(jobs[0].cls0, jobs[1].cls0, jobs[0].cls0_n * sizeof(float)));
  for (int i = 0; i < 2; i++)
    free(jobs[i].cls0);
  free(jobs);
  free(x);
  nala_detector_free(d);
}
END_TEST

/* Creating from a config with overrides; returns the status and leaves the message in err. */
static nala_status try_create(const char *const *ov, int n_ov, const char *weights, nala_err *err) {
  nala_config *cfg = NULL;
  nala_weights *w = NULL;
  nala_detector *d = NULL;
  nala_status st = nala_config_load_with(CONFIG, ov, n_ov, &cfg, err);
  if (!st)
    st = weights ? nala_weights_open(weights, &w, err) : nala_weights_seeded(0, &w, err);
  if (!st)
    st = nala_detector_create(cfg, w, NULL, &d, err);
  nala_detector_free(d);
  nala_weights_close(w);
  nala_config_free(cfg);
  return st;
}

static void expect_error(const char *const *ov, int n_ov, const char *weights, nala_status want, const char *needle) {
  nala_err err;
  nala_err_clear(&err);
  nala_status st = try_create(ov, n_ov, weights, &err);
  printf("expected error: %s\n", err.msg);
  ck_assert_msg(st == want, "status %d (want %d): %s", (int)st, (int)want, err.msg);
  ck_assert_msg(strstr(err.msg, needle), "message lacks '%s': %s", needle, err.msg);
}

START_TEST(test_errors) {
  const char *w = weights_file();
  /* test_cfg keys RetinaNet needs, and bad values the schema refuses */
  const char *no_nms[] = {"model.test_cfg={\"_delete_\": true, \"nms_pre\": 1000, \"max_per_img\": 100}"};
  expect_error(no_nms, 1, w, NALA_E_FORMAT, "model.test_cfg.nms");
  const char *bad_iou[] = {"model.test_cfg.nms.iou_threshold=1.5"};
  expect_error(bad_iou, 1, w, NALA_E_FORMAT, "iou_threshold");
  const char *soft[] = {"model.test_cfg.nms.type=soft_nms"};
  expect_error(soft, 1, w, NALA_E_FORMAT, "model.test_cfg.nms.type");
  const char *nms_pre0[] = {"model.test_cfg.nms_pre=0"};
  expect_error(nms_pre0, 1, w, NALA_E_FORMAT, "nms_pre");
  /* head section */
  const char *typo[] = {"model.bbox_head.num_clases=8"};
  expect_error(typo, 1, w, NALA_E_FORMAT, "num_clases");
  const char *softmax[] = {"model.bbox_head.loss_cls.use_sigmoid=false"};
  expect_error(softmax, 1, w, NALA_E_UNSUPPORTED, "use_sigmoid");
  const char *no_anchor[] = {"model.bbox_head.anchor_generator={\"_delete_\": true, \"type\": \"AnchorGenerator\", "
                             "\"ratios\": [1.0], \"strides\": [8, 16, 32, 64, 128]}"};
  expect_error(no_anchor, 1, w, NALA_E_FORMAT, "octave_base_scale");
  const char *bad_head[] = {"model.bbox_head.type=FCOSHead"};
  expect_error(bad_head, 1, w, NALA_E_FORMAT, "model.bbox_head");
  /* weights: wrong class count -> shape error naming the key; a missing key is named */
  const char *nine[] = {"model.bbox_head.num_classes=9"};
  expect_error(nine, 1, w, NALA_E_SHAPE, "bbox_head.retina_cls.weight");
  expect_error(NULL, 0, FIX "retina_weights.safetensors", NALA_E_FORMAT, "missing: backbone.patch_embed.proj.0.weight");
  /* not a detector */
  const char *seg[] = {"model.type=EncoderDecoder"};
  expect_error(seg, 1, w, NALA_E_UNSUPPORTED, "EncoderDecoder");
  /* a level count the head does not expect fails at plan */
  const char *four[] = {"model.bbox_head.anchor_generator.strides=[8, 16, 32, 64]"};
  nala_err err;
  nala_config *cfg = NULL;
  nala_weights *wt = NULL;
  nala_detector *d = NULL;
  nala_det_ctx *ctx = NULL;
  ck_assert(nala_config_load_with(CONFIG, four, 1, &cfg, &err) == NALA_OK);
  ck_assert(nala_weights_open(w, &wt, &err) == NALA_OK);
  ck_assert_msg(nala_detector_create(cfg, wt, NULL, &d, &err) == NALA_OK, "%s", err.msg);
  ck_assert(nala_det_ctx_create(d, 1, &ctx, &err) == NALA_OK);
  ck_assert_int_eq(nala_det_plan(ctx, NALA_DET_TENSOR, 64, 64, &err), NALA_E_ARG);
  printf("expected: %s\n", err.msg);
  ck_assert(strstr(err.msg, "strides"));
  nala_det_ctx_free(ctx);
  nala_detector_free(d);
  nala_weights_close(wt);
  nala_config_free(cfg);
}
END_TEST

START_TEST(test_call_order) {
  nala_err err;
  nala_detector *d = make_detector(NULL, 0);
  nala_det_ctx *ctx = NULL;
  ck_assert(nala_det_ctx_create(d, 1, &ctx, &err) == NALA_OK);
  float x[3 * 64 * 64] = {0};
  nala_detection det[4];
  int n = -1;
  ck_assert_int_eq(nala_det_forward_tensor(ctx, x, &err), NALA_E_STATE);
  ck_assert_int_eq(nala_det_read(ctx, det, 4, &n, &err), NALA_E_STATE);
  ck_assert_int_eq(nala_det_plan(ctx, NALA_DET_TENSOR, 0, 64, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_det_plan(ctx, (nala_det_input)7, 64, 64, &err), NALA_E_ARG);
  size_t bytes = 0, bytes_frame = 0;
  ck_assert(nala_det_workspace_size(ctx, NALA_DET_TENSOR, 64, 64, &bytes, &err) == NALA_OK);
  ck_assert(nala_det_plan(ctx, NALA_DET_TENSOR, 64, 64, &err) == NALA_OK);
  /* a FRAME query of the same size does not answer with the TENSOR plan (it resizes to 800x800) */
  ck_assert(nala_det_workspace_size(ctx, NALA_DET_FRAME, 64, 64, &bytes_frame, &err) == NALA_OK);
  ck_assert(bytes_frame > bytes);
  ck_assert_int_eq(nala_det_count(ctx), 0);
  ck_assert(nala_det_forward_tensor(ctx, x, &err) == NALA_OK);
  ck_assert(nala_det_read(ctx, det, 4, &n, &err) == NALA_OK && n >= 0);
  ck_assert_int_eq(nala_det_read(ctx, det, -1, &n, &err), NALA_E_ARG);
  uint8_t bm[16];
  ck_assert_int_eq(nala_det_read_mask(ctx, 0, bm, sizeof bm, &err), NALA_E_UNSUPPORTED);
  /* a caller workspace that is too small is refused with both sizes named */
  void *small = aligned_alloc(64, 4096);
  ck_assert(nala_det_set_workspace(ctx, small, 4096, &err) != NALA_OK);
  printf("expected: %s\n", err.msg);
  free(small);
  /* profiling stages */
  nala_det_ctx_set_profiling(ctx, 1);
  ck_assert(nala_det_forward_tensor(ctx, x, &err) == NALA_OK);
  const char *names[8];
  double ms[8];
  int k = nala_det_profile(ctx, names, ms, 8);
  ck_assert_int_ge(k, 4);
  for (int i = 0; i < k; i++)
    printf("  %-12s %.2f ms\n", names[i], ms[i]);
  ck_assert_str_eq(names[0], "preprocess");
  ck_assert_str_eq(names[k - 1], "postprocess");
  nala_det_ctx_free(ctx);
  nala_detector_free(d);
}
END_TEST

START_TEST(test_cli_dump) {
  char in[256], out[256], args[1024];
  snprintf(in, sizeof in, "/tmp/nala_test_retina_in_%d.safetensors", (int)getpid());
  snprintf(out, sizeof out, "/tmp/nala_test_retina_out_%d.safetensors", (int)getpid());
  nala_err err;
  nala_st_file *f = NULL;
  ck_assert(nala_st_open(FIX "retina_512x512.safetensors", &f, &err) == NALA_OK);
  float *x = make_input(512, 512, (uint64_t)atoi(nala_st_metadata(f, "input_seed")));
  nala_st_tensor t = {.name = "input", .dtype = NALA_DT_F32, .ndim = 4, .shape = {1, 3, 512, 512}, .data = x,
                      .nbytes = (size_t)3 * 512 * 512 * 4};
  ck_assert(nala_st_write(in, &t, 1, &err) == NALA_OK);
  free(x);
  snprintf(args, sizeof args, "det --config %s --weights %s --input %s --dump %s --threads 2", CONFIG,
           weights_file(), in, out);
  char *so = NULL, *se = NULL;
  int rc = nala_run_cli(args, &so, &se);
  printf("%s%s", so ? so : "", se ? se : "");
  ck_assert_int_eq(rc, 0);
  free(so), free(se);
  nala_st_file *d = NULL;
  ck_assert(nala_st_open(out, &d, &err) == NALA_OK);
  for (int i = 0; i < 5; i++) {
    char name[32];
    snprintf(name, sizeof name, "cls_scores_%d", i);
    size_t n1, n2;
    const float *a = fixture_tensor(d, name, NALA_DT_F32, &n1), *b = fixture_tensor(f, name, NALA_DT_F32, &n2);
    ck_assert_int_eq(n1, n2);
    ck_assert(nala_compare_f32(name, a, b, n1, 1e-3, 1e-3).rel_l2 <= 1e-4);
    snprintf(name, sizeof name, "bbox_preds_%d", i);
    a = fixture_tensor(d, name, NALA_DT_F32, &n1), b = fixture_tensor(f, name, NALA_DT_F32, &n2);
    ck_assert_int_eq(n1, n2);
    ck_assert(nala_compare_f32(name, a, b, n1, 1e-3, 1e-3).rel_l2 <= 1e-4);
  }
  size_t nb, ns, nl, wb, ws, wl;
  const float *boxes = fixture_tensor(d, "det_bboxes", NALA_DT_F32, &nb);
  const float *scores = fixture_tensor(d, "det_scores", NALA_DT_F32, &ns);
  const int32_t *labels = fixture_tensor(d, "det_labels", NALA_DT_I32, &nl);
  ck_assert(nb == 4 * nl && ns == nl && nl <= MAX_DETS);
  nala_detection got[MAX_DETS];
  for (size_t i = 0; i < nl; i++)
    got[i] = (nala_detection){boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3], scores[i], labels[i]};
  const float *wboxes = fixture_tensor(f, "det_bboxes", NALA_DT_F32, &wb);
  const float *wscores = fixture_tensor(f, "det_scores", NALA_DT_F32, &ws);
  const unsigned char *wlab = fixture_tensor(f, "det_labels", NALA_DT_I64, &wl);
  int64_t wlabels[MAX_DETS];
  memcpy(wlabels, wlab, wl * sizeof *wlabels);
  compare_dets("nala det --dump", got, (int)nl, wboxes, wscores, wlabels, (int)wl);
  nala_st_close(d);
  /* usage and data errors: exit 2 without --config, 1 on a tensor of the wrong shape */
  snprintf(args, sizeof args, "det --input %s --dump %s", in, out);
  ck_assert_int_eq(nala_run_cli(args, NULL, NULL), 2);
  snprintf(args, sizeof args, "det --config %s --input %s --dump %s --score-thr 2", CONFIG, in, out);
  ck_assert_int_eq(nala_run_cli(args, NULL, NULL), 2);
  snprintf(args, sizeof args, "det --config %s --weights %s --input %s --dump %s", CONFIG, weights_file(),
           FIX "retina_weights.safetensors", out);
  se = NULL;
  ck_assert_int_eq(nala_run_cli(args, NULL, &se), 1);
  ck_assert(se && strstr(se, "'input'"));
  free(se);
  nala_st_close(f);
  unlink(in);
  unlink(out);
}
END_TEST

/* The shipped config (NaLaFormer-T, 80 classes, COCO pipeline) builds on seeded weights and runs:
 * head shapes per level, and the workspace a 640x480 frame plan needs (1067x800, padded 1088x800). */
START_TEST(test_shipped_config) {
  nala_err err;
  nala_config *cfg = NULL;
  ck_assert_msg(nala_config_load(NALA_SOURCE_DIR "/configs/retinanet_nalaformer-t_fpn_1x_coco.json", &cfg, &err) ==
                    NALA_OK,
                "%s", err.msg);
  nala_weights *w = NULL;
  ck_assert(nala_weights_seeded(0, &w, &err) == NALA_OK);
  nala_detector *d = NULL;
  ck_assert_msg(nala_detector_create(cfg, w, NULL, &d, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(nala_detector_num_classes(d), 80);
  nala_det_ctx *ctx = NULL;
  ck_assert(nala_det_ctx_create(d, 2, &ctx, &err) == NALA_OK);
  size_t bytes = 0;
  ck_assert_msg(nala_det_workspace_size(ctx, NALA_DET_FRAME, 480, 640, &bytes, &err) == NALA_OK, "%s", err.msg);
  printf("RetinaNet-T, 640x480 frame (-> 1088x800): workspace %.1f MB\n", bytes / 1048576.0);
  ck_assert(nala_det_plan(ctx, NALA_DET_TENSOR, 64, 96, &err) == NALA_OK);
  float *x = make_input(64, 96, 3);
  ck_assert_msg(nala_det_forward_tensor(ctx, x, &err) == NALA_OK, "%s", err.msg);
  static const int hs[5] = {8, 4, 2, 1, 1}, ws[5] = {12, 6, 3, 2, 1};
  for (int i = 0; i < 10; i++) {
    nala_det_raw r;
    ck_assert(nala_det_raw_at(ctx, i, &r, &err) == NALA_OK);
    ck_assert_int_eq(r.shape[1], i < 5 ? 720 : 36);
    ck_assert_int_eq(r.shape[2], hs[i % 5]);
    ck_assert_int_eq(r.shape[3], ws[i % 5]);
  }
  int n = nala_det_count(ctx);
  printf("seeded RetinaNet-T at 64x96: %d detections\n", n);
  ck_assert(n >= 0 && n <= 100);
  free(x);
  nala_det_ctx_free(ctx);
  nala_detector_free(d);
  nala_weights_close(w);
  nala_config_free(cfg);
}
END_TEST

int main(void) {
  Suite *s = suite_create("retinanet");
  TCase *tc = tcase_create("retinanet");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_512x512);
  tcase_add_test(tc, test_480x640);
  tcase_add_test(tc, test_frame_vs_tensor);
  tcase_add_test(tc, test_two_threads_bit_identical);
  tcase_add_test(tc, test_errors);
  tcase_add_test(tc, test_call_order);
  tcase_add_test(tc, test_cli_dump);
  tcase_add_test(tc, test_shipped_config);
  suite_add_tcase(s, tc);
  atexit(remove_weights);
  return nala_run_suite(s);
}
