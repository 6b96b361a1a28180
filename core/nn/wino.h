/* nala's own Winograd F(4x4, 3x3) transforms for 3x3 stride-1 convolutions (pad 1) on NHWC maps,
 * for CPUs where oneDNN 2.6 has none (below AVX-512: conv_wino.c plans them around oneDNN
 * matmuls). Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2015), points
 * 0, +-1, +-2 and infinity, the same F(4x4, 3x3) oneDNN's jit_wino_4x3 runs on AVX-512 (so the
 * seg parity tests see the same kind of rounding on both tiers):
 *
 *   U[36][c][k]      = G g G^T        weights, once per plan (double, rounded once)
 *   V[36][tiles][c]  = B^T d B        each 6x6 input tile d (rows 4ty-1 .. 4ty+4 of the band, zeros
 *                                     outside the map)
 *   M[i]             = V[i] U[i]      36 GEMMs [tiles x c] x [c x k] (oneDNN matmul)
 *   y                = A^T m A        each 4x4 output tile, + bias (+ dst: sum), ReLU
 *
 * 36 multiplies per 4x4 output tile and channel pair instead of 144. F(6x6, 3x3) (8x8 tiles, 1.78
 * multiplies an output) would need points +-1/2 and rounds ~10x more (Lavin's tables): F(4x4) is
 * what keeps decode_logits within the 1e-4 parity budget with room to spare.
 *
 * Tiers: plain C (wino_ref.c, any CPU, the reference the tests compare) and AVX2 + FMA
 * (wino_avx2.c, 8 channels a vector), picked by nala_wino_for from the model's ISA tier. */
#ifndef NALA_CORE_NN_WINO_H
#define NALA_CORE_NN_WINO_H

#include "nala/isa.h"
#include "nala/status.h"

#define NALA_WINO_ALPHA 6 /* transformed tile side */
#define NALA_WINO_TILE 4  /* output tile side */
#define NALA_WINO_POINTS (NALA_WINO_ALPHA * NALA_WINO_ALPHA)

/* One band of output rows [r0, r1) of an h x w map, as tiles_w x ceil((r1 - r0) / 4) tiles in row
 * order (tile t at output row r0 + 4 (t / tiles_w), column 4 (t % tiles_w)).
 * A batch of maps (map_h > 0) is h / map_h maps of map_h rows one after another, each padded on its
 * own; a band is then whole maps [r0 / map_h, r1 / map_h), ceil(map_h / 4) tile rows each. */
typedef struct nala_wino_band {
  int h, w, r0, r1;
  int map_h;          /* 0: one map of h rows */
  int tiles_w, tiles; /* ceil(w / 4); tiles of the band (the V / M row count) */
  int c, ld_src;      /* input channels (a multiple of 8) and floats between input pixels */
  int k, ld_dst;      /* output channels (a multiple of 8) and floats between output pixels */
  int sum, relu;      /* y = relu(conv + bias + (sum ? y_old : 0)) */
} nala_wino_band;

/* Input transform of tiles [t0, t1): src is pixel (0, 0) of the map, v the band's V [36][tiles][c]. */
typedef void (*nala_wino_in_fn)(const nala_wino_band *b, const float *src, float *v, int t0, int t1);
/* Output transform of tiles [t0, t1): m the band's M [36][tiles][k], dst pixel (0, 0) of the map. */
typedef void (*nala_wino_out_fn)(const nala_wino_band *b, const float *m, const float *bias, float *dst, int t0,
                                 int t1);

typedef struct nala_wino_fns {
  nala_wino_in_fn in;
  nala_wino_out_fn out;
  const char *name; /* "ref", "avx2" */
} nala_wino_fns;

void nala_wino_in_ref(const nala_wino_band *b, const float *src, float *v, int t0, int t1);
void nala_wino_out_ref(const nala_wino_band *b, const float *m, const float *bias, float *dst, int t0, int t1);
void nala_wino_in_avx2(const nala_wino_band *b, const float *src, float *v, int t0, int t1);
void nala_wino_out_avx2(const nala_wino_band *b, const float *m, const float *bias, float *dst, int t0, int t1);

/* Output row of the band's tile row tr and the rows [*lo, *hi) of its map. */
static inline int nala_wino_tile_y(const nala_wino_band *b, int tr, int *lo, int *hi) {
  if (b->map_h <= 0) {
    *lo = 0, *hi = b->r1;
    return b->r0 + NALA_WINO_TILE * tr;
  }
  int per_map = (b->map_h + NALA_WINO_TILE - 1) / NALA_WINO_TILE, m = b->r0 / b->map_h + tr / per_map;
  *lo = m * b->map_h, *hi = *lo + b->map_h;
  return *lo + NALA_WINO_TILE * (tr % per_map);
}

/* The fastest tier at most isa that this CPU runs (AUTO: the best; ref off x86-64). */
nala_wino_fns nala_wino_for(nala_isa isa);

/* U [36][c][k] from PyTorch weights [k][c][3][3] (in double, rounded once). */
void nala_wino_weights(const float *oihw, int c, int k, float *u);

#endif
