"""Integer (affine) quantization: parameters, codes and fake-quant.

Pure numpy, no printing. Quantizing a tensor under a recipe (scaled floats, integer groups,
NF4, MX, NVFP4) lives in :mod:`precli.array.recipes`; this module keeps what it builds on:

* **Integer (affine) quantization** into int2..int64 / uint2..uint64 (:func:`int_params`,
  :func:`quantize_int`, :func:`apply_int`). The standard fake-quant definition used by
  PyTorch and ONNX::

      q       = clamp(round_half_even(x / scale) + zero_point, qmin, qmax)
      dequant = (q - zero_point) * scale

  ``scale`` is a float64 and ``x / scale`` a float64 division (ONNX QuantizeLinear
  divides the same way; PyTorch's fake-quant kernels multiply by ``1 / scale`` in
  float32), so results are those of that arithmetic, not of exact rationals.

  - ``symmetric``: ``scale = absmax / qmax`` and ``zero_point = 0``. Unsigned formats
    follow PyTorch's quint8 convention (``torch.ao.quantization`` observers): the zero
    point is the middle code ``(qmin + qmax + 1) // 2`` (128 for uint8) and
    ``scale = absmax / ((qmax - qmin) / 2)``, so negative values keep their sign.
  - ``asymmetric``: the data range ``[min, max]`` is first extended to contain 0, then
    ``scale = (max - min) / (qmax - qmin)`` and
    ``zero_point = clamp(round_half_even(qmin - min / scale), qmin, qmax)`` (an integer).
    Rounding the zero point can push one end of the range half a step outside
    ``[qmin, qmax]``: that value is clamped, and counted as overflow, as in PyTorch.
  - A zero range (all-zero, or no finite input) gets ``scale = 1`` (nothing to divide); a
    nonzero range whose scale underflows float64 gets the smallest float64, 2**-1074.
  - Ranges come from the *finite* inputs. NaN inputs cannot be stored: their lanes get the
    zero point's code and a NaN dequantized value, and are flagged ``invalid``. ``+-inf``
    clamps to ``qmax`` / ``qmin``.
  - For int64 / uint64 the bounds are used as float64 numbers rounded toward zero
    (``2**63 - 1024``, ``2**64 - 2048``; exact for every narrower format), and a symmetric
    scale is nudged up by an ulp at a time if float64 division would otherwise round the
    absmax itself past ``qmax`` (asymmetric scales are not nudged: there an extreme can
    land one float64 step past a bound, and is clamped and counted). The arithmetic stays
    float64: quantizing into 64-bit integers is exact only to float64's 53 bits.
  - ``granularity="channel"``: one scale and zero point per index along ``axis``.

The block-format registry is :mod:`precli.core.formats`.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from precli.array import codec
from precli.core.formats import Format, IntFormat, get_format
from precli.errors import UsageError, arg

__all__ = [
    "IntQuantResult",
    "QuantParams",
    "apply_int",
    "int_bounds",
    "int_codes",
    "int_params",
    "quantize_int",
]

F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
Codes = npt.NDArray[np.unsignedinteger]

Scheme = Literal["symmetric", "asymmetric"]
SCHEMES: tuple[str, ...] = ("symmetric", "asymmetric")
GRANULARITIES: tuple[str, ...] = ("tensor", "channel")

_OVERFLOW = codec.FLAG_BITS["overflow"]
_TINY = 2.0**-1074


def _as_float64(x: npt.ArrayLike) -> F64:
    a = np.asarray(x)
    if a.dtype.kind not in "fiu":
        raise UsageError(f"quantization takes real numeric arrays, not {a.dtype}")
    with np.errstate(invalid="ignore"):  # signalling NaNs widen quietly
        return a.astype(np.float64, copy=False)


# ==================================================================== integers


class QuantParams(NamedTuple):
    """Scale(s) and zero point(s) of an integer quantization.

    ``scale`` and ``zero_point`` are float64 arrays of shape ``()`` (per tensor) or
    ``(channels,)`` (per channel along ``axis``). Zero points are integers held in float64
    (exact: they are computed in float64 and clamped to :func:`int_bounds`)."""

    fmt: IntFormat
    scheme: str
    scale: F64
    zero_point: F64
    axis: int | None = None

    @property
    def per_channel(self) -> bool:
        return self.axis is not None

    def scale_value(self) -> float | list[float]:
        """The scale(s) as plain floats (one per channel when per channel)."""
        return [float(v) for v in self.scale] if self.scale.ndim else float(self.scale)

    def zero_point_value(self) -> int | list[int]:
        """The zero point(s) as Python ints."""
        if self.zero_point.ndim:
            return [int(v) for v in self.zero_point]
        return int(self.zero_point)


class IntQuantResult(NamedTuple):
    """codes: the format's codes (two's complement for signed formats, in the smallest
    unsigned dtype, as :mod:`precli.array.codec` returns them); dequant: ``(q - zp) * scale``
    (NaN on ``invalid`` lanes); overflow: lanes whose rounded value was clamped (inf
    inputs included); invalid: NaN inputs."""

    codes: Codes
    dequant: F64
    overflow: Bool
    invalid: Bool
    params: QuantParams


def int_bounds(fmt: IntFormat) -> tuple[float, float]:
    """(qmin, qmax) as float64, rounded toward zero (exact below 54 bits)."""
    hi = float(fmt.max_int)
    if int(hi) > fmt.max_int:
        hi = float(np.nextafter(hi, 0.0))
    lo = float(fmt.min_int)
    if int(lo) < fmt.min_int:  # never for two's complement (-2**(b-1) is a float64)
        lo = float(np.nextafter(lo, 0.0))
    return lo, hi


def _check_int(fmt: Format) -> IntFormat:
    if not isinstance(fmt, IntFormat):
        raise UsageError(f"{fmt.name} is not an integer format")
    return fmt


def check_scheme(scheme: str) -> str:
    """The one rule for a scheme's name (compare, plan and the API share it)."""
    if scheme not in SCHEMES:
        raise UsageError(f"invalid {arg('scheme')} {scheme!r}; choose symmetric or asymmetric")
    return scheme


