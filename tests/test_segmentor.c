/* The segmentor end to end (include/nala/segmentor.h) against mmseg_ref.py in float64
 * (tools/reference/make_segmentor_fixtures.py): UperNet and Semantic FPN on NaLaFormer-XT, whole mode at
 * 512x512 and 500x375, slide mode with overlapping and clamped windows, frames through the config's
 * test pipeline (resize up with padding, resize down); two threads, caller workspace, bad arguments. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/config.h"
#include "nala/image_io.h"
#include "nala/safetensors.h"
#include "nala/segmentor.h"
#include "nala/weights.h"
#include "seg/seg_internal.h"
#include "tests/support/compare.h"
#include "tests/support/suite.h"

#define FIX NALA_FIXTURES "/segmentor/"

static nala_segmentor *load(const char *config) {
  nala_err err;
  nala_err_clear(&err);
  nala_config *cfg = NULL;
  nala_weights *w = NULL;
  nala_segmentor *m = NULL;
  char path[1024];
  snprintf(path, sizeof path, FIX "%s", config);
  ck_assert_msg(nala_config_load(path, &cfg, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(nala_weights_seeded(0, &w, &err), NALA_OK);
  ck_assert_msg(nala_segmentor_create(cfg, w, NULL, &m, &err) == NALA_OK, "%s", err.msg);
  nala_weights_close(w);
  nala_config_free(cfg);
  return m;
}

/* The fixtures' formula input: float32((i * 7919) % 1000) / 500 - 1 over the flat NCHW index. */
static float *formula_input(int h, int w) {
  size_t n = (size_t)3 * h * w;
  float *x = malloc(n * sizeof *x);
  ck_assert_ptr_nonnull(x);
  for (size_t i = 0; i < n; i++)
    x[i] = (float)((i * 7919u) % 1000u) / 500.0f - 1.0f;
  return x;
}

/* decode_logits rel-L2 <= 1e-4; labels identical outside the fixture's low-margin pixels. */
static void check_against(const char *name, nala_seg_ctx *ctx, int h, int w) {
  char path[1024];
  snprintf(path, sizeof path, FIX "%s.safetensors", name);
  nala_err err;
  nala_st_file *f = NULL;
  ck_assert_msg(nala_st_open(path, &f, &err) == NALA_OK, "%s", err.msg);
  const nala_st_tensor *wl = nala_st_find(f, "decode_logits"), *wp = nala_st_find(f, "seg_pred"),
                       *wm = nala_st_find(f, "low_margin");
  ck_assert(wl && wp && wm);
  int c, lh, lw;
  ck_assert_int_eq(nala_seg_logits_shape(ctx, &c, &lh, &lw, &err), NALA_OK);
  long long gs[4] = {1, c, lh, lw}, ws[4];
  for (int i = 0; i < 4; i++)
    ws[i] = wl->shape[i];
  ck_assert(nala_compare_shape(name, gs, 4, ws, wl->ndim));
  size_t nl = (size_t)c * lh * lw, np = (size_t)h * w;
  ck_assert_uint_eq(wp->shape[0] * wp->shape[1], np);
  float *logits = malloc(nl * sizeof *logits);
  int32_t *labels = malloc(np * sizeof *labels);
  ck_assert(logits && labels);
  ck_assert_msg(nala_seg_read_logits(ctx, logits, nl, &err) == NALA_OK, "%s", err.msg);
  ck_assert_msg(nala_seg_read_labels_i32(ctx, labels, np, &err) == NALA_OK, "%s", err.msg);
  nala_cmp r = nala_compare_f32(name, logits, wl->data, nl, 1e-3, 1e-3);
  const uint8_t *want = wp->data, *low = wm->data;
  size_t differ = 0, differ_low = 0, n_low = 0;
  for (size_t i = 0; i < np; i++) {
    n_low += low[i];
    if (labels[i] != want[i]) {
      differ++;
      differ_low += low[i];
    }
  }
  printf("%s: decode_logits max_abs=%.3g rel_l2=%.3g; seg_pred %zu of %zu pixels differ (%zu of them among the %zu "
         "with top-1/top-2 margin < 1e-4)\n",
         name, r.max_abs, r.rel_l2, differ, np, differ_low, n_low);
  ck_assert_msg(r.rel_l2 <= 1e-4, "%s: decode_logits rel_l2 %g > 1e-4", name, r.rel_l2);
  ck_assert_msg(differ == differ_low, "%s: %zu labels differ where the margin is >= 1e-4", name, differ - differ_low);
  free(logits);
  free(labels);
  nala_st_close(f);
}

