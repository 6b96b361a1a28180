#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nala/coco.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/support/suite.h"

/* Expected numbers: pycocotools 2.0.11 on the same files (tools/fixtures/make_coco_fixtures.py). */
#define FIX NALA_FIXTURES "/coco/"
#define TOL 1e-12

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  ck_assert_int_eq(fread(buf, 1, (size_t)n, f), n);
  buf[n] = 0;
  fclose(f);
  return buf;
}

static cJSON *expected_case(int i) {
  char *text = read_text(FIX "expected.json");
  cJSON *root = cJSON_Parse(text);
  free(text);
  cJSON *c = cJSON_DetachItemFromArray(cJSON_GetObjectItem(root, "cases"), i);
  cJSON_Delete(root);
  ck_assert_ptr_nonnull(c);
  return c;
}

/* Max |got - want| over the stats and per-category AP of one expected case. */
static double compare_result(const nala_coco_result *res, const cJSON *want) {
  double max_abs = 0;
  for (int i = 0; i < NALA_COCO_NUM_STATS; i++)
    max_abs = fmax(max_abs, fabs(res->stats[i] - cJSON_GetArrayItem(cJSON_GetObjectItem(want, "stats"), i)->valuedouble));
  const cJSON *per_cat = cJSON_GetObjectItem(want, "per_category");
  ck_assert_int_eq(cJSON_GetArraySize(per_cat), (int)res->num_categories);
  for (size_t k = 0; k < res->num_categories; k++) {
    char key[32];
    snprintf(key, sizeof key, "%lld", (long long)res->category_ids[k]);
    const cJSON *ap = cJSON_GetObjectItem(per_cat, key);
    ck_assert_msg(ap != NULL, "category %s missing", key);
    max_abs = fmax(max_abs, fabs(res->category_ap[k] - ap->valuedouble));
  }
  return max_abs;
}

static nala_coco_iou_type iou_of(const cJSON *c) {
  return !strcmp(cJSON_GetObjectItem(c, "iou_type")->valuestring, "segm") ? NALA_COCO_SEGM : NALA_COCO_BBOX;
}

START_TEST(stats_match_pycocotools) {
  cJSON *c = expected_case(_i);
  nala_coco_iou_type iou = iou_of(c);
  char gt_path[512], res_path[512];
  snprintf(gt_path, sizeof gt_path, FIX "%s", cJSON_GetObjectItem(c, "gt")->valuestring);
  snprintf(res_path, sizeof res_path, FIX "%s", cJSON_GetObjectItem(c, "results")->valuestring);
  nala_err err;
  nala_coco_gt *gt;
  nala_coco_dets *dets;
  nala_coco_result res;
  ck_assert_msg(nala_coco_gt_load(gt_path, iou == NALA_COCO_SEGM, &gt, &err) == NALA_OK, "%s", err.msg);
  ck_assert_msg(nala_coco_dets_load(res_path, gt, iou == NALA_COCO_SEGM, &dets, &err) == NALA_OK, "%s", err.msg);
  if (!strcmp(cJSON_GetObjectItem(c, "gt")->valuestring, "gt.json")) {
    ck_assert_uint_eq(nala_coco_dets_num_unknown_category(dets), 2);
    ck_assert_uint_eq(nala_coco_gt_num_categories(gt), 5);
    ck_assert_int_eq(nala_coco_gt_category_id(gt, 0), 1);
    ck_assert_str_eq(nala_coco_gt_category_name(gt, 4), "cat90");
  } else { /* gt_rules.json: single rules (IoU tie, crowd, GT id 0, mask size mismatch, cross-image ties) */
    ck_assert_uint_eq(nala_coco_dets_num_unknown_category(dets), 0);
    ck_assert_str_eq(nala_coco_gt_category_name(gt, 0), "");
  }
  ck_assert_int_eq(nala_coco_evaluate(gt, dets, iou, NULL, &res, &err), NALA_OK);
  double max_abs = compare_result(&res, c);
  printf("coco %s %s vs pycocotools: max_abs=%g\n", cJSON_GetObjectItem(c, "results")->valuestring,
         cJSON_GetObjectItem(c, "iou_type")->valuestring, max_abs);
  ck_assert_double_le(max_abs, TOL);
  /* A single thread gives the same bits: nothing depends on the schedule. */
  nala_coco_params one = {1};
  nala_coco_result res1;
  ck_assert_int_eq(nala_coco_evaluate(gt, dets, iou, &one, &res1, &err), NALA_OK);
  ck_assert_mem_eq(res1.stats, res.stats, sizeof res.stats);
  nala_coco_result_free(&res1);
  nala_coco_result_free(&res);
  nala_coco_dets_free(dets);
  nala_coco_gt_free(gt);
  cJSON_Delete(c);
}
END_TEST

