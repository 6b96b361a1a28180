/* Byte-level facts about PNG and JPEG files, read before any decoding (used by image_io.cpp to apply
 * the pixel limit early and to refuse truncated JPEGs, which libjpeg only warns about). */
#ifndef NALA_DATASETS_IMAGE_SNIFF_H
#define NALA_DATASETS_IMAGE_SNIFF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when the bytes start with the PNG signature / a JPEG SOI marker. */
int nala_sniff_is_png(const uint8_t *bytes, size_t n);
int nala_sniff_is_jpeg(const uint8_t *bytes, size_t n);

/* Width and height from the PNG IHDR or the first JPEG SOFn marker; 0 when not found (another format,
 * or a header too damaged to tell: the decoder then reports the damage). */
int nala_sniff_size(const uint8_t *bytes, size_t n, uint32_t *w, uint32_t *h);

/* 1 when a JPEG's last scan is followed by an end-of-image marker. */
int nala_sniff_jpeg_complete(const uint8_t *bytes, size_t n);

/* 1 when the PNG's chunks (length, type, data, CRC) run inside the buffer up to an IEND chunk. */
int nala_sniff_png_complete(const uint8_t *bytes, size_t n);

#ifdef __cplusplus
}
#endif

#endif
