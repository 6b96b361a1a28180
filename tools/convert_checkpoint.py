#!/usr/bin/python3
"""Converts a PyTorch NaLaFormer checkpoint (.pth/.pt) to safetensors for nala.

    convert_checkpoint.py IN.pth OUT.safetensors [--dtype f32|f16|bf16] [--variant xt|t|s|b|l]
                          [--config MODEL.json] [--init-extra-norms] [--unsafe-pickle]
    convert_checkpoint.py IN.pth|IN.safetensors --list [--variant V]

Accepts a bare state_dict, {'state_dict': ...} (mmdet/mmseg) or {'model': ...} (official
classification training). Keys get the `backbone.` prefix unless they already start with one of
backbone./neck./decode_head./roi_head./rpn_head./bbox_head./auxiliary_head.; a DDP `module.`
prefix is removed first. mmseg checkpoints (UperNet, Semantic FPN) go through unchanged:
backbone.*, neck.*, decode_head.* are kept as they are; auxiliary_head.* (the training-only FCNHead)
is dropped with one notice. With --config (a nala JSON config of an EncoderDecoder) every kept key
and shape is checked against that model: all missing, unexpected and wrong-shape keys are named in
one error. BatchNorm num_batches_tracked buffers are dropped; RoPE.angle buffers are
kept (checked against NALA.py's formula, always stored F32). A classification checkpoint (top-level proj/norm/head)
has its classifier keys dropped and lacks the dense extra_norms: that is an error unless
--init-extra-norms is given (weight 1, bias 0). The output is written atomically.
Exit codes: 0 success, 1 bad or unreadable checkpoint, 2 bad arguments.
"""
import argparse
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "reference"))
import safetensors_io  # noqa: E402

KEPT_PREFIXES = ("backbone.", "neck.", "decode_head.", "roi_head.", "rpn_head.", "bbox_head.",
                 "auxiliary_head.")
CLASSIFIER_RE = re.compile(r"^(proj|norm|head)\.")
STORE_DTYPES = {"f32": "F32", "f16": "F16", "bf16": "BF16"}


class ConvertError(Exception):
    """Bad checkpoint content; the message names the file and key."""


def load_checkpoint(path, unsafe_pickle):
    import torch
    try:
        if unsafe_pickle:
            obj = torch.load(path, map_location="cpu")
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ConvertError(f"{path}: no such file") from None
    except Exception as e:  # torch raises many types for corrupt or non-tensor pickles
        hint = "" if unsafe_pickle else (" (if the file holds non-tensor objects and you trust it, "
                                         "retry with --unsafe-pickle)")
        raise ConvertError(f"{path}: cannot load checkpoint: {e}{hint}") from None
    return obj


def find_state_dict(path, obj):
    """The tensor dict inside a checkpoint object, and where it was found."""
    if isinstance(obj, dict):
        for wrapper in ("state_dict", "model"):
            if wrapper in obj and isinstance(obj[wrapper], dict):
                return obj[wrapper], f"['{wrapper}']"
        if obj and all(hasattr(v, "shape") for v in obj.values()):
            return obj, "top level (bare state_dict)"
        names = ", ".join(list(map(str, obj.keys()))[:8])
        raise ConvertError(f"{path}: no state_dict found: expected a dict of tensors, "
                           f"{{'state_dict': ...}} or {{'model': ...}}; top-level keys are: {names}")
    raise ConvertError(f"{path}: checkpoint is a {type(obj).__name__}, not a dict")


def to_numpy(path, key, value):
    if not hasattr(value, "detach"):
        raise ConvertError(f"{path}: key '{key}' holds a {type(value).__name__}, not a tensor")
    value = value.detach().cpu()
    if value.is_floating_point():
        return value.float().numpy()  # F64 narrows, F16/BF16 widen exactly
    return value.numpy()


