"""Decoders of GGUF's quantized block types, vectorized in numpy.

Each decoder takes whole blocks (``uint8[n_blocks, type_size]``) and returns their
elements as float32 (``[n_blocks, block_size]``). The arithmetic follows ggml's own
dequantization (ggml-org/ggml ``src/ggml-quants.c``, ``dequantize_row_*``) operation by
operation in float32, so the values are bit for bit those of the ``gguf`` package's
``gguf.quants.dequantize`` (the test oracle) and of llama.cpp: e.g. Q4_1 is
``float32(d * q) + m`` with two roundings, Q4_K is ``float32(d * sc) * q - float32(dmin *
m)``. A GGUF tensor's values *are* these float32 numbers; precli reads them exactly.

Block layouts (``ggml-common.h``; ``d`` / ``m`` / ``dmin`` are little-endian fp16):

* Q8_0 (32): d, 32 int8; x = q * d.
* Q4_0 (32): d, 16 bytes; element j < 16 is the low nibble of byte j, element 16 + j its
  high nibble; x = d * (q - 8).  Q4_1: d, m, the same nibbles; x = d * q + m.
* Q5_0 (32): d, a little-endian uint32 of high bits (bit j for element j), 16 bytes of low
  nibbles as Q4_0; x = d * ((lo | hi << 4) - 16).  Q5_1: d, m, the same; x = d * q + m.
* Q4_K (256): d, dmin, 12 bytes of eight 6-bit scales and mins, 128 bytes: chunk c (32
  bytes) holds sub-block 2c in its low nibbles and 2c + 1 in its high nibbles; x =
  (d * sc) * q - (dmin * m).  Q5_K: as Q4_K plus 32 bytes of high bits (bit s of byte j is
  the fifth bit of element j of sub-block s).
* Q6_K (256): 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 int8 scales, d;
  x = (d * scale) * (q - 32).
* MXFP4 (32): one E8M0 byte e, 16 bytes of e2m1 nibbles (element j < 16 low, 16 + j high);
  x = half(e) * kvalue(q), with ggml's doubled e2m1 table (0, 1, 2, 3, 4, 6, 8, 12 and their
  negatives, both zeros +0) and ``half(e) = 2^(e - 128)`` as float32 bits (e < 2: the
  subnormals 2^-128, 2^-127). ggml gives e = 0xff the finite value 2^127 (the OCP MX spec
  would say NaN); precli follows ggml here, as its readers do.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]

QK_K = 256


def _f16(b: U8) -> F32:
    """Little-endian fp16 stored in two bytes per row -> float32 column [n, 1]."""
    return np.ascontiguousarray(b).view("<f2").astype(np.float32).reshape(-1, 1)


def _nibbles32(qs: U8) -> U8:
    """16 bytes per row -> 32 nibbles: the low nibbles first, then the high ones."""
    return np.concatenate([qs & 15, qs >> 4], axis=1)


def q8_0(b: U8) -> F32:
    d = _f16(b[:, :2])
    x = np.ascontiguousarray(b[:, 2:]).view(np.int8).astype(np.float32)
    out: F32 = x * d
    return out


def q4_0(b: U8) -> F32:
    d = _f16(b[:, :2])
    q = _nibbles32(b[:, 2:18]).astype(np.float32) - np.float32(8)
    out: F32 = d * q
    return out


def q4_1(b: U8) -> F32:
    d, m = _f16(b[:, :2]), _f16(b[:, 2:4])
    q = _nibbles32(b[:, 4:20]).astype(np.float32)
    out: F32 = d * q + m
    return out


def _high_bits32(b: U8) -> U8:
    """4 bytes per row, a little-endian uint32 -> its 32 bits, bit j first."""
    words = np.ascontiguousarray(b).view("<u4").astype(np.uint32)  # [n, 1]
    bits: U8 = ((words >> np.arange(32, dtype=np.uint32)) & 1).astype(np.uint8)
    return bits


def q5_0(b: U8) -> F32:
    d = _f16(b[:, :2])
    q = _nibbles32(b[:, 6:22]) | (_high_bits32(b[:, 2:6]) << 4)
    out: F32 = d * (q.astype(np.float32) - np.float32(16))
    return out


def q5_1(b: U8) -> F32:
    d, m = _f16(b[:, :2]), _f16(b[:, 2:4])
    q = _nibbles32(b[:, 8:24]) | (_high_bits32(b[:, 4:8]) << 4)
    out: F32 = d * q.astype(np.float32) + m
    return out


def _scale_min_k4(s: U8) -> tuple[U8, U8]:
    """12 bytes per row -> eight 6-bit scales and eight 6-bit mins (get_scale_min_k4)."""
    a, m, hi = s[:, 0:4], s[:, 4:8], s[:, 8:12]
    sc = np.concatenate([a & 63, (hi & 15) | ((a >> 6) << 4)], axis=1)
    mn = np.concatenate([m & 63, (hi >> 4) | ((m >> 6) << 4)], axis=1)
    return sc, mn


def _k_low(qs: U8) -> U8:
    """128 bytes per row -> 8 sub-blocks of 32 nibbles ([n, 8, 32])."""
    c = qs.reshape(-1, 4, 1, 32)
    out: U8 = np.concatenate([c & 15, c >> 4], axis=2).reshape(-1, 8, 32)
    return out


def q4_k(b: U8) -> F32:
    d, dmin = _f16(b[:, :2]), _f16(b[:, 2:4])
    sc, mn = _scale_min_k4(b[:, 4:16])
    dl = (d * sc.astype(np.float32))[:, :, None]
    ml = (dmin * mn.astype(np.float32))[:, :, None]
    q = _k_low(b[:, 16:144]).astype(np.float32)
    out: F32 = (dl * q - ml).reshape(-1, QK_K)
    return out


def q5_k(b: U8) -> F32:
    d, dmin = _f16(b[:, :2]), _f16(b[:, 2:4])
    sc, mn = _scale_min_k4(b[:, 4:16])
    dl = (d * sc.astype(np.float32))[:, :, None]
    ml = (dmin * mn.astype(np.float32))[:, :, None]
    qh = b[:, 16:48][:, None, :] >> np.arange(8, dtype=np.uint8)[None, :, None]  # [n, 8, 32]
    q = (_k_low(b[:, 48:176]) | ((qh & 1) << 4)).astype(np.float32)
    out: F32 = (dl * q - ml).reshape(-1, QK_K)
    return out


def q6_k(b: U8) -> F32:
    ql, qh, sc = b[:, :128], b[:, 128:192], b[:, 192:208]
    d = _f16(b[:, 208:210])
    dl = (d * np.ascontiguousarray(sc).view(np.int8).astype(np.float32))[:, :, None]
    l4 = ql.reshape(-1, 2, 1, 64)
    lo: U8 = np.concatenate([l4 & 15, l4 >> 4], axis=2).reshape(-1, 8, 32)
    h4 = qh.reshape(-1, 2, 1, 32) >> np.array([0, 2, 4, 6], np.uint8).reshape(1, 1, 4, 1)
    hi: U8 = (h4 & 3).reshape(-1, 8, 32).astype(np.uint8)
    q = ((lo | (hi << 4)).astype(np.float32) - np.float32(32)).reshape(-1, 16, 16)
    out: F32 = (dl * q).reshape(-1, QK_K)
    return out


_MXFP4_K = np.array([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12], np.float32)


def mxfp4(b: U8) -> F32:
    e = b[:, :1].astype(np.uint32)
    bits = np.where(e < 2, np.uint32(0x00200000) << e, (e - 1) << np.uint32(23))
    d = bits.astype(np.uint32).view(np.float32)
    q = _MXFP4_K[_nibbles32(b[:, 1:17])]
    out: F32 = d * q
    return out


DECODERS: dict[str, Callable[[U8], F32]] = {
    "Q8_0": q8_0, "Q4_0": q4_0, "Q4_1": q4_1, "Q5_0": q5_0, "Q5_1": q5_1,
    "Q4_K": q4_k, "Q5_K": q5_k, "Q6_K": q6_k, "MXFP4": mxfp4,
}  # fmt: skip
