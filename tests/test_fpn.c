/* The FPN neck (necks/fpn.c) against the PyTorch mmdet FPN of tools/reference/make_nn_fixtures.py
 * at an odd input (75 x 101: levels 19x26 .. 3x4), for each extra-level mode; its config table
 * through the module registry; and backbone + FPN as one graph in one context. */
#include <cjson/cJSON.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn/context.h"
#include "models/model.h"
#include "models/registry.h"
#include "nala/backbone.h"
#include "nala/config.h"
#include "core/config_schema.h"
#include "tests/nn_test_util.h"
#include "tests/support/suite.h"
#include "tests/support/config_text.h"

#define REL_L2_MAX 1e-4

static const char *const cases[] = {"maskrcnn", "retina", "on_output_relu", "semfpn"};

/* The neck section mmdet would hold for the fixture's metadata. */
static cJSON *section_for(const nala_st_file *fx) {
  char json[512];
  const char *extra = nala_st_metadata(fx, "add_extra_convs");
  char extra_json[32];
  snprintf(extra_json, sizeof extra_json, !strcmp(extra, "False") ? "false" : "\"%s\"", extra);
  snprintf(json, sizeof json,
           "{\"type\": \"FPN\", \"in_channels\": [%s], \"out_channels\": %s, \"num_outs\": %s, \"start_level\": %s, "
           "\"add_extra_convs\": %s, \"relu_before_extra_convs\": %s}",
           nala_st_metadata(fx, "in_channels"), nala_st_metadata(fx, "out_channels"), nala_st_metadata(fx, "num_outs"),
           nala_st_metadata(fx, "start_level"), extra_json,
           !strcmp(nala_st_metadata(fx, "relu_before_extra_convs"), "True") ? "true" : "false");
  cJSON *s = cJSON_Parse(json);
  ck_assert_ptr_nonnull(s);
  return s;
}

START_TEST(fpn_matches_torch) {
  char path[512];
  snprintf(path, sizeof path, NALA_FIXTURES "/nn/fpn_%s.safetensors", cases[_i]);
  nala_err err;
  nala_err_clear(&err);
  nala_st_file *fx = NULL;
  ck_assert_msg(nala_st_open(path, &fx, &err) == NALA_OK, "%s", err.msg);
  cJSON *section = section_for(fx);
  ck_assert_msg(nala_schema_validate(section, &nala_neck_slot_schema, "model.neck", &err) == NALA_OK, "%s", err.msg);
  const nala_module_type *t = nala_module_find("neck", "FPN");
  ck_assert_ptr_nonnull(t);

  nala_rt *rt = NULL;
  ck_assert_int_eq(nala_rt_create(NALA_ISA_AUTO, &rt, &err), NALA_OK);
  nala_weights *w = NULL;
  ck_assert_int_eq(nala_weights_open(path, &w, &err), NALA_OK);
  void *neck = NULL;
  ck_assert_msg(t->create(section, w, "neck", rt, &neck, &err) == NALA_OK, "%s", err.msg);
  ck_assert_msg(nala_weights_finish(w, "neck.", &err) == NALA_OK, "%s", err.msg);
  nala_weights_close(w);

  for (int nthreads = 1; nthreads <= 2; nthreads++) {
    nala_graph g;
    nala_graph_init(&g, rt->engine, nthreads);
    nala_feat in[4], out[NALA_MODULE_MAX_FEATS];
    for (int i = 0; i < 4; i++) {
      char name[16];
      snprintf(name, sizeof name, "in%d", i);
      nala_feat s = nn_shape(fx, name);
      in[i] = nala_graph_feat(&g, s.c, s.h, s.w);
    }
    int n_out = 0;
    ck_assert_msg(t->plan(neck, &g, in, 4, out, &n_out, &err) == NALA_OK, "%s", err.msg);
    ck_assert_int_eq(n_out, atoi(nala_st_metadata(fx, "num_outs")));
    char *ws = aligned_alloc(64, (nala_graph_ws_bytes(&g) + 63) / 64 * 64);
    nala_graph_bind(&g, ws);
    for (int i = 0; i < 4; i++) {
      char name[16];
      snprintf(name, sizeof name, "in%d", i);
      nn_put(fx, name, ws, &in[i]);
    }
    dnnl_stream_t stream;
    ck_assert_int_eq(dnnl_stream_create(&stream, rt->engine, dnnl_stream_default_flags), dnnl_success);
    ck_assert_msg(nala_graph_execute(&g, stream, &err) == NALA_OK, "%s", err.msg);
    ck_assert_int_eq(nala_graph_slow_primitives(&g), 0);
    for (int i = 0; i < n_out; i++) {
      char name[16], label[96];
      snprintf(name, sizeof name, "out%d", i);
      snprintf(label, sizeof label, "FPN %s, %d thread(s), level %d", cases[_i], nthreads, i);
      ck_assert(nn_check(fx, name, ws, &out[i], label) <= REL_L2_MAX);
    }
    dnnl_stream_destroy(stream);
    nala_graph_release(&g);
    free(ws);
  }
  t->free(neck);
  nala_rt_free(rt);
  cJSON_Delete(section);
  nala_st_close(fx);
}
END_TEST

