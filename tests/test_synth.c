/* The procedural datasets (nala/synth.h): same seed -> same bytes, another seed -> other bytes;
 * every written dataset loads through datasets/ with no bad sample; label maps hold only valid
 * classes; the COCO ground truth scored against itself gives AP 1 (and a shifted copy does not);
 * the video has the frames and size asked for. Sizes are tiny so ASan stays quick. */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "nala/coco.h"
#include "nala/dataset.h"
#include "nala/image_io.h"
#include "nala/synth.h"
#include "tests/support/cli.h"
#include "tests/support/files.h"
#include "tests/support/suite.h"

static char root[256];

static void make_root(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(root, sizeof root, "%s/nala_test_synth_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  ck_assert_ptr_nonnull(mkdtemp(root));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static void remove_root(void) { ck_assert_int_eq(nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0); }

/* 1 when the two files hold the same bytes. */
static int same_file(const char *a, const char *b) {
  size_t na, nb;
  uint8_t *x = nala_test_read_bytes(a, &na), *y = nala_test_read_bytes(b, &nb);
  int same = na == nb && !memcmp(x, y, na);
  free(x);
  free(y);
  return same;
}

START_TEST(seg_render_deterministic) {
  enum { H = 40, W = 56 };
  uint8_t a[H * W * 3], b[H * W * 3], la[H * W], lb[H * W];
  nala_err err;
  ck_assert_int_eq(nala_synth_seg_render(H, W, 7, 3, a, la, &err), NALA_OK);
  ck_assert_int_eq(nala_synth_seg_render(H, W, 7, 3, b, lb, &err), NALA_OK);
  ck_assert(!memcmp(a, b, sizeof a) && !memcmp(la, lb, sizeof la));
  ck_assert_int_eq(nala_synth_seg_render(H, W, 8, 3, b, lb, &err), NALA_OK);
  ck_assert(memcmp(a, b, sizeof a) != 0);
  ck_assert_int_eq(nala_synth_seg_render(H, W, 7, 4, b, lb, &err), NALA_OK); /* another index, another scene */
  ck_assert(memcmp(a, b, sizeof a) != 0);
  for (int i = 0; i < H * W; i++)
    ck_assert(la[i] >= 1 && la[i] <= nala_synth_seg_num_classes());
  ck_assert_str_eq(nala_synth_seg_class_name(0), "sky");
  ck_assert_ptr_null(nala_synth_seg_class_name(nala_synth_seg_num_classes()));
  ck_assert_int_eq(nala_synth_seg_render(4, 64, 7, 0, a, la, &err), NALA_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.msg, "4x64"));
}
END_TEST

START_TEST(seg_dataset_writes_loads_and_repeats) {
  make_root();
  enum { N = 6, H = 48, W = 64 };
  char a[512], b[512], c[512];
  snprintf(a, sizeof a, "%s/a", root), snprintf(b, sizeof b, "%s/b", root), snprintf(c, sizeof c, "%s/c", root);
  nala_err err;
  ck_assert_msg(nala_synth_seg_write(a, "validation", N, H, W, 5, &err) == NALA_OK, "%s", err.msg);
  ck_assert_msg(nala_synth_seg_write(b, "validation", N, H, W, 5, &err) == NALA_OK, "%s", err.msg);
  ck_assert_msg(nala_synth_seg_write(c, "validation", N, H, W, 6, &err) == NALA_OK, "%s", err.msg);
  int classes_seen[256] = {0}, n_seen = 0;
  for (int i = 0; i < N; i++) {
    char pa[600], pb[600];
    const char *files[2] = {"images/validation/%06d.jpg", "annotations/validation/%06d.png"};
    for (int f = 0; f < 2; f++) {
      char rel[64];
      snprintf(rel, sizeof rel, files[f], i);
      snprintf(pa, sizeof pa, "%s/%s", a, rel), snprintf(pb, sizeof pb, "%s/%s", b, rel);
      ck_assert_msg(same_file(pa, pb), "seed 5 twice: %s differs", rel);
      snprintf(pb, sizeof pb, "%s/%s", c, rel);
      ck_assert_msg(!same_file(pa, pb), "seeds 5 and 6 give the same %s", rel);
    }
  }
  char ca[600], cb[600];
  snprintf(ca, sizeof ca, "%s/classes.json", a), snprintf(cb, sizeof cb, "%s/classes.json", b);
  ck_assert(same_file(ca, cb));
  char *classes = nala_read_text(ca);
  cJSON *cj = cJSON_Parse(classes);
  ck_assert_ptr_nonnull(cj);
  ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cj, "classes")), nala_synth_seg_num_classes());
  ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cj, "palette")), nala_synth_seg_num_classes());
  ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cj, "reduce_zero_label")));
  cJSON_Delete(cj);
  free(classes);

  nala_dataset_cfg dc;
  ck_assert_int_eq(nala_dataset_cfg_init(NALA_DATASET_ADE20K, a, &dc, &err), NALA_OK);
  nala_dataset *ds;
  ck_assert_msg(nala_dataset_open(&dc, NULL, &ds, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(nala_dataset_size(ds), N);
  for (int i = 0; i < N; i++) {
    nala_image img = {0}, lab = {0};
    ck_assert_msg(nala_dataset_read_image(ds, i, NALA_BGR, 0, &img, &err) == NALA_OK, "%s", err.msg);
    ck_assert_msg(nala_dataset_read_labels(ds, i, &lab, &err) == NALA_OK, "%s", err.msg);
    ck_assert(img.h == H && img.w == W && img.c == 3 && lab.h == H && lab.w == W && lab.c == 1);
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        int v = lab.data[(size_t)y * lab.stride + x];
        ck_assert_msg(v >= 1 && v <= nala_synth_seg_num_classes(), "sample %d (%d, %d): label %d", i, y, x, v);
        if (!classes_seen[v]++)
          n_seen++;
      }
    nala_image_free(&img);
    nala_image_free(&lab);
  }
  ck_assert_int_eq(nala_dataset_bad_count(ds), 0);
  printf("synth seg: %d samples of %dx%d loaded, %d of %d classes present, 0 bad\n", N, H, W, n_seen,
         nala_synth_seg_num_classes());
  ck_assert_int_ge(n_seen, 6); /* sky, building, road, sidewalk are in every scene; objects in most */
  nala_dataset_close(ds);
  remove_root();
}
END_TEST

