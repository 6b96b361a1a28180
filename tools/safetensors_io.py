"""Tiny safetensors reader/writer (numpy only; Debian ships no `safetensors` package).

Format: 8-byte little-endian header length n, n bytes of JSON
{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}},
then the data block (offsets relative to it). We pad the header with spaces so the data
block is 8-byte aligned, as the reference implementation does, so a C reader can mmap it
and read F32/F64/I64 in place.

Supported dtypes: F32, F16, BF16, F64, I64, I32, U8 (read and write). numpy has no bfloat16, so BF16
tensors are read as float32 (exact) and written from float32 with round-to-nearest-even,
the rounding torch's .to(torch.bfloat16) uses.
"""
import json
import os
import struct
import tempfile

import numpy as np

_NP_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8}
_ITEMSIZE = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "U8": 1}


class SafetensorsError(ValueError):
    """Malformed file or unsupported request; the message names the file and tensor."""


def f32_to_bf16_bits(values):
    """float32 array -> uint16 bfloat16 bit patterns, round to nearest even; NaN stays NaN."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    is_nan = np.isnan(np.asarray(values, dtype=np.float32))
    # A quiet NaN keeps the sign and sets the top mantissa bit so truncation cannot make it Inf.
    rounded = np.where(is_nan, (bits >> 16) | 0x40, rounded)
    return rounded.astype(np.uint16)


def bf16_bits_to_f32(bits):
    """uint16 bfloat16 bit patterns -> float32 (exact)."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def _encode(name, array, dtype):
    array = np.asarray(array)
    if dtype is None:
        for st_name, np_type in _NP_DTYPES.items():
            if array.dtype == np_type:
                dtype = st_name
                break
        else:
            raise SafetensorsError(f"tensor '{name}': numpy dtype {array.dtype} has no safetensors "
                                   "mapping; pass dtype= (F32, F16, BF16, F64, I64)")
    if dtype == "BF16":
        raw = f32_to_bf16_bits(array.astype(np.float32)).astype("<u2")
        narrowed = bf16_bits_to_f32(raw)
    elif dtype in _NP_DTYPES:
        with np.errstate(over="ignore"):
            raw = array.astype(np.dtype(_NP_DTYPES[dtype]).newbyteorder("<"))
        narrowed = raw
    else:
        raise SafetensorsError(f"tensor '{name}': unsupported dtype '{dtype}'")
    if dtype in ("F16", "BF16", "F32") and array.dtype.kind == "f":
        # A finite weight that overflows the narrower type would silently become Inf.
        overflow = np.isfinite(array) & ~np.isfinite(narrowed)
        if overflow.any():
            index = np.unravel_index(int(np.argmax(overflow)), array.shape)
            raise SafetensorsError(f"tensor '{name}': value {array[index]!r} at index {list(index)} "
                                   f"overflows {dtype}")
    return dtype, np.ascontiguousarray(raw).tobytes()


def save(path, tensors, metadata=None, dtypes=None):
    """Writes tensors (name -> numpy array or torch tensor, order kept) to path atomically.

    dtypes: optional name -> "F32"/"F16"/"BF16"/"F64"/"I64" to store a tensor in another
    dtype than its own. metadata: str -> str, stored in "__metadata__".
    """
    dtypes = dtypes or {}
    header = {}
    if metadata:
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise SafetensorsError(f"{path}: metadata '{key}' must map str to str")
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for name, value in tensors.items():
        if name == "__metadata__":
            raise SafetensorsError(f"{path}: '__metadata__' is not a legal tensor name")
        if hasattr(value, "detach"):  # torch tensor without importing torch here
            value = value.detach().cpu()
            if str(value.dtype) == "torch.bfloat16":
                value = value.float()
            value = value.numpy()
        array = np.asarray(value)
        dtype, raw = _encode(name, array, dtypes.get(name))
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * ((8 - (8 + len(header_bytes)) % 8) % 8)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=directory)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; fixtures and weights are meant to be shared
        with os.fdopen(fd, "wb") as out:
            out.write(struct.pack("<Q", len(header_bytes)))
            out.write(header_bytes)
            for raw in blobs:
                out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
        raise


def load(path, want_metadata=False):
    """Reads path -> {name: numpy array} in header order (BF16 decoded to float32).

    With want_metadata=True returns (tensors, metadata, dtypes) where dtypes holds each
    tensor's stored dtype name.
    """
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise SafetensorsError(f"{path}: {len(data)} bytes, shorter than the 8-byte header length")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > len(data) - 8:
        raise SafetensorsError(f"{path}: header length {header_len} exceeds file size {len(data)}")
    try:
        header = json.loads(data[8:8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{path}: header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    metadata = header.pop("__metadata__", {}) or {}
    body = memoryview(data)[8 + header_len:]
    tensors, dtypes = {}, {}
    for name, info in header.items():
        try:
            dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError(f"{path}: tensor '{name}': needs dtype, shape, data_offsets") from None
        if dtype not in _ITEMSIZE:
            raise SafetensorsError(f"{path}: tensor '{name}': unsupported dtype '{dtype}'")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not (0 <= begin <= end <= len(body)) or end - begin != count * _ITEMSIZE[dtype]:
            raise SafetensorsError(f"{path}: tensor '{name}': data_offsets [{begin}, {end}] do not fit "
                                   f"shape {shape} {dtype} in a {len(body)}-byte data block")
        raw = bytes(body[begin:end])
        if dtype == "BF16":
            array = bf16_bits_to_f32(np.frombuffer(raw, dtype="<u2"))
        else:
            array = np.frombuffer(raw, dtype=np.dtype(_NP_DTYPES[dtype]).newbyteorder("<"))
            array = array.astype(_NP_DTYPES[dtype])
        tensors[name] = array.reshape(shape)
        dtypes[name] = dtype
    if want_metadata:
        return tensors, metadata, dtypes
    return tensors
