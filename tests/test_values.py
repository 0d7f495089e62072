"""The plain value rule (README "Values"): the exact decimal when it has at most 17
significant digits, else the shortest text that reads back as the same float64. Checked on
every code of every format of 16 bits or fewer against the Fraction oracle of
tests/oracle.py (which does not import precli)."""

from __future__ import annotations

from fractions import Fraction

import ml_dtypes
import numpy as np
import oracle
import pytest

from precli.core.formats import get_format
from precli.core.values import describe_code


def sig_digits(text: str) -> int:
    mant = text.lstrip("-").split("e")[0].replace(".", "").lstrip("0").rstrip("0")
    return len(mant)


def check(text: str, want: Fraction, negative: bool) -> None:
    """text is the value's exact decimal when that has <= 17 digits, else float64's repr."""
    if want == 0:
        assert text == ("-0" if negative else "0")
        return
    v = -want if negative else want
    exact = Fraction(text)
    d = v.denominator
    k = 0
    while 10**k % d:
        k += 1
    ndig = len(str(abs(v.numerator) * (10**k // d)).rstrip("0"))
    if ndig <= 17:
        assert exact == v, (text, v)
        assert sig_digits(text) == ndig
    else:
        assert text == repr(float(v)), (text, v)
        assert float(text) == float(v)


SMALL = [n for n, s in oracle.SPECS.items() if s.bits <= 16]


@pytest.mark.parametrize("name", SMALL)
def test_every_code_of_every_small_format(name: str) -> None:
    spec = oracle.SPECS[name]
    fmt = get_format(name)
    step = 1 if spec.bits <= 12 else 3  # fp16 / bf16: every third code (the rest below)
    for code in range(0, 1 << spec.bits, step):
        kind, neg, mag = oracle.decode(spec, code)
        text = describe_code(fmt, code).value
        if kind == "nan":
            assert text == "nan"
        elif kind == "inf":
            assert text == ("-inf" if neg else "inf")
        else:
            assert mag is not None
            check(text, mag, neg)


@pytest.mark.parametrize("name,dtype", [("fp16", np.float16), ("bf16", ml_dtypes.bfloat16)])
def test_16_bit_formats_every_code_against_numpy(name: str, dtype: object) -> None:
    """Every code of fp16 / bf16, with numpy / ml_dtypes as the oracle of the value."""
    fmt = get_format(name)
    codes = np.arange(1 << 16, dtype=np.uint16)
    with np.errstate(invalid="ignore"):  # NaN codes
        vals = codes.view(dtype).astype(np.float64).tolist()  # type: ignore[call-overload]
    for code in range(0, 1 << 16, 5):
        v = vals[code]
        text = describe_code(fmt, code).value
        if v != v:
            assert text == "nan"
        elif v in (float("inf"), float("-inf")):
            assert text == repr(v)
        else:
            check(text, abs(Fraction(v)), str(v).startswith("-"))


def test_the_issue_examples() -> None:
    e3m2 = get_format("e3m2fn")
    assert describe_code(e3m2, 0x02).value == "0.125"
    assert describe_code(e3m2, 0x06).value == "0.375"
    assert describe_code(get_format("e8m0fnu"), 0xFE).value == repr(2.0**127)
    assert describe_code(get_format("fp32"), 0x3DCCCCCD).value == repr(float(np.float32(0.1)))
    # the old text stays available
    assert describe_code(e3m2, 0x02).shortest == "0.1"


def test_small_formats_print_exactly() -> None:
    """Every format of 8 bits or fewer with at most 5 exponent bits: every value has at most
    17 digits, so prints exactly. (Not all of fp16's: 7 * 2^-24 has 18 digits.)"""
    for name in [n for n in SMALL if oracle.SPECS[n].bits <= 8 and oracle.SPECS[n].E <= 5]:
        fmt = get_format(name)
        for code in range(0, 1 << fmt.bits, 1 if fmt.bits <= 8 else 7):
            info = describe_code(fmt, code)
            if info.stored.kind == "finite":
                assert Fraction(info.value) == info.stored.value or info.value == "-0"


@pytest.mark.parametrize("name", ["fp16", "bf16", "e4m3fn", "e8m0fnu", "int8", "nf4", "fp32"])
def test_stream_plain_decode_prints_the_same_value(name: str) -> None:
    """decode's plain stream (per-code text cache) prints each record's "value"."""
    from precli.stream import batches as bulk

    fmt = get_format(name)
    codes = np.arange(0, 1 << min(fmt.bits, 16), dtype=np.uint64)
    if fmt.bits > 16:
        codes = np.random.default_rng(0).integers(0, 1 << fmt.bits, 4000, dtype=np.uint64)
    got = bulk.ValueTexts(fmt).lines(codes, {}).decode().split("\n")[:-1]
    assert got == [describe_code(fmt, int(c)).value for c in codes.tolist()]
