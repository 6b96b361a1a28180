/* Streaming confusion-matrix segmentation metrics; semantics and the float32 parity contract are
 * documented in include/nala/seg_metrics.h. */
#include "nala/seg_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ROW_IGNORED UINT32_MAX

struct nala_seg_metrics {
  int num_classes, ignore_index;
  int side;                     /* num_classes + 1: the last row/column holds out-of-range values */
  uint32_t row_offset[256];     /* label value -> row * side, or ROW_IGNORED */
  uint16_t column[256];         /* prediction value -> column */
  uint64_t images;
  nala_seg_image_counts totals;
  uint64_t *confusion;          /* side x side dataset totals */
  uint64_t *image_confusion;    /* side x side scratch for the image being added */
  /* mmseg's running float32 sums of the per-image histc results, in add order. */
  float *intersect_f32, *union_f32, *label_f32;
};

nala_status nala_seg_metrics_create(int num_classes, int ignore_index, nala_seg_metrics **out, nala_err *err) {
  if (!out)
    return nala_fail(err, NALA_E_ARG, "nala_seg_metrics_create: out is NULL");
  *out = NULL;
  if (num_classes < 1 || num_classes > NALA_SEG_MAX_CLASSES)
    return nala_fail(err, NALA_E_ARG, "nala_seg_metrics_create: num_classes %d outside [1, %d]", num_classes,
                     NALA_SEG_MAX_CLASSES);
  if (ignore_index != NALA_SEG_NO_IGNORE && (ignore_index < 0 || ignore_index > 255))
    return nala_fail(err, NALA_E_ARG, "nala_seg_metrics_create: ignore_index %d is neither in [0, 255] nor -1",
                     ignore_index);
  nala_seg_metrics *m = calloc(1, sizeof *m);
  if (!m)
    return nala_fail(err, NALA_E_NOMEM, "nala_seg_metrics_create: out of memory");
  m->num_classes = num_classes;
  m->ignore_index = ignore_index;
  m->side = num_classes + 1;
  size_t cells = (size_t)m->side * (size_t)m->side;
  m->confusion = calloc(cells, sizeof *m->confusion);
  m->image_confusion = calloc(cells, sizeof *m->image_confusion);
  m->intersect_f32 = calloc((size_t)num_classes * 3, sizeof(float));
  if (!m->confusion || !m->image_confusion || !m->intersect_f32) {
    nala_seg_metrics_free(m);
    return nala_fail(err, NALA_E_NOMEM, "nala_seg_metrics_create: out of memory for %d classes", num_classes);
  }
  m->union_f32 = m->intersect_f32 + num_classes;
  m->label_f32 = m->union_f32 + num_classes;
  for (int v = 0; v < 256; v++) {
    int index = v < num_classes ? v : num_classes;
    m->row_offset[v] = v == ignore_index ? ROW_IGNORED : (uint32_t)(index * m->side);
    m->column[v] = (uint16_t)index;
  }
  nala_seg_metrics_reset(m);
  *out = m;
  return NALA_OK;
}

void nala_seg_metrics_free(nala_seg_metrics *m) {
  if (!m)
    return;
  free(m->confusion);
  free(m->image_confusion);
  free(m->intersect_f32);
  free(m);
}

void nala_seg_metrics_reset(nala_seg_metrics *m) {
  if (!m)
    return;
  size_t cells = (size_t)m->side * (size_t)m->side;
  memset(m->confusion, 0, cells * sizeof *m->confusion);
  memset(m->intersect_f32, 0, (size_t)m->num_classes * 3 * sizeof(float));
  m->images = 0;
  memset(&m->totals, 0, sizeof m->totals);
  m->totals.first_bad_label = -1;
  m->totals.first_bad_pred = -1;
}

/* Folds image_confusion and the image's counts into the dataset totals, and feeds mmseg's float32
 * running sums with this image's histograms exactly as IoUMetric.intersect_and_union produces them. */
