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
* Q2_K (256): 16 bytes of 4-bit scale (low) and min (high), 64 bytes of 2-bit codes (chunk
  c of 32 bytes holds four runs of 32 at shifts 0, 2, 4, 6), d, dmin; x = (d * sc) * q -
  (dmin * m) per sub-block of 16.  Q3_K (256): 32 bytes of high bits, 64 bytes of 2-bit
  codes, 12 bytes of sixteen 6-bit scales (minus 32), d; x = (d * sc) * (q - 4 * !hbit).
* TQ1_0 (256): 48 bytes of five base-3 digits each (ggml's fixed-point packing), 4 bytes of
  four, d; x = d * (t - 1).  TQ2_0: 64 bytes of 2-bit codes as Q2_K, d; x = d * (q - 1).
* IQ4_NL (32): d, nibbles as Q4_0; x = d * kvalues_iq4nl[q].  IQ4_XS (256): d, a uint16 of
  high scale bits, 4 bytes of low scale nibbles, 128 bytes of nibbles (16 per sub-block);
  x = (d * (sc - 32)) * kvalues_iq4nl[q].
* NVFP4 (64): four UE4M3 scale bytes (one per 16 elements, halved for the doubled e2m1
  table; decoded as the ``gguf`` package does: 0x7f is 0, bit 7 is ignored), 32 bytes of
  e2m1 nibbles (per 16: 8 low nibbles, then 8 high).
* IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M (256): indices into ggml's lattice
  tables (precli/sources/ggml_grids.py) with sign bits (IQ2_XXS / IQ2_XS / IQ3_XXS through
  ksigns_iq2xs) or a +-1/8 delta (IQ1); the scale of a sub-block is d * (0.5 + s) / 4 (IQ2),
  d * (0.5 + s) / 2 (IQ3_XXS), d * (1 + 2s) (IQ3_S) or d * (2s + 1) (IQ1; IQ1_M keeps its
  fp16 d in the top nibbles of its four scale words).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


def q2_k(b: U8) -> F32:
    sc, qs = b[:, :16], b[:, 16:80]
    d, dmin = _f16(b[:, 80:82]), _f16(b[:, 82:84])
    dl = (d * (sc & 15).astype(np.float32))[:, :, None]
    ml = (dmin * (sc >> 4).astype(np.float32))[:, :, None]
    q = _crumbs(qs).reshape(-1, 16, 16).astype(np.float32)
    out: F32 = (dl * q - ml).reshape(-1, QK_K)
    return out


def _crumbs(qs: U8) -> U8:
    """32k bytes per row -> 2-bit fields: chunk c of 32 bytes gives 4 runs of 32 (shift 0,
    2, 4, 6), [n, 128k]."""
    c = qs.reshape(qs.shape[0], -1, 1, 32) >> np.array([0, 2, 4, 6], np.uint8)[:, None]
    out: U8 = (c & np.uint8(3)).reshape(qs.shape[0], -1)
    return out


def q3_k(b: U8) -> F32:
    hmask, qs, s, d = b[:, :32], b[:, 32:96], b[:, 96:108], _f16(b[:, 108:110])
    lo = np.concatenate([s[:, :8] & 15, s[:, :8] >> 4], axis=1)  # [n, 16]
    hi = (s[:, 8:12][:, None, :] >> np.array([0, 2, 4, 6], np.uint8)[:, None]).reshape(-1, 16)
    sc = ((lo | ((hi & 3) << 4)).astype(np.int8) - np.int8(32)).astype(np.float32)
    dl = (d * sc)[:, :, None]
    h = (hmask[:, None, :] >> np.arange(8, dtype=np.uint8)[:, None]) & 1  # [n, 8, 32]
    q = _crumbs(qs).astype(np.int8) - ((h.reshape(-1, QK_K) ^ 1) << 2).astype(np.int8)
    out: F32 = (dl * q.astype(np.float32).reshape(-1, 16, 16)).reshape(-1, QK_K)
    return out


#: kvalues_iq4nl (ggml-common.h)
IQ4NL_K = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113],
                   np.float32)


