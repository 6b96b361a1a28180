#!/usr/bin/python3
"""COCO evaluation benchmark: nala vs pycocotools on a val2017-sized synthetic set.

    /usr/bin/python3 bench/coco_eval/run.py [--build build] [--images 5000] [--workdir /tmp/nala-coco-bench]

Builds bench/coco_eval/make_set.c against the build's libraries, writes the set into --workdir,
then times `nala eval coco` and pycocotools (if importable; point PYCOCOTOOLS_PATH at a scratch
build) for bbox and segm, one process each, and prints wall time, peak RSS and whether the 12
stats are bit-identical."""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def timed(cmd, log):
    """Runs cmd, returns (wall seconds, peak RSS MB, exit code, CPU seconds)."""
    t0 = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    return wall, usage.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime


def pycocotools_available():
    env_path = os.environ.get("PYCOCOTOOLS_PATH", "")
    probe = "import sys; sys.path.insert(0, %r); import pycocotools.cocoeval" % env_path
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=2017)
    ap.add_argument("--workdir", default="/tmp/nala-coco-bench")
    ap.add_argument("--threads", type=int, default=0, help="nala OpenMP threads (0: all)")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    gen = os.path.join(args.workdir, "make_set")
    subprocess.run(["cc", "-O2", "-std=c11", "-D_DEFAULT_SOURCE", "-I" + os.path.join(ROOT, "include"),
                    os.path.join(HERE, "make_set.c"), os.path.join(args.build, "libnala_eval.a"),
                    os.path.join(args.build, "libnala_core.a"), "-lcjson", "-lm", "-fopenmp", "-o", gen], check=True)
    t0 = time.perf_counter()
    subprocess.run([gen, args.workdir, str(args.seed), str(args.images)], check=True)
    gt, dets = os.path.join(args.workdir, "gt.json"), os.path.join(args.workdir, "dets.json")
    print("set generated in %.1f s: gt.json %.1f MB, dets.json %.1f MB" % (
        time.perf_counter() - t0, os.path.getsize(gt) / 1e6, os.path.getsize(dets) / 1e6))
    have_ref = pycocotools_available()
    if not have_ref:
        print("pycocotools not importable (set PYCOCOTOOLS_PATH): reference runs skipped")
    rows = []
    for iou in ["bbox", "segm"]:
        nala_json = os.path.join(args.workdir, "nala_%s.json" % iou)
        cmd = [os.path.join(args.build, "nala"), "eval", "coco", "--gt", gt, "--results", dets, "--iou-type", iou,
               "--json", nala_json, "--threads", str(args.threads)]
        n_wall, n_rss, rc, n_cpu = timed(cmd, os.path.join(args.workdir, "nala_%s.log" % iou))
        if rc != 0:
            sys.exit("nala failed, see %s/nala_%s.log" % (args.workdir, iou))
        row = [iou, n_wall, None, None, n_rss, None, "skipped", n_cpu, None]
        if have_ref:
            ref_json = os.path.join(args.workdir, "pycocotools_%s.json" % iou)
            cmd = [sys.executable, os.path.join(HERE, "pycoco_eval.py"), gt, dets, iou, ref_json]
            p_wall, p_rss, rc, p_cpu = timed(cmd, os.path.join(args.workdir, "pycocotools_%s.log" % iou))
            if rc != 0:
                sys.exit("pycocotools failed, see %s/pycocotools_%s.log" % (args.workdir, iou))
            ours, ref = json.load(open(nala_json))["stats"], json.load(open(ref_json))["stats"]
            diff = max(abs(a - b) for a, b in zip(ours, ref))
            row[2:4] = [p_wall, p_wall / n_wall]
            row[5] = p_rss
            row[8] = p_cpu
            row[6] = "yes" if ours == ref else "no (max diff %.3g)" % diff
        rows.append(row)
    fmt = lambda v, f: "-" if v is None else f % v
    print("\n| iou type | nala wall s | pycocotools wall s | ratio | nala peak RSS MB | pycocotools peak RSS MB "
          "| stats identical | nala CPU s | pycocotools CPU s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r[0], fmt(r[1], "%.2f"), fmt(r[2], "%.2f"), fmt(r[3], "%.1fx"), fmt(r[4], "%.0f"), fmt(r[5], "%.0f"), r[6],
            fmt(r[7], "%.2f"), fmt(r[8], "%.1f")))
    print("(%d cores, load average %.1f at the end; CPU = user + sys of the process)" % (os.cpu_count(), os.getloadavg()[0]))


if __name__ == "__main__":
    main()
