/* Weights binder: every missing / unexpected / wrong-shape / wrong-dtype key reported by name in
 * one error, ignore rules and scopes, optional keys, and the seeded source's determinism. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nala/safetensors.h"
#include "core/kernels/rope.h"
#include "nala/seeded_init.h"
#include "nala/weights.h"
#include "tests/st_test_util.h"
#include "tests/support/suite.h"

static char dir[64];
static char path[128];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/nala_w_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/w.safetensors", dir);
}

static void teardown(void) { st_remove_dir(dir); }

static float a_weight[6] = {1, 2, 3, 4, 5, 6};
static uint16_t b_bias[3] = {0x3c00, 0xb800, 0x0001}; /* 1, -0.5, 2^-24 in F16 */
static float c_weight[16];
static int64_t d_idx[2] = {1, 2};
static float extra[1] = {9};
static int64_t tracked[1] = {3};
static float angle16[8];

/* A backbone-like file with one problem of each kind, plus keys other components own. */
static void write_mixed_file(void) {
  nala_rope_angle(16, angle16);
  nala_st_tensor t[] = {
      {"backbone.a.weight", NALA_DT_F32, 2, {2, 3}, a_weight, sizeof a_weight},
      {"backbone.b.bias", NALA_DT_F16, 1, {3}, b_bias, sizeof b_bias},
      {"backbone.c.weight", NALA_DT_F32, 2, {4, 4}, c_weight, sizeof c_weight},
      {"backbone.d.idx", NALA_DT_I64, 1, {2}, d_idx, sizeof d_idx},
      {"backbone.extra.weight", NALA_DT_F32, 1, {1}, extra, sizeof extra},
      {"backbone.bn.num_batches_tracked", NALA_DT_I64, 0, {0}, tracked, sizeof tracked},
      {"backbone.layers.0.RoPE.angle", NALA_DT_F32, 1, {8}, angle16, sizeof angle16},
      {"auxiliary_head.conv.weight", NALA_DT_F32, 1, {1}, extra, sizeof extra},
      {"decode_head.x.bias", NALA_DT_F32, 1, {1}, extra, sizeof extra},
  };
  nala_err err;
  ck_assert_msg(nala_st_write(path, t, sizeof t / sizeof t[0], &err) == NALA_OK, "%s", err.msg);
}

