#include "core/safetensors_util.h"

#include <stdio.h>
#include <string.h>

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. A NUL is
 * rejected too: it cannot appear unescaped in JSON and would cut the C strings cJSON returns. */
size_t nala_st_utf8_invalid_at(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    unsigned c = u[i];
    if (c == 0)
      return i;
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
      len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0)
        lo = 0xa0;
      else if (c == 0xed)
        hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0)
        lo = 0x90;
      else if (c == 0xf4)
        hi = 0x8f;
    } else {
      return i;
    }
    if (n - i < len || u[i + 1] < lo || u[i + 1] > hi)
      return i;
    for (size_t k = 2; k < len; k++)
      if ((u[i + k] & 0xc0) != 0x80)
        return i;
    i += len;
  }
  return n;
}

void nala_st_errno_text(int errnum, char *buf, size_t cap) {
  /* With _POSIX_C_SOURCE and no _GNU_SOURCE, glibc gives the XSI strerror_r returning int. */
  if (strerror_r(errnum, buf, cap) != 0)
    snprintf(buf, cap, "errno %d", errnum);
}
