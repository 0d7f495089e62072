"""Magnitude histograms of arrays (log2 bins) and where formats cover them; no printing."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from precli.core.exact import floor_log2
from precli.core.formats import FloatFormat, Format, IntFormat, TableFormat


class MagnitudeHistogram:
    """Counts of finite nonzero |x| per binade [2^k, 2^(k+1)), plus zeros and non-finite."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.zeros = 0
        self.nonfinite = 0

    def add(self, x: npt.ArrayLike) -> None:
        a = np.asarray(x, dtype=np.float64).reshape(-1)
        finite = np.isfinite(a)
        self.nonfinite += int((~finite).sum())
        a = np.abs(a[finite])
        nz = a != 0
        self.zeros += int((~nz).sum())
        if not nz.any():
            return
        _, e = np.frexp(a[nz])  # a = m * 2^e with m in [0.5, 1): floor(log2 a) = e - 1
        k = e.astype(np.int64) - 1
        lo = int(k.min())
        for off, c in enumerate(np.bincount(k - lo).tolist()):
            if c:
                self.counts[lo + off] = self.counts.get(lo + off, 0) + c

    @property
    def total(self) -> int:
        return sum(self.counts.values()) + self.zeros + self.nonfinite


class Coverage(NamedTuple):
    """A format's reach in binades: subnormals from sub_lo, normals from normal_lo to top."""

    name: str
    sub_lo: int | None  # floor(log2 smallest subnormal), or None
    normal_lo: int  # floor(log2 smallest normal) (or of the smallest nonzero value)
    top: int  # floor(log2 max): values in binades above overflow


def coverage(fmt: Format) -> Coverage:
    if isinstance(fmt, FloatFormat):
        sub = fmt.smallest_subnormal
        return Coverage(fmt.name, None if sub is None else floor_log2(sub),
                        floor_log2(fmt.smallest_normal), floor_log2(fmt.max))
    if isinstance(fmt, IntFormat):
        return Coverage(fmt.name, None, 0, floor_log2(fmt.max))
    assert isinstance(fmt, TableFormat)
    smallest = min(abs(v) for v in fmt.values if v != 0)
    return Coverage(fmt.name, None, floor_log2(smallest), floor_log2(max(abs(v) for v in
                                                                          fmt.values)))


def cell(cov: Coverage, k: int) -> str:
    """'normal', 'subnormal', 'underflow' or 'overflow' for binade k in a format."""
    if k > cov.top:
        return "overflow"
    if k >= cov.normal_lo:
        return "normal"
    if cov.sub_lo is not None and k >= cov.sub_lo:
        return "subnormal"
    return "underflow"
