/* Mask paste vs a torch restatement of mmdet's _do_paste_mask on CPU (F.grid_sample), in
 * tests/fixtures/det/mask_paste: 28x28 masks pasted into a 40x56 image for boxes inside, across
 * every edge, smaller than a pixel, of zero width, covering the image and mostly outside it.
 * Windows and probabilities must match exactly (fused multiply-adds as torch's CPU grid sampler),
 * thresholded pixels (>= 0.5) too; pixels within PROB_ATOL of 0.5 are counted and printed. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "det/det.h"
#include "tests/det_fixture.h"
#include "tests/support/compare.h"
#include "tests/support/suite.h"

#define PROB_ATOL 1e-6

START_TEST(fixtures) {
  nala_st_file *f = det_open(DET_FIXTURE("mask_paste.safetensors"));
  int64_t hw[2], win[64];
  det_i64(f, "img_hw", hw, 2);
  const int H = (int)hw[0], W = (int)hw[1];
  size_t nm, nb, np;
  int64_t md[4];
  const float *masks = det_f32(f, "masks", &nm, md);
  const float *boxes = det_f32(f, "boxes", &nb, NULL);
  const float *probs = det_f32(f, "probs", &np, NULL);
  const size_t n = nb / 4, mh = (size_t)md[1], mw = (size_t)md[2];
  ck_assert_uint_eq(det_i64(f, "windows", win, 64), 4 * n);
  ck_assert_uint_eq(np, n * H * W);
  float *got = calloc((size_t)H * W, sizeof *got), *want = malloc((size_t)H * W * sizeof *want);
  uint8_t *bitmap = malloc((size_t)(H + 1) * (W + 3));
  size_t total_px = 0, agree = 0, near_thr = 0;
  for (size_t i = 0; i < n; i++) {
    const float *box = boxes + 4 * i;
    nala_det_window w = nala_det_paste_window(box, H, W);
    printf("box %zu [%g %g %g %g]: window y %d..%d x %d..%d (mmdet %lld..%lld, %lld..%lld)\n", i, box[0], box[1],
           box[2], box[3], w.y0, w.y1, w.x0, w.x1, (long long)win[4 * i], (long long)win[4 * i + 1],
           (long long)win[4 * i + 2], (long long)win[4 * i + 3]);
    ck_assert(w.y0 == win[4 * i] && w.y1 == win[4 * i + 1] && w.x0 == win[4 * i + 2] && w.x1 == win[4 * i + 3]);
    /* Window probabilities, compared over the whole image (zero outside, as the fixture stores). */
    float *window = malloc((size_t)(w.y1 - w.y0) * (w.x1 - w.x0) * sizeof *window + 1);
    nala_det_paste_mask_probs(masks + i * mh * mw, (int)mh, (int)mw, box, w, window);
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        int in = y >= w.y0 && y < w.y1 && x >= w.x0 && x < w.x1;
        got[(size_t)y * W + x] = in ? window[(size_t)(y - w.y0) * (w.x1 - w.x0) + (x - w.x0)] : 0.0f;
        want[(size_t)y * W + x] = probs[i * H * W + (size_t)y * W + x];
      }
    free(window);
    char label[32];
    snprintf(label, sizeof label, "mask %zu probs", i);
    nala_cmp c = nala_compare_f32(label, got, want, (size_t)H * W, PROB_ATOL, 0);
    ck_assert_msg(c.max_abs == 0, "%s: max_abs %g", label, c.max_abs);
    /* Thresholded paste with a row stride wider than the image. */
    const size_t stride = (size_t)W + 3;
    nala_err err;
    ck_assert_int_eq(nala_det_paste_mask(masks + i * mh * mw, (int)mh, (int)mw, box, 0.5f, H, W, bitmap, stride, &err),
                     NALA_OK);
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        float p = want[(size_t)y * W + x];
        int ref_bit = p >= 0.5f, bit = bitmap[(size_t)y * stride + x];
        ck_assert(bit == 0 || bit == 1);
        total_px++;
        near_thr += fabsf(p - 0.5f) <= (float)PROB_ATOL;
        ck_assert_msg(bit == ref_bit, "mask %zu pixel (%d,%d): got %d, mmdet %d (p=%.9g)", i, y, x, bit, ref_bit, p);
        agree++;
      }
  }
  printf("thresholded pixels: %zu of %zu agree (%zu within %g of 0.5)\n", agree, total_px, near_thr, PROB_ATOL);
  ck_assert_uint_eq(agree, total_px);
  free(got);
  free(want);
  free(bitmap);
  nala_st_close(f);
}
END_TEST

START_TEST(by_hand) {
  /* A mask of ones pasted on [2, 2, 6, 6] in 10x10: pixel centres inside the box sample the mask
   * (>= 0.5); one pixel out, zero padding gives < 0.5 at x = 1 (centre 1.5: half a mask cell of 1). */
  float ones[4 * 4];
  for (int i = 0; i < 16; i++)
    ones[i] = 1.0f;
  const float box[4] = {2, 2, 6, 6};
  uint8_t bm[100];
  nala_err err;
  ck_assert_int_eq(nala_det_paste_mask(ones, 4, 4, box, 0.5f, 10, 10, bm, 10, &err), NALA_OK);
  int count = 0;
  for (int i = 0; i < 100; i++)
    count += bm[i];
  ck_assert_int_eq(count, 16);
  ck_assert_int_eq(bm[2 * 10 + 2], 1);
  ck_assert_int_eq(bm[2 * 10 + 1], 0);
  /* Off the image: an empty window and an all-zero bitmap. */
  const float off[4] = {-9, 2, -4, 6};
  nala_det_window w = nala_det_paste_window(off, 10, 10);
  ck_assert(w.x1 <= w.x0);
  ck_assert_int_eq(nala_det_paste_mask(ones, 4, 4, off, 0.5f, 10, 10, bm, 10, &err), NALA_OK);
  for (int i = 0; i < 100; i++)
    ck_assert_int_eq(bm[i], 0);
}
END_TEST

START_TEST(bad_input) {
  float m[4] = {0};
  const float box[4] = {0, 0, 1, 1};
  uint8_t bm[16];
  nala_err err;
  ck_assert_int_eq(nala_det_paste_mask(m, 2, 2, box, 0.5f, 4, 4, bm, 3, &err), NALA_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.msg, "stride 3"));
  ck_assert_int_eq(nala_det_paste_mask(m, 0, 2, box, 0.5f, 4, 4, bm, 4, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_det_paste_mask(NULL, 2, 2, box, 0.5f, 4, 4, bm, 4, &err), NALA_E_ARG);
}
END_TEST

int main(void) {
  Suite *s = suite_create("det_mask_paste");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, fixtures);
  tcase_add_test(tc, by_hand);
  tcase_add_test(tc, bad_input);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
