/* JSON reading shared by the COCO ground-truth and results loaders: whole-file parse with the byte
 * offset of a syntax error, typed field getters, and segmentation -> RLE as COCO.annToRLE does. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file_read.h"
#include "eval/coco_json_scan.h"
#include "eval/coco_internal.h"
#include "eval/rle_internal.h"

nala_status coco_read_json(const char *path, const char *json, size_t len, const char *name, cJSON **root,
                           nala_err *err) {
  nala_file_bytes file = {0};
  if (path) {
    NALA_CHECK(nala_file_read(path, 0, &file, err));
    json = file.data;
    len = file.len;
    name = path;
  }
  const char *end = NULL;
  *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
  nala_status st = NALA_OK;
  if (!*root) {
    coco_json_syntax_error(json, len, end && end >= json ? (size_t)(end - json) : 0, err);
    st = nala_err_prefix(err, "%s: ", name);
  }
  nala_file_bytes_release(&file);
  return st;
}

static int integral(double v) { return isfinite(v) && floor(v) == v && fabs(v) < 9.2e18; }

nala_status coco_get_int64(const cJSON *obj, const char *key, int64_t *out, nala_err *err) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!item)
    return nala_fail(err, NALA_E_FORMAT, "missing \"%s\"", key);
  if (!cJSON_IsNumber(item) || !integral(item->valuedouble))
    return nala_fail(err, NALA_E_FORMAT, "\"%s\" must be an integer", key);
  *out = (int64_t)item->valuedouble;
  return NALA_OK;
}

nala_status coco_get_double(const cJSON *obj, const char *key, double *out, nala_err *err) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!item)
    return nala_fail(err, NALA_E_FORMAT, "missing \"%s\"", key);
  if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
    return nala_fail(err, NALA_E_FORMAT, "\"%s\" must be a finite number", key);
  *out = item->valuedouble;
  return NALA_OK;
}

nala_status coco_get_bbox(const cJSON *obj, double bbox[4], nala_err *err) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, "bbox");
  if (!item)
    return nala_fail(err, NALA_E_FORMAT, "missing \"bbox\"");
  if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) != 4)
    return nala_fail(err, NALA_E_FORMAT, "\"bbox\" must be [x, y, w, h]");
  int j = 0;
  for (const cJSON *v = item->child; v; v = v->next, j++) {
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
      return nala_fail(err, NALA_E_FORMAT, "bbox[%d] must be a finite number", j);
    bbox[j] = v->valuedouble;
  }
  if (bbox[2] < 0 || bbox[3] < 0)
    return nala_fail(err, NALA_E_FORMAT, "bbox has a negative size (w %g, h %g)", bbox[2], bbox[3]);
  return NALA_OK;
}

long coco_find_id(const int64_t *ids, size_t n, int64_t id) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ids[mid] < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && ids[lo] == id ? (long)lo : -1;
}

/* Reads part j of a polygon list into a fresh array of doubles. */
static nala_status poly_part(const cJSON *part, int j, double **xy, int *n, nala_err *err) {
  if (!cJSON_IsArray(part))
    return nala_fail(err, NALA_E_FORMAT, "segmentation[%d] must be a list of coordinates", j);
  *n = cJSON_GetArraySize(part);
  *xy = malloc(sizeof(double) * (*n ? *n : 1));
  if (!*xy)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for a polygon");
  int i = 0;
  for (const cJSON *v = part->child; v; v = v->next, i++) {
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
      free(*xy);
      return nala_fail(err, NALA_E_FORMAT, "segmentation[%d][%d] must be a finite number", j, i);
    }
    (*xy)[i] = v->valuedouble;
  }
  return NALA_OK;
}

/* Polygons as frPyObjects reads them: a first part of exactly 4 numbers makes the whole list boxes
 * (frBbox), longer first parts make it polygons; the parts are then unioned (merge). */
