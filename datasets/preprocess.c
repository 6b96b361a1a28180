/* mmdet 3.x / mmseg 1.x test-time preprocessing. Semantics (shared/reference/mm-semantics.md):
 * - Resize keep_ratio: mmcv/image/geometric.py rescale_size, scale_factor =
 *   min(max(scale)/max(h, w), min(scale)/min(h, w)) and new = int(w*sf + 0.5), in float64 like Python;
 *   mmcv Resize then records w_scale = new_w / w, h_scale = new_h / h. Pixels: cv2.resize.
 * - Data preprocessor: bgr_to_rgb, float32, (x - mean) / std in float32 (a division, not a multiply
 *   by 1/std, so values match torch bit for bit), pad bottom/right with pad_val after normalising.
 *   mmdet pads to pad_size_divisor=32; mmseg pads at test time only when test_cfg gives size or
 *   size_divisor (SegDataPreProcessor), so its presets do not pad. */
#include "nala/preprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/image_resize.h"
#include "nala/config.h"

static const float IMAGENET_MEAN[3] = {123.675f, 116.28f, 103.53f};
static const float IMAGENET_STD[3] = {58.395f, 57.12f, 57.375f};

static nala_preprocess_cfg imagenet_cfg(int long_edge, int short_edge, int pad_divisor) {
  nala_preprocess_cfg cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.scale[0] = long_edge;
  cfg.scale[1] = short_edge;
  cfg.keep_ratio = 1;
  cfg.interp = NALA_INTERP_BILINEAR;
  memcpy(cfg.mean, IMAGENET_MEAN, sizeof cfg.mean);
  memcpy(cfg.std, IMAGENET_STD, sizeof cfg.std);
  cfg.to_rgb = 1;
  cfg.pad_divisor = pad_divisor;
  cfg.layout = NALA_NCHW;
  return cfg;
}

nala_preprocess_cfg nala_preprocess_mmdet_coco(void) { return imagenet_cfg(1333, 800, 32); }
nala_preprocess_cfg nala_preprocess_mmseg_ade20k(void) { return imagenet_cfg(2048, 512, 0); }
nala_preprocess_cfg nala_preprocess_mmseg_cityscapes(void) { return imagenet_cfg(2048, 1024, 0); }

nala_status nala_preprocess_from_config(const nala_preprocess_section *section, nala_layout layout,
                                        nala_preprocess_cfg *out, nala_err *err) {
  if (!section || !out)
    return nala_fail(err, NALA_E_ARG, "nala_preprocess_from_config: section or out is NULL");
  nala_preprocess_cfg cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.no_resize = !section->has_resize;
  cfg.scale[0] = section->scale[0];
  cfg.scale[1] = section->scale[1];
  cfg.keep_ratio = section->keep_ratio;
  cfg.interp = NALA_INTERP_BILINEAR; /* mmcv Resize default; the configs carry no interpolation key */
  memcpy(cfg.mean, section->mean, sizeof cfg.mean);
  memcpy(cfg.std, section->std, sizeof cfg.std);
  cfg.to_rgb = section->bgr_to_rgb;
  cfg.pad_divisor = section->pad_size_divisor > 1 ? section->pad_size_divisor : 0;
  /* data_preprocessor.size is not test-time padding: mmseg's SegDataPreProcessor pads to self.size only
   * when training and at test uses test_cfg.size / size_divisor, which the configs do not carry. */
  cfg.pad_value = section->pad_val;
  cfg.layout = layout;
  NALA_CHECK(nala_preprocess_validate(&cfg, err));
  *out = cfg;
  return NALA_OK;
}

