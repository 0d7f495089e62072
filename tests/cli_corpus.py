"""The golden CLI corpus: precli's command lines, their inputs, and how to run them.

A plain module, not a test file. It holds

* :func:`build_fixtures`, which writes every input file the cases read (arrays, raw
  binaries, text, checkpoints of each kind, quantized layouts, hostile and damaged files)
  into a directory, deterministically (fixed seeds, fixed zip dates), with numpy, the
  writer packages of the dev group (safetensors, gguf, onnx) or raw bytes;
* :func:`cases`, the command lines: argv (after ``python -m precli``), stdin, environment
  overrides and which standard streams are a terminal;
* :func:`run_case` / :func:`run_cases`, which run them the one way both the recorder
  (``scripts/record_cli_corpus.py``) and the replay (``tests/test_cli_corpus.py``) use.

It never imports precli: the corpus must survive moving precli's modules around, so it
knows the program only by its command line. The record is ``tests/data/cli_corpus.json``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import select
import socket
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

RECORD = Path(__file__).resolve().parent / "data" / "cli_corpus.json"
FORMAT_VERSION = 1
TIMEOUT = 120  # seconds per case

# ====================================================================== number helpers
# Element codes written from the format definitions (no ml_dtypes, no precli).

FP4_VALUES = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])  # e2m1 codes 0..7


def _e4m3fn_values() -> np.ndarray:
    """Magnitudes of e4m3fn codes 0..126 (127 is NaN), ascending."""
    out = []
    for c in range(127):
        e, m = c >> 3, c & 7
        out.append(m / 8 * 2.0**-6 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7))
    return np.array(out)


E4M3FN_VALUES = _e4m3fn_values()


def nearest_code(mag: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Code (index into the ascending table) nearest to each magnitude, ties to the even
    code, saturating at the last entry."""
    mag = np.asarray(mag, np.float64)
    idx = np.clip(np.searchsorted(table, mag), 1, len(table) - 1)
    lo, hi = table[idx - 1], table[idx]
    up = (mag - lo > hi - mag) | ((mag - lo == hi - mag) & ((idx - 1) % 2 == 1))
    code = np.where(up, idx, idx - 1)
    return np.where(mag >= table[-1], len(table) - 1, code).astype(np.int64)


def e4m3fn_codes(x: np.ndarray) -> np.ndarray:
    """Nearest e4m3fn codes (saturating at 448), as uint8."""
    c = nearest_code(np.abs(x), E4M3FN_VALUES)
    return (c | np.where(np.signbit(x), 0x80, 0)).astype(np.uint8)


def fp4_codes(x: np.ndarray) -> np.ndarray:
    """Nearest e2m1 codes (saturating at 6); -0 is written as +0."""
    c = nearest_code(np.abs(x), FP4_VALUES)
    return (c | np.where((x < 0) & (c > 0), 8, 0)).astype(np.uint8)


