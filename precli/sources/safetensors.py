"""safetensors files, single and sharded, read with our own header parser over mmap.

Layout (huggingface/safetensors ``safetensors/src/tensor.rs``): an 8-byte little-endian
header length N (at most 100,000,000), N bytes of UTF-8 JSON (space-padded), then the data
section. Each JSON entry maps a tensor name to ``{"dtype", "shape", "data_offsets": [begin,
end)}``, offsets relative to the data section; sorted by offset, the tensors must be
contiguous (no hole, no overlap) and end exactly at the end of the file; each tensor's
byte count is ``numel * bits / 8`` and must be a whole number of bytes (F4 is 4 bits,
F6_E2M3 / F6_E3M2 are 6 bits). An optional ``"__metadata__"`` maps strings to strings.

The ``safetensors`` package is only this module's test oracle: its numpy loader cannot
return BF16, FP8, FP6 or FP4 arrays.

Sharded models: a directory holding ``*.safetensors.index.json``, or that file itself:
``{"metadata": {...}, "weight_map": {tensor: shard file}}``. Every shard is opened and
checked; a missing or damaged shard, a tensor the index maps to a shard that does not hold
it, or a tensor found in a shard the index does not map it to, is one error in
``Checkpoint.errors``; the healthy tensors are still listed.
"""

from __future__ import annotations

import json
import os
from typing import Any

from precli.sources.base import Checkpoint, CheckpointError, Tensor
from precli.sources.read import element_reader

MAX_HEADER = 100_000_000

# stored dtype -> (bits per element, precli format, skip reason)
DTYPES: dict[str, tuple[int, str | None, str | None]] = {
    "F64": (64, "fp64", None),
    "F32": (32, "fp32", None),
    "F16": (16, "fp16", None),
    "BF16": (16, "bf16", None),
    "F8_E4M3": (8, "e4m3fn", None),
    "F8_E5M2": (8, "e5m2", None),
    "F8_E4M3FNUZ": (8, "e4m3fnuz", None),
    "F8_E5M2FNUZ": (8, "e5m2fnuz", None),
    "F8_E8M0": (8, "e8m0fnu", None),
    "F6_E2M3": (6, "e2m3fn", None),
    "F6_E3M2": (6, "e3m2fn", None),
    "F4": (4, "e2m1fn", None),
    **{f"I{b}": (b, f"int{b}", f"integer tensor (I{b})") for b in (8, 16, 32, 64)},
    **{f"U{b}": (b, f"uint{b}", f"integer tensor (U{b})") for b in (8, 16, 32, 64)},
    "BOOL": (8, None, "bool mask"),
    "C64": (64, None, "complex tensor (C64)"),
}


def open_file(path: str) -> Checkpoint:
    meta, tensors = read_file(path)
    return Checkpoint(path, "safetensors", meta, tensors)


