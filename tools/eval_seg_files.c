/* Which files `nala eval seg` compares: ground truth listed under --gt, predictions by key. */
#include "tools/eval_seg_files.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TRAIN_IDS_SUFFIX "_gtFine_labelTrainIds.png"
#define LABEL_IDS_SUFFIX "_gtFine_labelIds.png"

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && !strcmp(s + n - k, suffix);
}

static int is_regular_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static nala_status push(seg_gt_list *list, const char *key, size_t key_len, const char *path, int label_ids,
                        nala_err *err) {
  if (list->count == list->cap) {
    size_t cap = list->cap ? 2 * list->cap : 256;
    seg_gt_file *files = realloc(list->files, cap * sizeof *files);
    if (!files)
      return nala_fail(err, NALA_E_NOMEM, "out of memory listing ground truth");
    list->files = files;
    list->cap = cap;
  }
  seg_gt_file *f = &list->files[list->count];
  f->key = strndup(key, key_len);
  f->path = strdup(path);
  f->label_ids = label_ids;
  if (!f->key || !f->path) {
    free(f->key);
    free(f->path);
    return nala_fail(err, NALA_E_NOMEM, "out of memory listing ground truth");
  }
  list->count++;
  return NALA_OK;
}

/* rel is the path under the --gt root ("" at the root, "city" below it). */
static nala_status walk(const char *root, const char *rel, int cityscapes, int depth, seg_gt_list *out,
                        nala_err *err) {
  char dir_path[4096];
  if (snprintf(dir_path, sizeof dir_path, "%s%s%s", root, *rel ? "/" : "", rel) >= (int)sizeof dir_path)
    return nala_fail(err, NALA_E_ARG, "%s/%s: path too long", root, rel);
  DIR *dir = opendir(dir_path);
  if (!dir)
    return nala_fail(err, NALA_E_IO, "%s: cannot open directory: %s", dir_path, strerror(errno));
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
    else if (ends_with(name, TRAIN_IDS_SUFFIX))
      st = push(out, rel_path, len - strlen(TRAIN_IDS_SUFFIX), full, 0, err);
    else if (ends_with(name, LABEL_IDS_SUFFIX))
      st = push(out, rel_path, len - strlen(LABEL_IDS_SUFFIX), full, 1, err);
    else
      out->skipped_pngs++;
  }
  closedir(dir);
  return st;
}

static int by_key_then_train_ids(const void *a, const void *b) {
  const seg_gt_file *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  return c ? c : x->label_ids - y->label_ids;
}

nala_status seg_gt_list_build(const char *gt_dir, int cityscapes, seg_gt_list *out, nala_err *err) {
  memset(out, 0, sizeof *out);
  nala_status st = walk(gt_dir, "", cityscapes, 0, out, err);
  if (st != NALA_OK) {
    seg_gt_list_free(out);
    return st;
  }
  if (out->count > 1) /* qsort(NULL, 0, ...) is undefined */
    qsort(out->files, out->count, sizeof *out->files, by_key_then_train_ids);
  /* A key with both maps keeps the labelTrainIds one (sorted first), as mmseg reads that one. */
  size_t kept = 0;
  for (size_t i = 0; i < out->count; i++) {
    if (kept && !strcmp(out->files[kept - 1].key, out->files[i].key)) {
      free(out->files[i].key);
      free(out->files[i].path);
      continue;
    }
    out->files[kept++] = out->files[i];
  }
  out->count = kept;
  return NALA_OK;
}

void seg_gt_list_free(seg_gt_list *list) {
  for (size_t i = 0; i < list->count; i++) {
    free(list->files[i].key);
    free(list->files[i].path);
  }
  free(list->files);
  memset(list, 0, sizeof *list);
}

int seg_find_prediction(const char *pred_dir, const char *key, int cityscapes, char *path_out, size_t cap) {
  const char *base = strrchr(key, '/');
  base = base ? base + 1 : key;
  /* Mirrored folders first, then flat; bare key first, then mmseg's Cityscapes image suffix. */
  const char *stems[2] = {key, base};
  const char *suffixes[2] = {".png", "_leftImg8bit.png"};
  int n_stems = base == key ? 1 : 2, n_suffixes = cityscapes ? 2 : 1;
  path_out[0] = '\0';
  for (int s = 0; s < n_stems; s++)
    for (int x = 0; x < n_suffixes; x++) {
      char candidate[4096];
      if (snprintf(candidate, sizeof candidate, "%s/%s%s", pred_dir, stems[s], suffixes[x]) >= (int)sizeof candidate)
        continue;
      if (!path_out[0] || is_regular_file(candidate))
        snprintf(path_out, cap, "%s", candidate);
      if (is_regular_file(candidate))
        return 1;
    }
  return 0;
}
