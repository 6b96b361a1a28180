/* Banded 3x3 convolutions (core/nn/conv_banded.c: Winograd on AVX-512, blocked direct on AVX2)
 * against the NHWC path (NALA_CONV=direct) and a plain C reference, on odd sizes: two and three
 * bands (the last one short), channel slices in and out, the sum post-op with and without ReLU, a
 * small map sharing a bigger plan's weights copy, the size rules, batches of 1 and 3 (batches stay
 * NHWC). Where oneDNN has no avx512_core (or ONEDNN_MAX_CPU_ISA hides it) the Winograd checks print
 * that they are skipped and the AVX2 blocked direct plan is checked in their place. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn/conv_banded.h"
#include "core/nn/layer.h"
#include "core/nn/prims.h"
#include "tests/support/compare.h"
#include "tests/support/conv_rt.h"
#include "tests/support/suite.h"

#define REL_L2_MAX 1e-5 /* F(4x4, 3x3) transforms round more than direct (measured ~1e-6) */
#define MAX_ABS_MAX 1e-4

typedef struct conv_case {
  const char *name;
  int n, ic, oc, h, w;
  int src_pad, dst_pad; /* extra channels around the slice: ld = c + pad, slice at channel pad / 2 */
  int posts;
  int shared; /* plan the layer on a 64x64 map first: a small map then shares its Winograd weights */
  int wino_bands; /* Winograd convolutions (bands) expected where Winograd runs; 0: not checked */
} conv_case;

static const conv_case cases[] = {
    {"67x71 two bands relu", 1, 64, 80, 67, 71, 0, 0, NALA_POST_RELU, 0, 0},
    {"69x65 slices sum", 1, 96, 64, 69, 65, 32, 48, NALA_POST_SUM, 0, 0},
    {"69x65 slices sum relu", 1, 96, 64, 69, 65, 32, 16, NALA_POST_SUM | NALA_POST_RELU, 0, 0},
    {"45x128 three bands relu", 1, 128, 128, 45, 128, 0, 0, NALA_POST_RELU, 0, 0},
    {"45x128 three bands slices sum relu", 1, 128, 128, 45, 128, 16, 32, NALA_POST_SUM | NALA_POST_RELU, 0, 0},
    {"13x17 sharing a 64x64 plan's weights", 1, 64, 80, 13, 17, 16, 0, NALA_POST_RELU, 1, 0},
    {"13x17 alone: below the pixel rule", 1, 64, 80, 13, 17, 0, 0, NALA_POST_RELU, 0, 0},
    {"batch 3 of 13x17 relu", 3, 64, 64, 13, 17, 0, 0, NALA_POST_RELU, 0, 0},
    {"7x9 below the size rule", 1, 64, 64, 7, 9, 0, 0, 0, 1, 0},
    /* SemanticFPN at 512x683 (maps 171, 86, 43 wide): 43 tiles per row, padded to an even count
     * (the pad columns zeroed and cropped); 11 tiles stay unpadded */
    {"30x171 padded three bands relu", 1, 128, 128, 30, 171, 0, 0, NALA_POST_RELU, 0, 0},
    {"24x171 padded slices sum", 1, 64, 80, 24, 171, 16, 32, NALA_POST_SUM, 0, 0},
    {"24x171 padded slices sum relu", 1, 64, 64, 24, 171, 32, 16, NALA_POST_SUM | NALA_POST_RELU, 0, 0},
    {"96x43 slices sum relu", 1, 64, 64, 96, 43, 32, 16, NALA_POST_SUM | NALA_POST_RELU, 0, 0},
    /* 384 -> 384: half its 21.2 MB of transformed weights is above the 6 MB band budget, so at W = 64
     * (1.77 MB per 4-row tile row) bands of 20 rows (20, 10) where the 6 MB rule gave 12 (12, 12, 6) */
    {"30x64 384 channels: bands sized by the weights", 1, 384, 384, 30, 64, 0, 0, NALA_POST_SUM | NALA_POST_RELU, 1,
     2},
};


