#!/usr/bin/python3
"""Trains the demo detector: compact NaLaFormer (configs/_base_/models/nalaformer_demo.json) + FPN +
Mask R-CNN heads (mmdet 3.x mask-rcnn_r50_fpn semantics, channels of
configs/mask-rcnn_nalaformer-demo_synth.json) on scenes from `nala synth coco`.

    nala synth coco --out DATA --split train --count 8000 --size 128x128 --seed 1
    nala synth coco --out DATA --split val   --count 200  --size 128x128 --seed 2
    OMP_NUM_THREADS=1 nice -n -5 /usr/bin/python3 tools/train/train_det.py --data DATA --out build/train_det \
        --batch 4 --lr 2e-3 --time-budget 57 --seed 0 --threads 1 --mask-rois 16

(the shipped model's recipe, models/README.md). One thread: under the shared machine's load two
torch threads made an iteration ~10x slower (OpenMP barriers waiting for a descheduled thread).

Module names and test-time maths are tools/reference/mmdet_maskrcnn_ref.py's (keys backbone.*, neck.*,
rpn_head.*, roi_head.bbox_head.*, roi_head.mask_head.*). Training restates mmdet's defaults:
RPN MaxIoUAssigner(0.7, 0.3, min_pos_iou 0.3, low-quality matches) + RandomSampler(256, 0.5), BCE +
L1; proposals (nms_pre 2000, 1000 per image, NMS 0.7) plus the ground-truth boxes;
R-CNN MaxIoUAssigner(0.5, 0.5, 0.5) + RandomSampler(--rcnn-samples, default 128 (mmdet 512), 0.25), CE + L1 (target stds
0.1, 0.1, 0.2, 0.2, class-specific); mask targets = RoIAlign(aligned) of the GT bitmap to 28x28,
thresholded at 0.5, BCE on the GT class channel. At the end the val split is predicted with the
reference's test path and written as COCO results (OUT/results_val.json) for `nala eval coco`.
RPN anchor scales are read from --det-config (the config the model ships with), so training and test
use the same anchors. --mask-rois N trains the mask head on a random N of each image's sampled
positives (mmdet: all of them); with 16 an iteration costs about half as much on one core.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
sys.path.insert(0, HERE)
import coco_rle  # noqa: E402
from make_det_fixtures import base_anchors, grid_anchors  # noqa: E402
from make_nn_fixtures import FPN  # noqa: E402
import mmdet_maskrcnn_ref as ref  # noqa: E402
from train_seg import MEAN, STD, backbone_from_config  # noqa: E402

# The reference's NMS is a Python greedy loop (exact mmcv semantics, for fixtures); torchvision's
# batched_nms keeps the same boxes (IoU without +1, score order) and is fast enough to train with.
ref.mmcv_batched_nms = lambda boxes, scores, idxs, thr, class_agnostic=False, split_thr=10000: \
    torchvision.ops.batched_nms(boxes, scores, torch.zeros_like(idxs) if class_agnostic else idxs, thr)

STRIDES = [4, 8, 16, 32, 64]
RATIOS = [0.5, 1.0, 2.0]
RCNN_STDS = [0.1, 0.1, 0.2, 0.2]


class DemoMaskRCNN(ref.MaskRCNN):
    """The reference Mask R-CNN with the compact backbone (the reference builds only named variants)."""

    def __init__(self, cfg, backbone, dims):
        nn.Module.__init__(self)
        self.cfg = cfg
        self.backbone = backbone
        self.neck = FPN(dims, cfg["fpn_ch"], 5, 0, False, False)
        self.rpn_head = ref.RPNHead(cfg["fpn_ch"], cfg["rpn_feat"], len(RATIOS) * len(cfg["scales"]))
        self.roi_head = ref.RoIHead(cfg["fpn_ch"], 7, cfg["fc"], cfg["mask_ch"], cfg["mask_convs"], cfg["n_cls"])


def load_split(data, split):
    with open(os.path.join(data, "annotations", f"instances_{split}.json")) as f:
        coco = json.load(f)
    by_image = {im["id"]: [] for im in coco["images"]}
    for a in coco["annotations"]:
        by_image[a["image_id"]].append(a)
    imgs, targets = [], []
    for im in coco["images"]:
        imgs.append(np.asarray(Image.open(os.path.join(data, "images", split, im["file_name"])).convert("RGB")))
        anns = by_image[im["id"]]
        boxes = torch.tensor([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                              for a in anns], dtype=torch.float32).view(-1, 4)
        labels = torch.tensor([a["category_id"] - 1 for a in anns], dtype=torch.long)
        masks = torch.from_numpy(np.stack([coco_rle.decode(a["segmentation"]["counts"], im["height"], im["width"])
                                           for a in anns])) if anns else torch.zeros(0, im["height"], im["width"], dtype=torch.bool)
        targets.append((boxes, labels, masks))
    return coco, torch.from_numpy(np.stack(imgs)), targets


def bbox2delta(p, g, stds):
    pw, ph = p[:, 2] - p[:, 0], p[:, 3] - p[:, 1]
    px, py = p[:, 0] + 0.5 * pw, p[:, 1] + 0.5 * ph
    gw, gh = g[:, 2] - g[:, 0], g[:, 3] - g[:, 1]
    gx, gy = g[:, 0] + 0.5 * gw, g[:, 1] + 0.5 * gh
    d = torch.stack([(gx - px) / pw, (gy - py) / ph, torch.log(gw / pw), torch.log(gh / ph)], 1)
    return d / d.new_tensor(stds)


def assign(boxes, gt, pos_thr, neg_thr, min_pos, low_quality):
    """MaxIoUAssigner: -1 ignore, 0 negative, k+1 positive for gt k."""
    out = torch.full((len(boxes),), -1, dtype=torch.long)
    if len(gt) == 0:
        out[:] = 0
        return out
    iou = torchvision.ops.box_iou(gt, boxes)  # (G, N)
    max_iou, arg = iou.max(0)
    out[(max_iou >= 0) & (max_iou < neg_thr)] = 0
    pos = max_iou >= pos_thr
    out[pos] = arg[pos] + 1
    if low_quality:
        gt_max = iou.max(1).values
        for k in range(len(gt)):
            if gt_max[k] >= min_pos:
                out[iou[k] == gt_max[k]] = k + 1
    return out


def sample(assigned, num, pos_fraction, gen):
    pos = torch.nonzero(assigned > 0).view(-1)
    neg = torch.nonzero(assigned == 0).view(-1)
    n_pos = min(len(pos), int(num * pos_fraction))
    pos = pos[torch.randperm(len(pos), generator=gen)[:n_pos]]
    neg = neg[torch.randperm(len(neg), generator=gen)[:num - n_pos]]
    return pos, neg


def anchors_for(feats, scales):
    return torch.cat([grid_anchors(base_anchors(s, RATIOS, scales), s, f.shape[2], f.shape[3])
                      for s, f in zip(STRIDES, feats)])


def losses(model, x, targets, gen, cfg):
    feats = model.neck(list(model.backbone(x)))
    cls, reg = model.rpn_head(feats)
    anchors = anchors_for(feats, cfg["scales"])
    B = x.shape[0]
    img_shape = tuple(x.shape[2:])
    rpn_cls = torch.cat([c.permute(0, 2, 3, 1).reshape(B, -1) for c in cls], 1)
    rpn_reg = torch.cat([r.permute(0, 2, 3, 1).reshape(B, -1, 4) for r in reg], 1)
    l_rpn_cls = l_rpn_reg = l_cls = l_reg = l_mask = x.new_zeros(())
    roi_feats_all, labels_all, deltas_all, pos_cls_all, mask_in, mask_tg, mask_cls = [], [], [], [], [], [], []
    n_rcnn = 0
    for i in range(B):
        gt, gl, gm = targets[i]
        a = assign(anchors, gt, 0.7, 0.3, 0.3, True)
        pos, neg = sample(a, 256, 0.5, gen)
        idx = torch.cat([pos, neg])
        tgt = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))])
        l_rpn_cls = l_rpn_cls + F.binary_cross_entropy_with_logits(rpn_cls[i, idx], tgt, reduction="sum") / max(len(idx), 1)
        if len(pos):
            d = bbox2delta(anchors[pos], gt[a[pos] - 1], [1, 1, 1, 1])
            l_rpn_reg = l_rpn_reg + (rpn_reg[i, pos] - d).abs().sum() / max(len(idx), 1)
        with torch.no_grad():
            props, _ = model.rpn_proposals([c[i:i + 1].detach() for c in cls], [r[i:i + 1].detach() for r in reg], img_shape)
        props = torch.cat([props, gt]) if len(gt) else props
        a2 = assign(props, gt, 0.5, 0.5, 0.5, False)
        pos2, neg2 = sample(a2, cfg["rcnn_samples"], 0.25, gen)
        rois = torch.cat([props[pos2], props[neg2]])
        if len(rois) == 0:
            continue
        f_i = [f[i:i + 1] for f in feats[:4]]
        roi_feats_all.append(ref.roi_extract(f_i, rois, 7, STRIDES[:4]))
        lab = torch.cat([gl[a2[pos2] - 1], torch.full((len(neg2),), cfg["n_cls"], dtype=torch.long)])
        labels_all.append(lab)
        n_rcnn += len(rois)
        if len(pos2):
            g_pos = gt[a2[pos2] - 1]
            deltas_all.append((len(deltas_all), bbox2delta(props[pos2], g_pos, RCNN_STDS), gl[a2[pos2] - 1], len(pos2)))
            # The mask head (4 convs on 14x14) dominates an iteration's cost when every positive feeds it;
            # a random subset of the positives gives the same gradient in expectation at a fraction of it.
            mpos = pos2[torch.randperm(len(pos2), generator=gen)[:cfg["mask_rois"]]] if cfg["mask_rois"] > 0 else pos2
            mask_in.append(ref.roi_extract(f_i, props[mpos], 14, STRIDES[:4]))
            gmi = gm[a2[mpos] - 1].float()[:, None]
            r5 = torch.cat([torch.arange(len(mpos), dtype=torch.float32)[:, None], props[mpos]], 1)
            mask_tg.append((torchvision.ops.roi_align(gmi, r5, (28, 28), 1.0, 0, True) >= 0.5).float()[:, 0])
            mask_cls.append(gl[a2[mpos] - 1])
        pos_cls_all.append(len(pos2))
    if roi_feats_all:
        cls_score, bbox_pred = model.roi_head.bbox_head(torch.cat(roi_feats_all))
        labels = torch.cat(labels_all)
        l_cls = F.cross_entropy(cls_score, labels)
        # positives lead each image's rois: gather their class-specific deltas
        start, regs, tgts = 0, [], []
        k = 0
        for n_img, n_pos in zip([len(lb) for lb in labels_all], pos_cls_all):
            if n_pos:
                _, d, c, _ = deltas_all[k]
                k += 1
                pred = bbox_pred[start:start + n_pos].view(n_pos, -1, 4)[torch.arange(n_pos), c]
                regs.append(pred)
                tgts.append(d)
            start += n_img
        if regs:
            l_reg = (torch.cat(regs) - torch.cat(tgts)).abs().sum() / max(n_rcnn, 1)
        if mask_in:
            logits = model.roi_head.mask_head(torch.cat(mask_in))
            c = torch.cat(mask_cls)
            l_mask = F.binary_cross_entropy_with_logits(logits[torch.arange(len(c)), c], torch.cat(mask_tg))
    return {"rpn_cls": l_rpn_cls / B, "rpn_bbox": l_rpn_reg / B, "cls": l_cls, "bbox": l_reg, "mask": l_mask}


@torch.no_grad()
def predict_split(model, imgs, coco, score_thr=0.05):
    """COCO results (bbox xywh, RLE segmentation) of the reference's test path, one image at a time."""
    model.eval()
    train_pre = model.cfg["rpn_nms_pre"]
    model.cfg["rpn_nms_pre"] = 1000  # test_cfg.rpn.nms_pre of the config (training proposals use 2000)
    results = []
    for i, im in enumerate(coco["images"]):
        x = (imgs[i:i + 1].permute(0, 3, 1, 2).float() - MEAN) / STD
        out = model(x)
        for b, s, l, m in zip(out["det_bboxes"], out["det_scores"], out["det_labels"], out["det_masks"]):
            x0, y0, x1, y1 = [float(v) for v in b]
            results.append({"image_id": im["id"], "category_id": int(l) + 1, "score": float(s),
                            "bbox": [x0, y0, x1 - x0, y1 - y0],
                            "segmentation": {"size": [im["height"], im["width"]], "counts": coco_rle.encode(m.numpy())}})
    model.cfg["rpn_nms_pre"] = train_pre
    model.train()
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--config", default=os.path.join(ROOT, "configs", "_base_", "models", "nalaformer_demo.json"))
    p.add_argument("--iters", type=int, default=100000)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--time-budget", type=float, default=50, help="minutes; the schedule ends decayed by then")
    p.add_argument("--save-every", type=int, default=100)
    p.add_argument("--rcnn-samples", type=int, default=128,
                   help="RoIs sampled per image for the R-CNN heads (mmdet: 512; fewer keeps the mask head affordable)")
    p.add_argument("--mask-rois", type=int, default=0,
                   help="at most N of an image's sampled positive RoIs train the mask head (0: all, as mmdet)")
    p.add_argument("--det-config", default=os.path.join(ROOT, "configs", "mask-rcnn_nalaformer-demo_synth.json"),
                   help="the detector config the result is shipped with: its RPN anchor scales are trained")
    p.add_argument("--val-limit", type=int, default=0, help="predict only the first N val images (0: all)")
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--predict-only", metavar="CHECKPOINT",
                   help="skip training: load this checkpoint.pth and write OUT/results_val.json")
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    va_coco, va_img, _ = load_split(a.data, "val")
    if a.predict_only:
        tr_img, tr_tg = va_img[:0], []
    else:
        _, tr_img, tr_tg = load_split(a.data, "train")
    print(f"data: {len(tr_img)} train, {len(va_img)} val images of {tuple(va_img.shape[1:3])}", flush=True)
    backbone, bb = backbone_from_config(a.config)
    with open(a.det_config) as f:
        scales = [float(v) for v in json.load(f)["model"]["rpn_head"]["anchor_generator"]["scales"]]
    cfg = dict(fpn_ch=64, rpn_feat=64, fc=256, mask_ch=64, mask_convs=4, n_cls=len(va_coco["categories"]),
               ratios=RATIOS, scales=scales, strides=STRIDES,
               rpn_nms_pre=2000, rpn_max_per_img=1000, rpn_iou=0.7, rpn_min_bbox_size=0,
               rcnn_score_thr=0.05, rcnn_iou=0.5, rcnn_max_per_img=100, rcnn_mask_thr=0.5,
               rcnn_samples=a.rcnn_samples, mask_rois=a.mask_rois)
    model = DemoMaskRCNN(cfg, backbone, bb["embed_dims"])
    model.train()
    print(f"model: {sum(t.numel() for t in model.parameters()) / 1e6:.2f} M parameters", flush=True)
    decay = [t for t in model.parameters() if t.ndim > 1]
    no_decay = [t for t in model.parameters() if t.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0}], lr=a.lr)
    gen = torch.Generator().manual_seed(a.seed)
    log = {"args": vars(a), "cfg": cfg, "iters": []}

    def save(it, final=False):
        tmp = os.path.join(a.out, "checkpoint.pth.tmp")
        torch.save({"state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
                    "meta": json.dumps({"iter": it, "final": final, "cfg": cfg, "backbone": bb})}, tmp)
        os.replace(tmp, os.path.join(a.out, "checkpoint.pth"))
        with open(os.path.join(a.out, "log.json"), "w") as f:
            json.dump(log, f, indent=1)

    t0 = time.time()
    perm, pos, avg = torch.randperm(len(tr_img), generator=gen), 0, None
    it = 0
    if a.predict_only:
        model.load_state_dict(torch.load(a.predict_only)["state_dict"])
        a.iters = 0
    for it in range(1, a.iters + 1):
        f = min(1.0, max(it / a.iters, (time.time() - t0) / (a.time_budget * 60)))
        lr = a.lr * (0.1 + 0.9 * it / 100) if it < 100 else a.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * f)))
        for g in opt.param_groups:
            g["lr"] = lr
        if pos + a.batch > len(perm):
            perm, pos = torch.randperm(len(tr_img), generator=gen), 0
        idx = perm[pos:pos + a.batch]
        pos += a.batch
        x = tr_img[idx].permute(0, 3, 1, 2).float()
        tg = [tr_tg[int(j)] for j in idx]
        W = x.shape[3]
        flip = torch.rand(len(idx), generator=gen) < 0.5
        for b in range(len(idx)):
            if flip[b]:
                x[b] = x[b].flip(2)
                bx, lb, mk = tg[b]
                bx = torch.stack([W - bx[:, 2], bx[:, 1], W - bx[:, 0], bx[:, 3]], 1) if len(bx) else bx
                tg[b] = (bx, lb, mk.flip(2))
        ls = losses(model, (x - MEAN) / STD, tg, gen, cfg)
        loss = sum(ls.values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        avg = {k: float(v) for k, v in ls.items()} if avg is None else {k: 0.95 * avg[k] + 0.05 * float(v) for k, v in ls.items()}
        el = time.time() - t0
        if it % a.log_every == 0 or it == 1:
            print(f"iter {it} " + " ".join(f"{k} {v:.3f}" for k, v in avg.items()) + f" lr {lr:.2e} {el / it:.2f} s/iter "
                  f"elapsed {el / 60:.1f} min", flush=True)
            log["iters"].append(dict(avg, iter=it, minutes=el / 60))
        if it % a.save_every == 0:
            save(it)
        if f >= 1.0:
            break
    if not a.predict_only:
        log["train_minutes"] = (time.time() - t0) / 60
        log["last_iter"] = it
        save(it, final=True)
    if a.val_limit:
        va_coco = dict(va_coco, images=va_coco["images"][:a.val_limit])
    t1 = time.time()
    res = predict_split(model, va_img, va_coco)
    print(f"predicted {len(va_coco['images'])} val images in {time.time() - t1:.0f} s", flush=True)
    with open(os.path.join(a.out, "results_val.json"), "w") as f:
        json.dump(res, f)
    print(f"done: {it} iterations in {log.get('train_minutes', 0):.1f} min; {len(res)} val detections in "
          f"{a.out}/results_val.json (score with: nala eval coco --gt DATA/annotations/instances_val.json "
          f"--results {a.out}/results_val.json --iou-type bbox|segm)", flush=True)


if __name__ == "__main__":
    main()