/* The results JSON of every ground-truth annotation (score 1), boxes shifted by shift * width. */
static char *gt_as_results(const char *gt_path, double shift) {
  char *text = nala_read_text(gt_path);
  ck_assert_ptr_nonnull(text);
  cJSON *gt = cJSON_Parse(text), *res = cJSON_CreateArray(), *a;
  free(text);
  cJSON_ArrayForEach(a, cJSON_GetObjectItem(gt, "annotations")) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "image_id", cJSON_GetObjectItem(a, "image_id")->valuedouble);
    cJSON_AddNumberToObject(r, "category_id", cJSON_GetObjectItem(a, "category_id")->valuedouble);
    cJSON *box = cJSON_Duplicate(cJSON_GetObjectItem(a, "bbox"), 1);
    cJSON *x = cJSON_GetArrayItem(box, 0);
    cJSON_SetNumberValue(x, x->valuedouble + shift * cJSON_GetArrayItem(box, 2)->valuedouble);
    cJSON_AddItemToObject(r, "bbox", box);
    cJSON_AddNumberToObject(r, "score", 1.0);
    if (shift == 0)
      cJSON_AddItemToObject(r, "segmentation", cJSON_Duplicate(cJSON_GetObjectItem(a, "segmentation"), 1));
    cJSON_AddItemToArray(res, r);
  }
  char *out = cJSON_PrintUnformatted(res);
  cJSON_Delete(res);
  cJSON_Delete(gt);
  return out;
}

static double coco_ap(const nala_coco_gt *gt, const char *results, nala_coco_iou_type type) {
  nala_err err;
  nala_coco_dets *dets;
  ck_assert_msg(nala_coco_dets_parse(results, strlen(results), "gt-as-results", gt, type == NALA_COCO_SEGM, &dets,
                                     &err) == NALA_OK,
                "%s", err.msg);
  nala_coco_result res;
  ck_assert_msg(nala_coco_evaluate(gt, dets, type, NULL, &res, &err) == NALA_OK, "%s", err.msg);
  double ap = res.stats[0];
  nala_coco_result_free(&res);
  nala_coco_dets_free(dets);
  return ap;
}

