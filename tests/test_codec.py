"""The vectorized path (precli.array.codec) against the exact scalar path (precli.core.rounding).

The scalar path is the reference: every array result must equal, bit for bit, what
round_value gives for the same exact input (and the same random word for stochastic
rounding), including the flags and the NotRepresentableError lanes (the invalid mask).

The float16 sweep checks every float16 input against the scalar path for every format,
spread over the (mode, saturate) combinations so that the default run stays short: each
code is checked in at least one combination per format, and the fast path is compared to
the general path on all 65536 inputs in every combination. Set PRECLI_EXHAUSTIVE=1 to
check every code in every combination against the scalar path (a few minutes).
"""

from __future__ import annotations

import math
import os
import zlib
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from precli.array import codec
from precli.core.exact import ExactValue
from precli.core.formats import (
    FloatFormat,
    Format,
    IntFormat,
    TableFormat,
    builtin_formats,
    get_format,
)
from precli.core.rounding import ROUND_MODES, round_value, splitmix64, stochastic_bits
from precli.errors import CodeRangeError, NotRepresentableError, UsageError

EXHAUSTIVE = os.environ.get("PRECLI_EXHAUSTIVE", "") not in ("", "0")
M64 = (1 << 64) - 1
DETERMINISTIC = tuple(m for m in ROUND_MODES if m != "stochastic")

BUILTIN_FLOATS = [f for f in builtin_formats() if isinstance(f, FloatFormat)]
SMALL_FLOATS = [f for f in BUILTIN_FLOATS if f.bits <= 16]
SWEEP_FORMATS = SMALL_FLOATS + [get_format("tf32"), get_format("fp32")]
CUSTOM_NAMES = [
    "e11m52", "e10m53", "e15m48", "e13m50fnuz", "e8m55fn", "e6m25", "e5m10fnuz", "e2m5",
    "e2m1", "e1m6fn", "e3m0fn", "e7m0fn", "e15m0fn", "e5m0fnuz", "e8m0fnuz", "e1m0fn",
    "e4m3fnuz", "e9m6fn",
]  # fmt: skip
CUSTOM_FLOATS = [get_format(n) for n in CUSTOM_NAMES]
ALL_FORMATS: list[Format] = [*builtin_formats(), *CUSTOM_FLOATS]

F16_ALL = np.arange(1 << 16, dtype=np.uint16).view(np.float16)


# ------------------------------------------------------------------ reference


def exact_of(v: float) -> ExactValue:
    """The ExactValue a float stands for (keeping the sign of -0 and of NaN)."""
    neg = math.copysign(1.0, v) < 0
    if math.isnan(v):
        return ExactValue(neg, "nan")
    if math.isinf(v):
        return ExactValue(neg, "inf")
    return ExactValue.of(Fraction(v), negative_zero=neg)


def scalar(
    fmt: Format,
    v: float,
    mode: str,
    *,
    saturate: bool = False,
    rand: int | None = None,
    scale: Fraction | None = None,
    zero_point: int | None = None,
) -> tuple[int, bool, tuple[str, ...]]:
    """(code, invalid, flags) from the scalar path."""
    kw: dict[str, object] = {}
    if isinstance(fmt, FloatFormat):
        kw["saturate"] = saturate
    if scale is not None:
        kw["scale"] = scale
    if zero_point is not None:
        kw["zero_point"] = zero_point
    try:
        r = round_value(fmt, exact_of(v), mode, rand=rand, **kw)  # type: ignore[arg-type]
    except NotRepresentableError:
        return 0, True, ()
    return r.code, False, r.flags


