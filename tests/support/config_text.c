#include "tests/support/config_text.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

nala_status nala_test_config_text(const char *json, nala_config **cfg, nala_err *err) {
  char path[] = "/tmp/nala_test_cfg_XXXXXX.json";
  int fd = mkstemps(path, 5);
  ck_assert_int_ge(fd, 0);
  FILE *f = fdopen(fd, "w");
  ck_assert_ptr_nonnull(f);
  fputs(json, f);
  fclose(f);
  nala_status st = nala_config_load(path, cfg, err);
  remove(path);
  return st;
}
