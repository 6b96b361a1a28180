/* Kernel-equals-stride transposed convolution as k strided matmuls (see upconv.h). */
#include "core/nn/upconv.h"

#include <string.h>

void nala_upconv_free(nala_upconv *u) {
  for (int dy = 0; dy < NALA_UPCONV_MAX_K; dy++)
    if (u->w_row[dy])
      dnnl_memory_destroy(u->w_row[dy]);
  if (u->w)
    dnnl_memory_destroy(u->w);
  if (u->w_mat)
    dnnl_memory_destroy(u->w_mat);
  if (u->w_all)
    dnnl_memory_destroy(u->w_all);
  if (u->b_all)
    dnnl_memory_destroy(u->b_all);
  if (u->b)
    dnnl_memory_destroy(u->b);
  nala_layer_free(&u->deconv);
  memset(u, 0, sizeof *u);
}

/* W_dy rows and the repeated bias from the loaded layer, through one reorder whose destination
 * strides put element (o, i, dy, dx) at dy*ic*k*oc + i*k*oc + dx*oc + o. */
static nala_status make_rows(const nala_rt *rt, nala_upconv *u, nala_err *err) {
  const nala_conv_shape *s = &u->deconv.conv;
  int k = s->k, ic = s->ic, oc = s->oc, N = k * oc;
  dnnl_memory_desc_t rows_md, row_md, bias_md;
  dnnl_dims_t dims = {oc, ic, k, k}, strides = {1, N, (dnnl_dim_t)ic * N, oc};
  dnnl_memory_desc_init_by_strides(&rows_md, 4, dims, dnnl_f32, strides);
  void *wdata = NULL, *bdata = NULL, *rows = NULL, *b2 = NULL;
  NALA_DNNL(dnnl_memory_get_data_handle(u->deconv.w, &wdata), err);
  NALA_CHECK(nala_dnnl_reorder_new(rt->engine, &u->deconv.wmd, wdata, &rows_md, &u->w, err));
  NALA_DNNL(dnnl_memory_get_data_handle(u->w, &rows), err);
  dnnl_dims_t row_dims = {1, ic, N}, bias_dims = {1, 1, N};
  dnnl_memory_desc_init_by_tag(&row_md, 3, row_dims, dnnl_f32, dnnl_abc);
  for (int dy = 0; dy < k; dy++)
    NALA_DNNL(dnnl_memory_create(&u->w_row[dy], &row_md, rt->engine, (float *)rows + (size_t)dy * ic * N), err);
  dnnl_memory_desc_init_by_tag(&bias_md, 3, bias_dims, dnnl_f32, dnnl_abc);
  NALA_DNNL(dnnl_memory_create(&u->b, &bias_md, rt->engine, DNNL_MEMORY_ALLOCATE), err);
  NALA_DNNL(dnnl_memory_get_data_handle(u->deconv.b, &bdata), err);
  NALA_DNNL(dnnl_memory_get_data_handle(u->b, &b2), err);
  for (int dx = 0; dx < k; dx++)
    memcpy((float *)b2 + (size_t)dx * oc, bdata, (size_t)oc * sizeof(float));
  /* W_all: element (o, i, dy, dx) at i*k*k*oc + (dy*k + dx)*oc + o, and the bias per (dy, dx) */
  dnnl_memory_desc_t all_md, mat_md, ball_md;
  dnnl_dims_t all_strides = {1, (dnnl_dim_t)k * N, N, oc};
  dnnl_memory_desc_init_by_strides(&all_md, 4, dims, dnnl_f32, all_strides);
  NALA_CHECK(nala_dnnl_reorder_new(rt->engine, &u->deconv.wmd, wdata, &all_md, &u->w_all, err));
  void *all = NULL, *ball = NULL;
  NALA_DNNL(dnnl_memory_get_data_handle(u->w_all, &all), err);
  dnnl_dims_t mat_dims = {1, ic, (dnnl_dim_t)k * N}, ball_dims = {1, 1, (dnnl_dim_t)k * N};
  dnnl_memory_desc_init_by_tag(&mat_md, 3, mat_dims, dnnl_f32, dnnl_abc);
  NALA_DNNL(dnnl_memory_create(&u->w_mat, &mat_md, rt->engine, all), err);
  dnnl_memory_desc_init_by_tag(&ball_md, 3, ball_dims, dnnl_f32, dnnl_abc);
  NALA_DNNL(dnnl_memory_create(&u->b_all, &ball_md, rt->engine, DNNL_MEMORY_ALLOCATE), err);
  NALA_DNNL(dnnl_memory_get_data_handle(u->b_all, &ball), err);
  for (int t = 0; t < k * k; t++)
    memcpy((float *)ball + (size_t)t * oc, bdata, (size_t)oc * sizeof(float));
  return NALA_OK;
}

