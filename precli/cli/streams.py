"""Stream runners for encode / decode: batches in, records or bytes out, errors in place.

Called by the app when values come from stdin or a file. Every input value produces
exactly one output record, in order; a bad value gets a one-line report on stderr (with its
line number) and an error record in its place, and the run exits 1 at the end (or stops at
it with --strict). Block formats (mxfp4, nvfp4, ...) encode whole blocks here too.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from fractions import Fraction
from typing import IO, TYPE_CHECKING, Any

from precli.cli.options import StreamSource
from precli.cli.terminal import OutputEnv, detect_env
from precli.core.formats import Format
from precli.core.values import EncodeOptions, ErrorRecord
from precli.errors import ExitStatus, UsageError
from precli.model import inputs
from precli.stream import batches as bulk
from precli.stream.writers import RESULT_KEYS, RecordWriter, result_record

if TYPE_CHECKING:
    from precli.core.formats import BlockFormat

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
    if path is None or path == "-":
        return bulk.open_batches(input_format, sys.stdin.buffer, None), None
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    return bulk.open_batches(input_format, f, path), f


def report(batch: bulk.Batch, i: int, msg: str) -> None:
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
    opts = opts.seeded()  # one seed for the whole stream
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
            report(batch, i, errors[i])
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
                    report(batch, i, r.error)
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
                    report(batch, r.position - batch.start, r.error)
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


BLOCK_RECORD_KEYS = ("input", "format", "block", "hex", "scale_hex", "tensor_scale",
                     "tensor_scale_hex", "value", "abs_error")


def encode_blocks(bfmt: BlockFormat, values: list[str], src: StreamSource | None,
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
                pairs.append(inputs.exact_pair(tx.encode()))
            except ValueParseError as e:
                raise UsageError(f"{tx!r}: {e} (block formats need a clean array)") from None
        vals = np.array([p[0] for p in pairs], np.float64)
        los = np.array([p[1] for p in pairs], np.float64)

        def exact(i: int, j: int) -> Fraction:
            ev = parse_number(texts[j])
            return ev.value if ev.kind == "finite" else Fraction(float(vals[j]))
    elif src[0] == "text":
        tv = inputs.load_values(src[1] or "-", "text", on_error=report)
        vals = np.zeros(0)
        if tv.size:
            vals, lo2, exact = tv.tile(0, 1, 0, tv.cols)
            vals, los = vals.reshape(-1), lo2.reshape(-1) if lo2 is not None else None
    else:
        whole = inputs.load_values(src[1] or "-", src[0], on_error=report)
        vals = np.asarray(whole.tile(0, 1 << 62, 0, 1 << 62)[0], np.float64).reshape(-1)
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
        sys.stdout.write("".join(f"{rec['hex']}\n" for rec in recs))
        return 0
    from precli.stream.writers import dumps, write_table_rows

    if mode == "ndjson":
        sys.stdout.write("".join(dumps(rec) + "\n" for rec in recs))
    else:
        write_table_rows(sys.stdout, mode, BLOCK_RECORD_KEYS, recs, single=len(recs) == 1)
    return 0




# ---------------------------------------------------------------- plan
