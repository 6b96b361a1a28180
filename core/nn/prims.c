/* Kernels of prims.h. Each op's args hold the maps by offset; the workspace base comes at run. */
#include "core/nn/prims.h"

#include <float.h>
#include <math.h>

#include "core/nn/bilinear.h"

typedef struct map_args {
  nala_feat a, b, dst;
  int k, stride, pad; /* pools; k is the op of run_pointwise */
  nala_resize_mode mode;
  const nala_bilinear_kernels *bk; /* resize: the bilinear tier (any gives the same bits) */
} map_args;

static const float *cpix(char *ws, const nala_feat *f, int y, int x) {
  return (const float *)(ws + f->off) + ((size_t)y * f->w + x) * nala_feat_ld(f);
}
static float *pix(char *ws, const nala_feat *f, int y, int x) {
  return (float *)(ws + f->off) + ((size_t)y * f->w + x) * nala_feat_ld(f);
}

/* PyTorch's nearest_idx with scales unset: float scale in/out, identity and exact 2x special-cased. */
static int nearest_src(int dst, int in, int out) {
  if (in == out)
    return dst;
  if (out == 2 * in)
    return dst >> 1;
  float scale = (float)in / (float)out;
  int s = (int)floorf((float)dst * scale);
  return s < in - 1 ? s : in - 1;
}

/* area_pixel_compute_source_index (align_corners=False) and the two taps with their weights. */
void nala_linear_taps(int dst, int in, int out, int *i0, int *i1, float *w0, float *w1) {
  float scale = (float)in / (float)out;
  float src = scale * ((float)dst + 0.5f) - 0.5f;
  if (src < 0)
    src = 0;
  int i = (int)src;
  *i0 = i;
  *i1 = i + (i < in - 1);
  *w1 = src - (float)i;
  *w0 = 1.0f - *w1;
}

static nala_status run_resize(const void *p, char *ws, int nthreads, nala_err *err) {
  (void)err;
  const map_args *a = p;
  const nala_feat *s = &a->a, *d = &a->dst;
  int c = d->c;
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int y = 0; y < d->h; y++) {
    if (a->mode == NALA_RESIZE_NEAREST) {
      int sy = nearest_src(y, s->h, d->h);
      for (int x = 0; x < d->w; x++) {
        const float *src = cpix(ws, s, sy, nearest_src(x, s->w, d->w));
        float *dst = pix(ws, d, y, x);
#pragma omp simd
        for (int ch = 0; ch < c; ch++)
          dst[ch] = src[ch];
      }
      continue;
    }
    int y0, y1;
    float hy0, hy1;
    nala_linear_taps(y, s->h, d->h, &y0, &y1, &hy0, &hy1);
    for (int x = 0; x < d->w; x++) {
      int x0, x1;
      float wx0, wx1;
      nala_linear_taps(x, s->w, d->w, &x0, &x1, &wx0, &wx1);
      nala_bilinear_px px = {cpix(ws, s, y0, x0), cpix(ws, s, y0, x1), cpix(ws, s, y1, x0), cpix(ws, s, y1, x1),
                             hy0, hy1, wx0, wx1};
      a->bk->blend(&px, c, pix(ws, d, y, x));
    }
  }
  return NALA_OK;
}

/* Pixel-wise ops over maps of one size: dst = a + b, a, or relu(a). */
enum { PW_ADD, PW_COPY, PW_RELU };

static nala_status run_pointwise(const void *p, char *ws, int nthreads, nala_err *err) {
  (void)err;
  const map_args *a = p;
  const nala_feat *d = &a->dst;
  int op = a->k;
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int y = 0; y < d->h; y++)
    for (int x = 0; x < d->w; x++) {
      const float *pa = cpix(ws, &a->a, y, x);
      float *pd = pix(ws, d, y, x);
      int c = d->c;
      /* one loop per op, so each vectorises (omp simd: -O2 alone leaves them scalar); dst may be
       * a or b itself, element for element, which a vector loop keeps */
      if (op == PW_ADD) {
        const float *pb = cpix(ws, &a->b, y, x);
#pragma omp simd
        for (int ch = 0; ch < c; ch++)
          pd[ch] = pa[ch] + pb[ch];
      } else if (op == PW_RELU) {
#pragma omp simd
        for (int ch = 0; ch < c; ch++)
          pd[ch] = pa[ch] < 0 ? 0.0f : pa[ch]; /* relu keeps NaN */
      } else {
#pragma omp simd
        for (int ch = 0; ch < c; ch++)
          pd[ch] = pa[ch];
      }
    }
  return NALA_OK;
}

