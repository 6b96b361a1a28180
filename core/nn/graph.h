/* The runtime every module plans into: an ordered list of ops over one workspace arena.
 *
 * One context = one graph = one workspace, whatever the modules (backbone, neck, head): each
 * module's plan() takes regions of the arena (nala_graph_region) and appends ops. Activations are
 * byte offsets into the arena, resolved by nala_graph_bind, so the caller can move the workspace
 * without replanning. An op is a oneDNN primitive (nala_graph_add_dnnl) or a kernel {fn, args}
 * (nala_graph_add_kernel) whose args hold offsets, not pointers.
 *
 * Workspace = [regions][temporary area, the largest any op group needs][oneDNN scratchpad, the
 * largest any primitive needs] (primitives run one at a time, so they share one scratchpad; user
 * scratchpad mode makes one primitive safe to run from several contexts at once).
 *
 * Regions are planned like a heap, in op order: ops run in the order they were added, so once every
 * op that touches a region has been added the region is dead for the ops added after it, and
 * nala_graph_free / nala_graph_rewind / nala_graph_keep_only hand it back for them (best fit among
 * the gaps, else on top). The regions' part is the highest end any region reached. */
#ifndef NALA_CORE_NN_GRAPH_H
#define NALA_CORE_NN_GRAPH_H

#include <oneapi/dnnl/dnnl.h>
#include <stddef.h>

#include "nala/status.h"

#define NALA_GRAPH_ALIGN 64

/* Where a oneDNN argument's memory lives, when it is not a workspace byte offset. */
#define NALA_MEM_MODEL SIZE_MAX         /* the model's (weights, bias): never freed by the graph */
#define NALA_MEM_PLAN (SIZE_MAX - 1)    /* owned by the graph (weights reordered for this plan) */
#define NALA_MEM_SCRATCH (SIZE_MAX - 2) /* the shared oneDNN scratchpad */
/* NALA_MEM_TEMP + t: byte t of the shared temporary area (nala_graph_temp), oneDNN args only. */
#define NALA_MEM_TEMP (SIZE_MAX / 2)

#define NALA_GRAPH_MAX_ARGS 8
#define NALA_GRAPH_KERNEL_ARGS 192 /* bytes of inline kernel arguments */
#define NALA_GRAPH_MAX_BUCKETS 16

/* A kernel op's entry: args is the blob given to nala_graph_add_kernel, ws the workspace base. */
typedef nala_status (*nala_kernel_fn)(const void *args, char *ws, int nthreads, nala_err *err);

typedef struct nala_graph_op {
  nala_kernel_fn fn; /* NULL: oneDNN primitive */
  dnnl_primitive_t prim;
  int nargs;
  dnnl_exec_arg_t args[NALA_GRAPH_MAX_ARGS];
  size_t mem_off[NALA_GRAPH_MAX_ARGS]; /* workspace byte offset per arg, or NALA_MEM_* */
  int bucket;                          /* profiling bucket */
  int gated;                           /* run only when gate_lo < count <= gate_hi, count = the */
  int gate_lo, gate_hi;                /* int32 at workspace byte gate_off (nala_graph_gate_last) */
  size_t gate_off;
  _Alignas(16) unsigned char kargs[NALA_GRAPH_KERNEL_ARGS];
} nala_graph_op;

/* A feature map in the arena: NHWC, element (y, x, ch) at byte off + ((y*w + x)*ld + ch)*4, with
 * ld = c when 0. ld > c is a channel slice of a wider map: concat writes each input there. */
typedef struct nala_feat {
  int c, h, w;
  size_t off;
  int ld;
} nala_feat;

/* Floats between pixels of f. */
static inline int nala_feat_ld(const nala_feat *f) { return f->ld > 0 ? f->ld : f->c; }

/* Channels [c0, c0 + c) of f, as a map of its own (for concat by channel offset). */
static inline nala_feat nala_feat_slice(const nala_feat *f, int c0, int c) {
  nala_feat s = {.c = c, .h = f->h, .w = f->w, .off = f->off + (size_t)c0 * sizeof(float), .ld = nala_feat_ld(f)};
  return s;
}

#define NALA_GRAPH_MAX_IO 16

/* A region in use while planning (nala_graph_region), by offset; seq = regions taken before it. */
typedef struct nala_graph_block {
  size_t off, bytes, seq;
} nala_graph_block;

