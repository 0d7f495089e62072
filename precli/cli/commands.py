"""Stream runners for encode / decode: batches in, records or bytes out, errors in place.

Called by cli.py when values come from stdin or a file. Every input value produces exactly
one output record, in order; a bad value gets a one-line report on stderr (with its line
number) and an error record in its place, and the run exits 1 at the end (or stops at it
with --strict).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from fractions import Fraction
from typing import IO, Any

from precli.cli.options import StreamSource
from precli.core.formats import FloatFormat, Format
from precli.core.values import EncodeOptions, ErrorRecord
from precli.errors import ExitStatus, PrecliError, UsageError
from precli.stream import batches as bulk
from precli.stream.writers import RESULT_KEYS, OutputEnv, RecordWriter, detect_env, result_record

TABLE_ROWS = 100


def _open(src: StreamSource, dtype: str | None = None,
          ) -> tuple[Iterator[bulk.Batch], IO[bytes] | None]:
    input_format, path, text = src
    if text is not None:
        import io

        return bulk.text_batches(io.BytesIO(text.encode())), None
    if input_format == "npy":
        from precli.stream.packing import opaque_values

        opaque = opaque_values(path, dtype) if path not in (None, "-") else None
        if opaque is not None:  # ml_dtypes' |V items, decoded by --dtype
            return opaque.batches(), None
        return bulk.open_batches("npy", None, path), None
    if dtype is not None:
        raise UsageError("--dtype names the element format of an opaque .npy "
                         "(--input-format npy)")
    if path is None or path == "-":
        return bulk.open_batches(input_format, sys.stdin.buffer, None), None
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    return bulk.open_batches(input_format, f, path), f


def _report(batch: bulk.Batch, i: int, msg: str) -> None:
    from precli.cli.terminal import error_line

    error_line(f"{batch.where(i)} ({batch.shown(i)}): {msg}")


def _mode(env: OutputEnv, output: str | None, allowed: tuple[str, ...]) -> str:
    mode = env.resolve_output(output, allowed)
    if mode == "raw" and env.stdout_isatty:
        raise UsageError("refusing to write binary --output raw to a terminal; redirect it")
    return mode


def stream_encode(fmt: Format, opts: EncodeOptions, src: StreamSource,
                  output: str | None, no_color: bool, strict: bool, pack: bool = False,
                  dtype: str | None = None) -> int:
    env = detect_env(no_color)
    mode = _mode(env, output, ("table", "json", "csv", "plain", "ndjson", "raw"))
    if pack and mode != "raw":
        raise UsageError("--pack applies to --output raw")
    batches, f = _open(src, dtype)
    try:
        if mode in ("plain", "raw"):
            return _encode_bytes(fmt, opts, batches, mode, strict, pack)
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
                  strict: bool, pack: bool = False) -> int:
    raw = None
    if mode == "raw":
        from precli.stream.packing import RawCodes

        raw = RawCodes(fmt, pack)  # tf32 in its fp32 container; --pack: sub-byte layout

    def convert(batch: bulk.Batch) -> tuple[dict[int, str], Any]:
        enc = bulk.encode_batch(fmt, batch, opts)

        def render(stop: int | None) -> bytes:
            e = enc if stop is None else bulk.EncodedBatch(enc.codes[:stop], {})
            return bulk.plain_lines(fmt, e) if raw is None else raw.write(e.codes)

        return enc.errors, render

    return _stream_bytes(batches, convert, strict, raw.finish if raw is not None else None)


def _stream_bytes(batches: Iterator[Any], convert: Any, strict: bool,
                  finish: Any = None) -> int:
    """Write each batch's bytes in order; report its errors (with line numbers) first.
    convert(batch) -> (errors by index, render(stop) -> bytes for values before stop);
    finish() -> the bytes that end the stream (a packed tail)."""
    out = sys.stdout.buffer
    failed = 0
    try:
        failed = _write_batches(out, batches, convert, strict)
    finally:
        if finish is not None:
            out.write(finish())
            out.flush()
    return int(ExitStatus.DATA_ERROR) if failed else 0


def _write_batches(out: IO[bytes], batches: Iterator[Any], convert: Any, strict: bool) -> int:
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
    return failed


def _records(batches: Iterator[Any], make: Any, mode: str, env: OutputEnv,
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
                        _results_table(pending, env)
                        pending = []
            sys.stdout.flush()
    except _Stop:
        pass
    if writer is not None:
        writer.close()
    elif pending:
        _results_table(pending, env)
    return int(ExitStatus.DATA_ERROR) if failed else 0


def _rendered(batches: Iterator[bulk.Batch], render: Any, writer: RecordWriter,
              strict: bool) -> int:
    """Write each batch's rendered records (render(batch) -> slices of them: a str per value,
    an ErrorRecord where one failed) in order, reporting errors; --strict stops before the
    first."""
    failed = 0
    stop = None
    for batch in batches:
        for out in render(batch):
            # a str per record, an ErrorRecord where one failed, or a Block of records
            for i, r in enumerate(out):
                if isinstance(r, ErrorRecord):
                    _report(batch, r.position - batch.start, r.error)
                    failed += 1
                    if strict:
                        stop = i
                        break
                    out[i] = writer.render(result_record(r))
            writer.write_mixed(out if stop is None else out[:stop])
            if stop is not None:
                break
        sys.stdout.flush()
        if stop is not None:
            break
    writer.close()
    return int(ExitStatus.DATA_ERROR) if failed else 0


class _Stop(Exception):
    pass


def _results_table(results: list[Any], env: OutputEnv) -> None:
    from precli.cli import views as render
    from precli.cli.terminal import console

    console(sys.stdout, env.color).print(render.results_table(results))


def stream_decode(fmt: Format, scale: Fraction | None, zero_point: int | None,
                  src: StreamSource, output: str | None, no_color: bool,
                  strict: bool) -> int:
    env = detect_env(no_color)
    mode = _mode(env, output, ("table", "json", "csv", "plain", "ndjson"))
    if src[0] != "text":
        return _decode_binary(fmt, scale, zero_point, src, mode, env, strict)
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


def _decode_binary(fmt: Format, scale: Fraction | None, zero_point: int | None,
                   src: StreamSource, mode: str, env: OutputEnv, strict: bool) -> int:
    """decode --input-format u8|u16|u32|u64|packed|npy: codes already binary."""
    from precli.core.values import DecodeResult, describe_code
    from precli.stream.packing import CODE_INPUT_FORMATS, code_batches

    input_format, path, _ = src
    if isinstance(fmt, FloatFormat) and (scale is not None or zero_point is not None):
        raise UsageError("--scale / --zero-point apply to integer formats and nf4 only")
    if input_format not in CODE_INPUT_FORMATS:
        raise UsageError(f"invalid --input-format {input_format!r} for decode; choose text, "
                         f"{', '.join(CODE_INPUT_FORMATS)}")
    f = None
    stream: IO[bytes] | None = None
    if input_format != "npy":
        if path is None or path == "-":
            stream = sys.stdin.buffer
        else:
            try:
                stream = f = open(path, "rb")  # noqa: SIM115 - closed below
            except OSError as e:
                raise UsageError(f"cannot read {path}: {e.strerror}") from None
    batches = code_batches(fmt, input_format, stream, path)
    try:
        if mode == "plain" and scale is None and zero_point is None:
            texts = bulk.ValueTexts(fmt)

            def convert(b: Any) -> tuple[dict[int, str], Any]:
                def render(stop: int | None) -> bytes:
                    if stop is None:
                        return texts.lines(b.codes, b.errors)
                    return texts.lines(b.codes[:stop], {})

                return b.errors, render

            return _stream_bytes(batches, convert, strict)

        def make(b: Any) -> Iterator[Any]:
            for i, c in enumerate(b.codes.tolist()):
                if i in b.errors:
                    yield ErrorRecord(b.text(i), b.errors[i], b.start + i)
                else:
                    yield DecodeResult(b.text(i), describe_code(fmt, c, scale, zero_point))

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
                             "--input-format f16|f32|f64 for raw values") from None
    return "text"


def load_values(path: str, input_format: str | None, axis: int | None = None) -> Any:
    """What compare reads: a .npy memory-mapped (never unpickled), raw f16/f32/f64
    memory-mapped, or decimal text (stdin or a file) parsed exactly (see text_values)."""
    import numpy as np

    from precli.model.stats import Values

    fmt = input_format or sniff_input(path)
    if fmt == "npy":  # header checked first, never unpickled; big-endian is read too
        return Values.of_array(bulk.open_npy(path), axis)
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
        raise UsageError(f"invalid --input-format {fmt!r}; choose npy, f16, f32, f64 or text")
    if axis is not None:
        raise UsageError("--axis needs an array with dimensions (.npy); text is one row")
    stream: IO[bytes]
    if path == "-":
        stream = sys.stdin.buffer
    else:
        try:
            stream = open(path, "rb")  # noqa: SIM115
        except OSError as e:
            raise UsageError(f"cannot read {path}: {e.strerror}") from None
    return text_values(stream)


def text_values(stream: IO[bytes]) -> Any:
    """Decimal (or hex-float) text as compare's input: each value's float64 and its exact
    residual, so every rounding is from the exact decimal and every error is measured
    against it. Values beyond float64's range are refused (compare works in float64)."""
    import numpy as np

    from precli.core.exact import parse_number
    from precli.errors import ValueParseError
    from precli.model.stats import Values

    vals: list[float] = []
    los: list[float] = []
    blob = bytearray()
    offs = [0]
    failed = 0
    for batch in bulk.text_batches(stream):
        for i, tok in enumerate(batch.tokens or []):
            if i in batch.errors:  # a value past the token cap, skipped as it streamed
                _report(batch, i, batch.errors[i])
                failed += 1
                continue
            try:
                v, lo = _exact_pair(tok, parse_number)
            except ValueParseError as e:
                _report(batch, i, str(e))
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


