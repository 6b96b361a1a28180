/* mmseg UPerHead (mmseg/models/decode_heads/uper_head.py, PPM from psp_head.py) at test time:
 *   PSP on the last level x: for each pool scale s, AdaptiveAvgPool2d(s) (PyTorch bins, overlapping
 *     when s does not divide the size) -> ConvModule 1x1 -> bilinear resize to x's size;
 *     bottleneck = ConvModule 3x3 on cat([x, branches...])
 *   laterals[i] = ConvModule 1x1 (levels 0..L-2), laterals[L-1] = the PSP output
 *   top-down, i = L-1 .. 1: laterals[i-1] += bilinear(laterals[i], size of laterals[i-1])
 *   outs[i] = fpn_convs[i](laterals[i]) (3x3, i < L-1), outs[L-1] = laterals[L-1]
 *   every out resized bilinearly to level 0, concatenated, fpn_bottleneck 3x3, cls_seg 1x1.
 * Bilinear resizes are align_corners=False. Concats are channel slices: each branch writes into its
 * slice of the concat map (no copy pass except x itself into the PSP concat). fpn_bottleneck runs
 * without its concat: split by input channels into one part per level (nala_convmodule_load_split),
 * each level's part adds into the output (post-op sum), BatchNorm folded into every part, ReLU after
 * the last. Against the concat and one conv this drops the L*C-channel concat map (128 MB at
 * 512x512) and, with Winograd, 151 MB of oneDNN scratchpad (its transformed 2048 x 512 weights
 * buffer); measured (UperNet-T 512x512, 1 thread, CPU time per forward on a loaded Xeon) it costs
 * ~10% with Winograd (2.35 vs 2.1 s) and nothing with direct NHWC convs (3.35 s both); peak RSS
 * 685 vs ~820 MB with Winograd.
 * Keys: <prefix>.psp_modules.<i>.1.{conv,bn} (index 0 is the pooling), .bottleneck, .lateral_convs.<i>,
 * .fpn_convs.<i>, .fpn_bottleneck, .conv_seg. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/nn/module.h"
#include "core/nn/prims.h"
#include "heads/decode_head.h"

#define UPER_MAX_SCALES 8

static const nala_schema_key uper_keys[] = {
    NALA_DECODE_HEAD_KEYS,
    NALA_SKEY_POS_INT_LIST("pool_scales", 1, UPER_MAX_SCALES, 0),
};
static const nala_schema uper_schema = NALA_SCHEMA(uper_keys);

typedef struct uper {
  nala_head_base b;
  int n_scales, scales[UPER_MAX_SCALES];
  int n_psp, n_lat, n_fpn, has_bottleneck, n_fpn_bottleneck;
  nala_layer psp[UPER_MAX_SCALES], bottleneck, lateral[NALA_HEAD_MAX_INS], fpn[NALA_HEAD_MAX_INS];
  nala_layer fpn_bottleneck[NALA_HEAD_MAX_INS]; /* its input-channel slice per level */
} uper;

static void uper_free(void *module) {
  uper *u = module;
  if (!u)
    return;
  for (int i = 0; i < u->n_psp; i++)
    nala_layer_free(&u->psp[i]);
  for (int i = 0; i < u->n_lat; i++)
    nala_layer_free(&u->lateral[i]);
  for (int i = 0; i < u->n_fpn; i++)
    nala_layer_free(&u->fpn[i]);
  if (u->has_bottleneck)
    nala_layer_free(&u->bottleneck);
  for (int i = 0; i < u->n_fpn_bottleneck; i++)
    nala_layer_free(&u->fpn_bottleneck[i]);
  nala_head_base_free(&u->b);
  free(u);
}

