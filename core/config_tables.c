/* What a config file may contain: one row per key. A model module's own section (backbone, neck,
 * decode_head, ...) is validated by the table its module registers (models/registry.c). Keys and
 * defaults mirror the mmdet 3.x / mmseg 1.x dicts of the same name. */
#include "core/config_internal.h"
#include "heads/det_cfg.h"
#include "models/registry.h"


/* model.data_preprocessor (mmdet DetDataPreprocessor / mmseg SegDataPreProcessor). */
static const nala_schema_key preprocessor_keys[] = {
    NALA_SKEY_LIST("mean", NALA_SK_NUMBER, 3, 3, 0),
    {.key = "std", .kinds = NALA_SK_ARRAY, .item_kinds = NALA_SK_NUMBER, .has_min = 1, .min = 0,
     .min_exclusive = 1, .min_items = 3, .max_items = 3},
    NALA_SKEY_BOOL("bgr_to_rgb", 0),
    NALA_SKEY_POS_INT("pad_size_divisor", 0),
    NALA_SKEY_POS_INT_LIST("size", 2, 2, 0),
    NALA_SKEY_NUMBER("pad_val", 0),
    NALA_SKEY_INT("seg_pad_val", 0, 255, 0),
    NALA_SKEY_BOOL("pad_mask", 0),
};
static const nala_schema preprocessor_keys_schema = NALA_SCHEMA(preprocessor_keys);
static const nala_schema_type preprocessor_types[] = {
    {"DetDataPreprocessor", &preprocessor_keys_schema},
    {"SegDataPreProcessor", &preprocessor_keys_schema},
    {"ImgDataPreprocessor", &preprocessor_keys_schema},
};
static const nala_schema preprocessor_schema = NALA_SCHEMA_TYPED(preprocessor_types);

/* mmdet's nms dicts (test_cfg.nms, and rpn/rcnn's): mmcv nms only (no soft_nms). */
static const char *const nms_types[] = {"nms", NULL};
static const nala_schema_key nms_keys[] = {
    NALA_SKEY_ENUM("type", nms_types, 1),
    NALA_SKEY_NUMBER_IN("iou_threshold", 0, 1, 1),
    NALA_SKEY_POS_INT("split_thr", 0),
    NALA_SKEY_BOOL("class_agnostic", 0),
};
static const nala_schema nms_schema = NALA_SCHEMA(nms_keys);

/* model.test_cfg: mmseg's whole/slide inference; mmdet dense heads' (RetinaNet) keys, read by
 * det/retina_post.c (mmdet's rpn/rcnn keys come with Mask R-CNN). */
static const char *const test_modes[] = {"whole", "slide", NULL};
static const nala_schema_key test_cfg_keys[] = {
    NALA_SKEY_ENUM("mode", test_modes, 0),
    NALA_SKEY_POS_INT_LIST("crop_size", 2, 2, 0),
    NALA_SKEY_POS_INT_LIST("stride", 2, 2, 0),
    NALA_SKEY_INT("nms_pre", 1, 1000000, 0),
    NALA_SKEY_NUMBER("min_bbox_size", 0),
    NALA_SKEY_NUMBER_IN("score_thr", 0, 1, 0),
    NALA_SKEY_OBJECT("nms", &nms_schema, 0),
    NALA_SKEY_INT("max_per_img", 1, 100000, 0),
    NALA_SKEY_OBJECT("rpn", &nala_rpn_test_cfg_schema, 0),   /* TwoStageDetector: test_cfg.rpn */
    NALA_SKEY_OBJECT("rcnn", &nala_rcnn_test_cfg_schema, 0), /* and test_cfg.rcnn */
};
static const nala_schema test_cfg_schema = NALA_SCHEMA(test_cfg_keys);

