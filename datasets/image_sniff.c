/* Image formats recognised from their first bytes, and the size each header claims.
 *
 * Which formats nala decodes: the ones datasets fed to mmcv/cv2 come in. JPEG and PNG (COCO,
 * ADE20K, Cityscapes, VOC), BMP and PNM (PBM/PGM/PPM, older and stereo/face datasets), TIFF
 * (remote sensing: ISPRS Potsdam/Vaihingen, iSAID sources) and WebP (web-scraped sets). Everything
 * else OpenCV could open is refused by name before any codec sees it: DICOM (GDCM asserts and kills
 * the process on a 132-byte file), PFM (float depth/disparity maps, not photographs: cv2's 8-bit
 * conversion rounds their samples, and OpenCV returns 1 channel for a grey PFM even when asked for
 * 3), OpenEXR and Radiance HDR (float), JPEG 2000, Sun raster and PAM (rare, and each codec is more
 * attack surface for no dataset we know of), and the formats OpenCV 4.6 cannot read anyway (GIF,
 * HEIF/AVIF, PSD), so the message says what the file is rather than "cannot decode".
 *
 * OpenCV picks its decoder by signature in a fixed order (BMP, HDR, JPEG, WebP, Sun raster, PxM,
 * PFM, TIFF, PNG, ..., DICOM last but one); the signatures accepted here are disjoint from each other
 * and from every earlier decoder's, so the codec OpenCV runs is the one named here. */
#include "datasets/image_sniff.h"

#include <string.h>

const char nala_sniff_supported_list[] = "JPEG, PNG, BMP, TIFF, WebP, PNM (PBM/PGM/PPM)";

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t le16(const uint8_t *p) { return (uint32_t)p[1] << 8 | p[0]; }
static uint32_t le32(const uint8_t *p) { return le16(p + 2) << 16 | le16(p); }
static uint32_t le24(const uint8_t *p) { return (uint32_t)p[2] << 16 | le16(p); }

int nala_sniff_is_png(const uint8_t *bytes, size_t n) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  return n >= 8 && memcmp(bytes, sig, 8) == 0;
}

int nala_sniff_is_jpeg(const uint8_t *bytes, size_t n) {
  return n >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
}

/* Mirrors libjpeg's jdmarker.c up to the frame header: next_marker() discards any bytes that are not
 * 0xFF (it only warns about "extraneous bytes"), swallows 0xFF fill bytes and treats FF 00 as stray
 * data; read_markers() skips RSTn and TEM (no length), skips DHT/DQT/DAC/DRI/APPn/COM/DNL by their
 * length word, and fails on SOS or EOI before a SOF, a second SOI, or any other marker. A length
 * below 2 moves on by the length word alone, as skip_variable() does. Every step advances. */
int nala_sniff_jpeg_size(const uint8_t *b, size_t n, uint32_t *w, uint32_t *h) {
  if (n < 2 || b[0] != 0xFF || b[1] != 0xD8)
    return 0;
  size_t i = 2;
  for (;;) {
    while (i < n && b[i] != 0xFF)
      i++;
    while (i < n && b[i] == 0xFF)
      i++;
    if (i >= n)
      return 0;
    uint8_t marker = b[i++];
    if (marker == 0x00 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01)
      continue; /* stuffed byte, RSTn, TEM */
    int sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) { /* length(2) precision(1) height(2) width(2); the unsupported SOFn fail in libjpeg later */
      if (n - i < 7)
        return 0;
      *h = be16(b + i + 3);
      *w = be16(b + i + 5);
      return 1;
    }
    int skipped = marker == 0xC4 || marker == 0xCC || marker == 0xDB || marker == 0xDC || marker == 0xDD ||
                  (marker >= 0xE0 && marker <= 0xEF) || marker == 0xFE;
    if (!skipped || n - i < 2)
      return 0; /* SOS/EOI before SOF, SOI twice, JPG/JPGn/reserved markers: libjpeg errors out */
    uint32_t length = be16(b + i);
    if ((size_t)(length < 2 ? 2 : length) > n - i)
      return 0;
    i += length < 2 ? 2 : length;
  }
}

static int png_size(const uint8_t *b, size_t n, uint32_t *w, uint32_t *h) {
  /* libpng insists on IHDR (13 data bytes) as the first chunk. */
  if (n < 33 || be32(b + 8) != 13 || memcmp(b + 12, "IHDR", 4) != 0)
    return 0;
  *w = be32(b + 16);
  *h = be32(b + 20);
  return 1;
}

