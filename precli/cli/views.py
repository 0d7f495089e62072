"""Rich views: take result objects, return renderables. Never prints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.text import Text

if TYPE_CHECKING:  # rich.table is imported where a table is drawn: `info fp16` needs none
    from rich.table import Table

from precli.core.exact import escape_controls, floor_log10, format_decimal, shortest_in_interval
from precli.core.formats import FloatFormat, Format, IntFormat
from precli.core.values import (
    CodeInfo,
    DecodeResult,
    EncodeResult,
    ErrorRecord,
    exact_text,
    max_derivation,
    pow2_text,
)

SIGN, EXP, MANT = "bold red", "bold green", "bold blue"


def new_table(**kw: Any) -> Table:
    """A rich Table, imported on first use; box="simple_head" names rich.box.SIMPLE_HEAD."""
    from rich import box
    from rich.table import Table

    if kw.get("box") == "simple_head":
        kw["box"] = box.SIMPLE_HEAD
    return Table(**kw)


class KeyValues:
    """Aligned `key  value` rows whose values wrap under themselves: a lighter stand-in for
    a two-column borderless rich Table (no rich.table import, no cell measuring)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, Text]] = []
        self.title: Text | None = None
        self.title_justify = "left"

    def add_row(self, key: str, value: str | Text) -> None:
        self.rows.append((key, value if isinstance(value, Text) else Text(value)))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.title is not None:
            yield self.title
        if not self.rows:
            return
        kw = max(len(k) for k, _ in self.rows) + 2
        width = max(12, options.max_width - kw)
        for key, value in self.rows:
            for i, line in enumerate(value.wrap(console, width)):
                head = Text(key.ljust(kw), style="bold cyan") if i == 0 else Text(" " * kw)
                yield head + line


def sig(x: Fraction, n: int = 5) -> str:
    """x rounded (half-even) to n significant digits, for display beside exact values."""
    if x == 0:
        return "0"
    k = floor_log10(abs(x)) - n + 1
    d = round(abs(x) / (Fraction(10) ** k))
    return format_decimal(x < 0, d, k)


def approx(x: Fraction | None, digits: int = 6) -> str:
    """A short approximate decimal for display (exact values are shown beside it)."""
    if x is None:
        return "—"
    if x == 0:
        return "0"
    a = abs(x)
    # shortest decimal within a relative 10^-digits window: rounding for display only
    tol = a / 10**digits
    d, e = shortest_in_interval(a, a - tol, a + tol, True, True)
    return format_decimal(x < 0, d, e)


def exact_short(x: Fraction | None) -> str:
    """2^-24 for powers of two, the exact decimal when it is short, else '≈' form."""
    if x is None:
        return "—"
    p = pow2_text(abs(x))
    if p is not None and not (x.denominator == 1 and abs(x) < 10**12):
        return ("-" if x < 0 else "") + p
    t = exact_text(x) or ""
    return t if len(t) <= 12 else "≈" + sig(x, 5)


# ------------------------------------------------------------ bit fields


def bit_fields(fmt: Format, code: int, sep: str = " ") -> Text:
    """The code in binary, coloured sign | exponent | mantissa."""
    bits = f"{code:0{fmt.bits}b}"
    t = Text()
    if isinstance(fmt, FloatFormat):
        i = 0
        parts = []
        if fmt.signed:
            parts.append((bits[0], SIGN))
            i = 1
        parts.append((bits[i:i + fmt.exponent_bits], EXP))
        if fmt.mantissa_bits:
            parts.append((bits[i + fmt.exponent_bits:], MANT))
        for n, (s, style) in enumerate(parts):
            if n:
                t.append(sep)
            t.append(s, style=style)
    else:
        t.append(bits, style=MANT)
    return t


def layout_legend(fmt: Format) -> Text:
    t = Text()
    if isinstance(fmt, FloatFormat):
        if fmt.signed:
            t.append("sign(1) ", style=SIGN)
        t.append(f"exponent({fmt.exponent_bits}) ", style=EXP)
        if fmt.mantissa_bits:
            t.append(f"mantissa({fmt.mantissa_bits})", style=MANT)
    elif isinstance(fmt, IntFormat):
        t.append(f"{'signed' if fmt.signed else 'unsigned'} integer({fmt.bits})", style=MANT)
    else:
        t.append(f"table index({fmt.bits})", style=MANT)
    return t


# ------------------------------------------------------------ info


_OVERVIEW_COLS = (
    # (header, justify, priority): lower priority columns go first on narrow terminals
    ("name", "left", 0), ("s/e/m", "right", 0), ("bits", "right", 1), ("bytes", "right", 4),
    ("bias", "right", 3), ("max", "right", 0), ("min normal", "right", 1),
    ("min subnorm", "right", 2), ("eps", "right", 0), ("digits", "right", 3),
    ("resolution", "right", 4), ("specials", "left", 2),
)  # fmt: skip


def _specials_cell(inf: bool, nan: bool, negz: bool) -> Text:
    t = Text()
    for i, (on, label) in enumerate(((inf, "inf"), (nan, "nan"), (negz, "-0"))):
        if i:
            t.append(" ")
        t.append(label if on else "·" * len(label), style="green" if on else "dim")
    return t


