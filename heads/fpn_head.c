/* mmseg FPNHead, the Semantic FPN head (mmseg/models/decode_heads/fpn_head.py) at test time:
 *   scale_heads[i] = head_length_i x [ConvModule 3x3, then Upsample(x2, bilinear) when
 *     stride_i != stride_0], head_length_i = max(1, int(log2(stride_i) - log2(stride_0)))
 *   output = scale_heads[0](x[0]); output += bilinear(scale_heads[i](x[i]), size of output)
 *   cls_seg 1x1.
 * mmseg's Upsample (models/utils/wrappers.py) computes its size as int(t * 2) and resizes by size:
 * exactly 2x. Bilinear is align_corners=False. Because the Upsamples are modules of the Sequential,
 * conv keys count them: <prefix>.scale_heads.<i>.<k>.{conv,bn} with k = 0, 2, 4 on upsampling
 * levels (0 on level 0), then <prefix>.conv_seg. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/nn/module.h"
#include "core/nn/prims.h"
#include "heads/decode_head.h"

#define FPNH_MAX_CONVS 8

static const nala_schema_key fpn_head_keys[] = {
    NALA_DECODE_HEAD_KEYS,
    NALA_SKEY_POS_INT_LIST("feature_strides", 1, NALA_HEAD_MAX_INS, 1),
};
static const nala_schema fpn_head_schema = NALA_SCHEMA(fpn_head_keys);

typedef struct fpn_head {
  nala_head_base b;
  int strides[NALA_HEAD_MAX_INS];
  int length[NALA_HEAD_MAX_INS], upsample[NALA_HEAD_MAX_INS], n_loaded[NALA_HEAD_MAX_INS];
  nala_layer conv[NALA_HEAD_MAX_INS][FPNH_MAX_CONVS];
} fpn_head;

static void fpn_head_free(void *module) {
  fpn_head *f = module;
  if (!f)
    return;
  for (int i = 0; i < NALA_HEAD_MAX_INS; i++)
    for (int k = 0; k < f->n_loaded[i]; k++)
      nala_layer_free(&f->conv[i][k]);
  nala_head_base_free(&f->b);
  free(f);
}

static nala_status fpn_head_create(const cJSON *section, nala_weights *w, const char *prefix, const nala_rt *rt,
                                   void **out, nala_err *err) {
  fpn_head *f = calloc(1, sizeof *f);
  if (!f)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for the FPNHead");
  char path[64], key[256];
  snprintf(path, sizeof path, "model.%s", prefix);
  nala_status st = nala_head_base_parse(section, path, &f->b, err);
  const cJSON *fs = cJSON_GetObjectItemCaseSensitive(section, "feature_strides");
  int n = cJSON_GetArraySize(fs);
  if (!st && n != f->b.n_in)
    st = nala_fail(err, NALA_E_FORMAT, "%s.feature_strides: %d entries but in_channels has %d", path, n, f->b.n_in);
  for (int i = 0; !st && i < n; i++)
    f->strides[i] = (int)cJSON_GetArrayItem(fs, i)->valuedouble;
  for (int i = 1; !st && i < n; i++)
    if (f->strides[i] < f->strides[0])
      st = nala_fail(err, NALA_E_FORMAT, "%s.feature_strides[%d]: %d is below feature_strides[0] = %d (mmseg "
                     "asserts the first stride is the smallest)", path, i, f->strides[i], f->strides[0]);
  for (int i = 0; !st && i < n; i++) {
    int len = (int)(log2((double)f->strides[i]) - log2((double)f->strides[0]));
    f->length[i] = len < 1 ? 1 : len;
    f->upsample[i] = f->strides[i] != f->strides[0];
    if (f->length[i] > FPNH_MAX_CONVS)
      st = nala_fail(err, NALA_E_FORMAT, "%s.feature_strides[%d]: %d needs %d convs, at most %d are supported", path,
                     i, f->strides[i], f->length[i], FPNH_MAX_CONVS);
    for (int k = 0; !st && k < f->length[i]; k++, f->n_loaded[i]++) {
      snprintf(key, sizeof key, "%s.scale_heads.%d.%d", prefix, i, f->upsample[i] ? 2 * k : k);
      st = nala_head_convmodule(rt, w, &f->b, &f->conv[i][k], k ? f->b.channels : f->b.in_ch[i], f->b.channels, 3,
                                key, err);
    }
  }
  if (!st)
    st = nala_head_conv_seg_load(rt, w, &f->b, prefix, err);
  if (st) {
    fpn_head_free(f);
    return st;
  }
  *out = f;
  return NALA_OK;
}

/* The arena never frees a region, so each level's chain ping-pongs between two scratch regions
 * (ops run in order): conv -> up -> conv -> up ... -> resize each write the region the previous
 * op did not, then the result is added into the level-0 map. */
