/* Growable structure-of-arrays storage for COCO annotations and detections. */
#include <stdlib.h>
#include <string.h>

#include "eval/coco_internal.h"
#include "eval/rle_internal.h"

#define GROW(field, count)                                              \
  do {                                                                  \
    void *grown = realloc(o->field, sizeof(*o->field) * (count));       \
    if (!grown)                                                         \
      return nala_fail(err, NALA_E_NOMEM, "out of memory for %zu objects", n); \
    o->field = grown;                                                   \
  } while (0)

nala_status coco_objs_reserve(coco_objs *o, size_t n, nala_err *err) {
  if (n <= o->cap)
    return NALA_OK;
  if (n < 16)
    n = 16;
  GROW(img, n);
  GROW(cat, n);
  GROW(bbox, 4 * n);
  GROW(area, n);
  GROW(score, n);
  GROW(id, n);
  GROW(crowd, n);
  GROW(mask_off, n);
  GROW(mask_m, n);
  GROW(mask_h, n);
  GROW(mask_w, n);
  GROW(mask_len, n);
  GROW(mask_is_text, n);
  GROW(mask_bbox, 4 * n);
  o->cap = n;
  return NALA_OK;
}

nala_status coco_objs_set_mask(coco_objs *o, size_t i, const nala_rle *r, nala_err *err) {
  if (o->n_counts + r->m > o->cap_counts) {
    size_t cap = o->cap_counts ? o->cap_counts : 4096;
    while (cap < o->n_counts + r->m)
      cap *= 2;
    uint32_t *grown = realloc(o->counts, sizeof(uint32_t) * cap);
    if (!grown)
      return nala_fail(err, NALA_E_NOMEM, "out of memory for %zu mask runs", cap);
    o->counts = grown;
    o->cap_counts = cap;
  }
  if (r->m)
    memcpy(o->counts + o->n_counts, r->counts, sizeof(uint32_t) * r->m);
  o->mask_off[i] = o->n_counts;
  o->mask_is_text[i] = 0;
  o->mask_len[i] = 0;
  o->mask_m[i] = r->m;
  o->mask_h[i] = r->h;
  o->mask_w[i] = r->w;
  nala_rle_to_bbox(r, o->mask_bbox + 4 * i);
  o->n_counts += r->m;
  return NALA_OK;
}

nala_status coco_objs_set_mask_text(coco_objs *o, size_t i, const char *s, size_t len, uint32_t h, uint32_t w,
                                    uint32_t m, const double bbox[4], nala_err *err) {
  if (o->n_text + len > o->cap_text) {
    size_t cap = o->cap_text ? o->cap_text : 1 << 16;
    while (cap < o->n_text + len)
      cap *= 2;
    char *grown = realloc(o->text, cap);
    if (!grown)
      return nala_fail(err, NALA_E_NOMEM, "out of memory for %zu bytes of RLE strings", cap);
    o->text = grown;
    o->cap_text = cap;
  }
  if (len) /* an empty RLE string with no text stored yet: o->text is still NULL */
    memcpy(o->text + o->n_text, s, len);
  o->mask_off[i] = o->n_text;
  o->mask_len[i] = (uint32_t)len;
  o->mask_is_text[i] = 1;
  o->mask_m[i] = m;
  o->mask_h[i] = h;
  o->mask_w[i] = w;
  memcpy(o->mask_bbox + 4 * i, bbox, 4 * sizeof(double));
  o->n_text += len;
  return NALA_OK;
}

nala_rle coco_objs_mask(const coco_objs *o, size_t i, uint32_t *scratch) {
  nala_rle r = {o->mask_h[i], o->mask_w[i], o->mask_m[i], NULL};
  if (o->mask_is_text[i]) {
    nala_rle_string_decode(o->text ? o->text + o->mask_off[i] : "", o->mask_len[i], scratch);
    r.counts = scratch;
  } else if (o->counts) {
    r.counts = o->counts + o->mask_off[i];
  }
  return r;
}

void coco_objs_free(coco_objs *o) {
  free(o->img);
  free(o->cat);
  free(o->bbox);
  free(o->area);
  free(o->score);
  free(o->id);
  free(o->crowd);
  free(o->mask_off);
  free(o->mask_m);
  free(o->mask_h);
  free(o->mask_w);
  free(o->mask_len);
  free(o->mask_is_text);
  free(o->mask_bbox);
  free(o->counts);
  free(o->text);
  free(o->rank);
  memset(o, 0, sizeof *o);
}
