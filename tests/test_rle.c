#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/rle.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/support/suite.h"

/* tests/fixtures/coco/rle_cases.json comes from pycocotools' mask API (make_coco_fixtures.py). */
static cJSON *cases;

static void load_cases(void) {
  FILE *f = fopen(NALA_FIXTURES "/coco/rle_cases.json", "rb");
  ck_assert_msg(f != NULL, "cannot open rle_cases.json");
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  ck_assert_int_eq(fread(buf, 1, (size_t)n, f), n);
  buf[n] = 0;
  fclose(f);
  cases = cJSON_Parse(buf);
  free(buf);
  ck_assert_ptr_nonnull(cases);
}

static void free_cases(void) { cJSON_Delete(cases); }

static const cJSON *group(const char *name) { return cJSON_GetObjectItem(cases, name); }
static int geti(const cJSON *c, const char *k) { return (int)cJSON_GetObjectItem(c, k)->valuedouble; }
static const char *gets(const cJSON *c, const char *k) { return cJSON_GetObjectItem(c, k)->valuestring; }

static void assert_string(const nala_rle *r, const char *want) {
  char *s = NULL;
  nala_err err;
  ck_assert_int_eq(nala_rle_to_string(r, &s, &err), NALA_OK);
  ck_assert_str_eq(s, want);
  free(s);
}

static void assert_bbox(const nala_rle *r, const cJSON *want) {
  double bb[4];
  nala_rle_to_bbox(r, bb);
  for (int j = 0; j < 4; j++)
    ck_assert_double_eq(bb[j], cJSON_GetArrayItem(want, j)->valuedouble);
}

static nala_rle from_string(const char *s, int h, int w) {
  nala_rle r;
  nala_err err;
  nala_status st = nala_rle_from_string(s, strlen(s), (uint32_t)h, (uint32_t)w, &r, &err);
  ck_assert_msg(st == NALA_OK, "%s", err.msg);
  return r;
}

START_TEST(encode_decode_match_pycocotools) {
  const cJSON *c;
  int n = 0;
  cJSON_ArrayForEach(c, group("encode")) {
    int h = geti(c, "h"), w = geti(c, "w");
    const char *bits = gets(c, "mask");
    uint8_t *mask = malloc((size_t)h * w), *back = malloc((size_t)h * w);
    for (int i = 0; i < h * w; i++)
      mask[i] = bits[i] == '1';
    nala_rle r;
    nala_err err;
    ck_assert_int_eq(nala_rle_encode(mask, (uint32_t)h, (uint32_t)w, &r, &err), NALA_OK);
    assert_string(&r, gets(c, "counts"));
    ck_assert_uint_eq(nala_rle_area(&r), (uint64_t)geti(c, "area"));
    assert_bbox(&r, cJSON_GetObjectItem(c, "bbox"));
    ck_assert_int_eq(nala_rle_decode(&r, back, &err), NALA_OK);
    ck_assert_mem_eq(mask, back, (size_t)h * w);
    nala_rle s = from_string(gets(c, "counts"), h, w);
    ck_assert_uint_eq(s.m, r.m);
    ck_assert_mem_eq(s.counts, r.counts, sizeof(uint32_t) * r.m);
    nala_rle_free(&s);
    nala_rle_free(&r);
    free(mask);
    free(back);
    n++;
  }
  ck_assert_int_gt(n, 0);
}
END_TEST

