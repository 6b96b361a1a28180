/* Dataset records, limit/shard selection and the bad-sample log shared by every dataset type. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset_internal.h"

nala_status ds_create(nala_dataset_type type, nala_dataset **out, nala_err *err) {
  nala_dataset *ds = calloc(1, sizeof *ds);
  if (!ds)
    return nala_fail(err, NALA_E_NOMEM, "dataset: out of memory");
  if (pthread_mutex_init(&ds->bad_lock, NULL)) {
    free(ds);
    return nala_fail(err, NALA_E_NOMEM, "dataset: cannot create a mutex");
  }
  ds->type = type;
  *out = ds;
  return NALA_OK;
}

static void free_sample(nala_sample *s) {
  free((char *)s->img_path);
  free((char *)s->file_name);
  free((char *)s->gt_path);
}

void nala_dataset_close(nala_dataset *ds) {
  if (!ds)
    return;
  for (int i = 0; i < ds->n_all; i++) {
    free_sample(&ds->all[i]);
    free(ds->unusable[i]);
  }
  free(ds->all);
  free(ds->unusable);
  for (int i = 0; i < ds->n_orphans; i++) {
    free((char *)ds->orphans[i].file);
    free((char *)ds->orphans[i].reason);
  }
  free(ds->orphans);
  free(ds->yield);
  for (int i = 0; i < ds->n_classes; i++)
    free(ds->class_names[i]);
  free(ds->class_names);
  free(ds->category_ids);
  for (int i = 0; i < ds->n_bad; i++) {
    free((char *)ds->bad[i].file);
    free((char *)ds->bad[i].reason);
  }
  free(ds->bad);
  pthread_mutex_destroy(&ds->bad_lock);
  free(ds);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

nala_status ds_add_sample(nala_dataset *ds, const char *img_path, const char *file_name, const char *gt_path,
                          int64_t image_id, int width, int height, int gt_is_label_ids, const char *unusable,
                          nala_err *err) {
  if (ds->n_all == ds->cap_all) {
    int cap = ds->cap_all ? ds->cap_all * 2 : 256;
    nala_sample *all = realloc(ds->all, (size_t)cap * sizeof *all);
    if (all)
      ds->all = all;
    char **reasons = all ? realloc(ds->unusable, (size_t)cap * sizeof *reasons) : NULL;
    if (!reasons)
      return nala_fail(err, NALA_E_NOMEM, "dataset: out of memory at sample %d", ds->n_all);
    ds->unusable = reasons;
    ds->cap_all = cap;
  }
  nala_sample *s = &ds->all[ds->n_all];
  memset(s, 0, sizeof *s);
  s->img_path = strdup(img_path);
  s->file_name = strdup(file_name);
  s->gt_path = dup_or_null(gt_path);
  char *reason = dup_or_null(unusable);
  if (!s->img_path || !s->file_name || (gt_path && !s->gt_path) || (unusable && !reason)) {
    free_sample(s);
    free(reason);
    return nala_fail(err, NALA_E_NOMEM, "dataset: out of memory at %s", file_name);
  }
  s->image_id = image_id;
  s->width = width;
  s->height = height;
  s->gt_is_label_ids = gt_is_label_ids;
  ds->unusable[ds->n_all++] = reason;
  return NALA_OK;
}

/* Appends (file, reason) copies to a list; shared by the orphan list and the bad-sample log. */
static nala_status push_pair(nala_bad_sample **list, int *n, int *cap, const char *file, const char *reason,
                             nala_err *err) {
  if (*n == *cap) {
    int grown_cap = *cap ? *cap * 2 : 16;
    nala_bad_sample *grown = realloc(*list, (size_t)grown_cap * sizeof *grown);
    if (!grown)
      return nala_fail(err, NALA_E_NOMEM, "dataset: out of memory logging %s", file);
    *list = grown;
    *cap = grown_cap;
  }
  char *file_copy = strdup(file ? file : "(unnamed)"), *reason_copy = strdup(reason ? reason : "");
  if (!file_copy || !reason_copy) {
    free(file_copy);
    free(reason_copy);
    return nala_fail(err, NALA_E_NOMEM, "dataset: out of memory logging %s", file);
  }
  (*list)[*n].file = file_copy;
  (*list)[*n].reason = reason_copy;
  (*n)++;
  return NALA_OK;
}