/* OpenCV's BmpDecoder: a BITMAPINFOHEADER or later (size >= 36) has int32 width and height (negative
 * height = top-down rows), an OS/2 core header (size 12) 16-bit ones; other sizes are refused. */
static int bmp_size(const uint8_t *b, size_t n, uint32_t *w, uint32_t *h) {
  if (n < 26)
    return 0;
  uint32_t header = le32(b + 14);
  if (header == 12) {
    *w = le16(b + 18);
    *h = le16(b + 20);
    return 1;
  }
  if (header < 36)
    return 0;
  int64_t width = (int32_t)le32(b + 18), height = (int32_t)le32(b + 22);
  *w = width > 0 ? (uint32_t)width : 0; /* zero: refused as a zero-sized image */
  *h = (uint32_t)(height < 0 ? -height : height);
  return 1;
}

/* Netpbm: "P<1-6>", then width, height (and maxval) as decimal numbers separated by whitespace and
 * '#' comments, which OpenCV's PxMDecoder reads the same way. */
static int pnm_number(const uint8_t *b, size_t n, size_t *i, uint32_t *value) {
  for (;;) {
    while (*i < n && (b[*i] == ' ' || (b[*i] >= '\t' && b[*i] <= '\r')))
      (*i)++;
    if (*i < n && b[*i] == '#') {
      while (*i < n && b[*i] != '\n' && b[*i] != '\r')
        (*i)++;
      continue;
    }
    break;
  }
  if (*i >= n || b[*i] < '0' || b[*i] > '9')
    return 0;
  uint64_t v = 0;
  while (*i < n && b[*i] >= '0' && b[*i] <= '9') {
    v = v * 10 + (uint64_t)(b[*i] - '0');
    if (v > UINT32_MAX)
      return 0;
    (*i)++;
  }
  *value = (uint32_t)v;
  return 1;
}

static int pnm_size(const uint8_t *b, size_t n, uint32_t *w, uint32_t *h) {
  size_t i = 2;
  return pnm_number(b, n, &i, w) && pnm_number(b, n, &i, h);
}

/* The first chunk after "RIFF....WEBP" holds the size (libwebp's WebPGetFeatures): VP8X the canvas
 * (24-bit width-1, height-1), "VP8 " the key frame header (14-bit sizes after the 9D 01 2A start
 * code), "VP8L" a 0x2F signature then 14-bit width-1 and height-1. */
static int webp_size(const uint8_t *b, size_t n, uint32_t *w, uint32_t *h) {
  if (n < 25)
    return 0;
  const uint8_t *chunk = b + 12, *data = b + 20;
  if (!memcmp(chunk, "VP8L", 4) && data[0] == 0x2F) {
    uint32_t bits = le32(data + 1);
    *w = (bits & 0x3FFF) + 1;
    *h = (bits >> 14 & 0x3FFF) + 1;
    return 1;
  }
  if (n < 30)
    return 0;
  if (!memcmp(chunk, "VP8X", 4)) {
    *w = le24(data + 4) + 1;
    *h = le24(data + 7) + 1;
    return 1;
  }
  if (!memcmp(chunk, "VP8 ", 4) && data[3] == 0x9D && data[4] == 0x01 && data[5] == 0x2A) {
    *w = le16(data + 6) & 0x3FFF;
    *h = le16(data + 8) & 0x3FFF;
    return 1;
  }
  return 0;
}

/* ImageWidth (256) and ImageLength (257) from the first IFD, which is the page cv::imdecode reads.
 * Classic TIFF: 12-byte entries with a 4-byte value field; BigTIFF: 20-byte entries, 8-byte field.
 * libtiff wants both tags, each one value of an integer type (BYTE, SHORT, LONG, LONG8). */
