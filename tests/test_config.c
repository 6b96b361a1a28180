/* nftw needs X/Open. */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <ftw.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nala/config.h"
#include "core/config_schema.h"
#include "tests/support/cli.h"
#include "tests/support/files.h"
#include "tests/support/suite.h"

/* ---- backbone presets: the numbers of the NALAFORMER_* constructors in NaLaformer/NALA.py ---- */

typedef struct official_variant {
  const char *name;
  int embed[4], depths[4], heads[4], ffn[4];
  float mlp;
  float init[4];
} official_variant;

static const official_variant official[] = {
    {"xt", {32, 64, 128, 384}, {2, 2, 2, 2}, {1, 2, 4, 12}, {112, 224, 448, 1344}, 3.5f, {1, 1, 1, 1}},
    {"t", {64, 128, 256, 512}, {2, 2, 6, 2}, {1, 2, 4, 8}, {256, 512, 1024, 2048}, 4.0f, {1, 1, 1, 1}},
    {"s", {64, 128, 320, 512}, {3, 5, 9, 3}, {1, 2, 5, 8}, {224, 448, 1120, 1792}, 3.5f, {1, 1, 1, 1}},
    {"b", {96, 192, 384, 512}, {4, 6, 12, 6}, {1, 2, 6, 8}, {384, 768, 1536, 2048}, 4.0f, {1, 1, 1e-6f, 1e-6f}},
    {"l", {96, 192, 448, 640}, {4, 7, 19, 8}, {1, 2, 7, 10}, {336, 672, 1568, 2240}, 3.5f, {1e-6f, 1e-6f, 1e-6f, 1e-6f}},
};

START_TEST(presets_equal_official_numbers) {
  const official_variant *want = &official[_i];
  nala_backbone_cfg cfg;
  nala_err err;
  nala_err_clear(&err);
  ck_assert_int_eq(nala_backbone_cfg_preset(want->name, &cfg, &err), NALA_OK);
  ck_assert_str_eq(cfg.variant, want->name);
  for (int s = 0; s < 4; s++) {
    ck_assert_int_eq(cfg.embed_dims[s], want->embed[s]);
    ck_assert_int_eq(cfg.depths[s], want->depths[s]);
    ck_assert_int_eq(cfg.num_heads[s], want->heads[s]);
    ck_assert_int_eq(cfg.ffn_dims[s], want->ffn[s]);
    ck_assert_float_eq(cfg.mlp_ratios[s], want->mlp);
    ck_assert_int_eq(cfg.layerscales[s], 1);
    ck_assert_float_eq(cfg.layer_init_values[s], want->init[s]);
    ck_assert_int_eq((int)strlen(cfg.attn[s]), want->depths[s]);
    for (int b = 0; b < want->depths[s]; b++)
      ck_assert_int_eq(cfg.attn[s][b], s < 2 ? 'l' : 'v');
    ck_assert_int_eq(cfg.out_indices[s], s);
  }
  ck_assert_int_eq(cfg.n_out, 4);
  ck_assert_str_eq(cfg.weights, "");
  ck_assert_int_eq(nala_backbone_cfg_validate(&cfg, &err), NALA_OK);
}
END_TEST

