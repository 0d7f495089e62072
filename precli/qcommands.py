"""The bodies of ``precli check`` and ``precli diff``: call the core, hand the records to a
writer. (Kept apart from commands.py so the two stay independent.)"""

from __future__ import annotations

import sys
from typing import Any

from precli.errors import ExitStatus, UsageError
from precli.streams import OutputEnv

CHECK_KEYS = ("tensor", "check", "expected", "found")


def check_command(path: str, include: str | None, exclude: str | None, jobs: int,
                  env: OutputEnv, output: str | None) -> int:
    from precli.check import check_checkpoint
    from precli.cli import error_line

    mode = env.resolve_output(output, ("table", "plain", "json", "ndjson", "csv"))
    rep = check_checkpoint(path, include=include, exclude=exclude, jobs=jobs)
    if not rep.tensors and not rep.findings and not rep.errors:
        raise UsageError(f"no tensor of {path} matches --tensors / --exclude")
    summ = rep.summary()
    if mode in ("json", "ndjson", "csv"):
        from precli.streams import write_table_rows

        recs = rep.records() if mode != "csv" else [f.record() for f in rep.findings]
        write_table_rows(sys.stdout, mode, CHECK_KEYS, recs)
    else:
        out = sys.stdout
        if mode == "table":
            from rich.table import Table

            from precli.cli import console

            con = console(out, env.color)
            if rep.findings:
                t = Table(*CHECK_KEYS, title=f"precli check {path}", title_justify="left")
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
