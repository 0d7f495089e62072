"""The vectorized numpy path: round, decode and print whole arrays of codes.

Every function here is pure, never prints, and agrees bit for bit with the exact scalar
path (:mod:`precli.core.rounding`), which is its reference (``tests/test_codec.py``).

The general float path works on the bit pattern of the float64 input (float32 / float16
inputs are widened first, which is exact). A finite nonzero input is
``sig * 2**(k - 63)`` with a 64-bit significand ``sig`` whose top bit is set and
``k = floor(log2 |x|)``. The target quantum is ``2**(e - M)`` with ``e = max(k, emin)``
(``e = k`` for E8M0), so the value on the target grid is ``sig >> sh`` with
``sh = 63 - M + (e - k) >= 1``: the kept bits give the lower candidate, the dropped bits,
read as a 64-bit binary fraction ``F`` (rounded up when more than 64 bits are dropped,
which then only happens below 1/2), decide the rounding -- ``F`` vs ``2**63`` for the
nearest modes, ``rand < F`` for stochastic rounding, exactly the scalar test
``rand * den < rem << 64``. The magnitude code is ``((e - emin) << M) + i``: subnormals,
normals and the carry into the next binade all fall out of that one sum, and
ties-to-even is the parity of that code.

The fast path (:func:`_fast_float_chunk`) does the common lanes in the input's own width
(uint16 / uint32 / uint64): a normal input that lands on a normal target value has code
``(|bits| >> s) - C``, rounded with the usual add-and-shift; target subnormals are done
with the magic-number addition in the input's own float type (IEEE arithmetic rounds to
nearest-even exactly; the exact remainder gives every other mode). Whatever is left (inf,
NaN, E8M0 oddities, subnormal inputs the trick cannot take) goes to the general path.

No Python loop runs per value; arrays are processed in cache-sized chunks.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from precli.core.exact import ExactValue
from precli.core.formats import FloatFormat, Format, IntFormat, TableFormat, fits_float64
from precli.core.rounding import FLAG_ORDER, SCALE_ONLY, resolve_round_mode, round_table
from precli.errors import CodeRangeError, UsageError, arg

__all__ = [
    "FLAG_BITS",
    "RoundedArray",
    "code_dtype",
    "decode_array",
    "flag_names",
    "hex_strings",
    "round_array",
    "round_array_with_flags",
    "splitmix64_array",
    "stochastic_rands",
]

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
F64 = npt.NDArray[np.float64]

#: One bit per scalar-path flag, in :data:`precli.core.rounding.FLAG_ORDER`.
FLAG_BITS: dict[str, int] = {name: 1 << i for i, name in enumerate(FLAG_ORDER)}
_INEXACT = np.uint8(FLAG_BITS["inexact"])
_OVERFLOW = np.uint8(FLAG_BITS["overflow"])
_UNDERFLOW = np.uint8(FLAG_BITS["underflow"])
_SATURATED = np.uint8(FLAG_BITS["saturated"])
_NANFLAG = np.uint8(FLAG_BITS["nan"])

_M64 = (1 << 64) - 1
_TOP = np.uint64(1 << 63)  # also "one half" as a 64-bit binary fraction
_SIGN64 = np.uint64(1 << 63)
_ABS64 = np.uint64(_M64 >> 1)
_ZERO = np.uint64(0)
_ONE = np.uint64(1)

#: Elements per chunk: large enough to amortise numpy's per-call overhead, small enough
#: that the dozen temporaries of a chunk stay in cache.
CHUNK = 1 << 15


def flag_names(bits: int) -> tuple[str, ...]:
    """The scalar-path flag tuple for one element of a flags array."""
    return tuple(name for name in FLAG_ORDER if int(bits) & FLAG_BITS[name])


def code_dtype(bits: int) -> np.dtype[np.unsignedinteger]:
    """The smallest unsigned dtype holding a code of this many bits."""
    for dt in (np.uint8, np.uint16, np.uint32, np.uint64):
        if bits <= np.dtype(dt).itemsize * 8:
            return np.dtype(dt)
    raise ValueError(f"codes of {bits} bits do not fit in 64")


# ------------------------------------------------------------- stochastic bits

_SM_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_SM_M1 = np.uint64(0xBF58476D1CE4E5B9)
_SM_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64_array(x: npt.ArrayLike) -> U64:
    """SplitMix64 of every uint64 state: :func:`precli.core.rounding.splitmix64`, elementwise."""
    z = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = z + _SM_GAMMA
        z = (z ^ (z >> np.uint64(30))) * _SM_M1
        z = (z ^ (z >> np.uint64(27))) * _SM_M2
        return z ^ (z >> np.uint64(31))


def _stream_base(seed: int, start_index: int) -> int:
    """The SplitMix64 state of value number start_index of a run with this seed."""
    from precli.core.rounding import splitmix64

    return (splitmix64(seed & _M64) + start_index) & _M64


def stochastic_rands(seed: int, start_index: int, n: int) -> U64:
    """The random words of values start_index .. start_index + n - 1 of a run with seed:
    splitmix64((splitmix64(seed) + i) mod 2**64), as :func:`precli.core.rounding.stochastic_bits`
    draws."""
    base = np.uint64(_stream_base(seed, start_index))
    with np.errstate(over="ignore"):
        states = np.arange(n, dtype=np.uint64) + base
    return splitmix64_array(states)


# ------------------------------------------------------------------ results


class RoundedArray(NamedTuple):
    """codes (smallest unsigned dtype for the format), invalid lanes (NaN into a format
    without NaN; their code is 0), and per-lane flag bits (see :data:`FLAG_BITS`)."""

    codes: npt.NDArray[np.unsignedinteger]
    invalid: Bool
    flags: npt.NDArray[np.uint8]


def round_array(
    fmt: Format,
    x: npt.ArrayLike,
    mode: str = "nearest-even",
    *,
    saturate: bool = False,
    seed: int | None = None,
    start_index: int = 0,
    scale: float | Fraction | None = None,
    zero_point: int | None = None,
) -> tuple[npt.NDArray[np.unsignedinteger], Bool]:
    """Round every element of a float64 / float32 / float16 array into fmt.

    Returns ``(codes, invalid)``: codes in the smallest unsigned dtype of the format's
    width, shaped like x, and a mask of lanes that cannot be encoded at all (NaN into a
    format with no NaN, where the scalar path raises NotRepresentableError); those lanes
    hold code 0. Semantics are the scalar :func:`precli.core.rounding.round_value`'s.

    Stochastic rounding draws splitmix64((splitmix64(seed) + start_index + j) mod 2**64) for
    lane j
    (row-major order), so lane j matches value number start_index + j of the scalar path.
    With seed None a random seed is drawn.

    ``scale`` (a positive power of two) and ``zero_point`` (an integer inside the format's
    range) apply to integer formats; ``scale`` to nf4. Other scales raise UsageError: the
    array path only does what it can do exactly.
    """
    r = _round(fmt, x, mode, saturate, seed, start_index, scale, zero_point, want_flags=False)
    return r.codes, r.invalid


def round_array_with_flags(
    fmt: Format,
    x: npt.ArrayLike,
    mode: str = "nearest-even",
    *,
    saturate: bool = False,
    seed: int | None = None,
    start_index: int = 0,
    scale: float | Fraction | None = None,
    zero_point: int | None = None,
) -> RoundedArray:
    """:func:`round_array` plus the scalar path's flags, one uint8 of FLAG_BITS per lane."""
    return _round(fmt, x, mode, saturate, seed, start_index, scale, zero_point, want_flags=True)


