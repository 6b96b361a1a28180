/* libFuzzer harness: COCO RLE (strings, masks, polygons, merge, IoU) with round-trip oracles, in
 * the format of fuzz_input.h (mode byte, u16 height, u16 width, payload).
 *   0 counts string: from_string -> to_string -> from_string gives the same runs; decode -> encode
 *     -> decode gives the same mask; area and box agree with the mask.
 *   1 mask bits: encode -> decode == mask; string round trip; merge with itself is itself.
 *   2 polygon (doubles): accepted iff every coordinate is finite with |v| <= 1e8; the result is a
 *     valid RLE equal to the full maskApi walk below when that walk is small; the first 4 numbers
 *     as a box rasterise too.
 *   3 runs (u32, fitted to h*w): merge with itself, its complement and both: validity, and the
 *     merged mask equals the OR / AND of the decoded masks.
 *   4 two masks: rle IoU (plain and crowd) equals the pixel-count IoU. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nala/rle.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"

#define MAX_PIXELS (1u << 14) /* masks decoded for the oracles */
/* The harness's own code is not what is being fuzzed: no coverage feedback (and its cost) from it;
 * the library's branches steer the fuzzer. */
#define ORACLE __attribute__((no_sanitize("coverage")))

static ORACLE void check_valid(const nala_rle *r, const char *what) {
  nala_err err;
  FUZZ_ASSERT(nala_rle_validate(r, &err) == NALA_OK, "%s: %s", what, err.msg);
}

static ORACLE uint8_t *decode(const nala_rle *r) {
  uint64_t n = (uint64_t)r->h * r->w;
  uint8_t *mask = malloc(n ? n : 1);
  nala_err err;
  FUZZ_ASSERT(mask && nala_rle_decode(r, mask, &err) == NALA_OK, "decode: %s", err.msg);
  return mask;
}

/* Tight box of a column-major mask, zeros when empty (what rleToBbox gives for canonical runs). */
static ORACLE void mask_bbox(const uint8_t *mask, uint32_t h, uint32_t w, double bb[4]) {
  uint32_t x0 = w, y0 = h, x1 = 0, y1 = 0;
  for (uint32_t x = 0; x < w; x++)
    for (uint32_t y = 0; y < h; y++)
      if (mask[(size_t)x * h + y]) {
        x0 = x < x0 ? x : x0;
        x1 = x > x1 ? x : x1;
        y0 = y < y0 ? y : y0;
        y1 = y > y1 ? y : y1;
      }
  if (x0 == w) {
    bb[0] = bb[1] = bb[2] = bb[3] = 0;
    return;
  }
  bb[0] = x0;
  bb[1] = y0;
  bb[2] = x1 - x0 + 1;
  bb[3] = y1 - y0 + 1;
}

/* The mask's own checks: encode(decode) reproduces it, area and box agree, strings round-trip. */
static ORACLE void check_mask_rle(const nala_rle *r, const uint8_t *mask) {
  nala_err err;
  uint64_t n = (uint64_t)r->h * r->w, ones = 0;
  for (uint64_t i = 0; i < n; i++)
    ones += mask[i] != 0;
  FUZZ_ASSERT(nala_rle_area(r) == ones, "area %llu, mask %llu", (unsigned long long)nala_rle_area(r),
              (unsigned long long)ones);
  nala_rle canon;
  FUZZ_ASSERT(nala_rle_encode(mask, r->h, r->w, &canon, &err) == NALA_OK, "%s", err.msg);
  uint8_t *back = decode(&canon);
  FUZZ_ASSERT(!memcmp(back, mask, n), "decode(encode(mask)) != mask");
  for (uint32_t j = 1; j + 1 < canon.m; j++)
    FUZZ_ASSERT(canon.counts[j] > 0, "encode left an interior empty run at %u", j);
  double bb[4], want[4];
  nala_rle_to_bbox(&canon, bb);
  mask_bbox(mask, r->h, r->w, want);
  FUZZ_ASSERT(!memcmp(bb, want, sizeof bb), "bbox %g %g %g %g, mask %g %g %g %g", bb[0], bb[1], bb[2], bb[3], want[0],
              want[1], want[2], want[3]);
  char *s;
  FUZZ_ASSERT(nala_rle_to_string(&canon, &s, &err) == NALA_OK, "%s", err.msg);
  nala_rle again;
  FUZZ_ASSERT(nala_rle_from_string(s, strlen(s), r->h, r->w, &again, &err) == NALA_OK, "%s", err.msg);
  FUZZ_ASSERT(again.m == canon.m && (!canon.m || !memcmp(again.counts, canon.counts, 4 * (size_t)canon.m)),
              "string round trip of %u runs", canon.m);
  free(s);
  free(back);
  nala_rle_free(&again);
  nala_rle_free(&canon);
}

