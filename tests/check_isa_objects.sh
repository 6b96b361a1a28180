#!/usr/bin/env bash
# Every object of the nala libraries uses only its tier's registers: *_avx512.c objects may use ZMM
# and opmask registers, *_avx2.c objects YMM (no ZMM, no opmask, no EVEX-only YMM16-31), every other
# object neither. This is what keeps an AVX2-only CPU (or any x86-64, for the rest) from SIGILL,
# checked on whatever machine builds it.
#   check_isa_objects.sh <build dir>
set -euo pipefail
build=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0 checked=0
for lib in "$build"/libnala_*.a; do
  dir="$tmp/$(basename "$lib" .a)"
  mkdir -p "$dir"
  (cd "$dir" && ar x "$lib")
  for obj in "$dir"/*.o; do
    name=$(basename "$obj")
    case "$name" in
      *_avx512.c.o) continue ;;
      *_avx2.c.o) pattern='%zmm|%k[0-7]|%ymm(1[6-9]|2[0-9]|3[01])' ;;
      *) pattern='%ymm|%zmm|%k[0-7]' ;;
    esac
    checked=$((checked + 1))
    hits=$(objdump -d --no-show-raw-insn "$obj" | grep -E "$pattern" | head -3 || true)
    if [ -n "$hits" ]; then
      echo "FAIL $(basename "$lib")/$name uses registers beyond its tier:"
      echo "$hits"
      bad=$((bad + 1))
    fi
  done
done
if [ "$checked" -eq 0 ]; then
  echo "no objects found under $build" >&2
  exit 1
fi
echo "$checked objects checked, $bad with instructions beyond their tier"
[ "$bad" -eq 0 ]
