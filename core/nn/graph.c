/* The op list, its workspace arena, binding and execution (see graph.h). */
#include "core/nn/graph.h"

#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn/dnnl_util.h"

struct nala_graph_weights {
  dnnl_memory_t source, copy;
  dnnl_memory_desc_t md;
};

static size_t align_up(size_t n) { return (n + NALA_GRAPH_ALIGN - 1) / NALA_GRAPH_ALIGN * NALA_GRAPH_ALIGN; }

void nala_graph_init(nala_graph *g, dnnl_engine_t engine, int nthreads) {
  memset(g, 0, sizeof *g);
  g->engine = engine;
  g->nthreads = nthreads;
}

void nala_graph_release(nala_graph *g) {
  for (int i = 0; i < g->n_ops; i++) {
    nala_graph_op *op = &g->ops[i];
    for (int a = 0; a < op->nargs; a++)
      if (op->mem_off[a] != NALA_MEM_MODEL && op->args[a].memory)
        dnnl_memory_destroy(op->args[a].memory);
    if (op->prim)
      dnnl_primitive_destroy(op->prim);
  }
  for (int i = 0; i < g->n_owned; i++)
    free(g->owned[i]);
  for (int i = 0; i < g->n_weights; i++)
    dnnl_memory_destroy(g->weights[i].copy);
  free(g->weights);
  free(g->ops);
  free(g->owned);
  free(g->live);
  nala_graph_init(g, g->engine, g->nthreads);
}

/* End of the regions: the temporary area, then the scratchpad follow. */
static size_t arena_end(const nala_graph *g) { return align_up(g->peak); }

/* Where a region of size bytes goes: the smallest gap between live regions (at or above the fence)
 * that holds it, else on top of the highest. *at: the index in the live list it takes. */
static size_t place(const nala_graph *g, size_t size, int *at) {
  size_t best = SIZE_MAX, best_gap = SIZE_MAX, prev_end = 0;
  int best_at = g->n_live;
  for (int i = 0; i < g->n_live; i++) {
    const nala_graph_block *b = &g->live[i];
    size_t lo = prev_end > g->fence ? prev_end : g->fence;
    if (b->off >= lo && b->off - lo >= size && b->off - lo < best_gap)
      best = lo, best_gap = b->off - lo, best_at = i;
    prev_end = b->off + b->bytes > prev_end ? b->off + b->bytes : prev_end;
  }
  if (best == SIZE_MAX)
    best = prev_end > g->fence ? prev_end : g->fence, best_at = g->n_live;
  *at = best_at;
  return best;
}

static int grow_live(nala_graph *g) {
  if (g->n_live < g->cap_live)
    return 1;
  int cap = g->cap_live ? 2 * g->cap_live : 256;
  nala_graph_block *live = realloc(g->live, (size_t)cap * sizeof *live);
  if (!live)
    return 0;
  g->live = live;
  g->cap_live = cap;
  return 1;
}

size_t nala_graph_region(nala_graph *g, size_t bytes) {
  size_t size = align_up(bytes), seq = g->n_taken++;
  if (!size) /* nothing to hold: any aligned offset will do */
    return 0;
  if (!grow_live(g)) {
    /* no memory to track it: above everything, never handed back (correct, only larger) */
    size_t off = arena_end(g) > g->fence ? arena_end(g) : g->fence;
    g->peak = g->fence = off + size;
    return off;
  }
  int at;
  size_t off = place(g, size, &at);
  memmove(&g->live[at + 1], &g->live[at], (size_t)(g->n_live - at) * sizeof *g->live);
  g->live[at] = (nala_graph_block){off, size, seq};
  g->n_live++;
  if (off + size > g->peak)
    g->peak = off + size;
  return off;
}

static void drop_live(nala_graph *g, int i) {
  memmove(&g->live[i], &g->live[i + 1], (size_t)(g->n_live - i - 1) * sizeof *g->live);
  g->n_live--;
}

