/* The det tools without a trained model: the COCO results writer (Python float repr, mmdet's
 * record layout), drawing, and `nala eval coco --config` / `--merge` / `nala det` end to end in
 * process over a generated COCO set, with the colour-rectangle detector of
 * tests/support/fake_detector.c in place of the model. Its answers are exact, so the stats are
 * known: AP 1 exactly when labels go through the annotation file's sorted category ids, boxes are
 * written as xywh in original pixels and masks as RLE of the right image; a wrong mapping gives 0. */
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nala/coco.h"
#include "nala/image_draw.h"
#include "nala/image_io.h"
#include "tests/support/cli.h"
#include "tests/support/det_coco_set.h"
#include "tests/support/files.h"
#include "tests/support/suite.h"
#include "tools/cli_det.h"
#include "tools/cli_eval_coco_model.h"
#include "tools/det_coco_eval.h"
#include "tools/det_draw.h"
#include "tools/det_json.h"

static char tmp[256];

static void make_tmp(void) {
  snprintf(tmp, sizeof tmp, "/tmp/nala_det_tools_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void rm_tmp(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  ck_assert_int_eq(system(cmd), 0);
}

/* A path in the temp folder; a ring of 64 buffers, so keep copies of paths that must live long. */
static char *path_in(const char *name) {
  static char buf[64][512];
  static int k;
  k = (k + 1) % 64;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, name);
  return buf[k];
}

/* ---- Python float repr ---- */

START_TEST(py_float_repr) {
  /* Expected: Python 3.11 repr(float(v)) (float32 values through np.float32 where marked). */
  const struct {
    double v;
    const char *want;
  } cases[] = {{0.0, "0.0"},
               {-0.0, "-0.0"},
               {1.0, "1.0"},
               {12.5, "12.5"},
               {(double)0.1f, "0.10000000149011612"},
               {1e-5, "1e-05"},
               {1.5e-7, "1.5e-07"},
               {1e16, "1e+16"},
               {123456789012345680.0, "1.2345678901234568e+17"},
               {0.0001, "0.0001"},
               {0.00012345, "0.00012345"},
               {-3.25, "-3.25"},
               {1e15, "1000000000000000.0"},
               {100.0, "100.0"},
               {(double)1333.3334f, "1333.3333740234375"},
               {(double)0.05000001f, "0.05000000819563866"},
               {5e-324, "5e-324"},
               {1.7976931348623157e308, "1.7976931348623157e+308"},
               {NAN, "NaN"},
               {-INFINITY, "-Infinity"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[40];
    int n = det_py_float_repr(cases[i].v, buf, sizeof buf);
    ck_assert_msg(!strcmp(buf, cases[i].want), "case %zu: got %s, want %s", i, buf, cases[i].want);
    ck_assert_int_eq(n, (int)strlen(cases[i].want));
  }
}
END_TEST

/* ---- results JSON ---- */

START_TEST(json_records_as_mmdet) {
  make_tmp();
  nala_err err;
  det_json_file *f;
  const char *p = path_in("r.bbox.json");
  ck_assert_int_eq(det_json_open(p, &f, &err), NALA_OK);
  ck_assert_int_eq(access(p, F_OK), -1); /* nothing at the path until close */
  ck_assert_int_eq(det_json_add(f, 3, 5, 1.5f, 2.0f, 10.1f, 5.0f, 0.9f, NULL, &err), NALA_OK);
  uint8_t mask[6] = {0, 1, 1, 0, 0, 1}; /* column-major 2 x 3 */
  nala_rle rle;
  ck_assert_int_eq(nala_rle_encode(mask, 2, 3, &rle, &err), NALA_OK);
  ck_assert_int_eq(det_json_add(f, 4, 7, 0.f, 0.f, 3.f, 2.f, 0.5f, &rle, &err), NALA_OK);
  /* w in double after tolist() (1000.1999877914786), not the float32 difference (1000.2000122070312). */
  ck_assert_int_eq(det_json_add(f, 5, 3, 0.1f, 0.25f, 1000.3f, 7.75f, 1.f, NULL, &err), NALA_OK);
  char *counts;
  ck_assert_int_eq(nala_rle_to_string(&rle, &counts, &err), NALA_OK);
  nala_rle_free(&rle);
  ck_assert_uint_eq(det_json_count(f), 3);
  ck_assert_int_eq(det_json_close(f, &err), NALA_OK);
  char *text = nala_read_text(p);
  char want[1024];
  /* Python json.dumps of mmdet's dicts for the same float32 boxes (numpy 1.24, Python 3.11). */
  snprintf(want, sizeof want,
           "[{\"image_id\": 3, \"bbox\": [1.5, 2.0, 8.600000381469727, 3.0], \"score\": 0.8999999761581421, "
           "\"category_id\": 5}, {\"image_id\": 4, \"bbox\": [0.0, 0.0, 3.0, 2.0], \"score\": 0.5, \"category_id\": 7, "
           "\"segmentation\": {\"size\": [2, 3], \"counts\": \"%s\"}}, {\"image_id\": 5, \"bbox\": "
           "[0.10000000149011612, 0.25, 1000.1999877914786, 7.5], \"score\": 1.0, \"category_id\": 3}]",
           counts);
  ck_assert_str_eq(text, want);
  free(text);
  free(counts);
  /* An empty run is "[]". */
  ck_assert_int_eq(det_json_open(p, &f, &err), NALA_OK);
  ck_assert_int_eq(det_json_close(f, &err), NALA_OK);
  text = nala_read_text(p);
  ck_assert_str_eq(text, "[]");
  free(text);
  /* An unwritable folder fails at open, naming the path. */
  ck_assert_int_eq(det_json_open("/proc/nala_no_such/r.json", &f, &err), NALA_E_IO);
  ck_assert_ptr_nonnull(strstr(err.msg, "/proc/nala_no_such/r.json"));
  rm_tmp();
}
END_TEST

START_TEST(merge_lists_concatenates) {
  make_tmp();
  nala_test_write_text(path_in("a.bbox.json"), "[{\"image_id\": 1, \"bbox\": [0.0, 0.0, 1.0, 1.0], \"score\": 0.5, \"category_id\": 1}]");
  nala_test_write_text(path_in("b.bbox.json"), "[]");
  nala_test_write_text(path_in("c.bbox.json"), "[{\"image_id\": 2, \"bbox\": [1.0, 0.0, 1.0, 1.0], \"score\": 0.25, \"category_id\": 1}]");
  nala_test_write_text(path_in("d.bbox.json"), "[{\"image_id\": 2,");
  const char *prefixes[3] = {path_in("a"), path_in("b"), path_in("c")};
  char *text;
  size_t len;
  nala_err err;
  ck_assert_int_eq(det_coco_merge_lists(prefixes, 3, "bbox", &text, &len, &err), NALA_OK);
  ck_assert_str_eq(text, "[{\"image_id\": 1, \"bbox\": [0.0, 0.0, 1.0, 1.0], \"score\": 0.5, \"category_id\": 1}, "
                         "{\"image_id\": 2, \"bbox\": [1.0, 0.0, 1.0, 1.0], \"score\": 0.25, \"category_id\": 1}]");
  ck_assert_uint_eq(len, strlen(text));
  free(text);
  const char *bad[2] = {path_in("a"), path_in("d")};
  ck_assert_int_eq(det_coco_merge_lists(bad, 2, "bbox", &text, &len, &err), NALA_E_FORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "d.bbox.json"));
  rm_tmp();
}
END_TEST

