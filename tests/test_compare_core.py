"""precli.array.intquant and precli.model.stats: array statistics and scaled quantization.

Float targets are checked against casts done by ml_dtypes / numpy from float32 inputs, with
the statistics recomputed here the straightforward way (numpy means, the SQNR formula,
overflow decided from the cast result or from a hand-derived threshold). Integer, NF4,
MX and NVFP4 results are checked on hand-made inputs whose arithmetic is written out in
the comments, and against the definitions in the module docstrings. Every test runs with
floating-point warnings turned into errors.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterator
from fractions import Fraction
from typing import Any, NamedTuple

import ml_dtypes
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from precli.array import codec
from precli.array.intquant import apply_int, int_bounds, int_params, quantize_int
from precli.array.recipes import (
    Defaults,
    block_quantize,
    nvfp4_tensor_scale,
    parse_recipe,
    quantize_tile,
)
from precli.array.tiles import iter_blocks
from precli.core.formats import (
    FloatFormat,
    IntFormat,
    block_formats,
    effective_bits,
    get_block_format,
    get_format,
)
from precli.errors import UnknownFormatError, UsageError
from precli.model.stats import (
    RECORD_KEYS,
    CompareStats,
    Values,
    compare_array,
    compare_values,
    resolve_recipes,
)


@pytest.fixture(autouse=True)
def _warnings_are_errors() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


NAN = math.nan
NF4 = [float(v) for v in get_format("nf4").values]  # exact float32 values, ascending

# precli name -> numpy / ml_dtypes type with the same encoding
ORACLE_TYPES: dict[str, Any] = {
    "fp16": np.float16,
    "bf16": ml_dtypes.bfloat16,
    "e5m2": ml_dtypes.float8_e5m2,
    "e4m3fn": ml_dtypes.float8_e4m3fn,
    "e3m2fn": ml_dtypes.float6_e3m2fn,
    "e2m3fn": ml_dtypes.float6_e2m3fn,
    "e2m1fn": ml_dtypes.float4_e2m1fn,
}
# Formats without inf / NaN saturate in ml_dtypes, so overflow is decided by magnitude:
# the rounded magnitude passes max when |x| reaches the midpoint between max and the next
# point of the grid extended upward; max's mantissa is all ones (odd) in all three, so a
# tie rounds up to the even neighbour, past max:
#   e2m1fn: max 6   = 1.1b   * 2^2, next 8,  midpoint 7
#   e3m2fn: max 28  = 1.11b  * 2^4, next 32, midpoint 30
#   e2m3fn: max 7.5 = 1.111b * 2^2, next 8,  midpoint 7.75
SATURATING_THRESHOLD = {"e2m1fn": 7.0, "e3m2fn": 30.0, "e2m3fn": 7.75}


def oracle_cast(name: str, x32: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(result as float64, overflow mask) of casting float32 inputs."""
    with np.errstate(over="ignore", invalid="ignore"):
        r = x32.astype(ORACLE_TYPES[name]).astype(np.float64)
    fin = np.isfinite(x32)
    if name in SATURATING_THRESHOLD:
        over = fin & (np.abs(x32.astype(np.float64)) >= SATURATING_THRESHOLD[name])
    else:
        over = fin & ~np.isfinite(r)
    return r, over


def oracle_stats(
    x: np.ndarray, r: np.ndarray, over: np.ndarray, smallest_normal: float | None
) -> dict[str, Any]:
    """The statistics of the contract, computed directly (float64 inputs of modest size)."""
    x = x.astype(np.float64).reshape(-1)
    r = r.reshape(-1)
    fin = np.isfinite(x)
    lanes = fin & np.isfinite(r)
    xs, rs = x[lanes], r[lanes]
    e = np.abs(xs - rs)
    lost = int((fin & ~np.isfinite(r)).sum())
    out: dict[str, Any] = {
        "count": x.size,
        "nan_in": int(np.isnan(x).sum()),
        "lost": lost,
        "overflow": int((over.reshape(-1) & fin).sum()),
        "underflow": int((fin & (x != 0) & (r == 0)).sum()),
        "subnormal": 0
        if smallest_normal is None
        else int(  # (NaN inputs have no result)
            (~np.isnan(x) & np.isfinite(r) & (r != 0) & (np.abs(r) < smallest_normal)).sum()
        ),
        "exact_fraction": float((lanes & (x == r)).sum() / fin.sum()) if fin.any() else None,
    }
    if lost:  # errors are over every finite input: a lost one makes them infinite
        out.update(max_abs_error="inf", mean_abs_error="inf", rmse="inf", max_rel_error="inf",
                   sqnr_db="-inf")
        return out
    if e.size == 0:
        out.update(
            max_abs_error=None, mean_abs_error=None, rmse=None, max_rel_error=None, sqnr_db=None
        )
        return out
    nz = xs != 0
    out.update(
        max_abs_error=float(e.max()),
        mean_abs_error=float(np.mean(e)),
        rmse=float(np.sqrt(np.mean(e**2))),
        max_rel_error=float(np.max(e[nz] / np.abs(xs[nz]))) if nz.any() else None,
        sqnr_db=(float(10 * np.log10(np.sum(xs**2) / np.sum(e**2))) if e.max() > 0 else "inf"),
    )
    return out


EXACT_KEYS = (
    "count",
    "nan_in",
    "lost",
    "overflow",
    "underflow",
    "subnormal",
    "exact_fraction",
    "max_abs_error",
    "max_rel_error",
)


def assert_stats(got: CompareStats, want: dict[str, Any], rel: float = 1e-12) -> None:
    rec = got.to_record()
    for k, v in want.items():
        g = rec[k]
        if v is None or k in EXACT_KEYS or isinstance(v, str):
            assert g == v, (got.format, k, g, v)
        else:
            assert g is not None and math.isclose(g, v, rel_tol=rel, abs_tol=1e-9), (
                got.format,
                k,
                g,
                v,
            )


def one(target: str, x: Any, **kw: Any) -> CompareStats:
    return compare_array([target], np.asarray(x), **kw)[0]


# ====================================================================== float targets


FLOAT32_ARRAYS = hnp.arrays(
    np.float32,
    st.integers(1, 300),
    elements=st.one_of(
        st.floats(width=32),  # anything, NaN and inf included
        st.floats(-10.0, 10.0, width=32),
        st.floats(-(2.0**-17), 2.0**-17, width=32),
        st.floats(-1e5, 1e5, width=32),
    ),
)


