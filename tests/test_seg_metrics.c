/* Segmentation metrics: hand-computed cases, mmseg's out-of-range semantics, bad arguments, the
 * dataset tables, and bit-exact parity with mmseg's float32 arithmetic on a 33.5 Mpixel dataset
 * (expected numbers from tools/fixtures/make_seg_fixtures.py). */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/seg_classes.h"
#include "nala/seg_metrics.h"
#include "tests/fixtures/seg/big_expected.h"
#include "tests/support/compare.h"
#include "tests/support/suite.h"

static nala_seg_metrics *make_metrics(int num_classes, int ignore_index) {
  nala_err err;
  nala_seg_metrics *m = NULL;
  ck_assert_msg(nala_seg_metrics_create(num_classes, ignore_index, &m, &err) == NALA_OK, "%s", err.msg);
  return m;
}

static nala_seg_result *result_of(const nala_seg_metrics *m) {
  nala_seg_result *r = malloc(sizeof *r);
  ck_assert_ptr_nonnull(r);
  nala_seg_metrics_result(m, r);
  return r;
}

#define ASSERT_NEAR(got, want) ck_assert_msg(fabs((double)(got) - (want)) < 1e-12, "%s = %.17g, want %.17g", #got, (double)(got), (double)(want))

START_TEST(hand_computed_two_images_with_row_padding) {
  nala_seg_metrics *m = make_metrics(4, 255);
  /* Image 1, 2x3 in rows of 4 bytes (the 4th byte is junk that must not be read as a pixel).
   * class 0: hit (0,0); label 2, pred 1 (pred 0 at (1,2) sits on an ignored label) -> IoU 1/2, Acc 1/2
   * class 1: hits (0,2),(1,0); label 2, pred 3 -> IoU 2/3, Acc 1;  class 2: IoU 1, Acc 1;  class 3: NaN. */
  const uint8_t label1[] = {0, 0, 1, 9, 1, 2, 255, 9};
  const uint8_t pred1[] = {0, 1, 1, 77, 1, 2, 0, 77};
  nala_seg_image_counts seen;
  nala_err err;
  ck_assert_int_eq(nala_seg_metrics_add(m, pred1, 4, label1, 4, 2, 3, &seen, &err), NALA_OK);
  ck_assert_uint_eq(seen.pixels, 6);
  ck_assert_uint_eq(seen.ignored, 1);
  ck_assert_uint_eq(seen.label_out_of_range + seen.pred_out_of_range, 0);
  nala_seg_result *r = result_of(m);
  ck_assert_int_eq(r->num_classes, 4);
  ASSERT_NEAR(r->cls[0].iou, 0.5);
  ASSERT_NEAR(r->cls[1].iou, 2.0 / 3.0);
  ASSERT_NEAR(r->cls[1].acc, 1.0);
  ASSERT_NEAR(r->cls[2].iou, 1.0);
  ck_assert(isnan(r->cls[3].iou) && isnan(r->cls[3].acc) && isnan(r->cls[3].iou_mmseg));
  ASSERT_NEAR(r->aacc, 4.0 / 5.0);
  ASSERT_NEAR(r->miou, (0.5 + 2.0 / 3.0 + 1.0) / 3.0);
  ASSERT_NEAR(r->macc, 2.5 / 3.0);
  ck_assert(nala_seg_round_pct(r->miou) == 72.22);
  ck_assert(nala_seg_round_pct(r->macc) == 83.33);
  ck_assert(nala_seg_round_pct_f32(r->cls[1].iou_mmseg) == 66.67f);
  /* Image 2 (dense): all class 3 right, one class 0 pixel predicted 3.
   * Totals: class 0 label 3 hit 1 -> Acc 1/3, union 1+3-1 = 3; class 3: hit 2, pred 3, label 2 -> IoU 2/3. */
  const uint8_t label2[] = {3, 3, 0};
  const uint8_t pred2[] = {3, 3, 3};
  ck_assert_int_eq(nala_seg_metrics_add(m, pred2, 3, label2, 3, 1, 3, NULL, &err), NALA_OK);
  nala_seg_metrics_result(m, r);
  ck_assert_uint_eq(r->images, 2);
  ck_assert_uint_eq(r->cls[0].label_area, 3);
  ck_assert_uint_eq(r->cls[0].union_area, 3);
  ASSERT_NEAR(r->cls[0].acc, 1.0 / 3.0);
  ASSERT_NEAR(r->cls[3].iou, 2.0 / 3.0);
  ASSERT_NEAR(r->aacc, 6.0 / 8.0);
  ck_assert_float_eq(r->cls[3].iou_mmseg, 2.0f / 3.0f);
  ck_assert_float_eq(r->aacc_mmseg, 0.75f);
  nala_seg_metrics_reset(m);
  nala_seg_metrics_result(m, r);
  ck_assert_uint_eq(r->images, 0);
  ck_assert(isnan(r->miou) && isnan(r->aacc) && isnan(r->miou_mmseg));
  free(r);
  nala_seg_metrics_free(m);
}
END_TEST

