"""Exact numbers: parse decimal / hex-float text to exact rationals, print exact decimals.

Nothing here rounds through float64. Text is parsed to an :class:`ExactValue`; finite
values carry an exact :class:`fractions.Fraction` magnitude, except values whose decimal
exponent is so extreme that no format precli knows can distinguish them from
"astronomically large" or "astronomically small" (|log10| > ``EXTREME_LOG10``). Those are
marked ``huge`` / ``tiny`` and never materialised, so ``1e999999999`` costs nothing.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Literal, NamedTuple

from precli.errors import ValueParseError

#: Beyond 10**±EXTREME_LOG10 every format overflows / underflows: the largest custom
#: format (15 exponent bits) spans about 10**±4951.
EXTREME_LOG10 = 6000

_CHUNK = 4000  # stays under CPython's int <-> str digit limit (4300)
_CHUNK_POW = 10**_CHUNK

#: How much of a bad value an error message shows.
ECHO_CHARS = 60


def shown_text(text: str, length: int | None = None) -> str:
    """repr of text for a message: cut to ECHO_CHARS characters, with its length, when longer
    (``length``: the size in bytes of a value of which text is only the start)."""
    if length is None:
        if len(text) <= ECHO_CHARS:
            return repr(text)
        return f"{text[:ECHO_CHARS]!r}… ({len(text):,} characters)"
    return f"{text[:ECHO_CHARS]!r}… ({length:,} bytes)"


def escape_controls(text: str) -> str:
    """``text`` with every character that would act on a terminal or break a line instead
    of showing (C0 and C1 controls such as ESC, tab and newline, DEL, U+2028 / U+2029, the
    byte order mark, lone surrogates, U+FFFE / U+FFFF) written as ``\\xNN`` or ``\\uNNNN``;
    everything else, backslashes included, as is. For names in plain, table and csv output
    (json escapes by itself)."""
    if text.isascii() and text.isprintable():
        return text
    out = []
    for ch in text:
        o = ord(ch)
        if o < 0x20 or o == 0x7F or (0x80 <= o < 0xA0) or o in (0x2028, 0x2029, 0xFEFF) \
                or 0xD800 <= o < 0xE000 or o in (0xFFFE, 0xFFFF):
            out.append(f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}")
        else:
            out.append(ch)
    return "".join(out)


Kind = Literal["finite", "inf", "nan", "huge", "tiny"]


class ExactValue(NamedTuple):
    """A parsed input: sign plus an exact magnitude, or a special."""

    negative: bool
    kind: Kind
    magnitude: Fraction = Fraction(0)

    @property
    def is_finite(self) -> bool:
        return self.kind in ("finite", "huge", "tiny")

    @property
    def is_zero(self) -> bool:
        return self.kind == "finite" and self.magnitude == 0

    @property
    def value(self) -> Fraction:
        """The signed exact value (finite kinds only; huge/tiny are not materialised)."""
        if self.kind != "finite":
            raise ValueError(f"{self.kind} value has no exact rational")
        return -self.magnitude if self.negative else self.magnitude

    @classmethod
    def of(cls, x: Fraction | int, negative_zero: bool = False) -> ExactValue:
        x = Fraction(x)
        return cls(negative=x < 0 or (x == 0 and negative_zero), kind="finite", magnitude=abs(x))


INF = ExactValue(False, "inf")
NEG_INF = ExactValue(True, "inf")
NAN = ExactValue(False, "nan")


def int_from_digits(s: str, base: int = 10) -> int:
    """int(s, base) without CPython's 4300-digit limit."""
    if len(s) <= _CHUNK:
        return int(s, base)
    half = len(s) // 2  # halving keeps the recursion depth at log2(len / CHUNK)
    return int_from_digits(s[:-half], base) * int(base**half) + int_from_digits(s[-half:], base)


def int_to_str(n: int) -> str:
    """str(n) for non-negative n without CPython's 4300-digit limit."""
    if n < _CHUNK_POW:
        return str(n)
    q, r = divmod(n, _CHUNK_POW)
    return int_to_str(q) + str(r).zfill(_CHUNK)


