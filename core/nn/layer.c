/* Loading weighted layers by key prefix and planning them into a graph (see layer.h). */
#include "core/nn/layer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn/conv_banded.h"
#include "core/nn/prims.h"

#define BN_EPS 1e-5 /* nn.BatchNorm2d default */

/* Representative sizes for picking weight formats: the format depends on channels and ISA, not
 * on the spatial size; a plan whose size disagrees gets its own reordered copy (weights_for). */
#define FORMAT_PICK_ROWS 1024
#define FORMAT_PICK_HW 32

static int act_posts(nala_act act) {
  switch (act) {
  case NALA_ACT_RELU: return NALA_POST_RELU;
  case NALA_ACT_GELU: return NALA_POST_GELU;
  case NALA_ACT_SILU: return NALA_POST_SWISH;
  default: return NALA_POST_NONE;
  }
}

static nala_status bias_memory(const nala_rt *rt, const float *bias, int n, dnnl_memory_t *out, nala_err *err) {
  dnnl_memory_desc_t md;
  dnnl_dims_t dims = {n};
  dnnl_memory_desc_init_by_tag(&md, 1, dims, dnnl_f32, dnnl_a);
  NALA_DNNL(dnnl_memory_create(out, &md, rt->engine, DNNL_MEMORY_ALLOCATE), err);
  void *p = NULL;
  NALA_DNNL(dnnl_memory_get_data_handle(*out, &p), err);
  if (bias)
    memcpy(p, bias, (size_t)n * sizeof(float));
  else
    memset(p, 0, (size_t)n * sizeof(float));
  return NALA_OK;
}

static nala_status finish_init(const nala_rt *rt, nala_layer *L, dnnl_primitive_desc_t pd,
                               const dnnl_memory_desc_t *torch_md, const float *w, const float *b, int n_bias,
                               nala_err *err) {
  L->wmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  dnnl_primitive_desc_destroy(pd);
  NALA_CHECK(nala_dnnl_reorder_new(rt->engine, torch_md, w, &L->wmd, &L->w, err));
  return bias_memory(rt, b, n_bias, &L->b, err);
}

nala_status nala_linear_init(const nala_rt *rt, nala_layer *L, int in, int out, const float *w, const float *b,
                             nala_err *err) {
  L->kind = NALA_LAYER_LINEAR;
  L->in = in;
  L->out = out;
  dnnl_primitive_desc_t pd;
  NALA_CHECK(nala_matmul_pd(rt->engine, FORMAT_PICK_ROWS, in, out, in, out, NULL, 0, &pd, err));
  dnnl_memory_desc_t torch_md;
  nala_linear_torch_md(in, out, &torch_md);
  return finish_init(rt, L, pd, &torch_md, w, b, out, err);
}

/* Conv or deconv: weights format picked at a representative size, PyTorch weights reordered. */
static nala_status spatial_init(const nala_rt *rt, nala_layer *L, nala_layer_kind kind, nala_conv_shape s,
                                const float *w, const float *b, nala_err *err) {
  s.h = s.w = FORMAT_PICK_HW;
  s.ld_src = s.ld_dst = 0;
  L->kind = kind;
  L->conv = s;
  dnnl_primitive_desc_t pd;
  dnnl_memory_desc_t torch_md;
  if (kind == NALA_LAYER_DECONV) {
    NALA_CHECK(nala_deconv_pd(rt->engine, &s, NULL, 0, &pd, err));
    /* PyTorch stores ConvTranspose2d weights [in][out][k][k]: oneDNN's (oc, ic, kh, kw) as iohw. */
    dnnl_dims_t dims = {s.oc, s.ic, s.k, s.k};
    dnnl_memory_desc_init_by_tag(&torch_md, 4, dims, dnnl_f32, dnnl_iohw);
  } else {
    NALA_CHECK(nala_conv_pd(rt->engine, &s, NULL, 0, &pd, err));
    nala_conv_torch_md(&s, &torch_md);
    L->banded = (int)nala_banded_kind_for(rt, &s);
  }
  return finish_init(rt, L, pd, &torch_md, w, b, s.oc, err);
}

