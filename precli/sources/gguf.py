"""GGUF files (llama.cpp / ggml), read with our own header parser over mmap.

Layout (ggml-org/ggml ``docs/gguf.md``), all little-endian: magic ``GGUF``; uint32 version
(2 and 3 are read; 1 used 32-bit counts and is refused, as is anything newer); uint64
tensor count; uint64 metadata count; the metadata key/values (a string is a uint64 length
and UTF-8 bytes; value types 0-12, arrays hold a uint32 type, a uint64 count and the
items); the tensor infos (name, uint32 n_dims, n_dims uint64 dims innermost-first, uint32
ggml type, uint64 offset); padding to ``general.alignment`` (default 32); the data. Tensor
offsets are relative to the data section and multiples of the alignment.

Every count, length and offset is checked against the file size before it is trusted: the
file may be hostile. Shapes are reported in numpy order (the dims reversed). F32, F16,
BF16 and F64 tensors are readable, and so are the quantized block types of :data:`DECODED`
(the legacy Q4_0 ... Q8_0, the K types Q2_K ... Q6_K, the ternary TQ1_0 / TQ2_0, the IQ
types IQ1_S ... IQ4_XS, MXFP4 and NVFP4: every type the ``gguf`` package dequantizes),
decoded by :mod:`precli.sources.ggml_quants` bit for bit as ggml dequantizes them; other
quantized types (Q8_1, Q8_K, Q1_0, newer ids) are listed with their type name and skipped.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from precli.array.views import last_axis
from precli.sources.base import Checkpoint, CheckpointError, Tensor
from precli.sources.read import Reader, element_reader, mapped

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

VERSIONS = (2, 3)
MAX_DIMS = 4  # GGML_MAX_DIMS
DEFAULT_ALIGNMENT = 32

# ggml type id -> (name, elements per block, bytes per block)  (gguf.md / ggml.h)
QK_K = 256
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 2 + 16),
    3: ("Q4_1", 32, 2 + 2 + 16),
    6: ("Q5_0", 32, 2 + 4 + 16),
    7: ("Q5_1", 32, 2 + 2 + 4 + 16),
    8: ("Q8_0", 32, 2 + 32),
    9: ("Q8_1", 32, 4 + 4 + 32),
    10: ("Q2_K", QK_K, 2 + 2 + QK_K // 16 + QK_K // 4),
    11: ("Q3_K", QK_K, 2 + QK_K // 4 + QK_K // 8 + 12),
    12: ("Q4_K", QK_K, 2 + 2 + QK_K // 2 + 12),
    13: ("Q5_K", QK_K, 2 + 2 + QK_K // 2 + QK_K // 8 + 12),
    14: ("Q6_K", QK_K, 2 + QK_K // 2 + QK_K // 4 + QK_K // 16),
    15: ("Q8_K", QK_K, 4 + QK_K + QK_K // 8),
    16: ("IQ2_XXS", QK_K, 2 + QK_K // 4),
    17: ("IQ2_XS", QK_K, 2 + QK_K // 4 + QK_K // 32),
    18: ("IQ3_XXS", QK_K, 2 + QK_K // 4 + QK_K // 8),
    19: ("IQ1_S", QK_K, 2 + QK_K // 8 + QK_K // 16),
    20: ("IQ4_NL", 32, 2 + 16),
    21: ("IQ3_S", QK_K, 2 + QK_K // 4 + QK_K // 8 + QK_K // 32 + 4),
    22: ("IQ2_S", QK_K, 2 + QK_K // 4 + QK_K // 16),
    23: ("IQ4_XS", QK_K, 2 + 2 + QK_K // 2 + QK_K // 64),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", QK_K, QK_K // 8 + QK_K // 16 + QK_K // 32),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", QK_K, 2 + 4 * 13),
    35: ("TQ2_0", QK_K, 2 + 64),
    39: ("MXFP4", 32, 1 + 16),
    40: ("NVFP4", 64, 4 + 32),
    41: ("Q1_0", 128, 2 + 16),
}
_PLAIN = {"F32": "fp32", "F16": "fp16", "BF16": "bf16", "F64": "fp64",
          "I8": "int8", "I16": "int16", "I32": "int32", "I64": "int64"}

#: llama.cpp's ``LLAMA_FTYPE_*`` (the ``general.file_type`` value) -> the name llama.cpp
#: gives it: ``gguf.LlamaFileType``'s member names without ``ALL_`` / ``MOSTLY_`` (ids 4-6,
#: long removed from llama.cpp, are absent there too). Copied as data: ``gguf`` is a dev
#: dependency only; tests/test_gguf_summary.py checks the table against it.
FILE_TYPES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
    10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
    16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S",
    22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M",
    28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0",
    37: "TQ2_0", 38: "MXFP4_MOE", 39: "NVFP4", 40: "Q1_0",
}  # fmt: skip
#: ``LLAMA_FTYPE_GUESSED``: a flag llama.cpp ors into a file type it guessed
FILE_TYPE_GUESSED = 1024


def file_type_name(value: str) -> str:
    """The name of a ``general.file_type`` value as :attr:`Checkpoint.metadata` holds it
    (its decimal text): ``"15"`` -> ``"Q4_K_M"``, ``"1039"`` -> ``"Q4_K_M (guessed)"``;
    a value outside the table reads ``"file type 99"``, text that is no integer is kept."""
    try:
        n = int(value)
    except ValueError:
        return value
    guessed = n >= 0 and n & FILE_TYPE_GUESSED and n != FILE_TYPE_GUESSED
    name = FILE_TYPES.get(n & ~FILE_TYPE_GUESSED if guessed else n)
    if name is None:
        return f"file type {n}"
    return f"{name} (guessed)" if guessed else name


# metadata value type -> (name, struct code or None, size)
VALUE_TYPES: dict[int, tuple[str, str, int]] = {
    0: ("uint8", "<B", 1), 1: ("int8", "<b", 1), 2: ("uint16", "<H", 2),
    3: ("int16", "<h", 2), 4: ("uint32", "<I", 4), 5: ("int32", "<i", 4),
    6: ("float32", "<f", 4), 7: ("bool", "<?", 1), 8: ("string", "", 8),
    9: ("array", "", 12), 10: ("uint64", "<Q", 8), 11: ("int64", "<q", 8),
    12: ("float64", "<d", 8),
}  # fmt: skip
_SHOWN_ITEMS = 16  # arrays longer than this are summarised in Checkpoint.metadata


class _Bad(Exception):
    """(message, tensor name or None)"""


class _Cursor:
    def __init__(self, buf: Any, size: int) -> None:
        self.buf, self.size, self.pos = buf, size, 0

    def take(self, n: int, what: str) -> int:
        """Advance over n bytes, returning where they start."""
        if n > self.size - self.pos:
            raise _Bad(f"{what} at byte {self.pos} needs {n} bytes but the file ends "
                       f"{self.size - self.pos} bytes later (truncated?)")
        at = self.pos
        self.pos += n
        return at

    def unpack(self, code: str, what: str) -> Any:
        at = self.take(struct.calcsize(code), what)
        return struct.unpack_from(code, self.buf, at)[0]

    def string(self, what: str) -> str:
        n = self.unpack("<Q", what)
        at = self.take(n, what)
        return bytes(self.buf[at : at + n]).decode("utf-8", "replace")


def open_file(path: str) -> Checkpoint:
    try:
        buf = mapped(path)
        size = os.path.getsize(path)
    except (OSError, ValueError) as e:
        raise CheckpointError(path, f"cannot read ({e})") from None
    try:
        return _parse(path, buf, size)
    except _Bad as e:
        raise CheckpointError(path, *e.args) from None


def _parse(path: str, buf: Any, size: int) -> Checkpoint:
    cur = _Cursor(buf, size)
    if size < 4 or bytes(buf[:4]) != b"GGUF":
        raise _Bad("does not start with the GGUF magic")
    cur.take(4, "magic")
    version = cur.unpack("<I", "version")
    if version not in VERSIONS:
        swapped = int.from_bytes(struct.pack("<I", version), "big")
        if swapped in VERSIONS:
            raise _Bad(f"is a big-endian GGUF (version {swapped}); precli reads "
                       "little-endian GGUF only")
        raise _Bad(f"GGUF version {version} is not supported (precli reads versions "
                   f"{' and '.join(map(str, VERSIONS))})")
    n_tensors = cur.unpack("<Q", "tensor count")
    n_kv = cur.unpack("<Q", "metadata count")
    rest = size - cur.pos
    if n_kv * 13 > rest or n_tensors * 24 > rest or n_kv * 13 + n_tensors * 24 > rest:
        raise _Bad(f"header claims {n_tensors:,} tensors and {n_kv:,} metadata entries, "
                   f"which cannot fit in the file's {size:,} bytes (damaged?)")
    meta: dict[str, str] = {}
    alignment = DEFAULT_ALIGNMENT
    for i in range(n_kv):
        key = cur.string(f"metadata key {i}")
        vtype = cur.unpack("<I", f"metadata {key!r} type")
        value = _value(cur, vtype, key)
        if key == "general.alignment":
            if vtype != 4 or not isinstance(value, int) or value <= 0 or value & (value - 1):
                raise _Bad(f"general.alignment {value!r} is not a power of two (uint32)")
            alignment = value
        meta[key] = _show(value)
    infos: list[tuple[str, tuple[int, ...], int, int]] = []
    names: set[str] = set()
    for i in range(n_tensors):
        name = cur.string(f"tensor info {i} name")
        n_dims = cur.unpack("<I", f"tensor {name!r} n_dims")
        if n_dims > MAX_DIMS:
            raise _Bad(f"has {n_dims} dimensions (GGUF allows at most {MAX_DIMS})", name)
        at = cur.take(8 * n_dims, f"tensor {name!r} dims")
        dims = struct.unpack_from(f"<{n_dims}Q", buf, at)
        gtype = cur.unpack("<I", f"tensor {name!r} type")
        offset = cur.unpack("<Q", f"tensor {name!r} offset")
        if name in names:
            raise _Bad("appears twice in the tensor infos", name)
        names.add(name)
        infos.append((name, dims, gtype, offset))
    data_start = -(-cur.pos // alignment) * alignment
    if data_start > size:
        raise _Bad(f"the data section would start at byte {data_start}, past the end of the "
                   f"file ({size} bytes; truncated?)")
    data_size = size - data_start
    ends = sorted(off for _, _, _, off in infos) + [data_size]
    tensors = []
    spans: list[tuple[int, int, str]] = []
    for name, dims, gtype, offset in infos:
        t = _tensor(path, name, dims, gtype, offset, alignment, data_start, data_size, ends)
        spans.append((offset, offset + t.nbytes, name))
        tensors.append(t)
    spans.sort()
    for (a0, a1, an), (b0, _, bn) in zip(spans, spans[1:], strict=False):
        if b0 < a1:
            raise _Bad(f"data [{b0}, ...) overlaps tensor {an!r} ([{a0}, {a1}))", bn)
    return Checkpoint(path, "gguf", meta, tensors)


def _tensor(path: str, name: str, dims: tuple[int, ...], gtype: int, offset: int,
            alignment: int, data_start: int, data_size: int, ends: list[int]) -> Tensor:
    shape = tuple(reversed(dims))  # GGUF dims are innermost-first
    numel = 1
    for d in dims:
        numel *= d
    if offset % alignment:
        raise _Bad(f"offset {offset} is not a multiple of the alignment ({alignment})", name)
    if offset > data_size:
        raise _Bad(f"offset {offset} is past the end of the data ({data_size} bytes; "
                   "truncated?)", name)
    info = GGML_TYPES.get(gtype)
    if info is None:  # a type newer than this table: list it, sized up to the next tensor
        nxt = min(e for e in ends if e > offset) if any(e > offset for e in ends) else offset
        return Tensor(name, f"type {gtype}", shape, None,
                      f"unknown GGML type {gtype} (newer than precli)", nxt - offset, path)
    tname, block, tsize = info
    if not dims and block > 1:  # numel 1: no whole block, and 0 bytes would read the next
        raise _Bad(f"has no dimensions, so it cannot hold {tname} blocks of {block} values",
                   name)
    if dims and dims[0] % block:
        raise _Bad(f"innermost dimension {dims[0]} is not a multiple of the {tname} block "
                   f"size ({block})", name)
    nbytes = numel // block * tsize
    if offset + nbytes > data_size:
        raise _Bad(f"data [{offset}, {offset + nbytes}) of shape {list(shape)} {tname} runs "
                   f"past the end of the data ({data_size} bytes; truncated?)", name)
    fmt = _PLAIN.get(tname)
    if fmt is None:
        if tname in DECODED:
            return Tensor(name, tname, shape, None, None, nbytes, path,
                          Blocks(path, data_start + offset, tname, block, tsize),
                          view=last_axis(len(shape), NE0))
        return Tensor(name, tname, shape, None,
                      f"quantized GGUF type {tname} (not decoded yet)", nbytes, path)
    skip = f"integer tensor ({tname})" if tname.startswith("I") else None
    return Tensor(name, tname, shape, fmt, skip, nbytes, path,
                  element_reader(path, data_start + offset, fmt, nbytes),
                  view=last_axis(len(shape), NE0))


#: the view of every GGUF tensor: ggml's ne0 (the last numpy axis) is what a row's dot
#: product sums over
NE0 = "gguf ne0"

#: quantized types precli decodes (precli/sources/ggml_quants.py)
DECODED = ("Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
           "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4", "NVFP4", "IQ2_XXS", "IQ2_XS",
           "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ1_S", "IQ1_M")


@dataclass(frozen=True)
class Blocks(Reader):
    """Quantized blocks of ``block`` elements in ``tsize`` bytes: a read decodes the blocks
    that hold [start, stop) (float32, bit for bit ggml's dequantization)."""

    tname: str = ""
    block: int = 1
    tsize: int = 1

    def read(self, start: int, stop: int) -> npt.NDArray[np.float32]:
        import numpy as np

        from precli.sources.ggml_quants import DECODERS

        if stop <= start:
            return np.zeros(0, np.float32)
        b0, b1 = start // self.block, (stop - 1) // self.block + 1
        raw = self._bytes(b0 * self.tsize, b1 * self.tsize).reshape(b1 - b0, self.tsize)
        with np.errstate(all="ignore"):
            vals = DECODERS[self.tname](raw).reshape(-1)
        out: npt.NDArray[np.float32] = vals[start - b0 * self.block: stop - b0 * self.block]
        return out


    def scales(self, b0: int, b1: int) -> list[tuple[str, npt.NDArray[np.float32], bool]]:
        """The stored scales of blocks [b0, b1) (see ggml_quants.scale_fields)."""
        from precli.sources.ggml_quants import scale_fields

        raw = self._bytes(b0 * self.tsize, b1 * self.tsize).reshape(b1 - b0, self.tsize)
        return scale_fields(self.tname, raw)


#: Metadata arrays of arrays nest at most this deep (real files nest one or two levels).
MAX_ARRAY_DEPTH = 64


def _value(cur: _Cursor, vtype: int, key: str, depth: int = 0) -> Any:
    info = VALUE_TYPES.get(vtype)
    if info is None:
        raise _Bad(f"metadata {key!r} has unknown value type {vtype}")
    name, code, _ = info
    if name == "string":
        return cur.string(f"metadata {key!r}")
    if name != "array":
        return cur.unpack(code, f"metadata {key!r}")
    itype = cur.unpack("<I", f"metadata {key!r} array type")
    count = cur.unpack("<Q", f"metadata {key!r} array count")
    iinfo = VALUE_TYPES.get(itype)
    if iinfo is None:
        raise _Bad(f"metadata {key!r} is an array of unknown value type {itype}")
    iname, icode, isize = iinfo
    if count * isize > cur.size - cur.pos:
        raise _Bad(f"metadata {key!r} claims {count:,} {iname} items, more than the file "
                   "holds (damaged?)")
    if iname == "array":
        if depth >= MAX_ARRAY_DEPTH:
            raise _Bad(f"metadata {key.split('[', 1)[0]!r} nests arrays deeper than "
                       f"{MAX_ARRAY_DEPTH} levels")
        items = [_value(cur, 9, f"{key}[{j}]", depth + 1) for j in range(count)]
        return _Array(iname, count, items[:_SHOWN_ITEMS])
    if iname == "string":
        shown = []
        for j in range(count):
            s = cur.string(f"metadata {key!r}[{j}]")
            if j < _SHOWN_ITEMS:
                shown.append(s)
        return _Array(iname, count, shown)
    at = cur.take(count * isize, f"metadata {key!r}")
    k = min(count, _SHOWN_ITEMS)
    return _Array(iname, count, list(struct.unpack_from(f"<{k}{icode[1]}", cur.buf, at)))


class _Array:
    def __init__(self, kind: str, count: int, shown: list[Any]) -> None:
        self.kind, self.count, self.shown = kind, count, shown


def _show(v: Any) -> str:
    if isinstance(v, _Array):
        if v.count <= _SHOWN_ITEMS:
            return "[" + ", ".join(_show(x) if isinstance(x, _Array) else repr(x)
                                   for x in v.shown) + "]"
        return f"[{v.count:,} {v.kind} items]"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
