"""Format records against independent oracles: ml_dtypes.finfo / iinfo, numpy.finfo / iinfo,
bitsandbytes' published NF4 table, hand derivations, and the brute-force decoder in
tests/oracle.py. No expected value here is taken from precli's own output."""

from __future__ import annotations

import math
import re
from fractions import Fraction

import ml_dtypes
import numpy as np
import oracle  # tests/oracle.py (pytest puts tests/ on sys.path)
import pytest

from precli.core.formats import FloatFormat, IntFormat, TableFormat, builtin_formats, get_format
from precli.errors import InvalidFormatSpecError, UnknownFormatError

F = Fraction
TWO = F(2)

# precli name -> the ml_dtypes / numpy scalar type with the same encoding
ML_FLOATS: dict[str, type] = {
    "bf16": ml_dtypes.bfloat16,
    "e5m2": ml_dtypes.float8_e5m2,
    "e4m3fn": ml_dtypes.float8_e4m3fn,
    "e4m3": ml_dtypes.float8_e4m3,
    "e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
    "e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
    "e4m3b11fnuz": ml_dtypes.float8_e4m3b11fnuz,
    "e3m4": ml_dtypes.float8_e3m4,
    "e3m2fn": ml_dtypes.float6_e3m2fn,
    "e2m3fn": ml_dtypes.float6_e2m3fn,
    "e2m1fn": ml_dtypes.float4_e2m1fn,
    "e8m0fnu": ml_dtypes.float8_e8m0fnu,
}
NP_FLOATS: dict[str, type] = {"fp16": np.float16, "fp32": np.float32, "fp64": np.float64}
ALL_ORACLE_FLOATS = {**NP_FLOATS, **ML_FLOATS}


def fr(x: object) -> Fraction:
    """Exact value of a numpy / ml_dtypes scalar (every such value is exact in float64)."""
    return F(float(x))  # type: ignore[arg-type]


def floats() -> list[FloatFormat]:
    return [f for f in builtin_formats() if isinstance(f, FloatFormat)]


# ------------------------------------------------------------- finfo oracles


@pytest.mark.parametrize("name", sorted(ALL_ORACLE_FLOATS))
def test_float_properties_match_ml_dtypes_finfo(name: str) -> None:
    fmt = get_format(name)
    assert isinstance(fmt, FloatFormat)
    fi = ml_dtypes.finfo(ALL_ORACLE_FLOATS[name])  # type: ignore[no-untyped-call]
    assert fmt.bits == fi.bits
    assert fmt.mantissa_bits == fi.nmant
    assert fmt.exponent_bits == fi.nexp
    assert fmt.max == fr(fi.max)
    assert fmt.min == fr(fi.min)
    assert fmt.smallest_normal == fr(fi.smallest_normal) == fr(fi.tiny)
    assert fmt.eps == fr(fi.eps)
    assert fmt.emin == fi.minexp
    assert fmt.max_exponent + 1 == fi.maxexp
    # numpy's definition of precision: int(-log10(eps)), applied to the oracle's eps
    numpy_precision = int(-math.log10(float(fi.eps)))
    assert fmt.decimal_digits == numpy_precision
    assert fmt.resolution == F(1, 10**numpy_precision)
    dt = ALL_ORACLE_FLOATS[name]
    if name.startswith("e") and fmt.bits == 8:
        # Documented difference: ml_dtypes hard-codes precision = 1 and resolution =
        # dtype(0.1) for every float8 type; numpy's formula gives floor(M log10 2), which is
        # 0 for M <= 3 (and 1 for e3m4's M = 4).
        assert fi.precision == 1
        assert fi.resolution == np.array(0.1).astype(dt)
    else:
        assert fmt.decimal_digits == fi.precision
        # finfo.resolution is 10**-precision rounded into the dtype
        assert np.array(float(fmt.resolution)).astype(dt) == fi.resolution
    if name == "e8m0fnu":
        # Documented difference: E8M0 has no subnormals. ml_dtypes reports
        # smallest_subnormal == smallest_normal (2^-127); precli says None.
        assert fr(fi.smallest_subnormal) == fr(fi.smallest_normal) == TWO**-127
        assert fmt.smallest_subnormal is None
        assert fmt.smallest_positive == TWO**-127
    else:
        assert fmt.smallest_subnormal == fr(fi.smallest_subnormal)
        assert fmt.smallest_positive == fr(fi.smallest_subnormal)


