"""Fixtures for the shared runtime's helpers (tests/test_nn_prims.c) and the FPN neck
(tests/test_fpn.c), written with PyTorch's own ops at odd sizes, up and down:

  tests/fixtures/nn/prims.safetensors          inputs and torch outputs (NCHW float32)
  tests/fixtures/nn/prims_weights.safetensors  the layers' weights under mmcv / PyTorch key names
  tests/fixtures/nn/fpn_<case>.safetensors     FPN inputs, outputs out0.. and weights under "neck."

Run: /usr/bin/python3 tools/reference/make_nn_fixtures.py (Debian's python3-torch)."""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import safetensors_io  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "nn")


def t(x):
    return x.detach().contiguous().numpy().astype(np.float32)


def conv_module(prefix, cin, cout, k, stride, norm, act, weights, groups=1):
    """mmcv ConvModule: conv (bias only without norm), BN in eval mode, activation."""
    conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=not norm)
    layers = [conv]
    weights[prefix + ".conv.weight"] = t(conv.weight)
    if not norm:
        weights[prefix + ".conv.bias"] = t(conv.bias)
    if norm:
        bn = nn.BatchNorm2d(cout)
        with torch.no_grad():
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
        bn.eval()
        layers.append(bn)
        for name in ("weight", "bias", "running_mean", "running_var"):
            weights["%s.bn.%s" % (prefix, name)] = t(getattr(bn, name))
    if act:
        layers.append({"relu": nn.ReLU(), "gelu": nn.GELU(), "silu": nn.SiLU()}[act])
    return nn.Sequential(*layers)


def prims():
    g = torch.Generator().manual_seed(8)
    x = torch.randn(1, 5, 7, 9, generator=g)
    y = torch.randn(1, 5, 7, 9, generator=g)
    out = {"x": t(x), "y": t(y)}
    for name, size in (("up", (12, 17)), ("down", (4, 5)), ("2x", (14, 18)), ("mixed", (3, 20))):
        out["nearest_" + name] = t(F.interpolate(x, size=size, mode="nearest"))
        out["bilinear_" + name] = t(F.interpolate(x, size=size, mode="bilinear", align_corners=False))
    out["maxpool_k3s2p1"] = t(F.max_pool2d(x, 3, 2, 1))
    out["maxpool_k1s2p0"] = t(F.max_pool2d(x, 1, 2))
    out["avgpool_k3s2p1"] = t(F.avg_pool2d(x, 3, 2, 1))
    out["avgpool_k2s2p0"] = t(F.avg_pool2d(x, 2, 2))
    for s in ((1, 1), (2, 4), (3, 3), (6, 5), (7, 9)):
        out["adaptive_%dx%d" % s] = t(F.adaptive_avg_pool2d(x, s))
    out["add"] = t(x + y)

    weights = {}
    torch.manual_seed(8)
    cm = conv_module("cm", 5, 6, 3, 2, True, "relu", weights)        # conv + BN + ReLU, stride 2
    cm_gelu = conv_module("cm_gelu", 5, 6, 3, 1, False, "gelu", weights)
    dw = conv_module("dw", 5, 5, 3, 1, False, "silu", weights, groups=5)  # depthwise + SiLU
    lin = nn.Linear(5, 6)
    weights["lin.weight"], weights["lin.bias"] = t(lin.weight), t(lin.bias)
    up2 = nn.ConvTranspose2d(5, 4, 2, 2)
    up3 = nn.ConvTranspose2d(5, 4, 3, 2)
    weights["up2.weight"], weights["up2.bias"] = t(up2.weight), t(up2.bias)
    weights["up3.weight"], weights["up3.bias"] = t(up3.weight), t(up3.bias)
    with torch.no_grad():
        out["cm"] = t(cm(x))
        out["cm_gelu"] = t(cm_gelu(x))
        out["dw"] = t(dw(x))
        out["lin"] = t(lin(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))
        out["up2"] = t(up2(x))
        out["up3"] = t(up3(x))
        out["concat"] = t(torch.cat([x, cm_gelu(x)], 1))
    safetensors_io.save(os.path.join(OUT, "prims.safetensors"), out)
    safetensors_io.save(os.path.join(OUT, "prims_weights.safetensors"), weights)


