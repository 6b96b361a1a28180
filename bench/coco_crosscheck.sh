#!/usr/bin/env bash
# nala eval coco's results JSON and stats against pycocotools: generates a small COCO set
# (`nala synth coco`), runs the shipped demo Mask R-CNN over it (`nala eval coco --out-prefix`), then
# bench/coco_crosscheck.py scores P.bbox.json / P.segm.json with pycocotools and with
# `nala eval coco --gt --results` and prints both 12-stat vectors (they must agree to 1e-12).
# Environment: BUILD (build), PEER_PY (.venv-bench/bin/python, with pycocotools from
#   bench/requirements-peers.txt), COUNT (12 images), SIZE (480x640), OUT (bench/out/coco_crosscheck).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PEER_PY=${PEER_PY:-.venv-bench/bin/python}
COUNT=${COUNT:-12}
SIZE=${SIZE:-480x640}
OUT=${OUT:-bench/out/coco_crosscheck}
rm -rf "$OUT" && mkdir -p "$OUT"
"$BUILD/nala" synth coco --out "$OUT/data" --count "$COUNT" --size "$SIZE" >/dev/null
"$BUILD/nala" eval coco --config configs/mask-rcnn_nalaformer-demo_synth.json \
  --weights models/mask-rcnn_nalaformer-demo_synth.safetensors --data-root "$OUT/data" \
  --ann annotations/instances_val.json --img-dir images/val --out-prefix "$OUT/P" --no-progress >/dev/null
"$PEER_PY" bench/coco_crosscheck.py --prefix "$OUT/P" --nala "$BUILD/nala"