static const struct {
  const char *name, *config;
  int h, w;
} tensor_cases[] = {
    {"upernet_512x512", "upernet_xt.json", 512, 512},
    {"upernet_500x375", "upernet_xt.json", 500, 375},
    {"fpn_512x512", "fpn_xt.json", 512, 512},
    {"fpn_500x375", "fpn_xt.json", 500, 375},
    {"upernet_slide_200x296", "upernet_xt_slide.json", 200, 296},
};

START_TEST(tensor_matches_mmseg) {
  const char *name = tensor_cases[_i].name;
  int h = tensor_cases[_i].h, w = tensor_cases[_i].w;
  nala_segmentor *m = load(tensor_cases[_i].config);
  ck_assert_int_eq(nala_segmentor_num_classes(m), 19);
  nala_err err;
  nala_seg_ctx *ctx = NULL;
  ck_assert_int_eq(nala_seg_ctx_create(m, 2, &ctx, &err), NALA_OK);
  ck_assert_msg(nala_seg_plan(ctx, NALA_SEG_TENSOR, h, w, &err) == NALA_OK, "%s", err.msg);
  float *x = formula_input(h, w);
  ck_assert_msg(nala_seg_forward_tensor(ctx, x, &err) == NALA_OK, "%s", err.msg);
  check_against(name, ctx, h, w);
  free(x);
  nala_seg_ctx_free(ctx);
  nala_segmentor_free(m);
}
END_TEST

static const struct {
  const char *name, *config, *image;
} frame_cases[] = {
    {"upernet_frame_up_37x53", "upernet_xt_frame_up.json", "color_37x53.png"},
    {"fpn_frame_down_480x640", "fpn_xt_frame_down.json", "color_480x640.jpg"},
    {"upernet_frame_slide_37x53", "upernet_xt_frame_slide.json", "color_37x53.png"}, /* windows on the padded */
};

/* A borrowed BGR frame with padded rows (stride > 3w): the preprocessing reads it in place. */
START_TEST(frame_matches_mmseg) {
  nala_segmentor *m = load(frame_cases[_i].config);
  nala_err err;
  char path[1024];
  snprintf(path, sizeof path, NALA_FIXTURES "/images/%s", frame_cases[_i].image);
  nala_image img;
  ck_assert_msg(nala_image_read(path, NALA_BGR, 0, &img, &err) == NALA_OK, "%s", err.msg);
  size_t stride = (size_t)img.w * 3 + 13;
  uint8_t *rows = malloc(stride * img.h);
  ck_assert_ptr_nonnull(rows);
  for (int y = 0; y < img.h; y++)
    memcpy(rows + y * stride, img.data + y * img.stride, (size_t)img.w * 3);
  nala_image frame = {.h = img.h, .w = img.w, .c = 3, .stride = stride, .data = rows, .order = NALA_BGR};
  nala_seg_ctx *ctx = NULL;
  ck_assert_int_eq(nala_seg_ctx_create(m, 2, &ctx, &err), NALA_OK);
  ck_assert_msg(nala_seg_plan(ctx, NALA_SEG_FRAME, img.h, img.w, &err) == NALA_OK, "%s", err.msg);
  ck_assert_msg(nala_seg_forward_frame(ctx, &frame, &err) == NALA_OK, "%s", err.msg);
  check_against(frame_cases[_i].name, ctx, img.h, img.w);
  /* the uint8 read gives the same labels */
  size_t n = (size_t)img.h * img.w;
  uint8_t *u8 = malloc(n);
  int32_t *i32 = malloc(n * sizeof *i32);
  ck_assert_int_eq(nala_seg_read_labels(ctx, u8, n, &err), NALA_OK);
  ck_assert_int_eq(nala_seg_read_labels_i32(ctx, i32, n, &err), NALA_OK);
  for (size_t i = 0; i < n; i++)
    ck_assert_int_eq(u8[i], i32[i]);
  free(u8);
  free(i32);
  free(rows);
  nala_image_free(&img);
  nala_seg_ctx_free(ctx);
  nala_segmentor_free(m);
}
END_TEST

