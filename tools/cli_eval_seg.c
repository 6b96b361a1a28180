/* nala eval seg: mmseg-style mIoU of prediction PNGs against ADE20K / Cityscapes ground truth. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nala/image_io.h"
#include "nala/seg_classes.h"
#include "nala/seg_label_maps.h"
#include "nala/seg_metrics.h"
#include "nala/seg_report.h"
#include "nala/synth.h"
#include "tools/cli.h"
#include "tools/cli_args.h"
#include "tools/cli_eval_seg_model.h"
#include "tools/eval_seg_predictions.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: nala eval seg --dataset ade20k|cityscapes|synth --pred DIR --gt DIR [--pred-offset N]\n"
          "                     [--pred-label-ids] [--exact] [--json FILE.json] [--no-progress]\n"
          "Semantic-segmentation metrics as mmseg's IoUMetric reports them (aAcc, mIoU, mAcc, per-class IoU/Acc).\n"
          "  --gt DIR          ade20k: every *.png directly in DIR (annotations/validation), raw labels\n"
          "                    0..150, reduce_zero_label applied (0 -> 255 ignored, v -> v-1).\n"
          "                    cityscapes: DIR and its city subfolders (gtFine/val); per image\n"
          "                    <stem>_gtFine_labelTrainIds.png, else <stem>_gtFine_labelIds.png converted\n"
          "                    with cityscapesScripts' id -> trainId table. Other PNGs (_color...) are skipped.\n"
          "                    synth: the street classes of `nala synth seg|video` (sky, building, ...), laid\n"
          "                    out and read like ade20k (labels 1..N, reduce_zero_label), e.g. the --labels\n"
          "                    folder of `nala synth video` scored against `nala seg --labels-dir`.\n"
          "  --pred DIR        PNGs of 0-based class indices (as mmseg predicts them).\n"
          "                    The prediction of <dir>/<stem> is the first that exists of\n"
          "                    PRED/<dir>/<stem>.png, then (cityscapes) PRED/<dir>/<stem>_leftImg8bit.png,\n"
          "                    then the same two without <dir>.\n"
          "  --pred-offset N   subtract N from every prediction first: mmseg's IoUMetric(output_dir=...)\n"
          "                    saves ADE20K predictions +1, so evaluate those with --pred-offset 1\n"
          "  --pred-label-ids  (cityscapes) predictions hold label ids (the benchmark's submission format):\n"
          "                    map them to train ids with the ground truth's table\n"
          "  --exact           print exact 64-bit-count numbers instead of mmseg's float32 ones (they can\n"
          "                    differ in the last digit once a class totals more than 2^24 pixels)\n"
          "  --json FILE.json  also write the report as JSON, atomically (--out is the same flag):\n"
          "                    {\"dataset\", \"images\", \"aAcc\", \"mIoU\", \"mAcc\" (x100 as printed),\n"
          "                    \"classes\": [{\"name\", \"IoU\", \"Acc\" (x100; null where mmseg has nan: IoU of a\n"
          "                    class with no label or predicted pixel, Acc of one with no label pixel),\n"
          "                    \"intersect\", \"union\", \"pred_area\", \"label_area\"}],\n"
          "                    \"exact\": {aAcc, mIoU, mAcc as fractions from 64-bit counts},\n"
          "                    \"pixels\": {\"total\", \"ignored\", \"label_out_of_range\", \"pred_out_of_range\"}}\n"
          "  --no-progress     no progress bar (it is only drawn when stderr is a terminal)\n"
          "Label maps and predictions are read as mmseg reads them with PIL: 1/8-bit grey as stored (1-bit\n"
          "is 0/1), palette PNGs as indices, 16-bit grey when all values are < 256; 2/4-bit grey (PIL rescales\n"
          "them), larger 16-bit values, grey+alpha and RGB(A) files are unreadable, with the reason.\n"
          "Images are evaluated in sorted key order (mmseg's order). Ignore index 255. A missing, unreadable\n"
          "or differently sized prediction leaves its image out; label or prediction values outside\n"
          "[0, classes) other than 255 are counted the way mmseg counts them (include/nala/seg_metrics.h).\n"
          "Every such problem is listed per file on stderr. Tables print IoU/Acc x100 rounded like\n"
          "np.round(.., 2) and written as mmseg's PrettyTable tables write them (\"60.0\", \"72.73\").\n"
          "Exit status: 0 all files clean, 1 when any file had a problem (tables still printed) or on\n"
          "errors, 2 on bad arguments.\n"
          "To run a model over a dataset instead: nala eval seg --config C --weights W ... (see\n"
          "`nala eval seg --config x --help`).\n");
}

typedef struct pred_options {
  int offset;    /* subtracted from every prediction value (mod 256) */
  int label_ids; /* Cityscapes predictions in label ids */
} pred_options;

