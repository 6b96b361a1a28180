#!/usr/bin/env python3
"""What each engine says about the CPU it runs on: one line per engine. Run it plain and under
bench/cpuid_mask.so to see AVX-512 disappear (bench/README.md, "The avx2 rows"):

    LD_PRELOAD=build/bench/cpuid_mask.so .venv-bench/bin/python bench/isa_check.py --dir DIR
    LD_PRELOAD=build/bench/cpuid_mask.so /usr/bin/python3 bench/isa_check.py --engines torch

  numpy     its CPU dispatch table (__cpu_features__): AVX2, AVX512F, AVX512_SKX
  ort       ONNX Runtime has no API for its ISA (MLAS reads CPUID itself): only that it runs;
            bench/isa_sample.sh shows the instructions it executes
  openvino  the CPU plugin's OPTIMIZATION_CAPABILITIES and the primitive types of the compiled
            model's nodes (jit_avx512_FP32, brgconv_avx2_FP32, ...), counted; needs --dir
  ncnn      its Python API has cpu_support_x86_avx/avx2 only (no avx512 query): those two
  torch     ATen's CPU capability (torch.__config__), oneDNN's ISA (its verbose 'info,cpu,isa'
            line, via a subprocess), OpenBLAS's core (openblas_get_corename)
"""
import argparse
import collections
import ctypes
import os
import subprocess
import sys


def numpy_line():
    import numpy.core._multiarray_umath as m
    f = m.__cpu_features__
    keys = ("AVX2", "FMA3", "AVX512F", "AVX512_SKX", "AVX512_SPR")
    return "numpy: " + " ".join(f"{k}={int(f[k])}" for k in keys if k in f)


def ort_line():
    import onnxruntime as ort
    return f"ort: onnxruntime {ort.__version__} (no ISA query in its API)"


def openvino_line(d):
    import openvino as ov
    core = ov.Core()
    caps = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    line = f"openvino: {ov.get_version()} capabilities {','.join(caps)}"
    if d:
        compiled = core.compile_model(core.read_model(os.path.join(d, "model.onnx")), "CPU", {
            "INFERENCE_NUM_THREADS": 1, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"})
        kinds = collections.Counter()
        for node in compiled.get_runtime_model().get_ops():
            rt = node.get_rt_info()
            if "primitiveType" in rt:
                kinds[str(rt["primitiveType"].astype(str))] += 1
        line += " primitives " + " ".join(f"{k}:{n}" for k, n in kinds.most_common() if k not in ("undef", "unknown"))
    return line


def ncnn_line():
    import ncnn
    return f"ncnn: {ncnn.__version__} avx={int(bool(ncnn.cpu_support_x86_avx()))} avx2={int(bool(ncnn.cpu_support_x86_avx2()))}"


TORCH_DNNL = """
import torch
x = torch.randn(1, 64, 56, 56)
with torch.no_grad():
    torch.nn.Conv2d(64, 64, 3, padding=1)(x)
"""


def torch_line():
    import torch
    cap = next((l.split(":", 1)[1].strip() for l in torch.__config__.show().splitlines() if "CPU capability" in l), "?")
    env = dict(os.environ, DNNL_VERBOSE="1", ONEDNN_VERBOSE="1")
    out = subprocess.run([sys.executable, "-c", TORCH_DNNL], env=env, capture_output=True, text=True).stdout
    isa = next((l.split("isa:", 1)[1] for l in out.splitlines() if ",isa:" in l), "?")
    impls = sorted({l.split(",")[4] for l in out.splitlines() if l.startswith(("dnnl_verbose,exec", "onednn_verbose,exec"))
                    and ",convolution," in l})
    core = "?"
    with open("/proc/self/maps") as maps:
        libs = sorted({l.split()[-1] for l in maps if "openblas" in l and ".so" in l})
    for path in libs:
        try:
            fn = ctypes.CDLL(path).openblas_get_corename
            fn.restype = ctypes.c_char_p
            core = fn().decode()
            break
        except (OSError, AttributeError):
            continue
    return f"torch: {torch.__version__} ATen {cap}; oneDNN {isa} (conv {','.join(impls) or '?'}); OpenBLAS {core}"


def main():
    p = argparse.ArgumentParser(description="each engine's view of the CPU ISA")
    p.add_argument("--engines", default="numpy ort openvino ncnn", help="of: numpy ort openvino ncnn torch")
    p.add_argument("--dir", help="an export directory of bench/peer_export.py (OpenVINO's compiled nodes)")
    args = p.parse_args()
    lines = {"numpy": numpy_line, "ort": ort_line, "openvino": lambda: openvino_line(args.dir), "ncnn": ncnn_line,
             "torch": torch_line}
    rc = 0
    for name in args.engines.split():
        try:
            print(lines[name](), flush=True)
        except Exception as e:  # one engine missing must not hide the others
            print(f"{name}: not checked: {type(e).__name__}: {e}", flush=True)
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
