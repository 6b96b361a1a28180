#include "core/nn/dnnl_util.h"

#include <string.h>

nala_status nala_dnnl_status(dnnl_status_t st, const char *what, nala_err *err) {
  const char *name = "unknown";
  switch (st) {
  case dnnl_out_of_memory: return nala_fail(err, NALA_E_NOMEM, "oneDNN: out of memory in %s", what);
  case dnnl_invalid_arguments: name = "invalid arguments"; break;
  case dnnl_unimplemented: name = "unimplemented"; break;
  case dnnl_runtime_error: name = "runtime error"; break;
  default: break;
  }
  return nala_fail(err, NALA_E_BACKEND, "oneDNN: %s (status %d) in %s", name, (int)st, what);
}

/* NHWC with ld floats between pixels (ld > c: a channel slice of a wider map); n images (0 = 1)
 * one after another. */
static void nhwc_md(dnnl_memory_desc_t *md, int n, int c, int h, int w, int ld) {
  dnnl_dims_t dims = {n > 0 ? n : 1, c, h, w};
  if (ld <= 0 || ld == c) {
    dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_nhwc);
    return;
  }
  dnnl_dims_t strides = {(dnnl_dim_t)h * w * ld, 1, (dnnl_dim_t)w * ld, ld};
  dnnl_memory_desc_init_by_strides(md, 4, dims, dnnl_f32, strides);
}

static nala_status make_attr(int posts, dnnl_primitive_attr_t *attr, nala_err *err) {
  NALA_DNNL(dnnl_primitive_attr_create(attr), err);
  /* User scratchpad: the context carves it from its workspace, so one primitive may run in many
   * contexts (threads) at once. */
  NALA_DNNL(dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user), err);
  if (posts == NALA_POST_NONE)
    return NALA_OK;
  dnnl_post_ops_t po;
  NALA_DNNL(dnnl_post_ops_create(&po), err);
  dnnl_status_t st = dnnl_success;
  if (posts & NALA_POST_SUM)
    st = dnnl_post_ops_append_sum(po, 1.0f);
  if (st == dnnl_success && (posts & NALA_POST_GELU))
    st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_erf, 0.f, 0.f);
  if (st == dnnl_success && (posts & NALA_POST_RELU))
    st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.f, 0.f);
  if (st == dnnl_success && (posts & NALA_POST_SWISH))
    st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_swish, 1.f, 0.f);
  if (st == dnnl_success)
    st = dnnl_primitive_attr_set_post_ops(*attr, po);
  dnnl_post_ops_destroy(po);
  if (st != dnnl_success) {
    dnnl_primitive_attr_destroy(*attr);
    return nala_dnnl_status(st, "post-ops", err);
  }
  return NALA_OK;
}

static nala_status create_pd(const void *desc, int posts, dnnl_engine_t eng, dnnl_primitive_desc_t *pd,
                             nala_err *err) {
  dnnl_primitive_attr_t attr;
  NALA_CHECK(make_attr(posts, &attr, err));
  dnnl_status_t st = dnnl_primitive_desc_create(pd, desc, attr, eng, NULL);
  dnnl_primitive_attr_destroy(attr);
  if (st != dnnl_success)
    return nala_dnnl_status(st, "dnnl_primitive_desc_create", err);
  return NALA_OK;
}

void nala_conv_torch_md(const nala_conv_shape *s, dnnl_memory_desc_t *md) {
  if (s->groups > 1) {
    dnnl_dims_t dims = {s->groups, s->oc / s->groups, s->ic / s->groups, s->k, s->k};
    dnnl_memory_desc_init_by_tag(md, 5, dims, dnnl_f32, dnnl_goihw);
  } else {
    dnnl_dims_t dims = {s->oc, s->ic, s->k, s->k};
    dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_oihw);
  }
}

/* Conv of s with oh output rows, pad_t rows of zeros above the input (the bottom padding is what
 * the last output row touches). */
