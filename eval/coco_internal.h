/* Private layout of the COCO ground truth and detections: flat arrays (structure of arrays) and one
 * counts arena per set, so 500k detections cost a handful of allocations. */
#ifndef NALA_EVAL_COCO_INTERNAL_H
#define NALA_EVAL_COCO_INTERNAL_H

#include <cjson/cJSON.h>

#include "nala/coco.h"

typedef struct coco_objs {
  size_t n, cap;
  uint32_t *img;     /* index into the sorted image ids */
  uint32_t *cat;     /* index into the sorted category ids */
  double *bbox;      /* 4n: x, y, w, h */
  double *area;      /* GT: the `area` field; detections: w*h (box branch) or mask pixels */
  double *score;     /* detections only */
  double *id;        /* GT annotation id (pycocotools stores it in float64 and tests it for != 0) */
  uint8_t *crowd;    /* GT iscrowd */
  /* masks (when loaded with masks): runs in the counts arena, or, for compressed RLE strings,
   * the string in the text arena (4x smaller; decoded per (image, category) at evaluation) */
  size_t *mask_off;
  uint32_t *mask_m, *mask_h, *mask_w, *mask_len;
  uint8_t *mask_is_text;
  double *mask_bbox; /* 4n: tight box for the IoU pre-check */
  uint32_t *counts;
  size_t n_counts, cap_counts;
  char *text;
  size_t n_text, cap_text;
  int has_masks;
  uint32_t *rank;    /* GT with repeated ids: position in pycocotools' order; NULL = index order */
} coco_objs;

struct nala_coco_gt {
  size_t n_img, n_cat;
  int64_t *img_ids; /* ascending, unique */
  uint32_t *img_h, *img_w;
  int64_t *cat_ids; /* ascending, unique */
  char **cat_names;
  coco_objs anns;   /* annotations on known images and categories, in file order */
};

struct nala_coco_dets {
  coco_objs dets;   /* in results-file order */
  size_t n_unknown_cat;
};

/* coco_objs storage (coco_objs.c). */
nala_status coco_objs_reserve(coco_objs *o, size_t n, nala_err *err);
/* Appends the runs of r to the arena as the mask of object i (i < o->cap). */
nala_status coco_objs_set_mask(coco_objs *o, size_t i, const nala_rle *r, nala_err *err);
/* Stores a validated compressed counts string (m runs, box already computed) as object i's mask. */
nala_status coco_objs_set_mask_text(coco_objs *o, size_t i, const char *s, size_t len, uint32_t h, uint32_t w,
                                    uint32_t m, const double bbox[4], nala_err *err);
/* View of object i's mask; a string-stored mask is decoded into scratch (>= mask_m[i] entries). */
nala_rle coco_objs_mask(const coco_objs *o, size_t i, uint32_t *scratch);
void coco_objs_free(coco_objs *o);

/* Resolves repeated GT annotation ids like pycocotools (coco_gt_dups.c). */
nala_status coco_resolve_duplicate_ids(coco_objs *o, nala_err *err);

/* JSON helpers shared by the GT and results readers (coco_json.c). */
nala_status coco_read_json(const char *path, const char *json, size_t len, const char *name, cJSON **root,
                           nala_err *err);
nala_status coco_get_int64(const cJSON *obj, const char *key, int64_t *out, nala_err *err);
nala_status coco_get_double(const cJSON *obj, const char *key, double *out, nala_err *err);
nala_status coco_get_bbox(const cJSON *obj, double bbox[4], nala_err *err);
/* Converts a segmentation (polygons, uncompressed or compressed RLE) to RLE like COCO.annToRLE. */
/* The [h, w] of an RLE segmentation object. */
nala_status coco_rle_size(const cJSON *segm, uint32_t *h, uint32_t *w, nala_err *err);
nala_status coco_segm_to_rle(const cJSON *segm, uint32_t img_h, uint32_t img_w, nala_rle *out, nala_err *err);

/* Index of id in the ascending ids, or -1. */
long coco_find_id(const int64_t *ids, size_t n, int64_t id);

#endif