/* ---- drawing ---- */

static nala_image black(int h, int w) {
  nala_image img;
  nala_err err;
  ck_assert_int_eq(nala_image_alloc(h, w, 3, NALA_BGR, &img, &err), NALA_OK);
  memset(img.data, 0, img.stride * (size_t)h);
  return img;
}

static const uint8_t *px(const nala_image *img, int y, int x) { return img->data + (size_t)y * img->stride + 3 * (size_t)x; }

START_TEST(draw_box_and_mask) {
  nala_image img = black(20, 30);
  const uint8_t c[3] = {10, 20, 30};
  /* Box [2.5, 3, 9, 12.2]: pixels x 2..8, y 3..12 (pixel k covers [k, k+1)). */
  det_draw_box(&img, 2.5f, 3.f, 9.f, 12.2f, c, 1);
  ck_assert_int_eq(px(&img, 3, 2)[0], 10);  /* top-left corner */
  ck_assert_int_eq(px(&img, 12, 8)[2], 30); /* bottom-right corner */
  ck_assert_int_eq(px(&img, 7, 8)[1], 20);  /* right edge */
  ck_assert_int_eq(px(&img, 7, 5)[0], 0);   /* inside stays */
  ck_assert_int_eq(px(&img, 13, 5)[0], 0);  /* below stays */
  ck_assert_int_eq(px(&img, 7, 9)[0], 0);   /* right of it stays */
  /* A box past every border clips to the image (no write outside: ASan would see it). */
  det_draw_box(&img, -50.f, -1e9f, 1e9f, 60.f, c, 2);
  ck_assert_int_eq(px(&img, 0, 15)[0], 10);
  ck_assert_int_eq(px(&img, 19, 29)[0], 10);
  ck_assert_int_eq(px(&img, 10, 15)[0], 0);
  /* Mask blend, alpha 0.5, rounded: 0.5 * 100 + 0.5 * 255 = 177.5 -> 178. */
  nala_image im2 = black(2, 2);
  memset(im2.data, 100, im2.stride * 2);
  uint8_t mask[4] = {1, 0, 0, 1};
  const uint8_t white[3] = {255, 255, 255};
  det_draw_mask(&im2, mask, white, 0.5f);
  ck_assert_int_eq(px(&im2, 0, 0)[0], 178);
  ck_assert_int_eq(px(&im2, 0, 1)[0], 100);
  ck_assert_int_eq(px(&im2, 1, 1)[2], 178);
  /* RGB images get the colour swapped into their order. */
  nala_image im3 = black(4, 4);
  im3.order = NALA_RGB;
  det_draw_box(&im3, 0, 0, 4, 4, c, 1);
  ck_assert_int_eq(px(&im3, 0, 0)[0], 30);
  nala_image_free(&img);
  nala_image_free(&im2);
  nala_image_free(&im3);
}
END_TEST

