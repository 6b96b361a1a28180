/* Label maps written as 8-bit palette PNGs with libpng: each pixel's stored index is the class, the
 * palette only colours it for viewers. This is what mmseg's datasets ship for VOC-style annotations
 * and what PIL reads back (mode 'P', np.array gives the indices), so nala_image_read_labels and
 * mmseg both get the values written. Encoded in memory, then written atomically (nala/atomic_write.h). */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/atomic_write.h"
#include "nala/image_io.h"

typedef struct png_sink {
  uint8_t *data;
  size_t n, cap;
  int oom;
  char msg[256]; /* libpng's message when it gives up */
} png_sink;

static void sink_write(png_structp png, png_bytep src, size_t len) {
  png_sink *s = (png_sink *)png_get_io_ptr(png);
  if (s->oom)
    return;
  if (len > s->cap - s->n) {
    size_t cap = s->cap ? s->cap : 4096;
    while (len > cap - s->n)
      cap *= 2;
    uint8_t *grown = (uint8_t *)realloc(s->data, cap);
    if (!grown) {
      s->oom = 1;
      png_error(png, "out of memory for the encoded PNG");
    }
    s->data = grown;
    s->cap = cap;
  }
  memcpy(s->data + s->n, src, len);
  s->n += len;
}

static void sink_flush(png_structp png) { (void)png; }

static void on_error(png_structp png, png_const_charp msg) {
  png_sink *s = (png_sink *)png_get_error_ptr(png);
  snprintf(s->msg, sizeof s->msg, "%s", msg);
  png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

/* Runs after setjmp: touches only *s and the caller's inputs, never locals of encode_guarded. */
static void encode_rows(png_structp png, png_infop info, const nala_image *labels, const uint8_t (*palette)[3],
                        int n_colours) {
  png_set_IHDR(png, info, (png_uint_32)labels->w, (png_uint_32)labels->h, 8, PNG_COLOR_TYPE_PALETTE,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_color colours[256];
  for (int i = 0; i < n_colours; i++) {
    colours[i].red = palette[i][0];
    colours[i].green = palette[i][1];
    colours[i].blue = palette[i][2];
  }
  png_set_PLTE(png, info, colours, n_colours);
  /* Indices past the palette's end are legal labels (ignore 255, out-of-range predictions). */
#ifdef PNG_CHECK_FOR_INVALID_INDEX_SUPPORTED
  png_set_check_for_invalid_index(png, 0);
#endif
  png_set_compression_level(png, 6);
  png_write_info(png, info);
  for (int y = 0; y < labels->h; y++)
    png_write_row(png, labels->data + (size_t)y * labels->stride);
  png_write_end(png, info);
}

static int encode_guarded(png_structp png, png_infop info, const nala_image *labels, const uint8_t (*palette)[3],
                          int n_colours) {
  if (setjmp(png_jmpbuf(png)))
    return 0;
  encode_rows(png, info, labels, palette, n_colours);
  return 1;
}

nala_status nala_image_write_labels(const char *path, const nala_image *labels, const uint8_t (*palette)[3],
                                    int n_colours, nala_err *err) {
  if (!path || !labels || !labels->data || (!palette && n_colours))
    return nala_fail(err, NALA_E_ARG, "%s: nala_image_write_labels: path, labels or palette is NULL",
                     path ? path : "<null>");
  if (labels->c != 1 || labels->h <= 0 || labels->w <= 0 || labels->stride < (size_t)labels->w)
    return nala_fail(err, NALA_E_ARG, "%s: label map must be one 8-bit channel with stride >= w, got %dx%dx%d stride %zu",
                     path, labels->h, labels->w, labels->c, labels->stride);
  if (n_colours < 1 || n_colours > 256)
    return nala_fail(err, NALA_E_ARG, "%s: a PNG palette holds 1 to 256 colours, got %d", path, n_colours);
  png_sink sink;
  memset(&sink, 0, sizeof sink);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, on_error, on_warning);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  nala_status st = NALA_OK;
  if (!info) {
    st = nala_fail(err, NALA_E_NOMEM, "%s: cannot create a libpng writer", path);
  } else {
    png_set_write_fn(png, &sink, sink_write, sink_flush);
    if (!encode_guarded(png, info, labels, palette, n_colours))
      st = nala_fail(err, sink.oom ? NALA_E_NOMEM : NALA_E_BACKEND, "%s: encoding the label PNG: %s", path, sink.msg);
  }
  png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
  if (st == NALA_OK)
    st = nala_write_atomic(path, sink.data, sink.n, err);
  free(sink.data);
  return st;
}
