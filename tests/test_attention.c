/* Attention kernels: reference vs a plain double-precision restatement of NALA.py's formulas,
 * every SIMD tier this CPU has (AVX2, AVX-512) vs reference, PyTorch fixtures, RoPE tables,
 * defined edge cases, argument errors. A tier's function is only ever called through
 * nala_attn_*_for() after nala_isa_supported() said yes: its prologue alone may SIGILL elsewhere. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/kernels/attention.h"
#include "core/kernels/rope.h"
#include "tests/attention_direct.h"
#include "tests/support/compare.h"
#include "tests/support/suite.h"

#define FIX NALA_FIXTURES "/attention/"

/* Runs fn and returns the output packed as [N][C] (caller frees). */
static float *run(problem *p, nala_attn_fn fn) {
  nala_err err;
  nala_err_clear(&err);
  for (size_t i = 0; i < (size_t)p->N * p->ld_out; i++)
    p->out[i] = NAN; /* every element the kernel owns must be written */
  nala_attn_args a = problem_args(p, &err);
  /* a workspace of exactly the stated size, so ASan sees any overrun of the sizing functions */
  int linear = fn == nala_attn_linear_for(NALA_ISA_REF) || fn == nala_attn_linear_for(NALA_ISA_AVX2) ||
               fn == nala_attn_linear_for(NALA_ISA_AVX512);
  a.ws_floats = linear ? nala_attn_linear_ws_floats(p->N, p->heads, p->d, p->nthreads)
                       : nala_attn_softmax_ws_floats(p->N, p->heads, p->d, p->nthreads);
  a.ws = malloc(sizeof(float) * a.ws_floats);
  ck_assert(a.ws != NULL);
  nala_status st = fn(&a);
  free(a.ws);
  ck_assert_msg(st == NALA_OK, "kernel failed: %s", err.msg);
  float *packed = malloc(sizeof(float) * (size_t)p->N * p->C);
  ck_assert(packed);
  for (int n = 0; n < p->N; n++)
    memcpy(packed + (size_t)n * p->C, p->out + (size_t)n * p->ld_out, sizeof(float) * p->C);
  return packed;
}

/* ---- comparisons ---- */

static void expect_close(const char *label, const float *got, const float *want, size_t n, double rel_l2_max,
                         double max_abs_rel) {
  double peak = 0;
  for (size_t i = 0; i < n; i++)
    peak = fmax(peak, fabs(want[i]));
  nala_cmp c = nala_compare_f32(label, got, want, n, max_abs_rel * peak, 0);
  ck_assert_msg(c.n_nonfinite == 0, "%s: %zu non-finite outputs", label, c.n_nonfinite);
  ck_assert_msg(c.rel_l2 <= rel_l2_max, "%s: rel_l2 %.3e > %.1e", label, c.rel_l2, rel_l2_max);
  ck_assert_msg(c.max_abs <= max_abs_rel * peak, "%s: max_abs %.3e > %.1e * max|want| %.3e", label, c.max_abs,
                max_abs_rel, peak);
}

/* Tiers in test order; index 0 is the reference. */
static const nala_isa tiers[] = {NALA_ISA_REF, NALA_ISA_AVX2, NALA_ISA_AVX512};
#define NTIERS 3

/* 1 when the tier runs here; else prints the skip line and returns 0. */
static int tier_runs(int t) {
  if (nala_isa_supported(tiers[t]))
    return 1;
  printf("%s: not on this CPU, skipped\n", nala_isa_name(tiers[t]));
  return 0;
}

static nala_attn_fn kernel_of(int softmax, int t) {
  return softmax ? nala_attn_softmax_for(tiers[t]) : nala_attn_linear_for(tiers[t]);
}

/* Reference vs double: the reference keeps PyTorch's fp32 features and RoPE (rounding of
 * ~6e-8 relative per op, a few ops deep, amplified by the power p <= 4.5) and sums in double;
 * measured rel_l2 ~1e-7 and max_abs ~5e-7 * max|want|: the bounds leave a 10x margin. */