START_TEST(polygons_and_boxes_rasterise_like_frPyObjects) {
  const cJSON *c;
  nala_err err;
  int n = 0;
  cJSON_ArrayForEach(c, group("poly")) {
    const cJSON *xy = cJSON_GetObjectItem(c, "xy");
    int k = cJSON_GetArraySize(xy);
    double *v = malloc(sizeof(double) * (size_t)k);
    for (int i = 0; i < k; i++)
      v[i] = cJSON_GetArrayItem(xy, i)->valuedouble;
    nala_rle r;
    ck_assert_int_eq(nala_rle_from_poly(v, (size_t)k / 2, (uint32_t)geti(c, "h"), (uint32_t)geti(c, "w"), &r, &err),
                     NALA_OK);
    assert_string(&r, gets(c, "counts"));
    ck_assert_uint_eq(nala_rle_area(&r), (uint64_t)geti(c, "area"));
    assert_bbox(&r, cJSON_GetObjectItem(c, "bbox"));
    ck_assert_int_eq(nala_rle_validate(&r, &err), NALA_OK);
    nala_rle_free(&r);
    free(v);
    n++;
  }
  cJSON_ArrayForEach(c, group("bbox")) {
    double bb[4];
    for (int j = 0; j < 4; j++)
      bb[j] = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "bbox_in"), j)->valuedouble;
    nala_rle r;
    ck_assert_int_eq(nala_rle_from_bbox(bb, (uint32_t)geti(c, "h"), (uint32_t)geti(c, "w"), &r, &err), NALA_OK);
    assert_string(&r, gets(c, "counts"));
    nala_rle_free(&r);
    n++;
  }
  ck_assert_int_ge(n, 18);
}
END_TEST

START_TEST(merge_union_and_intersection) {
  const cJSON *c;
  nala_err err;
  cJSON_ArrayForEach(c, group("merge")) {
    int h = geti(c, "h"), w = geti(c, "w"), n = cJSON_GetArraySize(cJSON_GetObjectItem(c, "parts"));
    nala_rle *parts = calloc((size_t)n, sizeof(nala_rle)), out;
    for (int i = 0; i < n; i++)
      parts[i] = from_string(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "parts"), i)->valuestring, h, w);
    ck_assert_int_eq(nala_rle_merge(parts, (size_t)n, 0, &out, &err), NALA_OK);
    assert_string(&out, gets(c, "union"));
    nala_rle_free(&out);
    ck_assert_int_eq(nala_rle_merge(parts, (size_t)n, 1, &out, &err), NALA_OK);
    assert_string(&out, gets(c, "intersection"));
    nala_rle_free(&out);
    for (int i = 0; i < n; i++)
      nala_rle_free(&parts[i]);
    free(parts);
  }
}
END_TEST

START_TEST(iou_with_crowd_rule) {
  const cJSON *c;
  double max_abs = 0;
  cJSON_ArrayForEach(c, group("iou")) {
    int h = geti(c, "h"), w = geti(c, "w");
    const cJSON *dj = cJSON_GetObjectItem(c, "dt"), *gj = cJSON_GetObjectItem(c, "gt");
    int m = cJSON_GetArraySize(dj), n = cJSON_GetArraySize(gj);
    nala_rle *dt = calloc((size_t)m, sizeof(nala_rle)), *gt = calloc((size_t)n, sizeof(nala_rle));
    uint8_t *crowd = malloc((size_t)n);
    double *iou = malloc(sizeof(double) * (size_t)(m * n));
    for (int i = 0; i < m; i++)
      dt[i] = from_string(cJSON_GetArrayItem(dj, i)->valuestring, h, w);
    for (int g = 0; g < n; g++) {
      gt[g] = from_string(cJSON_GetArrayItem(gj, g)->valuestring, h, w);
      crowd[g] = (uint8_t)cJSON_GetArrayItem(cJSON_GetObjectItem(c, "iscrowd"), g)->valuedouble;
    }
    nala_rle_iou(dt, (size_t)m, gt, (size_t)n, crowd, iou);
    for (int i = 0; i < m * n; i++)
      max_abs = fmax(max_abs, fabs(iou[i] - cJSON_GetArrayItem(cJSON_GetObjectItem(c, "iou"), i)->valuedouble));
    for (int i = 0; i < m; i++)
      nala_rle_free(&dt[i]);
    for (int g = 0; g < n; g++)
      nala_rle_free(&gt[g]);
    free(dt);
    free(gt);
    free(crowd);
    free(iou);
  }
  cJSON_ArrayForEach(c, group("bbox_iou")) {
    double dt[16], gt[12], iou[12];
    uint8_t crowd[3];
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 4; j++)
        dt[4 * i + j] = cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "dt"), i), j)->valuedouble;
    for (int i = 0; i < 3; i++) {
      for (int j = 0; j < 4; j++)
        gt[4 * i + j] = cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "gt"), i), j)->valuedouble;
      crowd[i] = (uint8_t)cJSON_GetArrayItem(cJSON_GetObjectItem(c, "iscrowd"), i)->valuedouble;
    }
    nala_bbox_iou(dt, 4, gt, 3, crowd, iou);
    for (int i = 0; i < 12; i++)
      max_abs = fmax(max_abs, fabs(iou[i] - cJSON_GetArrayItem(cJSON_GetObjectItem(c, "iou"), i)->valuedouble));
  }
  printf("rle/bbox iou vs pycocotools: max_abs=%g\n", max_abs);
  ck_assert_double_eq(max_abs, 0);
}
END_TEST

