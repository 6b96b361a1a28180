/* nala_det_multiclass_nms (det/multiclass_nms.c) against a restatement of mmdet's multiclass_nms
 * written out here (candidates scanned box-major / class-minor with score > thr, then
 * nala_det_batched_nms_ref, the plain mmcv batched_nms that test_det_nms checks against
 * torchvision) on random cases both sides of mmcv's 10000-box split, plus hand cases: a score equal
 * to the threshold is dropped, the background column never counts, exact ties keep the lower class
 * of a box first, max_num cuts. The end-to-end Mask R-CNN fixtures check it against torch too. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "det/det.h"
#include "tests/support/suite.h"

static uint64_t lcg(uint64_t *s) {
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return *s >> 33;
}
static float unif(uint64_t *s) { return (float)(lcg(s) % 1000000) / 1e6f; }

/* The restatement: returns the kept count, filling boxes / scores / labels. */
static size_t restated(const float *boxes, const float *scores, size_t n, int K, float thr, float iou, size_t max_num,
                       float *ob, float *os, int32_t *ol) {
  size_t cap = n * (size_t)K, m = 0;
  float *cb = malloc(cap * 16 + 16), *cs = malloc(cap * 4 + 4);
  int32_t *cl = malloc(cap * 4 + 4), *keep = malloc(cap * 4 + 4);
  for (size_t i = 0; i < n; i++)
    for (int j = 0; j < K; j++)
      if (scores[i * (size_t)(K + 1) + j] > thr) {
        memcpy(cb + 4 * m, boxes + (i * K + j) * 4, 16);
        cs[m] = scores[i * (size_t)(K + 1) + j];
        cl[m++] = j;
      }
  size_t kept = 0, ws_bytes = nala_det_nms_ws_size(m);
  void *ws = malloc(ws_bytes + 1);
  nala_det_nms_cfg cfg = nala_det_nms_default(iou);
  nala_err err;
  if (m)
    ck_assert_int_eq(nala_det_batched_nms_ref(cb, cs, cl, m, &cfg, keep, &kept, ws, ws_bytes, &err), NALA_OK);
  if (kept > max_num)
    kept = max_num;
  for (size_t k = 0; k < kept; k++) {
    memcpy(ob + 4 * k, cb + 4 * keep[k], 16);
    os[k] = cs[keep[k]];
    ol[k] = cl[keep[k]];
  }
  free(cb), free(cs), free(cl), free(keep), free(ws);
  return kept;
}

static void compare(const float *boxes, const float *scores, size_t n, int K, float thr, float iou, size_t max_num) {
  float *ob = malloc(max_num * 16 + 16), *os = malloc(max_num * 4 + 4), *rb = malloc(max_num * 16 + 16),
        *rs = malloc(max_num * 4 + 4);
  int32_t *ol = malloc(max_num * 4 + 4), *rl = malloc(max_num * 4 + 4);
  size_t ws_bytes = nala_det_multiclass_nms_ws_size(n, K), got = 0;
  void *ws = malloc(ws_bytes + 1);
  nala_err err;
  ck_assert_int_eq(nala_det_multiclass_nms(boxes, scores, n, K, thr, iou, max_num, ob, os, ol, &got, ws, ws_bytes,
                                           &err),
                   NALA_OK);
  size_t want = restated(boxes, scores, n, K, thr, iou, max_num, rb, rs, rl);
  ck_assert_uint_eq(got, want);
  ck_assert(!memcmp(ob, rb, got * 16) && !memcmp(os, rs, got * 4) && !memcmp(ol, rl, got * 4));
  free(ob), free(os), free(ol), free(rb), free(rs), free(rl), free(ws);
}

static void random_case(uint64_t seed, size_t n, int K, float thr, size_t max_num) {
  uint64_t s = seed;
  float *boxes = malloc(n * K * 16), *scores = malloc(n * (K + 1) * 4);
  for (size_t i = 0; i < n; i++) {
    float x = unif(&s) * 300, y = unif(&s) * 200, w = 5 + unif(&s) * 80, h = 5 + unif(&s) * 80;
    for (int j = 0; j < K; j++) {
      float *b = boxes + (i * K + j) * 4;
      b[0] = x + unif(&s) * 4, b[1] = y + unif(&s) * 4, b[2] = x + w + unif(&s) * 4, b[3] = y + h + unif(&s) * 4;
    }
    for (int j = 0; j <= K; j++)
      scores[i * (K + 1) + j] = unif(&s) * 0.3f;
  }
  compare(boxes, scores, n, K, thr, 0.5f, max_num);
  free(boxes), free(scores);
}

START_TEST(random_cases) {
  random_case(1, 300, 4, 0.05f, 100);   /* ~1100 candidates: one NMS */
  random_case(2, 1000, 20, 0.05f, 100); /* ~16000 candidates: mmcv's per-class path */
  random_case(3, 50, 3, 0.29f, 1000);   /* few candidates, no cut */
  random_case(4, 10, 2, 0.5f, 100);     /* none above the threshold */
}
END_TEST

START_TEST(hand_cases) {
  /* two boxes, 2 classes + background: box 0 class 0 at exactly thr (dropped), class 1 0.5;
   * box 1 (same coordinates) class 0 0.5 = a tie with box 0 class 1, background 0.9 ignored */
  float boxes[2 * 2 * 4] = {0, 0, 10, 10, 0, 0, 10, 10, 0, 0, 10, 10, 0, 0, 10, 10};
  float scores[2 * 3] = {0.05f, 0.5f, 0.9f, 0.5f, 0.1f, 0.9f};
  float ob[8], os[2];
  int32_t ol[2];
  size_t got = 0, ws_bytes = nala_det_multiclass_nms_ws_size(2, 2);
  void *ws = malloc(ws_bytes);
  nala_err err;
  ck_assert_int_eq(nala_det_multiclass_nms(boxes, scores, 2, 2, 0.05f, 0.5f, 2, ob, os, ol, &got, ws, ws_bytes, &err),
                   NALA_OK);
  /* candidates: (0,1) 0.5, (1,0) 0.5, (1,1) 0.1; classes never suppress each other; the tie keeps
   * candidate order: (0,1) then (1,0); max_num 2 cuts (1,1) */
  ck_assert_uint_eq(got, 2);
  ck_assert_int_eq(ol[0], 1);
  ck_assert_int_eq(ol[1], 0);
  ck_assert_int_eq(nala_det_multiclass_nms(boxes, scores, 2, 2, 0.05f, 0.5f, 2, ob, os, ol, &got, ws, 8, &err),
                   NALA_E_NOMEM);
  ck_assert_int_eq(nala_det_multiclass_nms(boxes, scores, 2, 0, 0.05f, 0.5f, 2, ob, os, ol, &got, ws, ws_bytes, &err),
                   NALA_E_ARG);
  free(ws);
}
END_TEST

int main(void) {
  Suite *s = suite_create("det_multiclass_nms");
  TCase *tc = tcase_create("multiclass_nms");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, random_cases);
  tcase_add_test(tc, hand_cases);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
