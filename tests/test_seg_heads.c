/* The decode heads (heads/uper_head.c, heads/fpn_head.c) in the model root: backbone -> [FPN] ->
 * head from a config, against tools/reference/mmseg_ref.py (mmseg 1.x semantics) through
 * tools/reference/make_seg_head_fixtures.py: UperNet and Semantic FPN on NaLaFormer-XT with seeded
 * weights at 512x512 and 500x375 (C5 16x12: overlapping PPM bins); an mmseg-style checkpoint with
 * auxiliary_head.* and num_batches_tracked keys through the weights binder; strict key errors;
 * config errors naming their JSON path. */
#include <cjson/cJSON.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn/context.h"
#include "models/model.h"
#include "nala/config.h"
#include "nala/weights.h"
#include "tests/nn_test_util.h"
#include "tests/support/suite.h"
#include "tests/support/config_text.h"

#define REL_L2_MAX 1e-4

static const char *const whole_cases[] = {"uper_xt_512x512", "uper_xt_500x375", "fpn_xt_512x512",
                                          "fpn_xt_500x375"};

static nala_config *load_config(const char *name) {
  char path[512];
  snprintf(path, sizeof path, NALA_FIXTURES "/seg/%s", name);
  nala_config *cfg = NULL;
  nala_err err;
  ck_assert_msg(nala_config_load(path, &cfg, &err) == NALA_OK, "%s", err.msg);
  return cfg;
}

static const cJSON *model_section(const nala_config *cfg) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(nala_config_json(cfg), "model");
  ck_assert_ptr_nonnull(m);
  return m;
}

/* Plans the model at the fixture's input size, runs it on the fixture's input and returns the
 * decode logits' rel-L2 against the fixture (printing the figures). */
