#!/usr/bin/python3
"""pycocotools side of the COCO evaluation benchmark: loadRes + evaluate + accumulate + summarize,
then the 12 stats (full precision) as JSON. Usage: pycoco_eval.py GT RESULTS bbox|segm OUT.json"""
import json
import os
import sys

sys.path.insert(0, os.environ.get("PYCOCOTOOLS_PATH", ""))
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

gt_path, res_path, iou_type, out_path = sys.argv[1:5]
gt = COCO(gt_path)
ev = COCOeval(gt, gt.loadRes(res_path), iou_type)
ev.evaluate()
ev.accumulate()
ev.summarize()
with open(out_path, "w") as f:
    json.dump({"iou_type": iou_type, "stats": [float(v) for v in ev.stats]}, f)
