/* Clocks, peak RSS and timed backbone runs (tools/cli_timing.h). */
#include "tools/cli_timing.h"

#include <stdio.h>
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
#include <malloc.h>
#endif
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

double cli_peak_rss_mb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0; /* Linux reports KB */
}

double cli_heap_in_use_mb(void) {
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
  struct mallinfo2 mi = mallinfo2();
  return (double)(mi.uordblks + mi.hblkhd) / (1024.0 * 1024.0);
#else
  return -1.0;
#endif
}

double cli_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

float *cli_synthetic_image(int h, int w, uint64_t seed) {
  size_t hw = (size_t)h * w;
  float *x = malloc(3 * hw * sizeof(float));
  if (!x)
    return NULL;
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int c = 0; c < 3; c++)
    for (int y = 0; y < h; y++)
      for (int xx = 0; xx < w; xx++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        float noise = (float)((s >> 40) * (1.0 / 16777216.0)) - 0.5f;
        x[c * hw + (size_t)y * w + xx] = 1.5f * __builtin_sinf(0.05f * (y + 7 * c)) * __builtin_cosf(0.03f * xx) + noise;
      }
  return x;
}

double cli_cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double cli_median(double *v, size_t n) {
  if (!n)
    return 0;
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int cli_time_backbone(nala_backbone_ctx *ctx, const float *x, int warmup, int runs, double *median_ms,
                      double *min_cpu_ms) {
  nala_err err;
  nala_err_clear(&err);
  double *t = malloc((size_t)(runs > 0 ? runs : 1) * sizeof(double));
  if (!t)
    return 1;
  double cpu_min = 0;
  for (int i = 0; i < warmup + runs; i++) {
    double t0 = cli_now_ms(), c0 = cli_cpu_ms();
    if (nala_backbone_forward(ctx, x, &err)) {
      fprintf(stderr, "nala: %s\n", err.msg);
      free(t);
      return 1;
    }
    double cpu = cli_cpu_ms() - c0;
    if (i >= warmup) {
      t[i - warmup] = cli_now_ms() - t0;
      cpu_min = i == warmup || cpu < cpu_min ? cpu : cpu_min;
    }
  }
  *median_ms = cli_median(t, (size_t)runs);
  if (min_cpu_ms)
    *min_cpu_ms = cpu_min;
  free(t);
  return 0;
}

int cli_timed_run(const nala_backbone *m, int threads, int h, int w, int warmup, int runs,
                  nala_backbone_ctx **ctx_out, double *plan_ms, double *median_ms, double *min_cpu_ms) {
  nala_err err;
  nala_err_clear(&err);
  nala_backbone_ctx *ctx = NULL;
  float *x = cli_synthetic_image(h, w, 1);
  double t0 = cli_now_ms();
  int rc = 1;
  if (!x)
    fprintf(stderr, "nala: out of memory\n");
  else if (nala_backbone_ctx_create(m, threads, &ctx, &err) || nala_backbone_plan(ctx, h, w, &err))
    fprintf(stderr, "nala: %s\n", err.msg);
  else {
    *plan_ms = cli_now_ms() - t0;
    rc = cli_time_backbone(ctx, x, warmup, runs, median_ms, min_cpu_ms);
  }
  free(x);
  if (rc) {
    nala_backbone_ctx_free(ctx);
    ctx = NULL;
  }
  *ctx_out = ctx;
  return rc;
}