@settings(deadline=None, max_examples=150)
@given(FLOAT32_ARRAYS)
def test_float_targets_match_ml_dtypes_casts(x: np.ndarray) -> None:
    stats = compare_array(list(ORACLE_TYPES), x)
    for name, got in zip(ORACLE_TYPES, stats, strict=True):
        r, over = oracle_cast(name, x)
        sn = float(ml_dtypes.finfo(ORACLE_TYPES[name]).smallest_normal)
        assert_stats(got, oracle_stats(x, r, over, sn))


def test_float_stats_by_hand() -> None:
    # bf16 keeps 8 significant bits: 1 + 2^-8 is a tie -> 1 (even); 1 + 3 * 2^-8 is a tie
    # -> 1 + 2^-6 (1 + 2^-7 is odd); 3 is exact; 2^-130 is a bf16 subnormal (emin -126,
    # 7 mantissa bits: subnormals down to 2^-133), exact. nan and inf are not finite.
    x = np.array([1 + 2**-8, 1 + 3 * 2**-8, 3.0, 2.0**-130, NAN, np.inf], dtype=np.float32)
    s = one("bf16", x)
    e1, e2 = 2.0**-8, 2.0**-8  # |1 + 2^-8 - 1|, |1 + 3*2^-8 - (1 + 2^-6)|
    assert s.count == 6 and s.nan_in == 1 and s.overflow == 0 and s.underflow == 0
    assert s.subnormal == 1  # 2^-130 < bf16's smallest normal 2^-126
    assert s.exact_fraction == 2 / 4  # 4 finite inputs (inf is not), 3 and 2^-130 exact
    assert s.max_abs_error == 2.0**-8
    assert s.mean_abs_error == pytest.approx((e1 + e2) / 4, rel=1e-15)
    assert s.rmse == pytest.approx(math.sqrt((e1**2 + e2**2) / 4), rel=1e-15)
    assert s.max_rel_error == 2.0**-8 / (1 + 2**-8)
    sig = (1 + 2**-8) ** 2 + (1 + 3 * 2**-8) ** 2 + 9 + 2.0**-260
    assert s.sqnr_db == pytest.approx(10 * math.log10(sig / (e1**2 + e2**2)), rel=1e-13)


def test_overflow_counts_whatever_the_policy() -> None:
    # e4m3fn: max 448, the midpoint to the next grid point (480) is 464 and ties to 448
    # (mantissa 110, even): 464 is no overflow, 465 is. -1e4 overflows.
    x = np.array([464.0, 465.0, -1e4, 1.0])
    plain = one("e4m3fn", x)  # non-saturating: NaN results, lost: errors are infinite
    sat = one("e4m3fn", x, saturate=True)  # saturating: +-448, finite errors
    assert plain.overflow == sat.overflow == 2
    assert plain.lost == 2 and sat.lost == 0
    assert plain.max_abs_error == math.inf and plain.sqnr_db == -math.inf
    assert sat.max_abs_error == 1e4 - 448
    # toward-zero: 465 rounds down to 448 (no overflow); -1e4 passes max on the grid
    # (anything from 480 up), and is clamped to -448: still counted
    assert one("e4m3fn", x, mode="toward-zero").overflow == 1
    # inf is not a finite input: never an overflow
    assert one("fp16", np.array([np.inf, -np.inf, 70000.0])).overflow == 1


def test_underflow_and_subnormal_definitions() -> None:
    # fp16: smallest subnormal 2^-24, smallest normal 2^-14. 2^-26 rounds to 0 (underflow),
    # 2^-25 is a tie with 0 -> 0 (even), 3 * 2^-26 rounds to 2^-24 (subnormal), 2^-14 is
    # normal, -0 and 0 are not underflows (zero inputs).
    x = np.array([2.0**-26, 2.0**-25, 3 * 2.0**-26, 2.0**-14, -0.0, 0.0])
    s = one("fp16", x)
    assert (s.underflow, s.subnormal) == (2, 1)
    assert s.max_rel_error == 1.0


def test_exact_inputs_have_infinite_sqnr() -> None:
    codes = np.arange(0, 1 << 16, 7, dtype=np.uint16)
    vals = codes.view(ml_dtypes.bfloat16).astype(np.float32)
    vals = vals[np.isfinite(vals)]
    s = one("bf16", vals)
    assert s.exact_fraction == 1.0
    assert s.max_abs_error == s.rmse == s.mean_abs_error == 0.0
    assert s.sqnr_db == math.inf and s.lost == 0
    rec = s.to_record()  # "inf" in JSON: never confused with null (no finite input)
    assert rec["sqnr_db"] == "inf" and rec["max_rel_error"] == 0.0


def test_no_finite_input_gives_nulls() -> None:
    s = one("bf16", np.array([NAN, np.inf, -np.inf]))
    rec = s.to_record()
    assert rec["count"] == 3 and rec["nan_in"] == 1 and rec["exact_fraction"] is None
    for k in ("max_abs_error", "mean_abs_error", "rmse", "max_rel_error", "sqnr_db"):
        assert rec[k] is None
    empty = one("int8", np.zeros(0, np.float32)).to_record()
    assert empty["count"] == 0 and empty["exact_fraction"] is None
    assert empty["bits_per_value"] is None and empty["sqnr_db"] is None


def test_record_keys_and_types() -> None:
    assert RECORD_KEYS == (
        "format", "count", "nan_in", "lost", "overflow", "underflow", "subnormal",
        "exact_fraction", "max_abs_error", "mean_abs_error", "rmse", "max_rel_error",
        "sqnr_db", "bits_per_value", "scaling", "block", "scale_format", "scheme", "scale",
        "zero_point", "scale_count", "scale_min", "scale_max", "scale_nan", "tensor_scale", "note",
        "recommended",
    )  # fmt: skip
    rec = one("int8", np.array([1.0, -2.0, 0.5])).to_record()
    assert list(rec) == list(RECORD_KEYS)
    assert isinstance(rec["zero_point"], int) and isinstance(rec["scale"], float)
    assert one("fp16", np.array([1.0])).to_record()["scale"] is None


def test_formats_float64_cannot_hold_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        one("e15m48", np.array([1.0]))


def test_quantized_targets_need_nearest_even() -> None:
    with pytest.raises(UsageError):
        one("int8", np.array([1.0]), mode="toward-zero")
    with pytest.raises(UsageError):
        one("mxfp4", np.array([1.0]), mode="up")


# ====================================================================== integers


