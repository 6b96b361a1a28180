/* The street scene of `nala synth seg` / `nala synth video`: a side view across a street (sky,
 * two rows of buildings, an optional grass strip, the far sidewalk, the road, the near sidewalk or
 * grass) with trees, hedges, cars, people, poles, lamps and signs standing on the ground bands.
 * Layout lives in world coordinates so the video can pan over a street wider than the frame;
 * colours, band heights, object scale, light and noise all vary per scene. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synth/synth_internal.h"

const char *const sy_street_classes[SY_NUM_CLASSES] = {"sky",        "building", "road",   "sidewalk", "vegetation",
                                                       "terrain",    "car",      "person", "pole",     "traffic sign"};
/* Cityscapes' colours for the same classes. */
const uint8_t sy_street_palette[SY_NUM_CLASSES][3] = {{70, 130, 180}, {70, 70, 70},   {128, 64, 128}, {244, 35, 232},
                                                      {107, 142, 35}, {152, 251, 152}, {0, 0, 142},   {220, 20, 60},
                                                      {153, 153, 153}, {220, 220, 0}};

static void set3(float c[3], float r, float g, float b) { c[0] = r, c[1] = g, c[2] = b; }

static void jitter3(sy_rng *r, float c[3], float amount) {
  for (int k = 0; k < 3; k++) {
    c[k] *= (float)sy_uniform(r, 1 - amount, 1 + amount);
    if (c[k] > 255)
      c[k] = 255;
  }
}

static sy_tex tex_make(sy_rng *r, sy_tex_kind kind, float amp, float scale) {
  sy_tex t;
  memset(&t, 0, sizeof t);
  t.kind = kind, t.amp = amp, t.scale = scale, t.seed = (uint32_t)sy_next(r);
  return t;
}

/* A saturated random colour (car paint, clothes). */
static void vivid(sy_rng *r, float c[3]) {
  static const float pal[][3] = {{200, 30, 30},  {30, 60, 170}, {230, 230, 230}, {25, 25, 28},  {150, 150, 155},
                                 {220, 180, 30}, {30, 120, 60}, {120, 30, 90},   {200, 100, 30}, {90, 60, 40}};
  int i = sy_int(r, 0, (int)(sizeof pal / sizeof pal[0]) - 1);
  set3(c, pal[i][0], pal[i][1], pal[i][2]);
  jitter3(r, c, 0.15f);
}

/* Height in pixels of a thing standing at ground y: things nearer the bottom look bigger. */
static float size_at(const sy_street *s, float y, float scale) {
  float f = (y - s->y_base) / fmaxf((float)s->h - s->y_base, 1.0f);
  return scale * (float)s->h * (0.3f + 0.7f * fminf(fmaxf(f, 0.0f), 1.2f));
}

static sy_item *add_item(sy_street *s, sy_item_kind kind, float x, float y, float size) {
  if (s->n_items >= SY_MAX_ITEMS)
    return NULL;
  sy_item *it = &s->items[s->n_items++];
  memset(it, 0, sizeof *it);
  it->kind = kind, it->x = x, it->y = y, it->size = size, it->aspect = 1;
  return it;
}

