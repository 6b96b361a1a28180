/* COCO results JSON as mmdet writes it (tools/det_json.h). */
#include "tools/det_json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int det_py_float_repr(double v, char *buf, size_t cap) {
  if (isnan(v))
    return snprintf(buf, cap, "NaN"); /* json.dump writes NaN / Infinity (allow_nan=True) */
  if (isinf(v))
    return snprintf(buf, cap, v > 0 ? "Infinity" : "-Infinity");
  if (v == 0)
    return snprintf(buf, cap, signbit(v) ? "-0.0" : "0.0");
  /* Shortest digits that read back to v (dtoa mode 0, which repr uses). */
  char e[40];
  for (int p = 1; p <= 17; p++) {
    snprintf(e, sizeof e, "%.*e", p - 1, v);
    if (strtod(e, NULL) == v)
      break;
  }
  /* e is [-]d[.ddd]e[+-]XX: split into digits and the decimal exponent. */
  const char *s = e;
  int neg = *s == '-';
  s += neg;
  char digits[24];
  int nd = 0;
  for (; *s && *s != 'e'; s++)
    if (*s != '.')
      digits[nd++] = *s;
  while (nd > 1 && digits[nd - 1] == '0')
    nd--;
  digits[nd] = 0;
  int exp10 = atoi(s + 1); /* v = d.ddd x 10^exp10 */
  int decpt = exp10 + 1;   /* v = 0.dddd x 10^decpt, as dtoa reports it */
  size_t n = 0;
  char *o = buf;
#define PUT(c)       \
  do {               \
    if (n + 1 < cap) \
      o[n] = (c);    \
    n++;             \
  } while (0)
  if (neg)
    PUT('-');
  if (decpt <= -4 || decpt > 16) { /* float_repr_style 'short': exponent outside [1e-4, 1e16) */
    PUT(digits[0]);
    if (nd > 1) {
      PUT('.');
      for (int i = 1; i < nd; i++)
        PUT(digits[i]);
    }
    char ex[16];
    snprintf(ex, sizeof ex, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    for (char *c = ex; *c; c++)
      PUT(*c);
  } else if (decpt <= 0) {
    PUT('0');
    PUT('.');
    for (int i = 0; i < -decpt; i++)
      PUT('0');
    for (int i = 0; i < nd; i++)
      PUT(digits[i]);
  } else {
    for (int i = 0; i < nd || i < decpt; i++) {
      if (i == decpt)
        PUT('.');
      PUT(i < nd ? digits[i] : '0');
    }
    if (decpt >= nd) {
      PUT('.');
      PUT('0');
    }
  }
#undef PUT
  o[n < cap ? n : cap - 1] = 0;
  return (int)n;
}

struct det_json_file {
  FILE *fp;
  char *path, *tmp;
  size_t count;
  int failed;
};

nala_status det_check_writable_parent(const char *path, nala_err *err) {
  const char *slash = strrchr(path, '/');
  char dir[4096];
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (slash == path)
    snprintf(dir, sizeof dir, "/");
  else if ((size_t)(slash - path) < sizeof dir)
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  else
    return nala_fail(err, NALA_E_ARG, "%s: path too long", path);
  if (access(dir, W_OK | X_OK) != 0)
    return nala_fail(err, NALA_E_IO, "%s: cannot write into folder %s: %s", path, dir, strerror(errno));
  return NALA_OK;
}

nala_status det_json_open(const char *path, det_json_file **out, nala_err *err) {
  *out = NULL;
  NALA_CHECK(det_check_writable_parent(path, err));
  det_json_file *f = calloc(1, sizeof *f);
  size_t n = strlen(path) + 32;
  if (!f || !(f->path = strdup(path)) || !(f->tmp = malloc(n))) {
    det_json_abort(f);
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
  }
  snprintf(f->tmp, n, "%s.tmp-%ld", path, (long)getpid());
  f->fp = fopen(f->tmp, "wb");
  if (!f->fp) {
    nala_status st = nala_fail(err, NALA_E_IO, "%s: cannot create %s: %s", path, f->tmp, strerror(errno));
    det_json_abort(f);
    return st;
  }
  fputc('[', f->fp);
  *out = f;
  return NALA_OK;
}

size_t det_json_count(const det_json_file *f) { return f ? f->count : 0; }

nala_status det_json_add(det_json_file *f, int64_t image_id, int64_t category_id, float x1, float y1, float x2,
                         float y2, float score, const nala_rle *mask, nala_err *err) {
  /* mmdet's xyxy2xywh calls bbox.tolist() first: w and h are differences of the float32 values in
   * double (Python floats), not float32 differences. */
  double xywh[4] = {x1, y1, (double)x2 - (double)x1, (double)y2 - (double)y1};
  char num[4][40], sc[40];
  for (int k = 0; k < 4; k++)
    det_py_float_repr(xywh[k], num[k], sizeof num[k]);
  det_py_float_repr(score, sc, sizeof sc);
  fprintf(f->fp, "%s{\"image_id\": %lld, \"bbox\": [%s, %s, %s, %s], \"score\": %s, \"category_id\": %lld",
          f->count ? ", " : "", (long long)image_id, num[0], num[1], num[2], num[3], sc, (long long)category_id);
  if (mask) {
    char *counts = NULL;
    NALA_CHECK(nala_rle_to_string(mask, &counts, err));
    /* mask_util.encode's dict: size first, then counts (bytes decoded to str; no escapes needed:
     * the alphabet is ASCII 48..111, which has '\\' (92) -> json.dumps writes it as "\\\\"). */
    fprintf(f->fp, ", \"segmentation\": {\"size\": [%u, %u], \"counts\": \"", mask->h, mask->w);
    for (const char *c = counts; *c; c++) {
      if (*c == '\\' || *c == '"')
        fputc('\\', f->fp);
      fputc(*c, f->fp);
    }
    fputs("\"}", f->fp);
    free(counts);
  }
  fputc('}', f->fp);
  f->count++;
  if (ferror(f->fp)) {
    f->failed = 1;
    return nala_fail(err, NALA_E_IO, "%s: write error on %s", f->path, f->tmp);
  }
  return NALA_OK;
}

nala_status det_json_close(det_json_file *f, nala_err *err) {
  if (!f)
    return nala_fail(err, NALA_E_ARG, "det_json_close: NULL file");
  fputc(']', f->fp);
  int bad = f->failed || fflush(f->fp) != 0 || ferror(f->fp) || fsync(fileno(f->fp)) != 0;
  int saved = errno;
  bad |= fclose(f->fp) != 0;
  f->fp = NULL;
  nala_status st = NALA_OK;
  if (bad)
    st = nala_fail(err, NALA_E_IO, "%s: write error on %s: %s", f->path, f->tmp, strerror(saved));
  else if (rename(f->tmp, f->path) != 0)
    st = nala_fail(err, NALA_E_IO, "%s: cannot rename %s into place: %s", f->path, f->tmp, strerror(errno));
  if (st != NALA_OK)
    remove(f->tmp);
  free(f->path);
  free(f->tmp);
  free(f);
  return st;
}

void det_json_abort(det_json_file *f) {
  if (!f)
    return;
  if (f->fp) {
    fclose(f->fp);
    remove(f->tmp);
  }
  free(f->path);
  free(f->tmp);
  free(f);
}
