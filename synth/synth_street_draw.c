/* The shapes of the street's standing things: trees, hedges, cars, people, poles, lamps, signs.
 * Each is a few filled polygons in its own textures, all written with the item's class (windows
 * and wheels are car, the trunk is vegetation as in Cityscapes), plus a shadow that darkens the
 * ground without touching the labels. */
#include <math.h>

#include "synth/synth_internal.h"

static sy_tex at(sy_tex t, float sx, float gy) {
  t.ox += sx, t.oy += gy;
  return t;
}

static void shadow(sy_canvas *c, float sx, float gy, float rx, float ry) {
  sy_paint p = {NULL, 0.6f, 0, 0, 0};
  sy_fill_ellipse(c, sx, gy, rx, ry, 0, &p);
}

static void draw_tree(const sy_item *it, float sx, sy_canvas *c) {
  float gy = it->y, s = it->size;
  sy_rng r = sy_rng_make((uint64_t)it->variant, 7, 0);
  sy_tex trunk = at(it->tex2, sx, gy), leaves = at(it->tex, sx, gy);
  sy_paint pt = {&trunk, 1, 1, SY_VEGETATION, 0}, pl = {&leaves, 1, 1, SY_VEGETATION, 0};
  shadow(c, sx, gy, 0.25f * s, 0.03f * s);
  float tw = fmaxf(1.5f, 0.06f * s);
  sy_fill_rect(c, sx - 0.5f * tw, gy - 0.55f * s, sx + 0.5f * tw, gy, &pt);
  int n = sy_int(&r, 3, 6);
  for (int i = 0; i < n; i++) {
    float cx = sx + s * (float)sy_uniform(&r, -0.2, 0.2), cy = gy - s * (float)sy_uniform(&r, 0.55, 0.8);
    sy_fill_ellipse(c, cx, cy, s * (float)sy_uniform(&r, 0.12, 0.25), s * (float)sy_uniform(&r, 0.12, 0.22),
                    (float)sy_uniform(&r, 0, 3.14), &pl);
  }
}

static void draw_hedge(const sy_item *it, float sx, sy_canvas *c) {
  float gy = it->y, hgt = it->size, wd = it->size * it->aspect;
  sy_rng r = sy_rng_make((uint64_t)it->variant, 8, 0);
  enum { K = 24 };
  float xy[2 * (K + 2)];
  for (int i = 0; i < K; i++) {
    xy[2 * i] = sx - 0.5f * wd + wd * (float)i / (K - 1);
    xy[2 * i + 1] = gy - hgt * (float)sy_uniform(&r, 0.8, 1.1);
  }
  xy[2 * K] = sx + 0.5f * wd, xy[2 * K + 1] = gy;
  xy[2 * K + 2] = sx - 0.5f * wd, xy[2 * K + 3] = gy;
  sy_tex tx = at(it->tex, sx, gy);
  sy_paint p = {&tx, 1, 1, SY_VEGETATION, 0};
  sy_fill_poly(c, xy, K + 2, &p);
}

