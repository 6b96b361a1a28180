/* Plain-C tier of wino.h, the weights transform and the tier choice. */
#include "core/nn/wino.h"

#include <stddef.h>

/* Lavin & Gray's F(4x4, 3x3) matrices (wino.h). */
static const double G[6][3] = {{1.0 / 4, 0, 0},          {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                               {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
static const float BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                               {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
static const float AT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

void nala_wino_weights(const float *oihw, int c, int k, float *u) {
  /* input channels outer, output channels inner: U's 36 rows of k floats are written in order (the
   * other way round scattered every store, 0.6 s of plan for UperNet-T); threads (the planning
   * thread's OpenMP team) split the input channels */
#pragma omp parallel for schedule(static)
  for (int i = 0; i < c; i++)
    for (int o = 0; o < k; o++) {
      const float *g = oihw + ((size_t)o * c + i) * 9;
      double gg[6][3]; /* G g */
      for (int a = 0; a < 6; a++)
        for (int x = 0; x < 3; x++)
          gg[a][x] = G[a][0] * g[x] + G[a][1] * g[3 + x] + G[a][2] * g[6 + x];
      for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++) {
          double s = gg[a][0] * G[b][0] + gg[a][1] * G[b][1] + gg[a][2] * G[b][2];
          u[((size_t)(a * 6 + b) * c + i) * k + o] = (float)s;
        }
    }
}

/* Input pixel (y, x) of the map whose rows are [lo, hi), or NULL outside it (the zero padding). */
static const float *pixel(const nala_wino_band *b, const float *src, int lo, int hi, int y, int x) {
  if (y < lo || y >= hi || x < 0 || x >= b->w)
    return NULL;
  return src + ((size_t)y * b->w + x) * b->ld_src;
}

void nala_wino_in_ref(const nala_wino_band *b, const float *src, float *v, int t0, int t1) {
  size_t point_stride = (size_t)b->tiles * b->c;
  for (int t = t0; t < t1; t++) {
    int lo, hi, y0 = nala_wino_tile_y(b, t / b->tiles_w, &lo, &hi) - 1, x0 = NALA_WINO_TILE * (t % b->tiles_w) - 1;
    hi = b->map_h > 0 ? hi : b->h;
    for (int ch = 0; ch < b->c; ch++) {
      float d[6][6], tmp[6][6];
      for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
          const float *p = pixel(b, src, lo, hi, y0 + i, x0 + j);
          d[i][j] = p ? p[ch] : 0.0f;
        }
      for (int i = 0; i < 6; i++) /* B^T d */
        for (int j = 0; j < 6; j++) {
          float s = 0;
          for (int l = 0; l < 6; l++)
            s += BT[i][l] * d[l][j];
          tmp[i][j] = s;
        }
      for (int i = 0; i < 6; i++) /* (B^T d) B */
        for (int j = 0; j < 6; j++) {
          float s = 0;
          for (int l = 0; l < 6; l++)
            s += tmp[i][l] * BT[j][l];
          v[(size_t)(i * 6 + j) * point_stride + (size_t)t * b->c + ch] = s;
        }
    }
  }
}

void nala_wino_out_ref(const nala_wino_band *b, const float *m, const float *bias, float *dst, int t0, int t1) {
  size_t point_stride = (size_t)b->tiles * b->k;
  for (int t = t0; t < t1; t++) {
    int lo, hi, y0 = nala_wino_tile_y(b, t / b->tiles_w, &lo, &hi), x0 = NALA_WINO_TILE * (t % b->tiles_w);
    for (int o = 0; o < b->k; o++) {
      float tmp[4][6];
      for (int i = 0; i < 4; i++) /* A^T m */
        for (int j = 0; j < 6; j++) {
          float s = 0;
          for (int l = 0; l < 6; l++)
            s += AT[i][l] * m[(size_t)(l * 6 + j) * point_stride + (size_t)t * b->k + o];
          tmp[i][j] = s;
        }
      for (int i = 0; i < 4 && y0 + i < hi; i++) /* (A^T m) A */
        for (int j = 0; j < 4 && x0 + j < b->w; j++) {
          float s = bias ? bias[o] : 0.0f;
          for (int l = 0; l < 6; l++)
            s += tmp[i][l] * AT[j][l];
          float *y = dst + ((size_t)(y0 + i) * b->w + x0 + j) * b->ld_dst + o;
          if (b->sum)
            s += *y;
          *y = b->relu && s < 0 ? 0.0f : s;
        }
    }
  }
}

nala_wino_fns nala_wino_for(nala_isa isa) {
#if NALA_X86_TIERS
  if (isa == NALA_ISA_AUTO)
    isa = nala_isa_best();
  if (isa >= NALA_ISA_AVX2 && nala_isa_supported(NALA_ISA_AVX2))
    return (nala_wino_fns){nala_wino_in_avx2, nala_wino_out_avx2, "avx2"};
#else
  (void)isa;
#endif
  return (nala_wino_fns){nala_wino_in_ref, nala_wino_out_ref, "ref"};
}