static void fold_image(nala_seg_metrics *m, const nala_seg_image_counts *seen) {
  const int n = m->num_classes, side = m->side;
  const uint64_t *img = m->image_confusion;
  for (size_t i = 0, cells = (size_t)side * (size_t)side; i < cells; i++)
    m->confusion[i] += img[i];
  for (int c = 0; c < n; c++) {
    uint64_t label_area = 0, pred_area = 0;
    for (int k = 0; k < side; k++) {
      label_area += img[(size_t)c * side + k];
      pred_area += img[(size_t)k * side + c];
    }
    /* torch.histc returns float32; area_union = area_pred + area_label - area_intersect in
     * float32; IoUMetric.compute_metrics then sums the per-image tensors with Python's sum(). */
    float inter_f = (float)img[(size_t)c * side + c], pred_f = (float)pred_area, label_f = (float)label_area;
    float union_f = (pred_f + label_f) - inter_f;
    m->intersect_f32[c] += inter_f;
    m->union_f32[c] += union_f;
    m->label_f32[c] += label_f;
  }
  m->images++;
  nala_seg_image_counts *t = &m->totals;
  t->pixels += seen->pixels;
  t->ignored += seen->ignored;
  t->label_out_of_range += seen->label_out_of_range;
  t->pred_out_of_range += seen->pred_out_of_range;
  if (t->first_bad_label < 0)
    t->first_bad_label = seen->first_bad_label;
  if (t->first_bad_pred < 0)
    t->first_bad_pred = seen->first_bad_pred;
}

nala_status nala_seg_metrics_add(nala_seg_metrics *m, const uint8_t *pred, size_t pred_stride, const uint8_t *label,
                                 size_t label_stride, int h, int w, nala_seg_image_counts *counts, nala_err *err) {
  if (!m || !pred || !label)
    return nala_fail(err, NALA_E_ARG, "nala_seg_metrics_add: %s is NULL", !m ? "metrics" : !pred ? "pred" : "label");
  if (h < 0 || w < 0 || pred_stride < (size_t)w || label_stride < (size_t)w)
    return nala_fail(err, NALA_E_ARG,
                     "nala_seg_metrics_add: bad shape h=%d w=%d pred_stride=%zu label_stride=%zu (strides must be >= w)",
                     h, w, pred_stride, label_stride);
  nala_seg_image_counts seen = {.pixels = (uint64_t)h * (uint64_t)w, .first_bad_label = -1, .first_bad_pred = -1};
  const int n = m->num_classes;
  uint64_t *img = m->image_confusion;
  memset(img, 0, (size_t)m->side * (size_t)m->side * sizeof *img);
  for (int y = 0; y < h; y++) {
    const uint8_t *pred_row = pred + (size_t)y * pred_stride, *label_row = label + (size_t)y * label_stride;
    for (int x = 0; x < w; x++) {
      uint8_t p = pred_row[x], l = label_row[x];
      if (p >= n) {
        seen.pred_out_of_range++;
        if (seen.first_bad_pred < 0)
          seen.first_bad_pred = p;
      }
      uint32_t row = m->row_offset[l];
      if (row == ROW_IGNORED) {
        seen.ignored++;
        continue;
      }
      if (l >= n) {
        seen.label_out_of_range++;
        if (seen.first_bad_label < 0)
          seen.first_bad_label = l;
      }
      img[row + m->column[p]]++;
    }
  }
  fold_image(m, &seen);
  if (counts)
    *counts = seen;
  return NALA_OK;
}

nala_status nala_seg_metrics_add_confusion(nala_seg_metrics *m, const uint64_t *confusion, int side,
                                           const nala_seg_image_counts *counts, nala_err *err) {
  if (!m || !confusion)
    return nala_fail(err, NALA_E_ARG, "nala_seg_metrics_add_confusion: %s is NULL", !m ? "metrics" : "confusion");
  if (side != m->side)
    return nala_fail(err, NALA_E_ARG, "nala_seg_metrics_add_confusion: side %d, the metrics of %d classes need %d",
                     side, m->num_classes, m->side);
  nala_seg_image_counts none = {.first_bad_label = -1, .first_bad_pred = -1};
  memcpy(m->image_confusion, confusion, (size_t)side * (size_t)side * sizeof *confusion);
  fold_image(m, counts ? counts : &none);
  return NALA_OK;
}