/* The detection heads' path: the same detections from memory give the box-branch numbers. */
START_TEST(in_memory_detections_match_json) {
  nala_err err;
  nala_coco_gt *gt;
  ck_assert_int_eq(nala_coco_gt_load(FIX "gt.json", 1, &gt, &err), NALA_OK);
  char *text = read_text(FIX "dets_box_mask.json");
  cJSON *arr = cJSON_Parse(text);
  free(text);
  int n = cJSON_GetArraySize(arr), i = 0;
  nala_coco_det *dets = calloc((size_t)n, sizeof *dets);
  nala_rle *masks = calloc((size_t)n, sizeof *masks);
  const cJSON *d;
  cJSON_ArrayForEach(d, arr) {
    dets[i].image_id = (int64_t)cJSON_GetObjectItem(d, "image_id")->valuedouble;
    dets[i].category_id = (int64_t)cJSON_GetObjectItem(d, "category_id")->valuedouble;
    dets[i].score = cJSON_GetObjectItem(d, "score")->valuedouble;
    for (int j = 0; j < 4; j++)
      dets[i].bbox[j] = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "bbox"), j)->valuedouble;
    const cJSON *seg = cJSON_GetObjectItem(d, "segmentation"), *size = cJSON_GetObjectItem(seg, "size");
    const char *counts = cJSON_GetObjectItem(seg, "counts")->valuestring;
    ck_assert_int_eq(nala_rle_from_string(counts, strlen(counts), (uint32_t)cJSON_GetArrayItem(size, 0)->valuedouble,
                                          (uint32_t)cJSON_GetArrayItem(size, 1)->valuedouble, &masks[i], &err),
                     NALA_OK);
    dets[i].mask = &masks[i];
    i++;
  }
  cJSON_Delete(arr);
  nala_coco_dets *loaded;
  ck_assert_int_eq(nala_coco_dets_from_array(gt, dets, (size_t)n, &loaded, &err), NALA_OK);
  ck_assert_uint_eq(nala_coco_dets_num_unknown_category(loaded), 2);
  for (int k = 0; k < 2; k++) {
    cJSON *want = expected_case(k); /* cases 0, 1: dets_box_mask bbox, segm */
    nala_coco_result res;
    ck_assert_int_eq(nala_coco_evaluate(gt, loaded, iou_of(want), NULL, &res, &err), NALA_OK);
    ck_assert_double_le(compare_result(&res, want), TOL);
    nala_coco_result_free(&res);
    cJSON_Delete(want);
  }
  dets[0].image_id = 123456789; /* not a GT image */
  nala_coco_dets *bad;
  ck_assert_int_eq(nala_coco_dets_from_array(gt, dets, (size_t)n, &bad, &err), NALA_E_FORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "image id 123456789"));
  for (i = 0; i < n; i++)
    nala_rle_free(&masks[i]);
  free(masks);
  free(dets);
  nala_coco_dets_free(loaded);
  nala_coco_gt_free(gt);
}
END_TEST

typedef struct thread_job {
  const nala_coco_gt *gt;
  const nala_coco_dets *dets;
  nala_coco_result res;
  nala_status st;
} thread_job;

static void *run_eval(void *arg) {
  thread_job *job = arg;
  nala_err err;
  nala_coco_params params = {2};
  job->st = nala_coco_evaluate(job->gt, job->dets, NALA_COCO_SEGM, &params, &job->res, &err);
  return NULL;
}

