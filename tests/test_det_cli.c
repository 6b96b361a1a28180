/* The det commands of the built `nala` tool with a real (tiny, seeded) detector: nala eval coco of
 * a model over a generated COCO set (results accepted by the evaluator, shards merging into the
 * unsharded run's files byte for byte, a bad image named and skipped), nala det on a folder and a
 * short generated video (N frames in, N frames out, same size and fps), nala bench det's last line.
 * The model is RetinaNet on NaLaFormer-XT with a 32-channel FPN and head and 3 classes, at mmdet's
 * keep-ratio Resize to 160x96, so the ASan build stays quick; seeded weights give arbitrary but
 * deterministic detections (the stats are whatever they are; the checks are about the plumbing:
 * file formats, category ids, image ids, determinism across shards). Mask R-CNN (XT, 32-channel FPN,
 * 3 classes) runs eval coco once for the segm file. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nala/coco.h"
#include "nala/image_io.h"
#include "tests/support/cli.h"
#include "tests/support/det_coco_set.h"
#include "tests/support/files.h"
#include "tests/support/suite.h"

static char tmp[256];

static const char *p(const char *name) {
  static char buf[32][512];
  static int k;
  k = (k + 1) % 32;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, name);
  return buf[k];
}

/* The tiny RetinaNet (mmdet dict shapes, every key the real config has). */
static const char *const tiny_retina =
    "{\"model\": {\"type\": \"RetinaNet\",\n"
    " \"data_preprocessor\": {\"type\": \"DetDataPreprocessor\", \"mean\": [123.675, 116.28, 103.53],\n"
    "   \"std\": [58.395, 57.12, 57.375], \"bgr_to_rgb\": true, \"pad_size_divisor\": 32},\n"
    " \"backbone\": {\"type\": \"NaLaFormer\", \"variant\": \"xt\", \"attn\": [\"l\", \"l\", \"v\", \"v\"],\n"
    "   \"out_indices\": [0, 1, 2, 3], \"weights\": null},\n"
    " \"neck\": {\"type\": \"FPN\", \"in_channels\": [32, 64, 128, 384], \"out_channels\": 32, \"start_level\": 1,\n"
    "   \"add_extra_convs\": \"on_input\", \"num_outs\": 5},\n"
    " \"bbox_head\": {\"type\": \"RetinaHead\", \"num_classes\": 3, \"in_channels\": 32, \"stacked_convs\": 1,\n"
    "   \"feat_channels\": 32,\n"
    "   \"anchor_generator\": {\"type\": \"AnchorGenerator\", \"octave_base_scale\": 4, \"scales_per_octave\": 3,\n"
    "     \"ratios\": [0.5, 1.0, 2.0], \"strides\": [8, 16, 32, 64, 128]},\n"
    "   \"bbox_coder\": {\"type\": \"DeltaXYWHBBoxCoder\", \"target_means\": [0.0, 0.0, 0.0, 0.0],\n"
    "     \"target_stds\": [1.0, 1.0, 1.0, 1.0]}},\n"
    " \"test_cfg\": {\"nms_pre\": 1000, \"min_bbox_size\": 0, \"score_thr\": 0.05,\n"
    "   \"nms\": {\"type\": \"nms\", \"iou_threshold\": 0.5}, \"max_per_img\": 100}},\n"
    " \"test_pipeline\": [{\"type\": \"LoadImageFromFile\", \"backend_args\": null},\n"
    "   {\"type\": \"Resize\", \"scale\": [160, 96], \"keep_ratio\": true},\n"
    "   {\"type\": \"PackDetInputs\", \"meta_keys\": [\"img_id\", \"scale_factor\"]}]}\n";

