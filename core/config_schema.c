/* Table-driven validator for config sections: kinds, ranges, choices, list lengths, nested objects,
 * required and unknown keys, each error naming the JSON path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config_internal.h"

typedef struct vctx {
  nala_err *err;
  char path[1024];
  size_t path_len;
  cfg_path segs;
} vctx;

static size_t push_key(vctx *c, const char *key) {
  size_t saved = c->path_len;
  int n = snprintf(c->path + saved, sizeof c->path - saved, saved ? ".%s" : "%s", key);
  c->path_len = n < 0 ? saved : saved + (size_t)n >= sizeof c->path ? sizeof c->path - 1 : saved + (size_t)n;
  if (c->segs.depth < CFG_MAX_PATH_DEPTH) {
    c->segs.key[c->segs.depth] = key;
    c->segs.index[c->segs.depth] = -1;
  }
  c->segs.depth++;
  return saved;
}

static size_t push_index(vctx *c, int index) {
  size_t saved = c->path_len;
  int n = snprintf(c->path + saved, sizeof c->path - saved, "[%d]", index);
  c->path_len = n < 0 ? saved : saved + (size_t)n >= sizeof c->path ? sizeof c->path - 1 : saved + (size_t)n;
  if (c->segs.depth < CFG_MAX_PATH_DEPTH) {
    c->segs.key[c->segs.depth] = NULL;
    c->segs.index[c->segs.depth] = index;
  }
  c->segs.depth++;
  return saved;
}

static void pop(vctx *c, size_t saved) {
  c->path_len = saved;
  c->path[saved] = '\0';
  c->segs.depth--;
}

static nala_status fail_at(vctx *c, const char *fmt, const char *a, const char *b) {
  char body[1200];
  snprintf(body, sizeof body, fmt, a, b);
  return nala_fail(c->err, NALA_E_FORMAT, "%s%s%s", c->path, c->path_len ? ": " : "", body);
}

/* Compact JSON of a value for "got ..." (long values are cut with "..."). */
static void show_value(const cJSON *item, char *buf, size_t size) {
  char *text = cJSON_PrintUnformatted(item);
  if (!text) {
    snprintf(buf, size, "?");
    return;
  }
  if (strlen(text) > 60)
    snprintf(buf, size, "%.57s...", text);
  else
    snprintf(buf, size, "%s", text);
  free(text);
}

static int is_int_value(double v) { return isfinite(v) && v == floor(v) && fabs(v) <= 2147483647.0; }

static unsigned kinds_of(const cJSON *item) {
  if (cJSON_IsNull(item))
    return NALA_SK_NULL;
  if (cJSON_IsBool(item))
    return NALA_SK_BOOL;
  if (cJSON_IsNumber(item))
    return is_int_value(item->valuedouble) ? NALA_SK_INT | NALA_SK_NUMBER : NALA_SK_NUMBER;
  if (cJSON_IsString(item))
    return NALA_SK_STRING;
  if (cJSON_IsArray(item))
    return NALA_SK_ARRAY;
  if (cJSON_IsObject(item))
    return NALA_SK_OBJECT;
  return 0;
}

static void append(char *buf, size_t size, const char *fmt, const char *s, double a, double b) {
  size_t len = strlen(buf);
  if (len < size)
    snprintf(buf + len, size - len, fmt, s, a, b);
}

/* Describes scalar kinds with the row's bounds; plural for list items ("positive integers"). */
static void describe_scalar(const nala_schema_key *row, unsigned kinds, int plural, char *buf, size_t size) {
  const char *s = plural ? "s" : "";
  buf[0] = '\0';
  int first = 1;
#define SEP() (first ? (first = 0, "") : " or ")
  if (kinds & NALA_SK_INT && !(kinds & NALA_SK_NUMBER)) {
    append(buf, size, "%s", SEP(), 0, 0);
    if (row->has_min && row->has_max)
      append(buf, size, "integer%s in %g..%g", s, row->min, row->max);
    else if (row->has_min && row->min == 1)
      append(buf, size, "positive integer%s", s, 0, 0);
    else if (row->has_min && row->min == 0)
      append(buf, size, "non-negative integer%s", s, 0, 0);
    else if (row->has_min)
      append(buf, size, "integer%s >= %g", s, row->min, 0);
    else
      append(buf, size, "integer%s", s, 0, 0);
  }
  if (kinds & NALA_SK_NUMBER) {
    append(buf, size, "%s", SEP(), 0, 0);
    if (row->has_min && row->min_exclusive && row->min == 0 && !row->has_max)
      append(buf, size, "positive number%s", s, 0, 0);
    else if (row->has_min && row->has_max)
      append(buf, size, row->min_exclusive ? "number%s in (%g, %g]" : "number%s in [%g, %g]", s, row->min, row->max);
    else if (row->has_min)
      append(buf, size, row->min_exclusive ? "number%s > %g" : "number%s >= %g", s, row->min, 0);
    else
      append(buf, size, "number%s", s, 0, 0);
  }
  if (kinds & NALA_SK_STRING) {
    append(buf, size, "%s", SEP(), 0, 0);
    if (row->choices) {
      append(buf, size, "%s", plural ? "strings among " : "one of ", 0, 0);
      for (const char *const *c = row->choices; *c; c++)
        append(buf, size, c == row->choices ? "\"%s\"" : ", \"%s\"", *c, 0, 0);
    } else {
      append(buf, size, "string%s", s, 0, 0);
    }
  }
  if (kinds & NALA_SK_BOOL)
    append(buf, size, plural ? "%sbooleans" : "%sboolean", SEP(), 0, 0);
  if (kinds & NALA_SK_OBJECT)
    append(buf, size, plural ? "%sobjects" : "%sobject", SEP(), 0, 0);
  if (kinds & NALA_SK_NULL)
    append(buf, size, "%snull", SEP(), 0, 0);
#undef SEP
}