nala_status ds_add_orphan(nala_dataset *ds, const char *file, const char *reason, nala_err *err) {
  return push_pair(&ds->orphans, &ds->n_orphans, &ds->cap_orphans, file, reason, err);
}

typedef struct sample_with_reason {
  nala_sample sample;
  char *unusable;
} sample_with_reason;

static int compare_file_names(const void *a, const void *b) {
  return strcmp(((const sample_with_reason *)a)->sample.file_name, ((const sample_with_reason *)b)->sample.file_name);
}

void ds_sort_by_file_name(nala_dataset *ds) {
  int n = ds->n_all;
  sample_with_reason *pairs = malloc((size_t)n * sizeof *pairs + 1);
  if (!pairs) /* out of memory keeps the scan order, which is already sorted folder by folder */
    return;
  for (int i = 0; i < n; i++) {
    pairs[i].sample = ds->all[i];
    pairs[i].unusable = ds->unusable[i];
  }
  qsort(pairs, (size_t)n, sizeof *pairs, compare_file_names); /* file names are unique: order is total */
  for (int i = 0; i < n; i++) {
    ds->all[i] = pairs[i].sample;
    ds->unusable[i] = pairs[i].unusable;
  }
  free(pairs);
}

nala_status ds_finish(nala_dataset *ds, const nala_dataset_opts *opts, nala_err *err) {
  int limit = opts ? opts->limit : 0, index = opts ? opts->shard_index : 0, count = opts ? opts->shard_count : 1;
  if (limit < 0)
    return nala_fail(err, NALA_E_ARG, "dataset: limit %d is negative", limit);
  if (count < 1)
    count = 1;
  if (index < 0 || index >= count)
    return nala_fail(err, NALA_E_ARG, "dataset: shard %d/%d is not in 0..%d", index, count, count - 1);
  for (int i = 0; i < ds->n_all; i++)
    ds->all[i].index = i;
  int n = limit && limit < ds->n_all ? limit : ds->n_all;
  /* Contiguous slices: the 64-bit products cannot overflow for int sizes. */
  int begin = (int)((int64_t)index * n / count), end = (int)((int64_t)(index + 1) * n / count);
  ds->yield = malloc((size_t)(end - begin) * sizeof *ds->yield + 1);
  if (!ds->yield)
    return nala_fail(err, NALA_E_NOMEM, "dataset: out of memory");
  for (int i = begin; i < end; i++) {
    if (ds->unusable[i])
      NALA_CHECK(nala_dataset_bad_sample(ds, ds->all[i].img_path, ds->unusable[i], err));
    else
      ds->yield[ds->n_yield++] = i;
  }
  if (index == 0)
    for (int i = 0; i < ds->n_orphans; i++)
      NALA_CHECK(nala_dataset_bad_sample(ds, ds->orphans[i].file, ds->orphans[i].reason, err));
  return NALA_OK;
}

nala_status ds_set_config_classes(const nala_dataset_cfg *cfg, nala_dataset *ds, nala_err *err) {
  if (!cfg->n_classes)
    return NALA_OK;
  ds->class_names = calloc((size_t)cfg->n_classes, sizeof *ds->class_names);
  if (!ds->class_names)
    return nala_fail(err, NALA_E_NOMEM, "dataset: out of memory");
  for (int i = 0; i < cfg->n_classes; i++) {
    if (!(ds->class_names[i] = strdup(cfg->classes[i])))
      return nala_fail(err, NALA_E_NOMEM, "dataset: out of memory");
    ds->n_classes = i + 1;
  }
  return NALA_OK;
}

