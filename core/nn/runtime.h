/* The root every module of one model shares: one oneDNN engine and one ISA choice, made once
 * when the model is created (so a backbone, its neck and its head agree on both). Immutable
 * after create; any number of contexts and threads may use it. */
#ifndef NALA_CORE_NN_RUNTIME_H
#define NALA_CORE_NN_RUNTIME_H

#include <oneapi/dnnl/dnnl.h>

#include "nala/isa.h"
#include "nala/status.h"

/* Convolution algorithm choice (NALA_CONV=auto|direct|blocked|wino, read once at nala_rt_create)
 * for 3x3 stride-1 convolutions where banding pays (core/nn/conv_banded.h):
 *   auto     oneDNN's Winograd F(4x4, 3x3) on AVX-512; nala's own (core/nn/conv_wino.h) on AVX2
 *   direct   every convolution on oneDNN's NHWC kernels (A/B, tests)
 *   blocked  oneDNN's blocked kernels only: its Winograd on AVX-512, direct nChw8c on AVX2 (the
 *            AVX2 choice before nala had its own Winograd)
 *   wino     nala's Winograd on any tier (its plain-C transforms under NALA_ISA=ref) */
typedef enum nala_conv_algo { NALA_CONV_AUTO = 0, NALA_CONV_DIRECT, NALA_CONV_BLOCKED, NALA_CONV_WINO } nala_conv_algo;

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
