/* The segmentor's postprocessing kernels (seg/seg_post.c) against the runtime's resize and plain
 * formulas: seg_resize equals nala_resize_op bit for bit (the op tested against torch in
 * test_nn_prims), the fused resize + argmax equals resize then argmax bit for bit (values on a
 * 1/8 grid, so ties are frequent and first-maximum-wins is exercised), the slide sum / count equals
 * per-window resizes summed in window order, and argmax follows torch on ties and NaN. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn/bilinear.h"
#include "core/nn/prims.h"
#include "core/nn/runtime.h"
#include "seg/seg_internal.h"
#include "tests/support/suite.h"

enum { C = 7, LD = 10 }; /* classes; floats per source pixel (a channel slice of a wider map) */

/* Source map h x w (pitch pixels a row) at offset 0 of ws, values k/8 for k in -2..2. */
static void fill(char *ws, int h, int w, int pitch, unsigned seed) {
  float *s = (float *)ws;
  for (int i = 0; i < h * pitch * LD; i++) {
    seed = seed * 1103515245u + 12345u;
    s[i] = (float)((int)((seed >> 16) % 5u) - 2) / 8.0f;
  }
  (void)w;
}

static const int sizes[][4] = {{5, 9, 17, 23}, {17, 23, 5, 9}, {6, 6, 13, 7}, {11, 4, 11, 4}, {3, 14, 40, 3}};

START_TEST(fused_argmax_equals_resize_then_argmax) {
  int h = sizes[_i][0], w = sizes[_i][1], oh = sizes[_i][2], ow = sizes[_i][3], pitch = w + 2;
  size_t src_bytes = (size_t)h * pitch * LD * 4, dst_off = (src_bytes + 63) / 64 * 64;
  size_t lab_off = dst_off + (size_t)oh * ow * C * 4, tmp_off = lab_off + (size_t)oh * ow * 4;
  char *ws = aligned_alloc(64, (tmp_off + 4 * C * 4 + 127) / 64 * 64);
  ck_assert_ptr_nonnull(ws);
  fill(ws, h, w, pitch, 7u + (unsigned)_i);
  seg_map src = {.off = 0, .h = h, .w = w, .pitch = pitch, .ld = LD};
  seg_resize(ws, &src, C, dst_off, oh, ow, 3);
  seg_resize_argmax(nala_bilinear_for(NALA_ISA_AUTO), ws, &src, C, lab_off, oh, ow, tmp_off, 3);
  const float *dst = (const float *)(ws + dst_off);
  const int32_t *lab = (const int32_t *)(ws + lab_off);
  int ties = 0;
  for (int p = 0; p < oh * ow; p++) {
    const float *v = dst + (size_t)p * C;
    int best = 0;
    for (int c = 1; c < C; c++)
      best = v[c] > v[best] ? c : best;
    for (int c = best + 1; c < C; c++)
      ties += v[c] == v[best];
    ck_assert_msg(lab[p] == best, "%dx%d -> %dx%d pixel %d: fused %d, unfused %d", h, w, oh, ow, p, lab[p], best);
  }
  printf("%dx%d -> %dx%d: fused argmax equal at all %d pixels (%d tied maxima)\n", h, w, oh, ow, oh * ow, ties);

  /* seg_resize vs the runtime's resize op on the same map */
  nala_err err;
  nala_rt *rt = NULL;
  ck_assert_int_eq(nala_rt_create(NALA_ISA_AUTO, &rt, &err), NALA_OK);
  dnnl_stream_t stream;
  ck_assert_int_eq(dnnl_stream_create(&stream, rt->engine, dnnl_stream_default_flags), dnnl_success);
  nala_graph g;
  nala_graph_init(&g, rt->engine, 2);
  nala_feat in = nala_graph_feat(&g, C, h, w), out = nala_graph_feat(&g, C, oh, ow);
  ck_assert_int_eq(nala_resize_op(&g, &in, &out, NALA_RESIZE_BILINEAR, -1, &err), NALA_OK);
  char *gws = aligned_alloc(64, (nala_graph_ws_bytes(&g) + 63) / 64 * 64);
  nala_graph_bind(&g, gws);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      memcpy(gws + in.off + ((size_t)y * w + x) * C * 4, ws + ((size_t)y * pitch + x) * LD * 4, C * 4);
  ck_assert_int_eq(nala_graph_execute(&g, stream, &err), NALA_OK);
  ck_assert(!memcmp(gws + out.off, dst, (size_t)oh * ow * C * 4));
  free(gws);
  nala_graph_release(&g);
  dnnl_stream_destroy(stream);
  nala_rt_free(rt);
  free(ws);
}
END_TEST

