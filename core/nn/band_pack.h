/* Copies between NHWC rows and the blocked bands of conv_banded.h (nChw16c / nChw8c), as kernel ops:
 * what oneDNN's reorders did there at 1.6-3 GB/s (jit:uni, 1 to 1.5 MB bands, Xeon), which was
 * ~13% of UPerHead's time at 512x512. A band pixel's block of channels is contiguous on both sides
 * (blk floats: 64 or 32 bytes), so each copy is a gather / scatter of such blocks.
 *
 *   pack    NHWC rows (c channels of ld floats a pixel, w pixels a row) -> blocked [c/blk][rows][wp][blk],
 *           columns [w, wp) set to zero (the Winograd band padding, conv_banded.c band_width)
 *   unpack  blocked [c/blk][rows][wp][blk], columns [0, w) -> NHWC rows; sum: added to what is there */
#ifndef NALA_CORE_NN_BAND_PACK_H
#define NALA_CORE_NN_BAND_PACK_H

#include "core/nn/graph.h"

typedef struct nala_band_copy {
  size_t nhwc, blocked; /* workspace byte offsets (blocked may be NALA_MEM_TEMP-based) */
  int c, rows, w, wp, ld, blk, sum;
} nala_band_copy;

/* Appends the copy (c a multiple of blk; blk 8 or 16; wp >= w; ld >= c). */
nala_status nala_band_pack_op(nala_graph *g, const nala_band_copy *copy, int bucket, nala_err *err);
nala_status nala_band_unpack_op(nala_graph *g, const nala_band_copy *copy, int bucket, nala_err *err);

/* The copies themselves on a bound workspace (tests run them against oneDNN's reorders). */
void nala_band_pack(const nala_band_copy *copy, char *ws, int nthreads);
void nala_band_unpack(const nala_band_copy *copy, char *ws, int nthreads);

#endif
