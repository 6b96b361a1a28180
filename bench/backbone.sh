#!/usr/bin/env bash
# NaLaFormer backbone: nala (every tier this CPU has) vs ONNX Runtime, OpenVINO, ncnn and PyTorch on
# the same machine, in the same run, same seeded weights, same thread count, batch 1. Prints one
# markdown table naming the CPU and each row's nala tier: median latency, ratios, GFLOP/s, share of
# the sgemm peak measured in this run (bench/matmul_peak), peak RSS. See bench/README.md.
#   bash bench/backbone.sh                 (T; 224, 512, 1024; 1 and 2 threads; ~15-20 min)
#   MODEL=xt SIZES="512x512" THREADS=2 RUNS=5 bash bench/backbone.sh
# Environment: SIZES, THREADS, RUNS (5; sizes above 512x512 use LARGE_RUNS, 2), TIERS ("default
#   avx2": nala's own choice plus an avx2 row where the CPU has AVX2 and AVX-512; see AVX2_MASK), REF_SIZES
#   ("224x224": sizes that also get a NALA_ISA=ref row), PEERS ("ort openvino ncnn torch"),
#   BUILD (build), PY (Debian's python3, for PyTorch), PEER_PY (.venv-bench/bin/python, made by
#   bash setup.sh bench), TABLE (bench/out/backbone.md, a copy of the table). OpenCV DNN is tried
#   on the first size's export (bench/opencv_check.py) and its failure is listed under the table.
#   AVX2_MASK (auto): on a CPU with AVX-512 and cpuid_fault the avx2 rows run nala, every peer and
#   the sgemm peak under bench/cpuid_mask.so, which hides AVX-512 from the whole process (nala picks
#   its avx2 tier itself); "off", or a CPU without cpuid_fault, gives the older rows: NALA_ISA=avx2
#   and oneDNN capped to AVX2 for nala and the peak only, the peers at full ISA (a note says which).
# Each measurement runs in a fresh process (peak RSS is per process). PyTorch gets
# OPENBLAS_NUM_THREADS=1 so OpenBLAS and OpenMP do not fight over the cores. Progress goes to stderr.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=${PY:-/usr/bin/python3}
PEER_PY=${PEER_PY:-.venv-bench/bin/python}
MODEL=${MODEL:-t}
SIZES=${SIZES:-"224x224 512x512 1024x1024"}
THREADS=${THREADS:-"1 2"}
RUNS=${RUNS:-5}
LARGE_RUNS=${LARGE_RUNS:-2}
TIERS=${TIERS:-"default avx2"}
REF_SIZES=${REF_SIZES-"224x224"}
PEERS=${PEERS-"ort openvino ncnn torch"}
TABLE=${TABLE:-bench/out/backbone.md}
source bench/cpu_info.sh
blas_core=$(torch_blas_core "$PY")
source bench/cpuid_mask.sh
mask_setup "$BUILD"

if [ ! -x "$BUILD/nala" ] || [ ! -x "$BUILD/bench/matmul_peak" ]; then
  echo "backbone.sh: $BUILD/nala or $BUILD/bench/matmul_peak missing: build Release first" >&2
  exit 1
fi
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2" | tail -1 | grep . || echo nan; }
log() { echo "backbone.sh: $*" >&2; }
notes=()
note() { notes+=("$1"); }
note "$(torch_blas_note "$blas_core")"
declare -A mask_cpuids # CPUIDs the mask answered, per program (its first masked run)

have_peers=1
if ! "$PEER_PY" -c "import onnxruntime, openvino, ncnn, pnnx, torch" 2>/dev/null; then
  have_peers=0
  note "ONNX Runtime, OpenVINO and ncnn skipped: $PEER_PY cannot import them (bash setup.sh bench makes .venv-bench)."
fi

