"""PyTorch reference of mmseg 1.x test-time semantics: decode heads, the FPN neck and EncoderDecoder.

Stable API (other tools import these names; keep them):

  ConvModule(cin, cout, k, norm=True, act=True)      mmcv ConvModule: conv (no bias with BN) + BN + ReLU
  PPM, UPerHead(in_channels, channels, num_classes, pool_scales=(1, 2, 3, 6), in_index=(0, 1, 2, 3))
  FPNHead(in_channels, channels, num_classes, feature_strides, in_index=(0, 1, 2, 3))
  FCNHead(in_channels, channels, num_classes, num_convs=1, concat_input=False, in_index=2)
                                                      (auxiliary head: only its keys matter)
  FPN(in_channels, out_channels, num_outs)            mmseg necks/fpn.py (make_nn_fixtures.FPN)
  Segmentor(backbone, neck, decode_head, auxiliary_head=None)
                                                      keys backbone.*, neck.*, decode_head.*, auxiliary_head.*
  build_segmentor(model_cfg, seed=0)                  a Segmentor from a nala/mmseg "model" dict, seeded weights
  load_config(path, cfg_options=None)                 a nala JSON config with its _base_ files merged
  decode_logits(model, x)                             decode head output [N, C, ceil(H/4), ceil(W/4)]
  encode_decode(model, x, size)                       decode logits resized bilinearly to size
  whole_inference(model, x, img_shape=None)           encode_decode at img_shape (default x's size)
  slide_inference(model, x, crop_size, stride)        mmseg slide_inference (averaged logits at x's size)
  postprocess(seg_logits, ori_shape, padding_size=(0, 0, 0, 0))
                                                      crop padding, resize to ori_shape, argmax -> (logits, pred)
  predict(model, x, test_cfg=None, ori_shape=None, padding_size=(0, 0, 0, 0))
                                                      the whole test path: -> (logits at ori_shape, pred int64 [H, W])
  top2_margin(logits)                                 per-pixel top-1 minus top-2 logit, [H, W]

Every function takes NCHW float tensors (batch 1 for the inference functions) and runs in the dtype
of model and input (use float64 for error analysis).

Semantics mirrored, with their upstream source (open-mmlab/mmsegmentation 1.x, mmseg/...):
- models/decode_heads/uper_head.py (UPerHead._forward_feature, psp_forward) and psp_head.py (PPM):
  PPM branch = AdaptiveAvgPool2d(s) -> ConvModule 1x1 -> resize(size=x.shape[2:], bilinear,
  align_corners); bottleneck = ConvModule 3x3 on cat([x] + branches); laterals 1x1 on inputs[0..2],
  the PSP output appended as the 4th; top-down laterals[i-1] += resize(laterals[i], prev size,
  bilinear); fpn_outs = fpn_convs[0..2](laterals[0..2]) + [laterals[3]] (no conv on the PSP level);
  each resized to fpn_outs[0] size, concatenated, fpn_bottleneck 3x3, cls_seg.
  Keys: psp_modules.<i>.1.{conv,bn} (index 0 is the pooling), bottleneck, lateral_convs.<i>,
  fpn_convs.<i>, fpn_bottleneck, conv_seg.
- models/decode_heads/fpn_head.py: head_length = max(1, int(log2(stride_i) - log2(stride_0))),
  [ConvModule 3x3, Upsample(scale_factor=2, bilinear) when stride_i != stride_0] per step, so key
  indices count the Upsamples (scale_heads.3.{0,2,4}); output = scale_heads[0](x[0]), then
  output + resize(scale_heads[i](x[i]), size=output.shape[2:], bilinear); cls_seg.
- models/utils/wrappers.py Upsample: size = [int(t * scale_factor) for t in x.shape[-2:]], then
  resize by that size (so 2x exactly, a bilinear resize by size).
- models/decode_heads/decode_head.py: cls_seg = dropout (identity at test) + conv_seg 1x1 (bias);
  predict_by_feat resizes the logits bilinearly to img_shape when it is a torch.Size (slide crops and
  data_samples=None), else to pad_shape[:2]; ConvModule norm_cfg BN/SyncBN (eval = BN), act ReLU,
  bias='auto' (no conv bias with a norm).
- models/segmentors/encoder_decoder.py: encode_decode = extract_feat (backbone, neck) ->
  decode_head.predict; slide_inference: h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride
  + 1, y1 = h_idx * h_stride, y2 = min(y1 + h_crop, h_img), y1 = max(y2 - h_crop, 0) (same for x),
  img_shape = crop shape, logits F.pad-ed into place and summed, divided by count_mat. Released 1.x
  `inference` returns the logits as they are (an early dev-1.x commit, 0067e6d, applied a softmax
  there; released 1.x, e.g. v1.2.x, does not, and neither do we).
- models/segmentors/base.py postprocess_result: with data_samples, crop padding_size (left, right,
  top, bottom) off, resize bilinearly (align_corners) to ori_shape, argmax over C (first maximum wins,
  torch.argmax). Without data_samples no resize happens; with img_shape = ori_shape the resize is
  the identity anyway (bilinear to the same size maps every pixel onto itself).
- test_cfg mode defaults to 'whole' (configs/_base_/models/upernet_*.py, fpn_r50.py).
"""
import copy
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import nalaformer_ref  # noqa: E402