/* model.neck validates against FPN's own table (from the registry): unknown keys and types are
 * errors naming the JSON path. */
START_TEST(neck_config_is_validated_by_its_module) {
  static const char *const good =
      "{\"model\": {\"type\": \"RetinaNet\", \"backbone\": {\"type\": \"NaLaFormer\", \"variant\": \"t\"},"
      " \"neck\": {\"type\": \"FPN\", \"in_channels\": [64, 128, 256, 512], \"out_channels\": 256,"
      " \"start_level\": 1, \"add_extra_convs\": \"on_input\", \"num_outs\": 5}}}";
  static const struct { const char *json, *want; } bad[] = {
      {"{\"model\": {\"type\": \"RetinaNet\", \"backbone\": {\"type\": \"NaLaFormer\", \"variant\": \"t\"},"
       " \"neck\": {\"type\": \"FPN\", \"in_channels\": [64], \"out_channels\": 8, \"num_outs\": 1,"
       " \"upsample_cfgs\": {}}}}",
       "model.neck: unknown key \"upsample_cfgs\" (did you mean \"upsample_cfg\"?)"},
      {"{\"model\": {\"type\": \"RetinaNet\", \"backbone\": {\"type\": \"NaLaFormer\", \"variant\": \"t\"},"
       " \"neck\": {\"type\": \"FPNN\"}}}",
       "model.neck.type: expected one of \"FPN\", got \"FPNN\""},
      {"{\"model\": {\"type\": \"RetinaNet\", \"backbone\": {\"type\": \"NaLaFormer\", \"variant\": \"t\"},"
       " \"neck\": {\"type\": \"FPN\", \"in_channels\": [64], \"out_channels\": 8, \"num_outs\": 1,"
       " \"add_extra_convs\": \"on_inputs\"}}}",
       "model.neck.add_extra_convs"},
      {"{\"model\": {\"type\": \"RetinaNet\", \"backbone\": {\"type\": \"NaLaFormer\", \"variant\": \"t\","
       " \"deths\": [2, 2, 2, 2]}}}",
       "model.backbone: unknown key \"deths\" (did you mean \"depths\"?)"},
  };
  nala_config *cfg = NULL;
  nala_err err;
  ck_assert_msg(nala_test_config_text(good, &cfg, &err) == NALA_OK, "%s", err.msg);
  nala_config_free(cfg);
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    ck_assert_int_eq(nala_test_config_text(bad[i].json, &cfg, &err), NALA_E_FORMAT);
    printf("bad neck config %zu: %s\n", i, err.msg);
    ck_assert_msg(strstr(err.msg, bad[i].want) != NULL, "want \"%s\" in \"%s\"", bad[i].want, err.msg);
  }
}
END_TEST

/* A graph of the model's first module (the backbone) only. */
static nala_status build_backbone_only(const void *model, nala_graph *g, int h, int w, nala_err *err) {
  const nala_model *m = model;
  g->input = nala_graph_feat(g, 3, h, w);
  NALA_CHECK(m->types[0]->plan(m->modules[0], g, &g->input, 1, g->outs, &g->n_outs, err));
  return NALA_OK;
}

/* NaLaFormer-XT + FPN from one model section, one graph, one workspace: the neck's outputs equal
 * the backbone run in its own context followed by the neck on a graph of its own, bit for bit. */