void nala_graph_free(nala_graph *g, size_t off) {
  for (int i = 0; i < g->n_live; i++)
    if (g->live[i].off == off) {
      drop_live(g, i);
      return;
    }
}

size_t nala_graph_mark(const nala_graph *g) { return g->n_taken; }

void nala_graph_rewind(nala_graph *g, size_t mark) {
  for (int i = g->n_live - 1; i >= 0; i--)
    if (g->live[i].seq >= mark)
      drop_live(g, i);
}

/* Bytes [lo, hi) that map f spans (a channel slice spans from its first channel to its last). */
static void feat_span(const nala_feat *f, size_t *lo, size_t *hi) {
  size_t px = (size_t)f->h * f->w;
  *lo = f->off;
  *hi = px && f->c > 0 ? f->off + ((px - 1) * (size_t)nala_feat_ld(f) + (size_t)f->c) * sizeof(float) : f->off;
}

void nala_graph_keep_only(nala_graph *g, size_t mark, const nala_feat *live, int n) {
  for (int i = g->n_live - 1; i >= 0; i--) {
    const nala_graph_block *b = &g->live[i];
    if (b->seq < mark)
      continue;
    int used = 0;
    for (int k = 0; k < n && !used; k++) {
      size_t lo, hi;
      feat_span(&live[k], &lo, &hi);
      used = lo < b->off + b->bytes && (hi > b->off || (hi == lo && lo >= b->off));
    }
    if (!used)
      drop_live(g, i);
  }
}

void nala_graph_fence(nala_graph *g) { g->fence = g->peak; }

size_t nala_graph_temp(nala_graph *g, size_t at, size_t bytes) {
  at = align_up(at);
  if (at + align_up(bytes) > g->max_temp)
    g->max_temp = at + align_up(bytes);
  return NALA_MEM_TEMP + at;
}

nala_feat nala_graph_feat(nala_graph *g, int c, int h, int w) {
  nala_feat f = {.c = c, .h = h, .w = w, .off = nala_graph_region(g, (size_t)c * h * w * sizeof(float))};
  return f;
}

int nala_graph_bucket(nala_graph *g, const char *name) {
  for (int i = 0; i < g->n_buckets; i++)
    if (!strcmp(g->bucket_names[i], name))
      return i;
  if (g->n_buckets == NALA_GRAPH_MAX_BUCKETS)
    return -1;
  g->bucket_names[g->n_buckets] = name;
  return g->n_buckets++;
}

double nala_graph_bucket_ms(const nala_graph *g, const char *name) {
  for (int i = 0; i < g->n_buckets; i++)
    if (!strcmp(g->bucket_names[i], name))
      return g->bucket_ms[i];
  return 0;
}

void *nala_graph_alloc(nala_graph *g, size_t bytes, nala_err *err) {
  if (g->n_owned == g->cap_owned) {
    int cap = g->cap_owned ? 2 * g->cap_owned : 8;
    void **owned = realloc(g->owned, (size_t)cap * sizeof *owned);
    if (!owned) {
      nala_fail(err, NALA_E_NOMEM, "out of memory for the plan");
      return NULL;
    }
    g->owned = owned;
    g->cap_owned = cap;
  }
  void *p = malloc(bytes ? bytes : 1);
  if (!p) {
    nala_fail(err, NALA_E_NOMEM, "out of memory for a %zu-byte plan table", bytes);
    return NULL;
  }
  g->owned[g->n_owned++] = p;
  return p;
}

/* Reorders source (format from) into a new memory of format want. oneDNN reorders some formats
 * (Winograd's) only from plain weights: then through a plain oihw / goihw copy. */
