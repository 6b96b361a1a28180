/* The generated COCO-format set of the det command tests (tests/support/det_coco_set.h). */
#include "tests/support/det_coco_set.h"

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "nala/image_io.h"

const int det_test_cat_ids[3] = {3, 7, 11};

static void file_name(const det_test_image *im, char *out, size_t cap) {
  snprintf(out, cap, "%s%d.png", im->bad ? "bad" : "img", im->id);
}

void det_test_write_coco(const char *root, const det_test_image *imgs, int n) {
  char path[1024];
  mkdir(root, 0777);
  snprintf(path, sizeof path, "%s/val2017", root);
  mkdir(path, 0777);
  snprintf(path, sizeof path, "%s/annotations", root);
  mkdir(path, 0777);
  snprintf(path, sizeof path, "%s/annotations/instances_val2017.json", root);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  fprintf(f, "{\"images\": [");
  for (int i = 0; i < n; i++) {
    char name[64];
    file_name(&imgs[i], name, sizeof name);
    fprintf(f, "%s{\"id\": %d, \"file_name\": \"%s\", \"height\": %d, \"width\": %d}", i ? ", " : "", imgs[i].id, name,
            imgs[i].h, imgs[i].w);
  }
  fprintf(f, "], \"categories\": [{\"id\": 11, \"name\": \"c\"}, {\"id\": 3, \"name\": \"a\"}, {\"id\": 7, \"name\": \"b\"}],"
             " \"annotations\": [");
  int ann = 1;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < imgs[i].n; k++) {
      const det_test_rect *r = &imgs[i].r[k];
      fprintf(f,
              "%s{\"id\": %d, \"image_id\": %d, \"category_id\": %d, \"bbox\": [%d, %d, %d, %d], \"area\": %d, "
              "\"iscrowd\": 0, \"segmentation\": [[%d, %d, %d, %d, %d, %d, %d, %d]]}",
              ann > 1 ? ", " : "", ann, imgs[i].id, det_test_cat_ids[r->label], r->x, r->y, r->w, r->h, r->w * r->h,
              r->x, r->y, r->x + r->w, r->y, r->x + r->w, r->y + r->h, r->x, r->y + r->h);
      ann++;
    }
  fprintf(f, "]}");
  fclose(f);
  for (int i = 0; i < n; i++) {
    char name[64];
    file_name(&imgs[i], name, sizeof name);
    snprintf(path, sizeof path, "%s/val2017/%s", root, name);
    if (imgs[i].bad) {
      FILE *b = fopen(path, "wb");
      ck_assert_ptr_nonnull(b);
      fputs("\x89PNG\r\n\x1a\n garbage, not an image", b);
      fclose(b);
      continue;
    }
    nala_image img;
    nala_err err;
    ck_assert_int_eq(nala_image_alloc(imgs[i].h, imgs[i].w, 3, NALA_BGR, &img, &err), NALA_OK);
    memset(img.data, 0, img.stride * (size_t)img.h);
    for (int k = 0; k < imgs[i].n; k++) {
      const det_test_rect *r = &imgs[i].r[k];
      for (int y = r->y; y < r->y + r->h; y++)
        for (int x = r->x; x < r->x + r->w; x++)
          img.data[(size_t)y * img.stride + 3 * (size_t)x + r->label] = 200;
    }
    ck_assert_int_eq(nala_image_write(path, &img, &err), NALA_OK);
    nala_image_free(&img);
  }
}
