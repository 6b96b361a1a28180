/* Building the immutable backbone model: read every weight under its prefix, fold BatchNorm into
 * the preceding conv and layerscale gammas into the last linear of each branch, split qkvg, and
 * reorder weights once into the formats oneDNN picks for this CPU. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/internal.h"
#include "core/kernels/rope.h"

typedef struct loader {
  nala_weights *w;
  const nala_rt *rt;
  const char *prefix; /* "backbone" */
  char key[256];
} loader;

static const char *key(loader *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *key(loader *ld, const char *fmt, ...) {
  int n = snprintf(ld->key, sizeof ld->key, "%s.", ld->prefix);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ld->key + n, sizeof ld->key - (size_t)n, fmt, ap);
  va_end(ap);
  return ld->key;
}

static float *take(loader *ld, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
  return nala_take_new(ld->w, name, ndim, d0, d1, d2, d3);
}

/* Conv + bias (+ BatchNorm) under the model prefix; residual: x + conv(x), folded into the centre
 * tap (oneDNN 2.6 runs a depthwise conv with a full-tensor binary add on ref:any, 50x slower, and
 * a sum post-op would need the destination pre-filled with x). */
static nala_status load_conv(loader *ld, nala_layer *L, nala_conv_shape s, const char *conv, const char *bn,
                             int residual, nala_err *err) {
  char conv_key[256], bn_key[256];
  snprintf(conv_key, sizeof conv_key, "%s.%s", ld->prefix, conv);
  if (bn)
    snprintf(bn_key, sizeof bn_key, "%s.%s", ld->prefix, bn);
  return nala_conv_load(ld->rt, ld->w, L, s, conv_key, 1, bn ? bn_key : NULL, residual, err);
}

static nala_status load_ln(loader *ld, nala_ln *ln, int c, float eps, const char *prefix) {
  ln->c = c;
  ln->eps = eps;
  ln->gamma = take(ld, key(ld, "%s.weight", prefix), 1, c, 0, 0, 0);
  ln->beta = take(ld, key(ld, "%s.bias", prefix), 1, c, 0, 0, 0);
  return ln->gamma && ln->beta ? NALA_OK : NALA_E_NOMEM;
}

static nala_status load_block(nala_backbone *m, loader *ld, nala_stage *S, int si, int bi, nala_err *err) {
  nala_block *B = &S->blocks[bi];
  int C = S->dim, F = S->ffn;
  char p[128];
  snprintf(p, sizeof p, "layers.%d.blocks.%d", si, bi);
  B->flag = m->cfg.attn[si][bi];
  char name[200], name2[200];
  nala_conv_shape dw3 = NALA_CONV_SHAPE(C, C, 3, 1, C), dw5 = NALA_CONV_SHAPE(C, C, 5, 1, C);
  nala_conv_shape dwf = NALA_CONV_SHAPE(F, F, 3, 1, F);
  snprintf(name, sizeof name, "%s.cpe1", p);
  NALA_CHECK(load_conv(ld, &B->cpe1, dw3, name, NULL, 1, err));
  snprintf(name, sizeof name, "%s.cpe2", p);
  NALA_CHECK(load_conv(ld, &B->cpe2, dw3, name, NULL, 1, err));
  snprintf(name, sizeof name, "%s.attn.lepe", p);
  NALA_CHECK(load_conv(ld, &B->lepe, dw5, name, NULL, 0, err));
  snprintf(name, sizeof name, "%s.ffn.dwconv", p);
  NALA_CHECK(load_conv(ld, &B->ffn_dw, dwf, name, NULL, 1, err));
  /* LayerNorm2d (norm1, norm2) uses eps 1e-6; attn.ln is a plain nn.LayerNorm, eps 1e-5. */
  snprintf(name, sizeof name, "%s.norm1.norm", p);
  snprintf(name2, sizeof name2, "%s.norm2.norm", p);
  if (load_ln(ld, &B->norm1, C, 1e-6f, name) || load_ln(ld, &B->norm2, C, 1e-6f, name2))
    return nala_fail(err, NALA_E_NOMEM, "out of memory loading %s", p);
  snprintf(name, sizeof name, "%s.attn.ln", p);
  if (load_ln(ld, &B->attn_ln, C, 1e-5f, name))
    return nala_fail(err, NALA_E_NOMEM, "out of memory loading %s", p);

  float *qkvg_w = take(ld, key(ld, "%s.attn.qkvg.weight", p), 2, 4 * C, C, 0, 0);
  float *qkvg_b = take(ld, key(ld, "%s.attn.qkvg.bias", p), 1, 4 * C, 0, 0, 0);
  float *out_w = take(ld, key(ld, "%s.attn.out_proj.weight", p), 2, C, C, 0, 0);
  float *out_b = take(ld, key(ld, "%s.attn.out_proj.bias", p), 1, C, 0, 0, 0);
  float *fc1_w = take(ld, key(ld, "%s.ffn.fc1.weight", p), 2, F, C, 0, 0);
  float *fc1_b = take(ld, key(ld, "%s.ffn.fc1.bias", p), 1, F, 0, 0, 0);
  float *fc2_w = take(ld, key(ld, "%s.ffn.fc2.weight", p), 2, C, F, 0, 0);
  float *fc2_b = take(ld, key(ld, "%s.ffn.fc2.bias", p), 1, C, 0, 0, 0);
  float *g1 = NULL, *g2 = NULL;
  if (m->cfg.layerscales[si]) {
    g1 = take(ld, key(ld, "%s.gamma_1", p), 4, 1, C, 1, 1);
    g2 = take(ld, key(ld, "%s.gamma_2", p), 4, 1, C, 1, 1);
  }
  nala_status st = NALA_OK;
  if (!qkvg_w || !qkvg_b || !out_w || !out_b || !fc1_w || !fc1_b || !fc2_w || !fc2_b ||
      (m->cfg.layerscales[si] && (!g1 || !g2))) {
    st = nala_fail(err, NALA_E_NOMEM, "out of memory loading %s", p);
    goto done;
  }
  /* x + gamma * (W a + b) == x + (gamma W) a + gamma b: fold so the residual add is a sum post-op. */
  for (int o = 0; o < C && g1; o++) {
    for (int i = 0; i < C; i++)
      out_w[(size_t)o * C + i] *= g1[o];
    out_b[o] *= g1[o];
  }
  for (int o = 0; o < C && g2; o++) {
    for (int i = 0; i < F; i++)
      fc2_w[(size_t)o * F + i] *= g2[o];
    fc2_b[o] *= g2[o];
  }
  /* qkvg rows: q [0,C), k [C,2C), v [2C,3C), g [3C,4C). v gets its own contiguous output so the
   * lepe conv reads dense NHWC; g gets its own so SiLU runs as a post-op. */
  if ((st = nala_linear_init(ld->rt, &B->qk, C, 2 * C, qkvg_w, qkvg_b, err)) ||
      (st = nala_linear_init(ld->rt, &B->v, C, C, qkvg_w + (size_t)2 * C * C, qkvg_b + 2 * C, err)) ||
      (st = nala_linear_init(ld->rt, &B->g, C, C, qkvg_w + (size_t)3 * C * C, qkvg_b + 3 * C, err)) ||
      (st = nala_linear_init(ld->rt, &B->out_proj, C, C, out_w, out_b, err)) ||
      (st = nala_linear_init(ld->rt, &B->fc1, C, F, fc1_w, fc1_b, err)) ||
      (st = nala_linear_init(ld->rt, &B->fc2, F, C, fc2_w, fc2_b, err)))
    goto done;
done:
  free(qkvg_w), free(qkvg_b), free(out_w), free(out_b);
  free(fc1_w), free(fc1_b), free(fc2_w), free(fc2_b), free(g1), free(g2);
  return st;
}