def _as_float_input(x: npt.ArrayLike) -> npt.NDArray[np.floating]:
    a = np.asarray(x)
    if a.dtype not in (np.float64, np.float32, np.float16):
        raise TypeError(f"round_array takes float64, float32 or float16 arrays, not {a.dtype}")
    return a


def _round(
    fmt: Format,
    x: npt.ArrayLike,
    mode: str,
    saturate: bool,
    seed: int | None,
    start_index: int,
    scale: float | Fraction | None,
    zero_point: int | None,
    *,
    want_flags: bool,
) -> RoundedArray:
    a = _as_float_input(x)
    mode = resolve_round_mode(mode)
    shape = a.shape
    flat = a.reshape(-1)
    n = flat.size
    out_dtype = code_dtype(fmt.bits)
    codes = np.zeros(n, dtype=out_dtype)
    invalid = np.zeros(n, dtype=np.bool_)
    flags = np.zeros(n if want_flags else 0, dtype=np.uint8)
    if mode == "stochastic" and seed is None:
        seed = secrets.randbits(64)

    if isinstance(fmt, FloatFormat):
        if scale is not None or zero_point is not None:
            raise UsageError(SCALE_ONLY)
        if _is_identity(fmt, flat.dtype):
            ic, ii, ifl = _identity(fmt, flat, want_flags)
            return RoundedArray(
                ic.reshape(shape), ii.reshape(shape), ifl.reshape(shape if want_flags else (0,))
            )
        plan_f = _float_plan(fmt)
    elif isinstance(fmt, IntFormat):
        plan_i = _int_plan(fmt, _pow2_exponent(scale), zero_point or 0)
    else:
        if zero_point is not None:
            raise UsageError(f"{arg('zero_point')} does not apply to {fmt.name}")
        plan_t = _table_plan(fmt, _pow2_exponent(scale))

    fast = _fast_plan(fmt, flat.dtype) if isinstance(fmt, FloatFormat) and FAST_PATH else None
    slow_parts: list[npt.NDArray[np.intp]] = []
    c: npt.NDArray[Any]
    inv: Bool | None
    fl: npt.NDArray[np.uint8] | None
    for lo in range(0, n, CHUNK):
        hi = min(lo + CHUNK, n)
        rand = (
            stochastic_rands(seed, start_index + lo, hi - lo)
            if mode == "stochastic" and seed is not None
            else None
        )
        if fast is not None:
            c, fl, slow_idx = _fast_float_chunk(
                fast, np.ascontiguousarray(flat[lo:hi]), mode, saturate, rand, want_flags
            )
            codes[lo:hi] = c
            if want_flags and fl is not None:
                flags[lo:hi] = fl
            if slow_idx is not None:
                slow_parts.append(slow_idx + lo)
            continue
        with np.errstate(invalid="ignore"):  # signalling NaNs widen quietly
            xs = np.ascontiguousarray(flat[lo:hi], dtype=np.float64)
        if isinstance(fmt, FloatFormat):
            c, inv, fl = _round_float_chunk(plan_f, xs, mode, saturate, rand, want_flags)
        elif isinstance(fmt, IntFormat):
            c, inv, fl = _round_int_chunk(plan_i, xs, mode, rand, want_flags)
        else:
            c, inv, fl = _round_table_chunk(plan_t, xs, mode, rand, want_flags)
        codes[lo:hi] = c
        if inv is not None:
            invalid[lo:hi] = inv
        if want_flags and fl is not None:
            flags[lo:hi] = fl
    if slow_parts:  # the fast path's leftovers (subnormal targets, zeros, inf, NaN)
        slow = np.concatenate(slow_parts)
        for lo in range(0, slow.size, CHUNK):
            idx = slow[lo : lo + CHUNK]
            rand = (
                splitmix64_array(idx.astype(np.uint64)
                                 + np.uint64(_stream_base(seed, start_index)))
                if mode == "stochastic" and seed is not None
                else None
            )
            with np.errstate(invalid="ignore"):
                xs = flat[idx].astype(np.float64)
            c, inv, fl = _round_float_chunk(plan_f, xs, mode, saturate, rand, want_flags)
            codes[idx] = c
            if inv is not None:
                invalid[idx] = inv
            if want_flags and fl is not None:
                flags[idx] = fl
    return RoundedArray(
        codes.reshape(shape), invalid.reshape(shape), flags.reshape(shape if want_flags else (0,))
    )


def _pow2_exponent(scale: float | Fraction | None) -> int:
    if scale is None:
        return 0
    s = Fraction(scale)
    if s > 0 and s.numerator & (s.numerator - 1) == 0 and s.denominator == 1:
        return s.numerator.bit_length() - 1
    if s > 0 and s.numerator == 1 and s.denominator & (s.denominator - 1) == 0:
        return -(s.denominator.bit_length() - 1)
    raise UsageError(f"the array path takes power-of-two scales only (exact); got {scale!r}")


# ----------------------------------------------------------- float64 unpacking


class _Unpacked(NamedTuple):
    neg: Bool  # sign bit (also for -0 and NaN)
    sig: U64  # significand with its top bit at bit 63 (garbage on zero / inf / nan)
    k: I64  # floor(log2 |x|) (garbage on zero / inf / nan)
    zero: Bool | None  # None when no lane is zero
    special: Bool | None  # inf or nan lanes; None when none
    isnan: Bool | None


