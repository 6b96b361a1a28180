/* Run-time tier choice: CPUID + XGETBV (what the CPU has and what the OS saves), NALA_ISA in the
 * environment forcing a tier. Off x86-64 the compiler never sees CPUID: only the ref tier exists. */
#include "nala/isa.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/kernels/attention.h"

#if NALA_X86_TIERS
#include <cpuid.h>

static unsigned long long read_xcr0(void) {
  unsigned int lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((unsigned long long)hi << 32) | lo;
}

/* NULL when the CPU and OS can run the tier, else the first thing missing (for the message). */
static const char *tier_missing(nala_isa isa) {
  unsigned int a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d))
    return "CPUID leaf 1";
  if (!(c & bit_AVX))
    return "AVX";
  if (!(c & bit_OSXSAVE) || (read_xcr0() & 0x6) != 0x6)
    return "OS support for YMM state (XCR0)";
  unsigned int fma = c & bit_FMA, f16c = c & bit_F16C;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
    return "CPUID leaf 7";
  /* the *_avx2.c files are built with -mavx2 -mfma -mf16c (CMakeLists.txt NALA_AVX2_FLAGS) */
  if (!(b & bit_AVX2))
    return "AVX2";
  if (!fma)
    return "FMA";
  if (!f16c)
    return "F16C";
  if (isa == NALA_ISA_AVX2)
    return NULL;
  /* the *_avx512.c files are built with F, DQ, BW and VL (CMakeLists.txt NALA_AVX512_FLAGS) */
  if (!(b & bit_AVX512F))
    return "AVX-512F";
  if (!(b & bit_AVX512DQ))
    return "AVX-512DQ";
  if (!(b & bit_AVX512BW))
    return "AVX-512BW";
  if (!(b & bit_AVX512VL))
    return "AVX-512VL";
  /* XMM, YMM, opmask and both ZMM halves (XCR0 bits 1, 2, 5, 6, 7) */
  if ((read_xcr0() & 0xE6) != 0xE6)
    return "OS support for ZMM state (XCR0)";
  return NULL;
}

const char *nala_cpu_name(char *buf, size_t n) {
  if (!buf || !n)
    return buf;
  unsigned int r[12] = {0}, a, b, c, d;
  char brand[49] = "unknown x86-64 CPU";
  if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000004u) {
    for (unsigned int i = 0; i < 3; i++)
      __get_cpuid(0x80000002u + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
    memcpy(brand, r, 48);
    brand[48] = 0;
    size_t len = strlen(brand); /* the brand string is padded with spaces */
    while (len && brand[len - 1] == ' ')
      brand[--len] = 0;
  }
  const char *name = brand;
  while (*name == ' ')
    name++;
  unsigned int family = 0, model = 0;
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    family = (a >> 8) & 0xF, model = (a >> 4) & 0xF;
    if (family == 0xF)
      family += (a >> 20) & 0xFF;
    if (family == 0x6 || family >= 0xF)
      model += ((a >> 16) & 0xF) << 4;
  }
  snprintf(buf, n, "%s (family %u model %u)", name, family, model);
  return buf;
}
#else
static const char *tier_missing(nala_isa isa) {
  return isa == NALA_ISA_AVX512 ? "AVX-512F (not an x86-64 CPU)" : "AVX2 (not an x86-64 CPU)";
}

const char *nala_cpu_name(char *buf, size_t n) {
  if (!buf || !n)
    return buf;
  snprintf(buf, n, "non-x86 CPU");
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[256];
  while (f && fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (colon && (!strncmp(line, "model name", 10) || !strncmp(line, "Model", 5))) {
      colon += 1 + (colon[1] == ' ');
      colon[strcspn(colon, "\n")] = 0;
      snprintf(buf, n, "%s", colon);
      break;
    }
  }
  if (f)
    fclose(f);
  return buf;
}
#endif

/* NALA_MAX_ISA caps the tiers reported as present (as ONEDNN_MAX_CPU_ISA does for oneDNN), so an
 * AVX-512 machine can run the whole suite as an AVX2-only one would. NULL when isa is within it. */