def check(
    fmt: Format,
    x: np.ndarray,
    mode: str,
    *,
    saturate: bool = False,
    seed: int = 0x5EED,
    start_index: int = 0,
    lanes: np.ndarray | None = None,
    scale: float | None = None,
    zero_point: int | None = None,
) -> None:
    """round_array(_with_flags) on all of x equals the scalar path on the given lanes."""
    kw = dict(saturate=saturate, seed=seed, start_index=start_index, scale=scale,
              zero_point=zero_point)  # fmt: skip
    r = codec.round_array_with_flags(fmt, x, mode, **kw)  # type: ignore[arg-type]
    codes, invalid = codec.round_array(fmt, x, mode, **kw)  # type: ignore[arg-type]
    assert codes.dtype == codec.code_dtype(fmt.bits) == r.codes.dtype
    assert codes.shape == invalid.shape == r.flags.shape == x.shape
    np.testing.assert_array_equal(codes, r.codes)
    np.testing.assert_array_equal(invalid, r.invalid)
    flat = x.reshape(-1)
    fc, fi, ff = r.codes.reshape(-1), r.invalid.reshape(-1), r.flags.reshape(-1)
    idx = range(flat.size) if lanes is None else lanes
    sc = Fraction(scale) if scale is not None else None
    bad = []
    for j in idx:
        j = int(j)
        rand = stochastic_bits(seed, start_index + j) if mode == "stochastic" else None
        want = scalar(fmt, float(flat[j]), mode, saturate=saturate, rand=rand, scale=sc,
                      zero_point=zero_point)  # fmt: skip
        got = (int(fc[j]), bool(fi[j]), codec.flag_names(int(ff[j])))
        if got != want:
            bad.append((float(flat[j]), got, want))
            if len(bad) >= 5:
                break
    assert not bad, (fmt.name, mode, saturate, [(v, hex(g[0]), hex(w[0]), g, w)
                                                 for v, g, w in bad])  # fmt: skip


# ------------------------------------------------------------ float16 sweep

COMBOS = [(m, s) for m in DETERMINISTIC for s in (False, True)]


@pytest.mark.parametrize("fmt", SWEEP_FORMATS, ids=lambda f: f.name)
def test_every_float16_value(fmt: FloatFormat) -> None:
    """Every float16 input, every deterministic mode, saturate on and off."""
    for ci, (mode, saturate) in enumerate(COMBOS):
        lanes = None if EXHAUSTIVE else np.arange(ci % 11, 1 << 16, 11)
        check(fmt, F16_ALL, mode, saturate=saturate, lanes=lanes)
        # the general path on all 65536 inputs agrees with the fast path
        fast = codec.round_array_with_flags(fmt, F16_ALL, mode, saturate=saturate)
        codec.FAST_PATH = False
        try:
            slow = codec.round_array_with_flags(fmt, F16_ALL, mode, saturate=saturate)
        finally:
            codec.FAST_PATH = True
        for a, b in zip(fast, slow, strict=True):
            np.testing.assert_array_equal(a, b)
        # float16 input widened to float64 first gives the same codes
        wide = codec.round_array_with_flags(fmt, F16_ALL.astype(np.float64), mode,
                                            saturate=saturate)  # fmt: skip
        for a, b in zip(fast, wide, strict=True):
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------- random float64


