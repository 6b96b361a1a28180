/* Seeded weights against values computed from the shared spec by an independent Python
 * transcription (bit patterns below), RoPE.angle against torch 1.13, and
 * tests/fixtures/seeded/sample.safetensors (written by tools/reference/seeded_init.py) bit for bit. */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/safetensors.h"
#include "core/kernels/rope.h"
#include "nala/seeded_init.h"
#include "tests/support/suite.h"

static uint32_t bits_of(float f) {
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

static void assert_bits(const char *key, const float *got, const uint32_t *want, size_t n) {
  for (size_t i = 0; i < n; i++)
    ck_assert_msg(bits_of(got[i]) == want[i], "%s[%zu]: got 0x%08x (%.9g), want 0x%08x", key, i, bits_of(got[i]),
                  (double)got[i], want[i]);
}

START_TEST(hash_and_stream_follow_spec) {
  const char *key = "backbone.layers.0.blocks.0.attn.qkvg.weight";
  ck_assert_uint_eq(nala_fnv1a64("", 0), 0xcbf29ce484222325ull);
  ck_assert_uint_eq(nala_fnv1a64(key, strlen(key)), 0xe6f2d4876e1ad1e8ull);
  /* splitmix64 from state 0: first output of the published reference (Vigna's splitmix64.c). */
  uint64_t state = 0;
  ck_assert_uint_eq(nala_splitmix64_next(&state), 0xe220a8397b1dcdafull);
}
END_TEST

START_TEST(each_rule_matches_python_bits) {
  float out[24];
  nala_err err;
  int64_t conv_shape[3] = {2, 3, 4};
  const char *qkvg = "backbone.layers.0.blocks.0.attn.qkvg.weight";
  ck_assert_int_eq(nala_seeded_fill(0, qkvg, 3, conv_shape, out, &err), NALA_OK);
  assert_bits(qkvg, out, (const uint32_t[]){0xbc89cf22, 0x3e6869cb, 0x3e066c77, 0xbe78acda}, 4);
  for (int i = 0; i < 24; i++) /* [-1/sqrt(12), 1/sqrt(12)] */
    ck_assert(fabsf(out[i]) <= (float)(1.0 / sqrt(12.0)));

  int64_t n5 = 5, n3 = 3, n2 = 2;
  ck_assert_int_eq(nala_seeded_fill(7, "backbone.norm.bias", 1, &n5, out, &err), NALA_OK);
  assert_bits("bias", out, (const uint32_t[]){0xbd9a5a22, 0xbd1756e6, 0xbc68f240, 0xbdcc0d78, 0xbd927256}, 5);
  ck_assert_int_eq(nala_seeded_fill(0, "backbone.layers.0.bn.running_var", 1, &n3, out, &err), NALA_OK);
  assert_bits("running_var", out, (const uint32_t[]){0x3fdd4de8, 0x3fd10204, 0x3f183914}, 3);
  ck_assert_int_eq(nala_seeded_fill(0, "backbone.layers.0.blocks.0.gamma_1", 1, &n3, out, &err), NALA_OK);
  assert_bits("gamma_1", out, (const uint32_t[]){0x3ed97d4e, 0x3f2068f1, 0x3f5f47a4}, 3);
  ck_assert_int_eq(nala_seeded_fill(0, "backbone.layers.0.blocks.0.norm1.weight", 1, &n3, out, &err), NALA_OK);
  assert_bits("norm1.weight", out, (const uint32_t[]){0x3fa49240, 0x3f86ffce, 0x3f8a3eb9}, 3);
  ck_assert_int_eq(nala_seeded_fill(0, "backbone.x.running_mean", 1, &n2, out, &err), NALA_OK);
  assert_bits("running_mean", out, (const uint32_t[]){0xbdd16e93, 0x3e03e1c6}, 2);
}
END_TEST

START_TEST(uncovered_keys_are_errors_naming_the_key) {
  float out[4];
  nala_err err;
  int64_t n2 = 2;
  const char *keys[] = {"backbone.layers.0.RoPE.angle", "backbone.layers.0.bn.num_batches_tracked",
                        "backbone.pos_embed", "backbone.head.weight"};
  int ndims[] = {1, 1, 1, 0};
  for (int i = 0; i < 4; i++) {
    nala_err_clear(&err);
    ck_assert_int_eq(nala_seeded_fill(0, keys[i], ndims[i], &n2, out, &err), NALA_E_ARG);
    ck_assert_msg(strstr(err.msg, keys[i]) != NULL, "message \"%s\" does not name %s", err.msg, keys[i]);
  }
  ck_assert_int_eq(nala_seeded_range("a.bias", 1, &n2, NULL, NULL), 1);
}
END_TEST

START_TEST(seed_and_key_change_the_stream) {
  float a[8], b[8], c[8];
  int64_t n8 = 8;
  ck_assert_int_eq(nala_seeded_fill(0, "x.bias", 1, &n8, a, NULL), NALA_OK);
  ck_assert_int_eq(nala_seeded_fill(0, "x.bias", 1, &n8, b, NULL), NALA_OK);
  ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
  ck_assert_int_eq(nala_seeded_fill(1, "x.bias", 1, &n8, c, NULL), NALA_OK);
  ck_assert_int_ne(memcmp(a, c, sizeof a), 0);
  ck_assert_int_eq(nala_seeded_fill(0, "y.bias", 1, &n8, c, NULL), NALA_OK);
  ck_assert_int_ne(memcmp(a, c, sizeof a), 0);
}
END_TEST

/* Bits from torch 1.13: (1.0 / (10000 ** torch.linspace(0, 1, hd // 4))).unsqueeze(-1).repeat(1, 2).flatten() */
START_TEST(rope_angle_matches_torch) {
  static const uint32_t hd32[16] = {0x3f800000, 0x3f800000, 0x3e895aa1, 0x3e895aa1, 0x3d936440, 0x3d936440,
                                    0x3c9e29a8, 0x3c9e29a8, 0x3ba9b898, 0x3ba9b898, 0x3ab61fb9, 0x3ab61fb9,
                                    0x39c36ee9, 0x39c36ee9, 0x38d1b717, 0x38d1b717};
  static const uint32_t hd64[32] = {
      0x3f800000, 0x3f800000, 0x3f0a8a16, 0x3f0a8a16, 0x3e95f254, 0x3e95f254, 0x3e224b04, 0x3e224b04,
      0x3dafa7f6, 0x3dafa7f6, 0x3d3e1e95, 0x3d3e1e95, 0x3ccdc60f, 0x3ccdc60f, 0x3c5eb786, 0x3c5eb786,
      0x3bf10e2b, 0x3bf10e2b, 0x3b8273a9, 0x3b8273a9, 0x3b0d316e, 0x3b0d316e, 0x3a98d197, 0x3a98d197,
      0x3a2566da, 0x3a2566da, 0x39b3054c, 0x39b3054c, 0x3941c2d7, 0x3941c2d7, 0x38d1b717, 0x38d1b717};
  static const uint32_t hd16[8] = {0x3f800000, 0x3f800000, 0x3d3e1e95, 0x3d3e1e95,
                                   0x3b0d316e, 0x3b0d316e, 0x38d1b717, 0x38d1b717};
  /* NaLaFormer-B/L stages 0-1 (head_dim 96) and 128: whole 16-element blocks go through torch's
   * vectorised linspace, whose rounding differs from the scalar tail. Distinct values only. */
  static const uint32_t hd96[24] = {
      0x3f800000, 0x3f2b8659, 0x3ee5d984, 0x3e9a00eb, 0x3e4e5edd, 0x3e0a45ab, 0x3db94a36, 0x3d784b9c,
      0x3d265cd0, 0x3cdeee9d, 0x3c955e60, 0x3c4828dc, 0x3c061c57, 0x3bb3b6a0, 0x3b70d29c, 0x3b215b0c,
      0x3ad83900, 0x3a90df8d, 0x3a4222b6, 0x3a021312, 0x39ae4e02, 0x39699324, 0x391c7fdf, 0x38d1b717};
  static const uint32_t hd128[32] = {
      0x3f800000, 0x3f3e32e3, 0x3f0d4f93, 0x3ed1fa4b, 0x3e9c0181, 0x3e67d040, 0x3e2c3aa4, 0x3dffeb84,
      0x3dbe23aa, 0x3d8d4443, 0x3d51e97e, 0x3d1bf505, 0x3ce7bdb3, 0x3cac2cdb, 0x3c7fd709, 0x3c3e1473,
      0x3c0d38f6, 0x3bd1d8b4, 0x3b9be889, 0x3b67ab23, 0x3b2c1f13, 0x3affc293, 0x3abe053c, 0x3a8d2da5,
      0x3a51c7e5, 0x3a1bdc12, 0x39e7989c, 0x39ac114a, 0x397fae16, 0x393df60b, 0x390d225b, 0x38d1b717};
  float angle[64], distinct[32];
  nala_rope_angle(96, angle);
  for (int i = 0; i < 24; i++) {
    ck_assert_uint_eq(bits_of(angle[2 * i]), bits_of(angle[2 * i + 1]));
    distinct[i] = angle[2 * i];
  }
  assert_bits("angle96", distinct, hd96, 24);
  nala_rope_angle(128, angle);
  for (int i = 0; i < 32; i++)
    distinct[i] = angle[2 * i];
  assert_bits("angle128", distinct, hd128, 32);
  nala_rope_angle(16, angle);
  assert_bits("angle16", angle, hd16, 8);
  nala_rope_angle(32, angle);
  assert_bits("angle32", angle, hd32, 16);
  nala_rope_angle(64, angle);
  assert_bits("angle64", angle, hd64, 32);
}
END_TEST

/* The Python twin's fixture (tools/reference/fixtures_extra.py, 7 KB): one tensor per range rule
 * with odd shapes and extreme seeds (per-key seeds in the "seeds" metadata, JSON), plus
 * rope_angle.head_dim_<d> tensors. Every value must be reproduced bit for bit. */
START_TEST(python_fixture_matches_bit_for_bit) {
  const char *path = NALA_FIXTURES "/seeded/sample.safetensors";
  nala_st_file *file = NULL;
  nala_err err;
  ck_assert_msg(nala_st_open(path, &file, &err) == NALA_OK, "%s", err.msg);
  const char *seeds_text = nala_st_metadata(file, "seeds");
  ck_assert_ptr_nonnull(seeds_text);
  cJSON *seeds = cJSON_Parse(seeds_text);
  ck_assert_ptr_nonnull(seeds);
  size_t seeded = 0, angles = 0;
  for (size_t i = 0; i < nala_st_count(file); i++) {
    const nala_st_tensor *t = nala_st_at(file, i);
    size_t n = nala_st_numel(t);
    float *want = malloc((n ? n : 1) * sizeof *want), *got = malloc((n ? n : 1) * sizeof *got);
    ck_assert_ptr_nonnull(want);
    ck_assert_ptr_nonnull(got);
    ck_assert_msg(nala_st_to_f32(t, want, n, &err) == NALA_OK, "%s", err.msg);
    int head_dim = 0;
    if (sscanf(t->name, "rope_angle.head_dim_%d", &head_dim) == 1) {
      ck_assert_uint_eq(n, (size_t)(2 * (head_dim / 4)));
      nala_rope_angle(head_dim, got);
      angles++;
    } else {
      const cJSON *seed_item = cJSON_GetObjectItemCaseSensitive(seeds, t->name);
      ck_assert_msg(cJSON_IsString(seed_item), "no seed for %s", t->name);
      uint64_t seed = strtoull(seed_item->valuestring, NULL, 10);
      ck_assert_msg(nala_seeded_fill(seed, t->name, t->ndim, t->shape, got, &err) == NALA_OK, "%s", err.msg);
      seeded++;
    }
    for (size_t k = 0; k < n; k++)
      ck_assert_msg(bits_of(got[k]) == bits_of(want[k]), "%s[%zu]: C 0x%08x, Python 0x%08x", t->name, k,
                    bits_of(got[k]), bits_of(want[k]));
    free(want);
    free(got);
  }
  fprintf(stderr, "seeded_init: %zu seeded tensors and %zu RoPE angle tables of %s identical bit for bit\n", seeded,
          angles, path);
  ck_assert_uint_ge(seeded, 10);
  ck_assert_uint_ge(angles, 4);
  cJSON_Delete(seeds);
  nala_st_close(file);
}
END_TEST

int main(void) {
  Suite *s = suite_create("seeded_init");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, hash_and_stream_follow_spec);
  tcase_add_test(tc, each_rule_matches_python_bits);
  tcase_add_test(tc, uncovered_keys_are_errors_naming_the_key);
  tcase_add_test(tc, seed_and_key_change_the_stream);
  tcase_add_test(tc, rope_angle_matches_torch);
  tcase_add_test(tc, python_fixture_matches_bit_for_bit);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
