"""What ``compare`` reads: an array from a .npy, raw float64 / float32 / float16, or decimal
text parsed exactly, as the :class:`~precli.model.stats.Values` the statistics take.

A reader only reads: values that cannot be read are reported through ``on_error`` and
then refused as a whole (compare needs a clean array); nothing here prints.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from fractions import Fraction
from typing import IO

from precli.array.views import guess_view
from precli.core.exact import parse_number
from precli.errors import PrecliError, UsageError, arg
from precli.model.stats import Values
from precli.stream.batches import Batch, open_npy, text_batches

__all__ = ["TEXT_SUFFIXES", "TEXT_VALUES_CAP", "exact_pair", "load_values", "sniff_input",
           "text_values"]

#: (batch, index in the batch, message): a value that could not be read
BadValue = Callable[[Batch, int, str], None]


#: Text input to ``compare`` is held in memory (blocks and scales need all of it): at most
#: this many values (about 35 bytes each); write a .npy for more.
TEXT_VALUES_CAP = 4_000_000


TEXT_SUFFIXES = (".txt", ".csv", ".tsv", ".dat")


def sniff_input(path: str) -> str:
    """npy or text, from the file's first bytes (and a text extension); a path that does
    not exist is an error that says so, and suggests a format when it looks like a name."""
    import os

    if path == "-":
        return "text"
    if not os.path.exists(path):
        from precli.core.formats import get_format

        try:
            get_format(path)
        except UsageError as e:
            if "did you mean" in str(e):
                raise UsageError(f"{path!r} is neither a file nor a known format: "
                                 f"{str(e).split('; ', 1)[1]}") from None
        raise UsageError(f"no such file: {path}")
    if os.path.isdir(path):
        return "checkpoint"  # a sharded safetensors model (its reader checks the index)
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if path.lower().endswith(TEXT_SUFFIXES):
        return "text"
    from precli.sources import CheckpointError, detect

    try:
        kind = detect(path)
        if kind != "npy":
            return "checkpoint"
    except CheckpointError as e:
        if "is not a checkpoint precli reads" not in str(e) or path.lower().endswith(
                (".pt", ".pth", ".bin", ".pkl", ".ckpt")):
            raise
    if path.lower().endswith(".npy"):
        raise PrecliError(f"{path} is not a .npy file (no NUMPY magic: empty, truncated or "
                          "another format)")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # not a multibyte sequence cut at the end
            raise UsageError(f"cannot tell the type of {path!r} (binary, not .npy): pass "
                             f"{arg('input_format')} f16|f32|f64 for raw values") from None
    return "text"


def load_values(path: str, input_format: str | None, axis: int | None = None,
                on_error: BadValue | None = None) -> Values:
    """What compare reads: a .npy memory-mapped (never unpickled), raw f16/f32/f64
    memory-mapped, or decimal text (stdin or a file) parsed exactly (see text_values).
    ``on_error(batch, index, message)`` hears of each text value that cannot be read."""
    import numpy as np

    fmt = input_format or sniff_input(path)
    if fmt == "npy":  # header checked first, never unpickled; big-endian is read too
        arr = open_npy(path)
        view = guess_view(os.path.basename(path), arr.shape) if arr.ndim and axis is None \
            else None
        return Values.of_array(arr, axis, view)
    if fmt in ("f16", "f32", "f64"):
        dt = {"f16": "<f2", "f32": "<f4", "f64": "<f8"}[fmt]
        if path == "-":
            cap = TEXT_VALUES_CAP * 8
            data = sys.stdin.buffer.read(cap + 1)
            if len(data) > cap:
                raise UsageError(f"compare holds stdin in memory, at most {cap:,} bytes; "
                                 "save the array to a file (raw or .npy) instead")
            if len(data) % np.dtype(dt).itemsize:
                raise PrecliError(f"stdin ends with stray bytes: not a whole {fmt} array")
            return Values.of_array(np.frombuffer(data, dtype=dt), axis)
        try:
            return Values.of_array(np.memmap(path, dtype=dt, mode="r"), axis)
        except (OSError, ValueError) as e:
            raise UsageError(f"cannot read {path}: {e}") from None
    if fmt != "text":
        raise UsageError(f"invalid {arg('input_format')} {fmt!r}; choose npy, f16, f32, f64 "
                         "or text")
    if axis is not None:
        raise UsageError(f"{arg('axis')} needs an array with dimensions (.npy); text is one "
                         "row")
    stream: IO[bytes]
    if path == "-":
        stream = sys.stdin.buffer
    else:
        try:
            stream = open(path, "rb")  # noqa: SIM115
        except OSError as e:
            raise UsageError(f"cannot read {path}: {e.strerror}") from None
    return text_values(stream, on_error)


def text_values(stream: IO[bytes], on_error: BadValue | None = None) -> Values:
    """Decimal (or hex-float) text as compare's input: each value's float64 and its exact
    residual, so every rounding is from the exact decimal and every error is measured
    against it. Values beyond float64's range are refused (compare works in float64)."""
    import numpy as np

    from precli.errors import ValueParseError

    vals: list[float] = []
    los: list[float] = []
    blob = bytearray()
    offs = [0]
    failed = 0
    for batch in text_batches(stream):
        for i, tok in enumerate(batch.tokens or []):
            if i in batch.errors:  # a value past the token cap, skipped as it streamed
                if on_error is not None:
                    on_error(batch, i, batch.errors[i])
                failed += 1
                continue
            try:
                v, lo = exact_pair(tok)
            except ValueParseError as e:
                if on_error is not None:
                    on_error(batch, i, str(e))
                failed += 1
                continue
            if len(vals) >= TEXT_VALUES_CAP:
                raise UsageError(f"compare holds text input in memory, at most "
                                 f"{TEXT_VALUES_CAP:,} values; save the array as .npy")
            vals.append(v)
            los.append(lo)
            blob += tok
            offs.append(len(blob))
    if failed:
        raise PrecliError(f"{failed} value(s) could not be read; compare needs a clean array")
    data = bytes(blob)
    off = np.asarray(offs, np.int64)

    def exact(i: int) -> Fraction:
        ev = parse_number(data[off[i]:off[i + 1]].decode())
        return ev.value if ev.kind == "finite" else Fraction(vals[i])

    return Values.of_text(np.asarray(vals, np.float64), np.asarray(los, np.float64), exact)


def exact_pair(tok: bytes) -> tuple[float, float]:
    """(float64 value, float64 of the exact residual) of one token."""
    from precli.errors import ValueParseError

    try:
        text = tok.decode()
    except UnicodeDecodeError:
        raise ValueParseError("not a number (not UTF-8 text)") from None
    ev = parse_number(text)
    if ev.kind == "nan":
        return (-math.nan if ev.negative else math.nan), 0.0
    if ev.kind == "inf":
        return (-math.inf if ev.negative else math.inf), 0.0
    if ev.kind != "finite":
        raise ValueParseError("beyond float64's range: compare works on float64-sized values")
    t = ev.value
    try:
        v = float(t)
    except OverflowError:
        raise ValueParseError("beyond float64's range: compare works on float64-sized "
                              "values") from None
    if v == 0 and t != 0:
        raise ValueParseError("below float64's smallest subnormal: compare works on "
                              "float64-sized values")
    if ev.negative and v == 0:
        v = -0.0
    return v, float(t - Fraction(v)) if t.denominator != 1 or abs(v) >= 2.0**53 else 0.0