def check_granularity(granularity: str) -> str:
    """The one rule for a granularity's name."""
    if granularity not in GRANULARITIES:
        raise UsageError(f"invalid {arg('granularity')} {granularity!r}; choose tensor or "
                         "channel")
    return granularity


def int_params(
    fmt: IntFormat,
    lo: npt.ArrayLike,
    hi: npt.ArrayLike,
    *,
    scheme: str = "symmetric",
    axis: int | None = None,
) -> QuantParams:
    """Scale and zero point from the data range [lo, hi] (scalars, or one per channel).

    ``lo`` / ``hi`` are the minimum and maximum of the finite data (see the module
    docstring for the definitions). Infinite or NaN bounds are treated as 0 (no finite
    data)."""
    fmt = _check_int(fmt)
    check_scheme(scheme)
    qmin, qmax = int_bounds(fmt)
    lo_a = _as_float64(lo)
    hi_a = _as_float64(hi)
    lo_a = np.where(np.isfinite(lo_a), np.minimum(lo_a, 0.0), 0.0)
    hi_a = np.where(np.isfinite(hi_a), np.maximum(hi_a, 0.0), 0.0)
    if axis is None and (lo_a.ndim or hi_a.ndim):
        raise ValueError("per-tensor parameters take scalar bounds")
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        if scheme == "symmetric":
            absmax = np.maximum(-lo_a, hi_a)
            mid = 0 if fmt.signed else (fmt.min_int + fmt.max_int + 1) // 2
            top = qmax - mid  # codes above the zero point
            scale = absmax / (qmax if fmt.signed else (qmax - qmin) / 2)
            scale = _fix_scale(scale, absmax)
            for _ in range(4 if fmt.signed else 0):  # 64-bit: keep absmax inside [.., qmax]
                past = np.rint(absmax / scale) > top
                if not past.any():
                    break
                scale = np.where(past, np.nextafter(scale, np.inf), scale)
            zp = np.full_like(scale, float(mid))
        else:
            steps = qmax - qmin
            rng = hi_a - lo_a  # may overflow to inf: then divide first
            scale = np.where(np.isfinite(rng), rng / steps, hi_a / steps - lo_a / steps)
            scale = _fix_scale(scale, rng)
            zp = np.clip(np.rint(qmin - lo_a / scale), qmin, qmax)
    scale_a = np.array(scale, dtype=np.float64)
    zp_a = np.array(zp, dtype=np.float64)
    zp_a += 0.0  # no -0 zero points
    return QuantParams(fmt, scheme, scale_a, zp_a, axis)


def _fix_scale(scale: F64, span: F64) -> F64:
    """scale 1 for a zero range; 2**-1074 where a nonzero range underflowed to scale 0."""
    out = np.where(span == 0, 1.0, np.where(scale == 0, _TINY, scale))
    return np.asarray(out, dtype=np.float64)


