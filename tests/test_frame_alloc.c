/* The per-frame path of `nala seg` on a video (tools/cli_seg_stream.c's loop: decode into a reused
 * frame, segment the borrowed BGR frame through the test pipeline, read the labels, blend the overlay
 * into a plan-time buffer, encode) allocates nothing of its own after the first frames, and the
 * process heap does not grow per frame:
 * - every malloc is attributed by its call stack (tests/support/alloc_count.h): nala's and the
 *   test's own, OpenCV's imgproc/core (cv::resize used to allocate here), oneDNN's per-execute
 *   argument maps, and FFmpeg's codec work (packets, frame buffers: not nala's to plan);
 * - after WARM frames, ours and OpenCV's must be 0 per frame, oneDNN's the same count every frame,
 *   and glibc's heap in use (mallinfo2 uordblks) after each frame equal to its value after the warm-up
 *   (the clip is MJPEG, an intra-only codec with no lookahead queue, so the codec holds no growing
 *   frame queue either; avc1/mp4v encoders buffer a bounded number of frames by design).
 * The preprocessed tensor of every frame is also compared with the previous path (OpenCV's cv::resize,
 * then the normalisation alone) bit for bit, so the labels downstream are unchanged.
 * The same holds for `nala det` on a video (tools/cli_det_stream.c's frame: detect the borrowed frame,
 * read the detections and each drawn one's mask into plan-time buffers, blend the masks, draw boxes
 * and "name 0.87" labels from the text masks rendered at open, encode): cv::putText allocated per
 * label before those masks.
 * Under ASan/UBSan the sanitizer owns malloc: the counts are skipped with a printed line. */
#define _GNU_SOURCE
#include <check.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nala/config.h"
#include "nala/detector.h"
#include "nala/image_io.h"
#include "nala/preprocess.h"
#include "nala/segmentor.h"
#include "nala/weights.h"
#include "tests/support/alloc_count.h"
#include "tests/support/frames.h"
#include "tests/support/suite.h"
#include "tools/det_draw.h"
#include "tools/seg_overlay.h"

enum { H = 120, W = 160, FRAMES = 12, WARM = 2 };

/* The tensor the frame path used to feed the model: cv::resize (nala_image_resize), then the same
 * normalisation with no resize step. Returns 1 when it equals nala_preprocess_into's bit for bit. */
static int same_as_opencv_path(const nala_preprocess_cfg *cfg, const nala_image *frame) {
  nala_err err;
  nala_preprocess_sizes sz;
  ck_assert_int_eq(nala_preprocess_out_size(cfg, frame->h, frame->w, &sz, &err), NALA_OK);
  float *now = malloc(sz.out_floats * sizeof *now), *before = malloc(sz.out_floats * sizeof *before);
  uint8_t *scratch = malloc(sz.scratch_bytes + 1);
  ck_assert_int_eq(nala_preprocess_into(cfg, frame, now, sz.out_floats, scratch, sz.scratch_bytes, NULL, &err),
                   NALA_OK);
  nala_image resized;
  ck_assert_int_eq(nala_image_alloc(sz.meta.img_h, sz.meta.img_w, 3, frame->order, &resized, &err), NALA_OK);
  ck_assert_int_eq(nala_image_resize(frame, &resized, cfg->interp, &err), NALA_OK);
  nala_preprocess_cfg plain = *cfg;
  plain.no_resize = 1;
  ck_assert_int_eq(nala_preprocess_into(&plain, &resized, before, sz.out_floats, NULL, 0, NULL, &err), NALA_OK);
  int same = !memcmp(now, before, sz.out_floats * sizeof *now);
  nala_image_free(&resized);
  free(now), free(before), free(scratch);
  return same;
}

