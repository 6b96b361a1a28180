/* ADE20K and Cityscapes from their release layouts (mmseg ade.py / cityscapes.py suffixes):
 *   ADE20K:     <img_dir>/<stem>.jpg                       + <seg_map_dir>/<stem>.png
 *   Cityscapes: <img_dir>/<city>/<stem>_leftImg8bit.png    + <seg_map_dir>/<city>/<stem>_gtFine_labelTrainIds.png
 *               (or <stem>_gtFine_labelIds.png, flagged so the consumer maps ids to trainIds)
 * The label maps are listed by nala_seg_label_maps_list (seg_label_maps.c), as `nala eval seg` lists them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset_internal.h"
#include "nala/seg_label_maps.h"

static nala_status layout_error(nala_err *err, const char *dataset, const char *expected) {
  nala_err_prefix(err, "%s: ", dataset);
  size_t len = strnlen(err ? err->msg : "", NALA_ERR_MSG_MAX);
  if (err && len < sizeof err->msg)
    snprintf(err->msg + len, sizeof err->msg - len, " (expected %.512s)", expected); /* bounded: the caller's path list can be long */
  return err ? err->status : NALA_E_IO;
}

/* "dir/key<suffix>" as a new string (NULL when out of memory). */
static char *key_path(const char *dir, const char *key, size_t key_len, const char *suffix) {
  size_t len = strlen(dir) + key_len + strlen(suffix) + 2;
  char *out = malloc(len);
  if (out)
    snprintf(out, len, "%s%s%.*s%s", dir, dir[0] && dir[strlen(dir) - 1] != '/' ? "/" : "", (int)key_len, key,
             suffix);
  return out;
}

/* Label maps whose image is missing are reported as orphans (image = img_dir/key + img_suffix). */
static nala_status add_orphans(const nala_dataset_cfg *cfg, const nala_seg_label_maps *maps, const char *img_suffix,
                               nala_dataset *ds, nala_err *err) {
  nala_status st = NALA_OK;
  for (size_t i = 0; st == NALA_OK && i < maps->count; i++) {
    char *img_path = key_path(cfg->img_dir, maps->maps[i].key, strlen(maps->maps[i].key), img_suffix);
    if (!img_path) {
      st = nala_fail(err, NALA_E_NOMEM, "out of memory");
    } else if (!ds_is_file(img_path)) {
      char reason[9000];
      snprintf(reason, sizeof reason, "label map without image %s", img_path);
      st = ds_add_orphan(ds, maps->maps[i].path, reason, err);
    }
    free(img_path);
  }
  return st;
}

nala_status ds_open_ade20k(const nala_dataset_cfg *cfg, nala_dataset *ds, nala_err *err) {
  char expected[9000];
  snprintf(expected, sizeof expected, "%s/*.jpg with label maps %s/*.png", cfg->img_dir, cfg->seg_map_dir);
  char **images = NULL;
  int n_images = 0;
  nala_seg_label_maps maps = {0};
  nala_status st = ds_list_dir(cfg->img_dir, ".jpg", 0, &images, &n_images, err);
  if (st == NALA_OK)
    st = nala_seg_label_maps_list(cfg->seg_map_dir, NALA_DATASET_ADE20K, &maps, err);
  if (st == NALA_OK && !n_images)
    st = nala_fail(err, NALA_E_IO, "%s: no *.jpg images", cfg->img_dir);
  if (st != NALA_OK) {
    layout_error(err, "ADE20K", expected);
    goto done;
  }
  for (int i = 0; st == NALA_OK && i < n_images; i++) {
    size_t stem_len = strlen(images[i]) - 4;
    char *img_path = key_path(cfg->img_dir, images[i], stem_len, ".jpg");
    char *gt_path = key_path(cfg->seg_map_dir, images[i], stem_len, ".png");
    char *key = strndup(images[i], stem_len);
    if (!img_path || !gt_path || !key) {
      st = nala_fail(err, NALA_E_NOMEM, "ADE20K: out of memory");
    } else {
      char reason[9000];
      snprintf(reason, sizeof reason, "no label map %s", gt_path);
      int has_gt = nala_seg_label_maps_find(&maps, key) != NULL;
      st = ds_add_sample(ds, img_path, images[i], gt_path, -1, 0, 0, 0, has_gt ? NULL : reason, err);
    }
    free(img_path), free(gt_path), free(key);
  }
  if (st == NALA_OK)
    st = add_orphans(cfg, &maps, ".jpg", ds, err);
  if (st == NALA_OK)
    st = ds_set_config_classes(cfg, ds, err);
done:
  ds_free_names(images, n_images);
  nala_seg_label_maps_free(&maps);
  return st;
}