def overview_table(formats: Sequence[Format], width: int = 120) -> Table:
    """The every-format table; on narrow terminals the less essential columns drop out."""
    from rich.console import Console
    from rich.measure import Measurement

    probe = Console(width=1000)
    for keep in (4, 3, 2, 1, 0):
        t = _overview(formats, keep)
        if Measurement.get(probe, probe.options, t).maximum <= width:
            break
    return t


def _overview(formats: Sequence[Format], keep: int) -> Table:
    cols = [(h, j) for h, j, pri in _OVERVIEW_COLS if pri <= keep]
    t = new_table(title="precli formats", box="simple_head", header_style="bold", pad_edge=False,
              collapse_padding=True,
              caption="≈ rounded for display; `precli info NAME` and --output json are exact")
    for h, j in cols:
        t.add_column(h, justify=j, no_wrap=True)  # type: ignore[arg-type]
    for f in formats:
        cells: dict[str, str | Text]
        if isinstance(f, FloatFormat):
            cells = {
                "s/e/m": f"{f.sign_bits}/{f.exponent_bits}/{f.mantissa_bits}",
                "bias": str(f.bias), "max": exact_short(f.max),
                "min normal": exact_short(f.smallest_normal),
                "min subnorm": exact_short(f.smallest_subnormal), "eps": exact_short(f.eps),
                "digits": str(f.decimal_digits), "resolution": approx(f.resolution),
                "specials": _specials_cell(f.has_inf, f.has_nan, f.has_negative_zero),
            }  # fmt: skip
        else:
            cells = {
                "s/e/m": "int" if isinstance(f, IntFormat) else "table",
                "max": exact_short(f.max), "specials": _specials_cell(False, False, False),
            }  # fmt: skip
        cells.update(name=Text(f.name, style="bold"), bits=str(f.bits), bytes=str(f.nbytes))
        t.add_row(*(cells.get(h, "—") for h, _ in cols))
    return t


def _kv_table() -> KeyValues:
    return KeyValues()


def _exact_and_approx(x: Fraction | None) -> str:
    if x is None:
        return "—"
    p = pow2_text(abs(x))
    ex = exact_text(x) or ""
    parts = []
    if p is not None:
        parts.append(("-" if x < 0 else "") + p)
    parts.append(ex if len(ex) <= 40 else f"≈ {approx(x, 17)}")
    if len(ex) <= 40 and ex != approx(x, 17):
        parts.append(f"≈ {approx(x, 8)}")
    return "  ".join(dict.fromkeys(parts))


def specials_text(fmt: FloatFormat) -> list[tuple[str, str]]:
    M, E = fmt.mantissa_bits, fmt.exponent_bits
    w = fmt.hex_digits
    rows: list[tuple[str, str]] = []
    if fmt.has_inf:
        rows.append(("inf", f"exponent all ones, mantissa 0: +inf 0x{fmt.inf_code():0{w}x}, "
                            f"-inf 0x{fmt.inf_code(True):0{w}x}"))
    else:
        rows.append(("inf", "none: overflow gives NaN" if fmt.has_nan and fmt.specials != "finite"
                     else "none: overflow saturates to ±max"))
    if fmt.specials == "ieee":
        n = (2 << M) - 2
        rows.append(("nan", f"exponent all ones, mantissa ≠ 0 ({n} codes); canonical quiet NaN "
                            f"0x{fmt.nan_code():0{w}x}"))
    elif fmt.specials == "fn":
        rows.append(("nan", f"exponent and mantissa all ones only: 0x{fmt.nan_code():0{w}x} and "
                            f"0x{fmt.nan_code(True):0{w}x}"))
    elif fmt.specials == "fnuz":
        rows.append(("nan", f"the single code 0x{fmt.nan_code():0{w}x} (where -0 would be)"))
    elif fmt.specials == "fnu":
        rows.append(("nan", f"0x{fmt.nan_code():0{w}x} (exponent all ones)"))
    else:
        rows.append(("nan", "none: every code is a finite number"))
    if fmt.has_negative_zero:
        rows.append(("-0", f"0x{fmt.sign_mask:0{w}x} (sign 1, all else 0)"))
    elif fmt.specials == "fnu":
        rows.append(("zero", "none: unsigned powers of two only"))
    else:
        rows.append(("-0", "none: 0x00 is the only zero"))
    del E
    return rows


