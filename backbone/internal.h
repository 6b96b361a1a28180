/* Private structs of the backbone: model (immutable weights) and context (plan + workspace). */
#ifndef NALA_BACKBONE_INTERNAL_H
#define NALA_BACKBONE_INTERNAL_H

#include <oneapi/dnnl/dnnl.h>
#include <stdint.h>

#include "backbone/dnnl_util.h"
#include "backbone/norm_ops.h"
#include "core/kernels/attention.h"
#include "nala/backbone.h"

/* A conv or linear layer in the model: BN and layerscale already folded, weights reordered into
 * the format oneDNN chose for this CPU. */
typedef struct nala_layer {
  nala_conv_shape conv; /* conv layers only; h, w = the size used to pick the format */
  int in, out;          /* linear layers only */
  dnnl_memory_desc_t wmd;
  dnnl_memory_t w, b;
} nala_layer;

typedef struct nala_block {
  char flag; /* 'l' NaLa linear attention, 'v' softmax */
  nala_layer cpe1, cpe2, lepe, ffn_dw;
  nala_layer qk, v, g, out_proj, fc1, fc2; /* qkvg is split: q|k, v and g (g carries the SiLU) */
  nala_ln norm1, norm2, attn_ln;
} nala_block;

typedef struct nala_stage {
  int dim, heads, head_dim, depth, ffn;
  nala_block *blocks;
  nala_ln extra_norm;
  nala_layer down; /* PatchMerging conv + BN, stages 0..2 */
  float *angle;    /* RoPE angles, head_dim/2 */
} nala_stage;

struct nala_backbone {
  nala_backbone_cfg cfg;
  dnnl_engine_t engine;
  nala_layer stem[4];
  nala_stage stages[4];
  int last_stage; /* highest stage any requested output needs */
  int want[4];    /* level requested */
  nala_norm_kernels norm;
  nala_attn_fn attn_linear, attn_softmax;
  nala_isa isa;
};

/* One step of a plan. Activations are float offsets into the workspace, resolved at run time so
 * the caller can move the workspace (set_workspace) without replanning. */
typedef enum nala_op_kind {
  NALA_OP_DNNL,
  NALA_OP_LN,            /* dst = LN(src) */
  NALA_OP_ATTN,          /* attention kernel */
  NALA_OP_ATTN_EPILOGUE, /* dst = LN(src + src2) * g */
} nala_op_kind;

#define NALA_OP_MAX_MEMS 6
/* mem_off values that are not workspace offsets. */
#define NALA_MEM_MODEL SIZE_MAX      /* the model's memory (weights, bias) */
#define NALA_MEM_PLAN (SIZE_MAX - 1) /* a memory the plan owns (weights reordered for this size) */

/* Profiling buckets (nala_backbone_profile). */
enum { NALA_PROF_CONV, NALA_PROF_DWCONV, NALA_PROF_LINEAR, NALA_PROF_NORM, NALA_PROF_ATTN_L, NALA_PROF_ATTN_V,
       NALA_PROF_COUNT };

typedef struct nala_op {
  nala_op_kind kind;
  /* oneDNN */
  dnnl_primitive_t prim;
  int nargs;
  dnnl_exec_arg_t args[NALA_OP_MAX_MEMS + 1];
  size_t mem_off[NALA_OP_MAX_MEMS + 1]; /* workspace offset (bytes) per arg, or NALA_MEM_MODEL/PLAN */
  /* custom kernels */
  const nala_ln *ln;
  size_t src, src2, gate, dst; /* float offsets */
  int rows, cols, ld_src, ld_gate, ld_dst;
  int stage;
  char attn_flag;
  int prof; /* profiling bucket */
} nala_op;

typedef struct nala_level {
  int c, h, w;
  size_t off; /* float offset of the NHWC output */
} nala_level;

struct nala_backbone_ctx {
  const nala_backbone *model;
  int nthreads;
  dnnl_stream_t stream;
  /* plan */
  int planned, h, w;
  nala_op *ops;
  int n_ops, cap_ops;
  size_t ws_bytes;     /* bytes this plan needs */
  size_t input_off;    /* NHWC input, floats */
  size_t scratch_off;  /* oneDNN scratchpad, bytes */
  size_t attn_ws_off;   /* attention kernels' workspace, floats */
  size_t attn_ws_floats; /* size of the attention kernels' workspace region */
  nala_rope rope[4];
  float *rope_buf;     /* RoPE tables of every stage (owned, made at plan) */
  nala_level levels[4];
  int profiling;
  double profile_ms[NALA_PROF_COUNT];
  /* workspace */
  void *ws;
  size_t ws_cap;
  int ws_owned;
};

/* Plan construction helpers (backbone_plan.c). */
nala_status nala_plan_build(nala_backbone_ctx *ctx, int h, int w, nala_err *err);
void nala_plan_release(nala_backbone_ctx *ctx);
void nala_plan_bind(nala_backbone_ctx *ctx);

#endif
