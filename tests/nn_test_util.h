/* Helpers for tests that plan ops straight into a core/nn graph: fixture tensors (NCHW) in and
 * out of NHWC maps of the workspace, compared with printed error figures. */
#ifndef NALA_TESTS_NN_TEST_UTIL_H
#define NALA_TESTS_NN_TEST_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/nn/graph.h"
#include "nala/safetensors.h"
#include "tests/support/compare.h"

/* Shape of a [1, C, H, W] fixture tensor as a map (no offset yet). */
static inline nala_feat nn_shape(const nala_st_file *f, const char *name) {
  const nala_st_tensor *t = nala_st_find(f, name);
  ck_assert_msg(t && t->ndim == 4 && t->shape[0] == 1, "fixture tensor %s missing or not [1,C,H,W]", name);
  nala_feat m = {.c = (int)t->shape[1], .h = (int)t->shape[2], .w = (int)t->shape[3]};
  return m;
}

static inline float *nn_load(const nala_st_file *f, const char *name, size_t *n) {
  nala_err err;
  const nala_st_tensor *t = nala_st_find(f, name);
  ck_assert_msg(t != NULL, "fixture tensor %s missing", name);
  *n = nala_st_numel(t);
  float *v = malloc(*n * sizeof(float));
  ck_assert_int_eq(nala_st_to_f32(t, v, *n, &err), NALA_OK);
  return v;
}

/* Writes fixture tensor name (NCHW) into map m of the workspace (NHWC, m's ld). */
static inline void nn_put(const nala_st_file *f, const char *name, char *ws, const nala_feat *m) {
  size_t n;
  float *v = nn_load(f, name, &n);
  ck_assert_uint_eq(n, (size_t)m->c * m->h * m->w);
  float *dst = (float *)(ws + m->off);
  int ld = nala_feat_ld(m);
  for (int ch = 0; ch < m->c; ch++)
    for (int p = 0; p < m->h * m->w; p++)
      dst[(size_t)p * ld + ch] = v[(size_t)ch * m->h * m->w + p];
  free(v);
}

/* rel-L2 of map m against fixture tensor name; prints the figures. */
static inline double nn_check(const nala_st_file *f, const char *name, const char *ws, const nala_feat *m,
                              const char *label) {
  nala_feat want = nn_shape(f, name);
  long long gs[4] = {1, m->c, m->h, m->w}, ws4[4] = {1, want.c, want.h, want.w};
  ck_assert(nala_compare_shape(label, gs, 4, ws4, 4));
  size_t n;
  float *ref = nn_load(f, name, &n);
  float *got = malloc(n * sizeof(float));
  const float *src = (const float *)(ws + m->off);
  int ld = nala_feat_ld(m);
  for (int ch = 0; ch < m->c; ch++)
    for (int p = 0; p < m->h * m->w; p++)
      got[(size_t)ch * m->h * m->w + p] = src[(size_t)p * ld + ch];
  nala_cmp r = nala_compare_f32(label, got, ref, n, 1e-5, 1e-4);
  free(ref);
  free(got);
  ck_assert_uint_eq(r.n_nonfinite, 0);
  return r.rel_l2;
}

#endif