nala_status nala_preprocess_validate(const nala_preprocess_cfg *cfg, nala_err *err) {
  if (!cfg)
    return nala_fail(err, NALA_E_ARG, "preprocess cfg is NULL");
  if (!cfg->no_resize && (cfg->scale[0] <= 0 || cfg->scale[1] <= 0))
    return nala_fail(err, NALA_E_ARG, "preprocess cfg: scale (%d, %d) must be positive", cfg->scale[0], cfg->scale[1]);
  if (cfg->keep_ratio != 0 && cfg->keep_ratio != 1)
    return nala_fail(err, NALA_E_ARG, "preprocess cfg: keep_ratio %d must be 0 or 1", cfg->keep_ratio);
  if (cfg->interp != NALA_INTERP_BILINEAR && cfg->interp != NALA_INTERP_NEAREST)
    return nala_fail(err, NALA_E_ARG, "preprocess cfg: unknown interp %d", (int)cfg->interp);
  for (int c = 0; c < 3; c++)
    if (!(cfg->std[c] > 0.0f) || cfg->mean[c] != cfg->mean[c])
      return nala_fail(err, NALA_E_ARG, "preprocess cfg: std[%d] = %g must be > 0 (mean[%d] = %g)", c,
                       (double)cfg->std[c], c, (double)cfg->mean[c]);
  if (cfg->pad_divisor < 0 || cfg->pad_h < 0 || cfg->pad_w < 0)
    return nala_fail(err, NALA_E_ARG, "preprocess cfg: pad_divisor %d, pad_h %d, pad_w %d must be >= 0",
                     cfg->pad_divisor, cfg->pad_h, cfg->pad_w);
  if (cfg->pad_divisor > 1 && (cfg->pad_h > 0 || cfg->pad_w > 0))
    return nala_fail(err, NALA_E_ARG,
                     "preprocess cfg: pad_divisor and pad_h/pad_w are exclusive (as in mmseg stack_batch)");
  if (cfg->layout != NALA_NCHW && cfg->layout != NALA_NHWC)
    return nala_fail(err, NALA_E_ARG, "preprocess cfg: unknown layout %d", (int)cfg->layout);
  return NALA_OK;
}

/* The larger of two ints. */
static int max_int(int a, int b) { return a > b ? a : b; }

nala_status nala_preprocess_out_size(const nala_preprocess_cfg *cfg, int h, int w, nala_preprocess_sizes *sizes,
                                     nala_err *err) {
  if (!sizes)
    return nala_fail(err, NALA_E_ARG, "nala_preprocess_out_size: sizes is NULL");
  memset(sizes, 0, sizeof *sizes);
  NALA_CHECK(nala_preprocess_validate(cfg, err));
  if (h <= 0 || w <= 0)
    return nala_fail(err, NALA_E_SHAPE, "preprocess: zero-sized input image (%dx%d, HxW)", h, w);
  nala_preprocess_meta *m = &sizes->meta;
  m->ori_h = h;
  m->ori_w = w;
  double new_w, new_h;
  if (cfg->no_resize) {
    new_w = w;
    new_h = h;
  } else if (cfg->keep_ratio) {
    double long_edge = max_int(cfg->scale[0], cfg->scale[1]);
    double short_edge = cfg->scale[0] < cfg->scale[1] ? cfg->scale[0] : cfg->scale[1];
    double by_long = long_edge / max_int(h, w), by_short = short_edge / (h < w ? h : w);
    double sf = by_long < by_short ? by_long : by_short;
    /* mmcv's int(x * sf + 0.5): Python int() truncates; both are positive, so floor. Done here, before
     * the check, so a refusal prints the size mmcv would have produced (0x1333, not 1x1334). */
    new_w = floor((double)w * sf + 0.5);
    new_h = floor((double)h * sf + 0.5);
  } else {
    new_w = cfg->scale[0];
    new_h = cfg->scale[1];
  }
  if (new_w < 1 || new_h < 1 || new_w > 1 << 20 || new_h > 1 << 20)
    return nala_fail(err, NALA_E_SHAPE, "preprocess: %dx%d (HxW) resizes to an unusable %.0fx%.0f", h, w, new_h, new_w);
  m->img_w = (int)new_w;
  m->img_h = (int)new_h;
  m->w_scale = (double)m->img_w / w;
  m->h_scale = (double)m->img_h / h;
  m->pad_h = m->img_h;
  m->pad_w = m->img_w;
  if (cfg->pad_divisor > 1) {
    int d = cfg->pad_divisor;
    m->pad_h = (m->img_h + d - 1) / d * d;
    m->pad_w = (m->img_w + d - 1) / d * d;
  } else { /* mmseg stack_batch: pad up to size, never crop */
    m->pad_h = max_int(m->img_h, cfg->pad_h);
    m->pad_w = max_int(m->img_w, cfg->pad_w);
  }
  sizes->out_floats = (size_t)3 * m->pad_h * m->pad_w;
  int resized = m->img_h != h || m->img_w != w;
  /* the resized image, then the resize's coordinate tables (datasets/image_resize.c) */
  sizes->scratch_bytes = resized ? (size_t)3 * m->img_h * m->img_w + nala_resize_u8_table_bytes(m->img_h, m->img_w) : 0;
  return NALA_OK;
}