@pytest.mark.parametrize("name", sorted(NP_FLOATS))
def test_ieee_properties_match_numpy_finfo(name: str) -> None:
    fmt = get_format(name)
    assert isinstance(fmt, FloatFormat)
    dt = NP_FLOATS[name]
    fi = np.finfo(dt)
    assert fmt.bits == fi.bits
    assert fmt.mantissa_bits == fi.nmant
    assert fmt.exponent_bits == fi.nexp
    assert fmt.max == fr(fi.max)
    assert fmt.min == fr(fi.min)
    assert fmt.smallest_normal == fr(fi.smallest_normal)
    assert fmt.smallest_subnormal == fr(fi.smallest_subnormal)
    assert fmt.eps == fr(fi.eps)
    assert fmt.decimal_digits == fi.precision
    # numpy's resolution is dtype(10**-precision)
    assert dt(float(fmt.resolution)) == fi.resolution
    assert fmt.resolution == F(1, 10**fi.precision)
    assert fmt.emin == fi.minexp
    assert fmt.max_exponent + 1 == fi.maxexp
    assert fmt.specials == "ieee" and fmt.has_inf and fmt.has_nan
    assert fmt.nbytes == np.dtype(dt).itemsize


# numpy.iinfo covers the byte-sized integers, ml_dtypes.iinfo the sub-byte ones
INT_ORACLES: dict[str, type] = {
    "int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
    "uint8": np.uint8, "uint16": np.uint16, "uint32": np.uint32, "uint64": np.uint64,
    "int2": ml_dtypes.int2, "int4": ml_dtypes.int4,
    "uint2": ml_dtypes.uint2, "uint4": ml_dtypes.uint4,
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(INT_ORACLES))
def test_int_properties_match_iinfo(name: str) -> None:
    fmt = get_format(name)
    assert isinstance(fmt, IntFormat)
    dt = INT_ORACLES[name]
    ii = (ml_dtypes.iinfo(dt) if dt.__module__.startswith("ml_dtypes")  # type: ignore[no-untyped-call]
          else np.iinfo(dt))
    assert fmt.bits == ii.bits
    assert fmt.max_int == int(ii.max)
    assert fmt.min_int == int(ii.min)
    assert fmt.max == F(int(ii.max)) and fmt.min == F(int(ii.min))
    assert fmt.signed == (int(ii.min) < 0)
    assert fmt.finite_values == 1 << ii.bits


@pytest.mark.parametrize("name", ["int2", "int4", "uint2", "uint4", "int8", "uint8", "int16",
                                  "uint16"])
def test_int_code_value_exhaustive(name: str) -> None:
    """Every code's value equals the oracle dtype's reinterpretation of the same bits."""
    fmt = get_format(name)
    assert isinstance(fmt, IntFormat)
    dt = INT_ORACLES[name]
    container = np.uint8 if fmt.bits <= 8 else np.uint16
    codes = np.arange(1 << fmt.bits, dtype=container)
    vals = codes.view(dt).astype(np.int64).tolist()
    for code, v in enumerate(vals):
        assert fmt.code_value(code) == v, (name, code)
        assert fmt.code_of(v) == code


# ---------------------------------------------------------- hand derivations


