#!/usr/bin/env python3
"""Startup benchmark: wall time of short precli invocations against a bare
``import typer, rich.console`` baseline, in the same run and environment.

Each round runs every command once, in an order that rotates from round to
round, so all commands share the machine's noise (CPU frequency, other load,
page cache) instead of one command getting a quiet minute and another a busy
one.  Every run is a fresh subprocess with stdout and stderr on pipes.

Usage (from the project root)::

    uv run python benchmarks/startup.py            # 30 rounds
    uv run python benchmarks/startup.py --rounds 60

Goals (median wall time / baseline median):
    info fp16 --output table   <= 1.25x
    info fp16 --output json    <= 1.10x
    encode 3.14 --as tf32 --output json <= 1.10x

It also runs each precli command once under ``python -X importtime`` and
reports whether numpy was imported (it must not be) and which modules precli
loads beyond the baseline's, with their import cost.

This is a benchmark, not a test: it exits 0 whether goals are met or not
(it exits 2 only if a command itself fails).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench_common import PY, ROOT, bench_env, compile_all, cpu_model, git, machine_lines, quantile  # noqa: F401,E501


@dataclass
class Cmd:
    key: str
    label: str
    argv: list[str]
    goal: float | None  # max ratio to the baseline median; None = reported only
    times: list[float] = field(default_factory=list)  # seconds


def _console_script() -> Path | None:
    """The `precli` entry point next to the interpreter, else the project's .venv one."""
    for cand in (Path(PY).parent / "precli", ROOT / ".venv" / "bin" / "precli"):
        if cand.is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def _commands() -> list[Cmd]:
    """The goals are timed on the console script, the `precli` users type (as the issue
    says); `python -m precli` (which adds runpy, ~3 ms) is reported for reference."""
    script = _console_script()
    pre = [str(script)] if script is not None else [PY, "-m", "precli"]
    name = _rel(script) if script is not None else "python -m precli"
    return [
        Cmd("baseline", "python -c 'import typer, rich.console'",
            [PY, "-c", "import typer, rich.console"], None),
        # Reference only: the json paths never import rich, so this is their true floor.
        Cmd("typer_only", "python -c 'import typer'", [PY, "-c", "import typer"], None),
        Cmd("info_table", f"{name} info fp16 --output table",
            [*pre, "info", "fp16", "--output", "table"], 1.25),
        Cmd("info_json", f"{name} info fp16 --output json",
            [*pre, "info", "fp16", "--output", "json"], 1.10),
        Cmd("encode_json", f"{name} encode 3.14 --as tf32 --output json",
            [*pre, "encode", "3.14", "--as", "tf32", "--output", "json"], 1.10),
        Cmd("module_table", "python -m precli info fp16 --output table",
            [PY, "-m", "precli", "info", "fp16", "--output", "table"], None),
    ]


def _rel(p: Path) -> str:
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    t0 = time.perf_counter()
    cp = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                        env=env, cwd=ROOT)
    return time.perf_counter() - t0, cp


def _check(cmd: Cmd, cp: subprocess.CompletedProcess[bytes]) -> None:
    if cp.returncode != 0:
        sys.stderr.write(f"command failed (exit {cp.returncode}): {' '.join(cmd.argv)}\n"
                         f"{cp.stderr.decode(errors='replace')}\n")
        sys.exit(2)


# ------------------------------------------------------------------ timing


def bench(cmds: list[Cmd], rounds: int, warmup: int, env: dict[str, str]) -> None:
    for _ in range(warmup):  # fill the page cache and __pycache__
        for c in cmds:
            _check(c, _run(c.argv, env)[1])
    n = len(cmds)
    for r in range(rounds):
        k = r % n
        for c in cmds[k:] + cmds[:k]:
            dt, cp = _run(c.argv, env)
            _check(c, cp)
            c.times.append(dt)


def report_times(cmds: list[Cmd]) -> list[tuple[Cmd, float, bool]]:
    base = statistics.median(cmds[0].times)
    w = max(len(c.label) for c in cmds)
    print(f"{'command':<{w}}  {'median':>8}  {'min':>7}  {'p25-p75':>15}  {'ratio':>7}  "
          f"{'+ms':>6}  goal")
    verdicts = []
    for c in cmds:
        med = statistics.median(c.times)
        ratio = med / base
        iqr = f"{quantile(c.times, .25) * 1e3:.1f}-{quantile(c.times, .75) * 1e3:.1f}"
        if c.key == "baseline":
            goal = "(baseline)"
        elif c.goal is None:
            goal = "(reported only)"
        else:
            ok = ratio <= c.goal
            verdicts.append((c, ratio, ok))
            goal = f"<= {c.goal:.2f}x  {'PASS' if ok else 'MISS'}"
        print(f"{c.label:<{w}}  {med * 1e3:7.1f}ms  {min(c.times) * 1e3:6.1f}ms  {iqr:>13}ms  "
              f"{ratio:6.3f}x  {(med - base) * 1e3:+6.1f}  {goal}")
    return verdicts


