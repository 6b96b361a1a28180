/* nala_segmentor: mmseg EncoderDecoder built from a config's "model" section (backbone, [neck],
 * decode_head through the module registry), its test_cfg and its test pipeline. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "seg/seg_internal.h"

static const cJSON *member(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

nala_status nala_segmentor_create(const nala_config *cfg, nala_weights *weights, const nala_segmentor_opts *opts,
                                  nala_segmentor **out, nala_err *err) {
  if (!cfg || !weights || !out)
    return nala_fail(err, NALA_E_ARG, "nala_segmentor_create: cfg, weights and out must not be NULL");
  *out = NULL;
  const nala_model_cfg *mc = nala_config_model(cfg);
  const cJSON *model = member(nala_config_json(cfg), "model");
  if (!mc || !model)
    return nala_fail(err, NALA_E_FORMAT, "config has no \"model\" section (a segmentor needs model.decode_head)");
  if (strcmp(mc->type, "EncoderDecoder"))
    return nala_fail(err, NALA_E_FORMAT, "model.type: a segmentor is an \"EncoderDecoder\", got \"%s\"", mc->type);
  const cJSON *head = member(model, "decode_head");
  if (!cJSON_IsObject(head))
    return nala_fail(err, NALA_E_FORMAT, "model.decode_head: missing (a segmentor needs a decode head)");
  const cJSON *nc = member(head, "num_classes");
  if (!cJSON_IsNumber(nc) || nc->valuedouble < 1 || nc->valuedouble > 65536 || nc->valuedouble != (int)nc->valuedouble)
    return nala_fail(err, NALA_E_FORMAT, "model.decode_head.num_classes: expected an integer in 1..65536");
  /* the postprocessing resizes (seg/seg_post.c) are align_corners=False, mmseg's default */
  if (cJSON_IsTrue(member(head, "align_corners")))
    return nala_fail(err, NALA_E_UNSUPPORTED, "model.decode_head.align_corners: true is not supported (false only)");
  nala_segmentor *m = calloc(1, sizeof *m);
  if (!m)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for a segmentor");
  m->num_classes = (int)nc->valuedouble;
  nala_status st = nala_seg_test_from_config(&mc->test_cfg, &m->test, err);
  if (!st)
    st = nala_preprocess_from_config(&mc->preprocess, NALA_NHWC, &m->pre, err);
  /* mmseg checkpoints carry the training-only auxiliary FCN head and BN step counters. */
  if (!st && (nala_weights_ignore_prefix(weights, "auxiliary_head.") ||
              nala_weights_ignore_suffix(weights, ".num_batches_tracked")))
    st = nala_fail(err, NALA_E_NOMEM, "out of memory for the weights' ignore list");
  if (!st)
    st = nala_model_create(model, weights, opts ? opts->isa : NALA_ISA_AUTO, &m->model, err);
  if (!st && m->model->n < 2)
    st = nala_fail(err, NALA_E_FORMAT, "model: %d module(s) built, a segmentor needs a backbone and a decode_head",
                   m->model->n);
  if (st) {
    nala_segmentor_free(m);
    return st;
  }
  *out = m;
  return NALA_OK;
}

void nala_segmentor_free(nala_segmentor *model) {
  if (!model)
    return;
  nala_model_free(model->model);
  free(model);
}

int nala_segmentor_num_classes(const nala_segmentor *model) { return model ? model->num_classes : 0; }

nala_isa nala_segmentor_isa(const nala_segmentor *model) { return model ? model->model->rt->isa : NALA_ISA_REF; }