/* The tiny Mask R-CNN of tools/reference/make_maskrcnn_fixtures.py's config_json() with 3 classes. */
static const char *const tiny_mask =
    "{\"model\": {\"type\": \"MaskRCNN\",\n"
    " \"data_preprocessor\": {\"type\": \"DetDataPreprocessor\", \"mean\": [123.675, 116.28, 103.53],\n"
    "   \"std\": [58.395, 57.12, 57.375], \"bgr_to_rgb\": true, \"pad_size_divisor\": 32},\n"
    " \"backbone\": {\"type\": \"NaLaFormer\", \"variant\": \"xt\", \"attn\": [\"l\", \"l\", \"v\", \"v\"],\n"
    "   \"out_indices\": [0, 1, 2, 3]},\n"
    " \"neck\": {\"type\": \"FPN\", \"in_channels\": [32, 64, 128, 384], \"out_channels\": 32, \"num_outs\": 5},\n"
    " \"rpn_head\": {\"type\": \"RPNHead\", \"in_channels\": 32, \"feat_channels\": 32,\n"
    "   \"anchor_generator\": {\"type\": \"AnchorGenerator\", \"scales\": [8.0], \"ratios\": [0.5, 1.0, 2.0],\n"
    "     \"strides\": [4, 8, 16, 32, 64]},\n"
    "   \"bbox_coder\": {\"type\": \"DeltaXYWHBBoxCoder\", \"target_means\": [0.0, 0.0, 0.0, 0.0],\n"
    "     \"target_stds\": [1.0, 1.0, 1.0, 1.0]}},\n"
    " \"roi_head\": {\"type\": \"StandardRoIHead\",\n"
    "   \"bbox_roi_extractor\": {\"type\": \"SingleLevelRoIExtractor\", \"roi_layer\": {\"type\": \"RoIAlign\",\n"
    "     \"output_size\": 7, \"sampling_ratio\": 0}, \"out_channels\": 32, \"featmap_strides\": [4, 8, 16, 32]},\n"
    "   \"bbox_head\": {\"type\": \"Shared2FCBBoxHead\", \"in_channels\": 32, \"fc_out_channels\": 64,\n"
    "     \"roi_feat_size\": 7, \"num_classes\": 3, \"bbox_coder\": {\"type\": \"DeltaXYWHBBoxCoder\",\n"
    "     \"target_means\": [0.0, 0.0, 0.0, 0.0], \"target_stds\": [0.1, 0.1, 0.2, 0.2]}, \"reg_class_agnostic\": false},\n"
    "   \"mask_roi_extractor\": {\"type\": \"SingleLevelRoIExtractor\", \"roi_layer\": {\"type\": \"RoIAlign\",\n"
    "     \"output_size\": 14, \"sampling_ratio\": 0}, \"out_channels\": 32, \"featmap_strides\": [4, 8, 16, 32]},\n"
    "   \"mask_head\": {\"type\": \"FCNMaskHead\", \"num_convs\": 4, \"in_channels\": 32, \"conv_out_channels\": 16,\n"
    "     \"num_classes\": 3}},\n"
    " \"test_cfg\": {\"rpn\": {\"nms_pre\": 1000, \"max_per_img\": 1000, \"nms\": {\"type\": \"nms\", \"iou_threshold\": 0.7},\n"
    "   \"min_bbox_size\": 0}, \"rcnn\": {\"score_thr\": 0.05, \"nms\": {\"type\": \"nms\", \"iou_threshold\": 0.5},\n"
    "   \"max_per_img\": 100, \"mask_thr_binary\": 0.5}}},\n"
    " \"test_pipeline\": [{\"type\": \"LoadImageFromFile\", \"backend_args\": null},\n"
    "   {\"type\": \"Resize\", \"scale\": [160, 96], \"keep_ratio\": true},\n"
    "   {\"type\": \"PackDetInputs\", \"meta_keys\": [\"img_id\", \"scale_factor\"]}]}\n";

static const det_test_image set[] = {
    {201, 48, 64, 2, {{0, 4, 6, 20, 14}, {2, 30, 20, 25, 20}}, 0},
    {202, 40, 40, 1, {{1, 10, 10, 12, 18}}, 1},
    {203, 48, 64, 1, {{1, 40, 30, 20, 15}}, 0},
};

