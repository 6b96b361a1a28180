#!/usr/bin/env bash
# Attention alone (dim 64, one head): nala's NaLa and softmax kernels vs PyTorch's formulas
# (bench/torch_attention.py) at N = 4096 / 16384 / 65536 tokens, each run in a fresh process so
# peak RSS is per configuration. Prints a table, NaLa ns/token flatness across N (goal: within
# 20%) and the peak-memory reduction vs a materialised N x N softmax (goal: >= 90% at 65,536).
#   bash bench/attention.sh            (after building: cmake --build build --target nala)
# Environment: NALA_BIN (default build/nala), THREADS (1), RUNS (10, NaLa), SOFTMAX_RUNS (3),
#   TOKENS ("4096 16384 65536"), PYTHON (/usr/bin/python3), NALA_ISA (ref|avx2|avx512: force a
#   tier; the header says which tier each kernel ran and on which CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
NALA_BIN=${NALA_BIN:-build/nala}
THREADS=${THREADS:-1}
RUNS=${RUNS:-10}
SOFTMAX_RUNS=${SOFTMAX_RUNS:-3}
TOKENS=${TOKENS:-"4096 16384 65536"}
PYTHON=${PYTHON:-/usr/bin/python3}
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=1
source bench/cpu_info.sh
blas_core=$(torch_blas_core "$PYTHON")
blas_env=$(torch_blas_env "$blas_core" "$([ -n "${LD_PRELOAD:-}" ] && echo masked)")

if [ ! -x "$NALA_BIN" ]; then
  echo "attention.sh: $NALA_BIN not found; build it first (cmake --build build --target nala)" >&2
  exit 1
fi
have_torch=1
if [ ! -f bench/torch_attention.py ] || ! "$PYTHON" -c "import torch" 2>/dev/null; then
  echo "attention.sh: bench/torch_attention.py or PyTorch unavailable: PyTorch columns skipped"
  have_torch=0
fi

# field <key> <line>: value of key=value in a line ("nan" when absent)
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2" | head -1 | grep . || echo nan; }
last_line() { tail -n 1 <<<"$1"; }
kind_line() { grep -m1 '^kind=' <<<"$1" || true; } # the per-kernel line (nala prints its tier line first)

declare -A tier_of
declare -A nala_ms nala_ns nala_min_ns nala_cpu_ns nala_rss sm_ms sm_rss t_nala_ms t_sm_ms t_sm_rss
for n in $TOKENS; do
  out=$("$NALA_BIN" bench attention --kind linear --tokens "$n" --dim 64 --heads 1 --threads "$THREADS" --runs "$RUNS")
  kind_line "$out"
  tier_of[linear]=$(nala_tier "$out")
  l=$(last_line "$out")
  nala_ms[$n]=$(field median_ms "$l")
  nala_ns[$n]=$(field ns_per_token "$(kind_line "$out")")
  nala_cpu_ns[$n]=$(field cpu_ns_per_token "$(kind_line "$out")")
  nala_min_ns[$n]=$(awk -v m="$(field min_ms "$(kind_line "$out")")" -v n="$n" 'BEGIN{printf "%.1f", m * 1e6 / n}')
  nala_rss[$n]=$(field peak_rss_mb "$l")
  sruns=$SOFTMAX_RUNS
  [ "$n" -ge 65536 ] && sruns=1 # ~10 s per run on one core
  out=$("$NALA_BIN" bench attention --kind softmax --tokens "$n" --dim 64 --heads 1 --threads "$THREADS" --runs "$sruns")
  kind_line "$out"
  tier_of[softmax]=$(nala_tier "$out")
  l=$(last_line "$out")
  sm_ms[$n]=$(field median_ms "$l")
  sm_rss[$n]=$(field peak_rss_mb "$l")
  t_nala_ms[$n]=nan t_sm_ms[$n]=nan t_sm_rss[$n]=nan
  if [ $have_torch = 1 ]; then
    l=$(last_line "$(env $blas_env "$PYTHON" bench/torch_attention.py --kind nala --tokens "$n" --dim 64 --threads "$THREADS" --runs "$RUNS")")
    t_nala_ms[$n]=$(field median_ms "$l")
    l=$(last_line "$(env $blas_env "$PYTHON" bench/torch_attention.py --kind softmax --tokens "$n" --dim 64 --threads "$THREADS" --runs "$sruns")")
    t_sm_ms[$n]=$(field median_ms "$l")
    t_sm_rss[$n]=$(field peak_rss_mb "$l")
    [ "${t_sm_ms[$n]}" = nan ] && t_sm_rss[$n]=nan # skipped: its RSS is the interpreter's only
  fi