#define REF_VS_DOUBLE_L2 2e-6
#define REF_VS_DOUBLE_ABS 5e-6
/* SIMD vs reference: the vector pow (~3e-7 relative), exp and fp32 sums put the AVX-512
 * kernels ~2e-7 (linear) and ~4e-7 (softmax) rel_l2 from the double-summing reference, the same
 * size as PyTorch's own fp32 noise (~2e-7 vs the fixtures); bounds leave a ~5x margin. The AVX2
 * tier is held to the same bounds. */
#define AVX_VS_REF_L2 3e-6
#define AVX_VS_REF_ABS 2e-5

typedef struct shape {
  int H, W, heads, d;
} shape;

/* d = 96 (B and L variants, stages 1-2) and 128 take the 6- and 8-vector tiles; d = 16 and 48
 * exercise the AVX-512 entry points' fallback to the reference. */
static const shape shapes[] = {{7, 9, 1, 32},  {13, 21, 2, 64}, {1, 1, 3, 64}, {1, 37, 2, 32},
                               {5, 3, 3, 32},  {9, 8, 1, 64},   {16, 16, 2, 64}, {11, 7, 2, 96},
                               {5, 13, 1, 128}, {3, 5, 2, 16},  {4, 4, 1, 48}};

static void check_kind(int softmax, float qs, float ks, const char *tag) {
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    const shape *s = &shapes[i];
    problem p;
    problem_init(&p, s->H, s->W, s->heads, s->d, 100 + i, qs, ks, 1.0f);
    char label[128];
    snprintf(label, sizeof label, "%s %s %dx%d heads=%d d=%d", softmax ? "softmax" : "linear", tag, s->H, s->W,
             s->heads, s->d);
    float *want = softmax ? direct_softmax(&p) : direct_linear(&p);
    float *ref = run(&p, softmax ? nala_attn_softmax_ref : nala_attn_linear_ref);
    char l2[160];
    snprintf(l2, sizeof l2, "%s ref-vs-double", label);
    expect_close(l2, ref, want, (size_t)p.N * p.C, REF_VS_DOUBLE_L2, REF_VS_DOUBLE_ABS);
    for (int t = 1; t < NTIERS; t++) {
      if (!tier_runs(t))
        continue;
      float *simd = run(&p, kernel_of(softmax, t));
      snprintf(l2, sizeof l2, "%s %s-vs-ref", label, nala_isa_name(tiers[t]));
      expect_close(l2, simd, ref, (size_t)p.N * p.C, AVX_VS_REF_L2, AVX_VS_REF_ABS);
      free(simd);
    }
    free(want), free(ref);
    problem_free(&p);
  }
}

START_TEST(linear_matches_formula) { check_kind(0, 1.0f, 1.0f, "unit"); }
END_TEST

START_TEST(softmax_matches_formula) { check_kind(1, 1.0f, 1.0f, "unit"); }
END_TEST

/* Large but finite magnitudes: q 1e4 (norm 1e5, p = 4.5), k 30 (k^3 ~ 3e4), and a small-q
 * case (p near 1.5). Softmax gets scores of ~+-50, where fp32 score rounding (~1e-5 absolute)
 * moves the weights by ~1e-5 relative, hence the looser bound. */
START_TEST(large_and_small_magnitudes) {
  check_kind(0, 1e4f, 30.0f, "q1e4-k30");
  check_kind(0, 1e-3f, 1e-2f, "q1e-3-k1e-2");
  for (size_t i = 0; i < 2; i++) {
    problem p;
    problem_init(&p, 6, 7, 2, i ? 64 : 32, 7 + i, 3.0f, 3.0f, 100.0f);
    float *want = direct_softmax(&p), *ref = run(&p, nala_attn_softmax_ref);
    expect_close("softmax scores~50 ref-vs-double", ref, want, (size_t)p.N * p.C, 1e-4, 1e-3);
    for (int t = 1; t < NTIERS; t++) {
      if (!tier_runs(t))
        continue;
      float *simd = run(&p, kernel_of(1, t));
      char label[64];
      snprintf(label, sizeof label, "softmax scores~50 %s-vs-ref", nala_isa_name(tiers[t]));
      expect_close(label, simd, ref, (size_t)p.N * p.C, 1e-4, 1e-3);
      free(simd);
    }
    free(want), free(ref);
    problem_free(&p);
  }
}
END_TEST

