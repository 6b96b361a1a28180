/* Writes a val2017-sized synthetic COCO set for the evaluation benchmark: gt.json (5,000 images,
 * 80 categories with COCO's non-contiguous ids, ~36,000 polygon objects with COCO's small /
 * medium / large mix, ~1% crowd regions as uncompressed RLE) and dets.json (100 detections per
 * image: jittered copies of the GT plus false positives, each with a box, a score and a compressed
 * RLE mask), like mmdet's results2json output. Seeded; built and run by bench/coco_eval/run.sh.
 *   make_set OUT_DIR [SEED] [N_IMAGES] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/rle.h"

enum { MAX_VERTS = 16, DETS_PER_IMAGE = 100 };

static uint64_t rng_state;
static uint64_t next_u64(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static double uniform(double lo, double hi) { return lo + (hi - lo) * (double)(next_u64() >> 11) / 9007199254740992.0; }
static int randint(int lo, int hi) { return lo + (int)(next_u64() % (uint64_t)(hi - lo + 1)); }

static const int coco_ids[80] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                 22, 23, 24, 25, 27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44,
                                 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65,
                                 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90};

typedef struct poly {
  int n;
  double xy[2 * MAX_VERTS];
} poly;

static void star(poly *p, double cx, double cy, double r) {
  p->n = randint(8, MAX_VERTS);
  double step = 2 * M_PI / p->n, a0 = uniform(0, step);
  for (int i = 0; i < p->n; i++) {
    double a = a0 + i * step + uniform(-0.3, 0.3) * step, q = r * uniform(0.7, 1.0);
    p->xy[2 * i] = round((cx + q * cos(a)) * 100) / 100;
    p->xy[2 * i + 1] = round((cy + q * sin(a)) * 100) / 100;
  }
}

static double shoelace(const poly *p) {
  double s = 0;
  for (int i = 0; i < p->n; i++) {
    int j = (i + 1) % p->n;
    s += p->xy[2 * i] * p->xy[2 * j + 1] - p->xy[2 * j] * p->xy[2 * i + 1];
  }
  return fabs(s) / 2;
}

static void poly_box(const poly *p, double box[4]) {
  double x0 = 1e9, y0 = 1e9, x1 = -1e9, y1 = -1e9;
  for (int i = 0; i < p->n; i++) {
    x0 = fmin(x0, p->xy[2 * i]);
    x1 = fmax(x1, p->xy[2 * i]);
    y0 = fmin(y0, p->xy[2 * i + 1]);
    y1 = fmax(y1, p->xy[2 * i + 1]);
  }
  box[0] = x0;
  box[1] = y0;
  box[2] = x1 - x0;
  box[3] = y1 - y0;
}

static void write_poly(FILE *f, const poly *p) {
  fputc('[', f);
  for (int i = 0; i < 2 * p->n; i++)
    fprintf(f, "%s%.2f", i ? ", " : "", p->xy[i]);
  fputc(']', f);
}

static void write_rle_mask(FILE *f, const poly *p, int h, int w) {
  nala_rle r;
  nala_err err;
  char *s;
  if (nala_rle_from_poly(p->xy, (size_t)p->n, (uint32_t)h, (uint32_t)w, &r, &err) != NALA_OK ||
      nala_rle_to_string(&r, &s, &err) != NALA_OK) {
    fprintf(stderr, "make_set: %s\n", err.msg);
    exit(1);
  }
  fprintf(f, "{\"size\": [%d, %d], \"counts\": \"", h, w);
  for (const char *c = s; *c; c++) { /* '\\' is one of the 64 RLE characters and needs escaping */
    if (*c == '\\')
      fputc('\\', f);
    fputc(*c, f);
  }
  fputs("\"}", f);
  free(s);
  nala_rle_free(&r);
}