def _unpack(x: F64, k_fill: int) -> _Unpacked:
    """Split finite float64 lanes into sig * 2**(k - 63); zero lanes get k = k_fill."""
    bits = x.view(np.uint64)
    neg = bits >= _SIGN64
    mag = bits & _ABS64
    ebits = (mag >> np.uint64(52)).astype(np.int64)
    k = ebits - 1023
    sig = (bits << np.uint64(11)) | _TOP
    zero: Bool | None = None
    lowexp = ebits == 0
    if lowexp.any():
        zero = lowexp & (mag == _ZERO)
        sub = lowexp & ~zero
        if sub.any():
            idx = np.flatnonzero(sub)
            m = mag[idx]
            # m < 2**52 converts to float64 exactly: its exponent is m's bit length - 1
            lb = (m.astype(np.float64).view(np.uint64) >> np.uint64(52)).astype(np.int64) - 1023
            k[idx] = lb - 1074
            sig[idx] = m << (63 - lb).astype(np.uint64)
        if zero.any():
            k[zero] = k_fill
        else:
            zero = None
    special: Bool | None = None
    isnan: Bool | None = None
    top = ebits == 2047
    if top.any():
        special = top
        isnan = top & ((mag & np.uint64((1 << 52) - 1)) != _ZERO)
        k[top] = k_fill
    return _Unpacked(neg, sig, k, zero, special, isnan)


def _split(sig: U64, sh: int | I64) -> tuple[U64, U64]:
    """(sig >> sh, F): the integer part and the dropped bits as a 64-bit binary fraction,
    rounded up (ceil) when more than 64 bits are dropped. sh >= 1 (scalar or per lane)."""
    if isinstance(sh, int):
        if sh <= 63:
            return sig >> np.uint64(sh), sig << np.uint64(64 - sh)
        sh = np.full(sig.shape, sh, dtype=np.int64)
    i = np.where(sh >= 64, _ZERO, sig >> np.minimum(sh, 63).astype(np.uint64))
    f = sig << (64 - np.clip(sh, 1, 64)).astype(np.uint64)
    deep = sh > 64
    if deep.any():
        t = sh[deep] - 64  # ceil(sig / 2**t) = ((sig - 1) >> t) + 1 (sig > 0)
        s = sig[deep]
        fd = np.where(t >= 64, _ONE, ((s - _ONE) >> np.minimum(t, 63).astype(np.uint64)) + _ONE)
        f[deep] = fd
    return i, f


def _round_up(mode: str, f: U64, odd: U64 | Bool, neg: Bool, rand: U64 | None) -> Bool:
    """Take the larger-magnitude neighbour? (the vector form of rounding._round_up)"""
    up: Bool
    if mode == "nearest-even":
        up = (f > _TOP) | ((f == _TOP) & (odd != 0))
    elif mode == "nearest-away":
        up = f >= _TOP
    elif mode == "toward-zero":
        up = np.zeros(f.shape, dtype=np.bool_)
    elif mode == "up":
        up = (f != _ZERO) & ~neg
    elif mode == "down":
        up = (f != _ZERO) & neg
    elif mode == "odd":
        up = (f != _ZERO) & (odd == 0)
    elif mode == "stochastic":
        assert rand is not None
        up = rand < f
    else:
        raise ValueError(mode)
    return up


def _toward_zero_lanes(mode: str, neg: Bool) -> Bool | bool:
    """Lanes whose overflow goes to max rather than inf / NaN (IEEE 754 7.4)."""
    if mode in ("toward-zero", "odd"):
        return True
    if mode == "up":
        return neg
    if mode == "down":
        return ~neg
    return False


# --------------------------------------------------------------- float formats


@dataclass(frozen=True)
class _FloatPlan:
    fmt: FloatFormat
    M: int
    emin: int
    bias: int
    fnu: bool
    fnuz: bool
    finite: bool
    has_inf: bool
    has_nan: bool
    sign: np.uint64
    max_code: np.uint64
    dmax: int  # exponent offsets above this overflow whatever the significand
    inf_mag: np.uint64
    nan_mag: np.uint64  # the NaN pattern without sign (the sign is OR-ed in like any lane)


@cache
def _float_plan(fmt: FloatFormat) -> _FloatPlan:
    max_field = fmt.fields(fmt.max_code)[1]
    return _FloatPlan(
        fmt=fmt,
        M=fmt.mantissa_bits,
        emin=fmt.emin,
        bias=fmt.bias,
        fnu=fmt.specials == "fnu",
        fnuz=fmt.specials == "fnuz",
        finite=fmt.specials == "finite",
        has_inf=fmt.has_inf,
        has_nan=fmt.has_nan,
        sign=np.uint64(fmt.sign_mask),
        max_code=np.uint64(fmt.max_code),
        dmax=max_field + 1,
        inf_mag=np.uint64(fmt.inf_code(False) if fmt.has_inf else 0),
        nan_mag=np.uint64(fmt.nan_code(False) if fmt.has_nan else 0),
    )


_IDENTITY_DTYPES = {"fp64": np.float64, "fp32": np.float32, "fp16": np.float16}


def _is_identity(fmt: FloatFormat, dtype: np.dtype) -> bool:
    """The input dtype is the target format itself: every value is a code already."""
    return any(
        np.dtype(dt) == dtype and _layout_equal(fmt, _IDENTITY_FORMATS[name])
        for name, dt in _IDENTITY_DTYPES.items()
    )


def _identity(
    fmt: FloatFormat, flat: npt.NDArray[np.floating], want_flags: bool
) -> tuple[npt.NDArray[np.unsignedinteger], Bool, npt.NDArray[np.uint8]]:
    udt = code_dtype(fmt.bits)
    codes = flat.view(udt).copy()
    nan = np.isnan(flat)
    if nan.any():  # canonical quiet NaN, sign kept
        sign = codes[nan] & udt.type(fmt.sign_mask)
        codes[nan] = sign | udt.type(fmt.nan_code(False))
    n = flat.size
    return codes, np.zeros(n, np.bool_), np.zeros(n if want_flags else 0, np.uint8)


