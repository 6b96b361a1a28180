#!/usr/bin/env bash
# ctest wrapper: runs a test program as an AVX2-only CPU (Zen 3 class) would, at native speed:
# bench/cpuid_mask.so hides AVX-512 by CPUID faulting, so nala's own dispatch (not NALA_MAX_ISA)
# must pick avx2 and skip the avx512 tier. Exit 77 (ctest SKIP_RETURN_CODE) where it cannot: no
# AVX-512 to hide (the plain entry already is this run) or no cpuid_fault (older AMD CPUs, hypervisors that hide it).
#   run_cpuid_masked.sh SHIM REQUIRED_REGEX TEST [ARGS...]
# REQUIRED_REGEX must appear in the output (the suite's line saying it saw AVX2 only, or its skip
# lines): a suite that still saw AVX-512 fails here even if its checks pass.
set -uo pipefail
shim=$1 required=$2
shift 2
grep -m1 '^flags' /proc/cpuinfo | grep -qw avx512f || { echo "no AVX-512 on this CPU: nothing to hide, skipped"; exit 77; }
grep -m1 '^flags' /proc/cpuinfo | grep -qw cpuid_fault || { echo "no cpuid_fault on this CPU: cannot hide AVX-512, skipped"; exit 77; }
probe=$(LD_PRELOAD="$shim" NALA_CPUID_MASK_VERBOSE=1 env true 2>&1)
grep -q 'CPUID faulting on' <<<"$probe" || { echo "cpuid_mask.so did not arm ($probe): skipped"; exit 77; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
LD_PRELOAD="$shim" GLIBC_TUNABLES="glibc.cpu.hwcaps=-AVX512F,-AVX512CD,-AVX512BW,-AVX512DQ,-AVX512VL" "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
if ! grep -qE -- "$required" "$out"; then
  echo "run_cpuid_masked.sh: no line matching '$required': the suite did not see an AVX2-only CPU"
  exit 1
fi
if grep -q '^cpuid_mask:' "$out"; then # the shim's own complaints (handler replaced, ...)
  echo "run_cpuid_masked.sh: the mask reported a problem (lines above)"
  exit 1
fi
exit "$rc"
