"""Record templates of many float codes at once (issue 11 §1: wide formats at stream speed).

A record of encode or decode says a dozen things about its code (hex, bits, fields, class,
value, exact, shortest, ulp, prev, next); the per-code path builds them one code at a time
through describe_code and the writer (~100 µs a code), which is the whole cost of an fp32
stream, where nearly every value has a code of its own. Here the texts of a slice of new
codes are made together: the fields, class and neighbours with numpy, the value texts of
the codes and of their neighbours with the vectorized repr (precli/fastrepr.py) where the
exact value is long, the in-format shortest of fp32 and fp16 codes with numpy's own
shortest printing of float32 / float16 (Dragon4 in unique mode: exact big-integer digit
generation, interval ends included for even significands, the nearest of the shortest,
ties to even: the same definition as rounding.shortest_float), and the exact decimals in
integer arithmetic. The record around them is the writer's own: a skeleton rendered once
by RecordWriter.template with every per-code field left open, filled by %-formatting.

Covered: finite codes of float formats whose values are float64 numbers with room to spare
(rounding._float64_exact: fp32 and narrower). Other codes come back as None and the caller
takes its per-code path. tests/test_fastcode.py compares every template with the per-code
path over every code of the formats of 16 bits or fewer and samples of fp32 and tf32.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from precli.formats import FloatFormat

U64 = npt.NDArray[np.uint64]

#: the per-code fields of a record (RESULT_KEYS' order)
FIELDS = ("hex", "bits", "sign", "exponent", "mantissa", "class", "value", "exact",
          "shortest", "ulp", "prev", "next", "flags")

# digits of the exact value m * 2^-k (m odd) are m * 5^k: at most 17 of them (the value
# rule, analysis.VALUE_DIGITS) when m <= _LIMIT[k]; 5^k > 10^17 past k = 24
_P5 = np.array([5**k for k in range(28)], np.uint64)
_LIMIT = np.array([(10**17 - 1) // 5**k for k in range(28)], np.uint64)


def covers(fmt: Any) -> bool:
    from precli.rounding import _float64_exact

    return isinstance(fmt, FloatFormat) and _float64_exact(fmt)


def _numpy_type(fmt: FloatFormat) -> Any:
    """The numpy float type with exactly fmt's values, codes and rounding, if any."""
    shape = (fmt.exponent_bits, fmt.mantissa_bits, fmt.bias, fmt.specials)
    return {(8, 23, 127, "ieee"): np.float32, (5, 10, 15, "ieee"): np.float16}.get(shape)


def _odd_parts(mag: npt.NDArray[np.float64]) -> tuple[U64, npt.NDArray[np.int64]]:
    """(m, q) with mag = m * 2^q, m odd (1, 0 for zeros and non-finite lanes)."""
    ok = np.isfinite(mag) & (mag != 0)
    fr, ex = np.frexp(np.where(ok, mag, 1.0))
    m = np.ldexp(fr, 53).astype(np.uint64)  # mag = m * 2^(ex - 53)
    low = (m & (~m + np.uint64(1))).astype(np.float64)  # m's lowest set bit
    tz = np.frexp(low)[1] - 1
    q: npt.NDArray[np.int64] = (ex - 53 + tz).astype(np.int64)
    return m >> tz.astype(np.uint64), q


def exact_texts(vals: npt.NDArray[np.float64]) -> list[str]:
    """The exact decimal of each finite float64 (analysis._finite_info64's exact text):
    m * 2^-k has exactly k digits after the point, which '%.kf' prints exactly (Python's
    float formatting is correctly rounded, and here nothing is left to round)."""
    _, q = _odd_parts(np.abs(vals))
    out = [f"{v:.{k}f}" for v, k in zip(vals.tolist(), np.maximum(-q, 0).tolist(), strict=True)]
    for i in np.flatnonzero(vals == 0).tolist():  # "0" / "-0", not "0" / "-0" with a point
        out[i] = "-0" if np.signbit(vals[i]) else "0"
    return out


