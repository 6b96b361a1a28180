/* COCO instances JSON: a top-level scan that parses only the sections asked for, then the image
 * and category records every user of the file needs. */
#include "eval/coco_instances.h"

#include <stdlib.h>
#include <string.h>

#include "core/file_read.h"
#include "eval/coco_internal.h"
#include "eval/coco_json_scan.h"

enum { SEC_IMAGES, SEC_CATEGORIES, SEC_ANNOTATIONS };
static const char *const section_names[3] = {"images", "categories", "annotations"};

static nala_status syntax_error(const char *name, const char *text, size_t len, size_t at, nala_err *err) {
  coco_json_syntax_error(text, len, at, err);
  return nala_err_prefix(err, "%s: ", name);
}

static int section_of(const char *key, size_t key_len, int want_annotations) {
  for (int s = 0; s < 3; s++)
    if (key_len == strlen(section_names[s]) + 2 && !memcmp(key + 1, section_names[s], key_len - 2))
      return s == SEC_ANNOTATIONS && !want_annotations ? -1 : s;
  return -1;
}

static nala_status parse_sections(const char *name, const char *text, size_t len, int want_annotations,
                                  cJSON *sections[3], nala_err *err) {
  size_t p = coco_json_skip_ws(text, len, 0);
  if (p >= len || text[p] != '{')
    return nala_fail(err, NALA_E_FORMAT, "%s: top level must be a JSON object", name);
  p = coco_json_skip_ws(text, len, p + 1);
  while (p < len && text[p] != '}') {
    size_t key = p;
    if (text[p] != '"' || !coco_json_skip_value(text, len, &p))
      return syntax_error(name, text, len, key, err);
    size_t key_len = p - key;
    p = coco_json_skip_ws(text, len, p);
    if (p >= len || text[p] != ':')
      return syntax_error(name, text, len, p, err);
    size_t value = coco_json_skip_ws(text, len, p + 1), value_end = value;
    if (!coco_json_skip_value(text, len, &value_end))
      return syntax_error(name, text, len, value, err);
    int s = section_of(text + key, key_len, want_annotations);
    if (s >= 0) {
      if (sections[s])
        return nala_fail(err, NALA_E_FORMAT, "%s: duplicate key \"%s\"", name, section_names[s]);
      const char *parse_end = NULL;
      sections[s] = cJSON_ParseWithLengthOpts(text + value, value_end - value, &parse_end, 0);
      if (!sections[s])
        return syntax_error(name, text, len, parse_end ? (size_t)(parse_end - text) : value, err);
    }
    p = coco_json_skip_ws(text, len, value_end);
    if (p < len && text[p] == ',')
      p = coco_json_skip_ws(text, len, p + 1);
    else if (p >= len || text[p] != '}')
      return syntax_error(name, text, len, p, err);
  }
  if (p >= len)
    return syntax_error(name, text, len, p, err);
  for (int s = 0; s < 3; s++)
    if (!sections[s] && (s != SEC_ANNOTATIONS || want_annotations))
      return nala_fail(err, NALA_E_FORMAT, "%s: no \"%s\" list (is this a COCO instances file?)", name,
                       section_names[s]);
    else if (sections[s] && !cJSON_IsArray(sections[s]))
      return nala_fail(err, NALA_E_FORMAT, "%s: \"%s\" must be a list", name, section_names[s]);
  return NALA_OK;
}

/* An optional member: absent is fine, present must be a string. */
static nala_status optional_string(const cJSON *obj, const char *key, const char **out, nala_err *err) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
  *out = NULL;
  if (!item)
    return NALA_OK;
  if (!cJSON_IsString(item))
    return nala_fail(err, NALA_E_FORMAT, "\"%s\" must be a string", key);
  *out = item->valuestring;
  return NALA_OK;
}

static nala_status optional_size(const cJSON *obj, const char *key, uint32_t *out, nala_err *err) {
  *out = 0;
  if (!cJSON_GetObjectItemCaseSensitive(obj, key))
    return NALA_OK;
  int64_t v;
  NALA_CHECK(coco_get_int64(obj, key, &v, err));
  if (v < 1 || v > 1 << 20)
    return nala_fail(err, NALA_E_FORMAT, "\"%s\" is %lld (must be in [1, 2^20])", key, (long long)v);
  *out = (uint32_t)v;
  return NALA_OK;
}

static nala_status read_records(const char *name, coco_instances *ci, nala_err *err) {
  const cJSON *images = ci->sections[SEC_IMAGES], *cats = ci->sections[SEC_CATEGORIES];
  size_t n_img = (size_t)cJSON_GetArraySize(images), n_cat = (size_t)cJSON_GetArraySize(cats);
  ci->images = calloc(n_img + 1, sizeof *ci->images);
  ci->categories = calloc(n_cat + 1, sizeof *ci->categories);
  if (!ci->images || !ci->categories)
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory for %zu images and %zu categories", name, n_img, n_cat);
  nala_status st = NALA_OK;
  for (const cJSON *im = images->child; im; im = im->next, ci->n_images++) {
    coco_image_rec *r = &ci->images[ci->n_images];
    st = cJSON_IsObject(im) ? coco_get_int64(im, "id", &r->id, err) : nala_fail(err, NALA_E_FORMAT, "must be an object");
    if (st == NALA_OK)
      st = optional_string(im, "file_name", &r->file_name, err);
    if (st == NALA_OK)
      st = optional_size(im, "width", &r->width, err);
    if (st == NALA_OK)
      st = optional_size(im, "height", &r->height, err);
    if (st != NALA_OK)
      return nala_err_prefix(err, "%s: images[%zu]: ", name, ci->n_images);
  }
  for (const cJSON *c = cats->child; c; c = c->next, ci->n_categories++) {
    coco_category_rec *r = &ci->categories[ci->n_categories];
    st = cJSON_IsObject(c) ? coco_get_int64(c, "id", &r->id, err) : nala_fail(err, NALA_E_FORMAT, "must be an object");
    if (st == NALA_OK)
      st = optional_string(c, "name", &r->name, err);
    if (st != NALA_OK)
      return nala_err_prefix(err, "%s: categories[%zu]: ", name, ci->n_categories);
  }
  ci->annotations = ci->sections[SEC_ANNOTATIONS];
  return NALA_OK;
}

nala_status coco_instances_parse(const char *name, const char *text, size_t len, int want_annotations,
                                 coco_instances *out, nala_err *err) {
  memset(out, 0, sizeof *out);
  if (!text)
    text = "";
  nala_status st = parse_sections(name, text, len, want_annotations, out->sections, err);
  if (st == NALA_OK)
    st = read_records(name, out, err);
  if (st != NALA_OK)
    coco_instances_free(out);
  return st;
}

nala_status coco_instances_load(const char *path, int want_annotations, coco_instances *out, nala_err *err) {
  memset(out, 0, sizeof *out);
  nala_file_bytes file;
  NALA_CHECK(nala_file_read(path, 0, &file, err));
  nala_status st = coco_instances_parse(path, file.data, file.len, want_annotations, out, err);
  nala_file_bytes_release(&file);
  return st;
}

void coco_instances_free(coco_instances *ci) {
  if (!ci)
    return;
  for (int s = 0; s < 3; s++)
    cJSON_Delete(ci->sections[s]);
  free(ci->images);
  free(ci->categories);
  memset(ci, 0, sizeof *ci);
}