static const char *const model_types[] = {"Backbone", "EncoderDecoder", "MaskRCNN", "RetinaNet", NULL};
static const nala_schema_key model_keys[] = {
    NALA_SKEY_ENUM("type", model_types, 1),
    NALA_SKEY_OBJECT("data_preprocessor", &preprocessor_schema, 0),
    /* {"type": ..., that module's keys}: the tables come from the module registry */
    NALA_SKEY_OBJECT("backbone", &nala_backbone_slot_schema, 1),
    NALA_SKEY_OBJECT("neck", &nala_neck_slot_schema, 0),
    NALA_SKEY_OBJECT("decode_head", &nala_decode_head_slot_schema, 0),
    NALA_SKEY_OBJECT("auxiliary_head", &nala_auxiliary_head_schema, 0),
    NALA_SKEY_OBJECT("bbox_head", &nala_bbox_head_slot_schema, 0),
    NALA_SKEY_OBJECT("rpn_head", &nala_rpn_head_slot_schema, 0),
    NALA_SKEY_OBJECT("roi_head", &nala_roi_head_slot_schema, 0),
    NALA_SKEY_OBJECT("test_cfg", &test_cfg_schema, 0),
    {.key = "train_cfg", .kinds = NALA_SK_OBJECT | NALA_SK_NULL}, /* training only: accepted, ignored */
};
static const nala_schema model_schema = NALA_SCHEMA(model_keys);

/* test_pipeline: a list of transforms, each {"type": ..., its keys}. */
static const nala_schema_key no_keys[] = {{.key = "backend_args", .kinds = NALA_SK_NULL}};
static const nala_schema load_image_schema = NALA_SCHEMA(no_keys);
static const nala_schema_key resize_keys[] = {
    NALA_SKEY_POS_INT_LIST("scale", 2, 2, 1),
    NALA_SKEY_BOOL("keep_ratio", 0),
};
static const nala_schema resize_schema = NALA_SCHEMA(resize_keys);
static const nala_schema_key load_annotations_keys[] = {
    NALA_SKEY_BOOL("with_bbox", 0),
    NALA_SKEY_BOOL("with_mask", 0),
    NALA_SKEY_BOOL("reduce_zero_label", 0),
};
static const nala_schema load_annotations_schema = NALA_SCHEMA(load_annotations_keys);
static const nala_schema_key pack_keys[] = {NALA_SKEY_LIST("meta_keys", NALA_SK_STRING, 0, 0, 0)};
static const nala_schema pack_schema = NALA_SCHEMA(pack_keys);
static const nala_schema_type transform_types[] = {
    {"LoadImageFromFile", &load_image_schema},   {"Resize", &resize_schema},
    {"LoadAnnotations", &load_annotations_schema}, {"PackDetInputs", &pack_schema},
    {"PackSegInputs", &pack_schema},
};
static const nala_schema transform_schema = NALA_SCHEMA_TYPED(transform_types);

/* dataset: the evaluation split; per-type keys so a COCO key on ADE20K is caught. */
static const nala_schema_key coco_keys[] = {
    NALA_SKEY_STRING("data_root", 1),
    NALA_SKEY_STRING("ann_file", 0),
    NALA_SKEY_STRING("img_dir", 0),
    NALA_SKEY_LIST("classes", NALA_SK_STRING, 1, 0, 0),
};
static const nala_schema coco_schema = NALA_SCHEMA(coco_keys);
static const nala_schema_key seg_dataset_keys[] = {
    NALA_SKEY_STRING("data_root", 1),
    NALA_SKEY_STRING("img_dir", 0),
    NALA_SKEY_STRING("seg_map_dir", 0),
    NALA_SKEY_BOOL("reduce_zero_label", 0),
    NALA_SKEY_LIST("classes", NALA_SK_STRING, 1, 0, 0),
};
static const nala_schema seg_dataset_schema = NALA_SCHEMA(seg_dataset_keys);
static const nala_schema_type dataset_types[] = {
    {"CocoDataset", &coco_schema},
    {"ADE20KDataset", &seg_dataset_schema},
    {"CityscapesDataset", &seg_dataset_schema},
};
static const nala_schema dataset_schema = NALA_SCHEMA_TYPED(dataset_types);

static const nala_schema_key root_keys[] = {
    NALA_SKEY_OBJECT("model", &model_schema, 0),
    {.key = "test_pipeline", .kinds = NALA_SK_ARRAY, .item_kinds = NALA_SK_OBJECT, .object = &transform_schema},
    NALA_SKEY_OBJECT("dataset", &dataset_schema, 0),
};
const nala_schema cfg_root_schema = NALA_SCHEMA(root_keys);