def test_int8_symmetric_by_hand() -> None:
    # absmax 254 -> scale 254 / 127 = 2; x / 2 = [127, -1.5, 2.5, 0.5, -127, 0]
    # rint (half to even) -> [127, -2, 2, 0, -127, 0]; dequant = q * 2
    x = np.array([254.0, -3.0, 5.0, 1.0, -254.0, 0.0])
    r = quantize_int("int8", x)
    assert float(r.params.scale) == 2.0 and float(r.params.zero_point) == 0.0
    assert r.dequant.tolist() == [254.0, -4.0, 4.0, 0.0, -254.0, 0.0]
    assert r.codes.tolist() == [0x7F, 0xFE, 0x02, 0x00, 0x81, 0x00]  # two's complement
    assert r.codes.dtype == np.uint8 and not r.overflow.any()
    s = one("int8", x)
    # errors [0, 1, 1, 1, 0, 0]; relative 1/3, 1/5, 1/1
    assert (s.underflow, s.overflow, s.exact_fraction) == (1, 0, 0.5)
    assert (s.max_abs_error, s.mean_abs_error, s.max_rel_error) == (1.0, 0.5, 1.0)
    assert s.rmse == pytest.approx(math.sqrt(3 / 6), rel=1e-15)
    sig = 2 * 254**2 + 9 + 25 + 1
    assert s.sqnr_db == pytest.approx(10 * math.log10(sig / 3), rel=1e-14)
    assert (s.scale, s.zero_point) == (2.0, 0)


def test_uint8_asymmetric_zero_point_rounding_clamps_an_end() -> None:
    # min -127.5, max 127.5 -> scale 255 / 255 = 1; zero point rint(0 - (-127.5)) = 128
    # (127.5 ties to even). -127.5 -> rint(-127.5) + 128 = -128 + 128 = 0;
    # 127.5 -> 128 + 128 = 256 -> clamped to 255 (overflow); 1.5 -> 2 + 128 = 130.
    x = np.array([-127.5, 127.5, 0.0, 1.5])
    r = quantize_int("uint8", x, scheme="asymmetric")
    assert float(r.params.scale) == 1.0 and float(r.params.zero_point) == 128.0
    assert r.codes.tolist() == [0, 255, 128, 130]
    assert r.dequant.tolist() == [-128.0, 127.0, 0.0, 2.0]
    assert r.overflow.tolist() == [False, True, False, False]
    assert one("uint8", x, scheme="asymmetric").overflow == 1


def test_int4_asymmetric_by_hand() -> None:
    # range [0, 30] (min extended to 0) -> scale 30 / (7 - (-8)) = 2; zero point
    # rint(-8 - 0 / 2) = -8. 7 / 2 = 3.5 -> 4 (even) -> -4; 3 / 2 = 1.5 -> 2 -> -6.
    x = np.array([0.0, 30.0, 7.0, 3.0])
    r = quantize_int("int4", x, scheme="asymmetric")
    assert float(r.params.scale) == 2.0 and float(r.params.zero_point) == -8.0
    assert r.codes.tolist() == [0x8, 0x7, 0xC, 0xA]  # -8, 7, -4, -6 in 4-bit two's complement
    assert r.dequant.tolist() == [0.0, 30.0, 8.0, 4.0]


def test_unsigned_symmetric_is_pytorch_quint8() -> None:
    # PyTorch's quint8 symmetric: zero point 128, scale absmax / ((255 - 0) / 2) = 2.
    # -10 / 2 = -5 -> 123 (kept: negatives are not clamped to 0); 255 / 2 = 127.5 ->
    # 128 (even) + 128 = 256 -> clamped to 255 (an overflow), dequant 254; 1 / 2 -> 0.
    r = quantize_int("uint8", np.array([-10.0, 255.0, 1.0]))
    assert float(r.params.scale) == 2.0 and float(r.params.zero_point) == 128.0
    assert r.codes.tolist() == [123, 255, 128]
    assert r.dequant.tolist() == [-10.0, 254.0, 0.0]
    assert r.overflow.tolist() == [False, True, False]
    s = one("uint8", np.array([-10.0, 255.0, 1.0]))
    assert (s.scale, s.zero_point, s.overflow, s.lost) == (2.0, 128, 1, 0)


def test_zero_range_and_nan() -> None:
    z = np.zeros(5)
    for scheme, zp in (("symmetric", 0), ("asymmetric", -128)):
        r = quantize_int("int8", z, scheme=scheme)
        # no range: scale 1; asymmetric zero point = qmin - 0 / 1 = -128 (as PyTorch)
        assert float(r.params.scale) == 1.0 and float(r.params.zero_point) == zp
        assert r.dequant.tolist() == [0.0] * 5
    # the range comes from the finite values; NaN lanes: zero point's code, NaN dequant
    r = quantize_int("int8", np.array([NAN, 127.0, np.inf, -np.inf]))
    assert float(r.params.scale) == 1.0
    assert r.codes.tolist() == [0, 127, 127, 0x80]  # -inf clamps to qmin = -128
    assert r.invalid.tolist() == [True, False, False, False]
    assert np.isnan(r.dequant[0]) and r.dequant[1:].tolist() == [127.0, 127.0, -128.0]
    assert r.overflow.tolist() == [False, False, True, True]
    s = one("int8", np.array([NAN, 127.0, np.inf, -np.inf]))
    assert (s.nan_in, s.overflow, s.exact_fraction) == (1, 0, 1.0)  # inf is not finite
    # a tiny nonzero range whose scale underflows float64
    t = quantize_int("int8", np.array([5e-324, 0.0]))
    assert float(t.params.scale) == 5e-324 and not np.isnan(t.dequant).any()