def format_detail(fmt: Format) -> RenderableType:
    title = Text(fmt.name, style="bold underline")
    if fmt.aliases:
        title.append(f"  (also {', '.join(fmt.aliases)})", style="dim")
    parts: list[RenderableType] = [title]
    if fmt.description:
        parts.append(Text(fmt.description, style="italic"))
    if fmt.name == "e4m3":
        parts.append(Text("note: OCP FP8 E4M3 (max 448, no inf) is e4m3fn; this is the IEEE-like "
                          "variant with max 240.", style="yellow"))
    layout = Text("layout   ", style="bold cyan")
    layout.append_text(layout_legend(fmt))
    parts.append(layout)
    kv = _kv_table()
    if isinstance(fmt, FloatFormat):
        if fmt.specials == "fnu":
            kv.add_row("value", f"2^(e - {fmt.bias})   for e = 0 … {fmt.exp_all_ones - 1}")
        else:
            s = "(-1)^s × " if fmt.signed else ""
            M = fmt.mantissa_bits
            top = fmt.fields(fmt.max_code)[1]
            if M:
                kv.add_row("normal", f"{s}2^(e - {fmt.bias}) × (1 + m/2^{M})   for e = 1 … {top}")
                kv.add_row("subnormal", f"{s}2^(1 - {fmt.bias}) × (m/2^{M})   for e = 0")
            else:
                kv.add_row("normal", f"{s}2^(e - {fmt.bias})   for e = 1 … {top}")
                kv.add_row("zero", "e = 0 (no mantissa, so no subnormals)")
        kv.add_row("bits", f"{fmt.bits} ({fmt.sign_bits} sign, {fmt.exponent_bits} exponent, "
                           f"{fmt.mantissa_bits} mantissa), {fmt.nbytes} byte(s); bias {fmt.bias}")
        kv.add_row("max", _exact_and_approx(fmt.max))
        kv.add_row("min", _exact_and_approx(fmt.min))
        kv.add_row("smallest normal", _exact_and_approx(fmt.smallest_normal))
        kv.add_row("smallest subnormal", _exact_and_approx(fmt.smallest_subnormal))
        kv.add_row("eps", _exact_and_approx(fmt.eps))
        kv.add_row("decimal digits", f"{fmt.decimal_digits} (resolution "
                                     f"{exact_text(fmt.resolution)})")
        kv.add_row("finite values", f"{fmt.finite_values:,} ({fmt.finite_codes:,} finite codes of "
                                    f"{1 << fmt.bits:,})")
        for k, v in specials_text(fmt):
            kv.add_row(k, v)
        kv.add_row("max from bits", max_derivation(fmt))
    elif isinstance(fmt, IntFormat):
        kind = "two's complement" if fmt.signed else "unsigned"
        kv.add_row("bits", f"{fmt.bits}, {kind}")
        kv.add_row("max", str(fmt.max_int))
        kv.add_row("min", str(fmt.min_int))
        kv.add_row("values", f"{fmt.finite_values:,}")
    else:
        kv.add_row("bits", f"{fmt.bits}: an index into {len(fmt.values)} values")
        kv.add_row("values", ", ".join(approx(v, 8) for v in fmt.values))
        kv.add_row("max", _exact_and_approx(fmt.max))
        kv.add_row("min", _exact_and_approx(fmt.min))
    parts.append(kv)
    return Group(*parts)


def values_table(fmt: Format, infos: Sequence[CodeInfo]) -> Table:
    t = new_table(title=f"{fmt.name}: every code", box="simple_head", pad_edge=False)
    for c in ("code", "bits", "value", "exact", "class"):
        t.add_column(c, justify="right" if c in ("value", "exact") else "left")
    for i in infos:
        t.add_row(i.hex, bit_fields(fmt, i.code), i.value, i.exact, i.cls)
    return t


# ------------------------------------------------------------ encode / decode


def _err(x: Fraction | None) -> str:
    """An error or ulp: exact when short (0.000625, 2^-10), else ≈ 4 significant digits."""
    if x is None:
        return "—"
    if x == 0:
        return "0"
    p = pow2_text(abs(x))
    if p is not None and not (x.denominator == 1 and abs(x) < 10**6):
        return p
    try:
        t = exact_text(x) or ""
    except ValueError:  # no terminating expansion (e.g. a relative error of 1/3)
        t = ""
    return t if t and len(t) <= 10 else "≈" + approx(x, 4)


def code_detail(info: CodeInfo, title: Text) -> KeyValues:
    kv = _kv_table()
    kv.title = title
    kv.title_justify = "left"
    fmt = info.format
    kv.add_row("bits", bit_fields(fmt, info.code))
    kv.add_row("layout", layout_legend(fmt))  # its own row: the legend never splits the bits
    hx = info.hex
    if info.container_hex:
        hx += f"   (fp32 container {info.container_hex})"
    kv.add_row("hex", hx)
    if info.sign is not None or info.exponent is not None:
        kv.add_row("fields", f"sign {info.sign if info.sign is not None else '—'}, "
                             f"exponent {info.exponent}, mantissa {info.mantissa}")
    kv.add_row("formula", info.formula)
    kv.add_row("value", Text(info.value, style="bold"))
    kv.add_row("exact", info.exact)
    kv.add_row("class", info.cls)
    kv.add_row("ulp", _err(info.ulp))
    kv.add_row("neighbours", f"prev {info.prev or '—'}   next {info.next or '—'}")
    return kv


