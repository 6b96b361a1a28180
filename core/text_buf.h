/* A growable text buffer for the JSON the library writes by hand (safetensors headers, merged
 * configs). Internal. An allocation failure sets `failed` and makes later calls no-ops, so a
 * writer checks once at the end. */
#ifndef NALA_CORE_TEXT_BUF_H
#define NALA_CORE_TEXT_BUF_H

#include <stddef.h>

typedef struct text_buf {
  char *data; /* NUL-terminated once anything was written; free() it */
  size_t len, cap;
  int failed;
} text_buf;

/* Appends n bytes of s. */
void text_put(text_buf *b, const char *s, size_t n);

/* Appends printf output. */
void text_printf(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s as a JSON string literal: quote and backslash escaped, \n and \t as such, other
 * control bytes as \u00XX; bytes >= 0x80 pass through (the caller checked they are UTF-8). */
void text_json_string(text_buf *b, const char *s);

#endif
