/* Drawing detections on a BGR / RGB image for `nala det`: class colours, box outlines, mask overlays
 * and "name 0.87" labels on a filled tag (text through nala/image_draw.h). Everything clips to the
 * image; nothing allocates. */
#ifndef NALA_TOOLS_DET_DRAW_H
#define NALA_TOOLS_DET_DRAW_H

#include <stdint.h>

#include "nala/detector.h"
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

/* "text" in white on a filled tag of colour bgr whose bottom-left corner is at (x, y), moved inside
 * the image when it would stick out. */
nala_status det_draw_label(nala_image *img, int x, int y, const char *text, const uint8_t bgr[3], nala_err *err);

/* Boxes and labels ("<name> <score>") of the detections with score >= thr (masks are the caller's:
 * det_draw_mask per detection first, so tags stay on top). names may be NULL (labels as numbers). */
nala_status det_draw_detections(nala_image *img, const nala_detection *dets, int n, float thr,
                                const char *const *names, int n_names, nala_err *err);

/* The 80 COCO class names in mmdet's order (CocoDataset.METAINFO['classes']). */
extern const char *const det_coco_classes[80];
/* Their category ids in instances_val2017.json (1..90 with gaps), label order. */
extern const int det_coco_category_ids[80];

#endif
