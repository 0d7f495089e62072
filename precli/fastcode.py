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
_SAFE = frozenset("0123456789abcdefghijklmnopqrstuvwxyz.+-")


def covers(fmt: Any) -> bool:
    from precli.rounding import _float64_exact

    return isinstance(fmt, FloatFormat) and _float64_exact(fmt)


def _numpy_type(fmt: FloatFormat) -> Any:
    """The numpy float type with exactly fmt's values, codes and rounding, if any."""
    shape = (fmt.exponent_bits, fmt.mantissa_bits, fmt.bias, fmt.specials)
    return {(8, 23, 127, "ieee"): np.float32, (5, 10, 15, "ieee"): np.float16}.get(shape)


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
    neg = np.signbit(vals)
    fin = np.isfinite(vals) & (mag != 0)
    fr, ex = np.frexp(np.where(fin, mag, 1.0))
    m = np.ldexp(fr, 53).astype(np.uint64)  # mag = m * 2^(ex - 53)
    low = (m & (~m + np.uint64(1))).astype(np.float64)  # m's lowest set bit
    tz = np.frexp(low)[1] - 1
    m_odd = m >> tz.astype(np.uint64)
    q = ex - 53 + tz
    k = np.clip(-q, 0, 27)
    short = fin & (q < 0) & (-q <= 27) & (m_odd <= _LIMIT[k])
    integer = fin & (q >= 0) & (mag < 1e16)
    long_ = fin & (q < 0) & ~short
    digits = np.where(short, m_odd * _P5[k], 0).tolist()
    ks = k.tolist()
    negs = neg.tolist()
    for i in np.flatnonzero(short).tolist():
        out[i] = format_decimal(negs[i], digits[i], -ks[i])
    ints = vals[integer].astype(np.int64).tolist()
    for i, v in zip(np.flatnonzero(integer).tolist(), ints):
        out[i] = "-" + str(-v) if negs[i] else str(v)  # -0 is not here (mag != 0)
    at = np.flatnonzero(long_)
    if len(at):
        text, _, ok = repr_matrix(vals[at])
        rows = np.ascontiguousarray(text).view("S24").ravel().astype("U24").tolist()
        for i, row, good in zip(at.tolist(), rows, ok.tolist()):
            out[i] = row if good else repr(float(vals[i]))
    for i in np.flatnonzero(~(short | integer | long_)).tolist():  # zeros, specials, big
        out[i] = float_value_text(fmt, int(codes[i]))
    return out


def exact_text(neg: bool, v: float) -> str:
    """The exact decimal of a float64 magnitude v (analysis._finite_info64's rule)."""
    from precli.exact import int_to_str

    if v == 0:
        return "-0" if neg else "0"
    n, d = v.as_integer_ratio()
    k = d.bit_length() - 1
    digits = int_to_str(n * 5**k)
    if k:
        digits = digits.zfill(k + 1)
        digits = digits[:-k] + "." + digits[-k:]
    return ("-" if neg else "") + digits


