/* Class colours for `nala seg` outputs: mmseg's dataset palettes, copied value for value from the
 * METAINFO of mmseg/datasets/ade.py (ADE20KDataset, 150 classes) and cityscapes.py (CityscapesDataset,
 * 19 classes), RGB. */
#include "tools/seg_palette.h"

#include <string.h>

#include "nala/seg_classes.h"

static const uint8_t ade20k[150][3] = {
    {120, 120, 120}, {180, 120, 120}, {6, 230, 230}, {80, 50, 50}, {4, 200, 3}, {120, 120, 80},
    {140, 140, 140}, {204, 5, 255}, {230, 230, 230}, {4, 250, 7}, {224, 5, 255}, {235, 255, 7}, {150, 5, 61},
    {120, 120, 70}, {8, 255, 51}, {255, 6, 82}, {143, 255, 140}, {204, 255, 4}, {255, 51, 7}, {204, 70, 3},
    {0, 102, 200}, {61, 230, 250}, {255, 6, 51}, {11, 102, 255}, {255, 7, 71}, {255, 9, 224}, {9, 7, 230},
    {220, 220, 220}, {255, 9, 92}, {112, 9, 255}, {8, 255, 214}, {7, 255, 224}, {255, 184, 6}, {10, 255, 71},
    {255, 41, 10}, {7, 255, 255}, {224, 255, 8}, {102, 8, 255}, {255, 61, 6}, {255, 194, 7}, {255, 122, 8},
    {0, 255, 20}, {255, 8, 41}, {255, 5, 153}, {6, 51, 255}, {235, 12, 255}, {160, 150, 20}, {0, 163, 255},
    {140, 140, 140}, {250, 10, 15}, {20, 255, 0}, {31, 255, 0}, {255, 31, 0}, {255, 224, 0}, {153, 255, 0},
    {0, 0, 255}, {255, 71, 0}, {0, 235, 255}, {0, 173, 255}, {31, 0, 255}, {11, 200, 200}, {255, 82, 0},
    {0, 255, 245}, {0, 61, 255}, {0, 255, 112}, {0, 255, 133}, {255, 0, 0}, {255, 163, 0}, {255, 102, 0},
    {194, 255, 0}, {0, 143, 255}, {51, 255, 0}, {0, 82, 255}, {0, 255, 41}, {0, 255, 173}, {10, 0, 255},
    {173, 255, 0}, {0, 255, 153}, {255, 92, 0}, {255, 0, 255}, {255, 0, 245}, {255, 0, 102}, {255, 173, 0},
    {255, 0, 20}, {255, 184, 184}, {0, 31, 255}, {0, 255, 61}, {0, 71, 255}, {255, 0, 204}, {0, 255, 194},
    {0, 255, 82}, {0, 10, 255}, {0, 112, 255}, {51, 0, 255}, {0, 194, 255}, {0, 122, 255}, {0, 255, 163},
    {255, 153, 0}, {0, 255, 10}, {255, 112, 0}, {143, 255, 0}, {82, 0, 255}, {163, 255, 0}, {255, 235, 0},
    {8, 184, 170}, {133, 0, 255}, {0, 255, 92}, {184, 0, 255}, {255, 0, 31}, {0, 184, 255}, {0, 214, 255},
    {255, 0, 112}, {92, 255, 0}, {0, 224, 255}, {112, 224, 255}, {70, 184, 160}, {163, 0, 255}, {153, 0, 255},
    {71, 255, 0}, {255, 0, 163}, {255, 204, 0}, {255, 0, 143}, {0, 255, 235}, {133, 255, 0}, {255, 0, 235},
    {245, 0, 255}, {255, 0, 122}, {255, 245, 0}, {10, 190, 212}, {214, 255, 0}, {0, 204, 255}, {20, 0, 255},
    {255, 255, 0}, {0, 153, 255}, {0, 41, 255}, {0, 255, 204}, {41, 0, 255}, {41, 255, 0}, {173, 0, 255},
    {0, 245, 255}, {71, 0, 255}, {122, 0, 255}, {0, 255, 184}, {0, 92, 255}, {184, 255, 0}, {0, 133, 255},
    {255, 214, 0}, {25, 194, 194}, {102, 255, 0}, {92, 0, 255},
};