static void build_bands(sy_street *s, sy_rng *r) {
  float h = (float)s->h;
  s->y_base = h * (float)sy_uniform(r, 0.36, 0.55);
  s->y_far_walk = s->y_base + (sy_chance(r, 0.4) ? h * (float)sy_uniform(r, 0.02, 0.06) : 0.0f);
  s->y_road = s->y_far_walk + h * (float)sy_uniform(r, 0.04, 0.09);
  s->y_near = fminf(s->y_road + h * (float)sy_uniform(r, 0.18, 0.32), h * 0.9f);
  s->near_terrain = sy_chance(r, 0.25);
  s->tilt = (float)sy_uniform(r, -0.04, 0.04);

  int overcast = sy_chance(r, 0.3);
  s->sky = tex_make(r, SY_TEX_SKY, 0.02f, h * 0.08f);
  if (overcast) {
    set3(s->sky.base, 150, 155, 165), set3(s->sky.base2, 200, 202, 205);
  } else {
    set3(s->sky.base, 60, 110, 200), set3(s->sky.base2, 170, 200, 235);
  }
  jitter3(r, s->sky.base, 0.1f);
  s->sky.p1 = s->y_base;
  s->sky.p2 = (float)sy_uniform(r, 0.5, 0.8);

  s->terrain = tex_make(r, SY_TEX_FOLIAGE, 0.15f, h * 0.03f);
  set3(s->terrain.base, 90, 140, 50), set3(s->terrain.base2, 140, 160, 70);
  jitter3(r, s->terrain.base, 0.15f);
  s->far_walk = tex_make(r, SY_TEX_TILES, 0.1f, 3);
  set3(s->far_walk.base, 175, 170, 160);
  jitter3(r, s->far_walk.base, 0.12f);
  s->far_walk.p1 = h * (float)sy_uniform(r, 0.03, 0.07);
  s->near_walk = s->far_walk;
  s->near_walk.p1 *= 2.0f;
  s->near_walk.seed ^= 0x55u;
  if (s->near_terrain)
    s->near_walk = s->terrain;
  s->road = tex_make(r, SY_TEX_FLAT, 0.18f, 1.5f);
  float g = (float)sy_uniform(r, 60, 115);
  set3(s->road.base, g, g, g * 1.03f);
  s->marking = tex_make(r, SY_TEX_FLAT, 0.05f, 2);
  set3(s->marking.base, 235, 235, 225);
  if (sy_chance(r, 0.2))
    set3(s->marking.base, 230, 200, 40);
  s->lane_y = 0.5f * (s->y_road + s->y_near);
  s->dash = h * (float)sy_uniform(r, 0.08, 0.2);
  s->gap = s->dash * (float)sy_uniform(r, 0.6, 1.5);
}

static void build_buildings(sy_street *s, sy_rng *r) {
  float h = (float)s->h;
  for (int far = 1; far >= 0; far--) {
    float x = -(float)sy_uniform(r, 0, 0.3) * h;
    while (x < s->world_w && s->n_buildings < SY_MAX_BUILDINGS) {
      float wd = h * (float)sy_uniform(r, 0.25, 0.8);
      if (!far && sy_chance(r, 0.35)) { /* near row has gaps showing the far row */
        x += wd * 0.6f;
        continue;
      }
      sy_building *b = &s->buildings[s->n_buildings++];
      b->x0 = x, b->x1 = x + wd, b->far = far;
      float lo = far ? 0.1f : 0.05f, hi = s->y_base / h - (far ? 0.02f : 0.08f);
      b->top = s->y_base - h * (float)sy_uniform(r, lo, fmaxf(hi, lo + 0.05f)) - (far ? h * 0.1f : 0);
      if (sy_chance(r, 0.1))
        b->top = -1;
      b->tex = tex_make(r, SY_TEX_WINDOWS, 0.08f, 3);
      static const float facade[][3] = {{150, 120, 100}, {180, 170, 150}, {120, 110, 110}, {200, 190, 170},
                                        {140, 80, 60},   {100, 105, 115}, {210, 200, 190}};
      int k = sy_int(r, 0, 6);
      set3(b->tex.base, facade[k][0], facade[k][1], facade[k][2]);
      jitter3(r, b->tex.base, 0.12f);
      set3(b->tex.base2, 60, 80, 110);
      jitter3(r, b->tex.base2, 0.25f);
      if (far) /* haze */
        for (int c = 0; c < 3; c++)
          b->tex.base[c] = 0.6f * b->tex.base[c] + 0.4f * 190, b->tex.base2[c] = 0.6f * b->tex.base2[c] + 0.4f * 190;
      float cell = h * (float)sy_uniform(r, 0.035, 0.08);
      b->tex.p1 = cell * (float)sy_uniform(r, 0.8, 1.5), b->tex.p2 = cell * (float)sy_uniform(r, 1.0, 1.6);
      b->tex.ox = x;
      x += wd + (sy_chance(r, 0.3) ? h * (float)sy_uniform(r, 0.02, 0.15) : 0);
    }
  }
}