def rename_and_filter(path, state, init_extra_norms, log, require_extra_norms=True):
    """Applies prefixing and dropping rules; returns an ordered {key: numpy array}."""
    keys = list(state.keys())
    if keys and all(k.startswith("module.") for k in keys):
        log(f"removed the DDP prefix 'module.' from {len(keys)} keys")
        state = {k[len("module."):]: v for k, v in state.items()}
    out = {}
    dropped_nbt = 0
    aux = [k for k in state if k.startswith("auxiliary_head.")]
    if aux:
        log(f"dropped {len(aux)} auxiliary_head.* keys (mmseg's training-only auxiliary head, unused at test time)")
    classifier = [k for k in state if CLASSIFIER_RE.match(k)]
    if classifier:
        log(f"classification checkpoint: dropped {len(classifier)} classifier keys "
            f"({', '.join(sorted(classifier))})")
    for key, value in state.items():
        if key.endswith(".num_batches_tracked"):
            dropped_nbt += 1
            continue
        if key in classifier or key.startswith("auxiliary_head."):
            continue
        name = key if key.startswith(KEPT_PREFIXES) else "backbone." + key
        out[name] = to_numpy(path, key, value)
    log(f"dropped {dropped_nbt} BatchNorm num_batches_tracked buffers")
    stages = sorted({int(m.group(1)) for k in out for m in [re.match(r"backbone\.layers\.(\d+)\.", k)] if m})
    has_extra = any(k.startswith("backbone.extra_norms.") for k in out)
    if stages and not has_extra and (require_extra_norms or init_extra_norms):
        if not init_extra_norms:
            raise ConvertError(
                f"{path}: no backbone.extra_norms.* keys: this is a classification checkpoint without the "
                "dense-prediction output norms. Fine-tuned mmdet/mmseg checkpoints have them; to start "
                "from this one anyway pass --init-extra-norms (weight 1, bias 0)")
        for i in stages:
            norm_key = f"backbone.layers.{i}.blocks.0.norm1.norm.weight"
            if norm_key not in out:
                raise ConvertError(f"{path}: --init-extra-norms needs '{norm_key}' to know stage {i}'s width")
            dim = out[norm_key].shape[0]
            out[f"backbone.extra_norms.{i}.norm.weight"] = np.ones(dim, np.float32)
            out[f"backbone.extra_norms.{i}.norm.bias"] = np.zeros(dim, np.float32)
        log(f"initialised extra_norms.0..{stages[-1]} to weight 1, bias 0 (--init-extra-norms)")
    return out


def check_rope(path, tensors, log):
    from seeded_init import rope_angle
    for key, value in tensors.items():
        if key.endswith(".RoPE.angle"):
            expected = rope_angle(value.size * 2).numpy()
            if value.shape != expected.shape or not np.array_equal(value, expected):
                diff = float(np.max(np.abs(value.ravel() - expected.ravel()))) \
                    if value.shape == expected.shape else float("nan")
                log(f"warning: '{key}' differs from NALA.py's RoPE formula (max abs diff {diff:.3g}); kept as stored")


def state_shapes(model):
    """key -> shape of a torch model's state dict, without BatchNorm's num_batches_tracked."""
    return {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.endswith(".num_batches_tracked")}


def compare_keys(path, expected, have, what, needs):
    """Raises ConvertError naming every key missing from have, extra in it or of another shape than in
    expected (both key -> shape); what names the model ("variant 'xt'"), needs starts a wanted shape."""
    missing = sorted(set(expected) - set(have))
    unexpected = sorted(set(have) - set(expected))
    wrong = sorted(k for k in set(have) & set(expected) if have[k] != expected[k])
    lines = [f"missing: {k} {list(expected[k])}" for k in missing]
    lines += [f"unexpected: {k} {list(have[k])}" for k in unexpected]
    lines += [f"wrong shape: {k} is {list(have[k])}, {needs} {list(expected[k])}" for k in wrong]
    if lines:
        raise ConvertError(f"{path}: does not match {what} ({len(missing)} missing, {len(unexpected)} "
                           f"unexpected, {len(wrong)} wrong shape):\n  " + "\n  ".join(lines))
    return len(expected)


def check_variant(path, tensors, variant):
    """Compares backbone.* keys and shapes with the reference model of variant; raises on mismatch."""
    import nalaformer_ref
    have = {k: tuple(v.shape) for k, v in tensors.items() if k.startswith("backbone.")}
    return compare_keys(path, state_shapes(nalaformer_ref.build(variant)), have, f"variant '{variant}'",
                        f"variant {variant} needs")


def check_config(path, tensors, config):
    """Compares every key and shape with the model of a nala/mmseg config; raises naming them all."""
    import mmseg_ref
    cfg = mmseg_ref.load_config(config)["model"]
    cfg = {k: v for k, v in cfg.items() if k != "auxiliary_head"}
    model = mmseg_ref.build_segmentor(cfg, seed=None)
    have = {k: tuple(v.shape) for k, v in tensors.items()}
    return compare_keys(path, state_shapes(model), have, config, "the config needs")