typedef struct pingpong {
  size_t off[2];
  int next;
} pingpong;

static nala_feat pp_take(pingpong *pp, int c, int h, int w) {
  nala_feat f = {.c = c, .h = h, .w = w, .off = pp->off[pp->next]};
  pp->next ^= 1;
  return f;
}

/* Largest map (pixels) level i's chain makes. */
static size_t chain_pixels(const fpn_head *f, int i, int h, int w, int h0, int w0) {
  size_t most = (size_t)h0 * w0;
  for (int k = 0; k < f->length[i]; k++) {
    if (f->upsample[i])
      h *= 2, w *= 2;
    if ((size_t)h * w > most)
      most = (size_t)h * w;
  }
  return most;
}

/* scale_heads[i] on x, resized to h0 x w0 when its size differs; the result in *y (scratch). */
static nala_status scale_head(nala_graph *g, const fpn_head *f, int i, const nala_feat *x, int h0, int w0,
                              pingpong *pp, nala_feat *y, int bucket, nala_err *err) {
  nala_feat cur = *x;
  for (int k = 0; k < f->length[i]; k++) {
    const nala_layer *L = &f->conv[i][k];
    nala_feat c = pp_take(pp, L->conv.oc, cur.h, cur.w);
    NALA_CHECK(nala_conv_op(g, L, cur.h, cur.w, cur.off, nala_feat_ld(&cur), c.off, 0, 0, bucket, err));
    cur = c;
    if (f->upsample[i]) {
      nala_feat up = pp_take(pp, cur.c, cur.h * 2, cur.w * 2); /* Upsample: int(t * 2) */
      NALA_CHECK(nala_resize_op(g, &cur, &up, NALA_RESIZE_BILINEAR, bucket, err));
      cur = up;
    }
  }
  if (cur.h != h0 || cur.w != w0) { /* a bilinear resize to the same size is the identity */
    nala_feat r = pp_take(pp, cur.c, h0, w0);
    NALA_CHECK(nala_resize_op(g, &cur, &r, NALA_RESIZE_BILINEAR, bucket, err));
    cur = r;
  }
  *y = cur;
  return NALA_OK;
}

static nala_status fpn_head_plan(const void *module, nala_graph *g, const nala_feat *in, int n_in, nala_feat *out,
                                 int *n_out, nala_err *err) {
  const fpn_head *f = module;
  nala_feat x[NALA_HEAD_MAX_INS];
  NALA_CHECK(nala_head_select(&f->b, "FPNHead", in, n_in, x, err));
  int bucket = nala_graph_bucket(g, "head"), C = f->b.channels;
  nala_feat acc; /* scale_heads[0]: one conv, no upsample (stride_0 == stride_0) */
  NALA_CHECK(nala_head_conv(g, &f->conv[0][0], &x[0], &acc, bucket, err));
  for (int k = 1; k < f->length[0]; k++) {
    nala_feat c;
    NALA_CHECK(nala_head_conv(g, &f->conv[0][k], &acc, &c, bucket, err));
    acc = c;
  }
  size_t most = (size_t)f->b.num_classes * acc.h * acc.w;
  for (int i = 1; i < f->b.n_in; i++) {
    size_t p = chain_pixels(f, i, x[i].h, x[i].w, acc.h, acc.w) * C;
    most = p > most ? p : most;
  }
  pingpong pp = {{nala_graph_region(g, most * sizeof(float)), nala_graph_region(g, most * sizeof(float))}, 0};
  for (int i = 1; i < f->b.n_in; i++) {
    nala_feat y;
    pp.next = 0;
    NALA_CHECK(scale_head(g, f, i, &x[i], acc.h, acc.w, &pp, &y, bucket, err));
    NALA_CHECK(nala_add_op(g, &acc, &y, &acc, bucket, err));
  }
  nala_feat logits = {.c = f->b.num_classes, .h = acc.h, .w = acc.w, .off = pp.off[0]};
  NALA_CHECK(nala_conv_op(g, &f->b.conv_seg, acc.h, acc.w, acc.off, 0, logits.off, 0, 0, bucket, err));
  out[0] = logits;
  *n_out = 1;
  return NALA_OK;
}

const nala_module_type nala_fpn_head_module = {
    .type = {"FPNHead", &fpn_head_schema}, .create = fpn_head_create, .plan = fpn_head_plan, .free = fpn_head_free};
