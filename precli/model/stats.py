"""Array statistics for ``precli compare``: what storing a tensor under a recipe costs.

Pure numpy, never prints. A tensor (:class:`Values`: an array, a memory map, parsed text
or a checkpoint reader) is walked in tiles of its matrix view (see :mod:`precli.array.recipes`
for the layout); every recipe quantizes each tile through :func:`precli.array.recipes.
quantize_tile` and folds it into running totals, so memory stays bounded by the tile size
however large the tensor. Recipes with tensor or channel scales (and NVFP4's tensor scale)
take a first pass for the range; everything else is one pass.

**The statistics** (the JSON contract of :meth:`CompareStats.to_record`):

* ``count``: input values; ``nan_in``: NaN inputs (inputs +-inf are neither errors nor
  lost: they are not finite to begin with).
* ``lost``: finite inputs whose stored value is not finite (overflow to inf, NaN from a
  non-saturating cast, a NaN block or scale, ...). A lost value makes every error
  statistic infinite: errors are over *all* finite inputs.
* ``overflow``: finite inputs whose magnitude rounds above the element format's max
  (after scaling), whatever then happened to them (saturated: counted here and its finite
  error counts; inf / NaN: also lost).
* ``underflow``: nonzero finite inputs whose result is zero.
* ``subnormal``: results that are subnormal numbers of a float target (plain casts only).
* ``exact_fraction``: the share of finite inputs stored without error.
* ``max_abs_error``, ``mean_abs_error``, ``rmse``, ``max_rel_error`` (nonzero inputs),
  ``sqnr_db = 10 log10(sum x**2 / sum (x - q)**2)``: over every finite input, against the
  exact input (decimal text and integers past 2**53 are not float64 numbers: their
  rounding to float64 counts as error). Infinite values are written as the strings
  ``"inf"`` / ``"-inf"`` in JSON: ``sqnr_db`` is ``"inf"`` when nothing was lost and the
  error is zero, ``"-inf"`` when values were lost (then the errors are ``"inf"``).
  ``null`` means there was no finite input.
* ``bits_per_value``: storage per value, scales and zero points included at their stored
  width (:meth:`precli.array.recipes.Recipe.bits_per_value`).
* ``scaling``, ``block``, ``scale_format``, ``scheme``: the recipe; ``scale`` /
  ``zero_point``: the scale when there is one (tensor scaling), ``scale_count`` /
  ``scale_min`` / ``scale_max``: every stored scale, ``scale_nan``: scales that could not be
  stored (their groups are NaN); ``tensor_scale``: NVFP4's fp32 tensor scale.

**Sums.** Each tile's sums are numpy pairwise sums in float64, of values first scaled by
a power of two taken from the tile's largest value (exact, and it keeps squares of large
errors from overflowing and of small ones from underflowing); tile sums are then added
exactly (Shewchuk's partials, as ``math.fsum``) at a common power of two, so they do not
depend on the order tiles are added in. Counts and maxima are exact.

Floating-point warnings never escape: every division and overflow is guarded.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from precli.array import codec
from precli.array.intquant import check_granularity, check_scheme, int_params
from precli.array.recipes import (
    Context,
    Defaults,
    Recipe,
    nvfp4_tensor_scale,
    parse_recipe,
    quantize_tile,
    scale_exact,
    scales_from_range,
)
from precli.array.views import View, guess_view, last_axis, view_of_axis
from precli.core.formats import FloatFormat, IntFormat
from precli.core.rounding import resolve_round_mode
from precli.errors import UsageError, arg

__all__ = [
    "CHUNK",
    "RECORD_KEYS",
    "CompareStats",
    "RaggedRows",
    "ErrorTally",
    "Values",
    "compare_array",
    "compare_tensor",
    "compare_values",
    "merge_tallies",
    "summary_stats",
    "pick_cheapest",
    "resolve_recipes",
]

F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

#: Values per tile (bounded memory: a few float64 temporaries of this size per recipe).
CHUNK = 1 << 15

#: channel scales need a channel axis besides the one the values run along
CHANNEL_NEEDS_2D = (f"{arg('granularity')} channel needs an array of 2 or more dimensions; a "
                    "1-D array has no channels")

_LOG10_2 = math.log10(2.0)


# ------------------------------------------------------------------ the record


@dataclass(frozen=True)
class CompareStats:
    """One recipe's statistics (see the module docstring for the definitions).

    A frozen dataclass rather than a NamedTuple: the ``count`` field would shadow
    ``tuple.count``."""

    format: str
    count: int
    nan_in: int
    lost: int
    overflow: int
    underflow: int
    subnormal: int
    exact_fraction: float | None
    max_abs_error: float | None
    mean_abs_error: float | None
    rmse: float | None
    max_rel_error: float | None
    sqnr_db: float | None
    bits_per_value: float | None
    scaling: str
    block: list[int] | None
    scale_format: str | None
    scheme: str | None
    scale: float | None
    zero_point: int | None
    scale_count: int
    scale_min: float | None
    scale_max: float | None
    scale_nan: int
    tensor_scale: float | None
    note: str | None = None  # e.g. partial groups: the view's rows do not hold whole groups
    recommended: bool = False

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict with these keys in this order: numbers are finite, infinities
        are the strings "inf" / "-inf", None is null."""
        rec: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            rec[f.name] = json_number(v) if isinstance(v, float) else v
        return rec


    def to_dict(self) -> dict[str, Any]:
        """The same JSON-ready dict as :meth:`to_record` (the name notebooks expect)."""
        return self.to_record()

