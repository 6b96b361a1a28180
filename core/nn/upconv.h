/* ConvTranspose2d whose kernel equals its stride (padding 0): mmdet FCNMaskHead's 'deconv' upsample.
 * Every output pixel takes exactly one tap, so for kernel row dy the op is a matmul of the input
 * rows [n*h][w][ic] by W_dy [ic][k*oc] (W_dy[i][dx*oc + o] = weight[i][o][dy][dx]) whose result
 * rows land straight in the NHWC output: input row (m, y) fills output row m*oh + y*k + dy, each
 * input pixel x the k*oc floats of output pixels x*k .. x*k + k - 1. That is k strided matmuls
 * and no copy; oneDNN 2.6's direct deconvolution runs this shape about 20x slower (2.4 s for 100
 * RoIs of 14x14x256 on one Xeon core, against ~0.1 s) and asks for an 80 MB scratchpad. */
#ifndef NALA_CORE_NN_UPCONV_H
#define NALA_CORE_NN_UPCONV_H

#include "core/nn/layer.h"

#define NALA_UPCONV_MAX_K 4

typedef struct nala_upconv {
  nala_layer deconv; /* as loaded: the fallback when oneDNN has only a reference matmul here */
  int k;
  dnnl_memory_t w;                          /* the k matrices W_dy, one after another (owned) */
  dnnl_memory_t w_row[NALA_UPCONV_MAX_K];   /* [1][ic][k*oc] views of w */
  dnnl_memory_t b;                          /* [1][1][k*oc]: the bias repeated per dx */
  dnnl_memory_t w_all;                      /* W_all[i][(dy*k + dx)*oc + o], as an [oc][ic][k][k] md (owned) */
  dnnl_memory_t w_mat;                      /* [1][ic][k*k*oc] view of w_all */
  dnnl_memory_t b_all;                      /* [1][1][k*k*oc]: the bias repeated per (dy, dx) */
} nala_upconv;

/* Loads prefix.weight [ic][oc][k][k] / prefix.bias [oc] (s.k == s.stride, groups 1) with act as a
 * post-op. */
nala_status nala_upconv_load(const nala_rt *rt, nala_weights *w, nala_upconv *u, nala_conv_shape s,
                             const char *prefix, nala_act act, nala_err *err);
void nala_upconv_free(nala_upconv *u);

/* Plans u on n NHWC maps of h x w at src into dst ([n][h*k][w*k][oc]). */
nala_status nala_upconv_op_batch(nala_graph *g, const nala_upconv *u, int n, int h, int w, size_t src, size_t dst,
                                 int bucket, nala_err *err);

/* Plans u on n NHWC maps of h x w at src into dst in sub-pixel order, [n][h][w][k][k][oc]: output
 * pixel (Y, X) of map m is pixel ((m*h + Y/k)*w + X/k)*k*k + (Y%k)*k + X%k of dst. That is one
 * matmul of all n*h*w input pixels by W_all, with M in the thousands where the k row matmuls of
 * nala_upconv_op_batch have M = w (14 in the mask head): measured 117 -> 134-139 GFLOP/s for 16
 * RoIs of 14x14x256 (1 Xeon core, same process, min of 11). For a consumer that does not care
 * where a pixel sits (a 1x1 convolution) followed by a gather that knows the order. *planned = 0
 * with nothing added when oneDNN has only a reference matmul for it (then use op_batch). */
nala_status nala_upconv_op_subpixel(nala_graph *g, const nala_upconv *u, int n, int h, int w, size_t src, size_t dst,
                                    int bucket, int *planned, nala_err *err);

#endif
