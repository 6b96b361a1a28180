"""Writes the golden backbone fixtures under tests/fixtures/backbone/ (and tests/fixtures/seeded/).

    /usr/bin/python3 tools/reference/make_fixtures.py [--only NAME...] [--out DIR]

Seeded cases (weights NOT stored: the C side regenerates them from the seed with
core/seeded_init.c): input [1,3,H,W] F32, out0..out3 F32 NCHW from PyTorch in float32, optional
out<i>_f64 (the same model run in float64, rounded to float32 once: the best available truth) and a
few intermediate taps. __metadata__ holds the config, the layout of every tensor and PyTorch's own
float32-vs-float64 error per output (the noise floor a C port is judged against).
The tiny case (fixtures_tiny.py) stores its weights, converted by tools/convert_checkpoint.py.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import nalaformer_ref as R  # noqa: E402
import safetensors_io  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
WEIGHT_SEED = 0

# (name, variant, stage flags, H, W, input seed, taps, store float64 truth[, overrides])
# Taps are module names of the backbone whose forward output is stored. Sizes are chosen so the
# whole fixture folder stays around 15 MB. Overrides (NaLaFormerBackbone keyword arguments) make a
# "custom" variant whose dims the C test reads from the metadata.
CASES = [
    ("xt_224x224_llvv", "xt", "llvv", 224, 224, 101,
     ["patch_embed", "layers.0.blocks.0.attn.qkvg", "layers.0.blocks.0.attn",
      "layers.2.blocks.0.attn"], True),
    ("xt_200x328_llvv", "xt", "llvv", 200, 328, 102, ["patch_embed", "layers.2.blocks.0.attn"], False),
    ("xt_200x328_llll", "xt", "llll", 200, 328, 103,
     ["layers.2.blocks.0.attn", "layers.3.blocks.0.attn"], False),
    ("t_224x224_llvv", "t", "llvv", 224, 224, 104, ["layers.2.blocks.0.attn"], False),
    ("t_200x328_llvv", "t", "llvv", 200, 328, 105, ["layers.2.blocks.0.attn"], False),
    # T's widths and heads (head_dim 64, FFN 4x) with one block per stage: every op shape of
    # t_200x328_llvv, stage 1 planned in bands as there, at a third of its blocks (the emulated Zen 3
    # run in tests/CMakeLists.txt takes this one instead of the two full T cases).
    ("t_d1_200x328_llvv", "t", "llvv", 200, 328, 106, ["layers.2.blocks.0.attn"], False,
     {"depths": [1, 1, 1, 1]}),
]


def blas_library():
    """Which BLAS torch's matmuls ran on (Debian's libblas.so.3 alternative): fp32 bits depend on it."""
    try:
        return os.path.realpath("/etc/alternatives/libblas.so.3-x86_64-linux-gnu")
    except OSError:
        return "unknown"


def tap_layout(name):
    if name.endswith(".qkvg"):
        return "tokens [1, H*W, 4*C], row y*W+x, columns q|k|v|g (C each), head h = columns h*d..h*d+d-1"
    return "NCHW"


def error_stats(test, truth):
    """rel-L2 = ||test - truth|| / ||truth||, max-abs and max-rel (|diff| / max|truth|)."""
    test, truth = test.double(), truth.double()
    diff = test - truth
    ref_norm = float(truth.norm())
    return {"rel_l2": float(diff.norm()) / ref_norm if ref_norm else float(diff.norm()),
            "max_abs": float(diff.abs().max()),
            "max_rel": float(diff.abs().max() / truth.abs().max())}


def run_with_taps(model, x, taps):
    captured = {}
    handles = []
    modules = dict(model.backbone.named_modules())
    for name in taps:
        if name not in modules:
            raise KeyError(f"tap '{name}' is not a module of the backbone")
        handles.append(modules[name].register_forward_hook(
            lambda _m, _i, out, name=name: captured.__setitem__(name, out.detach().clone())))
    try:
        with torch.inference_mode():
            outs = model(x)
    finally:
        for h in handles:
            h.remove()
    return outs, captured


def make_seeded_case(out_dir, name, variant, flags, h, w, input_seed, taps, store_f64, overrides=None):
    model = R.build(variant, flags=flags, seed=WEIGHT_SEED, **(overrides or {}))
    gen = torch.Generator().manual_seed(input_seed)
    x = torch.randn(1, 3, h, w, generator=gen, dtype=torch.float32)
    outs32, taps32 = run_with_taps(model, x, taps)
    outs64, taps64 = run_with_taps(model.to(torch.float64), x.double(), taps)
    tensors = {"input": x}
    layouts = {"input": "NCHW"}
    noise = {}
    for i, (o32, o64) in enumerate(zip(outs32, outs64)):
        tensors[f"out{i}"] = o32
        layouts[f"out{i}"] = "NCHW"
        noise[f"out{i}"] = error_stats(o32, o64)
        if store_f64:
            tensors[f"out{i}_f64"] = o64.float()
            layouts[f"out{i}_f64"] = "NCHW (float64 run rounded to float32)"
    for tap in taps:
        key = f"tap.{tap}"
        tensors[key] = taps32[tap]
        layouts[key] = tap_layout(tap)
        noise[key] = error_stats(taps32[tap], taps64[tap])
    cfg = model.backbone.config
    metadata = {
        "case": name, "variant": "custom" if overrides else variant, "flags": json.dumps(cfg["flags"]),
        "weights": f"seeded (tools/reference/seeded_init.py), seed {WEIGHT_SEED}, keys backbone.*",
        "seed": str(WEIGHT_SEED), "input_seed": str(input_seed),
        "input": f"torch.randn(1,3,{h},{w}) from torch.Generator().manual_seed({input_seed})",
        "height": str(h), "width": str(w), "out_indices": "[0, 1, 2, 3]",
        "config": json.dumps({k: cfg[k] for k in ("embed_dims", "depths", "num_heads", "mlp_ratios",
                                                  "layerscales", "layer_init_values")}),
        "layouts": json.dumps(layouts),
        "taps": "tap.<module> = forward output of backbone module <module> (attn = before gamma_1)",
        "noise_fp32_vs_fp64": json.dumps(noise),
        "noise_definition": "PyTorch float32 vs the same model in float64: rel_l2 = ||a-b||/||b||, "
                            "max_abs = max|a-b|, max_rel = max|a-b| / max|b|",
        "gmac": f"{R.count_macs(cfg, cfg['flags'], h, w) / 1e9:.6f}",
        "torch": torch.__version__, "blas": blas_library(),
        "generator": "tools/reference/make_fixtures.py",
    }
    path = os.path.join(out_dir, f"{name}.safetensors")
    safetensors_io.save(path, tensors, metadata)
    print(f"{name}: {os.path.getsize(path) / 1e6:.2f} MB, shapes "
          + ", ".join(f"{k}{list(v.shape)}" for k, v in tensors.items() if k.startswith("out")))
    for key, stats in noise.items():
        print(f"  {key:34s} fp32 vs fp64: rel-L2 {stats['rel_l2']:.3e}  max-abs {stats['max_abs']:.3e}"
              f"  max-rel {stats['max_rel']:.3e}")
    return noise


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures"))
    parser.add_argument("--only", nargs="*", help="case names (default: all), or 'seeded', 'tiny', 'attn'")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    backbone_dir = os.path.join(args.out, "backbone")
    os.makedirs(backbone_dir, exist_ok=True)
    wanted = set(args.only) if args.only else None
    for case in CASES:
        if wanted is None or case[0] in wanted:
            make_seeded_case(backbone_dir, *case)
    import fixtures_extra
    if wanted is None or "seeded" in wanted:
        fixtures_extra.make_seeded_sample(os.path.join(args.out, "seeded"))
    if wanted is None or "attn" in wanted:
        fixtures_extra.make_zero_query_attention(backbone_dir)
    if wanted is None or "tiny" in wanted:
        fixtures_extra.make_tiny_case(backbone_dir)


if __name__ == "__main__":
    main()
