/* Writing a whole file so that readers see the old file or the complete new one, never half. */
#ifndef NALA_ATOMIC_WRITE_H
#define NALA_ATOMIC_WRITE_H

#include <stddef.h>

#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes n bytes to a temporary file beside path, syncs it and renames it over path; on any
 * failure the temporary file is removed, path is untouched and the message names path. */
nala_status nala_write_atomic(const char *path, const void *data, size_t n, nala_err *err);

#ifdef __cplusplus
}
#endif

#endif
