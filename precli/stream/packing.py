"""Byte layouts a deployment can use: raw code streams, packed sub-byte codes, binary and
.npy code input, and the raw layout of block-scaled formats.

Layouts (docs/encode-decode.md#raw-and-packed-layouts):

* **raw**: each code as a little-endian unsigned integer of the smallest width that holds
  the format (uint8, uint16, uint32, uint64), except **tf32**, which lives in memory as an
  fp32 container: the 19-bit code shifted left by 13 (1.0 is ``0x3f800000``).
* **packed** (``--pack``, formats under 8 bits): the codes form one little-endian bit
  stream, element 0 in the least significant bits of byte 0. For 4-bit formats that is two
  values per byte, the first in the low nibble (ONNX ``docs/technical/float4.md`` and
  ``int4.md``; PyTorch ``c10/util/Float4_e2m1fn_x2.h``: ``val1:val0`` from MSB to LSB;
  OCP MX v1.0 §5.3.3); for 2-bit formats four per byte from the LSB (ONNX ``int2.md``);
  for 6-bit formats four values in three bytes, little-endian bit order (ONNX
  ``float6.md``). Other widths (custom 3, 5, 7-bit) follow the same rule in groups of
  8 values. A tail that does not fill a group is padded with zero bits to the whole group
  (ONNX: "pad with 0s if not multiple of 4" for FP6; one nibble for an odd FP4 count), so
  the stream is always whole groups; decoding returns those padding slots as code 0.
* **block formats raw** (:func:`block_raw_bytes`): the element codes (one per byte, or
  packed as above), then one scale code per block (one byte each: E8M0 or E4M3), then for
  NVFP4 the fp32 tensor scale as 4 little-endian bytes.

Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Iterator
from math import gcd
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from precli.array import codec
from precli.core.formats import Format
from precli.errors import CodeRangeError, UsageError, ValueParseError, arg

U64 = npt.NDArray[np.uint64]

#: --input-format values decode accepts besides text.
CODE_INPUT_FORMATS = ("u8", "u16", "u32", "u64", "packed", "npy")
TF32_SHIFT = 13


def is_tf32(fmt: Format) -> bool:
    return fmt.name == "tf32"


# ------------------------------------------------------------------ packing


def pack_group(bits: int) -> tuple[int, int]:
    """(values, bytes) of one packed group: 4-bit (2, 1), 2-bit (4, 1), 6-bit (4, 3)."""
    if not 1 <= bits <= 7:
        raise ValueError(f"packing applies to codes of 1 to 7 bits, not {bits}")
    lcm = bits * 8 // gcd(bits, 8)
    return lcm // bits, lcm // 8


def check_packable(fmt: Format) -> None:
    if fmt.bits >= 8:
        raise UsageError(f"{arg('pack')} applies to formats under 8 bits (fp4, fp6, int4, int2, "
                         "nf4, "
                         f"...); {fmt.name} codes are already whole bytes")


def pack_codes(codes: npt.ArrayLike, bits: int) -> bytes:
    """Pack codes of `bits` bits (1..7) LSB-first; the tail is padded with zero codes to a
    whole group."""
    g, nb = pack_group(bits)
    c: Any = np.asarray(codes).astype(np.uint64).reshape(-1)
    if c.size and int(c.max()) >> bits:
        raise ValueError(f"code {int(c.max()):#x} does not fit {bits} bits")
    pad = -c.size % g
    if pad:
        c = np.concatenate([c, np.zeros(pad, np.uint64)])
    c = c.reshape(-1, g)
    word = np.zeros(len(c), np.uint64)
    for i in range(g):
        word |= c[:, i] << np.uint64(i * bits)
    out = np.empty((len(c), nb), np.uint8)
    for j in range(nb):
        out[:, j] = (word >> np.uint64(8 * j)) & np.uint64(0xFF)
    return out.tobytes()


def unpack_codes(data: bytes, bits: int) -> U64:
    """The codes of a packed stream of whole groups (padding slots included)."""
    g, nb = pack_group(bits)
    if len(data) % nb:
        raise ValueError(f"{len(data)} bytes is not a whole number of {nb}-byte groups")
    b = np.frombuffer(data, np.uint8).reshape(-1, nb).astype(np.uint64)
    word = np.zeros(len(b), np.uint64)
    for j in range(nb):
        word |= b[:, j] << np.uint64(8 * j)
    out = np.empty((len(b), g), np.uint64)
    mask = np.uint64((1 << bits) - 1)
    for i in range(g):
        out[:, i] = (word >> np.uint64(i * bits)) & mask
    return out.reshape(-1)


# ------------------------------------------------------------------ raw output


class RawCodes:
    """Turns batches of codes into the raw byte layout, in order, with bounded memory.

    pack=False: little-endian uints of the smallest width (tf32: fp32 containers).
    pack=True: the packed layout; up to one group's worth of codes waits for the next
    batch, and :meth:`finish` writes the padded tail."""

    def __init__(self, fmt: Format, pack: bool = False) -> None:
        if pack:
            check_packable(fmt)
        self.fmt = fmt
        self.pack = pack
        self.carry = np.zeros(0, np.uint64)

    def write(self, codes: npt.ArrayLike) -> bytes:
        c = np.asarray(codes)
        if not self.pack:
            if is_tf32(self.fmt):
                c = c.astype(np.uint32) << np.uint32(TF32_SHIFT)
                return c.astype("<u4", copy=False).tobytes()
            dt = codec.code_dtype(self.fmt.bits).newbyteorder("<")
            return c.astype(dt, copy=False).tobytes()
        g, _ = pack_group(self.fmt.bits)
        c = np.concatenate([self.carry, c.astype(np.uint64).reshape(-1)])
        whole = len(c) - len(c) % g
        self.carry = c[whole:]
        return pack_codes(c[:whole], self.fmt.bits)

    def finish(self) -> bytes:
        if not self.pack or not len(self.carry):
            return b""
        tail, self.carry = self.carry, np.zeros(0, np.uint64)
        return pack_codes(tail, self.fmt.bits)


# ------------------------------------------------------------------ binary code input


class CodeBatch:
    """Codes read from binary input: codes (uint64), errors by local index, and the text
    each value shows in records and messages (its code in hex, as read)."""

    def __init__(self, start: int, raw: U64, codes: U64, errors: dict[int, str],
                 width: int) -> None:
        self.start, self.raw, self.codes, self.errors = start, raw, codes, errors
        self.width = width  # hex digits of the raw items

    def __len__(self) -> int:
        return len(self.codes)

    def text(self, i: int) -> str:
        return f"0x{int(self.raw[i]):0{self.width}x}"

    def shown(self, i: int) -> str:
        """The code as an error line shows it (short already: no need to cut it)."""
        return repr(self.text(i))

    def where(self, i: int) -> str:
        return f"code {self.start + i + 1}"


def _check_codes(fmt: Format, raw: U64, start: int, width: int) -> CodeBatch:
    """Codes from raw items: tf32 items are fp32 containers; every code must fit."""
    codes = raw
    errors: dict[int, str] = {}
    if is_tf32(fmt):
        low = raw & np.uint64((1 << TF32_SHIFT) - 1)
        codes = raw >> np.uint64(TF32_SHIFT)
        for i in np.flatnonzero(low).tolist():
            errors[i] = (f"0x{int(raw[i]):08x} is not a tf32 value in an fp32 container (its "
                         "low 13 bits are set); decode it --from fp32")
    if fmt.bits < 64:
        for i in np.flatnonzero(codes >> np.uint64(fmt.bits)).tolist():
            if i not in errors:
                errors[i] = (f"code {int(codes[i]):#x} does not fit {fmt.name} "
                             f"({fmt.bits} bits)")
    if errors:
        codes = codes.copy()
        codes[list(errors)] = 0
    return CodeBatch(start, raw, codes, errors, width)


def code_batches(fmt: Format, input_format: str, stream: IO[bytes] | None,
                 path: str | None, n: int = 1 << 18) -> Iterator[CodeBatch]:
    """Binary code input for decode: u8 / u16 / u32 / u64 little-endian items, the packed
    layout of a sub-byte format, or a .npy of unsigned (or signed, read as their bit
    patterns) integers or opaque |V items (what ml_dtypes writes) of the format's width."""
    if input_format == "npy":
        if path is None or path == "-":
            from precli.stream.batches import NPY_NEEDS_FILE

            raise UsageError(NPY_NEEDS_FILE)
        yield from _npy_codes(fmt, path, n)
        return
    assert stream is not None
    read = getattr(stream, "read1", None) or stream.read
    if input_format == "packed":
        check_packable(fmt)
        g, nb = pack_group(fmt.bits)
        size, width = nb, (fmt.bits + 3) // 4
    else:
        size = {"u8": 1, "u16": 2, "u32": 4, "u64": 8}[input_format]
        width = 2 * size
    start = 0
    carry = b""
    chunk = n * size
    while True:
        data = read(chunk)
        if not data:
            break
        data = carry + data
        cut = len(data) - len(data) % size
        data, carry = data[:cut], data[cut:]
        if not data:
            continue
        if input_format == "packed":
            raw = unpack_codes(data, fmt.bits)
        else:
            raw = np.frombuffer(data, f"<u{size}").astype(np.uint64)
        b = _check_codes(fmt, raw, start, width)
        yield b
        start += len(b)
    if carry:
        what = (f"a whole group of {pack_group(fmt.bits)[0]} packed {fmt.name} codes "
                f"({size} bytes)" if input_format == "packed" else f"a whole {input_format} code")
        raise ValueParseError(f"binary input ends with {len(carry)} stray byte(s): not {what}")


