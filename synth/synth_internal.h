/* Internal pieces of the scene generators (synth/): a seeded RNG, value-noise textures, a scanline
 * polygon rasteriser over an RGB + label + instance canvas, and the street scene shared by
 * `nala synth seg` and `nala synth video`. Nothing here is global: every call takes its state. */
#ifndef NALA_SYNTH_INTERNAL_H
#define NALA_SYNTH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "nala/status.h"

/* ---- rng (synth_rng.c): splitmix64, one state per image so images are independent of order ---- */
typedef struct sy_rng {
  uint64_t s;
} sy_rng;

/* A generator for item `index` of a run seeded with `seed` (stream keeps uses apart). */
sy_rng sy_rng_make(uint64_t seed, uint64_t stream, uint64_t index);
uint64_t sy_next(sy_rng *r);
double sy_uniform(sy_rng *r, double lo, double hi); /* [lo, hi) */
int sy_int(sy_rng *r, int lo, int hi);              /* [lo, hi] */
double sy_normal(sy_rng *r);                        /* N(0, 1), Box-Muller */
int sy_chance(sy_rng *r, double p);                 /* 1 with probability p */

/* ---- textures (synth_texture.c) ---- */
typedef enum sy_tex_kind {
  SY_TEX_FLAT,    /* base colour with value-noise grain */
  SY_TEX_SKY,     /* vertical gradient base -> base2 plus thresholded cloud noise (color2) */
  SY_TEX_WINDOWS, /* facade (base) with a grid of windows (base2), cell p1 x p2 pixels */
  SY_TEX_TILES,   /* paving: base with darker joints every p1 pixels */
  SY_TEX_FOLIAGE, /* strong two-colour noise between base and base2 */
  SY_TEX_STRIPES  /* horizontal stripes of period p1 between base and base2 */
} sy_tex_kind;

typedef struct sy_tex {
  sy_tex_kind kind;
  float base[3], base2[3]; /* RGB 0..255 */
  float amp;               /* grain amplitude (fraction of the colour) */
  float scale;             /* noise feature size in pixels */
  float p1, p2;            /* kind-specific */
  float ox, oy;            /* texture origin, so a texture moves with its object */
  uint32_t seed;
} sy_tex;

/* Colour of tex at canvas pixel (x, y) into rgb[3]. */
void sy_tex_color(const sy_tex *tex, float x, float y, float rgb[3]);
/* Fractal value noise in [0, 1) (3 octaves) at (x, y) of feature size 1. */
float sy_fbm(float x, float y, uint32_t seed);

/* ---- canvas and raster (synth_raster.c) ---- */
typedef struct sy_canvas {
  int h, w;
  float *rgb;      /* h*w*3 floats, RGB */
  uint8_t *label;  /* h*w class labels, or NULL */
  uint16_t *inst;  /* h*w instance ids (0 = background), or NULL */
} sy_canvas;

/* What a filled shape writes: colour from tex (or a multiply by shade when tex is NULL: shadows,
 * which leave labels alone), plus label (when write_label) and inst (when inst > 0). */
typedef struct sy_paint {
  const sy_tex *tex;
  float shade;
  int write_label;
  uint8_t label;
  uint16_t inst;
} sy_paint;

nala_status sy_canvas_alloc(sy_canvas *c, int h, int w, int with_label, int with_inst, nala_err *err);
void sy_canvas_free(sy_canvas *c);

enum { SY_MAX_POLY = 96 };
/* Fills the polygon of n points (xy interleaved, n <= SY_MAX_POLY): pixel (x, y) is inside when its
 * centre (x+0.5, y+0.5) is (even-odd rule). Returns the number of pixels painted. */
long sy_fill_poly(sy_canvas *c, const float *xy, int n, const sy_paint *p);
long sy_fill_rect(sy_canvas *c, float x0, float y0, float x1, float y1, const sy_paint *p);
/* Ellipse centred at (cx, cy) with radii rx, ry rotated by angle (radians), as a 48-gon. */
long sy_fill_ellipse(sy_canvas *c, float cx, float cy, float rx, float ry, float angle, const sy_paint *p);
/* Quadrilateral / thick line from (x0,y0) to (x1,y1) of width wd. */
long sy_fill_line(sy_canvas *c, float x0, float y0, float x1, float y1, float wd, const sy_paint *p);

