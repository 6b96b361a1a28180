/* nala backbone: run the backbone on one input and dump the pyramid as safetensors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/backbone.h"
#include "nala/image_io.h"
#include "nala/preprocess.h"
#include "nala/safetensors.h"
#include "tools/cli.h"
#include "tools/cli_args.h"
#include "tools/cli_tensor.h"
#include "tools/cli_model.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: nala backbone --model M --input X --dump OUT.safetensors [options]\n"
          "  --input X        image file (read as mmdet does, EXIF orientation applied; normalised:\n"
          "                   RGB, mean 123.675,116.28,103.53,\n"
          "                   std 58.395,57.12,57.375; no resize) or a safetensors file holding a\n"
          "                   float32 tensor 'input' of shape [1,3,H,W]\n"
          "  --dump OUT       writes out0..out3 (float32, [1,C,H,W]) for the requested levels\n"
          "%s",
          cli_model_usage());
}

/* Loads --input as a normalised NCHW float image; returns NULL (message printed) on failure. */
static float *load_input(const char *path, int *h, int *w) {
  nala_err err;
  nala_err_clear(&err);
  size_t len = strlen(path);
  if (len > 12 && !strcmp(path + len - 12, ".safetensors"))
    return cli_load_input_tensor("nala", path, h, w);
  nala_image img;
  /* mmdet's LoadImageFromFile reads with mmcv's 'color' flag, i.e. cv2.IMREAD_COLOR, which applies
   * the EXIF orientation: do the same so a phone photo matches what mmdet feeds its model. */
  if (nala_image_read_exif(path, NALA_RGB, 0, NALA_EXIF_APPLY, &img, &err)) {
    fprintf(stderr, "nala: %s\n", err.msg);
    return NULL;
  }
  /* mmdet's normalisation (RGB, ImageNet mean/std) without its resize and padding. */
  nala_preprocess_cfg pp = nala_preprocess_mmdet_coco();
  pp.no_resize = 1;
  pp.pad_divisor = 0;
  pp.layout = NALA_NCHW;
  nala_preprocessed t;
  float *x = NULL;
  if (nala_preprocess(&pp, &img, &t, &err) == NALA_OK) {
    x = t.data; /* ownership moves to the caller (freed with free) */
    *h = t.h, *w = t.w;
  } else {
    fprintf(stderr, "nala: %s\n", err.msg);
  }
  nala_image_free(&img);
  return x;
}

static int dump(const nala_backbone *m, nala_backbone_ctx *ctx, const char *path) {
  const nala_backbone_cfg *cfg = nala_backbone_config(m);
  nala_st_tensor t[4];
  float *bufs[4] = {0};
  static const char *const names[4] = {"out0", "out1", "out2", "out3"};
  int n = 0, rc = NALA_EXIT_OK;
  nala_err err;
  nala_err_clear(&err);
  for (int i = 0; i < cfg->n_out; i++) {
    int level = cfg->out_indices[i];
    nala_feature f;
    nala_backbone_output(ctx, level, &f, &err);
    size_t count = (size_t)f.c * f.h * f.w;
    bufs[n] = malloc(count * sizeof(float));
    if (!bufs[n]) {
      fprintf(stderr, "nala: out of memory\n");
      rc = NALA_EXIT_RUNTIME;
      goto done;
    }
    nala_feature_to_nchw(&f, bufs[n]);
    t[n] = (nala_st_tensor){.name = names[level], .dtype = NALA_DT_F32, .ndim = 4,
                            .shape = {1, f.c, f.h, f.w}, .data = bufs[n], .nbytes = count * sizeof(float)};
    printf("%s: [1, %d, %d, %d]\n", names[level], f.c, f.h, f.w);
    n++;
  }
  if (nala_st_write(path, t, (size_t)n, &err)) {
    fprintf(stderr, "nala: %s\n", err.msg);
    rc = NALA_EXIT_RUNTIME;
  }
done:
  for (int i = 0; i < 4; i++)
    free(bufs[i]);
  return rc;
}

int nala_cli_backbone(int argc, char **argv) {
  cli_model_opts o = {0};
  const char *input = NULL, *out = NULL;
  cli_option model_table[CLI_MODEL_OPTIONS + 1];
  const cli_option own[] = {{"--input", CLI_TEXT, &input, 0, 0, NULL}, {"--dump", CLI_TEXT, &out, 0, 0, NULL}, {0}};
  const cli_option *tables[] = {cli_model_options(&o, model_table), own, NULL};
  int parsed = cli_parse_options("nala backbone", argc, argv, tables, usage);
  if (parsed >= 0)
    return parsed;
  if ((!o.model && !o.config) || !input || !out) {
    fprintf(stderr, "nala backbone: --model (or --config), --input and --dump are required\n");
    usage(stderr);
    return NALA_EXIT_USAGE;
  }
  int usage_error, h, w;
  /* Options, then the input, then the model: a bad option or file is refused before seconds go
   * into building the model. */
  nala_backbone_cfg checked;
  const char *weights;
  if (!cli_model_config(&o, &checked, &weights, &usage_error))
    return usage_error ? NALA_EXIT_USAGE : NALA_EXIT_RUNTIME;
  float *x = load_input(input, &h, &w);
  if (!x)
    return NALA_EXIT_RUNTIME;
  nala_backbone *m = cli_model_build(&o, &usage_error);
  if (!m) {
    free(x);
    return usage_error ? NALA_EXIT_USAGE : NALA_EXIT_RUNTIME;
  }
  cli_print_tier(m);
  int rc = NALA_EXIT_RUNTIME;
  nala_backbone_ctx *ctx = NULL;
  nala_err err;
  nala_err_clear(&err);
  if (x && !nala_backbone_ctx_create(m, o.threads, &ctx, &err) && !nala_backbone_plan(ctx, h, w, &err) &&
      !nala_backbone_forward(ctx, x, &err))
    rc = dump(m, ctx, out);
  else if (x)
    fprintf(stderr, "nala: %s\n", err.msg);
  free(x);
  nala_backbone_ctx_free(ctx);
  nala_backbone_free(m);
  return rc;
}