typedef struct nala_graph {
  dnnl_engine_t engine;
  int nthreads;
  nala_graph_op *ops;
  int n_ops, cap_ops;
  nala_graph_block *live; /* regions in use, sorted by offset */
  int n_live, cap_live;
  size_t n_taken; /* regions taken so far (nala_graph_mark) */
  size_t fence;   /* regions go at or above this byte (nala_graph_fence) */
  size_t peak;    /* highest end of any region so far: the regions' part of the workspace */
  size_t max_scratch; /* largest oneDNN scratchpad */
  size_t max_temp;    /* largest temporary area (nala_graph_temp) */
  void **owned;       /* heap blocks the plan owns (nala_graph_alloc) */
  int n_owned, cap_owned;
  const char *bucket_names[NALA_GRAPH_MAX_BUCKETS];
  int n_buckets;
  double bucket_ms[NALA_GRAPH_MAX_BUCKETS];
  int profiling;
  char *ws; /* bound workspace */
  int h, w;  /* input size planned */
  int img_h, img_w; /* the valid image inside the input (mmdet img_shape: resized, before padding);
                       0 = the whole input. Set by the model's build before the modules plan. */
  nala_feat input;                     /* where the caller writes the image */
  nala_feat outs[NALA_GRAPH_MAX_IO];   /* what the caller reads after a run */
  int n_outs;
  struct nala_graph_weights *weights; /* plan-owned reordered weights (nala_graph_weights) */
  int n_weights, cap_weights;
  void *user; /* the builder's own description of this plan (a plan-owned nala_graph_alloc block, e.g.
                 where a detector's results live), so it moves with the graph; NULL when none */
} nala_graph;

/* Empty graph on engine for nthreads threads (no allocation until ops are added). */
void nala_graph_init(nala_graph *g, dnnl_engine_t engine, int nthreads);

/* Frees every op, primitive, plan-owned memory and block; g is empty (reusable) afterwards. */
void nala_graph_release(nala_graph *g);

/* Takes a 64-byte aligned region of bytes from the arena; returns its byte offset. Its bytes are
 * its own until it is handed back; their content is whatever the ops before left there. */
size_t nala_graph_region(nala_graph *g, size_t bytes);

/* Hands back the region at offset off (from nala_graph_region) for the ops added from now on:
 * call it once every op that reads or writes the region has been added. */
void nala_graph_free(nala_graph *g, size_t off);

/* Scratch reuse: regions taken after mark = nala_graph_mark(g) are handed back by
 * nala_graph_rewind(g, mark), for ops that run after every op using them (e.g. the mask head's
 * buffers over the bbox head's, Mask R-CNN). The workspace keeps the peak. */
size_t nala_graph_mark(const nala_graph *g);
void nala_graph_rewind(nala_graph *g, size_t mark);

/* Liveness between modules: hands back every region taken since mark that holds no byte of the
 * n maps live (what the next module is given): no later op can reach it. */
void nala_graph_keep_only(nala_graph *g, size_t mark, const nala_feat *live, int n);

/* Regions taken from now on go above every byte used so far, never into a gap: for what the
 * caller keeps across several runs of the ops (a sliding-window accumulator), which the ops'
 * own scratch in those gaps would overwrite. */
void nala_graph_fence(nala_graph *g);

/* Bytes [at, at + bytes) of the temporary area, shared by every op group that needs buffers only
 * while its own consecutive ops run (a Winograd conv's blocked bands): unlike mark/rewind it never
 * overlaps a region, so regions taken later (inputs the caller writes before a run, maps that live
 * across runs) are safe. Returns the offset to give a oneDNN arg (NALA_MEM_TEMP + at); kernel ops
 * cannot take it. */
size_t nala_graph_temp(nala_graph *g, size_t at, size_t bytes);

/* A new dense c x h x w map in g's arena. */
nala_feat nala_graph_feat(nala_graph *g, int c, int h, int w);

/* Profiling bucket by name (same name = same bucket); -1 when all buckets are taken. */
int nala_graph_bucket(nala_graph *g, const char *name);

/* Milliseconds profiled in the named bucket (0 when there is none). */
double nala_graph_bucket_ms(const nala_graph *g, const char *name);

/* Heap block freed with the graph (per-plan tables, e.g. RoPE); NULL (with err) when out of memory. */
void *nala_graph_alloc(nala_graph *g, size_t bytes, nala_err *err);

/* Weights memory in format want for the model's source weights (a layer's dnnl memory): source
 * itself when its format is want, else a copy reordered once per plan, owned by the graph and
 * shared by every op asking for the same (source, want). oneDNN's preferred format can depend on
 * the map size and Winograd's on the thread count; a copy per op would multiply the weights (a
 * RetinaNet head conv runs on 5 levels, a Winograd conv in many bands). Ops pass it with
 * off = NALA_MEM_MODEL (the graph, not the op, frees it). */
nala_status nala_graph_weights(nala_graph *g, dnnl_memory_t source, const dnnl_memory_desc_t *want,
                               dnnl_memory_t *out, nala_err *err);

