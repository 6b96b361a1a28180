/* The Mask R-CNN fixtures of tools/reference/make_maskrcnn_fixtures.py in the tests: the model's
 * weights (seeded, with the fixture's tuned head tensors put over them, as a safetensors image in
 * memory), running the model root on a seeded input, and the comparisons (sets of boxes, rows of
 * matched RoIs, masks by their paste windows). Shared by test_maskrcnn.c and test_maskrcnn_api.c. */
#ifndef NALA_TESTS_MASKRCNN_FIXTURE_H
#define NALA_TESTS_MASKRCNN_FIXTURE_H

#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "det/det.h"
#include "heads/two_stage.h"
#include "models/model.h"
#include "nala/config.h"
#include "nala/safetensors.h"
#include "nala/seeded_init.h"
#include "nala/weights.h"
#include "tests/det_fixture.h"
#include "tests/support/compare.h"

#define FIX(name) NALA_FIXTURES "/maskrcnn/" name
#define L 5

/* ---- weights: seeded + tuned overrides, as a safetensors image in memory ---- */

typedef struct image {
  char *buf;
  size_t size;
} image;

static inline image build_weights(void) {
  nala_st_file *tuned = det_open(FIX("maskrcnn_xt_tuned.safetensors"));
  uint64_t seed = strtoull(nala_st_metadata(tuned, "seed"), NULL, 10);
  cJSON *keys = cJSON_Parse(nala_st_metadata(tuned, "keys"));
  ck_assert_ptr_nonnull(keys);
  size_t hcap = 1 << 20, hlen = 0, data = 0;
  char *header = malloc(hcap);
  hlen += (size_t)snprintf(header + hlen, hcap - hlen, "{");
  const cJSON *k;
  cJSON_ArrayForEach(k, keys) {
    size_t n = 1;
    const cJSON *d;
    hlen += (size_t)snprintf(header + hlen, hcap - hlen, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", hlen > 1 ? "," : "",
                             k->string);
    int first = 1;
    cJSON_ArrayForEach(d, k) {
      n *= (size_t)d->valuedouble;
      hlen += (size_t)snprintf(header + hlen, hcap - hlen, "%s%d", first ? "" : ",", (int)d->valuedouble);
      first = 0;
    }
    hlen += (size_t)snprintf(header + hlen, hcap - hlen, "],\"data_offsets\":[%zu,%zu]}", data, data + 4 * n);
    data += 4 * n;
    ck_assert(hlen + 256 < hcap);
  }
  hlen += (size_t)snprintf(header + hlen, hcap - hlen, "}");
  while (hlen % 8)
    header[hlen++] = ' ';
  image im = {malloc(8 + hlen + data), 8 + hlen + data};
  uint64_t h64 = hlen;
  memcpy(im.buf, &h64, 8);
  memcpy(im.buf + 8, header, hlen);
  float *dst = (float *)(im.buf + 8 + hlen);
  int n_tuned = 0;
  cJSON_ArrayForEach(k, keys) {
    int64_t shape[8];
    int nd = 0;
    size_t n = 1;
    const cJSON *d;
    cJSON_ArrayForEach(d, k) n *= (size_t)(shape[nd++] = (int64_t)d->valuedouble);
    const nala_st_tensor *t = nala_st_find(tuned, k->string);
    nala_err err;
    if (t) {
      ck_assert_uint_eq(nala_st_numel(t), n);
      memcpy(dst, t->data, 4 * n);
      n_tuned++;
    } else {
      ck_assert_msg(nala_seeded_fill(seed, k->string, nd, shape, dst, &err) == NALA_OK, "%s", err.msg);
    }
    dst += n;
  }
  ck_assert_int_eq(n_tuned, 4);
  free(header);
  cJSON_Delete(keys);
  nala_st_close(tuned);
  return im;
}

/* ---- the model ---- */

typedef struct run {
  nala_model *m;
  nala_nn_ctx ctx;
  int h, w;
} run;