nala_status nala_upconv_load(const nala_rt *rt, nala_weights *w, nala_upconv *u, nala_conv_shape s,
                             const char *prefix, nala_act act, nala_err *err) {
  memset(u, 0, sizeof *u);
  if (s.k != s.stride || s.k < 1 || s.k > NALA_UPCONV_MAX_K)
    return nala_fail(err, NALA_E_UNSUPPORTED, "%s: ConvTranspose2d kernel %d, stride %d (only kernel == stride <= %d)",
                     prefix, s.k, s.stride, NALA_UPCONV_MAX_K);
  NALA_CHECK(nala_deconv_load(rt, w, &u->deconv, s, prefix, act, err));
  u->k = s.k;
  nala_status st = make_rows(rt, u, err);
  if (st)
    nala_upconv_free(u);
  return st;
}

nala_status nala_upconv_op_batch(nala_graph *g, const nala_upconv *u, int n, int h, int w, size_t src, size_t dst,
                                 int bucket, nala_err *err) {
  if (n <= 0 || h <= 0 || w <= 0)
    return nala_fail(err, NALA_E_ARG, "upconv: %d maps of %dx%d", n, h, w);
  const nala_conv_shape *s = &u->deconv.conv;
  int k = u->k, ic = s->ic, oc = s->oc, N = k * oc;
  int64_t out_row = (int64_t)w * k * oc; /* floats of one output image row */
  int64_t src_str[3] = {(int64_t)w * ic, ic, 1}, dst_str[3] = {k * out_row, N, 1};
  dnnl_memory_desc_t row_md;
  dnnl_dims_t row_dims = {1, ic, N};
  dnnl_memory_desc_init_by_tag(&row_md, 3, row_dims, dnnl_f32, dnnl_abc);
  dnnl_primitive_desc_t pd;
  NALA_CHECK(nala_matmul_batch_pd(g->engine, n * h, w, ic, N, src_str, dst_str, &row_md, u->deconv.act, &pd, err));
  if (nala_dnnl_is_ref(pd)) {
    dnnl_primitive_desc_destroy(pd);
    return nala_conv_op_batch(g, &u->deconv, n, h, w, src, dst, 0, bucket, err);
  }
  for (int dy = 0; dy < k; dy++) {
    dnnl_primitive_desc_t row_pd = pd; /* the last row takes pd itself (add_dnnl destroys it) */
    if (dy + 1 < k) {
      dnnl_status_t ds = dnnl_primitive_desc_clone(&row_pd, pd);
      if (ds != dnnl_success) {
        dnnl_primitive_desc_destroy(pd);
        return nala_dnnl_status(ds, "dnnl_primitive_desc_clone", err);
      }
    }
    nala_dnnl_arg args[4] = {{DNNL_ARG_SRC, src, NULL},
                             {DNNL_ARG_DST, dst + (size_t)dy * out_row * sizeof(float), NULL},
                             {DNNL_ARG_WEIGHTS, NALA_MEM_MODEL, u->w_row[dy]},
                             {DNNL_ARG_BIAS, NALA_MEM_MODEL, u->b}};
    nala_status st = nala_graph_add_dnnl(g, row_pd, args, 4, bucket, err);
    if (st) {
      if (dy + 1 < k)
        dnnl_primitive_desc_destroy(pd);
      return st;
    }
  }
  return NALA_OK;
}

nala_status nala_upconv_op_subpixel(nala_graph *g, const nala_upconv *u, int n, int h, int w, size_t src, size_t dst,
                                    int bucket, int *planned, nala_err *err) {
  *planned = 0;
  if (n <= 0 || h <= 0 || w <= 0)
    return nala_fail(err, NALA_E_ARG, "upconv: %d maps of %dx%d", n, h, w);
  const nala_conv_shape *s = &u->deconv.conv;
  int ic = s->ic, N = u->k * u->k * s->oc, M = n * h * w;
  int64_t src_str[3] = {(int64_t)M * ic, ic, 1}, dst_str[3] = {(int64_t)M * N, N, 1};
  dnnl_memory_desc_t mat_md;
  dnnl_dims_t mat_dims = {1, ic, N};
  dnnl_memory_desc_init_by_tag(&mat_md, 3, mat_dims, dnnl_f32, dnnl_abc);
  dnnl_primitive_desc_t pd;
  NALA_CHECK(nala_matmul_batch_pd(g->engine, 1, M, ic, N, src_str, dst_str, &mat_md, u->deconv.act, &pd, err));
  if (nala_dnnl_is_ref(pd)) {
    dnnl_primitive_desc_destroy(pd);
    return NALA_OK;
  }
  nala_dnnl_arg args[4] = {{DNNL_ARG_SRC, src, NULL},
                           {DNNL_ARG_DST, dst, NULL},
                           {DNNL_ARG_WEIGHTS, NALA_MEM_MODEL, u->w_mat},
                           {DNNL_ARG_BIAS, NALA_MEM_MODEL, u->b_all}};
  NALA_CHECK(nala_graph_add_dnnl(g, pd, args, 4, bucket, err));
  *planned = 1;
  return NALA_OK;
}