def list_tensors(tensors, dtypes):
    for key, value in tensors.items():
        print(f"{key}\t{dtypes.get(key, str(value.dtype))}\t{list(value.shape)}")
    print(f"{len(tensors)} tensors, {sum(v.size for v in tensors.values())} elements")


def parse_args(argv):
    p = argparse.ArgumentParser(description="Convert a NaLaFormer .pth/.pt checkpoint to safetensors.")
    p.add_argument("input", help=".pth/.pt checkpoint (or .safetensors with --list)")
    p.add_argument("output", nargs="?", help="output .safetensors (not with --list)")
    p.add_argument("--dtype", choices=sorted(STORE_DTYPES), default="f32", help="stored float dtype (default f32)")
    p.add_argument("--variant", choices=["xt", "t", "s", "b", "l"], help="check keys and shapes against a variant")
    p.add_argument("--config", help="nala JSON config (e.g. configs/upernet_nalaformer-t_512x512_ade20k.json): "
                   "check every key and shape against its model")
    p.add_argument("--init-extra-norms", action="store_true",
                   help="classification checkpoint: create extra_norms with weight 1, bias 0")
    p.add_argument("--list", action="store_true", help="print key, dtype and shape of every tensor")
    p.add_argument("--unsafe-pickle", action="store_true",
                   help="full unpickling (only for trusted files holding non-tensor objects)")
    args = p.parse_args(argv)
    if args.list == (args.output is not None):
        p.print_usage(sys.stderr)
        print("convert_checkpoint.py: error: give OUTPUT, or --list without OUTPUT", file=sys.stderr)
        sys.exit(2)
    return args


def main(argv=None):
    args = parse_args(argv)

    def log(msg):
        print(f"convert_checkpoint: {msg}", file=sys.stderr)

    try:
        if args.list and args.input.endswith(".safetensors"):
            tensors, _, dtypes = safetensors_io.load(args.input, want_metadata=True)
        else:
            obj = load_checkpoint(args.input, args.unsafe_pickle)
            state, where = find_state_dict(args.input, obj)
            log(f"{args.input}: {len(state)} entries at {where}")
            if args.list:
                tensors = {k: to_numpy(args.input, k, v) for k, v in state.items()}
                dtypes = {k: str(v.dtype).replace("torch.", "") for k, v in state.items()}
            else:
                tensors = rename_and_filter(args.input, state, args.init_extra_norms, log)
                check_rope(args.input, tensors, log)
        if args.list:
            list_tensors(tensors, dtypes)
        if args.variant:
            if args.list and not args.input.endswith(".safetensors"):
                tensors = rename_and_filter(args.input, state, args.init_extra_norms, log, require_extra_norms=False)
            n = check_variant(args.input, tensors, args.variant)
            log(f"all {n} backbone keys and shapes match variant '{args.variant}'")
        if args.config:
            if args.list and not args.input.endswith(".safetensors"):
                tensors = rename_and_filter(args.input, state, args.init_extra_norms, log, require_extra_norms=False)
            n = check_config(args.input, tensors, args.config)
            log(f"all {n} keys and shapes match {args.config}")
        if args.list:
            return 0
        store = STORE_DTYPES[args.dtype]
        # RoPE.angle is a computed buffer that loaders verify against the formula: narrowing it
        # to F16/BF16 would make a correct checkpoint fail that check, so it stays F32.
        dtypes = {k: ("F32" if k.endswith(".RoPE.angle") else store) if v.dtype.kind == "f" else "I64"
                  for k, v in tensors.items()}
        tensors = {k: (v if v.dtype.kind == "f" else v.astype(np.int64)) for k, v in tensors.items()}
        metadata = {"format": "pt", "source": os.path.basename(args.input),
                    "converter": "tools/convert_checkpoint.py", "dtype": store}
        safetensors_io.save(args.output, tensors, metadata, dtypes)
        log(f"wrote {len(tensors)} tensors ({store}) to {args.output}")
        return 0
    except (ConvertError, safetensors_io.SafetensorsError, OSError) as e:
        print(f"convert_checkpoint: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
