/* Anchor generator vs a torch restatement of mmdet's AnchorGenerator (tests/fixtures/det/anchors):
 * RetinaNet (octave scales 4 * 2^(i/3), ratios .5/1/2, strides 8..128) and RPN (scale 8, strides
 * 4..64) base anchors and full grids, expected bit-identical (same float32 ops). */
#include <check.h>
#include <stdlib.h>

#include "det/det.h"
#include "tests/det_fixture.h"
#include "tests/support/compare.h"
#include "tests/support/suite.h"

static const float ratios[3] = {0.5f, 1.0f, 2.0f};

static void check_levels(nala_st_file *f, const char *prefix, const int *strides, const float *scales, int n_scales) {
  int64_t sizes[10];
  char name[64];
  snprintf(name, sizeof name, "%s_sizes", prefix);
  ck_assert_uint_eq(det_i64(f, name, sizes, 10), 10);
  for (int lvl = 0; lvl < 5; lvl++) {
    float base[9 * 4];
    nala_err err;
    ck_assert_int_eq(nala_det_base_anchors((float)strides[lvl], ratios, 3, scales, n_scales, base, &err), NALA_OK);
    size_t n;
    snprintf(name, sizeof name, "%s_base_%d", prefix, lvl);
    const float *want_base = det_f32(f, name, &n, NULL);
    ck_assert_uint_eq(n, (size_t)12 * n_scales);
    nala_cmp c = nala_compare_f32(name, base, want_base, n, 0, 0);
    ck_assert_msg(c.max_abs == 0, "%s differs", name);

    int fh = (int)sizes[2 * lvl], fw = (int)sizes[2 * lvl + 1];
    size_t cap = (size_t)fh * fw * 3 * n_scales;
    float *grid = malloc(cap * 4 * sizeof *grid);
    ck_assert_int_eq(nala_det_grid_anchors(base, 3 * n_scales, strides[lvl], strides[lvl], fh, fw, grid, cap, &err),
                     NALA_OK);
    snprintf(name, sizeof name, "%s_grid_%d", prefix, lvl);
    const float *want = det_f32(f, name, &n, NULL);
    ck_assert_uint_eq(n, cap * 4);
    c = nala_compare_f32(name, grid, want, n, 0, 0);
    ck_assert_msg(c.max_abs == 0, "%s differs", name);
    free(grid);
  }
}

START_TEST(retinanet) {
  nala_st_file *f = det_open(DET_FIXTURE("anchors.safetensors"));
  float scales[3];
  nala_err err;
  ck_assert_int_eq(nala_det_octave_scales(4.0, 3, scales, &err), NALA_OK);
  size_t n;
  const float *want = det_f32(f, "retina_scales", &n, NULL);
  ck_assert_uint_eq(n, 3);
  nala_cmp c = nala_compare_f32("retina_scales", scales, want, 3, 0, 0);
  ck_assert(c.max_abs == 0);
  const int strides[5] = {8, 16, 32, 64, 128};
  check_levels(f, "retina", strides, scales, 3);
  nala_st_close(f);
}
END_TEST

START_TEST(rpn) {
  nala_st_file *f = det_open(DET_FIXTURE("anchors.safetensors"));
  const int strides[5] = {4, 8, 16, 32, 64};
  const float scales[1] = {8.0f};
  check_levels(f, "rpn", strides, scales, 1);
  nala_st_close(f);
}
END_TEST

START_TEST(hand_values) {
  /* Stride 16, ratio 0.5, scale 8: h_ratio = sqrt(.5), w = 16 * sqrt(2) * 8 = 181.02, h = 90.51;
   * the grid's second cell on the first row is that box shifted by x + 16. */
  float base[4], grid[8];
  const float r = 0.5f, s = 8.0f;
  nala_err err;
  ck_assert_int_eq(nala_det_base_anchors(16.0f, &r, 1, &s, 1, base, &err), NALA_OK);
  ck_assert_float_eq_tol(base[2] - base[0], 181.019336f, 1e-3f);
  ck_assert_float_eq_tol(base[3] - base[1], 90.509668f, 1e-3f);
  ck_assert_float_eq(base[0], -base[2]);
  ck_assert_int_eq(nala_det_grid_anchors(base, 1, 16, 16, 1, 2, grid, 2, &err), NALA_OK);
  ck_assert_float_eq(grid[4], base[0] + 16.0f);
  ck_assert_float_eq(grid[5], base[1]);
}
END_TEST

START_TEST(bad_input) {
  float out[64];
  const float r = 1.0f, bad_r = -1.0f, s = 8.0f;
  nala_err err;
  ck_assert_int_eq(nala_det_base_anchors(16.0f, &r, 0, &s, 1, out, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_det_base_anchors(16.0f, &bad_r, 1, &s, 1, out, &err), NALA_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.msg, "ratio 0"));
  ck_assert_int_eq(nala_det_octave_scales(4.0, 0, out, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_det_base_anchors(16.0f, &r, 1, &s, 1, out, &err), NALA_OK);
  ck_assert_int_eq(nala_det_grid_anchors(out, 1, 16, 16, 4, 4, out + 4, 15, &err), NALA_E_NOMEM);
  ck_assert_ptr_nonnull(strstr(err.msg, "needs 16"));
  ck_assert_int_eq(nala_det_grid_anchors(out, 1, 0, 16, 4, 4, out + 4, 15, &err), NALA_E_ARG);
}
END_TEST

int main(void) {
  Suite *s = suite_create("det_anchors");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, retinanet);
  tcase_add_test(tc, rpn);
  tcase_add_test(tc, hand_values);
  tcase_add_test(tc, bad_input);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