@settings(deadline=None, max_examples=80)
@given(
    hnp.arrays(np.float64, st.integers(1, 40), elements=st.floats(-1e6, 1e6)),
    st.sampled_from(["int8", "uint8", "int4", "int2", "int16", "uint4", "int32"]),
    st.sampled_from(["symmetric", "asymmetric"]),
)
@example(np.array([5e-324]), "int8", "symmetric")  # a scale that underflows float64
@example(np.array([-5e-324, 5e-324]), "uint8", "asymmetric")
def test_int_quantization_matches_the_definitions(x: np.ndarray, name: str, scheme: str) -> None:
    fmt = get_format(name)
    assert isinstance(fmt, IntFormat)
    qmin, qmax = float(fmt.min_int), float(fmt.max_int)
    lo, hi = min(x.min(), 0.0), max(x.max(), 0.0)
    if scheme == "symmetric" and fmt.signed:
        scale, zp = max(-lo, hi) / qmax, 0.0
    elif scheme == "symmetric":  # PyTorch quint8: the middle code is zero
        scale, zp = max(-lo, hi) / ((qmax - qmin) / 2), float((fmt.min_int + fmt.max_int + 1) // 2)
    else:
        scale = (hi - lo) / (qmax - qmin)
    if scale == 0 and hi - lo != 0:  # the documented floor: the smallest float64, 2**-1074
        scale = 2.0**-1074
    if scheme == "asymmetric":
        zp = float(np.clip(np.rint(qmin - lo / scale), qmin, qmax)) if scale else 0.0
    if hi - lo == 0:
        scale = 1.0
        zp = qmin if scheme == "asymmetric" else zp
    r = quantize_int(fmt, x, scheme=scheme)
    assert float(r.params.scale) == scale and float(r.params.zero_point) == zp
    raw = np.rint(x / scale) + zp
    q = np.clip(raw, qmin, qmax)
    assert r.dequant.tolist() == ((q - zp) * scale).tolist()
    assert r.overflow.tolist() == ((raw < qmin) | (raw > qmax)).tolist()
    assert codec.decode_array(fmt, r.codes).tolist() == q.tolist()
    if scheme == "symmetric" and fmt.signed:
        assert not r.overflow.any()  # the absmax itself lands on +-qmax


def test_64_bit_bounds_and_no_spurious_overflow() -> None:
    i64, u64 = get_format("int64"), get_format("uint64")
    assert isinstance(i64, IntFormat) and isinstance(u64, IntFormat)
    # max_int rounded toward zero to float64: 2^63 - 1 -> 2^63 - 1024, 2^64 - 1 -> 2^64 - 2048
    assert int_bounds(i64) == (-(2.0**63), 2.0**63 - 1024)
    assert int_bounds(u64) == (0.0, 2.0**64 - 2048)
    rng = np.random.default_rng(5)
    for _ in range(50):
        x = rng.standard_normal(17) * 10.0 ** rng.integers(-30, 30)
        r = quantize_int(i64, x)
        assert not r.overflow.any()
    r = quantize_int(i64, np.array([-1.0, 1.0]))
    # 1 / (1 / (2^63 - 1024)) is 2^63 - 2048 in float64: one float step below the bound
    assert r.codes.dtype == np.uint64 and 2**63 - 2048 <= int(r.codes[1]) <= 2**63 - 1024


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_per_channel(axis: int) -> None:
    x = np.array([[1.0, -2.0, 4.0, 0.5], [-8.0, 16.0, 0.25, 1.0], [0.0, 0.0, 0.0, 0.0]])
    r = quantize_int("int8", x, granularity="channel", axis=axis)
    ax = axis % 2
    absmax = np.abs(x).max(axis=1 - ax)
    want = np.where(absmax == 0, 1.0, absmax / 127)  # the all-zero row gets scale 1
    assert r.params.scale.tolist() == want.tolist() and r.params.axis == ax
    for i in range(x.shape[ax]):
        piece = np.take(x, i, axis=ax)
        alone = quantize_int("int8", piece)
        assert np.take(r.dequant, i, axis=ax).tolist() == alone.dequant.tolist()
        assert np.take(r.codes, i, axis=ax).tolist() == alone.codes.tolist()
    s = one("int8", x, granularity="channel", axis=axis)
    assert s.scale is None and s.scale_count == x.shape[ax]
    assert (s.scale_min, s.scale_max) == (want.min(), want.max())
    assert s.max_abs_error == np.abs(x - r.dequant).max()


def test_per_channel_asymmetric_hand() -> None:
    # axis 1 of a 2x2: column 0 range [-1, 3] -> scale 4 / 255, column 1 range [0, 510]
    # -> scale 2, zero point rint(0 - 0) = 0 for uint8
    x = np.array([[-1.0, 510.0], [3.0, 2.0]])
    r = quantize_int("uint8", x, scheme="asymmetric", granularity="channel", axis=1)
    assert r.params.scale.tolist() == [4 / 255, 2.0]
    assert r.params.zero_point.tolist() == [float(np.rint(0 - (-1) / (4 / 255))), 0.0]
    assert r.dequant[:, 1].tolist() == [510.0, 2.0]


def test_int_params_and_apply_with_channel_indices() -> None:
    fmt = get_format("int8")
    assert isinstance(fmt, IntFormat)
    p = int_params(fmt, np.array([-1.0, -4.0]), np.array([2.0, 1.0]), axis=0)
    assert p.scale.tolist() == [2 / 127, 4 / 127]
    x = np.array([[2.0, -1.0], [-4.0, 1.0]])
    whole = apply_int(p, x)
    rows = [apply_int(p, x[i], channel=np.array(i)) for i in range(2)]
    assert whole.dequant.tolist() == [r.dequant.tolist() for r in rows]
    with pytest.raises(ValueError):
        apply_int(p, np.zeros((3, 2)))  # 3 rows, 2 channels, no indices
    with pytest.raises(UsageError):
        int_params(fmt, 0.0, 1.0, scheme="affine")
    with pytest.raises(UsageError):
        quantize_int("int8", x, granularity="group")
    with pytest.raises(UsageError):
        quantize_int("int8", x, granularity="channel", axis=2)


# ====================================================================== nf4


class NF4Out(NamedTuple):
    codes: np.ndarray
    absmax: np.ndarray
    dequant: np.ndarray
    invalid: np.ndarray


def quantize_nf4(x: np.ndarray, block_size: int = 64) -> NF4Out:
    """NF4 absmax groups of one row (a 1-D array), through the recipe engine."""
    r = parse_recipe("nf4", Defaults(block_size=block_size))
    res = quantize_tile(r, np.asarray(x, np.float64).reshape(1, -1))
    assert res.scales is not None
    return NF4Out(res.codes.reshape(-1), res.scales, res.dequant.reshape(-1),
                  np.isnan(np.asarray(x)))


def test_nf4_block_by_hand() -> None:
    # block_size 4: blocks [2, -1, 0.5, 0], [0, 0, 0, 0], tail [1, 2]
    # block 0: absmax 2, x / 2 = [1, -0.5, 0.25, 0]: 1 is code 15; -0.5 lies between
    # -0.5251 (code 2) and -0.3949 (code 3), nearer code 2; 0.25 between 0.2461 (code 10)
    # and 0.3379 (11) -> 10; 0 is code 7. Block 1: absmax 0 -> code 7, dequant 0.
    # Tail: absmax 2, [0.5, 1]: 0.5 between 0.4407 (12) and 0.5626 (13) -> 12; 1 -> 15.
    x = np.array([2.0, -1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0])
    r = quantize_nf4(x, 4)
    assert r.absmax.tolist() == [2.0, 1.0, 2.0]  # an all-zero group: scale 1
    assert r.codes.tolist() == [15, 2, 10, 7, 7, 7, 7, 7, 12, 15]
    want = [2.0, NF4[2] * 2, NF4[10] * 2, 0.0, 0.0, 0.0, 0.0, 0.0, NF4[12] * 2, 2.0]
    assert r.dequant.tolist() == want
    assert not r.invalid.any()


def test_nf4_ties_go_to_the_even_code() -> None:
    # With a 1.0 in the block, absmax is 1 and x / 1 is exact; the midpoints of NF4
    # neighbours are exact in float64 (sums of two float32 values, halved).
    mid67 = (NF4[6] + NF4[7]) / 2  # codes 6 | 7 -> 6
    mid78 = (NF4[7] + NF4[8]) / 2  # codes 7 | 8 -> 8: zero (code 7, odd) never wins a tie
    mid89 = (NF4[8] + NF4[9]) / 2  # codes 8 | 9 -> 8
    mid910 = (NF4[9] + NF4[10]) / 2  # codes 9 | 10 -> 10
    x = np.array([1.0, mid67, mid78, mid89, mid910, 0.0, 0.0, 0.0])
    r = quantize_nf4(x, 8)
    assert r.codes.tolist() == [15, 6, 8, 8, 10, 7, 7, 7]
    s = compare_array(["nf4"], x, block_size=8)[0]
    assert s.underflow == 0 and s.exact_fraction == 4 / 8


def test_nf4_nan_and_all_zero() -> None:
    r = quantize_nf4(np.array([NAN, 0.5, -0.25, 0.0]), 4)
    assert r.invalid.tolist() == [True, False, False, False]
    assert r.codes[0] == 7 and math.isnan(r.dequant[0]) and r.absmax.tolist() == [0.5]
    z = quantize_nf4(np.zeros(130), 64)
    assert z.codes.tolist() == [7] * 130 and z.dequant.tolist() == [0.0] * 130
    assert z.absmax.tolist() == [1.0, 1.0, 1.0]


def test_nf4_default_block_and_streaming_tail() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal(64 * 5 + 17)
    r = quantize_nf4(x)
    # the absmax is stored as fp32, as bitsandbytes does
    assert r.absmax.size == 6 and r.absmax[-1] == np.float32(np.abs(x[-17:]).max())
    whole = compare_array(["nf4"], x)[0]
    assert whole.scale_count == 6 and whole.bits_per_value == (4 * x.size + 32 * 6) / x.size
    dq = r.dequant
    e = np.abs(x - dq)
    assert whole.max_abs_error == e.max()
    assert whole.rmse == pytest.approx(math.sqrt(np.mean(e**2)), rel=1e-13)


# ====================================================================== MX


def mx_block(values: list[float], n: int = 32) -> np.ndarray:
    out = np.zeros(n)
    out[: len(values)] = values
    return out


def test_block_registry() -> None:
    names = [b.name for b in block_formats()]
    assert names == [
        "mxfp8_e4m3",
        "mxfp8_e5m2",
        "mxfp6_e3m2",
        "mxfp6_e2m3",
        "mxfp4",
        "mxint8",
        "nvfp4",
    ]
    # emax_elem: exponent of the element format's largest normal (OCP MX v1.0, table 1)
    emax = {
        "mxfp8_e4m3": 8,
        "mxfp8_e5m2": 15,
        "mxfp6_e3m2": 4,
        "mxfp6_e2m3": 2,
        "mxfp4": 2,
        "mxint8": 0,
        "nvfp4": 2,
    }
    for b in block_formats():
        assert b.emax_elem == emax[b.name]
        ef = b.element_format
        if isinstance(ef, FloatFormat):
            assert ef.max_exponent == b.emax_elem
        assert b.block_size == (16 if b.name == "nvfp4" else 32)
    assert get_block_format("MXFP4") is get_block_format("mxfp4")
    assert get_block_format("mxfp8").name == "mxfp8_e4m3"
    assert get_block_format("mxint8").max == Fraction(127, 64)
    with pytest.raises(UnknownFormatError):
        get_block_format("mxfp5")
    with pytest.raises(UsageError):
        get_block_format("fp16")


def test_effective_bits() -> None:
    eb = {b.name: effective_bits(b) for b in block_formats()}
    assert eb == {
        "mxfp8_e4m3": 8.25,
        "mxfp8_e5m2": 8.25,
        "mxfp6_e3m2": 6.25,
        "mxfp6_e2m3": 6.25,
        "mxfp4": 4.25,
        "mxint8": 8.25,
        "nvfp4": 4.5,
    }
    assert effective_bits(get_block_format("nvfp4"), 1024) == 4.5 + 32 / 1024
    assert effective_bits(get_block_format("mxfp4"), 1024) == 4.25


def test_mx_all_zero_block() -> None:
    for b in block_formats():
        r = block_quantize(b, np.zeros(b.block_size + 3))
        if b.kind == "mx":
            assert r.scale_codes.tolist() == [0, 0]  # 2^-127, the smallest E8M0
            assert r.scales.tolist() == [2.0**-127] * 2
        else:
            assert r.scale_codes.tolist() == [0, 0]  # e4m3fn zero
        assert r.dequant.tolist() == [0.0] * (b.block_size + 3)
        assert not r.element_codes.any()


def test_mxfp4_one_outlier() -> None:
    # amax 100: floor(log2 100) = 6, shared exponent 6 - 2 = 4, X = 16 (E8M0 code 131).
    # x / 16 = [6.25, 0.0625, 0.01875, -0.125]: e2m1 -> 6 (spacing 2 in [4, 8)),
    # 0, 0, -0 (all below 0.25, half the smallest subnormal 0.5). Dequant 96, 0, 0, -0.
    x = mx_block([100.0, 1.0, 0.3, -2.0])
    r = block_quantize("mxfp4", x)
    assert r.scale_codes.tolist() == [131] and r.scales.tolist() == [16.0]
    assert r.element_codes[:4].tolist() == [0b0111, 0, 0, 0b1000]
    assert r.dequant[:4].tolist() == [96.0, 0.0, 0.0, -0.0]
    s = one("mxfp4", x)
    assert (s.underflow, s.overflow, s.max_abs_error) == (3, 0, 4.0)
    # mxfp8_e4m3, same block: shared 6 - 8 = -2, X = 1/4 (code 125);
    # x * 4 = [400, 4, 1.2, -8]: 400 ties 384 (mantissa 100, even) and 416 -> 384;
    # 1.2 -> 1.25 (spacing 1/8). Dequant [96, 1, 0.3125, -2].
    r8 = block_quantize("mxfp8_e4m3", x)
    assert r8.scale_codes.tolist() == [125]
    assert r8.dequant[:4].tolist() == [96.0, 1.0, 0.3125, -2.0]


def test_mx_amax_power_of_two() -> None:
    # amax 8 = 2^3: shared 3 - 2 = 1, X = 2 (code 128); x / 2 = [4, 1.5, -0.75, 0.375]:
    # 4 and 1.5 exact; -0.75 ties 0.5 (code 1, odd) and 1 (code 2) -> -1;
    # 0.375 is past the 0.25 midpoint -> 0.5. Dequant [8, 3, -2, 1].
    r = block_quantize("mxfp4", mx_block([8.0, 3.0, -1.5, 0.75]))
    assert r.scale_codes.tolist() == [128]
    assert r.dequant[:4].tolist() == [8.0, 3.0, -2.0, 1.0]
    # mxfp8_e4m3: amax 256 = 2^8 -> shared 0, X = 1 (code 127), 256 exact
    r8 = block_quantize("mxfp8_e4m3", mx_block([256.0, -3.0]))
    assert r8.scale_codes.tolist() == [127] and r8.dequant[:2].tolist() == [256.0, -3.0]


def test_mx_overflowing_blocks_saturate() -> None:
    # mxfp4 amax 7: shared 2 - 2 = 0, X = 1; 7 ties 6 (code 7, odd) and 8 -> 8, past max:
    # saturates to 6, an overflow. 6.9 rounds to 6 inside the grid: no overflow.
    r = block_quantize("mxfp4", mx_block([7.0, 6.9, -7.0]))
    assert r.scale_codes.tolist() == [127]
    assert r.dequant[:3].tolist() == [6.0, 6.0, -6.0]
    assert r.overflow[:3].tolist() == [True, False, True]
    assert one("mxfp4", mx_block([7.0, 6.9, -7.0])).overflow == 2
    # mxfp8_e4m3: amax 500 -> X = 1; 500 -> 512 on the grid, past 448: saturates.
    # 460 < 464 (the midpoint of 448 and 480) -> 448 without overflow.
    r8 = block_quantize("mxfp8_e4m3", mx_block([500.0, 460.0]))
    assert r8.dequant[:2].tolist() == [448.0, 448.0]
    assert r8.overflow[:2].tolist() == [True, False]
    # mxfp8_e5m2 (has inf): saturates too
    r5 = block_quantize("mxfp8_e5m2", mx_block([2.0**15 * 1.9]))
    assert r5.dequant[0] == 57344.0 and r5.overflow[0]


def test_mx_scale_exponent_clamps_below_and_is_nan_above() -> None:
    # amax 2^-140 in mxfp8_e4m3: shared -140 - 8 = -148, clamped to -127 (code 0);
    # x / 2^-127 = 2^-13, below half of e4m3's smallest subnormal 2^-9: 0 (underflow)
    r = block_quantize("mxfp8_e4m3", mx_block([2.0**-140]))
    assert r.scale_codes.tolist() == [0] and r.dequant[0] == 0.0
    assert one("mxfp8_e4m3", mx_block([2.0**-140])).underflow == 1
    # amax 2^200 in mxfp4: shared 198 > 127 cannot be stored in E8M0: the block is NaN
    # (scale code 0xff), per OCP MX v1.0 and microxcaling; its finite values are lost
    r = block_quantize("mxfp4", mx_block([2.0**200, 2.0**126]))
    assert r.scale_codes.tolist() == [255]
    assert np.isnan(r.dequant).all()
    s = one("mxfp4", mx_block([2.0**200, 2.0**126]))
    assert s.lost == 32 and s.scale_nan == 1 and s.sqnr_db == -math.inf
    # shared exactly 127 is fine: amax 2^129 -> 129 - 2 = 127 (code 254)
    r = block_quantize("mxfp4", mx_block([2.0**129, 2.0**126]))
    assert r.scale_codes.tolist() == [254]
    assert r.dequant[:2].tolist() == [2.0**129, 2.0**126]


def test_mx_nan_or_inf_block() -> None:
    x = np.concatenate([mx_block([1.0, NAN, 2.0]), mx_block([1.0, 2.0]), mx_block([np.inf, 3.0])])
    r = block_quantize("mxfp8_e4m3", x)
    assert r.scale_codes.tolist() == [255, 127 + 1 - 8, 255]  # amax 2: shared 1 - 8
    assert np.isnan(r.dequant[:32]).all() and np.isnan(r.dequant[64:]).all()
    assert r.dequant[32:34].tolist() == [1.0, 2.0]
    assert not r.element_codes[:32].any()
    s = one("mxfp8_e4m3", x)
    # 94 finite inputs; only block 1's 32 values are kept (exactly: 1 and 2, and zeros)
    assert s.nan_in == 1 and s.exact_fraction == 32 / 94


def test_mxint8() -> None:
    # amax 1.999: floor(log2) = 0 -> shared 0 - 0 = 0, X = 1; elements rint(x * 64):
    # 1.0 -> 64; 0.3 -> 19.2 -> 19; -1.999 -> -127.936 -> -128 (= -2); 0.5 -> 32
    r = block_quantize("mxint8", mx_block([1.0, 0.3, -1.999, 0.5]))
    assert r.scale_codes.tolist() == [127]
    assert r.element_codes[:4].tolist() == [64, 19, 0x80, 32]
    assert r.dequant[:4].tolist() == [1.0, 19 / 64, -2.0, 0.5]
    # +1.999 -> 128: clamped to 127 (127/64), an overflow
    r = block_quantize("mxint8", mx_block([1.999]))
    assert r.dequant[0] == 127 / 64 and r.overflow[0]
    # amax 100: floor(log2 100) = 6 -> X = 64; 0.3 / 64 * 64 = 0.3 -> 0
    r = block_quantize("mxint8", mx_block([100.0, 0.3]))
    assert r.scales.tolist() == [64.0] and r.dequant[:2].tolist() == [100.0, 0.0]


def test_mx_elements_agree_with_ml_dtypes() -> None:
    # x / X is exact (a power of two), so elements are plain saturating casts
    rng = np.random.default_rng(3)
    x = rng.standard_normal(32 * 40) * np.repeat(10.0 ** rng.integers(-6, 6, 40), 32)
    types = {
        "mxfp8_e4m3": ml_dtypes.float8_e4m3fn,
        "mxfp8_e5m2": ml_dtypes.float8_e5m2,
        "mxfp6_e3m2": ml_dtypes.float6_e3m2fn,
        "mxfp6_e2m3": ml_dtypes.float6_e2m3fn,
        "mxfp4": ml_dtypes.float4_e2m1fn,
    }
    xb = x.reshape(-1, 32)
    for name, t in types.items():
        b = get_block_format(name)
        amax = np.abs(xb).max(axis=1)
        shared = np.floor(np.log2(amax)).astype(int) - b.emax_elem
        X = 2.0 ** shared[:, None]
        fmax = float(ml_dtypes.finfo(t).max)
        want = np.clip(xb / X, -fmax, fmax).astype(t).astype(np.float64) * X
        r = block_quantize(name, x)
        assert r.dequant.reshape(-1, 32).tolist() == want.tolist(), name
        assert (r.scale_codes.astype(int) - 127).tolist() == shared.tolist()


# ====================================================================== NVFP4


def test_nvfp4_by_hand() -> None:
    # tensor amax 2688 = 6 * 448 -> tensor scale fp32(2688 / 2688) = 1.
    # block A: amax 2688 -> block scale e4m3(2688 / 6) = 448 (code 0x7e); 2688 / 448 = 6.
    # block B: amax 102 -> 102 / 6 = 17, a tie in e4m3 between 16 (mantissa 000, even) and
    #   18 -> 16 (code 0x58); x / 16 = [6.375, 3.1875, -1.59375, 0.0625]
    #   -> e2m1 [6, 3, -1.5, 0] -> dequant [96, 48, -24, 0].
    # block C: all zero -> block scale 0, dequant 0.
    # block D: amax 0.001 -> 0.001 / 6 < 2^-10 (half of e4m3's smallest subnormal 2^-9)
    #   -> block scale 0: the block is flushed to 0 (an underflow each).
    blocks = [[2688.0, 1.0], [102.0, 51.0, -25.5, 1.0], [], [0.001, -0.0005]]
    x = np.concatenate([mx_block(b, 16) for b in blocks])
    r = block_quantize("nvfp4", x)
    assert r.tensor_scale == 1.0
    assert r.scale_codes.tolist() == [0x7E, 0x58, 0, 0]
    assert r.scales.tolist() == [448.0, 16.0, 0.0, 0.0]
    assert r.dequant[:2].tolist() == [2688.0, 0.0]  # 1 / 448 rounds to 0 in e2m1
    assert r.dequant[16:20].tolist() == [96.0, 48.0, -24.0, 0.0]
    assert r.dequant[32:].tolist() == [0.0] * 32
    s = one("nvfp4", x)
    assert s.tensor_scale == 1.0 and s.underflow == 4 and s.overflow == 0


def test_nvfp4_tensor_scale() -> None:
    # fp32(1 / 2688): correctly rounded, as the fp32 division is
    assert nvfp4_tensor_scale(1.0) == float(np.float32(1.0) / np.float32(2688.0))
    # from the exact quotient, not through float64: (2688 * (1 + 2^-24)) / 2688 is the
    # fp32 midpoint 1 + 2^-24 only if amax is exactly that; a decimal just above it
    # rounds up, while its float64 would tie to even
    assert nvfp4_tensor_scale(Fraction(2688) * (1 + Fraction(1, 2**24) + Fraction(1, 10**30))
                              ) == 1 + 2.0**-23
    assert nvfp4_tensor_scale(0.0) == 1.0
    assert nvfp4_tensor_scale(1e300) == float(np.finfo(np.float32).max)
    assert nvfp4_tensor_scale(1e-60) == 2.0**-149
    # elements: x / (block_scale * tensor_scale), a chunk given the whole tensor's amax
    x = np.array([1.0, 0.5, -0.25] + [0.0] * 13)
    ts = nvfp4_tensor_scale(1.0)
    sb = float(ml_dtypes.float8_e4m3fn(1.0 / (6 * ts)))  # 447.99.. -> 448
    want = np.clip(x / (sb * ts), -6, 6).astype(ml_dtypes.float4_e2m1fn).astype(np.float64) * (
        sb * ts
    )
    assert block_quantize("nvfp4", x).dequant.tolist() == want.tolist()


def test_nvfp4_nan_block() -> None:
    x = np.concatenate([mx_block([NAN, 1.0], 16), mx_block([6.0], 16)])
    r = block_quantize("nvfp4", x)
    assert r.scale_codes.tolist()[0] == 0x7F and np.isnan(r.dequant[:16]).all()
    assert r.dequant[16] == pytest.approx(6.0, rel=1e-6)


# ====================================================================== streaming


def test_iter_blocks_cover_the_array_in_order() -> None:
    a = np.arange(2 * 3 * 5 * 7, dtype=np.float64).reshape(2, 3, 5, 7)
    for chunk in (1, 6, 7, 20, 35, 36, 104, 105, 1000):
        for axis in (None, 0, 1, 2, 3):
            pieces = list(iter_blocks(a, axis=axis, chunk_size=chunk))
            flat = np.concatenate([p.reshape(-1) for p, _ in pieces])
            assert flat.tolist() == a.reshape(-1).tolist()
            assert all(p.size <= max(chunk, 7) for p, _ in pieces)
            if axis is not None:
                idx = np.indices(a.shape)[axis]
                got = np.concatenate([np.broadcast_to(c, p.shape).reshape(-1) for p, c in pieces])
                assert got.tolist() == idx.reshape(-1).tolist()
    assert [p.tolist() for p, _ in iter_blocks(np.float64(3.0))] == [[3.0]]


ALL_TARGETS = [
    "bf16",
    "fp16",
    "e4m3fn",
    "e2m1fn",
    "int8",
    "uint4",
    "nf4",
    "mxfp4",
    "mxint8",
    "mxfp6_e3m2",
    "nvfp4",
]


def assert_same(a: CompareStats, b: CompareStats) -> None:
    ra, rb = a.to_record(), b.to_record()
    for k in RECORD_KEYS:
        if k in ("mean_abs_error", "rmse", "sqnr_db") and isinstance(ra[k], float):
            assert rb[k] is not None
            assert math.isclose(ra[k], rb[k], rel_tol=1e-12, abs_tol=1e-12), (a.format, k)
        else:
            assert ra[k] == rb[k], (a.format, k, ra[k], rb[k])


@settings(deadline=None, max_examples=60)
@given(
    hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 9), st.integers(1, 70)),
        elements=st.one_of(st.floats(-100.0, 100.0, width=32), st.floats(width=32)),
    ),
    st.sampled_from([1, 7, 64, 1 << 15]),
    st.sampled_from(["symmetric", "asymmetric"]),
)
def test_tile_size_does_not_change_results(x: np.ndarray, chunk: int, scheme: str) -> None:
    targets = [*ALL_TARGETS, "e4m3fn:block2x16", "int4:group8", "e4m3fn:channel"]
    whole = compare_array(targets, x, scheme=scheme)
    small = compare_array(targets, x, scheme=scheme, chunk_size=chunk)
    for w, s in zip(whole, small, strict=True):
        assert_same(w, s)