def iq4_nl(b: U8) -> F32:
    d = _f16(b[:, :2])
    out: F32 = d * IQ4NL_K[_nibbles32(b[:, 2:18])]
    return out


def iq4_xs(b: U8) -> F32:
    d = _f16(b[:, :2])
    sh = np.ascontiguousarray(b[:, 2:4]).view("<u2").astype(np.uint16)  # [n, 1]
    hi = ((sh >> np.arange(0, 16, 2, dtype=np.uint16)) & 3).astype(np.uint8)  # [n, 8]
    sl = b[:, 4:8]
    lo = np.stack([sl & 15, sl >> 4], axis=2).reshape(-1, 8)
    sc = ((lo | (hi << 4)).astype(np.int8) - np.int8(32)).astype(np.float32)
    dl = (d * sc)[:, :, None]
    q = _nibbles32(b[:, 8:136].reshape(-1, 16)).reshape(-1, 8, 32)
    out: F32 = (dl * IQ4NL_K[q]).reshape(-1, QK_K)
    return out


def tq1_0(b: U8) -> F32:
    qs, qh, d = b[:, :48], b[:, 48:52], _f16(b[:, 52:54])
    pow3 = np.array([1, 3, 9, 27, 81], np.uint8)[:, None]
    q0 = (qs[:, None, :32] * pow3).reshape(-1, 160)  # uint8 products wrap, as in ggml
    q1 = (qs[:, None, 32:48] * pow3).reshape(-1, 80)
    q2 = (qh[:, None, :] * pow3[:4]).reshape(-1, 16)
    q = np.concatenate([q0, q1, q2], axis=1).astype(np.uint16)
    t = ((q * 3) >> 8).astype(np.int8) - np.int8(1)
    out: F32 = d * t.astype(np.float32)
    return out


def tq2_0(b: U8) -> F32:
    d = _f16(b[:, 64:66])
    q = _crumbs(b[:, :64]).astype(np.int8) - np.int8(1)
    out: F32 = d * q.astype(np.float32)
    return out


def _ue4m3_table() -> F32:
    """NVFP4's scale byte -> float32, halved (ggml's doubled-kvalues convention); as the
    gguf package decodes it: bits 3-6 exponent (bias 7), 0-2 mantissa, bit 7 ignored, 0x7f
    (E4M3's NaN) -> 0."""
    x = np.arange(256, dtype=np.uint32)
    e = ((x >> 3) & 15).astype(np.float32)
    m = (x & 7).astype(np.float32)
    raw = np.where(e == 0, m * np.float32(2.0**-9),
                   (np.float32(1) + m / np.float32(8)) * np.exp2(e - np.float32(7)))
    out: F32 = np.where((x == 0) | (x == 0x7F), np.float32(0), raw * np.float32(0.5))
    return out.astype(np.float32)


_UE4M3 = _ue4m3_table()


def nvfp4(b: U8) -> F32:
    d = _UE4M3[b[:, :4]][:, :, None]  # [n, 4, 1]
    q = b[:, 4:36].reshape(-1, 4, 8)
    k = _MXFP4_K[np.concatenate([q & 15, q >> 4], axis=2)]  # [n, 4, 16]
    out: F32 = (d * k).reshape(-1, 64)
    return out


def _grid(name: str) -> F32:
    """One of ggml's IQ lattices (precli/sources/ggml_grids.py) as float32 [rows, k]."""
    got = _GRIDS.get(name)
    if got is None:
        from precli.sources import ggml_grids

        data = bytes.fromhex("".join(getattr(ggml_grids, name)))
        shape = getattr(ggml_grids, f"{name}_SHAPE")
        dtype = np.int8 if name == "IQ1S_GRID" else np.uint8
        got = np.frombuffer(data, dtype).reshape(shape).astype(np.float32)
        _GRIDS[name] = got
    return got


_GRIDS: dict[str, F32] = {}


