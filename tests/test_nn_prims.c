/* The runtime's weight-free helpers and layers (core/nn) against PyTorch at odd sizes, up and down
 * (tests/fixtures/nn/prims*.safetensors, tools/reference/make_nn_fixtures.py). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn/layer.h"
#include "core/nn/prims.h"
#include "core/nn/upconv.h"
#include "tests/nn_test_util.h"
#include "tests/support/suite.h"

#define REL_L2_MAX 1e-6
#define PRIMS NALA_FIXTURES "/nn/prims.safetensors"
#define PRIMS_WEIGHTS NALA_FIXTURES "/nn/prims_weights.safetensors"

typedef struct bench {
  nala_rt *rt;
  nala_graph g;
  dnnl_stream_t stream;
  nala_st_file *fx;
  nala_feat x, y;
  char *ws;
} bench;

static void open_bench(bench *b, int nthreads) {
  nala_err err;
  memset(b, 0, sizeof *b);
  ck_assert_int_eq(nala_rt_create(NALA_ISA_AUTO, &b->rt, &err), NALA_OK);
  nala_graph_init(&b->g, b->rt->engine, nthreads);
  ck_assert_int_eq(dnnl_stream_create(&b->stream, b->rt->engine, dnnl_stream_default_flags), dnnl_success);
  ck_assert_msg(nala_st_open(PRIMS, &b->fx, &err) == NALA_OK, "%s", err.msg);
  b->x = nn_shape(b->fx, "x");
  b->x = nala_graph_feat(&b->g, b->x.c, b->x.h, b->x.w);
  b->y = nala_graph_feat(&b->g, b->x.c, b->x.h, b->x.w);
}

/* Allocates and binds the workspace, writes the inputs and runs the graph. */
static void run_bench(bench *b) {
  nala_err err;
  size_t bytes = nala_graph_ws_bytes(&b->g);
  b->ws = aligned_alloc(64, (bytes + 63) / 64 * 64);
  ck_assert_ptr_nonnull(b->ws);
  nala_graph_bind(&b->g, b->ws);
  nn_put(b->fx, "x", b->ws, &b->x);
  nn_put(b->fx, "y", b->ws, &b->y);
  ck_assert_msg(nala_graph_execute(&b->g, b->stream, &err) == NALA_OK, "%s", err.msg);
}

static void close_bench(bench *b) {
  nala_graph_release(&b->g);
  dnnl_stream_destroy(b->stream);
  nala_rt_free(b->rt);
  nala_st_close(b->fx);
  free(b->ws);
}

static const char *const sizes[] = {"up", "down", "2x", "mixed"};

START_TEST(resize_matches_torch) {
  bench b;
  open_bench(&b, 2);
  nala_err err;
  nala_feat out[2][4];
  for (int m = 0; m < 2; m++)
    for (int s = 0; s < 4; s++) {
      char name[64];
      snprintf(name, sizeof name, "%s_%s", m ? "bilinear" : "nearest", sizes[s]);
      nala_feat want = nn_shape(b.fx, name);
      out[m][s] = nala_graph_feat(&b.g, want.c, want.h, want.w);
      ck_assert_int_eq(nala_resize_op(&b.g, &b.x, &out[m][s], m ? NALA_RESIZE_BILINEAR : NALA_RESIZE_NEAREST, -1, &err),
                       NALA_OK);
    }
  run_bench(&b);
  for (int m = 0; m < 2; m++)
    for (int s = 0; s < 4; s++) {
      char name[64];
      snprintf(name, sizeof name, "%s_%s", m ? "bilinear" : "nearest", sizes[s]);
      ck_assert(nn_check(b.fx, name, b.ws, &out[m][s], name) <= REL_L2_MAX);
    }
  close_bench(&b);
}
END_TEST

