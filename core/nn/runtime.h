/* The root every module of one model shares: one oneDNN engine and one ISA choice, made once
 * when the model is created (so a backbone, its neck and its head agree on both). Immutable
 * after create; any number of contexts and threads may use it. */
#ifndef NALA_CORE_NN_RUNTIME_H
#define NALA_CORE_NN_RUNTIME_H

#include <oneapi/dnnl/dnnl.h>

#include "nala/isa.h"
#include "nala/status.h"

/* Convolution algorithm choice (NALA_CONV=auto|direct, read once at nala_rt_create): auto plans
 * 3x3 stride-1 convolutions as Winograd F(4x4, 3x3) where oneDNN has it (AVX-512) and it pays
 * (core/nn/conv_banded.h); direct keeps every convolution on oneDNN's direct kernels (A/B, tests). */
typedef enum nala_conv_algo { NALA_CONV_AUTO = 0, NALA_CONV_DIRECT } nala_conv_algo;

typedef struct nala_rt {
  dnnl_engine_t engine;
  nala_isa isa; /* resolved tier (never AUTO) of the hand-written kernels every module picks */
  nala_conv_algo conv;
} nala_rt;

/* New root with a CPU engine; requested as nala_isa_resolve takes it (AUTO: NALA_ISA or the best).
 * An unknown NALA_CONV value is NALA_E_ARG naming it. */
nala_status nala_rt_create(nala_isa requested, nala_rt **out, nala_err *err);

/* Frees the root; every module and context built on it must be freed first. NULL is a no-op. */
void nala_rt_free(nala_rt *rt);

/* Hands the heap's free pages back to the OS (glibc's malloc_trim; a no-op elsewhere). For the end
 * of a model load: each layer's PyTorch-layout copy is freed after its reorder into oneDNN's
 * format, below the copies that stay, and glibc keeps those holes resident (14 MB of NaLaFormer-T's
 * 70 MB after load; peak RSS of a 512x512 forward 135.7 -> 128.9 MB). Costs ~1 ms, no speed. */
void nala_heap_release(void);

#endif