START_TEST(video_frames_allocate_nothing) {
  nala_err err;
  const char *tmp = getenv("TMPDIR");
  char dir_buf[512];
  snprintf(dir_buf, sizeof dir_buf, "%s/nala_frame_alloc_XXXXXX", tmp && *tmp ? tmp : "/tmp");
  char *where = mkdtemp(dir_buf);
  ck_assert_ptr_nonnull(where);
  char clip[600], out_path[600];
  snprintf(clip, sizeof clip, "%s/clip.avi", where);
  snprintf(out_path, sizeof out_path, "%s/overlay.avi", where);

  /* the generated clip */
  nala_video_writer *vw = NULL;
  ck_assert_msg(nala_video_writer_open(clip, W, H, 10.0, "MJPG", &vw, &err) == NALA_OK, "%s", err.msg);
  nala_image src;
  ck_assert_int_eq(nala_image_alloc(H, W, 3, NALA_BGR, &src, &err), NALA_OK);
  for (int k = 0; k < FRAMES; k++) {
    nala_test_moving_frame(&src, k);
    ck_assert_int_eq(nala_video_write(vw, &src, &err), NALA_OK);
  }
  ck_assert_int_eq(nala_video_writer_close(vw, &err), NALA_OK);
  nala_image_free(&src);

  /* the model (the frame path resizes 120x160 -> 75x100 then the logits back), planned once */
  nala_config *cfg = NULL;
  nala_weights *w = NULL;
  nala_segmentor *m = NULL;
  nala_seg_ctx *ctx = NULL;
  ck_assert_msg(nala_config_load(NALA_FIXTURES "/segmentor/fpn_xt_frame_down.json", &cfg, &err) == NALA_OK, "%s",
                err.msg);
  ck_assert_int_eq(nala_weights_seeded(0, &w, &err), NALA_OK);
  ck_assert_msg(nala_segmentor_create(cfg, w, NULL, &m, &err) == NALA_OK, "%s", err.msg);
  nala_weights_close(w);
  ck_assert_int_eq(nala_seg_ctx_create(m, 2, &ctx, &err), NALA_OK);
  ck_assert_msg(nala_seg_plan(ctx, NALA_SEG_FRAME, H, W, &err) == NALA_OK, "%s", err.msg);
  nala_preprocess_cfg pre;
  ck_assert_int_eq(nala_preprocess_from_config(&nala_config_model(cfg)->preprocess, NALA_NCHW, &pre, &err), NALA_OK);

  /* plan-time buffers of the loop: frame, labels, overlay, the blend table */
  uint8_t palette[256][3];
  for (int i = 0; i < 256; i++)
    palette[i][0] = (uint8_t)(i * 37), palette[i][1] = (uint8_t)(i * 91), palette[i][2] = (uint8_t)(i * 53);
  seg_overlay_lut *lut = malloc(sizeof *lut);
  seg_overlay_lut_init(lut, 0.5);
  uint8_t *labels = malloc((size_t)FRAMES * H * W);
  nala_image frame, overlay;
  ck_assert_int_eq(nala_image_alloc(H, W, 3, NALA_BGR, &frame, &err), NALA_OK);
  ck_assert_int_eq(nala_image_alloc(H, W, 3, NALA_BGR, &overlay, &err), NALA_OK);
  nala_video_reader *vr = NULL;
  ck_assert_msg(nala_video_open(clip, &vr, &err) == NALA_OK, "%s", err.msg);
  ck_assert_msg(nala_video_writer_open(out_path, W, H, 10.0, "MJPG", &vw, &err) == NALA_OK, "%s", err.msg);
  uint8_t *frame_pixels = frame.data;

  long per[FRAMES][NALA_ALLOC_CLASSES];
  size_t heap[FRAMES];
  long model_heap[FRAMES], model_codec[FRAMES]; /* heap change over segment + overlay, codec calls meanwhile */
  nala_status st[FRAMES];
  int got[FRAMES], n = 0;
  memset(per, 0, sizeof per);
  nala_alloc_count_start();
  for (; n < FRAMES; n++) {
    long c0[NALA_ALLOC_CLASSES];
    for (int c = 0; c < NALA_ALLOC_CLASSES; c++)
      c0[c] = nala_alloc_count((nala_alloc_class)c);
    st[n] = nala_video_read(vr, NALA_BGR, &frame, &got[n], &err);
    size_t model_heap0 = mallinfo2().uordblks;
    long model_codec0 = nala_alloc_count(NALA_ALLOC_CODEC);
    if (st[n] == NALA_OK && got[n])
      st[n] = nala_seg_forward_frame(ctx, &frame, &err);
    if (st[n] == NALA_OK && got[n])
      st[n] = nala_seg_read_labels(ctx, labels + (size_t)n * H * W, (size_t)H * W, &err);
    if (st[n] == NALA_OK && got[n]) {
      seg_overlay_draw(&frame, labels + (size_t)n * H * W, W, (const uint8_t(*)[3])palette, 150, lut, &overlay);
      model_heap[n] = (long)mallinfo2().uordblks - (long)model_heap0;
      model_codec[n] = nala_alloc_count(NALA_ALLOC_CODEC) - model_codec0;
      st[n] = nala_video_write(vw, &overlay, &err);
    }
    for (int c = 0; c < NALA_ALLOC_CLASSES; c++)
      per[n][c] = nala_alloc_count((nala_alloc_class)c) - c0[c];
    heap[n] = mallinfo2().uordblks;
    if (st[n] != NALA_OK || !got[n])
      break;
  }
  nala_alloc_count_stop();
  ck_assert_msg(n == FRAMES, "frame %d: %s (got %d)", n, st[n < FRAMES ? n : 0] ? err.msg : "", got[n < FRAMES ? n : 0]);
  ck_assert_ptr_eq(frame.data, frame_pixels); /* decoded into the plan-time frame every time */
  ck_assert_int_eq(nala_video_writer_close(vw, &err), NALA_OK);
  nala_video_close(vr);

  int counting = nala_alloc_count_available();
  if (!counting)
    printf("sanitizer build: malloc belongs to the sanitizer, allocation counts and mallinfo2 skipped\n");
  long bad = 0, unattributable = 0;
  for (int i = 0; i < FRAMES && counting; i++) {
    printf("frame %2d: allocations ours %ld, OpenCV %ld, oneDNN %ld, codec %ld; heap in use %zu bytes (%+ld), "
           "over segment + overlay %+ld (codec calls meanwhile %ld)\n",
           i + 1, per[i][NALA_ALLOC_OURS], per[i][NALA_ALLOC_OPENCV], per[i][NALA_ALLOC_ONEDNN],
           per[i][NALA_ALLOC_CODEC], heap[i], i ? (long)heap[i] - (long)heap[i - 1] : 0L, model_heap[i],
           model_codec[i]);
    if (i < WARM)
      continue;
    bad += per[i][NALA_ALLOC_OURS] != 0 || per[i][NALA_ALLOC_OPENCV] != 0 ||
           per[i][NALA_ALLOC_ONEDNN] != per[WARM][NALA_ALLOC_ONEDNN];
    /* The segment + overlay part must leave the heap exactly as it found it, unless a decoder thread
     * allocated meanwhile (FFmpeg frame threads run beside the caller): then its bytes are not ours. */
    if (model_codec[i])
      unattributable++;
    else
      bad += model_heap[i] != 0;
  }
  /* Whole frames, codec included: a compressed packet's size varies with the content, so the heap
   * moves by a few hundred bytes between frames; over the steady frames it must not drift. */
  long drift = (long)heap[FRAMES - 1] - (long)heap[WARM];
  if (counting) {
    printf("frames %d..%d: %ld with an allocation of ours or OpenCV's, a changed oneDNN count or a heap change "
           "over segment + overlay (%ld not attributable: a decoder thread allocated meanwhile); whole-frame heap "
           "drift %+ld bytes\n", WARM + 1, FRAMES, bad, unattributable, drift);
    ck_assert_int_eq(bad, 0);
    ck_assert_int_lt(unattributable, FRAMES - WARM); /* at least one frame measured exactly */
    ck_assert_msg(labs(drift) <= 4096, "heap drift %ld bytes over %d frames", drift, FRAMES - WARM - 1);
  }

  /* RGB callers: the shim's channel swaps (read as RGB, write an RGB frame) are in C into the frame and
   * a writer buffer sized at the first frame; cv::cvtColor cloned its input per call when in place. */
  char rgb_path[600];
  snprintf(rgb_path, sizeof rgb_path, "%s/rgb.avi", where);
  ck_assert_int_eq(nala_video_open(clip, &vr, &err), NALA_OK);
  ck_assert_int_eq(nala_video_writer_open(rgb_path, W, H, 10.0, "MJPG", &vw, &err), NALA_OK);
  long rgb_ours = 0, rgb_opencv = 0;
  int rgb_ok = 1;
  for (int i = 0; i < 6; i++) {
    long o0 = nala_alloc_count(NALA_ALLOC_OURS), c0 = nala_alloc_count(NALA_ALLOC_OPENCV);
    int got_rgb = 0;
    if (i == 1)
      nala_alloc_count_start();
    rgb_ok &= nala_video_read(vr, NALA_RGB, &frame, &got_rgb, &err) == NALA_OK && got_rgb &&
              frame.order == NALA_RGB && nala_video_write(vw, &frame, &err) == NALA_OK;
    if (i >= 1) {
      rgb_ours += nala_alloc_count(NALA_ALLOC_OURS) - o0;
      rgb_opencv += nala_alloc_count(NALA_ALLOC_OPENCV) - c0;
    }
  }
  nala_alloc_count_stop();
  ck_assert_msg(rgb_ok, "%s", err.msg);
  ck_assert_int_eq(nala_video_writer_close(vw, &err), NALA_OK);
  nala_video_close(vr);
  /* the RGB frames were written as the colours they are: the first frame matches the clip's (as BGR)
   * up to a second MJPEG pass; swapped red and blue would be off by far more */
  nala_image clip_first = {0}, rgb_first = {0};
  int got_a = 0, got_b = 0;
  ck_assert_int_eq(nala_video_open(clip, &vr, &err), NALA_OK);
  ck_assert_int_eq(nala_video_read(vr, NALA_BGR, &clip_first, &got_a, &err), NALA_OK);
  nala_video_close(vr);
  ck_assert_int_eq(nala_video_open(rgb_path, &vr, &err), NALA_OK);
  ck_assert_int_eq(nala_video_read(vr, NALA_BGR, &rgb_first, &got_b, &err), NALA_OK);
  nala_video_close(vr);
  ck_assert(got_a && got_b);
  double mad = 0;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < 3 * W; x++)
      mad += abs((int)clip_first.data[y * clip_first.stride + x] - (int)rgb_first.data[y * rgb_first.stride + x]);
  mad /= 3.0 * H * W;
  printf("RGB frames written back: first frame mean |diff| %.2f to the clip's\n", mad);
  ck_assert(mad < 8.0);
  nala_image_free(&clip_first), nala_image_free(&rgb_first);
  unlink(rgb_path);
  if (counting) {
    printf("RGB read + RGB write, frames 2..6: %ld allocations of ours, %ld of OpenCV's\n", rgb_ours, rgb_opencv);
    ck_assert_int_eq(rgb_ours, 0);
    ck_assert_int_eq(rgb_opencv, 0);
  }

  /* outputs unchanged: each frame's tensor equals the cv::resize path's; labels vary across frames */
  vr = NULL;
  ck_assert_int_eq(nala_video_open(clip, &vr, &err), NALA_OK);
  int same = 0, got_one = 0, differing_frames = 0;
  for (int i = 0; i < FRAMES; i++) {
    ck_assert_int_eq(nala_video_read(vr, NALA_BGR, &frame, &got_one, &err), NALA_OK);
    ck_assert(got_one);
    same += same_as_opencv_path(&pre, &frame);
    if (i)
      differing_frames += memcmp(labels + (size_t)i * H * W, labels, (size_t)H * W) != 0;
  }
  nala_video_close(vr);
  printf("%d of %d frames: preprocessed tensor identical to the cv::resize path; %d frame(s) with labels unlike "
         "frame 1's\n", same, FRAMES, differing_frames);
  ck_assert_int_eq(same, FRAMES);

  nala_image_free(&frame);
  nala_image_free(&overlay);
  free(labels), free(lut);
  nala_seg_ctx_free(ctx);
  nala_segmentor_free(m);
  nala_config_free(cfg);
  unlink(clip), unlink(out_path), rmdir(where);
}
END_TEST