START_TEST(out_of_range_values_follow_mmseg_and_are_counted) {
  /* C = 3. (0,0) label 0 / pred 7: a miss for class 0 (label area only, like torch.histc dropping 7).
   * (0,1) label 5 / pred 0: a false positive for class 0, in no label area (out of aAcc's denominator).
   * (1,0) 1/1 hit; (1,1) label 1 / pred 2.  class 0: I 0 U 2; class 1: I 1 U 2 Acc 1/2; class 2: I 0 U 1. */
  nala_seg_metrics *m = make_metrics(3, 255);
  const uint8_t label[] = {0, 5, 1, 1}, pred[] = {7, 0, 1, 2};
  nala_seg_image_counts seen;
  nala_err err;
  ck_assert_int_eq(nala_seg_metrics_add(m, pred, 2, label, 2, 2, 2, &seen, &err), NALA_OK);
  ck_assert_uint_eq(seen.label_out_of_range, 1);
  ck_assert_uint_eq(seen.pred_out_of_range, 1);
  ck_assert_int_eq(seen.first_bad_label, 5);
  ck_assert_int_eq(seen.first_bad_pred, 7);
  nala_seg_result *r = result_of(m);
  ck_assert_uint_eq(r->cls[0].label_area, 1);
  ck_assert_uint_eq(r->cls[0].pred_area, 1);
  ck_assert_uint_eq(r->cls[0].union_area, 2);
  ASSERT_NEAR(r->cls[0].iou, 0.0);
  ASSERT_NEAR(r->cls[1].iou, 0.5);
  ASSERT_NEAR(r->cls[2].iou, 0.0);
  ck_assert(isnan(r->cls[2].acc));
  ASSERT_NEAR(r->aacc, 1.0 / 3.0);
  ASSERT_NEAR(r->miou, 0.5 / 3.0);
  ASSERT_NEAR(r->macc, 0.25);
  ck_assert_uint_eq(r->totals.label_out_of_range, 1);
  ck_assert_int_eq(r->totals.first_bad_pred, 7);
  int side = 0;
  const uint64_t *conf = nala_seg_metrics_confusion(m, &side);
  ck_assert_int_eq(side, 4);
  ck_assert_uint_eq(conf[0 * 4 + 3], 1); /* label 0 predicted out of range */
  ck_assert_uint_eq(conf[3 * 4 + 0], 1); /* out-of-range label predicted 0 */
  /* Without an ignore index, 255 is just another out-of-range label. */
  nala_seg_metrics *all = make_metrics(3, NALA_SEG_NO_IGNORE);
  const uint8_t label255[] = {255, 1}, pred255[] = {1, 1};
  ck_assert_int_eq(nala_seg_metrics_add(all, pred255, 2, label255, 2, 1, 2, &seen, &err), NALA_OK);
  ck_assert_uint_eq(seen.ignored, 0);
  ck_assert_uint_eq(seen.label_out_of_range, 1);
  nala_seg_metrics_result(all, r);
  ck_assert_uint_eq(r->cls[1].pred_area, 2);
  ASSERT_NEAR(r->cls[1].iou, 0.5);
  free(r);
  nala_seg_metrics_free(all);
  nala_seg_metrics_free(m);
}
END_TEST