def encode_view(r: EncodeResult) -> RenderableType:
    title = Text(f"{r.input} → {r.info.format.name}", style="bold")
    title.append(f"  ({r.round})", style="dim")
    kv = code_detail(r.info, title)
    kv.add_row("error", f"abs {_err(r.abs_error)}   rel {_err(r.rel_error)}   "
                        f"ulps {_err(r.ulp_error)}")
    flags = Text(", ".join(r.flags) if r.flags else "exact", style="yellow" if r.flags else "green")
    kv.add_row("flags", flags)
    if r.info.format.name == "e4m3":
        kv.add_row("note", Text("e4m3 is the IEEE-like variant (max 240); OCP FP8 E4M3 is e4m3fn "
                                "(max 448)", style="yellow"))
    return kv


def decode_view(r: DecodeResult) -> RenderableType:
    return code_detail(r.info, Text(f"{r.input} as {r.info.format.name}", style="bold"))


def results_table(results: Sequence[EncodeResult | DecodeResult]) -> Table:
    """A compact one-row-per-value view for many values."""
    t = new_table(box="simple_head", pad_edge=False)
    for c in ("input", "hex", "bits", "value", "abs error", "flags"):
        t.add_column(c)
    for r in results:
        err = _err(r.abs_error) if isinstance(r, EncodeResult) else "—"
        flags = ", ".join(r.flags) if isinstance(r, EncodeResult) else ""
        t.add_row(r.input, r.info.hex, bit_fields(r.info.format, r.info.code), r.info.value, err,
                  flags)
    return t


# ------------------------------------------------------------ compare


def _stored_text(info: CodeInfo) -> str:
    """The exact stored value when short, else 17 significant digits marked ≈."""
    if len(info.exact) <= 18 or info.stored.kind != "finite":
        return info.exact
    return "≈" + sig(info.stored.value, 17)


_VALUE_COLUMNS = (
    ("format", "left", 9), ("stored", "right", 9), ("abs error", "right", 9),
    ("rel error", "right", 3), ("ulps", "right", 2), ("hex", "left", 5),
    ("bits", "left", 1), ("flags", "left", 4),
)  # (header, justify, rank): a column shows while its rank is above the level tried


def compare_value_table(text: str, results: Sequence[EncodeResult | ErrorRecord],
                        width: int = 120) -> RenderableType:
    """One value in every format: one row per format. Columns leave a narrow terminal by
    priority (bits, ulps, rel error, then flags and hex); a footnote names them."""
    from rich.console import Console
    from rich.measure import Measurement

    probe = Console(width=1000)
    for level in range(6):
        t = _compare_value(text, results, level)
        if Measurement.get(probe, probe.options, t).maximum <= width:
            break
    hidden = [c for c, _, rank in _VALUE_COLUMNS if rank <= level]
    if not hidden:
        return t
    return Group(t, Text(f"not shown at this width: {', '.join(hidden)} (widen the "
                         "terminal, or use --output json)", style="dim"))


def _compare_value(text: str, results: Sequence[EncodeResult | ErrorRecord], level: int
                   ) -> Table:
    cols = [(c, j) for c, j, rank in _VALUE_COLUMNS if rank > level]
    t = new_table(title=f"{text} in each format", box="simple_head", pad_edge=False,
               collapse_padding=True)
    for c, j in cols:
        t.add_column(c, justify=j, no_wrap=True)  # type: ignore[arg-type]
    for r in results:
        if isinstance(r, ErrorRecord):
            name, _, msg = r.error.partition(": ")
            cells: dict[str, str | Text] = {"format": Text(name, style="bold"),
                                            "stored": Text(msg, style="red")}
        else:
            cells = {
                "format": Text(r.info.format.name, style="bold"), "stored": _stored_text(r.info),
                "abs error": _err(r.abs_error), "rel error": _err(r.rel_error),
                "ulps": _err(r.ulp_error), "hex": r.info.hex,
                "bits": bit_fields(r.info.format, r.info.code, sep=""),
                "flags": Text(", ".join(r.flags) if r.flags else "exact",
                              style="yellow" if r.flags else "green"),
            }  # fmt: skip
        t.add_row(*(cells.get(c, "") for c, _ in cols))
    return t


def compare_formats_view(fmts: Sequence[Format], notes: Sequence[str],
                         width: int = 120) -> RenderableType:
    """Formats side by side, then where each is better. Numbers never wrap: formats that do
    not fit beside each other continue in a second table below."""
    from rich.console import Console
    from rich.measure import Measurement

    probe = Console(width=1000)
    per = len(fmts)
    while per > 1 and Measurement.get(probe, probe.options,
                                      _formats_table(fmts[:per])).maximum > width:
        per -= 1
    parts: list[RenderableType] = [_formats_table(fmts[i:i + per])
                                   for i in range(0, len(fmts), per)]
    grid = new_table(box=None, show_header=False, pad_edge=False, padding=0)
    grid.add_column(no_wrap=True)
    grid.add_column()
    for n in notes:
        grid.add_row("• ", n)  # wrapped notes hang under their text
    if notes:
        parts.append(grid)
    return Group(*parts)


