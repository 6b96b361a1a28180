/* mmcv RoIAlign (mmcv/ops/roi_align.py, CPU kernel; torchvision's roi_align is the same code) with
 * mmdet's settings: aligned=True (roi * spatial_scale - 0.5, no minimum size), pool_mode 'avg',
 * sampling_ratio 0 = ceil(roi_size / out_size) samples per bin and axis. The float expressions
 * follow the C++ kernel term by term, so results match it to the rounding of the final sums.
 *
 * Feature maps are channel-last (NHWC, the runtime's token-major layout): one bilinear sample is
 * four weights and four contiguous C-vectors, so the inner loop streams channels. Output is
 * [roi][c][y][x], the order mmdet's bbox head flattens. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "det/det.h"

/* Largest |coordinate| accepted: 16x a 4K frame; adaptive sampling stays below 2^16 per axis. */
#define NALA_DET_ROI_MAX_COORD 65536.0

int nala_det_roi_level(const float roi[4], float finest_scale, int n_levels) {
  /* torch: floor(log2(sqrt(w * h) / finest_scale + 1e-6)), all float32, clamped to the levels. */
  float scale = sqrtf((roi[2] - roi[0]) * (roi[3] - roi[1]));
  float lvl = floorf(log2f(scale / finest_scale + 1e-6f));
  if (!(lvl > 0)) /* also catches NaN (a negative area), which torch's clamp would keep as NaN */
    return 0;
  return lvl >= (float)(n_levels - 1) ? n_levels - 1 : (int)lvl;
}

size_t nala_det_roi_align_ws_floats(int c, int n_threads) {
  return (size_t)(c > 0 ? c : 0) * (size_t)(n_threads > 0 ? n_threads : 1);
}

/* The geometry of one RoI on one level, as the kernel derives it. */
typedef struct roi_geom {
  float start_w, start_h, bin_w, bin_h;
  int grid_w, grid_h;
  float count;
} roi_geom;

static roi_geom roi_geometry(const nala_det_feat *f, const float roi[4], int out_h, int out_w, int sampling_ratio) {
  roi_geom g;
  const float offset = 0.5f; /* aligned=True */
  g.start_w = roi[0] * f->spatial_scale - offset;
  g.start_h = roi[1] * f->spatial_scale - offset;
  float end_w = roi[2] * f->spatial_scale - offset, end_h = roi[3] * f->spatial_scale - offset;
  float roi_w = end_w - g.start_w, roi_h = end_h - g.start_h;
  g.bin_h = roi_h / (float)out_h;
  g.bin_w = roi_w / (float)out_w;
  g.grid_h = sampling_ratio > 0 ? sampling_ratio : (int)ceilf(roi_h / (float)out_h);
  g.grid_w = sampling_ratio > 0 ? sampling_ratio : (int)ceilf(roi_w / (float)out_w);
  int n = g.grid_h * g.grid_w;
  g.count = (float)(n > 1 ? n : 1);
  return g;
}

/* One sample's bilinear taps (mmcv pre_calc_for_bilinear_interpolate); returns 0 outside the map. */
typedef struct taps {
  size_t p1, p2, p3, p4; /* pixel indices y * w + x */
  float w1, w2, w3, w4;
} taps;

static int bilinear_taps(float y, float x, int height, int width, taps *t) {
  if (y < -1.0f || y > (float)height || x < -1.0f || x > (float)width)
    return 0;
  if (y <= 0)
    y = 0;
  if (x <= 0)
    x = 0;
  int y_low = (int)y, x_low = (int)x, y_high, x_high;
  if (y_low >= height - 1) {
    y_high = y_low = height - 1;
    y = (float)y_low;
  } else {
    y_high = y_low + 1;
  }
  if (x_low >= width - 1) {
    x_high = x_low = width - 1;
    x = (float)x_low;
  } else {
    x_high = x_low + 1;
  }
  float ly = y - (float)y_low, lx = x - (float)x_low, hy = 1.0f - ly, hx = 1.0f - lx;
  t->w1 = hy * hx, t->w2 = hy * lx, t->w3 = ly * hx, t->w4 = ly * lx;
  t->p1 = (size_t)y_low * width + x_low, t->p2 = (size_t)y_low * width + x_high;
  t->p3 = (size_t)y_high * width + x_low, t->p4 = (size_t)y_high * width + x_high;
  return 1;
}

