"""Rich view of ``precli diff``: take a :class:`precli.model.diff` report, return
renderables. Never prints."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from precli.cli.tables import short_path, tensor_table
from precli.cli.views import KeyValues
from precli.core.exact import escape_controls as esc

#: (name, header, justify); DROP: the order columns leave a narrow terminal in (tensor,
#: SQNR dB and ≤1 ulp always stay)
_COLUMNS = (
    ("tensor", "tensor", "left"), ("dtype", "dtype", "left"), ("params", "params", "right"),
    ("SQNR dB", "SQNR dB", "right"), ("max abs err", "max abs err", "right"),
    ("element", "element", "left"), ("max ulp", "max ulp", "right"),
    ("≤½ ulp", "≤½ ulp", "right"), ("≤1 ulp", "≤1 ulp", "right"),
)
_DROP = ("element", "dtype", "≤½ ulp", "max ulp", "params", "max abs err")


def diff_view(rep: Any, original: str, quantized: str, width: int = 120) -> RenderableType:
    """Per tensor: how far the quantized checkpoint is from the original; skipped tensors
    with their reasons below; then the summary sentence."""
    rows = []
    skipped = []
    for d in rep.tensors:
        r = d.record()
        if r["skip"] is not None:
            skipped.append(f"{esc(d.name)} ({r['skip']})")
            rows.append([esc(d.name), d.dtype, f"{d.params:,}", "skipped", "", "", "", "", ""])
            continue
        rows.append([esc(d.name), d.dtype, f"{d.params:,}", _num(r["sqnr_db"]),
                     _num(r["max_abs_error"]), r["element_format"] or "",
                     _num(r["ulp_max"], 7), _pct(r["within_half_ulp"]),
                     _pct(r["within_1ulp"])])
    title = f"precli diff {short_path(original, width)} {short_path(quantized, width)}"
    parts = tensor_table(title, _COLUMNS, rows, _DROP, width)
    by_view = [f"{esc(d.name)} ↔ {esc(d.original or '')}" for d in rep.tensors
               if d.paired == "view" and d.skip is None]
    by_gguf = [d for d in rep.tensors if d.paired == "gguf-name" and d.skip is None]
    if skipped or by_view or by_gguf:
        kv = KeyValues()
        if by_gguf:
            kv.add_row("llama.cpp names", f"{len(by_gguf)} tensor(s) paired through llama.cpp's "
                       "tensor names (q / k rows un-permuted as convert_hf_to_gguf.py "
                       "permutes them), e.g. " + ", ".join(
                           f"{esc(d.name)} ↔ {esc(d.original or '')}" for d in by_gguf[:3]))
        if by_view:
            kv.add_row("paired by view", f"{len(by_view)} tensor(s) whose names differ, "
                       "paired by their matrix view's shape (the only candidate either way) "
                       f"and compared in view order: {', '.join(by_view)}")
        if skipped:
            kv.add_row("skipped", f"{len(skipped)} tensor(s): {', '.join(skipped)}")
        parts.append(kv)
    s = rep.summary
    ulps = (f"within 1 ulp: {_pct(s['within_1ulp'])}, within 1/2 ulp: "
            f"{_pct(s['within_half_ulp'])}" if s["within_1ulp"] is not None else
            "no ulp figures (no quantized element format to count ulps in)")
    parts.append(Text(f"{s['tensors']} tensors compared ({s['params']:,} values); {ulps}"
                      + (f"; only in the original: "
                         f"{', '.join(esc(n) for n in s['only_original'])}"
                         if s["only_original"] else "")))
    return Group(*parts)


def _num(v: Any, digits: int = 4) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    return f"{v:.{digits}g}"


def _pct(v: Any) -> str:
    return "" if v is None else f"{100 * v:.2f}%"
