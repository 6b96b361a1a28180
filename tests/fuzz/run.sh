#!/usr/bin/env bash
# Runs each libFuzzer harness (tests/fuzz/fuzz_<name>.c) for SECONDS on its committed corpus
# (tests/fuzz/corpus/<name>/, read-only: new inputs go to a scratch directory) with its dictionary,
# one harness after the other, and prints one line per harness: parser, execs, exec/s, seconds,
# findings. Exits 1 when any harness finds a crash, leak, timeout, oversized allocation or oracle
# failure (the input is kept under $BUILD/fuzz-artifacts/<name>/).
#   tests/fuzz/run.sh [SECONDS] [NAME ...]     (default 30 s, every harness)
# Builds the harnesses first (clang, -DNALA_FUZZ=ON) in $NALA_FUZZ_BUILD (default build-fuzz).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
FUZZ_SECONDS="${1:-30}"
shift || true
BUILD="${NALA_FUZZ_BUILD:-$ROOT/build-fuzz}"
JOBS="${JOBS:-$(nproc)}"

CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DNALA_FUZZ=ON >/dev/null
cmake --build "$BUILD" --target fuzzers -j "$JOBS" >/dev/null

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for src in "$ROOT"/tests/fuzz/fuzz_*.c; do
    n="$(basename "$src" .c)"
    names+=("${n#fuzz_}")
  done
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failed=0
printf '%-12s %12s %10s %8s %9s\n' parser execs exec/s seconds findings
for name in "${names[@]}"; do
  bin="$BUILD/tests/fuzz/fuzz_$name"
  corpus="$ROOT/tests/fuzz/corpus/$name"
  artifacts="$BUILD/fuzz-artifacts/$name"
  mkdir -p "$scratch/$name" "$artifacts" "$corpus"
  rm -f "$artifacts"/*
  dict=()
  [ -f "$ROOT/tests/fuzz/$name.dict" ] && dict=("-dict=$ROOT/tests/fuzz/$name.dict")
  log="$BUILD/fuzz-artifacts/$name.log"
  start=$(date +%s)
  status=0
  # -timeout: one input taking 10 s is a finding; -rss_limit_mb also caps any single malloc.
  "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${dict[@]}" "$scratch/$name" "$corpus" >"$log" 2>&1 || status=$?
  seconds=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  findings=$(find "$artifacts" -type f | wc -l)
  if [ "$status" -ne 0 ] && [ "$findings" -eq 0 ]; then findings=1; fi
  printf '%-12s %12s %10s %8s %9s\n' "$name" "${execs:-?}" "${rate:-?}" "$seconds" "$findings"
  if [ "$findings" -ne 0 ]; then
    failed=1
    echo "fuzz_$name: finding (exit $status), log $log, inputs in $artifacts:" >&2
    grep -E "ERROR|oracle failed|runtime error|SUMMARY" "$log" | head -5 >&2 || true
    ls "$artifacts" >&2
  fi
done
exit "$failed"
