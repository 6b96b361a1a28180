/* COCO ground truth (instances JSON) as pycocotools' COCO() + COCOeval._prepare see it: image and
 * category ids sorted and unique (a repeated id keeps its last entry, as the index dicts do),
 * read by the shared instances reader (coco_instances.c),
 * annotations on unknown images or categories dropped, segmentations converted with annToRLE. */
#include <stdlib.h>
#include <string.h>

#include "eval/coco_instances.h"
#include "eval/coco_internal.h"

typedef struct id_entry {
  int64_t id;
  size_t pos;
  uint32_t h, w;
  const char *name;
} id_entry;

static int cmp_id_entry(const void *a, const void *b) {
  const id_entry *x = a, *y = b;
  if (x->id != y->id)
    return x->id < y->id ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Sorts entries by id and keeps the last of each run of equal ids; returns the unique count. */
static size_t sort_unique_keep_last(id_entry *e, size_t n) {
  qsort(e, n, sizeof *e, cmp_id_entry);
  size_t u = 0;
  for (size_t i = 0; i < n; i++) {
    if (u > 0 && e[u - 1].id == e[i].id)
      e[u - 1] = e[i];
    else
      e[u++] = e[i];
  }
  return u;
}

static nala_status load_images(nala_coco_gt *gt, const coco_instances *ci, const char *name, int with_masks,
                               nala_err *err) {
  size_t n = ci->n_images;
  id_entry *e = calloc(n ? n : 1, sizeof *e);
  if (!e)
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory for %zu images", name, n);
  for (size_t i = 0; i < n; i++) {
    const coco_image_rec *r = &ci->images[i];
    if (with_masks && (!r->height || !r->width)) {
      free(e);
      return nala_fail(err, NALA_E_FORMAT, "%s: images[%zu]: missing \"%s\" (segm needs the image size)", name, i,
                       r->height ? "width" : "height");
    }
    e[i] = (id_entry){.id = r->id, .pos = i, .h = r->height, .w = r->width};
  }
  n = sort_unique_keep_last(e, n);
  gt->img_ids = malloc(sizeof(int64_t) * (n ? n : 1));
  gt->img_h = malloc(sizeof(uint32_t) * (n ? n : 1));
  gt->img_w = malloc(sizeof(uint32_t) * (n ? n : 1));
  if (!gt->img_ids || !gt->img_h || !gt->img_w) {
    free(e);
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory for %zu images", name, n);
  }
  for (size_t i = 0; i < n; i++) {
    gt->img_ids[i] = e[i].id;
    gt->img_h[i] = e[i].h;
    gt->img_w[i] = e[i].w;
  }
  gt->n_img = n;
  free(e);
  return NALA_OK;
}

static nala_status load_categories(nala_coco_gt *gt, const coco_instances *ci, const char *name, nala_err *err) {
  size_t n = ci->n_categories;
  id_entry *e = calloc(n ? n : 1, sizeof *e);
  if (!e)
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory for %zu categories", name, n);
  for (size_t i = 0; i < n; i++)
    e[i] = (id_entry){.id = ci->categories[i].id, .pos = i,
                      .name = ci->categories[i].name ? ci->categories[i].name : ""};
  n = sort_unique_keep_last(e, n);
  gt->cat_ids = malloc(sizeof(int64_t) * (n ? n : 1));
  gt->cat_names = calloc(n ? n : 1, sizeof(char *));
  if (!gt->cat_ids || !gt->cat_names) {
    free(e);
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory for %zu categories", name, n);
  }
  gt->n_cat = n;
  for (size_t i = 0; i < n; i++) {
    gt->cat_ids[i] = e[i].id;
    gt->cat_names[i] = strdup(e[i].name);
    if (!gt->cat_names[i]) {
      free(e);
      return nala_fail(err, NALA_E_NOMEM, "%s: out of memory for category names", name);
    }
  }
  free(e);
  return NALA_OK;
}

/* Reads one annotation into slot a->n; *keep is 0 when its image or category is unknown. */
static nala_status load_annotation(nala_coco_gt *gt, const cJSON *ann, int with_masks, int *keep, nala_err *err) {
  coco_objs *a = &gt->anns;
  size_t i = a->n;
  int64_t image_id, category_id;
  *keep = 0;
  if (!cJSON_IsObject(ann))
    return nala_fail(err, NALA_E_FORMAT, "must be an object");
  NALA_CHECK(coco_get_double(ann, "id", &a->id[i], err));
  NALA_CHECK(coco_get_int64(ann, "image_id", &image_id, err));
  NALA_CHECK(coco_get_int64(ann, "category_id", &category_id, err));
  const cJSON *crowd = cJSON_GetObjectItemCaseSensitive(ann, "iscrowd");
  if (!crowd)
    return nala_fail(err, NALA_E_FORMAT, "missing \"iscrowd\"");
  if (cJSON_IsBool(crowd))
    a->crowd[i] = cJSON_IsTrue(crowd);
  else if (cJSON_IsNumber(crowd) && (crowd->valuedouble == 0 || crowd->valuedouble == 1))
    a->crowd[i] = crowd->valuedouble != 0;
  else
    return nala_fail(err, NALA_E_FORMAT, "\"iscrowd\" must be 0 or 1");
  NALA_CHECK(coco_get_double(ann, "area", &a->area[i], err));
  NALA_CHECK(coco_get_bbox(ann, a->bbox + 4 * i, err));
  long img = coco_find_id(gt->img_ids, gt->n_img, image_id);
  long cat = coco_find_id(gt->cat_ids, gt->n_cat, category_id);
  if (img < 0 || cat < 0) /* getAnnIds(imgIds, catIds) never returns it */
    return NALA_OK;
  a->img[i] = (uint32_t)img;
  a->cat[i] = (uint32_t)cat;
  a->score[i] = 0;
  if (with_masks) {
    nala_rle r = {0};
    NALA_CHECK(coco_segm_to_rle(cJSON_GetObjectItemCaseSensitive(ann, "segmentation"), gt->img_h[img],
                                gt->img_w[img], &r, err));
    nala_status st = coco_objs_set_mask(a, i, &r, err);
    nala_rle_free(&r);
    NALA_CHECK(st);
  }
  *keep = 1;
  return NALA_OK;
}

static nala_status gt_from_instances(nala_coco_gt *gt, const coco_instances *ci, const char *name, int with_masks,
                                     nala_err *err) {
  NALA_CHECK(load_images(gt, ci, name, with_masks, err));
  NALA_CHECK(load_categories(gt, ci, name, err));
  gt->anns.has_masks = with_masks;
  const cJSON *anns = ci->annotations;
  NALA_CHECK(coco_objs_reserve(&gt->anns, (size_t)cJSON_GetArraySize(anns), err));
  size_t i = 0;
  for (const cJSON *ann = anns->child; ann; ann = ann->next, i++) {
    int keep;
    nala_status st = load_annotation(gt, ann, with_masks, &keep, err);
    if (st != NALA_OK) {
      const cJSON *id = cJSON_IsObject(ann) ? cJSON_GetObjectItemCaseSensitive(ann, "id") : NULL;
      if (cJSON_IsNumber(id))
        return nala_err_prefix(err, "%s: annotations[%zu] (id %.17g): ", name, i, id->valuedouble);
      return nala_err_prefix(err, "%s: annotations[%zu]: ", name, i);
    }
    gt->anns.n += keep;
  }
  return coco_resolve_duplicate_ids(&gt->anns, err);
}

static nala_status gt_build(const char *path, const char *json, size_t len, const char *name, int with_masks,
                            nala_coco_gt **out, nala_err *err) {
  if (!out || (!path && !json))
    return nala_fail(err, NALA_E_ARG, "nala_coco_gt_load: NULL argument");
  *out = NULL;
  coco_instances ci;
  NALA_CHECK(path ? coco_instances_load(path, 1, &ci, err) : coco_instances_parse(name, json, len, 1, &ci, err));
  nala_coco_gt *gt = calloc(1, sizeof *gt);
  nala_status st = gt ? gt_from_instances(gt, &ci, path ? path : name, with_masks, err)
                      : nala_fail(err, NALA_E_NOMEM, "out of memory");
  coco_instances_free(&ci);
  if (st != NALA_OK) {
    nala_coco_gt_free(gt);
    return st;
  }
  *out = gt;
  return NALA_OK;
}

nala_status nala_coco_gt_load(const char *path, int with_masks, nala_coco_gt **out, nala_err *err) {
  return gt_build(path, NULL, 0, path, with_masks, out, err);
}

nala_status nala_coco_gt_parse(const char *json, size_t len, const char *name, int with_masks,
                               nala_coco_gt **out, nala_err *err) {
  return gt_build(NULL, json, len, name ? name : "<memory>", with_masks, out, err);
}

void nala_coco_gt_free(nala_coco_gt *gt) {
  if (!gt)
    return;
  free(gt->img_ids);
  free(gt->img_h);
  free(gt->img_w);
  free(gt->cat_ids);
  if (gt->cat_names)
    for (size_t i = 0; i < gt->n_cat; i++)
      free(gt->cat_names[i]);
  free(gt->cat_names);
  coco_objs_free(&gt->anns);
  free(gt);
}

size_t nala_coco_gt_num_images(const nala_coco_gt *gt) { return gt->n_img; }
size_t nala_coco_gt_num_categories(const nala_coco_gt *gt) { return gt->n_cat; }
int64_t nala_coco_gt_category_id(const nala_coco_gt *gt, size_t i) { return gt->cat_ids[i]; }
const char *nala_coco_gt_category_name(const nala_coco_gt *gt, size_t i) { return gt->cat_names[i]; }
