/* Class tables and label-map conventions of the segmentation datasets we evaluate, as mmseg
 * defines them (mmseg/datasets/ade.py, cityscapes.py) and cityscapesScripts' labels.py. */
#ifndef NALA_SEG_CLASSES_H
#define NALA_SEG_CLASSES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nala_seg_dataset {
  const char *name;                /* "ade20k" or "cityscapes" */
  int num_classes;                 /* 150 or 19 */
  int ignore_index;                /* 255 for both */
  int reduce_zero_label;           /* 1 for ADE20K: ground truth 0 -> 255, v -> v - 1 */
  const char *const *class_names;  /* num_classes names in mmseg's order, verbatim (ADE20K's "bed " included) */
} nala_seg_dataset;

/* The dataset named name ("ade20k", "cityscapes"), or NULL when unknown. */
const nala_seg_dataset *nala_seg_dataset_find(const char *name);

/* mmseg's reduce_zero_label in place: 0 -> 255, 255 stays 255, any other v -> v - 1. */
void nala_seg_reduce_zero_label(uint8_t *label, size_t stride, int h, int w);

/* Cityscapes label id -> train id (0..18, 255 for ids ignored in evaluation). Ids 0..33 follow
 * labels.py; 255 (license plate's id -1 stored in 8 bits) -> 255; any other value is returned
 * unchanged, so it stays >= 19 and is counted as out of range by the metrics. */
uint8_t nala_seg_cityscapes_train_id(uint8_t label_id);

/* Applies nala_seg_cityscapes_train_id to an h x w *_gtFine_labelIds map in place. */
void nala_seg_cityscapes_ids_to_train_ids(uint8_t *label, size_t stride, int h, int w);

#ifdef __cplusplus
}
#endif

#endif
