"""Reading a per-tensor table (``precli plan``, ``precli diff``) back out of its printed
text, to check it against the same command's JSON: column headers, the cells of each row
(a folded tensor name joined again), the footnote of dropped columns; and running precli
on a pseudo-terminal of a given width. A plain module for the tests; imports no precli."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cli_corpus import read_master

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
CELL = re.compile(r"\S+(?: \S+)*")  # cells are separated by two spaces or more
FOOTNOTE = re.compile(r"^not shown at this width: (.*?) \(widen the terminal, or use "
                      r"--output json\)")


def plain(text: str) -> str:
    """The text without colour codes and carriage returns (a terminal writes \\r\\n)."""
    return ANSI.sub("", text).replace("\r", "")


def too_wide(text: str, width: int) -> list[str]:
    """The lines longer than width terminal cells."""
    from rich.cells import cell_len

    return [line for line in plain(text).splitlines() if cell_len(line) > width]


@dataclass
class Table:
    headers: list[str]  # shown, in order (the pin column's empty header: "")
    rows: list[dict[str, str]] = field(default_factory=list)  # header -> cell text
    dropped: list[str] = field(default_factory=list)  # from the footnote, in its order


def parse_table(text: str, headers: Sequence[str]) -> Table:
    """The first table whose header line starts with headers[0]; headers: every header the
    table can have (a "" for an unnamed column). Each cell is placed by its edges: a
    left-justified cell starts where its header starts, a right-justified one ends where its
    header ends; a line with only the first column continues the name above (folded)."""
    lines = plain(text).splitlines()
    top = next((i for i, line in enumerate(lines) if line.split()[:1] == [headers[0]]), None)
    assert top is not None, f"no table headed {headers[0]!r} (the column was dropped)"
    assert lines[top + 1].strip().startswith("─"), lines[top + 1]
    spans = {}
    for m in CELL.finditer(lines[top]):
        assert m.group() in headers, f"unknown header {m.group()!r} in {lines[top]!r}"
        spans[m.group()] = (m.start(), m.end())
    shown = sorted(spans, key=lambda h: spans[h][0])
    t = Table(headers=shown + ([""] if "" in headers else []))
    end = top + 2
    first = spans[headers[0]][0]
    for line in lines[top + 2:]:
        if not line.strip():
            break
        end += 1
        cells = list(CELL.finditer(line))
        if len(cells) == 1 and cells[0].start() == first and t.rows:  # a folded name
            t.rows[-1][headers[0]] += cells[0].group()
            continue
        row: dict[str, str] = {}
        for m in cells:
            h = next((h for h in shown if spans[h][0] == m.start() or spans[h][1] == m.end()),
                     "")
            assert h not in row, f"two cells under {h!r} in {line!r}"
            row[h] = m.group()
        assert headers[0] in row, f"a row without its name: {line!r}"
        t.rows.append(row)
    if "" in headers and not any("" in r for r in t.rows):
        t.headers.remove("")
    after = " ".join(x.strip() for x in lines[end + 1:end + 4])
    m = FOOTNOTE.match(after)
    if m:
        t.dropped = m.group(1).split(", ")
    return t


def number(cell: str) -> float:
    """A printed number: 1,024 -> 1024.0, 99.50% -> 99.5, 1.5e+04 -> 15000.0; anything
    else (an ellipsis, a cut exponent) raises ValueError."""
    return float(cell.replace(",", "").removesuffix("%"))


def run_on_tty(argv: Sequence[str], cwd: Path, width: int, env: dict[str, str] | None = None
               ) -> tuple[str, int]:
    """``python -m precli ARGV`` with stdout on a pseudo-terminal `width` columns wide (no
    COLUMNS: the width is the terminal's); what it wrote and its exit status."""
    import fcntl
    import pty
    import termios

    full = {k: v for k, v in os.environ.items()
            if k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TERM")}
    full.update(TERM="xterm-256color", PYTHONIOENCODING="utf-8", **(env or {}))
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, width, 0, 0))
    try:
        p = subprocess.Popen([sys.executable, "-m", "precli", *argv], cwd=cwd, env=full,
                             stdin=subprocess.DEVNULL, stdout=slave,
                             stderr=subprocess.DEVNULL)
    finally:
        os.close(slave)
    try:
        out = read_master(master, 120)
        rc = p.wait(timeout=120)
    finally:
        os.close(master)
    return out.decode("utf-8"), rc
