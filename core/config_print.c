/* Pretty JSON for `nala config show`: 2-space indent, lists of scalars on one line (as mmengine's
 * pretty_text prints tuples), keys in merge order, numbers in their shortest round-trip form. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config_internal.h"
#include "core/text_buf.h"

static void put_number(text_buf *b, double v) {
  if (!isfinite(v)) {
    text_printf(b, "null");
    return;
  }
  if (v == floor(v) && fabs(v) < 1e15) {
    text_printf(b, "%.0f", v);
    return;
  }
  char text[40];
  for (int precision = 1; precision <= 17; precision++) {
    snprintf(text, sizeof text, "%.*g", precision, v);
    if (strtod(text, NULL) == v)
      break;
  }
  text_printf(b, "%s", text);
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
      text_printf(b, is_object ? "{}" : "[]");
      return;
    }
    text_printf(b, is_object ? "{\n" : "[\n");
    for (const cJSON *child = item->child; child; child = child->next) {
      text_printf(b, "%*s", indent + 2, "");
      if (is_object) {
        text_json_string(b, child->string);
        text_printf(b, ": ");
      }
      put_value(b, child, indent + 2);
      text_printf(b, child->next ? ",\n" : "\n");
    }
    text_printf(b, "%*s%s", indent, "", is_object ? "}" : "]");
  } else if (cJSON_IsArray(item)) {
    text_printf(b, "[");
    for (const cJSON *child = item->child; child; child = child->next) {
      put_value(b, child, indent);
      if (child->next)
        text_printf(b, ", ");
    }
    text_printf(b, "]");
  } else if (cJSON_IsString(item)) {
    text_json_string(b, item->valuestring);
  } else if (cJSON_IsNumber(item)) {
    put_number(b, item->valuedouble);
  } else if (cJSON_IsBool(item)) {
    text_printf(b, cJSON_IsTrue(item) ? "true" : "false");
  } else {
    text_printf(b, "null");
  }
}

char *cfg_print_pretty(const cJSON *item) {
  text_buf b = {0};
  put_value(&b, item, 0);
  text_printf(&b, "\n");
  if (b.failed) {
    free(b.data);
    return NULL;
  }
  return b.data;
}