static nala_status load_stage(nala_backbone *m, loader *ld, int si, nala_err *err) {
  nala_stage *S = &m->stages[si];
  const nala_backbone_cfg *c = &m->cfg;
  S->dim = c->embed_dims[si];
  S->heads = c->num_heads[si];
  S->head_dim = S->dim / S->heads;
  S->depth = c->depths[si];
  S->ffn = c->ffn_dims[si];
  S->blocks = calloc((size_t)S->depth, sizeof *S->blocks);
  S->angle = malloc((size_t)S->head_dim / 2 * sizeof(float));
  if (!S->blocks || !S->angle)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for stage %d", si);
  nala_rope_angle(S->head_dim, S->angle);
  /* The official RoPE.angle buffer is derived from the config; when a checkpoint carries it, it
   * must agree with the head_dim we were configured with (a mismatch means a wrong config). */
  float *file_angle = malloc((size_t)S->head_dim / 2 * sizeof(float));
  if (!file_angle)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for stage %d", si);
  int64_t ashape[1] = {S->head_dim / 2};
  const char *akey = key(ld, "layers.%d.RoPE.angle", si);
  if (nala_weights_optional(ld->w, akey, 1, ashape, file_angle)) {
    for (int i = 0; i < S->head_dim / 2; i++) {
      if (fabsf(file_angle[i] - S->angle[i]) > 1e-6f * fabsf(S->angle[i])) {
        nala_status st = nala_fail(err, NALA_E_FORMAT,
                                   "%s[%d] = %.9g but head_dim %d gives %.9g: the config does not match the weights",
                                   akey, i, file_angle[i], S->head_dim, S->angle[i]);
        free(file_angle);
        return st;
      }
    }
    memcpy(S->angle, file_angle, (size_t)S->head_dim / 2 * sizeof(float));
  }
  free(file_angle);
  for (int bi = 0; bi < S->depth; bi++)
    NALA_CHECK(load_block(m, ld, S, si, bi, err));
  char name[128];
  snprintf(name, sizeof name, "extra_norms.%d.norm", si);
  if (load_ln(ld, &S->extra_norm, S->dim, 1e-6f, name))
    return nala_fail(err, NALA_E_NOMEM, "out of memory for stage %d", si);
  if (si < 3) {
    char conv[96], bn[96];
    snprintf(conv, sizeof conv, "layers.%d.downsample.reduction", si);
    snprintf(bn, sizeof bn, "layers.%d.downsample.norm", si);
    nala_conv_shape s = NALA_CONV_SHAPE(S->dim, c->embed_dims[si + 1], 3, 2, 1);
    NALA_CHECK(load_conv(ld, &S->down, s, conv, bn, 0, err));
  }
  return NALA_OK;
}