static nala_status reorder_weights(dnnl_engine_t eng, dnnl_memory_t source, const dnnl_memory_desc_t *want,
                                   dnnl_memory_t *out, nala_err *err) {
  const dnnl_memory_desc_t *from = NULL;
  void *data = NULL;
  NALA_DNNL(dnnl_memory_get_memory_desc(source, &from), err);
  NALA_DNNL(dnnl_memory_get_data_handle(source, &data), err);
  dnnl_primitive_desc_t probe = NULL;
  if (dnnl_reorder_primitive_desc_create(&probe, from, eng, want, eng, NULL) == dnnl_success) {
    dnnl_primitive_desc_destroy(probe);
    return nala_dnnl_reorder_new(eng, from, data, want, out, err);
  }
  if (from->ndims != 4 && from->ndims != 5)
    return nala_fail(err, NALA_E_BACKEND, "oneDNN cannot reorder %d-d weights into the format asked", from->ndims);
  dnnl_memory_desc_t plain_md;
  dnnl_memory_desc_init_by_tag(&plain_md, from->ndims, from->dims, dnnl_f32, from->ndims == 4 ? dnnl_oihw : dnnl_goihw);
  dnnl_memory_t plain = NULL;
  NALA_CHECK(nala_dnnl_reorder_new(eng, from, data, &plain_md, &plain, err));
  void *plain_data = NULL;
  nala_status st = NALA_OK;
  if (dnnl_memory_get_data_handle(plain, &plain_data) != dnnl_success)
    st = nala_fail(err, NALA_E_BACKEND, "oneDNN: no data in the plain weights copy");
  if (!st)
    st = nala_dnnl_reorder_new(eng, &plain_md, plain_data, want, out, err);
  dnnl_memory_destroy(plain);
  return st;
}

/* Room for one more entry in the plan's weights list. */
static nala_status grow_weights(nala_graph *g, nala_err *err) {
  if (g->n_weights < g->cap_weights)
    return NALA_OK;
  int cap = g->cap_weights ? 2 * g->cap_weights : 8;
  struct nala_graph_weights *w = realloc(g->weights, (size_t)cap * sizeof *w);
  if (!w)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for the plan's weights list");
  g->weights = w;
  g->cap_weights = cap;
  return NALA_OK;
}

nala_status nala_graph_weights(nala_graph *g, dnnl_memory_t source, const dnnl_memory_desc_t *want,
                               dnnl_memory_t *out, nala_err *err) {
  const dnnl_memory_desc_t *have = NULL;
  NALA_DNNL(dnnl_memory_get_memory_desc(source, &have), err);
  if (dnnl_memory_desc_equal(have, want)) {
    *out = source;
    return NALA_OK;
  }
  for (int i = 0; i < g->n_weights; i++)
    if (g->weights[i].source == source && dnnl_memory_desc_equal(&g->weights[i].md, want)) {
      *out = g->weights[i].copy;
      return NALA_OK;
    }
  NALA_CHECK(grow_weights(g, err));
  dnnl_memory_t copy = NULL;
  NALA_CHECK(reorder_weights(g->engine, source, want, &copy, err));
  g->weights[g->n_weights++] = (struct nala_graph_weights){.source = source, .copy = copy, .md = *want};
  *out = copy;
  return NALA_OK;
}

nala_status nala_graph_weights_derived(nala_graph *g, dnnl_memory_t source, const dnnl_memory_desc_t *plain_md,
                                       const dnnl_memory_desc_t *want, nala_weights_fill_fn fill, const void *ctx,
                                       dnnl_memory_t *out, nala_err *err) {
  for (int i = 0; i < g->n_weights; i++)
    if (g->weights[i].source == source && dnnl_memory_desc_equal(&g->weights[i].md, want)) {
      *out = g->weights[i].copy;
      return NALA_OK;
    }
  NALA_CHECK(grow_weights(g, err));
  dnnl_memory_t plain = NULL, copy = NULL;
  NALA_CHECK(reorder_weights(g->engine, source, plain_md, &plain, err));
  void *plain_data = NULL, *copy_data = NULL;
  nala_status st = NALA_OK;
  dnnl_status_t ds = dnnl_memory_create(&copy, want, g->engine, DNNL_MEMORY_ALLOCATE);
  if (ds != dnnl_success) {
    copy = NULL;
    st = nala_dnnl_status(ds, "derived weights memory", err);
  }
  if (!st && (dnnl_memory_get_data_handle(plain, &plain_data) != dnnl_success ||
              dnnl_memory_get_data_handle(copy, &copy_data) != dnnl_success || !plain_data || !copy_data))
    st = nala_fail(err, NALA_E_BACKEND, "oneDNN: no data in the derived weights' memories");
  if (!st)
    fill(plain_data, copy_data, ctx);
  dnnl_memory_destroy(plain);
  if (st) {
    dnnl_memory_destroy(copy);
    return st;
  }
  g->weights[g->n_weights++] = (struct nala_graph_weights){.source = source, .copy = copy, .md = *want};
  *out = copy;
  return NALA_OK;
}

