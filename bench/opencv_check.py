#!/usr/bin/env python3
"""Can OpenCV DNN (Debian's python3-opencv) import and run the exported backbone?

    .venv-bench/bin/python bench/opencv_check.py bench/out/peers/nalaformer_t_224x224

Tries the export as written, then two repairs a user might attempt, and stops at the first that
imports: (1) Identity nodes over initializers replaced by copies, (2) the graph constant-folded by
ONNX Runtime (ORT_ENABLE_BASIC), which precomputes the RoPE tables. Prints one line per attempt
with OpenCV's own error, and a last line `opencv=<version> status=<imported|import-failed>`.
If one imports, runs it and compares with PyTorch (ref.npz).
"""
import os
import re
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_common import compare  # noqa: E402


def short_error(e):
    """OpenCV's multi-line message -> the node and the assertion that failed."""
    text = " ".join(str(e).split())
    node = re.search(r"Node \[([^\]]+)\]:\(onnx_node!([^)]+)\)", text)
    why = re.findall(r"error: \(-?\d+:[^)]*\) ([^>]*?) in function '(\w+)'", text)
    where = f"node {node.group(1)} {node.group(2)}" if node else "?"
    return f"{where}: " + "; ".join(f"{w.strip()} ({fn})" for w, fn in why[-1:]) if why else text[:300]


def without_identities(src, dst):
    import onnx
    m = onnx.load(src)
    inits = {t.name: t for t in m.graph.initializer}
    for node in [n for n in m.graph.node if n.op_type == "Identity" and n.input[0] in inits]:
        copy = onnx.TensorProto()
        copy.CopyFrom(inits[node.input[0]])
        copy.name = node.output[0]
        m.graph.initializer.append(copy)
        m.graph.node.remove(node)
    onnx.save(m, dst)


def ort_folded(src, dst):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = dst
    # fold constants only: OpenCV 4.6 cannot read ORT's fused Gemm over 3-D inputs
    ort.InferenceSession(src, so, providers=["CPUExecutionProvider"], disabled_optimizers=["MatMulAddFusion"])


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: opencv_check.py EXPORT_DIR (made by bench/peer_export.py)")
    d = sys.argv[1]
    import cv2
    tmp = tempfile.mkdtemp(prefix="nala-opencv-")
    attempts = [("as exported", None), ("Identity-over-initializer nodes removed", without_identities),
                ("constant-folded by ONNX Runtime (basic)", ort_folded)]
    src = os.path.join(d, "model.onnx")
    for k, (label, repair) in enumerate(attempts):
        path = src
        if repair:
            path = os.path.join(tmp, f"attempt{k}.onnx")
            try:
                repair(src, path)
            except Exception as e:  # the repair needs onnx / onnxruntime
                print(f"opencv {cv2.__version__}: {label}: repair not possible here ({type(e).__name__}: {e})")
                break
        try:
            net = cv2.dnn.readNetFromONNX(path)
        except cv2.error as e:
            print(f"opencv {cv2.__version__}: {label}: import failed at {short_error(e)}")
            src = path
            continue
        with np.load(os.path.join(d, "ref.npz")) as z:
            x, refs = z["input"], [z[f"out{i}"] for i in range(4)]
        net.setInput(x)
        try:
            outs = net.forward([f"out{i}" for i in range(4)])
            c = compare(outs, refs, 1e-4)
            print(f"opencv {cv2.__version__}: {label}: imported; vs PyTorch: {c}")
        except cv2.error as e:
            print(f"opencv {cv2.__version__}: {label}: imported, forward failed at {short_error(e)}")
        print(f"opencv={cv2.__version__} status=imported")
        return 0
    print(f"opencv={cv2.__version__} status=import-failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