def _bits8(x: U8) -> U8:
    """Bytes [..., m] -> their bits, bit 0 first, [..., m * 8]."""
    bits: U8 = (x[..., None] >> np.arange(8, dtype=np.uint8)) & np.uint8(1)
    return bits.reshape(*x.shape[:-1], -1)


def _ksigns(idx: npt.NDArray[np.integer[Any]]) -> F32:
    """7-bit sign indices [...] -> eight signs (+1 / -1) each, [..., 8] (ksigns_iq2xs)."""
    table = _grid("KSIGNS").astype(np.uint8).reshape(-1)
    out: F32 = np.where(_bits8(table[idx][..., None]) == 0, np.float32(1), np.float32(-1))
    return out


def _signs(b: U8) -> F32:
    """Explicit sign bytes [n, m] -> [n, m * 8] of +1 / -1 (bit j of byte i: element 8i+j)."""
    out: F32 = np.where(_bits8(b) == 0, np.float32(1), np.float32(-1))
    return out


def iq2_xxs(b: U8) -> F32:
    d = _f16(b[:, :2])
    qs = np.ascontiguousarray(b[:, 2:66]).view("<u4").astype(np.uint32).reshape(-1, 8, 2)
    aux = qs[:, :, 1]
    db = (d * (np.float32(0.5) + (aux >> 28).astype(np.float32)) * np.float32(0.25))
    signs = _ksigns((aux[:, :, None] >> np.array([0, 7, 14, 21], np.uint32)) & 0x7F)
    idx = b[:, 2:66].reshape(-1, 8, 8)[:, :, :4]  # the grid bytes of the first word
    grid = _grid("IQ2XXS_GRID")[idx]  # [n, 8, 4, 8]
    out: F32 = (db[:, :, None, None] * grid * signs).reshape(-1, QK_K)
    return out


def _iq2_scales(d: F32, s: U8) -> F32:
    """IQ2_XS / IQ2_S: 16 scales of 4 bits, low nibble first, as d * (0.5 + sc) / 4."""
    sc = np.stack([s & 15, s >> 4], axis=2).reshape(-1, 16)
    out: F32 = (d * (np.float32(0.5) + sc) * np.float32(0.25)).astype(np.float32, copy=False)
    return out


def iq2_xs(b: U8) -> F32:
    d = _f16(b[:, :2])
    qs = np.ascontiguousarray(b[:, 2:66]).view("<u2").astype(np.uint16)  # [n, 32]
    s = b[:, 66:74]
    db = _iq2_scales(d, s)  # [n, 16]
    signs = _ksigns((qs >> 9).astype(np.uint32)).reshape(-1, 16, 2, 8)
    grid = _grid("IQ2XS_GRID")[qs & 511].reshape(-1, 16, 2, 8)
    out: F32 = (db[:, :, None, None] * grid * signs).reshape(-1, QK_K)
    return out


def iq2_s(b: U8) -> F32:
    d = _f16(b[:, :2])
    qs, sb, qh, s = b[:, 2:34], b[:, 34:66], b[:, 66:74], b[:, 74:82]
    db = _iq2_scales(d, s)
    signs = _signs(sb).reshape(-1, 16, 2, 8)
    hi = ((qh[:, :, None] >> np.array([0, 2, 4, 6], np.uint8)) & 3).reshape(-1, 32)
    idx = qs.astype(np.uint16) | (hi.astype(np.uint16) << 8)
    grid = _grid("IQ2S_GRID")[idx].reshape(-1, 16, 2, 8)
    out: F32 = (db[:, :, None, None] * grid * signs).reshape(-1, QK_K)
    return out


def iq3_xxs(b: U8) -> F32:
    d = _f16(b[:, :2])
    qs = b[:, 2:66]
    aux = np.ascontiguousarray(b[:, 66:98]).view("<u4").astype(np.uint32)  # [n, 8]
    db = d * (np.float32(0.5) + (aux >> 28).astype(np.float32)) * np.float32(0.5)
    signs = _ksigns((aux[:, :, None] >> np.array([0, 7, 14, 21], np.uint32)) & 0x7F)
    grid = _grid("IQ3XXS_GRID")[qs].reshape(-1, 8, 4, 8)
    out: F32 = (db[:, :, None, None] * grid * signs).reshape(-1, QK_K)
    return out


