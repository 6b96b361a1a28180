/* nala det: shared between its option parsing and parity dump (tools/cli_det.c) and its
 * image / folder / video / camera runner (tools/cli_det_stream.c). */
#ifndef NALA_TOOLS_CLI_DET_H
#define NALA_TOOLS_CLI_DET_H

#include "nala/isa.h"

#define CLI_DET_MAX_OVERRIDES 32

typedef struct cli_det_opts {
  const char *config;  /* --config (required) */
  const char *weights; /* --weights, NULL: seeded weights (seed 0) */
  const char *input;   /* IMG | DIR | VIDEO | camera:N | X.safetensors (with --dump) */
  const char *out;     /* --out PATH: drawn image / folder / annotated video */
  const char *json;    /* --json results.json (COCO-style detections) */
  const char *dump;    /* --dump OUT.safetensors (parity interface) */
  const char *overrides[CLI_DET_MAX_OVERRIDES]; /* --cfg-options KEY=VALUE ... */
  int n_overrides;
  double score_thr;    /* --score-thr for drawing, default 0.3 */
  int threads;         /* --threads, 0 = all cores */
  int limit;           /* --limit N frames / images, 0 = all */
  int no_progress;     /* --no-progress */
  nala_isa isa;        /* --isa */
} cli_det_opts;

/* Runs `nala det` on an image, a folder, a video file or a camera (o->dump unset); returns the
 * exit code (tools/cli.h). */
int cli_det_stream(const cli_det_opts *o);

#endif
