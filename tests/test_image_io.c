/* Image and video I/O through the OpenCV shim. Fixtures: tests/fixtures/images (~130 KB), made by
 * tools/fixtures/make_preprocess_fixtures.py with Debian's python3-opencv 4.6. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nala/image_io.h"
#include "tests/support/files.h"
#include "tests/support/suite.h"

#define IMG(name) NALA_FIXTURES "/images/" name

/* Number of pixels that differ between two images of equal shape (rows compared over w*c bytes). */
static size_t count_diff(const nala_image *a, const nala_image *b) {
  ck_assert_int_eq(a->h, b->h);
  ck_assert_int_eq(a->w, b->w);
  ck_assert_int_eq(a->c, b->c);
  size_t diff = 0;
  for (int r = 0; r < a->h; r++)
    for (int x = 0; x < a->w * a->c; x++)
      diff += a->data[r * a->stride + x] != b->data[r * b->stride + x];
  return diff;
}

/* Temp path under $TMPDIR (or /tmp), unique per process, so a failed run never litters the tree. */
static void tmp_path(char *buf, size_t cap, const char *name) {
  const char *dir = getenv("TMPDIR");
  snprintf(buf, cap, "%s/nala_test_image_io_%ld_%s", dir && *dir ? dir : "/tmp", (long)getpid(), name);
}

START_TEST(labels_read_exact_values) {
  nala_err err;
  nala_image lab;
  ck_assert_int_eq(nala_image_read_labels(IMG("labels_29x31.png"), &lab, &err), NALA_OK);
  ck_assert_int_eq(lab.h, 29);
  ck_assert_int_eq(lab.w, 31);
  ck_assert_int_eq(lab.c, 1);
  size_t bad = 0;
  for (int y = 0; y < 29; y++)
    for (int x = 0; x < 31; x++) {
      int want = (y >= 3 && y < 9 && x >= 4 && x < 12) ? 255 : (y * 31 + x) % 151;
      bad += lab.data[y * lab.stride + x] != want;
    }
  ck_assert_uint_eq(bad, 0);
  nala_image_free(&lab);
  ck_assert_ptr_null(lab.data);
}
END_TEST

START_TEST(labels_refuse_color_and_16bit) {
  nala_err err;
  nala_image lab;
  ck_assert_int_eq(nala_image_read_labels(IMG("color_37x53.png"), &lab, &err), NALA_E_FORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "color_37x53.png"));
  ck_assert_ptr_nonnull(strstr(err.msg, "3 channel"));
  ck_assert_ptr_null(lab.data);
  ck_assert_int_eq(nala_image_read_labels(IMG("labels16_29x31.png"), &lab, &err), NALA_E_FORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "16-bit"));
  ck_assert_int_eq(nala_image_read_labels(IMG("no_such_file.png"), &lab, &err), NALA_E_IO);
  ck_assert_ptr_nonnull(strstr(err.msg, "no_such_file.png"));
}
END_TEST

