"""Writes tests/fixtures/segmentor/*.safetensors for tests/test_segmentor.c and tests/test_cli_seg.c.

Run: /usr/bin/python3 tools/reference/make_segmentor_fixtures.py [CASE ...]   (from the repository root;
names of cases to rewrite, default all)

Every case runs a config of tests/fixtures/segmentor/ (NaLaFormer-XT with a small UPerHead or FPN neck +
FPNHead, 19 classes) on seeded weights (seeded_init, seed 0, bit-identical to nala_weights_seeded)
through mmseg_ref.predict in float64, and stores:
  decode_logits  float32 [1, C, ceil(h/4), ceil(w/4)]  decode head output before any resize (slide: of
                 the last window, as `nala seg --dump` writes it)
  seg_pred       uint8 [H, W]  the label map at the original size (argmax, first maximum wins)
  low_margin     uint8 [H, W]  1 where the top-1 minus top-2 logit at the original size is < 1e-4
                 (pixels whose label float32 rounding may legitimately flip)
Tensor cases feed the formula input below (no file): input[i] = float32((i * 7919) % 1000) / 500 - 1 over
the flat NCHW index i of [1, 3, H, W]; tests/test_segmentor.c builds the same bits.
Frame cases start from an image of tests/fixtures/images (read as cv2.IMREAD_COLOR, BGR), run the
config's test pipeline with the preprocessing reference of tools/fixtures/make_preprocess_fixtures.py
(mmcv rescale_size + cv2.resize, float32 normalisation, bottom/right padding), then mmseg's whole
inference at the padded size (or slide inference over the padded tensor) and postprocess_result (crop the padding, resize to ori_shape, argmax).
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "fixtures"))
import mmseg_ref  # noqa: E402
import safetensors_io  # noqa: E402

OUT = os.path.join(ROOT, "tests", "fixtures", "segmentor")
IMAGES = os.path.join(ROOT, "tests", "fixtures", "images")
MARGIN = 1e-4

# (name, config, H, W): formula input, NALA_SEG_TENSOR
TENSOR_CASES = [
    ("upernet_512x512", "upernet_xt.json", 512, 512),
    ("upernet_500x375", "upernet_xt.json", 500, 375),  # C5 16x12: overlapping PPM bins
    ("fpn_512x512", "fpn_xt.json", 512, 512),
    ("fpn_500x375", "fpn_xt.json", 500, 375),
    ("upernet_slide_200x296", "upernet_xt_slide.json", 200, 296),  # 2x3 windows of 128, last clamped
]
# (name, config, image): NALA_SEG_FRAME
FRAME_CASES = [
    ("upernet_frame_up_37x53", "upernet_xt_frame_up.json", "color_37x53.png"),  # 45x64 padded to 48x64
    ("fpn_frame_down_480x640", "fpn_xt_frame_down.json", "color_480x640.jpg"),  # 75x100
    ("upernet_frame_slide_37x53", "upernet_xt_frame_slide.json", "color_37x53.png"),  # 2x2 windows on 48x64
]


def formula_input(h, w):
    k = (np.arange(3 * h * w, dtype=np.int64) * 7919) % 1000
    return (k.astype(np.float32) / np.float32(500) - np.float32(1)).reshape(1, 3, h, w)


def build(config):
    cfg = mmseg_ref.load_config(os.path.join(OUT, config))
    return cfg, mmseg_ref.build_segmentor(cfg["model"], seed=0, dtype=torch.float64)


def save(name, model_logits, logits, pred, meta):
    margin = mmseg_ref.top2_margin(logits)
    low = (margin < MARGIN).to(torch.uint8)
    tensors = {
        "decode_logits": model_logits.to(torch.float32).numpy(),
        "seg_pred": pred.to(torch.uint8).numpy(),
        "low_margin": low.numpy(),
    }
    meta = dict(meta, low_margin_pixels=str(int(low.sum())), margin=repr(MARGIN))
    safetensors_io.save(os.path.join(OUT, name + ".safetensors"), tensors, metadata=meta)
    print("%s: logits %s, pred %s, %d low-margin pixels" % (name, tuple(model_logits.shape), tuple(pred.shape),
                                                            int(low.sum())))


def tensor_case(name, config, h, w):
    cfg, model = build(config)
    x = torch.from_numpy(formula_input(h, w)).double()
    test_cfg = cfg["model"].get("test_cfg", {"mode": "whole"})
    logits, pred = mmseg_ref.predict(model, x, test_cfg)
    if test_cfg.get("mode") == "slide":
        y1, y2, x1, x2 = mmseg_ref.slide_windows(h, w, test_cfg["crop_size"], test_cfg["stride"])[-1]
        dl = mmseg_ref.decode_logits(model, x[:, :, y1:y2, x1:x2])
    else:
        dl = mmseg_ref.decode_logits(model, x)
    save(name, dl, logits, pred, {"config": config, "input": "formula", "h": str(h), "w": str(w)})


def frame_case(name, config, image):
    import cv2
    import make_preprocess_fixtures as mp

    cfg, model = build(config)
    resize = [t for t in cfg["test_pipeline"] if t["type"] == "Resize"][0]
    dp = cfg["model"]["data_preprocessor"]
    p = dict(scale=tuple(resize["scale"]), keep_ratio=int(resize.get("keep_ratio", False)), interp="bilinear",
             to_rgb=int(dp.get("bgr_to_rgb", False)), pad_divisor=dp.get("pad_size_divisor", 0) or 0, layout="nchw")
    if p["pad_divisor"] <= 1:
        p["pad_divisor"] = 0
    img = cv2.imread(os.path.join(IMAGES, image), cv2.IMREAD_COLOR)
    _, x, meta = mp.preprocess(img, p)
    ori_h, ori_w, new_h, new_w, pad_h, pad_w = meta[:6]
    x = torch.from_numpy(x[None]).double()
    test_cfg = cfg["model"].get("test_cfg", {"mode": "whole"})
    if test_cfg.get("mode") == "slide":  # windows over the padded tensor, as mmseg's inputs
        seg = mmseg_ref.slide_inference(model, x, test_cfg["crop_size"], test_cfg["stride"])
        y1, y2, x1, x2 = mmseg_ref.slide_windows(pad_h, pad_w, test_cfg["crop_size"], test_cfg["stride"])[-1]
        dl = mmseg_ref.decode_logits(model, x[:, :, y1:y2, x1:x2])
    else:
        seg = mmseg_ref.whole_inference(model, x)  # predict_by_feat: resize to pad_shape
        dl = mmseg_ref.decode_logits(model, x)
    logits, pred = mmseg_ref.postprocess(seg, (ori_h, ori_w), (0, pad_w - new_w, 0, pad_h - new_h))
    save(name, dl, logits, pred, {"config": config, "input": image, "h": str(ori_h), "w": str(ori_w),
                                  "img_shape": "%dx%d" % (new_h, new_w), "pad_shape": "%dx%d" % (pad_h, pad_w)})


if __name__ == "__main__":
    torch.set_num_threads(2)
    only = set(sys.argv[1:])  # case names to (re)write; none = all
    for case in TENSOR_CASES:
        if not only or case[0] in only:
            tensor_case(*case)
    for case in FRAME_CASES:
        if not only or case[0] in only:
            frame_case(*case)
