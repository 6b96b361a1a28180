/* Blocked 3x3 convolutions in bands of rows (see conv_banded.h). */
#include "core/nn/conv_banded.h"

#include "core/nn/band_pack.h"
#include "core/nn/conv_wino.h"

#include <stdint.h>
#include <string.h>

#define WINO_ALPHA 6 /* F(4x4, 3x3): 6x6 transformed tiles */
#define WINO_TILE 4
/* oneDNN's transformed input and output of one band (36 floats per tile and channel) stay below
 * this, or below 1 / WINO_WEIGHTS_PER_BAND of the transformed weights when that is more: every band
 * streams all of them (36 x ic x oc floats: 37.7 MB for 512 -> 512), so where they outweigh the
 * band's data, fewer, taller bands read them fewer times. Measured (Xeon, 1 thread, CPU time, A/B
 * in one process, loaded machine): 512 -> 512 at 128x128 with 4 / 8 / 12 / 16 / 32 / 64-row bands
 * 222-285 / 212-226 / 190-198 / 193-215 / 196-200 / 196 ms, at 64x64 with 4 / 16 / 32 rows 67 / 59
 * / 56 ms (the rule gives 16 and 32); 256 -> 256 at 128x128 or 200x272 and 128-channel maps moved
 * by under 5% from 4 to 32 rows and keep the 6 MB rule. The whole map stays slower (its scratchpad
 * alone is 195 MB at 512 -> 512, 128x128). */
#define WINO_BAND_BYTES ((size_t)6 << 20)
#define WINO_WEIGHTS_PER_BAND 2
/* Blocked direct (AVX2): the band's blocked input and output stay below this. */
#define DIRECT_BAND_BYTES ((size_t)8 << 20)

nala_banded_kind nala_banded_kind_for(const nala_rt *rt, const nala_conv_shape *s) {
  if (rt->conv == NALA_CONV_DIRECT || s->k != 3 || s->stride != 1 || s->groups != 1)
    return NALA_BANDED_NONE;
  int nala_avx2 = rt->isa >= NALA_ISA_AVX2 && nala_isa_supported(NALA_ISA_AVX2);
  /* forced, on any channel count its transforms take (multiples of 8): the parity fixtures' heads
   * (16 and 32 channels) then run through it too (ctest segmentor_wino) */
  if (rt->conv == NALA_CONV_WINO)
    return s->ic % 8 || s->oc % 8 ? NALA_BANDED_NONE : nala_avx2 ? NALA_BANDED_NWINO : NALA_BANDED_NWINO_REF;
  if (s->ic % 16 || s->oc % 16 || s->ic < NALA_BANDED_MIN_CH || s->oc < NALA_BANDED_MIN_CH)
    return NALA_BANDED_NONE;
  dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  if (isa < dnnl_cpu_isa_avx2)
    return NALA_BANDED_NONE;
  /* oneDNN 2.6 has no Winograd below AVX-512: ours does 2.25 multiplies an output where its direct
   * kernel does 9 (measured in conv_wino.h). On AVX-512 ours also beat oneDNN's jit_wino_4x3 over
   * whole models (quiet Xeon, 1 thread, A/B back to back: UperNet-T head 1084-1135 -> 967-1014 ms,
   * RetinaNet-T 1938-2074 -> 1893-1978 ms, 18-33 MB less peak RSS: NHWC bands, no reorders). */
  if (rt->conv == NALA_CONV_AUTO && nala_avx2)
    return NALA_BANDED_NWINO;
  return isa >= dnnl_cpu_isa_avx512_core ? NALA_BANDED_WINO : NALA_BANDED_DIRECT8;
}

/* Width of the blocked bands for a w-wide map. jit_wino_4x3 blocks its tiles by divisors of the
 * tile count and has no good blocking when a band's row of 4x4 tiles is a large prime like 43 (W =
 * 171, SemanticFPN at 512x683) or 41, 47: measured 3.5-4x the time per column of W = 168 or 176 (1
 * thread, 256 -> 256, 4 rows). An odd tile count from WINO_PAD_MIN_TILES up is rounded up to an even
 * one (zero columns the output reorder crops), which measured as fast per column as the widths that
 * never needed it; below, 11 or 17 tiles ran as fast unpadded and the extra columns cost up to 25%. */
#define WINO_PAD_MIN_TILES 25
static int band_width(const nala_layer *L, int w) {
  int tiles = (w + WINO_TILE - 1) / WINO_TILE;
  if (L->banded != NALA_BANDED_WINO || tiles % 2 == 0 || tiles < WINO_PAD_MIN_TILES)
    return w;
  return (tiles + 1) * WINO_TILE;
}

