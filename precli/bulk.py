"""The bulk path: encode / decode streams of values in chunks, vectorized where exact.

Text is parsed to float64 with Python's correctly rounded ``float``; numpy then rounds
whole chunks (:mod:`precli.codec`). A decimal parsed to float64 can double-round only
when the float64 lands exactly on a target midpoint (nearest modes) or exactly on a
representable target value (directed modes, odd); those lanes, float64 overflow, text
``float`` rejects (hex floats, garbage) and NaN into formats without NaN are redone on the
exact scalar path from the original text. Stochastic rounding of text always runs on the
exact path: its probabilities depend on every digit. Binary input is exact already.

Nothing here prints: results go to the writer callbacks the caller passes in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from precli import codec
from precli.analysis import (
    DecodeResult,
    EncodeOptions,
    EncodeResult,
    ErrorRecord,
    decode_text,
    encode_exact,
    parse_code,
)
from precli.errors import PrecliError, UsageError
from precli.exact import ExactValue, exact_of_float, parse_number
from precli.formats import FloatFormat, Format, IntFormat
from precli.rounding import round_value, shortest_float, shortest_table, stochastic_bits

CHUNK_BYTES = 1 << 20
CHUNK_VALUES = 1 << 18
INPUT_FORMATS = ("text", "f16", "f32", "f64", "npy")
_NEAREST = ("nearest-even", "nearest-away")


# ------------------------------------------------------------------ sources


@dataclass
class Batch:
    """A slice of the input: text tokens, or binary values; index of its first value."""

    start: int
    tokens: list[bytes] | None = None
    lines: list[int] | None = None  # line number of each token (text input)
    values: np.ndarray | None = None  # type: ignore[type-arg]

    def __len__(self) -> int:
        return len(self.tokens) if self.tokens is not None else len(self.values)  # type: ignore[arg-type]

    def text(self, i: int) -> str:
        if self.tokens is not None:
            return self.tokens[i].decode("utf-8", "replace")
        return _float_text(self.values[i])  # type: ignore[index]

    def where(self, i: int) -> str:
        if self.lines is not None:
            return f"line {self.lines[i]}"
        return f"value {self.start + i + 1}"


_TOKEN = re.compile(rb"\S+")


def text_batches(stream: IO[bytes], chunk: int = CHUNK_BYTES) -> Iterator[Batch]:
    """Whitespace-separated tokens, a chunk at a time; output can start before input ends."""
    read = getattr(stream, "read1", stream.read)
    carry = b""
    line = 1
    index = 0
    while True:
        data = read(chunk)
        if not data:
            break
        data = carry + data
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) < 64 * chunk:
            carry = data  # no line end yet: wait for more (a single huge line still flows)
            continue
        body, carry = (data[:cut], data[cut:]) if cut else (data, b"")
        b = _batch(body, line, index)
        yield b
        index += len(b)
        line += body.count(b"\n")
    if carry:
        yield _batch(carry, line, index)


def _batch(body: bytes, line: int, index: int) -> Batch:
    tokens = body.split()
    simple = (len(tokens) == body.count(b"\n") and b"\n\n" not in body
              and not body.startswith(b"\n") and b" " not in body and b"\t" not in body)
    if simple:
        lines = list(range(line, line + len(tokens)))  # one value per line: the common case
    else:
        lines = [line + body.count(b"\n", 0, m.start()) for m in _TOKEN.finditer(body)]
    return Batch(index, tokens=tokens, lines=lines)


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
        raise UsageError(f"binary input ends with {len(carry)} stray byte(s): not a whole "
                         f"{dtype} value")


def npy_batches(path: str, n: int = CHUNK_VALUES) -> Iterator[Batch]:
    """A .npy file, memory-mapped (never read whole, never unpickled)."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as e:
        raise UsageError(f"{path}: cannot read as .npy without unpickling ({e}); precli never "
                         "loads pickles") from None
    except OSError as e:
        raise UsageError(f"{path}: {e}") from None
    if arr.dtype.kind not in "fiu":
        raise UsageError(f"{path}: dtype {arr.dtype} is not a number array")
    flat = arr.reshape(-1)
    for start in range(0, flat.shape[0], n):
        chunk = np.asarray(flat[start:start + n])
        if chunk.dtype.kind != "f":
            chunk = chunk.astype(np.float64)
        yield Batch(start, values=chunk)