def _npy_codes(fmt: Format, path: str, n: int) -> Iterator[CodeBatch]:
    arr = load_npy(path)
    kind, size = arr.dtype.kind, arr.dtype.itemsize
    if kind not in "iuV" or size not in (1, 2, 4, 8):
        raise UsageError(f"{path}: holds {arr.dtype} values, not codes; decode reads integer "
                         "(or ml_dtypes' opaque |V) arrays of codes (encode reads values)")
    want = 4 if is_tf32(fmt) else fmt.nbytes
    if kind == "V" and size != want:
        raise UsageError(f"{path}: opaque {size}-byte items (|V{size}) cannot be {fmt.name} "
                         f"codes ({want} byte(s))")
    flat = arr.reshape(-1, order="A") if arr.flags.f_contiguous else arr.reshape(-1)
    view = flat.view(f"<u{size}") if kind == "V" else flat
    for s in range(0, len(view), n):
        piece = np.asarray(view[s:s + n])
        raw = piece.view(f"u{size}").astype(np.uint64) if kind == "i" else \
            piece.astype(np.uint64)
        yield _check_codes(fmt, raw, s, 2 * size)


def load_npy(path: str) -> Any:
    """np.load memory-mapped, never unpickling; one-line errors."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except EOFError:  # empty or cut short: bulk.open_npy names what is wrong
        raise UsageError(f"{path}: not a whole .npy file") from None
    except ValueError as e:
        opaque = _foreign_descr(path)  # ml_dtypes' float8_e5m2 saves as '<f1'
        if opaque is not None:
            return opaque
        raise UsageError(f"{path}: cannot read as .npy ({e})") from None
    except OSError as e:
        raise UsageError(f"{path}: {e}") from None


def _foreign_descr(path: str) -> Any:
    """A .npy whose descr numpy cannot build (ml_dtypes writes float8_e5m2 as '<f1'),
    memory-mapped as opaque items of the descr's size; None if it is not that."""
    import re

    from precli.sources.npy import read_header_dict

    try:
        with open(path, "rb") as f:
            magic = f.read(8)
            if magic[:6] != b"\x93NUMPY" or magic[6] not in (1, 2, 3):
                return None
            header = read_header_dict(f, (magic[6], magic[7]))
            offset = f.tell()
        m = re.fullmatch(r"[<>|=]?[a-zA-Z](\d+)", str(header["descr"]))
        shape = tuple(int(x) for x in header["shape"])
        order = "F" if header["fortran_order"] else "C"
    except (OSError, ValueError, SyntaxError, KeyError, TypeError, EOFError,
            UnicodeDecodeError):
        return None
    if m is None or int(m.group(1)) not in (1, 2, 4, 8):
        return None
    try:
        return np.memmap(path, dtype=np.dtype(f"V{m.group(1)}"), mode="r", offset=offset,
                         shape=shape, order="F" if order == "F" else "C")
    except ValueError:  # fewer data bytes than the header promises: not this case
        return None


