#!/usr/bin/env bash
# Long fuzzing run: each libFuzzer harness in turn for SECONDS (default 480) at the lowest CPU
# priority, then a table of parser, execs, exec/s, seconds and findings (tests/fuzz/run.sh does the
# work; CI runs the same harnesses for 30 s each). Findings are kept under build-fuzz/fuzz-artifacts/.
#   bash bench/fuzz.sh [SECONDS] [NAME ...]
set -euo pipefail
cd "$(dirname "$0")/.."
echo "fuzz run: $(date -u '+%Y-%m-%d %H:%M UTC'), ${1:-480} s per harness, $(nproc) cores"
exec nice -n 19 bash tests/fuzz/run.sh "${1:-480}" "${@:2}"
