/* Drawing detections on a BGR / RGB image for `nala det`: class colours, box outlines, mask overlays
 * and "name 0.87" labels on a filled tag (text masks of nala/image_draw.h rendered at open). Everything
 * clips to the image; nothing but det_labels_init allocates. */
#ifndef NALA_TOOLS_DET_DRAW_H
#define NALA_TOOLS_DET_DRAW_H

#include <stdint.h>

#include "nala/detector.h"
#include "nala/image_draw.h"
#include "nala/image_io.h"
#include "nala/status.h"

/* Colour of a class as {B, G, R} (mmdet's visualiser cycles a fixed palette; so do we, 20 colours). */
void det_class_color(int label, uint8_t bgr[3]);

/* Colour bgr in img's own channel order. */
void det_color_for(const nala_image *img, const uint8_t bgr[3], uint8_t out[3]);

/* Outline of box x1 y1 x2 y2 (pixels; pixel (x, y) covers [x, x+1)), thickness t >= 1 drawn inwards. */
void det_draw_box(nala_image *img, float x1, float y1, float x2, float y2, const uint8_t bgr[3], int t);

/* Blends colour into the pixels where mask (img->h x img->w, row-major, nonzero = inside) is set:
 * out = (1 - alpha) * pixel + alpha * colour, rounded to nearest. */
void det_draw_mask(nala_image *img, const uint8_t *mask, const uint8_t bgr[3], float alpha);

/* The label texts of a model's classes, rendered once (at open) as text masks: "<name> " per class and
 * "0.00" .. "1.00" for the scores, so drawing a frame's labels blends masks and allocates nothing
 * (cv::putText allocated per label). The score mask starts at the name's advance rounded to a whole
 * pixel, where putText of the whole string puts it at a fraction: under half a pixel apart. */
typedef struct det_labels {
  int n_classes;
  nala_text_mask *names;       /* [n_classes] */
  nala_text_mask scores[101];  /* "%.2f" of k / 100 */
  uint8_t *pixels;             /* every mask's alpha, one block */
} det_labels;

/* Renders the labels of classes 0..n_classes-1: names[k] for k < n_names, else "class k" (names may
 * be NULL). On failure nothing is left to free. */
nala_status det_labels_init(det_labels *l, const char *const *names, int n_names, int n_classes, nala_err *err);
void det_labels_free(det_labels *l);

/* "<name> <score>" in white on a filled tag of colour bgr whose bottom-left corner is at (x, y), moved
 * inside the image when it would stick out. Scores print as "%.2f", clamped to 0.00 .. 1.00. */
nala_status det_draw_label(nala_image *img, const det_labels *l, int x, int y, int label, float score,
                           const uint8_t bgr[3], nala_err *err);

/* Boxes and labels of the detections with score >= thr (masks are the caller's: det_draw_mask per
 * detection first, so tags stay on top). Allocates nothing. */
nala_status det_draw_detections(nala_image *img, const det_labels *l, const nala_detection *dets, int n, float thr,
                                nala_err *err);

/* The 80 COCO class names in mmdet's order (CocoDataset.METAINFO['classes']). */
extern const char *const det_coco_classes[80];
/* Their category ids in instances_val2017.json (1..90 with gaps), label order. */
extern const int det_coco_category_ids[80];

#endif
