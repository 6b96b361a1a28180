/* COCO detections as pycocotools' loadRes sees them. The FIRST result picks the branch for all:
 * with a non-empty "bbox" it is the box branch (area = w*h even for segm evaluation, a missing
 * mask becomes the box polygon), otherwise the mask branch (area = mask pixels, a missing box is
 * the mask's box). Unknown image ids are an error (loadRes asserts); unknown category ids are
 * dropped later by getAnnIds, which we count. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file_read.h"
#include "eval/coco_internal.h"
#include "eval/coco_json_scan.h"
#include "eval/rle_internal.h"

#define MAX_NAMED_IDS 5

typedef struct det_reader {
  const nala_coco_gt *gt;
  int box_branch, with_masks;
  size_t n_bad_image;
  int64_t bad_image_ids[MAX_NAMED_IDS];
} det_reader;

static nala_status store_mask(coco_objs *o, size_t i, const nala_rle *r, nala_err *err) {
  return coco_objs_set_mask(o, i, r, err);
}

/* A compressed RLE string is validated and measured without decoding it into memory, and kept
 * as text (a quarter of the runs' size) when the masks are needed. */
static nala_status read_string_mask(const det_reader *rd, coco_objs *o, const cJSON *res, const cJSON *segm,
                                    const char *counts, int keep, nala_err *err) {
  size_t i = o->n, len = strlen(counts);
  uint32_t h, w, m;
  uint64_t area;
  double mask_box[4];
  nala_status st = coco_rle_size(segm, &h, &w, err);
  if (st == NALA_OK)
    st = len > UINT32_MAX ? nala_fail(err, NALA_E_FORMAT, "RLE string too long")
                          : nala_rle_string_scan(counts, len, h, w, &m, &area, mask_box, err);
  if (st != NALA_OK)
    return nala_err_prefix(err, "segmentation: ");
  if (!rd->box_branch) {
    o->area[i] = (double)area;
    if (!cJSON_GetObjectItemCaseSensitive(res, "bbox"))
      memcpy(o->bbox + 4 * i, mask_box, sizeof mask_box);
  }
  if (rd->with_masks && keep)
    return coco_objs_set_mask_text(o, i, counts, len, h, w, m, mask_box, err);
  return NALA_OK;
}

/* Reads result j into slot o->n; *keep is 1 when stored, 0 for an unknown category, -1 for an
 * unknown image. */
static nala_status read_det(det_reader *rd, coco_objs *o, const cJSON *res, int *keep, nala_err *err) {
  size_t i = o->n;
  int64_t image_id, category_id;
  *keep = 0;
  if (!cJSON_IsObject(res))
    return nala_fail(err, NALA_E_FORMAT, "must be an object");
  NALA_CHECK(coco_get_int64(res, "image_id", &image_id, err));
  NALA_CHECK(coco_get_int64(res, "category_id", &category_id, err));
  NALA_CHECK(coco_get_double(res, "score", &o->score[i], err));
  long img = coco_find_id(rd->gt->img_ids, rd->gt->n_img, image_id);
  long cat = coco_find_id(rd->gt->cat_ids, rd->gt->n_cat, category_id);
  const cJSON *segm = cJSON_GetObjectItemCaseSensitive(res, "segmentation");
  double *bbox = o->bbox + 4 * i;
  int need_mask = rd->with_masks || !rd->box_branch;
  if (rd->box_branch || cJSON_GetObjectItemCaseSensitive(res, "bbox"))
    NALA_CHECK(coco_get_bbox(res, bbox, err));
  if (rd->box_branch)
    o->area[i] = bbox[2] * bbox[3];
  if (img < 0) {
    if (rd->n_bad_image < MAX_NAMED_IDS)
      rd->bad_image_ids[rd->n_bad_image] = image_id;
    rd->n_bad_image++;
    *keep = -1;
    return NALA_OK;
  }
  const cJSON *counts = cJSON_IsObject(segm) ? cJSON_GetObjectItemCaseSensitive(segm, "counts") : NULL;
  if (need_mask && cJSON_IsString(counts)) /* the usual detector output: keep the string */
    NALA_CHECK(read_string_mask(rd, o, res, segm, counts->valuestring, cat >= 0, err));
  else if (need_mask) {
    nala_rle r = {0};
    uint32_t h = rd->gt->img_h[img], w = rd->gt->img_w[img];
    nala_status st;
    if (rd->box_branch && !segm)
      st = nala_rle_from_bbox(bbox, h, w, &r, err);
    else
      st = coco_segm_to_rle(segm, h, w, &r, err);
    if (st == NALA_OK && !rd->box_branch) {
      o->area[i] = (double)nala_rle_area(&r);
      if (!cJSON_GetObjectItemCaseSensitive(res, "bbox"))
        nala_rle_to_bbox(&r, bbox);
    }
    if (st == NALA_OK && rd->with_masks && cat >= 0)
      st = store_mask(o, i, &r, err);
    nala_rle_free(&r);
    NALA_CHECK(st);
  }
  if (cat < 0)
    return NALA_OK;
  o->img[i] = (uint32_t)img;
  o->cat[i] = (uint32_t)cat;
  o->id[i] = (double)(i + 1);
  o->crowd[i] = 0;
  *keep = 1;
  return NALA_OK;
}

