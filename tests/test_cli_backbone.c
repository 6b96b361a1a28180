/* `nala backbone` end to end: dump of a fixture input compared with PyTorch, exit codes for bad
 * arguments (2) and bad data (1). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nala/isa.h"
#include "nala/safetensors.h"
#include "tests/support/compare.h"
#include "tests/support/cli.h"
#include "tests/support/suite.h"

static char *last_stderr;

/* Runs `nala <args>`, keeping its stderr for stderr_contains. */
static int run(const char *args) {
  free(last_stderr);
  last_stderr = NULL;
  return nala_run_cli(args, NULL, &last_stderr);
}

static void stderr_contains(const char *needle) {
  ck_assert_ptr_nonnull(last_stderr);
  ck_assert_msg(strstr(last_stderr, needle) != NULL, "stderr lacks \"%s\": %s", needle, last_stderr);
}

START_TEST(dump_matches_pytorch) {
  char args[2048], out[256], fixture[1024];
  snprintf(out, sizeof out, "/tmp/nala_cli_backbone_%d.safetensors", (int)getpid());
  /* The XT fixture runs on seeded weights, the CLI's default without --weights. */
  snprintf(fixture, sizeof fixture, "%s/backbone/xt_200x328_llvv.safetensors", NALA_FIXTURES);
  snprintf(args, sizeof args, "backbone --model nalaformer_xt --attn l,l,v,v --input %s --dump %s --threads 2",
           fixture, out);
  ck_assert_int_eq(run(args), 0);
  nala_err err;
  nala_st_file *got = NULL, *want = NULL;
  ck_assert_int_eq(nala_st_open(out, &got, &err), NALA_OK);
  ck_assert_int_eq(nala_st_open(fixture, &want, &err), NALA_OK);
  for (int level = 0; level < 4; level++) {
    char name[16];
    snprintf(name, sizeof name, "out%d", level);
    const nala_st_tensor *g = nala_st_find(got, name), *w = nala_st_find(want, name);
    ck_assert_ptr_nonnull(g);
    long long gs[4], ws[4];
    for (int i = 0; i < 4; i++)
      gs[i] = g->shape[i], ws[i] = w->shape[i];
    ck_assert(nala_compare_shape(name, gs, g->ndim, ws, w->ndim));
    ck_assert_int_eq(g->dtype, NALA_DT_F32);
    nala_cmp r = nala_compare_f32(name, g->data, w->data, nala_st_numel(w), 1e-3, 1e-3);
    ck_assert(r.rel_l2 < 2e-5);
  }
  nala_st_close(got);
  nala_st_close(want);
  unlink(out);
}
END_TEST

/* Image input is read as mmdet reads it: the EXIF orientation 6 JPEG (stored 37 high, 53 wide)
 * arrives rotated, 53 high and 37 wide, so out0 is [1, 32, 14, 10] rather than [1, 32, 10, 14]. */
START_TEST(image_input_applies_exif_orientation) {
  char args[2048], out[256];
  snprintf(out, sizeof out, "/tmp/nala_cli_backbone_img_%d.safetensors", (int)getpid());
  snprintf(args, sizeof args, "backbone --model nalaformer_xt --input %s/images/exif_rot6_37x53.jpg --dump %s",
           NALA_FIXTURES, out);
  ck_assert_int_eq(run(args), 0);
  nala_err err;
  nala_st_file *got = NULL;
  ck_assert_int_eq(nala_st_open(out, &got, &err), NALA_OK);
  const nala_st_tensor *t = nala_st_find(got, "out0");
  ck_assert_ptr_nonnull(t);
  long long shape[4] = {t->shape[0], t->shape[1], t->shape[2], t->shape[3]}, want[4] = {1, 32, 14, 10};
  ck_assert(nala_compare_shape("exif out0", shape, t->ndim, want, 4));
  nala_st_close(got);
  unlink(out);
}
END_TEST