START_TEST(string_round_trip_of_large_and_zero_runs) {
  uint32_t counts[] = {0, 1000000000u, 5, 0, 7, 123456789u, 1, 2000000000u - 1123456802u};
  nala_rle r = {1000, 2000000, 8, counts}, back;
  nala_err err;
  char *s;
  ck_assert_int_eq(nala_rle_validate(&r, &err), NALA_OK);
  ck_assert_int_eq(nala_rle_to_string(&r, &s, &err), NALA_OK);
  ck_assert_int_eq(nala_rle_from_string(s, strlen(s), 1000, 2000000, &back, &err), NALA_OK);
  ck_assert_uint_eq(back.m, 8);
  ck_assert_mem_eq(back.counts, counts, sizeof counts);
  ck_assert_uint_eq(nala_rle_area(&back), 1000000000u + 0 + 123456789u + (2000000000u - 1123456802u));
  free(s);
  nala_rle_free(&back);
}
END_TEST

/* tests/fixtures/reliability/poly_clip_cases.json (tools/fixtures/make_poly_clip_fixtures.py):
 * polygons and boxes reaching up to 1e6 px outside the image, with pycocotools' masks. */
static cJSON *load_json(const char *path) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  ck_assert_int_eq(fread(buf, 1, (size_t)n, f), n);
  buf[n] = 0;
  fclose(f);
  cJSON *root = cJSON_Parse(buf);
  free(buf);
  ck_assert_ptr_nonnull(root);
  return root;
}

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

/* Counts string of a polygon, or NULL with the error printed. */
static char *poly_string(const cJSON *xy_json, int h, int w) {
  int k = cJSON_GetArraySize(xy_json);
  double *xy = malloc(sizeof(double) * (size_t)k);
  for (int i = 0; i < k; i++)
    xy[i] = cJSON_GetArrayItem(xy_json, i)->valuedouble;
  nala_rle r;
  nala_err err;
  char *s = NULL;
  nala_status st = nala_rle_from_poly(xy, (size_t)k / 2, (uint32_t)h, (uint32_t)w, &r, &err);
  if (st == NALA_OK) {
    ck_assert_int_eq(nala_rle_validate(&r, &err), NALA_OK);
    ck_assert_int_eq(nala_rle_to_string(&r, &s, &err), NALA_OK);
    nala_rle_free(&r);
  } else {
    printf("  from_poly failed: %s\n", err.msg);
  }
  free(xy);
  return s;
}