nala_status nala_conv_init(const nala_rt *rt, nala_layer *L, nala_conv_shape s, const float *w, const float *b,
                           nala_err *err) {
  return spatial_init(rt, L, NALA_LAYER_CONV, s, w, b, err);
}

nala_status nala_deconv_init(const nala_rt *rt, nala_layer *L, nala_conv_shape s, const float *w, const float *b,
                             nala_err *err) {
  if (s.groups != 1)
    return nala_fail(err, NALA_E_UNSUPPORTED, "ConvTranspose2d with groups %d (only 1)", s.groups);
  return spatial_init(rt, L, NALA_LAYER_DECONV, s, w, b, err);
}

float *nala_take_new(nala_weights *w, const char *key, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
  int64_t shape[4] = {d0, d1, d2, d3};
  size_t n = 1;
  for (int i = 0; i < ndim; i++)
    n *= (size_t)shape[i];
  float *dst = calloc(n ? n : 1, sizeof(float));
  if (dst)
    nala_weights_take(w, key, ndim, shape, dst);
  return dst;
}

static float *takef(nala_weights *w, const char *prefix, const char *suffix, int ndim, int64_t d0, int64_t d1,
                    int64_t d2, int64_t d3) {
  char key[512];
  snprintf(key, sizeof key, "%s.%s", prefix, suffix);
  return nala_take_new(w, key, ndim, d0, d1, d2, d3);
}

nala_status nala_take_stacked(nala_weights *w, const char *prefix, const char *a, int na, const char *b, int nb,
                              int in, int ndim, float **W, float **B, nala_err *err) {
  char ka[256], kb[256]; /* + ".weight" fits takef's key */
  snprintf(ka, sizeof ka, "%s.%s", prefix, a);
  snprintf(kb, sizeof kb, "%s.%s", prefix, b);
  float *aw = takef(w, ka, "weight", ndim, na, in, 1, 1), *ab = takef(w, ka, "bias", 1, na, 0, 0, 0);
  float *bw = takef(w, kb, "weight", ndim, nb, in, 1, 1), *bb = takef(w, kb, "bias", 1, nb, 0, 0, 0);
  int no = na + nb;
  *W = malloc((size_t)no * in * sizeof **W), *B = malloc((size_t)no * sizeof **B);
  nala_status st = NALA_OK;
  if (!aw || !ab || !bw || !bb || !*W || !*B) {
    st = nala_fail(err, NALA_E_NOMEM, "out of memory loading %s.%s / %s", prefix, a, b);
    free(*W), free(*B);
    *W = NULL, *B = NULL;
  } else {
    memcpy(*W, aw, (size_t)na * in * sizeof **W);
    memcpy(*W + (size_t)na * in, bw, (size_t)nb * in * sizeof **W);
    memcpy(*B, ab, (size_t)na * sizeof **B);
    memcpy(*B + na, bb, (size_t)nb * sizeof **B);
  }
  free(aw), free(ab), free(bw), free(bb);
  return st;
}

/* "<conv>.weight" [oc][ic/groups][k][k] and bias (or zeros) with BatchNorm folded in and the
 * residual tap added, as new arrays *W, *B (free both; NULL on error). */
static nala_status load_folded(nala_weights *wts, nala_conv_shape s, const char *conv, int has_bias, const char *bn,
                               int residual, float **W, float **B, nala_err *err) {
  int icg = s.ic / s.groups;
  size_t per_oc = (size_t)icg * s.k * s.k;
  float *w = takef(wts, conv, "weight", 4, s.oc, icg, s.k, s.k);
  float *b = has_bias ? takef(wts, conv, "bias", 1, s.oc, 0, 0, 0) : calloc((size_t)s.oc, sizeof(float));
  float *g = NULL, *beta = NULL, *mean = NULL, *var = NULL;
  if (bn) {
    g = takef(wts, bn, "weight", 1, s.oc, 0, 0, 0);
    beta = takef(wts, bn, "bias", 1, s.oc, 0, 0, 0);
    mean = takef(wts, bn, "running_mean", 1, s.oc, 0, 0, 0);
    var = takef(wts, bn, "running_var", 1, s.oc, 0, 0, 0);
  }
  nala_status st = NALA_OK;
  if (!w || !b || (bn && (!g || !beta || !mean || !var))) {
    st = nala_fail(err, NALA_E_NOMEM, "out of memory loading %s", conv);
    free(w), free(b);
    w = b = NULL;
  } else {
    /* BN(conv(x)) = scale * (W x + b - mean) + beta, scale = gamma / sqrt(var + eps), in double. */
    for (int o = 0; bn && o < s.oc; o++) {
      double scale = g[o] / sqrt((double)var[o] + BN_EPS);
      for (size_t i = 0; i < per_oc; i++)
        w[o * per_oc + i] = (float)(w[o * per_oc + i] * scale);
      b[o] = (float)((b[o] - (double)mean[o]) * scale + beta[o]);
    }
    for (int o = 0; residual && o < s.oc; o++)
      w[o * per_oc + (size_t)(s.k / 2) * s.k + s.k / 2] += 1.0f;
  }
  free(g), free(beta), free(mean), free(var);
  *W = w, *B = b;
  return st;
}

