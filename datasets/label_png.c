/* Label maps decoded with libpng, so each pixel is the sample value mmseg sees. mmseg's LoadAnnotations
 * reads with PIL ('unchanged', then np.array(img).squeeze().astype(np.uint8)); OpenCV instead scales
 * a 1-bit grey PNG to 0/255 and expands a palette to BGR, which silently mis-scores such ground truth.
 * What PIL gives, per PNG colour type and bit depth (checked by tools/fixtures/make_label_fixtures.py):
 *   grey 1-bit       mode '1', 0/1                 -> read as stored (png_set_packing, no scaling)
 *   grey 2/4-bit     mode 'L', scaled to 0..255     -> refused: stored classes and mmseg disagree
 *   grey 8-bit       as stored                      -> read
 *   grey 16-bit      mode 'I', as stored, then uint8 -> read when every value < 256, else refused
 *   palette 1..8-bit mode 'P', the indices          -> indices (palette and tRNS ignored)
 *   grey+alpha, RGB, RGBA: several channels, which mmseg's metric cannot use -> refused */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/image_sniff.h"
#include "nala/image_io.h"

typedef struct label_read {
  png_structp png;
  png_infop info;
  const uint8_t *bytes;
  size_t n, pos;
  png_bytep *rows;
  uint8_t *wide; /* 16-bit samples, converted to out afterwards */
  nala_image *out;
  char msg[256]; /* libpng's message when it gives up */
} label_read;

static void read_bytes(png_structp png, png_bytep dst, size_t len) {
  label_read *r = (label_read *)png_get_io_ptr(png);
  if (len > r->n - r->pos)
    png_error(png, "the file ends inside a chunk (truncated)");
  memcpy(dst, r->bytes + r->pos, len);
  r->pos += len;
}

