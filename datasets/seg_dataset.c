/* ADE20K and Cityscapes from their release layouts (mmseg ade.py / cityscapes.py suffixes):
 *   ADE20K:     <img_dir>/<stem>.jpg                       + <seg_map_dir>/<stem>.png
 *   Cityscapes: <img_dir>/<city>/<stem>_leftImg8bit.png    + <seg_map_dir>/<city>/<stem>_gtFine_labelTrainIds.png
 *               (or <stem>_gtFine_labelIds.png, flagged so the consumer maps ids to trainIds) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset_internal.h"

#define CS_IMG_SUFFIX "_leftImg8bit.png"
#define CS_TRAINIDS_SUFFIX "_gtFine_labelTrainIds.png"
#define CS_LABELIDS_SUFFIX "_gtFine_labelIds.png"

/* "<prefix>stem<suffix>" as a new string (NULL when out of memory). */
static char *stem_path(const char *dir, const char *stem, size_t stem_len, const char *suffix) {
  size_t len = strlen(dir) + stem_len + strlen(suffix) + 2;
  char *out = malloc(len);
  if (out)
    snprintf(out, len, "%s%s%.*s%s", dir, dir[0] && dir[strlen(dir) - 1] != '/' ? "/" : "", (int)stem_len, stem,
             suffix);
  return out;
}

static nala_status layout_error(nala_err *err, const char *dataset, const char *expected) {
  nala_err_prefix(err, "%s: ", dataset);
  size_t len = strnlen(err ? err->msg : "", NALA_ERR_MSG_MAX);
  if (err && len < sizeof err->msg)
    snprintf(err->msg + len, sizeof err->msg - len, " (expected %s)", expected);
  return err ? err->status : NALA_E_IO;
}

nala_status ds_open_ade20k(const nala_dataset_cfg *cfg, nala_dataset *ds, nala_err *err) {
  char expected[9000];
  snprintf(expected, sizeof expected, "%s/*.jpg with label maps %s/*.png", cfg->img_dir, cfg->seg_map_dir);
  char **images = NULL, **labels = NULL;
  int n_images = 0, n_labels = 0;
  nala_status st = ds_list_dir(cfg->img_dir, ".jpg", 0, &images, &n_images, err);
  if (st == NALA_OK)
    st = ds_list_dir(cfg->seg_map_dir, ".png", 0, &labels, &n_labels, err);
  if (st == NALA_OK && !n_images)
    st = nala_fail(err, NALA_E_IO, "%s: no *.jpg images", cfg->img_dir);
  if (st != NALA_OK) {
    layout_error(err, "ADE20K", expected);
    goto done;
  }
  for (int i = 0; st == NALA_OK && i < n_images; i++) {
    size_t stem_len = strlen(images[i]) - 4;
    char *img_path = stem_path(cfg->img_dir, images[i], stem_len, ".jpg");
    char *gt_path = stem_path(cfg->seg_map_dir, images[i], stem_len, ".png");
    char *gt_name = stem_path("", images[i], stem_len, ".png");
    char reason[9000];
    if (!img_path || !gt_path || !gt_name) {
      st = nala_fail(err, NALA_E_NOMEM, "ADE20K: out of memory");
    } else {
      int has_gt = ds_names_contain(labels, n_labels, gt_name);
      snprintf(reason, sizeof reason, "no label map %s", gt_path);
      st = ds_add_sample(ds, img_path, images[i], gt_path, -1, 0, 0, 0, has_gt ? NULL : reason, err);
    }
    free(img_path), free(gt_path), free(gt_name);
  }
  for (int i = 0; st == NALA_OK && i < n_labels; i++) {
    size_t stem_len = strlen(labels[i]) - 4;
    char *img_name = stem_path("", labels[i], stem_len, ".jpg");
    char *gt_path = stem_path(cfg->seg_map_dir, labels[i], stem_len, ".png");
    char reason[9000];
    if (!img_name || !gt_path) {
      st = nala_fail(err, NALA_E_NOMEM, "ADE20K: out of memory");
    } else if (!ds_names_contain(images, n_images, img_name)) {
      snprintf(reason, sizeof reason, "label map without image %s/%s", cfg->img_dir, img_name);
      st = ds_add_orphan(ds, gt_path, reason, err);
    }
    free(img_name), free(gt_path);
  }
  if (st == NALA_OK)
    st = ds_set_config_classes(cfg, ds, err);
done:
  ds_free_names(images, n_images);
  ds_free_names(labels, n_labels);
  return st;
}