/* A zero query row makes PyTorch divide 0 by 0; we define that token's output as 0. Rows whose
 * norm overflows fp32 (|q| ~ 1e20) give 0 in PyTorch too, and an infinite element the same 0;
 * a NaN element gives NaN in that token only. Other tokens are unaffected. */
START_TEST(zero_and_overflowing_query_rows_give_zero) {
  for (int isa = 0; isa < NTIERS; isa++) {
    if (!tier_runs(isa))
      continue;
    problem p;
    problem_init(&p, 5, 6, 2, 64, 11, 1.0f, 1.0f, 1.0f);
    memset(qrow(&p, 4, 1), 0, sizeof(float) * p.d);
    for (int i = 0; i < p.d; i++)
      qrow(&p, 9, 0)[i] = (i % 3 ? 2e20f : -3e20f);
    float *want = direct_linear(&p);
    qrow(&p, 12, 1)[5] = INFINITY; /* infinite element: qn = inf, out 0 (PyTorch: NaN) */
    qrow(&p, 17, 0)[3] = NAN;      /* NaN stays visible, as in PyTorch */
    float *got = run(&p, kernel_of(0, isa));
    for (int j = 0; j < p.d; j++) {
      ck_assert_float_eq(got[(size_t)4 * p.C + p.d + j], 0.0f);
      ck_assert_float_eq(got[(size_t)9 * p.C + j], 0.0f);
      ck_assert_float_eq(got[(size_t)12 * p.C + p.d + j], 0.0f);
      ck_assert_msg(isnan(got[(size_t)17 * p.C + j]), "NaN query: out[%d] = %g", j, got[(size_t)17 * p.C + j]);
      want[(size_t)9 * p.C + j] = 0.0f; /* the double formula has no fp32 overflow */
      want[(size_t)12 * p.C + p.d + j] = 0.0f;
      want[(size_t)17 * p.C + j] = got[(size_t)17 * p.C + j] = 0.0f; /* checked above */
    }
    expect_close(isa == 0 ? "zero-q ref" : isa == 1 ? "zero-q avx2" : "zero-q avx512", got, want, (size_t)p.N * p.C, REF_VS_DOUBLE_L2,
                 REF_VS_DOUBLE_ABS);
    free(want), free(got);
    problem_free(&p);
  }
}
END_TEST

/* All-zero keys: NaLa's kv and kmean vanish, so out = 0 * 1e6 = 0; softmax scores are all equal,
 * so out is the plain mean of v. One repeated nonzero key: both match the double formulas (the
 * AVX-512 kernels get twice the reference's bound: their own ~2e-7 adds to it). N = 1: softmax
 * returns v itself. */
START_TEST(equal_keys_and_single_token) {
  for (int isa = 0; isa < NTIERS; isa++) {
    if (!tier_runs(isa))
      continue;
    problem p;
    problem_init(&p, 4, 5, 2, 32, 12, 1.0f, 1.0f, 1.0f);
    for (int n = 0; n < p.N; n++)
      memset(krow(&p, n, 0), 0, sizeof(float) * p.C);
    float *lin = run(&p, kernel_of(0, isa)), *sm = run(&p, kernel_of(1, isa));
    for (int n = 0; n < p.N; n++)
      for (int c = 0; c < p.C; c++) {
        double mean = 0;
        for (int m = 0; m < p.N; m++)
          mean += p.v[(size_t)m * p.ld_v + c] / p.N;
        ck_assert_float_eq(lin[(size_t)n * p.C + c], 0.0f);
        ck_assert_msg(fabs(sm[(size_t)n * p.C + c] - mean) < 1e-6, "softmax equal keys: %g vs mean %g",
                      sm[(size_t)n * p.C + c], mean);
      }
    free(lin), free(sm);
    problem_free(&p);

    /* one nonzero key repeated at every position: only RoPE tells the tokens apart */
    problem_init(&p, 6, 5, 2, 64, 14, 1.0f, 1.0f, 1.0f);
    for (int n = 1; n < p.N; n++)
      memcpy(krow(&p, n, 0), krow(&p, 0, 0), sizeof(float) * p.C);
    float *want_lin = direct_linear(&p), *want_sm = direct_softmax(&p);
    lin = run(&p, kernel_of(0, isa)), sm = run(&p, kernel_of(1, isa));
    expect_close("linear repeated key", lin, want_lin, (size_t)p.N * p.C, REF_VS_DOUBLE_L2 * (isa ? 2 : 1),
                 REF_VS_DOUBLE_ABS);
    expect_close("softmax repeated key", sm, want_sm, (size_t)p.N * p.C, REF_VS_DOUBLE_L2 * (isa ? 2 : 1),
                 REF_VS_DOUBLE_ABS);
    free(lin), free(sm), free(want_lin), free(want_sm);
    problem_free(&p);

    problem_init(&p, 1, 1, 2, 64, 13, 1.0f, 1.0f, 1.0f);
    sm = run(&p, kernel_of(1, isa));
    for (int c = 0; c < p.C; c++)
      ck_assert_float_eq(sm[c], p.v[c]);
    free(sm);
    problem_free(&p);
  }
}
END_TEST

