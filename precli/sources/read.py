"""Element readers shared by every checkpoint kind: memory maps and exact decoders.

A reader is a small frozen record (file path, byte offset, how the elements are stored),
so a Tensor can be pickled to another process; the file is memory-mapped on first use in
each process and the map is kept for the life of the process.

Decoding is exact and never uses ml_dtypes: float16 / float32 / float64 (and integers, and
bool) are zero-copy views of the map; BF16 is the top half of a float32, so a shift into
a uint32 is its exact float32 value; the 8-, 6- and 4-bit formats go through lookup tables
built from :func:`precli.array.codec.decode_array` (all their values are float32 numbers, checked
when the table is built).

Packing of the sub-byte formats (both as the ONNX spec ``onnx/onnx.proto`` writes them, and
as PyTorch's ``float4_e2m1fn_x2`` / safetensors F4 stores FP4):

* 4-bit: two elements per byte, the first element in the low nibble (bits 0-3);
* 6-bit: four elements in three bytes, a little-endian (LSB-first) bit stream: element
  ``i`` of a group occupies bits ``6i .. 6i+5`` of the 24-bit little-endian integer
  ``byte0 | byte1 << 8 | byte2 << 16``.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

_MAPS: dict[str, tuple[tuple[int, int, int], mmap.mmap | bytes]] = {}


def mapped(path: str) -> mmap.mmap | bytes:
    """The whole file, memory-mapped read-only: one map per path per process, made again
    when the file was replaced or changed size since (a stat per call)."""
    st = os.stat(path)
    key = (st.st_ino, st.st_size, st.st_mtime_ns)
    hit = _MAPS.get(path)
    if hit is not None and hit[0] == key:
        return hit[1]
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    _MAPS[path] = (key, m)
    return m


def forget_maps() -> None:
    """Drop this process's maps (tests that rewrite a file in place call this)."""
    _MAPS.clear()
    DECODED_CACHE.clear()


@cache
def lut(fmt_name: str) -> npt.NDArray[np.float32]:
    """Every code of a format of 8 bits or fewer, as its exact float32 value."""
    from precli.array import codec
    from precli.core.formats import get_format

    fmt = get_format(fmt_name)
    wide = codec.decode_array(fmt, np.arange(1 << fmt.bits, dtype=np.uint64))
    narrow = wide.astype(np.float32)
    same = (narrow.astype(np.float64) == wide) | (np.isnan(wide) & np.isnan(narrow))
    if not same.all():  # pragma: no cover - every stored format fits float32
        raise ValueError(f"{fmt_name} values do not all fit float32")
    narrow.setflags(write=False)
    return narrow


@cache
def pair_lut(fmt_name: str) -> npt.NDArray[np.float32]:
    """byte -> (value of its low nibble, value of its high nibble)."""
    t = lut(fmt_name)
    b = np.arange(256)
    pairs = np.stack([t[b & 15], t[b >> 4]], axis=1)
    pairs.setflags(write=False)
    return pairs


@dataclass(frozen=True)
class Reader:
    """Elements stored at ``offset`` of ``path``."""

    path: str
    offset: int

    def read(self, start: int, stop: int) -> npt.NDArray[Any]:  # pragma: no cover
        raise NotImplementedError

    def _bytes(self, b0: int, b1: int) -> npt.NDArray[np.uint8]:
        return np.frombuffer(mapped(self.path), np.uint8, b1 - b0, self.offset + b0)


@dataclass(frozen=True)
class Native(Reader):
    """Fixed-width little-endian elements numpy knows (``dtype`` like ``<f4``, ``<i8``,
    ``|b1``); ``shape`` and ``fortran`` only for a Fortran-order .npy."""

    dtype: str
    shape: tuple[int, ...] = ()
    fortran: bool = False

    def read(self, start: int, stop: int) -> npt.NDArray[Any]:
        dt = np.dtype(self.dtype)
        if self.fortran and len(self.shape) > 1:
            if stop <= start:  # nothing to map (a zero-element shape may be huge)
                return np.zeros(0, dt.newbyteorder("="))
            whole = np.ndarray(self.shape, dt, buffer=mapped(self.path), offset=self.offset,
                               order="F")
            idx = np.unravel_index(np.arange(start, stop, dtype=np.intp), self.shape)
            out: npt.NDArray[Any] = whole[idx]
        else:
            out = np.frombuffer(mapped(self.path), dt, stop - start,
                                self.offset + start * dt.itemsize)
        if not dt.isnative:
            out = out.astype(dt.newbyteorder("="))
        return out


