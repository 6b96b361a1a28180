#!/usr/bin/python3
"""PyTorch's formula of one attention alone (one head, dim 64, N tokens, RoPE included).

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_attention.py \
        --kind nala --tokens 16384 --threads 1

--kind nala: NALA.py's linear formula (k^3, ReLU split, query-norm power, RoPE on the numerator,
k^T v then q (k^T v), normaliser z), the code of tools/reference/nalaformer_ref.py nala_attention.
--kind softmax: the materialised formula softmax(q k^T / sqrt(d)) v with RoPE on q and k. It is
skipped when the N x N score matrix and its softmax (N*N*4 bytes each) would exceed 8 GiB; the
analytic size is printed instead. Tokens form an h x w grid for RoPE (h*w = N, h the largest divisor
<= sqrt(N)). The RoPE tables are built once outside the timing, as a model builds them per stage.
MACs: nala N*(4*d*d + 2*d) (k^T v and q kv over the 2d ReLU-split features, q . mean(k));
softmax 2*N*N*d. GFLOP = 2 x MACs. Run each configuration in a fresh process (peak RSS).
Environment as for torch_backbone.py: OMP_NUM_THREADS=<threads> OPENBLAS_NUM_THREADS=1, and
OMP_WAIT_POLICY=PASSIVE with 2 threads on a shared machine.
Last line: median_ms=<x> gflops=<y> peak_rss_mb=<z>
"""
import argparse
import math
import os
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools", "reference"))
MATERIALISED_LIMIT = 8 * 2 ** 30


def grid(n):
    h = int(math.isqrt(n))
    while n % h:
        h -= 1
    return h, n // h


def attention_macs(kind, n, d):
    return n * (4 * d * d + 2 * d) if kind == "nala" else 2 * n * n * d


def main():
    p = argparse.ArgumentParser(description="PyTorch attention formula latency (reference of nala bench attention)")
    p.add_argument("--kind", choices=["nala", "softmax"], default="nala")
    p.add_argument("--tokens", type=int, default=4096, help="N (default 4096)")
    p.add_argument("--dim", type=int, default=64, help="head dim (default 64, one head)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    args = p.parse_args()
    if args.tokens < 1 or args.dim < 4 or args.dim % 4 or args.threads < 1 or args.runs < 1 or args.warmup < 0:
        p.error("need --tokens >= 1, --dim a multiple of 4, --threads/--runs >= 1, --warmup >= 0")

    import torch
    import nalaformer_ref as R
    torch.set_num_threads(args.threads)
    n, d = args.tokens, args.dim
    h, w = grid(n)
    gflop = 2e-9 * attention_macs(args.kind, n, d)
    print(f"torch {torch.__version__}  {args.kind}  N {n} ({h}x{w})  d {d}  threads {args.threads}  "
          f"runs {args.runs}  {gflop:.3f} GFLOP")
    materialised = 2 * n * n * 4
    if args.kind == "softmax" and materialised > MATERIALISED_LIMIT:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print(f"skipped: materialised scores + softmax would need {materialised / 2 ** 30:.1f} GiB "
              f"(2 x N^2 x 4 bytes) > {MATERIALISED_LIMIT / 2 ** 30:.0f} GiB")
        print(f"median_ms=nan gflops=nan peak_rss_mb={rss:.1f} materialised_gib={materialised / 2 ** 30:.1f}")
        return
    gen = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(1, 1, n, d, generator=gen) for _ in range(3))
    sin, cos = R.RoPE(d, 1)(h, w)
    fn = R.nala_attention if args.kind == "nala" else R.softmax_attention
    times = []
    with torch.inference_mode():
        for i in range(args.warmup + args.runs):
            t0 = time.perf_counter()
            fn(q, k, v, sin, cos)
            if i >= args.warmup:
                times.append((time.perf_counter() - t0) * 1e3)
    median = statistics.median(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"median {median:.3f} ms  {gflop / (median * 1e-3):.1f} GFLOP/s  peak RSS {rss:.1f} MB")
    print(f"median_ms={median:.3f} gflops={gflop / (median * 1e-3):.2f} peak_rss_mb={rss:.1f}")


if __name__ == "__main__":
    main()
