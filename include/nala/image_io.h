/* Images and video through OpenCV (datasets/image_io.cpp, the only C++ in the tree); label maps through
 * libpng (datasets/label_png.c). Plain C types only; every OpenCV exception becomes a status and a
 * message naming the file. */
#ifndef NALA_IMAGE_IO_H
#define NALA_IMAGE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nala_channel_order { NALA_BGR = 0, NALA_RGB = 1, NALA_GRAY = 2 } nala_channel_order;

/* 8-bit interleaved image; row r starts at data + r*stride. Owned images come from nala_image_*
 * and are released with nala_image_free; borrowed ones (camera frames) just describe memory. */
typedef struct nala_image {
  int h, w, c;              /* c = 1 or 3 */
  size_t stride;            /* bytes between rows, >= w*c */
  uint8_t *data;
  nala_channel_order order; /* of the 3 channels when c == 3 */
} nala_image;

/* Formats read: JPEG, PNG, BMP, TIFF, WebP and PNM (PBM/PGM/PPM), recognised by their first bytes
 * before any codec runs; every other format (DICOM, PFM, GIF, JPEG 2000, EXR, HDR...) is refused with
 * NALA_E_UNSUPPORTED and a message naming it, an unrecognised file with NALA_E_FORMAT. */

/* Reads an 8-bit colour image with EXIF orientation ignored (cv2 IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION,
 * mmcv's 'color_ignore_orientation'; for mmcv's default 'color' see nala_image_read_exif) in the given
 * order (NALA_BGR or NALA_RGB); grey, 16-bit and alpha files give 3 8-bit channels, as cv2 does, or an
 * error. Images with more than max_pixels pixels (0 = no limit) are refused from the header, before
 * decoding. Truncated JPEGs are refused (cv2 only warns and fills the missing rows with grey). */
nala_status nala_image_read(const char *path, nala_channel_order order, size_t max_pixels, nala_image *out,
                            nala_err *err);

typedef enum nala_exif_mode { NALA_EXIF_IGNORE = 0, NALA_EXIF_APPLY = 1 } nala_exif_mode;

/* nala_image_read with a choice of EXIF handling. NALA_EXIF_APPLY rotates/flips like cv2.IMREAD_COLOR,
 * which is what mmcv 2.x's default flag 'color' maps to (its 'color_ignore_orientation' adds
 * IMREAD_IGNORE_ORIENTATION); NALA_EXIF_IGNORE is nala_image_read's behaviour. */
nala_status nala_image_read_exif(const char *path, nala_channel_order order, size_t max_pixels, nala_exif_mode exif,
                                 nala_image *out, nala_err *err);

/* nala_image_read_exif on a whole image file held in memory (n bytes); the file readers call it, so
 * both behave the same. name labels error messages (a path or URL; NULL gives "<memory>"). */
nala_status nala_image_decode(const uint8_t *bytes, size_t n, const char *name, nala_channel_order order,
                              size_t max_pixels, nala_exif_mode exif, nala_image *out, nala_err *err);

/* Name of the image format the bytes start with ("JPEG", "PNG", ... or a refused one like "DICOM"), NULL
 * when unrecognised; *decodable (may be NULL) is 1 for the formats nala_image_decode reads. No decoding. */
const char *nala_image_format(const uint8_t *bytes, size_t n, int *decodable);

/* Reads a label map (ADE20K/Cityscapes/VOC annotation or a saved prediction) with the sample values
 * mmseg gets from PIL (np.array of the PNG): 1/8-bit grey as stored (a 1-bit map is 0/1, not cv2's
 * 0/255), palette PNGs as their indices, 16-bit grey as stored when every value is below 256. Refused,
 * by name, with NALA_E_FORMAT: 2/4-bit grey (PIL rescales them to 0..255, so no reading is both the
 * stored classes and mmseg's), 16-bit values above 255 (mmseg would wrap them mod 256), grey+alpha,
 * RGB and RGBA (mmseg gets several channels), and files that are not PNG. One channel, NALA_GRAY. */
nala_status nala_image_read_labels(const char *path, nala_image *out, nala_err *err);

/* nala_image_read_labels on a whole PNG file held in memory; name labels messages (NULL: "<memory>"). */
nala_status nala_image_decode_labels(const uint8_t *bytes, size_t n, const char *name, nala_image *out,
                                     nala_err *err);

/* Writes a label map (h x w, c = 1) as an 8-bit palette PNG whose indices are the labels, read back
 * unchanged by nala_image_read_labels and by PIL (mmseg); palette holds n_colours (1..256) RGB colours
 * for viewers, indices past it stay legal. Atomic: temp file + rename (datasets/label_png_write.c). */
