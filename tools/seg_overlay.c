/* Overlay blending for `nala seg --overlay`; semantics in tools/seg_overlay.h. One table lookup per
 * channel, so a 640x480 frame costs about a millisecond and the result is numpy's to the bit. */
#include "tools/seg_overlay.h"

void seg_overlay_lut_init(seg_overlay_lut *lut, double alpha) {
  /* mmseg: (image * (1 - self.alpha) + mask * self.alpha).astype(np.uint8), image and mask uint8. */
  for (int i = 0; i < 256; i++)
    for (int c = 0; c < 256; c++) {
      double v = (double)i * (1.0 - alpha) + (double)c * alpha;
      lut->v[i][c] = (uint8_t)(v <= 0.0 ? 0.0 : v >= 255.0 ? 255.0 : v);
    }
}

void seg_overlay_draw(const nala_image *img, const uint8_t *labels, size_t label_stride, const uint8_t (*palette)[3],
                      int n_colours, const seg_overlay_lut *lut, nala_image *out) {
  /* The palette is RGB; a BGR image takes its colours swapped. */
  uint8_t colours[256][3] = {{0}};
  int bgr = img->order != NALA_RGB;
  for (int k = 0; k < n_colours && k < 256; k++)
    for (int ch = 0; ch < 3; ch++)
      colours[k][ch] = palette[k][bgr ? 2 - ch : ch];
  for (int y = 0; y < img->h; y++) {
    const uint8_t *src = img->data + (size_t)y * img->stride, *lab = labels + (size_t)y * label_stride;
    uint8_t *dst = out->data + (size_t)y * out->stride;
    for (int x = 0; x < img->w; x++) {
      const uint8_t *col = colours[lab[x]]; /* entries >= n_colours stay black */
      dst[3 * x + 0] = lut->v[src[3 * x + 0]][col[0]];
      dst[3 * x + 1] = lut->v[src[3 * x + 1]][col[1]];
      dst[3 * x + 2] = lut->v[src[3 * x + 2]][col[2]];
    }
  }
  out->order = img->order;
}
