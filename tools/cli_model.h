/* Options shared by the subcommands that build a backbone (demo, backbone, bench backbone). */
#ifndef NALA_TOOLS_CLI_MODEL_H
#define NALA_TOOLS_CLI_MODEL_H

#include <stdint.h>

#include "nala/backbone.h"
#include "tools/cli_args.h"

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

/* Rows in the model option table. */
#define CLI_MODEL_OPTIONS 9

/* Fills table with the model options (flags, pointing into o) for cli_parse_options; returns it. */
const cli_option *cli_model_options(cli_model_opts *o, cli_option table[CLI_MODEL_OPTIONS + 1]);

/* Usage lines for the model options. */
const char *cli_model_usage(void);

/* The backbone config o describes (preset or --config, then --attn and --out-indices) and the
 * weights file to load (NULL: seeded). Prints the error and returns 0 on failure; usage_error
 * as below. Cheap: lets a command check its options before reading big inputs. */
int cli_model_config(const cli_model_opts *o, nala_backbone_cfg *cfg, const char **weights, int *usage_error);

/* Builds the model described by o; prints the error and returns NULL on failure. usage_error is set
 * when the failure came from the options rather than the data (exit code 2 vs 1). */
nala_backbone *cli_model_build(const cli_model_opts *o, int *usage_error);

/* Prints "kernels: tier <t> on <CPU model>" for the run reports (and which oneDNN cap applies). */
void cli_print_tier(const nala_backbone *m);

#endif
