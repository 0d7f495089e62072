#!/usr/bin/env python3
"""Checkpoint benchmark: ``precli compare CKPT`` against a plain numpy + ml_dtypes script.

Times ``precli compare CKPT --formats e4m3fn:tensor,int8:channel,nvfp4 --output ndjson``,
in one process and with ``--jobs 2``, against BASELINE below (written to a temporary
directory and run with the same interpreter), on the same bf16 safetensors checkpoint, in
the same run. CKPT defaults to ``benchmarks/out/ckpt-bf16.safetensors``; when it does not
exist the script generates it first with ``benchmarks/gen_checkpoint.py`` (338 tensors of
Qwen2-1.5B's shapes, 3.09 GB, about a minute).

The baseline parses the safetensors header (8-byte length, JSON), maps the data with
``np.memmap``, decodes bf16 with ``.view(ml_dtypes.bfloat16).astype(np.float32)`` and, per
tensor, walks whole rows (about 1 Mi elements at a time; a 1-D tensor is one row and one
channel), widened to float64, applying the published formulas:

* e4m3fn:tensor: fp32 scale ``amax / 448`` (1 when amax is 0), elements the saturating
  nearest-even e4m3fn cast of ``x / scale``;
* int8:channel: symmetric per row, fp32 scale ``amax_row / 127`` (1 for an all-zero row),
  ``q = clip(rint(x / s), -128, 127)``;
* nvfp4 (ModelOpt): tensor scale ``ts = fp32(amax / 2688)``, per 16 values of a row an
  e4m3fn block scale ``bs = amax_b / (6 ts)`` (nearest-even, saturating, 0 stays 0), e2m1
  elements of ``x / (bs ts)`` (saturating), a partial block at each row's end.

ml_dtypes casts float64 through float32, which rounds twice, so float64 quotients are
narrowed to float32 by rounding to odd first (as in compare_bench.py): the cast is then
one correct rounding of the float64 quotient, which is itself never on the wrong side of,
or falsely on, a rounding boundary of these formats (bf16 / fp32 operands; see
benchmarks/README.md, "Compare"). Overflow (a magnitude that rounds above the element max
after scaling) is ``|w| > 464`` for e4m3fn and ``|w| >= 7`` for e2m1.

Per tensor and recipe it writes, as NDJSON: count, lost, overflow, underflow,
exact_fraction, max_abs_error, mean_abs_error, rmse, max_rel_error, sqnr_db,
bits_per_value, scale_count, scale_min, scale_max, tensor_scale; then one summary record
per recipe (``tensor`` null) over the whole model.

Every command is a fresh subprocess with stdout to a file, timed from spawn to exit.
Memory: while a command runs, this script samples ``/proc/PID/status`` (``RssAnon``,
``VmRSS``) of the command's whole process tree every SAMPLE_S seconds and keeps the largest
sum; ``--jobs 2``'s workers are included (their plain RSS double-counts shared file pages,
so the plain RSS of a tree is an upper bound). GNU ``/usr/bin/time -f "%M %U %S"`` gives the
peak RSS of the largest single process and the CPU times. Each round runs every command
once, in an order that rotates from round to round; the outputs of the first round are
compared. memcpy bandwidth (128 MiB ``np.copyto``, best of 5) is measured between rounds.
Before anything runs, the script byte-compiles the venv's site-packages and precli/ with
PYTHONDONTWRITEBYTECODE removed, and removes that variable from every subprocess's
environment. The page cache is warmed by one untimed read of the checkpoint.

Agreement, per (tensor, recipe) and per summary: counts equal, scales and bits_per_value
equal, every other float within REL_TOL (relative) of the baseline's.

Usage (from the project root)::

    uv run python benchmarks/checkpoint_bench.py                  # whole checkpoint, 3 rounds
    uv run python benchmarks/checkpoint_bench.py --quick          # layer 0 only (39 tensors)
    uv run python benchmarks/checkpoint_bench.py --tensors 'layers\\.(0|1)\\.' --rounds 5
    uv run python benchmarks/checkpoint_bench.py --ckpt PATH --only precli,baseline

Goals: single process <= 1.2x the baseline's median wall time, ``--jobs 2`` <= 0.7x, peak
RssAnon <= 300 MB. The script exits 0 whether or not the goals are met, 1 if the outputs
disagree, 2 if a command fails.
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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from bench_common import PY, ROOT, bench_env, compile_all, machine_lines

RECIPES = "e4m3fn:tensor,int8:channel,nvfp4"
DEFAULT_CKPT = ROOT / "benchmarks" / "out" / "ckpt-bf16.safetensors"
QUICK_TENSORS = r"^model\.layers\.0\."
GOAL_SINGLE, GOAL_JOBS2, GOAL_ANON_MB = 1.2, 0.7, 300
REL_TOL = 1e-9
SAMPLE_S = 0.05
GNU_TIME = "/usr/bin/time"
HAVE_TIME = os.access(GNU_TIME, os.X_OK)

COUNT_KEYS = ("count", "lost", "overflow", "underflow", "scale_count")
EXACT_FLOAT_KEYS = ("bits_per_value", "scale_min", "scale_max", "tensor_scale")
FLOAT_KEYS = ("exact_fraction", "max_abs_error", "mean_abs_error", "rmse", "max_rel_error",
              "sqnr_db")

BASELINE = r'''import json
import math
import re
import sys

import ml_dtypes
import numpy as np

E4M3, E2M1 = ml_dtypes.float8_e4m3fn, ml_dtypes.float4_e2m1fn
CHUNK = 1 << 20  # elements per piece of a tensor (whole rows)


def f32_odd(q):
    """float64 -> float32 rounding to odd, so that ml_dtypes' later nearest-even cast to a
    format of 22 bits or fewer is one correct rounding of q."""
    f = q.astype(np.float32)
    b = f.astype(np.float64)
    inexact = b != q
    u = f.view(np.uint32)
    u = u - (inexact & (np.abs(b) > np.abs(q))).astype(np.uint32)
    return (u | inexact.astype(np.uint32)).view(np.float32)


def cast_sat(w, dt, mx, thr, tie_over):
    """Saturating nearest-even cast of float64 quotients: (float64 values, overflow)."""
    f = f32_odd(w)
    a = np.abs(f)
    over = (a >= thr) if tie_over else (a > thr)
    return np.clip(f, -mx, mx).astype(dt).astype(np.float64), over


def fp32(v):
    return float(np.float32(v))


class Tally:
    """Running statistics of one (tensor, recipe): counts and float64 sums."""

    def __init__(self):
        self.n = self.n_fin = self.lost = self.over = self.under = self.exact = 0
        self.sum_err = self.sum_err2 = self.sum_x2 = 0.0
        self.max_err = self.max_rel = 0.0
        self.any_nz = False

    def add(self, x, q, over):
        fin = np.isfinite(x)
        qfin = np.isfinite(q)
        lanes = fin & qfin
        self.n += x.size
        nf = int(np.count_nonzero(fin))
        self.n_fin += nf
        self.lost += nf - int(np.count_nonzero(lanes))
        self.over += int(np.count_nonzero(over & fin))
        self.under += int(np.count_nonzero(fin & (x != 0) & (q == 0)))
        self.exact += int(np.count_nonzero(lanes & (x == q)))
        if nf < x.size or not lanes.all():
            x, q = x[lanes], q[lanes]
        err = np.abs(x - q)
        self.sum_err += float(err.sum())
        self.sum_err2 += float(np.dot(err.ravel(), err.ravel()))
        self.sum_x2 += float(np.dot(x.ravel(), x.ravel()))
        if err.size:
            self.max_err = max(self.max_err, float(err.max()))
        nz = x != 0
        if nz.any():
            self.any_nz = True
            self.max_rel = max(self.max_rel, float((err[nz] / np.abs(x[nz])).max()))

    def merge(self, o):
        for k in ("n", "n_fin", "lost", "over", "under", "exact", "sum_err", "sum_err2",
                  "sum_x2"):
            setattr(self, k, getattr(self, k) + getattr(o, k))
        self.max_err = max(self.max_err, o.max_err)
        self.max_rel = max(self.max_rel, o.max_rel)
        self.any_nz = self.any_nz or o.any_nz

    def record(self, bits, scales):
        rec = {"count": self.n, "lost": self.lost, "overflow": self.over,
               "underflow": self.under,
               "exact_fraction": self.exact / self.n_fin if self.n_fin else None}
        if self.lost:
            rec.update(max_abs_error="inf", mean_abs_error="inf", rmse="inf",
                       max_rel_error="inf", sqnr_db="-inf")
        elif self.n_fin:
            rec.update(
                max_abs_error=self.max_err, mean_abs_error=self.sum_err / self.n_fin,
                rmse=math.sqrt(self.sum_err2 / self.n_fin),
                max_rel_error=self.max_rel if self.any_nz else None,
                sqnr_db=(10 * math.log10(self.sum_x2 / self.sum_err2) if self.sum_err2
                         else "inf"))
        rec["bits_per_value"] = bits / self.n if self.n else None
        rec.update(scales)
        return rec


def scale_info(count, lo, hi, ts=None):
    return {"scale_count": count, "scale_min": lo, "scale_max": hi, "tensor_scale": ts}


def e4m3_tensor(x, amax, s):
    v, over = cast_sat(x / s, E4M3, 448.0, 464.0, False)
    return v * s, over


def int8_channel(x):
    amax = np.abs(np.where(np.isfinite(x), x, 0.0)).max(axis=1, keepdims=True)
    s = np.where(amax > 0, (amax / 127).astype(np.float32).astype(np.float64), 1.0)
    r = np.rint(x / s)
    over = (r > 127) | (r < -128)
    return np.clip(r, -128, 127) * s, over, s.ravel()


def nvfp4(x, ts):
    rows, cols = x.shape
    nb = -(-cols // 16)
    fin = np.isfinite(x)
    a = np.abs(np.where(fin, x, 0.0))
    if nb * 16 != cols:
        a = np.pad(a, ((0, 0), (0, nb * 16 - cols)))
    amax_b = a.reshape(rows, nb, 16).max(axis=2)
    bs, _ = cast_sat(amax_b / (6 * ts), E4M3, 448.0, 464.0, False)
    mult = np.repeat(bs * ts, 16, axis=1)[:, :cols]
    live = mult > 0
    v, over = cast_sat(np.where(live, x / np.where(live, mult, 1.0), 0.0), E2M1, 6.0, 7.0,
                       True)
    nonfin = ~fin
    if nonfin.any():  # a block holding a non-finite value is NaN
        nb_bad = np.pad(nonfin, ((0, 0), (0, nb * 16 - cols))).reshape(rows, nb, 16).any(2)
        bad = np.repeat(nb_bad, 16, axis=1)[:, :cols]
        return np.where(bad, np.nan, v * mult), over & ~bad, bs.ravel()
    return v * mult, over, bs.ravel()


def main():
    path, tensors_re, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    assert names == ["e4m3fn:tensor", "int8:channel", "nvfp4"], names
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    data = np.memmap(path, np.uint8, "r", offset=8 + n)
    sel = re.compile(tensors_re) if tensors_re else None
    items = [(k, v) for k, v in header.items() if k != "__metadata__"
             and (sel is None or sel.search(k))]
    items.sort(key=lambda kv: kv[1]["data_offsets"][0])
    totals = [Tally() for _ in names]
    bits_total = [0, 0, 0]
    scale_all = [[], [], []]
    out = sys.stdout
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for name, info in items:
            assert info["dtype"] == "BF16", (name, info["dtype"])
            b0, b1 = info["data_offsets"]
            shape = info["shape"]
            size = math.prod(shape)
            cols = shape[-1] if len(shape) >= 1 else 1
            rows = size // cols if cols else 0
            a = data[b0:b1].view(ml_dtypes.bfloat16).reshape(rows, cols)
            step = max(1, CHUNK // max(cols, 1))
            # pass 1: the tensor's amax (finite values)
            amax = 0.0
            for r0 in range(0, rows, step):
                c = a[r0:r0 + step].astype(np.float32)
                c = np.abs(c[np.isfinite(c)]) if not np.isfinite(c).all() else np.abs(c)
                amax = max(amax, float(c.max(initial=0.0)))
            s_t = max(fp32(amax / 448), 2.0**-149) if amax else 1.0
            ts = max(fp32(amax / 2688), 2.0**-149) if amax else 1.0
            t = [Tally() for _ in names]
            ch_lo, ch_hi = math.inf, -math.inf
            bs_lo, bs_hi = math.inf, -math.inf
            # pass 2: the three recipes, whole rows at a time
            for r0 in range(0, rows, step):
                x = a[r0:r0 + step].astype(np.float32).astype(np.float64)
                q, over = e4m3_tensor(x, amax, s_t)
                t[0].add(x, q, over)
                q, over, s = int8_channel(x)
                t[1].add(x, q, over)
                ch_lo, ch_hi = min(ch_lo, float(s.min())), max(ch_hi, float(s.max()))
                q, over, bs = nvfp4(x, ts)
                t[2].add(x, q, over)
                ok = bs[~np.isnan(bs)]
                if ok.size:
                    bs_lo, bs_hi = min(bs_lo, float(ok.min())), max(bs_hi, float(ok.max()))
            nblocks = rows * -(-cols // 16)
            bits = [8 * size + 32, 8 * size + 32 * rows, 4 * size + 8 * nblocks + 32]
            scales = [scale_info(1, s_t, s_t), scale_info(rows, ch_lo, ch_hi),
                      scale_info(nblocks, bs_lo, bs_hi, ts)]
            for j, fmt in enumerate(names):
                rec = {"tensor": name, "format": fmt, **t[j].record(bits[j], scales[j])}
                out.write(json.dumps(rec) + "\n")
                totals[j].merge(t[j])
                bits_total[j] += bits[j]
                sc = scales[j]
                scale_all[j].append((sc["scale_count"], sc["scale_min"], sc["scale_max"]))
    for j, fmt in enumerate(names):
        sc = scale_all[j]
        info = scale_info(sum(c for c, _, _ in sc), min(lo for _, lo, _ in sc),
                          max(hi for _, _, hi in sc))
        info.pop("tensor_scale")
        rec = {"tensor": None, "format": fmt, **totals[j].record(bits_total[j], info)}
        out.write(json.dumps(rec) + "\n")


main()
'''


@dataclass
class Cmd:
    key: str
    label: str
    argv: list[str]
    stdout: Path
    times: list[float] = field(default_factory=list)  # seconds
    anon: list[int] = field(default_factory=list)  # peak RssAnon of the tree, bytes
    rss: list[int] = field(default_factory=list)  # peak VmRSS of the tree, bytes
    maxrss: list[int] = field(default_factory=list)  # GNU time %M, bytes
    cpu: list[tuple[float, float]] = field(default_factory=list)  # user, system seconds

    @property
    def med(self) -> float:
        return statistics.median(self.times)


# ------------------------------------------------------------------ memory sampling


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return out


def _status(pid: int) -> tuple[int, int]:
    """(RssAnon, VmRSS) of one process in bytes; (0, 0) when it is gone."""
    anon = rss = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    anon = int(line.split()[1]) * 1024
                elif line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
    except OSError:
        pass
    return anon, rss


class Sampler(threading.Thread):
    """Peak of the summed RssAnon and VmRSS over a process tree, sampled every SAMPLE_S."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.anon, self.rss = pid, 0, 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            anon = rss = 0
            for p in _tree(self.pid):
                if p == self.pid and HAVE_TIME:
                    continue  # GNU time itself
                a, r = _status(p)
                anon += a
                rss += r
            self.anon, self.rss = max(self.anon, anon), max(self.rss, rss)
            self.stop.wait(SAMPLE_S)


