/* Model root: modules by slot from the registry, chained into one graph (see model.h). */
#include "models/model.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/registry.h"

void nala_model_free(nala_model *m) {
  if (!m)
    return;
  for (int i = 0; i < m->n; i++)
    m->types[i]->free(m->modules[i]);
  nala_rt_free(m->rt);
  free(m);
}

/* mmdet's TwoStageDetector hands its heads their part of model.test_cfg (rpn_head gets
 * test_cfg.rpn, roi_head test_cfg.rcnn): the same here, as a "test_cfg" key in a copy of the
 * head's section (*merged, NULL when the slot takes none or the section has its own). */
static nala_status with_test_cfg(const cJSON *model_section, const char *slot, const cJSON *section, cJSON **merged,
                                 nala_err *err) {
  static const char *const map[][2] = {{"rpn_head", "rpn"}, {"roi_head", "rcnn"}};
  *merged = NULL;
  const cJSON *test_cfg = cJSON_GetObjectItemCaseSensitive(model_section, "test_cfg");
  for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
    const cJSON *part = cJSON_GetObjectItemCaseSensitive(test_cfg, map[i][1]);
    if (strcmp(slot, map[i][0]) || !part || cJSON_GetObjectItemCaseSensitive(section, "test_cfg"))
      continue;
    cJSON *copy = cJSON_Duplicate(section, 1), *part_copy = cJSON_Duplicate(part, 1);
    if (!copy || !part_copy || !cJSON_AddItemToObject(copy, "test_cfg", part_copy)) {
      cJSON_Delete(copy);
      cJSON_Delete(part_copy);
      return nala_fail(err, NALA_E_NOMEM, "out of memory for model.%s.test_cfg", slot);
    }
    *merged = copy;
  }
  return NALA_OK;
}

/* mmseg checkpoints hold the auxiliary head (used only for the training loss) and BN counters:
 * neither is read at test time (mmseg EncoderDecoder.predict never calls auxiliary_head). */
static nala_status skip_training_keys(nala_weights *weights, nala_model *m, nala_err *err) {
  if (nala_weights_ignore_prefix(weights, "auxiliary_head.") || nala_weights_ignore_suffix(weights, ".num_batches_tracked"))
    return nala_fail(err, NALA_E_NOMEM, "out of memory for the weights binder's ignore list");
  const nala_st_file *f = nala_weights_file(weights);
  size_t n = 0;
  for (size_t i = 0; f && i < nala_st_count(f); i++)
    n += !strncmp(nala_st_at(f, i)->name, "auxiliary_head.", 15);
  if (n)
    snprintf(m->notice, sizeof m->notice, "auxiliary_head: %zu weight(s) skipped (a training-only head)", n);
  return NALA_OK;
}

nala_status nala_model_create(const cJSON *model_section, nala_weights *weights, nala_isa isa, nala_model **out,
                              nala_err *err) {
  if (!model_section || !weights || !out)
    return nala_fail(err, NALA_E_ARG, "nala_model_create: NULL argument");
  *out = NULL;
  nala_model *m = calloc(1, sizeof *m);
  if (!m)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for a model");
  nala_status st = nala_rt_create(isa, &m->rt, err);
  if (!st)
    st = skip_training_keys(weights, m, err);
  for (int s = 0; !st && s < nala_model_n_slots; s++) {
    const cJSON *section = cJSON_GetObjectItemCaseSensitive(model_section, nala_model_slots[s]);
    if (!section)
      continue;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(section, "type");
    const nala_module_type *t = cJSON_IsString(type) ? nala_module_find(nala_model_slots[s], type->valuestring) : NULL;
    if (!t) {
      st = nala_fail(err, NALA_E_FORMAT, "model.%s.type: no such module", nala_model_slots[s]);
      break;
    }
    cJSON *merged = NULL;
    if ((st = with_test_cfg(model_section, nala_model_slots[s], section, &merged, err)))
      break;
    st = t->create(merged ? merged : section, weights, nala_model_slots[s], m->rt, &m->modules[m->n], err);
    cJSON_Delete(merged);
    if (st)
      break;
    m->slots[m->n] = nala_model_slots[s];
    m->types[m->n++] = t;
  }
  if (!st)
    st = nala_weights_finish(weights, "", err);
  if (st) {
    nala_model_free(m);
    return st;
  }
  *out = m;
  return NALA_OK;
}

const void *nala_model_module(const nala_model *m, const char *slot, const nala_module_type **type) {
  for (int i = 0; i < m->n; i++)
    if (!strcmp(m->slots[i], slot)) {
      if (type)
        *type = m->types[i];
      return m->modules[i];
    }
  return NULL;
}

nala_status nala_model_plan(const nala_model *m, int first, int last, nala_graph *g, const nala_feat *in, int n_in,
                            nala_feat *out, int *n_out, nala_err *err) {
  if (first < 0 || last > m->n || first > last || n_in > NALA_MODULE_MAX_FEATS)
    return nala_fail(err, NALA_E_ARG, "nala_model_plan: modules [%d, %d) of %d, %d inputs", first, last, m->n, n_in);
  nala_feat feats[2][NALA_MODULE_MAX_FEATS];
  int n = n_in, cur = 0;
  size_t mark = nala_graph_mark(g); /* the caller's regions (the inputs among them) stay */
  for (int i = 0; i < n_in; i++)
    feats[0][i] = in[i];
  for (int i = first; i < last; i++) {
    int k = 0;
    NALA_CHECK(m->types[i]->plan(m->modules[i], g, feats[cur], n, feats[1 - cur], &k, err));
    cur = 1 - cur;
    n = k;
    /* what the next module is not given, no later op reads: the backbone's buffers under the
     * neck's, the neck's under the heads' */
    nala_graph_keep_only(g, mark, feats[cur], n);
  }
  for (int i = 0; i < n; i++)
    out[i] = feats[cur][i];
  *n_out = n;
  return NALA_OK;
}

nala_status nala_model_build(const nala_model *m, nala_graph *g, int h, int w, int *module_ops, nala_err *err) {
  g->input = nala_graph_feat(g, 3, h, w);
  nala_feat feats[2][NALA_MODULE_MAX_FEATS];
  int n = 1, cur = 0;
  size_t mark = nala_graph_mark(g); /* after the input: the caller may read it after a run */
  feats[0][0] = g->input;
  for (int i = 0; i < m->n; i++) {
    int n_out = 0;
    NALA_CHECK(m->types[i]->plan(m->modules[i], g, feats[cur], n, feats[1 - cur], &n_out, err));
    cur = 1 - cur;
    n = n_out;
    if (module_ops)
      module_ops[i] = g->n_ops;
    nala_graph_keep_only(g, mark, feats[cur], n);
  }
  for (int i = 0; i < n; i++)
    g->outs[i] = feats[cur][i];
  g->n_outs = n;
  /* the caller's regions from here on (a sliding-window accumulator, kept across runs of these
   * ops) must not sit in the gaps the modules' scratch uses */
  nala_graph_fence(g);
  return NALA_OK;
}

static nala_status build(const void *model, nala_graph *g, int h, int w, nala_err *err) {
  return nala_model_build(model, g, h, w, NULL, err);
}

nala_status nala_model_ctx_init(const nala_model *m, int nthreads, nala_nn_ctx *ctx, nala_err *err) {
  return nala_nn_ctx_init(ctx, m, build, m->rt->engine, nthreads, err);
}
