/* LayerNorm kernels of the backbone: AVX-512 against the double-precision reference, odd widths. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "backbone/norm_ops.h"
#include "core/kernels/attention.h"
#include "tests/support/compare.h"
#include "tests/support/suite.h"

static float frand(unsigned *s) {
  *s = *s * 1664525u + 1013904223u;
  return (float)((*s >> 8) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

static void fill(float *x, size_t n, float scale, float offset, unsigned seed) {
  for (size_t i = 0; i < n; i++)
    x[i] = offset + scale * frand(&seed);
}

/* Per-row LayerNorm in double straight from the definition, the oracle for both kernels. */
static void ln_oracle(const nala_ln *ln, const float *a, const float *b, const float *gate, float *dst, int rows,
                      int ld) {
  for (int r = 0; r < rows; r++) {
    double mean = 0, var = 0;
    for (int i = 0; i < ln->c; i++)
      mean += (double)a[r * ld + i] + (b ? b[r * ld + i] : 0);
    mean /= ln->c;
    for (int i = 0; i < ln->c; i++) {
      double d = (double)a[r * ld + i] + (b ? b[r * ld + i] : 0) - mean;
      var += d * d;
    }
    var /= ln->c;
    for (int i = 0; i < ln->c; i++) {
      double y = ((double)a[r * ld + i] + (b ? b[r * ld + i] : 0) - mean) / sqrt(var + ln->eps) * ln->gamma[i] +
                 ln->beta[i];
      dst[r * ld + i] = (float)(gate ? y * gate[r * ld + i] : y);
    }
  }
}

static void check_width(int c, int with_gate) {
  int rows = 37;
  size_t n = (size_t)rows * c;
  float *a = malloc(n * 4), *b = malloc(n * 4), *g = malloc(n * 4), *want = malloc(n * 4), *got = malloc(n * 4);
  float *gamma = malloc(c * 4), *beta = malloc(c * 4);
  fill(a, n, 3.0f, 5.0f, 1u + c); /* a large mean stresses the variance computation */
  fill(b, n, 1.0f, 0.0f, 2u + c);
  fill(g, n, 1.0f, 0.0f, 3u + c);
  fill(gamma, c, 0.5f, 1.0f, 4u);
  fill(beta, c, 0.2f, 0.0f, 5u);
  nala_ln ln = {c, with_gate ? 1e-5f : 1e-6f, gamma, beta};
  ln_oracle(&ln, a, with_gate ? b : NULL, with_gate ? g : NULL, want, rows, c);
  char label[64];
  static const nala_isa tiers[] = {NALA_ISA_REF, NALA_ISA_AVX2, NALA_ISA_AVX512};
  for (int t = 0; t < 3; t++) {
    if (!nala_isa_supported(tiers[t])) {
      printf("norm_ops: %s not on this CPU, skipped\n", nala_isa_name(tiers[t]));
      continue;
    }
    nala_norm_kernels k = nala_norm_kernels_for(tiers[t]);
    if (with_gate)
      k.ln_gate(&ln, a, b, c, g, c, got, c, rows, 2);
    else
      k.ln(&ln, a, c, got, c, rows, 2);
    snprintf(label, sizeof label, "%s c=%d %s", with_gate ? "ln_gate" : "ln", c, nala_isa_name(tiers[t]));
    nala_cmp r = nala_compare_f32(label, got, want, n, 1e-5, 1e-5);
    /* float32 statistics over <= 640 values: a few ulp of the normalised value. */
    ck_assert_msg(r.rel_l2 < 1e-6 && r.max_abs < 1e-5, "%s: rel_l2 %g max_abs %g", label, r.rel_l2, r.max_abs);
  }
  /* In place (dst == a) must give the same answer. */
  if (with_gate)
    nala_ln_gate_ref(&ln, a, b, c, g, c, a, c, rows, 1);
  else
    nala_ln_ref(&ln, a, c, a, c, rows, 1);
  nala_cmp r = nala_compare_f32("in place", a, want, n, 1e-5, 1e-5);
  ck_assert(r.rel_l2 < 1e-6);
  free(a), free(b), free(g), free(want), free(got), free(gamma), free(beta);
}

START_TEST(ln_matches_oracle) {
  /* 32-640: the register forms (every official width); 17, 1, 24 and 200: the loop with tail masks */
  static const int widths[] = {32, 64, 96, 128, 192, 256, 320, 384, 448, 512, 640, 17, 1, 24, 200};
  check_width(widths[_i], 0);
  check_width(widths[_i], 1);
}
END_TEST

int main(void) {
  Suite *s = suite_create("norm_ops");
  TCase *tc = tcase_create("layernorm");
  tcase_add_loop_test(tc, ln_matches_oracle, 0, 15);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