nala_status nala_conv_load(const nala_rt *rt, nala_weights *wts, nala_layer *L, nala_conv_shape s, const char *conv,
                           int has_bias, const char *bn, int residual, nala_err *err) {
  float *w, *b;
  nala_status st = load_folded(wts, s, conv, has_bias, bn, residual, &w, &b, err);
  if (!st)
    st = nala_conv_init(rt, L, s, w, b, err);
  free(w), free(b);
  return st;
}

nala_status nala_convmodule_load_split(const nala_rt *rt, nala_weights *wts, nala_layer *parts, int n_parts,
                                       nala_conv_shape s, const char *prefix, int norm, nala_act act, nala_err *err) {
  if (n_parts < 1 || s.groups != 1 || s.ic % n_parts)
    return nala_fail(err, NALA_E_ARG, "%s: %d input channels in %d parts (groups %d)", prefix, s.ic, n_parts, s.groups);
  char conv[512], bn[512];
  snprintf(conv, sizeof conv, "%s.conv", prefix);
  snprintf(bn, sizeof bn, "%s.bn", prefix);
  float *w, *b;
  NALA_CHECK(load_folded(wts, s, conv, !norm, norm ? bn : NULL, 0, &w, &b, err));
  nala_conv_shape ps = s;
  ps.ic = s.ic / n_parts;
  size_t taps = (size_t)s.k * s.k;
  float *pw = malloc((size_t)s.oc * ps.ic * taps * sizeof *pw), *zeros = calloc((size_t)s.oc, sizeof *zeros);
  nala_status st = pw && zeros ? NALA_OK : nala_fail(err, NALA_E_NOMEM, "out of memory splitting %s", prefix);
  int done = 0;
  for (; !st && done < n_parts; done++) {
    for (int o = 0; o < s.oc; o++)
      memcpy(pw + (size_t)o * ps.ic * taps, w + ((size_t)o * s.ic + (size_t)done * ps.ic) * taps,
             (size_t)ps.ic * taps * sizeof *pw);
    /* The bias once (part 0, which the sum starts from), the activation once (the last part). */
    st = nala_conv_init(rt, &parts[done], ps, pw, done == 0 ? b : zeros, err);
    if (!st)
      parts[done].act = done == n_parts - 1 ? act_posts(act) : NALA_POST_NONE;
  }
  for (int i = 0; st && i < done - 1; i++)
    nala_layer_free(&parts[i]);
  free(w), free(b), free(pw), free(zeros);
  return st;
}

nala_status nala_convmodule_load(const nala_rt *rt, nala_weights *w, nala_layer *L, nala_conv_shape s,
                                 const char *prefix, int norm, nala_act act, nala_err *err) {
  char conv[512], bn[512];
  snprintf(conv, sizeof conv, "%s.conv", prefix);
  snprintf(bn, sizeof bn, "%s.bn", prefix);
  NALA_CHECK(nala_conv_load(rt, w, L, s, conv, !norm, norm ? bn : NULL, 0, err));
  L->act = act_posts(act);
  return NALA_OK;
}

