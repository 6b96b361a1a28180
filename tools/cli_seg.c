/* nala seg: option parsing, building the segmentor, and the parity dump (--dump): a normalised
 * tensor in, the decode head's logits and the label map out. Images, folders, video and cameras
 * go to cli_seg_stream (tools/cli_seg_stream.c). */
#include "tools/cli_seg.h"
#include "tools/cli_seg_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/config.h"
#include "nala/safetensors.h"
#include "nala/segmentor.h"
#include "nala/weights.h"
#include "tools/cli.h"
#include "tools/cli_args.h"
#include "tools/cli_tensor.h"
#include "tools/seg_contact_sheet.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: nala seg --config C [--weights W] --input IMG|DIR|VIDEO|camera:N --out PATH [options]\n"
          "       nala seg --config C [--weights W] --input X.safetensors --dump OUT.safetensors\n"
          "  --config FILE.json         segmentor config (model.type EncoderDecoder)\n"
          "  --weights W.safetensors    mmseg checkpoint converted by tools/convert_checkpoint.py\n"
          "                             (default: seeded random weights, seed 0)\n"
          "  --input X                  image, folder, video file, camera:N, or with --dump a safetensors\n"
          "                             file with float32 'input' [1,3,H,W], normalised, used as is\n"
          "  --out PATH                 label PNG / folder of them / overlay video\n"
          "  --overlay                  also write colour overlays\n"
          "  --labels-dir DIR           (video, camera) also write frame i's label PNG as DIR/NNNNNN.png\n"
          "                             (0-based, the names of `nala synth video --labels`; score them with\n"
          "                             nala eval seg --pred DIR --gt ...)\n"
          "  --contact-sheet OUT.png    (video, camera) also write a contact sheet: one row per frame,\n"
          "                             input | overlay, each tile at most --sheet-width wide, the frame number on\n"
          "                             each; frames from the middles of equal stretches of the clip (one per\n"
          "                             second from the first for a camera)\n"
          "  --sheet-frames N           rows of the contact sheet, 1..64 (default 4)\n"
          "  --sheet-width W            widest tile of the contact sheet, 16..4096 pixels (default 320;\n"
          "                             frames are only scaled down)\n"
          "  --opacity A                overlay opacity in [0, 1] (default 0.5)\n"
          "  --threads N                OpenMP threads, 0..4096 (default 0: all cores)\n"
          "  --limit N                  at most N images or frames (default 0: all)\n"
          "  --no-progress              no progress bar / lines\n"
          "  --isa auto|ref|avx2|avx512 kernel tier\n"
          "  --cfg-options KEY=VALUE .. override config keys (e.g. model.test_cfg.mode=slide)\n"
          "  --dump OUT.safetensors     parity dump: decode_logits float32 [1,classes,ceil(H/4),ceil(W/4)]\n"
          "                             (decode head output before resizing; slide mode: the last window's)\n"
          "                             and seg_pred int32 [H,W]\n");
}

static nala_status parse_opacity(const char *flag, const char *text, void *dst, nala_err *err) {
  char *end = NULL;
  double v = strtod(text, &end);
  if (!text[0] || *end || !(v >= 0.0 && v <= 1.0))
    return nala_fail(err, NALA_E_ARG, "%s '%s': expected a number in [0, 1]", flag, text);
  *(double *)dst = v;
  return NALA_OK;
}

/* Takes every "--cfg-options K=V ..." out of argv (into o->overrides); the rest goes to the table
 * parser. Returns -1 to go on, else the exit code. */
int cli_seg_build(const cli_seg_opts *o, nala_config **cfg_out, nala_segmentor **model_out) {
  return cli_seg_load("nala seg", o->config, o->overrides, o->n_overrides, o->weights, o->isa, cfg_out, model_out)
             ? NALA_EXIT_OK
             : NALA_EXIT_RUNTIME;
}