def test_tf32_hand_derived() -> None:
    fmt = get_format("tf32")
    assert isinstance(fmt, FloatFormat)
    # tf32 = fp32's 8 exponent bits (bias 127) with fp16's 10 mantissa bits, 1+8+10 = 19 bits.
    assert (fmt.exponent_bits, fmt.mantissa_bits, fmt.bias, fmt.specials) == (8, 10, 127, "ieee")
    assert fmt.bits == 19
    # max: exponent field 254 -> 2^(254-127) = 2^127, significand all ones 1 + (2^10-1)/2^10
    assert fmt.max == (2 - TWO**-10) * TWO**127
    # smallest normal: exponent field 1 -> 2^(1-127)
    assert fmt.smallest_normal == TWO**-126
    # smallest subnormal: 2^-126 * 2^-10
    assert fmt.smallest_subnormal == TWO**-136
    # eps: one unit of the 10-bit mantissa at 1.0
    assert fmt.eps == TWO**-10
    # decimal digits: floor(10 * log10 2) = floor(3.0103) = 3
    assert fmt.decimal_digits == 3 and fmt.resolution == F(1, 1000)
    # every tf32 value is an fp32 value (fp32 truncated to 10 mantissa bits)
    assert fmt.max == fr(np.float32(float(fmt.max)))
    # codes: 2^19 minus the exponent-all-ones binade (2 signs * 2^10 inf/NaN codes)
    assert fmt.finite_codes == 2**19 - 2 * 2**10
    assert fmt.finite_values == 2**19 - 2 * 2**10 - 1  # +-0 count once


# bitsandbytes functional.get_4bit_type("nf4"): the published float32 literals
NF4_BNB = [
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]  # fmt: skip


def test_nf4_table_matches_bitsandbytes_float32() -> None:
    fmt = get_format("nf4")
    assert isinstance(fmt, TableFormat)
    expected = [F(float(np.float32(v))) for v in NF4_BNB]
    assert list(fmt.values) == expected
    assert fmt.bits == 4 and len(fmt.values) == 16
    assert fmt.max == 1 and fmt.min == -1
    assert fmt.finite_values == 16
    for code, v in enumerate(expected):
        assert fmt.code_value(code) == v
    # each value is exactly a float32 (denominator a power of two, 24-bit significand)
    for v in fmt.values:
        assert F(float(np.float32(float(v)))) == v