nala_status nala_linear_load(const nala_rt *rt, nala_weights *wts, nala_layer *L, int in, int out, const char *prefix,
                             nala_err *err) {
  float *w = takef(wts, prefix, "weight", 2, out, in, 0, 0);
  float *b = takef(wts, prefix, "bias", 1, out, 0, 0, 0);
  nala_status st = w && b ? nala_linear_init(rt, L, in, out, w, b, err)
                          : nala_fail(err, NALA_E_NOMEM, "out of memory loading %s", prefix);
  free(w), free(b);
  return st;
}

nala_status nala_deconv_load(const nala_rt *rt, nala_weights *wts, nala_layer *L, nala_conv_shape s,
                             const char *prefix, nala_act act, nala_err *err) {
  float *w = takef(wts, prefix, "weight", 4, s.ic, s.oc, s.k, s.k);
  float *b = takef(wts, prefix, "bias", 1, s.oc, 0, 0, 0);
  nala_status st = w && b ? nala_deconv_init(rt, L, s, w, b, err)
                          : nala_fail(err, NALA_E_NOMEM, "out of memory loading %s", prefix);
  free(w), free(b);
  if (!st)
    L->act = act_posts(act);
  return st;
}

void nala_layer_free(nala_layer *L) {
  if (L->w)
    dnnl_memory_destroy(L->w);
  if (L->b)
    dnnl_memory_destroy(L->b);
  L->w = L->b = NULL;
}

void nala_layer_out_size(const nala_layer *L, int h, int w, int *oh, int *ow) {
  int s = L->conv.stride, k = L->conv.k;
  if (L->kind == NALA_LAYER_DECONV) {
    *oh = (h - 1) * s + k, *ow = (w - 1) * s + k;
  } else {
    *oh = (h + s - 1) / s, *ow = (w + s - 1) / s;
  }
}

/* The weights memory a primitive wants: the model's, or (when this input size makes oneDNN pick
 * another format) a copy reordered at plan time, owned by the plan and shared by every op that
 * wants the same format (nala_graph_weights). */
static nala_status weights_for(nala_graph *g, dnnl_primitive_desc_t pd, const nala_layer *L, nala_dnnl_arg *arg,
                               nala_err *err) {
  const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  arg->arg = DNNL_ARG_WEIGHTS;
  arg->off = NALA_MEM_MODEL;
  return nala_graph_weights(g, L->w, want, &arg->memory, err);
}

static nala_status add_layer_op(nala_graph *g, dnnl_primitive_desc_t pd, const nala_layer *L, size_t src, size_t dst,
                                int bucket, nala_err *err) {
  nala_dnnl_arg args[4] = {
      {DNNL_ARG_SRC, src, NULL}, {DNNL_ARG_DST, dst, NULL}, {0}, {DNNL_ARG_BIAS, NALA_MEM_MODEL, L->b}};
  nala_status st = weights_for(g, pd, L, &args[2], err);
  if (st) {
    dnnl_primitive_desc_destroy(pd);
    return st;
  }
  return nala_graph_add_dnnl(g, pd, args, 4, bucket, err);
}

static nala_status conv_op(nala_graph *g, const nala_layer *L, int n, int h, int w, size_t src, int ld_src,
                           size_t dst, int ld_dst, int posts, int bucket, nala_err *err) {
  if (n <= 1 && L->kind == NALA_LAYER_CONV && L->banded) {
    int planned = 0;
    NALA_CHECK(nala_banded_conv_op(g, L, h, w, src, ld_src, dst, ld_dst, posts, bucket, &planned, err));
    if (planned)
      return NALA_OK;
  }
  nala_conv_shape s = L->conv;
  s.n = n, s.h = h, s.w = w, s.ld_src = ld_src, s.ld_dst = ld_dst;
  posts |= L->act;
  nala_status (*make)(dnnl_engine_t, const nala_conv_shape *, const dnnl_memory_desc_t *, int,
                      dnnl_primitive_desc_t *, nala_err *) =
      L->kind == NALA_LAYER_DECONV ? nala_deconv_pd : nala_conv_pd;
  /* With the model's weights format when oneDNN has a fast implementation for it at this size,
   * otherwise with the format oneDNN prefers here (weights_for reorders). */
  dnnl_primitive_desc_t pd;
  NALA_CHECK(make(g->engine, &s, &L->wmd, posts, &pd, err));
  if (nala_dnnl_is_ref(pd)) {
    dnnl_primitive_desc_destroy(pd);
    NALA_CHECK(make(g->engine, &s, NULL, posts, &pd, err));
  }
  if (nala_dnnl_is_ref(pd) && n <= 1 && ld_dst > 0 && ld_dst != s.oc && !(posts & NALA_POST_SUM)) {
    /* oneDNN 2.6 has no fast conv into a channel slice (ref:any, far slower): convolve into a
     * dense region, then copy into the slice. */
    dnnl_primitive_desc_destroy(pd);
    int oh, ow;
    nala_layer_out_size(L, h, w, &oh, &ow);
    nala_feat dense = nala_graph_feat(g, s.oc, oh, ow);
    nala_feat slice = {.c = s.oc, .h = oh, .w = ow, .off = dst, .ld = ld_dst};
    NALA_CHECK(nala_conv_op(g, L, h, w, src, ld_src, dense.off, 0, posts, bucket, err));
    return nala_copy_op(g, &dense, &slice, bucket, err);
  }
  return add_layer_op(g, pd, L, src, dst, bucket, err);
}

