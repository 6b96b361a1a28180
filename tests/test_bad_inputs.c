/* The bad-input matrix (issue 12): the `nala` tool fed a table of bad inputs. For every row: exit
 * code 1 (bad data) or 2 (bad arguments), a message naming the file, key or value at fault, and
 * nothing written at the output path (no temporary file left beside it either). One input that looks
 * bad but is valid (polygons at +-1e7) is checked to be evaluated instead of refused. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nala/safetensors.h"
#include "tests/support/cli.h"
#include "tests/support/suite.h"

#define FIX NALA_FIXTURES

static char tmp[128], out_dir[192];

/* A matrix row. In args and must_name, {T} is the temp folder of generated bad files, {F} the
 * fixtures folder, {O} the output path (under {T}/out, checked to stay empty). */
typedef struct bad_row {
  const char *what;
  const char *args;
  int exit_code;         /* 1 or 2 */
  const char *must_name; /* substring of stderr: the file, key or value */
} bad_row;

static const bad_row rows[] = {
    /* configs */
    {"config {} used for a backbone", "backbone --config {T}/empty.json --input {F}/images/color_37x53.png --dump {O}",
     1, "{T}/empty.json: no \"model\" section"},
    {"truncated config", "config show {T}/truncated.json --output {O}", 1, "{T}/truncated.json"},
    {"config nested past the parser's limit", "config show {T}/nested.json --output {O}", 1, "{T}/nested.json"},
    {"cyclic _base_", "config show {T}/cycle_a.json --output {O}", 1, "cycle_b.json"},
    {"config value of the wrong kind", "config show {T}/wrong_kind.json --output {O}", 1, "model.backbone"},
    {"config \"mlp_ratios\": 1e30", "config show {F}/reliability/config_ffn_overflow.json --output {O}", 1,
     "{F}/reliability/config_ffn_overflow.json: model.backbone.mlp_ratios[0]: 1e+30 x embed_dims[0] = 64"},
    {"backbone --config with \"mlp_ratios\": 1e30",
     "backbone --config {F}/reliability/config_ffn_overflow.json --input {F}/images/color_37x53.png --dump {O}", 1,
     "{F}/reliability/config_ffn_overflow.json: model.backbone.mlp_ratios[0]: 1e+30"},
    /* input tensors */
    {"NaN and Inf in the input tensor",
     "backbone --model nalaformer_xt --input {T}/nan_input.safetensors --dump {O}", 1,
     "{T}/nan_input.safetensors: tensor 'input' has 3 non-finite value(s)"},
    {"input tensor of rank 3", "backbone --model nalaformer_xt --input {T}/rank3.safetensors --dump {O}", 1,
     "got shape [3,32,32]"},
    /* safetensors */
    {"header length past the end of the file",
     "backbone --model nalaformer_xt --input {T}/header_past_end.safetensors --dump {O}", 1,
     "{T}/header_past_end.safetensors"},
    {"overlapping data offsets", "backbone --model nalaformer_xt --input {T}/overlap.safetensors --dump {O}", 1,
     "{T}/overlap.safetensors"},
    {"weights with wrong keys",
     "backbone --model nalaformer_xt --weights {T}/wrong_keys.safetensors --input {F}/images/color_37x53.png --dump {O}",
     1, "{T}/wrong_keys.safetensors: weights do not match the model under \"backbone.\" (242 missing, 1 unexpected); missing: backbone.patch_embed.proj.0.weight"},
    /* images */
    {"truncated JPEG", "backbone --model nalaformer_xt --input {F}/images/truncated_37x53.jpg --dump {O}", 1,
     "truncated_37x53.jpg"},
    {"PNG header claiming a huge image", "backbone --model nalaformer_xt --input {F}/images/huge_header.png --dump {O}",
     1, "huge_header.png"},
    {"empty image file", "backbone --model nalaformer_xt --input {F}/images/empty.png --dump {O}", 1, "empty.png"},
    {"DICOM (128 zero bytes + DICM)",
     "backbone --model nalaformer_xt --input {F}/reliability/image_dicom_gdcm_assert.dcm --dump {O}", 1,
     "{F}/reliability/image_dicom_gdcm_assert.dcm: DICOM is not a supported image format"},
    {"JPEG with RST after SOI claiming 16384x16384",
     "backbone --model nalaformer_xt --input {F}/reliability/image_jpeg_claims_16384sq_rst.jpg --dump {O}", 1,
     "{F}/reliability/image_jpeg_claims_16384sq_rst.jpg: header claims 16384x16384 (WxH) pixels"},
    {"greyscale PFM", "backbone --model nalaformer_xt --input {F}/reliability/image_pfm_gray_1channel.pfm --dump {O}",
     1, "{F}/reliability/image_pfm_gray_1channel.pfm: PFM (float) is not a supported image format"},
    {"2-bit grey label PNG", "eval seg --dataset ade20k --pred {T}/seg_grey2/pred --gt {T}/seg_grey2/gt --json {O}", 1,
     "{T}/seg_grey2/gt/ADE_val_a.png: 2-bit greyscale label maps are not supported"},
    {"RGB label PNG", "eval seg --dataset ade20k --pred {T}/seg_rgb/pred --gt {T}/seg_rgb/gt --json {O}", 1,
     "{T}/seg_rgb/gt/ADE_val_a.png: label map must be single-channel (grey or palette PNG), got 8-bit RGB"},
    /* COCO */
    {"COCO GT with images of the wrong type",
     "eval coco --gt {T}/gt_types.json --results {F}/coco/dets_box_only.json --iou-type bbox --json {O}", 1,
     "{T}/gt_types.json: \"images\" must be a list"},
    {"COCO GT image id of the wrong type",
     "eval coco --gt {T}/gt_id_type.json --results {T}/dets_ok.json --iou-type bbox --json {O}", 1,
     "{T}/gt_id_type.json: images[0]: \"id\" must be an integer"},
    {"results on an unknown image id",
     "eval coco --gt {T}/gt_small.json --results {T}/dets_unknown_image.json --iou-type bbox --json {O}", 1, "424242"},
    {"bad RLE string in the results",
     "eval coco --gt {T}/gt_small.json --results {T}/dets_bad_rle.json --iou-type segm --json {O}", 1,
     "{T}/dets_bad_rle.json: results[0]"},
    {"GT polygon coordinate 2e8",
     "eval coco --gt {T}/gt_poly_2e8.json --results {T}/dets_full.json --iou-type segm --json {O}", 1,
     "{T}/gt_poly_2e8.json: annotations[0] (id 7): segmentation[0]: polygon coordinate 2 is 2e+08"},
    {"GT polygon coordinate non-finite (1e999)",
     "eval coco --gt {T}/gt_poly_inf.json --results {T}/dets_full.json --iou-type segm --json {O}", 1,
     "{T}/gt_poly_inf.json: annotations[0] (id 7): segmentation[0][2] must be a finite number"},
    {"results RLE counts not summing to h*w",
     "eval coco --gt {T}/gt_small.json --results {T}/dets_rle_short.json --iou-type segm --json {O}", 1,
     "{T}/dets_rle_short.json: results[0]: segmentation: RLE counts sum to 8, expected h*w = 10x10 = 100"},
    {"results that are not JSON", "eval coco --gt {T}/gt_small.json --results {T}/truncated.json --iou-type bbox --json {O}",
     1, "{T}/truncated.json"},
    /* numbers of every numeric flag */
    {"demo --threads -3", "demo --threads -3", 2, "--threads '-3'"},
    {"backbone --threads 1e3", "backbone --model nalaformer_xt --threads 1e3 --input x --dump {O}", 2,
     "--threads '1e3'"},
    {"demo --seed -1", "demo --seed -1", 2, "--seed '-1'"},
    {"demo --isa bogus", "demo --isa bogus", 2, "--isa 'bogus'"},
    {"bench attention --isa bogus", "bench attention --isa bogus", 2, "--isa 'bogus'"},
    {"demo --size 0x5", "demo --size 0x5", 2, "--size '0x5'"},
    {"bench backbone --size 5", "bench backbone --size 5", 2, "--size '5'"},
    {"bench backbone --runs 0", "bench backbone --runs 0", 2, "--runs '0'"},
    {"bench backbone --warmup -1", "bench backbone --warmup -1", 2, "--warmup '-1'"},
    {"bench backbone --threads x", "bench backbone --threads x", 2, "--threads 'x'"},
    {"bench attention --tokens 0", "bench attention --tokens 0", 2, "--tokens '0'"},
    {"bench attention --dim 6", "bench attention --dim 6", 2, "--dim '6'"},
    {"bench attention --heads 0", "bench attention --heads 0", 2, "--heads '0'"},
    {"bench attention --threads 99999", "bench attention --threads 99999", 2, "--threads '99999'"},
    {"bench attention --runs -1", "bench attention --runs -1", 2, "--runs '-1'"},
    {"eval coco --threads -1", "eval coco --gt a --results b --iou-type bbox --threads -1", 2, "--threads '-1'"},
    {"eval seg --pred-offset 256", "eval seg --dataset ade20k --pred {T} --gt {T} --pred-offset 256", 2,
     "--pred-offset '256'"},
    {"config samples --limit -3", "config samples {T}/empty.json --limit -3", 2, "--limit '-3'"},
    {"config samples --shard 5/2", "config samples {T}/empty.json --shard 5/2", 2, "--shard '5/2'"},
    /* unwritable outputs */
    {"--dump into a missing folder",
     "backbone --model nalaformer_xt --input {F}/images/color_37x53.png --dump {T}/no_such_dir/out.safetensors", 1,
     "{T}/no_such_dir/out.safetensors"},
    {"--json into a missing folder",
     "eval coco --gt {F}/coco/gt.json --results {F}/coco/dets_box_only.json --iou-type bbox --json "
     "{T}/no_such_dir/report.json",
     1, "{T}/no_such_dir/report.json"},
    {"config --output into a missing folder", "config show {F}/../../configs/nalaformer_t_backbone.json --output "
     "{T}/no_such_dir/merged.json", 1, "{T}/no_such_dir/merged.json"},
    {"eval seg --json into a missing folder",
     "eval seg --dataset ade20k --pred {F}/seg/ade20k/pred --gt {F}/seg/ade20k/gt --json {T}/no_such_dir/seg.json",
     1, "{T}/no_such_dir/seg.json"},
};
enum { N_ROWS = sizeof rows / sizeof rows[0] };

