/* COCO: images and categories of an instances JSON, image files under img_dir.
 * Only the "images" and "categories" values are turned into cJSON trees: the top level is scanned
 * and "annotations" skipped, so val2017's 25 MB file does not cost a few hundred MB of nodes (the
 * COCO evaluator parses annotations itself). Labels are contiguous in ascending category-id order. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/dataset_internal.h"

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

/* p at '"': returns just past the closing quote, or NULL. */
static const char *skip_string(const char *p, const char *end) {
  for (p++; p < end; p++) {
    if (*p == '\\')
      p++;
    else if (*p == '"')
      return p + 1;
  }
  return NULL;
}

/* Skips one JSON value (syntax inside is checked only for strings and bracket balance). */
static const char *skip_value(const char *p, const char *end) {
  if (p >= end)
    return NULL;
  if (*p == '"')
    return skip_string(p, end);
  if (*p == '{' || *p == '[') {
    int depth = 0;
    while (p < end) {
      if (*p == '"') {
        if (!(p = skip_string(p, end)))
          return NULL;
        continue;
      }
      if (*p == '{' || *p == '[')
        depth++;
      else if (*p == '}' || *p == ']') {
        if (--depth == 0)
          return p + 1;
      }
      p++;
    }
    return NULL;
  }
  const char *start = p;
  while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
    p++;
  return p > start ? p : NULL;
}

static nala_status syntax_error(const char *path, const char *text, const char *at, nala_err *err) {
  int line = 1, col = 1;
  for (const char *p = text; p < at; p++)
    if (*p == '\n')
      line++, col = 1;
    else
      col++;
  return nala_fail(err, NALA_E_FORMAT, "%s: invalid JSON near line %d, column %d", path, line, col);
}

/* Finds the top-level values of "images" and "categories" and parses just those. */
static nala_status parse_sections(const char *path, const char *text, size_t len, cJSON **images,
                                  cJSON **categories, nala_err *err) {
  const char *end = text + len, *p = skip_ws(text, end);
  if (p >= end || *p != '{')
    return nala_fail(err, NALA_E_FORMAT, "%s: top level must be a JSON object", path);
  p = skip_ws(p + 1, end);
  while (p < end && *p != '}') {
    const char *key = p, *key_end = *p == '"' ? skip_string(p, end) : NULL;
    if (!key_end)
      return syntax_error(path, text, p, err);
    p = skip_ws(key_end, end);
    if (p >= end || *p != ':')
      return syntax_error(path, text, p, err);
    const char *value = skip_ws(p + 1, end), *value_end = skip_value(value, end);
    if (!value_end)
      return syntax_error(path, text, value, err);
    size_t key_len = (size_t)(key_end - key);
    cJSON **slot = key_len == 8 && !memcmp(key, "\"images\"", 8)           ? images
                   : key_len == 12 && !memcmp(key, "\"categories\"", 12) ? categories
                                                                          : NULL;
    if (slot) {
      if (*slot)
        return nala_fail(err, NALA_E_FORMAT, "%s: duplicate key %.*s", path, (int)key_len, key);
      const char *parse_end = NULL;
      *slot = cJSON_ParseWithLengthOpts(value, (size_t)(value_end - value), &parse_end, 0);
      if (!*slot)
        return syntax_error(path, text, parse_end ? parse_end : value, err);
    }
    p = skip_ws(value_end, end);
    if (p < end && *p == ',')
      p = skip_ws(p + 1, end);
    else if (p >= end || *p != '}')
      return syntax_error(path, text, p, err);
  }
  if (p >= end)
    return syntax_error(path, text, p, err);
  return NALA_OK;
}

static int int_member(const cJSON *object, const char *key, int64_t *out) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
  if (!cJSON_IsNumber(item) || item->valuedouble != floor(item->valuedouble) || fabs(item->valuedouble) > 9e15)
    return 0;
  *out = (int64_t)item->valuedouble;
  return 1;
}

static void show(const cJSON *item, char *buf, size_t size) {
  char *text = item ? cJSON_PrintUnformatted(item) : NULL;
  snprintf(buf, size, "%.60s", text ? text : "nothing");
  free(text);
}

typedef struct coco_category {
  int64_t id;
  const char *name;
} coco_category;

static int compare_categories(const void *a, const void *b) {
  int64_t x = ((const coco_category *)a)->id, y = ((const coco_category *)b)->id;
  return (x > y) - (x < y);
}

