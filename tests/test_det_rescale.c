/* Boxes back to original pixels with the scale factors of the mmdet COCO preprocessing
 * (nala_preprocess_out_size, Resize 1333x800 keep-ratio), vs tests/fixtures/det/rescale (mmcv's
 * rescale rules and both mmdet rescale forms in torch), plus a round trip original -> input scale
 * -> original. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "det/det.h"
#include "nala/preprocess.h"
#include "tests/det_fixture.h"
#include "tests/support/compare.h"
#include "tests/support/suite.h"

START_TEST(fixtures) {
  nala_st_file *f = det_open(DET_FIXTURE("rescale.safetensors"));
  int64_t metas[64];
  size_t nmeta = det_i64(f, "metas", metas, 64) / 4;
  ck_assert_uint_ge(nmeta, 6);
  nala_preprocess_cfg cfg = nala_preprocess_mmdet_coco();
  double worst_trip = 0;
  for (size_t k = 0; k < nmeta; k++) {
    int ori_h = (int)metas[4 * k], ori_w = (int)metas[4 * k + 1];
    nala_preprocess_sizes sz;
    nala_err err;
    ck_assert_int_eq(nala_preprocess_out_size(&cfg, ori_h, ori_w, &sz, &err), NALA_OK);
    char name[32];
    snprintf(name, sizeof name, "scales_%zu", k);
    double ws = det_f64_at(f, name, 0), hs = det_f64_at(f, name, 1);
    printf("%dx%d -> %dx%d (mmcv %lldx%lld), w_scale %.17g (%.17g), h_scale %.17g (%.17g)\n", ori_h, ori_w,
           sz.meta.img_h, sz.meta.img_w, (long long)metas[4 * k + 2], (long long)metas[4 * k + 3], sz.meta.w_scale,
           ws, sz.meta.h_scale, hs);
    ck_assert_int_eq(sz.meta.img_h, (int)metas[4 * k + 2]);
    ck_assert_int_eq(sz.meta.img_w, (int)metas[4 * k + 3]);
    ck_assert(sz.meta.w_scale == ws && sz.meta.h_scale == hs);

    size_t nb;
    snprintf(name, sizeof name, "boxes_%zu", k);
    const float *boxes = det_f32(f, name, &nb, NULL);
    float *got = malloc(nb * sizeof *got);
    const char *modes[2] = {"div", "mul"};
    for (int mode = 0; mode < 2; mode++) {
      memcpy(got, boxes, nb * sizeof *got);
      ck_assert_int_eq(nala_det_rescale_boxes(got, nb / 4, sz.meta.w_scale, sz.meta.h_scale,
                                              (nala_det_rescale_mode)mode, &err),
                       NALA_OK);
      snprintf(name, sizeof name, "%s_%zu", modes[mode], k);
      nala_cmp c = nala_compare_f32(name, got, det_f32(f, name, NULL, NULL), nb, 0, 0);
      ck_assert_msg(c.max_abs == 0, "%s: max_abs %g", name, c.max_abs);
    }
    /* Round trip: the divided boxes scaled up again (float32 multiply) and back give themselves. */
    snprintf(name, sizeof name, "div_%zu", k);
    const float *ori = det_f32(f, name, NULL, NULL);
    for (size_t i = 0; i < nb; i++)
      got[i] = ori[i] * (float)(i % 2 ? sz.meta.h_scale : sz.meta.w_scale);
    ck_assert_int_eq(nala_det_rescale_boxes(got, nb / 4, sz.meta.w_scale, sz.meta.h_scale, NALA_DET_RESCALE_DIVIDE,
                                            &err),
                     NALA_OK);
    for (size_t i = 0; i < nb; i++)
      worst_trip = fmax(worst_trip, fabs((double)got[i] - ori[i]) / fmax(1.0, fabs(ori[i])));
    free(got);
  }
  printf("round trip original -> input -> original: max rel error %.3e\n", worst_trip);
  ck_assert(worst_trip <= 2.5e-7);
  nala_st_close(f);
}
END_TEST

START_TEST(bad_input) {
  float b[4] = {1, 2, 3, 4};
  nala_err err;
  ck_assert_int_eq(nala_det_rescale_boxes(b, 1, 0.0, 1.0, NALA_DET_RESCALE_DIVIDE, &err), NALA_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.msg, "w 0"));
  ck_assert_int_eq(nala_det_rescale_boxes(b, 1, 1.0, 1.0, (nala_det_rescale_mode)7, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_det_rescale_boxes(NULL, 1, 1.0, 1.0, NALA_DET_RESCALE_DIVIDE, &err), NALA_E_ARG);
  ck_assert_float_eq(b[0], 1.0f);
}
END_TEST

int main(void) {
  Suite *s = suite_create("det_rescale");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, fixtures);
  tcase_add_test(tc, bad_input);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
