/* Label maps read with the values mmseg gets from PIL (datasets/label_png.c): every PNG colour type and
 * bit depth against PIL's own decoding (tests/fixtures/labels, tools/fixtures/make_label_fixtures.py),
 * the depths refused by name, and the issue-12 reproducer (a 1-bit grey Cityscapes-style ground truth
 * that OpenCV reads as 0/255) through the API, the seg dataset and `nala eval seg`. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nala/dataset.h"
#include "nala/image_io.h"
#include "tests/support/cli.h"
#include "tests/support/files.h"
#include "tests/support/suite.h"

#define LABELS NALA_FIXTURES "/labels/"
#define REPRO_1BIT NALA_FIXTURES "/reliability/label_1bit_grey_0or1.png"

static void write_bytes(const char *path, const void *bytes, size_t n) {
  FILE *f = fopen(path, "wb");
  ck_assert_msg(f != NULL, "cannot create %s", path);
  ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
  fclose(f);
}

START_TEST(every_pil_readable_depth_gives_pils_values) {
  static const char *read[] = {"grey1",    "grey1_adam7", "grey1_trns", "grey8",    "grey8_adam7",
                               "grey16",   "grey16_adam7_trns",         "palette1", "palette2",
                               "palette4", "palette8",    "palette8_short_trns_adam7"};
  for (size_t k = 0; k < sizeof read / sizeof read[0]; k++) {
    char path[512], want_path[600];
    snprintf(path, sizeof path, LABELS "%s.png", read[k]);
    snprintf(want_path, sizeof want_path, LABELS "%s.pil.u8", read[k]);
    size_t n_want, n_file;
    uint8_t *want = nala_test_read_bytes(want_path, &n_want), *file = nala_test_read_bytes(path, &n_file);
    nala_err err;
    nala_image lab, mem;
    ck_assert_msg(nala_image_read_labels(path, &lab, &err) == NALA_OK, "%s", err.msg);
    ck_assert_int_eq(nala_image_decode_labels(file, n_file, read[k], &mem, &err), NALA_OK);
    ck_assert(lab.h == 5 && lab.w == 13 && lab.c == 1 && lab.order == NALA_GRAY && n_want == 65);
    size_t bad = 0, first = 65;
    int max_value = 0;
    for (int y = 0; y < 5; y++)
      for (int x = 0; x < 13; x++) {
        uint8_t v = lab.data[y * lab.stride + x], w = want[y * 13 + x];
        if ((v != w || mem.data[y * mem.stride + x] != w) && bad++ == 0)
          first = (size_t)(y * 13 + x);
        max_value = v > max_value ? v : max_value;
      }
    printf("%-26s %zu of 65 pixels differ from PIL (max label %d)%s\n", read[k], bad, max_value,
           bad ? " <- first at index shown below" : "");
    ck_assert_msg(bad == 0, "%s: pixel %zu is %u, PIL gives %u", read[k], first, lab.data[first / 13 * lab.stride +
                  first % 13], want[first]);
    nala_image_free(&lab);
    nala_image_free(&mem);
    free(want);
    free(file);
  }
}
END_TEST

START_TEST(unsupported_layouts_refused_by_name) {
  static const struct {
    const char *file, *text;
  } cases[] = {
      {"grey2", "2-bit greyscale label maps are not supported: PIL (mmseg) rescales them to 0..255"},
      {"grey4", "4-bit greyscale label maps are not supported"},
      {"grey16_over255", "16-bit label value 262 at x=11 y=1 does not fit 8 bits (mmseg's astype(uint8) would wrap "
                         "it to 6)"},
      {"grey_alpha8", "got 8-bit grey+alpha (2 channels)"},
      {"rgb8", "got 8-bit RGB (3 channels)"},
      {"rgba8", "got 8-bit RGBA (4 channels)"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    char path[512];
    snprintf(path, sizeof path, LABELS "%s.png", cases[k].file);
    nala_err err;
    nala_image lab;
    nala_status st = nala_image_read_labels(path, &lab, &err);
    ck_assert_msg(st == NALA_E_FORMAT && strstr(err.msg, path) && strstr(err.msg, cases[k].text), "%s: %s (%s)",
                  cases[k].file, nala_status_string(st), err.msg);
    ck_assert_ptr_null(lab.data);
    printf("expected error: %s\n", err.msg);
  }
  /* Not a PNG: refused by name (a JPEG label map would be lossy anyway). */
  nala_err err;
  nala_image lab;
  const char *jpeg = NALA_FIXTURES "/images/color_37x53.jpg";
  ck_assert_int_eq(nala_image_read_labels(jpeg, &lab, &err), NALA_E_FORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "label maps are read from PNG files only (what mmseg's datasets ship); this "
                                        "is JPEG"));
  ck_assert_int_eq(nala_image_read_labels(NALA_FIXTURES "/reliability/image_dicom_gdcm_assert.dcm", &lab, &err),
                   NALA_E_UNSUPPORTED);
  ck_assert_ptr_nonnull(strstr(err.msg, "DICOM is not a supported image format"));
}
END_TEST