static inline nala_model *create_model(const char *config_path, image *im) {
  nala_err err;
  nala_config *cfg = NULL;
  ck_assert_msg(nala_config_load(config_path, &cfg, &err) == NALA_OK, "%s", err.msg);
  nala_weights *w = NULL;
  ck_assert_msg(nala_weights_open_memory(im->buf, im->size, "maskrcnn_xt", &w, &err) == NALA_OK, "%s", err.msg);
  nala_model *m = NULL;
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(nala_config_json(cfg), "model");
  ck_assert_msg(nala_model_create(model, w, NALA_ISA_AUTO, &m, &err) == NALA_OK, "%s", err.msg);
  nala_weights_close(w);
  nala_config_free(cfg);
  return m;
}

/* The fixture's input, NCHW [1,3,h,w]: seeded "input.weight" (metadata input_seed) times input_scale. */
static inline float *seeded_input(const nala_st_file *f, int h, int w) {
  nala_err err;
  size_t n = (size_t)3 * h * w;
  float *x = malloc(n * sizeof *x);
  ck_assert_ptr_nonnull(x);
  int64_t shape[4] = {1, 3, h, w};
  ck_assert_int_eq(nala_seeded_fill(strtoull(nala_st_metadata(f, "input_seed"), NULL, 10), "input.weight", 4, shape, x,
                                    &err),
                   NALA_OK);
  float scale = strtof(nala_st_metadata(f, "input_scale"), NULL);
  for (size_t i = 0; i < n; i++)
    x[i] *= scale;
  return x;
}

