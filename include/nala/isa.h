/* Instruction-set tiers of the hand-written kernels (attention, LayerNorm): one is chosen per model
 * at creation and never changes while the model lives. oneDNN picks its own ISA for convolutions and
 * matmuls (cap it with ONEDNN_MAX_CPU_ISA).
 *
 *   ref     plain C, any CPU (and the only tier off x86-64)
 *   avx2    AVX2 + FMA + F16C with the OS saving YMM state (Haswell, Zen 1-3 and later)
 *   avx512  AVX-512 F/DQ/BW/VL with the OS saving ZMM and opmask state (Skylake-SP, Zen 4 and later)
 *
 * A model asks for NALA_ISA_AUTO (the default of a zeroed options struct): the environment variable
 * NALA_ISA=ref|avx2|avx512 forces a tier when set, else the best tier of the CPU is used. Asking for a
 * tier the CPU lacks, explicitly or through NALA_ISA, is an error (NALA_E_UNSUPPORTED), never SIGILL.
 * NALA_MAX_ISA=ref|avx2 hides the tiers above it, as if the CPU lacked them (with oneDNN's
 * ONEDNN_MAX_CPU_ISA=AVX2 it lets an AVX-512 machine run everything as an AVX2-only one would). */
#ifndef NALA_ISA_H
#define NALA_ISA_H

#include <stddef.h>

#include "nala/status.h"

typedef enum nala_isa { NALA_ISA_AUTO = 0, NALA_ISA_REF, NALA_ISA_AVX2, NALA_ISA_AVX512 } nala_isa;

/* 1 when this CPU and OS can run the tier and NALA_MAX_ISA does not hide it (NALA_ISA_REF always;
 * AUTO is not a tier: 0). */
int nala_isa_supported(nala_isa isa);

/* Best tier this CPU and OS can run. */
nala_isa nala_isa_best(void);

/* Tier a model gets for `requested`: AUTO resolves through NALA_ISA, then the best tier; a tier the
 * CPU lacks or an unknown NALA_ISA value fails with a message naming it ("NALA_ISA=avx512: this CPU
 * has no AVX-512F"). */
nala_status nala_isa_resolve(nala_isa requested, nala_isa *out, nala_err *err);

/* Parses "auto", "ref", "avx2" or "avx512"; anything else is NALA_E_ARG naming the value. */
nala_status nala_isa_parse(const char *name, nala_isa *out, nala_err *err);

/* "auto", "ref", "avx2", "avx512". */
const char *nala_isa_name(nala_isa isa);

/* The CPU's model for reports, e.g. "AMD EPYC (family 25 model 17)"; writes at most n bytes. */
const char *nala_cpu_name(char *buf, size_t n);

#endif
