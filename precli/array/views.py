"""The matrix view of a tensor: ``[outputs, reduction]``, the way a runtime multiplies it.

A weight of any rank is seen as a matrix whose rows are what a kernel loops over (output
channels, experts, tokens of an embedding) and whose columns are what one dot product sums
over. Channel scales run along the rows, groups and blocks along the columns, as every
quantizer does. A :class:`View` names the stored axes of each side, so the same bytes can be
seen as PyTorch's ``Linear`` ``[out, in]`` (no reordering), ONNX ``MatMul``'s ``[K, N]``
(transposed) or a conv kernel ``[out, in, kh, kw]`` (everything after the first axis summed).

No numpy at load: readers attach views while parsing headers.
"""

from __future__ import annotations

import math
import re
from typing import Any, NamedTuple

from precli.errors import UsageError

__all__ = ["KERNEL_MAX", "View", "guess_view", "last_axis", "parse_axes", "view_of_axis"]

#: trailing dimensions at most this long, after [out, in], read as a conv kernel's window
KERNEL_MAX = 16


class View(NamedTuple):
    """``rows``: axes (in order) whose product is the number of rows; ``cols``: the axes one
    dot product sums over. Together they are a permutation of the axes of the
    :meth:`working` shape: the stored shape, or, when ``split`` > 1, the stored shape with
    its first axis split into (``split``, rest) -- a grouped ``ConvTranspose`` kernel
    ``[C, M/g, k...]`` is ``[g, C/g, M/g, k...]``, whose rows are (g, M/g) and whose
    columns are (C/g, k...). ``source`` says what decided it (``onnx MatMul``,
    ``pytorch conv``, ``user``...)."""

    rows: tuple[int, ...]
    cols: tuple[int, ...]
    source: str
    split: int = 1

    def working(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape the axes of ``rows`` and ``cols`` refer to."""
        if self.split == 1 or not shape:
            return shape
        return (self.split, shape[0] // self.split) + tuple(shape[1:])

    def matrix(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """(rows, columns) of a tensor of this shape."""
        if not shape:
            return 1, 1
        w = self.working(shape)
        return math.prod(w[a] for a in self.rows), math.prod(w[a] for a in self.cols)

    @property
    def order(self) -> tuple[int, ...]:
        """The stored axes in view order (rows first): a transpose of the stored array."""
        return self.rows + self.cols

    @property
    def in_place(self) -> bool:
        """True when the view is a plain reshape of the stored row-major data."""
        return self.order == tuple(range(len(self.order)))

    def describe(self, shape: tuple[int, ...]) -> list[int]:
        """``[rows, cols]`` as records print it."""
        r, c = self.matrix(shape)
        return [r, c]

    def arranged(self, arr: Any) -> Any:
        """An array of the stored shape with its axes in view order (rows first): itself
        when the view is a plain reshape, else a transposed view of it (a numpy array's
        own methods: no numpy import here)."""
        if self.in_place:
            return arr
        return arr.reshape(self.working(arr.shape)).transpose(self.order)

    def fits(self, shape: tuple[int, ...]) -> bool:
        """Does it name every axis of a tensor of this shape once (and split its first
        axis evenly)?"""
        if self.split > 1 and (not shape or shape[0] % self.split):
            return False
        return sorted(self.order) == list(range(len(shape) + (self.split > 1)))


def last_axis(ndim: int, source: str = "last axis") -> View:
    """Reduce over the last stored axis (PyTorch ``Linear``, embeddings, GGUF's ``ne0``)."""
    if ndim == 0:
        return View((), (), source)
    return View(tuple(range(ndim - 1)), (ndim - 1,), source)


def view_of_axis(ndim: int, axis: int, source: str = "axis") -> View:
    """Reduce over one stored axis (``--axis`` of a single array); the rest are rows."""
    a = axis % ndim
    return View(tuple(d for d in range(ndim) if d != a), (a,), source)


def guess_view(name: str, shape: tuple[int, ...]) -> View:
    """The view of a tensor with no graph to say how it is used, by PyTorch's conventions:
    ``Linear`` ``[out, in]`` and embeddings reduce over the last axis; stacked experts
    ``[E, out, in]`` keep ``E * out`` rows; a conv kernel ``[out, in, k...]`` (every
    trailing dimension at most :data:`KERNEL_MAX`) sums over everything after the first
    axis."""
    nd = len(shape)
    if nd >= 3 and "expert" not in name.lower() and all(
            0 < d <= KERNEL_MAX for d in shape[2:]):
        return View((0,), tuple(range(1, nd)), "pytorch conv")
    if nd >= 3:
        return last_axis(nd, "pytorch stacked")
    return last_axis(nd, "pytorch linear" if nd == 2 else "1-D")


_AXES = re.compile(r"^\s*(\d+(?:\s*,\s*\d+)*)?\s*:\s*(\d+(?:\s*,\s*\d+)*)\s*$")


def parse_axes(text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``ROWS:COLS`` stored-axis lists, e.g. ``1:0`` (a ``[K, N]`` weight) or ``0:1,2,3``
    (a conv kernel); rows may be empty (``:0``, a 1-D tensor)."""
    m = _AXES.match(text)
    if m is None:
        raise UsageError(f"view {text!r}: expected ROWS:COLS, comma-separated axis numbers "
                         "(e.g. 1:0 or 0:1,2,3)")
    rows = tuple(int(x) for x in m.group(1).split(",")) if m.group(1) else ()
    cols = tuple(int(x) for x in m.group(2).split(","))
    if len(set(rows + cols)) != len(rows + cols):
        raise UsageError(f"view {text!r}: an axis is named twice")
    return rows, cols