START_TEST(draw_labels_stay_inside) {
  nala_image img = black(40, 60);
  nala_err err;
  nala_detection d[2] = {{50, 0, 60, 10, 0.9f, 1}, {5, 20, 20, 35, 0.1f, 2}};
  const char *names[3] = {"a", "b", "c"};
  det_labels labels;
  ck_assert_int_eq(det_labels_init(&labels, names, 3, 3, &err), NALA_OK);
  ck_assert_int_eq(det_draw_detections(&img, &labels, d, 2, 0.3f, &err), NALA_OK);
  /* The shown detection's tag (top-right, no room above) is drawn inside the image; the 0.1 one not. */
  uint8_t c1[3];
  det_class_color(1, c1);
  int tag = 0, other = 0;
  for (int y = 0; y < 40; y++)
    for (int x = 0; x < 60; x++) {
      const uint8_t *p = px(&img, y, x);
      tag += p[0] == c1[0] && p[1] == c1[1] && p[2] == c1[2];
      other += y >= 20 && x < 25 && (p[0] | p[1] | p[2]);
    }
  ck_assert_int_gt(tag, 40);
  ck_assert_int_eq(other, 0);
  /* The label text itself: white pixels inside the tag. */
  int white = 0;
  for (int y = 0; y < 20; y++)
    for (int x = 30; x < 60; x++)
      white += px(&img, y, x)[0] > 200 && px(&img, y, x)[1] > 200 && px(&img, y, x)[2] > 200;
  ck_assert_int_gt(white, 3);
  nala_image gray;
  ck_assert_int_eq(nala_image_alloc(4, 4, 1, NALA_GRAY, &gray, &err), NALA_OK);
  ck_assert_int_eq(det_draw_detections(&gray, &labels, d, 1, 0.3f, &err), NALA_E_ARG);
  /* a label the model cannot give is named, not drawn from someone else's memory */
  nala_detection stray = {1, 1, 5, 5, 0.9f, 3};
  ck_assert_int_eq(det_draw_detections(&img, &labels, &stray, 1, 0.3f, &err), NALA_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.msg, "label 3"));
  det_labels_free(&labels);
  const uint8_t white3[3] = {255, 255, 255};
  ck_assert_int_eq(nala_image_draw_text(&gray, "x", 0, 3, 0.4, white3, &err), NALA_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.msg, "3-channel"));
  int tw, th, tb;
  ck_assert_int_eq(nala_image_text_size("x", 0.0, &tw, &th, &tb, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_image_text_size("abc", 0.4, &tw, &th, &tb, &err), NALA_OK);
  ck_assert_int_gt(tw, 0);
  ck_assert_int_gt(th, 0);
  /* Text far outside the image is clipped, not an error. */
  ck_assert_int_eq(nala_image_draw_text(&img, "far away", -1000, 5000, 0.4, white3, &err), NALA_OK);
  nala_image_free(&gray);
  nala_image_free(&img);
}
END_TEST

/* The tag a label drew before text masks: the same fill, then cv::putText (nala_image_draw_text) of
 * the name at the tag's pen and of the score at the name's whole-pixel advance (split == 1), or of
 * the whole "<name> <score>" string (split == 0: where putText puts the score at a sub-pixel pen). */
