#include "tests/support/frames.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

nala_image nala_test_pattern_frame(int h, int w) {
  nala_image img = {.h = h, .w = w, .c = 3, .stride = (size_t)w * 3, .order = NALA_BGR};
  img.data = malloc((size_t)h * w * 3);
  ck_assert_ptr_nonnull(img.data);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < 3; c++)
        img.data[((size_t)y * w + x) * 3 + c] = (uint8_t)((x * 7 + y * 13 + c * 50 + ((x * y) % 97)) & 255);
  return img;
}

void nala_test_moving_frame(nala_image *img, int k) {
  uint32_t s = 2463534242u + 977u * (uint32_t)k;
  for (int y = 0; y < img->h; y++)
    for (int x = 0; x < img->w; x++) {
      s ^= s << 13, s ^= s >> 17, s ^= s << 5;
      uint8_t *p = img->data + (size_t)y * img->stride + 3 * (size_t)x;
      p[0] = (uint8_t)((x * 255 / img->w + 25 * k) % 256);
      p[1] = (uint8_t)((y * 255 / img->h + 40 * k) % 256);
      p[2] = (uint8_t)(((x + y) * 2 + (s & 31)) % 256);
    }
}
