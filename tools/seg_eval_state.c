/* Shard state files of `nala eval seg` (tools/seg_eval_state.h). Layout:
 *   {"format": "nala-eval-seg-state", "version": 1, "dataset": "ade20k", "num_classes": 150,
 *    "ignore_index": 255, "total": 2000, "limit": 0, "shard": [0, 2], "classes": [names] or null,
 *    "images": [{"index": 0, "file": "ADE_val_00000001.jpg", "pixels": .., "ignored": ..,
 *                "label_out_of_range": .., "pred_out_of_range": .., "first_bad_label": -1,
 *                "first_bad_pred": -1, "cells": [row * side + column, count, ...]}, ...],
 *    "problems": ["file: reason", ...]}
 * Counts stay below 2^53, so JSON numbers (doubles) carry them exactly. */
#include "tools/seg_eval_state.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/atomic_write.h"

#define STATE_FORMAT "nala-eval-seg-state"

nala_status seg_state_add_image(seg_state *s, int index, const char *file, const nala_seg_metrics *m,
                                const nala_seg_image_counts *counts, nala_err *err) {
  if (s->n_images == s->cap_images) {
    size_t cap = s->cap_images ? 2 * s->cap_images : 64;
    seg_state_image *grown = realloc(s->images, cap * sizeof *grown);
    if (!grown)
      return nala_fail(err, NALA_E_NOMEM, "out of memory for the shard state");
    s->images = grown;
    s->cap_images = cap;
  }
  int side;
  const uint64_t *conf = nala_seg_metrics_image_confusion(m, &side);
  size_t cells = (size_t)side * (size_t)side, nz = 0;
  for (size_t k = 0; k < cells; k++)
    nz += conf[k] != 0;
  seg_state_image img = {.index = index, .counts = *counts, .n_cells = nz};
  img.file = strdup(file ? file : "");
  img.cell_index = malloc((nz ? nz : 1) * sizeof *img.cell_index);
  img.cell_count = malloc((nz ? nz : 1) * sizeof *img.cell_count);
  if (!img.file || !img.cell_index || !img.cell_count) {
    free(img.file), free(img.cell_index), free(img.cell_count);
    return nala_fail(err, NALA_E_NOMEM, "out of memory for the shard state");
  }
  for (size_t k = 0, j = 0; k < cells; k++)
    if (conf[k]) {
      img.cell_index[j] = (uint32_t)k;
      img.cell_count[j++] = conf[k];
    }
  s->images[s->n_images++] = img;
  return NALA_OK;
}

/* Appends a malloc'd line (taken over, freed on failure). */
static nala_status push_problem(seg_state *s, char *line, nala_err *err) {
  if (!line)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for the shard state");
  if (s->n_problems == s->cap_problems) {
    size_t cap = s->cap_problems ? 2 * s->cap_problems : 16;
    char **grown = realloc(s->problems, cap * sizeof *grown);
    if (!grown) {
      free(line);
      return nala_fail(err, NALA_E_NOMEM, "out of memory for the shard state");
    }
    s->problems = grown;
    s->cap_problems = cap;
  }
  s->problems[s->n_problems++] = line;
  return NALA_OK;
}

nala_status seg_state_add_line(seg_state *s, const char *line, nala_err *err) {
  return push_problem(s, strdup(line), err);
}

nala_status seg_state_add_problem(seg_state *s, const char *file, const char *reason, nala_err *err) {
  size_t n = strlen(file) + strlen(reason) + 3;
  char *line = malloc(n);
  if (line)
    snprintf(line, n, "%s: %s", file, reason);
  return push_problem(s, line, err);
}

nala_status seg_state_set_classes(seg_state *s, const char *const *names, nala_err *err) {
  if (!names || s->num_classes < 1)
    return NALA_OK;
  s->class_names = calloc((size_t)s->num_classes, sizeof *s->class_names);
  if (!s->class_names)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for the shard state");
  for (int c = 0; c < s->num_classes; c++)
    if (!(s->class_names[c] = strdup(names[c] ? names[c] : "")))
      return nala_fail(err, NALA_E_NOMEM, "out of memory for the shard state");
  return NALA_OK;
}

void seg_state_free(seg_state *s) {
  for (int c = 0; s->class_names && c < s->num_classes; c++)
    free(s->class_names[c]);
  free(s->class_names);
  for (size_t i = 0; i < s->n_images; i++) {
    free(s->images[i].file);
    free(s->images[i].cell_index);
    free(s->images[i].cell_count);
  }
  free(s->images);
  for (size_t i = 0; i < s->n_problems; i++)
    free(s->problems[i]);
  free(s->problems);
  memset(s, 0, sizeof *s);
}

