# Sourced by the bench scripts (after cpu_info.sh): run a command as on an AVX2-only CPU, by
# LD_PRELOADing bench/cpuid_mask.so (CPUID faulting hides AVX-512 from every library in the
# process; bench/cpuid_mask.c says how). See bench/README.md, "The avx2 rows".
#   mask_setup BUILD     sets MASK=on, or MASK=off and MASK_WHY (one line: why, and what instead);
#                        AVX2_MASK=off in the environment turns it off on purpose
#   env "${MASK_ENV[@]}" CMD...   CMD under the mask (MASK_ENV is empty when MASK=off)
#   mask_count FILE      CPUIDs the mask answered, summed over the processes whose stderr is FILE
#   mask_warnings FILE   the mask's own complaints in FILE (unavailable, handler replaced, ...)
MASK_LABEL="AVX-512 hidden by CPUID faulting (this CPU presented as AVX2+FMA only)"
# glibc reads CPUID in ld.so, before any preload runs, to pick its string functions (EVEX ones on
# AVX-512) and the glibc-hwcaps library directories (x86-64-v4): its tunables hide AVX-512 there.
MASK_GLIBC_HWCAPS="glibc.cpu.hwcaps=-AVX512F,-AVX512CD,-AVX512BW,-AVX512DQ,-AVX512VL,-AVX512ER,-AVX512PF"

mask_setup() {
  local so probe
  so="$(cd "$1" 2>/dev/null && pwd)/bench/cpuid_mask.so" # absolute: the peers may change directory
  MASK=off MASK_WHY="" MASK_ENV=()
  if [ "${AVX2_MASK:-auto}" = off ]; then
    MASK_WHY="AVX2_MASK=off"
  elif ! cpu_has avx512f; then
    MASK_WHY="this CPU has no AVX-512: its default rows already are what an AVX2-only CPU runs"
  elif ! cpu_has cpuid_fault; then
    MASK_WHY="this CPU (or its hypervisor) has no cpuid_fault, so AVX-512 cannot be hidden from the peers"
  elif [ ! -f "$so" ]; then
    MASK_WHY="$so is not built (x86-64 Linux, gcc or clang)"
  else
    probe=$(LD_PRELOAD="$so" NALA_CPUID_MASK_VERBOSE=1 env true 2>&1)
    if grep -q 'CPUID faulting on' <<<"$probe"; then
      MASK=on
      MASK_ENV=("LD_PRELOAD=$so${LD_PRELOAD:+:$LD_PRELOAD}" "GLIBC_TUNABLES=${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}$MASK_GLIBC_HWCAPS"
        NALA_CPUID_MASK_VERBOSE=1)
    else
      MASK_WHY="cpuid_mask.so did not arm: $(grep -m1 . <<<"$probe")"
    fi
  fi
}

mask_count() { awk '/^cpuid_mask: .* CPUIDs emulated/ { for (i = 1; i < NF; i++) if ($(i + 1) == "CPUIDs") n += $i } END { print n + 0 }' "$1"; }
mask_warnings() { grep '^cpuid_mask:' "$1" | grep -vE 'CPUID faulting on|CPUIDs emulated' | sort -u; }