peak_line=$("$BUILD/bench/matmul_peak" --size 2048 --runs 5 $(for t in $THREADS; do echo --threads "$t"; done) | tail -1)
log "matmul peak: $peak_line"
declare -A peak
for t in $THREADS; do peak[$t]=$(field "peak_gflops_${t}t" "$peak_line"); done
# The avx2 rows stand for an AVX2-only CPU: their share is of the sgemm peak such a CPU has, under
# the mask (oneDNN finds AVX2 by itself) or, without it, with oneDNN capped to AVX2.
if [ "$MASK" = on ]; then
  peak2_err=$(mktemp)
  peak2_line=$(env "${MASK_ENV[@]}" "$BUILD/bench/matmul_peak" --size 2048 --runs 5 \
    $(for t in $THREADS; do echo --threads "$t"; done) 2>"$peak2_err" | tail -1)
  mask_cpuids[matmul_peak]=$(mask_count "$peak2_err")
  while IFS= read -r l; do [ -n "$l" ] && note "matmul_peak under the mask: $l"; done < <(mask_warnings "$peak2_err")
  rm -f "$peak2_err"
  log "matmul peak with AVX-512 hidden: $peak2_line"
else
  peak2_line=$(ONEDNN_MAX_CPU_ISA=AVX2 DNNL_MAX_CPU_ISA=AVX2 "$BUILD/bench/matmul_peak" --size 2048 --runs 5 \
    $(for t in $THREADS; do echo --threads "$t"; done) | tail -1)
  log "matmul peak capped to AVX2: $peak2_line"
fi
declare -A peak_avx2
for t in $THREADS; do peak_avx2[$t]=$(field "peak_gflops_${t}t" "$peak2_line"); done

cpu=$(cpu_model)
load_start=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
tiers_here=$(cpu_tiers)
declare -A res # res["<what>/<size>/<threads>.<ms|gf|rss>"]; <what> is nala:<label> or <engine>@<peers>
rows=()        # "<size> <threads> <peers: native|masked> <nala key>"
tier_reported=""
nala_failed=0
case "$MASK:$MASK_WHY" in
  on:*) ;;
  off:"this CPU has no AVX-512"*) note "No mask: $MASK_WHY." ;;
  *) note "avx2 rows without the mask ($MASK_WHY): nala runs NALA_ISA=avx2 with oneDNN capped to AVX2 (ONEDNN_MAX_CPU_ISA), the peers run with AVX-512, so their columns there are an AVX-512 CPU's." ;;
esac

# mask_check <program> <stderr file>: keeps the first CPUID count, notes the mask's complaints
mask_check() {
  [ -n "${mask_cpuids[$1]:-}" ] || mask_cpuids[$1]=$(mask_count "$2")
  while IFS= read -r l; do [ -n "$l" ] && note "$1 under the mask: $l"; done < <(mask_warnings "$2")
}

