/* nala bench attention: times the attention kernels alone on seeded inputs laid out like the
 * backbone's (q|k rows of 2C, v rows of C). Inputs and workspace are allocated once, before
 * timing; the last line is machine-readable. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/kernels/attention.h"
#include "core/kernels/rope.h"
#include "tools/cli.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: nala bench attention [--kind linear|softmax|both] [--tokens N] [--dim D] [--heads H]\n"
          "                            [--threads T] [--runs R] [--isa auto|ref|avx2|avx512]\n"
          "Times NaLa linear and/or softmax attention on an HxW map of N tokens (H*W = N, H the\n"
          "largest divisor <= sqrt N). Defaults: both, N 4096, D 64, H 1, T 1, R 5, auto.\n"
          "GFLOP/s counts 8*D^2 per token and head (KtV and Q kv) for linear, 4*N*D per token and\n"
          "head (QKt and PV) for softmax. Per kind it prints median wall ms, ns/token, GFLOP/s, the\n"
          "median process CPU time (all threads; robust on a shared machine), the workspace and\n"
          "the N x N fp32 matrix a materialised softmax would need; the last line is\n"
          "median_ms=<x> gflops=<y> peak_rss_mb=<z> for the last kind run (peak RSS of the process).\n");
}

static int parse_int(const char *s, int lo, int hi, int *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (end == s || *end || v < lo || v > hi)
    return 0;
  *out = (int)v;
  return 1;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* CPU time of the whole process (all threads): on a shared machine the kernel's own cost even
 * when other jobs take the cores away and stretch the wall time. */
static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static double peak_rss_mb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0; /* Linux reports kilobytes */
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct bench_inputs {
  int N, H, W, heads, d, C;
  float *qk, *v, *out, *angle, *tables;
  nala_rope rope;
} bench_inputs;

