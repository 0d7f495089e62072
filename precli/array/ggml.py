"""ggml's block types q8_0, q4_0, q4_1, q5_0, q5_1 and tq2_0 as precli quantizes them.

Each type stores blocks of consecutive values of a row (32; 256 for tq2_0): ggml's ne0,
the matrix view's columns. The arithmetic below is gguf-py's reference quantizer
(``gguf.quants``, the one ``convert_hf_to_gguf.py`` runs), step for step in float32, so
codes, fp16 scales and dequantized values are bit for bit those of
``gguf.quants.quantize`` then ``dequantize`` (``tests/test_ggml_recipes.py`` checks it).
The rules, all in float32 after casting the input to float32:

* q8_0: ``d = amax / 127``, ``q = round(x * (1/d))`` half away from zero, ``d`` stored fp16.
* q4_0 / q5_0: ``d = m / -8`` (``/ -16``) with ``m`` the signed value of largest magnitude
  (the first one on a tie), ``q = min(trunc(x * (1/d) + 8.5), 15)`` (``+ 16.5``, 31):
  the value opposite ``m`` of equal magnitude is clamped (counted as overflow).
* q4_1 / q5_1: ``d = (max - min) / 15`` (31), ``q = trunc((x - min) * (1/d) + 0.5)``,
  ``d`` and ``min`` stored fp16; the value is ``d * q + min``.
* tq2_0 (ternary, blocks of 256): ``d = amax``, ``q = round(x * (1/d))`` half away from
  zero, in {-1, 0, 1} stored as 2-bit codes ``q + 1``.

The quantizer uses the float32 ``d`` and the stored value the fp16 one, as gguf does. An
all-zero (or constant, for q4_1 / q5_1) block has ``1/d = 0``. A block holding a
non-finite value, or one past float32's range, is NaN throughout (ggml's result is
undefined there). Pure numpy, never prints.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

__all__ = ["GGML_TYPES", "GgmlBlocks", "ggml_blocks"]

#: type -> (element bits, bits of the per-block fp16 fields: d, or d and min, block size)
GGML_TYPES: dict[str, tuple[int, int, int]] = {
    "q8_0": (8, 16, 32), "q4_0": (4, 16, 32), "q4_1": (4, 32, 32), "q5_0": (5, 16, 32),
    "q5_1": (5, 32, 32), "tq2_0": (2, 16, 256),
}


class GgmlBlocks(NamedTuple):
    """codes: the stored element codes (q8_0's int8 as their uint8 bits) shaped like x;
    dequant: the values gguf dequantizes (float32, as float64; NaN throughout a NaN
    block); overflow: lanes clamped to the largest code; scales: each block's stored fp16
    ``d`` as float64, row by row (NaN for a NaN block)."""

    codes: npt.NDArray[np.uint8]
    dequant: npt.NDArray[np.float64]
    overflow: npt.NDArray[np.bool_]
    scales: npt.NDArray[np.float64]


def _round_away(n: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """gguf's np_roundf: round half away from zero, in float32."""
    a = np.abs(n)
    floored = np.floor(a)
    b = floored + np.floor(np.float32(2) * (a - floored))
    return np.asarray(np.sign(n) * b, np.float32)


def _inverse(d: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    with np.errstate(divide="ignore"):
        return np.asarray(np.where(d == 0, np.float32(0), np.float32(1) / d), np.float32)


def ggml_blocks(qtype: str, x: npt.NDArray[np.float64]) -> GgmlBlocks:
    """Quantize and dequantize a 2-D array whose rows hold whole blocks of the type."""
    if qtype not in GGML_TYPES:
        raise ValueError(f"unknown ggml type {qtype!r}")
    block = GGML_TYPES[qtype][2]
    rows, cols = x.shape
    if cols % block:
        raise ValueError(f"rows of {cols} values are not whole blocks of {block}")
    with np.errstate(over="ignore", invalid="ignore"):
        b = np.asarray(x, np.float64).astype(np.float32).reshape(-1, block)
    bad: npt.NDArray[np.bool_] = np.asarray(~np.isfinite(b).all(axis=1), np.bool_)
    if bad.any():
        b = np.where(bad[:, None], np.float32(0), b)
    over = np.zeros(b.shape, np.bool_)
    f32 = np.float32
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        if qtype == "q8_0":
            d = np.abs(b).max(axis=1, keepdims=True) / f32(127)
            q = _round_away(b * _inverse(d))
            codes = q.astype(np.int8).view(np.uint8)
            d16 = d.astype(np.float16).astype(np.float32)
            deq = q * d16
        elif qtype == "tq2_0":
            d = np.abs(b).max(axis=-1, keepdims=True)
            q = _round_away(b * _inverse(d))
            codes = (q.astype(np.int8) + np.int8(1)).astype(np.uint8)
            d16 = d.astype(np.float16).astype(np.float32)
            deq = d16 * (codes.astype(np.int8) - np.int8(1)).astype(np.float32)
        elif qtype in ("q4_0", "q5_0"):
            half = 8 if qtype == "q4_0" else 16
            top = 2 * half - 1
            imax = np.abs(b).argmax(axis=-1, keepdims=True)
            m = np.take_along_axis(b, imax, axis=-1)
            d = m / f32(-half)
            t = np.trunc(b * _inverse(d) + f32(half + 0.5), dtype=np.float32)
            over = t > top
            codes = t.astype(np.uint8).clip(0, top)
            d16 = d.astype(np.float16).astype(np.float32)
            deq = d16 * (codes.astype(np.int8) - np.int8(half)).astype(np.float32)
        else:
            top = 15 if qtype == "q4_1" else 31
            hi = b.max(axis=-1, keepdims=True)
            lo = b.min(axis=-1, keepdims=True)
            d = (hi - lo) / f32(top)
            t = np.trunc((b - lo) * _inverse(d) + f32(0.5), dtype=np.float32)
            over = t > top
            codes = t.astype(np.uint8).clip(0, top)
            d16 = d.astype(np.float16).astype(np.float32)
            m16 = lo.astype(np.float16).astype(np.float32)
            deq = (d16 * codes.astype(np.float32)) + m16
    deq64 = deq.astype(np.float64)
    scales = d16.reshape(-1).astype(np.float64)
    if bad.any():
        deq64[bad] = np.nan
        codes = np.where(bad[:, None], np.uint8(0), codes)
        over = over & ~bad[:, None]
        scales[bad] = np.nan
    return GgmlBlocks(np.asarray(codes, np.uint8).reshape(rows, cols), deq64.reshape(rows, cols),
                      np.asarray(over, np.bool_).reshape(rows, cols), scales)
