"""precli/fastcode.py: record templates of many codes at once equal the per-code path.

The per-code path (describe_code, result_record, RecordWriter.template) is the oracle; it
is itself tested against Fractions in tests/test_fastrec.py and tests/test_records.py.
Every code of every covered format of 16 bits or fewer, every flag set, json and csv;
samples of fp32 and tf32 with their edge codes.
"""

from __future__ import annotations

import io
import random
from decimal import Decimal

import numpy as np
import pytest

from precli.core.formats import FloatFormat, builtin_formats, get_format
from precli.core.values import EncodeOptions
from precli.stream import batches as bulk
from precli.stream import codefacts as fastcode
from precli.stream.writers import RESULT_KEYS, RecordWriter

FLAGS = [(), ("inexact",), ("inexact", "underflow")]


def _edge_codes(fmt: FloatFormat) -> list[int]:
    """Codes around zero, the binade edges, the ends of the range and the specials."""
    out = set()
    mb, top = fmt.mantissa_bits, fmt.max_code
    ne = 1 << fmt.exponent_bits
    # every exponent field up to 8 bits; fp64's: the 40 at each end and every 16th between
    exps = range(ne) if ne <= 256 else sorted({*range(40), *range(ne - 40, ne),
                                                *range(0, ne, 16)})
    for e in exps:
        for m in (0, 1, (1 << mb) - 1, 1 << (mb - 1) if mb else 0):
            out.add((e << mb) | m)
    out.update({0, 1, 2, top - 1, top, top + 1, (1 << (fmt.bits - 1)) - 1})
    out = {c for c in out if 0 <= c <= (1 << (fmt.bits - 1 if fmt.signed else fmt.bits)) - 1}
    if fmt.signed:
        out |= {c | fmt.sign_mask for c in out}
    return sorted(out)


def _codes(fmt: FloatFormat, n: int) -> list[int]:
    if fmt.bits <= 16:
        return list(range(1 << fmt.bits))
    r = random.Random(fmt.bits)
    if fmt.bits > 32:  # the per-code oracle works in Fractions there: ~1 ms a code
        n //= 4
    return _edge_codes(fmt) + [r.getrandbits(fmt.bits) for _ in range(n)]


def _neighbours(fmt: FloatFormat, c: int) -> tuple[int | None, int | None]:
    from precli.core.rounding import float_neighbours

    return float_neighbours(fmt, c)


def _final(pieces: tuple[str, ...], mode: str) -> tuple[bytes, ...]:
    """The per-code template as the byte path uses it: bytes, the input's quotes in it."""
    q = b'"' if mode == "ndjson" else b""
    t = [p.encode() for p in pieces]
    t[0] += q
    t[1] = q + t[1]
    return tuple(t)


COVERED = [f.name for f in builtin_formats() if fastcode.covers(f)]


def test_the_covered_formats() -> None:
    """fp64 and every narrower float format; not integer or table formats."""
    assert {"fp64", "fp32", "tf32", "bf16", "fp16", "e4m3fn", "e5m2", "e2m1fn",
            "e8m0fnu"} <= set(COVERED)
    assert not fastcode.covers(get_format("int8"))
    assert not fastcode.covers(get_format("nf4"))


@pytest.mark.parametrize("mode", ["ndjson", "csv"])
@pytest.mark.parametrize("name", COVERED)
def test_encode_templates_equal_the_per_code_path(name: str, mode: str) -> None:
    fmt = get_format(name)
    assert isinstance(fmt, FloatFormat)
    w = RecordWriter(io.StringIO(), mode, RESULT_KEYS, "hex")
    rt = bulk.RecordTexts(fmt, w, EncodeOptions())
    many = rt._many(bulk.ENCODE_HOLES, rt._encode_record)
    assert many is not None
    codes = _codes(fmt, 4000)
    if mode == "csv" and fmt.bits > 8:  # the cells differ from json's only in quoting
        codes = codes[::5]
    r = random.Random(1)
    flags = [FLAGS[r.randrange(3)] for _ in codes]
    got = many(codes, flags)
    for c, f, g in zip(codes, flags, got, strict=True):
        if g is None:  # specials and codes at the ends take the per-code path
            assert fmt.is_nan(c) or fmt.is_inf(c) or None in _neighbours(fmt, c)
        else:
            assert g == _final(rt._encode_template(c, f), mode), (hex(c), f)
    assert sum(g is not None for g in got) >= len(codes) - 4 - sum(
        fmt.is_nan(c) or fmt.is_inf(c) for c in codes)


