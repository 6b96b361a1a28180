/* `nala synth coco`: scenes of countable shapes (circle, triangle, rectangle, star, cross) on
 * textured backgrounds, as a COCO instances dataset. Objects overlap; each annotation is the
 * object's VISIBLE mask (compressed RLE), with bbox and area computed from it by maskApi's rules
 * (nala/rle.h), so the ground truth is exactly what the image shows. A placement that would hide
 * more than half of an earlier object (or leave it under 24 pixels) is retried elsewhere. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "nala/atomic_write.h"
#include "nala/rle.h"
#include "nala/synth.h"
#include "synth/synth_internal.h"

enum { N_SHAPES = 5, MAX_OBJECTS = 12, MIN_VISIBLE = 24, SEED_STREAM_COCO = 2 };
static const char *const shape_names[N_SHAPES] = {"circle", "triangle", "rectangle", "star", "cross"};

int nala_synth_coco_num_classes(void) { return N_SHAPES; }
const char *nala_synth_coco_class_name(int i) { return i >= 0 && i < N_SHAPES ? shape_names[i] : NULL; }

/* Outline of shape cls centred at (cx, cy), radius r, rotation a, aspect q, into xy; returns points. */
static int shape_poly(int cls, float cx, float cy, float r, float a, float q, float *xy) {
  float px[SY_MAX_POLY], py[SY_MAX_POLY];
  int n = 0;
  switch (cls) {
  case 0: /* circle (slightly elliptic) */
    for (n = 0; n < 40; n++)
      px[n] = r * cosf(6.2831853f * n / 40), py[n] = q * r * sinf(6.2831853f * n / 40);
    break;
  case 1: /* triangle */
    for (n = 0; n < 3; n++)
      px[n] = r * cosf(6.2831853f * n / 3 - 1.5707963f), py[n] = (n ? q : 1.0f) * r * sinf(6.2831853f * n / 3 - 1.5707963f);
    break;
  case 2: /* rectangle */
    px[0] = -r, py[0] = -q * r, px[1] = r, py[1] = -q * r, px[2] = r, py[2] = q * r, px[3] = -r, py[3] = q * r;
    n = 4;
    break;
  case 3: /* five-pointed star */
    for (n = 0; n < 10; n++) {
      float rr = (n & 1) ? 0.45f * r : r, t = 6.2831853f * n / 10 - 1.5707963f;
      px[n] = rr * cosf(t), py[n] = rr * sinf(t);
    }
    break;
  default: { /* cross: a plus of arm half-width 0.32 r */
    float b = 0.32f * r;
    const float ux[12] = {-b, b, b, r, r, b, b, -b, -b, -r, -r, -b}, uy[12] = {-r, -r, -b, -b, b, b, r, r, b, b, -b, -b};
    for (n = 0; n < 12; n++)
      px[n] = ux[n], py[n] = q * uy[n];
    break;
  }
  }
  float ca = cosf(a), sa = sinf(a);
  for (int i = 0; i < n; i++) {
    xy[2 * i] = cx + ca * px[i] - sa * py[i];
    xy[2 * i + 1] = cy + sa * px[i] + ca * py[i];
  }
  return n;
}

static void random_color(sy_rng *r, float c[3]) {
  /* any hue, mid to high saturation: colour says nothing about the class */
  float h6 = (float)sy_uniform(r, 0, 6), s = (float)sy_uniform(r, 0.35, 0.95), v = (float)sy_uniform(r, 90, 245);
  int i = (int)h6;
  float f = h6 - (float)i, p = v * (1 - s), qv = v * (1 - s * f), t = v * (1 - s * (1 - f));
  float rgb[6][3] = {{v, t, p}, {qv, v, p}, {p, v, t}, {p, qv, v}, {t, p, v}, {v, p, qv}};
  memcpy(c, rgb[i % 6], sizeof rgb[0]);
}

static sy_tex random_tex(sy_rng *r, float min_side, int background) {
  sy_tex t;
  memset(&t, 0, sizeof t);
  static const sy_tex_kind kinds[4] = {SY_TEX_FLAT, SY_TEX_FOLIAGE, SY_TEX_TILES, SY_TEX_STRIPES};
  t.kind = kinds[sy_int(r, 0, background ? 3 : 1)];
  if (!background && sy_chance(r, 0.2))
    t.kind = SY_TEX_STRIPES;
  random_color(r, t.base);
  random_color(r, t.base2);
  if (background) { /* duller and darker than the objects on average, but not always */
    float grey = (t.base[0] + t.base[1] + t.base[2]) / 3;
    float dull = (float)sy_uniform(r, 0.4, 0.8);
    for (int k = 0; k < 3; k++) {
      t.base[k] = dull * (0.5f * t.base[k] + 0.5f * grey);
      t.base2[k] = 0.5f * t.base2[k] * dull + 0.5f * t.base[k];
    }
  }
  t.amp = (float)sy_uniform(r, 0.03, 0.2);
  t.scale = min_side * (float)sy_uniform(r, 0.01, 0.05);
  t.p1 = min_side * (float)sy_uniform(r, 0.03, 0.1);
  t.seed = (uint32_t)sy_next(r);
  return t;
}