/* Camera response: colour gain g (per channel), a horizontal light gradient grad, a vignette,
 * Gaussian noise of sigma (0..255 units, from rng), then rounding to 8-bit RGB into out (h*w*3). */
typedef struct sy_light {
  float gain[3];
  float grad;     /* brightness changes by +-grad from left to right */
  float vignette; /* darkening at the corners, 0..1 */
  float noise;    /* Gaussian sigma */
} sy_light;
void sy_develop(const sy_canvas *c, const sy_light *light, sy_rng *rng, uint8_t *out);

/* ---- street scene (synth_street.c, synth_street_draw.c) ---- */
enum {
  SY_SKY = 1, SY_BUILDING, SY_ROAD, SY_SIDEWALK, SY_VEGETATION, SY_TERRAIN, SY_CAR, SY_PERSON, SY_POLE,
  SY_SIGN, SY_NUM_CLASSES = 10 /* labels 1..10 in the PNGs; 0 is never written (reduce_zero_label) */
};

typedef enum sy_item_kind { SY_IT_TREE, SY_IT_HEDGE, SY_IT_CAR, SY_IT_PERSON, SY_IT_POLE, SY_IT_LAMP, SY_IT_SIGN } sy_item_kind;

typedef struct sy_item {
  sy_item_kind kind;
  float x, y;    /* world x of the centre, y of the ground contact */
  float size;    /* height in pixels */
  float vx;      /* world pixels per frame (video) */
  float aspect;  /* width / height where it applies */
  int variant;
  sy_tex tex, tex2, tex3;
} sy_item;

typedef struct sy_building {
  float x0, x1, top;
  sy_tex tex;
  int far; /* far row: drawn first, hazier */
} sy_building;

enum { SY_MAX_ITEMS = 320, SY_MAX_BUILDINGS = 96 };

typedef struct sy_street {
  int h;
  float world_w;
  float y_base;      /* building base (top of the far sidewalk or terrain) */
  float y_far_walk;  /* far sidewalk top (== y_base when no terrain strip) */
  float y_road;      /* road top */
  float y_near;      /* near sidewalk top (road bottom) */
  int near_terrain;  /* near band is grass instead of sidewalk */
  float tilt;        /* band boundaries slope, pixels per pixel */
  sy_tex sky, far_walk, terrain, road, near_walk, marking;
  float lane_y, dash, gap;
  sy_building buildings[SY_MAX_BUILDINGS];
  int n_buildings;
  sy_item items[SY_MAX_ITEMS];
  int n_items;
  sy_light light;
} sy_street;

/* Lays out a random street h pixels high and world_w wide (object count scales with width). */
void sy_street_build(sy_street *s, int h, float world_w, sy_rng *rng);
/* Draws the street seen through a window starting at world x cam_x at frame t (moving items move
 * by vx*t) onto c (c->w wide); labels go to c->label. */
void sy_street_draw(const sy_street *s, float cam_x, float t, sy_canvas *c);
/* One item (synth_street_draw.c) at screen position (sx, item->y). */
void sy_draw_item(const sy_item *it, float sx, sy_canvas *c);

/* ---- shared file helpers (synth_files.c) ---- */
nala_status sy_mkdirs(const char *path, nala_err *err); /* mkdir -p */
/* Writes h x w x 3 RGB bytes as PNG/JPEG by extension. */
nala_status sy_write_rgb(const char *path, const uint8_t *rgb, int h, int w, nala_err *err);
nala_status sy_write_gray(const char *path, const uint8_t *g, int h, int w, nala_err *err);

/* Class names and palette (RGB) of the street scenes, index = label - 1. */
extern const char *const sy_street_classes[SY_NUM_CLASSES];
extern const uint8_t sy_street_palette[SY_NUM_CLASSES][3];

#endif