/* One band's rows: output [r0, r1), input [i0, i1), padding rows on top / bottom. */
typedef struct band {
  int r0, r1, i0, i1, pad_t, pad_b;
} band;

static band band_at(int r0, int rows, int h) {
  band b = {.r0 = r0, .r1 = r0 + rows < h ? r0 + rows : h};
  b.i0 = r0 > 0 ? r0 - 1 : 0;
  b.i1 = b.r1 < h ? b.r1 + 1 : h;
  b.pad_t = r0 == 0;
  b.pad_b = b.r1 == h;
  return b;
}

static nala_status band_pd(nala_graph *g, const nala_layer *L, const band *b, int w, int posts,
                           dnnl_primitive_desc_t *pd, nala_err *err) {
  return nala_conv_band_pd(g->engine, L->banded == NALA_BANDED_WINO, 1, L->conv.ic, L->conv.oc, b->i1 - b->i0,
                           b->r1 - b->r0, w, b->pad_t, b->pad_b, posts, pd, err);
}

nala_status nala_banded_add_reorder(nala_graph *g, const dnnl_memory_desc_t *from, size_t from_off,
                                    const dnnl_memory_desc_t *to, size_t to_off, int sum, int bucket, nala_err *err) {
  dnnl_primitive_desc_t pd;
  NALA_CHECK(nala_reorder_pd(g->engine, from, to, sum, &pd, err));
  nala_dnnl_arg args[2] = {{DNNL_ARG_FROM, from_off, NULL}, {DNNL_ARG_TO, to_off, NULL}};
  return nala_graph_add_dnnl(g, pd, args, 2, bucket, err);
}

nala_status nala_banded_add_conv(nala_graph *g, const nala_layer *L, dnnl_primitive_desc_t pd, size_t blk_src,
                                 size_t blk_dst, int bucket, nala_err *err) {
  dnnl_memory_t wmem = NULL;
  nala_status st = nala_graph_weights(g, L->w, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), &wmem, err);
  if (st) {
    dnnl_primitive_desc_destroy(pd);
    return st;
  }
  nala_dnnl_arg args[4] = {{DNNL_ARG_SRC, blk_src, NULL},
                           {DNNL_ARG_DST, blk_dst, NULL},
                           {DNNL_ARG_WEIGHTS, NALA_MEM_MODEL, wmem},
                           {DNNL_ARG_BIAS, NALA_MEM_MODEL, L->b}};
  NALA_CHECK(nala_graph_add_dnnl(g, pd, args, 4, bucket, err));
  return NALA_OK;
}

/* The ops of one band (see conv_banded.h); blk_src / blk_dst are the band buffers. */
static nala_status plan_band(nala_graph *g, const nala_layer *L, const band *b, int w, size_t src, int ld_src,
                             size_t dst, int ld_dst, int posts, size_t blk_src, size_t blk_dst, int bucket,
                             nala_err *err) {
  int ic = L->conv.ic, oc = L->conv.oc, rows = b->r1 - b->r0, wp = band_width(L, w);
  int blk = L->banded == NALA_BANDED_WINO ? 16 : 8;
  /* A sum with no activation after it goes into the output copy (dst += band) and saves copying
   * dst in; sum then an activation must see dst inside the convolution. */
  int sum_in_conv = (posts & NALA_POST_SUM) && (posts & (NALA_POST_RELU | NALA_POST_GELU | NALA_POST_SWISH));
  int sum_in_reorder = (posts & NALA_POST_SUM) && !sum_in_conv;
  /* the input rows, their pad columns zeroed on every run (the temporary area holds other ops' data) */
  nala_band_copy in = {.nhwc = src + (size_t)b->i0 * w * ld_src * sizeof(float), .blocked = blk_src, .c = ic,
                       .rows = b->i1 - b->i0, .w = w, .wp = wp, .ld = ld_src, .blk = blk};
  NALA_CHECK(nala_band_pack_op(g, &in, bucket, err));
  nala_band_copy out = {.nhwc = dst + (size_t)b->r0 * w * ld_dst * sizeof(float), .blocked = blk_dst, .c = oc,
                        .rows = rows, .w = w, .wp = wp, .ld = ld_dst, .blk = blk, .sum = sum_in_reorder};
  if (sum_in_conv)
    NALA_CHECK(nala_band_pack_op(g, &out, bucket, err));
  dnnl_primitive_desc_t pd;
  NALA_CHECK(band_pd(g, L, b, wp, sum_in_reorder ? posts & ~NALA_POST_SUM : posts, &pd, err));
  NALA_CHECK(nala_banded_add_conv(g, L, pd, blk_src, blk_dst, bucket, err));
  return nala_band_unpack_op(g, &out, bucket, err);
}