/* --config takes model.backbone from a JSON config: the all-linear XT config gives the same
 * pyramid as --model nalaformer_xt --attn l on the all-'l' fixture. */
START_TEST(config_file_selects_the_backbone) {
  char args[2048], out[256], fixture[1024];
  snprintf(out, sizeof out, "/tmp/nala_cli_backbone_cfg_%d.safetensors", (int)getpid());
  snprintf(fixture, sizeof fixture, "%s/backbone/xt_200x328_llll.safetensors", NALA_FIXTURES);
  snprintf(args, sizeof args,
           "backbone --config %s/configs/nalaformer_xt_all-linear_backbone_ade20k.json --input %s --dump %s",
           NALA_SOURCE_DIR, fixture, out);
  ck_assert_int_eq(run(args), 0);
  nala_err err;
  nala_st_file *got = NULL, *want = NULL;
  ck_assert_int_eq(nala_st_open(out, &got, &err), NALA_OK);
  ck_assert_int_eq(nala_st_open(fixture, &want, &err), NALA_OK);
  const nala_st_tensor *g = nala_st_find(got, "out3"), *w = nala_st_find(want, "out3");
  ck_assert_ptr_nonnull(g);
  ck_assert_uint_eq(nala_st_numel(g), nala_st_numel(w));
  ck_assert(nala_compare_f32("config out3", g->data, w->data, nala_st_numel(w), 1e-3, 1e-3).rel_l2 < 2e-5);
  nala_st_close(got);
  nala_st_close(want);
  unlink(out);
  snprintf(args, sizeof args, "backbone --config /nonexistent/cfg.json --input %s --dump %s", fixture, out);
  ck_assert_int_eq(run(args), 1);
  stderr_contains("/nonexistent/cfg.json");
}
END_TEST

START_TEST(bad_arguments_exit_2) {
  ck_assert_int_eq(run("backbone"), 2);
  stderr_contains("required");
  ck_assert_int_eq(run("backbone --model nalaformer_q --input x.png --dump y.safetensors"), 2);
  stderr_contains("nalaformer_q");
  ck_assert_int_eq(run("backbone --model nalaformer_t --attn l,x,v,v --input x.png --dump y.safetensors"), 2);
  ck_assert_int_eq(run("backbone --model nalaformer_t --frobnicate"), 2);
  stderr_contains("--frobnicate");
  ck_assert_int_eq(run("bench backbone --size 12by3"), 2);
}
END_TEST

START_TEST(bad_data_exit_1) {
  char args[2048];
  ck_assert_int_eq(run("backbone --model nalaformer_xt --input /nonexistent/in.png --dump /tmp/x.safetensors"), 1);
  stderr_contains("/nonexistent/in.png");
  snprintf(args, sizeof args,
           "backbone --model nalaformer_xt --weights /nonexistent/w.safetensors --input %s/backbone/"
           "xt_224x224_llvv.safetensors --dump /tmp/x.safetensors",
           NALA_FIXTURES);
  ck_assert_int_eq(run(args), 1);
  stderr_contains("/nonexistent/w.safetensors");
  /* Weights of another config: every mismatching key is reported, exit 1. */
  snprintf(args, sizeof args,
           "backbone --model nalaformer_xt --weights %s/backbone/tiny_weights.safetensors --input %s/backbone/"
           "xt_224x224_llvv.safetensors --dump /tmp/x.safetensors",
           NALA_FIXTURES, NALA_FIXTURES);
  ck_assert_int_eq(run(args), 1);
  stderr_contains("wrong shape");
  /* A safetensors input without an 'input' tensor. */
  snprintf(args, sizeof args,
           "backbone --model nalaformer_xt --input %s/backbone/tiny_weights.safetensors --dump /tmp/x.safetensors",
           NALA_FIXTURES);
  ck_assert_int_eq(run(args), 1);
  stderr_contains("'input'");
}
END_TEST