def shortest_texts(fmt: FloatFormat, codes: U64, vals: npt.NDArray[np.float64],
                   ) -> list[str]:
    """rounding.shortest_float of each finite code."""
    from precli.analysis import _shortest
    from precli.exact import format_decimal

    kind = _numpy_type(fmt)
    if kind is None:
        return [_shortest(fmt, c) for c in codes.tolist()]
    out: list[str] = []
    texts = vals.astype(kind).astype("U").tolist()  # numpy's shortest (Dragon4)
    for v, t in zip(vals.tolist(), texts):
        if v == 0:
            out.append("-0" if str(v)[0] == "-" else "0")
        elif v.is_integer() and abs(v) < 1e16:  # integers print in full
            out.append(str(int(v)))
        else:
            neg = t[0] == "-"
            mant, _, e = t.lstrip("-").partition("e")
            ip, _, fp = mant.partition(".")
            out.append(format_decimal(neg, int(ip + fp), (int(e) if e else 0) - len(fp)))
    return out


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
                 open_: tuple[str, ...]) -> None:
        from precli.streams import RecordTemplate

        self.fmt, self.json = fmt, writer.mode in ("json", "ndjson")
        holes = tuple(k for k in writer.keys if k in open_ or k in FIELDS)
        # the skeleton: a real record with every per-code field open (any code will do:
        # the rest of the record is the same for every code)
        skeleton = writer.template(record(0, ()), holes).pieces  # code 0 is finite
        # one %-format per template piece (the open holes split them)
        self.formats: list[str] = []
        cur = skeleton[0].replace("%", "%%")
        for j, h in enumerate(holes):
            nxt = skeleton[j + 1].replace("%", "%%")
            if h in open_:
                self.formats.append(cur)
                cur = nxt
            else:
                cur += f"%({h})s" + nxt
        self.formats.append(cur)
        self.fields = [h for h in holes if h not in open_]
        self._flag_cells = {
            flags: RecordTemplate((), self.json).cell(list(flags))  # type: ignore[arg-type]
            for flags in ((), ("inexact",), ("inexact", "underflow"))
        }
        self._ulp: dict[int, str] = {}

    def make(self, codes: list[int], flags: list[tuple[str, ...]]) -> list[Any]:
        """The template pieces (str) of each (code, flags), None where not covered."""
        fmt = self.fmt
        c = np.array(codes, np.uint64)
        n = len(codes)
        out: list[Any] = [None] * n
        mb = fmt.mantissa_bits
        s_f = ((c >> np.uint64(fmt.bits - 1)) & np.uint64(1)) if fmt.signed else \
            np.zeros(n, np.uint64)
        e_f = (c >> np.uint64(mb)) & np.uint64(fmt.exp_all_ones)
        m_f = c & np.uint64(fmt.mant_mask)
        finite = np.array([not (fmt.is_nan(x) or fmt.is_inf(x)) for x in codes], bool)
        idx = np.flatnonzero(finite)
        if not len(idx):
            return out
        cf = c[idx]
        from precli import codec

        vals = codec.decode_array(fmt, cf)
        prev, nxt = neighbours(fmt, cf)
        have_p = [p is not None for p in prev]
        have_n = [x is not None for x in nxt]
        around = np.array([p for p in prev if p is not None] +
                          [x for x in nxt if x is not None], np.uint64)
        texts = value_texts(fmt, np.concatenate([cf, around]))
        k = len(idx)
        values, rest = texts[:k], iter(texts[k:])
        prev_t = [next(rest) if h else None for h in have_p]
        next_t = [next(rest) if h else None for h in have_n]
        shortest = shortest_texts(fmt, cf, vals)
        signs = s_f[idx].tolist()
        exps = e_f[idx].astype(np.int64)
        mants = m_f[idx].tolist()
        top = (exps - fmt.bias if fmt.specials == "fnu" else
               np.maximum(exps, 1) - fmt.bias) - mb
        tops = top.tolist()
        exps_l = exps.tolist()
        mags = np.abs(vals).tolist()
        hd, nb = fmt.hex_digits, fmt.bits
        json = self.json
        fnu = fmt.specials == "fnu"
        texts_all: list[str] = []
        rows: list[dict[str, str]] = []
        for j, i in enumerate(idx.tolist()):
            code = codes[i]
            s, e, m = signs[j], exps_l[j], mants[j]
            cls = "normal" if fnu or e else ("zero" if m == 0 else "subnormal")
            t = tops[j]
            ulp = self._ulp.get(t)
            if ulp is None:
                import math

                ulp = self._ulp[t] = repr(math.ldexp(1.0, t))
            strs = (f"0x{code:0{hd}x}", f"{code:0{nb}b}", cls, values[j],
                    exact_text(bool(s), mags[j]), shortest[j])
            texts_all.extend(strs)
            p, x = prev_t[j], next_t[j]
            if p is not None:
                texts_all.append(p)
            if x is not None:
                texts_all.append(x)
            if json:
                q = ['"' + v + '"' for v in strs]
                pc = "null" if p is None else '"' + p + '"'
                nc = "null" if x is None else '"' + x + '"'
            else:
                q = list(strs)
                pc = "" if p is None else p
                nc = "" if x is None else x
            rows.append({
                "hex": q[0], "bits": q[1],
                "sign": str(s) if fmt.signed else ("null" if json else ""),
                "exponent": str(e), "mantissa": str(m), "class": q[2], "value": q[3],
                "exact": q[4], "shortest": q[5], "ulp": ulp, "prev": pc, "next": nc,
                "flags": self._flag_cells[flags[i]],
            })
        if not _SAFE.issuperset("".join(texts_all)):  # a text the cells would quote
            return out
        fmts = self.formats
        for j, i in enumerate(idx.tolist()):
            r = rows[j]
            out[i] = tuple(f % r for f in fmts)
        return out