def _formats_table(fmts: Sequence[Format]) -> Table:
    t = new_table(box="simple_head", pad_edge=False, collapse_padding=True)
    t.add_column("", style="bold cyan", no_wrap=True)
    for f in fmts:
        t.add_column(f.name, justify="right", header_style="bold", no_wrap=True)
    rows: list[tuple[str, list[str]]] = [
        ("bits", [str(f.bits) for f in fmts]),
        ("sign/exp/mant", [f"{f.sign_bits}/{f.exponent_bits}/{f.mantissa_bits}"
                           if isinstance(f, FloatFormat) else f.kind for f in fmts]),
        ("max", [exact_short(f.max) for f in fmts]),
        ("smallest normal", [exact_short(f.smallest_normal) if isinstance(f, FloatFormat)
                             else "—" for f in fmts]),
        ("smallest subnormal", [exact_short(f.smallest_subnormal)
                                if isinstance(f, FloatFormat) else "—" for f in fmts]),
        ("eps", [exact_short(f.eps) if isinstance(f, FloatFormat) else "—" for f in fmts]),
        ("decimal digits", [str(f.decimal_digits) if isinstance(f, FloatFormat) else "—"
                            for f in fmts]),
        ("finite values", [f"{f.finite_values:,}" for f in fmts]),
        ("inf / nan / -0", [" ".join(x for x, on in (
            ("inf", getattr(f, "has_inf", False)), ("nan", getattr(f, "has_nan", False)),
            ("-0", getattr(f, "has_negative_zero", False))) if on) or "none" for f in fmts]),
    ]  # fmt: skip
    for label, cells in rows:
        t.add_row(label, *cells)
    return t


_CELL = {"normal": ("█", "green"), "subnormal": ("▒", "yellow"), "underflow": ("·", "dim"),
         "overflow": ("×", "red")}


def magnitude_plot(hist: Any, covs: Sequence[Any], width: int = 100) -> RenderableType:
    """One row per binade 2^k of the input: a bar of its count, then each format's cover."""
    from precli.model.histogram import cell

    if not hist.counts:
        return Text("no finite nonzero values to plot", style="dim")
    ks = sorted(hist.counts)
    lo, hi = ks[0], ks[-1]
    peak = max(hist.counts.values())
    t = new_table(title="|x| by binade, against each format's range", box="simple_head",
              pad_edge=False, collapse_padding=True,
              caption="█ normal  ▒ subnormal  · below the smallest subnormal (rounds to 0 or "
                      "to it)  × above max")
    t.add_column("binade", justify="right", no_wrap=True)
    t.add_column("count", justify="right", no_wrap=True)
    fixed = 8 + 2 + len(f"{peak:,}") + 2 + sum(len(c.name) + 2 for c in covs)
    bar_w = max(6, min(40, width - fixed - 2))
    t.add_column("", no_wrap=True, min_width=bar_w)
    for c in covs:
        t.add_column(c.name, justify="center", no_wrap=True, min_width=len(c.name))
    gap = False
    for k in range(hi, lo - 1, -1):
        n = hist.counts.get(k, 0)
        if n == 0 and hist.counts.get(k + 1, 0) == 0 and hist.counts.get(k - 1, 0) == 0:
            if not gap:  # a run of empty binades shows as one ⋮ row
                t.add_row("⋮", "", "", *("" for _ in covs))
            gap = True
            continue
        gap = False
        bar = Text("▇" * (0 if n == 0 else max(1, round(bar_w * n / peak))), style="cyan")
        cells = []
        for c in covs:
            ch, style = _CELL[cell(c, k)]
            cells.append(Text(ch, style=style))
        t.add_row(f"2^{k}", f"{n:,}", bar, *cells)
    return t


_LOWER_BETTER = ("lost", "overflow", "underflow", "max_abs_error", "mean_abs_error", "rmse",
                 "max_rel_error", "bits_per_value")
_HIGHER_BETTER = ("exact_fraction", "sqnr_db")

#: compare FILE columns: (record key, header). Columns leave a narrow table in _DROP order;
#: format, lost and SQNR always stay.
_STATS_COLUMNS = (
    ("format", "recipe"), ("lost", "lost"), ("overflow", "overflow"),
    ("underflow", "underflow"), ("sqnr_db", "SQNR dB"), ("rmse", "RMSE"),
    ("bits_per_value", "bits/value"), ("max_abs_error", "max abs err"),
    ("mean_abs_error", "mean abs err"), ("max_rel_error", "max rel err"),
    ("exact_fraction", "exact"), ("subnormal", "subnormal"), ("nan_in", "NaN in"),
    ("bytes", "size"),
)
_DROP = ("nan_in", "subnormal", "max_rel_error", "mean_abs_error", "exact_fraction",
         "max_abs_error", "underflow", "rmse", "overflow", "bytes", "bits_per_value")


def compare_stats_table(source: str, recs: Sequence[dict[str, Any]], width: int = 120,
                        min_sqnr: float | None = None, title: str | None = None
                        ) -> RenderableType:
    """Per-recipe statistics of casting an array. ★ marks the best recipe per column among
    those that lose no value; ◆ the cheapest recipe reaching --min-sqnr. Columns that do not
    fit are dropped by priority and named in a footnote. Below: where each scale came from."""
    keys = [k for k, _ in _STATS_COLUMNS if k != "bytes" or (recs and "bytes" in recs[0])]
    t, hidden = fit_columns(lambda ks: _compare_stats(source, recs, ks, min_sqnr, title), keys,
                            _DROP, width)
    notes: list[RenderableType] = [t]
    if hidden:
        names = dict(_STATS_COLUMNS)
        notes.append(dropped_note([names[k] for k in hidden]))
    kv = KeyValues()
    for r in recs:
        txt = scale_note(r)
        if txt:
            kv.add_row(str(r["format"]), txt)
    if kv.rows:
        kv.title = Text("scales", style="bold")
        notes.append(kv)
    return Group(*notes)