def _finite_range(x: F64, axis: int | None) -> tuple[F64, F64]:
    """min and max of the finite values (per channel along axis); +inf / -inf when none."""
    fin = np.isfinite(x)
    axes = None if axis is None else tuple(d for d in range(x.ndim) if d != axis)
    lo = np.min(x, axis=axes, where=fin, initial=np.inf)
    hi = np.max(x, axis=axes, where=fin, initial=-np.inf)
    return np.asarray(lo, np.float64), np.asarray(hi, np.float64)


def _norm_axis(axis: int | None, ndim: int) -> int:
    if axis is None:
        raise UsageError("per-channel quantization needs an axis")
    if not -ndim <= axis < ndim:
        raise UsageError(f"axis {axis} is out of range for an array of {ndim} dimensions")
    return axis % ndim


def quantize_int(
    fmt: Format | str,
    x: npt.ArrayLike,
    *,
    scheme: str = "symmetric",
    granularity: str = "tensor",
    axis: int | None = None,
) -> IntQuantResult:
    """Quantize an array into an integer format, with parameters taken from the array.

    ``granularity="channel"`` gives one scale / zero point per index along ``axis``
    (negative axes count from the end); with ``"tensor"`` the axis is ignored."""
    ifmt = _check_int(get_format(fmt) if isinstance(fmt, str) else fmt)
    a = _as_float64(x)
    if granularity == "channel":
        ax = _norm_axis(axis, a.ndim)
        lo, hi = _finite_range(a, ax)
        params = int_params(ifmt, lo, hi, scheme=scheme, axis=ax)
    elif granularity == "tensor":
        lo, hi = _finite_range(a, None)
        params = int_params(ifmt, lo, hi, scheme=scheme)
    else:
        check_granularity(granularity)
    return apply_int(params, a)


def _broadcast_params(
    params: QuantParams, shape: tuple[int, ...], channel: npt.ArrayLike | None
) -> tuple[F64, F64]:
    if params.axis is None:
        return params.scale, params.zero_point
    if channel is not None:
        ch = np.asarray(channel, dtype=np.intp)
        return params.scale[ch], params.zero_point[ch]
    ax = params.axis
    if len(shape) <= ax or shape[ax] != params.scale.size:
        raise ValueError(
            f"per-channel parameters for {params.scale.size} channels along axis {ax} "
            f"do not fit an array of shape {shape}; pass channel indices"
        )
    bshape = [1] * len(shape)
    bshape[ax] = -1
    return params.scale.reshape(bshape), params.zero_point.reshape(bshape)


def _int_core(
    params: QuantParams, a: F64, channel: npt.ArrayLike | None
) -> tuple[F64, F64, Bool, Bool]:
    """(q as float64 integers, dequant, overflow, invalid) for a float64 array."""
    qmin, qmax = int_bounds(params.fmt)
    scale, zp = _broadcast_params(params, a.shape, channel)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        r = np.rint(a / scale) + zp
        over = (r > qmax) | (r < qmin)
        q = np.clip(r, qmin, qmax)
        invalid = np.isnan(a)
        q = np.where(invalid, zp, q)
        deq = (q - zp) * scale
    deq = np.where(invalid, np.nan, deq)
    q = np.broadcast_to(q, a.shape)
    deq = np.broadcast_to(deq, a.shape)
    return (
        np.asarray(q, np.float64),
        np.asarray(deq, np.float64),
        np.asarray(over, np.bool_),
        invalid,
    )


def int_codes(fmt: IntFormat, q: F64) -> Codes:
    """Codes of integer values held in float64 (two's complement for signed formats), in
    the smallest unsigned dtype of the format's width."""
    dt = codec.code_dtype(fmt.bits)
    if fmt.signed:
        u = q.astype(np.int64).view(np.uint64)
        if fmt.bits < 64:
            u = u & np.uint64((1 << fmt.bits) - 1)
        return u.astype(dt)
    return q.astype(np.uint64).astype(dt)


def apply_int(
    params: QuantParams, x: npt.ArrayLike, channel: npt.ArrayLike | None = None
) -> IntQuantResult:
    """Quantize x with given parameters.

    Per-channel parameters need to know each element's channel: by default x is the whole
    tensor and the channel is its index along ``params.axis``; for a piece of a tensor pass
    ``channel``, an integer array broadcastable to x holding each element's channel."""
    a = _as_float64(x)
    q, deq, over, invalid = _int_core(params, a, channel)
    return IntQuantResult(int_codes(params.fmt, q), deq, over, invalid, params)
