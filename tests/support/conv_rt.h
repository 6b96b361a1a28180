/* A runtime with NALA_CONV forced for the conv-path suites (banded, batched Winograd). */
#ifndef NALA_TEST_CONV_RT_H
#define NALA_TEST_CONV_RT_H

#include <check.h>
#include <stdlib.h>

#include "core/nn/layer.h"

/* A runtime created under NALA_CONV=conv (NULL: unset, i.e. auto); the variable is unset again
 * after, since nala_rt reads it once at creation. */
static inline nala_rt *nala_test_conv_runtime(const char *conv) {
  nala_err err;
  nala_rt *rt = NULL;
  if (conv)
    setenv("NALA_CONV", conv, 1);
  else
    unsetenv("NALA_CONV");
  ck_assert_msg(nala_rt_create(NALA_ISA_AUTO, &rt, &err) == NALA_OK, "%s", err.msg);
  unsetenv("NALA_CONV");
  return rt;
}

#endif