static inline void run_model(run *r, nala_model *m, int h, int w, uint64_t input_seed, float input_scale, int threads) {
  nala_err err;
  r->m = m, r->h = h, r->w = w;
  ck_assert_int_eq(nala_model_ctx_init(m, threads, &r->ctx, &err), NALA_OK);
  ck_assert_msg(nala_nn_ctx_plan(&r->ctx, h, w, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(r->ctx.graph.n_outs, L + 3 + ROI_N_OUT);
  size_t n = (size_t)3 * h * w;
  float *nchw = malloc(n * sizeof *nchw);
  int64_t shape[4] = {1, 3, h, w};
  ck_assert_int_eq(nala_seeded_fill(input_seed, "input.weight", 4, shape, nchw, &err), NALA_OK);
  float *x = nala_nn_ctx_at(&r->ctx, r->ctx.graph.input.off);
  for (int c = 0; c < 3; c++)
    for (size_t p = 0; p < (size_t)h * w; p++)
      x[p * 3 + c] = nchw[c * (size_t)h * w + p] * input_scale;
  free(nchw);
  ck_assert_msg(nala_nn_ctx_run(&r->ctx, &err) == NALA_OK, "%s", err.msg);
}

static inline const nala_feat *out_at(const run *r, int i) { return &r->ctx.graph.outs[i]; }
static inline const float *outf(const run *r, int i) { return nala_nn_ctx_at(&r->ctx, out_at(r, i)->off); }
static inline int out_count(const run *r, int i) {
  return nala_ws_count((const char *)r->ctx.ws, out_at(r, i)->off);
}
#define RES(k) (L + 3 + (k))

static inline void run_free(run *r) { nala_nn_ctx_release(&r->ctx); }

/* ---- comparisons ---- */

static inline double iou(const float *a, const float *b) {
  double w = fmin(a[2], b[2]) - fmax(a[0], b[0]), h = fmin(a[3], b[3]) - fmax(a[1], b[1]);
  if (w <= 0 || h <= 0)
    return 0;
  double inter = w * h, ua = (a[2] - a[0]) * (double)(a[3] - a[1]) + (b[2] - b[0]) * (double)(b[3] - b[1]) - inter;
  return ua > 0 ? inter / ua : 0;
}

/* match[j] = our index for reference box j (IoU > 0.99, same label when labels given), asserting
 * coordinates within 1e-3 px and scores within 1e-5; prints the worst errors. */
static inline void match_sets(const char *what, const float *ours, const float *our_scores, const int32_t *our_labels,
                       int n_ours, const float *ref, const float *ref_scores, const int64_t *ref_labels, int n_ref,
                       int *match) {
  ck_assert_msg(n_ours == n_ref, "%s: %d ours vs %d reference", what, n_ours, n_ref);
  char *used = calloc((size_t)n_ours + 1, 1);
  double worst_box = 0, worst_score = 0, worst_iou = 1;
  for (int j = 0; j < n_ref; j++) {
    int best = -1;
    double best_iou = 0;
    for (int i = 0; i < n_ours; i++) {
      if (used[i] || (our_labels && our_labels[i] != ref_labels[j]))
        continue;
      double v = iou(ours + 4 * i, ref + 4 * j);
      if (v > best_iou)
        best_iou = v, best = i;
    }
    ck_assert_msg(best >= 0 && best_iou > 0.99, "%s: reference box %d [%g %g %g %g] has no match (best IoU %g)",
                  what, j, ref[4 * j], ref[4 * j + 1], ref[4 * j + 2], ref[4 * j + 3], best_iou);
    used[best] = 1;
    match[j] = best;
    for (int k = 0; k < 4; k++)
      worst_box = fmax(worst_box, fabs(ours[4 * best + k] - ref[4 * j + k]));
    worst_score = fmax(worst_score, fabs(our_scores[best] - ref_scores[j]));
    worst_iou = fmin(worst_iou, best_iou);
  }
  printf("%s: %d matched, min IoU %.7f, max box err %.3g px, max score err %.3g\n", what, n_ref, worst_iou,
         worst_box, worst_score);
  ck_assert_msg(worst_box <= 1e-3, "%s: box error %g px", what, worst_box);
  ck_assert_msg(worst_score <= 1e-5, "%s: score error %g", what, worst_score);
  free(used);
}

/* rel-L2 of rows: ours[match[j]] vs ref[j], row floats each. */
static inline void compare_rows(const char *what, const float *ours, int ld_ours, const float *ref, int row, int n,
                         const int *match) {
  float *gathered = malloc((size_t)n * row * sizeof *gathered + 4);
  for (int j = 0; j < n; j++)
    memcpy(gathered + (size_t)j * row, ours + (size_t)match[j] * ld_ours, (size_t)row * sizeof *gathered);
  nala_cmp c = nala_compare_f32(what, gathered, ref, (size_t)n * row, 0, 0);
  ck_assert_msg(c.rel_l2 <= 1e-4 && c.n_nonfinite == 0, "%s: rel-L2 %g", what, c.rel_l2);
  free(gathered);
}

/* Reference mask j (run lengths over its paste window) into ref; asserts >= 99.9% of the window's
 * pixels agree with ours (h x w, 0/1); returns the reference's pixel count. */
static inline size_t compare_mask(int j, const uint8_t *ours, uint8_t *ref, int h, int w, const int64_t *win,
                           const int64_t *rle, int64_t n_rle, double *worst) {
  memset(ref, 0, (size_t)h * w);
  int y0 = (int)win[0], y1 = (int)win[1], x0 = (int)win[2], x1 = (int)win[3];
  size_t pos = 0, ww = (size_t)(x1 - x0);
  for (int64_t k = 0; k < n_rle; k++)
    for (int64_t q = 0; q < rle[k]; q++, pos++)
      if (k % 2)
        ref[(size_t)(y0 + pos / ww) * w + x0 + pos % ww] = 1;
  ck_assert_uint_eq(pos, (size_t)(y1 - y0) * ww);
  size_t diff = 0, set = 0;
  for (size_t p = 0; p < (size_t)h * w; p++)
    diff += ours[p] != ref[p], set += ref[p];
  double agree = 1.0 - (double)diff / (double)((size_t)(y1 - y0) * ww);
  *worst = fmin(*worst, agree);
  ck_assert_msg(agree >= 0.999, "mask of detection %d: %.5f agreement (%zu pixels differ)", j, agree, diff);
  return set;
}

#endif