static void setup(void) {
  snprintf(tmp, sizeof tmp, "/tmp/nala_det_cli_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmp));
  det_test_write_coco(p("coco"), set, 3);
  nala_test_write_text(p("retina.json"), tiny_retina);
  nala_test_write_text(p("mask.json"), tiny_mask);
}

static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  ck_assert_int_eq(system(cmd), 0);
}

static int run(const char *args, char **out, char **err) {
  int rc = nala_run_cli(args, out, err);
  printf("---- nala %s -> %d\n%s%s", args, rc, *out ? *out : "", *err ? *err : "");
  return rc;
}

static int same_file(const char *a, const char *b) {
  char *x = nala_read_text(a), *y = nala_read_text(b);
  int same = x && y && !strcmp(x, y);
  free(x);
  free(y);
  return same;
}

START_TEST(eval_coco_model_and_merge) {
  char args[4096], *out, *err;
  snprintf(args, sizeof args, "eval coco --config %s --data-root %s --out-prefix %s --threads 2 --no-progress",
           p("retina.json"), p("coco"), p("full"));
  ck_assert_int_eq(run(args, &out, &err), 1); /* bad202.png: named and skipped */
  ck_assert_ptr_nonnull(strstr(err, "bad202.png"));
  ck_assert_ptr_nonnull(strstr(out, "Evaluating bbox..."));
  ck_assert_ptr_nonnull(strstr(out, "Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]"));
  ck_assert_ptr_null(strstr(out, "Evaluating segm"));
  char *full_out = out;
  free(err);
  /* The results load in the evaluator against the annotation file: every category id is one of
   * the file's, every image id one of the good images. */
  nala_err e;
  nala_coco_gt *gt;
  nala_coco_dets *dets;
  ck_assert_int_eq(nala_coco_gt_load(p("coco/annotations/instances_val2017.json"), 0, &gt, &e), NALA_OK);
  ck_assert_msg(nala_coco_dets_load(p("full.bbox.json"), gt, 0, &dets, &e) == NALA_OK, "%s", e.msg);
  size_t n = nala_coco_dets_count(dets);
  printf("tiny seeded RetinaNet: %zu detections over 2 images\n", n);
  ck_assert_uint_gt(n, 0);
  ck_assert_uint_le(n, 200); /* max_per_img 100 */
  ck_assert_uint_eq(nala_coco_dets_num_unknown_category(dets), 0);
  nala_coco_dets_free(dets);
  nala_coco_gt_free(gt);
  char *text = nala_read_text(p("full.bbox.json"));
  ck_assert_ptr_null(strstr(text, "\"image_id\": 202"));
  ck_assert_ptr_nonnull(strstr(text, "\"image_id\": 203"));
  free(text);
  /* Two shards (image 201 | images 202, 203) merge into the same files and the same stats. */
  for (int s = 0; s < 2; s++) {
    char prefix[16];
    snprintf(prefix, sizeof prefix, "s%d", s);
    snprintf(args, sizeof args,
             "eval coco --config %s --data-root %s --out-prefix %s --shard %d/2 --threads 2 --no-progress",
             p("retina.json"), p("coco"), p(prefix), s);
    ck_assert_int_eq(run(args, &out, &err), s == 1 ? 1 : 0);
    free(out);
    free(err);
  }
  snprintf(args, sizeof args, "eval coco --merge %s %s --out-prefix %s", p("s0"), p("s1"), p("merged"));
  ck_assert_int_eq(run(args, &out, &err), 1); /* a merged run had a bad image */
  ck_assert(same_file(p("merged.bbox.json"), p("full.bbox.json")));
  ck_assert(same_file(p("merged.meta.json"), p("full.meta.json")));
  ck_assert_str_eq(strstr(out, "Evaluating bbox"), strstr(full_out, "Evaluating bbox"));
  free(out);
  free(err);
  free(full_out);
  /* The --gt / --results mode is unchanged and reads the same file. */
  snprintf(args, sizeof args, "eval coco --gt %s --results %s --iou-type bbox", p("coco/annotations/instances_val2017.json"),
           p("full.bbox.json"));
  ck_assert_int_eq(run(args, &out, &err), 0);
  ck_assert_ptr_nonnull(strstr(out, "Average Precision"));
  free(out);
  free(err);
}
END_TEST