START_TEST(polygons_leaving_the_image_match_pycocotools) {
  cJSON *clip = load_json(NALA_FIXTURES "/reliability/poly_clip_cases.json");
  const cJSON *c;
  int n = 0, bad = 0;
  double reach = 0;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(clip, "poly")) {
    const cJSON *xy = cJSON_GetObjectItem(c, "xy");
    const cJSON *v;
    cJSON_ArrayForEach(v, xy) reach = fmax(reach, fabs(v->valuedouble));
    char *s = poly_string(xy, geti(c, "h"), geti(c, "w"));
    if (!s || strcmp(s, gets(c, "counts"))) {
      if (bad++ < 5)
        printf("  poly %d (%dx%d): got %s, pycocotools %s\n", n, geti(c, "h"), geti(c, "w"), s ? s : "(error)",
               gets(c, "counts"));
    }
    free(s);
    n++;
  }
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(clip, "bbox")) {
    double bb[4];
    for (int j = 0; j < 4; j++)
      bb[j] = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "bbox"), j)->valuedouble;
    nala_rle r;
    nala_err err;
    char *s = NULL;
    ck_assert_int_eq(nala_rle_from_bbox(bb, (uint32_t)geti(c, "h"), (uint32_t)geti(c, "w"), &r, &err), NALA_OK);
    ck_assert_int_eq(nala_rle_to_string(&r, &s, &err), NALA_OK);
    if (strcmp(s, gets(c, "counts")) && bad++ < 5)
      printf("  box %d: got %s, pycocotools %s\n", n, s, gets(c, "counts"));
    free(s);
    nala_rle_free(&r);
    n++;
  }
  printf("polygons/boxes leaving the image (vertices up to %g px out): %d/%d masks identical to pycocotools\n",
         reach, n - bad, n);
  ck_assert_int_ge(n, 400);
  ck_assert_int_eq(bad, 0);
  cJSON_Delete(clip);
}
END_TEST

/* Reproducers: a repeated vertex and an explicitly closed polygon (maskApi's 0/0 slope, (int)NaN). */
START_TEST(repeated_vertices_match_pycocotools_without_ub) {
  cJSON *clip = load_json(NALA_FIXTURES "/reliability/poly_clip_cases.json");
  const cJSON *c;
  int n = 0;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(clip, "repro")) {
    char *s = poly_string(cJSON_GetObjectItem(c, "xy"), geti(c, "h"), geti(c, "w"));
    printf("%s: %s, pycocotools %s\n", gets(c, "name"), s ? s : "(error)", gets(c, "counts"));
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, gets(c, "counts"));
    free(s);
    n++;
  }
  ck_assert_int_eq(n, 2);
  cJSON_Delete(clip);
  /* The .bin itself through the fuzz-input format, as fuzz_rle.c reads it. */
  size_t len;
  uint8_t *raw = read_bytes(NALA_FIXTURES "/reliability/rle_poly_repeated_vertex.bin", &len);
  fuzz_rle_input in;
  ck_assert(fuzz_rle_split(raw, len, &in));
  ck_assert_int_eq(in.mode, 2);
  size_t k = in.payload_len / 16;
  double xy[6];
  ck_assert_uint_eq(k, 3);
  for (size_t i = 0; i < 2 * k; i++)
    xy[i] = fuzz_f64_at(in.payload, i);
  nala_rle r;
  nala_err err;
  ck_assert_int_eq(nala_rle_from_poly(xy, k, in.h, in.w, &r, &err), NALA_OK);
  ck_assert_int_eq(nala_rle_validate(&r, &err), NALA_OK);
  nala_rle_free(&r);
  free(raw);
}
END_TEST

/* A polygon at +-1e7 on a 10x10 image: maskApi walks 1.2e9 points (4.8 GB); nala walks only the
 * columns of the image. Bigger than the documented bound (1e8) is an error naming the value. */