/* Plain reference: NHWC src [n][h][w][lds] slice at channel 0 of the pointer, weights PyTorch
 * [oc][ic][3][3], pad 1; dst slice as src; sum adds the existing dst, relu after. */
static void reference(const conv_case *c, const float *src, int lds, const float *wt, const float *bias, float *dst,
                      int ldd) {
  for (int b = 0; b < c->n; b++)
    for (int y = 0; y < c->h; y++)
      for (int x = 0; x < c->w; x++)
        for (int o = 0; o < c->oc; o++) {
          double acc = bias[o];
          for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
              int sy = y + ky - 1, sx = x + kx - 1;
              if (sy < 0 || sy >= c->h || sx < 0 || sx >= c->w)
                continue;
              const float *px = src + (((size_t)b * c->h + sy) * c->w + sx) * lds;
              for (int i = 0; i < c->ic; i++)
                acc += (double)px[i] * wt[((size_t)o * c->ic + i) * 9 + ky * 3 + kx];
            }
          float *out = dst + (((size_t)b * c->h + y) * c->w + x) * ldd + o;
          if (c->posts & NALA_POST_SUM)
            acc += *out;
          if ((c->posts & NALA_POST_RELU) && acc < 0)
            acc = 0;
          *out = (float)acc;
        }
}

/* Plans and runs case c on runtime rt; out gets the whole dst buffer (slice and the channels
 * around it); returns the op count (1: one direct convolution). */
static int run_case(const nala_rt *rt, const conv_case *c, const float *wt, const float *bias, const float *src_init,
                    const float *dst_init, float *out, int *wino_ops, int *wino_w) {
  nala_err err;
  int lds = c->ic + c->src_pad, ldd = c->oc + c->dst_pad;
  nala_layer L;
  memset(&L, 0, sizeof L);
  nala_conv_shape s = NALA_CONV_SHAPE(c->ic, c->oc, 3, 1, 1);
  ck_assert_msg(nala_conv_init(rt, &L, s, wt, bias, &err) == NALA_OK, "%s", err.msg);
  nala_graph g;
  nala_graph_init(&g, rt->engine, 1);
  size_t src_n = (size_t)c->n * c->h * c->w * lds, dst_n = (size_t)c->n * c->h * c->w * ldd;
  if (c->shared) {
    nala_feat big_in = nala_graph_feat(&g, c->ic, 64, 64), big_out = nala_graph_feat(&g, c->oc, 64, 64);
    ck_assert_int_eq(nala_conv_op(&g, &L, 64, 64, big_in.off, 0, big_out.off, 0, 0, -1, &err), NALA_OK);
  }
  int first_op = g.n_ops;
  /* taken after the 64x64 plan: its Winograd bands must not land on these (filled before the run) */
  size_t src = nala_graph_region(&g, src_n * 4), dst = nala_graph_region(&g, dst_n * 4);
  size_t src_at = src + (size_t)(c->src_pad / 2) * 4, dst_at = dst + (size_t)(c->dst_pad / 2) * 4;
  nala_status st = c->n == 1 ? nala_conv_op(&g, &L, c->h, c->w, src_at, lds, dst_at, ldd, c->posts, -1, &err)
                             : nala_conv_op_batch(&g, &L, c->n, c->h, c->w, src_at, dst_at, c->posts, -1, &err);
  ck_assert_msg(st == NALA_OK, "%s: %s", c->name, err.msg);
  *wino_ops = 0;
  *wino_w = 0;
  for (int i = first_op; i < g.n_ops; i++) {
    const_dnnl_primitive_desc_t pd = NULL;
    if (!g.ops[i].fn && dnnl_primitive_get_primitive_desc(g.ops[i].prim, &pd) == dnnl_success &&
        strstr(nala_dnnl_impl(pd), "wino_4x3")) {
      (*wino_ops)++;
      int w = (int)dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0)->dims[3];
      ck_assert_msg(!*wino_w || *wino_w == w, "%s: Winograd bands %d and %d wide", c->name, *wino_w, w);
      *wino_w = w;
    }
  }
  size_t bytes = (nala_graph_ws_bytes(&g) + 63) / 64 * 64;
  char *ws = aligned_alloc(64, bytes);
  ck_assert_ptr_nonnull(ws);
  memset(ws, 0, bytes); /* the shared 64x64 plan runs too, on zeros */
  memcpy(ws + src, src_init, src_n * 4);
  memcpy(ws + dst, dst_init, dst_n * 4);
  nala_graph_bind(&g, ws);
  dnnl_stream_t stream;
  ck_assert_int_eq(dnnl_stream_create(&stream, rt->engine, dnnl_stream_default_flags), dnnl_success);
  ck_assert_msg(nala_graph_execute(&g, stream, &err) == NALA_OK, "%s: %s", c->name, err.msg);
  memcpy(out, ws + dst, dst_n * 4);
  int n_ops = g.n_ops - first_op;
  dnnl_stream_destroy(stream);
  nala_graph_release(&g);
  nala_layer_free(&L);
  free(ws);
  return n_ops;
}