START_TEST(corrupt_label_pngs_are_errors) {
  size_t n;
  uint8_t *bytes = nala_test_read_bytes(LABELS "grey8.png", &n);
  nala_err err;
  nala_image lab;
  /* Every truncation and a flipped byte in each region (IHDR, IDAT data, CRC) ends in a status. */
  size_t refused = 0, decoded = 0;
  for (size_t len = 0; len < n; len++) {
    nala_status st = nala_image_decode_labels(bytes, len, "cut.png", &lab, &err);
    ck_assert_msg(st != NALA_OK, "a %zu-byte prefix of a %zu-byte PNG decoded", len, n);
    ck_assert_ptr_nonnull(strstr(err.msg, "cut.png: "));
    ck_assert_ptr_null(lab.data);
    refused++;
  }
  for (size_t at = 8; at < n; at++) {
    uint8_t kept = bytes[at];
    bytes[at] ^= 0x21;
    nala_status st = nala_image_decode_labels(bytes, n, "flip.png", &lab, &err);
    if (st == NALA_OK) {
      ck_assert(lab.h > 0 && lab.w > 0 && lab.data);
      decoded++;
    } else {
      ck_assert_ptr_nonnull(strstr(err.msg, "flip.png: "));
      ck_assert_ptr_null(lab.data);
      refused++;
    }
    nala_image_free(&lab);
    bytes[at] = kept;
  }
  /* libpng checks every CRC and the zlib checksum: no single flip goes unnoticed. */
  printf("label PNG damage: %zu refused, %zu decoded\n", refused, decoded);
  ck_assert_uint_eq(decoded, 0);
  bytes[29] ^= 1; /* IHDR CRC */
  ck_assert_int_eq(nala_image_decode_labels(bytes, n, "crc.png", &lab, &err), NALA_E_FORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "crc.png: corrupt PNG label map: IHDR: CRC error"));
  free(bytes);
}
END_TEST

START_TEST(issue12_one_bit_label_reads_zero_one) {
  nala_err err;
  nala_image lab;
  ck_assert_int_eq(nala_image_read_labels(REPRO_1BIT, &lab, &err), NALA_OK);
  ck_assert_int_eq(lab.h, 4);
  ck_assert_int_eq(lab.w, 16);
  size_t bad = 0;
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 16; x++)
      bad += lab.data[y * lab.stride + x] != (x >= 10); /* PIL: ten columns 0 (road), six 1 (sidewalk) */
  ck_assert_uint_eq(bad, 0);
  nala_image_free(&lab);
}
END_TEST

static void make_dir(const char *path) { ck_assert_msg(mkdir(path, 0755) == 0, "cannot create %s", path); }

/* A Cityscapes layout whose one ground truth is the 1-bit reproducer and whose prediction says road
 * everywhere: mmseg (PIL) scores road 40/64 = 62.5, sidewalk 0/24 = 0, mIoU 31.25, aAcc 62.5. Read as
 * OpenCV does (sidewalk = 255 = ignore), it scored road 100, mIoU 100. */
