/* The usage example of include/nala/nala.h, run for real: a borrowed camera frame (with row
 * padding) through the mmdet preprocessing into the backbone, five frames, checked against the
 * same frame through the allocating path. Seeded weights stand in for the checkpoint. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "nala/nala.h"
#include "tests/support/compare.h"
#include "tests/support/suite.h"

START_TEST(camera_loop_from_the_header) {
  nala_err err;
  nala_backbone_cfg cfg;
  nala_weights *weights;
  nala_backbone *model;
  nala_backbone_ctx *ctx;
  ck_assert_int_eq(nala_backbone_cfg_preset("xt", &cfg, &err), NALA_OK);
  ck_assert_int_eq(nala_weights_seeded(0, &weights, &err), NALA_OK);
  ck_assert_int_eq(nala_backbone_create(&cfg, weights, NULL, &model, &err), NALA_OK);
  nala_weights_close(weights);
  ck_assert_int_eq(nala_backbone_ctx_create(model, 2, &ctx, &err), NALA_OK);

  enum { H = 120, W = 160, ROW = W * 3 + 64 };
  nala_preprocess_cfg pp = nala_preprocess_mmdet_coco();
  pp.layout = NALA_NHWC;
  nala_preprocess_sizes sz;
  ck_assert_int_eq(nala_preprocess_out_size(&pp, H, W, &sz, &err), NALA_OK);
  float *input = malloc(sz.out_floats * sizeof(float));
  uint8_t *scratch = malloc(sz.scratch_bytes + 1);
  ck_assert_int_eq(nala_backbone_plan(ctx, sz.meta.pad_h, sz.meta.pad_w, &err), NALA_OK);

  uint8_t *camera_bgr = malloc((size_t)H * ROW);
  for (int frame_no = 0; frame_no < 5; frame_no++) {
    for (int y = 0; y < H; y++)
      for (int x = 0; x < ROW; x++)
        camera_bgr[y * ROW + x] = (uint8_t)(x * 7 + y * 3 + frame_no * 11);
    nala_image frame = {.h = H, .w = W, .c = 3, .stride = ROW, .data = camera_bgr, .order = NALA_BGR};
    nala_preprocess_meta meta;
    ck_assert_int_eq(nala_preprocess_into(&pp, &frame, input, sz.out_floats, scratch, sz.scratch_bytes, &meta, &err),
                     NALA_OK);
    ck_assert_int_eq(nala_backbone_forward_nhwc(ctx, input, &err), NALA_OK);
    nala_feature p3;
    ck_assert_int_eq(nala_backbone_output(ctx, 1, &p3, &err), NALA_OK);
    /* 120x160 -> 800x1067 (mmcv rescale) -> padded 800x1088 -> stride 8: 100x136. */
    ck_assert_int_eq(meta.pad_h, 800);
    ck_assert_int_eq(meta.pad_w, 1088);
    ck_assert_int_eq(p3.h, 100);
    ck_assert_int_eq(p3.w, 136);
    if (frame_no == 4) {
      /* The same frame through the allocating preprocessing and the NCHW entry point. */
      nala_preprocess_cfg pp_nchw = pp;
      pp_nchw.layout = NALA_NCHW;
      nala_preprocessed t;
      ck_assert_int_eq(nala_preprocess(&pp_nchw, &frame, &t, &err), NALA_OK);
      size_t n = (size_t)p3.c * p3.h * p3.w;
      float *first = malloc(n * sizeof(float));
      memcpy(first, p3.data, n * sizeof(float));
      ck_assert_int_eq(nala_backbone_forward(ctx, t.data, &err), NALA_OK);
      ck_assert_int_eq(nala_backbone_output(ctx, 1, &p3, &err), NALA_OK);
      nala_cmp r = nala_compare_f32("NHWC loop vs NCHW path", first, p3.data, n, 0, 0);
      ck_assert(r.max_abs == 0);
      free(first);
      nala_preprocessed_free(&t);
    }
  }
  free(camera_bgr);
  free(input), free(scratch);
  nala_backbone_ctx_free(ctx);
  nala_backbone_free(model);
}
END_TEST

int main(void) {
  Suite *s = suite_create("example");
  TCase *tc = tcase_create("header");
  tcase_add_test(tc, camera_loop_from_the_header);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
