#!/usr/bin/env bash
# The README's main job (bash setup.sh demo, after the build): the shipped demo models on generated
# data, end to end in C (no Python):
#  1. segmentation: 50 held-out street scenes -> nala eval seg (mIoU table), then a generated street
#     clip -> nala seg -> an overlay video, with the frame rate and the per-stage split;
#  2. detection: 50 held-out shape scenes -> nala eval coco with the Mask R-CNN demo model (the 12
#     bbox and segm stats; bbox / segm AP 0.745 / 0.754, see models/README.md);
#  3. the backbone alone: NaLaFormer-T with seeded weights on a 512x512 image (nala demo).
# Outputs go to $DEMO_OUT (default build/demo). Exits non-zero if any step or output is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
NALA=${NALA:-build/nala}
OUT=${DEMO_OUT:-build/demo}
THREADS=${THREADS:-$(nproc)}
rm -rf "$OUT"
mkdir -p "$OUT"
step() { echo; echo "== $*"; }

step "segmentation: nala eval seg of the shipped Semantic FPN demo model on 50 held-out generated scenes"
"$NALA" synth seg --out "$OUT/synth_seg" --count 50 --size 128x128 --seed 2 >/dev/null
"$NALA" eval seg --config configs/fpn_nalaformer-demo_synth.json --weights models/fpn_nalaformer-demo_synth.safetensors \
  --data-root "$OUT/synth_seg" --threads "$THREADS" --no-progress --json "$OUT/seg_eval.json"

step "segmentation: a generated 48-frame street clip through nala seg (overlay video)"
"$NALA" synth video --out "$OUT/clip.mp4" --frames 48 --size 256x384 --labels "$OUT/clip_labels" >/dev/null
"$NALA" seg --config configs/fpn_nalaformer-demo_synth.json --weights models/fpn_nalaformer-demo_synth.safetensors \
  --input "$OUT/clip.mp4" --out "$OUT/clip_overlay.mp4" --threads "$THREADS" --no-progress

step "detection: nala eval coco of the shipped Mask R-CNN demo model on 50 held-out generated scenes"
"$NALA" synth coco --out "$OUT/synth_coco" --count 50 --size 128x128 --seed 2 >/dev/null
"$NALA" eval coco --config configs/mask-rcnn_nalaformer-demo_synth.json \
  --weights models/mask-rcnn_nalaformer-demo_synth.safetensors --data-root "$OUT/synth_coco" \
  --ann annotations/instances_val.json --img-dir images/val --out-prefix "$OUT/det" --threads "$THREADS" --no-progress

step "backbone: NaLaFormer-T, seeded weights, 512x512"
"$NALA" demo --threads "$THREADS"

for f in seg_eval.json clip_overlay.mp4 det.bbox.json det.segm.json; do
  [ -s "$OUT/$f" ] || { echo "demo: $OUT/$f is missing" >&2; exit 1; }
done
echo
echo "demo: outputs in $OUT (seg_eval.json, clip_overlay.mp4, det.bbox.json, det.segm.json)"