int nala_graph_holds_weights(const nala_graph *g, dnnl_memory_t source, const dnnl_memory_desc_t *want) {
  const dnnl_memory_desc_t *have = NULL;
  if (dnnl_memory_get_memory_desc(source, &have) == dnnl_success && dnnl_memory_desc_equal(have, want))
    return 1;
  for (int i = 0; i < g->n_weights; i++)
    if (g->weights[i].source == source && dnnl_memory_desc_equal(&g->weights[i].md, want))
      return 1;
  return 0;
}

size_t nala_graph_weights_bytes(const nala_graph *g) {
  size_t bytes = 0;
  for (int i = 0; i < g->n_weights; i++)
    bytes += dnnl_memory_desc_get_size(&g->weights[i].md);
  return bytes;
}

static nala_graph_op *push_op(nala_graph *g, nala_err *err) {
  if (g->n_ops == g->cap_ops) {
    int cap = g->cap_ops ? 2 * g->cap_ops : 64;
    nala_graph_op *ops = realloc(g->ops, (size_t)cap * sizeof *ops);
    if (!ops) {
      nala_fail(err, NALA_E_NOMEM, "out of memory for the plan");
      return NULL;
    }
    g->ops = ops;
    g->cap_ops = cap;
  }
  nala_graph_op *op = &g->ops[g->n_ops++];
  memset(op, 0, sizeof *op);
  return op;
}

static nala_status add_mem(nala_graph *g, nala_graph_op *op, int arg, const dnnl_memory_desc_t *md, size_t off,
                           dnnl_memory_t given, nala_err *err) {
  dnnl_memory_t mem = given;
  if (off != NALA_MEM_MODEL && off != NALA_MEM_PLAN)
    NALA_DNNL(dnnl_memory_create(&mem, md, g->engine, DNNL_MEMORY_NONE), err);
  op->args[op->nargs].arg = arg;
  op->args[op->nargs].memory = mem;
  op->mem_off[op->nargs] = off;
  op->nargs++;
  return NALA_OK;
}

static const dnnl_memory_desc_t *arg_md(dnnl_primitive_desc_t pd, int arg) {
  return dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
}