RECORD_KEYS: tuple[str, ...] = tuple(f.name for f in fields(CompareStats))


def json_number(v: float | None) -> float | str | None:
    """A float for JSON: finite as is, infinities as "inf" / "-inf", NaN as None."""
    if v is None or math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


# ------------------------------------------------------------------ exact sums


def _grow(partials: list[float], x: float) -> None:
    """Add x to a list of non-overlapping partials (Shewchuk; math.fsum sums them)."""
    i = 0
    for y in partials:
        if abs(x) < abs(y):
            x, y = y, x
        hi = x + y
        lo = y - (hi - x)
        if lo:
            partials[i] = lo
            i += 1
        x = hi
    partials[i:] = [x]


@dataclass
class _ScaledSum:
    """sum(v ** power) over nonnegative float64 values, held as fsum(parts) * 2**(power * e)."""

    power: int
    e: int | None = None
    parts: list[float] = field(default_factory=list)
    inf: bool = False

    def add_scaled(self, m: float, k: int) -> None:
        """Add m * 2**(power * k) (a partial of another sum scaled at exponent k)."""
        if m == 0:
            return
        if self.e is None:
            self.e = k
        elif k > self.e:
            shift = self.power * (self.e - k)
            self.parts = [math.ldexp(p, shift) for p in self.parts]
            self.e = k
        elif k < self.e:
            m = math.ldexp(m, self.power * (k - self.e))
        _grow(self.parts, m)

    def mantissa(self) -> tuple[float, int]:
        """(m, e): the sum is m * 2**(power * e); m is 0.0 for an empty sum."""
        return math.fsum(self.parts), self.e or 0


def scaled_partial(v: F64, power: int) -> tuple[float, int] | None:
    """sum(v ** power) of nonnegative values as (m, k), the sum being m * 2**(power * k):
    the values are first scaled by 2**-k, k from their largest (exact, and it keeps the
    powers from overflowing or underflowing). None when a value is infinite."""
    if v.size == 0:
        return 0.0, 0
    m = float(v.max())
    if not math.isfinite(m):
        return None
    if m == 0:
        return 0.0, 0
    k = math.frexp(m)[1]  # m < 2**k
    with np.errstate(under="ignore"):
        w = np.ldexp(v, -k)
        return float(np.sum(w * w if power == 2 else w)), k


@dataclass
class _Tally:
    count: int = 0
    nan_in: int = 0
    lost: int = 0
    finite: int = 0
    overflow: int = 0
    underflow: int = 0
    subnormal: int = 0
    exact: int = 0
    lanes: int = 0
    max_abs: float = 0.0
    max_rel: float | None = None
    sum_abs: _ScaledSum = field(default_factory=lambda: _ScaledSum(1))
    sum_sq: _ScaledSum = field(default_factory=lambda: _ScaledSum(2))
    sum_x2: _ScaledSum = field(default_factory=lambda: _ScaledSum(2))


def _ldexp(m: float, e: int) -> float:
    try:
        return math.ldexp(m, e)
    except OverflowError:
        return math.inf


def _count(mask: npt.NDArray[np.bool_]) -> int:
    return int(np.count_nonzero(mask))


class _TileInfo:
    """What every recipe's tally of one tile shares: finiteness, counts, magnitudes, and
    the signal sum over the finite inputs (computed once per tile, not once per recipe)."""

    def __init__(self, x: F64, lo: F64 | None) -> None:
        self.x = x.reshape(-1)
        self.lo = None if lo is None else lo.reshape(-1)
        self.fin = np.isfinite(self.x)
        self.nfin = _count(self.fin)
        self.all_fin = self.nfin == self.x.size
        self.nan = 0 if self.all_fin else _count(np.isnan(self.x))
        nz = self.x != 0
        self.nonzero = nz if self.lo is None else nz | (self.lo != 0)
        self.ax = np.abs(self.x)
        self._x2: tuple[float, int] | None = None
        self._nz: tuple[Bool, bool, F64] | None = None

    def nonzero_ax(self) -> tuple[Bool, bool, F64]:
        """(|x| != 0, any of them, |x| with zeros replaced by 1): relative errors divide by
        it (computed once per tile, used by every recipe that keeps every lane)."""
        if self._nz is None:
            nz = self.ax != 0
            self._nz = (nz, bool(nz.any()), np.where(nz, self.ax, 1.0))
        return self._nz

    def x2(self) -> tuple[float, int] | None:
        """The scaled partial of sum x**2 over the finite inputs (see scaled_partial)."""
        if self._x2 is None:
            self._x2 = scaled_partial(self.ax if self.all_fin else self.ax[self.fin], 2)
        return self._x2


