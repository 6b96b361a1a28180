/* nala: NaLaFormer dense-prediction engine in C. One include for the whole public API.
 *
 * A camera loop (tests/test_example.c compiles and runs this same code):
 *
 *   nala_err err;
 *   nala_backbone_cfg cfg;
 *   nala_weights *weights;
 *   nala_backbone *model;           // immutable: share it between threads
 *   nala_backbone_ctx *ctx;         // one per thread / video stream
 *   nala_backbone_cfg_preset("t", &cfg, &err);
 *   nala_weights_open("upernet_nalaformer_t.safetensors", &weights, &err);  // keys backbone.*
 *   nala_backbone_create(&cfg, weights, NULL, &model, &err);
 *   nala_weights_close(weights);
 *   nala_backbone_ctx_create(model, 2, &ctx, &err);
 *
 *   // The frame size is fixed for a camera: size every buffer once.
 *   nala_preprocess_cfg pp = nala_preprocess_mmdet_coco();
 *   pp.layout = NALA_NHWC;                                   // what the backbone takes
 *   nala_preprocess_sizes sz;
 *   nala_preprocess_out_size(&pp, 480, 640, &sz, &err);
 *   float *input = malloc(sz.out_floats * sizeof(float));
 *   uint8_t *scratch = malloc(sz.scratch_bytes + 1);
 *   nala_backbone_plan(ctx, sz.meta.pad_h, sz.meta.pad_w, &err);
 *
 *   for (;;) {                                               // nothing below allocates
 *     nala_image frame = {.h = 480, .w = 640, .c = 3, .stride = row_bytes, .data = camera_bgr,
 *                         .order = NALA_BGR};               // borrowed, zero-copy
 *     nala_preprocess_meta meta;
 *     nala_preprocess_into(&pp, &frame, input, sz.out_floats, scratch, sz.scratch_bytes, &meta, &err);
 *     nala_backbone_forward_nhwc(ctx, input, &err);
 *     nala_feature p3;
 *     nala_backbone_output(ctx, 1, &p3, &err);               // stride 8, NHWC, in ctx's workspace
 *     // ... heads ...; x_original = x_tensor / meta.w_scale
 *   }
 *
 *   free(input), free(scratch);
 *   nala_backbone_ctx_free(ctx);
 *   nala_backbone_free(model);
 *
 * Every call returns NALA_OK or a status with err.msg naming the file, key or value at fault. */
#ifndef NALA_H
#define NALA_H

#include "nala/atomic_write.h"
#include "nala/backbone.h"
#include "nala/coco.h"
#include "nala/config.h"
#include "nala/dataset.h"
#include "nala/image_io.h"
#include "nala/isa.h"
#include "nala/preprocess.h"
#include "nala/rle.h"
#include "nala/safetensors.h"
#include "nala/seeded_init.h"
#include "nala/seg_classes.h"
#include "nala/seg_label_maps.h"
#include "nala/seg_metrics.h"
#include "nala/seg_report.h"
#include "nala/seg_test.h"
#include "nala/status.h"
#include "nala/weights.h"

#endif
