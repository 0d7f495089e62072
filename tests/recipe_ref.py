"""An independent, exact reference for compare's recipes (test oracle).

Written from the published rules, not from precli (nothing here imports ``precli``):

* scaled float elements (Transformer Engine / TensorRT per-tensor amax, per-channel,
  DeepSeek-V3 128x128 blocks): ``scale = amax / fmax`` stored in the scale format
  (fp32 / fp16 / bf16 nearest-even, saturating, at least the smallest positive value;
  ue8m0 = ``2**ceil(log2(amax / fmax))``), elements ``RNE_sat(x / scale)``;
* integers: symmetric ``amax / qmax`` (signed), PyTorch quint8 for unsigned
  (``amax / ((qmax - qmin) / 2)``, zero point 128 for uint8); asymmetric GPTQ / AWQ
  ``(max' - min') / (qmax - qmin)`` over the range extended to hold 0, zero point
  ``clamp(round_half_even(qmin - min' / s_stored))``, ``q = clamp(rne(x / s) + z)``;
* OCP MX v1.0 section 6.3: ``X = floor(log2 amax) - emax_elem`` (rule floor) or
  ``ceil(log2(amax / elem_max))`` (rceil, cuBLAS / torchao), clamped below at -127, a
  scale above 2**127 (E8M0 0xff) or any NaN / inf element makes the block NaN;
* NVFP4 (ModelOpt): tensor scale ``fp32(amax / (6 * 448))``, block scale
  ``e4m3fn(amax_b / (6 * ts))`` (0 stays 0), elements ``e2m1(x / (bs * ts))``.

Element and scale rounding go through :mod:`oracle` (the exact float-format oracle, also
independent of precli). Everything is ``Fraction``; a non-finite result is the string
``"nan"`` or ``"inf"``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import oracle

F = Fraction
TWO = Fraction(2)

# Largest finite values, typed in from the format definitions (checked against the oracle
# tables in the tests).
FMAX: dict[str, Fraction] = {
    "e4m3fn": F(448),
    "e5m2": F(57344),
    "e3m2fn": F(28),
    "e2m3fn": F(15, 2),
    "e2m1fn": F(6),
    "fp16": F(65504),
    "bf16": (2 - TWO**-7) * TWO**127,
    "fp32": (2 - TWO**-23) * TWO**127,
}
# OCP MX v1.0 table 1: element format and emax of its largest normal.
MX: dict[str, tuple[str, int]] = {
    "mxfp8_e4m3": ("e4m3fn", 8),
    "mxfp8_e5m2": ("e5m2", 15),
    "mxfp6_e3m2": ("e3m2fn", 4),
    "mxfp6_e2m3": ("e2m3fn", 2),
    "mxfp4": ("e2m1fn", 2),
    "mxint8": ("int8", 0),
}
INTS: dict[str, tuple[int, int]] = {
    "int8": (-128, 127), "uint8": (0, 255), "int4": (-8, 7), "uint4": (0, 15),
    "int2": (-2, 1), "int16": (-32768, 32767),
}  # fmt: skip


def floor_log2(q: Fraction) -> int:
    """The largest k with 2**k <= q (q > 0)."""
    k = q.numerator.bit_length() - q.denominator.bit_length()
    while TWO**k > q:
        k -= 1
    while TWO ** (k + 1) <= q:
        k += 1
    return k


def ceil_log2(q: Fraction) -> int:
    k = floor_log2(q)
    return k if TWO**k == q else k + 1


def rne(t: Fraction) -> int:
    """Round half to even, to an integer."""
    f = math.floor(t)
    d = t - f
    if d > F(1, 2) or (d == F(1, 2) and f % 2):
        return f + 1
    return f


def round_float(name: str, t: Fraction, saturate: bool = True) -> tuple[Any, bool]:
    """(value, overflowed) of t rounded nearest-even into a float format: a Fraction, or
    "nan" / "inf" (sign dropped: only finiteness matters here)."""
    if name == "fp32":
        r = oracle.ref_round_ieee(8, 23, t, "nearest-even", saturate=saturate)
    elif name == "fp64":
        r = oracle.ref_round_ieee(11, 52, t, "nearest-even", saturate=saturate)
    else:
        r = oracle.ref_round(name, t, "nearest-even", saturate=saturate)
    over = "overflow" in r.flags
    if r.kind == "finite":
        assert r.value is not None
        return r.value, over
    return r.kind, over


def smallest_positive(name: str) -> Fraction:
    if name == "fp32":
        return TWO**-149
    return oracle.table(name).min_positive


def store_scale(sfmt: str, q: Fraction) -> Fraction | None:
    """A positive exact quotient stored as a scale (None: not storable, a NaN group)."""
    if sfmt == "ue8m0":
        k = ceil_log2(q)
        if k > 127:
            return None
        return TWO ** max(k, -127)
    v, _ = round_float(sfmt, q, saturate=True)
    assert isinstance(v, Fraction)
    return v if v > 0 else smallest_positive(sfmt)


# ------------------------------------------------------------------ recipes


@dataclass(frozen=True)
class Spec:
    """A recipe as the reference understands it (parsed here, independently)."""

    kind: str  # cast | float | int | mx | nvfp4
    elem: str
    scaling: str = "none"  # none | tensor | channel | group | block
    rows: int = 0
    cols: int = 0
    sfmt: str = "none"
    scheme: str | None = None
    rule: str = "floor"

    @property
    def elem_bits(self) -> int:
        return {"e4m3fn": 8, "e5m2": 8, "e3m2fn": 6, "e2m3fn": 6, "e2m1fn": 4, "fp16": 16,
                "bf16": 16, "fp32": 32, "fp64": 64, "int8": 8, "uint8": 8, "int4": 4,
                "uint4": 4, "int2": 2, "int16": 16}[self.elem]


def parse(text: str, scheme: str | None = None) -> Spec:
    parts = text.split(":")
    name = parts[0]
    if name == "nvfp4":
        return Spec("nvfp4", "e2m1fn", "group", 1, 16, "e4m3fn")
    if name in MX:
        return Spec("mx", MX[name][0], "group", 1, 32, "e8m0",
                    rule=parts[1] if len(parts) > 1 else "floor")
    if len(parts) == 1:
        assert name not in INTS, "bare integer names are legacy recipes, not modelled here"
        return Spec("cast", name)
    sc = parts[1]
    m = re.fullmatch(r"group(\d+)|block(\d+)x(\d+)", sc)
    rows = cols = 0
    scaling = sc
    if m and m.group(1):
        scaling, rows, cols = "group", 1, int(m.group(1))
    elif m:
        scaling, rows, cols = "block", int(m.group(2)), int(m.group(3))
    is_int = name in INTS
    sdef = "fp16" if is_int and scaling == "group" else "fp32"
    sfmt = parts[2] if len(parts) > 2 else sdef
    if is_int:
        scheme = scheme or ("asymmetric" if scaling == "group" else "symmetric")
        return Spec("int", name, scaling, rows, cols, sfmt, scheme)
    return Spec("float", name, scaling, rows, cols, sfmt)


def matrix(a: np.ndarray, axis: int | None = None) -> np.ndarray:
    """The matrix view: the blocking axis as columns, every other axis flattened. Without
    an axis, PyTorch's conventions: an array of 3+ dimensions whose trailing dimensions
    (after the first two) are all at most 16 long is a conv kernel [out, in, k...], summed
    over everything after its first axis; otherwise the last axis is summed over."""
    a = np.asarray(a)
    if a.ndim == 0:
        a = a.reshape(1)
    if axis is None and a.ndim >= 3 and all(0 < d <= 16 for d in a.shape[2:]):
        return a.reshape(a.shape[0], -1)
    if axis is not None:
        a = np.moveaxis(a, axis, -1)
    return a.reshape(-1, a.shape[-1])


def exact_entries(m: np.ndarray) -> list[list[Any]]:
    """Fractions for finite entries (integers exactly), floats for NaN / inf."""
    out = []
    for row in m.tolist():
        out.append([F(v) if (isinstance(v, int) or math.isfinite(v)) else v for v in row])
    return out


@dataclass
class Result:
    values: list[list[Any]]  # Fraction | "nan" | "inf"
    overflow: list[list[bool]]
    scales: list[Any] = field(default_factory=list)  # Fraction | None (NaN)
    zero_points: list[int] = field(default_factory=list)
    tensor_scale: Fraction | None = None


def _finite(v: Any) -> bool:
    return isinstance(v, Fraction)


def _tiles(nr: int, nc: int, r: int, c: int) -> list[list[tuple[int, int]]]:
    out = []
    for i0 in range(0, nr, r):
        for j0 in range(0, nc, c):
            out.append([(i, j) for i in range(i0, min(i0 + r, nr))
                        for j in range(j0, min(j0 + c, nc))])
    return out


def _groups(s: Spec, X: list[list[Any]], channel_of_row: list[int] | None
            ) -> list[list[tuple[int, int]]]:
    nr, nc = len(X), len(X[0]) if X else 0
    if s.scaling == "tensor":
        return [[(i, j) for i in range(nr) for j in range(nc)]]
    if s.scaling == "channel":
        assert channel_of_row is not None
        n = max(channel_of_row) + 1
        return [[(i, j) for i in range(nr) if channel_of_row[i] == ch for j in range(nc)]
                for ch in range(n)]
    return _tiles(nr, nc, s.rows, s.cols)


def _scale_zp(s: Spec, vals: list[Fraction]) -> tuple[Fraction | None, int]:
    lo = min(vals, default=F(0))
    hi = max(vals, default=F(0))
    amax = max(-lo, hi, F(0))
    if s.kind == "float":
        if amax == 0:
            return F(1), 0
        return store_scale(s.sfmt, amax / FMAX[s.elem]), 0
    qmin, qmax = INTS[s.elem]
    if s.scheme == "symmetric":
        if qmin < 0:
            return (store_scale(s.sfmt, amax / qmax) if amax else F(1)), 0
        zp = (qmin + qmax + 1) // 2  # PyTorch quint8: 128 for uint8
        return (store_scale(s.sfmt, amax / F(qmax - qmin, 2)) if amax else F(1)), zp
    lo_, hi_ = min(lo, F(0)), max(hi, F(0))
    if hi_ == lo_:
        return F(1), qmin
    sc = store_scale(s.sfmt, (hi_ - lo_) / (qmax - qmin))
    if sc is None:
        return None, 0
    return sc, min(max(rne(qmin - lo_ / sc), qmin), qmax)


def _element(s: Spec, t: Fraction, zp: int = 0) -> tuple[Any, bool]:
    """(element value (q - zp for integers), overflow) of the exact quotient t."""
    if s.elem in INTS:
        qmin, qmax = INTS[s.elem]
        q = rne(t) + zp
        return F(min(max(q, qmin), qmax) - zp), not qmin <= q <= qmax
    return round_float(s.elem, t, saturate=True)


def quantize(s: Spec, X: list[list[Any]], channel_of_row: list[int] | None = None) -> Result:
    """Quantize the matrix view X (rows of Fractions / non-finite floats) under s."""
    nr, nc = len(X), len(X[0]) if X else 0
    vals: list[list[Any]] = [[None] * nc for _ in range(nr)]
    over = [[False] * nc for _ in range(nr)]
    res = Result(vals, over)
    if s.kind == "cast":
        for i in range(nr):
            for j in range(nc):
                x = X[i][j]
                if not _finite(x):
                    vals[i][j] = "nan" if math.isnan(x) else "inf"
                    continue
                vals[i][j], over[i][j] = round_float(s.elem, x, saturate=False)
        return res
    if s.kind == "nvfp4":
        return _nvfp4(X, res)
    if s.kind == "mx":
        return _mx(s, X, res)
    for g in _groups(s, X, channel_of_row):
        fin = [X[i][j] for i, j in g if _finite(X[i][j])]
        sc, zp = _scale_zp(s, fin)
        res.scales.append(sc)
        res.zero_points.append(zp)
        for i, j in g:
            x = X[i][j]
            if sc is None:
                vals[i][j] = "nan"
                continue
            if not _finite(x):
                vals[i][j] = "nan" if math.isnan(x) else "inf"
                continue
            e, o = _element(s, x / sc, zp)
            over[i][j] = o
            vals[i][j] = e * sc if _finite(e) else e
    return res


def _mx(s: Spec, X: list[list[Any]], res: Result) -> Result:
    name = next(k for k, v in MX.items() if v[0] == s.elem)
    _, emax = MX[name]
    int_elems = s.elem in INTS
    elem_max = F(127, 64) if int_elems else FMAX[s.elem]
    for g in _tiles(len(X), len(X[0]) if X else 0, 1, 32):
        xs = [X[i][j] for i, j in g]
        bad = not all(_finite(x) for x in xs)
        amax = max((abs(x) for x in xs if _finite(x)), default=F(0))
        if amax == 0:
            k = -127
        elif s.rule == "floor":
            k = floor_log2(amax) - emax
        else:
            k = ceil_log2(amax / elem_max)
        if k > 127:
            bad = True
        k = max(k, -127)
        sc = TWO**k
        res.scales.append(None if bad else sc)
        for i, j in g:
            x = X[i][j]
            if bad:
                res.values[i][j] = "nan"
                continue
            if int_elems:  # MXINT8: int8 * 2**-6, two's complement range [-2, 127/64]
                q = rne(x / sc * 64)
                res.overflow[i][j] = not -128 <= q <= 127
                res.values[i][j] = F(min(max(q, -128), 127), 64) * sc
            else:
                e, o = round_float(s.elem, x / sc, saturate=True)
                res.overflow[i][j] = o
                res.values[i][j] = e * sc
    return res


def nvfp4_tensor_scale(amax: Fraction) -> Fraction:
    if amax == 0:
        return F(1)
    v, _ = round_float("fp32", amax / (6 * 448))
    return v if v > 0 else TWO**-149


def _nvfp4(X: list[list[Any]], res: Result) -> Result:
    amax_t = max((abs(x) for row in X for x in row if _finite(x)), default=F(0))
    ts = nvfp4_tensor_scale(amax_t)
    res.tensor_scale = ts
    for g in _tiles(len(X), len(X[0]) if X else 0, 1, 16):
        xs = [X[i][j] for i, j in g]
        bad = not all(_finite(x) for x in xs)
        amax = max((abs(x) for x in xs if _finite(x)), default=F(0))
        bs, _ = round_float("e4m3fn", amax / (6 * ts), saturate=True)
        res.scales.append(None if bad else bs)
        for i, j in g:
            x = X[i][j]
            if bad:
                res.values[i][j] = "nan"
            elif bs == 0:
                res.values[i][j] = F(0)
            else:
                e, o = round_float("e2m1fn", x / (bs * ts), saturate=True)
                res.overflow[i][j] = o
                res.values[i][j] = e * bs * ts
    return res


# ------------------------------------------------------------------ statistics


def stats(X: list[list[Any]], res: Result) -> dict[str, Any]:
    """The statistics contract, straightforwardly, from exact inputs and results."""
    count = nan_in = lost = overflow = underflow = finite = exact = 0
    errs: list[Fraction] = []
    rels: list[Fraction] = []
    sx2 = F(0)
    for row_x, row_q, row_o in zip(X, res.values, res.overflow, strict=True):
        for x, q, o in zip(row_x, row_q, row_o, strict=True):
            count += 1
            if not _finite(x):
                nan_in += math.isnan(x)
                continue
            finite += 1
            overflow += o
            if not _finite(q):
                lost += 1
                continue
            underflow += x != 0 and q == 0
            e = abs(x - q)
            exact += e == 0
            errs.append(e)
            sx2 += x * x
            if x != 0:
                rels.append(e / abs(x))
    out: dict[str, Any] = {"count": count, "nan_in": nan_in, "lost": lost,
                           "overflow": overflow, "underflow": underflow,
                           "exact_fraction": exact / finite if finite else None}
    if lost:
        out.update(max_abs_error="inf", mean_abs_error="inf", rmse="inf",
                   max_rel_error="inf", sqnr_db="-inf")
        return out
    if not errs:
        out.update(max_abs_error=None, mean_abs_error=None, rmse=None, max_rel_error=None,
                   sqnr_db=None)
        return out
    se2 = sum((e * e for e in errs), F(0))
    out["max_abs_error"] = float(max(errs))
    out["mean_abs_error"] = float(sum(errs, F(0)) / len(errs))
    ms = se2 / len(errs)
    j = floor_log2(ms) // 2 if ms else 0  # sqrt(ms) = sqrt(ms / 4**j) * 2**j, no overflow
    out["rmse"] = math.ldexp(math.sqrt(ms / F(4) ** j), j)
    out["max_rel_error"] = float(max(rels)) if rels else None
    if se2 == 0:
        out["sqnr_db"] = "inf"
    else:
        r = sx2 / se2
        out["sqnr_db"] = 10 * (math.log10(r.numerator) - math.log10(r.denominator))
    return out
