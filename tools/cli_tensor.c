#include "tools/cli_tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "nala/safetensors.h"
#include "tools/cli_args.h"

float *cli_load_input_tensor(const char *cmd, const char *path, int *h, int *w) {
  nala_err err;
  nala_err_clear(&err);
  nala_st_file *f = NULL;
  if (nala_st_open(path, &f, &err)) {
    fprintf(stderr, "%s: %s\n", cmd, err.msg);
    return NULL;
  }
  const nala_st_tensor *t = nala_st_find(f, "input");
  if (!t || t->ndim != 4 || t->shape[0] != 1 || t->shape[1] != 3 || t->shape[2] < 1 || t->shape[3] < 1 ||
      t->shape[2] > CLI_MAX_SIDE || t->shape[3] > CLI_MAX_SIDE) {
    char shape[128] = "no such tensor";
    if (t) {
      int n = snprintf(shape, sizeof shape, "shape [");
      for (int d = 0; d < t->ndim && n < (int)sizeof shape; d++)
        n += snprintf(shape + n, sizeof shape - (size_t)n, d ? ",%lld" : "%lld", (long long)t->shape[d]);
      if (n < (int)sizeof shape)
        snprintf(shape + n, sizeof shape - (size_t)n, "]");
    }
    fprintf(stderr, "%s: %s: expected a tensor 'input' of shape [1,3,H,W] (1 <= H, W <= %d), got %s\n", cmd,
            path, CLI_MAX_SIDE, shape);
    nala_st_close(f);
    return NULL;
  }
  *h = (int)t->shape[2], *w = (int)t->shape[3];
  size_t n = (size_t)3 * *h * *w;
  float *x = malloc(n * sizeof(float));
  if (!x || nala_st_to_f32(t, x, n, &err)) {
    fprintf(stderr, "%s: %s: %s\n", cmd, path, x ? err.msg : "out of memory");
    free(x);
    x = NULL;
  }
  /* NaN or Inf would run through the network and come out as a pyramid of NaNs with exit 0. */
  size_t n_nan = 0, n_inf = 0, first = n;
  for (size_t k = 0; x && k < n; k++)
    if (!isfinite(x[k])) {
      n_nan += isnan(x[k]) != 0, n_inf += isinf(x[k]) != 0;
      first = first < k ? first : k;
    }
  if (x && (n_nan || n_inf)) {
    fprintf(stderr, "%s: %s: tensor 'input' has %zu non-finite value(s) of %zu (%zu NaN, %zu Inf; first at flat "
            "index %zu)\n", cmd, path, n_nan + n_inf, n, n_nan, n_inf, first);
    free(x);
    x = NULL;
  }
  nala_st_close(f);
  return x;
}
