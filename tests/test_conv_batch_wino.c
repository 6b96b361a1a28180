/* Winograd on a counted batch of small maps (core/nn/conv_batch_wino.c): 10 maps of 14x14 (two
 * full chunks of 4 and a short one of 2), 64 -> 64 with ReLU, planned once and run for counts 10, 7
 * and 1 against the NHWC batch convolution (NALA_CONV=direct) of all 10 maps: the counted maps'
 * chunks must match, the maps of chunks past the count must be left as they were. Where oneDNN has
 * no avx512_core (or ONEDNN_MAX_CPU_ISA hides it) nala's own Winograd runs them (its AVX2 tier; the
 * _as_avx2 run); with neither the plan must refuse (planned = 0, no ops) and the test says so. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn/conv_banded.h"
#include "core/nn/conv_batch_wino.h"
#include "core/nn/layer.h"
#include "tests/support/compare.h"
#include "tests/support/conv_rt.h"
#include "tests/support/suite.h"

#define REL_L2_MAX 1e-5 /* F(4x4, 3x3) transforms round more than direct (measured ~1e-6) */
#define MAX_ABS_MAX 1e-4
#define N 10
#define C 64
#define S 14
#define SENTINEL 12345.0f

static float frand(unsigned *s) {
  *s = *s * 1664525u + 1013904223u;
  return (float)((*s >> 8) & 0xffff) / 65536.0f - 0.5f;
}


typedef struct plan {
  nala_layer L;
  nala_graph g;
  size_t count, src, dst;
  char *ws;
  int planned;
} plan;

static void plan_make(plan *p, const nala_rt *rt, const float *wt, const float *bias, int wino) {
  nala_err err;
  memset(p, 0, sizeof *p);
  ck_assert_msg(nala_conv_init(rt, &p->L, (nala_conv_shape)NALA_CONV_SHAPE(C, C, 3, 1, 1), wt, bias, &err) == NALA_OK,
                "%s", err.msg);
  p->L.act = NALA_POST_RELU;
  nala_graph_init(&p->g, rt->engine, 1);
  p->count = nala_graph_region(&p->g, 64);
  size_t bytes = (size_t)N * S * S * C * 4;
  p->src = nala_graph_region(&p->g, bytes);
  p->dst = nala_graph_region(&p->g, bytes);
  if (wino) {
    ck_assert_msg(nala_wino_batch_conv_op(&p->g, &p->L, N, S, S, p->src, p->dst, 0, p->count, -1, &p->planned,
                                          &err) == NALA_OK,
                  "%s", err.msg);
  } else {
    ck_assert_msg(nala_conv_op_batch(&p->g, &p->L, N, S, S, p->src, p->dst, 0, -1, &err) == NALA_OK, "%s", err.msg);
    p->planned = 1;
  }
  size_t ws_bytes = (nala_graph_ws_bytes(&p->g) + 63) / 64 * 64;
  p->ws = aligned_alloc(64, ws_bytes);
  ck_assert_ptr_nonnull(p->ws);
  memset(p->ws, 0, ws_bytes);
  nala_graph_bind(&p->g, p->ws);
}

/* Runs p with count maps counted on src; dst is filled with SENTINEL first; out gets dst. */
static void plan_run(plan *p, const nala_rt *rt, int count, const float *src, float *out) {
  nala_err err;
  size_t n = (size_t)N * S * S * C;
  int32_t c32 = count;
  memcpy(p->ws + p->count, &c32, sizeof c32);
  memcpy(p->ws + p->src, src, n * 4);
  float *dst = (float *)(p->ws + p->dst);
  for (size_t i = 0; i < n; i++)
    dst[i] = SENTINEL;
  dnnl_stream_t stream;
  ck_assert_int_eq(dnnl_stream_create(&stream, rt->engine, dnnl_stream_default_flags), dnnl_success);
  ck_assert_msg(nala_graph_execute(&p->g, stream, &err) == NALA_OK, "%s", err.msg);
  dnnl_stream_destroy(stream);
  memcpy(out, dst, n * 4);
}