def _round_float_chunk(
    p: _FloatPlan, x: F64, mode: str, saturate: bool, rand: U64 | None, want_flags: bool
) -> tuple[U64, Bool | None, npt.NDArray[np.uint8] | None]:
    M = p.M
    u = _unpack(x, 0 if p.fnu else max(p.emin, 0))
    neg, sig, k = u.neg, u.sig, u.k

    if p.fnu:  # exponent-only grid: i = 1 always, the code is the biased exponent
        i, f = _split(sig, 63)
        code_i = k + p.bias
        odd: U64 | I64 = code_i & 1
        up = _round_up(mode, f, odd != 0, neg, rand)
        code_i = code_i + up
        low_clamp = code_i < 0  # below 2**emin: the smallest scale is the nearest value left
        over = code_i > int(p.max_code)
        mag = np.clip(code_i, 0, int(p.max_code) + 1).astype(np.uint64)
        tiny = k < p.emin
    else:
        tiny = k < p.emin
        if tiny.any():
            e = np.maximum(k, p.emin)
            i, f = _split(sig, (63 - M) + (e - k))
            d = np.minimum(e - p.emin, p.dmax).astype(np.uint64)
        else:
            i, f = _split(sig, 63 - M)
            d = np.minimum(k - p.emin, p.dmax).astype(np.uint64)
        mag = (d << np.uint64(M)) + i
        up = _round_up(mode, f, mag & _ONE, neg, rand)
        mag = mag + up
        over = mag > p.max_code
        low_clamp = None

    any_over = bool(over.any())
    nan_out: Bool | None = None
    sat_out: Bool | bool = False
    if any_over:
        if saturate or p.finite:
            sat_out = over
        else:
            tz = _toward_zero_lanes(mode, neg)
            sat_out = over & tz
            nan_out = over & ~sat_out
        mag = np.where(sat_out, p.max_code, mag)
        if nan_out is not None:
            if p.has_inf:
                mag = np.where(nan_out, p.inf_mag, mag)
                nan_out = None  # it is inf, not NaN (no nan flag)
            else:
                mag = np.where(nan_out, p.nan_mag, mag)

    flags: npt.NDArray[np.uint8] | None = None
    if want_flags:
        inexact = f != _ZERO
        flags = inexact.astype(np.uint8)  # _INEXACT == 1
        flags |= (inexact & tiny).astype(np.uint8) * _UNDERFLOW
        if any_over:  # (inexact even when on the grid extended upward)
            flags |= over.astype(np.uint8) * (_INEXACT | _OVERFLOW)
            flags |= np.asarray(sat_out, dtype=np.bool_).astype(np.uint8) * _SATURATED
            if nan_out is not None:
                flags |= nan_out.astype(np.uint8) * _NANFLAG
        if low_clamp is not None:  # E8M0 below 2**emin: clamped up to the smallest scale
            flags |= low_clamp.astype(np.uint8) * (_INEXACT | _UNDERFLOW | _SATURATED)

    # ---- specials (zero, inf, nan) override the arithmetic above
    invalid: Bool | None = None
    if u.zero is not None:
        mag[u.zero] = p.nan_mag if p.fnu else 0
        if flags is not None:
            flags[u.zero] = _NANFLAG if p.fnu else 0
    if u.special is not None:
        assert u.isnan is not None
        inf = u.special & ~u.isnan
        if inf.any():
            if p.has_inf:
                mag[inf] = p.inf_mag
                if flags is not None:
                    flags[inf] = 0
            elif saturate or p.finite:
                mag[inf] = p.max_code
                if flags is not None:
                    flags[inf] = _INEXACT | _SATURATED
            else:
                mag[inf] = p.nan_mag
                if flags is not None:
                    flags[inf] = _NANFLAG
        if u.isnan.any():
            if p.has_nan:
                mag[u.isnan] = p.nan_mag
            else:
                invalid = u.isnan
                mag[u.isnan] = 0
            if flags is not None:
                flags[u.isnan] = 0
    if p.fnu:
        badneg = neg if u.isnan is None else neg & ~u.isnan
        if badneg.any():  # unsigned, no zero: negatives become the NaN
            mag[badneg] = p.nan_mag
            if flags is not None:
                flags[badneg] = _NANFLAG
        return mag, invalid, flags

    signed = np.where(neg, p.sign, _ZERO)
    if p.fnuz:  # no -0: a zero result is unsigned (and NaN 0x80 is its own pattern)
        signed = np.where(mag == _ZERO, _ZERO, signed)
    code = mag | signed
    if invalid is not None:
        code[invalid] = 0
    return code, invalid, flags


# ------------------------------------------------- the fast path (normal lanes)

#: Use the fast path where it applies (tests switch it off to check it against the general one).
FAST_PATH = True

_INPUT_LAYOUT = {  # dtype -> (width, mantissa bits, bias)
    np.dtype(np.float16): (16, 10, 15),
    np.dtype(np.float32): (32, 23, 127),
    np.dtype(np.float64): (64, 52, 1023),
}
_UINT: dict[int, type[np.unsignedinteger[Any]]] = {16: np.uint16, 32: np.uint32, 64: np.uint64}


@dataclass(frozen=True)
class _FastPlan:
    """Round in the input's own bit width: for a normal input landing on a normal target
    value the magnitude code is ``(|bits| >> s) - C`` (s = input M - target M), the
    classic bit trick, and round-to-nearest-even is ``(|bits| + half - 1 + lsb) >> s``.
    When the target has the input's exponent width the sign bit rides along in place.
    Lanes below max(2**emin, the input's smallest normal), zeros, inf / NaN (and, for
    E8M0, negatives) take the general path."""

    p: _FloatPlan
    dtype: np.dtype  # the input's unsigned twin
    res_dtype: np.dtype  # holds every code of the target
    width: int
    s: int
    inline_sign: bool
    C: np.unsignedinteger  # mod 2**width
    c_odd: bool  # (only with M = 0) the code's parity is the opposite of |bits| >> s
    tiny_below: np.unsignedinteger  # |bits| < this: general path
    fast_span: np.unsignedinteger  # |bits| - tiny_below >= this: too
    absmask: np.unsignedinteger
    lowmask: np.unsignedinteger
    half_m1: np.unsignedinteger
    half: np.unsignedinteger
    max_code: np.unsignedinteger
    tmagmask: np.unsignedinteger  # target code without its sign
    tsign: np.unsignedinteger
    one: np.unsignedinteger
    ushift: np.unsignedinteger
    sign_shift: int  # input sign bit -> target sign bit (right shift; negative: left)
    # target subnormals (|x| < 2**emin) by the magic-number addition, or None
    magic: np.floating | None  # 2**(emin - M + input M)
    magic_bits: np.unsignedinteger
    quantum: np.floating  # 2**(emin - M), the subnormal spacing
    frac_exp: int  # rem * 2**frac_exp is the dropped fraction as a 64-bit binary fraction
    tiny_inline: bool  # tiny lanes (|x| < tiny_below) go through _tiny_lanes


