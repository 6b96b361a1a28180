/* Winograd 3x3 convolutions on a counted batch of small maps, in chunks (see conv_batch_wino.h). */
#include "core/nn/conv_batch_wino.h"

#include <stdint.h>

#include "core/nn/conv_banded.h"
#include "core/nn/conv_wino.h"

static void nhwc(dnnl_memory_desc_t *md, int n, int c, int h, int w) {
  dnnl_dims_t dims = {n, c, h, w};
  dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_nhwc);
}

static void blocked16(dnnl_memory_desc_t *md, int n, int c, int h, int w) {
  dnnl_dims_t dims = {n, c, h, w};
  dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_nChw16c);
}

static nala_status wino_pd(nala_graph *g, const nala_layer *L, int maps, int h, int w, int posts,
                           dnnl_primitive_desc_t *pd, nala_err *err) {
  return nala_conv_band_pd(g->engine, 1, maps, L->conv.ic, L->conv.oc, h, h, w, 1, 1, posts, pd, err);
}

/* The three ops of maps [j, j + maps); blk_src / blk_dst are the chunk buffers. */
static nala_status plan_chunk(nala_graph *g, const nala_layer *L, int j, int maps, int h, int w, size_t src,
                              size_t dst, int posts, size_t blk_src, size_t blk_dst, int bucket, nala_err *err) {
  int ic = L->conv.ic, oc = L->conv.oc;
  size_t px = (size_t)h * w * sizeof(float);
  dnnl_memory_desc_t view, blk;
  nhwc(&view, maps, ic, h, w);
  blocked16(&blk, maps, ic, h, w);
  NALA_CHECK(nala_banded_add_reorder(g, &view, src + (size_t)j * px * ic, &blk, blk_src, 0, bucket, err));
  dnnl_primitive_desc_t pd;
  NALA_CHECK(wino_pd(g, L, maps, h, w, posts, &pd, err));
  NALA_CHECK(nala_banded_add_conv(g, L, pd, blk_src, blk_dst, bucket, err));
  dnnl_memory_desc_t dview, dblk;
  nhwc(&dview, maps, oc, h, w);
  blocked16(&dblk, maps, oc, h, w);
  return nala_banded_add_reorder(g, &dblk, blk_dst, &dview, dst + (size_t)j * px * oc, 0, bucket, err);
}

nala_status nala_wino_batch_conv_op(nala_graph *g, const nala_layer *L, int n, int h, int w, size_t src, size_t dst,
                                    int posts, size_t count_off, int bucket, int *planned, nala_err *err) {
  *planned = 0;
  if (L->kind == NALA_LAYER_CONV && (L->banded == NALA_BANDED_NWINO || L->banded == NALA_BANDED_NWINO_REF))
    return nala_wino_conv_op_batch(g, L, nala_wino_for(L->banded == NALA_BANDED_NWINO ? NALA_ISA_AVX2 : NALA_ISA_REF),
                                   n, h, w, NALA_WINO_BATCH_CHUNK, src, dst, posts, count_off, bucket, planned, err);
  posts |= L->act;
  if (L->kind != NALA_LAYER_CONV || L->banded != NALA_BANDED_WINO || n <= 0 || h < NALA_BANDED_MIN_HW ||
      w < NALA_BANDED_MIN_HW)
    return NALA_OK;
  int chunk = n < NALA_WINO_BATCH_CHUNK ? n : NALA_WINO_BATCH_CHUNK, tail = n % chunk;
  /* Both chunk sizes oneDNN must take as Winograd (ReLU and sum only), checked before any op is
   * added, so that a refusal falls back to NHWC instead of leaving half a plan. */
  int sizes[2] = {chunk, tail};
  for (int i = 0; i < 2; i++) {
    if (!sizes[i])
      continue;
    dnnl_primitive_desc_t pd;
    nala_err quiet;
    if (wino_pd(g, L, sizes[i], h, w, posts, &pd, &quiet) != NALA_OK)
      return NALA_OK;
    dnnl_primitive_desc_destroy(pd);
  }
  size_t src_bytes = (size_t)chunk * L->conv.ic * h * w * sizeof(float);
  size_t blk_src = nala_graph_temp(g, 0, src_bytes);
  size_t blk_dst = nala_graph_temp(g, src_bytes, (size_t)chunk * L->conv.oc * h * w * sizeof(float));
  for (int j = 0; j < n; j += chunk) {
    int first = g->n_ops, maps = n - j < chunk ? n - j : chunk;
    NALA_CHECK(plan_chunk(g, L, j, maps, h, w, src, dst, posts, blk_src, blk_dst, bucket, err));
    NALA_CHECK(nala_graph_gate_since(g, first, count_off, j, INT32_MAX, err)); /* runs when map j is counted */
  }
  *planned = 1;
  return NALA_OK;
}