# name -> (E, M, bias, specials, max, smallest_normal, smallest_subnormal, eps, digits, bits)
# with the derivation of each constant in the comment above it.
CUSTOM_EXPECTED = {
    # e5m10: IEEE-style, bias 2^4-1 = 15; max = (2 - 2^-10) * 2^(30-15) = 65504;
    # normal 2^(1-15) = 2^-14; subnormal 2^-14 * 2^-10 = 2^-24; eps 2^-10;
    # digits floor(10 log10 2) = 3; bits 1+5+10 = 16. (== fp16)
    "e5m10": (5, 10, 15, "ieee", F(65504), TWO**-14, TWO**-24, TWO**-10, 3, 16),
    # e6m9: bias 2^5-1 = 31; max = (2 - 2^-9) * 2^(62-31) = 2^32 - 2^22 = 4290772992;
    # normal 2^-30; subnormal 2^-30 * 2^-9 = 2^-39; eps 2^-9; digits floor(2.709) = 2; 16 bits
    "e6m9": (6, 9, 31, "ieee", F(4290772992), TWO**-30, TWO**-39, TWO**-9, 2, 16),
    # e8m7: bias 127; max = (2 - 2^-7) * 2^127; normal 2^-126; subnormal 2^-133; eps 2^-7;
    # digits floor(7 log10 2) = floor(2.107) = 2; 16 bits (== bf16)
    "e8m7": (8, 7, 127, "ieee", (2 - TWO**-7) * TWO**127, TWO**-126, TWO**-133, TWO**-7, 2, 16),
    # e4m3fn: 8 bits >= 8 so NaN only at S.1111.111; bias 7; max = S.1111.110 =
    # 1.75 * 2^(15-7) = 448; normal 2^-6; subnormal 2^-9; eps 2^-3; digits floor(0.903) = 0
    "e4m3fn": (4, 3, 7, "fn", F(448), TWO**-6, TWO**-9, TWO**-3, 0, 8),
    # e3m2fn: 6 bits < 8 so no NaN ("finite"); bias 3; max = 1.11b * 2^(7-3) = 1.75*16 = 28;
    # normal 2^-2; subnormal 2^-2 * 2^-2 = 2^-4; eps 2^-2; digits floor(0.602) = 0
    "e3m2fn": (3, 2, 3, "finite", F(28), TWO**-2, TWO**-4, TWO**-2, 0, 6),
    # e2m1fn: 4 bits, finite; bias 1; max = 1.1b * 2^(3-1) = 6; normal 2^0 = 1; subnormal 1/2;
    # eps 1/2; digits floor(0.301) = 0
    "e2m1fn": (2, 1, 1, "finite", F(6), F(1), F(1, 2), F(1, 2), 0, 4),
    # e4m3fnuz: bias 2^3 = 8; every code but 0x80 finite so max = 0x7f = 1.875 * 2^(15-8) = 240;
    # normal 2^(1-8) = 2^-7; subnormal 2^-10
    "e4m3fnuz": (4, 3, 8, "fnuz", F(240), TWO**-7, TWO**-10, TWO**-3, 0, 8),
    # e5m2fnuz: bias 16; max = 1.75 * 2^(31-16) = 57344; normal 2^-15; subnormal 2^-17
    "e5m2fnuz": (5, 2, 16, "fnuz", F(57344), TWO**-15, TWO**-17, TWO**-2, 0, 8),
    # e11m52: bias 1023; max = (2 - 2^-52) * 2^1023; normal 2^-1022; subnormal 2^-1074;
    # digits floor(52 log10 2) = floor(15.65) = 15; 64 bits (== fp64)
    "e11m52": (11, 52, 1023, "ieee", (2 - TWO**-52) * TWO**1023, TWO**-1022, TWO**-1074,
               TWO**-52, 15, 64),
    # e4m2fn: 7 bits < 8: finite; bias 7; max = 1.75 * 2^(15-7) = 448; normal 2^-6;
    # subnormal 2^-8; eps 2^-2
    "e4m2fn": (4, 2, 7, "finite", F(448), TWO**-6, TWO**-8, TWO**-2, 0, 7),
}


@pytest.mark.parametrize("name", sorted(CUSTOM_EXPECTED))
def test_custom_formats_hand_derived(name: str) -> None:
    E, M, bias, specials, mx, normal, sub, eps, digits, bits = CUSTOM_EXPECTED[name]
    fmt = get_format(name)
    assert isinstance(fmt, FloatFormat)
    assert (fmt.exponent_bits, fmt.mantissa_bits, fmt.bias, fmt.specials) == (
        E, M, bias, specials)
    assert fmt.max == mx and fmt.min == -mx
    assert fmt.smallest_normal == normal
    assert fmt.smallest_subnormal == sub
    assert fmt.eps == eps
    assert fmt.decimal_digits == digits
    assert fmt.bits == bits