def resize(x, size, align_corners=False):
    """mmseg.models.utils.resize in bilinear mode (F.interpolate by size)."""
    return F.interpolate(x, size=tuple(int(s) for s in size), mode="bilinear", align_corners=align_corners)


class ConvModule(nn.Module):
    """mmcv ConvModule (conv -> bn -> activate); bias only without a norm (bias='auto')."""

    def __init__(self, cin, cout, k, norm=True, act=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=k // 2, bias=not norm)
        self.bn = nn.BatchNorm2d(cout) if norm else None
        self.act = act

    def forward(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.act else x


class PPM(nn.ModuleList):
    """psp_head.PPM: per scale Sequential(AdaptiveAvgPool2d(s), ConvModule 1x1), each upsampled to x."""

    def __init__(self, pool_scales, cin, channels, align_corners=False):
        super().__init__()
        self.align_corners = align_corners
        for s in pool_scales:
            self.append(nn.Sequential(nn.AdaptiveAvgPool2d(s), ConvModule(cin, channels, 1)))

    def forward(self, x):
        return [resize(ppm(x), x.shape[2:], self.align_corners) for ppm in self]


class _DecodeHead(nn.Module):
    """BaseDecodeHead at test: input selection and cls_seg (dropout is identity in eval)."""

    def __init__(self, channels, num_classes, in_index, align_corners):
        super().__init__()
        self.in_index, self.align_corners = list(in_index), align_corners
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)

    def select(self, inputs):
        return [inputs[i] for i in self.in_index]

    def cls_seg(self, x):
        return self.conv_seg(x)


class UPerHead(_DecodeHead):
    def __init__(self, in_channels, channels, num_classes, pool_scales=(1, 2, 3, 6), in_index=(0, 1, 2, 3),
                 align_corners=False):
        super().__init__(channels, num_classes, in_index, align_corners)
        self.psp_modules = PPM(pool_scales, in_channels[-1], channels, align_corners)
        self.bottleneck = ConvModule(in_channels[-1] + len(pool_scales) * channels, channels, 3)
        self.lateral_convs = nn.ModuleList([ConvModule(c, channels, 1) for c in in_channels[:-1]])
        self.fpn_convs = nn.ModuleList([ConvModule(channels, channels, 3) for _ in in_channels[:-1]])
        self.fpn_bottleneck = ConvModule(len(in_channels) * channels, channels, 3)

    def psp_forward(self, inputs):
        x = inputs[-1]
        return self.bottleneck(torch.cat([x] + self.psp_modules(x), dim=1))

    def forward(self, inputs):
        inputs = self.select(inputs)
        laterals = [conv(inputs[i]) for i, conv in enumerate(self.lateral_convs)]
        laterals.append(self.psp_forward(inputs))
        n = len(laterals)
        for i in range(n - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + resize(laterals[i], laterals[i - 1].shape[2:], self.align_corners)
        outs = [self.fpn_convs[i](laterals[i]) for i in range(n - 1)] + [laterals[-1]]
        for i in range(n - 1, 0, -1):
            outs[i] = resize(outs[i], outs[0].shape[2:], self.align_corners)
        return self.cls_seg(self.fpn_bottleneck(torch.cat(outs, dim=1)))


class Upsample(nn.Module):
    """mmseg wrappers.Upsample(scale_factor=2, mode='bilinear'): size = int(t * 2), resize by size."""

    def __init__(self, scale_factor=2, align_corners=False):
        super().__init__()
        self.scale_factor, self.align_corners = scale_factor, align_corners

    def forward(self, x):
        return resize(x, [int(t * self.scale_factor) for t in x.shape[-2:]], self.align_corners)


class FPNHead(_DecodeHead):
    def __init__(self, in_channels, channels, num_classes, feature_strides=(4, 8, 16, 32), in_index=(0, 1, 2, 3),
                 align_corners=False):
        super().__init__(channels, num_classes, in_index, align_corners)
        self.feature_strides = list(feature_strides)
        self.scale_heads = nn.ModuleList()
        for i, stride in enumerate(self.feature_strides):
            length = max(1, int(math.log2(stride) - math.log2(self.feature_strides[0])))
            mods = []
            for k in range(length):
                mods.append(ConvModule(in_channels[i] if k == 0 else channels, channels, 3))
                if stride != self.feature_strides[0]:
                    mods.append(Upsample(2, align_corners))
            self.scale_heads.append(nn.Sequential(*mods))

    def forward(self, inputs):
        x = self.select(inputs)
        out = self.scale_heads[0](x[0])
        for i in range(1, len(self.feature_strides)):
            out = out + resize(self.scale_heads[i](x[i]), out.shape[2:], self.align_corners)
        return self.cls_seg(out)


class FCNHead(_DecodeHead):
    """mmseg FCNHead (the usual auxiliary_head): convs.<i> ConvModule 3x3, conv_cat when concat_input."""

    def __init__(self, in_channels, channels, num_classes, num_convs=1, concat_input=False, in_index=2,
                 align_corners=False):
        super().__init__(channels, num_classes, [in_index], align_corners)
        self.convs = nn.Sequential(*[ConvModule(in_channels if i == 0 else channels, channels, 3)
                                     for i in range(num_convs)])
        self.conv_cat = ConvModule(in_channels + channels, channels, 3) if concat_input else None

    def forward(self, inputs):
        x = self.select(inputs)[0]
        out = self.convs(x)
        if self.conv_cat is not None:
            out = self.conv_cat(torch.cat([x, out], 1))
        return self.cls_seg(out)


def FPN(in_channels, out_channels, num_outs=4):
    """mmseg necks/fpn.py at test (nearest top-down, no extra convs): make_nn_fixtures.FPN."""
    import make_nn_fixtures
    return make_nn_fixtures.FPN(list(in_channels), out_channels, num_outs, 0, False, False)


class Segmentor(nn.Module):
    """EncoderDecoder's modules under mmseg's attribute names (so state_dict keys match checkpoints)."""

    def __init__(self, backbone, neck, decode_head, auxiliary_head=None):
        super().__init__()
        self.backbone, self.neck, self.decode_head = backbone, neck, decode_head
        self.auxiliary_head = auxiliary_head

    def extract_feat(self, x):
        feats = self.backbone(x)
        return self.neck(feats) if self.neck is not None else feats


def _head_common(cfg):
    return dict(in_index=cfg.get("in_index", (0, 1, 2, 3)), align_corners=cfg.get("align_corners", False))


def build_head(cfg):
    t = cfg["type"]
    if cfg.get("norm_cfg", {"type": "BN"}) is None or cfg.get("norm_cfg", {}).get("type", "BN") not in ("BN", "SyncBN"):
        raise ValueError("mmseg_ref: only BN / SyncBN heads")
    if t == "UPerHead":
        return UPerHead(cfg["in_channels"], cfg["channels"], cfg["num_classes"], cfg.get("pool_scales", (1, 2, 3, 6)),
                        **_head_common(cfg))
    if t == "FPNHead":
        return FPNHead(cfg["in_channels"], cfg["channels"], cfg["num_classes"], cfg["feature_strides"],
                       **_head_common(cfg))
    if t == "FCNHead":
        return FCNHead(cfg["in_channels"], cfg["channels"], cfg["num_classes"], cfg.get("num_convs", 2),
                       cfg.get("concat_input", True), cfg.get("in_index", -1), cfg.get("align_corners", False))
    raise ValueError("mmseg_ref: no head type %r" % t)


def build_backbone(cfg):
    if cfg["type"] != "NaLaFormer":
        raise ValueError("mmseg_ref: backbone %r" % cfg["type"])
    overrides = {k: cfg[k] for k in ("embed_dims", "depths", "num_heads", "mlp_ratios", "layerscales",
                                      "layer_init_values") if k in cfg}
    if isinstance(overrides.get("mlp_ratios"), (int, float)):
        overrides["mlp_ratios"] = [overrides["mlp_ratios"]] * 4
    if isinstance(overrides.get("layer_init_values"), (int, float)):
        overrides["layer_init_values"] = [overrides["layer_init_values"]] * 4
    if isinstance(overrides.get("layerscales"), bool):
        overrides["layerscales"] = [overrides["layerscales"]] * 4
    flags = cfg.get("attn")
    if isinstance(flags, str) and "," in flags:
        flags = flags.split(",")
    return nalaformer_ref.NaLaFormerBackbone(cfg.get("variant"), flags, tuple(cfg.get("out_indices", (0, 1, 2, 3))),
                                             **overrides)


def build_segmentor(model_cfg, seed=0, dtype=torch.float32):
    """Segmentor (eval) from a "model" dict (backbone, optional neck, decode_head, optional auxiliary_head)
    with seeded weights (seeded_init, bit-identical to nala_weights_seeded) when seed is not None."""
    neck = None
    if model_cfg.get("neck"):
        n = model_cfg["neck"]
        if n["type"] != "FPN" or n.get("add_extra_convs") or n.get("start_level", 0):
            raise ValueError("mmseg_ref: only the plain FPN neck")
        neck = FPN(n["in_channels"], n["out_channels"], n.get("num_outs", len(n["in_channels"])))
    aux = build_head(model_cfg["auxiliary_head"]) if model_cfg.get("auxiliary_head") else None
    model = Segmentor(build_backbone(model_cfg["backbone"]), neck, build_head(model_cfg["decode_head"]), aux)
    if seed is not None:
        import seeded_init
        seeded_init.apply_seeded(model, seed)
    return model.to(dtype).eval()


def _merge(base, over):
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and not v.get("_delete_", False):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
            if isinstance(out[k], dict):
                out[k].pop("_delete_", None)
    return out


def load_config(path, cfg_options=None):
    """A nala JSON config with its `_base_` list merged (later files and the file itself win),
    then cfg_options {"model.test_cfg.mode": "slide", ...} applied."""
    with open(path) as f:
        cfg = json.load(f)
    merged = {}
    bases = cfg.pop("_base_", [])
    for b in [bases] if isinstance(bases, str) else bases:
        merged = _merge(merged, load_config(os.path.join(os.path.dirname(path), b)))
    merged = _merge(merged, cfg)
    for key, value in (cfg_options or {}).items():
        node = merged
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return merged


@torch.no_grad()
def decode_logits(model, x):
    """decode_head.forward(extract_feat(x)): [N, num_classes, ceil(H/4), ceil(W/4)] before any resize."""
    return model.decode_head(model.extract_feat(x))


@torch.no_grad()
def encode_decode(model, x, size):
    """EncoderDecoder.encode_decode: decode logits resized bilinearly (align_corners) to size."""
    return resize(decode_logits(model, x), size, model.decode_head.align_corners)


def whole_inference(model, x, img_shape=None):
    return encode_decode(model, x, x.shape[2:] if img_shape is None else img_shape)


def slide_windows(h_img, w_img, crop_size, stride):
    """The (y1, y2, x1, x2) windows of mmseg slide_inference, in its loop order."""
    (h_crop, w_crop), (h_stride, w_stride) = crop_size, stride
    h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
    out = []
    for hi in range(h_grids):
        for wi in range(w_grids):
            y1, x1 = hi * h_stride, wi * w_stride
            y2, x2 = min(y1 + h_crop, h_img), min(x1 + w_crop, w_img)
            y1, x1 = max(y2 - h_crop, 0), max(x2 - w_crop, 0)
            out.append((y1, y2, x1, x2))
    return out


@torch.no_grad()
def slide_inference(model, x, crop_size, stride):
    """EncoderDecoder.slide_inference: each crop's logits resized to the crop size, summed, / count."""
    n, _, h_img, w_img = x.shape
    preds, count = None, x.new_zeros((n, 1, h_img, w_img))
    for y1, y2, x1, x2 in slide_windows(h_img, w_img, crop_size, stride):
        crop = x[:, :, y1:y2, x1:x2]
        logit = encode_decode(model, crop, crop.shape[2:])
        if preds is None:
            preds = x.new_zeros((n, logit.shape[1], h_img, w_img))
        preds += F.pad(logit, (int(x1), int(w_img - x2), int(y1), int(h_img - y2)))
        count[:, :, y1:y2, x1:x2] += 1
    assert (count == 0).sum() == 0
    return preds / count


@torch.no_grad()
def postprocess(seg_logits, ori_shape, padding_size=(0, 0, 0, 0), align_corners=False):
    """BaseSegmentor.postprocess_result for one image: logits [1, C, H, W] -> (logits [C, h, w] at
    ori_shape, argmax int64 [h, w])."""
    left, right, top, bottom = padding_size
    _, _, H, W = seg_logits.shape
    logits = seg_logits[:, :, top:H - bottom, left:W - right]
    logits = resize(logits, ori_shape, align_corners).squeeze(0)
    return logits, logits.argmax(dim=0)


def predict(model, x, test_cfg=None, ori_shape=None, padding_size=(0, 0, 0, 0)):
    """EncoderDecoder.predict for one image: whole or slide inference, then postprocess."""
    test_cfg = test_cfg or {"mode": "whole"}
    if test_cfg.get("mode", "whole") == "slide":
        seg = slide_inference(model, x, test_cfg["crop_size"], test_cfg["stride"])
    else:
        seg = whole_inference(model, x)
    return postprocess(seg, x.shape[2:] if ori_shape is None else ori_shape, padding_size,
                       model.decode_head.align_corners)


def top2_margin(logits):
    """logits [C, H, W] -> top-1 minus top-2 value per pixel [H, W]."""
    top = torch.topk(logits, 2, dim=0).values
    return top[0] - top[1]
