#!/usr/bin/env bash
# Semantic segmentation end to end (normalised tensor -> label map): nala vs PyTorch (the mmseg 1.x
# reference, tools/reference/mmseg_ref.py, same seeded weights) and ONNX Runtime (SemanticFPN only:
# UperNet's adaptive pooling with non-divisible bins does not export to ONNX at these sizes), same
# machine, same run, batch 1, fp32. Prints one markdown table with the ratios and the per-stage
# split (backbone / neck / head / resize+argmax). See bench/peer_seg.py.
#   bash bench/seg.sh                         (UperNet-T and SemanticFPN-T, 512x512, 1 and 2 threads)
#   CONFIGS="configs/fpn_nalaformer-t_512x512_ade20k.json" THREADS=2 RUNS=3 bash bench/seg.sh
# Environment: CONFIGS, SIZE (512x512), THREADS ("1 2"), RUNS (5), BUILD (build), PY (Debian's
#   python3, for PyTorch), PEER_PY (.venv-bench/bin/python from bash setup.sh bench, for the ONNX
#   export and ONNX Runtime), ORT_CONFIGS (configs that get an ONNX Runtime row), TABLE
#   (bench/out/seg.md), TIERS ("default"; "default avx2" adds rows as on an AVX2-only CPU: nala,
#   PyTorch and ONNX Runtime under bench/cpuid_mask.so, which hides AVX-512 by CPUID faulting, or
#   where that cannot be, NALA_ISA=avx2 with oneDNN capped to AVX2 and the peers as they are; a note
#   says which). Each measurement runs in a fresh process (peak RSS is per process).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=${PY:-/usr/bin/python3}
PEER_PY=${PEER_PY:-.venv-bench/bin/python}
CONFIGS=${CONFIGS:-"configs/upernet_nalaformer-t_512x512_ade20k.json configs/fpn_nalaformer-t_512x512_ade20k.json"}
ORT_CONFIGS=${ORT_CONFIGS:-"configs/fpn_nalaformer-t_512x512_ade20k.json"}
SIZE=${SIZE:-512x512}
THREADS=${THREADS:-"1 2"}
RUNS=${RUNS:-5}
TABLE=${TABLE:-bench/out/seg.md}
TIERS=${TIERS:-default}
source bench/cpu_info.sh
blas_core=$(torch_blas_core "$PY")
source bench/cpuid_mask.sh
mask_setup "$BUILD"

[ -x "$BUILD/nala" ] || { echo "seg.sh: $BUILD/nala missing: build Release first" >&2; exit 1; }
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2" | tail -1 | grep . || echo nan; }
log() { echo "seg.sh: $*" >&2; }
notes=()
note() { notes+=("$1"); }
note "$(torch_blas_note "$blas_core")"
have_ort=1
"$PEER_PY" -c "import onnxruntime, torch" 2>/dev/null || {
  have_ort=0
  note "ONNX Runtime skipped: $PEER_PY cannot import onnxruntime and torch (bash setup.sh bench makes .venv-bench)."
}
if [[ " $TIERS " == *" avx2 "* ]]; then
  case "$MASK:$MASK_WHY" in
    on:*) note "avx2 (masked) rows: $MASK_LABEL; nala (no NALA_ISA), PyTorch and ONNX Runtime all ran under bench/cpuid_mask.so." ;;
    off:"this CPU has no AVX-512"*) note "No avx2 rows: $MASK_WHY." ;;
    *) note "avx2 rows without the mask ($MASK_WHY): nala runs NALA_ISA=avx2 with oneDNN capped to AVX2, PyTorch and ONNX Runtime with AVX-512." ;;
  esac
