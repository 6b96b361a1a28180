"""Semantic FPN (mmseg configs/sem_fpn: FPN neck + FPNHead) restated in torch for training, with
mmseg's module names, so state_dict keys read neck.lateral_convs.i.conv.*, neck.fpn_convs.i.conv.*,
decode_head.scale_heads.i.j.{conv,bn}.*, decode_head.conv_seg.* exactly as an mmseg checkpoint.

Semantics mirrored (mmseg 1.x):
- mmseg/models/necks/fpn.py FPN(in_channels, out_channels, num_outs=len(in_channels)), no norm/act:
  lateral 1x1 conv (bias), top-down laterals[i-1] += F.interpolate(laterals[i], size=..., mode='nearest'),
  fpn 3x3 conv (bias, padding 1) on every level.
- mmseg/models/decode_heads/fpn_head.py FPNHead(feature_strides=[4, 8, 16, 32]): scale_heads[i] is
  max(1, log2(stride_i) - log2(stride_0)) ConvModules (3x3, BN, ReLU, no conv bias), each followed by
  Upsample(scale_factor=2, bilinear, align_corners=False) when stride_i > stride_0; the sum of
  scale_heads[0](x0) and resize(scale_heads[i](x_i), size of x0, bilinear, align_corners=False);
  then dropout and conv_seg (1x1).
- EncoderDecoder: logits resized to the input size (bilinear, align_corners=False).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvModule(nn.Module):
    """mmcv ConvModule: conv (bias only without a norm) -> bn -> relu (names conv, bn)."""

    def __init__(self, cin, cout, k, padding=0, norm=False, act=False):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=padding, bias=not norm)
        self.bn = nn.BatchNorm2d(cout) if norm else None
        self.act = act

    def forward(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.act else x


class FPN(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.lateral_convs = nn.ModuleList([ConvModule(c, out_channels, 1) for c in in_channels])
        self.fpn_convs = nn.ModuleList([ConvModule(out_channels, out_channels, 3, padding=1) for _ in in_channels])

    def forward(self, inputs):
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, inputs)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(laterals[i], size=laterals[i - 1].shape[2:], mode="nearest")
        return [conv(x) for conv, x in zip(self.fpn_convs, laterals)]


class Upsample(nn.Module):
    def forward(self, x):
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class FPNHead(nn.Module):
    def __init__(self, in_channels, channels, num_classes, feature_strides=(4, 8, 16, 32), dropout_ratio=0.1):
        super().__init__()
        self.scale_heads = nn.ModuleList()
        for i, stride in enumerate(feature_strides):
            n = max(1, int(math.log2(stride) - math.log2(feature_strides[0])))
            layers = []
            for k in range(n):
                layers.append(ConvModule(in_channels[i] if k == 0 else channels, channels, 3, padding=1, norm=True, act=True))
                if stride != feature_strides[0]:
                    layers.append(Upsample())
            self.scale_heads.append(nn.Sequential(*layers))
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else None
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)

    def forward(self, x):
        out = self.scale_heads[0](x[0])
        for i in range(1, len(self.scale_heads)):
            out = out + F.interpolate(self.scale_heads[i](x[i]), size=out.shape[2:], mode="bilinear", align_corners=False)
        if self.dropout is not None:
            out = self.dropout(out)
        return self.conv_seg(out)


class SemanticFPN(nn.Module):
    """EncoderDecoder(backbone, neck=FPN, decode_head=FPNHead); forward returns input-size logits."""

    def __init__(self, backbone, in_channels, fpn_channels, head_channels, num_classes):
        super().__init__()
        self.backbone = backbone
        self.neck = FPN(in_channels, fpn_channels)
        self.decode_head = FPNHead([fpn_channels] * len(in_channels), head_channels, num_classes)

    def forward(self, x):
        logits = self.decode_head(self.neck(self.backbone(x)))
        return F.interpolate(logits, size=x.shape[2:], mode="bilinear", align_corners=False)