static int label_by_puttext(nala_image *img, const char *name, float score, const uint8_t c[3], int split) {
  nala_err err;
  char full[128], num[16], pre[112];
  snprintf(pre, sizeof pre, "%s ", name);
  snprintf(num, sizeof num, "%.2f", score);
  snprintf(full, sizeof full, "%s%s", pre, num);
  int tw, th, base, pw, ph, pb, nw, nh, nb;
  ck_assert_int_eq(nala_image_text_size(pre, 0.4, &pw, &ph, &pb, &err), NALA_OK);
  ck_assert_int_eq(nala_image_text_size(num, 0.4, &nw, &nh, &nb, &err), NALA_OK);
  ck_assert_int_eq(nala_image_text_size(full, 0.4, &tw, &th, &base, &err), NALA_OK);
  tw = pw - 1 + nw; /* the masks' tag width, within a pixel of the full string's */
  int w = tw + 4, h = th + base + 4, x = 3, y = h + 2;
  for (int r = y - h; r < y; r++)
    for (int q = x; q < x + w; q++)
      memcpy(img->data + (size_t)r * img->stride + 3 * (size_t)q, c, 3);
  const uint8_t white[3] = {255, 255, 255};
  if (split) {
    ck_assert_int_eq(nala_image_draw_text(img, pre, x + 2, y - base - 2, 0.4, white, &err), NALA_OK);
    ck_assert_int_eq(nala_image_draw_text(img, num, x + 2 + pw - 1, y - base - 2, 0.4, white, &err), NALA_OK);
  } else
    ck_assert_int_eq(nala_image_draw_text(img, full, x + 2, y - base - 2, 0.4, white, &err), NALA_OK);
  return y; /* the tag's bottom, 2 px below its room above */
}

/* Labels from text masks against putText: the same pixels up to the rounding of one blend instead
 * of one per anti-aliased stroke when the pieces are put where the masks put them, and within a
 * half-pixel shift of the score when putText draws the whole string; a mask loses no ink. */
START_TEST(label_masks_match_puttext) {
  nala_err err;
  const char *names[4] = {"person", "traffic light", "hair drier", "(x|y){j}"};
  det_labels labels;
  ck_assert_int_eq(det_labels_init(&labels, names, 4, 5, &err), NALA_OK); /* class 4: "class 4" */
  /* no ink lost: every printable glyph at scales up to 1.5, summed over the mask vs a wide canvas */
  char ascii[96];
  for (int k = 0; k < 95; k++)
    ascii[k] = (char)(32 + k);
  ascii[95] = 0;
  const double scales[] = {0.4, 0.5, 1.0, 1.5};
  for (int si = 0; si < 4; si++) {
    nala_text_mask m;
    ck_assert_int_eq(nala_text_mask_measure(ascii, scales[si], &m, &err), NALA_OK);
    m.alpha = malloc((size_t)m.w * m.h);
    ck_assert_int_eq(nala_text_mask_render(ascii, scales[si], &m, &err), NALA_OK);
    nala_image wide = black(m.h + 40, m.w + 40);
    const uint8_t white[3] = {255, 255, 255};
    ck_assert_int_eq(nala_image_draw_text(&wide, ascii, 20 + m.org_x, 20 + m.org_y, scales[si], white, &err), NALA_OK);
    long in_mask = 0, on_canvas = 0;
    for (size_t i = 0; i < (size_t)m.w * m.h; i++)
      in_mask += m.alpha[i];
    for (int y = 0; y < wide.h; y++)
      for (int x = 0; x < wide.w; x++)
        on_canvas += px(&wide, y, x)[0];
    printf("scale %.1f: ink %ld in the %dx%d mask, %ld on a canvas 20 px wider each side\n", scales[si], in_mask,
           m.w, m.h, on_canvas);
    ck_assert_int_gt(in_mask, 0);
    ck_assert_int_eq(in_mask, on_canvas);
    free(m.alpha);
    nala_image_free(&wide);
  }
  const float scores[] = {0.87f, 0.305f, 1.0f, 0.5f};
  int worst_split = 0;
  double worst_mean_full = 0;
  for (int k = 0; k < 5; k++)
    for (int si = 0; si < 4; si++) {
      uint8_t c[3];
      det_class_color(k, c);
      nala_image got = black(30, 160), want = black(30, 160), whole = black(30, 160);
      const char *name = k < 4 ? names[k] : "class 4";
      int y = label_by_puttext(&want, name, scores[si], c, 1);
      ck_assert_int_eq(label_by_puttext(&whole, name, scores[si], c, 0), y);
      ck_assert_int_eq(det_draw_label(&got, &labels, 3, y, k, scores[si], c, &err), NALA_OK);
      int max_split = 0;
      long sum_full = 0, n_px = 0;
      for (int y = 0; y < 30; y++)
        for (int x = 0; x < 3 * 160; x++) {
          int a = got.data[y * got.stride + x], b = want.data[y * want.stride + x], f = whole.data[y * whole.stride + x];
          max_split = abs(a - b) > max_split ? abs(a - b) : max_split;
          sum_full += abs(a - f), n_px++;
        }
      double mean_full = (double)sum_full / n_px;
      printf("%-16s %.2f: max |diff| %d to putText of the two pieces, mean |diff| %.3f to putText of the "
             "whole string\n", name, scores[si], max_split, mean_full);
      worst_split = max_split > worst_split ? max_split : worst_split;
      worst_mean_full = mean_full > worst_mean_full ? mean_full : worst_mean_full;
      nala_image_free(&got), nala_image_free(&want), nala_image_free(&whole);
    }
  printf("worst: max |diff| %d (pieces), mean |diff| %.3f (whole string)\n", worst_split, worst_mean_full);
  /* OpenCV rounds each anti-aliased stroke's blend (>> 8) and overlapping strokes compound it: a few
   * levels; a misplaced glyph would differ by hundreds. */
  ck_assert_int_le(worst_split, 5);
  ck_assert(worst_mean_full < 1.5);
  det_labels_free(&labels);
}
END_TEST