static int tiff_size(const uint8_t *b, size_t n, uint32_t *w, uint32_t *h) {
  int little = b[0] == 'I', big_tiff = (little ? le16(b + 2) : be16(b + 2)) == 43;
#define U16(p) (little ? le16(p) : be16(p))
#define U32(p) (little ? le32(p) : be32(p))
#define U64(p) (little ? (uint64_t)le32((p) + 4) << 32 | le32(p) : (uint64_t)be32(p) << 32 | be32((p) + 4))
  if (n < (big_tiff ? 16u : 8u))
    return 0;
  uint64_t ifd = big_tiff ? U64(b + 8) : U32(b + 4);
  size_t entry_size = big_tiff ? 20 : 12, count_size = big_tiff ? 8 : 2;
  if (ifd > n || n - ifd < count_size)
    return 0;
  uint64_t count = big_tiff ? U64(b + ifd) : U16(b + ifd);
  const uint8_t *entry = b + ifd + count_size;
  if (count > (n - ifd - count_size) / entry_size)
    return 0;
  int have_w = 0, have_h = 0;
  for (uint64_t k = 0; k < count; k++, entry += entry_size) {
    uint32_t tag = U16(entry), type = U16(entry + 2);
    uint64_t values = big_tiff ? U64(entry + 4) : U32(entry + 4);
    const uint8_t *field = entry + (big_tiff ? 12 : 8);
    if ((tag != 256 && tag != 257) || values != 1 || (tag == 256 ? have_w : have_h))
      continue; /* libtiff keeps the first of duplicated tags */
    uint64_t v;
    if (type == 1)
      v = field[0];
    else if (type == 3)
      v = U16(field);
    else if (type == 4)
      v = U32(field);
    else if (type == 16 && big_tiff)
      v = U64(field);
    else
      return 0;
    if (v > UINT32_MAX)
      return 0;
    if (tag == 256)
      *w = (uint32_t)v, have_w = 1;
    else
      *h = (uint32_t)v, have_h = 1;
  }
#undef U16
#undef U32
#undef U64
  return have_w && have_h;
}

static int starts(const uint8_t *b, size_t n, const char *sig, size_t len) {
  return n >= len && memcmp(b, sig, len) == 0;
}

/* Formats recognised only to be refused; checked after the decoded ones. */
static const char *refused_name(const uint8_t *b, size_t n) {
  if (n >= 132 && !memcmp(b + 128, "DICM", 4))
    return "DICOM";
  if (n >= 3 && b[0] == 'P' && (b[1] == 'F' || b[1] == 'f') && (b[2] == '\n' || b[2] == '\r' || b[2] == ' '))
    return "PFM (float)";
  if (starts(b, n, "P7", 2))
    return "PAM";
  if (starts(b, n, "GIF87a", 6) || starts(b, n, "GIF89a", 6))
    return "GIF";
  if (starts(b, n, "\x00\x00\x00\x0CjP  \r\n\x87\n", 12) || starts(b, n, "\xFF\x4F\xFF\x51", 4))
    return "JPEG 2000";
  if (starts(b, n, "\x76\x2F\x31\x01", 4))
    return "OpenEXR";
  if (starts(b, n, "#?", 2))
    return "Radiance HDR";
  if (starts(b, n, "\x59\xA6\x6A\x95", 4))
    return "Sun raster";
  if (starts(b, n, "8BPS", 4))
    return "Photoshop PSD";
  if (n >= 12 && !memcmp(b + 4, "ftyp", 4))
    return "HEIF/AVIF (ISO media)";
  if (starts(b, n, "RIFF", 4))
    return "RIFF without WEBP (not a WebP image)";
  return NULL;
}

nala_sniff_info nala_sniff(const uint8_t *b, size_t n) {
  nala_sniff_info info = {NALA_SNIFF_UNKNOWN, NULL, 0, 0, 0};
  if (nala_sniff_is_jpeg(b, n)) {
    info.format = NALA_SNIFF_JPEG, info.name = "JPEG";
    info.sized = nala_sniff_jpeg_size(b, n, &info.w, &info.h);
  } else if (nala_sniff_is_png(b, n)) {
    info.format = NALA_SNIFF_PNG, info.name = "PNG";
    info.sized = png_size(b, n, &info.w, &info.h);
  } else if (starts(b, n, "BM", 2)) {
    info.format = NALA_SNIFF_BMP, info.name = "BMP";
    info.sized = bmp_size(b, n, &info.w, &info.h);
  } else if (starts(b, n, "II*\0", 4) || starts(b, n, "MM\0*", 4) || starts(b, n, "II+\0", 4) ||
             starts(b, n, "MM\0+", 4)) {
    info.format = NALA_SNIFF_TIFF, info.name = "TIFF";
    info.sized = tiff_size(b, n, &info.w, &info.h);
  } else if (n >= 12 && starts(b, n, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4)) {
    info.format = NALA_SNIFF_WEBP, info.name = "WebP";
    info.sized = webp_size(b, n, &info.w, &info.h);
  } else if (n >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6' &&
             (b[2] == ' ' || (b[2] >= '\t' && b[2] <= '\r'))) {
    info.format = NALA_SNIFF_PNM, info.name = "PNM";
    info.sized = pnm_size(b, n, &info.w, &info.h);
  } else if ((info.name = refused_name(b, n)) != NULL) {
    info.format = NALA_SNIFF_REFUSED;
  }
  return info;
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
