/* A runtime with NALA_CONV forced for the conv-path suites (banded, batched Winograd), and their
 * seeded case data. */
#ifndef NALA_TEST_CONV_RT_H
#define NALA_TEST_CONV_RT_H

#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "core/nn/layer.h"

/* A runtime created under NALA_CONV=conv (NULL: unset, i.e. auto); the variable is unset again
 * after, since nala_rt reads it once at creation. */
static inline nala_rt *nala_test_conv_runtime(const char *conv) {
  nala_err err;
  nala_rt *rt = NULL;
  if (conv)
    setenv("NALA_CONV", conv, 1);
  else
    unsetenv("NALA_CONV");
  ck_assert_msg(nala_rt_create(NALA_ISA_AUTO, &rt, &err) == NALA_OK, "%s", err.msg);
  unsetenv("NALA_CONV");
  return rt;
}

/* A small LCG in [-0.5, 0.5): the conv suites' inputs, the same on every platform. */
static inline float nn_frand(unsigned *s) {
  *s = *s * 1664525u + 1013904223u;
  return (float)((*s >> 8) & 0xffff) / 65536.0f - 0.5f;
}

/* Seeded 3x3 conv case data: weights (oc x ic x 9, scaled by fan-in), bias, src, and the dst's prior
 * contents (what a sum post-op adds to; the channels outside a slice must keep them). */
static inline void nn_conv_fill(unsigned *seed, int ic, int oc, float *wt, float *bias, float *src, size_t src_n,
                                float *dst0, size_t dst_n) {
  size_t wn = (size_t)oc * ic * 9;
  float wscale = 2.0f / sqrtf((float)ic * 9);
  for (size_t i = 0; i < wn; i++)
    wt[i] = nn_frand(seed) * wscale;
  for (int i = 0; i < oc; i++)
    bias[i] = nn_frand(seed) * 0.2f;
  for (size_t i = 0; i < src_n; i++)
    src[i] = nn_frand(seed) * 2.0f;
  for (size_t i = 0; i < dst_n; i++)
    dst0[i] = nn_frand(seed);
}

#endif
