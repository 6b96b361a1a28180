#include <check.h>
#include <string.h>

#include "nala/status.h"
#include "tests/support/suite.h"

START_TEST(fail_formats_and_prefix_prepends) {
  nala_err err;
  nala_err_clear(&err);
  ck_assert_int_eq(nala_fail(&err, NALA_E_FORMAT, "key %s: got %d", "a.b", 3), NALA_E_FORMAT);
  ck_assert_str_eq(err.msg, "key a.b: got 3");
  ck_assert_int_eq(nala_err_prefix(&err, "%s: ", "f.json"), NALA_E_FORMAT);
  ck_assert_str_eq(err.msg, "f.json: key a.b: got 3");
  ck_assert_str_eq(nala_status_string(NALA_E_SHAPE), "NALA_E_SHAPE");
  ck_assert_int_eq(nala_fail(NULL, NALA_E_IO, "ignored"), NALA_E_IO);
}
END_TEST

START_TEST(long_messages_truncate_safely) {
  nala_err err;
  char big[4 * NALA_ERR_MSG_MAX];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  nala_fail(&err, NALA_E_ARG, "%s", big);
  ck_assert_uint_eq(strlen(err.msg), NALA_ERR_MSG_MAX - 1);
  nala_err_prefix(&err, "p: ");
  ck_assert_uint_eq(strlen(err.msg), NALA_ERR_MSG_MAX - 1);
  ck_assert(strncmp(err.msg, "p: x", 4) == 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("status");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, fail_formats_and_prefix_prepends);
  tcase_add_test(tc, long_messages_truncate_safely);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
