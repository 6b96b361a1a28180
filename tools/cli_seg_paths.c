/* Input classification, folder listing and up-front output checks of `nala seg`. */
#include "tools/cli_seg_paths.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nala/image_io.h"

nala_status seg_input_classify(const char *input, seg_input_kind *kind, int *camera, nala_err *err) {
  *camera = -1;
  if (!strncmp(input, "camera:", 7)) {
    char *end = NULL;
    errno = 0;
    long index = strtol(input + 7, &end, 10);
    if (!input[7] || *end || errno || index < 0 || index > 1000)
      return nala_fail(err, NALA_E_ARG, "--input %s: expected camera:N with N a camera number (0 = /dev/video0)",
                       input);
    *kind = SEG_IN_CAMERA;
    *camera = (int)index;
    return NALA_OK;
  }
  struct stat st;
  if (stat(input, &st) != 0)
    return nala_fail(err, NALA_E_IO, "--input %s: %s", input, strerror(errno));
  if (S_ISDIR(st.st_mode)) {
    *kind = SEG_IN_FOLDER;
    return NALA_OK;
  }
  uint8_t head[64];
  size_t n = 0;
  FILE *f = fopen(input, "rb");
  if (!f)
    return nala_fail(err, NALA_E_IO, "--input %s: %s", input, strerror(errno));
  n = fread(head, 1, sizeof head, f);
  fclose(f);
  /* MP4/MOV share ISO BMFF boxes with HEIF/AVIF images, which the image reader refuses by name: a
   * video extension settles those. */
  int decodable = 0;
  const char *format = nala_image_format(head, n, &decodable);
  *kind = format && (decodable || !seg_is_video_name(input)) ? SEG_IN_IMAGE : SEG_IN_VIDEO;
  return NALA_OK;
}

int seg_is_video_name(const char *path) {
  static const char *const exts[] = {"mp4", "avi", "mkv", "mov", "m4v", "webm"};
  for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
    if (seg_has_ext(path, exts[i]))
      return 1;
  return 0;
}

int seg_has_ext(const char *path, const char *ext) {
  const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
  return dot && (!slash || dot > slash) && !strcasecmp(dot + 1, ext);
}

static int is_image_name(const char *name) {
  static const char *const exts[] = {"jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp", "pbm", "pgm", "ppm", "pnm"};
  for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
    if (seg_has_ext(name, exts[i]))
      return 1;
  return 0;
}

static nala_status list_push(seg_file_list *l, const char *rel, nala_err *err) {
  if (l->count == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 64;
    char **grown = realloc(l->rel, cap * sizeof *grown);
    if (!grown)
      return nala_fail(err, NALA_E_NOMEM, "out of memory listing images");
    l->rel = grown;
    l->cap = cap;
  }
  if (!(l->rel[l->count] = strdup(rel)))
    return nala_fail(err, NALA_E_NOMEM, "out of memory listing images");
  l->count++;
  return NALA_OK;
}

static nala_status walk(const char *root, const char *rel, seg_file_list *l, int depth, nala_err *err) {
  char dir[PATH_MAX];
  if (snprintf(dir, sizeof dir, "%s%s%s", root, rel[0] ? "/" : "", rel) >= (int)sizeof dir)
    return nala_fail(err, NALA_E_ARG, "%s/%s: path too long", root, rel);
  if (depth > 32)
    return nala_fail(err, NALA_E_FORMAT, "%s: folders nested more than 32 deep (a link cycle?)", dir);
  DIR *d = opendir(dir);
  if (!d)
    return nala_fail(err, NALA_E_IO, "%s: cannot list folder: %s", dir, strerror(errno));
  nala_status st = NALA_OK;
  struct dirent *e;
  while (st == NALA_OK && (e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char sub[PATH_MAX], full[PATH_MAX];
    if (snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name) >= (int)sizeof sub ||
        snprintf(full, sizeof full, "%s/%s", root, sub) >= (int)sizeof full) {
      st = nala_fail(err, NALA_E_ARG, "%s/%s: path too long", dir, e->d_name);
      break;
    }
    struct stat info;
    if (stat(full, &info) != 0)
      continue; /* a dangling link: nothing to read */
    if (S_ISDIR(info.st_mode))
      st = walk(root, sub, l, depth + 1, err);
    else if (!S_ISREG(info.st_mode))
      continue;
    else if (is_image_name(e->d_name))
      st = list_push(l, sub, err);
    else
      l->other_files++;
  }
  closedir(d);
  return st;
}

