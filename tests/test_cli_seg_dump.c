/* `nala seg --dump` (the parity interface) and `nala bench seg` end to end: dumps compared with the
 * mmseg_ref fixtures of tests/test_segmentor.c (whole, and slide selected by --cfg-options), exit
 * codes for bad arguments (2) and bad data (1). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nala/safetensors.h"
#include "tests/support/cli.h"
#include "tests/support/compare.h"
#include "tests/support/suite.h"

#define FIX NALA_FIXTURES "/segmentor/"

static char *last_out, *last_err;

static int run(const char *args) {
  free(last_out);
  free(last_err);
  last_out = last_err = NULL;
  return nala_run_cli(args, &last_out, &last_err);
}

static void stderr_contains(const char *needle) {
  ck_assert_ptr_nonnull(last_err);
  ck_assert_msg(strstr(last_err, needle) != NULL, "stderr lacks \"%s\": %s", needle, last_err);
}

/* Writes a [1,c,h,w] float32 'input' of the fixtures' formula (bad: one NaN at flat index 5). */
static void write_input(const char *path, int c, int h, int w, int bad) {
  size_t n = (size_t)c * h * w;
  float *x = malloc(n * sizeof *x);
  ck_assert_ptr_nonnull(x);
  for (size_t i = 0; i < n; i++)
    x[i] = (float)((i * 7919u) % 1000u) / 500.0f - 1.0f;
  if (bad)
    x[5] = NAN;
  nala_st_tensor t = {.name = "input", .dtype = NALA_DT_F32, .ndim = 4, .shape = {1, c, h, w}, .data = x,
                      .nbytes = n * sizeof *x};
  nala_err err;
  ck_assert_msg(nala_st_write(path, &t, 1, &err) == NALA_OK, "%s", err.msg);
  free(x);
}

/* The dump at out against fixture name: decode_logits rel-L2 <= 1e-4, seg_pred int32 [h,w] equal
 * outside the low-margin pixels. */
static void check_dump(const char *out, const char *name) {
  char path[1024];
  snprintf(path, sizeof path, FIX "%s.safetensors", name);
  nala_err err;
  nala_st_file *got = NULL, *want = NULL;
  ck_assert_msg(nala_st_open(out, &got, &err) == NALA_OK, "%s", err.msg);
  ck_assert_msg(nala_st_open(path, &want, &err) == NALA_OK, "%s", err.msg);
  const nala_st_tensor *gl = nala_st_find(got, "decode_logits"), *wl = nala_st_find(want, "decode_logits");
  const nala_st_tensor *gp = nala_st_find(got, "seg_pred"), *wp = nala_st_find(want, "seg_pred");
  const nala_st_tensor *low = nala_st_find(want, "low_margin");
  ck_assert(gl && wl && gp && wp && low);
  long long gs[4], ws[4];
  for (int i = 0; i < 4; i++)
    gs[i] = gl->shape[i], ws[i] = wl->shape[i];
  ck_assert(nala_compare_shape(name, gs, gl->ndim, ws, wl->ndim));
  ck_assert_int_eq(gl->dtype, NALA_DT_F32);
  nala_cmp r = nala_compare_f32(name, gl->data, wl->data, nala_st_numel(wl), 1e-3, 1e-3);
  ck_assert_msg(r.rel_l2 <= 1e-4, "%s: rel_l2 %g", name, r.rel_l2);
  ck_assert_int_eq(gp->dtype, NALA_DT_I32);
  ck_assert_int_eq(gp->ndim, 2);
  ck_assert(gp->shape[0] == wp->shape[0] && gp->shape[1] == wp->shape[1]);
  size_t n = nala_st_numel(wp), differ = 0, differ_low = 0;
  const int32_t *g = gp->data;
  const uint8_t *w = wp->data, *m = low->data;
  for (size_t i = 0; i < n; i++)
    if (g[i] != w[i])
      differ++, differ_low += m[i];
  printf("%s via nala seg --dump: rel_l2=%.3g, %zu of %zu labels differ (%zu at margin < 1e-4)\n", name, r.rel_l2,
         differ, n, differ_low);
  ck_assert(differ == differ_low);
  nala_st_close(got);
  nala_st_close(want);
}

START_TEST(dump_whole_and_slide_match_mmseg) {
  char in[256], out[256], args[2048];
  snprintf(in, sizeof in, "/tmp/nala_cli_seg_in_%d.safetensors", (int)getpid());
  snprintf(out, sizeof out, "/tmp/nala_cli_seg_out_%d.safetensors", (int)getpid());
  write_input(in, 3, 500, 375, 0);
  snprintf(args, sizeof args, "seg --config %sfpn_xt.json --input %s --dump %s --threads 2", FIX, in, out);
  ck_assert_msg(run(args) == 0, "%s", last_err);
  ck_assert(strstr(last_out, "decode_logits: [1, 19, 125, 94]"));
  check_dump(out, "fpn_500x375");
  /* slide mode chosen on the command line, as for the Cityscapes configs */
  write_input(in, 3, 200, 296, 0);
  snprintf(args, sizeof args,
           "seg --config %supernet_xt.json --threads 2 --input %s --dump %s --cfg-options model.test_cfg.mode=slide "
           "'model.test_cfg.crop_size=[128,128]' 'model.test_cfg.stride=[96,96]'",
           FIX, in, out);
  ck_assert_msg(run(args) == 0, "%s", last_err);
  check_dump(out, "upernet_slide_200x296");
  unlink(in);
  unlink(out);
}
END_TEST