static void write_text(const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tmp, name);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

static void write_tensor(const char *name, int ndim, const int64_t *shape, const float *data, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tmp, name);
  nala_st_tensor t = {.name = "input", .dtype = NALA_DT_F32, .ndim = ndim, .data = data, .nbytes = n * sizeof(float)};
  memcpy(t.shape, shape, sizeof(int64_t) * (size_t)ndim);
  nala_err err;
  ck_assert_msg(nala_st_write(path, &t, 1, &err) == NALA_OK, "%s", err.msg);
}

/* 8-byte little-endian header length, then header (and data). */
static void write_raw_st(const char *name, uint64_t header_len, const char *header, size_t data_bytes) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tmp, name);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  for (int i = 0; i < 8; i++)
    fputc((int)((header_len >> (8 * i)) & 0xff), f);
  fputs(header, f);
  for (size_t i = 0; i < data_bytes; i++)
    fputc(0, f);
  fclose(f);
}

/* Copies a fixture file into the temp folder (creating the folders on the way). */
static void copy_fixture(const char *from, const char *to) {
  char src[512], dst[512], dir[512];
  snprintf(src, sizeof src, "%s/%s", FIX, from);
  snprintf(dst, sizeof dst, "%s/%s", tmp, to);
  for (char *slash = strchr(dst + strlen(tmp) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - dst), dst);
    ck_assert_msg(mkdir(dir, 0755) == 0 || access(dir, F_OK) == 0, "cannot create %s", dir);
  }
  FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
  ck_assert_msg(in && out, "cannot copy %s to %s", src, dst);
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, in)) > 0;)
    ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
  fclose(in);
  fclose(out);
}

