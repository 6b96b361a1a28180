/* nala seg: shared between its option parsing and parity dump (tools/cli_seg.c) and its
 * image / folder / video / camera runner (tools/cli_seg_stream.c). */
#ifndef NALA_TOOLS_CLI_SEG_H
#define NALA_TOOLS_CLI_SEG_H

#include "nala/isa.h"

#define CLI_SEG_MAX_OVERRIDES 32

typedef struct cli_seg_opts {
  const char *config;  /* --config (required) */
  const char *weights; /* --weights, NULL: seeded weights (seed 0) */
  const char *input;   /* IMG | DIR | VIDEO | camera:N | X.safetensors (with --dump) */
  const char *out;     /* --out PATH: label PNG / folder / overlay video */
  const char *dump;    /* --dump OUT.safetensors (parity interface) */
  const char *overrides[CLI_SEG_MAX_OVERRIDES]; /* --cfg-options KEY=VALUE ... */
  int n_overrides;
  const char *contact_sheet; /* --contact-sheet PATH.png (video / camera input) */
  int sheet_frames;    /* --sheet-frames N rows of the contact sheet, default 4 */
  int sheet_width;     /* --sheet-width W: widest tile, default 320 */
  const char *labels_dir; /* --labels-dir DIR: video / camera frame i's label PNG as DIR/NNNNNN.png */
  int overlay;         /* --overlay */
  double opacity;      /* --opacity, default 0.5 */
  int threads;         /* --threads, 0 = all cores */
  int limit;           /* --limit N frames / images, 0 = all */
  int no_progress;     /* --no-progress */
  nala_isa isa;        /* --isa */
} cli_seg_opts;

struct nala_config;
struct nala_segmentor;

/* Loads o->config with o->overrides and builds the segmentor on o->weights (seeded weights, seed 0,
 * when NULL) at o->isa. Prints the error; returns the exit code (NALA_EXIT_OK with both set). */
int cli_seg_build(const cli_seg_opts *o, struct nala_config **cfg, struct nala_segmentor **model);

/* Runs `nala seg` on an image, a folder, a video file or a camera (o->dump unset); returns the
 * exit code (tools/cli.h). */
int cli_seg_stream(const cli_seg_opts *o);

#endif
