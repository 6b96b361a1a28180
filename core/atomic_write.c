#include "nala/atomic_write.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

nala_status nala_write_atomic(const char *path, const void *data, size_t n, nala_err *err) {
  if (!path || (!data && n))
    return nala_fail(err, NALA_E_ARG, "nala_write_atomic: path or data is NULL");
  size_t len = strlen(path);
  char *tmp = malloc(len + 8);
  if (!tmp)
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
  memcpy(tmp, path, len);
  memcpy(tmp + len, ".XXXXXX", 8);
  /* Same folder as path, so the rename stays on one file system and is atomic. */
  int fd = mkstemp(tmp);
  if (fd < 0) {
    nala_status st = nala_fail(err, NALA_E_IO, "%s: cannot write (temporary file beside it: %s)", path, strerror(errno));
    free(tmp);
    return st;
  }
  (void)fchmod(fd, 0644); /* mkstemp makes 0600; reports and configs are meant to be read by others */
  const char *p = data;
  size_t done = 0;
  int e = 0;
  while (done < n && !e) {
    ssize_t w = write(fd, p + done, n - done);
    if (w < 0 && errno != EINTR)
      e = errno;
    else if (w > 0)
      done += (size_t)w;
  }
  if (!e && fsync(fd) != 0)
    e = errno;
  if (close(fd) != 0 && !e)
    e = errno;
  if (!e && rename(tmp, path) != 0)
    e = errno;
  if (e)
    unlink(tmp);
  free(tmp);
  return e ? nala_fail(err, NALA_E_IO, "%s: cannot write: %s", path, strerror(e)) : NALA_OK;
}
