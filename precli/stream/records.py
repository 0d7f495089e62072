"""Encode / decode records as byte matrices: ndjson and csv at stream speed (issue 11 §1).

A record is a few pieces side by side: per-code template pieces (everything a record says
about its code, rendered by the writer itself, kept as bytes), the input text, and for
encode the three errors. The per-value pieces of a slice of records are zero-padded uint8
matrices, one row per record; viewed as fixed-width byte strings (whose trailing zeros
numpy drops: no real byte of a record is zero) they are concatenated with the constant
text between them by numpy's string ufunc and joined with the template pieces
(join_pieces). Nothing on this path runs Python per value. The templates of new codes are
made a slice at a time (precli/fastcode.py, for the float formats it covers).

The errors (|stored - x|, that over |x|, that over the code's ulp, each rounded once to
float64 as the exact path's ``float(Fraction)`` does) come from double-double arithmetic:
the literal's digits M (at most 19 significant) and exponent e give x = M * 10^e to a
relative 2^-96 or exactly, the difference with the stored value is formed exactly from
that, and a lane keeps the float64 result only when the remaining uncertainty cannot move
its rounding (inside the rounding cell with the bound to spare). The other lanes, and every
literal that is not a plain decimal, take the exact path. ``tests/test_records.py`` checks
the records byte for byte against the exact path.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from precli.array.doubledouble import dd_div, quick_two_sum, two_prod, two_sum

F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

#: Tokens longer than this take the per-value path (a decimal with 19 significant digits,
#: a point, a sign and a three-digit exponent fits in 26).
MAX_FAST_TOKEN = 40


class Block(NamedTuple):
    """count consecutive records, already rendered, as bytes."""

    data: bytes
    records: int


# ------------------------------------------------------------------ byte matrices


def token_matrix(body: bytes, starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64],
                 width: int = MAX_FAST_TOKEN) -> tuple[npt.NDArray[np.uint8],
                                                       npt.NDArray[np.int64], Bool]:
    """(matrix, lengths, fits): the tokens zero-padded, one per COLUMN (shape (width, n):
    the per-token reductions then run along axis 0, over contiguous rows of n lanes);
    tokens longer than width are not in the matrix (fits False)."""
    lens = ends - starts
    fits = lens <= width
    w = max(1, min(width, int(lens.max()) if len(lens) else 1))
    buf = np.frombuffer(body, np.uint8)
    rows_ = np.arange(w)[:, None]
    idx = starts[None, :] + rows_
    np.minimum(idx, len(buf) - 1, out=idx)
    m: npt.NDArray[np.uint8] = buf[idx]
    m[(rows_ >= np.minimum(lens, w)[None, :]) | ~fits[None, :]] = 0
    return m, np.where(fits, lens, 0), fits


Piece = tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]  # (zero-padded rows, lengths)


def join_pieces(segments: list[list[Piece]],
                objects: list[tuple[npt.NDArray[Any], npt.NDArray[np.int64]]],
                ) -> tuple[bytes, npt.NDArray[np.int64]]:
    """Records made of narrow pieces (segments of zero-padded matrices, no zero byte in
    their text) around wide ones given as bytes objects (the per-code template pieces): a
    record is segments[0] + objects[0] + segments[1] + ... + segments[-1]; returns the
    records' bytes and each record's length. The narrow pieces of a segment are viewed as
    fixed-width byte strings (whose trailing zeros numpy drops) and concatenated with
    numpy's string ufunc; one join puts the segments and the wide pieces together."""
    if not STRING_UFUNCS:
        return _join_compacted(segments, objects)
    n = len(objects[0][0]) if objects else segments[0][0][0].shape[0]
    per_row = np.zeros(n, np.int64)
    cols: list[Any] = []
    for k, seg in enumerate(segments):
        if seg:
            acc = None
            for m, lens in seg:
                per_row += lens
                if m.strides[0] == 0:  # the same text in every row (a broadcast constant)
                    m = m[:1]
                m = np.ascontiguousarray(m)
                cells = m.view(f"S{m.shape[1]}").ravel()
                acc = cells if acc is None else np.strings.add(acc, cells)
            assert acc is not None
            cols.append(acc.tolist() if len(acc) == n else acc.tolist() * n)
        if k < len(objects):
            cols.append(objects[k][0].tolist())
            per_row += objects[k][1]
    flat: list[bytes] = [b""] * (n * len(cols))
    for j, col in enumerate(cols):
        flat[j::len(cols)] = col
    return b"".join(flat), per_row


