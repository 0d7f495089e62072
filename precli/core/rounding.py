"""The exact scalar path: round an exact value into a format, and walk a format's codes.

Every function takes the format first, never prints, and uses only ``Fraction`` / ``int``.
This path is the reference the vectorized numpy path (``codec``) is tested against.

Rounding is done on the format's *unbounded* grid (the exponent range extended upward,
subnormals kept at the bottom); a result above ``max`` is an overflow, handled by the
format's overflow policy (see :func:`round_float`).
"""

from __future__ import annotations

import os
from fractions import Fraction
from functools import cache
from typing import NamedTuple

from precli.core.exact import (
    EXTREME_LOG10,
    ExactValue,
    exact_decimal,
    floor_log2,
    format_decimal,
    shortest_in_interval,
)
from precli.core.formats import (
    FloatFormat,
    Format,
    IntFormat,
    TableFormat,
    float64_exact,
)
from precli.errors import NotRepresentableError, UsageError, arg

ROUND_MODES: tuple[str, ...] = (
    "nearest-even",
    "nearest-away",
    "toward-zero",
    "up",
    "down",
    "odd",
    "stochastic",
)
ROUND_ALIASES: dict[str, str] = {
    "rne": "nearest-even",
    "rna": "nearest-away",
    "rz": "toward-zero",
    "rtz": "toward-zero",
    "ru": "up",
    "rd": "down",
    "ro": "odd",
    "sr": "stochastic",
}

#: The one message for a scale or zero point given with a float format.
SCALE_ONLY = (f"{arg('scale')} / {arg('zero_point')} apply to integer formats and nf4 "
              "only")

FLAG_ORDER = ("inexact", "overflow", "underflow", "saturated", "nan")


def resolve_round_mode(name: str) -> str:
    key = name.strip().lower().replace("_", "-")
    key = ROUND_ALIASES.get(key, key)
    if key not in ROUND_MODES:
        choices = ", ".join(ROUND_MODES + tuple(ROUND_ALIASES))
        raise UsageError(f"unknown rounding mode {name!r}; choose one of {choices}")
    return key


# ------------------------------------------------------------- stochastic bits

_M64 = (1 << 64) - 1