/* Softmax: a NaN in one key puts a NaN in every score row of its head, so PyTorch and the
 * reference give NaN for every query of that head; the SIMD kernels' max and exp would drop the
 * score, so they must carry it through themselves. A NaN query poisons its own row only, and the
 * other head stays finite. 13x21 tokens: the NaN key sits in a later key block than the first
 * and the rows span more than one query block. */
START_TEST(softmax_nan_inputs_poison_their_rows) {
  for (int isa = 0; isa < NTIERS; isa++) {
    if (!tier_runs(isa))
      continue;
    problem p;
    problem_init(&p, 13, 21, 2, 64, 15, 1.0f, 1.0f, 1.0f);
    krow(&p, 200, 1)[7] = NAN;
    qrow(&p, 33, 0)[2] = NAN;
    float *got = run(&p, kernel_of(1, isa));
    for (int n = 0; n < p.N; n++)
      for (int c = 0; c < p.C; c++) {
        int want_nan = c >= p.d || n == 33;
        float x = got[(size_t)n * p.C + c];
        ck_assert_msg(want_nan ? isnan(x) : isfinite(x), "%s: NaN inputs: out[%d][%d] = %g, want %s",
                      nala_isa_name(tiers[isa]), n, c, x, want_nan ? "NaN" : "finite");
      }
    free(got);
    problem_free(&p);
  }
}
END_TEST

/* Per-thread partial sums must not change the result beyond summation-order noise. */
START_TEST(thread_count_does_not_change_result) {
  for (int isa = 0; isa < NTIERS; isa++) {
    if (!tier_runs(isa))
      continue;
    problem p;
    problem_init(&p, 11, 13, 2, 64, 14, 1.0f, 1.0f, 1.0f);
    float *lin3 = run(&p, kernel_of(0, isa)), *sm3 = run(&p, kernel_of(1, isa));
    p.nthreads = 1;
    float *lin1 = run(&p, kernel_of(0, isa)), *sm1 = run(&p, kernel_of(1, isa));
    expect_close("linear 1 vs 3 threads", lin1, lin3, (size_t)p.N * p.C, 1e-6, 1e-5);
    expect_close("softmax 1 vs 3 threads", sm1, sm3, (size_t)p.N * p.C, 1e-7, 1e-6);
    free(lin3), free(sm3), free(lin1), free(sm1);
    problem_free(&p);
  }
}
END_TEST

/* Two calls at once, each with its own workspace (as two model contexts in two threads), give
 * what they give alone: the kernels keep no state outside their arguments. */
typedef struct concurrent_job {
  problem *p;
  nala_attn_fn fn;
  float *result;
} concurrent_job;

static void *concurrent_run(void *arg) {
  concurrent_job *job = arg;
  for (int rep = 0; rep < 3; rep++) {
    free(job->result);
    job->result = run(job->p, job->fn);
  }
  return NULL;
}

