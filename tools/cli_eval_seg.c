/* nala eval seg: mmseg-style mIoU of prediction PNGs against ADE20K / Cityscapes ground truth. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nala/image_io.h"
#include "nala/seg_classes.h"
#include "nala/seg_metrics.h"
#include "tools/cli.h"
#include "tools/eval_seg_files.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: nala eval seg --dataset ade20k|cityscapes --pred DIR --gt DIR [--pred-offset N]\n"
          "                     [--pred-label-ids] [--exact] [--no-progress]\n"
          "Semantic-segmentation metrics as mmseg's IoUMetric reports them (aAcc, mIoU, mAcc, per-class IoU/Acc).\n"
          "  --gt DIR          ade20k: every *.png directly in DIR (annotations/validation), raw labels\n"
          "                    0..150, reduce_zero_label applied (0 -> 255 ignored, v -> v-1).\n"
          "                    cityscapes: DIR and its city subfolders (gtFine/val); per image\n"
          "                    <stem>_gtFine_labelTrainIds.png, else <stem>_gtFine_labelIds.png converted\n"
          "                    with cityscapesScripts' id -> trainId table. Other PNGs (_color...) are skipped.\n"
          "  --pred DIR        single-channel 8-bit PNGs of 0-based class indices (as mmseg predicts them).\n"
          "                    The prediction of <dir>/<stem> is the first that exists of\n"
          "                    PRED/<dir>/<stem>.png, then (cityscapes) PRED/<dir>/<stem>_leftImg8bit.png,\n"
          "                    then the same two without <dir>.\n"
          "  --pred-offset N   subtract N from every prediction first: mmseg's IoUMetric(output_dir=...)\n"
          "                    saves ADE20K predictions +1, so evaluate those with --pred-offset 1\n"
          "  --pred-label-ids  (cityscapes) predictions hold label ids (the benchmark's submission format):\n"
          "                    map them to train ids with the ground truth's table\n"
          "  --exact           print exact 64-bit-count numbers instead of mmseg's float32 ones (they can\n"
          "                    differ in the last digit once a class totals more than 2^24 pixels)\n"
          "  --no-progress     no progress bar (it is only drawn when stderr is a terminal)\n"
          "Images are evaluated in sorted key order (mmseg's order). Ignore index 255. A missing, unreadable\n"
          "or differently sized prediction leaves its image out; label or prediction values outside\n"
          "[0, classes) other than 255 are counted the way mmseg counts them (include/nala/seg_metrics.h).\n"
          "Every such problem is listed per file on stderr. Tables print IoU/Acc x100 rounded like\n"
          "np.round(.., 2) with two decimals (mmseg's table prints the same numbers without trailing zeros).\n"
          "Exit status: 0 all files clean, 1 when any file had a problem (tables still printed) or on\n"
          "errors, 2 on bad arguments.\n");
}

typedef struct pred_options {
  int offset;    /* subtracted from every prediction value (mod 256) */
  int label_ids; /* Cityscapes predictions in label ids */
} pred_options;

typedef struct problems {
  size_t missing, size_mismatch, unreadable, files_bad_label, files_bad_pred;
  uint64_t pixels_bad_label, pixels_bad_pred;
} problems;