def splitmix64(x: int) -> int:
    """One SplitMix64 output for state x: the per-value random source for stochastic rounding.

    Value number i of a run with seed s draws splitmix64(splitmix64(s) + i): the scalar and
    the vectorized paths draw the same bits for the same value, and nearby seeds give
    unrelated streams (seed s + 1 is not seed s shifted by one value).
    """
    z = (x + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def stochastic_bits(seed: int | None, index: int) -> int:
    if seed is None:
        return int.from_bytes(os.urandom(8), "little")
    return splitmix64((splitmix64(seed & _M64) + index) & _M64)


# ------------------------------------------------------------------ results


class Rounded(NamedTuple):
    """What rounding produced: the code, the stored value and the IEEE-style flags."""

    code: int
    stored: ExactValue
    flags: tuple[str, ...] = ()


def _flags(*names: str) -> tuple[str, ...]:
    return tuple(f for f in FLAG_ORDER if f in names)


@cache
def _proxy(kind: str) -> Fraction:
    """A stand-in for an unmaterialised huge/tiny magnitude: beyond every threshold."""
    big = Fraction(10) ** (EXTREME_LOG10 + 30)
    return big if kind == "huge" else 1 / big


def _magnitude(x: ExactValue) -> Fraction:
    return _proxy(x.kind) if x.kind in ("huge", "tiny") else x.magnitude


def _round_up(mode: str, negative: bool, rem2_cmp: int, low_odd: bool, rem: int, den: int,
              rand: int | None) -> bool:
    """Whether to take the larger-magnitude neighbour. rem/den in (0, 1) is the fraction
    past the lower one; rem2_cmp is sign(2*rem - den)."""
    if mode == "nearest-even":
        return rem2_cmp > 0 or (rem2_cmp == 0 and low_odd)
    if mode == "nearest-away":
        return rem2_cmp >= 0
    if mode == "toward-zero":
        return False
    if mode == "up":
        return not negative
    if mode == "down":
        return negative
    if mode == "odd":
        return not low_odd
    if mode == "stochastic":
        r = rand if rand is not None else int.from_bytes(os.urandom(8), 'little')
        return r * den < rem << 64
    raise ValueError(mode)


def _int_round(t: Fraction, mode: str, rand: int | None) -> tuple[int, bool]:
    """Round t to an integer by mode: (integer, inexact)."""
    negative = t < 0
    a = -t if negative else t
    i, rem = divmod(a.numerator, a.denominator)
    if rem == 0:
        return (-i if negative else i), False
    cmp = (2 * rem > a.denominator) - (2 * rem < a.denominator)
    if _round_up(mode, negative, cmp, bool(i & 1), rem, a.denominator, rand):
        i += 1
    return (-i if negative else i), True


# -------------------------------------------------------------- float formats


def encode_magnitude(fmt: FloatFormat, mag: Fraction, negative: bool) -> int:
    """Code of an exactly representable magnitude (the inverse of code_magnitude)."""
    sign = fmt.sign_mask if negative else 0
    if mag == 0:
        return 0 if fmt.specials == "fnuz" else sign
    k = floor_log2(mag)
    M = fmt.mantissa_bits
    if fmt.specials == "fnu":
        return k + fmt.bias
    if k < fmt.emin:
        m = mag / Fraction(2) ** (fmt.emin - M)
        e = 0
    else:
        m = mag / Fraction(2) ** (k - M) - (1 << M)
        e = k + fmt.bias
    assert m.denominator == 1, (fmt.name, mag)
    return sign | (e << M) | int(m)


def _stored(fmt: FloatFormat, code: int) -> ExactValue:
    if fmt.is_nan(code):
        return ExactValue(bool(fmt.fields(code)[0]), "nan")
    if fmt.is_inf(code):
        return ExactValue(bool(fmt.fields(code)[0]), "inf")
    s = fmt.fields(code)[0]
    return ExactValue(bool(s), "finite", fmt.code_magnitude(code))


def round_float(
    fmt: FloatFormat,
    x: ExactValue,
    mode: str = "nearest-even",
    *,
    saturate: bool = False,
    rand: int | None = None,
) -> Rounded:
    """Round x into a float format, correctly and once.

    Overflow (a rounded magnitude above max): with ``saturate``, or for formats with no
    inf and no NaN, the result is +-max. Otherwise toward-zero, odd, and the directed mode
    pointing back toward zero give +-max (as IEEE 754 says); the rest give inf where the
    format has it and NaN where it does not (OCP / ml_dtypes non-saturating conversion).
    """
    neg = x.negative
    if x.kind == "nan":
        if not fmt.has_nan:
            raise NotRepresentableError(f"{fmt.name} has no NaN: cannot encode nan")
        code = fmt.nan_code(neg)
        return Rounded(code, _stored(fmt, code))
    if fmt.specials == "fnu" and (neg or x.is_zero):
        # unsigned and no zero: like ml_dtypes, zero and negatives become the NaN
        code = fmt.nan_code()
        return Rounded(code, _stored(fmt, code), _flags("nan"))
    if x.kind == "inf":
        if fmt.has_inf:
            code = fmt.inf_code(neg)
            return Rounded(code, _stored(fmt, code))
        if saturate or fmt.specials == "finite":
            code = encode_magnitude(fmt, fmt.max, neg)
            return Rounded(code, _stored(fmt, code), _flags("inexact", "saturated"))
        code = fmt.nan_code(neg)
        return Rounded(code, _stored(fmt, code), _flags("nan"))
    if x.is_zero:
        code = encode_magnitude(fmt, Fraction(0), neg)
        return Rounded(code, _stored(fmt, code))

    a = _magnitude(x)
    M = fmt.mantissa_bits
    k = floor_log2(a)
    e = k if fmt.specials == "fnu" else max(k, fmt.emin)
    q = e - M
    n, d = a.numerator, a.denominator
    if q >= 0:
        d <<= q
    else:
        n <<= -q
    i, rem = divmod(n, d)
    inexact = rem != 0
    if inexact:
        if M > 0:
            low_odd = bool(i & 1)
        else:  # exponent-only grid: parity of the low candidate's exponent field
            low_odd = bool((e + fmt.bias) & 1) if i else False
        cmp = (2 * rem > d) - (2 * rem < d)
        if _round_up(mode, neg, cmp, low_odd, rem, d, rand):
            i += 1
    mag = Fraction(i) * Fraction(2) ** q

    flags = ["inexact"] if inexact else []
    if inexact and a < fmt.smallest_normal:
        flags.append("underflow")
    if mag > fmt.max:
        if not inexact:  # on the grid extended upward, but not a value of this format
            flags.insert(0, "inexact")
        flags.append("overflow")
        toward_zero = mode in ("toward-zero", "odd") or (mode == "up" and neg) or (
            mode == "down" and not neg
        )
        if saturate or fmt.specials == "finite" or toward_zero:
            mag = fmt.max
            flags.append("saturated")
        elif fmt.has_inf:
            code = fmt.inf_code(neg)
            return Rounded(code, _stored(fmt, code), _flags(*flags))
        else:
            code = fmt.nan_code(neg)
            flags.append("nan")
            return Rounded(code, _stored(fmt, code), _flags(*flags))
    if fmt.specials == "fnu" and mag < fmt.smallest_normal:
        mag = fmt.smallest_normal  # no zero: the smallest scale is the nearest value left
        flags += ["inexact", "underflow", "saturated"]
    code = encode_magnitude(fmt, mag, neg)
    return Rounded(code, _stored(fmt, code), _flags(*flags))


def float_neighbours(fmt: FloatFormat, code: int) -> tuple[int | None, int | None]:
    """(previous, next) codes toward -inf and +inf; None where there is no such value."""
    if fmt.is_nan(code):
        return None, None
    sign = fmt.sign_mask
    neg = bool(code & sign) if fmt.signed else False
    mag = code & ~sign if fmt.signed else code

    def up(c: int) -> int | None:
        if c == fmt.max_code:
            return fmt.exp_all_ones << fmt.mantissa_bits if fmt.has_inf else None
        return c + 1

    if fmt.is_inf(code):
        return (fmt.max_code, None) if not neg else (None, sign | fmt.max_code)
    if not fmt.signed:
        return (mag - 1 if mag > 0 else None), up(mag)
    if mag == 0:
        return sign | 1, 1
    u = up(mag)
    down = mag - 1
    if down == 0:  # the next value toward zero is zero: -0 where the format has it
        down_code = sign if neg and fmt.has_negative_zero else 0
    else:
        down_code = down | (sign if neg else 0)
    up_code = None if u is None else u | (sign if neg else 0)
    return (up_code, down_code) if neg else (down_code, up_code)


def float_ulp(fmt: FloatFormat, mag: Fraction) -> Fraction:
    """The spacing of the grid at a finite magnitude (the quantum of its binade)."""
    if mag == 0:
        return fmt.smallest_positive
    k = floor_log2(mag)
    e = k if fmt.specials == "fnu" else max(k, fmt.emin)
    return Fraction(2) ** (e - fmt.mantissa_bits)


# --------------------------------------------------------- integer / table


def round_int(
    fmt: IntFormat,
    x: ExactValue,
    mode: str = "nearest-even",
    *,
    scale: Fraction = Fraction(1),
    zero_point: int = 0,
    rand: int | None = None,
) -> Rounded:
    """Affine quantization q = clamp(round(x / scale) + zero_point); stored = (q - zp) * scale.

    Integers always saturate (flags overflow, saturated)."""
    if x.kind == "nan":
        raise NotRepresentableError(f"{fmt.name} has no NaN: cannot encode nan")
    flags: list[str] = []
    if x.kind == "inf":
        q = fmt.max_int if not x.negative else fmt.min_int
        flags += ["inexact", "overflow", "saturated"]
    else:
        mag = _magnitude(x)
        t = (-mag if x.negative else mag) / scale
        r, inexact = _int_round(t, mode, rand)
        if inexact:
            flags.append("inexact")
        q = r + zero_point
        clamped = q > fmt.max_int or q < fmt.min_int
        if clamped:
            q = min(max(q, fmt.min_int), fmt.max_int)
            flags += ["inexact", "overflow", "saturated"]
        if inexact and not clamped and q == zero_point and mag != 0:
            flags.append("underflow")
    stored = ExactValue.of((q - zero_point) * scale)
    return Rounded(fmt.code_of(q), stored, _flags(*flags))


def round_table(
    fmt: TableFormat,
    x: ExactValue,
    mode: str = "nearest-even",
    *,
    scale: Fraction = Fraction(1),
    rand: int | None = None,
) -> Rounded:
    """Pick a code of a lookup-table format for x / scale (saturating at the table ends)."""
    if x.kind == "nan":
        raise NotRepresentableError(f"{fmt.name} has no NaN: cannot encode nan")
    vals = fmt.values
    if x.kind == "inf":
        code = len(vals) - 1 if not x.negative else 0
        return Rounded(code, ExactValue.of(vals[code] * scale), _flags("inexact", "overflow",
                                                                        "saturated"))
    mag = _magnitude(x)
    t = (-mag if x.negative else mag) / scale
    if t > vals[-1] or t < vals[0]:
        code = len(vals) - 1 if t > 0 else 0
        return Rounded(code, ExactValue.of(vals[code] * scale),
                       _flags("inexact", "overflow", "saturated"))
    hi = next(i for i, v in enumerate(vals) if v >= t)
    if vals[hi] == t:
        return Rounded(hi, ExactValue.of(vals[hi] * scale, negative_zero=x.negative))
    lo = hi - 1
    gap = vals[hi] - vals[lo]
    past = t - vals[lo]  # in (0, gap)
    toward_zero_code = lo if t > 0 else hi
    if mode in ("nearest-even", "nearest-away"):
        if 2 * past != gap:
            code = hi if 2 * past > gap else lo
        elif mode == "nearest-even":
            code = lo if lo % 2 == 0 else hi
        else:
            code = hi if abs(vals[hi]) > abs(vals[lo]) else lo
    elif mode == "toward-zero":
        code = toward_zero_code
    elif mode == "up":
        code = hi
    elif mode == "down":
        code = lo
    elif mode == "odd":
        code = lo if lo % 2 == 1 else hi
    else:  # stochastic: P(hi) = past / gap
        r = rand if rand is not None else int.from_bytes(os.urandom(8), 'little')
        frac = past / gap
        code = hi if r * frac.denominator < frac.numerator << 64 else lo
    flags = ["inexact"]
    if vals[code] == 0:
        flags.append("underflow")
    return Rounded(code, ExactValue.of(vals[code] * scale, negative_zero=x.negative),
                   _flags(*flags))


def round_value(
    fmt: Format,
    x: ExactValue,
    mode: str = "nearest-even",
    *,
    saturate: bool = False,
    scale: Fraction | None = None,
    zero_point: int | None = None,
    rand: int | None = None,
) -> Rounded:
    """Round x into any format (dispatch on its kind)."""
    if isinstance(fmt, FloatFormat):
        if scale is not None or zero_point is not None:
            raise UsageError(SCALE_ONLY)
        return round_float(fmt, x, mode, saturate=saturate, rand=rand)
    if isinstance(fmt, IntFormat):
        if zero_point is not None and not fmt.min_int <= zero_point <= fmt.max_int:
            raise UsageError(f"{arg('zero_point')} {zero_point} is outside {fmt.name}'s range "
                             f"[{fmt.min_int}, {fmt.max_int}]")
        return round_int(fmt, x, mode, scale=scale or Fraction(1), zero_point=zero_point or 0,
                         rand=rand)
    if zero_point is not None:
        raise UsageError(f"{arg('zero_point')} does not apply to {fmt.name}")
    return round_table(fmt, x, mode, scale=scale or Fraction(1), rand=rand)


# -------------------------------------------------------- shortest decimals


def _fits_integer_rule(v: Fraction) -> bool:
    return v.denominator == 1 and abs(v.numerator) < 10**16


def shortest_float(fmt: FloatFormat, code: int) -> str:
    """The shortest decimal that rounds (nearest-even) back to this code.

    Integers below 1e16 print in full (65504, not 65500): they round-trip too, and a
    shortened integer reads like a different number."""
    if fmt.is_nan(code):
        return "nan"
    if fmt.is_inf(code):
        return "-inf" if fmt.fields(code)[0] else "inf"
    neg = bool(fmt.fields(code)[0])
    mag_code = code & ~fmt.sign_mask if fmt.signed else code
    if float64_exact(fmt):
        text = _shortest_float64(fmt, mag_code, neg)
        if text is not None:
            return text
    v = fmt.code_magnitude(mag_code)
    if v == 0:
        return "-0" if neg else "0"
    if _fits_integer_rule(v):
        return ("-" if neg else "") + str(v.numerator)
    lo = fmt.code_magnitude(mag_code - 1) if mag_code > 0 else v / 2  # E8M0: virtual
    if mag_code < fmt.max_code:
        hi = fmt.code_magnitude(mag_code + 1)
    else:
        hi = v + float_ulp(fmt, v)  # the virtual grid point past max
    even = mag_code % 2 == 0
    found = shortest_in_interval(v, (lo + v) / 2, (v + hi) / 2, even, even)
    return format_decimal(neg, *found)


def magnitude_float(fmt: FloatFormat, mag_code: int) -> float:
    """code_magnitude as a float64 (exact where _float64_exact)."""
    import math

    _, e, m = fmt.fields(mag_code)
    mb = fmt.mantissa_bits
    if fmt.specials == "fnu":
        return math.ldexp(1.0, e - fmt.bias)
    if e == 0:
        return math.ldexp(m, 1 - fmt.bias - mb)
    return math.ldexp((1 << mb) + m, e - fmt.bias - mb)


def _shortest_float64(fmt: FloatFormat, mag_code: int, neg: bool) -> str | None:
    """shortest_float in float64 arithmetic, for formats whose values and midpoints are
    float64 numbers (no Fractions); None where the float path does not decide."""
    import math

    v = magnitude_float(fmt, mag_code)
    if v == 0:
        return "-0" if neg else "0"
    if v.is_integer() and v < 1e16:
        return ("-" if neg else "") + str(int(v))
    lo = magnitude_float(fmt, mag_code - 1) if mag_code > 0 else v / 2  # E8M0: virtual
    if mag_code < fmt.max_code:
        hi = magnitude_float(fmt, mag_code + 1)
    else:  # the virtual grid point past max
        k = math.frexp(v)[1] - 1
        e = k if fmt.specials == "fnu" else max(k, fmt.emin)
        hi = v + math.ldexp(1.0, e - fmt.mantissa_bits)
    even = mag_code % 2 == 0
    found = _shortest_by_float(v, (lo + v) / 2, (v + hi) / 2, even)
    return None if found is None else format_decimal(neg, *found)


def _shortest_by_float(fv: float, flo: float, fhi: float, incl: bool,
                       ) -> tuple[int, int] | None:
    """shortest_in_interval for a value and interval ends that are float64 numbers, with
    Python's correctly rounded float formatting and parsing instead of big integers.

    At each digit count p the candidates are the two p-digit decimals around v, as in
    shortest_in_interval: the nearest ('%.{p-1}e' rounds correctly, ties to even) and the
    one on v's other side. A candidate is inside the interval when its float64 rounding is
    strictly inside (rounding is monotonic and the ends are float64 numbers); a rounding
    that lands on an end is settled with Fractions. None when v's decade is not certain
    from its digits (the caller then takes the integer path)."""
    head = f"{fv:.20e}"
    if head.startswith(("9.99999999", "1.00000000")):
        return None
    top = int(head[23:])
    for p in range(1, 18):
        k = top - p + 1
        s = f"{fv:.{p - 1}e}"
        mant, _, ex = s.partition("e")
        d = int(mant.replace(".", ""))
        if int(ex) != top:  # rounded up into the next decade: 10^(p-1) at scale 10^(k+1)
            d *= 10
        c = float(s)
        best = d if _inside(d, k, c, flo, fhi, incl) else None
        if best is None and c != fv:
            other = d + 1 if c < fv else d - 1
            if other > 0 and _inside(other, k, float(f"{other}e{k}"), flo, fhi, incl):
                best = other
        if best is not None:
            return best, k
    return None


def _inside(d: int, k: int, c: float, flo: float, fhi: float, incl: bool) -> bool:
    if flo < c < fhi:
        return True
    if c < flo or c > fhi:
        return False
    x = Fraction(d) * Fraction(10) ** k
    lo, hi = Fraction(flo), Fraction(fhi)
    return (lo < x or (incl and lo == x)) and (x < hi or (incl and x == hi))


_FP32 = FloatFormat("fp32", 8, 23, 127, "ieee")


def shortest_table(fmt: TableFormat, code: int, scale: Fraction = Fraction(1)) -> str:
    """A table value as text: the shortest decimal that round-trips through float32 (NF4's
    values are float32 numbers), or the exact decimal when scaling made it no float32.

    (The shortest decimal that merely *selects* the code would be misleading: NF4's gaps
    are wide, so 0.3 selects the code whose value is 0.3379...)"""
    v = fmt.values[code] * scale
    if v == 0:
        return "0"
    r = round_float(_FP32, ExactValue.of(v))
    if "inexact" in r.flags:
        return exact_decimal(v)
    return shortest_float(_FP32, r.code)
