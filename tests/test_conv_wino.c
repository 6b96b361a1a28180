/* nala's Winograd F(4x4, 3x3) 3x3 convolutions (core/nn/conv_wino.c, core/nn/wino*.c) against
 * oneDNN's direct NHWC convolution (NALA_CONV=direct) on odd sizes (H, W not multiples of 4),
 * 16..2048 channels, one and several bands (the last one short), channel slices in and out, bias,
 * ReLU and the sum post-op; both transform tiers (plain C and AVX2, the latter skipped where the CPU
 * or NALA_MAX_ISA lacks it) and the AVX2 tier against the plain-C one. Also: auto picks it where
 * oneDNN has no Winograd (the _as_avx2 run), the transformed weights are made once per plan. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn/conv_banded.h"
#include "core/nn/conv_wino.h"
#include "core/nn/layer.h"
#include "tests/support/compare.h"
#include "tests/support/conv_rt.h"
#include "tests/support/suite.h"

/* F(4x4, 3x3) in float rounds more than direct: measured rel-L2 ~1e-7..1e-6 (printed below) */
#define REL_L2_MAX 1e-5
#define MAX_ABS_MAX 1e-4

typedef struct wino_case {
  const char *name;
  int ic, oc, h, w;
  int src_pad, dst_pad; /* extra channels around the slice: ld = c + pad, slice at channel pad / 2 */
  int posts;
  int min_bands; /* bands the plan must have at least */
  int threads;   /* the graph's (0: 1) */
} wino_case;

/* cheap ones first: the "odd" check case (also run on an emulated Zen 3, ctest conv_wino_on_zen3) */
static const wino_case cases[] = {
    {"15x20 16->16", 16, 16, 15, 20, 0, 0, 0, 1, 1},
    {"16x12 32->48 sum", 32, 48, 16, 12, 0, 0, NALA_POST_SUM, 1, 1},
    {"37x23 64->80 slices sum relu", 64, 80, 37, 23, 32, 16, NALA_POST_SUM | NALA_POST_RELU, 1, 1},
    {"37x23 64->80 slices sum relu, 2 threads", 64, 80, 37, 23, 32, 16, NALA_POST_SUM | NALA_POST_RELU, 1, 2},
    {"66x65 64->64 slices sum", 64, 64, 66, 65, 16, 32, NALA_POST_SUM, 1, 1},
#define N_ODD 5
    {"15x20 512->512 relu", 512, 512, 15, 20, 0, 0, NALA_POST_RELU, 1, 1},
    {"37x23 128->256 slices relu", 128, 256, 37, 23, 16, 48, NALA_POST_RELU, 1, 1},
    /* 12-row bands (50 tiles a row): 45 = 12 + 12 + 12 + 9 */
    {"45x200 128->128 four bands sum relu", 128, 128, 45, 200, 0, 0, NALA_POST_SUM | NALA_POST_RELU, 4, 1},
    {"45x200 128->128 four bands sum relu, 2 threads", 128, 128, 45, 200, 0, 0, NALA_POST_SUM | NALA_POST_RELU, 4, 2},
    /* the accuracy at UPerHead's widths (fpn_convs 512, a 2048-channel input) */
    {"64x64 512->512 relu", 512, 512, 64, 64, 0, 0, NALA_POST_RELU, 1, 1},
    {"64x64 2048->512 relu", 2048, 512, 64, 64, 0, 0, NALA_POST_RELU, 1, 1},
};


typedef enum path { PATH_DIRECT, PATH_REF, PATH_AVX2 } path;

/* Plans and runs case c; out gets the whole dst buffer. Returns the number of bands (input
 * transform kernels), 0 for the direct path. */
