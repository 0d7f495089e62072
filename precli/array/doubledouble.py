"""Error-free transformations of float64 numbers (Dekker, Knuth, Veltkamp), on numpy arrays
or Python floats alike: the double-double arithmetic of the vectorized text paths."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["SPLIT", "dd_div", "quick_two_sum", "split", "two_prod", "two_sum"]

F64 = npt.NDArray[np.float64]
T = TypeVar("T", F64, float)

SPLIT = 134217729.0  # 2^27 + 1, Veltkamp's constant for float64


def two_sum(a: T, b: T) -> tuple[T, T]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def quick_two_sum(a: T, b: T) -> tuple[T, T]:
    s = a + b
    return s, b - (s - a)


def split(a: T) -> tuple[T, T]:
    t = SPLIT * a
    hi = t - (t - a)
    return hi, a - hi


def two_prod(a: T, b: T) -> tuple[T, T]:
    p = a * b
    ah, al = split(a)
    bh, bl = split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def dd_div(ah: T, al: T, bh: T, bl: T) -> tuple[T, T]:
    q1 = ah / bh
    p, pe = two_prod(q1, bh)
    pe = pe + q1 * bl
    rh, rl = two_sum(ah, -p)
    rl = rl + (al - pe)
    q2 = (rh + rl) / bh
    return quick_two_sum(q1, q2)