def value_texts(fmt: FloatFormat, codes: U64) -> list[str]:
    """analysis.float_value_text of each code: the exact value when it has at most 17
    significant digits, else repr of the float64 value (nan / inf as words)."""
    from precli import codec
    from precli.analysis import float_value_text
    from precli.exact import format_decimal
    from precli.fastrepr import repr_matrix

    n = len(codes)
    vals = codec.decode_array(fmt, codes)
    out: list[Any] = [None] * n
    mag = np.abs(vals)
    fin = np.isfinite(vals) & (mag != 0)
    m_odd, q = _odd_parts(mag)
    k = np.clip(-q, 0, 27)
    short = fin & (q < 0) & (-q <= 27) & (m_odd <= _LIMIT[k])
    # positional (1e-4 <= |v| < 1e16: for a float64 v, v >= float(1e-4) exactly when
    # v >= 10^-4) short values are their exact decimal; the others are laid out
    positional = short & (mag >= 1e-4) & (mag < 1e16)
    where = np.flatnonzero(positional).tolist()
    for i, t in zip(where, exact_texts(vals[positional]), strict=True):
        out[i] = t
    sci = short & ~positional
    digits = np.where(sci, m_odd * _P5[k], 0).tolist()
    ks = k.tolist()
    for i in np.flatnonzero(sci).tolist():
        out[i] = format_decimal(bool(vals[i] < 0), digits[i], -ks[i])
    integer = fin & (q >= 0) & (mag < 1e16)
    ints = vals[integer].astype(np.int64).tolist()
    for i, v in zip(np.flatnonzero(integer).tolist(), ints, strict=True):
        out[i] = str(v)
    long_ = fin & (q < 0) & ~short
    at = np.flatnonzero(long_)
    if len(at):
        text, _, ok = repr_matrix(vals[at])
        rows = np.ascontiguousarray(text).view("S24").ravel().astype("U24").tolist()
        for i, row, good in zip(at.tolist(), rows, ok.tolist(), strict=True):
            out[i] = row if good else repr(float(vals[i]))
    for i in np.flatnonzero(~(short | integer | long_)).tolist():  # zeros, specials, big
        out[i] = float_value_text(fmt, int(codes[i]))
    return out


def shortest_texts(fmt: FloatFormat, codes: U64, vals: npt.NDArray[np.float64],
                   ) -> list[str]:
    """rounding.shortest_float of each finite code."""
    import math

    from precli.analysis import _shortest

    kind = _numpy_type(fmt)
    if kind is None:
        return [_shortest(fmt, c) for c in codes.tolist()]
    from precli.exact import format_decimal

    out = vals.astype(kind).astype("U").tolist()  # numpy's shortest digits (Dragon4)
    integer = (vals == np.trunc(vals)) & (np.abs(vals) < 1e16)  # these print in full
    for i, t in enumerate(out):
        if integer[i]:
            v = float(vals[i])
            out[i] = ("-0" if math.copysign(1.0, v) < 0 else "0") if v == 0 else str(int(v))
        elif not _repr_layout(t):  # numpy's layout is not always repr's: its digits
            mant, _, e = t.lstrip("-").partition("e")
            ip, _, fp = mant.partition(".")
            out[i] = format_decimal(t[0] == "-", int(ip + fp), (int(e) if e else 0) - len(fp))
    return out  # type: ignore[no-any-return]


def _repr_layout(t: str) -> bool:
    """Whether numpy's text of a non-integer is laid out as format_decimal lays it out:
    d[.ddd]e±XX with XX < -4 or >= 16, or positional no smaller than 0.0001."""
    e = t.find("e")
    if e < 0:
        return not t.lstrip("-").startswith("0.0000")
    x = int(t[e + 1:])
    return x < -4 or x >= 16


def neighbours(fmt: FloatFormat, codes: U64) -> tuple[list[Any], list[Any]]:
    """rounding.float_neighbours of each code: (prev codes, next codes), None for none."""
    from precli.rounding import float_neighbours

    if not fmt.signed:
        pairs = [float_neighbours(fmt, c) for c in codes.tolist()]
        return [p for p, _ in pairs], [x for _, x in pairs]
    sign = np.uint64(fmt.sign_mask)
    one = np.uint64(1)
    c = codes.astype(np.uint64)
    neg = (c & sign) != 0
    mag = c & ~sign
    inner = (mag >= 1) & (mag < np.uint64(fmt.max_code))
    zero_next = sign if fmt.has_negative_zero else np.uint64(0)
    toward0 = np.where(mag == one, np.where(neg, zero_next, np.uint64(0)), c - one)
    prev = np.where(neg, c + one, toward0).tolist()
    nxt = np.where(neg, toward0, c + one).tolist()
    prev_l: list[Any] = prev
    next_l: list[Any] = nxt
    for i in np.flatnonzero(~inner).tolist():
        prev_l[i], next_l[i] = float_neighbours(fmt, int(c[i]))
    return prev_l, next_l


