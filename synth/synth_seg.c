/* `nala synth seg`: street scenes as an mmseg dataset in ADE20K's layout (images/<split>/NNNNNN.jpg +
 * annotations/<split>/NNNNNN.png, reduce_zero_label: PNG 0 is never written, class i is i + 1) and a
 * classes.json beside them with the names and palette. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/atomic_write.h"
#include "nala/synth.h"
#include "synth/synth_internal.h"

int nala_synth_seg_num_classes(void) { return SY_NUM_CLASSES; }

const char *nala_synth_seg_class_name(int i) { return i >= 0 && i < SY_NUM_CLASSES ? sy_street_classes[i] : NULL; }

int nala_synth_seg_class_color(int i, uint8_t rgb[3]) {
  if (i < 0 || i >= SY_NUM_CLASSES)
    return 0;
  memcpy(rgb, sy_street_palette[i], 3);
  return 1;
}

enum { SEED_STREAM_SEG = 1 };

nala_status nala_synth_seg_render(int h, int w, uint64_t seed, int index, uint8_t *rgb, uint8_t *label,
                                  nala_err *err) {
  if (h < 8 || w < 8)
    return nala_fail(err, NALA_E_ARG, "synth seg: size %dx%d too small (at least 8x8)", h, w);
  sy_street *s = malloc(sizeof *s);
  if (!s)
    return nala_fail(err, NALA_E_NOMEM, "synth seg: out of memory");
  sy_canvas c;
  nala_status st = sy_canvas_alloc(&c, h, w, 1, 0, err);
  if (st == NALA_OK) {
    sy_rng r = sy_rng_make(seed, SEED_STREAM_SEG, (uint64_t)index);
    sy_street_build(s, h, (float)w, &r);
    sy_street_draw(s, 0, 0, &c);
    sy_develop(&c, &s->light, &r, rgb);
    memcpy(label, c.label, (size_t)h * (size_t)w);
  }
  sy_canvas_free(&c);
  free(s);
  return st;
}

static nala_status write_classes(const char *out_dir, nala_err *err) {
  char path[4200], text[4096];
  size_t n = 0;
  n += (size_t)snprintf(text + n, sizeof text - n,
                        "{\n  \"dataset\": \"nala synth seg (street scenes)\",\n  \"reduce_zero_label\": true,\n"
                        "  \"note\": \"label PNG value v is class v-1; 0 is never written\",\n  \"classes\": [");
  for (int i = 0; i < SY_NUM_CLASSES; i++)
    n += (size_t)snprintf(text + n, sizeof text - n, "%s\"%s\"", i ? ", " : "", sy_street_classes[i]);
  n += (size_t)snprintf(text + n, sizeof text - n, "],\n  \"palette\": [");
  for (int i = 0; i < SY_NUM_CLASSES; i++)
    n += (size_t)snprintf(text + n, sizeof text - n, "%s[%d, %d, %d]", i ? ", " : "", sy_street_palette[i][0],
                          sy_street_palette[i][1], sy_street_palette[i][2]);
  n += (size_t)snprintf(text + n, sizeof text - n, "]\n}\n");
  snprintf(path, sizeof path, "%s/classes.json", out_dir);
  return nala_write_atomic(path, text, n, err);
}

nala_status nala_synth_seg_write(const char *out_dir, const char *split, int count, int h, int w, uint64_t seed,
                                 nala_err *err) {
  if (count < 1 || h < 8 || w < 8 || !split || !*split || strchr(split, '/'))
    return nala_fail(err, NALA_E_ARG, "synth seg: need count >= 1, size >= 8x8 and a plain split name (got %d, %dx%d, '%s')",
                     count, h, w, split ? split : "(null)");
  char img_dir[4200], ann_dir[4200];
  snprintf(img_dir, sizeof img_dir, "%s/images/%s", out_dir, split);
  snprintf(ann_dir, sizeof ann_dir, "%s/annotations/%s", out_dir, split);
  nala_status st = sy_mkdirs(img_dir, err);
  if (st == NALA_OK)
    st = sy_mkdirs(ann_dir, err);
  if (st == NALA_OK)
    st = write_classes(out_dir, err);
  if (st != NALA_OK)
    return st;
  int failed_at = -1;
  nala_err first = {0};
#pragma omp parallel for schedule(dynamic)
  for (int i = 0; i < count; i++) {
    int stop;
#pragma omp atomic read
    stop = failed_at;
    if (stop >= 0)
      continue;
    nala_err e = {0};
    size_t n = (size_t)h * (size_t)w;
    uint8_t *rgb = malloc(n * 3), *label = malloc(n);
    nala_status s = rgb && label ? nala_synth_seg_render(h, w, seed, i, rgb, label, &e)
                                 : nala_fail(&e, NALA_E_NOMEM, "synth seg: out of memory");
    char path[4300];
    if (s == NALA_OK) {
      snprintf(path, sizeof path, "%s/%06d.jpg", img_dir, i);
      s = sy_write_rgb(path, rgb, h, w, &e);
    }
    if (s == NALA_OK) {
      snprintf(path, sizeof path, "%s/%06d.png", ann_dir, i);
      s = sy_write_gray(path, label, h, w, &e);
    }
    free(rgb);
    free(label);
    if (s != NALA_OK) {
#pragma omp critical(synth_seg_fail)
      {
        int cur;
#pragma omp atomic read
        cur = failed_at;
        if (cur < 0 || i < cur) {
#pragma omp atomic write
          failed_at = i;
          first = e; /* report the lowest failing index seen */
        }
      }
    }
  }
  if (failed_at >= 0) {
    if (err)
      *err = first;
    return first.status ? first.status : NALA_E_IO;
  }
  return NALA_OK;
}