nala_status nala_image_write_labels(const char *path, const nala_image *labels, const uint8_t (*palette)[3],
                                    int n_colours, nala_err *err);

/* Writes PNG or JPEG, chosen by the path's extension (.png/.jpg/.jpeg), with cv2.imwrite's default
 * parameters (same bytes); RGB images are swapped to BGR first. Atomic: temp file + rename. */
nala_status nala_image_write(const char *path, const nala_image *img, nala_err *err);

/* Allocates an h x w x c image with a dense stride. */
nala_status nala_image_alloc(int h, int w, int c, nala_channel_order order, nala_image *out, nala_err *err);

/* Frees an owned image's pixels and zeroes the struct; safe on a zeroed struct. */
void nala_image_free(nala_image *img);

/* NALA_INTERP_AREA (cv2 INTER_AREA) averages the source pixels under each output pixel: for
 * thumbnails (contact sheets), not for model input, which mmcv resizes bilinearly. */
typedef enum nala_interp { NALA_INTERP_BILINEAR = 0, NALA_INTERP_NEAREST = 1, NALA_INTERP_AREA = 2 } nala_interp;

/* Resizes src into dst (both allocated or borrowed by the caller; dst's h and w are the target size,
 * dst->c must equal src->c) exactly like cv2.resize with INTER_LINEAR / INTER_NEAREST / INTER_AREA
 * (mmcv.imresize calls the first two). Never allocates dst memory; dst->order is set to src->order. */
nala_status nala_image_resize(const nala_image *src, nala_image *dst, nala_interp interp, nala_err *err);

/* Converts between channel orders (BGR <-> RGB, 3 channels <-> GRAY with cv2's weights) into a
 * caller-provided dst of the same h and w; dst->c and dst->order say the wanted layout. */
nala_status nala_image_convert(const nala_image *src, nala_image *dst, nala_err *err);

/* Video reading and writing (OpenCV videoio, FFmpeg backend). A reader or writer belongs to one
 * thread at a time; separate handles are independent. */
typedef struct nala_video_reader nala_video_reader;
typedef struct nala_video_writer nala_video_writer;

/* Properties of an open video; fps and frame_count are 0 when the container does not say
 * (cameras, some streams). frame_count is the container's claim, not a decoded count. */
typedef struct nala_video_info {
  int w, h;
  double fps;
  long frame_count;
} nala_video_info;

/* Opens a video file; refuses missing, empty or undecodable files with a message naming the path. */
nala_status nala_video_open(const char *path, nala_video_reader **out, nala_err *err);

/* Opens camera number index (/dev/videoN on Linux, through V4L2). A missing device is NALA_E_IO naming
 * the camera and its device node ("camera 3 (/dev/video3): no such device"), as are a device that cannot
 * be opened (permission, busy) and one OpenCV cannot capture from. */
nala_status nala_video_open_camera(int index, nala_video_reader **out, nala_err *err);

/* Width, height, fps and claimed frame count of an open reader. */
nala_video_info nala_video_get_info(const nala_video_reader *reader);

/* Decodes the next frame into frame in the given order (NALA_BGR or NALA_RGB). frame must be zeroed
 * or owned (from nala_image_alloc or an earlier call); it is (re)allocated only when empty or of
 * another size, so a loop reusing one nala_image allocates once; free it with nala_image_free.
 * *got is 1 with a frame, 0 at the end of the stream. A stream ending more than 1% + 1 frames short
 * of the announced frame_count gives NALA_E_FORMAT (truncated). */
nala_status nala_video_read(nala_video_reader *reader, nala_channel_order order, nala_image *frame, int *got,
                            nala_err *err);

/* Closes a reader; safe on NULL. */
void nala_video_close(nala_video_reader *reader);

/* Creates a video file of w x h frames at fps. fourcc is a 4-letter codec ("mp4v", "avc1", "MJPG")
 * or NULL to try avc1 then mp4v. Frames go to a temp file renamed to path by a successful
 * nala_video_writer_close, so an interrupted run leaves no half-written video at path. */
nala_status nala_video_writer_open(const char *path, int w, int h, double fps, const char *fourcc,
                                   nala_video_writer **out, nala_err *err);

/* Appends one frame (w x h, 3 channels, any stride; RGB frames are converted). */
nala_status nala_video_write(nala_video_writer *writer, const nala_image *frame, nala_err *err);

/* Finishes the file and moves it into place; frees the writer (also on failure). */
nala_status nala_video_writer_close(nala_video_writer *writer, nala_err *err);

/* Drops an unfinished video (temp file removed, nothing at path); safe on NULL. */
void nala_video_writer_abort(nala_video_writer *writer);

#ifdef __cplusplus
}
#endif

#endif
