#!/usr/bin/env python3
"""Exports the PyTorch reference backbone for the peer runtimes and checks every export first.

    .venv-bench/bin/python bench/peer_export.py --model t --size 512x512 --out bench/out/peers

Writes <out>/nalaformer_<m>_<H>x<W>/ with
  ref.npz           input (torch.randn, generator seed 1, as bench/torch_backbone.py) and the four
                    PyTorch outputs, the yardstick of every peer's own check
  model.onnx        torch.onnx.export at opset 17, static shape, checked in ONNX Runtime
  ncnn.param/.bin   TorchScript -> pnnx -> ncnn (fp32 weights) of an ncnn-friendly rewrite of the
                    same model (see ncnn_variant below), checked in ncnn
  export.json       what was checked, with max-abs and rel-L2 per output
Weights are the seeded ones of `nala bench backbone` (tools/reference/seeded_init.py is the
same spec as core/seeded_init.c, seed 0). An export whose outputs are further than --tol rel-L2
from PyTorch's is marked bad in export.json (the runners refuse to time it) and this exits 1.
Needs the bench venv (bash setup.sh bench): torch from Debian, onnx, onnxruntime, pnnx, ncnn.
"""
import argparse
import contextlib
import hashlib
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
sys.path.insert(0, HERE)
from peer_common import compare, parse_size  # noqa: E402

OPSET = 17