START_TEST(preset_is_case_insensitive_and_rejects_unknown) {
  nala_backbone_cfg cfg;
  nala_err err;
  ck_assert_int_eq(nala_backbone_cfg_preset("XT", &cfg, &err), NALA_OK);
  ck_assert_str_eq(cfg.variant, "xt");
  ck_assert_int_eq(nala_backbone_cfg_preset("m", &cfg, &err), NALA_E_ARG);
  ck_assert_str_eq(err.msg, "unknown NaLaFormer variant \"m\" (expected xt, t, s, b or l)");
  ck_assert_int_eq(nala_backbone_cfg_preset("tiny-long-name", &cfg, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_backbone_cfg_preset(NULL, &cfg, &err), NALA_E_ARG);
}
END_TEST

START_TEST(set_attn_accepts_every_spec_form) {
  nala_backbone_cfg cfg;
  nala_err err;
  ck_assert_int_eq(nala_backbone_cfg_preset("t", &cfg, &err), NALA_OK); /* depths 2,2,6,2 */
  ck_assert_int_eq(nala_backbone_cfg_set_attn(&cfg, "v,l,l,v", &err), NALA_OK);
  ck_assert_str_eq(cfg.attn[0], "vv");
  ck_assert_str_eq(cfg.attn[1], "ll");
  ck_assert_str_eq(cfg.attn[2], "llllll");
  ck_assert_str_eq(cfg.attn[3], "vv");
  ck_assert_int_eq(nala_backbone_cfg_set_attn(&cfg, "lv,l,lvlvlv,v", &err), NALA_OK);
  ck_assert_str_eq(cfg.attn[0], "lv");
  ck_assert_str_eq(cfg.attn[2], "lvlvlv");
  ck_assert_int_eq(nala_backbone_cfg_set_attn(&cfg, "vvvl", &err), NALA_OK);
  ck_assert_str_eq(cfg.attn[2], "vvvvvv");
  ck_assert_str_eq(cfg.attn[3], "ll");
  ck_assert_int_eq(nala_backbone_cfg_set_attn(&cfg, "llvvlllllvvl", &err), NALA_OK);
  ck_assert_str_eq(cfg.attn[0], "ll");
  ck_assert_str_eq(cfg.attn[1], "vv");
  ck_assert_str_eq(cfg.attn[2], "lllllv");
  ck_assert_str_eq(cfg.attn[3], "vl");
  ck_assert_int_eq(nala_backbone_cfg_set_attn(&cfg, "l", &err), NALA_OK);
  ck_assert_str_eq(cfg.attn[2], "llllll");
  ck_assert_int_eq(nala_backbone_cfg_validate(&cfg, &err), NALA_OK);
}
END_TEST

START_TEST(set_attn_rejects_bad_specs_and_keeps_cfg) {
  nala_backbone_cfg cfg;
  nala_err err;
  ck_assert_int_eq(nala_backbone_cfg_preset("t", &cfg, &err), NALA_OK);
  ck_assert_int_eq(nala_backbone_cfg_set_attn(&cfg, "l,l,x,v", &err), NALA_E_ARG);
  ck_assert_str_eq(err.msg, "attn \"l,l,x,v\": flag 'x' at position 4 is not 'l' or 'v'");
  ck_assert_int_eq(nala_backbone_cfg_set_attn(&cfg, "l,l,vvv,v", &err), NALA_E_ARG);
  ck_assert_str_eq(err.msg, "attn \"l,l,vvv,v\": stage 2 has 3 flags, expected 1 or depth 6");
  ck_assert_int_eq(nala_backbone_cfg_set_attn(&cfg, "l,l,v", &err), NALA_E_ARG);
  ck_assert_str_eq(err.msg, "attn \"l,l,v\": expected 4 comma-separated stage fields, 1 flag, 4 per-stage flags "
                            "or 12 per-block flags");
  ck_assert_int_eq(nala_backbone_cfg_set_attn(&cfg, "l,l,v,v,v", &err), NALA_E_ARG);
  ck_assert_int_eq(nala_backbone_cfg_set_attn(&cfg, "", &err), NALA_E_ARG);
  ck_assert_int_eq(nala_backbone_cfg_set_attn(&cfg, "lllll", &err), NALA_E_ARG);
  ck_assert_str_eq(cfg.attn[0], "ll"); /* untouched by the failures */
  ck_assert_str_eq(cfg.attn[2], "vvvvvv");
}
END_TEST

START_TEST(validate_names_the_field_at_fault) {
  nala_backbone_cfg cfg;
  nala_err err;
  ck_assert_int_eq(nala_backbone_cfg_preset("s", &cfg, &err), NALA_OK);
  cfg.num_heads[2] = 3; /* 320 % 3 != 0 */
  ck_assert_int_eq(nala_backbone_cfg_validate(&cfg, &err), NALA_E_ARG);
  ck_assert_str_eq(err.msg, "num_heads[2]: 3 does not divide embed_dims[2] = 320");
  cfg.num_heads[2] = 10; /* head_dim 32 */
  ck_assert_int_eq(nala_backbone_cfg_validate(&cfg, &err), NALA_OK);
  cfg.num_heads[2] = 16; /* head_dim 20 */
  ck_assert_int_eq(nala_backbone_cfg_validate(&cfg, &err), NALA_OK);
  cfg.num_heads[2] = 32; /* head_dim 10 */
  ck_assert_int_eq(nala_backbone_cfg_validate(&cfg, &err), NALA_E_ARG);
  ck_assert_str_eq(err.msg,
                   "num_heads[2]: head_dim = embed_dims[2] / num_heads[2] = 10 is not divisible by 4 (2-D RoPE)");
  ck_assert_int_eq(nala_backbone_cfg_preset("s", &cfg, &err), NALA_OK);
  cfg.depths[1] = 0;
  ck_assert_int_eq(nala_backbone_cfg_validate(&cfg, &err), NALA_E_ARG);
  ck_assert_str_eq(err.msg, "depths[1]: expected integer in 1..63, got 0");
  ck_assert_int_eq(nala_backbone_cfg_preset("s", &cfg, &err), NALA_OK);
  cfg.depths[1] = 4; /* attn still has 5 flags */
  ck_assert_int_eq(nala_backbone_cfg_validate(&cfg, &err), NALA_E_ARG);
  ck_assert_str_eq(err.msg, "attn[1]: 5 flags for depth 4");
  ck_assert_int_eq(nala_backbone_cfg_preset("s", &cfg, &err), NALA_OK);
  cfg.attn[3][1] = 'x';
  ck_assert_int_eq(nala_backbone_cfg_validate(&cfg, &err), NALA_E_ARG);
  ck_assert_str_eq(err.msg, "attn[3][1]: flag 'x' is not 'l' or 'v'");
  ck_assert_int_eq(nala_backbone_cfg_preset("s", &cfg, &err), NALA_OK);
  cfg.out_indices[2] = 1;
  ck_assert_int_eq(nala_backbone_cfg_validate(&cfg, &err), NALA_E_ARG);
  ck_assert_str_eq(err.msg, "out_indices[2]: stage 1 is already listed at out_indices[1]");
  cfg.out_indices[2] = 4;
  ck_assert_int_eq(nala_backbone_cfg_validate(&cfg, &err), NALA_E_ARG);
  ck_assert_str_eq(err.msg, "out_indices[2]: expected integer in 0..3, got 4");
  cfg.n_out = 2; /* only the first two indices count */
  ck_assert_int_eq(nala_backbone_cfg_validate(&cfg, &err), NALA_OK);
  cfg.n_out = 0;
  ck_assert_int_eq(nala_backbone_cfg_validate(&cfg, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_backbone_cfg_preset("s", &cfg, &err), NALA_OK);
  cfg.mlp_ratios[0] = 0;
  ck_assert_int_eq(nala_backbone_cfg_validate(&cfg, &err), NALA_E_ARG);
  ck_assert_str_eq(err.msg, "mlp_ratios[0]: expected positive number, got 0");
}
END_TEST

static void add_backbone_cases(Suite *s) {
  TCase *tc = tcase_create("backbone");
  tcase_add_loop_test(tc, presets_equal_official_numbers, 0, (int)(sizeof official / sizeof official[0]));
  tcase_add_test(tc, preset_is_case_insensitive_and_rejects_unknown);
  tcase_add_test(tc, set_attn_accepts_every_spec_form);
  tcase_add_test(tc, set_attn_rejects_bad_specs_and_keeps_cfg);
  tcase_add_test(tc, validate_names_the_field_at_fault);
  suite_add_tcase(s, tc);
}


/* ---- JSON files: merging, includes, validation messages ---- */

#define FIX NALA_FIXTURES "/config"

static char tmp_dir[256];

static void make_tmp_dir(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(tmp_dir, sizeof tmp_dir, "%s/nala_test_config_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

/* nftw instead of `rm -rf`: a shell per test case is slow under ASan on a busy machine. */
static void remove_tmp_dir(void) { ck_assert_int_eq(nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0); }

/* Loads path, expects failure with exactly want_msg. */
static void expect_load_error(const char *path, nala_status want_status, const char *want_msg) {
  nala_config *cfg = (nala_config *)0x1;
  nala_err err;
  nala_err_clear(&err);
  nala_status st = nala_config_load(path, &cfg, &err);
  if (st == NALA_OK || strcmp(err.msg, want_msg))
    fprintf(stderr, "load %s\n  got  (%s) %s\n  want (%s) %s\n", path, nala_status_string(st), err.msg,
            nala_status_string(want_status), want_msg);
  ck_assert_int_eq(st, want_status);
  ck_assert_str_eq(err.msg, want_msg);
  ck_assert_ptr_null(cfg);
}

START_TEST(merge_follows_mmengine_rules) {
  cJSON *merged = NULL, *want = NULL;
  nala_err err;
  ck_assert_int_eq(nala_config_merge_file(FIX "/merge/child.json", &merged, &err), NALA_OK);
  char *want_text = nala_read_text(FIX "/merge/expected_merged.json");
  ck_assert_ptr_nonnull(want_text);
  want = cJSON_Parse(want_text);
  ck_assert_ptr_nonnull(want);
  ck_assert(cJSON_Compare(merged, want, 1));
  cJSON_Delete(want);
  cJSON_Delete(merged);

  /* Validated and printed: same tree, keys in merge order, byte for byte. */
  nala_config *cfg = NULL;
  ck_assert_int_eq(nala_config_load(FIX "/merge/child.json", &cfg, &err), NALA_OK);
  char *shown = nala_config_to_json(cfg);
  ck_assert_ptr_nonnull(shown);
  ck_assert_str_eq(shown, want_text);
  free(shown);
  free(want_text);

  const nala_model_cfg *model = nala_config_model(cfg);
  ck_assert_ptr_nonnull(model);
  ck_assert_str_eq(model->type, "Backbone");
  const nala_backbone_cfg *bb = &model->backbone;
  ck_assert_str_eq(bb->variant, "t"); /* child's base overrode "xt" */
  ck_assert_int_eq(bb->embed_dims[2], 256);
  ck_assert_int_eq(bb->ffn_dims[2], 512); /* mlp_ratios 2 for every stage */
  ck_assert_float_eq(bb->mlp_ratios[3], 2.0f);
  ck_assert_str_eq(bb->attn[0], "ll");
  ck_assert_str_eq(bb->attn[1], "vv");
  ck_assert_str_eq(bb->attn[2], "vvvvvv");
  ck_assert_int_eq(bb->n_out, 1);
  ck_assert_int_eq(bb->out_indices[0], 3);
  ck_assert_str_eq(bb->weights, "base.safetensors");
  ck_assert_str_eq(model->test_cfg.mode, "whole"); /* _delete_ dropped the base's slide settings */
  ck_assert_int_eq(model->test_cfg.crop_size[0], 0);
  const nala_preprocess_section *pp = &model->preprocess;
  ck_assert_float_eq(pp->mean[2], 3.0f);
  ck_assert_float_eq(pp->std[0], 4.0f);
  ck_assert_int_eq(pp->bgr_to_rgb, 1);
  ck_assert_int_eq(pp->pad_size_divisor, 1);
  ck_assert_int_eq(pp->has_resize, 1);
  ck_assert_int_eq(pp->scale[0], 1024);
  ck_assert_int_eq(pp->scale[1], 256);
  ck_assert_int_eq(pp->keep_ratio, 0); /* mmcv Resize default */
  const nala_dataset_cfg *ds = nala_config_dataset(cfg);
  ck_assert_ptr_nonnull(ds);
  ck_assert_int_eq(ds->type, NALA_DATASET_ADE20K);
  ck_assert_str_eq(ds->img_dir, "/data/ade/imgs");
  ck_assert_str_eq(ds->seg_map_dir, "/data/ade/annotations/validation");
  ck_assert_int_eq(ds->reduce_zero_label, 1);
  ck_assert_int_eq(ds->n_classes, 1);
  ck_assert_str_eq(ds->classes[0], "sky");
  nala_config_free(cfg);
  nala_config_free(NULL);
}
END_TEST

START_TEST(include_errors_name_the_chain) {
  expect_load_error(FIX "/errors/cycle_a.json", NALA_E_FORMAT,
                    FIX "/errors/cycle_a.json -> " FIX "/errors/cycle_b.json -> " FIX
                        "/errors/cycle_a.json: _base_ include cycle");
  expect_load_error(FIX "/errors/self_cycle.json", NALA_E_FORMAT,
                    FIX "/errors/self_cycle.json -> " FIX "/errors/self_cycle.json: _base_ include cycle");
  expect_load_error(FIX "/errors/missing_base.json", NALA_E_IO,
                    FIX "/errors/missing_base.json -> " FIX
                        "/merge/bases/nope.json: cannot open: No such file or directory");
  expect_load_error(FIX "/errors/includes_missing.json", NALA_E_IO,
                    FIX "/errors/includes_missing.json -> " FIX "/errors/sub/includes_missing_inner.json -> " FIX
                        "/merge/bases/nope.json: cannot open: No such file or directory");
  expect_load_error(FIX "/errors/no_such_file.json", NALA_E_IO,
                    FIX "/errors/no_such_file.json: cannot open: No such file or directory");
  expect_load_error(FIX "/errors", NALA_E_IO, FIX "/errors: cannot read: Is a directory");
  expect_load_error(FIX "/errors/conflict.json", NALA_E_FORMAT,
                    FIX "/errors/conflict.json: model.backbone.out_indices: an object here cannot merge into the "
                        "base's list; add \"_delete_\": true to replace it");
  /* A bad value written by a base file: the message names both files. */
  expect_load_error(FIX "/errors/base_sets_bad_value.json", NALA_E_FORMAT,
                    FIX "/errors/base_sets_bad_value.json: model.backbone.depths[2]: expected integer in 1..63, "
                        "got 0 (set in " FIX "/errors/sub/bad_depths.json)");
}
END_TEST

typedef struct bad_case {
  const char *json;
  const char *msg; /* after "<file>: " */
} bad_case;

#define BB(body) "{\"model\": {\"type\": \"Backbone\", \"backbone\": {\"type\": \"NaLaFormer\", " body "}}}"
#define TOP(body) "{\"model\": {\"type\": \"Backbone\", \"backbone\": {\"type\": \"NaLaFormer\", \"variant\": \"t\"}}, " body "}"

static const bad_case bad_cases[] = {
    {BB("\"variant\": \"t\", \"deths\": [1, 2, 3, 4]"), "model.backbone: unknown key \"deths\" (did you mean \"depths\"?)"},
    {BB("\"variant\": \"t\", \"depths\": [2, 2, \"6\", 2]"), "model.backbone.depths[2]: expected integer in 1..63, got \"6\""},
    {BB("\"variant\": \"t\", \"depths\": [2, 2, 64, 2]"), "model.backbone.depths[2]: expected integer in 1..63, got 64"},
    {BB("\"variant\": \"t\", \"embed_dims\": [64, 128, \"256\", 512]"),
     "model.backbone.embed_dims[2]: expected positive integer, got \"256\""},
    {BB("\"variant\": \"t\", \"embed_dims\": [64, 128, 256.5, 512]"),
     "model.backbone.embed_dims[2]: expected positive integer, got 256.5"},
    {BB("\"variant\": \"t\", \"embed_dims\": [64, 128, 256]"),
     "model.backbone.embed_dims: expected list of 4 positive integers, got [64,128,256]"},
    {BB("\"variant\": \"t\", \"mlp_ratios\": -1"),
     "model.backbone.mlp_ratios: expected positive number or list of 4 positive numbers, got -1"},
    {BB("\"variant\": \"t\", \"mlp_ratios\": [4, 4, 0, 4]"), "model.backbone.mlp_ratios[2]: expected positive number, got 0"},
    {BB("\"variant\": \"t\", \"layerscales\": [true, 1, true, true]"),
     "model.backbone.layerscales[1]: expected boolean, got 1"},
    {BB("\"variant\": \"t\", \"weights\": 5"), "model.backbone.weights: expected string or null, got 5"},
    {BB("\"variant\": \"m\""), "model.backbone.variant: expected one of \"xt\", \"t\", \"s\", \"b\", \"l\", got \"m\""},
    {BB("\"embed_dims\": [64, 128, 256, 512]"),
     "model.backbone: without \"variant\", all of embed_dims, depths, num_heads and mlp_ratios are required"},
    {BB("\"variant\": \"t\", \"num_heads\": [1, 2, 3, 8]"), "model.backbone.num_heads[2]: 3 does not divide embed_dims[2] = 256"},
    {BB("\"variant\": \"t\", \"num_heads\": [1, 2, 128, 8]"),
     "model.backbone.num_heads[2]: head_dim = embed_dims[2] / num_heads[2] = 2 is not divisible by 4 (2-D RoPE)"},
    {BB("\"variant\": \"t\", \"embed_dims\": [64, 128, 240, 512], \"num_heads\": [1, 2, 40, 8]"),
     "model.backbone.num_heads[2]: head_dim = embed_dims[2] / num_heads[2] = 6 is not divisible by 4 (2-D RoPE)"},
    {BB("\"variant\": \"t\", \"out_indices\": [0, 4]"), "model.backbone.out_indices[1]: expected integer in 0..3, got 4"},
    {BB("\"variant\": \"t\", \"out_indices\": [1, 1]"),
     "model.backbone.out_indices[1]: stage 1 is already listed at out_indices[0]"},
    {BB("\"variant\": \"t\", \"out_indices\": []"), "model.backbone.out_indices: expected list of 1..4 integers in 0..3, got []"},
    {BB("\"variant\": \"t\", \"attn\": \"l,l,x,v\""),
     "model.backbone: attn \"l,l,x,v\": flag 'x' at position 4 is not 'l' or 'v'"},
    {BB("\"variant\": \"t\", \"attn\": [\"l\", \"l\", \"vvv\", \"v\"]"),
     "model.backbone: attn \"l,l,vvv,v\": stage 2 has 3 flags, expected 1 or depth 6"},
    {BB("\"variant\": \"t\", \"attn\": [\"l\", \"l\", \"v\"]"),
     "model.backbone.attn: expected string or list of 4 strings, got [\"l\",\"l\",\"v\"]"},
    {BB("\"variant\": \"t\", \"variant\": \"s\""), "model.backbone: duplicate key \"variant\""},
    {"{\"model\": {\"type\": \"Foo\", \"backbone\": {\"type\": \"NaLaFormer\", \"variant\": \"t\"}}}",
     "model.type: expected one of \"Backbone\", \"EncoderDecoder\", \"MaskRCNN\", \"RetinaNet\", got \"Foo\""},
    {"{\"model\": {\"type\": \"Backbone\", \"backbone\": {\"type\": \"Swin\"}}}",
     "model.backbone.type: expected one of \"NaLaFormer\", got \"Swin\""},
    {"{\"model\": {\"type\": \"Backbone\", \"backbone\": {\"variant\": \"t\"}}}", "model.backbone: missing required key \"type\""},
    {"{\"model\": {\"type\": \"Backbone\", \"backbone\": {\"typ\": \"NaLaFormer\", \"variant\": \"t\"}}}",
     "model.backbone: unknown key \"typ\" (did you mean \"type\"?)"},
    {"{\"model\": {\"type\": \"Backbone\"}}", "model: missing required key \"backbone\""},
    {"{\"modle\": {}}", "unknown key \"modle\" (did you mean \"model\"?)"},
    {"{\"model\": {\"type\": \"Backbone\", \"backbone\": {\"type\": \"NaLaFormer\", \"variant\": \"t\"}, "
     "\"test_cfg\": {\"mode\": \"slid\"}}}",
     "model.test_cfg.mode: expected one of \"whole\", \"slide\", got \"slid\""},
    {"{\"model\": {\"type\": \"Backbone\", \"backbone\": {\"type\": \"NaLaFormer\", \"variant\": \"t\"}, "
     "\"test_cfg\": {\"mode\": \"slide\", \"crop_size\": [512, 512]}}}",
     "model.test_cfg: mode \"slide\" needs crop_size and stride"},
    {"{\"model\": {\"type\": \"Backbone\", \"backbone\": {\"type\": \"NaLaFormer\", \"variant\": \"t\"}, "
     "\"data_preprocessor\": {\"type\": \"SegDataPreProcessor\", \"bgr_to_rgb\": \"yes\"}}}",
     "model.data_preprocessor.bgr_to_rgb: expected boolean, got \"yes\""},
    {"{\"model\": {\"type\": \"Backbone\", \"backbone\": {\"type\": \"NaLaFormer\", \"variant\": \"t\"}, "
     "\"data_preprocessor\": {\"type\": \"SegDataPreProcessor\", \"std\": [1, 0, 1]}}}",
     "model.data_preprocessor.std[1]: expected positive number, got 0"},
    {"{\"model\": {\"type\": \"Backbone\", \"backbone\": {\"type\": \"NaLaFormer\", \"variant\": \"t\"}, "
     "\"data_preprocessor\": {\"type\": \"SegDataPreProcessor\", \"seg_pad_val\": 256}}}",
     "model.data_preprocessor.seg_pad_val: expected integer in 0..255, got 256"},
    {TOP("\"dataset\": {\"type\": \"CocoDataset\", \"data_root\": \"d\", \"seg_map_dir\": \"x\"}"),
     "dataset: unknown key \"seg_map_dir\""},
    {TOP("\"dataset\": {\"type\": \"CityscapesDataset\"}"), "dataset: missing required key \"data_root\""},
    {TOP("\"dataset\": {\"type\": \"CityscapesDataset\", \"data_root\": \"d\", \"classes\": [\"a\", \"b\", \"a\"]}"),
     "dataset.classes[2]: \"a\" repeats dataset.classes[0]"},
    {TOP("\"test_pipeline\": [{\"type\": \"LoadImageFromFile\"}, {\"type\": \"Resize\", \"scale\": [2048]}]"),
     "test_pipeline[1].scale: expected list of 2 positive integers, got [2048]"},
    {TOP("\"test_pipeline\": [{\"type\": \"LoadImageFromFile\"}, {\"type\": \"Resize\", \"scale\": [1, 1], \"scale\": [2, 2]}]"),
     "test_pipeline[1]: duplicate key \"scale\""},
    {TOP("\"test_pipeline\": [{\"type\": \"RandomFlip\"}]"),
     "test_pipeline[0].type: expected one of \"LoadImageFromFile\", \"Resize\", \"LoadAnnotations\", \"PackDetInputs\", "
     "\"PackSegInputs\", got \"RandomFlip\""},
    {TOP("\"test_pipeline\": {\"type\": \"Resize\"}"), "test_pipeline: expected list of objects, got {\"type\":\"Resize\"}"},
    {"{\"_base_\": 3}", "_base_: expected string or list of strings, got number"},
    {"{\"_base_\": [3]}", "_base_[0]: expected string, got number"},
    {"[1, 2]", "top level must be a JSON object"},
    {"{\"model\":\n  {\"type\": \"Backbone\",,}}", "invalid JSON near line 2, column 24"},
    {"", "invalid JSON near line 1, column 1"},
    {"{\"model\": {\"_delete_\": \"yes\", \"type\": \"Backbone\"}}", "model._delete_: expected boolean"},
};

START_TEST(validation_errors_name_file_and_json_path) {
  const bad_case *c = &bad_cases[_i];
  make_tmp_dir();
  char path[320], want[2048];
  snprintf(path, sizeof path, "%s/case.json", tmp_dir);
  nala_test_write_text(path, c->json);
  snprintf(want, sizeof want, "%s: %s", path, c->msg);
  expect_load_error(path, NALA_E_FORMAT, want);
  remove_tmp_dir();
}
END_TEST

START_TEST(delete_key_must_be_boolean_when_merging) {
  make_tmp_dir();
  char base[320], child[320], text[640], want[1200];
  snprintf(base, sizeof base, "%s/base.json", tmp_dir);
  snprintf(child, sizeof child, "%s/child.json", tmp_dir);
  nala_test_write_text(base, BB("\"variant\": \"t\""));
  snprintf(text, sizeof text, "{\"_base_\": \"base.json\", \"model\": {\"backbone\": {\"_delete_\": 1}}}");
  nala_test_write_text(child, text);
  snprintf(want, sizeof want, "%s: model.backbone._delete_: expected boolean", child);
  expect_load_error(child, NALA_E_FORMAT, want);
  /* _delete_: false merges as usual. */
  nala_test_write_text(child, "{\"_base_\": \"base.json\", \"model\": {\"backbone\": {\"_delete_\": false, \"out_indices\": [2]}}}");
  nala_config *cfg = NULL;
  nala_err err;
  ck_assert_int_eq(nala_config_load(child, &cfg, &err), NALA_OK);
  ck_assert_str_eq(nala_config_model(cfg)->backbone.variant, "t");
  ck_assert_int_eq(nala_config_model(cfg)->backbone.n_out, 1);
  nala_config_free(cfg);
  remove_tmp_dir();
}
END_TEST

/* Every shipped config loads, and each model base equals the official preset exactly. */
START_TEST(shipped_configs_load_and_match_presets) {
  static const char *const names[] = {"xt", "t", "s", "b", "l"};
  for (int i = 0; i < 5; i++) {
    char path[512];
    snprintf(path, sizeof path, NALA_SOURCE_DIR "/configs/_base_/models/nalaformer_%s.json", names[i]);
    nala_config *cfg = NULL;
    nala_err err;
    nala_err_clear(&err);
    if (nala_config_load(path, &cfg, &err) != NALA_OK)
      ck_abort_msg("%s", err.msg);
    nala_backbone_cfg want;
    ck_assert_int_eq(nala_backbone_cfg_preset(names[i], &want, &err), NALA_OK);
    ck_assert_mem_eq(&nala_config_model(cfg)->backbone, &want, sizeof want);
    const nala_preprocess_section *pp = &nala_config_model(cfg)->preprocess;
    ck_assert_float_eq(pp->mean[0], 123.675f);
    ck_assert_float_eq(pp->std[2], 57.375f);
    ck_assert_int_eq(pp->bgr_to_rgb, 1);
    nala_config_free(cfg);
  }
  static const char *const others[] = {
      "_base_/datasets/coco_instance.json", "_base_/datasets/ade20k.json", "_base_/datasets/cityscapes.json",
      "nalaformer_t_backbone.json", "nalaformer_xt_all-linear_backbone_ade20k.json"};
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
    char path[512];
    snprintf(path, sizeof path, NALA_SOURCE_DIR "/configs/%s", others[i]);
    nala_config *cfg = NULL;
    nala_err err;
    if (nala_config_load(path, &cfg, &err) != NALA_OK)
      ck_abort_msg("%s", err.msg);
    nala_config_free(cfg);
  }
  nala_config *cfg = NULL;
  nala_err err;
  ck_assert_int_eq(nala_config_load(NALA_SOURCE_DIR "/configs/_base_/datasets/cityscapes.json", &cfg, &err), NALA_OK);
  ck_assert_ptr_null(nala_config_model(cfg));
  const nala_dataset_cfg *ds = nala_config_dataset(cfg);
  ck_assert_int_eq(ds->type, NALA_DATASET_CITYSCAPES);
  ck_assert_str_eq(ds->img_dir, "data/cityscapes/leftImg8bit/val");
  ck_assert_str_eq(ds->seg_map_dir, "data/cityscapes/gtFine/val");
  ck_assert_int_eq(ds->reduce_zero_label, 0);
  nala_config_free(cfg);
  ck_assert_int_eq(nala_config_load(NALA_SOURCE_DIR "/configs/_base_/datasets/coco_instance.json", &cfg, &err), NALA_OK);
  ds = nala_config_dataset(cfg);
  ck_assert_int_eq(ds->type, NALA_DATASET_COCO);
  ck_assert_str_eq(ds->ann_file, "data/coco/annotations/instances_val2017.json");
  ck_assert_str_eq(ds->img_dir, "data/coco/val2017/");
  nala_config_free(cfg);
  ck_assert_int_eq(nala_config_load(NALA_SOURCE_DIR "/configs/nalaformer_xt_all-linear_backbone_ade20k.json", &cfg, &err),
                   NALA_OK);
  const nala_model_cfg *model = nala_config_model(cfg);
  ck_assert_str_eq(model->backbone.attn[3], "ll");
  ck_assert_int_eq(model->preprocess.has_resize, 1);
  ck_assert_int_eq(model->preprocess.scale[0], 2048);
  ck_assert_int_eq(model->preprocess.scale[1], 512);
  ck_assert_int_eq(model->preprocess.keep_ratio, 1);
  ck_assert_int_eq(model->preprocess.seg_pad_val, 255);
  nala_config_free(cfg);
}
END_TEST

START_TEST(custom_backbone_without_variant) {
  make_tmp_dir();
  char path[320];
  snprintf(path, sizeof path, "%s/tiny.json", tmp_dir);
  nala_test_write_text(path, BB("\"embed_dims\": [16, 32, 48, 64], \"depths\": [1, 1, 1, 1], \"num_heads\": [1, 1, 2, 2], "
                      "\"mlp_ratios\": 2, \"attn\": \"lvlv\", \"out_indices\": [3, 1]"));
  nala_config *cfg = NULL;
  nala_err err;
  ck_assert_int_eq(nala_config_load(path, &cfg, &err), NALA_OK);
  const nala_backbone_cfg *bb = &nala_config_model(cfg)->backbone;
  ck_assert_str_eq(bb->variant, "custom");
  ck_assert_int_eq(bb->ffn_dims[2], 96);
  ck_assert_int_eq(bb->layerscales[0], 0); /* NALA.py's constructor defaults */
  ck_assert_float_eq(bb->layer_init_values[0], 1e-6f);
  ck_assert_str_eq(bb->attn[1], "v");
  ck_assert_int_eq(bb->out_indices[0], 3);
  ck_assert_int_eq(bb->n_out, 2);
  nala_config_free(cfg);
  remove_tmp_dir();
}
END_TEST

START_TEST(schema_describes_rows) {
  static const char *const modes[] = {"whole", "slide", NULL};
  const nala_schema_key rows[] = {
      NALA_SKEY_POS_INT("a", 0), NALA_SKEY_INT("b", 0, 3, 0), NALA_SKEY_ENUM("c", modes, 0),
      NALA_SKEY_POS_INT_LIST("d", 2, 2, 0), NALA_SKEY_NUMBER_IN("e", 0, 1, 0), NALA_SKEY_LIST("f", NALA_SK_STRING, 1, 0, 0),
  };
  const char *want[] = {"positive integer", "integer in 0..3", "one of \"whole\", \"slide\"",
                        "list of 2 positive integers", "number in [0, 1]", "list of at least 1 strings"};
  for (int i = 0; i < 6; i++) {
    char buf[256];
    nala_schema_describe(&rows[i], buf, sizeof buf);
    ck_assert_str_eq(buf, want[i]);
  }
  /* The public validator on a caller's own table. */
  const nala_schema schema = {rows, 6, NULL, 0, NULL};
  cJSON *obj = cJSON_Parse("{\"a\": 3, \"e\": 1.5}");
  nala_err err;
  ck_assert_int_eq(nala_schema_validate(obj, &schema, "head", &err), NALA_E_FORMAT);
  ck_assert_str_eq(err.msg, "head.e: expected number in [0, 1], got 1.5");
  cJSON_Delete(obj);
  obj = cJSON_Parse("{\"a\": 3, \"e\": 1}");
  ck_assert_int_eq(nala_schema_validate(obj, &schema, "head", &err), NALA_OK);
  cJSON_Delete(obj);
}
END_TEST

START_TEST(cfg_options_override_after_merging) {
  const char *path = NALA_SOURCE_DIR "/configs/nalaformer_t_backbone.json";
  const char *overrides[] = {"model.backbone.attn=l", "model.backbone.out_indices=[0, 2]",
                             "model.backbone.variant=\"s\"", "model.test_cfg.mode=whole",
                             "model.data_preprocessor={\"_delete_\": true, \"type\": \"SegDataPreProcessor\"}"};
  nala_config *cfg = NULL;
  nala_err err;
  if (nala_config_load_with(path, overrides, 5, &cfg, &err) != NALA_OK)
    ck_abort_msg("%s", err.msg);
  const nala_model_cfg *model = nala_config_model(cfg);
  ck_assert_str_eq(model->backbone.variant, "s");
  ck_assert_int_eq(model->backbone.embed_dims[2], 320);
  ck_assert_int_eq(model->backbone.depths[2], 9);
  ck_assert_str_eq(model->backbone.attn[2], "lllllllll");
  ck_assert_int_eq(model->backbone.n_out, 2);
  ck_assert_int_eq(model->backbone.out_indices[1], 2);
  ck_assert_str_eq(model->test_cfg.mode, "whole");
  ck_assert_float_eq(model->preprocess.mean[0], 0.0f); /* _delete_ dropped the base's normalisation */
  ck_assert_int_eq(model->preprocess.bgr_to_rgb, 0);
  nala_config_free(cfg);

  const char *bad_value[] = {"model.backbone.depths=[2, 2, 0, 2]"};
  char want[2048];
  snprintf(want, sizeof want, "%s: model.backbone.depths[2]: expected integer in 1..63, got 0 (set by --cfg-options)",
           path);
  ck_assert_int_eq(nala_config_load_with(path, bad_value, 1, &cfg, &err), NALA_E_FORMAT);
  ck_assert_str_eq(err.msg, want);
  const char *typo[] = {"model.backbone.deths=1"};
  ck_assert_int_eq(nala_config_load_with(path, typo, 1, &cfg, &err), NALA_E_FORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "model.backbone: unknown key \"deths\" (did you mean \"depths\"?) (set by --cfg-options)"));
  const char *malformed[] = {"model..attn=l"};
  ck_assert_int_eq(nala_config_load_with(path, malformed, 1, &cfg, &err), NALA_E_ARG);
  snprintf(want, sizeof want, "%s: --cfg-options \"model..attn=l\": empty or too long key", path);
  ck_assert_str_eq(err.msg, want);
  const char *no_equals[] = {"model.backbone.attn"};
  ck_assert_int_eq(nala_config_load_with(path, no_equals, 1, &cfg, &err), NALA_E_ARG);
  const char *object_over_list[] = {"model.backbone.out_indices={\"a\": 1}"};
  ck_assert_int_eq(nala_config_load_with(path, object_over_list, 1, &cfg, &err), NALA_E_FORMAT);
  snprintf(want, sizeof want,
           "%s: --cfg-options \"model.backbone.out_indices\": model.backbone.out_indices: an object here cannot merge "
           "into the base's list; add \"_delete_\": true to replace it",
           path);
  ck_assert_str_eq(err.msg, want);
  ck_assert_ptr_null(cfg);
}
END_TEST

static void *load_many(void *arg) {
  (void)arg;
  for (int i = 0; i < 20; i++) {
    nala_config *cfg = NULL;
    nala_err err;
    if (nala_config_load(FIX "/merge/child.json", &cfg, &err) != NALA_OK)
      return (void *)1;
    int ok = nala_config_model(cfg)->backbone.embed_dims[3] == 512;
    nala_config_free(cfg);
    if (!ok)
      return (void *)1;
  }
  return NULL;
}

START_TEST(two_threads_load_independently) {
  pthread_t threads[2];
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(pthread_create(&threads[i], NULL, load_many, NULL), 0);
  for (int i = 0; i < 2; i++) {
    void *result = (void *)1;
    pthread_join(threads[i], &result);
    ck_assert_ptr_null(result);
  }
}
END_TEST

/* ---- nala config show ---- */

/* `nala config <args>` with its output captured. */
static int run_cli(const char *args, char **out, char **errs) {
  char full[2048];
  snprintf(full, sizeof full, "config %s", args);
  int code = nala_run_cli(full, out, errs);
  ck_assert(code >= 0 && *out && *errs);
  return code;
}

START_TEST(cli_show_prints_merged_config_and_exit_codes) {
  make_tmp_dir();
  char *out, *errs, args[1024];
  char *want = nala_read_text(FIX "/merge/expected_merged.json");
  ck_assert_int_eq(run_cli("show " FIX "/merge/child.json", &out, &errs), 0);
  ck_assert_str_eq(out, want);
  ck_assert_str_eq(errs, "");
  free(out), free(errs);

  snprintf(args, sizeof args, "show " FIX "/merge/child.json --output '%s/shown.json'", tmp_dir);
  ck_assert_int_eq(run_cli(args, &out, &errs), 0);
  ck_assert_str_eq(out, "");
  free(out), free(errs);
  snprintf(args, sizeof args, "%s/shown.json", tmp_dir);
  char *written = nala_read_text(args);
  ck_assert_str_eq(written, want);
  free(written);
  free(want);

  ck_assert_int_eq(run_cli("show " FIX "/merge/child.json --cfg-options model.backbone.attn=l 'dataset.classes=[\"a\"]'",
                           &out, &errs), 0);
  ck_assert_ptr_nonnull(strstr(out, "\"attn\": \"l\",\n"));
  ck_assert_ptr_nonnull(strstr(out, "\"classes\": [\"a\"],\n"));
  free(out), free(errs);
  ck_assert_int_eq(run_cli("show " FIX "/errors/cycle_a.json", &out, &errs), 1);
  ck_assert_str_eq(out, "");
  ck_assert_ptr_nonnull(strstr(errs, "cycle_b.json -> " FIX "/errors/cycle_a.json: _base_ include cycle\n"));
  free(out), free(errs);
  snprintf(args, sizeof args, "show " FIX "/merge/child.json --output '%s/no/such/dir/x.json'", tmp_dir);
  ck_assert_int_eq(run_cli(args, &out, &errs), 1);
  ck_assert_ptr_nonnull(strstr(errs, "cannot write"));
  free(out), free(errs);

  const char *usage_cases[] = {"", "frobnicate", "show", "show a.json b.json", "show a.json --bogus",
                               "show a.json --output", "show a.json --cfg-options", "show a.json --cfg-options =1"};
  for (size_t i = 0; i < sizeof usage_cases / sizeof usage_cases[0]; i++) {
    ck_assert_int_eq(run_cli(usage_cases[i], &out, &errs), 2);
    ck_assert_ptr_nonnull(strstr(errs, "usage: nala config show FILE"));
    free(out), free(errs);
  }
  ck_assert_int_eq(run_cli("--help", &out, &errs), 0);
  ck_assert_ptr_nonnull(strstr(out, "usage: nala config show FILE"));
  free(out), free(errs);
  remove_tmp_dir();
}
END_TEST

/* ---- reproducer and configs from memory ---- */

/* "mlp_ratios": 1e30 overflowed the int cast of the FFN width before validation ran (UBSan). */
START_TEST(huge_mlp_ratio_is_an_error_naming_it) {
  const char *path = NALA_FIXTURES "/reliability/config_ffn_overflow.json";
  char want[1024];
  snprintf(want, sizeof want,
           "%s: model.backbone.mlp_ratios[0]: 1e+30 x embed_dims[0] = 64 gives an FFN width of 6.4e+31 (expected "
           "1..1048576)",
           path);
  nala_config *cfg = NULL;
  nala_err err;
  nala_status st = nala_config_load(path, &cfg, &err);
  printf("%s\n", err.msg);
  ck_assert_int_ne(st, NALA_OK);
  ck_assert_str_eq(err.msg, want);
  ck_assert_ptr_null(cfg);
  char *out, *errs;
  ck_assert_int_eq(run_cli("show " NALA_FIXTURES "/reliability/config_ffn_overflow.json", &out, &errs), 1);
  ck_assert_str_eq(out, "");
  ck_assert_ptr_nonnull(strstr(errs, "mlp_ratios[0]: 1e+30 x embed_dims[0] = 64"));
  free(out), free(errs);
  /* Validation on its own, for a struct filled by hand. */
  nala_backbone_cfg bb;
  ck_assert_int_eq(nala_backbone_cfg_preset("t", &bb, &err), NALA_OK);
  bb.mlp_ratios[2] = 1e30f;
  nala_backbone_cfg_derive_ffn(&bb);
  ck_assert_int_eq(bb.ffn_dims[2], 0);
  ck_assert_int_eq(nala_backbone_cfg_validate(&bb, &err), NALA_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.msg, "mlp_ratios[2]"));
}
END_TEST

/* An in-memory file system for nala_config_parse: name -> text. */
typedef struct mem_files {
  const char *names[4], *texts[4];
  int n, reads;
} mem_files;

static nala_status mem_read(void *user, const char *name, char **text, size_t *len, char **id, nala_err *err) {
  mem_files *fs = user;
  for (int i = 0; i < fs->n; i++)
    if (!strcmp(fs->names[i], name)) {
      fs->reads++;
      *text = strdup(fs->texts[i]);
      *len = strlen(fs->texts[i]);
      *id = strdup(name);
      return NALA_OK;
    }
  return nala_fail(err, NALA_E_IO, "cannot open: not in the test's file table");
}

START_TEST(config_from_memory_with_resolver) {
  mem_files fs = {{"cfg/base.json", "cfg/cycle.json"},
                  {"{\"model\": {\"type\": \"Backbone\", \"backbone\": {\"type\": \"NaLaFormer\", \"variant\": \"t\"}}}",
                   "{\"_base_\": \"cycle.json\"}"},
                  2, 0};
  nala_config_resolver resolver = {mem_read, &fs};
  const char *top = "{\"_base_\": \"base.json\", \"model\": {\"backbone\": {\"attn\": \"l\"}}}  trailing";
  size_t top_len = strlen(top) - strlen("  trailing"); /* the text need not end in NUL */
  const char *overrides[] = {"model.backbone.out_indices=[3]"};
  nala_config *cfg = NULL;
  nala_err err;
  nala_status st = nala_config_parse("cfg/top.json", top, top_len, &resolver, overrides, 1, &cfg, &err);
  ck_assert_msg(st == NALA_OK, "%s", err.msg);
  const nala_backbone_cfg *bb = &nala_config_model(cfg)->backbone;
  ck_assert_int_eq(bb->embed_dims[0], 64);
  ck_assert_int_eq(bb->attn[2][0], 'l');
  ck_assert_int_eq(bb->n_out, 1);
  ck_assert_int_eq(bb->out_indices[0], 3);
  ck_assert_int_eq(fs.reads, 1);
  nala_config_free(cfg);
  /* Errors name the chain as for files: a missing base, a cycle, no resolver, a NUL byte. */
  const char *missing = "{\"_base_\": \"nope.json\"}";
  ck_assert_int_eq(nala_config_parse("cfg/top.json", missing, strlen(missing), &resolver, NULL, 0, &cfg, &err),
                   NALA_E_IO);
  ck_assert_str_eq(err.msg, "cfg/top.json -> cfg/nope.json: cannot open: not in the test's file table");
  const char *cyclic = "{\"_base_\": \"cycle.json\"}";
  ck_assert_int_eq(nala_config_parse("cfg/top.json", cyclic, strlen(cyclic), &resolver, NULL, 0, &cfg, &err),
                   NALA_E_FORMAT);
  ck_assert_str_eq(err.msg, "cfg/top.json -> cfg/cycle.json -> cfg/cycle.json: _base_ include cycle");
  ck_assert_int_eq(nala_config_parse("top.json", missing, strlen(missing), NULL, NULL, 0, &cfg, &err), NALA_E_IO);
  ck_assert_str_eq(err.msg, "top.json -> nope.json: cannot open: no resolver for _base_ files");
  ck_assert_int_eq(nala_config_parse("top.json", "{}\0{", 4, NULL, NULL, 0, &cfg, &err), NALA_E_FORMAT);
  ck_assert_str_eq(err.msg, "top.json: NUL byte at offset 2");
  ck_assert_ptr_null(cfg);
}
END_TEST

static void add_file_cases(Suite *s) {
  TCase *tc = tcase_create("files");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, merge_follows_mmengine_rules);
  tcase_add_test(tc, include_errors_name_the_chain);
  tcase_add_loop_test(tc, validation_errors_name_file_and_json_path, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
  tcase_add_test(tc, delete_key_must_be_boolean_when_merging);
  tcase_add_test(tc, shipped_configs_load_and_match_presets);
  tcase_add_test(tc, custom_backbone_without_variant);
  tcase_add_test(tc, schema_describes_rows);
  tcase_add_test(tc, two_threads_load_independently);
  tcase_add_test(tc, cfg_options_override_after_merging);
  tcase_add_test(tc, cli_show_prints_merged_config_and_exit_codes);
  tcase_add_test(tc, huge_mlp_ratio_is_an_error_naming_it);
  tcase_add_test(tc, config_from_memory_with_resolver);
  suite_add_tcase(s, tc);
}

int main(void) {
  Suite *s = suite_create("config");
  add_backbone_cases(s);
  add_file_cases(s);
  /* No fork per test: forking an ASan process costs seconds on a loaded CI machine. */
  return nala_run_suite_nofork(s);
}