static nala_status uper_create(const cJSON *section, nala_weights *w, const char *prefix, const nala_rt *rt,
                               void **out, nala_err *err) {
  uper *u = calloc(1, sizeof *u);
  if (!u)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for the UPerHead");
  char path[64], key[256];
  snprintf(path, sizeof path, "model.%s", prefix);
  nala_status st = nala_head_base_parse(section, path, &u->b, err);
  const cJSON *ps = cJSON_GetObjectItemCaseSensitive(section, "pool_scales");
  static const int default_scales[] = {1, 2, 3, 6}; /* UPerHead's default */
  u->n_scales = ps ? cJSON_GetArraySize(ps) : 4;
  for (int i = 0; i < u->n_scales; i++)
    u->scales[i] = ps ? (int)cJSON_GetArrayItem(ps, i)->valuedouble : default_scales[i];
  if (!st && u->b.n_in < 2)
    st = nala_fail(err, NALA_E_FORMAT, "%s.in_channels: UPerHead needs at least 2 levels", path);
  const nala_head_base *b = &u->b;
  int C = b->channels, L = b->n_in, last = L > 0 ? b->in_ch[L - 1] : 0;
  for (int i = 0; !st && i < u->n_scales; i++, u->n_psp++) {
    snprintf(key, sizeof key, "%s.psp_modules.%d.1", prefix, i);
    st = nala_head_convmodule(rt, w, b, &u->psp[i], last, C, 1, key, err);
  }
  if (!st) {
    snprintf(key, sizeof key, "%s.bottleneck", prefix);
    st = nala_head_convmodule(rt, w, b, &u->bottleneck, last + u->n_scales * C, C, 3, key, err);
    u->has_bottleneck = !st;
  }
  for (int i = 0; !st && i < L - 1; i++, u->n_lat++) {
    snprintf(key, sizeof key, "%s.lateral_convs.%d", prefix, i);
    st = nala_head_convmodule(rt, w, b, &u->lateral[i], b->in_ch[i], C, 1, key, err);
  }
  for (int i = 0; !st && i < L - 1; i++, u->n_fpn++) {
    snprintf(key, sizeof key, "%s.fpn_convs.%d", prefix, i);
    st = nala_head_convmodule(rt, w, b, &u->fpn[i], C, C, 3, key, err);
  }
  if (!st) {
    snprintf(key, sizeof key, "%s.fpn_bottleneck", prefix);
    nala_conv_shape whole = NALA_CONV_SHAPE(L * C, C, 3, 1, 1);
    st = nala_convmodule_load_split(rt, w, u->fpn_bottleneck, L, whole, key, b->norm, b->act, err);
    u->n_fpn_bottleneck = st ? 0 : L;
  }
  if (!st)
    st = nala_head_conv_seg_load(rt, w, &u->b, prefix, err);
  if (st) {
    uper_free(u);
    return st;
  }
  *out = u;
  return NALA_OK;
}

/* Conv L on src into dst (a map or a concat slice: any ld); posts: NALA_POST_SUM adds into dst. */
static nala_status conv_into(nala_graph *g, const nala_layer *L, const nala_feat *src, const nala_feat *dst, int posts,
                             int bucket, nala_err *err) {
  return nala_conv_op(g, L, src->h, src->w, src->off, nala_feat_ld(src), dst->off, nala_feat_ld(dst), posts, bucket,
                      err);
}

