/* Thin helpers over oneDNN's C API: status translation and primitive descriptors for the layer
 * kinds every module uses (NHWC activations, weights in the format oneDNN picks). */
#ifndef NALA_CORE_NN_DNNL_UTIL_H
#define NALA_CORE_NN_DNNL_UTIL_H

#include <oneapi/dnnl/dnnl.h>
#include <stdint.h>

#include "nala/status.h"

/* Turns a failing oneDNN call into NALA_E_BACKEND with the call's text in the message. */
nala_status nala_dnnl_status(dnnl_status_t st, const char *what, nala_err *err);
#define NALA_DNNL(call, err)                                         \
  do {                                                               \
    dnnl_status_t nala_dnnl_st_ = (call);                            \
    if (nala_dnnl_st_ != dnnl_success)                               \
      return nala_dnnl_status(nala_dnnl_st_, #call, err);            \
  } while (0)

/* Elementwise post-op kinds a layer may carry. */
typedef enum nala_post {
  NALA_POST_NONE = 0,
  NALA_POST_GELU = 1,   /* erf GELU, as F.gelu / nn.GELU */
  NALA_POST_SWISH = 2,  /* x * sigmoid(x), as nn.SiLU */
  NALA_POST_SUM = 4,    /* dst += result (residual into the destination) */
  NALA_POST_RELU = 8    /* max(x, 0), as nn.ReLU */
} nala_post;

/* Convolution over NHWC [1, h, w, ic] -> [1, oh, ow, oc] with square kernel k, stride, pad k/2
 * (the only padding the mmcv ConvModules of these models use), groups (1 or ic for depthwise).
 * wfmt: NULL for 'any' (then the chosen weights md is reported), or the fixed weights md. */
typedef struct nala_conv_shape {
  int ic, oc, k, stride, groups;
  int h, w;           /* input size; output is ceil(h/stride) x ceil(w/stride) with pad k/2 */
  int ld_src, ld_dst; /* floats between pixels (0 = ic / oc): a dst ld > oc writes into the
                         channel slice of a wider map (concat by offset) */
  int n;              /* images in the batch, one h x w map after another (0 = 1): RoI heads */
} nala_conv_shape;

/* Shape of a layer by its PyTorch arguments (size and strides filled at plan time). */
#define NALA_CONV_SHAPE(ic_, oc_, k_, stride_, groups_) \
  {.ic = (ic_), .oc = (oc_), .k = (k_), .stride = (stride_), .groups = (groups_)}

nala_status nala_conv_pd(dnnl_engine_t eng, const nala_conv_shape *s, const dnnl_memory_desc_t *wfmt, int posts,
                         dnnl_primitive_desc_t *pd, nala_err *err);

/* The same conv (stride 1) computing oh rows of a band of s->h input rows: pad_t zero rows above
 * (k/2 at the top of the map, 0 where the band has rows above it in the map) and at the bottom
 * what the last output row needs beyond the band (k/2 at the bottom of the map, else 0). */
nala_status nala_conv_rows_pd(dnnl_engine_t eng, const nala_conv_shape *s, int oh, int pad_t,
                              const dnnl_memory_desc_t *wfmt, int posts, dnnl_primitive_desc_t *pd, nala_err *err);

/* A 3x3 stride-1 convolution on n blocked maps [n, ic, ih, w] -> [n, oc, oh, w], padding 1 on the
 * left and right, pad_t / pad_b rows on top and bottom (a band of rows of a bigger map has 0 where
 * it has a neighbour band), weights in the format oneDNN picks:
 *   winograd: nChw16c, Winograd F(4x4, 3x3) (oneDNN's jit_wino_4x3, AVX-512 only; never its
 *             F(2x2, 3x3) variant, which barely beats direct here)
 *   else:     nChw8c, oneDNN's direct jit kernels (never a reference implementation)
 * NALA_E_UNSUPPORTED when oneDNN has no such implementation here (no AVX-512 for Winograd,
 * channels not multiples of the block, a post-op Winograd lacks). */
nala_status nala_conv_band_pd(dnnl_engine_t eng, int winograd, int n, int ic, int oc, int ih, int oh, int w,
                              int pad_t, int pad_b, int posts, dnnl_primitive_desc_t *pd, nala_err *err);

/* Reorder src_md -> dst_md; sum: dst = src + dst (oneDNN's sum post-op on a reorder). */
nala_status nala_reorder_pd(dnnl_engine_t eng, const dnnl_memory_desc_t *src_md, const dnnl_memory_desc_t *dst_md,
                            int sum, dnnl_primitive_desc_t *pd, nala_err *err);

/* Matmul [m, k] x [k, n] + bias -> [m, n]; src/dst rows have leading dimensions lda/ldc (>= k/n). */
nala_status nala_matmul_pd(dnnl_engine_t eng, int m, int k, int n, int lda, int ldc,
                           const dnnl_memory_desc_t *wfmt, int posts, dnnl_primitive_desc_t *pd, nala_err *err);

/* PyTorch weight layouts as oneDNN memory descs: conv OIHW (groups: GOIHW), linear [out, in]. */
void nala_conv_torch_md(const nala_conv_shape *s, dnnl_memory_desc_t *md);
void nala_linear_torch_md(int k, int n, dnnl_memory_desc_t *md);

/* Reorders plain float data described by src_md into a new memory of dst_md (owned by the caller). */
nala_status nala_dnnl_reorder_new(dnnl_engine_t eng, const dnnl_memory_desc_t *src_md, const float *src,
                                  const dnnl_memory_desc_t *dst_md, dnnl_memory_t *out, nala_err *err);

/* Transposed convolution (nn.ConvTranspose2d, padding 0, output_padding 0) NHWC [h, w, ic] ->
 * [(h-1)*stride + k, (w-1)*stride + k, oc]; weights wfmt as nala_conv_pd. */
nala_status nala_deconv_pd(dnnl_engine_t eng, const nala_conv_shape *s, const dnnl_memory_desc_t *wfmt, int posts,
                           dnnl_primitive_desc_t *pd, nala_err *err);

/* Batched matmul [batch, m, k] x [k, n] (the weights shared by every batch: [1, k, n]) + bias [1, 1, n]
 * -> [batch, m, n], src and dst at the given element strides {batch, row, 1}: a dst whose batches
 * are not back to back scatters rows into a wider map (nala_upconv). */
nala_status nala_matmul_batch_pd(dnnl_engine_t eng, int batch, int m, int k, int n, const int64_t *src_strides,
                                 const int64_t *dst_strides, const dnnl_memory_desc_t *wfmt, int posts,
                                 dnnl_primitive_desc_t *pd, nala_err *err);

/* Implementation name oneDNN picked (e.g. "brg:avx512_core"), for logs and the bench. */
const char *nala_dnnl_impl(const_dnnl_primitive_desc_t pd);
/* 1 when oneDNN picked one of its reference (plain, far slower) implementations for pd. */
int nala_dnnl_is_ref(const_dnnl_primitive_desc_t pd);

#endif