def run(cmd: Cmd, env: dict[str, str]) -> tuple[float, int, int, int, tuple[float, float]]:
    with open(cmd.stdout, "wb") as fout, tempfile.TemporaryFile() as ferr, \
            tempfile.NamedTemporaryFile() as ftime:
        argv = cmd.argv
        if HAVE_TIME:
            argv = [GNU_TIME, "-f", "%M %U %S", "-o", ftime.name, *argv]
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fout, stderr=ferr,
                             env=env, cwd=ROOT)
        s = Sampler(p.pid)
        s.start()
        p.wait()
        dt = time.perf_counter() - t0
        s.stop.set()
        s.join()
        if p.returncode != 0:
            ferr.seek(0)
            sys.stderr.write(f"command failed (exit {p.returncode}): {' '.join(cmd.argv)}\n"
                             f"{ferr.read().decode(errors='replace')[-3000:]}\n")
            sys.exit(2)
        kb, user, system = 0, 0.0, 0.0
        if HAVE_TIME:
            f = Path(ftime.name).read_text().split()[-3:]
            kb, user, system = int(f[0]), float(f[1]), float(f[2])
    return dt, s.anon, s.rss, kb * 1024, (user, system)


def memcpy_gbs() -> float:
    a = np.ones(1 << 27, np.uint8)  # 128 MiB
    b = np.empty_like(a)
    best = math.inf
    for _ in range(5):
        t = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t)
    return a.nbytes / best / 1e9


