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


#: A source of "args": the command-line values themselves, as one text stream.
ARGS = "args"


def _open(src: tuple[str, str | None]) -> tuple[Iterator[bulk.Batch], IO[bytes] | None]:
    input_format, path = src
    if input_format == ARGS:
        import io

        return bulk.text_batches(io.BytesIO((path or "").encode())), None
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

    error_line(f"{batch.where(i)} ({batch.shown(i)}): {msg}")


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
        if mode != "table":
            writer = RecordWriter(sys.stdout, mode, RESULT_KEYS, "hex")
            texts = bulk.RecordTexts(fmt, writer, opts)
            return _rendered(batches, lambda b: texts.encode(b, bulk.encode_batch(fmt, b, opts)),
                             writer, strict)
        return _records(batches, lambda b: bulk.encode_records(fmt, b, opts), mode, env, "hex",
                        strict)
    finally:
        if f is not None:
            f.close()


def _encode_bytes(fmt: Format, opts: EncodeOptions, batches: Iterator[bulk.Batch], mode: str,
                  strict: bool) -> int:
    def convert(batch: bulk.Batch) -> tuple[dict[int, str], Any]:
        enc = bulk.encode_batch(fmt, batch, opts)

        def render(stop: int | None) -> bytes:
            e = enc if stop is None else bulk.EncodedBatch(enc.codes[:stop], {})
            return bulk.plain_lines(fmt, e) if mode == "plain" else bulk.raw_bytes(fmt, e)

        return enc.errors, render

    return _stream_bytes(batches, convert, strict)


def _stream_bytes(batches: Iterator[bulk.Batch], convert: Any, strict: bool) -> int:
    """Write each batch's bytes in order; report its errors (with line numbers) first.
    convert(batch) -> (errors by index, render(stop) -> bytes for values before stop)."""
    out = sys.stdout.buffer
    failed = 0
    for batch in batches:
        errors, render = convert(batch)
        stop = None
        for i in sorted(errors):
            _report(batch, i, errors[i])
            failed += 1
            if strict:
                stop = i
                break
        out.write(render(stop))
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


def _rendered(batches: Iterator[bulk.Batch], render: Any, writer: RecordWriter,
              strict: bool) -> int:
    """Write each batch's rendered records (render(batch) -> slices of them: a str per value,
    an ErrorRecord where one failed) in order, reporting errors; --strict stops before the
    first."""
    failed = 0
    stop = None
    for batch in batches:
        at = 0
        for out in render(batch):
            for i, r in enumerate(out):
                if isinstance(r, ErrorRecord):
                    _report(batch, at + i, r.error)
                    failed += 1
                    if strict:
                        stop = i
                        break
                    out[i] = writer.render(result_record(r))
            writer.write_many(out if stop is None else out[:stop])
            at += len(out)
            if stop is not None:
                break
        sys.stdout.flush()
        if stop is not None:
            break
    writer.close()
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

        if mode != "table":
            writer = RecordWriter(sys.stdout, mode, RESULT_KEYS, "value")
            texts = bulk.RecordTexts(fmt, writer, scale=scale, zero_point=zero_point)
            return _rendered(batches, lambda b: texts.decode(b, bulk.decode_codes(fmt, b)),
                             writer, strict)

        def make(b: bulk.Batch) -> Iterator[Any]:
            return bulk.decode_records(fmt, b, bulk.decode_codes(fmt, b), scale, zero_point)

        return _records(batches, make, mode, env, "value", strict)
    finally:
        if f is not None:
            f.close()


def _decode_plain(fmt: Format, batches: Iterator[bulk.Batch], strict: bool) -> int:
    texts = bulk.ValueTexts(fmt)

    def convert(batch: bulk.Batch) -> tuple[dict[int, str], Any]:
        dec = bulk.decode_codes(fmt, batch)

        def render(stop: int | None) -> bytes:
            if stop is None:
                return texts.lines(dec.codes, dec.errors)
            return texts.lines(dec.codes[:stop], {})

        return dec.errors, render

    return _stream_bytes(batches, convert, strict)