static nala_status conv_pd_rows(dnnl_engine_t eng, const nala_conv_shape *s, int oh, int pad_t,
                                const dnnl_memory_desc_t *wfmt, int posts, dnnl_primitive_desc_t *pd, nala_err *err) {
  int ow = (s->w + s->stride - 1) / s->stride;
  dnnl_memory_desc_t src, wei, bias, dst;
  nhwc_md(&src, s->n, s->ic, s->h, s->w, s->ld_src);
  nhwc_md(&dst, s->n, s->oc, oh, ow, s->ld_dst);
  if (wfmt) {
    wei = *wfmt;
  } else if (s->groups > 1) {
    dnnl_dims_t dims = {s->groups, s->oc / s->groups, s->ic / s->groups, s->k, s->k};
    dnnl_memory_desc_init_by_tag(&wei, 5, dims, dnnl_f32, dnnl_format_tag_any);
  } else {
    dnnl_dims_t dims = {s->oc, s->ic, s->k, s->k};
    dnnl_memory_desc_init_by_tag(&wei, 4, dims, dnnl_f32, dnnl_format_tag_any);
  }
  dnnl_dims_t bdims = {s->oc};
  dnnl_memory_desc_init_by_tag(&bias, 1, bdims, dnnl_f32, dnnl_a);
  /* PyTorch's padding k/2 on every side; the far side needs only what the last output touches. */
  int pad = s->k / 2;
  dnnl_dims_t strides = {s->stride, s->stride}, pad_l = {pad_t, pad};
  dnnl_dims_t pad_r = {(oh - 1) * s->stride + s->k - s->h - pad_t, (ow - 1) * s->stride + s->k - s->w - pad};
  dnnl_convolution_desc_t desc;
  NALA_DNNL(dnnl_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_direct, &src, &wei,
                                               &bias, &dst, strides, pad_l, pad_r),
            err);
  return create_pd(&desc, posts, eng, pd, err);
}

nala_status nala_conv_pd(dnnl_engine_t eng, const nala_conv_shape *s, const dnnl_memory_desc_t *wfmt, int posts,
                         dnnl_primitive_desc_t *pd, nala_err *err) {
  return conv_pd_rows(eng, s, (s->h + s->stride - 1) / s->stride, s->k / 2, wfmt, posts, pd, err);
}

nala_status nala_conv_rows_pd(dnnl_engine_t eng, const nala_conv_shape *s, int oh, int pad_t,
                              const dnnl_memory_desc_t *wfmt, int posts, dnnl_primitive_desc_t *pd, nala_err *err) {
  if (s->stride != 1 || oh < 1 || pad_t < 0 || pad_t > s->k / 2 || oh + s->k - 1 - pad_t < s->h ||
      oh + s->k - 1 - pad_t - s->h > s->k / 2)
    return nala_fail(err, NALA_E_ARG, "conv rows: %d output rows from %d input rows, padding %d on top (k %d, stride %d)",
                     oh, s->h, pad_t, s->k, s->stride);
  return conv_pd_rows(eng, s, oh, pad_t, wfmt, posts, pd, err);
}

nala_status nala_conv_band_pd(dnnl_engine_t eng, int winograd, int n, int ic, int oc, int ih, int oh, int w,
                              int pad_t, int pad_b, int posts, dnnl_primitive_desc_t *pd, nala_err *err) {
  dnnl_memory_desc_t src, wei, bias, dst;
  dnnl_format_tag_t tag = winograd ? dnnl_nChw16c : dnnl_nChw8c;
  dnnl_dims_t sdims = {n, ic, ih, w}, ddims = {n, oc, oh, w}, wdims = {oc, ic, 3, 3}, bdims = {oc};
  dnnl_memory_desc_init_by_tag(&src, 4, sdims, dnnl_f32, tag);
  dnnl_memory_desc_init_by_tag(&dst, 4, ddims, dnnl_f32, tag);
  dnnl_memory_desc_init_by_tag(&wei, 4, wdims, dnnl_f32, dnnl_format_tag_any);
  dnnl_memory_desc_init_by_tag(&bias, 1, bdims, dnnl_f32, dnnl_a);
  dnnl_dims_t strides = {1, 1}, pad_l = {pad_t, 1}, pad_r = {pad_b, 1};
  dnnl_convolution_desc_t desc;
  if (dnnl_convolution_forward_desc_init(&desc, dnnl_forward_inference,
                                         winograd ? dnnl_convolution_winograd : dnnl_convolution_direct, &src, &wei,
                                         &bias, &dst, strides, pad_l, pad_r) != dnnl_success)
    return nala_fail(err, NALA_E_UNSUPPORTED, "blocked conv %d -> %d: no convolution descriptor", ic, oc);
  dnnl_primitive_attr_t attr;
  NALA_CHECK(make_attr(posts, &attr, err));
  dnnl_primitive_desc_iterator_t it = NULL;
  dnnl_status_t ds = dnnl_primitive_desc_iterator_create(&it, &desc, attr, eng, NULL);
  dnnl_primitive_attr_destroy(attr);
  *pd = NULL;
  while (ds == dnnl_success) {
    dnnl_primitive_desc_t cand = dnnl_primitive_desc_iterator_fetch(it);
    const char *impl = cand ? nala_dnnl_impl(cand) : "";
    if (cand && (winograd ? strstr(impl, "wino_4x3") != NULL : !nala_dnnl_is_ref(cand))) {
      *pd = cand;
      break;
    }
    if (cand)
      dnnl_primitive_desc_destroy(cand);
    ds = dnnl_primitive_desc_iterator_next(it);
  }
  if (it)
    dnnl_primitive_desc_iterator_destroy(it);
  if (!*pd)
    return nala_fail(err, NALA_E_UNSUPPORTED, "%s %d -> %d (%d rows of %d): oneDNN has no fast implementation here",
                     winograd ? "Winograd" : "blocked direct conv", ic, oc, oh, w);
  return NALA_OK;
}

