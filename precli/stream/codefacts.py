"""Record templates of many float codes at once (issue 11 §1: wide formats at stream speed).

A record of encode or decode says a dozen things about its code (hex, bits, fields, class,
value, exact, shortest, ulp, prev, next); the per-code path builds them one code at a time
through describe_code and the writer (~100 µs a code), which is the whole cost of an fp32
stream, where nearly every value has a code of its own. Here the texts of a slice of new
codes are made together: the fields, class and neighbours with numpy, the value texts of
the codes and of their neighbours with the vectorized repr (precli/fastrepr.py) where the
exact value is long, the in-format shortest of fp64, fp32 and fp16 codes with numpy's own
shortest printing of float64 / float32 / float16 (Dragon4 in unique mode: exact big-integer digit
generation, interval ends included for even significands, the nearest of the shortest,
ties to even: the same definition as rounding.shortest_float), and the exact decimals by
'%.kf' (m * 2^-k has exactly k digits after the point, so that formatting rounds nothing).
The record around them is the writer's own: a skeleton rendered once by
RecordWriter.template with every per-code field left open, filled by %-formatting.

Covered: finite codes of float formats whose values are float64 numbers (fp64 and
narrower; fits_float64) that have a neighbour on both sides. Other
codes (specials, the ends of the range) come back as None and the caller takes its
per-code path. tests/test_fastcode.py compares every template with the per-code
path over every code of the formats of 16 bits or fewer and samples of fp32 and tf32.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from precli.core.formats import FloatFormat

U64 = npt.NDArray[np.uint64]

#: the per-code fields of a record (RESULT_KEYS' order)
FIELDS = ("hex", "bits", "sign", "exponent", "mantissa", "class", "value", "exact",
          "shortest", "ulp", "prev", "next")  # and the flags: a skeleton per flag set

# digits of the exact value m * 2^-k (m odd) are m * 5^k: at most 17 of them (the value
# rule, analysis.VALUE_DIGITS) when m <= _LIMIT[k]; 5^k > 10^17 past k = 24
_P5 = np.array([5**k for k in range(28)], np.uint64)
_LIMIT = np.array([(10**17 - 1) // 5**k for k in range(28)], np.uint64)


def covers(fmt: Any) -> bool:
    """Whether CodeTemplates and value_texts take fmt: float formats whose every finite
    value is a float64 (fp64 and narrower)."""
    from precli.core.formats import fits_float64

    return isinstance(fmt, FloatFormat) and fits_float64(fmt)


def _numpy_type(fmt: FloatFormat) -> Any:
    """The numpy float type with exactly fmt's values, codes and rounding, if any."""
    shape = (fmt.exponent_bits, fmt.mantissa_bits, fmt.bias, fmt.specials)
    return {(11, 52, 1023, "ieee"): np.float64, (8, 23, 127, "ieee"): np.float32,
            (5, 10, 15, "ieee"): np.float16}.get(shape)


def _odd_parts(mag: npt.NDArray[np.float64]) -> tuple[U64, npt.NDArray[np.int64]]:
    """(m, q) with mag = m * 2^q, m odd (1, 0 for zeros and non-finite lanes)."""
    ok = np.isfinite(mag) & (mag != 0)
    fr, ex = np.frexp(np.where(ok, mag, 1.0))
    m = np.ldexp(fr, 53).astype(np.uint64)  # mag = m * 2^(ex - 53)
    low = (m & (~m + np.uint64(1))).astype(np.float64)  # m's lowest set bit
    tz = np.frexp(low)[1] - 1
    q: npt.NDArray[np.int64] = (ex - 53 + tz).astype(np.int64)
    return m >> tz.astype(np.uint64), q


def exact_texts(vals: npt.NDArray[np.float64]) -> list[bytes]:
    """The exact decimal of each finite float64 (analysis._finite_info64's exact text):
    m * 2^-k has exactly k digits after the point, which '%.kf' prints exactly (Python's
    float formatting is correctly rounded, and here nothing is left to round)."""
    _, q = _odd_parts(np.abs(vals))
    ks = np.maximum(-q, 0).tolist()
    out = [b"%.*f" % (k, v) for v, k in zip(vals.tolist(), ks, strict=True)]
    for i in np.flatnonzero(vals == 0).tolist():  # "0" / "-0", not "0.0"
        out[i] = b"-0" if np.signbit(vals[i]) else b"0"
    return out


