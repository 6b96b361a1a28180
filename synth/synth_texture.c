/* Procedural textures: hash-based value noise (no tables, so no state) summed over octaves, and a
 * few structured patterns (windows, paving, stripes) that give each class a look of its own. */
#include <math.h>

#include "synth/synth_internal.h"

static float hash2(int32_t x, int32_t y, uint32_t seed) {
  uint32_t h = (uint32_t)x * 0x8da6b343u ^ (uint32_t)y * 0xd8163841u ^ seed * 0xcb1ab31fu;
  h ^= h >> 13;
  h *= 0x5bd1e995u;
  h ^= h >> 15;
  return (float)(h & 0xffffff) * (1.0f / 16777216.0f);
}

static float value_noise(float x, float y, uint32_t seed) {
  float fx = floorf(x), fy = floorf(y);
  int32_t ix = (int32_t)fx, iy = (int32_t)fy;
  float tx = x - fx, ty = y - fy;
  tx = tx * tx * (3 - 2 * tx);
  ty = ty * ty * (3 - 2 * ty);
  float a = hash2(ix, iy, seed), b = hash2(ix + 1, iy, seed);
  float c = hash2(ix, iy + 1, seed), d = hash2(ix + 1, iy + 1, seed);
  return a + (b - a) * tx + (c - a) * ty + (a - b - c + d) * tx * ty;
}

float sy_fbm(float x, float y, uint32_t seed) {
  float v = 0.5f * value_noise(x, y, seed) + 0.3f * value_noise(2.03f * x, 2.03f * y, seed + 17) +
            0.2f * value_noise(4.11f * x, 4.11f * y, seed + 31);
  return v;
}

static void mix3(const float a[3], const float b[3], float t, float out[3]) {
  for (int k = 0; k < 3; k++)
    out[k] = a[k] + (b[k] - a[k]) * t;
}

void sy_tex_color(const sy_tex *t, float x, float y, float rgb[3]) {
  float u = x - t->ox, v = y - t->oy;
  float s = t->scale > 0 ? t->scale : 4.0f;
  float n = sy_fbm(u / s, v / s, t->seed);
  float g = 1.0f + t->amp * (2.0f * n - 1.0f);
  switch (t->kind) {
  case SY_TEX_SKY: {
    float f = t->p1 > 0 ? fminf(fmaxf(y / t->p1, 0.0f), 1.0f) : 0.0f; /* p1: horizon y */
    mix3(t->base, t->base2, f, rgb);
    float cloud = sy_fbm(u / (4 * s), v / (1.5f * s), t->seed + 5) - t->p2; /* p2: cloud threshold */
    if (cloud > 0) {
      float c = fminf(cloud * 4.0f, 0.9f);
      const float white[3] = {235, 238, 242};
      mix3(rgb, white, c, rgb);
    }
    return;
  }
  case SY_TEX_WINDOWS: {
    float cw = t->p1 > 2 ? t->p1 : 8, ch = t->p2 > 2 ? t->p2 : 10;
    float fu = fmodf(u, cw), fv = fmodf(v, ch);
    if (fu < 0)
      fu += cw;
    if (fv < 0)
      fv += ch;
    int win = fu > 0.25f * cw && fu < 0.8f * cw && fv > 0.25f * ch && fv < 0.8f * ch;
    if (win) {
      float lit = hash2((int32_t)floorf(u / cw), (int32_t)floorf(v / ch), t->seed + 9);
      float w = lit > 0.8f ? 1.4f : 0.8f + 0.3f * lit;
      for (int k = 0; k < 3; k++)
        rgb[k] = t->base2[k] * w * g;
    } else {
      for (int k = 0; k < 3; k++)
        rgb[k] = t->base[k] * g;
    }
    return;
  }
  case SY_TEX_TILES: {
    float p = t->p1 > 2 ? t->p1 : 8;
    float fu = fmodf(u, p), fv = fmodf(v, p * 0.5f);
    if (fu < 0)
      fu += p;
    if (fv < 0)
      fv += p * 0.5f;
    float j = (fu < 1.0f || fv < 0.8f) ? 0.75f : 1.0f;
    for (int k = 0; k < 3; k++)
      rgb[k] = t->base[k] * g * j;
    return;
  }
  case SY_TEX_FOLIAGE: {
    float m = sy_fbm(u / (0.5f * s), v / (0.5f * s), t->seed + 3);
    mix3(t->base, t->base2, fminf(fmaxf(1.6f * m - 0.3f, 0.0f), 1.0f), rgb);
    for (int k = 0; k < 3; k++)
      rgb[k] *= g;
    return;
  }
  case SY_TEX_STRIPES: {
    float p = t->p1 > 1 ? t->p1 : 4;
    float f = fmodf(v, p);
    if (f < 0)
      f += p;
    const float *c = f < 0.5f * p ? t->base : t->base2;
    for (int k = 0; k < 3; k++)
      rgb[k] = c[k] * g;
    return;
  }
  case SY_TEX_FLAT:
  default:
    for (int k = 0; k < 3; k++)
      rgb[k] = t->base[k] * g;
    return;
  }
}
