/* Polygon and box rasterisation into COCO RLE, bit-exact with pycocotools' rleFrPoly: the outline
 * is walked on a x5 grid, column crossings are snapped back to pixel centres and the sorted
 * crossing positions become run boundaries. Every rounding below ((int)(v + .5) truncation,
 * ceil after clamping y to [0, h]) is part of what makes the masks identical. */
#include <math.h>
#include <stdlib.h>

#include "eval/rle_internal.h"

#define POLY_SCALE 5.0
#define POLY_COORD_MAX 1e7 /* keeps scale*coord inside int and the walk a sane length */

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x > y ? 1 : x < y ? -1 : 0;
}

nala_status nala_rle_from_poly(const double *xy, size_t k, uint32_t h, uint32_t w, nala_rle *out,
                               nala_err *err) {
  if (!out || (k && !xy))
    return nala_fail(err, NALA_E_ARG, "nala_rle_from_poly: NULL argument");
  if (k == 0)
    return nala_fail(err, NALA_E_FORMAT, "polygon has no points");
  if (h == 0 || w == 0 || (uint64_t)h * w > UINT32_MAX)
    return nala_fail(err, NALA_E_ARG, "polygon raster size %ux%u is empty or exceeds 2^32 pixels", h, w);
  for (size_t j = 0; j < 2 * k; j++)
    if (!(fabs(xy[j]) <= POLY_COORD_MAX))
      return nala_fail(err, NALA_E_FORMAT, "polygon coordinate %zu is %g (must be finite, |v| <= %g)", j,
                       xy[j], POLY_COORD_MAX);
  nala_status st = NALA_OK;
  int *px = malloc(sizeof(int) * (k + 1)), *py = malloc(sizeof(int) * (k + 1));
  int *u = NULL, *v = NULL, *bx = NULL, *by = NULL;
  uint32_t *a = NULL, *b = NULL;
  if (!px || !py)
    goto nomem;
  for (size_t j = 0; j < k; j++) {
    px[j] = (int)(POLY_SCALE * xy[2 * j] + .5);
    py[j] = (int)(POLY_SCALE * xy[2 * j + 1] + .5);
  }
  px[k] = px[0];
  py[k] = py[0];
  size_t n_walk = 0;
  for (size_t j = 0; j < k; j++) {
    int dx = abs(px[j] - px[j + 1]), dy = abs(py[j] - py[j + 1]);
    n_walk += (size_t)(dx > dy ? dx : dy) + 1;
  }
  u = malloc(sizeof(int) * n_walk);
  v = malloc(sizeof(int) * n_walk);
  if (!u || !v)
    goto nomem;
  /* Dense boundary points on the x5 grid, each edge walked along its longer axis. */
  size_t m = 0;
  for (size_t j = 0; j < k; j++) {
    int xs = px[j], xe = px[j + 1], ys = py[j], ye = py[j + 1];
    int dx = abs(xe - xs), dy = abs(ys - ye);
    int flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      int t = xs;
      xs = xe;
      xe = t;
      t = ys;
      ys = ye;
      ye = t;
    }
    double slope = dx >= dy ? (double)(ye - ys) / dx : (double)(xe - xs) / dy;
    if (dx >= dy) {
      for (int d = 0; d <= dx; d++) {
        int t = flip ? dx - d : d;
        u[m] = t + xs;
        v[m] = (int)(ys + slope * t + .5);
        m++;
      }
    } else {
      for (int d = 0; d <= dy; d++) {
        int t = flip ? dy - d : d;
        v[m] = t + ys;
        u[m] = (int)(xs + slope * t + .5);
        m++;
      }
    }
  }
  /* Column crossings back at pixel resolution: only those landing on a pixel centre inside the image. */
  bx = malloc(sizeof(int) * n_walk);
  by = malloc(sizeof(int) * n_walk);
  if (!bx || !by)
    goto nomem;
  size_t n_cross = 0;
  for (size_t j = 1; j < n_walk; j++) {
    if (u[j] == u[j - 1])
      continue;
    double xd = (double)(u[j] < u[j - 1] ? u[j] : u[j] - 1);
    xd = (xd + .5) / POLY_SCALE - .5;
    if (floor(xd) != xd || xd < 0 || xd > (double)(w - 1))
      continue;
    double yd = (double)(v[j] < v[j - 1] ? v[j] : v[j - 1]);
    yd = (yd + .5) / POLY_SCALE - .5;
    if (yd < 0)
      yd = 0;
    else if (yd > h)
      yd = h;
    yd = ceil(yd);
    bx[n_cross] = (int)xd;
    by[n_cross] = (int)yd;
    n_cross++;
  }
  /* Sorted crossing positions, differenced, are the runs; zero gaps fold two crossings together. */
  a = malloc(sizeof(uint32_t) * (n_cross + 1));
  b = malloc(sizeof(uint32_t) * (n_cross + 1));
  if (!a || !b)
    goto nomem;
  for (size_t j = 0; j < n_cross; j++)
    a[j] = (uint32_t)bx[j] * h + (uint32_t)by[j]; /* < h*w: x < w, y <= h */
  a[n_cross] = h * w;
  size_t n_a = n_cross + 1;
  qsort(a, n_a, sizeof(uint32_t), cmp_u32);
  uint32_t prev = 0;
  for (size_t j = 0; j < n_a; j++) {
    uint32_t t = a[j];
    a[j] -= prev;
    prev = t;
  }
  size_t j = 0, n_b = 0;
  b[n_b++] = a[j++];
  while (j < n_a) {
    if (a[j] > 0) {
      b[n_b++] = a[j++];
    } else {
      j++;
      if (j < n_a)
        b[n_b - 1] += a[j++];
    }
  }
  st = nala_rle_init(out, h, w, (uint32_t)n_b, b, err);
  goto done;
nomem:
  st = nala_fail(err, NALA_E_NOMEM, "out of memory rasterising a polygon of %zu points", k);
done:
  free(px);
  free(py);
  free(u);
  free(v);
  free(bx);
  free(by);
  free(a);
  free(b);
  return st;
}

nala_status nala_rle_from_bbox(const double bbox[4], uint32_t h, uint32_t w, nala_rle *out, nala_err *err) {
  double xs = bbox[0], xe = xs + bbox[2], ys = bbox[1], ye = ys + bbox[3];
  double xy[8] = {xs, ys, xs, ye, xe, ye, xe, ys};
  return nala_rle_from_poly(xy, 4, h, w, out, err);
}
