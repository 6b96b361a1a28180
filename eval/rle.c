/* COCO RLE masks: the run-walking operations of pycocotools' maskApi.c (encode, decode, merge,
 * area, bbox, IoU), reproduced state for state so that odd inputs (zero-length runs) give the
 * same runs and the same IoUs as pycocotools. */
#include "nala/rle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/rle_internal.h"

void nala_rle_free(nala_rle *r) {
  if (!r)
    return;
  free(r->counts);
  memset(r, 0, sizeof *r);
}

static uint64_t counts_sum(const nala_rle *r) {
  uint64_t sum = 0;
  for (uint32_t j = 0; j < r->m; j++)
    sum += r->counts[j];
  return sum;
}

nala_status nala_rle_validate(const nala_rle *r, nala_err *err) {
  if (!r || (r->m && !r->counts))
    return nala_fail(err, NALA_E_ARG, "RLE is NULL");
  uint64_t want = (uint64_t)r->h * r->w, sum = counts_sum(r);
  if (want > UINT32_MAX)
    return nala_fail(err, NALA_E_FORMAT, "RLE size %ux%u exceeds 2^32 pixels", r->h, r->w);
  if (sum != want)
    return nala_fail(err, NALA_E_FORMAT, "RLE counts sum to %llu, expected h*w = %ux%u = %llu",
                     (unsigned long long)sum, r->h, r->w, (unsigned long long)want);
  return NALA_OK;
}

nala_status nala_rle_init(nala_rle *r, uint32_t h, uint32_t w, uint32_t m, const uint32_t *counts,
                          nala_err *err) {
  r->h = h;
  r->w = w;
  r->m = m;
  r->counts = NULL;
  if (m == 0)
    return NALA_OK;
  r->counts = malloc(sizeof(uint32_t) * m);
  if (!r->counts) {
    r->m = 0;
    return nala_fail(err, NALA_E_NOMEM, "out of memory for an RLE of %u runs", m);
  }
  if (counts)
    memcpy(r->counts, counts, sizeof(uint32_t) * m);
  return NALA_OK;
}

nala_status nala_rle_encode(const uint8_t *mask, uint32_t h, uint32_t w, nala_rle *out, nala_err *err) {
  if (!mask || !out)
    return nala_fail(err, NALA_E_ARG, "nala_rle_encode: NULL argument");
  uint64_t area = (uint64_t)h * w;
  if (area > UINT32_MAX)
    return nala_fail(err, NALA_E_ARG, "nala_rle_encode: %ux%u exceeds 2^32 pixels", h, w);
  uint32_t runs = 1;
  for (uint64_t j = 0, prev = 0; j < area; j++)
    if ((mask[j] != 0) != prev) {
      runs++;
      prev = !prev;
    }
  NALA_CHECK(nala_rle_init(out, h, w, runs, NULL, err));
  uint32_t k = 0, run = 0;
  int prev = 0;
  for (uint64_t j = 0; j < area; j++) {
    if ((mask[j] != 0) != prev) {
      out->counts[k++] = run;
      run = 0;
      prev = !prev;
    }
    run++;
  }
  out->counts[k] = run;
  return NALA_OK;
}

nala_status nala_rle_decode(const nala_rle *r, uint8_t *mask, nala_err *err) {
  if (!mask)
    return nala_fail(err, NALA_E_ARG, "nala_rle_decode: NULL mask");
  NALA_CHECK(nala_rle_validate(r, err));
  uint8_t value = 0;
  for (uint32_t j = 0; j < r->m; j++) {
    memset(mask, value, r->counts[j]);
    mask += r->counts[j];
    value = !value;
  }
  return NALA_OK;
}

/* A cursor over runs that steps over zero-length runs (each still flips the value). */
typedef struct run_cursor {
  const uint32_t *cnt;
  uint32_t m, i, left;
  int value;
} run_cursor;

static void cursor_skip_empty(run_cursor *c) {
  while (c->left == 0 && c->i + 1 < c->m) {
    c->left = c->cnt[++c->i];
    c->value = !c->value;
  }
}

/* One union/intersection step of rleMerge: out gets the runs of a (op) b, both summing to total.
 * maskApi stops when both cursors sit on an empty run, so an interior zero-length run ends its
 * merge early ([5,3,0,8] | itself = [5,3], which does not cover the mask); stepping over empty
 * runs gives the same runs on every other input and a whole mask on these. */
