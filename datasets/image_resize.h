/* cv2.resize INTER_LINEAR and INTER_NEAREST on 8-bit images, in plain C, into caller memory: the
 * per-frame resize of the test pipeline (datasets/preprocess.c) without OpenCV, whose cv::resize
 * allocates its coordinate tables and row buffers on the heap and hands the rows to TBB tasks at
 * every call. The output is OpenCV 4.x's to the bit (tests/test_image_resize.c compares them on
 * sizes up and down, odd and 2x); INTER_AREA stays with nala_image_resize (OpenCV). */
#ifndef NALA_DATASETS_IMAGE_RESIZE_H
#define NALA_DATASETS_IMAGE_RESIZE_H

#include <stddef.h>

#include "nala/image_io.h"
#include "nala/status.h"

/* Bytes of coordinate tables nala_resize_u8 needs for a dst_h x dst_w output (alignment slack
 * included, so any byte pointer will do). */
size_t nala_resize_u8_table_bytes(int dst_h, int dst_w);

/* Resizes src into dst (its size and stride say the output; same channel count, 1 to 4), with
 * interp NALA_INTERP_BILINEAR or NALA_INTERP_NEAREST. tables: at least nala_resize_u8_table_bytes.
 * Rows run in parallel (OpenMP) for large outputs. Never allocates. */
nala_status nala_resize_u8(const nala_image *src, nala_image *dst, nala_interp interp, void *tables,
                           size_t table_bytes, nala_err *err);

#endif
