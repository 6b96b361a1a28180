/* Writes a synthetic test clip for bench/seg_video.sh: make_clip OUT.mp4 W H FRAMES FPS. A moving
 * smooth pattern with texture, so the codecs and the model see changing content frame to frame. */
#include <stdio.h>
#include <stdlib.h>

#include "nala/image_io.h"

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: make_clip OUT.mp4 W H FRAMES FPS\n");
    return 2;
  }
  int w = atoi(argv[2]), h = atoi(argv[3]), frames = atoi(argv[4]);
  double fps = atof(argv[5]);
  nala_err err;
  nala_video_writer *vw = NULL;
  nala_image img;
  if (w < 1 || h < 1 || frames < 1 || nala_image_alloc(h, w, 3, NALA_BGR, &img, &err) != NALA_OK ||
      nala_video_writer_open(argv[1], w, h, fps, NULL, &vw, &err) != NALA_OK) {
    fprintf(stderr, "make_clip: %s\n", w < 1 || h < 1 || frames < 1 ? "bad size or frame count" : err.msg);
    return 1;
  }
  for (int k = 0; k < frames; k++) {
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        unsigned char *p = img.data + (size_t)y * img.stride + 3 * (size_t)x;
        p[0] = (unsigned char)((x + 3 * k) * 255 / w);
        p[1] = (unsigned char)((y + 2 * k) * 255 / h);
        p[2] = (unsigned char)(((x / 16 + y / 16 + k / 8) & 1) ? 200 : 60);
      }
    if (nala_video_write(vw, &img, &err) != NALA_OK) {
      fprintf(stderr, "make_clip: %s\n", err.msg);
      nala_video_writer_abort(vw);
      return 1;
    }
  }
  nala_image_free(&img);
  if (nala_video_writer_close(vw, &err) != NALA_OK) {
    fprintf(stderr, "make_clip: %s\n", err.msg);
    return 1;
  }
  return 0;
}