START_TEST(issue12_one_bit_label_through_dataset_and_eval_seg) {
  char root[512], path[1024];
  const char *tmp = getenv("TMPDIR");
  snprintf(root, sizeof root, "%s/nala_test_label_png_XXXXXX", tmp && *tmp ? tmp : "/tmp");
  ck_assert(mkdtemp(root));
  static const char *dirs[] = {"/leftImg8bit", "/leftImg8bit/val", "/leftImg8bit/val/aachen", "/gtFine", "/gtFine/val",
                               "/gtFine/val/aachen", "/pred"};
  for (size_t k = 0; k < sizeof dirs / sizeof dirs[0]; k++) {
    snprintf(path, sizeof path, "%s%s", root, dirs[k]);
    make_dir(path);
  }
  size_t n;
  uint8_t *gt = nala_test_read_bytes(REPRO_1BIT, &n);
  snprintf(path, sizeof path, "%s/gtFine/val/aachen/aachen_000000_000019_gtFine_labelTrainIds.png", root);
  write_bytes(path, gt, n);
  free(gt);
  nala_err err;
  nala_image pred;
  ck_assert_int_eq(nala_image_alloc(4, 16, 1, NALA_GRAY, &pred, &err), NALA_OK);
  memset(pred.data, 0, pred.stride * 4);
  snprintf(path, sizeof path, "%s/pred/aachen_000000_000019_leftImg8bit.png", root);
  ck_assert_int_eq(nala_image_write(path, &pred, &err), NALA_OK);
  snprintf(path, sizeof path, "%s/leftImg8bit/val/aachen/aachen_000000_000019_leftImg8bit.png", root);
  ck_assert_int_eq(nala_image_write(path, &pred, &err), NALA_OK);
  nala_image_free(&pred);

  /* The seg dataset reads the same values. */
  nala_dataset_cfg dc;
  ck_assert_int_eq(nala_dataset_cfg_init(NALA_DATASET_CITYSCAPES, root, &dc, &err), NALA_OK);
  snprintf(path, sizeof path, "%s/leftImg8bit/val", root);
  nala_dataset *ds;
  ck_assert_msg(nala_dataset_open(&dc, NULL, &ds, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(nala_dataset_size(ds), 1);
  nala_image lab;
  ck_assert_int_eq(nala_dataset_read_labels(ds, 0, &lab, &err), NALA_OK);
  int sidewalk = 0;
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 16; x++)
      sidewalk += lab.data[y * lab.stride + x] == 1;
  ck_assert_int_eq(sidewalk, 24);
  nala_image_free(&lab);
  ck_assert_int_eq(nala_dataset_read_labels(ds, 1, &lab, &err), NALA_E_ARG);
  nala_dataset_close(ds);

  char args[2048], *out = NULL, *errs = NULL;
  snprintf(args, sizeof args, "eval seg --dataset cityscapes --pred '%s/pred' --gt '%s/gtFine/val' --no-progress", root,
           root);
  int code = nala_run_cli(args, &out, &errs);
  printf("eval seg exit %d:\n%s%s\n", code, out ? out : "", errs ? errs : "");
  ck_assert_int_eq(code, 0);
  ck_assert_msg(strstr(out, "mIoU") && strstr(out, "31.25"), "no mIoU 31.25 in: %s", out);
  ck_assert_ptr_nonnull(strstr(out, "62.5"));
  free(out);
  free(errs);
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("label_png");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, every_pil_readable_depth_gives_pils_values);
  tcase_add_test(tc, unsupported_layouts_refused_by_name);
  tcase_add_test(tc, corrupt_label_pngs_are_errors);
  tcase_add_test(tc, issue12_one_bit_label_reads_zero_one);
  tcase_add_test(tc, issue12_one_bit_label_through_dataset_and_eval_seg);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
