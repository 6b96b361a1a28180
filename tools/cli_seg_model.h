/* One segmentor, one context and the label buffer, as `nala seg` and `nala eval seg` run them on
 * images of any size: the plan follows the image size (replanned only when it changes). */
#ifndef NALA_TOOLS_CLI_SEG_MODEL_H
#define NALA_TOOLS_CLI_SEG_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "nala/config.h"
#include "nala/image_io.h"
#include "nala/isa.h"
#include "nala/segmentor.h"
#include "nala/status.h"

typedef struct cli_seg_model {
  nala_config *cfg;
  nala_segmentor *model;
  nala_seg_ctx *ctx;
  int num_classes;
  int plan_h, plan_w;  /* size of the current plan, 0 before the first */
  int plans;           /* plans made */
  double plan_ms;      /* time spent planning */
  uint8_t *labels;     /* plan_h x plan_w labels of the last frame, dense rows */
  size_t labels_cap;
  int seeded;          /* no weights file: seeded random weights (seed 0) */
} cli_seg_model;

/* Loads config (with --cfg-options overrides) and the weights (NULL: seeded, seed 0) and builds the
 * segmentor. Prints the error prefixed by cmd and returns 0 on failure (nothing kept), 1 on success. */
int cli_seg_load(const char *cmd, const char *config, const char *const *overrides, int n_overrides,
                 const char *weights, nala_isa isa, nala_config **cfg_out, nala_segmentor **model_out);

/* Loads config (with --cfg-options overrides), the weights (NULL: seeded, seed 0) and makes a
 * context of threads threads with profiling on. Prints the error prefixed by cmd and returns 0 on
 * failure (everything released), 1 on success. */
int cli_seg_model_open(cli_seg_model *s, const char *cmd, const char *config, const char *const *overrides,
                       int n_overrides, const char *weights, int threads, nala_isa isa);

/* Segments one 3-channel image (replanning when its size differs from the plan); the labels are
 * then in s->labels (img->h x img->w, stride img->w). */
nala_status cli_seg_model_run(cli_seg_model *s, const nala_image *img, nala_err *err);

/* Releases everything; safe on a zeroed or failed struct. */
void cli_seg_model_close(cli_seg_model *s);

#endif