START_TEST(bad_arguments_fail_with_messages) {
  nala_err err;
  nala_seg_metrics *m = (nala_seg_metrics *)&err;
  ck_assert_int_eq(nala_seg_metrics_create(0, 255, &m, &err), NALA_E_ARG);
  ck_assert_ptr_null(m);
  ck_assert_msg(strstr(err.msg, "num_classes 0") != NULL, "%s", err.msg);
  ck_assert_int_eq(nala_seg_metrics_create(257, 255, &m, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_seg_metrics_create(19, 300, &m, &err), NALA_E_ARG);
  ck_assert_msg(strstr(err.msg, "ignore_index 300") != NULL, "%s", err.msg);
  ck_assert_int_eq(nala_seg_metrics_create(19, 255, NULL, &err), NALA_E_ARG);
  m = make_metrics(19, 255);
  const uint8_t px[4] = {0};
  ck_assert_int_eq(nala_seg_metrics_add(m, px, 1, px, 2, 2, 2, NULL, &err), NALA_E_ARG);
  ck_assert_msg(strstr(err.msg, "pred_stride=1") != NULL, "%s", err.msg);
  ck_assert_int_eq(nala_seg_metrics_add(m, NULL, 2, px, 2, 2, 2, NULL, &err), NALA_E_ARG);
  ck_assert_msg(strstr(err.msg, "pred is NULL") != NULL, "%s", err.msg);
  ck_assert_int_eq(nala_seg_metrics_add(m, px, 2, px, 2, -1, 2, NULL, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_seg_metrics_add(NULL, px, 2, px, 2, 2, 2, NULL, NULL), NALA_E_ARG);
  nala_seg_result *r = result_of(m);
  ck_assert_uint_eq(r->images, 0); /* failed adds leave nothing behind */
  free(r);
  nala_seg_metrics_free(m);
  nala_seg_metrics_free(NULL);
}
END_TEST

START_TEST(dataset_tables_match_mmseg_and_cityscapes_scripts) {
  const nala_seg_dataset *ade = nala_seg_dataset_find("ade20k");
  ck_assert_ptr_nonnull(ade);
  ck_assert_int_eq(ade->num_classes, 150);
  ck_assert_int_eq(ade->reduce_zero_label, 1);
  ck_assert_str_eq(ade->class_names[0], "wall");
  ck_assert_str_eq(ade->class_names[7], "bed ");
  ck_assert_str_eq(ade->class_names[46], "sand");
  ck_assert_str_eq(ade->class_names[149], "flag");
  for (int i = 0; i < 150; i++)
    for (int j = i + 1; j < 150; j++)
      ck_assert_msg(strcmp(ade->class_names[i], ade->class_names[j]) != 0, "duplicate %s", ade->class_names[i]);
  const nala_seg_dataset *cs = nala_seg_dataset_find("cityscapes");
  ck_assert_ptr_nonnull(cs);
  ck_assert_int_eq(cs->num_classes, 19);
  ck_assert_int_eq(cs->reduce_zero_label, 0);
  ck_assert_str_eq(cs->class_names[0], "road");
  ck_assert_str_eq(cs->class_names[18], "bicycle");
  ck_assert_ptr_null(nala_seg_dataset_find("ADE20K"));
  ck_assert_ptr_null(nala_seg_dataset_find(NULL));
  uint8_t raw[6] = {0, 1, 150, 255, 2, 77};
  nala_seg_reduce_zero_label(raw, 3, 2, 2); /* stride 3: raw[2] and raw[5] are padding */
  const uint8_t reduced[6] = {255, 0, 150, 255, 1, 77};
  ck_assert_mem_eq(raw, reduced, 6);
  /* labels.py: id -> trainId; 255 for ignoreInEval ids, 255 (id -1) stays, unknown ids pass. */
  static const int train_of_id[34] = {255, 255, 255, 255, 255, 255, 255, 0,   1,   255, 255, 2,  3,  4,  255, 255, 255,
                                      5,   255, 6,   7,   8,   9,   10,  11,  12,  13,  14,  15, 255, 255, 16, 17,  18};
  for (int id = 0; id < 34; id++)
    ck_assert_int_eq(nala_seg_cityscapes_train_id((uint8_t)id), train_of_id[id]);
  ck_assert_int_eq(nala_seg_cityscapes_train_id(255), 255);
  ck_assert_int_eq(nala_seg_cityscapes_train_id(40), 40);
  uint8_t ids[4] = {26, 33, 7, 0};
  nala_seg_cityscapes_ids_to_train_ids(ids, 2, 2, 2);
  const uint8_t train[4] = {13, 18, 0, 255};
  ck_assert_mem_eq(ids, train, 4);
}
END_TEST

/* lowbias32; tools/fixtures/make_seg_fixtures.py big_image() has the same generator. */
static uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

static void big_image(int k, uint8_t *pred, uint8_t *label) {
  static const uint8_t tail_label[4] = {4, 255, 7, 4};
  for (uint32_t i = 0; i < (uint32_t)BIG_H * BIG_W; i++) {
    uint32_t h = mix32((uint32_t)k * 0x9E3779B9u + i), r = h & 15, q = (h >> 8) & 15;
    uint8_t l = r < 12 ? 0 : r == 12 ? 1 : r == 13 ? 2 : r == 14 ? 3 : tail_label[(h >> 4) & 3];
    uint8_t kept = l < BIG_CLASSES ? l : (uint8_t)((h >> 12) & 3);
    label[i] = l;
    pred[i] = q < 14 ? kept : q < 15 ? (uint8_t)((h >> 16) % 5) : ((h >> 20) & 1) ? 250 : 5;
  }
}

static void feed_big(nala_seg_metrics *m) {
  uint8_t *pred = malloc((size_t)BIG_H * BIG_W), *label = malloc((size_t)BIG_H * BIG_W);
  ck_assert(pred && label);
  nala_err err;
  for (int k = 0; k < BIG_IMAGES; k++) {
    big_image(k, pred, label);
    ck_assert_int_eq(nala_seg_metrics_add(m, pred, BIG_W, label, BIG_W, BIG_H, BIG_W, NULL, &err), NALA_OK);
  }
  free(pred);
  free(label);
}

START_TEST(big_dataset_matches_mmseg_float32_bit_for_bit) {
  nala_seg_metrics *m = make_metrics(BIG_CLASSES, 255);
  feed_big(m);
  nala_seg_result *r = result_of(m);
  ck_assert_uint_eq(r->totals.ignored, big_ignored);
  ck_assert_uint_eq(r->totals.label_out_of_range, big_label_oor);
  ck_assert_uint_eq(r->totals.pred_out_of_range, big_pred_oor);
  float iou_f[BIG_CLASSES], acc_f[BIG_CLASSES], iou_exact_f[BIG_CLASSES], want_exact_f[BIG_CLASSES];
  for (int c = 0; c < BIG_CLASSES; c++) {
    ck_assert_uint_eq(r->cls[c].intersect, big_intersect[c]);
    ck_assert_uint_eq(r->cls[c].union_area, big_union[c]);
    ck_assert_uint_eq(r->cls[c].pred_area, big_pred_area[c]);
    ck_assert_uint_eq(r->cls[c].label_area, big_label_area[c]);
    ck_assert_msg(r->cls[c].iou == big_iou_exact[c] && r->cls[c].acc == big_acc_exact[c], "exact class %d", c);
    iou_f[c] = r->cls[c].iou_mmseg;
    acc_f[c] = r->cls[c].acc_mmseg;
    iou_exact_f[c] = (float)r->cls[c].iou;
    want_exact_f[c] = (float)big_iou_exact[c];
    ck_assert_msg(nala_seg_round_pct_f32(r->cls[c].iou_mmseg) == big_iou_pct_mmseg[c], "IoU%% class %d", c);
    ck_assert_msg(nala_seg_round_pct_f32(r->cls[c].acc_mmseg) == big_acc_pct_mmseg[c], "Acc%% class %d", c);
  }
  nala_cmp iou_cmp = nala_compare_f32("mmseg float32 IoU", iou_f, big_iou_mmseg, BIG_CLASSES, 0, 0);
  nala_cmp acc_cmp = nala_compare_f32("mmseg float32 Acc", acc_f, big_acc_mmseg, BIG_CLASSES, 0, 0);
  nala_compare_f32("exact IoU (as float)", iou_exact_f, want_exact_f, BIG_CLASSES, 0, 0);
  ck_assert(iou_cmp.max_abs == 0.0 && acc_cmp.max_abs == 0.0);
  /* The float32 sums really rounded: class 0's Acc differs from the exact ratio rounded once. */
  ck_assert((float)r->cls[0].acc != r->cls[0].acc_mmseg);
  ck_assert(r->aacc == big_aacc_exact && r->miou == big_miou_exact && r->macc == big_macc_exact);
  ck_assert_msg(r->miou_mmseg == big_miou_mmseg && r->macc_mmseg == big_macc_mmseg, "mIoU %a mAcc %a",
                (double)r->miou_mmseg, (double)r->macc_mmseg);
  ck_assert_msg(r->aacc_mmseg == big_aacc_mmseg, "aAcc %a want %a", (double)r->aacc_mmseg, (double)big_aacc_mmseg);
  ck_assert(nala_seg_round_pct(r->aacc_mmseg) == big_aacc_pct_mmseg);
  ck_assert(nala_seg_round_pct(r->miou_mmseg) == big_miou_pct_mmseg);
  ck_assert(nala_seg_round_pct(r->macc_mmseg) == big_macc_pct_mmseg);
  printf("big: mIoU mmseg %.2f exact %.2f, aAcc mmseg %.2f\n", nala_seg_round_pct(r->miou_mmseg),
         nala_seg_round_pct(r->miou), nala_seg_round_pct(r->aacc_mmseg));
  free(r);
  nala_seg_metrics_free(m);
}
END_TEST

/* Shard merges: images replayed from their confusion counts (nala_seg_metrics_image_confusion ->
 * nala_seg_metrics_add_confusion) in dataset order give the result of the pixel run bit for bit,
 * float32 sums past 2^24 included, hence mmseg's numbers. */
START_TEST(replayed_confusions_give_the_same_result_bit_for_bit) {
  nala_seg_metrics *m = make_metrics(BIG_CLASSES, 255), *replay = make_metrics(BIG_CLASSES, 255);
  uint8_t *pred = malloc((size_t)BIG_H * BIG_W), *label = malloc((size_t)BIG_H * BIG_W);
  int side = 0;
  ck_assert(pred && label);
  ck_assert_ptr_nonnull(nala_seg_metrics_image_confusion(m, &side));
  ck_assert_int_eq(side, BIG_CLASSES + 1);
  nala_err err;
  for (int k = 0; k < BIG_IMAGES; k++) {
    big_image(k, pred, label);
    nala_seg_image_counts counts;
    ck_assert_int_eq(nala_seg_metrics_add(m, pred, BIG_W, label, BIG_W, BIG_H, BIG_W, &counts, &err), NALA_OK);
    const uint64_t *conf = nala_seg_metrics_image_confusion(m, &side);
    uint64_t pixels = 0;
    for (int i = 0; i < side * side; i++)
      pixels += conf[i];
    ck_assert_uint_eq(pixels, counts.pixels - counts.ignored); /* this image only */
    ck_assert_int_eq(nala_seg_metrics_add_confusion(replay, conf, side, &counts, &err), NALA_OK);
  }
  nala_seg_result *a = result_of(m), *b = result_of(replay);
  ck_assert(!memcmp(a, b, sizeof *a));
  ck_assert(b->miou_mmseg == big_miou_mmseg && b->aacc_mmseg == big_aacc_mmseg);
  printf("replayed %d images: results identical (mIoU mmseg %.2f)\n", BIG_IMAGES, nala_seg_round_pct(b->miou_mmseg));
  ck_assert_int_eq(nala_seg_metrics_add_confusion(replay, nala_seg_metrics_confusion(m, NULL), side - 1, NULL, &err),
                   NALA_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.msg, "side"));
  ck_assert_int_eq(nala_seg_metrics_add_confusion(replay, NULL, side, NULL, &err), NALA_E_ARG);
  free(a), free(b), free(pred), free(label);
  nala_seg_metrics_free(m);
  nala_seg_metrics_free(replay);
}
END_TEST

/* 150 classes (140..149 absent): aAcc's torch float32 sums and nanmean's pairwise sum over 150
 * values, with totals above 2^24. */
static void wide_image(int k, uint8_t *pred, uint8_t *label) {
  for (uint32_t i = 0; i < (uint32_t)BIG_H * BIG_W; i++) {
    uint32_t h = mix32((uint32_t)k * 0x85EBCA6Bu + i), l = h % 151, guess = (h >> 16) % 142;
    if (l >= 140)
      l = 255;
    if (guess >= 140)
      guess += 10;
    label[i] = (uint8_t)l;
    pred[i] = (uint8_t)(((h >> 8) & 15) < 15 && l != 255 ? l : guess);
  }
}

START_TEST(wide_dataset_matches_mmseg_summary_bit_for_bit) {
  nala_seg_metrics *m = make_metrics(WIDE_CLASSES, 255);
  uint8_t *pred = malloc((size_t)BIG_H * BIG_W), *label = malloc((size_t)BIG_H * BIG_W);
  ck_assert(pred && label);
  nala_err err;
  for (int k = 0; k < WIDE_IMAGES; k++) {
    wide_image(k, pred, label);
    ck_assert_int_eq(nala_seg_metrics_add(m, pred, BIG_W, label, BIG_W, BIG_H, BIG_W, NULL, &err), NALA_OK);
  }
  free(pred);
  free(label);
  nala_seg_result *r = result_of(m);
  uint64_t intersect_sum = 0, label_sum = 0;
  float iou_f[WIDE_CLASSES];
  for (int c = 0; c < WIDE_CLASSES; c++) {
    intersect_sum += r->cls[c].intersect;
    label_sum += r->cls[c].label_area;
    iou_f[c] = r->cls[c].iou_mmseg;
  }
  ck_assert_uint_eq(intersect_sum, wide_intersect_sum);
  ck_assert_uint_eq(label_sum, wide_label_sum);
  /* Classes 140..149 are NaN on both sides (checked below), so the figures cover 0..139. */
  nala_cmp cmp = nala_compare_f32("wide mmseg float32 IoU", iou_f, wide_iou_mmseg, 140, 0, 0);
  ck_assert(cmp.max_abs == 0.0 && cmp.n_nonfinite == 0);
  for (int c = 140; c < 150; c++)
    ck_assert(isnan(r->cls[c].iou_mmseg) && isnan(wide_iou_mmseg[c]));
  ck_assert_msg(r->aacc_mmseg == wide_aacc_mmseg, "aAcc %a want %a", (double)r->aacc_mmseg, (double)wide_aacc_mmseg);
  ck_assert_msg(r->miou_mmseg == wide_miou_mmseg, "mIoU %a want %a", (double)r->miou_mmseg, (double)wide_miou_mmseg);
  ck_assert_msg(r->macc_mmseg == wide_macc_mmseg, "mAcc %a want %a", (double)r->macc_mmseg, (double)wide_macc_mmseg);
  ck_assert(nala_seg_round_pct(r->aacc_mmseg) == wide_aacc_pct_mmseg);
  ck_assert(nala_seg_round_pct(r->miou_mmseg) == wide_miou_pct_mmseg);
  ck_assert(nala_seg_round_pct(r->macc_mmseg) == wide_macc_pct_mmseg);
  printf("wide: aAcc mmseg %.2f (float32 %a, exact %.9f)\n", nala_seg_round_pct(r->aacc_mmseg), (double)r->aacc_mmseg,
         r->aacc);
  free(r);
  nala_seg_metrics_free(m);
}
END_TEST

/* Two accumulators in two threads share nothing. */
static void *thread_feed(void *arg) {
  const uint8_t *pattern = arg;
  nala_seg_metrics *m = NULL;
  nala_err err;
  if (nala_seg_metrics_create(4, 255, &m, &err) != NALA_OK)
    return NULL;
  for (int k = 0; k < 2000; k++)
    nala_seg_metrics_add(m, pattern, 8, pattern + 64, 8, 8, 8, NULL, &err);
  return m;
}

START_TEST(two_threads_two_accumulators) {
  uint8_t pattern[128];
  for (int i = 0; i < 64; i++) {
    pattern[i] = (uint8_t)(mix32((uint32_t)i) % 5);           /* pred: 4 is out of range */
    pattern[64 + i] = (uint8_t)(mix32((uint32_t)i + 99) % 4); /* label */
  }
  pthread_t threads[2];
  for (int t = 0; t < 2; t++)
    ck_assert_int_eq(pthread_create(&threads[t], NULL, thread_feed, pattern), 0);
  nala_seg_metrics *m[2];
  for (int t = 0; t < 2; t++) {
    void *out = NULL;
    ck_assert_int_eq(pthread_join(threads[t], &out), 0);
    m[t] = out;
    ck_assert_ptr_nonnull(m[t]);
  }
  int side;
  const uint64_t *a = nala_seg_metrics_confusion(m[0], &side), *b = nala_seg_metrics_confusion(m[1], &side);
  ck_assert_mem_eq(a, b, (size_t)side * side * sizeof *a);
  uint64_t sum = 0;
  for (int i = 0; i < side * side; i++)
    sum += a[i];
  ck_assert_uint_eq(sum, 2000u * 64u);
  nala_seg_metrics_free(m[0]);
  nala_seg_metrics_free(m[1]);
}
END_TEST

int main(void) {
  Suite *s = suite_create("seg_metrics");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, hand_computed_two_images_with_row_padding);
  tcase_add_test(tc, out_of_range_values_follow_mmseg_and_are_counted);
  tcase_add_test(tc, bad_arguments_fail_with_messages);
  tcase_add_test(tc, dataset_tables_match_mmseg_and_cityscapes_scripts);
  tcase_add_test(tc, big_dataset_matches_mmseg_float32_bit_for_bit);
  tcase_add_test(tc, replayed_confusions_give_the_same_result_bit_for_bit);
  tcase_add_test(tc, wide_dataset_matches_mmseg_summary_bit_for_bit);
  tcase_add_test(tc, two_threads_two_accumulators);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
