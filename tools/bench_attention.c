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
#include "tools/cli_args.h"
#include "tools/cli_timing.h"

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
    double t0 = cli_now_ms(), c0 = cli_cpu_ms();
    fn(&a);
    times[r] = cli_now_ms() - t0;
    cpu[r] = cli_cpu_ms() - c0;
  }
  if (!rc) {
    double median = cli_median(times, (size_t)runs), median_cpu = cli_median(cpu, (size_t)runs);
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
  const cli_option options[] = {{"--kind", CLI_TEXT, &kind, 0, 0, NULL},
                                {"--tokens", CLI_INT, &N, 1, 1 << 24, NULL},
                                {"--dim", CLI_INT, &d, 4, 1024, NULL},
                                {"--heads", CLI_INT, &heads, 1, 256, NULL},
                                {"--threads", CLI_INT, &threads, 1, CLI_MAX_THREADS, NULL},
                                {"--runs", CLI_INT, &runs, 1, 100000, NULL},
                                {"--isa", CLI_CUSTOM, &want, 0, 0, cli_parse_isa},
                                {0}};
  const cli_option *tables[] = {options, NULL};
  int parsed = cli_parse_options("nala bench attention", argc, argv, tables, usage);
  if (parsed >= 0)
    return parsed;
  int bad_kind = strcmp(kind, "linear") && strcmp(kind, "softmax") && strcmp(kind, "both");
  if (bad_kind || d % 4) {
    if (bad_kind)
      fprintf(stderr, "nala bench attention: --kind '%s': expected linear, softmax or both\n", kind);
    else
      fprintf(stderr, "nala bench attention: --dim '%d': expected a multiple of 4\n", d);
    usage(stderr);
    return NALA_EXIT_USAGE;
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
  printf("median_ms=%.3f gflops=%.2f peak_rss_mb=%.1f\n", median, gflops, cli_peak_rss_mb());
  return NALA_EXIT_OK;
}