def _exact_pair(tok: bytes, parse_number: Any) -> tuple[float, float]:
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


class CheckpointOptions:
    """compare's checkpoint options: tensor selection, worker processes, the full list."""

    def __init__(self, include: str | None = None, exclude: str | None = None, jobs: int = 1,
                 show_all: bool = False) -> None:
        self.include, self.exclude, self.jobs, self.show_all = include, exclude, jobs, show_all


def steady_allocator() -> None:
    """Keep freed tile buffers for reuse (glibc): compare allocates and frees temporaries
    of a few hundred kB per tile, which glibc would otherwise return to the kernel (mmap /
    trim) and fault back in, about a million page faults per 10^7 values. A no-op where
    mallopt is not glibc's."""
    import sys as _sys

    if not _sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD (its maximum on 64-bit)
    except (OSError, AttributeError):
        pass


def compare_array_command(path: str, input_format: str | None, names: list[str] | None,
                          mode: str, saturate: bool, scheme: str | None, granularity: str,
                          axis: int | None, block_size: int | None, min_sqnr: float | None,
                          plot: bool, env: OutputEnv, output: str | None,
                          ckpt: CheckpointOptions | None = None) -> int:
    ckpt = ckpt or CheckpointOptions()
    steady_allocator()
    from precli.array.recipes import Defaults
    from precli.core.values import DEFAULT_COMPARE_FORMATS
    from precli.model.stats import RECORD_KEYS, compare_values, pick_cheapest, resolve_recipes

    out_mode = env.resolve_output(output, ("table", "json", "csv", "plain", "ndjson"))
    if plot and out_mode != "table":
        raise UsageError(f"--plot draws a chart in the table view, not in --output {out_mode} "
                         "(add --output table)")
    if granularity not in ("tensor", "channel"):
        raise UsageError(f"invalid --granularity {granularity!r}; choose tensor or channel")
    if scheme is not None and scheme not in ("symmetric", "asymmetric"):
        raise UsageError(f"invalid --scheme {scheme!r}; choose symmetric or asymmetric")
    channel = granularity == "channel"
    d = Defaults(scheme=scheme, granularity=granularity,
                 channel_axis=axis if axis is not None and channel else 0,
                 block_size=64 if block_size is None else block_size)
    recipes = resolve_recipes(names or list(DEFAULT_COMPARE_FORMATS), d)
    _refuse_unused(recipes, saturate, scheme, channel, block_size, mode)
    if input_format is None and sniff_input(path) == "checkpoint":
        return compare_checkpoint(path, recipes, mode, saturate, axis, min_sqnr, plot, env,
                                  out_mode, ckpt)
    if ckpt.include or ckpt.exclude or ckpt.jobs != 1 or ckpt.show_all:
        raise UsageError("--tensors, --exclude, --jobs and --all apply to checkpoints "
                         "(safetensors, GGUF, ONNX, .npz)")
    values = load_values(path, input_format, None if channel else axis)
    if channel and values.ndim < 2:
        raise UsageError("--granularity channel needs an array of 2 or more dimensions; a "
                         "1-D array has no channels")
    kw: dict[str, Any] = dict(mode=mode, saturate=saturate)
    if values.size >= PROGRESS_MIN and _stderr_tty():
        stats = _with_progress(recipes, values, kw, env)
    else:
        stats = compare_values(recipes, values, **kw)
    pick = None
    if min_sqnr is not None:
        import dataclasses

        pick = pick_cheapest(stats, min_sqnr)
        if pick is not None:
            stats[pick] = dataclasses.replace(stats[pick], recommended=True)
    recs = [s.to_record() for s in stats]
    if out_mode == "table":
        from precli.cli import views as render
        from precli.cli.terminal import console

        con = console(sys.stdout, env.color)
        con.print(render.compare_stats_table(path, recs, con.width, min_sqnr))
        if plot:
            con.print(render.magnitude_plot(_histogram(values), _coverages(recipes),
                                            con.width))
    else:
        from precli.stream.writers import dumps, write_table_rows

        if out_mode == "json":
            import json

            sys.stdout.write(json.dumps(recs, indent=2, ensure_ascii=False, allow_nan=False)
                             + "\n")
        elif out_mode == "ndjson":
            for r in recs:
                sys.stdout.write(dumps(r) + "\n")
        else:
            write_table_rows(sys.stdout, out_mode, RECORD_KEYS, recs)
    if min_sqnr is not None and pick is None:
        from precli.cli.terminal import error_line

        error_line(f"no recipe reaches {min_sqnr:g} dB SQNR without losing values")
        return int(ExitStatus.DATA_ERROR)
    return 0


