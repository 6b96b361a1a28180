"""Writes tests/fixtures/retina/: RetinaNet (NaLaFormer-XT, FPN 64 channels, RetinaHead with 8
classes and 64 feature channels: tests/fixtures/retina/retinanet_xt_c8.json) at 512x512 and 480x640,
in mmdet 3.x semantics (mmdet_ref.py).

Weights: seeded (seed_init.py, seed 0) for every key, except the head's two predictors, tuned so
that real numbers of detections survive and the decisions are stable:
  retina_cls.weight  = seeded * a_cls, a_cls = 1 / std(seeded retina_cls conv output - bias) on the
                       512x512 input: the logits then spread with std 1 around the bias
  retina_cls.bias    = seeded + mmdet's prior bias -log((1 - 0.01) / 0.01) (bias_init_with_prob)
                       - a_cls * (channel mean of that output): each channel centred on the prior
  retina_reg.weight  = seeded * a_reg, deltas with std 0.25 (boxes moved and resized; small deltas keep
                       the float32 error of large boxes under the 1e-3 px the test allows)
Inputs: 16 * seeded("input.bias", [1, 3, H, W], seed) (uniform in [-1.6, 1.6], exact in float32; the
C test regenerates them), so the fixture stores no image.
Stability: the detections (labels, boxes, scores) must be unchanged when every raw head output is
perturbed by 20 draws of Gaussian noise of std EPS = 2e-5 x its std (on the logits, whose std is 0.8
to 2.7 per level, 1.6e-5 to 5.4e-5 per element, at or above the largest nala-vs-torch difference
test_retinanet measures: 1.7e-5 on the logits, 1.0e-6 on the deltas; 1e-4 x std finds no stable
input seed): then the strict score threshold, the nms_pre cut, the NMS IoU decisions
and the max_per_img cut all sit farther than float32 noise from their boundaries. The script tries
input seeds (first, first + 2, ...) until one passes and fails rather than write a fixture that
does not; the seed used and the check's numbers are in the metadata.

Files: retina_weights.safetensors (the three tuned tensors; metadata "seeded_keys": JSON
{key: shape} of every other state_dict key, RoPE.angle and num_batches_tracked excluded), and per case
retina_<H>x<W>.safetensors: cls_scores_{0..4}, bbox_preds_{0..4} (NCHW float32, raw),
det_bboxes [n,4], det_scores [n], det_labels (I64) [n], in score order; 480x640 also holds
alt_det_* for the test_cfg in its "alt_test_cfg" metadata (see ALT_CFG).
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import safetensors_io  # noqa: E402
from mmdet_ref import RetinaNet, cross_check_nms, predict_dense, prior_bias  # noqa: E402
from seeded_init import apply_seeded, generate  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(REPO, "tests", "fixtures", "retina")
CONFIG = os.path.join(OUT, "retinanet_xt_c8.json")
CASES = [((512, 512), 1), ((480, 640), 2)]  # (H, W), input seed
# Noise of the stability check, x the std of each head output: at or above the largest nala-vs-torch
# element difference test_retinanet measures (1.7e-5 on logits of std 0.8..2.7, 1e-6 on deltas).
EPS = 2e-5
# A second test_cfg run on the 480x640 outputs (written as alt_det_*, with the test_cfg in the
# metadata): other nms_pre, score_thr, IoU and max_per_img, uncapped (fewer detections than
# max_per_img), so the C side shows it reads every value from the config. The first score_thr
# of ALT_THRS that passes the stability check is used.
ALT_CFG = {"nms_pre": 2000, "min_bbox_size": 0, "nms": {"type": "nms", "iou_threshold": 0.45}, "max_per_img": 300}
ALT_THRS = (0.9, 0.95, 0.97)
TUNED = ("bbox_head.retina_cls.weight", "bbox_head.retina_cls.bias", "bbox_head.retina_reg.weight")


def merge(a, b):
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict) and not v.get("_delete_"):
            merge(a[k], v)
        else:
            a[k] = v
    return a


def load_config(path):
    """nala's _base_ merge (bases first, objects key by key): enough for these files."""
    with open(path) as f:
        cfg = json.load(f)
    bases = cfg.pop("_base_", [])
    bases = [bases] if isinstance(bases, str) else bases
    out = {}
    for b in bases:
        merge(out, load_config(os.path.join(os.path.dirname(path), b)))
    return merge(out, cfg)


def make_input(h, w, seed):
    return torch.from_numpy(generate("input.bias", (1, 3, h, w), seed) * np.float32(16))


def tune(model, x):
    head = model.bbox_head
    with torch.no_grad():
        cls, reg = model(x)
        b_cls = head.retina_cls.bias.clone()
        pre = torch.cat([(c[0] - b_cls[:, None, None]).flatten(1) for c in cls], dim=1)  # [A*C, positions]
        mean_c = pre.mean(dim=1)
        a_cls = 1.0 / float((pre - mean_c[:, None]).std())
        b_reg = head.retina_reg.bias
        dreg = torch.cat([(r[0] - b_reg[:, None, None]).flatten() for r in reg])
        a_reg = 0.25 / float(dreg.std())
        head.retina_cls.weight.mul_(a_cls)
        # centre every channel on the prior (the seeded weights give each a constant offset that would
        # otherwise decide the classes), keeping the seeded bias as a small per-class spread
        head.retina_cls.bias.add_(prior_bias(0.01) - a_cls * mean_c)
        head.retina_reg.weight.mul_(a_reg)
    return a_cls, a_reg


