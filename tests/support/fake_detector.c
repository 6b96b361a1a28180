/* A stand-in for include/nala/detector.h in the tests of the det tools (tests/test_det_tools.c):
 * it "detects" flat colour rectangles, so a generated COCO set has known answers (AP 1 when the
 * tools map labels, boxes and masks right) without a trained model. Class c (0..2) is a region
 * whose channel c (B, G, R of a BGR frame) is > 128 while the other two are < 128; its detection
 * is the tight box of those pixels with score 0.9 - 0.2 c (and, for a MaskRCNN config, those pixels
 * as mask). Config type MaskRCNN gives masks; a frame whose pixel (0, 0) is (1, 2, 3) fails the
 * forward (a model error on one image). Profile stages are fixed fake numbers. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "nala/detector.h"

struct nala_detector {
  int masks;
};
struct nala_det_ctx {
  const nala_detector *m;
  int h, w, planned, profiling, n;
  nala_detection dets[3];
  uint8_t *mask; /* [3][h][w] */
};

nala_status nala_detector_create(const nala_config *cfg, nala_weights *weights, const nala_detector_opts *opts,
                                 nala_detector **out, nala_err *err) {
  (void)weights, (void)opts;
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(nala_config_json(cfg), "model");
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
  if (!cJSON_IsString(type) || (strcmp(type->valuestring, "RetinaNet") && strcmp(type->valuestring, "MaskRCNN")))
    return nala_fail(err, NALA_E_ARG, "fake detector: model.type must be RetinaNet or MaskRCNN");
  nala_detector *m = calloc(1, sizeof *m);
  if (!m)
    return nala_fail(err, NALA_E_NOMEM, "out of memory");
  m->masks = !strcmp(type->valuestring, "MaskRCNN");
  *out = m;
  return NALA_OK;
}
void nala_detector_free(nala_detector *model) { free(model); }
int nala_detector_num_classes(const nala_detector *model) { return model ? 3 : 0; }
int nala_detector_has_masks(const nala_detector *model) { return model->masks; }
nala_isa nala_detector_isa(const nala_detector *model) { return (void)model, NALA_ISA_REF; }

nala_status nala_det_ctx_create(const nala_detector *model, int nthreads, nala_det_ctx **out, nala_err *err) {
  (void)nthreads;
  nala_det_ctx *c = calloc(1, sizeof *c);
  if (!c)
    return nala_fail(err, NALA_E_NOMEM, "out of memory");
  c->m = model;
  *out = c;
  return NALA_OK;
}
void nala_det_ctx_free(nala_det_ctx *ctx) {
  if (ctx)
    free(ctx->mask);
  free(ctx);
}
nala_status nala_det_workspace_size(nala_det_ctx *ctx, nala_det_input input, int h, int w, size_t *bytes,
                                    nala_err *err) {
  (void)ctx, (void)input, (void)err;
  *bytes = 3 * (size_t)h * w;
  return NALA_OK;
}
nala_status nala_det_plan(nala_det_ctx *ctx, nala_det_input input, int h, int w, nala_err *err) {
  (void)input;
  uint8_t *m = realloc(ctx->mask, 3 * (size_t)h * w);
  if (!m)
    return nala_fail(err, NALA_E_NOMEM, "out of memory");
  ctx->mask = m, ctx->h = h, ctx->w = w, ctx->planned = 1, ctx->n = 0;
  return NALA_OK;
}
nala_status nala_det_set_workspace(nala_det_ctx *ctx, void *buffer, size_t bytes, nala_err *err) {
  (void)ctx, (void)buffer, (void)bytes;
  return nala_fail(err, NALA_E_UNSUPPORTED, "fake detector: no caller workspace");
}

