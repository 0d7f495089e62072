"""Stream runners for encode / decode: batches in, records or bytes out, errors in place.

Called by cli.py when values come from stdin or a file. Every input value produces exactly
one output record, in order; a bad value gets a one-line report on stderr (with its line
number) and an error record in its place, and the run exits 1 at the end (or stops at it
with --strict).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from fractions import Fraction
from typing import IO, Any

from precli import bulk
from precli.analysis import EncodeOptions, ErrorRecord
from precli.errors import ExitStatus, UsageError
from precli.formats import Format
from precli.streams import RESULT_KEYS, OutputEnv, RecordWriter, detect_env, result_record

TABLE_ROWS = 100


def _open(src: tuple[str, str | None]) -> tuple[Iterator[bulk.Batch], IO[bytes] | None]:
    input_format, path = src
    if input_format == "npy":
        return bulk.open_batches("npy", None, path), None
    if path is None or path == "-":
        return bulk.open_batches(input_format, sys.stdin.buffer, None), None
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    return bulk.open_batches(input_format, f, path), f


def _report(batch: bulk.Batch, i: int, msg: str) -> None:
    from precli.cli import error_line

    error_line(f"{batch.where(i)} ({batch.text(i)!r}): {msg}")


def _mode(env: OutputEnv, output: str | None, allowed: tuple[str, ...]) -> str:
    mode = env.resolve_output(output, allowed)
    if mode == "raw" and env.stdout_isatty:
        raise UsageError("refusing to write binary --output raw to a terminal; redirect it")
    return mode


def stream_encode(fmt: Format, opts: EncodeOptions, src: tuple[str, str | None],
                  output: str | None, no_color: bool, strict: bool) -> int:
    env = detect_env(no_color)
    mode = _mode(env, output, ("table", "json", "csv", "plain", "ndjson", "raw"))
    batches, f = _open(src)
    try:
        if mode in ("plain", "raw"):
            return _encode_bytes(fmt, opts, batches, mode, strict)
        return _records(batches, lambda b: bulk.encode_records(fmt, b, opts), mode, env, "hex",
                        strict)
    finally:
        if f is not None:
            f.close()


def _encode_bytes(fmt: Format, opts: EncodeOptions, batches: Iterator[bulk.Batch], mode: str,
                  strict: bool) -> int:
    out = sys.stdout.buffer
    failed = 0
    for batch in batches:
        enc = bulk.encode_batch(fmt, batch, opts)
        stop = None
        for i in sorted(enc.errors):
            _report(batch, i, enc.errors[i])
            failed += 1
            if strict:
                stop = i
                break
        if stop is not None:
            enc = bulk.EncodedBatch(enc.codes[:stop], {})
        out.write(bulk.plain_lines(fmt, enc) if mode == "plain" else bulk.raw_bytes(fmt, enc))
        out.flush()
        if stop is not None:
            break
    return int(ExitStatus.DATA_ERROR) if failed else 0


def _records(batches: Iterator[bulk.Batch], make: Any, mode: str, env: OutputEnv,
             plain_key: str, strict: bool) -> int:
    failed = 0
    writer = None if mode == "table" else RecordWriter(sys.stdout, mode, RESULT_KEYS, plain_key)
    pending: list[Any] = []
    try:
        for batch in batches:
            for i, r in enumerate(make(batch)):
                if isinstance(r, ErrorRecord):
                    _report(batch, i, r.error)
                    failed += 1
                    if strict:
                        raise _Stop
                if writer is not None:
                    writer.write(result_record(r))
                elif not isinstance(r, ErrorRecord):
                    pending.append(r)
                    if len(pending) >= TABLE_ROWS:
                        _table(pending, env)
                        pending = []
            sys.stdout.flush()
    except _Stop:
        pass
    if writer is not None:
        writer.close()
    elif pending:
        _table(pending, env)
    return int(ExitStatus.DATA_ERROR) if failed else 0


class _Stop(Exception):
    pass


def _table(results: list[Any], env: OutputEnv) -> None:
    from precli import render
    from precli.cli import console

    console(sys.stdout, env.color).print(render.results_table(results))


def stream_decode(fmt: Format, scale: Fraction | None, zero_point: int | None,
                  src: tuple[str, str | None], output: str | None, no_color: bool,
                  strict: bool) -> int:
    env = detect_env(no_color)
    mode = _mode(env, output, ("table", "json", "csv", "plain", "ndjson"))
    if src[0] != "text":
        raise UsageError("decode reads codes as text")
    batches, f = _open(src)
    try:
        if mode == "plain" and scale is None and zero_point is None:
            return _decode_plain(fmt, batches, strict)

        def make(b: bulk.Batch) -> Iterator[Any]:
            return bulk.decode_records(fmt, b, bulk.decode_codes(fmt, b), scale, zero_point)

        return _records(batches, make, mode, env, "value", strict)
    finally:
        if f is not None:
            f.close()


def _decode_plain(fmt: Format, batches: Iterator[bulk.Batch], strict: bool) -> int:
    out = sys.stdout.buffer
    texts = bulk.ValueTexts(fmt)
    failed = 0
    for batch in batches:
        dec = bulk.decode_codes(fmt, batch)
        stop = None
        for i in sorted(dec.errors):
            _report(batch, i, dec.errors[i])
            failed += 1
            if strict:
                stop = i
                break
        if stop is not None:
            dec = bulk.DecodedBatch(dec.codes[:stop], {})
        out.write(texts.lines(dec.codes, dec.errors))
        out.flush()
        if stop is not None:
            break
    return int(ExitStatus.DATA_ERROR) if failed else 0


def compare_array_command(*args: Any) -> int:
    raise UsageError("comparing arrays is not available yet")
