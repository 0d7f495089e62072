"""Scaled quantization of float arrays: what a tensor looks like after quantization.

Three families, all pure numpy (no printing), all computed in float64:

* **Integer (affine) quantization** into int2..int64 / uint2..uint64 (:func:`int_params`,
  :func:`quantize_int`, :func:`apply_int`). The standard fake-quant definition used by
  PyTorch and ONNX::

      q       = clamp(round_half_even(x / scale) + zero_point, qmin, qmax)
      dequant = (q - zero_point) * scale

  ``scale`` is a float64 and ``x / scale`` a float64 division (ONNX QuantizeLinear
  divides the same way; PyTorch's fake-quant kernels multiply by ``1 / scale`` in
  float32), so results are those of that arithmetic, not of exact rationals.

  - ``symmetric``: ``scale = absmax / qmax`` and ``zero_point = 0``. For unsigned formats
    symmetric means the same (zero point 0, ``scale = absmax / max_int``): negative inputs
    clamp to 0 and count as overflow.
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

* **NF4 absmax blocks** (bitsandbytes ``quantize_4bit(quant_type="nf4")``,
  :func:`quantize_nf4`): the flattened (row-major) array is cut into blocks of
  ``block_size`` (default 64; the last block may be shorter). Each block keeps its absmax
  (float32 in bitsandbytes, float64 here) and every element becomes the NF4 code nearest
  to ``x / absmax`` (a float64 division; ties to the even code, the rule of precli's
  scalar ``round_table``); ``dequant = nf4_value * absmax`` (float64). An all-zero block
  has absmax 0: codes of 0, dequant 0. NaN inputs get the code of 0, a NaN dequantized
  value and the ``invalid`` flag; absmax ignores NaN and inf.

* **Block-scaled formats** (:class:`BlockFormat`, :func:`block_quantize`): the OCP
  Microscaling (MX) formats of the OCP MX specification v1.0 and NVIDIA's NVFP4. See
  :func:`block_quantize` for the exact recipes.

Blocks run over the flattened (row-major) array, like bitsandbytes. Hardware MX / NVFP4
blocks run along one axis (the reduction dimension) and pad each row; the two agree
whenever the last dimension is a multiple of the block size. The tail block is padded
with zeros internally; padding never enters an absmax or a result.
"""

from __future__ import annotations

import difflib
from fractions import Fraction
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from precli import codec
from precli.errors import UnknownFormatError, UsageError
from precli.formats import FloatFormat, Format, IntFormat, TableFormat, get_format

__all__ = [
    "BlockFormat",
    "BlockResult",
    "IntQuantResult",
    "NF4Result",
    "QuantParams",
    "apply_int",
    "block_formats",
    "block_quantize",
    "effective_bits",
    "get_block_format",
    "int_bounds",
    "int_params",
    "is_block_format",
    "nvfp4_tensor_scale",
    "quantize_int",
    "quantize_nf4",
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
    unsigned dtype, as :mod:`precli.codec` returns them); dequant: ``(q - zp) * scale``
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


