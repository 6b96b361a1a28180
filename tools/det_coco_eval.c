/* Run lists, shard merging and subset evaluation for `nala eval coco` of a model (tools/det_coco_eval.h). */
#include "tools/det_coco_eval.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/file_read.h"
#include "nala/atomic_write.h"

nala_status det_coco_meta_add(det_coco_run_meta *m, int64_t image_id, nala_err *err) {
  if (m->n_images == m->cap) {
    size_t cap = m->cap ? 2 * m->cap : 256;
    int64_t *p = realloc(m->image_ids, cap * sizeof *p);
    if (!p)
      return nala_fail(err, NALA_E_NOMEM, "out of memory for the image list");
    m->image_ids = p, m->cap = cap;
  }
  m->image_ids[m->n_images++] = image_id;
  return NALA_OK;
}

void det_coco_meta_free(det_coco_run_meta *m) {
  free(m->ann_file);
  free(m->image_ids);
  memset(m, 0, sizeof *m);
}

static void meta_path(const char *prefix, const char *ext, char *out, size_t cap) {
  snprintf(out, cap, "%s.%s", prefix, ext);
}

nala_status det_coco_meta_write(const char *prefix, const det_coco_run_meta *m, nala_err *err) {
  char path[4200];
  meta_path(prefix, "meta.json", path, sizeof path);
  cJSON *root = cJSON_CreateObject();
  cJSON *ids = cJSON_CreateArray();
  int ok = root && ids && cJSON_AddStringToObject(root, "ann_file", m->ann_file) &&
           cJSON_AddBoolToObject(root, "segm", m->has_segm) &&
           cJSON_AddNumberToObject(root, "bad", (double)m->n_bad);
  for (size_t i = 0; ok && i < m->n_images; i++) {
    cJSON *v = cJSON_CreateNumber((double)m->image_ids[i]);
    ok = v && cJSON_AddItemToArray(ids, v);
  }
  if (ok)
    ok = cJSON_AddItemToObject(root, "image_ids", ids);
  else
    cJSON_Delete(ids);
  char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (!text)
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
  nala_status st = nala_write_atomic(path, text, strlen(text), err);
  free(text);
  return st;
}

/* Whole file as a NUL-terminated string. */
static nala_status read_text(const char *path, char **out, size_t *len, nala_err *err) {
  nala_file_bytes fb;
  NALA_CHECK(nala_file_read(path, 0, &fb, err));
  char *t = malloc(fb.len + 1);
  if (!t) {
    nala_file_bytes_release(&fb);
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
  }
  memcpy(t, fb.data, fb.len);
  t[fb.len] = 0;
  *len = fb.len;
  nala_file_bytes_release(&fb);
  *out = t;
  return NALA_OK;
}

nala_status det_coco_meta_read(const char *prefix, det_coco_run_meta *m, nala_err *err) {
  memset(m, 0, sizeof *m);
  char path[4200];
  meta_path(prefix, "meta.json", path, sizeof path);
  char *text;
  size_t len;
  NALA_CHECK(read_text(path, &text, &len, err));
  cJSON *root = cJSON_ParseWithLength(text, len);
  free(text);
  const cJSON *ann = cJSON_GetObjectItemCaseSensitive(root, "ann_file");
  const cJSON *segm = cJSON_GetObjectItemCaseSensitive(root, "segm");
  const cJSON *bad = cJSON_GetObjectItemCaseSensitive(root, "bad");
  const cJSON *ids = cJSON_GetObjectItemCaseSensitive(root, "image_ids");
  nala_status st = NALA_OK;
  if (!cJSON_IsString(ann) || !cJSON_IsBool(segm) || !cJSON_IsNumber(bad) || !cJSON_IsArray(ids))
    st = nala_fail(err, NALA_E_FORMAT,
                   "%s: not the list a `nala eval coco --out-prefix` run writes (ann_file, segm, bad, image_ids)",
                   path);
  if (st == NALA_OK && !(m->ann_file = strdup(ann->valuestring)))
    st = nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
  if (st == NALA_OK)
    m->has_segm = cJSON_IsTrue(segm), m->n_bad = (size_t)bad->valuedouble;
  const cJSON *v;
  int k = 0;
  cJSON_ArrayForEach(v, ids) {
    if (st != NALA_OK)
      break;
    if (!cJSON_IsNumber(v))
      st = nala_fail(err, NALA_E_FORMAT, "%s: image_ids[%d] is not a number", path, k);
    else
      st = det_coco_meta_add(m, (int64_t)v->valuedouble, err);
    k++;
  }
  cJSON_Delete(root);
  if (st != NALA_OK)
    det_coco_meta_free(m);
  return st;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int in_sorted(const int64_t *s, size_t n, int64_t v) { return bsearch(&v, s, n, sizeof v, cmp_i64) != NULL; }

/* Keeps the entries of arr whose `key` (a number) is in the sorted set. */
static void filter_array(cJSON *arr, const char *key, const int64_t *set, size_t n) {
  cJSON *e = arr ? arr->child : NULL;
  while (e) {
    cJSON *next = e->next;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, key);
    if (!cJSON_IsNumber(id) || !in_sorted(set, n, (int64_t)id->valuedouble))
      cJSON_Delete(cJSON_DetachItemViaPointer(arr, e));
    e = next;
  }
}