static int inputs_init(bench_inputs *in, int N, int heads, int d) {
  memset(in, 0, sizeof *in);
  in->N = N, in->heads = heads, in->d = d, in->C = heads * d;
  in->H = (int)sqrt((double)N);
  while (N % in->H)
    in->H--;
  in->W = N / in->H;
  in->qk = malloc(sizeof(float) * (size_t)N * 2 * in->C);
  in->v = malloc(sizeof(float) * (size_t)N * in->C);
  in->out = malloc(sizeof(float) * (size_t)N * in->C);
  in->angle = malloc(sizeof(float) * (size_t)d / 2);
  in->tables = malloc(sizeof(float) * nala_rope_tables_floats(in->H, in->W, d));
  if (!in->qk || !in->v || !in->out || !in->angle || !in->tables)
    return 0;
  unsigned long long s = 0x2545F4914F6CDD1Dull;
  for (size_t i = 0; i < (size_t)N * 2 * in->C; i++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    in->qk[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
  }
  for (size_t i = 0; i < (size_t)N * in->C; i++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    in->v[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
  }
  nala_rope_angle(d, in->angle);
  nala_rope_build(in->H, in->W, d, in->angle, in->tables, &in->rope);
  return 1;
}

static void inputs_free(bench_inputs *in) {
  free(in->qk), free(in->v), free(in->out), free(in->angle), free(in->tables);
}

/* Times one kernel; returns 0 on success and prints its lines. */
static int bench_kind(bench_inputs *in, int softmax, nala_isa isa, int threads, int runs, double *median_out,
                      double *gflops_out) {
  size_t ws_floats = softmax ? nala_attn_softmax_ws_floats(in->N, in->heads, in->d, threads)
                             : nala_attn_linear_ws_floats(in->N, in->heads, in->d, threads);
  float *ws = malloc(sizeof(float) * ws_floats);
  double *times = malloc(sizeof(double) * (size_t)runs), *cpu = malloc(sizeof(double) * (size_t)runs);
  if (!ws || !times || !cpu) {
    fprintf(stderr, "nala bench attention: out of memory for a %.1f MB workspace\n", ws_floats * 4.0 / 1048576.0);
    free(ws), free(times), free(cpu);
    return 1;
  }
  memset(ws, 0, sizeof(float) * ws_floats); /* touch it so RSS counts it */
  nala_err err;
  nala_err_clear(&err);
  nala_attn_args a = {.q = in->qk, .k = in->qk + in->C, .v = in->v, .ld_qk = 2 * in->C, .ld_v = in->C,
                      .out = in->out, .ld_out = in->C, .N = in->N, .heads = in->heads, .d = in->d,
                      .rope = &in->rope, .ws = ws, .nthreads = threads, .err = &err};
  nala_attn_fn fn = softmax ? nala_attn_softmax_for(isa) : nala_attn_linear_for(isa);
  int rc = 0;
  if (fn(&a) != NALA_OK) { /* warm-up: faults pages in, starts the OpenMP pool */
    fprintf(stderr, "nala bench attention: %s\n", err.msg);
    rc = 1;
  }
  for (int r = 0; r < runs && !rc; r++) {
    double t0 = now_ms(), c0 = cpu_ms();
    fn(&a);
    times[r] = now_ms() - t0;
    cpu[r] = cpu_ms() - c0;
  }
  if (!rc) {
    qsort(times, (size_t)runs, sizeof *times, cmp_double);
    qsort(cpu, (size_t)runs, sizeof *cpu, cmp_double);
    double median = runs % 2 ? times[runs / 2] : 0.5 * (times[runs / 2 - 1] + times[runs / 2]);
    double median_cpu = runs % 2 ? cpu[runs / 2] : 0.5 * (cpu[runs / 2 - 1] + cpu[runs / 2]);
    double flop = softmax ? 4.0 * in->N * (double)in->N * in->d * in->heads
                          : 8.0 * in->d * (double)in->d * in->N * in->heads;
    double checksum = 0;
    for (size_t i = 0; i < (size_t)in->N * in->C; i++)
      checksum += in->out[i];
    printf("kind=%s isa=%s N=%d map=%dx%d dim=%d heads=%d threads=%d runs=%d median_ms=%.3f min_ms=%.3f "
           "ns_per_token=%.1f gflops=%.2f cpu_ms=%.3f cpu_ns_per_token=%.1f workspace_mb=%.2f nxn_fp32_mb=%.1f "
           "checksum=%.6e\n",
           softmax ? "softmax" : "linear", nala_isa_name(isa), in->N, in->H, in->W, in->d, in->heads, threads, runs,
           median, times[0], median * 1e6 / in->N, flop / (median * 1e6), median_cpu, median_cpu * 1e6 / in->N,
           ws_floats * 4.0 / 1048576.0,
           (double)in->N * in->N * 4.0 * in->heads / 1048576.0, checksum);
    *median_out = median;
    *gflops_out = flop / (median * 1e6);
  }
  free(ws), free(times), free(cpu);
  return rc;
}

int nala_bench_attention(int argc, char **argv) {
  const char *kind = "both";
  int N = 4096, d = 64, heads = 1, threads = 1, runs = 5;
  nala_isa want = NALA_ISA_AUTO, isa;
  for (int i = 1; i < argc; i++) {
    const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    int ok = 1;
    if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
      usage(stdout);
      return NALA_EXIT_OK;
    } else if (!val) {
      ok = 0;
    } else if (!strcmp(opt, "--kind")) {
      kind = val;
      ok = !strcmp(val, "linear") || !strcmp(val, "softmax") || !strcmp(val, "both");
    } else if (!strcmp(opt, "--tokens")) {
      ok = parse_int(val, 1, 1 << 24, &N);
    } else if (!strcmp(opt, "--dim")) {
      ok = parse_int(val, 4, 1024, &d) && d % 4 == 0;
    } else if (!strcmp(opt, "--heads")) {
      ok = parse_int(val, 1, 256, &heads);
    } else if (!strcmp(opt, "--threads")) {
      ok = parse_int(val, 1, 1024, &threads);
    } else if (!strcmp(opt, "--runs")) {
      ok = parse_int(val, 1, 100000, &runs);
    } else if (!strcmp(opt, "--isa")) {
      ok = !nala_isa_parse(val, &want, NULL);
    } else {
      ok = 0;
    }
    if (!ok) {
      fprintf(stderr, "nala bench attention: bad or incomplete option '%s%s%s'\n", opt, val ? " " : "",
              val ? val : "");
      usage(stderr);
      return NALA_EXIT_USAGE;
    }
    i++;
  }
  nala_err err;
  if (nala_isa_resolve(want, &isa, &err)) {
    fprintf(stderr, "nala bench attention: %s\n", err.msg);
    return NALA_EXIT_RUNTIME;
  }
  char cpu[128];
  printf("kernels: tier %s on %s\n", nala_isa_name(isa), nala_cpu_name(cpu, sizeof cpu));
  bench_inputs in;
  if (!inputs_init(&in, N, heads, d)) {
    fprintf(stderr, "nala bench attention: out of memory for N=%d heads=%d dim=%d inputs\n", N, heads, d);
    inputs_free(&in);
    return NALA_EXIT_RUNTIME;
  }
  double median = 0, gflops = 0;
  int rc = 0;
  if (strcmp(kind, "softmax"))
    rc = bench_kind(&in, 0, isa, threads, runs, &median, &gflops);
  if (!rc && strcmp(kind, "linear"))
    rc = bench_kind(&in, 1, isa, threads, runs, &median, &gflops);
  inputs_free(&in);
  if (rc)
    return NALA_EXIT_RUNTIME;
  printf("median_ms=%.3f gflops=%.2f peak_rss_mb=%.1f\n", median, gflops, peak_rss_mb());
  return NALA_EXIT_OK;
}
