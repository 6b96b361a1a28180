/* The segmentor as the seg commands drive it (tools/cli_seg_model.h). */
#include "tools/cli_seg_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/weights.h"
#include "tools/cli_timing.h"

int cli_seg_load(const char *cmd, const char *config, const char *const *overrides, int n_overrides,
                 const char *weights, nala_isa isa, nala_config **cfg_out, nala_segmentor **model_out) {
  nala_err err;
  nala_err_clear(&err);
  *cfg_out = NULL;
  *model_out = NULL;
  nala_config *cfg = NULL;
  nala_weights *w = NULL;
  nala_segmentor *m = NULL;
  nala_status st = nala_config_load_with(config, overrides, n_overrides, &cfg, &err);
  if (st == NALA_OK)
    st = weights ? nala_weights_open(weights, &w, &err) : nala_weights_seeded(0, &w, &err);
  nala_segmentor_opts opts = {.isa = isa};
  if (st == NALA_OK)
    st = nala_segmentor_create(cfg, w, &opts, &m, &err);
  nala_weights_close(w);
  if (st != NALA_OK) {
    fprintf(stderr, "%s: %s\n", cmd, err.msg);
    nala_config_free(cfg);
    return 0;
  }
  *cfg_out = cfg;
  *model_out = m;
  return 1;
}

int cli_seg_model_open(cli_seg_model *s, const char *cmd, const char *config, const char *const *overrides,
                       int n_overrides, const char *weights, int threads, nala_isa isa) {
  memset(s, 0, sizeof *s);
  nala_err err;
  nala_err_clear(&err);
  if (!cli_seg_load(cmd, config, overrides, n_overrides, weights, isa, &s->cfg, &s->model))
    return 0;
  if (nala_seg_ctx_create(s->model, threads, &s->ctx, &err) != NALA_OK) {
    fprintf(stderr, "%s: %s\n", cmd, err.msg);
    cli_seg_model_close(s);
    return 0;
  }
  s->seeded = weights == NULL;
  s->num_classes = nala_segmentor_num_classes(s->model);
  nala_seg_ctx_set_profiling(s->ctx, 1);
  return 1;
}

nala_status cli_seg_model_run(cli_seg_model *s, const nala_image *img, nala_err *err) {
  if (img->h != s->plan_h || img->w != s->plan_w) {
    size_t need = (size_t)img->h * (size_t)img->w;
    if (need > s->labels_cap) {
      uint8_t *grown = realloc(s->labels, need);
      if (!grown)
        return nala_fail(err, NALA_E_NOMEM, "no memory for a %dx%d label map", img->h, img->w);
      s->labels = grown;
      s->labels_cap = need;
    }
    double t0 = cli_now_ms();
    s->plan_h = s->plan_w = 0;
    NALA_CHECK(nala_seg_plan(s->ctx, NALA_SEG_FRAME, img->h, img->w, err));
    s->plan_ms += cli_now_ms() - t0;
    s->plans++;
    s->plan_h = img->h;
    s->plan_w = img->w;
  }
  NALA_CHECK(nala_seg_forward_frame(s->ctx, img, err));
  return nala_seg_read_labels(s->ctx, s->labels, s->labels_cap, err);
}

void cli_seg_model_close(cli_seg_model *s) {
  nala_seg_ctx_free(s->ctx);
  nala_segmentor_free(s->model);
  nala_config_free(s->cfg);
  free(s->labels);
  memset(s, 0, sizeof *s);
}
