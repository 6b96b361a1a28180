/* FPN neck (mmdet/mmseg necks/fpn.py at inference, ConvModules without norm or activation):
 *   laterals[i] = lateral_convs[i](inputs[start_level + i])            1x1
 *   top-down, i = L-1 .. 1: laterals[i-1] += nearest(laterals[i], size of laterals[i-1])
 *       (F.interpolate by size, not scale: odd sizes occur)
 *   outs[i] = fpn_convs[i](laterals[i])                                 3x3
 *   extra levels up to num_outs:
 *     add_extra_convs false: outs += max_pool2d(outs[-1], 1, stride 2)  (Mask R-CNN, Semantic FPN)
 *     'on_input' (true) / 'on_lateral' / 'on_output': the first extra is fpn_convs[L](inputs[end-1]
 *       / laterals[-1] / outs[-1]), 3x3 stride 2; later ones fpn_convs[i](relu?(outs[-1]))
 *       with the ReLU when relu_before_extra_convs (RetinaNet: 'on_input', no ReLU).
 * Keys: <prefix>.lateral_convs.<i>.conv.{weight,bias}, <prefix>.fpn_convs.<i>.conv.{weight,bias}. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn/layer.h"
#include "core/nn/module.h"
#include "core/nn/prims.h"

#define FPN_MAX_INS 8
#define FPN_MAX_OUTS NALA_MODULE_MAX_FEATS

typedef enum extra_src { EXTRA_NONE, EXTRA_ON_INPUT, EXTRA_ON_LATERAL, EXTRA_ON_OUTPUT } extra_src;

static const char *const extra_names[] = {"on_input", "on_lateral", "on_output", NULL};
static const char *const upsample_modes[] = {"nearest", NULL};
static const nala_schema_key upsample_keys[] = {NALA_SKEY_ENUM("mode", upsample_modes, 0)};
static const nala_schema upsample_schema = NALA_SCHEMA(upsample_keys);
static const nala_schema_key fpn_keys[] = {
    NALA_SKEY_POS_INT_LIST("in_channels", 1, FPN_MAX_INS, 1),
    NALA_SKEY_POS_INT("out_channels", 1),
    NALA_SKEY_INT("num_outs", 1, FPN_MAX_OUTS, 1),
    NALA_SKEY_INT("start_level", 0, FPN_MAX_INS - 1, 0),
    /* mmdet 2.x reads end_level as exclusive, 3.x as inclusive: only the default is unambiguous */
    NALA_SKEY_INT("end_level", -1, -1, 0),
    {.key = "add_extra_convs", .kinds = NALA_SK_BOOL | NALA_SK_STRING, .choices = extra_names},
    NALA_SKEY_BOOL("relu_before_extra_convs", 0),
    NALA_SKEY_BOOL("no_norm_on_lateral", 0),
    {.key = "norm_cfg", .kinds = NALA_SK_NULL},
    {.key = "act_cfg", .kinds = NALA_SK_NULL},
    NALA_SKEY_OBJECT("upsample_cfg", &upsample_schema, 0),
};
static const nala_schema fpn_schema = NALA_SCHEMA(fpn_keys);

typedef struct fpn {
  int n_in, in_ch[FPN_MAX_INS], out_ch, num_outs, start, end;
  extra_src extra;
  int relu_extra;
  int n_lateral, n_fpn;
  nala_layer lateral[FPN_MAX_INS], fpn[FPN_MAX_OUTS];
} fpn;

static void fpn_free(void *module) {
  fpn *f = module;
  if (!f)
    return;
  for (int i = 0; i < f->n_lateral; i++)
    nala_layer_free(&f->lateral[i]);
  for (int i = 0; i < f->n_fpn; i++)
    nala_layer_free(&f->fpn[i]);
  free(f);
}