def fit_columns(build: Callable[[list[str]], Table], keys: Sequence[str],
                drop: Sequence[str], width: int) -> tuple[Table, list[str]]:
    """Columns by priority: build(keys) with every key, then without the keys of `drop`, in
    that order, one more each time, until the table measures no wider than `width` (or
    nothing droppable is left). Returns the last table and the keys dropped, in order.
    Keys not in `drop` always stay; a no_wrap column is thus shown whole or not at all."""
    from rich.console import Console
    from rich.measure import Measurement

    probe = Console(width=1000)
    shown = list(keys)
    order = [k for k in drop if k in shown]
    hidden: list[str] = []
    while True:
        t = build(shown)
        if Measurement.get(probe, probe.options, t).maximum <= width or not order:
            return t, hidden
        hidden.append(order.pop(0))
        shown.remove(hidden[-1])


def dropped_note(headers: Sequence[str]) -> Text:
    """The footnote under a table that lost columns to the width: which ones, and how to
    see them."""
    return Text(f"not shown at this width: {', '.join(headers)} "
                "(widen the terminal, or use --output json)", style="dim")


def human_bytes(n: int) -> str:
    """1,536,000 -> '1.54 MB' (decimal units, as disks and model cards count)."""
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} B"


def checkpoint_view(report: Any, width: int = 120, show_all: bool = False,
                    min_sqnr: float | None = None) -> RenderableType:
    """A checkpoint report: the model-wide summary per recipe, the worst tensors, what was
    skipped, and with show_all every tensor's SQNR under each recipe."""
    from precli.model.analyze import SET_ASIDE, SMALL

    parts: list[RenderableType] = []
    n = len(report.tensors)
    nc = len(report.compared)
    params = sum(t.params for t in report.compared)
    what = ", ".join([report.kind] + [x for x in (report.architecture, report.file_type)
                                      if x is not None])
    head = (f"{report.path} ({what}): {nc:,} of {n:,} tensors, {params:,} "
            f"parameters, {human_bytes(report.compared_bytes)} as stored")
    recs = report.summary_records()
    parts.append(compare_stats_table(report.path, recs, width, min_sqnr, title=head))
    if report.kind == "gguf" and report.tensors:
        parts.append(type_table(report.type_table()))
    worst = report.worst(3)
    kv = KeyValues()
    kv.title = Text("SQNR by tensor: the parameter-weighted mean, then the worst tensors",
                    style="bold")
    for r, ts in zip(report.recipes, worst, strict=True):
        j = report.recipes.index(r)
        w = report.weighted_sqnr(j)
        mean = "—" if w is None else "exact" if w == float("inf") else \
            "values lost" if w == float("-inf") else f"{w:.1f} dB"
        cells = [f"{escape_controls(t.name)} ({_sqnr_cell(t.stats[j])})" for t in ts
                 if t.stats[j].lost or t.stats[j].sqnr_db != float("inf")]
        if cells:
            kv.add_row(r.text, f"{mean} weighted · worst: " + " · ".join(cells))
        elif ts:
            kv.add_row(r.text, "every tensor is stored exactly")
    if kv.rows:
        parts.append(kv)
    skipped = [t for t in report.tensors if t.skip is not None]
    if skipped:
        sk = KeyValues()
        aside = [t for t in skipped if t.skip.startswith(SET_ASIDE)]
        other = [t for t in skipped if not t.skip.startswith(SET_ASIDE)]
        if other:
            names = ", ".join(f"{escape_controls(t.name)} ({t.skip})" for t in other[:8])
            more = f", and {len(other) - 8} more" if len(other) > 8 else ""
            sk.add_row("skipped", f"{len(other)} tensor(s): {names}{more}")
        if aside:
            names = ", ".join(escape_controls(t.name) for t in aside[:8])
            more = f", and {len(aside) - 8} more" if len(aside) > 8 else ""
            sk.add_row("set aside", f"{len(aside)} tensor(s), 1-D or under {SMALL:,} values "
                       f"(add --small to compare them): {names}{more}")
        parts.append(sk)
    partial = [(t, s) for t in report.compared for s in t.stats if s.note]
    if partial:
        pk = KeyValues()
        pk.title = Text("partial groups: rows that do not hold whole groups or blocks",
                        style="bold")
        for r in report.recipes:
            hit = [t for t, s in partial if s.format == r.text]
            if hit:
                names = ", ".join(hit[k].name for k in range(min(4, len(hit))))
                more = f", and {len(hit) - 4} more" if len(hit) > 4 else ""
                pk.add_row(r.text, f"{len(hit)} tensor(s) pay more bits per value: "
                           f"{names}{more} (their records' note says how many)")
        parts.append(pk)
    if show_all:
        parts.append(_tensor_table(report, width))
    elif nc > 3:
        parts.append(Text("every tensor: add --all (or --output ndjson for the records)",
                          style="dim"))
    return Group(*parts)


