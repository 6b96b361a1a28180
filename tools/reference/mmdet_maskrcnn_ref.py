"""PyTorch restatement of mmdet 3.x Mask R-CNN at test time (TwoStageDetector.predict, rescale off:
img_shape = the input tensor's size), with the state_dict keys of an mmdet checkpoint:
  backbone.*  NaLaFormer (nalaformer_ref.NaLaFormerBackbone)
  neck.*      FPN (make_nn_fixtures.FPN, mmdet necks/fpn.py; Mask R-CNN: P2..P5 + max_pool P6)
  rpn_head.*  RPNHead: rpn_conv 3x3 + ReLU, rpn_cls (A), rpn_reg (4A)
  roi_head.bbox_head.*  Shared2FCBBoxHead: shared_fcs.{0,1}, fc_cls (K+1), fc_reg (4K)
  roi_head.mask_head.*  FCNMaskHead: convs.<i>.conv, upsample (ConvTranspose2d 2x2/2), conv_logits

Sources restated (mmdet 3.x): dense_heads/rpn_head.py (_predict_by_feat_single, _bbox_post_process),
roi_heads/standard_roi_head.py (predict_bbox, predict_mask), roi_heads/roi_extractors/
single_level_roi_extractor.py (map_roi_levels), bbox_heads/bbox_head.py (_predict_by_feat_single),
layers/bbox_nms.py (multiclass_nms), mask_heads/fcn_mask_head.py (_predict_by_feat_single,
_do_paste_mask CPU path). NMS / decode / anchors / paste come from make_det_fixtures.py (the
restatements the det/ unit tests already check against torchvision); RoIAlign is torchvision's
roi_align(aligned=True), mmcv's CPU kernel.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_det_fixtures import (base_anchors, delta2bbox, do_paste_mask, grid_anchors,  # noqa: E402
                               map_roi_levels, mmcv_batched_nms)
from make_nn_fixtures import FPN  # noqa: E402
from nalaformer_ref import NaLaFormerBackbone  # noqa: E402


class RPNHead(nn.Module):
    def __init__(self, cin, feat, n_anchors):
        super().__init__()
        self.rpn_conv = nn.Conv2d(cin, feat, 3, padding=1)
        self.rpn_cls = nn.Conv2d(feat, n_anchors, 1)
        self.rpn_reg = nn.Conv2d(feat, 4 * n_anchors, 1)

    def forward(self, feats):
        cls, reg = [], []
        for x in feats:
            x = F.relu(self.rpn_conv(x))
            cls.append(self.rpn_cls(x))
            reg.append(self.rpn_reg(x))
        return cls, reg


class BBoxHead(nn.Module):
    """Shared2FCBBoxHead (ConvFCBBoxHead with 2 shared fcs), class-specific regression."""

    def __init__(self, cin, roi, fc, n_cls):
        super().__init__()
        self.shared_fcs = nn.ModuleList([nn.Linear(cin * roi * roi, fc), nn.Linear(fc, fc)])
        self.fc_cls = nn.Linear(fc, n_cls + 1)
        self.fc_reg = nn.Linear(fc, 4 * n_cls)

    def forward(self, x):
        x = x.flatten(1)
        for fc in self.shared_fcs:
            x = F.relu(fc(x))
        return self.fc_cls(x), self.fc_reg(x)


class MaskHead(nn.Module):
    def __init__(self, cin, ch, n_convs, n_cls):
        super().__init__()
        self.convs = nn.ModuleList(
            [nn.ModuleDict({"conv": nn.Conv2d(cin if i == 0 else ch, ch, 3, padding=1)}) for i in range(n_convs)])
        self.upsample = nn.ConvTranspose2d(ch if n_convs else cin, ch, 2, stride=2)
        self.conv_logits = nn.Conv2d(ch, n_cls, 1)

    def forward(self, x):
        for c in self.convs:
            x = F.relu(c["conv"](x))
        return self.conv_logits(F.relu(self.upsample(x)))


class RoIHead(nn.Module):
    def __init__(self, cin, roi, fc, mask_ch, mask_convs, n_cls):
        super().__init__()
        self.bbox_head = BBoxHead(cin, roi, fc, n_cls)
        self.mask_head = MaskHead(cin, mask_ch, mask_convs, n_cls)


def roi_extract(feats, rois, out_size, strides, finest_scale=56.0):
    """SingleLevelRoIExtractor: level by map_roi_levels, RoIAlign(aligned=True, sampling_ratio=0)."""
    lvls = map_roi_levels(rois, len(strides), finest_scale)
    out = feats[0].new_zeros(len(rois), feats[0].shape[1], out_size, out_size)
    for i, s in enumerate(strides):
        idx = (lvls == i).nonzero(as_tuple=False).view(-1)
        if idx.numel():
            r5 = torch.cat([rois.new_zeros(len(idx), 1), rois[idx]], 1)
            out[idx] = torchvision.ops.roi_align(feats[i], r5, (out_size, out_size), spatial_scale=1.0 / s,
                                                 sampling_ratio=0, aligned=True)
    return out


def multiclass_nms(bboxes, scores, score_thr, iou_thr, max_num):
    """mmdet multiclass_nms with class-specific boxes [n, 4K] and scores [n, K+1]."""
    num_classes = scores.size(1) - 1
    bboxes = bboxes.view(scores.size(0), -1, 4)
    scores = scores[:, :-1]
    labels = torch.arange(num_classes, dtype=torch.long).view(1, -1).expand_as(scores)
    bboxes, scores, labels = bboxes.reshape(-1, 4), scores.reshape(-1), labels.reshape(-1)
    inds = (scores > score_thr).nonzero(as_tuple=False).squeeze(1)
    bboxes, scores, labels = bboxes[inds], scores[inds], labels[inds]
    if bboxes.numel() == 0:
        return bboxes, scores, labels
    keep = mmcv_batched_nms(bboxes, scores, labels, iou_thr)[:max_num]
    return bboxes[keep], scores[keep], labels[keep]


class MaskRCNN(nn.Module):
    """cfg: dict(variant, attn, fpn_ch, rpn_feat, fc, mask_ch, mask_convs, n_cls, anchor scales/ratios/
    strides, test_cfg rpn (nms_pre, max_per_img, iou, min_bbox_size) and rcnn (score_thr, iou,
    max_per_img, mask_thr))."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.backbone = NaLaFormerBackbone(cfg["variant"], cfg["attn"], (0, 1, 2, 3))
        dims = self.backbone.config["embed_dims"]
        self.neck = FPN(dims, cfg["fpn_ch"], 5, 0, False, False)
        A = len(cfg["ratios"]) * len(cfg["scales"])
        self.rpn_head = RPNHead(cfg["fpn_ch"], cfg["rpn_feat"], A)
        self.roi_head = RoIHead(cfg["fpn_ch"], 7, cfg["fc"], cfg["mask_ch"], cfg["mask_convs"], cfg["n_cls"])
        self.eval()

    def rpn_proposals(self, cls, reg, img_shape):
        """RPNHead._predict_by_feat_single + _bbox_post_process (one image)."""
        c = self.cfg
        scores_l, deltas_l, priors_l, ids_l = [], [], [], []
        for lvl, (cs, bp) in enumerate(zip(cls, reg)):
            h, w = cs.shape[2:]
            base = base_anchors(c["strides"][lvl], c["ratios"], c["scales"])
            priors = grid_anchors(base, c["strides"][lvl], h, w)
            scores = cs[0].permute(1, 2, 0).reshape(-1).sigmoid()
            bp = bp[0].permute(1, 2, 0).reshape(-1, 4)
            nms_pre = c["rpn_nms_pre"]
            if 0 < nms_pre < scores.shape[0]:
                ranked, rank_inds = scores.sort(descending=True, stable=True)
                topk = rank_inds[:nms_pre]
                scores, bp, priors = ranked[:nms_pre], bp[topk], priors[topk]
            scores_l.append(scores)
            deltas_l.append(bp)
            priors_l.append(priors)
            ids_l.append(torch.full((scores.size(0),), lvl, dtype=torch.long))
        scores, deltas, priors, ids = (torch.cat(scores_l), torch.cat(deltas_l), torch.cat(priors_l),
                                       torch.cat(ids_l))
        boxes = delta2bbox(priors, deltas, [0, 0, 0, 0], [1, 1, 1, 1], img_shape)
        if c["rpn_min_bbox_size"] >= 0:
            w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
            valid = (w > c["rpn_min_bbox_size"]) & (h > c["rpn_min_bbox_size"])
            boxes, scores, ids = boxes[valid], scores[valid], ids[valid]
        keep = mmcv_batched_nms(boxes, scores, ids, c["rpn_iou"])[:c["rpn_max_per_img"]]
        return boxes[keep], scores[keep]

    @torch.no_grad()
    def forward(self, x, with_masks=True):
        c = self.cfg
        img_shape = tuple(x.shape[2:])
        feats = self.neck(list(self.backbone(x)))
        out = {"feats": feats}
        cls, reg = self.rpn_head(feats)
        out["rpn_cls"], out["rpn_reg"] = cls, reg
        proposals, pscores = self.rpn_proposals(cls, reg, img_shape)
        out["proposals"], out["proposal_scores"] = proposals, pscores
        strides = c["strides"][:4]
        roi_feats = roi_extract(feats[:4], proposals, 7, strides)
        cls_score, bbox_pred = self.roi_head.bbox_head(roi_feats)
        out["rcnn_cls_score"], out["rcnn_bbox_pred"] = cls_score, bbox_pred
        scores = F.softmax(cls_score, dim=-1)
        boxes = delta2bbox(proposals, bbox_pred, [0, 0, 0, 0], [0.1, 0.1, 0.2, 0.2], img_shape)
        out["rcnn_scores"], out["rcnn_boxes"] = scores, boxes
        dets, dscores, labels = multiclass_nms(boxes, scores, c["rcnn_score_thr"], c["rcnn_iou"],
                                               c["rcnn_max_per_img"])
        out["det_bboxes"], out["det_scores"], out["det_labels"] = dets, dscores, labels
        if not with_masks:
            return out
        mask_feats = roi_extract(feats[:4], dets, 14, strides)
        logits = self.roi_head.mask_head(mask_feats)
        out["mask_logits"] = logits
        probs = logits.sigmoid()[torch.arange(len(dets)), labels]
        out["mask_probs"] = probs
        masks = torch.zeros(len(dets), *img_shape, dtype=torch.bool)
        for i in range(len(dets)):  # mmdet's CPU path: one detection per chunk, skip_empty
            m, (y0, y1, x0, x1) = do_paste_mask(probs[i][None, None], dets[i][None], *img_shape)
            masks[i, y0:y1, x0:x1] = m[0] >= c["rcnn_mask_thr"]
        out["det_masks"] = masks
        return out