static int imax(int a, int b) { return a > b ? a : b; }
static int imin(int a, int b) { return a < b ? a : b; }

static nala_status run_pool(const void *p, char *ws, int nthreads, int is_max) {
  const map_args *a = p;
  const nala_feat *s = &a->a, *d = &a->dst;
  int k = a->k, st = a->stride, pad = a->pad, c = d->c;
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int y = 0; y < d->h; y++) {
    int hs = y * st - pad, he = imin(hs + k, s->h + pad);
    for (int x = 0; x < d->w; x++) {
      int ws0 = x * st - pad, we = imin(ws0 + k, s->w + pad);
      /* avg_pool2d(count_include_pad=True) divides by the window clipped to the padded map */
      float div = (float)((he - hs) * (we - ws0));
      int y0 = imax(hs, 0), y1 = imin(hs + k, s->h), x0 = imax(ws0, 0), x1 = imin(ws0 + k, s->w);
      float *dst = pix(ws, d, y, x);
      for (int ch = 0; ch < c; ch++)
        dst[ch] = is_max ? -INFINITY : 0.0f;
      for (int yy = y0; yy < y1; yy++)
        for (int xx = x0; xx < x1; xx++) {
          const float *src = cpix(ws, s, yy, xx);
          for (int ch = 0; ch < c; ch++)
            if (is_max)
              dst[ch] = src[ch] > dst[ch] || isnan(src[ch]) ? src[ch] : dst[ch];
            else
              dst[ch] += src[ch];
        }
      for (int ch = 0; !is_max && ch < c; ch++)
        dst[ch] /= div;
    }
  }
  return NALA_OK;
}

static nala_status run_maxpool(const void *p, char *ws, int nthreads, nala_err *err) {
  (void)err;
  return run_pool(p, ws, nthreads, 1);
}
static nala_status run_avgpool(const void *p, char *ws, int nthreads, nala_err *err) {
  (void)err;
  return run_pool(p, ws, nthreads, 0);
}

static nala_status run_adaptive(const void *p, char *ws, int nthreads, nala_err *err) {
  (void)err;
  const map_args *a = p;
  const nala_feat *s = &a->a, *d = &a->dst;
  int c = d->c;
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int y = 0; y < d->h; y++) {
    int y0 = (int)((long)y * s->h / d->h), y1 = (int)(((long)(y + 1) * s->h + d->h - 1) / d->h);
    for (int x = 0; x < d->w; x++) {
      int x0 = (int)((long)x * s->w / d->w), x1 = (int)(((long)(x + 1) * s->w + d->w - 1) / d->w);
      float *dst = pix(ws, d, y, x);
      for (int ch = 0; ch < c; ch++)
        dst[ch] = 0.0f;
      for (int yy = y0; yy < y1; yy++)
        for (int xx = x0; xx < x1; xx++) {
          const float *src = cpix(ws, s, yy, xx);
          for (int ch = 0; ch < c; ch++)
            dst[ch] += src[ch];
        }
      float n = (float)((y1 - y0) * (x1 - x0));
      for (int ch = 0; ch < c; ch++)
        dst[ch] /= n;
    }
  }
  return NALA_OK;
}

static nala_status same_c(const nala_feat *a, const nala_feat *b, const char *op, nala_err *err) {
  if (a->c != b->c || a->h < 1 || a->w < 1 || b->h < 1 || b->w < 1)
    return nala_fail(err, NALA_E_ARG, "%s: %dx%dx%d -> %dx%dx%d (channels must match, sizes be positive)", op, a->c,
                     a->h, a->w, b->c, b->h, b->w);
  return NALA_OK;
}

