/* Datasets on small fake trees built in a temp folder (empty files: nothing is decoded). */
/* nftw needs X/Open. */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <ftw.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "nala/config.h"
#include "nala/dataset.h"
#include "nala/seg_test.h"
#include "tests/support/cli.h"
#include "tests/support/suite.h"

static char root[256];

static void make_root(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(root, sizeof root, "%s/nala_test_dataset_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  ck_assert_ptr_nonnull(mkdtemp(root));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

/* nftw instead of `rm -rf`: a shell per test case is slow under ASan on a busy machine. */
static void remove_root(void) { ck_assert_int_eq(nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0); }

/* Creates root/<relative path> (folders included) holding text, or empty when text is NULL. */
static void touch(const char *fmt, ...) {
  char rel[512], path[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rel, sizeof rel, fmt, ap);
  va_end(ap);
  snprintf(path, sizeof path, "%s/%s", root, rel);
  for (char *p = path + strlen(root) + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      mkdir(path, 0755);
      *p = '/';
    }
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fclose(f);
}

static void write_file(const char *rel, const char *text) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

static nala_dataset *open_ok(nala_dataset_type type, const char *sub, const nala_dataset_opts *opts,
                             nala_dataset_cfg *dc) {
  char data_root[512];
  nala_err err;
  nala_err_clear(&err);
  snprintf(data_root, sizeof data_root, "%s/%s", root, sub);
  ck_assert_int_eq(nala_dataset_cfg_init(type, data_root, dc, &err), NALA_OK);
  nala_dataset *ds = NULL;
  if (nala_dataset_open(dc, opts, &ds, &err) != NALA_OK)
    ck_abort_msg("open failed: %s", err.msg);
  return ds;
}

static void expect_bad(const nala_dataset *ds, int i, const char *file_rel, const char *reason) {
  char file[1024];
  snprintf(file, sizeof file, "%s/%s", root, file_rel);
  nala_bad_sample bad = nala_dataset_bad_get(ds, i);
  ck_assert_ptr_nonnull(bad.file);
  ck_assert_str_eq(bad.file, file);
  ck_assert_str_eq(bad.reason, reason);
}

static void make_ade(int n_images) {
  for (int i = 0; i < n_images; i++) {
    touch("ade/images/validation/ADE_val_%08d.jpg", i + 1);
    if (i != 3) /* image 4 has no label map */
      touch("ade/annotations/validation/ADE_val_%08d.png", i + 1);
  }
  touch("ade/annotations/validation/ADE_val_99999999.png"); /* label map without image */
  touch("ade/images/validation/notes.txt");                  /* not an image: ignored */
}

START_TEST(ade20k_pairs_sorted_and_reports_mismatches) {
  make_root();
  make_ade(5);
  nala_dataset_cfg dc;
  nala_dataset *ds = open_ok(NALA_DATASET_ADE20K, "ade", NULL, &dc);
  ck_assert_int_eq(dc.reduce_zero_label, 1);
  ck_assert_int_eq(nala_dataset_total(ds), 5);
  ck_assert_int_eq(nala_dataset_size(ds), 4);
  const int want_index[] = {0, 1, 2, 4};
  for (int i = 0; i < 4; i++) {
    const nala_sample *s = nala_dataset_sample(ds, i);
    char want[1024];
    ck_assert_int_eq(s->index, want_index[i]);
    snprintf(want, sizeof want, "ADE_val_%08d.jpg", want_index[i] + 1);
    ck_assert_str_eq(s->file_name, want);
    snprintf(want, sizeof want, "%s/ade/images/validation/ADE_val_%08d.jpg", root, want_index[i] + 1);
    ck_assert_str_eq(s->img_path, want);
    snprintf(want, sizeof want, "%s/ade/annotations/validation/ADE_val_%08d.png", root, want_index[i] + 1);
    ck_assert_str_eq(s->gt_path, want);
    ck_assert_int_eq(s->image_id, -1);
    ck_assert_int_eq(s->gt_is_label_ids, 0);
  }
  ck_assert_ptr_null(nala_dataset_sample(ds, 4));
  ck_assert_ptr_null(nala_dataset_sample(ds, -1));
  ck_assert_int_eq(nala_dataset_bad_count(ds), 2);
  char reason[1024];
  snprintf(reason, sizeof reason, "no label map %s/ade/annotations/validation/ADE_val_00000004.png", root);
  expect_bad(ds, 0, "ade/images/validation/ADE_val_00000004.jpg", reason);
  snprintf(reason, sizeof reason, "label map without image %s/ade/images/validation/ADE_val_99999999.jpg", root);
  expect_bad(ds, 1, "ade/annotations/validation/ADE_val_99999999.png", reason);
  ck_assert_int_eq(nala_dataset_num_classes(ds), 0);
  nala_dataset_close(ds);
  remove_root();
}
END_TEST

START_TEST(cityscapes_prefers_train_ids_and_sorts_by_relative_path) {
  make_root();
  touch("cs/leftImg8bit/val/lindau/lindau_000000_000019_leftImg8bit.png");
  touch("cs/gtFine/val/lindau/lindau_000000_000019_gtFine_labelTrainIds.png");
  touch("cs/gtFine/val/lindau/lindau_000000_000019_gtFine_labelIds.png");
  touch("cs/gtFine/val/lindau/lindau_000000_000019_gtFine_color.png");
  touch("cs/leftImg8bit/val/frankfurt/frankfurt_000001_000002_leftImg8bit.png");
  touch("cs/gtFine/val/frankfurt/frankfurt_000001_000002_gtFine_labelIds.png"); /* only labelIds */
  touch("cs/leftImg8bit/val/frankfurt/frankfurt_000000_000294_leftImg8bit.png");
  touch("cs/gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelTrainIds.png");
  touch("cs/leftImg8bit/val/munster/munster_000000_000019_leftImg8bit.png"); /* no label map */
  touch("cs/gtFine/val/munster/munster_000099_000019_gtFine_labelTrainIds.png"); /* no image */
  touch("cs/gtFine/val/munster/munster_000099_000019_gtFine_labelIds.png");      /* same stem: reported once */
  /* Sorting is by "city/file": "a-b/..." comes before "a/..." since '-' < '/'. */
  touch("cs/leftImg8bit/val/a/a_000000_000001_leftImg8bit.png");
  touch("cs/gtFine/val/a/a_000000_000001_gtFine_labelTrainIds.png");
  touch("cs/leftImg8bit/val/a-b/a-b_000000_000001_leftImg8bit.png");
  touch("cs/gtFine/val/a-b/a-b_000000_000001_gtFine_labelTrainIds.png");
  nala_dataset_cfg dc;
  nala_dataset *ds = open_ok(NALA_DATASET_CITYSCAPES, "cs", NULL, &dc);
  ck_assert_int_eq(dc.reduce_zero_label, 0);
  ck_assert_int_eq(nala_dataset_total(ds), 6);
  ck_assert_int_eq(nala_dataset_size(ds), 5);
  static const char *const want_files[] = {
      "a-b/a-b_000000_000001_leftImg8bit.png", "a/a_000000_000001_leftImg8bit.png",
      "frankfurt/frankfurt_000000_000294_leftImg8bit.png", "frankfurt/frankfurt_000001_000002_leftImg8bit.png",
      "lindau/lindau_000000_000019_leftImg8bit.png"};
  for (int i = 0; i < 5; i++) {
    const nala_sample *s = nala_dataset_sample(ds, i);
    ck_assert_str_eq(s->file_name, want_files[i]);
    ck_assert_int_eq(s->index, i);
    ck_assert_int_eq(s->gt_is_label_ids, i == 3);
  }
  char want[1024];
  snprintf(want, sizeof want, "%s/cs/gtFine/val/frankfurt/frankfurt_000001_000002_gtFine_labelIds.png", root);
  ck_assert_str_eq(nala_dataset_sample(ds, 3)->gt_path, want);
  snprintf(want, sizeof want, "%s/cs/gtFine/val/lindau/lindau_000000_000019_gtFine_labelTrainIds.png", root);
  ck_assert_str_eq(nala_dataset_sample(ds, 4)->gt_path, want);
  ck_assert_int_eq(nala_dataset_bad_count(ds), 2);
  snprintf(want, sizeof want,
           "no label map %s/cs/gtFine/val/munster/munster_000000_000019_gtFine_labelTrainIds.png (nor "
           "_gtFine_labelIds.png)",
           root);
  expect_bad(ds, 0, "cs/leftImg8bit/val/munster/munster_000000_000019_leftImg8bit.png", want);
  snprintf(want, sizeof want, "label map without image %s/cs/leftImg8bit/val/munster/munster_000099_000019_leftImg8bit.png",
           root);
  expect_bad(ds, 1, "cs/gtFine/val/munster/munster_000099_000019_gtFine_labelTrainIds.png", want);
  nala_dataset_close(ds);
  remove_root();
}
END_TEST

/* Annotations hold brackets and quotes in strings to exercise the skipping scanner. */
static const char coco_json[] =
    "{\"info\": {\"description\": \"a } tricky ] \\\" string {\"}, \"licenses\": [],\n"
    " \"images\": [{\"id\": 42, \"file_name\": \"000000000042.jpg\", \"width\": 640, \"height\": 480},\n"
    "              {\"id\": 7, \"file_name\": \"000000000007.jpg\", \"width\": 500, \"height\": 375},\n"
    "              {\"id\": 100, \"file_name\": \"000000000100.jpg\", \"width\": 20, \"height\": 10}],\n"
    " \"annotations\": [{\"id\": 1, \"image_id\": 42, \"category_id\": 18, \"segmentation\": [[1, 2, 3, 4, 5, 6]],\n"
    "                   \"bbox\": [1, 2, 3, 4], \"area\": 12.5, \"iscrowd\": 0, \"note\": \"]]}}\"}],\n"
    " \"categories\": [{\"id\": 90, \"name\": \"toothbrush\", \"supercategory\": \"indoor\"},\n"
    "                  {\"id\": 1, \"name\": \"person\"}, {\"id\": 18, \"name\": \"dog\"}]}\n";

static void make_coco(void) {
  touch("coco/val2017/000000000042.jpg");
  touch("coco/val2017/000000000100.jpg"); /* 7 is missing */
  touch("coco/annotations/x");
  write_file("coco/annotations/instances_val2017.json", coco_json);
}

START_TEST(coco_images_in_file_order_and_labels_by_category_id) {
  make_root();
  make_coco();
  nala_dataset_cfg dc;
  nala_dataset *ds = open_ok(NALA_DATASET_COCO, "coco", NULL, &dc);
  ck_assert_int_eq(nala_dataset_total(ds), 3);
  ck_assert_int_eq(nala_dataset_size(ds), 2);
  const nala_sample *s = nala_dataset_sample(ds, 0);
  ck_assert_int_eq(s->image_id, 42);
  ck_assert_int_eq(s->index, 0);
  ck_assert_int_eq(s->width, 640);
  ck_assert_int_eq(s->height, 480);
  ck_assert_str_eq(s->file_name, "000000000042.jpg");
  ck_assert_ptr_null(s->gt_path);
  s = nala_dataset_sample(ds, 1);
  ck_assert_int_eq(s->image_id, 100);
  ck_assert_int_eq(s->index, 2);
  char want[1024];
  snprintf(want, sizeof want, "%s/coco/val2017/000000000100.jpg", root);
  ck_assert_str_eq(s->img_path, want);
  ck_assert_int_eq(nala_dataset_bad_count(ds), 1);
  expect_bad(ds, 0, "coco/val2017/000000000007.jpg", "image file missing (No such file or directory)");
  ck_assert_int_eq(nala_dataset_num_classes(ds), 3);
  ck_assert_str_eq(nala_dataset_class_name(ds, 0), "person");
  ck_assert_str_eq(nala_dataset_class_name(ds, 1), "dog");
  ck_assert_str_eq(nala_dataset_class_name(ds, 2), "toothbrush");
  ck_assert_ptr_null(nala_dataset_class_name(ds, 3));
  ck_assert_int_eq(nala_dataset_category_id(ds, 2), 90);
  ck_assert_int_eq(nala_dataset_category_id(ds, 3), -1);
  ck_assert_int_eq(nala_dataset_label_of_category(ds, 18), 1);
  ck_assert_int_eq(nala_dataset_label_of_category(ds, 90), 2);
  ck_assert_int_eq(nala_dataset_label_of_category(ds, 5), -1);
  nala_dataset_close(ds);

  /* Config classes keep those categories, still in ascending id order. */
  char *classes[] = {"toothbrush", "person"};
  dc.classes = classes;
  dc.n_classes = 2;
  nala_err err;
  ck_assert_int_eq(nala_dataset_open(&dc, NULL, &ds, &err), NALA_OK);
  ck_assert_int_eq(nala_dataset_num_classes(ds), 2);
  ck_assert_str_eq(nala_dataset_class_name(ds, 0), "person");
  ck_assert_int_eq(nala_dataset_label_of_category(ds, 90), 1);
  ck_assert_int_eq(nala_dataset_label_of_category(ds, 18), -1);
  nala_dataset_close(ds);
  char *unknown[] = {"person", "unicorn"};
  dc.classes = unknown;
  ds = (nala_dataset *)0x1;
  ck_assert_int_eq(nala_dataset_open(&dc, NULL, &ds, &err), NALA_E_FORMAT);
  ck_assert_ptr_null(ds);
  snprintf(want, sizeof want, "dataset.classes[1]: \"unicorn\" is not a category of %s/coco/annotations/instances_val2017.json",
           root);
  ck_assert_str_eq(err.msg, want);
  remove_root();
}
END_TEST

typedef struct coco_bad_case {
  const char *json;
  const char *msg; /* after "<ann_file>: " */
} coco_bad_case;

static const coco_bad_case coco_bad[] = {
    {"{\"images\": [{\"id\": 1, \"file_name\": \"a.jpg\"}, {\"id\": \"x\", \"file_name\": \"b.jpg\"}], \"categories\": []}",
     "images[1]: \"id\" must be an integer"},
    {"{\"images\": [{\"id\": 1}], \"categories\": []}", "images[0]: \"file_name\" is missing"},
    {"{\"images\": [{\"id\": 1, \"file_name\": \"a.jpg\", \"width\": 0}], \"categories\": []}",
     "images[0]: \"width\" is 0 (must be in [1, 2^20])"},
    {"{\"images\": [{\"id\": 1, \"file_name\": \"a.jpg\"}, {\"id\": 1, \"file_name\": \"b.jpg\"}], \"categories\": []}",
     "images: id 1 appears twice"},
    {"{\"images\": [], \"categories\": [{\"id\": 3, \"name\": \"a\"}, {\"id\": 3, \"name\": \"b\"}]}",
     "categories: id 3 appears twice"},
    {"{\"images\": [], \"categories\": [{\"id\": 3}]}", "categories[0]: missing \"name\""},
    {"{\"annotations\": [], \"categories\": []}", "no \"images\" list (is this a COCO instances file?)"},
    {"{\"images\": []}", "no \"categories\" list (is this a COCO instances file?)"},
    {"{\"images\": {}, \"categories\": []}", "\"images\" must be a list"},
    {"{\"images\": [], \"images\": [], \"categories\": []}", "duplicate key \"images\""},
    {"[]", "top level must be a JSON object"},
    {"{\"images\": [],\n \"categories\": [}", "invalid JSON near line 2, column 17 (byte offset 31 of 32)"},
    {"{\"images\": [], \"annotations\": [{\"a\": \"unterminated}]}", "invalid JSON near line 1, column 31 (byte offset 30 of 53)"},
};

START_TEST(coco_bad_annotation_files_name_file_and_field) {
  make_root();
  touch("coco/val2017/a.jpg");
  write_file("coco/ann.json", coco_bad[_i].json);
  char data_root[512], want[2048];
  snprintf(data_root, sizeof data_root, "%s/coco", root);
  nala_dataset_cfg dc;
  nala_err err;
  ck_assert_int_eq(nala_dataset_cfg_init(NALA_DATASET_COCO, data_root, &dc, &err), NALA_OK);
  snprintf(dc.ann_file, sizeof dc.ann_file, "%s/coco/ann.json", root);
  nala_dataset *ds = NULL;
  ck_assert_int_eq(nala_dataset_open(&dc, NULL, &ds, &err), NALA_E_FORMAT);
  snprintf(want, sizeof want, "%s/coco/ann.json: %s", root, coco_bad[_i].msg);
  ck_assert_str_eq(err.msg, want);
  ck_assert_ptr_null(ds);
  remove_root();
}
END_TEST

START_TEST(wrong_layouts_name_the_expected_path) {
  make_root();
  nala_dataset_cfg dc;
  nala_err err;
  nala_dataset *ds = NULL;
  char data_root[512], want[4096];
  /* ADE20K without its image folder. */
  touch("ade/annotations/validation/a.png");
  snprintf(data_root, sizeof data_root, "%s/ade", root);
  nala_dataset_cfg_init(NALA_DATASET_ADE20K, data_root, &dc, &err);
  ck_assert_int_eq(nala_dataset_open(&dc, NULL, &ds, &err), NALA_E_IO);
  snprintf(want, sizeof want,
           "ADE20K: %s/ade/images/validation: cannot open folder: No such file or directory (expected "
           "%s/ade/images/validation/*.jpg with label maps %s/ade/annotations/validation/*.png)",
           root, root, root);
  ck_assert_str_eq(err.msg, want);
  /* ... with an empty image folder. */
  touch("ade/images/validation/readme.txt");
  ck_assert_int_eq(nala_dataset_open(&dc, NULL, &ds, &err), NALA_E_IO);
  ck_assert_ptr_nonnull(strstr(err.msg, "/ade/images/validation: no *.jpg images (expected"));
  /* Cityscapes given the ADE20K root, and with no label folder. */
  nala_dataset_cfg_init(NALA_DATASET_CITYSCAPES, data_root, &dc, &err);
  ck_assert_int_eq(nala_dataset_open(&dc, NULL, &ds, &err), NALA_E_IO);
  snprintf(want, sizeof want,
           "Cityscapes: %s/ade/leftImg8bit/val: cannot open folder: No such file or directory (expected "
           "%s/ade/leftImg8bit/val/<city>/*_leftImg8bit.png with label maps "
           "%s/ade/gtFine/val/<city>/*_gtFine_labelTrainIds.png)",
           root, root, root);
  ck_assert_str_eq(err.msg, want);
  touch("cs/leftImg8bit/val/x/x_1_leftImg8bit.png");
  snprintf(data_root, sizeof data_root, "%s/cs", root);
  nala_dataset_cfg_init(NALA_DATASET_CITYSCAPES, data_root, &dc, &err);
  ck_assert_int_eq(nala_dataset_open(&dc, NULL, &ds, &err), NALA_E_IO);
  ck_assert_ptr_nonnull(strstr(err.msg, "Cityscapes: "));
  ck_assert_ptr_nonnull(strstr(err.msg, "/cs/gtFine/val: cannot open folder: No such file or directory"));
  /* Images directly in leftImg8bit/val (no city folders). */
  touch("cs2/leftImg8bit/val/x_1_leftImg8bit.png");
  touch("cs2/gtFine/val/x_1_gtFine_labelTrainIds.png");
  snprintf(data_root, sizeof data_root, "%s/cs2", root);
  nala_dataset_cfg_init(NALA_DATASET_CITYSCAPES, data_root, &dc, &err);
  ck_assert_int_eq(nala_dataset_open(&dc, NULL, &ds, &err), NALA_E_IO);
  ck_assert_ptr_nonnull(strstr(err.msg, "/cs2/leftImg8bit/val: no city folders (expected"));
  /* COCO: no image folder, then no annotation file. */
  snprintf(data_root, sizeof data_root, "%s/coco", root);
  nala_dataset_cfg_init(NALA_DATASET_COCO, data_root, &dc, &err);
  ck_assert_int_eq(nala_dataset_open(&dc, NULL, &ds, &err), NALA_E_IO);
  snprintf(want, sizeof want,
           "COCO: %s/coco/val2017/: No such file or directory (expected the image folder, e.g. <data_root>/val2017/)",
           root);
  ck_assert_str_eq(err.msg, want);
  touch("coco/val2017/a.jpg");
  ck_assert_int_eq(nala_dataset_open(&dc, NULL, &ds, &err), NALA_E_IO);
  snprintf(want, sizeof want,
           "COCO: %s/coco/annotations/instances_val2017.json: No such file or directory (expected the instances "
           "JSON, e.g. <data_root>/annotations/instances_val2017.json)",
           root);
  ck_assert_str_eq(err.msg, want);
  ck_assert_ptr_null(ds);
  remove_root();
}
END_TEST

/* Every (limit, n) split: shards are contiguous, in order, and cover each sample exactly once,
 * either yielded or logged as bad. */
START_TEST(limit_and_shards_cover_every_sample_once) {
  make_root();
  make_ade(10); /* 10 images, index 3 unusable */
  const int limits[] = {0, 1, 7, 10, 25};
  for (size_t li = 0; li < sizeof limits / sizeof limits[0]; li++) {
    int expected_n = limits[li] && limits[li] < 10 ? limits[li] : 10;
    for (int count = 1; count <= 4; count++) {
      int seen[10] = {0}, next = 0;
      for (int shard = 0; shard < count; shard++) {
        nala_dataset_opts opts = {.limit = limits[li], .shard_index = shard, .shard_count = count};
        nala_dataset_cfg dc;
        nala_dataset *ds = open_ok(NALA_DATASET_ADE20K, "ade", &opts, &dc);
        int begin = shard * expected_n / count, end = (shard + 1) * expected_n / count;
        for (int i = 0; i < nala_dataset_size(ds); i++) {
          int index = nala_dataset_sample(ds, i)->index;
          ck_assert_int_ge(index, next); /* concatenating shards keeps dataset order */
          next = index;
          ck_assert_int_ge(index, begin);
          ck_assert_int_lt(index, end);
          seen[index]++;
        }
        int has_bad_index = begin <= 3 && 3 < end;
        /* The unusable image is logged by its shard; the orphan label map by shard 0 only. */
        ck_assert_int_eq(nala_dataset_bad_count(ds), has_bad_index + (shard == 0));
        if (has_bad_index)
          seen[3]++;
        nala_dataset_close(ds);
      }
      for (int i = 0; i < 10; i++)
        ck_assert_int_eq(seen[i], i < expected_n ? 1 : 0);
    }
  }
  nala_dataset_opts bad_opts = {.limit = 0, .shard_index = 2, .shard_count = 2};
  nala_dataset_cfg dc;
  nala_err err;
  char data_root[512];
  snprintf(data_root, sizeof data_root, "%s/ade", root);
  nala_dataset_cfg_init(NALA_DATASET_ADE20K, data_root, &dc, &err);
  nala_dataset *ds = NULL;
  ck_assert_int_eq(nala_dataset_open(&dc, &bad_opts, &ds, &err), NALA_E_ARG);
  ck_assert_str_eq(err.msg, "dataset: shard 2/2 is not in 0..1");
  bad_opts = (nala_dataset_opts){.limit = -1};
  ck_assert_int_eq(nala_dataset_open(&dc, &bad_opts, &ds, &err), NALA_E_ARG);
  ck_assert_ptr_null(ds);
  remove_root();
}
END_TEST

static void *log_bad_samples(void *arg) {
  nala_dataset *ds = arg;
  for (int i = 0; i < 200; i++) {
    char file[64];
    snprintf(file, sizeof file, "frame_%d.jpg", i);
    if (nala_dataset_bad_sample(ds, file, "cannot decode", NULL) != NALA_OK)
      return (void *)1;
  }
  return NULL;
}

START_TEST(bad_sample_log_is_thread_safe_and_reported) {
  make_root();
  make_ade(2); /* 1 orphan label map, no unusable image */
  nala_dataset_cfg dc;
  nala_dataset *ds = open_ok(NALA_DATASET_ADE20K, "ade", NULL, &dc);
  ck_assert_int_eq(nala_dataset_bad_count(ds), 1);
  pthread_t threads[2];
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(pthread_create(&threads[i], NULL, log_bad_samples, ds), 0);
  for (int i = 0; i < 2; i++) {
    void *result = (void *)1;
    pthread_join(threads[i], &result);
    ck_assert_ptr_null(result);
  }
  ck_assert_int_eq(nala_dataset_bad_count(ds), 401);
  nala_bad_sample last = nala_dataset_bad_get(ds, 400);
  ck_assert_str_eq(last.reason, "cannot decode");
  ck_assert_ptr_null(nala_dataset_bad_get(ds, 401).file);

  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  ck_assert_ptr_nonnull(out);
  ck_assert_int_eq(nala_dataset_print_report(ds, out), 401);
  fclose(out);
  ck_assert_msg(strncmp(text, "401 bad or skipped samples (2 yielded of 2 in the dataset):\n", 60) == 0, "%.80s", text);
  ck_assert_ptr_nonnull(strstr(text, "ADE_val_99999999.png: label map without image "));
  ck_assert_ptr_nonnull(strstr(text, "\n  frame_199.jpg: cannot decode\n"));
  free(text);
  nala_dataset_close(ds);
  nala_dataset_close(NULL);
  ck_assert_int_eq(nala_dataset_bad_sample(NULL, "x", "y", NULL), NALA_E_ARG);
  remove_root();
}
END_TEST

START_TEST(dataset_from_json_config) {
  make_root();
  make_ade(3);
  char text[1024], path[512];
  snprintf(text, sizeof text,
           "{\"_base_\": \"%s/configs/_base_/datasets/ade20k.json\", \"dataset\": {\"data_root\": \"%s/ade\", "
           "\"classes\": [\"wall\", \"building\"]}}",
           NALA_SOURCE_DIR, root);
  write_file("cfg.json", text);
  snprintf(path, sizeof path, "%s/cfg.json", root);
  nala_config *cfg = NULL;
  nala_err err;
  if (nala_config_load(path, &cfg, &err) != NALA_OK)
    ck_abort_msg("%s", err.msg);
  nala_dataset *ds = NULL;
  nala_dataset_opts opts = {.limit = 2};
  ck_assert_int_eq(nala_dataset_open(nala_config_dataset(cfg), &opts, &ds, &err), NALA_OK);
  ck_assert_int_eq(nala_dataset_size(ds), 2);
  ck_assert_int_eq(nala_dataset_num_classes(ds), 2);
  ck_assert_str_eq(nala_dataset_class_name(ds, 1), "building");
  ck_assert_int_eq(nala_dataset_category_id(ds, 1), -1);
  ck_assert_int_eq(nala_dataset_label_of_category(ds, 1), -1);
  nala_dataset_close(ds);
  nala_config_free(cfg);
  remove_root();
}
END_TEST

static void assert_same_preprocess(const nala_preprocess_cfg *got, const nala_preprocess_cfg *want) {
  ck_assert_int_eq(got->scale[0], want->scale[0]);
  ck_assert_int_eq(got->scale[1], want->scale[1]);
  ck_assert_int_eq(got->keep_ratio, want->keep_ratio);
  ck_assert_int_eq(got->interp, want->interp);
  for (int c = 0; c < 3; c++) {
    ck_assert_float_eq(got->mean[c], want->mean[c]);
    ck_assert_float_eq(got->std[c], want->std[c]);
  }
  ck_assert_int_eq(got->to_rgb, want->to_rgb);
  ck_assert_int_eq(got->pad_divisor > 1 ? got->pad_divisor : 1, want->pad_divisor > 1 ? want->pad_divisor : 1);
  ck_assert_int_eq(got->pad_h, want->pad_h);
  ck_assert_int_eq(got->pad_w, want->pad_w);
  ck_assert_float_eq(got->pad_value, want->pad_value);
  ck_assert_int_eq(got->layout, want->layout);
}

/* The shipped base configs describe the same preprocessing as preprocess.h's mm presets
 * (through nala_preprocess_from_config / nala_seg_test_from_config). */
START_TEST(config_preprocessing_matches_mm_presets) {
  make_root();
  nala_config *cfg = NULL;
  nala_err err;
  nala_preprocess_cfg got;
  ck_assert_int_eq(nala_config_load(NALA_SOURCE_DIR "/configs/nalaformer_xt_all-linear_backbone_ade20k.json", &cfg, &err),
                   NALA_OK);
  ck_assert_int_eq(nala_preprocess_from_config(&nala_config_model(cfg)->preprocess, NALA_NCHW, &got, &err), NALA_OK);
  nala_preprocess_cfg want = nala_preprocess_mmseg_ade20k();
  assert_same_preprocess(&got, &want);
  nala_seg_test_cfg seg;
  ck_assert_int_eq(nala_seg_test_from_config(&nala_config_model(cfg)->test_cfg, &seg, &err), NALA_OK);
  ck_assert_int_eq(seg.mode, NALA_SEG_WHOLE);
  nala_config_free(cfg);

  char text[1024], path[512];
  snprintf(text, sizeof text,
           "{\"_base_\": [\"%s/configs/_base_/models/nalaformer_t.json\", \"%s/configs/_base_/datasets/coco_instance.json\"],"
           " \"model\": {\"data_preprocessor\": {\"type\": \"DetDataPreprocessor\", \"pad_size_divisor\": 32},"
           " \"test_cfg\": {\"mode\": \"slide\", \"crop_size\": [512, 512], \"stride\": [341, 341]}}}",
           NALA_SOURCE_DIR, NALA_SOURCE_DIR);
  write_file("coco.json", text);
  snprintf(path, sizeof path, "%s/coco.json", root);
  if (nala_config_load(path, &cfg, &err) != NALA_OK)
    ck_abort_msg("%s", err.msg);
  ck_assert_int_eq(nala_preprocess_from_config(&nala_config_model(cfg)->preprocess, NALA_NCHW, &got, &err), NALA_OK);
  want = nala_preprocess_mmdet_coco();
  assert_same_preprocess(&got, &want);
  ck_assert_int_eq(nala_seg_test_from_config(&nala_config_model(cfg)->test_cfg, &seg, &err), NALA_OK);
  nala_seg_test_cfg want_seg = nala_seg_test_ade20k();
  ck_assert_int_eq(seg.mode, NALA_SEG_SLIDE);
  ck_assert_int_eq(seg.crop_h, want_seg.crop_h);
  ck_assert_int_eq(seg.crop_w, want_seg.crop_w);
  ck_assert_int_eq(seg.stride_h, want_seg.stride_h);
  ck_assert_int_eq(seg.stride_w, want_seg.stride_w);
  nala_config_free(cfg);

  ck_assert_int_eq(nala_config_load(NALA_SOURCE_DIR "/configs/nalaformer_t_backbone.json", &cfg, &err), NALA_OK);
  /* A backbone-only config has no test pipeline: normalise without resizing. */
  ck_assert_int_eq(nala_preprocess_from_config(&nala_config_model(cfg)->preprocess, NALA_NHWC, &got, &err), NALA_OK);
  ck_assert_int_eq(got.no_resize, 1);
  ck_assert_int_eq(got.layout, NALA_NHWC);
  nala_config_free(cfg);
  remove_root();
}
END_TEST

/* Runs `nala config samples <args>`; returns the exit code, stdout and stderr. */
static int run_samples(const char *args, char **out, char **errs) {
  char full[2048];
  snprintf(full, sizeof full, "config samples %s", args);
  int code = nala_run_cli(full, out, errs);
  ck_assert(code >= 0 && *out && *errs);
  return code;
}

START_TEST(cli_samples_shards_concatenate_to_the_full_list) {
  make_root();
  make_ade(7);
  char text[1024], cfg_path[512], args[1024];
  snprintf(text, sizeof text, "{\"dataset\": {\"type\": \"ADE20KDataset\", \"data_root\": \"%s/ade\"}}", root);
  write_file("cfg.json", text);
  snprintf(cfg_path, sizeof cfg_path, "%s/cfg.json", root);
  char *full, *errs;
  snprintf(args, sizeof args, "'%s'", cfg_path);
  ck_assert_int_eq(run_samples(args, &full, &errs), 0);
  char want_line[1024];
  snprintf(want_line, sizeof want_line, "4\t-1\tADE_val_00000005.jpg\t%s/ade/images/validation/ADE_val_00000005.jpg\t%s/ade/annotations/validation/ADE_val_00000005.png\n", root, root);
  ck_assert_ptr_nonnull(strstr(full, want_line));
  ck_assert_ptr_nonnull(strstr(errs, "2 bad or skipped samples (6 yielded of 7 in the dataset):\n"));
  free(errs);
  size_t joined_len = 0;
  char joined[8192] = "";
  for (int shard = 0; shard < 3; shard++) {
    char *part;
    snprintf(args, sizeof args, "'%s' --shard %d/3", cfg_path, shard);
    ck_assert_int_eq(run_samples(args, &part, &errs), 0);
    joined_len += (size_t)snprintf(joined + joined_len, sizeof joined - joined_len, "%s", part);
    free(part), free(errs);
  }
  ck_assert_str_eq(joined, full);
  free(full);
  snprintf(args, sizeof args, "'%s' --limit 2", cfg_path);
  ck_assert_int_eq(run_samples(args, &full, &errs), 0);
  ck_assert_ptr_nonnull(strstr(full, "\n1\t-1\tADE_val_00000002.jpg\t"));
  ck_assert_ptr_null(strstr(full, "ADE_val_00000003.jpg"));
  free(full), free(errs);
  const char *usage_args[] = {"--shard 3/3", "--limit x", "--shard", "--output o.json"};
  for (int i = 0; i < 4; i++) {
    snprintf(args, sizeof args, "'%s' %s", cfg_path, usage_args[i]);
    ck_assert_int_eq(run_samples(args, &full, &errs), 2);
    ck_assert_ptr_nonnull(strstr(errs, "usage: nala config"));
    free(full), free(errs);
  }
  write_file("no_dataset.json", "{}");
  snprintf(args, sizeof args, "'%s/no_dataset.json'", root);
  ck_assert_int_eq(run_samples(args, &full, &errs), 1);
  ck_assert_ptr_nonnull(strstr(errs, "no_dataset.json: no \"dataset\" section"));
  free(full), free(errs);
  snprintf(text, sizeof text, "{\"dataset\": {\"type\": \"CityscapesDataset\", \"data_root\": \"%s/ade\"}}", root);
  write_file("cfg.json", text);
  snprintf(args, sizeof args, "'%s'", cfg_path);
  ck_assert_int_eq(run_samples(args, &full, &errs), 1);
  ck_assert_ptr_nonnull(strstr(errs, "Cityscapes: "));
  free(full), free(errs);
  remove_root();
}
END_TEST

int main(void) {
  Suite *s = suite_create("dataset");
  TCase *tc = tcase_create("dataset");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, ade20k_pairs_sorted_and_reports_mismatches);
  tcase_add_test(tc, cityscapes_prefers_train_ids_and_sorts_by_relative_path);
  tcase_add_test(tc, coco_images_in_file_order_and_labels_by_category_id);
  tcase_add_loop_test(tc, coco_bad_annotation_files_name_file_and_field, 0,
                      (int)(sizeof coco_bad / sizeof coco_bad[0]));
  tcase_add_test(tc, wrong_layouts_name_the_expected_path);
  tcase_add_test(tc, limit_and_shards_cover_every_sample_once);
  tcase_add_test(tc, bad_sample_log_is_thread_safe_and_reported);
  tcase_add_test(tc, dataset_from_json_config);
  tcase_add_test(tc, cli_samples_shards_concatenate_to_the_full_list);
  tcase_add_test(tc, config_preprocessing_matches_mm_presets);
  suite_add_tcase(s, tc);
  /* No fork per test: forking an ASan process costs seconds on a loaded CI machine. */
  return nala_run_suite_nofork(s);
}
