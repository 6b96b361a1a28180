"""Fixtures beyond the seeded backbone cases (called by make_fixtures.py):

- seeded/sample.safetensors: a few seeded tensors, one per range rule, odd shapes, plus RoPE angles,
  for core/seeded_init.c's bit-exact test;
- backbone/nala_attn_zero_query.safetensors: one NaLa and one softmax attention core on small q, k, v
  where one query row is all zero (NALA.py gives NaN there, we define 0);
- backbone/tiny_weights.safetensors + tiny_45x61_llvv.safetensors: a tiny custom config whose
  weights go through a real .pth and tools/convert_checkpoint.py (F16), to test the loading path.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

import nalaformer_ref as R
import safetensors_io
import seeded_init as SI
from make_fixtures import blas_library, error_stats, run_with_taps

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (key, shape, seed): each range rule once, odd shapes, and extreme seeds.
SEEDED_SAMPLE = [
    ("backbone.patch_embed.proj.1.running_var", (17,), 0),
    ("backbone.patch_embed.proj.1.running_mean", (5,), 0),
    ("backbone.layers.0.blocks.0.gamma_1", (1, 7, 1, 1), 0),
    ("backbone.extra_norms.0.norm.weight", (13,), 0),
    ("backbone.layers.0.blocks.0.attn.qkvg.bias", (9,), 0),
    ("backbone.layers.0.blocks.0.attn.qkvg.weight", (12, 7), 0),
    ("backbone.layers.1.downsample.reduction.weight", (6, 5, 3, 3), 0),
    ("backbone.layers.0.blocks.0.attn.lepe.weight", (3, 1, 5, 5), 0),
    ("backbone.layers.0.blocks.0.ffn.fc1.bias", (11,), 12345),
    ("backbone.layers.3.blocks.1.ffn.fc2.weight", (3, 10), 0xFFFFFFFFFFFFFFFF),
]
ROPE_HEAD_DIMS = (16, 24, 32, 64)


def make_seeded_sample(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    tensors, seeds, debug = {}, {}, {}
    for key, shape, seed in SEEDED_SAMPLE:
        tensors[key] = SI.generate(key, shape, seed)
        seeds[key] = str(seed)
        state0 = seed ^ SI.fnv1a64(key)
        first = SI.splitmix64_outputs(state0, 3)
        debug[key] = {"fnv1a64": f"0x{SI.fnv1a64(key):016x}", "state0": f"0x{state0:016x}",
                      "first_outputs": [f"0x{int(v):016x}" for v in first],
                      "range": list(SI.value_range(key, shape))}
    for head_dim in ROPE_HEAD_DIMS:
        tensors[f"rope_angle.head_dim_{head_dim}"] = SI.rope_angle(head_dim).numpy()
    metadata = {
        "seeds": json.dumps(seeds),
        "debug": json.dumps(debug),
        "rope": "rope_angle.head_dim_<d> = NALA.py RoPE.angle for head_dim d (not seeded)",
        "rules": "splitmix64 from seed ^ fnv1a64(key); (float)(lo + (hi-lo) * ((next()>>40) * 2^-24)); "
                 "ranges: running_var [0.5,2], running_mean [-0.2,0.2], gamma_1/2 [0.2,1], 1-D weight "
                 "[0.5,1.5], bias [-0.1,0.1], weight ndim>=2 [-1/sqrt(fan_in), 1/sqrt(fan_in)]",
        "generator": "tools/reference/fixtures_extra.py",
    }
    path = os.path.join(out_dir, "sample.safetensors")
    safetensors_io.save(path, tensors, metadata)
    print(f"seeded/sample.safetensors: {len(tensors)} tensors, {os.path.getsize(path)} bytes")


def make_zero_query_attention(out_dir, h=5, w=7, head_dim=16, zero_row=17, seed=107):
    gen = torch.Generator().manual_seed(seed)
    n = h * w
    q, k, v = (torch.randn(1, 1, n, head_dim, generator=gen) for _ in range(3))
    q[0, 0, zero_row] = 0
    rope = R.RoPE(head_dim, 1)
    sin, cos = rope(h, w)
    with torch.inference_mode():
        nala = R.nala_attention(q, k, v, sin, cos)
        official = R.nala_attention(q, k, v, sin, cos, official_nan=True)
        soft = R.softmax_attention(q, k, v, sin, cos)
        nala64 = R.nala_attention(q.double(), k.double(), v.double(), sin.double(), cos.double())
    others = torch.ones(n, dtype=torch.bool)
    others[zero_row] = False
    # The finite rule must change only the zero row, and give exactly 0 there.
    assert torch.isnan(official[0, 0, zero_row]).all()
    assert torch.equal(official[0, 0, others], nala[0, 0, others])
    assert torch.count_nonzero(nala[0, 0, zero_row]) == 0
    tensors = {"q": q[0, 0], "k": k[0, 0], "v": v[0, 0], "sin": sin, "cos": cos,
               "nala_out": nala[0, 0], "softmax_out": soft[0, 0]}
    metadata = {
        "height": str(h), "width": str(w), "head_dim": str(head_dim), "zero_query_row": str(zero_row),
        "layouts": "all [N, d], row y*W+x; q, k, v are the raw qkvg columns of one head (before k^3, "
                   "ReLU split, norms); sin, cos = RoPE tables of NALA.py for this head_dim",
        "nala_out": "q_rope @ (k_rope^T v / N) * z, before lepe, ln and gate; row zero_query_row is exactly 0 "
                    "(NALA.py computes 0/0 = NaN there; every other row is bit-identical to NALA.py)",
        "softmax_out": "softmax(q_rope k_rope^T / sqrt(d)) v",
        "noise_fp32_vs_fp64": json.dumps({"nala_out": error_stats(nala, nala64)}),
        "generator": "tools/reference/fixtures_extra.py",
    }
    path = os.path.join(out_dir, "nala_attn_zero_query.safetensors")
    safetensors_io.save(path, tensors, metadata)
    print(f"backbone/nala_attn_zero_query.safetensors: {os.path.getsize(path)} bytes")


TINY = dict(embed_dims=[16, 32, 48, 64], depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], mlp_ratios=[2] * 4,
            layerscales=[True] * 4, layer_init_values=[1.0] * 4)
TINY_WEIGHT_SEED = 7


def make_tiny_case(out_dir, h=45, w=61, input_seed=106):
    model = R.build(None, flags="llvv", seed=TINY_WEIGHT_SEED, **TINY)
    weights_path = os.path.join(out_dir, "tiny_weights.safetensors")
    with tempfile.TemporaryDirectory(prefix="nala-tiny-") as tmp:
        # An mmdet-style checkpoint with unprefixed keys and BN counters, as training scripts save it.
        state = {k[len("backbone."):]: v for k, v in model.state_dict().items()}
        pth = os.path.join(tmp, "tiny.pth")
        torch.save({"state_dict": state, "meta": {"epoch": 1}}, pth)
        cmd = [sys.executable, os.path.join(TOOLS, "convert_checkpoint.py"), pth, weights_path, "--dtype", "f16"]
        subprocess.run(cmd, check=True)
    stored, _, dtypes = safetensors_io.load(weights_path, want_metadata=True)
    expected = [k for k in model.state_dict() if not k.endswith(".num_batches_tracked")]
    assert sorted(stored) == sorted(expected), "converter changed the key set"
    assert {d for k, d in dtypes.items() if not k.endswith(".RoPE.angle")} == {"F16"}
    # Run the model on exactly what C will read: F16 values widened to float32.
    loaded = {k: torch.from_numpy(v.astype(np.float32)) for k, v in stored.items()}
    model.load_state_dict(loaded, strict=False)
    gen = torch.Generator().manual_seed(input_seed)
    x = torch.randn(1, 3, h, w, generator=gen)
    outs32, _ = run_with_taps(model, x, [])
    outs64, _ = run_with_taps(model.to(torch.float64), x.double(), [])
    tensors = {"input": x}
    noise = {}
    for i, (o32, o64) in enumerate(zip(outs32, outs64)):
        tensors[f"out{i}"] = o32
        noise[f"out{i}"] = error_stats(o32, o64)
    cfg = dict(TINY)
    metadata = {
        "case": f"tiny_{h}x{w}_llvv", "variant": "custom", "flags": json.dumps(["l", "l", "v", "v"]),
        "weights": "tiny_weights.safetensors (F16, RoPE.angle F32, written by tools/convert_checkpoint.py from a .pth "
                   f"holding seeded weights, seed {TINY_WEIGHT_SEED}); outputs use the F16 values",
        "config": json.dumps(cfg), "height": str(h), "width": str(w),
        "input": f"torch.randn(1,3,{h},{w}) from torch.Generator().manual_seed({input_seed})",
        "layouts": json.dumps({k: "NCHW" for k in tensors}),
        "noise_fp32_vs_fp64": json.dumps(noise),
        "torch": torch.__version__, "blas": blas_library(),
        "generator": "tools/reference/fixtures_extra.py",
    }
    path = os.path.join(out_dir, f"tiny_{h}x{w}_llvv.safetensors")
    safetensors_io.save(path, tensors, metadata)
    print(f"backbone/tiny: weights {os.path.getsize(weights_path)} bytes, case {os.path.getsize(path)} bytes, "
          "shapes " + ", ".join(f"{k}{list(v.shape)}" for k, v in tensors.items()))
    for key, stats in noise.items():
        print(f"  {key:6s} fp32 vs fp64: rel-L2 {stats['rel_l2']:.3e}  max-abs {stats['max_abs']:.3e}")
