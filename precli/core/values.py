"""Results as plain data: what a code means, what encoding a value did, what a format is.

Builds result objects from the exact core (formats, exact, rounding); never prints.
Every number here is exact (Fraction / int) until a writer turns it into text.
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache
from typing import Any, NamedTuple

from precli.core.exact import (
    ECHO_CHARS,
    ExactValue,
    decimal_places,
    exact_decimal,
    floor_log2,
    parse_number,
    shown_text,
)
from precli.core.formats import FloatFormat, Format, IntFormat, TableFormat, float64_exact
from precli.core.rounding import (
    SCALE_ONLY,
    float_neighbours,
    magnitude_float,
    round_value,
    shortest_float,
    shortest_table,
    stochastic_bits,
)
from precli.errors import CodeRangeError, UsageError, ValueParseError, arg
from precli.record import Record

# ------------------------------------------------------------ exact helpers


def pow2_text(x: Fraction) -> str | None:
    """'2^-24' when x is a power of two, else None."""
    if x <= 0 or x.numerator & (x.numerator - 1) or x.denominator & (x.denominator - 1):
        return None
    return f"2^{floor_log2(x)}"


def exact_text(x: Fraction | None) -> str | None:
    """The exact decimal expansion (the documented form of every *_exact string)."""
    return None if x is None else exact_decimal(x)


def to_float(x: Fraction | None) -> float | None:
    """Nearest float64 (correctly rounded); None when undefined or beyond float64's range."""
    if x is None:
        return None
    try:
        return float(x)
    except OverflowError:
        return None


def value_text(v: ExactValue) -> str:
    if v.kind == "nan":
        return "nan"
    if v.kind == "inf":
        return "-inf" if v.negative else "inf"
    if v.is_zero:
        return "-0" if v.negative else "0"
    return exact_decimal(v.value)


def _scaled_shortest(v: Fraction) -> str:
    """Shortest text for a dequantized value (exact: scale * integer)."""
    from precli.core.exact import format_decimal

    if v == 0:
        return "0"
    s = exact_decimal(abs(v))
    digits = s.replace(".", "").lstrip("0")
    if "." in s:
        exp = -(len(s) - s.index(".") - 1)
    else:
        exp = 0
    return format_decimal(v < 0, int(digits), exp)


#: A value prints exactly when its exact decimal has at most this many significant digits.
VALUE_DIGITS = 17


