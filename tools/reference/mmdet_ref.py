"""PyTorch restatement of mmdet 3.x RetinaNet at test time (no mmdet import needed).

Modules (state_dict keys are mmdet's):
  RetinaHead      bbox_head.cls_convs.{i}.conv.*, reg_convs.{i}.conv.*, retina_cls.*, retina_reg.*
                  (mmdet/models/dense_heads/retina_head.py: ConvModule 3x3 + ReLU, no norm)
  RetinaNet       backbone (nalaformer_ref.NaLaFormerBackbone) -> neck (make_nn_fixtures.FPN) ->
                  bbox_head, shared over the levels
Post-processing (predict_dense): BaseDenseHead._predict_by_feat_single + filter_scores_and_topk
(mmdet/models/utils/misc.py) + _bbox_post_process, with the anchors, delta decode and mmcv
batched_nms restated in make_det_fixtures.py. torchvision's batched_nms is run beside it as a
cross-check of the NMS decisions (cross_check_nms).
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from make_det_fixtures import base_anchors, delta2bbox, grid_anchors, mmcv_batched_nms  # noqa: E402
from make_nn_fixtures import FPN  # noqa: E402
from nalaformer_ref import NaLaFormerBackbone  # noqa: E402


class RetinaHead(nn.Module):
    def __init__(self, num_classes, in_channels, feat_channels=256, stacked_convs=4, num_anchors=9):
        super().__init__()
        self.num_classes, self.num_anchors = num_classes, num_anchors
        self.cls_convs = nn.ModuleList()
        self.reg_convs = nn.ModuleList()
        for i in range(stacked_convs):
            cin = in_channels if i == 0 else feat_channels
            self.cls_convs.append(nn.ModuleDict({"conv": nn.Conv2d(cin, feat_channels, 3, padding=1)}))
            self.reg_convs.append(nn.ModuleDict({"conv": nn.Conv2d(cin, feat_channels, 3, padding=1)}))
        cin = feat_channels if stacked_convs else in_channels
        self.retina_cls = nn.Conv2d(cin, num_anchors * num_classes, 3, padding=1)
        self.retina_reg = nn.Conv2d(cin, num_anchors * 4, 3, padding=1)

    def forward_single(self, x):
        c = r = x
        for m in self.cls_convs:
            c = F.relu(m["conv"](c))
        for m in self.reg_convs:
            r = F.relu(m["conv"](r))
        return self.retina_cls(c), self.retina_reg(r)

    def forward(self, feats):
        outs = [self.forward_single(f) for f in feats]
        return [o[0] for o in outs], [o[1] for o in outs]


class RetinaNet(nn.Module):
    """cfg: the merged config's "model" dict (nala JSON = mmdet dict shapes)."""

    def __init__(self, cfg):
        super().__init__()
        bb = cfg["backbone"]
        self.backbone = NaLaFormerBackbone(bb.get("variant"), bb.get("attn"), tuple(bb.get("out_indices", (0, 1, 2, 3))))
        nk = cfg["neck"]
        extra = nk.get("add_extra_convs", False)
        extra = "on_input" if extra is True else extra
        self.neck = FPN(nk["in_channels"], nk["out_channels"], nk["num_outs"], nk.get("start_level", 0), extra,
                        nk.get("relu_before_extra_convs", False))
        hd = cfg["bbox_head"]
        ag = hd["anchor_generator"]
        self.anchor_cfg = ag
        self.num_anchors = len(ag["ratios"]) * ag["scales_per_octave"]
        self.bbox_head = RetinaHead(hd["num_classes"], hd["in_channels"], hd.get("feat_channels", 256),
                                    hd.get("stacked_convs", 4), self.num_anchors)
        coder = hd.get("bbox_coder", {})
        self.means = coder.get("target_means", [0.0] * 4)
        self.stds = coder.get("target_stds", [1.0] * 4)
        self.test_cfg = cfg["test_cfg"]
        self.eval()

    def forward(self, x):
        return self.bbox_head(self.neck(self.backbone(x)))

    def level_anchors(self, sizes):
        ag = self.anchor_cfg
        # numpy float64 then torch float32, as mmdet's AnchorGenerator builds octave scales
        scales = [float(np.float32(2 ** (i / ag["scales_per_octave"]) * ag["octave_base_scale"]))
                  for i in range(ag["scales_per_octave"])]
        out = []
        for (h, w), stride in zip(sizes, ag["strides"]):
            base = base_anchors(float(stride), ag["ratios"], scales)
            out.append(grid_anchors(base, stride, h, w))
        return out


