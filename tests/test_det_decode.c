/* DeltaXYWH decoding vs a torch restatement of mmdet's delta2bbox (tests/fixtures/det/decode):
 * means 0 / stds 1 with and without clipping, class-specific RCNN deltas (k = 3, stds .1/.1/.2/.2,
 * with and without means), dw/dh far beyond +-|log(16/1000)| and right at it, a zero-width roi. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "det/det.h"
#include "tests/det_fixture.h"
#include "tests/support/compare.h"
#include "tests/support/suite.h"

/* expf and torch's vectorised exp may differ by an ulp, times a box of up to ~100 px * e^4.1. */
#define DECODE_ATOL 1e-3

static void run_case(nala_st_file *f, const char *deltas_name, const char *want_name, int k,
                     nala_det_delta_cfg cfg) {
  size_t n_rois, n_d, n_w;
  const float *rois = det_f32(f, "rois", &n_rois, NULL);
  const float *deltas = det_f32(f, deltas_name, &n_d, NULL);
  const float *want = det_f32(f, want_name, &n_w, NULL);
  size_t n = n_rois / 4;
  ck_assert_uint_eq(n_d, n * 4 * k);
  ck_assert_uint_eq(n_w, n_d);
  float *out = malloc(n_d * sizeof *out);
  nala_err err;
  ck_assert_int_eq(nala_det_delta_decode(&cfg, rois, deltas, n, k, out, &err), NALA_OK);
  nala_cmp c = nala_compare_f32(want_name, out, want, n_d, DECODE_ATOL, 0);
  ck_assert_msg(c.max_abs <= DECODE_ATOL && c.n_nonfinite == 0, "%s: max_abs %g", want_name, c.max_abs);
  if (cfg.clip)
    for (size_t i = 0; i < n_d; i++) {
      float lim = (i % 2) ? (float)cfg.img_h : (float)cfg.img_w;
      ck_assert(out[i] >= 0 && out[i] <= lim);
    }
  free(out);
}

START_TEST(fixtures) {
  nala_st_file *f = det_open(DET_FIXTURE("decode.safetensors"));
  int64_t hw[2];
  det_i64(f, "img_hw", hw, 2);
  nala_det_delta_cfg cfg = nala_det_delta_default(1.0f, 1.0f, (int)hw[0], (int)hw[1]);
  run_case(f, "deltas_k1", "out_k1_clip", 1, cfg);
  cfg.clip = 0;
  run_case(f, "deltas_k1", "out_k1_noclip", 1, cfg);
  cfg = nala_det_delta_default(0.1f, 0.2f, (int)hw[0], (int)hw[1]);
  run_case(f, "deltas_k3", "out_k3_clip", 3, cfg);
  const float means[4] = {0.05f, -0.02f, 0.1f, 0.0f};
  memcpy(cfg.means, means, sizeof means);
  run_case(f, "deltas_k3", "out_k3_means", 3, cfg);
  nala_st_close(f);
}
END_TEST

START_TEST(clamp_by_hand) {
  /* A 10x10 roi at the origin with dw = +9 decodes as dw = log(1000/16): width 10 * 62.5 = 625. */
  const float roi[4] = {0, 0, 10, 10}, d[4] = {0, 0, 9, -9};
  float out[4];
  nala_det_delta_cfg cfg = nala_det_delta_default(1, 1, 100, 100);
  cfg.clip = 0;
  nala_err err;
  ck_assert_int_eq(nala_det_delta_decode(&cfg, roi, d, 1, 1, out, &err), NALA_OK);
  printf("clamp: width %.6f (want 625), height %.6f (want 0.16)\n", out[2] - out[0], out[3] - out[1]);
  ck_assert_float_eq_tol(out[2] - out[0], 625.0f, 1e-3f);
  ck_assert_float_eq_tol(out[3] - out[1], 0.16f, 1e-5f);
  cfg.clip = 1;
  ck_assert_int_eq(nala_det_delta_decode(&cfg, roi, d, 1, 1, out, &err), NALA_OK);
  ck_assert_float_eq(out[0], 0.0f);
  ck_assert_float_eq(out[2], 100.0f);
}
END_TEST

START_TEST(bad_input) {
  float roi[4] = {0}, out[4];
  nala_det_delta_cfg cfg = nala_det_delta_default(1, 1, 0, 100);
  nala_err err;
  ck_assert_int_eq(nala_det_delta_decode(&cfg, roi, roi, 1, 1, out, &err), NALA_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.msg, "0x100"));
  cfg.img_h = 10;
  ck_assert_int_eq(nala_det_delta_decode(&cfg, roi, roi, 1, 0, out, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_det_delta_decode(&cfg, NULL, roi, 1, 1, out, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_det_delta_decode(&cfg, NULL, NULL, 0, 1, NULL, &err), NALA_OK);
}
END_TEST

int main(void) {
  Suite *s = suite_create("det_decode");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, fixtures);
  tcase_add_test(tc, clamp_by_hand);
  tcase_add_test(tc, bad_input);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
