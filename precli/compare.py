"""Array statistics for ``precli compare``: what storing an array in a format costs.

Pure numpy, never prints. For every target (a float format, an integer format with a
scale, NF4 absmax blocks, an MX / NVFP4 block format) :class:`StatsAccumulator` takes the
input in chunks, rounds each chunk with :mod:`precli.codec` (float formats) or
:mod:`precli.quantize` (everything scaled) and keeps running totals, so memory stays
bounded by the chunk size however large the input (a memory-mapped ``.npy`` for example).
:func:`compare_array` drives one pass (two when a target needs the data's range first)
over an array, a memory map or a stream of chunks, feeding every target from each chunk.

**The statistics** (the JSON contract of :meth:`CompareStats.to_record`):

* ``count``: input values; ``nan_in``: NaN inputs.
* ``overflow``: finite inputs whose magnitude rounds above the format's max, whatever the
  overflow policy then made of them (the codec's ``overflow`` flag for float formats;
  clamped lanes for integers, NF4 and the element formats of MX / NVFP4).
* ``underflow``: nonzero finite inputs whose result is zero.
* ``subnormal``: results that are subnormal numbers of a float target (0 for the others).
* ``exact_fraction``: the share of finite inputs stored without error (null when there is
  no finite input).
* ``max_abs_error``, ``mean_abs_error``, ``rmse``: over the *error lanes*, where both the
  input and the result are finite (null when there are none); ``max_rel_error`` also needs
  a nonzero input. ``sqnr_db = 10 log10(sum x**2 / sum (x - q)**2)`` over the error lanes,
  null when the error is zero.
* ``scale`` / ``zero_point``: an integer target's parameters (lists when per channel);
  for NVFP4 ``scale`` is the per-tensor fp32 scale. Null otherwise.

**Sums.** Each chunk's sums are numpy pairwise sums in float64, of values first scaled by
a power of two taken from the chunk's largest value (exact, and it keeps squares of large
errors from overflowing and of small ones from underflowing); chunk sums are then added
exactly (Shewchuk's partials, as ``math.fsum``) at a common power of two. A chunked run
therefore agrees with a one-shot run up to the grouping of the pairwise sums (relative
differences around 1e-16), and counts and maxima agree exactly. ``rmse`` and
``mean_abs_error`` are capped at ``max_abs_error`` (they cannot exceed it; the cap only
hides a last-bit rounding).

Floating-point warnings never escape: every division and overflow is guarded.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from precli import codec
from precli.errors import UsageError
from precli.formats import FloatFormat, Format, IntFormat, TableFormat, get_format
from precli.quantize import (
    GRANULARITIES,
    BlockFormat,
    QuantParams,
    _block_flat,
    _check_block_size,
    _check_scheme,
    _nf4_flat,
    _norm_axis,
    apply_int,
    get_block_format,
    int_params,
    is_block_format,
    nvfp4_tensor_scale,
)
from precli.rounding import resolve_round_mode

__all__ = [
    "CHUNK",
    "RECORD_KEYS",
    "CompareStats",
    "ScanResult",
    "Scanner",
    "StatsAccumulator",
    "Target",
    "compare_array",
    "iter_blocks",
    "needs_scan",
    "resolve_target",
    "scan",
]

F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
Target = Format | BlockFormat

#: Elements per chunk when compare_array walks an array (bounded memory: a few float64
#: temporaries of this size per target).
CHUNK = 1 << 15  # elements per piece: 2^18 made ~800k page faults per 10M values (measured)

_OVERFLOW = codec.FLAG_BITS["overflow"]
_LOG10_2 = math.log10(2.0)


# ------------------------------------------------------------------ the record


@dataclass(frozen=True)
class CompareStats:
    """One target's statistics (see the module docstring for the definitions).

    A frozen dataclass rather than a NamedTuple: the ``count`` field would shadow
    ``tuple.count``."""

    format: str
    count: int
    nan_in: int
    overflow: int
    underflow: int
    subnormal: int
    exact_fraction: float | None
    max_abs_error: float | None
    mean_abs_error: float | None
    rmse: float | None
    max_rel_error: float | None
    sqnr_db: float | None
    scale: float | list[float] | None = None
    zero_point: int | list[int] | None = None

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict: these keys in this order; floats are finite or None."""
        zp = self.zero_point
        sc = self.scale
        zp_rec: int | list[int] | None = None
        if isinstance(zp, list):
            zp_rec = [int(z) for z in zp]
        elif zp is not None:
            zp_rec = int(zp)
        return {
            "format": self.format,
            "count": int(self.count),
            "nan_in": int(self.nan_in),
            "overflow": int(self.overflow),
            "underflow": int(self.underflow),
            "subnormal": int(self.subnormal),
            "exact_fraction": _finite(self.exact_fraction),
            "max_abs_error": _finite(self.max_abs_error),
            "mean_abs_error": _finite(self.mean_abs_error),
            "rmse": _finite(self.rmse),
            "max_rel_error": _finite(self.max_rel_error),
            "sqnr_db": _finite(self.sqnr_db),
            "scale": [_finite(v) for v in sc] if isinstance(sc, list) else _finite(sc),
            "zero_point": zp_rec,
        }