START_TEST(two_threads_two_workspaces) {
  nala_isa isa = nala_isa_best();
  problem pa, pb;
  problem_init(&pa, 12, 10, 2, 64, 21, 1.0f, 1.0f, 1.0f);
  problem_init(&pb, 9, 11, 3, 32, 22, 1.0f, 1.0f, 1.0f);
  concurrent_job ja = {&pa, nala_attn_linear_for(isa), NULL}, jb = {&pb, nala_attn_softmax_for(isa), NULL};
  float *alone_a = run(&pa, ja.fn), *alone_b = run(&pb, jb.fn);
  pthread_t ta, tb;
  ck_assert_int_eq(pthread_create(&ta, NULL, concurrent_run, &ja), 0);
  ck_assert_int_eq(pthread_create(&tb, NULL, concurrent_run, &jb), 0);
  pthread_join(ta, NULL), pthread_join(tb, NULL);
  expect_close("linear concurrent vs alone", ja.result, alone_a, (size_t)pa.N * pa.C, 1e-6, 1e-5);
  expect_close("softmax concurrent vs alone", jb.result, alone_b, (size_t)pb.N * pb.C, 1e-7, 1e-6);
  free(ja.result), free(jb.result), free(alone_a), free(alone_b);
  problem_free(&pa), problem_free(&pb);
}
END_TEST

/* `nala bench attention`: runs, prints the machine-readable last line, rejects bad options. */
static int run_cli(const char *args, char *last, size_t cap) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "'%s' bench attention %s 2>/dev/null", NALA_CLI, args);
  FILE *f = popen(cmd, "r");
  ck_assert(f != NULL);
  char line[1024];
  last[0] = 0;
  while (fgets(line, sizeof line, f))
    snprintf(last, cap, "%s", line);
  int st = pclose(f);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(bench_cli_output_and_exit_codes) {
  char last[1024];
  ck_assert_msg(access(NALA_CLI, X_OK) == 0, "%s is not built (this test runs the `nala` target)", NALA_CLI);
  ck_assert_int_eq(run_cli("--kind both --tokens 300 --dim 32 --heads 2 --threads 1 --runs 2", last, sizeof last),
                   0);
  ck_assert_msg(strncmp(last, "median_ms=", 10) == 0 && strstr(last, " gflops=") && strstr(last, " peak_rss_mb="),
                "last line: %s", last);
  ck_assert_int_eq(run_cli("--kind both --tokens 64 --isa ref --runs 1", last, sizeof last), 0);
  ck_assert_int_eq(run_cli("--kind bogus", last, sizeof last), 2);
  ck_assert_int_eq(run_cli("--tokens 12x", last, sizeof last), 2);
  ck_assert_int_eq(run_cli("--dim 30", last, sizeof last), 2);
  ck_assert_int_eq(run_cli("--runs", last, sizeof last), 2);
}
END_TEST

/* ---- PyTorch fixtures (gen_attention_fixtures.py) ---- */

static float *load_f32(const char *name, size_t n) {
  char path[512];
  snprintf(path, sizeof path, FIX "%s", name);
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  float *buf = malloc(sizeof(float) * n);
  ck_assert(buf);
  size_t got = fread(buf, sizeof(float), n, f);
  int extra = fgetc(f);
  fclose(f);
  ck_assert_msg(got == n && extra == EOF, "%s: expected exactly %zu floats", path, n);
  return buf;
}

/* fp32 PyTorch vs us: both sides carry fp32 rounding (~1e-6 relative after the power). */
START_TEST(matches_pytorch_fixtures) {
  const char *prefix[2] = {"lin", "sm"};
  int heads[2] = {2, 1}, dims[2] = {32, 64};
  for (int kind = 0; kind < 2; kind++) {
    problem p;
    problem_init(&p, 5, 7, heads[kind], dims[kind], 1, 1.0f, 1.0f, 1.0f);
    char name[64];
    snprintf(name, sizeof name, "%s_qk.f32", prefix[kind]);
    float *qk = load_f32(name, (size_t)p.N * 2 * p.C);
    snprintf(name, sizeof name, "%s_v.f32", prefix[kind]);
    float *v = load_f32(name, (size_t)p.N * p.C);
    snprintf(name, sizeof name, "%s_out.f32", prefix[kind]);
    float *want = load_f32(name, (size_t)p.N * p.C);
    for (int n = 0; n < p.N; n++) {
      memcpy(p.qk + (size_t)n * p.ld_qk, qk + (size_t)n * 2 * p.C, sizeof(float) * 2 * p.C);
      memcpy(p.v + (size_t)n * p.ld_v, v + (size_t)n * p.C, sizeof(float) * p.C);
    }
    for (int isa = 0; isa < NTIERS; isa++) {
      if (!tier_runs(isa))
        continue;
      float *got = run(&p, kernel_of(kind, isa));
      snprintf(name, sizeof name, "%s %s vs pytorch", prefix[kind], nala_isa_name(tiers[isa]));
      expect_close(name, got, want, (size_t)p.N * p.C, 1e-5, 1e-4);
      free(got);
    }
    free(qk), free(v), free(want);
    problem_free(&p);
  }
}
END_TEST