fi
load_start=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
nala_failed=0
rows=()
for cfg in $CONFIGS; do
  name=$(basename "$cfg" .json)
  ort_dir="bench/out/peers/seg_${name}_${SIZE}"
  do_ort=0
  if [ $have_ort = 1 ] && [[ " $ORT_CONFIGS " == *" $cfg "* ]]; then
    do_ort=1
    max_t=$(tr ' ' '\n' <<<"$THREADS" | sort -n | tail -1)
    "$PEER_PY" bench/peer_seg.py export --config "$cfg" --size "$SIZE" --threads "$max_t" 2>/dev/null | tail -1 >&2 ||
      note "$name: the ONNX export failed or did not match PyTorch ($ort_dir/export.json): ONNX Runtime not timed."
  fi
  for t in $THREADS; do
  for tier in $TIERS; do
    # nala_env / peer_env: what this row runs under (tier "avx2": as an AVX2-only CPU, see TIERS)
    nala_env=(-u NALA_ISA) peer_env=() label_suffix=""
    if [ "$tier" = avx2 ]; then
      if [ "$MASK" = on ]; then
        nala_env=(-u NALA_ISA -u ONEDNN_MAX_CPU_ISA -u DNNL_MAX_CPU_ISA "${MASK_ENV[@]}")
        peer_env=("${MASK_ENV[@]}") label_suffix=" (masked)"
      elif [[ "$MASK_WHY" == "this CPU has no AVX-512"* ]]; then
        continue # the default rows already are the avx2 rows
      else
        nala_env=(NALA_ISA=avx2 ONEDNN_MAX_CPU_ISA=AVX2 DNNL_MAX_CPU_ISA=AVX2)
      fi
    elif [ "$tier" != default ]; then
      note "TIERS: '$tier' is not one of default, avx2: skipped."
      continue
    fi
    err=$(mktemp)
    out=$(env "${nala_env[@]}" OMP_NUM_THREADS=$t "$BUILD/nala" bench seg --config "$cfg" --size "$SIZE" --threads "$t" \
      --runs "$RUNS" 2>"$err")
    rc=$?
    [ -n "$label_suffix" ] && while IFS= read -r l; do [ -n "$l" ] && note "nala under the mask: $l"; done < <(mask_warnings "$err")
    [ $rc -ne 0 ] && out+=$'\n'"$(grep -v '^cpuid_mask:' "$err" | tail -1)"
    rm -f "$err"
    n_tier=$(nala_tier "$out")
    [ -n "$label_suffix" ] && [ "$n_tier" != avx2 ] && note "$name: nala under the mask reported tier '${n_tier:-none}', not avx2."
    n_tier="${n_tier:-?}$label_suffix"
    if [ $rc -ne 0 ]; then
      nala_failed=1
      note "$name, $t threads: nala exited $rc: $(tail -1 <<<"$out")"
    fi
    n_ms=$(field median_ms "$(tail -1 <<<"$out")")
    n_rss=$(field peak_rss_mb "$(tail -1 <<<"$out")")
    # nala's per-stage split: every line before the last that names a stage, joined
    n_split=""
    [ $rc -eq 0 ] && n_split=$(head -n -1 <<<"$out" | grep -iE 'backbone|neck|head|argmax|resize' | tr -s ' ' |
      paste -sd';' - | cut -c1-200)
    # shellcheck disable=SC2046 # torch_blas_env prints one VAR=value or nothing
    tout=$(env "${peer_env[@]}" $(torch_blas_env "$blas_core" "${label_suffix:+masked}") OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=1 "$PY" bench/peer_seg.py torch --config "$cfg" --size "$SIZE" \
      --threads "$t" --runs "$RUNS" 2>/dev/null | tail -1)
    t_ms=$(field median_ms "$tout")
    t_rss=$(field peak_rss_mb "$tout")
    t_split=$(printf 'backbone %s / neck %s / head %s / resize+argmax %s' "$(field backbone_ms "$tout")" \
      "$(field neck_ms "$tout")" "$(field head_ms "$tout")" "$(field post_ms "$tout")")
    o_ms=nan o_rss=nan
    if [ $do_ort = 1 ]; then
      oout=$(env "${peer_env[@]}" OMP_NUM_THREADS=$t "$PEER_PY" bench/peer_seg.py ort --dir "$ort_dir" --threads "$t" --runs "$RUNS" \
        2>/dev/null | tail -1)
      o_ms=$(field median_ms "$oout")
      o_rss=$(field peak_rss_mb "$oout")
      [ "$o_ms" = nan ] && note "$name, $t threads: ONNX Runtime not timed: $(field status "$oout")"
    elif [[ "$name" == upernet* ]]; then
      note "$name: no ONNX Runtime row: torch.onnx.export refuses adaptive_avg_pool2d when the output size does not divide the input (PPM bins 3 and 6 on the 16x16 C5 at 512x512)."
    fi
    log "$name ${t}t [$n_tier]: nala $n_ms ms, PyTorch $t_ms ms, ORT $o_ms ms"
    rows+=("$name|$t|$n_tier|$n_ms|$t_ms|$o_ms|$n_rss|$t_rss|$o_rss|$n_split|$t_split")
  done
  done
done

{
  echo "### Semantic segmentation end to end ($SIZE, normalised tensor -> label map), batch 1, fp32: $(cpu_model)"
  echo
  echo "$(date -u +%Y-%m-%d), nala $(git describe --always --dirty 2>/dev/null), median of $RUNS runs after 1 warm-up, same seeded weights (seed 0)."
  echo
  echo "| config | threads | nala tier | nala ms | PyTorch ms | ORT ms | PyTorch/nala | ORT/nala | nala RSS MB | PyTorch RSS | ORT RSS | nala RSS / PyTorch RSS |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  for r in "${rows[@]}"; do
    IFS='|' read -r name t tier nm tm om nr tr orr _ _ <<<"$r"
    awk -v n="$name" -v t="$t" -v tier="$tier" -v nm="$nm" -v tm="$tm" -v om="$om" -v nr="$nr" -v tr="$tr" -v orr="$orr" 'BEGIN {
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", n, t, tier,
        nm == "nan" ? "n/a" : sprintf("%.1f", nm), tm == "nan" ? "n/a" : sprintf("%.1f", tm),
        om == "nan" ? "n/a" : sprintf("%.1f", om),
        (tm == "nan" || nm == "nan") ? "-" : sprintf("%.2fx", tm / nm),
        (om == "nan" || nm == "nan") ? "-" : sprintf("%.2fx", om / nm),
        nr == "nan" ? "n/a" : sprintf("%.0f", nr), tr == "nan" ? "n/a" : sprintf("%.0f", tr),
        orr == "nan" ? "n/a" : sprintf("%.0f", orr),
        (nr == "nan" || tr == "nan") ? "-" : sprintf("%.2f", nr / tr) }'
  done
  echo
  echo "Per-stage split (ms, medians):"
  echo
  for r in "${rows[@]}"; do
    IFS='|' read -r name t tier _ _ _ _ _ _ ns ts <<<"$r"
    echo "- $name, $t thread(s), $tier: nala: ${ns:-n/a}; PyTorch: $ts"
  done
  echo
  echo "Ratios are peer ms / nala ms (above 1: nala is faster). RSS: peak resident set of each process, MB."
  awk -v a="$load_start" -v b="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null)" -v n="$(nproc)" 'BEGIN {
    printf "Load average %s at the start, %s at the end, %d cores", a, b, n;
    print ((a + 0 > n + 0.5 || b + 0 > n + 0.5) ? ": other jobs shared the cores, do not quote these figures." : ".") }'
  printf '%s\n' "${notes[@]}" | awk 'NF && !seen[$0]++ { print "- " $0 }'
} | { mkdir -p "$(dirname "$TABLE")"; tee "$TABLE"; }
[ $nala_failed = 0 ]