def _refuse_unused(recipes: list[Any], saturate: bool, scheme: str | None, channel: bool,
                   block_size: int | None, mode: str) -> None:
    """Options that would change nothing are refused, as encode refuses them."""
    kinds = {r.kind for r in recipes}
    names = ", ".join(r.text for r in recipes)
    if saturate and "cast" not in kinds:
        raise UsageError(f"--saturate applies to plain casts; {names} scale first and always "
                         "saturate")
    if scheme is not None and not kinds & {"int", "legacy-int"}:
        raise UsageError(f"--scheme applies to integer recipes; none in {names}")
    if channel and "legacy-int" not in kinds:
        raise UsageError("--granularity applies to bare integer names (int8, uint4, ...); "
                         f"none in {names} (use a recipe such as e4m3fn:channel)")
    bare_table = any(r.kind == "table" and ":" not in r.text for r in recipes)
    if block_size is not None and not bare_table:
        raise UsageError(f"--block-size applies to bare nf4; none in {names} (use a recipe "
                         "such as nf4:group128)")
    if mode != "nearest-even" and "cast" not in kinds:
        raise UsageError(f"--round {mode} applies to plain casts; {names} round to "
                         "nearest-even (their published definitions)")


def compare_checkpoint(path: str, recipes: list[Any], mode: str, saturate: bool,
                       axis: int | None, min_sqnr: float | None, plot: bool, env: OutputEnv,
                       out_mode: str, ckpt: CheckpointOptions) -> int:
    """Every tensor of a checkpoint under each recipe, then the model-wide summary."""
    import dataclasses

    from precli.model.analyze import CHECKPOINT_KEYS, analyze
    from precli.model.stats import pick_cheapest
    from precli.sources import open_checkpoint

    if axis is not None:
        raise UsageError("--axis does not apply to checkpoints: their tensors are blocked "
                         "along the last axis (the input dimension of a PyTorch weight)")
    if plot:
        raise UsageError("--plot charts one array; compare one tensor saved as .npy")
    ck = open_checkpoint(path)
    kw: dict[str, Any] = dict(include=ckpt.include, exclude=ckpt.exclude, jobs=ckpt.jobs,
                              mode=mode, saturate=saturate, checkpoint=ck)
    if _stderr_tty():
        report = _checkpoint_progress(path, ck, recipes, kw, env)
    else:
        report = analyze(path, recipes, **kw)
    if not report.tensors and not report.errors:
        raise UsageError(f"no tensor of {path} matches --tensors / --exclude")
    pick = None
    if min_sqnr is not None:
        pick = pick_cheapest(report.summary, min_sqnr)
        if pick is not None:
            report.summary[pick] = dataclasses.replace(report.summary[pick], recommended=True)
    if out_mode == "table":
        from precli.cli import views as render
        from precli.cli.terminal import console

        con = console(sys.stdout, env.color)
        con.print(render.checkpoint_view(report, con.width, ckpt.show_all, min_sqnr))
    else:
        from precli.stream.writers import write_table_rows

        write_table_rows(sys.stdout, out_mode, CHECKPOINT_KEYS, report.records())
    from precli.cli.terminal import error_line

    for e in report.errors:
        error_line(e)
    if min_sqnr is not None and pick is None:
        error_line(f"no recipe reaches {min_sqnr:g} dB SQNR over the model without losing "
                   "values")
        return int(ExitStatus.DATA_ERROR)
    return int(ExitStatus.DATA_ERROR) if report.errors else 0


