/* COCO: images and categories of an instances JSON (read by eval/coco_instances.c, without the
 * annotations), image files under img_dir. Labels are contiguous in ascending category-id order;
 * unlike pycocotools' index (last entry wins), a repeated image or category id is refused here,
 * as a dataset whose samples are ambiguous cannot be iterated in a defined order. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/dataset_internal.h"
#include "eval/coco_instances.h"

typedef struct coco_category {
  int64_t id;
  const char *name;
} coco_category;

static int compare_categories(const void *a, const void *b) {
  int64_t x = ((const coco_category *)a)->id, y = ((const coco_category *)b)->id;
  return (x > y) - (x < y);
}

static nala_status read_categories(const char *path, const coco_instances *ci, const nala_dataset_cfg *cfg,
                                   nala_dataset *ds, nala_err *err) {
  int n = (int)ci->n_categories;
  coco_category *cats = malloc((size_t)n * sizeof *cats + 1);
  if (!cats)
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
  nala_status st = NALA_OK;
  for (int i = 0; i < n && st == NALA_OK; i++) {
    cats[i].id = ci->categories[i].id;
    cats[i].name = ci->categories[i].name;
    if (!cats[i].name) /* mmdet looks categories up by name */
      st = nala_fail(err, NALA_E_FORMAT, "%s: categories[%d]: missing \"name\"", path, i);
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

static nala_status read_images(const char *path, const coco_instances *ci, const char *img_dir, nala_dataset *ds,
                               nala_err *err) {
  int n = (int)ci->n_images;
  int64_t *ids = malloc((size_t)n * sizeof *ids + 1);
  if (!ids)
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
  nala_status st = NALA_OK;
  for (int i = 0; i < n && st == NALA_OK; i++) {
    const coco_image_rec *im = &ci->images[i];
    int64_t id = im->id;
    if (!im->file_name || !im->file_name[0]) {
      st = nala_fail(err, NALA_E_FORMAT, "%s: images[%d]: \"file_name\" %s", path, i,
                     im->file_name ? "is empty" : "is missing");
      break;
    }
    ids[i] = id;
    /* os.path.join semantics: an absolute file_name stands on its own. */
    char *img_path = im->file_name[0] == '/' ? strdup(im->file_name) : ds_join(img_dir, im->file_name);
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
    st = ds_add_sample(ds, img_path, im->file_name, NULL, id, (int)im->width, (int)im->height, 0,
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
  coco_instances ci;
  nala_status st = coco_instances_load(path, 0, &ci, err);
  if (st == NALA_OK)
    st = read_categories(path, &ci, cfg, ds, err);
  if (st == NALA_OK)
    st = read_images(path, &ci, cfg->img_dir, ds, err);
  coco_instances_free(&ci);
  return st;
}