START_TEST(pools_match_torch) {
  bench b;
  open_bench(&b, 2);
  nala_err err;
  static const struct { const char *name; int max, k, s, p; } pools[] = {
      {"maxpool_k3s2p1", 1, 3, 2, 1}, {"maxpool_k1s2p0", 1, 1, 2, 0},
      {"avgpool_k3s2p1", 0, 3, 2, 1}, {"avgpool_k2s2p0", 0, 2, 2, 0}};
  nala_feat out[4], ad[5];
  for (int i = 0; i < 4; i++) {
    int oh = nala_pool_out(b.x.h, pools[i].k, pools[i].s, pools[i].p);
    int ow = nala_pool_out(b.x.w, pools[i].k, pools[i].s, pools[i].p);
    out[i] = nala_graph_feat(&b.g, b.x.c, oh, ow);
    ck_assert_int_eq((pools[i].max ? nala_maxpool_op : nala_avgpool_op)(&b.g, &b.x, &out[i], pools[i].k, pools[i].s,
                                                                        pools[i].p, -1, &err),
                     NALA_OK);
  }
  static const int bins[5][2] = {{1, 1}, {2, 4}, {3, 3}, {6, 5}, {7, 9}};
  for (int i = 0; i < 5; i++) {
    ad[i] = nala_graph_feat(&b.g, b.x.c, bins[i][0], bins[i][1]);
    ck_assert_int_eq(nala_adaptive_avgpool_op(&b.g, &b.x, &ad[i], -1, &err), NALA_OK);
  }
  run_bench(&b);
  for (int i = 0; i < 4; i++)
    ck_assert(nn_check(b.fx, pools[i].name, b.ws, &out[i], pools[i].name) <= REL_L2_MAX);
  for (int i = 0; i < 5; i++) {
    char name[32];
    snprintf(name, sizeof name, "adaptive_%dx%d", bins[i][0], bins[i][1]);
    ck_assert(nn_check(b.fx, name, b.ws, &ad[i], name) <= REL_L2_MAX);
  }
  close_bench(&b);
}
END_TEST

/* Layers by key prefix: ConvModule with BN folded + ReLU at stride 2, with GELU, depthwise with
 * SiLU, linear, ConvTranspose k2 / k3; concat = copy into channels [0, 5) and a conv writing
 * channels [5, 11) of one map; add in place. */