static const char *cap_missing(nala_isa isa) {
  const char *cap = getenv("NALA_MAX_ISA");
  nala_isa max;
  if (!cap || !*cap || nala_isa_parse(cap, &max, NULL) || max == NALA_ISA_AUTO || isa <= max)
    return NULL;
  return isa == NALA_ISA_AVX512 ? "AVX-512F (hidden by NALA_MAX_ISA)" : "AVX2 (hidden by NALA_MAX_ISA)";
}

static const char *missing(nala_isa isa) {
  const char *m = cap_missing(isa);
  return m ? m : tier_missing(isa);
}

int nala_isa_supported(nala_isa isa) {
  if (isa == NALA_ISA_REF)
    return 1;
  if (isa != NALA_ISA_AVX2 && isa != NALA_ISA_AVX512)
    return 0;
  return missing(isa) == NULL;
}

nala_isa nala_isa_best(void) {
  if (nala_isa_supported(NALA_ISA_AVX512))
    return NALA_ISA_AVX512;
  return nala_isa_supported(NALA_ISA_AVX2) ? NALA_ISA_AVX2 : NALA_ISA_REF;
}

const char *nala_isa_name(nala_isa isa) {
  switch (isa) {
  case NALA_ISA_AUTO: return "auto";
  case NALA_ISA_REF: return "ref";
  case NALA_ISA_AVX2: return "avx2";
  case NALA_ISA_AVX512: return "avx512";
  }
  return "unknown";
}

nala_status nala_isa_parse(const char *name, nala_isa *out, nala_err *err) {
  static const nala_isa all[] = {NALA_ISA_AUTO, NALA_ISA_REF, NALA_ISA_AVX2, NALA_ISA_AVX512};
  for (size_t i = 0; name && i < sizeof all / sizeof all[0]; i++)
    if (!strcmp(name, nala_isa_name(all[i]))) {
      *out = all[i];
      return NALA_OK;
    }
  return nala_fail(err, NALA_E_ARG, "'%s' is not an instruction-set tier (expected auto, ref, avx2 or avx512)",
                   name ? name : "(null)");
}

nala_status nala_isa_resolve(nala_isa requested, nala_isa *out, nala_err *err) {
  const char *source = "isa";
  const char *env = getenv("NALA_ISA");
  if (requested == NALA_ISA_AUTO && env && *env) {
    source = "NALA_ISA";
    nala_err parse_err;
    if (nala_isa_parse(env, &requested, &parse_err))
      return nala_fail(err, NALA_E_ARG, "NALA_ISA=%s: %s", env, parse_err.msg);
  }
  if (requested == NALA_ISA_AUTO) {
    *out = nala_isa_best();
    return NALA_OK;
  }
  if (requested != NALA_ISA_REF && requested != NALA_ISA_AVX2 && requested != NALA_ISA_AVX512)
    return nala_fail(err, NALA_E_ARG, "isa: %d is not a tier", (int)requested);
  const char *lacks = requested == NALA_ISA_REF ? NULL : missing(requested);
  if (lacks)
    return nala_fail(err, NALA_E_UNSUPPORTED, "%s=%s: this CPU has no %s", source, nala_isa_name(requested), lacks);
  *out = requested;
  return NALA_OK;
}

nala_attn_fn nala_attn_linear_for(nala_isa isa) {
#if NALA_X86_TIERS
  if (isa == NALA_ISA_AVX512)
    return nala_attn_linear_avx512;
  if (isa == NALA_ISA_AVX2)
    return nala_attn_linear_avx2;
#endif
  (void)isa;
  return nala_attn_linear_ref;
}

nala_attn_fn nala_attn_softmax_for(nala_isa isa) {
#if NALA_X86_TIERS
  if (isa == NALA_ISA_AVX512)
    return nala_attn_softmax_avx512;
  if (isa == NALA_ISA_AVX2)
    return nala_attn_softmax_avx2;
#endif
  (void)isa;
  return nala_attn_softmax_ref;
}
