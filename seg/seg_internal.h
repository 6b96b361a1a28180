/* Internal to seg/: the segmentor model, its per-stream context and the postprocessing kernels.
 *
 * Sizes of one plan (mmseg names): ori = the caller's input (frame or tensor), img = after the test
 * pipeline's Resize, tensor = img plus bottom/right padding (the network's input in whole mode;
 * slide windows are cut from it). Logits of a pass are the decode head's output at 1/4 of its input. */
#ifndef NALA_SEG_INTERNAL_H
#define NALA_SEG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/nn/bilinear.h"
#include "core/nn/graph.h"
#include "models/model.h"
#include "nala/preprocess.h"
#include "nala/seg_test.h"
#include "nala/segmentor.h"

struct nala_segmentor {
  nala_model *model;
  int num_classes;
  nala_seg_test_cfg test;  /* model.test_cfg: whole or slide */
  nala_preprocess_cfg pre; /* model.data_preprocessor + test_pipeline Resize, NHWC */
};

/* Profiling stages, in nala_seg_profile's order. */
enum { SEG_ST_PRE, SEG_ST_BACKBONE, SEG_ST_NECK, SEG_ST_HEAD, SEG_ST_POST, SEG_N_STAGES };

/* One plan: the network graph at the pass size plus the seg buffers, all regions of one arena. */
typedef struct seg_plan {
  nala_graph g;
  nala_seg_input kind;
  int h, w;              /* ori */
  int img_h, img_w;      /* img (= ori for tensors) */
  int t_h, t_w;          /* tensor (= img unless the pipeline pads) */
  int net_h, net_w;      /* one pass: whole = tensor; slide = min(crop, tensor) per side */
  int classes;
  int module_ops[8];     /* g.n_ops after each module (for stage timing) */
  nala_crop_window *win; /* slide windows (plan-owned), n_win of them; whole: one, the tensor */
  int n_win;
  size_t full_off;       /* slide: the tensor, NHWC t_h x t_w x 3 (whole: the graph's input) */
  size_t scratch_off, scratch_bytes; /* preprocessing's resized uint8 image */
  size_t acc_off;        /* slide: NHWC t_h x t_w x classes, the window sum then mean; whole: SIZE_MAX */
  int two_resizes;       /* whole, ori != tensor: logits -> tensor size -> crop -> ori (resize2_argmax) */
  size_t cnt_off;        /* slide: windows per tensor pixel (float, as mmseg's count_mat) */
  size_t labels_off;     /* int32 ori h x w */
  const nala_bilinear_kernels *bk; /* the tier of the fused resize + argmax (bit-identical in all) */
  size_t tmp_off;        /* per thread: one pixel's classes (+ two rows of img_w pixels with two_resizes) */
} seg_plan;

struct nala_seg_ctx {
  const nala_segmentor *m;
  dnnl_stream_t stream;
  int nthreads;
  seg_plan cur, pending; /* pending: built by a size query, taken by the plan of that size */
  int planned, has_pending, ran;
  void *ws;
  size_t ws_cap;
  int ws_owned;
  int profiling;
  double stage_ms[SEG_N_STAGES];
};

/* ---- postprocessing kernels (seg/seg_post.c); ws is the workspace base, maps are NHWC ---- */

/* A map in the arena viewed as rows of pitch pixels of ld floats, of which the top-left h x w count. */
typedef struct seg_map {
  size_t off;
  int h, w, pitch, ld;
} seg_map;

/* dst (h x w x 3 at dst_off) = the window win of the NHWC tensor at src_off (t_w pixels a row). */
void seg_extract_window(char *ws, size_t src_off, int t_w, nala_crop_window win, size_t dst_off, int nthreads);

/* mmseg slide_inference: acc[win] += resize(logits -> window size) (bilinear, align_corners False,
 * the value nala_resize_op gives), cnt[win] += 1. acc / cnt are t_w pixels a row. */
void seg_accumulate(char *ws, const seg_map *logits, int classes, nala_crop_window win, size_t acc_off, size_t cnt_off,
                    int t_w, int nthreads);

/* acc /= cnt per pixel (preds / count_mat). */
void seg_divide(char *ws, size_t acc_off, size_t cnt_off, int classes, int t_h, int t_w, int nthreads);

/* dst (dense, dst_h x dst_w x classes at dst_off) = bilinear resize of src. */
void seg_resize(char *ws, const seg_map *src, int classes, size_t dst_off, int dst_h, int dst_w, int nthreads);

/* labels (int32 dst_h x dst_w) = argmax over classes of the bilinear resize of src to dst_h x dst_w,
 * computed pixel by pixel (the resized map is never stored), bit-identical to seg_resize followed
 * by an argmax; first maximum wins, NaN counts as the maximum (torch.argmax). tmp: nthreads x
 * classes floats. Equal sizes: the argmax of src itself (F.interpolate to the same size copies). */
void seg_resize_argmax(const nala_bilinear_kernels *bk, char *ws, const seg_map *src, int classes, size_t labels_off, int dst_h, int dst_w,
                       size_t tmp_off, int nthreads);

/* whole mode with a resize or padding in the pipeline, without materialising either map:
 * labels = argmax(resize(crop(resize(src -> t_h x t_w), img_h x img_w) -> dst_h x dst_w)), each
 * thread keeping the two rows of the intermediate map its output row reads (tmp: nthreads x
 * (2 * img_w + 1) x classes floats). Bit-identical to seg_resize then seg_resize_argmax. */
void seg_resize2_argmax(const nala_bilinear_kernels *bk, char *ws, const seg_map *src, int classes, int t_h, int t_w, int img_h, int img_w,
                        size_t labels_off, int dst_h, int dst_w, size_t tmp_off, int nthreads);

/* Index of the first maximum of v[0..n) (NaN wins, the first one). */
int seg_argmax(const float *v, int n);

#endif
