"""Values given on the command line, one result each: ``encode`` / ``decode`` of a few
values, and ``compare`` of numbers in every format. Every value gets its result or its
error line, in order."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from precli.cli.terminal import OutputEnv, console, detect_env, error_line
from precli.errors import ExitStatus, PrecliError, UsageError

if TYPE_CHECKING:
    from precli.core.formats import Format
    from precli.core.values import EncodeOptions


def _file_hint(text: str) -> str:
    """' (to read the file NAME, use --input NAME)' when a value that failed is a file's name."""
    if os.path.isfile(text) or text.lower().endswith((".npy", ".txt", ".csv", ".bin")):
        return f" (to read the file {text}, use --input {text})"
    return ""


def run_values(items: list[str] | tuple[str, ...], fn: Callable[[str, int], Any],
               output: str | None, no_color: bool, plain_key: str, strict: bool = False,
               raw_ok: bool = True, quantized: bool = False) -> int:
    """Run fn over the values in order; one result per value, errors keep their place.
    Returns the exit status."""
    from precli.core.exact import shown_text
    from precli.core.values import ErrorRecord
    from precli.stream.writers import OUTPUT_MODES, RESULT_KEYS, RecordWriter, result_record

    env = detect_env(no_color)
    mode = env.resolve_output(output, OUTPUT_MODES if raw_ok else OUTPUT_MODES[:-1])
    failed = 0
    results: list[Any] = []
    writer = None
    if mode != "table":
        keys = RESULT_KEYS + (("scale", "zero_point") if quantized else ())
        writer = RecordWriter(sys.stdout, mode, keys, plain_key, single=len(items) == 1)
    for i, text in enumerate(items):
        try:
            r: Any = fn(text, i)
        except PrecliError as e:
            if isinstance(e, UsageError):
                raise
            failed += 1
            error_line(f"value {i + 1} ({shown_text(text)}): {e}{_file_hint(text)}")
            if strict:
                break
            r = ErrorRecord(text, str(e), i)
        if writer is not None:
            writer.write(result_record(r))
        else:
            results.append(r)
    if writer is not None:
        writer.close()
    else:
        _print_results(results, env.color)
    return int(ExitStatus.DATA_ERROR) if failed else 0


def _print_results(results: list[Any], color: bool) -> None:
    from precli.cli import views as render
    from precli.core.values import EncodeResult, ErrorRecord

    ok = [r for r in results if not isinstance(r, ErrorRecord)]
    con = console(sys.stdout, color)
    if len(ok) > 8:
        con.print(render.results_table(ok))
        return
    for r in ok:
        con.print(render.encode_view(r) if isinstance(r, EncodeResult) else render.decode_view(r))
        con.print()


def compare_values(items: tuple[str, ...], fmts: tuple[Format, ...], opts: EncodeOptions,
                   env: OutputEnv,
                   output: str | None) -> int:
    """Numbers in every format (``compare 3.14``); the exit status."""
    from precli.core.exact import shown_text
    from precli.core.values import ErrorRecord, compare_value
    from precli.stream.writers import RESULT_KEYS, RecordWriter, result_record

    mode = env.resolve_output(output, ("table", "json", "csv", "plain", "ndjson"))
    failed = 0
    writer = None if mode == "table" else RecordWriter(sys.stdout, mode, RESULT_KEYS,
                                                       "format,hex,value")
    for text in items:
        results = compare_value(list(fmts), text, opts)
        for r in results:
            if isinstance(r, ErrorRecord):
                error_line(f"{shown_text(text)}: {r.error}")
                failed += 1
        if writer is not None:
            for r in results:
                writer.write(result_record(r))
        else:
            from precli.cli import views as render

            con = console(sys.stdout, env.color)
            con.print(render.compare_value_table(text, results, con.width))
    if writer is not None:
        writer.close()
    return int(ExitStatus.DATA_ERROR) if failed else 0