@pytest.mark.parametrize(
    ("custom", "builtin"),
    [("e5m10", "fp16"), ("e8m7", "bf16"), ("e4m3fn", "e4m3fn"), ("e3m2fn", "e3m2fn"),
     ("e2m3fn", "e2m3fn"), ("e2m1fn", "e2m1fn"), ("e4m3fnuz", "e4m3fnuz"),
     ("e5m2fnuz", "e5m2fnuz"), ("e5m2", "e5m2"), ("e4m3", "e4m3"), ("e3m4", "e3m4"),
     ("e11m52", "fp64"), ("e8m23", "fp32"), ("e8m10", "tf32")],
)
def test_custom_spec_equals_builtin(custom: str, builtin: str) -> None:
    """A custom eXmY spec that describes a built-in format has the same derived properties.

    (e4m3fn etc. are registered names, so the custom path is taken via custom_format.)"""
    from precli.core.formats import custom_format

    m = re.fullmatch(r"e(\d+)m(\d+)(fn|fnuz)?", custom)
    assert m
    c = custom_format(int(m.group(1)), int(m.group(2)), m.group(3) or "")
    b = get_format(builtin)
    assert isinstance(b, FloatFormat)
    for prop in ("exponent_bits", "mantissa_bits", "bias", "specials", "bits", "max", "min",
                 "smallest_normal", "smallest_subnormal", "eps", "decimal_digits",
                 "resolution", "finite_codes", "finite_values", "max_code", "emin"):
        assert getattr(c, prop) == getattr(b, prop), (custom, prop)


def test_custom_spec_bounds() -> None:
    for bad in ("e16m3", "e0m3", "e1m0", "e20m50", "e2m0"):
        with pytest.raises((InvalidFormatSpecError, UnknownFormatError)):
            get_format(bad)
    with pytest.raises(UnknownFormatError):
        get_format("fp7")


# ------------------------------------------------------------ invariants


def _floor_m_log10_2(M: int) -> int:
    d = 0
    while 10 ** (d + 1) <= 2**M:
        d += 1
    return d


@pytest.mark.parametrize("fmt", floats(), ids=lambda f: f.name)
def test_float_invariants(fmt: FloatFormat) -> None:
    M = fmt.mantissa_bits
    assert fmt.sign_bits + fmt.exponent_bits + fmt.mantissa_bits == fmt.bits
    assert fmt.sign_bits == (0 if fmt.specials == "fnu" else 1)
    assert fmt.nbytes == math.ceil(fmt.bits / 8)
    assert fmt.hex_digits == math.ceil(fmt.bits / 4)
    mc = fmt.max_code
    assert not fmt.is_nan(mc) and not fmt.is_inf(mc)
    assert fmt.max == fmt.code_value(mc)
    assert fmt.code_value(mc) == oracle.decode_formula(oracle.SPECS[fmt.name], mc)
    # the code after max (still without the sign bit) is non-finite or does not exist
    nxt = mc + 1
    if nxt < 1 << (fmt.bits - fmt.sign_bits):
        assert fmt.is_nan(nxt) or fmt.is_inf(nxt)
    if fmt.signed:
        assert fmt.min == -fmt.max
        assert fmt.code_value(fmt.sign_mask | mc) == -fmt.max
    else:
        assert fmt.min == fmt.code_value(0) == fmt.smallest_normal
    if fmt.specials != "fnu":
        assert fmt.smallest_normal == fmt.code_value(1 << M)
        assert fmt.smallest_subnormal == fmt.code_value(1)
    # eps: distance from 1 to the next value
    one = (fmt.bias << M) if fmt.specials != "fnu" else fmt.bias
    assert fmt.code_value(one) == 1
    assert fmt.code_value(one + 1) - 1 == fmt.eps
    assert fmt.decimal_digits == _floor_m_log10_2(M)
    assert fmt.resolution == F(1, 10**fmt.decimal_digits)
    assert fmt.max_exponent == ((mc >> M) & ((1 << fmt.exponent_bits) - 1)) - fmt.bias
    assert fmt.max < 2 ** (fmt.max_exponent + 1) <= 2 * fmt.max
    # spec record matches the independent table of published definitions
    s = oracle.SPECS[fmt.name]
    assert (fmt.exponent_bits, fmt.mantissa_bits, fmt.bias, fmt.specials) == (
        s.E, s.M, s.bias, s.specials)


