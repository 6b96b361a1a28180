#include "datasets/image_sniff.h"

#include <string.h>

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }

int nala_sniff_is_png(const uint8_t *bytes, size_t n) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  return n >= 8 && memcmp(bytes, sig, 8) == 0;
}

int nala_sniff_is_jpeg(const uint8_t *bytes, size_t n) {
  return n >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
}

int nala_sniff_size(const uint8_t *b, size_t n, uint32_t *w, uint32_t *h) {
  if (nala_sniff_is_png(b, n)) {
    if (n < 24 || memcmp(b + 12, "IHDR", 4) != 0)
      return 0;
    *w = be32(b + 16);
    *h = be32(b + 20);
    return 1;
  }
  if (!nala_sniff_is_jpeg(b, n))
    return 0;
  /* Walk the marker segments up to the frame header; each step advances by at least 2 bytes. */
  size_t i = 2;
  while (i + 9 < n) {
    if (b[i] != 0xFF)
      return 0;
    uint8_t marker = b[i + 1];
    if (marker == 0xFF) { /* fill byte */
      i++;
      continue;
    }
    int sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      *h = be16(b + i + 5);
      *w = be16(b + i + 7);
      return 1;
    }
    if (marker == 0xDA || marker == 0xD9)
      return 0;
    i += 2 + be16(b + i + 2);
  }
  return 0;
}

/* Entropy-coded data cannot contain FF D9 or FF DA (0xFF is byte-stuffed), so the last EOI must come
 * after the last SOS; an EXIF thumbnail's EOI sits before the main image's SOS and does not count. */
int nala_sniff_jpeg_complete(const uint8_t *b, size_t n) {
  size_t last_sos = 0, last_eoi = 0;
  for (size_t i = 0; i + 1 < n; i++)
    if (b[i] == 0xFF) {
      if (b[i + 1] == 0xDA)
        last_sos = i;
      else if (b[i + 1] == 0xD9)
        last_eoi = i;
    }
  return last_sos > 0 && last_eoi > last_sos;
}

int nala_sniff_png_complete(const uint8_t *b, size_t n) {
  /* Walk length/type/data/CRC chunks from the signature to IEND, all inside the buffer. OpenCV's
   * decode into a caller buffer leaves it untouched when the header chunks are cut short, so a
   * truncated PNG must be caught before decoding. */
  size_t off = 8;
  while (off + 12 <= n) {
    uint32_t length = be32(b + off);
    if (memcmp(b + off + 4, "IEND", 4) == 0)
      return 1;
    if (length > n - off - 12)
      return 0;
    off += 12 + (size_t)length;
  }
  return 0;
}