static uint32_t merge_two(const uint32_t *a_cnt, uint32_t a_m, const uint32_t *b_cnt, uint32_t b_m,
                          int intersect, uint64_t total, uint32_t *out) {
  run_cursor a = {a_cnt, a_m, 0, a_cnt[0], 0}, b = {b_cnt, b_m, 0, b_cnt[0], 0};
  uint32_t m = 0, cc = 0;
  int v = 0;
  for (uint64_t done = 0; done < total;) {
    cursor_skip_empty(&a);
    cursor_skip_empty(&b);
    uint32_t c = a.left < b.left ? a.left : b.left;
    if (c == 0)
      break; /* unreachable for inputs that sum to total */
    int now = intersect ? (a.value && b.value) : (a.value || b.value);
    if (now != v) {
      out[m++] = cc;
      cc = 0;
      v = now;
    }
    cc += c;
    done += c;
    a.left -= c;
    b.left -= c;
  }
  out[m++] = cc;
  return m;
}

nala_status nala_rle_merge(const nala_rle *rles, size_t n, int intersect, nala_rle *out, nala_err *err) {
  if (!out || (n && !rles))
    return nala_fail(err, NALA_E_ARG, "nala_rle_merge: NULL argument");
  if (n == 0)
    return nala_rle_init(out, 0, 0, 0, NULL, err);
  uint32_t h = rles[0].h, w = rles[0].w;
  if (n == 1)
    return nala_rle_init(out, h, w, rles[0].m, rles[0].counts, err);
  size_t cap = 1;
  for (size_t i = 0; i < n; i++) {
    if (rles[i].h != h || rles[i].w != w)
      return nala_fail(err, NALA_E_SHAPE, "nala_rle_merge: RLE %zu is %ux%u, RLE 0 is %ux%u", i, rles[i].h,
                       rles[i].w, h, w);
    if (rles[i].m == 0)
      return nala_fail(err, NALA_E_FORMAT, "nala_rle_merge: RLE %zu has no runs", i);
    nala_status st = nala_rle_validate(&rles[i], err);
    if (st != NALA_OK)
      return nala_err_prefix(err, "nala_rle_merge: RLE %zu: ", i);
    cap += rles[i].m;
  }
  if (cap > UINT32_MAX)
    return nala_fail(err, NALA_E_ARG, "nala_rle_merge: too many runs (%zu)", cap);
  /* Each step emits at most one run per input run consumed (plus the first), so 1 + the sum of the
   * m bounds every result. */
  uint32_t *buf = malloc(sizeof(uint32_t) * cap * 2);
  if (!buf)
    return nala_fail(err, NALA_E_NOMEM, "nala_rle_merge: out of memory for %zu runs", cap);
  uint32_t *acc = buf, *next = buf + cap, acc_m = rles[0].m;
  memcpy(acc, rles[0].counts, sizeof(uint32_t) * acc_m);
  for (size_t i = 1; i < n; i++) {
    uint32_t m = merge_two(acc, acc_m, rles[i].counts, rles[i].m, intersect, (uint64_t)h * w, next);
    uint32_t *t = acc;
    acc = next;
    next = t;
    acc_m = m;
  }
  nala_status st = nala_rle_init(out, h, w, acc_m, acc, err);
  free(buf);
  return st;
}

uint64_t nala_rle_area(const nala_rle *r) {
  uint64_t area = 0;
  for (uint32_t j = 1; j < r->m; j += 2)
    area += r->counts[j];
  return area;
}

void nala_rle_bbox_begin(nala_rle_bbox_acc *acc, uint32_t h, uint32_t w, uint32_t m) {
  acc->h = h;
  acc->m_even = (m / 2) * 2; /* maskApi drops an odd last run: it is background anyway */
  acc->xs = w;
  acc->ys = h;
  acc->xe = acc->ye = acc->cc = 0;
}

void nala_rle_bbox_add(nala_rle_bbox_acc *acc, uint32_t j, uint32_t count) {
  /* Unsigned 32-bit arithmetic like maskApi rleToBbox. */
  if (j >= acc->m_even || acc->h == 0)
    return;
  uint32_t start = acc->cc, h = acc->h;
  acc->cc += count;
  if (j % 2 == 0 || count == 0)
    return;
  uint32_t y_start = start % h, x_start = (start - y_start) / h;
  uint32_t y_end = (acc->cc - 1) % h, x_end = (acc->cc - 1 - y_end) / h;
  acc->xs = acc->xs < x_start ? acc->xs : x_start;
  acc->xe = acc->xe > x_end ? acc->xe : x_end;
  if (x_start < x_end) { /* the run crosses a column: the box spans the full height */
    acc->ys = 0;
    acc->ye = h - 1;
  } else {
    acc->ys = acc->ys < y_start ? acc->ys : y_start;
    acc->ye = acc->ye > y_end ? acc->ye : y_end;
  }
}