def type_table(rows: Sequence[dict[str, Any]]) -> Table:
    """A GGUF's stored types (ModelReport.type_table): tensors, parameters, bytes and bits
    per weight of each."""
    t = new_table(title="stored types", box="simple_head", pad_edge=False,
                  collapse_padding=True, title_justify="left", title_style="bold")
    for h in ("type", "tensors", "parameters", "bytes", "bits/weight"):
        t.add_column(h, justify="left" if h == "type" else "right", no_wrap=True)
    for r in rows:
        bpw = r["bits_per_weight"]
        t.add_row(Text(escape_controls(str(r["type"])), style="bold"), f"{r['tensors']:,}",
                  f"{r['params']:,}", human_bytes(r["bytes"]),
                  "—" if bpw is None else f"{bpw:.4g}")
    return t


def _sqnr_cell(s: Any) -> str:
    if s.lost:
        return f"{s.lost:,} lost"
    v = s.sqnr_db
    if v is None:
        return "—"
    if v == float("inf"):
        return "exact"
    return f"{v:.1f} dB"


def _tensor_table(report: Any, width: int) -> Table:
    """Every tensor's SQNR under each recipe; dtype, amax and range leave narrow screens."""
    wide = width >= 100 + 12 * len(report.recipes)
    t = new_table(title="SQNR of every tensor", box="simple_head", pad_edge=False,
               collapse_padding=True)
    t.add_column("tensor", overflow="fold", min_width=min(40, width // 3))
    if wide:
        t.add_column("dtype", no_wrap=True)
    t.add_column("shape", no_wrap=True)
    if wide:
        t.add_column("amax", justify="right", no_wrap=True)
        t.add_column("range", justify="right", no_wrap=True)
    for r in report.recipes:
        t.add_column(r.text, justify="right", no_wrap=True)
    for tr in report.tensors:
        shape = "×".join(str(d) for d in tr.shape) or "scalar"
        if tr.skip is not None:
            cells = ["skipped"] + [""] * (len(report.recipes) - 1)
        else:
            cells = [_sqnr_cell(s) for s in tr.stats]
        rng = "—" if tr.dynamic_range is None else f"2^{tr.dynamic_range:.1f}"
        info = [tr.dtype, shape, _num(tr.amax), rng] if wide else [shape]
        t.add_row(escape_controls(tr.name), *info, *cells)
    return t


def scale_note(r: dict[str, Any]) -> str | None:
    """Where a recipe's scales came from, in words (None for a plain cast)."""
    n = r.get("scale_count") or 0
    sf = r.get("scale_format")
    if r.get("scaling") == "none" or not n and r.get("tensor_scale") is None:
        return None
    parts = []
    if r.get("tensor_scale") is not None:
        parts.append(f"tensor scale {_num(r['tensor_scale'], 6)} (fp32, amax / 2688)")
    if r.get("scale") is not None:
        zp = r.get("zero_point")
        parts.append(f"scale {_num(r['scale'], 6)} ({sf})" + (
            f", zero-point {zp}" if zp is not None else ""))
    elif n:
        what = {"channel": "per-channel", "group": "group", "block": "block",
                "mx": "block", "nvfp4": "block"}.get(str(r.get("scaling")), "per-tensor")
        lo, hi = r.get("scale_min"), r.get("scale_max")
        rng = f" from {_num(lo)} to {_num(hi)}" if lo is not None else ""
        parts.append(f"{n:,} {what} scales ({sf}){rng}")
    if r.get("scheme"):
        parts.append(str(r["scheme"]))
    if r.get("scale_nan"):
        if r.get("lost"):
            parts.append(f"{r['scale_nan']:,} could not be stored (NaN: the finite values "
                         "they scale are lost)")
        else:  # only groups without a finite value (NaN, ±inf) had no scale to store
            parts.append(f"{r['scale_nan']:,} could not be stored (NaN), for groups holding "
                         "no finite value: nothing was lost")
    return ", ".join(parts)


def _num(v: Any, digits: int = 4) -> str:
    if v is None:
        return "—"
    if v == "inf":
        return "∞"
    if v == "-inf":
        return "−∞"
    if isinstance(v, float):
        return "0" if v == 0 else f"{v:.{digits}g}"
    return f"{v:,}"


def _cmp_value(k: str, v: Any) -> float | None:
    if v is None:
        return None
    if v == "inf":
        return float("inf")
    if v == "-inf":
        return float("-inf")
    return float(v)


def _compare_stats(source: str, recs: Sequence[dict[str, Any]], keys: list[str],
                   min_sqnr: float | None, title: str | None = None) -> Table:
    count = recs[0]["count"] if recs else 0
    title = title or f"{source}: {count:,} values"
    best: dict[str, float] = {}
    clean = [r for r in recs if not r.get("lost")]
    for k in _LOWER_BETTER + _HIGHER_BETTER:
        if k not in keys:
            continue
        vals = [c for c in (_cmp_value(k, r.get(k)) for r in clean) if c is not None]
        if len(vals) > 1 and len(set(vals)) > 1:
            b = min(vals) if k in _LOWER_BETTER else max(vals)
            if 2 * vals.count(b) <= len(vals):  # a star shared by most says nothing
                best[k] = b
    pick = any(r.get("recommended") for r in recs)
    caption = []
    if best:
        caption.append("★ best in its column among recipes that lose no value")
    if pick:
        caption.append(f"◆ cheapest recipe reaching {min_sqnr:g} dB without loss")
    t = new_table(title=title, box="simple_head", pad_edge=False,
               collapse_padding=True, caption="; ".join(caption) or None)
    names = dict(_STATS_COLUMNS)
    for k in keys:
        t.add_column(names[k], justify="left" if k == "format" else "right", no_wrap=True)
    for r in recs:
        cells: list[str | Text] = []
        for k in keys:
            v = r.get(k)
            if k == "format":
                mark = "◆ " if r.get("recommended") else ""
                cells.append(Text(mark + str(v), style="bold"))
                continue
            if k == "exact_fraction" and v is not None:
                txt = f"{100 * v:.3g}%"
            elif k == "bits_per_value" and isinstance(v, float):
                txt = f"{v:.6g}"
            elif k == "sqnr_db" and isinstance(v, float):
                txt = f"{v:.2f}"
            elif k == "bytes" and isinstance(v, int):
                txt = human_bytes(v)
                stored = r.get("stored_bytes")
                if stored:
                    txt += f" ({100 * v / stored:.0f}%)"
            else:
                txt = _num(v)
            if k == "lost" and v:
                cells.append(Text(txt, style="bold red"))
            elif k in best and _cmp_value(k, v) == best[k] and not r.get("lost"):
                cells.append(Text("★ " + txt, style="bold green"))
            else:
                cells.append(txt)
        t.add_row(*cells)
    return t


def block_detail(b: Any, rec: dict[str, Any]) -> RenderableType:
    """A block-scaled format: its layout, scale rule and bits per value."""
    title = Text(b.name, style="bold underline")
    if b.aliases:
        title.append(f"  (also {', '.join(b.aliases)})", style="dim")
    layout = Text()
    layout.append(f"{b.block_size} × {b.element} ({rec['element_bits']} bits)", style=MANT)
    layout.append(" + ")
    layout.append(f"1 × {b.scale} scale ({rec['scale_bits']} bits)", style=EXP)
    if b.tensor_scale_bits:
        layout.append(f" + one fp32 tensor scale ({b.tensor_scale_bits} bits) per tensor",
                      style=SIGN)
    kv = _kv_table()
    kv.add_row("block", layout)  # wrapped lines hang under the value, not under the key
    total = b.block_size * rec["element_bits"] + rec["scale_bits"]
    kv.add_row("bits per block", f"{total} = {b.block_size} × {rec['element_bits']} + "
                                 f"{rec['scale_bits']}")
    extra = " (+ 32 / tensor size)" if b.tensor_scale_bits else ""
    kv.add_row("bits per value", f"{rec['effective_bits']:g}{extra}")
    kv.add_row("value", "element × block scale" + (" × tensor scale" if b.tensor_scale_bits
                                                     else ""))
    kv.add_row("scale rule", rec["scale_rule"])
    kv.add_row("element max", _exact_and_approx(b.max))
    if b.element_exp:
        kv.add_row("element", f"{b.element} code q stands for q × 2^{b.element_exp}")
    return Group(title, Text(b.description, style="italic"), kv)


def block_overview_table(blocks: Sequence[Any], width: int = 120) -> Table:
    """The block-scaled formats, one row each (the second table of `precli info`)."""
    from rich.console import Console
    from rich.measure import Measurement

    from precli.core.formats import effective_bits

    cols = (("name", "left", 0), ("element", "left", 0), ("scale", "left", 0),
            ("block", "right", 0), ("bits/value", "right", 0), ("element max", "right", 1),
            ("tensor scale", "left", 1), ("aliases", "left", 2))  # fmt: skip
    probe = Console(width=1000)
    for keep in (2, 1, 0):
        t = new_table(title="block-scaled formats", box="simple_head", header_style="bold",
                   pad_edge=False, collapse_padding=True,
                   caption="`precli info NAME` for the scale rule")
        shown = [(h, j) for h, j, pri in cols if pri <= keep]
        for h, j in shown:
            t.add_column(h, justify=j, no_wrap=True)  # type: ignore[arg-type]
        for b in blocks:
            cells = {
                "name": Text(b.name, style="bold"), "element": b.element, "scale": b.scale,
                "block": str(b.block_size), "bits/value": f"{effective_bits(b):g}",
                "element max": exact_short(b.max),
                "tensor scale": "fp32" if b.tensor_scale_bits else "—",
                "aliases": ", ".join(b.aliases) or "—",
            }  # fmt: skip
            t.add_row(*(cells[h] for h, _ in shown))
        if Measurement.get(probe, probe.options, t).maximum <= width:
            break
    return t
