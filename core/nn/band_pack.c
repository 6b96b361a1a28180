/* NHWC <-> blocked band copies (band_pack.h). Plain C: the blocks are fixed 32 / 64-byte moves the
 * compiler turns into vector loads and stores, and the copies run at cache bandwidth. Threads split
 * the (channel block, row) pairs, so each writes a disjoint part of the destination. */
#include "core/nn/band_pack.h"

#include <stddef.h>
#include <string.h>

/* Pixel by pixel, so the NHWC side streams (a pixel's channels are contiguous there), its channel
 * blocks to and from the blk-float slots of the blocked rows; threads split the rows. */
static inline void copy_blk(const float *restrict s, float *restrict d, int blk, int sum) {
  if (!sum) {
    memcpy(d, s, (size_t)blk * sizeof(float));
    return;
  }
  for (int i = 0; i < blk; i++)
    d[i] += s[i];
}

void nala_band_pack(const nala_band_copy *k, char *ws, int nthreads) {
  const float *src = (const float *)(ws + k->nhwc);
  float *dst = (float *)(ws + k->blocked);
  int nb = k->c / k->blk, blk = k->blk;
  size_t plane = (size_t)k->rows * k->wp * blk; /* floats per channel block */
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int r = 0; r < k->rows; r++) {
    float *drow = dst + (size_t)r * k->wp * blk;
    for (int x = 0; x < k->w; x++) {
      const float *s = src + ((size_t)r * k->w + x) * k->ld;
      for (int b = 0; b < nb; b++)
        copy_blk(s + (size_t)b * blk, drow + b * plane + (size_t)x * blk, blk, 0);
    }
    for (int b = 0; b < nb && k->wp > k->w; b++)
      memset(drow + b * plane + (size_t)k->w * blk, 0, (size_t)(k->wp - k->w) * blk * sizeof(float));
  }
}

void nala_band_unpack(const nala_band_copy *k, char *ws, int nthreads) {
  const float *src = (const float *)(ws + k->blocked);
  float *dst = (float *)(ws + k->nhwc);
  int nb = k->c / k->blk, blk = k->blk;
  size_t plane = (size_t)k->rows * k->wp * blk;
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int r = 0; r < k->rows; r++) {
    const float *srow = src + (size_t)r * k->wp * blk;
    for (int x = 0; x < k->w; x++) {
      float *d = dst + ((size_t)r * k->w + x) * k->ld;
      for (int b = 0; b < nb; b++)
        copy_blk(srow + b * plane + (size_t)x * blk, d + (size_t)b * blk, blk, k->sum);
    }
  }
}

static nala_status run_pack(const void *args, char *ws, int nthreads, nala_err *err) {
  (void)err;
  nala_band_pack(args, ws, nthreads);
  return NALA_OK;
}

static nala_status run_unpack(const void *args, char *ws, int nthreads, nala_err *err) {
  (void)err;
  nala_band_unpack(args, ws, nthreads);
  return NALA_OK;
}

static nala_status add(nala_graph *g, nala_kernel_fn fn, const nala_band_copy *k, int bucket, nala_err *err) {
  if ((k->blk != 8 && k->blk != 16) || k->c % k->blk || k->wp < k->w || k->ld < k->c || k->rows < 1 || k->w < 1)
    return nala_fail(err, NALA_E_ARG, "band copy: c %d, block %d, rows %d, w %d, wp %d, ld %d", k->c, k->blk, k->rows,
                     k->w, k->wp, k->ld);
  const size_t fields[2] = {offsetof(nala_band_copy, nhwc), offsetof(nala_band_copy, blocked)};
  return nala_graph_add_kernel_temp(g, fn, k, sizeof *k, fields, 2, bucket, err);
}

nala_status nala_band_pack_op(nala_graph *g, const nala_band_copy *k, int bucket, nala_err *err) {
  return add(g, run_pack, k, bucket, err);
}

nala_status nala_band_unpack_op(nala_graph *g, const nala_band_copy *k, int bucket, nala_err *err) {
  return add(g, run_unpack, k, bucket, err);
}