# run_nala <tier request> <size> <threads> <runs>: stores ms/gflops/rss under "nala:<label>". An
# avx2 request under the mask runs nala with no NALA_ISA: it must find AVX2 only by itself.
run_nala() {
  local want=$1 size=$2 t=$3 runs=$4 out err rc label tier masked=0
  err=$(mktemp)
  if [ "$want" = avx2 ] && [ "$MASK" = on ]; then
    masked=1
    out=$(env -u NALA_ISA -u ONEDNN_MAX_CPU_ISA -u DNNL_MAX_CPU_ISA "${MASK_ENV[@]}" OMP_NUM_THREADS="$t" \
      "$BUILD/nala" bench backbone --model "nalaformer_$MODEL" \
      --size "$size" --threads "$t" --runs "$runs" --warmup 1 2>"$err")
  elif [ "$want" = default ]; then
    out=$(env -u NALA_ISA OMP_NUM_THREADS="$t" "$BUILD/nala" bench backbone --model "nalaformer_$MODEL" \
      --size "$size" --threads "$t" --runs "$runs" --warmup 1 2>"$err")
  else
    # Without the mask a forced avx2 row stands for an AVX2-only CPU by capping oneDNN to AVX2 as
    # well (on such a CPU its JIT has nothing wider), so convolutions and matmuls run what they would.
    local cap=""
    [ "$want" = avx2 ] && cap=AVX2
    out=$(env NALA_ISA="$want" ${cap:+ONEDNN_MAX_CPU_ISA=$cap DNNL_MAX_CPU_ISA=$cap} OMP_NUM_THREADS="$t" \
      "$BUILD/nala" bench backbone --model "nalaformer_$MODEL" \
      --size "$size" --threads "$t" --runs "$runs" --warmup 1 2>"$err")
  fi
  rc=$?
  tier=$(nala_tier "$out")
  [ $masked = 1 ] && mask_check nala "$err"
  if [ $rc -ne 0 ]; then
    note "$([ $masked = 1 ] && echo "nala under the mask" || echo "NALA_ISA=$want") at $size, $t threads: nala exited $rc: $(grep -v '^cpuid_mask:' "$err" | tail -1)"
    rm -f "$err"
    return 1
  fi
  rm -f "$err"
  if [ -n "$tier" ]; then
    tier_reported=1
    label=$tier
    [ "$want" != default ] && [ "$tier" != "$want" ] && label="$tier (asked $want)"
  elif [ "$want" = default ]; then
    # a nala that does not print its tier picks avx512 when the CPU has it, else ref
    label="${tiers_here##* }*"
    [ "${tiers_here##* }" = avx2 ] && label="ref*"
  else
    label="$want"
  fi
  if [ $masked = 1 ]; then
    [ "$tier" != avx2 ] && note "nala under the mask at $size, $t threads reported tier '${tier:-none}', not avx2: the mask did not reach its ISA check."
    label="$label (masked)"
  fi
  local key="nala:$label/$size/$t"
  res["$key.ms"]=$(field median_ms "$(tail -1 <<<"$out")")
  res["$key.gf"]=$(field gflops "$(tail -1 <<<"$out")")
  res["$key.rss"]=$(field peak_rss_mb "$(tail -1 <<<"$out")")
  rows+=("$size $t $([ $masked = 1 ] && echo masked || echo native) $key")
  log "$size ${t}t nala [$label]: ${res["$key.ms"]} ms"
  LAST_TIER=$tier
}

# run_peer <engine> <size> <threads> <runs> <export dir> <native|masked>
run_peer() {
  local engine=$1 size=$2 t=$3 runs=$4 dir=$5 peers=$6 out last status err mask_env=()
  [ "$peers" = masked ] && mask_env=("${MASK_ENV[@]}")
  err=$(mktemp)
  if [ "$engine" = torch ]; then
    # shellcheck disable=SC2046 # torch_blas_env prints one VAR=value or nothing
    out=$(env "${mask_env[@]}" $(torch_blas_env "$blas_core" "$peers") OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS=1 "$PY" bench/torch_backbone.py --model "$MODEL" \
      --size "$size" --threads "$t" --runs "$runs" --warmup 1 2>"$err")
  else
    out=$(env "${mask_env[@]}" OMP_NUM_THREADS="$t" "$PEER_PY" bench/peer_backbone.py --engine "$engine" --dir "$dir" \
      --threads "$t" --runs "$runs" --warmup 1 2>"$err")
  fi
  [ "$peers" = masked ] && mask_check "$engine" "$err"
  rm -f "$err"
  local key="$engine@$peers/$size/$t"
  last=$(tail -1 <<<"$out")
  res["$key.ms"]=$(field median_ms "$last")
  res["$key.rss"]=$(field peak_rss_mb "$last")
  status=$(field status "$last")
  if [ "${res["$key.ms"]}" = nan ]; then
    note "$engine$([ "$peers" = masked ] && echo " (masked)") at $size, $t threads: not timed: $([ "$status" = nan ] && echo "no result line" || echo "$status") ($(head -1 <<<"$out"))"
  fi
  log "$size ${t}t $engine$([ "$peers" = masked ] && echo " (AVX-512 hidden)"): ${res["$key.ms"]} ms"
}