def filter_scores_and_topk(scores, score_thr, topk):
    """mmdet/models/utils/misc.py, with torch.sort made stable (ties: lower flat index first)."""
    valid_mask = scores > score_thr
    s = scores[valid_mask]
    valid_idxs = torch.nonzero(valid_mask)
    num_topk = min(topk, valid_idxs.size(0))
    s, idxs = s.sort(descending=True, stable=True)
    s = s[:num_topk]
    topk_idxs = valid_idxs[idxs[:num_topk]]
    keep_idxs, labels = topk_idxs.unbind(dim=1)
    return s, labels, keep_idxs


def predict_dense(model, cls_scores, bbox_preds, img_shape, scale_factor=None, nms_fn=mmcv_batched_nms, test_cfg=None):
    """BaseDenseHead.predict_by_feat for one image: per level sigmoid, filter + topk, decode; concat;
    rescale (scale_factor = (w_scale, h_scale) or None), min_bbox_size, batched NMS, max_per_img.
    test_cfg: another model.test_cfg dict (default the model's). Returns (bboxes [n,4], scores [n],
    labels [n]) and the pre-NMS candidates (for margin checks)."""
    cfg = model.test_cfg if test_cfg is None else test_cfg
    C = model.bbox_head.num_classes
    anchors = model.level_anchors([c.shape[-2:] for c in cls_scores])
    mb, ms, ml = [], [], []
    for cls, reg, pri in zip(cls_scores, bbox_preds, anchors):
        reg = reg[0].permute(1, 2, 0).reshape(-1, 4)
        sc = cls[0].permute(1, 2, 0).reshape(-1, C).sigmoid()
        s, labels, keep = filter_scores_and_topk(sc, cfg.get("score_thr", 0), cfg["nms_pre"])
        mb.append(delta2bbox(pri[keep], reg[keep], model.means, model.stds, max_shape=img_shape))
        ms.append(s)
        ml.append(labels)
    bboxes, scores, labels = torch.cat(mb), torch.cat(ms), torch.cat(ml)
    if scale_factor is not None:
        # _bbox_post_process: scale_boxes(bboxes, [1 / s for s in scale_factor])
        inv = bboxes.new_tensor([1 / scale_factor[0], 1 / scale_factor[1]]).repeat((1, 2))
        bboxes = bboxes * inv
    mbs = cfg.get("min_bbox_size", -1)
    if mbs >= 0:
        w, h = bboxes[:, 2] - bboxes[:, 0], bboxes[:, 3] - bboxes[:, 1]
        valid = (w > mbs) & (h > mbs)
        bboxes, scores, labels = bboxes[valid], scores[valid], labels[valid]
    cands = (bboxes.clone(), scores.clone(), labels.clone())
    if bboxes.numel() == 0:
        return (bboxes, scores, labels), cands
    keep = nms_fn(bboxes, scores, labels, cfg["nms"]["iou_threshold"])
    keep = keep[:cfg["max_per_img"]]
    return (bboxes[keep], scores[keep], labels[keep]), cands


def cross_check_nms(bboxes, scores, labels, thr):
    """torchvision.ops.batched_nms on the same candidates: must keep the same boxes in the same order
    (no exact score ties in the fixtures)."""
    import torchvision
    return torchvision.ops.batched_nms(bboxes, scores, labels, thr)


def prior_bias(prob=0.01):
    """mmcv bias_init_with_prob: -log((1 - p) / p), RetinaHead's retina_cls bias init."""
    return float(-math.log((1 - prob) / prob))