def open_batches(input_format: str, stream: IO[bytes] | None, path: str | None) -> Iterator[Batch]:
    if input_format not in INPUT_FORMATS:
        raise UsageError(f"invalid --input-format {input_format!r}; choose one of "
                         f"{', '.join(INPUT_FORMATS)}")
    if input_format == "npy":
        if path is None or path == "-":
            raise UsageError("--input-format npy needs --input FILE (a .npy is memory-mapped)")
        return npy_batches(path)
    assert stream is not None
    if input_format == "text":
        return text_batches(stream)
    return binary_batches(stream, {"f16": "f2", "f32": "f4", "f64": "f8"}[input_format])


def _float_text(v: Any) -> str:
    """The shortest text of a binary input value in its own type."""
    from precli.formats import get_format

    fmt = get_format({2: "fp16", 4: "fp32", 8: "fp64"}[v.dtype.itemsize])
    bits = int(np.asarray(v).view(codec.code_dtype(fmt.bits)))
    assert isinstance(fmt, FloatFormat)
    return shortest_float(fmt, bits)


# ------------------------------------------------------------------ encode


@dataclass
class EncodedBatch:
    codes: npt.NDArray[np.unsignedinteger]  # type: ignore[type-arg]
    errors: dict[int, str]  # local index -> message


def _vector_ok(fmt: Format, opts: EncodeOptions, from_text: bool) -> bool:
    if opts.scale is not None or opts.zero_point is not None:
        return False
    if isinstance(fmt, IntFormat):
        return not (from_text and opts.mode == "stochastic") and fmt.bits <= 64
    if not isinstance(fmt, FloatFormat):
        return not from_text
    if not from_text:
        return True
    if opts.mode == "stochastic":
        return False
    if fmt.exponent_bits == 11 and fmt.mantissa_bits == 52 and fmt.specials == "ieee":
        return opts.mode == "nearest-even"  # float() is already the correctly rounded answer
    top = fmt.max_exponent if fmt.specials != "fnu" else fmt.exp_all_ones - fmt.bias
    return fmt.mantissa_bits <= 51 and fmt.emin - fmt.mantissa_bits >= -1070 and top <= 1020


def _finer(fmt: FloatFormat) -> FloatFormat:
    """A grid with one more mantissa bit and room above: its points are fmt's points and
    fmt's midpoints, so a float64 on it but not on fmt's grid sits exactly on a tie."""
    bias = fmt.bias if fmt.specials != "fnu" else fmt.bias + 1
    return FloatFormat(fmt.name + "+1", fmt.exponent_bits + 1, fmt.mantissa_bits + 1, bias, "ieee")


def _parse_floats(tokens: list[bytes]) -> tuple[np.ndarray, list[int]]:  # type: ignore[type-arg]
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


_INF_WORDS = {b"inf", b"+inf", b"-inf", b"infinity", b"+infinity", b"-infinity"}


def encode_batch(fmt: Format, batch: Batch, opts: EncodeOptions) -> EncodedBatch:
    """Codes for every value of a batch; values that fail carry an error message instead."""
    n = len(batch)
    from_text = batch.tokens is not None
    dt = codec.code_dtype(fmt.bits)
    if not _vector_ok(fmt, opts, from_text):
        codes = np.zeros(n, dt)
        errors: dict[int, str] = {}
        for i in range(n):
            _exact_lane(fmt, batch, i, opts, codes, errors)
        return EncodedBatch(codes, errors)
    if from_text:
        assert batch.tokens is not None
        v, bad = _parse_floats(batch.tokens)
    else:
        assert batch.values is not None
        v, bad = batch.values, []
    seed = opts.seed if opts.seed is not None else None
    if opts.mode == "stochastic" and seed is None:
        seed = opts.extra.setdefault("seed", int(stochastic_bits(None, 0)))
    r = codec.round_array_with_flags(fmt, v, opts.mode, saturate=opts.saturate, seed=seed,
                                     start_index=batch.start)
    codes = r.codes
    redo = np.zeros(n, bool)
    redo[bad] = True
    redo |= r.invalid
    if from_text:
        v64 = np.asarray(v, np.float64)
        inexact = (r.flags & codec.FLAG_BITS["inexact"]) != 0
        if isinstance(fmt, FloatFormat) and not (
            fmt.exponent_bits == 11 and fmt.mantissa_bits == 52
        ):
            if opts.mode in _NEAREST:
                on_finer = ~codec.round_array_with_flags(_finer(fmt), v64, "toward-zero").flags \
                    & codec.FLAG_BITS["inexact"]
                redo |= (on_finer != 0) & inexact & np.isfinite(v64)
            else:
                redo |= ~inexact & np.isfinite(v64)
        elif isinstance(fmt, IntFormat):
            half = v64 * 2
            on_half = np.isfinite(half) & (half == np.floor(half))
            redo |= on_half & (inexact if opts.mode in _NEAREST else ~inexact)
        infl = np.flatnonzero(np.isinf(v64))
        for i in infl.tolist():
            assert batch.tokens is not None
            if batch.tokens[i].lower() not in _INF_WORDS:
                redo[i] = True
    errors = {}
    if redo.any():
        if not codes.flags.writeable:
            codes = codes.copy()
        for i in np.flatnonzero(redo).tolist():
            _exact_lane(fmt, batch, i, opts, codes, errors)
    return EncodedBatch(codes, errors)


