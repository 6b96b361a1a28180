#!/usr/bin/python3
"""Trains the demo segmentation model: compact NaLaFormer (configs/_base_/models/nalaformer_demo.json)
+ Semantic FPN on scenes from `nala synth seg`, and reports mIoU on the held-out split as mmseg's
IoUMetric computes it (per-class intersection / union summed over the split, nanmean over classes).

    nala synth seg --out DATA --split training   --count 4000 --size 256x256 --seed 1
    nala synth seg --out DATA --split validation --count 200  --size 256x256 --seed 2
    nice -n 10 /usr/bin/python3 tools/train/train_seg.py --data DATA --out build/train_seg

Writes OUT/checkpoint.pth ({"state_dict": mmseg keys, "meta": ...}, also every --save-every
iterations, so a stopped run leaves a usable checkpoint) and OUT/log.json; then
    /usr/bin/python3 tools/convert_checkpoint.py OUT/checkpoint.pth models/X.safetensors --dtype f16
Seeded (torch, numpy and the sample order); the data is deterministic per its own seed.
Dev-time only: the C runtime never needs python.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
sys.path.insert(0, HERE)
from nalaformer_ref import NaLaFormerBackbone  # noqa: E402
from semantic_fpn import SemanticFPN  # noqa: E402

MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)  # RGB, as SegDataPreProcessor after bgr_to_rgb
STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)


def backbone_from_config(path):
    with open(path) as f:
        bb = json.load(f)["model"]["backbone"]
    def per_stage(v):
        return list(v) if isinstance(v, list) else [v] * 4

    return NaLaFormerBackbone(flags=bb["attn"], out_indices=tuple(bb["out_indices"]), embed_dims=bb["embed_dims"],
                              depths=bb["depths"], num_heads=bb["num_heads"], mlp_ratios=bb["mlp_ratios"],
                              layerscales=per_stage(bb.get("layerscales", True)),
                              layer_init_values=per_stage(bb.get("layer_init_values", 1.0))), bb


def load_split(data, split, limit=0):
    """uint8 images (N, H, W, 3) RGB and labels (N, H, W) after reduce_zero_label (0 -> 255, v -> v-1)."""
    img_dir, ann_dir = os.path.join(data, "images", split), os.path.join(data, "annotations", split)
    names = sorted(n[:-4] for n in os.listdir(img_dir) if n.endswith(".jpg"))
    if limit:
        names = names[:limit]
    imgs = np.stack([np.asarray(Image.open(os.path.join(img_dir, n + ".jpg")).convert("RGB")) for n in names])
    labs = np.stack([np.asarray(Image.open(os.path.join(ann_dir, n + ".png"))) for n in names]).astype(np.int64)
    labs = np.where(labs == 0, 255, labs - 1)
    return torch.from_numpy(imgs), torch.from_numpy(labs)


def normalise(imgs_u8):
    x = imgs_u8.permute(0, 3, 1, 2).float()
    return (x - MEAN) / STD


@torch.no_grad()
def evaluate(model, imgs, labs, num_classes, batch=8):
    """mmseg IoUMetric: total area intersect / union per class over the split; mIoU = nanmean * 100."""
    model.eval()
    inter = torch.zeros(num_classes, dtype=torch.float64)
    union = torch.zeros(num_classes, dtype=torch.float64)
    label_area = torch.zeros(num_classes, dtype=torch.float64)
    correct = total = 0
    for i in range(0, len(imgs), batch):
        pred = model(normalise(imgs[i:i + batch])).argmax(1)
        gt = labs[i:i + batch]
        valid = gt != 255
        p, g = pred[valid], gt[valid]
        hit = p[p == g]
        ai = torch.bincount(hit, minlength=num_classes).double()
        ap = torch.bincount(p, minlength=num_classes).double()
        al = torch.bincount(g, minlength=num_classes).double()
        inter += ai
        union += ap + al - ai
        label_area += al
        correct += int((p == g).sum())
        total += int(valid.sum())
    iou = inter / union
    model.train()
    return {"mIoU": float(np.nanmean(iou.numpy())) * 100, "aAcc": correct / max(total, 1) * 100,
            "IoU": [float(v) * 100 for v in iou]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="output folder of `nala synth seg` (training + validation splits)")
    p.add_argument("--out", required=True)
    p.add_argument("--config", default=os.path.join(ROOT, "configs", "_base_", "models", "nalaformer_demo.json"))
    p.add_argument("--fpn-channels", type=int, default=64)
    p.add_argument("--head-channels", type=int, default=64)
    p.add_argument("--iters", type=int, default=3000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--crop", type=int, default=0, help="random square crops of this side (0: whole images)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit", type=int, default=0, help="use the first N training images")
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--save-every", type=int, default=250)
    p.add_argument("--time-budget", type=float, default=0, help="stop after this many minutes (0: none)")
    a = p.parse_args()

    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.data, "classes.json")) as f:
        classes = json.load(f)["classes"]
    nc = len(classes)
    t0 = time.time()
    tr_img, tr_lab = load_split(a.data, "training", a.limit)
    va_img, va_lab = load_split(a.data, "validation")
    print(f"data: {len(tr_img)} training, {len(va_img)} validation images of {tuple(tr_img.shape[1:3])}, "
          f"{nc} classes, loaded in {time.time() - t0:.0f} s", flush=True)

    backbone, bb_cfg = backbone_from_config(a.config)
    model = SemanticFPN(backbone, bb_cfg["embed_dims"], a.fpn_channels, a.head_channels, nc)
    model.train()
    n_params = sum(t.numel() for t in model.parameters())
    print(f"model: {n_params / 1e6:.2f} M parameters", flush=True)
    decay = [t for n, t in model.named_parameters() if t.ndim > 1]
    no_decay = [t for n, t in model.named_parameters() if t.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=a.lr)
    warmup = min(50, a.iters // 10)

    def progress(it, elapsed):
        """Fraction of the run done: by iterations, or by time when --time-budget is the tighter limit
        (so the schedule always ends decayed, however loaded the machine is)."""
        f = it / a.iters
        if a.time_budget:
            f = max(f, elapsed / (a.time_budget * 60))
        return min(f, 1.0)

    def lr_at(it, f):  # linear warmup, then cosine to 1% (mmseg's poly schedules behave alike)
        if it < warmup:
            return a.lr * (0.1 + 0.9 * it / warmup)
        return a.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * f)))

    gen = torch.Generator().manual_seed(a.seed)
    log = {"args": vars(a), "evals": [], "params": n_params}
    meta = {"classes": classes, "fpn_channels": a.fpn_channels, "head_channels": a.head_channels,
            "backbone": bb_cfg, "reduce_zero_label": True}

    def save(it, final=False):
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        tmp = os.path.join(a.out, "checkpoint.pth.tmp")
        # meta as a JSON string: torch 1.13's weights-only loader (convert_checkpoint.py) refuses pickled floats
        torch.save({"state_dict": state, "meta": json.dumps(dict(meta, iter=it, final=final))}, tmp)
        os.replace(tmp, os.path.join(a.out, "checkpoint.pth"))
        with open(os.path.join(a.out, "log.json"), "w") as f:
            json.dump(log, f, indent=1)

    perm = torch.randperm(len(tr_img), generator=gen)
    pos = 0
    t_start = time.time()
    loss_avg = None
    it = 0
    for it in range(1, a.iters + 1):
        if pos + a.batch > len(perm):
            perm, pos = torch.randperm(len(tr_img), generator=gen), 0
        idx = perm[pos:pos + a.batch]
        pos += a.batch
        x, y = tr_img[idx], tr_lab[idx]
        flip = torch.rand(len(idx), generator=gen) < 0.5
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(2), x)
        y = torch.where(flip.view(-1, 1, 1), y.flip(2), y)
        if a.crop:
            H, W = x.shape[1:3]
            oy = int(torch.randint(0, H - a.crop + 1, (1,), generator=gen))
            ox = int(torch.randint(0, W - a.crop + 1, (1,), generator=gen))
            x, y = x[:, oy:oy + a.crop, ox:ox + a.crop], y[:, oy:oy + a.crop, ox:ox + a.crop]
        f = progress(it - 1, time.time() - t_start)
        lr = lr_at(it, f)
        for g in opt.param_groups:
            g["lr"] = lr
        logits = model(normalise(x))
        loss = F.cross_entropy(logits, y, ignore_index=255)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_avg = float(loss) if loss_avg is None else 0.95 * loss_avg + 0.05 * float(loss)
        elapsed = time.time() - t_start
        if it % 20 == 0 or it == 1:
            print(f"iter {it}/{a.iters} loss {loss_avg:.4f} lr {lr:.2e} {elapsed / it:.2f} s/iter "
                  f"elapsed {elapsed / 60:.1f} min", flush=True)
        out_of_time = progress(it, elapsed) >= 1.0 and it < a.iters
        if (a.eval_every and it % a.eval_every == 0) or it == a.iters or out_of_time:
            ev = evaluate(model, va_img, va_lab, nc)
            ev.update(iter=it, minutes=elapsed / 60, loss=loss_avg)
            log["evals"].append(ev)
            print(f"eval iter {it}: mIoU {ev['mIoU']:.2f} aAcc {ev['aAcc']:.2f} per class "
                  + " ".join(f"{c}={v:.1f}" for c, v in zip(classes, ev["IoU"])), flush=True)
        if it % a.save_every == 0 or out_of_time:
            save(it)
        if out_of_time:
            print(f"time budget of {a.time_budget} min reached at iter {it}", flush=True)
            break
    log["train_minutes"] = (time.time() - t_start) / 60
    log["last_iter"] = it
    save(it, final=True)
    print(f"done: {it} iterations in {log['train_minutes']:.1f} min; checkpoint {a.out}/checkpoint.pth", flush=True)


if __name__ == "__main__":
    main()
