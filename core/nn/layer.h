/* Weighted layers any module loads by key prefix and plans into a graph: convolutions (mmcv
 * ConvModule: conv + optional BatchNorm folded at load + optional activation post-op; depthwise
 * by groups = ic), linears, and transposed convolutions. Weights are reordered once at load into
 * the format oneDNN picks for this CPU; a plan whose size makes oneDNN prefer another format gets
 * a plan-owned reordered copy. */
#ifndef NALA_CORE_NN_LAYER_H
#define NALA_CORE_NN_LAYER_H

#include "core/nn/dnnl_util.h"
#include "core/nn/graph.h"
#include "core/nn/runtime.h"
#include "nala/weights.h"

typedef enum nala_layer_kind { NALA_LAYER_CONV, NALA_LAYER_LINEAR, NALA_LAYER_DECONV } nala_layer_kind;

typedef struct nala_layer {
  nala_layer_kind kind;
  nala_conv_shape conv; /* conv / deconv; h, w = the size used to pick the format */
  int in, out;          /* linear */
  int act;              /* NALA_POST_* activation every op of this layer carries (ConvModule act_cfg) */
  int banded;           /* nala_banded_kind: how a 3x3 stride-1 conv may run blocked (core/nn/conv_banded.h) */
  dnnl_memory_desc_t wmd;
  dnnl_memory_t w, b;
} nala_layer;

/* ConvModule activation (mmcv act_cfg): none, ReLU, GELU, SiLU. */
typedef enum nala_act { NALA_ACT_NONE = 0, NALA_ACT_RELU, NALA_ACT_GELU, NALA_ACT_SILU } nala_act;

/* From float arrays in PyTorch layout (conv [oc][ic/groups][k][k], linear [out][in], deconv
 * [ic][oc][k][k]) plus bias (NULL = zeros). */
nala_status nala_conv_init(const nala_rt *rt, nala_layer *L, nala_conv_shape s, const float *w, const float *b,
                           nala_err *err);
nala_status nala_deconv_init(const nala_rt *rt, nala_layer *L, nala_conv_shape s, const float *w, const float *b,
                             nala_err *err);
nala_status nala_linear_init(const nala_rt *rt, nala_layer *L, int in, int out, const float *w, const float *b,
                             nala_err *err);

/* Conv with explicit keys: "<conv>.weight", "<conv>.bias" (when has_bias), BatchNorm (eps 1e-5) at
 * "<bn>.{weight,bias,running_mean,running_var}" when bn is not NULL. residual (depthwise only):
 * the layer computes x + conv(x), folded as +1 on the centre tap. Missing or wrong keys are
 * recorded in the binder (nala_weights_finish reports them all). */
nala_status nala_conv_load(const nala_rt *rt, nala_weights *w, nala_layer *L, nala_conv_shape s, const char *conv,
                           int has_bias, const char *bn, int residual, nala_err *err);

/* mmcv ConvModule at prefix X: "X.conv.weight", then with norm "X.bn.*" (and no conv bias,
 * mmcv's bias='auto'), without norm "X.conv.bias"; act runs as a post-op. */
nala_status nala_convmodule_load(const nala_rt *rt, nala_weights *w, nala_layer *L, nala_conv_shape s,
                                 const char *prefix, int norm, nala_act act, nala_err *err);

/* The ConvModule at prefix as n_parts convolutions over equal slices of its input channels,
 * conv(cat(x_0..x_n-1)) = sum_p part_p(x_p): BatchNorm is folded into every part, the bias goes to
 * part 0 and act to part n_parts-1 only, so planning part 0, then parts 1.. with NALA_POST_SUM into
 * the same dst, in order, gives the whole ConvModule without building the concat (UPerHead's
 * fpn_bottleneck). On error no part is left allocated. */
nala_status nala_convmodule_load_split(const nala_rt *rt, nala_weights *w, nala_layer *parts, int n_parts,
                                       nala_conv_shape s, const char *prefix, int norm, nala_act act, nala_err *err);

/* nn.Linear at prefix: "<prefix>.weight" [out][in], "<prefix>.bias". */
nala_status nala_linear_load(const nala_rt *rt, nala_weights *w, nala_layer *L, int in, int out, const char *prefix,
                             nala_err *err);

/* nn.ConvTranspose2d at prefix (padding 0): "<prefix>.weight" [ic][oc][k][k], "<prefix>.bias". */
nala_status nala_deconv_load(const nala_rt *rt, nala_weights *w, nala_layer *L, nala_conv_shape s,
                             const char *prefix, nala_act act, nala_err *err);

void nala_layer_free(nala_layer *L);

/* A new float array (free it) read from key with PyTorch shape d0..d(ndim-1); zeros when the key is
 * missing or wrong (the binder records it for nala_weights_finish); NULL when out of memory. */
float *nala_take_new(nala_weights *w, const char *key, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3);

/* Two layers stacked by output, as heads that run cls and reg as one layer load them:
 * "<prefix>.<a>.{weight,bias}" (na outputs) then "<prefix>.<b>.*" (nb), weights [n][in] (ndim 2) or
 * [n][in][1][1] (ndim 4), into new *W [na+nb][in] and *B [na+nb] (free both; NULL on error). */
nala_status nala_take_stacked(nala_weights *w, const char *prefix, const char *a, int na, const char *b, int nb,
                              int in, int ndim, float **W, float **B, nala_err *err);

/* Plans L on an h x w NHWC map (conv / deconv) at workspace byte offsets src -> dst. posts adds
 * post-ops (NALA_POST_SUM: dst += result) before the layer's own activation. ld_src / ld_dst:
 * floats between pixels, 0 = dense. A 3x3 stride-1 conv may run blocked (Winograd on AVX-512) in
 * several ops (core/nn/conv_banded.h) where that pays; src and dst must not overlap. */
nala_status nala_conv_op(nala_graph *g, const nala_layer *L, int h, int w, size_t src, int ld_src, size_t dst,
                         int ld_dst, int posts, int bucket, nala_err *err);

/* Plans output rows [r0, r1) of a stride-1 conv L on a dense h x w NHWC map src, written densely
 * from dst on (dst holds output row r0, not row 0: a band may go to a buffer of its own). The op
 * reads input rows [r0 - k/2, r1 + k/2) clipped to the map, zeros beyond its edges, so a chain of
 * ops run band by band keeps its intermediates in cache. */
nala_status nala_conv_op_rows(nala_graph *g, const nala_layer *L, int h, int w, int r0, int r1, size_t src,
                              size_t dst, int posts, int bucket, nala_err *err);

/* Plans L (conv / deconv) on a batch of n dense h x w NHWC maps stored one after another (RoI
 * features): src [n][h][w][ic] -> dst [n][oh][ow][oc]. */
nala_status nala_conv_op_batch(nala_graph *g, const nala_layer *L, int n, int h, int w, size_t src, size_t dst,
                               int posts, int bucket, nala_err *err);

/* Plans L on rows tokens [rows][in] (leading dims ld_src / ld_dst, 0 = in / out). */
nala_status nala_linear_op(nala_graph *g, const nala_layer *L, int rows, size_t src, int ld_src, size_t dst,
                           int ld_dst, int posts, int bucket, nala_err *err);

/* Output size of a conv (pad k/2) or deconv layer at input h x w. */
void nala_layer_out_size(const nala_layer *L, int h, int w, int *oh, int *ow);

#endif
