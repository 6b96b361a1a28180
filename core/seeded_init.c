/* Seeded weights (spec in include/nala/seeded_init.h). The arithmetic is plain double without
 * fma: ISO C mode (-std=c11) makes GCC default to -ffp-contract=off, which the Python twin needs.
 * The only fmaf calls reproduce PyTorch's own fused linspace (nala_rope_angle). */
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

/* torch.linspace(0, 1, n) as the project's reference PyTorch (Debian's 1.13, AVX2 kernels) gives
 * it, bit for bit (aten/src/ATen/native/cpu/RangeFactoriesKernel.cpp): float step = 1/(n-1);
 * element idx is start + step*idx below n/2 and end - step*(n-1-idx) above, each one fused
 * multiply-add (the AVX2 kernel is built with -mfma, so GCC contracts them). Whole blocks of 16
 * go through Vectorized<float>::arange: per 8 lanes a fused base as above, then lane k is
 * base + k*step rounded twice. Checked against torch for n = 1..299. */
static float linspace_01(int n, int idx) {
  float step = 1.0f / (float)(n - 1);
  int half = n / 2, vector_end = n / 16 * 16;
  if (idx < vector_end) {
    int lane = idx % 8, base_idx = idx - lane;
    float base = base_idx < half ? fmaf(step, (float)base_idx, 0.0f) : fmaf(-step, (float)(n - base_idx - 1), 1.0f);
    float offset = (float)lane * step;
    return base + offset;
  }
  return idx < half ? fmaf(step, (float)idx, 0.0f) : fmaf(-step, (float)(n - idx - 1), 1.0f);
}

void nala_rope_angle(int head_dim, float *angle) {
  int n = head_dim / 4;
  for (int i = 0; i < n; i++) {
    float x = n == 1 ? 0.0f : linspace_01(n, i);
    /* 10000 ** x then 1.0 / that, each rounded to float32 like the tensor ops. torch raises with
     * Sleef's powf on whole vectors, which is not always correctly rounded: a few entries of
     * head_dim 80 and of most head_dims above 100 differ by 1 ulp (none of the official 32, 64, 96). */
    float power = (float)pow(10000.0, (double)x);
    float a = 1.0f / power;
    angle[2 * i] = a;
    angle[2 * i + 1] = a;
  }
}