def read_file(path: str) -> tuple[dict[str, str], list[Tensor]]:
    """Parse and validate one safetensors file: its metadata and tensors in file order."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(8)
            if len(head) < 8:
                raise CheckpointError(path, f"file is {size} bytes: too short for the 8-byte "
                                      "header length (truncated?)")
            n = int.from_bytes(head, "little")
            if n > MAX_HEADER:
                raise CheckpointError(path, f"header length {n:,} exceeds the safetensors "
                                      f"limit of {MAX_HEADER:,} bytes (not a safetensors file, "
                                      "or damaged)")
            if 8 + n > size:
                raise CheckpointError(path, f"header length {n:,} runs past the end of the "
                                      f"file ({size:,} bytes; truncated?)")
            text = f.read(n)
    except OSError as e:
        raise CheckpointError(path, f"cannot read ({e.strerror or e})") from None
    header = _parse_json(path, text)
    data_start = 8 + n
    return _metadata(path, header), _tensors(path, header, data_start, size - data_start)


def _parse_json(path: str, text: bytes) -> dict[str, Any]:
    try:
        s = text.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CheckpointError(path, f"header is not UTF-8 (byte {e.start + 8})") from None

    def pairs(kv: list[tuple[str, Any]]) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for k, v in kv:
            if k in d:
                raise _Duplicate(k)
            d[k] = v
        return d

    try:
        obj = json.loads(s, object_pairs_hook=pairs)
    except _Duplicate as e:
        raise CheckpointError(path, "appears twice in the header", e.args[0]) from None
    except json.JSONDecodeError as e:
        raise CheckpointError(path, f"header is not valid JSON ({e.msg} at line {e.lineno} "
                              f"column {e.colno})") from None
    except RecursionError:
        raise CheckpointError(path, "header is not valid JSON (nested too deeply)") from None
    if not isinstance(obj, dict):
        raise CheckpointError(path, f"header is JSON {type(obj).__name__}, not an object")
    return obj


class _Duplicate(Exception):
    pass


def _metadata(path: str, header: dict[str, Any]) -> dict[str, str]:
    meta = header.get("__metadata__")
    if meta is None:
        return {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise CheckpointError(path, "__metadata__ must map strings to strings")
    return dict(meta)


def _tensors(path: str, header: dict[str, Any], data_start: int,
             data_size: int) -> list[Tensor]:
    entries = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        entries.append(_entry(path, name, info))
    entries.sort(key=lambda e: (e[3], e[4]))
    out: list[Tensor] = []
    prev: tuple[str, int, int] | None = None
    end = 0
    for name, dtype, shape, b, e in entries:
        span = f"offsets [{b}, {e})"
        if e < b:
            raise CheckpointError(path, f"{span} end before they begin", name)
        if b < end:
            assert prev is not None
            raise CheckpointError(path, f"{span} overlap tensor {prev[0]!r} "
                                  f"([{prev[1]}, {prev[2]}))", name)
        if b > end:
            after = f"after tensor {prev[0]!r}" if prev else "at the start of the data"
            raise CheckpointError(path, f"{span} leave a hole of {b - end} byte(s) {after}",
                                  name)
        if e > data_size:
            raise CheckpointError(path, f"{span} run past the data ({data_size} bytes; "
                                  "truncated?)", name)
        bits, fmt, skip = DTYPES[dtype]
        numel = 1
        for d in shape:
            numel *= d
        if numel * bits % 8:
            raise CheckpointError(path, f"shape {list(shape)} holds {numel} {dtype} "
                                  f"elements of {bits} bits: not a whole number of bytes", name)
        need = numel * bits // 8
        if e - b != need:
            raise CheckpointError(path, f"shape {list(shape)} of {dtype} needs {need} bytes "
                                  f"but {span} hold {e - b}", name)
        reader_fmt = "bool" if dtype == "BOOL" else fmt if dtype != "C64" else None
        reader = element_reader(path, data_start + b, reader_fmt, e - b)
        out.append(Tensor(name, dtype, tuple(shape), fmt, skip, e - b, path, reader))
        prev, end = (name, b, e), e
    if end != data_size:
        raise CheckpointError(path, f"{data_size - end} byte(s) after the last tensor: the "
                              f"offsets cover {end} of the data's {data_size} bytes")
    return out


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _entry(path: str, name: str, info: Any) -> tuple[str, str, tuple[int, ...], int, int]:
    if not isinstance(info, dict):
        raise CheckpointError(path, f"entry is JSON {type(info).__name__}, not an object "
                              "with dtype, shape and data_offsets", name)
    for key in ("dtype", "shape", "data_offsets"):
        if key not in info:
            raise CheckpointError(path, f"entry has no {key!r}", name)
    dtype = info["dtype"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise CheckpointError(path, f"unknown dtype {dtype!r} (safetensors dtypes: "
                              f"{', '.join(DTYPES)})", name)
    shape = info["shape"]
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise CheckpointError(path, f"shape {json.dumps(shape)} is not a list of "
                              "non-negative integers", name)
    offs = info["data_offsets"]
    if not (isinstance(offs, list) and len(offs) == 2 and all(_is_int(o) and o >= 0
                                                              for o in offs)):
        raise CheckpointError(path, f"data_offsets {json.dumps(offs)} is not a pair of "
                              "non-negative integers", name)
    return name, dtype, tuple(shape), offs[0], offs[1]


# ------------------------------------------------------------------------------ sharded


def open_sharded(path: str) -> Checkpoint:
    """A sharded model: a directory holding one ``*.safetensors.index.json``, or that file.
    A directory with no index but exactly one ``.safetensors`` file opens that file."""
    if os.path.isdir(path):
        names = sorted(os.listdir(path))
        index = [n for n in names if n.endswith(".safetensors.index.json")]
        if len(index) > 1:
            raise CheckpointError(path, f"holds {len(index)} index files "
                                  f"({', '.join(index)}): pass one of them")
        if not index:
            files = [n for n in names if n.endswith(".safetensors")]
            if len(files) == 1:
                return open_file(os.path.join(path, files[0]))
            what = (f"{len(files)} .safetensors files" if files else "no .safetensors file")
            raise CheckpointError(path, f"is a directory with {what} and no "
                                  "*.safetensors.index.json")
        path = os.path.join(path, index[0])
    return _open_index(path)


def _open_index(path: str) -> Checkpoint:
    try:
        size = os.path.getsize(path)
        if size > MAX_HEADER:
            raise CheckpointError(path, f"index is {size:,} bytes (over the "
                                  f"{MAX_HEADER:,}-byte limit)")
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        raise CheckpointError(path, f"cannot read ({e.strerror or e})") from None
    index = _parse_json(path, text)
    wmap = index.get("weight_map")
    if not isinstance(wmap, dict) or not all(isinstance(v, str) for v in wmap.values()):
        raise CheckpointError(path, "index has no \"weight_map\" mapping tensor names to "
                              "shard files")
    meta_raw = index.get("metadata") or {}
    meta = ({str(k): v if isinstance(v, str) else json.dumps(v) for k, v in meta_raw.items()}
            if isinstance(meta_raw, dict) else {})
    base = os.path.dirname(os.path.abspath(path))
    shards: dict[str, list[str]] = {}
    for tname, shard in wmap.items():
        shards.setdefault(shard, []).append(tname)
    errors: list[CheckpointError] = []
    found: dict[str, Tensor] = {}
    for shard, mapped_here in shards.items():
        if "\x00" in str(shard):  # no file is called that: os would raise ValueError
            errors.append(CheckpointError(path, f"shard name {shard!r} holds a NUL byte; it "
                                          f"maps {len(mapped_here)} tensor(s)", mapped_here[0]))
            continue
        spath = os.path.join(os.path.dirname(path), shard)
        real = os.path.realpath(os.path.join(base, shard))
        if os.path.isabs(shard) or os.path.commonpath([real, os.path.realpath(base)]) != \
                os.path.realpath(base):
            errors.append(CheckpointError(path, f"shard {shard!r} is outside the index's "
                                          f"directory (refused); it maps {len(mapped_here)} "
                                          "tensor(s)", mapped_here[0]))
            continue
        if not os.path.isfile(spath):
            errors.append(CheckpointError(path, f"shard {shard!r} is missing; it holds "
                                          f"{len(mapped_here)} tensor(s) of the index",
                                          mapped_here[0]))
            continue
        try:
            _, tensors = read_file(spath)
        except CheckpointError as e:
            errors.append(e)
            continue
        here = set(mapped_here)
        held = set()
        for t in tensors:
            held.add(t.name)
            if t.name in here:
                found[t.name] = t
            elif t.name in wmap:
                errors.append(CheckpointError(spath, f"is also in this shard; the index "
                                              f"maps it to {wmap[t.name]!r}", t.name))
            else:
                errors.append(CheckpointError(spath, "is in this shard but not in the "
                                              "index's weight_map", t.name))
        for tname in mapped_here:
            if tname not in held:
                errors.append(CheckpointError(spath, "is mapped to this shard by the index "
                                              "but the shard does not hold it", tname))
    ordered = [found[t] for t in wmap if t in found]
    return Checkpoint(path, "safetensors-sharded", meta, ordered, errors)
