/* The exact (erf) GELU, x * Phi(x) = x/2 * (1 + erf(x / sqrt 2)) as F.gelu / nn.GELU, in place on
 * n floats: plain C (gelu.c, libm's erf in double), AVX2 and AVX-512 (gelu_avx2.c / gelu_avx512.c), picked
 * by nala_gelu_for once per model.
 *
 * Why our own and not oneDNN's gelu_erf post-op: at 512x512 that post-op cost ~18 ms of a ~265 ms
 * NaLaFormer-T forward on one Xeon core (the forward without it: 248 ms), ~0.7 ns an element;
 * these kernels take 0.25 ns (avx512) / 0.3-0.4 ns (avx2), one rational erf and no exp. Run as
 * a pass right after fc1 on its band of rows (still in cache) the net gain measured smaller than
 * that: 2.5% fewer instructions per forward (callgrind, 256x256, stem included) and 1-2% of CPU time at 512x512
 * in back-to-back runs. A pass over a map that does not fit in cache (the stem's 8 MB ones) lost
 * to memory traffic, so the stem keeps the post-op.
 *
 * Accuracy of the vector tiers (tests/test_gelu.c, against double on a dense grid of [-12, 12]):
 * erf is Eigen's odd/even rational approximation on [-4, 4] (generic_fast_erf_float; 3.3e-7
 * absolute at worst), so |error| <= 2e-7 |x| + 1e-7 (1.07e-6 at worst, near |x| = 4); the ref tier
 * is the double result rounded once. Through the backbone fixtures: rel-L2 to PyTorch unchanged
 * (1.64e-6 against 1.60e-6 with oneDNN's post-op, T at 224x224, level 3). */
#ifndef NALA_CORE_NN_GELU_H
#define NALA_CORE_NN_GELU_H

#include <stddef.h>

#include "core/nn/graph.h"
#include "nala/isa.h"

/* x[i] = GELU(x[i]), i < n */
typedef void (*nala_gelu_fn)(float *x, size_t n);

void nala_gelu_ref(float *x, size_t n);
void nala_gelu_avx2(float *x, size_t n);
void nala_gelu_avx512(float *x, size_t n);

/* The fastest tier at most isa that this CPU runs (AUTO: the best; ref off x86-64). */
nala_gelu_fn nala_gelu_for(nala_isa isa);

/* Plans x = GELU(x) on n floats at workspace byte offset off, split among the graph's threads. */
nala_status nala_gelu_op(nala_graph *g, nala_gelu_fn fn, size_t off, size_t n, int bucket, nala_err *err);

#endif
