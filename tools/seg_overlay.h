/* Colour overlay of a label map on its image, as mmseg's SegLocalVisualizer._draw_sem_seg blends them
 * (without the class-name boxes): out = uint8(image * (1 - alpha) + colour * alpha). */
#ifndef NALA_TOOLS_SEG_OVERLAY_H
#define NALA_TOOLS_SEG_OVERLAY_H

#include <stddef.h>
#include <stdint.h>

#include "nala/image_io.h"

/* The blend of one channel for every (image value, colour value) pair at one opacity. */
typedef struct seg_overlay_lut {
  uint8_t v[256][256]; /* [image][colour] */
} seg_overlay_lut;

/* Fills lut for opacity alpha in [0, 1] with numpy's arithmetic: float64 products and sum, then
 * astype(np.uint8), which truncates. */
void seg_overlay_lut_init(seg_overlay_lut *lut, double alpha);

/* Writes the overlay of labels (h x w of img, rows label_stride apart) on img into out (same h, w,
 * 3 channels; may be img itself). palette holds n_colours RGB colours; labels >= n_colours get
 * black, as mmseg leaves them out of the colour mask. out->order is set to img->order. */
void seg_overlay_draw(const nala_image *img, const uint8_t *labels, size_t label_stride, const uint8_t (*palette)[3],
                      int n_colours, const seg_overlay_lut *lut, nala_image *out);

#endif
