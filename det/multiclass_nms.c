/* mmdet multiclass_nms (mmdet/models/layers/bbox_nms.py) for class-specific boxes at test time:
 *   scores = scores[:, :-1]                      background (last column) dropped
 *   bboxes [n, n_cls, 4], labels = arange(n_cls) expanded, all flattened box-major / class-minor
 *   valid = scores > score_thr                   strict
 *   batched_nms(bboxes[valid], scores[valid], labels[valid], nms)   mmcv, by class (offset trick)
 *   dets[:max_num]
 * The candidate order matters only on exact score ties (stable sort by position). */
#include <string.h>

#include "det/det.h"

size_t nala_det_multiclass_nms_ws_size(size_t n, int n_cls) {
  size_t m = n * (size_t)(n_cls > 0 ? n_cls : 0);
  return m * (16 + 4 + 4 + 4 + 4) + nala_det_nms_ws_size(m) + 6 * 64;
}

static void *take(unsigned char **p, size_t bytes) {
  *p += (64 - ((uintptr_t)*p & 63)) & 63;
  void *out = *p;
  *p += bytes;
  return out;
}

nala_status nala_det_multiclass_nms(const float *boxes, const float *scores, size_t n, int n_cls, float score_thr,
                                    float iou_thr, size_t max_num, float *out_boxes, float *out_scores,
                                    int32_t *out_labels, size_t *n_out, void *ws, size_t ws_bytes, nala_err *err) {
  if (!n_out || n_cls <= 0 || (n && (!boxes || !scores)) || (max_num && (!out_boxes || !out_scores || !out_labels)))
    return nala_fail(err, NALA_E_ARG, "multiclass nms: NULL buffer or %d classes", n_cls);
  size_t need = nala_det_multiclass_nms_ws_size(n, n_cls);
  if (n && (!ws || ws_bytes < need))
    return nala_fail(err, NALA_E_NOMEM, "multiclass nms: workspace of %zu bytes, %zu boxes x %d classes need %zu",
                     ws_bytes, n, n_cls, need);
  *n_out = 0;
  if (!n)
    return NALA_OK;
  size_t cap = n * (size_t)n_cls;
  unsigned char *p = ws;
  float *cb = take(&p, cap * 16), *cs = take(&p, cap * 4);
  int32_t *cl = take(&p, cap * 4), *keep = take(&p, cap * 4);
  void *nms_ws = take(&p, nala_det_nms_ws_size(cap));
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    const float *row = scores + i * (size_t)(n_cls + 1);
    for (int j = 0; j < n_cls; j++)
      if (row[j] > score_thr) {
        memcpy(cb + 4 * m, boxes + (i * (size_t)n_cls + (size_t)j) * 4, 16);
        cs[m] = row[j];
        cl[m] = j;
        m++;
      }
  }
  if (!m)
    return NALA_OK;
  nala_det_nms_cfg cfg = nala_det_nms_default(iou_thr);
  cfg.max_keep = max_num;
  size_t kept = 0;
  NALA_CHECK(nala_det_batched_nms(cb, cs, cl, m, &cfg, keep, &kept, nms_ws, nala_det_nms_ws_size(m), err));
  if (max_num && kept > max_num)
    kept = max_num;
  for (size_t k = 0; k < kept; k++) {
    memcpy(out_boxes + 4 * k, cb + 4 * (size_t)keep[k], 16);
    out_scores[k] = cs[keep[k]];
    out_labels[k] = cl[keep[k]];
  }
  *n_out = kept;
  return NALA_OK;
}