START_TEST(far_vertices_cost_image_size_and_absurd_ones_are_refused) {
  double xy[24];
  for (int j = 0; j < 12; j++)
    xy[2 * j] = xy[2 * j + 1] = j % 2 ? 1e7 : -1e7;
  nala_rle r, line;
  nala_err err;
  ck_assert_int_eq(nala_rle_from_poly(xy, 12, 10, 10, &r, &err), NALA_OK);
  ck_assert_int_eq(nala_rle_validate(&r, &err), NALA_OK);
  /* Every edge lies on the diagonal, so the mask is the one of a single there-and-back edge. */
  double diag[4] = {-1e7, -1e7, 1e7, 1e7};
  ck_assert_int_eq(nala_rle_from_poly(diag, 2, 10, 10, &line, &err), NALA_OK);
  printf("+-1e7 zigzag on 10x10: %u runs, area %llu (one diagonal edge: %u runs, area %llu)\n", r.m,
         (unsigned long long)nala_rle_area(&r), line.m, (unsigned long long)nala_rle_area(&line));
  ck_assert_uint_eq(nala_rle_area(&r), nala_rle_area(&line));
  nala_rle_free(&r);
  nala_rle_free(&line);
  /* Far on a wide image: still one column range per edge. */
  double tall[8] = {-1e8, -1e8, 1e8, -1e8, 1e8, 1e8, -1e8, 1e8};
  ck_assert_int_eq(nala_rle_from_poly(tall, 4, 1000, 1000, &r, &err), NALA_OK);
  ck_assert_uint_eq(nala_rle_area(&r), 1000000); /* the square covers the whole image */
  nala_rle_free(&r);
  tall[5] = 1.5e8;
  ck_assert_int_eq(nala_rle_from_poly(tall, 4, 1000, 1000, &r, &err), NALA_E_FORMAT);
  printf("1.5e8: %s\n", err.msg);
  ck_assert_ptr_nonnull(strstr(err.msg, "coordinate 5 is 1.5e+08"));
  ck_assert_ptr_nonnull(strstr(err.msg, "1e+08"));
  tall[5] = INFINITY;
  ck_assert_int_eq(nala_rle_from_poly(tall, 4, 1000, 1000, &r, &err), NALA_E_FORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "coordinate 5 is inf"));
  ck_assert_ptr_null(r.counts);
}
END_TEST

/* Reproducer: 4x4 [5,3,0,8] (after 8 empty runs) merged with itself; maskApi returns [5,3]. */
START_TEST(merge_steps_over_interior_zero_runs) {
  size_t len;
  uint8_t *raw = read_bytes(NALA_FIXTURES "/reliability/rle_merge_zero_run.bin", &len);
  fuzz_rle_input in;
  ck_assert(fuzz_rle_split(raw, len, &in));
  ck_assert_int_eq(in.mode, 3);
  uint32_t m = (uint32_t)(in.payload_len / 4), counts[16];
  ck_assert_uint_eq(m, 12);
  for (uint32_t j = 0; j < m; j++)
    counts[j] = fuzz_u32_at(in.payload, j);
  nala_rle a = {in.h, in.w, m, counts}, pair[3] = {a, a, a}, out;
  uint32_t plain[] = {5, 3, 0, 8}, zeros[] = {0, 0, 16};
  nala_rle b = {4, 4, 4, plain}, empty = {4, 4, 3, zeros};
  nala_err err;
  uint8_t mask[16], want[16];
  ck_assert_int_eq(nala_rle_decode(&a, want, &err), NALA_OK);
  for (int intersect = 0; intersect < 2; intersect++) {
    for (size_t n = 2; n <= 3; n++) {
      ck_assert_int_eq(nala_rle_merge(pair, n, intersect, &out, &err), NALA_OK);
      ck_assert_msg(nala_rle_validate(&out, &err) == NALA_OK, "%s", err.msg);
      ck_assert_int_eq(nala_rle_decode(&out, mask, &err), NALA_OK);
      ck_assert_mem_eq(mask, want, 16);
      ck_assert_uint_eq(out.m, 2);
      ck_assert_uint_eq(out.counts[0], 5);
      ck_assert_uint_eq(out.counts[1], 11);
      nala_rle_free(&out);
    }
  }
  nala_rle mixed[2] = {b, empty};
  ck_assert_int_eq(nala_rle_merge(mixed, 2, 0, &out, &err), NALA_OK); /* union with an empty mask */
  ck_assert_uint_eq(nala_rle_area(&out), 11);
  ck_assert_int_eq(nala_rle_validate(&out, &err), NALA_OK);
  nala_rle_free(&out);
  ck_assert_int_eq(nala_rle_merge(mixed, 2, 1, &out, &err), NALA_OK);
  ck_assert_uint_eq(nala_rle_area(&out), 0);
  ck_assert_int_eq(nala_rle_validate(&out, &err), NALA_OK);
  nala_rle_free(&out);
  /* Counts that do not cover the mask are refused by name instead of walked. */
  uint32_t short_counts[] = {5, 3};
  nala_rle bad[2] = {b, {4, 4, 2, short_counts}};
  ck_assert_int_eq(nala_rle_merge(bad, 2, 0, &out, &err), NALA_E_FORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "RLE 1"));
  free(raw);
}
END_TEST

