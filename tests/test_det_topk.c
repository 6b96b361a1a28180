/* nala_det_topk (det/topk.c): the first k of a stable descending sort, whatever the ties, NaNs and
 * k; checked against nala_det_sort_desc of all n (which test_det_nms checks against torch's
 * stable order through the NMS fixtures) on random scores, heavy ties and NaNs. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "det/det.h"
#include "tests/support/suite.h"

static uint64_t lcg(uint64_t *s) {
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return *s >> 33;
}

static void check(const float *scores, size_t n, size_t k) {
  int32_t *all = malloc((n + 1) * 4), *tmp = malloc((n + 1) * 4), *top = malloc((n + 1) * 4);
  for (size_t i = 0; i < n; i++)
    all[i] = (int32_t)i;
  nala_det_sort_desc(all, tmp, n, scores);
  size_t ws_bytes = nala_det_topk_ws_size(n), got = 99;
  void *ws = malloc(ws_bytes);
  nala_err err;
  ck_assert_int_eq(nala_det_topk(scores, n, k, top, &got, ws, ws_bytes, &err), NALA_OK);
  ck_assert_uint_eq(got, k < n ? k : n);
  for (size_t i = 0; i < got; i++)
    ck_assert_msg(top[i] == all[i], "n %zu k %zu: position %zu is %d, the full sort has %d", n, k, i, top[i], all[i]);
  free(all), free(tmp), free(top), free(ws);
}

START_TEST(topk_matches_full_sort) {
  uint64_t s = 42;
  static const size_t ns[] = {1, 2, 7, 100, 1000, 5000};
  for (size_t a = 0; a < sizeof ns / sizeof *ns; a++) {
    size_t n = ns[a];
    float *sc = malloc(n * sizeof *sc);
    for (int mode = 0; mode < 4; mode++) {
      for (size_t i = 0; i < n; i++) {
        uint64_t r = lcg(&s);
        sc[i] = mode == 0   ? (float)(r % 1000000) / 1e6f         /* distinct-ish */
                : mode == 1 ? (float)(r % 5) * 0.25f              /* five values: heavy ties */
                : mode == 2 ? (r % 7 == 0 ? NAN : (float)(r % 3)) /* NaNs first, as torch */
                            : 0.5f;                               /* all equal */
      }
      static const size_t ks[] = {0, 1, 3, 64, 999, 1000, 1001, 100000};
      for (size_t b = 0; b < sizeof ks / sizeof *ks; b++)
        check(sc, n, ks[b]);
    }
    free(sc);
  }
}
END_TEST

START_TEST(topk_bad_input) {
  nala_err err;
  float sc[4] = {1, 2, 3, 4};
  int32_t idx[4];
  size_t got;
  char ws[256];
  ck_assert_int_eq(nala_det_topk(sc, 4, 2, idx, &got, ws, 8, &err), NALA_E_NOMEM);
  ck_assert_int_eq(nala_det_topk(NULL, 4, 2, idx, &got, ws, sizeof ws, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_det_topk(sc, 0, 2, idx, &got, NULL, 0, &err), NALA_OK);
  ck_assert_uint_eq(got, 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("det_topk");
  TCase *tc = tcase_create("topk");
  tcase_add_test(tc, topk_matches_full_sort);
  tcase_add_test(tc, topk_bad_input);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