/* gen_attention_fixtures.py's hashed_inputs(): exact fp32 values, no stored inputs needed. */
static void hashed_inputs(float *dst, size_t n, unsigned long long seed) {
  for (size_t i = 0; i < n; i++) {
    unsigned long long h = (unsigned long long)i * 0x9E3779B97F4A7C15ull + seed;
    dst[i] = (float)((double)(h >> 40) / 16777216.0 * 4.0 - 2.0);
  }
}

/* 4096 tokens (64x64): many key blocks, thread ranges and accumulation steps, against PyTorch's
 * fp32 (whose own distance to fp64 at this size is ~3e-7 linear, ~5e-7 softmax, measured on
 * similar inputs); bounds are ~10x the measured ~2.5e-7. The reference softmax
 * is left out: its double N^2 d loop is slow under ASan and the small fixture covers it. */
/* _i: 0 linear, 1 softmax (its own check case, "softmax_4096": see main). */
START_TEST(matches_pytorch_at_4096_tokens) {
  const char *files[2] = {"big_lin_out.f32", "big_sm_out.f32"};
  int heads[2] = {2, 1}, dims[2] = {32, 64};
  for (int kind = _i; kind == _i; kind++) {
    problem p;
    problem_init(&p, 64, 64, heads[kind], dims[kind], 1, 1.0f, 1.0f, 1.0f);
    p.ld_qk = 2 * p.C, p.ld_v = p.C; /* the fixture's dense layout */
    hashed_inputs(p.qk, (size_t)p.N * 2 * p.C, 1);
    hashed_inputs(p.v, (size_t)p.N * p.C, 2);
    float *want = load_f32(files[kind], (size_t)p.N * p.C);
    for (int isa = kind; isa < NTIERS; isa++) {
      if (!tier_runs(isa))
        continue;
      float *got = run(&p, kernel_of(kind, isa));
      char label[64];
      snprintf(label, sizeof label, "%s %s 4096 tokens vs pytorch", kind ? "softmax" : "linear",
               nala_isa_name(tiers[isa]));
      expect_close(label, got, want, (size_t)p.N * p.C, 3e-6, 3e-5);
      free(got);
    }
    free(want);
    problem_free(&p);
  }
}
END_TEST

/* Angles are bit-identical to PyTorch's; sin/cos within 1 ulp (PyTorch uses SLEEF, we libm). */
START_TEST(rope_tables_match_pytorch_and_direct) {
  for (int d = 32; d <= 64; d += 32) {
    char name[64];
    float angle[32];
    nala_rope_angle(d, angle);
    snprintf(name, sizeof name, "angle_d%d.f32", d);
    float *want_angle = load_f32(name, (size_t)d / 2);
    for (int i = 0; i < d / 2; i++)
      ck_assert_msg(angle[i] == want_angle[i], "angle d=%d [%d]: %.9g vs torch %.9g", d, i, angle[i], want_angle[i]);
    size_t nt = nala_rope_tables_floats(5, 7, d);
    float *tables = malloc(sizeof(float) * nt);
    nala_rope rope;
    nala_rope_build(5, 7, d, angle, tables, &rope);
    snprintf(name, sizeof name, "rope_d%d_h5w7.f32", d);
    float *want = load_f32(name, nt);
    double worst = 0;
    for (size_t i = 0; i < nt; i++)
      worst = fmax(worst, fabs(tables[i] - want[i]));
    printf("rope d=%d tables vs torch: max_abs=%.3e\n", d, worst);
    ck_assert_msg(worst <= 0x1p-24 * 2, "rope d=%d differs from torch by %.3e", d, worst);
    /* direct: sin/cos in double of the fp32 product position * angle */
    for (int y = 0; y < 5; y++)
      for (int j = 0; j < d / 2; j++) {
        double th = (double)((float)y * angle[j]);
        ck_assert(fabs(rope.sin_h[y * (d / 2) + j] - sin(th)) < 1.2e-7);
        ck_assert(fabs(rope.cos_h[y * (d / 2) + j] - cos(th)) < 1.2e-7);
      }
    /* the official formula 1 / 10000^(j/(d/4-1)) in exact arithmetic: fp32 linspace is off by up
     * to ~3e-8, which 10000^t turns into ~9.2 * 3e-8 relative, plus two fp32 roundings */
    for (int j = 0; j < d / 4; j++)
      ck_assert(fabs(angle[2 * j] - pow(10000.0, -(double)j / (d / 4 - 1))) <= 6e-7 * angle[2 * j]);
    free(want_angle), free(tables), free(want);
  }
}
END_TEST