def _tally(t: _Tally, info: _TileInfo, res: F64, over: Bool, sub_limit: float | None) -> None:
    """Fold one tile's results into t (errors against the exact input: x + lo)."""
    res = res.reshape(-1)
    over = over.reshape(-1)
    x, lo, fin = info.x, info.lo, info.fin
    t.count += x.size
    t.finite += info.nfin
    t.nan_in += info.nan
    t.overflow += _count(over if info.all_fin else over & fin)
    rfin = np.isfinite(res)
    same = bool(rfin.all()) or bool((rfin | ~fin).all())
    lanes = fin if same else fin & rfin
    if not same:
        t.lost += info.nfin - _count(lanes)
    zero = res == 0
    t.underflow += _count(zero & info.nonzero & fin)
    if sub_limit is not None:
        ar = np.abs(res)
        t.subnormal += _count(rfin & ~zero & (ar < sub_limit))
    whole = same and info.all_fin
    if whole:
        xs, rs, ls, ax = x, res, lo, info.ax
    else:
        xs, rs, ax = x[lanes], res[lanes], info.ax[lanes]
        ls = None if lo is None else lo[lanes]
    if xs.size == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        err = np.subtract(xs, rs)
        if ls is not None:
            err += ls
        np.abs(err, out=err)
    t.lanes += xs.size
    t.exact += _count(err == 0)
    emax = float(err.max())
    t.max_abs = max(t.max_abs, emax)
    if whole:
        nz, any_nz, safe = info.nonzero_ax()
    else:
        nz = ax != 0
        any_nz = bool(nz.any())
        safe = np.where(nz, ax, 1.0) if any_nz and emax > 0 else ax
    if any_nz:
        rel = 0.0
        if emax > 0:
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                rel = float(np.max(err / safe, where=nz, initial=0.0))
        t.max_rel = rel if t.max_rel is None else max(t.max_rel, rel)
    _add_err_sums(t, err, emax)
    part = info.x2() if same else scaled_partial(ax, 2)
    if part is None:
        t.sum_x2.inf = True
    elif part[0]:
        t.sum_x2.add_scaled(*part)


def _add_err_sums(t: _Tally, err: F64, emax: float) -> None:
    """sum |e| and sum e**2 of one tile, from one scaling of the errors (as scaled_partial)."""
    if not math.isfinite(emax):
        t.sum_abs.inf = t.sum_sq.inf = True
        return
    if emax == 0:
        return
    k = math.frexp(emax)[1]
    with np.errstate(under="ignore"):
        w = np.ldexp(err, -k, out=err)  # err is this tile's own buffer
        s1 = float(np.sum(w))
        np.multiply(w, w, out=w)
        s2 = float(np.sum(w))
    t.sum_abs.add_scaled(s1, k)
    t.sum_sq.add_scaled(s2, k)


def _errors(t: _Tally) -> dict[str, float | None]:
    err: dict[str, float | None] = dict.fromkeys(
        ("max_abs_error", "mean_abs_error", "rmse", "max_rel_error", "sqnr_db"))
    if t.lost:
        inf = math.inf
        return {"max_abs_error": inf, "mean_abs_error": inf, "rmse": inf,
                "max_rel_error": inf, "sqnr_db": -inf}
    if not t.lanes:
        return err
    max_abs = t.max_abs
    err["max_abs_error"] = max_abs
    err["max_rel_error"] = t.max_rel
    ma, ea = t.sum_abs.mantissa()
    ms, es = t.sum_sq.mantissa()
    mx, ex = t.sum_x2.mantissa()
    if t.sum_abs.inf or t.sum_sq.inf or not math.isfinite(max_abs):
        err["mean_abs_error"] = err["rmse"] = math.inf
        err["sqnr_db"] = -math.inf if not t.sum_x2.inf else None
        return err
    err["mean_abs_error"] = min(_ldexp(ma / t.lanes, ea), max_abs)
    err["rmse"] = min(_ldexp(math.sqrt(ms / t.lanes), es), max_abs)
    if max_abs == 0 or ms == 0:
        err["sqnr_db"] = math.inf if t.finite else None
    elif mx > 0 and not t.sum_x2.inf:
        err["sqnr_db"] = 10.0 * math.log10(mx / ms) + 20.0 * (ex - es) * _LOG10_2
    return err


class ErrorTally:
    """Error statistics of stored values against their originals, fed chunk by chunk (the
    same definitions and exact sums as :class:`CompareStats`): ``precli diff`` uses it."""

    def __init__(self) -> None:
        self._t = _Tally()

    def add(self, original: F64, stored: F64) -> None:
        x = np.asarray(original, np.float64).reshape(-1)
        q = np.asarray(stored, np.float64).reshape(-1)
        _tally(self._t, _TileInfo(x, None), q, np.zeros(x.shape, np.bool_), None)

    def record(self) -> dict[str, Any]:
        """count, nan_in, lost, underflow, exact_fraction and the error statistics (infinite
        values as the strings "inf" / "-inf", as in compare's records)."""
        t = self._t
        out: dict[str, Any] = {"count": t.count, "nan_in": t.nan_in, "lost": t.lost,
                               "underflow": t.underflow,
                               "exact_fraction": t.exact / t.finite if t.finite else None}
        out.update({k: json_number(v) for k, v in _errors(t).items()})
        return out


# ------------------------------------------------------------------ inputs


ExactFlat = Callable[[int], Fraction]


