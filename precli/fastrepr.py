"""Vectorized ``repr(float)`` for float64 arrays: ASCII rows equal to Python's repr, or a flag.

Python's ``repr`` of a float is the shortest decimal that rounds back to it (David Gay's
dtoa mode 0; among the shortest, the one nearest the value), laid out by format 'r':
scientific when the decimal exponent is < -4 or >= 16, else positional with at least one
digit after the point. :func:`repr_matrix` reproduces it with a few dozen numpy operations
per array and flags every lane it cannot decide with certainty (``ok=False``): the caller
prints those with Python's ``repr``.

Method, for a positive normal v = m * 2**e2 (m in [1, 2)) with decimal exponent E
(10**E <= v < 10**(E+1), decided exactly against a per-binade threshold):

* X = v * 10**(16-E) lies in [1e16, 1e17). It is computed as m * Z with Z = 10**(16-E) *
  2**e2 a per-(binade, E) double-double table entry (exact Fractions at first use), the
  product exact by Dekker's two-product (Veltkamp splitting; numpy has no fma). Its total
  error is below 1e-14 in units of X, against the comparison margin EPS = 2**-36.
  X >= 1e16 > 2**53, so the high part is an integer: X = I + f, I int64, f in [0, 1).
* v's rounding interval is X +- D with D = ulp(v)/2 * 10**(16-E) = Z * 2**-53 (0.55..11.2);
  the interval below a power of two is D/2 wide (handled in a second pass on those lanes).
* N15 / N16 / N17: X correctly rounded to a multiple of 100 / 10 / 1 (from I and f, not
  from each other). Decimals of at most 15 digits are unique in an interval this narrow
  (DBL_DIG), so if N15 round-trips it is the answer (trailing zeros dropped); else N16 if
  it round-trips (the nearest 16-digit decimal); else N17, which always does. Every
  comparison closer than EPS to its threshold (ties, interval ends, rounding halves) sets
  ok=False instead of guessing.
* Layout: digits from a table of 4-digit ASCII chunks, assembled as three little-endian
  uint64 words per row (point inserted by masks and shifts, sign / '0.000' prefix shifted
  in, exponent text from a (exponent, position) table).

Zeros, infinities and NaN are written directly; subnormals get ok=False (their interval is
wide enough that the DBL_DIG uniqueness argument does not hold).
"""

from __future__ import annotations

import functools
from fractions import Fraction
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

WIDTH = 24
EPS = 2.0 ** -36
_SPLIT = 134217729.0  # 2**27 + 1, Veltkamp's constant for float64
_E_OFF = 310  # exponent table offset: E in [-308, 308] -> [2, 618]
_NO_DOT = 16

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]


class _Tables(NamedTuple):
    thresh: F64  # by biased exponent: |v| >= thresh -> E = E0 + 1
    dec_exp: I64  # by 2 * bexp + bump: E
    z_hi: F64  # by 2 * bexp + bump: Z rounded to float64
    z_lo: F64  # Z - z_hi rounded
    z_hh: F64  # Veltkamp halves of z_hi
    z_ht: F64
    t4: U64  # 4-digit ASCII chunks, first digit in the low byte
    lo0: U64  # by 17 * q + Lr: bytes of the 16-digit tail before the point
    lo1: U64
    hi0: U64  # bytes of the tail after the point (up to Lr)
    hi1: U64
    dot0: U64  # by q: '.' at byte 1 + q of the body
    dot1: U64
    dot2: U64
    key_q: I64  # by 2 * ekey + (ndig == 1): point position in the tail
    key_lmin: I64  # minimum tail length (positional: E + 1 digits after the first)
    pre: U64  # by 2 * key + sign: prefix text ('-', '0.00', ...)
    pre_len: I64
    exp0: U64  # by 24 * (E + _E_OFF) + pos: exponent text at byte pos
    exp1: U64
    exp2: U64
    exp_len: I64  # by E + _E_OFF


def _split(x: float) -> tuple[float, float]:
    c = _SPLIT * x
    hi = c - (c - x)
    return hi, x - hi


def _ceil_double(q: Fraction) -> float:
    """Smallest float64 >= q (inf when none)."""
    try:
        f = float(q)
    except OverflowError:
        return float("inf")
    if Fraction(f) < q:
        f = float(np.nextafter(f, np.inf))
    return f


