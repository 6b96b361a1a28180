/* 3x3 stride-1 convolutions as nala's own Winograd F(4x4, 3x3) (core/nn/wino.h) in bands of output
 * rows, for CPUs where oneDNN has no Winograd (AVX2: oneDNN 2.6's jit_wino_4x3 needs AVX-512):
 *
 *   plan:  U [36][ic][oc] = G g G^T, once per plan (nala_graph_weights_derived: shared by every op
 *          and level using the layer; 4x the direct weights)
 *   for each band [r0, r1) of output rows (whole 4-row tile rows but the last):
 *     kernel  input transform: NHWC rows [r0 - 1, r1 + 1) of src (any ld, zeros past the map's
 *             edges) -> V [36][tiles][ic]
 *     matmul  M[i] = V[i] U[i], 36 GEMMs as one batched oneDNN matmul (plain layouts: gemm:jit)
 *     kernel  output transform + bias (+ dst: NALA_POST_SUM) (+ ReLU) -> NHWC rows [r0, r1) of dst
 *             (any ld)
 *
 * V and M live in the graph's temporary area (nala_graph_temp); the transforms split the band's
 * tiles among the graph's threads, the matmul threads itself. Bands are sized so V and M stay in
 * cache and, where the transformed weights are big, so each band's GEMMs amortise streaming U (the
 * rule of conv_banded.c's Winograd). */
#ifndef NALA_CORE_NN_CONV_WINO_H
#define NALA_CORE_NN_CONV_WINO_H

#include "core/nn/layer.h"
#include "core/nn/wino.h"

/* Plans L (3x3, stride 1, groups 1, ic and oc multiples of 8) on an h x w NHWC map as above with
 * the transforms of fns; posts: NALA_POST_SUM and NALA_POST_RELU only (with L->act). *planned = 0
 * with nothing added when the post-ops or the shape do not fit, the map is below the size rules of
 * conv_banded.h, or oneDNN's matmul would be a reference implementation: the caller then plans
 * another path. */
nala_status nala_wino_conv_op(nala_graph *g, const nala_layer *L, nala_wino_fns fns, int h, int w, size_t src,
                              int ld_src, size_t dst, int ld_dst, int posts, int bucket, int *planned, nala_err *err);

/* The same on a counted batch of n dense h x w NHWC maps (src [n][h][w][ic] -> dst [n][h][w][oc], each
 * padded on its own) in bands of `chunk` whole maps, each band's ops gated on the int32 count at
 * workspace byte count_off as conv_batch_wino.h does (a band of maps [j, ..) runs when count > j). */
nala_status nala_wino_conv_op_batch(nala_graph *g, const nala_layer *L, nala_wino_fns fns, int n, int h, int w,
                                    int chunk, size_t src, size_t dst, int posts, size_t count_off, int bucket,
                                    int *planned, nala_err *err);

/* Rows per band for L on a w-wide map (a multiple of 4, or h). */
int nala_wino_band_rows(const nala_layer *L, int h, int w);

#endif