nala_status nala_graph_add_dnnl(nala_graph *g, dnnl_primitive_desc_t pd, const nala_dnnl_arg *args, int nargs,
                                int bucket, nala_err *err) {
  nala_status st = NALA_OK;
  const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  size_t scratch = sp ? dnnl_memory_desc_get_size(sp) : 0;
  int added = 0;
  nala_graph_op *op = NULL;
  if (nargs + 1 > NALA_GRAPH_MAX_ARGS)
    st = nala_fail(err, NALA_E_ARG, "oneDNN op with %d args (at most %d)", nargs, NALA_GRAPH_MAX_ARGS - 1);
  else if (!(op = push_op(g, err)))
    st = NALA_E_NOMEM;
  if (!st) {
    op->bucket = bucket;
    dnnl_status_t ds = dnnl_primitive_create(&op->prim, pd);
    if (ds != dnnl_success) {
      op->prim = NULL;
      st = nala_dnnl_status(ds, "dnnl_primitive_create", err);
    }
  }
  while (!st && added < nargs) {
    st = add_mem(g, op, args[added].arg, arg_md(pd, args[added].arg), args[added].off, args[added].memory, err);
    added += !st;
  }
  if (!st && scratch) {
    st = add_mem(g, op, DNNL_ARG_SCRATCHPAD, sp, NALA_MEM_SCRATCH, NULL, err);
    if (scratch > g->max_scratch)
      g->max_scratch = scratch;
  }
  /* Plan-owned memories the op did not take are freed here, so the caller never has to. */
  for (int i = added; st && i < nargs; i++)
    if (args[i].off == NALA_MEM_PLAN && args[i].memory)
      dnnl_memory_destroy(args[i].memory);
  dnnl_primitive_desc_destroy(pd);
  return st;
}

nala_status nala_graph_add_kernel(nala_graph *g, nala_kernel_fn fn, const void *args, size_t size, int bucket,
                                  nala_err *err) {
  if (size > NALA_GRAPH_KERNEL_ARGS)
    return nala_fail(err, NALA_E_ARG, "kernel arguments of %zu bytes (at most %d)", size, NALA_GRAPH_KERNEL_ARGS);
  nala_graph_op *op = push_op(g, err);
  if (!op)
    return NALA_E_NOMEM;
  op->fn = fn;
  op->bucket = bucket;
  memcpy(op->kargs, args, size);
  return NALA_OK;
}

nala_status nala_graph_add_kernel_temp(nala_graph *g, nala_kernel_fn fn, const void *args, size_t size,
                                       const size_t *fields, int n_fields, int bucket, nala_err *err) {
  if (n_fields < 0 || n_fields > NALA_GRAPH_MAX_ARGS)
    return nala_fail(err, NALA_E_ARG, "kernel with %d workspace fields (at most %d)", n_fields, NALA_GRAPH_MAX_ARGS);
  for (int i = 0; i < n_fields; i++)
    if (fields[i] + sizeof(size_t) > size)
      return nala_fail(err, NALA_E_ARG, "kernel workspace field at byte %zu outside its %zu bytes of args", fields[i],
                       size);
  NALA_CHECK(nala_graph_add_kernel(g, fn, args, size, bucket, err));
  /* A kernel op's args[] / mem_off[] (unused otherwise) remember each field's place and value;
   * memory stays NULL, so release has nothing to destroy. */
  nala_graph_op *op = &g->ops[g->n_ops - 1];
  for (int i = 0; i < n_fields; i++) {
    op->args[i].arg = (int)fields[i];
    op->args[i].memory = NULL;
    memcpy(&op->mem_off[i], op->kargs + fields[i], sizeof(size_t));
  }
  op->nargs = n_fields;
  return NALA_OK;
}

nala_status nala_graph_gate_since(nala_graph *g, int first, size_t count_off, int lo, int hi, nala_err *err) {
  if (first < 0 || first >= g->n_ops || count_off % sizeof(int32_t) || lo >= hi)
    return nala_fail(err, NALA_E_ARG, "graph gate: ops [%d, %d), count at byte %zu, range (%d, %d]", first, g->n_ops,
                     count_off, lo, hi);
  for (int i = first; i < g->n_ops; i++) {
    nala_graph_op *op = &g->ops[i];
    op->gated = 1;
    op->gate_off = count_off;
    op->gate_lo = lo;
    op->gate_hi = hi;
  }
  return NALA_OK;
}

nala_status nala_graph_gate_last(nala_graph *g, size_t count_off, int lo, int hi, nala_err *err) {
  return nala_graph_gate_since(g, g->n_ops - 1, count_off, lo, hi, err);
}

size_t nala_graph_ws_bytes(const nala_graph *g) { return arena_end(g) + g->max_temp + align_up(g->max_scratch); }

