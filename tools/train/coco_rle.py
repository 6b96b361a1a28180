"""COCO compressed RLE strings <-> masks (pycocotools' rleToString / rleFrString restated), so the
training code needs no pycocotools. Masks are (h, w) numpy bool arrays; RLE runs are column-major."""
import numpy as np


def decode(counts, h, w):
    runs, i, prev = [], 0, 0
    while i < len(counts):
        x, k, more = 0, 0, True
        while more:
            c = ord(counts[i]) - 48
            x |= (c & 0x1f) << (5 * k)
            more = bool(c & 0x20)
            i += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(runs) > 2:
            x += runs[-2]
        runs.append(x)
    flat = np.zeros(h * w, dtype=bool)
    pos, val = 0, False
    for r in runs:
        flat[pos:pos + r] = val
        pos += r
        val = not val
    return flat.reshape(w, h).T


def encode(mask):
    flat = np.asarray(mask, dtype=bool).T.reshape(-1)
    change = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = list(np.diff(bounds))
    if flat.size and flat[0]:
        runs = [0] + runs
    out = []
    for i, x in enumerate(runs):
        x = int(x)
        if i > 2:
            x -= int(runs[i - 2])
        more = True
        while more:
            c = x & 0x1f
            x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)