const uint64_t *nala_seg_metrics_confusion(const nala_seg_metrics *m, int *side) {
  if (side)
    *side = m ? m->side : 0;
  return m ? m->confusion : NULL;
}

const uint64_t *nala_seg_metrics_image_confusion(const nala_seg_metrics *m, int *side) {
  if (side)
    *side = m ? m->side : 0;
  return m ? m->image_confusion : NULL;
}

/* numpy's pairwise_sum (numpy/core/src/umath/loops_utils.h.src), for float32 and for float64 (so
 * exact means round like np.nanmean on float64 arrays): 8 accumulators over blocks of at most 128
 * values, halves split on a multiple of 8 above that. (numpy starts short sums from -0.0 in newer
 * releases; same result for our sums.) */
#define DEFINE_PAIRWISE_SUM(name, T)                                                                       \
  static T name(const T *a, size_t n) {                                                                    \
    if (n < 8) {                                                                                           \
      T sum = 0;                                                                                           \
      for (size_t i = 0; i < n; i++)                                                                       \
        sum += a[i];                                                                                       \
      return sum;                                                                                          \
    }                                                                                                      \
    if (n <= 128) {                                                                                        \
      T r[8];                                                                                              \
      for (int j = 0; j < 8; j++)                                                                          \
        r[j] = a[j];                                                                                       \
      size_t i = 8;                                                                                        \
      for (; i < n - (n % 8); i += 8)                                                                      \
        for (int j = 0; j < 8; j++)                                                                        \
          r[j] += a[i + j];                                                                                \
      T sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));                           \
      for (; i < n; i++)                                                                                   \
        sum += a[i];                                                                                       \
      return sum;                                                                                          \
    }                                                                                                      \
    size_t half = n / 2;                                                                                   \
    half -= half % 8;                                                                                      \
    return name(a, half) + name(a + half, n - half);                                                       \
  }
DEFINE_PAIRWISE_SUM(pairwise_sum_f32, float)
DEFINE_PAIRWISE_SUM(pairwise_sum_f64, double)

/* torch 1.13's float32 Tensor.sum() on CPU (aten/src/ATen/native/cpu/SumKernel.cpp, cascade_sum):
 * rows shorter than one vector are summed as 4 interleaved scalars; longer ones as 4 interleaved
 * 8-lane (AVX2) vectors plus the remaining vectors, the scalar tail, then the 8 lanes in order.
 * With n <= 256 there are fewer than 16 vector groups, so the cascade levels never flush.
 * AVX2 is torch 1.13's default dispatch even on AVX-512 CPUs; under ATEN_CPU_CAPABILITY=avx512 it
 * sums 16 lanes and aAcc can differ in its last float32 bit (checked against torch both ways). */
static float torch_sum_f32(const float *a, size_t n) {
  enum { LANES = 8, ILP = 4 };
  if (n < LANES) {
    float part[ILP] = {0};
    size_t i = 0;
    for (; i + ILP <= n; i += ILP)
      for (int k = 0; k < ILP; k++)
        part[k] += a[i + k];
    for (; i < n; i++)
      part[0] += a[i];
    return ((part[0] + part[1]) + part[2]) + part[3];
  }
  size_t vectors = n / LANES, v = 0;
  float part[ILP][LANES] = {{0}};
  for (; v + ILP <= vectors; v += ILP)
    for (int k = 0; k < ILP; k++)
      for (int l = 0; l < LANES; l++)
        part[k][l] += a[(v + k) * LANES + l];
  for (; v < vectors; v++)
    for (int l = 0; l < LANES; l++)
      part[0][l] += a[v * LANES + l];
  for (int k = 1; k < ILP; k++)
    for (int l = 0; l < LANES; l++)
      part[0][l] += part[k][l];
  float sum = 0.0f;
  for (size_t i = vectors * LANES; i < n; i++)
    sum += a[i];
  for (int l = 0; l < LANES; l++)
    sum += part[0][l];
  return sum;
}