nala_status nala_reorder_pd(dnnl_engine_t eng, const dnnl_memory_desc_t *src_md, const dnnl_memory_desc_t *dst_md,
                            int sum, dnnl_primitive_desc_t *pd, nala_err *err) {
  dnnl_primitive_attr_t attr;
  NALA_CHECK(make_attr(sum ? NALA_POST_SUM : NALA_POST_NONE, &attr, err));
  dnnl_status_t ds = dnnl_reorder_primitive_desc_create(pd, src_md, eng, dst_md, eng, attr);
  dnnl_primitive_attr_destroy(attr);
  if (ds != dnnl_success)
    return nala_dnnl_status(ds, "dnnl_reorder_primitive_desc_create", err);
  return NALA_OK;
}

nala_status nala_deconv_pd(dnnl_engine_t eng, const nala_conv_shape *s, const dnnl_memory_desc_t *wfmt, int posts,
                           dnnl_primitive_desc_t *pd, nala_err *err) {
  int oh = (s->h - 1) * s->stride + s->k, ow = (s->w - 1) * s->stride + s->k;
  dnnl_memory_desc_t src, wei, bias, dst;
  nhwc_md(&src, s->n, s->ic, s->h, s->w, s->ld_src);
  nhwc_md(&dst, s->n, s->oc, oh, ow, s->ld_dst);
  dnnl_dims_t wdims = {s->oc, s->ic, s->k, s->k};
  if (wfmt)
    wei = *wfmt;
  else
    dnnl_memory_desc_init_by_tag(&wei, 4, wdims, dnnl_f32, dnnl_format_tag_any);
  dnnl_dims_t bdims = {s->oc};
  dnnl_memory_desc_init_by_tag(&bias, 1, bdims, dnnl_f32, dnnl_a);
  dnnl_dims_t strides = {s->stride, s->stride}, pad = {0, 0};
  dnnl_deconvolution_desc_t desc;
  NALA_DNNL(dnnl_deconvolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_deconvolution_direct, &src,
                                                 &wei, &bias, &dst, strides, pad, pad),
            err);
  return create_pd(&desc, posts, eng, pd, err);
}

void nala_linear_torch_md(int k, int n, dnnl_memory_desc_t *md) {
  /* nn.Linear stores [out, in] row-major: as the [k, n] weights matrix that is format "ba". */
  dnnl_dims_t dims = {k, n};
  dnnl_memory_desc_init_by_tag(md, 2, dims, dnnl_f32, dnnl_ba);
}

/* Matmul of nd-dimensional src [.., m, k] and dst [.., m, n] with the given strides, weights [.., k, n]
 * in wfmt (NULL: the format oneDNN prefers) and a bias broadcast over every dimension but n. */