static void check_close(const char *label, const float *got, const float *want, size_t n) {
  nala_cmp cmp = nala_compare_f32(label, got, want, n, MAX_ABS_MAX, 1e-4);
  ck_assert_msg(cmp.n_nonfinite == 0 && cmp.rel_l2 <= REL_L2_MAX && cmp.max_abs <= MAX_ABS_MAX,
                "%s: max_abs %.3g rel_l2 %.3g", label, cmp.max_abs, cmp.rel_l2);
}

START_TEST(winograd_matches_direct_and_reference) {
  /* oneDNN's blocked kernels (NALA_CONV=blocked; auto now picks nala's Winograd: test_conv_wino.c) */
  nala_rt *rt_auto = nala_test_conv_runtime("blocked"), *rt_direct = nala_test_conv_runtime("direct");
  dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  int have_wino = isa >= dnnl_cpu_isa_avx512_core, have_avx2 = isa >= dnnl_cpu_isa_avx2;
  if (!have_wino)
    printf("Winograd: skipped (oneDNN's CPU ISA is below avx512_core: no jit_wino_4x3); %s\n",
           have_avx2 ? "the AVX2 blocked direct plan is checked instead" : "NHWC plans checked alone");
  const conv_case *c = &cases[_i];
  unsigned seed = 1234u + (unsigned)_i;
  int lds = c->ic + c->src_pad, ldd = c->oc + c->dst_pad;
  size_t src_n = (size_t)c->n * c->h * c->w * lds, dst_n = (size_t)c->n * c->h * c->w * ldd;
  size_t wn = (size_t)c->oc * c->ic * 9;
  float *wt = malloc(wn * 4), *bias = malloc((size_t)c->oc * 4), *src = malloc(src_n * 4), *dst0 = malloc(dst_n * 4);
  float *want = malloc(dst_n * 4), *got_auto = malloc(dst_n * 4), *got_direct = malloc(dst_n * 4);
  ck_assert(wt && bias && src && dst0 && want && got_auto && got_direct);
  nn_conv_fill(&seed, c->ic, c->oc, wt, bias, src, src_n, dst0, dst_n);
  memcpy(want, dst0, dst_n * 4);
  reference(c, src + c->src_pad / 2, lds, wt, bias, want + c->dst_pad / 2, ldd);

  int wino_ops_auto = 0, wino_ops_direct = 0, wino_w = 0, wino_w_direct = 0;
  int ops_auto = run_case(rt_auto, c, wt, bias, src, dst0, got_auto, &wino_ops_auto, &wino_w);
  int ops_direct = run_case(rt_direct, c, wt, bias, src, dst0, got_direct, &wino_ops_direct, &wino_w_direct);
  printf("%s: auto %d ops (%d Winograd, bands %d wide), direct %d ops\n", c->name, ops_auto, wino_ops_auto, wino_w,
         ops_direct);
  ck_assert_int_eq(wino_ops_direct, 0);
  ck_assert_int_eq(ops_direct, 1);
  int big = c->shared || c->h * c->w >= NALA_BANDED_MIN_PIXELS;
  int expect_banded = have_avx2 && c->n == 1 && c->h >= NALA_BANDED_MIN_HW && c->w >= NALA_BANDED_MIN_HW && big;
  int expect_wino = expect_banded && have_wino;
  /* A small map takes the AVX2 blocked path when its weights need no copy (the model's format is the
   * blocked conv's): either is right there. */
  int either = have_avx2 && !have_wino && !big && c->n == 1 && c->h >= NALA_BANDED_MIN_HW;
  ck_assert_msg(either || (expect_banded ? ops_auto > 1 : ops_auto == 1), "%s: %d ops, expected %s", c->name,
                ops_auto, expect_banded ? "bands" : "one NHWC conv");
  ck_assert_msg(expect_wino ? wino_ops_auto > 0 : wino_ops_auto == 0, "%s: %d Winograd ops, expected %s", c->name,
                wino_ops_auto, expect_wino ? "some" : "none");
  /* an odd count of 4-wide tiles per row from 25 up is padded to an even one (band_width) */
  int tiles = (c->w + 3) / 4, want_w = tiles % 2 && tiles >= 25 ? (tiles + 1) * 4 : c->w;
  ck_assert_msg(!wino_ops_auto || !c->wino_bands || wino_ops_auto == c->wino_bands,
                "%s: %d Winograd bands, expected %d", c->name, wino_ops_auto, c->wino_bands);
  ck_assert_msg(!wino_ops_auto || wino_w == want_w, "%s: Winograd bands %d wide, expected %d", c->name, wino_w,
                want_w);
  char label[128];
  snprintf(label, sizeof label, "%s: direct vs reference", c->name);
  check_close(label, got_direct, want, dst_n);
  snprintf(label, sizeof label, "%s: auto vs reference", c->name);
  check_close(label, got_auto, want, dst_n);
  snprintf(label, sizeof label, "%s: auto vs direct", c->name);
  check_close(label, got_auto, got_direct, dst_n);
  /* The channels around the dst slice are the caller's: untouched, bit for bit. */
  for (size_t p = 0; p < dst_n / ldd; p++)
    for (int ch = 0; ch < ldd; ch++)
      if (ch < c->dst_pad / 2 || ch >= c->dst_pad / 2 + c->oc)
        ck_assert_msg(got_auto[p * ldd + ch] == dst0[p * ldd + ch], "%s: channel %d of pixel %zu outside the slice "
                      "was written", c->name, ch, p);
  free(wt), free(bias), free(src), free(dst0), free(want), free(got_auto), free(got_direct);
  nala_rt_free(rt_auto);
  nala_rt_free(rt_direct);
}
END_TEST

START_TEST(unknown_conv_option_is_refused) {
  nala_err err;
  nala_rt *rt = NULL;
  setenv("NALA_CONV", "fastest", 1);
  nala_status st = nala_rt_create(NALA_ISA_AUTO, &rt, &err);
  unsetenv("NALA_CONV");
  ck_assert_int_eq(st, NALA_E_ARG);
  printf("NALA_CONV=fastest: %s\n", err.msg);
  ck_assert_ptr_nonnull(strstr(err.msg, "NALA_CONV=fastest"));
  ck_assert_ptr_null(rt);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("conv_banded");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 300); /* the plain reference of the 256-channel cases takes seconds */
  tcase_add_loop_test(tc, winograd_matches_direct_and_reference, 0, (int)(sizeof cases / sizeof cases[0]));
  tcase_add_test(tc, unknown_conv_option_is_refused);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nala_run_suite(suite()); }