static int run_case(const nala_rt *rt, const wino_case *c, path p, const float *wt, const float *bias,
                    const float *src_init, const float *dst_init, float *out) {
  nala_err err;
  int lds = c->ic + c->src_pad, ldd = c->oc + c->dst_pad;
  nala_layer L;
  memset(&L, 0, sizeof L);
  nala_conv_shape s = NALA_CONV_SHAPE(c->ic, c->oc, 3, 1, 1);
  ck_assert_msg(nala_conv_init(rt, &L, s, wt, bias, &err) == NALA_OK, "%s", err.msg);
  /* oneDNN fixes a primitive's threads at creation: plan under the graph's count */
  int threads = c->threads ? c->threads : 1, saved = nala_threads_enter(threads);
  nala_graph g;
  nala_graph_init(&g, rt->engine, threads);
  size_t src_n = (size_t)c->h * c->w * lds, dst_n = (size_t)c->h * c->w * ldd;
  nala_wino_fns fns = nala_wino_for(p == PATH_AVX2 ? NALA_ISA_AVX2 : NALA_ISA_REF);
  int planned = 1;
  if (p != PATH_DIRECT && (size_t)c->h * c->w < NALA_BANDED_MIN_PIXELS) {
    /* a small map is planned only when the plan holds its weights already (a 64x64 map of them) */
    nala_feat big_in = nala_graph_feat(&g, c->ic, 64, 64), big_out = nala_graph_feat(&g, c->oc, 64, 64);
    ck_assert_int_eq(nala_wino_conv_op(&g, &L, fns, 64, 64, big_in.off, 0, big_out.off, 0, 0, -1, &planned, &err),
                     NALA_OK);
    ck_assert(planned);
  }
  int first_op = g.n_ops;
  size_t src = nala_graph_region(&g, src_n * 4), dst = nala_graph_region(&g, dst_n * 4);
  size_t src_at = src + (size_t)(c->src_pad / 2) * 4, dst_at = dst + (size_t)(c->dst_pad / 2) * 4;
  if (p == PATH_DIRECT)
    ck_assert_msg(nala_conv_op(&g, &L, c->h, c->w, src_at, lds, dst_at, ldd, c->posts, -1, &err) == NALA_OK, "%s: %s",
                  c->name, err.msg);
  else
    ck_assert_msg(nala_wino_conv_op(&g, &L, fns, c->h, c->w, src_at, lds, dst_at, ldd, c->posts, -1, &planned,
                                    &err) == NALA_OK, "%s: %s", c->name, err.msg);
  ck_assert_msg(planned, "%s: nala's Winograd was not planned", c->name);
  int kernels = 0, ops = g.n_ops - first_op;
  for (int i = first_op; i < g.n_ops; i++)
    kernels += g.ops[i].fn != NULL;
  if (p != PATH_DIRECT) /* (the direct path may copy slices with a kernel op) */
    ck_assert_msg(ops == 3 * (kernels / 2) && kernels % 2 == 0, "%s: %d ops, %d kernels", c->name, ops, kernels);
  size_t bytes = (nala_graph_ws_bytes(&g) + 63) / 64 * 64;
  char *ws = aligned_alloc(64, bytes);
  ck_assert_ptr_nonnull(ws);
  memset(ws, 0x7f, bytes); /* garbage (3.4e38) around: the transforms must not read it (the 64x64 maps overflow) */
  memcpy(ws + src, src_init, src_n * 4);
  memcpy(ws + dst, dst_init, dst_n * 4);
  nala_graph_bind(&g, ws);
  dnnl_stream_t stream;
  ck_assert_int_eq(dnnl_stream_create(&stream, rt->engine, dnnl_stream_default_flags), dnnl_success);
  ck_assert_msg(nala_graph_execute(&g, stream, &err) == NALA_OK, "%s: %s", c->name, err.msg);
  memcpy(out, ws + dst, dst_n * 4);
  dnnl_stream_destroy(stream);
  nala_threads_leave(saved);
  nala_graph_release(&g);
  nala_layer_free(&L);
  free(ws);
  return kernels / 2;
}