#: numpy >= 2 has string ufuncs (np.strings.add); 1.26 takes _join_compacted
STRING_UFUNCS = hasattr(np, "strings")


def _join_compacted(segments: list[list[Piece]],
                    objects: list[tuple[npt.NDArray[Any], npt.NDArray[np.int64]]],
                    ) -> tuple[bytes, npt.NDArray[np.int64]]:
    """join_pieces without string ufuncs: only the narrow bytes are compacted (the wide
    ones would cost a pass over every byte); each segment ends in a 0x01 byte, which no
    record holds (tokens and numbers are printable ASCII), and splitting at it gives the
    segments as bytes objects for one join with the wide pieces."""
    n = len(objects[0][0]) if objects else segments[0][0][0].shape[0]
    live = [k for k, seg in enumerate(segments) if seg]
    cols = []
    per_row = np.zeros(n, np.int64)
    for k in live:
        for m, lens in segments[k]:
            cols.append(m)
            per_row += lens
        cols.append(np.ones((n, 1), np.uint8))
    for _, lens in objects:
        per_row += lens
    width = sum(c.shape[1] for c in cols)
    out = np.empty((n, width), np.uint8)
    at = 0
    for c in cols:
        out[:, at:at + c.shape[1]] = c
        at += c.shape[1]
    narrow = out.tobytes().translate(None, b"\0").split(b"\1")
    pieces = np.empty((n, len(live) + len(objects)), object)
    col = 0
    for k in range(len(segments)):
        if k in live:
            j = live.index(k)
            pieces[:, col] = narrow[j:len(live) * n:len(live)]
            col += 1
        if k < len(objects):
            pieces[:, col] = objects[k][0]
            col += 1
    return b"".join(pieces.ravel().tolist()), per_row


# ------------------------------------------------------------------ decimal literals


class Decimals(NamedTuple):
    ok: Bool  # a plain decimal literal with at most 19 significant digits
    negative: Bool
    digits: npt.NDArray[np.uint64]  # M
    exp10: npt.NDArray[np.int64]  # e: the value is M * 10^e


def parse_decimals(m: npt.NDArray[np.uint8], lens: npt.NDArray[np.int64]) -> Decimals:
    """[+-]digits[.digits][(e|E)[+-]digits] per row of a token matrix (1 to 3 exponent
    digits), as M * 10^e; anything else is not ok (its lane goes exact)."""
    n, w = m.shape
    col = np.arange(w)
    inside = col < lens[:, None]
    isd = (m >= 48) & (m <= 57)
    is_e = ((m | 0x20) == 101) & inside
    has_e = is_e.any(axis=1)
    epos = np.where(has_e, is_e.argmax(axis=1), lens)
    c0 = m[:, 0]
    neg = c0 == 45
    signed = neg | (c0 == 43)
    mant = (col >= signed[:, None]) & (col < epos[:, None])
    dot = (m == 46) & mant
    ndot = dot.sum(axis=1)
    dpos = np.where(ndot > 0, dot.argmax(axis=1), epos)
    mdig = isd & mant
    ok = (ndot <= 1) & ((mdig | dot) == mant).all(axis=1) & mdig.any(axis=1) & (lens > 0)
    # exponent: after the e, an optional sign, then 1 to 3 digits
    after = (col > epos[:, None]) & inside
    first = np.minimum(epos + 1, w - 1)
    ec = m[np.arange(n), first]
    esign = has_e & ((ec == 45) | (ec == 43))
    eneg = has_e & (ec == 45)
    edig_zone = after & ~((col == first[:, None]) & esign[:, None])
    edig = isd & edig_zone
    ok &= (edig == edig_zone).all(axis=1)
    ne = edig.sum(axis=1)
    ok &= ~has_e | ((ne >= 1) & (ne <= 3))
    # significant digits: from the first nonzero mantissa digit on
    sig = mdig & (np.cumsum(mdig & (m != 48), axis=1) > 0)
    nsig = sig.sum(axis=1)
    ok &= nsig <= 19
    frac = (mdig & (col > dpos[:, None])).sum(axis=1)
    digits = np.zeros(n, np.uint64)
    ex = np.zeros(n, np.int64)
    d = (m.astype(np.int64) - 48)
    ten = np.uint64(10)
    for j in range(w):
        s = sig[:, j]
        if s.any():
            digits = np.where(s, digits * ten + d[:, j].astype(np.uint64), digits)
        t = edig[:, j]
        if t.any():
            ex = np.where(t, ex * 10 + d[:, j], ex)
    ex = np.where(eneg, -ex, ex) - frac
    return Decimals(ok, neg, digits, ex)


