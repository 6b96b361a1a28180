/* Procedural datasets for demos and end-to-end tests (`nala synth ...`): street scenes written as an
 * mmseg ADE20K-layout dataset, shape scenes written as a COCO instances dataset, and a panning
 * street video with its label maps. Every output is a pure function of (seed, size, index): the
 * same arguments give the same bytes, on any thread count, and image i never depends on image j. */
#ifndef NALA_SYNTH_H
#define NALA_SYNTH_H

#include <stdint.h>

#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Street classes: label PNGs hold 1..nala_synth_seg_num_classes() (0 is never written), read with
 * reduce_zero_label = true like ADE20K, so class i (0-based, as models predict) is PNG value i + 1. */
int nala_synth_seg_num_classes(void);
/* Name of 0-based class i ("sky", "building", ...), NULL out of range. */
const char *nala_synth_seg_class_name(int i);
/* Cityscapes-style RGB colour of 0-based class i into rgb[3]; 0 when out of range. */
int nala_synth_seg_class_color(int i, uint8_t rgb[3]);

/* Renders street scene `index` of seed into rgb (h*w*3, RGB) and label (h*w, values 1..N). */
nala_status nala_synth_seg_render(int h, int w, uint64_t seed, int index, uint8_t *rgb, uint8_t *label,
                                  nala_err *err);

/* Writes count scenes as out_dir/images/<split>/NNNNNN.jpg + out_dir/annotations/<split>/NNNNNN.png
 * (8-bit grey labels) and out_dir/classes.json (names, palette, reduce_zero_label). split: e.g.
 * "training" or "validation" (nala_dataset_cfg_init's ADE20K default reads "validation"). */
nala_status nala_synth_seg_write(const char *out_dir, const char *split, int count, int h, int w, uint64_t seed,
                                 nala_err *err);

/* Shape classes of the COCO scenes (category ids 1..N in this order). */
int nala_synth_coco_num_classes(void);
const char *nala_synth_coco_class_name(int i);

/* Writes count shape scenes as out_dir/images/<split>/NNNNNN.jpg and
 * out_dir/annotations/instances_<split>.json: one category per shape class, every visible object
 * an annotation with its visible mask as compressed RLE, bbox and area of that mask, iscrowd 0.
 * Objects overlap, but none is hidden below half of its own area. */
nala_status nala_synth_coco_write(const char *out_dir, const char *split, int count, int h, int w, uint64_t seed,
                                  nala_err *err);

/* Writes a street clip of frames frames (h x w, fps) to path: the camera pans along a street
 * wider than the frame while cars and people move. labels_dir (NULL: none) receives
 * NNNNNN.png, frame i's label map (values 1..N as in nala_synth_seg_write). */
nala_status nala_synth_video_write(const char *path, const char *labels_dir, int frames, int h, int w, uint64_t seed,
                                   double fps, nala_err *err);

#ifdef __cplusplus
}
#endif

#endif
