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

#include "core/nn/prims.h"
#include "seg/seg_internal.h"

static const float *at(const char *ws, const seg_map *m, int y, int x) {
  return (const float *)(ws + m->off) + ((size_t)y * m->pitch + x) * m->ld;
}

int seg_argmax(const float *v, int n) {
  int best = 0;
  float bv = v[0];
  if (isnan(bv))
    return 0;
  for (int c = 1; c < n; c++) {
    if (isnan(v[c]))
      return c;
    if (v[c] > bv) /* strict: the first maximum wins */
      bv = v[c], best = c;
  }
  return best;
}

/* One pixel of the bilinear resize of src, all classes, into out: rows outer as nala_resize_op. */
static void resize_pixel(const char *ws, const seg_map *s, int classes, int y0, int y1, float hy0, float hy1, int x0,
                         int x1, float wx0, float wx1, float *out) {
  const float *p00 = at(ws, s, y0, x0), *p01 = at(ws, s, y0, x1);
  const float *p10 = at(ws, s, y1, x0), *p11 = at(ws, s, y1, x1);
  for (int c = 0; c < classes; c++)
    out[c] = hy0 * (wx0 * p00[c] + wx1 * p01[c]) + hy1 * (wx0 * p10[c] + wx1 * p11[c]);
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
    int y0, y1;
    float hy0, hy1;
    nala_linear_taps(y, logits->h, wh, &y0, &y1, &hy0, &hy1);
    for (int x = 0; x < ww; x++) {
      int x0, x1;
      float wx0, wx1;
      nala_linear_taps(x, logits->w, ww, &x0, &x1, &wx0, &wx1);
      size_t p = (size_t)(win.y1 + y) * t_w + win.x1 + x;
      float *a = acc + p * classes;
      const float *p00 = at(ws, logits, y0, x0), *p01 = at(ws, logits, y0, x1);
      const float *p10 = at(ws, logits, y1, x0), *p11 = at(ws, logits, y1, x1);
      for (int c = 0; c < classes; c++) {
        /* the resized value first, rounded to float as torch stores it, then the sum */
        float v = hy0 * (wx0 * p00[c] + wx1 * p01[c]) + hy1 * (wx0 * p10[c] + wx1 * p11[c]);
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
  for (int y = 0; y < dst_h; y++) {
    int y0, y1;
    float hy0, hy1;
    nala_linear_taps(y, src->h, dst_h, &y0, &y1, &hy0, &hy1);
    for (int x = 0; x < dst_w; x++) {
      int x0, x1;
      float wx0, wx1;
      nala_linear_taps(x, src->w, dst_w, &x0, &x1, &wx0, &wx1);
      resize_pixel(ws, src, classes, y0, y1, hy0, hy1, x0, x1, wx0, wx1, dst + ((size_t)y * dst_w + x) * classes);
    }
  }
}

void seg_resize_argmax(char *ws, const seg_map *src, int classes, size_t labels_off, int dst_h, int dst_w,
                       size_t tmp_off, int nthreads) {
  int32_t *labels = (int32_t *)(ws + labels_off);
  if (src->h == dst_h && src->w == dst_w) {
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int y = 0; y < dst_h; y++)
      for (int x = 0; x < dst_w; x++)
        labels[(size_t)y * dst_w + x] = seg_argmax(at(ws, src, y, x), classes);
    return;
  }
#pragma omp parallel num_threads(nthreads)
  {
    float *tmp = (float *)(ws + tmp_off) + (size_t)omp_get_thread_num() * classes;
#pragma omp for schedule(static)
    for (int y = 0; y < dst_h; y++) {
      int y0, y1;
      float hy0, hy1;
      nala_linear_taps(y, src->h, dst_h, &y0, &y1, &hy0, &hy1);
      for (int x = 0; x < dst_w; x++) {
        int x0, x1;
        float wx0, wx1;
        nala_linear_taps(x, src->w, dst_w, &x0, &x1, &wx0, &wx1);
        resize_pixel(ws, src, classes, y0, y1, hy0, hy1, x0, x1, wx0, wx1, tmp);
        labels[(size_t)y * dst_w + x] = seg_argmax(tmp, classes);
      }
    }
  }
}

/* Row r of resize(src -> t_h x t_w), columns [0, w): the values seg_resize writes there. */
static void resize_row(const char *ws, const seg_map *s, int classes, int r, int t_h, int t_w, int w, float *row) {
  int y0, y1;
  float hy0, hy1;
  nala_linear_taps(r, s->h, t_h, &y0, &y1, &hy0, &hy1);
  for (int x = 0; x < w; x++) {
    int x0, x1;
    float wx0, wx1;
    nala_linear_taps(x, s->w, t_w, &x0, &x1, &wx0, &wx1);
    resize_pixel(ws, s, classes, y0, y1, hy0, hy1, x0, x1, wx0, wx1, row + (size_t)x * classes);
  }
}

void seg_resize2_argmax(char *ws, const seg_map *src, int classes, int t_h, int t_w, int img_h, int img_w,
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
      int y0, y1;
      float hy0, hy1;
      nala_linear_taps(y, img_h, dst_h, &y0, &y1, &hy0, &hy1);
      const float *r[2];
      for (int k = 0; k < 2; k++) {
        int want = k ? y1 : y0, slot = tag[0] == want ? 0 : tag[1] == want ? 1 : -1;
        if (slot < 0) { /* evict the slot the other tap does not use */
          int other = k ? y0 : y1;
          slot = tag[0] == other ? 1 : 0;
          resize_row(ws, src, classes, want, t_h, t_w, img_w, rows[slot]);
          tag[slot] = want;
        }
        r[k] = rows[slot];
      }
      for (int x = 0; x < dst_w; x++) {
        int x0, x1;
        float wx0, wx1;
        nala_linear_taps(x, img_w, dst_w, &x0, &x1, &wx0, &wx1);
        const float *p00 = r[0] + (size_t)x0 * classes, *p01 = r[0] + (size_t)x1 * classes;
        const float *p10 = r[1] + (size_t)x0 * classes, *p11 = r[1] + (size_t)x1 * classes;
        for (int c = 0; c < classes; c++)
          px[c] = hy0 * (wx0 * p00[c] + wx1 * p01[c]) + hy1 * (wx0 * p10[c] + wx1 * p11[c]);
        labels[(size_t)y * dst_w + x] = seg_argmax(px, classes);
      }
    }
  }
}