START_TEST(eval_coco_maskrcnn) {
  char args[4096], *out, *err;
  snprintf(args, sizeof args, "eval coco --config %s --data-root %s --out-prefix %s --threads 2 --no-progress",
           p("mask.json"), p("coco"), p("m"));
  ck_assert_int_eq(run(args, &out, &err), 1); /* bad202.png */
  ck_assert_ptr_nonnull(strstr(err, "bad202.png"));
  ck_assert_ptr_nonnull(strstr(out, "Evaluating bbox..."));
  ck_assert_ptr_nonnull(strstr(out, "Evaluating segm..."));
  free(out);
  free(err);
  /* segm results: RLE of the original image size, accepted by the evaluator with masks. */
  nala_err e;
  nala_coco_gt *gt;
  nala_coco_dets *dets;
  ck_assert_int_eq(nala_coco_gt_load(p("coco/annotations/instances_val2017.json"), 1, &gt, &e), NALA_OK);
  ck_assert_msg(nala_coco_dets_load(p("m.segm.json"), gt, 1, &dets, &e) == NALA_OK, "%s", e.msg);
  size_t n = nala_coco_dets_count(dets);
  printf("tiny seeded Mask R-CNN: %zu masks over 2 images\n", n);
  ck_assert_uint_gt(n, 0);
  nala_coco_result res;
  ck_assert_int_eq(nala_coco_evaluate(gt, dets, NALA_COCO_SEGM, NULL, &res, &e), NALA_OK);
  nala_coco_result_free(&res);
  nala_coco_dets_free(dets);
  nala_coco_gt_free(gt);
  char *text = nala_read_text(p("m.segm.json"));
  ck_assert_ptr_nonnull(strstr(text, "\"segmentation\": {\"size\": [48, 64], \"counts\": \""));
  free(text);
  /* nala det with masks: every detection drawn (threshold 0) with its mask overlay. */
  snprintf(args, sizeof args, "det --config %s --input %s --out %s --json %s --score-thr 0 --threads 2", p("mask.json"),
           p("coco/val2017/img201.png"), p("m201.png"), p("m201.json"));
  ck_assert_int_eq(run(args, &out, &err), 0);
  ck_assert_ptr_nonnull(strstr(err, "paste"));
  free(out);
  free(err);
  nala_image img;
  ck_assert_int_eq(nala_image_read(p("m201.png"), NALA_BGR, 0, &img, &e), NALA_OK);
  ck_assert_int_eq(img.h, 48);
  nala_image_free(&img);
  text = nala_read_text(p("m201.json"));
  ck_assert_ptr_nonnull(strstr(text, "\"segmentation\": {\"size\": [48, 64]"));
  free(text);
}
END_TEST

