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
  2**e2 a per-(binade, E) double-double table entry (exact integer ratios, first use), the
  product exact by Dekker's two-product (Veltkamp splitting; numpy has no fma). Its total
  error is below 1e-14 in units of X, against the comparison margin EPS = 2**-36.
  X >= 1e16 > 2**53, so the high part is an integer: X = I + f, I int64, f in [0, 1).
* v's rounding interval is X +- D with D = ulp(v)/2 * 10**(16-E) = Z * 2**-53 (0.55..11.2);
  the interval below a power of two is D/2 wide (the lanes where that can change the
  answer are redone on their own, with the next candidate up where the nearest falls out).
* N15 / N16 / N17: X correctly rounded to a multiple of 100 / 10 / 1 (from I and f, not
  from each other). Decimals of at most 15 digits are unique in an interval this narrow
  (DBL_DIG), so if N15 round-trips it is the answer (trailing zeros dropped); else N16 if
  it round-trips (the nearest 16-digit decimal); else N17, which always does. A
  comparison closer than EPS to its threshold (a tie between two candidates that both
  fit, an interval end) is undecided: where Z is a single float64 (E in -6..16) X is
  exact and those lanes are decided again in int64 (ends included for even significands,
  ties to even, as dtoa does); elsewhere they get ok=False instead of a guess.
* Layout: raw digits from a table of 4-digit chunks in two little-endian uint64 words,
  split at the point and shifted past the prefix ('-', '0.000'); one pattern per layout
  key (exponent, digit count, sign) ORs in the prefix, the point, 0x30 on the digit bytes
  the text shows and the exponent text; three uint64 words make the 24-byte row.

Zeros, infinities and NaN are written directly; subnormals get ok=False (their interval is
wide enough that the DBL_DIG uniqueness argument does not hold). Work goes in passes of
16384 lanes so the temporaries stay in cache.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from precli.array.doubledouble import SPLIT, split

WIDTH = 24
EPS = 2.0 ** -36
_E_OFF = 310  # exponent table offset: E in [-308, 308] -> [2, 618]
_NO_DOT = 16

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]


_CHUNK = 16384  # lanes per pass: the temporaries stay in cache and their memory is reused
_U = np.uint64


class _Tables(NamedTuple):
    thm: F64  # by biased exponent: m >= thm  <=>  v >= 10**(E0 + 1)  (then E = E0 + 1)
    dec_exp: I64  # by zi = 2 * bexp + bump: E
    z_hi: F64  # by zi: Z = 10**(16 - E) * 2**e2 rounded to float64
    z_lo: F64  # Z - z_hi, rounded
    z_exact: Bool  # Z == z_hi + z_lo exactly
    z_single: Bool  # Z == z_hi exactly
    z_hh: F64  # Veltkamp halves of z_hi
    z_ht: F64
    t4: U64  # 4-digit chunk as 4 raw digit bytes (0..9), first lowest
    t4h: U64  # the same << 32
    tz4: I64  # trailing zero digits of a 4-digit chunk (4 for 0)
    sh: U64  # by layout key K = 36 * (E + _E_OFF) + 2 * ndig + sign: 8 * prefix length
    low0: U64  # by K: bytes of the 16-digit tail before the point (all when no point)
    low1: U64
    pd0: U64  # by K: the row with 0x30 on every digit byte: prefix, '.', exponent text
    pd1: U64
    pd2: U64
    length: I64  # by K: length of the row
    built: Bool  # by E + _E_OFF: whether the layout entries of that exponent are made


def _text_word(text: str, pos: int) -> tuple[int, int, int]:
    """Three little-endian 64-bit words with ``text`` at byte ``pos`` of a 24-byte row."""
    val = 0
    for i, ch in enumerate(text):
        if pos + i < WIDTH:
            val |= ord(ch) << (8 * (pos + i))
    m = (1 << 64) - 1
    return val & m, (val >> 64) & m, (val >> 128) & m


def _key(ei: int, ndig: int, sign: int) -> int:
    return 36 * ei + 2 * ndig + sign


def _scaled(k: int, e2: int) -> tuple[int, int]:
    """10**k * 2**e2 as an integer ratio (num, den)."""
    num, den = (10**k, 1) if k >= 0 else (1, 10**-k)
    return (num << e2, den) if e2 >= 0 else (num, den << -e2)


