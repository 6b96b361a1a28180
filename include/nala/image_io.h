/* Images and video through OpenCV (datasets/image_io.cpp, the only C++ in the tree).
 * Plain C types only; every OpenCV exception becomes a status and a message naming the file. */
#ifndef NALA_IMAGE_IO_H
#define NALA_IMAGE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nala_channel_order { NALA_BGR = 0, NALA_RGB = 1, NALA_GRAY = 2 } nala_channel_order;

/* 8-bit interleaved image; row r starts at data + r*stride. Owned images come from nala_image_*
 * and are released with nala_image_free; borrowed ones (camera frames) just describe memory. */
typedef struct nala_image {
  int h, w, c;              /* c = 1 or 3 */
  size_t stride;            /* bytes between rows, >= w*c */
  uint8_t *data;
  nala_channel_order order; /* of the 3 channels when c == 3 */
} nala_image;

/* Reads an 8-bit colour image like mmcv's 'color' flag (EXIF orientation ignored) in the given
 * order (NALA_BGR or NALA_RGB). Images with more than max_pixels pixels (0 = no limit) are refused. */
nala_status nala_image_read(const char *path, nala_channel_order order, size_t max_pixels, nala_image *out,
                            nala_err *err);

/* Reads a label map unchanged: must be single-channel 8-bit (ADE20K/Cityscapes annotations). */
nala_status nala_image_read_labels(const char *path, nala_image *out, nala_err *err);

/* Writes PNG or JPEG, chosen by the path's extension. */
nala_status nala_image_write(const char *path, const nala_image *img, nala_err *err);

/* Allocates an h x w x c image with a dense stride. */
nala_status nala_image_alloc(int h, int w, int c, nala_channel_order order, nala_image *out, nala_err *err);

/* Frees an owned image's pixels and zeroes the struct; safe on a zeroed struct. */
void nala_image_free(nala_image *img);

#ifdef __cplusplus
}
#endif

#endif