static int by_bytes(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

nala_status seg_list_images(const char *dir, seg_file_list *out, nala_err *err) {
  memset(out, 0, sizeof *out);
  nala_status st = walk(dir, "", out, 0, err);
  if (st != NALA_OK) {
    seg_file_list_free(out);
    return st;
  }
  if (out->count)
    qsort(out->rel, out->count, sizeof *out->rel, by_bytes);
  return NALA_OK;
}

void seg_file_list_free(seg_file_list *list) {
  for (size_t i = 0; i < list->count; i++)
    free(list->rel[i]);
  free(list->rel);
  memset(list, 0, sizeof *list);
}

nala_status seg_make_dirs(const char *path, nala_err *err) {
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
    return nala_fail(err, NALA_E_ARG, "%s: path too long", path);
  for (char *p = buf + 1;; p++) {
    int end = *p == '\0';
    if (*p == '/' || end) {
      char saved = *p;
      *p = '\0';
      struct stat st;
      if (stat(buf, &st) != 0) {
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
          return nala_fail(err, NALA_E_IO, "%s: cannot create folder %s: %s", path, buf, strerror(errno));
      } else if (!S_ISDIR(st.st_mode)) {
        return nala_fail(err, NALA_E_IO, "%s: %s is not a folder", path, buf);
      }
      *p = saved;
    }
    if (end)
      break;
  }
  return NALA_OK;
}

nala_status seg_check_dir_writable(const char *dir, nala_err *err) {
  char probe[PATH_MAX];
  if (snprintf(probe, sizeof probe, "%s/.nala_write_probe.XXXXXX", dir) >= (int)sizeof probe)
    return nala_fail(err, NALA_E_ARG, "%s: path too long", dir);
  int fd = mkstemp(probe);
  if (fd < 0)
    return nala_fail(err, NALA_E_IO, "%s: cannot write in this folder: %s", dir, strerror(errno));
  close(fd);
  unlink(probe);
  return NALA_OK;
}

nala_status seg_check_file_writable(const char *path, nala_err *err) {
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    return nala_fail(err, NALA_E_IO, "%s: is a folder, expected a file to write", path);
  char dir[PATH_MAX];
  if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
    return nala_fail(err, NALA_E_ARG, "%s: path too long", path);
  char *slash = strrchr(dir, '/');
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (slash == dir)
    dir[1] = '\0';
  else
    *slash = '\0';
  nala_status s = seg_make_dirs(dir, err);
  if (s == NALA_OK)
    s = seg_check_dir_writable(dir, err);
  if (s != NALA_OK)
    nala_err_prefix(err, "%s: ", path);
  return s;
}

int seg_output_name(const char *out_dir, const char *rel, const char *suffix, char *dst, size_t cap) {
  const char *dot = strrchr(rel, '.'), *slash = strrchr(rel, '/');
  int stem = dot && (!slash || dot > slash) ? (int)(dot - rel) : (int)strlen(rel);
  int n = snprintf(dst, cap, "%s/%.*s%s", out_dir, stem, rel, suffix);
  return n >= 0 && (size_t)n < cap;
}

typedef struct stem_ref {
  const char *rel;
  int stem_len;
  size_t index;
} stem_ref;

static int stem_len_of(const char *rel) {
  const char *dot = strrchr(rel, '.'), *slash = strrchr(rel, '/');
  return dot && (!slash || dot > slash) ? (int)(dot - rel) : (int)strlen(rel);
}

static int by_stem(const void *a, const void *b) {
  const stem_ref *x = a, *y = b;
  int n = x->stem_len < y->stem_len ? x->stem_len : y->stem_len, c = memcmp(x->rel, y->rel, (size_t)n);
  if (c || x->stem_len != y->stem_len)
    return c ? c : x->stem_len - y->stem_len;
  return (x->index > y->index) - (x->index < y->index);
}

nala_status seg_mark_same_stem(const seg_file_list *list, size_t *first_of, nala_err *err) {
  stem_ref *refs = malloc((list->count ? list->count : 1) * sizeof *refs);
  if (!refs)
    return nala_fail(err, NALA_E_NOMEM, "out of memory listing images");
  for (size_t i = 0; i < list->count; i++) {
    refs[i] = (stem_ref){list->rel[i], stem_len_of(list->rel[i]), i};
    first_of[i] = i;
  }
  qsort(refs, list->count, sizeof *refs, by_stem);
  for (size_t k = 1; k < list->count; k++)
    if (refs[k].stem_len == refs[k - 1].stem_len && !memcmp(refs[k].rel, refs[k - 1].rel, (size_t)refs[k].stem_len))
      first_of[refs[k].index] = first_of[refs[k - 1].index];
  free(refs);
  return NALA_OK;
}
