/* AVX2 softmax attention: placeholder that runs the reference until the AVX2 kernel lands. */
#include "core/kernels/attn_internal.h"

nala_status nala_attn_softmax_avx2(const nala_attn_args *a) { return nala_attn_softmax_ref(a); }