class FPN(nn.Module):
    """mmdet/mmseg FPN (necks/fpn.py) at inference, default ConvModules (no norm, no act)."""

    def __init__(self, in_channels, out_channels, num_outs, start_level, add_extra_convs, relu_before_extra):
        super().__init__()
        self.start_level, self.num_outs = start_level, num_outs
        self.end_level = len(in_channels)
        self.add_extra_convs, self.relu_before_extra = add_extra_convs, relu_before_extra
        self.lateral_convs = nn.ModuleList()
        self.fpn_convs = nn.ModuleList()
        for i in range(start_level, self.end_level):
            self.lateral_convs.append(nn.ModuleDict({"conv": nn.Conv2d(in_channels[i], out_channels, 1)}))
            self.fpn_convs.append(nn.ModuleDict({"conv": nn.Conv2d(out_channels, out_channels, 3, padding=1)}))
        extra = num_outs - (self.end_level - start_level)
        if add_extra_convs and extra >= 1:
            for i in range(extra):
                cin = in_channels[self.end_level - 1] if i == 0 and add_extra_convs == "on_input" else out_channels
                self.fpn_convs.append(nn.ModuleDict({"conv": nn.Conv2d(cin, out_channels, 3, 2, 1)}))

    def forward(self, inputs):
        laterals = [lc["conv"](inputs[i + self.start_level]) for i, lc in enumerate(self.lateral_convs)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(laterals[i], size=laterals[i - 1].shape[2:],
                                                              mode="nearest")
        used = len(laterals)
        outs = [self.fpn_convs[i]["conv"](laterals[i]) for i in range(used)]
        if self.num_outs > used:
            if not self.add_extra_convs:
                for _ in range(self.num_outs - used):
                    outs.append(F.max_pool2d(outs[-1], 1, stride=2))
            else:
                src = inputs[self.end_level - 1] if self.add_extra_convs == "on_input" else outs[-1]
                outs.append(self.fpn_convs[used]["conv"](src))
                for i in range(used + 1, self.num_outs):
                    prev = F.relu(outs[-1]) if self.relu_before_extra else outs[-1]
                    outs.append(self.fpn_convs[i]["conv"](prev))
        return outs


FPN_CASES = {
    # name: (in_channels, out_channels, num_outs, start_level, add_extra_convs, relu_before_extra_convs)
    "maskrcnn": ([8, 12, 16, 20], 10, 5, 0, False, False),
    "retina": ([8, 12, 16, 20], 10, 5, 1, "on_input", False),
    "on_output_relu": ([8, 12, 16, 20], 10, 6, 1, "on_output", True),
    "semfpn": ([8, 12, 16, 20], 10, 4, 0, False, False),
}


def fpn():
    # backbone strides 4..32 at an odd input (75 x 101): 19x26, 10x13, 5x7, 3x4
    sizes = [(19, 26), (10, 13), (5, 7), (3, 4)]
    for case, (cins, cout, num_outs, start, extra, relu) in FPN_CASES.items():
        torch.manual_seed(len(case))
        model = FPN(cins, cout, num_outs, start, extra, relu).eval()
        g = torch.Generator().manual_seed(11)
        inputs = [torch.randn(1, c, h, w, generator=g) for c, (h, w) in zip(cins, sizes)]
        with torch.no_grad():
            outs = model(inputs)
        tensors = {"in%d" % i: t(x) for i, x in enumerate(inputs)}
        tensors.update({"out%d" % i: t(o) for i, o in enumerate(outs)})
        for k, v in model.state_dict().items():
            tensors["neck." + k] = t(v)
        meta = {"in_channels": ",".join(map(str, cins)), "out_channels": str(cout), "num_outs": str(num_outs),
                "start_level": str(start), "add_extra_convs": str(extra), "relu_before_extra_convs": str(relu)}
        safetensors_io.save(os.path.join(OUT, "fpn_%s.safetensors" % case), tensors, metadata=meta)
        print(case, [tuple(o.shape) for o in outs])


if __name__ == "__main__":
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    prims()
    fpn()
