/* Scanline polygon fill over the synth canvas. A pixel belongs to a shape when its centre is inside
 * (even-odd rule), so the label map is exactly the set of pixels whose colour the shape wrote: no
 * anti-aliasing, no pixel whose colour and label disagree. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synth/synth_internal.h"

nala_status sy_canvas_alloc(sy_canvas *c, int h, int w, int with_label, int with_inst, nala_err *err) {
  memset(c, 0, sizeof *c);
  c->h = h, c->w = w;
  size_t n = (size_t)h * (size_t)w;
  c->rgb = calloc(n * 3, sizeof *c->rgb);
  c->label = with_label ? calloc(n, 1) : NULL;
  c->inst = with_inst ? calloc(n, sizeof *c->inst) : NULL;
  if (!c->rgb || (with_label && !c->label) || (with_inst && !c->inst)) {
    sy_canvas_free(c);
    return nala_fail(err, NALA_E_NOMEM, "synth: out of memory for a %dx%d canvas", h, w);
  }
  return NALA_OK;
}

void sy_canvas_free(sy_canvas *c) {
  free(c->rgb);
  free(c->label);
  free(c->inst);
  memset(c, 0, sizeof *c);
}

static void put(sy_canvas *c, int x, int y, const sy_paint *p) {
  size_t i = (size_t)y * (size_t)c->w + (size_t)x;
  float *px = c->rgb + 3 * i;
  if (p->tex) {
    sy_tex_color(p->tex, (float)x + 0.5f, (float)y + 0.5f, px);
  } else {
    px[0] *= p->shade, px[1] *= p->shade, px[2] *= p->shade;
  }
  if (p->write_label && c->label)
    c->label[i] = p->label;
  if (p->inst && c->inst)
    c->inst[i] = p->inst;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

long sy_fill_poly(sy_canvas *c, const float *xy, int n, const sy_paint *p) {
  if (n < 3 || n > SY_MAX_POLY)
    return 0;
  float ymin = xy[1], ymax = xy[1];
  for (int i = 1; i < n; i++)
    ymin = fminf(ymin, xy[2 * i + 1]), ymax = fmaxf(ymax, xy[2 * i + 1]);
  int y0 = (int)fmaxf(0.0f, floorf(ymin - 0.5f)), y1 = (int)fminf((float)c->h - 1, ceilf(ymax));
  long painted = 0;
  float xs[SY_MAX_POLY];
  for (int y = y0; y <= y1; y++) {
    float cy = (float)y + 0.5f;
    int k = 0;
    for (int i = 0, j = n - 1; i < n; j = i++) {
      float xi = xy[2 * i], yi = xy[2 * i + 1], xj = xy[2 * j], yj = xy[2 * j + 1];
      if ((yi > cy) != (yj > cy))
        xs[k++] = xi + (cy - yi) * (xj - xi) / (yj - yi);
    }
    qsort(xs, (size_t)k, sizeof *xs, cmp_float);
    for (int m = 0; m + 1 < k; m += 2) {
      /* pixels whose centre x+0.5 lies in [xs[m], xs[m+1]) */
      int xa = (int)ceilf(xs[m] - 0.5f), xb = (int)ceilf(xs[m + 1] - 0.5f) - 1;
      if (xa < 0)
        xa = 0;
      if (xb > c->w - 1)
        xb = c->w - 1;
      for (int x = xa; x <= xb; x++)
        put(c, x, y, p);
      if (xb >= xa)
        painted += xb - xa + 1;
    }
  }
  return painted;
}

long sy_fill_rect(sy_canvas *c, float x0, float y0, float x1, float y1, const sy_paint *p) {
  float xy[8] = {x0, y0, x1, y0, x1, y1, x0, y1};
  return sy_fill_poly(c, xy, 4, p);
}

long sy_fill_ellipse(sy_canvas *c, float cx, float cy, float rx, float ry, float angle, const sy_paint *p) {
  enum { K = 48 };
  float xy[2 * K], ca = cosf(angle), sa = sinf(angle);
  for (int i = 0; i < K; i++) {
    float t = 6.2831853f * (float)i / K, ex = rx * cosf(t), ey = ry * sinf(t);
    xy[2 * i] = cx + ca * ex - sa * ey;
    xy[2 * i + 1] = cy + sa * ex + ca * ey;
  }
  return sy_fill_poly(c, xy, K, p);
}

long sy_fill_line(sy_canvas *c, float x0, float y0, float x1, float y1, float wd, const sy_paint *p) {
  float dx = x1 - x0, dy = y1 - y0, len = sqrtf(dx * dx + dy * dy);
  if (len <= 0)
    return 0;
  float nx = -dy / len * 0.5f * wd, ny = dx / len * 0.5f * wd;
  float xy[8] = {x0 + nx, y0 + ny, x1 + nx, y1 + ny, x1 - nx, y1 - ny, x0 - nx, y0 - ny};
  return sy_fill_poly(c, xy, 4, p);
}

void sy_develop(const sy_canvas *c, const sy_light *l, sy_rng *rng, uint8_t *out) {
  float cxm = 0.5f * (float)c->w, cym = 0.5f * (float)c->h;
  float rmax2 = cxm * cxm + cym * cym;
  for (int y = 0; y < c->h; y++) {
    for (int x = 0; x < c->w; x++) {
      size_t i = (size_t)y * (size_t)c->w + (size_t)x;
      float dx = (float)x + 0.5f - cxm, dy = (float)y + 0.5f - cym;
      float b = (1.0f + l->grad * (2.0f * ((float)x + 0.5f) / (float)c->w - 1.0f)) *
                (1.0f - l->vignette * (dx * dx + dy * dy) / rmax2);
      for (int k = 0; k < 3; k++) {
        float v = c->rgb[3 * i + k] * l->gain[k] * b;
        if (l->noise > 0)
          v += l->noise * (float)sy_normal(rng);
        v = v < 0 ? 0 : v > 255 ? 255 : v;
        out[3 * i + k] = (uint8_t)lrintf(v);
      }
    }
  }
}