void nala_graph_bind(nala_graph *g, void *ws) {
  g->ws = ws;
  size_t temp_off = arena_end(g), scratch_off = temp_off + g->max_temp;
  for (int i = 0; i < g->n_ops; i++) {
    nala_graph_op *op = &g->ops[i];
    for (int a = 0; a < op->nargs; a++) {
      size_t off = op->mem_off[a];
      if (off == NALA_MEM_SCRATCH)
        off = scratch_off;
      else if (off >= NALA_MEM_SCRATCH)
        continue;
      else if (off >= NALA_MEM_TEMP)
        off = temp_off + (off - NALA_MEM_TEMP);
      if (op->fn) {
        memcpy(op->kargs + op->args[a].arg, &off, sizeof off);
        continue;
      }
      dnnl_memory_set_data_handle(op->args[a].memory, (char *)ws + off);
    }
  }
}

int nala_threads_enter(int nthreads) {
  int saved = omp_get_max_threads();
  omp_set_num_threads(nthreads);
  return saved;
}

void nala_threads_leave(int saved) { omp_set_num_threads(saved); }

static nala_status run(nala_graph *g, dnnl_stream_t stream, int first, int last, nala_err *err) {
  for (int i = first; i < last; i++) {
    const nala_graph_op *op = &g->ops[i];
    if (op->gated) {
      int32_t count;
      memcpy(&count, g->ws + op->gate_off, sizeof count);
      if (count <= op->gate_lo || count > op->gate_hi)
        continue;
    }
    double t0 = g->profiling ? omp_get_wtime() : 0;
    if (op->fn) {
      NALA_CHECK(op->fn(op->kargs, g->ws, g->nthreads, err));
    } else {
      dnnl_status_t ds = dnnl_primitive_execute(op->prim, stream, op->nargs, op->args);
      if (ds != dnnl_success)
        return nala_dnnl_status(ds, "dnnl_primitive_execute", err);
    }
    if (g->profiling && op->bucket >= 0) {
      if (!op->fn)
        dnnl_stream_wait(stream);
      g->bucket_ms[op->bucket] += 1e3 * (omp_get_wtime() - t0);
    }
  }
  dnnl_status_t ds = dnnl_stream_wait(stream);
  if (ds != dnnl_success)
    return nala_dnnl_status(ds, "dnnl_stream_wait", err);
  return NALA_OK;
}

nala_status nala_graph_execute(nala_graph *g, dnnl_stream_t stream, nala_err *err) {
  if (!g->ws)
    return nala_fail(err, NALA_E_STATE, "graph has no workspace bound");
  int saved = nala_threads_enter(g->nthreads);
  nala_status st = run(g, stream, 0, g->n_ops, err);
  nala_threads_leave(saved);
  return st;
}

nala_status nala_graph_execute_range(nala_graph *g, dnnl_stream_t stream, int first, int last, nala_err *err) {
  if (!g->ws)
    return nala_fail(err, NALA_E_STATE, "graph has no workspace bound");
  if (first < 0 || last > g->n_ops || first > last)
    return nala_fail(err, NALA_E_ARG, "graph op range [%d, %d) outside the %d ops", first, last, g->n_ops);
  int saved = nala_threads_enter(g->nthreads);
  nala_status st = run(g, stream, first, last, err);
  nala_threads_leave(saved);
  return st;
}

void nala_graph_set_profiling(nala_graph *g, int on) {
  g->profiling = on;
  memset(g->bucket_ms, 0, sizeof g->bucket_ms);
}

int nala_graph_slow_primitives(const nala_graph *g) {
  int slow = 0;
  for (int i = 0; i < g->n_ops; i++) {
    const_dnnl_primitive_desc_t pd = NULL;
    if (!g->ops[i].fn && dnnl_primitive_get_primitive_desc(g->ops[i].prim, &pd) == dnnl_success &&
        nala_dnnl_is_ref(pd))
      slow++;
  }
  return slow;
}
