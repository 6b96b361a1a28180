/* libFuzzer harness for image bytes: format sniffing, image decoding (both EXIF modes, with a pixel
 * limit) and label-map decoding, through the public memory entry points that nala_image_read and
 * nala_image_read_labels themselves call. Oracles beyond "no crash, no sanitizer report":
 *   - a decoded image has the promised layout (3 channels for images, 1 for labels), a size within
 *     the pixel limit, and only formats nala_image_format calls decodable decode;
 *   - applying EXIF only ever swaps width and height (the library itself refuses a decode whose size
 *     differs from the header's, which is where the pixel limit was applied);
 *   - every failure names the input ("fuzz: ...") and leaves the output image empty.
 * Corpus: tests/fuzz/corpus/image/, dictionary: tests/fuzz/image.dict. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nala/image_io.h"
#include "tests/fuzz/fuzz_check.h"

/* Pixel limit for the image decoders: big enough for every seed, small enough that one input
 * cannot make a run allocate more than ~12 MB per image. */
#define FUZZ_MAX_PIXELS ((size_t)1 << 22)

static void check_failure(nala_status st, const nala_err *err, const nala_image *img) {
  if (st == NALA_OK)
    return;
  FUZZ_ASSERT(strncmp(err->msg, "fuzz: ", 6) == 0, "message does not name the input: %s", err->msg);
  FUZZ_ASSERT(img->data == NULL, "failed with %s but returned pixels", nala_status_string(st));
}

/* Touches every pixel so ASan sees an out-of-bounds row and UBSan/MSan-style tools see the bytes. */
static unsigned sum_pixels(const nala_image *img) {
  unsigned sum = 0;
  for (int y = 0; y < img->h; y++)
    for (int x = 0; x < img->w * img->c; x++)
      sum += img->data[(size_t)y * img->stride + (size_t)x];
  return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int decodable = 0;
  const char *format = nala_image_format(data, size, &decodable);
  FUZZ_ASSERT(!decodable || format, "decodable without a format name");

  nala_err err;
  nala_image plain, turned, labels;
  nala_status st = nala_image_decode(data, size, "fuzz", NALA_BGR, FUZZ_MAX_PIXELS, NALA_EXIF_IGNORE, &plain, &err);
  check_failure(st, &err, &plain);
  if (st == NALA_OK) {
    FUZZ_ASSERT(decodable, "decoded a %s input, which nala_image_format calls not decodable",
                format ? format : "unknown");
    FUZZ_ASSERT(plain.c == 3 && plain.order == NALA_BGR && plain.stride >= (size_t)plain.w * 3,
                "layout c=%d order=%d stride=%zu w=%d", plain.c, (int)plain.order, plain.stride, plain.w);
    FUZZ_ASSERT(plain.h > 0 && plain.w > 0 && (size_t)plain.h * (size_t)plain.w <= FUZZ_MAX_PIXELS,
                "%dx%d (HxW) against a limit of %zu pixels", plain.h, plain.w, FUZZ_MAX_PIXELS);
    (void)sum_pixels(&plain);
  }

  nala_status st2 = nala_image_decode(data, size, "fuzz", NALA_RGB, FUZZ_MAX_PIXELS, NALA_EXIF_APPLY, &turned, &err);
  check_failure(st2, &err, &turned);
  if (st2 == NALA_OK) {
    FUZZ_ASSERT(turned.c == 3 && turned.order == NALA_RGB, "layout c=%d order=%d", turned.c, (int)turned.order);
    /* Orientation only transposes, and the EXIF-ignoring read of the same bytes succeeded too. */
    FUZZ_ASSERT(st == NALA_OK, "decoded with EXIF applied, not without");
    FUZZ_ASSERT((turned.h == plain.h && turned.w == plain.w) || (turned.h == plain.w && turned.w == plain.h),
                "EXIF turned %dx%d into %dx%d (HxW)", plain.h, plain.w, turned.h, turned.w);
    (void)sum_pixels(&turned);
  }
  nala_image_free(&plain);
  nala_image_free(&turned);

  st = nala_image_decode_labels(data, size, "fuzz", &labels, &err);
  check_failure(st, &err, &labels);
  if (st == NALA_OK) {
    FUZZ_ASSERT(format && strcmp(format, "PNG") == 0, "a %s label map decoded", format ? format : "unknown");
    FUZZ_ASSERT(labels.c == 1 && labels.order == NALA_GRAY && labels.h > 0 && labels.w > 0,
                "label layout %dx%dx%d order %d", labels.h, labels.w, labels.c, (int)labels.order);
    (void)sum_pixels(&labels);
  }
  nala_image_free(&labels);
  return 0;
}
