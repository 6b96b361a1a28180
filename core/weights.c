/* Strict weight binder: collects every problem instead of stopping at the first, because a
 * checkpoint for the wrong variant fails on dozens of keys and users need to see the pattern. */
#include "nala/weights.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/kernels/rope.h"
#include "nala/seeded_init.h"

enum { PB_MISSING, PB_UNEXPECTED, PB_SHAPE, PB_DTYPE, PB_KINDS };
static const char *const kind_names[PB_KINDS] = {"missing", "unexpected", "wrong shape", "wrong dtype"};
#define LIST_CAP 50 /* keys per kind in the error message; the report has them all */

typedef struct str_list {
  char **items;
  size_t count, cap;
} str_list;

struct nala_weights {
  nala_st_file *file; /* NULL for a seeded binder */
  uint64_t seed;
  size_t *by_name;    /* tensor indices sorted by name, for bsearch */
  unsigned char *taken;
  str_list problems[PB_KINDS];
  str_list ignore_prefixes, ignore_suffixes;
  int oom;            /* an allocation failed while recording: finish reports it */
  char *report;
};

static int list_push(str_list *l, char *item) {
  if (!item)
    return 0;
  if (l->count == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    char **grown = realloc(l->items, cap * sizeof *grown);
    if (!grown) {
      free(item);
      return 0;
    }
    l->items = grown;
    l->cap = cap;
  }
  l->items[l->count++] = item;
  return 1;
}

static void list_clear(str_list *l) {
  for (size_t i = 0; i < l->count; i++)
    free(l->items[i]);
  l->count = 0;
}

static void list_free(str_list *l) {
  list_clear(l);
  free(l->items);
  l->items = NULL;
  l->cap = 0;
}

static char *vformat(const char *fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (s)
    vsnprintf(s, (size_t)n + 1, fmt, ap);
  return s;
}

static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = vformat(fmt, ap);
  va_end(ap);
  return s;
}

static void record(nala_weights *w, int kind, char *text) {
  if (!list_push(&w->problems[kind], text))
    w->oom = 1;
}

static void shape_text(char *buf, size_t cap, int ndim, const int64_t *shape) {
  size_t len = (size_t)snprintf(buf, cap, "[");
  for (int d = 0; d < ndim && len < cap; d++)
    len += (size_t)snprintf(buf + len, cap - len, d ? ", %lld" : "%lld", (long long)shape[d]);
  if (len < cap)
    snprintf(buf + len, cap - len, "]");
}

static int cmp_index_by_name(const void *a, const void *b, const nala_st_file *file) {
  return strcmp(nala_st_at(file, *(const size_t *)a)->name, nala_st_at(file, *(const size_t *)b)->name);
}

/* Merge sort of indices by name: qsort has no context argument in C11, and a file-scope pointer
 * to the file would be mutable global state. */
static void sort_indices(size_t *idx, size_t *tmp, size_t n, const nala_st_file *file) {
  if (n < 2)
    return;
  size_t half = n / 2;
  sort_indices(idx, tmp, half, file);
  sort_indices(idx + half, tmp, n - half, file);
  size_t i = 0, j = half, k = 0;
  while (i < half && j < n)
    tmp[k++] = cmp_index_by_name(&idx[j], &idx[i], file) < 0 ? idx[j++] : idx[i++];
  while (i < half)
    tmp[k++] = idx[i++];
  while (j < n)
    tmp[k++] = idx[j++];
  memcpy(idx, tmp, n * sizeof *idx);
}