START_TEST(backbone_and_neck_in_one_graph) {
  static const char *const model_json =
      "{\"type\": \"MaskRCNN\", \"backbone\": {\"type\": \"NaLaFormer\", \"variant\": \"xt\"},"
      " \"neck\": {\"type\": \"FPN\", \"in_channels\": [32, 64, 128, 384], \"out_channels\": 16, \"num_outs\": 5}}";
  cJSON *model = cJSON_Parse(model_json);
  nala_err err;
  nala_err_clear(&err);
  nala_weights *w = NULL;
  ck_assert_int_eq(nala_weights_seeded(5, &w, &err), NALA_OK);
  nala_model *m = NULL;
  ck_assert_msg(nala_model_create(model, w, NALA_ISA_AUTO, &m, &err) == NALA_OK, "%s", err.msg);
  nala_weights_close(w);
  ck_assert_int_eq(m->n, 2);
  int h = 75, wd = 101;
  nala_nn_ctx ctx;
  ck_assert_int_eq(nala_model_ctx_init(m, 2, &ctx, &err), NALA_OK);
  size_t bytes = 0;
  ck_assert_int_eq(nala_nn_ctx_workspace_size(&ctx, h, wd, &bytes, &err), NALA_OK);
  ck_assert_int_eq(nala_nn_ctx_plan(&ctx, h, wd, &err), NALA_OK);
  ck_assert_uint_eq(nala_graph_ws_bytes(&ctx.graph), bytes);
  ck_assert_int_eq(ctx.graph.n_outs, 5);
  float *image = nala_nn_ctx_at(&ctx, ctx.graph.input.off);
  for (int i = 0; i < 3 * h * wd; i++)
    image[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f;
  ck_assert_msg(nala_nn_ctx_run(&ctx, &err) == NALA_OK, "%s", err.msg);

  /* The backbone alone in its own context, then the neck alone on a graph fed with its outputs. */
  const nala_graph *full = &ctx.graph;
  nala_nn_ctx bb_ctx;
  ck_assert_int_eq(nala_nn_ctx_init(&bb_ctx, m, build_backbone_only, m->rt->engine, 2, &err), NALA_OK);
  ck_assert_int_eq(nala_nn_ctx_plan(&bb_ctx, h, wd, &err), NALA_OK);
  memcpy(nala_nn_ctx_at(&bb_ctx, bb_ctx.graph.input.off), image, (size_t)3 * h * wd * sizeof(float));
  ck_assert_int_eq(nala_nn_ctx_run(&bb_ctx, &err), NALA_OK);
  nala_graph g;
  nala_graph_init(&g, m->rt->engine, 2);
  nala_feat in[4], out[NALA_MODULE_MAX_FEATS];
  for (int i = 0; i < 4; i++)
    in[i] = nala_graph_feat(&g, bb_ctx.graph.outs[i].c, bb_ctx.graph.outs[i].h, bb_ctx.graph.outs[i].w);
  int n_out = 0;
  ck_assert_int_eq(m->types[1]->plan(m->modules[1], &g, in, 4, out, &n_out, &err), NALA_OK);
  ck_assert_int_eq(n_out, 5);
  char *ws = aligned_alloc(64, (nala_graph_ws_bytes(&g) + 63) / 64 * 64);
  nala_graph_bind(&g, ws);
  for (int i = 0; i < 4; i++)
    memcpy(ws + in[i].off, nala_nn_ctx_at(&bb_ctx, bb_ctx.graph.outs[i].off),
           (size_t)in[i].c * in[i].h * in[i].w * sizeof(float));
  ck_assert_int_eq(nala_graph_execute(&g, bb_ctx.stream, &err), NALA_OK);
  for (int i = 0; i < 5; i++) {
    ck_assert_int_eq(full->outs[i].c * full->outs[i].h * full->outs[i].w, out[i].c * out[i].h * out[i].w);
    char label[64];
    snprintf(label, sizeof label, "one graph vs backbone then neck, level %d", i);
    nala_cmp r = nala_compare_f32(label, nala_nn_ctx_at(&ctx, full->outs[i].off), (const float *)(ws + out[i].off),
                                  (size_t)out[i].c * out[i].h * out[i].w, 0, 0);
    ck_assert(r.max_abs == 0);
  }
  nala_graph_release(&g);
  free(ws);
  nala_nn_ctx_release(&bb_ctx);
  printf("backbone + FPN, one graph: %d ops, %.1f MB workspace, levels", ctx.graph.n_ops, bytes / 1048576.0);
  for (int i = 0; i < 5; i++)
    printf(" %dx%dx%d", full->outs[i].c, full->outs[i].h, full->outs[i].w);
  printf("\n");
  nala_nn_ctx_release(&ctx);
  nala_model_free(m);
  cJSON_Delete(model);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("fpn");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 300);
  tcase_add_loop_test(tc, fpn_matches_torch, 0, 4);
  tcase_add_test(tc, neck_config_is_validated_by_its_module);
  tcase_add_test(tc, backbone_and_neck_in_one_graph);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nala_run_suite(suite()); }