def same_dets(a, b):
    if a[0].shape != b[0].shape or not torch.equal(a[2], b[2]):
        return False
    return a[0].numel() == 0 or (float((a[0] - b[0]).abs().max()) < 1e-2 and float((a[1] - b[1]).abs().max()) < 1e-4)


def stability(model, cls, reg, img_shape, trials=20, eps=EPS, test_cfg=None):
    ref, _ = predict_dense(model, cls, reg, img_shape, test_cfg=test_cfg)
    g = torch.Generator().manual_seed(5)
    for t in range(trials):
        pc = [c + eps * float(c.std()) * torch.randn(c.shape, generator=g) for c in cls]
        pr = [r + eps * float(r.std()) * torch.randn(r.shape, generator=g) for r in reg]
        got, _ = predict_dense(model, pc, pr, img_shape, test_cfg=test_cfg)
        if not same_dets(ref, got):
            return False, t
    return True, trials


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    cfg = load_config(CONFIG)
    model = RetinaNet(cfg["model"])
    apply_seeded(model, 0)
    a_cls, a_reg = tune(model, make_input(*CASES[0][0], CASES[0][1]))
    sd = model.state_dict()
    seeded_keys = {k: list(v.shape) for k, v in sd.items() if k not in TUNED and not k.endswith((".RoPE.angle", ".num_batches_tracked"))}
    meta = {"seed": "0", "a_cls": repr(a_cls), "a_reg": repr(a_reg), "prior_bias": repr(prior_bias(0.01)),
            "seeded_keys": json.dumps(seeded_keys), "config": os.path.relpath(CONFIG, REPO), "torch": torch.__version__}
    safetensors_io.save(os.path.join(OUT, "retina_weights.safetensors"),
                        {k: sd[k].numpy() for k in TUNED}, metadata=meta)
    for (h, w), first_seed in CASES:
        # the first input seed from first_seed on whose detections pass the stability check
        for seed in range(first_seed, first_seed + 40, 2):
            x = make_input(h, w, seed)
            with torch.no_grad():
                cls, reg = model(x)
                (boxes, scores, labels), cands = predict_dense(model, cls, reg, (h, w))
                keep_tv = cross_check_nms(*cands, model.test_cfg["nms"]["iou_threshold"])
                tv = cands[0][keep_tv][:model.test_cfg["max_per_img"]]
                assert torch.equal(tv, boxes), "torchvision batched_nms disagrees with the mmcv restatement"
                ok, trials = stability(model, cls, reg, (h, w))
            print("%dx%d seed %d: %s" % (h, w, seed, "stable" if ok else "unstable at trial %d" % trials))
            if ok:
                break
        if not ok:
            raise SystemExit("%dx%d: no stable input seed: retune" % (h, w))
        n_cand = int(cands[1].numel())
        tensors = {}
        for i, c in enumerate(cls):
            tensors["cls_scores_%d" % i] = c.numpy()
        for i, r in enumerate(reg):
            tensors["bbox_preds_%d" % i] = r.numpy()
        tensors["det_bboxes"] = boxes.numpy().reshape(-1, 4)
        tensors["det_scores"] = scores.numpy()
        tensors["det_labels"] = labels.numpy().astype(np.int64)
        m = {"input": "16 * seeded('input.bias', [1,3,%d,%d], seed=%d)" % (h, w, seed), "input_seed": str(seed),
             "candidates_before_nms": str(n_cand), "detections": str(int(scores.numel())),
             "stability": "unchanged under %d draws of noise %g x std on every head output" % (trials, EPS),
             "min_score": repr(float(scores.min())) if scores.numel() else "none"}
        if (h, w) == (480, 640):
            for thr in ALT_THRS:
                alt = dict(ALT_CFG, score_thr=thr)
                with torch.no_grad():
                    (ab, ascore, alab), _ = predict_dense(model, cls, reg, (h, w), test_cfg=alt)
                    ok, _ = stability(model, cls, reg, (h, w), test_cfg=alt)
                uncapped = ascore.numel() < alt["max_per_img"]
                print("480x640 alt test_cfg score_thr %g: %d detections, %s" % (
                    thr, ascore.numel(), "stable" if ok else "unstable"))
                if ok and uncapped and ascore.numel() > 10:
                    break
            else:
                raise SystemExit("480x640: no stable alternative test_cfg")
            tensors["alt_det_bboxes"] = ab.numpy().reshape(-1, 4)
            tensors["alt_det_scores"] = ascore.numpy()
            tensors["alt_det_labels"] = alab.numpy().astype(np.int64)
            m["alt_test_cfg"] = json.dumps(alt)
        safetensors_io.save(os.path.join(OUT, "retina_%dx%d.safetensors" % (h, w)), tensors, metadata=m)
        print("%dx%d: %d candidates, %d detections, scores %.4f..%.4f, labels %s" % (
            h, w, n_cand, scores.numel(), float(scores.min()), float(scores.max()),
            np.bincount(labels.numpy(), minlength=8).tolist()))
    print("a_cls %.4f a_reg %.4f" % (a_cls, a_reg))


if __name__ == "__main__":
    main()
