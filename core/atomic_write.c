#include "nala/atomic_write.h"

#include "core/file_mode.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* After a rename the new directory entry is durable only once the directory is synced; a robot
 * losing power right after a save should find the old file or the new one. Best effort. */
static void sync_parent_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
  if (!dir)
    return;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  free(dir);
}

/* 0 or the errno of the failed write. */
static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return errno;
    if (w == 0)
      return EIO;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

nala_status nala_write_atomic_parts(const char *path, const void *const *parts, const size_t *sizes,
                                    size_t n_parts, nala_err *err) {
  if (!path || (n_parts && (!parts || !sizes)))
    return nala_fail(err, NALA_E_ARG, "nala_write_atomic: path or data is NULL");
  for (size_t i = 0; i < n_parts; i++)
    if (!parts[i] && sizes[i])
      return nala_fail(err, NALA_E_ARG, "%s: nala_write_atomic: part %zu is NULL", path, i);
  size_t len = strlen(path);
  char *tmp = malloc(len + 12);
  if (!tmp)
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
  memcpy(tmp, path, len);
  memcpy(tmp + len, ".tmp.XXXXXX", 12);
  /* Same folder as path, so the rename stays on one file system and is atomic; mkstemp's unique
   * name keeps two writers of one path (threads or processes) out of each other's file. */
  int fd = mkstemp(tmp);
  if (fd < 0) {
    nala_status st = nala_fail(err, NALA_E_IO, "%s: cannot write (temporary file beside it: %s)", path,
                               strerror(errno));
    free(tmp);
    return st;
  }
  nala_file_mode_default(fd);
  int e = 0;
  for (size_t i = 0; i < n_parts && !e; i++)
    e = write_all(fd, parts[i], sizes[i]);
  if (!e && fsync(fd) != 0)
    e = errno;
  if (close(fd) != 0 && !e)
    e = errno;
  if (!e && rename(tmp, path) != 0)
    e = errno;
  if (e)
    unlink(tmp);
  else
    sync_parent_dir(path);
  free(tmp);
  return e ? nala_fail(err, NALA_E_IO, "%s: cannot write: %s (target left untouched)", path, strerror(e)) : NALA_OK;
}

nala_status nala_write_atomic(const char *path, const void *data, size_t n, nala_err *err) {
  const void *parts[1] = {data};
  size_t sizes[1] = {n};
  return nala_write_atomic_parts(path, parts, sizes, 1, err);
}
