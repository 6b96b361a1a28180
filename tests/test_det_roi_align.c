/* Multi-level RoIAlign vs torchvision.ops.roi_align(aligned=True, sampling_ratio=0) per level
 * (tests/fixtures/det/roi_align: 4 NHWC levels of a 150x200 image, strides 4..32, 8 channels),
 * 7x7 and 14x14, on random RoIs plus ones crossing the border, smaller than a bin, zero-width and
 * larger than the image; the level mapping (finest_scale 56) at its boundaries; the threaded
 * channel-last version against the plain reference. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "det/det.h"
#include "tests/det_fixture.h"
#include "tests/support/compare.h"
#include "tests/support/suite.h"

#define ROI_ATOL 1e-5

typedef struct roi_fixture {
  nala_st_file *file;
  nala_det_feat levels[4];
  const float *rois;
  size_t n;
} roi_fixture;

static roi_fixture load(void) {
  roi_fixture fx;
  fx.file = det_open(DET_FIXTURE("roi_align.safetensors"));
  for (int l = 0; l < 4; l++) {
    char name[32];
    int64_t d[4];
    snprintf(name, sizeof name, "feat_%d", l);
    fx.levels[l].data = det_f32(fx.file, name, NULL, d);
    fx.levels[l].h = (int)d[0], fx.levels[l].w = (int)d[1], fx.levels[l].c = (int)d[2];
    fx.levels[l].spatial_scale = 1.0f / (float)(4 << l);
  }
  size_t nr;
  fx.rois = det_f32(fx.file, "rois", &nr, NULL);
  fx.n = nr / 4;
  return fx;
}

static void run_size(int size, int n_threads) {
  roi_fixture fx = load();
  const int C = fx.levels[0].c;
  size_t n_out, per = (size_t)C * size * size;
  char name[32];
  snprintf(name, sizeof name, "out_%d", size);
  const float *want = det_f32(fx.file, name, &n_out, NULL);
  ck_assert_uint_eq(n_out, fx.n * per);
  float *out = malloc(n_out * sizeof *out), *ref = malloc(per * sizeof *ref);
  size_t ws_floats = nala_det_roi_align_ws_floats(C, n_threads);
  float *ws = malloc(ws_floats * sizeof *ws);
  int32_t lv[64];
  int64_t want_lv[64];
  ck_assert_uint_eq(det_i64(fx.file, "levels", want_lv, 64), fx.n);
  nala_err err;
  ck_assert_int_eq(nala_det_roi_align_levels(fx.levels, 4, 56.0f, fx.rois, fx.n, size, size, 0, out, lv, n_threads,
                                             ws, ws_floats, &err),
                   NALA_OK);
  for (size_t r = 0; r < fx.n; r++)
    ck_assert_msg(lv[r] == want_lv[r], "roi %zu: level %d, mmdet %lld", r, lv[r], (long long)want_lv[r]);
  snprintf(name, sizeof name, "roi_align %dx%d t%d", size, size, n_threads);
  nala_cmp c = nala_compare_f32(name, out, want, n_out, ROI_ATOL, 0);
  ck_assert_msg(c.max_abs <= ROI_ATOL && c.n_nonfinite == 0, "max_abs %g", c.max_abs);
  /* Per RoI (the border, tiny and zero-width ones are the last 12) and against the reference. */
  double worst_ref = 0;
  for (size_t r = 0; r < fx.n; r++) {
    nala_det_roi_align_ref(&fx.levels[lv[r]], fx.rois + 4 * r, size, size, 0, ref);
    for (size_t i = 0; i < per; i++)
      worst_ref = fmax(worst_ref, fabs((double)ref[i] - out[r * per + i]));
  }
  printf("%s: fast vs plain reference max_abs=%.3e\n", name, worst_ref);
  ck_assert(worst_ref == 0);
  /* The zero-width RoI (index 17) has no samples: mmcv divides an empty sum by 1. */
  for (size_t i = 0; i < per; i++)
    ck_assert(out[17 * per + i] == 0.0f);
  free(out);
  free(ref);
  free(ws);
  nala_st_close(fx.file);
}

START_TEST(out7) { run_size(7, 1); }
END_TEST
START_TEST(out14) { run_size(14, 2); }
END_TEST