@cache
def _fast_plan(fmt: FloatFormat, in_dtype: np.dtype) -> _FastPlan | None:
    p = _float_plan(fmt)
    W, inM, inbias = _INPUT_LAYOUT[np.dtype(in_dtype)]
    M = p.M
    s = inM - M
    if s < 0:
        return None
    in_emin, in_emax = 1 - inbias, inbias
    C = (inbias + p.emin - 1 + (1 if p.fnu else 0)) << M
    lo_exp = max(p.emin, in_emin)
    if lo_exp > in_emax:
        return None
    tiny_below = (lo_exp + inbias) << inM
    special_from = ((1 << (W - 1 - inM)) - 1) << inM
    top = (((special_from - 1) >> s) + 1) - C
    bottom = (tiny_below >> s) - C
    if bottom < 0 or top >= 1 << W:
        return None  # the codes would not fit the input's width
    ut = _UINT[W]
    fdt = np.dtype(in_dtype).type
    magic_exp = p.emin - M + inM
    tiny_inline = not p.fnu and p.emin >= in_emin and in_emin <= magic_exp < in_emax
    # the sign may ride in place only if no rounded magnitude can carry into it
    inline = bool(p.sign) and fmt.bits == W - s and top < 1 << (fmt.bits - 1)
    res_dtype = np.dtype(ut) if fmt.bits <= W else code_dtype(fmt.bits)
    return _FastPlan(
        p=p,
        dtype=np.dtype(ut),
        res_dtype=res_dtype,
        width=W,
        s=s,
        inline_sign=inline,
        C=ut(C % (1 << W)),
        c_odd=bool(C & 1),
        tiny_below=ut(tiny_below),
        fast_span=ut(special_from - tiny_below),
        absmask=ut((1 << (W - 1)) - 1),
        lowmask=ut((1 << s) - 1),
        half_m1=ut((1 << (s - 1)) - 1 if s else 0),
        half=ut(1 << (s - 1) if s else 0),
        max_code=ut(min(fmt.max_code, (1 << W) - 1)),
        tmagmask=ut(((1 << (fmt.bits - 1)) - 1) if inline else (1 << W) - 1),
        tsign=ut(p.sign) if inline else ut(0),
        one=ut(1),
        ushift=ut(s),
        sign_shift=W - fmt.bits,
        magic=fdt(2.0**magic_exp) if tiny_inline else None,
        magic_bits=ut((magic_exp + inbias) << inM) if tiny_inline else ut(0),
        quantum=fdt(2.0 ** (p.emin - M)) if tiny_inline else fdt(0),
        frac_exp=64 - (p.emin - M),
        tiny_inline=tiny_inline,
    )


def _subnormal_arithmetic_ok() -> bool:
    """False when the FPU flushes subnormals to zero (FTZ / DAZ set by some library):
    the magic-number addition needs IEEE subnormal arithmetic."""
    tiny = np.array([2.0**-1074], dtype=np.float64)
    small = np.array([2.0**-149], dtype=np.float32)
    return bool((tiny + tiny)[0] == 2.0**-1073 and (small * np.float32(2))[0] != 0)


def _tiny_lanes(
    fp: _FastPlan,
    a: npt.NDArray[np.floating],
    neg: Bool,
    mode: str,
    rand: U64 | None,
) -> tuple[npt.NDArray[np.unsignedinteger], Bool]:
    """Magnitude codes of |x| < 2**emin (the target's subnormals and zero) and inexact.

    a + 2**(emin - M + input M) rounds a to the subnormal quantum 2**(emin - M) in the
    input's own precision (IEEE round-to-nearest-even: the parity of the integer is the
    parity of the code), and the sum's low bits are the code. ``back`` (the rounded value)
    is exact, and a - back tells every other mode which way the nearest-even went."""
    assert fp.magic is not None
    y = a + fp.magic
    n = y.view(fp.dtype) - fp.magic_bits  # round-to-nearest-even code
    back = y - fp.magic  # exact (Sterbenz)
    inexact = back != a
    if mode == "nearest-even":
        return n, inexact
    went_up = back > a
    if mode == "nearest-away":
        tie = np.abs(a - back) * a.dtype.type(2) == fp.quantum  # (all exact)
        return n + (tie & ~went_up), inexact
    floor = n - went_up
    if mode == "toward-zero":
        return floor, inexact
    if mode == "up":
        return floor + (inexact & ~neg), inexact
    if mode == "down":
        return floor + (inexact & neg), inexact
    if mode == "odd":
        return floor | inexact, inexact
    if mode == "stochastic":
        assert rand is not None
        rem = (a - np.where(went_up, back - fp.quantum, back)).astype(np.float64)  # in [0, q)
        f = np.ceil(np.ldexp(rem, fp.frac_exp)).astype(np.uint64)  # < 2**64 (rem < q)
        return floor + (rand < f), inexact
    raise ValueError(mode)


def _fast_float_chunk(
    fp: _FastPlan,
    xin: npt.NDArray[np.floating],
    mode: str,
    saturate: bool,
    rand: U64 | None,
    want_flags: bool,
) -> tuple[
    npt.NDArray[np.unsignedinteger],
    npt.NDArray[np.uint8] | None,
    npt.NDArray[np.intp] | None,
]:
    """Codes and flags of the fast lanes, and the indices of the lanes left to the
    general path (their codes and flags here are garbage)."""
    p = fp.p
    ut = fp.dtype.type
    bits = xin.view(fp.dtype)
    mag = bits & fp.absmask
    src = bits if fp.inline_sign else mag  # what gets shifted down into the code
    s = fp.s
    ush = fp.ushift
    inexact: Bool | None = None
    with np.errstate(over="ignore"):
        if s == 0:
            code = src.copy()
        else:
            if want_flags or mode in ("odd", "stochastic"):
                low = mag & fp.lowmask
                inexact = low != 0
            if mode == "nearest-even":
                code = src >> ush
                code &= fp.one  # parity of the lower candidate's code (C's parity folded in)
                if fp.c_odd:
                    code ^= fp.one
                code += src
                code += fp.half_m1
                code >>= ush
            elif mode == "nearest-away":
                code = src + fp.half
                code >>= ush
            elif mode == "toward-zero":
                code = src >> ush
            elif mode in ("up", "down"):
                negbit = bits >> ut(fp.width - 1)
                # add s ones to lanes rounding away from zero: up -> positive, down -> negative
                away = (negbit - fp.one) if mode == "up" else (ut(0) - negbit)
                away &= fp.lowmask
                away += src
                code = away >> ush
            elif mode == "odd":
                code = src >> ush  # the sticky bit is OR-ed in after C comes off
            elif mode == "stochastic":
                assert rand is not None
                f = low.astype(np.uint64) << np.uint64(64 - s)
                code = src >> ush
                code += rand < f
            else:
                raise ValueError(mode)
        if fp.C:
            code -= fp.C
        if mode == "odd" and inexact is not None:
            code |= inexact
    slow = (mag - fp.tiny_below) >= fp.fast_span  # below tiny_below wraps around: slow too
    if p.fnu:
        slow |= bits > fp.absmask  # negatives become the NaN
    any_slow = bool(slow.any())
    tiny: Bool | None = None
    tiny_idx: npt.NDArray[np.intp] | None = None  # sparse tiny lanes: gather / scatter
    if any_slow and fp.tiny_inline and _subnormal_arithmetic_ok():
        tiny = mag < fp.tiny_below
        count = int(np.count_nonzero(tiny))
        if count:
            if count * 2 < tiny.size:
                tiny_idx = np.flatnonzero(tiny)
            slow &= ~tiny
            any_slow = bool(slow.any())
        else:
            tiny = None
    tmag = code & fp.tmagmask if fp.inline_sign else code
    over: Bool | None = tmag > fp.max_code
    nan_out: Bool | None = None
    sat_out: Bool | None = None
    any_over = False
    if over is not None:
        if any_slow:
            over &= ~slow
        any_over = bool(over.any())
    if any_over:
        assert over is not None
        if saturate or p.finite:
            sat_out = over
        else:
            tz = _toward_zero_lanes(mode, bits > fp.absmask)
            sat_out = over & tz
            nan_out = over & ~sat_out
        sign_part = code & fp.tsign
        code = np.where(sat_out, sign_part | fp.max_code, code)
        if nan_out is not None:
            special = ut(p.inf_mag if p.has_inf else p.nan_mag)
            code = np.where(nan_out, sign_part | special, code)
    if fp.inline_sign or not p.sign:
        res = code
    else:
        rt = fp.res_dtype.type
        res = code.astype(fp.res_dtype, copy=False)
        if fp.sign_shift >= 0:
            sgn = (bits >> ut(fp.sign_shift)).astype(fp.res_dtype) & rt(p.sign)
        else:
            sgn = (bits.astype(fp.res_dtype) << rt(-fp.sign_shift)) & rt(p.sign)
        res |= sgn
    flags: npt.NDArray[np.uint8] | None = None
    if want_flags:
        flags = inexact.astype(np.uint8) if inexact is not None else np.zeros(code.shape, np.uint8)
        if any_over:
            assert over is not None and sat_out is not None
            flags |= over.astype(np.uint8) * (_INEXACT | _OVERFLOW)
            flags |= sat_out.astype(np.uint8) * _SATURATED
            if nan_out is not None and not p.has_inf:
                flags |= nan_out.astype(np.uint8) * _NANFLAG
    if tiny is not None:
        # many tiny lanes: compute them densely (garbage elsewhere) and merge by mask
        sel = tiny_idx if tiny_idx is not None else slice(None)
        tneg = bits[sel] > fp.absmask
        with np.errstate(over="ignore", invalid="ignore"):
            tcode, tinexact = _tiny_lanes(
                fp, mag[sel].view(xin.dtype), tneg, mode, None if rand is None else rand[sel]
            )
        tres = tcode.astype(res.dtype, copy=False)
        if p.sign:
            tsign = np.where(tneg, res.dtype.type(p.sign), res.dtype.type(0))
            if p.fnuz:  # no -0
                tsign = np.where(tres == 0, res.dtype.type(0), tsign)
            tres = tres | tsign
        if tiny_idx is not None:
            res[tiny_idx] = tres
        else:
            np.copyto(res, tres, where=tiny)
        if flags is not None:
            tflags = tinexact.astype(np.uint8) * (_INEXACT | _UNDERFLOW)
            if tiny_idx is not None:
                flags[tiny_idx] = tflags
            else:
                np.copyto(flags, tflags, where=tiny)
    return res, flags, (np.flatnonzero(slow) if any_slow else None)