def iq3_s(b: U8) -> F32:
    d = _f16(b[:, :2])
    qs, qh, sb, s = b[:, 2:66], b[:, 66:74], b[:, 74:106], b[:, 106:110]
    sc = np.stack([s & 15, s >> 4], axis=2).reshape(-1, 8)
    db = d * (1 + 2 * sc)  # uint8 arithmetic (at most 31), then float32, as ggml's package
    signs = _signs(sb).reshape(-1, 8, 4, 8)
    idx = qs.astype(np.uint16) | (_bits8(qh).astype(np.uint16) << 8)
    grid = _grid("IQ3S_GRID")[idx].reshape(-1, 8, 4, 8)
    out: F32 = (db[:, :, None, None] * grid * signs).reshape(-1, QK_K)
    return out


IQ1_DELTA = np.float32(0.125)


def iq1_s(b: U8) -> F32:
    d = _f16(b[:, :2])
    qs = b[:, 2:34]
    qh = np.ascontiguousarray(b[:, 34:50]).view("<u2").astype(np.uint16)  # [n, 8]
    dl = d * (2 * ((qh >> 12) & 7) + 1)
    delta = np.where((qh & 0x8000) == 0, IQ1_DELTA, -IQ1_DELTA)
    hi = ((qh[:, :, None] >> np.array([0, 3, 6, 9], np.uint16)) & 7).reshape(-1, 32)
    idx = qs.astype(np.uint16) | (hi << 8)
    grid = _grid("IQ1S_GRID")[idx].reshape(-1, 8, 4, 8)
    out: F32 = (dl[:, :, None, None] * (grid + delta[:, :, None, None])).reshape(-1, QK_K)
    return out


def iq1_m(b: U8) -> F32:
    qs, qh = b[:, :32], b[:, 32:48]
    sw = np.ascontiguousarray(b[:, 48:56]).view("<u2").astype(np.uint16)  # [n, 4]
    dbits = (sw & 0xF000) >> np.array([12, 8, 4, 0], np.uint16)
    d = (dbits[:, 0] | dbits[:, 1] | dbits[:, 2] | dbits[:, 3]).view(np.float16)
    d32 = d.astype(np.float32)[:, None]
    sc = ((sw[:, :, None] >> np.array([0, 3, 6, 9], np.uint16)) & 7).reshape(-1, 16)
    dl = (d32 * (2 * sc + 1)).reshape(-1, 8, 2, 1, 1)
    h = np.stack([qh & 15, qh >> 4], axis=2).reshape(-1, 32)  # [n, 32]
    idx = qs.astype(np.uint16) | ((h & 7).astype(np.uint16) << 8)
    delta = np.where((h & 8) == 0, IQ1_DELTA, -IQ1_DELTA).reshape(-1, 8, 2, 2, 1)
    grid = _grid("IQ1S_GRID")[idx].reshape(-1, 8, 2, 2, 8)
    out: F32 = (dl * (grid + delta)).reshape(-1, QK_K)
    return out


DECODERS: dict[str, Callable[[U8], F32]] = {
    "Q8_0": q8_0, "Q4_0": q4_0, "Q4_1": q4_1, "Q5_0": q5_0, "Q5_1": q5_1,
    "Q2_K": q2_k, "Q3_K": q3_k, "Q4_K": q4_k, "Q5_K": q5_k, "Q6_K": q6_k,
    "IQ4_NL": iq4_nl, "IQ4_XS": iq4_xs, "TQ1_0": tq1_0, "TQ2_0": tq2_0,
    "MXFP4": mxfp4, "NVFP4": nvfp4,
    "IQ2_XXS": iq2_xxs, "IQ2_XS": iq2_xs, "IQ2_S": iq2_s, "IQ3_XXS": iq3_xxs,
    "IQ3_S": iq3_s, "IQ1_S": iq1_s, "IQ1_M": iq1_m,
}  # fmt: skip


