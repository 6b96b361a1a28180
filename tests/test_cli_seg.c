/* `nala seg` on images, folders and video, and `nala eval seg` of a model over a dataset, end to end
 * on a tiny seeded segmentor (tests/fixtures/seg_cli/tiny_fpn_ade20k.json: a custom 8/16-channel
 * NaLaFormer, FPN neck, FPNHead, 150 classes, no test-time resize) and inputs generated here: palette
 * PNG round trip, the overlay blend against numpy's arithmetic, video frame count / fps / size, a
 * truncated clip, a folder with a bad image, unwritable outputs, sharded evaluation merged. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nala/image_io.h"
#include "tests/support/cli.h"
#include "tests/support/files.h"
#include "tests/support/frames.h"
#include "tests/support/suite.h"
#include "tools/seg_contact_sheet.h"
#include "tools/seg_overlay.h"
#include "tools/seg_palette.h"

#define CONFIG NALA_FIXTURES "/seg_cli/tiny_fpn_ade20k.json"
#define H 64
#define W 96

static char dir[256];
static char *out_text, *err_text;

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...) {
  char args[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  /* One thread per model run: on a loaded 2-core machine OpenMP barriers make tiny models crawl. */
  if (strstr(args, "--config") && !strstr(args, "--threads") && !strstr(args, "--merge"))
    strncat(args, " --threads 1", sizeof args - strlen(args) - 1);
  free(out_text), free(err_text);
  out_text = err_text = NULL;
  return nala_run_cli(args, &out_text, &err_text);
}

static void stderr_has(const char *needle) {
  ck_assert_msg(err_text && strstr(err_text, needle), "stderr lacks \"%s\": %s", needle, err_text);
}

static void stdout_has(const char *needle) {
  ck_assert_msg(out_text && strstr(out_text, needle), "stdout lacks \"%s\": %s", needle, out_text);
}

/* A fresh folder per test (mkdtemp, under $TMPDIR else /tmp). A pid-named one was reused: a failed
 * test skips the teardown and leaves its folder, and with pid_max 32768 a later run's test could get
 * the same pid and start among the stale files. */