# ------------------------------------------------------------------ imports


@dataclass
class Imp:
    name: str
    self_us: int
    cum_us: int
    depth: int


def importtime(argv: list[str], env: dict[str, str], runs: int) -> dict[str, Imp]:
    """Run argv's python command under -X importtime `runs` times; median times per module."""
    assert argv[0] == PY
    seen: dict[str, list[tuple[int, int, int]]] = {}
    for _ in range(runs):
        cp = subprocess.run([PY, "-X", "importtime", *argv[1:]], stdin=subprocess.DEVNULL,
                            capture_output=True, env=env, cwd=ROOT)
        for line in cp.stderr.decode(errors="replace").splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_s, cum_s, name = line[len("import time:"):].split("|", 2)
            depth = (len(name) - len(name.lstrip()) - 1) // 2
            seen.setdefault(name.strip(), []).append((int(self_s), int(cum_s), depth))
    return {n: Imp(n, int(statistics.median(v[0] for v in vs)),
                   int(statistics.median(v[1] for v in vs)), vs[0][2])
            for n, vs in seen.items()}


def report_imports(cmds: list[Cmd], env: dict[str, str], top: int, runs: int) -> None:
    base = importtime(cmds[0].argv, env, runs)
    base_top = {m.split(".")[0] for m in base}
    print()
    print(f"Imports beyond the baseline (python -X importtime, median of {runs} runs each; "
          "times are inflated by the profiling itself)")
    for c in cmds[1:]:
        if c.argv[0] != PY or c.argv[1] != "-m":
            continue  # references, and the console script (imports what `-m precli` does)
        mods = importtime(c.argv, env, runs)
        extra = {n: m for n, m in mods.items() if n not in base}
        tops = sorted({n.split(".")[0] for n in extra} - base_top)
        numpy = sorted(n for n in mods if n == "numpy" or n.startswith("numpy."))
        extra_self = sum(m.self_us for m in extra.values())
        print(f"\n  {c.label}")
        verdict = f"YES ({len(numpy)} numpy modules) -- must not be" if numpy else "no (ok)"
        print(f"    numpy imported: {verdict}")
        print(f"    new top-level modules ({len(tops)}): {', '.join(tops) or '-'}")
        print(f"    modules beyond baseline: {len(extra)}, their own import time "
              f"{extra_self / 1e3:.1f}ms in total")
        print("    costliest of them (self time):")
        for m in sorted(extra.values(), key=lambda m: -m.self_us)[:top]:
            print(f"      {m.self_us / 1e3:6.2f}ms self  {m.cum_us / 1e3:6.2f}ms cum  {m.name}")


# ------------------------------------------------------------------ main


def machine() -> str:
    return (f"{time.strftime('%Y-%m-%d')}  nproc={os.cpu_count()}  cpu={cpu_model()}  "
            f"python={platform.python_version()} ({PY})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=30, help="timed rounds (default 30)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed rounds first (default 2)")
    ap.add_argument("--top", type=int, default=12,
                    help="costliest extra modules to list per command (default 12)")
    ap.add_argument("--import-runs", type=int, default=5,
                    help="-X importtime runs per command, medians reported (default 5)")
    ap.add_argument("--no-imports", action="store_true", help="skip the -X importtime report")
    a = ap.parse_args()
    if a.rounds < 1:
        ap.error("--rounds must be >= 1")

    env = bench_env()
    cmds = _commands()
    print(machine())
    import typer  # same interpreter as the subprocesses; only for the report line

    print(f"typer {typer.__version__}; {a.rounds} rounds x {len(cmds)} commands "
          f"(rotating order), {a.warmup} warm-up round(s); stdout to a pipe\n")
    bench(cmds, a.rounds, a.warmup, env)
    verdicts = report_times(cmds)
    print()
    for c, ratio, ok in verdicts:
        print(f"{'PASS' if ok else 'MISS'}  {c.key:<12} {ratio:.3f}x (goal <= {c.goal:.2f}x)")
    if not a.no_imports:
        report_imports(cmds, env, a.top, max(1, a.import_runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
