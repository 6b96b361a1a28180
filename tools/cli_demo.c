/* nala demo: the main job on a built-in default — NaLaFormer-T with seeded weights on a generated
 * 512x512 image; prints the pyramid and the timing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/backbone.h"
#include "tools/cli.h"
#include "tools/cli_args.h"
#include "tools/cli_model.h"
#include "tools/cli_timing.h"

static void usage(FILE *out) {
  fprintf(out, "usage: nala demo [--size HxW] [model options]\n"
               "NaLaFormer (default T) with seeded weights on a generated image (default 512x512):\n"
               "prints the pyramid, the build/plan/forward times and the peak RSS.\n%s",
          cli_model_usage());
}

int nala_cli_demo(int argc, char **argv) {
  cli_model_opts o = {.model = "nalaformer_t"};
  int h = 512, w = 512;
  int size[2] = {512, 512};
  cli_option model_table[CLI_MODEL_OPTIONS + 1];
  const cli_option own[] = {{"--size", CLI_SIZE, size, 0, 0, NULL}, {0}};
  const cli_option *tables[] = {cli_model_options(&o, model_table), own, NULL};
  int parsed = cli_parse_options("nala demo", argc, argv, tables, usage);
  if (parsed >= 0)
    return parsed;
  h = size[0], w = size[1];
  int usage_error;
  double t0 = cli_now_ms();
  nala_backbone *m = cli_model_build(&o, &usage_error);
  if (!m)
    return usage_error ? NALA_EXIT_USAGE : NALA_EXIT_RUNTIME;
  double t_build = cli_now_ms() - t0;
  const nala_backbone_cfg *cfg = nala_backbone_config(m);
  printf("NaLaFormer-%s, seeded weights (seed %llu), attention %s|%s|%s|%s, input %dx%d generated\n", cfg->variant,
         (unsigned long long)o.seed, cfg->attn[0], cfg->attn[1], cfg->attn[2], cfg->attn[3], h, w);
  cli_print_tier(m);
  nala_err err;
  nala_err_clear(&err);
  nala_backbone_ctx *ctx = NULL;
  int rc = NALA_EXIT_RUNTIME;
  double median, t_plan;
  if (!cli_timed_run(m, o.threads, h, w, 1, 5, &ctx, &t_plan, &median, NULL)) {
    for (int i = 0; i < cfg->n_out; i++) {
      nala_feature f;
      nala_backbone_output(ctx, cfg->out_indices[i], &f, &err);
      double sum = 0, sq = 0;
      size_t n = (size_t)f.c * f.h * f.w;
      for (size_t k = 0; k < n; k++)
        sum += f.data[k], sq += (double)f.data[k] * f.data[k];
      printf("out%d: [1, %d, %d, %d]  stride %d  mean %+.4f  rms %.4f\n", cfg->out_indices[i], f.c, f.h, f.w,
             4 << cfg->out_indices[i], sum / n, __builtin_sqrt(sq / n));
    }
    double gflop = 2e-9 * nala_backbone_macs(cfg, h, w);
    printf("build %.0f ms, plan %.0f ms, forward median of 5: %.1f ms (%.1f GFLOP/s), peak RSS %.0f MB\n", t_build,
           t_plan, median, gflop / (median * 1e-3), cli_peak_rss_mb());
    rc = NALA_EXIT_OK;
  }
  nala_backbone_ctx_free(ctx);
  nala_backbone_free(m);
  return rc;
}
