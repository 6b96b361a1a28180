#include "core/file_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static nala_status too_large(const char *path, size_t max_bytes, nala_err *err) {
  return nala_fail(err, NALA_E_FORMAT, "%s: larger than the limit of %zu bytes for this kind of file", path,
                   max_bytes);
}

nala_status nala_file_read(const char *path, size_t max_bytes, nala_file_bytes *out, nala_err *err) {
  if (!path || !out)
    return nala_fail(err, NALA_E_ARG, "nala_file_read: NULL argument");
  memset(out, 0, sizeof *out);
  /* O_NONBLOCK: a FIFO given by mistake reads what is there instead of hanging in open. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return nala_fail(err, NALA_E_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat info;
  if (fstat(fd, &info) != 0 || S_ISDIR(info.st_mode)) {
    int e = S_ISDIR(info.st_mode) ? EISDIR : errno;
    close(fd);
    return nala_fail(err, NALA_E_IO, "%s: cannot read: %s", path, strerror(e));
  }
  if (S_ISREG(info.st_mode) && info.st_size > 0) {
    if (max_bytes && (uint64_t)info.st_size > max_bytes) {
      close(fd);
      return too_large(path, max_bytes, err);
    }
    /* Mapped and pre-faulted in one call: a 200 MB results file is neither copied nor faulted in
     * page by page. */
    void *map = mmap(NULL, (size_t)info.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (map != MAP_FAILED) {
      close(fd);
      out->data = map;
      out->len = (size_t)info.st_size;
      out->mapped = 1;
      return NALA_OK;
    }
  }
  (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  nala_status st = buf ? NALA_OK : nala_fail(err, NALA_E_NOMEM, "%s: out of memory reading the file", path);
  while (st == NALA_OK) {
    ssize_t got = read(fd, buf + n, cap - n);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      st = nala_fail(err, NALA_E_IO, "%s: read error: %s", path, strerror(errno));
      break;
    }
    if (got == 0)
      break;
    n += (size_t)got;
    if (max_bytes && n > max_bytes) {
      st = too_large(path, max_bytes, err);
      break;
    }
    if (n == cap) {
      char *grown = realloc(buf, cap * 2);
      if (!grown)
        st = nala_fail(err, NALA_E_NOMEM, "%s: out of memory reading the file", path);
      else
        buf = grown, cap *= 2;
    }
  }
  close(fd);
  if (st != NALA_OK) {
    free(buf);
    return st;
  }
  out->data = buf;
  out->len = n;
  return NALA_OK;
}

void nala_file_bytes_release(nala_file_bytes *f) {
  if (!f)
    return;
  if (f->mapped)
    munmap((void *)f->data, f->len);
  else
    free((void *)f->data);
  memset(f, 0, sizeof *f);
}