def value_texts(fmt: FloatFormat, codes: U64) -> list[bytes]:
    """analysis.float_value_text of each code (ASCII): the exact value when it has at
    most 17 significant digits, else repr of the float64 value (nan / inf as words)."""
    from precli.array import codec
    from precli.core.exact import format_decimal
    from precli.core.values import float_value_text
    from precli.stream.floatrepr import repr_matrix

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
        out[i] = format_decimal(bool(vals[i] < 0), digits[i], -ks[i]).encode()
    integer = fin & (q >= 0) & (mag < 1e16)
    ints = vals[integer].astype(np.int64).tolist()
    for i, v in zip(np.flatnonzero(integer).tolist(), ints, strict=True):
        out[i] = b"%d" % v
    long_ = fin & (q < 0) & ~short
    at = np.flatnonzero(long_)
    if len(at):
        text, _, ok = repr_matrix(vals[at])
        rows = np.ascontiguousarray(text).view("S24").ravel().tolist()
        for i, row, good in zip(at.tolist(), rows, ok.tolist(), strict=True):
            out[i] = row if good else repr(float(vals[i])).encode()
    for i in np.flatnonzero(~(short | integer | long_)).tolist():  # zeros, specials, big
        out[i] = float_value_text(fmt, int(codes[i])).encode()
    return out


def shortest_texts(fmt: FloatFormat, codes: U64, vals: npt.NDArray[np.float64],
                   ) -> list[bytes]:
    """rounding.shortest_float of each finite code (ASCII)."""
    from precli.core.exact import format_decimal
    from precli.core.values import code_shortest

    kind = _numpy_type(fmt)
    if kind is None:
        return [code_shortest(fmt, c).encode() for c in codes.tolist()]
    t = vals.astype(kind).astype("S")  # numpy's shortest digits (Dragon4)
    out: list[bytes] = t.tolist()
    integer = (vals == np.trunc(vals)) & (np.abs(vals) < 1e16)  # these print in full
    for i in np.flatnonzero(integer).tolist():
        v = float(vals[i])
        out[i] = (b"-0" if np.signbit(v) else b"0") if v == 0 else b"%d" % int(v)
    # numpy's layout is not always repr's: positional below 0.0001, or d.ddde±XX with
    # -4 <= XX < 16, get their digits laid out by format_decimal
    has_e = np.char.find(t, b"e") >= 0
    tiny = np.char.startswith(t, b"0.0000") | np.char.startswith(t, b"-0.0000")
    for i in np.flatnonzero(~integer & (has_e | tiny)).tolist():
        s = out[i]
        mant, _, e = s.lstrip(b"-").partition(b"e")
        x = int(e) if e else 0
        if e and (x < -4 or x >= 16):
            continue
        ip, _, fp = mant.partition(b".")
        out[i] = format_decimal(s[:1] == b"-", int(ip + fp), x - len(fp)).encode()
    return out


_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


def _hex_cells(c: U64, digits: int) -> list[bytes]:
    """'0x' and the code in digits lowercase hex digits, per code."""
    shifts = np.arange(4 * (digits - 1), -1, -4, dtype=np.uint64)
    m = np.empty((len(c), digits + 2), np.uint8)
    m[:, 0], m[:, 1] = ord("0"), ord("x")
    m[:, 2:] = _HEX[((c[:, None] >> shifts) & np.uint64(15)).astype(np.intp)]
    cells: list[bytes] = m.view(f"S{digits + 2}").ravel().tolist()
    return cells


def _bit_cells(c: U64, bits: int) -> list[bytes]:
    """The code in bits binary digits, per code."""
    shifts = np.arange(bits - 1, -1, -1, dtype=np.uint64)
    m = (((c[:, None] >> shifts) & np.uint64(1)) + np.uint64(48)).astype(np.uint8)
    cells: list[bytes] = np.ascontiguousarray(m).view(f"S{bits}").ravel().tolist()
    return cells


def neighbours(fmt: FloatFormat, codes: U64) -> tuple[list[Any], list[Any]]:
    """rounding.float_neighbours of each code: (prev codes, next codes), None for none."""
    from precli.core.rounding import float_neighbours

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


#: the per-code fields whose json cells are strings
_STRINGS = frozenset({"hex", "bits", "class", "value", "exact", "shortest", "prev", "next"})


