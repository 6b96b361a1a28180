/* NMS and RoIAlign alone (det/nms.c, det/roi_align.c) on seeded boxes, for bench/nms_roi.sh, which
 * runs torchvision.ops on the same boxes (written with --dump) and prints the ratios.
 *
 *   nms_roi [--runs R] [--threads T] [--size HxW] [--channels C] [--dump DIR]
 *
 * Cases: nms (1000 proposals, one class, IoU 0.7: the RPN's), batched_nms (1000 boxes, 80 class ids,
 * IoU 0.5: multiclass NMS), roi7 (1000 proposals, 7x7 over P2..P5 of an HxW image, mmdet's level
 * mapping: the box head), roi14 (the 100 best-scored boxes, 14x14: the mask head). Boxes: 40 objects
 * (centres uniform in the image, sides log-uniform in [8, 512]), each proposal one of them with its
 * centre moved by up to 15% and its sides scaled by 0.7..1.3, clipped; scores distinct. Feature maps are
 * seeded noise, channel-last as nala keeps them. Last line:
 *   nms_us=<x> batched_nms_us=<y> roi7_us=<z> roi14_us=<w> nms_keep=<k> batched_keep=<k2>
 * Exit codes: 0 success, 1 failure, 2 bad arguments. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "det/det.h"

enum { N_PROPOSALS = 1000, N_DETS = 100, N_LEVELS = 4, N_CLASSES = 80 };

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double uniform(void) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(rng >> 11) * (1.0 / 9007199254740992.0);
}

static int write_file(const char *dir, const char *name, const void *data, size_t bytes) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, bytes, f) != bytes) {
    fprintf(stderr, "nms_roi: cannot write %s\n", path);
    if (f)
      fclose(f);
    return 1;
  }
  return fclose(f) != 0;
}

static void usage(FILE *out) {
  fprintf(out, "usage: nms_roi [--runs R] [--threads T] [--size HxW] [--channels C] [--dump DIR]\n"
               "times nala's NMS and RoIAlign alone (1000 proposals, 100 detections); default R=50, T=1,\n"
               "800x1088, C=256\n");
}

int main(int argc, char **argv) {
  int runs = 50, threads = 1, h = 800, w = 1088, c = 256;
  const char *dump = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    }
    if (!v) {
      usage(stderr);
      return 2;
    }
    if (!strcmp(a, "--runs"))
      runs = atoi(v);
    else if (!strcmp(a, "--threads"))
      threads = atoi(v);
    else if (!strcmp(a, "--channels"))
      c = atoi(v);
    else if (!strcmp(a, "--size")) {
      if (sscanf(v, "%dx%d", &h, &w) != 2)
        h = 0;
    } else if (!strcmp(a, "--dump"))
      dump = v;
    else {
      usage(stderr);
      return 2;
    }
    i++;
  }
  if (runs < 1 || runs > 100000 || threads < 1 || threads > 4096 || c < 1 || c > 4096 || h < 64 || w < 64 ||
      h > 8192 || w > 8192) {
    usage(stderr);
    return 2;
  }
  float boxes[N_PROPOSALS][4], scores[N_PROPOSALS], dets[N_DETS][4];
  int32_t ids[N_PROPOSALS], keep[N_PROPOSALS];
  /* Proposals crowd around objects, as an RPN's do: 40 objects, each box one of them jittered. */
  double obj[40][4];
  for (int o = 0; o < 40; o++)
    obj[o][0] = uniform() * w, obj[o][1] = uniform() * h, obj[o][2] = 8 * pow(64, uniform()),
    obj[o][3] = 8 * pow(64, uniform());
  for (int i = 0; i < N_PROPOSALS; i++) {
    const double *ob = obj[(int)(uniform() * 40)];
    double bw = ob[2] * (0.7 + 0.6 * uniform()), bh = ob[3] * (0.7 + 0.6 * uniform());
    double cx = ob[0] + (uniform() - 0.5) * 0.3 * ob[2], cy = ob[1] + (uniform() - 0.5) * 0.3 * ob[3];
    boxes[i][0] = (float)fmax(0, cx - bw / 2), boxes[i][1] = (float)fmax(0, cy - bh / 2);
    boxes[i][2] = (float)fmin(w, cx + bw / 2), boxes[i][3] = (float)fmin(h, cy + bh / 2);
    scores[i] = (float)(0.05 + 0.9 * (i + uniform() * 0.5) / N_PROPOSALS); /* distinct */
    ids[i] = (int32_t)(uniform() * N_CLASSES);
  }
  /* The 100 best-scored boxes are the "detections" (scores rise with the index). */
  for (int i = 0; i < N_DETS; i++)
    memcpy(dets[i], boxes[N_PROPOSALS - 1 - i], sizeof dets[i]);
  /* P2..P5 maps (strides 4..32), channel-last. */
  nala_det_feat levels[N_LEVELS];
  float *maps[N_LEVELS] = {0};
  int fail = 0;
  for (int l = 0; l < N_LEVELS; l++) {
    int s = 4 << l, fh = (h + s - 1) / s, fw = (w + s - 1) / s;
    size_t n = (size_t)fh * fw * c;
    maps[l] = malloc(n * sizeof(float));
    if (!maps[l]) {
      fail = 1;
      break;
    }
    for (size_t k = 0; k < n; k++)
      maps[l][k] = (float)(uniform() - 0.5);
    levels[l] = (nala_det_feat){maps[l], fh, fw, c, 1.0f / (float)s};
  }
  size_t nms_ws = nala_det_nms_ws_size(N_PROPOSALS), roi_ws = nala_det_roi_align_ws_floats(c, threads);
  void *ws = malloc(nms_ws);
  float *rws = malloc(roi_ws * sizeof(float));
  float *out7 = malloc((size_t)N_PROPOSALS * c * 49 * sizeof(float));
  float *out14 = malloc((size_t)N_DETS * c * 196 * sizeof(float));
  double *t = malloc((size_t)runs * sizeof(double));
  if (fail || !ws || !rws || !out7 || !out14 || !t) {
    fprintf(stderr, "nms_roi: out of memory\n");
    return 1;
  }
  nala_err err;
  nala_err_clear(&err);
  double med[4];
  size_t n_keep[2] = {0, 0};
  nala_det_nms_cfg bcfg = nala_det_nms_default(0.5f);
  for (int k = 0; k < 4; k++) {
    for (int r = -2; r < runs; r++) { /* two warm-ups */
      double t0 = now_us();
      nala_status st;
      if (k == 0)
        st = nala_det_nms(&boxes[0][0], scores, N_PROPOSALS, 0.7f, 0, keep, &n_keep[0], ws, nms_ws, &err);
      else if (k == 1)
        st = nala_det_batched_nms(&boxes[0][0], scores, ids, N_PROPOSALS, &bcfg, keep, &n_keep[1], ws, nms_ws, &err);
      else if (k == 2)
        st = nala_det_roi_align_levels(levels, N_LEVELS, 56.0f, &boxes[0][0], N_PROPOSALS, 7, 7, 0, out7, NULL,
                                       threads, rws, roi_ws, &err);
      else
        st = nala_det_roi_align_levels(levels, N_LEVELS, 56.0f, &dets[0][0], N_DETS, 14, 14, 0, out14, NULL, threads,
                                       rws, roi_ws, &err);
      if (st != NALA_OK) {
        fprintf(stderr, "nms_roi: %s\n", err.msg);
        return 1;
      }
      if (r >= 0)
        t[r] = now_us() - t0;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    med[k] = t[runs / 2];
  }
  if (dump && (write_file(dump, "boxes.f32", boxes, sizeof boxes) || write_file(dump, "scores.f32", scores, sizeof scores) ||
               write_file(dump, "ids.i32", ids, sizeof ids) || write_file(dump, "dets.f32", dets, sizeof dets)))
    return 1;
  printf("size %dx%d  channels %d  threads %d  runs %d (median)\n", h, w, c, threads, runs);
  printf("  nms          1000 boxes, IoU 0.7          %9.1f us  (%zu kept)\n", med[0], n_keep[0]);
  printf("  batched_nms  1000 boxes, 80 ids, IoU 0.5  %9.1f us  (%zu kept)\n", med[1], n_keep[1]);
  printf("  roi7         1000 RoIs, 7x7, P2..P5       %9.1f us\n", med[2]);
  printf("  roi14        100 RoIs, 14x14, P2..P5      %9.1f us\n", med[3]);
  printf("nms_us=%.1f batched_nms_us=%.1f roi7_us=%.1f roi14_us=%.1f nms_keep=%zu batched_keep=%zu\n", med[0], med[1],
         med[2], med[3], n_keep[0], n_keep[1]);
  for (int l = 0; l < N_LEVELS; l++)
    free(maps[l]);
  free(ws);
  free(rws);
  free(out7);
  free(out14);
  free(t);
  return 0;
}