/* Whole mode through a resizing, padding pipeline: the streamed two-resize argmax equals the tensor-size
 * map materialised (seg_resize), cropped and resized with the argmax, bit for bit. {lh, lw, th, tw,
 * img_h, img_w, oh, ow} */
static const int chains[][8] = {{5, 7, 19, 25, 17, 22, 40, 31}, {5, 7, 19, 25, 17, 22, 9, 8},
                                {4, 6, 16, 24, 16, 24, 37, 53}, {3, 3, 12, 12, 11, 12, 11, 12}};

START_TEST(streamed_two_resizes_equal_materialised) {
  const int *k = chains[_i];
  int lh = k[0], lw = k[1], th = k[2], tw = k[3], ih = k[4], iw = k[5], oh = k[6], ow = k[7], nt = 3;
  size_t mid_off = 4096, a_off = mid_off + (size_t)th * tw * C * 4, b_off = a_off + (size_t)oh * ow * 4;
  size_t tmp_off = b_off + (size_t)oh * ow * 4, end = tmp_off + (size_t)nt * (2 * iw + 1) * C * 4;
  char *ws = aligned_alloc(64, (end + 63) / 64 * 64);
  ck_assert_ptr_nonnull(ws);
  ck_assert((size_t)lh * lw * LD * 4 <= mid_off);
  fill(ws, lh, lw, lw, 31u + (unsigned)_i);
  seg_map lg = {.off = 0, .h = lh, .w = lw, .pitch = lw, .ld = LD};
  seg_resize(ws, &lg, C, mid_off, th, tw, nt);
  seg_map crop = {.off = mid_off, .h = ih, .w = iw, .pitch = tw, .ld = C};
  seg_resize_argmax(nala_bilinear_for(NALA_ISA_AUTO), ws, &crop, C, a_off, oh, ow, tmp_off, nt);
  seg_resize2_argmax(nala_bilinear_for(NALA_ISA_AUTO), ws, &lg, C, th, tw, ih, iw, b_off, oh, ow, tmp_off, nt);
  ck_assert(!memcmp(ws + a_off, ws + b_off, (size_t)oh * ow * 4));
  printf("%dx%d -> %dx%d [crop %dx%d] -> %dx%d: streamed labels equal\n", lh, lw, th, tw, ih, iw, oh, ow);
  free(ws);
}
END_TEST

/* mmseg slide_inference on a 9 x 11 tensor with 3 overlapping windows per side (last clamped). */
START_TEST(slide_sum_and_count) {
  int th = 9, tw = 11, lh = 2, lw = 3;
  nala_crop_window win[4] = {{0, 0, 6, 7}, {0, 4, 6, 11}, {3, 0, 9, 7}, {3, 4, 9, 11}};
  size_t logit_bytes = (size_t)lh * lw * LD * 4, acc_off = 4096, cnt_off = acc_off + (size_t)th * tw * C * 4;
  size_t one_off = cnt_off + 4096;
  char *ws = aligned_alloc(64, (one_off + (size_t)6 * 7 * C * 4 + 127) / 64 * 64);
  ck_assert_ptr_nonnull(ws);
  ck_assert(logit_bytes <= acc_off);
  memset(ws + acc_off, 0, (size_t)th * tw * C * 4);
  memset(ws + cnt_off, 0, (size_t)th * tw * 4);
  float want[9 * 11 * C] = {0}, count[9 * 11] = {0};
  seg_map lg = {.off = 0, .h = lh, .w = lw, .pitch = lw, .ld = LD};
  for (int k = 0; k < 4; k++) {
    fill(ws, lh, lw, lw, 100u + (unsigned)k); /* each window's own logits */
    seg_accumulate(ws, &lg, C, win[k], acc_off, cnt_off, tw, 2);
    int wh = win[k].y2 - win[k].y1, ww = win[k].x2 - win[k].x1;
    seg_resize(ws, &lg, C, one_off, wh, ww, 1);
    const float *one = (const float *)(ws + one_off);
    for (int y = 0; y < wh; y++)
      for (int x = 0; x < ww; x++) {
        int p = (win[k].y1 + y) * tw + win[k].x1 + x;
        for (int c = 0; c < C; c++)
          want[p * C + c] += one[(y * ww + x) * C + c];
        count[p] += 1.0f;
      }
  }
  seg_divide(ws, acc_off, cnt_off, C, th, tw, 2);
  const float *acc = (const float *)(ws + acc_off), *cnt = (const float *)(ws + cnt_off);
  for (int p = 0; p < th * tw; p++) {
    ck_assert(cnt[p] == count[p] && count[p] >= 1);
    for (int c = 0; c < C; c++)
      ck_assert(acc[p * C + c] == want[p * C + c] / count[p]);
  }
  free(ws);
}
END_TEST

