#!/usr/bin/env bash
# RetinaNet-T and Mask R-CNN-T end to end: nala (`nala bench det`) vs PyTorch (bench/peer_det.py: the
# repository's mmdet restatements in tools/reference/, the same weights file: seeded, seed 0, with
# Mask R-CNN's classifier scaled so that detections reach the mask head) on the padded
# tensor of a 640x480 image at mmdet's test scale (Resize 1333x800 keep-ratio -> 1067x800, pad to 32
# -> 800x1088), 1 and 2 threads, same run. Prints two markdown tables naming the CPU and nala's tier:
# end to end (median ms, torch/nala, peak RSS of each process and nala/torch) and the per-stage split
# (nala: mean of its profiled forwards; torch: mean over its timed runs).
#   bash bench/det.sh
#   THREADS=2 RUNS=3 MODELS=retina bash bench/det.sh
# Environment: MODELS ("retina maskrcnn"), RETINA_CONFIG, MASK_CONFIG (configs/ of the -T models),
#   SIZE (800x1088), THREADS ("1 2"), RUNS (5), WARMUP (1), BUILD (build), PY (Debian's python3),
#   TABLE (bench/out/det.md), AVX2_ONLY (1: the whole run as on an AVX2-only CPU, nala and PyTorch
#   under bench/cpuid_mask.so, which hides AVX-512 by CPUID faulting; without cpuid_fault nala gets
#   NALA_ISA=avx2 with oneDNN capped and PyTorch runs as it is, a note says so). Each measurement runs in a fresh process. PyTorch gets
#   OPENBLAS_NUM_THREADS=1; set OMP_WAIT_POLICY=PASSIVE on a shared machine (see bench/README.md).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=${PY:-/usr/bin/python3}
MODELS=${MODELS:-"retina maskrcnn"}
RETINA_CONFIG=${RETINA_CONFIG:-configs/retinanet_nalaformer-t_fpn_1x_coco.json}
MASK_CONFIG=${MASK_CONFIG:-configs/mask-rcnn_nalaformer-t_fpn_1x_coco.json}
SIZE=${SIZE:-800x1088}
THREADS=${THREADS:-"1 2"}
RUNS=${RUNS:-5}
WARMUP=${WARMUP:-1}
TABLE=${TABLE:-bench/out/det.md}
source bench/cpu_info.sh
blas_core=$(torch_blas_core "$PY")
source bench/cpuid_mask.sh
if [ ! -x "$BUILD/nala" ]; then
  echo "det.sh: $BUILD/nala missing: build Release first" >&2
  exit 1
fi
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2" | tail -1 | grep . || echo nan; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "-"; else printf "%.2f", a / b }'; }
log() { echo "det.sh: $*" >&2; }
# nala_stage <bench output> <stage name>: ms of that stage in the "per stage" block
nala_stage() { awk -v s="$2" '/^per stage/ { on = 1; next } on && /^  / { line = $0; sub(/^  /, "", line);
  n = split(line, f, /  +/); if (f[1] == s) { sub(/ ms$/, "", f[2]); print f[2] + 0; found = 1 } }
  END { if (!found) print "nan" }' <<<"$1"; }
mkdir -p "$(dirname "$TABLE")" bench/out
load_start=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
e2e=() stages=() notes=() tier=""
blas_note=$(torch_blas_note "$blas_core")
[ -n "$blas_note" ] && notes+=("$blas_note")
nala_env=() torch_env=() masked_title=""
if [ "${AVX2_ONLY:-0}" = 1 ]; then
  mask_setup "$BUILD"
  if [ "$MASK" = on ]; then
    nala_env=(-u NALA_ISA -u ONEDNN_MAX_CPU_ISA -u DNNL_MAX_CPU_ISA "${MASK_ENV[@]}") torch_env=("${MASK_ENV[@]}")
    masked_title=" ($MASK_LABEL; nala and PyTorch both under bench/cpuid_mask.so)"
  elif [[ "$MASK_WHY" != "this CPU has no AVX-512"* ]]; then
    nala_env=(NALA_ISA=avx2 ONEDNN_MAX_CPU_ISA=AVX2 DNNL_MAX_CPU_ISA=AVX2)
    notes+=("AVX2_ONLY without the mask ($MASK_WHY): nala NALA_ISA=avx2 with oneDNN capped to AVX2, PyTorch with AVX-512.")
  fi