static nala_status load_stem(nala_backbone *m, loader *ld, nala_err *err) {
  int c0 = m->cfg.embed_dims[0], half = c0 / 2;
  nala_conv_shape s[4] = {NALA_CONV_SHAPE(3, half, 3, 2, 1), NALA_CONV_SHAPE(half, half, 3, 1, 1),
                          NALA_CONV_SHAPE(half, half, 3, 1, 1), NALA_CONV_SHAPE(half, c0, 3, 2, 1)};
  static const int conv_idx[4] = {0, 3, 6, 9};
  for (int i = 0; i < 4; i++) {
    char conv[64], bn[64];
    snprintf(conv, sizeof conv, "patch_embed.proj.%d", conv_idx[i]);
    snprintf(bn, sizeof bn, "patch_embed.proj.%d", conv_idx[i] + 1);
    NALA_CHECK(load_conv(ld, &m->stem[i], s[i], conv, bn, 0, err));
  }
  return NALA_OK;
}

static void free_ln(nala_ln *ln) {
  free(ln->gamma);
  free(ln->beta);
}

void nala_backbone_free(nala_backbone *m) {
  if (!m)
    return;
  for (int i = 0; i < 4; i++)
    nala_layer_free(&m->stem[i]);
  for (int si = 0; si < 4; si++) {
    nala_stage *S = &m->stages[si];
    for (int bi = 0; S->blocks && bi < S->depth; bi++) {
      nala_block *B = &S->blocks[bi];
      nala_layer *layers[] = {&B->cpe1, &B->cpe2, &B->lepe, &B->ffn_dw, &B->qk,
                              &B->v,    &B->g,    &B->out_proj, &B->fc1, &B->fc2};
      for (size_t k = 0; k < sizeof layers / sizeof *layers; k++)
        nala_layer_free(layers[k]);
      free_ln(&B->norm1), free_ln(&B->norm2), free_ln(&B->attn_ln);
    }
    free(S->blocks);
    free(S->angle);
    free_ln(&S->extra_norm);
    nala_layer_free(&S->down);
  }
  nala_rt_free(m->own_rt);
  free(m);
}

nala_status nala_backbone_load(const nala_backbone_cfg *cfg, nala_weights *weights, const char *prefix,
                               const nala_rt *rt, nala_backbone **out, nala_err *err) {
  *out = NULL;
  NALA_CHECK(nala_backbone_cfg_validate(cfg, err));
  nala_backbone *m = calloc(1, sizeof *m);
  if (!m)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for the backbone");
  m->cfg = *cfg;
  m->rt = rt;
  for (int i = 0; i < cfg->n_out; i++) {
    m->want[cfg->out_indices[i]] = 1;
    if (cfg->out_indices[i] > m->last_stage)
      m->last_stage = cfg->out_indices[i];
  }
  m->attn_linear = nala_attn_linear_for(rt->isa);
  m->attn_softmax = nala_attn_softmax_for(rt->isa);
  m->norm = nala_norm_kernels_for(rt->isa);
  m->gelu = nala_gelu_for(rt->isa);

  nala_status st;
  loader ld = {.w = weights, .rt = rt, .prefix = prefix};
  nala_weights_ignore_suffix(weights, ".num_batches_tracked");
  if ((st = load_stem(m, &ld, err)))
    goto fail;
  for (int si = 0; si < 4; si++)
    if ((st = load_stage(m, &ld, si, err)))
      goto fail;
  *out = m;
  return NALA_OK;
fail:
  nala_backbone_free(m);
  return st;
}

nala_status nala_backbone_create(const nala_backbone_cfg *cfg, nala_weights *weights,
                                 const nala_backbone_opts *opts, nala_backbone **out, nala_err *err) {
  if (!cfg || !weights || !out)
    return nala_fail(err, NALA_E_ARG, "nala_backbone_create: cfg, weights and out must not be NULL");
  *out = NULL;
  nala_rt *rt = NULL;
  NALA_CHECK(nala_rt_create(opts ? opts->isa : NALA_ISA_AUTO, &rt, err));
  nala_backbone *m = NULL;
  nala_status st = nala_backbone_load(cfg, weights, "backbone", rt, &m, err);
  if (!st)
    m->own_rt = rt;
  else
    nala_rt_free(rt);
  if (!st && (st = nala_weights_finish(weights, "backbone.", err))) {
    nala_backbone_free(m);
    return st;
  }
  if (!st) {
    nala_heap_release();
    *out = m;
  }
  return st;
}

const nala_backbone_cfg *nala_backbone_config(const nala_backbone *m) { return &m->cfg; }

nala_isa nala_backbone_isa(const nala_backbone *model) { return model->rt->isa; }