/* NALA_ISA forces a tier the CPU has; one it lacks, or an unknown name, is an error naming it
 * (never a silent fallback, never SIGILL). */
START_TEST(isa_override_and_selectors) {
  nala_isa got;
  nala_err err;
  unsetenv("NALA_ISA");
  ck_assert_int_eq(nala_isa_resolve(NALA_ISA_AUTO, &got, &err), NALA_OK);
  ck_assert_int_eq(got, nala_isa_best());
  ck_assert(nala_isa_supported(NALA_ISA_REF));
  ck_assert(!nala_isa_supported(NALA_ISA_AUTO));
  ck_assert(nala_isa_best() != NALA_ISA_AUTO && nala_isa_supported(nala_isa_best()));
  for (int t = 0; t < NTIERS; t++) {
    const char *name = nala_isa_name(tiers[t]);
    setenv("NALA_ISA", name, 1);
    nala_status st = nala_isa_resolve(NALA_ISA_AUTO, &got, &err);
    if (nala_isa_supported(tiers[t])) {
      ck_assert_int_eq(st, NALA_OK);
      ck_assert_int_eq(got, tiers[t]);
    } else {
      char want[64];
      snprintf(want, sizeof want, "NALA_ISA=%s: this CPU has no ", name);
      ck_assert_int_eq(st, NALA_E_UNSUPPORTED);
      ck_assert_msg(strstr(err.msg, want) == err.msg, "%s", err.msg);
      printf("forcing %s here: %s\n", name, err.msg);
    }
    unsetenv("NALA_ISA");
    /* an explicit request is checked the same way, and wins over the environment */
    setenv("NALA_ISA", "ref", 1);
    st = nala_isa_resolve(tiers[t], &got, &err);
    ck_assert_int_eq(st, nala_isa_supported(tiers[t]) ? NALA_OK : NALA_E_UNSUPPORTED);
    if (!st)
      ck_assert_int_eq(got, tiers[t]);
    unsetenv("NALA_ISA");
  }
  setenv("NALA_ISA", "sse9", 1);
  ck_assert_int_eq(nala_isa_resolve(NALA_ISA_AUTO, &got, &err), NALA_E_ARG);
  ck_assert_msg(strstr(err.msg, "NALA_ISA=sse9") && strstr(err.msg, "'sse9'"), "%s", err.msg);
  unsetenv("NALA_ISA");
  ck_assert_int_eq(nala_isa_parse("AVX512", &got, &err), NALA_E_ARG);
  ck_assert_int_eq(nala_isa_parse("avx2", &got, &err), NALA_OK);
  ck_assert_int_eq(got, NALA_ISA_AVX2);
  ck_assert(nala_attn_linear_for(NALA_ISA_REF) == nala_attn_linear_ref);
  ck_assert(nala_attn_softmax_for(NALA_ISA_REF) == nala_attn_softmax_ref);
  ck_assert(nala_attn_linear_for(NALA_ISA_AUTO) == nala_attn_linear_ref);
  ck_assert(nala_attn_linear_for(NALA_ISA_AVX2) != nala_attn_linear_for(NALA_ISA_AVX512));
  ck_assert(nala_attn_softmax_for(NALA_ISA_AVX2) != nala_attn_softmax_ref);
  char cpu[128];
  nala_cpu_name(cpu, sizeof cpu);
  printf("CPU: %s, best tier %s\n", cpu, nala_isa_name(nala_isa_best()));
  ck_assert(strstr(cpu, "family") != NULL || strlen(cpu) > 0);
}
END_TEST

