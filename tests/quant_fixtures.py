"""Quantized checkpoint fixtures, written from the published formulas and packing rules,
independently of precli's readers (plain Python integers for the packing, ml_dtypes for
the element values, the safetensors layout written by hand as its spec says).

Each builder returns the raw entries to store and the expected logical tensor (float64).
"""

from __future__ import annotations

import json
import struct
from fractions import Fraction
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

FP4 = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0,
       -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0]  # e2m1 code -> value (OCP MX)

Entry = tuple[str, str, list[int], bytes]


def write_st(path: Path, entries: list[Entry], metadata: dict[str, str] | None = None
             ) -> Path:
    """safetensors: 8-byte little-endian header length, JSON header, contiguous data."""
    header: dict[str, Any] = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    off = 0
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((-len(text)) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(e[3] for e in entries))
    return path


def pack_nibbles(codes: list[int]) -> bytes:
    """Two 4-bit codes per byte, the first in the low nibble."""
    return bytes(codes[i] | (codes[i + 1] << 4) for i in range(0, len(codes), 2))


def e4m3(codes: np.ndarray) -> np.ndarray:
    return codes.astype(np.uint8).view(ml_dtypes.float8_e4m3fn).astype(np.float64)


def deepseek(rng: np.random.Generator, m: int, n: int, b: int = 128, prefix: str = "l.",
             scales: np.ndarray | None = None) -> tuple[list[Entry], np.ndarray]:
    codes = rng.integers(0, 256, (m, n)).astype(np.uint8)
    codes[(codes & 0x7F) == 0x7F] = 0x38  # no NaN elements (1.0)
    sm, sn = -(-m // b), -(-n // b)
    s = (rng.uniform(0.5, 2.0, (sm, sn)) * 2.0 ** rng.integers(-12, -4, (sm, sn))).astype(
        np.float32) if scales is None else scales.astype(np.float32)
    expect = np.empty((m, n))
    x = e4m3(codes)
    for i in range(m):
        for j in range(n):
            expect[i, j] = x[i, j] * float(s[i // b, j // b])
    return [(prefix + "weight", "F8_E4M3", [m, n], codes.tobytes()),
            (prefix + "weight_scale_inv", "F32", [sm, sn], s.astype("<f4").tobytes())], expect


def gpt_oss(rng: np.random.Generator, lead: tuple[int, ...], groups: int,
            prefix: str = "e.gate_up_proj") -> tuple[list[Entry], np.ndarray]:
    blocks = rng.integers(0, 256, (*lead, groups, 16)).astype(np.uint8)
    scales = rng.integers(110, 140, (*lead, groups)).astype(np.uint8)
    flat_b = [int(v) for v in blocks.reshape(-1)]
    flat_s = [int(v) for v in scales.reshape(-1)]
    vals = []
    for e in range(len(flat_b) * 2):
        byte = flat_b[e // 2]
        nib = byte & 15 if e % 2 == 0 else byte >> 4
        vals.append(FP4[nib] * 2.0 ** (flat_s[e // 32] - 127))
    expect = np.array(vals).reshape(*lead, groups * 32)
    return [(prefix + "_blocks", "U8", [*lead, groups, 16], blocks.tobytes()),
            (prefix + "_scales", "U8", [*lead, groups], scales.tobytes())], expect


def nvfp4_quantize(w: np.ndarray) -> tuple[list[int], np.ndarray, float]:
    """NVFP4 by the published recipe (ModelOpt nvfp4_tensor.py): global scale
    s2 = amax / (6 * 448) in fp32; per 16 elements s = e4m3(block amax / 6 / s2); codes =
    nearest e2m1 of x / (s * s2) (ties to the even code). Returns (codes, scale codes, s2)."""
    m, n = w.shape
    s2 = float(np.float32(np.abs(w).max() / (6 * 448)))
    blocks = w.reshape(m, n // 16, 16)
    bamax = np.abs(blocks).max(axis=-1)
    s = (bamax / 6 / s2).astype(ml_dtypes.float8_e4m3fn)
    sval = s.astype(np.float64)
    mags = np.array(FP4[:8])
    codes = []
    for i in range(m):
        for j in range(n):
            d = sval[i, j // 16] * s2
            t = abs(w[i, j]) / d if d else 0.0
            k = int(np.argmin(np.abs(mags - t)))
            if k < 7 and abs(mags[k + 1] - t) == abs(mags[k] - t) and (k & 1):
                k += 1
            codes.append(k | (8 if w[i, j] < 0 and k else 0))
    return codes, s.view(np.uint8), s2


def nvfp4(rng: np.random.Generator, m: int, n: int, convention: str,
          prefix: str = "l.") -> tuple[list[Entry], np.ndarray]:
    codes = [int(c) for c in rng.integers(0, 16, m * n)]
    sc = rng.integers(0x20, 0x60, (m, n // 16)).astype(np.uint8)
    s2 = np.float32(rng.uniform(1e-4, 1e-2))
    sv = e4m3(sc)
    vals = np.array([FP4[c] for c in codes]).reshape(m, n)
    expect = np.empty((m, n))
    for i in range(m):
        for j in range(n):
            expect[i, j] = vals[i, j] * sv[i, j // 16] * float(s2)
    if convention == "ct":
        g = np.float32(1.0) / s2  # compressed-tensors stores the reciprocal
        for i in range(m):
            for j in range(n):
                expect[i, j] = vals[i, j] * sv[i, j // 16] / float(g)
        return [(prefix + "weight_packed", "U8", [m, n // 2], pack_nibbles(codes)),
                (prefix + "weight_scale", "F8_E4M3", [m, n // 16], sc.tobytes()),
                (prefix + "weight_global_scale", "F32", [1], np.float32(g).tobytes())], expect
    return [(prefix + "weight", "U8", [m, n // 2], pack_nibbles(codes)),
            (prefix + "weight_scale", "F8_E4M3", [m, n // 16], sc.tobytes()),
            (prefix + "weight_scale_2", "F32", [], s2.tobytes())], expect


AWQ_PACK = [0, 2, 4, 6, 1, 3, 5, 7]  # AutoAWQ: nibble i of a word holds column AWQ_PACK[i]


def _i32(words: list[int]) -> bytes:
    return struct.pack(f"<{len(words)}I", *words)


def int4_groups(rng: np.random.Generator, k: int, n: int, g: int, kind: str,
                prefix: str = "l.", act_order: bool = False
                ) -> tuple[list[Entry], np.ndarray]:
    """AWQ (kind "awq") or GPTQ ("gptq-v1" / "gptq-v2") of an [N, K] weight, group g."""
    q = rng.integers(0, 16, (k, n))
    z = rng.integers(1, 16, (k // g, n))
    s = rng.uniform(1e-3, 1e-2, (k // g, n)).astype(np.float16)
    gidx = np.arange(k) // g
    if act_order:
        gidx = rng.permutation(gidx)
    w = np.empty((k, n))
    for r in range(k):
        for c in range(n):
            w[r, c] = (int(q[r, c]) - int(z[gidx[r], c])) * float(s[gidx[r], c])
    if kind == "awq":
        qw = [sum(int(q[r, 8 * j + AWQ_PACK[i]]) << (4 * i) for i in range(8))
              for r in range(k) for j in range(n // 8)]
        qz = [sum(int(z[r, 8 * j + AWQ_PACK[i]]) << (4 * i) for i in range(8))
              for r in range(k // g) for j in range(n // 8)]
        ents = [(prefix + "qweight", "I32", [k, n // 8], _i32(qw))]
    else:
        off = 1 if kind == "gptq-v1" else 0  # v1 stores zero - 1
        qw = [sum(int(q[8 * r + i, c]) << (4 * i) for i in range(8))
              for r in range(k // 8) for c in range(n)]
        qz = [sum((int(z[r, 8 * j + i]) - off) << (4 * i) for i in range(8))
              for r in range(k // g) for j in range(n // 8)]
        ents = [(prefix + "qweight", "I32", [k // 8, n], _i32(qw))]
    ents += [(prefix + "qzeros", "I32", [k // g, n // 8], _i32(qz)),
             (prefix + "scales", "F16", [k // g, n], s.astype("<f2").tobytes())]
    if act_order:
        ents.append((prefix + "g_idx", "I32", [k], gidx.astype("<i4").tobytes()))
    return ents, w.T.copy()


# ------------------------------------------------------------------ clean quantizers
# Real data quantized by each layout's published recipe: re-encoding gives it back.


def e4m3_round(v: np.ndarray) -> np.ndarray:
    """Nearest e4m3fn (saturating at 448) of float64 values, via float32 (exact here:
    the quotients below are rounded once to float32 first, as the reference kernels do)."""
    f = np.clip(v.astype(np.float32), -448, 448)
    return f.astype(ml_dtypes.float8_e4m3fn)


def deepseek_clean(w: np.ndarray, b: int = 128, ue8m0: bool = False,
                   prefix: str = "l.") -> list[Entry]:
    """DeepSeek-V3 block quantization (inference/kernel.py act_quant / the fp8 cast script):
    s = amax / 448 per block (ue8m0: 2^ceil(log2(amax / 448))), codes = e4m3(x / s)."""
    m, n = w.shape
    sm, sn = -(-m // b), -(-n // b)
    s = np.zeros((sm, sn), np.float32)
    codes = np.zeros((m, n), ml_dtypes.float8_e4m3fn)
    for i in range(sm):
        for j in range(sn):
            blk = w[i * b:(i + 1) * b, j * b:(j + 1) * b].astype(np.float32)
            amax = float(np.abs(blk).max())
            sv = np.float32(amax / 448) if amax else np.float32(1)
            if ue8m0:
                sv = np.float32(2.0 ** int(np.ceil(np.log2(float(sv)))))
            s[i, j] = sv
            codes[i * b:(i + 1) * b, j * b:(j + 1) * b] = e4m3_round(
                blk.astype(np.float64) / float(sv))
    return [(prefix + "weight", "F8_E4M3", [m, n], codes.view(np.uint8).tobytes()),
            (prefix + "weight_scale_inv", "F32", [sm, sn], s.astype("<f4").tobytes())]


def mxfp4_clean(w: np.ndarray, prefix: str = "e.down_proj") -> list[Entry]:
    """OCP MX (floor rule): per 32 elements k = floor(log2 amax) - 2, codes = nearest e2m1 of
    x / 2^k (ties to even, saturating at 6); gpt-oss layout: [..., G, 16] and [..., G]."""
    lead, n = w.shape[:-1], w.shape[-1]
    flat = w.reshape(-1, 32)
    codes: list[int] = []
    scales = []
    mags = np.array(FP4[:8])
    for blk in flat:
        amax = float(np.abs(blk).max())
        k = int(np.floor(np.log2(amax))) - 2 if amax else -127
        scales.append(k + 127)
        for v in blk:
            t = min(abs(float(v)) / 2.0 ** k, 6.0)
            c = int(np.argmin(np.abs(mags - t)))
            if c < 7 and abs(mags[c + 1] - t) == abs(mags[c] - t) and (c & 1):
                c += 1
            codes.append(c | (8 if v < 0 and c else 0))
    g = n // 32
    return [(prefix + "_blocks", "U8", [*lead, g, 16], pack_nibbles(codes)),
            (prefix + "_scales", "U8", [*lead, g], bytes(scales))]


def nvfp4_clean(w: np.ndarray, convention: str = "modelopt", prefix: str = "l."
                ) -> list[Entry]:
    m, n = w.shape
    codes, sc, s2 = nvfp4_quantize(w)
    if convention == "ct":
        g = np.float32(1.0) / np.float32(s2)
        return [(prefix + "weight_packed", "U8", [m, n // 2], pack_nibbles(codes)),
                (prefix + "weight_scale", "F8_E4M3", [m, n // 16], sc.tobytes()),
                (prefix + "weight_global_scale", "F32", [1], np.float32(g).tobytes())]
    return [(prefix + "weight", "U8", [m, n // 2], pack_nibbles(codes)),
            (prefix + "weight_scale", "F8_E4M3", [m, n // 16], sc.tobytes()),
            (prefix + "weight_scale_2", "F32", [], np.float32(s2).tobytes())]


def replace(entries: list[Entry], name: str, raw: bytes | None = None,
            shape: list[int] | None = None, dtype: str | None = None) -> list[Entry]:
    out = []
    for n, d, s, r in entries:
        if n == name:
            out.append((n, dtype or d, shape if shape is not None else s,
                        raw if raw is not None else r))
        else:
            out.append((n, d, s, r))
    return out


def ct_pack_quantized(rng: np.random.Generator, n: int, k: int, groups: int,
                      prefix: str = "l.") -> tuple[list[Entry], np.ndarray]:
    """compressed-tensors pack_to_int32 (4 bits): q in [-8, 7] stored as q + 8, element i
    of a row at bit 4i of the row's little-endian int32 stream (a short row is padded
    with zero bits); one scale per k / groups inputs."""
    q = rng.integers(-8, 8, (n, k))
    s = rng.uniform(1e-3, 1e-2, (n, groups)).astype(np.float16)
    g = k // groups
    words = -(-k // 8)
    packed = []
    for r in range(n):
        for j in range(words):
            w = 0
            for i in range(8):
                c = 8 * j + i
                if c < k:
                    w |= (int(q[r, c]) + 8) << (4 * i)
            packed.append(w)
    expect = np.array([[int(q[r, c]) * float(s[r, c // g]) for c in range(k)]
                       for r in range(n)])
    return [(prefix + "weight_packed", "I32", [n, words], _i32(packed)),
            (prefix + "weight_scale", "F16", [n, groups], s.astype("<f2").tobytes()),
            (prefix + "weight_shape", "I64", [2], np.array([n, k], "<i8").tobytes())], expect


# ------------------------------------------------------------------ compressed-tensors asym
# compressed-tensors pack-quantized with zero points (neuralmagic/compressed-tensors
# compressors/quantized_compressors/pack_quantized.py, >= 0.9.4): pack_to_int32 adds
# 2**(bits-1) = 8 to every int8 value, pads with zero bits, and puts element i of each run
# of eight at bits 4i; weights are packed along the input columns (dim 1), zero points
# [N, G] along the output rows (dim 0) into [ceil(N/8), G]. Before 0.9.4 the zero points
# were saved unpacked, int8 [N, G].

SCALE_DTYPES = {"F16": np.float16, "BF16": ml_dtypes.bfloat16, "F32": np.float32}


def _store_scales(s: np.ndarray, dtype: str) -> bytes:
    a = s.astype(SCALE_DTYPES[dtype])
    return a.view({"F16": "<u2", "BF16": "<u2", "F32": "<u4"}[dtype]).tobytes()


def pack_rows(vals: np.ndarray) -> list[int]:
    """pack_to_int32 along dim 1: each row's int4 values (+8), eight to a word, element
    8j + i at bits 4i of word j, the last word of a row padded with zero bits."""
    n, k = vals.shape
    out = []
    for r in range(n):
        for j in range(-(-k // 8)):
            w = 0
            for i in range(8):
                if 8 * j + i < k:
                    w |= (int(vals[r, 8 * j + i]) + 8) << (4 * i)
            out.append(w)
    return out


def pack_cols(vals: np.ndarray) -> list[int]:
    """pack_to_int32 along dim 0: row 8j + i of each column at bits 4i of word row j."""
    n, g = vals.shape
    out = []
    for j in range(-(-n // 8)):
        for c in range(g):
            w = 0
            for i in range(8):
                if 8 * j + i < n:
                    w |= (int(vals[8 * j + i, c]) + 8) << (4 * i)
            out.append(w)
    return out


def ct_asym_entries(q: np.ndarray, z: np.ndarray, s: np.ndarray, scale_dtype: str = "F16",
                    zp: str = "packed", prefix: str = "l.",
                    g_idx: np.ndarray | None = None) -> list[Entry]:
    """The tensors compressed-tensors saves for codes q [N, K] in [-8, 7], zero points
    z [N, G] in [-8, 7] and scales s [N, G]."""
    n, k = q.shape
    groups = s.shape[1]
    ents = [(prefix + "weight_packed", "I32", [n, -(-k // 8)], _i32(pack_rows(q))),
            (prefix + "weight_scale", scale_dtype, [n, groups], _store_scales(s, scale_dtype)),
            (prefix + "weight_shape", "I64", [2], np.array([n, k], "<i8").tobytes())]
    if zp == "packed":
        ents.append((prefix + "weight_zero_point", "I32", [-(-n // 8), groups],
                     _i32(pack_cols(z))))
    elif zp == "int8":
        ents.append((prefix + "weight_zero_point", "I8", [n, groups],
                     z.astype(np.int8).tobytes()))
    if g_idx is not None:
        ents.append((prefix + "weight_g_idx", "I32", [k], g_idx.astype("<i4").tobytes()))
    return ents


def ct_config(group_size: int | None, symmetric: bool = False, **extra: Any) -> dict[str, Any]:
    """A compressed-tensors quantization_config (W4A16, pack-quantized)."""
    w = {"num_bits": 4, "type": "int", "symmetric": symmetric,
         "strategy": "group" if group_size else "channel", "group_size": group_size,
         "observer": "minmax", "actorder": None, "dynamic": False}
    w.update(extra)
    return {"quant_method": "compressed-tensors", "format": "pack-quantized",
            "quantization_status": "compressed", "ignore": ["lm_head"],
            "config_groups": {"group_0": {"targets": ["Linear"], "weights": w,
                                          "input_activations": None}}}


def rhe(t: Fraction) -> int:
    """Round half to even (torch.round)."""
    f = t.numerator // t.denominator
    d = t - f
    return f + 1 if d > Fraction(1, 2) or (d == Fraction(1, 2) and f % 2) else f


def ct_minmax(w: np.ndarray, g: int, scale_dtype: str = "F32"
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """compressed-tensors' asymmetric min-max rule (quantization/utils/helpers.py
    calculate_qparams, lifecycle/forward.py _quantize), in exact arithmetic from the stored
    scale: per group lo = min(min x, 0), hi = max(max x, 0), s = (hi - lo) / 15 stored in
    the scale dtype (at least float32 eps), z = round(clamp(-8 - lo / s, -8, 7)),
    q = round(clamp(x / s + z, -8, 7)), rounding half to even. Returns (q, z, s)."""
    n, k = w.shape
    ng = k // g
    q = np.zeros((n, k), np.int64)
    z = np.zeros((n, ng), np.int64)
    s = np.zeros((n, ng), np.float64)
    eps = Fraction(2) ** -23
    for r in range(n):
        for j in range(ng):
            blk = [Fraction(float(v)) for v in w[r, j * g:(j + 1) * g]]
            lo, hi = min(min(blk), Fraction(0)), max(max(blk), Fraction(0))
            sv = float(SCALE_DTYPES[scale_dtype](float(max((hi - lo) / 15, eps))))
            fs = Fraction(sv)
            zz = rhe(min(max(-8 - lo / fs, Fraction(-8)), Fraction(7)))
            s[r, j], z[r, j] = sv, zz
            for c, v in enumerate(blk):
                q[r, j * g + c] = rhe(min(max(v / fs + zz, Fraction(-8)), Fraction(7)))
    return q, z, s


def ct_dequant(q: np.ndarray, z: np.ndarray, s: np.ndarray,
               g_idx: np.ndarray | None = None) -> np.ndarray:
    """(q - z) * s per element, in Fractions (converted once: the product is exact)."""
    n, k = q.shape
    g = k // s.shape[1]
    gi = g_idx if g_idx is not None else np.arange(k) // g
    out = np.empty((n, k))
    for r in range(n):
        for c in range(k):
            v = (int(q[r, c]) - int(z[r, gi[c]])) * Fraction(float(s[r, gi[c]]))
            out[r, c] = float(v)
            assert Fraction(out[r, c]) == v
    return out
