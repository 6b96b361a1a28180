/* One detector and one context for the commands that run a detection model over images (nala det,
 * nala eval coco --config, nala bench det): build from a config (+ --cfg-options) and weights (the
 * file given, else seeded), re-plan when the frame size changes, read the
 * detections of each frame, and add up the per-stage times the context reports. */
#ifndef NALA_TOOLS_DET_RUN_H
#define NALA_TOOLS_DET_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "nala/config.h"
#include "nala/detector.h"
#include "nala/image_io.h"

#define DET_RUN_MAX_STAGES 16

typedef struct det_run_opts {
  const char *config;
  const char *weights;                 /* NULL: seeded weights (seed) */
  const char *const *overrides;        /* --cfg-options */
  int n_overrides;
  uint64_t seed;                       /* seeded weights */
  int threads;
  nala_isa isa;
} det_run_opts;

typedef struct det_run {
  nala_config *cfg;
  nala_detector *model;
  nala_det_ctx *ctx;
  nala_det_input input;
  int plan_h, plan_w;
  nala_detection *dets; /* of the last frame */
  int n_dets, cap_dets;
  /* Sums over the frames run so far, per stage name the context reports. */
  const char *stage_names[DET_RUN_MAX_STAGES];
  double stage_ms[DET_RUN_MAX_STAGES];
  int n_stages;
  double plan_ms, forward_ms;
  long frames;
  int profiling; /* 1 (default): per-stage times of every forward; 0: none (timed bench runs) */
} det_run;

/* Loads the config, the weights and builds model + context (profiling on: each forward's stages are
 * added to stage_ms; the context's counters are reset before each forward, so they hold that one). Prints the error
 * ("<cmd>: ...") and returns 1 on failure. */
int det_run_open(const char *cmd, const det_run_opts *o, det_run *r);

void det_run_close(det_run *r);

/* Class names for labels: the config's dataset.classes, else COCO's 80 when the model has 80 classes,
 * else NULL; *n gets the count. */
const char *const *det_run_class_names(const det_run *r, int *n);

/* Plans (when the size or kind changed) and runs one BGR frame, then reads its detections into
 * r->dets / r->n_dets and adds the stage times. */
nala_status det_run_frame(det_run *r, const nala_image *img, nala_err *err);

/* Same for a normalised float32 NCHW [1,3,h,w] tensor (nala bench det). */
nala_status det_run_tensor(det_run *r, const float *nchw, int h, int w, nala_err *err);

/* "  preprocess 1.2 ms  backbone ... " mean per frame over the frames run, one line per stage. */
void det_run_print_stages(const det_run *r, FILE *out, const char *indent);

#endif