def test_memmap_and_fortran_order_match_memory(tmp_path: Any) -> None:
    rng = np.random.default_rng(7)
    a = (rng.standard_normal((37, 23)) * rng.uniform(0.1, 100, 23)).astype(np.float32)
    path = tmp_path / "a.npy"
    np.save(path, a)
    m = np.load(path, mmap_mode="r")
    fpath = tmp_path / "f.npy"
    np.save(fpath, np.asfortranarray(a))
    f = np.load(fpath, mmap_mode="r")
    targets = ["int8", "uint8", "bf16", "mxfp4", "int4:group8", "e4m3fn:block8x8"]
    for axis in (0, 1):
        for scheme in ("symmetric", "asymmetric"):
            kw: dict[str, Any] = dict(scheme=scheme, granularity="channel", axis=axis)
            one_shot = compare_array(targets, a, **kw)
            for other in (m, f):
                for w, p in zip(one_shot, compare_array(targets, other, chunk_size=10, **kw),
                                strict=True):
                    assert_same(w, p)
            q = quantize_int("int8", a, scheme=scheme, granularity="channel", axis=axis)
            e = np.abs(a.astype(np.float64) - q.dequant)
            assert one_shot[0].max_abs_error == e.max()
            assert one_shot[0].scale_max == q.params.scale.max()