@pytest.mark.parametrize("name", ["bf16", "fp16", "e4m3fn", "e8m0fnu", "fp32", "tf32", "fp64"])
def test_decode_templates_equal_the_per_code_path(name: str) -> None:
    fmt = get_format(name)
    w = RecordWriter(io.StringIO(), "ndjson", RESULT_KEYS, "hex")
    rt = bulk.RecordTexts(fmt, w)
    many = rt._many(bulk.DECODE_HOLES, rt._decode_record)
    # every 3rd code of the 16-bit formats: the per-code fields are the encode test's,
    # only the skeleton around them differs
    codes = _codes(fmt, 3000)[::3 if fmt.bits == 16 else 1]  # type: ignore[arg-type]
    got = many(codes, [()] * len(codes))
    for c, g in zip(codes, got, strict=True):
        assert (g is None) == (fmt.is_nan(c) or fmt.is_inf(c) or None in _neighbours(fmt, c))
        if g is not None:
            assert g == _final(rt._decode_template(c), "ndjson"), hex(c)


def test_fp32_shortest_is_numpys_dragon4_of_the_same_definition() -> None:
    """shortest_texts takes fp32's shortest from numpy's float32 printing: the same texts
    as rounding.shortest_float's search, here on 20,000 random codes and every power of
    two with its neighbours (where the interval below is half the one above)."""
    from precli.core.rounding import shortest_float

    fmt = get_format("fp32")
    assert isinstance(fmt, FloatFormat)
    r = random.Random(11)
    pw = [e << 23 for e in range(255)]
    codes = sorted({*(r.getrandbits(31) for _ in range(20000)), *pw,
                    *(c + 1 for c in pw), *(c - 1 for c in pw if c)})
    codes = [c for c in codes if c < 0x7f800000]
    codes += [c | 0x80000000 for c in codes[::7]]
    a = np.array(codes, np.uint64)
    vals = a.astype(np.uint32).view(np.float32).astype(np.float64)
    got = [t.decode() for t in fastcode.shortest_texts(fmt, a, vals)]
    want = [shortest_float(fmt, c) for c in codes]
    assert got == want
    # and they are texts of the values, not of something else
    assert all(Decimal(g) != 0 or v == 0 for g, v in zip(got[:50], vals[:50], strict=True))


def test_value_texts_cover_each_rule() -> None:
    """Short exact values, integers, repr-long values, zeros and specials all appear and
    equal float_value_text."""
    from precli.core.values import float_value_text

    fmt = get_format("fp32")
    assert isinstance(fmt, FloatFormat)
    vals = np.array([0.125, -3.0, 0.1, 2.0**56, 2.0**100, 0.0, -0.0, np.inf, np.nan,
                     2.0**-149, -(2.0**-126), 65504.0, 1e-30], np.float32)
    codes = vals.view(np.uint32).astype(np.uint64)
    got = [t.decode() for t in fastcode.value_texts(fmt, codes)]
    assert got == [float_value_text(fmt, int(c)) for c in codes.tolist()]
    assert got[:3] == ["0.125", "-3", "0.10000000149011612"]
    assert got[3] == "7.2057594037927936e+16"  # exact 17 digits, not repr's 16


@pytest.mark.parametrize("name", ["fp32", "tf32", "fp64"])
def test_plain_decode_lines_of_a_wide_format(name: str) -> None:
    """decode's plain lines for fp32 / tf32 codes (vectorized: a code a value) are
    float_value_text of each code, 'error' where a code failed."""
    from precli.core.values import float_value_text

    fmt = get_format(name)
    assert isinstance(fmt, FloatFormat)
    r = random.Random(12)
    codes = _edge_codes(fmt) + [r.getrandbits(fmt.bits) for _ in range(20000)]
    got = bulk.ValueTexts(fmt).lines(np.array(codes, np.uint64), {3: "bad code"})
    want = [float_value_text(fmt, c) for c in codes]
    want[3] = "error"
    assert got == ("\n".join(want) + "\n").encode()


@pytest.mark.parametrize("name", ["bf16", "fp16", "e4m3fn", "e5m2fnuz", "e2m1fn", "fp32", "tf32",
                                  "fp64"])
def test_code_facts_by_float_equal_describe_codes(name: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-value path's stored value and ulp of a code, read from the code in float64
    arithmetic, are describe_code's (Fractions)."""
    fmt = get_format(name)
    w = RecordWriter(io.StringIO(), "json", RESULT_KEYS, "hex")
    codes = _codes(fmt, 3000)[::7]  # type: ignore[arg-type]
    fast = [bulk.RecordTexts(fmt, w, EncodeOptions())._code_facts(c) for c in codes]
    monkeypatch.setattr(bulk, "fits_float64", lambda f: False)
    slow = [bulk.RecordTexts(fmt, w, EncodeOptions())._code_facts(c) for c in codes]
    assert fast == slow
    assert sum(f is not None for f in fast) > len(fast) // 2