def _nearest(num: int, den: int) -> tuple[float, int, int]:
    """num / den rounded to float64 (Python's int division rounds correctly), with the
    exact remainder num / den - that float as (rnum, rden)."""
    f = num / den
    fn, fd = f.as_integer_ratio()
    return f, num * fd - fn * den, den * fd


@functools.cache
def _tables() -> _Tables:
    thm = np.full(2048, np.inf)
    dec_exp = np.zeros(4096, np.int64)
    z_hi = np.ones(4096)
    z_lo = np.zeros(4096)
    z_exact = np.zeros(4096, np.bool_)
    z_single = np.zeros(4096, np.bool_)
    for bexp in range(1, 2047):
        e2 = bexp - 1023
        # E0 = largest E with 10**E <= 2**e2
        e0 = len(str(2**e2)) - 1 if e2 >= 0 else -len(str(2**-e2))
        num, den = _scaled(e0 + 1, -e2)  # 10**(E0 + 1) / 2**e2, as m's threshold
        if num > den * 2:
            thm[bexp] = np.inf  # beyond the binade: E = E0 always
        else:
            f, rn, _ = _nearest(num, den)
            thm[bexp] = f if rn <= 0 else float(np.nextafter(f, np.inf))
        for bump in (0, 1):
            e = e0 + bump
            i = 2 * bexp + bump
            hi, rn, rd = _nearest(*_scaled(16 - e, e2))  # Z = 10**(16-E) * 2**e2
            lo, rn2, _ = _nearest(rn, rd)
            dec_exp[i] = e
            z_hi[i] = hi
            z_lo[i] = lo
            z_exact[i] = rn2 == 0
            z_single[i] = rn == 0
    z_hh = np.empty_like(z_hi)
    z_ht = np.empty_like(z_hi)
    for i, h in enumerate(z_hi.tolist()):
        z_hh[i], z_ht[i] = split(h)

    i4 = np.arange(10000, dtype=np.uint64)
    t4 = np.zeros(10000, np.uint64)
    tz4 = np.zeros(10000, np.int64)
    for j in range(4):  # digit j (from the left) in byte j
        t4 |= (i4 // _U(10 ** (3 - j)) % _U(10)) << _U(8 * j)
        tz4 += i4 % _U(10 ** (j + 1)) == 0

    nk = _key(2 * _E_OFF + 1, 0, 0)
    return _Tables(thm, dec_exp, z_hi, z_lo, z_exact, z_single, z_hh, z_ht, t4, t4 << _U(32), tz4,
                   np.zeros(nk, np.uint64), np.zeros(nk, np.uint64), np.zeros(nk, np.uint64),
                   np.zeros(nk, np.uint64), np.zeros(nk, np.uint64), np.zeros(nk, np.uint64),
                   np.zeros(nk, np.int64), np.zeros(2 * _E_OFF + 1, np.bool_))


def _build_layout(t: _Tables, ei: int) -> None:
    """Fill the layout entries of exponent index ei (E = ei - _E_OFF) in place: they are
    made on first use, an exponent at a time (all 621 at once cost ~50 ms at start)."""
    m64 = (1 << 64) - 1
    e = ei - _E_OFF
    sci = not -4 <= e < 16
    tail = f"e{e:+03d}" if sci else ""
    for ndig in range(1, 18):
        if sci:  # d.ddde+XX (no point for one digit)
            q, lr, head = (_NO_DOT if ndig == 1 else 0), ndig - 1, ""
        elif e < 0:  # 0.000ddd
            q, lr, head = _NO_DOT, ndig - 1, "0." + "0" * (-e - 1)
        else:  # ddd.ddd, at least one digit after the point
            q, lr, head = e, max(ndig - 1, e + 1), ""
        below = (1 << (8 * min(q, 16))) - 1
        for sign in (0, 1):
            k = _key(ei, ndig, sign)
            pre = ("-" if sign else "") + head
            # pre, first digit, q tail digits, '.', the other lr - q digits, exponent
            if q == _NO_DOT:
                row = pre + "0" * (1 + lr) + tail
            else:
                row = pre + "0" * (1 + q) + "." + "0" * (lr - q) + tail
            if len(row) > WIDTH:  # no such value (E < -308 or > 308)
                continue
            t.sh[k] = 8 * len(pre)
            t.low0[k], t.low1[k] = below & m64, below >> 64
            t.pd0[k], t.pd1[k], t.pd2[k] = _text_word(row, 0)
            t.length[k] = len(row)
    t.built[ei] = True


def _x_parts(m: F64, zi: I64) -> tuple[U64, F64, F64]:
    """(I, f, D): X = m * Z = I + f within 1e-14 (I integer, f in [0, 1)); D = Z * 2**-53."""
    t = _tables()
    zh = t.z_hi[zi]
    # Dekker two-product m * zh = p + err, exactly (Veltkamp halves)
    c = m * SPLIT
    mh = c - (c - m)
    mt = m - mh
    hh = t.z_hh[zi]
    ht = t.z_ht[zi]
    p = m * zh
    err = mh * hh
    err -= p
    tmp = mh * ht
    err += tmp
    np.multiply(mt, hh, out=tmp)
    err += tmp
    np.multiply(mt, ht, out=tmp)
    err += tmp
    np.multiply(m, t.z_lo[zi], out=tmp)
    err += tmp
    # X >= 1e16 > 2**53: p is an integer
    g = np.floor(err)
    err -= g  # exact: f in [0, 1)
    ix = p.astype(np.int64)
    ix += g.astype(np.int64)
    zh *= 2.0 ** -53
    return ix.view(np.uint64), err, zh


def _next_up(dist: Any, step: int, d_half: Any, d_low: Any, inside: Any, amb: Any,
             ) -> tuple[Any, Any]:
    """Below a power of two: where the nearest candidate fell outside the narrow lower side,
    whether the next one up fits instead (bump), and the ambiguity so far."""
    nxt, amb_n = _fits_pow2(dist + step, d_half, d_low)
    low = (dist < 0) & ~inside
    return low & nxt, amb | (low & amb_n)


def _fits_pow2(dist: F64, d_half: F64, d_low: F64) -> tuple[Bool, Bool]:
    """(inside, undecided) for candidates dist = N - X in [X - D/2, X + D]."""
    inside = (dist < d_half) & (-dist < d_low)
    amb = (np.abs(dist - d_half) < EPS) | (np.abs(dist + d_low) < EPS)
    return inside, amb


def _digits_pow2(m: F64, zi: I64) -> tuple[U64, I64, Bool]:
    """(N, E, ok) for exact powers of two (m == 1): N the 17-digit integer (1e16 <= N <
    1e17) of the shortest round-tripping decimal, E its decimal exponent. The interval is
    [X - D/2, X + D]: when the nearest candidate falls outside the narrow side, the next
    one up (the nearest of those above X) may still fit."""
    t = _tables()
    ixu, f, d_half = _x_parts(m, zi)
    ix = ixu.view(np.int64)
    d_low = d_half * 0.5
    n17 = ix + (f > 0.5)  # always inside: |N17 - X| <= 0.5 < D/2 (D >= 2**-53 * 1e16)
    amb17 = np.abs(f - 0.5) < EPS
    # X = Z exactly when the table's double-double is exact: then f == 0.5 is an exact tie
    # between two 17-digit decimals that both fit, and repr (dtoa) takes the even one
    tie = amb17 & t.z_exact[zi] & (f == 0.5)
    if tie.any():
        n17 += tie & (ix % 2 == 1)
        amb17 &= ~tie
    q16 = ix // 10
    r16 = ix - q16 * 10
    rem16 = r16 + f
    up16 = rem16 > 5.0
    # a rounding tie matters only if both neighbours fit (the one below is in the narrow side)
    amb16 = (np.abs(rem16 - 5.0) < EPS) & (d_low > 5.0 - EPS)
    n16 = (q16 + up16) * 10
    dist16 = (up16 * 10 - r16) - f  # N16 - X
    q15 = q16 // 10
    r15 = ix - q15 * 100
    rem15 = r15 + f
    up15 = rem15 > 50.0
    n15 = (q15 + up15) * 100
    dist15 = (up15 * 100 - r15) - f

    in15, amb15 = _fits_pow2(dist15, d_half, d_low)
    bump, amb15 = _next_up(dist15, 100, d_half, d_low, in15, amb15)
    n15 += bump * 100
    in15 |= bump
    in16, amb16b = _fits_pow2(dist16, d_half, d_low)
    bump, amb16 = _next_up(dist16, 10, d_half, d_low, in16, amb16 | amb16b)
    n16 += bump * 10
    in16 |= bump

    n = np.where(in15, n15, np.where(in16, n16, n17))
    ok = ~amb15 & (in15 | ~amb16) & (in15 | in16 | ~amb17)
    e = t.dec_exp[zi]
    carry = n >= 10 ** 17
    if carry.any():
        n[carry] = 10 ** 16
        e = e + carry
    return n.view(np.uint64), e, ok


def _exact(ix: U64, f: F64, zi: I64, mant: U64, n: U64, in15: Bool, in16: Bool,
           amb: Bool) -> None:
    """Undecided lanes where X is exact (Z a single float64, E in [-6, 16]): decide them
    in int64. Dekker's product is then X itself; f has no bits below 2**-52 (X >= 2**53 is
    a product of two 53-bit numbers), so F = f * 2**53 and Z = 2**53 * D are integers and
    every comparison is exact in units of 2**-53: interval ends are included when v's
    significand is even, rounding ties go to the even neighbour (dtoa's rules)."""
    t = _tables()
    idx = np.flatnonzero(amb)
    idx = idx[t.z_single[zi[idx]]]
    if len(idx) == 0:
        return
    unit = 2**53
    x = ix[idx].view(np.int64)
    big_f = (f[idx] * float(unit)).astype(np.int64)
    big_d = t.z_hi[zi[idx]].astype(np.int64)
    even = (mant[idx] & _U(1)) == _U(0)
    q16 = x // 10
    r16 = (x - q16 * 10) * unit + big_f
    up16 = (r16 > 5 * unit) | ((r16 == 5 * unit) & (q16 % 2 == 1))
    d16 = np.abs(up16 * (10 * unit) - r16)
    fit16 = (d16 < big_d) | ((d16 == big_d) & even)
    q15 = q16 // 10
    r15 = (x - q15 * 100) * unit + big_f
    up15 = r15 > 50 * unit  # a tie is 50 away: outside the interval (D < 12)
    d15 = np.abs(up15 * (100 * unit) - r15)
    fit15 = (d15 < big_d) | ((d15 == big_d) & even)
    half = unit // 2
    up17 = (big_f > half) | ((big_f == half) & (x % 2 == 1))
    n[idx] = np.where(fit15, (q15 + up15) * 100,
                      np.where(fit16, (q16 + up16) * 10, x + up17)).view(np.uint64)
    in15[idx] = fit15
    in16[idx] = fit16
    amb[idx] = False


def _chunk(v: F64, words: U64, length: I64, ok: Bool) -> None:
    t = _tables()
    bits = v.view(np.uint64)
    sign = (bits >> _U(63)).view(np.int64)
    bexp = ((bits >> _U(52)) & _U(0x7FF)).view(np.int64)
    mant = bits & _U((1 << 52) - 1)
    special = (bexp - 1).view(np.uint64) >= _U(2046)  # zero, subnormal, inf, nan
    any_special = bool(special.any())
    if any_special:
        if special.all():
            ok[:] = False
            _specials(bits, words, length, ok)
            return
        # a stand-in with a plain 17-digit repr (no subset pass); the row is redone below
        bexp = np.where(special, 1021, bexp)
        mant = np.where(special, _U(0x3333333333334), mant)  # 0.30000000000000004
    m = (mant | _U(1023 << 52)).view(np.float64)
    zi = bexp * 2
    zi += m >= t.thm[bexp]
    ix, f, d = _x_parts(m, zi)

    # X = base + y with base a multiple of 100 and y in [0, 100]: N17, N16 and N15 are
    # base + t17, t16, t15 (y rounded to a multiple of 1, 10, 100); gap = |N - X| - D
    q15 = ix // _U(100)
    base = q15 * _U(100)
    y = (ix - base).view(np.int64).astype(np.float64)
    y += f
    t17 = y + 0.5
    np.floor(t17, out=t17)
    t16 = y * 0.1
    t16 += 0.5
    np.floor(t16, out=t16)
    t16 *= 10.0
    t15 = y * 0.01
    t15 += 0.5
    np.floor(t15, out=t15)
    t15 *= 100.0
    gap16 = y - t16
    np.abs(gap16, out=gap16)
    # a rounding tie at 16 digits (y - t16 = +-5) where both neighbours would fit; near a
    # tie t16 may be either neighbour: this flags it either way
    amb = np.abs(gap16 - 5.0) < EPS
    amb &= d > 5.0 - EPS
    gap16 -= d
    gap15 = y - t15  # a tie here is 50 away from X: outside every interval (D < 12)
    np.abs(gap15, out=gap15)
    gap15 -= d
    in15 = gap15 < 0.0
    in16 = gap16 < 0.0
    # interval ends
    amb |= np.abs(gap16) < EPS
    amb |= np.abs(gap15) < EPS
    amb17 = np.abs(f - 0.5) < EPS  # a rounding tie at 17 digits (both neighbours fit)
    if amb17.any():
        amb |= amb17 & ~(in15 | in16)
    t16 -= t17
    t16 *= in16
    t17 += t16  # t16 where in16, else t17
    t15 -= t17
    t15 *= in15
    t17 += t15
    n = base + t17.astype(np.uint64)
    # powers of two: the interval below is D/2. The choice above stands unless it lies
    # below X by about D/2 or more, or a 16-digit candidate failed while the one above it
    # could fit (D > 5), or it is undecided: those lanes go through _digits_pow2
    pow2 = mant == 0
    pow2 &= bexp > 1  # 2**-1022: the gap below is a subnormal step, the same as above
    risky = None
    if pow2.any():
        risky = np.flatnonzero(pow2)
        di = d[risky]
        bad = t17[risky] - y[risky] < EPS - 0.5 * di
        bad |= ~(in15[risky] | in16[risky]) & (di > 5.0 - EPS)
        bad |= amb[risky]
        risky = risky[bad]
        amb[risky] = False  # decided below
    if amb.any():
        _exact(ix, f, zi, mant, n, in15, in16, amb)
    e = t.dec_exp[zi]
    good = np.logical_not(amb, out=ok)
    if any_special:
        good &= ~special
    carry = n == _U(10 ** 17)  # N15 rounded up to 1e17: 1e16 with E + 1
    if carry.any():
        n[carry] = _U(10 ** 16)
        e += carry
    if risky is not None and len(risky):
        np_, ep, okp = _digits_pow2(m[risky], zi[risky])
        n[risky], e[risky], good[risky] = np_, ep, okp
        in15[risky] = True  # count their digits
    # N17 and N16 never end in 0 (else they would be N16 / N15): only N15 lanes have
    # trailing zeros to count
    ndig = 17 - in16
    short = np.flatnonzero(in15) if in15.any() else None
    _layout(n, e, ndig, short, sign, words, length)
    if any_special:
        _specials(bits, words, length, ok)


def _tz16(c1: U64, c2: U64, c3: U64, c4: U64) -> I64:
    """Trailing zero digits of the 16-digit tails with 4-digit chunks c1..c4 (c4 last)."""
    t = _tables()
    tz = t.tz4[c1.view(np.int64)]  # 4 when c1 == 0 too: 16 then (the first digit is not 0)
    for c in (c2, c3, c4):
        tz = t.tz4[c.view(np.int64)] + (c == 0) * tz
    return tz


def _layout(n: U64, e: I64, ndig: I64, short: I64 | None, sign: I64, words: U64,
            length: I64) -> None:
    """Rows (three little-endian words) and lengths of repr for 17-digit N, exponent E.

    The digits go in as raw values 0..9 (the tail split at the point, each part shifted to
    its place); the layout key's pattern ORs in the prefix, the point and 0x30 on exactly
    the digit bytes the text shows, so trailing zeros past it stay zero bytes."""
    t = _tables()
    a = n // _U(10 ** 16)
    r = n - a * _U(10 ** 16)
    h8 = r // _U(10 ** 8)
    l8 = r - h8 * _U(10 ** 8)
    c1 = h8 // _U(10 ** 4)
    h8 -= c1 * _U(10 ** 4)
    c3 = l8 // _U(10 ** 4)
    l8 -= c3 * _U(10 ** 4)
    # int64 views: an index array of another type is converted first
    r0 = t.t4[c1.view(np.int64)]  # tail digits 1-4 in the low half, 5-8 in the high half
    r0 |= t.t4h[h8.view(np.int64)]
    r1 = t.t4[c3.view(np.int64)]
    r1 |= t.t4h[l8.view(np.int64)]
    if short is not None:  # lanes that may end in zeros: count them
        if 4 * len(short) > len(n):
            np.subtract(17, _tz16(c1, h8, c3, l8), out=ndig)
        else:
            ndig[short] = 17 - _tz16(c1[short], h8[short], c3[short], l8[short])

    ei = e + _E_OFF
    if not t.built[ei].all():
        for x in np.unique(ei[~t.built[ei]]).tolist():
            _build_layout(t, x)
    k = e * 36
    k += 36 * _E_OFF + sign
    k += ndig * 2
    lo0 = r0 & t.low0[k]
    lo1 = r1 & t.low1[k]
    r0 ^= lo0  # the tail digits after the point
    r1 ^= lo1
    sh = t.sh[k]
    s1 = sh + _U(8)
    s2 = sh + _U(16)
    b1 = _U(56) - sh
    b2 = _U(48) - sh  # shifts by 64 give 0 in numpy
    a <<= sh
    w0 = lo0 << s1
    w0 |= a
    w0 |= r0 << s2
    np.bitwise_or(w0, t.pd0[k], out=words[:, 0])
    w1 = lo0 >> b1
    w1 |= lo1 << s1
    w1 |= r0 >> b2
    w1 |= r1 << s2
    np.bitwise_or(w1, t.pd1[k], out=words[:, 1])
    w2 = lo1 >> b1
    w2 |= r1 >> b2
    np.bitwise_or(w2, t.pd2[k], out=words[:, 2])
    length[:] = t.length[k]


def _specials(bits: U64, words: U64, length: I64, ok: Bool) -> None:
    """Rows of zeros, infinities and NaN; subnormals: ok=False."""
    idx = np.flatnonzero(((bits >> _U(52)) + _U(1)) & _U(0x7FF) <= _U(1))  # bexp 0 or 2047
    b = bits[idx]
    mag = b & _U((1 << 63) - 1)
    inf = _U(0x7FF << 52)
    # 0 '0.0', 1 'inf', 2 'nan', 3 subnormal; + 4 when negative ('-nan' is 'nan')
    cat = (mag >= inf).astype(np.int64) + (mag > inf) + 3 * ((mag != 0) & (mag < inf))
    cat += 4 * (b >> _U(63)).view(np.int64)
    full = len(idx) == len(bits)
    for j in range(3):  # one column at a time: a 2-d row scatter is several times slower
        col = words[:, j]
        if full:
            np.take(_SPECIAL_ROWS[:, j], cat, out=col)
        else:
            col[idx] = _SPECIAL_ROWS[:, j][cat]
    length[idx] = _SPECIAL_LEN[cat]
    ok[idx] = _SPECIAL_OK[cat]


_SPECIAL = ("0.0", "inf", "nan", "", "-0.0", "-inf", "nan", "")
_SPECIAL_ROWS = np.array([_text_word(x, 0) for x in _SPECIAL], np.uint64)
_SPECIAL_LEN = np.array([len(x) for x in _SPECIAL], np.int64)
_SPECIAL_OK = np.array([x != "" for x in _SPECIAL])


def repr_matrix(v: npt.NDArray[np.float64]) -> tuple[
        npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """(text, length, ok) for a float64 array of n values:
    text: uint8 (n, 24) matrix, row i = ASCII of repr(float(v[i])) left-aligned,
          zero bytes after it; length: int64 (n,) lengths; ok: bool (n,).
    Where ok is False the row is unspecified and the caller uses Python's repr for
    that lane. Where ok is True the row MUST equal repr(float(v[i])) byte for byte."""
    v = np.ascontiguousarray(v, dtype=np.float64).reshape(-1)
    count = v.shape[0]
    words = np.empty((count, 3), "<u8")
    length = np.empty(count, np.int64)
    ok = np.empty(count, np.bool_)
    for s in range(0, count, _CHUNK):
        e = min(s + _CHUNK, count)
        _chunk(v[s:e], words[s:e], length[s:e], ok[s:e])
    return words.view(np.uint8).reshape(count, WIDTH), length, ok
