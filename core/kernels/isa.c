/* Run-time ISA choice: CPUID + XGETBV, with NALA_ISA in the environment overriding it. */
#include <cpuid.h>
#include <stdlib.h>
#include <string.h>

#include "core/kernels/attention.h"

static unsigned long long read_xcr0(void) {
  unsigned int lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((unsigned long long)hi << 32) | lo;
}

int nala_isa_has_avx512(void) {
  unsigned int a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
    return 0;
  /* the OS must save XMM, YMM, opmask and both ZMM halves (XCR0 bits 1, 2, 5, 6, 7) */
  if ((read_xcr0() & 0xE6) != 0xE6)
    return 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
    return 0;
  /* the *_avx512.c files are built with F, DQ, BW and VL (CMakeLists.txt NALA_AVX512_FLAGS) */
  unsigned int need = bit_AVX512F | bit_AVX512DQ | bit_AVX512BW | bit_AVX512VL;
  return (b & need) == need;
}

nala_isa nala_isa_detect(void) {
  const char *force = getenv("NALA_ISA");
  if (force && !strcmp(force, "ref"))
    return NALA_ISA_REF;
  return nala_isa_has_avx512() ? NALA_ISA_AVX512 : NALA_ISA_REF;
}

const char *nala_isa_name(nala_isa isa) { return isa == NALA_ISA_AVX512 ? "avx512" : "ref"; }

nala_attn_fn nala_attn_linear_for(nala_isa isa) {
  return isa == NALA_ISA_AVX512 ? nala_attn_linear_avx512 : nala_attn_linear_ref;
}

nala_attn_fn nala_attn_softmax_for(nala_isa isa) {
  return isa == NALA_ISA_AVX512 ? nala_attn_softmax_avx512 : nala_attn_softmax_ref;
}
