/* NaLaFormer as a model module: its config table, and create / plan / free over the backbone
 * (backbone_model.c, backbone_plan.c). Registered for the "backbone" slot in models/registry.c. */
#include <cjson/cJSON.h>

#include "backbone/internal.h"
#include "core/config_internal.h"
#include "core/nn/module.h"

#define NUM_OR_LIST4 (NALA_SK_NUMBER | NALA_SK_ARRAY)

/* model.backbone: {"type": "NaLaFormer", "variant": "t", ...}; explicit lists override the variant. */
static const char *const variants[] = {"xt", "t", "s", "b", "l", NULL};
static const nala_schema_key nalaformer_keys[] = {
    NALA_SKEY_ENUM("variant", variants, 0),
    NALA_SKEY_POS_INT_LIST("embed_dims", 4, 4, 0),
    {.key = "depths", .kinds = NALA_SK_ARRAY, .item_kinds = NALA_SK_INT, .has_min = 1, .min = 1, .has_max = 1,
     .max = NALA_BACKBONE_MAX_DEPTH, .min_items = 4, .max_items = 4},
    NALA_SKEY_POS_INT_LIST("num_heads", 4, 4, 0),
    /* A single number applies to all four stages. */
    {.key = "mlp_ratios", .kinds = NUM_OR_LIST4, .item_kinds = NALA_SK_NUMBER, .has_min = 1, .min = 0,
     .min_exclusive = 1, .min_items = 4, .max_items = 4},
    {.key = "layerscales", .kinds = NALA_SK_BOOL | NALA_SK_ARRAY, .item_kinds = NALA_SK_BOOL, .min_items = 4,
     .max_items = 4},
    {.key = "layer_init_values", .kinds = NUM_OR_LIST4, .item_kinds = NALA_SK_NUMBER, .min_items = 4,
     .max_items = 4},
    /* "llvv", "l,l,v,v", per-block strings, or a list of 4 per-stage strings ("l" or one flag per block). */
    {.key = "attn", .kinds = NALA_SK_STRING | NALA_SK_ARRAY, .item_kinds = NALA_SK_STRING, .min_items = 4,
     .max_items = 4},
    {.key = "out_indices", .kinds = NALA_SK_ARRAY, .item_kinds = NALA_SK_INT, .has_min = 1, .min = 0, .has_max = 1,
     .max = 3, .min_items = 1, .max_items = 4},
    {.key = "weights", .kinds = NALA_SK_STRING | NALA_SK_NULL},
};
static const nala_schema nalaformer_schema = NALA_SCHEMA(nalaformer_keys);

static nala_status create(const cJSON *section, nala_weights *weights, const char *prefix, const nala_rt *rt,
                          void **out, nala_err *err) {
  nala_backbone_cfg cfg;
  NALA_CHECK(cfg_parse_backbone(section, &cfg, err));
  nala_backbone *m = NULL;
  NALA_CHECK(nala_backbone_load(&cfg, weights, prefix, rt, &m, err));
  *out = m;
  return NALA_OK;
}

/* in: the image (3 channels); out: the requested levels in out_indices order, as mmdet passes
 * the backbone's tuple to the neck. */
static nala_status plan(const void *module, nala_graph *g, const nala_feat *in, int n_in, nala_feat *out, int *n_out,
                        nala_err *err) {
  const nala_backbone *m = module;
  if (n_in != 1 || in[0].c != 3)
    return nala_fail(err, NALA_E_ARG, "NaLaFormer: expects one 3-channel image, got %d inputs", n_in);
  nala_feat levels[4];
  NALA_CHECK(nala_backbone_plan_graph(m, g, &in[0], levels, err));
  for (int i = 0; i < m->cfg.n_out; i++)
    out[i] = levels[m->cfg.out_indices[i]];
  *n_out = m->cfg.n_out;
  return NALA_OK;
}

static void free_module(void *module) { nala_backbone_free(module); }

const nala_module_type nala_nalaformer_module = {
    .type = {"NaLaFormer", &nalaformer_schema}, .create = create, .plan = plan, .free = free_module};