void nala_schema_describe(const nala_schema_key *row, char *buf, size_t size) {
  if (!size)
    return;
  describe_scalar(row, row->kinds & ~(unsigned)NALA_SK_ARRAY, 0, buf, size);
  if (row->kinds & NALA_SK_ARRAY) {
    char items[512], count[64];
    describe_scalar(row, row->item_kinds, 1, items, sizeof items);
    if (row->max_items && row->min_items == row->max_items)
      snprintf(count, sizeof count, "%d ", row->min_items);
    else if (row->max_items)
      snprintf(count, sizeof count, "%d..%d ", row->min_items, row->max_items);
    else if (row->min_items)
      snprintf(count, sizeof count, "at least %d ", row->min_items);
    else
      count[0] = '\0';
    /* The list form goes last: "number or list of 4 numbers". */
    size_t len = strlen(buf);
    snprintf(buf + len, size - len, "%slist of %s%s", len ? " or " : "", count, items);
  }
}

static int edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 63 || lb > 63)
    return 99;
  int row[64];
  for (size_t j = 0; j <= lb; j++)
    row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int up = row[j];
      int best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best)
        best = up + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

static nala_status check_object(vctx *c, const cJSON *object, const nala_schema *schema);

/* Checks one scalar (or object) against kinds, bounds, choices and nested schema. */
static nala_status check_scalar(vctx *c, const nala_schema_key *row, const cJSON *item, unsigned kinds,
                                int as_item) {
  unsigned have = kinds_of(item);
  char want[768], got[80];
  if (!(have & kinds)) {
    if (as_item)
      describe_scalar(row, row->item_kinds, 0, want, sizeof want);
    else
      nala_schema_describe(row, want, sizeof want);
    show_value(item, got, sizeof got);
    return fail_at(c, "expected %s, got %s", want, got);
  }
  if (have & NALA_SK_NUMBER) {
    double v = item->valuedouble;
    int below = row->has_min && (row->min_exclusive ? !(v > row->min) : !(v >= row->min));
    int above = row->has_max && !(v <= row->max);
    if (below || above || !isfinite(v)) {
      if (as_item)
        describe_scalar(row, kinds, 0, want, sizeof want);
      else
        nala_schema_describe(row, want, sizeof want);
      show_value(item, got, sizeof got);
      return fail_at(c, "expected %s, got %s", want, got);
    }
  }
  if (have == NALA_SK_STRING && row->choices) {
    const char *const *choice = row->choices;
    while (*choice && strcmp(*choice, item->valuestring))
      choice++;
    if (!*choice) {
      if (as_item)
        describe_scalar(row, kinds, 0, want, sizeof want);
      else
        nala_schema_describe(row, want, sizeof want);
      show_value(item, got, sizeof got);
      return fail_at(c, "expected %s, got %s", want, got);
    }
  }
  if (have == NALA_SK_OBJECT && row->object)
    return check_object(c, item, row->object);
  return NALA_OK;
}

static nala_status check_value(vctx *c, const nala_schema_key *row, const cJSON *item) {
  if (!cJSON_IsArray(item) || !(row->kinds & NALA_SK_ARRAY))
    return check_scalar(c, row, item, row->kinds & ~(unsigned)NALA_SK_ARRAY, 0);
  int n = cJSON_GetArraySize(item);
  if (n < row->min_items || (row->max_items && n > row->max_items)) {
    char want[768], got[80];
    nala_schema_describe(row, want, sizeof want);
    show_value(item, got, sizeof got);
    return fail_at(c, "expected %s, got %s", want, got);
  }
  int index = 0;
  for (const cJSON *elem = item->child; elem; elem = elem->next, index++) {
    size_t saved = push_index(c, index);
    nala_status st = check_scalar(c, row, elem, row->item_kinds, 1);
    if (st != NALA_OK)
      return st;
    pop(c, saved);
  }
  return NALA_OK;
}