/* ---- writing: a growable text buffer ---- */
typedef struct text {
  char *p;
  size_t n, cap;
  int oom;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...) {
  if (t->oom)
    return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t->p ? t->p + t->n : NULL, t->p ? t->cap - t->n : 0, fmt, ap);
    va_end(ap);
    if (k < 0) {
      t->oom = 1;
      return;
    }
    if (t->p && (size_t)k < t->cap - t->n) {
      t->n += (size_t)k;
      return;
    }
    size_t cap = t->cap ? t->cap : 1 << 16;
    while (cap - t->n <= (size_t)k)
      cap *= 2;
    char *grown = realloc(t->p, cap);
    if (!grown) {
      t->oom = 1;
      return;
    }
    t->p = grown;
    t->cap = cap;
  }
}

static void put_string(text *t, const char *s) {
  cJSON *tmp = cJSON_CreateStringReference(s); /* cJSON's escaping; the reference is not freed */
  char *q = tmp ? cJSON_PrintUnformatted(tmp) : NULL;
  cJSON_Delete(tmp);
  if (!q) {
    t->oom = 1;
    return;
  }
  put(t, "%s", q);
  free(q);
}

nala_status seg_state_save(const seg_state *s, const char *path, nala_err *err) {
  text t = {0};
  put(&t, "{\"format\": \"%s\", \"version\": 1, \"dataset\": ", STATE_FORMAT);
  put_string(&t, s->dataset);
  put(&t, ", \"num_classes\": %d, \"ignore_index\": %d, \"total\": %d, \"limit\": %d, \"shard\": [%d, %d],\n",
      s->num_classes, s->ignore_index, s->total, s->limit, s->shard_index, s->shard_count);
  put(&t, " \"classes\": ");
  if (!s->class_names)
    put(&t, "null");
  for (int c = 0; s->class_names && c < s->num_classes; c++) {
    put(&t, "%s", c ? ", " : "[");
    put_string(&t, s->class_names[c]);
  }
  put(&t, "%s,\n \"images\": [", s->class_names ? "]" : "");
  for (size_t i = 0; i < s->n_images; i++) {
    const seg_state_image *im = &s->images[i];
    const nala_seg_image_counts *c = &im->counts;
    put(&t, "%s\n  {\"index\": %d, \"file\": ", i ? "," : "", im->index);
    put_string(&t, im->file);
    put(&t,
        ", \"pixels\": %" PRIu64 ", \"ignored\": %" PRIu64 ", \"label_out_of_range\": %" PRIu64
        ", \"pred_out_of_range\": %" PRIu64 ", \"first_bad_label\": %d, \"first_bad_pred\": %d, \"cells\": [",
        c->pixels, c->ignored, c->label_out_of_range, c->pred_out_of_range, c->first_bad_label, c->first_bad_pred);
    for (size_t k = 0; k < im->n_cells; k++)
      put(&t, "%s%" PRIu32 ", %" PRIu64, k ? ", " : "", im->cell_index[k], im->cell_count[k]);
    put(&t, "]}");
  }
  put(&t, "],\n \"problems\": [");
  for (size_t i = 0; i < s->n_problems; i++) {
    put(&t, "%s\n  ", i ? "," : "");
    put_string(&t, s->problems[i]);
  }
  put(&t, "]}\n");
  nala_status st = t.oom ? nala_fail(err, NALA_E_NOMEM, "%s: out of memory writing the state", path)
                         : nala_write_atomic(path, t.p, t.n, err);
  free(t.p);
  return st;
}

/* ---- reading ---- */

/* A non-negative integer-valued number <= 2^53 (exact in a double). */
static int as_count(const cJSON *v, uint64_t *out) {
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 9007199254740992.0 ||
      v->valuedouble != floor(v->valuedouble))
    return 0;
  *out = (uint64_t)v->valuedouble;
  return 1;
}

static int as_int(const cJSON *v, int lo, int hi, int *out) {
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) || v->valuedouble != floor(v->valuedouble))
    return 0;
  *out = (int)v->valuedouble;
  return 1;
}