static nala_status same_shape(const nala_feat *a, const nala_feat *b, const char *op, nala_err *err) {
  NALA_CHECK(same_c(a, b, op, err));
  if (a->h != b->h || a->w != b->w)
    return nala_fail(err, NALA_E_ARG, "%s: sizes %dx%d and %dx%d differ", op, a->h, a->w, b->h, b->w);
  return NALA_OK;
}

nala_status nala_resize_op(nala_graph *g, const nala_feat *src, const nala_feat *dst, nala_resize_mode mode,
                           int bucket, nala_err *err) {
  NALA_CHECK(same_c(src, dst, "resize", err));
  map_args a = {.a = *src, .dst = *dst, .mode = mode, .bk = nala_bilinear_for(NALA_ISA_AUTO)};
  return nala_graph_add_kernel(g, run_resize, &a, sizeof a, bucket, err);
}

nala_status nala_add_op(nala_graph *g, const nala_feat *a, const nala_feat *b, const nala_feat *dst, int bucket,
                        nala_err *err) {
  NALA_CHECK(same_shape(a, b, "add", err));
  NALA_CHECK(same_shape(a, dst, "add", err));
  map_args m = {.a = *a, .b = *b, .dst = *dst, .k = PW_ADD};
  return nala_graph_add_kernel(g, run_pointwise, &m, sizeof m, bucket, err);
}

nala_status nala_copy_op(nala_graph *g, const nala_feat *src, const nala_feat *dst, int bucket, nala_err *err) {
  NALA_CHECK(same_shape(src, dst, "copy", err));
  map_args m = {.a = *src, .dst = *dst, .k = PW_COPY};
  return nala_graph_add_kernel(g, run_pointwise, &m, sizeof m, bucket, err);
}

nala_status nala_relu_op(nala_graph *g, const nala_feat *src, const nala_feat *dst, int bucket, nala_err *err) {
  NALA_CHECK(same_shape(src, dst, "relu", err));
  map_args m = {.a = *src, .dst = *dst, .k = PW_RELU};
  return nala_graph_add_kernel(g, run_pointwise, &m, sizeof m, bucket, err);
}

int nala_pool_out(int in, int k, int stride, int pad) { return (in + 2 * pad - k) / stride + 1; }

static nala_status pool_op(nala_graph *g, const nala_feat *src, const nala_feat *dst, int k, int stride, int pad,
                           int bucket, nala_kernel_fn fn, const char *name, nala_err *err) {
  NALA_CHECK(same_c(src, dst, name, err));
  /* PyTorch: pad at most half the kernel, so no window lies wholly in the padding */
  if (k < 1 || stride < 1 || pad < 0 || 2 * pad > k)
    return nala_fail(err, NALA_E_ARG, "%s: kernel %d, stride %d, pad %d", name, k, stride, pad);
  int oh = nala_pool_out(src->h, k, stride, pad), ow = nala_pool_out(src->w, k, stride, pad);
  if (dst->h != oh || dst->w != ow)
    return nala_fail(err, NALA_E_ARG, "%s: output %dx%d, expected %dx%d", name, dst->h, dst->w, oh, ow);
  map_args m = {.a = *src, .dst = *dst, .k = k, .stride = stride, .pad = pad};
  return nala_graph_add_kernel(g, fn, &m, sizeof m, bucket, err);
}

nala_status nala_maxpool_op(nala_graph *g, const nala_feat *src, const nala_feat *dst, int k, int stride, int pad,
                            int bucket, nala_err *err) {
  return pool_op(g, src, dst, k, stride, pad, bucket, run_maxpool, "max_pool2d", err);
}

nala_status nala_avgpool_op(nala_graph *g, const nala_feat *src, const nala_feat *dst, int k, int stride, int pad,
                            int bucket, nala_err *err) {
  return pool_op(g, src, dst, k, stride, pad, bucket, run_avgpool, "avg_pool2d", err);
}

nala_status nala_adaptive_avgpool_op(nala_graph *g, const nala_feat *src, const nala_feat *dst, int bucket,
                                     nala_err *err) {
  NALA_CHECK(same_c(src, dst, "adaptive_avg_pool2d", err));
  map_args m = {.a = *src, .dst = *dst};
  return nala_graph_add_kernel(g, run_adaptive, &m, sizeof m, bucket, err);
}