static const uint8_t cityscapes[19][3] = {
    {128, 64, 128}, {244, 35, 232}, {70, 70, 70}, {102, 102, 156}, {190, 153, 153}, {153, 153, 153},
    {250, 170, 30}, {220, 220, 0}, {107, 142, 35}, {152, 251, 152}, {70, 130, 180}, {220, 20, 60},
    {255, 0, 0}, {0, 0, 142}, {0, 0, 70}, {0, 60, 100}, {0, 80, 100}, {0, 0, 230}, {119, 11, 32},
};

int seg_palette_fill(seg_palette_kind kind, int num_classes, uint8_t out[256][3]) {
  if (num_classes < 1 || num_classes > 256)
    return 0;
  const uint8_t(*base)[3] = kind == SEG_PALETTE_ADE20K ? ade20k : kind == SEG_PALETTE_CITYSCAPES ? cityscapes : NULL;
  int n_base = kind == SEG_PALETTE_ADE20K ? 150 : kind == SEG_PALETTE_CITYSCAPES ? 19 : 0;
  for (int i = 0; i < num_classes; i++) {
    if (i < n_base) {
      memcpy(out[i], base[i], 3);
      continue;
    }
    /* Past the dataset's table (a custom class count): PASCAL VOC's bit-interleaved colour map, which
     * keeps neighbouring labels far apart and is the same on every run (mmseg draws random colours). */
    int r = 0, g = 0, b = 0, c = i;
    for (int bit = 7; bit >= 0 && c; bit--, c >>= 3) {
      r |= (c & 1) << bit;
      g |= ((c >> 1) & 1) << bit;
      b |= ((c >> 2) & 1) << bit;
    }
    out[i][0] = (uint8_t)r, out[i][1] = (uint8_t)g, out[i][2] = (uint8_t)b;
  }
  return num_classes;
}

/* Index of name in a dataset's class list, -1 when absent. */
static int class_index(const nala_seg_dataset *ds, const char *name) {
  for (int j = 0; name && j < ds->num_classes; j++)
    if (!strcmp(ds->class_names[j], name))
      return j;
  return -1;
}

int seg_palette_fill_named(seg_palette_kind kind, const char *const *names, int n_names, int num_classes,
                           uint8_t out[256][3]) {
  int n = seg_palette_fill(kind, num_classes, out);
  if (!n || !names || n_names <= 0)
    return n;
  const nala_seg_dataset *ade = nala_seg_dataset_find("ade20k"), *cs = nala_seg_dataset_find("cityscapes");
  const nala_seg_dataset *tables[2] = {kind == SEG_PALETTE_CITYSCAPES ? cs : ade, kind == SEG_PALETTE_CITYSCAPES ? ade : cs};
  const uint8_t(*colours[2])[3] = {kind == SEG_PALETTE_CITYSCAPES ? cityscapes : ade20k,
                                   kind == SEG_PALETTE_CITYSCAPES ? ade20k : cityscapes};
  if (n_names > num_classes)
    n_names = num_classes;
  /* mmseg keeps the dataset palette's colours when the config's classes are a subset of its classes;
   * the first table (the config's dataset type first) that holds every name colours them all, so one
   * image never mixes two palettes. Otherwise each name takes the first table's colour that has it. */
  int whole = -1;
  for (int t = 0; t < 2 && whole < 0; t++) {
    int all = 1;
    for (int i = 0; i < n_names && all; i++)
      all = class_index(tables[t], names[i]) >= 0;
    if (all)
      whole = t;
  }
  for (int i = 0; i < n_names; i++)
    for (int t = whole < 0 ? 0 : whole; t < (whole < 0 ? 2 : whole + 1); t++) {
      int j = class_index(tables[t], names[i]);
      if (j >= 0) {
        memcpy(out[i], colours[t][j], 3);
        break;
      }
    }
  return n;
}
