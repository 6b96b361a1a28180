/* Which image formats nala reads and how: every accepted format and sample layout (grey, alpha,
 * 16-bit, float, palette, 1-bit) decodes to the 3 channels cv2.IMREAD_COLOR gives; the JPEG header
 * walk finds the frame header past everything libjpeg skips, so the pixel limit applies before
 * decoding; every other format is refused by name before a codec sees it; and the issue-12
 * reproducers (tests/fixtures/reliability) end in an error or the right image, through the API and
 * the CLI. Fixtures: tools/fixtures/make_image_format_fixtures.py (cv2 4.6). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nala/image_io.h"
#include "tests/support/cli.h"
#include "tests/support/files.h"
#include "tests/support/suite.h"

#define FORMATS NALA_FIXTURES "/images/formats/"
#define REPRO NALA_FIXTURES "/reliability/"

/* Bytes of img (BGR, or RGB swapped back) that differ from cv2's BGR pixels. */
static size_t diff_bgr(const nala_image *img, const uint8_t *want) {
  size_t bad = 0;
  for (int y = 0; y < img->h; y++)
    for (int x = 0; x < img->w; x++)
      for (int ch = 0; ch < 3; ch++) {
        int from = img->order == NALA_RGB ? 2 - ch : ch;
        bad += img->data[y * img->stride + x * 3 + from] != want[((size_t)y * img->w + x) * 3 + ch];
      }
  return bad;
}

