"""precli.stream.floatrepr.repr_matrix against Python's own ``repr(float)`` (the oracle).

Every lane with ok=True must hold exactly the bytes of repr, zero bytes after them, and
the right length; lanes with ok=False are free. The ok share is asserted too (on the
normal range the brief targets, and on the values the callers print most: zeros, short
exact decimals, powers of two), so a function that gives up on every lane fails.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from precli.stream.floatrepr import WIDTH, repr_matrix


def _expected(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    texts = [repr(x).encode() for x in v.tolist()]
    mat = np.array(texts, dtype=f"S{WIDTH}").view(np.uint8).reshape(len(texts), WIDTH)
    return mat, np.array([len(t) for t in texts], np.int64)


def _check(v: np.ndarray) -> np.ndarray:
    """Assert every ok row equals repr; return ok."""
    v = np.asarray(v, np.float64)
    text, length, ok = repr_matrix(v)
    assert text.shape == (len(v), WIDTH) and text.dtype == np.uint8
    assert length.shape == ok.shape == (len(v),)
    exp, exp_len = _expected(v)
    rows = np.flatnonzero(ok & ~((text == exp).all(axis=1) & (length == exp_len)))
    if len(rows):
        i = int(rows[0])
        got = bytes(text[i])
        raise AssertionError(f"{len(rows)} ok rows differ from repr, first "
                             f"{v[i]!r}: {got!r} (length {length[i]}) != {repr(float(v[i]))!r}")
    return ok


def test_random_bit_patterns_all_exponents() -> None:
    """1e6 uniformly random 64-bit patterns: every sign, binade, subnormals, inf and nan."""
    rng = np.random.default_rng(20261201)
    v = rng.integers(0, 2**64, 1_000_000, dtype=np.uint64, endpoint=False).view(np.float64)
    ok = _check(v)
    normal = np.isfinite(v) & (np.abs(v) >= np.finfo(np.float64).tiny)
    assert ok[normal].mean() > 0.99


def test_random_subnormals() -> None:
    rng = np.random.default_rng(3)
    bits = rng.integers(1, 2**52, 20_000, dtype=np.uint64)
    v = np.concatenate([bits.view(np.float64), -bits.view(np.float64)])
    _check(v)


def test_ok_share_on_the_target_range() -> None:
    """Positive and negative normals between 1e-30 and 1e10, log-uniform: >= 99% ok."""
    rng = np.random.default_rng(11)
    n = 200_000
    v = 10.0 ** rng.uniform(-30, 10, n)
    v[::3] *= -1
    ok = _check(v)
    assert ok.mean() >= 0.99
    w = np.abs(rng.standard_normal(n)) * 10.0 ** rng.integers(-20, 5, n)
    assert _check(w).mean() >= 0.99


def test_rounding_errors_as_callers_compute_them() -> None:
    """abs / rel errors of float32 and float16 roundings (dyadic values, many exact)."""
    rng = np.random.default_rng(21)
    x = rng.standard_normal(100_000) * 10.0 ** rng.integers(-6, 4, 100_000)  # fp16 range
    r32 = x.astype(np.float32).astype(np.float64)
    r16 = x.astype(np.float16).astype(np.float64)
    errs = np.concatenate([np.abs(x - r32), np.abs(r32 - r16), r32 - r16,
                           np.abs(x - r32) / np.abs(x), (r32 - r16) / r32])
    ok = _check(errs[np.isfinite(errs)])
    assert ok.mean() > 0.999


def test_format_switch_points() -> None:
    vals = [1e-5, 9.999999999999999e-05, 0.0001, 0.00010000000000000002, 1e-4 * (1 - 2**-53),
            1e16, 9999999999999998.0, 1e16 + 2, 1e15, 999999999999999.9, 123456789012345.67,
            1234567890123456.8, 1.2345e100, 1.5e-07, 1e-05 * 1.5, 0.001, 0.01, 0.1, 1.0, 10.0]
    v = np.array(vals + [-x for x in vals])
    ok = _check(v)
    assert ok.all()


def test_specials_and_extremes() -> None:
    vals = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 5e-324, -5e-324,
            2.2250738585072014e-308, -2.2250738585072014e-308, 2.225073858507201e-308,
            1.7976931348623157e308, -1.7976931348623157e308, 8.98846567431158e307,
            1e308, 1e-308, 1e-307, 4.9406564584124654e-322]
    v = np.array(vals)
    ok = _check(v)
    # zeros, infinities, nan and the normal extremes are decided; subnormals may be flagged
    assert ok[[0, 1, 2, 3, 4, 5, 8, 9, 11, 12, 13, 14, 16]].all()
    text, length, _ = repr_matrix(np.array([np.nan, -0.0, -np.inf]))
    assert [bytes(r[:k]) for r, k in zip(text, length, strict=True)] == [b"nan", b"-0.0",
                                                                         b"-inf"]
    assert not text[:, 4:].any()


def test_powers_of_two_and_ten() -> None:
    p2 = np.ldexp(1.0, np.arange(-1074, 1024))
    ok2 = _check(np.concatenate([p2, -p2]))
    assert ok2[: len(p2)][p2 >= 2.0**-1022].mean() > 0.99
    p10 = np.array([float(f"1e{k}") for k in range(-323, 309)])
    ok10 = _check(np.concatenate([p10, -p10]))
    assert ok10[: len(p10)][p10 >= 1e-307].mean() > 0.99
    # neighbours of powers of two: the rounding interval changes width there
    _check(np.nextafter(p2, 0.0))
    _check(np.nextafter(p2[:-1], np.inf))


def test_short_decimals_and_their_neighbours() -> None:
    """Values with 1..15 significant digits (the N15 path, trailing zeros, the '0.000ddd'
    and 'ddd.0' layouts) and their 1- and 2-ulp neighbours (16 and 17 digits)."""
    rng = np.random.default_rng(5)
    n = 30_000
    ndig = rng.integers(1, 16, n)
    mant = [int(rng.integers(10 ** (d - 1), 10**d)) for d in ndig.tolist()]
    exps = rng.integers(-40, 30, n).tolist()
    v = np.array([float(f"{m}e{e}") for m, e in zip(mant, exps, strict=True)])
    v[::2] *= -1
    ok = _check(v)
    # at and above 1e16 the short decimal is often exactly the midpoint to a neighbour
    # (an integer with many factors of 2): flagged, not guessed
    small = np.abs(v) < 1e16
    assert ok[small].mean() > 0.999
    assert ok.mean() > 0.95
    for k in (1, 2):
        up = v
        down = v
        for _ in range(k):
            up = np.nextafter(up, np.inf)
            down = np.nextafter(down, -np.inf)
        for w in (up, down):
            okw = _check(w)
            assert okw[np.abs(w) < 1e16].mean() > 0.999
            assert okw.mean() > 0.95


def test_values_callers_print() -> None:
    """Rounding errors: zeros, exact short values, sums like 0.1 + 0.2: all decided."""
    vals = [0.0, 0.5, 32.0, 0.000625, 0.25, 3.0, 1.5, 0.1 + 0.2, 0.1 * 3, 1.1 + 2.2, 0.3,
            2.0**-10, 2.0**-24, 6.103515625e-05, 1.0 / 3, 2.0 / 3, 65504.0, 448.0, 240.0,
            3.4028234663852886e38, 1.1754943508222875e-38, 0.0078125, 123.456, 1e-30,
            9.5367431640625e-07, 0.30000000000000004, 100.0, 1e10, 12345678.9]
    v = np.array(vals + [-x for x in vals])
    assert _check(v).all()


def test_layout_every_exponent_and_length() -> None:
    """Every decimal exponent from -30 to 30 with every digit count 1..17."""
    rng = np.random.default_rng(9)
    vals = []
    for e in range(-30, 31):
        for d in range(1, 18):
            m = int(rng.integers(10 ** (d - 1), 10**d))
            if m % 10 == 0:
                m += 1
            vals.append(float(f"{m}e{e - d + 1}"))
    v = np.array(vals)
    assert _check(np.concatenate([v, -v])).mean() > 0.99


def test_shapes_and_dtypes() -> None:
    text, length, ok = repr_matrix(np.zeros(0))
    assert text.shape == (0, WIDTH) and length.shape == ok.shape == (0,)
    v = np.arange(12, dtype=np.float32).reshape(3, 4) / 8
    text, length, ok = repr_matrix(v.astype(np.float64)[:, ::2].reshape(-1))
    assert ok.all()
    assert [bytes(r[:k]).decode() for r, k in zip(text, length, strict=True)] == [
        repr(float(x)) for x in v[:, ::2].reshape(-1)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=40))
def test_hypothesis_floats(xs: list[float]) -> None:
    _check(np.array(xs, np.float64))


@pytest.mark.parametrize("seed", [0, 1])
def test_chunk_boundaries(seed: int) -> None:
    """Arrays longer than one pass, with specials and short values at the pass edges."""
    from precli.stream import floatrepr as fastrepr

    rng = np.random.default_rng(seed)
    n = 3 * fastrepr._CHUNK + 17
    v = 10.0 ** rng.uniform(-8, 8, n)
    edges = np.array([0, fastrepr._CHUNK - 1, fastrepr._CHUNK, 2 * fastrepr._CHUNK, n - 1])
    v[edges] = [0.0, np.nan, 0.5, -np.inf, 5e-324]
    ok = _check(v)
    assert ok[edges[:4]].all()


@pytest.mark.parametrize("damage", ["byte", "length", "padding"])
def test_the_check_catches_a_wrong_row(monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    """The oracle comparison above fails on a single wrong byte, length or padding byte."""
    import sys

    real = repr_matrix

    def broken(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        text, length, ok = real(v)
        text = text.copy()
        if damage == "byte":
            text[1, 0] ^= 1
        elif damage == "length":
            length = length.copy()
            length[1] += 1
        else:
            text[1, WIDTH - 1] = ord("0")
        return text, length, ok

    monkeypatch.setattr(sys.modules[__name__], "repr_matrix", broken)
    with pytest.raises(AssertionError, match="differ from repr"):
        _check(np.array([0.5, 0.1 + 0.2, 1e-30]))
