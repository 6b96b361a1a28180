/* Running a detector over frames for the det commands (tools/det_run.h). */
#include "tools/det_run.h"

#include <stdlib.h>
#include <string.h>

#include "nala/weights.h"
#include "tools/cli_timing.h"
#include "tools/det_draw.h"

int det_run_open(const char *cmd, const det_run_opts *o, det_run *r) {
  memset(r, 0, sizeof *r);
  nala_err err;
  nala_err_clear(&err);
  nala_weights *w = NULL;
  nala_status st = nala_config_load_with(o->config, o->overrides, o->n_overrides, &r->cfg, &err);
  /* No --weights: seeded weights, as nala seg (a config's model.backbone.weights is a backbone-only
   * checkpoint, mmdet's init_cfg pretrained, not the detector's). */
  const char *weights = o->weights;
  if (st == NALA_OK && !weights)
    fprintf(stderr, "%s: no --weights: seeded random weights (seed %llu), the detections mean nothing\n", cmd,
            (unsigned long long)o->seed);
  if (st == NALA_OK)
    st = weights ? nala_weights_open(weights, &w, &err) : nala_weights_seeded(o->seed, &w, &err);
  if (st == NALA_OK)
    st = nala_weights_ignore_suffix(w, ".num_batches_tracked");
  nala_detector_opts mo = {.isa = o->isa};
  if (st == NALA_OK)
    st = nala_detector_create(r->cfg, w, &mo, &r->model, &err);
  nala_weights_close(w);
  if (st == NALA_OK)
    st = nala_det_ctx_create(r->model, o->threads, &r->ctx, &err);
  if (st == NALA_OK) {
    r->profiling = 1;
    r->cap_dets = 128;
    r->dets = malloc((size_t)r->cap_dets * sizeof *r->dets);
    if (!r->dets)
      st = nala_fail(&err, NALA_E_NOMEM, "out of memory");
  }
  if (st != NALA_OK) {
    fprintf(stderr, "%s: %s\n", cmd, err.msg);
    det_run_close(r);
    return 1;
  }
  return 0;
}

void det_run_close(det_run *r) {
  nala_det_ctx_free(r->ctx);
  nala_detector_free(r->model);
  nala_config_free(r->cfg);
  free(r->dets);
  memset(r, 0, sizeof *r);
}

const char *const *det_run_class_names(const det_run *r, int *n) {
  const nala_dataset_cfg *d = r->cfg ? nala_config_dataset(r->cfg) : NULL;
  int k = nala_detector_num_classes(r->model);
  if (d && d->n_classes == k) {
    *n = d->n_classes;
    return (const char *const *)d->classes;
  }
  if (k == 80) {
    *n = 80;
    return det_coco_classes;
  }
  *n = 0;
  return NULL;
}

static nala_status plan_for(det_run *r, nala_det_input input, int h, int w, nala_err *err) {
  if (r->frames && input == r->input && h == r->plan_h && w == r->plan_w)
    return NALA_OK;
  double t0 = cli_now_ms();
  NALA_CHECK(nala_det_plan(r->ctx, input, h, w, err));
  r->plan_ms += cli_now_ms() - t0;
  r->input = input, r->plan_h = h, r->plan_w = w;
  return NALA_OK;
}

/* Detections and stage times of the forward just run. */
static nala_status collect(det_run *r, nala_err *err) {
  int n = nala_det_count(r->ctx);
  if (n > r->cap_dets) {
    nala_detection *d = realloc(r->dets, (size_t)n * sizeof *d);
    if (!d)
      return nala_fail(err, NALA_E_NOMEM, "out of memory for %d detections", n);
    r->dets = d, r->cap_dets = n;
  }
  NALA_CHECK(nala_det_read(r->ctx, r->dets, r->cap_dets, &r->n_dets, err));
  const char *names[DET_RUN_MAX_STAGES];
  double ms[DET_RUN_MAX_STAGES];
  int k = r->profiling ? nala_det_profile(r->ctx, names, ms, DET_RUN_MAX_STAGES) : 0;
  for (int i = 0; i < k; i++) {
    int j = 0;
    while (j < r->n_stages && strcmp(r->stage_names[j], names[i]))
      j++;
    if (j == r->n_stages) {
      if (j == DET_RUN_MAX_STAGES)
        continue;
      r->stage_names[r->n_stages++] = names[i]; /* static strings of the library */
      r->stage_ms[j] = 0;
    }
    r->stage_ms[j] += ms[i];
  }
  r->frames++;
  return NALA_OK;
}

nala_status det_run_frame(det_run *r, const nala_image *img, nala_err *err) {
  NALA_CHECK(plan_for(r, NALA_DET_FRAME, img->h, img->w, err));
  nala_det_ctx_set_profiling(r->ctx, r->profiling); /* zeroes the counters: they hold this forward */
  double t0 = cli_now_ms();
  NALA_CHECK(nala_det_forward_frame(r->ctx, img, err));
  r->forward_ms += cli_now_ms() - t0;
  return collect(r, err);
}

nala_status det_run_tensor(det_run *r, const float *nchw, int h, int w, nala_err *err) {
  NALA_CHECK(plan_for(r, NALA_DET_TENSOR, h, w, err));
  nala_det_ctx_set_profiling(r->ctx, r->profiling);
  double t0 = cli_now_ms();
  NALA_CHECK(nala_det_forward_tensor(r->ctx, nchw, err));
  r->forward_ms += cli_now_ms() - t0;
  return collect(r, err);
}

void det_run_print_stages(const det_run *r, FILE *out, const char *indent) {
  if (!r->frames)
    return;
  double sum = 0;
  for (int i = 0; i < r->n_stages; i++)
    sum += r->stage_ms[i];
  for (int i = 0; i < r->n_stages; i++)
    fprintf(out, "%s%-14s %9.2f ms  %5.1f%%\n", indent, r->stage_names[i], r->stage_ms[i] / r->frames,
            sum > 0 ? 100.0 * r->stage_ms[i] / sum : 0.0);
  fprintf(out, "%s%-14s %9.2f ms  (forward, wall clock)\n", indent, "total", r->forward_ms / r->frames);
}
