/* mmseg-style tables and a JSON record of segmentation results. */
#include "nala/seg_report.h"

#include "nala/atomic_write.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { PCT_TEXT = 32 }; /* room for any "%.17g" */

/* str() of an np.float32 / np.float64 percentage, which is what mmseg's tables show: the fewest
 * decimals that read back to the same value, at least one ("60.0", "72.73"), "nan" for NaN.
 * Percentages are in [0, 100], so numpy never switches to exponent notation here. */
static void repr_pct(char *buf, double pct, int is_float32) {
  if (isnan(pct)) {
    snprintf(buf, PCT_TEXT, "nan");
    return;
  }
  for (int decimals = 1; decimals <= 9; decimals++) {
    snprintf(buf, PCT_TEXT, "%.*f", decimals, pct);
    if (is_float32 ? strtof(buf, NULL) == (float)pct : strtod(buf, NULL) == pct)
      return;
  }
  snprintf(buf, PCT_TEXT, "%.17g", pct); /* not reached for values rounded to 2 decimals */
}

/* Writes the shown text; returns 1 when the mmseg and exact numbers print differently. */
static int format_pair(char *shown, double mmseg_pct, int mmseg_is_float32, double exact_pct, int exact) {
  char mmseg_text[PCT_TEXT], exact_text[PCT_TEXT];
  repr_pct(mmseg_text, mmseg_pct, mmseg_is_float32);
  repr_pct(exact_text, exact_pct, 0);
  memcpy(shown, exact ? exact_text : mmseg_text, PCT_TEXT);
  return strcmp(mmseg_text, exact_text) != 0;
}

/* PrettyTable's centring (mmseg prints its tables with PrettyTable): odd excess goes right for
 * odd-length text, left otherwise; one space of padding each side. */
static void print_cell(FILE *out, const char *text, int width) {
  int len = (int)strlen(text), excess = width - len, left = excess / 2, right = excess / 2;
  if (excess % 2) {
    if (len % 2)
      right++;
    else
      left++;
  }
  fprintf(out, " %*s%s%*s |", left, "", text, right, "");
}

static void print_rule(FILE *out, const int *widths, int ncols) {
  fputc('+', out);
  for (int c = 0; c < ncols; c++) {
    for (int i = 0; i < widths[c] + 2; i++)
      fputc('-', out);
    fputc('+', out);
  }
  fputc('\n', out);
}

static void print_row(FILE *out, const char *const *cells, const int *widths, int ncols) {
  fputc('|', out);
  for (int c = 0; c < ncols; c++)
    print_cell(out, cells[c], widths[c]);
  fputc('\n', out);
}

/* cells: nrows x 3, row-major. */
static void print_table(FILE *out, const char *const header[3], const char *const *cells, int nrows) {
  int widths[3];
  for (int c = 0; c < 3; c++) {
    widths[c] = (int)strlen(header[c]);
    for (int r = 0; r < nrows; r++)
      if ((int)strlen(cells[r * 3 + c]) > widths[c])
        widths[c] = (int)strlen(cells[r * 3 + c]);
  }
  print_rule(out, widths, 3);
  print_row(out, header, widths, 3);
  print_rule(out, widths, 3);
  for (int r = 0; r < nrows; r++)
    print_row(out, cells + r * 3, widths, 3);
  print_rule(out, widths, 3);
}

int nala_seg_print_tables(FILE *out, const nala_seg_result *r, const char *const *class_names, int exact) {
  char numbers[NALA_SEG_MAX_CLASSES * 3][PCT_TEXT];
  const char *cells[NALA_SEG_MAX_CLASSES * 3];
  int differs = 0;
  for (int c = 0; c < r->num_classes; c++) {
    const nala_seg_class_result *k = &r->cls[c];
    if (class_names)
      cells[3 * c] = class_names[c];
    else {
      snprintf(numbers[3 * c], PCT_TEXT, "%d", c);
      cells[3 * c] = numbers[3 * c];
    }
    /* mmseg rounds its per-class float32 arrays in float32, its summary scalars in double. */
    differs |= format_pair(numbers[3 * c + 1], nala_seg_round_pct_f32(k->iou_mmseg), 1, nala_seg_round_pct(k->iou), exact);
    differs |= format_pair(numbers[3 * c + 2], nala_seg_round_pct_f32(k->acc_mmseg), 1, nala_seg_round_pct(k->acc), exact);
    cells[3 * c + 1] = numbers[3 * c + 1];
    cells[3 * c + 2] = numbers[3 * c + 2];
  }
  static const char *const class_header[3] = {"Class", "IoU", "Acc"};
  fprintf(out, "per class results:\n");
  print_table(out, class_header, cells, r->num_classes);
  const float mmseg[3] = {r->aacc_mmseg, r->miou_mmseg, r->macc_mmseg};
  const double exact_value[3] = {r->aacc, r->miou, r->macc};
  char summary[3][PCT_TEXT];
  const char *summary_cells[3];
  for (int i = 0; i < 3; i++) {
    differs |= format_pair(summary[i], nala_seg_round_pct(mmseg[i]), 0, nala_seg_round_pct(exact_value[i]), exact);
    summary_cells[i] = summary[i];
  }
  static const char *const summary_header[3] = {"aAcc", "mIoU", "mAcc"};
  fprintf(out, "Summary:\n");
  print_table(out, summary_header, summary_cells, 1);
  return differs;
}

