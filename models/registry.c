/* The module registry: a new module type is its own file plus one line in its slot's list here. */
#include "models/registry.h"

#include <string.h>

#include "heads/decode_head.h"

extern const nala_module_type nala_nalaformer_module; /* backbone/nalaformer_module.c */
extern const nala_module_type nala_fpn_module;        /* necks/fpn.c */
extern const nala_module_type nala_uper_head_module;   /* heads/uper_head.c */
extern const nala_module_type nala_fpn_head_module;    /* heads/fpn_head.c */
extern const nala_module_type nala_rpn_head_module;   /* heads/rpn_head.c */
extern const nala_module_type nala_roi_head_module;   /* heads/roi_head.c */
extern const nala_module_type nala_retina_head_module; /* heads/retina_head.c */

/* Each entry is a module type's first member (nala_module_type.type). */
static const nala_schema_type *const backbones[] = {&nala_nalaformer_module.type};
static const nala_schema_type *const necks[] = {&nala_fpn_module.type};
static const nala_schema_type *const decode_heads[] = {&nala_uper_head_module.type, &nala_fpn_head_module.type};
/* model.auxiliary_head: validated, never built (a training-only head; its weights are skipped) */
static const nala_schema_type *const auxiliary_heads[] = {&nala_fcn_aux_type};
static const nala_schema_type *const rpn_heads[] = {&nala_rpn_head_module.type};
static const nala_schema_type *const roi_heads[] = {&nala_roi_head_module.type};
static const nala_schema_type *const bbox_heads[] = {&nala_retina_head_module.type};

#define SLOT_SCHEMA(refs) {.type_refs = (refs), .n_types = (int)(sizeof(refs) / sizeof *(refs))}
const nala_schema nala_backbone_slot_schema = SLOT_SCHEMA(backbones);
const nala_schema nala_neck_slot_schema = SLOT_SCHEMA(necks);
const nala_schema nala_decode_head_slot_schema = SLOT_SCHEMA(decode_heads);
const nala_schema nala_auxiliary_head_schema = SLOT_SCHEMA(auxiliary_heads);
const nala_schema nala_rpn_head_slot_schema = SLOT_SCHEMA(rpn_heads);
const nala_schema nala_roi_head_slot_schema = SLOT_SCHEMA(roi_heads);
const nala_schema nala_bbox_head_slot_schema = SLOT_SCHEMA(bbox_heads);

const char *const nala_model_slots[] = {"backbone", "neck", "decode_head", "rpn_head", "roi_head", "bbox_head"};
const int nala_model_n_slots = (int)(sizeof nala_model_slots / sizeof *nala_model_slots);
static const nala_schema *const slot_schemas[] = {&nala_backbone_slot_schema,  &nala_neck_slot_schema,
                                                  &nala_decode_head_slot_schema, &nala_rpn_head_slot_schema,
                                                  &nala_roi_head_slot_schema,  &nala_bbox_head_slot_schema};

const nala_module_type *nala_module_find(const char *slot, const char *type) {
  for (int s = 0; s < nala_model_n_slots; s++) {
    if (strcmp(nala_model_slots[s], slot))
      continue;
    for (int i = 0; i < slot_schemas[s]->n_types; i++)
      if (!strcmp(slot_schemas[s]->type_refs[i]->type, type))
        return (const nala_module_type *)(const void *)slot_schemas[s]->type_refs[i];
  }
  return NULL;
}
