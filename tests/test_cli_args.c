/* The CLI's number parser (tools/cli_args.c): accepted values, and refusals naming flag and value. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "tests/support/suite.h"
#include "tools/cli_args.h"

START_TEST(integers_in_range) {
  nala_err err;
  int v = -1;
  ck_assert_int_eq(cli_parse_int("--threads", "8", 0, CLI_MAX_THREADS, &v, &err), NALA_OK);
  ck_assert_int_eq(v, 8);
  ck_assert_int_eq(cli_parse_int("--threads", "0", 0, CLI_MAX_THREADS, &v, &err), NALA_OK);
  ck_assert_int_eq(v, 0);
  ck_assert_int_eq(cli_parse_int("--runs", "-3", -5, 5, &v, &err), NALA_OK);
  ck_assert_int_eq(v, -3);
  const char *bad[] = {"-3", "", " 1", "+1", "1 ", "1e3", "0x10", "4097", "99999999999999999999", "abc", "1.5"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    v = 77;
    ck_assert_msg(cli_parse_int("--threads", bad[i], 0, CLI_MAX_THREADS, &v, &err) == NALA_E_ARG, "accepted '%s'",
                  bad[i]);
    char want[128];
    snprintf(want, sizeof want, "--threads '%s': expected an integer in [0, 4096]", bad[i]);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(v, 77); /* untouched */
  }
}
END_TEST

START_TEST(seeds_sizes_and_shards) {
  nala_err err;
  uint64_t seed = 0;
  ck_assert_int_eq(cli_parse_u64("--seed", "18446744073709551615", &seed, &err), NALA_OK);
  ck_assert(seed == UINT64_MAX);
  ck_assert_int_eq(cli_parse_u64("--seed", "-1", &seed, &err), NALA_E_ARG);
  ck_assert_str_eq(err.msg, "--seed '-1': expected an integer in [0, 2^64)");
  ck_assert_int_eq(cli_parse_u64("--seed", "18446744073709551616", &seed, &err), NALA_E_ARG);
  int h = 0, w = 0;
  ck_assert_int_eq(cli_parse_size("--size", "480x640", &h, &w, &err), NALA_OK);
  ck_assert_int_eq(h, 480);
  ck_assert_int_eq(w, 640);
  const char *bad_sizes[] = {"0x5", "5x0", "16385x1", "5", "x5", "5x", "-5x5", "5x5x5", "5 x5"};
  for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
    ck_assert_msg(cli_parse_size("--size", bad_sizes[i], &h, &w, &err) == NALA_E_ARG, "accepted '%s'", bad_sizes[i]);
    ck_assert_ptr_nonnull(strstr(err.msg, "--size '"));
    ck_assert_ptr_nonnull(strstr(err.msg, bad_sizes[i]));
  }
  ck_assert_int_eq(h, 480);
  int index = -1, count = -1;
  ck_assert_int_eq(cli_parse_shard("--shard", "2/5", &index, &count, &err), NALA_OK);
  ck_assert_int_eq(index, 2);
  ck_assert_int_eq(count, 5);
  const char *bad[] = {"5/5", "1", "/2", "1/", "-1/2", "a/2", "1/0", "1/2x", "1//2", "", " 1/2"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ck_assert_int_eq(cli_parse_shard("--shard", bad[i], &index, &count, &err), NALA_E_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "expected i/n with 0 <= i < n"));
  }
  ck_assert_int_eq(index, 2); /* untouched by failures */
}
END_TEST

int main(void) {
  Suite *s = suite_create("cli_args");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, integers_in_range);
  tcase_add_test(tc, seeds_sizes_and_shards);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