def _text_word(text: str, pos: int) -> tuple[int, int, int]:
    """Three little-endian 64-bit words with ``text`` at byte ``pos`` of a 24-byte row."""
    val = 0
    for i, ch in enumerate(text):
        if pos + i < WIDTH:
            val |= ord(ch) << (8 * (pos + i))
    m = (1 << 64) - 1
    return val & m, (val >> 64) & m, (val >> 128) & m


@functools.cache
def _tables() -> _Tables:
    thresh = np.full(2048, np.inf)
    dec_exp = np.zeros(4096, np.int64)
    z_hi = np.ones(4096)
    z_lo = np.zeros(4096)
    for bexp in range(1, 2047):
        e2 = bexp - 1023
        # E0 = largest E with 10**E <= 2**e2
        e0 = len(str(2 ** e2)) - 1 if e2 >= 0 else -len(str(2 ** -e2))
        thresh[bexp] = _ceil_double(Fraction(10) ** (e0 + 1))
        for bump in (0, 1):
            e = e0 + bump
            z = Fraction(10) ** (16 - e) * Fraction(2) ** e2
            hi = float(z)
            i = 2 * bexp + bump
            dec_exp[i] = e
            z_hi[i] = hi
            z_lo[i] = float(z - Fraction(hi))
    z_hh = np.empty_like(z_hi)
    z_ht = np.empty_like(z_hi)
    for i, h in enumerate(z_hi.tolist()):
        z_hh[i], z_ht[i] = _split(h)

    t4 = np.array([int.from_bytes(f"{i:04d}".encode(), "little") for i in range(10000)],
                  np.uint64)

    m128 = (1 << 128) - 1
    lo0 = np.zeros(17 * 17, np.uint64)
    lo1 = np.zeros_like(lo0)
    hi0 = np.zeros_like(lo0)
    hi1 = np.zeros_like(lo0)
    m64 = (1 << 64) - 1
    for q in range(17):
        below = (1 << (8 * q)) - 1
        for lr in range(17):
            keep = (1 << (8 * lr)) - 1
            a = keep & below
            b = keep & ~below & m128
            i = 17 * q + lr
            lo0[i], lo1[i] = a & m64, a >> 64
            hi0[i], hi1[i] = b & m64, b >> 64
    dot = np.zeros((3, 17), np.uint64)
    for q in range(_NO_DOT):
        dot[:, q] = _text_word(".", 1 + q)

    # ekey = clip(E, -5, 16) + 5: 0 scientific (E < -4), 1..4 E = -4..-1, 5..20 E = 0..15,
    # 21 scientific (E >= 16)
    key_q = np.zeros(44, np.int64)
    key_lmin = np.zeros(44, np.int64)
    pre = np.zeros(88, np.uint64)
    pre_len = np.zeros(88, np.int64)
    for ekey in range(22):
        e = ekey - 5
        for one in (0, 1):
            k = 2 * ekey + one
            if ekey in (0, 21):
                key_q[k] = _NO_DOT if one else 0
                head = ""
            elif e < 0:
                key_q[k] = _NO_DOT
                head = "0." + "0" * (-e - 1)
            else:
                key_q[k] = e
                key_lmin[k] = e + 1
                head = ""
            for sign in (0, 1):
                text = ("-" if sign else "") + head
                pre[2 * k + sign] = _text_word(text, 0)[0]
                pre_len[2 * k + sign] = len(text)

    ne = 2 * _E_OFF + 1
    exp = np.zeros((3, ne * WIDTH), np.uint64)
    exp_len = np.zeros(ne, np.int64)
    for ei in range(ne):
        e = ei - _E_OFF
        if -4 <= e < 16:
            continue
        text = f"e{e:+03d}"
        exp_len[ei] = len(text)
        for pos in range(WIDTH):
            exp[:, ei * WIDTH + pos] = _text_word(text, pos)
    return _Tables(thresh, dec_exp, z_hi, z_lo, z_hh, z_ht, t4, lo0, lo1, hi0, hi1,
                   dot[0], dot[1], dot[2], key_q, key_lmin, pre, pre_len,
                   exp[0], exp[1], exp[2], exp_len)


def _fits_pow2(dist: F64, d_half: F64, d_low: F64) -> tuple[Bool, Bool]:
    """(inside, undecided) for candidates dist = N - X in [X - D/2, X + D]."""
    inside = (dist < d_half) & (-dist < d_low)
    amb = (np.abs(dist - d_half) < EPS) | (np.abs(dist + d_low) < EPS)
    return inside, amb


