/* A dataset run decodes every sample, skips the bad ones and reports them, by file, at the end:
 * through the library (nala_dataset_read_image) and through `nala config samples --check`. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nala/dataset.h"
#include "nala/image_io.h"
#include "tests/support/suite.h"

static char root[256];

static void copy(const char *fixture, const char *rel) {
  char src[1024], dst[1024], cmd[2400];
  if (fixture)
    snprintf(src, sizeof src, "%s/images/%s", NALA_FIXTURES, fixture);
  snprintf(dst, sizeof dst, "%s/%s", root, rel);
  snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\" && %s '%s'", dst, fixture ? "cp" : "touch",
           fixture ? src : dst);
  if (fixture)
    snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " '%s'", dst);
  ck_assert_int_eq(system(cmd), 0);
}

static void make_ade_tree(void) {
  snprintf(root, sizeof root, "/tmp/nala_dataset_run_%d", (int)getpid());
  static const char *const images[4] = {"color_37x53.jpg", "truncated_37x53.jpg", NULL, "progressive_37x53.jpg"};
  for (int i = 0; i < 4; i++) {
    char rel[256];
    snprintf(rel, sizeof rel, "ade/images/validation/ADE_val_%08d.jpg", i + 1);
    copy(images[i], rel); /* NULL: an empty file */
    snprintf(rel, sizeof rel, "ade/annotations/validation/ADE_val_%08d.png", i + 1);
    copy("labels_29x31.png", rel);
  }
}

static void remove_tree(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  ck_assert_int_eq(system(cmd), 0);
}

