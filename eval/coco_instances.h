/* The one reader of COCO instances JSON files (images, categories, annotations), shared by the
 * evaluator's ground truth (eval/coco_gt.c) and the COCO dataset (datasets/coco_dataset.c).
 * Internal to the library. */
#ifndef NALA_EVAL_COCO_INSTANCES_H
#define NALA_EVAL_COCO_INSTANCES_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "nala/status.h"

typedef struct coco_image_rec {
  int64_t id;
  const char *file_name; /* NULL when absent */
  uint32_t width, height; /* 0 when absent */
} coco_image_rec;

typedef struct coco_category_rec {
  int64_t id;
  const char *name; /* NULL when absent */
} coco_category_rec;

typedef struct coco_instances {
  coco_image_rec *images; /* file order; repeated ids kept (the callers decide) */
  size_t n_images;
  coco_category_rec *categories; /* file order */
  size_t n_categories;
  const cJSON *annotations; /* the "annotations" list when asked for, else NULL */
  cJSON *sections[3];       /* owned: the parsed images, categories, annotations values */
} coco_instances;

/* Parses the instances JSON text (name is used in messages). Only the top-level values of
 * "images", "categories" and (with want_annotations) "annotations" become cJSON trees; the
 * others are skipped by bracket matching, so the dataset does not pay for 25 MB of annotation
 * nodes. Checks: top level an object, no repeated top-level key among those, each a list of
 * objects, integer ids, string file_name / name when present, width / height in [1, 2^20] when
 * present. Errors name the file and the record ("x.json: images[3]: \"id\" must be an integer"). */
nala_status coco_instances_parse(const char *name, const char *text, size_t len, int want_annotations,
                                 coco_instances *out, nala_err *err);

/* Same, reading path. */
nala_status coco_instances_load(const char *path, int want_annotations, coco_instances *out, nala_err *err);

void coco_instances_free(coco_instances *ci);

#endif
