"""What a format is: ``info``, and ``compare`` of format names side by side."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from precli.cli.options import InfoRequest
from precli.cli.terminal import OutputEnv, console

if TYPE_CHECKING:
    from precli.core.formats import BlockFormat, Format


def run_info(req: InfoRequest, env: OutputEnv) -> None:
    from precli.core import values as analysis
    from precli.stream.writers import FORMAT_CODE_KEYS, code_record, write_table_rows

    if req.blocks:
        _info_blocks(list(req.blocks), req.mode, env, overview=req.overview)
        return
    fmts = list(req.formats)
    values = req.values
    listings = {f.name: analysis.code_listing(f) for f in fmts} if values else {}
    out = sys.stdout
    mode = req.mode
    if mode == "table":
        from precli.cli import views as render

        con = console(out, env.color)
        if not req.named and not values:
            from precli.core.formats import block_formats

            con.print(render.overview_table(fmts, con.width))
            con.print()
            con.print(render.block_overview_table(block_formats(), con.width))
        for f in fmts if req.named or values else []:
            con.print(render.format_detail(f))
            if values:
                con.print(render.values_table(f, listings[f.name]))
            con.print()
        return
    if values:
        rows = [code_record(i) for f in fmts for i in listings[f.name]]
        if mode == "json":
            objs = []
            for f in fmts:
                rec = analysis.format_record(f)
                rec["values"] = [code_record(i) for i in listings[f.name]]
                objs.append(rec)
            write_table_rows(out, "json", (), objs, single=len(fmts) == 1)
        else:
            write_table_rows(out, mode, FORMAT_CODE_KEYS, rows)
        return
    write_table_rows(out, mode, analysis.FORMAT_KEYS, [analysis.format_record(f) for f in fmts],
                     single=req.named and len(fmts) == 1)


def _info_blocks(blocks: list[BlockFormat], mode: str, env: OutputEnv,
                 overview: bool = False) -> None:
    from precli.core.values import BLOCK_KEYS, block_record
    from precli.stream.writers import write_table_rows

    if mode == "table":
        from precli.cli import views as render

        con = console(sys.stdout, env.color)
        if overview:
            con.print(render.block_overview_table(blocks, con.width))
            return
        for b in blocks:
            con.print(render.block_detail(b, block_record(b)))
            con.print()
        return
    write_table_rows(sys.stdout, mode, BLOCK_KEYS, [block_record(b) for b in blocks],
                     single=len(blocks) == 1 and not overview)


def compare_formats(fmts: list[Format], env: OutputEnv, output: str | None) -> None:
    """Formats side by side (``compare fp16 bf16 tf32``), with the notes that tell them
    apart."""
    from precli.core import values as analysis
    from precli.stream.writers import dumps, write_table_rows

    notes = analysis.format_notes(fmts)
    mode = env.resolve_output(output, ("table", "json", "csv", "plain", "ndjson"))
    if mode == "table":
        from precli.cli import views as render

        con = console(sys.stdout, env.color)
        con.print(render.compare_formats_view(fmts, notes, con.width))
        return
    recs = [analysis.format_record(f) for f in fmts]
    if mode == "json":
        import json

        sys.stdout.write(json.dumps({"formats": recs, "notes": notes}, indent=2,
                                    ensure_ascii=False) + "\n")
    elif mode == "ndjson":
        for r in recs:
            sys.stdout.write(dumps(r) + "\n")
    else:
        write_table_rows(sys.stdout, mode, analysis.FORMAT_KEYS, recs)
