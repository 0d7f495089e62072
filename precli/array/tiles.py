"""Walking an array (in memory or memory-mapped) in row-major pieces of bounded size."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from precli.errors import UsageError

__all__ = ["CHUNK", "iter_blocks"]

CHUNK = 1 << 15


def iter_blocks(
    a: npt.NDArray[Any], *, axis: int | None = None, chunk_size: int = CHUNK
) -> Iterator[tuple[npt.NDArray[Any], npt.NDArray[np.intp] | None]]:
    """Walk an array (in memory or memory-mapped) in row-major order, in pieces of at most
    ``chunk_size`` elements (or one run of the last axis when a single run is longer).

    Yields ``(piece, channel)``: a view of the array, and, when ``axis`` is given, an
    index array broadcastable to the piece holding each element's index along ``axis``
    (None otherwise). Pieces are consecutive in the flattened order, so block formats
    can consume them as a stream."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    shape = a.shape
    nd = a.ndim
    if nd == 0:
        if axis is not None:
            raise UsageError("a 0-dimensional array has no axis to take channels along")
        yield a.reshape(1), None
        return
    ax = None if axis is None else axis % nd
    k = nd  # index the first k dims ... find the fewest leaving pieces <= chunk_size
    while k > 0 and math.prod(shape[k - 1 :]) <= chunk_size:
        k -= 1
    if k == 0:
        yield a, (None if ax is None else _channel_range(0, shape[ax], ax, nd))
        return
    d = k - 1  # the dimension cut into runs
    step = max(1, chunk_size // math.prod(shape[k:]))
    for idx in np.ndindex(*shape[:d]):
        for j0 in range(0, shape[d], step):
            j1 = min(j0 + step, shape[d])
            piece = a[(*idx, slice(j0, j1))]
            ch: npt.NDArray[np.intp] | None
            if ax is None:
                ch = None
            elif ax < d:
                ch = np.asarray(idx[ax], dtype=np.intp)
            elif ax == d:
                ch = _channel_range(j0, j1, 0, nd - d)
            else:
                ch = _channel_range(0, shape[ax], ax - d, nd - d)
            yield piece, ch




def _channel_range(lo: int, hi: int, dim: int, ndim: int) -> npt.NDArray[np.intp]:
    shape = [1] * ndim
    shape[dim] = hi - lo
    return np.arange(lo, hi, dtype=np.intp).reshape(shape)
