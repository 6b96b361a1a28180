/* nala bench det: a detector from the normalised padded tensor to the final detections (and masks
 * pasted at that size), R timed forwards after K warm-ups, then a per-stage split; last line
 * machine-readable. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/detector.h"
#include "tools/cli.h"
#include "tools/cli_args.h"
#include "tools/cli_timing.h"
#include "tools/det_run.h"

#define CMD "nala bench det"

static void usage(FILE *out) {
  fprintf(out,
          "usage: nala bench det --config C [--weights W] [--size HxW] [--threads N] [--runs R] [--warmup K]\n"
          "                      [--profile-runs P] [--seed S] [--isa T] [--cfg-options KEY=VALUE ...]\n"
          "times a detector from a normalised, padded float32 [1,3,H,W] tensor (default 800x1088: a 640x480\n"
          "image at mmdet's 1333x800 test scale, padded to 32) to the final detections and masks; then P\n"
          "profiled forwards give the per-stage split (mean). Weights: W, else seeded\n"
          "(seed S, default 0). Last line: median_ms=<x> peak_rss_mb=<z> isa=<tier> dets=<n>\n");
}

typedef struct bench_args {
  det_run_opts run;
  const char *overrides[64];
} bench_args;

static nala_status add_override(const char *flag, const char *text, void *dst, nala_err *err) {
  bench_args *a = dst;
  if (a->run.n_overrides == 64)
    return nala_fail(err, NALA_E_ARG, "%s: at most 64", flag);
  a->overrides[a->run.n_overrides++] = text;
  return NALA_OK;
}

int nala_bench_det(int argc, char **argv) {
  bench_args a = {0};
  a.run.overrides = a.overrides;
  int size[2] = {800, 1088}, runs = 10, warmup = 2, profile_runs = 3;
  const cli_option options[] = {{"--config", CLI_TEXT, &a.run.config, 0, 0, NULL},
                                {"--weights", CLI_TEXT, &a.run.weights, 0, 0, NULL},
                                {"--seed", CLI_U64, &a.run.seed, 0, 0, NULL},
                                {"--threads", CLI_INT, &a.run.threads, 0, CLI_MAX_THREADS, NULL},
                                {"--isa", CLI_CUSTOM, &a.run.isa, 0, 0, cli_parse_isa},
                                {"--cfg-options", CLI_CUSTOM, &a, 0, 0, add_override},
                                {"--size", CLI_SIZE, size, 0, 0, NULL},
                                {"--runs", CLI_INT, &runs, 1, 100000, NULL},
                                {"--warmup", CLI_INT, &warmup, 0, 100000, NULL},
                                {"--profile-runs", CLI_INT, &profile_runs, 0, 100000, NULL},
                                {0}};
  const cli_option *tables[] = {options, NULL};
  int parsed = cli_parse_options(CMD, argc, argv, tables, usage);
  if (parsed >= 0)
    return parsed;
  if (!a.run.config) {
    fprintf(stderr, CMD ": --config is required\n");
    usage(stderr);
    return NALA_EXIT_USAGE;
  }
  int h = size[0], w = size[1];
  float *x = cli_synthetic_image(h, w, 1);
  double *t = malloc((size_t)runs * sizeof *t);
  det_run r;
  if (!x || !t) {
    fprintf(stderr, CMD ": out of memory\n");
    free(x);
    free(t);
    return NALA_EXIT_RUNTIME;
  }
  if (det_run_open(CMD, &a.run, &r)) {
    free(x);
    free(t);
    return NALA_EXIT_RUNTIME;
  }
  nala_err err;
  nala_err_clear(&err);
  char cpu[128];
  printf("kernels: tier %s on %s\n", nala_isa_name(nala_detector_isa(r.model)), nala_cpu_name(cpu, sizeof cpu));
  nala_status st = NALA_OK;
  /* Mask R-CNN pastes masks when they are read: every detection's h x w bitmap is part of a run. */
  int masks = nala_detector_has_masks(r.model);
  uint8_t *bitmap = masks ? malloc((size_t)h * w) : NULL;
  double paste_ms = 0;
  if (masks && !bitmap)
    st = nala_fail(&err, NALA_E_NOMEM, "out of memory for a %dx%d mask", h, w);
  r.profiling = 0;
  for (int i = 0; i < warmup + runs && st == NALA_OK; i++) {
    double t0 = cli_now_ms();
    st = det_run_tensor(&r, x, h, w, &err);
    double t1 = cli_now_ms();
    for (int k = 0; masks && k < r.n_dets && st == NALA_OK; k++)
      st = nala_det_read_mask(r.ctx, k, bitmap, (size_t)h * w, &err);
    if (i >= warmup) {
      t[i - warmup] = cli_now_ms() - t0;
      paste_ms += cli_now_ms() - t1;
    }
  }
  int dets = r.n_dets;
  double plan_ms = r.plan_ms;
  size_t ws = 0;
  if (st == NALA_OK)
    st = nala_det_workspace_size(r.ctx, NALA_DET_TENSOR, h, w, &ws, &err);
  int rc = NALA_EXIT_RUNTIME;
  if (st == NALA_OK) {
    double median = cli_median(t, (size_t)runs);
    /* The split: fresh sums over profiled forwards only (each stage waited for). */
    r.profiling = 1;
    r.n_stages = 0, r.frames = 0, r.forward_ms = 0;
    for (int i = 0; i < profile_runs && st == NALA_OK; i++)
      st = det_run_tensor(&r, x, h, w, &err);
    double rss = cli_peak_rss_mb();
    if (st == NALA_OK) {
      printf("config %s  size %dx%d  threads %d  runs %d  plan %.1f ms  workspace %.1f MB  detections %d%s\n",
             a.run.config, h, w, a.run.threads, runs, plan_ms, ws / 1048576.0, dets,
             nala_detector_has_masks(r.model) ? " (with masks)" : "");
      if (profile_runs) {
        printf("per stage, mean of %d profiled forwards:\n", profile_runs);
        det_run_print_stages(&r, stdout, "  ");
        if (masks) /* not a stage of the forward: nala_det_read_mask pastes */
          printf("  %-14s %9.2f ms  (mask paste of every detection at %dx%d, mean of the timed runs)\n", "paste",
                 paste_ms / runs, h, w);
      }
      printf("median %.2f ms  peak RSS %.1f MB\n", median, rss);
      printf("median_ms=%.3f peak_rss_mb=%.1f isa=%s dets=%d\n", median, rss, nala_isa_name(nala_detector_isa(r.model)),
             dets);
      rc = NALA_EXIT_OK;
    }
  }
  if (st != NALA_OK)
    fprintf(stderr, CMD ": %s\n", err.msg);
  det_run_close(&r);
  free(bitmap);
  free(x);
  free(t);
  return rc;
}
