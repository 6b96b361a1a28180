#include "tests/support/compare.h"

#include <math.h>
#include <stdio.h>

nala_cmp nala_compare_f32(const char *label, const float *got, const float *want, size_t n, double atol,
                          double rtol) {
  nala_cmp r = {0, 0, 0, 0};
  double sum_sq_want = 0, sum_sq_diff = 0;
  for (size_t i = 0; i < n; i++)
    sum_sq_want += (double)want[i] * want[i];
  double rms = n ? sqrt(sum_sq_want / (double)n) : 0;
  double floor_ = 1e-3 * rms > 1e-30 ? 1e-3 * rms : 1e-30;
  int shown = 0;
  for (size_t i = 0; i < n; i++) {
    double g = got[i], w = want[i];
    if (!isfinite(g) && isfinite(w)) {
      r.n_nonfinite++;
      if (shown++ < 5)
        printf("  %s[%zu]: got %.9g want %.9g (non-finite)\n", label, i, g, w);
      continue;
    }
    double d = fabs(g - w);
    sum_sq_diff += d * d;
    if (d > r.max_abs)
      r.max_abs = d;
    double rel = d / fmax(fabs(w), floor_);
    if (rel > r.max_rel)
      r.max_rel = rel;
    if (d > atol + rtol * fabs(w) && shown++ < 5)
      printf("  %s[%zu]: got %.9g want %.9g (diff %.3g)\n", label, i, g, w, d);
  }
  r.rel_l2 = sum_sq_want > 0 ? sqrt(sum_sq_diff / sum_sq_want) : sqrt(sum_sq_diff);
  printf("%s: n=%zu max_abs=%.3e max_rel=%.3e rel_l2=%.3e nonfinite=%zu\n", label, n, r.max_abs, r.max_rel,
         r.rel_l2, r.n_nonfinite);
  fflush(stdout);
  return r;
}

int nala_compare_shape(const char *label, const long long *got, int got_ndim, const long long *want,
                       int want_ndim) {
  int same = got_ndim == want_ndim;
  for (int i = 0; same && i < got_ndim; i++)
    same = got[i] == want[i];
  printf("%s: shape got [", label);
  for (int i = 0; i < got_ndim; i++)
    printf(i ? ",%lld" : "%lld", got[i]);
  printf("] want [");
  for (int i = 0; i < want_ndim; i++)
    printf(i ? ",%lld" : "%lld", want[i]);
  printf("]%s\n", same ? "" : "  MISMATCH");
  return same;
}
