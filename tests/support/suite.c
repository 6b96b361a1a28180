#include "tests/support/suite.h"

static int run(Suite *s, int fork) {
  SRunner *sr = srunner_create(s);
  if (!fork)
    srunner_set_fork_status(sr, CK_NOFORK);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}

int nala_run_suite(Suite *s) { return run(s, 1); }

int nala_run_suite_nofork(Suite *s) { return run(s, 0); }