def _check_scheme(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise UsageError(f"unknown scheme {scheme!r}; choose symmetric or asymmetric")
    return scheme


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
    _check_scheme(scheme)
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
            scale = absmax / qmax
            scale = _fix_scale(scale, absmax)
            for _ in range(4):  # 64-bit formats: keep absmax itself inside [.., qmax]
                past = np.rint(absmax / scale) > qmax
                if not past.any():
                    break
                scale = np.where(past, np.nextafter(scale, np.inf), scale)
            zp = np.zeros_like(scale)
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
        raise UsageError(f"unknown granularity {granularity!r}; choose tensor or channel")
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


def _int_codes(fmt: IntFormat, q: F64) -> Codes:
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
    return IntQuantResult(_int_codes(params.fmt, q), deq, over, invalid, params)


# ========================================================================= nf4


class NF4Result(NamedTuple):
    """codes: table codes shaped like x; absmax: one float64 per block; dequant:
    ``value * absmax`` (NaN on invalid lanes); overflow: clamped lanes (only +-inf can
    be: x / absmax is within [-1, 1] for every finite x); invalid: NaN inputs, whose code
    is the code of 0."""

    codes: Codes
    absmax: F64
    dequant: F64
    overflow: Bool
    invalid: Bool
    block_size: int


def _table_zero_code(fmt: TableFormat) -> int:
    zeros = [i for i, v in enumerate(fmt.values) if v == 0]
    if not zeros:
        raise UsageError(f"{fmt.name} has no zero value: absmax blocks need one")
    return zeros[0]


def _blocks(flat: F64, bs: int) -> F64:
    """flat padded with zeros to whole blocks, shaped (nblocks, bs)."""
    nb = -(-flat.size // bs)
    if nb * bs == flat.size:
        return flat.reshape(nb, bs)
    out = np.zeros(nb * bs, dtype=np.float64)
    out[: flat.size] = flat
    return out.reshape(nb, bs)


def _check_block_size(bs: int) -> int:
    if int(bs) != bs or bs < 1:
        raise UsageError(f"block size must be a positive integer, got {bs!r}")
    return int(bs)


def _nf4_flat(fmt: TableFormat, flat: F64, bs: int) -> tuple[Codes, F64, F64, Bool, Bool]:
    n = flat.size
    xb = _blocks(flat, bs)
    fin = np.isfinite(xb)
    absmax = np.max(np.abs(xb), axis=1, where=fin, initial=0.0)
    div = np.where(absmax > 0, absmax, 1.0)
    with np.errstate(invalid="ignore"):
        t = xb / div[:, None]
    r = codec.round_array_with_flags(fmt, t)
    codes = r.codes.reshape(-1)[:n].copy()
    invalid = r.invalid.reshape(-1)[:n]
    if invalid.any():
        codes[invalid] = _table_zero_code(fmt)
    vals = codec.decode_array(fmt, codes)
    deq = vals * np.repeat(absmax, bs)[:n]
    deq[invalid] = np.nan
    over = (r.flags.reshape(-1)[:n] & _OVERFLOW) != 0
    return codes, absmax, deq, over, invalid


def quantize_nf4(
    x: npt.ArrayLike, block_size: int = 64, fmt: TableFormat | None = None
) -> NF4Result:
    """bitsandbytes-style NF4: absmax per block of the flattened array (see module doc).

    Other table formats (values in [-1, 1] with a zero) work the same way via ``fmt``."""
    tfmt = fmt if fmt is not None else get_format("nf4")
    assert isinstance(tfmt, TableFormat)
    bs = _check_block_size(block_size)
    a = _as_float64(x)
    codes, absmax, deq, over, invalid = _nf4_flat(tfmt, a.reshape(-1), bs)
    s = a.shape
    return NF4Result(
        codes.reshape(s), absmax, deq.reshape(s), over.reshape(s), invalid.reshape(s), bs
    )


# ====================================================== block-scaled formats


class BlockFormat(NamedTuple):
    """A block-scaled format: ``block_size`` elements share one scale.

    ``element`` and ``scale`` name formats of :mod:`precli.formats`. An element code
    stands for ``element value * 2**element_exp`` (MXINT8: ``-6``). ``emax_elem`` is the
    exponent of the element format's largest normal (the MX shared-exponent offset).
    ``tensor_scale_bits`` is the per-tensor scale NVFP4 adds (one fp32)."""

    name: str
    kind: Literal["mx", "nvfp4"]
    element: str
    scale: str
    block_size: int
    emax_elem: int
    element_exp: int = 0
    tensor_scale_bits: int = 0
    aliases: tuple[str, ...] = ()
    description: str = ""

    @property
    def element_format(self) -> Format:
        return get_format(self.element)

    @property
    def scale_format(self) -> FloatFormat:
        f = get_format(self.scale)
        assert isinstance(f, FloatFormat)
        return f

    @property
    def bits(self) -> int:
        """Bits of one element code."""
        return self.element_format.bits

    @property
    def max(self) -> Fraction:
        """Largest element magnitude before scaling (element max * 2**element_exp)."""
        return self.element_format.max * Fraction(2) ** self.element_exp


_BLOCK_BUILTIN: tuple[BlockFormat, ...] = (
    BlockFormat("mxfp8_e4m3", "mx", "e4m3fn", "e8m0fnu", 32, 8, 0, 0, ("mxfp8",),
                "OCP MX: 32 FP8 E4M3 elements, one E8M0 scale"),
    BlockFormat("mxfp8_e5m2", "mx", "e5m2", "e8m0fnu", 32, 15, 0, 0, (),
                "OCP MX: 32 FP8 E5M2 elements, one E8M0 scale"),
    BlockFormat("mxfp6_e3m2", "mx", "e3m2fn", "e8m0fnu", 32, 4, 0, 0, (),
                "OCP MX: 32 FP6 E3M2 elements, one E8M0 scale"),
    BlockFormat("mxfp6_e2m3", "mx", "e2m3fn", "e8m0fnu", 32, 2, 0, 0, ("mxfp6",),
                "OCP MX: 32 FP6 E2M3 elements, one E8M0 scale"),
    BlockFormat("mxfp4", "mx", "e2m1fn", "e8m0fnu", 32, 2, 0, 0, ("mxfp4_e2m1",),
                "OCP MX: 32 FP4 E2M1 elements, one E8M0 scale"),
    BlockFormat("mxint8", "mx", "int8", "e8m0fnu", 32, 0, -6, 0, (),
                "OCP MX: 32 INT8 elements (q * 2^-6, in [-2, 127/64]), one E8M0 scale"),
    BlockFormat("nvfp4", "nvfp4", "e2m1fn", "e4m3fn", 16, 2, 0, 32, (),
                "NVIDIA NVFP4: 16 FP4 E2M1 elements, one FP8 E4M3 scale, one fp32 per tensor"),
)  # fmt: skip

_BLOCK_BY_NAME: dict[str, BlockFormat] = {}
for _b in _BLOCK_BUILTIN:
    for _n in (_b.name, *_b.aliases):
        assert _n not in _BLOCK_BY_NAME, _n
        _BLOCK_BY_NAME[_n] = _b


def block_formats() -> tuple[BlockFormat, ...]:
    return _BLOCK_BUILTIN


def _block_key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def is_block_format(name: str) -> bool:
    return _block_key(name) in _BLOCK_BY_NAME


def get_block_format(name: str) -> BlockFormat:
    """Resolve a block-format name or alias (case-insensitive); UnknownFormatError else."""
    key = _block_key(name)
    b = _BLOCK_BY_NAME.get(key)
    if b is not None:
        return b
    close = difflib.get_close_matches(key, list(_BLOCK_BY_NAME), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UnknownFormatError(f"unknown block format {name!r}{hint}")


def effective_bits(bfmt: BlockFormat, n: int | None = None) -> float:
    """Storage bits per element: element bits + scale bits / block size, plus, for a tensor
    of n elements, its per-tensor scale bits / n (mxfp4: 4.25; nvfp4: 4.5 + 32 / n)."""
    bits = bfmt.bits + bfmt.scale_format.bits / bfmt.block_size
    if n is not None and n > 0:
        bits += bfmt.tensor_scale_bits / n
    return bits


class BlockResult(NamedTuple):
    """element_codes: shaped like x (NaN blocks hold 0s); scale_codes: one code of the
    scale format per block (E8M0 0xff / E4M3 0x7f: a NaN block); scales: the decoded block
    scales as float64 (for NVFP4 not yet multiplied by the tensor scale; NaN for a NaN
    block); tensor_scale: NVFP4's fp32 tensor scale (1.0 for MX); dequant: element value *
    block scale (* tensor scale), NaN throughout a NaN block; overflow: elements clamped to
    the element format's max (saturation)."""

    element_codes: Codes
    scale_codes: Codes
    scales: F64
    tensor_scale: float
    dequant: F64
    overflow: Bool
    bfmt: BlockFormat


_NV_DIVISOR = 6.0 * 448.0  # e2m1 max * e4m3fn max
_FP32_MAX = float(np.finfo(np.float32).max)
_FP32_TINY = 2.0**-149


def nvfp4_tensor_scale(amax: float) -> float:
    """NVFP4's per-tensor scale: fp32(amax / (6 * 448)), amax over the finite values.

    amax 0 gives 1.0 (every block is zero anyway); a quotient that leaves fp32's range is
    clamped to [2**-149, fp32 max] (only float64 inputs can get there)."""
    a = float(amax)
    if not np.isfinite(a) or a < 0:
        raise ValueError(f"amax must be finite and >= 0, got {amax!r}")
    if a == 0:
        return 1.0
    with np.errstate(over="ignore", under="ignore"):
        ts = float(np.float32(a / _NV_DIVISOR))
    return min(max(ts, _FP32_TINY), _FP32_MAX)


def _block_flat(
    bfmt: BlockFormat, flat: F64, tensor_scale: float
) -> tuple[Codes, Codes, F64, F64, Bool]:
    """(element codes, scale codes, scales, dequant, overflow) of a flat float64 array."""
    n = flat.size
    bs = bfmt.block_size
    xb = _blocks(flat, bs)
    fin = np.isfinite(xb)
    bad: Bool = np.asarray(~fin.all(axis=1))  # a NaN or an infinity in the block
    amax = np.max(np.abs(xb), axis=1, where=fin, initial=0.0)
    sfmt = bfmt.scale_format
    efmt = bfmt.element_format
    if bfmt.kind == "mx":
        _, e = np.frexp(amax)  # amax = m * 2**e, m in [0.5, 1): floor(log2 amax) = e - 1
        shared = np.clip(e.astype(np.int64) - 1 - bfmt.emax_elem, -127, 127)
        shared = np.where(amax == 0, -127, shared)
        scale_codes = (shared + 127).astype(np.uint64)
        scales = np.ldexp(1.0, shared)
        v = np.ldexp(np.where(fin, xb, 0.0), -shared[:, None])  # exact: a power of two
        mult = np.ldexp(1.0, shared + bfmt.element_exp)
    else:
        ts = float(tensor_scale)
        with np.errstate(over="ignore"):
            target = amax / (6.0 * ts)
        r = codec.round_array_with_flags(sfmt, target, saturate=True)
        scale_codes = r.codes.astype(np.uint64)
        scales = codec.decode_array(sfmt, scale_codes)
        denom = scales * ts  # exact: 4 x 24 significant bits
        live = denom > 0
        with np.errstate(over="ignore", invalid="ignore"):
            v = np.where(live[:, None] & fin, xb / np.where(live, denom, 1.0)[:, None], 0.0)
        mult = denom
    v[bad] = 0.0
    if isinstance(efmt, IntFormat):
        er = codec.round_array_with_flags(efmt, v, scale=Fraction(2) ** bfmt.element_exp)
    else:
        er = codec.round_array_with_flags(efmt, v, saturate=True)
    ecodes = er.codes
    ecodes[bad] = 0
    vals = codec.decode_array(efmt, ecodes)
    deq = vals * mult[:, None]
    deq[bad] = np.nan
    over = ((er.flags & _OVERFLOW) != 0) & ~bad[:, None]
    if bad.any():
        scale_codes[bad] = sfmt.nan_code()
        scales[bad] = np.nan
    sdt = codec.code_dtype(sfmt.bits)
    return (
        ecodes.reshape(-1)[:n],
        scale_codes.astype(sdt),
        scales,
        deq.reshape(-1)[:n],
        over.reshape(-1)[:n],
    )


def block_quantize(
    bfmt: BlockFormat | str, x: npt.ArrayLike, *, tensor_amax: float | None = None
) -> BlockResult:
    """Quantize the flattened array into a block-scaled format.

    **MX** (OCP Microscaling Formats specification v1.0, section 6.3), per block of 32::

        shared_exp = floor(log2(amax)) - emax_elem        (amax over the block)
        X          = 2**shared_exp                        (E8M0: clamped to [-127, 127])
        P_i        = element(x_i / X)                     round-to-nearest-even, saturating
        dequant_i  = value(P_i) * X

    ``emax_elem`` is the exponent of the element format's largest normal (e4m3: 8,
    e5m2: 15, e3m2: 4, e2m3: 2, e2m1: 2, int8: 0). MXINT8 elements are int8 codes worth
    ``q * 2**-6`` (two's complement, so ``[-2, 127/64]``; the microxcaling reference
    library uses sign-magnitude and never produces -2). Elements past the element max
    saturate and count as overflow (the spec's "clamping normal numbers"), which happens
    when amax's significand rounds up past the element max (mxfp4 amax 7: 7 / 1 rounds to
    8, stored 6), and whenever the scale exponent had to be clamped to 127. An all-zero
    block gets the smallest scale 2**-127 (code 0) and zero elements. A block holding a
    NaN or an infinity gets the NaN scale (0xff) and decodes to NaN throughout (its
    element codes are 0): the spec decodes every element of a NaN-scaled block as NaN,
    and in Microsoft's microxcaling reference a NaN or infinite amax gives a NaN scale
    too. (That reference also turns a shared exponent above 127 into NaN; precli clamps
    it to 127, as above, and saturates the elements.)

    **NVFP4** (NVIDIA's published recipe, as in Transformer Engine / the NVFP4
    pretraining report), per block of 16 with one fp32 scale per tensor::

        tensor_scale = fp32(amax_tensor / (6 * 448))       see nvfp4_tensor_scale
        block_scale  = e4m3fn(amax_block / (6 * tensor_scale))   nearest-even, saturating
        P_i          = e2m1fn(x_i / (block_scale * tensor_scale)) nearest-even, saturating
        dequant_i    = value(P_i) * block_scale * tensor_scale

    computed in float64 (the divisions round once, to float64, before the rounding into
    the element format). ``tensor_amax`` is the absmax of the whole tensor's finite values
    (default: of x); pass it when x is one chunk of a larger tensor. A block scale that
    rounds to 0 (a block far below the tensor's amax) makes the whole block 0. A block
    holding NaN / inf gets the E4M3 NaN scale (0x7f) and decodes to NaN.
    """
    b = get_block_format(bfmt) if isinstance(bfmt, str) else bfmt
    a = _as_float64(x)
    flat = a.reshape(-1)
    ts = 1.0
    if b.kind == "nvfp4":
        if tensor_amax is None:
            fin = np.isfinite(flat)
            tensor_amax = float(np.max(np.abs(flat), where=fin, initial=0.0))
        ts = nvfp4_tensor_scale(tensor_amax)
    ec, sc, scales, deq, over = _block_flat(b, flat, ts)
    s = a.shape
    return BlockResult(ec.reshape(s), sc, scales, ts, deq.reshape(s), over.reshape(s), b)
