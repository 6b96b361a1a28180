/* NaLaFormer backbone presets, attention-flag specs and validation. The variant numbers are those
 * of the NALAFORMER_* constructors in the official NaLaformer/NALA.py (ZacharyMeng/NaLaFormer). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nala/config.h"

typedef struct backbone_preset {
  const char *name;
  int embed_dims[4], depths[4], num_heads[4];
  float mlp_ratio;
  float layer_init_values[4];
} backbone_preset;

/* Every official variant has layerscale on in all four stages. */
static const backbone_preset presets[] = {
    {"xt", {32, 64, 128, 384}, {2, 2, 2, 2}, {1, 2, 4, 12}, 3.5f, {1, 1, 1, 1}},
    {"t", {64, 128, 256, 512}, {2, 2, 6, 2}, {1, 2, 4, 8}, 4.0f, {1, 1, 1, 1}},
    {"s", {64, 128, 320, 512}, {3, 5, 9, 3}, {1, 2, 5, 8}, 3.5f, {1, 1, 1, 1}},
    {"b", {96, 192, 384, 512}, {4, 6, 12, 6}, {1, 2, 6, 8}, 4.0f, {1, 1, 1e-6f, 1e-6f}},
    {"l", {96, 192, 448, 640}, {4, 7, 19, 8}, {1, 2, 7, 10}, 3.5f, {1e-6f, 1e-6f, 1e-6f, 1e-6f}},
};

void nala_backbone_cfg_default_attn(nala_backbone_cfg *cfg) {
  for (int s = 0; s < NALA_BACKBONE_STAGES; s++) {
    int depth = cfg->depths[s];
    if (depth < 0)
      depth = 0;
    if (depth > NALA_BACKBONE_MAX_DEPTH)
      depth = NALA_BACKBONE_MAX_DEPTH;
    memset(cfg->attn[s], s < 2 ? 'l' : 'v', (size_t)depth);
    cfg->attn[s][depth] = '\0';
  }
}

void nala_backbone_cfg_derive_ffn(nala_backbone_cfg *cfg) {
  /* Python computes int(mlp_ratio * embed_dim) in double precision and truncates. A product that
   * is NaN or outside int (mlp_ratios 1e30) would make the cast undefined: it becomes 0 here and
   * nala_backbone_cfg_validate names the ratio. */
  for (int s = 0; s < NALA_BACKBONE_STAGES; s++) {
    double ffn = (double)cfg->mlp_ratios[s] * (double)cfg->embed_dims[s];
    cfg->ffn_dims[s] = ffn >= 1 && ffn < NALA_BACKBONE_MAX_FFN + 1.0 ? (int)ffn : 0;
  }
}

nala_status nala_backbone_cfg_preset(const char *variant, nala_backbone_cfg *out, nala_err *err) {
  if (!variant || !out)
    return nala_fail(err, NALA_E_ARG, "nala_backbone_cfg_preset: NULL argument");
  char lower[8] = {0};
  size_t len = strlen(variant);
  for (size_t i = 0; i < len && i < sizeof lower - 1; i++)
    lower[i] = (char)tolower((unsigned char)variant[i]);
  const backbone_preset *p = NULL;
  for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
    if (len < sizeof lower && !strcmp(lower, presets[i].name))
      p = &presets[i];
  if (!p)
    return nala_fail(err, NALA_E_ARG, "unknown NaLaFormer variant \"%s\" (expected xt, t, s, b or l)", variant);
  memset(out, 0, sizeof *out);
  snprintf(out->variant, sizeof out->variant, "%s", p->name);
  for (int s = 0; s < NALA_BACKBONE_STAGES; s++) {
    out->embed_dims[s] = p->embed_dims[s];
    out->depths[s] = p->depths[s];
    out->num_heads[s] = p->num_heads[s];
    out->mlp_ratios[s] = p->mlp_ratio;
    out->layerscales[s] = 1;
    out->layer_init_values[s] = p->layer_init_values[s];
    out->out_indices[s] = s;
  }
  out->n_out = NALA_BACKBONE_STAGES;
  nala_backbone_cfg_derive_ffn(out);
  nala_backbone_cfg_default_attn(out);
  return NALA_OK;
}