START_TEST(bad_arguments_are_reported) {
  problem p;
  problem_init(&p, 3, 4, 2, 32, 15, 1.0f, 1.0f, 1.0f);
  nala_err err;
  for (int i = 0; i < 2 * NTIERS; i++) {
    int softmax = i >= NTIERS, t = i % NTIERS;
    if (!tier_runs(t))
      continue;
    nala_attn_fn fn = kernel_of(softmax, t);
    nala_attn_args a = problem_args(&p, &err);
    a.q = NULL;
    ck_assert_int_eq(fn(&a), NALA_E_ARG);
    ck_assert_msg(strstr(err.msg, "NULL q") != NULL, "%s", err.msg);
    a = problem_args(&p, &err);
    a.d = 30;
    ck_assert_int_eq(fn(&a), NALA_E_ARG);
    ck_assert_msg(strstr(err.msg, "d=30") != NULL, "%s", err.msg);
    a = problem_args(&p, &err);
    a.N = 13; /* rope is 3x4 */
    ck_assert_int_eq(fn(&a), NALA_E_ARG);
    ck_assert_msg(strstr(err.msg, "3x4") != NULL, "%s", err.msg);
    a = problem_args(&p, &err);
    a.ld_v = 63;
    ck_assert_int_eq(fn(&a), NALA_E_ARG);
    ck_assert_msg(strstr(err.msg, "ld_v=63") != NULL, "%s", err.msg);
    a = problem_args(&p, &err);
    a.ws = NULL;
    ck_assert_int_eq(fn(&a), NALA_E_ARG);
    a = problem_args(&p, &err);
    a.ws_floats = 100; /* a stated workspace size below the need is refused, not overrun */
    ck_assert_int_eq(fn(&a), NALA_E_NOMEM);
    ck_assert_msg(strstr(err.msg, "workspace of 100 floats is too small") != NULL, "%s", err.msg);
    a.ws_floats = !softmax ? nala_attn_linear_ws_floats(p.N, p.heads, p.d, p.nthreads)
                        : nala_attn_softmax_ws_floats(p.N, p.heads, p.d, p.nthreads);
    ck_assert_int_eq(fn(&a), NALA_OK);
    ck_assert_int_eq(fn(NULL), NALA_E_ARG);
  }
  problem_free(&p);
}
END_TEST

int main(void) {
  Suite *s = suite_create("attention");
  TCase *tc = tcase_create("kernels");
  tcase_add_test(tc, linear_matches_formula);
  tcase_add_test(tc, softmax_matches_formula);
  tcase_add_test(tc, large_and_small_magnitudes);
  tcase_add_test(tc, zero_and_overflowing_query_rows_give_zero);
  tcase_add_test(tc, equal_keys_and_single_token);
  tcase_add_test(tc, softmax_nan_inputs_poison_their_rows);
  tcase_add_test(tc, thread_count_does_not_change_result);
  tcase_add_test(tc, matches_pytorch_fixtures);
  tcase_add_loop_test(tc, matches_pytorch_at_4096_tokens, 0, 1);
  tcase_add_test(tc, rope_tables_match_pytorch_and_direct);
  tcase_add_test(tc, isa_override_and_selectors);
  tcase_add_test(tc, bad_arguments_are_reported);
  tcase_add_test(tc, two_threads_two_workspaces);
  tcase_set_timeout(tc, 120); /* ASan on a shared 2-core machine; typical total is ~5 s */
  suite_add_tcase(s, tc);
  /* Softmax over 4096 tokens is 4 GFLOP: ~0.1 s here, ~550 s under qemu, where the emulated-Zen 3
   * entry (tests/CMakeLists.txt) runs "kernels" alone. Its code paths are those the formula cases
   * take under qemu too: 13x21 and 16x16 tokens span two query blocks (192) and several key blocks
   * (64), with and without tails; 4096 tokens only repeat them. */
  TCase *big = tcase_create("softmax_4096");
  tcase_add_loop_test(big, matches_pytorch_at_4096_tokens, 1, 2);
  tcase_set_timeout(big, 120);
  suite_add_tcase(s, big);
  /* each CLI run loads oneDNN and OpenCV: give it room on a loaded machine */
  TCase *cli = tcase_create("cli");
  tcase_add_test(cli, bench_cli_output_and_exit_codes);
  tcase_set_timeout(cli, 120);
  suite_add_tcase(s, cli);
  return nala_run_suite(s);
}