static void setup(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/nala_test_cli_seg_XXXXXX", tmp && *tmp ? tmp : "/tmp");
  ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(system(cmd), 0);
  free(out_text), free(err_text);
  out_text = err_text = NULL;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

static void write_image(const char *path, int h, int w, int k) {
  nala_err err;
  nala_image img;
  ck_assert_int_eq(nala_image_alloc(h, w, 3, NALA_BGR, &img, &err), NALA_OK);
  nala_test_moving_frame(&img, k);
  ck_assert_msg(nala_image_write(path, &img, &err) == NALA_OK, "%s", err.msg);
  nala_image_free(&img);
}

static void write_clip(const char *path, int frames, double fps) {
  nala_err err;
  nala_video_writer *vw;
  ck_assert_msg(nala_video_writer_open(path, W, H, fps, "mp4v", &vw, &err) == NALA_OK, "%s", err.msg);
  nala_image frame;
  ck_assert_int_eq(nala_image_alloc(H, W, 3, NALA_BGR, &frame, &err), NALA_OK);
  for (int k = 0; k < frames; k++) {
    nala_test_moving_frame(&frame, k);
    ck_assert_int_eq(nala_video_write(vw, &frame, &err), NALA_OK);
  }
  ck_assert_int_eq(nala_video_writer_close(vw, &err), NALA_OK);
  nala_image_free(&frame);
}

/* Decodes every frame of path; keeps frame `keep` (if >= 0) in *kept. Returns the frame count. */
static int decode_all(const char *path, nala_video_info *info, int keep, nala_image *kept) {
  nala_err err;
  nala_video_reader *vr;
  ck_assert_msg(nala_video_open(path, &vr, &err) == NALA_OK, "%s", err.msg);
  *info = nala_video_get_info(vr);
  nala_image frame = {0};
  int got = 0, n = 0;
  nala_status st;
  while ((st = nala_video_read(vr, NALA_BGR, &frame, &got, &err)) == NALA_OK && got) {
    if (n == keep) {
      ck_assert_int_eq(nala_image_alloc(frame.h, frame.w, 3, NALA_BGR, kept, &err), NALA_OK);
      for (int y = 0; y < frame.h; y++)
        memcpy(kept->data + y * kept->stride, frame.data + y * frame.stride, (size_t)frame.w * 3);
    }
    n++;
  }
  ck_assert_msg(st == NALA_OK, "%s", err.msg);
  nala_image_free(&frame);
  nala_video_close(vr);
  return n;
}

static double mean_abs_diff(const nala_image *a, const nala_image *b) {
  ck_assert(a->h == b->h && a->w == b->w && a->c == b->c);
  double sum = 0;
  for (int y = 0; y < a->h; y++)
    for (int x = 0; x < a->w * a->c; x++)
      sum += abs(a->data[y * a->stride + x] - b->data[y * b->stride + x]);
  return sum / ((double)a->h * a->w * a->c);
}

/* The palette PNG keeps every index (0..255, past the palette's 150 colours too) and carries
 * mmseg's ADE20K colours in its PLTE chunk. */
START_TEST(palette_png_round_trip) {
  uint8_t pal[256][3];
  ck_assert_int_eq(seg_palette_fill(SEG_PALETTE_ADE20K, 150, pal), 150);
  /* Spot values and a weighted checksum of mmseg's tables (ade.py / cityscapes.py METAINFO). */
  long sum = 0;
  for (int i = 0; i < 150; i++)
    sum += (long)(pal[i][0] + pal[i][1] + pal[i][2]) * (i + 1);
  ck_assert_int_eq(sum, 4469351);
  ck_assert(pal[0][0] == 120 && pal[0][1] == 120 && pal[0][2] == 120);
  ck_assert(pal[149][0] == 92 && pal[149][1] == 0 && pal[149][2] == 255);
  uint8_t cs[256][3];
  ck_assert_int_eq(seg_palette_fill(SEG_PALETTE_CITYSCAPES, 19, cs), 19);
  sum = 0;
  for (int i = 0; i < 19; i++)
    sum += (long)(cs[i][0] + cs[i][1] + cs[i][2]) * (i + 1);
  ck_assert_int_eq(sum, 50393);
  ck_assert(cs[18][0] == 119 && cs[18][1] == 11 && cs[18][2] == 32);
  ck_assert_int_eq(seg_palette_fill(SEG_PALETTE_OTHER, 257, cs), 0);

  nala_err err;
  nala_image lab;
  ck_assert_int_eq(nala_image_alloc(16, 17, 1, NALA_GRAY, &lab, &err), NALA_OK);
  for (int y = 0; y < 16; y++)
    for (int x = 0; x < 17; x++)
      lab.data[y * lab.stride + x] = (uint8_t)((y * 17 + x) % 256);
  char path[512];
  snprintf(path, sizeof path, "%s/labels.png", dir);
  ck_assert_msg(nala_image_write_labels(path, &lab, (const uint8_t(*)[3])pal, 150, &err) == NALA_OK, "%s", err.msg);
  nala_image back;
  ck_assert_msg(nala_image_read_labels(path, &back, &err) == NALA_OK, "%s", err.msg);
  ck_assert(back.h == 16 && back.w == 17 && back.c == 1);
  int differ = 0;
  for (int y = 0; y < 16; y++)
    for (int x = 0; x < 17; x++)
      differ += back.data[y * back.stride + x] != lab.data[y * lab.stride + x];
  printf("palette PNG round trip: %d of %d label values differ\n", differ, 16 * 17);
  ck_assert_int_eq(differ, 0);
  size_t n;
  uint8_t *png = nala_test_read_bytes(path, &n);
  ck_assert(n > 33 + 8 + 450);
  ck_assert_int_eq(png[24], 8); /* IHDR bit depth */
  ck_assert_int_eq(png[25], 3); /* colour type: palette */
  ck_assert(!memcmp(png + 33 + 4, "PLTE", 4));
  ck_assert_int_eq((png[33] << 24 | png[34] << 16 | png[35] << 8 | png[36]), 150 * 3);
  ck_assert(!memcmp(png + 41, pal, 150 * 3));
  free(png);
  /* Bad arguments and an unwritable path are refused by name. */
  ck_assert_int_eq(nala_image_write_labels(path, &lab, (const uint8_t(*)[3])pal, 0, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_image_write_labels(path, &lab, (const uint8_t(*)[3])pal, 257, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_image_write_labels("/nonexistent_nala_dir/l.png", &lab, (const uint8_t(*)[3])pal, 150, &err),
                   NALA_E_IO);
  ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent_nala_dir/l.png"));
  nala_image_free(&lab);
  nala_image_free(&back);
}
END_TEST

/* The blend is numpy's (image * (1 - a) + colour * a).astype(np.uint8) in float64: values from
 * Python, including truncations such as 3 * 0.7 + 3 * 0.3 = 2.9999999999999996 -> 2. */
START_TEST(overlay_blend_is_numpys) {
  static const struct {
    int img, col;
    double a;
    int want;
  } cases[] = {{101, 200, 0.3, 130}, {0, 255, 0.5, 127}, {1, 0, 0.5, 0},    {255, 255, 0.5, 255}, {200, 7, 0.8, 45},
               {255, 254, 0.9, 254}, {3, 3, 0.3, 2},     {1, 31, 0.3, 9},   {0, 180, 0.35, 62},   {77, 33, 0.35, 61}};
  seg_overlay_lut *lut = malloc(sizeof *lut);
  ck_assert_ptr_nonnull(lut);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    seg_overlay_lut_init(lut, cases[i].a);
    ck_assert_msg(lut->v[cases[i].img][cases[i].col] == cases[i].want, "img %d colour %d alpha %g: %d, numpy %d",
                  cases[i].img, cases[i].col, cases[i].a, lut->v[cases[i].img][cases[i].col], cases[i].want);
  }
  /* Colours follow the image's channel order; labels past the palette are drawn black. */
  seg_overlay_lut_init(lut, 1.0);
  uint8_t pal[2][3] = {{10, 20, 30}, {40, 50, 60}}, labels[3] = {0, 1, 7};
  uint8_t px[9] = {0}, outpx[9];
  nala_image img = {.h = 1, .w = 3, .c = 3, .stride = 9, .data = px, .order = NALA_BGR};
  nala_image out = {.h = 1, .w = 3, .c = 3, .stride = 9, .data = outpx, .order = NALA_BGR};
  seg_overlay_draw(&img, labels, 3, (const uint8_t(*)[3])pal, 2, lut, &out);
  static const uint8_t want[9] = {30, 20, 10, 60, 50, 40, 0, 0, 0};
  ck_assert(!memcmp(outpx, want, 9));
  free(lut);
}
END_TEST

/* A clip of N frames comes out as an overlay video of N frames at the same fps and size, and its
 * first and last frames are the overlays `nala seg` draws on those decoded frames as images. */
START_TEST(video_overlay_keeps_frames_fps_and_size) {
  enum { N = 9 };
  char clip[512], out[512];
  snprintf(clip, sizeof clip, "%s/clip.mp4", dir);
  snprintf(out, sizeof out, "%s/overlay.mp4", dir);
  write_clip(clip, N, 12.5);
  ck_assert_int_eq(run("seg --config %s --input %s --out %s --overlay --threads 1 --no-progress", CONFIG, clip, out), 0);
  stdout_has("9 frame(s)");
  static const char *const stages[] = {"decode", "preprocess", "backbone", "neck+head", "postprocess", "encode"};
  for (int i = 0; i < 6; i++)
    stdout_has(stages[i]);
  stdout_has("frames/s overall");
  nala_video_info info;
  nala_image first_in = {0}, last_in = {0}, first_out = {0}, last_out = {0};
  ck_assert_int_eq(decode_all(clip, &info, 0, &first_in), N);
  ck_assert_int_eq(decode_all(clip, &info, N - 1, &last_in), N);
  ck_assert_int_eq(decode_all(out, &info, 0, &first_out), N);
  ck_assert_int_eq(decode_all(out, &info, N - 1, &last_out), N);
  printf("overlay video: %dx%d at %g fps, %ld frames announced, %d decoded\n", info.w, info.h, info.fps,
         info.frame_count, N);
  ck_assert_int_eq(info.w, W);
  ck_assert_int_eq(info.h, H);
  ck_assert_double_eq_tol(info.fps, 12.5, 1e-9);
  ck_assert_int_eq(info.frame_count, N);
  /* The same frames through the image path give the exact overlays; the video holds them up to
   * its codec's loss, far closer than to the plain frame or to the other end's overlay. */
  const nala_image *ins[2] = {&first_in, &last_in}, *outs[2] = {&first_out, &last_out};
  nala_image want[2];
  for (int k = 0; k < 2; k++) {
    char png[512], lab[512], ov[512];
    snprintf(png, sizeof png, "%s/frame%d.png", dir, k);
    snprintf(lab, sizeof lab, "%s/frame%d_labels.png", dir, k);
    snprintf(ov, sizeof ov, "%s/frame%d_labels_overlay.png", dir, k);
    nala_err err;
    ck_assert_int_eq(nala_image_write(png, ins[k], &err), NALA_OK);
    ck_assert_int_eq(run("seg --config %s --input %s --out %s --overlay --threads 1", CONFIG, png, lab), 0);
    ck_assert_int_eq(nala_image_read(ov, NALA_BGR, 0, &want[k], &err), NALA_OK);
  }
  for (int k = 0; k < 2; k++) {
    double to_overlay = mean_abs_diff(outs[k], &want[k]), to_plain = mean_abs_diff(outs[k], ins[k]),
           to_other = mean_abs_diff(outs[k], &want[1 - k]);
    printf("video frame %s: mean |diff| %.2f to its overlay, %.2f to the plain frame, %.2f to the other overlay\n",
           k ? "last" : "first", to_overlay, to_plain, to_other);
    ck_assert(to_overlay < 12.0); /* mp4v at its default bitrate on a noisy 96x64 frame: 5 to 9 */
    ck_assert(to_overlay * 3 < to_plain && to_overlay * 3 < to_other);
  }
  /* Frames in order, none dropped or repeated: output frame k is nearest to input frame k of all N. */
  nala_image in_k[N], out_k[N];
  for (int k = 0; k < N; k++) {
    ck_assert_int_eq(decode_all(clip, &info, k, &in_k[k]), N);
    ck_assert_int_eq(decode_all(out, &info, k, &out_k[k]), N);
  }
  int in_place = 0;
  double worst_margin = 1e9;
  for (int k = 0; k < N; k++) {
    int best = -1;
    double d_best = 1e9, d_own = mean_abs_diff(&out_k[k], &in_k[k]);
    for (int j = 0; j < N; j++) {
      double d = mean_abs_diff(&out_k[k], &in_k[j]);
      if (d < d_best)
        d_best = d, best = j;
      if (j != k && d - d_own < worst_margin)
        worst_margin = d - d_own;
    }
    in_place += best == k;
  }
  printf("video frames in order: %d of %d output frames nearest to their own input frame (closest other one "
         "%.2f further)\n", in_place, N, worst_margin);
  ck_assert_int_eq(in_place, N);
  for (int k = 0; k < N; k++)
    nala_image_free(&in_k[k]), nala_image_free(&out_k[k]);
  nala_image_free(&want[0]), nala_image_free(&want[1]);
  nala_image_free(&first_in), nala_image_free(&last_in), nala_image_free(&first_out), nala_image_free(&last_out);
  /* --limit stops early, still a complete file; stderr is a pipe here, so progress comes as plain
   * lines (no bar redrawn with carriage returns). */
  ck_assert_int_eq(run("seg --config %s --input %s --out %s --limit 4", CONFIG, clip, out), 0);
  ck_assert_int_eq(decode_all(out, &info, -1, NULL), 4);
  stderr_has("nala seg: 4/4 frames, ");
  ck_assert_ptr_null(strchr(err_text, '\r'));
}
END_TEST

/* The number after `label` in the last run's stdout; -1 when absent and optional. */
static double figure_of_run(const char *label, int optional) {
  const char *p = out_text ? strstr(out_text, label) : NULL;
  if (!p && optional)
    return -1.0;
  ck_assert_msg(p != NULL, "no \"%s\" in: %s", label, out_text);
  return atof(p + strlen(label));
}

/* The CLI reports the heap in use where glibc's mallinfo2 measures it (not under the sanitizers). */
#if defined(__SANITIZE_ADDRESS__)
#define HEAP_REPORTED 0
#else
#define HEAP_REPORTED 1
#endif

/* One frame in flight, buffers reused: the heap in use at the end of 180 frames is that of 60 (within
 * 0.5 MB: a leak of one 96x64 overlay per frame would add 2.2 MB), and the peak RSS grows by less
 * than 8 MB. The peak RSS alone was flaky at a 2 MB margin (one failure in a loaded ctest -j2 run,
 * 93.0 to 93.7 MB in 18 quiet runs here): it also counts library pages a run happens to fault in and
 * the free chunks of malloc's per-thread arenas, whose assignment to FFmpeg's threads is timing-
 * dependent. tests/test_frame_alloc.c proves the per-frame heap exactly flat in-process. Under ASan
 * freed memory sits in its quarantine, so there the numbers are printed, not compared. */
START_TEST(memory_stays_flat_over_a_clip) {
  char clip[512], out[512];
  snprintf(clip, sizeof clip, "%s/long.mp4", dir);
  snprintf(out, sizeof out, "%s/long_out.mp4", dir);
  write_clip(clip, 180, 25);
  ck_assert_int_eq(run("seg --config %s --input %s --out %s --limit 60 --no-progress", CONFIG, clip, out), 0);
  double short_mb = figure_of_run("peak RSS ", 0), short_heap = figure_of_run("heap in use at the end ", !HEAP_REPORTED);
  ck_assert_int_eq(run("seg --config %s --input %s --out %s --no-progress", CONFIG, clip, out), 0);
  stdout_has("180 frame(s)");
  double long_mb = figure_of_run("peak RSS ", 0), long_heap = figure_of_run("heap in use at the end ", !HEAP_REPORTED);
  printf("peak RSS: %.1f MB after 60 frames, %.1f MB after 180; heap in use at the end %.3f MB and %.3f MB\n",
         short_mb, long_mb, short_heap, long_heap);
#if !defined(__SANITIZE_ADDRESS__)
  ck_assert_msg(long_heap - short_heap < 0.5, "heap in use grew from %.3f to %.3f MB", short_heap, long_heap);
  ck_assert_msg(long_mb - short_mb < 8.0, "peak RSS grew from %.1f to %.1f MB", short_mb, long_mb);
#endif
}
END_TEST

/* A clip cut in half: the error names the input and the frame, and the frames done before it are a
 * playable video. */
START_TEST(truncated_clip_keeps_a_playable_partial_file) {
  char clip[512], cut[512], out[512];
  snprintf(clip, sizeof clip, "%s/clip.mkv", dir);
  snprintf(cut, sizeof cut, "%s/cut.mkv", dir);
  snprintf(out, sizeof out, "%s/partial.mp4", dir);
  write_clip(clip, 20, 10);
  size_t n;
  uint8_t *bytes = nala_test_read_bytes(clip, &n);
  FILE *f = fopen(cut, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(bytes, 1, n / 2, f), n / 2);
  fclose(f);
  free(bytes);
  ck_assert_int_eq(run("seg --config %s --input %s --out %s --no-progress", CONFIG, cut, out), 1);
  printf("truncated clip: %s", err_text);
  stderr_has(cut);
  stderr_has("truncated");
  nala_video_info info;
  int frames = decode_all(out, &info, -1, NULL);
  ck_assert(frames > 0 && frames < 20);
  char want[160];
  snprintf(want, sizeof want, "frame %d cannot be read", frames + 1);
  stderr_has(want);
  snprintf(want, sizeof want, "kept the %d frame(s)", frames);
  stderr_has(want);
  ck_assert_int_eq(info.w, W);
  ck_assert_int_eq(info.h, H);
}
END_TEST

/* A folder with one unreadable image: the others are segmented (label PNG + overlay, subfolders
 * mirrored), the bad one is named, exit 1. The overlay is the blend of the label PNG's colours. */
START_TEST(folder_with_an_unreadable_image) {
  char in[512], out[512], path[600];
  snprintf(in, sizeof in, "%s/in", dir);
  snprintf(out, sizeof out, "%s/out", dir);
  snprintf(path, sizeof path, "%s/sub", in);
  ck_assert_int_eq(system((snprintf(path, sizeof path, "mkdir -p %s/in/sub", dir), path)), 0);
  snprintf(path, sizeof path, "%s/a.png", in);
  write_image(path, H, W, 1);
  snprintf(path, sizeof path, "%s/sub/c.jpg", in);
  write_image(path, 48, 40, 2); /* another size: a second plan */
  snprintf(path, sizeof path, "%s/b.png", in);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  fputs("this is not an image", f);
  fclose(f);
  snprintf(path, sizeof path, "%s/sub/c.png", in); /* same outputs as sub/c.jpg: refused by name */
  write_image(path, 16, 16, 3);
  ck_assert_int_eq(run("seg --config %s --input %s --out %s --overlay --opacity 0.3 --no-progress", CONFIG, in, out),
                   1);
  stderr_has("b.png");
  stderr_has("sub/c.png: not segmented: ");
  stdout_has("2 of 4 image(s)");
  snprintf(path, sizeof path, "%s/b.png", out);
  ck_assert(!exists(path));
  snprintf(path, sizeof path, "%s/sub/c.png", out);
  nala_err err;
  nala_image lab;
  ck_assert_int_eq(nala_image_read_labels(path, &lab, &err), NALA_OK);
  ck_assert(lab.h == 48 && lab.w == 40); /* sub/c.jpg's, not sub/c.png's */
  nala_image_free(&lab);
  snprintf(path, sizeof path, "%s/sub/c_overlay.png", out);
  ck_assert(exists(path));
  /* a: labels are 64x96 class indices; the overlay is the image blended with their ADE20K colours. */
  nala_image img, ov, want;
  snprintf(path, sizeof path, "%s/a.png", in);
  ck_assert_int_eq(nala_image_read(path, NALA_BGR, 0, &img, &err), NALA_OK);
  snprintf(path, sizeof path, "%s/a.png", out);
  ck_assert_msg(nala_image_read_labels(path, &lab, &err) == NALA_OK, "%s", err.msg);
  ck_assert(lab.h == H && lab.w == W);
  int max_label = 0;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      max_label = lab.data[y * lab.stride + x] > max_label ? lab.data[y * lab.stride + x] : max_label;
  ck_assert_int_lt(max_label, 150);
  snprintf(path, sizeof path, "%s/a_overlay.png", out);
  ck_assert_int_eq(nala_image_read(path, NALA_BGR, 0, &ov, &err), NALA_OK);
  ck_assert_int_eq(nala_image_alloc(H, W, 3, NALA_BGR, &want, &err), NALA_OK);
  uint8_t pal[256][3];
  seg_palette_fill(SEG_PALETTE_ADE20K, 150, pal);
  seg_overlay_lut *lut = malloc(sizeof *lut);
  seg_overlay_lut_init(lut, 0.3);
  seg_overlay_draw(&img, lab.data, lab.stride, (const uint8_t(*)[3])pal, 150, lut, &want);
  double d = mean_abs_diff(&ov, &want);
  printf("folder: overlay vs recomputed blend: mean |diff| %g (max label %d)\n", d, max_label);
  ck_assert(d == 0.0);
  free(lut);
  nala_image_free(&img), nala_image_free(&lab), nala_image_free(&ov), nala_image_free(&want);
}
END_TEST

/* Outputs that cannot be written fail before the model is built (its seeded-weights notice never
 * appears) and before any input is read, for image, folder and video inputs. */
START_TEST(unwritable_out_fails_before_work) {
  char file[512], img[512], clip[512];
  snprintf(file, sizeof file, "%s/plain_file", dir);
  FILE *f = fopen(file, "wb");
  ck_assert_ptr_nonnull(f);
  fclose(f);
  snprintf(img, sizeof img, "%s/a.png", dir);
  write_image(img, H, W, 0);
  snprintf(clip, sizeof clip, "%s/clip.mp4", dir);
  write_clip(clip, 3, 10);
  const char *inputs[3] = {img, dir, clip}, *outs[3] = {"x.png", "folder", "v.mp4"};
  for (int k = 0; k < 3; k++) {
    ck_assert_int_eq(run("seg --config %s --input %s --out %s/%s --no-progress", CONFIG, inputs[k], file, outs[k]), 1);
    stderr_has(file);
    ck_assert_msg(!strstr(err_text, "seeded random weights"), "model built before the output check: %s", err_text);
    printf("unwritable --out (%s input): %s", k == 0 ? "image" : k == 1 ? "folder" : "video", err_text);
  }
  /* Wrong kinds of output paths are usage errors. */
  ck_assert_int_eq(run("seg --config %s --input %s --out %s/x.jpg", CONFIG, img, dir), 2);
  ck_assert_int_eq(run("seg --config %s --input %s --out %s/x.png", CONFIG, clip, dir), 2);
  ck_assert_int_eq(run("seg --config %s --input camera:x --out %s/x.mp4", CONFIG, dir), 2);
  ck_assert_int_eq(run("seg --config %s --input %s/missing.png --out %s/x.png", CONFIG, dir, dir), 1);
  stderr_has("missing.png");
  /* No such camera: named, exit 1, nothing written. */
  ck_assert_int_eq(run("seg --config %s --input camera:9 --out %s/cam.mp4", CONFIG, dir), 1);
  stderr_has("camera 9 (/dev/video9): no such device");
  snprintf(file, sizeof file, "%s/cam.mp4", dir);
  ck_assert(!exists(file));
}
END_TEST

/* On a terminal (a pty from util-linux's script) the progress is a bar redrawn in place with the
 * rate and the ETA. */
START_TEST(progress_bar_on_a_terminal) {
  if (system("command -v script >/dev/null 2>&1") != 0) {
    printf("progress bar: no `script` to make a terminal; skipped\n");
    return;
  }
  char in[512], path[600], cmd[4096];
  snprintf(in, sizeof in, "%s/tty_in", dir);
  mkdir(in, 0777);
  for (int k = 0; k < 3; k++) {
    snprintf(path, sizeof path, "%s/%c.png", in, 'a' + k);
    write_image(path, 32, 48, k);
  }
  snprintf(cmd, sizeof cmd, "script -qec '%s seg --config %s --input %s --out %s/tty_out --threads 1' /dev/null",
           NALA_CLI, CONFIG, in, dir);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  char text[16384];
  size_t n = fread(text, 1, sizeof text - 1, p);
  text[n] = '\0';
  ck_assert_int_eq(pclose(p), 0);
  ck_assert_msg(strstr(text, "\r\033[K[") && strstr(text, "] 1/3 images, ") && strstr(text, "ETA ") &&
                    strstr(text, "] 3/3 images, "),
                "no progress bar on the terminal: %s", text);
  printf("progress bar: drawn in place on a terminal (%zu bytes of output)\n", n);
}
END_TEST

/* A tiny ADE20K layout: images/validation/<stem>.jpg + annotations/validation/<stem>.png (raw labels 0..150,
 * 0 = ignored after reduce_zero_label), two image sizes. */
static void make_ade20k(const char *root, int n) {
  char path[2048];
  snprintf(path, sizeof path, "mkdir -p %s/images/validation %s/annotations/validation", root, root);
  ck_assert_int_eq(system(path), 0);
  nala_err err;
  uint8_t pal[256][3] = {{0}};
  for (int i = 0; i < n; i++) {
    int h = i % 3 == 2 ? 48 : H, w = i % 3 == 2 ? 40 : W;
    snprintf(path, sizeof path, "%s/images/validation/ADE_val_%08d.jpg", root, i + 1);
    write_image(path, h, w, i);
    nala_image lab;
    ck_assert_int_eq(nala_image_alloc(h, w, 1, NALA_GRAY, &lab, &err), NALA_OK);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        lab.data[y * lab.stride + x] = (uint8_t)((x / 8 + y / 8 * 5 + 7 * i) % 151);
    snprintf(path, sizeof path, "%s/annotations/validation/ADE_val_%08d.png", root, i + 1);
    ck_assert_int_eq(nala_image_write_labels(path, &lab, (const uint8_t(*)[3])pal, 256, &err), NALA_OK);
    nala_image_free(&lab);
  }
}

/* Sharded 2 ways and merged (in either order) = the unsharded run, table for table; a shard alone,
 * a shard twice and foreign files are refused or flagged. */
START_TEST(eval_shards_merge_to_the_unsharded_table) {
  char root[512];
  snprintf(root, sizeof root, "%s/ade", dir);
  make_ade20k(root, 5);
  ck_assert_int_eq(run("eval seg --config %s --data-root %s --threads 1 --no-progress --save-state %s/full.json "
                       "--json %s/report_full.json",
                       CONFIG, root, dir, dir),
                   0);
  char *full = strdup(out_text);
  printf("unsharded run:\n%s", full);
  ck_assert_ptr_nonnull(strstr(full, "mIoU"));
  ck_assert_ptr_nonnull(strstr(full, "5 image(s) evaluated of 5"));
  ck_assert_ptr_nonnull(strstr(full, " wall "));
  /* --limit N: the first N samples only, said so; its state does not merge with the full run's */
  ck_assert_int_eq(run("eval seg --config %s --data-root %s --threads 1 --no-progress --limit 2 --save-state %s/lim.json",
                       CONFIG, root, dir),
                   0);
  stdout_has("2 image(s) evaluated of 5 in the dataset (--limit applied)");
  ck_assert_msg(strcmp(out_text, full), "--limit 2 printed the full run's table");
  ck_assert_int_eq(run("eval seg --merge %s/lim.json %s/full.json", dir, dir), 1);
  stderr_has("another selection");
  for (int s = 0; s < 2; s++) {
    ck_assert_int_eq(run("eval seg --config %s --data-root %s --shard %d/2 --no-progress --save-state %s/s%d.json",
                         CONFIG, root, s, dir, s),
                     0);
    stdout_has("shard");
  }
  ck_assert_int_eq(run("eval seg --merge %s/s1.json %s/s0.json --json %s/report_merged.json", dir, dir, dir), 0);
  ck_assert_msg(!strcmp(out_text, full), "merged:\n%s\nunsharded:\n%s", out_text, full);
  /* The JSON reports too, byte for byte. */
  char report[600];
  snprintf(report, sizeof report, "%s/report_full.json", dir);
  char *json_full = nala_read_text(report);
  snprintf(report, sizeof report, "%s/report_merged.json", dir);
  char *json_merged = nala_read_text(report);
  ck_assert(json_full && json_merged && strstr(json_full, "\"mIoU\""));
  ck_assert_str_eq(json_merged, json_full);
  free(json_full), free(json_merged);
  ck_assert_int_eq(run("eval seg --merge %s/full.json", dir), 0);
  ck_assert_str_eq(out_text, full);
  /* The --exact numbers merge the same way. */
  ck_assert_int_eq(run("eval seg --config %s --data-root %s --exact --no-progress", CONFIG, root), 0);
  char *exact = strdup(out_text);
  ck_assert_int_eq(run("eval seg --merge %s/s0.json %s/s1.json --exact", dir, dir), 0);
  ck_assert_str_eq(out_text, exact);
  free(exact);
  /* One shard alone: its table, and exit 1 naming the missing shard; a shard twice is refused. */
  ck_assert_int_eq(run("eval seg --merge %s/s0.json", dir), 1);
  stderr_has("shard 1/2 is missing");
  ck_assert_int_eq(run("eval seg --merge %s/s0.json %s/s0.json", dir, dir), 1);
  stderr_has("given twice");
  ck_assert_int_eq(run("eval seg --merge %s/s0.json %s/full.json", dir, dir), 1);
  stderr_has("another selection");
  ck_assert_int_eq(run("eval seg --merge %s", CONFIG), 1);
  stderr_has("not a state file");
  /* A truncated state file and one whose confusion cell lies outside the classes are refused by name. */
  char path[600], bad[600];
  snprintf(path, sizeof path, "%s/s0.json", dir);
  snprintf(bad, sizeof bad, "%s/bad.json", dir);
  char *bytes = nala_read_text(path); /* NUL-terminated */
  ck_assert_ptr_nonnull(bytes);
  size_t n = strlen(bytes);
  FILE *f = fopen(bad, "wb");
  ck_assert_ptr_nonnull(f);
  fwrite(bytes, 1, n / 2, f);
  fclose(f);
  ck_assert_int_eq(run("eval seg --merge %s", bad), 1);
  stderr_has("not valid JSON");
  char *cells = strstr(bytes, "\"cells\": [");
  ck_assert_ptr_nonnull(cells);
  f = fopen(bad, "wb");
  ck_assert_ptr_nonnull(f);
  fwrite(bytes, 1, (size_t)(cells - bytes) + 10, f);
  fputs("99999999, 1", f); /* 151 x 151 cells exist */
  fputs(strchr(cells + 10, ']'), f);
  fclose(f);
  free(bytes);
  ck_assert_int_eq(run("eval seg --merge %s", bad), 1);
  stderr_has("images[0].cells[0]");
  ck_assert_int_eq(run("eval seg --merge %s/s0.json --config %s", dir, CONFIG), 2);
  free(full);
}
END_TEST

/* An unreadable dataset image is named and left out (exit 1); the rest is scored. */
START_TEST(eval_names_an_unreadable_sample) {
  char root[512], path[600];
  snprintf(root, sizeof root, "%s/ade", dir);
  make_ade20k(root, 3);
  snprintf(path, sizeof path, "%s/images/validation/ADE_val_00000002.jpg", root);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  fputs("garbage", f);
  fclose(f);
  ck_assert_int_eq(run("eval seg --config %s --data-root %s --no-progress", CONFIG, root), 1);
  stderr_has("ADE_val_00000002.jpg");
  stdout_has("2 image(s) evaluated of 3");
  ck_assert_int_eq(run("eval seg --config %s --data-root %s/nonexistent --no-progress", CONFIG, root), 1);
  stderr_has("nonexistent");
  /* An unwritable --save-state fails before the model is built. */
  snprintf(path, sizeof path, "%s/plain", dir);
  ck_assert_ptr_nonnull(f = fopen(path, "wb"));
  fclose(f);
  ck_assert_int_eq(run("eval seg --config %s --data-root %s --save-state %s/s.json", CONFIG, root, path), 1);
  stderr_has("--save-state");
  ck_assert_msg(!strstr(err_text, "seeded random weights"), "model built first: %s", err_text);
}
END_TEST

/* Cityscapes: *_gtFine_labelIds.png ground truth is mapped to train ids (id 7 road -> 0, 26 car -> 13,
 * 0 unlabeled -> 255 ignored), so exactly the pixels of the ids that map count; label PNGs of `nala seg`
 * carry the Cityscapes palette. */
START_TEST(cityscapes_label_ids_and_palette) {
  static const char *const cfg = NALA_FIXTURES "/seg_cli/tiny_fpn_cityscapes.json";
  char root[512], path[2048];
  snprintf(root, sizeof root, "%s/cs", dir);
  snprintf(path, sizeof path, "mkdir -p %s/leftImg8bit/val/aachen %s/gtFine/val/aachen", root, root);
  ck_assert_int_eq(system(path), 0);
  nala_err err;
  uint8_t grey[256][3] = {{0}};
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/leftImg8bit/val/aachen/aachen_%06d_000019_leftImg8bit.png", root, i);
    write_image(path, 32, 64, i);
    nala_image lab;
    ck_assert_int_eq(nala_image_alloc(32, 64, 1, NALA_GRAY, &lab, &err), NALA_OK);
    for (int y = 0; y < 32; y++)
      for (int x = 0; x < 64; x++)
        lab.data[y * lab.stride + x] = (uint8_t)(y < 8 ? 0 : x < 32 ? 7 : 26); /* unlabeled, road, car */
    snprintf(path, sizeof path, "%s/gtFine/val/aachen/aachen_%06d_000019_gtFine_labelIds.png", root, i);
    ck_assert_int_eq(nala_image_write_labels(path, &lab, (const uint8_t(*)[3])grey, 256, &err), NALA_OK);
    nala_image_free(&lab);
  }
  ck_assert_int_eq(run("eval seg --config %s --data-root %s --exact --no-progress --save-state %s/cs.json", cfg, root,
                       dir),
                   0);
  stdout_has("cityscapes: 2 image(s) evaluated of 2");
  stdout_has(" road ");
  /* The state holds exactly the non-ignored pixels: 2 x 24 x 64 of the ids that map (road, car). */
  snprintf(path, sizeof path, "%s/cs.json", dir);
  char *state = nala_read_text(path);
  ck_assert_ptr_nonnull(state);
  ck_assert_ptr_nonnull(strstr(state, "\"ignored\": 512,"));
  free(state);
  /* nala seg on the image folder: palette PNGs with Cityscapes' colours (road 128,64,128 first). */
  char out[600];
  snprintf(out, sizeof out, "%s/cs_out", dir);
  ck_assert_int_eq(run("seg --config %s --input %s/leftImg8bit/val --out %s --no-progress", cfg, root, out), 0);
  snprintf(path, sizeof path, "%s/aachen/aachen_000000_000019_leftImg8bit.png", out);
  size_t n;
  uint8_t *png = nala_test_read_bytes(path, &n);
  ck_assert(n > 41 + 57 && !memcmp(png + 37, "PLTE", 4));
  ck_assert_int_eq((png[33] << 24 | png[34] << 16 | png[35] << 8 | png[36]), 19 * 3);
  static const uint8_t road_sidewalk[6] = {128, 64, 128, 244, 35, 232};
  ck_assert(!memcmp(png + 41, road_sidewalk, 6));
  free(png);
}
END_TEST

/* Video extras: --labels-dir writes one label PNG per frame, the same labels the image path gives for
 * that decoded frame; --contact-sheet writes rows of the planned frames whose input tiles are the
 * area-averaged decoded frames, pixel for pixel below the frame-number text. */
START_TEST(clip_label_pngs_and_contact_sheet) {
  enum { N = 10 };
  char clip[512], out[512], labels[512], sheet_path[512], path[600];
  snprintf(clip, sizeof clip, "%s/clip.mp4", dir);
  snprintf(out, sizeof out, "%s/overlay.mp4", dir);
  snprintf(labels, sizeof labels, "%s/labels", dir);
  snprintf(sheet_path, sizeof sheet_path, "%s/sheet.png", dir);
  write_clip(clip, N, 10);
  /* Image and folder inputs refuse the video-only options; an unwritable sheet fails before any work. */
  snprintf(path, sizeof path, "%s/one.png", dir);
  write_image(path, H, W, 0);
  ck_assert_int_eq(run("seg --config %s --input %s --out %s/one_labels.png --contact-sheet %s --no-progress", CONFIG,
                       path, dir, sheet_path),
                   2);
  stderr_has("for a video or camera input");
  ck_assert_int_eq(run("seg --config %s --input %s --out %s --contact-sheet %s/one.png/s.png --no-progress", CONFIG,
                       clip, out, dir),
                   1);
  stderr_has("--contact-sheet");
  ck_assert(!exists(out));
  ck_assert_int_eq(run("seg --config %s --input %s --out %s --contact-sheet %s/s.gif --no-progress", CONFIG, clip, out,
                       dir),
                   2);
  stderr_has("--contact-sheet");
  ck_assert_int_eq(run("seg --config %s --input %s --out %s --labels-dir %s --contact-sheet %s --sheet-frames 3 "
                       "--sheet-width 48 --no-progress",
                       CONFIG, clip, out, labels, sheet_path),
                   0);
  stdout_has("contact sheet");
  stdout_has("3 row(s) of input | overlay, 108x112");
  for (int i = 0; i <= N; i++) {
    snprintf(path, sizeof path, "%s/%06d.png", labels, i);
    ck_assert_msg(exists(path) == (i < N), "%s: %s", path, i < N ? "missing" : "one label PNG too many");
  }
  /* Rows: the middles of 3 equal stretches of 10 frames = frames 1, 5, 8. Tiles 48x32 (96x64 halved),
   * 4-pixel gaps: (2*48 + 3*4) x (3*(32 + 4) + 4) = 108x112. */
  nala_err err;
  nala_image sheet = {0}, frame = {0}, tile = {0};
  nala_video_info info;
  ck_assert_msg(nala_image_read(sheet_path, NALA_BGR, 0, &sheet, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(sheet.w, 108);
  ck_assert_int_eq(sheet.h, 112);
  static const int picks[3] = {1, 5, 8};
  ck_assert_int_eq(nala_image_alloc(32, 48, 3, NALA_BGR, &tile, &err), NALA_OK);
  for (int row = 0; row < 3; row++) {
    ck_assert_int_eq(decode_all(clip, &info, picks[row], &frame), N);
    ck_assert_int_eq(nala_image_resize(&frame, &tile, NALA_INTERP_AREA, &err), NALA_OK);
    int max_diff = 0, y0 = 4 + row * 36;
    for (int y = 16; y < 32; y++) /* below the text */
      for (int x = 0; x < 48 * 3; x++) {
        int d = abs((int)sheet.data[(size_t)(y0 + y) * sheet.stride + 4 * 3 + x] - (int)tile.data[(size_t)y * tile.stride + x]);
        max_diff = d > max_diff ? d : max_diff;
      }
    printf("contact sheet row %d (frame %d): input tile vs the area-averaged decoded frame: max |diff| %d\n", row,
           picks[row], max_diff);
    ck_assert_int_eq(max_diff, 0);
    if (row == 1) { /* frame 5's label PNG is what the image path gives for the same decoded frame */
      snprintf(path, sizeof path, "%s/frame5.png", dir);
      ck_assert_int_eq(nala_image_write(path, &frame, &err), NALA_OK);
      ck_assert_int_eq(run("seg --config %s --input %s --out %s/frame5_labels.png --no-progress", CONFIG, path, dir), 0);
      snprintf(path, sizeof path, "%s/frame5_labels.png", dir);
      nala_image a = {0}, b = {0};
      ck_assert_int_eq(nala_image_read_labels(path, &a, &err), NALA_OK);
      snprintf(path, sizeof path, "%s/000005.png", labels);
      ck_assert_int_eq(nala_image_read_labels(path, &b, &err), NALA_OK);
      ck_assert(a.h == H && a.w == W && b.h == H && b.w == W);
      long differ = 0;
      for (int y = 0; y < H; y++)
        differ += memcmp(a.data + (size_t)y * a.stride, b.data + (size_t)y * b.stride, W) != 0;
      ck_assert_int_eq(differ, 0);
      nala_image_free(&a), nala_image_free(&b);
    }
    nala_image_free(&frame);
  }
  nala_image_free(&tile);
  nala_image_free(&sheet);
  /* A camera (no frame count) gets one frame per second; a sheet with no row is refused by name. */
  seg_sheet plan;
  ck_assert_int_eq(seg_sheet_init(&plan, 3, 320, 640, 480, NALA_BGR, 0, 10, &err), NALA_OK);
  ck_assert(plan.picks[0] == 0 && plan.picks[1] == 10 && plan.picks[2] == 20 && plan.tile_w == 320 && plan.tile_h == 240);
  ck_assert_int_eq(seg_sheet_write(&plan, "/tmp/never.png", &err), NALA_E_ARG);
  seg_sheet_free(&plan);
  ck_assert_int_eq(seg_sheet_init(&plan, 4, 320, 64, 32, NALA_BGR, 2, 25, &err), NALA_OK);
  ck_assert(plan.rows == 2 && plan.picks[0] == 0 && plan.picks[1] == 1 && plan.tile_w == 64);
  seg_sheet_free(&plan);
}
END_TEST

/* Classes a config names take mmseg's colours of the same names: ADE20K's when it has them all,
 * else Cityscapes' (the demo's street classes). */
START_TEST(named_classes_take_their_palette_colours) {
  uint8_t pal[256][3];
  const char *ade_names[2] = {"road", "car"}, *street[3] = {"road", "terrain", "no such class"};
  ck_assert_int_eq(seg_palette_fill_named(SEG_PALETTE_ADE20K, ade_names, 2, 2, pal), 2);
  ck_assert(pal[0][0] == 140 && pal[0][1] == 140 && pal[0][2] == 140); /* ADE20K road */
  ck_assert(pal[1][0] == 0 && pal[1][1] == 102 && pal[1][2] == 200);   /* ADE20K car */
  ck_assert_int_eq(seg_palette_fill_named(SEG_PALETTE_ADE20K, street, 3, 3, pal), 3);
  ck_assert(pal[0][0] == 140 && pal[0][1] == 140 && pal[0][2] == 140);   /* no table has all: road from ADE20K */
  ck_assert(pal[1][0] == 152 && pal[1][1] == 251 && pal[1][2] == 152);   /* terrain only in Cityscapes */
  ck_assert_int_eq(seg_palette_fill_named(SEG_PALETTE_ADE20K, street, 2, 3, pal), 3);
  ck_assert(pal[0][0] == 128 && pal[0][1] == 64 && pal[0][2] == 128);    /* both in Cityscapes: its road */
  uint8_t plain[256][3];
  seg_palette_fill(SEG_PALETTE_ADE20K, 3, plain);
  ck_assert(!memcmp(pal[2], plain[2], 3)); /* an unnamed class keeps the dataset's colour */
}
END_TEST

int main(void) {
  Suite *s = suite_create("cli_seg");
  TCase *tc = tcase_create("cli_seg");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, palette_png_round_trip);
  tcase_add_test(tc, overlay_blend_is_numpys);
  tcase_add_test(tc, video_overlay_keeps_frames_fps_and_size);
  tcase_add_test(tc, memory_stays_flat_over_a_clip);
  tcase_add_test(tc, truncated_clip_keeps_a_playable_partial_file);
  tcase_add_test(tc, folder_with_an_unreadable_image);
  tcase_add_test(tc, unwritable_out_fails_before_work);
  tcase_add_test(tc, progress_bar_on_a_terminal);
  tcase_add_test(tc, eval_shards_merge_to_the_unsharded_table);
  tcase_add_test(tc, eval_names_an_unreadable_sample);
  tcase_add_test(tc, cityscapes_label_ids_and_palette);
  tcase_add_test(tc, clip_label_pngs_and_contact_sheet);
  tcase_add_test(tc, named_classes_take_their_palette_colours);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