def source_digest():
    """Hash of everything that decides an export, so a stale one is redone."""
    h = hashlib.sha256()
    for rel in ("tools/reference/nalaformer_ref.py", "tools/reference/seeded_init.py", "bench/peer_export.py"):
        with open(os.path.join(ROOT, rel), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


@contextlib.contextmanager
def unflatten_as_reshape():
    """torch 1.13 has no ONNX symbolic for unflatten: trace it as the equivalent reshape.
    The reference uses reshape today; this keeps an export working if it ever uses unflatten."""
    import torch
    saved = torch.Tensor.unflatten

    def unflatten(self, dim, sizes):
        dim = dim % self.dim()
        return self.reshape(*self.shape[:dim], *sizes, *self.shape[dim + 1:])

    torch.Tensor.unflatten = unflatten
    try:
        yield
    finally:
        torch.Tensor.unflatten = saved


@contextlib.contextmanager
def ncnn_variant(R):
    """The same model written so that pnnx -> ncnn converts and runs it (export path only).

    Each rewrite, and what stops ncnn without it (pnnx/ncnn 20261020):
    - x[..., 1::2] in rotate_every_two: 'slice with step 2 is not supported' (left as Tensor.slice)
      and the 5-D stack reshape (Tensor.reshape) -> pairs via a 4-D reshape and step-1 slices.
    - torch.where(q_norm > 0, q_norm, 1): torch.gt / torch.where have no ncnn layer ('layer
      torch.gt not exists or registered') -> q_norm.clamp(min=FLT_MIN), equal for every finite
      q (a zero row still gives 0 features).
    - qkvg(...).reshape(B, N, 4, C).permute(2, 0, 1, 3) then unpacking: pnnx takes the moved
      axis for the batch axis and ncnn segfaults in the lepe conv -> split(C, dim=-1).
    - k ** 3 and (q / |q|) ** power: ncnn's BinaryOp pow is exp(b log a), garbage (~2.4e38) for
      a <= 0 -> k * k * k, and the base offset by 1e-30 (relative change below 1e-22 for any base
      above 1e-8: < 5e-22 after the power).
    """
    import torch
    import torch.nn.functional as F  # noqa: F401 (the reference's finish() uses it)
    flt_min = torch.finfo(torch.float32).tiny

    def rotate_every_two(x):
        shape = x.shape
        pairs = x.reshape(shape[0], -1, shape[-1] // 2, 2)
        return torch.cat([-pairs[..., 1:2], pairs[..., 0:1]], dim=-1).reshape(shape)

    def nala_attention(q, k, v, sin, cos, official_nan=False):
        N = q.shape[-2]
        k = k * k * k
        q_pos, q_neg = torch.relu(q), torch.relu(-q)
        k_pos, k_neg = torch.relu(k), torch.relu(-k)
        q_norm = q.norm(dim=-1, p=2, keepdim=True)
        divisor = q_norm.clamp(min=flt_min)
        power = 3 * (0.5 + torch.tanh(q_norm))
        q_pos = (q_pos / divisor + 1e-30) ** power
        q_neg = (q_neg / divisor + 1e-30) ** power
        q_rope = torch.cat([R.theta_shift(q_pos, sin, cos), R.theta_shift(q_neg, sin, cos)], dim=-1)
        k_rope = torch.cat([R.theta_shift(k_pos, sin, cos), R.theta_shift(k_neg, sin, cos)], dim=-1)
        q_feat = torch.cat([q_pos, q_neg], dim=-1)
        k_feat = torch.cat([k_pos, k_neg], dim=-1)
        z = 1 / (q_feat @ k_feat.mean(dim=-2, keepdim=True).transpose(-2, -1) + 1e-6)
        kv = (k_rope.transpose(-2, -1) * (N ** -0.5)) @ (v * (N ** -0.5))
        return q_rope @ kv * z

    def split(self, x):
        B, C, H, W = x.shape
        N = H * W
        tokens = x.reshape(B, C, N).transpose(-1, -2)
        q, k, v, g = self.qkvg(tokens).split(C, dim=-1)
        lepe = self.lepe(v.transpose(-1, -2).reshape(B, C, H, W)).reshape(B, C, N).transpose(-1, -2)

        def heads(t):
            return t.reshape(B, N, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

        return heads(q), heads(k), heads(v), g, lepe

    saved = (R.rotate_every_two, R.nala_attention, R._AttnBase.split)
    R.rotate_every_two, R.nala_attention, R._AttnBase.split = rotate_every_two, nala_attention, split
    try:
        yield
    finally:
        R.rotate_every_two, R.nala_attention, R._AttnBase.split = saved


def check_onnx(path, x, ref, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})


def check_ncnn(param, binary, x, threads):
    sys.path.insert(0, HERE)
    from peer_backbone import ncnn_net, ncnn_forward
    net, err = ncnn_net(param, binary, threads)
    if err:
        raise RuntimeError(err)
    return ncnn_forward(net, x)


def pnnx_convert(pt_path, h, w, out_dir):
    import pnnx
    cmd = [pnnx.EXEC_PATH, pt_path, f"inputshape=[1,3,{h},{w}]f32", "fp16=0",
           f"pnnxparam={out_dir}/pnnx.param", f"pnnxbin={out_dir}/pnnx.bin", f"pnnxpy={out_dir}/pnnx_model.py",
           f"pnnxonnx={out_dir}/pnnx.onnx", f"ncnnparam={out_dir}/ncnn.param", f"ncnnbin={out_dir}/ncnn.bin",
           f"ncnnpy={out_dir}/ncnn_model.py"]
    with open(os.path.join(out_dir, "pnnx.log"), "w") as log:
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=out_dir)
    for extra in ("pnnx.bin", "pnnx.onnx", "pnnx.param", "pnnx_model.py", "ncnn_model.py"):  # big, unused
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(out_dir, extra))
    if rc != 0:
        raise RuntimeError(f"pnnx exited {rc} (see {out_dir}/pnnx.log)")
    # ops pnnx could not lower keep their torch names (torch.gt, Tensor.slice): ncnn has no such layer
    with open(os.path.join(out_dir, "ncnn.param")) as f:
        kinds = [line.split()[0] for line in f.read().splitlines()[2:] if line.split()]
    unconverted = sorted({k for k in kinds if "." in k})
    if unconverted:
        raise RuntimeError("pnnx left ops ncnn has no layer for: " + ", ".join(unconverted))


