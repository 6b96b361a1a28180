/* Text on images through OpenCV (the shim datasets/image_io.cpp), for the annotated outputs of `nala det`
 * and the frame labels of `nala seg --contact-sheet`.
 * Boxes and mask overlays are plain C in the tool; only glyphs need OpenCV's Hershey fonts. */
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

#ifdef __cplusplus
}
#endif

#endif