def _only(mask: Bool) -> tuple[npt.NDArray[np.int64], Bool]:
    """Per column of a mask that holds in at most one row: (that row, whether it holds)."""
    w = mask.shape[0]
    pos = (np.arange(w, dtype=np.float32) @ mask.astype(np.float32)).astype(np.int64)
    held: Bool = np.asarray(mask.any(axis=0))
    return pos, held


def parse_with_floats(m: npt.NDArray[np.uint8], lens: npt.NDArray[np.int64], v: F64,
                      ) -> Decimals:
    """parse_decimals for tokens whose float() is known (v, NaN where float() failed),
    without a pass per column: float() has checked the syntax, so a token of the
    characters 0-9 . e E + - that it accepted is a plain decimal. Its exponent e comes from
    the positions of the point and the 'e'; its digits M from v * 10^-e, which is within
    4 * 2^-53 relative of M (v, 10^|e| and perhaps its reciprocal, the product: each
    rounded once), so within 4100 of it for M < 9.2e18, and corrected with M's last four
    digits read from the text."""
    w, n = m.shape
    flat = m.ravel()
    lanes = np.arange(n)

    def at(j: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:  # byte j of each token
        out: npt.NDArray[np.uint8] = flat[np.clip(j, 0, w - 1) * n + lanes]
        return out

    digit = (m - np.uint8(48)) < 10
    is_e = (m | np.uint8(0x20)) == 101
    is_dot = m == 46
    known = digit | is_e | is_dot | (m == 43) | (m == 45) | (m == 0)
    ok = known.all(axis=0) & np.isfinite(v) & (v != 0) & (lens > 0)
    # float() accepted the token: at most one 'e' and one point, whose positions are then
    # the row numbers summed over the column (a small float32 matrix product, exact)
    epos, has_e = _only(is_e)
    epos = np.where(has_e, epos, lens)
    dpos, has_dot = _only(is_dot)
    dpos = np.where(has_dot, dpos, epos)
    frac = np.where(has_dot, epos - dpos - 1, 0)
    # the exponent: an optional sign and 1 to 3 digits after the 'e'
    ex = np.zeros(n, np.int64)
    c1 = at(epos + 1)
    esign = has_e & ((c1 == 43) | (c1 == 45))
    eneg = has_e & (c1 == 45)
    dstart = epos + 1 + esign
    nexp = np.where(has_e, lens - dstart, 0)
    ok &= ~has_e | ((nexp >= 1) & (nexp <= 3))
    for k in range(3):
        take = has_e & (k < nexp)
        dig = at(dstart + k).astype(np.int64) - 48
        ex = np.where(take, ex * 10 + dig, ex)
    e10 = np.where(eneg, -ex, ex) - frac
    # significant digits: from the first nonzero digit of the mantissa to its end
    nonzero = digit & (m != 48)
    seen = np.zeros(n, bool)
    before = np.zeros(n, np.int64)  # rows before the first nonzero digit
    for row in range(w):
        seen |= nonzero[row]
        before += ~seen
    fz = np.minimum(before, epos)
    ok &= fz < epos
    nsig = epos - fz - ((dpos > fz) & (dpos < epos))
    ok &= nsig <= 19
    # M's last four digits, reading back from the end of the mantissa over the point
    low = np.zeros(n, np.int64)
    weight = np.ones(n, np.int64)
    got = np.zeros(n, np.int64)
    c0 = m[0]
    start = (c0 == 43) | (c0 == 45)
    for k in range(1, 6):
        j = epos - k
        c = at(j)
        take = (j >= start) & (c >= 48) & (c <= 57) & (got < 4)
        low += np.where(take, (c.astype(np.int64) - 48) * weight, 0)
        weight = np.where(take, weight * 10, weight)
        got += take
    # M from v: v * 10^-e with one rounding of the product and one of 10^-e
    k10 = np.clip(-e10, -308, 308)
    # 10^|e| a normal float64, and v normal (a subnormal v is not within 2^-53 of x)
    ok &= (np.abs(e10) <= 308) & (np.abs(v) >= 2.0**-1022)
    phi, _ = _pow10_table()
    p = np.where(k10 >= 0, phi[np.abs(k10)], 1.0 / phi[np.abs(k10)])
    with np.errstate(all="ignore"):
        approx = np.abs(v) * p
        approx = np.where(ok & (approx < 1.8e19), approx, 0.0)
        mint = np.rint(approx).astype(np.uint64)
    delta = (low - (mint % np.uint64(10000)).astype(np.int64)) % 10000
    delta = np.where(delta >= 5000, delta - 10000, delta)
    digits = (mint.astype(np.int64) + delta).astype(np.uint64)
    ok &= approx < 9.2e18
    neg = c0 == 45
    return Decimals(ok, neg, digits, e10)


# ------------------------------------------------------------------ double-double

@lru_cache(maxsize=1)
def _pow10_table() -> tuple[F64, F64]:
    """10^k for k = 0..308 as double-doubles (hi, lo), lo = 0 where 10^k is a float64."""
    hi = np.empty(309)
    lo = np.empty(309)
    for k in range(309):
        p = 10**k
        h = float(p)
        hi[k] = h
        lo[k] = float(Fraction(p) - Fraction(h))
    return hi, lo


_REL = 2.0**-96  # bound on the relative error of an inexact double-double x
_LO, _HI = 2.0**-960, 2.0**960  # magnitudes where splitting and the errors stay normal


class Errors(NamedTuple):
    ok: Bool  # every figure and flag below is what the exact path gives
    abs_error: F64
    rel_error: F64
    ulp_error: F64
    inexact: Bool
    below_normal: Bool  # |x| < the format's smallest normal (certain where ok)


def value_errors(dec: Decimals, stored: F64, inv_ulp: F64, smallest_normal: float,
                 ) -> Errors:
    """The three errors of each lane (x = the literal, stored = its code's value, inv_ulp =
    1 / the code's ulp, a power of two), rounded to float64 exactly as the exact path."""
    ok = dec.ok.copy()
    k = np.abs(dec.exp10)
    ok &= k <= 308
    kk = np.minimum(k, 308)
    phi, plo = _pow10_table()
    ph, pl = phi[kk], plo[kk]
    M = dec.digits
    mh = M.astype(np.float64)
    # M - round(M) is below 2^11 in magnitude: exact in int64 and in float64
    with np.errstate(over="ignore", invalid="ignore"):
        mh_int = np.where(mh < 2.0**64, mh, 0).astype(np.uint64)
    ml = (M.astype(np.int64) - mh_int.astype(np.int64)).astype(np.float64)
    ok &= M != 0  # zeros (and their signs) go exact
    ok &= M < np.uint64(1 << 63)
    up = dec.exp10 >= 0
    with np.errstate(all="ignore"):
        # x = M * 10^e (e >= 0) or M / 10^-e
        p, pe = two_prod(mh, ph)
        pe = pe + (mh * pl + ml * ph)
        xh_up, xl_up = quick_two_sum(p, pe)
        xh_dn, xl_dn = dd_div(mh, ml, ph, pl)
        # exactness: M and 10^|e| are float64 and the product / quotient is exact
        q1 = mh / ph
        r, re = two_prod(q1, ph)
        dn_exact = (r == mh) & (re == 0)
        xh = np.where(up, xh_up, xh_dn)
        xl = np.where(up, xl_up, xl_dn)
        x_exact = (ml == 0) & (pl == 0) & np.where(up, True, dn_exact)
        xh = np.where(x_exact & ~up, q1, xh)
        xl = np.where(x_exact, np.where(up, xl, 0.0), xl)
        ax = np.abs(xh)
        ok &= (ax > _LO) & (ax < _HI)
        eps_x = np.where(x_exact, 0.0, _REL * ax)
        # d = |stored| - |x| with signs: the stored value has x's sign unless it is zero
        sx = np.where(dec.negative, -1.0, 1.0)
        s = stored * sx  # |stored| when the signs agree
        ok &= (s >= 0)
        dh, dl = two_sum(s, -xh)
        dl = dl - xl  # exact when xl is 0; else rounded, within 2^-106 (|x| + |d|)
        dh, dl = two_sum(dh, dl)
        ad = np.abs(dh)
        eps_d = eps_x + np.where(x_exact & (xl == 0), 0.0, 2.0**-104 * (ax + ad))
        abs_e = ad
        ok &= _certain(dh, dl, eps_d)
        inexact = dh != 0
        # rel = |d| / |x|
        sgn = np.where(dh < 0, -1.0, 1.0)
        rh, rl = dd_div(ad, dl * sgn, ax, xl * np.where(xh < 0, -1.0, 1.0))
        eps_r = np.where(inexact, (eps_d / np.where(inexact, ad, 1.0) + eps_x / ax
                                   + 2.0**-100) * np.abs(rh), 0.0)
        ok &= np.where(inexact, _certain(rh, rl, eps_r), True)
        rel_e = np.where(inexact, np.abs(rh), 0.0)
        # ulp = |d| / ulp: a power of two, so a scaling of d (kept out of subnormals)
        uh, ul = ad * inv_ulp, dl * sgn * inv_ulp
        ok &= ~inexact | ((np.abs(uh) > _LO) & (np.abs(uh) < _HI))
        ok &= np.where(inexact, _certain(uh, ul, eps_d * inv_ulp), True)
        ulp_e = np.where(inexact, uh, 0.0)
        # |x| < smallest normal, decided away from its neighbourhood
        sn = smallest_normal
        ok &= np.abs(ax - sn) > 4 * np.spacing(sn)
        below = ax < sn
    return Errors(ok, abs_e, rel_e, ulp_e, inexact, below)


def _certain(hi: F64, lo: F64, eps: F64) -> Bool:
    """Whether every value within eps of hi + lo rounds to hi (lo is what is left after
    rounding: at most half the gap to the neighbour on its side; the gap below a power of
    two is half the one above)."""
    sp = np.spacing(np.abs(hi))
    away = np.where(hi < 0, -lo, lo)  # lo measured away from zero
    pow2 = np.abs(np.frexp(hi)[0]) == 0.5
    out: Bool = (away + eps < 0.5 * sp) & (eps - away < np.where(pow2, 0.25, 0.5) * sp)
    out |= (hi == 0) & (lo == 0) & (eps == 0)  # exactly zero (half the smallest gap is 0)
    return out


def code_arrays(fmt: Any, codes: npt.NDArray[np.uint64]) -> tuple[F64, F64, Bool, float]:
    """Per code: (stored value, 1 / ulp, covered, smallest normal); covered codes are
    finite and not at the ends of the range (where overflow and saturation live)."""
    from precli.array import codec
    from precli.core.formats import FloatFormat, IntFormat

    stored = codec.decode_array(fmt, codes)
    if isinstance(fmt, FloatFormat):
        c = codes.astype(np.uint64)
        mb = fmt.mantissa_bits
        e_field = ((c >> np.uint64(mb)) & np.uint64(fmt.exp_all_ones)).astype(np.int64)
        mag = c & np.uint64(~fmt.sign_mask & ((1 << fmt.bits) - 1))
        expo = np.maximum(e_field, 1) - fmt.bias - mb
        with np.errstate(over="ignore"):  # fp64's subnormal ulp: 1/ulp is past float64
            inv = np.ldexp(1.0, -expo)
        covered = np.isfinite(stored) & (mag != np.uint64(fmt.max_code))
        return stored, inv, covered, float(fmt.smallest_normal)
    assert isinstance(fmt, IntFormat)
    covered = (stored > fmt.min_int) & (stored < fmt.max_int)
    return stored, np.ones_like(stored), covered, 0.0


# ------------------------------------------------------------------ records


class Templates:
    """Per-key record templates (bytes, one per piece), made by make(key) (the writer's own
    template) as keys appear. The store is bounded: past LIMIT templates it starts again
    (only between slices: a slice asks for at most FAST_SLICE keys), so a stream of fp32 or
    fp64 values, nearly every one its own code, keeps a bounded memory."""

    LIMIT = 1 << 15

    def __init__(self, npieces: int, make: Any, make_many: Any = None) -> None:
        self.make, self.make_many, self.npieces = make, make_many, npieces
        self.first: tuple[bytes, ...] | None = None
        self.constant = [True] * npieces  # piece j is the same in every template so far
        self._reset()

    def _reset(self) -> None:
        self.row: dict[Any, int] = {}
        self.dense = np.full(0, -1, np.int64)
        self.lens = np.zeros((64, self.npieces), np.int64)
        self.objs = [np.empty(64, object) for _ in range(self.npieces)]
        self.count = 0

    def rows_of(self, codes: npt.NDArray[Any], flags: npt.NDArray[Any] | None = None,
                ) -> npt.NDArray[np.int64]:
        """Template rows for each (code, flag id) pair (flag ids 0..3)."""
        if self.count + len(codes) > self.LIMIT:
            self._reset()
        if flags is None:
            keys: npt.NDArray[Any] = codes
        elif codes.dtype.itemsize < 8 or int(codes.max(initial=0)) < 1 << 60:
            keys = codes.astype(np.int64) * 4 + flags
        else:  # 64-bit codes: a (code, flag) record
            keys = np.empty(len(codes), [("c", np.uint64), ("f", np.int64)])
            keys["c"], keys["f"] = codes, flags
        if keys.dtype.kind in "iu" and len(keys) and int(keys.max()) < 1 << 22:
            # small keys: a dense key -> row table, np.unique only for new keys
            top = int(keys.max()) + 1
            if len(self.dense) < top:
                grown = np.full(max(top, 2 * len(self.dense)), -1, np.int64)
                grown[:len(self.dense)] = self.dense
                self.dense = grown
            got: npt.NDArray[np.int64] = self.dense[keys]
            if (got >= 0).all():
                return got
            new = np.unique(keys[got < 0]).tolist()
            self.dense[new] = self._rows(new, flags is not None)
            again: npt.NDArray[np.int64] = self.dense[keys]
            return again
        uniq, inv = np.unique(keys, return_inverse=True)
        ids = np.array(self._rows(uniq.tolist(), flags is not None), np.int64)
        return ids[inv]

    def _rows(self, ks: list[Any], flagged: bool) -> list[int]:
        """The rows of distinct keys, made (together, where make_many is given) if new."""
        new = [k for k in ks if k not in self.row]
        if new:
            keys = [(divmod(k, 4) if isinstance(k, int) else k) if flagged else k
                    for k in new]
            many: list[Any] = self.make_many(keys) if self.make_many is not None \
                else [None] * len(new)
            made = [p if p is not None else self.make(key)
                    for key, p in zip(keys, many, strict=True)]
            r = self._add(made)
            for j, k in enumerate(new):
                self.row[k] = r + j
        return [self.row[k] for k in ks]

    def _add(self, made: list[tuple[bytes, ...]]) -> int:
        """Store the templates made (rows count .. count + len(made) - 1)."""
        r, k = self.count, len(made)
        if r + k > len(self.lens):
            grow = max(r + k, 2 * len(self.lens))
            lens = np.zeros((grow, self.npieces), np.int64)
            lens[:r] = self.lens[:r]
            self.lens = lens
            self.objs = [np.concatenate([o, np.empty(grow - len(o), object)])
                         for o in self.objs]
        if self.first is None:
            self.first = made[0]
        for j, col in enumerate(zip(*made, strict=True)):
            self.objs[j][r:r + k] = col
            self.lens[r:r + k, j] = list(map(len, col))
            self.constant[j] = self.constant[j] and col.count(self.first[j]) == k
        self.count += k
        return r

    def obj(self, j: int, ids: npt.NDArray[np.int64]) -> tuple[npt.NDArray[Any],
                                                               npt.NDArray[np.int64]]:
        return self.objs[j][ids], self.lens[ids, j]

    def const(self, j: int, n: int) -> Piece | None:
        """Piece j for n rows when every template has the same one, else None."""
        if not self.constant[j] or self.first is None:
            return None
        b = np.frombuffer(self.first[j], np.uint8)
        if len(b) == 0:
            return np.zeros((n, 1), np.uint8), np.zeros(n, np.int64)
        return np.broadcast_to(b, (n, len(b))), np.full(n, len(b), np.int64)


def cell_safe(m: npt.NDArray[np.uint8], json_mode: bool) -> Bool:
    """Rows that are their own json string body / csv cell (printable ASCII, no quote,
    backslash or comma)."""
    bad = (m > 126) | ((m < 33) & (m != 0)) | (m == 34)
    bad |= (m == 92) if json_mode else (m == 44)
    out: Bool = ~bad.any(axis=0)  # one token per column
    return out


def split_blocks(data: bytes, per_row: npt.NDArray[np.int64], fast: Bool,
                 other: Any) -> list[Any]:
    """The slice's records in order: runs of fast rows as Blocks of data, the others as
    other(i) (a str or an ErrorRecord)."""
    if fast.all():
        return [Block(data, len(fast))]
    ends = np.cumsum(per_row)
    out: list[Any] = []
    slow = np.flatnonzero(~fast).tolist()
    prev = 0  # first row of the current run
    for i in slow:
        if i > prev:
            a = int(ends[prev - 1]) if prev else 0
            out.append(Block(data[a:int(ends[i - 1])], i - prev))
        out.append(other(i))
        prev = i + 1
    if prev < len(fast):
        a = int(ends[prev - 1]) if prev else 0
        out.append(Block(data[a:], len(fast) - prev))
    return out


def repr_rows(v: F64) -> tuple[Piece, Bool]:
    """repr(float) of each value as zero-padded rows, and where it is certain."""
    from precli.stream.floatrepr import repr_matrix

    text, lens, ok = repr_matrix(v)
    return (text, lens), ok


def _failed(n: int, errors: dict[int, str]) -> Bool:
    """The lanes that failed before (errors by index) as a mask."""
    out = np.zeros(n, bool)
    if errors:
        out[np.fromiter(errors, np.int64, len(errors))] = True
    return out


def _one_per_line(batch: Any) -> tuple[bytes, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(body, starts, ends) of a text batch laid out one token per line (re-joined when the
    input had several tokens a line, blank lines or CRs)."""
    from precli.stream import hexparse as fastparse

    body = batch.body
    bounds = batch.bounds
    if bounds is None:
        body = b"\n".join(batch.tokens) + b"\n"
        bounds = fastparse.line_bounds(body)
    starts, ends = bounds
    return body, starts, ends


_FLAGS: tuple[tuple[str, ...], ...] = ((), ("inexact",), ("inexact", "underflow"))


class FastEncode:
    """encode records of text input, a slice at a time (see the module docstring)."""

    def __init__(self, fmt: Any, json_mode: bool, template: Any, other: Any,
                 many: Any = None) -> None:
        """template(code, flags): a code's template pieces (str); many(codes, flags): the
        final pieces (bytes, the input's quotes in them) of many codes, None where it
        does not cover one."""
        self.fmt, self.json = fmt, json_mode
        self.other = other  # (batch, enc, i) -> str | ErrorRecord, the per-value path
        q = b'"' if json_mode else b""

        def adjust(pieces: Any) -> tuple[bytes, ...]:
            t = [p.encode() for p in pieces]
            t[0] += q
            t[1] = q + t[1]
            return tuple(t)

        def make(key: tuple[int, int]) -> tuple[bytes, ...]:
            return adjust(template(int(key[0]), _FLAGS[int(key[1])]))

        def make_many(keys: list[tuple[int, int]]) -> list[Any]:
            return many([int(c) for c, _ in keys],  # type: ignore[no-any-return]
                        [_FLAGS[int(f)] for _, f in keys])

        self.templates = Templates(5, make, make_many if many is not None else None)

    def records(self, batch: Any, enc: Any, slice_: int) -> Any:
        from precli.core.formats import FloatFormat

        body, starts, ends = _one_per_line(batch)
        n = len(starts)
        codes = enc.codes.astype(np.uint64)
        failed = _failed(n, enc.errors)
        floats = enc.floats
        uniq, inv = np.unique(codes, return_inverse=True)
        s_u, inv_u, cov_u, sn = code_arrays(self.fmt, uniq)
        stored, inv_ulp, covered = s_u[inv], inv_u[inv], cov_u[inv]
        is_float = isinstance(self.fmt, FloatFormat)
        for lo in range(0, n, slice_):
            hi = min(n, lo + slice_)
            m, lens, fits = token_matrix(body, starts[lo:hi], ends[lo:hi])
            dec = parse_decimals(m.T, lens) if floats is None else \
                parse_with_floats(m, lens, floats[lo:hi])
            st = stored[lo:hi]
            err = value_errors(dec, st, inv_ulp[lo:hi], sn)
            fast = fits & dec.ok & covered[lo:hi] & err.ok & cell_safe(m, self.json)
            fast &= ~failed[lo:hi]
            idx = np.flatnonzero(fast)
            parts_v = []
            for v in (err.abs_error, err.rel_error, err.ulp_error):
                txt, ok = repr_rows(v[idx])
                parts_v.append(txt)
                fast[idx[~ok]] = False
            keep = fast[idx]
            idx = idx[keep]
            parts_v = [(p[keep], ln[keep]) for p, ln in parts_v]
            under = err.below_normal if is_float else st == 0
            flag = np.where(err.inexact, np.where(under, 2, 1), 0)
            per_row = np.zeros(hi - lo, np.int64)
            data = b""
            if len(idx):
                t = self.templates
                ids = t.rows_of(codes[lo:hi][idx], flag[idx])
                k = len(idx)
                c0, c2, c3 = t.const(0, k), t.const(2, k), t.const(3, k)
                if c0 is not None and c2 is not None and c3 is not None:
                    data, pr = join_pieces(
                        [[c0, (m[:, idx].T, lens[idx])], [parts_v[0], c2, parts_v[1], c3,
                                                     parts_v[2]], []],
                        [t.obj(1, ids), t.obj(4, ids)])
                    per_row[idx] = pr
                else:  # the text between the open fields varies (no writer does this)
                    fast[:] = False
            yield split_blocks(data, per_row, fast,
                               lambda i, lo=lo: self.other(batch, enc, lo + i))


class FastDecode:
    """decode records of text input: the template of the code around the input text."""

    def __init__(self, json_mode: bool, template: Any, other: Any, many: Any = None) -> None:
        self.json = json_mode
        self.other = other  # (batch, dec, i) -> str | ErrorRecord
        q = b'"' if json_mode else b""

        def adjust(pieces: Any) -> tuple[bytes, ...]:
            t0, t1 = (p.encode() for p in pieces)
            return t0 + q, q + t1

        def make(code: int) -> tuple[bytes, ...]:
            return adjust(template(code))

        def make_many(codes: list[int]) -> list[Any]:
            return many([int(c) for c in codes], [()] * len(codes))  # type: ignore

        self.templates = Templates(2, make, make_many if many is not None else None)

    def records(self, batch: Any, dec: Any, slice_: int) -> Any:
        body, starts, ends = _one_per_line(batch)
        n = len(starts)
        codes = dec.codes.astype(np.uint64)  # 64-bit codes: the sign bit is the top one
        failed = _failed(n, dec.errors)
        for lo in range(0, n, slice_):
            hi = min(n, lo + slice_)
            m, lens, fits = token_matrix(body, starts[lo:hi], ends[lo:hi])
            fast = fits & cell_safe(m, self.json)
            fast &= ~failed[lo:hi]
            idx = np.flatnonzero(fast)
            per_row = np.zeros(hi - lo, np.int64)
            data = b""
            if len(idx):
                t = self.templates
                ids = t.rows_of(codes[lo:hi][idx])
                c0 = t.const(0, len(idx))
                if c0 is not None:
                    data, pr = join_pieces([[c0, (m[:, idx].T, lens[idx])], []], [t.obj(1, ids)])
                    per_row[idx] = pr
                else:  # the text before the input varies (no writer does this)
                    fast[:] = False
            yield split_blocks(data, per_row, fast,
                               lambda i, lo=lo: self.other(batch, dec, lo + i))