done

echo
echo "CPU: $(cpu_model); tiers: $(cpu_tiers); nala tier: NaLa ${tier_of[linear]:-?}, softmax ${tier_of[softmax]:-?}" \
  "(NALA_ISA=${NALA_ISA:-unset}); $THREADS thread(s)"
if [ -n "${NALA_ISA:-}" ] && { [ "${tier_of[linear]:-}" != "$NALA_ISA" ] || [ "${tier_of[softmax]:-}" != "$NALA_ISA" ]; }; then
  echo "warning: NALA_ISA=$NALA_ISA was asked but nala ran ${tier_of[linear]:-?}/${tier_of[softmax]:-?} (this build has no such tier)"
fi
printf "%-7s | %10s %9s %10s %7s | %11s %11s %7s | %9s %9s %12s %9s\n" N "nala ms" "ns/token" "torch ms" "x" \
  "softmax ms" "torch ms" "x" "nala MB" "sm MB" "NxN MB" "saved"
for n in $TOKENS; do
  # a materialised softmax holds at least the N x N fp32 scores: PyTorch's measured peak when it
  # ran, else the analytic N*N*4 bytes
  nxn=$(awk -v n="$n" 'BEGIN{printf "%.1f", n*n*4/1048576}')
  ref_mb=${t_sm_rss[$n]}
  [ "$ref_mb" = nan ] && ref_mb=$nxn
  awk -v n="$n" -v a="${nala_ms[$n]}" -v ns="${nala_ns[$n]}" -v ta="${t_nala_ms[$n]}" -v s="${sm_ms[$n]}" \
    -v ts="${t_sm_ms[$n]}" -v ra="${nala_rss[$n]}" -v rs="${sm_rss[$n]}" -v ref="$ref_mb" 'BEGIN{
      rx = (ta == "nan") ? "-" : sprintf("%.1f", ta / a);
      sx = (ts == "nan") ? "-" : sprintf("%.1f", ts / s);
      worst = (ra > rs) ? ra : rs;
      printf "%-7d | %10.3f %9.1f %10s %7s | %11.1f %11s %7s | %9.1f %9.1f %12.1f %8.2f%%\n",
        n, a, ns, ta, rx, s, ts, sx, ra, rs, ref, 100 * (1 - worst / ref) }'
done
echo "x = PyTorch time / nala time; saved = 1 - max(nala MB, sm MB) / NxN MB (the larger of nala's two"
echo "peaks, whole process, vs PyTorch's materialised-softmax peak or the analytic N*N*4 bytes)."
echo "nala's peaks include ~65 MB of mapped libraries (oneDNN, OpenCV): below ~8k tokens that"
echo "baseline, not the kernels (workspace_mb in the lines above), sets the figure."
torch_blas_note "$blas_core"
# flatness on wall time and on process CPU time (the latter is what the kernel costs when other
# jobs share the cores; both are printed so a loaded machine is visible)
flatness() { # flatness <label> <values...>
  local label=$1
  shift
  awk -v l="$*" -v label="$label" 'BEGIN{ k = split(l, v, " "); lo = v[1]; hi = v[1];
    for (i = 2; i <= k; i++) { if (v[i] < lo) lo = v[i]; if (v[i] > hi) hi = v[i] }
    printf "NaLa %s ns/token flatness: max/min = %.3f (goal <= 1.20): %s\n", label, hi / lo,
      hi / lo <= 1.2 ? "ok" : "NOT MET" }'
}
wall_list="" min_list="" cpu_list=""
for n in $TOKENS; do
  wall_list="$wall_list ${nala_ns[$n]}" min_list="$min_list ${nala_min_ns[$n]}"
  cpu_list="$cpu_list ${nala_cpu_ns[$n]}"
  echo "N=$n NaLa ns/token: wall median ${nala_ns[$n]}, wall best ${nala_min_ns[$n]}, cpu median ${nala_cpu_ns[$n]}"
done
flatness "wall-median" $wall_list
flatness "wall-best" $min_list
flatness "cpu-median" $cpu_list
