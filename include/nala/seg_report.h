/* Reporting nala_seg_result the way mmseg does: its PrettyTable tables, and a JSON file for scripts. */
#ifndef NALA_SEG_REPORT_H
#define NALA_SEG_REPORT_H

#include <stdio.h>

#include "nala/seg_metrics.h"
#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Prints mmseg's "per class results:" (Class, IoU, Acc) and "Summary:" (aAcc, mIoU, mAcc) tables,
 * x100 rounded to two decimals and written as numpy's str() writes them ("60.0", "72.73"), so the
 * text matches mmseg's; mmseg's float32 numbers, or the exact ones when exact != 0. class_names
 * (num_classes entries) may be NULL to print indices. Returns 1 when the two sets print differently. */
int nala_seg_print_tables(FILE *out, const nala_seg_result *r, const char *const *class_names, int exact);

/* Writes r to path as JSON, atomically (temp file + rename): "aAcc", "mIoU", "mAcc" as mmseg's
 * rounded percentages, per-class "IoU"/"Acc" likewise plus exact counts, and an "exact" block of
 * unrounded fractions; NaN is written as null. dataset and class_names may be NULL. */
nala_status nala_seg_write_json(const char *path, const char *dataset, const nala_seg_result *r,
                                const char *const *class_names, nala_err *err);

#ifdef __cplusplus
}
#endif

#endif
