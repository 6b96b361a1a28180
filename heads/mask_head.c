/* mmdet FCNMaskHead at test time (mmdet/models/roi_heads/mask_heads/fcn_mask_head.py, mmdet 3.x):
 *   x = RoIAlign(final boxes) [n][C][14][14] (mask_roi_extractor, level mapping as the bbox RoIs)
 *   num_convs x (conv 3x3 pad 1 + ReLU)   ConvModule, no norm: convs.<i>.conv.*
 *   upsample: ConvTranspose2d(2, stride 2) + ReLU  (PyTorch weight [in][out][2][2]): upsample.*
 *   conv_logits 1x1 -> num_classes; predict: sigmoid, the channel of each detection's label
 * Here the RoI features are channel-last ([n][14][14][C], the NHWC batch the convolutions take);
 * each layer runs on the smallest planned batch holding the detection count (heads/roi_parts.h);
 * the 3x3 convs, where oneDNN has Winograd (AVX-512), in chunks of 4 RoIs up to the count instead
 * (core/nn/conv_batch_wino.h: measured 2.1x less time than NHWC brgconv on 100 RoIs, 1 thread).
 * Pasting into the image (mask_thr_binary) happens when the caller reads a mask (det/mask_paste.c). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn/conv_batch_wino.h"
#include "core/nn/layer.h"
#include "core/nn/upconv.h"
#include "det/det.h"
#include "heads/roi_parts.h"
#include "heads/two_stage.h"

#define MASK_MAX_CONVS 8

static const char *const upsample_types[] = {"deconv", NULL};
static const nala_schema_key upsample_keys[] = {
    NALA_SKEY_ENUM("type", upsample_types, 1),
    NALA_SKEY_INT("scale_factor", 2, 2, 0),
};
static const nala_schema upsample_schema = NALA_SCHEMA(upsample_keys);
static const nala_schema_key mask_keys[] = {
    NALA_SKEY_INT("num_convs", 0, MASK_MAX_CONVS, 0),
    NALA_SKEY_INT("roi_feat_size", 1, 64, 0),
    NALA_SKEY_POS_INT("in_channels", 0),
    NALA_SKEY_INT("conv_kernel_size", 3, 3, 0),
    NALA_SKEY_POS_INT("conv_out_channels", 0),
    NALA_SKEY_INT("num_classes", 1, 10000, 1),
    NALA_SKEY_BOOL("class_agnostic", 0),
    NALA_SKEY_OBJECT("upsample_cfg", &upsample_schema, 0),
    {.key = "conv_cfg", .kinds = NALA_SK_NULL},
    {.key = "norm_cfg", .kinds = NALA_SK_NULL},
    NALA_SKEY_OBJECT("loss_mask", NULL, 0),
    {.key = "init_cfg", .kinds = NALA_SK_NULL | NALA_SK_OBJECT | NALA_SK_ARRAY},
};
static const nala_schema mask_keys_schema = NALA_SCHEMA(mask_keys);
static const nala_schema_type mask_types[] = {{"FCNMaskHead", &mask_keys_schema}};
const nala_schema nala_mask_head_schema = NALA_SCHEMA_TYPED(mask_types);

struct nala_mask_head {
  int n_convs, roi_size, in_ch, ch, n_cls;
  nala_layer convs[MASK_MAX_CONVS], logits;
  nala_upconv up;
};

static const cJSON *member(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }
static int int_or(const cJSON *s, const char *key, int dflt) {
  return member(s, key) ? (int)member(s, key)->valuedouble : dflt;
}

void nala_mask_head_free(nala_mask_head *h) {
  if (!h)
    return;
  for (int i = 0; i < h->n_convs; i++)
    nala_layer_free(&h->convs[i]);
  nala_upconv_free(&h->up);
  nala_layer_free(&h->logits);
  free(h);
}

nala_status nala_mask_head_create(const cJSON *s, nala_weights *w, const char *prefix, const nala_rt *rt,
                                  int in_channels, int num_classes, nala_mask_head **out, nala_err *err) {
  nala_mask_head *h = calloc(1, sizeof *h);
  if (!h)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for the mask head");
  h->n_convs = int_or(s, "num_convs", 4);
  h->roi_size = int_or(s, "roi_feat_size", 14);
  h->in_ch = int_or(s, "in_channels", 256);
  h->ch = int_or(s, "conv_out_channels", 256);
  h->n_cls = (int)member(s, "num_classes")->valuedouble;
  nala_status st = NALA_OK;
  if (cJSON_IsTrue(member(s, "class_agnostic")))
    st = nala_fail(err, NALA_E_UNSUPPORTED, "model.roi_head.mask_head.class_agnostic: only false");
  else if (h->in_ch != in_channels)
    st = nala_fail(err, NALA_E_FORMAT, "model.roi_head.mask_head.in_channels: %d, the RoI extractor gives %d",
                   h->in_ch, in_channels);
  else if (h->n_cls != num_classes)
    st = nala_fail(err, NALA_E_FORMAT, "model.roi_head.mask_head.num_classes: %d, the bbox head has %d", h->n_cls,
                   num_classes);
  char key[256];
  int n_loaded = 0;
  for (int i = 0; !st && i < h->n_convs; i++, n_loaded++) {
    snprintf(key, sizeof key, "%s.convs.%d", prefix, i);
    nala_conv_shape cs = NALA_CONV_SHAPE(i ? h->ch : h->in_ch, h->ch, 3, 1, 1);
    st = nala_convmodule_load(rt, w, &h->convs[i], cs, key, 0, NALA_ACT_RELU, err);
  }
  h->n_convs = n_loaded;
  int up_in = h->n_convs ? h->ch : h->in_ch;
  snprintf(key, sizeof key, "%s.upsample", prefix);
  if (!st)
    st = nala_upconv_load(rt, w, &h->up, (nala_conv_shape)NALA_CONV_SHAPE(up_in, h->ch, 2, 2, 1), key, NALA_ACT_RELU,
                          err);
  snprintf(key, sizeof key, "%s.conv_logits", prefix);
  if (!st)
    st = nala_conv_load(rt, w, &h->logits, (nala_conv_shape)NALA_CONV_SHAPE(h->ch, h->n_cls, 1, 1, 1), key, 1, NULL,
                        0, err);
  if (st) {
    nala_mask_head_free(h);
    return st;
  }
  *out = h;
  return NALA_OK;
}

/* Detections per upsample + logits + select step: the 28x28 maps of a step are all that is
 * planned of them (16 RoIs: 12.8 MB upsampled + 4 MB logits, against 80 + 25 MB for 100). */