static int run_dump(const cli_seg_opts *o) {
  int h = 0, w = 0;
  /* the input before seconds go into building the model */
  float *x = cli_load_input_tensor("nala seg", o->input, &h, &w);
  if (!x)
    return NALA_EXIT_RUNTIME;
  nala_config *cfg = NULL;
  nala_segmentor *m = NULL;
  int rc = cli_seg_build(o, &cfg, &m);
  if (rc) {
    free(x);
    return rc;
  }
  rc = NALA_EXIT_RUNTIME;
  nala_err err;
  nala_err_clear(&err);
  nala_seg_ctx *ctx = NULL;
  float *logits = NULL;
  int32_t *labels = NULL;
  int c = 0, lh = 0, lw = 0;
  nala_status st = nala_seg_ctx_create(m, o->threads, &ctx, &err);
  if (!st)
    st = nala_seg_plan(ctx, NALA_SEG_TENSOR, h, w, &err);
  if (!st)
    st = nala_seg_forward_tensor(ctx, x, &err);
  if (!st)
    st = nala_seg_logits_shape(ctx, &c, &lh, &lw, &err);
  size_t n_logits = (size_t)c * lh * lw, n_labels = (size_t)h * w;
  if (!st && (!(logits = malloc(n_logits * sizeof *logits)) || !(labels = malloc(n_labels * sizeof *labels))))
    st = nala_fail(&err, NALA_E_NOMEM, "out of memory for the dump of %s", o->dump);
  if (!st)
    st = nala_seg_read_logits(ctx, logits, n_logits, &err);
  if (!st)
    st = nala_seg_read_labels_i32(ctx, labels, n_labels, &err);
  if (!st) {
    nala_st_tensor t[2] = {
        {.name = "decode_logits", .dtype = NALA_DT_F32, .ndim = 4, .shape = {1, c, lh, lw}, .data = logits,
         .nbytes = n_logits * sizeof *logits},
        {.name = "seg_pred", .dtype = NALA_DT_I32, .ndim = 2, .shape = {h, w}, .data = labels,
         .nbytes = n_labels * sizeof *labels},
    };
    st = nala_st_write(o->dump, t, 2, &err);
  }
  if (st)
    fprintf(stderr, "nala seg: %s\n", err.msg);
  else {
    printf("decode_logits: [1, %d, %d, %d]\nseg_pred: [%d, %d]\n", c, lh, lw, h, w);
    rc = NALA_EXIT_OK;
  }
  free(logits);
  free(labels);
  free(x);
  nala_seg_ctx_free(ctx);
  nala_segmentor_free(m);
  nala_config_free(cfg);
  return rc;
}

int nala_cli_seg(int argc, char **argv) {
  cli_seg_opts o = {.opacity = 0.5, .sheet_frames = 4, .sheet_width = SEG_SHEET_TILE_W};
  char **rest = malloc((size_t)(argc + 1) * sizeof *rest);
  if (!rest) {
    fprintf(stderr, "nala seg: out of memory\n");
    return NALA_EXIT_RUNTIME;
  }
  int n_rest = 0, rc = cli_take_overrides("nala seg", argc, argv, rest, &n_rest, o.overrides, &o.n_overrides,
                                               CLI_SEG_MAX_OVERRIDES, usage);
  const cli_option own[] = {{"--config", CLI_TEXT, &o.config, 0, 0, NULL},
                            {"--weights", CLI_TEXT, &o.weights, 0, 0, NULL},
                            {"--input", CLI_TEXT, &o.input, 0, 0, NULL},
                            {"--out", CLI_TEXT, &o.out, 0, 0, NULL},
                            {"--dump", CLI_TEXT, &o.dump, 0, 0, NULL},
                            {"--overlay", CLI_SWITCH, &o.overlay, 0, 0, NULL},
                            {"--labels-dir", CLI_TEXT, &o.labels_dir, 0, 0, NULL},
                            {"--contact-sheet", CLI_TEXT, &o.contact_sheet, 0, 0, NULL},
                            {"--sheet-frames", CLI_INT, &o.sheet_frames, 1, SEG_SHEET_MAX_ROWS, NULL},
                            {"--sheet-width", CLI_INT, &o.sheet_width, 16, SEG_SHEET_TILE_MAX_W, NULL},
                            {"--opacity", CLI_CUSTOM, &o.opacity, 0, 0, parse_opacity},
                            {"--threads", CLI_INT, &o.threads, 0, CLI_MAX_THREADS, NULL},
                            {"--limit", CLI_INT, &o.limit, 0, 1 << 30, NULL},
                            {"--no-progress", CLI_SWITCH, &o.no_progress, 0, 0, NULL},
                            {"--isa", CLI_CUSTOM, &o.isa, 0, 0, cli_parse_isa},
                            {0}};
  const cli_option *tables[] = {own, NULL};
  if (rc < 0)
    rc = cli_parse_options("nala seg", n_rest, rest, tables, usage);
  free(rest);
  if (rc >= 0)
    return rc;
  if (!o.config || !o.input || (!o.dump && !o.out)) {
    fprintf(stderr, "nala seg: --config, --input and --out (or --dump) are required\n");
    usage(stderr);
    return NALA_EXIT_USAGE;
  }
  if (o.dump && (o.out || o.overlay || o.labels_dir || o.contact_sheet)) {
    fprintf(stderr, "nala seg: --dump writes only the parity dump: drop --out / --overlay / --labels-dir / "
                    "--contact-sheet\n");
    return NALA_EXIT_USAGE;
  }
  return o.dump ? run_dump(&o) : cli_seg_stream(&o);
}
