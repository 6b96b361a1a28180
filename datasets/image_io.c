/* The public image/video IO entry points (include/nala/image_io.h, include/nala/image_draw.h). Those
 * that need OpenCV call the shim through the table of datasets/cv_api.h, loaded on first use; the rest
 * (allocation, label maps) are plain C and never load it. Out-parameters are cleared before the shim
 * is loaded, so a caller's cleanup after a failed load frees nothing it does not own. */
#include "datasets/cv_api.h"

#include "core/file_read.h"

#include <stdint.h>
#include <string.h>

/* Declares `api` and returns the load failure from the enclosing function. */
#define CV_API(err_)                \
  const nala_cv_api *api;           \
  NALA_CHECK(nala_cv_get(&api, err_))

static void clear_image(nala_image *img) {
  if (img)
    memset(img, 0, sizeof *img);
}

nala_status nala_image_read(const char *path, nala_channel_order order, size_t max_pixels, nala_image *out,
                            nala_err *err) {
  return nala_image_read_exif(path, order, max_pixels, NALA_EXIF_IGNORE, out, err);
}

nala_status nala_image_read_exif(const char *path, nala_channel_order order, size_t max_pixels, nala_exif_mode exif,
                                 nala_image *out, nala_err *err) {
  clear_image(out);
  CV_API(err);
  return api->image_read_exif(path, order, max_pixels, exif, out, err);
}

nala_status nala_image_decode(const uint8_t *bytes, size_t n, const char *name, nala_channel_order order,
                              size_t max_pixels, nala_exif_mode exif, nala_image *out, nala_err *err) {
  clear_image(out);
  CV_API(err);
  return api->image_decode(bytes, n, name, order, max_pixels, exif, out, err);
}

nala_status nala_image_read_labels(const char *path, nala_image *out, nala_err *err) {
  clear_image(out);
  if (!path || !out)
    return nala_fail(err, NALA_E_ARG, "nala_image_read_labels: path or out is NULL");
  nala_file_bytes bytes = {0};
  NALA_CHECK(nala_file_read(path, INT32_MAX, &bytes, err));
  nala_status st = bytes.len == 0 ? nala_fail(err, NALA_E_FORMAT, "%s: empty file (0 bytes), not an image", path)
                                  : nala_image_decode_labels((const uint8_t *)bytes.data, bytes.len, path, out, err);
  nala_file_bytes_release(&bytes);
  return st;
}

nala_status nala_image_write(const char *path, const nala_image *img, nala_err *err) {
  CV_API(err);
  return api->image_write(path, img, err);
}

nala_status nala_image_resize(const nala_image *src, nala_image *dst, nala_interp interp, nala_err *err) {
  CV_API(err);
  return api->image_resize(src, dst, interp, err);
}

nala_status nala_image_convert(const nala_image *src, nala_image *dst, nala_err *err) {
  CV_API(err);
  return api->image_convert(src, dst, err);
}

nala_status nala_image_text_size(const char *text, double scale, int *w, int *h, int *baseline, nala_err *err) {
  CV_API(err);
  return api->image_text_size(text, scale, w, h, baseline, err);
}

nala_status nala_image_draw_text(nala_image *img, const char *text, int x, int y, double scale, const uint8_t color[3],
                                 nala_err *err) {
  CV_API(err);
  return api->image_draw_text(img, text, x, y, scale, color, err);
}

nala_status nala_text_mask_render(const char *text, double scale, nala_text_mask *m, nala_err *err) {
  CV_API(err);
  return api->text_mask_render(text, scale, m, err);
}

nala_status nala_video_open(const char *path, nala_video_reader **out, nala_err *err) {
  if (out)
    *out = NULL;
  CV_API(err);
  return api->video_open(path, out, err);
}

nala_status nala_video_open_camera(int index, nala_video_reader **out, nala_err *err) {
  if (out)
    *out = NULL;
  CV_API(err);
  return api->video_open_camera(index, out, err);
}

nala_video_info nala_video_get_info(const nala_video_reader *reader) {
  nala_video_info none = {0, 0, 0.0, 0};
  const nala_cv_api *api;
  /* A reader exists only once the shim is loaded, so this lookup cannot fail for a real reader. */
  if (!reader || nala_cv_get(&api, NULL) != NALA_OK)
    return none;
  return api->video_get_info(reader);
}

nala_status nala_video_read(nala_video_reader *reader, nala_channel_order order, nala_image *frame, int *got,
                            nala_err *err) {
  if (got)
    *got = 0;
  CV_API(err);
  return api->video_read(reader, order, frame, got, err);
}

void nala_video_close(nala_video_reader *reader) {
  const nala_cv_api *api;
  if (reader && nala_cv_get(&api, NULL) == NALA_OK)
    api->video_close(reader);
}

nala_status nala_video_writer_open(const char *path, int w, int h, double fps, const char *fourcc,
                                   nala_video_writer **out, nala_err *err) {
  if (out)
    *out = NULL;
  CV_API(err);
  return api->video_writer_open(path, w, h, fps, fourcc, out, err);
}

nala_status nala_video_write(nala_video_writer *writer, const nala_image *frame, nala_err *err) {
  CV_API(err);
  return api->video_write(writer, frame, err);
}

nala_status nala_video_writer_close(nala_video_writer *writer, nala_err *err) {
  if (!writer)
    return nala_fail(err, NALA_E_ARG, "nala_video_writer_close: writer is NULL");
  CV_API(err);
  return api->video_writer_close(writer, err);
}

void nala_video_writer_abort(nala_video_writer *writer) {
  const nala_cv_api *api;
  if (writer && nala_cv_get(&api, NULL) == NALA_OK)
    api->video_writer_abort(writer);
}
