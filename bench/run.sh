#!/usr/bin/env bash
# All benchmarks (setup.sh bench runs this after building Release): the backbone against ONNX
# Runtime, OpenVINO, ncnn and PyTorch (bench/README.md), attention against PyTorch, COCO evaluation
# against pycocotools when it is available. SIZES, THREADS, RUNS etc. pass through to the scripts
# (the attention bench takes ATTN_THREADS, 1 by default).
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
bash bench/backbone.sh || status=1
THREADS=${ATTN_THREADS:-1} bash bench/attention.sh || status=1 # one core: the kernels alone
bash bench/det.sh || status=1     # RetinaNet-T, Mask R-CNN-T vs PyTorch
bash bench/nms_roi.sh || status=1 # NMS and RoIAlign alone vs torchvision
# COCO: needs PYCOCOTOOLS_PATH pointing at a pycocotools build for the comparison (says skipped otherwise).
/usr/bin/python3 bench/coco_eval/run.py --build build || status=1
exit $status