static void draw_car(const sy_item *it, float sx, sy_canvas *c) {
  float gy = it->y, s = it->size, W = s * it->aspect, x0 = sx - 0.5f * W;
  float dir = it->vx >= 0 ? 1.0f : -1.0f;
  sy_tex body = at(it->tex, sx, gy), glass = at(it->tex2, sx, gy), tyre = at(it->tex3, sx, gy);
  sy_paint pb = {&body, 1, 1, SY_CAR, 0}, pg = {&glass, 1, 1, SY_CAR, 0}, pw = {&tyre, 1, 1, SY_CAR, 0};
  shadow(c, sx, gy, 0.58f * W, 0.07f * s);
  float yb = gy - 0.12f * s, ym = gy - (it->variant == 2 ? 0.75f : 0.55f) * s, yt = gy - s;
  /* cabin: a trapezoid, set back toward the rear; a van (variant 2) is boxy */
  float c0 = it->variant == 2 ? 0.05f : 0.2f, c1 = it->variant == 2 ? 0.7f : 0.72f;
  float f0 = it->variant == 2 ? 0.05f : 0.28f, f1 = it->variant == 2 ? 0.78f : 0.62f;
  float cab[8] = {0, ym, 0, ym, 0, yt, 0, yt};
  float xa = c0, xb = c1, xc = f1, xd = f0;
  if (dir < 0)
    xa = 1 - c1, xb = 1 - c0, xc = 1 - f0, xd = 1 - f1;
  cab[0] = x0 + xa * W, cab[2] = x0 + xb * W, cab[4] = x0 + xc * W, cab[6] = x0 + xd * W;
  sy_fill_poly(c, cab, 4, &pb);
  float in = 0.08f * s;
  float win[8] = {cab[0] + in, ym, cab[2] - in, ym, cab[4] - 0.5f * in, yt + in, cab[6] + 0.5f * in, yt + in};
  sy_fill_poly(c, win, 4, &pg);
  sy_fill_line(c, 0.5f * (win[0] + win[2]), ym, 0.5f * (win[4] + win[6]), yt + in, fmaxf(1, 0.05f * s), &pb);
  float bx[10] = {x0, yb, x0 + W, yb, x0 + W, ym + 0.05f * s, x0 + W * 0.5f, ym - 0.02f * s, x0, ym + 0.05f * s};
  sy_fill_poly(c, bx, 5, &pb);
  float r = 0.17f * s;
  sy_fill_ellipse(c, x0 + 0.2f * W, gy - r, r, r, 0, &pw);
  sy_fill_ellipse(c, x0 + 0.8f * W, gy - r, r, r, 0, &pw);
  sy_tex lamp = body;
  lamp.base[0] = 250, lamp.base[1] = 230, lamp.base[2] = 150;
  sy_paint pl = {&lamp, 1, 1, SY_CAR, 0};
  float lx = dir > 0 ? x0 + W - 0.06f * W : x0;
  sy_fill_rect(c, lx, ym + 0.08f * s, lx + 0.06f * W, ym + 0.18f * s, &pl);
}

static void draw_person(const sy_item *it, float sx, sy_canvas *c) {
  float gy = it->y, H = it->size;
  sy_tex shirt = at(it->tex, sx, gy), skin = at(it->tex2, sx, gy), pants = at(it->tex3, sx, gy);
  sy_paint ps = {&shirt, 1, 1, SY_PERSON, 0}, pk = {&skin, 1, 1, SY_PERSON, 0}, pp = {&pants, 1, 1, SY_PERSON, 0};
  shadow(c, sx, gy, 0.18f * H, 0.03f * H);
  float phase = sinf(sx * 6.0f / H + (float)(it->variant & 255)); /* walking: stride follows position */
  float hip = gy - 0.48f * H, stride = 0.12f * H * phase * (it->vx != 0 ? 1.0f : 0.3f);
  float lw = fmaxf(1.5f, 0.09f * H);
  sy_fill_line(c, sx - 0.04f * H, hip, sx - 0.04f * H + stride, gy - 0.01f * H, lw, &pp);
  sy_fill_line(c, sx + 0.04f * H, hip, sx + 0.04f * H - stride, gy - 0.01f * H, lw, &pp);
  float torso[8] = {sx - 0.1f * H, gy - 0.83f * H, sx + 0.1f * H, gy - 0.83f * H, sx + 0.09f * H, hip + 0.03f * H,
                    sx - 0.09f * H, hip + 0.03f * H};
  sy_fill_poly(c, torso, 4, &ps);
  float aw = fmaxf(1.2f, 0.06f * H), sw = 0.09f * H * phase;
  sy_fill_line(c, sx - 0.11f * H, gy - 0.8f * H, sx - 0.13f * H - sw, gy - 0.5f * H, aw, &ps);
  sy_fill_line(c, sx + 0.11f * H, gy - 0.8f * H, sx + 0.13f * H + sw, gy - 0.5f * H, aw, &ps);
  sy_fill_ellipse(c, sx, gy - 0.91f * H, 0.065f * H, 0.08f * H, 0, &pk);
  if (it->variant & 256) { /* hair or a hat in the trouser colour */
    sy_fill_ellipse(c, sx, gy - 0.96f * H, 0.07f * H, 0.04f * H, 0, &pp);
  }
}

