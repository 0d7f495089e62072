"""The bulk path: encode / decode streams of values in chunks, vectorized where exact.

Text is parsed to float64 with Python's correctly rounded ``float``; numpy then rounds
whole chunks (:mod:`precli.array.codec`). A decimal parsed to float64 can double-round only
when the float64 lands exactly on a target midpoint (nearest modes) or exactly on a
representable target value (directed modes, odd); those lanes, float64 overflow, text
``float`` rejects (hex floats, garbage) and NaN into formats without NaN are redone on the
exact scalar path from the original text. Stochastic rounding of text always runs on the
exact path: its probabilities depend on every digit. Binary input is exact already.

Nothing here prints: results go to the writer callbacks the caller passes in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from precli.array import codec
from precli.core.exact import ECHO_CHARS, ExactValue, exact_of_float, parse_number, shown_text
from precli.core.formats import (
    FloatFormat,
    Format,
    IntFormat,
    TableFormat,
    fits_float64,
    float64_exact,
)
from precli.core.rounding import (
    magnitude_float,
    round_value,
    shortest_float,
    stochastic_bits,
)
from precli.core.values import (
    DecodeResult,
    EncodeOptions,
    EncodeResult,
    ErrorRecord,
    decode_text,
    encode_exact,
    error_ratios,
    parse_code,
)
from precli.errors import PrecliError, UsageError, ValueParseError, arg
from precli.stream import hexparse as fastparse

CHUNK_BYTES = 1 << 20
CHUNK_VALUES = 1 << 18
#: .npy input is memory-mapped, so it comes from a file, never from a stream.
NPY_NEEDS_FILE = (f"{arg('input_format')} npy needs {arg('input')} FILE (a .npy is "
                  "memory-mapped)")

INPUT_FORMATS = ("text", "f16", "f32", "f64", "npy")


# ------------------------------------------------------------------ sources


#: The longest value (token) text reads: a longer one is one error record, skipped as it
#: streams past (only its first bytes are kept, for the message). Documented in
#: docs/encode-decode.md#pipelines.
MAX_TOKEN_BYTES = 1 << 20
_WHITESPACE = b" \t\n\r\x0b\x0c"  # what bytes.split() splits on


@dataclass
class Batch:
    """A slice of the input: text (a body of whole tokens), or binary values.

    A text batch never splits a token. A token longer than the cap arrives as a batch of
    its own with ``oversize`` set: ``(its first bytes, its length)``; its one token is that
    prefix followed by "…", which no parser accepts, and ``errors`` says why.
    """

    start: int  # index of its first value in the whole input
    body: bytes | None = None
    first_line: int = 1
    values: np.ndarray | None = None
    oversize: tuple[bytes, int] | None = None
    _tokens: list[bytes] | None = None
    _lines: list[int] | None = None
    _bounds: Any = None

    @property
    def tokens(self) -> list[bytes] | None:
        if self.oversize is not None:
            return [self.oversize[0] + "…".encode()]
        if self.body is None:
            return None
        if self._tokens is None:
            self._tokens = self.body.split()
        return self._tokens

    @property
    def errors(self) -> dict[int, str]:
        """Errors known before parsing (a value over the length cap), by index."""
        if self.oversize is None:
            return {}
        return {0: f"longer than the {MAX_TOKEN_BYTES:,}-byte limit for one value; skipped"}

    @property
    def bounds(self) -> Any:
        """(starts, ends) when the body is one plain token per line, else None."""
        if self.body is None or self.oversize is not None:
            return None
        if self._bounds is None:
            self._bounds = fastparse.line_bounds(self.body) or False
        return self._bounds or None

    @property
    def lines(self) -> list[int]:
        """The line number of each token (one linear pass, whatever the layout)."""
        if self._lines is None:
            if self.oversize is not None:
                self._lines = [self.first_line]
            elif self.bounds is not None:
                self._lines = list(range(self.first_line, self.first_line + len(self)))
            else:
                assert self.body is not None
                buf = np.frombuffer(self.body, np.uint8)
                space = np.isin(buf, np.frombuffer(_WHITESPACE, np.uint8))
                starts = np.flatnonzero(~space & np.concatenate(([True], space[:-1])))
                newlines = np.flatnonzero(buf == 10)
                self._lines = (np.searchsorted(newlines, starts) + self.first_line).tolist()
        return self._lines

    def __len__(self) -> int:
        if self.oversize is not None:
            return 1
        if self.body is not None:
            return len(self.tokens or ())
        assert self.values is not None
        return len(self.values)

    def text(self, i: int) -> str:
        if self.body is not None or self.oversize is not None:
            return (self.tokens or [])[i].decode("utf-8", "replace")
        return _float_text(self.values[i])  # type: ignore[index]

    def shown(self, i: int) -> str:
        """The value as an error line shows it: quoted, cut to ECHO_CHARS, with its length."""
        if self.oversize is not None:
            prefix, n = self.oversize
            return shown_text(prefix.decode("utf-8", "replace"), n)
        return shown_text(self.text(i))

    def where(self, i: int) -> str:
        if self.body is not None or self.oversize is not None:
            return f"line {self.lines[i]}"
        return f"value {self.start + i + 1}"


def text_batches(stream: IO[bytes], chunk: int = CHUNK_BYTES,
                 max_token: int | None = None) -> Iterator[Batch]:
    """Whitespace-separated tokens, a chunk at a time; output can start before input ends.

    Linear in the input whatever its layout (one huge line, CRLF, many values a line), and
    memory-bounded: a batch ends at the last whitespace of what has been read, so only a
    partial token is carried over, and a token past ``max_token`` bytes (default
    :data:`MAX_TOKEN_BYTES`) is skipped as it streams, keeping its first bytes for the
    message. No token is ever split in two.
    """
    cap = MAX_TOKEN_BYTES if max_token is None else max_token
    read = getattr(stream, "read1", stream.read)
    carry: list[bytes] = []  # a partial token (no whitespace), at most cap bytes in all
    carried = 0
    skip: list[Any] | None = None  # [prefix, length, line] while skipping a long token
    line = 1
    index = 0
    first = True
    while True:
        data = read(chunk)
        if not data:
            break
        if first:  # a UTF-8 byte order mark, as some editors write, is not part of a value
            first = False
            if data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
            elif len(data) < 3 and b"\xef\xbb\xbf".startswith(data):
                data += read(3 - len(data))
                data = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
        if skip is not None:
            j = _first_space(data)
            if j < 0:
                skip[1] += len(data)
                continue
            skip[1] += j
            yield Batch(index, first_line=skip[2], oversize=(skip[0], skip[1]))
            index += 1
            skip = None
            data = data[j:]
        cut = _last_space(data) + 1
        if cut == 0:  # no whitespace: the partial token grows
            carry.append(data)
            carried += len(data)
            if carried > cap:
                whole = b"".join(carry)
                skip = [whole[:ECHO_CHARS * 4], carried, line]
                carry, carried = [], 0
            continue
        body = b"".join(carry) + data[:cut] if carry else data[:cut]
        carry, carried = ([data[cut:]], len(data) - cut) if cut < len(data) else ([], 0)
        for b in _split_long(body, line, index, cap):
            yield b
            index += len(b)
        line += body.count(b"\n")
        if carried > cap:
            skip = [carry[0][:ECHO_CHARS * 4], carried, line]
            carry, carried = [], 0
    if skip is not None:
        yield Batch(index, first_line=skip[2], oversize=(skip[0], skip[1]))
    elif carry:
        for b in _split_long(b"".join(carry), line, index, cap):
            yield b
            index += len(b)


def _last_space(data: bytes) -> int:
    return max(data.rfind(c) for c in (b"\n", b" ", b"\t", b"\r", b"\x0b", b"\x0c"))


_SPACE_RE = re.compile(rb"[ \t\n\r\x0b\x0c]")


def _first_space(data: bytes) -> int:
    m = _SPACE_RE.search(data)
    return m.start() if m else -1


def _split_long(body: bytes, line: int, index: int, cap: int) -> Iterator[Batch]:
    """The body as batches: itself, or (when a token in it is over the cap) the pieces
    around each long token plus one oversize batch for it."""
    if len(body) <= cap:
        yield _batch(body, line, index)
        return
    toks = body.split()
    if not toks or max(map(len, toks)) <= cap:
        yield Batch(index, body=body, first_line=line, _tokens=toks)
        return
    long = [m for m in _TOKEN.finditer(body) if m.end() - m.start() > cap]
    pos = 0
    for m in long:
        if m.start() > pos:
            piece = body[pos:m.start()]
            b = _batch(piece, line, index)
            if len(b):
                yield b
                index += len(b)
            line += piece.count(b"\n")
        yield Batch(index, first_line=line,
                    oversize=(body[m.start():m.start() + ECHO_CHARS * 4], m.end() - m.start()))
        index += 1
        pos = m.end()
    rest = body[pos:]
    b = _batch(rest, line, index)
    if len(b):
        yield b


_TOKEN = re.compile(rb"\S+")


def _batch(body: bytes, line: int, index: int) -> Batch:
    return Batch(index, body=body, first_line=line)


def binary_batches(stream: IO[bytes], dtype: str, n: int = CHUNK_VALUES) -> Iterator[Batch]:
    dt = np.dtype(dtype).newbyteorder("<")
    size = dt.itemsize
    index = 0
    carry = b""
    while True:
        data = stream.read(n * size)
        if not data:
            break
        data = carry + data
        cut = len(data) - len(data) % size
        data, carry = data[:cut], data[cut:]
        vals = np.frombuffer(data, dtype=dt).astype(dt.newbyteorder("="))
        yield Batch(index, values=vals)
        index += len(vals)
    if carry:
        raise ValueParseError(f"binary input ends with {len(carry)} stray byte(s): not a "
                              f"whole {dtype} value")


def open_npy(path: str) -> np.ndarray:
    """A .npy file memory-mapped, its header checked first (never unpickled).

    Every way a file can fail to be a usable .npy is a one-line usage error (exit 2) that
    names the problem: missing, empty, a .npz archive, no .npy magic, a damaged or truncated header,
    fewer data bytes than the header promises, object (pickled) or unsupported dtypes.
    Big-endian arrays are mapped as they are; readers convert them a chunk at a time.
    """
    from precli.sources.npy import read_header

    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    with f:
        head = f.read(6)
        if not head:
            raise UsageError(f"{path} is empty (0 bytes), not a .npy file")
        if head.startswith(b"PK\x03\x04"):
            raise UsageError(f"{path} is a .npz archive (a zip of arrays), not a .npy: "
                                  "save the array you want with np.save")
        if head != b"\x93NUMPY":
            raise UsageError(f"{path} is not a .npy file (it does not start with the "
                                  "\\x93NUMPY magic)")
        f.seek(0)
        try:
            shape, fortran, dtype = read_header(f)
        except (ValueError, EOFError, OSError, SyntaxError, TypeError) as e:
            raise UsageError(f"{path}: damaged or truncated .npy header ({e})") from None
        offset = f.tell()
        f.seek(0, 2)
        size = f.tell()
    if dtype.hasobject:
        raise UsageError(f"{path} holds Python objects (pickled data); precli never loads "
                         "pickles")
    if dtype.kind not in "fiu" or (dtype.kind == "f" and dtype.itemsize > 8) \
            or dtype.fields is not None or dtype.subdtype is not None:
        raise UsageError(f"{path}: dtype {dtype} is not supported; precli reads float16, "
                         "float32, float64 and integer arrays")
    count = 1
    for d in shape:
        count *= int(d)
    need = count * dtype.itemsize
    if size - offset < need:
        raise UsageError(f"{path} is truncated: its header promises {count:,} values "
                              f"({need:,} bytes) but {max(size - offset, 0):,} bytes follow")
    if size - offset > need:
        raise UsageError(f"{path} holds {size - offset - need:,} byte(s) after the {count:,} "
                         f"values its header declares (shape {tuple(shape)}): the header and "
                         "the data disagree")
    if count == 0:
        try:
            return np.zeros(shape, dtype)
        except ValueError:  # e.g. (2**62, 0): numpy sizes the dimensions before the zero
            return np.zeros((0,) * len(shape), dtype)  # no value either way
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=tuple(shape),
                     order="F" if fortran else "C")


def npy_batches(path: str, n: int = CHUNK_VALUES) -> Iterator[Batch]:
    """A .npy file, memory-mapped (never read whole, never unpickled); big-endian arrays
    are byte-swapped a chunk at a time."""
    arr = open_npy(path)
    from precli.array.tiles import iter_blocks

    start = 0
    for piece, _ in iter_blocks(arr, chunk_size=n):  # views in row-major order: a
        chunk = np.asarray(piece).reshape(-1)  # Fortran-order file is never copied whole
        if not chunk.dtype.isnative:
            chunk = chunk.astype(chunk.dtype.newbyteorder("="))
        if chunk.dtype.kind != "f" and chunk.dtype.itemsize < 8:
            chunk = chunk.astype(np.float64)  # exact: int32 and narrower fit float64
        # int64 / uint64 stay integers: values past 2^53 go the exact path
        yield Batch(start, values=chunk)
        start += len(chunk)


def open_batches(input_format: str, stream: IO[bytes] | None, path: str | None) -> Iterator[Batch]:
    if input_format not in INPUT_FORMATS:
        raise UsageError(f"invalid {arg('input_format')} {input_format!r}; choose one of "
                         f"{', '.join(INPUT_FORMATS)}")
    if input_format == "npy":
        if path is None or path == "-":
            raise UsageError(NPY_NEEDS_FILE)
        return npy_batches(path)
    assert stream is not None
    if input_format == "text":
        return text_batches(stream)
    return binary_batches(stream, {"f16": "f2", "f32": "f4", "f64": "f8"}[input_format])


def _float_text(v: Any) -> str:
    """The shortest text of a binary input value in its own type."""
    from precli.core.formats import get_format

    if v.dtype.kind in "iu":
        return str(int(v))
    fmt = get_format({2: "fp16", 4: "fp32", 8: "fp64"}[v.dtype.itemsize])
    bits = int(np.asarray(v).view(codec.code_dtype(fmt.bits)))
    assert isinstance(fmt, FloatFormat)
    return shortest_float(fmt, bits)


# ------------------------------------------------------------------ encode


@dataclass
class EncodedBatch:
    codes: npt.NDArray[np.unsignedinteger]
    errors: dict[int, str]  # local index -> message
    floats: np.ndarray | None = None  # text input: each token's float() (NaN where none)


def _is_fp64(fmt: Format) -> bool:
    return isinstance(fmt, FloatFormat) and fmt.exponent_bits == 11 and \
        fmt.mantissa_bits == 52 and fmt.specials == "ieee"


def _vector_ok(fmt: Format, opts: EncodeOptions, from_text: bool) -> bool:
    """Whether the array path can give this batch's codes exactly."""
    if opts.scale is not None or opts.zero_point is not None:
        return False
    if not from_text:
        return True  # binary input is exact: the array path is the scalar path
    if opts.mode == "stochastic":
        return False  # its probabilities depend on every digit of the text
    if isinstance(fmt, FloatFormat):
        if _is_fp64(fmt):
            return opts.mode == "nearest-even"  # float() is the correctly rounded answer
        top = fmt.max_exponent if fmt.specials != "fnu" else fmt.exp_all_ones - fmt.bias
        return fmt.mantissa_bits <= 51 and fmt.emin - fmt.mantissa_bits >= -1070 and top <= 1020
    return True


