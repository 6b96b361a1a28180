/* 3x3 stride-1 convolutions in bands of output rows, where that beats oneDNN's NHWC kernels (what
 * every other layer uses). NALA_CONV=auto picks nala's own Winograd (below) wherever nala's tier has
 * AVX2, AVX-512 included (measured faster over whole models than jit_wino_4x3, less RSS);
 * NALA_CONV=blocked keeps oneDNN's blocked kernels:
 *   AVX-512 (avx512_core): Winograd F(4x4, 3x3) on nChw16c (oneDNN's jit_wino_4x3): 36 multiplies
 *     per 4x4 output tile and channel pair instead of 144; measured 2-4x less time than NHWC
 *     brgconv on the big head convolutions (UperNet, FPN, RetinaNet, RPN).
 *   AVX2 (no Winograd in oneDNN 2.6): nala's own Winograd F(4x4, 3x3) (core/nn/conv_wino.h: its
 *     own transforms around oneDNN matmuls, NHWC in and out, none of the steps below), 2.4-2.7x less
 *     time than oneDNN's direct jit:avx2 on nChw8c, which stays selectable (NALA_CONV=blocked, or
 *     nala's ISA tier below AVX2) and measured 1.4-1.8x less time than the NHWC jit:avx2 kernel on
 *     256..2048-channel maps (reorders included).
 *
 *   for each band [r0, r1) of output rows:
 *     reorder  NHWC rows [r0-1, r1+1) of src (any ld)  -> blocked band (the border rows come from
 *                                                          the band's own padding)
 *     conv     blocked band -> blocked output band, bias and ReLU as post-ops
 *     reorder  blocked output band -> NHWC rows [r0, r1) of dst (any ld; NALA_POST_SUM adds there,
 *              or inside the conv when a ReLU follows the sum)
 *
 * Bands keep oneDNN's transformed input and output (its scratchpad: 195 MB for one whole 512 -> 512
 * Winograd at 128x128) and the blocked copies small, and ran faster than whole maps (they stay in
 * cache). The blocked bands live in the graph's temporary area (nala_graph_temp, shared by every
 * such conv); the weights are a plan-owned copy in the blocked conv's format (nala_graph_weights;
 * Winograd's is 4x the direct weights: 6x6 transformed taps). NALA_CONV=direct (nala_rt) keeps
 * every conv on the NHWC path. */
#ifndef NALA_CORE_NN_CONV_BANDED_H
#define NALA_CORE_NN_CONV_BANDED_H

#include "core/nn/layer.h"

/* WINO: oneDNN's jit_wino_4x3 (AVX-512); DIRECT8: oneDNN's direct nChw8c; NWINO / NWINO_REF: nala's own
 * Winograd (core/nn/conv_wino.h) with the AVX2 / plain-C transforms. */
typedef enum nala_banded_kind {
  NALA_BANDED_NONE = 0,
  NALA_BANDED_WINO,
  NALA_BANDED_DIRECT8,
  NALA_BANDED_NWINO,
  NALA_BANDED_NWINO_REF
} nala_banded_kind;

/* How convolutions of shape s may run (decided once at load): banded when 3x3, stride 1, groups 1,
 * channels multiples of 16 and at least NALA_BANDED_MIN_CH (NALA_CONV=wino: multiples of 8), and
 * NALA_CONV (nala_rt) is not direct.
 * auto: oneDNN's Winograd when oneDNN's CPU ISA (ONEDNN_MAX_CPU_ISA included) has avx512_core, else
 * nala's Winograd when oneDNN and nala's tier (NALA_ISA, NALA_MAX_ISA) have AVX2, blocked direct
 * when only oneDNN has it, none below. blocked: oneDNN's kernels only (Winograd or direct); wino:
 * nala's Winograd on any CPU (plain-C transforms below the AVX2 tier). */
nala_banded_kind nala_banded_kind_for(const nala_rt *rt, const nala_conv_shape *s);

/* Appends a reorder of from (at workspace offset from_off) into to (at to_off); sum adds into to. */
nala_status nala_banded_add_reorder(nala_graph *g, const dnnl_memory_desc_t *from, size_t from_off,
                                    const dnnl_memory_desc_t *to, size_t to_off, int sum, int bucket, nala_err *err);

/* Appends the blocked conv pd (taken; destroyed on failure) reading blk_src and writing blk_dst, with
 * L's weights in the layout pd asks for (a plan-owned copy, nala_graph_weights) and L's bias. */
nala_status nala_banded_add_conv(nala_graph *g, const nala_layer *L, dnnl_primitive_desc_t pd, size_t blk_src,
                                 size_t blk_dst, int bucket, nala_err *err);

#define NALA_BANDED_MIN_CH 64 /* below, the transforms and reorders outweigh the gain */
#define NALA_BANDED_MIN_HW 8  /* maps smaller than 8x8 waste most of a 4x4 Winograd tile pair */
/* The plan's copy of the weights (4x for Winograd, per plan) pays for itself on maps of at least
 * this many pixels, or on any map once the plan holds the copy (a head conv shared by the levels
 * of a pyramid pays it on the largest). Smaller maps stay on NHWC: e.g. UPerHead's PSP bottleneck
 * (2560 -> 512 at 16x16) would take 189 MB of Winograd weights to save ~50 ms. */
#define NALA_BANDED_MIN_PIXELS 4096

/* Plans layer L (L->banded set) on one h x w NHWC map as above when it pays at this size
 * (NALA_BANDED_MIN_HW, NALA_BANDED_MIN_PIXELS); *planned = 0 with nothing added when it does not or
 * oneDNN has no fast implementation for it here (e.g. GELU after a Winograd conv): the caller then
 * plans the NHWC convolution. */
nala_status nala_banded_conv_op(nala_graph *g, const nala_layer *L, int h, int w, size_t src, int ld_src, size_t dst,
                                int ld_dst, int posts, int bucket, int *planned, nala_err *err);
/* nala's Winograd kinds take the same rules and fallback (core/nn/conv_wino.h). */

#endif