static const cJSON *member(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

/* Section already validated against fpn_schema: kinds and ranges hold; cross-field rules here. */
static nala_status read_config(const cJSON *s, fpn *f, nala_err *err) {
  const cJSON *in = member(s, "in_channels");
  f->n_in = cJSON_GetArraySize(in);
  for (int i = 0; i < f->n_in; i++)
    f->in_ch[i] = (int)cJSON_GetArrayItem(in, i)->valuedouble;
  f->out_ch = (int)member(s, "out_channels")->valuedouble;
  f->num_outs = (int)member(s, "num_outs")->valuedouble;
  f->start = member(s, "start_level") ? (int)member(s, "start_level")->valuedouble : 0;
  f->end = f->n_in;
  const cJSON *extra = member(s, "add_extra_convs");
  f->extra = EXTRA_NONE;
  if (cJSON_IsTrue(extra))
    f->extra = EXTRA_ON_INPUT; /* mmdet: True means 'on_input' */
  else if (cJSON_IsString(extra))
    f->extra = !strcmp(extra->valuestring, "on_input")     ? EXTRA_ON_INPUT
               : !strcmp(extra->valuestring, "on_lateral") ? EXTRA_ON_LATERAL
                                                           : EXTRA_ON_OUTPUT;
  f->relu_extra = cJSON_IsTrue(member(s, "relu_before_extra_convs"));
  if (f->start >= f->n_in)
    return nala_fail(err, NALA_E_FORMAT, "model.neck.start_level: %d but in_channels has %d levels", f->start,
                     f->n_in);
  int used = f->end - f->start;
  if (f->num_outs < used)
    return nala_fail(err, NALA_E_FORMAT, "model.neck.num_outs: %d is fewer than the %d levels from start_level %d",
                     f->num_outs, used, f->start);
  return NALA_OK;
}

static nala_status fpn_create(const cJSON *section, nala_weights *w, const char *prefix, const nala_rt *rt,
                              void **out, nala_err *err) {
  fpn *f = calloc(1, sizeof *f);
  if (!f)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for the FPN neck");
  nala_status st = read_config(section, f, err);
  char key[256];
  int used = f->end - f->start, C = f->out_ch;
  for (int i = 0; !st && i < used; i++, f->n_lateral++) {
    snprintf(key, sizeof key, "%s.lateral_convs.%d", prefix, i);
    nala_conv_shape s = NALA_CONV_SHAPE(f->in_ch[f->start + i], C, 1, 1, 1);
    st = nala_convmodule_load(rt, w, &f->lateral[i], s, key, 0, NALA_ACT_NONE, err);
  }
  for (int i = 0; !st && i < used; i++, f->n_fpn++) {
    snprintf(key, sizeof key, "%s.fpn_convs.%d", prefix, i);
    st = nala_convmodule_load(rt, w, &f->fpn[i], (nala_conv_shape)NALA_CONV_SHAPE(C, C, 3, 1, 1), key, 0,
                              NALA_ACT_NONE, err);
  }
  for (int i = used; !st && f->extra != EXTRA_NONE && i < f->num_outs; i++, f->n_fpn++) {
    snprintf(key, sizeof key, "%s.fpn_convs.%d", prefix, i);
    int cin = i == used && f->extra == EXTRA_ON_INPUT ? f->in_ch[f->end - 1] : C;
    st = nala_convmodule_load(rt, w, &f->fpn[i], (nala_conv_shape)NALA_CONV_SHAPE(cin, C, 3, 2, 1), key, 0,
                              NALA_ACT_NONE, err);
  }
  if (st) {
    fpn_free(f);
    return st;
  }
  *out = f;
  return NALA_OK;
}

static nala_status conv(nala_graph *g, const nala_layer *L, const nala_feat *src, nala_feat *dst, int bucket,
                        nala_err *err) {
  int oh, ow;
  nala_layer_out_size(L, src->h, src->w, &oh, &ow);
  *dst = nala_graph_feat(g, L->conv.oc, oh, ow);
  return nala_conv_op(g, L, src->h, src->w, src->off, nala_feat_ld(src), dst->off, 0, 0, bucket, err);
}

static nala_status fpn_plan(const void *module, nala_graph *g, const nala_feat *in, int n_in, nala_feat *out,
                            int *n_out, nala_err *err) {
  const fpn *f = module;
  if (n_in != f->n_in)
    return nala_fail(err, NALA_E_ARG, "FPN: in_channels lists %d levels, the previous module gives %d", f->n_in, n_in);
  for (int i = 0; i < n_in; i++)
    if (in[i].c != f->in_ch[i])
      return nala_fail(err, NALA_E_ARG, "FPN: in_channels[%d] = %d, the input level has %d channels", i, f->in_ch[i],
                       in[i].c);
  int bucket = nala_graph_bucket(g, "neck"), used = f->end - f->start;
  nala_feat lat[FPN_MAX_INS];
  for (int i = 0; i < used; i++)
    NALA_CHECK(conv(g, &f->lateral[i], &in[f->start + i], &lat[i], bucket, err));
  for (int i = used - 1; i > 0; i--) {
    nala_feat up = nala_graph_feat(g, f->out_ch, lat[i - 1].h, lat[i - 1].w);
    NALA_CHECK(nala_resize_op(g, &lat[i], &up, NALA_RESIZE_NEAREST, bucket, err));
    NALA_CHECK(nala_add_op(g, &lat[i - 1], &up, &lat[i - 1], bucket, err));
    nala_graph_free(g, up.off); /* the next (larger) upsample or an output may take its bytes */
  }
  for (int i = 0; i < used; i++) {
    NALA_CHECK(conv(g, &f->fpn[i], &lat[i], &out[i], bucket, err));
    if (!(f->extra == EXTRA_ON_LATERAL && i == used - 1)) /* the extra conv reads that one */
      nala_graph_free(g, lat[i].off);
  }
  for (int i = used; i < f->num_outs; i++) {
    const nala_feat *prev = &out[i - 1];
    if (f->extra == EXTRA_NONE) {
      out[i] = nala_graph_feat(g, f->out_ch, nala_pool_out(prev->h, 1, 2, 0), nala_pool_out(prev->w, 1, 2, 0));
      NALA_CHECK(nala_maxpool_op(g, prev, &out[i], 1, 2, 0, bucket, err));
      continue;
    }
    const nala_feat *src = prev;
    nala_feat relu;
    if (i == used)
      src = f->extra == EXTRA_ON_INPUT ? &in[f->end - 1] : f->extra == EXTRA_ON_LATERAL ? &lat[used - 1] : prev;
    else if (f->relu_extra) {
      relu = nala_graph_feat(g, prev->c, prev->h, prev->w);
      NALA_CHECK(nala_relu_op(g, prev, &relu, bucket, err));
      src = &relu;
    }
    NALA_CHECK(conv(g, &f->fpn[i], src, &out[i], bucket, err));
  }
  *n_out = f->num_outs;
  return NALA_OK;
}

const nala_module_type nala_fpn_module = {
    .type = {"FPN", &fpn_schema}, .create = fpn_create, .plan = fpn_plan, .free = fpn_free};