def bf16_bits(a: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns, round to nearest even (finite inputs)."""
    u = np.asarray(a, np.float32).astype("<f4").view("<u4").astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")


def bf16_values(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).astype("<u4").view("<f4").astype(np.float32)


def pack_nibbles(codes: Iterable[int]) -> bytes:
    """Two 4-bit codes per byte, the first in the low nibble."""
    c = [int(v) for v in codes]
    if len(c) % 2:
        c.append(0)
    return bytes(c[i] | (c[i + 1] << 4) for i in range(0, len(c), 2))


# ====================================================================== file writers

Entry = tuple[str, str, list[int], bytes]


def st_bytes(entries: list[Entry], metadata: dict[str, str] | None = None) -> bytes:
    """safetensors as its spec lays it out: u64 header length, JSON header (space padded
    to 8 bytes), contiguous data."""
    header: dict[str, Any] = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    off = 0
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    return st_raw(json.dumps(header).encode(), b"".join(e[3] for e in entries))


def st_raw(text: bytes, data: bytes, length: int | None = None) -> bytes:
    text += b" " * ((-len(text)) % 8)
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def npy_bytes(a: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, allow_pickle=allow_pickle)
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """A zip with fixed dates (np.savez stamps the current time)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    return buf.getvalue()


def u32_words(words: list[int]) -> bytes:
    return struct.pack(f"<{len(words)}I", *[w & 0xFFFFFFFF for w in words])


# ====================================================================== checkpoints


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def model_tensors() -> dict[str, tuple[str, np.ndarray]]:
    """The small "original" model: name -> (safetensors dtype, float32 values as stored)."""
    g = _rng(7)
    t: dict[str, tuple[str, np.ndarray]] = {}

    def bf(a: np.ndarray) -> np.ndarray:
        return bf16_values(bf16_bits(a.astype(np.float32)))

    t["model.embed_tokens.weight"] = ("BF16", bf(g.standard_normal((128, 64)) * 0.05))
    for i in range(2):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = ("BF16", bf(1 + 0.1 * g.standard_normal(64)))
        t[p + "self_attn.q_proj.weight"] = ("BF16", bf(g.standard_normal((64, 64)) * 0.05))
        t[p + "self_attn.q_proj.bias"] = ("BF16", bf(g.standard_normal(64) * 0.01))
        down = g.standard_t(3, (64, 128)) * 0.02
        if i == 1:
            down[3, 5] = 600.0  # an outlier e4m3fn cannot hold as a plain cast
        t[p + "mlp.down_proj.weight"] = ("BF16", bf(down))
    t["model.norm.weight"] = ("BF16", bf(1 + 0.1 * g.standard_normal(64)))
    t["lm_head.weight"] = ("F16", (g.standard_normal((128, 64)) * 0.05).astype(np.float16)
                           .astype(np.float32))
    t["model.rotary_emb.inv_freq"] = ("F32", (1.0 / 10000 ** (np.arange(0, 64, 2) / 64))
                                      .astype(np.float32))
    return t


def _stored(dtype: str, a: np.ndarray) -> bytes:
    if dtype == "BF16":
        return bf16_bits(a).tobytes()
    if dtype == "F16":
        return a.astype("<f2").tobytes()
    return a.astype("<f4").tobytes()


def model_entries() -> list[Entry]:
    ents = [(n, d, list(a.shape), _stored(d, a)) for n, (d, a) in model_tensors().items()]
    ents.append(("position_ids", "I64", [16], np.arange(16, dtype="<i8").tobytes()))
    return ents


def deepseek_fp8(w: np.ndarray, b: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """DeepSeek-V3 block quantization: s = fp32(amax / 448) per b x b block, codes =
    e4m3fn(fp32(x / s))."""
    m, n = w.shape
    sm, sn = -(-m // b), -(-n // b)
    s = np.ones((sm, sn), np.float32)
    codes = np.zeros((m, n), np.uint8)
    for i in range(sm):
        for j in range(sn):
            blk = w[i * b:(i + 1) * b, j * b:(j + 1) * b].astype(np.float32)
            amax = float(np.abs(blk).max())
            sv = np.float32(amax / 448) if amax else np.float32(1)
            s[i, j] = sv
            codes[i * b:(i + 1) * b, j * b:(j + 1) * b] = e4m3fn_codes(
                (blk / sv).astype(np.float32).astype(np.float64))
    return codes, s


def fp8_entries(corrupt: bool = False) -> list[Entry]:
    """The model in DeepSeek-V3's FP8 layout; corrupt: a NaN element in the first weight,
    and the second weight requantized with a scale twice too large (drift)."""
    out: list[Entry] = []
    k = 0
    for name, (dtype, a) in model_tensors().items():
        if a.ndim == 2 and name.endswith(".weight"):
            codes, s = deepseek_fp8(a)
            if corrupt and k == 0:
                codes[0, 7] = 0x7F  # a NaN element
            if corrupt and k == 1:
                s = s * np.float32(2)
                codes = e4m3fn_codes((a / s[0, 0]).astype(np.float32).astype(np.float64))
            k += 1
            out.append((name, "F8_E4M3", list(a.shape), codes.tobytes()))
            out.append((name + "_scale_inv", "F32", list(s.shape), s.astype("<f4").tobytes()))
        else:
            out.append((name, dtype, list(a.shape), _stored(dtype, a)))
    return out


def nvfp4_quant(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.float32]:
    """ModelOpt NVFP4: s2 = fp32(amax / 2688); per 16 values s = e4m3(bamax / 6 / s2);
    codes = nearest e2m1 of x / (s * s2)."""
    m, n = w.shape
    x = w.astype(np.float64)
    s2 = np.float32(np.abs(x).max() / 2688)
    bamax = np.abs(x.reshape(m, n // 16, 16)).max(axis=-1)
    sc = e4m3fn_codes(bamax / 6 / float(s2))
    sv = E4M3FN_VALUES[sc & 0x7F]
    d = np.repeat(sv, 16, axis=1) * float(s2)
    q = fp4_codes(np.where(d > 0, x / np.where(d > 0, d, 1), 0))
    return q, sc, s2


def nvfp4_entries(convention: str = "modelopt", corrupt: bool = False) -> list[Entry]:
    out: list[Entry] = []
    k = 0
    for name, (dtype, a) in model_tensors().items():
        if a.ndim == 2 and name.endswith(".weight") and a.shape[1] % 16 == 0:
            q, sc, s2 = nvfp4_quant(a)
            base = name[: -len("weight")]
            if corrupt:
                if k == 0:
                    sc[0, 3] = 0x7F  # a NaN block scale
                elif k == 1:
                    sc[2, 1] = 0x00  # a zero block scale
                elif k == 2:
                    s2 = np.float32(-s2)  # a negative global scale
            k += 1
            packed = pack_nibbles(q.reshape(-1))
            if convention == "ct":
                out += [(base + "weight_packed", "U8", [a.shape[0], a.shape[1] // 2], packed),
                        (base + "weight_scale", "F8_E4M3", list(sc.shape), sc.tobytes()),
                        (base + "weight_global_scale", "F32", [1],
                         (np.float32(1) / s2).astype("<f4").tobytes())]
            else:
                out += [(name, "U8", [a.shape[0], a.shape[1] // 2], packed),
                        (base + "weight_scale", "F8_E4M3", list(sc.shape), sc.tobytes()),
                        (base + "weight_scale_2", "F32", [], np.float32(s2).astype("<f4")
                         .tobytes())]
        else:
            out.append((name, dtype, list(a.shape), _stored(dtype, a)))
    return out


def gptoss_entries() -> list[Entry]:
    """gpt-oss MXFP4 experts: X_blocks U8 [E, R, G, 16], X_scales U8 [E, R, G]; one
    scale byte 0xff (NaN) and one block at the element max."""
    g = _rng(11)
    blocks = g.integers(0, 256, (2, 8, 2, 16)).astype(np.uint8)
    scales = g.integers(118, 128, (2, 8, 2)).astype(np.uint8)
    scales[1, 2, 1] = 0xFF
    blocks[0, 0, 0, :] = 0x77  # every element of a block at +6: saturation
    return [("model.layers.0.mlp.experts.gate_up_proj_blocks", "U8", [2, 8, 2, 16],
             blocks.tobytes()),
            ("model.layers.0.mlp.experts.gate_up_proj_scales", "U8", [2, 8, 2],
             scales.tobytes()),
            ("model.layers.0.mlp.experts.gate_up_proj_bias", "BF16", [2, 8],
             bf16_bits(g.standard_normal((2, 8)).astype(np.float32) * 0.01).tobytes())]


AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]  # AutoAWQ: nibble i of a word holds column AWQ_ORDER[i]


def int4_entries(kind: str, k: int = 64, n: int = 32, gsize: int = 16,
                 prefix: str = "model.layers.0.mlp.down_proj.") -> list[Entry]:
    """AWQ (kind "awq") or GPTQ v1 ("gptq") of an [N, K] weight with groups of gsize."""
    g = _rng(4)
    q = g.integers(0, 16, (k, n))
    z = g.integers(1, 16, (k // gsize, n))
    s = g.uniform(1e-3, 1e-2, (k // gsize, n)).astype(np.float16)
    if kind == "awq":
        qw = [sum(int(q[r, 8 * j + AWQ_ORDER[i]]) << (4 * i) for i in range(8))
              for r in range(k) for j in range(n // 8)]
        qz = [sum(int(z[r, 8 * j + AWQ_ORDER[i]]) << (4 * i) for i in range(8))
              for r in range(k // gsize) for j in range(n // 8)]
        ents = [(prefix + "qweight", "I32", [k, n // 8], u32_words(qw))]
    else:
        qw = [sum(int(q[8 * r + i, c]) << (4 * i) for i in range(8))
              for r in range(k // 8) for c in range(n)]
        qz = [sum((int(z[r, 8 * j + i]) - 1) << (4 * i) for i in range(8))
              for r in range(k // gsize) for j in range(n // 8)]
        ents = [(prefix + "qweight", "I32", [k // 8, n], u32_words(qw))]
    ents += [(prefix + "qzeros", "I32", [k // gsize, n // 8], u32_words(qz)),
             (prefix + "scales", "F16", [k // gsize, n], s.astype("<f2").tobytes())]
    return ents


def ct_int4_entries() -> list[Entry]:
    """compressed-tensors pack-quantized, symmetric: q + 8 packed eight to an int32 along
    each row, fp16 scales per group of 16."""
    g = _rng(5)
    n, k, groups = 16, 64, 4
    q = g.integers(-8, 8, (n, k))
    s = g.uniform(1e-3, 1e-2, (n, groups)).astype(np.float16)
    words = [sum((int(q[r, 8 * j + i]) + 8) << (4 * i) for i in range(8))
             for r in range(n) for j in range(k // 8)]
    p = "model.layers.0.self_attn.o_proj."
    return [(p + "weight_packed", "I32", [n, k // 8], u32_words(words)),
            (p + "weight_scale", "F16", [n, groups], s.astype("<f2").tobytes()),
            (p + "weight_shape", "I64", [2], np.array([n, k], "<i8").tobytes())]


def plan_tensors() -> dict[str, np.ndarray]:
    g = _rng(0)
    t: dict[str, np.ndarray] = {}
    for i in range(2):
        t[f"model.layers.{i}.attn.q.weight"] = (g.standard_normal((32, 64)) * 0.02)
        t[f"model.layers.{i}.mlp.down.weight"] = g.standard_t(3, (48, 64)) * 0.02
        t[f"model.layers.{i}.norm.weight"] = 1 + 0.1 * g.standard_normal(64)
    t["model.layers.1.mlp.up.weight"] = g.standard_normal((32, 40)) * 0.03  # ragged rows
    t["lm_head.weight"] = g.standard_normal((64, 64)) * 0.05
    return {k: v.astype(np.float32) for k, v in t.items()}


def write_plan_model(path: Path) -> None:
    """With the safetensors package's own writer (F32 and an I64 buffer)."""
    from safetensors.numpy import save_file

    t: dict[str, np.ndarray] = dict(plan_tensors())
    t["pos_ids"] = np.arange(16, dtype=np.int64)
    save_file(t, str(path))


def write_gguf(path: Path) -> None:
    import gguf

    g = _rng(3)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_uint32("llama.block_count", 1)
    w.add_string("general.name", "tiny")
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q2_K)
    w.add_array("tokenizer.ggml.scores", [0.5, -1.0, 2.0])
    w.add_tensor("token_embd.weight", (g.standard_normal((64, 32)) * 0.05).astype(np.float32))
    w.add_tensor("blk.0.attn_norm.weight", (1 + 0.1 * g.standard_normal(32)).astype(np.float32))
    w.add_tensor("blk.0.attn_q.weight",
                 (g.standard_normal((32, 32)) * 0.05).astype(np.float16))
    q8 = gguf.quants.quantize((g.standard_normal((32, 64)) * 0.05).astype(np.float32),
                              gguf.GGMLQuantizationType.Q8_0)
    w.add_tensor("blk.0.ffn_down.weight", q8, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    q2 = g.integers(0, 256, (2, 84)).astype(np.uint8)  # two Q2_K blocks
    q2[:, 80:84] = np.array([0.01, 0.005], "<f2").view(np.uint8)  # sane d, dmin
    w.add_tensor("blk.0.ffn_up.weight", q2, raw_dtype=gguf.GGMLQuantizationType.Q2_K)
    w.add_tensor("blk.0.ids", np.arange(8, dtype=np.int32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def _onnx_model(inits: list[Any], const: Any = None) -> Any:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    nodes = [helper.make_node("Identity", ["x"], ["y"])]
    if const is not None:
        nodes.append(helper.make_node("Constant", [], ["c"], value=const))
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=inits)
    m = helper.make_model(graph, producer_name="precli-corpus")
    helper.set_model_props(m, {"author": "corpus"})
    return m


def write_onnx(d: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    g = _rng(4)
    f = (g.standard_normal((16, 32)) * 0.05).astype(np.float32)
    inits = [
        numpy_helper.from_array(f, "encoder.weight"),
        numpy_helper.from_array((g.standard_normal(32) * 0.1).astype(np.float16),
                                "encoder.bias"),
        numpy_helper.from_array(np.arange(4, dtype=np.int64), "shape_const"),
        helper.make_tensor("scale.bf16", TensorProto.BFLOAT16, [4], [1.0, -0.5, 0.1, 3.0]),
        helper.make_tensor("codes.e4m3", TensorProto.FLOAT8E4M3FN, [4], [448.0, 0.1, -2, 0]),
    ]
    const = numpy_helper.from_array(np.array([0.5, 0.25, -1.0], np.float32), "c_value")
    onnx.save(_onnx_model(inits, const), str(d / "model.onnx"))
    big = [numpy_helper.from_array((g.standard_normal((8, 16)) * 0.1).astype(np.float32),
                                   "proj.weight"),
           numpy_helper.from_array((g.standard_normal(16) * 0.1).astype(np.float32),
                                   "proj.bias")]
    m = _onnx_model(big)
    onnx.save_model(m, str(d / "ext.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="ext.data", size_threshold=0)
    m2 = _onnx_model([numpy_helper.from_array(np.ones((4, 4), np.float32), "w")])
    onnx.save_model(m2, str(d / "ext-missing.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="gone.data", size_threshold=0)
    (d / "gone.data").unlink()


def gguf_header(version: int = 3, n_tensors: int = 0, n_kv: int = 0,
                endian: str = "<") -> bytes:
    return b"GGUF" + struct.pack(endian + "IQQ", version, n_tensors, n_kv)


def gguf_str(s: str) -> bytes:
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def hostile_files() -> dict[str, bytes]:
    """Damaged and hostile checkpoints, byte by byte."""
    f: dict[str, bytes] = {}
    w = np.arange(6, dtype="<f2").tobytes()  # 12 bytes
    f["h-short.safetensors"] = b"\x05\x00\x00"
    f["h-huge-header.safetensors"] = struct.pack("<Q", 1_000_000_000) + b"{}      "
    f["h-header-past.safetensors"] = struct.pack("<Q", 4096) + b'{"a": 1}'
    f["h-truncated.safetensors"] = st_raw(json.dumps({"w.q": {
        "dtype": "F16", "shape": [5], "data_offsets": [0, 10]}}).encode(), w[:8])
    f["h-overlap.safetensors"] = st_raw(json.dumps({
        "a": {"dtype": "F16", "shape": [4], "data_offsets": [0, 8]},
        "b": {"dtype": "F16", "shape": [4], "data_offsets": [4, 12]}}).encode(), w)
    f["h-shape.safetensors"] = st_raw(json.dumps({
        "a": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]},
        "b": {"dtype": "F16", "shape": [2, 3], "data_offsets": [4, 12]}}).encode(), w)
    f["h-json.safetensors"] = st_raw(b'{"a": {"dtype": "F16",', w)
    f["h-utf8.safetensors"] = st_raw(b'{"\xff\xfe": 1}', w)
    f["h-dup.safetensors"] = st_raw(
        b'{"a": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}, '
        b'"a": {"dtype": "F16", "shape": [2], "data_offsets": [4, 8]}}', w[:8])
    f["h-dtype.safetensors"] = st_raw(json.dumps({"a": {
        "dtype": "F7", "shape": [2], "data_offsets": [0, 4]}}).encode(), w[:4])
    f["h-hole.safetensors"] = st_raw(json.dumps({
        "a": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]},
        "b": {"dtype": "F16", "shape": [2], "data_offsets": [8, 12]}}).encode(), w)
    f["h-trailing.safetensors"] = st_raw(json.dumps({"a": {
        "dtype": "F16", "shape": [2], "data_offsets": [0, 4]}}).encode(), w)
    f["h-metadata.safetensors"] = st_raw(json.dumps({
        "__metadata__": {"n": 3},
        "a": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}}).encode(), w[:4])
    f["h-list.safetensors"] = st_raw(b"[1, 2, 3]", b"")
    f["h-noshape.safetensors"] = st_raw(json.dumps({"a": {
        "dtype": "F16", "data_offsets": [0, 4]}}).encode(), w[:4])
    f["h-offsets.safetensors"] = st_raw(json.dumps({"a": {
        "dtype": "F16", "shape": [2], "data_offsets": [4]}}).encode(), w[:4])
    f["h-backwards.safetensors"] = st_raw(json.dumps({"a": {
        "dtype": "F16", "shape": [0], "data_offsets": [4, 2]}}).encode(), w[:4])
    f["h-f4size.safetensors"] = st_raw(json.dumps({"a": {
        "dtype": "F4", "shape": [2, 3], "data_offsets": [0, 4]}}).encode(), w[:4])
    # GGUF
    f["h-v4.gguf"] = gguf_header(4)
    f["h-bigendian.gguf"] = gguf_header(3, endian=">")
    f["h-counts.gguf"] = gguf_header(3, 1 << 40, 0) + bytes(8)
    f["h-truncated.gguf"] = gguf_header(3, 1, 0) + gguf_str("blk.0.w") + struct.pack("<I", 2)
    f["h-align.gguf"] = (gguf_header(3, 0, 1) + gguf_str("general.alignment")
                         + struct.pack("<II", 4, 24))
    f["h-dims.gguf"] = (gguf_header(3, 1, 0) + gguf_str("t") + struct.pack("<I", 5)
                        + struct.pack("<5Q", 1, 1, 1, 1, 1) + struct.pack("<IQ", 0, 0)
                        + bytes(64))
    f["h-misaligned.gguf"] = (gguf_header(3, 1, 0) + gguf_str("t") + struct.pack("<I", 1)
                              + struct.pack("<Q", 4) + struct.pack("<IQ", 0, 3) + bytes(64))
    f["h-nomagic.gguf"] = b"GGML" + bytes(60)
    # ONNX, npz, pickles, strangers
    f["h-garbage.onnx"] = bytes(range(7, 250, 3)) * 2
    f["h-damaged.npz"] = b"PK\x03\x04" + bytes(range(40)) * 3
    f["h-nonpy.npz"] = zip_bytes({"readme.txt": b"hello\n"})
    f["h-torchzip.pt"] = zip_bytes({"archive/data.pkl": b"\x80\x02}q\x00.",
                                    "archive/version": b"3\n"})
    f["h-pickle.pt"] = b"\x80\x02}q\x00(X\x01\x00\x00\x00wq\x01K\x01u."
    f["h-random.bin"] = bytes((i * 37 + 11) % 256 for i in range(64))
    f["h-unknown.dat"] = b"\x00\x01\x02\x03" * 8
    f["h-empty.safetensors"] = b""
    f["h-empty.ckpt"] = b""
    f["h-magicless.npy"] = b"NUMPY" + bytes(40)
    return f


def write_sharded(d: Path, ents: list[Entry], missing: bool = False) -> None:
    d.mkdir()
    half = len(ents) // 2
    shards = {"model-00001-of-00002.safetensors": ents[:half],
              "model-00002-of-00002.safetensors": ents[half:]}
    wmap: dict[str, str] = {}
    for shard, part in shards.items():
        for name, *_ in part:
            wmap[name] = shard
        if not (missing and shard.startswith("model-00002")):
            (d / shard).write_bytes(st_bytes(part))
    total = sum(len(e[3]) for e in ents)
    (d / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": total}, "weight_map": wmap}, indent=2) + "\n")


def build_fixtures(d: Path) -> None:
    """Write every input file the cases use into directory d (created if need be)."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)

    def put(name: str, data: bytes) -> None:
        (d / name).write_bytes(data)

    g = _rng(0)
    # ---- arrays
    put("w.npy", npy_bytes((g.standard_normal((32, 256)) * 0.05).astype(np.float32)))
    put("o.npy", npy_bytes(np.r_[np.full(20, 0.01), 1e5]))
    small = np.array([1.5, -2.25, 0.1, 65504, 3e-5])
    put("small.npy", npy_bytes(small.astype(np.float32)))
    put("be.npy", npy_bytes(small.astype(">f4")))
    put("be16.npy", npy_bytes(small.astype(">f2")))
    put("bei4.npy", npy_bytes(np.array([1, -7, 300], ">i4")))
    put("t3.npy", npy_bytes((g.standard_normal((2, 3, 40)) * 0.5).astype(np.float32)))
    put("scalar.npy", npy_bytes(np.array(2.5)))
    put("zero.npy", npy_bytes(np.zeros(0, np.float32)))
    put("complex.npy", npy_bytes(np.array([1 + 2j, 3j], np.complex64)))
    put("bool.npy", npy_bytes(np.array([True, False, True])))
    put("specials.npy", npy_bytes(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, 3.0])))
    bfb = bf16_bits(np.array([1, 0.1, -3], np.float32))
    put("bf.npy", npy_bytes(bfb.view("V2")))
    put("fp8.npy", npy_bytes(np.array([0x38, 0x7E, 0xFF, 0x01], np.uint8).view("V1")))
    put("codes_u8.npy", npy_bytes(np.arange(0, 256, 17, dtype=np.uint8)))
    put("codes_i8.npy", npy_bytes(np.array([-1, -128, 5], np.int8)))
    put("codes_u16.npy", npy_bytes(np.array([0x3C00, 0x7BFF, 0x8001, 0x7E00], np.uint16)))
    put("codes_f.npy", npy_bytes(np.array([1.0, 2.0])))
    ok = npy_bytes(np.arange(100.0))
    put("empty.npy", b"")
    put("a.npz", zip_bytes({"a.npy": npy_bytes(np.arange(3.0))}))
    put("trunc.npy", ok[:200])
    put("head.npy", ok[:50])
    put("text.npy", b"hello\n")
    put("obj.npy", npy_bytes(np.array([1, "a"], object), allow_pickle=True))
    # ---- text and raw binaries
    put("vals.txt", b"0.1\n1.5\n-2\n3e-5\n65504\n")
    put("vals_bad.txt", b"1\nabc\n2\n")
    put("vals.csv", b"0.5 0.25\n-0.125\n")
    put("codes.txt", b"0x3c00\n0x7e00\n0b0011110000000000\n0_01111_0000000000\nzz\n0x1ffff\n")
    put("f32.bin", np.array([0.1, 1, 3e38, -2.5], "<f4").tobytes())
    put("f16.bin", np.array([0.1, 1, 65504, -2.5], "<f2").tobytes())
    put("f64.bin", np.array([0.1, 1, 1e300, -2.5], "<f8").tobytes())
    put("odd.bin", b"\x00\x00\x80\x3f\x00\x00\x00")
    put("codes.u16", np.array([0x3C00, 0x7E00, 0x0001, 0xFC00], "<u2").tobytes())
    put("codes.u32", np.array([0x3F800000, 0x3F800001], "<u4").tobytes())
    put("packed.bin", bytes([0x21, 0x43, 0x05]))
    put("binary.dat", bytes((i * 97 + 5) % 256 for i in range(256)))
    put("blob.raw", bytes((i * 97 + 5) % 256 for i in range(256)))
    put("empty.bin", b"")
    put("big_token.txt", b"1\n2 " + b"7" * ((1 << 20) + 4096) + b" 3\n4\n")
    put("bom_crlf.txt", b"\xef\xbb\xbf1.5\r\n2\r\n0.1 0.2\t0.3\r\n")
    # ---- checkpoints
    ents = model_entries()
    put("model.safetensors", st_bytes(ents, {"format": "pt", "source": "precli-corpus"}))
    put("model-fp8.safetensors", st_bytes(fp8_entries()))
    put("bad-fp8.safetensors", st_bytes(fp8_entries(corrupt=True)))
    put("model-nvfp4.safetensors", st_bytes(nvfp4_entries()))
    put("bad-nvfp4.safetensors", st_bytes(nvfp4_entries(corrupt=True)))
    put("ct-nvfp4.safetensors", st_bytes(nvfp4_entries("ct")))
    put("gptoss.safetensors", st_bytes(gptoss_entries()))
    put("awq.safetensors", st_bytes(int4_entries("awq")))
    put("gptq.safetensors", st_bytes(int4_entries("gptq")))
    put("ct-int4.safetensors", st_bytes(ct_int4_entries()))
    bad_layout = [e if not e[0].endswith("_scale_inv") else
                  (e[0], e[1], [3, 3], np.ones(9, "<f4").tobytes())
                  for e in fp8_entries()[:2]]
    put("bad-layout.safetensors", st_bytes(bad_layout))
    put("shape-diff.safetensors", st_bytes([
        ("model.embed_tokens.weight", "BF16", [64, 128],
         bf16_bits(np.ones((64, 128), np.float32)).tobytes()),
        ("extra.weight", "F32", [4], np.ones(4, "<f4").tobytes())]))
    write_sharded(d / "sharded", ents)
    write_sharded(d / "sharded-missing", ents, missing=True)
    (d / "empty-dir").mkdir()
    write_plan_model(d / "plan.safetensors")
    write_gguf(d / "model.gguf")
    write_onnx(d)
    put("arrays.npz", zip_bytes({
        "a.npy": npy_bytes((g.standard_normal((16, 32)) * 0.1).astype(np.float32)),
        "b.npy": npy_bytes((g.standard_normal(32) * 0.1).astype(np.float16)),
        "c.npy": npy_bytes(np.arange(5, dtype=np.int32))}))
    for name, data in hostile_files().items():
        put(name, data)
    # files that exist but cannot be opened: a symlink to itself (ELOOP) and a socket (ENXIO)
    os.symlink("loop", d / "loop")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        old = os.getcwd()
        os.chdir(d)  # bind a relative name: the path length limit of AF_UNIX
        try:
            sock.bind("sock")
        finally:
            os.chdir(old)


# ====================================================================== cases


@dataclass
class Case:
    """One command line: ``python -m precli *argv`` in the fixture directory."""

    id: str  # "<subcommand>/<what>", unique
    argv: list[str]
    stdin: bytes | None = None  # bytes fed to stdin; None: stdin is /dev/null
    stdin_file: str | None = None  # or a fixture file fed to stdin
    env: dict[str, str] = field(default_factory=dict)  # overrides on top of base_env()
    tty: tuple[str, ...] = ()  # "stdin" / "stdout": attached to a pseudo-terminal instead


W60 = {"COLUMNS": "60"}
W120 = {"COLUMNS": "120"}
COLOR = {"FORCE_COLOR": "1", "TERM": "xterm-256color"}
NOCOLOR = {"NO_COLOR": "1"}


class _Cases:
    def __init__(self) -> None:
        self.items: list[Case] = []
        self.ids: set[str] = set()

    def __call__(self, cid: str, *argv: str, stdin: bytes | str | None = None,
                 stdin_file: str | None = None, env: dict[str, str] | None = None,
                 tty: tuple[str, ...] = ()) -> None:
        if cid in self.ids:
            raise ValueError(f"duplicate case id {cid!r}")
        self.ids.add(cid)
        data = stdin.encode() if isinstance(stdin, str) else stdin
        self.items.append(Case(cid, list(argv), data, stdin_file, dict(env or {}), tty))


def _app_cases(c: _Cases) -> None:
    c("app/version", "--version")
    c("app/version-short", "-V")
    c("app/help", "--help")
    c("app/help-w60", "--help", env=W60)
    c("app/help-w120-color", "--help", env={**W120, **COLOR})
    c("app/no-args")
    c("app/unknown-command", "frobnicate")
    c("app/unknown-command-near", "encdoe", "1")
    c("app/unknown-option", "--frob")
    for cmd in ("info", "encode", "decode", "compare", "check", "diff", "plan"):
        c(f"{cmd}/help", cmd, "--help")
    c("encode/help-w60", "encode", "--help", env=W60)
    c("compare/help-w120", "compare", "--help", env=W120)
    c("plan/help-color", "plan", "-h", env=COLOR)
    c("check/missing-argument", "check")
    c("diff/missing-argument", "diff", "model.safetensors")
    c("encode/unknown-option", "encode", "1", "--as", "fp16", "--frob")
    c("encode/option-needs-value", "encode", "1", "--as")
    c("check/bad-int-option", "check", "model.safetensors", "--jobs", "two")
    c("compare/bad-float-option", "compare", "w.npy", "--min-sqnr", "lots")


def _completion_cases(c: _Cases) -> None:
    """Shell completion as completions/ drives it (bash, zsh, fish): _PRECLI_COMPLETE set."""
    for cid, words in (("commands", "precli "), ("info-formats", "precli info b"),
                       ("encode-as-blocks", "precli encode 1 --as mx"),
                       ("decode-from-elements", "precli decode 0x1 --from mx"),
                       ("round", "precli encode 1 --as fp16 --round n"),
                       ("output", "precli decode 0x1 --from fp16 -o "),
                       ("decode-input-format", "precli decode --input-format "),
                       ("compare-scheme", "precli compare w.npy --scheme "),
                       ("compare-granularity", "precli compare w.npy --granularity c")):
        parts = words.split(" ")
        c(f"complete/bash-{cid}", env={"_PRECLI_COMPLETE": "complete_bash",
                                       "COMP_WORDS": words, "COMP_CWORD": str(len(parts) - 1)})
    c("complete/zsh-encode-input-format", env={
        "_PRECLI_COMPLETE": "complete_zsh",
        "_TYPER_COMPLETE_ARGS": "precli encode - --as fp16 --input-format f"})
    c("complete/fish-plan-emit", env={
        "_PRECLI_COMPLETE": "complete_fish", "_TYPER_COMPLETE_FISH_ACTION": "get-args",
        "_TYPER_COMPLETE_ARGS": "precli plan m.gguf --emit "})
    c("complete/fish-plan-objective", env={
        "_PRECLI_COMPLETE": "complete_fish", "_TYPER_COMPLETE_FISH_ACTION": "get-args",
        "_TYPER_COMPLETE_ARGS": "precli plan m.gguf --objective "})


def _info_cases(c: _Cases) -> None:
    c("info/all-default", "info")
    for mode in ("table", "json", "csv"):
        c(f"info/all-{mode}", "info", "-o", mode)
    c("info/all-table-w60", "info", "-o", "table", env=W60)
    c("info/all-table-w120-color", "info", "-o", "table", env={**W120, **COLOR})
    c("info/all-table-no-color-flag", "info", "-o", "table", "--no-color", env=COLOR)
    c("info/fp16-table-nocolor-env", "info", "fp16", "-o", "table", env={**COLOR, **NOCOLOR})
    for mode in ("table", "json", "csv", "plain"):
        c(f"info/fp16-{mode}", "info", "fp16", "--output", mode)
    c("info/fp16-table-color", "info", "fp16", "-o", "table", env=COLOR)
    c("info/several-json", "info", "fp16", "bf16", "tf32", "e4m3fnuz", "-o", "json")
    c("info/custom-e6m9-json", "info", "e6m9", "-o", "json")
    c("info/aliases", "info", "torch.bfloat16", "np.float16", "jnp.bfloat16",
      "ml_dtypes.float8_e4m3fn", "onnx.TensorProto.FLOAT4E2M1", "torch.float", "np.float_")
    c("info/trap-e4m3", "info", "e4m3", "float8_e4m3")
    c("info/trap-fp6-e2m1", "info", "fp6", "e2m1", "e3m2", "-o", "csv")
    for mode in ("table", "csv", "json"):
        c(f"info/values-e2m1fn-{mode}", "info", "e2m1fn", "--values", "-o", mode)
    c("info/values-table-color", "info", "uint2", "--values", "-o", "table", env=COLOR)
    for mode in ("table", "json"):
        c(f"info/blocks-{mode}", "info", "--blocks", "-o", mode)
    c("info/mxfp4-table", "info", "mxfp4", "-o", "table")
    c("info/mxfp4-json", "info", "mxfp4", "-o", "json")
    c("info/blocks-several-ndjson", "info", "mxfp8", "mxfp6", "mxint8", "nvfp4", "-o", "ndjson")
    # errors
    c("info/unknown-fp17", "info", "fp17")
    c("info/unknown-fp61", "info", "fp61")
    c("info/unknown-nothing-near", "info", "qqqqqqqqqq")
    c("info/ambiguous-float", "info", "float")
    c("info/custom-too-wide", "info", "e10m60")
    c("info/custom-exponent-too-wide", "info", "e16m2")
    c("info/custom-e1", "info", "e1m3")
    c("info/custom-e1m1fnuz", "info", "e1m1fnuz")
    c("info/blocks-with-name", "info", "--blocks", "fp16")
    c("info/blocks-mixed", "info", "mxfp4", "fp16")
    c("info/blocks-values", "info", "nvfp4", "--values")
    c("info/values-too-wide", "info", "fp16", "--values")
    c("info/bad-output-raw", "info", "-o", "raw")
    c("info/one-bad-of-three", "info", "fp16", "bf17", "fp32")


def _encode_cases(c: _Cases) -> None:
    for mode in ("table", "json", "csv", "ndjson"):
        c(f"encode/tf32-{mode}", "encode", "3.14", "--as", "tf32", "-o", mode)
    c("encode/tf32-raw", "encode", "3.14", "1", "-1", "--as", "tf32", "-o", "raw")
    c("encode/default-plain", "encode", "-3.14", "-inf", "-0", "--as", "bf16")
    c("encode/table-w120-color", "encode", "0.1", "--as", "fp16", "-o", "table",
      env={**W120, **COLOR})
    c("encode/tty-default-table", "encode", "0.1", "--as", "fp16", tty=("stdout",))
    c("encode/many-table-color", "encode", *[str(v / 4) for v in range(12)], "--as", "e5m2",
      "-o", "table", env={**W120, **COLOR})
    c("encode/options-first", "encode", "--as", "fp16", "--output", "csv", "1", "-1e5", "2")
    c("encode/double-dash-equals", "encode", "--as=e5m2", "--output=json", "--", "-1", "0.3")
    c("encode/specials-ndjson", "encode", "nan", "-nan", "inf", "-inf", "0", "-0", "1e-999999999",
      "1e999999999", "0x1.8p+1", "--as", "fp16", "-o", "ndjson")
    c("encode/fnuz-specials-csv", "encode", "nan", "-0", "inf", "300", "--as", "e4m3fnuz",
      "-o", "csv")
    c("encode/overflow-e4m3fn-csv", "encode", "464", "465", "-465", "--as", "e4m3fn", "-o",
      "csv")
    c("encode/overflow-saturate", "encode", "465", "inf", "--as", "e4m3fn", "--saturate")
    c("encode/overflow-e4m3-trap", "encode", "448", "--as", "E4M3")
    c("encode/e8m0-ties", "encode", "3", "0", "-1", "1e-45", "--as", "e8m0fnu", "-o", "csv")
    for mode in ("nearest-away", "odd"):
        c(f"encode/round-{mode}", "encode", "3.14", "-3.14", "2.5", "--as", "tf32", "--round",
          mode, "-o", "csv")
    c("encode/round-alias-rz", "encode", "0.1", "0.3", "--as", "e4m3fn", "-r", "rz")
    c("encode/stochastic-seed-json", "encode", "0.1", "0.1", "0.1", "0.1", "--as", "bf16",
      "--round", "stochastic", "--seed", "42", "-o", "json")
    c("encode/stochastic-seed-stream", "encode", "-", "--as", "e4m3fn", "-r", "sr", "--seed",
      "18446744073709551615", "-o", "csv", stdin="0.1\n0.1\n0.3\n1e-3\n")
    c("encode/int8-scale-zp-csv", "encode", "1.3", "-200", "--as", "int8", "--scale", "0.5",
      "--zero-point", "3", "-o", "csv")
    c("encode/int8-scale-table", "encode", "1.3", "--as", "int8", "--scale", "0.5",
      "--zero-point", "3", "-o", "table")
    c("encode/uint4-json", "encode", "7", "20", "-1", "--as", "uint4", "-o", "json")
    c("encode/nf4-scale-ndjson", "encode", "0.3", "-0.7", "1.5", "--as", "nf4", "--scale", "2",
      "-o", "ndjson")
    c("encode/int-stream-scale", "encode", "--as", "int8", "--scale", "0.25", "-o", "csv",
      stdin="1\n-3.3\n100\nx\n")
    c("encode/int64-fp64-csv", "encode", "-9223372036854775808", "1e30", "--as", "int64",
      "-o", "csv")
    c("encode/fp64-json", "encode", "0.1", "1e-320", "--as", "fp64", "-o", "json")
    # raw and packing
    c("encode/raw-fp16", "encode", "1", "0.1", "-2", "--as", "fp16", "-o", "raw")
    c("encode/raw-pack-fp4", "encode", "0.5", "1", "1.5", "2", "3", "--as", "fp4", "-o", "raw",
      "--pack")
    c("encode/raw-pack-fp6", "encode", "0.5", "7.5", "-1", "1", "2", "--as", "fp6", "-o",
      "raw", "--pack")
    c("encode/raw-bad-value", "encode", "1", "abc", "nan", "--as", "fp4", "-o", "raw")
    c("encode/raw-stream-pack", "encode", "-", "--as", "uint4", "-o", "raw", "--pack",
      stdin="1\n2\n3\n")
    # block formats
    blockvals = [f"{v:g}" for v in np.linspace(-3, 5, 40)]
    for mode in ("plain", "table"):
        c(f"encode/mxfp4-{mode}", "encode", *blockvals, "--as", "mxfp4", "-o", mode)
    c("encode/mxfp4-raw", "encode", *blockvals, "--as", "mxfp4", "-o", "raw")
    c("encode/mxfp4-raw-pack", "encode", *blockvals, "--as", "mxfp4", "-o", "raw", "--pack")
    c("encode/nvfp4-table-w120", "encode", *blockvals[:20], "--as", "nvfp4", "-o", "table",
      env=W120)
    c("encode/nvfp4-raw", "encode", "0.1", "1", "-6", "1e-3", "--as", "nvfp4", "-o", "raw")
    c("encode/mxfp8-raw", "encode", "0.1", "1", "-6", "--as", "mxfp8", "-o", "raw")
    c("encode/mxfp6-stdin", "encode", "-", "--as", "mxfp6", "-o", "csv",
      stdin="0.25000000000000000001\n4\n-1\n")
    c("encode/mxfp4-npy", "encode", "--input", "small.npy", "--as", "mxfp4", "-o", "ndjson")
    c("encode/mxfp4-f32-stdin", "encode", "-", "--input-format", "f32", "--as", "mxfp4",
      stdin_file="f32.bin")
    c("encode/block-one-value-json", "encode", "2", "--as", "mxfp4", "-o", "json")
    # streams: every good value keeps its output, the bad ones an error record in place
    c("encode/stream-strict", "encode", "-", "--as", "fp16", "--strict", stdin="1\nabc\n2\n")
    c("encode/stream-piped-no-dash", "encode", "--as", "e4m3fn", "-o", "ndjson",
      stdin="1\n2\n3\n")
    bad_stream = "1\n0.1 abc\n١٢\n1e400\n\n-0\nnan\n#x\n0x1p-3 65520\n"
    for mode in ("plain", "ndjson", "csv", "json", "table"):
        c(f"encode/stream-bad-mixed-{mode}", "encode", "-", "--as", "fp16", "-o", mode,
          stdin=bad_stream)
    c("encode/stream-bad-mixed-fp4-csv", "encode", "-", "--as", "fp4", "-o", "csv",
      stdin="nan\n1\n-nan\n2.5\n")
    c("encode/stream-strict-ndjson", "encode", "-", "--as", "bf16", "-o", "ndjson",
      "--strict", stdin=bad_stream)
    c("encode/stream-bom-crlf", "encode", "--input", "bom_crlf.txt", "--as", "fp16")
    c("encode/stream-big-token-ndjson", "encode", "-", "--as", "bf16", "-o", "ndjson",
      stdin_file="big_token.txt")
    c("encode/stream-table-many", "encode", "-", "--as", "bf16", "-o", "table",
      stdin="".join(f"{i / 7:.6f}\n" for i in range(30)))
    c("encode/stream-f32-raw", "encode", "-", "--input-format", "f32", "--as", "bf16", "-o",
      "raw", stdin_file="f32.bin")
    c("encode/stream-f64-file-json", "encode", "--input", "f64.bin", "--input-format", "f64",
      "--as", "fp32", "-o", "json")
    c("encode/stream-f32-stray-bytes", "encode", "-", "--input-format", "f32", "--as", "fp16",
      stdin_file="odd.bin")
    c("encode/npy-input", "encode", "--input", "small.npy", "--input-format", "npy", "--as",
      "fp16", "-o", "csv")
    c("encode/npy-big-endian", "encode", "--input", "be.npy", "--as", "fp32")
    c("encode/npy-opaque-dtype", "encode", "--input", "bf.npy", "--input-format", "npy",
      "--dtype", "bf16", "--as", "fp32")
    # data errors (exit 1)
    c("encode/value-is-a-file", "encode", "small.npy", "--as", "fp16")
    c("encode/value-non-ascii", "encode", "١٢", "１２", "--as", "fp16")
    c("encode/value-bad-strict-json", "encode", "1", "abc", "2", "--as", "fp16", "--strict",
      "-o", "json")
    c("encode/value-nan-fp4", "encode", "nan", "--as", "fp4")
    c("encode/value-long-bad", "encode", "x" * 5000, "--as", "fp16")
    # usage errors (exit 2)
    c("encode/err-missing-as", "encode", "1")
    c("encode/err-as-without-value", "encode", "1", "--as")
    c("encode/err-unknown-format", "encode", "1", "--as", "fp17")
    c("encode/err-unknown-round", "encode", "1", "--as", "fp16", "--round", "nearest")
    c("encode/err-seed-no-stochastic", "encode", "1", "--as", "fp16", "--seed", "1")
    c("encode/err-seed-range", "encode", "1", "--as", "fp16", "-r", "sr", "--seed", "-1")
    c("encode/err-zero-point-float", "encode", "1", "--as", "fp16", "--zero-point", "1")
    c("encode/err-scale-float", "encode", "1", "--as", "bf16", "--scale", "2")
    c("encode/err-scale-abc", "encode", "1", "--as", "int8", "--scale=abc")
    c("encode/err-scale-zero", "encode", "1", "--as", "int8", "--scale", "0")
    c("encode/err-zero-point-range", "encode", "1", "--as", "int8", "--zero-point", "300")
    c("encode/err-zero-point-nf4", "encode", "1", "--as", "nf4", "--zero-point", "1")
    c("encode/err-pack-no-raw", "encode", "1", "--as", "fp4", "--pack")
    c("encode/err-pack-fp16", "encode", "1", "--as", "fp16", "-o", "raw", "--pack")
    c("encode/err-dtype-no-npy", "encode", "1", "--as", "fp16", "--dtype", "bf16")
    c("encode/err-dash-mixed", "encode", "1", "-", "--as", "fp16")
    c("encode/err-values-and-input", "encode", "1", "--input", "vals.txt", "--as", "fp16")
    c("encode/err-input-format-args", "encode", "1", "--as", "fp16", "--input-format", "f32")
    c("encode/err-input-format-unknown", "encode", "-", "--as", "fp16", "--input-format",
      "f8", stdin="1\n")
    c("encode/err-npy-needs-input", "encode", "-", "--as", "fp16", "--input-format", "npy",
      stdin="1\n")
    c("encode/err-no-values-tty", "encode", "--as", "fp16", tty=("stdin",))
    c("encode/err-raw-to-terminal", "encode", "1", "--as", "fp16", "-o", "raw",
      tty=("stdout",))
    c("encode/err-input-missing", "encode", "--input", "missing.txt", "--as", "fp16")
    c("encode/err-block-dtype", "encode", "1", "--as", "mxfp4", "--dtype", "bf16")
    c("encode/err-block-pack-no-raw", "encode", "1", "--as", "mxfp4", "--pack")
    c("encode/err-block-pack-mxfp8", "encode", "1", "--as", "mxfp8", "-o", "raw", "--pack")
    c("encode/err-block-round", "encode", "1", "--as", "nvfp4", "--round", "up")
    c("encode/err-block-several", "encode", "1", "--as", "mxfp4", "--saturate", "--scale", "2",
      "--seed", "1")
    c("encode/err-block-bad-value", "encode", "1", "abc", "--as", "mxfp4")
    c("encode/err-bad-output", "encode", "1", "--as", "fp16", "-o", "yaml")
    for name, path in (("empty", "empty.npy"), ("npz", "a.npz"), ("trunc", "trunc.npy"),
                       ("header", "head.npy"), ("text", "text.npy"), ("pickle", "obj.npy"),
                       ("missing", "missing.npy"), ("complex", "complex.npy"),
                       ("bool", "bool.npy")):
        c(f"encode/err-npy-{name}", "encode", "--as", "bf16", "--input", path,
          "--input-format", "npy")
    c("encode/err-npy-opaque-no-dtype", "encode", "--input", "bf.npy", "--as", "fp32")
    c("encode/err-npy-dtype-not-opaque", "encode", "--input", "small.npy", "--dtype", "bf16",
      "--as", "fp32")
    c("encode/err-npy-dtype-size", "encode", "--input", "bf.npy", "--dtype", "fp8", "--as",
      "fp32")


def _decode_cases(c: _Cases) -> None:
    c("decode/e5m2-plain", "decode", "0x7b", "--from", "e5m2")
    for mode in ("table", "json", "plain"):
        c(f"decode/fp16-bits-{mode}", "decode", "0 10000 1001001000", "--from", "fp16", "-o",
          mode)
    c("decode/table-w60", "decode", "0x3dcd", "--from", "bf16", "-o", "table", env=W60)
    c("decode/table-color", "decode", "0x3dcd", "0x7f80", "--from", "bf16", "-o", "table",
      env=COLOR)
    c("decode/many-table", "decode", *[f"0x{i:02x}" for i in range(0, 256, 23)], "--from",
      "e4m3fn", "-o", "table", env=W120)
    c("decode/forms", "decode", "0x7e", "0b01111110", "0111_1110", "0.1111.110", "0X7E",
      "--from", "e4m3fn")
    c("decode/int8-scale-zp-json", "decode", "0xfd", "0x05", "--from", "int8", "--scale",
      "0.5", "--zero-point", "3", "-o", "json")
    c("decode/nf4-scale-csv", "decode", "0x0", "0xf", "0x7", "--from", "nf4", "--scale", "2",
      "-o", "csv")
    c("decode/e8m0-ndjson", "decode", "0x00", "0x7f", "0xfe", "0xff", "--from", "e8m0fnu",
      "-o", "ndjson")
    # streams
    bad = "0x3c00\n0.1\nzz\n0x1ffff\n0b1\n0_01111_0000000000\n0x\n"
    for mode in ("plain", "ndjson", "csv", "table"):
        c(f"decode/stream-bad-{mode}", "decode", "-", "--from", "fp16", "-o", mode, stdin=bad)
    c("decode/stream-strict", "decode", "-", "--from", "fp16", "--strict", stdin=bad)
    c("decode/stream-scale-csv", "decode", "-", "--from", "uint8", "--scale", "0.1",
      "--zero-point", "128", "-o", "csv", stdin="0x00\n0x80\n0xff\nqq\n")
    c("decode/stream-big-token-csv", "decode", "-", "--from", "bf16", "-o", "csv",
      stdin_file="big_token.txt")
    c("decode/u16-file-csv", "decode", "--input", "codes.u16", "--from", "fp16",
      "--input-format", "u16", "-o", "csv")
    c("decode/u8-bad-code", "decode", "-", "--from", "fp4", "--input-format", "u8",
      stdin=bytes([1, 2, 0x1F, 3]))
    c("decode/u32-tf32-containers", "decode", "--input", "codes.u32", "--from", "tf32",
      "--input-format", "u32", "-o", "csv")
    c("decode/u16-odd-bytes", "decode", "-", "--from", "fp16", "--input-format", "u16",
      stdin=b"\x00\x3c\x00")
    c("decode/packed-fp4", "decode", "--input", "packed.bin", "--from", "fp4",
      "--input-format", "packed")
    c("decode/packed-fp6-ndjson", "decode", "-", "--from", "fp6", "--input-format", "packed",
      "-o", "ndjson", stdin=bytes([0x50, 0x10, 0x83]))
    c("decode/packed-int2-table", "decode", "-", "--from", "int2", "--input-format", "packed",
      "-o", "table", stdin=bytes([0b11100100]))
    c("decode/npy-codes", "decode", "--input", "codes_u8.npy", "--input-format", "npy",
      "--from", "e4m3fn", "-o", "csv")
    c("decode/npy-signed-codes", "decode", "--input", "codes_i8.npy", "--from", "int8")
    c("decode/npy-opaque", "decode", "--input", "bf.npy", "--input-format", "npy", "--from",
      "bf16", "-o", "csv")
    # errors
    c("decode/err-missing-from", "decode", "0x1")
    c("decode/err-unknown-format", "decode", "0x1", "--from", "bfloat61")
    c("decode/err-block-format", "decode", "0x1", "--from", "mxfp4")
    c("decode/err-scale-float", "decode", "-", "--from", "fp16", "--scale", "2", "-o", "json",
      stdin="0x3c00\n")
    c("decode/err-zero-point-nf4", "decode", "0x1", "--from", "nf4", "--zero-point", "1")
    c("decode/err-scale-bad", "decode", "0x1", "--from", "int8", "--scale", "1e")
    c("decode/err-code-too-wide", "decode", "0x1ffff", "0b111111111111111111", "--from",
      "fp16", "-o", "json")
    c("decode/err-not-a-code", "decode", "0xZZ", "12", "0x١٢", "--from", "fp16")
    c("decode/err-looks-like-value", "decode", "0.1", "--from", "fp16")
    c("decode/err-long-code", "decode", "0x" + "f" * 3000, "--from", "fp16")
    c("decode/err-output-raw", "decode", "0x1", "--from", "fp16", "-o", "raw")
    c("decode/err-input-format-f32", "decode", "-", "--from", "fp16", "--input-format", "f32",
      stdin=b"\x00\x00\x80\x3f")
    c("decode/err-npy-needs-input", "decode", "-", "--from", "fp16", "--input-format", "npy",
      stdin="")
    c("decode/err-input-missing", "decode", "--input", "missing.bin", "--from", "fp16",
      "--input-format", "u16")
    c("decode/err-npy-missing", "decode", "--input", "missing.npy", "--from", "fp16",
      "--input-format", "npy")
    c("decode/err-npy-float-codes", "decode", "--input", "codes_f.npy", "--from", "fp16")
    c("decode/err-npy-opaque-size", "decode", "--input", "bf.npy", "--from", "fp8")
    c("decode/err-npy-empty", "decode", "--input", "empty.npy", "--from", "fp16",
      "--input-format", "npy")
    c("decode/err-npy-socket", "decode", "--input", "sock", "--from", "fp16",
      "--input-format", "npy")
    c("decode/err-npy-not-whole", "decode", "--input", "trunc.npy", "--from", "fp16",
      "--input-format", "npy")
    c("decode/err-npy-header", "decode", "--input", "head.npy", "--from", "fp16",
      "--input-format", "npy")
    c("decode/err-npy-text", "decode", "--input", "text.npy", "--from", "fp16",
      "--input-format", "npy")
    c("decode/err-npy-pickle", "decode", "--input", "obj.npy", "--from", "fp16",
      "--input-format", "npy")
    c("decode/err-dash-mixed", "decode", "-", "0x1", "--from", "fp16")
    c("decode/err-input-format-args", "decode", "0x1", "--from", "fp16", "--input-format",
      "u8")
    c("decode/err-no-values-tty", "decode", "--from", "fp16", tty=("stdin",))


RECIPES = "bf16,e4m3fn,e4m3fn:tensor,e4m3fn:channel,e4m3fn:block16x64:ue8m0,int8:channel," \
          "int4:group128,nf4,mxfp4,nvfp4"


def _compare_cases(c: _Cases) -> None:
    # one value
    c("compare/value-plain", "compare", "3.14")
    for mode in ("table", "json"):
        c(f"compare/value-{mode}", "compare", "3.14", "-o", mode)
    c("compare/value-table-w60", "compare", "0.1", "-o", "table", env=W60)
    c("compare/value-table-w120-color", "compare", "0.1", "-o", "table", env={**W120, **COLOR})
    c("compare/value-formats", "compare", "1e5", "-F", "fp16,bf16,e4m3fn,e4m3,int8", "-o",
      "csv")
    c("compare/value-saturate", "compare", "1e5", "-F", "fp16,e4m3fn,e5m2", "--saturate",
      "-o", "table", env=W120)
    c("compare/values-two", "compare", "0.1", "-2.5", "-F", "fp16,nf4", "-o", "csv")
    c("compare/value-nan-errors", "compare", "nan", "-F", "fp16,fp4,int8,e4m3fnuz")
    c("compare/value-trap-note", "compare", "448", "-F", "e4m3,e2m1")
    # formats side by side
    c("compare/formats-plain", "compare", "fp16", "bf16", "tf32")
    for mode in ("table", "json", "ndjson"):
        c(f"compare/formats-{mode}", "compare", "fp16", "bf16", "tf32", "-o", mode)
    c("compare/formats-table-no-color-flag", "compare", "fp16", "bf16", "-o", "table",
      "--no-color", env=COLOR)
    c("compare/formats-fp8-table-w120-color", "compare", "e4m3fn", "e5m2", "e4m3", "e4m3fnuz",
      "-o", "table", env={**W120, **COLOR})
    # arrays
    for mode in ("table", "json", "csv"):
        c(f"compare/array-{mode}", "compare", "w.npy", "-F", RECIPES, "-o", mode,
          env=W120 if mode == "table" else None)
    c("compare/array-table-w60", "compare", "w.npy", "-F", "bf16,e4m3fn:tensor,nvfp4", "-o",
      "table", env=W60)
    c("compare/array-default-formats-plain", "compare", "w.npy")
    c("compare/array-min-sqnr-met", "compare", "w.npy", "-F", RECIPES, "--min-sqnr", "30",
      "-o", "table", env=W120)
    c("compare/array-min-sqnr-unmet", "compare", "w.npy", "-F", "nvfp4,mxfp4", "--min-sqnr",
      "60", "-o", "csv")
    c("compare/array-outlier-csv", "compare", "o.npy", "-F", "bf16,fp16,e4m3fn,e4m3fn:tensor",
      "-o", "csv")
    c("compare/array-plot", "compare", "w.npy", "-F", "bf16,fp16,e4m3fn,e5m2", "--plot", "-o",
      "table", env=W120)
    c("compare/array-recipes-more", "compare", "w.npy", "-F",
      "mxfp4:rceil,mxfp8_e5m2,mxfp6_e3m2,mxint8,int4:group32:bf16,uint8:tensor,"
      "e4m3fn:block8x8:fp16,fp6:channel,FLOAT8_E4M3FN:TENSOR", "-o", "csv")
    c("compare/array-scheme-granularity", "compare", "w.npy", "-F", "int8,uint8,int4:group64",
      "--scheme", "asymmetric", "--granularity", "channel", "-o", "csv")
    c("compare/array-axis", "compare", "t3.npy", "-F", "nf4,mxfp4,int4:group16", "--axis", "1",
      "-o", "csv")
    c("compare/array-axis-channel", "compare", "t3.npy", "-F", "int8", "--granularity",
      "channel", "--axis", "2", "-o", "json")
    c("compare/array-round-saturate", "compare", "o.npy", "-F", "fp16,e4m3fn", "--round",
      "toward-zero", "--saturate", "-o", "csv")
    c("compare/array-specials", "compare", "specials.npy", "-F", "fp16,e4m3fn,nvfp4,int8",
      "-o", "csv")
    c("compare/array-empty", "compare", "zero.npy", "-F", "fp16,mxfp4", "-o", "json")
    c("compare/array-bool", "compare", "bool.npy", "-F", "fp16", "-o", "csv")
    c("compare/text-stdin", "compare", "-", "-F", "e2m1fn,mxfp4", "-o", "csv",
      stdin="4\n0.25000000000000000001\n")
    c("compare/text-piped-no-args", "compare", "-F", "bf16,e4m3fn", "-o", "ndjson",
      stdin="1 2 3 0.1\n")
    c("compare/text-file", "compare", "vals.txt", "-F", "fp16,bf16,e4m3fn", "-o", "table",
      env=W120)
    c("compare/text-bad-values", "compare", "vals_bad.txt", "-F", "fp16")
    c("compare/text-beyond-float64", "compare", "-", "-F", "fp16", stdin="1e400\n1e-400\n1\n")
    c("compare/raw-f32-file", "compare", "f32.bin", "--input-format", "f32", "-F",
      "bf16,fp16", "-o", "csv")
    c("compare/raw-f64-stray", "compare", "-", "--input-format", "f64", "-F", "fp16",
      stdin_file="odd.bin")
    # checkpoints
    ck = "bf16,e4m3fn:tensor,int8:channel,int4:group128,nvfp4"
    c("compare/ckpt-table-w120", "compare", "model.safetensors", "-F", ck, "-o", "table",
      env=W120)
    c("compare/ckpt-table-all-color", "compare", "model.safetensors", "-F", "e4m3fn,nvfp4",
      "--all", "-o", "table", env={**W120, **COLOR})
    c("compare/ckpt-ndjson-tensors", "compare", "model.safetensors", "-F", ck, "--tensors",
      r"layers\.0\.mlp", "-o", "ndjson")
    c("compare/ckpt-plain-exclude", "compare", "model.safetensors", "-F", "bf16,nvfp4",
      "--exclude", "layers")
    c("compare/ckpt-jobs-csv", "compare", "model.safetensors", "-F", "e4m3fn:tensor,mxfp4",
      "-j", "2", "-o", "csv")
    c("compare/ckpt-min-sqnr", "compare", "model.safetensors", "-F", ck, "--min-sqnr", "25",
      "-o", "table", env=W120)
    c("compare/ckpt-min-sqnr-unmet", "compare", "model.safetensors", "-F", "nvfp4",
      "--min-sqnr", "80", "-o", "csv")
    c("compare/ckpt-fp8-layout", "compare", "model-fp8.safetensors", "-F", "e4m3fn,bf16",
      "-o", "table", env=W120)
    c("compare/ckpt-gptoss-table", "compare", "gptoss.safetensors", "-F", "mxfp4,bf16", "-o",
      "table", env=W120)
    c("compare/ckpt-awq-csv", "compare", "awq.safetensors", "-F", "int4:group16,fp16", "-o",
      "csv")
    c("compare/ckpt-sharded-dir", "compare", "sharded", "-F", "bf16,nvfp4", "-o", "table",
      env=W120)
    c("compare/ckpt-sharded-missing", "compare", "sharded-missing", "-F", "bf16", "-o", "csv")
    c("compare/ckpt-gguf-table", "compare", "model.gguf", "-F", "bf16,e4m3fn:channel,mxfp4",
      "-o", "table", env=W120)
    # these small fixtures hold only 1-D and small tensors: --small compares them
    c("compare/ckpt-onnx-table", "compare", "model.onnx", "-F", "fp16,e4m3fn", "-o", "table",
      "--small", env=W120)
    c("compare/ckpt-all-set-aside", "compare", "model.onnx", "-F", "fp16,e4m3fn", "-o",
      "table", env=W120)
    c("compare/ckpt-onnx-ext-csv", "compare", "ext.onnx", "-F", "bf16,int8:channel", "-o",
      "csv", "--small")
    c("compare/ckpt-onnx-ext-missing", "compare", "ext-missing.onnx", "-F", "bf16")
    c("compare/ckpt-npz-csv", "compare", "arrays.npz", "-F", "fp16,mxfp4", "-o", "csv",
      "--small")
    # errors
    c("compare/err-array-only-values", "compare", "3.14", "--plot")
    c("compare/err-array-only-many", "compare", "fp16", "bf16", "--scheme", "symmetric",
      "--axis", "1", "--all", "-j", "2")
    c("compare/err-block-format-names", "compare", "fp16", "mxfp4")
    c("compare/err-block-value", "compare", "3.14", "-F", "nvfp4")
    c("compare/err-recipe-value", "compare", "3.14", "-F", "e4m3fn:tensor")
    c("compare/err-no-input-tty", "compare", tty=("stdin",))
    c("compare/err-two-items-bad", "compare", "1", "foo.npy")
    c("compare/err-two-items-mixed", "compare", "1", "fp16")
    c("compare/err-neither-file-nor-format", "compare", "fp61")
    c("compare/err-no-such-file", "compare", "nothing.npy")
    c("compare/err-unreadable-file", "compare", "sock", "-F", "fp16")
    c("compare/err-unknown-format-value", "compare", "1", "-F", "fp16,bf17")
    c("compare/err-binary-file", "compare", "blob.raw")
    c("compare/err-npy-no-magic", "compare", "h-magicless.npy")
    c("compare/err-raw-odd-file", "compare", "odd.bin", "--input-format", "f32")
    c("compare/err-input-format", "compare", "w.npy", "--input-format", "f8")
    c("compare/err-text-missing", "compare", "missing.txt", "--input-format", "text")
    c("compare/err-axis-text", "compare", "vals.txt", "--axis", "0")
    c("compare/err-axis-range", "compare", "w.npy", "-F", "nf4", "--axis", "5")
    c("compare/err-channel-1d", "compare", "small.npy", "-F", "int8", "--granularity",
      "channel")
    c("compare/array-0d-channel", "compare", "scalar.npy", "-F", "int8:channel")
    c("compare/err-complex", "compare", "complex.npy", "-F", "fp16")
    c("compare/err-plot-json", "compare", "w.npy", "-F", "fp16", "--plot", "-o", "json")
    c("compare/err-granularity", "compare", "w.npy", "-F", "int8", "--granularity", "row")
    c("compare/err-scheme", "compare", "w.npy", "-F", "int8", "--scheme", "sym")
    c("compare/err-ckpt-options-array", "compare", "w.npy", "-F", "fp16", "--tensors", "x")
    c("compare/err-saturate-scaled", "compare", "w.npy", "-F", "e4m3fn:tensor,mxfp4",
      "--saturate")
    c("compare/err-scheme-no-int", "compare", "w.npy", "-F", "fp16,nvfp4", "--scheme",
      "symmetric")
    c("compare/err-granularity-not-bare", "compare", "w.npy", "-F", "int8:group32",
      "--granularity", "channel")
    c("compare/err-block-size-no-nf4", "compare", "w.npy", "-F", "int8", "--block-size", "32")
    c("compare/err-round-scaled", "compare", "w.npy", "-F", "nvfp4", "--round", "down")
    c("compare/err-listed-twice", "compare", "w.npy", "-F", "e4m3fn:tensor,FP8:tensor")
    c("compare/err-too-wide-cast", "compare", "w.npy", "-F", "e15m48")
    for rid, recipe in (("form", "e4m3fn:tensor:fp32:x"),
                        ("scaling", "e4m3fn:row"), ("scale-format", "e4m3fn:tensor:fp8"),
                        ("scale-as-element", "e8m0fnu:tensor"), ("too-wide", "int64:tensor"),
                        ("group0", "int4:group0"),
                        ("block-huge", "e4m3fn:block4096x4096"), ("nvfp4-scaling",
                                                                  "nvfp4:tensor"),
                        ("mx-rule", "mxfp4:floor:rceil"),
                        ("unknown-format", "fp7:tensor")):
        c(f"compare/err-recipe-{rid}", "compare", "w.npy", "-F", recipe)
    c("compare/err-ckpt-axis", "compare", "model.safetensors", "-F", "fp16", "--axis", "0")
    c("compare/err-ckpt-plot", "compare", "model.safetensors", "-F", "fp16", "--plot", "-o",
      "table")
    c("compare/err-ckpt-no-match", "compare", "model.safetensors", "-F", "fp16", "--tensors",
      "nothing-matches")
    c("compare/err-ckpt-bad-regex", "compare", "model.safetensors", "-F", "fp16", "--tensors",
      "layers[")
    c("compare/err-ckpt-jobs0", "compare", "model.safetensors", "-F", "fp16", "-j", "0")
    c("compare/err-ckpt-empty-dir", "compare", "empty-dir", "-F", "fp16")


def _hostile_cases(c: _Cases) -> None:
    skip = ("h-magicless", "h-header-past", "h-utf8", "h-trailing", "h-list", "h-noshape",
            "h-offsets", "h-backwards", "h-truncated.gguf", "h-empty.safetensors")
    names = [n for n in hostile_files() if not n.startswith(skip)]
    for n in names:
        c(f"hostile/compare-{n}", "compare", n, "-F", "bf16")
    c("hostile/check-truncated", "check", "h-truncated.safetensors")
    c("hostile/plan-v4-gguf", "plan", "h-v4.gguf", "-F", "nvfp4", "--bits", "5")
    c("hostile/diff-pickle", "diff", "model.safetensors", "h-pickle.pt")


def _check_cases(c: _Cases) -> None:
    c("check/fp8-plain", "check", "model-fp8.safetensors")
    for mode in ("table",):
        c(f"check/fp8-{mode}", "check", "model-fp8.safetensors", "-o", mode)
    c("check/bad-fp8-plain", "check", "bad-fp8.safetensors")
    c("check/bad-fp8-table-w120", "check", "bad-fp8.safetensors", "-o", "table", env=W120)
    c("check/bad-fp8-table-w60-color", "check", "bad-fp8.safetensors", "-o", "table",
      env={**W60, **COLOR})
    c("check/bad-fp8-ndjson", "check", "bad-fp8.safetensors", "-o", "ndjson")
    c("check/bad-fp8-csv", "check", "bad-fp8.safetensors", "-o", "csv")
    c("check/bad-fp8-table-nocolor-env", "check", "bad-fp8.safetensors", "-o", "table",
      env={**COLOR, **NOCOLOR})
    c("check/nvfp4-plain", "check", "model-nvfp4.safetensors")
    c("check/bad-nvfp4-ndjson", "check", "bad-nvfp4.safetensors", "-o", "ndjson")
    c("check/bad-nvfp4-exclude-jobs", "check", "bad-nvfp4.safetensors", "--exclude", "embed",
      "-j", "2")
    c("check/ct-nvfp4", "check", "ct-nvfp4.safetensors", "-o", "json")
    c("check/gptoss", "check", "gptoss.safetensors")
    c("check/awq", "check", "awq.safetensors", "-o", "ndjson")
    c("check/gptq", "check", "gptq.safetensors")
    c("check/ct-int4", "check", "ct-int4.safetensors", "-o", "table", env=W120)
    c("check/bad-layout", "check", "bad-layout.safetensors")
    c("check/gguf", "check", "model.gguf", "-o", "ndjson")
    c("check/sharded-missing", "check", "sharded-missing")
    c("check/err-no-match", "check", "model-fp8.safetensors", "--tensors", "^nothing$")
    c("check/err-missing", "check", "missing.safetensors")
    c("check/err-cannot-open", "check", "loop")
    c("check/err-jobs0", "check", "model-fp8.safetensors", "-j", "0")
    c("check/err-output-raw", "check", "model-fp8.safetensors", "-o", "raw")
    c("check/err-bad-regex", "check", "model-fp8.safetensors", "--tensors", "*")


def _diff_cases(c: _Cases) -> None:
    for mode in ("table", "ndjson", "csv"):
        c(f"diff/fp8-{mode}", "diff", "model.safetensors", "model-fp8.safetensors", "-o", mode,
          env=W120 if mode == "table" else None)
    c("diff/fp8-table-w60", "diff", "model.safetensors", "model-fp8.safetensors", "--tensors",
      r"layers\.0\.", "-o", "table", env=W60)
    c("diff/fp8-table-color", "diff", "model.safetensors", "model-fp8.safetensors",
      "--tensors", "mlp", "-o", "table", env={**W120, **COLOR})
    c("diff/self", "diff", "model.safetensors", "model.safetensors", "-o", "csv")
    c("diff/nvfp4-ndjson", "diff", "model.safetensors", "model-nvfp4.safetensors", "-o",
      "ndjson")
    c("diff/ct-nvfp4-exclude-jobs", "diff", "model.safetensors", "ct-nvfp4.safetensors",
      "--exclude", "embed", "-j", "2", "-o", "csv")
    c("diff/bad-fp8", "diff", "model.safetensors", "bad-fp8.safetensors", "-o", "table",
      env=W120)
    c("diff/sharded-vs-fp8", "diff", "sharded", "model-fp8.safetensors", "--tensors",
      "layers.1")
    c("diff/shape-differs", "diff", "model.safetensors", "shape-diff.safetensors", "-o",
      "ndjson")
    c("diff/missing-shard", "diff", "model.safetensors", "sharded-missing", "-o", "csv")
    c("diff/err-no-match", "diff", "model.safetensors", "model-fp8.safetensors", "--tensors",
      "zzz")
    c("diff/err-missing", "diff", "model.safetensors", "missing.safetensors")
    c("diff/err-jobs0", "diff", "model.safetensors", "model-fp8.safetensors", "-j", "0")
    c("diff/err-output", "diff", "model.safetensors", "model-fp8.safetensors", "-o", "raw")


def _plan_cases(c: _Cases) -> None:
    pf = ["-F", "bf16,e4m3fn:tensor,int8:channel,nvfp4"]
    c("plan/bits-plain", "plan", "plan.safetensors", *pf, "--bits", "6")
    for mode in ("table", "json"):
        c(f"plan/bits-{mode}", "plan", "plan.safetensors", *pf, "--bits", "6", "-o", mode,
          env=W120 if mode == "table" else None)
    c("plan/table-w60", "plan", "plan.safetensors", *pf, "--bits", "6", "-o", "table",
      env=W60)
    c("plan/table-color", "plan", "plan.safetensors", *pf, "--bits", "7", "-o", "table",
      env={**W120, **COLOR})
    c("plan/size-kB", "plan", "plan.safetensors", *pf, "--size", "15kB", "-o", "json")
    c("plan/min-sqnr-alone", "plan", "plan.safetensors", *pf, "--min-sqnr", "30", "-o",
      "table", env=W120)
    c("plan/objective-worst", "plan", "plan.safetensors", *pf, "--bits", "6", "--objective",
      "worst", "-o", "json")
    c("plan/keep", "plan", "plan.safetensors", *pf, "--bits", "12", "--keep",
      "lm_head=stored", "--keep", "attn=nvfp4", "-o", "csv")
    c("plan/no-stored", "plan", "plan.safetensors", "-F", "bf16,nvfp4", "--bits", "8",
      "--no-stored", "--no-default-pins")
    c("plan/tensors-jobs", "plan", "plan.safetensors", *pf, "--bits", "7", "--tensors",
      "layers", "-j", "2", "-o", "json")
    c("plan/scheme", "plan", "plan.safetensors", "-F", "int8:group32,int4:group32", "--scheme",
      "symmetric", "--bits", "6", "-o", "csv")
    c("plan/emit-yaml", "plan", "plan.safetensors", "-F", "bf16,nvfp4,mxfp4", "--bits", "5",
      "--emit", "yaml")
    c("plan/emit-llama", "plan", "plan.safetensors", "-F", "bf16,int8:group32,mxfp4",
      "--scheme", "symmetric", "--bits", "7", "--emit", "llama-quantize")
    c("plan/emit-llama-gguf", "plan", "model.gguf", "-F", "bf16,mxfp4", "--bits", "6",
      "--emit", "LLAMA-QUANTIZE")
    c("plan/bf16-model-table", "plan", "model.safetensors", "-F", "e4m3fn:channel,nvfp4,mxfp4",
      "--bits", "7", "-o", "table", env=W120)
    c("plan/npy", "plan", "w.npy", "-F", "bf16,nvfp4,mxfp4", "--bits", "5", "-o", "table",
      env=W120)
    # errors
    c("plan/err-unmet-bits", "plan", "plan.safetensors", "-F", "nvfp4", "--bits", "3")
    c("plan/err-unmet-sqnr", "plan", "plan.safetensors", "-F", "nvfp4", "--min-sqnr", "60",
      "--no-stored")
    c("plan/min-sqnr-all-stored", "plan", "plan.safetensors", "-F", "nvfp4", "--min-sqnr",
      "60", "-o", "plain")
    base = ["plan", "plan.safetensors", "-F", "nvfp4,e4m3fn:tensor"]
    for pid, args in (
        ("bits-and-size", ["--bits", "4", "--size", "1GB"]),
        ("size-unit", ["--size", "4G"]),
        ("size-zero", ["--size", "0"]),
        ("bits-text", ["--bits", "many"]),
        ("bits-negative", ["--bits", "-2"]),
        ("no-budget", []),
        ("objective", ["--bits", "4", "--objective", "best"]),
        ("objective-worst-no-size", ["--min-sqnr", "20", "--objective", "worst"]),
        ("emit", ["--bits", "4", "--emit", "json"]),
        ("emit-and-output", ["--bits", "4", "--emit", "yaml", "-o", "json"]),
        ("emit-llama-no-ggml", ["--bits", "6", "--emit", "llama-quantize"]),
        ("keep-not-in-formats", ["--bits", "6", "--keep", "lm_head=bf16"]),
        ("keep-form", ["--bits", "6", "--keep", "lm_head"]),
        ("keep-regex", ["--bits", "6", "--keep", "lm_head(=nvfp4"]),
        ("keep-bad-recipe", ["--bits", "6", "--keep", "x=fp7"]),
        ("scheme", ["--bits", "6", "--scheme", "asym"]),
        ("output-ndjson", ["--bits", "6", "-o", "ndjson"]),
        ("no-match", ["--bits", "6", "--tensors", "^none$"]),
        ("jobs0", ["--bits", "6", "-j", "0"]),
    ):
        c(f"plan/err-{pid}", *base, *args)
    c("plan/default-formats", "plan", "plan.safetensors", "--bits", "6", "-o", "json")
    c("plan/err-missing-file", "plan", "nope.safetensors", "-F", "nvfp4", "--bits", "5")
    c("plan/err-bad-recipe", "plan", "plan.safetensors", "-F", "nvfp4:tensor", "--bits", "5")
    c("plan/err-damaged-shard", "plan", "sharded-missing", "-F", "nvfp4", "--bits", "5")


def cases() -> list[Case]:
    """Every case, in a fixed order; ids are unique and start with the subcommand."""
    c = _Cases()
    _app_cases(c)
    _completion_cases(c)
    _info_cases(c)
    _encode_cases(c)
    _decode_cases(c)
    _compare_cases(c)
    _hostile_cases(c)
    _check_cases(c)
    _diff_cases(c)
    _plan_cases(c)
    return c.items


# ====================================================================== running

#: Environment variables that steer colour, width or terminal detection in precli, Rich,
#: Typer or Click; removed before a case's own overrides are applied.
STRIPPED_ENV = ("FORCE_COLOR", "CLICOLOR_FORCE", "CLICOLOR", "NO_COLOR", "COLUMNS", "LINES",
                "COLORTERM", "TERM", "TERMINAL_WIDTH", "PY_COLORS", "GITHUB_ACTIONS",
                "TTY_COMPATIBLE", "TTY_INTERACTIVE", "JUPYTER_COLUMNS", "JUPYTER_LINES",
                "_TYPER_FORCE_DISABLE_TERMINAL", "_TYPER_STANDARD_TRACEBACK",
                "PYTHONWARNINGS", "PYTHONDEVMODE", "PYTHONIOENCODING", "PYTHONUTF8",
                "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE")

#: Bytecode of precli and numpy is cached here across the hundreds of interpreter starts
#: (with PYTHONDONTWRITEBYTECODE set, each start would compile numpy again: twice the time).
PYCACHE = Path(tempfile.gettempdir()) / "precli-corpus-pycache"


def base_env() -> dict[str, str]:
    """os.environ without what steers colour, width or warnings, then TERM=dumb,
    PYTHONIOENCODING=utf-8, COLUMNS=100 (a case's own overrides go on top)."""
    env = {k: v for k, v in os.environ.items()
           if k not in STRIPPED_ENV and not k.startswith("_PRECLI_COMPLETE")}
    env.update(TERM="dumb", PYTHONIOENCODING="utf-8", COLUMNS="100")
    env.setdefault("PYTHONPYCACHEPREFIX", str(PYCACHE))
    return env


@dataclass
class Result:
    stdout: bytes
    stderr: bytes
    exit: int


def run_case(case: Case, cwd: Path, python: str = sys.executable) -> Result:
    """Run one case as ``python -m precli ARGV`` in cwd (the fixture directory)."""
    env = {**base_env(), **case.env}
    argv = [python, "-m", "precli", *case.argv]
    if case.tty:
        return _run_tty(case, argv, env, cwd)
    data = case.stdin
    if case.stdin_file is not None:
        data = (cwd / case.stdin_file).read_bytes()
    if data is None:  # no stdin: /dev/null (not a terminal, so precli reads it, empty)
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=env,
                           cwd=cwd, timeout=TIMEOUT)
    else:
        p = subprocess.run(argv, input=data, capture_output=True, env=env, cwd=cwd,
                           timeout=TIMEOUT)
    return Result(p.stdout, p.stderr, p.returncode)


def read_master(master: int, timeout: float) -> bytes:
    """Everything a child writes to a pseudo-terminal, read from its master side until the
    child closes its side (or writes nothing for ``timeout`` seconds)."""
    out = bytearray()
    while select.select([master], [], [], timeout)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its side
            break
        if not chunk:
            break
        out += chunk
    return bytes(out)


def _run_tty(case: Case, argv: list[str], env: dict[str, str], cwd: Path) -> Result:
    """stdin and/or stdout on a pseudo-terminal (what precli sees when typed at); stdout
    read back from the terminal's master side (line endings as the terminal writes them)."""
    import fcntl
    import pty
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    with tempfile.TemporaryFile() as err:
        try:
            p = subprocess.Popen(
                argv, cwd=cwd, env=env, stderr=err,
                stdin=slave if "stdin" in case.tty else subprocess.DEVNULL,
                stdout=slave if "stdout" in case.tty else subprocess.PIPE)
        finally:
            os.close(slave)
        out = bytearray()
        try:
            if "stdout" in case.tty:
                out += read_master(master, TIMEOUT)
            else:
                assert p.stdout is not None
                out += p.stdout.read()
            p.wait(timeout=TIMEOUT)
        finally:
            if p.stdout is not None:
                p.stdout.close()
            os.close(master)
        err.seek(0)
        return Result(bytes(out), err.read(), p.returncode)


def run_cases(items: list[Case], cwd: Path, workers: int | None = None,
              progress: Callable[[int, int], None] | None = None) -> list[Result]:
    """Every case, in parallel threads (one per CPU by default); results in case order."""
    workers = workers or os.cpu_count() or 1
    done = 0
    results: list[Result | None] = [None] * len(items)

    def one(i: int) -> None:
        nonlocal done
        results[i] = run_case(items[i], cwd)
        done += 1
        if progress is not None:
            progress(done, len(items))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(len(items))))
    return [r for r in results if r is not None]


# ====================================================================== the record


def output_mode(case: Case) -> str | None:
    """The --output / -o value of a case, if any."""
    a = case.argv
    for i, x in enumerate(a):
        if x in ("-o", "--output") and i + 1 < len(a):
            return a[i + 1].lower()
        if x.startswith("--output="):
            return x.split("=", 1)[1].lower()
    return None


def encode_bytes(data: bytes, binary: bool = False) -> dict[str, str]:
    """{"text": ...} for UTF-8 text, else {"hex": ...} (raw output) or {"base64": ...}."""
    if not binary:
        try:
            return {"text": data.decode("utf-8")}
        except UnicodeDecodeError:
            pass
        return {"base64": base64.b64encode(data).decode()}
    return {"hex": data.hex()}


def decode_bytes(obj: dict[str, str] | None) -> bytes | None:
    if obj is None:
        return None
    if "text" in obj:
        return obj["text"].encode("utf-8")
    if "hex" in obj:
        return bytes.fromhex(obj["hex"])
    return base64.b64decode(obj["base64"])


def record_entry(case: Case, res: Result) -> dict[str, Any]:
    stdin: dict[str, str] | None = None
    if case.stdin_file is not None:
        stdin = {"file": case.stdin_file}
    elif case.stdin is not None:
        stdin = encode_bytes(case.stdin)
    raw = output_mode(case) == "raw"
    return {"id": case.id, "argv": case.argv, "stdin": stdin, "env": case.env,
            "tty": list(case.tty), "stdout": encode_bytes(res.stdout, binary=raw),
            "stderr": encode_bytes(res.stderr), "exit": res.exit}


def make_record(items: list[Case], results: list[Result]) -> dict[str, Any]:
    return {"format": FORMAT_VERSION,
            "about": "precli CLI outputs: tests/cli_corpus.py defines the cases, "
                     "scripts/record_cli_corpus.py records them, "
                     "tests/test_cli_corpus.py replays them",
            "cases": [record_entry(c, r) for c, r in zip(items, results, strict=True)]}


def dump_record(rec: dict[str, Any]) -> str:
    return json.dumps(rec, indent=1, ensure_ascii=False) + "\n"


def load_record(path: Path = RECORD) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _hex_lines(data: bytes) -> list[str]:
    return [f"{i:08x}  {data[i:i + 16].hex(' ')}" for i in range(0, len(data), 16)]


def compare_to_record(items: list[Case], results: list[Result], rec: dict[str, Any]
                      ) -> list[str]:
    """A short report per case that differs from the record (or is missing from it, or
    is in it but no longer defined); empty when every case matches byte for byte."""
    import difflib

    recorded = {e["id"]: e for e in rec["cases"]}
    problems: list[str] = []
    for case, res in zip(items, results, strict=True):
        want = recorded.pop(case.id, None)
        if want is None:
            problems.append(f"{case.id}: not in the record (re-record)")
            continue
        if want["argv"] != case.argv or want["env"] != case.env:
            problems.append(f"{case.id}: the case changed since it was recorded (re-record)")
            continue
        diffs = []
        if want["exit"] != res.exit:
            diffs.append(f"  exit: recorded {want['exit']}, now {res.exit}")
        for stream, got in (("stdout", res.stdout), ("stderr", res.stderr)):
            exp = decode_bytes(want[stream]) or b""
            if exp == got:
                continue
            if "text" in want[stream]:
                a = exp.decode("utf-8", "backslashreplace").splitlines()
                b = got.decode("utf-8", "backslashreplace").splitlines()
            else:  # binary: a hex dump, 16 bytes a line
                a, b = _hex_lines(exp), _hex_lines(got)
            lines = list(difflib.unified_diff(a, b, f"{stream} (recorded)", f"{stream} (now)",
                                              n=1, lineterm=""))
            if not lines:  # differ only in bytes that splitlines hides (line ends)
                lines = [f"recorded {exp!r:.200}", f"now      {got!r:.200}"]
            shown = lines[:24] + ([f"... {len(lines) - 24} more diff lines"]
                                  if len(lines) > 24 else [])
            diffs.append("\n".join("  " + x for x in shown))
        if diffs:
            problems.append(f"{case.id}: {' '.join(case.argv)[:120]}\n" + "\n".join(diffs))
    for cid in recorded:
        problems.append(f"{cid}: in the record but no longer a case (re-record)")
    return problems