static nala_status pick_branch(det_reader *rd, const cJSON *first, const char *name, nala_err *err) {
  const cJSON *bbox = cJSON_IsObject(first) ? cJSON_GetObjectItemCaseSensitive(first, "bbox") : NULL;
  rd->box_branch = bbox && !(cJSON_IsArray(bbox) && cJSON_GetArraySize(bbox) == 0);
  if (!rd->box_branch && !(cJSON_IsObject(first) && cJSON_GetObjectItemCaseSensitive(first, "segmentation")))
    return nala_fail(err, NALA_E_FORMAT, "%s: results[0]: needs \"bbox\" or \"segmentation\"", name);
  return NALA_OK;
}

/* Results parsed one element at a time (see coco_json_list.c). */
static nala_status dets_from_text(nala_coco_dets *d, const char *text, size_t len, const char *name,
                                  const nala_coco_gt *gt, int with_masks, nala_err *err) {
  if (with_masks && !gt->anns.has_masks)
    return nala_fail(err, NALA_E_STATE, "%s: masks requested but the ground truth was loaded without masks", name);
  det_reader rd = {gt, 1, with_masks, 0, {0}};
  coco_objs *o = &d->dets;
  o->has_masks = with_masks;
  coco_json_list it;
  if (coco_json_list_begin(&it, text, len, err) != NALA_OK)
    return nala_err_prefix(err, "%s: ", name);
  for (size_t j = 0;; j++) {
    const char *elem, *end = NULL;
    size_t elem_len;
    if (coco_json_list_next(&it, &elem, &elem_len, err) != NALA_OK)
      return nala_err_prefix(err, "%s: ", name);
    if (!elem)
      break;
    cJSON *res = cJSON_ParseWithLengthOpts(elem, elem_len, &end, 0);
    if (!res) {
      size_t at = end && end >= elem ? (size_t)(end - text) : (size_t)(elem - text);
      coco_json_syntax_error(text, len, at, err);
      return nala_err_prefix(err, "%s: ", name);
    }
    nala_status st = j == 0 ? pick_branch(&rd, res, name, err) : NALA_OK;
    if (st == NALA_OK && o->n == o->cap)
      st = coco_objs_reserve(o, o->cap ? o->cap * 2 : 1024, err);
    int keep = 0;
    if (st == NALA_OK && read_det(&rd, o, res, &keep, err) != NALA_OK)
      st = nala_err_prefix(err, "%s: results[%zu]: ", name, j);
    cJSON_Delete(res);
    NALA_CHECK(st);
    o->n += keep == 1;
    d->n_unknown_cat += keep == 0;
  }
  if (rd.n_bad_image) {
    char ids[160] = "";
    for (size_t k = 0; k < rd.n_bad_image && k < MAX_NAMED_IDS; k++)
      snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%lld", k ? ", " : "", (long long)rd.bad_image_ids[k]);
    return nala_fail(err, NALA_E_FORMAT, "%s: %zu results have image ids not in the ground truth (%s%s)", name,
                     rd.n_bad_image, ids, rd.n_bad_image > MAX_NAMED_IDS ? ", ..." : "");
  }
  return NALA_OK;
}