/* Status and message of reading path; the message must name the file and contain want_text. */
static void expect_refused(const char *path, size_t max_pixels, nala_status want_status, const char *want_text) {
  nala_err err;
  nala_image img;
  nala_err_clear(&err);
  nala_status st = nala_image_read(path, NALA_BGR, max_pixels, &img, &err);
  ck_assert_msg(st == want_status, "%s: got %s (%s), want %s", path, nala_status_string(st), err.msg,
                nala_status_string(want_status));
  ck_assert_msg(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
  ck_assert_msg(strstr(err.msg, want_text) != NULL, "message lacks '%s': %s", want_text, err.msg);
  ck_assert_ptr_null(img.data);
  printf("expected error: %s\n", err.msg);
}

START_TEST(every_accepted_layout_decodes_like_cv2) {
  FILE *list = fopen(FORMATS "formats.txt", "r");
  ck_assert(list);
  char name[128];
  int h, w, files = 0;
  while (fscanf(list, "%127s %d %d", name, &h, &w) == 3) {
    char path[512], want_path[600];
    snprintf(path, sizeof path, FORMATS "%s", name);
    snprintf(want_path, sizeof want_path, "%s.bgr.u8", path);
    size_t n_want, n_file;
    uint8_t *want = nala_test_read_bytes(want_path, &n_want), *file = nala_test_read_bytes(path, &n_file);
    ck_assert_uint_eq(n_want, (size_t)h * w * 3);
    int decodable = 0;
    const char *format = nala_image_format(file, n_file, &decodable);
    ck_assert_msg(format && decodable, "%s: format %s not decodable", name, format ? format : "unknown");
    nala_err err;
    nala_image bgr, rgb, mem;
    ck_assert_msg(nala_image_read(path, NALA_BGR, 0, &bgr, &err) == NALA_OK, "%s", err.msg);
    ck_assert_msg(bgr.c == 3 && bgr.h == h && bgr.w == w, "%s: %dx%dx%d, cv2 %dx%dx3", name, bgr.h, bgr.w, bgr.c, h,
                  w);
    ck_assert_int_eq(nala_image_read(path, NALA_RGB, 0, &rgb, &err), NALA_OK);
    ck_assert_int_eq(nala_image_decode(file, n_file, name, NALA_BGR, 0, NALA_EXIF_APPLY, &mem, &err), NALA_OK);
    size_t bad_bgr = diff_bgr(&bgr, want), bad_rgb = diff_bgr(&rgb, want), bad_mem = diff_bgr(&mem, want);
    printf("%-28s %-5s %dx%d: %zu/%zu/%zu bytes differ from cv2 (BGR/RGB/memory)\n", name, format, h, w, bad_bgr,
           bad_rgb, bad_mem);
    ck_assert_uint_eq(bad_bgr + bad_rgb + bad_mem, 0);
    /* The pixel limit applies to every format from its header, before any decoding. */
    expect_refused(path, (size_t)h * w - 1, NALA_E_ARG, "before decoding");
    nala_image_free(&bgr);
    nala_image_free(&rgb);
    nala_image_free(&mem);
    free(want);
    free(file);
    files++;
  }
  fclose(list);
  ck_assert_int_ge(files, 28);
}
END_TEST

START_TEST(issue12_reproducers_through_the_api) {
  /* 128 zero bytes + DICM: GDCM asserted and killed the process; now refused by name. */
  expect_refused(REPRO "image_dicom_gdcm_assert.dcm", 0, NALA_E_UNSUPPORTED,
                 "DICOM is not a supported image format (JPEG, PNG, BMP, TIFF, WebP, PNM");
  /* Grey PFM came back with 1 channel labelled BGR. */
  expect_refused(REPRO "image_pfm_gray_min.pfm", 0, NALA_E_UNSUPPORTED, "PFM (float) is not a supported image format");
  expect_refused(REPRO "image_pfm_gray_1channel.pfm", 0, NALA_E_UNSUPPORTED, "PFM");
  /* A 715-byte JPEG claiming 16384x16384, with and without an RST marker after SOI: the marker used to
   * stop the header walk, so neither the limit nor the bytes-per-pixel bound applied (7 s, 1.6 GB). */
  static const char *claims[2] = {REPRO "image_jpeg_claims_16384sq.jpg", REPRO "image_jpeg_claims_16384sq_rst.jpg"};
  for (int k = 0; k < 2; k++) {
    expect_refused(claims[k], 1 << 24, NALA_E_ARG, "16384x16384 (WxH) = 268435456 pixels exceeds the limit");
    expect_refused(claims[k], 0, NALA_E_FORMAT, "header claims 16384x16384 (WxH) pixels but the file has only");
  }
  /* The same RST marker in a real 5x6 JPEG: libjpeg decodes it, so nala must too, and must see its size. */
  expect_refused(REPRO "image_jpeg_rst_before_sof.jpg", 29, NALA_E_ARG, "5x6 (WxH) = 30 pixels exceeds the limit");
  nala_err err;
  nala_image img;
  ck_assert_int_eq(nala_image_read(REPRO "image_jpeg_rst_before_sof.jpg", NALA_BGR, 30, &img, &err), NALA_OK);
  size_t n;
  uint8_t *want = nala_test_read_bytes(REPRO "image_jpeg_rst_before_sof.jpg.bgr.u8", &n);
  ck_assert_int_eq(img.h, 6);
  ck_assert_int_eq(img.w, 5);
  ck_assert_uint_eq(diff_bgr(&img, want), 0);
  free(want);
  nala_image_free(&img);
}
END_TEST

/* A JPEG of the given marker bytes after SOI, then the body of a real file from its first marker. */
static nala_status decode_jpeg_with(const uint8_t *inserted, size_t n_inserted, size_t max_pixels, nala_err *err) {
  size_t n_plain;
  uint8_t *plain = nala_test_read_bytes(FORMATS "jpeg_plain.jpg", &n_plain);
  uint8_t *bytes = malloc(n_plain + n_inserted);
  memcpy(bytes, plain, 2);
  memcpy(bytes + 2, inserted, n_inserted);
  memcpy(bytes + 2 + n_inserted, plain + 2, n_plain - 2);
  nala_image img;
  nala_status st =
      nala_image_decode(bytes, n_plain + n_inserted, "walk.jpg", NALA_BGR, max_pixels, NALA_EXIF_IGNORE, &img, err);
  if (st == NALA_OK)
    ck_assert(img.h == 6 && img.w == 11);
  nala_image_free(&img);
  free(bytes);
  free(plain);
  return st;
}

START_TEST(jpeg_header_walk_follows_libjpeg) {
  nala_err err;
  /* What libjpeg skips: the fixtures above decode; here the limit catches each one from the header. */
  static const struct {
    const char *what;
    const char *bytes;
    size_t n;
  } skipped[] = {
      {"RST7", "\xFF\xD7", 2},
      {"TEM", "\xFF\x01", 2},
      {"fill bytes", "\xFF\xFF\xFF", 3},
      {"stuffed FF 00 and stray bytes", "\xFF\x00stray", 7},
      {"COM", "\xFF\xFE\x00\x05hi!", 7},
      {"APP9", "\xFF\xE9\x00\x02", 4},
      {"DNL", "\xFF\xDC\x00\x04\x00\x06", 6},
      {"length word below 2", "\xFF\xE3\x00\x01", 4},
  };
  for (size_t k = 0; k < sizeof skipped / sizeof skipped[0]; k++) {
    ck_assert_msg(decode_jpeg_with((const uint8_t *)skipped[k].bytes, skipped[k].n, 66, &err) == NALA_OK, "%s: %s",
                  skipped[k].what, err.msg);
    nala_status st = decode_jpeg_with((const uint8_t *)skipped[k].bytes, skipped[k].n, 65, &err);
    ck_assert_msg(st == NALA_E_ARG && strstr(err.msg, "11x6 (WxH) = 66 pixels exceeds the limit of 65"), "%s: %s",
                  skipped[k].what, err.msg);
  }
  /* What libjpeg refuses before a frame header: nala refuses it too, without decoding. */
  static const struct {
    const char *what;
    const char *bytes;
    size_t n;
  } refused[] = {
      {"SOS before SOF", "\xFF\xDA\x00\x02", 4},
      {"EOI before SOF", "\xFF\xD9", 2},
      {"second SOI", "\xFF\xD8", 2},
      {"reserved marker", "\xFF\x02\x00\x02", 4},
      {"JPG13 marker", "\xFF\xFD\x00\x02", 4},
      {"APP0 longer than the file", "\xFF\xE0\xFF\xFF", 4},
  };
  for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++) {
    nala_status st = decode_jpeg_with((const uint8_t *)refused[k].bytes, refused[k].n, 0, &err);
    ck_assert_msg(st == NALA_E_FORMAT && strstr(err.msg, "walk.jpg: corrupt JPEG header"), "%s: %s (%s)",
                  refused[k].what, nala_status_string(st), err.msg);
  }
  printf("expected error: %s\n", err.msg);
}
END_TEST