static void check_close(const char *label, const float *got, const float *want, size_t n, double rel_l2_max) {
  nala_cmp cmp = nala_compare_f32(label, got, want, n, MAX_ABS_MAX, 1e-4);
  ck_assert_msg(cmp.n_nonfinite == 0 && cmp.rel_l2 <= rel_l2_max && cmp.max_abs <= MAX_ABS_MAX,
                "%s: max_abs %.3g rel_l2 %.3g", label, cmp.max_abs, cmp.rel_l2);
}

START_TEST(winograd_matches_direct) {
  const wino_case *c = &cases[_i];
  nala_rt *rt = nala_test_conv_runtime("direct");
  unsigned seed = 777u + (unsigned)_i;
  int lds = c->ic + c->src_pad, ldd = c->oc + c->dst_pad;
  size_t src_n = (size_t)c->h * c->w * lds, dst_n = (size_t)c->h * c->w * ldd, wn = (size_t)c->oc * c->ic * 9;
  float *wt = malloc(wn * 4), *bias = malloc((size_t)c->oc * 4), *src = malloc(src_n * 4), *dst0 = malloc(dst_n * 4);
  float *want = malloc(dst_n * 4), *got_ref = malloc(dst_n * 4), *got_avx2 = malloc(dst_n * 4);
  ck_assert(wt && bias && src && dst0 && want && got_ref && got_avx2);
  nn_conv_fill(&seed, c->ic, c->oc, wt, bias, src, src_n, dst0, dst_n);
  run_case(rt, c, PATH_DIRECT, wt, bias, src, dst0, want);
  char label[160];
  int bands = run_case(rt, c, PATH_REF, wt, bias, src, dst0, got_ref);
  printf("%s: %d bands\n", c->name, bands);
  ck_assert_msg(bands >= c->min_bands, "%s: %d bands, expected at least %d", c->name, bands, c->min_bands);
  snprintf(label, sizeof label, "%s: wino ref vs direct", c->name);
  check_close(label, got_ref, want, dst_n, REL_L2_MAX);
  if (nala_isa_supported(NALA_ISA_AVX2)) {
    run_case(rt, c, PATH_AVX2, wt, bias, src, dst0, got_avx2);
    snprintf(label, sizeof label, "%s: wino avx2 vs direct", c->name);
    check_close(label, got_avx2, want, dst_n, REL_L2_MAX);
    snprintf(label, sizeof label, "%s: wino avx2 vs ref", c->name);
    check_close(label, got_avx2, got_ref, dst_n, 1e-6); /* same arithmetic, other rounding order */
  } else {
    printf("%s: avx2 transforms skipped (no AVX2 tier on this CPU or under NALA_MAX_ISA)\n", c->name);
  }
  /* The channels around the dst slice are the caller's: untouched, bit for bit. */
  for (size_t px = 0; px < dst_n / ldd; px++)
    for (int ch = 0; ch < ldd; ch++)
      if (ch < c->dst_pad / 2 || ch >= c->dst_pad / 2 + c->oc)
        ck_assert_msg(got_ref[px * ldd + ch] == dst0[px * ldd + ch], "%s: channel %d of pixel %zu written", c->name,
                      ch, px);
  free(wt), free(bias), free(src), free(dst0), free(want), free(got_ref), free(got_avx2);
  nala_rt_free(rt);
}
END_TEST

/* Where oneDNN has no Winograd (AVX2, as _as_avx2 emulates) auto plans nala's; NALA_CONV=blocked
 * keeps oneDNN's blocked direct there; the transformed weights are made once for two maps. */
