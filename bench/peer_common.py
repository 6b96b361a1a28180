"""Helpers shared by the peer benchmark scripts (no torch here: the runners must not load it)."""
import argparse
import resource

import numpy as np


def parse_size(text):
    """'512x512' or '512' -> (h, w)."""
    parts = text.lower().split("x")
    try:
        h, w = (int(parts[0]), int(parts[0])) if len(parts) == 1 else (int(parts[0]), int(parts[1]))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}': expected HxW (512x512) or N") from None
    if len(parts) > 2 or h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError(f"'{text}': expected HxW (512x512) or N")
    return h, w


def compare(outs, refs, tol):
    """Worst max-abs and rel-L2 over the outputs, computed in double; ok when rel-L2 <= tol and
    every shape matches (shapes are compared before values)."""
    outs = [np.asarray(o) for o in outs]
    if len(outs) != len(refs):
        return {"ok": False, "error": f"{len(outs)} outputs, expected {len(refs)}"}
    worst_abs, worst_rel, per = 0.0, 0.0, []
    for i, (o, r) in enumerate(zip(outs, refs)):
        if o.shape != r.shape and o.squeeze().shape == r.squeeze().shape:  # ncnn drops the batch axis
            o = o.reshape(r.shape)
        if o.shape != r.shape:
            return {"ok": False, "error": f"out{i} shape {list(o.shape)}, expected {list(r.shape)}"}
        d = o.astype(np.float64) - r.astype(np.float64)
        a = float(np.abs(d).max()) if d.size else 0.0
        rel = float(np.linalg.norm(d) / max(np.linalg.norm(r.astype(np.float64)), 1e-30))
        if not np.isfinite(a) or not np.isfinite(rel):
            a, rel = float("inf"), float("inf")
        per.append({"max_abs": a, "rel_l2": rel})
        worst_abs, worst_rel = max(worst_abs, a), max(worst_rel, rel)
    return {"ok": worst_rel <= tol, "max_abs": worst_abs, "rel_l2": worst_rel, "per_output": per}


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KB