class CodeTemplates:
    """Templates of records (the writer's, with the holes in open_ left open) for many
    codes of a float format covered here (see covers), made together."""

    def __init__(self, fmt: FloatFormat, writer: Any,
                 record: Callable[[int, tuple[str, ...]], dict[str, Any]],
                 open_: tuple[str, ...], quoted: tuple[str, ...] = ()) -> None:
        """record(code, flags): the record dict of a code; open_: the holes left open;
        quoted: the open holes whose json cells are strings (their quotes go in the
        template pieces: the filled text is then the bare string)."""
        from precli.streams import RecordTemplate

        self.fmt, self.json = fmt, writer.mode in ("json", "ndjson")
        holes = tuple(k for k in writer.keys if k in open_ or k in FIELDS)
        # the skeleton: a real record with every per-code field open (code 0 is finite in
        # every format; the rest of the record is the same for every code)
        skeleton = writer.template(record(0, ()), holes).pieces
        # per template piece (the open holes split them): a %-format and its fields
        self.pieces: list[tuple[str, list[str]]] = []
        cur, names = skeleton[0].replace("%", "%%"), list[str]()
        for j, h in enumerate(holes):
            nxt = skeleton[j + 1].replace("%", "%%")
            if h in open_:
                q = '"' if self.json and h in quoted else ""
                self.pieces.append((cur + q, names))
                cur, names = q + nxt, list[str]()
            else:
                cur += "%s" + nxt
                names.append(h)
        self.pieces.append((cur, names))
        sets: tuple[tuple[str, ...], ...] = ((), ("inexact",), ("inexact", "underflow"))
        self._flag_cells = {f: RecordTemplate((), self.json).cell(list(f)) for f in sets}
        self._ulp: dict[int, str] = {}

    def _quote(self, texts: list[Any]) -> list[str]:
        """Cells of texts (None: no value), as the writer writes them; every text here is
        digits, letters, '.', '+' and '-', which neither json nor csv escapes."""
        if self.json:
            return ["null" if t is None else '"' + t + '"' for t in texts]
        return ["" if t is None else t for t in texts]

    def make(self, codes: list[int], flags: list[tuple[str, ...]]) -> list[Any]:
        """The template pieces (ASCII bytes) of each (code, flags), None where not
        covered."""
        import math

        from precli import codec

        fmt = self.fmt
        c = np.array(codes, np.uint64)
        n = len(codes)
        out: list[Any] = [None] * n
        vals_all = codec.decode_array(fmt, c)
        idx = np.flatnonzero(np.isfinite(vals_all))
        if not len(idx):
            return out
        cf = c[idx]
        vals = vals_all[idx]
        k = len(idx)
        cl = cf.tolist()
        mb = fmt.mantissa_bits
        e_f = ((cf >> np.uint64(mb)) & np.uint64(fmt.exp_all_ones)).astype(np.int64)
        m_f = cf & np.uint64(fmt.mant_mask)
        prev, nxt = neighbours(fmt, cf)
        around = np.array([p for p in prev if p is not None] +
                          [x for x in nxt if x is not None], np.uint64)
        texts = value_texts(fmt, np.concatenate([cf, around]))
        rest = iter(texts[k:])
        top = (e_f - fmt.bias if fmt.specials == "fnu" else
               np.maximum(e_f, 1) - fmt.bias) - mb
        ulps = []
        for t in top.tolist():
            u = self._ulp.get(t)
            if u is None:
                u = self._ulp[t] = repr(math.ldexp(1.0, t))
            ulps.append(u)
        if fmt.specials == "fnu":
            cls = ["normal"] * k
        else:
            cls = np.where(e_f != 0, "normal", np.where(m_f == 0, "zero", "subnormal")).tolist()
        if fmt.signed:
            neg = ((cf >> np.uint64(fmt.bits - 1)) & np.uint64(1)).astype(bool)
            sign: list[str] = np.where(neg, "1", "0").tolist()
        else:
            neg = np.zeros(k, bool)
            sign = ["null" if self.json else ""] * k
        hd, nb = fmt.hex_digits, fmt.bits
        cols: dict[str, list[str]] = {
            "hex": self._quote([f"0x{x:0{hd}x}" for x in cl]),
            "bits": self._quote([f"{x:0{nb}b}" for x in cl]),
            "sign": sign,
            "exponent": [str(x) for x in e_f.tolist()],
            "mantissa": [str(x) for x in m_f.tolist()],
            "class": self._quote(cls),
            "value": self._quote(texts[:k]),
            "exact": self._quote(exact_texts(vals)),
            "shortest": self._quote(shortest_texts(fmt, cf, vals)),
            "ulp": ulps,
            "prev": self._quote([None if p is None else next(rest) for p in prev]),
            "next": self._quote([None if x is None else next(rest) for x in nxt]),
            "flags": [self._flag_cells[flags[i]] for i in idx.tolist()],
        }
        made = []
        for f, names in self.pieces:
            if names:  # one encode for the slice (no text here holds a NUL)
                text = "\0".join([f % t for t in zip(*(cols[h] for h in names), strict=True)])
                made.append(text.encode().split(b"\0"))
            else:
                made.append([f.encode()] * k)
        for i, pieces in zip(idx.tolist(), zip(*made, strict=True), strict=True):
            out[i] = pieces
        return out
