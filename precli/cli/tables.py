"""Per-tensor tables (``precli plan``, ``precli diff``) that fit the terminal: the tensor
name is always shown, folded onto more lines when it is long; every other column is shown
whole or dropped, by priority (views.fit_columns), and a footnote names what was dropped.
Never prints."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.text import Text

from precli.cli.views import dropped_note, fit_columns, new_table

if TYPE_CHECKING:
    from rich.table import Table

Cell = str | Text

#: the narrowest the tensor column is squeezed to before other columns are dropped
NAME_MIN = 20


def title_text(title: str) -> Text:
    """A table's title as its own line(s): wrapped at the terminal's width between words,
    not at the table's (a narrow table would fold it inside a word)."""
    return Text(title, style="table.title")


def short_path(path: str, width: int) -> str:
    """The path, or only its file name when the whole path is wider than the terminal."""
    return path if len(path) <= width else os.path.basename(path.rstrip("/\\")) or path


def tensor_table(title: str | None, columns: Sequence[tuple[str, str, str]],
                 rows: Sequence[Sequence[Cell]], drop: Sequence[str], width: int
                 ) -> list[RenderableType]:
    """Title, table, footnote. columns: (name, header, justify), the first the tensor name;
    rows: one cell per column; drop: the names of the columns that may go, first to go
    first (the footnote says these names). Columns are dropped while the table does not fit
    with the names folded onto two lines (at most; NAME_MIN columns at least); when it fits,
    the names get whatever width is left."""
    longest = max((len(str(r[0])) for r in rows), default=0)
    squeeze = max(min(longest, max(NAME_MIN, -(-longest // 2))), len(columns[0][1]))
    keys = [k for k, _h, _j in columns]

    def build(shown: list[str], name_width: int | None = squeeze) -> Table:
        t = new_table(box="simple_head", pad_edge=False, collapse_padding=True)
        idx = [keys.index(k) for k in shown]
        for i in idx:
            _k, h, j = columns[i]
            if i == 0:
                t.add_column(h, overflow="fold", width=name_width)
            else:
                t.add_column(h, justify=j, no_wrap=True)  # type: ignore[arg-type]
        for r in rows:
            t.add_row(*(r[i] for i in idx))
        return t

    _t, hidden = fit_columns(build, keys, drop, width)
    parts: list[RenderableType] = [] if title is None else [title_text(title)]
    parts.append(build([k for k in keys if k not in hidden], None))
    if hidden:
        parts.append(dropped_note(hidden))
    return parts
