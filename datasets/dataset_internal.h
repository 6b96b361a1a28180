/* Shared by datasets/coco_dataset.c, seg_dataset.c and dataset_*.c only. */
#ifndef NALA_DATASETS_DATASET_INTERNAL_H
#define NALA_DATASETS_DATASET_INTERNAL_H

#include <pthread.h>

#include "nala/dataset.h"

/* Cityscapes file suffixes (mmseg cityscapes.py). */
#define NALA_CS_IMG_SUFFIX "_leftImg8bit.png"
#define NALA_CS_TRAINIDS_SUFFIX "_gtFine_labelTrainIds.png"
#define NALA_CS_LABELIDS_SUFFIX "_gtFine_labelIds.png"

struct nala_dataset {
  nala_dataset_type type;
  nala_sample *all; /* full dataset order; strings owned */
  char **unusable;  /* per sample: why it cannot be used, or NULL */
  int n_all, cap_all;
  nala_bad_sample *orphans; /* files that are not samples (label map without image); owned */
  int n_orphans, cap_orphans;
  int *yield; /* indices into all of the samples this shard yields */
  int n_yield;
  char **class_names;
  int64_t *category_ids; /* COCO ids per label, NULL for folder datasets */
  int n_classes;
  pthread_mutex_t bad_lock;
  nala_bad_sample *bad; /* owned strings */
  int n_bad, cap_bad;
};

/* Allocates an empty dataset of a type. */
nala_status ds_create(nala_dataset_type type, nala_dataset **out, nala_err *err);

/* Appends a sample (strings copied); unusable = reason it cannot be used, or NULL. */
nala_status ds_add_sample(nala_dataset *ds, const char *img_path, const char *file_name, const char *gt_path,
                          int64_t image_id, int width, int height, int gt_is_label_ids, const char *unusable,
                          nala_err *err);

/* Records a file that belongs to no sample (reported by shard 0 only). */
nala_status ds_add_orphan(nala_dataset *ds, const char *file, const char *reason, nala_err *err);

/* Sorts the samples by file_name (folder datasets) before indices are assigned. */
void ds_sort_by_file_name(nala_dataset *ds);

/* Numbers the samples, applies limit and shard, logs the unusable ones of this shard. */
nala_status ds_finish(nala_dataset *ds, const nala_dataset_opts *opts, nala_err *err);

/* Sorted names in dir ending with suffix: regular files (want_dirs 0) or folders (want_dirs 1).
 * Fails with NALA_E_IO naming dir when it cannot be read. Free with ds_free_names. */
nala_status ds_list_dir(const char *dir, const char *suffix, int want_dirs, char ***names, int *n, nala_err *err);
void ds_free_names(char **names, int n);

/* Binary search in a sorted name list. */
int ds_names_contain(char *const *names, int n, const char *name);

/* 1 when path is an existing regular file (following links). */
int ds_is_file(const char *path);

/* "a" + "/" + "b" (no doubled slash) into a new string, or NULL when out of memory. */
char *ds_join(const char *a, const char *b);

/* Opens the per-type readers (coco_dataset.c, seg_dataset.c). */
nala_status ds_open_coco(const nala_dataset_cfg *cfg, nala_dataset *ds, nala_err *err);
nala_status ds_open_ade20k(const nala_dataset_cfg *cfg, nala_dataset *ds, nala_err *err);
nala_status ds_open_cityscapes(const nala_dataset_cfg *cfg, nala_dataset *ds, nala_err *err);

/* Copies cfg->classes as the class names (folder datasets). */
nala_status ds_set_config_classes(const nala_dataset_cfg *cfg, nala_dataset *ds, nala_err *err);

#endif
