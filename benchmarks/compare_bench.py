#!/usr/bin/env python3
"""Compare benchmark: ``precli compare FILE`` against a plain numpy + ml_dtypes script.

precli runs ``compare x.npy --formats bf16,fp16,e4m3fn,e5m2,int8 --output json`` on
10,000,000 float32 values (standard normals x 0.05 plus a few outliers, fixed seed, a
``.npy`` in a temporary directory). The baseline is a straightforward script (BASELINE
below, written to the temporary directory and run with the same interpreter) that loads the
whole array and computes the same statistics in float64 with whole-array numpy:

* bf16, e4m3fn, e5m2: ``x.astype(ml_dtypes.<type>)``; fp16: ``x.astype(np.float16)``;
  int8: symmetric per tensor, ``scale = absmax / 127``, ``q = clip(rint(x / scale), -128,
  127)``, ``dequant = q * scale``.
* count, nan_in, overflow (finite inputs whose cast is not finite, or for formats without
  infinities beyond max), underflow (nonzero finite input, zero result), subnormal
  results, exact_fraction, and over the lanes where input and result are both finite:
  max_abs_error, mean_abs_error, rmse, max_rel_error (nonzero inputs) and
  sqnr_db = 10 log10(sum x**2 / sum (x - q)**2).

Every command is a fresh subprocess, stdout to a file, timed from spawn to exit, with its
peak RSS from GNU ``/usr/bin/time -f %M`` (not ``os.wait4``: Linux carries a process's peak
RSS across exec, so a child forked from this script would start with the script's memory,
the generated data included, as its peak). Each round runs every command once, in an order
that rotates from round to round; one untimed warm-up round comes first, and its outputs
are the ones checked for agreement. Before anything runs, the script byte-compiles the
venv's site-packages and precli/ (``python -m compileall -q``) with PYTHONDONTWRITEBYTECODE
removed, and removes that variable from every subprocess's environment.

Agreement: counts must be equal and every float within REL_TOL (relative) of the
baseline's. The same check also runs, untimed, on two small arrays (see ``checks``): edge
values (NaN, +-inf, +-0, float32 subnormals, values at and around every format's overflow
threshold) and normals x 0.05 with a NaN and an inf but no outliers (a useful int8 scale).

Usage (from the project root)::

    uv run python benchmarks/compare_bench.py             # 7 rounds, 10M values (~1 min)
    uv run python benchmarks/compare_bench.py --quick     # 5 rounds, 1M values
    uv run python benchmarks/compare_bench.py --rounds 11

Goal: precli's median wall time <= 1.5x the baseline's. The script exits 0 whether or not
the goal is met, 1 if the outputs disagree, 2 if a command fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from _common import PY, ROOT, bench_env, compile_all, cpu_model, git, machine_lines, quantile  # noqa: F401,E501

SEED = 20261126
FORMATS = "bf16,fp16,e4m3fn,e5m2,int8"
GOAL = 1.5  # precli median / baseline median
REL_TOL = 1e-6
GNU_TIME = "/usr/bin/time"
HAVE_TIME = os.access(GNU_TIME, os.X_OK)
# Outliers, at fixed random positions: 70000 overflows fp16 and e5m2 and sets the int8
# scale, 500 and -1000 overflow e4m3fn, 1e-9 underflows fp16.
OUTLIERS = (70000.0, -1000.0, 500.0, -20.0, 8.0, 1e-9)

COUNT_KEYS = ("count", "nan_in", "overflow", "underflow", "subnormal")
FLOAT_KEYS = ("exact_fraction", "max_abs_error", "mean_abs_error", "rmse", "max_rel_error",
              "sqnr_db", "scale")

BASELINE = """\
import json
import sys

import ml_dtypes
import numpy as np

DTYPES = {"bf16": ml_dtypes.bfloat16, "fp16": np.float16,
          "e4m3fn": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2}
HAS_INF = {"bf16": True, "fp16": True, "e4m3fn": False, "e5m2": True}