START_TEST(png_round_trip_exact_rgb_bgr_gray) {
  nala_err err;
  nala_image bgr, rgb, back;
  ck_assert_int_eq(nala_image_read(IMG("color_37x53.png"), NALA_BGR, 0, &bgr, &err), NALA_OK);
  ck_assert_int_eq(nala_image_read(IMG("color_37x53.png"), NALA_RGB, 0, &rgb, &err), NALA_OK);
  ck_assert_int_eq(bgr.h, 37);
  ck_assert_int_eq(bgr.w, 53);
  ck_assert_int_eq(bgr.c, 3);
  ck_assert_int_eq(rgb.order, NALA_RGB);
  size_t swapped_bad = 0;
  for (int y = 0; y < 37; y++)
    for (int x = 0; x < 53; x++)
      for (int ch = 0; ch < 3; ch++)
        swapped_bad += bgr.data[y * bgr.stride + x * 3 + ch] != rgb.data[y * rgb.stride + x * 3 + 2 - ch];
  ck_assert_uint_eq(swapped_bad, 0);

  char path[512];
  /* An RGB image written and read back as BGR must equal the BGR read: order is honoured on write. */
  tmp_path(path, sizeof path, "rt.png");
  ck_assert_int_eq(nala_image_write(path, &rgb, &err), NALA_OK);
  ck_assert_int_eq(nala_image_read(path, NALA_BGR, 0, &back, &err), NALA_OK);
  ck_assert_uint_eq(count_diff(&bgr, &back), 0);
  nala_image_free(&back);

  /* Borrowed image with row padding (stride > w*c): only the w*c bytes of each row are written. */
  size_t stride = 53 * 3 + 13;
  uint8_t *padded = malloc(stride * 37);
  memset(padded, 0xAB, stride * 37);
  for (int y = 0; y < 37; y++)
    memcpy(padded + y * stride, bgr.data + y * bgr.stride, 53 * 3);
  nala_image borrowed = {.h = 37, .w = 53, .c = 3, .stride = stride, .data = padded, .order = NALA_BGR};
  ck_assert_int_eq(nala_image_write(path, &borrowed, &err), NALA_OK);
  ck_assert_int_eq(nala_image_read(path, NALA_BGR, 0, &back, &err), NALA_OK);
  ck_assert_uint_eq(count_diff(&bgr, &back), 0);
  nala_image_free(&back);
  free(padded);

  /* Labels written as PNG come back unchanged. */
  nala_image lab, lab_back;
  ck_assert_int_eq(nala_image_read_labels(IMG("labels_29x31.png"), &lab, &err), NALA_OK);
  ck_assert_int_eq(nala_image_write(path, &lab, &err), NALA_OK);
  ck_assert_int_eq(nala_image_read_labels(path, &lab_back, &err), NALA_OK);
  ck_assert_uint_eq(count_diff(&lab, &lab_back), 0);
  nala_image_free(&lab);
  nala_image_free(&lab_back);
  unlink(path);
  nala_image_free(&bgr);
  nala_image_free(&rgb);
}
END_TEST

START_TEST(jpeg_matches_cv2_and_ignores_exif_orientation) {
  nala_err err;
  size_t n;
  uint8_t *want = nala_test_read_bytes(IMG("color_37x53.jpg.bgr.u8"), &n);
  ck_assert_uint_eq(n, 37 * 53 * 3);
  nala_image ref = {.h = 37, .w = 53, .c = 3, .stride = 53 * 3, .data = want, .order = NALA_BGR};
  nala_image jpg, rot;
  ck_assert_int_eq(nala_image_read(IMG("color_37x53.jpg"), NALA_BGR, 0, &jpg, &err), NALA_OK);
  ck_assert_uint_eq(count_diff(&jpg, &ref), 0);
  /* cv2.imread's default would rotate this to 53x37; mmcv's 'color' flag keeps the stored layout. */
  ck_assert_int_eq(nala_image_read(IMG("exif_rot6_37x53.jpg"), NALA_BGR, 0, &rot, &err), NALA_OK);
  ck_assert_int_eq(rot.h, 37);
  ck_assert_int_eq(rot.w, 53);
  ck_assert_uint_eq(count_diff(&rot, &ref), 0);
  nala_image_free(&rot);
  /* NALA_EXIF_APPLY reproduces cv2.IMREAD_COLOR (mmcv's default 'color'): Orientation 6 is a
   * 90-degree clockwise turn, out(y, x) = in(H-1-x, y) with H = 37. */
  ck_assert_int_eq(nala_image_read_exif(IMG("exif_rot6_37x53.jpg"), NALA_BGR, 0, NALA_EXIF_APPLY, &rot, &err),
                   NALA_OK);
  ck_assert_int_eq(rot.h, 53);
  ck_assert_int_eq(rot.w, 37);
  size_t bad = 0;
  for (int y = 0; y < 53; y++)
    for (int x = 0; x < 37; x++)
      for (int ch = 0; ch < 3; ch++)
        bad += rot.data[y * rot.stride + x * 3 + ch] != jpg.data[(36 - x) * jpg.stride + y * 3 + ch];
  ck_assert_uint_eq(bad, 0);
  nala_image_free(&rot);
  ck_assert_int_eq(nala_image_read_exif(IMG("color_37x53.jpg"), NALA_BGR, 0, (nala_exif_mode)7, &rot, &err),
                   NALA_E_ARG);
  /* A whole JPEG inside the EXIF block (thumbnail) does not confuse the truncation check. */
  nala_image thumb;
  ck_assert_int_eq(nala_image_read(IMG("exif_thumb_37x53.jpg"), NALA_BGR, 0, &thumb, &err), NALA_OK);
  ck_assert_uint_eq(count_diff(&thumb, &ref), 0);
  nala_image_free(&thumb);
  nala_image_free(&jpg);
  free(want);
  /* Progressive JPEGs (several scans) decode exactly like cv2 too. */
  want = nala_test_read_bytes(IMG("progressive_37x53.jpg.bgr.u8"), &n);
  ck_assert_uint_eq(n, 37 * 53 * 3);
  ref.data = want;
  ck_assert_int_eq(nala_image_read(IMG("progressive_37x53.jpg"), NALA_BGR, 0, &jpg, &err), NALA_OK);
  ck_assert_uint_eq(count_diff(&jpg, &ref), 0);
  nala_image_free(&jpg);
  free(want);
  /* Gray files are read as 3 equal channels, as cv2.IMREAD_COLOR does. */
  nala_image gray;
  ck_assert_int_eq(nala_image_read(IMG("gray_21x17.png"), NALA_RGB, 0, &gray, &err), NALA_OK);
  ck_assert_int_eq(gray.c, 3);
  ck_assert_int_eq(gray.h, 21);
  ck_assert_int_eq(gray.w, 17);
  ck_assert_int_eq(gray.data[5 * gray.stride + 3 * 3], gray.data[5 * gray.stride + 3 * 3 + 2]);
  nala_image_free(&gray);
}
END_TEST

