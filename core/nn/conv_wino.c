/* nala's Winograd 3x3 convolutions in bands of rows (see conv_wino.h). */
#include "core/nn/conv_wino.h"

#include <stddef.h>
#include <stdint.h>

#include "core/nn/conv_banded.h"

/* V + M of one band stay below this, or below 1 / WINO_WEIGHTS_PER_BAND of U when that is more:
 * every band streams all of U (36 x ic x oc floats, 37.7 MB at 512 -> 512), so where U outweighs the
 * band's data, fewer, taller bands read it fewer times (conv_banded.c measured the same for
 * oneDNN's Winograd). */
#define WINO_BAND_BYTES ((size_t)6 << 20)
#define WINO_WEIGHTS_PER_BAND 2

typedef struct wino_in_args {
  nala_wino_band b;
  nala_wino_in_fn fn;
  size_t src, v; /* workspace byte offsets (v in the temporary area) */
} wino_in_args;

typedef struct wino_out_args {
  nala_wino_band b;
  nala_wino_out_fn fn;
  size_t m, dst;
  const float *bias; /* the model's (immutable) */
} wino_out_args;

/* Threads take equal runs of tiles: each writes its own tiles' V rows / output pixels. */
static nala_status run_in(const void *p, char *ws, int nthreads, nala_err *err) {
  (void)err;
  const wino_in_args *a = p;
  const float *src = (const float *)(ws + a->src);
  float *v = (float *)(ws + a->v);
  int n = a->b.tiles;
  if (nthreads <= 1) {
    a->fn(&a->b, src, v, 0, n);
    return NALA_OK;
  }
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int t = 0; t < nthreads; t++)
    a->fn(&a->b, src, v, (int)((long)n * t / nthreads), (int)((long)n * (t + 1) / nthreads));
  return NALA_OK;
}

static nala_status run_out(const void *p, char *ws, int nthreads, nala_err *err) {
  (void)err;
  const wino_out_args *a = p;
  const float *m = (const float *)(ws + a->m);
  float *dst = (float *)(ws + a->dst);
  int n = a->b.tiles;
  if (nthreads <= 1) {
    a->fn(&a->b, m, a->bias, dst, 0, n);
    return NALA_OK;
  }
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int t = 0; t < nthreads; t++)
    a->fn(&a->b, m, a->bias, dst, (int)((long)n * t / nthreads), (int)((long)n * (t + 1) / nthreads));
  return NALA_OK;
}

/* The 36 GEMMs of a band of `tiles` tiles: [36][tiles][ic] x [36][ic][oc] -> [36][tiles][oc]. */
static nala_status gemm_pd(dnnl_engine_t eng, int tiles, int ic, int oc, dnnl_primitive_desc_t *pd, nala_err *err) {
  dnnl_dims_t sdims = {NALA_WINO_POINTS, tiles, ic}, wdims = {NALA_WINO_POINTS, ic, oc},
              ddims = {NALA_WINO_POINTS, tiles, oc};
  dnnl_memory_desc_t src, wei, dst;
  dnnl_memory_desc_init_by_tag(&src, 3, sdims, dnnl_f32, dnnl_abc);
  dnnl_memory_desc_init_by_tag(&wei, 3, wdims, dnnl_f32, dnnl_abc);
  dnnl_memory_desc_init_by_tag(&dst, 3, ddims, dnnl_f32, dnnl_abc);
  dnnl_matmul_desc_t desc;
  NALA_DNNL(dnnl_matmul_desc_init(&desc, &src, &wei, NULL, &dst), err);
  dnnl_primitive_attr_t attr;
  NALA_DNNL(dnnl_primitive_attr_create(&attr), err);
  dnnl_status_t ds = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
  if (ds == dnnl_success)
    ds = dnnl_primitive_desc_create(pd, &desc, attr, eng, NULL);
  dnnl_primitive_attr_destroy(attr);
  if (ds != dnnl_success)
    return nala_dnnl_status(ds, "Winograd matmul", err);
  return NALA_OK;
}

static void u_md(const nala_layer *L, dnnl_memory_desc_t *md) {
  dnnl_dims_t dims = {NALA_WINO_POINTS, L->conv.ic, L->conv.oc};
  dnnl_memory_desc_init_by_tag(md, 3, dims, dnnl_f32, dnnl_abc);
}

static void fill_u(const float *oihw, float *u, const void *ctx) {
  const nala_layer *L = ctx;
  nala_wino_weights(oihw, L->conv.ic, L->conv.oc, u);
}