START_TEST(layers_match_torch) {
  bench b;
  open_bench(&b, 2);
  nala_err err;
  nala_err_clear(&err);
  nala_weights *w = NULL;
  ck_assert_int_eq(nala_weights_open(PRIMS_WEIGHTS, &w, &err), NALA_OK);
  nala_layer cm = {0}, cm_gelu = {0}, dw = {0}, lin = {0}, up2 = {0}, up3 = {0};
  int C = b.x.c;
  ck_assert_int_eq(nala_convmodule_load(b.rt, w, &cm, (nala_conv_shape)NALA_CONV_SHAPE(C, 6, 3, 2, 1), "cm", 1,
                                        NALA_ACT_RELU, &err), NALA_OK);
  ck_assert_int_eq(nala_convmodule_load(b.rt, w, &cm_gelu, (nala_conv_shape)NALA_CONV_SHAPE(C, 6, 3, 1, 1), "cm_gelu",
                                        0, NALA_ACT_GELU, &err), NALA_OK);
  ck_assert_int_eq(nala_convmodule_load(b.rt, w, &dw, (nala_conv_shape)NALA_CONV_SHAPE(C, C, 3, 1, C), "dw", 0,
                                        NALA_ACT_SILU, &err), NALA_OK);
  ck_assert_int_eq(nala_linear_load(b.rt, w, &lin, C, 6, "lin", &err), NALA_OK);
  ck_assert_int_eq(nala_deconv_load(b.rt, w, &up2, (nala_conv_shape)NALA_CONV_SHAPE(C, 4, 2, 2, 1), "up2",
                                    NALA_ACT_NONE, &err), NALA_OK);
  ck_assert_int_eq(nala_deconv_load(b.rt, w, &up3, (nala_conv_shape)NALA_CONV_SHAPE(C, 4, 3, 2, 1), "up3",
                                    NALA_ACT_NONE, &err), NALA_OK);
  /* the same k2 s2 weights as kernel-equals-stride matmuls (the mask head's upsample) */
  nala_upconv upc;
  ck_assert_msg(nala_upconv_load(b.rt, w, &upc, (nala_conv_shape)NALA_CONV_SHAPE(C, 4, 2, 2, 1), "up2", NALA_ACT_NONE,
                                 &err) == NALA_OK, "%s", err.msg);
  nala_upconv bad;
  ck_assert_int_eq(nala_upconv_load(b.rt, w, &bad, (nala_conv_shape)NALA_CONV_SHAPE(C, 4, 3, 2, 1), "up3",
                                    NALA_ACT_NONE, &err), NALA_E_UNSUPPORTED);
  ck_assert_msg(nala_weights_finish(w, "", &err) == NALA_OK, "%s", err.msg);
  nala_weights_close(w);

  nala_feat o_cm = nala_graph_feat(&b.g, 6, (b.x.h + 1) / 2, (b.x.w + 1) / 2);
  nala_feat o_gelu = nala_graph_feat(&b.g, 6, b.x.h, b.x.w), o_dw = nala_graph_feat(&b.g, C, b.x.h, b.x.w);
  nala_feat o_lin = nala_graph_feat(&b.g, 6, b.x.h, b.x.w);
  int h2, w2, h3, w3;
  nala_layer_out_size(&up2, b.x.h, b.x.w, &h2, &w2);
  nala_layer_out_size(&up3, b.x.h, b.x.w, &h3, &w3);
  nala_feat o_up2 = nala_graph_feat(&b.g, 4, h2, w2), o_up3 = nala_graph_feat(&b.g, 4, h3, w3);
  nala_feat o_upc = nala_graph_feat(&b.g, 4, h2, w2), o_sub = nala_graph_feat(&b.g, 4, h2, w2);
  nala_feat cat = nala_graph_feat(&b.g, C + 6, b.x.h, b.x.w);
  nala_feat cat_x = nala_feat_slice(&cat, 0, C), cat_conv = nala_feat_slice(&cat, C, 6);
  nala_feat sum = nala_graph_feat(&b.g, C, b.x.h, b.x.w);
  ck_assert_int_eq(nala_conv_op(&b.g, &cm, b.x.h, b.x.w, b.x.off, 0, o_cm.off, 0, 0, -1, &err), NALA_OK);
  ck_assert_int_eq(nala_conv_op(&b.g, &cm_gelu, b.x.h, b.x.w, b.x.off, 0, o_gelu.off, 0, 0, -1, &err), NALA_OK);
  ck_assert_int_eq(nala_conv_op(&b.g, &dw, b.x.h, b.x.w, b.x.off, 0, o_dw.off, 0, 0, -1, &err), NALA_OK);
  ck_assert_int_eq(nala_linear_op(&b.g, &lin, b.x.h * b.x.w, b.x.off, 0, o_lin.off, 0, 0, -1, &err), NALA_OK);
  ck_assert_int_eq(nala_conv_op(&b.g, &up2, b.x.h, b.x.w, b.x.off, 0, o_up2.off, 0, 0, -1, &err), NALA_OK);
  ck_assert_int_eq(nala_conv_op(&b.g, &up3, b.x.h, b.x.w, b.x.off, 0, o_up3.off, 0, 0, -1, &err), NALA_OK);
  ck_assert_int_eq(nala_upconv_op_batch(&b.g, &upc, 1, b.x.h, b.x.w, b.x.off, o_upc.off, -1, &err), NALA_OK);
  int sub_planned = 0;
  ck_assert_int_eq(nala_upconv_op_subpixel(&b.g, &upc, 1, b.x.h, b.x.w, b.x.off, o_sub.off, -1, &sub_planned, &err),
                   NALA_OK);
  ck_assert_msg(sub_planned, "upconv as one matmul: oneDNN has only a reference matmul here");
  ck_assert_int_eq(nala_copy_op(&b.g, &b.x, &cat_x, -1, &err), NALA_OK);
  ck_assert_int_eq(nala_conv_op(&b.g, &cm_gelu, b.x.h, b.x.w, b.x.off, 0, cat_conv.off, cat.c, 0, -1, &err),
                   NALA_OK);
  ck_assert_int_eq(nala_copy_op(&b.g, &b.x, &sum, -1, &err), NALA_OK);
  ck_assert_int_eq(nala_add_op(&b.g, &sum, &b.y, &sum, -1, &err), NALA_OK);
  /* a conv into a concat slice has no fast oneDNN implementation: the layer goes dense + copy */
  printf("oneDNN ops on a reference implementation: %d\n", nala_graph_slow_primitives(&b.g));
  ck_assert_int_eq(nala_graph_slow_primitives(&b.g), 0);
  run_bench(&b);
  ck_assert(nn_check(b.fx, "cm", b.ws, &o_cm, "ConvModule conv+BN+ReLU s2") <= REL_L2_MAX);
  ck_assert(nn_check(b.fx, "cm_gelu", b.ws, &o_gelu, "ConvModule conv+GELU") <= REL_L2_MAX);
  ck_assert(nn_check(b.fx, "dw", b.ws, &o_dw, "depthwise conv+SiLU") <= REL_L2_MAX);
  ck_assert(nn_check(b.fx, "lin", b.ws, &o_lin, "linear") <= REL_L2_MAX);
  ck_assert(nn_check(b.fx, "up2", b.ws, &o_up2, "ConvTranspose2d k2 s2") <= REL_L2_MAX);
  ck_assert(nn_check(b.fx, "up3", b.ws, &o_up3, "ConvTranspose2d k3 s2") <= REL_L2_MAX);
  ck_assert(nn_check(b.fx, "up2", b.ws, &o_upc, "ConvTranspose2d k2 s2 as 2 strided matmuls") <= REL_L2_MAX);
  { /* the sub-pixel order back to NHWC, against the row matmuls (checked above) */
    const float *sub = (const float *)(b.ws + o_sub.off), *nhwc = (const float *)(b.ws + o_upc.off);
    double num = 0, den = 0, max_abs = 0;
    for (int Y = 0; Y < h2; Y++)
      for (int X = 0; X < w2; X++)
        for (int c = 0; c < 4; c++) {
          size_t sp = ((size_t)(Y / 2 * b.x.w + X / 2) * 2 + Y % 2) * 2 + X % 2;
          double d = (double)sub[sp * 4 + c] - nhwc[((size_t)Y * w2 + X) * 4 + c];
          num += d * d, den += (double)nhwc[((size_t)Y * w2 + X) * 4 + c] * nhwc[((size_t)Y * w2 + X) * 4 + c];
          max_abs = fabs(d) > max_abs ? fabs(d) : max_abs;
        }
    double rel = sqrt(num / (den > 0 ? den : 1));
    printf("ConvTranspose2d k2 s2 as one matmul (sub-pixel order) vs row matmuls: max_abs=%.3e rel_l2=%.3e\n", max_abs,
           rel);
    ck_assert(den > 0 && rel <= 1e-6);
  }
  ck_assert(nn_check(b.fx, "concat", b.ws, &cat, "concat by channel offset") <= REL_L2_MAX);
  ck_assert(nn_check(b.fx, "add", b.ws, &sum, "add in place") <= REL_L2_MAX);
  nala_layer *layers[] = {&cm, &cm_gelu, &dw, &lin, &up2, &up3};
  for (int i = 0; i < 6; i++)
    nala_layer_free(layers[i]);
  nala_upconv_free(&upc);
  close_bench(&b);
}
END_TEST

