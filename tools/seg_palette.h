/* Class colours of the label PNGs and overlays `nala seg` writes (tools/seg_palette.c). */
#ifndef NALA_TOOLS_SEG_PALETTE_H
#define NALA_TOOLS_SEG_PALETTE_H

#include <stdint.h>

typedef enum seg_palette_kind { SEG_PALETTE_OTHER = 0, SEG_PALETTE_ADE20K, SEG_PALETTE_CITYSCAPES } seg_palette_kind;

/* Fills out[0..num_classes) with RGB colours: the dataset's mmseg palette for the classes it has,
 * a fixed generated colour map beyond. Returns num_classes, or 0 when it is outside [1, 256]. */
int seg_palette_fill(seg_palette_kind kind, int num_classes, uint8_t out[256][3]);

/* seg_palette_fill for a config that names its classes (dataset.classes, n_names of them): a class
 * named like one of mmseg's ADE20K or Cityscapes classes gets that class's colour, from the one table
 * that names them all when there is one (the config's dataset type tried first), so the demo's street
 * classes get Cityscapes' colours. names NULL: seg_palette_fill. */
int seg_palette_fill_named(seg_palette_kind kind, const char *const *names, int n_names, int num_classes,
                           uint8_t out[256][3]);

#endif