START_TEST(two_threads_share_one_ground_truth) {
  nala_err err;
  nala_coco_gt *gt;
  nala_coco_dets *dets;
  ck_assert_int_eq(nala_coco_gt_load(FIX "gt.json", 1, &gt, &err), NALA_OK);
  ck_assert_int_eq(nala_coco_dets_load(FIX "dets_mask_only.json", gt, 1, &dets, &err), NALA_OK);
  thread_job jobs[2] = {{gt, dets, {0}, NALA_E_STATE}, {gt, dets, {0}, NALA_E_STATE}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(pthread_create(&th[i], NULL, run_eval, &jobs[i]), 0);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  cJSON *want = expected_case(3); /* dets_mask_only segm */
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(jobs[i].st, NALA_OK);
    ck_assert_double_le(compare_result(&jobs[i].res, want), TOL);
    nala_coco_result_free(&jobs[i].res);
  }
  cJSON_Delete(want);
  nala_coco_dets_free(dets);
  nala_coco_gt_free(gt);
}
END_TEST

START_TEST(empty_results_give_zero_ap) {
  nala_err err;
  nala_coco_gt *gt;
  nala_coco_dets *dets;
  nala_coco_result res;
  ck_assert_int_eq(nala_coco_gt_load(FIX "gt.json", 0, &gt, &err), NALA_OK);
  ck_assert_int_eq(nala_coco_dets_parse("[]", 2, "empty.json", gt, 0, &dets, &err), NALA_OK);
  ck_assert_int_eq(nala_coco_evaluate(gt, dets, NALA_COCO_BBOX, NULL, &res, &err), NALA_OK);
  for (int i = 0; i < NALA_COCO_NUM_STATS; i++)
    ck_assert_double_eq(res.stats[i], 0);
  ck_assert_double_eq(res.category_ap[3], -1); /* category 12: crowd GT only */
  nala_coco_result_free(&res);
  ck_assert_int_eq(nala_coco_evaluate(gt, dets, NALA_COCO_SEGM, NULL, &res, &err), NALA_E_STATE);
  nala_coco_dets_free(dets);
  nala_coco_gt_free(gt);
}
END_TEST

/* ---- bad input: every error names the file and the record ---- */

static const char *GT_OK =
    "{\"images\": [{\"id\": 1, \"height\": 10, \"width\": 10}],"
    " \"categories\": [{\"id\": 5}],"
    " \"annotations\": [%s]}";

static nala_status parse_gt_ann(const char *ann, int with_masks, nala_err *err) {
  char json[2048];
  snprintf(json, sizeof json, GT_OK, ann);
  nala_coco_gt *gt = NULL;
  nala_status st = nala_coco_gt_parse(json, strlen(json), "gt.json", with_masks, &gt, err);
  nala_coco_gt_free(gt);
  return st;
}

static void expect_gt_error(const char *ann, int with_masks, const char *msg_part) {
  nala_err err;
  ck_assert_int_eq(parse_gt_ann(ann, with_masks, &err), NALA_E_FORMAT);
  ck_assert_msg(strstr(err.msg, msg_part) != NULL, "message \"%s\" lacks \"%s\"", err.msg, msg_part);
  ck_assert_msg(strstr(err.msg, "gt.json: annotations[0]") != NULL, "message \"%s\" lacks the record", err.msg);
}

#define ANN(extra) "{\"id\": 7, \"image_id\": 1, \"category_id\": 5, \"iscrowd\": 0, \"area\": 4" extra "}"