static int is_flag(char c) { return c == 'l' || c == 'v'; }

/* Splits spec at commas into at most 4 fields; returns the field count, or -1 when more than 4. */
static int split_fields(const char *spec, const char *start[4], size_t len[4]) {
  int n = 0;
  const char *p = spec;
  for (;;) {
    const char *comma = strchr(p, ',');
    size_t field_len = comma ? (size_t)(comma - p) : strlen(p);
    if (n == 4)
      return -1;
    start[n] = p;
    len[n] = field_len;
    n++;
    if (!comma)
      return n;
    p = comma + 1;
  }
}

nala_status nala_backbone_cfg_set_attn(nala_backbone_cfg *cfg, const char *spec, nala_err *err) {
  if (!cfg || !spec)
    return nala_fail(err, NALA_E_ARG, "nala_backbone_cfg_set_attn: NULL argument");
  int total = 0;
  for (int s = 0; s < NALA_BACKBONE_STAGES; s++) {
    if (cfg->depths[s] < 1 || cfg->depths[s] > NALA_BACKBONE_MAX_DEPTH)
      return nala_fail(err, NALA_E_ARG, "attn \"%s\": depths[%d] = %d is outside 1..%d", spec, s, cfg->depths[s],
                       NALA_BACKBONE_MAX_DEPTH);
    total += cfg->depths[s];
  }
  for (const char *c = spec; *c; c++)
    if (*c != ',' && !is_flag(*c))
      return nala_fail(err, NALA_E_ARG, "attn \"%s\": flag '%c' at position %d is not 'l' or 'v'", spec, *c,
                       (int)(c - spec));
  char attn[NALA_BACKBONE_STAGES][NALA_BACKBONE_MAX_DEPTH + 1];
  memset(attn, 0, sizeof attn); /* so equal configs compare equal byte for byte */
  const char *field[4];
  size_t field_len[4];
  int n_fields = split_fields(spec, field, field_len);
  if (n_fields == 4) {
    for (int s = 0; s < NALA_BACKBONE_STAGES; s++) {
      int depth = cfg->depths[s];
      if (field_len[s] == 1) {
        memset(attn[s], field[s][0], (size_t)depth);
      } else if ((int)field_len[s] == depth) {
        memcpy(attn[s], field[s], (size_t)depth);
      } else {
        return nala_fail(err, NALA_E_ARG, "attn \"%s\": stage %d has %zu flags, expected 1 or depth %d", spec, s,
                         field_len[s], depth);
      }
      attn[s][depth] = '\0';
    }
  } else if (n_fields == 1 && (field_len[0] == 1 || field_len[0] == 4 || (int)field_len[0] == total)) {
    /* With depths [1,1,1,1] "per stage" and "per block" read the same, so the order of tests is moot. */
    int offset = 0;
    for (int s = 0; s < NALA_BACKBONE_STAGES; s++) {
      int depth = cfg->depths[s];
      for (int b = 0; b < depth; b++)
        attn[s][b] = field_len[0] == 1 ? spec[0] : field_len[0] == 4 && total != 4 ? spec[s] : spec[offset + b];
      attn[s][depth] = '\0';
      offset += depth;
    }
  } else {
    return nala_fail(err, NALA_E_ARG,
                     "attn \"%s\": expected 4 comma-separated stage fields, 1 flag, 4 per-stage flags or %d "
                     "per-block flags",
                     spec, total);
  }
  memcpy(cfg->attn, attn, sizeof attn);
  return NALA_OK;
}

