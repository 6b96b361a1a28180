/* 3x3 stride-1 convolutions on a counted batch of small NHWC maps (the mask head's RoIs: up to 100
 * of 14x14) as oneDNN's Winograd F(4x4, 3x3) (jit_wino_4x3, AVX-512 only) in chunks of maps:
 *
 *   for each chunk [j, j + c) of maps, run only when the count is above j:
 *     reorder  NHWC maps [j, j + c) of src     -> nChw16c chunk (graph temporary area)
 *     conv     Winograd, mb = c, pad 1, bias and ReLU as post-ops
 *     reorder  nChw16c output chunk            -> NHWC maps [j, j + c) of dst
 *
 * A single 14x14 map is below NALA_BANDED_MIN_PIXELS (conv_banded.h), but a batch of 100 is a
 * 19600-pixel map for the weights copy to pay for, and NHWC brgconv on it is at sgemm peak while
 * Winograd does 36 instead of 144 multiplies per 4x4 tile. Chunks keep the transformed input and
 * output in cache (as the bands of conv_banded.c do) and let a run skip the maps past the count:
 * one plan for max maps, the actual count's chunks run, nothing allocated in forward. Rows of the
 * last started chunk past the count are computed on whatever the workspace holds there and are
 * never read as results. */
#ifndef NALA_CORE_NN_CONV_BATCH_WINO_H
#define NALA_CORE_NN_CONV_BATCH_WINO_H

#include "core/nn/layer.h"

/* Maps per chunk: 4 maps of 14x14 are 64 tiles, oneDNN's transformed input and output ~4.7 MB (the
 * band budget of conv_banded.c). Measured on the mask head's 4 convs, 100 RoIs, 1 thread, per
 * forward (ONEDNN_VERBOSE, loaded machine): chunks of 1 / 2 / 3 / 4 / 8 / 16 / 100 maps 320 / 306 /
 * 292 / 278-286 / 364 / 419 / 542 ms of Winograd (+ ~36 ms of reorders). */
#define NALA_WINO_BATCH_CHUNK 4

/* Plans layer L on maps [0, n) of h x w (dense NHWC batches at src, dst) as above, each chunk's ops
 * gated on the int32 count at byte count_off of the workspace (a chunk [j, ..) runs when
 * count > j); nala's own Winograd (conv_wino.h, same gating) where L is one of its kinds (AVX2);
 * *planned = 0 with nothing added when L is not a Winograd conv here (NALA_CONV=direct or blocked
 * below AVX-512), the maps are below NALA_BANDED_MIN_HW, or oneDNN refuses the shape or the
 * post-ops: the caller then plans its NHWC convolution. */
nala_status nala_wino_batch_conv_op(nala_graph *g, const nala_layer *L, int n, int h, int w, size_t src, size_t dst,
                                    int posts, size_t count_off, int bucket, int *planned, nala_err *err);

#endif