START_TEST(run_skips_and_reports_bad_samples) {
  make_ade_tree();
  char data_root[512];
  snprintf(data_root, sizeof data_root, "%s/ade", root);
  nala_err err;
  nala_dataset_cfg dc;
  ck_assert_int_eq(nala_dataset_cfg_init(NALA_DATASET_ADE20K, data_root, &dc, &err), NALA_OK);
  nala_dataset_opts opts = {0, 0, 1};
  nala_dataset *ds = NULL;
  ck_assert_msg(nala_dataset_open(&dc, &opts, &ds, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(nala_dataset_size(ds), 4);
  int good = 0;
  for (int i = 0; i < nala_dataset_size(ds); i++) {
    nala_image img;
    if (nala_dataset_read_image(ds, i, NALA_RGB, 0, &img, &err) != NALA_OK)
      continue;
    ck_assert_int_eq(img.h, 37);
    ck_assert_int_eq(img.w, 53);
    nala_image_free(&img);
    good++;
  }
  ck_assert_int_eq(good, 2);
  ck_assert_int_eq(nala_dataset_bad_count(ds), 2);
  nala_bad_sample b0 = nala_dataset_bad_get(ds, 0), b1 = nala_dataset_bad_get(ds, 1);
  printf("bad: %s: %s\nbad: %s: %s\n", b0.file, b0.reason, b1.file, b1.reason);
  ck_assert(strstr(b0.file, "ADE_val_00000002.jpg") != NULL);
  ck_assert(strstr(b0.reason, "truncated") != NULL);
  ck_assert(strstr(b1.file, "ADE_val_00000003.jpg") != NULL);
  char report[4096] = "";
  FILE *mem = fmemopen(report, sizeof report - 1, "w");
  ck_assert_int_eq(nala_dataset_print_report(ds, mem), 2);
  fclose(mem);
  ck_assert(strstr(report, "ADE_val_00000002.jpg") && strstr(report, "ADE_val_00000003.jpg"));
  ck_assert_int_eq(nala_dataset_read_image(ds, 4, NALA_RGB, 0, NULL, &err), NALA_E_ARG);
  nala_dataset_close(ds);
  remove_tree();
}
END_TEST

/* A COCO image whose pixels disagree with the size its annotation declares is a bad sample. */
START_TEST(coco_declared_size_is_checked) {
  snprintf(root, sizeof root, "/tmp/nala_dataset_run_coco_%d", (int)getpid());
  copy("color_37x53.jpg", "coco/val/a.jpg");
  copy("color_37x53.jpg", "coco/val/b.jpg");
  char path[512];
  snprintf(path, sizeof path, "%s/coco/ann.json", root);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs("{\"images\": [{\"id\": 1, \"file_name\": \"a.jpg\", \"width\": 53, \"height\": 37},"
        " {\"id\": 2, \"file_name\": \"b.jpg\", \"width\": 60, \"height\": 37}],"
        " \"annotations\": [], \"categories\": [{\"id\": 3, \"name\": \"cat\"}]}",
        f);
  fclose(f);
  char data_root[512];
  snprintf(data_root, sizeof data_root, "%s/coco", root);
  nala_err err;
  nala_dataset_cfg dc;
  ck_assert_int_eq(nala_dataset_cfg_init(NALA_DATASET_COCO, data_root, &dc, &err), NALA_OK);
  snprintf(dc.ann_file, sizeof dc.ann_file, "%s", path);
  snprintf(dc.img_dir, sizeof dc.img_dir, "%s/coco/val", root);
  nala_dataset_opts opts = {0, 0, 1};
  nala_dataset *ds = NULL;
  ck_assert_msg(nala_dataset_open(&dc, &opts, &ds, &err) == NALA_OK, "%s", err.msg);
  nala_image img;
  ck_assert_int_eq(nala_dataset_read_image(ds, 0, NALA_BGR, 0, &img, &err), NALA_OK);
  nala_image_free(&img);
  ck_assert_int_eq(nala_dataset_read_image(ds, 1, NALA_BGR, 0, &img, &err), NALA_E_SHAPE);
  printf("size mismatch: %s\n", err.msg);
  ck_assert(strstr(err.msg, "b.jpg") && strstr(err.msg, "60x37"));
  ck_assert_int_eq(nala_dataset_bad_count(ds), 1);
  nala_dataset_close(ds);
  remove_tree();
}
END_TEST

START_TEST(cli_check_reports_and_exits_1) {
  make_ade_tree();
  char cfg[512], cmd[2048], err_path[512];
  snprintf(cfg, sizeof cfg, "%s/ade.json", root);
  snprintf(err_path, sizeof err_path, "%s/stderr.txt", root);
  FILE *f = fopen(cfg, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f, "{\"_base_\": [\"%s/configs/_base_/datasets/ade20k.json\"], \"dataset\": {\"data_root\": \"%s/ade\"}}",
          NALA_SOURCE_DIR, root);
  fclose(f);
  snprintf(cmd, sizeof cmd, "%s config samples %s --check > /dev/null 2> %s", NALA_CLI, cfg, err_path);
  int st = system(cmd);
  ck_assert(WIFEXITED(st));
  ck_assert_int_eq(WEXITSTATUS(st), 1);
  char text[4096] = "";
  f = fopen(err_path, "r");
  ck_assert_ptr_nonnull(f);
  text[fread(text, 1, sizeof text - 1, f)] = 0;
  fclose(f);
  printf("%s", text);
  ck_assert(strstr(text, "ADE_val_00000002.jpg") && strstr(text, "ADE_val_00000003.jpg"));
  /* Without --check the listing does not decode: exit 0. */
  snprintf(cmd, sizeof cmd, "%s config samples %s > /dev/null 2>&1", NALA_CLI, cfg);
  st = system(cmd);
  ck_assert_int_eq(WEXITSTATUS(st), 0);
  remove_tree();
}
END_TEST

int main(void) {
  Suite *s = suite_create("dataset_run");
  TCase *tc = tcase_create("run");
  tcase_add_test(tc, run_skips_and_reports_bad_samples);
  tcase_add_test(tc, coco_declared_size_is_checked);
  tcase_add_test(tc, cli_check_reports_and_exits_1);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
