/* mmseg's test-time postprocessing on the decode head's logits (NHWC maps in the workspace):
 *   whole  decode_head.predict_by_feat: resize(logits, pad_shape) (bilinear, align_corners False)
 *   slide  slide_inference: preds += F.pad(resize(crop logits, crop img_shape)), count_mat += 1,
 *          then preds / count_mat
 *   both   BaseSegmentor.postprocess_result: crop the padding, resize to ori_shape, argmax(dim=0)
 * The last resize is fused with the argmax (one pixel's classes at a time), with the same taps and
 * the same expression as nala_resize_op (core/nn/prims.c), so the labels equal an unfused resize
 * followed by an argmax bit for bit. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/nn/bilinear.h"
#include "core/nn/prims.h"
#include "seg/seg_internal.h"

static const float *at(const char *ws, const seg_map *m, int y, int x) {
  return (const float *)(ws + m->off) + ((size_t)y * m->pitch + x) * m->ld;
}

int seg_argmax(const float *v, int n) { return nala_bilinear_ref.argmax(v, n); }

/* One output index's two source taps and weights (nala_linear_taps: align_corners False). */
typedef struct {
  int i0, i1;
  float w0, w1;
} lin_taps;

static lin_taps taps(int i, int in, int out) {
  lin_taps t;
  nala_linear_taps(i, in, out, &t.i0, &t.i1, &t.w0, &t.w1);
  return t;
}

/* The bilinear blend, rows outer, the one expression of nala_resize_op that every path here uses. */
static inline float blend(lin_taps ty, lin_taps tx, float p00, float p01, float p10, float p11) {
  return ty.w0 * (tx.w0 * p00 + tx.w1 * p01) + ty.w1 * (tx.w0 * p10 + tx.w1 * p11);
}

/* One pixel of the bilinear resize of src, all classes, into out (bk: any tier, the same bits). */
static void resize_pixel(const nala_bilinear_kernels *bk, const char *ws, const seg_map *s, int classes, lin_taps ty,
                         lin_taps tx, float *out) {
  nala_bilinear_px px = {at(ws, s, ty.i0, tx.i0), at(ws, s, ty.i0, tx.i1), at(ws, s, ty.i1, tx.i0),
                         at(ws, s, ty.i1, tx.i1), ty.w0, ty.w1, tx.w0, tx.w1};
  bk->blend(&px, classes, out);
}

/* Row r of resize(s -> t_h x t_w), columns [0, w), into row (w x classes floats). */
static void resize_row(const nala_bilinear_kernels *bk, const char *ws, const seg_map *s, int classes, int r, int t_h,
                       int t_w, int w, float *row) {
  lin_taps ty = taps(r, s->h, t_h);
  for (int x = 0; x < w; x++)
    resize_pixel(bk, ws, s, classes, ty, taps(x, s->w, t_w), row + (size_t)x * classes);
}

void seg_extract_window(char *ws, size_t src_off, int t_w, nala_crop_window win, size_t dst_off, int nthreads) {
  const float *src = (const float *)(ws + src_off);
  float *dst = (float *)(ws + dst_off);
  int wh = win.y2 - win.y1, ww = win.x2 - win.x1;
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int y = 0; y < wh; y++)
    memcpy(dst + (size_t)y * ww * 3, src + ((size_t)(win.y1 + y) * t_w + win.x1) * 3, (size_t)ww * 3 * sizeof(float));
}

void seg_accumulate(char *ws, const seg_map *logits, int classes, nala_crop_window win, size_t acc_off, size_t cnt_off,
                    int t_w, int nthreads) {
  float *acc = (float *)(ws + acc_off), *cnt = (float *)(ws + cnt_off);
  int wh = win.y2 - win.y1, ww = win.x2 - win.x1;
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int y = 0; y < wh; y++) {
    lin_taps ty = taps(y, logits->h, wh);
    for (int x = 0; x < ww; x++) {
      lin_taps tx = taps(x, logits->w, ww);
      size_t p = (size_t)(win.y1 + y) * t_w + win.x1 + x;
      float *a = acc + p * classes;
      const float *p00 = at(ws, logits, ty.i0, tx.i0), *p01 = at(ws, logits, ty.i0, tx.i1);
      const float *p10 = at(ws, logits, ty.i1, tx.i0), *p11 = at(ws, logits, ty.i1, tx.i1);
      for (int c = 0; c < classes; c++) {
        /* the resized value first, rounded to float as torch stores it, then the sum */
        float v = blend(ty, tx, p00[c], p01[c], p10[c], p11[c]);
        a[c] += v;
      }
      cnt[p] += 1.0f;
    }
  }
}