def test_stochastic_is_reproducible_across_tiles() -> None:
    x = np.random.default_rng(2).standard_normal((10, 100))
    a = compare_array(["e4m3fn"], x, mode="stochastic", seed=11)[0]
    b = compare_array(["e4m3fn"], x, mode="stochastic", seed=11, chunk_size=7)[0]
    c = compare_array(["e4m3fn"], x.reshape(-1), mode="stochastic", seed=11)[0]
    assert_same(a, b)
    assert_same(a, c)


def test_inputs_and_refusals() -> None:
    x = np.linspace(-3, 3, 101)
    want = compare_array(["int8", "bf16"], x)
    # plain lists of numbers are arrays
    assert_same(compare_array(["int8"], x.tolist())[0], want[0])
    ints = np.arange(-50, 51, dtype=np.int32)  # integer arrays are widened to float64
    assert_same(compare_array(["bf16"], ints)[0], compare_array(["bf16"], ints * 1.0)[0])
    with pytest.raises(UsageError):
        compare_array(["int8"], x.astype(np.complex128))
    with pytest.raises(UsageError):  # a 1-D array has no channels
        compare_array(["int8"], x, granularity="channel")
    # a 1-D array under a channel recipe is one channel: the same as one tensor scale
    assert_same(*[dataclasses.replace(s, format="x", scaling="x") for s in (
        compare_array(["e4m3fn:channel"], x)[0], compare_array(["e4m3fn:tensor"], x)[0])])
    with pytest.raises(UsageError):
        compare_array(["nosuchformat"], x)
    with pytest.raises(UsageError):
        compare_array(["bf16", "bf16"], x)