START_TEST(other_formats_refused_by_name) {
  static const struct {
    const char *bytes;
    size_t n;
    const char *name;
  } cases[] = {
      {"GIF89a\x01\x00\x01\x00\x00\x00\x00", 13, "GIF"},
      {"\x00\x00\x00\x0CjP  \r\n\x87\n\x00\x00", 14, "JPEG 2000"},
      {"\xFF\x4F\xFF\x51\x00\x2F", 6, "JPEG 2000"},
      {"\x76\x2F\x31\x01\x02\x00\x00\x00", 8, "OpenEXR"},
      {"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X 1\n", 45, "Radiance HDR"},
      {"\x59\xA6\x6A\x95\x00\x00\x00\x01", 8, "Sun raster"},
      {"P7\nWIDTH 1\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\nENDHDR\n\x00", 47, "PAM"},
      {"PF\n1 1\n-1.0\n\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 24, "PFM"},
      {"8BPS\x00\x01", 6, "Photoshop PSD"},
      {"\x00\x00\x00\x1C" "ftypavif\x00\x00\x00\x00", 16, "HEIF/AVIF"},
      {"RIFF\x10\x00\x00\x00WAVEfmt ", 16, "RIFF without WEBP"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    const uint8_t *bytes = (const uint8_t *)cases[k].bytes;
    int decodable = 1;
    const char *name = nala_image_format(bytes, cases[k].n, &decodable);
    ck_assert_msg(name && strstr(name, cases[k].name) && !decodable, "%s: named %s", cases[k].name, name);
    nala_err err;
    nala_image img;
    nala_status st = nala_image_decode(bytes, cases[k].n, "x.img", NALA_RGB, 0, NALA_EXIF_APPLY, &img, &err);
    ck_assert_msg(st == NALA_E_UNSUPPORTED && strstr(err.msg, "x.img: ") && strstr(err.msg, cases[k].name) &&
                      strstr(err.msg, "is not a supported image format"),
                  "%s: %s", cases[k].name, err.msg);
    ck_assert_ptr_null(img.data);
  }
  /* Unrecognised bytes: named as unknown, with what they start with. */
  nala_err err;
  nala_image img;
  ck_assert_ptr_null(nala_image_format((const uint8_t *)"hello world", 11, NULL));
  ck_assert_int_eq(nala_image_decode((const uint8_t *)"hello world", 11, NULL, NALA_BGR, 0, 0, &img, &err),
                   NALA_E_FORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "<memory>: unknown image format or corrupt file (11 bytes starting 68 65"));
  printf("expected error: %s\n", err.msg);
  ck_assert_int_eq(nala_image_decode(NULL, 0, "none", NALA_BGR, 0, 0, &img, &err), NALA_E_FORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "none: empty file (0 bytes)"));
  ck_assert_int_eq(nala_image_decode(NULL, 5, "none", NALA_BGR, 0, 0, &img, &err), NALA_E_ARG);
}
END_TEST

