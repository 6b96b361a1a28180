/* Owned images (include/nala/image_io.h): plain malloc'd pixels, so that the C side and the OpenCV shim
 * (which links its own copy of this file) allocate and free them the same way. */
#include "nala/image_io.h"

#include <stdlib.h>
#include <string.h>

nala_status nala_image_alloc(int h, int w, int c, nala_channel_order order, nala_image *out, nala_err *err) {
  if (!out)
    return nala_fail(err, NALA_E_ARG, "nala_image_alloc: out is NULL");
  memset(out, 0, sizeof *out);
  if (h <= 0 || w <= 0 || (c != 1 && c != 3))
    return nala_fail(err, NALA_E_ARG, "nala_image_alloc: bad shape h=%d w=%d c=%d", h, w, c);
  size_t stride = (size_t)w * c;
  uint8_t *data = malloc(stride * (size_t)h);
  if (!data)
    return nala_fail(err, NALA_E_NOMEM, "nala_image_alloc: cannot allocate %dx%dx%d bytes", h, w, c);
  out->h = h;
  out->w = w;
  out->c = c;
  out->stride = stride;
  out->data = data;
  out->order = c == 1 ? NALA_GRAY : order;
  return NALA_OK;
}

void nala_image_free(nala_image *img) {
  if (!img)
    return;
  free(img->data);
  memset(img, 0, sizeof *img);
}
