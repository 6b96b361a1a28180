#!/usr/bin/env python3
"""One peer runtime on the exported backbone (bench/peer_export.py): warm-up, median of R runs.

    OMP_NUM_THREADS=2 .venv-bench/bin/python bench/peer_backbone.py --engine ort \
        --dir bench/out/peers/nalaformer_t_512x512 --threads 2 --runs 5

Engines, each with T intra-op threads, batch 1, fp32:
  ort       ONNX Runtime, CPU provider, ORT_ENABLE_ALL, intra_op T, inter_op 1, sequential
  openvino  OpenVINO reading the same ONNX file, CPU, INFERENCE_NUM_THREADS T, PERFORMANCE_HINT
            LATENCY, INFERENCE_PRECISION_HINT f32 (it would pick bf16 on CPUs that have it)
  ncnn      the pnnx conversion, num_threads T, fp16/bf16 storage and arithmetic off
Run one engine per fresh process: peak RSS is the process's ru_maxrss, taken right after the timed
runs (before the PyTorch outputs are loaded for the check). This never imports torch.
After timing, the last forward's outputs are compared with PyTorch's (ref.npz); a result further
than export.json's tolerance is not reported. Last line:
  median_ms=<x> peak_rss_mb=<z> max_abs=<a> rel_l2=<r>   or, when the engine cannot run it,
  median_ms=nan peak_rss_mb=nan status=<why>     (exit 0 for 'blocked', the line above says by
                                                  what; 1 for errors)
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_common import compare, peak_rss_mb  # noqa: E402


def ort_runner(d, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(os.path.join(d, "model.onnx"), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return f"onnxruntime {ort.__version__}", lambda x: sess.run(None, {name: x})


def openvino_runner(d, threads):
    import openvino as ov
    core = ov.Core()
    compiled = core.compile_model(core.read_model(os.path.join(d, "model.onnx")), "CPU", {
        "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()

    def run(x):
        request.infer({0: x})
        return [request.get_output_tensor(i).data.copy() for i in range(len(compiled.outputs))]

    return f"openvino {ov.get_version()}", run


def ncnn_net(param, binary, threads):
    """(net, None) or (None, why): ncnn prints its own reason to stderr and returns -1."""
    import ncnn
    net = ncnn.Net()
    opt = net.opt
    opt.num_threads = threads
    for fp16 in ("use_fp16_packed", "use_fp16_storage", "use_fp16_arithmetic", "use_bf16_storage"):
        setattr(opt, fp16, False)  # fp32 like every other column
    with open(param) as f:
        kinds = [line.split()[0] for line in f.read().splitlines()[2:] if line.split()]
    unknown = sorted({k for k in kinds if "." in k})  # ops pnnx kept as torch ops: no ncnn layer
    if unknown:
        return None, "pnnx left ops ncnn has no layer for: " + ",".join(unknown)
    if net.load_param(param) != 0 or net.load_model(binary) != 0:
        return None, "ncnn could not load the pnnx conversion (its message is above)"
    return net, None


def ncnn_forward(net, x):
    import ncnn
    with net.create_extractor() as ex:
        ex.input("in0", ncnn.Mat(x[0]).clone())
        outs = []
        for i in range(4):
            rc, m = ex.extract(f"out{i}")
            if rc != 0:
                raise RuntimeError(f"ncnn extract out{i} returned {rc}")
            outs.append(np.array(m)[None])
        return outs


def ncnn_runner(d, threads):
    import ncnn
    meta = os.path.join(d, "export.json")
    with open(meta) as f:
        conv = json.load(f).get("ncnn", {})
    if "error" in conv:  # the conversion itself failed: say which op, do not fail the table
        return conv["error"], None
    net, why = ncnn_net(os.path.join(d, "ncnn.param"), os.path.join(d, "ncnn.bin"), threads)
    if why:
        return why, None
    return f"ncnn {ncnn.__version__}", lambda x: ncnn_forward(net, x)


RUNNERS = {"ort": ort_runner, "openvino": openvino_runner, "ncnn": ncnn_runner}


def main():
    p = argparse.ArgumentParser(description="peer runtime latency on the exported NaLaFormer backbone")
    p.add_argument("--engine", choices=sorted(RUNNERS), required=True)
    p.add_argument("--dir", required=True, help="an export directory of bench/peer_export.py")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    args = p.parse_args()
    if args.threads < 1 or args.runs < 1 or args.warmup < 0:
        p.error("--threads and --runs must be >= 1, --warmup >= 0")
    with open(os.path.join(args.dir, "export.json")) as f:
        meta = json.load(f)
    onnx_check = meta.get("onnx", {})
    if args.engine in ("ort", "openvino") and not onnx_check.get("ok"):
        print(f"{args.engine}: the ONNX export failed its check ({meta.get('summary')}): not timed")
        print("median_ms=nan peak_rss_mb=nan status=export-check-failed")
        return 1
    with np.load(os.path.join(args.dir, "ref.npz")) as z:
        x = np.ascontiguousarray(z["input"], dtype=np.float32)
    label, run = RUNNERS[args.engine](args.dir, args.threads)  # (why, None) when it cannot run
    if run is None:
        print(f"{args.engine}: cannot run this model: {label}")
        print("median_ms=nan peak_rss_mb=nan status=blocked")
        return 0
    all_ms = []
    for _ in range(args.warmup + args.runs):
        t0 = time.perf_counter()
        outs = run(x)
        all_ms.append((time.perf_counter() - t0) * 1e3)
    times = all_ms[args.warmup:]
    median, rss = statistics.median(times), peak_rss_mb()
    with np.load(os.path.join(args.dir, "ref.npz")) as z:
        refs = [z[f"out{i}"] for i in range(4)]
    c = compare(outs, refs, meta["tol_rel_l2"])
    h, w = meta["size"]
    print(f"{label}  model {meta['model']}  size {h}x{w}  threads {args.threads}  runs {args.runs}  "
          f"(ms, warm-up first: {' '.join(f'{t:.1f}' for t in all_ms)})")
    if "error" in c:
        print(f"output check: {c['error']}: not reported")
        print("median_ms=nan peak_rss_mb=nan status=output-mismatch")
        return 1
    print(f"median {median:.2f} ms  peak RSS {rss:.1f} MB  vs PyTorch: max-abs {c['max_abs']:.2e} "
          f"rel-L2 {c['rel_l2']:.2e} ({'ok' if c['ok'] else 'TOO FAR: not reported'})")
    if not c["ok"]:
        print(f"median_ms=nan peak_rss_mb=nan status=output-rel-l2-{c['rel_l2']:.1e}")
        return 1
    print(f"median_ms={median:.3f} peak_rss_mb={rss:.1f} max_abs={c['max_abs']:.3g} rel_l2={c['rel_l2']:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