@dataclass(frozen=True)
class BF16(Reader):
    """bfloat16: the top 16 bits of a float32, so ``bits << 16`` is its exact value."""

    def read(self, start: int, stop: int) -> npt.NDArray[np.float32]:
        u = np.frombuffer(mapped(self.path), "<u2", stop - start, self.offset + 2 * start)
        out: npt.NDArray[np.uint32] = np.left_shift(u, 16, dtype=np.uint32)  # one pass
        return out.view(np.float32)


@dataclass(frozen=True)
class Table8(Reader):
    """One byte per element, decoded through the format's 256-entry table."""

    fmt: str

    def read(self, start: int, stop: int) -> npt.NDArray[np.float32]:
        return lut(self.fmt)[self._bytes(start, stop)]


@dataclass(frozen=True)
class Packed4(Reader):
    """Two elements per byte, the first in the low nibble."""

    fmt: str

    def read(self, start: int, stop: int) -> npt.NDArray[np.float32]:
        b0, b1 = start // 2, (stop + 1) // 2
        vals = pair_lut(self.fmt)[self._bytes(b0, b1)].reshape(-1)
        return vals[start - 2 * b0 : stop - 2 * b0]


@dataclass(frozen=True)
class PackedInt(Reader):
    """Sub-byte integers (ONNX INT4 / UINT4 / INT2 / UINT2): ``8 // bits`` elements per
    byte, the first in the lowest bits; read as int8 / uint8."""

    bits: int = 4
    signed: bool = True

    def read(self, start: int, stop: int) -> npt.NDArray[Any]:
        return unpack_ints(self._bytes(start * self.bits // 8, -(-stop * self.bits // 8)),
                           self.bits, self.signed)[start % (8 // self.bits):][:stop - start]


def unpack_ints(raw: npt.NDArray[np.uint8], bits: int, signed: bool) -> npt.NDArray[Any]:
    """Every ``bits``-wide field of ``raw``, lowest bits first, as int8 (two's complement)
    or uint8."""
    per = 8 // bits
    shifts = np.arange(per, dtype=np.uint8) * np.uint8(bits)
    u = ((raw[:, None] >> shifts[None, :]) & np.uint8((1 << bits) - 1)).reshape(-1)
    if not signed:
        return u
    out: npt.NDArray[np.int8] = (u.astype(np.int16)
                                 - ((u >> np.uint8(bits - 1)) << np.uint8(bits))).astype(np.int8)
    return out


def unpack6(raw: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """6-bit codes from an LSB-first bit stream (4 codes per 3 bytes; a short tail is
    zero-padded)."""
    pad = (-len(raw)) % 3
    if pad:
        raw = np.concatenate([raw, np.zeros(pad, np.uint8)])
    g = raw.reshape(-1, 3).astype(np.uint32)
    v = g[:, 0] | (g[:, 1] << 8) | (g[:, 2] << 16)
    codes = (v[:, None] >> np.array([0, 6, 12, 18], np.uint32)) & np.uint32(63)
    return codes.astype(np.uint8).reshape(-1)


@dataclass(frozen=True)
class Packed6(Reader):
    """Four elements per three bytes (see the module docstring)."""

    fmt: str
    nbytes: int  # bytes of the whole tensor (a padded tail group may be short)

    def read(self, start: int, stop: int) -> npt.NDArray[np.float32]:
        g0, g1 = start // 4, -(-stop // 4)
        raw = self._bytes(3 * g0, min(3 * g1, self.nbytes))
        return lut(self.fmt)[unpack6(raw)[start - 4 * g0 : stop - 4 * g0]]


# ------------------------------------------------- readers that decode a whole tensor once

DECODED_CACHE: dict[Any, npt.NDArray[Any]] = {}


def cached(key: Any, make: Any) -> npt.NDArray[Any]:
    """One decoded tensor kept per process (chunked reads of it then cost nothing more)."""
    hit = DECODED_CACHE.get(key)
    if hit is None:
        DECODED_CACHE.clear()
        hit = DECODED_CACHE[key] = make()
    return hit


@dataclass(frozen=True)
class InMemory(Reader):
    """Elements already decoded (small typed protobuf fields); ``path`` is for messages."""

    values: Any = None

    def read(self, start: int, stop: int) -> npt.NDArray[Any]:
        out: npt.NDArray[Any] = self.values[start:stop]
        return out


def decode_varints(raw: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """Protobuf base-128 varints (a packed repeated field), vectorized; values wrap to 64
    bits as protobuf's do. The caller checks that ``raw`` ends on a last byte."""
    if raw.size == 0:
        return np.zeros(0, np.uint64)
    last = raw < 0x80
    ends = np.flatnonzero(last)
    starts = np.concatenate([[0], ends[:-1] + 1])
    group = np.cumsum(np.concatenate([[0], last[:-1]])).astype(np.intp)
    pos = np.arange(raw.size) - starts[group]
    shift = np.minimum(7 * pos, 63).astype(np.uint64)
    parts = (raw & 0x7F).astype(np.uint64) << shift
    parts[7 * pos > 63] = 0
    out: npt.NDArray[np.uint64] = np.bitwise_or.reduceat(parts, starts)
    return out


@dataclass(frozen=True)
class Varint(Reader):
    """A packed ``int32_data`` field of ONNX: one varint per element (or per pair of 4-bit
    elements), holding the element's bit pattern; ``how`` names the decoding."""

    length: int = 0
    count: int = 0  # elements
    how: str = ""  # "fp16" | "bf16" | a precli 8/6-bit format | "4:<format>" | "int:<dtype>"
    name: str = ""  # the tensor's, for messages

    def _all(self) -> npt.NDArray[Any]:
        from precli.sources.base import CheckpointError

        raw = np.frombuffer(mapped(self.path), np.uint8, self.length, self.offset)
        try:
            return decode_codes(self.how, decode_varints(raw), self.count)
        except ValueError as e:
            raise CheckpointError(self.path, f"int32_data: {e}", self.name) from None

    def read(self, start: int, stop: int) -> npt.NDArray[Any]:
        whole = cached(("varint", self.path, self.offset), self._all)
        out: npt.NDArray[Any] = whole[start:stop]
        return out


def decode_codes(how: str, codes: npt.NDArray[np.uint64], count: int) -> npt.NDArray[Any]:
    """Element values from per-element integer bit patterns (ONNX int32_data); ValueError
    for a count or a bit pattern that does not fit."""
    per = 2 if how.startswith(("4:", "i4:")) else 1
    if len(codes) != -(-count // per):
        raise ValueError(f"holds {len(codes)} values for {count} elements")
    if not how.startswith(("int:", "bool")) and codes.size:
        bits = 16 if how in ("fp16", "bf16") else 8 if per == 2 else _bits(how)
        top = int(codes.max())
        if top >> bits:
            raise ValueError(f"value {top:#x} is not a {bits}-bit pattern")
    if how == "fp16":
        return codes.astype(np.uint16).view(np.float16)
    if how == "bf16":
        return (codes.astype(np.uint32) << np.uint32(16)).view(np.float32)
    if how.startswith("i4:"):  # ONNX INT4 / UINT4: two per value, the first low
        return unpack_ints(codes.astype(np.uint8), 4, how == "i4:int4")[:count]
    if how.startswith("4:"):
        b = codes.astype(np.uint8)
        return pair_lut(how[2:])[b].reshape(-1)[:count]
    if how.startswith("int:") or how == "bool":
        dt = np.dtype(how[4:]) if how != "bool" else np.dtype(np.bool_)
        return codes.astype(np.int64).astype(dt)  # int32 wraps back to the stored width
    return lut(how)[codes.astype(np.intp)]


def _bits(fmt_name: str) -> int:
    from precli.core.formats import get_format

    return get_format(fmt_name).bits


def element_reader(path: str, offset: int, fmt: str | None, nbytes: int) -> Reader | None:
    """The reader for little-endian elements of precli format ``fmt`` ("bool" for a bool
    mask, None for data precli cannot decode) stored contiguously at ``offset``."""
    if fmt is None:
        return None
    if fmt in ("int4", "uint4", "int2", "uint2"):
        return PackedInt(path, offset, int(fmt[-1]), fmt[0] == "i")
    native = _NATIVE.get(fmt)
    if native is not None:
        return Native(path, offset, native)
    if fmt == "bf16":
        return BF16(path, offset)
    bits = _bits(fmt)
    if bits == 8:
        return Table8(path, offset, fmt)
    if bits == 6:
        return Packed6(path, offset, fmt, nbytes)
    if bits == 4:
        return Packed4(path, offset, fmt)
    return None  # pragma: no cover - no stored dtype maps elsewhere


_NATIVE = {
    "fp64": "<f8", "fp32": "<f4", "fp16": "<f2", "bool": "|b1",
    "int8": "|i1", "int16": "<i2", "int32": "<i4", "int64": "<i8",
    "uint8": "|u1", "uint16": "<u2", "uint32": "<u4", "uint64": "<u8",
}  # fmt: skip