static void on_error(png_structp png, png_const_charp msg) {
  label_read *r = (label_read *)png_get_error_ptr(png);
  snprintf(r->msg, sizeof r->msg, "%s", msg);
  png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static const char *colour_name(int colour_type) {
  switch (colour_type) {
  case PNG_COLOR_TYPE_GRAY_ALPHA:
    return "grey+alpha (2 channels)";
  case PNG_COLOR_TYPE_RGB:
    return "RGB (3 channels)";
  case PNG_COLOR_TYPE_RGB_ALPHA:
    return "RGBA (4 channels)";
  default:
    return "unknown colour type";
  }
}

/* Runs after setjmp: may only change *r (the caller's object), never locals of read_guarded. */
static nala_status read_pixels(label_read *r, const char *name, nala_err *err) {
  png_structp png = r->png;
  png_read_info(png, r->info);
  png_uint_32 w = png_get_image_width(png, r->info), h = png_get_image_height(png, r->info);
  int depth = png_get_bit_depth(png, r->info), colour = png_get_color_type(png, r->info);
  if (colour != PNG_COLOR_TYPE_GRAY && colour != PNG_COLOR_TYPE_PALETTE)
    return nala_fail(err, NALA_E_FORMAT,
                     "%s: label map must be single-channel (grey or palette PNG), got %d-bit %s: mmseg would read "
                     "several channels",
                     name, depth, colour_name(colour));
  if (colour == PNG_COLOR_TYPE_GRAY && (depth == 2 || depth == 4))
    return nala_fail(err, NALA_E_FORMAT,
                     "%s: %d-bit greyscale label maps are not supported: PIL (mmseg) rescales them to 0..255, so "
                     "their stored classes 0..%d and mmseg's labels differ; save as 8-bit grey or palette",
                     name, depth, (1 << depth) - 1);
  if (depth < 8)
    png_set_packing(png); /* one byte per pixel holding the stored value, not rescaled */
  /* Labels are indices whatever the palette holds: an index past the palette's end is still a class. */
#ifdef PNG_CHECK_FOR_INVALID_INDEX_SUPPORTED
  png_set_check_for_invalid_index(png, 0);
#endif
  png_set_interlace_handling(png);
  png_read_update_info(png, r->info);
  size_t sample = depth == 16 ? 2 : 1, row_bytes = png_get_rowbytes(png, r->info);
  if (row_bytes != (size_t)w * sample || w > INT32_MAX || h > INT32_MAX)
    return nala_fail(err, NALA_E_FORMAT, "%s: unexpected PNG row layout (%zu bytes for %u pixels)", name, row_bytes,
                     (unsigned)w);
  nala_status alloc_st = nala_image_alloc((int)h, (int)w, 1, NALA_GRAY, r->out, err);
  if (alloc_st != NALA_OK) {
    if (err)
      nala_err_prefix(err, "%s: ", name);
    return alloc_st;
  }
  r->rows = (png_bytep *)malloc(sizeof *r->rows * h);
  if (sample == 2)
    r->wide = (uint8_t *)malloc(row_bytes * h);
  if (!r->rows || (sample == 2 && !r->wide))
    return nala_fail(err, NALA_E_NOMEM, "%s: cannot allocate rows for a %ux%u label map", name, (unsigned)w,
                     (unsigned)h);
  for (png_uint_32 y = 0; y < h; y++)
    r->rows[y] = sample == 2 ? r->wide + (size_t)y * row_bytes : r->out->data + (size_t)y * r->out->stride;
  png_read_image(png, r->rows);
  png_read_end(png, NULL); /* the last IDAT's CRC and IEND: a damaged file is an error, not a label map */
  if (sample == 2)
    for (png_uint_32 y = 0; y < h; y++)
      for (png_uint_32 x = 0; x < w; x++) {
        const uint8_t *p = r->wide + (size_t)y * row_bytes + 2 * (size_t)x; /* PNG samples are big-endian */
        if (p[0])
          return nala_fail(err, NALA_E_FORMAT,
                           "%s: 16-bit label value %u at x=%u y=%u does not fit 8 bits (mmseg's astype(uint8) would "
                           "wrap it to %u); store labels as 8-bit",
                           name, (unsigned)(p[0] << 8 | p[1]), (unsigned)x, (unsigned)y, (unsigned)p[1]);
        r->out->data[(size_t)y * r->out->stride + x] = p[1];
      }
  return NALA_OK;
}

static nala_status read_guarded(label_read *r, const char *name, nala_err *err) {
  if (setjmp(png_jmpbuf(r->png)))
    return nala_fail(err, NALA_E_FORMAT, "%s: corrupt PNG label map: %s", name, r->msg);
  return read_pixels(r, name, err);
}

nala_status nala_image_decode_labels(const uint8_t *bytes, size_t n, const char *name, nala_image *out,
                                     nala_err *err) {
  if (out)
    memset(out, 0, sizeof *out);
  if (!name)
    name = "<memory>";
  if ((!bytes && n) || !out)
    return nala_fail(err, NALA_E_ARG, "%s: nala_image_decode_labels: bytes or out is NULL", name);
  nala_sniff_info info;
  NALA_CHECK(nala_sniff_check(bytes, n, name, 0, &info, err));
  if (info.format != NALA_SNIFF_PNG)
    return nala_fail(err, NALA_E_FORMAT,
                     "%s: label maps are read from PNG files only (what mmseg's datasets ship); this is %s", name,
                     info.name);
  label_read r;
  memset(&r, 0, sizeof r);
  r.bytes = bytes;
  r.n = n;
  r.out = out;
  r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r, on_error, on_warning);
  r.info = r.png ? png_create_info_struct(r.png) : NULL;
  nala_status st;
  if (!r.info) {
    st = nala_fail(err, NALA_E_NOMEM, "%s: cannot create a libpng reader", name);
  } else {
    png_set_read_fn(r.png, &r, read_bytes);
    st = read_guarded(&r, name, err);
  }
  png_destroy_read_struct(r.png ? &r.png : NULL, r.info ? &r.info : NULL, NULL);
  free(r.rows);
  free(r.wide);
  if (st != NALA_OK)
    nala_image_free(out);
  return st;
}