START_TEST(auto_picks_nala_winograd) {
  nala_rt *rt_auto = nala_test_conv_runtime(NULL), *rt_blocked = nala_test_conv_runtime("blocked");
  nala_rt *rt_wino = nala_test_conv_runtime("wino");
  nala_conv_shape s = NALA_CONV_SHAPE(64, 64, 3, 1, 1);
  dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  int nala_avx2 = nala_isa_supported(NALA_ISA_AVX2);
  nala_banded_kind k_auto = nala_banded_kind_for(rt_auto, &s), k_blocked = nala_banded_kind_for(rt_blocked, &s);
  nala_banded_kind k_wino = nala_banded_kind_for(rt_wino, &s);
  printf("oneDNN ISA %s avx512_core, nala AVX2 tier %s: auto %d, blocked %d, wino %d\n",
         isa >= dnnl_cpu_isa_avx512_core ? ">=" : "<", nala_avx2 ? "yes" : "no", k_auto, k_blocked, k_wino);
  if (isa >= dnnl_cpu_isa_avx512_core) {
    ck_assert_int_eq(k_auto, nala_avx2 ? NALA_BANDED_NWINO : NALA_BANDED_WINO);
    ck_assert_int_eq(k_blocked, NALA_BANDED_WINO);
  } else if (isa >= dnnl_cpu_isa_avx2) {
    ck_assert_int_eq(k_auto, nala_avx2 ? NALA_BANDED_NWINO : NALA_BANDED_DIRECT8);
    ck_assert_int_eq(k_blocked, NALA_BANDED_DIRECT8);
  }
  ck_assert_int_eq(k_wino, nala_avx2 ? NALA_BANDED_NWINO : NALA_BANDED_NWINO_REF);

  /* one layer on two maps: one copy of U (36 x 64 x 64 floats) */
  nala_err err;
  float *wt = calloc((size_t)64 * 64 * 9, 4);
  ck_assert_ptr_nonnull(wt);
  nala_layer L;
  memset(&L, 0, sizeof L);
  ck_assert_msg(nala_conv_init(rt_wino, &L, s, wt, NULL, &err) == NALA_OK, "%s", err.msg);
  nala_graph g;
  nala_graph_init(&g, rt_wino->engine, 1);
  for (int i = 0; i < 2; i++) {
    nala_feat in = nala_graph_feat(&g, 64, 64 + 8 * i, 64), out = nala_graph_feat(&g, 64, 64 + 8 * i, 64);
    ck_assert_int_eq(nala_conv_op(&g, &L, in.h, in.w, in.off, 0, out.off, 0, 0, -1, &err), NALA_OK);
  }
  size_t want = (size_t)NALA_WINO_POINTS * 64 * 64 * 4;
  printf("transformed weights: %zu bytes for two maps (one copy: %zu)\n", nala_graph_weights_bytes(&g), want);
  ck_assert_uint_eq(nala_graph_weights_bytes(&g), want);
  nala_graph_release(&g);
  nala_layer_free(&L);
  free(wt);
  nala_rt_free(rt_auto), nala_rt_free(rt_blocked), nala_rt_free(rt_wino);
}
END_TEST

/* A counted batch (the mask head's RoI maps): 5 maps of 15x13 in bands of 2 whole maps, each map
 * padded on its own, count 5 and 3, both tiers, against oneDNN's NHWC batch convolution. */