static void build_items(sy_street *s, sy_rng *r) {
  float h = (float)s->h, scale = (float)sy_uniform(r, 0.7, 1.3), per = s->world_w / h;
  int n_trees = (int)lrint(per * sy_uniform(r, 0.3, 2.0));
  int n_hedges = (int)lrint(per * sy_uniform(r, 0, 0.8));
  int n_cars = (int)lrint(per * sy_uniform(r, 0.5, 2.5));
  int n_people = (int)lrint(per * sy_uniform(r, 0.5, 3.0));
  int n_poles = (int)lrint(per * sy_uniform(r, 0.2, 1.2));
  int n_signs = (int)lrint(per * sy_uniform(r, 0.3, 1.2));
  float road_h = s->y_near - s->y_road;
  for (int i = 0; i < n_hedges; i++) {
    float y = s->y_far_walk + (float)sy_uniform(r, 0, 0.3) * (s->y_road - s->y_far_walk);
    sy_item *it = add_item(s, SY_IT_HEDGE, (float)sy_uniform(r, 0, s->world_w), y,
                           size_at(s, y, scale) * (float)sy_uniform(r, 0.12, 0.25));
    if (!it)
      break;
    it->aspect = (float)sy_uniform(r, 2, 8);
    it->variant = (int)(sy_next(r) & 0x7fffffff);
    it->tex = tex_make(r, SY_TEX_FOLIAGE, 0.2f, h * 0.012f);
    set3(it->tex.base, 40, 90, 35), set3(it->tex.base2, 80, 130, 50);
    jitter3(r, it->tex.base, 0.2f);
  }
  for (int i = 0; i < n_trees; i++) {
    int near = sy_chance(r, 0.3);
    float y = near ? s->y_near + (float)sy_uniform(r, 0.2, 0.5) * ((float)s->h - s->y_near)
                   : s->y_far_walk + (float)sy_uniform(r, 0.1, 0.6) * (s->y_road - s->y_far_walk);
    sy_item *it = add_item(s, SY_IT_TREE, (float)sy_uniform(r, 0, s->world_w), y,
                           size_at(s, y, scale) * (float)sy_uniform(r, 0.8, 1.6));
    if (!it)
      break;
    it->variant = (int)(sy_next(r) & 0x7fffffff);
    it->tex = tex_make(r, SY_TEX_FOLIAGE, 0.25f, h * 0.015f);
    set3(it->tex.base, 35, 85, 30), set3(it->tex.base2, 95, 140, 45);
    jitter3(r, it->tex.base, 0.25f), jitter3(r, it->tex.base2, 0.2f);
    it->tex2 = tex_make(r, SY_TEX_FLAT, 0.2f, 2);
    set3(it->tex2.base, 90, 65, 45);
  }
  for (int i = 0; i < n_cars; i++) {
    int lane = sy_chance(r, 0.5);
    float y = s->y_road + road_h * (lane ? (float)sy_uniform(r, 0.6, 0.95) : (float)sy_uniform(r, 0.3, 0.55));
    sy_item *it = add_item(s, SY_IT_CAR, (float)sy_uniform(r, 0, s->world_w), y,
                           size_at(s, y, scale) * (float)sy_uniform(r, 0.28, 0.42));
    if (!it)
      break;
    it->aspect = (float)sy_uniform(r, 2.0, 2.7);
    it->vx = (lane ? 1.0f : -1.0f) * (float)sy_uniform(r, 0.004, 0.015) * h;
    it->variant = sy_int(r, 0, 2);
    it->tex = tex_make(r, SY_TEX_FLAT, 0.06f, 4);
    vivid(r, it->tex.base);
    it->tex2 = tex_make(r, SY_TEX_FLAT, 0.1f, 3);
    set3(it->tex2.base, 50, 65, 80);
    jitter3(r, it->tex2.base, 0.3f);
    it->tex3 = tex_make(r, SY_TEX_FLAT, 0.1f, 2);
    set3(it->tex3.base, 22, 22, 24);
  }
  for (int i = 0; i < n_people; i++) {
    int near = sy_chance(r, 0.4);
    float y = near ? s->y_near + (float)sy_uniform(r, 0.15, 0.9) * ((float)s->h - s->y_near)
                   : s->y_far_walk + (float)sy_uniform(r, 0.2, 1.0) * (s->y_road - s->y_far_walk);
    sy_item *it = add_item(s, SY_IT_PERSON, (float)sy_uniform(r, 0, s->world_w), y,
                           size_at(s, y, scale) * (float)sy_uniform(r, 0.35, 0.5));
    if (!it)
      break;
    it->vx = (sy_chance(r, 0.5) ? 1.0f : -1.0f) * (float)sy_uniform(r, 0.0, 0.004) * h;
    it->variant = (int)(sy_next(r) & 0x7fffffff);
    it->tex = tex_make(r, SY_TEX_FLAT, 0.1f, 2);
    vivid(r, it->tex.base);
    it->tex2 = tex_make(r, SY_TEX_FLAT, 0.05f, 2);
    static const float skin[][3] = {{240, 200, 170}, {200, 150, 110}, {140, 95, 65}, {90, 60, 40}};
    int k = sy_int(r, 0, 3);
    set3(it->tex2.base, skin[k][0], skin[k][1], skin[k][2]);
    it->tex3 = tex_make(r, sy_chance(r, 0.2) ? SY_TEX_STRIPES : SY_TEX_FLAT, 0.1f, 2);
    vivid(r, it->tex3.base);
    it->tex3.base2[0] = it->tex3.base[2], it->tex3.base2[1] = it->tex3.base[0], it->tex3.base2[2] = it->tex3.base[1];
    it->tex3.p1 = 4;
  }
  for (int i = 0; i < n_poles + n_signs; i++) {
    int near = sy_chance(r, 0.35), sign = i >= n_poles;
    float y = near ? s->y_near + (float)sy_uniform(r, 0.05, 0.4) * ((float)s->h - s->y_near)
                   : s->y_far_walk + (float)sy_uniform(r, 0.6, 1.0) * (s->y_road - s->y_far_walk);
    sy_item_kind kind = sign ? SY_IT_SIGN : sy_chance(r, 0.5) ? SY_IT_LAMP : SY_IT_POLE;
    sy_item *it = add_item(s, kind, (float)sy_uniform(r, 0, s->world_w), y,
                           size_at(s, y, scale) * (sign ? (float)sy_uniform(r, 0.45, 0.7) : (float)sy_uniform(r, 0.8, 1.3)));
    if (!it)
      break;
    it->variant = sy_int(r, 0, 3);
    it->aspect = (float)sy_uniform(r, 0.5, 1.0);
    it->tex = tex_make(r, SY_TEX_FLAT, 0.08f, 2);
    float g = (float)sy_uniform(r, 70, 160);
    set3(it->tex.base, g, g, g * 1.05f);
    if (sy_chance(r, 0.25))
      set3(it->tex.base, 40, 70, 50);
    it->tex2 = tex_make(r, SY_TEX_FLAT, 0.05f, 2);
    it->tex3 = tex_make(r, SY_TEX_FLAT, 0.05f, 2);
    static const float plate[][3] = {{200, 30, 30}, {200, 30, 30}, {30, 70, 180}, {235, 190, 20}};
    set3(it->tex2.base, plate[it->variant][0], plate[it->variant][1], plate[it->variant][2]);
    set3(it->tex3.base, 240, 240, 240);
    if (it->variant == 3)
      set3(it->tex3.base, 30, 30, 30);
  }
}