START_TEST(bad_ground_truth_is_reported) {
  nala_err err;
  ck_assert_int_eq(parse_gt_ann(ANN(", \"bbox\": [1, 1, 2, 2], \"segmentation\": [[1, 1, 3, 1, 3, 3]]"), 1, &err),
                   NALA_OK);
  expect_gt_error(ANN(""), 0, "missing \"bbox\"");
  expect_gt_error(ANN(", \"bbox\": [1, 1, -2, 2]"), 0, "negative size");
  expect_gt_error(ANN(", \"bbox\": [1, \"a\", 2, 2]"), 0, "bbox[1] must be a finite number");
  expect_gt_error("{\"id\": 7, \"image_id\": 1, \"category_id\": 5, \"area\": 4, \"bbox\": [0,0,1,1]}", 0,
                  "missing \"iscrowd\"");
  expect_gt_error(ANN(", \"bbox\": [1, 1, 2, 2], \"segmentation\": [[1, 1, 3, 1, 3, 3, 4]]"), 1, "odd number");
  expect_gt_error(ANN(", \"bbox\": [1, 1, 2, 2], \"segmentation\": [[1, 1, 3, 1, 3, 3], [1, 2, 3]]"), 1,
                  "segmentation[1] has an odd number of coordinates (3)");
  expect_gt_error(ANN(", \"bbox\": [1, 1, 2, 2], \"segmentation\": {\"size\": [10, 10], \"counts\": [5, 5]}"), 1,
                  "counts sum to 10, expected h*w = 10x10 = 100");
  expect_gt_error(ANN(", \"bbox\": [1, 1, 2, 2], \"segmentation\": {\"size\": [10, 10], \"counts\": \"0\"}"), 1,
                  "sum to 0");
  expect_gt_error(ANN(", \"bbox\": [1, 1, 2, 2], \"segmentation\": []"), 1, "empty list");
  expect_gt_error(ANN(", \"bbox\": [1, 1, 2, 2], \"segmentation\": 3"), 1, "must be a polygon list or an RLE");
  /* malformed JSON: the byte offset is reported */
  const char *broken = "{\"images\": [{\"id\": 1,, }]}";
  nala_coco_gt *gt = NULL;
  ck_assert_int_eq(nala_coco_gt_parse(broken, strlen(broken), "gt.json", 0, &gt, &err), NALA_E_FORMAT);
  ck_assert_str_eq(err.msg, "gt.json: invalid JSON near line 1, column 23 (byte offset 22 of 26)");
  const char *no_images = "{\"annotations\": [], \"categories\": []}";
  ck_assert_int_eq(nala_coco_gt_parse(no_images, strlen(no_images), "gt.json", 0, &gt, &err), NALA_E_FORMAT);
  ck_assert_str_eq(err.msg, "gt.json: no \"images\" list (is this a COCO instances file?)");
  const char *bad_img = "{\"images\": [{\"id\": 1.5}], \"annotations\": [], \"categories\": []}";
  ck_assert_int_eq(nala_coco_gt_parse(bad_img, strlen(bad_img), "gt.json", 0, &gt, &err), NALA_E_FORMAT);
  ck_assert_str_eq(err.msg, "gt.json: images[0]: \"id\" must be an integer");
  ck_assert_int_eq(nala_coco_gt_load("/nonexistent/gt.json", 0, &gt, &err), NALA_E_IO);
  ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/gt.json: cannot open"));
  ck_assert_ptr_null(gt);
}
END_TEST

static nala_status parse_dets(const char *json, int with_masks, nala_err *err) {
  nala_coco_gt *gt;
  const char *gt_json = "{\"images\": [{\"id\": 1, \"height\": 10, \"width\": 10}, {\"id\": 2, \"height\": 10, \"width\": 10}],"
                        " \"categories\": [{\"id\": 5}], \"annotations\": []}";
  ck_assert_int_eq(nala_coco_gt_parse(gt_json, strlen(gt_json), "gt.json", 1, &gt, err), NALA_OK);
  nala_coco_dets *dets = NULL;
  nala_status st = nala_coco_dets_parse(json, strlen(json), "dets.json", gt, with_masks, &dets, err);
  if (st == NALA_OK)
    ck_assert_uint_eq(nala_coco_dets_count(dets), 1);
  nala_coco_dets_free(dets);
  nala_coco_gt_free(gt);
  return st;
}

