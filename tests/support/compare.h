/* Fixture comparison for tests: shapes first, then values, with the error figures printed. */
#ifndef NALA_TEST_COMPARE_H
#define NALA_TEST_COMPARE_H

#include <stddef.h>

typedef struct nala_cmp {
  double max_abs;   /* max |got - want| */
  double max_rel;   /* max |got - want| / max(|want|, floor) with floor = 1e-3 * rms(want) */
  double rel_l2;    /* ||got - want||_2 / ||want||_2 (sqrt of NMSE) */
  size_t n_nonfinite; /* NaN/Inf in got where want is finite */
} nala_cmp;

/* Compares n floats, prints one line "label: max_abs=.. max_rel=.. rel_l2=.." and the first
 * few mismatches beyond atol + rtol*|want|; returns the figures. */
nala_cmp nala_compare_f32(const char *label, const float *got, const float *want, size_t n, double atol,
                          double rtol);

/* Prints both shapes and returns 1 when they are equal, 0 otherwise. */
int nala_compare_shape(const char *label, const long long *got, int got_ndim, const long long *want,
                       int want_ndim);

#endif
