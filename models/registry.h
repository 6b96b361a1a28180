/* Every module type nala can build, by config slot and "type" name. */
#ifndef NALA_MODELS_REGISTRY_H
#define NALA_MODELS_REGISTRY_H

#include "core/nn/module.h"

/* Slots of a model section, in the order a model root chains them. */
extern const char *const nala_model_slots[];
extern const int nala_model_n_slots;

/* The module type of slot ("neck") named type ("FPN"), or NULL. */
const nala_module_type *nala_module_find(const char *slot, const char *type);

/* Config tables of the slots (model.backbone, model.neck): {"type": ..., that type's keys}. */
extern const nala_schema nala_backbone_slot_schema;
extern const nala_schema nala_neck_slot_schema;
extern const nala_schema nala_decode_head_slot_schema;
/* model.auxiliary_head (mmseg FCNHead keys): validated, never built. */
extern const nala_schema nala_auxiliary_head_schema;
extern const nala_schema nala_rpn_head_slot_schema;
extern const nala_schema nala_roi_head_slot_schema;
extern const nala_schema nala_bbox_head_slot_schema; /* model.bbox_head (RetinaNet's dense head) */

#endif