START_TEST(all_problems_in_one_message) {
  write_mixed_file();
  nala_weights *w;
  nala_err err;
  ck_assert_msg(nala_weights_open(path, &w, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(nala_weights_ignore_suffix(w, ".num_batches_tracked"), NALA_OK);
  ck_assert_int_eq(nala_weights_ignore_prefix(w, "auxiliary_head."), NALA_OK);

  float out[24]; /* the largest model shape taken below, [8, 3] */
  ck_assert_int_eq(nala_weights_take(w, "backbone.a.weight", 2, (int64_t[]){2, 3}, out), NALA_OK);
  ck_assert_int_eq(memcmp(out, a_weight, sizeof a_weight), 0);
  ck_assert_int_eq(nala_weights_takef(w, 1, (int64_t[]){3}, out, "backbone.%s.bias", "b"), NALA_OK);
  ck_assert(out[0] == 1.0f && out[1] == -0.5f && out[2] == 0x1p-24f);
  for (int i = 0; i < 16; i++)
    out[i] = 42.0f;
  ck_assert_int_eq(nala_weights_take(w, "backbone.c.weight", 2, (int64_t[]){4, 2}, out), NALA_E_SHAPE);
  ck_assert(out[0] == 0.0f && out[7] == 0.0f && out[8] == 42.0f); /* dst zeroed, only its 8 floats */
  ck_assert_int_eq(nala_weights_take(w, "backbone.d.idx", 1, (int64_t[]){2}, out), NALA_E_UNSUPPORTED);
  ck_assert_int_eq(nala_weights_take(w, "backbone.missing.weight", 2, (int64_t[]){8, 3}, out), NALA_E_FORMAT);
  ck_assert_int_eq(nala_weights_optional(w, "backbone.layers.0.RoPE.angle", 1, (int64_t[]){8}, out), 1);
  ck_assert_int_eq(memcmp(out, angle16, sizeof angle16), 0);
  ck_assert_int_eq(nala_weights_optional(w, "backbone.layers.1.RoPE.angle", 1, (int64_t[]){8}, out), 0);

  nala_err_clear(&err);
  ck_assert_int_eq(nala_weights_finish(w, "backbone.", &err), NALA_E_FORMAT);
  fprintf(stderr, "finish: %s\n", err.msg);
  const char *must[] = {path,
                        "1 missing, 1 unexpected, 1 wrong shape, 1 wrong dtype",
                        "missing: backbone.missing.weight (model shape [8, 3])",
                        "unexpected: backbone.extra.weight",
                        "wrong shape: backbone.c.weight (file [4, 4], model [4, 2])",
                        "wrong dtype: backbone.d.idx (I64"};
  for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
    ck_assert_msg(strstr(err.msg, must[i]), "message lacks \"%s\": %s", must[i], err.msg);
  const char *must_not[] = {"num_batches_tracked", "auxiliary_head", "decode_head", "RoPE", "backbone.a.weight",
                            "backbone.b.bias"};
  for (size_t i = 0; i < sizeof must_not / sizeof must_not[0]; i++)
    ck_assert_msg(!strstr(err.msg, must_not[i]), "message names \"%s\": %s", must_not[i], err.msg);
  ck_assert_ptr_nonnull(strstr(nala_weights_report(w), "wrong shape: backbone.c.weight"));

  /* Problems were consumed: the head's own finish sees only its scope. */
  ck_assert_int_eq(nala_weights_finish(w, "decode_head.", &err), NALA_E_FORMAT);
  ck_assert_msg(strstr(err.msg, "1 unexpected") && strstr(err.msg, "decode_head.x.bias") &&
                    !strstr(err.msg, "backbone."),
                "%s", err.msg);
  ck_assert_int_eq(nala_weights_take(w, "backbone.a.weight", 2, (int64_t[]){2, 3}, out), NALA_OK);
  ck_assert_int_eq(nala_weights_finish(w, NULL, &err), NALA_OK);
  ck_assert_str_eq(nala_weights_report(w), "");
  nala_weights_close(w);
}
END_TEST

START_TEST(clean_binding_and_probes) {
  write_mixed_file();
  nala_weights *w;
  nala_err err;
  ck_assert_msg(nala_weights_open(path, &w, &err) == NALA_OK, "%s", err.msg);
  ck_assert_ptr_nonnull(nala_weights_file(w));
  ck_assert_int_eq(nala_weights_has(w, "backbone.c.weight"), 1);
  ck_assert_int_eq(nala_weights_has(w, "backbone.c"), 0);
  int ndim = 0;
  int64_t shape[NALA_ST_MAX_DIMS];
  ck_assert_int_eq(nala_weights_shape(w, "backbone.c.weight", &ndim, shape), 1);
  ck_assert(ndim == 2 && shape[0] == 4 && shape[1] == 4);
  /* Probing does not count as taking: everything is still unexpected. */
  ck_assert_int_eq(nala_weights_finish(w, "backbone.", &err), NALA_E_FORMAT);
  ck_assert_msg(strstr(err.msg, "7 unexpected"), "%s", err.msg);
  nala_weights_close(w);

  ck_assert_msg(nala_weights_open(path, &w, &err) == NALA_OK, "%s", err.msg);
  const char *keys[] = {"backbone.a.weight", "backbone.b.bias", "backbone.c.weight", "backbone.extra.weight"};
  int64_t shapes[4][2] = {{2, 3}, {3, 0}, {4, 4}, {1, 0}};
  int ndims[4] = {2, 1, 2, 1};
  float out[16];
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq(nala_weights_take(w, keys[i], ndims[i], shapes[i], out), NALA_OK);
  ck_assert_int_eq(nala_weights_take(w, "backbone.d.idx", 1, (int64_t[]){2}, NULL), NALA_E_UNSUPPORTED);
  nala_weights_ignore_suffix(w, ".idx");
  ck_assert_int_eq(nala_weights_finish(w, "nothing.", &err), NALA_E_FORMAT); /* the dtype problem stays */
  ck_assert_int_eq(nala_weights_optional(w, "backbone.layers.0.RoPE.angle", 1, (int64_t[]){8}, NULL), 1);
  nala_weights_ignore_prefix(w, "backbone.bn.");
  nala_weights_ignore_prefix(w, "auxiliary_head.");
  nala_weights_ignore_prefix(w, "decode_head.");
  nala_err_clear(&err);
  ck_assert_msg(nala_weights_finish(w, "", &err) == NALA_OK, "%s", err.msg);
  nala_weights_close(w);
}
END_TEST

/* A binder over the same bytes in memory reports the same problems under the caller's name. */
START_TEST(memory_binder_matches_file_binder) {
  write_mixed_file();
  size_t size;
  unsigned char *raw = st_read_file(path, &size);
  nala_weights *w;
  nala_err err;
  ck_assert_msg(nala_weights_open_memory(raw, size, "mem.safetensors", &w, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(nala_weights_has(w, "backbone.c.weight"), 1);
  float out[16];
  ck_assert_int_eq(nala_weights_take(w, "backbone.a.weight", 2, (int64_t[]){2, 3}, out), NALA_OK);
  ck_assert_int_eq(nala_weights_take(w, "backbone.c.weight", 2, (int64_t[]){4, 5}, NULL), NALA_E_SHAPE);
  ck_assert_int_eq(nala_weights_finish(w, "backbone.", &err), NALA_E_FORMAT);
  ck_assert_msg(strstr(err.msg, "backbone.c.weight"), "%s", err.msg);
  nala_weights_close(w);
  ck_assert_int_eq(nala_weights_open_memory(raw, 3, "mem.safetensors", &w, &err), NALA_E_FORMAT);
  ck_assert_msg(!strncmp(err.msg, "mem.safetensors: ", 17), "%s", err.msg);
  ck_assert_ptr_null(w);
  free(raw);
}
END_TEST

START_TEST(long_lists_are_capped_with_counts) {
  enum { N = 120 };
  static float one[N];
  static char names[N][32];
  nala_st_tensor t[N];
  for (int i = 0; i < N; i++) {
    snprintf(names[i], sizeof names[i], "backbone.k%03d.bias", i);
    t[i] = (nala_st_tensor){names[i], NALA_DT_F32, 1, {1}, &one[i], sizeof one[i]};
  }
  nala_err err;
  ck_assert_int_eq(nala_st_write(path, t, N, &err), NALA_OK);
  nala_weights *w;
  ck_assert_int_eq(nala_weights_open(path, &w, &err), NALA_OK);
  ck_assert_int_eq(nala_weights_finish(w, "backbone.", &err), NALA_E_FORMAT);
  ck_assert_msg(strstr(err.msg, "(120 unexpected)"), "%s", err.msg);
  ck_assert_msg(strstr(err.msg, "backbone.k000.bias") && strstr(err.msg, "... and 70 more") &&
                    !strstr(err.msg, "backbone.k050.bias"),
                "%s", err.msg);
  const char *report = nala_weights_report(w);
  size_t lines = 0;
  for (const char *c = report; *c; c++)
    lines += *c == '\n';
  ck_assert_uint_eq(lines, N);
  ck_assert_ptr_nonnull(strstr(report, "unexpected: backbone.k119.bias\n"));
  nala_weights_close(w);
}
END_TEST

START_TEST(open_errors_name_the_file) {
  nala_weights *w = (nala_weights *)1;
  nala_err err;
  ck_assert_int_eq(nala_weights_open(path, &w, &err), NALA_E_IO);
  ck_assert_ptr_null(w);
  ck_assert_msg(strstr(err.msg, path), "%s", err.msg);
  st_write_raw(path, 2, "{", 0);
  ck_assert_int_eq(nala_weights_open(path, &w, &err), NALA_E_FORMAT);
  ck_assert_msg(strstr(err.msg, path), "%s", err.msg);
  nala_weights_close(NULL);
}
END_TEST

START_TEST(seeded_source_is_deterministic) {
  nala_weights *w1, *w2, *w3;
  nala_err err;
  ck_assert_int_eq(nala_weights_seeded(0, &w1, &err), NALA_OK);
  ck_assert_int_eq(nala_weights_seeded(0, &w2, &err), NALA_OK);
  ck_assert_int_eq(nala_weights_seeded(1, &w3, &err), NALA_OK);
  ck_assert_ptr_null(nala_weights_file(w1));
  const char *key = "backbone.layers.0.blocks.0.attn.qkvg.weight";
  int64_t shape[2] = {128, 32};
  static float a[128 * 32], b[128 * 32], c[128 * 32], want[128 * 32];
  ck_assert_int_eq(nala_weights_take(w1, key, 2, shape, a), NALA_OK);
  ck_assert_int_eq(nala_weights_take(w2, key, 2, shape, b), NALA_OK);
  ck_assert_int_eq(nala_weights_take(w3, key, 2, shape, c), NALA_OK);
  ck_assert_int_eq(nala_seeded_fill(0, key, 2, shape, want, &err), NALA_OK);
  ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
  ck_assert_int_eq(memcmp(a, want, sizeof a), 0);
  ck_assert_int_ne(memcmp(a, c, sizeof a), 0);
  float bound = (float)(1.0 / sqrt(32.0));
  for (size_t i = 0; i < 128 * 32; i++)
    ck_assert(fabsf(a[i]) <= bound);

  float angle[16], want_angle[16];
  ck_assert_int_eq(nala_weights_optional(w1, "backbone.layers.2.RoPE.angle", 1, (int64_t[]){16}, angle), 1);
  nala_rope_angle(32, want_angle);
  ck_assert_int_eq(memcmp(angle, want_angle, sizeof angle), 0);
  ck_assert_int_eq(nala_weights_optional(w1, "backbone.bn.num_batches_tracked", 0, NULL, angle), 0);
  ck_assert_int_eq(nala_weights_has(w1, "anything"), 1);
  ck_assert_int_eq(nala_weights_finish(w1, "backbone.", &err), NALA_OK);

  /* A key no rule covers is a problem of the seeded source too. */
  ck_assert_int_eq(nala_weights_take(w2, "backbone.pos_embed", 1, (int64_t[]){4}, angle), NALA_E_FORMAT);
  ck_assert_int_eq(nala_weights_finish(w2, "backbone.", &err), NALA_E_FORMAT);
  ck_assert_msg(strstr(err.msg, "seeded weights (seed 0)") && strstr(err.msg, "backbone.pos_embed"), "%s", err.msg);
  nala_weights_close(w1);
  nala_weights_close(w2);
  nala_weights_close(w3);
}
END_TEST

START_TEST(bad_arguments_are_rejected) {
  nala_weights *w;
  nala_err err;
  ck_assert_int_eq(nala_weights_seeded(0, &w, &err), NALA_OK);
  float out[4];
  ck_assert_int_eq(nala_weights_take(NULL, "a.bias", 1, (int64_t[]){1}, out), NALA_E_ARG);
  ck_assert_int_eq(nala_weights_take(w, NULL, 1, (int64_t[]){1}, out), NALA_E_ARG);
  ck_assert_int_eq(nala_weights_take(w, "a.bias", 9, (int64_t[9]){1}, out), NALA_E_ARG);
  ck_assert_int_eq(nala_weights_take(w, "a.bias", 1, (int64_t[]){-1}, out), NALA_E_ARG);
  ck_assert_int_eq(nala_weights_finish(NULL, "", &err), NALA_E_ARG);
  ck_assert_int_eq(nala_weights_finish(w, "", &err), NALA_OK);
  nala_weights_close(w);
}
END_TEST

/* Two binders in two threads over the same file (plus a seeded one): no shared state between
 * binders, so both see the same values and their own problems only. */
typedef struct thread_job {
  int seeded;
  nala_status finish_status;
  char msg[NALA_ERR_MSG_MAX];
  float values[6];
} thread_job;

static void *bind_in_thread(void *arg) {
  thread_job *job = arg;
  nala_err err;
  nala_weights *w = NULL;
  for (int round = 0; round < 50; round++) {
    nala_status st = job->seeded ? nala_weights_seeded(3, &w, &err) : nala_weights_open(path, &w, &err);
    if (st != NALA_OK) {
      job->finish_status = st;
      snprintf(job->msg, sizeof job->msg, "%s", err.msg);
      return NULL;
    }
    nala_weights_take(w, "backbone.a.weight", 2, (int64_t[]){2, 3}, job->values);
    nala_weights_take(w, job->seeded ? "backbone.seeded_only" : "backbone.file_only", 1, (int64_t[]){1}, NULL);
    job->finish_status = nala_weights_finish(w, "backbone.", &err);
    snprintf(job->msg, sizeof job->msg, "%s", err.msg);
    nala_weights_close(w);
  }
  return NULL;
}

START_TEST(binders_in_two_threads_are_independent) {
  write_mixed_file();
  thread_job jobs[3] = {{.seeded = 0}, {.seeded = 0}, {.seeded = 1}};
  pthread_t threads[3];
  for (int i = 0; i < 3; i++)
    ck_assert_int_eq(pthread_create(&threads[i], NULL, bind_in_thread, &jobs[i]), 0);
  for (int i = 0; i < 3; i++)
    ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(jobs[i].finish_status, NALA_E_FORMAT);
    ck_assert_int_eq(memcmp(jobs[i].values, a_weight, sizeof a_weight), 0);
    ck_assert_msg(strstr(jobs[i].msg, "backbone.file_only") && !strstr(jobs[i].msg, "seeded_only"), "%s",
                  jobs[i].msg);
  }
  float want[6];
  ck_assert_int_eq(nala_seeded_fill(3, "backbone.a.weight", 2, (int64_t[]){2, 3}, want, NULL), NALA_OK);
  ck_assert_int_eq(memcmp(jobs[2].values, want, sizeof want), 0);
  ck_assert_msg(strstr(jobs[2].msg, "backbone.seeded_only") && !strstr(jobs[2].msg, "file_only"), "%s", jobs[2].msg);
}
END_TEST

int main(void) {
  Suite *s = suite_create("weights");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, all_problems_in_one_message);
  tcase_add_test(tc, clean_binding_and_probes);
  tcase_add_test(tc, memory_binder_matches_file_binder);
  tcase_add_test(tc, long_lists_are_capped_with_counts);
  tcase_add_test(tc, open_errors_name_the_file);
  tcase_add_test(tc, seeded_source_is_deterministic);
  tcase_add_test(tc, bad_arguments_are_rejected);
  tcase_add_test(tc, binders_in_two_threads_are_independent);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
