/* Top k of a stable descending sort (mmdet's per-level `scores.sort(descending=True)` then
 * `[:nms_pre]`): a quickselect finds the k-th key, the keys above it and the first ties (by position)
 * are taken in position order, and only those k are sorted stably. Equal to sorting all n and
 * keeping k, for any ties. NaN ranks first, as in torch's descending sort. */
#include <math.h>
#include <string.h>

#include "det/det.h"

size_t nala_det_topk_ws_size(size_t n) { return 8 * n + 128; }

/* Sort key: NaN above everything (torch), as +inf; the tie with a real +inf is broken by position. */
static inline float key_of(float s) { return isnan(s) ? INFINITY : s; }

/* The k-th largest (0-based) of a[0..n), a reordered; Hoare-style partition with a median-of-three
 * pivot (no NaN in a). */
static float kth_largest(float *a, size_t n, size_t k) {
  size_t lo = 0, hi = n - 1;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    float x = a[lo], y = a[mid], z = a[hi];
    float pivot = (x > y) ? ((y > z) ? y : (x > z ? z : x)) : ((x > z) ? x : (y > z ? z : y));
    size_t i = lo, j = hi;
    while (i <= j) {
      while (a[i] > pivot)
        i++;
      while (a[j] < pivot)
        j--;
      if (i <= j) {
        float t = a[i];
        a[i] = a[j], a[j] = t;
        i++;
        if (j == 0)
          break;
        j--;
      }
    }
    if (k <= j)
      hi = j;
    else if (k >= i)
      lo = i;
    else
      return a[k];
  }
  return a[k];
}

nala_status nala_det_topk(const float *scores, size_t n, size_t k, int32_t *idx, size_t *n_out, void *ws,
                          size_t ws_bytes, nala_err *err) {
  if (!n_out || (n && (!scores || !idx)))
    return nala_fail(err, NALA_E_ARG, "topk: NULL scores, indices or count");
  if (n > (size_t)INT32_MAX)
    return nala_fail(err, NALA_E_ARG, "topk: %zu scores exceed the int32 index range", n);
  if (n && (!ws || ws_bytes < nala_det_topk_ws_size(n)))
    return nala_fail(err, NALA_E_NOMEM, "topk: workspace of %zu bytes, %zu scores need %zu", ws_bytes, n,
                     nala_det_topk_ws_size(n));
  size_t m = k < n ? k : n;
  *n_out = m;
  if (!m)
    return NALA_OK;
  unsigned char *p = ws;
  p += (64 - ((uintptr_t)p & 63)) & 63;
  float *keys = (float *)p;
  int32_t *tmp = (int32_t *)(p + 4 * n);
  if (m == n) {
    for (size_t i = 0; i < n; i++)
      idx[i] = (int32_t)i;
  } else {
    for (size_t i = 0; i < n; i++)
      keys[i] = key_of(scores[i]);
    float kth = kth_largest(keys, n, m - 1);
    size_t above = 0;
    for (size_t i = 0; i < n; i++)
      above += key_of(scores[i]) > kth;
    size_t ties = m - above, got = 0;
    for (size_t i = 0; i < n && got < m; i++) {
      float s = key_of(scores[i]);
      if (s > kth || (s == kth && ties > 0)) {
        ties -= s == kth;
        idx[got++] = (int32_t)i;
      }
    }
  }
  nala_det_sort_desc(idx, tmp, m, scores);
  return NALA_OK;
}