static inline float sample_y(const roi_geom *g, int ph, int iy) {
  return g->start_h + (float)ph * g->bin_h + ((float)iy + 0.5f) * g->bin_h / (float)g->grid_h;
}
static inline float sample_x(const roi_geom *g, int pw, int ix) {
  return g->start_w + (float)pw * g->bin_w + ((float)ix + 0.5f) * g->bin_w / (float)g->grid_w;
}

void nala_det_roi_align_ref(const nala_det_feat *f, const float roi[4], int out_h, int out_w, int sampling_ratio,
                            float *out) {
  roi_geom g = roi_geometry(f, roi, out_h, out_w, sampling_ratio);
  const size_t C = (size_t)f->c;
  for (size_t ch = 0; ch < C; ch++)
    for (int ph = 0; ph < out_h; ph++)
      for (int pw = 0; pw < out_w; pw++) {
        float acc = 0.0f;
        for (int iy = 0; iy < g.grid_h; iy++)
          for (int ix = 0; ix < g.grid_w; ix++) {
            taps t;
            if (!bilinear_taps(sample_y(&g, ph, iy), sample_x(&g, pw, ix), f->h, f->w, &t))
              continue;
            const float *d = f->data + ch;
            acc += t.w1 * d[t.p1 * C] + t.w2 * d[t.p2 * C] + t.w3 * d[t.p3 * C] + t.w4 * d[t.p4 * C];
          }
        out[(ch * out_h + ph) * out_w + pw] = acc / g.count;
      }
}

/* One RoI: per bin, accumulate every sample into acc[C] with channel-contiguous loads, then write
 * the bin's column of the [c][y][x] output. Same per-channel operation order as the reference. */
static void roi_align_one(const nala_det_feat *f, const float roi[4], int out_h, int out_w, int sampling_ratio,
                          int channel_last, float *out, float *acc) {
  roi_geom g = roi_geometry(f, roi, out_h, out_w, sampling_ratio);
  const size_t C = (size_t)f->c, bins = (size_t)out_h * out_w;
  for (int ph = 0; ph < out_h; ph++)
    for (int pw = 0; pw < out_w; pw++) {
      memset(acc, 0, C * sizeof *acc);
      for (int iy = 0; iy < g.grid_h; iy++) {
        float y = sample_y(&g, ph, iy);
        for (int ix = 0; ix < g.grid_w; ix++) {
          taps t;
          if (!bilinear_taps(y, sample_x(&g, pw, ix), f->h, f->w, &t))
            continue;
          const float *v1 = f->data + t.p1 * C, *v2 = f->data + t.p2 * C;
          const float *v3 = f->data + t.p3 * C, *v4 = f->data + t.p4 * C;
          const float w1 = t.w1, w2 = t.w2, w3 = t.w3, w4 = t.w4;
#pragma omp simd
          for (size_t ch = 0; ch < C; ch++)
            acc[ch] += w1 * v1[ch] + w2 * v2[ch] + w3 * v3[ch] + w4 * v4[ch];
        }
      }
      if (channel_last) {
        float *o = out + ((size_t)ph * out_w + pw) * C;
        for (size_t ch = 0; ch < C; ch++)
          o[ch] = acc[ch] / g.count;
        continue;
      }
      float *o = out + (size_t)ph * out_w + pw;
      for (size_t ch = 0; ch < C; ch++)
        o[ch * bins] = acc[ch] / g.count;
    }
}

static nala_status check_feat(const nala_det_feat *f, int idx, nala_err *err) {
  if (!f->data || f->h <= 0 || f->w <= 0 || f->c <= 0 || !(f->spatial_scale > 0))
    return nala_fail(err, NALA_E_ARG, "roi align: level %d is %dx%dx%d with scale %g (need data and sizes > 0)",
                     idx, f->h, f->w, f->c, (double)f->spatial_scale);
  return NALA_OK;
}

