#!/usr/bin/env bash
# NMS and RoIAlign alone: nala (bench/nms_roi, det/nms.c + det/roi_align.c) vs torchvision.ops on the
# same boxes (1000 proposals, 100 detections, P2..P5 of an 800x1088 input with 256 channels), same
# thread count, same run. Prints one markdown table naming the CPU: median microseconds, torch/nala
# ratios (above 1: nala is faster), and whether both kept the same number of boxes.
#   bash bench/nms_roi.sh
#   THREADS="1 2" RUNS=50 SIZE=800x1088 CHANNELS=256 bash bench/nms_roi.sh
# Environment: THREADS ("1 2"), RUNS (50), SIZE, CHANNELS, BUILD (build), PY (Debian's python3 with
#   torchvision), TABLE (bench/out/nms_roi.md). NMS is single-threaded on both sides (torchvision's
#   CPU nms is); RoIAlign threads over RoIs in nala and over RoIs (OpenMP inside roi_align) in torch.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=${PY:-/usr/bin/python3}
THREADS=${THREADS:-"1 2"}
RUNS=${RUNS:-50}
SIZE=${SIZE:-800x1088}
CHANNELS=${CHANNELS:-256}
TABLE=${TABLE:-bench/out/nms_roi.md}
source bench/cpu_info.sh
if [ ! -x "$BUILD/bench/nms_roi" ]; then
  echo "nms_roi.sh: $BUILD/bench/nms_roi missing: build Release first" >&2
  exit 1
fi
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2" | tail -1 | grep . || echo nan; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "-"; else printf "%.2f", a / b }'; }
mkdir -p "$(dirname "$TABLE")"
dump=$(mktemp -d)
trap 'rm -rf "$dump"' EXIT
load_start=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
{
  echo "NMS and RoIAlign alone, $(cpu_model); nala's det/ pieces are plain C (no ISA tier: the same code"
  echo "on every x86-64), torchvision $($PY -c 'import torchvision; print(torchvision.__version__)' 2>/dev/null || echo '?')."
  echo "Input $SIZE, $CHANNELS channels, median of $RUNS runs; ratio = torch / nala (above 1: nala is faster)."
  echo
  echo "| case | threads | nala us | torch us | ratio | kept (nala / torch) |"
  echo "|---|---|---|---|---|---|"
} >"$TABLE"
status=0
for t in $THREADS; do
  nala=$(OMP_NUM_THREADS="$t" "$BUILD/bench/nms_roi" --runs "$RUNS" --threads "$t" --size "$SIZE" \
    --channels "$CHANNELS" --dump "$dump" | tail -1) || status=1
  torch=$(OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS=1 "$PY" bench/torch_nms_roi.py --dump "$dump" --size "$SIZE" \
    --channels "$CHANNELS" --threads "$t" --runs "$RUNS" | tail -1) || status=1
  for c in nms batched_nms roi7 roi14; do
    a=$(field "${c}_us" "$nala") b=$(field "${c}_us" "$torch")
    kept="-"
    case $c in
      nms) kept="$(field nms_keep "$nala") / $(field nms_keep "$torch")" ;;
      batched_nms) kept="$(field batched_keep "$nala") / $(field batched_keep "$torch")" ;;
    esac
    echo "| $c | $t | $a | $b | $(ratio "$b" "$a") | $kept |" >>"$TABLE"
  done
done
load_end=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
echo >>"$TABLE"
echo "Load average $load_start at the start, $load_end at the end (above the core count: shared cores, ratios unreliable)." >>"$TABLE"
cat "$TABLE"
exit $status