static ORACLE void mode_string(const fuzz_rle_input *in) {
  nala_rle r;
  nala_err err;
  if (nala_rle_from_string((const char *)in->payload, in->payload_len, in->h, in->w, &r, &err) != NALA_OK) {
    FUZZ_ASSERT(err.msg[0], "refused without a message");
    return;
  }
  check_valid(&r, "from_string");
  char *s;
  FUZZ_ASSERT(nala_rle_to_string(&r, &s, &err) == NALA_OK, "%s", err.msg);
  nala_rle again;
  FUZZ_ASSERT(nala_rle_from_string(s, strlen(s), r.h, r.w, &again, &err) == NALA_OK, "%s", err.msg);
  FUZZ_ASSERT(again.m == r.m && (!r.m || !memcmp(again.counts, r.counts, 4 * (size_t)r.m)), "round trip");
  free(s);
  nala_rle_free(&again);
  if ((uint64_t)r.h * r.w <= MAX_PIXELS) {
    uint8_t *mask = decode(&r);
    check_mask_rle(&r, mask);
    free(mask);
  }
  nala_rle_free(&r);
}

static ORACLE void mode_mask(const fuzz_rle_input *in) {
  uint32_t h = in->h % 32 + 1, w = (uint32_t)(in->payload_len / h);
  if (w == 0 || (uint64_t)h * w > MAX_PIXELS)
    return;
  nala_rle r, merged;
  nala_err err;
  FUZZ_ASSERT(nala_rle_encode(in->payload, h, w, &r, &err) == NALA_OK, "%s", err.msg);
  check_valid(&r, "encode");
  uint8_t *mask = decode(&r);
  for (size_t i = 0; i < (size_t)h * w; i++)
    FUZZ_ASSERT(mask[i] == (in->payload[i] != 0), "decode(encode(x))[%zu]", i);
  check_mask_rle(&r, mask);
  nala_rle two[2] = {r, r};
  FUZZ_ASSERT(nala_rle_merge(two, 2, 0, &merged, &err) == NALA_OK, "%s", err.msg);
  FUZZ_ASSERT(merged.m == r.m && !memcmp(merged.counts, r.counts, 4 * (size_t)r.m), "x | x != x");
  nala_rle_free(&merged);
  free(mask);
  nala_rle_free(&r);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x > y ? 1 : x < y ? -1 : 0;
}

/* maskApi's rleFrPoly as written there, storing every point of the walk: the reference for the
 * image-bounded walk of eval/rle_poly.c. Zero-length edges take v = INT_MIN, what (int)NaN gives on
 * x86, to show that value never reaches the mask. Returns 0 when the walk is too long to store. */
static ORACLE int reference_poly(const double *xy, size_t k, uint32_t h, uint32_t w, nala_rle *out) {
  int *x = malloc(sizeof(int) * (k + 1)), *y = malloc(sizeof(int) * (k + 1));
  for (size_t j = 0; j < k; j++) {
    x[j] = (int)(5 * xy[2 * j] + .5);
    y[j] = (int)(5 * xy[2 * j + 1] + .5);
  }
  x[k] = x[0];
  y[k] = y[0];
  size_t m = 0;
  for (size_t j = 0; j < k; j++) {
    int dx = abs(x[j] - x[j + 1]), dy = abs(y[j] - y[j + 1]);
    m += (size_t)(dx > dy ? dx : dy) + 1;
  }
  if (m > (1u << 16)) {
    free(x);
    free(y);
    return 0;
  }
  int *u = malloc(sizeof(int) * m), *v = malloc(sizeof(int) * m);
  m = 0;
  for (size_t j = 0; j < k; j++) {
    int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1], dx = abs(xe - xs), dy = abs(ys - ye), t;
    int flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      t = xs, xs = xe, xe = t;
      t = ys, ys = ye, ye = t;
    }
    if (dx == 0 && dy == 0) {
      u[m] = xs;
      v[m++] = INT32_MIN;
      continue;
    }
    double s = dx >= dy ? (double)(ye - ys) / dx : (double)(xe - xs) / dy;
    if (dx >= dy)
      for (int d = 0; d <= dx; d++) {
        t = flip ? dx - d : d;
        u[m] = t + xs;
        v[m++] = (int)(ys + s * t + .5);
      }
    else
      for (int d = 0; d <= dy; d++) {
        t = flip ? dy - d : d;
        v[m] = t + ys;
        u[m++] = (int)(xs + s * t + .5);
      }
  }
  uint32_t *a = malloc(sizeof(uint32_t) * (m + 1));
  size_t n = 0;
  for (size_t j = 1; j < m; j++) {
    if (u[j] == u[j - 1])
      continue;
    double xd = (double)(u[j] < u[j - 1] ? u[j] : u[j] - 1);
    xd = (xd + .5) / 5 - .5;
    if (floor(xd) != xd || xd < 0 || xd > w - 1)
      continue;
    double yd = (double)(v[j] < v[j - 1] ? v[j] : v[j - 1]);
    yd = (yd + .5) / 5 - .5;
    yd = yd < 0 ? 0 : yd > h ? h : yd;
    a[n++] = (uint32_t)xd * h + (uint32_t)ceil(yd);
  }
  a[n++] = h * w;
  qsort(a, n, sizeof(uint32_t), cmp_u32);
  uint32_t prev = 0;
  for (size_t j = 0; j < n; j++) {
    uint32_t t = a[j];
    a[j] -= prev;
    prev = t;
  }
  uint32_t *b = malloc(sizeof(uint32_t) * n);
  size_t j = 0, nb = 0;
  b[nb++] = a[j++];
  while (j < n) {
    if (a[j] > 0)
      b[nb++] = a[j++];
    else if (++j < n)
      b[nb - 1] += a[j++];
  }
  out->h = h;
  out->w = w;
  out->m = (uint32_t)nb;
  out->counts = b;
  free(a);
  free(u);
  free(v);
  free(x);
  free(y);
  return 1;
}