/* Weights memory of format want derived from the model's source weights by fill, a transform oneDNN
 * has no reorder for (nala's Winograd weights, conv_wino.c): fill gets source reordered to plain_md
 * (e.g. oihw) and writes want's buffer. Made once per plan and shared as nala_graph_weights' copies
 * are (key: source and want; nala_graph_holds_weights answers for it too). */
typedef void (*nala_weights_fill_fn)(const float *plain, float *out, const void *ctx);
nala_status nala_graph_weights_derived(nala_graph *g, dnnl_memory_t source, const dnnl_memory_desc_t *plain_md,
                                       const dnnl_memory_desc_t *want, nala_weights_fill_fn fill, const void *ctx,
                                       dnnl_memory_t *out, nala_err *err);

/* 1 when nala_graph_weights(g, source, want) would take no new memory: source is in format want, or
 * the plan already holds that copy. */
int nala_graph_holds_weights(const nala_graph *g, dnnl_memory_t source, const dnnl_memory_desc_t *want);

/* Bytes of the plan-owned weights copies (outside the workspace; for reports). */
size_t nala_graph_weights_bytes(const nala_graph *g);

/* Appends a oneDNN op: creates the primitive from pd (which it destroys), its src/dst memories at
 * workspace offsets src_off/dst_off, weights/bias memories as given (off = NALA_MEM_*), and the
 * scratchpad. */
typedef struct nala_dnnl_arg {
  int arg;              /* DNNL_ARG_* */
  size_t off;           /* workspace byte offset, or NALA_MEM_MODEL / NALA_MEM_PLAN */
  dnnl_memory_t memory; /* for NALA_MEM_MODEL / NALA_MEM_PLAN */
} nala_dnnl_arg;
nala_status nala_graph_add_dnnl(nala_graph *g, dnnl_primitive_desc_t pd, const nala_dnnl_arg *args, int nargs,
                                int bucket, nala_err *err);

/* Appends a kernel op; args (at most NALA_GRAPH_KERNEL_ARGS bytes) are copied into the op. */
nala_status nala_graph_add_kernel(nala_graph *g, nala_kernel_fn fn, const void *args, size_t size, int bucket,
                                  nala_err *err);

/* As nala_graph_add_kernel, for a kernel whose args hold workspace offsets that may point into the
 * temporary area (NALA_MEM_TEMP + t, nala_graph_temp), which has no place until planning ends: at
 * each nala_graph_bind the size_t at byte fields[i] of the op's copy of args (n_fields at most
 * NALA_GRAPH_MAX_ARGS) is set to the workspace offset it resolves to (plain offsets stay as they are). */
nala_status nala_graph_add_kernel_temp(nala_graph *g, nala_kernel_fn fn, const void *args, size_t size,
                                       const size_t *fields, int n_fields, int bucket, nala_err *err);

/* Makes the op added last conditional on a count the graph computes at run time (an int32 at
 * workspace byte count_off, e.g. the number of RoIs a kernel kept): it runs only when
 * lo < count <= hi. RoI heads plan one primitive per batch size and gate each to its range, so
 * forward runs on the count without creating anything. */
nala_status nala_graph_gate_last(nala_graph *g, size_t count_off, int lo, int hi, nala_err *err);
/* The same for every op added since op index first (g->n_ops before them). */
nala_status nala_graph_gate_since(nala_graph *g, int first, size_t count_off, int lo, int hi, nala_err *err);

/* Workspace bytes the graph needs (regions + scratchpad). */
size_t nala_graph_ws_bytes(const nala_graph *g);

/* Points every workspace memory at ws (64-byte aligned, at least nala_graph_ws_bytes). */
void nala_graph_bind(nala_graph *g, void *ws);

/* Runs every op in order on stream under the graph's thread count, then waits. No allocation. */
nala_status nala_graph_execute(nala_graph *g, dnnl_stream_t stream, nala_err *err);

/* Runs ops [first, last) only (a model module by module, see nala_model_build), then waits. */
nala_status nala_graph_execute_range(nala_graph *g, dnnl_stream_t stream, int first, int last, nala_err *err);

/* Profiling on/off; clears the totals. Timing waits for each oneDNN op. */
void nala_graph_set_profiling(nala_graph *g, int on);

/* Number of oneDNN ops running a reference (slow) implementation. */
int nala_graph_slow_primitives(const nala_graph *g);

/* oneDNN fixes a primitive's thread count at creation and its OpenMP teams follow the calling
 * thread's nthreads ICV at execution: set it around both, restoring the caller's value. */
int nala_threads_enter(int nthreads);
void nala_threads_leave(int saved);

#endif