START_TEST(bad_results_are_reported) {
  nala_err err;
  ck_assert_int_eq(parse_dets("[{\"image_id\": 1, \"category_id\": 5, \"bbox\": [0, 0, 2, 2], \"score\": 0.5},"
                              " {\"image_id\": 1, \"category_id\": 6, \"bbox\": [0, 0, 2, 2], \"score\": 0.5}]", 1, &err),
                   NALA_OK);
  ck_assert_int_eq(parse_dets("[{\"image_id\": 1, \"category_id\": 5, \"bbox\": [0, 0, 2, 2], \"score\": 0.5},"
                              " {\"image_id\": 9, \"category_id\": 5, \"bbox\": [0, 0, 2, 2], \"score\": 0.5},"
                              " {\"image_id\": 8, \"category_id\": 5, \"bbox\": [0, 0, 2, 2], \"score\": 0.5}]", 0, &err),
                   NALA_E_FORMAT);
  ck_assert_str_eq(err.msg, "dets.json: 2 results have image ids not in the ground truth (9, 8)");
  ck_assert_int_eq(parse_dets("[{\"image_id\": 1, \"category_id\": 5, \"bbox\": [0, 0, 2, -2], \"score\": 0.5}]", 0, &err),
                   NALA_E_FORMAT);
  ck_assert_str_eq(err.msg, "dets.json: results[0]: bbox has a negative size (w 2, h -2)");
  ck_assert_int_eq(parse_dets("[{\"image_id\": 1, \"category_id\": 5, \"bbox\": [0, 0, 2, 2]}]", 0, &err), NALA_E_FORMAT);
  ck_assert_str_eq(err.msg, "dets.json: results[0]: missing \"score\"");
  ck_assert_int_eq(parse_dets("[{\"image_id\": \"1\", \"category_id\": 5, \"bbox\": [0, 0, 2, 2], \"score\": 1}]", 0, &err),
                   NALA_E_FORMAT);
  ck_assert_str_eq(err.msg, "dets.json: results[0]: \"image_id\" must be an integer");
  ck_assert_int_eq(parse_dets("[{\"image_id\": 1, \"category_id\": 5, \"bbox\": [0, 0, NaN, 2], \"score\": 1}]", 0, &err),
                   NALA_E_FORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "invalid JSON near line"));
  ck_assert_int_eq(parse_dets("[{\"image_id\": 1, \"category_id\": 5, \"score\": 1,"
                              " \"segmentation\": {\"size\": [10, 10], \"counts\": \"PP\"}}]", 0, &err),
                   NALA_E_FORMAT);
  ck_assert_str_eq(err.msg, "dets.json: results[0]: segmentation: RLE string ends inside the value starting at char 0");
  ck_assert_int_eq(parse_dets("[{\"image_id\": 1, \"category_id\": 5, \"score\": 1}]", 0, &err), NALA_E_FORMAT);
  ck_assert_str_eq(err.msg, "dets.json: results[0]: needs \"bbox\" or \"segmentation\"");
  ck_assert_int_eq(parse_dets("{\"image_id\": 1}", 0, &err), NALA_E_FORMAT);
  ck_assert_str_eq(err.msg, "dets.json: results must be a list of objects");
}
END_TEST

/* An empty RLE string as the first text mask (nothing stored yet) used to offset a NULL buffer: a
 * UBSan finding of a 7M-exec fuzz_coco run (eval/coco_objs.c). A 0 x 8 mask with no runs is valid
 * COCO RLE (pycocotools decodes it to an empty mask), so it loads, alone or before a real mask that
 * is then stored from offset 0; an empty string for a non-empty size is refused with the sizes. */
START_TEST(empty_rle_string_as_first_mask_loads) {
  nala_err err;
  ck_assert_int_eq(parse_dets("[{\"image_id\": 1, \"category_id\": 5, \"score\": 1,"
                              " \"segmentation\": {\"size\": [0, 8], \"counts\": \"\"}}]", 1, &err),
                   NALA_OK);
  const char *gt_json = "{\"images\": [{\"id\": 1, \"height\": 4, \"width\": 4}], \"categories\": [{\"id\": 5}],"
                        " \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 5, \"iscrowd\": 0,"
                        " \"area\": 4, \"bbox\": [0, 0, 2, 2], \"segmentation\": {\"size\": [4, 4], \"counts\": \"02208\"}}]}";
  const char *dt = "[{\"image_id\": 1, \"category_id\": 5, \"score\": 0.9,"
                   " \"segmentation\": {\"size\": [0, 8], \"counts\": \"\"}},"
                   " {\"image_id\": 1, \"category_id\": 5, \"score\": 0.8,"
                   " \"segmentation\": {\"size\": [4, 4], \"counts\": \"02208\"}}]";
  nala_coco_gt *gt = NULL;
  ck_assert_int_eq(nala_coco_gt_parse(gt_json, strlen(gt_json), "gt.json", 1, &gt, &err), NALA_OK);
  nala_coco_dets *dets = NULL;
  ck_assert_msg(nala_coco_dets_parse(dt, strlen(dt), "dets.json", gt, 1, &dets, &err) == NALA_OK, "%s", err.msg);
  ck_assert_uint_eq(nala_coco_dets_count(dets), 2);
  nala_coco_dets_free(dets);
  const char *bad = "[{\"image_id\": 1, \"category_id\": 5, \"score\": 0.9,"
                    " \"segmentation\": {\"size\": [4, 4], \"counts\": \"\"}}]";
  ck_assert_int_eq(nala_coco_dets_parse(bad, strlen(bad), "dets.json", gt, 1, &dets, &err), NALA_E_FORMAT);
  printf("%s\n", err.msg);
  ck_assert_str_eq(err.msg, "dets.json: results[0]: segmentation: RLE counts sum to 0, expected h*w = 4x4 = 16");
  nala_coco_gt_free(gt);
}
END_TEST