START_TEST(level_boundaries) {
  nala_st_file *f = det_open(DET_FIXTURE("roi_align.safetensors"));
  size_t n;
  const float *rois = det_f32(f, "boundary_rois", &n, NULL);
  int64_t want[16];
  ck_assert_uint_eq(det_i64(f, "boundary_levels", want, 16), n / 4);
  for (size_t i = 0; i < n / 4; i++) {
    int lvl = nala_det_roi_level(rois + 4 * i, 56.0f, 4);
    printf("roi [%g %g %g %g]: level %d (mmdet %lld)\n", rois[4 * i], rois[4 * i + 1], rois[4 * i + 2],
           rois[4 * i + 3], lvl, (long long)want[i]);
    ck_assert_int_eq(lvl, (int)want[i]);
  }
  nala_st_close(f);
}
END_TEST

START_TEST(by_hand) {
  /* A constant map gives the constant inside; half of a RoI hanging past the bottom-right border
   * (beyond H = -1 .. H) samples zero, the other half the map's clamped edge. */
  float map[4 * 4 * 2];
  for (int i = 0; i < 32; i++)
    map[i] = i % 2 ? 3.0f : 1.0f;
  nala_det_feat f = {map, 4, 4, 2, 1.0f};
  const float inside[4] = {0.5f, 0.5f, 3.5f, 3.5f};
  float out[2 * 2 * 2], ws[2];
  nala_err err;
  ck_assert_int_eq(nala_det_roi_align(&f, inside, 1, 2, 2, 0, out, 1, ws, 2, &err), NALA_OK);
  for (int i = 0; i < 4; i++) {
    ck_assert_float_eq_tol(out[i], 1.0f, 1e-6f);
    ck_assert_float_eq_tol(out[4 + i], 3.0f, 1e-6f);
  }
  const float outside[4] = {20, 20, 30, 30};
  ck_assert_int_eq(nala_det_roi_align(&f, outside, 1, 2, 2, 0, out, 1, ws, 2, &err), NALA_OK);
  for (int i = 0; i < 8; i++)
    ck_assert_float_eq(out[i], 0.0f);
}
END_TEST

START_TEST(bad_input) {
  float map[16] = {0}, out[32], ws[4];
  nala_det_feat f = {map, 2, 2, 4, 0.25f};
  const float roi[4] = {0, 0, 4, 4};
  nala_err err;
  ck_assert_int_eq(nala_det_roi_align(&f, roi, 1, 2, 2, 0, out, 2, ws, 4, &err), NALA_E_NOMEM);
  ck_assert_ptr_nonnull(strstr(err.msg, "need 8"));
  ck_assert_int_eq(nala_det_roi_align(&f, roi, 1, 0, 2, 0, out, 1, ws, 4, &err), NALA_E_ARG);
  nala_det_feat levels[2] = {f, f};
  levels[1].c = 3;
  ck_assert_int_eq(nala_det_roi_align_levels(levels, 2, 56.0f, roi, 1, 2, 2, 0, out, NULL, 1, ws, 4, &err),
                   NALA_E_SHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "level 1 has 3 channels"));
  const float nan_roi[8] = {0, 0, 4, 4, 0, 0, NAN, 4}, huge_roi[4] = {0, 0, 1e30f, 4};
  ck_assert_int_eq(nala_det_roi_align(&f, nan_roi, 2, 2, 2, 0, out, 1, ws, 4, &err), NALA_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.msg, "roi 1"));
  ck_assert_int_eq(nala_det_roi_align(&f, huge_roi, 1, 2, 2, 0, out, 1, ws, 4, &err), NALA_E_ARG);
  levels[1].c = 4, levels[1].data = NULL;
  ck_assert_int_eq(nala_det_roi_align_levels(levels, 2, 56.0f, roi, 1, 2, 2, 0, out, NULL, 1, ws, 4, &err),
                   NALA_E_ARG);
}
END_TEST

int main(void) {
  Suite *s = suite_create("det_roi_align");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, out7);
  tcase_add_test(tc, out14);
  tcase_add_test(tc, level_boundaries);
  tcase_add_test(tc, by_hand);
  tcase_add_test(tc, bad_input);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
