/* Contact sheet of a segmented clip (tools/seg_contact_sheet.h). Scaling and text go through the
 * OpenCV shim (nala_image_resize, nala_image_draw_text); the layout is plain C. */
#include "tools/seg_contact_sheet.h"

#include <stdio.h>
#include <string.h>

#include "nala/image_draw.h"

#define BACKGROUND 32 /* dark grey, so the tiles' edges show */

nala_status seg_sheet_init(seg_sheet *s, int rows, int tile_max_w, int frame_w, int frame_h, nala_channel_order order,
                           long total, double fps, nala_err *err) {
  memset(s, 0, sizeof *s);
  if (rows < 1 || rows > SEG_SHEET_MAX_ROWS || tile_max_w < 16 || tile_max_w > SEG_SHEET_TILE_MAX_W || frame_w < 1 ||
      frame_h < 1 || total < 0)
    return nala_fail(err, NALA_E_ARG,
                     "contact sheet: need 1..%d rows, tiles 16..%d wide and a frame size (got %d rows, %d, %dx%d)",
                     SEG_SHEET_MAX_ROWS, SEG_SHEET_TILE_MAX_W, rows, tile_max_w, frame_w, frame_h);
  if (total > 0 && rows > total)
    rows = (int)total;
  /* Middles of equal stretches: the first and last frames of a pan are its least typical. */
  long step = fps >= 1.0 ? (long)(fps + 0.5) : 1;
  for (int k = 0; k < rows; k++)
    s->picks[k] = total > 0 ? (long)(((2.0 * k + 1.0) * (double)total) / (2.0 * rows)) : k * step;
  s->rows = rows;
  s->tile_w = frame_w < tile_max_w ? frame_w : tile_max_w;
  s->tile_h = (int)((double)frame_h * s->tile_w / frame_w + 0.5);
  if (s->tile_h < 1)
    s->tile_h = 1;
  int w = 2 * s->tile_w + 3 * SEG_SHEET_GAP, h = rows * (s->tile_h + SEG_SHEET_GAP) + SEG_SHEET_GAP;
  NALA_CHECK(nala_image_alloc(h, w, 3, order == NALA_RGB ? NALA_RGB : NALA_BGR, &s->sheet, err));
  memset(s->sheet.data, BACKGROUND, s->sheet.stride * (size_t)h);
  return NALA_OK;
}

int seg_sheet_wants(const seg_sheet *s, long frame) {
  return s->filled < s->rows && s->picks[s->filled] == frame;
}

/* A borrowed view of one tile of the sheet. */
static nala_image tile_view(const seg_sheet *s, int row, int col) {
  int x = SEG_SHEET_GAP + col * (s->tile_w + SEG_SHEET_GAP), y = SEG_SHEET_GAP + row * (s->tile_h + SEG_SHEET_GAP);
  nala_image t = {.h = s->tile_h, .w = s->tile_w, .c = 3, .stride = s->sheet.stride, .order = s->sheet.order,
                  .data = s->sheet.data + (size_t)y * s->sheet.stride + (size_t)x * 3};
  return t;
}

nala_status seg_sheet_add(seg_sheet *s, long frame, const nala_image *input, const nala_image *overlay, nala_err *err) {
  if (!seg_sheet_wants(s, frame))
    return nala_fail(err, NALA_E_ARG, "contact sheet: frame %ld is not the next row's", frame);
  const nala_image *src[2] = {input, overlay};
  for (int col = 0; col < 2; col++) {
    if (src[col]->order != s->sheet.order)
      return nala_fail(err, NALA_E_ARG, "contact sheet: frame %ld: channel order differs from the sheet's", frame);
    nala_image t = tile_view(s, s->filled, col);
    /* Area averaging: no aliasing in the thumbnails, and averaged sensor noise compresses better. */
    NALA_CHECK(nala_image_resize(src[col], &t, NALA_INTERP_AREA, err));
  }
  /* The frame number on the input tile, white on a one-pixel black shadow so it reads on sky and road. */
  char text[32];
  snprintf(text, sizeof text, "frame %ld", frame);
  nala_image t = tile_view(s, s->filled, 0);
  const uint8_t black[3] = {0, 0, 0}, white[3] = {255, 255, 255};
  double scale = 0.45 * s->tile_w / SEG_SHEET_TILE_W; /* the same share of the tile at any width */
  scale = scale < 0.3 ? 0.3 : scale > 1.2 ? 1.2 : scale;
  int base = (int)(32 * scale + 0.5);
  NALA_CHECK(nala_image_draw_text(&t, text, 5, base + 1, scale, black, err));
  NALA_CHECK(nala_image_draw_text(&t, text, 4, base, scale, white, err));
  s->filled++;
  return NALA_OK;
}

nala_status seg_sheet_write(const seg_sheet *s, const char *path, nala_err *err) {
  if (s->filled == 0)
    return nala_fail(err, NALA_E_ARG, "%s: no frame of the contact sheet was reached (first wanted: frame %ld)", path,
                     s->picks[0]);
  nala_image done = s->sheet; /* the rows drawn, when the clip ended before the last pick */
  done.h = s->filled * (s->tile_h + SEG_SHEET_GAP) + SEG_SHEET_GAP;
  return nala_image_write(path, &done, err);
}

void seg_sheet_free(seg_sheet *s) {
  nala_image_free(&s->sheet);
}
