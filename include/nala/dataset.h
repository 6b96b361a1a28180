/* Evaluation datasets: COCO (instances JSON + image folder), ADE20K and Cityscapes (folder layouts).
 * A dataset yields sample records (paths, ids); it never decodes images (see nala/image_io.h).
 *
 *   nala_dataset_cfg dc;                    // or nala_config_dataset(cfg) from a JSON config
 *   nala_dataset_cfg_init(NALA_DATASET_ADE20K, "data/ade/ADEChallengeData2016", &dc, &err);
 *   nala_dataset_opts opts = {.limit = 0, .shard_index = 0, .shard_count = 1};
 *   nala_dataset *ds;
 *   if (nala_dataset_open(&dc, &opts, &ds, &err) != NALA_OK) { fprintf(stderr, "%s\n", err.msg); ... }
 *   for (int i = 0; i < nala_dataset_size(ds); i++) {
 *     const nala_sample *s = nala_dataset_sample(ds, i);
 *     nala_image img;
 *     if (nala_dataset_read_image(ds, i, NALA_BGR, 0, &img, &err) != NALA_OK) continue;  // logged
 *     ...
 *     nala_image_free(&img);
 *     ...
 *   }
 *   nala_dataset_print_report(ds, stderr);  // every skipped or bad sample, by file
 *   nala_dataset_close(ds);
 *
 * Order is deterministic: COCO keeps the order of "images" in the annotation file (as pycocotools'
 * getImgIds and mmdet do); ADE20K and Cityscapes sort by path relative to img_dir (byte order),
 * as mmseg's sorted folder scan does.
 * Selection: --limit N keeps the first N samples of that order; --shard i/n then takes the i-th of
 * n CONTIGUOUS slices [floor(i*N/n), floor((i+1)*N/n)) of those, so shards 0..n-1 together cover
 * every sample exactly once and their outputs concatenate in dataset order.
 * Samples that cannot be used (COCO image file missing, image without label map) are not yielded:
 * they are logged as bad samples of the shard they fall in, and label maps without an image by
 * shard 0 only, so merged shards report each problem exactly once.
 * After open, the samples are immutable; the bad-sample log is locked, so threads may share a dataset. */
#ifndef NALA_DATASET_H
#define NALA_DATASET_H

#include <stdint.h>
#include <stdio.h>

#include "nala/config.h"
#include "nala/image_io.h"
#include "nala/preprocess.h"
#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nala_sample {
  int index;             /* position in the full dataset order, before --limit/--shard */
  const char *img_path;  /* image file to decode */
  const char *file_name; /* COCO file_name, or the path relative to img_dir */
  const char *gt_path;   /* ADE20K/Cityscapes label map; NULL for COCO */
  int64_t image_id;      /* COCO image id; -1 otherwise */
  int width, height;     /* size declared by the COCO annotation file; 0 otherwise */
  int gt_is_label_ids;   /* Cityscapes: gt_path is *_gtFine_labelIds.png, map ids to trainIds first */
} nala_sample;

typedef struct nala_dataset_opts {
  int limit;       /* keep the first limit samples; 0 = all */
  int shard_index; /* 0 <= shard_index < shard_count */
  int shard_count; /* 0 or 1 = no sharding */
} nala_dataset_opts;

typedef struct nala_bad_sample {
  const char *file;
  const char *reason;
} nala_bad_sample;

typedef struct nala_dataset nala_dataset;

/* Opens a dataset of cfg->type; opts may be NULL (everything). A wrong layout (missing folder or
 * annotation file, no images) fails naming the expected path; unusable samples are logged instead. */
nala_status nala_dataset_open(const nala_dataset_cfg *cfg, const nala_dataset_opts *opts, nala_dataset **out,
                              nala_err *err);

/* Frees a dataset; NULL is fine. */
void nala_dataset_close(nala_dataset *ds);

/* Number of samples this shard yields (after limit, shard and unusable samples). */
int nala_dataset_size(const nala_dataset *ds);

/* The i-th yielded sample, 0 <= i < nala_dataset_size; NULL when out of range. */
const nala_sample *nala_dataset_sample(const nala_dataset *ds, int i);

/* Samples in the full dataset before limit/shard (including unusable ones). */
int nala_dataset_total(const nala_dataset *ds);

/* Classes: COCO categories in ascending category-id order (filtered to cfg->classes when given);
 * for ADE20K/Cityscapes the config's classes, else none (their names are in eval's seg_classes.h). */
int nala_dataset_num_classes(const nala_dataset *ds);
const char *nala_dataset_class_name(const nala_dataset *ds, int label);

/* COCO category id of a contiguous 0-based label, or -1. */
int64_t nala_dataset_category_id(const nala_dataset *ds, int label);

/* Contiguous label of a COCO category id, or -1 when the id is not a (selected) category. */
int nala_dataset_label_of_category(const nala_dataset *ds, int64_t category_id);

/* Records a sample the run could not use (file + reason); the run goes on. NALA_E_NOMEM at worst. */
nala_status nala_dataset_bad_sample(nala_dataset *ds, const char *file, const char *reason, nala_err *err);

/* Number of bad samples logged so far (at open and during the run). */
int nala_dataset_bad_count(const nala_dataset *ds);

/* The i-th logged bad sample ({NULL, NULL} when out of range); strings live until close. */
nala_bad_sample nala_dataset_bad_get(const nala_dataset *ds, int i);

/* Reads sample i's image as mmdet/mmseg's LoadImageFromFile does (EXIF orientation applied) in the
 * given channel order; a COCO image must have the size its annotation declares. On failure the
 * sample is logged as bad (its file and the reason) and the status returned, so a run can skip it
 * and report every bad sample at the end. Free the image with nala_image_free. */
nala_status nala_dataset_read_image(nala_dataset *ds, int i, nala_channel_order order, size_t max_pixels,
                                    nala_image *out, nala_err *err);

/* Reads sample i's label map (gt_path; ADE20K/Cityscapes) with nala_image_read_labels, i.e. the values
 * mmseg's LoadAnnotations gets from PIL, unconverted (reduce_zero_label and Cityscapes label ids are the
 * caller's). On failure the sample is logged as bad, as nala_dataset_read_image does; NALA_E_ARG for a
 * sample without a label map (COCO). Free the map with nala_image_free. */
nala_status nala_dataset_read_labels(nala_dataset *ds, int i, nala_image *out, nala_err *err);

/* Prints "<n> of <total> samples unusable:" and one "  file: reason" line per bad sample
 * (all of them, in logging order); prints nothing when there are none. Returns the count. */
int nala_dataset_print_report(const nala_dataset *ds, FILE *out);

#ifdef __cplusplus
}
#endif

#endif