START_TEST(bench_prints_stages_and_last_line) {
  char args[1024];
  snprintf(args, sizeof args, "bench seg --config %supernet_xt.json --size 64x96 --threads 1 --runs 2 --warmup 1",
           FIX);
  ck_assert_msg(run(args) == 0, "%s", last_err);
  ck_assert_msg(strstr(last_out, "backbone") && strstr(last_out, "head") && strstr(last_out, "resize+argmax"), "%s",
                last_out);
  size_t len = strlen(last_out);
  ck_assert(len > 1 && last_out[len - 1] == '\n');
  const char *last = last_out + len - 1;
  while (last > last_out && last[-1] != '\n')
    last--;
  double ms = -1, rss = -1;
  ck_assert_msg(sscanf(last, "median_ms=%lf peak_rss_mb=%lf", &ms, &rss) == 2, "last line: %s", last);
  ck_assert(ms > 0 && rss > 0);
}
END_TEST

START_TEST(bad_arguments_exit_2) {
  ck_assert_int_eq(run("seg"), 2);
  stderr_contains("--config, --input");
  ck_assert_int_eq(run("seg --config c.json --input x.safetensors --dump y.safetensors --opacity 2"), 2);
  stderr_contains("--opacity '2'");
  ck_assert_int_eq(run("seg --config c.json --input x --out y --threads -1"), 2);
  stderr_contains("--threads '-1'");
  ck_assert_int_eq(run("seg --config c.json --input x --dump y --cfg-options"), 2);
  stderr_contains("--cfg-options needs KEY=VALUE");
  ck_assert_int_eq(run("seg --config c.json --input x --dump y --out z"), 2);
  stderr_contains("--dump writes only");
  ck_assert_int_eq(run("seg --frobnicate"), 2);
  stderr_contains("'--frobnicate'");
  ck_assert_int_eq(run("bench seg --size 64x96"), 2);
  stderr_contains("--config is required");
  ck_assert_int_eq(run("bench seg --config c.json --size 12by3"), 2);
}
END_TEST

START_TEST(bad_data_exit_1) {
  char in[256], args[2048];
  snprintf(in, sizeof in, "/tmp/nala_cli_seg_bad_%d.safetensors", (int)getpid());
  snprintf(args, sizeof args, "seg --config %sfpn_xt.json --input /nonexistent/in.safetensors --dump /tmp/x", FIX);
  ck_assert_int_eq(run(args), 1);
  stderr_contains("/nonexistent/in.safetensors");
  write_input(in, 4, 8, 8, 0);
  snprintf(args, sizeof args, "seg --config %sfpn_xt.json --input %s --dump /tmp/x", FIX, in);
  ck_assert_int_eq(run(args), 1);
  stderr_contains("[1,3,H,W]");
  write_input(in, 3, 8, 8, 1);
  ck_assert_int_eq(run(args), 1);
  stderr_contains("flat index 5");
  write_input(in, 3, 8, 8, 0);
  snprintf(args, sizeof args, "seg --config %snope.json --input %s --dump /tmp/x", FIX, in);
  ck_assert_int_eq(run(args), 1);
  stderr_contains("nope.json");
  snprintf(args, sizeof args, "seg --config %sfpn_xt.json --input %s --dump /nonexistent/dir/out.safetensors", FIX,
           in);
  ck_assert_int_eq(run(args), 1);
  stderr_contains("/nonexistent/dir/out.safetensors");
  snprintf(args, sizeof args, "seg --config %sfpn_xt.json --input %s --dump /tmp/x --cfg-options model.bogus=1", FIX,
           in);
  ck_assert_int_eq(run(args), 1);
  stderr_contains("bogus");
  unlink(in);
}
END_TEST

int main(void) {
  Suite *s = suite_create("cli_seg_dump");
  TCase *tc = tcase_create("cli_seg_dump");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, dump_whole_and_slide_match_mmseg);
  tcase_add_test(tc, bench_prints_stages_and_last_line);
  tcase_add_test(tc, bad_arguments_exit_2);
  tcase_add_test(tc, bad_data_exit_1);
  suite_add_tcase(s, tc);
  int rc = nala_run_suite(s);
  free(last_out);
  free(last_err);
  return rc;
}
