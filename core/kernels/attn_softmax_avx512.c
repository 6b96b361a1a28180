/* AVX-512 softmax attention: lands after the reference; delegates to it meanwhile. */
#include "core/kernels/attention.h"

nala_status nala_attn_softmax_avx512(const nala_attn_args *a) { return nala_attn_softmax_ref(a); }