/* Rows per band: Winograd, whole 4-row tile rows while oneDNN's transformed band stays in
 * WINO_BAND_BYTES (or half its transformed weights); direct, rows while the blocked band pair stays
 * in DIRECT_BAND_BYTES. */
static int band_rows(const nala_layer *L, int h, int w) {
  if (L->banded == NALA_BANDED_DIRECT8) {
    size_t row = (size_t)(L->conv.ic + L->conv.oc) * w * sizeof(float);
    size_t k = DIRECT_BAND_BYTES / (row ? row : 1);
    return k < 1 ? 1 : k > (size_t)h ? h : (int)k;
  }
  size_t tile_row = (size_t)WINO_ALPHA * WINO_ALPHA * sizeof(float) * (size_t)(L->conv.ic + L->conv.oc) *
                    (size_t)((w + WINO_TILE - 1) / WINO_TILE);
  size_t wino_weights = (size_t)WINO_ALPHA * WINO_ALPHA * sizeof(float) * L->conv.ic * L->conv.oc;
  size_t budget = wino_weights / WINO_WEIGHTS_PER_BAND > WINO_BAND_BYTES ? wino_weights / WINO_WEIGHTS_PER_BAND
                                                                         : WINO_BAND_BYTES;
  size_t k = budget / (tile_row ? tile_row : 1);
  int rows = WINO_TILE * (int)(k < 1 ? 1 : k > (size_t)h ? (size_t)h : k);
  return rows < h ? rows : h;
}

nala_status nala_banded_conv_op(nala_graph *g, const nala_layer *L, int h, int w, size_t src, int ld_src, size_t dst,
                                int ld_dst, int posts, int bucket, int *planned, nala_err *err) {
  *planned = 0;
  if (L->banded == NALA_BANDED_NWINO || L->banded == NALA_BANDED_NWINO_REF)
    return nala_wino_conv_op(g, L, nala_wino_for(L->banded == NALA_BANDED_NWINO ? NALA_ISA_AVX2 : NALA_ISA_REF), h,
                             w, src, ld_src, dst, ld_dst, posts, bucket, planned, err);
  posts |= L->act;
  if (!L->banded || h < NALA_BANDED_MIN_HW || w < NALA_BANDED_MIN_HW)
    return NALA_OK;
  int wp = band_width(L, w), rows = band_rows(L, h, wp);
  /* Every band shape oneDNN must accept (Winograd takes ReLU and sum only), checked before any op
   * is added, so that a shape it refuses falls back to NHWC instead of leaving half a plan. */
  band probe[3] = {band_at(0, rows, h), band_at(rows, rows, h), band_at((h - 1) / rows * rows, rows, h)};
  int small = (size_t)h * w < NALA_BANDED_MIN_PIXELS;
  for (int i = 0; i < 3; i++) {
    if (probe[i].r0 >= h)
      continue;
    dnnl_primitive_desc_t pd;
    nala_err quiet;
    if (band_pd(g, L, &probe[i], wp, posts, &pd, &quiet) != NALA_OK)
      return NALA_OK;
    /* a small map pays only when its weights cost nothing new */
    int free_weights = nala_graph_holds_weights(g, L->w, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0));
    dnnl_primitive_desc_destroy(pd);
    if (small && !free_weights)
      return NALA_OK;
  }
  ld_src = ld_src > 0 ? ld_src : L->conv.ic;
  ld_dst = ld_dst > 0 ? ld_dst : L->conv.oc;
  /* The blocked bands live only while this convolution's ops run: the graph's temporary area. */
  size_t src_bytes = (size_t)L->conv.ic * (rows + 2) * wp * sizeof(float);
  size_t blk_src = nala_graph_temp(g, 0, src_bytes);
  size_t blk_dst = nala_graph_temp(g, src_bytes, (size_t)L->conv.oc * rows * wp * sizeof(float));
  nala_status st = NALA_OK;
  for (int r0 = 0; !st && r0 < h; r0 += rows) {
    band b = band_at(r0, rows, h);
    st = plan_band(g, L, &b, w, src, ld_src, dst, ld_dst, posts, blk_src, blk_dst, bucket, err);
  }
  *planned = !st;
  return st;
}
