"""compare FILE: what casting an array, or every tensor of a checkpoint, costs under each
recipe; with progress bars on a terminal and the histogram of ``--plot``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from precli.cli.options import (
    ArrayOptions,
    CheckpointOptions,
    array_rules,
    checkpoint_rules,
    no_tensor_matches,
    nothing_compared,
)
from precli.cli.streams import report
from precli.cli.terminal import OutputEnv
from precli.errors import ExitStatus, UsageError
from precli.model import inputs
from precli.model.stats import CHANNEL_NEEDS_2D

if TYPE_CHECKING:
    from precli.array.recipes import Recipe
    from precli.model.analyze import ModelReport
    from precli.model.histogram import Coverage, MagnitudeHistogram
    from precli.model.stats import CompareStats, Values
    from precli.sources.base import Checkpoint


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


def compare_array_command(path: str, input_format: str | None, o: ArrayOptions,
                          env: OutputEnv, ckpt: CheckpointOptions) -> int:
    """compare FILE: an array (or every tensor of a checkpoint) cast under each recipe."""
    steady_allocator()
    from precli.model.stats import RECORD_KEYS, compare_values, pick_cheapest

    recipes = list(o.recipes)
    mode, saturate, min_sqnr, plot, out_mode = o.mode, o.saturate, o.min_sqnr, o.plot, o.out_mode
    if input_format is None and inputs.sniff_input(path) == "checkpoint":
        checkpoint_rules(o)
        recipes = list(o.checkpoint_recipes) or recipes
        return compare_checkpoint(path, recipes, mode, saturate, min_sqnr, env, out_mode, ckpt)
    array_rules(ckpt)
    values = inputs.load_values(path, input_format, None if o.channel else o.axis, report)
    if o.channel and values.ndim < 2:
        raise UsageError(CHANNEL_NEEDS_2D)
    kw: dict[str, Any] = dict(mode=mode, saturate=saturate)
    if values.size >= PROGRESS_MIN and stderr_tty():
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


def compare_checkpoint(path: str, recipes: list[Recipe], mode: str, saturate: bool,
                       min_sqnr: float | None, env: OutputEnv, out_mode: str,
                       ckpt: CheckpointOptions) -> int:
    """Every tensor of a checkpoint under each recipe, then the model-wide summary."""
    import dataclasses

    from precli.model.analyze import CHECKPOINT_KEYS, analyze
    from precli.model.stats import pick_cheapest
    from precli.sources import open_checkpoint

    ck = open_checkpoint(path)
    from precli.model.viewing import parse_view_rules

    kw: dict[str, Any] = dict(include=ckpt.include, exclude=ckpt.exclude, jobs=ckpt.jobs,
                              views=parse_view_rules(ckpt.views), small=ckpt.small,
                              mode=mode, saturate=saturate, checkpoint=ck)
    if stderr_tty():
        report = checkpoint_progress(path, ck, recipes, kw, env)
    else:
        report = analyze(path, recipes, **kw)
    if not report.tensors and not report.errors:
        raise no_tensor_matches(path)
    nothing = nothing_compared(report)
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
    if nothing is not None:
        error_line(nothing)
        return int(ExitStatus.DATA_ERROR)
    if min_sqnr is not None and pick is None:
        error_line(f"no recipe reaches {min_sqnr:g} dB SQNR over the model without losing "
                   "values")
        return int(ExitStatus.DATA_ERROR)
    return int(ExitStatus.DATA_ERROR) if report.errors else 0


def checkpoint_progress(path: str, ck: Checkpoint, recipes: list[Recipe], kw: dict[str, Any],
                        env: OutputEnv) -> ModelReport:
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


def stderr_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _with_progress(recipes: list[Recipe], values: Values, kw: dict[str, Any], env: OutputEnv
                   ) -> list[CompareStats]:
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


def _histogram(values: Values) -> MagnitudeHistogram:
    from precli.model.histogram import MagnitudeHistogram

    h = MagnitudeHistogram()
    for r0 in range(0, values.rows, max(1, (1 << 15) // max(values.cols, 1))):
        r1 = min(values.rows, r0 + max(1, (1 << 15) // max(values.cols, 1)))
        h.add(values.tile(r0, r1, 0, values.cols)[0])
    return h


def _coverages(recipes: list[Recipe]) -> list[Coverage]:
    """Plot columns: the plain float casts among the recipes (scaled recipes adapt to the
    data, so a fixed range would say nothing about them)."""
    from precli.core.formats import FloatFormat
    from precli.model.histogram import coverage

    return [coverage(r.element) for r in recipes
            if r.kind == "cast" and isinstance(r.element, FloatFormat)]