/* The three ops of band b: transforms around the 36 GEMMs, V and M at temporary offsets v, m. */
static nala_status plan_band(nala_graph *g, const nala_layer *L, nala_wino_fns fns, const nala_wino_band *b,
                             size_t src, size_t dst, size_t v, size_t m, dnnl_memory_t u, int bucket, nala_err *err) {
  const float *bias = NULL;
  if (L->b)
    NALA_DNNL(dnnl_memory_get_data_handle(L->b, (void **)&bias), err);
  wino_in_args in = {.b = *b, .fn = fns.in, .src = src, .v = v};
  const size_t in_fields[2] = {offsetof(wino_in_args, src), offsetof(wino_in_args, v)};
  NALA_CHECK(nala_graph_add_kernel_temp(g, run_in, &in, sizeof in, in_fields, 2, bucket, err));
  dnnl_primitive_desc_t pd;
  NALA_CHECK(gemm_pd(g->engine, b->tiles, L->conv.ic, L->conv.oc, &pd, err));
  nala_dnnl_arg args[3] = {{DNNL_ARG_SRC, v, NULL}, {DNNL_ARG_WEIGHTS, NALA_MEM_MODEL, u}, {DNNL_ARG_DST, m, NULL}};
  NALA_CHECK(nala_graph_add_dnnl(g, pd, args, 3, bucket, err));
  wino_out_args out = {.b = *b, .fn = fns.out, .m = m, .dst = dst, .bias = bias};
  const size_t out_fields[2] = {offsetof(wino_out_args, m), offsetof(wino_out_args, dst)};
  return nala_graph_add_kernel_temp(g, run_out, &out, sizeof out, out_fields, 2, bucket, err);
}

/* 1 when L fits the transforms with posts (L->act included): 3x3, stride 1, channels multiples of 8. */
static int fits(const nala_layer *L, int posts) {
  return L->kind == NALA_LAYER_CONV && L->conv.k == 3 && L->conv.stride == 1 && L->conv.groups == 1 &&
         L->conv.ic % 8 == 0 && L->conv.oc % 8 == 0 && !(posts & ~(NALA_POST_SUM | NALA_POST_RELU));
}

/* U for L in this plan (made on first use); *ok = 0 when oneDNN's matmul for `tiles` would be a
 * reference implementation (then nothing is made). */
static nala_status weights_for(nala_graph *g, const nala_layer *L, int tiles, dnnl_memory_t *u, int *ok,
                               nala_err *err) {
  dnnl_primitive_desc_t probe;
  nala_err quiet;
  *ok = 0;
  if (gemm_pd(g->engine, tiles, L->conv.ic, L->conv.oc, &probe, &quiet) != NALA_OK)
    return NALA_OK;
  int is_ref = nala_dnnl_is_ref(probe);
  dnnl_primitive_desc_destroy(probe);
  if (is_ref)
    return NALA_OK;
  dnnl_memory_desc_t umd, plain_md;
  u_md(L, &umd);
  nala_conv_torch_md(&L->conv, &plain_md);
  NALA_CHECK(nala_graph_weights_derived(g, L->w, &plain_md, &umd, fill_u, L, u, err));
  *ok = 1;
  return NALA_OK;
}

int nala_wino_band_rows(const nala_layer *L, int h, int w) {
  size_t tiles_w = (size_t)(w + NALA_WINO_TILE - 1) / NALA_WINO_TILE;
  size_t tile_row = (size_t)NALA_WINO_POINTS * sizeof(float) * (size_t)(L->conv.ic + L->conv.oc) * tiles_w;
  size_t u_bytes = (size_t)NALA_WINO_POINTS * sizeof(float) * L->conv.ic * L->conv.oc;
  size_t budget = u_bytes / WINO_WEIGHTS_PER_BAND > WINO_BAND_BYTES ? u_bytes / WINO_WEIGHTS_PER_BAND : WINO_BAND_BYTES;
  size_t k = budget / (tile_row ? tile_row : 1);
  int rows = NALA_WINO_TILE * (int)(k < 1 ? 1 : k > (size_t)h ? (size_t)h : k);
  return rows < h ? rows : h;
}