static void report(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(const char *key, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "nala eval seg: %s: ", key);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static void progress(size_t done, size_t total, int enabled) {
  if (!enabled)
    return;
  if (done != total && total > 100 && done % (total / 100) != 0)
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
static int evaluate_one(const nala_seg_dataset *ds, const seg_gt_file *gt, const char *pred_dir,
                        const pred_options *opt, nala_seg_metrics *m, problems *seen) {
  char pred_path[4096];
  if (!seg_find_prediction(pred_dir, gt->key, !ds->reduce_zero_label, pred_path, sizeof pred_path)) {
    seen->missing++;
    report(gt->key, "missing prediction (looked for %s%s)", pred_path,
           ds->reduce_zero_label ? "" : " and the other names listed in --help");
    return 0;
  }
  nala_err err;
  nala_image label = {0}, pred = {0};
  int evaluated = 0;
  if (nala_image_read_labels(gt->path, &label, &err) != NALA_OK) {
    seen->unreadable++;
    report(gt->key, "unreadable ground truth: %s", err.msg);
  } else if (nala_image_read_labels(pred_path, &pred, &err) != NALA_OK) {
    seen->unreadable++;
    report(gt->key, "unreadable prediction: %s", err.msg);
  } else if (pred.h != label.h || pred.w != label.w) {
    seen->size_mismatch++;
    report(gt->key, "size mismatch: prediction %s is %dx%d (HxW), ground truth %s is %dx%d; not evaluated", pred_path,
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
      report(gt->key, "cannot evaluate: %s", err.msg);
    } else {
      evaluated = 1;
      if (counts.label_out_of_range) {
        seen->files_bad_label++;
        seen->pixels_bad_label += counts.label_out_of_range;
        report(gt->key, "%llu ground-truth pixel(s) outside [0, %d) and not 255 (first value %d%s) in %s",
               (unsigned long long)counts.label_out_of_range, ds->num_classes, counts.first_bad_label,
               ds->reduce_zero_label ? " after reduce_zero_label" : gt->label_ids ? ", an unknown label id" : "",
               gt->path);
      }
      if (counts.pred_out_of_range) {
        seen->files_bad_pred++;
        seen->pixels_bad_pred += counts.pred_out_of_range;
        report(gt->key, "%llu prediction pixel(s) outside [0, %d) (first value %d) in %s",
               (unsigned long long)counts.pred_out_of_range, ds->num_classes, counts.first_bad_pred, pred_path);
      }
    }
  }
  nala_image_free(&label);
  nala_image_free(&pred);
  return evaluated;
}

/* PrettyTable's centring (mmseg prints its tables with PrettyTable): odd excess goes right for
 * odd-length text, left otherwise; one space of padding each side. */
static void print_cell(const char *text, int width) {
  int len = (int)strlen(text), excess = width - len, left = excess / 2, right = excess / 2;
  if (excess % 2) {
    if (len % 2)
      right++;
    else
      left++;
  }
  printf(" %*s%s%*s |", left, "", text, right, "");
}

static void print_rule(const int *widths, int ncols) {
  putchar('+');
  for (int c = 0; c < ncols; c++) {
    for (int i = 0; i < widths[c] + 2; i++)
      putchar('-');
    putchar('+');
  }
  putchar('\n');
}

static void print_table(const char *const *header, const char *const *cells, int nrows, int ncols) {
  int widths[8] = {0};
  for (int c = 0; c < ncols; c++) {
    widths[c] = (int)strlen(header[c]);
    for (int r = 0; r < nrows; r++)
      if ((int)strlen(cells[r * ncols + c]) > widths[c])
        widths[c] = (int)strlen(cells[r * ncols + c]);
  }
  print_rule(widths, ncols);
  putchar('|');
  for (int c = 0; c < ncols; c++)
    print_cell(header[c], widths[c]);
  putchar('\n');
  print_rule(widths, ncols);
  for (int r = 0; r < nrows; r++) {
    putchar('|');
    for (int c = 0; c < ncols; c++)
      print_cell(cells[r * ncols + c], widths[c]);
    putchar('\n');
  }
  print_rule(widths, ncols);
}

static void pct_text(char *buf, double pct) {
  if (pct != pct)
    strcpy(buf, "nan");
  else
    snprintf(buf, 16, "%.2f", pct);
}

/* Formats an mmseg-rounded and an exact-rounded percentage; returns 1 when they print differently. */
static int format_pair(char *shown, double mmseg_pct, double exact_pct, int exact) {
  char mmseg_text[16], exact_text[16];
  pct_text(mmseg_text, mmseg_pct);
  pct_text(exact_text, exact_pct);
  strcpy(shown, exact ? exact_text : mmseg_text);
  return strcmp(mmseg_text, exact_text) != 0;
}

/* Prints the per-class and summary tables; returns 1 when exact and mmseg numbers print differently. */
static int print_results(const nala_seg_dataset *ds, const nala_seg_result *r, int exact) {
  char(*numbers)[16] = calloc((size_t)ds->num_classes * 2 + 3, sizeof *numbers);
  const char **cells = calloc((size_t)ds->num_classes * 3, sizeof *cells);
  if (!numbers || !cells) {
    free(numbers);
    free(cells);
    fprintf(stderr, "nala eval seg: out of memory printing results\n");
    return 0;
  }
  int disagree = 0;
  for (int c = 0; c < ds->num_classes; c++) {
    const nala_seg_class_result *k = &r->cls[c];
    disagree |= format_pair(numbers[2 * c], nala_seg_round_pct_f32(k->iou_mmseg), nala_seg_round_pct(k->iou), exact);
    disagree |= format_pair(numbers[2 * c + 1], nala_seg_round_pct_f32(k->acc_mmseg), nala_seg_round_pct(k->acc), exact);
    cells[3 * c] = ds->class_names[c];
    cells[3 * c + 1] = numbers[2 * c];
    cells[3 * c + 2] = numbers[2 * c + 1];
  }
  static const char *const class_header[3] = {"Class", "IoU", "Acc"};
  printf("per class results:\n");
  print_table(class_header, cells, ds->num_classes, 3);
  char(*summary)[16] = numbers + 2 * ds->num_classes;
  const float mmseg[3] = {r->aacc_mmseg, r->miou_mmseg, r->macc_mmseg};
  const double exact_value[3] = {r->aacc, r->miou, r->macc};
  const char *summary_cells[3];
  for (int i = 0; i < 3; i++) {
    disagree |= format_pair(summary[i], nala_seg_round_pct(mmseg[i]), nala_seg_round_pct(exact_value[i]), exact);
    summary_cells[i] = summary[i];
  }
  static const char *const summary_header[3] = {"aAcc", "mIoU", "mAcc"};
  printf("Summary:\n");
  print_table(summary_header, summary_cells, 1, 3);
  free(numbers);
  free(cells);
  return disagree;
}

int nala_cli_eval_seg(int argc, char **argv) {
  const char *dataset = NULL, *pred_dir = NULL, *gt_dir = NULL;
  int exact = 0, show_progress = 1;
  pred_options opt = {0, 0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return NALA_EXIT_OK;
    } else if (!strcmp(a, "--exact")) {
      exact = 1;
    } else if (!strcmp(a, "--no-progress")) {
      show_progress = 0;
    } else if (!strcmp(a, "--pred-label-ids")) {
      opt.label_ids = 1;
    } else if (!strcmp(a, "--pred-offset") && i + 1 < argc) {
      char *end;
      long offset = strtol(argv[++i], &end, 10);
      if (*argv[i] == '\0' || *end != '\0' || offset < 0 || offset > 255) {
        fprintf(stderr, "nala eval seg: --pred-offset '%s' is not an integer in [0, 255]\n", argv[i]);
        usage(stderr);
        return NALA_EXIT_USAGE;
      }
      opt.offset = (int)offset;
    } else if ((!strcmp(a, "--dataset") || !strcmp(a, "--pred") || !strcmp(a, "--gt")) && i + 1 < argc) {
      const char **slot = !strcmp(a, "--dataset") ? &dataset : !strcmp(a, "--pred") ? &pred_dir : &gt_dir;
      *slot = argv[++i];
    } else {
      fprintf(stderr, "nala eval seg: unknown or incomplete option '%s'\n", a);
      usage(stderr);
      return NALA_EXIT_USAGE;
    }
  }
  if (!dataset || !pred_dir || !gt_dir) {
    fprintf(stderr, "nala eval seg: --dataset, --pred and --gt are required\n");
    usage(stderr);
    return NALA_EXIT_USAGE;
  }
  const nala_seg_dataset *ds = nala_seg_dataset_find(dataset);
  if (!ds) {
    fprintf(stderr, "nala eval seg: unknown --dataset '%s' (expected ade20k or cityscapes)\n", dataset);
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
  seg_gt_list gts;
  if (seg_gt_list_build(gt_dir, !ds->reduce_zero_label, &gts, &err) != NALA_OK) {
    fprintf(stderr, "nala eval seg: --gt: %s\n", err.msg);
    return NALA_EXIT_RUNTIME;
  }
  if (gts.count == 0) {
    fprintf(stderr, "nala eval seg: no %s ground-truth PNGs found in %s\n", ds->name, gt_dir);
    seg_gt_list_free(&gts);
    return NALA_EXIT_RUNTIME;
  }
  nala_seg_metrics *m = NULL;
  if (nala_seg_metrics_create(ds->num_classes, ds->ignore_index, &m, &err) != NALA_OK) {
    fprintf(stderr, "nala eval seg: %s\n", err.msg);
    seg_gt_list_free(&gts);
    return NALA_EXIT_RUNTIME;
  }
  show_progress = show_progress && isatty(STDERR_FILENO);
  problems seen = {0};
  size_t evaluated = 0;
  for (size_t i = 0; i < gts.count; i++) {
    if (show_progress)
      fputs("\r\033[K", stderr); /* problems print on a clean line */
    evaluated += (size_t)evaluate_one(ds, &gts.files[i], pred_dir, &opt, m, &seen);
    progress(i + 1, gts.count, show_progress);
  }
  nala_seg_result *result = malloc(sizeof *result);
  int code = NALA_EXIT_RUNTIME;
  if (!result) {
    fprintf(stderr, "nala eval seg: out of memory\n");
  } else {
    nala_seg_metrics_result(m, result);
    int disagree = print_results(ds, result, exact);
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
    int any_problem = seen.missing || seen.size_mismatch || seen.unreadable || seen.files_bad_label ||
                      seen.files_bad_pred;
    if (evaluated == 0)
      fprintf(stderr, "nala eval seg: no image could be evaluated\n");
    else if (any_problem)
      fprintf(stderr, "nala eval seg: %zu problem(s), listed above\n",
              seen.missing + seen.size_mismatch + seen.unreadable + seen.files_bad_label + seen.files_bad_pred);
    code = evaluated && !any_problem ? NALA_EXIT_OK : NALA_EXIT_RUNTIME;
  }
  free(result);
  nala_seg_metrics_free(m);
  seg_gt_list_free(&gts);
  return code;
}