static ORACLE void mode_poly(const fuzz_rle_input *in) {
  size_t k = in->payload_len / 16;
  /* The walk costs O(k * w) by design: keep each input well under a millisecond. */
  if (k == 0 || k > 256 || (uint64_t)k * in->w > (1u << 11))
    return;
  double xy[512];
  int ok_coords = 1;
  for (size_t i = 0; i < 2 * k; i++) {
    xy[i] = fuzz_f64_at(in->payload, i);
    ok_coords &= fabs(xy[i]) <= 1e8;
  }
  nala_rle r;
  nala_err err;
  nala_status st = nala_rle_from_poly(xy, k, in->h, in->w, &r, &err);
  int ok_size = in->h > 0 && in->w > 0;
  FUZZ_ASSERT((st == NALA_OK) == (ok_coords && ok_size), "status %d for coords ok %d size ok %d: %s", st, ok_coords,
              ok_size, err.msg);
  if (st != NALA_OK)
    return;
  check_valid(&r, "from_poly");
  nala_rle ref;
  if ((uint64_t)in->h * in->w <= MAX_PIXELS && reference_poly(xy, k, in->h, in->w, &ref)) {
    int same = ref.m == r.m && !memcmp(ref.counts, r.counts, 4 * (size_t)r.m);
    if (!same) {
      fprintf(stderr, "polygon of %zu points on %ux%u:", k, in->h, in->w);
      for (size_t i = 0; i < 2 * k; i++)
        fprintf(stderr, " %.17g", xy[i]);
      fprintf(stderr, "\nnala:");
      for (uint32_t j = 0; j < r.m; j++)
        fprintf(stderr, " %u", r.counts[j]);
      fprintf(stderr, "\nmaskApi walk:");
      for (uint32_t j = 0; j < ref.m; j++)
        fprintf(stderr, " %u", ref.counts[j]);
      fprintf(stderr, "\n");
    }
    FUZZ_ASSERT(same, "bounded walk differs from the full walk");
    nala_rle_free(&ref);
  }
  nala_rle_free(&r);
  if (k >= 2 && fabs(xy[2]) <= 1e7 && fabs(xy[3]) <= 1e7) { /* box: w, h added to x, y stay in bounds */
    double bb[4] = {xy[0], xy[1], fabs(xy[2]), fabs(xy[3])};
    if (nala_rle_from_bbox(bb, in->h, in->w, &r, &err) == NALA_OK) {
      check_valid(&r, "from_bbox");
      nala_rle_free(&r);
    }
  }
}

/* Runs from the payload, fitted to sum to h*w (the last run shortened or one appended). */
static ORACLE int fitted_runs(const fuzz_rle_input *in, nala_rle *r) {
  uint64_t total = (uint64_t)in->h * in->w, sum = 0;
  size_t n = in->payload_len / 4;
  if (total > MAX_PIXELS || n > 4096)
    return 0;
  uint32_t *c = malloc(sizeof(uint32_t) * (n + 1));
  uint32_t m = 0;
  for (size_t i = 0; i < n && sum < total; i++) {
    uint32_t v = fuzz_u32_at(in->payload, i);
    if (v > total - sum)
      v = (uint32_t)(total - sum);
    c[m++] = v;
    sum += v;
  }
  if (sum < total || m == 0)
    c[m++] = (uint32_t)(total - sum);
  *r = (nala_rle){in->h, in->w, m, c};
  return 1;
}

