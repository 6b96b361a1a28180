/* The compressed "counts" string of COCO RLE (maskApi rleToString / rleFrString): LEB128-like,
 * 5 data bits per character offset by 48, with a continuation bit (0x20) and a sign bit (0x10) in
 * the last character; from the fourth count on, the value stored is the difference to the count
 * two places back. */
#include <stdlib.h>

#include "eval/rle_internal.h"

nala_status nala_rle_to_string(const nala_rle *r, char **out, nala_err *err) {
  if (!r || !out || (r->m && !r->counts))
    return nala_fail(err, NALA_E_ARG, "nala_rle_to_string: NULL argument");
  /* A 33-bit signed difference needs at most 7 characters. */
  char *s = malloc((size_t)r->m * 7 + 1);
  if (!s)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for an RLE string of %u runs", r->m);
  size_t p = 0;
  for (uint32_t i = 0; i < r->m; i++) {
    int64_t x = (int64_t)r->counts[i];
    if (i > 2)
      x -= (int64_t)r->counts[i - 2];
    int more = 1;
    while (more) {
      int c = (int)(x & 0x1f);
      x >>= 5; /* arithmetic shift on int64: gcc and clang define it for negative values */
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more)
        c |= 0x20;
      s[p++] = (char)(c + 48);
    }
  }
  s[p] = '\0';
  *out = s;
  return NALA_OK;
}

/* Reads the value starting at s[*p]; returns 0 with *x set, or an error status. */
static inline nala_status next_value(const char *s, size_t len, size_t *p, int64_t *x, nala_err *err) {
  int first = (unsigned char)s[*p] - 48;
  if (first >= 0 && first < 32) { /* one character, the common case for run differences */
    *x = (first & 0x10) ? (int64_t)first - 32 : first;
    (*p)++;
    return NALA_OK;
  }
  size_t start = *p;
  int k = 0, more = 1;
  *x = 0;
  while (more) {
    if (*p >= len)
      return nala_fail(err, NALA_E_FORMAT, "RLE string ends inside the value starting at char %zu", start);
    int c = (unsigned char)s[*p] - 48;
    if (c < 0 || c > 63)
      return nala_fail(err, NALA_E_FORMAT, "RLE string has invalid char '%c' (0x%02x) at %zu", s[*p],
                       (unsigned char)s[*p], *p);
    if (k >= 7)
      return nala_fail(err, NALA_E_FORMAT, "RLE string value at char %zu is longer than 7 chars", start);
    *x |= (int64_t)(c & 0x1f) << (5 * k);
    more = c & 0x20;
    (*p)++;
    k++;
    if (!more && (c & 0x10))
      *x |= (int64_t)(~(uint64_t)0 << (5 * k)); /* sign-extend the last 5-bit group */
  }
  return NALA_OK;
}

/* Walks the counts of a compressed string: stores them when counts is non-NULL, feeds them to
 * the box accumulator when acc is non-NULL. */
static nala_status walk_string(const char *s, size_t len, uint32_t *counts, nala_rle_bbox_acc *acc, uint32_t *m_out,
                               uint64_t *sum_out, uint64_t *area_out, nala_err *err) {
  size_t m = 0, p = 0;
  uint32_t back2 = 0, back1 = 0; /* counts[m-2], counts[m-1] */
  uint64_t sum = 0, area = 0;
  while (p < len) {
    int64_t x;
    NALA_CHECK(next_value(s, len, &p, &x, err));
    if (m > 2)
      x += (int64_t)back2;
    if (x < 0 || x > (int64_t)UINT32_MAX)
      return nala_fail(err, NALA_E_FORMAT, "RLE string count %zu is %lld, out of range", m, (long long)x);
    if (counts)
      counts[m] = (uint32_t)x;
    if (acc)
      nala_rle_bbox_add(acc, (uint32_t)m, (uint32_t)x);
    back2 = back1;
    back1 = (uint32_t)x;
    sum += (uint64_t)x;
    area += (m % 2) ? (uint64_t)x : 0;
    m++;
  }
  *m_out = (uint32_t)m;
  *sum_out = sum;
  if (area_out)
    *area_out = area;
  return NALA_OK;
}

nala_status nala_rle_from_string(const char *s, size_t len, uint32_t h, uint32_t w, nala_rle *out,
                                 nala_err *err) {
  if (!s || !out)
    return nala_fail(err, NALA_E_ARG, "nala_rle_from_string: NULL argument");
  uint32_t m;
  uint64_t sum;
  NALA_CHECK(walk_string(s, len, NULL, NULL, &m, &sum, NULL, err));
  if ((uint64_t)h * w > UINT32_MAX)
    return nala_fail(err, NALA_E_FORMAT, "RLE size %ux%u exceeds 2^32 pixels", h, w);
  if (sum != (uint64_t)h * w)
    return nala_fail(err, NALA_E_FORMAT, "RLE counts sum to %llu, expected h*w = %ux%u = %llu",
                     (unsigned long long)sum, h, w, (unsigned long long)h * w);
  NALA_CHECK(nala_rle_init(out, h, w, m, NULL, err));
  return walk_string(s, len, out->counts, NULL, &m, &sum, NULL, err);
}

nala_status nala_rle_string_scan(const char *s, size_t len, uint32_t h, uint32_t w, uint32_t *m, uint64_t *area,
                                 double bbox[4], nala_err *err) {
  /* One pass without storing the runs. The box accumulator needs the run count only to drop an odd
   * last run, which is background and adds nothing, so UINT32_MAX stands in for it. */
  nala_rle_bbox_acc acc;
  uint64_t sum;
  nala_rle_bbox_begin(&acc, h, w, UINT32_MAX);
  NALA_CHECK(walk_string(s, len, NULL, &acc, m, &sum, area, err));
  if ((uint64_t)h * w > UINT32_MAX)
    return nala_fail(err, NALA_E_FORMAT, "RLE size %ux%u exceeds 2^32 pixels", h, w);
  if (sum != (uint64_t)h * w)
    return nala_fail(err, NALA_E_FORMAT, "RLE counts sum to %llu, expected h*w = %ux%u = %llu",
                     (unsigned long long)sum, h, w, (unsigned long long)h * w);
  acc.m_even = (*m / 2) * 2;
  nala_rle_bbox_end(&acc, bbox);
  return NALA_OK;
}

void nala_rle_string_decode(const char *s, size_t len, uint32_t *counts) {
  uint32_t m;
  uint64_t sum;
  walk_string(s, len, counts, NULL, &m, &sum, NULL, NULL);
}