static nala_status read_categories(const char *path, const cJSON *list, const nala_dataset_cfg *cfg, nala_dataset *ds,
                                   nala_err *err) {
  if (!cJSON_IsArray(list))
    return nala_fail(err, NALA_E_FORMAT, "%s: categories: expected a list", path);
  int n = cJSON_GetArraySize(list), i = 0;
  coco_category *cats = malloc((size_t)n * sizeof *cats + 1);
  if (!cats)
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
  nala_status st = NALA_OK;
  char got[80];
  for (const cJSON *c = list->child; c; c = c->next, i++) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
    if (!int_member(c, "id", &cats[i].id)) {
      show(cJSON_GetObjectItemCaseSensitive(c, "id"), got, sizeof got);
      st = nala_fail(err, NALA_E_FORMAT, "%s: categories[%d].id: expected integer, got %s", path, i, got);
      break;
    }
    if (!cJSON_IsString(name)) {
      show(name, got, sizeof got);
      st = nala_fail(err, NALA_E_FORMAT, "%s: categories[%d].name: expected string, got %s", path, i, got);
      break;
    }
    cats[i].name = name->valuestring;
  }
  if (st == NALA_OK) {
    qsort(cats, (size_t)n, sizeof *cats, compare_categories);
    for (int k = 1; k < n && st == NALA_OK; k++)
      if (cats[k].id == cats[k - 1].id)
        st = nala_fail(err, NALA_E_FORMAT, "%s: categories: id %lld appears twice", path, (long long)cats[k].id);
  }
  /* With classes in the config, keep those categories (mmdet's get_cat_ids(cat_names=classes)). */
  int *keep = st == NALA_OK ? calloc((size_t)n + 1, sizeof *keep) : NULL;
  if (st == NALA_OK && !keep)
    st = nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
  for (int c = 0; st == NALA_OK && c < cfg->n_classes; c++) {
    int found = 0;
    for (int k = 0; k < n; k++)
      if (!strcmp(cats[k].name, cfg->classes[c]))
        keep[k] = found = 1;
    if (!found)
      st = nala_fail(err, NALA_E_FORMAT, "dataset.classes[%d]: \"%s\" is not a category of %s", c, cfg->classes[c],
                     path);
  }
  int n_kept = 0;
  for (int k = 0; st == NALA_OK && k < n; k++)
    n_kept += !cfg->n_classes || keep[k];
  if (st == NALA_OK) {
    ds->class_names = calloc((size_t)n_kept + 1, sizeof *ds->class_names);
    ds->category_ids = calloc((size_t)n_kept + 1, sizeof *ds->category_ids);
    if (!ds->class_names || !ds->category_ids)
      st = nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
  }
  for (int k = 0; st == NALA_OK && k < n; k++) {
    if (cfg->n_classes && !keep[k])
      continue;
    ds->category_ids[ds->n_classes] = cats[k].id;
    if (!(ds->class_names[ds->n_classes] = strdup(cats[k].name)))
      st = nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
    else
      ds->n_classes++;
  }
  free(keep);
  free(cats);
  return st;
}