typedef struct coco_scene {
  int n;
  int cls[MAX_OBJECTS];
  long full[MAX_OBJECTS], visible[MAX_OBJECTS];
} coco_scene;

/* Draws scene `index`: rgb (h*w*3) and c->inst (object k has id k + 1). */
static nala_status render_scene(int h, int w, uint64_t seed, int index, sy_canvas *c, sy_canvas *scratch,
                                coco_scene *sc, uint8_t *rgb) {
  sy_rng r = sy_rng_make(seed, SEED_STREAM_COCO, (uint64_t)index);
  float side = (float)(h < w ? h : w);
  sy_tex bg = random_tex(&r, side, 1);
  sy_paint pb = {&bg, 1, 0, 0, 0};
  sy_fill_rect(c, -1, -1, (float)w + 1, (float)h + 1, &pb);
  memset(c->inst, 0, (size_t)h * (size_t)w * sizeof *c->inst);
  memset(sc, 0, sizeof *sc);
  int want = sy_int(&r, 2, 9);
  long covered[MAX_OBJECTS + 1];
  size_t npx = (size_t)h * (size_t)w;
  for (int tries = 0; sc->n < want && tries < 60; tries++) {
    int cls = sy_int(&r, 0, N_SHAPES - 1);
    float rad = side * (float)sy_uniform(&r, 0.06, 0.24);
    float cx = (float)sy_uniform(&r, 0.05, 0.95) * (float)w, cy = (float)sy_uniform(&r, 0.05, 0.95) * (float)h;
    float ang = (float)sy_uniform(&r, 0, 6.2831853), q = (float)sy_uniform(&r, 0.65, 1.0);
    float xy[2 * SY_MAX_POLY];
    int n = shape_poly(cls, cx, cy, rad, ang, q, xy);
    memset(scratch->label, 0, npx);
    sy_paint pm = {NULL, 1, 1, 1, 0};
    long full = sy_fill_poly(scratch, xy, n, &pm);
    if (full < 2 * MIN_VISIBLE)
      continue;
    memset(covered, 0, sizeof covered);
    for (size_t i = 0; i < npx; i++)
      if (scratch->label[i])
        covered[c->inst[i]]++;
    int ok = 1;
    for (int k = 0; k < sc->n && ok; k++) {
      long left = sc->visible[k] - covered[k + 1];
      ok = left >= MIN_VISIBLE && 2 * left >= sc->full[k];
    }
    if (!ok)
      continue;
    sy_tex tx = random_tex(&r, side, 0);
    tx.ox = cx, tx.oy = cy;
    sy_paint po = {&tx, 1, 0, 0, (uint16_t)(sc->n + 1)};
    sy_fill_poly(c, xy, n, &po);
    if (sy_chance(&r, 0.3)) { /* an inner detail in another colour, same object */
      float xy2[2 * SY_MAX_POLY];
      int n2 = shape_poly(cls, cx, cy, rad * 0.5f, ang, q, xy2);
      sy_tex t2 = random_tex(&r, side, 0);
      sy_paint p2 = {&t2, 1, 0, 0, (uint16_t)(sc->n + 1)};
      sy_fill_poly(c, xy2, n2, &p2);
    }
    for (int k = 0; k < sc->n; k++)
      sc->visible[k] -= covered[k + 1];
    sc->cls[sc->n] = cls, sc->full[sc->n] = full, sc->visible[sc->n] = full;
    sc->n++;
  }
  sy_light light;
  float g = (float)sy_uniform(&r, 0.75, 1.2);
  for (int k = 0; k < 3; k++)
    light.gain[k] = g * (float)sy_uniform(&r, 0.93, 1.07);
  light.grad = (float)sy_uniform(&r, -0.2, 0.2);
  light.vignette = (float)sy_uniform(&r, 0, 0.3);
  light.noise = (float)sy_uniform(&r, 1, 8);
  sy_develop(c, &light, &r, rgb);
  return NALA_OK;
}

/* Adds the annotations of one scene (visible masks from c->inst) to anns. */
static nala_status add_annotations(const sy_canvas *c, const coco_scene *sc, int64_t image_id, int64_t *next_id,
                                   uint8_t *mask, cJSON *anns, nala_err *err) {
  int h = c->h, w = c->w;
  for (int k = 0; k < sc->n; k++) {
    for (int x = 0; x < w; x++) /* column-major, as COCO RLE */
      for (int y = 0; y < h; y++)
        mask[(size_t)x * h + y] = c->inst[(size_t)y * w + x] == k + 1;
    nala_rle rle = {0};
    char *counts = NULL;
    nala_status st = nala_rle_encode(mask, (uint32_t)h, (uint32_t)w, &rle, err);
    if (st == NALA_OK)
      st = nala_rle_to_string(&rle, &counts, err);
    if (st != NALA_OK) {
      nala_rle_free(&rle);
      return st;
    }
    double box[4];
    nala_rle_to_bbox(&rle, box);
    cJSON *a = cJSON_CreateObject(), *seg = cJSON_CreateObject();
    const double size[2] = {h, w};
    cJSON_AddNumberToObject(a, "id", (double)(*next_id)++);
    cJSON_AddNumberToObject(a, "image_id", (double)image_id);
    cJSON_AddNumberToObject(a, "category_id", sc->cls[k] + 1);
    cJSON_AddItemToObject(seg, "size", cJSON_CreateDoubleArray(size, 2));
    cJSON_AddStringToObject(seg, "counts", counts);
    cJSON_AddItemToObject(a, "segmentation", seg);
    cJSON_AddNumberToObject(a, "area", (double)nala_rle_area(&rle));
    cJSON_AddItemToObject(a, "bbox", cJSON_CreateDoubleArray(box, 4));
    cJSON_AddNumberToObject(a, "iscrowd", 0);
    cJSON_AddItemToArray(anns, a);
    free(counts);
    nala_rle_free(&rle);
  }
  return NALA_OK;
}

