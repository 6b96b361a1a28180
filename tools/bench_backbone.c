/* nala bench backbone: build once, warm up, time R forwards; the last line is machine-readable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/backbone.h"
#include "tools/cli.h"
#include "tools/cli_args.h"
#include "tools/cli_model.h"
#include "tools/cli_timing.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: nala bench backbone --model M --size HxW [--threads N] [--runs R] [--warmup K] [--profile]\n"
          "prints median latency, GFLOP/s (2 x multiply-adds of convs, linears and attention products)\n"
          "and peak RSS; last line: median_ms=<x> gflops=<y> peak_rss_mb=<z> isa=<tier> min_cpu_ms=<c>\n"
          "(c: the least CPU time of one forward, all threads: the figure to compare builds by on a busy machine)\n%s",
          cli_model_usage());
}

/* One more forward with per-step timing (each oneDNN step waited for), by kind of step. */
static void print_profile(nala_backbone_ctx *ctx) {
  float *x = cli_synthetic_image(nala_backbone_ctx_height(ctx), nala_backbone_ctx_width(ctx), 1);
  double one = 0;
  nala_backbone_ctx_set_profiling(ctx, 1);
  if (x && !cli_time_backbone(ctx, x, 0, 1, &one, NULL)) {
    const char *names[16];
    double ms[16];
    int n = nala_backbone_profile(ctx, names, ms, 16);
    printf("profile of one forward (%.1f ms with per-step waits):\n", one);
    for (int k = 0; k < n; k++)
      printf("  %-24s %8.2f ms\n", names[k], ms[k]);
  }
  nala_backbone_ctx_set_profiling(ctx, 0);
  free(x);
}

int nala_bench_backbone(int argc, char **argv) {
  cli_model_opts o = {0};
  int h = 512, w = 512, runs = 10, warmup = 2, profile = 0;
  int size[2] = {512, 512};
  cli_option model_table[CLI_MODEL_OPTIONS + 1];
  const cli_option own[] = {{"--size", CLI_SIZE, size, 0, 0, NULL},
                            {"--runs", CLI_INT, &runs, 1, 100000, NULL},
                            {"--warmup", CLI_INT, &warmup, 0, 100000, NULL},
                            {"--profile", CLI_SWITCH, &profile, 0, 0, NULL},
                            {0}};
  const cli_option *tables[] = {cli_model_options(&o, model_table), own, NULL};
  int parsed = cli_parse_options("nala bench backbone", argc, argv, tables, usage);
  if (parsed >= 0)
    return parsed;
  h = size[0], w = size[1];
  int usage_error;
  nala_backbone *m = cli_model_build(&o, &usage_error);
  if (!m)
    return usage_error ? NALA_EXIT_USAGE : NALA_EXIT_RUNTIME;
  nala_err err;
  nala_err_clear(&err);
  nala_backbone_ctx *ctx = NULL;
  int rc = NALA_EXIT_RUNTIME;
  double median = 0, plan_ms = 0, cpu_ms = 0;
  cli_print_tier(m);
  if (!cli_timed_run(m, o.threads, h, w, warmup, runs, &ctx, &plan_ms, &median, &cpu_ms)) {
    double gflop = 2e-9 * nala_backbone_macs(nala_backbone_config(m), h, w);
    size_t ws = 0;
    nala_backbone_workspace_size(ctx, h, w, &ws, &err);
    double rss = cli_peak_rss_mb();
    printf("model %s  size %dx%d  threads %d  runs %d  plan %.1f ms  workspace %.1f MB\n",
           o.model ? o.model : "nalaformer_t", h, w, o.threads, runs, plan_ms, ws / 1048576.0);
    printf("median %.2f ms  %.1f GFLOP/s (%.2f GFLOP)  peak RSS %.1f MB\n", median, gflop / (median * 1e-3), gflop,
           rss);
    if (profile)
      print_profile(ctx);
    printf("median_ms=%.3f gflops=%.2f peak_rss_mb=%.1f isa=%s min_cpu_ms=%.3f\n", median, gflop / (median * 1e-3),
           rss, nala_isa_name(nala_backbone_isa(m)), cpu_ms);
    rc = NALA_EXIT_OK;
  }
  nala_backbone_ctx_free(ctx);
  nala_backbone_free(m);
  return rc;
}
