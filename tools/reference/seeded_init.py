"""Seeded weights: the shared spec implemented identically in C (core/seeded_init.c).

Per tensor a splitmix64 stream with state0 = seed XOR fnv1a64(key bytes); element i (row-major)
= float32(lo + (hi - lo) * u_i), u_i = (next() >> 40) * 2^-24, in double, rounded once.
Ranges by key, first matching rule wins:
  .running_var [0.5, 2]; .running_mean [-0.2, 0.2]; .gamma_1/.gamma_2 [0.2, 1];
  .weight 1-D [0.5, 1.5]; .bias [-0.1, 0.1]; .weight ndim>=2 [-s, s], s = 1/sqrt(fan_in),
  fan_in = prod(shape[1:]); anything else is an error.
Not generated: *.RoPE.angle (computed as PyTorch does) and *.num_batches_tracked.

The stream is vectorised: splitmix64's state after i+1 calls is state0 + (i+1) * golden
(mod 2^64), so every element's state is known without iterating.
"""
import math

import numpy as np

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def fnv1a64(data):
    """FNV-1a 64-bit of bytes (or a str, encoded as UTF-8)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & MASK64
    return h


def splitmix64_outputs(state0, count):
    """The first `count` next() outputs of splitmix64 started at state0, as uint64."""
    with np.errstate(over="ignore"):
        steps = np.arange(1, count + 1, dtype=np.uint64)
        z = np.uint64(state0 & MASK64) + steps * np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def value_range(key, shape):
    """(lo, hi) of a generated tensor, or None when the key is computed or skipped."""
    if key.endswith(".RoPE.angle") or key.endswith(".num_batches_tracked"):
        return None
    if key.endswith(".running_var"):
        return 0.5, 2.0
    if key.endswith(".running_mean"):
        return -0.2, 0.2
    if key.endswith(".gamma_1") or key.endswith(".gamma_2"):
        return 0.2, 1.0
    if key.endswith(".weight") and len(shape) == 1:
        return 0.5, 1.5
    if key.endswith(".bias"):
        return -0.1, 0.1
    if key.endswith(".weight") and len(shape) >= 2:
        fan_in = int(np.prod(shape[1:], dtype=np.int64))
        s = 1.0 / math.sqrt(float(fan_in))
        return -s, s
    raise KeyError(f"seeded_init: no range rule for key '{key}' (shape {list(shape)})")


def generate(key, shape, seed=0):
    """float32 numpy array of the given shape for key (must have a range rule)."""
    lo_hi = value_range(key, shape)
    if lo_hi is None:
        raise KeyError(f"seeded_init: key '{key}' is computed or skipped, not generated")
    lo, hi = lo_hi
    count = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
    state0 = (seed & MASK64) ^ fnv1a64(key)
    raw = splitmix64_outputs(state0, count)
    u = (raw >> np.uint64(40)).astype(np.float64) * (2.0 ** -24)
    # Two separately rounded double operations, as C without FMA contraction computes them.
    values = np.float64(lo) + np.float64(hi - lo) * u
    return values.astype(np.float32).reshape(shape)


def rope_angle(head_dim):
    """The RoPE.angle buffer exactly as NALA.py's RoPE computes it (float32)."""
    import torch
    angle = 1.0 / (10000 ** torch.linspace(0, 1, head_dim // 4))
    return angle.unsqueeze(-1).repeat(1, 2).flatten()


def seeded_state_dict(module, seed=0):
    """Seeded values for every key of module.state_dict() (float32 torch tensors).

    RoPE.angle buffers are recomputed (and checked against the module's), num_batches_tracked
    is kept as the module has it.
    """
    import torch
    out = {}
    for key, ref in module.state_dict().items():
        if key.endswith(".num_batches_tracked"):
            out[key] = ref.clone()
        elif key.endswith(".RoPE.angle"):
            angle = rope_angle(ref.numel() * 2)
            if not torch.equal(angle.to(ref.dtype), ref):
                raise ValueError(f"seeded_init: '{key}' differs from the recomputed RoPE angle")
            out[key] = angle
        else:
            out[key] = torch.from_numpy(generate(key, tuple(ref.shape), seed))
    return out


def apply_seeded(module, seed=0):
    """Loads seeded weights into module in place (strict); returns module."""
    module.load_state_dict(seeded_state_dict(module, seed), strict=True)
    return module