#define MASK_CHUNK 16

typedef struct mask_run {
  nala_roi_feats roi; /* the RoIAlign of the final boxes, [count][s][s][C] */
  size_t labels;
  int n_cls, mask_size; /* logits are [MASK_CHUNK][mask_size][mask_size][n_cls] */
  int up_k;             /* > 0: the logits' pixels are in the upsample's sub-pixel order (upconv.h) */
  size_t logits, masks;
} mask_run;

typedef struct mask_step {
  const mask_run *p;
  int first, rows; /* the detections [first, first + rows) whose logits the step computed */
} mask_step;

/* mask_preds[range(n), labels].sigmoid() into [n][s][s], for the step's detections below n. */
static nala_status mask_select(const void *args, char *ws, int nthreads, nala_err *err) {
  (void)nthreads;
  const mask_step *step = args;
  const mask_run *p = step->p;
  int n = nala_roi_count(ws, &p->roi), end = step->first + step->rows < n ? step->first + step->rows : n;
  size_t px = (size_t)p->mask_size * p->mask_size;
  const float *logits = (const float *)(ws + p->logits);
  const int32_t *labels = (const int32_t *)(ws + p->labels);
  float *masks = (float *)(ws + p->masks);
  for (int i = step->first; i < end; i++) {
    int c = labels[i];
    if (c < 0 || c >= p->n_cls)
      return nala_fail(err, NALA_E_STATE, "mask head: detection %d has label %d of %d classes", i, c, p->n_cls);
    const float *src = logits + (size_t)(i - step->first) * px * p->n_cls + c;
    float *dst = masks + (size_t)i * px;
    if (p->up_k) { /* pixel (Y, X) sits at ((Y/k * w + X/k) * k + Y%k) * k + X%k, w = mask_size / k */
      int k = p->up_k, S = p->mask_size, w = S / k;
      for (int Y = 0; Y < S; Y++)
        for (int X = 0; X < S; X++) {
          size_t sp = ((size_t)(Y / k * w + X / k) * k + Y % k) * k + X % k;
          dst[(size_t)Y * S + X] = 1.0f / (1.0f + expf(-src[sp * p->n_cls]));
        }
    } else {
      for (size_t k = 0; k < px; k++)
        dst[k] = 1.0f / (1.0f + expf(-src[k * p->n_cls]));
    }
  }
  return NALA_OK;
}