static nala_status dets_build(const char *path, const char *json, size_t len, const char *name,
                              const nala_coco_gt *gt, int with_masks, nala_coco_dets **out, nala_err *err) {
  if (!out || !gt || (!path && !json))
    return nala_fail(err, NALA_E_ARG, "nala_coco_dets_load: NULL argument");
  *out = NULL;
  nala_file_bytes file = {json, len, 0};
  if (path)
    NALA_CHECK(nala_file_read(path, 0, &file, err));
  nala_coco_dets *d = calloc(1, sizeof *d);
  nala_status st = d ? dets_from_text(d, file.data, file.len, name, gt, with_masks, err)
                     : nala_fail(err, NALA_E_NOMEM, "out of memory");
  if (path)
    nala_file_bytes_release(&file);
  if (st != NALA_OK) {
    nala_coco_dets_free(d);
    return st;
  }
  *out = d;
  return NALA_OK;
}

nala_status nala_coco_dets_load(const char *path, const nala_coco_gt *gt, int with_masks, nala_coco_dets **out,
                                nala_err *err) {
  return dets_build(path, NULL, 0, path, gt, with_masks, out, err);
}

nala_status nala_coco_dets_parse(const char *json, size_t len, const char *name, const nala_coco_gt *gt,
                                 int with_masks, nala_coco_dets **out, nala_err *err) {
  return dets_build(NULL, json, len, name ? name : "<memory>", gt, with_masks, out, err);
}

nala_status nala_coco_dets_from_array(const nala_coco_gt *gt, const nala_coco_det *dets, size_t n,
                                      nala_coco_dets **out, nala_err *err) {
  if (!gt || !out || (n && !dets))
    return nala_fail(err, NALA_E_ARG, "nala_coco_dets_from_array: NULL argument");
  *out = NULL;
  nala_coco_dets *d = calloc(1, sizeof *d);
  if (!d)
    return nala_fail(err, NALA_E_NOMEM, "out of memory");
  coco_objs *o = &d->dets;
  o->has_masks = gt->anns.has_masks;
  nala_status st = coco_objs_reserve(o, n, err);
  for (size_t j = 0; j < n && st == NALA_OK; j++) {
    const nala_coco_det *det = &dets[j];
    size_t i = o->n;
    long img = coco_find_id(gt->img_ids, gt->n_img, det->image_id);
    long cat = coco_find_id(gt->cat_ids, gt->n_cat, det->category_id);
    if (img < 0) {
      st = nala_fail(err, NALA_E_FORMAT, "detection %zu: image id %lld is not in the ground truth", j,
                     (long long)det->image_id);
      break;
    }
    if (!isfinite(det->score) || !isfinite(det->bbox[0]) || !isfinite(det->bbox[1]) || !(det->bbox[2] >= 0) ||
        !(det->bbox[3] >= 0) || !isfinite(det->bbox[2]) || !isfinite(det->bbox[3])) {
      st = nala_fail(err, NALA_E_ARG, "detection %zu: score and bbox must be finite with w, h >= 0", j);
      break;
    }
    if (cat < 0) {
      d->n_unknown_cat++;
      continue;
    }
    o->img[i] = (uint32_t)img;
    o->cat[i] = (uint32_t)cat;
    memcpy(o->bbox + 4 * i, det->bbox, sizeof det->bbox);
    o->area[i] = det->bbox[2] * det->bbox[3];
    o->score[i] = det->score;
    o->id[i] = (double)(j + 1);
    o->crowd[i] = 0;
    if (o->has_masks) {
      nala_rle box = {0};
      if (det->mask)
        st = nala_rle_validate(det->mask, err);
      else
        st = nala_rle_from_bbox(det->bbox, gt->img_h[img], gt->img_w[img], &box, err);
      if (st == NALA_OK)
        st = store_mask(o, i, det->mask ? det->mask : &box, err);
      nala_rle_free(&box);
      if (st != NALA_OK) {
        nala_err_prefix(err, "detection %zu: ", j);
        break;
      }
    }
    o->n++;
  }
  if (st != NALA_OK) {
    nala_coco_dets_free(d);
    return st;
  }
  *out = d;
  return NALA_OK;
}

void nala_coco_dets_free(nala_coco_dets *dets) {
  if (!dets)
    return;
  coco_objs_free(&dets->dets);
  free(dets);
}

size_t nala_coco_dets_count(const nala_coco_dets *dets) { return dets->dets.n; }
size_t nala_coco_dets_num_unknown_category(const nala_coco_dets *dets) { return dets->n_unknown_cat; }
