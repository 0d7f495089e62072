"""The one worker pool of the checkpoint analyses, and the tensor selection they share.

``run_tensors`` hands each task to ``work`` in this process (``jobs == 1``) or in ``jobs``
forked worker processes, biggest first so the workers stay busy; results come back keyed
by the task's name, so the order of completion never shows. A worker that meets a
damaged tensor returns the error's text instead of raising, and the caller reports it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from precli.errors import UsageError, arg
from precli.sources.base import CheckpointError, Tensor

__all__ = ["check_jobs", "name_pattern", "run_tensors", "select_tensors", "usable_cores"]

T = TypeVar("T")
R = TypeVar("R")


def name_pattern(p: str, what: str) -> re.Pattern[str]:
    """The compiled regular expression ``p`` that argument ``what`` gives to match tensor
    names. UsageError if it does not compile, or if a group that repeats holds a repeat or
    an alternation of its own (``(a+)+``, ``(a|ab)*``, ``(\\w+\\.)*``): Python's re
    backtracks through every way of splitting the name between the two, which takes
    exponential time on a long tensor name (a 40-character name already takes minutes) and
    re has no time limit. A repeat that can occur once at most (``(\\d+)?``) is fine, and so
    are possessive repeats and atomic groups (``(a+)++``, ``(?>a+)+``), which do not
    backtrack."""
    try:
        pat = re.compile(p)
    except re.error as e:
        raise UsageError(f"invalid {arg(what)} pattern {p!r}: {e}") from None
    if _nested_repeat(_parse(p), False):
        raise UsageError(f"{arg(what)} pattern {p!r} repeats a group that holds a repeat or "
                         "an alternation of its own (like (a+)+ or (a|ab)*): matching that can "
                         "take exponential time on a long tensor name, so it is refused; "
                         "write it without the nested repeat (e.g. a+ for (a+)+)")
    return pat


def _parse(p: str) -> Any:
    import importlib

    return importlib.import_module("re._parser").parse(p)  # re's own parse of it


def _nested_repeat(items: Any, under: bool) -> bool:
    """Whether a parsed pattern holds a repeat (or an alternation) inside a group that is
    itself repeated more than once (``under``: inside such a group)."""
    for op, av in items:
        kind = str(op)
        if kind in ("MAX_REPEAT", "MIN_REPEAT"):
            lo, hi, body = av
            if under and hi != lo:
                return True
            if _nested_repeat(body, under or (hi > 1 and hi != lo)):
                return True
        elif kind == "POSSESSIVE_REPEAT":
            if _nested_repeat(av[2], False):
                return True
        elif kind == "BRANCH":
            if under or any(_nested_repeat(b, under) for b in av[1]):
                return True
        elif kind == "SUBPATTERN":
            if _nested_repeat(av[3], under):
                return True
        elif kind in ("ASSERT", "ASSERT_NOT"):
            if _nested_repeat(av[1], under):
                return True
        elif kind == "ATOMIC_GROUP":
            if _nested_repeat(av, False):
                return True
        elif kind == "GROUPREF_EXISTS":
            if any(b is not None and _nested_repeat(b, under) for b in av[1:]):
                return True
    return False


def select_tensors(tensors: Sequence[Tensor], include: str | None, exclude: str | None
                   ) -> list[Tensor]:
    """The tensors whose name ``include`` finds (re.search) and ``exclude`` does not (see
    :func:`name_pattern` for the patterns refused)."""
    def rx(p: str | None, name: str) -> re.Pattern[str] | None:
        return None if p is None else name_pattern(p, name)

    inc, exc = rx(include, "include"), rx(exclude, "exclude")
    return [t for t in tensors if (inc is None or inc.search(t.name))
            and (exc is None or not exc.search(t.name))]


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def check_jobs(jobs: int) -> None:
    if jobs < 1:
        raise UsageError(f"{arg('jobs')} must be at least 1, got {jobs}")


def _guarded(work: Callable[[T], R], task: T) -> R | str:
    try:
        return work(task)
    except CheckpointError as e:
        return str(e)


def run_tensors(tasks: Sequence[tuple[str, int, T]], work: Callable[[T], R], jobs: int,
                progress: Callable[[int, int], None] | None = None) -> dict[str, R | str]:
    """``work(task)`` for each ``(name, nbytes, task)``; ``progress(done, bytes_done)``
    after each. ``work`` must be a module-level function (it is sent to the workers)."""
    check_jobs(jobs)
    results: dict[str, R | str] = {}
    done = [0, 0]

    def finished(name: str, nbytes: int, r: R | str) -> None:
        results[name] = r
        done[0] += 1
        done[1] += nbytes
        if progress is not None:
            progress(done[0], done[1])

    if jobs == 1 or len(tasks) < 2:
        for name, nbytes, task in tasks:
            finished(name, nbytes, _guarded(work, task))
        return results
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    workers = min(jobs, len(tasks), usable_cores())  # never more processes than work or cores
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
        order = sorted(tasks, key=lambda x: -x[1])  # biggest first keeps the workers busy
        futs = [(name, nbytes, pool.submit(_guarded, work, task))
                for name, nbytes, task in order]
        for name, nbytes, f in futs:
            finished(name, nbytes, f.result())
    return results
