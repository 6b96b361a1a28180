#!/usr/bin/env bash
# The README's main job (bash setup.sh demo, after the build): the shipped demo models on generated
# data, end to end in C (no Python):
#  1. segmentation: held-out street scenes -> nala eval seg (mIoU table), then a generated street clip
#     -> nala seg -> an overlay video, per-frame label PNGs and a contact sheet (input | overlay), with
#     the frame rate and the per-stage split; the clip's labels scored against the generator's with
#     nala eval seg --dataset synth (the clip's mIoU);
#  2. detection: held-out shape scenes -> nala eval coco with the Mask R-CNN demo model (the 12 bbox
#     and 12 segm stats; bbox / segm AP 0.745 / 0.754 on the 50 scenes, see models/README.md);
#  3. the backbone alone: NaLaFormer-T with seeded weights on a 512x512 image (nala demo).
# DEMO_SHORT=1 (CI: the demo_short ctest entry) runs fewer scenes and frames and skips step 3.
# Outputs go to $DEMO_OUT (default build/demo). Exits non-zero if any step fails or an output or a
# figure (overlay video, contact sheet, label PNGs, mIoU, frame rate, the 24 COCO stats) is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
NALA=${NALA:-build/nala}
OUT=${DEMO_OUT:-build/demo}
THREADS=${THREADS:-$(nproc)}
if [ "${DEMO_SHORT:-0}" = 1 ]; then SCENES=12 FRAMES=12 SHEET_ROWS=3; else SCENES=50 FRAMES=48 SHEET_ROWS=4; fi
SEG_CFG=configs/fpn_nalaformer-demo_synth.json SEG_W=models/fpn_nalaformer-demo_synth.safetensors
DET_CFG=configs/mask-rcnn_nalaformer-demo_synth.json DET_W=models/mask-rcnn_nalaformer-demo_synth.safetensors
rm -rf "$OUT"
mkdir -p "$OUT"
step() { echo; echo "== $*"; }
fail() { echo "demo: $*" >&2; exit 1; }
# The number after "key": in a JSON report of nala eval seg.
json_number() { sed -n "s/^[[:space:]]*\"$1\":[[:space:]]*\([0-9.]*\).*/\1/p" "$2" | head -n 1; }

step "segmentation: nala eval seg of the shipped Semantic FPN demo model on $SCENES held-out generated scenes"
"$NALA" synth seg --out "$OUT/synth_seg" --count "$SCENES" --size 128x128 --seed 2 >/dev/null
"$NALA" eval seg --config "$SEG_CFG" --weights "$SEG_W" --data-root "$OUT/synth_seg" --threads "$THREADS" \
  --no-progress --json "$OUT/seg_eval.json"

step "segmentation: a generated $FRAMES-frame street clip through nala seg (overlay video, label PNGs, contact sheet)"
"$NALA" synth video --out "$OUT/clip.mp4" --frames "$FRAMES" --size 256x384 --labels "$OUT/clip_labels" >/dev/null
"$NALA" seg --config "$SEG_CFG" --weights "$SEG_W" --input "$OUT/clip.mp4" --out "$OUT/clip_overlay.mp4" \
  --labels-dir "$OUT/clip_pred" --contact-sheet "$OUT/clip_contact_sheet.png" --sheet-frames "$SHEET_ROWS" \
  --threads "$THREADS" --no-progress | tee "$OUT/clip_seg.log"

step "segmentation: the clip's predicted labels against the generator's labels (nala eval seg --dataset synth)"
"$NALA" eval seg --dataset synth --pred "$OUT/clip_pred" --gt "$OUT/clip_labels" --no-progress \
  --json "$OUT/clip_eval.json"

step "detection: nala eval coco of the shipped Mask R-CNN demo model on $SCENES held-out generated scenes"
"$NALA" synth coco --out "$OUT/synth_coco" --count "$SCENES" --size 128x128 --seed 2 >/dev/null
"$NALA" eval coco --config "$DET_CFG" --weights "$DET_W" --data-root "$OUT/synth_coco" \
  --ann annotations/instances_val.json --img-dir images/val --out-prefix "$OUT/det" --threads "$THREADS" \
  --no-progress | tee "$OUT/det_eval.log"

if [ "${DEMO_SHORT:-0}" != 1 ]; then
  step "backbone: NaLaFormer-T, seeded weights, 512x512"
  "$NALA" demo --threads "$THREADS"
fi

for f in seg_eval.json clip_overlay.mp4 clip_contact_sheet.png clip_eval.json det.bbox.json det.segm.json; do
  [ -s "$OUT/$f" ] || fail "$OUT/$f is missing"
done
preds=$(find "$OUT/clip_pred" -name '*.png' | wc -l)
[ "$preds" -eq "$FRAMES" ] || fail "$OUT/clip_pred holds $preds label PNGs for $FRAMES frames"
seg_miou=$(json_number mIoU "$OUT/seg_eval.json")
clip_miou=$(json_number mIoU "$OUT/clip_eval.json")
fps=$(sed -n 's/.*: \([0-9.]*\) frames\/s overall.*/\1/p' "$OUT/clip_seg.log")
sheet=$(sed -n 's/^nala seg: contact sheet .*: \([0-9]*\) row(s).*, \([0-9x]*\)$/\1 rows, \2/p' "$OUT/clip_seg.log")
stats=$(grep -c '^ Average \(Precision\|Recall\) ' "$OUT/det_eval.log" || true)
bbox_ap=$(grep -A1 '^Evaluating bbox' "$OUT/det_eval.log" | sed -n 's/.*maxDets=100 ] = \([-0-9.]*\)$/\1/p')
segm_ap=$(grep -A1 '^Evaluating segm' "$OUT/det_eval.log" | sed -n 's/.*maxDets=100 ] = \([-0-9.]*\)$/\1/p')
[ -n "$seg_miou" ] || fail "no mIoU in $OUT/seg_eval.json"
[ -n "$clip_miou" ] || fail "no mIoU in $OUT/clip_eval.json"
[ -n "$fps" ] || fail "nala seg printed no frame rate ($OUT/clip_seg.log)"
[ -n "$sheet" ] || fail "nala seg did not report the contact sheet ($OUT/clip_seg.log)"
[ "$stats" -eq 24 ] || fail "nala eval coco printed $stats of the 24 bbox + segm stats ($OUT/det_eval.log)"
[ -n "$bbox_ap" ] && [ -n "$segm_ap" ] || fail "no bbox / segm AP in $OUT/det_eval.log"

echo
echo "== demo summary"
row() { printf '%-34s %s\n' "$1" "$2"; }
row "segmentation, $SCENES held-out scenes:" "mIoU $seg_miou"
row "segmentation, $FRAMES-frame clip:" "mIoU $clip_miou against the generated labels, $fps frames/s"
row "contact sheet ($sheet):" "$OUT/clip_contact_sheet.png"
row "detection, $SCENES held-out scenes:" "bbox AP $bbox_ap, segm AP $segm_ap"
echo "outputs in $OUT (clip_overlay.mp4, clip_contact_sheet.png, clip_pred/, seg_eval.json, clip_eval.json,"
echo "det.bbox.json, det.segm.json)"