static void plan_free(plan *p) {
  nala_graph_release(&p->g);
  nala_layer_free(&p->L);
  free(p->ws);
}

START_TEST(counted_chunks_match_nhwc) {
  nala_rt *rt_auto = nala_test_conv_runtime(NULL), *rt_direct = nala_test_conv_runtime("direct");
  /* oneDNN's Winograd on AVX-512; below, nala's own (core/nn/conv_wino.h) where the AVX2 tier runs */
  nala_conv_shape shape = NALA_CONV_SHAPE(C, C, 3, 1, 1);
  nala_banded_kind kind = nala_banded_kind_for(rt_auto, &shape);
  int have_wino = kind == NALA_BANDED_WINO || kind == NALA_BANDED_NWINO;
  printf("Winograd batch: %s\n", kind == NALA_BANDED_WINO    ? "oneDNN's jit_wino_4x3"
                                 : kind == NALA_BANDED_NWINO ? "nala's (AVX2 transforms)"
                                                             : "none here");
  unsigned seed = 99u;
  size_t n = (size_t)N * S * S * C, per = (size_t)S * S * C;
  float *wt = malloc((size_t)C * C * 9 * 4), *bias = malloc(C * 4), *src = malloc(n * 4);
  float *want = malloc(n * 4), *got = malloc(n * 4);
  ck_assert(wt && bias && src && want && got);
  for (size_t i = 0; i < (size_t)C * C * 9; i++)
    wt[i] = 0.1f * frand(&seed);
  for (int i = 0; i < C; i++)
    bias[i] = 0.1f * frand(&seed);
  for (size_t i = 0; i < n; i++)
    src[i] = frand(&seed);
  plan ref, wino;
  plan_make(&ref, rt_direct, wt, bias, 0);
  plan_run(&ref, rt_direct, N, src, want);
  plan_make(&wino, rt_auto, wt, bias, 1);
  if (!have_wino) {
    printf("Winograd batch: skipped (no Winograd on this CPU); refused as it must\n");
    ck_assert_int_eq(wino.planned, 0);
    ck_assert_int_eq(wino.g.n_ops, 0);
  } else {
    ck_assert_int_eq(wino.planned, 1);
    const int counts[] = {N, 7, 1};
    for (int k = 0; k < 3; k++) {
      int count = counts[k], run_maps = (count + NALA_WINO_BATCH_CHUNK - 1) / NALA_WINO_BATCH_CHUNK *
                                        NALA_WINO_BATCH_CHUNK;
      run_maps = run_maps < N ? run_maps : N;
      plan_run(&wino, rt_auto, count, src, got);
      char label[64];
      snprintf(label, sizeof label, "count %d: maps [0, %d)", count, run_maps);
      nala_cmp cmp = nala_compare_f32(label, got, want, (size_t)run_maps * per, MAX_ABS_MAX, 1e-4);
      ck_assert_msg(cmp.n_nonfinite == 0 && cmp.rel_l2 <= REL_L2_MAX && cmp.max_abs <= MAX_ABS_MAX,
                    "%s: max_abs %.3g rel_l2 %.3g", label, cmp.max_abs, cmp.rel_l2);
      size_t untouched = 0;
      for (size_t i = (size_t)run_maps * per; i < n; i++)
        untouched += got[i] == SENTINEL;
      printf("count %d: maps [%d, %d) untouched: %zu of %zu values\n", count, run_maps, N, untouched,
             n - (size_t)run_maps * per);
      ck_assert_uint_eq(untouched, n - (size_t)run_maps * per);
    }
  }
  plan_free(&ref);
  plan_free(&wino);
  free(wt), free(bias), free(src), free(want), free(got);
  nala_rt_free(rt_auto);
  nala_rt_free(rt_direct);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("conv_batch_wino");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, counted_chunks_match_nhwc);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nala_run_suite(suite()); }
