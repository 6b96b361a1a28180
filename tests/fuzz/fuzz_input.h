/* The byte formats of the fuzz inputs (and of the reproducers in tests/fixtures/reliability/),
 * shared by the libFuzzer harnesses and the regression tests that replay them.
 *
 * COCO (fuzz_coco.c): byte 0 is a flag byte (1 = GT has masks, 2 = results have masks, 4 = run
 * the evaluation: segm when both have masks, else bbox), then the GT JSON, a line "@@", then the
 * results JSON (no "@@": GT only).
 * RLE (fuzz_rle.c): byte 0 a mode, a little-endian u16 height, a u16 width, then the payload:
 * mode % 5 = 0 counts string, 1 mask bytes, 2 polygon (little-endian doubles x0 y0 x1 y1 ...),
 * 3 runs (little-endian u32) merged with themselves and their complement, 4 two masks' IoU. */
#ifndef NALA_TESTS_FUZZ_INPUT_H
#define NALA_TESTS_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct fuzz_coco_input {
  int gt_masks, dt_masks, evaluate;
  const char *gt, *dt; /* dt NULL when the input has no "@@" line */
  size_t gt_len, dt_len;
} fuzz_coco_input;

/* Splits a COCO input; returns 0 when it is empty. */
static inline int fuzz_coco_split(const uint8_t *data, size_t size, fuzz_coco_input *in) {
  if (size < 1)
    return 0;
  memset(in, 0, sizeof *in);
  in->gt_masks = data[0] & 1;
  in->dt_masks = (data[0] & 2) != 0;
  in->evaluate = (data[0] & 4) != 0;
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  in->gt = text;
  in->gt_len = len;
  /* Byte compares, not memcmp: libFuzzer hooks memcmp, which would cost a call per offset. */
  for (size_t i = 0; i + 4 <= len; i++)
    if (text[i] == '\n' && text[i + 1] == '@' && text[i + 2] == '@' && text[i + 3] == '\n') {
      in->gt_len = i;
      in->dt = text + i + 4;
      in->dt_len = len - i - 4;
      break;
    }
  return 1;
}

typedef struct fuzz_rle_input {
  int mode;
  uint32_t h, w;
  const uint8_t *payload;
  size_t payload_len;
} fuzz_rle_input;

/* Splits an RLE input; returns 0 when it is shorter than its 5-byte header. */
static inline int fuzz_rle_split(const uint8_t *data, size_t size, fuzz_rle_input *in) {
  if (size < 5)
    return 0;
  in->mode = data[0] % 5;
  in->h = (uint32_t)data[1] | (uint32_t)data[2] << 8;
  in->w = (uint32_t)data[3] | (uint32_t)data[4] << 8;
  in->payload = data + 5;
  in->payload_len = size - 5;
  return 1;
}

/* The i-th little-endian u32 / double of a payload (the caller keeps i inside it). */
static inline uint32_t fuzz_u32_at(const uint8_t *p, size_t i) {
  p += 4 * i;
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline double fuzz_f64_at(const uint8_t *p, size_t i) {
  uint64_t bits = 0;
  for (int b = 7; b >= 0; b--)
    bits = bits << 8 | p[8 * i + (size_t)b];
  double v;
  memcpy(&v, &bits, sizeof v);
  return v;
}

#endif
