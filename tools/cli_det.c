/* nala det: option parsing (into cli_det_opts, tools/cli_det.h) and the parity dump (--dump); the
 * image / folder / video / camera runner is cli_det_stream (tools/cli_det_stream.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/config.h"
#include "nala/detector.h"
#include "nala/safetensors.h"
#include "nala/weights.h"
#include "tools/cli.h"
#include "tools/cli_args.h"
#include "tools/cli_tensor.h"
#include "tools/cli_det.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: nala det --config C [--weights W] --input IMG|DIR|VIDEO|camera:N --out PATH [options]\n"
          "       nala det --config C [--weights W] --input X.safetensors --dump OUT.safetensors\n"
          "  --config C         detector config (model.type RetinaNet or MaskRCNN)\n"
          "  --weights W        mmdet checkpoint converted to safetensors (default: seeded weights,\n"
          "                     seed 0; a config's model.backbone.weights is a backbone-only checkpoint)\n"
          "  --input X          image, folder of images, video file, camera:N; with --dump a safetensors\n"
          "                     file holding 'input' float32 [1,3,H,W], normalised, used as is (no resize,\n"
          "                     no pad, no rescale)\n"
          "  --out PATH         drawn image / folder / annotated video\n"
          "  --json FILE        COCO-style detections\n"
          "  --dump OUT         parity dump: raw head outputs (RetinaNet cls_scores_{0..4}, bbox_preds_{0..4},\n"
          "                     NCHW float32; Mask R-CNN rpn_cls_{0..4}, rpn_reg_{0..4}, proposals [P,4],\n"
          "                     proposal_scores [P], rcnn_cls_score [P,K+1], rcnn_bbox_pred [P,4K],\n"
          "                     mask_probs [n,28,28], det_masks uint8 [n,H,W]), det_bboxes [n,4] x1y1x2y2,\n"
          "                     det_scores [n], det_labels int32 [n]\n"
          "  --score-thr T      smallest score drawn (default 0.3)\n"
          "  --threads N        0 = all cores (default)\n"
          "  --limit N          first N images / frames only\n"
          "  --no-progress      no progress line\n"
          "  --isa T            kernel tier (auto, avx512, avx2, ref)\n"
          "  --cfg-options KEY=VALUE ...  override config keys (dotted path, JSON value)\n"
          "exit codes: 0 ok, 1 bad data or runtime error, 2 bad arguments\n");
}

static nala_status parse_score(const char *flag, const char *text, void *dst, nala_err *err) {
  char *end = NULL;
  double v = text ? strtod(text, &end) : NAN;
  if (!text || !*text || *end || !(v >= 0 && v <= 1))
    return nala_fail(err, NALA_E_ARG, "%s '%s': expected a number in [0, 1]", flag, text ? text : "");
  *(double *)dst = v;
  return NALA_OK;
}

/* Everything the dump writes, copied out of the context (maps to NCHW). */
static int write_dump(const nala_det_ctx *ctx, int has_masks, const char *path) {
  nala_err err;
  int n_raw = nala_det_raw_count(ctx), n_det = nala_det_count(ctx), rc = NALA_EXIT_RUNTIME;
  nala_st_tensor *t = calloc((size_t)n_raw + 4, sizeof *t);
  void **bufs = calloc((size_t)n_raw + 4, sizeof *bufs);
  nala_detection *dets = malloc(((size_t)n_det + 1) * sizeof *dets);
  int n = 0;
  if (!t || !bufs || !dets) {
    fprintf(stderr, "nala det: out of memory\n");
    goto done;
  }
  for (int i = 0; i < n_raw; i++) {
    nala_det_raw r;
    if (nala_det_raw_at(ctx, i, &r, &err)) {
      fprintf(stderr, "nala det: %s\n", err.msg);
      goto done;
    }
    size_t count = 1, esize = r.dtype == NALA_DET_U8 ? 1 : 4;
    for (int d = 0; d < r.ndim; d++)
      count *= (size_t)r.shape[d];
    if (!(bufs[n] = malloc(count * esize + 1))) {
      fprintf(stderr, "nala det: out of memory\n");
      goto done;
    }
    if (r.nhwc) {
      const float *src = r.data;
      float *dst = bufs[n];
      size_t c = (size_t)r.shape[1], hw = (size_t)r.shape[2] * (size_t)r.shape[3];
      for (size_t p = 0; p < hw; p++)
        for (size_t ch = 0; ch < c; ch++)
          dst[ch * hw + p] = src[p * (size_t)r.ld + ch];
    } else {
      memcpy(bufs[n], r.data, count * esize);
    }
    t[n] = (nala_st_tensor){.name = r.name,
                            .dtype = r.dtype == NALA_DET_F32 ? NALA_DT_F32 : r.dtype == NALA_DET_I32 ? NALA_DT_I32 : NALA_DT_U8,
                            .ndim = r.ndim,
                            .data = bufs[n],
                            .nbytes = count * esize};
    for (int d = 0; d < r.ndim; d++)
      t[n].shape[d] = r.shape[d];
    n++;
  }
  int got = 0;
  if (nala_det_read(ctx, dets, n_det, &got, &err)) {
    fprintf(stderr, "nala det: %s\n", err.msg);
    goto done;
  }
  float *boxes = malloc(((size_t)got * 4 + 1) * sizeof *boxes), *scores = malloc(((size_t)got + 1) * sizeof *scores);
  int32_t *labels = malloc(((size_t)got + 1) * sizeof *labels);
  bufs[n] = boxes, bufs[n + 1] = scores, bufs[n + 2] = labels;
  if (!boxes || !scores || !labels) {
    fprintf(stderr, "nala det: out of memory\n");
    n += 3;
    goto done;
  }
  for (int i = 0; i < got; i++) {
    boxes[4 * i] = dets[i].x1, boxes[4 * i + 1] = dets[i].y1, boxes[4 * i + 2] = dets[i].x2,
    boxes[4 * i + 3] = dets[i].y2;
    scores[i] = dets[i].score;
    labels[i] = dets[i].label;
  }
  t[n++] = (nala_st_tensor){.name = "det_bboxes", .dtype = NALA_DT_F32, .ndim = 2, .shape = {got, 4},
                            .data = boxes, .nbytes = (size_t)got * 16};
  t[n++] = (nala_st_tensor){.name = "det_scores", .dtype = NALA_DT_F32, .ndim = 1, .shape = {got},
                            .data = scores, .nbytes = (size_t)got * 4};
  t[n++] = (nala_st_tensor){.name = "det_labels", .dtype = NALA_DT_I32, .ndim = 1, .shape = {got},
                            .data = labels, .nbytes = (size_t)got * 4};
  if (has_masks) { /* Mask R-CNN: det_masks uint8 [n, H, W], pasted at the input size */
    nala_preprocess_meta meta;
    if (nala_det_plan_meta(ctx, &meta, &err)) {
      fprintf(stderr, "nala det: %s\n", err.msg);
      goto done;
    }
    size_t px = (size_t)meta.ori_h * meta.ori_w;
    uint8_t *masks = malloc((size_t)got * px + 1);
    bufs[n] = masks;
    if (!masks) {
      fprintf(stderr, "nala det: out of memory for %d masks\n", got);
      n++;
      goto done;
    }
    for (int i = 0; i < got; i++)
      if (nala_det_read_mask(ctx, i, masks + (size_t)i * px, px, &err)) {
        fprintf(stderr, "nala det: %s\n", err.msg);
        n++;
        goto done;
      }
    t[n++] = (nala_st_tensor){.name = "det_masks", .dtype = NALA_DT_U8, .ndim = 3,
                              .shape = {got, meta.ori_h, meta.ori_w}, .data = masks, .nbytes = (size_t)got * px};
  }
  if (nala_st_write(path, t, (size_t)n, &err)) {
    fprintf(stderr, "nala det: %s\n", err.msg);
    goto done;
  }
  printf("detections: %d\n", got);
  for (int i = 0; i < got && i < 10; i++)
    printf("  %2d  label %3d  score %.5f  box %.2f %.2f %.2f %.2f\n", i, dets[i].label, dets[i].score, dets[i].x1,
           dets[i].y1, dets[i].x2, dets[i].y2);
  rc = NALA_EXIT_OK;
done:
  for (int i = 0; bufs && i < n_raw + 4; i++)
    free(bufs[i]);
  free(bufs);
  free(t);
  free(dets);
  return rc;
}