_IDENTITY_FORMATS = {
    "fp64": FloatFormat("fp64", 11, 52, 1023, "ieee"),
    "fp32": FloatFormat("fp32", 8, 23, 127, "ieee"),
    "fp16": FloatFormat("fp16", 5, 10, 15, "ieee"),
}


def _layout_equal(a: FloatFormat, b: FloatFormat) -> bool:
    return (a.exponent_bits, a.mantissa_bits, a.bias, a.specials) == (
        b.exponent_bits,
        b.mantissa_bits,
        b.bias,
        b.specials,
    )


# ------------------------------------------------------------- integer formats


@dataclass(frozen=True)
class _IntPlan:
    fmt: IntFormat
    q: int  # the quantum exponent: scale = 2**q
    zp: int
    zp_u: np.uint64  # zero point mod 2**64
    mask: np.uint64  # 2**bits - 1
    pos_room: np.uint64  # largest magnitude a positive lane may round to (max - zp)
    neg_room: np.uint64  # largest magnitude a negative lane may round to (zp - min)
    max_code: np.uint64
    min_code: np.uint64
    zp_code: np.uint64


@cache
def _int_plan(fmt: IntFormat, q: int, zp: int) -> _IntPlan:
    if not fmt.min_int <= zp <= fmt.max_int:
        raise UsageError(
            f"the array path takes zero points inside {fmt.name}'s range "
            f"[{fmt.min_int}, {fmt.max_int}]; got {zp}"
        )
    mask = (1 << fmt.bits) - 1
    return _IntPlan(
        fmt=fmt,
        q=q,
        zp=zp,
        zp_u=np.uint64(zp & _M64),
        mask=np.uint64(mask),
        pos_room=np.uint64(fmt.max_int - zp),
        neg_room=np.uint64(zp - fmt.min_int),
        max_code=np.uint64(fmt.code_of(fmt.max_int)),
        min_code=np.uint64(fmt.code_of(fmt.min_int)),
        zp_code=np.uint64(fmt.code_of(zp)),
    )


def _round_int_chunk(
    p: _IntPlan, x: F64, mode: str, rand: U64 | None, want_flags: bool
) -> tuple[U64, Bool | None, npt.NDArray[np.uint8] | None]:
    u = _unpack(x, p.q)
    neg, sig, k = u.neg, u.sig, u.k
    sh = 63 + p.q - k  # |x| / 2**q = sig >> sh; sh < 0 means |x| / 2**q >= 2**64
    huge = sh < 0
    any_huge = bool(huge.any())
    exact_top = sh == 0
    if any_huge or exact_top.any():
        shp = np.maximum(sh, 1)
        i, f = _split(sig, shp)
        i = np.where(exact_top, sig, i)  # sh == 0: the integer is sig itself, nothing dropped
        f = np.where(exact_top | huge, _ZERO, f)
    else:
        smin, smax = int(sh.min()), int(sh.max())
        i, f = _split(sig, smin if smin == smax else sh)
    up = _round_up(mode, f, i & _ONE, neg, rand)
    m = i + up  # < 2**64: either nothing was dropped (sh == 0) or i < 2**63
    over = np.where(neg, m > p.neg_room, m > p.pos_room)
    if any_huge:
        over |= huge
    with np.errstate(over="ignore"):
        code = np.where(neg, p.zp_u - m, p.zp_u + m) & p.mask
    code = np.where(over, np.where(neg, p.min_code, p.max_code), code)
    flags: npt.NDArray[np.uint8] | None = None
    if want_flags:
        inexact = f != _ZERO
        flags = (inexact | over).astype(np.uint8)
        flags |= over.astype(np.uint8) * (_OVERFLOW | _SATURATED)
        under = inexact & ~over & (code == p.zp_code)
        flags |= under.astype(np.uint8) * _UNDERFLOW
    if u.zero is not None:
        code[u.zero] = p.zp_code
        if flags is not None:
            flags[u.zero] = 0
    invalid: Bool | None = None
    if u.special is not None:
        assert u.isnan is not None
        inf = u.special & ~u.isnan
        code[inf] = np.where(neg[inf], p.min_code, p.max_code)
        if flags is not None:
            flags[inf] = _INEXACT | _OVERFLOW | _SATURATED
        if u.isnan.any():
            invalid = u.isnan
            code[invalid] = 0
            if flags is not None:
                flags[invalid] = 0
    return code, invalid, flags


