/* From a config's typed model section to the preprocessing structs of nala/preprocess.h, so a run
 * loop takes its Resize / Normalize / Pad and slide windows from the same JSON as the model. */
#include <string.h>

#include "datasets/dataset_internal.h"
#include "nala/preprocess.h"

nala_status nala_config_preprocess(const nala_model_cfg *model, nala_layout layout, nala_preprocess_cfg *out,
                                   nala_err *err) {
  if (!model || !out)
    return nala_fail(err, NALA_E_ARG, "nala_config_preprocess: NULL argument");
  const nala_preprocess_section *pp = &model->preprocess;
  if (!pp->has_resize)
    return nala_fail(err, NALA_E_FORMAT, "test_pipeline: no Resize step (the preprocessing needs its scale)");
  memset(out, 0, sizeof *out);
  out->scale[0] = pp->scale[0];
  out->scale[1] = pp->scale[1];
  out->keep_ratio = pp->keep_ratio;
  out->interp = NALA_INTERP_BILINEAR; /* mmcv Resize's default interpolation */
  for (int c = 0; c < 3; c++) {
    out->mean[c] = pp->mean[c];
    out->std[c] = pp->std[c];
  }
  out->to_rgb = pp->bgr_to_rgb;
  out->pad_divisor = pp->pad_size_divisor;
  out->pad_h = pp->pad_size[0];
  out->pad_w = pp->pad_size[1];
  out->pad_value = pp->pad_val;
  out->layout = layout;
  if (nala_preprocess_validate(out, err) != NALA_OK)
    return nala_err_prefix(err, "model.data_preprocessor / test_pipeline: ");
  return NALA_OK;
}

nala_status nala_config_seg_test(const nala_model_cfg *model, nala_seg_test_cfg *out, nala_err *err) {
  if (!model || !out)
    return nala_fail(err, NALA_E_ARG, "nala_config_seg_test: NULL argument");
  const nala_test_cfg *tc = &model->test_cfg;
  memset(out, 0, sizeof *out);
  out->mode = strcmp(tc->mode, "slide") ? NALA_SEG_WHOLE : NALA_SEG_SLIDE;
  out->crop_h = tc->crop_size[0];
  out->crop_w = tc->crop_size[1];
  out->stride_h = tc->stride[0];
  out->stride_w = tc->stride[1];
  return NALA_OK;
}