/* Per channel, the normalised value of each uint8 level: the same float32 (v - mean) / std that
 * torch computes, so a 256-entry lookup replaces the arithmetic with identical bits. */
static void build_tables(const nala_preprocess_cfg *cfg, float table[3][256]) {
  for (int c = 0; c < 3; c++)
    for (int v = 0; v < 256; v++)
      table[c][v] = ((float)v - cfg->mean[c]) / cfg->std[c];
}

/* The fused pass: channel reorder + normalise + pad, one read of each resized pixel. src_of[c] is
 * the input byte offset feeding output channel c. */
static void normalise_and_pad(const nala_preprocess_cfg *cfg, const nala_preprocess_meta *m, const uint8_t *src,
                              size_t src_stride, const int src_of[3], float *out) {
  float table[3][256];
  build_tables(cfg, table);
  const int ph = m->pad_h, pw = m->pad_w, ih = m->img_h, iw = m->img_w;
  const size_t plane = (size_t)ph * pw;
  const float pad = cfg->pad_value;
  const int nchw = cfg->layout == NALA_NCHW;
#pragma omp parallel for schedule(static) if (plane > 65536)
  for (int y = 0; y < ph; y++) {
    int valid = y < ih ? iw : 0;
    const uint8_t *row = valid ? src + (size_t)y * src_stride : src;
    if (nchw) {
      float *o0 = out + (size_t)y * pw, *o1 = o0 + plane, *o2 = o1 + plane;
      for (int x = 0; x < valid; x++) {
        const uint8_t *p = row + (size_t)x * 3;
        o0[x] = table[0][p[src_of[0]]];
        o1[x] = table[1][p[src_of[1]]];
        o2[x] = table[2][p[src_of[2]]];
      }
      for (int x = valid; x < pw; x++)
        o0[x] = o1[x] = o2[x] = pad;
    } else {
      float *o = out + (size_t)y * pw * 3;
      for (int x = 0; x < valid; x++) {
        const uint8_t *p = row + (size_t)x * 3;
        o[3 * x] = table[0][p[src_of[0]]];
        o[3 * x + 1] = table[1][p[src_of[1]]];
        o[3 * x + 2] = table[2][p[src_of[2]]];
      }
      for (int x = valid * 3; x < pw * 3; x++)
        o[x] = pad;
    }
  }
}

