/* The checks every image file's bytes pass before a decoder sees them (image_io.cpp for images,
 * label_png.c for label maps): format, size from the header, pixel limit, plausibility, truncation. */
#include <inttypes.h>
#include <stdio.h>

#include "datasets/image_sniff.h"
#include "nala/image_io.h"

nala_status nala_sniff_check(const uint8_t *b, size_t n, const char *name, size_t max_pixels, nala_sniff_info *info,
                             nala_err *err) {
  *info = nala_sniff(b, n);
  if (n == 0)
    return nala_fail(err, NALA_E_FORMAT, "%s: empty file (0 bytes), not an image", name);
  if (info->format == NALA_SNIFF_REFUSED)
    return nala_fail(err, NALA_E_UNSUPPORTED, "%s: %s is not a supported image format (%s)", name, info->name,
                     nala_sniff_supported_list);
  if (info->format == NALA_SNIFF_UNKNOWN) {
    char head[3 * 8 + 1] = "";
    for (size_t i = 0, used = 0; i < n && i < 8; i++)
      used += (size_t)snprintf(head + used, sizeof head - used, "%s%02x", i ? " " : "", b[i]);
    return nala_fail(err, NALA_E_FORMAT, "%s: unknown image format or corrupt file (%zu bytes starting %s); nala reads %s", name, n, head,
                     nala_sniff_supported_list);
  }
  if (!info->sized)
    return nala_fail(err, NALA_E_FORMAT, "%s: corrupt %s header: no image size where the decoder looks for it%s", name,
                     info->name,
                     info->format == NALA_SNIFF_JPEG ? " (no SOF frame header before the first scan)" : "");
  uint64_t w = info->w, h = info->h;
  if (w == 0 || h == 0)
    return nala_fail(err, NALA_E_FORMAT, "%s: zero-sized image (%" PRIu64 "x%" PRIu64 ", WxH)", name, w, h);
  if (max_pixels && w * h > max_pixels)
    return nala_fail(err, NALA_E_ARG,
                     "%s: %" PRIu64 "x%" PRIu64 " (WxH) = %" PRIu64 " pixels exceeds the limit of %zu (from the %s "
                     "header, before decoding)",
                     name, w, h, w * h, max_pixels, info->name);
  /* No valid PNG or JPEG decodes to more than this many bytes per file byte (deflate tops out near
   * 1032:1, times 24 for 1-bit pixels expanded to BGR; a JPEG MCU needs a few bits): a header claiming
   * more is corrupt, and believing it would allocate gigabytes before the decoder notices. BMP (RLE
   * skips), TIFF (CCITT, shared strips) and WebP (lossless) have no such bound: the pixel limit is
   * what protects them. */
  uint64_t max_ratio = info->format == NALA_SNIFF_PNG ? 32768 : info->format == NALA_SNIFF_JPEG ? 2048 : 0;
  if (max_ratio && w * h > max_ratio * (uint64_t)n / 3)
    return nala_fail(err, NALA_E_FORMAT,
                     "%s: header claims %" PRIu64 "x%" PRIu64 " (WxH) pixels but the file has only %zu bytes: "
                     "corrupt header or truncated file",
                     name, w, h, n);
  if (info->format == NALA_SNIFF_JPEG && !nala_sniff_jpeg_complete(b, n))
    return nala_fail(err, NALA_E_FORMAT, "%s: truncated or corrupt JPEG (no end-of-image marker after the last scan)",
                     name);
  if (info->format == NALA_SNIFF_PNG && !nala_sniff_png_complete(b, n))
    return nala_fail(err, NALA_E_FORMAT, "%s: truncated or corrupt PNG (its chunks end before an IEND chunk)", name);
  return NALA_OK;
}

const char *nala_image_format(const uint8_t *bytes, size_t n, int *decodable) {
  nala_sniff_info info = bytes ? nala_sniff(bytes, n) : (nala_sniff_info){NALA_SNIFF_UNKNOWN, NULL, 0, 0, 0};
  if (decodable)
    *decodable = info.format != NALA_SNIFF_UNKNOWN && info.format != NALA_SNIFF_REFUSED;
  return info.name;
}