class CodeTemplates:
    """Templates of records (the writer's, with the holes in open_ left open) for many
    codes of a float format covered here (see covers), made together."""

    def __init__(self, fmt: FloatFormat, writer: Any,
                 record: Callable[[int, tuple[str, ...]], dict[str, Any]],
                 open_: tuple[str, ...], quoted: tuple[str, ...] = ()) -> None:
        """record(code, flags): the record dict of a code; open_: the holes left open;
        quoted: the open holes whose json cells are strings (their quotes go in the
        template pieces: the filled text is then the bare string)."""
        from precli.stream.writers import RecordTemplate

        self.fmt, self.json = fmt, writer.mode in ("json", "ndjson")
        holes = tuple(k for k in writer.keys if k in open_ or k in FIELDS)
        cell = RecordTemplate((), self.json).cell
        # a skeleton per flag set: a real record with every other per-code field open (code
        # 0 is finite in every format; the rest of the record is the same for every code;
        # the flags are the writer's own, a list being laid out by the mode: indented json
        # puts one item a line)
        sets: tuple[tuple[str, ...], ...] = ((), ("inexact",), ("inexact", "underflow"))
        self.pieces: dict[tuple[str, ...], list[tuple[bytes, list[str]]]] = {}
        for fs in sets:
            skeleton = writer.template(record(0, fs), holes).pieces
            # per template piece (the open holes split them): a bytes %-format and its
            # fields. Every text filled in is digits, letters, '.', '+' and '-' (which
            # neither json nor csv escapes): a json string cell is the text in quotes, a
            # csv cell the text.
            pieces: list[tuple[bytes, list[str]]] = []
            cur, names = skeleton[0].replace("%", "%%"), list[str]()
            for j, h in enumerate(holes):
                nxt = skeleton[j + 1].replace("%", "%%")
                if h in open_:
                    q = '"' if self.json and h in quoted else ""
                    pieces.append(((cur + q).encode(), names))
                    cur, names = q + nxt, list[str]()
                elif h == "sign" and not fmt.signed:  # the same cell for every code
                    cur += cell(None).replace("%", "%%") + nxt
                else:
                    cur += ('"%s"' if self.json and h in _STRINGS else "%s") + nxt
                    names.append(h)
            pieces.append((cur.encode(), names))
            self.pieces[fs] = pieces
        self._ulp: dict[int, bytes] = {}

    def make(self, codes: list[int], flags: list[tuple[str, ...]]) -> list[Any]:
        """The template pieces (ASCII bytes) of each (code, flags); None where not covered
        (specials, and codes without a neighbour on one side, whose cell is null)."""
        import math

        from precli.array import codec

        fmt = self.fmt
        c = np.array(codes, np.uint64)
        n = len(codes)
        out: list[Any] = [None] * n
        vals_all = codec.decode_array(fmt, c)
        fin = np.flatnonzero(np.isfinite(vals_all))
        prev_l, next_l = neighbours(fmt, c[fin])
        both = np.array([p is not None and x is not None
                         for p, x in zip(prev_l, next_l, strict=True)], bool)
        idx = fin[both]
        k = len(idx)
        if not k:
            return out
        cf = c[idx]
        vals = vals_all[idx]
        prev = np.array([p for p, b in zip(prev_l, both, strict=True) if b], np.uint64)
        nxt = np.array([x for x, b in zip(next_l, both, strict=True) if b], np.uint64)
        texts = value_texts(fmt, np.concatenate([cf, prev, nxt]))
        mb = fmt.mantissa_bits
        e_f = ((cf >> np.uint64(mb)) & np.uint64(fmt.exp_all_ones)).astype(np.int64)
        m_f = (cf & np.uint64(fmt.mant_mask)).astype(np.int64)
        top = (e_f - fmt.bias if fmt.specials == "fnu" else
               np.maximum(e_f, 1) - fmt.bias) - mb
        ulps = []
        for t in top.tolist():
            u = self._ulp.get(t)
            if u is None:
                u = self._ulp[t] = repr(math.ldexp(1.0, t)).encode()
            ulps.append(u)
        if fmt.specials == "fnu":
            cls = [b"normal"] * k
        else:
            cls = np.where(e_f != 0, b"normal",
                           np.where(m_f == 0, b"zero", b"subnormal")).tolist()
        cols: dict[str, list[bytes]] = {
            "hex": _hex_cells(cf, fmt.hex_digits),
            "bits": _bit_cells(cf, fmt.bits),
            "sign": (cf >> np.uint64(fmt.bits - 1)).astype(np.int64).astype("S").tolist(),
            "exponent": e_f.astype("S").tolist(),
            "mantissa": m_f.astype("S").tolist(),
            "class": cls,
            "value": texts[:k],
            "exact": exact_texts(vals),
            "shortest": shortest_texts(fmt, cf, vals),
            "ulp": ulps,
            "prev": texts[k:2 * k],
            "next": texts[2 * k:],
        }
        at = idx.tolist()
        by_flags: dict[tuple[str, ...], list[int]] = {}
        for j, i in enumerate(at):
            by_flags.setdefault(flags[i], []).append(j)
        for fs, sel in by_flags.items():
            if len(sel) == k:
                part = cols
            else:
                part = {h: [col[j] for j in sel] for h, col in cols.items()}
            made = [[f % t for t in zip(*(part[h] for h in names), strict=True)] if names
                    else [f % ()] * len(sel) for f, names in self.pieces[fs]]
            for j, pieces in zip(sel, zip(*made, strict=True), strict=True):
                out[at[j]] = pieces
        return out
