#!/usr/bin/python3
"""PyTorch side of the backbone benchmark: the reference NaLaFormer with the same seeded weights.

    OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_backbone.py \
        --model t --size 512x512 --threads 2 --runs 10

Run each configuration in a fresh process (peak RSS is the process's ru_maxrss). Set
OMP_NUM_THREADS to the thread count and OPENBLAS_NUM_THREADS=1 in the environment: Debian's torch
may call OpenBLAS, whose own pool would otherwise oversubscribe the cores. On a shared machine also
set OMP_WAIT_POLICY=PASSIVE for threads > 1 (same for the C bench): libgomp's default spin-waiting
made T@224 with 2 threads take 5.3 s instead of 0.21 s here when other jobs held a core. GFLOP/s uses the same
MAC formula as nala_backbone_macs (tools/reference/nalaformer_ref.py count_macs; GFLOP = 2 x MACs).
Last line: median_ms=<x> gflops=<y> peak_rss_mb=<z>
"""
import argparse
import os
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools", "reference"))


def parse_size(text):
    parts = text.lower().split("x")
    try:
        h, w = (int(parts[0]), int(parts[0])) if len(parts) == 1 else (int(parts[0]), int(parts[1]))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}': expected HxW (512x512) or N") from None
    if len(parts) > 2 or h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError(f"'{text}': expected HxW (512x512) or N")
    return h, w


def main():
    p = argparse.ArgumentParser(description="PyTorch NaLaFormer backbone latency (reference of nala bench backbone)")
    p.add_argument("--model", default="t", help="xt, t, s, b, l (a 'nalaformer_' prefix is accepted)")
    p.add_argument("--size", type=parse_size, default=(512, 512), help="HxW (default 512x512)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--flags", "--attn", default="llvv", help="attention per stage or block: llvv (default), l,l,v,v, llll")
    p.add_argument("--seed", type=int, default=0, help="seeded-weights seed (default 0)")
    p.add_argument("--weights", help="safetensors with backbone.* keys (default: seeded weights)")
    args = p.parse_args()
    model_name = args.model.lower().removeprefix("nalaformer_").removeprefix("nalaformer-")
    if args.threads < 1 or args.runs < 1 or args.warmup < 0:
        p.error("--threads and --runs must be >= 1, --warmup >= 0")

    import torch
    import nalaformer_ref as R
    if model_name not in R.VARIANTS:
        p.error(f"--model '{args.model}': expected one of {', '.join(R.VARIANTS)}")
    torch.set_num_threads(args.threads)
    omp = os.environ.get("OMP_NUM_THREADS")
    if args.threads > 1 and "OMP_WAIT_POLICY" not in os.environ:
        print("note: on a shared machine set OMP_WAIT_POLICY=PASSIVE (spinning OpenMP barriers stall "
              "when another process holds a core)", file=sys.stderr)
    if omp != str(args.threads) or os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        print(f"note: for best PyTorch timings set OMP_NUM_THREADS={args.threads} OPENBLAS_NUM_THREADS=1 "
              f"(now OMP_NUM_THREADS={omp}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')})",
              file=sys.stderr)
    h, w = args.size
    model = R.build(model_name, flags=args.flags, seed=None if args.weights else args.seed)
    if args.weights:
        sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))
        import safetensors_io
        stored = safetensors_io.load(args.weights)
        state = {k: torch.from_numpy(v.astype("float32")) for k, v in stored.items() if k.startswith("backbone.")}
        try:
            result = model.load_state_dict(state, strict=False)
        except RuntimeError as e:  # shape mismatches
            sys.exit(f"torch_backbone.py: {args.weights} does not match model {model_name}: {e}")
        missing = [k for k in result.missing_keys if not k.endswith(".num_batches_tracked")]
        if missing or result.unexpected_keys:
            sys.exit(f"torch_backbone.py: {args.weights} does not match model {model_name}: "
                     f"missing {missing[:5]}, unexpected {result.unexpected_keys[:5]}")
    x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(1))
    times = []
    with torch.inference_mode():
        for i in range(args.warmup + args.runs):
            t0 = time.perf_counter()
            model(x)
            if i >= args.warmup:
                times.append((time.perf_counter() - t0) * 1e3)
    median = statistics.median(times)
    gflop = 2e-9 * R.count_macs(model.backbone.config, args.flags, h, w)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KB
    print(f"torch {torch.__version__}  model {model_name}  size {h}x{w}  threads {args.threads}  runs {args.runs}")
    print(f"median {median:.2f} ms  {gflop / (median * 1e-3):.1f} GFLOP/s ({gflop:.2f} GFLOP)  peak RSS {rss:.1f} MB")
    print(f"median_ms={median:.3f} gflops={gflop / (median * 1e-3):.2f} peak_rss_mb={rss:.1f}")


if __name__ == "__main__":
    main()
