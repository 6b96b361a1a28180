/* Text on images through OpenCV (the shim datasets/image_io.cpp), for the annotated outputs of `nala det`
 * and the frame labels of `nala seg --contact-sheet`.
 * Boxes and mask overlays are plain C in the tool; only glyphs need OpenCV's Hershey fonts.
 * cv::putText allocates on every call (its point list, the std::string of the text), so a per-frame
 * path renders its strings once into text masks (nala_text_mask_*) at plan time and blends those per
 * frame in plain C, allocating nothing. */
#ifndef NALA_IMAGE_DRAW_H
#define NALA_IMAGE_DRAW_H

#include <stdint.h>

#include "nala/image_io.h"
#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Size in pixels of text drawn by nala_image_draw_text at this scale: width, height above the
 * baseline, and the part below it (cv::getTextSize, FONT_HERSHEY_SIMPLEX, thickness 1). */
nala_status nala_image_text_size(const char *text, double scale, int *w, int *h, int *baseline, nala_err *err);

/* Draws text (ASCII) with its baseline's left end at (x, y) in colour rgb[3] (in the image's channel
 * order: rgb[0] is the first channel), clipped to the image (cv::putText, FONT_HERSHEY_SIMPLEX,
 * thickness 1, anti-aliased). img must have 3 channels. */
nala_status nala_image_draw_text(nala_image *img, const char *text, int x, int y, double scale, const uint8_t color[3],
                                 nala_err *err);

/* A text rendered once as a coverage mask, to be blended in any colour many times. */
typedef struct nala_text_mask {
  int w, h;                      /* alpha holds h rows of w bytes */
  int org_x, org_y;              /* the text's origin (its baseline's left end) inside the mask */
  int text_w, text_h, baseline;  /* nala_image_text_size of the text */
  uint8_t *alpha;                /* caller memory, w * h bytes: coverage 0..255 */
} nala_text_mask;

/* Fills every field but alpha for text at this scale: the text box plus a margin that holds the
 * anti-aliased ink Hershey glyphs put outside it (brackets rise above the cap line). */
nala_status nala_text_mask_measure(const char *text, double scale, nala_text_mask *m, nala_err *err);

/* Renders text as nala_image_draw_text would draw it in white on black into m->alpha (m from
 * nala_text_mask_measure with the same text and scale, alpha set by the caller). Allocates inside
 * OpenCV: plan time only. */
nala_status nala_text_mask_render(const char *text, double scale, nala_text_mask *m, nala_err *err);

/* Blends color (in the image's channel order) through m with the text's origin at (x, y), clipped to
 * the image: pixel + (color - pixel) * alpha / 255, rounded, which is what putText's anti-aliased
 * strokes compose to over any background. Plain C; allocates nothing. img must have 3 channels
 * (others are left as they are). */
void nala_text_mask_blend(nala_image *img, const nala_text_mask *m, int x, int y, const uint8_t color[3]);

#ifdef __cplusplus
}
#endif

#endif