START_TEST(det_folder_and_video) {
  char args[4096], *out, *err;
  snprintf(args, sizeof args, "det --config %s --input %s --out %s --json %s --threads 2", p("retina.json"),
           p("coco/val2017"), p("drawn"), p("dets.json"));
  ck_assert_int_eq(run(args, &out, &err), 1);
  ck_assert_ptr_nonnull(strstr(err, "bad202.png"));
  ck_assert_ptr_nonnull(strstr(err, "backbone")); /* the per-stage split */
  free(out);
  free(err);
  nala_image img;
  nala_err e;
  ck_assert_int_eq(nala_image_read(p("drawn/img203.png"), NALA_BGR, 0, &img, &e), NALA_OK);
  ck_assert_int_eq(img.h, 48);
  ck_assert_int_eq(img.w, 64);
  nala_image_free(&img);
  ck_assert_int_eq(access(p("drawn/bad202.png"), F_OK), -1);
  /* A short video: 5 frames in, 5 annotated frames out, same size and fps. */
  nala_video_writer *vw;
  ck_assert_int_eq(nala_video_writer_open(p("in.mp4"), 64, 48, 10.0, "mp4v", &vw, &e), NALA_OK);
  ck_assert_int_eq(nala_image_alloc(48, 64, 3, NALA_BGR, &img, &e), NALA_OK);
  for (int i = 0; i < 5; i++) {
    memset(img.data, 40 * i, img.stride * 48);
    ck_assert_int_eq(nala_video_write(vw, &img, &e), NALA_OK);
  }
  nala_image_free(&img);
  ck_assert_int_eq(nala_video_writer_close(vw, &e), NALA_OK);
  snprintf(args, sizeof args, "det --config %s --input %s --out %s --threads 2", p("retina.json"), p("in.mp4"),
           p("out.mp4"));
  ck_assert_int_eq(run(args, &out, &err), 0);
  free(out);
  free(err);
  nala_video_reader *vr;
  ck_assert_int_eq(nala_video_open(p("out.mp4"), &vr, &e), NALA_OK);
  nala_video_info info = nala_video_get_info(vr);
  ck_assert_int_eq(info.w, 64);
  ck_assert_int_eq(info.h, 48);
  ck_assert_double_eq_tol(info.fps, 10.0, 1e-6);
  nala_image f = {0};
  int got = 1, frames = 0;
  while (got) {
    ck_assert_int_eq(nala_video_read(vr, NALA_BGR, &f, &got, &e), NALA_OK);
    frames += got;
  }
  ck_assert_int_eq(frames, 5);
  nala_image_free(&f);
  nala_video_close(vr);
  /* An unwritable output fails before the model is built. */
  snprintf(args, sizeof args, "det --config %s --input %s --out /proc/nala_nope/o.png", p("retina.json"),
           p("coco/val2017/img201.png"));
  ck_assert_int_eq(run(args, &out, &err), 1);
  ck_assert_ptr_nonnull(strstr(err, "/proc/nala_nope"));
  ck_assert_ptr_null(strstr(err, "backbone"));
  free(out);
  free(err);
  /* No such camera: named with its device node, exit 1, no video left behind. */
  if (access("/dev/video9", F_OK) != 0) {
    snprintf(args, sizeof args, "det --config %s --input camera:9 --out %s", p("retina.json"), p("cam.mp4"));
    ck_assert_int_eq(run(args, &out, &err), 1);
    ck_assert_ptr_nonnull(strstr(err, "camera 9 (/dev/video9): no such device"));
    ck_assert_int_eq(access(p("cam.mp4"), F_OK), -1);
    free(out);
    free(err);
  }
}
END_TEST

START_TEST(bench_det_last_line) {
  char args[4096], *out, *err;
  snprintf(args, sizeof args, "bench det --config %s --size 64x96 --threads 2 --runs 1 --warmup 0 --profile-runs 1",
           p("retina.json"));
  ck_assert_int_eq(run(args, &out, &err), 0);
  const char *last = strstr(out, "median_ms=");
  ck_assert_ptr_nonnull(last);
  double ms = -1, rss = -1;
  ck_assert_int_eq(sscanf(last, "median_ms=%lf peak_rss_mb=%lf", &ms, &rss), 2);
  ck_assert_double_gt(ms, 0);
  ck_assert_double_gt(rss, 0);
  ck_assert_ptr_nonnull(strstr(out, "dense head"));
  free(out);
  free(err);
  snprintf(args, sizeof args, "bench det --config %s --weights %s --runs 1", p("retina.json"), p("none.safetensors"));
  ck_assert_int_eq(run(args, &out, &err), 1);
  ck_assert_ptr_nonnull(strstr(err, "none.safetensors"));
  free(out);
  free(err);
  ck_assert_int_eq(run("bench det --size 64x96", &out, &err), 2);
  ck_assert_ptr_nonnull(strstr(err, "--config"));
  free(out);
  free(err);
}
END_TEST

int main(void) {
  Suite *s = suite_create("det_cli");
  TCase *tc = tcase_create("all");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, eval_coco_model_and_merge);
  tcase_add_test(tc, eval_coco_maskrcnn);
  tcase_add_test(tc, det_folder_and_video);
  tcase_add_test(tc, bench_det_last_line);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