static int run_dump(const cli_det_opts *o) {
  nala_err err;
  nala_config *cfg = NULL;
  nala_weights *w = NULL;
  nala_detector *m = NULL;
  nala_det_ctx *ctx = NULL;
  int h, wd, rc = NALA_EXIT_RUNTIME;
  float *x = NULL;
  if (nala_config_load_with(o->config, o->overrides, o->n_overrides, &cfg, &err)) {
    fprintf(stderr, "nala det: %s\n", err.msg);
    return NALA_EXIT_RUNTIME;
  }
  if (!(x = cli_load_input_tensor("nala det", o->input, &h, &wd)))
    goto done;
  const char *weights = o->weights;
  nala_status st = weights ? nala_weights_open(weights, &w, &err) : nala_weights_seeded(0, &w, &err);
  if (!st)
    st = nala_weights_ignore_suffix(w, ".num_batches_tracked");
  nala_detector_opts mo = {.isa = o->isa};
  if (!st)
    st = nala_detector_create(cfg, w, &mo, &m, &err);
  if (!st)
    st = nala_det_ctx_create(m, o->threads, &ctx, &err);
  if (!st)
    st = nala_det_plan(ctx, NALA_DET_TENSOR, h, wd, &err);
  if (!st) {
    nala_det_ctx_set_profiling(ctx, 1);
    st = nala_det_forward_tensor(ctx, x, &err);
  }
  if (st) {
    fprintf(stderr, "nala det: %s\n", err.msg);
    goto done;
  }
  printf("weights: %s\n", weights ? weights : "seeded (seed 0)");
  const char *names[16];
  double ms[16];
  int n_stages = nala_det_profile(ctx, names, ms, 16);
  printf("time (ms, first forward):");
  for (int i = 0; i < n_stages; i++)
    printf(" %s %.1f", names[i], ms[i]);
  printf("\n");
  rc = write_dump(ctx, nala_detector_has_masks(m), o->dump);
done:
  free(x);
  nala_det_ctx_free(ctx);
  nala_detector_free(m);
  nala_weights_close(w);
  nala_config_free(cfg);
  return rc;
}