/* Mismatched maps and pool arguments are refused with the sizes named; missing ConvModule keys
 * (a BN-less checkpoint loaded as with-norm) are named by the binder. */
START_TEST(bad_arguments_are_refused) {
  bench b;
  open_bench(&b, 1);
  nala_err err;
  nala_feat four = nala_graph_feat(&b.g, 4, 3, 3), small = nala_graph_feat(&b.g, b.x.c, 2, 2);
  ck_assert_int_eq(nala_resize_op(&b.g, &b.x, &four, NALA_RESIZE_NEAREST, -1, &err), NALA_E_ARG);
  printf("resize: %s\n", err.msg);
  ck_assert(strstr(err.msg, "5x7x9 -> 4x3x3") != NULL);
  ck_assert_int_eq(nala_add_op(&b.g, &b.x, &small, &b.x, -1, &err), NALA_E_ARG);
  printf("add: %s\n", err.msg);
  ck_assert_int_eq(nala_maxpool_op(&b.g, &b.x, &small, 3, 2, 1, -1, &err), NALA_E_ARG);
  printf("maxpool: %s\n", err.msg);
  ck_assert(strstr(err.msg, "expected 4x5") != NULL);
  ck_assert_int_eq(nala_avgpool_op(&b.g, &b.x, &small, 2, 2, 2, -1, &err), NALA_E_ARG);
  ck_assert_int_eq(b.g.n_ops, 0);

  nala_weights *w = NULL;
  ck_assert_int_eq(nala_weights_open(PRIMS_WEIGHTS, &w, &err), NALA_OK);
  nala_layer L = {0};
  ck_assert_int_eq(nala_convmodule_load(b.rt, w, &L, (nala_conv_shape)NALA_CONV_SHAPE(5, 6, 3, 1, 1), "cm_gelu", 1,
                                        NALA_ACT_NONE, &err), NALA_OK);
  nala_weights_ignore_prefix(w, "cm.");
  nala_weights_ignore_prefix(w, "dw.");
  nala_weights_ignore_prefix(w, "lin.");
  nala_weights_ignore_prefix(w, "up");
  ck_assert_int_ne(nala_weights_finish(w, "", &err), NALA_OK);
  printf("with-norm load of a BN-less ConvModule: %s\n", err.msg);
  ck_assert(strstr(err.msg, "cm_gelu.bn.running_var") != NULL);
  ck_assert(strstr(err.msg, "cm_gelu.conv.bias") != NULL);
  nala_weights_close(w);
  nala_layer_free(&L);
  close_bench(&b);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("nn_prims");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, resize_matches_torch);
  tcase_add_test(tc, pools_match_torch);
  tcase_add_test(tc, layers_match_torch);
  tcase_add_test(tc, bad_arguments_are_refused);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nala_run_suite(suite()); }