nala_status nala_det_forward_frame(nala_det_ctx *ctx, const nala_image *img, nala_err *err) {
  if (!ctx->planned || img->h != ctx->h || img->w != ctx->w || img->c != 3)
    return nala_fail(err, NALA_E_SHAPE, "fake detector: frame %dx%d, plan %dx%d", img->h, img->w, ctx->h, ctx->w);
  if (img->data[0] == 1 && img->data[1] == 2 && img->data[2] == 3)
    return nala_fail(err, NALA_E_BACKEND, "fake detector: the poisoned pixel");
  int x0[3], y0[3], x1[3], y1[3];
  size_t hw = (size_t)img->h * img->w;
  memset(ctx->mask, 0, 3 * hw);
  for (int c = 0; c < 3; c++)
    x0[c] = y0[c] = 1 << 30, x1[c] = y1[c] = -1;
  for (int y = 0; y < img->h; y++)
    for (int x = 0; x < img->w; x++) {
      const uint8_t *p = img->data + (size_t)y * img->stride + 3 * (size_t)x;
      for (int c = 0; c < 3; c++)
        if (p[c] > 128 && p[(c + 1) % 3] < 128 && p[(c + 2) % 3] < 128) {
          ctx->mask[c * hw + (size_t)y * img->w + x] = 1;
          x0[c] = x < x0[c] ? x : x0[c], x1[c] = x > x1[c] ? x : x1[c];
          y0[c] = y < y0[c] ? y : y0[c], y1[c] = y > y1[c] ? y : y1[c];
        }
    }
  ctx->n = 0;
  for (int c = 0; c < 3; c++)
    if (x1[c] >= 0) {
      nala_detection d = {(float)x0[c], (float)y0[c], (float)x1[c] + 1, (float)y1[c] + 1, 0.9f - 0.2f * c, c};
      /* keep the mask of class c with its detection: store the class in the slot order */
      ctx->dets[ctx->n++] = d;
    }
  return NALA_OK;
}
nala_status nala_det_forward_tensor(nala_det_ctx *ctx, const float *nchw, nala_err *err) {
  (void)nchw;
  if (!ctx->planned)
    return nala_fail(err, NALA_E_STATE, "fake detector: not planned");
  ctx->n = 1;
  ctx->dets[0] = (nala_detection){1, 2, 3, 4, 0.5f, 0};
  memset(ctx->mask, 0, 3 * (size_t)ctx->h * ctx->w);
  return NALA_OK;
}
int nala_det_count(const nala_det_ctx *ctx) { return ctx->n; }
nala_status nala_det_read(const nala_det_ctx *ctx, nala_detection *dst, int max, int *n, nala_err *err) {
  (void)err;
  *n = ctx->n < max ? ctx->n : max;
  memcpy(dst, ctx->dets, (size_t)*n * sizeof *dst);
  return NALA_OK;
}
nala_status nala_det_read_mask(const nala_det_ctx *ctx, int i, uint8_t *dst, size_t cap, nala_err *err) {
  size_t hw = (size_t)ctx->h * ctx->w;
  if (!ctx->m->masks || i < 0 || i >= ctx->n || cap < hw)
    return nala_fail(err, NALA_E_ARG, "fake detector: no mask %d", i);
  memcpy(dst, ctx->mask + (size_t)ctx->dets[i].label * hw, hw);
  return NALA_OK;
}
nala_status nala_det_read_mask_rle(const nala_det_ctx *ctx, int i, nala_rle *out, nala_err *err) {
  size_t hw = (size_t)ctx->h * ctx->w;
  if (!ctx->m->masks || i < 0 || i >= ctx->n)
    return nala_fail(err, NALA_E_ARG, "fake detector: no mask %d", i);
  uint8_t *colmajor = malloc(hw);
  if (!colmajor)
    return nala_fail(err, NALA_E_NOMEM, "out of memory");
  const uint8_t *m = ctx->mask + (size_t)ctx->dets[i].label * hw;
  for (int y = 0; y < ctx->h; y++)
    for (int x = 0; x < ctx->w; x++)
      colmajor[(size_t)x * ctx->h + y] = m[(size_t)y * ctx->w + x];
  nala_status st = nala_rle_encode(colmajor, (uint32_t)ctx->h, (uint32_t)ctx->w, out, err);
  free(colmajor);
  return st;
}
void nala_det_ctx_set_profiling(nala_det_ctx *ctx, int on) { ctx->profiling = on; }
int nala_det_profile(const nala_det_ctx *ctx, const char **names, double *ms, int max) {
  static const char *const stages[] = {"preprocess", "backbone", "neck", "dense_head", "postprocess"};
  int n = 0;
  for (; ctx->profiling && n < 5 && n < max; n++)
    names[n] = stages[n], ms[n] = 1.0 + n;
  return n;
}