nala_status nala_dataset_open(const nala_dataset_cfg *cfg, const nala_dataset_opts *opts, nala_dataset **out,
                              nala_err *err) {
  if (!cfg || !out)
    return nala_fail(err, NALA_E_ARG, "nala_dataset_open: NULL argument");
  *out = NULL;
  nala_dataset *ds;
  NALA_CHECK(ds_create(cfg->type, &ds, err));
  nala_status st;
  switch (cfg->type) {
  case NALA_DATASET_COCO: st = ds_open_coco(cfg, ds, err); break;
  case NALA_DATASET_ADE20K: st = ds_open_ade20k(cfg, ds, err); break;
  case NALA_DATASET_CITYSCAPES: st = ds_open_cityscapes(cfg, ds, err); break;
  default: st = nala_fail(err, NALA_E_ARG, "nala_dataset_open: unknown dataset type %d", (int)cfg->type);
  }
  if (st == NALA_OK)
    st = ds_finish(ds, opts, err);
  if (st != NALA_OK) {
    nala_dataset_close(ds);
    return st;
  }
  *out = ds;
  return NALA_OK;
}

int nala_dataset_size(const nala_dataset *ds) { return ds ? ds->n_yield : 0; }

int nala_dataset_total(const nala_dataset *ds) { return ds ? ds->n_all : 0; }

const nala_sample *nala_dataset_sample(const nala_dataset *ds, int i) {
  return ds && i >= 0 && i < ds->n_yield ? &ds->all[ds->yield[i]] : NULL;
}

int nala_dataset_num_classes(const nala_dataset *ds) { return ds ? ds->n_classes : 0; }

const char *nala_dataset_class_name(const nala_dataset *ds, int label) {
  return ds && label >= 0 && label < ds->n_classes ? ds->class_names[label] : NULL;
}

int64_t nala_dataset_category_id(const nala_dataset *ds, int label) {
  return ds && ds->category_ids && label >= 0 && label < ds->n_classes ? ds->category_ids[label] : -1;
}

int nala_dataset_label_of_category(const nala_dataset *ds, int64_t category_id) {
  if (!ds || !ds->category_ids)
    return -1;
  int lo = 0, hi = ds->n_classes - 1; /* ids are ascending */
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2;
    if (ds->category_ids[mid] == category_id)
      return mid;
    if (ds->category_ids[mid] < category_id)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return -1;
}

nala_status nala_dataset_bad_sample(nala_dataset *ds, const char *file, const char *reason, nala_err *err) {
  if (!ds)
    return nala_fail(err, NALA_E_ARG, "nala_dataset_bad_sample: NULL dataset");
  pthread_mutex_lock(&ds->bad_lock);
  nala_status st = push_pair(&ds->bad, &ds->n_bad, &ds->cap_bad, file, reason, err);
  pthread_mutex_unlock(&ds->bad_lock);
  return st;
}

int nala_dataset_bad_count(const nala_dataset *ds) {
  if (!ds)
    return 0;
  pthread_mutex_lock((pthread_mutex_t *)&ds->bad_lock);
  int n = ds->n_bad;
  pthread_mutex_unlock((pthread_mutex_t *)&ds->bad_lock);
  return n;
}

nala_bad_sample nala_dataset_bad_get(const nala_dataset *ds, int i) {
  nala_bad_sample entry = {NULL, NULL};
  if (!ds)
    return entry;
  pthread_mutex_lock((pthread_mutex_t *)&ds->bad_lock);
  if (i >= 0 && i < ds->n_bad)
    entry = ds->bad[i];
  pthread_mutex_unlock((pthread_mutex_t *)&ds->bad_lock);
  return entry;
}

int nala_dataset_print_report(const nala_dataset *ds, FILE *out) {
  int n = nala_dataset_bad_count(ds);
  if (!n || !out)
    return n;
  fprintf(out, "%d bad or skipped sample%s (%d yielded of %d in the dataset):\n", n, n == 1 ? "" : "s",
          nala_dataset_size(ds), nala_dataset_total(ds));
  for (int i = 0; i < n; i++) {
    nala_bad_sample entry = nala_dataset_bad_get(ds, i);
    fprintf(out, "  %s: %s\n", entry.file, entry.reason);
  }
  return n;
}
