/* AVX2 + FMA tier of wino.h: 8 channels a vector, one 6x6 tile at a time (its 36 vectors stay in
 * registers and L1). Interior tiles load without bounds checks; edge tiles take zero vectors for
 * the pixels outside the map. Same arithmetic as wino_ref.c, in a fixed order with FMAs, so the two
 * tiers differ by rounding only. */
#include <immintrin.h>
#include <stddef.h>

#include "core/nn/wino.h"

#define SET1 _mm256_set1_ps

/* B^T applied to d0..d5 (a column or a row of the tile). */
static inline void bt6(const __m256 d[6], __m256 t[6]) {
  __m256 m4 = SET1(-4.0f), m5 = SET1(-5.0f), two = SET1(2.0f), four = SET1(4.0f);
  t[0] = _mm256_fmadd_ps(four, d[0], _mm256_fmadd_ps(m5, d[2], d[4]));
  __m256 a = _mm256_fmadd_ps(m4, d[2], d[4]), bb = _mm256_fmadd_ps(m4, d[1], d[3]); /* d4 - 4 d2, d3 - 4 d1 */
  t[1] = _mm256_add_ps(a, bb);
  t[2] = _mm256_sub_ps(a, bb);
  __m256 c = _mm256_sub_ps(d[4], d[2]), e = _mm256_mul_ps(two, _mm256_sub_ps(d[3], d[1])); /* d4 - d2, 2 (d3 - d1) */
  t[3] = _mm256_add_ps(c, e);
  t[4] = _mm256_sub_ps(c, e);
  t[5] = _mm256_fmadd_ps(four, d[1], _mm256_fmadd_ps(m5, d[3], d[5]));
}

/* A^T applied to m0..m5. */
static inline void at6(const __m256 m[6], __m256 o[4]) {
  __m256 s12 = _mm256_add_ps(m[1], m[2]), d12 = _mm256_sub_ps(m[1], m[2]);
  __m256 s34 = _mm256_add_ps(m[3], m[4]), d34 = _mm256_sub_ps(m[3], m[4]);
  o[0] = _mm256_add_ps(_mm256_add_ps(m[0], s12), s34);
  o[1] = _mm256_fmadd_ps(SET1(2.0f), d34, d12);
  o[2] = _mm256_fmadd_ps(SET1(4.0f), s34, s12);
  o[3] = _mm256_add_ps(_mm256_fmadd_ps(SET1(8.0f), d34, d12), m[5]);
}

void nala_wino_in_avx2(const nala_wino_band *b, const float *src, float *v, int t0, int t1) {
  size_t point_stride = (size_t)b->tiles * b->c;
  for (int t = t0; t < t1; t++) {
    int lo, hi, y0 = nala_wino_tile_y(b, t / b->tiles_w, &lo, &hi) - 1, x0 = NALA_WINO_TILE * (t % b->tiles_w) - 1;
    hi = b->map_h > 0 ? hi : b->h;
    /* offsets of the tile's 36 pixels, -1 outside its map */
    ptrdiff_t off[36];
    int inside = y0 >= lo && y0 + 6 <= hi && x0 >= 0 && x0 + 6 <= b->w;
    for (int i = 0; i < 6; i++)
      for (int j = 0; j < 6; j++) {
        int y = y0 + i, x = x0 + j;
        off[i * 6 + j] = y < lo || y >= hi || x < 0 || x >= b->w ? -1 : ((ptrdiff_t)y * b->w + x) * b->ld_src;
      }
    float *vt = v + (size_t)t * b->c;
    for (int ch = 0; ch < b->c; ch += 8) {
      __m256 d[36], col[6], tc[6], r[36];
      if (inside)
        for (int p = 0; p < 36; p++)
          d[p] = _mm256_loadu_ps(src + off[p] + ch);
      else
        for (int p = 0; p < 36; p++)
          d[p] = off[p] < 0 ? _mm256_setzero_ps() : _mm256_loadu_ps(src + off[p] + ch);
      for (int j = 0; j < 6; j++) { /* B^T d, column j */
        for (int i = 0; i < 6; i++)
          col[i] = d[i * 6 + j];
        bt6(col, tc);
        for (int i = 0; i < 6; i++)
          r[i * 6 + j] = tc[i];
      }
      for (int i = 0; i < 6; i++) { /* (B^T d) B, row i */
        bt6(&r[i * 6], tc);
        for (int j = 0; j < 6; j++)
          _mm256_storeu_ps(vt + (size_t)(i * 6 + j) * point_stride + ch, tc[j]);
      }
    }
  }
}

void nala_wino_out_avx2(const nala_wino_band *b, const float *m, const float *bias, float *dst, int t0, int t1) {
  size_t point_stride = (size_t)b->tiles * b->k;
  __m256 zero = _mm256_setzero_ps();
  for (int t = t0; t < t1; t++) {
    int lo, hi, y0 = nala_wino_tile_y(b, t / b->tiles_w, &lo, &hi), x0 = NALA_WINO_TILE * (t % b->tiles_w);
    int rows = hi - y0 < 4 ? hi - y0 : 4, cols = b->w - x0 < 4 ? b->w - x0 : 4;
    const float *mt = m + (size_t)t * b->k;
    for (int o = 0; o < b->k; o += 8) {
      __m256 col[6], tc[4], r[24], out[4];
      for (int j = 0; j < 6; j++) { /* A^T m, column j */
        for (int l = 0; l < 6; l++)
          col[l] = _mm256_loadu_ps(mt + (size_t)(l * 6 + j) * point_stride + o);
        at6(col, tc);
        for (int i = 0; i < 4; i++)
          r[i * 6 + j] = tc[i];
      }
      __m256 bv = bias ? _mm256_loadu_ps(bias + o) : zero;
      for (int i = 0; i < rows; i++) { /* (A^T m) A, row i */
        at6(&r[i * 6], out);
        float *y = dst + ((size_t)(y0 + i) * b->w + x0) * b->ld_dst + o;
        for (int j = 0; j < cols; j++) {
          __m256 s = _mm256_add_ps(out[j], bv);
          float *yj = y + (size_t)j * b->ld_dst;
          if (b->sum)
            s = _mm256_add_ps(s, _mm256_loadu_ps(yj));
          if (b->relu)
            s = _mm256_max_ps(s, zero);
          _mm256_storeu_ps(yj, s);
        }
      }
    }
  }
}
