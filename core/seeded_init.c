/* Seeded weights (spec in include/nala/seeded_init.h). The arithmetic is plain double without
 * fma: ISO C mode (-std=c11) makes GCC default to -ffp-contract=off, which the Python twin needs. */
#include "nala/seeded_init.h"

#include <math.h>
#include <string.h>

uint64_t nala_fnv1a64(const void *data, size_t n) {
  const unsigned char *bytes = data;
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) {
    h ^= bytes[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

uint64_t nala_splitmix64_next(uint64_t *state) {
  *state += 0x9E3779B97F4A7C15ull;
  uint64_t z = *state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static int ends_with(const char *s, const char *suffix) {
  size_t ls = strlen(s), lx = strlen(suffix);
  return ls >= lx && !memcmp(s + ls - lx, suffix, lx);
}

int nala_seeded_range(const char *key, int ndim, const int64_t *shape, double *lo, double *hi) {
  if (!key || ndim < 0 || (ndim && !shape))
    return 0;
  double l, h;
  if (ends_with(key, ".running_var")) {
    l = 0.5, h = 2.0;
  } else if (ends_with(key, ".running_mean")) {
    l = -0.2, h = 0.2;
  } else if (ends_with(key, ".gamma_1") || ends_with(key, ".gamma_2")) {
    l = 0.2, h = 1.0;
  } else if (ends_with(key, ".weight") && ndim == 1) {
    l = 0.5, h = 1.5;
  } else if (ends_with(key, ".bias")) {
    l = -0.1, h = 0.1;
  } else if (ends_with(key, ".weight") && ndim >= 2) {
    double fan_in = 1.0;
    for (int d = 1; d < ndim; d++)
      fan_in *= (double)shape[d];
    double s = fan_in > 0 ? 1.0 / sqrt(fan_in) : 0.0; /* fan_in 0 means no elements to fill */
    l = -s, h = s;
  } else {
    return 0;
  }
  if (lo)
    *lo = l;
  if (hi)
    *hi = h;
  return 1;
}

nala_status nala_seeded_fill(uint64_t seed, const char *key, int ndim, const int64_t *shape, float *dst,
                             nala_err *err) {
  double lo, hi;
  if (!key || ndim < 0 || (ndim && !shape))
    return nala_fail(err, NALA_E_ARG, "nala_seeded_fill: NULL key/shape or negative ndim");
  if (!nala_seeded_range(key, ndim, shape, &lo, &hi))
    return nala_fail(err, NALA_E_ARG, "seeded weights: no rule generates key \"%s\" (ndim %d)", key, ndim);
  size_t n = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0)
      return nala_fail(err, NALA_E_ARG, "seeded weights: key \"%s\" has negative shape[%d] = %lld", key, d,
                       (long long)shape[d]);
    n *= (size_t)shape[d];
  }
  if (n && !dst)
    return nala_fail(err, NALA_E_ARG, "seeded weights: NULL dst for key \"%s\"", key);
  uint64_t state = seed ^ nala_fnv1a64(key, strlen(key));
  double width = hi - lo;
  for (size_t i = 0; i < n; i++) {
    double u = (double)(nala_splitmix64_next(&state) >> 40) * 0x1p-24;
    dst[i] = (float)(lo + width * u);
  }
  return NALA_OK;
}

void nala_rope_angle(int head_dim, float *angle) {
  /* torch.linspace(0, 1, n) on the CPU scalar path: float step, the first half counted up from
   * start and the second half down from end (aten RangeFactoriesKernel). */
  int n = head_dim / 4;
  float step = n > 1 ? 1.0f / (float)(n - 1) : 0.0f;
  for (int i = 0; i < n; i++) {
    float x = n == 1 ? 0.0f : i < n / 2 ? step * (float)i : 1.0f - step * (float)(n - i - 1);
    /* 10000 ** x then 1.0 / that, each rounded to float32 like the tensor ops. */
    float power = (float)pow(10000.0, (double)x);
    float a = 1.0f / power;
    angle[2 * i] = a;
    angle[2 * i + 1] = a;
  }
}