int nala_cli_det(int argc, char **argv) {
  cli_det_opts o = {.score_thr = 0.3, .isa = NALA_ISA_AUTO};
  /* --cfg-options takes any number of KEY=VALUE words: taken out before the table parser runs. */
  char **rest = malloc(((size_t)argc + 1) * sizeof *rest);
  if (!rest) {
    fprintf(stderr, "nala det: out of memory\n");
    return NALA_EXIT_RUNTIME;
  }
  int n_rest = 0, taken = cli_take_overrides("nala det", argc, argv, rest, &n_rest, o.overrides, &o.n_overrides,
                                              CLI_DET_MAX_OVERRIDES, usage);
  if (taken >= 0) {
    free(rest);
    return taken;
  }
  const cli_option table[] = {
      {"--config", CLI_TEXT, &o.config, 0, 0, NULL},
      {"--weights", CLI_TEXT, &o.weights, 0, 0, NULL},
      {"--input", CLI_TEXT, &o.input, 0, 0, NULL},
      {"--out", CLI_TEXT, &o.out, 0, 0, NULL},
      {"--json", CLI_TEXT, &o.json, 0, 0, NULL},
      {"--dump", CLI_TEXT, &o.dump, 0, 0, NULL},
      {"--score-thr", CLI_CUSTOM, &o.score_thr, 0, 0, parse_score},
      {"--threads", CLI_INT, &o.threads, 0, CLI_MAX_THREADS, NULL},
      {"--limit", CLI_INT, &o.limit, 0, 1 << 30, NULL},
      {"--no-progress", CLI_SWITCH, &o.no_progress, 0, 0, NULL},
      {"--isa", CLI_CUSTOM, &o.isa, 0, 0, cli_parse_isa},
      {0},
  };
  const cli_option *tables[] = {table, NULL};
  int parsed = cli_parse_options("nala det", n_rest, rest, tables, usage);
  free(rest);
  if (parsed >= 0)
    return parsed;
  if (!o.config || !o.input || (!o.dump && !o.out && !o.json)) {
    fprintf(stderr, "nala det: --config, --input and one of --out, --json or --dump are required\n");
    usage(stderr);
    return NALA_EXIT_USAGE;
  }
  if (o.dump && (o.out || o.json)) {
    fprintf(stderr, "nala det: --dump runs the parity interface alone (no --out / --json with it)\n");
    usage(stderr);
    return NALA_EXIT_USAGE;
  }
  return o.dump ? run_dump(&o) : cli_det_stream(&o);
}