/* A 10x10 COCO GT whose one polygon (annotation id 7) has `x2` as its second x coordinate. */
static void write_poly_gt(const char *name, const char *x2) {
  char text[1024];
  snprintf(text, sizeof text,
           "{\"images\": [{\"id\": 1, \"height\": 10, \"width\": 10}], \"categories\": [{\"id\": 1, \"name\": \"a\"}],"
           " \"annotations\": [{\"id\": 7, \"image_id\": 1, \"category_id\": 1, \"iscrowd\": 0, \"area\": 4,"
           " \"bbox\": [1, 1, 2, 2], \"segmentation\": [[1, 1, %s, 1, 3, 3, 1, 3]]}]}",
           x2);
  write_text(name, text);
}

static void make_inputs(void) {
  write_text("empty.json", "{}");
  write_text("truncated.json", "{\"model\": {\"backbone\": {\"type\": \"NaLa");
  char *nested = malloc(20001);
  for (int i = 0; i < 10000; i++)
    nested[i] = '[', nested[19999 - i] = ']';
  nested[20000] = '\0';
  nested[0] = '{';
  nested[19999] = '}'; /* {[[[...]]]} : not even valid, and far past cJSON's nesting limit */
  write_text("nested.json", nested);
  free(nested);
  write_text("cycle_a.json", "{\"_base_\": \"cycle_b.json\"}");
  write_text("cycle_b.json", "{\"_base_\": \"cycle_a.json\"}");
  write_text("wrong_kind.json", "{\"model\": {\"backbone\": {\"type\": \"NaLaFormer\", \"depths\": \"six\"}}}");
  static float x[3 * 32 * 32];
  for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
    x[i] = 0.25f;
  x[5] = NAN, x[77] = INFINITY, x[1000] = -INFINITY;
  write_tensor("nan_input.safetensors", 4, (int64_t[]){1, 3, 32, 32}, x, 3 * 32 * 32);
  x[5] = x[77] = x[1000] = 0;
  write_tensor("rank3.safetensors", 3, (int64_t[]){3, 32, 32}, x, 3 * 32 * 32);
  write_raw_st("header_past_end.safetensors", 1000, "{}", 0);
  const char *overlap = "{\"input\":{\"dtype\":\"F32\",\"shape\":[1,3,2,2],\"data_offsets\":[0,48]},"
                        "\"other\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[32,48]}}";
  write_raw_st("overlap.safetensors", strlen(overlap), overlap, 48);
  const char *keys = "{\"backbone.not_a_key\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}  ";
  write_raw_st("wrong_keys.safetensors", strlen(keys), keys, 4);
  write_text("gt_types.json", "{\"images\": {}, \"annotations\": [], \"categories\": []}");
  write_text("gt_id_type.json", "{\"images\": [{\"id\": \"7\"}], \"annotations\": [], \"categories\": []}");
  write_text("gt_small.json",
             "{\"images\": [{\"id\": 1, \"height\": 10, \"width\": 10}],"
             " \"categories\": [{\"id\": 1, \"name\": \"a\"}],"
             " \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"iscrowd\": 0, \"area\": 4,"
             " \"bbox\": [1, 1, 2, 2], \"segmentation\": [[1, 1, 3, 1, 3, 3, 1, 3]]}]}");
  write_poly_gt("gt_poly_2e8.json", "200000000.0");
  write_poly_gt("gt_poly_inf.json", "1e999"); /* JSON has no NaN; cJSON reads 1e999 as +inf */
  write_text("dets_full.json", "[{\"image_id\": 1, \"category_id\": 1, \"score\": 0.9,"
                               " \"segmentation\": {\"size\": [10, 10], \"counts\": [0, 100]}}]");
  write_text("dets_rle_short.json", "[{\"image_id\": 1, \"category_id\": 1, \"score\": 0.9,"
                                    " \"segmentation\": {\"size\": [10, 10], \"counts\": [5, 3]}}]");
  /* Label maps PIL reads differently (2-bit grey) or mmseg cannot use (RGB), each with a valid 5x13
   * prediction, so eval seg reaches the ground truth. */
  copy_fixture("labels/grey2.png", "seg_grey2/gt/ADE_val_a.png");
  copy_fixture("labels/grey8.png", "seg_grey2/pred/ADE_val_a.png");
  copy_fixture("labels/rgb8.png", "seg_rgb/gt/ADE_val_a.png");
  copy_fixture("labels/grey8.png", "seg_rgb/pred/ADE_val_a.png");
  write_text("dets_ok.json", "[{\"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 1, 2, 2], \"score\": 0.9}]");
  write_text("dets_unknown_image.json",
             "[{\"image_id\": 424242, \"category_id\": 1, \"bbox\": [1, 1, 2, 2], \"score\": 0.9}]");
  write_text("dets_bad_rle.json", "[{\"image_id\": 1, \"category_id\": 1, \"score\": 0.9,"
                                  " \"segmentation\": {\"size\": [10, 10], \"counts\": \"\\u0001\\u0002\"}}]");
}