@pytest.mark.parametrize("fmt", [f for f in floats() if f.bits <= 16], ids=lambda f: f.name)
def test_finite_code_counts_brute_force(fmt: FloatFormat) -> None:
    finite = [c for c in range(1 << fmt.bits) if not fmt.is_nan(c) and not fmt.is_inf(c)]
    assert fmt.finite_codes == len(finite)
    assert fmt.nonfinite_codes == (1 << fmt.bits) - len(finite)
    assert fmt.finite_values == len({oracle.decode_formula(oracle.SPECS[fmt.name], c)
                                     for c in finite})
    # and against the oracle's own classification
    spec = oracle.SPECS[fmt.name]
    assert len(finite) == sum(oracle.classify(spec, c)[0] == "finite"
                              for c in range(1 << fmt.bits))


@pytest.mark.parametrize("name", ["fp32", "fp64", "tf32"])
def test_finite_code_counts_large_ieee(name: str) -> None:
    fmt = get_format(name)
    assert isinstance(fmt, FloatFormat)
    # IEEE: the exponent-all-ones binade (2 signs x 2^M codes) is inf/NaN, the rest finite
    assert fmt.finite_codes == 2**fmt.bits - 2 * 2**fmt.mantissa_bits
    assert fmt.finite_values == fmt.finite_codes - 1


def test_every_builtin_resolves_by_name_and_alias() -> None:
    seen = set()
    for fmt in builtin_formats():
        assert get_format(fmt.name) is fmt
        assert get_format(fmt.name.upper()) is fmt
        for alias in fmt.aliases:
            assert get_format(alias) is fmt
            assert get_format(alias.upper().replace("_", "-")) is fmt
        assert fmt.name not in seen
        seen.add(fmt.name)
    # every format ml_dtypes / numpy knows is registered
    assert set(ALL_ORACLE_FLOATS) <= seen
    assert set(INT_ORACLES) <= seen
    assert "tf32" in seen and "nf4" in seen


@pytest.mark.parametrize("fmt", [f for f in builtin_formats() if not isinstance(f, FloatFormat)],
                         ids=lambda f: f.name)
def test_int_and_table_invariants(fmt: IntFormat | TableFormat) -> None:
    if isinstance(fmt, IntFormat):
        b = fmt.bits
        if fmt.signed:
            assert (fmt.min_int, fmt.max_int) == (-(2 ** (b - 1)), 2 ** (b - 1) - 1)
        else:
            assert (fmt.min_int, fmt.max_int) == (0, 2**b - 1)
        assert fmt.nbytes == math.ceil(b / 8)
    else:
        assert list(fmt.values) == sorted(fmt.values)
        assert len(fmt.values) == 2**fmt.bits


# ------------------------------------------------------------ exhaustive decode