fi
status=0
for model in $MODELS; do
  case $model in
    retina) cfg=$RETINA_CONFIG name="RetinaNet-T" list="backbone neck dense_head postprocess" ;;
    maskrcnn) cfg=$MASK_CONFIG name="Mask R-CNN-T" list="backbone neck rpn_head roi_heads masks postprocess paste" ;;
    *) log "unknown model $model (retina, maskrcnn)"; status=1; continue ;;
  esac
  merged=bench/out/det_${model}_merged.json
  if ! "$BUILD/nala" config show "$cfg" >"$merged" 2>/dev/null; then
    notes+=("$name skipped: \`nala config show $cfg\` failed.")
    status=1
    continue
  fi
  # Both sides load one weights file: seeded (seed 0), Mask R-CNN's classifier tuned so that
  # detections reach its mask head (peer_det.py --make-weights says how).
  weights=bench/out/det_${model}_weights.safetensors
  if ! OMP_NUM_THREADS=1 "$PY" bench/peer_det.py --config "$merged" --make-weights "$weights" >/dev/null; then
    notes+=("$name skipped: peer_det.py --make-weights failed.")
    status=1
    continue
  fi
  for t in $THREADS; do
    log "$name, $t threads: nala"
    out=$(env "${nala_env[@]}" OMP_NUM_THREADS="$t" "$BUILD/nala" bench det --config "$cfg" --weights "$weights" --size "$SIZE" \
      --threads "$t" --runs "$RUNS" --warmup "$WARMUP" 2>&1) || { notes+=("nala $name $t threads failed: $(tail -1 <<<"$out")"); status=1; }
    [ -z "$tier" ] && tier=$(nala_tier "$out")
    log "$name, $t threads: torch"
    # shellcheck disable=SC2046 # torch_blas_env prints one VAR=value or nothing
    pt=$(env "${torch_env[@]}" $(torch_blas_env "$blas_core" "${masked_title:+masked}") OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS=1 "$PY" bench/peer_det.py --config "$merged" \
      --weights "$weights" --size "$SIZE" --threads "$t" --runs "$RUNS" --warmup "$WARMUP" 2>/dev/null | tail -1) || { notes+=("torch $name $t threads failed"); status=1; }
    nm=$(field median_ms "$out") nr=$(field peak_rss_mb "$out") pm=$(field median_ms "$pt") pr=$(field peak_rss_mb "$pt")
    e2e+=("| $name | $t | $nm | $pm | $(ratio "$pm" "$nm") | $nr | $pr | $(ratio "$nr" "$pr") | $(field dets "$out") / $(field dets "$pt") |")
    for s in $list; do
      ns=$(nala_stage "$out" "${s//_/ }") ps=$(field "stage_${s}_ms" "$pt")
      stages+=("| $name | $t | ${s//_/ } | ${ns/nan/-} | ${ps/nan/-} | $(ratio "$ps" "$ns") |")
    done
  done
done
load_end=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
{
  echo "Detection end to end, $(cpu_model)$masked_title, nala tier ${tier:-?}; input $SIZE (a 640x480 image at mmdet's"
  echo "1333x800 keep-ratio test scale, padded to 32), one weights file on both sides (seeded, seed 0; Mask R-CNN's"
  echo "fc_cls x16 with zero bias so that detections reach the mask head), median of $RUNS runs."
  echo "ratio = torch / nala (above 1: nala is faster); RSS ratio = nala / torch (below 1: nala is smaller)."
  echo
  echo "| model | threads | nala ms | torch ms | ratio | nala RSS MB | torch RSS MB | RSS nala/torch | dets nala / torch |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${e2e[@]}"
  echo
  echo "Per stage (nala: mean of 3 profiled forwards, each stage waited for; torch: mean of the timed runs)."
  echo "Mask R-CNN's paste (every detection's mask at the input size) is nala_det_read_mask, after the forward."
  echo
  echo "| model | threads | stage | nala ms | torch ms | ratio |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${stages[@]}"
  echo
  for n in "${notes[@]}"; do echo "- $n"; done
  echo "Load average $load_start at the start, $load_end at the end (above the core count: shared cores, ratios unreliable)."
} >"$TABLE"
cat "$TABLE"
exit $status