static int cmp_items(const void *a, const void *b) {
  const sy_item *x = a, *y = b;
  return (x->y > y->y) - (x->y < y->y);
}

void sy_street_build(sy_street *s, int h, float world_w, sy_rng *r) {
  memset(s, 0, sizeof *s);
  s->h = h, s->world_w = world_w;
  build_bands(s, r);
  build_buildings(s, r);
  build_items(s, r);
  qsort(s->items, (size_t)s->n_items, sizeof *s->items, cmp_items); /* painter's order: far to near */
  float g = (float)sy_uniform(r, 0.7, 1.25);
  for (int k = 0; k < 3; k++)
    s->light.gain[k] = g * (float)sy_uniform(r, 0.92, 1.08);
  s->light.grad = (float)sy_uniform(r, -0.25, 0.25);
  s->light.vignette = (float)sy_uniform(r, 0, 0.35);
  s->light.noise = (float)sy_uniform(r, 1, 9);
}

/* A band between two lines y_top(x), y_bot(x) sloped by tilt over the screen width. */
static void band(sy_canvas *c, float tilt, float y_top, float y_bot, const sy_paint *p) {
  float w = (float)c->w, d = tilt * 0.5f * w;
  float xy[8] = {-1, y_top - d - tilt, w + 1, y_top + d + tilt, w + 1, y_bot + d + tilt, -1, y_bot - d - tilt};
  sy_fill_poly(c, xy, 4, p);
}