def load_array(path: str, input_format: str | None) -> Any:
    """An array to compare: .npy memory-mapped (never unpickled), raw f16/f32/f64
    memory-mapped, or text (stdin or a file) parsed to float64 and held in memory."""
    import numpy as np

    fmt = input_format or ("npy" if path.endswith(".npy") else "text" if path == "-" else None)
    if fmt is None:
        raise UsageError(f"cannot tell the type of {path!r}: pass --input-format "
                         "npy|f16|f32|f64|text")
    if fmt == "npy":
        batches = bulk.npy_batches(path)  # validates: no pickles, numeric dtype
        next(iter(batches), None)
        return np.load(path, mmap_mode="r", allow_pickle=False)
    if fmt in ("f16", "f32", "f64"):
        dt = {"f16": "<f2", "f32": "<f4", "f64": "<f8"}[fmt]
        if path == "-":
            data = sys.stdin.buffer.read()
            if len(data) % np.dtype(dt).itemsize:
                raise UsageError(f"stdin ends with stray bytes: not a whole {fmt} array")
            return np.frombuffer(data, dtype=dt)
        try:
            return np.memmap(path, dtype=dt, mode="r")
        except (OSError, ValueError) as e:
            raise UsageError(f"cannot read {path}: {e}") from None
    if fmt != "text":
        raise UsageError(f"invalid --input-format {fmt!r}; choose npy, f16, f32, f64 or text")
    stream: IO[bytes]
    if path == "-":
        stream = sys.stdin.buffer
    else:
        try:
            stream = open(path, "rb")  # noqa: SIM115
        except OSError as e:
            raise UsageError(f"cannot read {path}: {e.strerror}") from None
    parts = []
    failed = 0
    for batch in bulk.text_batches(stream):
        toks = batch.tokens or []
        vals, bad = bulk._parse_floats(toks)
        for i in bad:
            _report(batch, i, f"not a number: {batch.text(i)!r}")
            failed += 1
        if bad:
            vals = np.delete(vals, bad)
        parts.append(vals)
    if failed:
        raise UsageError(f"{failed} value(s) did not parse; compare needs a clean array")
    return np.concatenate(parts) if parts else np.zeros(0)


