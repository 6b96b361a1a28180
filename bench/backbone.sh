#!/usr/bin/env bash
# NaLaFormer backbone, nala vs Debian's PyTorch on the same machine in the same run, same seeded
# weights: median latency, GFLOP/s, share of the measured fp32 matmul peak, peak RSS, ratios.
#   bash bench/backbone.sh                 (T; 224, 512, 1024; 1 and 2 threads)
#   MODEL=xt SIZES="512x512" THREADS=2 RUNS=5 bash bench/backbone.sh
# Each measurement runs in a fresh process (peak RSS is per process). PyTorch gets
# OPENBLAS_NUM_THREADS=1 so OpenBLAS and OpenMP do not fight over the cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=${PY:-/usr/bin/python3}
MODEL=${MODEL:-t}
SIZES=${SIZES:-"224x224 512x512 1024x1024"}
THREADS=${THREADS:-"1 2"}
RUNS=${RUNS:-5}

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2" | tail -1; }

peak_line=$("$BUILD/bench/matmul_peak" --size 2048 --runs 5 --threads 1 --threads 2 | tail -1)
echo "matmul peak: $peak_line"
declare -A peak
for t in $THREADS; do peak[$t]=$(field "peak_gflops_${t}t" "$peak_line"); done

printf '\n| size | threads | nala ms | torch ms | speedup | nala GFLOP/s | %% of matmul peak | nala RSS MB | torch RSS MB | RSS ratio |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
for size in $SIZES; do
  for t in $THREADS; do
    nala_out=$(OMP_NUM_THREADS=$t "$BUILD/nala" bench backbone --model "nalaformer_$MODEL" --size "$size" \
      --threads "$t" --runs "$RUNS" --warmup 1 | tail -1)
    torch_out=$(OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=1 "$PY" bench/torch_backbone.py --model "$MODEL" \
      --size "$size" --threads "$t" --runs "$RUNS" --warmup 1 | tail -1)
    nm=$(field median_ms "$nala_out"); tm=$(field median_ms "$torch_out")
    ng=$(field gflops "$nala_out"); nr=$(field peak_rss_mb "$nala_out"); tr=$(field peak_rss_mb "$torch_out")
    awk -v s="$size" -v t="$t" -v nm="$nm" -v tm="$tm" -v ng="$ng" -v nr="$nr" -v tr="$tr" -v pk="${peak[$t]}" \
      'BEGIN { printf "| %s | %s | %.1f | %.1f | %.2fx | %.1f | %.0f%% | %.0f | %.0f | %.2f |\n",
               s, t, nm, tm, tm / nm, ng, 100 * ng / pk, nr, tr, nr / tr }'
  done
done