/* ---- the CLI ---- */

static int run_cli(const char *args, char *out, size_t cap) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "%s eval coco %s 2>/dev/null", NALA_CLI, args);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = 0;
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(cli_prints_pycocotools_summary_and_json) {
  char out[8192], json_path[] = "/tmp/nala_coco_cli_XXXXXX";
  int fd = mkstemp(json_path);
  ck_assert_int_ge(fd, 0);
  close(fd);
  char args[1024];
  snprintf(args, sizeof args, "--gt " FIX "gt.json --results " FIX "dets_box_mask.json --iou-type segm --json %s",
           json_path);
  ck_assert_int_eq(run_cli(args, out, sizeof out), 0);
  char *want = read_text(FIX "summary_segm.txt");
  ck_assert_str_eq(out, want);
  free(want);
  char *text = read_text(json_path);
  cJSON *got = cJSON_Parse(text), *exp = expected_case(1);
  free(text);
  ck_assert_str_eq(cJSON_GetObjectItem(got, "iou_type")->valuestring, "segm");
  for (int i = 0; i < NALA_COCO_NUM_STATS; i++) /* full precision: %.17g round-trips */
    ck_assert_double_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(got, "stats"), i)->valuedouble,
                        cJSON_GetArrayItem(cJSON_GetObjectItem(exp, "stats"), i)->valuedouble);
  ck_assert_double_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(got, "per_category"), "3")->valuedouble,
                      cJSON_GetObjectItem(cJSON_GetObjectItem(exp, "per_category"), "3")->valuedouble);
  cJSON_Delete(got);
  cJSON_Delete(exp);
  /* --out is the same flag; a category without ground truth (90) has AP -1 in per_category. */
  snprintf(args, sizeof args, "--gt " FIX "gt.json --results " FIX "dets_box_only.json --iou-type bbox --out %s",
           json_path);
  ck_assert_int_eq(run_cli(args, out, sizeof out), 0);
  text = read_text(json_path);
  got = cJSON_Parse(text);
  free(text);
  ck_assert_double_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(got, "per_category"), "90")->valuedouble, -1.0);
  cJSON_Delete(got);
  unlink(json_path);
  ck_assert_int_eq(run_cli("--gt " FIX "gt.json --results " FIX "dets_box_only.json --iou-type bbox --per-class", out,
                           sizeof out), 0);
  ck_assert_ptr_nonnull(strstr(out, "         90  cat90                     -1.000"));
  ck_assert_int_eq(run_cli("--gt " FIX "gt.json --results " FIX "dets_box_only.json --iou-type keypoints", out, sizeof out), 2);
  ck_assert_int_eq(run_cli("--gt " FIX "gt.json --iou-type bbox", out, sizeof out), 2);
  ck_assert_int_eq(run_cli("--gt " FIX "gt.json --results /nonexistent.json --iou-type bbox", out, sizeof out), 1);
  ck_assert_int_eq(run_cli("--gt " FIX "gt.json --results " FIX "dets_box_only.json --iou-type bbox --json /nonexistent/dir/x.json",
                           out, sizeof out), 1);
  ck_assert_int_eq(run_cli("--gt " FIX "gt.json --results " FIX "dets_box_only.json --iou-type bbox --threads x", out, sizeof out), 2);
  ck_assert_int_eq(run_cli("--gt " FIX "rle_cases.json --results " FIX "dets_box_only.json --iou-type bbox", out, sizeof out), 1);
}
END_TEST

