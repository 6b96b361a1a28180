/* Polygon and box rasterisation into COCO RLE, bit-exact with pycocotools' rleFrPoly: the outline
 * is walked on a x5 grid, column crossings are snapped back to pixel centres and the sorted
 * crossing positions become run boundaries. Every rounding below ((int)(v + .5) truncation,
 * ceil after clamping y to [0, h]) is part of what makes the masks identical.
 *
 * maskApi stores every point of the walk, one per x5 step of each edge's longer axis, so a vertex
 * far outside the image costs memory in proportion to its distance (1e7 px: 200 MB per edge). Here
 * the walk is streamed and only the points that can decide a crossing are visited:
 *  - a crossing is a pair of consecutive points whose x5 columns u differ, and it counts only
 *    when min(u) is 5n+2 for a column n in [0, w-1]; both points then lie in [2, 5w-2];
 *  - along one edge u is monotone in the step and moves by at most 1 (2 with rounding at 1e9), so
 *    a stretch of the walk outside [lo, hi] leaves and comes back on the same side: the two
 *    points around it share their u (or sit in the margin, where no pair counts) and dropping the
 *    stretch adds no pair and removes none;
 *  - within a run of equal u only the first and last points can pair with a different u.
 * So each edge visits at most two points per x5 column of the image (found by galloping over the
 * monotone u), and the crossings found are exactly maskApi's. */
#include <math.h>
#include <stdlib.h>

#include "eval/rle_internal.h"

#define POLY_SCALE 5.0
/* maskApi does 5*v and the difference of two such values in int: beyond ~2.1e8 it overflows and
 * has no defined result. 1e8 (100x any image nala accepts) keeps every step of the walk in int. */
#define POLY_COORD_MAX 1e8
#define POLY_MARGIN 5 /* x5 columns kept beyond [0, 5w]: no pair within them can count */

typedef struct poly_edge {
  int xs, ys, len, flip, x_major;
  double slope;
} poly_edge;

typedef struct poly_walk {
  uint32_t h, w;
  int lo, hi;      /* x5 columns that can take part in a crossing */
  int have_prev, prev_u, prev_v;
  uint32_t *cross; /* crossings as x*h + y */
  size_t n_cross, cap;
  int oom;
} poly_walk;

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x > y ? 1 : x < y ? -1 : 0;
}

/* Point d of an edge exactly as maskApi computes it (t counts from the unflipped start). */
static void edge_point(const poly_edge *e, int64_t d, int *u, int *v) {
  int t = (int)(e->flip ? e->len - d : d);
  if (e->x_major) {
    *u = t + e->xs;
    /* A zero-length edge is 0/0 = NaN slope in maskApi ((int)NaN is undefined behaviour). Its one
     * point is the vertex; its neighbours share its u unless the vertex is at x5 <= -1, where no
     * crossing counts, so its v never reaches a mask and the vertex's own y stands in. */
    *v = e->len ? (int)(e->ys + e->slope * t + .5) : e->ys;
  } else {
    *v = t + e->ys;
    *u = (int)(e->xs + e->slope * t + .5);
  }
}

static int edge_u(const poly_edge *e, int64_t d) {
  int u, v;
  edge_point(e, d, &u, &v);
  return u;
}

/* Feeds one walk point: a change of column against the previous point may be a crossing. */
static void walk_point(poly_walk *pw, int u, int v) {
  int pu = pw->prev_u, pv = pw->prev_v, had = pw->have_prev;
  pw->prev_u = u;
  pw->prev_v = v;
  pw->have_prev = 1;
  if (!had || u == pu)
    return;
  double xd = (double)(u < pu ? u : u - 1);
  xd = (xd + .5) / POLY_SCALE - .5;
  if (floor(xd) != xd || xd < 0 || xd > (double)(pw->w - 1))
    return;
  double yd = (double)(v < pv ? v : pv);
  yd = (yd + .5) / POLY_SCALE - .5;
  if (yd < 0)
    yd = 0;
  else if (yd > pw->h)
    yd = pw->h;
  yd = ceil(yd);
  if (pw->n_cross == pw->cap) {
    size_t cap = pw->cap ? pw->cap * 2 : 256;
    uint32_t *grown = realloc(pw->cross, sizeof(uint32_t) * cap);
    if (!grown) {
      pw->oom = 1;
      return;
    }
    pw->cross = grown;
    pw->cap = cap;
  }
  pw->cross[pw->n_cross++] = (uint32_t)xd * pw->h + (uint32_t)yd; /* < h*w: x < w, y <= h */
}

/* Largest d' >= d on the edge whose u equals u(d) (u is monotone, so the run is contiguous). */
static int64_t run_end(const poly_edge *e, int64_t d, int u) {
  int64_t good = d, bad = (int64_t)e->len + 1, step = 1;
  while (good + step <= e->len) {
    if (edge_u(e, good + step) != u) {
      bad = good + step;
      break;
    }
    good += step;
    step *= 2;
  }
  while (bad - good > 1) {
    int64_t mid = good + (bad - good) / 2;
    if (edge_u(e, mid) == u)
      good = mid;
    else
      bad = mid;
  }
  return good;
}