START_TEST(argmax_ties_and_nan) {
  const float a[] = {1, 3, 3, 2}, b[] = {-INFINITY, -INFINITY}, c[] = {1, NAN, 5, NAN}, d[] = {NAN, 2};
  ck_assert_int_eq(seg_argmax(a, 4), 1);
  ck_assert_int_eq(seg_argmax(b, 2), 0);
  ck_assert_int_eq(seg_argmax(c, 4), 1);
  ck_assert_int_eq(seg_argmax(d, 2), 0);
}
END_TEST

/* Every tier this CPU runs against the plain-C one: blend bit for bit, argmax on the same index, over
 * lengths around each vector width, on a 1/8 grid (ties) with NaN, -0 and -inf sprinkled in. */
START_TEST(bilinear_tiers_agree_with_ref) {
  static const nala_isa tiers[] = {NALA_ISA_AVX2, NALA_ISA_AVX512};
  enum { N = 520 };
  float p[4][N], want[N], got[N];
  unsigned seed = 99u;
  int runs = 0;
  for (int t = 0; t < 2; t++) {
    if (!nala_isa_supported(tiers[t])) {
      printf("bilinear: %s tier not supported here, skipped\n", nala_isa_name(tiers[t]));
      continue;
    }
    const nala_bilinear_kernels *bk = t ? &nala_bilinear_avx512 : &nala_bilinear_avx2;
    for (int n = 1; n <= N; n += n < 40 ? 1 : 37) {
      for (int trial = 0; trial < 6; trial++, runs++) {
        for (int k = 0; k < 4; k++)
          for (int c = 0; c < n; c++) {
            seed = seed * 1103515245u + 12345u;
            int r = (int)((seed >> 16) % 41u);
            p[k][c] = r == 40 && trial == 5 ? NAN : r == 39 ? -0.0f : r == 38 ? -INFINITY : (float)(r % 5 - 2) / 8.0f;
          }
        seed = seed * 1103515245u + 12345u;
        float wy = (float)(seed >> 20) / 4096.0f, wx = (float)((seed >> 8) & 4095u) / 4096.0f;
        nala_bilinear_px px = {p[0], p[1], p[2], p[3], 1.0f - wy, wy, 1.0f - wx, wx};
        nala_bilinear_ref.blend(&px, n, want);
        bk->blend(&px, n, got);
        ck_assert_msg(!memcmp(want, got, (size_t)n * sizeof(float)), "%s blend differs at n = %d",
                      nala_isa_name(tiers[t]), n);
        ck_assert_int_eq(bk->argmax(want, n), nala_bilinear_ref.argmax(want, n));
        ck_assert_int_eq(bk->argmax(p[trial % 4], n), nala_bilinear_ref.argmax(p[trial % 4], n));
      }
    }
  }
  printf("bilinear: %d blends and %d argmaxes equal to the plain-C tier\n", runs, 2 * runs);
}
END_TEST

int main(void) {
  Suite *s = suite_create("seg_post");
  TCase *tc = tcase_create("seg_post");
  tcase_add_loop_test(tc, fused_argmax_equals_resize_then_argmax, 0, (int)(sizeof sizes / sizeof *sizes));
  tcase_add_loop_test(tc, streamed_two_resizes_equal_materialised, 0, (int)(sizeof chains / sizeof *chains));
  tcase_add_test(tc, slide_sum_and_count);
  tcase_add_test(tc, argmax_ties_and_nan);
  tcase_add_test(tc, bilinear_tiers_agree_with_ref);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