/* The seg-heads fixtures (tools/reference/make_seg_head_fixtures.py, float32 reference, float16-exact
 * random inputs): whole cases store decode_logits, the slide case its averaged seg_logits at full size,
 * the aux case a real checkpoint with auxiliary_head.* and num_batches_tracked keys. A label may differ
 * only where the top-1/top-2 margin is < 1e-4: the slide fixture's own logits say where; for whole
 * cases ours (decode logits resized with seg_resize, as the segmentor does) do. */
static const struct {
  const char *fixture, *config, *weights;
} head_cases[] = {
    /* their 512x512 cases repeat tensor_cases' (with the ASan build's time in mind) */
    {"uper_xt_500x375", "uper_xt.json", NULL},
    {"fpn_xt_500x375", "fpn_xt.json", NULL},
    {"fpn_xt_slide_256x320", "fpn_xt_slide.json", NULL},
    {"aux_tiny_64x96", "aux_tiny.json", "aux_tiny_ckpt"},
};

/* Per-pixel top-1 minus top-2 of NHWC logits (c per pixel), n pixels. */
static void margins(const float *nhwc, int c, size_t n, float *out) {
  for (size_t p = 0; p < n; p++) {
    float a = -INFINITY, b = -INFINITY;
    for (int k = 0; k < c; k++) {
      float v = nhwc[p * c + k];
      if (v > a)
        b = a, a = v;
      else if (v > b)
        b = v;
    }
    out[p] = a - b;
  }
}

START_TEST(matches_seg_heads_fixtures) {
  char path[1024];
  nala_err err;
  nala_config *cfg = NULL;
  nala_weights *w = NULL;
  nala_segmentor *m = NULL;
  snprintf(path, sizeof path, NALA_FIXTURES "/seg/%s", head_cases[_i].config);
  ck_assert_msg(nala_config_load(path, &cfg, &err) == NALA_OK, "%s", err.msg);
  if (head_cases[_i].weights) {
    snprintf(path, sizeof path, NALA_FIXTURES "/seg/%s.safetensors", head_cases[_i].weights);
    ck_assert_msg(nala_weights_open(path, &w, &err) == NALA_OK, "%s", err.msg);
  } else {
    ck_assert_int_eq(nala_weights_seeded(0, &w, &err), NALA_OK);
  }
  ck_assert_msg(nala_segmentor_create(cfg, w, NULL, &m, &err) == NALA_OK, "%s", err.msg);
  nala_weights_close(w);
  nala_config_free(cfg);
  snprintf(path, sizeof path, NALA_FIXTURES "/seg/%s.safetensors", head_cases[_i].fixture);
  nala_st_file *f = NULL;
  ck_assert_msg(nala_st_open(path, &f, &err) == NALA_OK, "%s", err.msg);
  const nala_st_tensor *in = nala_st_find(f, "input"), *wp = nala_st_find(f, "seg_pred");
  const nala_st_tensor *wl = nala_st_find(f, "decode_logits"), *ws = nala_st_find(f, "seg_logits");
  ck_assert(in && wp && wp->dtype == NALA_DT_I32 && (wl || ws));
  int h = (int)in->shape[2], wd = (int)in->shape[3], C = nala_segmentor_num_classes(m);
  size_t np = (size_t)h * wd;
  float *x = malloc(3 * np * sizeof *x);
  ck_assert_int_eq(nala_st_to_f32(in, x, 3 * np, &err), NALA_OK);
  nala_seg_ctx *ctx = NULL;
  ck_assert_int_eq(nala_seg_ctx_create(m, 2, &ctx, &err), NALA_OK);
  ck_assert_msg(nala_seg_plan(ctx, NALA_SEG_TENSOR, h, wd, &err) == NALA_OK, "%s", err.msg);
  ck_assert_msg(nala_seg_forward_tensor(ctx, x, &err) == NALA_OK, "%s", err.msg);
  int32_t *labels = malloc(np * sizeof *labels);
  float *margin = malloc(np * sizeof *margin);
  ck_assert_int_eq(nala_seg_read_labels_i32(ctx, labels, np, &err), NALA_OK);
  double rel = 0;
  if (wl) {
    int c, lh, lw;
    ck_assert_int_eq(nala_seg_logits_shape(ctx, &c, &lh, &lw, &err), NALA_OK);
    ck_assert(c == wl->shape[1] && lh == wl->shape[2] && lw == wl->shape[3]);
    size_t nl = (size_t)c * lh * lw, lp = (size_t)lh * lw;
    float *lg = malloc(nl * sizeof *lg);
    char *buf = aligned_alloc(64, ((nl + np * c) * sizeof(float) + 127) / 64 * 64);
    ck_assert(lg && buf);
    ck_assert_int_eq(nala_seg_read_logits(ctx, lg, nl, &err), NALA_OK);
    rel = nala_compare_f32(head_cases[_i].fixture, lg, wl->data, nl, 1e-3, 1e-3).rel_l2;
    float *nhwc = (float *)buf;
    for (size_t p = 0; p < lp; p++)
      for (int k = 0; k < c; k++)
        nhwc[p * c + k] = lg[(size_t)k * lp + p];
    seg_map src = {.off = 0, .h = lh, .w = lw, .pitch = lw, .ld = c};
    size_t dst_off = (nl * sizeof(float) + 63) / 64 * 64;
    seg_resize(buf, &src, c, dst_off, h, wd, 2);
    margins((const float *)(buf + dst_off), c, np, margin);
    free(lg);
    free(buf);
  } else { /* slide: the fixture's averaged logits, NCHW [1, C, h, w] */
    float *nhwc = malloc(np * C * sizeof *nhwc);
    const float *sl = ws->data;
    for (size_t p = 0; p < np; p++)
      for (int k = 0; k < C; k++)
        nhwc[p * C + k] = sl[(size_t)k * np + p];
    margins(nhwc, C, np, margin);
    free(nhwc);
  }
  const int32_t *want = wp->data;
  size_t differ = 0, differ_low = 0, n_low = 0;
  for (size_t p = 0; p < np; p++) {
    n_low += margin[p] < 1e-4f;
    if (labels[p] != want[p])
      differ++, differ_low += margin[p] < 1e-4f;
  }
  printf("%s (seg-heads fixture): decode_logits rel_l2=%s%.3g; seg_pred %zu of %zu differ (%zu among the %zu with "
         "margin < 1e-4)\n", head_cases[_i].fixture, wl ? "" : "(slide: none stored) ", rel, differ, np, differ_low, n_low);
  ck_assert(rel <= 1e-4);
  ck_assert_msg(differ == differ_low, "%zu labels differ at margin >= 1e-4", differ - differ_low);
  free(labels);
  free(margin);
  free(x);
  nala_st_close(f);
  nala_seg_ctx_free(ctx);
  nala_segmentor_free(m);
}
END_TEST