_DEC = re.compile(r"([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?")
_HEX = re.compile(r"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?")
_SPECIAL = {
    "inf": "inf",
    "infinity": "inf",
    "nan": "nan",
}


def parse_number(text: str) -> ExactValue:
    """Parse decimal, hex-float (``0x1.8p+1``), inf or nan text exactly.

    Raises :class:`ValueParseError` with the offending text for anything else.
    """
    s = text.strip().replace("_", "")
    if not s:
        raise ValueParseError(f"empty value {shown_text(text)}")
    if not s.isascii():  # Arabic-Indic, full-width, ... digits: refused, not guessed at
        raise ValueParseError(f"not a number: {shown_text(text)} (numbers are written with "
                              "ASCII digits 0-9)")
    body = s.lstrip("+-")
    special = _SPECIAL.get(body.lower())
    if special is not None and len(s) - len(body) <= 1:
        negative = s.startswith("-")
        return ExactValue(negative, "inf" if special == "inf" else "nan")
    m = _HEX.fullmatch(s)
    if m:
        sign, ip, fp, ex = m.groups()
        fp = fp or ""
        if not ip and not fp:
            raise ValueParseError(f"not a number: {shown_text(text)}")
        mant = int_from_digits(ip + fp, 16) if ip + fp else 0
        return _scaled(text, sign == "-", mant, 2, ex, -4 * len(fp), digits_len=None)
    m = _DEC.fullmatch(s)
    if m:
        sign, ip, fp, ex = m.groups()
        fp = fp or ""
        if not ip and not fp:
            raise ValueParseError(f"not a number: {shown_text(text)}")
        digits = (ip + fp).lstrip("0")
        if len(digits) > 2 * EXTREME_LOG10:  # decide huge / tiny before building it:
            # the value lies in [10^e, 10^(e+1)) with e = ex + len(digits) - 1 - len(fp)
            band = _scaled(text, sign == "-", 1, 10, ex, len(digits) - 1 - len(fp), 1)
            if band.kind in ("huge", "tiny"):
                return band
        mant = int_from_digits(digits) if digits else 0
        return _scaled(text, sign == "-", mant, 10, ex, -len(fp), digits_len=len(digits))
    raise ValueParseError(f"not a number: {shown_text(text)}")


def _scaled(
    text: str,
    negative: bool,
    mant: int,
    base: int,
    ex: str | None,
    shift: int,
    digits_len: int | None,
) -> ExactValue:
    """mant * base**(ex + shift), classifying extreme exponents without building them."""
    if mant == 0:
        return ExactValue(negative, "finite", Fraction(0))
    ex_s = (ex or "0").lstrip("+")
    neg_ex = ex_s.startswith("-")
    if len(ex_s.lstrip("-").lstrip("0")) > 12:
        return ExactValue(negative, "tiny" if neg_ex else "huge")
    e = int(ex_s) + shift
    # log_base(|x|) lies in [e + ndigits - 1, e + ndigits)
    nd = digits_len if digits_len is not None else len(format(mant, "x"))
    log10_hi = (e + nd) if base == 10 else (4 * nd + e) * 0.30103 + 1
    log10_lo = (e + nd - 1) if base == 10 else (4 * (nd - 1) + e) * 0.30103 - 1
    if log10_lo > EXTREME_LOG10:
        return ExactValue(negative, "huge")
    if log10_hi < -EXTREME_LOG10:
        return ExactValue(negative, "tiny")
    mag = Fraction(mant) * Fraction(base) ** e
    return ExactValue(negative, "finite", mag)


# ---------------------------------------------------------------- printing


def floor_log2(x: Fraction) -> int:
    """floor(log2(x)) for x > 0, exactly."""
    n, d = x.numerator, x.denominator
    k = n.bit_length() - d.bit_length()
    # 2**k <= x  <=>  n >= d * 2**k
    if (n << -k if k < 0 else n) < (d << k if k > 0 else d):
        k -= 1
    return k