static nala_status uper_plan(const void *module, nala_graph *g, const nala_feat *in, int n_in, nala_feat *out,
                             int *n_out, nala_err *err) {
  const uper *u = module;
  const nala_head_base *b = &u->b;
  nala_feat x[NALA_HEAD_MAX_INS];
  NALA_CHECK(nala_head_select(b, "UPerHead", in, n_in, x, err));
  int bucket = nala_graph_bucket(g, "head"), L = b->n_in, C = b->channels;
  const nala_feat *top = &x[L - 1];

  /* PSP: cat([x, up(ppm_1(x)), ...]) -> bottleneck = laterals[L-1] */
  nala_feat psp_cat = nala_graph_feat(g, top->c + u->n_scales * C, top->h, top->w);
  nala_feat slice = nala_feat_slice(&psp_cat, 0, top->c);
  NALA_CHECK(nala_copy_op(g, top, &slice, bucket, err));
  for (int i = 0; i < u->n_scales; i++) {
    nala_feat pooled = nala_graph_feat(g, top->c, u->scales[i], u->scales[i]);
    NALA_CHECK(nala_adaptive_avgpool_op(g, top, &pooled, bucket, err));
    nala_feat branch = nala_graph_feat(g, C, u->scales[i], u->scales[i]);
    NALA_CHECK(conv_into(g, &u->psp[i], &pooled, &branch, 0, bucket, err));
    slice = nala_feat_slice(&psp_cat, top->c + i * C, C);
    NALA_CHECK(nala_resize_op(g, &branch, &slice, NALA_RESIZE_BILINEAR, bucket, err));
  }
  nala_feat lat[NALA_HEAD_MAX_INS];
  NALA_CHECK(nala_head_conv(g, &u->bottleneck, &psp_cat, &lat[L - 1], bucket, err));

  for (int i = 0; i < L - 1; i++)
    NALA_CHECK(nala_head_conv(g, &u->lateral[i], &x[i], &lat[i], bucket, err));
  /* The arena never frees a region, so the head reuses its own dead ones (ops run in order):
   * scratch (C x level-0 size) holds each top-down upsample, then fpn_convs' outputs of levels 1..L-2,
   * then the logits; lat[0], dead once fpn_convs[0] has read it, holds fpn_bottleneck's
   * output. At 512x512 with C = 512 this saves ~60 MB of the ~200 MB the head would take. */
  size_t scratch_bytes = (size_t)C * lat[0].h * lat[0].w * sizeof(float);
  size_t scratch = nala_graph_region(g, scratch_bytes);
  for (int i = L - 1; i > 0; i--) {
    nala_feat up = {.c = C, .h = lat[i - 1].h, .w = lat[i - 1].w, .off = scratch};
    NALA_CHECK(nala_resize_op(g, &lat[i], &up, NALA_RESIZE_BILINEAR, bucket, err));
    NALA_CHECK(nala_add_op(g, &lat[i - 1], &up, &lat[i - 1], bucket, err));
  }

  /* fpn_bottleneck(cat(fpn_outs resized to level 0)) = sum over levels of its parts: each level is
   * resized into one level-0 map (level0, dead once its part has read it) and its part adds into
   * feats. feats takes lat[0], dead once fpn_convs[0] has read it. The one-pass form
   * (each level's rows resized straight into the Winograd band; built, then removed) measured slower
   * on a quiet Xeon at 512x512, 1 thread: head 1768-1863 ms against 1512-1523 ms this way. */
  nala_feat outs[NALA_HEAD_MAX_INS];
  outs[0] = nala_graph_feat(g, C, lat[0].h, lat[0].w);
  nala_feat feats = {.c = C, .h = lat[0].h, .w = lat[0].w, .off = lat[0].off};
  NALA_CHECK(conv_into(g, &u->fpn[0], &lat[0], &outs[0], 0, bucket, err));
  /* fpn_convs' outputs of levels 1..L-2 side by side in scratch (dead between the top-down adds and
   * the logits; each level has at most a quarter of the pixels of the one below, so they fit) */
  size_t at = scratch;
  for (int i = 1; i < L - 1; i++) {
    size_t bytes = ((size_t)C * lat[i].h * lat[i].w * sizeof(float) + NALA_GRAPH_ALIGN - 1) / NALA_GRAPH_ALIGN *
                   NALA_GRAPH_ALIGN;
    outs[i] = (nala_feat){.c = C, .h = lat[i].h, .w = lat[i].w,
                          .off = at + bytes <= scratch + scratch_bytes ? at : nala_graph_region(g, bytes)};
    at += bytes;
    NALA_CHECK(conv_into(g, &u->fpn[i], &lat[i], &outs[i], 0, bucket, err));
  }
  outs[L - 1] = lat[L - 1];
  nala_feat level0 = outs[0];
  NALA_CHECK(conv_into(g, &u->fpn_bottleneck[0], &level0, &feats, 0, bucket, err));
  for (int i = 1; i < L; i++) {
    NALA_CHECK(nala_resize_op(g, &outs[i], &level0, NALA_RESIZE_BILINEAR, bucket, err));
    NALA_CHECK(conv_into(g, &u->fpn_bottleneck[i], &level0, &feats, NALA_POST_SUM, bucket, err));
  }
  nala_feat logits = {.c = b->num_classes, .h = feats.h, .w = feats.w, .off = scratch};
  if ((size_t)b->num_classes * feats.h * feats.w * sizeof(float) > scratch_bytes)
    logits = nala_graph_feat(g, b->num_classes, feats.h, feats.w);
  NALA_CHECK(conv_into(g, &b->conv_seg, &feats, &logits, 0, bucket, err));
  out[0] = logits;
  *n_out = 1;
  return NALA_OK;
}

const nala_module_type nala_uper_head_module = {
    .type = {"UPerHead", &uper_schema}, .create = uper_create, .plan = uper_plan, .free = uper_free};