# --------------------------------------------------------------- table formats


@dataclass(frozen=True)
class _TablePlan:
    fmt: TableFormat
    q: int
    scale: Fraction
    vals: F64  # scaled values, exact
    mids: F64  # scaled midpoints of neighbours, exact
    gaps: F64  # vals[j+1] - vals[j], exact
    absvals: F64


@cache
def _table_plan(fmt: TableFormat, q: int) -> _TablePlan:
    s = Fraction(2) ** q
    vs = [v * s for v in fmt.values]
    mids = [(a + b) / 2 for a, b in zip(vs, vs[1:], strict=False)]
    gaps = [b - a for a, b in zip(vs, vs[1:], strict=False)]

    def exact(fr: list[Fraction], what: str) -> F64:
        try:
            out = np.array([float(v) for v in fr], dtype=np.float64)
        except OverflowError:
            out = np.array([np.inf])
        if any(Fraction(float(v)) != v for v in fr if abs(v) < 2**1024):
            out = np.array([np.inf])
        if not np.isfinite(out).all():
            raise UsageError(f"{fmt.name} {what} at scale 2**{q} do not fit float64 exactly")
        return out

    if any(b <= a for a, b in zip(vs, vs[1:], strict=False)):
        raise ValueError(f"{fmt.name}: table values must be strictly increasing")
    return _TablePlan(
        fmt=fmt,
        q=q,
        scale=s,
        vals=exact(vs, "values"),
        mids=exact(mids, "midpoints"),
        gaps=exact(gaps, "gaps"),
        absvals=np.abs(exact(vs, "values")),
    )


def _round_table_chunk(
    p: _TablePlan, x: F64, mode: str, rand: U64 | None, want_flags: bool
) -> tuple[U64, Bool | None, npt.NDArray[np.uint8] | None]:
    vals = p.vals
    n = vals.size
    isnan = np.isnan(x)
    xs = np.where(isnan, 0.0, x)
    hi = np.searchsorted(vals, xs, side="left")  # first value >= x
    above = hi == n
    hic = np.minimum(hi, n - 1)
    hit = vals[hic] == xs
    below = (hi == 0) & ~hit
    lo = np.maximum(hic - 1, 0)
    loc = np.minimum(lo, n - 2)
    mid = p.mids[loc]
    if mode in ("nearest-even", "nearest-away"):
        tie = xs == mid
        code = np.where(xs > mid, hic, lo)
        if mode == "nearest-even":
            tie_code = np.where(lo % 2 == 0, lo, hic)
        else:
            tie_code = np.where(p.absvals[hic] > p.absvals[lo], hic, lo)
        code = np.where(tie, tie_code, code)
    elif mode == "toward-zero":
        code = np.where(xs > 0, lo, hic)
    elif mode == "up":
        code = hic
    elif mode == "down":
        code = lo
    elif mode == "odd":
        code = np.where(lo % 2 == 1, lo, hic)
    elif mode == "stochastic":
        assert rand is not None
        code = _table_stochastic(p, xs, lo, hic, rand, ~(hit | above | below | isnan))
    else:
        raise ValueError(mode)
    code = np.where(hit, hic, code)
    code = np.where(above, n - 1, np.where(below, 0, code))
    code = np.where(isnan, 0, code)
    flags: npt.NDArray[np.uint8] | None = None
    if want_flags:
        out = above | below
        inexact = ~hit & ~isnan
        flags = inexact.astype(np.uint8)
        flags |= out.astype(np.uint8) * (_OVERFLOW | _SATURATED)
        flags |= (inexact & ~out & (vals[code] == 0)).astype(np.uint8) * _UNDERFLOW
    return code.astype(np.uint64), (isnan if isnan.any() else None), flags


def _table_stochastic(
    p: _TablePlan,
    xs: F64,
    lo: npt.NDArray[np.intp],
    hi: npt.NDArray[np.intp],
    rand: U64,
    between: Bool,
) -> npt.NDArray[np.intp]:
    """P(hi) = (x - vals[lo]) / (vals[hi] - vals[lo]), decided as ``rand < P * 2**64``.

    A float64 estimate decides every lane whose random word is clearly on one side (all
    but about 2**-45 of them); the rest go through the exact scalar path."""
    gap = p.gaps[np.minimum(lo, p.gaps.size - 1)]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        est = (xs - p.vals[lo]) / gap * 2.0**64  # relative error < 2**-50
    rf = rand.astype(np.float64)  # relative error <= 2**-53
    margin = np.maximum(est, rf) * 2.0**-45 + 2.0
    up = rf < est
    unsure = between & (np.abs(rf - est) <= margin)
    if unsure.any():
        for j in np.flatnonzero(unsure):
            v = Fraction(float(xs[j]))
            r = round_table(p.fmt, ExactValue.of(v), "stochastic", scale=p.scale, rand=int(rand[j]))
            up[j] = r.code == hi[j]
    return np.where(up, hi, lo)


# -------------------------------------------------------------------- decoding


def _check_fits(fmt: FloatFormat) -> None:
    if not fits_float64(fmt):
        lo = fmt.emin - fmt.mantissa_bits if fmt.has_subnormals else fmt.emin
        raise ValueError(
            f"{fmt.name} has values float64 cannot hold exactly (magnitudes "
            f"2**{lo} .. 2**{fmt.max_exponent + 1}, {fmt.mantissa_bits + 1} significant "
            "bits); decode it with the scalar path"
        )


def _decode_float_formula(fmt: FloatFormat, c: U64) -> F64:
    M = fmt.mantissa_bits
    e = ((c >> np.uint64(M)) & np.uint64(fmt.exp_all_ones)).astype(np.int64)
    m = c & np.uint64(fmt.mant_mask)
    if fmt.specials == "fnu":
        val = np.ldexp(1.0, e - fmt.bias)
    else:
        normal = e != 0
        sig = np.where(normal, m | np.uint64(1 << M), m).astype(np.float64)  # < 2**53: exact
        exp = np.where(normal, e - fmt.bias - M, fmt.emin - M)
        val = np.ldexp(sig, exp)
    if fmt.signed:
        neg = (c >> np.uint64(fmt.bits - 1)) != _ZERO
        val = np.where(neg, -val, val)
    else:
        neg = np.zeros(c.shape, np.bool_)
    ea, mm = fmt.exp_all_ones, fmt.mant_mask
    if fmt.specials == "ieee":
        top = e == ea
        val = np.where(top & (m == _ZERO), np.where(neg, -np.inf, np.inf), val)
        nan = top & (m != _ZERO)
    elif fmt.specials == "fn":
        nan = (e == ea) & (m == np.uint64(mm))
    elif fmt.specials == "fnuz":
        nan = c == np.uint64(fmt.nan_code())
    elif fmt.specials == "fnu":
        nan = e == ea
    else:
        nan = np.zeros(c.shape, np.bool_)
    return np.where(nan, np.where(neg, -np.nan, np.nan), val)