/* Adds the images of one city, each with its best label map. */
static nala_status add_city(const nala_dataset_cfg *cfg, const char *city, nala_dataset *ds, nala_err *err) {
  char *img_city = ds_join(cfg->img_dir, city), *gt_city = ds_join(cfg->seg_map_dir, city);
  char **images = NULL;
  int n_images = 0;
  nala_status st = img_city && gt_city ? ds_list_dir(img_city, CS_IMG_SUFFIX, 0, &images, &n_images, err)
                                       : nala_fail(err, NALA_E_NOMEM, "Cityscapes: out of memory");
  for (int i = 0; st == NALA_OK && i < n_images; i++) {
    size_t stem_len = strlen(images[i]) - strlen(CS_IMG_SUFFIX);
    char *img_path = ds_join(img_city, images[i]), *file_name = ds_join(city, images[i]);
    char *train_ids = stem_path(gt_city, images[i], stem_len, CS_TRAINIDS_SUFFIX);
    char *label_ids = stem_path(gt_city, images[i], stem_len, CS_LABELIDS_SUFFIX);
    if (!img_path || !file_name || !train_ids || !label_ids) {
      st = nala_fail(err, NALA_E_NOMEM, "Cityscapes: out of memory");
    } else if (ds_is_file(train_ids)) {
      st = ds_add_sample(ds, img_path, file_name, train_ids, -1, 0, 0, 0, NULL, err);
    } else if (ds_is_file(label_ids)) {
      st = ds_add_sample(ds, img_path, file_name, label_ids, -1, 0, 0, 1, NULL, err);
    } else {
      char reason[9000];
      snprintf(reason, sizeof reason, "no label map %s (nor %s)", train_ids, CS_LABELIDS_SUFFIX);
      st = ds_add_sample(ds, img_path, file_name, train_ids, -1, 0, 0, 0, reason, err);
    }
    free(img_path), free(file_name), free(train_ids), free(label_ids);
  }
  ds_free_names(images, n_images);
  free(img_city);
  free(gt_city);
  return st;
}

/* Reports label maps of one city whose image is missing (a stem with both id files counts once). */
static nala_status add_city_orphans(const nala_dataset_cfg *cfg, const char *city, nala_dataset *ds, nala_err *err) {
  char *img_city = ds_join(cfg->img_dir, city), *gt_city = ds_join(cfg->seg_map_dir, city);
  char **labels = NULL;
  int n_labels = 0;
  nala_status st = img_city && gt_city ? ds_list_dir(gt_city, ".png", 0, &labels, &n_labels, err)
                                       : nala_fail(err, NALA_E_NOMEM, "Cityscapes: out of memory");
  for (int i = 0; st == NALA_OK && i < n_labels; i++) {
    const char *name = labels[i];
    size_t len = strlen(name), stem_len;
    int is_train = len > strlen(CS_TRAINIDS_SUFFIX) && !strcmp(name + len - strlen(CS_TRAINIDS_SUFFIX), CS_TRAINIDS_SUFFIX);
    int is_ids = len > strlen(CS_LABELIDS_SUFFIX) && !strcmp(name + len - strlen(CS_LABELIDS_SUFFIX), CS_LABELIDS_SUFFIX);
    if (!is_train && !is_ids)
      continue; /* color / instanceIds / polygons files of the release */
    stem_len = len - strlen(is_train ? CS_TRAINIDS_SUFFIX : CS_LABELIDS_SUFFIX);
    char *img_path = stem_path(img_city, name, stem_len, CS_IMG_SUFFIX);
    char *train_name = stem_path("", name, stem_len, CS_TRAINIDS_SUFFIX);
    char *gt_path = ds_join(gt_city, name);
    if (!img_path || !train_name || !gt_path) {
      st = nala_fail(err, NALA_E_NOMEM, "Cityscapes: out of memory");
    } else if (!ds_is_file(img_path) && (is_train || !ds_names_contain(labels, n_labels, train_name))) {
      char reason[9000];
      snprintf(reason, sizeof reason, "label map without image %s", img_path);
      st = ds_add_orphan(ds, gt_path, reason, err);
    }
    free(img_path), free(train_name), free(gt_path);
  }
  ds_free_names(labels, n_labels);
  free(img_city);
  free(gt_city);
  return st;
}

nala_status ds_open_cityscapes(const nala_dataset_cfg *cfg, nala_dataset *ds, nala_err *err) {
  char expected[9000];
  snprintf(expected, sizeof expected, "%s/<city>/*" CS_IMG_SUFFIX " with label maps %s/<city>/*" CS_TRAINIDS_SUFFIX,
           cfg->img_dir, cfg->seg_map_dir);
  char **cities = NULL, **gt_cities = NULL;
  int n_cities = 0, n_gt_cities = 0;
  nala_status st = ds_list_dir(cfg->img_dir, NULL, 1, &cities, &n_cities, err);
  if (st == NALA_OK)
    st = ds_list_dir(cfg->seg_map_dir, NULL, 1, &gt_cities, &n_gt_cities, err);
  if (st == NALA_OK && !n_cities)
    st = nala_fail(err, NALA_E_IO, "%s: no city folders", cfg->img_dir);
  for (int i = 0; st == NALA_OK && i < n_cities; i++)
    st = add_city(cfg, cities[i], ds, err);
  if (st == NALA_OK && !ds->n_all)
    st = nala_fail(err, NALA_E_IO, "%s: no *" CS_IMG_SUFFIX " images in its city folders", cfg->img_dir);
  if (st != NALA_OK && err && err->status != NALA_E_NOMEM) {
    layout_error(err, "Cityscapes", expected);
    goto done;
  }
  for (int i = 0; st == NALA_OK && i < n_gt_cities; i++)
    st = add_city_orphans(cfg, gt_cities[i], ds, err);
  if (st == NALA_OK) {
    ds_sort_by_file_name(ds);
    st = ds_set_config_classes(cfg, ds, err);
  }
done:
  ds_free_names(cities, n_cities);
  ds_free_names(gt_cities, n_gt_cities);
  return st;
}
