"""Rich views of a plan (``precli plan``): take a :class:`precli.model.plan.Plan`, return
renderables. Never prints. Kept beside render.py rather than in it so that the checkpoint
views and the plan views can change independently."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.text import Text

from precli.cli.tables import short_path, tensor_table
from precli.cli.views import KeyValues, dropped_note, fit_columns, human_bytes, new_table
from precli.core.exact import escape_controls
from precli.model.plan import STORED, Plan, Solution, weighted_sqnr

if TYPE_CHECKING:
    from rich.table import Table

CAVEAT = ("The error is a weight-error proxy (relative error energy of each tensor's "
          "values), not an accuracy guarantee: check the model on its task.")

_OBJECTIVES = {
    "error": "least total error Σ params·10^(−SQNR/10), no lost values",
    "worst": "highest worst-tensor SQNR, then least total error, no lost values",
}


def _db(v: float | None) -> str:
    if v is None:
        return "—"
    if v == math.inf:
        return "exact"
    if v == -math.inf:
        return "lost"
    return f"{v:.2f}"


def _err(v: float) -> str:
    return "0" if v == 0 else f"{v:.4g}"


def _recipe_cell(plan: Plan, i: int) -> str:
    it = plan.items[i]
    c = plan.solution.picks[i]
    return f"stored {it.format}" if c.recipe == STORED else c.recipe


#: the per-tensor table: (name, header, justify); DROP: the order columns leave a narrow
#: terminal in (tensor, recipe and SQNR always stay)
_COLUMNS = (
    ("tensor", "tensor", "left"), ("dtype", "dtype", "left"), ("shape", "shape", "left"),
    ("params", "params", "right"), ("recipe", "recipe", "left"),
    ("SQNR dB", "SQNR dB", "right"), ("bits/value", "bits/value", "right"),
    ("error", "error", "right"), ("pinned", "", "left"),
)
_DROP = ("error", "dtype", "shape", "params", "pinned", "bits/value")


def plan_view(plan: Plan, width: int = 120) -> RenderableType:
    """The plan: per tensor, totals, the mix of recipes, the budget sweep, pins, caveat."""
    s = plan.solution
    title = (f"{short_path(plan.path, width)} ({plan.kind}): plan for {plan.budget.text()}, "
             f"{_OBJECTIVES[plan.objective]}")
    pinned = any(it.pin is not None for it in plan.items)
    columns = [c for c in _COLUMNS if c[0] != "pinned" or pinned]
    rows = []
    for i, (it, c) in enumerate(zip(plan.items, s.picks, strict=True)):
        shape = "×".join(str(d) for d in it.shape) or "scalar"
        rows.append([escape_controls(it.name), it.dtype, shape, f"{it.params:,}",
                     _recipe_cell(plan, i), _db(c.sqnr_db), f"{c.bits / it.params:.4g}",
                     _err(c.error)]
                    + (["pinned" if it.pin is not None else ""] if pinned else []))
    parts = tensor_table(title, columns, rows, _DROP, width)
    parts.append(totals_view(plan, s))
    parts.extend(_mix(plan, width))
    if plan.sweep:
        parts.extend(sweep_view(plan, width))
    notes = KeyValues()
    pins = plan.pins()
    if pins:
        by: dict[str, list[str]] = defaultdict(list)
        for name, _rec, why in pins:
            by[why].append(escape_controls(name))
        for why, names in by.items():
            shown = ", ".join(names[:6]) + (f", and {len(names) - 6} more"
                                             if len(names) > 6 else "")
            notes.add_row("pinned", f"{len(names)} tensor(s), {why}: {shown}")
    if plan.skipped:
        shown = ", ".join(f"{escape_controls(n)} ({r})" for n, _d, r in plan.skipped[:6])
        more = f", and {len(plan.skipped) - 6} more" if len(plan.skipped) > 6 else ""
        notes.add_row("skipped", f"{len(plan.skipped)} tensor(s), not planned: {shown}{more}")
    if notes.rows:
        parts.append(notes)
    parts.append(Text(CAVEAT, style="dim"))
    return Group(*parts)


def totals_view(plan: Plan, s: Solution) -> KeyValues:
    p = plan.params
    nbytes = -(-s.bits // 8)
    stored = plan.stored_bytes
    kv = KeyValues()
    kv.title = Text("total", style="bold")
    kv.add_row("size", f"{nbytes:,} bytes ({human_bytes(nbytes)}), {s.bits / p:.4f} bits per "
                       f"parameter over {p:,} parameters")
    kv.add_row("against", f"{nbytes / stored:.1%} of the stored {human_bytes(stored)}, "
                          f"{nbytes / (2 * p):.1%} of all-bf16 {human_bytes(2 * p)}")
    w = weighted_sqnr(s.objective, p)
    kv.add_row("error", f"{_err(float(s.objective))} (Σ params·10^(−SQNR/10); as one "
                        f"figure, a weighted SQNR of {_db(w)} dB); worst tensor "
                        f"{_db(s.worst_sqnr)} dB")
    if s.optimal:
        kv.add_row("solver", f"optimal (proven; {s.nodes:,} search states)")
    else:
        kv.add_row("solver", f"stopped after {s.nodes:,} search states: the optimum is at "
                             f"least {_err(float(s.bound))} (gap {_err(float(s.gap))})")
    return kv


def _mix(plan: Plan, width: int = 120) -> list[RenderableType]:
    s = plan.solution
    rows: dict[str, list[int]] = {}
    for i, (it, c) in enumerate(zip(plan.items, s.picks, strict=True)):
        key = _recipe_cell(plan, i)
        r = rows.setdefault(key, [0, 0, 0])
        r[0] += 1
        r[1] += it.params
        r[2] += c.bits
    p = plan.params
    cells = {name: {"recipe": name, "tensors": f"{n:,}", "params": f"{params:,}",
                    "share": f"{params / p:.1%}", "bytes": f"{-(-bits // 8):,}"}
             for name, (n, params, bits) in rows.items()}

    def build(keys: list[str]) -> Table:
        t = new_table(title="by recipe", box="simple_head", pad_edge=False,
                      collapse_padding=True, title_justify="left")
        for k in keys:
            t.add_column(k, justify="left" if k == "recipe" else "right", no_wrap=True)
        for row in cells.values():
            t.add_row(*(row[k] for k in keys))
        return t

    return _fitted(build, ("recipe", "tensors", "params", "share", "bytes"),
                   ("bytes", "params", "tensors"), width)


_SWEEP = ("budget", "bits/param", "bytes", "error", "weighted SQNR dB", "worst SQNR dB")


def sweep_view(plan: Plan, width: int = 120) -> list[RenderableType]:
    p = plan.params
    rows = []
    for row in plan.sweep:
        label = ("▸ " if row.given else "  ") + row.label
        s = row.solution
        if s is None:
            rows.append(dict(zip(_SWEEP, (label, "cannot be met", "", "", "", ""),
                                 strict=True)))
            continue
        e = _err(float(s.objective)) + ("" if s.optimal else " (≥ " + _err(float(s.bound)) + ")")
        rows.append(dict(zip(_SWEEP, (label, f"{s.bits / p:.4f}", f"{-(-s.bits // 8):,}", e,
                                      _db(weighted_sqnr(s.objective, p)), _db(s.worst_sqnr)),
                             strict=True)))

    def build(keys: list[str]) -> Table:
        t = new_table(title="the optimum at nearby budgets (same statistics, re-solved)",
                      box="simple_head", pad_edge=False, collapse_padding=True,
                      title_justify="left")
        for k in keys:
            t.add_column(k, justify="left" if k == "budget" else "right", no_wrap=True)
        for r in rows:
            t.add_row(*(r[k] for k in keys))
        return t

    return _fitted(build, _SWEEP, ("bytes", "worst SQNR dB", "error"), width)


def _fitted(build: Callable[[list[str]], Table], keys: Sequence[str], drop: Sequence[str],
            width: int) -> list[RenderableType]:
    t, hidden = fit_columns(build, keys, drop, width)
    return [t, dropped_note(hidden)] if hidden else [t]
