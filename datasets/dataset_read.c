/* Reading a sample's pixels inside a dataset run: a sample that cannot be used is logged with its
 * reason and the caller moves on, so one corrupt file never stops an evaluation. */
#include <stdio.h>
#include <string.h>

#include "datasets/dataset_internal.h"
#include "nala/image_io.h"

/* Logs "file: reason", dropping the file name the reader's message starts with. */
static void log_bad(nala_dataset *ds, const char *file, const nala_err *e) {
  const char *reason = e->msg;
  size_t n = strlen(file);
  if (!strncmp(reason, file, n) && !strncmp(reason + n, ": ", 2))
    reason += n + 2;
  nala_dataset_bad_sample(ds, file, reason, NULL);
}

nala_status nala_dataset_read_image(nala_dataset *ds, int i, nala_channel_order order, size_t max_pixels,
                                    nala_image *out, nala_err *err) {
  if (!ds || !out || i < 0 || i >= nala_dataset_size(ds))
    return nala_fail(err, NALA_E_ARG, "nala_dataset_read_image: bad arguments (sample %d of %d)", i,
                     ds ? nala_dataset_size(ds) : 0);
  const nala_sample *s = nala_dataset_sample(ds, i);
  nala_err local;
  nala_err *e = err ? err : &local;
  /* mmdet/mmseg's LoadImageFromFile reads with mmcv's 'color' flag, cv2.IMREAD_COLOR, which applies
   * the EXIF orientation. */
  nala_status st = nala_image_read_exif(s->img_path, order, max_pixels, NALA_EXIF_APPLY, out, e);
  if (st == NALA_OK && s->width > 0 && s->height > 0 && (out->w != s->width || out->h != s->height)) {
    st = nala_fail(e, NALA_E_SHAPE, "%s: decoded %dx%d (WxH) but the annotation file declares %dx%d", s->img_path,
                   out->w, out->h, s->width, s->height);
    nala_image_free(out);
  }
  if (st != NALA_OK)
    log_bad(ds, s->img_path, e);
  return st;
}

nala_status nala_dataset_read_labels(nala_dataset *ds, int i, nala_image *out, nala_err *err) {
  if (out)
    memset(out, 0, sizeof *out);
  if (!ds || !out || i < 0 || i >= nala_dataset_size(ds))
    return nala_fail(err, NALA_E_ARG, "nala_dataset_read_labels: bad arguments (sample %d of %d)", i,
                     ds ? nala_dataset_size(ds) : 0);
  const nala_sample *s = nala_dataset_sample(ds, i);
  if (!s->gt_path)
    return nala_fail(err, NALA_E_ARG, "%s: sample %d has no label map (not a segmentation dataset)", s->img_path, i);
  nala_err local;
  nala_err *e = err ? err : &local;
  nala_status st = nala_image_read_labels(s->gt_path, out, e);
  if (st != NALA_OK)
    log_bad(ds, s->gt_path, e);
  return st;
}