static int compare_ids(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static nala_status read_images(const char *path, const cJSON *list, const char *img_dir, nala_dataset *ds,
                               nala_err *err) {
  if (!cJSON_IsArray(list))
    return nala_fail(err, NALA_E_FORMAT, "%s: images: expected a list", path);
  int n = cJSON_GetArraySize(list), i = 0;
  int64_t *ids = malloc((size_t)n * sizeof *ids + 1);
  if (!ids)
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
  nala_status st = NALA_OK;
  char got[80];
  for (const cJSON *im = list->child; im && st == NALA_OK; im = im->next, i++) {
    const cJSON *file_name = cJSON_GetObjectItemCaseSensitive(im, "file_name");
    int64_t id, size[2] = {0, 0};
    static const char *const size_keys[2] = {"width", "height"};
    if (!int_member(im, "id", &id)) {
      show(cJSON_GetObjectItemCaseSensitive(im, "id"), got, sizeof got);
      st = nala_fail(err, NALA_E_FORMAT, "%s: images[%d].id: expected integer, got %s", path, i, got);
      break;
    }
    if (!cJSON_IsString(file_name) || !file_name->valuestring[0]) {
      show(file_name, got, sizeof got);
      st = nala_fail(err, NALA_E_FORMAT, "%s: images[%d].file_name: expected non-empty string, got %s", path, i, got);
      break;
    }
    for (int k = 0; k < 2 && st == NALA_OK; k++) {
      const cJSON *dim = cJSON_GetObjectItemCaseSensitive(im, size_keys[k]);
      if (dim && (!int_member(im, size_keys[k], &size[k]) || size[k] < 1 || size[k] > 1 << 30)) {
        show(dim, got, sizeof got);
        st = nala_fail(err, NALA_E_FORMAT, "%s: images[%d].%s: expected positive integer, got %s", path, i,
                       size_keys[k], got);
      }
    }
    if (st != NALA_OK)
      break;
    ids[i] = id;
    /* os.path.join semantics: an absolute file_name stands on its own. */
    char *img_path = file_name->valuestring[0] == '/' ? strdup(file_name->valuestring)
                                                      : ds_join(img_dir, file_name->valuestring);
    if (!img_path) {
      st = nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
      break;
    }
    struct stat info;
    char reason[300] = "";
    if (stat(img_path, &info) != 0)
      snprintf(reason, sizeof reason, "image file missing (%s)", strerror(errno));
    else if (!S_ISREG(info.st_mode))
      snprintf(reason, sizeof reason, "image path is not a regular file");
    st = ds_add_sample(ds, img_path, file_name->valuestring, NULL, id, (int)size[0], (int)size[1], 0,
                       reason[0] ? reason : NULL, err);
    free(img_path);
  }
  if (st == NALA_OK) {
    qsort(ids, (size_t)n, sizeof *ids, compare_ids);
    for (int k = 1; k < n && st == NALA_OK; k++)
      if (ids[k] == ids[k - 1])
        st = nala_fail(err, NALA_E_FORMAT, "%s: images: id %lld appears twice", path, (long long)ids[k]);
  }
  free(ids);
  return st;
}

nala_status ds_open_coco(const nala_dataset_cfg *cfg, nala_dataset *ds, nala_err *err) {
  const char *path = cfg->ann_file;
  struct stat info;
  if (stat(cfg->img_dir, &info) != 0 || !S_ISDIR(info.st_mode))
    return nala_fail(err, NALA_E_IO, "COCO: %s: %s (expected the image folder, e.g. <data_root>/val2017/)", cfg->img_dir,
                     stat(cfg->img_dir, &info) != 0 ? strerror(errno) : "not a folder");
  if (stat(path, &info) != 0 || !S_ISREG(info.st_mode))
    return nala_fail(err, NALA_E_IO, "COCO: %s: %s (expected the instances JSON, e.g. "
                     "<data_root>/annotations/instances_val2017.json)", path,
                     stat(path, &info) != 0 ? strerror(errno) : "not a regular file");
  FILE *f = fopen(path, "rb");
  if (!f)
    return nala_fail(err, NALA_E_IO, "COCO: %s: cannot open: %s (expected the instances JSON, e.g. "
                     "<data_root>/annotations/instances_val2017.json)", path, strerror(errno));
  char *text = NULL;
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
    text = malloc((size_t)size + 1);
  int read_ok = text && fread(text, 1, (size_t)size, f) == (size_t)size;
  int read_errno = errno;
  fclose(f);
  if (!read_ok) {
    int out_of_memory = size >= 0 && !text;
    free(text);
    return nala_fail(err, out_of_memory ? NALA_E_NOMEM : NALA_E_IO, "COCO: %s: cannot read: %s", path,
                     out_of_memory ? "out of memory" : strerror(read_errno));
  }
  text[size] = '\0';
  cJSON *images = NULL, *categories = NULL;
  nala_status st = parse_sections(path, text, (size_t)size, &images, &categories, err);
  free(text);
  if (st == NALA_OK && !images)
    st = nala_fail(err, NALA_E_FORMAT, "%s: no \"images\" list (is this a COCO instances file?)", path);
  if (st == NALA_OK && !categories)
    st = nala_fail(err, NALA_E_FORMAT, "%s: no \"categories\" list (is this a COCO instances file?)", path);
  if (st == NALA_OK)
    st = read_categories(path, categories, cfg, ds, err);
  if (st == NALA_OK)
    st = read_images(path, images, cfg->img_dir, ds, err);
  cJSON_Delete(images);
  cJSON_Delete(categories);
  return st;
}