/* Every bad file gives a status and a message naming the file; out stays zeroed. */
static void expect_read_error(const char *path, size_t max_pixels, nala_status want_status, const char *want_text) {
  nala_err err;
  nala_image img;
  nala_err_clear(&err);
  nala_status st = nala_image_read(path, NALA_BGR, max_pixels, &img, &err);
  ck_assert_msg(st == want_status, "%s: got %s (%s)", path, nala_status_string(st), err.msg);
  ck_assert_msg(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
  ck_assert_msg(strstr(err.msg, want_text) != NULL, "message lacks '%s': %s", want_text, err.msg);
  ck_assert_ptr_null(img.data);
  printf("expected error: %s\n", err.msg);
}

START_TEST(bad_images_give_clear_errors) {
  expect_read_error(IMG("no_such_file.jpg"), 0, NALA_E_IO, "cannot open");
  expect_read_error(IMG("empty.png"), 0, NALA_E_FORMAT, "0 bytes");
  expect_read_error(IMG("truncated_37x53.jpg"), 0, NALA_E_FORMAT, "truncated");
  expect_read_error(IMG("exif_thumb_truncated_37x53.jpg"), 0, NALA_E_FORMAT, "truncated");
  expect_read_error(IMG("progressive_truncated_37x53.jpg"), 0, NALA_E_FORMAT, "truncated");
  expect_read_error(IMG("zero_width.png"), 0, NALA_E_FORMAT, "zero-sized image (0x37");
  expect_read_error(IMG("truncated_37x53.png"), 0, NALA_E_FORMAT, "truncated or corrupt PNG");
  expect_read_error(IMG("garbage.png"), 0, NALA_E_FORMAT, "corrupt");
  /* Cut inside the header chunks: OpenCV leaves a caller buffer untouched there, so only the chunk
   * walk before decoding catches it (the first 40 bytes of an 8x8 PNG). */
  expect_read_error(NALA_FIXTURES "/seg/ade20k/pred/ADE_val_g.png", 0, NALA_E_FORMAT, "truncated or corrupt PNG");
  expect_read_error(NALA_FIXTURES "/images", 0, NALA_E_IO, "Is a directory");
  expect_read_error(IMG("empty.png/inside.jpg"), 0, NALA_E_IO, "Not a directory");
  /* The limit is applied from the header, before decoding (this file's pixel data is 37x53). */
  expect_read_error(IMG("huge_header.png"), 1000000, NALA_E_ARG, "100000x100000");
  expect_read_error(IMG("color_37x53.png"), 37 * 53 - 1, NALA_E_ARG, "exceeds the limit of 1960");
  /* Without a limit, a header that no file of this size can back is refused before allocating. */
  expect_read_error(IMG("huge_header.png"), 0, NALA_E_FORMAT, "corrupt header");
  expect_read_error(IMG("color_37x53.jpg"), 100, NALA_E_ARG, "before decoding");
  nala_err err;
  nala_image img;
  ck_assert_int_eq(nala_image_read(IMG("color_37x53.png"), NALA_BGR, 37 * 53, &img, &err), NALA_OK);
  nala_image_free(&img);
  ck_assert_int_eq(nala_image_read(IMG("color_37x53.png"), NALA_GRAY, 0, &img, &err), NALA_E_ARG);
}
END_TEST

static mode_t process_umask;

START_TEST(write_matches_cv2_imwrite_bytes) {
  static const char *names[2] = {"cv2_written_37x53.jpg", "cv2_written_37x53.png"};
  nala_err err;
  nala_image img;
  ck_assert_int_eq(nala_image_read(IMG("color_37x53.png"), NALA_RGB, 0, &img, &err), NALA_OK);
  for (int k = 0; k < 2; k++) {
    char path[512], want_path[512];
    tmp_path(path, sizeof path, names[k]);
    snprintf(want_path, sizeof want_path, NALA_FIXTURES "/images/%s", names[k]);
    ck_assert_int_eq(nala_image_write(path, &img, &err), NALA_OK);
    struct stat info;
    ck_assert_int_eq(stat(path, &info), 0);
    ck_assert_int_eq(info.st_mode & 0777, 0666 & ~process_umask); /* not mkstemp's 0600 */
    size_t n_got, n_want;
    uint8_t *got = nala_test_read_bytes(path, &n_got), *want = nala_test_read_bytes(want_path, &n_want);
    printf("%s: nala %zu bytes, cv2 %zu bytes\n", names[k], n_got, n_want);
    ck_assert_uint_eq(n_got, n_want);
    ck_assert(memcmp(got, want, n_got) == 0);
    free(got);
    free(want);
    unlink(path);
  }
  nala_image_free(&img);
}
END_TEST

/* Truncations and byte flips of valid files: every read returns a status (the decoders must not
 * crash or overrun, which ASan checks) and errors name the file. */
START_TEST(corrupted_files_never_crash) {
  static const char *sources[3] = {"color_37x53.jpg", "color_37x53.png", "labels_29x31.png"};
  unsigned rng = 12345u;
  size_t n_ok = 0, n_err = 0, n_resized = 0;
  for (int k = 0; k < 3; k++) {
    char src[512], path[512];
    snprintf(src, sizeof src, NALA_FIXTURES "/images/%s", sources[k]);
    tmp_path(path, sizeof path, sources[k]);
    size_t n;
    uint8_t *orig = nala_test_read_bytes(src, &n);
    uint8_t *bytes = malloc(n);
    for (int trial = 0; trial < 60; trial++) {
      memcpy(bytes, orig, n);
      size_t len = n;
      if (trial < 20) {
        len = (size_t)trial * n / 20; /* truncated at 0%, 5%, ... 95% */
      } else {
        for (int flips = 0; flips < 1 + trial % 4; flips++) {
          rng = rng * 1103515245u + 12345u;
          bytes[(rng >> 8) % n] ^= (uint8_t)(1u << (rng >> 28) % 8);
        }
      }
      FILE *f = fopen(path, "wb");
      ck_assert(f);
      fwrite(bytes, 1, len, f);
      fclose(f);
      nala_err err;
      nala_image img;
      nala_status st = k < 2 ? nala_image_read(path, NALA_BGR, 1 << 20, &img, &err)
                             : nala_image_read_labels(path, &img, &err);
      if (st == NALA_OK) {
        /* A flipped size field can still decode (libjpeg pads missing rows): sizes stay in the limit. */
        ck_assert(img.h > 0 && img.w > 0 && (size_t)img.h * img.w <= 1 << 20 && img.data);
        n_resized += img.h != (k < 2 ? 37 : 29) || img.w != (k < 2 ? 53 : 31);
        n_ok++;
      } else {
        ck_assert_msg(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
        ck_assert_ptr_null(img.data);
        n_err++;
      }
      nala_image_free(&img);
    }
    unlink(path);
    free(bytes);
    free(orig);
  }
  printf("corrupted files: %zu decoded (%zu with another size), %zu refused\n", n_ok, n_resized, n_err);
  ck_assert_uint_ge(n_err, 60); /* every truncation at least */
}
END_TEST

START_TEST(write_errors_name_the_file) {
  nala_err err;
  nala_image img;
  ck_assert_int_eq(nala_image_alloc(4, 5, 3, NALA_BGR, &img, &err), NALA_OK);
  memset(img.data, 7, img.stride * 4);
  ck_assert_int_eq(nala_image_write("/nonexistent_dir_nala/x.png", &img, &err), NALA_E_IO);
  ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent_dir_nala/x.png"));
  ck_assert_int_eq(nala_image_write("out.bmpx", &img, &err), NALA_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.msg, "out.bmpx"));
  nala_image bad = img;
  bad.stride = 3; /* < w*c */
  ck_assert_int_eq(nala_image_write("x.png", &bad, &err), NALA_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.msg, "stride"));
  nala_image_free(&img);
}
END_TEST