/* NALA_ISA=<tier>: runs and says so where the CPU has the tier (the dump still matches PyTorch),
 * else exit 1 naming what the CPU lacks and no file written; an unknown tier is refused by name. Run
 * under NALA_MAX_ISA=avx2 (the *_as_avx2 ctest entry) the avx512 row takes the refusal path here. */
START_TEST(isa_choice_is_reported_or_refused) {
  static const char *const tiers[] = {"ref", "avx2", "avx512"};
  static const nala_isa ids[] = {NALA_ISA_REF, NALA_ISA_AVX2, NALA_ISA_AVX512};
  char args[2048], out[256], fixture[1024];
  snprintf(out, sizeof out, "/tmp/nala_cli_isa_%d.safetensors", (int)getpid());
  snprintf(fixture, sizeof fixture, "%s/backbone/xt_224x224_llvv.safetensors", NALA_FIXTURES);
  snprintf(args, sizeof args, "backbone --model nalaformer_xt --attn l,l,v,v --input %s --dump %s --threads 2",
           fixture, out);
  for (int t = 0; t < 3; t++) {
    setenv("NALA_ISA", tiers[t], 1);
    unlink(out);
    char *so = NULL, *se = NULL;
    int rc = nala_run_cli(args, &so, &se);
    unsetenv("NALA_ISA");
    char want[96];
    if (nala_isa_supported(ids[t])) {
      ck_assert_msg(rc == 0, "NALA_ISA=%s: exit %d: %s", tiers[t], rc, se);
      snprintf(want, sizeof want, "kernels: tier %s on ", tiers[t]);
      ck_assert_msg(strstr(so, want) != NULL, "stdout lacks \"%s\": %s", want, so);
      nala_err err;
      nala_st_file *got = NULL, *ref = NULL;
      ck_assert_int_eq(nala_st_open(out, &got, &err), NALA_OK);
      ck_assert_int_eq(nala_st_open(fixture, &ref, &err), NALA_OK);
      const nala_st_tensor *g = nala_st_find(got, "out3"), *w = nala_st_find(ref, "out3");
      ck_assert(g && w && nala_st_numel(g) == nala_st_numel(w));
      nala_cmp r = nala_compare_f32(tiers[t], g->data, w->data, nala_st_numel(w), 1e-3, 1e-3);
      ck_assert(r.rel_l2 < 2e-5);
      nala_st_close(got), nala_st_close(ref);
    } else {
      printf("%s: not on this CPU; checking the refusal\n", tiers[t]);
      ck_assert_int_eq(rc, 1);
      snprintf(want, sizeof want, "NALA_ISA=%s: this CPU has no ", tiers[t]);
      ck_assert_msg(strstr(se, want) != NULL, "stderr lacks \"%s\": %s", want, se);
      ck_assert_msg(access(out, F_OK) != 0, "%s written although the run was refused", out);
    }
    free(so), free(se);
  }
  unlink(out);
  setenv("NALA_ISA", "sse9", 1);
  ck_assert_int_eq(run(args), 1);
  unsetenv("NALA_ISA");
  stderr_contains("NALA_ISA=sse9");
  ck_assert_int_eq(access(out, F_OK), -1);
  snprintf(args, sizeof args, "backbone --model nalaformer_xt --isa sse9 --input %s --dump %s", fixture, out);
  ck_assert_int_eq(run(args), 2);
  stderr_contains("'sse9'");
}
END_TEST

int main(void) {
  Suite *s = suite_create("cli_backbone");
  TCase *tc = tcase_create("cli");
  tcase_add_test(tc, dump_matches_pytorch);
  tcase_add_test(tc, image_input_applies_exif_orientation);
  tcase_add_test(tc, config_file_selects_the_backbone);
  tcase_add_test(tc, bad_arguments_exit_2);
  tcase_add_test(tc, bad_data_exit_1);
  tcase_add_test(tc, isa_choice_is_reported_or_refused);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
