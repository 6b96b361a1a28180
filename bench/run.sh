#!/usr/bin/env bash
# All benchmarks (setup.sh bench runs this after building Release): backbone and attention against
# PyTorch, COCO evaluation against pycocotools when it is available.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
bash bench/backbone.sh || status=1
bash bench/attention.sh || status=1
# COCO: needs PYCOCOTOOLS_PATH pointing at a pycocotools build for the comparison (says skipped otherwise).
/usr/bin/python3 bench/coco_eval/run.py --build build || status=1
exit $status