def plain_value(v: Fraction, negative_zero: bool = False,
                fallback: Any = None) -> str:
    """The value text people and pipes see (docs/encode-decode.md#values-and-flags): the
    exact decimal when it has
    at most 17 significant digits (every value of every format of 16 bits or fewer), else
    the shortest text that reads back as the same float64 (Python's repr of the nearest
    float64, which is the value itself for every format up to fp64). ``fallback()`` gives
    the text instead when the value is beyond float64's range or finer than float64.

    Numbers print Python-style: positional for 1e-4 <= |v| < 1e16, else d.ddde±XX."""
    from precli.core.exact import format_decimal, int_to_str

    if v == 0:
        return "-0" if negative_zero else "0"
    neg = v < 0
    a = -v if neg else v
    n, d = a.numerator, a.denominator
    k = d.bit_length() - 1
    if d == 1 << k:  # dyadic (every binary format): n / 2^k = n * 5^k / 10^k
        digits, exp = n * 5**k, -k
    else:  # scaled integer / table values: d = 2^a 5^b
        digits, exp = n * (10**decimal_places(d) // d), -decimal_places(d)
    text = int_to_str(digits) if digits >= 10**VALUE_DIGITS else str(digits)
    sig = len(text.rstrip("0"))
    if sig <= VALUE_DIGITS:
        return format_decimal(neg, digits, exp)
    try:
        f = float(v)
    except OverflowError:
        f = None
    if f is None or f == 0 or abs(f) == float("inf") or (
            fallback is not None and Fraction(f) != v):
        if fallback is not None:
            return str(fallback())
    return repr(f)


# ------------------------------------------------------------ code parsing

_SEPARATORS = re.compile(r"[_ .]")


def _value_hint(text: str) -> str:
    """A hint for decode input that reads as a value, not a code ('0.1', '-3', '1e5')."""
    t = text.strip().lower()
    if t.startswith(("0x", "0b")) or not t or not t.isascii():
        return ""
    looks = "." in t or "e" in t or t.startswith("-") or (t.isdigit() and set(t) - {"0", "1"})
    try:
        float(t)
    except ValueError:
        return ""
    return (f"; {shown_text(text)} looks like a value: to see what it becomes, use "
            f"precli encode {t} --as FORMAT") if looks else ""


def parse_code(fmt: Format, text: str) -> int:
    """Parse '0x4248', '0b0100...', or a bit string with _ / space / . separators."""
    try:
        return _parse_code(fmt, text)
    except (ValueParseError, CodeRangeError) as e:
        hint = _value_hint(text)
        if not hint:
            raise
        raise type(e)(f"not a code{hint}") from None


def _parse_code(fmt: Format, text: str) -> int:
    s = text.strip()
    low = s.lower()
    neg = low.startswith("-")
    try:
        if neg or not s.isascii():  # codes are ASCII hex / binary digits only
            raise ValueError
        if low.startswith("0x"):
            code = int(_SEPARATORS.sub("", low[2:]), 16)
        elif low.startswith("0b"):
            code = int(_SEPARATORS.sub("", low[2:]), 2)
        else:
            bits = _SEPARATORS.sub("", low)
            if not bits or set(bits) - {"0", "1"}:
                raise ValueError
            if len(bits) != fmt.bits:
                raise CodeRangeError(
                    f"bit string {shown_text(text)} has {len(bits)} bits; {fmt.name} has "
                    f"{fmt.bits} "
                    "(prefix 0b or 0x for a shorter code)"
                )
            code = int(bits, 2)
    except ValueError:
        raise ValueParseError(
            f"not a code: {shown_text(text)} (use 0x hex, 0b binary, or {fmt.bits} bits)"
        ) from None
    if code >> fmt.bits:
        hint = (
            "; an fp32 container pattern decodes with --from fp32"
            if fmt.name == "tf32" and code < 1 << 32
            else ""
        )
        h = hex(code)
        if len(h) > ECHO_CHARS:
            h = f"{h[:ECHO_CHARS]}… ({code.bit_length():,} bits)"
        raise CodeRangeError(f"code {h} does not fit {fmt.name} ({fmt.bits} bits){hint}")
    return code


# ------------------------------------------------------------ code facts


class CodeInfo(NamedTuple):
    """Everything about one code of one format."""

    format: Format
    code: int
    stored: ExactValue
    cls: str
    sign: int | None
    exponent: int | None
    mantissa: int | None
    value: str
    exact: str
    ulp: Fraction | None
    prev: str | None
    next: str | None
    formula: str
    scale: Fraction | None = None
    zero_point: int | None = None
    shortest: str | None = None  # the shortest text that selects this code in its format

    @property
    def hex(self) -> str:
        return f"0x{self.code:0{self.format.hex_digits}x}"

    @property
    def bits(self) -> str:
        return f"{self.code:0{self.format.bits}b}"

    @property
    def container_hex(self) -> str | None:
        """tf32 lives in an fp32 container: its 19 bits are the top of a 32-bit word."""
        if self.format.name == "tf32":
            return f"0x{self.code << 13:08x}"
        return None


@lru_cache(maxsize=1 << 17)
def code_shortest(fmt: FloatFormat, code: int) -> str:
    """shortest_float, remembered: a stream's records name each code's neighbours too."""
    return shortest_float(fmt, code)


@lru_cache(maxsize=1 << 17)
def float_value_text(fmt: FloatFormat, code: int) -> str:
    """plain_value of a float code (nan / inf as words)."""
    if fmt.is_nan(code):
        return "nan"
    if fmt.is_inf(code):
        return "-inf" if fmt.fields(code)[0] else "inf"
    neg = bool(fmt.fields(code)[0]) if fmt.signed else False
    mag_code = code & ~fmt.sign_mask if fmt.signed else code
    if float64_exact(fmt):  # the same rule in float64 arithmetic: no Fractions
        from precli.core.exact import format_decimal, int_to_str

        v = magnitude_float(fmt, mag_code)
        if v == 0:
            return "-0" if neg else "0"
        n, d = v.as_integer_ratio()
        k = d.bit_length() - 1
        digits = n * 5**k
        text = int_to_str(digits) if digits >= 10**VALUE_DIGITS else str(digits)
        if len(text.rstrip("0")) <= VALUE_DIGITS:
            return format_decimal(neg, digits, -k)
        return repr(-v if neg else v)
    mag = fmt.code_magnitude(mag_code)
    return plain_value(-mag if neg else mag, neg, lambda: code_shortest(fmt, code))


def _float_info(fmt: FloatFormat, code: int) -> CodeInfo:
    s, e, m = fmt.fields(code)
    if float64_exact(fmt) and not (fmt.is_nan(code) or fmt.is_inf(code)):
        return _finite_info64(fmt, code, s, e, m)
    M = fmt.mantissa_bits
    if fmt.is_nan(code):
        stored = ExactValue(bool(s), "nan")
        cls = "nan"
        formula = {
            "ieee": "exponent all ones, mantissa ≠ 0 → NaN",
            "fn": "exponent and mantissa all ones → NaN",
            "fnuz": "sign 1 with all-zero exponent and mantissa (the '-0' code) → NaN",
            "fnu": "exponent all ones → NaN",
        }[fmt.specials]
    elif fmt.is_inf(code):
        stored = ExactValue(bool(s), "inf")
        cls = "inf"
        formula = f"exponent all ones, mantissa 0 → {'-' if s else '+'}inf"
    else:
        mag = fmt.code_magnitude(code)
        stored = ExactValue(bool(s), "finite", mag)
        val = exact_decimal(-mag if s else mag)
        if s and mag == 0:
            val = "-0"
        cls, formula = _finite_formula(fmt, s, e, m, val)
    prev_c, next_c = float_neighbours(fmt, code)
    ulp = None
    if stored.kind == "finite":  # float_ulp, from the exponent field
        top = e - fmt.bias if fmt.specials == "fnu" else max(e, 1) - fmt.bias
        ulp = Fraction(1 << max(0, top - M), 1 << max(0, M - top))
    return CodeInfo(
        format=fmt,
        code=code,
        stored=stored,
        cls=cls,
        sign=s if fmt.signed else None,
        exponent=e,
        mantissa=m,
        value=float_value_text(fmt, code),
        exact=val if stored.kind == "finite" else value_text(stored),
        ulp=ulp,
        prev=None if prev_c is None else float_value_text(fmt, prev_c),
        next=None if next_c is None else float_value_text(fmt, next_c),
        formula=formula,
        shortest=code_shortest(fmt, code),
    )


def _finite_formula(fmt: FloatFormat, s: int, e: int, m: int, val: str) -> tuple[str, str]:
    """(class, formula) of a finite float code whose exact value prints as val."""
    M, bias = fmt.mantissa_bits, fmt.bias
    sign_txt = f"(-1)^{s} × " if fmt.signed else ""
    if fmt.specials == "fnu":
        return "normal", f"2^({e}-{bias}) = {val}"
    if e == 0:
        return ("zero" if m == 0 else "subnormal",
                f"{sign_txt}2^({1}-{bias}) × ({m}/{1 << M}) = {val}")
    if M == 0:
        return "normal", f"{sign_txt}2^({e}-{bias}) = {val}"
    return "normal", f"{sign_txt}2^({e}-{bias}) × (1 + {m}/{1 << M}) = {val}"


def _finite_info64(fmt: FloatFormat, code: int, s: int, e: int, m: int) -> CodeInfo:
    """_float_info of a finite code of a format whose values are float64 numbers: the same
    record from float64 and integer arithmetic (tests/test_fastrec.py compares the two over
    every code of the 8- and 16-bit formats)."""
    from precli.core.exact import int_to_str

    M, bias, signed = fmt.mantissa_bits, fmt.bias, fmt.signed
    mag_code = code & ~fmt.sign_mask if signed else code
    v = magnitude_float(fmt, mag_code)
    n, d = v.as_integer_ratio()
    mag = Fraction(n, d) if d != 1 else Fraction(n)
    stored = ExactValue(bool(s), "finite", mag)
    if v == 0:
        val = "-0" if s else "0"
    else:  # exact_decimal: n / 2^k = n * 5^k / 10^k
        k = d.bit_length() - 1
        digits = int_to_str(n * 5**k)
        if k:
            digits = digits.zfill(k + 1)
            digits = digits[:-k] + "." + digits[-k:]
        val = ("-" if s else "") + digits
    cls, formula = _finite_formula(fmt, s, e, m, val)
    prev_c, next_c = float_neighbours(fmt, code)
    top = e - bias if fmt.specials == "fnu" else max(e, 1) - bias
    return CodeInfo(
        format=fmt,
        code=code,
        stored=stored,
        cls=cls,
        sign=s if signed else None,
        exponent=e,
        mantissa=m,
        value=float_value_text(fmt, code),
        exact=val,
        ulp=Fraction(1 << max(0, top - M), 1 << max(0, M - top)),
        prev=None if prev_c is None else float_value_text(fmt, prev_c),
        next=None if next_c is None else float_value_text(fmt, next_c),
        formula=formula,
        shortest=code_shortest(fmt, code),
    )


def _int_info(
    fmt: IntFormat, code: int, scale: Fraction | None, zero_point: int | None
) -> CodeInfo:
    q = int(fmt.code_value(code))
    S = scale if scale is not None else Fraction(1)
    Z = zero_point or 0

    def deq(qq: int) -> Fraction:
        return (qq - Z) * S

    v = deq(q)
    if scale is None and zero_point is None:
        kind = "two's complement" if fmt.signed else "unsigned"
        formula = f"{q} ({kind} {fmt.bits}-bit)"
    else:
        formula = f"(q - Z) × S = ({q} - {Z}) × {exact_decimal(S)} = {exact_decimal(v)}"
    return CodeInfo(
        format=fmt,
        code=code,
        stored=ExactValue.of(v),
        cls="integer",
        sign=None,
        exponent=None,
        mantissa=None,
        value=plain_value(v, fallback=lambda: _scaled_shortest(v)),
        exact=exact_decimal(v),
        ulp=S,
        prev=plain_value(deq(q - 1), fallback=lambda: _scaled_shortest(deq(q - 1)))
        if q > fmt.min_int else None,
        next=plain_value(deq(q + 1), fallback=lambda: _scaled_shortest(deq(q + 1)))
        if q < fmt.max_int else None,
        formula=formula,
        scale=scale,
        zero_point=zero_point,
        shortest=_scaled_shortest(v),
    )


def _table_info(fmt: TableFormat, code: int, scale: Fraction | None) -> CodeInfo:
    S = scale if scale is not None else Fraction(1)
    vals = fmt.values
    v = vals[code] * S
    formula = f"table[{code}] = {exact_decimal(vals[code])}"
    if scale is not None:
        formula += f", × scale {exact_decimal(S)} = {exact_decimal(v)}"
    nxt = vals[code + 1] * S if code + 1 < len(vals) else None
    return CodeInfo(
        format=fmt,
        code=code,
        stored=ExactValue.of(v),
        cls="zero" if v == 0 else "normal",
        sign=None,
        exponent=None,
        mantissa=None,
        value=plain_value(v),
        exact=exact_decimal(v),
        ulp=None if nxt is None else nxt - v,
        prev=plain_value(vals[code - 1] * S) if code > 0 else None,
        next=plain_value(nxt) if nxt is not None else None,
        formula=formula,
        scale=scale,
        shortest=shortest_table(fmt, code, S),
    )


def describe_code(
    fmt: Format, code: int, scale: Fraction | None = None, zero_point: int | None = None
) -> CodeInfo:
    if isinstance(fmt, FloatFormat):
        return _float_info(fmt, code)
    if isinstance(fmt, IntFormat):
        return _int_info(fmt, code, scale, zero_point)
    return _table_info(fmt, code, scale)


# ------------------------------------------------------------ encode / decode


class EncodeResult(NamedTuple):
    input: str
    round: str
    info: CodeInfo
    flags: tuple[str, ...]
    abs_error: Fraction | None
    rel_error: Fraction | None
    ulp_error: Fraction | None


class DecodeResult(Record):
    input: str
    info: CodeInfo


class ErrorRecord(Record):
    """A value that could not be processed; it keeps its place in the output."""

    input: str
    error: str
    position: int = 0


class EncodeOptions(Record):
    mode: str = "nearest-even"
    saturate: bool = False
    scale: Fraction | None = None
    zero_point: int | None = None
    seed: int | None = None

    def seeded(self) -> EncodeOptions:
        """These options with one seed for a whole stream: stochastic rounding without a
        seed draws one here, once, so every batch of a stream draws from the same sequence."""
        if self.mode == "stochastic" and self.seed is None:
            return self._replace(seed=stochastic_bits(None, 0))
        return self


def parse_scale(text: str | None) -> Fraction | None:
    if text is None:
        return None
    try:
        v = parse_number(text)
    except ValueParseError:
        v = ExactValue(False, "nan")
    if v.kind != "finite" or v.negative or v.is_zero:
        raise UsageError(f"{arg('scale')} must be a positive finite number, got "
                         f"{shown_text(text)}")
    return v.magnitude


def encode_text(fmt: Format, text: str, opts: EncodeOptions, index: int = 0) -> EncodeResult:
    """Parse one value exactly and round it once into fmt."""
    return encode_exact(fmt, text, parse_number(text), opts, index)


def encode_exact(
    fmt: Format, text: str, x: ExactValue, opts: EncodeOptions, index: int = 0
) -> EncodeResult:
    """Round an exact value once into fmt; text is how the input is shown."""
    rand = stochastic_bits(opts.seed, index) if opts.mode == "stochastic" else None
    r = round_value(
        fmt, x, opts.mode, saturate=opts.saturate, scale=opts.scale,
        zero_point=opts.zero_point, rand=rand,
    )  # fmt: skip
    info = describe_code(fmt, r.code, opts.scale, opts.zero_point)
    abs_e = rel_e = ulp_e = None
    if x.kind == "finite" and info.stored.kind == "finite":
        xv, sv, u = x.value, info.stored.value, info.ulp or Fraction(0)
        ab, rel, ulp = error_ratios(xv.numerator, xv.denominator, sv.numerator,
                                    sv.denominator, u.numerator, u.denominator)
        abs_e = Fraction(*ab)
        rel_e = None if rel is None else Fraction(*rel)
        ulp_e = None if ulp is None else Fraction(*ulp)
    return EncodeResult(text, opts.mode, info, r.flags, abs_e, rel_e, ulp_e)


Ratio = tuple[int, int]


def error_ratios(xn: int, xd: int, sn: int, sd: int, un: int, ud: int
                 ) -> tuple[Ratio, Ratio | None, Ratio | None]:
    """The error figures of storing x = xn / xd as s = sn / sd (numerators signed,
    denominators positive) in a format whose ulp there is un / ud: |s - x|, |s - x| / |x|
    and |s - x| / ulp, each as (numerator, denominator), None where |x| or the ulp is 0.
    The one definition of a value's errors: the exact path makes Fractions of them, the
    stream's integer fast path floats (the vectorized path is tested equal to both)."""
    num = abs(sn * xd - xn * sd)
    den = xd * sd
    rel = (num, sd * abs(xn)) if xn else None
    ulp = (num * ud, den * un) if un else None
    return (num, den), rel, ulp


def decode_text(
    fmt: Format, text: str, scale: Fraction | None = None, zero_point: int | None = None
) -> DecodeResult:
    code = parse_code(fmt, text)
    if isinstance(fmt, FloatFormat) and (scale is not None or zero_point is not None):
        raise UsageError(SCALE_ONLY)
    return DecodeResult(text, describe_code(fmt, code, scale, zero_point))


# ------------------------------------------------------------ format facts

FORMAT_KEYS = (
    "name", "aliases", "bits", "sign_bits", "exponent_bits", "mantissa_bits", "bias",
    "max", "max_exact", "min", "min_exact", "smallest_normal", "smallest_normal_exact",
    "smallest_subnormal", "smallest_subnormal_exact", "eps", "eps_exact", "resolution",
    "resolution_exact", "decimal_digits", "has_inf", "has_nan", "has_negative_zero",
    "finite_values",
)  # fmt: skip


def format_record(fmt: Format) -> dict[str, Any]:
    """The JSON object of `info --output json` (docs/json.md#info)."""
    rec: dict[str, Any] = {"name": fmt.name, "aliases": list(fmt.aliases), "bits": fmt.bits}
    nums: dict[str, Fraction | None]
    if isinstance(fmt, FloatFormat):
        rec.update(
            sign_bits=fmt.sign_bits, exponent_bits=fmt.exponent_bits,
            mantissa_bits=fmt.mantissa_bits, bias=fmt.bias,
        )  # fmt: skip
        nums = {
            "max": fmt.max, "min": fmt.min, "smallest_normal": fmt.smallest_normal,
            "smallest_subnormal": fmt.smallest_subnormal, "eps": fmt.eps,
            "resolution": fmt.resolution,
        }  # fmt: skip
        tail: dict[str, Any] = dict(
            decimal_digits=fmt.decimal_digits, has_inf=fmt.has_inf, has_nan=fmt.has_nan,
            has_negative_zero=fmt.has_negative_zero, finite_values=fmt.finite_values,
        )  # fmt: skip
    else:
        rec.update(
            sign_bits=1 if fmt.signed else 0, exponent_bits=None, mantissa_bits=None, bias=None
        )
        nums = {
            "max": fmt.max, "min": fmt.min, "smallest_normal": None,
            "smallest_subnormal": None, "eps": None, "resolution": None,
        }  # fmt: skip
        tail = dict(
            decimal_digits=None, has_inf=False, has_nan=False, has_negative_zero=False,
            finite_values=fmt.finite_values,
        )  # fmt: skip
    for k, v in nums.items():
        rec[k] = to_float(v)
        rec[f"{k}_exact"] = exact_text(v)
    rec.update(tail)
    return {k: rec[k] for k in FORMAT_KEYS}


def code_listing(fmt: Format) -> list[CodeInfo]:
    """Every code of a format of 8 bits or fewer (`info --values`)."""
    if fmt.bits > 8:
        raise UsageError(f"{arg('values')} lists formats of 8 bits or fewer; {fmt.name} has "
                         f"{fmt.bits}")
    return [describe_code(fmt, c) for c in range(1 << fmt.bits)]


def max_derivation(fmt: FloatFormat) -> str:
    """'0 11110 1111111111 -> 2^15 × (1 + 1023/1024) = 65504'."""
    c = fmt.max_code
    s, e, m = fmt.fields(c)
    fields = [f"{e:0{fmt.exponent_bits}b}"]
    if fmt.mantissa_bits:
        fields.append(f"{m:0{fmt.mantissa_bits}b}")
    if fmt.signed:
        fields.insert(0, "0")
    val = exact_decimal(fmt.max)
    if fmt.specials == "fnu" or fmt.mantissa_bits == 0:
        rhs = f"2^{e - fmt.bias} = {val}"
    else:
        rhs = f"2^{e - fmt.bias} × (1 + {m}/{1 << fmt.mantissa_bits}) = {val}"
    return f"{' '.join(fields)} → {rhs}"


# ------------------------------------------------------------ compare (values, formats)

DEFAULT_COMPARE_FORMATS = (
    "fp64", "fp32", "tf32", "fp16", "bf16", "e5m2", "e4m3fn", "e3m2fn", "e2m3fn", "e2m1fn",
    "int8", "nf4",
)  # fmt: skip


def compare_value(
    fmts: list[Format], text: str, opts: EncodeOptions
) -> list[EncodeResult | ErrorRecord]:
    """One value in every format (one result per format, errors in place)."""
    from precli.errors import PrecliError

    x = parse_number(text)
    out: list[EncodeResult | ErrorRecord] = []
    for i, f in enumerate(fmts):
        try:
            out.append(encode_exact(f, text, x, opts, i))
        except UsageError:
            raise
        except PrecliError as e:  # the message names the format once
            msg = str(e)
            out.append(ErrorRecord(text, msg if msg.startswith(f"{f.name} ") else
                                   f"{f.name}: {msg}", i))
    return out


def _ratio_text(r: Fraction) -> str:
    """'8x' for exact small ratios, '2^24x' for big powers of two, else approx."""
    p = pow2_text(r)
    if r.denominator == 1 and r < 10**6:
        return f"{r.numerator}x"
    if p is not None:
        return f"{p}x"
    return f"{float(r):.3g}x"


def format_notes(fmts: list[Format]) -> list[str]:
    """Where each float format is better: range, precision, reach toward zero."""
    floats = [f for f in fmts if isinstance(f, FloatFormat)]
    notes: list[str] = []
    if len(floats) < 2:
        return notes
    top = max(floats, key=lambda f: f.max)
    for f in floats:
        if f is not top and f.max * 2 <= top.max:
            notes.append(f"{top.name} reaches {_ratio_text(top.max / f.max)} further than "
                         f"{f.name} (max {exact_short_text(top.max)} vs {exact_short_text(f.max)})")
    fine = min(floats, key=lambda f: f.eps)
    for f in floats:
        if f is not fine and f.eps > fine.eps:
            notes.append(f"{fine.name} has {_ratio_text(f.eps / fine.eps)} finer eps than "
                         f"{f.name} ({pow2_text(fine.eps)} vs {pow2_text(f.eps)})")
    fp32_max = Fraction(2**128 - 2**104)
    for f in floats:
        if f.name != "fp32" and f.max_exponent == 127 and f.max != fp32_max:
            notes.append(f"{f.name} keeps fp32's exponent range (up to ~2^128) with "
                         f"{f.mantissa_bits} mantissa bits instead of 23")
    tiny = min(floats, key=lambda f: f.smallest_positive)
    others = [f for f in floats if f.smallest_positive > tiny.smallest_positive]
    if others:
        notes.append(f"{tiny.name} reaches closest to zero ({pow2_text(tiny.smallest_positive)})")
    return notes


def exact_short_text(x: Fraction) -> str:
    """An exact integer when short, else a power of two or ≈ 3 significant digits."""
    if x.denominator == 1 and x < 10**7:
        return str(x.numerator)
    p = pow2_text(x)
    return p if p is not None else f"≈{float(x):.4g}"


# ------------------------------------------------------------ block-scaled formats

BLOCK_KEYS = (
    "name", "aliases", "kind", "element", "scale", "block_size", "element_bits", "scale_bits",
    "tensor_scale_bits", "effective_bits", "element_max", "element_max_exact", "scale_rule",
    "description",
)  # fmt: skip


def block_record(b: Any) -> dict[str, Any]:
    """The JSON object of `info mxfp4 --output json`."""
    from precli.core.formats import effective_bits

    elem = b.element_format
    if b.kind == "mx":
        elem_txt = (f"{b.element}(x / X / 2^{b.element_exp}) × 2^{b.element_exp}"
                    if b.element_exp else f"{b.element}(x / X)")
        rule = (f"X = 2^(floor(log2(amax)) - {b.emax_elem}) per block of {b.block_size}, as an "
                f"E8M0 code; elements = {elem_txt}, nearest-even, saturating")
    else:
        rule = ("tensor scale T = fp32(amax / (6 × 448)); block scale S = e4m3fn(amax_block / "
                f"(6 × T)) per block of {b.block_size}; elements = e2m1fn(x / (S × T)), "
                "nearest-even, saturating")
    return {
        "name": b.name,
        "aliases": list(b.aliases),
        "kind": b.kind,
        "element": b.element,
        "scale": b.scale,
        "block_size": b.block_size,
        "element_bits": elem.bits,
        "scale_bits": b.scale_format.bits,
        "tensor_scale_bits": b.tensor_scale_bits,
        "effective_bits": effective_bits(b),
        "element_max": to_float(b.max),
        "element_max_exact": exact_text(b.max),
        "scale_rule": rule,
        "description": b.description,
    }
