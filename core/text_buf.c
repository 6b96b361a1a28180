#include "core/text_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for n more bytes and a NUL. */
static int reserve(text_buf *b, size_t n) {
  if (b->failed)
    return 0;
  if (b->len + n + 1 <= b->cap)
    return 1;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + n + 1)
    cap *= 2;
  char *grown = realloc(b->data, cap);
  if (!grown) {
    b->failed = 1;
    return 0;
  }
  b->data = grown;
  b->cap = cap;
  return 1;
}

void text_put(text_buf *b, const char *s, size_t n) {
  if (!reserve(b, n))
    return;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void text_printf(text_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->failed = 1;
    return;
  }
  if (!reserve(b, (size_t)n))
    return;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void text_json_string(text_buf *b, const char *s) {
  text_put(b, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      text_printf(b, "\\%c", *p);
    else if (*p == '\n')
      text_put(b, "\\n", 2);
    else if (*p == '\t')
      text_put(b, "\\t", 2);
    else if (*p < 0x20)
      text_printf(b, "\\u%04x", *p);
    else
      text_put(b, (const char *)p, 1);
  }
  text_put(b, "\"", 1);
}
