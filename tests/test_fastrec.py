"""precli/fastrec.py, the byte-matrix records: its pieces against independent oracles
(Python's int / Fraction arithmetic), and that it actually carries the records (a path that
sent every value to the exact path would pass tests/test_records.py and be as slow as
before)."""

from __future__ import annotations

import io
import random
from fractions import Fraction

import numpy as np
import pytest

from precli.core.formats import get_format
from precli.core.values import EncodeOptions
from precli.stream import batches as bulk
from precli.stream import hexparse as fastparse
from precli.stream import records as fastrec
from precli.stream.writers import RESULT_KEYS, RecordWriter


def _tokens(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        x = rng.gauss(0, 1) * 10 ** rng.randint(-30, 30)
        style = rng.randint(0, 5)
        if style == 0:
            out.append(f"{x:.17g}")
        elif style == 1:
            out.append(f"{x:.{rng.randint(1, 19)}e}")
        elif style == 2:
            out.append(f"{x:.{rng.randint(0, 12)}f}")
        elif style == 3:
            out.append(str(rng.randint(-10**6, 10**6)))
        elif style == 4:
            out.append(f"{'+' if rng.random() < .5 else ''}{x:.6G}")
        else:
            out.append(f"{x:.{rng.randint(1, 30)}g}")
    return out


def _matrix(tokens: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    body = ("\n".join(tokens) + "\n").encode()
    starts, ends = fastparse.line_bounds(body)  # type: ignore[misc]
    return fastrec.token_matrix(body, starts, ends)


def _float(t: str) -> float:
    try:
        return float(t)
    except ValueError:
        return float("nan")


def _digits_oracle(tok: str) -> tuple[bool, int, int] | None:
    """(negative, M, e) with x = M * 10^e, from the text by string handling alone."""
    t = tok
    neg = t.startswith("-")
    t = t.lstrip("+-")
    mant, _, ex = t.lower().partition("e")
    ip, _, fp = mant.partition(".")
    digits = (ip + fp).lstrip("0")
    if not (ip + fp).isdigit() or not ip.isascii() or (ex and not ex.lstrip("+-").isdigit()):
        return None
    if len(digits) > 19 or (ex and len(ex.lstrip("+-")) > 3):
        return None
    return neg, int(digits or "0"), (int(ex) if ex else 0) - len(fp)


def test_parsers_agree_with_string_handling() -> None:
    toks = _tokens(1, 20000) + ["1.2345678e-310", "12345678e-318", "4.5e-320", "1.7e308",
                                "9.87654321e-309",
                                "5.", ".5", "-0.000123", "1e5", "1E+05", "+2", "0", "-0.0",
                                "1e-0005", "12345678901234567890", "9999999999999999999",
                                "1_0", "inf", "nan", "0x10", "1.5e300", "4.9e-324"]
    m, lens, fits = _matrix(toks)
    floats = np.array([_float(t) for t in toks])
    for dec in (fastrec.parse_decimals(m.T, lens),
                fastrec.parse_with_floats(m, lens, floats)):
        ok = 0
        for i, t in enumerate(toks):
            if not (dec.ok[i] and fits[i]):
                continue
            ok += 1
            want = _digits_oracle(t)
            assert want is not None, t
            neg, mm, e = want
            # the same number (a parser may keep trailing zeros in M or not)
            got = Fraction(int(dec.digits[i])) * Fraction(10) ** int(dec.exp10[i])
            assert got == Fraction(mm) * Fraction(10) ** e, t
            assert bool(dec.negative[i]) == neg, t
        # every plain decimal of at most 19 digits (a zero goes exact) stays fast
        plain = sum(1 for t in toks if (w := _digits_oracle(t)) is not None and w[1] != 0
                    and abs(w[2]) < 300 and not np.isnan(_float(t)))
        assert ok >= 0.99 * plain > 0.7 * 20000


def _oracle_errors(x: Fraction, s: Fraction, ulp: Fraction) -> tuple[float, float, float]:
    d = abs(s - x)
    return float(d), float(d / abs(x)), float(d / ulp)


@pytest.mark.parametrize("name", ["bf16", "fp16", "e4m3fn", "fp32", "int8"])
def test_value_errors_against_fractions(name: str) -> None:
    from precli.core.values import describe_code

    fmt = get_format(name)
    # plus exact products M * 10^e that need two float64s (the difference is rounded once)
    toks = _tokens(7, 6000) + [f"{k}e{e}" for k in range(123456789, 123470000, 97)
                               for e in (5, 10, 15)]
    batch = bulk.Batch(0, body=("\n".join(toks) + "\n").encode())
    enc = bulk.encode_batch(fmt, batch, EncodeOptions())
    m, lens, fits = _matrix(toks)
    dec = fastrec.parse_with_floats(m, lens, enc.floats)
    codes = enc.codes.astype(np.uint64)
    stored, inv, covered, sn = fastrec.code_arrays(fmt, codes)
    err = fastrec.value_errors(dec, stored, inv, sn)
    checked = 0
    for i, t in enumerate(toks):
        if not (err.ok[i] and covered[i] and dec.ok[i]) or i in enc.errors:
            continue
        info = describe_code(fmt, int(codes[i]))
        s = info.stored.value
        x = Fraction(t)
        assert stored[i] == float(s)
        a, r, u = _oracle_errors(x, s, info.ulp)
        assert (err.abs_error[i], err.rel_error[i], err.ulp_error[i]) == (a, r, u), t
        assert bool(err.inexact[i]) == (x != s), t
        checked += 1
    # the double-double decides nearly every lane it is given (the rest: exact zeros of
    # the error after a long literal, values near the smallest normal)
    given = int((covered & dec.ok).sum())
    assert checked >= 0.99 * given and given > 500


def test_near_ties_are_never_guessed() -> None:
    """Literals 10^-18 away from a stored bf16 value (19 significant digits): the error is
    so small against x that the double-double cannot round it with certainty, so those
    lanes must leave the fast path; any lane kept must still be right."""
    fmt = get_format("bf16")
    toks = []
    for k in range(128, 256):
        v = f"{k / 128:.18f}"  # a bf16 value with 7 decimals: the rest are zeros
        toks += [v[:-1] + "1", "-" + v[:-1] + "1", v[:10]]
    batch = bulk.Batch(0, body=("\n".join(toks) + "\n").encode())
    enc = bulk.encode_batch(fmt, batch, EncodeOptions())
    m, lens, _ = _matrix(toks)
    dec = fastrec.parse_with_floats(m, lens, enc.floats)
    assert dec.ok.all()
    stored, inv, _, sn = fastrec.code_arrays(fmt, enc.codes.astype(np.uint64))
    err = fastrec.value_errors(dec, stored, inv, sn)
    near = np.arange(len(toks)) % 3 != 2
    assert not err.ok[near].any()  # 10^-18 / x is far below the 2^-42 it needs
    assert err.ok[~near].all()  # the exact values themselves are decided
    for i, t in enumerate(toks):
        if err.ok[i]:
            x = Fraction(t)
            s = Fraction(float(stored[i]))
            assert err.abs_error[i] == float(abs(s - x)) == 0.0, t


def test_most_records_take_the_byte_path() -> None:
    fmt = get_format("bf16")
    rng = np.random.default_rng(3)
    toks = [f"{v:.17g}" for v in (rng.standard_normal(20000) * 100).tolist()]
    batch = bulk.Batch(0, body=("\n".join(toks) + "\n").encode())
    for mode in ("ndjson", "csv"):
        w = RecordWriter(io.StringIO(), mode, RESULT_KEYS, "hex")
        rt = bulk.RecordTexts(fmt, w, EncodeOptions())
        parts = [r for p in rt.encode(batch, bulk.encode_batch(fmt, batch, EncodeOptions()))
                 for r in p]
        in_blocks = sum(r.records for r in parts if isinstance(r, fastrec.Block))
        assert in_blocks >= 0.99 * len(toks)
        codes = bulk.Batch(0, body=b"0x3f80\n" * 5000)
        rt = bulk.RecordTexts(fmt, w)
        parts = [r for p in rt.decode(codes, bulk.decode_codes(fmt, codes)) for r in p]
        assert sum(r.records for r in parts if isinstance(r, fastrec.Block)) == 5000


@pytest.mark.parametrize("name", ["e4m3fn", "e5m2", "e4m3fnuz", "e3m2fn", "e2m1fn", "e8m0fnu",
                                  "fp16", "bf16", "tf32", "fp32"])
def test_shortest_by_float_matches_the_integer_search(name: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """rounding.shortest_float's float64 path (Python's correctly rounded formatting) gives
    the same text as the big-integer search it stands in for."""
    from precli.core import rounding

    fmt = get_format(name)
    if fmt.bits <= 8:
        codes = list(range(1 << fmt.bits))
    elif fmt.bits <= 16:
        codes = list(range(0, 1 << fmt.bits, 7))
    else:
        codes = random.Random(5).sample(range(1 << fmt.bits), 3000)
    fast = [rounding.shortest_float(fmt, c) for c in codes]  # type: ignore[arg-type]
    monkeypatch.setattr(rounding, "float64_exact", lambda f: False)
    slow = [rounding.shortest_float(fmt, c) for c in codes]  # type: ignore[arg-type]
    assert fast == slow


@pytest.mark.parametrize("name", ["e4m3fn", "e5m2fnuz", "e2m3fn", "e8m0fnu", "fp16", "bf16",
                                  "fp32"])
def test_value_text_by_float_matches_the_fraction_rule(name: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """analysis.float_value_text's float64 path gives the text of the Fraction rule
    (plain_value) for every code (a sample of fp32's)."""
    from precli.core import values as analysis

    fmt = get_format(name)
    codes = list(range(1 << fmt.bits)) if fmt.bits <= 16 else \
        random.Random(6).sample(range(1 << fmt.bits), 5000)
    fast = [analysis.float_value_text.__wrapped__(fmt, c) for c in codes]  # type: ignore
    monkeypatch.setattr(analysis, "float64_exact", lambda f: False)
    slow = [analysis.float_value_text.__wrapped__(fmt, c) for c in codes]  # type: ignore
    assert fast == slow


@pytest.mark.parametrize("name", ["e4m3fn", "e5m2", "e8m0fnu", "bf16", "fp32", "fp64"])
def test_code_ulp_and_exact_text(name: str) -> None:
    """describe_code's ulp (from the exponent field) against rounding.float_ulp (from the
    magnitude), and its exact text against value_text."""
    from precli.core.rounding import float_ulp
    from precli.core.values import describe_code, value_text

    fmt = get_format(name)
    r = random.Random(8)
    codes = range(1 << fmt.bits) if fmt.bits <= 8 else \
        [r.getrandbits(fmt.bits) for _ in range(4000)] + [0, 1, (1 << (fmt.bits - 1)) + 1]
    for c in codes:
        i = describe_code(fmt, c)
        want = float_ulp(fmt, i.stored.magnitude) if i.stored.kind == "finite" else None
        assert i.ulp == want, hex(c)
        assert i.exact == value_text(i.stored), hex(c)


@pytest.mark.parametrize("name", ["e4m3fn", "e5m2", "e4m3fnuz", "e3m2fn", "e2m1fn", "e8m0fnu",
                                  "e4m3b11fnuz", "fp16", "bf16", "fp32", "tf32"])
def test_float_info_by_float_matches_the_fraction_path(name: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """describe_code of a finite float code through float64 arithmetic (_finite_info64) is
    the CodeInfo of the Fraction path, field for field, formula included."""
    from precli.core import values as analysis

    fmt = get_format(name)
    r = random.Random(9)
    codes = list(range(1 << fmt.bits)) if fmt.bits <= 16 else \
        [r.getrandbits(fmt.bits) for _ in range(3000)]
    fast = [analysis.describe_code(fmt, c) for c in codes]
    monkeypatch.setattr(analysis, "float64_exact", lambda f: False)
    assert fast == [analysis.describe_code(fmt, c) for c in codes]


def test_per_code_stores_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """fp32 values each with its own code: the template store and the per-code caches start
    again past their limits (memory stays bounded) and the records stay right."""
    from tests.test_records import exact_encode, fast_encode

    monkeypatch.setattr(bulk, "FAST_SLICE", 500)
    monkeypatch.setattr(bulk, "FAST_MIN", 1)
    monkeypatch.setattr(bulk, "CACHE_LIMIT", 300)
    monkeypatch.setattr(fastrec.Templates, "LIMIT", 1200)
    rng = np.random.default_rng(4)
    toks = [f"{v:.9g}" for v in (rng.standard_normal(4000) * 10).tolist()]
    batch = bulk.Batch(0, body=("\n".join(toks) + "\n").encode())
    seen: list[int] = []
    orig = fastrec.Templates.rows_of

    def spy(self: fastrec.Templates, *a: object) -> object:
        out = orig(self, *a)  # type: ignore[arg-type]
        seen.append(self.count)
        return out

    monkeypatch.setattr(fastrec.Templates, "rows_of", spy)
    for mode in ("ndjson", "csv"):
        assert fast_encode("fp32", batch, mode, EncodeOptions()) == \
            exact_encode("fp32", batch, mode, EncodeOptions())
    assert seen and max(seen) <= 1200 and len(seen) >= 8