def _checkpoint_progress(path: str, ck: Any, recipes: list[Any], kw: dict[str, Any],
                         env: OutputEnv) -> Any:
    """analyze() with a Rich progress bar on stderr: tensors done, bytes per second, ETA."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from precli.model.analyze import analyze
    from precli.model.pool import select_tensors

    todo = [t for t in select_tensors(list(ck.tensors()), kw["include"], kw["exclude"])
            if t.skip is None]
    con = Console(file=sys.stderr, no_color=not env.color)
    with Progress(TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.fields[tensors]}/" + f"{len(todo)} tensors"),
                  TransferSpeedColumn(), TimeRemainingColumn(), console=con,
                  transient=True) as prog:
        task = prog.add_task("comparing", total=sum(t.nbytes for t in todo) or 1, tensors=0)

        def tick(n: int, nbytes: int) -> None:
            prog.update(task, completed=nbytes, tensors=n)

        return analyze(path, recipes, progress=tick, **kw)


PROGRESS_MIN = 1 << 22  # values; smaller arrays finish before a bar would help


def _stderr_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _with_progress(recipes: list[Any], values: Any, kw: dict[str, Any], env: OutputEnv) -> Any:
    """compare_values with a Rich progress bar on stderr (only when stderr is a terminal);
    every pass over the data counts, so the bar only moves forward."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

    from precli.model.stats import compare_values

    passes = 2 if any(r.needs_scan for r in recipes) else 1
    con = Console(file=sys.stderr, no_color=not env.color)
    with Progress("[progress.description]{task.description}", BarColumn(),
                  TaskProgressColumn(), TimeRemainingColumn(), console=con,
                  transient=True) as prog:
        task = prog.add_task("casting", total=values.size * passes)
        return compare_values(recipes, values, progress=lambda n: prog.advance(task, n), **kw)