/* The complement: flip which runs are foreground by adding or removing the leading empty run. */
static ORACLE nala_rle complement(const nala_rle *r) {
  nala_rle c = {r->h, r->w, 0, malloc(sizeof(uint32_t) * (r->m + 1))};
  if (r->m > 1 && r->counts[0] == 0) {
    memcpy(c.counts, r->counts + 1, 4 * (size_t)(r->m - 1));
    c.m = r->m - 1;
  } else {
    c.counts[0] = 0;
    memcpy(c.counts + 1, r->counts, 4 * (size_t)r->m);
    c.m = r->m + 1;
  }
  return c;
}

static ORACLE void check_merge(const nala_rle *parts, size_t n, int intersect) {
  nala_rle out;
  nala_err err;
  FUZZ_ASSERT(nala_rle_merge(parts, n, intersect, &out, &err) == NALA_OK, "%s", err.msg);
  check_valid(&out, intersect ? "intersection" : "union");
  size_t px = (size_t)out.h * out.w;
  uint8_t *got = decode(&out), *want = decode(&parts[0]);
  for (size_t i = 1; i < n; i++) {
    uint8_t *m = decode(&parts[i]);
    for (size_t p = 0; p < px; p++)
      want[p] = intersect ? (want[p] && m[p]) : (want[p] || m[p]);
    free(m);
  }
  FUZZ_ASSERT(!memcmp(got, want, px), "%s of %zu masks differs from the pixel %s", intersect ? "intersection" : "union",
              n, intersect ? "AND" : "OR");
  uint64_t area = 0;
  for (size_t p = 0; p < px; p++)
    area += want[p];
  FUZZ_ASSERT(nala_rle_area(&out) == area, "merged area");
  free(got);
  free(want);
  nala_rle_free(&out);
}

static ORACLE void mode_merge(const fuzz_rle_input *in) {
  nala_rle a;
  if (!fitted_runs(in, &a))
    return;
  check_valid(&a, "fitted runs");
  nala_rle c = complement(&a);
  check_valid(&c, "complement");
  nala_rle sets[3][3] = {{a, a, a}, {a, c, a}, {c, a, c}};
  for (int intersect = 0; intersect < 2; intersect++)
    for (int s = 0; s < 3; s++)
      for (size_t n = 2; n <= 3; n++)
        check_merge(sets[s], n, intersect);
  free(a.counts);
  free(c.counts);
}

static ORACLE void mode_iou(const fuzz_rle_input *in) {
  uint32_t h = in->h % 16 + 1, w = (uint32_t)(in->payload_len / 2 / h);
  if (w == 0 || (uint64_t)h * w > MAX_PIXELS)
    return;
  size_t px = (size_t)h * w;
  const uint8_t *ma = in->payload, *mb = in->payload + px;
  nala_rle r[2];
  nala_err err;
  FUZZ_ASSERT(nala_rle_encode(ma, h, w, &r[0], &err) == NALA_OK, "%s", err.msg);
  FUZZ_ASSERT(nala_rle_encode(mb, h, w, &r[1], &err) == NALA_OK, "%s", err.msg);
  uint32_t inter = 0, uni = 0, area_a = 0;
  for (size_t p = 0; p < px; p++) {
    int a = ma[p] != 0, b = mb[p] != 0;
    inter += a && b;
    uni += a || b;
    area_a += a;
  }
  uint8_t crowd[2] = {0, 1};
  double iou[2];
  nala_rle_iou(&r[0], 1, &r[1], 1, &crowd[0], &iou[0]);
  nala_rle_iou(&r[0], 1, &r[1], 1, &crowd[1], &iou[1]);
  double want = inter ? (double)inter / uni : 0, want_crowd = inter ? (double)inter / area_a : 0;
  FUZZ_ASSERT(iou[0] == want, "iou %.17g, pixels %u/%u", iou[0], inter, uni);
  FUZZ_ASSERT(iou[1] == want_crowd, "crowd iou %.17g, pixels %u/%u", iou[1], inter, area_a);
  nala_rle_free(&r[0]);
  nala_rle_free(&r[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_rle_input in;
  if (!fuzz_rle_split(data, size, &in))
    return 0;
  switch (in.mode) {
  case 0: mode_string(&in); break;
  case 1: mode_mask(&in); break;
  case 2: mode_poly(&in); break;
  case 3: mode_merge(&in); break;
  default: mode_iou(&in); break;
  }
  return 0;
}