# ------------------------------------------------------------------ opaque .npy values


def opaque_values(path: str, dtype: str | None) -> Any:
    """For encode: a .npy of opaque |V items (ml_dtypes saves bfloat16 / float8 that way)
    as float64 values, decoded exactly from the element format `dtype` names; None when
    the file is an ordinary numeric .npy (bulk.npy_batches reads those, and reports what
    is wrong with a file that is neither)."""
    from precli.stream.batches import open_npy

    arr: Any
    try:
        arr = open_npy(path)  # checks the header and the size first
    except UsageError:
        try:
            arr = _foreign_descr(path)  # ml_dtypes' float8_e5m2 saves as '<f1'
        except (OSError, ValueError):
            arr = None
        if arr is None:
            raise
    if arr.dtype.kind != "V":
        if dtype is not None:
            raise UsageError(f"{arg('dtype')} names the element format of an opaque .npy; {path} "
                             f"already holds {arr.dtype}")
        return None
    size = arr.dtype.itemsize
    if dtype is None:
        hint = {1: "e4m3fn, e5m2, fp4, ...", 2: "bf16, fp16"}.get(size, "")
        raise UsageError(f"{path}: opaque {size}-byte items (|V{size}, as ml_dtypes saves "
                         f"bfloat16 / float8); name their format with {arg('dtype')}"
                         + (f" ({hint})" if hint else ""))
    from precli.core.formats import get_format

    fmt = get_format(dtype)
    if fmt.nbytes != size or is_tf32(fmt):
        raise UsageError(f"{arg('dtype')} {dtype}: {fmt.name} is {fmt.nbytes} byte(s) per value; "
                         f"{path} holds {size}-byte items")
    return _OpaqueValues(fmt, arr)