def _oracle_codes(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(codes, float64 values) for every code of the format, decoded by numpy / ml_dtypes."""
    fmt = get_format(name)
    container = np.uint8 if fmt.bits <= 8 else np.uint16
    codes = np.arange(1 << fmt.bits, dtype=container)
    with np.errstate(invalid="ignore"):
        vals = codes.view(ALL_ORACLE_FLOATS[name]).astype(np.float64)
    return codes, vals


@pytest.mark.parametrize("name", sorted(n for n in ALL_ORACLE_FLOATS
                                        if get_format(n).bits <= 16))
def test_exhaustive_decode_matches_ml_dtypes_and_oracle(name: str) -> None:
    fmt = get_format(name)
    assert isinstance(fmt, FloatFormat)
    spec = oracle.SPECS[name]
    codes, vals = _oracle_codes(name)
    signbits = np.signbit(vals).tolist()
    for code, v, sb in zip(codes.tolist(), vals.tolist(), signbits, strict=True):
        okind, oneg, omag = oracle.decode(spec, code)
        if math.isnan(v):
            assert fmt.is_nan(code) and not fmt.is_inf(code), (name, hex(code))
            assert okind == "nan"
            continue
        assert not fmt.is_nan(code), (name, hex(code))
        if math.isinf(v):
            assert fmt.is_inf(code), (name, hex(code))
            assert okind == "inf" and oneg == (v < 0)
            continue
        assert not fmt.is_inf(code), (name, hex(code))
        assert okind == "finite"
        exact = F(v)
        assert fmt.code_value(code) == exact, (name, hex(code))
        assert fmt.code_magnitude(code) == abs(exact), (name, hex(code))
        assert omag is not None and (-omag if oneg else omag) == exact
        # sign field (fnu has none): the oracle dtype's sign bit
        if fmt.signed:
            assert fmt.fields(code)[0] == int(sb), (name, hex(code))


@pytest.mark.parametrize("name", sorted(n for n, s in oracle.SPECS.items()
                                        if s.bits <= 16 and n != "e5m10"))  # == fp16
def test_exhaustive_decode_matches_oracle(name: str) -> None:
    """All small formats incl. custom ones ml_dtypes lacks: precli vs the stepping oracle,
    and the stepping oracle vs the textbook formula."""
    fmt = get_format(name)
    assert isinstance(fmt, FloatFormat)
    spec = oracle.SPECS[name]
    for code in range(1 << spec.bits):
        kind, neg, mag = oracle.decode(spec, code)
        assert fmt.is_nan(code) == (kind == "nan"), (name, hex(code))
        assert fmt.is_inf(code) == (kind == "inf"), (name, hex(code))
        if kind == "finite":
            assert mag is not None
            val = -mag if neg else mag
            assert val == oracle.decode_formula(spec, code)
            assert fmt.code_value(code) == val, (name, hex(code))


@pytest.mark.parametrize("name", ["fp32", "fp64"])
def test_sampled_decode_large_ieee(name: str) -> None:
    fmt = get_format(name)
    assert isinstance(fmt, FloatFormat)
    rng = np.random.default_rng(20240611)
    if name == "fp32":
        codes = rng.integers(0, 2**32, size=20000, dtype=np.uint64).astype(np.uint32)
        with np.errstate(invalid="ignore"):
            vals = codes.view(np.float32).astype(np.float64)
    else:
        codes = rng.integers(0, 2**64, size=20000, dtype=np.uint64)
        vals = codes.view(np.float64)
    edge = [0, 1, 2, (1 << fmt.mantissa_bits) - 1, 1 << fmt.mantissa_bits, fmt.max_code,
            fmt.max_code + 1, fmt.max_code + 2, fmt.sign_mask, fmt.sign_mask | 1,
            (1 << fmt.bits) - 1]
    dt = np.uint32 if name == "fp32" else np.uint64
    ecodes = np.array(edge, dtype=dt)
    with np.errstate(invalid="ignore"):
        evals = ecodes.view(np.float32 if name == "fp32" else np.float64).astype(np.float64)
    all_codes, all_vals = codes.tolist() + ecodes.tolist(), vals.tolist() + evals.tolist()
    for code, v in zip(all_codes, all_vals, strict=True):
        if math.isnan(v):
            assert fmt.is_nan(code)
        elif math.isinf(v):
            assert fmt.is_inf(code)
        else:
            assert fmt.code_value(code) == F(v), (name, hex(code))


def test_tf32_decode_via_fp32_bits() -> None:
    """A tf32 code is the top 19 bits of the fp32 code of the same value."""
    fmt = get_format("tf32")
    assert isinstance(fmt, FloatFormat)
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 2**19, size=5000).tolist() + [0, 1, 0x3FF, 0x400, fmt.max_code,
                                                          fmt.max_code + 1, 1 << 18]
    for code in codes:
        as32 = np.array([code << 13], dtype=np.uint32).view(np.float32)[0]
        v = float(as32)
        if math.isnan(v):
            assert fmt.is_nan(code)
        elif math.isinf(v):
            assert fmt.is_inf(code)
        else:
            assert fmt.code_value(code) == F(v)