static void walk_edge(poly_walk *pw, const poly_edge *e) {
  int u0 = edge_u(e, 0), u1 = edge_u(e, e->len);
  int64_t d = 0;
  if (u0 < pw->lo || u0 > pw->hi) {
    int below = u0 < pw->lo;
    if (below ? u1 < pw->lo : u1 > pw->hi)
      return; /* the whole edge is beside the image */
    int64_t bad = 0, good = e->len; /* first step whose u is back inside */
    while (good - bad > 1) {
      int64_t mid = bad + (good - bad) / 2;
      int um = edge_u(e, mid);
      if (below ? um >= pw->lo : um <= pw->hi)
        good = mid;
      else
        bad = mid;
    }
    d = good;
  }
  while (d <= e->len && !pw->oom) {
    int u, v;
    edge_point(e, d, &u, &v);
    if (u < pw->lo || u > pw->hi)
      break; /* monotone: the rest of the edge is outside too */
    walk_point(pw, u, v);
    int64_t last = run_end(e, d, u);
    if (last > d) {
      edge_point(e, last, &u, &v);
      walk_point(pw, u, v);
    }
    d = last + 1;
  }
}

/* Sorted crossing positions, differenced, are the runs; zero gaps fold two crossings together. */
static nala_status crossings_to_rle(uint32_t *a, size_t n_cross, uint32_t h, uint32_t w, nala_rle *out,
                                    nala_err *err) {
  a[n_cross] = h * w;
  size_t n_a = n_cross + 1;
  qsort(a, n_a, sizeof(uint32_t), cmp_u32);
  uint32_t prev = 0;
  for (size_t j = 0; j < n_a; j++) {
    uint32_t t = a[j];
    a[j] -= prev;
    prev = t;
  }
  /* In place: the folded runs never outrun the reading position. */
  size_t j = 1, n_b = 1;
  while (j < n_a) {
    if (a[j] > 0) {
      a[n_b++] = a[j++];
    } else {
      j++;
      if (j < n_a)
        a[n_b - 1] += a[j++];
    }
  }
  return nala_rle_init(out, h, w, (uint32_t)n_b, a, err);
}

nala_status nala_rle_from_poly(const double *xy, size_t k, uint32_t h, uint32_t w, nala_rle *out,
                               nala_err *err) {
  if (!out || (k && !xy))
    return nala_fail(err, NALA_E_ARG, "nala_rle_from_poly: NULL argument");
  if (k == 0)
    return nala_fail(err, NALA_E_FORMAT, "polygon has no points");
  if (h == 0 || w == 0 || (uint64_t)h * w > UINT32_MAX || w > (1u << 28))
    return nala_fail(err, NALA_E_ARG, "polygon raster size %ux%u is empty or exceeds 2^32 pixels", h, w);
  for (size_t j = 0; j < 2 * k; j++)
    if (!(fabs(xy[j]) <= POLY_COORD_MAX))
      return nala_fail(err, NALA_E_FORMAT, "polygon coordinate %zu is %g (must be finite, |v| <= %g)", j,
                       xy[j], POLY_COORD_MAX);
  poly_walk pw = {.h = h, .w = w, .lo = -POLY_MARGIN, .hi = 5 * (int)w + POLY_MARGIN};
  int x0 = (int)(POLY_SCALE * xy[0] + .5), y0 = (int)(POLY_SCALE * xy[1] + .5), xa = x0, ya = y0;
  for (size_t j = 0; j < k && !pw.oom; j++) {
    int xb = j + 1 < k ? (int)(POLY_SCALE * xy[2 * j + 2] + .5) : x0;
    int yb = j + 1 < k ? (int)(POLY_SCALE * xy[2 * j + 3] + .5) : y0;
    int xs = xa, xe = xb, ys = ya, ye = yb, dx = abs(xe - xs), dy = abs(ys - ye);
    poly_edge e = {.x_major = dx >= dy, .len = dx >= dy ? dx : dy};
    e.flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (e.flip) {
      int t = xs;
      xs = xe;
      xe = t;
      t = ys;
      ys = ye;
      ye = t;
    }
    e.xs = xs;
    e.ys = ys;
    e.slope = !e.len ? 0 : e.x_major ? (double)(ye - ys) / dx : (double)(xe - xs) / dy;
    walk_edge(&pw, &e);
    xa = xb;
    ya = yb;
  }
  nala_status st = NALA_OK;
  uint32_t *a = pw.oom ? NULL : realloc(pw.cross, sizeof(uint32_t) * (pw.n_cross + 1));
  if (!a) {
    free(pw.cross);
    return nala_fail(err, NALA_E_NOMEM, "out of memory rasterising a polygon of %zu points", k);
  }
  st = crossings_to_rle(a, pw.n_cross, h, w, out, err);
  free(a);
  return st;
}

nala_status nala_rle_from_bbox(const double bbox[4], uint32_t h, uint32_t w, nala_rle *out, nala_err *err) {
  double xs = bbox[0], xe = xs + bbox[2], ys = bbox[1], ye = ys + bbox[3];
  double xy[8] = {xs, ys, xs, ye, xe, ye, xe, ys};
  return nala_rle_from_poly(xy, 4, h, w, out, err);
}
