"""The bodies of ``precli check`` and ``precli diff``: call the core, hand the records to a
writer. (Kept apart from commands.py so the two stay independent.)"""

from __future__ import annotations

import sys
from typing import Any

from precli.errors import ExitStatus, UsageError
from precli.stream.writers import OutputEnv

CHECK_KEYS = ("tensor", "check", "expected", "found")


def check_command(path: str, include: str | None, exclude: str | None, jobs: int,
                  env: OutputEnv, output: str | None) -> int:
    from precli.cli.terminal import error_line
    from precli.model.check import check_checkpoint

    mode = env.resolve_output(output, ("table", "plain", "json", "ndjson", "csv"))
    rep = check_checkpoint(path, include=include, exclude=exclude, jobs=jobs)
    if not rep.tensors and not rep.findings and not rep.errors:
        raise UsageError(f"no tensor of {path} matches --tensors / --exclude")
    summ = rep.summary()
    if mode in ("json", "ndjson", "csv"):
        from precli.stream.writers import write_table_rows

        recs = rep.records() if mode != "csv" else [f.record() for f in rep.findings]
        write_table_rows(sys.stdout, mode, CHECK_KEYS, recs)
    else:
        out = sys.stdout
        if mode == "table":
            from precli.cli.terminal import console
            from precli.cli.views import new_table

            con = console(out, env.color)
            if rep.findings:
                t = new_table(title=f"precli check {path}", title_justify="left",
                           box="simple_head", pad_edge=False, collapse_padding=True)
                for k in CHECK_KEYS:
                    t.add_column(k, overflow="fold")
                for f in rep.findings:
                    t.add_row(f.tensor, f.check, f.expected, f.found)
                con.print(t)
            for n in summ["notes"]:
                con.print(f"note: {n}", highlight=False)
            con.print(_summary_line(summ), highlight=False)
        else:
            for f in rep.findings:
                out.write(f.line() + "\n")
            for n in summ["notes"]:
                out.write(f"note: {n}\n")
            out.write(_summary_line(summ) + "\n")
    for e in rep.errors:
        error_line(e)
    return int(ExitStatus.DATA_ERROR) if rep.findings or rep.errors else 0


def _summary_line(s: dict[str, Any]) -> str:
    by = ", ".join(f"{k} {v}" for k, v in s["by_check"].items())
    what = f"{s['findings']} finding{'s' if s['findings'] != 1 else ''}" + (
        f" ({by})" if by else "")
    return (f"checked {s['tensors']} tensor{'s' if s['tensors'] != 1 else ''} "
            f"({s['quantized']} quantized): {what}")


def diff_command(original: str, quantized: str, include: str | None, exclude: str | None,
                 jobs: int, env: OutputEnv, output: str | None) -> int:
    from precli.cli.terminal import error_line
    from precli.model.diff import DIFF_KEYS, diff_checkpoints

    mode = env.resolve_output(output, ("table", "plain", "json", "ndjson", "csv"))
    rep = diff_checkpoints(original, quantized, include=include, exclude=exclude, jobs=jobs)
    if not rep.tensors and not rep.errors:
        raise UsageError(f"no tensor of {quantized} matches --tensors / --exclude")
    if mode == "table":
        from precli.cli.terminal import console
        from precli.cli.views import new_table

        con = console(sys.stdout, env.color)
        t = new_table(title=f"precli diff {original} {quantized}", title_justify="left",
                   box="simple_head", pad_edge=False, collapse_padding=True)
        t.add_column("tensor", overflow="fold")
        t.add_column("dtype", overflow="fold")
        for col in ("params", "SQNR dB", "max abs err", "element", "max ulp", "≤½ ulp",
                    "≤1 ulp"):
            t.add_column(col, justify="left" if col == "element" else "right", no_wrap=True)
        for d in rep.tensors:
            r = d.record()
            if r["skip"] is not None:
                t.add_row(d.name, d.dtype, f"{d.params:,}", f"skipped: {r['skip']}")
                continue
            t.add_row(d.name, d.dtype, f"{d.params:,}", _num(r["sqnr_db"]),
                      _num(r["max_abs_error"]), r["element_format"] or "",
                      _num(r["ulp_max"], 7), _pct(r["within_half_ulp"]),
                      _pct(r["within_1ulp"]))
        con.print(t)
        s = rep.summary
        con.print(f"{s['tensors']} tensors compared ({s['params']:,} values); within 1 ulp: "
                  f"{_pct(s['within_1ulp'])}, within 1/2 ulp: {_pct(s['within_half_ulp'])}"
                  + (f"; only in the original: {', '.join(s['only_original'])}"
                     if s["only_original"] else ""), highlight=False)
    else:
        from precli.stream.writers import write_table_rows

        recs = rep.records()
        if mode in ("csv", "plain"):
            recs = recs[:-1] + [{k: rep.summary.get(k) for k in DIFF_KEYS}]
        write_table_rows(sys.stdout, mode, DIFF_KEYS, recs)
    for e in rep.errors:
        error_line(e)
    return int(ExitStatus.DATA_ERROR) if rep.errors else 0


def _num(v: Any, digits: int = 4) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    return f"{v:.{digits}g}"


def _pct(v: Any) -> str:
    return "" if v is None else f"{100 * v:.2f}%"