def _exact_lane(fmt: Format, batch: Batch, i: int, opts: EncodeOptions,
                codes: np.ndarray, errors: dict[int, str]) -> None:  # type: ignore[type-arg]
    try:
        x = _exact_input(batch, i)
        rand = stochastic_bits(_seed(opts), batch.start + i) if opts.mode == "stochastic" else None
        r = round_value(fmt, x, opts.mode, saturate=opts.saturate, scale=opts.scale,
                        zero_point=opts.zero_point, rand=rand)
        codes[i] = r.code
    except UsageError:
        raise
    except PrecliError as e:
        errors[i] = str(e)
        codes[i] = placeholder_code(fmt)


def _seed(opts: EncodeOptions) -> int | None:
    if opts.seed is not None:
        return opts.seed
    if opts.mode == "stochastic":
        s: int = opts.extra.setdefault("seed", int(stochastic_bits(None, 0)))
        return s
    return None


def _exact_input(batch: Batch, i: int) -> ExactValue:
    if batch.tokens is not None:
        return parse_number(batch.tokens[i].decode("utf-8", "replace"))
    assert batch.values is not None
    return exact_of_float(float(batch.values[i]))


def placeholder_code(fmt: Format) -> int:
    """What --output raw writes where a value failed: the format's NaN, else 0."""
    if isinstance(fmt, FloatFormat) and fmt.has_nan:
        return fmt.nan_code()
    return 0


def encode_records(fmt: Format, batch: Batch, opts: EncodeOptions,
                   ) -> Iterator[EncodeResult | ErrorRecord]:
    """Full per-value results (exact path) for the record outputs: json, ndjson, csv, table."""
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
    codes: np.ndarray  # type: ignore[type-arg]
    errors: dict[int, str]


def decode_codes(fmt: Format, batch: Batch) -> DecodedBatch:
    """Parse the code tokens of a batch: a vectorized path for 0x hex, exact otherwise."""
    assert batch.tokens is not None
    toks = batch.tokens
    errors: dict[int, str] = {}
    codes = np.zeros(len(toks), np.uint64)
    try:
        if not all(t[:2] in (b"0x", b"0X") for t in toks):
            raise ValueError
        vals = np.fromiter((int(t, 16) for t in toks), np.uint64, len(toks))
        if fmt.bits < 64 and (vals >> np.uint64(fmt.bits)).any():
            raise ValueError
        return DecodedBatch(vals, errors)
    except (ValueError, OverflowError):
        pass
    for i, t in enumerate(toks):
        try:
            codes[i] = parse_code(fmt, t.decode("utf-8", "replace"))
        except PrecliError as e:
            errors[i] = str(e)
    return DecodedBatch(codes, errors)


class ValueTexts:
    """code -> shortest value text, computed once per distinct code."""

    def __init__(self, fmt: Format) -> None:
        self.fmt = fmt
        self.cache: dict[int, bytes] = {}

    def _text(self, code: int) -> bytes:
        fmt = self.fmt
        if isinstance(fmt, FloatFormat):
            s = shortest_float(fmt, code)
        elif isinstance(fmt, IntFormat):
            s = str(int(fmt.code_value(code)))
        else:
            s = shortest_table(fmt, code)
        return s.encode()

    def lines(self, codes: np.ndarray, errors: dict[int, str]) -> bytes:  # type: ignore[type-arg]
        uniq, inv = np.unique(codes, return_inverse=True)
        table = []
        for c in uniq.tolist():
            t = self.cache.get(c)
            if t is None:
                t = self.cache[c] = self._text(c)
            table.append(t)
        out = np.array(table, dtype=object)[inv].tolist()
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


def raw_bytes(fmt: Format, enc: EncodedBatch) -> bytes:
    """Packed little-endian codes in the smallest unsigned width that holds the format."""
    return enc.codes.astype(codec.code_dtype(fmt.bits).newbyteorder("<"), copy=False).tobytes()


ErrorSink = Callable[[str, str, str], None]  # (where, text, message)
