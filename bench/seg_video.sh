#!/usr/bin/env bash
# Video segmentation end to end: a synthetic 640x480 clip through `nala seg --overlay` (decode ->
# preprocess -> backbone -> neck+head -> postprocess -> overlay + encode), frames per second and
# the share of each stage, as `nala seg` measures them. Prints one markdown table.
#   bash bench/seg_video.sh                                  (Semantic FPN-T, 60 frames, 1 and 2 threads)
#   CONFIG=configs/upernet_nalaformer-t_512x512_ade20k.json FRAMES=30 THREADS=2 bash bench/seg_video.sh
# Environment: CONFIG, WEIGHTS (a converted checkpoint; default seeded weights, same speed), SIZE
#   (640x480, WxH), FRAMES (60), FPS (30), THREADS ("1 2"), BUILD (build), TABLE
#   (bench/out/seg_video.md). The config's test pipeline applies: the ADE20K configs resize a
#   640x480 frame to 683x512 (keep-ratio Resize (2048, 512)) before the network, as mmseg does.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CONFIG=${CONFIG:-configs/fpn_nalaformer-t_512x512_ade20k.json}
WEIGHTS=${WEIGHTS:-}
SIZE=${SIZE:-640x480}
FRAMES=${FRAMES:-60}
FPS=${FPS:-30}
THREADS=${THREADS:-"1 2"}
TABLE=${TABLE:-bench/out/seg_video.md}
source bench/cpu_info.sh

if [ ! -x "$BUILD/nala" ] || [ ! -x "$BUILD/bench/make_clip" ]; then
  echo "seg_video.sh: $BUILD/nala or $BUILD/bench/make_clip missing: build Release first" >&2
  exit 1
fi
mkdir -p bench/out "$(dirname "$TABLE")"
W=${SIZE%x*}
H=${SIZE#*x}
clip=bench/out/seg_video_in.mp4
"$BUILD/bench/make_clip" "$clip" "$W" "$H" "$FRAMES" "$FPS" || exit 1
weights=()
[ -n "$WEIGHTS" ] && weights=(--weights "$WEIGHTS")

{
  echo "### nala seg --overlay on a ${W}x${H} clip, $FRAMES frames ($(basename "$CONFIG"))"
  echo
  echo "CPU: $(cpu_model); weights: ${WEIGHTS:-seeded}"
  echo
  echo "| threads | frames/s | decode | preprocess | backbone | neck+head | postprocess | encode | peak RSS MB |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for t in $THREADS; do
    echo "seg_video.sh: $t thread(s)..." >&2
    out=$("$BUILD/nala" seg --config "$CONFIG" "${weights[@]}" --input "$clip" --out bench/out/seg_video_out.mp4 \
      --overlay --threads "$t" --no-progress 2>/dev/null)
    if [ $? -ne 0 ]; then
      echo "| $t | failed | | | | | | | |"
      continue
    fi
    fps=$(sed -n 's/.* s: \([0-9.]*\) frames\/s overall.*/\1/p' <<<"$out")
    rss=$(sed -n 's/.*peak RSS \([0-9.]*\) MB.*/\1/p' <<<"$out")
    # "stage total_ms ms/frame share%" rows -> "ms/frame (share)"
    cell() { awk -v s="$1" '$1 == s { printf "%s ms (%s)", $3, $4 }' <<<"$out"; }
    echo "| $t | $fps | $(cell decode) | $(cell preprocess) | $(cell backbone) | $(cell neck+head) | $(cell postprocess) | $(cell encode) | $rss |"
  done
  echo
  echo "Shares are of the summed stage times; encode = overlay drawing + video encoding and writing."
} | tee "$TABLE"
