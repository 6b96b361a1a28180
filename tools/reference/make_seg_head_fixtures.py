"""Fixtures for the decode heads and the segmentor (tests/test_seg_heads.c, the segmentor's tests),
written with mmseg_ref.py (mmseg 1.x semantics) on seeded weights (seed 0, = nala_weights_seeded(0)):

  tests/fixtures/seg/<case>.safetensors
    input          [1, 3, H, W] normalised NCHW, stored as F16 (the exact float32 values used are the
                   F16 ones, so C reads the same numbers)
    decode_logits  [1, C, ceil(H/4), ceil(W/4)] float32, the decode head output before any resize
                   (whole-mode cases only)
    seg_logits     [1, C, H, W] float32, slide mode's averaged logits (slide case only)
    seg_pred       [H, W] int32, argmax after postprocess (img_shape = ori_shape = H x W, no padding)
    metadata: config (the JSON beside it), mode, n_ambiguous (pixels whose top-1/top-2 margin
    < 1e-4), min_margin, windows (slide: y1,y2,x1,x2;...)
  cases: uper_xt_512x512, uper_xt_500x375 (C5 16x12: PPM bins overlap), fpn_xt_512x512,
         fpn_xt_500x375 (configs uper_xt.json, fpn_xt.json: 19 classes, small head channels),
         fpn_xt_slide_256x320 (fpn_xt_slide.json: 6 classes, slide crop 192 stride 128: 2x2 windows
         overlapping, the last row and column clamped)
  aux_tiny_ckpt.safetensors  an mmseg-style checkpoint (aux_tiny.json: tiny backbone 16/32/64/128,
                   depths 1/1/1/1): backbone.*, decode_head.*, auxiliary_head.* and int64
                   *.num_batches_tracked, seeded with seed 7 (so it differs from nala_weights_seeded(0))
  aux_tiny_64x96.safetensors input, decode_logits, seg_pred of that checkpoint at 64 x 96

Run: /usr/bin/python3 tools/reference/make_seg_head_fixtures.py (about a minute)."""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import mmseg_ref  # noqa: E402
import safetensors_io  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "tests", "fixtures", "seg")
MARGIN = 1e-4


def f16_input(h, w, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, 3, h, w, generator=g).half().float()


def margins(logits):
    m = mmseg_ref.top2_margin(logits)
    return int((m < MARGIN).sum()), float(m.min())


def save(name, tensors, meta):
    path = os.path.join(OUT, name + ".safetensors")
    safetensors_io.save(path, tensors, metadata=meta, dtypes={"input": "F16"})
    print("%-26s %6.2f MB  %s" % (name, os.path.getsize(path) / 2**20,
                                  {k: v for k, v in meta.items() if k != "config"}))


def whole_case(config, h, w, seed):
    cfg = mmseg_ref.load_config(os.path.join(OUT, config))["model"]
    model = mmseg_ref.build_segmentor(cfg, seed=0)
    x = f16_input(h, w, seed)
    dec = mmseg_ref.decode_logits(model, x)
    logits, pred = mmseg_ref.predict(model, x, cfg.get("test_cfg"))
    n_amb, min_m = margins(logits)
    name = "%s_%dx%d" % (config[:-5], h, w)
    save(name, {"input": x, "decode_logits": dec, "seg_pred": pred.to(torch.int32)},
         {"config": config, "mode": "whole", "n_ambiguous": str(n_amb), "min_margin": "%.3g" % min_m})


def slide_case(config, h, w, seed):
    cfg = mmseg_ref.load_config(os.path.join(OUT, config))["model"]
    model = mmseg_ref.build_segmentor(cfg, seed=0)
    x = f16_input(h, w, seed)
    tc = cfg["test_cfg"]
    seg = mmseg_ref.slide_inference(model, x, tc["crop_size"], tc["stride"])
    logits, pred = mmseg_ref.postprocess(seg, (h, w))
    n_amb, min_m = margins(logits)
    windows = mmseg_ref.slide_windows(h, w, tc["crop_size"], tc["stride"])
    name = "%s_%dx%d" % (config[:-5], h, w)
    save(name, {"input": x, "seg_logits": seg, "seg_pred": pred.to(torch.int32)},
         {"config": config, "mode": "slide", "n_ambiguous": str(n_amb), "min_margin": "%.3g" % min_m,
          "windows": ";".join(",".join(map(str, win)) for win in windows)})


def aux_case():
    cfg = mmseg_ref.load_config(os.path.join(OUT, "aux_tiny.json"))["model"]
    model = mmseg_ref.build_segmentor(cfg, seed=7)
    state = {}
    for k, v in model.state_dict().items():
        state[k] = torch.tensor(123, dtype=torch.int64) if k.endswith("num_batches_tracked") else v
    assert any(k.startswith("auxiliary_head.") for k in state)
    path = os.path.join(OUT, "aux_tiny_ckpt.safetensors")
    safetensors_io.save(path, state, metadata={"config": "aux_tiny.json", "seed": "7"})
    print("aux_tiny_ckpt: %d keys (%d auxiliary_head, %d num_batches_tracked), %.2f MB" % (
        len(state), sum(k.startswith("auxiliary_head.") for k in state),
        sum(k.endswith("num_batches_tracked") for k in state), os.path.getsize(path) / 2**20))
    x = f16_input(64, 96, 5)
    dec = mmseg_ref.decode_logits(model, x)
    logits, pred = mmseg_ref.predict(model, x)
    n_amb, min_m = margins(logits)
    save("aux_tiny_64x96", {"input": x, "decode_logits": dec, "seg_pred": pred.to(torch.int32)},
         {"config": "aux_tiny.json", "mode": "whole", "n_ambiguous": str(n_amb), "min_margin": "%.3g" % min_m})


if __name__ == "__main__":
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    whole_case("uper_xt.json", 512, 512, 1)
    whole_case("uper_xt.json", 500, 375, 2)
    whole_case("fpn_xt.json", 512, 512, 3)
    whole_case("fpn_xt.json", 500, 375, 4)
    slide_case("fpn_xt_slide.json", 256, 320, 6)
    aux_case()
