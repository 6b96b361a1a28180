/* Ground-truth listing and prediction matching for `nala eval seg` (tools/eval_seg_files.c). */
#ifndef NALA_TOOLS_EVAL_SEG_FILES_H
#define NALA_TOOLS_EVAL_SEG_FILES_H

#include <stddef.h>

#include "nala/status.h"

/* One ground-truth map. key = path under --gt without the annotation suffix ("ADE_val_00000001",
 * "frankfurt/frankfurt_000000_000294"); the order of the list is the sorted order of keys, which
 * is mmseg's dataset order (it sorts img_path, and image and annotation names share the key). */
typedef struct seg_gt_file {
  char *key;
  char *path;
  int label_ids; /* Cityscapes *_gtFine_labelIds.png: convert to train ids before evaluating */
} seg_gt_file;

typedef struct seg_gt_list {
  seg_gt_file *files;
  size_t count, cap;
  size_t skipped_pngs; /* Cityscapes PNGs that are not annotations (_color, _instanceIds, ...) */
} seg_gt_list;

/* Lists gt_dir: ADE20K takes every *.png directly in it; Cityscapes walks city subfolders and
 * takes *_gtFine_labelTrainIds.png, else *_gtFine_labelIds.png, per key. */
nala_status seg_gt_list_build(const char *gt_dir, int cityscapes, seg_gt_list *out, nala_err *err);

void seg_gt_list_free(seg_gt_list *list);

/* Finds the prediction of key under pred_dir (rules in the --help text). Returns 1 and the path in
 * path_out when found; 0 with the first candidate tried in path_out otherwise. */
int seg_find_prediction(const char *pred_dir, const char *key, int cityscapes, char *path_out, size_t cap);


#endif
