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

nala_status nala_rle_from_string(const char *s, size_t len, uint32_t h, uint32_t w, nala_rle *out,
                                 nala_err *err) {
  if (!s || !out)
    return nala_fail(err, NALA_E_ARG, "nala_rle_from_string: NULL argument");
  uint32_t *counts = malloc(sizeof(uint32_t) * (len + 1));
  if (!counts)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for an RLE string of %zu chars", len);
  size_t m = 0, p = 0;
  nala_status st = NALA_OK;
  while (p < len) {
    int64_t x = 0;
    int k = 0, more = 1;
    size_t start = p;
    while (more) {
      if (p >= len) {
        st = nala_fail(err, NALA_E_FORMAT, "RLE string ends inside the value starting at char %zu", start);
        goto fail;
      }
      int c = (unsigned char)s[p] - 48;
      if (c < 0 || c > 63) {
        st = nala_fail(err, NALA_E_FORMAT, "RLE string has invalid char '%c' (0x%02x) at %zu", s[p],
                       (unsigned char)s[p], p);
        goto fail;
      }
      if (k >= 7) {
        st = nala_fail(err, NALA_E_FORMAT, "RLE string value at char %zu is longer than 7 chars", start);
        goto fail;
      }
      x |= (int64_t)(c & 0x1f) << (5 * k);
      more = c & 0x20;
      p++;
      k++;
      if (!more && (c & 0x10))
        x |= (int64_t)(~(uint64_t)0 << (5 * k)); /* sign-extend the last 5-bit group */
    }
    if (m > 2)
      x += (int64_t)counts[m - 2];
    if (x < 0 || x > (int64_t)UINT32_MAX) {
      st = nala_fail(err, NALA_E_FORMAT, "RLE string count %zu is %lld, out of range", m, (long long)x);
      goto fail;
    }
    counts[m++] = (uint32_t)x;
  }
  nala_rle r = {h, w, (uint32_t)m, counts};
  st = nala_rle_validate(&r, err);
  if (st != NALA_OK)
    goto fail;
  st = nala_rle_init(out, h, w, (uint32_t)m, counts, err);
fail:
  free(counts);
  return st;
}