#: Scale fields of each type: (field, role, bytes at, count per block, legal signs).
#: ``negative_ok``: ggml's reference quantizer itself writes negative values there (Q4_0,
#: Q5_0: d = signed max / -8 (-16); Q3_K, Q6_K: d = -(signed largest sub-scale) / 32 (128);
#: IQ4_NL / IQ4_XS: d from the signed max); ``m`` of Q4_1 / Q5_1 is the block minimum, any
#: sign and zero included. Every other fp16 d / dmin is a max / n, never negative.
SCALE_FIELDS: dict[str, list[tuple[str, str, int, bool]]] = {
    "Q8_0": [("d", "block scale", 0, False)],
    "Q4_0": [("d", "block scale", 0, True)],
    "Q5_0": [("d", "block scale", 0, True)],
    "Q4_1": [("d", "block scale", 0, False), ("m", "block minimum", 2, True)],
    "Q5_1": [("d", "block scale", 0, False), ("m", "block minimum", 2, True)],
    "Q2_K": [("d", "super-block scale", 80, False), ("dmin", "super-block min scale", 82,
                                                     False)],
    "Q3_K": [("d", "super-block scale", 108, True)],
    "Q4_K": [("d", "super-block scale", 0, False), ("dmin", "super-block min scale", 2,
                                                    False)],
    "Q5_K": [("d", "super-block scale", 0, False), ("dmin", "super-block min scale", 2,
                                                    False)],
    "Q6_K": [("d", "super-block scale", 208, True)],
    "IQ4_NL": [("d", "block scale", 0, True)],
    "IQ4_XS": [("d", "super-block scale", 0, True)],
    "TQ1_0": [("d", "block scale", 52, False)],
    "TQ2_0": [("d", "block scale", 64, False)],
    "IQ2_XXS": [("d", "super-block scale", 0, False)],
    "IQ2_XS": [("d", "super-block scale", 0, False)],
    "IQ2_S": [("d", "super-block scale", 0, False)],
    "IQ3_XXS": [("d", "super-block scale", 0, False)],
    "IQ3_S": [("d", "super-block scale", 0, False)],
    "IQ1_S": [("d", "super-block scale", 0, False)],
}


def scale_fields(tname: str, b: U8) -> list[tuple[str, F32, bool]]:
    """The stored scales of whole blocks ``b``: (what, float32 values [n, k], negative and
    zero are legal). fp16 fields as stored; IQ1_M's d gathered from its four scale words;
    MXFP4's E8M0 byte and NVFP4's UE4M3 bytes with their NaN encodings (0xff; 0x7f / 0xff)
    as NaN, whatever ggml makes of them."""
    if tname == "MXFP4":
        e = b[:, :1].astype(np.int32)
        vals = np.where(e == 0xFF, np.float32(np.nan), np.ldexp(np.float32(1), e - 127))
        return [("e (block scale, e8m0)", vals.astype(np.float32), False)]
    if tname == "NVFP4":
        s = b[:, :4]
        nan = (s & 0x7F) == 0x7F
        vals = np.where(nan, np.float32(np.nan), _UE4M3[s] * np.float32(2))
        return [("the four scales (block scales, ue4m3)", vals.astype(np.float32), False)]
    if tname == "IQ1_M":
        sw = np.ascontiguousarray(b[:, 48:56]).view("<u2").astype(np.uint16)
        dbits = (sw & 0xF000) >> np.array([12, 8, 4, 0], np.uint16)
        d = (dbits[:, 0] | dbits[:, 1] | dbits[:, 2] | dbits[:, 3]).view(np.float16)
        return [("d (super-block scale, fp16)", d.astype(np.float32)[:, None], False)]
    out = []
    for name, role, at, ok in SCALE_FIELDS.get(tname, []):
        out.append((f"{name} ({role}, fp16)", _f16(b[:, at:at + 2]), ok))
    return out