/* Mask R-CNN XT (4 classes, seeded weights) on the moving clip at its own 120x160 (a 160x128 test
 * pipeline keeps it quick), every detection drawn: its mask, its box and its label. */
START_TEST(detection_frames_allocate_nothing) {
  enum { DET_FRAMES = 8 };
  static const char *const overrides[] = {
      "test_pipeline=[{\"type\": \"LoadImageFromFile\"}, {\"type\": \"Resize\", \"scale\": [160, 128], "
      "\"keep_ratio\": true}, {\"type\": \"PackDetInputs\"}]",
      "model.test_cfg.rcnn.score_thr=0.0"};
  nala_err err;
  nala_config *cfg = NULL;
  nala_weights *w = NULL;
  nala_detector *model = NULL;
  nala_det_ctx *ctx = NULL;
  ck_assert_msg(nala_config_load_with(NALA_FIXTURES "/maskrcnn/maskrcnn_xt_fixture.json", overrides, 2, &cfg, &err) ==
                    NALA_OK, "%s", err.msg);
  ck_assert_int_eq(nala_weights_seeded(0, &w, &err), NALA_OK);
  ck_assert_msg(nala_detector_create(cfg, w, NULL, &model, &err) == NALA_OK, "%s", err.msg);
  nala_weights_close(w);
  ck_assert_int_eq(nala_det_ctx_create(model, 2, &ctx, &err), NALA_OK);
  ck_assert_msg(nala_det_plan(ctx, NALA_DET_FRAME, H, W, &err) == NALA_OK, "%s", err.msg);
  int n_classes = nala_detector_num_classes(model);
  const char *names[4] = {"person", "traffic light", "hair drier", "dog"};
  det_labels labels;
  ck_assert_msg(det_labels_init(&labels, names, 4, n_classes, &err) == NALA_OK, "%s", err.msg);
  enum { MAX_DETS = 100 };
  nala_detection *dets = malloc(MAX_DETS * sizeof *dets);
  uint8_t *mask = malloc((size_t)H * W);
  nala_image frame;
  ck_assert_int_eq(nala_image_alloc(H, W, 3, NALA_BGR, &frame, &err), NALA_OK);

  long per[DET_FRAMES][NALA_ALLOC_CLASSES];
  int drawn[DET_FRAMES];
  nala_status st = NALA_OK;
  int n = 0;
  memset(per, 0, sizeof per);
  nala_alloc_count_start();
  for (; n < DET_FRAMES && st == NALA_OK; n++) {
    nala_test_moving_frame(&frame, n);
    long c0[NALA_ALLOC_CLASSES];
    for (int c = 0; c < NALA_ALLOC_CLASSES; c++)
      c0[c] = nala_alloc_count((nala_alloc_class)c);
    int got = 0;
    st = nala_det_forward_frame(ctx, &frame, &err);
    if (st == NALA_OK)
      st = nala_det_read(ctx, dets, MAX_DETS, &got, &err);
    for (int k = 0; k < got && st == NALA_OK; k++) {
      uint8_t c[3];
      det_class_color(dets[k].label, c);
      if ((st = nala_det_read_mask(ctx, k, mask, (size_t)H * W, &err)) == NALA_OK)
        det_draw_mask(&frame, mask, c, 0.5f);
    }
    if (st == NALA_OK)
      st = det_draw_detections(&frame, &labels, dets, got, 0.f, &err);
    drawn[n] = got;
    for (int c = 0; c < NALA_ALLOC_CLASSES; c++)
      per[n][c] = nala_alloc_count((nala_alloc_class)c) - c0[c];
  }
  nala_alloc_count_stop();
  ck_assert_msg(st == NALA_OK, "frame %d: %s", n, err.msg);
  if (!nala_alloc_count_available())
    printf("sanitizer build: malloc belongs to the sanitizer, allocation counts skipped\n");
  else {
    long bad = 0, labels_drawn = 0;
    for (int i = 0; i < DET_FRAMES; i++) {
      printf("det frame %d: %d detections drawn (mask, box, label); allocations ours %ld, OpenCV %ld, oneDNN %ld\n",
             i + 1, drawn[i], per[i][NALA_ALLOC_OURS], per[i][NALA_ALLOC_OPENCV], per[i][NALA_ALLOC_ONEDNN]);
      if (i < WARM)
        continue;
      labels_drawn += drawn[i];
      bad += per[i][NALA_ALLOC_OURS] != 0 || per[i][NALA_ALLOC_OPENCV] != 0 ||
             per[i][NALA_ALLOC_ONEDNN] != per[WARM][NALA_ALLOC_ONEDNN];
    }
    printf("det frames %d..%d: %ld labels drawn, %ld frame(s) with an allocation of ours or OpenCV's or a changed "
           "oneDNN count\n", WARM + 1, DET_FRAMES, labels_drawn, bad);
    ck_assert_int_gt(labels_drawn, 0); /* the label path really ran */
    ck_assert_int_eq(bad, 0);
  }
  nala_image_free(&frame);
  free(mask), free(dets);
  det_labels_free(&labels);
  nala_det_ctx_free(ctx);
  nala_detector_free(model);
  nala_config_free(cfg);
}
END_TEST

int main(void) {
  Suite *s = suite_create("frame_alloc");
  TCase *tc = tcase_create("video");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, video_frames_allocate_nothing);
  suite_add_tcase(s, tc);
  TCase *det = tcase_create("detection");
  tcase_set_timeout(det, 300);
  tcase_add_test(det, detection_frames_allocate_nothing);
  suite_add_tcase(s, det);
  return nala_run_suite_nofork(s);
}