nala_status nala_conv_op(nala_graph *g, const nala_layer *L, int h, int w, size_t src, int ld_src, size_t dst,
                         int ld_dst, int posts, int bucket, nala_err *err) {
  return conv_op(g, L, 1, h, w, src, ld_src, dst, ld_dst, posts, bucket, err);
}

nala_status nala_conv_op_rows(nala_graph *g, const nala_layer *L, int h, int w, int r0, int r1, size_t src,
                              size_t dst, int posts, int bucket, nala_err *err) {
  if (L->kind != NALA_LAYER_CONV || L->conv.stride != 1 || r0 < 0 || r1 > h || r0 >= r1)
    return nala_fail(err, NALA_E_ARG, "conv rows [%d, %d) of a %d-row map (stride %d): not a stride-1 conv band", r0,
                     r1, h, L->conv.stride);
  int pad = L->conv.k / 2;
  int in0 = r0 - pad > 0 ? r0 - pad : 0, in1 = r1 + pad < h ? r1 + pad : h;
  nala_conv_shape s = L->conv;
  s.n = 1, s.h = in1 - in0, s.w = w, s.ld_src = s.ld_dst = 0;
  posts |= L->act;
  int pad_t = pad - (r0 - in0);
  dnnl_primitive_desc_t pd;
  NALA_CHECK(nala_conv_rows_pd(g->engine, &s, r1 - r0, pad_t, &L->wmd, posts, &pd, err));
  if (nala_dnnl_is_ref(pd)) {
    dnnl_primitive_desc_destroy(pd);
    NALA_CHECK(nala_conv_rows_pd(g->engine, &s, r1 - r0, pad_t, NULL, posts, &pd, err));
  }
  return add_layer_op(g, pd, L, src + (size_t)in0 * w * L->conv.ic * sizeof(float), dst, bucket, err);
}

nala_status nala_conv_op_batch(nala_graph *g, const nala_layer *L, int n, int h, int w, size_t src, size_t dst,
                               int posts, int bucket, nala_err *err) {
  if (n <= 0)
    return nala_fail(err, NALA_E_ARG, "conv: batch of %d maps", n);
  return conv_op(g, L, n, h, w, src, 0, dst, 0, posts, bucket, err);
}

nala_status nala_linear_op(nala_graph *g, const nala_layer *L, int rows, size_t src, int ld_src, size_t dst,
                           int ld_dst, int posts, int bucket, nala_err *err) {
  int lda = ld_src > 0 ? ld_src : L->in, ldc = ld_dst > 0 ? ld_dst : L->out;
  posts |= L->act;
  dnnl_primitive_desc_t pd;
  NALA_CHECK(nala_matmul_pd(g->engine, rows, L->in, L->out, lda, ldc, &L->wmd, posts, &pd, err));
  if (nala_dnnl_is_ref(pd)) {
    dnnl_primitive_desc_destroy(pd);
    NALA_CHECK(nala_matmul_pd(g->engine, rows, L->in, L->out, lda, ldc, NULL, posts, &pd, err));
  }
  return add_layer_op(g, pd, L, src, dst, bucket, err);
}
