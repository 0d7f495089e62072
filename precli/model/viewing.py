"""Which matrix view each tensor of a checkpoint is compared in.

The evidence, best first: a user rule (``REGEX=ROWS:COLS``, the first rule whose regular
expression is found in the tensor's name), what the file says (an ONNX graph's use of the
tensor, GGUF's ``ne0``: :attr:`precli.sources.Tensor.view`), then PyTorch's conventions by
name and shape (:func:`precli.array.views.guess_view`). Pure: the CLI parses its option
into rules with :func:`parse_view_rules`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from precli.array.views import View, guess_view, parse_axes
from precli.errors import UsageError
from precli.model.pool import name_pattern
from precli.sources import Tensor

__all__ = ["ViewRule", "parse_view_rules", "tensor_view"]

ViewRule = tuple[re.Pattern[str], tuple[int, ...], tuple[int, ...], str]


def parse_view_rules(texts: Sequence[str]) -> list[ViewRule]:
    """``REGEX=ROWS:COLS`` texts (e.g. ``conv_t=1:0,2,3``), in order."""
    rules: list[ViewRule] = []
    for text in texts:
        pat, eq, axes = text.rpartition("=")
        if not eq or not pat:
            raise UsageError(f"view rule {text!r}: expected REGEX=ROWS:COLS "
                             "(e.g. 'proj=1:0' for a [K, N] weight)")
        rx = name_pattern(pat, "views")
        rows, cols = parse_axes(axes)
        rules.append((rx, rows, cols, text))
    return rules


def tensor_view(t: Tensor, rules: Sequence[ViewRule] = ()) -> View:
    """The view a tensor is compared in (see the module docstring)."""
    nd = len(t.shape)
    for rx, rows, cols, text in rules:
        if rx.search(t.name) is None:
            continue
        v = View(rows, cols, "user")
        if not v.fits(t.shape):
            raise UsageError(f"view rule {text!r} does not fit tensor {t.name!r} of "
                             f"{nd} dimension(s) {list(t.shape)}: name each of its axes "
                             f"0..{nd - 1} once")
        return v
    if t.view is not None and t.view.fits(t.shape):
        return t.view
    return guess_view(t.name, t.shape)
