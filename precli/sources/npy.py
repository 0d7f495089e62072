""".npy and .npz files: numpy's own header format, never unpickled.

A ``.npy`` is memory-mapped (``np.load(mmap_mode="r", allow_pickle=False)``). A ``.npz`` is
a zip of ``.npy`` members: a stored (uncompressed) member is memory-mapped in place through
its offset in the zip; a compressed member (``np.savez_compressed``) cannot be, so it is
inflated through the zip stream as it is read, the range asked for only (a Fortran-order
one whole, one member at a time). Each member's header is checked against the size the
zip gives it before anything is allocated; a damaged member is one error in
``Checkpoint.errors``. A zip holding a pickle (``data.pkl``: PyTorch's ``torch.save``
format) is refused.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from precli.sources.base import PICKLE_HINT, Checkpoint, CheckpointError, Tensor
from precli.sources.read import InMemory, Native, Reader, cached


def dtype_info(dt: np.dtype[Any]) -> tuple[str | None, str | None, bool]:
    """(precli format, skip reason, readable) of a numpy dtype."""
    if dt.hasobject:
        return None, "object array (reading it would need unpickling)", False
    if dt.kind == "f":
        fmt = {2: "fp16", 4: "fp32", 8: "fp64"}.get(dt.itemsize)
        if fmt is None:
            return None, f"{dt.name} is not supported (float16, float32, float64 are)", False
        return fmt, None, True
    if dt.kind in "iu":
        return f"{'u' if dt.kind == 'u' else ''}int{8 * dt.itemsize}", \
            f"integer tensor ({dt.name})", True
    if dt.kind == "b":
        return None, "bool mask", True
    if dt.kind == "c":
        return None, f"complex tensor ({dt.name})", False
    return None, f"{dt} elements are not numbers", False


def _tensor(path: str, name: str, dt: np.dtype[Any], shape: tuple[int, ...],
            fortran: bool, reader: Reader | None) -> Tensor:
    fmt, skip, readable = dtype_info(dt)
    numel = 1
    for d in shape:
        numel *= d
    return Tensor(name, dt.name if dt.names is None else str(dt), tuple(shape), fmt, skip,
                  numel * dt.itemsize, path, reader if readable else None)


def open_npy(path: str) -> Checkpoint:
    empty = _empty_npy(path)
    if empty is not None:
        return Checkpoint(path, "npy", {}, [empty])
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError, SyntaxError) as e:
        raise CheckpointError(path, f"not a readable .npy without unpickling ({_one_line(e)})") \
            from None
    name = os.path.splitext(os.path.basename(path))[0]
    fortran = bool(arr.ndim > 1 and arr.flags.f_contiguous and not arr.flags.c_contiguous)
    offset = int(getattr(arr, "offset", 0))
    if arr.size == 0 and not isinstance(arr, np.memmap):
        offset = 0  # numpy does not map empty arrays; nothing is ever read
    if isinstance(arr, np.memmap):  # data past the declared values: a header that lies
        extra = os.path.getsize(path) - offset - arr.nbytes
        if extra > 0:
            raise CheckpointError(path, f"holds {extra:,} byte(s) after the {arr.size:,} values "
                                        f"its header declares (shape {tuple(arr.shape)}): the "
                                        "header and the data disagree")
    reader = Native(path, offset, arr.dtype.str, tuple(arr.shape), fortran)
    t = _tensor(path, name, arr.dtype, tuple(arr.shape), fortran, reader)
    return Checkpoint(path, "npy", {}, [t])


def _empty_npy(path: str) -> Tensor | None:
    """The tensor of a .npy whose shape holds no element, None for any other .npy (or one
    whose header does not read: np.load then names the problem). A dimension may be huge
    beside a zero (shape (2**62, 0)), which numpy's loader refuses as too big: nothing is
    allocated or mapped for it."""
    try:
        with open(path, "rb") as f:
            shape, fortran, dt = read_header(f)
            header_len = f.tell()
            size = os.fstat(f.fileno()).st_size
    except (ValueError, OSError, EOFError, SyntaxError, TypeError):
        return None
    if 0 not in shape or dt.hasobject:
        return None
    if size != header_len:
        raise CheckpointError(path, f"holds {size - header_len:,} byte(s) after the 0 values "
                                    f"its header declares (shape {shape}): the header and the "
                                    "data disagree")
    name = os.path.splitext(os.path.basename(path))[0]
    return _tensor(path, name, dt, shape, fortran,
                   InMemory(path, 0, np.zeros(0, dt.newbyteorder("="))))


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


# ---------------------------------------------------------------------------------- npz


def read_header(fp: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    """The (shape, Fortran order, dtype) of the .npy at ``fp``'s position, which is left at
    the first data byte. Every version of the format (1.0, 2.0, and 3.0's utf-8 header),
    through numpy's public readers; ValueError / EOFError for a damaged header."""
    fmt = np.lib.format
    version = fmt.read_magic(fp)
    if version == (1, 0):
        shape, fortran, dt = fmt.read_array_header_1_0(fp)
    elif version == (2, 0):
        shape, fortran, dt = fmt.read_array_header_2_0(fp)
    else:  # 3.0 is 2.0 with a utf-8 header: re-read it as 2.0's latin-1 would not decode
        shape, fortran, dt = _header_3_0(fp)
    return tuple(shape), bool(fortran), dt


def _header_3_0(fp: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    d = read_header_dict(fp, (3, 0))
    shape = d["shape"]
    if not isinstance(shape, tuple) or not all(isinstance(x, int) for x in shape):
        raise ValueError(f"shape is not valid: {shape!r}")
    if not isinstance(d["fortran_order"], bool):
        raise ValueError(f"fortran_order is not a valid bool: {d['fortran_order']!r}")
    return shape, d["fortran_order"], np.lib.format.descr_to_dtype(d["descr"])


def read_header_dict(fp: IO[bytes], version: tuple[int, int]) -> dict[str, Any]:
    """The header dictionary (descr, fortran_order, shape) as written, after the magic of
    ``version``; ``fp`` is left at the first data byte. For descrs numpy cannot build (ml_dtypes
    writes float8_e5m2 as '<f1') and for version 3.0, whose header is utf-8."""
    import ast

    width = 2 if version[0] == 1 else 4
    raw = fp.read(width)
    if len(raw) != width:
        raise EOFError("EOF while reading the header length")
    n = int.from_bytes(raw, "little")
    text = fp.read(n)
    if len(text) != n:
        raise EOFError("EOF while reading the header")
    d = ast.literal_eval(text.decode("utf-8" if version[0] >= 3 else "latin1"))
    if not isinstance(d, dict) or set(d) != {"descr", "fortran_order", "shape"}:
        raise ValueError(f"header does not contain the correct keys: {d!r}")
    return d


_INFLATE_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error)


class _Streams:
    """The member streams this process keeps open (at most ``MAX``, the least recently used
    closed first). A read continues the open stream of its member that is closest behind
    it, or opens one: reads front to back (every analysis reads a tensor that way, pass
    after pass) and two interleaved readers of one member (``diff`` of a file with itself)
    inflate each byte once a pass."""

    MAX = 4

    def __init__(self) -> None:
        self.open: list[list[Any]] = []  # [key, zip file, stream, last use]
        self.clock = 0

    def at(self, path: str, member: str, offset: int) -> IO[bytes]:
        """A stream of the member's inflated bytes, positioned at byte ``offset``."""
        st = os.stat(path)
        key = (os.getpid(), path, member, st.st_ino, st.st_size, st.st_mtime_ns)
        best = None
        for e in self.open:
            if e[0] == key and e[2].tell() <= offset and (best is None
                                                          or e[2].tell() > best[2].tell()):
                best = e
        if best is None:
            if len(self.open) >= self.MAX:
                self.close(min(self.open, key=lambda e: e[3])[2])
            zf = zipfile.ZipFile(path)
            try:
                fp = zf.open(member)
            except BaseException:
                zf.close()
                raise
            best = [key, zf, fp, 0]
            self.open.append(best)
        self.clock += 1
        best[3] = self.clock
        fp = best[2]
        if fp.tell() != offset:
            fp.seek(offset)  # forward: inflates and discards
        return fp  # type: ignore[no-any-return]

    def close(self, fp: IO[bytes]) -> None:
        """Close the stream ``fp`` (after an error, or to make room)."""
        for e in [e for e in self.open if e[2] is fp]:
            self.open.remove(e)
            for f in (e[2], e[1]):
                try:
                    f.close()
                except _INFLATE_ERRORS:  # pragma: no cover - closing a damaged stream
                    pass


_STREAMS = _Streams()


@dataclass(frozen=True)
class NpzMember(Reader):
    """A compressed member, inflated as it is read: ``read(start, stop)`` moves the
    member's stream to element ``start`` (forward by inflating and discarding, backward by
    starting over) and inflates the bytes of [start, stop) only, so memory stays bounded by
    the range asked for, whatever the member inflates to. ``data``: the offset of the first
    element in the member. A Fortran-order member (``shape``, ``fortran``) is inflated
    whole once, one member at a time: its stored order is not the row-major order."""

    member: str = ""
    data: int = 0
    dtype: str = "<f4"
    nbytes: int = 0  # of the elements, as the header declares
    shape: tuple[int, ...] = ()
    fortran: bool = False

    def _fail(self, e: BaseException) -> CheckpointError:
        return CheckpointError(self.path, f"cannot decompress ({_one_line(e)})",
                               _member_name(self.member))

    def _load(self) -> npt.NDArray[Any]:
        try:
            with zipfile.ZipFile(self.path) as zf, zf.open(self.member) as fp:
                a = np.lib.format.read_array(fp, allow_pickle=False)
        except _INFLATE_ERRORS as e:
            raise self._fail(e) from None
        flat: npt.NDArray[Any] = np.ascontiguousarray(a).reshape(-1)
        if not flat.dtype.isnative:
            flat = flat.astype(flat.dtype.newbyteorder("="))
        return flat

    def read(self, start: int, stop: int) -> npt.NDArray[Any]:
        dt = np.dtype(self.dtype)
        if stop <= start:  # nothing to inflate (and a zero-element shape may be huge)
            return np.zeros(0, dt.newbyteorder("="))
        if self.fortran and len(self.shape) > 1:
            whole = cached(("npz", self.path, self.member), self._load)
            out: npt.NDArray[Any] = whole[start:stop]
            return out
        want = (stop - start) * dt.itemsize
        fp = None
        try:
            fp = _STREAMS.at(self.path, self.member, self.data + start * dt.itemsize)
            raw = fp.read(want)
        except _INFLATE_ERRORS as e:
            if fp is not None:
                _STREAMS.close(fp)
            raise self._fail(e) from None
        if len(raw) != want:
            _STREAMS.close(fp)
            raise CheckpointError(self.path, f"member's data ends after "
                                  f"{start * dt.itemsize + len(raw):,} of the {self.nbytes:,} "
                                  "bytes its header declares (truncated?)",
                                  _member_name(self.member))
        out = np.frombuffer(raw, dt)
        if not dt.isnative:
            out = out.astype(dt.newbyteorder("="))
        return out


def _member_name(member: str) -> str:
    return member[:-4] if member.endswith(".npy") else member


def open_npz(path: str) -> Checkpoint:
    """A .npz: every member's header read and checked against the bytes the zip holds for
    it. A damaged member (or a name the archive holds twice) is one error in
    ``Checkpoint.errors``; the other members are still listed."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(path, f"is a damaged zip archive ({_one_line(e)})") from None
    with zf:
        infos = zf.infolist()
        pickles = [i.filename for i in infos if i.filename.endswith(".pkl")]
        if pickles:
            raise CheckpointError(path, f"is a PyTorch checkpoint (a zip holding "
                                  f"{pickles[0]!r}): {PICKLE_HINT}")
        members = [i for i in infos if i.filename.endswith(".npy")]
        if not members:
            held = ", ".join(i.filename for i in infos[:5]) or "nothing"
            raise CheckpointError(path, f"is a zip archive with no .npy members (it holds "
                                  f"{held}); precli reads .npz archives")
        count: dict[str, int] = {}
        for i in members:
            count[i.filename] = count.get(i.filename, 0) + 1
        tensors: list[Tensor] = []
        errors: list[CheckpointError] = []
        with open(path, "rb") as raw:
            size = os.fstat(raw.fileno()).st_size
            for info in members:
                n = count[info.filename]
                if n != 1:
                    if n > 1:  # one error for the name, at its first entry
                        errors.append(CheckpointError(
                            path, f"member name appears {n} times in the archive: which one "
                            "is the tensor is ambiguous (numpy's np.load takes the last); "
                            "none is read", _member_name(info.filename)))
                        count[info.filename] = -n
                    continue
                try:
                    tensors.append(_member(path, zf, raw, size, info))
                except CheckpointError as e:
                    errors.append(e)
    return Checkpoint(path, "npz", {}, tensors, errors)


def _member(path: str, zf: zipfile.ZipFile, raw: IO[bytes], size: int,
            info: zipfile.ZipInfo) -> Tensor:
    name = _member_name(info.filename)
    if info.flag_bits & 1:
        raise CheckpointError(path, "member is encrypted", name)
    try:
        with zf.open(info) as fp:
            shape, fortran, dt = read_header(fp)
            header_len = fp.tell()
    except (*_INFLATE_ERRORS, SyntaxError) as e:
        raise CheckpointError(path, f"member is not a readable .npy ({_one_line(e)})",
                              name) from None
    numel = 1
    for d in shape:
        numel *= d
    need = numel * dt.itemsize
    if dt.hasobject:  # listed and skipped: its bytes are a pickle
        return _tensor(path, name, dt, shape, False, None)
    held = info.file_size - header_len
    if need != held:  # checked before anything is allocated or inflated
        raise CheckpointError(path, f"member holds {held:,} bytes of data but shape "
                              f"{list(shape)} of {dt.name} declares {numel:,} values "
                              f"({need:,} bytes)", name)
    if info.compress_type != zipfile.ZIP_STORED:
        reader: Reader = NpzMember(path, 0, info.filename, header_len, dt.str, need, shape,
                                   fortran)
        return _tensor(path, name, dt, shape, fortran, reader)
    raw.seek(info.header_offset)
    local = raw.read(30)
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        raise CheckpointError(path, "member's local zip header is damaged", name)
    n, m = struct.unpack("<HH", local[26:30])
    start = info.header_offset + 30 + n + m + header_len
    if start + need > size:
        raise CheckpointError(path, "member runs past the end of the file (truncated?)", name)
    return _tensor(path, name, dt, shape, fortran, Native(path, start, dt.str, shape, fortran))
