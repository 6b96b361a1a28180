/* COCO run-length mask encoding, with the results of pycocotools' maskApi.
 *
 * A mask of h x w pixels is stored column-major (pixel (y, x) at index x*h + y, numpy order 'F'),
 * as run lengths that alternate background / foreground and start with background (a mask whose
 * first pixel is set starts with a 0 run). Every function gives what maskApi gives for the same
 * valid input; where maskApi has undefined behaviour (mismatched sizes in a merge, empty polygons,
 * counts not summing to h*w) these return an error instead.
 *
 *   nala_rle r;
 *   nala_rle_from_poly(xy, n_points, h, w, &r, &err);   // rasterise like frPyObjects
 *   uint64_t pixels = nala_rle_area(&r);
 *   char *s; nala_rle_to_string(&r, &s, &err);           // "counts" string of a COCO RLE
 *   free(s); nala_rle_free(&r);
 */
#ifndef NALA_RLE_H
#define NALA_RLE_H

#include <stddef.h>
#include <stdint.h>

#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nala_rle {
  uint32_t h, w;    /* mask size; the runs cover h*w pixels (h*w < 2^32) */
  uint32_t m;       /* number of runs */
  uint32_t *counts; /* m run lengths; owned (malloc) unless the RLE is a view into an arena */
} nala_rle;

/* Frees r->counts and zeroes r. Safe on a zeroed RLE. */
void nala_rle_free(nala_rle *r);

/* Checks that the counts sum to h*w; the error names the sum and the expected size. */
nala_status nala_rle_validate(const nala_rle *r, nala_err *err);

/* Encodes a column-major h x w mask (nonzero = foreground) into *out (maskApi rleEncode). */
nala_status nala_rle_encode(const uint8_t *mask, uint32_t h, uint32_t w, nala_rle *out, nala_err *err);

/* Decodes a valid RLE into mask (h*w bytes, column-major, values 0/1) (maskApi rleDecode). */
nala_status nala_rle_decode(const nala_rle *r, uint8_t *mask, nala_err *err);

/* Union (intersect = 0) or intersection (intersect = 1) of n RLEs of the same size whose counts sum
 * to h*w (rleMerge). Differs from maskApi on purpose in one case: maskApi's rleMerge stops at an
 * interior zero-length run and returns runs that do not cover the mask ([5,3,0,8] with itself gives
 * [5,3]); this steps over empty runs and returns the true union / intersection ([5,3,0,8] -> [5,11]). */
nala_status nala_rle_merge(const nala_rle *rles, size_t n, int intersect, nala_rle *out, nala_err *err);

/* Number of foreground pixels (rleArea). */
uint64_t nala_rle_area(const nala_rle *r);

/* Tight box [x, y, w, h] of the foreground, zeros for an empty mask (rleToBbox). */
void nala_rle_to_bbox(const nala_rle *r, double bbox[4]);

/* Rasterises a polygon of k points xy[2k] = x0,y0,x1,y1,... at size h x w, bit-exact with maskApi
 * rleFrPoly (x5 upsampled boundary walk), including vertices outside the image. Work and memory grow
 * with k and the image width, not with how far vertices lie outside (only edge parts that can touch
 * the image are walked). Coordinates must be finite with |v| <= 1e8 (beyond ~2.1e8 maskApi's int
 * arithmetic overflows); repeated vertices are fine (maskApi's (int)NaN there never reaches the mask). */
nala_status nala_rle_from_poly(const double *xy, size_t k, uint32_t h, uint32_t w, nala_rle *out,
                               nala_err *err);

/* Rasterises box [x, y, w, h] as the polygon maskApi rleFrBbox draws. */
nala_status nala_rle_from_bbox(const double bbox[4], uint32_t h, uint32_t w, nala_rle *out, nala_err *err);

/* IoU of m detections against n ground truths: iou[d*n + g]. A crowd GT (iscrowd[g] != 0, iscrowd
 * may be NULL) uses the detection area as union. Masks of different sizes give -1 (rleIou). */
void nala_rle_iou(const nala_rle *dt, size_t m, const nala_rle *gt, size_t n, const uint8_t *iscrowd,
                  double *iou);

/* Same for boxes [x, y, w, h] (dt[4m], gt[4n]) without the +1 convention (maskApi bbIou). */
void nala_bbox_iou(const double *dt, size_t m, const double *gt, size_t n, const uint8_t *iscrowd,
                   double *iou);

/* Writes the compressed COCO "counts" string (6 bits per char, ASCII 48..111) into *out (malloc). */
nala_status nala_rle_to_string(const nala_rle *r, char **out, nala_err *err);

/* Parses a compressed "counts" string of length len for an h x w mask; rejects bad characters, a
 * truncated last value, counts out of uint32 range and counts not summing to h*w. */
nala_status nala_rle_from_string(const char *s, size_t len, uint32_t h, uint32_t w, nala_rle *out,
                                 nala_err *err);

#ifdef __cplusplus
}
#endif

#endif
