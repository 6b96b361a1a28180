#include "tools/cli_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "nala/config.h"
#include "nala/weights.h"

int cli_model_arg(cli_model_opts *o, int argc, char **argv, int *i) {
  static const char *const names[] = {"--model", "--attn", "--weights", "--seed", "--threads", "--out-indices",
                                      "--config", "--isa"};
  const char *a = argv[*i];
  if (!strcmp(a, "--ref")) {
    o->isa = NALA_ISA_REF;
    return 1;
  }
  int which = -1;
  for (int k = 0; k < 8; k++)
    if (!strcmp(a, names[k]))
      which = k;
  if (which < 0)
    return 0;
  if (*i + 1 >= argc) {
    fprintf(stderr, "nala: %s needs a value\n", a);
    return -1;
  }
  const char *v = argv[++*i];
  switch (which) {
  case 0: o->model = v; break;
  case 1: o->attn = v; break;
  case 2: o->weights = v; break;
  case 3: o->seed = strtoull(v, NULL, 10); break;
  case 4: o->threads = atoi(v); break;
  case 5: o->out_indices = v; break;
  case 6: o->config = v; break;
  case 7: {
    nala_err err;
    if (nala_isa_parse(v, &o->isa, &err)) {
      fprintf(stderr, "nala: --isa: %s\n", err.msg);
      return -1;
    }
    break;
  }
  }
  return 1;
}

const char *cli_model_usage(void) {
  return "  --config FILE.json              model.backbone of a config (e.g. configs/nalaformer_t_backbone.json)\n"
         "  --model nalaformer_xt|t|s|b|l   backbone variant\n"
         "  --attn SPEC                     attention per stage or block, e.g. l,l,v,v or l (all NaLa)\n"
         "  --weights W.safetensors         weights (keys backbone.*); default: seeded random weights\n"
         "  --seed S                        seed of the random weights (default 0)\n"
         "  --out-indices 0,1,2,3           pyramid levels to compute\n"
         "  --threads N                     OpenMP threads (default: all cores)\n"
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

nala_backbone *cli_model_build(const cli_model_opts *o, int *usage_error) {
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
      return NULL;
    }
    cfg = nala_config_model(c)->backbone;
    nala_config_free(c);
    if (!weights && cfg.weights[0])
      weights = cfg.weights;
  } else if (nala_backbone_cfg_preset(variant, &cfg, &err)) {
    fprintf(stderr, "nala: --model %s: %s\n", o->model ? o->model : variant, err.msg);
    *usage_error = 1;
    return NULL;
  }
  if (o->attn && nala_backbone_cfg_set_attn(&cfg, o->attn, &err)) {
    fprintf(stderr, "nala: --attn %s: %s\n", o->attn, err.msg);
    *usage_error = 1;
    return NULL;
  }
  if (o->out_indices && !parse_out_indices(o->out_indices, &cfg)) {
    fprintf(stderr, "nala: --out-indices '%s': expected distinct levels 0..3, e.g. 0,1,2,3\n", o->out_indices);
    *usage_error = 1;
    return NULL;
  }
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

int cli_parse_size(const char *s, int *h, int *w) {
  char *end;
  long a = strtol(s, &end, 10);
  if (end == s || (*end != 'x' && *end != 'X'))
    return 0;
  const char *p = end + 1;
  long b = strtol(p, &end, 10);
  if (end == p || *end || a <= 0 || b <= 0 || a > 16384 || b > 16384)
    return 0;
  *h = (int)a, *w = (int)b;
  return 1;
}

double cli_peak_rss_mb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0; /* Linux reports KB */
}

double cli_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

float *cli_synthetic_image(int h, int w, uint64_t seed) {
  size_t hw = (size_t)h * w;
  float *x = malloc(3 * hw * sizeof(float));
  if (!x)
    return NULL;
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int c = 0; c < 3; c++)
    for (int y = 0; y < h; y++)
      for (int xx = 0; xx < w; xx++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        float noise = (float)((s >> 40) * (1.0 / 16777216.0)) - 0.5f;
        x[c * hw + (size_t)y * w + xx] = 1.5f * __builtin_sinf(0.05f * (y + 7 * c)) * __builtin_cosf(0.03f * xx) + noise;
      }
  return x;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int cli_time_backbone(nala_backbone_ctx *ctx, const float *x, int warmup, int runs, double *median_ms) {
  nala_err err;
  nala_err_clear(&err);
  double *t = malloc((size_t)(runs > 0 ? runs : 1) * sizeof(double));
  if (!t)
    return 1;
  for (int i = 0; i < warmup + runs; i++) {
    double t0 = cli_now_ms();
    if (nala_backbone_forward(ctx, x, &err)) {
      fprintf(stderr, "nala: %s\n", err.msg);
      free(t);
      return 1;
    }
    if (i >= warmup)
      t[i - warmup] = cli_now_ms() - t0;
  }
  qsort(t, (size_t)runs, sizeof(double), cmp_double);
  *median_ms = runs % 2 ? t[runs / 2] : 0.5 * (t[runs / 2 - 1] + t[runs / 2]);
  free(t);
  return 0;
}

int cli_timed_run(const nala_backbone *m, int threads, int h, int w, int warmup, int runs,
                  nala_backbone_ctx **ctx_out, double *plan_ms, double *median_ms) {
  nala_err err;
  nala_err_clear(&err);
  nala_backbone_ctx *ctx = NULL;
  float *x = cli_synthetic_image(h, w, 1);
  double t0 = cli_now_ms();
  int rc = 1;
  if (!x)
    fprintf(stderr, "nala: out of memory\n");
  else if (nala_backbone_ctx_create(m, threads, &ctx, &err) || nala_backbone_plan(ctx, h, w, &err))
    fprintf(stderr, "nala: %s\n", err.msg);
  else {
    *plan_ms = cli_now_ms() - t0;
    rc = cli_time_backbone(ctx, x, warmup, runs, median_ms);
  }
  free(x);
  if (rc) {
    nala_backbone_ctx_free(ctx);
    ctx = NULL;
  }
  *ctx_out = ctx;
  return rc;
}
