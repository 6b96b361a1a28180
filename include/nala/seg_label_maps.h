/* The label maps of an ADE20K or Cityscapes ground-truth folder, keyed the way mmseg pairs them
 * with images. Used by the datasets (nala/dataset.h) and by `nala eval seg`. */
#ifndef NALA_SEG_LABEL_MAPS_H
#define NALA_SEG_LABEL_MAPS_H

#include <stddef.h>

#include "nala/config.h"
#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One label map. key = path under the folder without the annotation suffix ("ADE_val_00000001",
 * "frankfurt/frankfurt_000000_000294"). */
typedef struct nala_seg_label_map {
  char *key;
  char *path;
  int label_ids; /* Cityscapes *_gtFine_labelIds.png: map ids to train ids before evaluating */
} nala_seg_label_map;

typedef struct nala_seg_label_maps {
  nala_seg_label_map *maps; /* sorted by key (byte order: mmseg's sorted dataset order) */
  size_t count, cap;
  size_t skipped_pngs; /* Cityscapes PNGs that are not annotations (_color, _instanceIds, ...) */
} nala_seg_label_maps;

/* Lists dir. NALA_DATASET_ADE20K: every *.png directly in it. NALA_DATASET_CITYSCAPES: dir and
 * its (city) subfolders, *_gtFine_labelTrainIds.png, else *_gtFine_labelIds.png, per key. Fails
 * with NALA_E_IO naming the folder that cannot be read. Free with nala_seg_label_maps_free. */
nala_status nala_seg_label_maps_list(const char *dir, nala_dataset_type type, nala_seg_label_maps *out,
                                     nala_err *err);

/* The map of key, or NULL. */
const nala_seg_label_map *nala_seg_label_maps_find(const nala_seg_label_maps *list, const char *key);

void nala_seg_label_maps_free(nala_seg_label_maps *list);

#ifdef __cplusplus
}
#endif

#endif