/* ---- reproducers (tests/fixtures/reliability/, the fuzz_coco.c input format) ---- */

#define REL NALA_FIXTURES "/reliability/"

static uint8_t *read_bytes(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc(*n ? *n : 1);
  ck_assert_uint_eq(fread(buf, 1, *n, f), *n);
  fclose(f);
  return buf;
}

static void write_tmp(char *path_template, const char *text, size_t len) {
  int fd = mkstemp(path_template);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
  close(fd);
}

/* Loads a reproducer through the public API; dt_json overrides (or supplies) its results. */
static nala_status run_repro(const char *name, const char *dt_json, nala_coco_result *res, nala_err *err) {
  size_t n;
  uint8_t *raw = read_bytes(name, &n);
  fuzz_coco_input in;
  ck_assert(fuzz_coco_split(raw, n, &in));
  nala_coco_gt *gt = NULL;
  nala_coco_dets *dets = NULL;
  nala_status st = nala_coco_gt_parse(in.gt, in.gt_len, "gt", in.gt_masks, &gt, err);
  const char *dt = dt_json ? dt_json : in.dt;
  size_t dt_len = dt_json ? strlen(dt_json) : in.dt_len;
  int masks = in.gt_masks && (dt_json || in.dt_masks);
  if (st == NALA_OK && dt)
    st = nala_coco_dets_parse(dt, dt_len, "dt", gt, masks, &dets, err);
  if (st == NALA_OK && dt)
    st = nala_coco_evaluate(gt, dets, masks ? NALA_COCO_SEGM : NALA_COCO_BBOX, NULL, res, err);
  nala_coco_dets_free(dets);
  nala_coco_gt_free(gt);
  free(raw);
  return st;
}

/* The CLI on a reproducer split into two files: exit code, and AP in *ap. */
static int run_repro_cli(const char *name, const char *dt_json, double *ap) {
  size_t n;
  uint8_t *raw = read_bytes(name, &n);
  fuzz_coco_input in;
  ck_assert(fuzz_coco_split(raw, n, &in));
  char gt_path[] = "/tmp/nala_repro_gt_XXXXXX", dt_path[] = "/tmp/nala_repro_dt_XXXXXX";
  char json_path[] = "/tmp/nala_repro_out_XXXXXX";
  write_tmp(gt_path, in.gt, in.gt_len);
  write_tmp(dt_path, dt_json ? dt_json : in.dt, dt_json ? strlen(dt_json) : in.dt_len);
  write_tmp(json_path, "", 0);
  char args[1024], out[8192];
  snprintf(args, sizeof args, "--gt %s --results %s --iou-type segm --json %s", gt_path, dt_path, json_path);
  int code = run_cli(args, out, sizeof out);
  char *text = read_text(json_path);
  cJSON *got = cJSON_Parse(text);
  *ap = got ? cJSON_GetArrayItem(cJSON_GetObjectItem(got, "stats"), 0)->valuedouble : NAN;
  cJSON_Delete(got);
  free(text);
  unlink(gt_path);
  unlink(dt_path);
  unlink(json_path);
  free(raw);
  return code;
}

/* Polygon GT against a box-only detection used to add 0 to a NULL run buffer (UBSan). */
START_TEST(box_only_detection_against_polygon_gt_matches_pycocotools) {
  char *text = read_text(REL "poly_clip_cases.json");
  cJSON *cases_json = cJSON_Parse(text);
  free(text);
  const cJSON *want = cJSON_GetObjectItem(cases_json, "coco_eval_null_offset_segm_stats");
  nala_coco_result res;
  nala_err err;
  nala_status st = run_repro(REL "coco_eval_null_offset.bin", NULL, &res, &err);
  ck_assert_msg(st == NALA_OK, "%s", err.msg);
  double max_abs = 0;
  for (int i = 0; i < NALA_COCO_NUM_STATS; i++)
    max_abs = fmax(max_abs, fabs(res.stats[i] - cJSON_GetArrayItem(want, i)->valuedouble));
  printf("coco_eval_null_offset.bin segm: AP %.4f, max_abs vs pycocotools %g\n", res.stats[0], max_abs);
  ck_assert_double_le(max_abs, TOL);
  nala_coco_result_free(&res);
  double ap;
  ck_assert_int_eq(run_repro_cli(REL "coco_eval_null_offset.bin", NULL, &ap), 0);
  ck_assert_double_eq_tol(ap, cJSON_GetArrayItem(want, 0)->valuedouble, TOL);
  cJSON_Delete(cases_json);
}
END_TEST

