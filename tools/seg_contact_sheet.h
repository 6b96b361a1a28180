/* The contact sheet of `nala seg --contact-sheet` on a video or camera: a few frames spread over the
 * clip, one row each, the input frame on the left and its overlay on the right, each tile scaled down
 * to at most a given width (SEG_SHEET_TILE_W by default), the frame number written on the input. Built while the
 * frames stream past (only the sheet itself is kept), written once at the end. */
#ifndef NALA_TOOLS_SEG_CONTACT_SHEET_H
#define NALA_TOOLS_SEG_CONTACT_SHEET_H

#include "nala/image_io.h"
#include "nala/status.h"

#define SEG_SHEET_MAX_ROWS 64
#define SEG_SHEET_TILE_W 320 /* default tile width limit */
#define SEG_SHEET_TILE_MAX_W 4096
#define SEG_SHEET_GAP 4 /* pixels of background between and around the tiles */

typedef struct seg_sheet {
  int rows;                       /* rows planned (<= the clip's frames when it says how many) */
  int filled;                     /* rows drawn so far, in frame order */
  long picks[SEG_SHEET_MAX_ROWS]; /* 0-based frame numbers of the rows, ascending */
  int tile_w, tile_h;
  nala_image sheet; /* (2 tiles + 3 gaps) wide, rows * (tile + gap) + gap high */
} seg_sheet;

/* Plans `rows` rows (1..SEG_SHEET_MAX_ROWS) for frames of frame_w x frame_h in channel order `order`,
 * tiles scaled (down only, aspect kept) to at most tile_max_w (16..SEG_SHEET_TILE_MAX_W) wide.
 * A clip of `total` frames gives the middles of `rows` equal stretches of it (frames 6, 18, 30, 42 of
 * 48 for 4 rows; every frame when it has fewer); total 0 (a camera, or a container that does not say)
 * gives one frame per second of fps from the first. Allocates the sheet. */
nala_status seg_sheet_init(seg_sheet *s, int rows, int tile_max_w, int frame_w, int frame_h, nala_channel_order order,
                           long total, double fps, nala_err *err);

/* 1 when 0-based frame number `frame` is the next row's. */
int seg_sheet_wants(const seg_sheet *s, long frame);

/* Draws the next row from frame number `frame`: input and overlay (frame_w x frame_h, 3 channels). */
nala_status seg_sheet_add(seg_sheet *s, long frame, const nala_image *input, const nala_image *overlay, nala_err *err);

/* Writes the rows drawn so far (PNG or JPEG by the extension; a clip that ended early gives a shorter
 * sheet); NALA_E_ARG naming the path when no row was drawn. */
nala_status seg_sheet_write(const seg_sheet *s, const char *path, nala_err *err);

void seg_sheet_free(seg_sheet *s);

#endif
