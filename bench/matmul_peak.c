/* The machine's fp32 matmul peak, measured with oneDNN's sgemm (the GEMM nala's backbone uses), so
 * backbone GFLOP/s figures can be read as a fraction of what this CPU reaches on dense matmuls.
 *
 *   matmul_peak [--size N] [--runs R] [--warmup K] [--threads T]...   (default: 2048, 7, 2, 1 and 2)
 *
 * One N x N x N sgemm per run (2*N^3 flop); per thread count prints the median and best GFLOP/s and
 * the best per core. Last line: peak_gflops_<T>t=<best> ... per_core_gflops=<best with 1 thread>.
 * Exit codes: 0 success, 1 oneDNN failure or no memory, 2 bad arguments. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <oneapi/dnnl/dnnl.h>

#define MAX_THREAD_COUNTS 8
#define MAX_RUNS 1000

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void usage(FILE *out) {
  fprintf(out, "usage: matmul_peak [--size N] [--runs R] [--warmup K] [--threads T]...\n"
               "fp32 sgemm GFLOP/s (oneDNN), default N=2048, R=7, K=2, threads 1 and 2\n");
}

static int parse_int(const char *text, int lo, int hi, int *out) {
  char *end;
  long v = strtol(text, &end, 10);
  if (end == text || *end || v < lo || v > hi)
    return 0;
  *out = (int)v;
  return 1;
}

/* Times runs sgemms of size n with t threads; fills median and best GFLOP/s. Returns 0 on success. */
static int measure(const float *a, const float *b, float *c, int n, int t, int warmup, int runs, double *median,
                   double *best) {
  double gflop = 2e-9 * (double)n * (double)n * (double)n;
  double rates[MAX_RUNS];
  omp_set_num_threads(t);
  for (int i = 0; i < warmup + runs; i++) {
    double t0 = now_s();
    dnnl_status_t st = dnnl_sgemm('N', 'N', n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double dt = now_s() - t0;
    if (st != dnnl_success) {
      fprintf(stderr, "matmul_peak: dnnl_sgemm %dx%dx%d failed with status %d\n", n, n, n, (int)st);
      return 1;
    }
    if (i >= warmup)
      rates[i - warmup] = gflop / dt;
  }
  qsort(rates, (size_t)runs, sizeof *rates, cmp_double);
  *median = runs % 2 ? rates[runs / 2] : 0.5 * (rates[runs / 2 - 1] + rates[runs / 2]);
  *best = rates[runs - 1];
  return 0;
}

int main(int argc, char **argv) {
  int n = 2048, runs = 7, warmup = 2, n_threads = 0;
  int threads[MAX_THREAD_COUNTS];
  for (int i = 1; i < argc; i++) {
    const char *option = argv[i];
    int ok = i + 1 < argc;
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--size") && ok) {
      ok = parse_int(argv[++i], 16, 16384, &n);
    } else if (!strcmp(argv[i], "--runs") && ok) {
      ok = parse_int(argv[++i], 1, MAX_RUNS, &runs);
    } else if (!strcmp(argv[i], "--warmup") && ok) {
      ok = parse_int(argv[++i], 0, 100, &warmup);
    } else if (!strcmp(argv[i], "--threads") && ok && n_threads < MAX_THREAD_COUNTS) {
      ok = parse_int(argv[++i], 1, 1024, &threads[n_threads++]);
    } else {
      ok = 0;
    }
    if (!ok) {
      fprintf(stderr, "matmul_peak: bad or incomplete option '%s'\n", option);
      usage(stderr);
      return 2;
    }
  }
  if (!n_threads) {
    threads[0] = 1, threads[1] = 2;
    n_threads = 2;
  }
  size_t count = (size_t)n * (size_t)n;
  float *a = malloc(count * sizeof *a), *b = malloc(count * sizeof *b), *c = malloc(count * sizeof *c);
  if (!a || !b || !c) {
    fprintf(stderr, "matmul_peak: cannot allocate 3 x %zu floats\n", count);
    free(a), free(b), free(c);
    return 1;
  }
  /* Values in [-1, 1) from a fixed LCG: denormals or zeros could change the timing. */
  unsigned state = 12345u;
  for (size_t i = 0; i < count; i++) {
    state = state * 1664525u + 1013904223u;
    a[i] = (float)(state >> 8) * (1.0f / 8388608.0f) - 1.0f;
    state = state * 1664525u + 1013904223u;
    b[i] = (float)(state >> 8) * (1.0f / 8388608.0f) - 1.0f;
  }
  double best_rate[MAX_THREAD_COUNTS] = {0};
  int rc = 0;
  for (int k = 0; k < n_threads && !rc; k++) {
    double median, best;
    rc = measure(a, b, c, n, threads[k], warmup, runs, &median, &best);
    if (!rc) {
      best_rate[k] = best;
      printf("sgemm %dx%dx%d  threads %d  median %.1f GFLOP/s  best %.1f GFLOP/s  best per core %.1f GFLOP/s\n", n,
             n, n, threads[k], median, best, best / threads[k]);
    }
  }
  if (!rc) {
    double per_core = 0;
    for (int k = 0; k < n_threads; k++) {
      printf("peak_gflops_%dt=%.2f ", threads[k], best_rate[k]);
      if (threads[k] == 1)
        per_core = best_rate[k];
    }
    printf("per_core_gflops=%.2f\n", per_core > 0 ? per_core : best_rate[0] / threads[0]);
  }
  free(a), free(b), free(c);
  return rc;
}