static nala_status read_image(const char *path, const cJSON *j, size_t i, int side, seg_state_image *im,
                              nala_err *err) {
  memset(im, 0, sizeof *im);
  im->counts.first_bad_label = im->counts.first_bad_pred = -1;
  const cJSON *file = cJSON_GetObjectItemCaseSensitive(j, "file"), *cells = cJSON_GetObjectItemCaseSensitive(j, "cells");
  if (!cJSON_IsObject(j) || !as_int(cJSON_GetObjectItemCaseSensitive(j, "index"), 0, INT32_MAX, &im->index) ||
      !cJSON_IsString(file) || !as_count(cJSON_GetObjectItemCaseSensitive(j, "pixels"), &im->counts.pixels) ||
      !as_count(cJSON_GetObjectItemCaseSensitive(j, "ignored"), &im->counts.ignored) ||
      !as_count(cJSON_GetObjectItemCaseSensitive(j, "label_out_of_range"), &im->counts.label_out_of_range) ||
      !as_count(cJSON_GetObjectItemCaseSensitive(j, "pred_out_of_range"), &im->counts.pred_out_of_range) ||
      !as_int(cJSON_GetObjectItemCaseSensitive(j, "first_bad_label"), -1, 255, &im->counts.first_bad_label) ||
      !as_int(cJSON_GetObjectItemCaseSensitive(j, "first_bad_pred"), -1, 255, &im->counts.first_bad_pred) ||
      !cJSON_IsArray(cells) || cJSON_GetArraySize(cells) % 2)
    return nala_fail(err, NALA_E_FORMAT,
                     "%s: images[%zu]: expected {index, file, pixels, ignored, label_out_of_range, pred_out_of_range, "
                     "first_bad_label, first_bad_pred, cells: [cell, count, ...]} with non-negative integers",
                     path, i);
  size_t n = (size_t)cJSON_GetArraySize(cells) / 2;
  im->file = strdup(file->valuestring);
  im->cell_index = malloc((n ? n : 1) * sizeof *im->cell_index);
  im->cell_count = malloc((n ? n : 1) * sizeof *im->cell_count);
  if (!im->file || !im->cell_index || !im->cell_count)
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
  const cJSON *v = cells->child;
  for (size_t k = 0; k < n; k++, v = v->next->next) {
    int cell;
    if (!as_int(v, 0, side * side - 1, &cell) || !as_count(v->next, &im->cell_count[k]))
      return nala_fail(err, NALA_E_FORMAT, "%s: images[%zu].cells[%zu]: expected a cell in [0, %d) and a count", path,
                       i, 2 * k, side * side);
    im->cell_index[k] = (uint32_t)cell;
    im->n_cells = k + 1;
  }
  return NALA_OK;
}