/* Flat frame i: colour (40*i, 255-20*i, 100) in BGR, so read-back frames can be told apart. */
static void fill_frame(nala_image *f, int i) {
  for (int y = 0; y < f->h; y++)
    for (int x = 0; x < f->w; x++) {
      uint8_t *p = f->data + y * f->stride + x * 3;
      p[0] = (uint8_t)(40 * i), p[1] = (uint8_t)(255 - 20 * i), p[2] = 100;
    }
}

static int file_exists(const char *path) { return access(path, F_OK) == 0; }

START_TEST(video_write_read_back) {
  static const char *codecs[] = {"mp4v", NULL}; /* NULL = default (avc1, else mp4v) */
  for (int k = 0; k < 2; k++) {
    nala_err err;
    char path[512];
    tmp_path(path, sizeof path, k ? "default.mp4" : "mp4v.mp4");
    nala_video_writer *vw;
    ck_assert_int_eq(nala_video_writer_open(path, 64, 48, 12.5, codecs[k], &vw, &err), NALA_OK);
    nala_image frame;
    ck_assert_int_eq(nala_image_alloc(48, 64, 3, NALA_BGR, &frame, &err), NALA_OK);
    for (int i = 0; i < 6; i++) {
      fill_frame(&frame, i);
      ck_assert_int_eq(nala_video_write(vw, &frame, &err), NALA_OK);
      ck_assert_int_eq(file_exists(path), 0); /* nothing at the final path until close */
    }
    nala_image wrong;
    ck_assert_int_eq(nala_image_alloc(40, 64, 3, NALA_BGR, &wrong, &err), NALA_OK);
    ck_assert_int_eq(nala_video_write(vw, &wrong, &err), NALA_E_SHAPE);
    nala_image_free(&wrong);
    ck_assert_int_eq(nala_video_writer_close(vw, &err), NALA_OK);

    nala_video_reader *vr;
    ck_assert_int_eq(nala_video_open(path, &vr, &err), NALA_OK);
    nala_video_info info = nala_video_get_info(vr);
    printf("video %s: %dx%d fps=%g frames=%ld\n", codecs[k] ? codecs[k] : "default", info.w, info.h, info.fps,
           info.frame_count);
    ck_assert_int_eq(info.w, 64);
    ck_assert_int_eq(info.h, 48);
    ck_assert_double_eq_tol(info.fps, 12.5, 1e-9);
    ck_assert_int_eq(info.frame_count, 6);
    nala_image got_frame = {0};
    int got, n = 0;
    uint8_t *first_data = NULL;
    while (nala_video_read(vr, NALA_RGB, &got_frame, &got, &err) == NALA_OK && got) {
      if (!first_data)
        first_data = got_frame.data;
      ck_assert_ptr_eq(got_frame.data, first_data); /* the frame buffer is reused, not reallocated */
      ck_assert_int_eq(got_frame.order, NALA_RGB);
      /* Lossy codec: the flat colour comes back within a few levels (RGB order now). */
      const uint8_t *p = got_frame.data + 24 * got_frame.stride + 32 * 3;
      ck_assert_int_le(abs(p[2] - 40 * n), 6);
      ck_assert_int_le(abs(p[1] - (255 - 20 * n)), 6);
      ck_assert_int_le(abs(p[0] - 100), 6);
      n++;
    }
    ck_assert_int_eq(n, 6);
    nala_image_free(&got_frame);
    nala_video_close(vr);
    unlink(path);
    nala_image_free(&frame);
  }
}
END_TEST

