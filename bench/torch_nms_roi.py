#!/usr/bin/python3
"""torchvision.ops side of bench/nms_roi.sh: NMS and RoIAlign on the boxes bench/nms_roi wrote.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_nms_roi.py --dump DIR \
        --size 800x1088 --channels 256 --threads 1 --runs 50

Same cases as nms_roi.c: nms (1000 boxes, IoU 0.7), batched_nms (80 class ids, IoU 0.5), roi7 (1000
RoIs, 7x7) and roi14 (100 RoIs, 14x14) over P2..P5 with mmdet's SingleLevelRoIExtractor level
mapping (floor(log2(sqrt(wh) / 56 + 1e-6)), clamped) and roi_align(aligned=True, sampling_ratio=0)
per level, as mmcv's RoIAlign runs on CPU; the mapping is timed too (it is part of the extractor).
Last line: nms_us=<x> batched_nms_us=<y> roi7_us=<z> roi14_us=<w> nms_keep=<k> batched_keep=<k2>
"""
import argparse
import os
import statistics
import time

import numpy as np
import torch
import torchvision


def extract(feats, rois, out, strides):
    scale = torch.sqrt((rois[:, 2] - rois[:, 0]) * (rois[:, 3] - rois[:, 1]))
    lvl = torch.floor(torch.log2(scale / 56 + 1e-6)).clamp(min=0, max=len(feats) - 1).long()
    res = rois.new_zeros(rois.size(0), feats[0].size(1), out, out)
    idx = torch.cat([rois.new_zeros(rois.size(0), 1), rois], dim=1)
    for i, (f, s) in enumerate(zip(feats, strides)):
        m = lvl == i
        if m.any():
            res[m] = torchvision.ops.roi_align(f, idx[m], out, 1.0 / s, 0, aligned=True)
    return res


def timed(fn, runs):
    for _ in range(2):
        fn()
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = fn()
        t.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(t), r


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dump", required=True)
    p.add_argument("--size", default="800x1088")
    p.add_argument("--channels", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=50)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    h, w = (int(v) for v in a.size.split("x"))
    rd = lambda name, dt: np.fromfile(os.path.join(a.dump, name), dtype=dt)  # noqa: E731
    boxes = torch.from_numpy(rd("boxes.f32", np.float32).reshape(-1, 4).copy())
    scores = torch.from_numpy(rd("scores.f32", np.float32).copy())
    ids = torch.from_numpy(rd("ids.i32", np.int32).astype(np.int64))
    dets = torch.from_numpy(rd("dets.f32", np.float32).reshape(-1, 4).copy())
    g = torch.Generator().manual_seed(1)
    strides = [4, 8, 16, 32]
    feats = [torch.rand(1, a.channels, -(-h // s), -(-w // s), generator=g) - 0.5 for s in strides]
    with torch.no_grad():
        t_nms, keep = timed(lambda: torchvision.ops.nms(boxes, scores, 0.7), a.runs)
        t_bnms, bkeep = timed(lambda: torchvision.ops.batched_nms(boxes, scores, ids, 0.5), a.runs)
        t7, _ = timed(lambda: extract(feats, boxes, 7, strides), a.runs)
        t14, _ = timed(lambda: extract(feats, dets, 14, strides), a.runs)
    print(f"torch {torch.__version__} torchvision {torchvision.__version__} threads {a.threads}")
    print(f"nms_us={t_nms:.1f} batched_nms_us={t_bnms:.1f} roi7_us={t7:.1f} roi14_us={t14:.1f} "
          f"nms_keep={keep.numel()} batched_keep={bkeep.numel()}")


if __name__ == "__main__":
    main()
