"""An independent, exact reference for binary float formats (test oracle).

Written from the format *definitions* (IEEE 754, OCP FP8 / MX, the FNUZ and E8M0 variants),
not from precli: nothing here imports ``precli``. Everything is ``int`` / ``Fraction``.

Small formats (<= 16 bits) are handled by brute force:

* :func:`walk_magnitudes` builds the magnitudes of the codes with the sign bit clear by
  *stepping up the grid* from zero (constant step through the subnormals and the first
  normal binade, then the step doubles at every binade boundary) -- a different method from
  the usual ``(1 + m / 2^M) * 2^(e - bias)`` formula, which :func:`decode_formula` also
  implements so the two can be checked against each other;
* :class:`Table` lists every finite magnitude with its code, plus one *virtual* grid point
  past ``max`` (the walk simply continues one step), which is all the overflow policy needs;
* :func:`ref_round` rounds an exact rational by bisecting that list for the two neighbours
  and choosing one by the rounding mode (ties-to-even = the neighbour whose *code* is even).

Large IEEE formats (fp32, tf32, fp64) cannot be enumerated: :func:`ref_round_ieee` finds the
two neighbours with integer floor arithmetic on the quantum of the binade and then uses the
same choice and overflow rules.

Overflow policy (the documented spec): a result above ``max`` on the unbounded grid is an
overflow. With ``saturate`` or for ``finite`` formats -> +-max; otherwise toward-zero, odd,
up-for-negatives and down-for-positives -> +-max; every other mode -> +-inf (ieee) or the
format's NaN (``fn`` keeps the sign, ``fnuz`` 0x80.., ``fnu`` all ones). Overflow is always
inexact.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

DETERMINISTIC_MODES = ("nearest-even", "nearest-away", "toward-zero", "up", "down", "odd")
ALL_MODES = (*DETERMINISTIC_MODES, "stochastic")

TWO = Fraction(2)


@dataclass(frozen=True)
class Spec:
    """E exponent bits, M mantissa bits, bias, specials scheme (see module docstring)."""

    E: int
    M: int
    bias: int
    specials: str  # "ieee" | "fn" | "finite" | "fnuz" | "fnu"

    @property
    def signed(self) -> bool:
        return self.specials != "fnu"

    @property
    def bits(self) -> int:
        return self.E + self.M + (1 if self.signed else 0)

    @property
    def sign_bit(self) -> int:
        return 1 << (self.E + self.M) if self.signed else 0

    @property
    def has_negative_zero(self) -> bool:
        return self.specials in ("ieee", "fn", "finite")

    @property
    def smallest_normal(self) -> Fraction:
        # E8M0: exponent field 0 is the normal 2^-bias; everyone else: field 1 is 2^(1-bias)
        return TWO ** (-self.bias) if self.specials == "fnu" else TWO ** (1 - self.bias)


# Published definitions, typed in by hand (independent of precli's registry).
SPECS: dict[str, Spec] = {
    "fp64": Spec(11, 52, 1023, "ieee"),
    "fp32": Spec(8, 23, 127, "ieee"),
    "tf32": Spec(8, 10, 127, "ieee"),
    "fp16": Spec(5, 10, 15, "ieee"),
    "bf16": Spec(8, 7, 127, "ieee"),
    "e5m2": Spec(5, 2, 15, "ieee"),
    "e4m3fn": Spec(4, 3, 7, "fn"),
    "e4m3": Spec(4, 3, 7, "ieee"),
    "e4m3fnuz": Spec(4, 3, 8, "fnuz"),
    "e5m2fnuz": Spec(5, 2, 16, "fnuz"),
    "e4m3b11fnuz": Spec(4, 3, 11, "fnuz"),
    "e3m4": Spec(3, 4, 3, "ieee"),
    "e3m2fn": Spec(3, 2, 3, "finite"),
    "e2m3fn": Spec(2, 3, 1, "finite"),
    "e2m1fn": Spec(2, 1, 1, "finite"),
    "e8m0fnu": Spec(8, 0, 127, "fnu"),
    # custom eXmY specs, from the documented custom-format rules: plain = IEEE-style with
    # bias 2^(E-1)-1; fn = no inf, NaN at all ones if >= 8 bits else no NaN at all;
    # fnuz = bias 2^(E-1), single NaN at 1.0..0, no -0.
    "e2m2": Spec(2, 2, 1, "ieee"),
    "e3m1": Spec(3, 1, 3, "ieee"),
    "e3m3fnuz": Spec(3, 3, 4, "fnuz"),
    "e2m5fnuz": Spec(2, 5, 2, "fnuz"),
    "e6m1fn": Spec(6, 1, 31, "fn"),
    "e7m0fn": Spec(7, 0, 63, "fn"),
    "e4m0fn": Spec(4, 0, 7, "finite"),
    "e4m2fn": Spec(4, 2, 7, "finite"),
    "e5m10": Spec(5, 10, 15, "ieee"),
    "e6m9": Spec(6, 9, 31, "ieee"),
}


# ----------------------------------------------------------------- decoding


@cache
def walk_magnitudes(spec: Spec) -> tuple[Fraction, ...]:
    """Magnitudes of the codes 0 .. 2^(E+M) (sign bit clear), one *past* the last code.

    Specials are ignored here (their slots get the value the grid would have there), which
    is exactly the unbounded grid the rounding rules refer to.
    """
    n = (1 << (spec.E + spec.M)) + 1
    out: list[Fraction] = []
    if spec.specials == "fnu":
        v = TWO ** (-spec.bias)
        for _ in range(n):
            out.append(v)
            v *= 2
        return tuple(out)
    per_binade = 1 << spec.M
    step = TWO ** (1 - spec.bias - spec.M)  # spacing of the subnormals and the first binade
    v = Fraction(0)
    for r in range(n):
        out.append(v)
        v += step
        if r + 1 >= 2 * per_binade and (r + 1) % per_binade == 0:
            step *= 2  # entering a new binade above the first normal one
    return tuple(out)


def classify(spec: Spec, code: int) -> tuple[str, bool, int]:
    """(kind in finite/inf/nan, negative, magnitude index r) of a code."""
    assert 0 <= code < 1 << spec.bits
    neg = bool(code & spec.sign_bit)
    r = code & ~spec.sign_bit if spec.signed else code
    ef, mf = r >> spec.M, r & ((1 << spec.M) - 1)
    top = (1 << spec.E) - 1
    kind = "finite"
    if spec.specials == "ieee" and ef == top:
        kind = "inf" if mf == 0 else "nan"
    elif spec.specials == "fn" and r == (1 << (spec.E + spec.M)) - 1:
        kind = "nan"
    elif spec.specials == "fnuz" and code == spec.sign_bit:
        kind = "nan"
    elif spec.specials == "fnu" and code == top:
        kind = "nan"
    return kind, neg, r


def decode(spec: Spec, code: int) -> tuple[str, bool, Fraction | None]:
    """(kind, negative, magnitude) of a code; magnitude None unless finite."""
    kind, neg, r = classify(spec, code)
    if kind != "finite":
        return kind, neg, None
    return kind, neg, walk_magnitudes(spec)[r]


def decode_formula(spec: Spec, code: int) -> Fraction:
    """Signed value of a finite code by the textbook formula (any width)."""
    neg = bool(code & spec.sign_bit)
    r = code & ~spec.sign_bit if spec.signed else code
    if spec.specials == "fnu":
        return TWO ** (r - spec.bias)
    ef, mf = r >> spec.M, r & ((1 << spec.M) - 1)
    if ef == 0:
        mag = Fraction(mf, 1 << spec.M) * TWO ** (1 - spec.bias)
    else:
        mag = (1 + Fraction(mf, 1 << spec.M)) * TWO ** (ef - spec.bias)
    return -mag if neg else mag


def canonical_nan(spec: Spec, negative: bool) -> int:
    """The NaN code the spec says a NaN input (or a non-saturating overflow) produces."""
    if spec.specials == "ieee":  # quiet NaN: exponent all ones, top mantissa bit
        code = (((1 << spec.E) - 1) << spec.M) | (1 << (spec.M - 1))
        return code | (spec.sign_bit if negative else 0)
    if spec.specials == "fn":
        return ((1 << (spec.E + spec.M)) - 1) | (spec.sign_bit if negative else 0)
    if spec.specials == "fnuz":
        return spec.sign_bit
    if spec.specials == "fnu":
        return (1 << spec.E) - 1
    raise ValueError("format has no NaN")


def inf_code(spec: Spec, negative: bool) -> int:
    assert spec.specials == "ieee"
    return (((1 << spec.E) - 1) << spec.M) | (spec.sign_bit if negative else 0)


# ------------------------------------------------------------------- tables


class Table:
    """Every finite magnitude of a small format, ascending, with its (sign-free) code."""

    def __init__(self, spec: Spec) -> None:
        assert spec.bits <= 16
        self.spec = spec
        walk = walk_magnitudes(spec)
        mags: list[Fraction] = []
        rs: list[int] = []
        for r in range(1 << (spec.E + spec.M)):
            kind, _, _ = classify(spec, r)
            if kind == "finite":
                mags.append(walk[r])
                rs.append(r)
        assert all(a < b for a, b in zip(mags, mags[1:], strict=False))
        self.mags = mags
        self.rs = rs
        self.max = mags[-1]
        self.max_r = rs[-1]
        # the unbounded grid continues one step past max (the walk did that for us)
        self.vnext = walk[self.max_r + 1]
        self.vnext_r = self.max_r + 1
        self.min_positive = mags[1] if mags[0] == 0 else mags[0]

    def code(self, r: int, negative: bool) -> int:
        if negative and self.spec.signed:
            if r == 0 and not self.spec.has_negative_zero:
                return 0  # fnuz: no -0
            return self.spec.sign_bit | r
        return r

    def neighbours(self, a: Fraction) -> tuple[int, int]:
        """Indices (i, j) into mags with mags[i] <= a <= mags[j], j - i <= 1 (a <= max)."""
        j = bisect.bisect_left(self.mags, a)
        if self.mags[j] == a:
            return j, j
        return j - 1, j

    def signed_values(self) -> list[tuple[Fraction, int]]:
        """(value, code) for every finite code including -0, ascending by value."""
        pos = [(m, self.code(r, False)) for m, r in zip(self.mags, self.rs, strict=True)]
        if not self.spec.signed:
            return pos
        neg = [(-m, self.code(r, True)) for m, r in zip(self.mags, self.rs, strict=True)
               if m != 0 or self.spec.has_negative_zero]
        # magnitudes ascend with the code, so negatives descend: -max ... -0, +0 ... max
        return neg[::-1] + pos


@cache
def table(name_or_spec: str | Spec) -> Table:
    spec = SPECS[name_or_spec] if isinstance(name_or_spec, str) else name_or_spec
    return Table(spec)


# ----------------------------------------------------------------- rounding


@dataclass(frozen=True)
class Ref:
    """What the oracle says: kind, code, signed value (finite only) and flags."""

    kind: str  # "finite" | "inf" | "nan" | "raises"
    code: int | None
    value: Fraction | None
    negative: bool
    flags: frozenset[str]


def _take_high(mode: str, negative: bool, a: Fraction, lo: Fraction, hi: Fraction,
               lo_r: int, hi_r: int, rand: int | None) -> bool:
    """Choose between the magnitude neighbours lo < a < hi: True = take hi."""
    if mode == "toward-zero":
        return False
    if mode == "up":
        return not negative
    if mode == "down":
        return negative
    if mode == "odd":
        assert (lo_r ^ hi_r) & 1  # adjacent grid points: exactly one code is odd
        return hi_r % 2 == 1
    if mode == "stochastic":
        assert rand is not None and 0 <= rand < 1 << 64
        # take hi with probability (a - lo) / (hi - lo): iff rand < that * 2^64
        return rand * (hi - lo) < (a - lo) * (1 << 64)
    below, above = a - lo, hi - a
    if below != above:
        return above < below
    if mode == "nearest-even":
        return hi_r % 2 == 0
    if mode == "nearest-away":
        return True
    raise ValueError(mode)


def _overflow(spec: Spec, mx: Fraction, max_code_pos: int, mode: str, negative: bool,
              saturate: bool, underflow: bool = False) -> Ref:
    flags = {"inexact", "overflow"}
    toward_zero = mode in ("toward-zero", "odd") or (mode == "up" and negative) or (
        mode == "down" and not negative
    )
    if saturate or spec.specials == "finite" or toward_zero:
        code = max_code_pos | (spec.sign_bit if negative else 0)
        return Ref("finite", code, -mx if negative else mx, negative,
                   frozenset(flags | {"saturated"}))
    if spec.specials == "ieee":
        return Ref("inf", inf_code(spec, negative), None, negative, frozenset(flags))
    return Ref("nan", canonical_nan(spec, negative), None, negative, frozenset(flags | {"nan"}))


def ref_special(spec: Spec, kind: str, negative: bool, saturate: bool = False) -> Ref:
    """NaN / inf inputs."""
    if kind == "nan":
        if spec.specials == "finite":
            return Ref("raises", None, None, negative, frozenset())
        return Ref("nan", canonical_nan(spec, negative), None, negative, frozenset())
    assert kind == "inf"
    if spec.specials == "ieee":
        return Ref("inf", inf_code(spec, negative), None, negative, frozenset())
    if spec.specials == "fnu" and negative:
        return Ref("nan", canonical_nan(spec, False), None, False, frozenset({"nan"}))
    if spec.specials == "finite" or saturate:
        t = table(spec)
        code = t.code(t.max_r, negative)
        return Ref("finite", code, -t.max if negative else t.max, negative,
                   frozenset({"inexact", "saturated"}))
    return Ref("nan", canonical_nan(spec, negative), None, negative, frozenset({"nan"}))


def ref_round(spec: Spec | str, x: Fraction, mode: str = "nearest-even", *,
              negative_zero: bool = False, saturate: bool = False,
              rand: int | None = None) -> Ref:
    """Round the exact rational x into a small format (<= 16 bits) by table search."""
    if isinstance(spec, str):
        spec = SPECS[spec]
    t = table(spec)
    negative = x < 0 or (x == 0 and negative_zero)
    a = abs(x)
    if spec.specials == "fnu" and (negative or a == 0):
        return Ref("nan", canonical_nan(spec, False), None, False, frozenset({"nan"}))
    if a > t.max:
        if a >= t.vnext:
            return _overflow(spec, t.max, t.max_r, mode, negative, saturate)
        high = _take_high(mode, negative, a, t.max, t.vnext, t.max_r, t.vnext_r, rand)
        if high:
            return _overflow(spec, t.max, t.max_r, mode, negative, saturate)
        return Ref("finite", t.code(t.max_r, negative), -t.max if negative else t.max,
                   negative, frozenset({"inexact"}))
    if spec.specials == "fnu" and a < t.mags[0]:
        # no zero and no subnormals: everything below 2^-bias clamps to code 0
        # ('saturated' is not part of the documented spec here; callers ignore it)
        return Ref("finite", 0, t.mags[0], False, frozenset({"inexact", "underflow"}))
    i, j = t.neighbours(a)
    if i == j:
        r = t.rs[i]
        mag = t.mags[i]
        flags: frozenset[str] = frozenset()
    else:
        hi = _take_high(mode, negative, a, t.mags[i], t.mags[j], t.rs[i], t.rs[j], rand)
        k = j if hi else i
        r, mag = t.rs[k], t.mags[k]
        fl = {"inexact"}
        if a < spec.smallest_normal:
            fl.add("underflow")
        flags = frozenset(fl)
    code = t.code(r, negative)
    return Ref("finite", code, -mag if negative else mag, negative, flags)


# ---------------------------------------------- large IEEE formats (fp32, tf32, fp64)


def ieee_max(E: int, M: int) -> Fraction:
    bias = (1 << (E - 1)) - 1
    return (2 - TWO ** (-M)) * TWO ** bias


def ref_round_ieee(E: int, M: int, x: Fraction, mode: str = "nearest-even", *,
                   negative_zero: bool = False, saturate: bool = False,
                   rand: int | None = None) -> Ref:
    """Round x into the IEEE-style format with E exponent and M mantissa bits.

    The neighbours come from integer floor arithmetic on the binade's quantum; the code is
    rebuilt from the integer significand. Returns code, signed value and flags.
    """
    bias = (1 << (E - 1)) - 1
    emin = 1 - bias
    spec = Spec(E, M, bias, "ieee")
    sign = spec.sign_bit
    negative = x < 0 or (x == 0 and negative_zero)
    a = abs(x)
    mx = ieee_max(E, M)
    max_code = (((1 << E) - 2) << M) | ((1 << M) - 1)
    if a == 0:
        return Ref("finite", sign if negative else 0, Fraction(0), negative, frozenset())
    # the binade: the largest e with 2^e <= a, found by exact comparison
    e = a.numerator.bit_length() - a.denominator.bit_length()
    while TWO ** e > a:
        e -= 1
    while TWO ** (e + 1) <= a:
        e += 1
    q = TWO ** (max(e, emin) - M)  # quantum of the binade (subnormals share emin's)
    n = a // q  # integer significand of the lower neighbour
    exact = n * q == a
    flags: set[str] = set()
    if not exact:
        flags.add("inexact")
        if a < TWO ** emin:
            flags.add("underflow")
        if _take_high(mode, negative, a, n * q, (n + 1) * q, n, n + 1, rand):
            n += 1
    mag = n * q
    if mag > mx:
        return _overflow(spec, mx, max_code, mode, negative, saturate)
    # encode: significand n in [2^M, 2^(M+1)] for normals (n == 2^(M+1) carries into the
    # next binade), n < 2^M for subnormals
    if n >= 1 << M or e >= emin:
        ee, nn = max(e, emin), n
        if nn == 1 << (M + 1):
            ee, nn = ee + 1, nn >> 1
        if nn < 1 << M:  # subnormal (e < emin case rounds to at most 2^M)
            code = nn
        else:
            code = ((ee + bias) << M) | (nn - (1 << M))
    else:
        code = n
    code |= sign if negative else 0
    assert abs(decode_formula(spec, code)) == mag, (x, code)
    return Ref("finite", code, -mag if negative else mag, negative, frozenset(flags))


def ieee_spec(E: int, M: int) -> Spec:
    return Spec(E, M, (1 << (E - 1)) - 1, "ieee")