static nala_status matmul_pd_nd(dnnl_engine_t eng, int nd, const dnnl_dims_t sdims, const dnnl_dims_t sstr,
                                const dnnl_dims_t ddims, const dnnl_dims_t dstr, const dnnl_dims_t wdims,
                                const dnnl_dims_t bdims, const dnnl_memory_desc_t *wfmt, int posts,
                                dnnl_primitive_desc_t *pd, nala_err *err) {
  dnnl_memory_desc_t src, wei, bias, dst;
  dnnl_memory_desc_init_by_strides(&src, nd, sdims, dnnl_f32, sstr);
  dnnl_memory_desc_init_by_strides(&dst, nd, ddims, dnnl_f32, dstr);
  if (wfmt)
    wei = *wfmt;
  else
    dnnl_memory_desc_init_by_tag(&wei, nd, wdims, dnnl_f32, dnnl_format_tag_any);
  dnnl_memory_desc_init_by_tag(&bias, nd, bdims, dnnl_f32, nd == 2 ? dnnl_ab : dnnl_abc);
  dnnl_matmul_desc_t desc;
  NALA_DNNL(dnnl_matmul_desc_init(&desc, &src, &wei, &bias, &dst), err);
  return create_pd(&desc, posts, eng, pd, err);
}

nala_status nala_matmul_pd(dnnl_engine_t eng, int m, int k, int n, int lda, int ldc,
                           const dnnl_memory_desc_t *wfmt, int posts, dnnl_primitive_desc_t *pd, nala_err *err) {
  dnnl_dims_t sdims = {m, k}, sstr = {lda, 1}, ddims = {m, n}, dstr = {ldc, 1}, wdims = {k, n}, bdims = {1, n};
  return matmul_pd_nd(eng, 2, sdims, sstr, ddims, dstr, wdims, bdims, wfmt, posts, pd, err);
}

nala_status nala_dnnl_reorder_new(dnnl_engine_t eng, const dnnl_memory_desc_t *src_md, const float *src,
                                  const dnnl_memory_desc_t *dst_md, dnnl_memory_t *out, nala_err *err) {
  dnnl_memory_t src_mem = NULL, dst_mem = NULL;
  dnnl_primitive_desc_t rpd = NULL;
  dnnl_primitive_t reorder = NULL;
  dnnl_stream_t stream = NULL;
  nala_status st = NALA_OK;
  dnnl_status_t ds = dnnl_memory_create(&src_mem, src_md, eng, (void *)src);
  if (ds == dnnl_success)
    ds = dnnl_memory_create(&dst_mem, dst_md, eng, DNNL_MEMORY_ALLOCATE);
  if (ds == dnnl_success)
    ds = dnnl_reorder_primitive_desc_create(&rpd, src_md, eng, dst_md, eng, NULL);
  if (ds == dnnl_success)
    ds = dnnl_primitive_create(&reorder, rpd);
  if (ds == dnnl_success)
    ds = dnnl_stream_create(&stream, eng, dnnl_stream_default_flags);
  if (ds == dnnl_success) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src_mem}, {DNNL_ARG_TO, dst_mem}};
    ds = dnnl_primitive_execute(reorder, stream, 2, args);
  }
  if (ds == dnnl_success)
    ds = dnnl_stream_wait(stream);
  if (ds != dnnl_success) {
    st = nala_dnnl_status(ds, "weights reorder", err);
    dnnl_memory_destroy(dst_mem);
    dst_mem = NULL;
  }
  if (stream)
    dnnl_stream_destroy(stream);
  if (reorder)
    dnnl_primitive_destroy(reorder);
  if (rpd)
    dnnl_primitive_desc_destroy(rpd);
  dnnl_memory_destroy(src_mem);
  *out = dst_mem;
  return st;
}

const char *nala_dnnl_impl(const_dnnl_primitive_desc_t pd) {
  const char *name = NULL;
  if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success || !name)
    return "?";
  return name;
}

int nala_dnnl_is_ref(const_dnnl_primitive_desc_t pd) { return !strncmp(nala_dnnl_impl(pd), "ref", 3); }

nala_status nala_matmul_batch_pd(dnnl_engine_t eng, int batch, int m, int k, int n, const int64_t *src_strides,
                                 const int64_t *dst_strides, const dnnl_memory_desc_t *wfmt, int posts,
                                 dnnl_primitive_desc_t *pd, nala_err *err) {
  dnnl_dims_t sdims = {batch, m, k}, ddims = {batch, m, n}, wdims = {1, k, n}, bdims = {1, 1, n};
  dnnl_dims_t sstr = {src_strides[0], src_strides[1], src_strides[2]};
  dnnl_dims_t dstr = {dst_strides[0], dst_strides[1], dst_strides[2]};
  return matmul_pd_nd(eng, 3, sdims, sstr, ddims, dstr, wdims, bdims, wfmt, posts, pd, err);
}