def _parse_floats(tokens: list[bytes]) -> tuple[np.ndarray, list[int]]:
    """Correctly rounded float64 of each token (Python's float); unparseable ones listed."""
    try:
        return np.fromiter(map(float, tokens), np.float64, len(tokens)), []
    except ValueError:
        pass
    v = np.empty(len(tokens), np.float64)
    bad = []
    for i, t in enumerate(tokens):
        try:
            v[i] = float(t)
        except ValueError:
            v[i] = np.nan
            bad.append(i)
    return v, bad


def _widen(v: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = v, v
    with np.errstate(over="ignore"):  # DBL_MAX steps to inf: that is the point
        for _ in range(steps):
            lo = np.nextafter(lo, -np.inf)
            hi = np.nextafter(hi, np.inf)
    return lo, hi


def encode_batch(fmt: Format, batch: Batch, opts: EncodeOptions) -> EncodedBatch:
    """Codes for every value of a batch; values that fail carry an error message instead.

    Text: float() gives each value's float64 to within half an ulp; both neighbouring
    float64s are rounded, and since rounding is monotonic, lanes whose ends agree have
    their answer. The rest (ties, exactly representable values under directed modes,
    float64 overflow, text float() rejects, NaN into formats without NaN) go exact.
    """
    n = len(batch)
    from_text = batch.body is not None
    dt = codec.code_dtype(fmt.bits)
    if batch.oversize is not None:
        return EncodedBatch(np.full(n, placeholder_code(fmt), dt), batch.errors)
    if not _vector_ok(fmt, opts, from_text):
        codes = np.zeros(n, dt)
        errors: dict[int, str] = {}
        for i in range(n):
            _exact_lane(fmt, batch, i, opts, codes, errors)
        return EncodedBatch(codes, errors)
    seed = opts.seed
    kw: dict[str, Any] = dict(saturate=opts.saturate, seed=seed, start_index=batch.start)
    if not from_text:
        assert batch.values is not None
        vals = batch.values
        big = None
        if vals.dtype.kind in "iu":  # 64-bit integers: float64 holds them below 2^53 only
            big = np.abs(vals.astype(np.float64)) >= 2.0**53
            vals = vals.astype(np.float64)
        r = codec.round_array_with_flags(fmt, vals, opts.mode, **kw)
        codes, redo = r.codes, r.invalid
        if big is not None and big.any():
            redo = redo | big
    elif _is_fp64(fmt):
        assert batch.tokens is not None
        v, bad = _parse_floats(batch.tokens)
        r = codec.round_array_with_flags(fmt, v, opts.mode, **kw)
        codes, redo = r.codes, r.invalid.copy()
        redo[bad] = True
    else:
        assert batch.tokens is not None
        v, bad = _parse_floats(batch.tokens)
        lo, hi = _widen(v, 1)  # float() is correctly rounded: the value is within half an ulp
        exact0 = v == 0  # "0", "-0.0", ...: keep zeros off the exact path when they are zeros
        if exact0.any():
            toks = batch.tokens
            for i in np.flatnonzero(exact0).tolist():
                if toks[i].strip(b"+-0.eE") == b"" and any(ch in b"0" for ch in toks[i]):
                    lo[i] = hi[i] = v[i]
        redo = np.zeros(n, bool)
        redo[bad] = True
        rl = codec.round_array_with_flags(fmt, lo, opts.mode, **kw)
        rh = codec.round_array_with_flags(fmt, hi, opts.mode, **kw)
        codes = rl.codes
        redo |= (rl.codes != rh.codes) | rl.invalid | rh.invalid
    errors = {}
    if redo.any():
        if not codes.flags.writeable:
            codes = codes.copy()
        for i in np.flatnonzero(redo).tolist():
            _exact_lane(fmt, batch, i, opts, codes, errors)
    return EncodedBatch(codes, errors, v if from_text else None)


def _exact_lane(fmt: Format, batch: Batch, i: int, opts: EncodeOptions,
                codes: np.ndarray, errors: dict[int, str]) -> None:
    try:
        x = _exact_input(batch, i)
        rand = stochastic_bits(opts.seed, batch.start + i) if opts.mode == "stochastic" else None
        r = round_value(fmt, x, opts.mode, saturate=opts.saturate, scale=opts.scale,
                        zero_point=opts.zero_point, rand=rand)
        codes[i] = r.code
    except UsageError:
        raise
    except PrecliError as e:
        errors[i] = str(e)
        codes[i] = placeholder_code(fmt)


def _exact_input(batch: Batch, i: int) -> ExactValue:
    if batch.tokens is not None:
        return parse_number(batch.tokens[i].decode("utf-8", "replace"))
    assert batch.values is not None
    v = batch.values[i]
    if batch.values.dtype.kind in "iu":
        return ExactValue.of(int(v))
    return exact_of_float(float(v))


def placeholder_code(fmt: Format) -> int:
    """What --output raw writes where a value failed: the format's NaN, else 0."""
    if isinstance(fmt, FloatFormat) and fmt.has_nan:
        return fmt.nan_code()
    return 0


def encode_records(fmt: Format, batch: Batch, opts: EncodeOptions,
                   ) -> Iterator[EncodeResult | ErrorRecord]:
    """Full per-value results (exact path) for the record outputs: json, ndjson, csv, table."""
    for i, msg in batch.errors.items():
        yield ErrorRecord(batch.text(i), msg, batch.start + i)
        return
    for i in range(len(batch)):
        text = batch.text(i)
        try:
            x = _exact_input(batch, i)
            yield encode_exact(fmt, text, x, opts, batch.start + i)
        except UsageError:
            raise
        except PrecliError as e:
            yield ErrorRecord(text, str(e), batch.start + i)


# ------------------------------------------------------------------ decode


@dataclass
class DecodedBatch:
    codes: np.ndarray
    errors: dict[int, str]


def decode_codes(fmt: Format, batch: Batch) -> DecodedBatch:
    """Parse the code tokens of a batch: vectorized for 0x hex lines, exact otherwise."""
    n = len(batch)
    codes = np.zeros(n, np.uint64)
    if batch.oversize is not None:
        return DecodedBatch(codes, batch.errors)
    todo = np.ones(n, bool)
    bounds = batch.bounds
    if bounds is not None:
        c, ok = fastparse.parse_hex(batch.body or b"", *bounds)
        if fmt.bits < 64:
            ok &= (c >> np.uint64(fmt.bits)) == 0
        codes[ok] = c[ok]
        todo = ~ok
    errors: dict[int, str] = {}
    if todo.any():
        toks = batch.tokens or []
        for i in np.flatnonzero(todo).tolist():
            try:
                codes[i] = parse_code(fmt, toks[i].decode("utf-8", "replace"))
            except PrecliError as e:
                errors[i] = str(e)
    return DecodedBatch(codes, errors)


class ValueTexts:
    """code -> value text, computed once per distinct code."""

    def __init__(self, fmt: Format) -> None:
        self.fmt = fmt
        self.cache: dict[int, bytes] = {}

    def _text(self, code: int) -> bytes:
        """The record's "value" (the value rule of docs/encode-decode.md#values-and-flags),
        as decode_text gives it."""
        from precli.core.values import float_value_text, plain_value

        fmt = self.fmt
        if isinstance(fmt, FloatFormat):
            s = float_value_text(fmt, code)
        elif isinstance(fmt, IntFormat):
            s = str(int(fmt.code_value(code)))
        else:
            s = plain_value(fmt.values[code])
        return s.encode()

    def lines(self, codes: np.ndarray, errors: dict[int, str]) -> bytes:
        from precli.stream import codefacts as fastcode

        fmt = self.fmt
        if fmt.bits > 16 and fastcode.covers(fmt):  # fp64, fp32, tf32: a code a value
            assert isinstance(fmt, FloatFormat)
            texts = fastcode.value_texts(fmt, codes.astype(np.uint64))
            for i in errors:
                texts[i] = b"error"
            return b"\n".join(texts) + b"\n" if texts else b""
        cache = self.cache
        if fmt.bits <= 16 and len(codes):
            present = np.flatnonzero(np.bincount(codes.astype(np.intp)))
        else:
            present = np.unique(codes)
        for c in present.tolist():
            if c not in cache:
                cache[c] = self._text(c)
        out = [cache[c] for c in codes.tolist()]
        _bound(cache)  # fp64 / int32 streams: a code a value
        for i in errors:
            out[i] = b"error"
        return b"\n".join(out) + b"\n" if out else b""


def decode_records(fmt: Format, batch: Batch, dec: DecodedBatch, scale: Any, zero_point: Any,
                   ) -> Iterator[DecodeResult | ErrorRecord]:
    for i in range(len(batch)):
        text = batch.text(i)
        if i in dec.errors:
            yield ErrorRecord(text, dec.errors[i], batch.start + i)
            continue
        try:
            yield decode_text(fmt, text, scale, zero_point)
        except UsageError:
            raise
        except PrecliError as e:
            yield ErrorRecord(text, str(e), batch.start + i)


# ------------------------------------------------------------------ output


def plain_lines(fmt: Format, enc: EncodedBatch) -> bytes:
    """Hex code lines, 'error' where a value failed."""
    data = codec.hex_strings(enc.codes, fmt)
    if not enc.errors:
        return data
    lines = data.split(b"\n")
    for i in enc.errors:
        lines[i] = b"error"
    return b"\n".join(lines)




# ------------------------------------------------------------------ record outputs, fast

SLICE = 1 << 13  # records rendered and written at a time
FAST_SLICE = 1 << 14  # records of the byte-matrix path at a time
#: Batches smaller than this keep the per-value path: the byte path's set-up (imports and
#: the repr tables, ~50 ms) only pays off over a few thousand values.
FAST_MIN = 2048
_SIMPLE_DEC = re.compile(rb"([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,3}))?")
_JSON_SAFE = bytes(range(0x21, 0x7F)).replace(b'"', b"").replace(b"\\", b"") + _WHITESPACE
_CSV_SAFE = bytes(range(0x21, 0x7F)).replace(b'"', b"").replace(b",", b"") + _WHITESPACE


def _plain_cells(batch: Batch, json_mode: bool) -> list[str] | None:
    """Each token as its output cell when no token needs quoting or escaping, else None."""
    body = batch.body
    if body is None or batch.oversize is not None:
        return None
    if body.translate(None, _JSON_SAFE if json_mode else _CSV_SAFE):
        return None
    toks = body.decode("ascii").split()
    return ['"' + t + '"' for t in toks] if json_mode else toks


class RecordTexts:
    """Rendered encode / decode records for a stream, without the exact path per value.

    Everything a record says about its code (hex, bits, value, exact, ulp, prev, next,
    flags for a given flag set) is rendered once per code into a template; per value only
    the input and the three errors are filled in. The errors are computed from the value's
    exact rational (its digits, or the binary value) with integer arithmetic, and Python's
    int / int is correctly rounded, as the exact path's float(Fraction) is. Values this
    does not cover (specials, codes at the ends of the range where overflow and saturation
    live, long or unusual literals, scale / zero-point encodes) take the exact path.
    Equality with the exact path is tested over every code of the formats of 16 bits or
    fewer and on patterned and random values for the wide ones (tests/test_records.py).
    """

    def __init__(self, fmt: Format, writer: Any, opts: EncodeOptions | None = None,
                 scale: Any = None, zero_point: int | None = None) -> None:
        from precli.stream.writers import result_record

        self.fmt, self.writer, self.opts = fmt, writer, opts
        self.scale, self.zero_point = scale, zero_point
        self.json = writer.mode in ("json", "ndjson")
        self._result_record = result_record
        self._templates: dict[Any, tuple[str, ...]] = {}
        self._codes: dict[int, Any] = {}  # code -> (neg, Sn, Sd, Un, Ud, kind) or None
        self._infos: dict[int, Any] = {}
        self.fast_encode = opts is not None and opts.scale is None and \
            opts.zero_point is None and not (isinstance(fmt, FloatFormat) and
                                             fmt.specials == "fnu")
        # ndjson / csv of text input: records as byte matrices (precli/fastrec.py)
        self.fast_bytes = writer.mode in ("ndjson", "csv")
        # (fp64 is not: its errors are ~2^-53 of the value, past what the double-double
        # arithmetic settles, so every lane would go to the per-value path anyway)
        self.fast_enc_bytes = self.fast_encode and self.fast_bytes and (
            (isinstance(fmt, FloatFormat) and float64_exact(fmt)) or
            (isinstance(fmt, IntFormat) and fmt.bits <= 32))
        self._fast_enc: Any = None
        self._fast_dec: Any = None
        self._slow_many: Any = None  # CodeTemplates.make for the per-value path, False: none

    # -- decode

    def decode(self, batch: Batch, dec: DecodedBatch) -> Iterator[list[Any]]:
        """Rendered records (str), an ErrorRecord where a value failed, in slices of
        SLICE values (a batch's records at once would hold ~60 MB of text)."""
        from precli.core.values import describe_code

        if self._fast_text(batch):
            if self._fast_dec is None:
                from precli.stream import records as fastrec

                self._fast_dec = fastrec.FastDecode(
                    self.json, self._decode_template, self._decode_one,
                    self._many(DECODE_HOLES, self._decode_record))
            yield from self._fast_dec.records(batch, dec, FAST_SLICE)
            return
        n = len(batch)
        cells = _plain_cells(batch, self.json)
        codes = dec.codes.tolist()
        tpl = self._templates
        for lo in range(0, n, SLICE):
            yield self._decode_slice(batch, dec, codes, cells, tpl, describe_code, lo,
                                     min(n, lo + SLICE))

    def _decode_slice(self, batch: Batch, dec: DecodedBatch, codes: list[int],
                      cells: list[str] | None, tpl: dict[Any, tuple[str, ...]],
                      describe_code: Any, lo: int, hi: int) -> list[Any]:
        out: list[Any] = [None] * (hi - lo)
        self._premake(codes[lo:hi], encode=False)
        for i in range(lo, hi):
            if i in dec.errors:
                out[i - lo] = ErrorRecord(batch.text(i), dec.errors[i], batch.start + i)
                continue
            c = codes[i]
            t = tpl.get(c)
            if t is None:
                info = describe_code(self.fmt, c, self.scale, self.zero_point)
                rec = self._result_record(DecodeResult("", info))
                t = tpl[c] = self.writer.template(rec, DECODE_HOLES).pieces
                _bound(tpl)
            cell = cells[i] if cells is not None else self._cell(batch.text(i))
            out[i - lo] = t[0] + cell + t[1]
        return out

    def _encode_record(self, c: int, flags: tuple[str, ...]) -> dict[str, Any]:
        """The record of code c with flags, its per-value fields empty."""
        assert self.opts is not None
        return self._result_record(EncodeResult("", self.opts.mode, self._info(c), flags,
                                                 None, None, None))

    def _decode_record(self, c: int, flags: tuple[str, ...]) -> dict[str, Any]:
        return self._result_record(DecodeResult("", self._info(c)))

    def _many(self, open_: tuple[str, ...], record: Any, quoted: tuple[str, ...] = ("input",),
              ) -> Any:
        """The templates of many codes at once (precli/fastcode.py), where it covers the
        format: its make(codes, flags), else None."""
        from precli.stream import codefacts as fastcode

        if not fastcode.covers(self.fmt) or self.scale is not None or \
                self.zero_point is not None:
            return None
        assert isinstance(self.fmt, FloatFormat)
        return fastcode.CodeTemplates(self.fmt, self.writer, record, open_, quoted).make

    def _premake(self, keys: list[Any], encode: bool) -> None:
        """Make the templates of keys ((code, flags) for encode, codes for decode) that are
        not made yet all together (precli/fastcode.py), where it covers the format, for the
        per-value path to find: an fp32 stream needs a template a value."""
        store = self._templates
        new = [k for k in dict.fromkeys(keys) if k not in store]
        if len(new) < PREMAKE_MIN:
            return
        if self._slow_many is None:
            self._slow_many = (self._many(ENCODE_HOLES, self._encode_record, ()) if encode
                               else self._many(DECODE_HOLES, self._decode_record, ())) or False
        if self._slow_many is False:
            return
        if encode:
            made = self._slow_many([c for c, _ in new], [f for _, f in new])
        else:
            made = self._slow_many(new, [()] * len(new))
        if len(store) + len(new) > CACHE_LIMIT:  # bounded, and this slice's stay
            store.clear()
        for k, pieces in zip(new, made, strict=True):
            if pieces is not None:
                store[k] = tuple(p.decode() for p in pieces)

    def _fast_text(self, batch: Batch) -> bool:
        """Whether this batch's records take the byte-matrix path (precli/fastrec.py)."""
        return self.fast_bytes and batch.body is not None and batch.oversize is None \
            and len(batch) >= FAST_MIN

    def _decode_template(self, c: int) -> tuple[str, ...]:
        from precli.core.values import describe_code

        info = describe_code(self.fmt, c, self.scale, self.zero_point)
        rec = self._result_record(DecodeResult("", info))
        t: tuple[str, ...] = self.writer.template(rec, DECODE_HOLES).pieces
        self._templates[c] = t
        _bound(self._templates)
        return t

    def _decode_one(self, batch: Batch, dec: DecodedBatch, i: int) -> Any:
        if i in dec.errors:
            return ErrorRecord(batch.text(i), dec.errors[i], batch.start + i)
        c = int(dec.codes[i])
        t = self._templates.get(c) or self._decode_template(c)
        return t[0] + self._cell(batch.text(i)) + t[1]

    def _cell(self, v: Any) -> str:
        from precli.stream.writers import RecordTemplate

        return RecordTemplate((), self.json).cell(v)

    # -- encode

    def encode(self, batch: Batch, enc: EncodedBatch) -> Iterator[list[Any]]:
        """Rendered records (str), an ErrorRecord where a value failed, in slices of
        SLICE values."""
        if self.fast_enc_bytes and self._fast_text(batch):
            if self._fast_enc is None:
                from precli.stream import records as fastrec

                self._fast_enc = fastrec.FastEncode(
                    self.fmt, self.json, self._encode_template, self._encode_one,
                    self._many(ENCODE_HOLES, self._encode_record))
            yield from self._fast_enc.records(batch, enc, FAST_SLICE)
            return
        n = len(batch)
        codes = enc.codes.tolist()
        from_text = batch.tokens is not None
        cells = _plain_cells(batch, self.json) if from_text else None
        toks = batch.tokens if from_text else None
        vals = None if from_text else batch.values.tolist()  # type: ignore[union-attr]
        for lo in range(0, n, SLICE):
            yield self._encode_slice(batch, enc, codes, cells, toks, vals, lo,
                                     min(n, lo + SLICE))

    def _encode_slice(self, batch: Batch, enc: EncodedBatch, codes: list[int],
                      cells: list[str] | None, toks: list[bytes] | None, vals: Any,
                      lo: int, hi: int) -> list[Any]:
        lanes = [None if i in enc.errors or not self.fast_encode else
                 self._lane(codes[i], toks[i] if toks is not None else vals[i])
                 for i in range(lo, hi)]
        self._premake([(codes[i], r[0]) for i, r in zip(range(lo, hi), lanes, strict=True)
                       if r is not None], encode=True)
        return [self._encode_lane(batch, enc, i, codes[i], None,
                                  cells[i] if cells is not None else None, r)
                for i, r in zip(range(lo, hi), lanes, strict=True)]

    def _encode_one(self, batch: Batch, enc: EncodedBatch, i: int) -> Any:
        toks = batch.tokens
        src = toks[i] if toks is not None else batch.values[i].item()  # type: ignore[index]
        return self._encode_lane(batch, enc, i, int(enc.codes[i]), src, None)

    def _encode_lane(self, batch: Batch, enc: EncodedBatch, i: int, c: int, src: Any,
                     cell: str | None, r: Any = None) -> Any:
        """One value's record (str), or its ErrorRecord; r: its _lane if known (then src
        is not needed)."""
        if i in enc.errors:
            return ErrorRecord(batch.text(i), enc.errors[i], batch.start + i)
        if r is None and src is not None and self.fast_encode:
            r = self._lane(c, src)
        if r is None:
            return self._exact(batch, i)
        flags, abs_e, rel_e, ulp_e = r
        t = self._templates.get((c, flags))
        if t is None:
            t = self._encode_template(c, flags)
        if cell is None:
            cell = self._cell(batch.text(i))
        none_text = "null" if self.json else ""
        return "".join((t[0], cell, t[1], none_text if abs_e is None else repr(abs_e),
                        t[2], none_text if rel_e is None else repr(rel_e), t[3],
                        none_text if ulp_e is None else repr(ulp_e), t[4]))

    def _exact(self, batch: Batch, i: int) -> Any:
        assert self.opts is not None
        text = batch.text(i)
        try:
            x = _exact_input(batch, i)
            r = encode_exact(self.fmt, text, x, self.opts, batch.start + i)
        except UsageError:
            raise
        except PrecliError as e:
            return ErrorRecord(text, str(e), batch.start + i)
        return self.writer.render(self._result_record(r))

    def _info(self, c: int) -> Any:
        info = self._infos.get(c)
        if info is None:
            from precli.core.values import describe_code

            info = self._infos[c] = describe_code(self.fmt, c)
            _bound(self._infos)
        return info

    def _encode_template(self, c: int, flags: tuple[str, ...]) -> tuple[str, ...]:
        t: tuple[str, ...] = self.writer.template(self._encode_record(c, flags),
                                                  ENCODE_HOLES).pieces
        self._templates[(c, flags)] = t
        _bound(self._templates)
        return t

    def _code_facts(self, c: int) -> Any:
        """(negative, Sn, Sd, Un, Ud, zero_is_underflow_bound) of a code the fast path
        covers, else None."""
        if c in self._codes:
            return self._codes[c]
        fmt = self.fmt
        facts: Any = None
        if isinstance(fmt, FloatFormat):
            mag = c & ~fmt.sign_mask if fmt.signed else c
            if fmt.is_nan(c) or fmt.is_inf(c) or mag == fmt.max_code:
                pass
            elif fits_float64(fmt):  # describe_code's stored value and ulp, directly
                sign, e, _ = fmt.fields(c)
                n, d = magnitude_float(fmt, mag).as_integer_ratio()
                top = (e if fmt.specials == "fnu" else max(e, 1)) - fmt.bias - \
                    fmt.mantissa_bits
                un, ud = (1 << top, 1) if top >= 0 else (1, 1 << -top)
                facts = (bool(sign), n, d, un, ud, fmt.smallest_normal)
            else:
                info = self._info(c)
                s = info.stored
                u = info.ulp
                assert u is not None
                facts = (s.negative, s.magnitude.numerator, s.magnitude.denominator,
                         u.numerator, u.denominator, fmt.smallest_normal)
        elif isinstance(fmt, IntFormat):
            q = int(fmt.code_value(c))
            if fmt.min_int < q < fmt.max_int:
                facts = (q < 0, abs(q), 1, 1, 1, None)
        else:
            assert isinstance(fmt, TableFormat)
            if 0 < c < len(fmt.values) - 1:
                info = self._info(c)
                v = fmt.values[c]
                u = info.ulp
                assert u is not None
                facts = (v < 0, abs(v.numerator), v.denominator, u.numerator, u.denominator,
                         None)
        self._codes[c] = facts
        _bound(self._codes)
        return facts

    def _lane(self, c: int, src: Any) -> tuple[tuple[str, ...], float | None, float | None,
                                                float | None] | None:
        """(flags, abs_error, rel_error, ulp_error) exactly as the exact path gives them, or
        None when this lane needs the exact path."""
        facts = self._code_facts(c)
        if facts is None:
            return None
        if isinstance(src, bytes):
            m = _SIMPLE_DEC.fullmatch(src)
            if m is None:
                return None
            sign, ip, fp, ex = m.groups()
            digits = ip + (fp or b"")
            if not digits or len(digits) > 40:
                return None
            xn = int(digits)
            e = (int(ex) if ex else 0) - len(fp or b"")
            xneg = sign == b"-"
            if e >= 0:
                xn *= _pow10(e)
                xd = 1
            else:
                xd = _pow10(-e)
        elif isinstance(src, float):
            if src != src or src in (_INF, -_INF):
                return None
            xneg = src < 0 or (src == 0 and str(src).startswith("-"))
            xn, xd = abs(src).as_integer_ratio()
        else:
            xneg, xn, xd = src < 0, abs(int(src)), 1
        sneg, sn, sd, un, ud, small = facts
        (num, den), rel, ulp = error_ratios(-xn if xneg else xn, xd, -sn if sneg else sn, sd,
                                            un, ud)
        inexact = num != 0
        fmt = self.fmt
        if not inexact:
            flags: tuple[str, ...] = ()
        elif isinstance(fmt, FloatFormat):
            # underflow: inexact and |x| < smallest normal
            underflow = xn * small.denominator < small.numerator * xd
            flags = ("inexact", "underflow") if underflow else ("inexact",)
        else:
            flags = ("inexact", "underflow") if sn == 0 else ("inexact",)
        return flags, _float(num, den), _float(*rel) if rel else None, \
            _float(*ulp) if ulp else None


_INF = float("inf")


def _float(num: int, den: int) -> float | None:
    """num / den correctly rounded (as float(Fraction) is), None past float64's range."""
    try:
        return num / den
    except OverflowError:
        return None

CACHE_LIMIT = 1 << 14  # per-code entries kept at most (fp32 / fp64 streams: a code a value)
PREMAKE_MIN = 32  # new templates in a slice worth making together (precli/fastcode.py)
ENCODE_HOLES = ("input", "abs_error", "rel_error", "ulp_error")  # a record's per-value fields
DECODE_HOLES = ("input",)


def _bound(cache: dict[Any, Any]) -> None:
    """Start a per-code cache again once it holds CACHE_LIMIT entries: memory stays
    bounded on a stream whose every value has its own code."""
    if len(cache) > CACHE_LIMIT:
        cache.clear()


@lru_cache(maxsize=2048)
def _pow10(e: int) -> int:
    p: int = 10**e
    return p