/* Index of key in the file, or -1. */
static long find_index(const nala_weights *w, const char *key) {
  size_t lo = 0, hi = nala_st_count(w->file);
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(nala_st_at(w->file, w->by_name[mid])->name, key);
    if (c == 0)
      return (long)w->by_name[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

/* Binder over an opened file (owned from here on, closed on failure). */
static nala_status weights_over(nala_st_file *file, nala_weights **out, nala_err *err) {
  const char *path = nala_st_path(file);
  nala_weights *w = calloc(1, sizeof *w);
  if (!w) {
    nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
    nala_st_close(file);
    return NALA_E_NOMEM;
  }
  w->file = file;
  size_t n = nala_st_count(w->file);
  size_t *tmp = malloc((n + 1) * sizeof *tmp);
  w->by_name = malloc((n + 1) * sizeof *w->by_name);
  w->taken = calloc(n + 1, 1);
  if (!tmp || !w->by_name || !w->taken) {
    free(tmp);
    nala_fail(err, NALA_E_NOMEM, "%s: out of memory for %zu keys", path, n);
    nala_weights_close(w);
    return NALA_E_NOMEM;
  }
  for (size_t i = 0; i < n; i++)
    w->by_name[i] = i;
  sort_indices(w->by_name, tmp, n, w->file);
  free(tmp);
  *out = w;
  return NALA_OK;
}

nala_status nala_weights_open(const char *path, nala_weights **out, nala_err *err) {
  if (!out)
    return nala_fail(err, NALA_E_ARG, "nala_weights_open: NULL out");
  *out = NULL;
  nala_st_file *file;
  NALA_CHECK(nala_st_open(path, &file, err));
  return weights_over(file, out, err);
}

nala_status nala_weights_open_memory(const void *data, size_t size, const char *name, nala_weights **out,
                                     nala_err *err) {
  if (!out)
    return nala_fail(err, NALA_E_ARG, "nala_weights_open_memory: NULL out");
  *out = NULL;
  nala_st_file *file;
  NALA_CHECK(nala_st_open_memory(data, size, name, &file, err));
  return weights_over(file, out, err);
}

nala_status nala_weights_seeded(uint64_t seed, nala_weights **out, nala_err *err) {
  if (!out)
    return nala_fail(err, NALA_E_ARG, "nala_weights_seeded: NULL out");
  *out = calloc(1, sizeof **out);
  if (!*out)
    return nala_fail(err, NALA_E_NOMEM, "seeded weights: out of memory");
  (*out)->seed = seed;
  return NALA_OK;
}

void nala_weights_close(nala_weights *w) {
  if (!w)
    return;
  nala_st_close(w->file);
  for (int k = 0; k < PB_KINDS; k++)
    list_free(&w->problems[k]);
  list_free(&w->ignore_prefixes);
  list_free(&w->ignore_suffixes);
  free(w->by_name);
  free(w->taken);
  free(w->report);
  free(w);
}

const nala_st_file *nala_weights_file(const nala_weights *w) { return w ? w->file : NULL; }

static int ends_with(const char *s, const char *suffix) {
  size_t ls = strlen(s), lx = strlen(suffix);
  return ls >= lx && !memcmp(s + ls - lx, suffix, lx);
}

static int is_rope_angle(const char *key) { return ends_with(key, ".RoPE.angle") || !strcmp(key, "RoPE.angle"); }

int nala_weights_has(const nala_weights *w, const char *key) {
  if (!w || !key)
    return 0;
  return w->file ? find_index(w, key) >= 0 : 1;
}

int nala_weights_shape(const nala_weights *w, const char *key, int *ndim, int64_t shape[NALA_ST_MAX_DIMS]) {
  if (!w || !key || !w->file)
    return 0;
  long i = find_index(w, key);
  if (i < 0)
    return 0;
  const nala_st_tensor *t = nala_st_at(w->file, (size_t)i);
  if (ndim)
    *ndim = t->ndim;
  if (shape)
    memcpy(shape, t->shape, (size_t)t->ndim * sizeof *shape);
  return 1;
}

static size_t numel_of(int ndim, const int64_t *shape) {
  size_t n = 1;
  for (int d = 0; d < ndim; d++)
    n *= shape[d] > 0 ? (size_t)shape[d] : 0;
  return n;
}

/* Seeded source: generated keys, plus RoPE.angle computed as NALA.py does. */
static nala_status take_seeded(nala_weights *w, const char *key, int ndim, const int64_t *shape, float *dst,
                               int optional) {
  if (is_rope_angle(key) && ndim == 1 && shape[0] % 2 == 0 && shape[0] <= (1 << 20)) {
    if (dst)
      nala_rope_angle((int)(2 * shape[0]), dst);
    return NALA_OK;
  }
  if (!nala_seeded_range(key, ndim, shape, NULL, NULL)) {
    if (!optional)
      record(w, PB_MISSING, format("%s (no seeded-weight rule for this key)", key));
    return NALA_E_FORMAT;
  }
  return dst ? nala_seeded_fill(w->seed, key, ndim, shape, dst, NULL) : NALA_OK;
}

static nala_status take_impl(nala_weights *w, const char *key, int ndim, const int64_t *shape, float *dst,
                             int optional) {
  if (!w || !key || ndim < 0 || ndim > NALA_ST_MAX_DIMS || (ndim && !shape))
    return NALA_E_ARG;
  for (int d = 0; d < ndim; d++)
    if (shape[d] < 0)
      return NALA_E_ARG;
  size_t n = numel_of(ndim, shape);
  nala_status status;
  if (!w->file) {
    status = take_seeded(w, key, ndim, shape, dst, optional);
  } else {
    long i = find_index(w, key);
    if (i < 0) {
      if (!optional) {
        char want[160];
        shape_text(want, sizeof want, ndim, shape);
        record(w, PB_MISSING, format("%s (model shape %s)", key, want));
      }
      status = NALA_E_FORMAT;
    } else {
      const nala_st_tensor *t = nala_st_at(w->file, (size_t)i);
      w->taken[i] = 1; /* even when wrong: it is reported as wrong, not also as unexpected */
      int same = t->ndim == ndim && !memcmp(t->shape, shape, (size_t)ndim * sizeof *shape);
      if (!same) {
        char have[160], want[160];
        shape_text(have, sizeof have, t->ndim, t->shape);
        shape_text(want, sizeof want, ndim, shape);
        record(w, PB_SHAPE, format("%s (file %s, model %s)", key, have, want));
        status = NALA_E_SHAPE;
      } else if (t->dtype != NALA_DT_F32 && t->dtype != NALA_DT_F16 && t->dtype != NALA_DT_BF16 &&
                 t->dtype != NALA_DT_F64) {
        record(w, PB_DTYPE, format("%s (%s, expected F32, F16, BF16 or F64)", key, nala_dtype_name(t->dtype)));
        status = NALA_E_UNSUPPORTED;
      } else {
        status = dst ? nala_st_to_f32(t, dst, n, NULL) : NALA_OK;
      }
    }
  }
  if (status != NALA_OK && dst && n)
    memset(dst, 0, n * sizeof *dst);
  return status;
}

nala_status nala_weights_take(nala_weights *w, const char *key, int ndim, const int64_t *shape, float *dst) {
  return take_impl(w, key, ndim, shape, dst, 0);
}

int nala_weights_optional(nala_weights *w, const char *key, int ndim, const int64_t *shape, float *dst) {
  return take_impl(w, key, ndim, shape, dst, 1) == NALA_OK;
}

nala_status nala_weights_takef(nala_weights *w, int ndim, const int64_t *shape, float *dst, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *key = fmt ? vformat(fmt, ap) : NULL;
  va_end(ap);
  if (!key) {
    if (w && fmt)
      w->oom = 1;
    return fmt ? NALA_E_NOMEM : NALA_E_ARG;
  }
  nala_status status = take_impl(w, key, ndim, shape, dst, 0);
  free(key);
  return status;
}

nala_status nala_weights_ignore_prefix(nala_weights *w, const char *prefix) {
  if (!w || !prefix)
    return NALA_E_ARG;
  return list_push(&w->ignore_prefixes, strdup(prefix)) ? NALA_OK : NALA_E_NOMEM;
}

nala_status nala_weights_ignore_suffix(nala_weights *w, const char *suffix) {
  if (!w || !suffix)
    return NALA_E_ARG;
  return list_push(&w->ignore_suffixes, strdup(suffix)) ? NALA_OK : NALA_E_NOMEM;
}

static int is_ignored(const nala_weights *w, const char *key) {
  for (size_t i = 0; i < w->ignore_prefixes.count; i++)
    if (!strncmp(key, w->ignore_prefixes.items[i], strlen(w->ignore_prefixes.items[i])))
      return 1;
  for (size_t i = 0; i < w->ignore_suffixes.count; i++)
    if (ends_with(key, w->ignore_suffixes.items[i]))
      return 1;
  return 0;
}

/* Appends piece to the heap string *text of length *len; returns 0 when out of memory (the
 * string is kept as it was, for the caller to free). */
static int append(char **text, size_t *len, const char *piece) {
  size_t plen = strlen(piece);
  char *grown = realloc(*text, *len + plen + 1);
  if (!grown)
    return 0;
  memcpy(grown + *len, piece, plen + 1);
  *text = grown;
  *len += plen;
  return 1;
}

nala_status nala_weights_finish(nala_weights *w, const char *scope_prefix, nala_err *err) {
  if (!w)
    return nala_fail(err, NALA_E_ARG, "nala_weights_finish: NULL binder");
  const char *scope = scope_prefix ? scope_prefix : "";
  size_t scope_len = strlen(scope);
  for (size_t i = 0; w->file && i < nala_st_count(w->file); i++) {
    const char *name = nala_st_at(w->file, i)->name;
    if (!w->taken[i] && !strncmp(name, scope, scope_len) && !is_ignored(w, name)) {
      w->taken[i] = 1; /* reported once, not again by a later finish */
      record(w, PB_UNEXPECTED, strdup(name));
    }
  }
  char source[64];
  snprintf(source, sizeof source, "seeded weights (seed %llu)", (unsigned long long)w->seed);
  const char *source_name = w->file ? nala_st_path(w->file) : source;
  size_t total = 0;
  for (int k = 0; k < PB_KINDS; k++)
    total += w->problems[k].count;
  free(w->report);
  w->report = NULL;
  size_t report_len = 0;
  int ok = append(&w->report, &report_len, "");
  char summary[256] = "", line[64];
  for (int k = 0; k < PB_KINDS; k++) {
    if (!w->problems[k].count)
      continue;
    snprintf(line, sizeof line, "%s%zu %s", summary[0] ? ", " : "", w->problems[k].count, kind_names[k]);
    strncat(summary, line, sizeof summary - strlen(summary) - 1);
    for (size_t i = 0; ok && i < w->problems[k].count; i++)
      ok = append(&w->report, &report_len, kind_names[k]) && append(&w->report, &report_len, ": ") &&
           append(&w->report, &report_len, w->problems[k].items[i]) && append(&w->report, &report_len, "\n");
  }
  nala_status status = NALA_OK;
  if (!ok || w->oom) {
    status = nala_fail(err, NALA_E_NOMEM, "%s: out of memory while checking weights", source_name);
  } else if (total) {
    /* The message may be cut at NALA_ERR_MSG_MAX: the counts come first so they always show. */
    char *msg = NULL;
    size_t msg_len = 0;
    char head[512];
    snprintf(head, sizeof head, "%s: weights do not match the model under \"%s\" (%s)", source_name, scope, summary);
    ok = append(&msg, &msg_len, head);
    for (int k = 0; ok && k < PB_KINDS; k++) {
      const str_list *l = &w->problems[k];
      if (l->count)
        ok = append(&msg, &msg_len, "; ") && append(&msg, &msg_len, kind_names[k]) && append(&msg, &msg_len, ": ");
      for (size_t i = 0; ok && i < l->count && i < LIST_CAP; i++)
        ok = append(&msg, &msg_len, i ? ", " : "") && append(&msg, &msg_len, l->items[i]);
      if (ok && l->count > LIST_CAP) {
        snprintf(line, sizeof line, ", ... and %zu more", l->count - LIST_CAP);
        ok = append(&msg, &msg_len, line);
      }
    }
    nala_status kind_status = w->problems[PB_SHAPE].count && total == w->problems[PB_SHAPE].count ? NALA_E_SHAPE
                                                                                               : NALA_E_FORMAT;
    status = ok ? nala_fail(err, kind_status, "%s", msg)
                : nala_fail(err, NALA_E_NOMEM, "%s: out of memory while reporting weights", source_name);
    free(msg);
  }
  for (int k = 0; k < PB_KINDS; k++)
    list_clear(&w->problems[k]);
  w->oom = 0;
  return status;
}

const char *nala_weights_report(const nala_weights *w) { return w && w->report ? w->report : ""; }