START_TEST(video_errors_name_the_file) {
  nala_err err;
  nala_video_reader *vr = (nala_video_reader *)&err; /* must be reset to NULL on failure */
  ck_assert_int_eq(nala_video_open(IMG("no_such_video.mp4"), &vr, &err), NALA_E_IO);
  ck_assert_ptr_null(vr);
  ck_assert_ptr_nonnull(strstr(err.msg, "no_such_video.mp4"));
  ck_assert_int_eq(nala_video_open(NALA_FIXTURES "/images", &vr, &err), NALA_E_IO);
  ck_assert_ptr_nonnull(strstr(err.msg, "not a regular file"));
  ck_assert_int_eq(nala_video_open(IMG("empty.png"), &vr, &err), NALA_E_FORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "0 bytes"));
  ck_assert_int_eq(nala_video_open(IMG("garbage.png"), &vr, &err), NALA_E_FORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "garbage.png"));
  printf("expected error: %s\n", err.msg);

  /* A truncated mp4 (its index is written last) cannot be opened. */
  char path[512], cut[600];
  tmp_path(path, sizeof path, "cut_src.mp4");
  snprintf(cut, sizeof cut, "%s.cut.mp4", path);
  nala_video_writer *vw;
  nala_image frame;
  ck_assert_int_eq(nala_image_alloc(48, 64, 3, NALA_BGR, &frame, &err), NALA_OK);
  ck_assert_int_eq(nala_video_writer_open(path, 64, 48, 10, "mp4v", &vw, &err), NALA_OK);
  for (int i = 0; i < 4; i++) {
    fill_frame(&frame, i);
    ck_assert_int_eq(nala_video_write(vw, &frame, &err), NALA_OK);
  }
  ck_assert_int_eq(nala_video_writer_close(vw, &err), NALA_OK);
  size_t n;
  uint8_t *bytes = nala_test_read_bytes(path, &n);
  FILE *f = fopen(cut, "wb");
  ck_assert(f);
  fwrite(bytes, 1, n / 2, f);
  fclose(f);
  free(bytes);
  ck_assert_int_eq(nala_video_open(cut, &vr, &err), NALA_E_FORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, cut));
  printf("expected error: %s\n", err.msg);
  unlink(cut);
  unlink(path);

  /* A truncated mkv still opens (its header comes first) but ends early: an error, not a short video. */
  tmp_path(path, sizeof path, "cut_src.mkv");
  snprintf(cut, sizeof cut, "%s.cut.mkv", path);
  ck_assert_int_eq(nala_video_writer_open(path, 64, 48, 10, "mp4v", &vw, &err), NALA_OK);
  for (int i = 0; i < 20; i++) {
    fill_frame(&frame, i % 6);
    ck_assert_int_eq(nala_video_write(vw, &frame, &err), NALA_OK);
  }
  ck_assert_int_eq(nala_video_writer_close(vw, &err), NALA_OK);
  bytes = nala_test_read_bytes(path, &n);
  f = fopen(cut, "wb");
  ck_assert(f);
  fwrite(bytes, 1, n / 2, f);
  fclose(f);
  free(bytes);
  ck_assert_int_eq(nala_video_open(cut, &vr, &err), NALA_OK);
  ck_assert_int_eq(nala_video_get_info(vr).frame_count, 20);
  nala_image got_frame = {0};
  int got = 1, n_read = 0;
  nala_status st;
  while ((st = nala_video_read(vr, NALA_BGR, &got_frame, &got, &err)) == NALA_OK && got)
    n_read++;
  ck_assert_int_eq(st, NALA_E_FORMAT);
  ck_assert_int_eq(got, 0);
  ck_assert_int_lt(n_read, 20);
  ck_assert_ptr_nonnull(strstr(err.msg, "truncated"));
  ck_assert_ptr_nonnull(strstr(err.msg, cut));
  printf("expected error: %s\n", err.msg);
  nala_image_free(&got_frame);
  nala_video_close(vr);
  unlink(cut);
  unlink(path);

  /* An aborted writer leaves nothing behind; bad arguments are refused up front. */
  ck_assert_int_eq(nala_video_writer_open(path, 64, 48, 10, "mp4v", &vw, &err), NALA_OK);
  ck_assert_int_eq(nala_video_write(vw, &frame, &err), NALA_OK);
  nala_video_writer_abort(vw);
  ck_assert_int_eq(file_exists(path), 0);
  ck_assert_int_eq(nala_video_writer_open(path, 64, 48, 0, "mp4v", &vw, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_video_writer_open(path, 64, 48, 10, "mp4", &vw, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_video_writer_open("/nonexistent_dir_nala/v.mp4", 64, 48, 10, "mp4v", &vw, &err), NALA_E_IO);
  ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent_dir_nala/v.mp4"));
  ck_assert_int_eq(nala_video_open_camera(-1, &vr, &err), NALA_E_ARG);
  nala_image_free(&frame);
}
END_TEST

/* A camera index with no device: NALA_E_IO naming the camera and its device node, no reader. (No
 * fake camera here: a v4l2loopback device needs the kernel module, which a container cannot load.) */
START_TEST(missing_camera_is_named) {
  int index = -1;
  char node[32];
  for (int i = 0; i < 64 && index < 0; i++) {
    snprintf(node, sizeof node, "/dev/video%d", i);
    if (!file_exists(node))
      index = i;
  }
  if (index < 0) {
    printf("missing camera: /dev/video0..63 all exist; skipped\n");
    return;
  }
  nala_err err;
  nala_video_reader *vr = (nala_video_reader *)&err; /* must come back NULL */
  ck_assert_int_eq(nala_video_open_camera(index, &vr, &err), NALA_E_IO);
  ck_assert_ptr_null(vr);
  printf("missing camera %d: %s\n", index, err.msg);
  char want[64];
  snprintf(want, sizeof want, "camera %d (/dev/video%d): no such device", index, index);
  ck_assert_msg(strstr(err.msg, want) != NULL, "message lacks \"%s\": %s", want, err.msg);
}
END_TEST

START_TEST(convert_round_trips) {
  nala_err err;
  nala_image bgr, rgb, gray, back;
  ck_assert_int_eq(nala_image_read(IMG("color_37x53.png"), NALA_BGR, 0, &bgr, &err), NALA_OK);
  ck_assert_int_eq(nala_image_alloc(37, 53, 3, NALA_RGB, &rgb, &err), NALA_OK);
  ck_assert_int_eq(nala_image_alloc(37, 53, 3, NALA_BGR, &back, &err), NALA_OK);
  ck_assert_int_eq(nala_image_alloc(37, 53, 1, NALA_GRAY, &gray, &err), NALA_OK);
  ck_assert_int_eq(nala_image_convert(&bgr, &rgb, &err), NALA_OK);
  ck_assert_int_eq(rgb.data[0], bgr.data[2]);
  ck_assert_int_eq(nala_image_convert(&rgb, &back, &err), NALA_OK);
  ck_assert_uint_eq(count_diff(&bgr, &back), 0);
  ck_assert_int_eq(nala_image_convert(&bgr, &gray, &err), NALA_OK);
  /* cv2 BGR2GRAY: 0.299 R + 0.587 G + 0.114 B, rounded (fixed point, so allow 1 level). */
  const uint8_t *p = bgr.data;
  double want = 0.299 * p[2] + 0.587 * p[1] + 0.114 * p[0];
  ck_assert_double_le(fabs(gray.data[0] - want), 1.0);
  nala_image small;
  ck_assert_int_eq(nala_image_alloc(10, 53, 3, NALA_BGR, &small, &err), NALA_OK);
  ck_assert_int_eq(nala_image_convert(&bgr, &small, &err), NALA_E_SHAPE);
  ck_assert_int_eq(nala_image_resize(&bgr, &gray, NALA_INTERP_BILINEAR, &err), NALA_E_SHAPE);
  nala_image_free(&small);
  nala_image_free(&bgr);
  nala_image_free(&rgb);
  nala_image_free(&gray);
  nala_image_free(&back);
}
END_TEST

int main(void) {
  process_umask = umask(022); /* single-threaded here: read it by setting it back */
  umask(process_umask);
  Suite *s = suite_create("image_io");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120); /* check's 4 s default is too tight for ASan on a shared machine */
  tcase_add_test(tc, labels_read_exact_values);
  tcase_add_test(tc, labels_refuse_color_and_16bit);
  tcase_add_test(tc, png_round_trip_exact_rgb_bgr_gray);
  tcase_add_test(tc, jpeg_matches_cv2_and_ignores_exif_orientation);
  tcase_add_test(tc, bad_images_give_clear_errors);
  tcase_add_test(tc, write_matches_cv2_imwrite_bytes);
  tcase_add_test(tc, write_errors_name_the_file);
  tcase_add_test(tc, corrupted_files_never_crash);
  tcase_add_test(tc, convert_round_trips);
  tcase_add_test(tc, missing_camera_is_named);
  tcase_add_test(tc, video_write_read_back);
  tcase_add_test(tc, video_errors_name_the_file);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
