/* NMS and mmcv batched_nms vs torch restatements cross-checked with torchvision
 * (tests/fixtures/det/nms; the generator asserts torchvision.ops.nms / batched_nms give the same
 * keep lists except on the >= 10000-box per-id path, where torchvision differs from mmcv by design).
 * Every case runs the plain reference and the fast version; keep lists must be identical. */
#include <check.h>
#include <stdlib.h>

#include "det/det.h"
#include "tests/det_fixture.h"
#include "tests/support/suite.h"

#define MAX_BOXES 10240

static int64_t want_keep[MAX_BOXES];
static int64_t ids64[MAX_BOXES];
static int32_t ids[MAX_BOXES], keep_ref[MAX_BOXES], keep_fast[MAX_BOXES];

/* Runs both versions, compares them with each other and with the fixture's keep list. */
static void check_keep(const char *name, const float *boxes, const float *scores, const int32_t *id, size_t n,
                       const nala_det_nms_cfg *cfg, const int64_t *want, size_t n_want) {
  size_t ws_bytes = nala_det_nms_ws_size(n), n_ref = 0, n_fast = 0;
  void *ws = malloc(ws_bytes);
  nala_err err;
  if (id || cfg->class_agnostic) {
    ck_assert_int_eq(nala_det_batched_nms_ref(boxes, scores, id, n, cfg, keep_ref, &n_ref, ws, ws_bytes, &err),
                     NALA_OK);
    ck_assert_int_eq(nala_det_batched_nms(boxes, scores, id, n, cfg, keep_fast, &n_fast, ws, ws_bytes, &err),
                     NALA_OK);
  } else {
    ck_assert_int_eq(nala_det_nms_ref(boxes, scores, n, cfg->iou_thr, cfg->max_keep, keep_ref, &n_ref, ws, ws_bytes,
                                      &err),
                     NALA_OK);
    ck_assert_int_eq(nala_det_nms(boxes, scores, n, cfg->iou_thr, cfg->max_keep, keep_fast, &n_fast, ws, ws_bytes,
                                  &err),
                     NALA_OK);
  }
  size_t expect = cfg->max_keep && n_want > cfg->max_keep ? cfg->max_keep : n_want;
  size_t first_diff_ref = n_ref, first_diff_fast = n_fast;
  for (size_t i = 0; i < n_ref && i < expect; i++)
    if (keep_ref[i] != want[i]) {
      first_diff_ref = i;
      break;
    }
  for (size_t i = 0; i < n_fast && i < expect; i++)
    if (keep_fast[i] != want[i]) {
      first_diff_fast = i;
      break;
    }
  printf("%s (max_keep %zu): n=%zu kept want=%zu ref=%zu fast=%zu, first mismatch ref@%zd fast@%zd\n", name,
         cfg->max_keep, n, expect, n_ref, n_fast, first_diff_ref == n_ref ? (ssize_t)-1 : (ssize_t)first_diff_ref,
         first_diff_fast == n_fast ? (ssize_t)-1 : (ssize_t)first_diff_fast);
  ck_assert_uint_eq(n_ref, expect);
  ck_assert_uint_eq(n_fast, expect);
  ck_assert_uint_eq(first_diff_ref, n_ref);
  ck_assert_uint_eq(first_diff_fast, n_fast);
  free(ws);
}

static void fixture_case(nala_st_file *f, const char *name, int batched, int agnostic) {
  char key[96];
  size_t nb, ns, nk;
  snprintf(key, sizeof key, "%s.boxes", name);
  const float *boxes = det_f32(f, key, &nb, NULL);
  snprintf(key, sizeof key, "%s.scores", name);
  const float *scores = det_f32(f, key, &ns, NULL);
  snprintf(key, sizeof key, "%s.thr", name);
  float thr = det_f32(f, key, NULL, NULL)[0];
  snprintf(key, sizeof key, "%s.keep", name);
  nk = det_i64(f, key, want_keep, MAX_BOXES);
  ck_assert_uint_eq(nb, 4 * ns);
  const int32_t *id = NULL;
  if (batched) {
    snprintf(key, sizeof key, "%s.ids", name);
    ck_assert_uint_eq(det_i64(f, key, ids64, MAX_BOXES), ns);
    for (size_t i = 0; i < ns; i++)
      ids[i] = (int32_t)ids64[i];
    id = ids;
  }
  nala_det_nms_cfg cfg = nala_det_nms_default(thr);
  cfg.class_agnostic = agnostic;
  check_keep(name, boxes, scores, id, ns, &cfg, want_keep, nk);
  cfg.max_keep = 100; /* mmdet's [:max_per_img] as an early stop */
  check_keep(name, boxes, scores, id, ns, &cfg, want_keep, nk);
}

START_TEST(single_class) {
  nala_st_file *f = det_open(DET_FIXTURE("nms.safetensors"));
  fixture_case(f, "ties", 0, 0);
  fixture_case(f, "iou_eq_thr_05", 0, 0);
  fixture_case(f, "iou_eq_thr_07", 0, 0);
  fixture_case(f, "n1000_07", 0, 0);
  fixture_case(f, "n1000_05", 0, 0);
  nala_st_close(f);
}
END_TEST

START_TEST(batched) {
  nala_st_file *f = det_open(DET_FIXTURE("nms.safetensors"));
  fixture_case(f, "batched1000_05", 1, 0);
  fixture_case(f, "agnostic1000_05", 1, 1);
  fixture_case(f, "offset_quirk", 1, 0);
  nala_st_close(f);
}
END_TEST