def _digits(m: F64, zi: I64, pow2: bool) -> tuple[I64, I64, Bool]:
    """(N, E, ok) for significands m in [1, 2) and table rows zi: N the 17-digit integer
    (1e16 <= N < 1e17) of the shortest round-tripping decimal, E its decimal exponent.
    pow2: every lane is an exact power of two (interval below half as wide)."""
    t = _tables()
    zh = t.z_hi[zi]
    # Dekker two-product m * zh = p + err, exactly
    c = m * _SPLIT
    mh = c - (c - m)
    mt = m - mh
    hh = t.z_hh[zi]
    ht = t.z_ht[zi]
    p = m * zh
    err = mh * hh - p
    err += mh * ht
    err += mt * hh
    err += mt * ht
    err += m * t.z_lo[zi]  # F: X = p + F within 1e-14
    g = np.floor(err)
    f = err - g  # exact, in [0, 1)
    ix = p.astype(np.int64)
    ix += g.astype(np.int64)
    d_half = zh * 2.0 ** -53  # D: half the rounding interval in units of X

    # 17 digits: nearest integer
    n17 = ix + (f > 0.5)
    amb17 = np.abs(f - 0.5) < EPS
    # 16 digits: nearest multiple of 10
    q16 = ix // 10
    r16 = ix - q16 * 10
    rem16 = r16 + f
    up16 = rem16 > 5.0
    amb16 = np.abs(rem16 - 5.0) < EPS
    n16 = (q16 + up16) * 10
    dist16 = (up16 * 10 - r16) - f  # N16 - X
    # 15 digits: nearest multiple of 100 (a tie here is 50 away, outside any interval)
    q15 = q16 // 10
    r15 = ix - q15 * 100
    rem15 = r15 + f
    up15 = rem15 > 50.0
    n15 = (q15 + up15) * 100
    dist15 = (up15 * 100 - r15) - f

    if pow2:
        # interval [X - D/2, X + D]: when the nearest candidate fails on the narrow side,
        # the next one up (the nearest of those above X) may still fit
        d_low = d_half * 0.5
        in15, amb15 = _fits_pow2(dist15, d_half, d_low)
        nxt, amb_n = _fits_pow2(dist15 + 100, d_half, d_low)
        low = (dist15 < 0) & ~in15
        amb15 |= low & amb_n
        bump = low & nxt
        n15 += bump * 100
        in15 |= bump
        in16, amb16b = _fits_pow2(dist16, d_half, d_low)
        amb16 |= amb16b
        nxt, amb_n = _fits_pow2(dist16 + 10, d_half, d_low)
        low = (dist16 < 0) & ~in16
        amb16 |= low & amb_n
        bump = low & nxt
        n16 += bump * 10
        in16 |= bump
    else:
        a15 = np.abs(dist15)
        in15 = a15 < d_half
        amb15 = np.abs(a15 - d_half) < EPS
        a16 = np.abs(dist16)
        in16 = a16 < d_half
        amb16 |= np.abs(a16 - d_half) < EPS

    n = np.where(in15, n15, np.where(in16, n16, n17))
    ok = ~amb15 & (in15 | ~amb16) & (in15 | in16 | ~amb17)
    e = t.dec_exp[zi]
    carry = n >= 10 ** 17
    if carry.any():
        n[carry] = 10 ** 16
        e = e + carry
    return n, e, ok