static nala_status parse_state(const char *path, const cJSON *root, seg_state *s, nala_err *err) {
  const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
  if (!cJSON_IsObject(root) || !cJSON_IsString(format) || strcmp(format->valuestring, STATE_FORMAT))
    return nala_fail(err, NALA_E_FORMAT, "%s: not a state file of `nala eval seg --save-state` (no \"format\": \"%s\")",
                     path, STATE_FORMAT);
  int version = 0;
  if (!as_int(cJSON_GetObjectItemCaseSensitive(root, "version"), 0, 1000, &version) || version != 1)
    return nala_fail(err, NALA_E_FORMAT, "%s: \"version\" must be 1", path);
  const cJSON *dataset = cJSON_GetObjectItemCaseSensitive(root, "dataset");
  const cJSON *shard = cJSON_GetObjectItemCaseSensitive(root, "shard");
  if (!cJSON_IsString(dataset) || strlen(dataset->valuestring) >= sizeof s->dataset)
    return nala_fail(err, NALA_E_FORMAT, "%s: \"dataset\" must be a short string", path);
  snprintf(s->dataset, sizeof s->dataset, "%s", dataset->valuestring);
  if (!as_int(cJSON_GetObjectItemCaseSensitive(root, "num_classes"), 1, NALA_SEG_MAX_CLASSES, &s->num_classes) ||
      !as_int(cJSON_GetObjectItemCaseSensitive(root, "ignore_index"), -1, 255, &s->ignore_index) ||
      !as_int(cJSON_GetObjectItemCaseSensitive(root, "total"), 0, INT32_MAX, &s->total) ||
      !as_int(cJSON_GetObjectItemCaseSensitive(root, "limit"), 0, INT32_MAX, &s->limit))
    return nala_fail(err, NALA_E_FORMAT, "%s: num_classes (1..256), ignore_index (-1..255), total and limit must be "
                     "integers in range", path);
  if (!cJSON_IsArray(shard) || cJSON_GetArraySize(shard) != 2 ||
      !as_int(cJSON_GetArrayItem(shard, 1), 1, INT32_MAX, &s->shard_count) ||
      !as_int(cJSON_GetArrayItem(shard, 0), 0, s->shard_count - 1, &s->shard_index))
    return nala_fail(err, NALA_E_FORMAT, "%s: \"shard\" must be [i, n] with 0 <= i < n", path);
  const cJSON *classes = cJSON_GetObjectItemCaseSensitive(root, "classes");
  if (cJSON_IsArray(classes)) {
    if (cJSON_GetArraySize(classes) != s->num_classes)
      return nala_fail(err, NALA_E_FORMAT, "%s: \"classes\" has %d names for %d classes", path,
                       cJSON_GetArraySize(classes), s->num_classes);
    const char *names[NALA_SEG_MAX_CLASSES];
    int c = 0;
    for (const cJSON *v = classes->child; v; v = v->next, c++) {
      if (!cJSON_IsString(v))
        return nala_fail(err, NALA_E_FORMAT, "%s: classes[%d] is not a string", path, c);
      names[c] = v->valuestring;
    }
    NALA_CHECK(seg_state_set_classes(s, names, err));
  } else if (classes && !cJSON_IsNull(classes)) {
    return nala_fail(err, NALA_E_FORMAT, "%s: \"classes\" must be a list of names or null", path);
  }
  const cJSON *images = cJSON_GetObjectItemCaseSensitive(root, "images");
  const cJSON *problems = cJSON_GetObjectItemCaseSensitive(root, "problems");
  if (!cJSON_IsArray(images) || !cJSON_IsArray(problems))
    return nala_fail(err, NALA_E_FORMAT, "%s: \"images\" and \"problems\" must be lists", path);
  size_t n = (size_t)cJSON_GetArraySize(images);
  s->images = calloc(n ? n : 1, sizeof *s->images);
  if (!s->images)
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
  s->cap_images = n ? n : 1;
  size_t i = 0;
  for (const cJSON *j = images->child; j; j = j->next, i++) {
    nala_status st = read_image(path, j, i, s->num_classes + 1, &s->images[i], err);
    s->n_images = i + 1; /* freed by seg_state_free even when partly read */
    NALA_CHECK(st);
  }
  for (const cJSON *p = problems->child; p; p = p->next) {
    if (!cJSON_IsString(p))
      return nala_fail(err, NALA_E_FORMAT, "%s: \"problems\" must hold strings", path);
    NALA_CHECK(seg_state_add_line(s, p->valuestring, err));
  }
  return NALA_OK;
}

nala_status seg_state_load(const char *path, seg_state *s, nala_err *err) {
  memset(s, 0, sizeof *s);
  FILE *f = fopen(path, "rb");
  if (!f)
    return nala_fail(err, NALA_E_IO, "%s: cannot open state file", path);
  char *buf = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (cap - n < 65536) {
      cap = cap ? 2 * cap : 1 << 17;
      char *grown = realloc(buf, cap + 1);
      if (!grown) {
        free(buf);
        fclose(f);
        return nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
      }
      buf = grown;
    }
    size_t k = fread(buf + n, 1, cap - n, f);
    n += k;
    if (k == 0)
      break;
  }
  fclose(f);
  buf[n] = '\0';
  cJSON *root = cJSON_ParseWithLength(buf, n);
  free(buf);
  if (!root)
    return nala_fail(err, NALA_E_FORMAT, "%s: not valid JSON (truncated or corrupt state file)", path);
  nala_status st = parse_state(path, root, s, err);
  cJSON_Delete(root);
  if (st != NALA_OK)
    seg_state_free(s);
  return st;
}

nala_status seg_state_replay(const seg_state *s, nala_seg_metrics *m, nala_err *err) {
  int side = s->num_classes + 1;
  size_t cells = (size_t)side * (size_t)side;
  uint64_t *dense = calloc(cells, sizeof *dense);
  if (!dense)
    return nala_fail(err, NALA_E_NOMEM, "out of memory replaying the shard state");
  nala_status st = NALA_OK;
  for (size_t i = 0; i < s->n_images && st == NALA_OK; i++) {
    const seg_state_image *im = &s->images[i];
    for (size_t k = 0; k < im->n_cells; k++)
      dense[im->cell_index[k]] = im->cell_count[k];
    st = nala_seg_metrics_add_confusion(m, dense, side, &im->counts, err);
    for (size_t k = 0; k < im->n_cells; k++)
      dense[im->cell_index[k]] = 0;
  }
  free(dense);
  return st;
}
