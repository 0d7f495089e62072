#!/usr/bin/env python3
"""Compare benchmark: ``precli compare FILE`` against a plain numpy + ml_dtypes script.

Two rows, each timed against the baseline script (BASELINE below, written to a temporary
directory and run with the same interpreter) on the same data in the same run:

* **casts**: ``compare x.npy --formats bf16,fp16,e4m3fn,e5m2,int8 --output json`` on
  10,000,000 float32 values (standard normals x 0.05 plus a few outliers, fixed seed).
* **recipes**: ``compare w.npy --formats e4m3fn:tensor,e4m3fn:block128x128,int4:group128,
  mxfp4,nvfp4 --output json`` on a 2,200 x 4,544 float32 matrix (9,996,800 values: the
  first 2,200 rows of Falcon-7B's (18176, 4544) ``dense_h_to_4h`` weight shape; 4,544 =
  35 x 128 + 64, so every row ends in a partial 128-group and the bottom 128x128 tiles are
  24 rows high). Values: normals x 0.02 times a log-normal factor per input column
  (outlier features), fixed seed.

The baseline loads the whole array and computes the same statistics in float64 with
whole-array numpy, from the published formulas (blocks run along each row, the last axis,
each row with its own partial block):

* bf16, e4m3fn, e5m2: ``x.astype(ml_dtypes.<type>)``; fp16: ``x.astype(np.float16)``
  (float32 inputs: one correct rounding). int8 (a bare integer name): symmetric per
  tensor, float64 ``scale = absmax / 127`` (stored as fp64), ``q = clip(rint(x / scale),
  -128, 127)``.
* e4m3fn:tensor: fp32 scale ``amax / 448``, elements the saturating e4m3fn cast of
  ``x / scale``; e4m3fn:block128x128: the same per 128 x 128 tile.
* int4:group128 (GPTQ / AWQ): per 128 values of a row, the range extended to hold 0,
  fp16 scale ``(max' - min') / 15``, zero point ``clip(round_half_even(-8 - min' / s),
  -8, 7)`` from the fp16 scale, ``q = clip(rint(x / s) + z, -8, 7)``, value ``(q - z) s``.
* mxfp4 (OCP MX v1.0 floor rule): per 32 values, scale ``2^(floor(log2 amax) - 2)``,
  saturating e2m1 elements; a block holding a non-finite value is NaN.
* nvfp4 (ModelOpt): tensor scale ``fp32(amax / 2688)``, per 16 values an e4m3fn block
  scale ``amax_b / (6 ts)`` (saturating, nearest-even), e2m1 elements of ``x / (bs ts)``.

Quotients are float64 and are narrowed to float32 by rounding to odd before the ml_dtypes
cast (which goes through float32): the cast is then one correct rounding of the float64
quotient, and the float64 quotient of two float32 numbers is never on the wrong side of,
or falsely on, a rounding boundary of a format of 24 bits or fewer (the exact quotient is
at least ~2^-35 relative away from any such boundary it is not on). The int4 arithmetic is
exact in the same sense. Overflow (a value whose magnitude rounds above the element max
after scaling) is ``|w| > 464`` for e4m3fn and ``|w| >= 7`` for e2m1 (the ties go to the
even neighbour: 448 stays, 6 goes up to 8).

Statistics (docs/json.md "compare FILE"): count, nan_in, lost (finite inputs whose
result is not finite), overflow, underflow (nonzero finite input, zero result), subnormal
results (plain casts), exact_fraction; when nothing is lost max_abs_error,
mean_abs_error, rmse, max_rel_error (nonzero inputs) and sqnr_db = 10 log10(sum x**2 /
sum (x - q)**2) ("inf" for zero error); when values are lost every error is "inf" and
sqnr_db "-inf"; bits_per_value, scale, zero_point, scale_count / scale_min / scale_max /
scale_nan and nvfp4's tensor_scale.

Every command is a fresh subprocess, stdout to a file, timed from spawn to exit, with its
peak RSS from GNU ``/usr/bin/time -f %M`` (not ``os.wait4``: Linux carries a process's peak
RSS across exec, so a child forked from this script would start with the script's memory,
the generated data included, as its peak). Each round runs every command once, in an order
that rotates from round to round; one untimed warm-up round comes first, and its outputs
are the ones checked for agreement. Before anything runs, the script byte-compiles the
venv's site-packages and precli/ (``python -m compileall -q``) with PYTHONDONTWRITEBYTECODE
removed, and removes that variable from every subprocess's environment.

Agreement: counts (and "inf" / "-inf" / null) must be equal and every float within REL_TOL
(relative) of the baseline's. The same check also runs, untimed, on small arrays (see
``checks``): for the casts, edge values (NaN, +-inf, +-0, float32 subnormals, values at
and around every format's overflow threshold) and normals x 0.05 with a NaN and an inf;
for the recipes, matrices with partial blocks everywhere, NaN / inf / all-zero blocks and
values over 30 decades.

Usage (from the project root)::

    uv run python benchmarks/compare_bench.py             # both rows, 7 rounds, 10M values (~4 min)
    uv run python benchmarks/compare_bench.py --quick     # 5 rounds, 1M values
    uv run python benchmarks/compare_bench.py --rounds 11
    uv run python benchmarks/compare_bench.py --rows recipes

Goal: for each row, precli's median wall time <= 1.5x the baseline's. The script exits 0
whether or not the goal is met, 1 if the outputs disagree, 2 if a command fails.
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
from bench_common import PY, ROOT, bench_env, compile_all, cpu_model, git, machine_lines, quantile  # noqa: F401,E501

SEED = 20261126
FORMATS = "bf16,fp16,e4m3fn,e5m2,int8"
RECIPES = "e4m3fn:tensor,e4m3fn:block128x128,int4:group128,mxfp4,nvfp4"
COLS = 4544  # Falcon-7B hidden size: 35 x 128 + 64
GOAL = 1.5  # precli median / baseline median
REL_TOL = 1e-6
GNU_TIME = "/usr/bin/time"
HAVE_TIME = os.access(GNU_TIME, os.X_OK)
# Outliers, at fixed random positions: 70000 overflows fp16 and e5m2 and sets the int8
# scale, 500 and -1000 overflow e4m3fn, 1e-9 underflows fp16.
OUTLIERS = (70000.0, -1000.0, 500.0, -20.0, 8.0, 1e-9)

COUNT_KEYS = ("count", "nan_in", "lost", "overflow", "underflow", "subnormal", "scale_count",
              "scale_nan", "zero_point")
FLOAT_KEYS = ("exact_fraction", "max_abs_error", "mean_abs_error", "rmse", "max_rel_error",
              "sqnr_db", "bits_per_value", "scale", "scale_min", "scale_max", "tensor_scale")

BASELINE = r'''import json
import math
import sys

import ml_dtypes
import numpy as np

CASTS = {"bf16": ml_dtypes.bfloat16, "fp16": np.float16,
         "e4m3fn": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2}
HAS_INF = {"bf16": True, "fp16": True, "e4m3fn": False, "e5m2": True}
E4M3, E2M1 = ml_dtypes.float8_e4m3fn, ml_dtypes.float4_e2m1fn
# (max, overflow threshold, a tie at the threshold overflows): the midpoint between max and
# the next value the format would have with one more exponent; nearest-even sends the tie
# to the even one (448 = 1.110b x 2^8 stays, 6 = 1.1b x 2^2 goes to 8).
E4M3_SAT = (448.0, 464.0, False)
E2M1_SAT = (6.0, 7.0, True)


def f32_odd(q):
    """float64 -> float32, rounding to odd: a later nearest-even rounding to 22 bits or
    fewer (bf16, fp8, fp4) is then the correct rounding of q (ml_dtypes casts float64
    through float32, which would round twice)."""
    f = q.astype(np.float32)
    b = f.astype(np.float64)
    inexact = b != q
    u = f.view(np.uint32)
    u = u - (inexact & (np.abs(b) > np.abs(q))).astype(np.uint32)
    return (u | inexact.astype(np.uint32)).view(np.float32)


def cast_sat(w, dt, spec):
    """Saturating nearest-even cast of float64 quotients: (values, overflow)."""
    mx, thr, tie_over = spec
    f = f32_odd(w)
    a = np.abs(f)
    over = (a >= thr) if tie_over else (a > thr)
    return np.clip(f, -mx, mx).astype(dt).astype(np.float64), over


def fp32(v):
    return np.asarray(v, np.float64).astype(np.float32).astype(np.float64)


def groups(a, r, c, fill=0.0):
    """(R, C) -> (ceil(R/r), r, ceil(C/c), c), padded with fill."""
    R, C = a.shape
    gr, gc = -(-R // r), -(-C // c)
    if (gr * r, gc * c) != (R, C):
        p = np.full((gr * r, gc * c), fill, a.dtype)
        p[:R, :C] = a
        a = p
    return a.reshape(gr, r, gc, c)


def spread(g, r, c, shape):
    return np.repeat(np.repeat(g, r, axis=0), c, axis=1)[: shape[0], : shape[1]]


def record(name, x64, fin, q, over, bits, subnormal=0, **scales):
    n_fin = int(np.count_nonzero(fin))
    qfin = np.isfinite(q)
    lanes = fin & qfin
    lost = n_fin - int(np.count_nonzero(lanes))
    rec = {"format": name, "count": int(x64.size),
           "nan_in": int(np.count_nonzero(np.isnan(x64))), "lost": lost,
           "overflow": int(np.count_nonzero(over & fin)),
           "underflow": int(np.count_nonzero(fin & (x64 != 0) & (q == 0))),
           "subnormal": subnormal,
           "exact_fraction": int(np.count_nonzero(lanes & (x64 == q))) / n_fin}
    if lost:  # a lost value makes every error infinite
        rec.update(max_abs_error="inf", mean_abs_error="inf", rmse="inf",
                   max_rel_error="inf", sqnr_db="-inf")
    else:
        xs = x64[lanes] if n_fin < x64.size else x64.ravel()
        err = np.abs(xs - q[lanes] if n_fin < x64.size else xs - q.ravel())
        sum_sq = float(np.sum(err * err))
        nz = xs != 0
        rec.update(
            max_abs_error=float(err.max()), mean_abs_error=float(err.mean()),
            rmse=math.sqrt(sum_sq / err.size),
            max_rel_error=float((err[nz] / np.abs(xs[nz])).max()) if nz.any() else None,
            sqnr_db=10 * math.log10(float(np.sum(xs * xs)) / sum_sq) if sum_sq else "inf")
    rec["bits_per_value"] = bits
    rec.update({"scale": None, "zero_point": None, "scale_count": 0, "scale_min": None,
                "scale_max": None, "scale_nan": 0, "tensor_scale": None})
    s = scales.pop("scales", None)
    if s is not None:
        ok = s[~np.isnan(s)]
        rec.update(scale_count=int(s.size), scale_nan=int(s.size - ok.size),
                   scale_min=float(ok.min()) if ok.size else None,
                   scale_max=float(ok.max()) if ok.size else None)
    rec.update(scales)
    return rec


def cast(name, x, x64, fin):
    dt = CASTS[name]
    info = np.finfo(dt) if name == "fp16" else ml_dtypes.finfo(dt)
    q = x.astype(dt).astype(np.float64)
    qfin = np.isfinite(q)
    over = ~qfin
    if not HAS_INF[name]:
        over |= np.abs(q) > float(info.max)
    tiny = float(info.smallest_normal)
    sub = int(np.count_nonzero(qfin & (q != 0) & (np.abs(q) < tiny)))
    return record(name, x64, fin, q, over, float(info.bits), subnormal=sub)


def int8_legacy(name, x, x64, fin):
    """Bare int8: symmetric per tensor, float64 scale absmax / 127 (stored as fp64)."""
    scale = float(np.abs(x64[fin]).max()) / 127
    r = np.rint(x64 / scale)
    over = (r > 127) | (r < -128)
    q = np.clip(r, -128, 127) * scale
    return record(name, x64, fin, q, over, (8 * x.size + 64) / x.size,
                  scales=np.array([scale]), scale=scale, zero_point=0)


def e4m3_tensor(name, x, x64, fin):
    """Per-tensor amax (Transformer Engine / TensorRT): fp32 scale amax / 448."""
    amax = float(np.abs(x64[fin]).max(initial=0.0))
    s = float(fp32(amax / 448)) if amax else 1.0
    v, over = cast_sat(x64 / s, E4M3, E4M3_SAT)
    return record(name, x64, fin, v * s, over, (8 * x.size + 32) / x.size,
                  scales=np.array([s]), scale=s)


def e4m3_block(name, x, x64, fin, r=128, c=128):
    """DeepSeek-V3 style: one fp32 scale amax / 448 per 128 x 128 tile."""
    amax = np.abs(groups(np.where(fin, x64, 0.0), r, c)).max(axis=(1, 3))
    s = np.where(amax > 0, fp32(amax / 448), 1.0)
    sf = spread(s, r, c, x.shape)
    v, over = cast_sat(x64 / sf, E4M3, E4M3_SAT)
    return record(name, x64, fin, v * sf, over, (8 * x.size + 32 * s.size) / x.size,
                  scales=s.ravel())


def int4_group(name, x, x64, fin, g=128, qmin=-8, qmax=7):
    """GPTQ / AWQ: asymmetric groups of 128 along each row, fp16 scale
    (max' - min') / 15 over the range extended to hold 0, zero point
    clip(rint(qmin - min' / scale)) from the stored scale; q = clip(rint(x/s) + z)."""
    gx = groups(np.where(fin, x64, 0.0), 1, g)
    lo = np.minimum(gx.min(axis=(1, 3)), 0.0)
    hi = np.maximum(gx.max(axis=(1, 3)), 0.0)
    live = hi > lo
    s = np.clip((hi - lo) / (qmax - qmin), 0, 65504).astype(np.float16).astype(np.float64)
    s = np.where(live, np.maximum(s, 2.0**-24), 1.0)
    z = np.where(live, np.clip(np.rint(qmin - lo / s), qmin, qmax), qmin)
    sf, zf = spread(s, 1, g, x.shape), spread(z, 1, g, x.shape)
    t = np.rint(x64 / sf) + zf
    over = (t < qmin) | (t > qmax)
    q = (np.clip(t, qmin, qmax) - zf) * sf
    return record(name, x64, fin, q, over, (4 * x.size + 20 * s.size) / x.size,
                  scales=s.ravel())


def mxfp4(name, x, x64, fin, b=32):
    """OCP MX v1.0: blocks of 32 along each row, E8M0 scale 2^(floor(log2 amax) - 2)
    (emax of e2m1), saturating e2m1 elements; a block with a non-finite value, or a scale
    above 2^127, is NaN."""
    gx = groups(np.where(fin, x64, 0.0), 1, b)
    amax = np.abs(gx).max(axis=(1, 3))
    nonfin = groups(~fin, 1, b, False).any(axis=(1, 3))
    k = np.frexp(amax)[1].astype(np.int64) - 1 - 2
    k = np.where(amax > 0, k, -127)
    nan = nonfin | (k > 127)
    s = np.ldexp(1.0, np.clip(k, -127, 127))
    sf = spread(s, 1, b, x.shape)
    v, over = cast_sat(x64 / sf, E2M1, E2M1_SAT)
    q = np.where(spread(nan, 1, b, x.shape), np.nan, v * sf)
    return record(name, x64, fin, q, over & ~spread(nan, 1, b, x.shape),
                  (4 * x.size + 8 * s.size) / x.size, scales=np.where(nan, np.nan, s).ravel())


def nvfp4(name, x, x64, fin, b=16):
    """NVFP4 (ModelOpt): fp32 tensor scale amax / 2688, e4m3fn block scale
    amax_b / (6 ts) per 16 values along each row (saturating; 0 stays 0), e2m1 elements of
    x / (bs ts); a block with a non-finite value is NaN."""
    amax_t = float(np.abs(x64[fin]).max(initial=0.0))
    ts = max(float(fp32(amax_t / 2688)), 2.0**-149) if amax_t else 1.0
    gx = groups(np.where(fin, x64, 0.0), 1, b)
    amax = np.abs(gx).max(axis=(1, 3))
    nonfin = groups(~fin, 1, b, False).any(axis=(1, 3))
    bs, _ = cast_sat(amax / (6 * ts), E4M3, E4M3_SAT)
    mult = spread(bs * ts, 1, b, x.shape)
    live = mult > 0
    v, over = cast_sat(np.where(live, x64 / np.where(live, mult, 1.0), 0.0), E2M1, E2M1_SAT)
    nanf = spread(nonfin, 1, b, x.shape)
    q = np.where(nanf, np.nan, v * mult)
    return record(name, x64, fin, q, over & ~nanf, (4 * x.size + 8 * bs.size + 32) / x.size,
                  scales=np.where(nonfin, np.nan, bs).ravel(), tensor_scale=ts)


RECIPES = {"int8": int8_legacy, "e4m3fn:tensor": e4m3_tensor,
           "e4m3fn:block128x128": e4m3_block, "int4:group128": int4_group,
           "mxfp4": mxfp4, "nvfp4": nvfp4}

x = np.load(sys.argv[1])
x2 = x.reshape(1, -1) if x.ndim == 1 else x.reshape(-1, x.shape[-1])
x64 = x2.astype(np.float64)
fin = np.isfinite(x64)
out = []
with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
    for name in sys.argv[2].split(","):
        if name in CASTS:
            out.append(cast(name, x2, x64, fin))
        else:
            out.append(RECIPES[name](name, x2, x64, fin))
json.dump(out, sys.stdout, indent=2)
sys.stdout.write("\n")
'''


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


def write_matrix(path: Path, rows: int, seed: int) -> None:
    """rows x COLS float32: normals x 0.02, times a log-normal factor per input column."""
    rng = np.random.default_rng(seed)
    col = np.exp(rng.standard_normal(COLS) * 0.5)
    x = (rng.standard_normal((rows, COLS)) * 0.02 * col).astype(np.float32)
    np.save(path, x)


def checks_recipes() -> list[tuple[str, np.ndarray]]:
    """Small float32 matrices for the recipe row: 300 x 1000 (partial 32-, 16- and
    128-wide blocks at each row's end, a partial bottom 128x128 tile) holding NaN, +-inf,
    an all-zero row and an all-zero block, float32 subnormals, values that land on
    e2m1 / e4m3fn rounding ties after scaling, and an all-negative row; then 257 x 515 of
    values over 30 decades (scales near their formats' limits, underflowing blocks)."""
    rng = np.random.default_rng(SEED + 2)
    a = (rng.standard_normal((300, 1000)) * 0.05).astype(np.float32)
    a[3, 5], a[7, 100], a[8, 999], a[250, 40] = np.nan, np.inf, -np.inf, np.nan
    a[10] = 0.0
    a[11, 64:96] = 0.0
    a[12, :16] = np.array([6, 5, 3.5, 2.5, 1.75, 1.25, 0.75, 0.25, -7, 7, 0.5, 1, 2, 3, 4,
                           -6], np.float32)  # nvfp4/mxfp4 ties
    a[13, :32] = np.arange(32, dtype=np.float32) * 0.25 - 4  # e2m1 grid and midpoints
    a[14] = np.float32(2.0**-140)  # float32 subnormals
    a[15, :500] = np.float32(1e-30)
    a[16] = -np.abs(a[16])  # all negative: the int4 zero point clamps
    a[17, ::7] = np.float32(464.0) / 448 * np.float32(a[17, 0])  # e4m3fn tie region
    b = (rng.standard_normal((257, 515)) * 10.0 ** rng.uniform(-30, 5, (257, 515))
         ).astype(np.float32)
    return [("matrix with NaN, inf, zero blocks, ties", a),
            ("matrix over 30 decades", b)]


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
    """Print the comparison of the two outputs; True when they agree. Keys the baseline
    writes are compared: counts, strings ("inf", "-inf") and null exactly, floats within
    REL_TOL."""
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
            if not isinstance(pv, float) or not isinstance(bv, float):
                if pv != bv or type(pv) is not type(bv):
                    problems.append(f"{name} {k}: precli {pv!r} baseline {bv!r}")
                continue
            d = _rel(pv, bv)
            if d > worst[0]:
                worst = (d, name, k)
            if d > REL_TOL or not math.isfinite(d):
                problems.append(f"{name} {k}: precli {pv!r} baseline {bv!r} (rel {d:.2e})")
    ok = ok and not problems
    print(f"\n{title}: {'AGREE' if ok else 'DISAGREE'}")
    print("  format               lost      overflow  underflow  subnormal  scales   "
          "sqnr_db (precli / baseline; counts are the baseline's)")
    for name, b in base.items():
        p = pre.get(name, {})
        print(f"  {name:<20} {b['lost']:<9} {b['overflow']:<9} {b['underflow']:<10} "
              f"{b['subnormal']:<10} {b['scale_count']:<8} {p.get('sqnr_db')} / {b['sqnr_db']}")
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


@dataclass
class Row:
    key: str
    formats: str
    data: Path
    pre: Cmd
    base: Cmd
    checks: list[tuple[str, np.ndarray]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1M values and 5 rounds")
    ap.add_argument("--rounds", type=int, help="timed rounds (default 7; 5 with --quick)")
    ap.add_argument("--rows", default="casts,recipes",
                    help="rows to run, comma-separated: casts, recipes (default both)")
    args = ap.parse_args()
    n = 1_000_000 if args.quick else 10_000_000
    mrows = 220 if args.quick else 2200
    rounds = args.rounds or (5 if args.quick else 7)
    if rounds < 1:
        ap.error("--rounds must be at least 1")
    wanted = [s.strip() for s in args.rows.split(",") if s.strip()]
    if not wanted or any(s not in ("casts", "recipes") for s in wanted):
        ap.error("--rows takes casts and/or recipes")

    print("\n".join(machine_lines()), flush=True)
    env = bench_env()
    print(f"compileall: {compile_all(env):.1f} s", flush=True)
    console = Path(PY).parent / "precli"
    precli = [str(console)] if console.exists() else [PY, "-m", "precli"]
    pname = Path(precli[-1]).name
    if not HAVE_TIME:
        print(f"warning: {GNU_TIME} not found: peak RSS is not reported", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="precli-compare-bench-"))
    rows: list[Row] = []
    try:
        base_py = tmp / "baseline.py"
        base_py.write_text(BASELINE)
        for key in wanted:
            if key == "casts":
                data, formats = tmp / "x.npy", FORMATS
                write_data(data, n, SEED)
                print(f"casts data: {n:,} float32 values ({data.stat().st_size / 1e6:.0f} MB "
                      f".npy), seed {SEED}, outliers {list(OUTLIERS)}", flush=True)
                chk = checks()
            else:
                data, formats = tmp / "w.npy", RECIPES
                write_matrix(data, mrows, SEED + 3)
                print(f"recipes data: {mrows:,} x {COLS:,} float32 = {mrows * COLS:,} values "
                      f"({data.stat().st_size / 1e6:.0f} MB .npy), seed {SEED + 3}",
                      flush=True)
                chk = checks_recipes()
            rows.append(Row(
                key, formats, data,
                Cmd(f"precli-{key}", f"{pname} compare {data.name} --formats {formats} "
                    "--output json", [*precli, "compare", str(data), "--formats", formats,
                                      "--output", "json"], tmp / f"precli-{key}.json"),
                Cmd(f"baseline-{key}", f"python baseline.py {data.name} (numpy + ml_dtypes)",
                    [PY, str(base_py), str(data), formats], tmp / f"baseline-{key}.json"),
                chk))
        imp = Cmd("import", "python -c 'import numpy, ml_dtypes' (reference)",
                  [PY, "-c", "import numpy, ml_dtypes"], tmp / "import.out")
        cmds = [c for r in rows for c in (r.pre, r.base)] + [imp]

        print("warm-up round (untimed)", flush=True)
        for c in cmds:
            run(c, env)
        ok = True
        for row in rows:
            size = np.load(row.data, mmap_mode="r").size
            ok = agree(row.pre.stdout, row.base.stdout,
                       f"[{row.key}] agreement on the {size:,} values") and ok
            for i, (tag, values) in enumerate(row.checks):
                path = tmp / f"check-{row.key}{i}.npy"
                np.save(path, values)
                e_pre = Cmd("", "", [*precli, "compare", str(path), "--formats", row.formats,
                                     "--output", "json"], tmp / "p.json")
                e_base = Cmd("", "", [PY, str(base_py), str(path), row.formats],
                             tmp / "b.json")
                run(e_pre, env)
                run(e_base, env)
                ok = agree(e_pre.stdout, e_base.stdout,
                           f"[{row.key}] agreement on {values.size:,} {tag}") and ok

        print(f"\ntimed rounds: {rounds}", flush=True)
        bench(cmds, rounds, env)
        la_end = " ".join(f"{x:.2f}" for x in os.getloadavg())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\nresults ({rounds} rounds; load average at end {la_end})")
    print("| row | command | median | p25–p75 | min | user + sys CPU (medians) "
          "| peak RSS (median) | ratio to the row's baseline |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    verdicts = []
    for row in rows:
        for c in (row.pre, row.base):
            print(_line(row.key, c, row.base))
        verdicts.append((row.key, row.pre.med / row.base.med))
    print(_line("", imp, None))
    for key, ratio in verdicts:
        verdict = "PASS" if ratio <= GOAL else "MISS"
        print(f"goal [{key}]: precli / baseline <= {GOAL}: {ratio:.2f}× -> {verdict}")
    print(f"outputs {'agree' if ok else 'DISAGREE'} (counts exact, floats within {REL_TOL:g})")
    for c in cmds:
        print(f"raw times (ms) {c.key}: {[round(t * 1e3) for t in c.times]}")
    return 0 if ok else 1


def _line(row: str, c: Cmd, base: Cmd | None) -> str:
    lo, hi = c.quartiles()
    rss = f"{statistics.median(c.rss) / 1e6:.0f} MB" if HAVE_TIME else "n/a"
    user = statistics.median(u for u, _ in c.cpu)
    system = statistics.median(s for _, s in c.cpu)
    cpu = f"{user * 1e3:.0f} + {system * 1e3:.0f} ms" if HAVE_TIME else "n/a"
    ratio = f"{c.med / base.med:.2f}×" if base is not None else "–"
    return (f"| {row} | {c.label} | {c.med * 1e3:.0f} ms | {lo * 1e3:.0f}–{hi * 1e3:.0f} | "
            f"{min(c.times) * 1e3:.0f} | {cpu} | {rss} | {ratio} |")


if __name__ == "__main__":
    sys.exit(main())
