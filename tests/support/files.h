/* Reading fixture files whole, and writing small text inputs, in tests. */
#ifndef NALA_TEST_FILES_H
#define NALA_TEST_FILES_H

#include <stddef.h>
#include <stdint.h>

/* Whole file as malloc'd bytes, its size in *n; fails the running check test when unreadable. */
uint8_t *nala_test_read_bytes(const char *path, size_t *n);

/* Writes text to path (replacing it); fails the running check test when it cannot. */
void nala_test_write_text(const char *path, const char *text);

#endif
