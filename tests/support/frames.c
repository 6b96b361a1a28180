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