static const nala_schema_key *find_row(const nala_schema *schema, const char *key) {
  for (int i = 0; i < schema->n_keys; i++)
    if (!strcmp(schema->keys[i].key, key))
      return &schema->keys[i];
  return NULL;
}

static nala_status unknown_key(vctx *c, const nala_schema *schema, const char *key, int typed) {
  const char *best = NULL;
  int best_d = 99;
  for (int i = 0; i < schema->n_keys; i++) {
    int d = edit_distance(key, schema->keys[i].key);
    if (d < best_d) {
      best_d = d;
      best = schema->keys[i].key;
    }
  }
  size_t len = strlen(key);
  int limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
  if (typed && edit_distance(key, "type") < best_d && edit_distance(key, "type") <= 1)
    best = "type", best_d = 1;
  char hint[160] = "";
  if (best && best_d <= limit)
    snprintf(hint, sizeof hint, " (did you mean \"%s\"?)", best);
  nala_status st = fail_at(c, "unknown key \"%s\"%s", key, hint);
  push_key(c, key); /* so the provenance lookup finds the file that wrote the key */
  return st;
}

static nala_status check_object(vctx *c, const cJSON *object, const nala_schema *schema) {
  for (const cJSON *a = object->child; a; a = a->next)
    for (const cJSON *b = a->next; b; b = b->next)
      if (a->string && b->string && !strcmp(a->string, b->string))
        return fail_at(c, "duplicate key \"%s\"%s", a->string, "");
  int typed = schema->types != NULL || schema->type_refs != NULL;
  if (typed) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(object, "type");
    if (!type) {
      for (const cJSON *item = object->child; item; item = item->next)
        if (edit_distance(item->string, "type") <= 1)
          return unknown_key(c, schema, item->string, 1);
      return fail_at(c, "missing required key \"type\"%s%s", "", "");
    }
    const nala_schema *chosen = NULL;
    char want[768] = "one of ", got[80];
    for (int i = 0; i < schema->n_types; i++) {
      const nala_schema_type *t = schema->types ? &schema->types[i] : schema->type_refs[i];
      if (cJSON_IsString(type) && !strcmp(type->valuestring, t->type))
        chosen = t->schema;
      size_t len = strlen(want);
      snprintf(want + len, sizeof want - len, i ? ", \"%s\"" : "\"%s\"", t->type);
    }
    if (!chosen) {
      push_key(c, "type");
      show_value(type, got, sizeof got);
      return fail_at(c, "expected %s, got %s", want, got);
    }
    schema = chosen;
  }
  for (const cJSON *item = object->child; item; item = item->next) {
    if (typed && !strcmp(item->string, "type"))
      continue;
    const nala_schema_key *row = find_row(schema, item->string);
    if (!row)
      return unknown_key(c, schema, item->string, typed);
    size_t saved = push_key(c, item->string);
    nala_status st = check_value(c, row, item);
    if (st != NALA_OK)
      return st;
    pop(c, saved);
  }
  for (int i = 0; i < schema->n_keys; i++)
    if (schema->keys[i].required && !cJSON_GetObjectItemCaseSensitive(object, schema->keys[i].key))
      return fail_at(c, "missing required key \"%s\"%s", schema->keys[i].key, "");
  return NALA_OK;
}

nala_status cfg_schema_validate_at(const cJSON *object, const nala_schema *schema, const char *path,
                                   cfg_path *where, nala_err *err) {
  if (!object || !schema)
    return nala_fail(err, NALA_E_ARG, "nala_schema_validate: NULL argument");
  vctx *c = calloc(1, sizeof *c); /* the path buffers are too large for small thread stacks */
  if (!c)
    return nala_fail(err, NALA_E_NOMEM, "nala_schema_validate: out of memory");
  c->err = err;
  snprintf(c->path, sizeof c->path, "%s", path ? path : "");
  c->path_len = strlen(c->path);
  nala_status st;
  if (!cJSON_IsObject(object)) {
    char got[80];
    show_value(object, got, sizeof got);
    st = fail_at(c, "expected object, got %s%s", got, "");
  } else {
    st = check_object(c, object, schema);
  }
  if (st != NALA_OK && where) {
    *where = c->segs;
    if (where->depth > CFG_MAX_PATH_DEPTH)
      where->depth = CFG_MAX_PATH_DEPTH;
  }
  free(c);
  return st;
}

nala_status nala_schema_validate(const cJSON *object, const nala_schema *schema, const char *path, nala_err *err) {
  return cfg_schema_validate_at(object, schema, path, NULL, err);
}