typedef struct run_job {
  const nala_segmentor *m;
  const float *x;
  int h, w;
  float *logits;
  int32_t *labels;
  size_t nl;
  nala_status st;
} run_job;

static void *run_one(void *p) {
  run_job *j = p;
  nala_err err;
  nala_seg_ctx *ctx = NULL;
  j->st = nala_seg_ctx_create(j->m, 1, &ctx, &err);
  int c = 0, lh = 0, lw = 0;
  if (!j->st)
    j->st = nala_seg_plan(ctx, NALA_SEG_TENSOR, j->h, j->w, &err);
  for (int rep = 0; !j->st && rep < 2; rep++)
    j->st = nala_seg_forward_tensor(ctx, j->x, &err);
  if (!j->st)
    j->st = nala_seg_logits_shape(ctx, &c, &lh, &lw, &err);
  j->nl = (size_t)c * lh * lw;
  j->logits = malloc(j->nl * sizeof(float) + 1);
  j->labels = malloc((size_t)j->h * j->w * sizeof(int32_t));
  if (!j->st)
    j->st = nala_seg_read_logits(ctx, j->logits, j->nl, &err);
  if (!j->st)
    j->st = nala_seg_read_labels_i32(ctx, j->labels, (size_t)j->h * j->w, &err);
  nala_seg_ctx_free(ctx);
  return NULL;
}

