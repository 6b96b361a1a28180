/* Writing a whole file so that readers see the old file or the complete new one, never half.
 * Every file nala writes goes through here: one temp-file scheme and one file-mode policy. */
#ifndef NALA_ATOMIC_WRITE_H
#define NALA_ATOMIC_WRITE_H

#include <stddef.h>

#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes n bytes to a uniquely named temporary file beside path (safe when several threads or
 * processes write the same path: the last rename wins, none sees a mix), syncs it, gives it the
 * mode open(path, O_CREAT, 0666) would under the process umask, renames it over path and syncs
 * the folder. On any failure the temporary file is removed, path is untouched and the message
 * names path. */
nala_status nala_write_atomic(const char *path, const void *data, size_t n, nala_err *err);

/* Same with the content given as n_parts consecutive pieces (e.g. a header, then tensors). */
nala_status nala_write_atomic_parts(const char *path, const void *const *parts, const size_t *sizes,
                                    size_t n_parts, nala_err *err);

#ifdef __cplusplus
}
#endif

#endif