/* A header a codec rejects in readHeader used to leave nala's preallocated buffer as the "decoded"
 * image (uninitialised pixels, NALA_OK): a PNG whose IHDR CRC is wrong, a BMP with a bit count of 7
 * (and a classic TIFF relabelled BigTIFF, which the header reader itself refuses). */
START_TEST(codec_header_failures_are_errors) {
  static const struct {
    const char *file;
    size_t at;
    uint8_t value;
  } cases[] = {{"png_bgra8.png", 29, 0}, {"bmp_bgr.bmp", 28, 7}, {"tiff_grey8.tif", 2, 0x2B}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    char path[512];
    snprintf(path, sizeof path, FORMATS "%s", cases[k].file);
    size_t n;
    uint8_t *bytes = nala_test_read_bytes(path, &n);
    bytes[cases[k].at] = bytes[cases[k].at] == cases[k].value ? (uint8_t)~cases[k].value : cases[k].value;
    nala_err err;
    nala_image img;
    nala_status st = nala_image_decode(bytes, n, cases[k].file, NALA_BGR, 0, NALA_EXIF_IGNORE, &img, &err);
    ck_assert_msg(st == NALA_E_FORMAT, "%s with byte %zu = %u: %s (%s)", cases[k].file, cases[k].at, cases[k].value,
                  nala_status_string(st), err.msg);
    ck_assert_ptr_null(img.data);
    printf("expected error: %s\n", err.msg);
    free(bytes);
  }
}
END_TEST

/* The backbone CLI reads images with --input: refused files exit 1 naming the file, nothing dumped. */
START_TEST(issue12_reproducers_through_the_cli) {
  char dump[256];
  const char *tmp = getenv("TMPDIR");
  snprintf(dump, sizeof dump, "%s/nala_test_image_formats_%ld.safetensors", tmp && *tmp ? tmp : "/tmp", (long)getpid());
  static const struct {
    const char *file, *text;
  } cases[] = {
      {"image_dicom_gdcm_assert.dcm", "DICOM is not a supported image format"},
      {"image_pfm_gray_1channel.pfm", "PFM (float) is not a supported image format"},
      {"image_jpeg_claims_16384sq_rst.jpg", "header claims 16384x16384"},
      {"image_jpeg_claims_16384sq.jpg", "header claims 16384x16384"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    char args[1024];
    snprintf(args, sizeof args, "backbone --model nalaformer_t --input '%s%s' --dump '%s'", REPRO, cases[k].file,
             dump);
    char *out = NULL, *err = NULL;
    int code = nala_run_cli(args, &out, &err);
    ck_assert_msg(code == 1, "%s: exit %d, stderr %s", cases[k].file, code, err);
    ck_assert_msg(err && strstr(err, cases[k].file) && strstr(err, cases[k].text), "%s: stderr %s", cases[k].file,
                  err);
    ck_assert_msg(access(dump, F_OK) != 0, "%s: something was written at %s", cases[k].file, dump);
    free(out);
    free(err);
  }
  char args[1024];
  snprintf(args, sizeof args, "backbone --model nalaformer_t --input '%simage_jpeg_rst_before_sof.jpg' --dump '%s'",
           REPRO, dump);
  ck_assert_int_eq(nala_run_cli(args, NULL, NULL), 0);
  ck_assert_int_eq(access(dump, F_OK), 0);
  unlink(dump);
}
END_TEST

int main(void) {
  Suite *s = suite_create("image_formats");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, every_accepted_layout_decodes_like_cv2);
  tcase_add_test(tc, issue12_reproducers_through_the_api);
  tcase_add_test(tc, jpeg_header_walk_follows_libjpeg);
  tcase_add_test(tc, other_formats_refused_by_name);
  tcase_add_test(tc, codec_header_failures_are_errors);
  tcase_add_test(tc, issue12_reproducers_through_the_cli);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
