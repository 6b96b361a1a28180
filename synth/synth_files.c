/* File helpers shared by the generators: mkdir -p and 8-bit image writes through nala_image_write
 * (cv2.imwrite's encoders, atomic). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "nala/image_io.h"
#include "synth/synth_internal.h"

nala_status sy_mkdirs(const char *path, nala_err *err) {
  char buf[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf)
    return nala_fail(err, NALA_E_ARG, "synth: bad output path '%.200s'", path);
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0')
      continue;
    char keep = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
      return nala_fail(err, NALA_E_IO, "%s: cannot create folder: %s", buf, strerror(errno));
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
      return nala_fail(err, NALA_E_IO, "%s: exists and is not a folder", buf);
    buf[i] = keep;
  }
  return NALA_OK;
}

nala_status sy_write_rgb(const char *path, const uint8_t *rgb, int h, int w, nala_err *err) {
  nala_image img = {h, w, 3, (size_t)w * 3, (uint8_t *)rgb, NALA_RGB};
  return nala_image_write(path, &img, err);
}

nala_status sy_write_gray(const char *path, const uint8_t *g, int h, int w, nala_err *err) {
  nala_image img = {h, w, 1, (size_t)w, (uint8_t *)g, NALA_GRAY};
  return nala_image_write(path, &img, err);
}