/* Two contexts on one model in two threads at once (slide mode: every buffer of the context in use). */
START_TEST(two_threads_bit_identical) {
  nala_segmentor *m = load("upernet_xt_slide.json");
  int h = 150, w = 170;
  float *x = formula_input(h, w);
  run_job jobs[2] = {{.m = m, .x = x, .h = h, .w = w}, {.m = m, .x = x, .h = h, .w = w}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(pthread_create(&t[i], NULL, run_one, &jobs[i]), 0);
  for (int i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  ck_assert_int_eq(jobs[0].st, NALA_OK);
  ck_assert_int_eq(jobs[1].st, NALA_OK);
  ck_assert_uint_eq(jobs[0].nl, jobs[1].nl);
  ck_assert(!memcmp(jobs[0].logits, jobs[1].logits, jobs[0].nl * sizeof(float)));
  ck_assert(!memcmp(jobs[0].labels, jobs[1].labels, (size_t)h * w * sizeof(int32_t)));
  printf("two threads: %zu logits and %d labels bit-identical\n", jobs[0].nl, h * w);
  for (int i = 0; i < 2; i++) {
    free(jobs[i].logits);
    free(jobs[i].labels);
  }
  free(x);
  nala_segmentor_free(m);
}
END_TEST

/* A caller workspace: too small fails naming both sizes; the exact size runs and matches an owned one. */
START_TEST(caller_workspace) {
  nala_segmentor *m = load("fpn_xt.json");
  nala_err err;
  int h = 97, w = 131;
  nala_seg_ctx *own = NULL, *ctx = NULL;
  ck_assert_int_eq(nala_seg_ctx_create(m, 2, &own, &err), NALA_OK);
  ck_assert_int_eq(nala_seg_ctx_create(m, 2, &ctx, &err), NALA_OK);
  size_t need = 0;
  ck_assert_int_eq(nala_seg_workspace_size(ctx, NALA_SEG_TENSOR, h, w, &need, &err), NALA_OK);
  void *small = aligned_alloc(64, 4096), *buf = aligned_alloc(64, (need + 63) / 64 * 64);
  ck_assert(small && buf);
  ck_assert_int_eq(nala_seg_set_workspace(ctx, small, 4096, &err), NALA_OK);
  ck_assert_int_eq(nala_seg_plan(ctx, NALA_SEG_TENSOR, h, w, &err), NALA_E_NOMEM);
  char needs[32];
  snprintf(needs, sizeof needs, "%zu", need);
  ck_assert_msg(strstr(err.msg, "4096") && strstr(err.msg, needs), "%s", err.msg);
  printf("too small: %s\n", err.msg);
  ck_assert_int_eq(nala_seg_set_workspace(ctx, buf, need, &err), NALA_OK);
  ck_assert_msg(nala_seg_plan(ctx, NALA_SEG_TENSOR, h, w, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(nala_seg_plan(own, NALA_SEG_TENSOR, h, w, &err), NALA_OK);
  float *x = formula_input(h, w);
  ck_assert_int_eq(nala_seg_forward_tensor(ctx, x, &err), NALA_OK);
  ck_assert_int_eq(nala_seg_forward_tensor(own, x, &err), NALA_OK);
  int32_t *a = malloc((size_t)h * w * 4), *b = malloc((size_t)h * w * 4);
  ck_assert_int_eq(nala_seg_read_labels_i32(ctx, a, (size_t)h * w, &err), NALA_OK);
  ck_assert_int_eq(nala_seg_read_labels_i32(own, b, (size_t)h * w, &err), NALA_OK);
  ck_assert(!memcmp(a, b, (size_t)h * w * 4));
  free(a);
  free(b);
  free(x);
  nala_seg_ctx_free(ctx);
  nala_seg_ctx_free(own);
  free(small);
  free(buf);
  nala_segmentor_free(m);
}
END_TEST

static void expect(nala_status got, nala_status want, const nala_err *err, const char *needle) {
  ck_assert_msg(got == want, "status %d, want %d (%s)", got, want, err->msg);
  ck_assert_msg(strstr(err->msg, needle), "message lacks \"%s\": %s", needle, err->msg);
}

START_TEST(bad_arguments) {
  nala_err err;
  nala_err_clear(&err);
  nala_segmentor *m = load("fpn_xt.json");
  nala_seg_ctx *ctx = NULL;
  expect(nala_seg_ctx_create(NULL, 1, &ctx, &err), NALA_E_ARG, &err, "must not be NULL");
  ck_assert_int_eq(nala_seg_ctx_create(m, 1, &ctx, &err), NALA_OK);
  _Alignas(64) float x[3 * 8 * 8] = {0};
  float logits[4];
  uint8_t labels[4];
  expect(nala_seg_forward_tensor(ctx, x, &err), NALA_E_STATE, &err, "no plan");
  expect(nala_seg_plan(ctx, NALA_SEG_TENSOR, 0, 64, &err), NALA_E_ARG, &err, "0x64");
  expect(nala_seg_plan(ctx, NALA_SEG_TENSOR, 64, 20000, &err), NALA_E_ARG, &err, "64x20000");
  expect(nala_seg_plan(ctx, (nala_seg_input)7, 64, 64, &err), NALA_E_ARG, &err, "kind 7");
  ck_assert_int_eq(nala_seg_plan(ctx, NALA_SEG_TENSOR, 8, 8, &err), NALA_OK);
  expect(nala_seg_read_labels(ctx, labels, 64, &err), NALA_E_STATE, &err, "no forward");
  nala_image img = {.h = 8, .w = 8, .c = 3, .stride = 24, .data = labels, .order = NALA_BGR};
  expect(nala_seg_forward_frame(ctx, &img, &err), NALA_E_STATE, &err, "NALA_SEG_TENSOR");
  expect(nala_seg_forward_tensor(ctx, NULL, &err), NALA_E_ARG, &err, "nchw");
  ck_assert_int_eq(nala_seg_forward_tensor(ctx, x, &err), NALA_OK);
  expect(nala_seg_read_logits(ctx, logits, 4, &err), NALA_E_ARG, &err, "[19,2,2]");
  expect(nala_seg_read_labels(ctx, labels, 4, &err), NALA_E_ARG, &err, "cap 4");
  expect(nala_seg_set_workspace(ctx, (char *)x + 4, 1 << 20, &err), NALA_E_ARG, &err, "64-byte");
  expect(nala_seg_set_workspace(ctx, x, 64, &err), NALA_E_NOMEM, &err, "64 bytes are too small");
  ck_assert_int_eq(nala_seg_plan(ctx, NALA_SEG_FRAME, 8, 8, &err), NALA_OK);
  nala_image wrong = {.h = 9, .w = 8, .c = 3, .stride = 24, .data = labels, .order = NALA_BGR};
  expect(nala_seg_forward_frame(ctx, &wrong, &err), NALA_E_SHAPE, &err, "9x8");
  nala_seg_ctx_free(ctx);
  nala_segmentor_free(m);

  /* configs that are no segmentor, or one nala cannot run */
  nala_config *cfg = NULL;
  nala_weights *w = NULL;
  ck_assert_int_eq(nala_weights_seeded(0, &w, &err), NALA_OK);
  ck_assert_int_eq(nala_config_load(NALA_SOURCE_DIR "/configs/nalaformer_t_backbone.json", &cfg, &err), NALA_OK);
  expect(nala_segmentor_create(cfg, w, NULL, &m, &err), NALA_E_FORMAT, &err, "EncoderDecoder");
  nala_config_free(cfg);
  const char *over[] = {"model.decode_head.align_corners=true"};
  ck_assert_msg(nala_config_load_with(FIX "fpn_xt.json", over, 1, &cfg, &err) == NALA_OK, "%s", err.msg);
  expect(nala_segmentor_create(cfg, w, NULL, &m, &err), NALA_E_UNSUPPORTED, &err, "align_corners");
  expect(nala_segmentor_create(cfg, NULL, NULL, &m, &err), NALA_E_ARG, &err, "must not be NULL");
  nala_config_free(cfg);
  nala_weights_close(w);
  nala_segmentor_free(NULL);
  nala_seg_ctx_free(NULL);
}
END_TEST

int main(void) {
  Suite *s = suite_create("segmentor");
  TCase *tc = tcase_create("segmentor");
  tcase_set_timeout(tc, 600);
  tcase_add_loop_test(tc, tensor_matches_mmseg, 0, (int)(sizeof tensor_cases / sizeof *tensor_cases));
  tcase_add_loop_test(tc, matches_seg_heads_fixtures, 0, (int)(sizeof head_cases / sizeof *head_cases));
  tcase_add_loop_test(tc, frame_matches_mmseg, 0, (int)(sizeof frame_cases / sizeof *frame_cases));
  tcase_add_test(tc, two_threads_bit_identical);
  tcase_add_test(tc, caller_workspace);
  tcase_add_test(tc, bad_arguments);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
