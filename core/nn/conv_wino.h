/* 3x3 stride-1 convolutions as Winograd F(4x4, 3x3): 36 multiplies per 4x4 output tile and
 * channel pair instead of 144, so about 2-4x less time than oneDNN's direct NHWC kernels on the
 * big head convolutions (UperNet, FPN, RetinaNet). oneDNN has it only on AVX-512 (jit_wino_4x3)
 * and only on blocked nChw16c maps, so a convolution runs in bands of output rows:
 *
 *   for each band [r0, r1) (one or a few 4-row tile rows):
 *     reorder   NHWC rows [r0-1, r1+1) of src (any ld)  -> blocked band   (zero rows at the border
 *                                                                          come from the padding)
 *     winograd  blocked band -> blocked output band, bias and ReLU as post-ops
 *     reorder   blocked output band -> NHWC rows [r0, r1) of dst (any ld; NALA_POST_SUM adds there)
 *
 * Bands keep oneDNN's transformed input and output (its scratchpad) small, which is also faster
 * than one whole-map call (they stay in cache). The blocked bands are in the graph's temporary area
 * (nala_graph_temp, shared by all such convs), the weights a plan-owned Winograd copy
 * (nala_graph_weights, 4x the direct weights: 6x6 transformed taps). NALA_CONV=direct (nala_rt) turns this off. */
#ifndef NALA_CORE_NN_CONV_WINO_H
#define NALA_CORE_NN_CONV_WINO_H

#include "core/nn/layer.h"

/* 1 when convolutions of shape s may take the Winograd path at all (decided once at load): 3x3,
 * stride 1, groups 1, channels multiples of 16 and at least NALA_WINO_MIN_CH, the runtime's
 * NALA_CONV=auto, and oneDNN's CPU ISA (ONEDNN_MAX_CPU_ISA included) is AVX-512 (avx512_core). */
int nala_wino_layer_ok(const nala_rt *rt, const nala_conv_shape *s);

#define NALA_WINO_MIN_CH 64 /* below, the transforms outweigh the saved multiplies */
#define NALA_WINO_MIN_HW 8  /* maps smaller than 8x8 waste most of a 4x4 tile pair */
/* The Winograd weights copy (4x the direct weights, per plan) pays for itself on maps of at least
 * this many pixels, or on any map once the plan holds the copy (a head conv shared by the levels
 * of a pyramid pays it on the largest). Smaller maps stay direct: e.g. UPerHead's PSP bottleneck
 * (2560 -> 512 at 16x16) would take 189 MB of Winograd weights to save ~50 ms. */
#define NALA_WINO_MIN_PIXELS 4096

/* Plans layer L (nala_wino_layer_ok) on one h x w NHWC map as above when it pays at this size
 * (NALA_WINO_MIN_HW, NALA_WINO_MIN_PIXELS);
 * *planned = 0 with nothing added when it does not or oneDNN has no Winograd for it here (e.g. a
 * GELU post-op): the caller then plans the direct convolution. */
nala_status nala_wino_conv_op(nala_graph *g, const nala_layer *L, int h, int w, size_t src, int ld_src, size_t dst,
                              int ld_dst, int posts, int bucket, int *planned, nala_err *err);

#endif