START_TEST(iou_equal_threshold_by_hand) {
  /* IoU 50 / 100 = 0.5 exactly: kept at thr 0.5 (suppressed iff IoU > thr), dropped at 0.49. */
  const float boxes[8] = {0, 0, 10, 10, 0, 0, 10, 5}, scores[2] = {0.9f, 0.8f};
  int32_t keep[2];
  size_t n_keep;
  unsigned char ws[4096];
  nala_err err;
  ck_assert_int_eq(nala_det_nms(boxes, scores, 2, 0.5f, 0, keep, &n_keep, ws, sizeof ws, &err), NALA_OK);
  ck_assert_uint_eq(n_keep, 2);
  ck_assert_int_eq(nala_det_nms(boxes, scores, 2, 0.49f, 0, keep, &n_keep, ws, sizeof ws, &err), NALA_OK);
  ck_assert_uint_eq(n_keep, 1);
  /* Equal scores: the lower index comes first (stable order). */
  const float tie[2] = {0.5f, 0.5f};
  ck_assert_int_eq(nala_det_nms(boxes, tie, 2, 0.3f, 0, keep, &n_keep, ws, sizeof ws, &err), NALA_OK);
  ck_assert_uint_eq(n_keep, 1);
  ck_assert_int_eq(keep[0], 0);
}
END_TEST

/* The generator's LCG: 10240 boxes on a quarter-pixel grid, scores k / 1000, 7 ids. */
static void lcg_case(float *boxes, float *scores, int32_t *id, size_t n, int n_ids) {
  uint64_t state = 12345;
  for (size_t i = 0; i < n; i++) {
    uint64_t v[6];
    for (int k = 0; k < 6; k++) {
      state = (state * 1103515245u + 12345u) % (1ull << 31);
      v[k] = state >> 8;
    }
    float x = (float)(v[0] % 2000) / 4.0f, y = (float)(v[1] % 1600) / 4.0f;
    float w = (float)(v[2] % 160 + 4) / 4.0f, h = (float)(v[3] % 160 + 4) / 4.0f;
    boxes[4 * i] = x, boxes[4 * i + 1] = y, boxes[4 * i + 2] = x + w, boxes[4 * i + 3] = y + h;
    scores[i] = (float)(v[4] % 1000) / 1000.0f;
    id[i] = (int32_t)(v[5] % (uint64_t)n_ids);
  }
}

START_TEST(split_path) {
  /* >= split_thr boxes: mmcv's per-id loop on offset boxes, then a re-sort by score. */
  nala_st_file *f = det_open(DET_FIXTURE("nms.safetensors"));
  size_t nk = det_i64(f, "split10240.keep", want_keep, MAX_BOXES);
  float *boxes = malloc(MAX_BOXES * 4 * sizeof *boxes), *scores = malloc(MAX_BOXES * sizeof *scores);
  lcg_case(boxes, scores, ids, MAX_BOXES, 7);
  nala_det_nms_cfg cfg = nala_det_nms_default(0.5f);
  check_keep("split10240", boxes, scores, ids, MAX_BOXES, &cfg, want_keep, nk);
  cfg.max_keep = 1000;
  check_keep("split10240", boxes, scores, ids, MAX_BOXES, &cfg, want_keep, nk);
  /* The same boxes one below split_thr take the single-NMS path: reference and fast agree. */
  cfg.max_keep = 0;
  cfg.split_thr = MAX_BOXES + 1;
  size_t ws_bytes = nala_det_nms_ws_size(MAX_BOXES), n_ref, n_fast;
  void *ws = malloc(ws_bytes);
  nala_err err;
  ck_assert_int_eq(nala_det_batched_nms_ref(boxes, scores, ids, MAX_BOXES, &cfg, keep_ref, &n_ref, ws, ws_bytes, &err),
                   NALA_OK);
  ck_assert_int_eq(nala_det_batched_nms(boxes, scores, ids, MAX_BOXES, &cfg, keep_fast, &n_fast, ws, ws_bytes, &err),
                   NALA_OK);
  printf("10240 boxes on the offset path: ref kept %zu, fast kept %zu (per-id path kept %zu)\n", n_ref, n_fast, nk);
  ck_assert_uint_eq(n_ref, n_fast);
  ck_assert_int_eq(memcmp(keep_ref, keep_fast, n_ref * sizeof *keep_ref), 0);
  free(ws);
  free(boxes);
  free(scores);
  nala_st_close(f);
}
END_TEST

START_TEST(bad_input) {
  const float boxes[8] = {0, 0, 10, 10, 0, 0, 10, 5}, scores[2] = {0.9f, 0.8f};
  int32_t keep[2];
  size_t n_keep = 7;
  unsigned char ws[4096];
  nala_err err;
  ck_assert_int_eq(nala_det_nms(boxes, scores, 2, 0.5f, 0, keep, &n_keep, ws, 16, &err), NALA_E_NOMEM);
  ck_assert_ptr_nonnull(strstr(err.msg, "16 bytes"));
  ck_assert_int_eq(nala_det_nms(boxes, NULL, 2, 0.5f, 0, keep, &n_keep, ws, sizeof ws, &err), NALA_E_ARG);
  nala_det_nms_cfg cfg = nala_det_nms_default(0.5f);
  ck_assert_int_eq(nala_det_batched_nms(boxes, scores, NULL, 2, &cfg, keep, &n_keep, ws, sizeof ws, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_det_batched_nms_ref(boxes, scores, NULL, 2, &cfg, keep, &n_keep, ws, sizeof ws, &err),
                   NALA_E_ARG);
  ck_assert_int_eq(nala_det_nms(NULL, NULL, 0, 0.5f, 0, NULL, &n_keep, NULL, 0, &err), NALA_OK);
  ck_assert_uint_eq(n_keep, 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("det_nms");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, single_class);
  tcase_add_test(tc, batched);
  tcase_add_test(tc, iou_equal_threshold_by_hand);
  tcase_add_test(tc, split_path);
  tcase_add_test(tc, bad_input);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
