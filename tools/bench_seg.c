/* nala bench seg: build once, warm up, time R forwards from the normalised tensor to the label map,
 * with the per-stage split; the last line is machine-readable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/config.h"
#include "nala/segmentor.h"
#include "tools/cli.h"
#include "tools/cli_args.h"
#include "tools/cli_seg.h"
#include "tools/cli_timing.h"

static void usage(FILE *out) {
  fprintf(out, "usage: nala bench seg --config C [--weights W] --size HxW [--threads N] [--runs R] [--warmup K]\n"
               "                      [--isa auto|ref|avx2|avx512]\n"
               "times R forwards (normalised tensor -> label map) of a segmentor with its config's test_cfg\n"
               "(seeded random weights, seed 0, without --weights); prints the split backbone / neck / head /\n"
               "resize+argmax; last line: median_ms=<x> peak_rss_mb=<z>\n");
}

int nala_bench_seg(int argc, char **argv) {
  cli_seg_opts o = {0};
  int size[2] = {512, 512}, runs = 10, warmup = 2;
  const cli_option own[] = {{"--config", CLI_TEXT, &o.config, 0, 0, NULL},
                            {"--weights", CLI_TEXT, &o.weights, 0, 0, NULL},
                            {"--size", CLI_SIZE, size, 0, 0, NULL},
                            {"--threads", CLI_INT, &o.threads, 0, CLI_MAX_THREADS, NULL},
                            {"--runs", CLI_INT, &runs, 1, 100000, NULL},
                            {"--warmup", CLI_INT, &warmup, 0, 100000, NULL},
                            {"--isa", CLI_CUSTOM, &o.isa, 0, 0, cli_parse_isa},
                            {0}};
  const cli_option *tables[] = {own, NULL};
  int parsed = cli_parse_options("nala bench seg", argc, argv, tables, usage);
  if (parsed >= 0)
    return parsed;
  if (!o.config) {
    fprintf(stderr, "nala bench seg: --config is required\n");
    usage(stderr);
    return NALA_EXIT_USAGE;
  }
  int h = size[0], w = size[1];
  nala_config *cfg = NULL;
  nala_segmentor *m = NULL;
  int rc = cli_seg_build(&o, &cfg, &m);
  if (rc)
    return rc;
  rc = NALA_EXIT_RUNTIME;
  nala_err err;
  nala_err_clear(&err);
  nala_seg_ctx *ctx = NULL;
  float *x = cli_synthetic_image(h, w, 1);
  int32_t *labels = malloc((size_t)h * w * sizeof *labels);
  double *times = malloc((size_t)runs * sizeof *times);
  double plan_ms = 0;
  nala_status st = x && labels && times ? nala_seg_ctx_create(m, o.threads, &ctx, &err)
                                         : nala_fail(&err, NALA_E_NOMEM, "out of memory for a %dx%d input", h, w);
  if (!st) {
    double t0 = cli_now_ms();
    st = nala_seg_plan(ctx, NALA_SEG_TENSOR, h, w, &err);
    plan_ms = cli_now_ms() - t0;
  }
  for (int i = 0; !st && i < warmup; i++)
    if (!(st = nala_seg_forward_tensor(ctx, x, &err)))
      st = nala_seg_read_labels_i32(ctx, labels, (size_t)h * w, &err);
  /* Stage timing waits once per module per pass: cheap enough to leave on in the timed runs. */
  if (ctx)
    nala_seg_ctx_set_profiling(ctx, 1);
  for (int i = 0; !st && i < runs; i++) {
    double t0 = cli_now_ms();
    if (!(st = nala_seg_forward_tensor(ctx, x, &err)))
      st = nala_seg_read_labels_i32(ctx, labels, (size_t)h * w, &err);
    times[i] = cli_now_ms() - t0;
  }
  if (st) {
    fprintf(stderr, "nala bench seg: %s\n", err.msg);
  } else {
    size_t ws = 0;
    nala_seg_workspace_size(ctx, NALA_SEG_TENSOR, h, w, &ws, &err);
    const char *names[8];
    double ms[8];
    int n = nala_seg_profile(ctx, names, ms, 8);
    double median = cli_median(times, (size_t)runs), rss = cli_peak_rss_mb();
    printf("config %s  size %dx%d  classes %d  threads %d  runs %d  isa %s  plan %.1f ms  workspace %.1f MB\n",
           o.config, h, w, nala_segmentor_num_classes(m), o.threads, runs, nala_isa_name(nala_segmentor_isa(m)),
           plan_ms, ws / 1048576.0);
    printf("per stage (mean of the timed runs):");
    for (int k = 0; k < n; k++)
      printf("  %s %.2f ms", !strcmp(names[k], "postprocess") ? "resize+argmax" : names[k], ms[k] / runs);
    printf("\nmedian %.2f ms  peak RSS %.1f MB\n", median, rss);
    printf("median_ms=%.3f peak_rss_mb=%.1f\n", median, rss);
    rc = NALA_EXIT_OK;
  }
  free(x);
  free(labels);
  free(times);
  nala_seg_ctx_free(ctx);
  nala_segmentor_free(m);
  nala_config_free(cfg);
  return rc;
}