@cache
def _lut(fmt: Format) -> F64:
    """Every code's value (formats of 16 bits or fewer)."""
    codes = np.arange(1 << fmt.bits, dtype=np.uint64)
    if isinstance(fmt, FloatFormat):
        _check_fits(fmt)
        lut = _decode_float_formula(fmt, codes)
    elif isinstance(fmt, IntFormat):
        v = codes.astype(np.int64)
        if fmt.signed:
            v = np.where(v >= 1 << (fmt.bits - 1), v - (1 << fmt.bits), v)
        lut = v.astype(np.float64)
    else:
        lut = np.array([float(v) for v in fmt.values], dtype=np.float64)
        if any(Fraction(float(v)) != v for v in fmt.values):
            raise ValueError(f"{fmt.name} values do not fit float64 exactly")
    lut.setflags(write=False)
    return lut


def decode_array(fmt: Format, codes: npt.ArrayLike) -> F64:
    """The float64 value of every code (NaN codes give NaN with the code's sign).

    Exact: formats of 16 bits or fewer go through a lookup table; wider ones by bit
    manipulation (fp32 and fp64 by reinterpretation, tf32 shifted into fp32). Formats some
    of whose values are not float64 numbers raise ValueError, as do int64 / uint64 codes
    whose integers float64 cannot hold exactly.
    """
    a = np.asarray(codes)
    if a.dtype.kind not in "ui":
        raise TypeError(f"codes must be an integer array, not {a.dtype}")
    if a.size and (a.dtype.kind == "i" and int(a.min()) < 0):
        raise CodeRangeError(f"negative code in a {fmt.name} code array")
    c = a.astype(np.uint64)
    if fmt.bits < 64 and c.size and int(c.max()) >> fmt.bits:
        raise CodeRangeError(f"code {int(c.max()):#x} is wider than {fmt.name} ({fmt.bits} bits)")
    if fmt.bits <= 16:
        return _lut(fmt)[c.astype(np.intp)]
    with np.errstate(invalid="ignore"):  # signalling NaNs widen quietly
        return _decode_wide(fmt, c)


def _decode_wide(fmt: Format, c: U64) -> F64:
    if isinstance(fmt, FloatFormat):
        if _layout_equal(fmt, _IDENTITY_FORMATS["fp64"]):
            return c.view(np.float64).copy()
        if _layout_equal(fmt, _IDENTITY_FORMATS["fp32"]):
            return c.astype(np.uint32).view(np.float32).astype(np.float64)
        if (fmt.exponent_bits, fmt.bias, fmt.specials) == (
            8,
            127,
            "ieee",
        ) and fmt.mantissa_bits < 23:
            shift = np.uint64(23 - fmt.mantissa_bits)  # tf32 and kin: pad into fp32
            return (c << shift).astype(np.uint32).view(np.float32).astype(np.float64)
        _check_fits(fmt)
        return _decode_float_formula(fmt, c)
    if isinstance(fmt, IntFormat):
        if fmt.signed:
            v = (
                c.view(np.int64)
                if fmt.bits == 64
                else np.where(
                    c >= np.uint64(1 << (fmt.bits - 1)),
                    c.astype(np.int64) - (1 << fmt.bits),
                    c.astype(np.int64),
                )
            )
            out = v.astype(np.float64)
            mag = np.where(v < 0, (-(v + 1)).astype(np.uint64) + _ONE, v.astype(np.uint64))
        else:
            out = c.astype(np.float64)
            mag = c
        if fmt.bits > 53:
            big = mag > np.uint64(1 << 53)
            if big.any():
                fm = np.abs(out[big])
                ok = (fm < 2.0**64) & (
                    np.where(fm < 2.0**64, fm, 0.0).astype(np.uint64) == mag[big]
                )
                if not ok.all():
                    bad = int(c[big][~ok][0])
                    raise ValueError(
                        f"{fmt.name} code {bad:#x} is an integer float64 cannot hold exactly"
                    )
        return out
    raise ValueError(f"cannot decode {fmt.name}")


# -------------------------------------------------------------------- printing


_HEX_PAIRS = np.frombuffer(b"".join(b"%02x" % v for v in range(256)), dtype=np.uint16)
# (byte -> its two lowercase hex digits, as the uint16 whose memory holds them in order)


def hex_strings(codes: npt.ArrayLike, fmt: Format | int) -> bytes:
    """b"".join(b"0x%0*x\\n" % (width, c) for c in codes), built without a per-value loop.

    width is the format's hex digit count (ceil(bits / 4)), or fmt itself when an int.
    Codes wider than the format raise CodeRangeError.
    """
    width = fmt if isinstance(fmt, int) else fmt.hex_digits
    if not 1 <= width <= 16:
        raise ValueError(f"hex width must be 1..16, got {width}")
    a = np.asarray(codes)
    if a.dtype.kind not in "ui":
        raise TypeError(f"codes must be an integer array, not {a.dtype}")
    if a.size and a.dtype.kind == "i" and int(a.min()) < 0:
        raise CodeRangeError("negative code")
    flat = a.reshape(-1)
    n = flat.size
    if n and width < 16 and int(flat.max()) >> (4 * width):
        raise CodeRangeError(f"code {int(flat.max()):#x} is wider than {width} hex digits")
    nb = (width + 1) // 2  # bytes that hold the digits
    be = np.dtype(f">u{code_dtype(8 * nb).itemsize}")
    b = flat.astype(be).view(np.uint8).reshape(n, be.itemsize)[:, be.itemsize - nb :]
    pairs = _HEX_PAIRS[b]  # (n, nb), contiguous: 2 * nb digits per code
    # One record per line: "0x", the digits, a newline. With an odd width the first of the
    # 2 * nb digits is a '0' that lands on the 'x' slot, and 'x' is written after it.
    row = width + 3
    start = 2 if width % 2 == 0 else 1
    rec = np.dtype(
        {
            "names": ["d", "zero", "x", "nl"],
            "formats": [f"V{2 * nb}", "u1", "u1", "u1"],
            "offsets": [start, 0, 1, row - 1],
            "itemsize": row,
        }
    )
    out = np.empty(n, dtype=rec)
    out["d"] = pairs.view(f"V{2 * nb}").reshape(n)
    out["zero"] = ord("0")
    out["x"] = ord("x")
    out["nl"] = ord("\n")
    return out.tobytes()