def test_values_channels_map() -> None:
    v = Values.of_array(np.zeros((2, 3, 4)))
    where, ids, n = v.channels(0)
    assert (where, n) == ("rows", 2) and ids.tolist() == [0, 0, 0, 1, 1, 1]
    where, ids, n = v.channels(1)
    assert (where, n) == ("rows", 3) and ids.tolist() == [0, 1, 2, 0, 1, 2]
    where, ids, n = v.channels(2)
    assert (where, n) == ("cols", 4) and ids.tolist() == [0, 1, 2, 3]
    rs = resolve_recipes(["int8:channel"])
    assert compare_values(rs, Values.of_array(np.ones((3, 5))))[0].scale_count == 3


# ====================================================================== properties


ANY_F64 = hnp.arrays(
    np.float64,
    st.integers(1, 120),
    elements=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(-1e300, 1e300),
        st.floats(-1e-300, 1e-300),
        st.floats(-4.0, 4.0),
        st.sampled_from([0.0, -0.0, 1.0, 0.5, -6.0]),
    ),
)
PROPERTY_TARGETS = [
    "fp64",
    "fp32",
    "bf16",
    "e4m3fn",
    "e8m0fnu",
    "int8",
    "uint8",
    "int64",
    "nf4",
    "mxfp4",
    "mxfp8_e5m2",
    "mxint8",
    "nvfp4",
]


