"""The bodies of ``precli check``, ``precli diff`` and ``precli plan``: call the library,
hand the records to a writer."""

from __future__ import annotations

import sys
from typing import Any

from precli.cli.options import PlanRequest, no_tensor_matches
from precli.cli.terminal import OutputEnv
from precli.core.exact import escape_controls as esc
from precli.errors import ExitStatus

CHECK_KEYS = ("tensor", "check", "expected", "found")


def check_command(path: str, include: str | None, exclude: str | None, jobs: int,
                  env: OutputEnv, output: str | None) -> int:
    from precli.cli.terminal import error_line
    from precli.model.check import check_checkpoint

    mode = env.resolve_output(output, ("table", "plain", "json", "ndjson", "csv"))
    rep = check_checkpoint(path, include=include, exclude=exclude, jobs=jobs)
    if not rep.tensors and not rep.findings and not rep.errors:
        raise no_tensor_matches(path)
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
                    t.add_row(esc(f.tensor), f.check, f.expected, f.found)
                con.print(t)
            for n in summ["notes"]:
                con.print(f"note: {esc(n)}", highlight=False)
            con.print(_summary_line(summ), highlight=False)
        else:
            for f in rep.findings:
                out.write(esc(f.line()) + "\n")
            for n in summ["notes"]:
                out.write(f"note: {esc(n)}\n")
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
        raise no_tensor_matches(quantized)
    if mode == "table":
        from precli.cli.diff_view import diff_view
        from precli.cli.terminal import console

        con = console(sys.stdout, env.color)
        con.print(diff_view(rep, original, quantized, con.width))
    else:
        from precli.stream.writers import write_table_rows

        recs = rep.records()
        if mode in ("csv", "plain"):
            recs = recs[:-1] + [{k: rep.summary.get(k) for k in DIFF_KEYS}]
        write_table_rows(sys.stdout, mode, DIFF_KEYS, recs)
    for e in rep.errors:
        error_line(e)
    if not rep.summary["tensors"]:  # every tensor unmatched or skipped: nothing was compared
        error_line(f"nothing compared: no tensor of {quantized} could be paired with one of "
                   f"{original} (each is listed with the reason)")
        return int(ExitStatus.DATA_ERROR)
    return int(ExitStatus.DATA_ERROR) if rep.errors else 0


def plan_command(req: PlanRequest, env: OutputEnv) -> int:
    """One recipe per tensor under a budget: analyze the checkpoint once, solve, write."""
    from precli.array.recipes import Defaults, parse_recipe
    from precli.cli.arrays import checkpoint_progress, stderr_tty
    from precli.cli.terminal import error_line, note_line
    from precli.model import plan as planmod
    from precli.model.analyze import analyze
    from precli.model.stats import resolve_recipes
    from precli.sources import open_checkpoint

    path, names, budget, keeps = req.path, list(req.names), req.budget, req.keeps
    objective, default_pins, offer_stored = req.objective, req.default_pins, req.offer_stored
    scheme, emit, mode, ckpt = req.scheme, req.emit, req.mode, req.ckpt
    defaults = Defaults(scheme=scheme)
    recipes = resolve_recipes(names, defaults)
    keep_rules = [planmod.parse_keep(k, lambda t: parse_recipe(t, defaults).text)
                  for k in keeps]
    if emit == "llama-quantize":
        planmod.check_ggml(recipes)
    ck = open_checkpoint(path)
    from precli.model.viewing import parse_view_rules

    kw: dict[str, Any] = dict(include=ckpt.include, exclude=ckpt.exclude, jobs=ckpt.jobs,
                              views=parse_view_rules(ckpt.views), small=True,
                              checkpoint=ck)
    if stderr_tty():
        report = checkpoint_progress(path, ck, recipes, kw, env)
    else:
        report = analyze(path, recipes, **kw)
    if report.errors:
        for e in report.errors:
            error_line(e)
        raise planmod.PlanError(f"cannot plan {path}: {len(report.errors)} tensor(s) or "
                                "file(s) could not be read (above); a plan must cover them all")
    if not report.tensors:
        raise no_tensor_matches(path)
    plan = planmod.make_plan(report, recipes, budget, keep_rules, objective, default_pins,
                             offer_stored)
    out = sys.stdout
    if mode == "table":
        from precli.cli import plan_view as render_plan
        from precli.cli.terminal import console

        con = console(out, env.color)
        con.print(render_plan.plan_view(plan, con.width))
        return 0
    _plan_notes(plan, note_line)
    if mode == "json":
        import json

        out.write(json.dumps(planmod.plan_record(plan), indent=2, ensure_ascii=False,
                             allow_nan=False) + "\n")
    elif mode in ("csv", "plain"):
        from precli.stream.writers import write_table_rows

        rows = planmod.plan_record(plan)["tensors"]
        keys = ("tensor", "recipe", "params", "bits_per_value", "sqnr_db", "dtype", "bits",
                "error", "pinned")
        if mode == "plain":
            for r in rows:
                out.write(f"{esc(r['tensor'])}\t{r['recipe']}\n")
        else:
            write_table_rows(out, "csv", keys, rows)
    elif emit == "yaml":
        out.write(planmod.yaml_map(plan))
    else:
        text, ragged = planmod.llama_quantize_args(plan, recipes)
        out.write(text)
        if report.kind != "gguf":
            note_line(f"the patterns match the tensor names of {path} ({report.kind}); "
                      "llama-quantize sees the names convert_hf_to_gguf.py gives them "
                      "(blk.N.attn_q.weight, ...): plan the converted F32/F16/BF16 .gguf for "
                      "arguments that match")
        if ragged:
            note_line(f"{len(ragged)} tensor(s) have rows that are not a multiple of 32 "
                      f"(e.g. {ragged[0]}): llama-quantize stores them in a fallback type")
    return 0


def _plan_notes(plan: Any, note: Any) -> None:
    """What was pinned and why, what was skipped, and a stopped search: one line each."""
    from collections import Counter

    why = Counter(r for _n, _c, r in plan.pins())
    for reason, n in why.items():
        note(f"pinned {n} tensor(s): {reason}")
    if plan.skipped:
        note(f"skipped {len(plan.skipped)} tensor(s) that cannot be cast (not in the plan)")
    s = plan.solution
    if not s.optimal:
        note(f"the search stopped after {s.nodes:,} states: the optimum is at least "
             f"{float(s.bound):.6g} (this plan: {float(s.objective):.6g})")
