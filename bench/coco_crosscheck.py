#!/usr/bin/env python3
"""Scores `nala eval coco --out-prefix P` results (P.bbox.json, P.segm.json) with pycocotools and with
`nala eval coco --gt --results` and prints both stat vectors; they must agree to 1e-12.

    /work/main/.venv-bench/bin/python bench/coco_crosscheck.py --prefix P [--gt instances.json]
    bash bench/coco_crosscheck.sh     # generates a set, runs the demo Mask R-CNN, then this

--gt defaults to the annotation file P.meta.json names; the images scored are the ones P.meta.json
lists (mmdet's imgIds: what the run covered). pycocotools is a bench-only package
(bench/requirements-peers.txt), never a build or test dependency. Exit code 1 when a stat differs
by more than --tol, 2 when pycocotools is missing.
"""
import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile


def nala_stats(nala, gt, results, iou_type):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "report.json")
        subprocess.run([nala, "eval", "coco", "--gt", gt, "--results", results, "--iou-type", iou_type,
                        "--json", out], check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)["stats"]


def coco_stats(gt, results, iou_type, img_ids):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(gt)
        with open(results) as f:
            dets = json.load(f)
        coco_dt = coco_gt.loadRes(dets) if dets else COCO()
        ev = COCOeval(coco_gt, coco_dt, iou_type)
        if img_ids is not None:
            ev.params.imgIds = img_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return [float(s) for s in ev.stats]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prefix", required=True, help="the --out-prefix of nala eval coco")
    ap.add_argument("--gt", help="instances JSON (default: the one P.meta.json names)")
    ap.add_argument("--nala", default=os.path.join(os.path.dirname(__file__), "..", "build", "nala"))
    ap.add_argument("--tol", type=float, default=1e-12)
    a = ap.parse_args()
    try:
        import pycocotools  # noqa: F401
    except ImportError:
        print("coco_crosscheck: pycocotools is not installed (bench/requirements-peers.txt)", file=sys.stderr)
        return 2
    meta_path = a.prefix + ".meta.json"
    meta = {}
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
    gt = a.gt or meta.get("ann_file") or meta.get("annotations")
    if not gt:
        print(f"coco_crosscheck: no --gt and no annotation file in {meta_path}", file=sys.stderr)
        return 1
    img_ids = meta.get("img_ids") or meta.get("image_ids")
    worst, scored = 0.0, 0
    for iou_type in ("bbox", "segm"):
        results = f"{a.prefix}.{iou_type}.json"
        if not os.path.exists(results):
            continue
        ours = nala_stats(a.nala, gt, results, iou_type)
        theirs = coco_stats(gt, results, iou_type, img_ids)
        diff = max(abs(x - y) for x, y in zip(ours, theirs))
        worst = max(worst, diff)
        scored += 1
        print(f"{iou_type} nala        " + " ".join(f"{x:.15f}" for x in ours))
        print(f"{iou_type} pycocotools " + " ".join(f"{x:.15f}" for x in theirs))
        print(f"{iou_type} max_abs_diff={diff:.3e}")
    if not scored:
        print(f"coco_crosscheck: neither {a.prefix}.bbox.json nor {a.prefix}.segm.json exists", file=sys.stderr)
        return 1
    print(f"max_abs_diff={worst:.3e} tol={a.tol:g} {'same' if worst <= a.tol else 'DIFFERENT'}")
    return 0 if worst <= a.tol else 1


if __name__ == "__main__":
    sys.exit(main())
