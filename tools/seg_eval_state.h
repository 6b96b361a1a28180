/* The state a sharded `nala eval seg` run saves (--save-state) and `--merge` reads back: per image, in
 * dataset order, its confusion counts, so the merge replays the images into one accumulator and
 * prints exactly the table of an unsharded run (mmseg's float32 sums are order-dependent, so
 * per-class totals alone would not do). */
#ifndef NALA_TOOLS_SEG_EVAL_STATE_H
#define NALA_TOOLS_SEG_EVAL_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "nala/seg_metrics.h"
#include "nala/status.h"

typedef struct seg_state_image {
  int index;                     /* position in the full dataset order */
  char *file;                    /* image path relative to img_dir */
  nala_seg_image_counts counts;
  size_t n_cells;                /* non-zero confusion cells */
  uint32_t *cell_index;          /* row * side + column */
  uint64_t *cell_count;
} seg_state_image;

typedef struct seg_state {
  char dataset[32];              /* "ade20k", "cityscapes" */
  int num_classes, ignore_index;
  int total, limit;              /* samples in the dataset, --limit (0 = none) */
  int shard_index, shard_count;
  char **class_names;            /* num_classes names, or NULL (tables print indices) */
  seg_state_image *images;
  size_t n_images, cap_images;
  char **problems;               /* "file: reason" lines of the shard's bad samples */
  size_t n_problems, cap_problems;
} seg_state;

/* Records the image just added to m (nala_seg_metrics_image_confusion) with its counts. */
nala_status seg_state_add_image(seg_state *s, int index, const char *file, const nala_seg_metrics *m,
                                const nala_seg_image_counts *counts, nala_err *err);

/* Copies num_classes class names into s (names may be NULL: none). */
nala_status seg_state_set_classes(seg_state *s, const char *const *names, nala_err *err);

/* Records a problem as "file: reason", or a whole line as saved. */
nala_status seg_state_add_problem(seg_state *s, const char *file, const char *reason, nala_err *err);
nala_status seg_state_add_line(seg_state *s, const char *line, nala_err *err);

/* Writes s as JSON to path, atomically. */
nala_status seg_state_save(const seg_state *s, const char *path, nala_err *err);

/* Reads a state file; every malformed field is named with the path. */
nala_status seg_state_load(const char *path, seg_state *s, nala_err *err);

/* Adds every image of s to m in s's order. */
nala_status seg_state_replay(const seg_state *s, nala_seg_metrics *m, nala_err *err);

void seg_state_free(seg_state *s);

#endif