x = np.load(sys.argv[1])
x64 = x.astype(np.float64)
fin = np.isfinite(x64)
nz = x64 != 0
n_fin = int(np.count_nonzero(fin))
nan_in = int(np.count_nonzero(np.isnan(x64)))
out = []
for name in sys.argv[2].split(","):
    scale = None
    subnormal = 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if name == "int8":
            scale = float(np.abs(x64[fin]).max()) / 127
            r = np.rint(x64 / scale)
            over = fin & ((r > 127) | (r < -128))
            q = np.clip(r, -128, 127) * scale
        else:
            dt = DTYPES[name]
            info = np.finfo(dt) if name == "fp16" else ml_dtypes.finfo(dt)
            q = x.astype(dt).astype(np.float64)
            qfin = np.isfinite(q)
            over = fin & ~qfin
            if not HAS_INF[name]:
                over |= fin & (np.abs(q) > float(info.max))
            tiny = float(info.smallest_normal)
            subnormal = int(np.count_nonzero(qfin & (q != 0) & (np.abs(q) < tiny)))
        lanes = fin & np.isfinite(q)
        xs = x64[lanes]
        err = np.abs(xs - q[lanes])
        sum_sq = float(np.sum(err * err))
        nzl = xs != 0
        out.append({
            "format": name,
            "count": int(x.size),
            "nan_in": nan_in,
            "overflow": int(np.count_nonzero(over)),
            "underflow": int(np.count_nonzero(fin & nz & (q == 0))),
            "subnormal": subnormal,
            "exact_fraction": int(np.count_nonzero(lanes & (x64 == q))) / n_fin,
            "max_abs_error": float(err.max()),
            "mean_abs_error": float(err.mean()),
            "rmse": float(np.sqrt(sum_sq / err.size)),
            "max_rel_error": float((err[nzl] / np.abs(xs[nzl])).max()) if nzl.any() else None,
            "sqnr_db": float(10 * np.log10(np.sum(xs * xs) / sum_sq)) if sum_sq else None,
            "scale": scale,
        })