typedef struct problems {
  size_t missing, size_mismatch, unreadable, files_bad_label, files_bad_pred;
  uint64_t pixels_bad_label, pixels_bad_pred;
  int progress_shown; /* a progress bar is on stderr's current line: clear it before reporting */
} problems;

static size_t problem_count(const problems *p) {
  return p->missing + p->size_mismatch + p->unreadable + p->files_bad_label + p->files_bad_pred;
}

static void report(problems *seen, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void report(problems *seen, const char *key, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%snala eval seg: %s: ", seen->progress_shown ? "\r\033[K" : "", key);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* Redraws the bar every 1% of the images, and right after a problem line scrolled it away. */
static void progress(size_t done, size_t total, int enabled, int force) {
  if (!enabled)
    return;
  if (!force && done != total && total > 100 && done % (total / 100) != 0)
    return;
  const int width = 40;
  int filled = total ? (int)((double)done / (double)total * width) : width;
  fprintf(stderr, "\r[%.*s%*s] %zu/%zu", filled, "========================================", width - filled, "", done,
          total);
  if (done == total)
    fputs("\r\033[K", stderr);
  fflush(stderr);
}

/* Reads, converts and adds one image; returns 0 when the image was left out (problem reported). */
static int evaluate_one(const nala_seg_dataset *ds, const nala_seg_label_map *gt, const char *pred_dir,
                        const pred_options *opt, nala_seg_metrics *m, problems *seen) {
  char pred_path[4096];
  if (!seg_find_prediction(pred_dir, gt->key, !ds->reduce_zero_label, pred_path, sizeof pred_path)) {
    seen->missing++;
    report(seen, gt->key, "missing prediction (looked for %s%s)", pred_path,
           ds->reduce_zero_label ? "" : " and the other names listed in --help");
    return 0;
  }
  nala_err err;
  nala_image label = {0}, pred = {0};
  int evaluated = 0;
  if (nala_image_read_labels(gt->path, &label, &err) != NALA_OK) {
    seen->unreadable++;
    report(seen, gt->key, "unreadable ground truth: %s", err.msg);
  } else if (nala_image_read_labels(pred_path, &pred, &err) != NALA_OK) {
    seen->unreadable++;
    report(seen, gt->key, "unreadable prediction: %s", err.msg);
  } else if (pred.h != label.h || pred.w != label.w) {
    seen->size_mismatch++;
    report(seen, gt->key, "size mismatch: prediction %s is %dx%d (HxW), ground truth %s is %dx%d; not evaluated", pred_path,
           pred.h, pred.w, gt->path, label.h, label.w);
  } else {
    if (ds->reduce_zero_label)
      nala_seg_reduce_zero_label(label.data, label.stride, label.h, label.w);
    if (gt->label_ids)
      nala_seg_cityscapes_ids_to_train_ids(label.data, label.stride, label.h, label.w);
    if (opt->offset)
      for (int y = 0; y < pred.h; y++)
        for (int x = 0; x < pred.w; x++)
          pred.data[(size_t)y * pred.stride + x] = (uint8_t)(pred.data[(size_t)y * pred.stride + x] - opt->offset);
    if (opt->label_ids)
      nala_seg_cityscapes_ids_to_train_ids(pred.data, pred.stride, pred.h, pred.w);
    nala_seg_image_counts counts;
    if (nala_seg_metrics_add(m, pred.data, pred.stride, label.data, label.stride, label.h, label.w, &counts, &err) !=
        NALA_OK) {
      seen->unreadable++;
      report(seen, gt->key, "cannot evaluate: %s", err.msg);
    } else {
      evaluated = 1;
      if (counts.label_out_of_range) {
        seen->files_bad_label++;
        seen->pixels_bad_label += counts.label_out_of_range;
        report(seen, gt->key, "%llu ground-truth pixel(s) outside [0, %d) and not 255 (first value %d%s) in %s",
               (unsigned long long)counts.label_out_of_range, ds->num_classes, counts.first_bad_label,
               ds->reduce_zero_label ? " after reduce_zero_label" : gt->label_ids ? ", an unknown label id" : "",
               gt->path);
      }
      if (counts.pred_out_of_range) {
        seen->files_bad_pred++;
        seen->pixels_bad_pred += counts.pred_out_of_range;
        report(seen, gt->key, "%llu prediction pixel(s) outside [0, %d) (first value %d) in %s",
               (unsigned long long)counts.pred_out_of_range, ds->num_classes, counts.first_bad_pred, pred_path);
      }
    }
  }
  nala_image_free(&label);
  nala_image_free(&pred);
  return evaluated;
}

int nala_cli_eval_seg(int argc, char **argv) {
  if (cli_eval_seg_is_model_mode(argc, argv))
    return cli_eval_seg_model(argc, argv);
  const char *dataset = NULL, *pred_dir = NULL, *gt_dir = NULL, *json_path = NULL;
  int exact = 0, show_progress = 1;
  pred_options opt = {0, 0};
  int no_progress = 0;
  const cli_option options[] = {{"--dataset", CLI_TEXT, &dataset, 0, 0, NULL},
                                {"--pred", CLI_TEXT, &pred_dir, 0, 0, NULL},
                                {"--gt", CLI_TEXT, &gt_dir, 0, 0, NULL},
                                {"--json", CLI_TEXT, &json_path, 0, 0, NULL},
                                {"--out", CLI_TEXT, &json_path, 0, 0, NULL}, /* its first name, kept */
                                {"--pred-offset", CLI_INT, &opt.offset, 0, 255, NULL},
                                {"--pred-label-ids", CLI_SWITCH, &opt.label_ids, 0, 0, NULL},
                                {"--exact", CLI_SWITCH, &exact, 0, 0, NULL},
                                {"--no-progress", CLI_SWITCH, &no_progress, 0, 0, NULL},
                                {0}};
  const cli_option *tables[] = {options, NULL};
  int parsed = cli_parse_options("nala eval seg", argc, argv, tables, usage);
  if (parsed >= 0)
    return parsed;
  show_progress = !no_progress;
  if (!dataset || !pred_dir || !gt_dir) {
    fprintf(stderr, "nala eval seg: --dataset, --pred and --gt are required\n");
    usage(stderr);
    return NALA_EXIT_USAGE;
  }
  /* The generator's street classes: an ADE20K-style table built here, where the tool has nala/synth.h. */
  const char *synth_names[256];
  int n_synth = nala_synth_seg_num_classes();
  for (int i = 0; i < n_synth && i < 256; i++)
    synth_names[i] = nala_synth_seg_class_name(i);
  const nala_seg_dataset synth = {"synth", n_synth, 255, 1, synth_names};
  const nala_seg_dataset *ds = !strcmp(dataset, "synth") ? &synth : nala_seg_dataset_find(dataset);
  if (!ds) {
    fprintf(stderr, "nala eval seg: unknown --dataset '%s' (expected ade20k, cityscapes or synth)\n", dataset);
    usage(stderr);
    return NALA_EXIT_USAGE;
  }
  if (opt.label_ids && strcmp(ds->name, "cityscapes") != 0) {
    fprintf(stderr, "nala eval seg: --pred-label-ids is for --dataset cityscapes\n");
    usage(stderr);
    return NALA_EXIT_USAGE;
  }
  struct stat pred_info;
  if (stat(pred_dir, &pred_info) != 0 || !S_ISDIR(pred_info.st_mode)) {
    fprintf(stderr, "nala eval seg: --pred %s: not a readable directory\n", pred_dir);
    return NALA_EXIT_RUNTIME;
  }
  nala_err err;
  nala_seg_label_maps gts;
  if (nala_seg_label_maps_list(gt_dir, ds->reduce_zero_label ? NALA_DATASET_ADE20K : NALA_DATASET_CITYSCAPES, &gts, &err) != NALA_OK) {
    fprintf(stderr, "nala eval seg: --gt: %s\n", err.msg);
    return NALA_EXIT_RUNTIME;
  }
  if (gts.count == 0) {
    fprintf(stderr, "nala eval seg: no %s ground-truth PNGs found in %s\n", ds->name, gt_dir);
    nala_seg_label_maps_free(&gts);
    return NALA_EXIT_RUNTIME;
  }
  nala_seg_metrics *m = NULL;
  if (nala_seg_metrics_create(ds->num_classes, ds->ignore_index, &m, &err) != NALA_OK) {
    fprintf(stderr, "nala eval seg: %s\n", err.msg);
    nala_seg_label_maps_free(&gts);
    return NALA_EXIT_RUNTIME;
  }
  show_progress = show_progress && isatty(STDERR_FILENO);
  problems seen = {0};
  size_t evaluated = 0;
  seen.progress_shown = show_progress;
  for (size_t i = 0; i < gts.count; i++) {
    size_t problems_before = problem_count(&seen);
    evaluated += (size_t)evaluate_one(ds, &gts.maps[i], pred_dir, &opt, m, &seen);
    progress(i + 1, gts.count, show_progress, problem_count(&seen) != problems_before);
  }
  nala_seg_result *result = malloc(sizeof *result);
  int code = NALA_EXIT_RUNTIME;
  if (!result) {
    fprintf(stderr, "nala eval seg: out of memory\n");
  } else {
    nala_seg_metrics_result(m, result);
    int disagree = nala_seg_print_tables(stdout, result, ds->class_names, exact);
    printf("%s: %zu ground-truth map(s), %zu evaluated; left out: %zu missing prediction(s), %zu size mismatch(es), "
           "%zu unreadable; out-of-range values: %llu label pixel(s) in %zu file(s), %llu prediction pixel(s) in %zu "
           "file(s)\n",
           ds->name, gts.count, evaluated, seen.missing, seen.size_mismatch, seen.unreadable,
           (unsigned long long)seen.pixels_bad_label, seen.files_bad_label, (unsigned long long)seen.pixels_bad_pred,
           seen.files_bad_pred);
    if (gts.skipped_pngs)
      printf("note: %zu PNG(s) under --gt are not *_gtFine_labelTrainIds/_labelIds maps and were skipped\n",
             gts.skipped_pngs);
    if (disagree)
      printf("note: %s; %s shows the last digit differently (float32 sums past 2^24 pixels)\n",
             exact ? "numbers from exact counts" : "numbers as mmseg computes them (float32)",
             exact ? "mmseg" : "--exact");
    int any_problem = problem_count(&seen) != 0;
    if (evaluated == 0)
      fprintf(stderr, "nala eval seg: no image could be evaluated\n");
    else if (any_problem)
      fprintf(stderr, "nala eval seg: %zu problem(s), listed above\n", problem_count(&seen));
    code = evaluated && !any_problem ? NALA_EXIT_OK : NALA_EXIT_RUNTIME;
    /* With nothing evaluated the report would be all nulls: exit 1 and leave --json unwritten, as every
     * other refused input does. */
    if (json_path && evaluated && nala_seg_write_json(json_path, ds->name, result, ds->class_names, &err) != NALA_OK) {
      fprintf(stderr, "nala eval seg: --json: %s\n", err.msg);
      code = NALA_EXIT_RUNTIME;
    }
  }
  free(result);
  nala_seg_metrics_free(m);
  nala_seg_label_maps_free(&gts);
  return code;
}