/* Layer-major, each layer planned once per batch bucket (only the count's bucket runs), so a
 * layer's input is dead once its variants are planned and the next layer's output takes its
 * bytes: two 14x14 maps of the batch live at a time, then one step of 28x28 maps. */
nala_status nala_mask_head_plan(const nala_mask_head *h, nala_graph *g, const nala_roi_extractor *ex,
                                const nala_feat *levels, const nala_feat *boxes, const nala_feat *labels,
                                const nala_feat *count, nala_feat *masks, nala_err *err) {
  if (ex->out_size != h->roi_size)
    return nala_fail(err, NALA_E_ARG, "mask head: roi_feat_size %d, the extractor's output_size %d", h->roi_size,
                     ex->out_size);
  mask_run *p = nala_graph_alloc(g, sizeof *p, err);
  if (!p)
    return NALA_E_NOMEM;
  memset(p, 0, sizeof *p);
  int D = boxes->w, S = h->roi_size, bucket = nala_graph_bucket(g, "masks");
  p->labels = labels->off;
  p->n_cls = h->n_cls;
  int up_h, up_w;
  nala_layer_out_size(&h->up.deconv, S, S, &up_h, &up_w);
  p->mask_size = up_h;
  *masks = nala_graph_feat(g, up_h * up_w, 1, D); /* the output first: the buffers below are handed back */
  p->masks = masks->off;
  size_t mark = nala_graph_mark(g);
  NALA_CHECK(nala_roi_feats_plan(g, &p->roi, ex, levels, h->in_ch, boxes, count, 1, bucket, "mask head", err));
  nala_graph_free(g, p->roi.align_ws);
  const int *buckets = p->roi.buckets, n_buckets = p->roi.n_buckets;
  size_t src = p->roi.feats, map_bytes = (size_t)S * S * h->ch * 4;
  for (int i = 0; i < h->n_convs; i++) {
    size_t dst = nala_graph_region(g, (size_t)D * map_bytes);
    /* Winograd in chunks of RoIs where oneDNN has it (AVX-512), else NHWC per batch bucket */
    int planned = 0;
    NALA_CHECK(nala_wino_batch_conv_op(g, &h->convs[i], D, S, S, src, dst, 0, count->off, bucket, &planned, err));
    for (int k = 0; !planned && k < n_buckets; k++) {
      int first = g->n_ops;
      NALA_CHECK(nala_conv_op_batch(g, &h->convs[i], buckets[k], S, S, src, dst, 0, bucket, err));
      NALA_CHECK(nala_roi_gate(g, first, count->off, buckets, n_buckets, k, err));
    }
    nala_graph_free(g, src);
    src = dst;
  }
  size_t up_px = (size_t)up_h * up_w;
  size_t up = nala_graph_region(g, (size_t)MASK_CHUNK * up_px * h->ch * 4);
  p->logits = nala_graph_region(g, (size_t)MASK_CHUNK * up_px * h->n_cls * 4);
  for (int j = 0; j < D; j += MASK_CHUNK) {
    int first = g->n_ops, rows = D - j < MASK_CHUNK ? D - j : MASK_CHUNK;
    /* one matmul into sub-pixel order where oneDNN has a fast one (the 1x1 logits do not mind
     * the order, mask_select undoes it), else the NHWC row matmuls */
    int planned = 0;
    NALA_CHECK(nala_upconv_op_subpixel(g, &h->up, rows, S, S, src + (size_t)j * map_bytes, up, bucket, &planned, err));
    if (j == 0)
      p->up_k = planned ? h->up.k : 0;
    else if (planned != (p->up_k > 0))
      return nala_fail(err, NALA_E_STATE, "mask head: the upsample of detections %d.. planned in another order", j);
    if (!planned)
      NALA_CHECK(nala_upconv_op_batch(g, &h->up, rows, S, S, src + (size_t)j * map_bytes, up, bucket, err));
    NALA_CHECK(nala_conv_op_batch(g, &h->logits, rows, up_h, up_w, up, p->logits, 0, bucket, err));
    mask_step step = {p, j, rows};
    NALA_CHECK(nala_graph_add_kernel(g, mask_select, &step, sizeof step, bucket, err));
    NALA_CHECK(nala_graph_gate_since(g, first, count->off, j, D, err)); /* runs when detection j exists */
  }
  nala_graph_rewind(g, mark);
  return NALA_OK;
}
