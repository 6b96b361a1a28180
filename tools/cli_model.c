/* Model options of the CLI: parsing (one table), usage lines, building the backbone. */
#include "tools/cli_model.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/config.h"
#include "nala/weights.h"
#include "tools/cli_args.h"

const cli_option *cli_model_options(cli_model_opts *o, cli_option table[CLI_MODEL_OPTIONS + 1]) {
  const cli_option rows[CLI_MODEL_OPTIONS + 1] = {
      {"--config", CLI_TEXT, &o->config, 0, 0, NULL},
      {"--model", CLI_TEXT, &o->model, 0, 0, NULL},
      {"--attn", CLI_TEXT, &o->attn, 0, 0, NULL},
      {"--weights", CLI_TEXT, &o->weights, 0, 0, NULL},
      {"--seed", CLI_U64, &o->seed, 0, 0, NULL},
      {"--threads", CLI_INT, &o->threads, 0, CLI_MAX_THREADS, NULL},
      {"--out-indices", CLI_TEXT, &o->out_indices, 0, 0, NULL},
      {"--isa", CLI_CUSTOM, &o->isa, 0, 0, cli_parse_isa},
      {"--ref", CLI_CUSTOM_SWITCH, &o->isa, 0, 0, cli_parse_isa},
      {NULL, CLI_TEXT, NULL, 0, 0, NULL},
  };
  memcpy(table, rows, sizeof rows);
  return table;
}

const char *cli_model_usage(void) {
  return "  --config FILE.json              model.backbone of a config (e.g. configs/nalaformer_t_backbone.json)\n"
         "  --model nalaformer_xt|t|s|b|l   backbone variant\n"
         "  --attn SPEC                     attention per stage or block, e.g. l,l,v,v or l (all NaLa)\n"
         "  --weights W.safetensors         weights (keys backbone.*); default: seeded random weights\n"
         "  --seed S                        seed of the random weights (default 0)\n"
         "  --out-indices 0,1,2,3           pyramid levels to compute\n"
         "  --threads N                     OpenMP threads, 0..4096 (default 0: all cores)\n"
         "  --isa auto|ref|avx2|avx512      kernel tier (default auto: NALA_ISA if set, else the best\n"
         "                                  this CPU has; a tier the CPU lacks is an error)\n"
         "  --ref                           same as --isa ref\n";
}

static int parse_out_indices(const char *s, nala_backbone_cfg *cfg) {
  int n = 0, seen[4] = {0};
  for (const char *p = s; *p;) {
    if (*p < '0' || *p > '3' || n == 4 || seen[*p - '0'])
      return 0;
    seen[*p - '0'] = 1;
    cfg->out_indices[n++] = *p - '0';
    p++;
    if (*p == ',')
      p++;
    else if (*p)
      return 0;
  }
  cfg->n_out = n;
  return n > 0;
}

int cli_model_config(const cli_model_opts *o, nala_backbone_cfg *cfg_out, const char **weights_out,
                     int *usage_error) {
  *usage_error = 0;
  nala_err err;
  nala_err_clear(&err);
  const char *variant = o->model ? o->model : "nalaformer_t";
  if (!strncmp(variant, "nalaformer_", 11))
    variant += 11;
  nala_backbone_cfg cfg;
  const char *weights = o->weights;
  if (o->config) {
    nala_config *c = NULL;
    if (nala_config_load(o->config, &c, &err)) {
      fprintf(stderr, "nala: %s\n", err.msg);
      return 0;
    }
    const nala_model_cfg *model = nala_config_model(c);
    if (!model) { /* a config of a dataset only, or "{}" */
      fprintf(stderr, "nala: --config %s: no \"model\" section (a backbone needs model.backbone)\n", o->config);
      nala_config_free(c);
      return 0;
    }
    cfg = model->backbone;
    nala_config_free(c);
    if (!weights && cfg.weights[0])
      weights = cfg.weights;
  } else if (nala_backbone_cfg_preset(variant, &cfg, &err)) {
    fprintf(stderr, "nala: --model %s: %s\n", o->model ? o->model : variant, err.msg);
    *usage_error = 1;
    return 0;
  }
  if (o->attn && nala_backbone_cfg_set_attn(&cfg, o->attn, &err)) {
    fprintf(stderr, "nala: --attn %s: %s\n", o->attn, err.msg);
    *usage_error = 1;
    return 0;
  }
  if (o->out_indices && !parse_out_indices(o->out_indices, &cfg)) {
    fprintf(stderr, "nala: --out-indices '%s': expected distinct levels 0..3, e.g. 0,1,2,3\n", o->out_indices);
    *usage_error = 1;
    return 0;
  }
  *cfg_out = cfg;
  *weights_out = weights;
  return 1;
}

nala_backbone *cli_model_build(const cli_model_opts *o, int *usage_error) {
  nala_backbone_cfg cfg;
  const char *weights;
  if (!cli_model_config(o, &cfg, &weights, usage_error))
    return NULL;
  nala_err err;
  nala_err_clear(&err);
  nala_weights *w = NULL;
  nala_status st = weights ? nala_weights_open(weights, &w, &err) : nala_weights_seeded(o->seed, &w, &err);
  nala_backbone *m = NULL;
  nala_backbone_opts opts = {.isa = o->isa};
  if (!st)
    st = nala_backbone_create(&cfg, w, &opts, &m, &err);
  nala_weights_close(w);
  if (st) {
    fprintf(stderr, "nala: %s\n", err.msg);
    return NULL;
  }
  return m;
}

void cli_print_tier(const nala_backbone *m) {
  char cpu[128];
  printf("kernels: tier %s on %s\n", nala_isa_name(nala_backbone_isa(m)), nala_cpu_name(cpu, sizeof cpu));
}