nala_status nala_det_roi_align_levels(const nala_det_feat *levels, int n_levels, float finest_scale,
                                      const float *rois, size_t n, int out_h, int out_w, int sampling_ratio,
                                      float *out, int32_t *roi_levels, int n_threads, float *ws, size_t ws_floats,
                                      nala_err *err) {
  return nala_det_roi_align_levels_layout(levels, n_levels, finest_scale, rois, n, out_h, out_w, sampling_ratio, 0,
                                          out, roi_levels, n_threads, ws, ws_floats, err);
}

nala_status nala_det_roi_align_levels_layout(const nala_det_feat *levels, int n_levels, float finest_scale,
                                             const float *rois, size_t n, int out_h, int out_w, int sampling_ratio,
                                             int channel_last, float *out, int32_t *roi_levels, int n_threads,
                                             float *ws, size_t ws_floats, nala_err *err) {
  if (!levels || n_levels <= 0 || out_h <= 0 || out_w <= 0 || sampling_ratio < 0 || !(finest_scale > 0) ||
      (n && (!rois || !out)))
    return nala_fail(err, NALA_E_ARG, "roi align: %d levels, output %dx%d, sampling_ratio %d, finest_scale %g",
                     n_levels, out_h, out_w, sampling_ratio, (double)finest_scale);
  for (int l = 0; l < n_levels; l++) {
    NALA_CHECK(check_feat(&levels[l], l, err));
    if (levels[l].c != levels[0].c)
      return nala_fail(err, NALA_E_SHAPE, "roi align: level %d has %d channels, level 0 %d", l, levels[l].c,
                       levels[0].c);
  }
  int nt = n_threads > 0 ? n_threads : 1;
  if (!ws || ws_floats < nala_det_roi_align_ws_floats(levels[0].c, nt))
    return nala_fail(err, NALA_E_NOMEM, "roi align: workspace of %zu floats, %d channels x %d threads need %zu",
                     ws_floats, levels[0].c, nt, nala_det_roi_align_ws_floats(levels[0].c, nt));
  /* RoIs come from clipped decodes, but a NaN or absurd box must not turn into an int overflow or
   * an endless sample loop: refuse it by index (mmcv would sample it; no real RoI comes near). */
  for (size_t r = 0; r < n; r++) {
    const float *roi = rois + 4 * r;
    int ok = 1;
    for (int k = 0; k < 4; k++)
      ok &= isfinite(roi[k]) && fabsf(roi[k]) <= NALA_DET_ROI_MAX_COORD;
    if (!ok)
      return nala_fail(err, NALA_E_ARG, "roi align: roi %zu [%g %g %g %g] is not finite or beyond +-%g px", r,
                       (double)roi[0], (double)roi[1], (double)roi[2], (double)roi[3], NALA_DET_ROI_MAX_COORD);
  }
  const size_t per_roi = (size_t)levels[0].c * out_h * out_w;
  const long long count = (long long)n;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
  for (long long r = 0; r < count; r++) {
    const float *roi = rois + 4 * r;
    int lvl = n_levels > 1 ? nala_det_roi_level(roi, finest_scale, n_levels) : 0;
    if (roi_levels)
      roi_levels[r] = lvl;
    roi_align_one(&levels[lvl], roi, out_h, out_w, sampling_ratio, channel_last, out + (size_t)r * per_roi,
                  ws + (size_t)omp_get_thread_num() * levels[0].c);
  }
  return NALA_OK;
}

nala_status nala_det_roi_align(const nala_det_feat *feat, const float *rois, size_t n, int out_h, int out_w,
                               int sampling_ratio, float *out, int n_threads, float *ws, size_t ws_floats,
                               nala_err *err) {
  if (!feat)
    return nala_fail(err, NALA_E_ARG, "roi align: NULL feature map");
  return nala_det_roi_align_levels(feat, 1, 56.0f, rois, n, out_h, out_w, sampling_ratio, out, NULL, n_threads, ws,
                                   ws_floats, err);
}
