/* The root every module of one model shares: one oneDNN engine and one ISA choice, made once
 * when the model is created (so a backbone, its neck and its head agree on both). Immutable
 * after create; any number of contexts and threads may use it. */
#ifndef NALA_CORE_NN_RUNTIME_H
#define NALA_CORE_NN_RUNTIME_H

#include <oneapi/dnnl/dnnl.h>

#include "nala/isa.h"
#include "nala/status.h"

typedef struct nala_rt {
  dnnl_engine_t engine;
  nala_isa isa; /* resolved tier (never AUTO) of the hand-written kernels every module picks */
} nala_rt;

/* New root with a CPU engine; requested as nala_isa_resolve takes it (AUTO: NALA_ISA or the best). */
nala_status nala_rt_create(nala_isa requested, nala_rt **out, nala_err *err);

/* Frees the root; every module and context built on it must be freed first. NULL is a no-op. */
void nala_rt_free(nala_rt *rt);

#endif