nala_status nala_wino_conv_op(nala_graph *g, const nala_layer *L, nala_wino_fns fns, int h, int w, size_t src,
                              int ld_src, size_t dst, int ld_dst, int posts, int bucket, int *planned, nala_err *err) {
  *planned = 0;
  posts |= L->act;
  int ic = L->conv.ic, oc = L->conv.oc;
  if (!fits(L, posts) || h < NALA_BANDED_MIN_HW || w < NALA_BANDED_MIN_HW)
    return NALA_OK;
  dnnl_memory_desc_t umd;
  u_md(L, &umd);
  if ((size_t)h * w < NALA_BANDED_MIN_PIXELS && !nala_graph_holds_weights(g, L->w, &umd))
    return NALA_OK; /* a small map pays only when its weights cost nothing new */
  int rows = nala_wino_band_rows(L, h, w), tiles_w = (w + NALA_WINO_TILE - 1) / NALA_WINO_TILE;
  int band_tiles = (rows + NALA_WINO_TILE - 1) / NALA_WINO_TILE * tiles_w;
  /* the matmul must be a real GEMM here, checked before any op is added */
  dnnl_memory_t u = NULL;
  int ok = 0;
  NALA_CHECK(weights_for(g, L, band_tiles, &u, &ok, err));
  if (!ok)
    return NALA_OK;
  size_t v_bytes = (size_t)NALA_WINO_POINTS * band_tiles * ic * sizeof(float);
  size_t v = nala_graph_temp(g, 0, v_bytes);
  size_t m = nala_graph_temp(g, v_bytes, (size_t)NALA_WINO_POINTS * band_tiles * oc * sizeof(float));
  for (int r0 = 0; r0 < h; r0 += rows) {
    int r1 = r0 + rows < h ? r0 + rows : h;
    nala_wino_band b = {.h = h, .w = w, .r0 = r0, .r1 = r1, .tiles_w = tiles_w,
                        .tiles = (r1 - r0 + NALA_WINO_TILE - 1) / NALA_WINO_TILE * tiles_w, .c = ic,
                        .ld_src = ld_src > 0 ? ld_src : ic, .k = oc, .ld_dst = ld_dst > 0 ? ld_dst : oc,
                        .sum = !!(posts & NALA_POST_SUM), .relu = !!(posts & NALA_POST_RELU)};
    NALA_CHECK(plan_band(g, L, fns, &b, src, dst, v, m, u, bucket, err));
  }
  *planned = 1;
  return NALA_OK;
}

nala_status nala_wino_conv_op_batch(nala_graph *g, const nala_layer *L, nala_wino_fns fns, int n, int h, int w,
                                    int chunk, size_t src, size_t dst, int posts, size_t count_off, int bucket,
                                    int *planned, nala_err *err) {
  *planned = 0;
  posts |= L->act;
  if (!fits(L, posts) || n <= 0 || chunk <= 0 || h < NALA_BANDED_MIN_HW || w < NALA_BANDED_MIN_HW)
    return NALA_OK;
  chunk = n < chunk ? n : chunk;
  int tiles_w = (w + NALA_WINO_TILE - 1) / NALA_WINO_TILE, map_tiles = (h + NALA_WINO_TILE - 1) / NALA_WINO_TILE * tiles_w;
  dnnl_memory_t u = NULL;
  int ok = 0;
  NALA_CHECK(weights_for(g, L, chunk * map_tiles, &u, &ok, err));
  if (!ok)
    return NALA_OK;
  size_t v_bytes = (size_t)NALA_WINO_POINTS * chunk * map_tiles * L->conv.ic * sizeof(float);
  size_t v = nala_graph_temp(g, 0, v_bytes);
  size_t m = nala_graph_temp(g, v_bytes, (size_t)NALA_WINO_POINTS * chunk * map_tiles * L->conv.oc * sizeof(float));
  for (int j = 0; j < n; j += chunk) {
    int first = g->n_ops, maps = n - j < chunk ? n - j : chunk;
    nala_wino_band b = {.h = n * h, .w = w, .r0 = j * h, .r1 = (j + maps) * h, .map_h = h, .tiles_w = tiles_w,
                        .tiles = maps * map_tiles, .c = L->conv.ic, .ld_src = L->conv.ic, .k = L->conv.oc,
                        .ld_dst = L->conv.oc, .sum = !!(posts & NALA_POST_SUM), .relu = !!(posts & NALA_POST_RELU)};
    NALA_CHECK(plan_band(g, L, fns, &b, src, dst, v, m, u, bucket, err));
    NALA_CHECK(nala_graph_gate_since(g, first, count_off, j, INT32_MAX, err)); /* runs when map j is counted */
  }
  *planned = 1;
  return NALA_OK;
}