void nala_rle_bbox_end(const nala_rle_bbox_acc *acc, double bbox[4]) {
  if (acc->m_even == 0 || acc->h == 0) {
    bbox[0] = bbox[1] = bbox[2] = bbox[3] = 0;
    return;
  }
  /* An RLE whose foreground runs are all empty wraps here exactly as in maskApi. */
  bbox[0] = acc->xs;
  bbox[2] = (uint32_t)(acc->xe - acc->xs + 1);
  bbox[1] = acc->ys;
  bbox[3] = (uint32_t)(acc->ye - acc->ys + 1);
}

void nala_rle_to_bbox(const nala_rle *r, double bbox[4]) {
  nala_rle_bbox_acc acc;
  nala_rle_bbox_begin(&acc, r->h, r->w, r->m);
  for (uint32_t j = 0; j < acc.m_even; j++)
    nala_rle_bbox_add(&acc, j, r->counts[j]);
  nala_rle_bbox_end(&acc, bbox);
}

double nala_box_iou_one(const double *dt, const double *gt, int crowd) {
  double w = fmin(dt[2] + dt[0], gt[2] + gt[0]) - fmax(dt[0], gt[0]);
  if (w <= 0)
    return 0;
  double h = fmin(dt[3] + dt[1], gt[3] + gt[1]) - fmax(dt[1], gt[1]);
  if (h <= 0)
    return 0;
  double inter = w * h, dt_area = dt[2] * dt[3], gt_area = gt[2] * gt[3];
  double uni = crowd ? dt_area : dt_area + gt_area - inter;
  return inter / uni;
}

double nala_rle_iou_one(const nala_rle *dt, const nala_rle *gt, int crowd) {
  if (dt->h != gt->h || dt->w != gt->w)
    return -1;
  if (dt->m == 0 || gt->m == 0)
    return 0;
  const uint32_t *da = dt->counts, *gb = gt->counts;
  uint32_t ca = da[0], cb = gb[0], ka = dt->m, kb = gt->m, a = 1, b = 1, inter = 0, uni = 0, ct = 1;
  int va = 0, vb = 0;
  while (ct > 0) {
    uint32_t c = ca < cb ? ca : cb;
    if (va || vb) {
      uni += c;
      if (va && vb)
        inter += c;
    }
    ct = 0;
    ca -= c;
    if (!ca && a < ka) {
      ca = da[a++];
      va = !va;
    }
    ct += ca;
    cb -= c;
    if (!cb && b < kb) {
      cb = gb[b++];
      vb = !vb;
    }
    ct += cb;
  }
  if (inter == 0)
    uni = 1;
  else if (crowd)
    uni = (uint32_t)nala_rle_area(dt);
  return (double)inter / (double)uni;
}

void nala_rle_iou(const nala_rle *dt, size_t m, const nala_rle *gt, size_t n, const uint8_t *iscrowd,
                  double *iou) {
  double dbox[4], gbox[4];
  for (size_t d = 0; d < m; d++) {
    nala_rle_to_bbox(&dt[d], dbox);
    for (size_t g = 0; g < n; g++) {
      int crowd = iscrowd && iscrowd[g];
      nala_rle_to_bbox(&gt[g], gbox);
      /* The box overlap decides first, as in rleIou: disjoint boxes give 0 even for mismatched sizes. */
      double pre = nala_box_iou_one(dbox, gbox, crowd);
      iou[d * n + g] = pre > 0 ? nala_rle_iou_one(&dt[d], &gt[g], crowd) : pre;
    }
  }
}

void nala_bbox_iou(const double *dt, size_t m, const double *gt, size_t n, const uint8_t *iscrowd,
                   double *iou) {
  for (size_t d = 0; d < m; d++)
    for (size_t g = 0; g < n; g++)
      iou[d * n + g] = nala_box_iou_one(dt + 4 * d, gt + 4 * g, iscrowd && iscrowd[g]);
}