for size in $SIZES; do
  h=${size%x*} w=${size#*x}
  runs=$RUNS
  [ $((h * w)) -gt $((512 * 512)) ] && [ "$LARGE_RUNS" -lt "$RUNS" ] && runs=$LARGE_RUNS
  [ "$runs" != "$RUNS" ] && note "$size: median of $runs runs (LARGE_RUNS), 1 warm-up."
  dir="bench/out/peers/nalaformer_${MODEL}_${size}"
  if [ $have_peers = 1 ] && [[ " $PEERS " == *" ort "* || " $PEERS " == *" openvino "* || " $PEERS " == *" ncnn "* ]]; then
    max_t=$(tr ' ' '\n' <<<"$THREADS" | sort -n | tail -1)
    if ! "$PEER_PY" bench/peer_export.py --model "$MODEL" --size "$size" --threads "$max_t" 2>/dev/null | tail -1 >&2; then
      note "$size: the ONNX export failed its check against PyTorch ($dir/export.json): ONNX Runtime and OpenVINO not timed."
    fi
    if [ -z "${opencv_done:-}" ]; then # OpenCV DNN is no peer: say why (bench/README.md)
      opencv_done=1
      while IFS= read -r l; do note "OpenCV DNN ${l#opencv }"; done < <("$PEER_PY" bench/opencv_check.py "$dir" 2>/dev/null | grep '^opencv ')
    fi
  fi
  for t in $THREADS; do
    LAST_TIER=""
    default_tier=""
    rows_before=${#rows[@]}
    for want in $TIERS; do
      if [ "$want" = default ]; then
        if run_nala default "$size" "$t" "$runs"; then default_tier=$LAST_TIER; else nala_failed=1; fi
      elif [[ " $tiers_here " != *" $want "* ]]; then
        note "NALA_ISA=$want: not on this CPU (it has: $tiers_here), skipped."
      elif [ "$want" = "$default_tier" ]; then
        : # nala's own choice already is this tier
      elif [ -z "$tier_reported" ] && [[ " $TIERS " == *" default "* ]]; then
        note "NALA_ISA=$want skipped: this nala build does not report its tier, so a forced tier cannot be told apart from its default (rerun once the ISA dispatch has landed)."
      else
        run_nala "$want" "$size" "$t" "$runs"
      fi
    done
    if [[ " $REF_SIZES " == *" $size "* ]] && [ "$default_tier" != ref ]; then
      run_nala ref "$size" "$t" "$runs"
    fi
    # the peers once per kind of row this size and thread count has: as they are, and masked
    for peers in native masked; do
      printf '%s\n' "${rows[@]:$rows_before}" | grep -q "^$size $t $peers " || continue
      for engine in $PEERS; do
        [ "$engine" != torch ] && [ $have_peers = 0 ] && continue
        run_peer "$engine" "$size" "$t" "$runs" "$dir" "$peers"
      done
    done
  done
done

{
  echo "### NaLaFormer-$(tr '[:lower:]' '[:upper:]' <<<"$MODEL") backbone, batch 1, fp32: $cpu"
  echo
  if [ "$MASK" = on ]; then
    peak_how="with AVX-512 hidden (the avx2 (masked) rows)"
  else
    peak_how="capped to AVX2 (the avx2 rows: nala avx2 tier + oneDNN capped to AVX2)"
  fi
  echo "CPU tiers: $tiers_here; sgemm peak (oneDNN, 2048^3, this run): $(for t in $THREADS; do printf '%s GFLOP/s at %s thread(s), %s %s; ' "${peak[$t]}" "$t" "${peak_avx2[$t]}" "$peak_how"; done)$(date -u +%Y-%m-%d), nala $(git describe --always --dirty 2>/dev/null), runs $RUNS."
  [ "$MASK" = on ] && printf '\n**avx2 (masked) rows: %s**: nala, every peer and the sgemm peak ran under bench/cpuid_mask.so; nala chose its tier itself.\n' "$MASK_LABEL"
  echo
  echo "| size | threads | nala tier | nala ms | ORT ms | OpenVINO ms | ncnn ms | PyTorch ms | ORT/nala | OpenVINO/nala | ncnn/nala | PyTorch/nala | nala GFLOP/s | % of sgemm peak | nala RSS MB | ORT RSS | OpenVINO RSS | ncnn RSS | PyTorch RSS | nala RSS / smallest peer |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for row in "${rows[@]}"; do
    read -r size t peers key <<<"$row"
    label=${key#nala:}
    label=${label%%/*}
    args=()
    for e in ort openvino ncnn torch; do args+=("${res["$e@$peers/$size/$t.ms"]:-nan}"); done
    for e in ort openvino ncnn torch; do args+=("${res["$e@$peers/$size/$t.rss"]:-nan}"); done
    awk -v s="$size" -v t="$t" -v tier="$label" -v nm="${res["$key.ms"]}" -v ng="${res["$key.gf"]}" \
      -v nr="${res["$key.rss"]}" -v pk="$([[ "$label" == avx2* ]] && echo "${peak_avx2[$t]}" || echo "${peak[$t]}")" \
      -v list="${args[*]}" 'BEGIN {
      split(list, v, " ");
      f = "%.1f";
      line = sprintf("| %s | %s | %s | %.1f", s, t, tier, nm);
      for (i = 1; i <= 4; i++) line = line " | " (v[i] == "nan" ? "n/a" : sprintf(f, v[i]));
      for (i = 1; i <= 4; i++) line = line " | " (v[i] == "nan" ? "-" : sprintf("%.2fx", v[i] / nm));
      line = line sprintf(" | %.1f | %s | %.0f", ng, pk == "nan" ? "n/a" : sprintf("%.0f%%", 100 * ng / pk), nr);
      small = 0;
      for (i = 5; i <= 8; i++) {
        line = line " | " (v[i] == "nan" ? "n/a" : sprintf("%.0f", v[i]));
        if (v[i] != "nan" && (small == 0 || v[i] + 0 < small)) small = v[i] + 0;
      }
      line = line " | " (small == 0 ? "-" : sprintf("%.2f", nr / small)) " |";
      print line }'
  done
  echo
  echo "Ratios are peer ms / nala ms (above 1: nala is faster). RSS: peak resident set of each process, MB."
  if [ "$MASK" = on ]; then
    echo "avx2 (masked): $MASK_LABEL; the peer columns of those rows are the peers under the same mask."
    # what hiding AVX-512 cost each engine, from the two kinds of rows of this run
    slow=""
    for size in $SIZES; do
      for t in $THREADS; do
        for e in nala $PEERS; do
          if [ "$e" = nala ]; then
            a=${res["nala:$default_tier/$size/$t.ms"]:-nan}
            b=${res["nala:avx2 (masked)/$size/$t.ms"]:-nan}
          else
            a=${res["$e@native/$size/$t.ms"]:-nan}
            b=${res["$e@masked/$size/$t.ms"]:-nan}
          fi
          [ "$a" = nan ] || [ "$b" = nan ] && continue
          slow+=$(awk -v e="$e" -v s="$size" -v t="$t" -v a="$a" -v b="$b" 'BEGIN { printf "%s %s %st %.2fx; ", e, s, t, b / a }')
        done
      done
    done
    [ -n "$slow" ] && echo "Masked / unmasked time (above 1: slower without AVX-512): ${slow%; }."
    counts=""
    for p in nala matmul_peak $PEERS; do [ -n "${mask_cpuids[$p]:-}" ] && counts+="$p ${mask_cpuids[$p]}, "; done
    [ -n "$counts" ] && echo "CPUIDs the mask answered (first masked run of each): ${counts%, }."
  fi
  awk -v a="$load_start" -v b="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null)" -v n="$(nproc)" 'BEGIN {
    printf "Load average %s at the start, %s at the end, %d cores", a, b, n;
    print ((a + 0 > n + 0.5 || b + 0 > n + 0.5) ? ": other jobs shared the cores, do not quote these figures." : ".") }'
  if [[ " ${rows[*]} " == *"*"* ]]; then
    echo "\* tier inferred: this nala does not print the tier it runs (one with AVX-512 kernels only: avx512 where the CPU has it, else ref)."
  fi
  printf '%s\n' "${notes[@]}" | awk 'NF && !seen[$0]++ { print "- " $0 }'
} | { mkdir -p "$(dirname "$TABLE")"; tee "$TABLE"; }
[ $nala_failed = 0 ] # a peer that cannot run is a note; nala failing is a failure