@settings(deadline=None, max_examples=150)
@given(ANY_F64, st.sampled_from(["symmetric", "asymmetric"]), st.booleans())
def test_statistics_properties(x: np.ndarray, scheme: str, saturate: bool) -> None:
    for s in compare_array(PROPERTY_TARGETS, x, scheme=scheme, saturate=saturate):
        rec = s.to_record()
        for k, v in rec.items():
            if isinstance(v, float):
                assert math.isfinite(v), (s.format, k)
            if isinstance(v, str) and k != "format" and k not in ("scaling", "scale_format",
                                                                     "scheme", "note"):
                assert v in ("inf", "-inf"), (s.format, k)
        if rec["lost"]:
            assert rec["max_abs_error"] == "inf" and rec["sqnr_db"] == "-inf"
            continue
        assert rec["count"] == x.size and rec["nan_in"] == int(np.isnan(x).sum())
        if rec["max_abs_error"] is None:
            assert rec["rmse"] is None and rec["sqnr_db"] is None
            continue
        if rec["rmse"] is not None:
            assert rec["rmse"] <= rec["max_abs_error"]
            assert rec["mean_abs_error"] <= rec["max_abs_error"]
        if rec["max_abs_error"] == 0:
            assert rec["sqnr_db"] == "inf" and rec["rmse"] == 0.0
        assert 0.0 <= rec["exact_fraction"] <= 1.0


@settings(deadline=None, max_examples=40)
@given(st.lists(st.integers(0, (1 << 16) - 1), min_size=1, max_size=60))
def test_representable_inputs_have_zero_error(codes: list[int]) -> None:
    # bf16 values are exact in bf16, fp32 and fp64; their error is zero and SQNR null
    v = np.array(codes, dtype=np.uint16).view(ml_dtypes.bfloat16).astype(np.float32)
    for s in compare_array(["bf16", "fp32", "fp64"], v):
        if s.max_abs_error is None:
            continue
        assert s.max_abs_error == 0.0 and s.sqnr_db == math.inf and s.exact_fraction == 1.0


def test_huge_values_do_not_overflow_the_sums() -> None:
    # squares of 1e200 overflow float64; the sums are kept scaled by powers of two
    x = np.array([1e200, -3e200, 2.5e199, 7e200])
    s = one("int8", x)
    q = quantize_int("int8", x)
    y, d = x / 1e200, q.dequant / 1e200
    assert s.rmse == pytest.approx(1e200 * math.sqrt(np.mean((y - d) ** 2)), rel=1e-12)
    assert s.sqnr_db == pytest.approx(
        10 * math.log10(np.sum(y**2) / np.sum((y - d) ** 2)), rel=1e-12
    )
    tiny = one("bf16", np.array([1e-300, 3e-300]))  # squares underflow
    assert tiny.sqnr_db is not None
