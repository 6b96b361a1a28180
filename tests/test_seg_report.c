/* mmseg-style tables (text checked against PrettyTable 3.6 fed mmseg's numpy values) and the JSON
 * record of a segmentation result, including its atomic write and write errors. */
#include <check.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nala/seg_report.h"
#include "tests/support/suite.h"

static const char *const names[4] = {"a", "bb", "ccc", "dddd"};

/* A fresh folder under $TMPDIR (else /tmp), so CI can keep scratch files where it wants them. */
static void make_temp_dir(char *dir, size_t cap, const char *name) {
  const char *root = getenv("TMPDIR");
  snprintf(dir, cap, "%s/%s_XXXXXX", root && *root ? root : "/tmp", name);
  ck_assert_msg(mkdtemp(dir) != NULL, "cannot create %s", dir);
}

/* The hand-computed image of test_seg_metrics: IoU 1/2, 2/3, 1, NaN; Acc 1/2, 1, 1, NaN; aAcc 4/5. */
static nala_seg_result *hand_result(void) {
  nala_seg_metrics *m = NULL;
  nala_err err;
  ck_assert_int_eq(nala_seg_metrics_create(4, 255, &m, &err), NALA_OK);
  const uint8_t label[] = {0, 0, 1, 1, 2, 255}, pred[] = {0, 1, 1, 1, 2, 0};
  ck_assert_int_eq(nala_seg_metrics_add(m, pred, 3, label, 3, 2, 3, NULL, &err), NALA_OK);
  nala_seg_result *r = malloc(sizeof *r);
  ck_assert_ptr_nonnull(r);
  nala_seg_metrics_result(m, r);
  nala_seg_metrics_free(m);
  return r;
}

static char *print_to_string(const nala_seg_result *r, const char *const *class_names, int exact, int *differs) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  ck_assert_ptr_nonnull(out);
  *differs = nala_seg_print_tables(out, r, class_names, exact);
  fclose(out);
  return text;
}

START_TEST(tables_match_prettytable_text) {
  nala_seg_result *r = hand_result();
  int differs = -1;
  char *text = print_to_string(r, names, 0, &differs);
  /* PrettyTable 3.6 (python3-prettytable) printed these from np.round(float32 * 100, 2) columns
   * and np.float64 summary values, as mmseg's IoUMetric builds them. */
  const char *want = "per class results:\n"
                     "+-------+-------+-------+\n"
                     "| Class |  IoU  |  Acc  |\n"
                     "+-------+-------+-------+\n"
                     "|   a   |  50.0 |  50.0 |\n"
                     "|   bb  | 66.67 | 100.0 |\n"
                     "|  ccc  | 100.0 | 100.0 |\n"
                     "|  dddd |  nan  |  nan  |\n"
                     "+-------+-------+-------+\n"
                     "Summary:\n"
                     "+------+-------+-------+\n"
                     "| aAcc |  mIoU |  mAcc |\n"
                     "+------+-------+-------+\n"
                     "| 80.0 | 72.22 | 83.33 |\n"
                     "+------+-------+-------+\n";
  ck_assert_str_eq(text, want);
  ck_assert_int_eq(differs, 0);
  free(text);
  text = print_to_string(r, NULL, 1, &differs); /* no names: indices */
  ck_assert_ptr_nonnull(strstr(text, "|   3   |  nan  |  nan  |"));
  free(text);
  free(r);
}
END_TEST

START_TEST(exact_and_mmseg_numbers_can_print_differently) {
  nala_seg_result *r = calloc(1, sizeof *r);
  ck_assert_ptr_nonnull(r);
  r->num_classes = 1;
  /* A float32 sum that lost a few counts: 0.123449f rounds to 12.34, the exact 0.123451 to 12.35. */
  r->cls[0].iou_mmseg = r->cls[0].acc_mmseg = 0.123449f;
  r->cls[0].iou = r->cls[0].acc = 0.123451;
  r->aacc = r->miou = r->macc = 0.5;
  r->aacc_mmseg = r->miou_mmseg = r->macc_mmseg = 0.5f;
  int differs = 0;
  char *text = print_to_string(r, names, 0, &differs);
  ck_assert_int_eq(differs, 1);
  ck_assert_ptr_nonnull(strstr(text, "| 12.34 | 12.34 |"));
  free(text);
  text = print_to_string(r, names, 1, &differs);
  ck_assert_ptr_nonnull(strstr(text, "| 12.35 | 12.35 |"));
  ck_assert_ptr_nonnull(strstr(text, "| 50.0 | 50.0 | 50.0 |"));
  free(text);
  free(r);
}
END_TEST

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

START_TEST(json_record_written_atomically) {
  char dir[512];
  make_temp_dir(dir, sizeof dir, "nala_seg_report");
  char path[600];
  snprintf(path, sizeof path, "%s/metrics.json", dir);
  nala_seg_result *r = hand_result();
  nala_err err;
  ck_assert_msg(nala_seg_write_json(path, "toy", r, names, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(count_entries(dir), 1); /* no temp file left behind */
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  char text[8192];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  cJSON *root = cJSON_Parse(text);
  ck_assert_msg(root != NULL, "not JSON:\n%s", text);
  ck_assert_str_eq(cJSON_GetObjectItem(root, "dataset")->valuestring, "toy");
  ck_assert(cJSON_GetObjectItem(root, "aAcc")->valuedouble == 80.0);
  ck_assert(cJSON_GetObjectItem(root, "mIoU")->valuedouble == 72.22);
  ck_assert(cJSON_GetObjectItem(root, "mAcc")->valuedouble == 83.33);
  cJSON *classes = cJSON_GetObjectItem(root, "classes");
  ck_assert_int_eq(cJSON_GetArraySize(classes), 4);
  cJSON *bb = cJSON_GetArrayItem(classes, 1);
  ck_assert_str_eq(cJSON_GetObjectItem(bb, "name")->valuestring, "bb");
  ck_assert(cJSON_GetObjectItem(bb, "IoU")->valuedouble == 66.67);
  ck_assert(cJSON_GetObjectItem(bb, "union")->valuedouble == 3);
  ck_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(classes, 3), "IoU")));
  double exact_miou = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "exact"), "mIoU")->valuedouble;
  ck_assert(fabs(exact_miou - (0.5 + 2.0 / 3.0 + 1.0) / 3.0) < 1e-15);
  ck_assert(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "pixels"), "ignored")->valuedouble == 1);
  cJSON_Delete(root);
  /* A folder that does not exist: an error naming the path, and nothing created. */
  char bad[700];
  snprintf(bad, sizeof bad, "%s/missing/metrics.json", dir);
  ck_assert_int_eq(nala_seg_write_json(bad, NULL, r, NULL, &err), NALA_E_IO);
  ck_assert_msg(strstr(err.msg, "/missing/metrics.json") != NULL, "%s", err.msg);
  ck_assert_int_eq(nala_seg_write_json(NULL, NULL, r, NULL, &err), NALA_E_ARG);
  ck_assert_int_eq(count_entries(dir), 1);
  unlink(path);
  rmdir(dir);
  free(r);
}
END_TEST

int main(void) {
  Suite *s = suite_create("seg_report");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, tables_match_prettytable_text);
  tcase_add_test(tc, exact_and_mmseg_numbers_can_print_differently);
  tcase_add_test(tc, json_record_written_atomically);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
