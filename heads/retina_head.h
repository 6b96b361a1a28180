/* RetinaHead settings the post-processing needs (internal; the module is heads/retina_head.c). */
#ifndef NALA_HEADS_RETINA_HEAD_H
#define NALA_HEADS_RETINA_HEAD_H

#include "core/nn/module.h"

#define RETINA_MAX_LEVELS 8
#define RETINA_MAX_RATIOS 8
#define RETINA_MAX_SCALES 8

typedef struct nala_retina_head_info {
  int num_classes;
  int n_levels;                         /* len(anchor_generator.strides): maps the head takes */
  int strides[RETINA_MAX_LEVELS];
  int n_base;                           /* anchors per location: n_ratios * n_scales */
  int n_ratios, n_scales;
  float ratios[RETINA_MAX_RATIOS];
  int octave;                           /* 1: scales = octave_base_scale * 2^(i / n_scales) (det/anchors.c) */
  double octave_base_scale;
  float scales[RETINA_MAX_SCALES];      /* explicit scales when !octave */
  float means[4], stds[4];              /* bbox_coder target_means / target_stds */
  int clip_border;                      /* bbox_coder clip_border (default True) */
} nala_retina_head_info;

extern const nala_module_type nala_retina_head_module;

/* The settings of a RetinaHead module (module made by nala_retina_head_module.create). */
const nala_retina_head_info *nala_retina_head_info_of(const void *module);

#endif