def _histogram(values: Any) -> Any:
    from precli.model.histogram import MagnitudeHistogram

    h = MagnitudeHistogram()
    for r0 in range(0, values.rows, max(1, (1 << 15) // max(values.cols, 1))):
        r1 = min(values.rows, r0 + max(1, (1 << 15) // max(values.cols, 1)))
        h.add(values.tile(r0, r1, 0, values.cols)[0])
    return h


def _coverages(recipes: list[Any]) -> list[Any]:
    """Plot columns: the plain float casts among the recipes (scaled recipes adapt to the
    data, so a fixed range would say nothing about them)."""
    from precli.core.formats import FloatFormat
    from precli.model.histogram import coverage

    return [coverage(r.element) for r in recipes
            if r.kind == "cast" and isinstance(r.element, FloatFormat)]


BLOCK_RECORD_KEYS = ("input", "format", "block", "hex", "scale_hex", "tensor_scale",
                     "tensor_scale_hex", "value", "abs_error")


def encode_blocks(bfmt: Any, values: list[str], src: StreamSource | None,
                  output: str | None, no_color: bool, pack: bool = False) -> int:
    """Encode an array into a block-scaled format (mxfp4, nvfp4, ...): blocks need their
    neighbours, so the whole input is read first. Decimal text keeps its exact value:
    scales and elements are rounded from it, and abs_error is measured against it."""
    import numpy as np

    from precli.array.recipes import block_quantize

    env = detect_env(no_color)
    mode = _mode(env, output, ("table", "json", "csv", "plain", "ndjson", "raw"))
    texts: list[str] = []
    exact: Any = None
    los: Any = None
    if src is None:
        texts = list(values)
        from precli.core.exact import parse_number
        from precli.errors import ValueParseError

        pairs = []
        for tx in texts:
            try:
                pairs.append(_exact_pair(tx.encode(), parse_number))
            except ValueParseError as e:
                raise UsageError(f"{tx!r}: {e} (block formats need a clean array)") from None
        vals = np.array([p[0] for p in pairs], np.float64)
        los = np.array([p[1] for p in pairs], np.float64)

        def exact(i: int, j: int) -> Fraction:
            ev = parse_number(texts[j])
            return ev.value if ev.kind == "finite" else Fraction(float(vals[j]))
    elif src[0] == "text":
        tv = load_values(src[1] or "-", "text")
        vals = np.zeros(0)
        if tv.size:
            vals, lo2, exact = tv.tile(0, 1, 0, tv.cols)
            vals, los = vals.reshape(-1), lo2.reshape(-1) if lo2 is not None else None
    else:
        vals = np.asarray(load_values(src[1] or "-", src[0]).tile(0, 1 << 62, 0, 1 << 62)[0],
                          np.float64).reshape(-1)
    r = block_quantize(bfmt, vals, exact=exact)
    codes = np.asarray(r.element_codes).reshape(-1)
    if mode == "raw":
        from precli.stream.packing import block_raw_bytes

        sys.stdout.buffer.write(block_raw_bytes(
            codes, bfmt.element_format.bits, r.scale_codes,
            r.tensor_scale if bfmt.kind == "nvfp4" else None, pack))
        return 0
    width = (bfmt.element_format.bits + 3) // 4
    swidth = (bfmt.scale_format.bits + 3) // 4
    scodes = np.asarray(r.scale_codes).reshape(-1).tolist()
    deq = r.dequant.reshape(-1).tolist()
    lo_list = los.tolist() if los is not None else [0.0] * len(deq)
    ts = r.tensor_scale if bfmt.kind == "nvfp4" else None
    ts_hex = None
    if ts is not None:
        from precli.stream.packing import nvfp4_tensor_scale_fields

        ts_hex = nvfp4_tensor_scale_fields(ts)["tensor_scale_hex"]
    recs = []
    for i, c in enumerate(codes.tolist()):
        x = float(vals[i])
        q = deq[i]
        err = abs((q - x) + lo_list[i]) if math.isfinite(q) and math.isfinite(x) else None
        recs.append({
            "input": texts[i] if texts else repr(x),
            "format": bfmt.name,
            "block": i // bfmt.block_size,
            "hex": f"0x{c:0{width}x}",
            "scale_hex": f"0x{scodes[i // bfmt.block_size]:0{swidth}x}",
            "tensor_scale": ts,
            "tensor_scale_hex": ts_hex,
            "value": repr(q) if q == q else "nan",
            "abs_error": err,
        })
    if mode == "table":
        from precli.cli.terminal import console
        from precli.cli.views import new_table

        keys = [k for k in BLOCK_RECORD_KEYS
                if k not in ("tensor_scale", "tensor_scale_hex", "format")]  # in the title
        title = f"{bfmt.name}: {len(recs)} values in {len(scodes)} block(s)"
        if ts is not None:
            title += f", tensor scale {ts!r} (fp32)"
        t = new_table(title=title, box="simple_head", pad_edge=False, collapse_padding=True)
        heads = {"scale_hex": "scale", "abs_error": "abs error"}
        for k in keys:
            t.add_column(heads.get(k, k), justify="left" if k == "input" else "right",
                         no_wrap=k != "input")
        for rec in recs:
            t.add_row(*("" if rec[k] is None else f"{rec[k]:.4g}" if k == "abs_error"
                        else str(rec[k]) for k in keys))
        console(sys.stdout, env.color).print(t)
        return 0
    if mode == "plain":
        sys.stdout.write("".join(rec["hex"] + "\n" for rec in recs))
        return 0
    from precli.stream.writers import dumps, write_table_rows

    if mode == "ndjson":
        sys.stdout.write("".join(dumps(rec) + "\n" for rec in recs))
    else:
        write_table_rows(sys.stdout, mode, BLOCK_RECORD_KEYS, recs, single=len(recs) == 1)
    return 0




# ---------------------------------------------------------------- plan


EMITS = ("llama-quantize", "yaml")


def plan_command(path: str, names: list[str], budget: Any, keeps: list[str],
                 objective: str, default_pins: bool, offer_stored: bool, scheme: str | None,
                 emit: str | None,
                 ckpt: CheckpointOptions, env: OutputEnv, out_mode: str | None) -> int:
    """One recipe per tensor under a budget: analyze the checkpoint once, solve, write."""
    from precli.array.recipes import Defaults, parse_recipe
    from precli.cli.terminal import error_line, note_line
    from precli.model import plan as planmod
    from precli.model.analyze import analyze
    from precli.model.stats import resolve_recipes
    from precli.sources import open_checkpoint

    if emit is not None and emit not in EMITS:
        raise UsageError(f"invalid --emit {emit!r}; choose {' or '.join(EMITS)}")
    if emit is not None and out_mode is not None:
        raise UsageError("--emit writes its own format; leave out --output")
    if scheme is not None and scheme not in ("symmetric", "asymmetric"):
        raise UsageError(f"invalid --scheme {scheme!r}; choose symmetric or asymmetric")
    if objective not in ("error", "worst"):
        raise UsageError(f"invalid --objective {objective!r}; choose error or worst")
    if objective == "worst" and budget.cap(1) is None:
        raise UsageError("--objective worst needs a size budget (--bits or --size)")
    mode = "emit" if emit else env.resolve_output(out_mode, ("table", "json", "csv", "plain"))
    defaults = Defaults(scheme=scheme)
    recipes = resolve_recipes(names, defaults)
    keep_rules = [planmod.parse_keep(k, lambda t: parse_recipe(t, defaults).text)
                  for k in keeps]
    if emit == "llama-quantize":
        planmod.check_ggml(recipes)
    ck = open_checkpoint(path)
    kw: dict[str, Any] = dict(include=ckpt.include, exclude=ckpt.exclude, jobs=ckpt.jobs,
                              checkpoint=ck)
    if _stderr_tty():
        report = _checkpoint_progress(path, ck, recipes, kw, env)
    else:
        report = analyze(path, recipes, **kw)
    if report.errors:
        for e in report.errors:
            error_line(e)
        raise planmod.PlanError(f"cannot plan {path}: {len(report.errors)} tensor(s) or "
                                "file(s) could not be read (above); a plan must cover them all")
    if not report.tensors:
        raise UsageError(f"no tensor of {path} matches --tensors / --exclude")
    plan = planmod.make_plan(report, recipes, budget, keep_rules, objective, default_pins,
                             offer_stored)
    out = sys.stdout
    if mode == "table":
        from precli.cli import plan_view as render_plan
        from precli.cli.terminal import console

        con = console(out, env.color)
        con.print(render_plan.plan_view(plan, con.width))
        return 0
    _plan_notes(plan, note_line)
    if mode == "json":
        import json

        out.write(json.dumps(planmod.plan_record(plan), indent=2, ensure_ascii=False,
                             allow_nan=False) + "\n")
    elif mode in ("csv", "plain"):
        from precli.stream.writers import write_table_rows

        rows = planmod.plan_record(plan)["tensors"]
        keys = ("tensor", "recipe", "params", "bits_per_value", "sqnr_db", "dtype", "bits",
                "error", "pinned")
        if mode == "plain":
            for r in rows:
                out.write(f"{r['tensor']}\t{r['recipe']}\n")
        else:
            write_table_rows(out, "csv", keys, rows)
    elif emit == "yaml":
        out.write(planmod.yaml_map(plan))
    else:
        text, ragged = planmod.llama_quantize_args(plan, recipes)
        out.write(text)
        if report.kind != "gguf":
            note_line(f"the patterns match the tensor names of {path} ({report.kind}); "
                      "llama-quantize sees the names convert_hf_to_gguf.py gives them "
                      "(blk.N.attn_q.weight, ...): plan the converted F32/F16/BF16 .gguf for "
                      "arguments that match")
        if ragged:
            note_line(f"{len(ragged)} tensor(s) have rows that are not a multiple of 32 "
                      f"(e.g. {ragged[0]}): llama-quantize stores them in a fallback type")
    return 0


def _plan_notes(plan: Any, note: Any) -> None:
    """What was pinned and why, what was skipped, and a stopped search: one line each."""
    from collections import Counter

    why = Counter(r for _n, _c, r in plan.pins())
    for reason, n in why.items():
        note(f"pinned {n} tensor(s): {reason}")
    if plan.skipped:
        note(f"skipped {len(plan.skipped)} tensor(s) that cannot be cast (not in the plan)")
    s = plan.solution
    if not s.optimal:
        note(f"the search stopped after {s.nodes:,} states: the optimum is at least "
             f"{float(s.bound):.6g} (this plan: {float(s.objective):.6g})")
