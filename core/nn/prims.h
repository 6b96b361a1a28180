/* Weight-free ops the heads and necks share, planned as {fn, args} kernels on NHWC maps in the
 * arena (any ld, so a result can land in the channel slice of a concat). PyTorch semantics, each
 * tested against torch at odd sizes both ways (tests/test_nn_prims.c). */
#ifndef NALA_CORE_NN_PRIMS_H
#define NALA_CORE_NN_PRIMS_H

#include "core/nn/graph.h"

typedef enum nala_resize_mode {
  NALA_RESIZE_NEAREST,  /* F.interpolate(mode='nearest', size=...): src = min(floor(dst * in/out), in-1) */
  NALA_RESIZE_BILINEAR, /* mode='bilinear', align_corners=False: src = max((dst + 0.5) * in/out - 0.5, 0) */
} nala_resize_mode;

/* dst (its h, w set the output size; c must equal src's) = resize(src). */
nala_status nala_resize_op(nala_graph *g, const nala_feat *src, const nala_feat *dst, nala_resize_mode mode,
                           int bucket, nala_err *err);

/* One axis of the bilinear resize above (align_corners=False): output index dst of out reads input
 * taps i0, i1 with weights w0, w1; value = w0 * v[i0] + w1 * v[i1] (2-D: rows outer, as torch). For
 * kernels that fuse a resize with what follows (seg/seg_post.c) and must stay bit-identical to it. */
void nala_linear_taps(int dst, int in, int out, int *i0, int *i1, float *w0, float *w1);

/* dst = a + b elementwise (same c, h, w; dst may be a or b). */
nala_status nala_add_op(nala_graph *g, const nala_feat *a, const nala_feat *b, const nala_feat *dst, int bucket,
                        nala_err *err);

/* dst = src (e.g. into a concat slice). */
nala_status nala_copy_op(nala_graph *g, const nala_feat *src, const nala_feat *dst, int bucket, nala_err *err);

/* dst = max(src, 0) (F.relu; dst may be src). */
nala_status nala_relu_op(nala_graph *g, const nala_feat *src, const nala_feat *dst, int bucket, nala_err *err);

/* F.max_pool2d(k, stride, pad) (floor mode; padding never wins) and F.avg_pool2d(k, stride, pad)
 * (count_include_pad=True): output floor((in + 2*pad - k) / stride) + 1 (nala_pool_out). */
nala_status nala_maxpool_op(nala_graph *g, const nala_feat *src, const nala_feat *dst, int k, int stride, int pad,
                            int bucket, nala_err *err);
nala_status nala_avgpool_op(nala_graph *g, const nala_feat *src, const nala_feat *dst, int k, int stride, int pad,
                            int bucket, nala_err *err);
int nala_pool_out(int in, int k, int stride, int pad);

/* nn.AdaptiveAvgPool2d((dst->h, dst->w)): bin i of n over in covers [floor(i*in/n), ceil((i+1)*in/n)),
 * so bins overlap when n does not divide in. */
nala_status nala_adaptive_avgpool_op(nala_graph *g, const nala_feat *src, const nala_feat *dst, int bucket,
                                     nala_err *err);

#endif