def compare_array_command(path: str, input_format: str | None, names: list[str] | None,
                          mode: str, saturate: bool, scheme: str, granularity: str, axis: int,
                          block_size: int, plot: bool, env: OutputEnv,
                          output: str | None) -> int:
    from precli.analysis import DEFAULT_COMPARE_FORMATS
    from precli.compare import RECORD_KEYS, compare_array

    out_mode = env.resolve_output(output, ("table", "json", "csv", "plain", "ndjson"))
    arr = load_array(path, input_format)
    targets = names or list(DEFAULT_COMPARE_FORMATS)
    kw: dict[str, Any] = dict(scheme=scheme, granularity=granularity,
                              axis=axis if granularity == "channel" else None,
                              block_size=block_size, mode=mode, saturate=saturate)
    if granularity == "tensor" and arr.size >= PROGRESS_MIN and _stderr_tty():
        stats = _with_progress(targets, arr, kw, env)
    else:
        stats = compare_array(targets, arr, **kw)
    recs = [s.to_record() for s in stats]
    if out_mode == "table":
        from precli import render
        from precli.cli import console

        con = console(sys.stdout, env.color)
        con.print(render.compare_stats_table(path, recs, con.width, scheme))
        if plot:
            con.print(render.magnitude_plot(_histogram(arr), _coverages(targets), con.width))
        return 0
    from precli.streams import dumps, write_table_rows

    if out_mode == "json":
        import json

        sys.stdout.write(json.dumps(recs, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    elif out_mode == "ndjson":
        for r in recs:
            sys.stdout.write(dumps(r) + "\n")
    else:
        write_table_rows(sys.stdout, out_mode, RECORD_KEYS, recs)
    return 0


PROGRESS_MIN = 1 << 22  # values; smaller arrays finish before a bar would help


def _stderr_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _with_progress(targets: list[str], arr: Any, kw: dict[str, Any], env: OutputEnv) -> Any:
    """compare_array with a Rich progress bar on stderr (only when stderr is a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

    from precli.compare import compare_array, iter_blocks

    con = Console(file=sys.stderr, no_color=not env.color)
    with Progress("[progress.description]{task.description}", BarColumn(),
                  TaskProgressColumn(), TimeRemainingColumn(), console=con,
                  transient=True) as prog:
        task = prog.add_task("casting", total=None)

        def chunks() -> Any:
            prog.update(task, total=(prog.tasks[0].total or 0) + arr.size)
            for piece, _ in iter_blocks(arr):
                yield piece
                prog.advance(task, piece.size)

        return compare_array(targets, chunks, **kw)  # type: ignore[arg-type]  # a callable source is documented


def _histogram(arr: Any) -> Any:
    from precli.compare import iter_blocks
    from precli.plot import MagnitudeHistogram

    h = MagnitudeHistogram()
    for piece, _ in iter_blocks(arr):
        h.add(piece)
    return h


def _coverages(names: list[str]) -> list[Any]:
    """Plot columns: the float formats among the targets (scaled formats adapt to the data,
    so a fixed range would say nothing about them)."""
    from precli.formats import FloatFormat, get_format
    from precli.plot import coverage
    from precli.quantize import is_block_format

    fmts = [get_format(n) for n in names if not is_block_format(n)]
    return [coverage(f) for f in fmts if isinstance(f, FloatFormat)]


BLOCK_RECORD_KEYS = ("input", "format", "block", "hex", "scale_hex", "value", "abs_error")


def encode_blocks(bfmt: Any, values: list[str], src: tuple[str, str | None] | None,
                  output: str | None, no_color: bool) -> int:
    """Encode an array into a block-scaled format (mxfp4, nvfp4, ...): blocks need their
    neighbours, so the whole input is read first. Values are parsed to float64 (the block
    scales are float64 arithmetic too)."""
    import numpy as np

    from precli.quantize import block_quantize

    env = detect_env(no_color)
    mode = _mode(env, output, ("table", "json", "csv", "plain", "ndjson", "raw"))
    texts: list[str] = []
    if src is None:
        texts = list(values)
        vals = np.array([_float_or_error(t) for t in texts], np.float64)
    elif src[0] == "npy":
        vals = np.asarray(load_array(src[1] or "-", "npy"), np.float64).reshape(-1)
    elif src[0] in ("f16", "f32", "f64"):
        vals = np.asarray(load_array(src[1] or "-", src[0]), np.float64).reshape(-1)
    else:
        vals = np.asarray(load_array(src[1] or "-", "text"), np.float64).reshape(-1)
    r = block_quantize(bfmt, vals)
    codes = np.asarray(r.element_codes).reshape(-1)
    if mode == "raw":
        sys.stdout.buffer.write(codes.astype(np.uint8).tobytes())
        return 0
    width = (bfmt.element_format.bits + 3) // 4
    swidth = (bfmt.scale_format.bits + 3) // 4
    scodes = np.asarray(r.scale_codes).reshape(-1).tolist()
    deq = r.dequant.reshape(-1).tolist()
    recs = []
    for i, c in enumerate(codes.tolist()):
        x = float(vals[i])
        q = deq[i]
        recs.append({
            "input": texts[i] if texts else repr(x),
            "format": bfmt.name,
            "block": i // bfmt.block_size,
            "hex": f"0x{c:0{width}x}",
            "scale_hex": f"0x{scodes[i // bfmt.block_size]:0{swidth}x}",
            "value": repr(q) if q == q else "nan",
            "abs_error": abs(q - x) if q == q and x == x and abs(q - x) != float("inf")
            else None,
        })
    if mode == "table":
        from rich.table import Table

        from precli.cli import console

        t = Table(title=f"{bfmt.name}: {len(recs)} values in {len(scodes)} block(s)")
        for k in BLOCK_RECORD_KEYS:
            t.add_column(k)
        for rec in recs:
            t.add_row(*("" if rec[k] is None else str(rec[k]) for k in BLOCK_RECORD_KEYS))
        console(sys.stdout, env.color).print(t)
        return 0
    if mode == "plain":
        sys.stdout.write("".join(rec["hex"] + "\n" for rec in recs))
        return 0
    from precli.streams import dumps, write_table_rows

    if mode == "ndjson":
        sys.stdout.write("".join(dumps(rec) + "\n" for rec in recs))
    else:
        write_table_rows(sys.stdout, mode, BLOCK_RECORD_KEYS, recs, single=len(recs) == 1)
    return 0


def _float_or_error(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"not a number: {text!r} (block formats need a clean array)") from None