nala_status det_coco_gt_load_subset(const char *ann_file, const int64_t *ids, size_t n, int with_masks,
                                    nala_coco_gt **out, nala_err *err) {
  char *text;
  size_t len;
  NALA_CHECK(read_text(ann_file, &text, &len, err));
  cJSON *root = cJSON_ParseWithLength(text, len);
  if (!root) {
    free(text);
    return nala_fail(err, NALA_E_FORMAT, "%s: not valid JSON", ann_file);
  }
  int64_t *set = malloc((n ? n : 1) * sizeof *set);
  if (!set) {
    cJSON_Delete(root);
    free(text);
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory", ann_file);
  }
  memcpy(set, ids, n * sizeof *set);
  qsort(set, n, sizeof *set, cmp_i64);
  cJSON *images = cJSON_GetObjectItemCaseSensitive(root, "images");
  int all = cJSON_IsArray(images) && (size_t)cJSON_GetArraySize(images) == n;
  for (cJSON *e = all ? images->child : NULL; e && all; e = e->next) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
    all = cJSON_IsNumber(id) && in_sorted(set, n, (int64_t)id->valuedouble);
  }
  nala_status st;
  if (all) /* every image: the file as it is (no re-printing) */
    st = nala_coco_gt_parse(text, len, ann_file, with_masks, out, err);
  else {
    filter_array(images, "id", set, n);
    filter_array(cJSON_GetObjectItemCaseSensitive(root, "annotations"), "image_id", set, n);
    char *sub = cJSON_PrintUnformatted(root); /* doubles printed to round-trip (cJSON's %1.17g fallback) */
    st = sub ? nala_coco_gt_parse(sub, strlen(sub), ann_file, with_masks, out, err)
             : nala_fail(err, NALA_E_NOMEM, "%s: out of memory", ann_file);
    free(sub);
  }
  free(set);
  cJSON_Delete(root);
  free(text);
  return st;
}

nala_status det_coco_eval_text(const nala_coco_gt *gt, const char *text, size_t len, const char *name,
                               nala_coco_iou_type iou_type, int threads, FILE *out, double stats[12],
                               nala_err *err) {
  nala_coco_dets *dets = NULL;
  nala_coco_result res = {0};
  nala_coco_params params = {threads};
  nala_status st = nala_coco_dets_parse(text, len, name, gt, iou_type == NALA_COCO_SEGM, &dets, err);
  if (st == NALA_OK)
    st = nala_coco_evaluate(gt, dets, iou_type, &params, &res, err);
  if (st == NALA_OK) {
    fprintf(out, "Evaluating %s...\n", iou_type == NALA_COCO_SEGM ? "segm" : "bbox");
    nala_coco_summary_print(out, &res);
    fflush(out);
    if (stats)
      memcpy(stats, res.stats, sizeof res.stats);
  }
  nala_coco_result_free(&res);
  nala_coco_dets_free(dets);
  return st;
}

nala_status det_coco_merge_lists(const char *const *prefixes, int n, const char *kind, char **text, size_t *len,
                                 nala_err *err) {
  size_t cap = 2, used = 0;
  char *buf = malloc(cap + 1);
  if (!buf)
    return nala_fail(err, NALA_E_NOMEM, "out of memory merging %s lists", kind);
  buf[used++] = '[';
  int any = 0;
  nala_status st = NALA_OK;
  for (int i = 0; i < n && st == NALA_OK; i++) {
    char path[4200];
    snprintf(path, sizeof path, "%s.%s.json", prefixes[i], kind);
    char *t;
    size_t l;
    st = read_text(path, &t, &l, err);
    if (st != NALA_OK)
      break;
    cJSON *arr = cJSON_ParseWithLength(t, l);
    if (!cJSON_IsArray(arr))
      st = nala_fail(err, NALA_E_FORMAT, "%s: not a JSON list of results", path);
    int empty = arr && !arr->child;
    cJSON_Delete(arr);
    /* The list's inside: from after '[' to before the last ']' (json.dump writes no blanks there). */
    char *open = st == NALA_OK ? strchr(t, '[') : NULL;
    char *close = st == NALA_OK ? strrchr(t, ']') : NULL;
    if (st == NALA_OK && !empty && open && close > open) {
      size_t k = (size_t)(close - open - 1), need = used + k + 4;
      if (need > cap) {
        while (cap < need)
          cap *= 2;
        char *nb = realloc(buf, cap + 1);
        if (!nb)
          st = nala_fail(err, NALA_E_NOMEM, "out of memory merging %s", path);
        else
          buf = nb;
      }
      if (st == NALA_OK) {
        if (any)
          buf[used++] = ',', buf[used++] = ' ';
        memcpy(buf + used, open + 1, k);
        used += k;
        any = 1;
      }
    }
    free(t);
  }
  if (st != NALA_OK) {
    free(buf);
    return st;
  }
  buf[used++] = ']';
  buf[used] = 0;
  *text = buf;
  *len = used;
  return NALA_OK;
}
