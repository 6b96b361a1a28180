/* The shipped demo segmentation model (models/fpn_nalaformer-demo_synth.safetensors, trained by
 * tools/train/train_seg.py) on a small held-out generated split: `nala eval seg` must reach at least
 * 90% of the mIoU recorded in models/README.md for the same images, and must fall below that bar
 * when the model is fed swapped colour channels (so the alarm can ring). */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "nala/synth.h"
#include "tests/support/cli.h"
#include "tests/support/suite.h"

/* nala eval seg (PyTorch agrees to the digit) on the first SPLIT_N scenes of seed 2 at 128x128,
 * i.e. the first SPLIT_N images of the validation split of models/README.md. */
#define SPLIT_N 20
#define RECORDED_MIOU 83.04

static char root[256];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

/* Runs eval seg with extra arguments and returns the mIoU (x100) of its JSON report. */
static double eval_miou(const char *extra) {
  char cmd[2048], json[512];
  snprintf(json, sizeof json, "%s/report.json", root);
  snprintf(cmd, sizeof cmd,
           "eval seg --config '%s/configs/fpn_nalaformer-demo_synth.json' --weights "
           "'%s/models/fpn_nalaformer-demo_synth.safetensors' --data-root '%s' --json '%s' --no-progress %s",
           NALA_SOURCE_DIR, NALA_SOURCE_DIR, root, json, extra);
  char *err = NULL;
  int rc = nala_run_cli(cmd, NULL, &err);
  ck_assert_msg(rc == 0, "nala %s: exit %d: %s", cmd, rc, err ? err : "");
  free(err);
  char *text = nala_read_text(json);
  ck_assert_ptr_nonnull(text);
  cJSON *j = cJSON_Parse(text);
  ck_assert_ptr_nonnull(j);
  cJSON *m = cJSON_GetObjectItem(j, "mIoU");
  ck_assert(cJSON_IsNumber(m));
  double v = m->valuedouble;
  cJSON_Delete(j);
  free(text);
  return v;
}

START_TEST(demo_seg_model_keeps_its_miou) {
  const char *tmp = getenv("TMPDIR");
  snprintf(root, sizeof root, "%s/nala_test_demo_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  ck_assert_ptr_nonnull(mkdtemp(root));
  nala_err err;
  ck_assert_msg(nala_synth_seg_write(root, "validation", SPLIT_N, 128, 128, 2, &err) == NALA_OK, "%s", err.msg);
  double miou = eval_miou("");
  double swapped = eval_miou("--cfg-options model.data_preprocessor.bgr_to_rgb=false");
  printf("demo seg model on %d held-out scenes: mIoU %.2f (recorded %.2f, bar %.2f); with swapped channels %.2f\n",
         SPLIT_N, miou, RECORDED_MIOU, 0.9 * RECORDED_MIOU, swapped);
  fflush(stdout);
  ck_assert_msg(miou >= 0.9 * RECORDED_MIOU, "mIoU %.2f below 90%% of the recorded %.2f", miou, RECORDED_MIOU);
  ck_assert_msg(swapped < 0.9 * RECORDED_MIOU, "swapped channels still reach %.2f: the bar cannot catch a broken input path",
                swapped);
  ck_assert_int_eq(nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("demo_models");
  TCase *tc = tcase_create("demo_models");
  tcase_set_timeout(tc, 240);
  tcase_add_test(tc, demo_seg_model_keeps_its_miou);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
