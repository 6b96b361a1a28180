/* A model root: the modules of a config's "model" section (backbone, then neck, ...) chained into
 * one graph per context, over one shared root (engine + ISA). Internal for now: the public API is
 * still nala_backbone_* (include/nala/backbone.h); heads will be exposed through this. */
#ifndef NALA_MODELS_MODEL_H
#define NALA_MODELS_MODEL_H

#include "core/nn/context.h"
#include "core/nn/module.h"

struct cJSON;

typedef struct nala_model {
  nala_rt *rt;
  int n;
  const nala_module_type *types[8];
  void *modules[8];
  const char *slots[8]; /* the slot each module fills ("backbone", "neck", "bbox_head") */
  /* "" or one line the caller may show, e.g. that auxiliary_head.* weights were skipped */
  char notice[160];
} nala_model;

/* Creates every module present in model_section (a validated "model" object) with weights under
 * its slot name ("backbone.", "neck.", "decode_head."), then checks every key once
 * (nala_weights_finish). auxiliary_head.* (mmseg's training-only FCNHead) and *.num_batches_tracked
 * keys are skipped; when the weights hold auxiliary_head keys, m->notice says how many. */
nala_status nala_model_create(const struct cJSON *model_section, nala_weights *weights, nala_isa isa,
                              nala_model **out, nala_err *err);
void nala_model_free(nala_model *m);

/* The module in slot (NULL when the model has none); *type (may be NULL) gets its type. */
const void *nala_model_module(const nala_model *m, const char *slot, const nala_module_type **type);

/* Plans modules [first, last) of the chain on in[0..n_in) (first = 0: the image), out getting the
 * last one's outputs: what a model with its own graph layout (a detector) builds on. After each
 * module the regions it and the ones before took that hold none of its outputs are handed back
 * (nala_graph_keep_only): the regions the caller takes afterwards may sit in them, so they are
 * only good for ops added after these (and for reading after the run). */
nala_status nala_model_plan(const nala_model *m, int first, int last, nala_graph *g, const nala_feat *in, int n_in,
                            nala_feat *out, int *n_out, nala_err *err);
/* Appends every module's ops for an h x w image (3 x h x w at g->input) to an empty graph and sets
 * g->outs to the last module's outputs. module_ops (NULL or m->n ints) gets g->n_ops after each
 * module, so a caller can run or time the graph module by module (nala_graph_execute_range).
 * Dead regions are handed back between modules as nala_model_plan does; the graph is fenced
 * afterwards (nala_graph_fence), so what the caller takes next is never overwritten by a rerun. */
nala_status nala_model_build(const nala_model *m, nala_graph *g, int h, int w, int *module_ops, nala_err *err);

/* Context whose graph is image (3 x h x w at g->input) -> every module -> g->outs (the last
 * module's outputs). */
nala_status nala_model_ctx_init(const nala_model *m, int nthreads, nala_nn_ctx *ctx, nala_err *err);

#endif
