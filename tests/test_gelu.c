/* The erf GELU kernels (core/nn/gelu.h): every tier the CPU has against x/2 (1 + erf(x/sqrt 2))
 * in double, on a dense grid, on every tail length and in the backbone's range of values. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/nn/gelu.h"
#include "tests/support/compare.h"
#include "tests/support/suite.h"

static const nala_isa tiers[] = {NALA_ISA_REF, NALA_ISA_AVX2, NALA_ISA_AVX512};
static nala_gelu_fn const fns[] = {nala_gelu_ref, nala_gelu_avx2, nala_gelu_avx512};

static double gelu_oracle(float x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }

/* Only a tier this CPU runs; the skip is printed. */
static int have(int t) {
  if (nala_isa_supported(tiers[t]))
    return 1;
  printf("gelu: %s not on this CPU, skipped\n", nala_isa_name(tiers[t]));
  return 0;
}

/* Every float step of 1/4096 on [-12, 12] (98,305 values, far past where GELU is x or 0 in fp32):
 * |error| <= 2e-7 |x| + 1e-7 (the vector tiers' rational erf is 3.3e-7 off at worst, where it
 * meets its clamp); the ref tier rounds the double result once. */
START_TEST(grid_matches_double) {
  int n = 2 * 12 * 4096 + 1;
  float *x = malloc((size_t)n * sizeof *x), *want = malloc((size_t)n * sizeof *want);
  for (int i = 0; i < n; i++) {
    x[i] = -12.0f + (float)i / 4096.0f;
    want[i] = (float)gelu_oracle(x[i]);
  }
  for (int t = 0; t < 3; t++) {
    if (!have(t))
      continue;
    float *got = malloc((size_t)n * sizeof *got);
    for (int i = 0; i < n; i++)
      got[i] = x[i];
    fns[t](got, (size_t)n);
    double worst = 0; /* of |error| / (2e-7 |x| + 1e-7) */
    int at = 0;
    for (int i = 0; i < n; i++) {
      double e = fabs(got[i] - gelu_oracle(x[i])) / (2e-7 * fabs(x[i]) + 1e-7);
      if (!(e <= worst))
        worst = e, at = i;
    }
    char label[64];
    snprintf(label, sizeof label, "gelu grid [-12, 12] %s", nala_isa_name(tiers[t]));
    nala_cmp r = nala_compare_f32(label, got, want, (size_t)n, 2e-6, 1e-6);
    printf("%s: worst error %.3f of the bound, at x = %g\n", label, worst, x[at]);
    ck_assert_msg(worst <= 1.0, "%s: error %.3g of the bound at x = %g (got %.9g want %.9g)", label, worst, x[at],
                  got[at], gelu_oracle(x[at]));
    ck_assert_uint_eq(r.n_nonfinite, 0);
    free(got);
  }
  free(x), free(want);
}
END_TEST

/* Every length 0..67 (all vector tails, the 2-vector main loop) on random activations of fc1's
 * scale, through an offset pointer: no element outside [0, n) is touched, every one inside is. */
START_TEST(tails_and_random_values) {
  enum { MAXN = 67, PAD = 5 };
  float buf[MAXN + 2 * PAD], want[MAXN];
  unsigned s = 12345u;
  for (int t = 0; t < 3; t++) {
    if (!have(t))
      continue;
    double d2 = 0, w2 = 0; /* over every length */
    for (int n = 0; n <= MAXN; n++) {
      for (int i = 0; i < MAXN + 2 * PAD; i++) {
        s = s * 1664525u + 1013904223u;
        buf[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 8.0f;
      }
      float guard[2] = {buf[PAD - 1], buf[PAD + n]};
      for (int i = 0; i < n; i++)
        want[i] = (float)gelu_oracle(buf[PAD + i]);
      fns[t](buf + PAD, (size_t)n);
      ck_assert_msg(buf[PAD - 1] == guard[0] && buf[PAD + n] == guard[1], "%s n=%d wrote outside",
                    nala_isa_name(tiers[t]), n);
      for (int i = 0; i < n; i++) {
        double d = buf[PAD + i] - want[i];
        d2 += d * d, w2 += (double)want[i] * want[i];
        ck_assert_msg(fabs(d) <= 2e-7 * 4 + 1e-7, "%s n=%d i=%d: got %.9g want %.9g", nala_isa_name(tiers[t]), n, i,
                      buf[PAD + i], want[i]);
      }
    }
    double rel_l2 = sqrt(d2 / w2);
    printf("gelu tails 0..%d %s: rel-L2 %.3e\n", MAXN, nala_isa_name(tiers[t]), rel_l2);
    ck_assert_msg(rel_l2 < 2e-7, "%s: rel-L2 %.3e", nala_isa_name(tiers[t]), rel_l2);
  }
}
END_TEST

/* NaN stays NaN, +inf stays +inf, 0 stays 0 in every tier. */
START_TEST(special_values) {
  for (int t = 0; t < 3; t++) {
    if (!have(t))
      continue;
    float v[3] = {NAN, INFINITY, 0.0f};
    fns[t](v, 3);
    ck_assert_msg(isnan(v[0]) && v[1] == INFINITY && v[2] == 0.0f, "%s: %g %g %g", nala_isa_name(tiers[t]), v[0],
                  v[1], v[2]);
  }
}
END_TEST

/* The dispatch never hands out a tier the CPU lacks, and REF gives the plain-C kernel. */
START_TEST(dispatch_respects_cpu) {
  ck_assert_ptr_eq(nala_gelu_for(NALA_ISA_REF), nala_gelu_ref);
  nala_gelu_fn best = nala_gelu_for(NALA_ISA_AUTO);
  for (int t = 0; t < 3; t++)
    if (best == fns[t])
      ck_assert(nala_isa_supported(tiers[t]));
}
END_TEST

int main(void) {
  Suite *s = suite_create("gelu");
  TCase *tc = tcase_create("gelu");
  tcase_add_test(tc, grid_matches_double);
  tcase_add_test(tc, tails_and_random_values);
  tcase_add_test(tc, special_values);
  tcase_add_test(tc, dispatch_respects_cpu);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