void seg_divide(char *ws, size_t acc_off, size_t cnt_off, int classes, int t_h, int t_w, int nthreads) {
  float *acc = (float *)(ws + acc_off);
  const float *cnt = (const float *)(ws + cnt_off);
  size_t n = (size_t)t_h * t_w;
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (size_t p = 0; p < n; p++)
    for (int c = 0; c < classes; c++)
      acc[p * classes + c] /= cnt[p];
}

void seg_resize(char *ws, const seg_map *src, int classes, size_t dst_off, int dst_h, int dst_w, int nthreads) {
  float *dst = (float *)(ws + dst_off);
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int y = 0; y < dst_h; y++)
    resize_row(&nala_bilinear_ref, ws, src, classes, y, dst_h, dst_w, dst_w, dst + (size_t)y * dst_w * classes);
}

void seg_resize_argmax(const nala_bilinear_kernels *bk, char *ws, const seg_map *src, int classes, size_t labels_off,
                       int dst_h, int dst_w, size_t tmp_off, int nthreads) {
  int32_t *labels = (int32_t *)(ws + labels_off);
  if (src->h == dst_h && src->w == dst_w) {
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int y = 0; y < dst_h; y++)
      for (int x = 0; x < dst_w; x++)
        labels[(size_t)y * dst_w + x] = bk->argmax(at(ws, src, y, x), classes);
    return;
  }
#pragma omp parallel num_threads(nthreads)
  {
    float *tmp = (float *)(ws + tmp_off) + (size_t)omp_get_thread_num() * classes;
#pragma omp for schedule(static)
    for (int y = 0; y < dst_h; y++) {
      lin_taps ty = taps(y, src->h, dst_h);
      for (int x = 0; x < dst_w; x++) {
        resize_pixel(bk, ws, src, classes, ty, taps(x, src->w, dst_w), tmp);
        labels[(size_t)y * dst_w + x] = bk->argmax(tmp, classes);
      }
    }
  }
}

void seg_resize2_argmax(const nala_bilinear_kernels *bk, char *ws, const seg_map *src, int classes, int t_h, int t_w, int img_h, int img_w,
                        size_t labels_off, int dst_h, int dst_w, size_t tmp_off, int nthreads) {
  int32_t *labels = (int32_t *)(ws + labels_off);
  size_t row_floats = (size_t)img_w * classes;
#pragma omp parallel num_threads(nthreads)
  {
    /* this thread's two cached rows of the intermediate map and one pixel's classes */
    float *base = (float *)(ws + tmp_off) + (size_t)omp_get_thread_num() * (2 * row_floats + classes);
    float *rows[2] = {base, base + row_floats}, *px = base + 2 * row_floats;
    int tag[2] = {-1, -1};
#pragma omp for schedule(static)
    for (int y = 0; y < dst_h; y++) {
      lin_taps ty = taps(y, img_h, dst_h);
      const float *r[2];
      for (int k = 0; k < 2; k++) {
        int want = k ? ty.i1 : ty.i0, slot = tag[0] == want ? 0 : tag[1] == want ? 1 : -1;
        if (slot < 0) { /* evict the slot the other tap does not use */
          int other = k ? ty.i0 : ty.i1;
          slot = tag[0] == other ? 1 : 0;
          resize_row(bk, ws, src, classes, want, t_h, t_w, img_w, rows[slot]);
          tag[slot] = want;
        }
        r[k] = rows[slot];
      }
      for (int x = 0; x < dst_w; x++) {
        lin_taps tx = taps(x, img_w, dst_w);
        nala_bilinear_px taps4 = {r[0] + (size_t)tx.i0 * classes, r[0] + (size_t)tx.i1 * classes,
                                  r[1] + (size_t)tx.i0 * classes, r[1] + (size_t)tx.i1 * classes,
                                  ty.w0, ty.w1, tx.w0, tx.w1};
        bk->blend(&taps4, classes, px);
        labels[(size_t)y * dst_w + x] = bk->argmax(px, classes);
      }
    }
  }
}