/* A percentage as its two-decimal value (72.73, not float32's 72.7300033...), or null for NaN. */
static cJSON *pct_json(double pct) {
  if (isnan(pct))
    return cJSON_CreateNull();
  char text[PCT_TEXT];
  snprintf(text, sizeof text, "%.2f", pct);
  return cJSON_CreateNumber(strtod(text, NULL));
}

static cJSON *fraction_json(double value) { return isnan(value) ? cJSON_CreateNull() : cJSON_CreateNumber(value); }

static cJSON *result_json(const char *dataset, const nala_seg_result *r, const char *const *class_names) {
  cJSON *root = cJSON_CreateObject();
  if (dataset)
    cJSON_AddStringToObject(root, "dataset", dataset);
  cJSON_AddNumberToObject(root, "images", (double)r->images);
  cJSON_AddItemToObject(root, "aAcc", pct_json(nala_seg_round_pct(r->aacc_mmseg)));
  cJSON_AddItemToObject(root, "mIoU", pct_json(nala_seg_round_pct(r->miou_mmseg)));
  cJSON_AddItemToObject(root, "mAcc", pct_json(nala_seg_round_pct(r->macc_mmseg)));
  cJSON *classes = cJSON_AddArrayToObject(root, "classes");
  for (int c = 0; c < r->num_classes; c++) {
    const nala_seg_class_result *k = &r->cls[c];
    cJSON *item = cJSON_CreateObject();
    if (class_names)
      cJSON_AddStringToObject(item, "name", class_names[c]);
    cJSON_AddItemToObject(item, "IoU", pct_json(nala_seg_round_pct_f32(k->iou_mmseg)));
    cJSON_AddItemToObject(item, "Acc", pct_json(nala_seg_round_pct_f32(k->acc_mmseg)));
    cJSON_AddNumberToObject(item, "intersect", (double)k->intersect);
    cJSON_AddNumberToObject(item, "union", (double)k->union_area);
    cJSON_AddNumberToObject(item, "pred_area", (double)k->pred_area);
    cJSON_AddNumberToObject(item, "label_area", (double)k->label_area);
    cJSON_AddItemToArray(classes, item);
  }
  cJSON *exact = cJSON_AddObjectToObject(root, "exact");
  cJSON_AddItemToObject(exact, "aAcc", fraction_json(r->aacc));
  cJSON_AddItemToObject(exact, "mIoU", fraction_json(r->miou));
  cJSON_AddItemToObject(exact, "mAcc", fraction_json(r->macc));
  cJSON *pixels = cJSON_AddObjectToObject(root, "pixels");
  cJSON_AddNumberToObject(pixels, "total", (double)r->totals.pixels);
  cJSON_AddNumberToObject(pixels, "ignored", (double)r->totals.ignored);
  cJSON_AddNumberToObject(pixels, "label_out_of_range", (double)r->totals.label_out_of_range);
  cJSON_AddNumberToObject(pixels, "pred_out_of_range", (double)r->totals.pred_out_of_range);
  return root;
}

nala_status nala_seg_write_json(const char *path, const char *dataset, const nala_seg_result *r,
                                const char *const *class_names, nala_err *err) {
  if (!path || !r)
    return nala_fail(err, NALA_E_ARG, "nala_seg_write_json: path or result is NULL");
  cJSON *root = result_json(dataset, r, class_names);
  char *text = root ? cJSON_Print(root) : NULL;
  cJSON_Delete(root);
  if (!text)
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory building the JSON", path);
  size_t n = strlen(text);
  char *line = realloc(text, n + 2);
  if (!line) {
    free(text);
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory building the JSON", path);
  }
  line[n] = '\n';
  line[n + 1] = '\0';
  nala_status st = nala_write_atomic(path, line, n + 1, err);
  free(line);
  return st;
}
