/* ADE20K and Cityscapes class tables (mmseg's METAINFO order) and label-map conversions. */
#include "nala/seg_classes.h"

#include <string.h>

/* mmseg/datasets/ade.py ADE20KDataset.METAINFO['classes'], verbatim ("bed " keeps its space). */
static const char *const ade20k_classes[150] = {
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed ", "windowpane", "grass",
    "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain",
    "chair", "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field",
    "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub", "railing",
    "cushion", "base", "box", "column", "signboard", "chest of drawers", "counter", "sand", "sink",
    "skyscraper", "fireplace", "refrigerator", "grandstand", "path", "stairs", "runway", "case",
    "pool table", "pillow", "screen door", "stairway", "river", "bridge", "bookcase", "blind",
    "coffee table", "toilet", "flower", "book", "hill", "bench", "countertop", "stove", "palm",
    "kitchen island", "computer", "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus",
    "towel", "light", "truck", "tower", "chandelier", "awning", "streetlight", "booth",
    "television receiver", "airplane", "dirt track", "apparel", "pole", "land", "bannister",
    "escalator", "ottoman", "bottle", "buffet", "poster", "stage", "van", "ship", "fountain",
    "conveyer belt", "canopy", "washer", "plaything", "swimming pool", "stool", "barrel", "basket",
    "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball", "food", "step", "tank",
    "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher", "screen",
    "blanket", "sculpture", "hood", "sconce", "vase", "traffic light", "tray", "ashcan", "fan",
    "pier", "crt screen", "plate", "monitor", "bulletin board", "shower", "radiator", "glass",
    "clock", "flag",
};

/* mmseg/datasets/cityscapes.py CityscapesDataset.METAINFO['classes'] = train ids 0..18. */
static const char *const cityscapes_classes[19] = {
    "road",   "sidewalk", "building", "wall",  "fence", "pole",  "traffic light", "traffic sign", "vegetation", "terrain",
    "sky",    "person",   "rider",    "car",   "truck", "bus",   "train",         "motorcycle",   "bicycle",
};

static const nala_seg_dataset datasets[] = {
    {"ade20k", 150, 255, 1, ade20k_classes},
    {"cityscapes", 19, 255, 0, cityscapes_classes},
};

const nala_seg_dataset *nala_seg_dataset_find(const char *name) {
  if (!name)
    return NULL;
  for (size_t i = 0; i < sizeof datasets / sizeof datasets[0]; i++)
    if (!strcmp(datasets[i].name, name))
      return &datasets[i];
  return NULL;
}

void nala_seg_reduce_zero_label(uint8_t *label, size_t stride, int h, int w) {
  /* mmseg LoadAnnotations: gt[gt == 0] = 255; gt = gt - 1; gt[gt == 254] = 255. */
  for (int y = 0; y < h; y++) {
    uint8_t *row = label + (size_t)y * stride;
    for (int x = 0; x < w; x++)
      row[x] = (row[x] == 0 || row[x] == 255) ? 255 : (uint8_t)(row[x] - 1);
  }
}

/* cityscapesScripts helpers/labels.py: trainId of label ids 0..33 (255 = ignoreInEval). */
static const uint8_t cityscapes_train_ids[34] = {
    255, 255, 255, 255, 255, 255, 255, /* unlabeled, ego vehicle, rectification border, out of roi, static, dynamic, ground */
    0,   1,                            /* road, sidewalk */
    255, 255,                          /* parking, rail track */
    2,   3,   4,                       /* building, wall, fence */
    255, 255, 255,                     /* guard rail, bridge, tunnel */
    5,   255, 6,   7,                  /* pole, polegroup, traffic light, traffic sign */
    8,   9,   10,  11,  12,  13,  14,  15, /* vegetation, terrain, sky, person, rider, car, truck, bus */
    255, 255,                          /* caravan, trailer */
    16,  17,  18,                      /* train, motorcycle, bicycle */
};

uint8_t nala_seg_cityscapes_train_id(uint8_t label_id) {
  if (label_id < sizeof cityscapes_train_ids)
    return cityscapes_train_ids[label_id];
  return label_id; /* 255 (license plate, id -1) stays ignored; 34..254 stay out of range */
}

void nala_seg_cityscapes_ids_to_train_ids(uint8_t *label, size_t stride, int h, int w) {
  for (int y = 0; y < h; y++) {
    uint8_t *row = label + (size_t)y * stride;
    for (int x = 0; x < w; x++)
      row[x] = nala_seg_cityscapes_train_id(row[x]);
  }
}