nala_status nala_preprocess_into(const nala_preprocess_cfg *cfg, const nala_image *img, float *out, size_t out_floats,
                                 uint8_t *scratch, size_t scratch_bytes, nala_preprocess_meta *meta, nala_err *err) {
  if (!img || !img->data || !out)
    return nala_fail(err, NALA_E_ARG, "nala_preprocess_into: image, its data or out is NULL");
  if (img->c != 3 || (img->order != NALA_BGR && img->order != NALA_RGB))
    return nala_fail(err, NALA_E_SHAPE,
                     "preprocess: input must have 3 channels in BGR or RGB order (got c=%d, order %d); "
                     "convert grey frames with nala_image_convert",
                     img->c, (int)img->order);
  if (img->stride < (size_t)img->w * 3)
    return nala_fail(err, NALA_E_ARG, "preprocess: stride %zu < w*3 = %zu", img->stride, (size_t)img->w * 3);
  nala_preprocess_sizes sz;
  NALA_CHECK(nala_preprocess_out_size(cfg, img->h, img->w, &sz, err));
  if (out_floats < sz.out_floats)
    return nala_fail(err, NALA_E_NOMEM, "preprocess: output holds %zu floats, %dx%d needs %zu (3x%dx%d)", out_floats,
                     img->h, img->w, sz.out_floats, sz.meta.pad_h, sz.meta.pad_w);
  if (scratch_bytes < sz.scratch_bytes || (sz.scratch_bytes && !scratch))
    return nala_fail(err, NALA_E_NOMEM, "preprocess: scratch holds %zu bytes, resizing %dx%d to %dx%d needs %zu",
                     scratch ? scratch_bytes : 0, img->h, img->w, sz.meta.img_h, sz.meta.img_w, sz.scratch_bytes);
  const uint8_t *src = img->data;
  size_t src_stride = img->stride;
  if (sz.scratch_bytes) {
    nala_image resized = {.h = sz.meta.img_h, .w = sz.meta.img_w, .c = 3, .stride = (size_t)sz.meta.img_w * 3,
                          .data = scratch, .order = img->order};
    /* cv2.resize's arithmetic in C, into the plan's scratch: cv::resize would allocate per frame */
    size_t image_bytes = resized.stride * (size_t)resized.h;
    nala_status st = nala_resize_u8(img, &resized, cfg->interp, scratch + image_bytes, sz.scratch_bytes - image_bytes, err);
    if (st != NALA_OK)
      return nala_err_prefix(err, "preprocess: ");
    src = scratch;
    src_stride = resized.stride;
  }
  nala_channel_order want = cfg->to_rgb ? NALA_RGB : NALA_BGR;
  int swap = want != img->order;
  const int src_of[3] = {swap ? 2 : 0, 1, swap ? 0 : 2};
  normalise_and_pad(cfg, &sz.meta, src, src_stride, src_of, out);
  if (meta)
    *meta = sz.meta;
  return NALA_OK;
}

nala_status nala_preprocess(const nala_preprocess_cfg *cfg, const nala_image *img, nala_preprocessed *out,
                            nala_err *err) {
  if (!out)
    return nala_fail(err, NALA_E_ARG, "nala_preprocess: out is NULL");
  memset(out, 0, sizeof *out);
  if (!img)
    return nala_fail(err, NALA_E_ARG, "nala_preprocess: image is NULL");
  nala_preprocess_sizes sz;
  NALA_CHECK(nala_preprocess_out_size(cfg, img->h, img->w, &sz, err));
  float *data = malloc(sz.out_floats * sizeof *data);
  uint8_t *scratch = sz.scratch_bytes ? malloc(sz.scratch_bytes) : NULL;
  if (!data || (sz.scratch_bytes && !scratch)) {
    free(data);
    free(scratch);
    return nala_fail(err, NALA_E_NOMEM, "preprocess: cannot allocate %zu floats + %zu bytes", sz.out_floats,
                     sz.scratch_bytes);
  }
  nala_status st = nala_preprocess_into(cfg, img, data, sz.out_floats, scratch, sz.scratch_bytes, &out->meta, err);
  free(scratch);
  if (st != NALA_OK) {
    free(data);
    memset(out, 0, sizeof *out);
    return st;
  }
  out->data = data;
  out->n = 1;
  out->c = 3;
  out->h = out->meta.pad_h;
  out->w = out->meta.pad_w;
  out->layout = cfg->layout;
  return NALA_OK;
}

void nala_preprocessed_free(nala_preprocessed *t) {
  if (!t)
    return;
  free(t->data);
  memset(t, 0, sizeof *t);
}

