/* Text masks (include/nala/image_draw.h): measuring one and blending it, the per-frame half of text
 * drawing, in C so that it allocates nothing (the rendering half is OpenCV's, in the shim, at plan time). */
#include "nala/image_draw.h"

#include <math.h>

/* Margin around the text box that holds all of a glyph's anti-aliased ink: at most 2 px beyond
 * the box at scale 0.4, 4 px above the cap line at 1.0 (brackets), measured over the printable
 * ASCII glyphs (tests/test_det_tools checks that a mask loses no ink). */
static int text_mask_margin(double scale) { return 2 + (int)ceil(4.0 * scale); }

nala_status nala_text_mask_measure(const char *text, double scale, nala_text_mask *m, nala_err *err) {
  if (!m)
    return nala_fail(err, NALA_E_ARG, "nala_text_mask_measure: m is NULL");
  int tw, th, base;
  NALA_CHECK(nala_image_text_size(text, scale, &tw, &th, &base, err));
  int margin = text_mask_margin(scale);
  m->text_w = tw, m->text_h = th, m->baseline = base;
  m->w = tw + 2 * margin, m->h = th + base + 2 * margin;
  m->org_x = margin, m->org_y = margin + th;
  m->alpha = NULL;
  return NALA_OK;
}

void nala_text_mask_blend(nala_image *img, const nala_text_mask *m, int x, int y, const uint8_t color[3]) {
  if (!img || !img->data || img->c != 3 || !m || !m->alpha || !color)
    return;
  int x0 = x - m->org_x, y0 = y - m->org_y; /* the mask's top-left corner in the image */
  int col_lo = x0 < 0 ? -x0 : 0, col_hi = x0 + m->w > img->w ? img->w - x0 : m->w;
  int row_lo = y0 < 0 ? -y0 : 0, row_hi = y0 + m->h > img->h ? img->h - y0 : m->h;
  for (int r = row_lo; r < row_hi; r++) {
    const uint8_t *a = m->alpha + (size_t)r * m->w;
    uint8_t *p = img->data + (size_t)(y0 + r) * img->stride + (size_t)(x0 + col_lo) * 3;
    for (int c = col_lo; c < col_hi; c++, p += 3) {
      unsigned v = a[c];
      if (!v)
        continue;
      for (int k = 0; k < 3; k++) /* (p (255 - v) + color v) / 255, rounded to nearest */
        p[k] = (uint8_t)((p[k] * (255u - v) + color[k] * v + 127u) / 255u);
    }
  }
}