/* Adds the images of one city, each with its best label map. */
static nala_status add_city(const nala_dataset_cfg *cfg, const char *city, const nala_seg_label_maps *maps,
                            nala_dataset *ds, nala_err *err) {
  char *img_city = ds_join(cfg->img_dir, city), *gt_city = ds_join(cfg->seg_map_dir, city);
  char **images = NULL;
  int n_images = 0;
  nala_status st = img_city && gt_city ? ds_list_dir(img_city, NALA_CS_IMG_SUFFIX, 0, &images, &n_images, err)
                                       : nala_fail(err, NALA_E_NOMEM, "Cityscapes: out of memory");
  for (int i = 0; st == NALA_OK && i < n_images; i++) {
    size_t stem_len = strlen(images[i]) - strlen(NALA_CS_IMG_SUFFIX);
    char *img_path = ds_join(img_city, images[i]), *file_name = ds_join(city, images[i]);
    char *key = key_path(city, images[i], stem_len, "");
    char *train_ids = key_path(gt_city, images[i], stem_len, NALA_CS_TRAINIDS_SUFFIX);
    const nala_seg_label_map *map = key ? nala_seg_label_maps_find(maps, key) : NULL;
    if (!img_path || !file_name || !key || !train_ids) {
      st = nala_fail(err, NALA_E_NOMEM, "Cityscapes: out of memory");
    } else if (map) {
      st = ds_add_sample(ds, img_path, file_name, map->path, -1, 0, 0, map->label_ids, NULL, err);
    } else {
      char reason[9000];
      snprintf(reason, sizeof reason, "no label map %s (nor %s)", train_ids, NALA_CS_LABELIDS_SUFFIX);
      st = ds_add_sample(ds, img_path, file_name, train_ids, -1, 0, 0, 0, reason, err);
    }
    free(img_path), free(file_name), free(key), free(train_ids);
  }
  ds_free_names(images, n_images);
  free(img_city);
  free(gt_city);
  return st;
}

nala_status ds_open_cityscapes(const nala_dataset_cfg *cfg, nala_dataset *ds, nala_err *err) {
  char expected[9000];
  snprintf(expected, sizeof expected,
           "%s/<city>/*" NALA_CS_IMG_SUFFIX " with label maps %s/<city>/*" NALA_CS_TRAINIDS_SUFFIX, cfg->img_dir,
           cfg->seg_map_dir);
  char **cities = NULL;
  int n_cities = 0;
  nala_seg_label_maps maps = {0};
  nala_status st = ds_list_dir(cfg->img_dir, NULL, 1, &cities, &n_cities, err);
  if (st == NALA_OK)
    st = nala_seg_label_maps_list(cfg->seg_map_dir, NALA_DATASET_CITYSCAPES, &maps, err);
  if (st == NALA_OK && !n_cities)
    st = nala_fail(err, NALA_E_IO, "%s: no city folders", cfg->img_dir);
  for (int i = 0; st == NALA_OK && i < n_cities; i++)
    st = add_city(cfg, cities[i], &maps, ds, err);
  if (st == NALA_OK && !ds->n_all)
    st = nala_fail(err, NALA_E_IO, "%s: no *" NALA_CS_IMG_SUFFIX " images in its city folders", cfg->img_dir);
  if (st != NALA_OK && err && err->status != NALA_E_NOMEM) {
    layout_error(err, "Cityscapes", expected);
    goto done;
  }
  if (st == NALA_OK)
    st = add_orphans(cfg, &maps, NALA_CS_IMG_SUFFIX, ds, err);
  if (st == NALA_OK) {
    ds_sort_by_file_name(ds);
    st = ds_set_config_classes(cfg, ds, err);
  }
done:
  ds_free_names(cities, n_cities);
  nala_seg_label_maps_free(&maps);
  return st;
}
