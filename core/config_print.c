/* Pretty JSON for `nala config show`: 2-space indent, lists of scalars on one line (as mmengine's
 * pretty_text prints tuples), keys in merge order, numbers in their shortest round-trip form. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config_internal.h"

typedef struct text_buf {
  char *data;
  size_t len, cap;
  int failed;
} text_buf;

static void put(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text_buf *b, const char *fmt, ...) {
  if (b->failed)
    return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->failed = 1;
      return;
    }
    if ((size_t)n < b->cap - b->len) {
      b->len += (size_t)n;
      return;
    }
    size_t cap = (b->cap + (size_t)n + 1) * 2;
    char *grown = realloc(b->data, cap);
    if (!grown) {
      b->failed = 1;
      return;
    }
    b->data = grown;
    b->cap = cap;
  }
}

static void put_string(text_buf *b, const char *s) {
  put(b, "\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      put(b, "\\%c", *p);
    else if (*p == '\n')
      put(b, "\\n");
    else if (*p == '\t')
      put(b, "\\t");
    else if (*p < 0x20)
      put(b, "\\u%04x", *p);
    else
      put(b, "%c", *p);
  }
  put(b, "\"");
}

static void put_number(text_buf *b, double v) {
  if (!isfinite(v)) {
    put(b, "null");
    return;
  }
  if (v == floor(v) && fabs(v) < 1e15) {
    put(b, "%.0f", v);
    return;
  }
  char text[40];
  for (int precision = 1; precision <= 17; precision++) {
    snprintf(text, sizeof text, "%.*g", precision, v);
    if (strtod(text, NULL) == v)
      break;
  }
  put(b, "%s", text);
}

static int all_scalars(const cJSON *array) {
  for (const cJSON *item = array->child; item; item = item->next)
    if (cJSON_IsArray(item) || cJSON_IsObject(item))
      return 0;
  return 1;
}

static void put_value(text_buf *b, const cJSON *item, int indent) {
  if (cJSON_IsObject(item) || (cJSON_IsArray(item) && !all_scalars(item))) {
    int is_object = cJSON_IsObject(item);
    if (!item->child) {
      put(b, is_object ? "{}" : "[]");
      return;
    }
    put(b, is_object ? "{\n" : "[\n");
    for (const cJSON *child = item->child; child; child = child->next) {
      put(b, "%*s", indent + 2, "");
      if (is_object) {
        put_string(b, child->string);
        put(b, ": ");
      }
      put_value(b, child, indent + 2);
      put(b, child->next ? ",\n" : "\n");
    }
    put(b, "%*s%s", indent, "", is_object ? "}" : "]");
  } else if (cJSON_IsArray(item)) {
    put(b, "[");
    for (const cJSON *child = item->child; child; child = child->next) {
      put_value(b, child, indent);
      if (child->next)
        put(b, ", ");
    }
    put(b, "]");
  } else if (cJSON_IsString(item)) {
    put_string(b, item->valuestring);
  } else if (cJSON_IsNumber(item)) {
    put_number(b, item->valuedouble);
  } else if (cJSON_IsBool(item)) {
    put(b, cJSON_IsTrue(item) ? "true" : "false");
  } else {
    put(b, "null");
  }
}

char *cfg_print_pretty(const cJSON *item) {
  text_buf b = {0};
  b.data = malloc(4096);
  if (!b.data)
    return NULL;
  b.cap = 4096;
  b.data[0] = '\0';
  put_value(&b, item, 0);
  put(&b, "\n");
  if (b.failed) {
    free(b.data);
    return NULL;
  }
  return b.data;
}