/* An explicitly closed polygon (last vertex = first: maskApi's (int)NaN) rasterises to
 * pycocotools' mask "023O7": a detection with exactly that mask scores AP 1. */
START_TEST(closed_polygon_gt_gives_pycocotools_mask) {
  const char *dt = "[{\"image_id\":1,\"category_id\":1,\"score\":1,"
                   "\"segmentation\":{\"size\":[4,4],\"counts\":\"023O7\"}}]";
  nala_coco_result res;
  nala_err err;
  nala_status st = run_repro(REL "coco_closed_polygon_nan.bin", dt, &res, &err);
  ck_assert_msg(st == NALA_OK, "%s", err.msg);
  printf("coco_closed_polygon_nan.bin: AP %.4f against pycocotools' mask\n", res.stats[0]);
  ck_assert_double_eq_tol(res.stats[0], 1.0, TOL);
  nala_coco_result_free(&res);
  double ap;
  ck_assert_int_eq(run_repro_cli(REL "coco_closed_polygon_nan.bin", dt, &ap), 0);
  ck_assert_double_eq_tol(ap, 1.0, TOL);
}
END_TEST

/* A 456-byte GT with a polygon at +-1e7 used to ask for 4.8 GB; beyond 1e8 is an error naming it. */
START_TEST(far_polygon_gt_loads_in_image_bounded_memory) {
  const char *dt = "[{\"image_id\":1,\"category_id\":1,\"score\":1,\"bbox\":[0,0,1,1]}]";
  nala_coco_result res;
  nala_err err;
  nala_status st = run_repro(REL "coco_poly_huge_walk.bin", dt, &res, &err);
  ck_assert_msg(st == NALA_OK, "%s", err.msg);
  nala_coco_result_free(&res);
  double ap;
  ck_assert_int_eq(run_repro_cli(REL "coco_poly_huge_walk.bin", dt, &ap), 0);
  const char *gt = "{\"images\":[{\"id\":1,\"height\":10,\"width\":10}],\"categories\":[{\"id\":1}],"
                   "\"annotations\":[{\"id\":7,\"image_id\":1,\"category_id\":1,\"iscrowd\":0,\"area\":1,"
                   "\"bbox\":[0,0,1,1],\"segmentation\":[[0,0,5,5,2e8,3]]}]}";
  nala_coco_gt *g = NULL;
  ck_assert_int_eq(nala_coco_gt_parse(gt, strlen(gt), "gt.json", 1, &g, &err), NALA_E_FORMAT);
  printf("%s\n", err.msg);
  ck_assert_str_eq(err.msg, "gt.json: annotations[0] (id 7): segmentation[0]: polygon coordinate 4 is 2e+08 "
                            "(must be finite, |v| <= 1e+08)");
  ck_assert_ptr_null(g);
}
END_TEST

static Suite *coco_suite(void) {
  Suite *s = suite_create("coco_eval");
  TCase *tc = tcase_create("pycocotools");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, stats_match_pycocotools, 0, 8);
  tcase_add_test(tc, in_memory_detections_match_json);
  tcase_add_test(tc, two_threads_share_one_ground_truth);
  tcase_add_test(tc, empty_results_give_zero_ap);
  tcase_add_test(tc, bad_ground_truth_is_reported);
  tcase_add_test(tc, bad_results_are_reported);
  tcase_add_test(tc, empty_rle_string_as_first_mask_loads);
  tcase_add_test(tc, cli_prints_pycocotools_summary_and_json);
  tcase_add_test(tc, box_only_detection_against_polygon_gt_matches_pycocotools);
  tcase_add_test(tc, closed_polygon_gt_gives_pycocotools_mask);
  tcase_add_test(tc, far_polygon_gt_loads_in_image_bounded_memory);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return nala_run_suite(coco_suite());
}
