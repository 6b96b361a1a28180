/* Configs written inline in tests. */
#ifndef NALA_TEST_CONFIG_TEXT_H
#define NALA_TEST_CONFIG_TEXT_H

#include "nala/config.h"

/* nala_config_load of json written to a temporary .json file (removed after). The test must link
 * nala_core (this support library does not). */
nala_status nala_test_config_text(const char *json, nala_config **cfg, nala_err *err);

#endif