def warm(path: Path) -> float:
    """Read the whole file once (into the page cache); returns seconds."""
    t0 = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.read(1 << 24):
            pass
    return time.perf_counter() - t0


# ------------------------------------------------------------------ agreement


def _rel(a: float, b: float) -> float:
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


def agree(pre_path: Path, base_path: Path, title: str) -> bool:
    pre = {}
    for line in pre_path.read_text().splitlines():
        r = json.loads(line)
        pre[(r["tensor"], r["format"])] = r
    base = {}
    for line in base_path.read_text().splitlines():
        r = json.loads(line)
        base[(r["tensor"], r["format"])] = r
    problems: list[str] = []
    if pre.keys() != base.keys():
        problems.append(f"records differ: {len(pre)} precli, {len(base)} baseline; only in "
                        f"precli {sorted(pre.keys() - base.keys(), key=str)[:3]}, only in "
                        f"baseline {sorted(base.keys() - pre.keys(), key=str)[:3]}")
    worst: dict[str, tuple[float, str]] = {}
    for key, b in base.items():
        p = pre.get(key)
        if p is None:
            continue
        tag = f"{key[0] or '(summary)'} {key[1]}"
        for k in COUNT_KEYS + EXACT_FLOAT_KEYS:
            if k in b and p.get(k) != b[k]:
                problems.append(f"{tag} {k}: precli {p.get(k)!r} baseline {b[k]!r}")
        for k in FLOAT_KEYS:
            pv, bv = p.get(k), b.get(k)
            if not isinstance(pv, float) or not isinstance(bv, float):
                if pv != bv:
                    problems.append(f"{tag} {k}: precli {pv!r} baseline {bv!r}")
                continue
            d = _rel(pv, bv)
            if d > worst.get(k, (0.0, ""))[0]:
                worst[k] = (d, tag)
            if not d <= REL_TOL:
                problems.append(f"{tag} {k}: precli {pv!r} baseline {bv!r} (rel {d:.2e})")
    ok = not problems
    tensors = len({t for t, _ in base if t is not None})
    print(f"\n{title}: {'AGREE' if ok else 'DISAGREE'} ({tensors} tensors x "
          f"{len({f for _, f in base})} recipes + summaries, {len(base)} records)")
    print(f"  counts and exact keys ({', '.join(COUNT_KEYS + EXACT_FLOAT_KEYS)}): "
          f"{'DIFFER' if any(k in s for s in problems for k in COUNT_KEYS) else 'all equal'}")
    for k in FLOAT_KEYS:
        d, tag = worst.get(k, (0.0, ""))
        print(f"  {k:<15} largest relative difference {d:.1e}" + (f" ({tag})" if tag else ""))
    for s in problems[:20]:
        print(f"  MISMATCH {s}")
    if len(problems) > 20:
        print(f"  ... {len(problems) - 20} more")
    for key in sorted((k for k in base if k[0] is None), key=lambda k: k[1]):
        b, p = base[key], pre.get(key, {})
        print(f"  summary {key[1]:<14} lost {b['lost']} overflow {b['overflow']} underflow "
              f"{b['underflow']:,} sqnr_db {p.get('sqnr_db')} / {b['sqnr_db']} "
              f"bits/value {b['bits_per_value']}")
    return ok