nala_status nala_synth_coco_write(const char *out_dir, const char *split, int count, int h, int w, uint64_t seed,
                                  nala_err *err) {
  if (count < 1 || h < 16 || w < 16 || !split || !*split || strchr(split, '/'))
    return nala_fail(err, NALA_E_ARG,
                     "synth coco: need count >= 1, size >= 16x16 and a plain split name (got %d, %dx%d, '%s')", count, h,
                     w, split ? split : "(null)");
  char img_dir[4200], ann_dir[4200], path[4400];
  snprintf(img_dir, sizeof img_dir, "%s/images/%s", out_dir, split);
  snprintf(ann_dir, sizeof ann_dir, "%s/annotations", out_dir);
  nala_status st = sy_mkdirs(img_dir, err);
  if (st == NALA_OK)
    st = sy_mkdirs(ann_dir, err);
  if (st != NALA_OK)
    return st;
  cJSON *root = cJSON_CreateObject(), *images = cJSON_CreateArray(), *anns = cJSON_CreateArray(),
        *cats = cJSON_CreateArray();
  sy_canvas c = {0}, scratch = {0};
  uint8_t *rgb = malloc((size_t)h * (size_t)w * 3), *mask = malloc((size_t)h * (size_t)w);
  if (!root || !images || !anns || !cats || !rgb || !mask)
    st = nala_fail(err, NALA_E_NOMEM, "synth coco: out of memory");
  if (st == NALA_OK)
    st = sy_canvas_alloc(&c, h, w, 0, 1, err);
  if (st == NALA_OK)
    st = sy_canvas_alloc(&scratch, h, w, 1, 0, err);
  int64_t next_id = 1;
  /* One thread: annotation ids run in image order; the images are small and quick to draw. */
  for (int i = 0; st == NALA_OK && i < count; i++) {
    coco_scene sc;
    st = render_scene(h, w, seed, i, &c, &scratch, &sc, rgb);
    char name[32];
    snprintf(name, sizeof name, "%06d.jpg", i);
    snprintf(path, sizeof path, "%s/%s", img_dir, name);
    if (st == NALA_OK)
      st = sy_write_rgb(path, rgb, h, w, err);
    if (st == NALA_OK) {
      cJSON *im = cJSON_CreateObject();
      cJSON_AddNumberToObject(im, "id", i + 1);
      cJSON_AddStringToObject(im, "file_name", name);
      cJSON_AddNumberToObject(im, "width", w);
      cJSON_AddNumberToObject(im, "height", h);
      cJSON_AddItemToArray(images, im);
      st = add_annotations(&c, &sc, i + 1, &next_id, mask, anns, err);
    }
  }
  if (st == NALA_OK) {
    for (int k = 0; k < N_SHAPES; k++) {
      cJSON *cat = cJSON_CreateObject();
      cJSON_AddNumberToObject(cat, "id", k + 1);
      cJSON_AddStringToObject(cat, "name", shape_names[k]);
      cJSON_AddStringToObject(cat, "supercategory", "shape");
      cJSON_AddItemToArray(cats, cat);
    }
    cJSON *info = cJSON_CreateObject();
    cJSON_AddStringToObject(info, "description", "nala synth coco: procedural shape scenes");
    cJSON_AddNumberToObject(info, "seed", (double)seed);
    cJSON_AddItemToObject(root, "info", info);
    cJSON_AddItemToObject(root, "images", images);
    cJSON_AddItemToObject(root, "annotations", anns);
    cJSON_AddItemToObject(root, "categories", cats);
    images = anns = cats = NULL;
    char *text = cJSON_PrintUnformatted(root);
    snprintf(path, sizeof path, "%s/instances_%s.json", ann_dir, split);
    st = text ? nala_write_atomic(path, text, strlen(text), err) : nala_fail(err, NALA_E_NOMEM, "synth coco: out of memory");
    free(text);
  }
  cJSON_Delete(images);
  cJSON_Delete(anns);
  cJSON_Delete(cats);
  cJSON_Delete(root);
  sy_canvas_free(&c);
  sy_canvas_free(&scratch);
  free(rgb);
  free(mask);
  return st;
}