nala_status nala_backbone_cfg_validate(const nala_backbone_cfg *cfg, nala_err *err) {
  if (!cfg)
    return nala_fail(err, NALA_E_ARG, "nala_backbone_cfg_validate: NULL cfg");
  for (int s = 0; s < NALA_BACKBONE_STAGES; s++) {
    int dim = cfg->embed_dims[s], heads = cfg->num_heads[s], depth = cfg->depths[s];
    if (dim < 1)
      return nala_fail(err, NALA_E_ARG, "embed_dims[%d]: expected positive integer, got %d", s, dim);
    if (heads < 1)
      return nala_fail(err, NALA_E_ARG, "num_heads[%d]: expected positive integer, got %d", s, heads);
    if (dim % heads)
      return nala_fail(err, NALA_E_ARG, "num_heads[%d]: %d does not divide embed_dims[%d] = %d", s, heads, s, dim);
    if ((dim / heads) % 4)
      return nala_fail(err, NALA_E_ARG,
                       "num_heads[%d]: head_dim = embed_dims[%d] / num_heads[%d] = %d is not divisible by 4 "
                       "(2-D RoPE)",
                       s, s, s, dim / heads);
    if (depth < 1 || depth > NALA_BACKBONE_MAX_DEPTH)
      return nala_fail(err, NALA_E_ARG, "depths[%d]: expected integer in 1..%d, got %d", s, NALA_BACKBONE_MAX_DEPTH,
                       depth);
    if (!(cfg->mlp_ratios[s] > 0) || !isfinite(cfg->mlp_ratios[s]))
      return nala_fail(err, NALA_E_ARG, "mlp_ratios[%d]: expected positive number, got %g", s,
                       (double)cfg->mlp_ratios[s]);
    double ffn = (double)cfg->mlp_ratios[s] * (double)dim;
    if (!(ffn >= 1 && ffn < NALA_BACKBONE_MAX_FFN + 1.0))
      return nala_fail(err, NALA_E_ARG,
                       "mlp_ratios[%d]: %g x embed_dims[%d] = %d gives an FFN width of %g (expected 1..%d)", s,
                       (double)cfg->mlp_ratios[s], s, dim, ffn, NALA_BACKBONE_MAX_FFN);
    if (cfg->ffn_dims[s] < 1 || cfg->ffn_dims[s] > NALA_BACKBONE_MAX_FFN)
      return nala_fail(err, NALA_E_ARG, "ffn_dims[%d]: expected integer in 1..%d, got %d", s, NALA_BACKBONE_MAX_FFN,
                       cfg->ffn_dims[s]);
    if (cfg->layerscales[s] != 0 && cfg->layerscales[s] != 1)
      return nala_fail(err, NALA_E_ARG, "layerscales[%d]: expected 0 or 1, got %d", s, cfg->layerscales[s]);
    if (!isfinite(cfg->layer_init_values[s]))
      return nala_fail(err, NALA_E_ARG, "layer_init_values[%d]: expected finite number", s);
    size_t n_flags = strnlen(cfg->attn[s], sizeof cfg->attn[s]);
    if (n_flags != (size_t)depth)
      return nala_fail(err, NALA_E_ARG, "attn[%d]: %zu flags for depth %d", s, n_flags, depth);
    for (int b = 0; b < depth; b++)
      if (!is_flag(cfg->attn[s][b]))
        return nala_fail(err, NALA_E_ARG, "attn[%d][%d]: flag '%c' is not 'l' or 'v'", s, b, cfg->attn[s][b]);
  }
  if (cfg->n_out < 1 || cfg->n_out > NALA_BACKBONE_STAGES)
    return nala_fail(err, NALA_E_ARG, "out_indices: expected 1..4 stage indices, got %d", cfg->n_out);
  for (int i = 0; i < cfg->n_out; i++) {
    int idx = cfg->out_indices[i];
    if (idx < 0 || idx >= NALA_BACKBONE_STAGES)
      return nala_fail(err, NALA_E_ARG, "out_indices[%d]: expected integer in 0..3, got %d", i, idx);
    for (int j = 0; j < i; j++)
      if (cfg->out_indices[j] == idx)
        return nala_fail(err, NALA_E_ARG, "out_indices[%d]: stage %d is already listed at out_indices[%d]", i, idx,
                         j);
  }
  if (!memchr(cfg->weights, '\0', sizeof cfg->weights) || !memchr(cfg->variant, '\0', sizeof cfg->variant))
    return nala_fail(err, NALA_E_ARG, "weights/variant: string is not NUL-terminated");
  return NALA_OK;
}
