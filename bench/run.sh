#!/usr/bin/env bash
# All benchmarks (setup.sh bench runs this after building Release): backbone and attention against
# PyTorch, COCO evaluation against pycocotools when it is available.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
bash bench/backbone.sh || status=1
[ -f bench/attention.sh ] && { bash bench/attention.sh || status=1; }
[ -f bench/coco_eval/run.sh ] && { bash bench/coco_eval/run.sh || status=1; }
exit $status