START_TEST(bad_input_is_reported) {
  nala_rle r = {0};
  nala_err err;
  ck_assert_int_eq(nala_rle_from_string("3;", 2, 2, 2, &r, &err), NALA_E_FORMAT); /* runs 3, 11 */
  ck_assert_int_eq(nala_rle_from_string("52", 2, 2, 2, &r, &err), NALA_E_FORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "sum to 7, expected h*w = 2x2 = 4"));
  ck_assert_int_eq(nala_rle_from_string("4 ", 2, 2, 2, &r, &err), NALA_E_FORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "invalid char"));
  ck_assert_int_eq(nala_rle_from_string("0P", 2, 2, 2, &r, &err), NALA_E_FORMAT); /* 'P' sets the continuation bit */
  ck_assert_ptr_nonnull(strstr(err.msg, "ends inside"));
  double xy[6] = {0, 0, 10, NAN, 5, 5};
  ck_assert_int_eq(nala_rle_from_poly(xy, 3, 20, 20, &r, &err), NALA_E_FORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "coordinate 3"));
  ck_assert_int_eq(nala_rle_from_poly(xy, 0, 20, 20, &r, &err), NALA_E_FORMAT);
  uint32_t a_counts[] = {4}, b_counts[] = {6};
  nala_rle two[2] = {{2, 2, 1, a_counts}, {2, 3, 1, b_counts}};
  ck_assert_int_eq(nala_rle_merge(two, 2, 0, &r, &err), NALA_E_SHAPE);
  uint8_t mask[4];
  nala_rle bad = {2, 2, 1, b_counts};
  ck_assert_int_eq(nala_rle_decode(&bad, mask, &err), NALA_E_FORMAT);
  ck_assert_ptr_null(r.counts);
}
END_TEST

static Suite *rle_suite(void) {
  Suite *s = suite_create("rle");
  TCase *tc = tcase_create("pycocotools");
  tcase_add_unchecked_fixture(tc, load_cases, free_cases);
  tcase_add_test(tc, encode_decode_match_pycocotools);
  tcase_add_test(tc, polygons_and_boxes_rasterise_like_frPyObjects);
  tcase_add_test(tc, merge_union_and_intersection);
  tcase_add_test(tc, iou_with_crowd_rule);
  tcase_add_test(tc, string_round_trip_of_large_and_zero_runs);
  tcase_add_test(tc, bad_input_is_reported);
  tcase_add_test(tc, polygons_leaving_the_image_match_pycocotools);
  tcase_add_test(tc, repeated_vertices_match_pycocotools_without_ub);
  tcase_add_test(tc, far_vertices_cost_image_size_and_absurd_ones_are_refused);
  tcase_add_test(tc, merge_steps_over_interior_zero_runs);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return nala_run_suite(rle_suite());
}
