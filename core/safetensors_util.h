/* Helpers shared by the safetensors reader and writer (private to nala_core). */
#ifndef NALA_CORE_SAFETENSORS_UTIL_H
#define NALA_CORE_SAFETENSORS_UTIL_H

#include <stddef.h>

/* Offset of the first byte of s[0, n) that breaks UTF-8 (or is a NUL), or n when all is valid. */
size_t nala_st_utf8_invalid_at(const char *s, size_t n);

/* Thread-safe strerror into buf. */
void nala_st_errno_text(int errnum, char *buf, size_t cap);

#endif