def _layout(n: I64, e: I64, sign: U64) -> tuple[U64, U64, U64, I64]:
    """Rows (three little-endian words) and lengths of repr for 17-digit N, exponent E."""
    t = _tables()
    a = n // 10 ** 16
    r = n - a * 10 ** 16
    h8 = r // 10 ** 8
    l8 = r - h8 * 10 ** 8
    c1 = h8 // 10 ** 4
    c2 = h8 - c1 * 10 ** 4
    c3 = l8 // 10 ** 4
    c4 = l8 - c3 * 10 ** 4
    r0 = t.t4[c1] | (t.t4[c2] << np.uint64(32))
    r1 = t.t4[c3] | (t.t4[c4] << np.uint64(32))
    # trailing zeros of the 16-digit tail -> ndig (1..17)
    nz = np.where(c4 != 0, 16, np.where(c3 != 0, 12, np.where(c2 != 0, 8,
                                                               np.where(c1 != 0, 4, 0))))
    last = np.where(c4 != 0, c4, np.where(c3 != 0, c3, np.where(c2 != 0, c2, c1)))
    ndig = 1 + nz - _TZ4[last]

    ekey = np.clip(e, -5, 16) + 5
    key = ekey * 2 + (ndig == 1)
    q = t.key_q[key]
    lr = np.maximum(ndig - 1, t.key_lmin[key])
    qi = q * 17 + lr
    lo0 = r0 & t.lo0[qi]
    lo1 = r1 & t.lo1[qi]
    hi0 = r0 & t.hi0[qi]
    hi1 = r1 & t.hi1[qi]
    s8, s16, s48, s56 = np.uint64(8), np.uint64(16), np.uint64(48), np.uint64(56)
    b0 = (a + 48).astype(np.uint64)
    b0 |= lo0 << s8
    b0 |= hi0 << s16
    b0 |= t.dot0[q]
    b1 = lo0 >> s56
    b1 |= lo1 << s8
    b1 |= hi0 >> s48
    b1 |= hi1 << s16
    b1 |= t.dot1[q]
    b2 = lo1 >> s56
    b2 |= hi1 >> s48
    b2 |= t.dot2[q]
    pk = key * 2 + sign.astype(np.int64)
    plen = t.pre_len[pk]
    sh = (plen * 8).astype(np.uint64)
    back = np.uint64(64) - sh  # numpy defines x >> 64 == 0 for uint64
    w0 = b0 << sh
    w0 |= t.pre[pk]
    w1 = b1 << sh
    w1 |= b0 >> back
    w2 = b2 << sh
    w2 |= b1 >> back
    pos = plen + 1 + lr + (q != _NO_DOT)
    ei = e + _E_OFF
    xi = ei * WIDTH + pos
    w0 |= t.exp0[xi]
    w1 |= t.exp1[xi]
    w2 |= t.exp2[xi]
    return w0, w1, w2, pos + t.exp_len[ei]


_TZ4 = np.array([0] + [len(str(i)) - len(str(i).rstrip("0")) for i in range(1, 10000)],
                np.int64)


def repr_matrix(v: npt.NDArray[np.float64]) -> tuple[
        npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """(text, length, ok) for a float64 array of n values:
    text: uint8 (n, 24) matrix, row i = ASCII of repr(float(v[i])) left-aligned,
          zero bytes after it; length: int64 (n,) lengths; ok: bool (n,).
    Where ok is False the row is unspecified and the caller uses Python's repr for
    that lane. Where ok is True the row MUST equal repr(float(v[i])) byte for byte."""
    v = np.ascontiguousarray(v, dtype=np.float64).reshape(-1)
    count = v.shape[0]
    words = np.zeros((count, 3), "<u8")
    length = np.zeros(count, np.int64)
    ok = np.zeros(count, np.bool_)
    if count == 0:
        return words.view(np.uint8).reshape(0, WIDTH), length, ok
    t = _tables()
    bits = v.view(np.uint64)
    sign = bits >> np.uint64(63)
    bexp = ((bits >> np.uint64(52)) & np.uint64(0x7FF)).astype(np.int64)
    mant = bits & np.uint64((1 << 52) - 1)
    normal = (bexp != 0) & (bexp != 0x7FF)
    if not normal.all():
        bexp = np.where(normal, bexp, 1023)
    m = (mant | np.uint64(1023 << 52)).view(np.float64)
    absv = np.abs(v)
    zi = bexp * 2 + (absv >= t.thresh[bexp])
    n, e, good = _digits(m, zi, pow2=False)
    pow2 = (mant == 0) & (bexp > 1)  # below a power of two (but 2**-1022) the gap halves
    if pow2.any():
        idx = np.flatnonzero(pow2)
        n[idx], e[idx], good[idx] = _digits(m[idx], zi[idx], pow2=True)
    w0, w1, w2, ln = _layout(n, e, sign)
    words[:, 0] = w0
    words[:, 1] = w1
    words[:, 2] = w2
    length[:] = ln
    ok[:] = good & normal
    if not normal.all():
        mag = bits & np.uint64((1 << 63) - 1)
        inf_bits = np.uint64(0x7FF << 52)
        for lanes, text in (
            ((mag == 0) & (sign == 0), "0.0"),
            ((mag == 0) & (sign == 1), "-0.0"),
            ((mag == inf_bits) & (sign == 0), "inf"),
            ((mag == inf_bits) & (sign == 1), "-inf"),
            (mag > inf_bits, "nan"),
        ):
            if lanes.any():
                words[lanes] = _text_word(text, 0)
                length[lanes] = len(text)
                ok[lanes] = True
    return words.view(np.uint8).reshape(count, WIDTH), length, ok