static sy_tex moved(sy_tex t, float dx) {
  t.ox += dx;
  return t;
}

void sy_street_draw(const sy_street *s, float cam_x, float t, sy_canvas *c) {
  float w = (float)c->w, hh = (float)c->h, tl = s->tilt;
  sy_tex sky = moved(s->sky, -cam_x * 0.2f); /* clouds drift slower than the street: parallax */
  sy_paint p = {&sky, 1, 1, SY_SKY, 0};
  sy_fill_rect(c, -1, -1, w + 1, hh + 1, &p);
  for (int i = 0; i < s->n_buildings; i++) {
    const sy_building *b = &s->buildings[i];
    float par = b->far ? 0.85f : 1.0f; /* far row pans slightly slower */
    float x0 = b->x0 - cam_x * par, x1 = b->x1 - cam_x * par;
    if (x1 < 0 || x0 > w)
      continue;
    sy_tex tx = moved(b->tex, -cam_x * par);
    sy_paint bp = {&tx, 1, 1, SY_BUILDING, 0};
    float ym = 0.5f * (x0 + x1) - 0.5f * w, yb = s->y_base + tl * ym + hh * 0.03f;
    sy_fill_rect(c, x0, b->top + tl * ym, x1, yb, &bp);
  }
  sy_tex tx;
  sy_paint bp = {&tx, 1, 1, 0, 0};
  if (s->y_far_walk > s->y_base) {
    tx = moved(s->terrain, -cam_x), bp.label = SY_TERRAIN;
    band(c, tl, s->y_base, s->y_far_walk, &bp);
  }
  tx = moved(s->far_walk, -cam_x), bp.label = SY_SIDEWALK;
  band(c, tl, s->y_far_walk, s->y_road, &bp);
  tx = moved(s->road, -cam_x), bp.label = SY_ROAD;
  band(c, tl, s->y_road, s->y_near, &bp);
  sy_tex mark = s->marking;
  sy_paint mp = {&mark, 1, 1, SY_ROAD, 0};
  float period = s->dash + s->gap, th = fmaxf(1.5f, (s->y_near - s->y_road) * 0.035f);
  for (float xw = floorf(cam_x / period) * period; xw - cam_x < w; xw += period) {
    float x0 = xw - cam_x, x1 = x0 + s->dash, ym0 = tl * (x0 - 0.5f * w), ym1 = tl * (x1 - 0.5f * w);
    float xy[8] = {x0, s->lane_y + ym0 - th, x1, s->lane_y + ym1 - th, x1, s->lane_y + ym1 + th, x0, s->lane_y + ym0 + th};
    sy_fill_poly(c, xy, 4, &mp);
  }
  tx = moved(s->near_walk, -cam_x), bp.label = s->near_terrain ? SY_TERRAIN : SY_SIDEWALK;
  band(c, tl, s->y_near, hh + 2, &bp);
  sy_paint curb = {NULL, 0.7f, 0, 0, 0};
  band(c, tl, s->y_near, s->y_near + fmaxf(1.5f, hh * 0.012f), &curb);
  for (int i = 0; i < s->n_items; i++) {
    const sy_item *it = &s->items[i];
    float sx = it->x + it->vx * t - cam_x;
    if (sx < -it->size * 3 || sx > w + it->size * 3)
      continue;
    sy_item moved_item = *it;
    moved_item.y = it->y + tl * (sx - 0.5f * w);
    sy_draw_item(&moved_item, sx, c);
  }
}