json.dump(out, sys.stdout, indent=2)
sys.stdout.write("\\n")
"""


@dataclass
class Cmd:
    key: str
    label: str
    argv: list[str]
    stdout: Path
    times: list[float] = field(default_factory=list)  # seconds
    rss: list[int] = field(default_factory=list)  # peak RSS, bytes
    cpu: list[tuple[float, float]] = field(default_factory=list)  # user, system seconds

    @property
    def med(self) -> float:
        return statistics.median(self.times)

    def quartiles(self) -> tuple[float, float]:
        if len(self.times) < 2:
            return self.times[0], self.times[0]
        q = statistics.quantiles(self.times, n=4, method="inclusive")
        return q[0], q[2]


# ------------------------------------------------------------------ environment


# ------------------------------------------------------------------ data


def write_data(path: Path, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 0.05).astype(np.float32)
    pos = rng.choice(n, size=len(OUTLIERS), replace=False)
    x[pos] = np.array(OUTLIERS, dtype=np.float32)
    np.save(path, x)


def checks() -> list[tuple[str, np.ndarray]]:
    """Small float32 arrays for the untimed agreement checks: edge values (NaN, +-inf,
    +-0, float32 subnormals and max, each format's max, overflow threshold and smallest
    values, random values over 18 decades) and normals x 0.05 with a NaN and an inf but no
    outliers (so that int8 gets a scale that keeps most values nonzero)."""
    f32 = np.finfo(np.float32)
    vals = [
        np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.1, 1 / 3,
        float(f32.smallest_subnormal), -float(f32.smallest_subnormal),
        float(f32.smallest_normal), float(f32.max), -float(f32.max),
        3.3895314e38, 3.3961775e38, 3.39e38,  # bf16 max, its rounding threshold
        448.0, 463.99997, 464.0, 464.00003, 480.0, -500.0,  # e4m3fn max and threshold
        57344.0, 61439.996, 61440.0, 61440.004,  # e5m2
        65504.0, 65519.996, 65520.0, 65520.004,  # fp16
        2.0**-6, 2.0**-9, 2.0**-10, 2.0**-10 * 1.0000001, 2.0**-11,  # e4m3fn subnormals
        2.0**-14, 2.0**-16, 2.0**-17, 2.0**-17 * 1.0000001, 2.0**-18,  # e5m2
        2.0**-24, 2.0**-25, 2.0**-25 * 1.0000001, 2.0**-26,  # fp16
        2.0**-133, 2.0**-134, 2.0**-135,  # bf16 subnormals
    ]
    rng = np.random.default_rng(SEED + 1)
    edge = np.concatenate([
        np.array(vals),
        rng.standard_normal(2000) * 10.0 ** rng.integers(-12, 6, 2000),
        rng.uniform(-1000, 1000, 500),
    ]).astype(np.float32)
    normals = (rng.standard_normal(100_000) * 0.05).astype(np.float32)
    normals[[10, 20_000]] = [np.nan, np.inf]
    return [("edge values", edge), ("normals with a NaN and an inf", normals)]


# ------------------------------------------------------------------ running


def run(cmd: Cmd, env: dict[str, str]) -> tuple[float, int, tuple[float, float]]:
    """Wall time (s), peak RSS (bytes) and (user, system) CPU seconds of one run of cmd,
    the last two from GNU time (0 without it)."""
    with open(cmd.stdout, "wb") as fout, tempfile.TemporaryFile() as ferr, \
            tempfile.NamedTemporaryFile() as frss:
        argv = cmd.argv
        if HAVE_TIME:
            argv = [GNU_TIME, "-f", "%M %U %S", "-o", frss.name, *argv]
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fout, stderr=ferr,
                             env=env, cwd=ROOT)
        p.wait()
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            ferr.seek(0)
            sys.stderr.write(f"command failed (exit {p.returncode}): {' '.join(cmd.argv)}\n"
                             f"{ferr.read().decode(errors='replace')[-3000:]}\n")
            sys.exit(2)
        kb, user, system = 0, 0.0, 0.0
        if HAVE_TIME:
            f = Path(frss.name).read_text().split()[-3:]
            kb, user, system = int(f[0]), float(f[1]), float(f[2])
    return dt, kb * 1024, (user, system)  # GNU time reports kilobytes


def bench(cmds: list[Cmd], rounds: int, env: dict[str, str]) -> None:
    n = len(cmds)
    for r in range(rounds):
        t0 = time.perf_counter()
        k = r % n
        order = cmds[k:] + cmds[:k]
        for c in order:
            dt, rss, cpu = run(c, env)
            c.times.append(dt)
            c.rss.append(rss)
            c.cpu.append(cpu)
        print(f"  round {r + 1}/{rounds} ({', '.join(c.key for c in order)}): "
              f"{time.perf_counter() - t0:.1f} s, load {os.getloadavg()[0]:.2f}", flush=True)


# ------------------------------------------------------------------ agreement


def _rel(a: float, b: float) -> float:
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


def agree(precli_json: Path, base_json: Path, title: str) -> bool:
    """Print the comparison of the two outputs; True when they agree."""
    pre = {r["format"]: r for r in json.loads(precli_json.read_text())}
    base = {r["format"]: r for r in json.loads(base_json.read_text())}
    ok = pre.keys() == base.keys()
    worst: tuple[float, str, str] = (0.0, "", "")
    problems: list[str] = []
    for name, b in base.items():
        p = pre.get(name, {})
        for k in COUNT_KEYS:
            if p.get(k) != b[k]:
                problems.append(f"{name} {k}: precli {p.get(k)} baseline {b[k]}")
        for k in FLOAT_KEYS:
            pv, bv = p.get(k), b[k]
            if pv is None or bv is None:
                if pv is not bv:
                    problems.append(f"{name} {k}: precli {pv} baseline {bv}")
                continue
            d = _rel(float(pv), float(bv))
            if d > worst[0]:
                worst = (d, name, k)
            if d > REL_TOL or not math.isfinite(d):
                problems.append(f"{name} {k}: precli {pv!r} baseline {bv!r} (rel {d:.2e})")
    ok = ok and not problems
    print(f"\n{title}: {'AGREE' if ok else 'DISAGREE'}")
    print("  format   count      nan_in  overflow  underflow  subnormal  "
          "sqnr_db (precli / baseline; counts are the baseline's)")
    for name, b in base.items():
        p = pre.get(name, {})
        print(f"  {name:<8} {b['count']:<10} {b['nan_in']:<7} {b['overflow']:<9} "
              f"{b['underflow']:<10} {b['subnormal']:<10} {p.get('sqnr_db')} / {b['sqnr_db']}")
    count_bad = [s for s in problems if s.split()[1].rstrip(":") in COUNT_KEYS]
    print(f"  counts ({', '.join(COUNT_KEYS)}): {'DIFFER' if count_bad else 'all equal'}")
    if worst[1]:
        print(f"  largest relative difference in a float statistic: {worst[0]:.2e} "
              f"({worst[1]} {worst[2]}); tolerance {REL_TOL:g}")
    else:
        print("  every float statistic is identical")
    for s in problems:
        print(f"  MISMATCH {s}")
    return ok


# ------------------------------------------------------------------ main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1M values and 5 rounds")
    ap.add_argument("--rounds", type=int, help="timed rounds (default 7; 5 with --quick)")
    args = ap.parse_args()
    n = 1_000_000 if args.quick else 10_000_000
    rounds = args.rounds or (5 if args.quick else 7)
    if rounds < 1:
        ap.error("--rounds must be at least 1")

    print("\n".join(machine_lines()), flush=True)
    env = bench_env()
    print(f"compileall: {compile_all(env):.1f} s", flush=True)
    console = Path(PY).parent / "precli"
    precli = [str(console)] if console.exists() else [PY, "-m", "precli"]
    if not HAVE_TIME:
        print(f"warning: {GNU_TIME} not found: peak RSS is not reported", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="precli-compare-bench-"))
    try:
        data = tmp / "x.npy"
        write_data(data, n, SEED)
        base_py = tmp / "baseline.py"
        base_py.write_text(BASELINE)
        print(f"data: {n:,} float32 values ({data.stat().st_size / 1e6:.0f} MB .npy), "
              f"seed {SEED}, outliers {list(OUTLIERS)}", flush=True)
        cmds = [
            Cmd("precli", f"{Path(precli[-1]).name} compare x.npy --formats {FORMATS} "
                "--output json", [*precli, "compare", str(data), "--formats", FORMATS,
                                  "--output", "json"], tmp / "precli.json"),
            Cmd("baseline", "python baseline.py (numpy + ml_dtypes)",
                [PY, str(base_py), str(data), FORMATS], tmp / "baseline.json"),
            Cmd("import", "python -c 'import numpy, ml_dtypes' (reference)",
                [PY, "-c", "import numpy, ml_dtypes"], tmp / "import.out"),
        ]
        print("warm-up round (untimed)", flush=True)
        for c in cmds:
            run(c, env)
        ok = agree(cmds[0].stdout, cmds[1].stdout, f"agreement on the {n:,} values")

        for i, (tag, values) in enumerate(checks()):
            path = tmp / f"check{i}.npy"
            np.save(path, values)
            e_pre = Cmd(f"precli-{tag}", "", [*precli, "compare", str(path), "--formats",
                                              FORMATS, "--output", "json"], tmp / "p.json")
            e_base = Cmd(f"baseline-{tag}", "", [PY, str(base_py), str(path), FORMATS],
                         tmp / "b.json")
            run(e_pre, env)
            run(e_base, env)
            ok = agree(e_pre.stdout, e_base.stdout, f"agreement on {values.size:,} {tag}") and ok

        print(f"\ntimed rounds: {rounds}", flush=True)
        bench(cmds, rounds, env)
        la_end = " ".join(f"{x:.2f}" for x in os.getloadavg())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    pre, base, imp = cmds
    ratio = pre.med / base.med
    print(f"\nresults ({rounds} rounds, {n:,} values; load average at end {la_end})")
    print("| command | median | p25–p75 | min | user + sys CPU (medians) | peak RSS (median) "
          "| ratio to baseline |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for c in cmds:
        lo, hi = c.quartiles()
        rss = f"{statistics.median(c.rss) / 1e6:.0f} MB" if HAVE_TIME else "n/a"
        user = statistics.median(u for u, _ in c.cpu)
        system = statistics.median(s for _, s in c.cpu)
        cpu = f"{user * 1e3:.0f} + {system * 1e3:.0f} ms" if HAVE_TIME else "n/a"
        print(f"| {c.label} | {c.med * 1e3:.0f} ms | {lo * 1e3:.0f}–{hi * 1e3:.0f} | "
              f"{min(c.times) * 1e3:.0f} | {cpu} | {rss} | {c.med / base.med:.2f}× |")
    verdict = "PASS" if ratio <= GOAL else "MISS"
    print(f"\ngoal: precli / baseline <= {GOAL}: {ratio:.2f}× -> {verdict}")
    print(f"outputs {'agree' if ok else 'DISAGREE'} (counts exact, floats within {REL_TOL:g})")
    print(f"raw times (ms): precli {[round(t * 1e3) for t in pre.times]}, "
          f"baseline {[round(t * 1e3) for t in base.times]}, "
          f"import {[round(t * 1e3) for t in imp.times]}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
