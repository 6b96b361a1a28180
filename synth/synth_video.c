/* `nala synth video`: one street (synth_street.c) wider than the frame, filmed by a camera panning
 * from its left end to its right end while cars and people move; frame i's label map is the exact
 * rasterisation of what frame i shows (before the codec's compression). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/image_io.h"
#include "nala/synth.h"
#include "synth/synth_internal.h"

enum { SEED_STREAM_VIDEO = 3 };
#define PAN 1.5f /* the street is (1 + PAN) frame widths long */

nala_status nala_synth_video_write(const char *path, const char *labels_dir, int frames, int h, int w, uint64_t seed,
                                   double fps, nala_err *err) {
  if (frames < 1 || h < 16 || w < 16 || (h & 1) || (w & 1) || !(fps > 0))
    return nala_fail(err, NALA_E_ARG, "synth video: need frames >= 1, an even size >= 16x16 and fps > 0 (got %d, %dx%d, %g)",
                     frames, h, w, fps);
  nala_status st = labels_dir ? sy_mkdirs(labels_dir, err) : NALA_OK;
  if (st != NALA_OK)
    return st;
  sy_street *s = malloc(sizeof *s);
  uint8_t *rgb = malloc((size_t)h * (size_t)w * 3);
  sy_canvas c = {0};
  nala_video_writer *vw = NULL;
  if (!s || !rgb)
    st = nala_fail(err, NALA_E_NOMEM, "synth video: out of memory");
  if (st == NALA_OK)
    st = sy_canvas_alloc(&c, h, w, 1, 0, err);
  if (st == NALA_OK)
    st = nala_video_writer_open(path, w, h, fps, NULL, &vw, err);
  if (st == NALA_OK) {
    sy_rng r = sy_rng_make(seed, SEED_STREAM_VIDEO, 0);
    float world = (float)w * (1 + PAN);
    sy_street_build(s, h, world, &r);
  }
  for (int f = 0; st == NALA_OK && f < frames; f++) {
    float cam = frames > 1 ? (float)w * PAN * (float)f / (float)(frames - 1) : 0;
    sy_street_draw(s, cam, (float)f, &c);
    sy_rng noise = sy_rng_make(seed, SEED_STREAM_VIDEO, (uint64_t)f + 1);
    sy_develop(&c, &s->light, &noise, rgb);
    nala_image frame = {h, w, 3, (size_t)w * 3, rgb, NALA_RGB};
    st = nala_video_write(vw, &frame, err);
    if (st == NALA_OK && labels_dir) {
      char lp[4200];
      snprintf(lp, sizeof lp, "%s/%06d.png", labels_dir, f);
      st = sy_write_gray(lp, c.label, h, w, err);
    }
  }
  if (st == NALA_OK) {
    st = nala_video_writer_close(vw, err);
  } else {
    nala_video_writer_abort(vw);
  }
  sy_canvas_free(&c);
  free(rgb);
  free(s);
  return st;
}
