/* Options shared by the subcommands that build a backbone (demo, backbone, bench backbone). */
#ifndef NALA_TOOLS_CLI_MODEL_H
#define NALA_TOOLS_CLI_MODEL_H

#include <stdint.h>

#include "nala/backbone.h"

typedef struct cli_model_opts {
  const char *config;  /* JSON config whose model.backbone is used (and its weights, if set) */
  const char *model;   /* nalaformer_xt|t|s|b|l */
  const char *attn;    /* --attn spec or NULL */
  const char *weights; /* safetensors path or NULL for seeded weights */
  const char *out_indices;
  uint64_t seed;
  int threads;
  nala_isa isa;        /* --isa (AUTO unless given) */
} cli_model_opts;

/* Consumes one model option at argv[*i] (advancing *i past its value); returns 1 if it was one,
 * 0 if not, -1 on a missing value (message printed). */
int cli_model_arg(cli_model_opts *o, int argc, char **argv, int *i);

/* Usage lines for the model options. */
const char *cli_model_usage(void);

/* Builds the model described by o; prints the error and returns NULL on failure. usage_error is set
 * when the failure came from the options rather than the data (exit code 2 vs 1). */
nala_backbone *cli_model_build(const cli_model_opts *o, int *usage_error);

/* Prints "kernels: tier <t> on <CPU model>" for the run reports (and which oneDNN cap applies). */
void cli_print_tier(const nala_backbone *m);

/* Parses "HxW". */
int cli_parse_size(const char *s, int *h, int *w);

/* Peak resident set size of this process in MB. */
double cli_peak_rss_mb(void);

/* Monotonic clock in milliseconds. */
double cli_now_ms(void);

/* Seeded synthetic normalised image, NCHW [1,3,h,w] (a smooth pattern plus noise); NULL on OOM. */
float *cli_synthetic_image(int h, int w, uint64_t seed);

/* Runs warmup untimed forwards then runs timed ones; median in *median_ms. 0 on success. */
int cli_time_backbone(nala_backbone_ctx *ctx, const float *x, int warmup, int runs, double *median_ms);

/* Timed run of a model on a synthetic h x w image: new context, plan, warm-up, timed forwards.
 * On success *ctx_out holds the context (outputs of the last forward); the caller frees it.
 * Prints the error and returns 1 on failure. */
int cli_timed_run(const nala_backbone *m, int threads, int h, int w, int warmup, int runs,
                  nala_backbone_ctx **ctx_out, double *plan_ms, double *median_ms);
#endif