RECORD_KEYS: tuple[str, ...] = tuple(f.name for f in fields(CompareStats))


def _finite(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


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

    def copy(self) -> _ScaledSum:
        return _ScaledSum(self.power, self.e, list(self.parts), self.inf)

    def add(self, v: F64) -> None:
        if v.size == 0:
            return
        m = float(v.max())
        if not math.isfinite(m):
            self.inf = True
            return
        if m == 0:
            return
        k = math.frexp(m)[1]  # m < 2**k
        with np.errstate(under="ignore"):
            s = float(np.sum(np.ldexp(v, -k) ** self.power))
        if self.e is None:
            self.e = k
        elif k > self.e:
            shift = self.power * (self.e - k)
            self.parts = [math.ldexp(p, shift) for p in self.parts]
            self.e = k
        elif k < self.e:
            s = math.ldexp(s, self.power * (k - self.e))
        _grow(self.parts, s)

    def mantissa(self) -> tuple[float, int]:
        """(m, e): the sum is m * 2**(power * e); m is 0.0 for an empty sum."""
        return math.fsum(self.parts), self.e or 0


@dataclass
class _Tally:
    count: int = 0
    nan_in: int = 0
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

    def copy(self) -> _Tally:
        t = _Tally(**{k: getattr(self, k) for k in self.__dataclass_fields__})
        t.sum_abs, t.sum_sq, t.sum_x2 = self.sum_abs.copy(), self.sum_sq.copy(), self.sum_x2.copy()
        return t


def _count(mask: npt.NDArray[np.bool_]) -> int:
    return int(np.count_nonzero(mask))


def _tally(t: _Tally, x: F64, res: F64, over: Bool, sub_limit: float | None) -> None:
    """Fold one chunk (flat float64 inputs, flat float64 results) into t."""
    t.count += x.size
    fin = np.isfinite(x)
    t.finite += _count(fin)
    t.nan_in += _count(np.isnan(x))
    t.overflow += _count(over & fin)
    rfin = np.isfinite(res)
    t.underflow += _count(fin & (x != 0) & (res == 0))
    if sub_limit is not None:
        t.subnormal += _count(rfin & (res != 0) & (np.abs(res) < sub_limit))
    lanes = fin & rfin
    if lanes.all():
        xs, rs = x, res
    else:
        xs, rs = x[lanes], res[lanes]
    if xs.size == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        err = np.abs(xs - rs)
    t.lanes += xs.size
    t.exact += _count(err == 0)
    t.max_abs = max(t.max_abs, float(err.max()))
    ax = np.abs(xs)
    nz = ax != 0
    if nz.any():
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            rel = float(np.max(err[nz] / ax[nz]))
        t.max_rel = rel if t.max_rel is None else max(t.max_rel, rel)
    t.sum_abs.add(err)
    t.sum_sq.add(err)
    t.sum_x2.add(ax)


def _finish(
    name: str, t: _Tally, scale: float | list[float] | None, zp: int | list[int] | None
) -> CompareStats:
    err: dict[str, float | None] = dict.fromkeys(
        ("max_abs_error", "mean_abs_error", "rmse", "max_rel_error", "sqnr_db")
    )
    if t.lanes:
        max_abs = t.max_abs
        err["max_abs_error"] = max_abs
        err["max_rel_error"] = t.max_rel
        ma, ea = t.sum_abs.mantissa()
        ms, es = t.sum_sq.mantissa()
        mx, ex = t.sum_x2.mantissa()
        if not (t.sum_abs.inf or t.sum_sq.inf or not math.isfinite(max_abs)):
            err["mean_abs_error"] = min(_ldexp(ma / t.lanes, ea), max_abs)
            err["rmse"] = min(_ldexp(math.sqrt(ms / t.lanes), es), max_abs)
            if max_abs > 0 and ms > 0 and mx > 0 and not t.sum_x2.inf:
                err["sqnr_db"] = 10.0 * math.log10(mx / ms) + 20.0 * (ex - es) * _LOG10_2
    return CompareStats(
        format=name,
        count=t.count,
        nan_in=t.nan_in,
        overflow=t.overflow,
        underflow=t.underflow,
        subnormal=t.subnormal,
        exact_fraction=t.exact / t.finite if t.finite else None,
        **err,
        scale=scale,
        zero_point=zp,
    )


def _ldexp(m: float, e: int) -> float:
    try:
        return math.ldexp(m, e)
    except OverflowError:
        return math.inf


# ------------------------------------------------------------------ targets


def resolve_target(target: str | Target) -> Target:
    """A format name (block formats first: mxfp4, nvfp4, ...) or a format record."""
    if isinstance(target, str):
        if is_block_format(target):
            return get_block_format(target)
        return get_format(target)
    return target


def needs_scan(target: Target) -> bool:
    """Does the target need the data's range before quantizing (integers: the scale;
    NVFP4: the tensor amax)?"""
    return isinstance(target, IntFormat) or (
        isinstance(target, BlockFormat) and target.kind == "nvfp4"
    )


def _float_input(x: npt.ArrayLike) -> npt.NDArray[np.floating]:
    """float16 / float32 / float64 as they are; integer arrays widened to float64 (exact up
    to 2**53 in magnitude, rounded beyond, like precli's .npy reader)."""
    a = np.asarray(x)
    if a.dtype.kind in "iu":
        return a.astype(np.float64)
    if a.dtype not in (np.float64, np.float32, np.float16):
        raise UsageError(
            f"compare takes float16, float32, float64 or integer arrays, not {a.dtype}"
        )
    return a


def _as64(a: npt.NDArray[np.floating]) -> F64:
    with np.errstate(invalid="ignore"):  # signalling NaNs widen quietly
        out: F64 = a.astype(np.float64, copy=False)
    return out


class StatsAccumulator:
    """Streaming statistics for one target: ``add`` chunks, then ``result``.

    * Float formats round through :func:`precli.codec.round_array_with_flags` with
      ``mode`` / ``saturate`` (stochastic rounding draws value number i of the whole
      stream, so chunking never changes the result; a seed is drawn once when None).
    * Integer formats need ``params`` (:func:`precli.quantize.int_params`, from a first
      pass: :func:`scan`). Per-channel parameters need each element's channel: pass
      ``channel`` to :meth:`add` (an index array broadcastable to the chunk, as
      :func:`iter_blocks` yields) unless the chunk is the whole tensor.
    * NF4 (table formats) and MX / NVFP4 work on blocks of the flattened stream: chunks
      must come in order; a chunk's incomplete last block waits for the next chunk, and
      :meth:`result` treats what is left as the (shorter) tail block. NVFP4 needs the
      tensor's amax (``tensor_amax``, from :func:`scan`).

    Quantized targets round to nearest-even only (their published definitions);
    ``block_size`` applies to table formats (MX / NVFP4 blocks are part of the format).
    Each chunk is processed at once: keep chunks bounded (compare_array does).
    """

    def __init__(
        self,
        target: str | Target,
        *,
        mode: str = "nearest-even",
        saturate: bool = False,
        seed: int | None = None,
        params: QuantParams | None = None,
        block_size: int = 64,
        tensor_amax: float | None = None,
    ) -> None:
        self.target: Target = resolve_target(target)
        self.mode = resolve_round_mode(mode)
        self.saturate = saturate
        self.params = params
        self.tensor_scale: float | None = None
        self._sub_limit: float | None = None
        self._tally = _Tally()
        self._carry: F64 = np.empty(0, dtype=np.float64)
        self._index = 0
        self.seed = seed
        t = self.target
        if not isinstance(t, FloatFormat) and self.mode != "nearest-even":
            raise UsageError(
                f"{t.name} is quantized with round-to-nearest-even only (got --round {mode})"
            )
        self.block_size = 0
        if isinstance(t, FloatFormat):
            try:
                codec.decode_array(t, np.zeros(1, dtype=np.uint64))
            except ValueError as e:
                raise UsageError(f"cannot compare against {t.name}: {e}") from None
            if t.has_subnormals:
                self._sub_limit = float(t.smallest_normal)
            if self.mode == "stochastic" and seed is None:
                seed = secrets.randbits(64)
            self.seed = seed
        elif isinstance(t, IntFormat):
            if params is None:
                raise ValueError(f"{t.name} needs quantization parameters (int_params / scan)")
            if params.fmt != t:
                raise ValueError(f"parameters are for {params.fmt.name}, not {t.name}")
        elif isinstance(t, TableFormat):
            self.block_size = _check_block_size(block_size)
        else:
            self.block_size = t.block_size
            if t.kind == "nvfp4":
                if tensor_amax is None:
                    raise ValueError(f"{t.name} needs the tensor's amax (scan)")
                self.tensor_scale = nvfp4_tensor_scale(tensor_amax)

    @property
    def name(self) -> str:
        return self.target.name

    def add(self, x: npt.ArrayLike, *, channel: npt.ArrayLike | None = None) -> None:
        """Fold a chunk in (float16 / float32 / float64, or integers; any shape)."""
        a = _float_input(x)
        t = self.target
        if isinstance(t, FloatFormat):
            flat = a.reshape(-1)
            r = codec.round_array_with_flags(
                t,
                flat,
                self.mode,
                saturate=self.saturate,
                seed=self.seed,
                start_index=self._index,
            )
            res = codec.decode_array(t, r.codes)
            if r.invalid.any():
                res[r.invalid] = np.nan
            over = (r.flags & _OVERFLOW) != 0
            _tally(self._tally, _as64(flat), res, over, self._sub_limit)
            self._index += flat.size
        elif isinstance(t, IntFormat):
            assert self.params is not None
            a64 = _as64(a)
            q = apply_int(self.params, a64, channel)
            _tally(
                self._tally, a64.reshape(-1), q.dequant.reshape(-1), q.overflow.reshape(-1), None
            )
        else:
            data = _as64(a).reshape(-1)
            if self._carry.size:
                data = np.concatenate([self._carry, data], dtype=np.float64)
            whole = data.size - data.size % self.block_size
            if whole:
                self._blocks(self._tally, data[:whole])
            self._carry = data[whole:].copy()

    def _blocks(self, tally: _Tally, flat: F64) -> None:
        t = self.target
        if isinstance(t, TableFormat):
            _, _, deq, over, _ = _nf4_flat(t, flat, self.block_size)
        else:
            assert isinstance(t, BlockFormat)
            _, _, _, deq, over = _block_flat(t, flat, self.tensor_scale or 1.0)
        _tally(tally, flat, deq, over, None)

    def result(self) -> CompareStats:
        """The statistics so far (a pending partial block counts as the tail block; the
        accumulator itself is left as it was, so more chunks may follow)."""
        tally = self._tally
        if self._carry.size:
            tally = tally.copy()
            self._blocks(tally, self._carry)
        scale: float | list[float] | None = None
        zp: int | list[int] | None = None
        if self.params is not None:
            scale = self.params.scale_value()
            zp = self.params.zero_point_value()
        elif self.tensor_scale is not None:
            scale = self.tensor_scale
        return _finish(self.name, tally, scale, zp)


# ------------------------------------------------------------------ walking arrays


def iter_blocks(
    a: npt.NDArray[Any], *, axis: int | None = None, chunk_size: int = CHUNK
) -> Iterator[tuple[npt.NDArray[Any], npt.NDArray[np.intp] | None]]:
    """Walk an array (in memory or memory-mapped) in row-major order, in pieces of at most
    ``chunk_size`` elements (or one run of the last axis when a single run is longer).

    Yields ``(piece, channel)``: a view of the array, and, when ``axis`` is given, an
    index array broadcastable to the piece holding each element's index along ``axis``
    (None otherwise). Pieces are consecutive in the flattened order, so block formats
    can consume them as a stream."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    shape = a.shape
    nd = a.ndim
    if nd == 0:
        if axis is not None:
            raise UsageError("a 0-dimensional array has no axis to take channels along")
        yield a.reshape(1), None
        return
    ax = None if axis is None else _norm_axis(axis, nd)
    k = nd  # index the first k dims ... find the fewest leaving pieces <= chunk_size
    while k > 0 and math.prod(shape[k - 1 :]) <= chunk_size:
        k -= 1
    if k == 0:
        yield a, (None if ax is None else _channel_range(0, shape[ax], ax, nd))
        return
    d = k - 1  # the dimension cut into runs
    step = max(1, chunk_size // math.prod(shape[k:]))
    for idx in np.ndindex(*shape[:d]):
        for j0 in range(0, shape[d], step):
            j1 = min(j0 + step, shape[d])
            piece = a[(*idx, slice(j0, j1))]
            ch: npt.NDArray[np.intp] | None
            if ax is None:
                ch = None
            elif ax < d:
                ch = np.asarray(idx[ax], dtype=np.intp)
            elif ax == d:
                ch = _channel_range(j0, j1, 0, nd - d)
            else:
                ch = _channel_range(0, shape[ax], ax - d, nd - d)
            yield piece, ch


def _channel_range(lo: int, hi: int, dim: int, ndim: int) -> npt.NDArray[np.intp]:
    shape = [1] * ndim
    shape[dim] = hi - lo
    return np.arange(lo, hi, dtype=np.intp).reshape(shape)


# ------------------------------------------------------------------ scanning


@dataclass(frozen=True)
class ScanResult:
    """The first pass: counts and the range of the finite values (lo = +inf, hi = -inf,
    absmax = 0 when there are none), per channel too when scanned with channels."""

    count: int
    finite: int
    lo: float
    hi: float
    absmax: float
    channel_lo: F64 | None = None
    channel_hi: F64 | None = None


class Scanner:
    """Streaming min / max / absmax over the finite values (per channel with ``channels``:
    then every :meth:`add` needs the chunk's channel indices)."""

    def __init__(self, channels: int | None = None) -> None:
        self.count = 0
        self.finite = 0
        self.lo = math.inf
        self.hi = -math.inf
        self.channels = channels
        self.ch_lo: F64 | None = None
        self.ch_hi: F64 | None = None
        if channels is not None:
            self.ch_lo = np.full(channels, np.inf)
            self.ch_hi = np.full(channels, -np.inf)

    def add(self, x: npt.ArrayLike, *, channel: npt.ArrayLike | None = None) -> None:
        a = _as64(_float_input(x))
        fin = np.isfinite(a)
        self.count += a.size
        self.finite += _count(fin)
        self.lo = min(self.lo, float(np.min(a, where=fin, initial=np.inf)))
        self.hi = max(self.hi, float(np.max(a, where=fin, initial=-np.inf)))
        if self.ch_lo is None or self.ch_hi is None:
            return
        if channel is None:
            raise ValueError("a per-channel scan needs each chunk's channel indices")
        ch = np.asarray(channel, dtype=np.intp)
        if ch.ndim > a.ndim:
            raise ValueError("channel indices have more dimensions than the chunk")
        chp = ch.reshape((1,) * (a.ndim - ch.ndim) + ch.shape)
        axes = tuple(dim for dim in range(a.ndim) if chp.shape[dim] == 1)
        lo = np.min(a, axis=axes, where=fin, initial=np.inf, keepdims=True)
        hi = np.max(a, axis=axes, where=fin, initial=-np.inf, keepdims=True)
        cb, lob, hib = np.broadcast_arrays(chp, lo, hi)
        np.minimum.at(self.ch_lo, cb.reshape(-1), lob.reshape(-1))
        np.maximum.at(self.ch_hi, cb.reshape(-1), hib.reshape(-1))

    def result(self) -> ScanResult:
        absmax = max(-self.lo, self.hi, 0.0) if self.finite else 0.0
        return ScanResult(
            self.count,
            self.finite,
            self.lo,
            self.hi,
            absmax,
            None if self.ch_lo is None else self.ch_lo.copy(),
            None if self.ch_hi is None else self.ch_hi.copy(),
        )


Source = Callable[[], Iterable[tuple[npt.NDArray[Any], npt.NDArray[np.intp] | None]]]


def scan(
    data: npt.ArrayLike | Iterable[npt.ArrayLike],
    *,
    axis: int | None = None,
    chunk_size: int = CHUNK,
) -> ScanResult:
    """The first pass over an array (walked with :func:`iter_blocks`; per channel along
    ``axis`` when given) or over an iterable of chunks (per tensor only)."""
    source, channels, _ = _source(data, axis, chunk_size, passes=1)
    sc = Scanner(channels)
    for piece, ch in source():
        sc.add(piece, channel=ch)
    return sc.result()


def _is_chunks(data: Any) -> bool:
    if isinstance(data, (list, tuple)):
        return bool(data) and all(isinstance(c, np.ndarray) for c in data)
    return isinstance(data, Iterable) and not isinstance(data, (str, bytes))


_NO_STREAM_CHANNELS = (
    "per-channel scales need the whole array (in memory or memory-mapped), not a stream of chunks"
)


def _source(
    data: Any, axis: int | None, chunk_size: int, passes: int
) -> tuple[Source, int | None, int | None]:
    """A re-startable walk over the data, the channel count and the normalised axis
    (axis given: arrays only)."""
    if isinstance(data, np.ndarray):
        arr = data
    elif callable(data) or _is_chunks(data):
        if axis is not None:
            raise UsageError(_NO_STREAM_CHANNELS)
        if callable(data):
            factory = data
            return (lambda: ((np.asarray(c), None) for c in factory())), None, None
        if passes > 1 and iter(data) is data:
            raise UsageError(
                "this comparison needs two passes over the data (integer scales, the "
                "NVFP4 tensor scale): pass an array, a list of chunks or a callable"
            )
        chunks = data
        return (lambda: ((np.asarray(c), None) for c in chunks)), None, None
    else:
        arr = np.asarray(data)
    if axis is None:
        return (lambda: iter_blocks(arr, chunk_size=chunk_size)), None, None
    ax = _norm_axis(axis, arr.ndim)
    return (lambda: iter_blocks(arr, axis=ax, chunk_size=chunk_size)), arr.shape[ax], ax


def compare_array(
    targets: Sequence[str | Target],
    array_or_chunks: npt.ArrayLike | Iterable[npt.ArrayLike],
    *,
    scheme: str = "symmetric",
    granularity: str = "tensor",
    axis: int | None = None,
    block_size: int = 64,
    mode: str = "nearest-even",
    saturate: bool = False,
    seed: int | None = None,
    chunk_size: int = CHUNK,
) -> list[CompareStats]:
    """Statistics of storing the data in each target, in the order given.

    ``array_or_chunks``: an array (a ``numpy.memmap`` is walked in bounded pieces), a list
    of chunks or a zero-argument callable returning a fresh iterable of chunks (chunks are
    consecutive pieces of the flattened data), or a one-shot iterable of chunks (only
    when no target needs a first pass).

    ``scheme`` and ``granularity`` apply to integer targets; ``axis`` only to
    ``granularity="channel"`` (it is ignored per tensor); ``block_size`` to NF4;
    ``mode``, ``saturate`` and ``seed`` to float targets (quantized targets round to
    nearest-even). Integer targets and NVFP4 take a first pass over the data for their
    scales (:func:`scan`); everything else is one pass.
    """
    mode = resolve_round_mode(mode)
    _check_scheme(scheme)
    if granularity not in GRANULARITIES:
        raise UsageError(f"unknown granularity {granularity!r}; choose tensor or channel")
    resolved = [resolve_target(t) for t in targets]
    ints = [t for t in resolved if isinstance(t, IntFormat)]
    per_channel = granularity == "channel" and bool(ints)
    if granularity == "channel" and axis is None:
        raise UsageError("--granularity channel needs an axis")
    passes = 2 if any(needs_scan(t) for t in resolved) else 1
    source, channels, ax = _source(
        array_or_chunks, axis if per_channel else None, chunk_size, passes
    )
    sres: ScanResult | None = None
    if passes == 2:
        sc = Scanner(channels)
        for piece, ch in source():
            sc.add(piece, channel=ch)
        sres = sc.result()
    accs: list[StatsAccumulator] = []
    for t in resolved:
        params: QuantParams | None = None
        amax: float | None = None
        if isinstance(t, IntFormat):
            assert sres is not None
            if per_channel:
                assert sres.channel_lo is not None and sres.channel_hi is not None
                params = int_params(t, sres.channel_lo, sres.channel_hi, scheme=scheme, axis=ax)
            else:
                params = int_params(t, sres.lo, sres.hi, scheme=scheme)
        elif needs_scan(t):
            assert sres is not None
            amax = sres.absmax
        accs.append(
            StatsAccumulator(
                t,
                mode=mode,
                saturate=saturate,
                seed=seed,
                params=params,
                block_size=block_size,
                tensor_amax=amax,
            )
        )
    for piece, ch in source():
        for acc in accs:
            acc.add(piece, channel=ch)
    return [acc.result() for acc in accs]