# ------------------------------------------------------------------ main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", type=Path, default=DEFAULT_CKPT,
                    help="bf16 safetensors checkpoint (generated when missing)")
    ap.add_argument("--tensors", default=None, help="only tensors whose name matches this "
                    "regex (both sides)")
    ap.add_argument("--quick", action="store_true",
                    help=f"--tensors '{QUICK_TENSORS}' (layer 0: 39 tensors, 47M values)")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds (default 3)")
    ap.add_argument("--only", default="precli,precli-j2,baseline",
                    help="commands to run, comma-separated (default all three)")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    tensors = QUICK_TENSORS if args.quick and args.tensors is None else args.tensors
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    if not wanted or any(s not in ("precli", "precli-j2", "baseline") for s in wanted):
        ap.error("--only takes precli, precli-j2 and/or baseline")

    print("\n".join(machine_lines()), flush=True)
    env = bench_env()
    ckpt = args.ckpt.resolve()
    if not ckpt.exists():
        print(f"generating {ckpt} (gen_checkpoint.py, ~3.1 GB) ...", flush=True)
        subprocess.run([PY, str(ROOT / "benchmarks" / "gen_checkpoint.py"), str(ckpt)],
                       env=env, check=True)
    size = ckpt.stat().st_size
    print(f"compileall: {compile_all(env):.1f} s", flush=True)
    console = Path(PY).parent / "precli"
    precli = [str(console)] if console.exists() else [PY, "-m", "precli"]
    sel = ["--tensors", tensors] if tensors else []

    with open(ckpt, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    import re

    rx = re.compile(tensors) if tensors else None
    chosen = [v for k, v in header.items() if k != "__metadata__"
              and (rx is None or rx.search(k))]
    nbytes = sum(v["data_offsets"][1] - v["data_offsets"][0] for v in chosen)
    params = sum(math.prod(v["shape"]) for v in chosen)
    print(f"checkpoint {ckpt} ({size / 1e9:.2f} GB, {len(header) - 1} tensors); compared: "
          f"{len(chosen)} tensors, {params:,} parameters, {nbytes / 1e9:.3f} GB of data"
          + (f" (--tensors {tensors!r})" if tensors else ""), flush=True)
    print(f"page cache warm-up read: {warm(ckpt):.1f} s", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="precli-ckpt-bench-"))
    try:
        base_py = tmp / "baseline.py"
        base_py.write_text(BASELINE)
        all_cmds = {
            "precli": Cmd("precli", f"precli compare CKPT --small --formats {RECIPES} "
                          "--output ndjson",
                          [*precli, "compare", str(ckpt), "--small", "--formats", RECIPES,
                           "--output", "ndjson", *sel], tmp / "precli.ndjson"),
            "precli-j2": Cmd("precli-j2", "the same with --jobs 2",
                             [*precli, "compare", str(ckpt), "--small", "--formats", RECIPES,
                              "--output", "ndjson", "--jobs", "2", *sel],
                             tmp / "precli-j2.ndjson"),
            "baseline": Cmd("baseline", "baseline.py CKPT (numpy + ml_dtypes)",
                            [PY, str(base_py), str(ckpt), tensors or "", RECIPES],
                            tmp / "baseline.ndjson"),
        }
        cmds = [all_cmds[k] for k in wanted]
        memcpy: list[float] = []
        ok = True
        for r in range(args.rounds):
            memcpy.append(memcpy_gbs())
            t0 = time.perf_counter()
            k = r % len(cmds)
            order = cmds[k:] + cmds[:k]
            for c in order:
                dt, anon, rss, maxrss, cpu = run(c, env)
                c.times.append(dt)
                c.anon.append(anon)
                c.rss.append(rss)
                c.maxrss.append(maxrss)
                c.cpu.append(cpu)
                print(f"    {c.key}: {dt:.1f} s, peak RssAnon {anon / 1e6:.0f} MB, "
                      f"VmRSS {rss / 1e6:.0f} MB, CPU {cpu[0]:.1f} + {cpu[1]:.1f} s",
                      flush=True)
            print(f"  round {r + 1}/{args.rounds} ({', '.join(c.key for c in order)}): "
                  f"{time.perf_counter() - t0:.1f} s, memcpy {memcpy[-1]:.1f} GB/s, "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
            if r == 0 and "baseline" in all_cmds and all_cmds["baseline"] in cmds:
                for c in cmds:
                    if c.key != "baseline":
                        ok = agree(c.stdout, all_cmds["baseline"].stdout,
                                   f"agreement {c.key} vs baseline") and ok
                if len([c for c in cmds if c.key.startswith("precli")]) == 2:
                    same = (all_cmds["precli"].stdout.read_bytes()
                            == all_cmds["precli-j2"].stdout.read_bytes())
                    print(f"  precli --jobs 2 output byte-identical to --jobs 1: {same}")
                    ok = ok and same
        la_end = " ".join(f"{x:.2f}" for x in os.getloadavg())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    base = all_cmds["baseline"] if all_cmds["baseline"] in cmds else None
    mc = statistics.median(memcpy)
    print(f"\nresults ({args.rounds} rounds; load average at end {la_end}; memcpy median "
          f"{mc:.1f} GB/s, {min(memcpy):.1f}-{max(memcpy):.1f})")
    print("| command | median | min–max | user + sys CPU (median) | GB/s of checkpoint "
          "| peak RssAnon | peak RSS (tree) | GNU time %M | ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for c in cmds:
        user = statistics.median(u for u, _ in c.cpu)
        system = statistics.median(s for _, s in c.cpu)
        ratio = f"{c.med / base.med:.2f}×" if base is not None else "–"
        print(f"| {c.label} | {c.med:.1f} s | {min(c.times):.1f}–{max(c.times):.1f} | "
              f"{user:.1f} + {system:.1f} s | {nbytes / c.med / 1e9:.3g} | "
              f"{max(c.anon) / 1e6:.0f} MB | {max(c.rss) / 1e6:.0f} MB | "
              f"{max(c.maxrss) / 1e6:.0f} MB | {ratio} |")
    for c in cmds:
        if base is not None and c is not base:
            goal = GOAL_SINGLE if c.key == "precli" else GOAL_JOBS2
            r_ = c.med / base.med
            print(f"goal [{c.key}]: time / baseline <= {goal}: {r_:.2f}× -> "
                  f"{'PASS' if r_ <= goal else 'MISS'}")
        if c.key.startswith("precli"):
            a = max(c.anon) / 1e6
            print(f"goal [{c.key}]: peak RssAnon <= {GOAL_ANON_MB} MB: {a:.0f} MB -> "
                  f"{'PASS' if a <= GOAL_ANON_MB else 'MISS'}")
    for c in cmds:
        cpu = statistics.median(u + s for u, s in c.cpu)
        print(f"CPU time [{c.key}]: {cpu:.1f} s" + (
            f", {cpu / statistics.median(u + s for u, s in base.cpu):.2f}× the baseline's"
            if base is not None else ""))
    print(f"outputs {'agree' if ok else 'DISAGREE'} (counts and scales exact, other floats "
          f"within {REL_TOL:g})")
    for c in cmds:
        print(f"raw times (s) {c.key}: {[round(t, 1) for t in c.times]}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
