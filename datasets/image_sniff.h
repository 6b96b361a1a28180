/* Byte-level facts about image files, read before any decoding: which format the bytes hold (so a
 * format nala does not read never reaches an OpenCV codec), the size the header claims (so the pixel
 * limit applies before a decoder allocates), and whether a PNG/JPEG is complete (libjpeg only warns
 * about a truncated file and pads it grey). Used by image_io.cpp and label_png.c. */
#ifndef NALA_DATASETS_IMAGE_SNIFF_H
#define NALA_DATASETS_IMAGE_SNIFF_H

#include <stddef.h>
#include <stdint.h>

#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nala_sniff_format {
  NALA_SNIFF_UNKNOWN = 0,
  /* decoded (through OpenCV; labels through libpng) */
  NALA_SNIFF_JPEG,
  NALA_SNIFF_PNG,
  NALA_SNIFF_BMP,
  NALA_SNIFF_TIFF,
  NALA_SNIFF_WEBP,
  NALA_SNIFF_PNM,
  /* recognised only to be refused by name */
  NALA_SNIFF_REFUSED
} nala_sniff_format;

/* What the first bytes say: the format, its name ("JPEG", "DICOM", ...; NULL when unknown) and, for
 * the decoded formats, the width and height the header claims (sized = 0 when the header is too
 * damaged to tell, which the caller treats as a corrupt file). */
typedef struct nala_sniff_info {
  nala_sniff_format format;
  const char *name;
  int sized;
  uint32_t w, h;
} nala_sniff_info;

nala_sniff_info nala_sniff(const uint8_t *bytes, size_t n);

/* 1 when the bytes start with the PNG signature / a JPEG SOI marker. */
int nala_sniff_is_png(const uint8_t *bytes, size_t n);
int nala_sniff_is_jpeg(const uint8_t *bytes, size_t n);

/* Width and height of a JPEG's frame header, found by walking the markers before it the way libjpeg
 * does; 0 when libjpeg would not reach a frame header either. */
int nala_sniff_jpeg_size(const uint8_t *bytes, size_t n, uint32_t *w, uint32_t *h);

/* 1 when a JPEG's last scan is followed by an end-of-image marker. */
int nala_sniff_jpeg_complete(const uint8_t *bytes, size_t n);

/* 1 when the PNG's chunks (length, type, data, CRC) run inside the buffer up to an IEND chunk. */
int nala_sniff_png_complete(const uint8_t *bytes, size_t n);

/* Refuses, naming the file, bytes no decoder may see: a format nala does not read (by name), an
 * unknown one, a header without a size, w*h beyond max_pixels (0 = no limit), a PNG/JPEG claiming
 * more pixels than its bytes can hold, a truncated PNG/JPEG. On success *info says format and size. */
nala_status nala_sniff_check(const uint8_t *bytes, size_t n, const char *name, size_t max_pixels,
                             nala_sniff_info *info, nala_err *err);

/* The formats nala decodes, for messages: "JPEG, PNG, BMP, TIFF, WebP, PNM (PBM/PGM/PPM)". */
extern const char nala_sniff_supported_list[];

#ifdef __cplusplus
}
#endif

#endif
