/* Label maps of a segmentation ground-truth folder (mmseg ade.py / cityscapes.py suffixes). */
#include "nala/seg_label_maps.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/dataset_internal.h"

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && !strcmp(s + n - k, suffix);
}

static nala_status push(nala_seg_label_maps *list, const char *key, size_t key_len, const char *path, int label_ids,
                        nala_err *err) {
  if (list->count == list->cap) {
    size_t cap = list->cap ? 2 * list->cap : 256;
    nala_seg_label_map *maps = realloc(list->maps, cap * sizeof *maps);
    if (!maps)
      return nala_fail(err, NALA_E_NOMEM, "out of memory listing label maps");
    list->maps = maps;
    list->cap = cap;
  }
  nala_seg_label_map *m = &list->maps[list->count];
  m->key = strndup(key, key_len);
  m->path = strdup(path);
  m->label_ids = label_ids;
  if (!m->key || !m->path) {
    free(m->key);
    free(m->path);
    return nala_fail(err, NALA_E_NOMEM, "out of memory listing label maps");
  }
  list->count++;
  return NALA_OK;
}

/* rel is the path under the root ("" at the root, "city" below it). */
static nala_status walk(const char *root, const char *rel, int cityscapes, int depth, nala_seg_label_maps *out,
                        nala_err *err) {
  char dir_path[4096];
  if (snprintf(dir_path, sizeof dir_path, "%s%s%s", root, *rel ? "/" : "", rel) >= (int)sizeof dir_path)
    return nala_fail(err, NALA_E_ARG, "%s/%s: path too long", root, rel);
  DIR *dir = opendir(dir_path);
  if (!dir)
    return nala_fail(err, NALA_E_IO, "%s: cannot open folder: %s", dir_path, strerror(errno));
  nala_status st = NALA_OK;
  struct dirent *entry;
  while (st == NALA_OK && (entry = readdir(dir)) != NULL) {
    const char *name = entry->d_name;
    if (name[0] == '.')
      continue;
    char rel_path[4096], full[4096];
    int n1 = snprintf(rel_path, sizeof rel_path, "%s%s%s", rel, *rel ? "/" : "", name);
    int n2 = snprintf(full, sizeof full, "%s/%s", dir_path, name);
    if (n1 >= (int)sizeof rel_path || n2 >= (int)sizeof full) {
      st = nala_fail(err, NALA_E_ARG, "%s/%s: path too long", dir_path, name);
      break;
    }
    struct stat info;
    if (stat(full, &info) != 0) {
      st = nala_fail(err, NALA_E_IO, "%s: cannot stat: %s", full, strerror(errno));
      break;
    }
    if (S_ISDIR(info.st_mode)) {
      /* Cityscapes keeps one folder per city; deeper trees are walked too (symlink loops stop at 16). */
      if (cityscapes && depth < 16)
        st = walk(root, rel_path, cityscapes, depth + 1, out, err);
      continue;
    }
    if (!S_ISREG(info.st_mode) || !ends_with(name, ".png"))
      continue;
    size_t len = strlen(rel_path);
    if (!cityscapes)
      st = push(out, rel_path, len - strlen(".png"), full, 0, err);
    else if (ends_with(name, NALA_CS_TRAINIDS_SUFFIX))
      st = push(out, rel_path, len - strlen(NALA_CS_TRAINIDS_SUFFIX), full, 0, err);
    else if (ends_with(name, NALA_CS_LABELIDS_SUFFIX))
      st = push(out, rel_path, len - strlen(NALA_CS_LABELIDS_SUFFIX), full, 1, err);
    else
      out->skipped_pngs++;
  }
  closedir(dir);
  return st;
}

static int by_key_then_train_ids(const void *a, const void *b) {
  const nala_seg_label_map *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  return c ? c : x->label_ids - y->label_ids;
}

nala_status nala_seg_label_maps_list(const char *dir, nala_dataset_type type, nala_seg_label_maps *out,
                                     nala_err *err) {
  if (!out)
    return nala_fail(err, NALA_E_ARG, "nala_seg_label_maps_list: out is NULL");
  memset(out, 0, sizeof *out);
  if (!dir || (type != NALA_DATASET_ADE20K && type != NALA_DATASET_CITYSCAPES))
    return nala_fail(err, NALA_E_ARG, "nala_seg_label_maps_list: needs a folder and ADE20K or Cityscapes");
  nala_status st = walk(dir, "", type == NALA_DATASET_CITYSCAPES, 0, out, err);
  if (st != NALA_OK) {
    nala_seg_label_maps_free(out);
    return st;
  }
  if (out->count > 1) /* qsort(NULL, 0, ...) is undefined */
    qsort(out->maps, out->count, sizeof *out->maps, by_key_then_train_ids);
  /* A key with both maps keeps the labelTrainIds one (sorted first), as mmseg reads that one. */
  size_t kept = 0;
  for (size_t i = 0; i < out->count; i++) {
    if (kept && !strcmp(out->maps[kept - 1].key, out->maps[i].key)) {
      free(out->maps[i].key);
      free(out->maps[i].path);
      continue;
    }
    out->maps[kept++] = out->maps[i];
  }
  out->count = kept;
  return NALA_OK;
}

const nala_seg_label_map *nala_seg_label_maps_find(const nala_seg_label_maps *list, const char *key) {
  size_t lo = 0, hi = list ? list->count : 0;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(list->maps[mid].key, key);
    if (c == 0)
      return &list->maps[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

void nala_seg_label_maps_free(nala_seg_label_maps *list) {
  if (!list)
    return;
  for (size_t i = 0; i < list->count; i++) {
    free(list->maps[i].key);
    free(list->maps[i].path);
  }
  free(list->maps);
  memset(list, 0, sizeof *list);
}
