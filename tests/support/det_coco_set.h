/* A generated COCO-format set for the det command tests: small PNG images with flat colour
 * rectangles, an instances JSON with their boxes and polygons, and one unreadable image file. */
#ifndef NALA_TEST_DET_COCO_SET_H
#define NALA_TEST_DET_COCO_SET_H

typedef struct det_test_rect {
  int label, x, y, w, h; /* label 0..2: drawn in channel label of a BGR image, value 200 */
} det_test_rect;

typedef struct det_test_image {
  int id, h, w, n;
  det_test_rect r[2];
  int bad; /* written as a PNG signature plus garbage, named bad<id>.png (others img<id>.png) */
} det_test_image;

/* Category ids of labels 0, 1, 2 (listed unsorted in the file: 11 "c", 3 "a", 7 "b"). */
extern const int det_test_cat_ids[3];

/* Writes the images under <root>/val2017/ and <root>/annotations/instances_val2017.json. */
void det_test_write_coco(const char *root, const det_test_image *imgs, int n);

#endif
