/* The one whole-file reader of the library (configs, COCO JSON, images): memory-mapped when the
 * file is a regular one, read in a loop otherwise (pipes, /proc). Internal: not in include/nala. */
#ifndef NALA_CORE_FILE_READ_H
#define NALA_CORE_FILE_READ_H

#include <stddef.h>

#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nala_file_bytes {
  const char *data; /* not NUL-terminated; never NULL after a successful read */
  size_t len;
  int mapped;
} nala_file_bytes;

/* Reads all of path (at most max_bytes; 0 = no limit). Errors name path: NALA_E_IO when it cannot
 * be opened or read or is a directory, NALA_E_FORMAT when it is larger than max_bytes. An empty
 * file is not an error (len 0). Release with nala_file_bytes_release. */
nala_status nala_file_read(const char *path, size_t max_bytes, nala_file_bytes *out, nala_err *err);

void nala_file_bytes_release(nala_file_bytes *f);

#ifdef __cplusplus
}
#endif

#endif