START_TEST(coco_dataset_writes_loads_and_scores) {
  make_root();
  enum { N = 6, H = 64, W = 80 };
  char a[512], b[512], c[512], ann[600];
  snprintf(a, sizeof a, "%s/a", root), snprintf(b, sizeof b, "%s/b", root), snprintf(c, sizeof c, "%s/c", root);
  nala_err err;
  ck_assert_msg(nala_synth_coco_write(a, "val", N, H, W, 11, &err) == NALA_OK, "%s", err.msg);
  ck_assert_msg(nala_synth_coco_write(b, "val", N, H, W, 11, &err) == NALA_OK, "%s", err.msg);
  ck_assert_msg(nala_synth_coco_write(c, "val", N, H, W, 12, &err) == NALA_OK, "%s", err.msg);
  snprintf(ann, sizeof ann, "%s/annotations/instances_val.json", a);
  char other[600];
  snprintf(other, sizeof other, "%s/annotations/instances_val.json", b);
  ck_assert(same_file(ann, other));
  snprintf(other, sizeof other, "%s/annotations/instances_val.json", c);
  ck_assert(!same_file(ann, other));
  for (int i = 0; i < N; i++) {
    char pa[600], pb[600];
    snprintf(pa, sizeof pa, "%s/images/val/%06d.jpg", a, i), snprintf(pb, sizeof pb, "%s/images/val/%06d.jpg", b, i);
    ck_assert(same_file(pa, pb));
  }

  nala_dataset_cfg dc;
  ck_assert_int_eq(nala_dataset_cfg_init(NALA_DATASET_COCO, a, &dc, &err), NALA_OK);
  snprintf(dc.ann_file, sizeof dc.ann_file, "%s", ann);
  snprintf(dc.img_dir, sizeof dc.img_dir, "%s/images/val", a);
  nala_dataset *ds;
  ck_assert_msg(nala_dataset_open(&dc, NULL, &ds, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(nala_dataset_size(ds), N);
  ck_assert_int_eq(nala_dataset_num_classes(ds), nala_synth_coco_num_classes());
  ck_assert_str_eq(nala_dataset_class_name(ds, 0), "circle");
  for (int i = 0; i < N; i++) {
    nala_image img = {0};
    ck_assert_msg(nala_dataset_read_image(ds, i, NALA_BGR, 0, &img, &err) == NALA_OK, "%s", err.msg);
    ck_assert(img.h == H && img.w == W);
    nala_image_free(&img);
  }
  ck_assert_int_eq(nala_dataset_bad_count(ds), 0);
  nala_dataset_close(ds);

  nala_coco_gt *gt;
  ck_assert_msg(nala_coco_gt_load(ann, 1, &gt, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq((int)nala_coco_gt_num_images(gt), N);
  char *exact = gt_as_results(ann, 0), *shifted = gt_as_results(ann, 0.5);
  double ap_box = coco_ap(gt, exact, NALA_COCO_BBOX), ap_segm = coco_ap(gt, exact, NALA_COCO_SEGM);
  double ap_shift = coco_ap(gt, shifted, NALA_COCO_BBOX);
  printf("synth coco: ground truth as results: bbox AP %.4f, segm AP %.4f; boxes shifted by w/2: bbox AP %.4f\n",
         ap_box, ap_segm, ap_shift);
  ck_assert_double_eq_tol(ap_box, 1.0, 1e-12);
  ck_assert_double_eq_tol(ap_segm, 1.0, 1e-12);
  ck_assert(ap_shift < 0.2); /* IoU of a box with itself shifted by half its width is 1/3 */
  free(exact);
  free(shifted);
  nala_coco_gt_free(gt);

  /* every annotation: visible, iscrowd 0, area = mask pixels within its bbox */
  char *text = nala_read_text(ann);
  cJSON *j = cJSON_Parse(text), *an;
  int n_ann = 0;
  cJSON_ArrayForEach(an, cJSON_GetObjectItem(j, "annotations")) {
    double area = cJSON_GetObjectItem(an, "area")->valuedouble;
    cJSON *box = cJSON_GetObjectItem(an, "bbox");
    ck_assert(area >= 24);
    ck_assert(area <= cJSON_GetArrayItem(box, 2)->valuedouble * cJSON_GetArrayItem(box, 3)->valuedouble);
    ck_assert_int_eq(cJSON_GetObjectItem(an, "iscrowd")->valueint, 0);
    n_ann++;
  }
  printf("synth coco: %d images, %d annotations\n", N, n_ann);
  ck_assert_int_ge(n_ann, N * 2);
  cJSON_Delete(j);
  free(text);
  remove_root();
}
END_TEST

START_TEST(video_has_frames_and_labels) {
  make_root();
  enum { F = 5, H = 32, W = 48 };
  char clip[512], labels[512];
  snprintf(clip, sizeof clip, "%s/clip.mp4", root), snprintf(labels, sizeof labels, "%s/labels", root);
  nala_err err;
  ck_assert_msg(nala_synth_video_write(clip, labels, F, H, W, 3, 10, &err) == NALA_OK, "%s", err.msg);
  nala_video_reader *vr;
  ck_assert_msg(nala_video_open(clip, &vr, &err) == NALA_OK, "%s", err.msg);
  nala_video_info info = nala_video_get_info(vr);
  ck_assert(info.w == W && info.h == H);
  nala_image frame = {0};
  int got = 1, n = 0;
  while (got) {
    ck_assert_msg(nala_video_read(vr, NALA_RGB, &frame, &got, &err) == NALA_OK, "%s", err.msg);
    if (got) {
      ck_assert(frame.h == H && frame.w == W);
      n++;
    }
  }
  nala_image_free(&frame);
  nala_video_close(vr);
  ck_assert_int_eq(n, F);
  uint8_t first[H * W];
  for (int f = 0; f < F; f++) {
    char p[600];
    snprintf(p, sizeof p, "%s/%06d.png", labels, f);
    nala_image lab = {0};
    ck_assert_msg(nala_image_read_labels(p, &lab, &err) == NALA_OK, "%s", err.msg);
    ck_assert(lab.h == H && lab.w == W);
    int differs = 0;
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        uint8_t v = lab.data[(size_t)y * lab.stride + x];
        ck_assert(v >= 1 && v <= nala_synth_seg_num_classes());
        if (f == 0)
          first[y * W + x] = v;
        else
          differs |= first[y * W + x] != v;
      }
    ck_assert_msg(f == 0 || differs, "frame %d has the label map of frame 0: the camera does not move", f);
    nala_image_free(&lab);
  }
  printf("synth video: %d frames of %dx%d read back, %d label maps valid\n", n, H, W, F);
  ck_assert_int_eq(nala_synth_video_write(clip, NULL, 0, H, W, 3, 10, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_synth_video_write(clip, NULL, 2, 33, W, 3, 10, &err), NALA_E_ARG);
  remove_root();
}
END_TEST

START_TEST(bad_arguments_and_paths) {
  make_root();
  nala_err err;
  char file[512], under[600];
  snprintf(file, sizeof file, "%s/plain_file", root);
  FILE *f = fopen(file, "w");
  ck_assert_ptr_nonnull(f);
  fclose(f);
  snprintf(under, sizeof under, "%s/out", file);
  ck_assert_int_eq(nala_synth_seg_write(under, "validation", 1, 16, 16, 0, &err), NALA_E_IO);
  ck_assert_ptr_nonnull(strstr(err.msg, "plain_file"));
  ck_assert_int_eq(nala_synth_coco_write(under, "val", 1, 16, 16, 0, &err), NALA_E_IO);
  ck_assert_int_eq(nala_synth_seg_write(root, "validation", 0, 16, 16, 0, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_synth_seg_write(root, "../x", 1, 16, 16, 0, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_synth_coco_write(root, "val", 1, 8, 16, 0, &err), NALA_E_ARG);
  remove_root();
}
END_TEST

START_TEST(cli_usage_errors) {
  char *err = NULL;
  ck_assert_int_eq(nala_run_cli("synth bogus", NULL, &err), 2);
  ck_assert_ptr_nonnull(strstr(err, "expected seg, coco or video"));
  free(err);
  ck_assert_int_eq(nala_run_cli("synth seg --out /nonexistent/x --count 2", NULL, &err), 2);
  ck_assert_ptr_nonnull(strstr(err, "--size is required"));
  free(err);
  ck_assert_int_eq(nala_run_cli("synth seg --out x --count 0 --size 8x8", NULL, &err), 2);
  ck_assert_ptr_nonnull(strstr(err, "--count"));
  free(err);
  ck_assert_int_eq(nala_run_cli("synth video --out x.mp4 --frames 2 --count 3 --size 16x16", NULL, &err), 2);
  ck_assert_ptr_nonnull(strstr(err, "--count does not apply"));
  free(err);
}
END_TEST

int main(void) {
  Suite *s = suite_create("synth");
  TCase *tc = tcase_create("synth");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, seg_render_deterministic);
  tcase_add_test(tc, seg_dataset_writes_loads_and_repeats);
  tcase_add_test(tc, coco_dataset_writes_loads_and_scores);
  tcase_add_test(tc, video_has_frames_and_labels);
  tcase_add_test(tc, bad_arguments_and_paths);
  tcase_add_test(tc, cli_usage_errors);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
