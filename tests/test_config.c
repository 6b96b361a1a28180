#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/config.h"

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

int main(void) {
  Suite *s = suite_create("config");
  add_backbone_cases(s);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