/* np.nanmean of a float32 vector: NaNs become 0 in a copy, pairwise float32 sum, then
 * _divide_by_count computes float32(float64(total) / count). */
static float nanmean_f32(const float *v, int n) {
  float kept[NALA_SEG_MAX_CLASSES] = {0};
  int count = 0;
  for (int i = 0; i < n; i++) {
    kept[i] = isnan(v[i]) ? 0.0f : v[i];
    count += !isnan(v[i]);
  }
  return (float)((double)pairwise_sum_f32(kept, (size_t)n) / (double)count);
}

static double nanmean_f64(const double *v, int n) {
  double kept[NALA_SEG_MAX_CLASSES] = {0};
  int count = 0;
  for (int i = 0; i < n; i++) {
    kept[i] = isnan(v[i]) ? 0.0 : v[i];
    count += !isnan(v[i]);
  }
  return count ? pairwise_sum_f64(kept, (size_t)n) / count : NAN;
}

static double ratio(uint64_t num, uint64_t den) { return den ? (double)num / (double)den : NAN; }

void nala_seg_metrics_result(const nala_seg_metrics *m, nala_seg_result *out) {
  memset(out, 0, sizeof *out);
  if (!m)
    return;
  const int n = m->num_classes, side = m->side;
  out->num_classes = n;
  out->images = m->images;
  out->totals = m->totals;
  uint64_t all_intersect = 0, all_label = 0;
  double iou[NALA_SEG_MAX_CLASSES], acc[NALA_SEG_MAX_CLASSES];
  float iou_f[NALA_SEG_MAX_CLASSES], acc_f[NALA_SEG_MAX_CLASSES];
  for (int c = 0; c < n; c++) {
    nala_seg_class_result *r = &out->cls[c];
    for (int k = 0; k < side; k++) {
      r->label_area += m->confusion[(size_t)c * side + k];
      r->pred_area += m->confusion[(size_t)k * side + c];
    }
    r->intersect = m->confusion[(size_t)c * side + c];
    r->union_area = r->pred_area + r->label_area - r->intersect;
    iou[c] = r->iou = ratio(r->intersect, r->union_area);
    acc[c] = r->acc = ratio(r->intersect, r->label_area);
    /* float32 0/0 is NaN, as in torch, so no special case is needed here. */
    iou_f[c] = r->iou_mmseg = m->intersect_f32[c] / m->union_f32[c];
    acc_f[c] = r->acc_mmseg = m->intersect_f32[c] / m->label_f32[c];
    all_intersect += r->intersect;
    all_label += r->label_area;
  }
  out->aacc = ratio(all_intersect, all_label);
  out->miou = nanmean_f64(iou, n);
  out->macc = nanmean_f64(acc, n);
  /* aAcc in mmseg is torch's float32 .sum() of each total, then a float32 division. */
  out->aacc_mmseg = torch_sum_f32(m->intersect_f32, (size_t)n) / torch_sum_f32(m->label_f32, (size_t)n);
  out->miou_mmseg = nanmean_f32(iou_f, n);
  out->macc_mmseg = nanmean_f32(acc_f, n);
}

double nala_seg_round_pct(double fraction) {
  /* np.round(x, 2) is rint(x * 100) / 100 after mmseg's own * 100. */
  return rint(fraction * 100.0 * 100.0) / 100.0;
}

float nala_seg_round_pct_f32(float fraction) {
  /* On an np.float32 every step stays float32: numpy casts the Python 100 and 100.0 to float32. */
  float pct = fraction * 100.0f;
  return rintf(pct * 100.0f) / 100.0f;
}