typedef struct object {
  int cat;
  poly p;
  double box[4];
} object;

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: make_set OUT_DIR [SEED] [N_IMAGES]\n");
    return 2;
  }
  rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 2017;
  int n_images = argc > 3 ? atoi(argv[3]) : 5000;
  char path[4096];
  snprintf(path, sizeof path, "%s/gt.json", argv[1]);
  FILE *gt = fopen(path, "w");
  snprintf(path, sizeof path, "%s/dets.json", argv[1]);
  FILE *dt = fopen(path, "w");
  if (!gt || !dt) {
    fprintf(stderr, "make_set: cannot write into %s\n", argv[1]);
    return 1;
  }
  fprintf(gt, "{\"info\": {\"description\": \"nala synthetic val2017-sized set\"}, \"images\": [");
  int *img_h = malloc(sizeof(int) * n_images), *img_w = malloc(sizeof(int) * n_images);
  for (int i = 0; i < n_images; i++) {
    img_h[i] = randint(360, 640);
    img_w[i] = randint(400, 640);
    fprintf(gt, "%s{\"id\": %d, \"height\": %d, \"width\": %d, \"file_name\": \"%012d.jpg\"}", i ? ", " : "",
            139 + 7 * i, img_h[i], img_w[i], 139 + 7 * i);
  }
  fprintf(gt, "], \"categories\": [");
  for (int k = 0; k < 80; k++)
    fprintf(gt, "%s{\"id\": %d, \"name\": \"class%d\", \"supercategory\": \"thing\"}", k ? ", " : "", coco_ids[k],
            coco_ids[k]);
  fprintf(gt, "], \"annotations\": [");
  fputc('[', dt);
  long ann_id = 1, n_gt = 0, n_det = 0;
  object objs[32];
  for (int i = 0; i < n_images; i++) {
    int h = img_h[i], w = img_w[i], image_id = 139 + 7 * i, n_obj = randint(0, 14);
    for (int o = 0; o < n_obj; o++) {
      object *ob = &objs[o];
      ob->cat = coco_ids[(int)(80 * pow(uniform(0, 1), 1.6)) % 80]; /* skewed like COCO's class mix */
      double u = uniform(0, 1), r = u < 0.41 ? uniform(3, 17) : u < 0.75 ? uniform(18, 52) : uniform(55, 0.45 * fmin(h, w));
      star(&ob->p, uniform(r * 0.5, w - r * 0.5), uniform(r * 0.5, h - r * 0.5), r);
      poly_box(&ob->p, ob->box);
      fprintf(gt, "%s{\"id\": %ld, \"image_id\": %d, \"category_id\": %d, \"iscrowd\": 0, \"area\": %.4f, "
              "\"bbox\": [%.2f, %.2f, %.2f, %.2f], \"segmentation\": [", n_gt ? ", " : "", ann_id++, image_id,
              ob->cat, shoelace(&ob->p), ob->box[0], ob->box[1], ob->box[2], ob->box[3]);
      write_poly(gt, &ob->p);
      fprintf(gt, "]}");
      n_gt++;
    }
    if (uniform(0, 1) < 0.05) { /* crowd region, uncompressed RLE like COCO's */
      int y0 = randint(0, h / 2), x0 = randint(0, w / 2), ch = randint(20, h / 2), cw = randint(20, w / 2);
      int cat = coco_ids[randint(0, 10)];
      fprintf(gt, "%s{\"id\": %ld, \"image_id\": %d, \"category_id\": %d, \"iscrowd\": 1, \"area\": %d, "
              "\"bbox\": [%d, %d, %d, %d], \"segmentation\": {\"size\": [%d, %d], \"counts\": [%d",
              n_gt ? ", " : "", ann_id++, image_id, cat, ch * cw, x0, y0, cw, ch, h, w, x0 * h + y0);
      for (int x = 0; x < cw; x++)
        fprintf(gt, ", %d, %d", ch, x + 1 < cw ? h - ch : h * w - (x0 + cw - 1) * h - y0 - ch);
      fprintf(gt, "]}}");
      n_gt++;
    }
    for (int d = 0; d < DETS_PER_IMAGE; d++) {
      poly p;
      double box[4];
      int cat;
      if (n_obj && d < 3 * n_obj) { /* up to three jittered copies of each object */
        const object *ob = &objs[d % n_obj];
        double s = uniform(0.02, 0.25), dx = uniform(-s, s) * ob->box[2], dy = uniform(-s, s) * ob->box[3];
        cat = uniform(0, 1) < 0.9 ? ob->cat : coco_ids[randint(0, 79)];
        p = ob->p;
        for (int v = 0; v < p.n; v++) {
          p.xy[2 * v] = round((p.xy[2 * v] + dx + uniform(-s, s) * ob->box[2] * 0.3) * 100) / 100;
          p.xy[2 * v + 1] = round((p.xy[2 * v + 1] + dy + uniform(-s, s) * ob->box[3] * 0.3) * 100) / 100;
        }
      } else {
        double r = uniform(3, 0.3 * fmin(h, w));
        cat = coco_ids[randint(0, 79)];
        star(&p, uniform(-10, w + 10), uniform(-10, h + 10), r);
      }
      poly_box(&p, box);
      fprintf(dt, "%s{\"image_id\": %d, \"category_id\": %d, \"bbox\": [%.2f, %.2f, %.2f, %.2f], \"score\": %.3f, "
              "\"segmentation\": ", n_det ? ", " : "", image_id, cat, box[0], box[1], box[2], box[3], uniform(0, 1));
      write_rle_mask(dt, &p, h, w);
      fputc('}', dt);
      n_det++;
    }
  }
  fprintf(gt, "]}\n");
  fprintf(dt, "]\n");
  fclose(gt);
  fclose(dt);
  free(img_h);
  free(img_w);
  printf("make_set: %d images, %ld GT objects, %ld detections in %s\n", n_images, n_gt, n_det, argv[1]);
  return 0;
}