def interesting_values(fmt: Format, rng: np.random.Generator, n: int) -> np.ndarray:
    """float64 inputs that stress fmt: random bit patterns, the format's own values and
    the exact midpoints between neighbours (when float64 holds them), one float64 ulp
    either side, the overflow edge, subnormals, zeros and specials."""
    out: list[float] = [
        0.0,
        -0.0,
        math.inf,
        -math.inf,
        math.nan,
        -math.nan,
        5e-324,
        -5e-324,
        2.2250738585072014e-308,
        1.7976931348623157e308,
        -1e308,
        1.0,
        -1.0,
    ]
    out += list(rng.integers(0, 1 << 64, n // 4, dtype=np.uint64, endpoint=False)
                .view(np.float64))  # fmt: skip
    out += list(rng.standard_normal(n // 8) * np.exp2(rng.integers(-40, 40, n // 8)))
    grid: list[Fraction] = []
    if isinstance(fmt, FloatFormat):
        top = fmt.max_code
        picks = rng.integers(0, top + 1, n // 6, dtype=np.uint64, endpoint=False)
        picks = [int(c) for c in picks] + [0, 1, 2, (1 << fmt.mantissa_bits), top - 1, top]
        for c in picks:
            c = max(0, min(int(c), top))
            a = fmt.code_magnitude(c)
            b = fmt.code_magnitude(c + 1) if c < top else a + (a - fmt.code_magnitude(c - 1)
                                                               if c else a)  # fmt: skip
            grid += [a, (a + b) / 2, b]
    elif isinstance(fmt, IntFormat):
        for v in rng.integers(-(1 << 62), 1 << 62, n // 8):
            grid += [Fraction(int(v) >> int(rng.integers(0, 60)))]
        grid += [Fraction(fmt.max_int), Fraction(fmt.min_int), Fraction(fmt.max_int) + 1]
        grid += [g + Fraction(1, 2) for g in grid[: n // 8]]
    else:
        vals = fmt.values
        grid += list(vals) + [(a + b) / 2 for a, b in zip(vals, vals[1:], strict=False)]
    for g in grid:
        try:
            f = float(g)
        except OverflowError:
            continue
        for v in (f, -f, math.nextafter(f, math.inf), math.nextafter(f, -math.inf)):
            out.append(v)
    arr = np.array(out, dtype=np.float64)
    rng.shuffle(arr)
    return arr


@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=lambda f: f.name)
def test_random_float64_every_mode(fmt: Format) -> None:
    rng = np.random.default_rng(zlib.crc32(fmt.name.encode()))
    x = interesting_values(fmt, rng, 400)
    sats = (False, True) if isinstance(fmt, FloatFormat) else (False,)
    for mode in ROUND_MODES:
        for sat in sats:
            lanes = np.arange(x.size) if EXHAUSTIVE else rng.choice(x.size, 160, replace=False)
            lanes = np.union1d(lanes, np.arange(13))  # the fixed specials at the front...
            check(fmt, x, mode, saturate=sat, lanes=lanes, seed=int(rng.integers(0, 1 << 62)),
                  start_index=int(rng.integers(0, 1000)))  # fmt: skip


@pytest.mark.parametrize("fmt", [*BUILTIN_FLOATS, *CUSTOM_FLOATS], ids=lambda f: f.name)
def test_random_float32_input(fmt: FloatFormat) -> None:
    """float32 inputs (the fast path works in 32-bit words)."""
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 1 << 32, 3000, dtype=np.uint32)
    with np.errstate(over="ignore"):
        narrow = interesting_values(fmt, rng, 200).astype(np.float32)
    x = np.concatenate([bits.view(np.float32), narrow])
    lanes = rng.choice(x.size, 150, replace=False)
    for mode in ("nearest-even", "toward-zero", "up", "stochastic"):
        check(fmt, x, mode, lanes=lanes, saturate=mode == "up")
    fast = codec.round_array_with_flags(fmt, x, "nearest-away")
    codec.FAST_PATH = False
    try:
        slow = codec.round_array_with_flags(fmt, x, "nearest-away")
    finally:
        codec.FAST_PATH = True
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)


FLOAT_OR_TABLE = [f for f in ALL_FORMATS if not isinstance(f, IntFormat)]


@settings(deadline=None, max_examples=60)
@given(
    x=hnp.arrays(
        np.float64,
        st.integers(0, 40),
        elements=st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
    ),
    fmt=st.sampled_from(ALL_FORMATS),
    mode=st.sampled_from(ROUND_MODES),
    saturate=st.booleans(),
    seed=st.integers(0, M64),
    start=st.integers(0, 1 << 40),
)
def test_hypothesis_float64(
    x: np.ndarray, fmt: Format, mode: str, saturate: bool, seed: int, start: int
) -> None:
    check(fmt, x, mode, saturate=saturate, seed=seed, start_index=start)


@settings(deadline=None, max_examples=30)
@given(
    x=hnp.arrays(np.float32, st.integers(0, 30), elements=st.floats(width=32)),
    fmt=st.sampled_from([f for f in ALL_FORMATS if isinstance(f, FloatFormat)]),
    mode=st.sampled_from(ROUND_MODES),
)
def test_hypothesis_float32(x: np.ndarray, fmt: FloatFormat, mode: str) -> None:
    check(fmt, x, mode)


# ------------------------------------------------------------------ stochastic


def test_splitmix64_array_matches_scalar() -> None:
    rng = np.random.default_rng(3)
    xs = np.concatenate([rng.integers(0, 1 << 64, 2000, dtype=np.uint64),
                         np.array([0, 1, M64, M64 - 1, 1 << 63], dtype=np.uint64)])  # fmt: skip
    got = codec.splitmix64_array(xs)
    assert [int(v) for v in got] == [splitmix64(int(v)) for v in xs]


def test_stochastic_rands_match_scalar_draws() -> None:
    for seed in (0, 1, 2, M64 - 5, 1 << 63):
        got = codec.stochastic_rands(seed, 3, 10)
        assert [int(v) for v in got] == [stochastic_bits(seed, 3 + j) for j in range(10)]
    # the state wraps modulo 2^64 and is splitmix64(splitmix64(seed) + index)
    s0 = splitmix64(7)
    assert stochastic_bits(7, M64) == splitmix64((s0 + M64) & M64)


def test_nearby_seeds_are_unrelated_streams() -> None:
    a = [stochastic_bits(1, i) for i in range(1, 200)]
    b = [stochastic_bits(2, i) for i in range(0, 199)]
    assert a != b and not set(a) & set(b)


@pytest.mark.parametrize("name", ["bf16", "e4m3fn", "e2m1fn", "e8m0fnu", "fp16", "e5m2fnuz",
                                  "nf4", "int8", "uint4"])  # fmt: skip
def test_stochastic_seeded_chunked(name: str) -> None:
    """Long arrays cross chunk boundaries and leave lanes to the general path; every lane
    still draws the scalar path's bits for value number start + j."""
    fmt = get_format(name)
    rng = np.random.default_rng(11)
    n = 2 * codec.CHUNK + 1000
    x = (rng.standard_normal(n) * np.exp2(rng.integers(-12, 6, n))).astype(np.float32)
    x[::97] = 0.0
    x[5::101] = 1e-30
    seed = M64 - 1000
    lanes = np.concatenate([rng.choice(n, 300, replace=False), [codec.CHUNK - 1, codec.CHUNK]])
    check(fmt, x, "stochastic", seed=seed, start_index=123, lanes=lanes)
    a, _ = codec.round_array(fmt, x, "stochastic", seed=seed, start_index=123)
    b, _ = codec.round_array(fmt, x[500:], "stochastic", seed=seed, start_index=623)
    np.testing.assert_array_equal(a[500:], b)  # a slice continues the same stream


def test_stochastic_unseeded_picks_a_neighbour() -> None:
    fmt = get_format("e4m3fn")
    x = np.linspace(-400, 400, 5001)
    c, _ = codec.round_array(fmt, x, "stochastic")
    lo, _ = codec.round_array(fmt, x, "toward-zero")
    hi, _ = codec.round_array(fmt, x, "nearest-away")
    up, _ = codec.round_array(fmt, x, "up")
    dn, _ = codec.round_array(fmt, x, "down")
    assert np.all((c == up) | (c == dn))
    assert np.any(c != lo) and np.any(c != hi)


def test_stochastic_is_unbiased_roughly() -> None:
    fmt = get_format("bf16")
    x = np.full(200_000, 1.0 + 2.0**-9)  # a quarter of the way from 1 to the next bf16
    c, _ = codec.round_array(fmt, x, "stochastic", seed=42)
    frac = float(np.mean(c == 0x3F81))
    assert abs(frac - 0.25) < 0.01


# ------------------------------------------------------------ integer / table


@pytest.mark.parametrize("name", ["int8", "uint8", "int4", "uint2", "int32", "int64", "uint64"])
@pytest.mark.parametrize("scale", [None, 0.25, 8.0, 2.0**-40])
def test_int_scale_zero_point(name: str, scale: float | None) -> None:
    fmt = get_format(name)
    assert isinstance(fmt, IntFormat)
    rng = np.random.default_rng(5)
    x = interesting_values(fmt, rng, 200)
    if scale is not None:
        with np.errstate(over="ignore"):
            x = np.concatenate([x, x * scale])
    zps = [None, fmt.min_int, fmt.max_int, (fmt.min_int + fmt.max_int) // 2 + 1]
    lanes = rng.choice(x.size, 120, replace=False)
    for zp in zps:
        for mode in ROUND_MODES:
            check(fmt, x, mode, scale=scale, zero_point=zp, lanes=lanes)


@pytest.mark.parametrize("scale", [None, 0.5, 4.0, 2.0**-20])
def test_nf4_scaled(scale: float | None) -> None:
    fmt = get_format("nf4")
    assert isinstance(fmt, TableFormat)
    rng = np.random.default_rng(9)
    s = 1.0 if scale is None else scale
    with np.errstate(over="ignore"):
        x = np.concatenate([interesting_values(fmt, rng, 300) * s,
                            rng.uniform(-1.2, 1.2, 300) * s])  # fmt: skip
    for mode in ROUND_MODES:
        check(fmt, x, mode, scale=scale)


def test_table_stochastic_fallback_lanes() -> None:
    """Lanes whose random word sits within the float estimate's error go through the
    exact scalar path; force some by picking x so that P * 2**64 equals the word."""
    fmt = get_format("nf4")
    assert isinstance(fmt, TableFormat)
    seed = 77
    n = 64
    r = codec.stochastic_rands(seed, 0, n)
    lo, hi = fmt.values[8], fmt.values[9]
    xs = []
    for j in range(n):
        p = Fraction(int(r[j]), 1 << 64)
        xs.append(float(lo + p * (hi - lo)))  # P(up) within rounding error of r / 2**64
    check(fmt, np.array(xs), "stochastic", seed=seed)


# --------------------------------------------------------------------- errors


def test_rejected_inputs() -> None:
    fmt = get_format("e4m3fn")
    with pytest.raises(TypeError):
        codec.round_array(fmt, np.arange(4))
    with pytest.raises(UsageError):
        codec.round_array(get_format("int8"), np.ones(3), scale=0.1)
    with pytest.raises(UsageError):
        codec.round_array(get_format("int8"), np.ones(3), zero_point=300)
    with pytest.raises(UsageError):
        codec.round_array(fmt, np.ones(3), scale=2.0)
    with pytest.raises(UsageError):
        codec.round_array(fmt, np.ones(3), "sideways")
    with pytest.raises(UsageError):
        codec.round_array(get_format("nf4"), np.ones(3), zero_point=1)


def test_shapes_dtypes_aliases() -> None:
    x = np.linspace(-3, 3, 24).reshape(2, 3, 4)
    for name, dt in [("e2m1fn", np.uint8), ("bf16", np.uint16), ("tf32", np.uint32),
                     ("fp64", np.uint64), ("e6m25", np.uint32), ("int4", np.uint8)]:  # fmt: skip
        c, inv = codec.round_array(get_format(name), x, "rne")
        assert c.dtype == dt and c.shape == x.shape and inv.shape == x.shape
    c, inv = codec.round_array(get_format("fp8"), np.array([], dtype=np.float16))
    assert c.size == 0 and inv.size == 0
    nan_in = np.array([1.0, np.nan, -np.nan])
    for name in ("e2m1fn", "e3m2fn", "e2m3fn", "int8", "uint8", "nf4"):
        c, inv = codec.round_array(get_format(name), nan_in)
        assert inv.tolist() == [False, True, True] and int(c[1]) == int(c[2]) == 0


def test_identity_paths_canonicalise_nan() -> None:
    rng = np.random.default_rng(1)
    for name, dt, ut in [("fp64", np.float64, np.uint64), ("fp32", np.float32, np.uint32),
                         ("fp16", np.float16, np.uint16)]:  # fmt: skip
        fmt = get_format(name)
        bits = rng.integers(0, np.iinfo(ut).max, 5000, dtype=ut, endpoint=True)
        bits[:4] = [fmt.inf_code(), fmt.inf_code() + 1, fmt.sign_mask | fmt.inf_code() + 5, 0]
        x = bits.view(dt)
        for mode in ("nearest-even", "stochastic"):
            check(fmt, x, mode, lanes=np.arange(300))


# -------------------------------------------------------------------- decoding


def expected_value(fmt: Format, code: int) -> float:
    if isinstance(fmt, FloatFormat):
        if fmt.is_nan(code):
            return math.nan
        if fmt.is_inf(code):
            return -math.inf if fmt.fields(code)[0] else math.inf
        v = fmt.code_value(code)
        f = float(v)
        assert Fraction(f) == v
        return -0.0 if v == 0 and fmt.fields(code)[0] else f
    return float(fmt.code_value(code))


def assert_decodes(fmt: Format, codes: np.ndarray) -> None:
    got = codec.decode_array(fmt, codes)
    assert got.dtype == np.float64 and got.shape == codes.shape
    for c, g in zip(codes.tolist(), got.tolist(), strict=True):
        want = expected_value(fmt, c)
        if math.isnan(want):
            assert math.isnan(g), (fmt.name, hex(c), g)
        else:
            assert g == want and math.copysign(1, g) == math.copysign(1, want), (
                fmt.name, hex(c), g, want)  # fmt: skip


SMALL_FORMATS = [f for f in ALL_FORMATS if f.bits <= 16 and f.name != "e15m0fn"]


@pytest.mark.parametrize("fmt", SMALL_FORMATS, ids=lambda f: f.name)
def test_decode_every_code(fmt: Format) -> None:
    assert_decodes(fmt, np.arange(1 << fmt.bits, dtype=np.uint64))


@pytest.mark.parametrize("name", ["tf32", "fp32", "fp64", "e11m52", "e8m52fn", "e6m25",
                                  "e9m6fn", "e10m40fnuz", "e9m23", "int32", "uint32", "int64",
                                  "uint64"])  # fmt: skip
def test_decode_sampled_codes(name: str) -> None:
    fmt = get_format(name)
    rng = np.random.default_rng(2)
    top = (1 << fmt.bits) - 1
    codes = rng.integers(0, top, 3000, dtype=np.uint64, endpoint=True)
    if isinstance(fmt, FloatFormat):
        M = fmt.mantissa_bits
        edges = [0, 1, fmt.mant_mask, 1 << M, fmt.max_code, fmt.sign_mask | 1, top,
                 fmt.sign_mask, fmt.sign_mask | fmt.max_code]  # fmt: skip
        if fmt.has_inf:
            edges += [fmt.inf_code(), fmt.inf_code(True), fmt.nan_code(), fmt.nan_code(True)]
        codes = np.concatenate([codes, np.array(edges, dtype=np.uint64)])
    else:  # integers: keep only those float64 holds exactly, and the edges
        codes = codes >> np.uint64(max(0, fmt.bits - 50))
        edges = [0, 1, top, top - 1, 1 << (fmt.bits - 1), (1 << (fmt.bits - 1)) - 1,
                 (1 << (fmt.bits - 1)) + (1 << 11), top - (1 << 11) + 1]  # fmt: skip
        edges = [e for e in edges if Fraction(float(fmt.code_value(e))) == fmt.code_value(e)]
        codes = np.concatenate([codes, np.array(edges, dtype=np.uint64)])
    assert_decodes(fmt, codes)


def test_decode_rejects_what_float64_cannot_hold() -> None:
    for name in ("e15m48", "e15m0fn", "e13m50fnuz", "e12m51"):
        with pytest.raises(ValueError, match="float64 cannot hold"):
            codec.decode_array(get_format(name), np.array([1], dtype=np.uint64))
    with pytest.raises(ValueError, match="float64 cannot hold"):
        codec.decode_array(get_format("uint64"), np.array([M64], dtype=np.uint64))
    with pytest.raises(ValueError, match="float64 cannot hold"):
        codec.decode_array(get_format("int64"), np.array([(1 << 62) + 1], dtype=np.uint64))
    with pytest.raises(CodeRangeError):
        codec.decode_array(get_format("e4m3fn"), np.array([256]))
    with pytest.raises(CodeRangeError):
        codec.decode_array(get_format("e4m3fn"), np.array([-1]))


def test_round_trip_of_every_fp8_value() -> None:
    """decode then round: every non-NaN code comes back (nearest-even, any mode)."""
    for f in SMALL_FLOATS:
        if f.bits > 8:
            continue
        codes = np.arange(1 << f.bits, dtype=np.uint64)
        vals = codec.decode_array(f, codes)
        for mode in DETERMINISTIC:
            back, inv = codec.round_array(f, vals, mode)
            ok = ~np.isnan(vals)
            if f.specials == "fnuz":
                ok &= codes != 0  # (0x00 stays; its -0 twin does not exist)
            np.testing.assert_array_equal(back[ok], codes[ok])


# -------------------------------------------------------------------- printing


@pytest.mark.parametrize("bits", [1, 2, 4, 5, 6, 8, 9, 16, 19, 32, 33, 48, 63, 64])
def test_hex_strings(bits: int) -> None:
    rng = np.random.default_rng(bits)
    top = (1 << bits) - 1
    codes = np.concatenate([rng.integers(0, top, 500, dtype=np.uint64, endpoint=True),
                            np.array([0, top], dtype=np.uint64)])  # fmt: skip
    width = (bits + 3) // 4
    want = b"".join(b"0x%0*x\n" % (width, int(c)) for c in codes)
    assert codec.hex_strings(codes, width) == want
    for dt in (np.uint8, np.uint16, np.uint32, np.int64):
        if bits <= np.iinfo(dt).bits and not (dt == np.int64 and bits == 64):
            assert codec.hex_strings(codes.astype(dt), width) == want


def test_hex_strings_formats_and_errors() -> None:
    for fmt in ALL_FORMATS:
        codes = np.arange(min(1 << fmt.bits, 300), dtype=np.uint64)
        want = b"".join(b"0x%0*x\n" % (fmt.hex_digits, int(c)) for c in codes)
        assert codec.hex_strings(codes, fmt) == want
    assert codec.hex_strings(np.array([], dtype=np.uint8), get_format("e4m3fn")) == b""
    with pytest.raises(CodeRangeError):
        codec.hex_strings(np.array([0x100]), get_format("e4m3fn"))
    with pytest.raises(CodeRangeError):
        codec.hex_strings(np.array([-1]), 4)


# --------------------------------------------------------- independent oracle


def test_matches_ml_dtypes_float32_casts() -> None:
    """ml_dtypes' float32 casts round once, nearest-even, non-saturating."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.integers(0, 1 << 32, 100_000, dtype=np.uint32).view(np.float32),
                        (rng.standard_normal(100_000) * 100).astype(np.float32)])  # fmt: skip
    for name, dt in [("bf16", ml_dtypes.bfloat16), ("e4m3fn", ml_dtypes.float8_e4m3fn),
                     ("e5m2", ml_dtypes.float8_e5m2), ("e4m3fnuz", ml_dtypes.float8_e4m3fnuz),
                     ("e5m2fnuz", ml_dtypes.float8_e5m2fnuz), ("fp16", np.float16)]:  # fmt: skip
        fmt = get_format(name)
        with np.errstate(over="ignore", invalid="ignore"):
            ref = x.astype(dt)
        c, _ = codec.round_array(fmt, x)
        ours = codec.decode_array(fmt, c)
        theirs = ref.astype(np.float64)
        nan = np.isnan(theirs)
        np.testing.assert_array_equal(np.isnan(ours), nan, err_msg=name)
        np.testing.assert_array_equal(ours[~nan], theirs[~nan], err_msg=name)
        np.testing.assert_array_equal(np.signbit(ours[~nan]), np.signbit(theirs[~nan]))