def main():
    p = argparse.ArgumentParser(description="export + check the reference backbone for ONNX Runtime, OpenVINO, ncnn")
    p.add_argument("--model", default="t")
    p.add_argument("--size", type=parse_size, default=(512, 512))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "peers"))
    p.add_argument("--threads", type=int, default=2, help="threads for the checks")
    p.add_argument("--tol", type=float, default=1e-4, help="largest rel-L2 vs PyTorch (default 1e-4)")
    p.add_argument("--force", action="store_true", help="redo even if an export of the same sources exists")
    p.add_argument("--ncnn-as-is", action="store_true",
                   help="convert the unmodified reference for ncnn (shows what stops it; see ncnn_variant)")
    args = p.parse_args()
    h, w = args.size
    model_name = args.model.lower().removeprefix("nalaformer_")
    out_dir = os.path.join(args.out, f"nalaformer_{model_name}_{h}x{w}")
    os.makedirs(out_dir, exist_ok=True)
    meta_path = os.path.join(out_dir, "export.json")
    digest = source_digest()
    if not args.force and os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        if meta.get("digest") == digest and meta.get("seed") == args.seed and \
                meta.get("ncnn_as_is", False) == args.ncnn_as_is:
            print(f"peer_export: {out_dir} is up to date ({meta['summary']})")
            return 0 if meta["onnx"]["ok"] else 1

    import torch
    import nalaformer_ref as R
    torch.set_num_threads(args.threads)
    model = R.build(model_name, seed=args.seed)
    x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        ref = [t.numpy() for t in model(x)]
    np.savez(os.path.join(out_dir, "ref.npz"), input=x.numpy(), **{f"out{i}": r for i, r in enumerate(ref)})
    meta = {"digest": digest, "seed": args.seed, "model": model_name, "size": [h, w], "opset": OPSET,
            "torch": torch.__version__, "tol_rel_l2": args.tol, "ncnn_as_is": args.ncnn_as_is}

    onnx_path = os.path.join(out_dir, "model.onnx")
    names = [f"out{i}" for i in range(len(ref))]
    try:
        with unflatten_as_reshape(), torch.no_grad():
            torch.onnx.export(model, x, onnx_path, opset_version=OPSET, input_names=["input"], output_names=names)
        meta["onnx"] = compare(check_onnx(onnx_path, x.numpy(), ref, args.threads), ref, args.tol)
    except Exception as e:  # report, do not time
        meta["onnx"] = {"ok": False, "error": f"{type(e).__name__}: {e}"}

    try:
        with (contextlib.nullcontext() if args.ncnn_as_is else ncnn_variant(R)), torch.no_grad():
            if not args.ncnn_as_is:
                variant = [t.numpy() for t in model(x)]
                meta["ncnn_variant_vs_torch"] = compare(variant, ref, args.tol)
            pt_path = os.path.join(out_dir, "model_ncnn_variant.pt")
            torch.jit.trace(model, x, check_trace=False).save(pt_path)
        pnnx_convert(pt_path, h, w, out_dir)
        os.remove(pt_path)
        meta["ncnn"] = compare(check_ncnn(os.path.join(out_dir, "ncnn.param"), os.path.join(out_dir, "ncnn.bin"),
                                          x.numpy(), args.threads), ref, args.tol)
    except Exception as e:
        meta["ncnn"] = {"ok": False, "error": f"{type(e).__name__}: {e}"}

    def line(key):
        c = meta[key]
        return f"{key} " + (f"max-abs {c['max_abs']:.2e} rel-L2 {c['rel_l2']:.2e} {'ok' if c['ok'] else 'BAD'}"
                            if "rel_l2" in c else f"FAILED ({c['error']})")
    meta["summary"] = "; ".join(line(k) for k in ("onnx", "ncnn"))
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=1)
    print(f"peer_export: {out_dir}: {meta['summary']}")
    return 0 if meta["onnx"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
