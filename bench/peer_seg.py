#!/usr/bin/env python3
"""Peers of `nala bench seg`: the PyTorch reference (tools/reference/mmseg_ref.py, mmseg 1.x
semantics, the same seeded weights as nala, seed 0) end to end from the normalised tensor to the
label map, and ONNX Runtime on an export of the same model.

    OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/peer_seg.py torch \
        --config configs/fpn_nalaformer-t_512x512_ade20k.json --size 512x512 --threads 2 --runs 5
    .venv-bench/bin/python bench/peer_seg.py export --config C --size 512x512     (torch + onnx)
    OMP_NUM_THREADS=2 .venv-bench/bin/python bench/peer_seg.py ort --dir D --threads 2 --runs 5

torch: whole-mode EncoderDecoder.predict as mmseg runs it (mmseg_ref.predict): backbone, neck,
  decode head, bilinear resize of the logits to the input size (decode_head.predict_by_feat),
  postprocess (resize to ori_shape = input size, argmax). Per stage: backbone / neck / head /
  resize+argmax, medians of the timed runs.
export: torch.onnx.export (opset 17, static shape) of x -> (decode_logits, seg_pred = argmax of
  the logits resized bilinearly to the input size; the second, same-size resize of postprocess is
  the identity and left out), checked in ONNX Runtime against PyTorch (decode_logits rel-L2 <= 1e-4,
  seg_pred equal but where PyTorch's top-1/top-2 margin is < 1e-4). UperNet does not export for
  most sizes: PyTorch's ONNX exporter refuses adaptive_avg_pool2d when the output size does not
  divide the input (the PPM's 3x3 and 6x6 bins on a 16x16 C5 at 512x512); the failure is recorded in
  export.json and `ort` then reports status=blocked.
ort: ONNX Runtime CPU provider, ORT_ENABLE_ALL, intra_op T, inter_op 1, sequential (never imports
  torch).
Run each measurement in a fresh process (peak RSS is the process's ru_maxrss). Last line:
  median_ms=<x> peak_rss_mb=<z> [backbone_ms=.. neck_ms=.. head_ms=.. post_ms=..]   or
  median_ms=nan peak_rss_mb=nan status=<why>
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from peer_common import compare, parse_size, peak_rss_mb  # noqa: E402

OPSET = 17
MARGIN = 1e-4


def build(config, seed):
    sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
    import mmseg_ref
    cfg = mmseg_ref.load_config(config)["model"]
    return mmseg_ref, cfg, mmseg_ref.build_segmentor(cfg, seed=seed)


def cmd_torch(args):
    import torch
    torch.set_num_threads(args.threads)
    if os.environ.get("OMP_NUM_THREADS") != str(args.threads) or os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        print(f"note: for best PyTorch timings set OMP_NUM_THREADS={args.threads} OPENBLAS_NUM_THREADS=1",
              file=sys.stderr)
    R, cfg, model = build(args.config, args.seed)
    h, w = args.size
    x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(1))
    stages = {"backbone": [], "neck": [], "head": [], "post": []}
    totals = []
    with torch.inference_mode():
        for i in range(args.warmup + args.runs):
            t0 = time.perf_counter()
            feats = model.backbone(x)
            t1 = time.perf_counter()
            if model.neck is not None:
                feats = model.neck(feats)
            t2 = time.perf_counter()
            logits = model.decode_head(feats)
            t3 = time.perf_counter()
            # decode_head.predict_by_feat's resize to img_shape, then postprocess_result
            seg = R.resize(logits, (h, w), model.decode_head.align_corners)
            _, pred = R.postprocess(seg, (h, w), align_corners=model.decode_head.align_corners)
            t4 = time.perf_counter()
            if i >= args.warmup:
                for k, (a, b) in zip(stages, ((t0, t1), (t1, t2), (t2, t3), (t3, t4))):
                    stages[k].append((b - a) * 1e3)
                totals.append((t4 - t0) * 1e3)
    rss = peak_rss_mb()
    med = {k: statistics.median(v) for k, v in stages.items()}
    print(f"torch {torch.__version__}  {os.path.basename(args.config)}  size {h}x{w}  threads {args.threads}  "
          f"runs {args.runs}  label map {tuple(pred.shape)}")
    print("stages (median ms): " + "  ".join(f"{k} {v:.1f}" for k, v in med.items()))
    print(f"median_ms={statistics.median(totals):.3f} peak_rss_mb={rss:.1f} " +
          " ".join(f"{k}_ms={v:.3f}" for k, v in med.items()))
    return 0


class _EndToEnd:
    """x -> (decode_logits, seg_pred) as one traceable module."""

    @staticmethod
    def make(model, R, h, w):
        import torch

        class E(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.m = model

            def forward(self, x):
                logits = self.m.decode_head(self.m.extract_feat(x))
                up = R.resize(logits, (h, w), self.m.decode_head.align_corners)
                return logits, up.argmax(dim=1)

        return E().eval()


def cmd_export(args):
    import torch
    torch.set_num_threads(args.threads)
    R, cfg, model = build(args.config, args.seed)
    h, w = args.size
    name = os.path.splitext(os.path.basename(args.config))[0]
    out_dir = os.path.join(args.out, f"seg_{name}_{h}x{w}")
    os.makedirs(out_dir, exist_ok=True)
    x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(1))
    e2e = _EndToEnd.make(model, R, h, w)
    with torch.inference_mode():
        logits, pred = e2e(x)
        up = R.resize(logits, (h, w))
        margin = R.top2_margin(up[0]).numpy()
    np.savez(os.path.join(out_dir, "ref.npz"), input=x.numpy(), decode_logits=logits.numpy(),
             seg_pred=pred.numpy(), margin=margin)
    meta = {"config": args.config, "size": [h, w], "seed": args.seed, "opset": OPSET, "torch": torch.__version__}
    onnx_path = os.path.join(out_dir, "model.onnx")
    try:
        with torch.no_grad():
            torch.onnx.export(e2e, x, onnx_path, opset_version=OPSET, input_names=["input"],
                              output_names=["decode_logits", "seg_pred"])
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        o_logits, o_pred = sess.run(None, {"input": x.numpy()})
        c = compare([o_logits], [logits.numpy()], args.tol)
        differ = (o_pred.reshape(pred.shape) != pred.numpy())[0]
        c["seg_pred_differ"] = int(differ.sum())
        c["seg_pred_differ_unambiguous"] = int((differ & (margin >= MARGIN)).sum())
        c["ok"] = bool(c["ok"] and c["seg_pred_differ_unambiguous"] == 0)
        meta["onnx"] = c
    except Exception as ex:  # report, do not time
        meta["onnx"] = {"ok": False, "error": f"{type(ex).__name__}: {str(ex).splitlines()[0] if str(ex) else ''}"}
        if os.path.exists(onnx_path):
            os.remove(onnx_path)
    with open(os.path.join(out_dir, "export.json"), "w") as f:
        json.dump(meta, f, indent=1)
    c = meta["onnx"]
    print(f"peer_seg export: {out_dir}: " + (f"decode_logits max-abs {c['max_abs']:.2e} rel-L2 {c['rel_l2']:.2e}, "
                                            f"seg_pred {c['seg_pred_differ']} pixels differ "
                                            f"({c['seg_pred_differ_unambiguous']} unambiguous) "
                                            f"{'ok' if c['ok'] else 'BAD'}" if "rel_l2" in c
                                            else f"FAILED ({c['error']})"))
    return 0 if c["ok"] else 1


def cmd_ort(args):
    meta_path = os.path.join(args.dir, "export.json")
    if not os.path.exists(meta_path):
        print(f"median_ms=nan peak_rss_mb=nan status=no_export({args.dir})")
        return 1
    with open(meta_path) as f:
        meta = json.load(f)
    if not meta["onnx"].get("ok"):
        why = meta["onnx"].get("error", "export check failed").replace(" ", "_")[:120]
        print(f"median_ms=nan peak_rss_mb=nan status=blocked:{why}")
        return 0
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(os.path.join(args.dir, "model.onnx"), so, providers=["CPUExecutionProvider"])
    x = np.load(os.path.join(args.dir, "ref.npz"))["input"]
    times = []
    for i in range(args.warmup + args.runs):
        t0 = time.perf_counter()
        outs = sess.run(None, {"input": x})
        if i >= args.warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    rss = peak_rss_mb()
    ref = np.load(os.path.join(args.dir, "ref.npz"))
    c = compare([outs[0]], [ref["decode_logits"]], 1e-4)
    print(f"onnxruntime {ort.__version__}  {args.dir}  threads {args.threads}  runs {args.runs}")
    print(f"median_ms={statistics.median(times):.3f} peak_rss_mb={rss:.1f} rel_l2={c.get('rel_l2', float('nan')):.2e}")
    return 0


def main():
    p = argparse.ArgumentParser(description="PyTorch / ONNX Runtime peers of nala bench seg")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("torch", "export"):
        s = sub.add_parser(name)
        s.add_argument("--config", required=True, help="nala JSON config (configs/...)")
        s.add_argument("--size", type=parse_size, default=(512, 512))
        s.add_argument("--threads", type=int, default=1)
        s.add_argument("--seed", type=int, default=0)
        if name == "torch":
            s.add_argument("--runs", type=int, default=5)
            s.add_argument("--warmup", type=int, default=1)
        else:
            s.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "peers"))
            s.add_argument("--tol", type=float, default=1e-4)
    s = sub.add_parser("ort")
    s.add_argument("--dir", required=True)
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--runs", type=int, default=5)
    s.add_argument("--warmup", type=int, default=1)
    args = p.parse_args()
    return {"torch": cmd_torch, "export": cmd_export, "ort": cmd_ort}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