static void draw_pole(const sy_item *it, float sx, sy_canvas *c, int lamp) {
  float gy = it->y, s = it->size, pw = fmaxf(1.5f, 0.025f * s);
  sy_tex metal = at(it->tex, sx, gy);
  sy_paint p = {&metal, 1, 1, SY_POLE, 0};
  sy_fill_rect(c, sx - 0.5f * pw, gy - s, sx + 0.5f * pw, gy, &p);
  if (lamp) {
    float dir = (it->variant & 1) ? 1.0f : -1.0f, ax = sx + dir * 0.22f * s;
    sy_fill_line(c, sx, gy - s + 0.5f * pw, ax, gy - s + 0.5f * pw, pw * 0.8f, &p);
    sy_fill_ellipse(c, ax, gy - s + 1.5f * pw, 2.5f * pw, 1.2f * pw, 0, &p);
  }
}

static void draw_sign(const sy_item *it, float sx, sy_canvas *c) {
  float gy = it->y, s = it->size, R = fmaxf(2.5f, 0.16f * s);
  draw_pole(it, sx, c, 0);
  sy_tex rim = at(it->tex2, sx, gy), face = at(it->tex3, sx, gy);
  sy_paint pr = {&rim, 1, 1, SY_SIGN, 0}, pf = {&face, 1, 1, SY_SIGN, 0};
  float cy = gy - s - 0.6f * R;
  switch (it->variant) {
  case 0: /* round prohibition sign */
    sy_fill_ellipse(c, sx, cy, R, R, 0, &pr);
    sy_fill_ellipse(c, sx, cy, 0.7f * R, 0.7f * R, 0, &pf);
    break;
  case 1: { /* warning triangle */
    float t[6] = {sx, cy - R, sx + R, cy + 0.75f * R, sx - R, cy + 0.75f * R};
    float u[6] = {sx, cy - 0.45f * R, sx + 0.55f * R, cy + 0.5f * R, sx - 0.55f * R, cy + 0.5f * R};
    sy_fill_poly(c, t, 3, &pr);
    sy_fill_poly(c, u, 3, &pf);
    break;
  }
  case 2: /* blue information board */
    sy_fill_rect(c, sx - R * it->aspect * 1.3f, cy - R, sx + R * it->aspect * 1.3f, cy + 0.8f * R, &pr);
    sy_fill_rect(c, sx - 0.5f * R, cy - 0.5f * R, sx + 0.3f * R, cy + 0.3f * R, &pf);
    break;
  default: { /* priority diamond */
    float d[8] = {sx, cy - R, sx + R, cy, sx, cy + R, sx - R, cy};
    sy_fill_poly(c, d, 4, &pf);
    sy_fill_ellipse(c, sx, cy, 0.55f * R, 0.55f * R, 0.785f, &pr);
    break;
  }
  }
}

void sy_draw_item(const sy_item *it, float sx, sy_canvas *c) {
  switch (it->kind) {
  case SY_IT_TREE: draw_tree(it, sx, c); break;
  case SY_IT_HEDGE: draw_hedge(it, sx, c); break;
  case SY_IT_CAR: draw_car(it, sx, c); break;
  case SY_IT_PERSON: draw_person(it, sx, c); break;
  case SY_IT_POLE: draw_pole(it, sx, c, 0); break;
  case SY_IT_LAMP: draw_pole(it, sx, c, 1); break;
  case SY_IT_SIGN: draw_sign(it, sx, c); break;
  }
}