static void setup(void) {
  snprintf(tmp, sizeof tmp, "/tmp/nala_bad_inputs_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmp));
  snprintf(out_dir, sizeof out_dir, "%s/out", tmp);
  ck_assert_int_eq(mkdir(out_dir, 0755), 0);
  make_inputs();
}

static void teardown(void) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  ck_assert_int_eq(system(cmd), 0);
}

/* Replaces {T}, {F} and {O} in text. */
static void expand(const char *text, char *out, size_t cap) {
  size_t n = 0;
  for (const char *p = text; *p && n + 1 < cap;) {
    const char *sub = !strncmp(p, "{T}", 3) ? tmp : !strncmp(p, "{F}", 3) ? FIX : !strncmp(p, "{O}", 3) ? "" : NULL;
    if (sub) {
      n += (size_t)snprintf(out + n, cap - n, "%s", sub);
      if (!strncmp(p, "{O}", 3))
        n += (size_t)snprintf(out + n, cap - n, "%s/result", out_dir);
      p += 3;
    } else {
      out[n++] = *p++;
    }
  }
  out[n < cap ? n : cap - 1] = '\0';
}

static int entries_in(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

START_TEST(bad_input_is_refused_by_name) {
  const bad_row *row = &rows[_i];
  char args[4096], must_name[1024];
  expand(row->args, args, sizeof args);
  expand(row->must_name, must_name, sizeof must_name);
  char *out = NULL, *err = NULL;
  int code = nala_run_cli(args, &out, &err);
  ck_assert_msg(code == row->exit_code, "%s: `nala %s` exited %d, want %d; stderr:\n%s", row->what, args, code,
                row->exit_code, err ? err : "");
  ck_assert_msg(err && strstr(err, must_name), "%s: stderr does not name \"%s\":\n%s", row->what, must_name,
                err ? err : "");
  ck_assert_msg(entries_in(out_dir) == 0, "%s: something was written under %s", row->what, out_dir);
  char missing[512];
  snprintf(missing, sizeof missing, "%s/no_such_dir", tmp);
  ck_assert_msg(access(missing, F_OK) != 0, "%s: %s was created", row->what, missing);
  printf("  ok %-45s exit %d, names \"%s\"\n", row->what, code, row->must_name);
  free(out);
  free(err);
}
END_TEST

/* Not a refusal: polygons far outside the image (the issue-12 reproducer at +-1e7, inside the 1e8
 * bound of eval/rle_poly.c) are walked only where they can touch the image, so eval coco finishes with
 * a report. A square at +-1e7 covers the whole 10x10 image: against a full-image detection, AP 1. */
START_TEST(polygons_at_1e7_are_evaluated) {
  FILE *in = fopen(FIX "/reliability/coco_poly_huge_walk.bin", "rb");
  ck_assert_ptr_nonnull(in);
  char gt[1024];
  size_t n = fread(gt, 1, sizeof gt - 1, in);
  fclose(in);
  ck_assert(n > 1 && gt[0] == 1); /* flag byte 1 (GT has masks), then the GT JSON */
  gt[n] = '\0';
  write_text("gt_huge_walk.json", gt + 1);
  write_text("gt_square_1e7.json",
             "{\"images\": [{\"id\": 1, \"height\": 10, \"width\": 10}],"
             " \"categories\": [{\"id\": 1, \"name\": \"a\"}],"
             " \"annotations\": [{\"id\": 7, \"image_id\": 1, \"category_id\": 1, \"iscrowd\": 0, \"area\": 100,"
             " \"bbox\": [0, 0, 10, 10], \"segmentation\": [[-1e7, -1e7, 1e7, -1e7, 1e7, 1e7, -1e7, 1e7]]}]}");
  static const char *gts[] = {"gt_huge_walk.json", "gt_square_1e7.json"};
  for (int k = 0; k < 2; k++) {
    char args[1024], report[512];
    snprintf(report, sizeof report, "%s/%s.report.json", out_dir, gts[k]);
    snprintf(args, sizeof args, "eval coco --gt %s/%s --results %s/dets_full.json --iou-type segm --json %s", tmp,
             gts[k], tmp, report);
    char *out = NULL, *err = NULL;
    int code = nala_run_cli(args, &out, &err);
    printf("  %s: exit %d\n%s", gts[k], code, out ? out : "");
    ck_assert_msg(code == 0, "`nala %s` exited %d; stderr:\n%s", args, code, err ? err : "");
    ck_assert_msg(access(report, F_OK) == 0, "%s: no report at %s", gts[k], report);
    if (k == 1)
      ck_assert_msg(out && strstr(out, "(AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000"),
                    "square at +-1e7 covering the image: AP is not 1.000:\n%s", out ? out : "");
    free(out);
    free(err);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("bad_inputs");
  TCase *tc = tcase_create("matrix");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, bad_input_is_refused_by_name, 0, N_ROWS);
  tcase_add_test(tc, polygons_at_1e7_are_evaluated);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