class Values:
    """A tensor as compare reads it: its shape, and tiles of its matrix view as float64.

    Build it with :meth:`of_array` (an ndarray or memory map: float16 / float32 / float64,
    or integers), :meth:`of_text` (parsed decimal text: float64 values, their residuals
    ``exact - value`` and a way to get the exact value back) or :meth:`of_reader` (a flat
    ``read(start, stop)`` that decodes a stored tensor exactly, e.g. from a checkpoint)."""

    def __init__(self, shape: tuple[int, ...], view: View | None = None,
                 mat: npt.NDArray[Any] | None = None,
                 read: Callable[[int, int], npt.NDArray[Any]] | None = None,
                 lo: F64 | None = None, exact: ExactFlat | None = None) -> None:
        self.shape = tuple(int(d) for d in shape)
        self.ndim = len(self.shape)
        self.view = view if view is not None else last_axis(self.ndim)
        self.rows, self.cols = self.view.matrix(self.shape)
        self.size = math.prod(self.shape)
        self._mat = mat
        self._read = read
        self._lo = lo
        self._exact = exact
        if read is not None and not self.view.in_place:
            self._mat = None  # built on first use: a reordering view reads the tensor whole

    @classmethod
    def of_array(cls, a: npt.NDArray[Any], axis: int | None = None,
                 view: View | None = None) -> Values:
        """``axis``: the stored axis one dot product sums over (the rest are rows);
        ``view``: a whole :class:`~precli.array.views.View` instead (default: the last
        axis)."""
        arr = np.asarray(a) if not isinstance(a, np.ndarray) else a
        if arr.dtype.kind not in "fiu" or arr.dtype.itemsize > 8 or arr.dtype.kind == "f" and (
                arr.dtype.itemsize not in (2, 4, 8)):
            raise UsageError(f"compare takes float16, float32, float64 or integer arrays, "
                             f"not {arr.dtype}")
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if axis is not None:
            if not -arr.ndim <= axis < arr.ndim:
                raise UsageError(f"{arg('axis')} {axis} is out of range for an array of "
                                 f"{arr.ndim} dimension(s)")
            view = view_of_axis(arr.ndim, axis, "axis")
        vw = view if view is not None else last_axis(arr.ndim)
        return cls(arr.shape, vw, mat=_as_matrix(arr, vw))

    @classmethod
    def of_text(cls, values: F64, lo: F64, exact: ExactFlat) -> Values:
        return cls(values.shape, None, mat=values.reshape(1, -1), lo=lo.reshape(1, -1),
                   exact=exact)

    @classmethod
    def of_reader(cls, shape: tuple[int, ...], read: Callable[[int, int], npt.NDArray[Any]],
                  view: View | None = None) -> Values:
        """A stored tensor: ``read(start, stop)`` gives flat row-major elements."""
        if not shape:
            return cls((1,), None, read=read)
        return cls(shape, view, read=read)

    def tile(self, r0: int, r1: int, c0: int, c1: int
             ) -> tuple[F64, F64 | None, Callable[[int, int], Fraction] | None]:
        """(x, residuals or None, exact(i, j) or None) of rows r0:r1, columns c0:c1."""
        if self._mat is None and self._read is not None and not self.view.in_place:
            flat = np.asarray(self._read(0, self.size))
            self._mat = _as_matrix(flat.reshape(self.shape), self.view)
        if self._mat is not None:
            raw = self._mat[r0:r1, c0:c1]
        else:
            assert self._read is not None
            c = self.cols
            if c0 == 0 and c1 == c:
                raw = np.asarray(self._read(r0 * c, r1 * c)).reshape(r1 - r0, c)
            else:
                raw = np.stack([np.asarray(self._read(r * c + c0, r * c + c1))
                                for r in range(r0, r1)])
        with np.errstate(invalid="ignore"):  # signalling NaNs widen quietly
            x = np.asarray(raw, dtype=np.float64)
        if self._lo is not None:
            cols, ex = self.cols, self._exact
            assert ex is not None
            return x, self._lo[r0:r1, c0:c1], lambda i, j: ex((r0 + i) * cols + c0 + j)
        if raw.dtype.kind in "iu" and raw.dtype.itemsize == 8:
            big = np.abs(x) >= 2.0**53
            if big.any():
                lo = np.zeros(x.shape, np.float64)
                for i, j in zip(*np.nonzero(big), strict=True):
                    lo[i, j] = float(int(raw[i, j]) - int(x[i, j]))
                return x, lo, lambda i, j: Fraction(int(raw[i, j]))
        return x, None, None

    def channels(self, axis: int | None) -> tuple[str, npt.NDArray[np.intp], int]:
        """Where the channels lie in the matrix view: ("rows" | "cols", the channel of each
        row / column, the channel count). ``axis`` None: one channel per row of the view
        (an output channel); else the channels of that stored axis."""
        if self.size == 0:  # nothing to scale, whatever the declared dimensions
            return "rows", np.zeros(0, dtype=np.intp), 0
        if self.ndim < 2:  # a 1-D tensor (a norm, a bias) is one channel
            return "rows", np.zeros(self.rows, dtype=np.intp), 1
        if axis is None:
            return "rows", np.arange(self.rows, dtype=np.intp), self.rows
        a = axis % self.ndim
        side, where, count = ((self.view.rows, "rows", self.rows) if a in self.view.rows
                              else (self.view.cols, "cols", self.cols))
        n = self.shape[a]
        p = side.index(a)
        inner = math.prod(self.shape[d] for d in side[p + 1:])
        ids = (np.arange(count, dtype=np.intp) // max(inner, 1)) % max(n, 1)
        return where, ids, n


def _as_matrix(arr: npt.NDArray[Any], view: View) -> npt.NDArray[Any]:
    """The [rows, cols] matrix of an array seen through a view (a reshape in place; a
    transpose copies only when the axes cannot be merged)."""
    r, c = view.matrix(arr.shape)
    arr = view.arranged(arr)
    if r * c == 0:
        return np.empty((r, c), dtype=arr.dtype)
    return arr.reshape(r, c)


# ------------------------------------------------------------------ walking


def _tiles(v: Values, recipes: Sequence[Recipe], chunk: int) -> Iterator[tuple[int, int, int, int]]:
    """Tiles of the matrix view, each starting on a group / block boundary of every
    recipe: row steps are multiples of every block height, column steps of every group
    and block width (whole rows when a row is shorter than that)."""
    R, C = v.rows, v.cols
    if R == 0 or C == 0:
        return
    lr = lc = 1
    for r in recipes:
        if r.rows:
            lr = math.lcm(lr, r.rows)
            lc = math.lcm(lc, r.cols)
    if lc >= C:
        cstep = C
    else:
        cstep = max(lc, (max(chunk // lr, 1) // lc) * lc)
        cstep = min(cstep, C)
    rstep = lr * max(1, chunk // (lr * cstep))
    for r0 in range(0, R, rstep):
        r1 = min(r0 + rstep, R)
        for c0 in range(0, C, cstep):
            yield r0, r1, c0, min(c0 + cstep, C)


# ------------------------------------------------------------------ the first pass


class _Range:
    """Running min / max of the finite values, per tensor or per channel."""

    def __init__(self, n: int) -> None:
        self.lo = np.full(n, np.inf)
        self.hi = np.full(n, -np.inf)

    def add_rows(self, x: F64, ids: npt.NDArray[np.intp] | None, axis: int) -> None:
        fin = np.isfinite(x)
        lo = np.min(x, axis=axis, where=fin, initial=np.inf)
        hi = np.max(x, axis=axis, where=fin, initial=-np.inf)
        if ids is None:
            self.lo[0] = min(self.lo[0], float(np.min(lo)))
            self.hi[0] = max(self.hi[0], float(np.max(hi)))
        else:
            np.minimum.at(self.lo, ids, lo)
            np.maximum.at(self.hi, ids, hi)

    def finite(self) -> tuple[F64, F64]:
        """(lo, hi) with no finite value read as 0."""
        return (np.where(np.isfinite(self.lo), self.lo, 0.0),
                np.where(np.isfinite(self.hi), self.hi, 0.0))


class _RecipeWork:
    """One recipe's per-tensor state: its first-pass scales and its running totals."""

    def __init__(self, r: Recipe) -> None:
        self.recipe = r
        self.tally = _Tally()
        self.ctx = Context()
        self.where: str | None = None      # "rows" | "cols" for channel scales
        self.ids: npt.NDArray[np.intp] | None = None
        self.scale: F64 | None = None       # per tensor (1,) or per channel
        self.zp: F64 | None = None
        self.scale_min = math.inf
        self.scale_max = -math.inf
        self.scale_count = 0
        self.scale_nan = 0
        self.sub_limit: float | None = None
        f = r.element
        if r.kind == "cast" and isinstance(f, FloatFormat) and f.has_subnormals:
            self.sub_limit = float(f.smallest_normal)

    def note_scales(self, s: F64) -> None:
        nan = np.isnan(s)
        self.scale_count += s.size
        self.scale_nan += _count(nan)
        ok = s[~nan]
        if ok.size:
            self.scale_min = min(self.scale_min, float(ok.min()))
            self.scale_max = max(self.scale_max, float(ok.max()))

    def tile_scale(self, r0: int, r1: int, c0: int, c1: int) -> tuple[F64 | None, F64 | None]:
        if self.scale is None:
            return None, None
        assert self.zp is not None
        if self.where is None:
            return self.scale.reshape(1, 1), self.zp.reshape(1, 1)
        assert self.ids is not None
        if self.where == "rows":
            ids = self.ids[r0:r1]
            return self.scale[ids][:, None], self.zp[ids][:, None]
        ids = self.ids[c0:c1]
        return self.scale[ids][None, :], self.zp[ids][None, :]


def _first_pass(v: Values, plans: list[_RecipeWork], tiles: list[tuple[int, int, int, int]],
                progress: Callable[[int], None] | None) -> None:
    """Ranges per tensor and per channel, then the scales of every tensor / channel
    recipe (exact, through :func:`precli.array.recipes.scale_exact`, wherever float64 could
    round differently)."""
    scanned = [p for p in plans if p.recipe.needs_scan]
    if not scanned:
        return
    axes: dict[int | None, tuple[str, npt.NDArray[np.intp], int]] = {}
    for p in scanned:
        r = p.recipe
        if r.scaling == "channel":
            cax = r.channel_axis
            if cax not in axes:
                axes[cax] = v.channels(cax)
            p.where, p.ids, _ = axes[cax]
    whole = _Range(1)
    per = {k: _Range(n) for k, (_, _, n) in axes.items()}
    exact_lanes = False
    for r0, r1, c0, c1 in tiles:
        x, lo, _ = v.tile(r0, r1, c0, c1)
        exact_lanes = exact_lanes or lo is not None
        whole.add_rows(x, None, 1)
        for k, rng in per.items():
            where, ids, _ = axes[k]
            if where == "rows":
                rng.add_rows(x, ids[r0:r1], 1)
            else:
                rng.add_rows(x, ids[c0:c1], 0)
        if progress is not None:
            progress(x.size)
    for p in scanned:
        r = p.recipe
        channel = r.scaling == "channel"
        rng = per[r.channel_axis] if channel else whole
        lo_a, hi_a = rng.finite()
        if r.kind == "nvfp4":
            t_amax = _exact_extreme_abs(v, tiles, float(max(-lo_a[0], hi_a[0], 0.0)),
                                        exact_lanes)
            p.ctx = Context(tensor_scale=nvfp4_tensor_scale(t_amax))
            continue
        if r.kind == "legacy-int":
            assert isinstance(r.element, IntFormat)
            qp = int_params(r.element, lo_a if channel else lo_a[0],
                            hi_a if channel else hi_a[0], scheme=r.scheme or "symmetric",
                            axis=0 if channel else None)
            p.scale = np.asarray(qp.scale, np.float64).reshape(-1)
            p.zp = np.asarray(qp.zero_point, np.float64).reshape(-1)
        else:
            amax = np.maximum(np.maximum(-lo_a, hi_a), 0.0)
            with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
                s, z, bad, sus = scales_from_range(r, lo_a, hi_a, amax, 1.0)
            for g in np.nonzero(sus)[0]:
                glo, ghi = Fraction(float(lo_a[g])), Fraction(float(hi_a[g]))
                if exact_lanes:
                    glo, ghi = _exact_range(v, tiles, p, int(g), float(lo_a[g]),
                                            float(hi_a[g]))
                es, ez = scale_exact(r, glo, ghi)
                bad[g] = es is None
                s[g] = float(es) if es is not None else 1.0
                z[g] = ez
            p.scale = np.where(bad, np.nan, s)
            p.zp = z
        if v.size:
            p.note_scales(p.scale)


def _exact_extreme_abs(v: Values, tiles: list[tuple[int, int, int, int]], amax: float,
                       exact_lanes: bool) -> Fraction:
    """The exact largest finite magnitude, given its float64 value."""
    best = Fraction(amax)
    if not exact_lanes or amax == 0:
        return best
    for r0, r1, c0, c1 in tiles:
        x, lo, ex = v.tile(r0, r1, c0, c1)
        if ex is None:
            continue
        for i, j in zip(*np.nonzero(np.abs(x) == amax), strict=True):
            best = max(best, abs(ex(int(i), int(j))))
    return best


def _exact_range(v: Values, tiles: list[tuple[int, int, int, int]], p: _RecipeWork, g: int,
                 lo: float, hi: float) -> tuple[Fraction, Fraction]:
    """The exact finite range of tensor / channel g, given its float64 extremes (rounding
    to float64 is monotonic: the exact extremes are among the lanes equal to those)."""
    lo_f: Fraction | None = None
    hi_f: Fraction | None = None
    for r0, r1, c0, c1 in tiles:
        x, _, ex = v.tile(r0, r1, c0, c1)
        mask = np.ones(x.shape, np.bool_)
        if p.where == "rows":
            assert p.ids is not None
            mask &= (p.ids[r0:r1] == g)[:, None]
        elif p.where == "cols":
            assert p.ids is not None
            mask &= (p.ids[c0:c1] == g)[None, :]
        for i, j in zip(*np.nonzero(mask & ((x == lo) | (x == hi))), strict=True):
            t = ex(int(i), int(j)) if ex is not None else Fraction(float(x[i, j]))
            if x[i, j] == lo:
                lo_f = t if lo_f is None else min(lo_f, t)
            if x[i, j] == hi:
                hi_f = t if hi_f is None else max(hi_f, t)
    return (lo_f if lo_f is not None else Fraction(lo),
            hi_f if hi_f is not None else Fraction(hi))


# ------------------------------------------------------------------ driving


def resolve_recipes(names: Sequence[str | Recipe], defaults: Defaults | None = None
                    ) -> list[Recipe]:
    """Parse recipe texts (Recipe records pass through); duplicates are refused."""
    out = [n if isinstance(n, Recipe) else parse_recipe(n, defaults) for n in names]
    seen: set[tuple[Any, ...]] = set()
    for r in out:
        key = (r.text, r.scheme)
        if key in seen:
            raise UsageError(f"{r.text} is listed twice")
        seen.add(key)
    return out


@dataclass
class TensorStats:
    """One tensor under every recipe: the records, the running totals behind them (kept so
    that a model-wide summary can merge them exactly), and the tensor's own range:
    ``amax`` (largest finite magnitude) and ``min_nonzero`` (smallest nonzero finite one),
    None when there is none."""

    stats: list[CompareStats]
    tallies: list[_Tally]
    scales: list[tuple[int, int, float, float]]  # (count, nan, min, max) per recipe
    amax: float | None
    min_nonzero: float | None


def compare_values(recipes: Sequence[Recipe], v: Values, *, mode: str = "nearest-even",
                   saturate: bool = False, seed: int | None = None, chunk: int = CHUNK,
                   progress: Callable[[int], None] | None = None) -> list[CompareStats]:
    """Statistics of storing one tensor under each recipe, in the order given.

    ``mode`` / ``saturate`` / ``seed`` apply to plain casts (scaled recipes round to
    nearest-even and saturate). ``progress(n)`` is called as values are processed (each
    pass counts: the total is size times the number of passes)."""
    return compare_tensor(recipes, v, mode=mode, saturate=saturate, seed=seed, chunk=chunk,
                          progress=progress).stats


def compare_tensor(recipes: Sequence[Recipe], v: Values, *, mode: str = "nearest-even",
                   saturate: bool = False, seed: int | None = None, chunk: int = CHUNK,
                   progress: Callable[[int], None] | None = None) -> TensorStats:
    """:func:`compare_values`, keeping what a model-wide summary needs."""
    mode = resolve_round_mode(mode)
    _check_options(recipes, mode, saturate)
    _check_ggml_rows(recipes, v)
    if mode == "stochastic" and seed is None:
        seed = secrets.randbits(64)
    tiles = list(_tiles(v, recipes, chunk))
    plans = [_RecipeWork(r) for r in recipes]
    _first_pass(v, plans, tiles, progress)
    full_rows = all(c0 == 0 and c1 == v.cols for _, _, c0, c1 in tiles)
    amax = -math.inf
    min_nz = math.inf
    for r0, r1, c0, c1 in tiles:
        x, lo, ex = v.tile(r0, r1, c0, c1)
        info = _TileInfo(x, lo)
        ax, fin = info.ax, info.fin
        amax = max(amax, float(np.max(ax, where=fin, initial=-np.inf)))
        min_nz = min(min_nz, float(np.min(ax, where=fin & (ax > 0), initial=np.inf)))
        for p in plans:
            r = p.recipe
            if r.kind == "cast" and mode == "stochastic" and not full_rows:
                for i in range(x.shape[0]):
                    res = quantize_tile(r, x[i:i + 1], mode=mode, saturate=saturate, seed=seed,
                                        start_index=(r0 + i) * v.cols + c0,
                                        exact=_row_exact(ex, i))
                    _tally(p.tally, _TileInfo(x[i:i + 1], None if lo is None else
                                              lo[i:i + 1]), res.dequant, res.overflow,
                           p.sub_limit)
                continue
            s, z = p.tile_scale(r0, r1, c0, c1)
            res = quantize_tile(r, x, p.ctx, scale=s, zero_point=z, exact=ex, mode=mode,
                                saturate=saturate, seed=seed, start_index=r0 * v.cols + c0)
            if res.scales is not None:
                p.note_scales(res.scales)
            _tally(p.tally, info, res.dequant, res.overflow, p.sub_limit)
        if progress is not None:
            progress(x.size)
    return TensorStats([_finish(p, v) for p in plans], [p.tally for p in plans],
                       [(p.scale_count, p.scale_nan, p.scale_min, p.scale_max) for p in plans],
                       amax if amax > -math.inf else None,
                       min_nz if min_nz < math.inf else None)


def merge_tallies(tallies: Sequence[_Tally]) -> _Tally:
    """The exact union of several tensors' running totals (order does not matter)."""
    out = _Tally()
    for t in tallies:
        for k in ("count", "nan_in", "lost", "finite", "overflow", "underflow", "subnormal",
                  "exact", "lanes"):
            setattr(out, k, getattr(out, k) + getattr(t, k))
        out.max_abs = max(out.max_abs, t.max_abs)
        if t.max_rel is not None:
            out.max_rel = t.max_rel if out.max_rel is None else max(out.max_rel, t.max_rel)
        for name in ("sum_abs", "sum_sq", "sum_x2"):
            _merge_sum(getattr(out, name), getattr(t, name))
    return out


def _merge_sum(into: _ScaledSum, other: _ScaledSum) -> None:
    into.inf = into.inf or other.inf
    if other.e is None:
        return
    for part in other.parts:
        into.add_scaled(part, other.e)


def summary_stats(r: Recipe, tally: _Tally, bits_total: int, params: int,
                  scales: Sequence[tuple[int, int, float, float]]) -> CompareStats:
    """A model-wide record for one recipe: the merged totals of every tensor, with bits
    per value averaged over the parameters (scales included)."""
    count = sum(c for c, _, _, _ in scales)
    nan = sum(n for _, n, _, _ in scales)
    lo = min((m for c, n, m, _ in scales if c > n), default=None)
    hi = max((m for c, n, _, m in scales if c > n), default=None)
    return CompareStats(
        format=r.text, count=tally.count, nan_in=tally.nan_in, lost=tally.lost,
        overflow=tally.overflow, underflow=tally.underflow, subnormal=tally.subnormal,
        exact_fraction=tally.exact / tally.finite if tally.finite else None,
        **_errors(tally),  # type: ignore[arg-type]
        bits_per_value=bits_total / params if params else None,
        scaling=r.kind if r.kind in ("mx", "nvfp4", "ggml") else r.scaling,
        block=[r.rows, r.cols] if r.rows else None,
        scale_format=None if r.scale_format == "none" else r.scale_format,
        scheme=r.scheme, scale=None, zero_point=None, scale_count=count,
        scale_min=lo, scale_max=hi, scale_nan=nan, tensor_scale=None)


def _check_options(recipes: Sequence[Recipe], mode: str, saturate: bool) -> None:
    """Refuse what cannot apply: rounding modes other than nearest-even for scaled recipes
    (their published definitions), and formats float64 cannot hold."""
    for r in recipes:
        if r.kind != "cast" and mode != "nearest-even":
            raise UsageError(f"{r.text} is quantized with round-to-nearest-even only (its "
                             f"published definition); {arg('rounding')} {mode} applies to plain "
                             "casts")
        if r.kind == "cast":
            try:
                codec.decode_array(r.element, np.zeros(1, dtype=np.uint64))
            except ValueError as e:
                raise UsageError(f"cannot compare against {r.text}: {e}") from None


class RaggedRows(UsageError):
    """A recipe that stores whole blocks only (ggml's types) on rows that are not."""


def _check_ggml_rows(recipes: Sequence[Recipe], v: Values) -> None:
    """ggml stores rows in whole blocks and refuses a tensor whose rows are not."""
    for r in recipes:
        if r.kind == "ggml" and v.rows and v.cols % r.cols:
            raise RaggedRows(f"{r.text} stores each row in whole blocks of {r.cols} values; "
                             f"these rows hold {v.cols} (ggml refuses such a tensor)")


def _row_exact(ex: Callable[[int, int], Fraction] | None, i: int
               ) -> Callable[[int, int], Fraction] | None:
    if ex is None:
        return None
    return lambda a, b: ex(i + a, b)


def _finish(p: _RecipeWork, v: Values) -> CompareStats:
    r = p.recipe
    t = p.tally
    one = p.scale is not None and p.scale.size == 1
    return CompareStats(
        format=r.text,
        count=t.count,
        nan_in=t.nan_in,
        lost=t.lost,
        overflow=t.overflow,
        underflow=t.underflow,
        subnormal=t.subnormal,
        exact_fraction=t.exact / t.finite if t.finite else None,
        **_errors(t),  # type: ignore[arg-type]
        bits_per_value=r.bits_per_value(v.shape, v.view),
        scaling=r.kind if r.kind in ("mx", "nvfp4", "ggml") else r.scaling,
        block=[r.rows, r.cols] if r.rows else None,
        scale_format=None if r.scale_format == "none" else r.scale_format,
        scheme=r.scheme,
        scale=float(p.scale[0]) if one and p.scale is not None else None,
        zero_point=int(p.zp[0]) if one and p.zp is not None and r.kind in (
            "int", "legacy-int") else None,
        scale_count=p.scale_count,
        scale_min=p.scale_min if p.scale_count > p.scale_nan else None,
        scale_max=p.scale_max if p.scale_count > p.scale_nan else None,
        scale_nan=p.scale_nan,
        tensor_scale=p.ctx.tensor_scale if r.kind == "nvfp4" else None,
        note=r.partial(v.shape, v.view),
    )


def pick_cheapest(stats: Sequence[CompareStats], min_sqnr: float) -> int | None:
    """Index of the cheapest recipe (fewest bits per value) that loses nothing and reaches
    ``min_sqnr`` dB (zero error counts as infinite SQNR); ties go to the higher SQNR, then
    to the earlier recipe. None when no recipe qualifies."""
    best: tuple[float, float, int] | None = None
    for i, s in enumerate(stats):
        if s.lost or s.sqnr_db is None or s.bits_per_value is None:
            continue
        if s.sqnr_db < min_sqnr:
            continue
        key = (s.bits_per_value, -s.sqnr_db, i)
        if best is None or key < best:
            best = key
    return None if best is None else best[2]


def compare_array(targets: Sequence[str | Recipe], data: npt.ArrayLike, *,
                  scheme: str | None = None, granularity: str = "tensor", axis: int | None = None,
                  block_size: int = 64, mode: str = "nearest-even", saturate: bool = False,
                  seed: int | None = None, chunk_size: int = CHUNK) -> list[CompareStats]:
    """Statistics of storing an array (or memory map) under each recipe.

    ``scheme`` / ``granularity`` / ``block_size`` say what bare integer names and nf4
    mean (see :class:`precli.array.recipes.Defaults`); ``axis`` is the channel axis of
    ``granularity="channel"`` and otherwise the axis one dot product sums over. Without
    it the array is seen the way PyTorch multiplies it (:func:`precli.array.views.guess_view`:
    rows are output channels, groups and blocks run along the reduction)."""
    check_granularity(granularity)
    if scheme is not None:
        check_scheme(scheme)
    if granularity == "channel" and np.ndim(data) < 2:
        raise UsageError(CHANNEL_NEEDS_2D)
    d = Defaults(scheme=scheme, granularity=granularity, channel_axis=axis,
                 block_size=block_size)
    recipes = resolve_recipes(targets, d)
    block_axis = None if granularity == "channel" else axis
    arr = np.asarray(data) if not isinstance(data, np.ndarray) else data
    v = Values.of_array(arr, block_axis, guess_view("", arr.shape) if arr.ndim else None)
    return compare_values(recipes, v, mode=mode, saturate=saturate, seed=seed, chunk=chunk_size)