/* ---- generated COCO set ---- */

/* Five images of varying sizes (re-plans), one unreadable file (bad103.png), category ids 3, 7, 11. */
static const det_test_image set[] = {
    {101, 48, 64, 2, {{0, 4, 6, 20, 14}, {2, 30, 20, 25, 20}}, 0},
    {102, 40, 40, 1, {{1, 10, 10, 12, 18}}, 0},
    {103, 48, 64, 2, {{2, 1, 1, 10, 10}, {1, 40, 30, 20, 15}}, 1},
    {104, 32, 56, 1, {{0, 20, 5, 30, 20}}, 0},
    {105, 30, 30, 1, {{0, 2, 2, 5, 5}}, 0},
};

static void write_set(void) {
  det_test_write_coco(path_in("coco"), set, 5);
  nala_test_write_text(path_in("retina.json"), "{\"model\": {\"type\": \"RetinaNet\", \"backbone\": {\"type\": \"NaLaFormer\", \"variant\": \"xt\"}}}");
  nala_test_write_text(path_in("mask.json"), "{\"model\": {\"type\": \"MaskRCNN\", \"backbone\": {\"type\": \"NaLaFormer\", \"variant\": \"xt\"}}}");
}

/* Runs fn with stdout and stderr captured into malloc'd strings. */
typedef int (*argv_fn)(int, char **);
static int call_captured(argv_fn fn, const char *args, char **out, char **errs) {
  char buf[4096], *argv[64];
  snprintf(buf, sizeof buf, "%s", args);
  int argc = 0;
  argv[argc++] = "coco";
  for (char *t = strtok(buf, " "); t && argc < 63; t = strtok(NULL, " "))
    argv[argc++] = t;
  argv[argc] = NULL;
  fflush(stdout);
  fflush(stderr);
  int so = dup(1), se = dup(2);
  int fo = open(path_in("stdout.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int fe = open(path_in("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  dup2(fo, 1);
  dup2(fe, 2);
  int rc = fn(argc, argv);
  fflush(stdout);
  fflush(stderr);
  dup2(so, 1);
  dup2(se, 2);
  close(so), close(se), close(fo), close(fe);
  *out = nala_read_text(path_in("stdout.txt"));
  *errs = nala_read_text(path_in("stderr.txt"));
  fprintf(stderr, "---- %s\n%s%s", args, *out, *errs);
  return rc;
}

/* The value of the "Average Precision ... IoU=0.50:0.95 | area= all | maxDets=100" line after "Evaluating <type>". */
static double stat0(const char *out, const char *type) {
  char key[32];
  snprintf(key, sizeof key, "Evaluating %s...", type);
  const char *p = strstr(out, key);
  ck_assert_msg(p != NULL, "no %s stats in:\n%s", type, out);
  p = strstr(p, "] = ");
  ck_assert_ptr_nonnull(p);
  return atof(p + 4);
}

static char *run_args(const char *cfg, const char *extra, const char *prefix) {
  static char buf[2048];
  snprintf(buf, sizeof buf, "--config %s --data-root %s --out-prefix %s --no-progress %s", path_in(cfg),
           path_in("coco"), path_in(prefix), extra);
  return buf;
}

START_TEST(eval_model_end_to_end) {
  make_tmp();
  write_set();
  char *out, *errs;
  /* One unreadable image: named, skipped, exit 1, and the others are scored over their own images. */
  int rc = call_captured(cli_eval_coco_model, run_args("mask.json", "", "full"), &out, &errs);
  ck_assert_int_eq(rc, 1);
  ck_assert_ptr_nonnull(strstr(errs, "bad103.png"));
  double ap_box = stat0(out, "bbox"), ap_segm = stat0(out, "segm");
  printf("fake detector over 4 good images: bbox AP %.3f, segm AP %.3f\n", ap_box, ap_segm);
  ck_assert_double_eq_tol(ap_box, 1.0, 1e-9);
  ck_assert_double_ge(ap_segm, 0.9); /* polygon rasterisation vs pixel masks: IoU >= 0.85 everywhere */
  free(out);
  free(errs);
  /* The files load in the evaluator against the full annotation file too (bad image's GT missed). */
  nala_err err;
  nala_coco_gt *gt;
  nala_coco_dets *dets;
  ck_assert_int_eq(nala_coco_gt_load(path_in("coco/annotations/instances_val2017.json"), 1, &gt, &err), NALA_OK);
  ck_assert_int_eq(nala_coco_dets_load(path_in("full.segm.json"), gt, 1, &dets, &err), NALA_OK);
  ck_assert_uint_eq(nala_coco_dets_count(dets), 5); /* 5 objects in the 4 good images */
  ck_assert_uint_eq(nala_coco_dets_num_unknown_category(dets), 0);
  nala_coco_result res;
  ck_assert_int_eq(nala_coco_evaluate(gt, dets, NALA_COCO_BBOX, NULL, &res, &err), NALA_OK);
  printf("same files over all 5 images: bbox AP %.4f, AR100 %.4f\n", res.stats[0], res.stats[8]);
  ck_assert_double_lt(res.stats[8], 1.0); /* the skipped image's 2 objects are missed */
  nala_coco_result_free(&res);
  nala_coco_dets_free(dets);
  nala_coco_gt_free(gt);
  det_coco_run_meta m;
  ck_assert_int_eq(det_coco_meta_read(path_in("full"), &m, &err), NALA_OK);
  ck_assert_uint_eq(m.n_images, 4);
  ck_assert_uint_eq(m.n_bad, 1);
  ck_assert_int_eq(m.image_ids[2], 104);
  det_coco_meta_free(&m);
  rm_tmp();
}
END_TEST

static int same_file(const char *a, const char *b) {
  char *x = nala_read_text(a), *y = nala_read_text(b);
  int same = x && y && !strcmp(x, y);
  free(x);
  free(y);
  return same;
}

START_TEST(shards_merge_to_one_run) {
  make_tmp();
  write_set();
  char *out, *errs, *out0, *e0;
  ck_assert_int_eq(call_captured(cli_eval_coco_model, run_args("mask.json", "", "full"), &out0, &e0), 1);
  for (int s = 0; s < 3; s++) {
    char extra[32], prefix[16];
    snprintf(extra, sizeof extra, "--shard %d/3", s);
    snprintf(prefix, sizeof prefix, "s%d", s);
    int rc = call_captured(cli_eval_coco_model, run_args("mask.json", extra, prefix), &out, &errs);
    ck_assert_int_eq(rc, s == 1 ? 1 : 0); /* bad103.png is in shard 1 (images 1..2 of 5) */
    free(out);
    free(errs);
  }
  char args[2048];
  snprintf(args, sizeof args, "--merge %s %s %s --out-prefix %s", path_in("s0"), path_in("s1"), path_in("s2"),
           path_in("merged"));
  int rc = call_captured(cli_eval_coco_model, args, &out, &errs);
  ck_assert_int_eq(rc, 1); /* the merged runs had a bad image */
  ck_assert(same_file(path_in("merged.bbox.json"), path_in("full.bbox.json")));
  ck_assert(same_file(path_in("merged.segm.json"), path_in("full.segm.json")));
  ck_assert(same_file(path_in("merged.meta.json"), path_in("full.meta.json")));
  /* Same 12 + 12 lines. */
  const char *a = strstr(out, "Evaluating bbox"), *b = strstr(out0, "Evaluating bbox");
  ck_assert_ptr_nonnull(a);
  ck_assert_ptr_nonnull(b);
  ck_assert_str_eq(a, b);
  free(out);
  free(errs);
  /* Merging a shard twice is refused, naming the image. */
  snprintf(args, sizeof args, "--merge %s %s", path_in("s0"), path_in("s0"));
  ck_assert_int_eq(call_captured(cli_eval_coco_model, args, &out, &errs), 1);
  ck_assert_ptr_nonnull(strstr(errs, "image id 101"));
  free(out);
  free(errs);
  free(out0);
  free(e0);
  rm_tmp();
}
END_TEST

START_TEST(eval_model_bad_arguments) {
  make_tmp();
  write_set();
  char *out, *errs;
  /* Unwritable prefix: fails before any image is run. */
  char args[2048];
  snprintf(args, sizeof args, "--config %s --data-root %s --out-prefix /proc/nala_nope/p", path_in("retina.json"),
           path_in("coco"));
  ck_assert_int_eq(call_captured(cli_eval_coco_model, args, &out, &errs), 1);
  ck_assert_ptr_nonnull(strstr(errs, "/proc/nala_nope/p.bbox.json"));
  ck_assert_ptr_null(strstr(errs, "[1/"));
  free(out);
  free(errs);
  ck_assert_int_eq(call_captured(cli_eval_coco_model, "--config x.json", &out, &errs), 2);
  ck_assert_ptr_nonnull(strstr(errs, "--data-root"));
  free(out);
  free(errs);
  ck_assert_int_eq(call_captured(cli_eval_coco_model, run_args("retina.json", "--shard 3/3", "p"), &out, &errs), 2);
  free(out);
  free(errs);
  ck_assert_int_eq(call_captured(cli_eval_coco_model, "--merge", &out, &errs), 2);
  free(out);
  free(errs);
  /* An annotation file with other categories than the model's classes: refused, naming both. */
  nala_test_write_text(path_in("coco/annotations/two.json"), "{\"images\": [{\"id\": 101, \"file_name\": \"img101.png\", "
             "\"height\": 48, \"width\": 64}], \"categories\": [{\"id\": 1, \"name\": \"a\"}, {\"id\": 2, "
             "\"name\": \"b\"}], \"annotations\": []}");
  ck_assert_int_eq(call_captured(cli_eval_coco_model, run_args("retina.json", "--ann annotations/two.json", "t"), &out, &errs), 1);
  ck_assert_ptr_nonnull(strstr(errs, "3 classes but"));
  ck_assert_ptr_nonnull(strstr(errs, "2 categories"));
  ck_assert_int_eq(access(path_in("t.bbox.json"), F_OK), -1); /* nothing half-written */
  free(out);
  free(errs);
  /* RetinaNet (no masks): bbox only, no segm file. */
  ck_assert_int_eq(call_captured(cli_eval_coco_model, run_args("retina.json", "--limit 2", "r"), &out, &errs), 0);
  ck_assert_double_eq_tol(stat0(out, "bbox"), 1.0, 1e-9);
  ck_assert_ptr_null(strstr(out, "Evaluating segm"));
  ck_assert_int_eq(access(path_in("r.segm.json"), F_OK), -1);
  free(out);
  free(errs);
  rm_tmp();
}
END_TEST

/* ---- nala det ---- */

static int det_call(cli_det_opts *o, char **errs) {
  char *out;
  fflush(stderr);
  int se = dup(2), fe = open(path_in("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  dup2(fe, 2);
  int rc = cli_det_stream(o);
  fflush(stderr);
  dup2(se, 2);
  close(se), close(fe);
  *errs = nala_read_text(path_in("stderr.txt"));
  (void)out;
  fprintf(stderr, "---- nala det %s\n%s", o->input, *errs);
  return rc;
}

START_TEST(det_folder) {
  make_tmp();
  write_set();
  cli_det_opts o = {0};
  char cfg[512], input[512], out[512], json[512], one_bmp[512], one_png[512], img101[512];
  snprintf(cfg, sizeof cfg, "%s", path_in("mask.json"));
  snprintf(input, sizeof input, "%s", path_in("coco/val2017"));
  snprintf(out, sizeof out, "%s", path_in("drawn"));
  snprintf(json, sizeof json, "%s", path_in("dets.json"));
  snprintf(one_bmp, sizeof one_bmp, "%s", path_in("one.bmp"));
  snprintf(one_png, sizeof one_png, "%s", path_in("one.png"));
  snprintf(img101, sizeof img101, "%s", path_in("coco/val2017/img101.png"));
  o.config = cfg;
  o.input = input;
  o.out = out;
  o.json = json;
  o.score_thr = 0.3;
  char *errs;
  ck_assert_int_eq(det_call(&o, &errs), 1); /* bad103.png named, the rest drawn */
  ck_assert_ptr_nonnull(strstr(errs, "bad103.png"));
  ck_assert_ptr_nonnull(strstr(errs, "1 of 5 images failed"));
  free(errs);
  ck_assert_int_eq(access(path_in("drawn/bad103.png"), F_OK), -1);
  nala_image img;
  nala_err err;
  ck_assert_int_eq(nala_image_read(path_in("drawn/img101.png"), NALA_BGR, 0, &img, &err), NALA_OK);
  ck_assert_int_eq(img.h, 48);
  ck_assert_int_eq(img.w, 64);
  /* Class 2's box (x 30..54, y 20..39) has its bottom edge in class 2's colour; its inside is the
   * 50% blend of the rectangle colour (0, 0, 200) with that colour. */
  uint8_t c[3];
  det_class_color(2, c);
  const uint8_t *edge = px(&img, 39, 40), *in = px(&img, 30, 40);
  ck_assert_int_eq(edge[0], c[0]);
  ck_assert_int_eq(edge[2], c[2]);
  ck_assert_int_eq(in[2], (int)lrintf(0.5f * 200 + 0.5f * c[2]));
  ck_assert_int_eq(px(&img, 45, 5)[0], 0); /* background untouched */
  nala_image_free(&img);
  /* JSON: every detection of the 4 good images (5), image_id = position in the sorted folder. */
  char *text = nala_read_text(path_in("dets.json"));
  int n = 0;
  for (const char *p = text; (p = strstr(p, "\"image_id\"")); p++)
    n++;
  ck_assert_int_eq(n, 5);
  ck_assert_ptr_nonnull(strstr(text, "\"segmentation\": {\"size\": [48, 64]"));
  free(text);
  /* Unwritable output: fails before work, naming it. */
  o.out = "/proc/nala_nope";
  o.json = NULL;
  ck_assert_int_eq(det_call(&o, &errs), 1);
  ck_assert_ptr_nonnull(strstr(errs, "/proc/nala_nope"));
  ck_assert_ptr_null(strstr(errs, "[1/"));
  free(errs);
  o.input = img101;
  o.out = one_bmp;
  ck_assert_int_eq(det_call(&o, &errs), 1);
  ck_assert_ptr_nonnull(strstr(errs, ".png, .jpg"));
  free(errs);
  o.out = one_png;
  o.json = "/proc/nala_nope/x.json";
  ck_assert_int_eq(det_call(&o, &errs), 1);
  ck_assert_ptr_nonnull(strstr(errs, "/proc/nala_nope/x.json"));
  ck_assert_int_eq(access(path_in("one.png"), F_OK), -1);
  free(errs);
  o.json = NULL;
  ck_assert_int_eq(det_call(&o, &errs), 0);
  ck_assert_int_eq(access(path_in("one.png"), F_OK), 0);
  free(errs);
  rm_tmp();
}
END_TEST

START_TEST(det_video) {
  make_tmp();
  write_set();
  nala_err err;
  nala_video_writer *vw;
  const int n_frames = 6;
  ck_assert_int_eq(nala_video_writer_open(path_in("in.mp4"), 64, 48, 12.5, "mp4v", &vw, &err), NALA_OK);
  for (int i = 0; i < n_frames; i++) {
    nala_image f = black(48, 64);
    for (int y = 10; y < 30; y++)
      for (int x = 5 + 4 * i; x < 25 + 4 * i; x++)
        f.data[(size_t)y * f.stride + 3 * (size_t)x + 1] = 220;
    ck_assert_int_eq(nala_video_write(vw, &f, &err), NALA_OK);
    nala_image_free(&f);
  }
  ck_assert_int_eq(nala_video_writer_close(vw, &err), NALA_OK);
  cli_det_opts o = {0};
  char cfg[512], input[512], out[512], json[512];
  snprintf(cfg, sizeof cfg, "%s", path_in("retina.json"));
  snprintf(input, sizeof input, "%s", path_in("in.mp4"));
  snprintf(out, sizeof out, "%s", path_in("out.mp4"));
  snprintf(json, sizeof json, "%s", path_in("v.json"));
  o.config = cfg;
  o.input = input;
  o.out = out;
  o.json = json;
  o.score_thr = 0.3;
  char *errs;
  ck_assert_int_eq(det_call(&o, &errs), 0);
  free(errs);
  nala_video_reader *vr;
  ck_assert_int_eq(nala_video_open(path_in("out.mp4"), &vr, &err), NALA_OK);
  nala_video_info info = nala_video_get_info(vr);
  ck_assert_int_eq(info.w, 64);
  ck_assert_int_eq(info.h, 48);
  ck_assert_double_eq_tol(info.fps, 12.5, 1e-6);
  nala_image f = {0};
  int got = 1, frames = 0;
  while (got) {
    ck_assert_int_eq(nala_video_read(vr, NALA_BGR, &f, &got, &err), NALA_OK);
    frames += got;
  }
  ck_assert_int_eq(frames, n_frames);
  nala_image_free(&f);
  nala_video_close(vr);
  /* One detection per frame in the JSON, image_id = frame index 0..5. */
  char *text = nala_read_text(path_in("v.json"));
  ck_assert_ptr_nonnull(strstr(text, "\"image_id\": 5,"));
  ck_assert_ptr_null(strstr(text, "\"image_id\": 6,"));
  free(text);
  rm_tmp();
}
END_TEST

int main(void) {
  Suite *s = suite_create("det_tools");
  TCase *tc = tcase_create("all");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, py_float_repr);
  tcase_add_test(tc, json_records_as_mmdet);
  tcase_add_test(tc, merge_lists_concatenates);
  tcase_add_test(tc, draw_box_and_mask);
  tcase_add_test(tc, draw_labels_stay_inside);
  tcase_add_test(tc, label_masks_match_puttext);
  tcase_add_test(tc, eval_model_end_to_end);
  tcase_add_test(tc, shards_merge_to_one_run);
  tcase_add_test(tc, eval_model_bad_arguments);
  tcase_add_test(tc, det_folder);
  tcase_add_test(tc, det_video);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