static nala_status polygons_to_rle(const cJSON *segm, uint32_t h, uint32_t w, nala_rle *out, nala_err *err) {
  int n_parts = cJSON_GetArraySize(segm);
  if (n_parts == 0)
    return nala_fail(err, NALA_E_FORMAT, "segmentation is an empty list");
  int first_len = cJSON_IsArray(segm->child) ? cJSON_GetArraySize(segm->child) : -1;
  int as_boxes = first_len == 4;
  if (first_len >= 0 && first_len < 4)
    return nala_fail(err, NALA_E_FORMAT, "segmentation[0] has %d coordinates (a polygon needs >= 6)", first_len);
  nala_rle *parts = calloc((size_t)n_parts, sizeof(nala_rle));
  if (!parts)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for %d polygons", n_parts);
  nala_status st = NALA_OK;
  int j = 0;
  for (const cJSON *part = segm->child; part && st == NALA_OK; part = part->next, j++) {
    double *xy = NULL;
    int n = 0;
    st = poly_part(part, j, &xy, &n, err);
    if (st != NALA_OK)
      break;
    if (as_boxes && n != 4)
      st = nala_fail(err, NALA_E_FORMAT, "segmentation[%d] has %d numbers but segmentation[0] is a box (4)", j, n);
    else if (!as_boxes && (n % 2 || n < 2))
      st = nala_fail(err, NALA_E_FORMAT, "segmentation[%d] has %s number of coordinates (%d)", j,
                     n % 2 ? "an odd" : "too small a", n);
    else {
      st = as_boxes ? nala_rle_from_bbox(xy, h, w, &parts[j], err)
                    : nala_rle_from_poly(xy, (size_t)n / 2, h, w, &parts[j], err);
      if (st != NALA_OK)
        nala_err_prefix(err, "segmentation[%d]: ", j);
    }
    free(xy);
  }
  if (st == NALA_OK)
    st = nala_rle_merge(parts, (size_t)n_parts, 0, out, err);
  for (int i = 0; i < n_parts; i++)
    nala_rle_free(&parts[i]);
  free(parts);
  return st;
}

nala_status coco_rle_size(const cJSON *segm, uint32_t *h, uint32_t *w, nala_err *err) {
  const cJSON *size = cJSON_GetObjectItemCaseSensitive(segm, "size");
  if (!size || !cJSON_GetObjectItemCaseSensitive(segm, "counts"))
    return nala_fail(err, NALA_E_FORMAT, "segmentation RLE needs \"size\" and \"counts\"");
  if (!cJSON_IsArray(size) || cJSON_GetArraySize(size) != 2 || !cJSON_IsNumber(size->child) ||
      !cJSON_IsNumber(size->child->next) || !integral(size->child->valuedouble) ||
      !integral(size->child->next->valuedouble) || size->child->valuedouble < 0 ||
      size->child->next->valuedouble < 0 || size->child->valuedouble * size->child->next->valuedouble > UINT32_MAX)
    return nala_fail(err, NALA_E_FORMAT, "segmentation \"size\" must be [h, w] (non-negative integers, h*w < 2^32)");
  *h = (uint32_t)size->child->valuedouble;
  *w = (uint32_t)size->child->next->valuedouble;
  return NALA_OK;
}

static nala_status rle_object_to_rle(const cJSON *segm, nala_rle *out, nala_err *err) {
  uint32_t h, w;
  NALA_CHECK(coco_rle_size(segm, &h, &w, err));
  const cJSON *counts = cJSON_GetObjectItemCaseSensitive(segm, "counts");
  nala_status st;
  if (cJSON_IsString(counts)) {
    st = nala_rle_from_string(counts->valuestring, strlen(counts->valuestring), h, w, out, err);
  } else if (cJSON_IsArray(counts)) {
    /* Uncompressed RLE keeps its own size (frUncompressedRLE), not the image's. */
    uint32_t m = (uint32_t)cJSON_GetArraySize(counts), j = 0;
    NALA_CHECK(nala_rle_init(out, h, w, m, NULL, err));
    for (const cJSON *v = counts->child; v; v = v->next, j++) {
      if (!cJSON_IsNumber(v) || !integral(v->valuedouble) || v->valuedouble < 0 || v->valuedouble > UINT32_MAX) {
        nala_rle_free(out);
        return nala_fail(err, NALA_E_FORMAT, "segmentation counts[%u] must be an integer in [0, 2^32)", j);
      }
      out->counts[j] = (uint32_t)v->valuedouble;
    }
    st = nala_rle_validate(out, err);
    if (st != NALA_OK)
      nala_rle_free(out);
  } else {
    return nala_fail(err, NALA_E_FORMAT, "segmentation \"counts\" must be a string or a list");
  }
  if (st != NALA_OK)
    nala_err_prefix(err, "segmentation: ");
  return st;
}

nala_status coco_segm_to_rle(const cJSON *segm, uint32_t img_h, uint32_t img_w, nala_rle *out, nala_err *err) {
  if (!segm)
    return nala_fail(err, NALA_E_FORMAT, "missing \"segmentation\"");
  if (cJSON_IsArray(segm))
    return polygons_to_rle(segm, img_h, img_w, out, err);
  if (cJSON_IsObject(segm))
    return rle_object_to_rle(segm, out, err);
  return nala_fail(err, NALA_E_FORMAT, "\"segmentation\" must be a polygon list or an RLE object");
}