START_TEST(batch_matches_direct) {
  enum { MAPS = 5, H = 15, W = 13, IC = 32, OC = 48, CHUNK = 2 };
  nala_rt *rt = nala_test_conv_runtime("direct");
  nala_err err;
  unsigned seed = 4242u;
  size_t src_n = (size_t)MAPS * H * W * IC, dst_n = (size_t)MAPS * H * W * OC, wn = (size_t)OC * IC * 9;
  float *wt = malloc(wn * 4), *bias = malloc(OC * 4), *src = malloc(src_n * 4), *want = malloc(dst_n * 4);
  float *got = malloc(dst_n * 4);
  ck_assert(wt && bias && src && want && got);
  for (size_t i = 0; i < wn; i++)
    wt[i] = nn_frand(&seed) * 0.1f;
  for (int i = 0; i < OC; i++)
    bias[i] = nn_frand(&seed) * 0.2f;
  for (size_t i = 0; i < src_n; i++)
    src[i] = nn_frand(&seed) * 2.0f;
  nala_layer L;
  memset(&L, 0, sizeof L);
  ck_assert_msg(nala_conv_init(rt, &L, (nala_conv_shape)NALA_CONV_SHAPE(IC, OC, 3, 1, 1), wt, bias, &err) == NALA_OK,
                "%s", err.msg);
  L.act = NALA_POST_RELU;
  for (int tier = 0; tier < 3; tier++) { /* direct, ref, avx2 */
    if (tier == 2 && !nala_isa_supported(NALA_ISA_AVX2)) {
      printf("batch: avx2 transforms skipped (no AVX2 tier here)\n");
      continue;
    }
    nala_graph g;
    nala_graph_init(&g, rt->engine, 1);
    size_t count = nala_graph_region(&g, 64), s_off = nala_graph_region(&g, src_n * 4),
           d_off = nala_graph_region(&g, dst_n * 4);
    int planned = 1;
    if (tier == 0)
      ck_assert_int_eq(nala_conv_op_batch(&g, &L, MAPS, H, W, s_off, d_off, 0, -1, &err), NALA_OK);
    else
      ck_assert_msg(nala_wino_conv_op_batch(&g, &L, nala_wino_for(tier == 2 ? NALA_ISA_AVX2 : NALA_ISA_REF), MAPS, H,
                                            W, CHUNK, s_off, d_off, 0, count, -1, &planned, &err) == NALA_OK,
                    "%s", err.msg);
    ck_assert(planned);
    size_t bytes = (nala_graph_ws_bytes(&g) + 63) / 64 * 64;
    char *ws = aligned_alloc(64, bytes);
    ck_assert_ptr_nonnull(ws);
    nala_graph_bind(&g, ws);
    dnnl_stream_t stream;
    ck_assert_int_eq(dnnl_stream_create(&stream, rt->engine, dnnl_stream_default_flags), dnnl_success);
    const int counts[2] = {MAPS, 3};
    for (int k = 0; k < (tier ? 2 : 1); k++) {
      memset(ws, 0x7f, bytes);
      int32_t c32 = counts[k];
      memcpy(ws + count, &c32, sizeof c32);
      memcpy(ws + s_off, src, src_n * 4);
      ck_assert_msg(nala_graph_execute(&g, stream, &err) == NALA_OK, "%s", err.msg);
      float *out = tier ? got : want;
      memcpy(out, ws + d_off, dst_n * 4);
      if (!tier)
        continue;
      /* the bands that ran: whole chunks of CHUNK maps up to the count */
      int ran = (counts[k] + CHUNK - 1) / CHUNK * CHUNK;
      ran = ran < MAPS ? ran : MAPS;
      char label[96];
      snprintf(label, sizeof label, "batch %s, count %d: maps [0, %d) vs direct", tier == 2 ? "avx2" : "ref", counts[k],
               ran);
      check_close(label, got, want, (size_t)ran * H * W * OC, REL_L2_MAX);
      size_t untouched = 0, past = dst_n - (size_t)ran * H * W * OC;
      for (size_t i = (size_t)ran * H * W * OC; i < dst_n; i++) {
        uint32_t bits;
        memcpy(&bits, &got[i], 4);
        untouched += bits == 0x7f7f7f7fu;
      }
      ck_assert_msg(untouched == past, "%s: %zu of %zu values past the bands written", label, past - untouched, past);
    }
    dnnl_stream_destroy(stream);
    nala_graph_release(&g);
    free(ws);
  }
  nala_layer_free(&L);
  free(wt), free(bias), free(src), free(want), free(got);
  nala_rt_free(rt);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("conv_wino");
  TCase *odd = tcase_create("odd"), *wide = tcase_create("wide");
  tcase_set_timeout(odd, 300);
  tcase_set_timeout(wide, 300);
  tcase_add_loop_test(odd, winograd_matches_direct, 0, N_ODD);
  tcase_add_test(odd, auto_picks_nala_winograd);
  tcase_add_test(odd, batch_matches_direct);
  tcase_add_loop_test(wide, winograd_matches_direct, N_ODD, (int)(sizeof cases / sizeof cases[0]));
  suite_add_tcase(s, odd);
  suite_add_tcase(s, wide);
  return s;
}

int main(void) { return nala_run_suite(suite()); }