def floor_log10(x: Fraction) -> int:
    """floor(log10(x)) for x > 0, exactly."""
    n, d = x.numerator, x.denominator
    t = int((n.bit_length() - d.bit_length()) * 0.30102999566398120)
    while _pow10(t) > x:
        t -= 1
    while _pow10(t + 1) <= x:
        t += 1
    return t


def _pow10(t: int) -> Fraction:
    return Fraction(10**t) if t >= 0 else Fraction(1, 10**-t)


def decimal_places(d: int) -> int:
    """The number of decimal places of 1/d for d = 2^a 5^b (ValueError for any other d)."""
    a = b = 0
    while d % 2 == 0:
        d //= 2
        a += 1
    while d % 5 == 0:
        d //= 5
        b += 1
    if d != 1:
        raise ValueError("no terminating decimal expansion")
    return max(a, b)


def exact_decimal(x: Fraction) -> str:
    """The exact terminating decimal expansion of x (denominator 2^a 5^b): '0.0999755859375'."""
    negative = x < 0
    x = abs(x)
    try:
        places = decimal_places(x.denominator)
    except ValueError:
        raise ValueError(f"{x} has no terminating decimal expansion") from None
    scaled = x.numerator * (10**places // x.denominator)
    s = int_to_str(scaled)
    if places:
        s = s.zfill(places + 1)
        s = s[:-places] + "." + s[-places:]
    return ("-" if negative else "") + s


def format_decimal(negative: bool, digits: int, exp10: int) -> str:
    """Render digits * 10**exp10 Python-repr style: positional for 1e-4 <= |x| < 1e16."""
    if digits == 0:
        return "-0" if negative else "0"
    ds = int_to_str(digits).rstrip("0")
    exp10 += len(int_to_str(digits)) - len(ds)
    point = len(ds) + exp10  # position of the decimal point from the left of ds
    sci_exp = point - 1
    sign = "-" if negative else ""
    if -4 <= sci_exp < 16:
        if exp10 >= 0:
            return sign + ds + "0" * exp10
        if point > 0:
            return sign + ds[:point] + "." + ds[point:]
        return sign + "0." + "0" * (-point) + ds
    mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
    return f"{sign}{mant}e{'-' if sci_exp < 0 else '+'}{abs(sci_exp):02d}"


def shortest_in_interval(
    v: Fraction, lo: Fraction, hi: Fraction, lo_incl: bool, hi_incl: bool
) -> tuple[int, int]:
    """The shortest decimal digits*10**exp in the interval around v > 0, closest to v.

    Among decimals with the fewest significant digits that lie in the interval, the one
    nearest v wins (ties to the even last digit). Returns (digits, exp10). Integer
    arithmetic throughout: everything is scaled to a common denominator first.
    """
    from math import lcm

    den = lcm(v.denominator, lo.denominator, hi.denominator)
    V = v.numerator * (den // v.denominator)
    L = lo.numerator * (den // lo.denominator)
    H = hi.numerator * (den // hi.denominator)
    top = floor_log10(v)
    p = 1
    while True:
        k = top - p + 1
        scale = 10**-k if k < 0 else 1  # multiply V, L, H by this ...
        unit = den * 10**k if k >= 0 else den  # ... and a candidate c stands for c * unit
        vs, ls, hs = V * scale, L * scale, H * scale
        f = vs // unit
        best: tuple[int, int, int] | None = None
        for c in (f, f + 1):
            if c <= 0:
                continue
            x = c * unit
            if (ls < x or (lo_incl and ls == x)) and (x < hs or (hi_incl and x == hs)):
                key = (abs(x - vs), c % 2, c)
                if best is None or key < best:
                    best = key
        if best is not None:
            return best[2], k
        p += 1


def exact_of_float(v: float) -> ExactValue:
    """The exact value of a binary float (for binary / .npy input)."""
    if v != v:
        return ExactValue(str(v).startswith("-") or _signbit(v), "nan")
    if v in (float("inf"), float("-inf")):
        return ExactValue(v < 0, "inf")
    return ExactValue(_signbit(v), "finite", abs(Fraction(v)))


def _signbit(v: float) -> bool:
    import math

    return math.copysign(1.0, v) < 0