static double run_and_compare(const nala_model *m, const nala_st_file *fx, int nthreads, const char *label) {
  nala_err err;
  nala_feat in = nn_shape(fx, "input");
  nala_nn_ctx ctx;
  ck_assert_int_eq(nala_model_ctx_init(m, nthreads, &ctx, &err), NALA_OK);
  ck_assert_msg(nala_nn_ctx_plan(&ctx, in.h, in.w, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(ctx.graph.n_outs, 1);
  nn_put(fx, "input", ctx.ws, &ctx.graph.input);
  ck_assert_msg(nala_nn_ctx_run(&ctx, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(nala_graph_slow_primitives(&ctx.graph), 0);
  const nala_feat *out = &ctx.graph.outs[0];
  ck_assert_int_eq(out->h, (in.h + 3) / 4);
  ck_assert_int_eq(out->w, (in.w + 3) / 4);
  double rel = nn_check(fx, "decode_logits", ctx.ws, out, label);
  nala_nn_ctx_release(&ctx);
  return rel;
}

START_TEST(whole_decode_logits_match_mmseg) {
  char path[512];
  snprintf(path, sizeof path, NALA_FIXTURES "/seg/%s.safetensors", whole_cases[_i]);
  nala_err err;
  nala_st_file *fx = NULL;
  ck_assert_msg(nala_st_open(path, &fx, &err) == NALA_OK, "%s", err.msg);
  nala_config *cfg = load_config(nala_st_metadata(fx, "config"));
  nala_weights *w = NULL;
  ck_assert_int_eq(nala_weights_seeded(0, &w, &err), NALA_OK);
  nala_model *m = NULL;
  ck_assert_msg(nala_model_create(model_section(cfg), w, NALA_ISA_AUTO, &m, &err) == NALA_OK, "%s", err.msg);
  nala_weights_close(w);
  ck_assert_int_eq(m->n, strncmp(whole_cases[_i], "fpn", 3) ? 2 : 3);
  ck_assert_str_eq(m->notice, ""); /* a seeded binder holds no auxiliary_head keys */
  char label[96];
  snprintf(label, sizeof label, "%s decode_logits", whole_cases[_i]);
  ck_assert(run_and_compare(m, fx, 2, label) <= REL_L2_MAX);
  nala_model_free(m);
  nala_config_free(cfg);
  nala_st_close(fx);
}
END_TEST

/* An mmseg checkpoint as mmseg saves it (auxiliary_head.*, int64 num_batches_tracked): loads
 * strictly but for those, with one notice, and computes what mmseg computes. */
START_TEST(mmseg_checkpoint_with_auxiliary_head) {
  nala_err err;
  nala_st_file *fx = NULL;
  ck_assert_int_eq(nala_st_open(NALA_FIXTURES "/seg/aux_tiny_64x96.safetensors", &fx, &err), NALA_OK);
  nala_config *cfg = load_config("aux_tiny.json");
  nala_weights *w = NULL;
  ck_assert_int_eq(nala_weights_open(NALA_FIXTURES "/seg/aux_tiny_ckpt.safetensors", &w, &err), NALA_OK);
  nala_model *m = NULL;
  ck_assert_msg(nala_model_create(model_section(cfg), w, NALA_ISA_AUTO, &m, &err) == NALA_OK, "%s", err.msg);
  nala_weights_close(w);
  printf("notice: %s\n", m->notice);
  ck_assert_msg(strstr(m->notice, "auxiliary_head: 8 weight(s) skipped") != NULL, "%s", m->notice);
  for (int nthreads = 1; nthreads <= 2; nthreads++) {
    char label[64];
    snprintf(label, sizeof label, "aux_tiny checkpoint, %d thread(s)", nthreads);
    ck_assert(run_and_compare(m, fx, nthreads, label) <= REL_L2_MAX);
  }
  nala_model_free(m);
  nala_config_free(cfg);
  nala_st_close(fx);
}
END_TEST

/* The same checkpoint under a config that disagrees with it: one error naming every key. */
START_TEST(checkpoint_key_errors_name_every_key) {
  static const struct {
    const char *key;
    int value[5], n;
    const char *want[3];
  } cases[] = {
      {"pool_scales", {1, 2, 3, 6, 8}, 5, {"decode_head.psp_modules.4.1.conv.weight", "decode_head.bottleneck.conv.weight", NULL}},
      {"pool_scales", {1, 2, 3}, 3, {"decode_head.psp_modules.3.1.conv.weight", "decode_head.bottleneck.conv.weight", NULL}},
      {"channels", {8}, 1, {"decode_head.conv_seg.weight", "decode_head.fpn_bottleneck.conv.weight", "decode_head.lateral_convs.0.bn.weight"}},
  };
  nala_config *cfg = load_config("aux_tiny.json");
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    cJSON *model = cJSON_Duplicate(model_section(cfg), 1);
    cJSON *head = cJSON_GetObjectItemCaseSensitive(model, "decode_head");
    cJSON_DeleteItemFromObjectCaseSensitive(head, cases[c].key);
    cJSON_AddItemToObject(head, cases[c].key,
                          cases[c].n == 1 ? cJSON_CreateNumber(cases[c].value[0])
                                          : cJSON_CreateIntArray(cases[c].value, cases[c].n));
    nala_err err;
    nala_weights *w = NULL;
    ck_assert_int_eq(nala_weights_open(NALA_FIXTURES "/seg/aux_tiny_ckpt.safetensors", &w, &err), NALA_OK);
    nala_model *m = NULL;
    nala_status st = nala_model_create(model, w, NALA_ISA_AUTO, &m, &err);
    ck_assert_int_ne(st, NALA_OK);
    ck_assert_ptr_null(m);
    printf("checkpoint vs %s changed: %s\n", cases[c].key, err.msg);
    const char *report = nala_weights_report(w);
    for (int k = 0; k < 3 && cases[c].want[k]; k++)
      ck_assert_msg(strstr(report, cases[c].want[k]) != NULL, "want %s in:\n%s", cases[c].want[k], report);
    ck_assert_msg(strstr(report, "auxiliary_head") == NULL && strstr(report, "num_batches_tracked") == NULL,
                  "skipped keys reported:\n%s", report);
    nala_weights_close(w);
    cJSON_Delete(model);
  }
  nala_config_free(cfg);
}
END_TEST

#define BB "\"backbone\": {\"type\": \"NaLaFormer\", \"variant\": \"xt\"}"
#define UPER(extra)                                                                                                \
  "{\"model\": {\"type\": \"EncoderDecoder\", " BB ", \"decode_head\": {\"type\": \"UPerHead\", \"in_channels\": " \
  "[32, 64, 128, 384], \"in_index\": [0, 1, 2, 3], \"channels\": 8, \"num_classes\": 3" extra "}}}"
#define FPNH(extra)                                                                                                \
  "{\"model\": {\"type\": \"EncoderDecoder\", " BB ", \"neck\": {\"type\": \"FPN\", \"in_channels\": [32, 64, 128, " \
  "384], \"out_channels\": 8, \"num_outs\": 4}, \"decode_head\": {\"type\": \"FPNHead\", \"in_channels\": [8, 8, 8, " \
  "8], \"in_index\": [0, 1, 2, 3], \"channels\": 8, \"num_classes\": 3" extra "}}}"

/* Config errors name their JSON path; cross-key errors come from the module's create. */
START_TEST(bad_head_configs_are_errors) {
  static const struct {
    const char *json, *want;
    int at_create;
  } cases[] = {
      {UPER(", \"pool_scale\": [1, 2]"), "model.decode_head: unknown key \"pool_scale\" (did you mean \"pool_scales\"?)", 0},
      {UPER(", \"pool_scales\": [1, 0]"), "model.decode_head.pool_scales[1]", 0},
      {UPER(", \"norm_cfg\": {\"type\": \"GN\"}"), "model.decode_head.norm_cfg.type", 0},
      {UPER(", \"loss_decode\": 3"), "model.decode_head.loss_decode", 0},
      {FPNH(""), "model.decode_head: missing required key \"feature_strides\"", 0},
      {FPNH(", \"feature_strides\": [4, 8, 16, 32], \"upsample\": true"), "model.decode_head: unknown key \"upsample\"", 0},
      {"{\"model\": {\"type\": \"EncoderDecoder\", " BB ", \"decode_head\": {\"type\": \"UperHead\"}}}",
       "model.decode_head.type", 0},
      {"{\"model\": {\"type\": \"EncoderDecoder\", " BB ", \"auxiliary_head\": {\"type\": \"FCNHead\", "
       "\"in_channels\": 128, \"in_index\": 2, \"channels\": 8, \"num_classes\": 3, \"num_conv\": 1}}}",
       "model.auxiliary_head: unknown key \"num_conv\" (did you mean \"num_convs\"?)", 0},
      {UPER(", \"align_corners\": true"), "model.decode_head.align_corners: true is not supported", 1},
      {UPER(", \"out_channels\": 1"), "model.decode_head.out_channels: 1 differs from num_classes 3", 1},
      {"{\"model\": {\"type\": \"EncoderDecoder\", " BB ", \"decode_head\": {\"type\": \"UPerHead\", \"in_channels\": "
       "[32, 64, 128, 384], \"in_index\": [0, 1, 2], \"channels\": 8, \"num_classes\": 3}}}",
       "model.decode_head.in_index: 3 entries but in_channels has 4", 1},
      {FPNH(", \"feature_strides\": [8, 4, 16, 32]"), "model.decode_head.feature_strides[1]: 4 is below", 1},
      {FPNH(", \"feature_strides\": [4, 8, 16]"), "model.decode_head.feature_strides: 3 entries but in_channels has 4", 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    nala_config *cfg = NULL;
    nala_err err;
    nala_status st = nala_test_config_text(cases[i].json, &cfg, &err);
    if (cases[i].at_create) {
      ck_assert_msg(st == NALA_OK, "case %zu: %s", i, err.msg);
      nala_weights *w = NULL;
      ck_assert_int_eq(nala_weights_seeded(0, &w, &err), NALA_OK);
      nala_model *m = NULL;
      st = nala_model_create(model_section(cfg), w, NALA_ISA_AUTO, &m, &err);
      ck_assert_ptr_null(m);
      nala_weights_close(w);
      nala_config_free(cfg);
    }
    ck_assert_msg(st != NALA_OK, "case %zu accepted", i);
    printf("bad head config %zu: %s\n", i, err.msg);
    ck_assert_msg(strstr(err.msg, cases[i].want) != NULL, "case %zu: want \"%s\" in \"%s\"", i, cases[i].want,
                  err.msg);
  }
}
END_TEST

/* A head whose in_channels disagree with the levels it is given fails at plan, naming both. */
START_TEST(head_input_mismatch_is_an_error) {
  nala_config *cfg = NULL;
  nala_err err;
  ck_assert_int_eq(nala_test_config_text("{\"model\": {\"type\": \"EncoderDecoder\", " BB ", \"decode_head\": "
                                         "{\"type\": \"UPerHead\", \"in_channels\": [32, 64, 128, 256], "
                                         "\"in_index\": [0, 1, 2, 3], \"channels\": 8, \"num_classes\": 3}}}",
                                         &cfg, &err),
                   NALA_OK);
  nala_weights *w = NULL;
  ck_assert_int_eq(nala_weights_seeded(0, &w, &err), NALA_OK);
  nala_model *m = NULL;
  ck_assert_msg(nala_model_create(model_section(cfg), w, NALA_ISA_AUTO, &m, &err) == NALA_OK, "%s", err.msg);
  nala_weights_close(w);
  nala_nn_ctx ctx;
  ck_assert_int_eq(nala_model_ctx_init(m, 1, &ctx, &err), NALA_OK);
  ck_assert_int_ne(nala_nn_ctx_plan(&ctx, 64, 64, &err), NALA_OK);
  printf("mismatched head: %s\n", err.msg);
  ck_assert_msg(strstr(err.msg, "UPerHead: in_channels[3] = 256, the input level 3 has 384 channels") != NULL, "%s",
                err.msg);
  nala_nn_ctx_release(&ctx);
  nala_model_free(m);
  nala_config_free(cfg);
}
END_TEST

/* The shipped configs load, with mmseg's numbers; the Cityscapes ones switch to slide mode with
 * --cfg-options; UperNet-T and SemanticFPN-T build with seeded weights and plan to logits at 1/4 (256x320 -> 64x80). */
START_TEST(shipped_seg_configs_load_and_build) {
  static const struct {
    const char *file, *head;
    int classes, channels, in3, build;
  } cfgs[] = {
      {"upernet_nalaformer-t_512x512_ade20k.json", "UPerHead", 150, 512, 512, 1},
      {"upernet_nalaformer-s_512x512_ade20k.json", "UPerHead", 150, 512, 512, 0},
      {"upernet_nalaformer-b_512x512_ade20k.json", "UPerHead", 150, 512, 512, 0},
      {"fpn_nalaformer-t_512x512_ade20k.json", "FPNHead", 150, 128, 256, 1},
      {"fpn_nalaformer-s_512x512_ade20k.json", "FPNHead", 150, 128, 256, 0},
      {"upernet_nalaformer-t_512x1024_cityscapes.json", "UPerHead", 19, 512, 512, 0},
      {"fpn_nalaformer-t_512x1024_cityscapes.json", "FPNHead", 19, 128, 256, 0},
  };
  for (size_t i = 0; i < sizeof cfgs / sizeof *cfgs; i++) {
    char path[512];
    snprintf(path, sizeof path, NALA_SOURCE_DIR "/configs/%s", cfgs[i].file);
    nala_err err;
    nala_config *cfg = NULL;
    const char *slide[] = {"model.test_cfg.mode=slide"};
    int city = strstr(cfgs[i].file, "cityscapes") != NULL;
    ck_assert_msg(nala_config_load_with(path, slide, city, &cfg, &err) == NALA_OK, "%s", err.msg);
    const cJSON *model = model_section(cfg);
    const cJSON *head = cJSON_GetObjectItemCaseSensitive(model, "decode_head");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(head, "type")->valuestring, cfgs[i].head);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(head, "num_classes")->valueint, cfgs[i].classes);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(head, "channels")->valueint, cfgs[i].channels);
    ck_assert_int_eq(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(head, "in_channels"), 3)->valueint,
                     cfgs[i].in3);
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(model, "test_cfg");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(tc, "mode")->valuestring, city ? "slide" : "whole");
    if (city) {
      ck_assert_int_eq(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(tc, "crop_size"), 0)->valueint, 1024);
      ck_assert_int_eq(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(tc, "stride"), 1)->valueint, 768);
      /* without the option: whole mode over the test pipeline's 2048x1024 Resize (keep_ratio) */
      nala_config *plain = NULL;
      ck_assert_msg(nala_config_load(path, &plain, &err) == NALA_OK, "%s", err.msg);
      const nala_model_cfg *mc = nala_config_model(plain);
      ck_assert_str_eq(mc->test_cfg.mode, "whole");
      ck_assert(mc->preprocess.has_resize && mc->preprocess.keep_ratio);
      ck_assert(mc->preprocess.scale[0] == 2048 && mc->preprocess.scale[1] == 1024);
      ck_assert(mc->test_cfg.crop_size[0] == 1024 && mc->test_cfg.stride[1] == 768);
      printf("%s: %s by default, Resize %dx%d (keep_ratio); slide %dx%d stride %d with the option\n", cfgs[i].file,
             mc->test_cfg.mode, mc->preprocess.scale[0], mc->preprocess.scale[1], mc->test_cfg.crop_size[0],
             mc->test_cfg.crop_size[1], mc->test_cfg.stride[0]);
      nala_config_free(plain);
    }
    if (cfgs[i].build) {
      nala_weights *w = NULL;
      ck_assert_int_eq(nala_weights_seeded(0, &w, &err), NALA_OK);
      nala_model *m = NULL;
      ck_assert_msg(nala_model_create(model, w, NALA_ISA_AUTO, &m, &err) == NALA_OK, "%s: %s", cfgs[i].file, err.msg);
      nala_weights_close(w);
      nala_nn_ctx ctx;
      ck_assert_int_eq(nala_model_ctx_init(m, 1, &ctx, &err), NALA_OK);
      size_t bytes = 0;
      ck_assert_msg(nala_nn_ctx_workspace_size(&ctx, 256, 320, &bytes, &err) == NALA_OK, "%s", err.msg);
      ck_assert_int_eq(ctx.pending.n_outs, 1);
      ck_assert_int_eq(ctx.pending.outs[0].c, cfgs[i].classes);
      ck_assert_int_eq(ctx.pending.outs[0].h, 64);
      ck_assert_int_eq(ctx.pending.outs[0].w, 80);
      printf("%s: %d modules, %d ops, %.1f MB workspace at 256x320\n", cfgs[i].file, m->n, ctx.pending.n_ops,
             bytes / 1048576.0);
      nala_nn_ctx_release(&ctx);
      nala_model_free(m);
    }
    nala_config_free(cfg);
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("seg_heads");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 300);
  tcase_add_loop_test(tc, whole_decode_logits_match_mmseg, 0, 4);
  tcase_add_test(tc, mmseg_checkpoint_with_auxiliary_head);
  tcase_add_test(tc, checkpoint_key_errors_name_every_key);
  tcase_add_test(tc, bad_head_configs_are_errors);
  tcase_add_test(tc, head_input_mismatch_is_an_error);
  tcase_add_test(tc, shipped_seg_configs_load_and_build);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return nala_run_suite(suite()); }
