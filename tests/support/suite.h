/* Running a check suite: the exit code reflects failures (0 all passed, 1 otherwise). */
#ifndef NALA_TEST_SUITE_H
#define NALA_TEST_SUITE_H

#include <check.h>

/* Runs every test of s (forking per test, check's default) and frees the runner. */
int nala_run_suite(Suite *s);

/* Same without forking: faster under ASan, but a crash ends the whole program. */
int nala_run_suite_nofork(Suite *s);

#endif