class _OpaqueValues:
    def __init__(self, fmt: Format, arr: Any) -> None:
        self.fmt, self.arr = fmt, arr

    def batches(self, n: int = 1 << 18) -> Iterator[Any]:
        from precli.stream.batches import Batch

        size = self.arr.dtype.itemsize
        flat = self.arr.reshape(-1)
        codes = flat.view(f"<u{size}")
        for s in range(0, len(codes), n):
            c = np.asarray(codes[s:s + n]).astype(np.uint64)
            if self.fmt.bits < 8 * size and len(c) and int(c.max()) >> self.fmt.bits:
                i = int(np.argmax(c >> np.uint64(self.fmt.bits)))
                raise CodeRangeError(f"item {s + i + 1} (0x{int(c[i]):x}) is not a "
                                     f"{self.fmt.name} code ({self.fmt.bits} bits)")
            yield Batch(s, values=codec.decode_array(self.fmt, c))


# ------------------------------------------------------------------ block formats


def block_raw_bytes(element_codes: npt.ArrayLike, element_bits: int,
                    scale_codes: npt.ArrayLike, tensor_scale: float | None = None,
                    pack: bool = False) -> bytes:
    """The raw layout of a block-scaled tensor (docs/encode-decode.md#raw-and-packed-layouts):

    1. the element codes in order, one per byte (``pack=False``) or packed;
    2. the block scale codes, one byte per block (E8M0 for MX, E4M3 for NVFP4);
    3. NVFP4 only (``tensor_scale`` given): the fp32 tensor scale, 4 bytes little-endian.
    """
    e = np.asarray(element_codes).reshape(-1)
    body = pack_codes(e, element_bits) if pack else e.astype(np.uint8).tobytes()
    body += np.asarray(scale_codes).reshape(-1).astype(np.uint8).tobytes()
    if tensor_scale is not None:
        body += np.asarray([tensor_scale], "<f4").tobytes()
    return body


def split_block_raw(data: bytes, n: int, element_bits: int, block_size: int,
                    has_tensor_scale: bool, pack: bool = False,
                    ) -> tuple[U64, U64, float | None]:
    """Inverse of :func:`block_raw_bytes` for a tensor of n elements."""
    nblocks = -(-n // block_size)
    if pack:
        g, nb = pack_group(element_bits)
        elen = -(-n // g) * nb
    else:
        elen = n
    want = elen + nblocks + (4 if has_tensor_scale else 0)
    if len(data) != want:
        raise ValueError(f"{len(data)} bytes; {n} elements in {nblocks} blocks take {want}")
    el = unpack_codes(data[:elen], element_bits)[:n] if pack else \
        np.frombuffer(data[:elen], np.uint8).astype(np.uint64)
    sc = np.frombuffer(data[elen:elen + nblocks], np.uint8).astype(np.uint64)
    ts = float(np.frombuffer(data[elen + nblocks:], "<f4")[0]) if has_tensor_scale else None
    return el, sc, ts


def nvfp4_tensor_scale_fields(tensor_scale: float) -> dict[str, Any]:
    """The record fields that carry NVFP4's fp32 tensor scale (without it the element and
    block-scale codes cannot be dequantized): its value and its fp32 bit pattern."""
    bits = int(np.asarray([tensor_scale], "<f4").view("<u4")[0])
    return {"tensor_scale": float(np.float32(tensor_scale)), "tensor_scale_hex": f"0x{bits:08x}"}
