/* The interface every model module implements (backbone NaLaFormer, neck FPN, heads later), so a
 * model root can build any chain of them into one graph. A module type is one file holding its
 * config table and these four verbs, plus one line in the registry (models/registry.c):
 *
 *   create  reads its validated JSON section and its weights under prefix ("neck" -> keys
 *           "neck.lateral_convs.0.conv.weight"), on the model's shared root (engine + ISA);
 *           the root checks every module's keys at once with nala_weights_finish
 *   plan    given the input feature maps (already in the graph's arena), takes regions for its
 *           outputs and appends its ops; pure function of (module, inputs, graph)
 *   free    frees what create made
 * A module is immutable after create: many contexts (graphs) may plan and run it at once. */
#ifndef NALA_CORE_NN_MODULE_H
#define NALA_CORE_NN_MODULE_H

#include "core/nn/graph.h"
#include "core/nn/runtime.h"
#include "core/config_schema.h"
#include "nala/weights.h"

struct cJSON;

#define NALA_MODULE_MAX_FEATS NALA_GRAPH_MAX_IO

typedef struct nala_module_type {
  nala_schema_type type; /* {"FPN", &its table}: first, so the registry lists it for the config */
  nala_status (*create)(const struct cJSON *section, nala_weights *weights, const char *prefix, const nala_rt *rt,
                        void **out, nala_err *err);
  nala_status (*plan)(const void *module, nala_graph *g, const nala_feat *in, int n_in, nala_feat *out, int *n_out,
                      nala_err *err);
  void (*free)(void *module);
} nala_module_type;

#endif
