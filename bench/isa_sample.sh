#!/usr/bin/env bash
# What vector ISA a running program really executes, whatever it says about itself: runs CMD, and
# while it runs stops it SAMPLES times with gdb and disassembles the instruction every thread is
# on (JIT code included: oneDNN's, OpenVINO's). Used to check that an engine under
# bench/cpuid_mask.so runs no AVX-512 (bench/README.md, "The avx2 rows").
#   bash bench/isa_sample.sh [-n SAMPLES] [-d DELAY_S] [-i INTERVAL_S] -- CMD [ARGS...]
# Prints one line: samples=<threads x stops> vector=<n> avx512=<n> ymm=<n> xmm=<n>, then the most
# common vector instructions. avx512 counts an instruction naming a zmm, an opmask (k0-k7) or
# xmm/ymm16-31 (EVEX only). Threads asleep in the kernel land on a syscall and count as non-vector.
# A sample shows where time goes, so a short AVX-512 path (a tail loop) can be missed; 40 stops of
# a forward-bound loop give a few hundred instructions. Needs gdb and ptrace rights on the child.
set -uo pipefail
samples=40 delay=3 interval=0.25
while [ $# -gt 0 ]; do
  case $1 in
    -n) samples=$2; shift 2 ;;
    -d) delay=$2; shift 2 ;;
    -i) interval=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: isa_sample.sh [-n N] [-d S] [-i S] -- CMD..." >&2; exit 2; }
command -v gdb >/dev/null || { echo "isa_sample.sh: gdb not found" >&2; exit 2; }
log=$(mktemp)
"$@" >"$log.out" 2>&1 &
pid=$!
sleep "$delay"
for _ in $(seq "$samples"); do
  kill -0 "$pid" 2>/dev/null || break
  # the child's CPUID faults are its own business: pass them on without stopping
  env -u LD_PRELOAD timeout 20 gdb -q -batch -nx -p "$pid" -ex 'set auto-solib-add off' -ex 'handle SIGSEGV nostop noprint pass' \
    -ex 'thread apply all x/i $pc' 2>/dev/null | grep '^=>' >>"$log"
  sleep "$interval"
done
wait "$pid"
rc=$?
awk -v rc="$rc" '{
    sub(/^=> *0x[0-9a-f]+( <[^>]*>)?:[ \t]*/, "");
    n++;
    if ($0 !~ /mm[0-9]/ && $0 !~ /%k[0-7]/) next;
    vec++;
    op = $1;
    if ($0 ~ /zmm|%k[0-7]|[xy]mm(1[6-9]|2[0-9]|3[01])/) { z++; cls = "avx512" } else if ($0 ~ /ymm/) { y++; cls = "ymm" } else { x++; cls = "xmm" }
    ops[cls " " op]++
  } END {
    printf "samples=%d vector=%d avx512=%d ymm=%d xmm=%d exit=%d\n", n, vec, z, y, x, rc;
    for (o in ops) printf "  %6d %s\n", ops[o], o | "sort -rn | head -8"
  }' "$log"
tail -3 "$log.out" | sed 's/^/  | /'
rm -f "$log" "$log.out"
exit "$rc"
