/* Repeated annotation ids, as pycocotools resolves them (rule 6): COCO.createIndex keeps the LAST
 * annotation of each id in its `anns` dict, and COCOeval._prepare loads annotations by id, so every
 * occurrence of an id becomes that last annotation. The occurrences keep their place in the
 * getAnnIds order (sorted image id, then file order), which is what `rank` records. */
#include <stdlib.h>
#include <string.h>

#include "eval/coco_internal.h"

typedef struct id_pos {
  double id;
  uint32_t pos;
} id_pos;

static int cmp_id_pos(const void *a, const void *b) {
  const id_pos *x = a, *y = b;
  if (x->id != y->id)
    return x->id < y->id ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x > y ? 1 : x < y ? -1 : 0;
}

/* Makes annotation i a copy of annotation last (the mask is shared, not copied). */
static void copy_annotation(coco_objs *o, size_t i, size_t last) {
  o->img[i] = o->img[last];
  o->cat[i] = o->cat[last];
  memcpy(o->bbox + 4 * i, o->bbox + 4 * last, 4 * sizeof(double));
  o->area[i] = o->area[last];
  o->crowd[i] = o->crowd[last];
  if (o->has_masks) {
    o->mask_off[i] = o->mask_off[last];
    o->mask_m[i] = o->mask_m[last];
    o->mask_h[i] = o->mask_h[last];
    o->mask_w[i] = o->mask_w[last];
    o->mask_len[i] = o->mask_len[last];
    o->mask_is_text[i] = o->mask_is_text[last];
    memcpy(o->mask_bbox + 4 * i, o->mask_bbox + 4 * last, 4 * sizeof(double));
  }
}

nala_status coco_resolve_duplicate_ids(coco_objs *o, nala_err *err) {
  size_t n = o->n, n_dup = 0;
  if (n < 2)
    return NALA_OK;
  id_pos *ids = malloc(sizeof(id_pos) * n);
  uint64_t *occ = malloc(sizeof(uint64_t) * n);
  uint32_t *occ_img = malloc(sizeof(uint32_t) * n);
  if (!ids || !occ || !occ_img) {
    free(ids);
    free(occ);
    free(occ_img);
    return nala_fail(err, NALA_E_NOMEM, "out of memory checking annotation ids");
  }
  for (size_t i = 0; i < n; i++) {
    ids[i].id = o->id[i];
    ids[i].pos = (uint32_t)i;
    occ_img[i] = o->img[i];
  }
  qsort(ids, n, sizeof *ids, cmp_id_pos);
  for (size_t a = 0; a < n;) {
    size_t b = a + 1;
    while (b < n && ids[b].id == ids[a].id)
      b++;
    for (size_t j = a; j + 1 < b; j++) {
      copy_annotation(o, ids[j].pos, ids[b - 1].pos);
      n_dup++;
    }
    a = b;
  }
  nala_status st = NALA_OK;
  if (n_dup) {
    for (size_t i = 0; i < n; i++)
      occ[i] = ((uint64_t)occ_img[i] << 32) | i;
    qsort(occ, n, sizeof *occ, cmp_u64);
    o->rank = malloc(sizeof(uint32_t) * n);
    if (!o->rank)
      st = nala_fail(err, NALA_E_NOMEM, "out of memory ordering annotations");
    else
      for (size_t r = 0; r < n; r++)
        o->rank[(uint32_t)occ[r]] = (uint32_t)r;
  }
  free(ids);
  free(occ);
  free(occ_img);
  return st;
}
