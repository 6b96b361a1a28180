/* Seeded weights: deterministic stand-ins for a checkpoint, identical bit for bit to
 * tools/reference/seeded_init.py, so C and PyTorch run the same model without weight files.
 *
 * Per tensor: splitmix64 stream with state0 = seed ^ fnv1a64(key); element i (row-major) is
 * (float)(lo + (hi - lo) * u_i), u_i = (next() >> 40) * 2^-24, in double, rounded once. The range
 * depends on the key (first match wins): .running_var [0.5, 2]; .running_mean [-0.2, 0.2];
 * .gamma_1/.gamma_2 [0.2, 1]; 1-D .weight [0.5, 1.5]; .bias [-0.1, 0.1];
 * .weight with ndim >= 2: [-s, s], s = 1/sqrt(prod(shape[1:])); anything else is not generated. */
#ifndef NALA_SEEDED_INIT_H
#define NALA_SEEDED_INIT_H

#include <stddef.h>
#include <stdint.h>

#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* FNV-1a 64-bit hash of the n bytes at data. */
uint64_t nala_fnv1a64(const void *data, size_t n);

/* Advances the splitmix64 state and returns the next 64-bit output. */
uint64_t nala_splitmix64_next(uint64_t *state);

/* Range [lo, hi] the rules give key with this shape; returns 0 when key is not generated. */
int nala_seeded_range(const char *key, int ndim, const int64_t *shape, double *lo, double *hi);

/* Fills dst (prod(shape) floats) with key's seeded values; NALA_E_ARG naming the key when no rule
 * covers it (RoPE.angle and num_batches_tracked are never generated). */
nala_status nala_seeded_fill(uint64_t seed, const char *key, int ndim, const int64_t *shape, float *dst,
                             nala_err *err);

#ifdef __cplusplus
}
#endif

#endif
