#!/usr/bin/python3
"""mIoU of a converted demo segmentation model (models/*.safetensors, any stored float dtype) on a
split written by `nala synth seg`, computed in PyTorch exactly as train_seg.py validates (mmseg's
IoUMetric), so it can be set beside `nala eval seg --config ... --weights ...` on the same split.

    /usr/bin/python3 tools/train/eval_seg.py --weights models/fpn_nalaformer-demo_synth.safetensors \
        --data DATA [--split validation] [--fpn-channels 64 --head-channels 64]

Images are decoded with PIL here and with OpenCV in nala: both use libjpeg's default IDCT, and any
pixel that differs shows in the comparison, which is the point of it.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, HERE)
from safetensors_io import load as load_safetensors  # noqa: E402
from semantic_fpn import SemanticFPN  # noqa: E402
from train_seg import backbone_from_config, evaluate, load_split  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="validation")
    p.add_argument("--config", default=os.path.join(ROOT, "configs", "_base_", "models", "nalaformer_demo.json"))
    p.add_argument("--fpn-channels", type=int, default=64)
    p.add_argument("--head-channels", type=int, default=64)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", help="also write the figures here")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    with open(os.path.join(a.data, "classes.json")) as f:
        classes = json.load(f)["classes"]
    backbone, bb = backbone_from_config(a.config)
    model = SemanticFPN(backbone, bb["embed_dims"], a.fpn_channels, a.head_channels, len(classes))
    tensors = load_safetensors(a.weights)
    state = {k: torch.from_numpy(np.asarray(v, dtype=np.float32) if v.dtype.kind == "f" else np.asarray(v))
             for k, v in tensors.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        sys.exit(f"{a.weights}: missing {missing}, unexpected {unexpected}")
    imgs, labs = load_split(a.data, a.split, a.limit)
    ev = evaluate(model, imgs, labs, len(classes))
    print(f"{a.split}: {len(imgs)} images, mIoU {ev['mIoU']:.2f} aAcc {ev['aAcc']:.2f}")
    for c, v in zip(classes, ev["IoU"]):
        print(f"  {c:14s} {v:6.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(ev, images=len(imgs), classes=classes), f, indent=1)


if __name__ == "__main__":
    main()
