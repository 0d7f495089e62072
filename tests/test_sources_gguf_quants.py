"""GGUF quantized types: precli's decoded values equal the gguf package's
``gguf.quants.dequantize`` bit for bit, for every type precli decodes (and precli decodes
every type the package dequantizes).

Blocks come from gguf's own ``quantize`` where it has one, and are random bytes with finite
fp16 scales for every type: every bit pattern of the codes is exercised; fully random bytes
(NaN and infinite scales included) are compared too, NaN-aware through the bit patterns."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from precli.sources import CheckpointError, ggml_grids, open_checkpoint
from precli.sources.ggml_quants import DECODERS
from precli.sources.gguf import DECODED, GGML_TYPES

gguf = pytest.importorskip("gguf")
Q = gguf.GGMLQuantizationType

#: byte offsets of each type's fp16 scale fields (ggml-common.h)
F16_AT = {"Q8_0": [0], "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2],
          "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208],
          "IQ4_NL": [0], "IQ4_XS": [0], "TQ1_0": [52], "TQ2_0": [64], "IQ2_XXS": [0],
          "IQ2_XS": [0], "IQ2_S": [0], "IQ3_XXS": [0], "IQ3_S": [0], "IQ1_S": [0]}


def random_blocks(rng: np.random.Generator, qtype: Any, n_blocks: int) -> np.ndarray:
    """Random block bytes whose fp16 fields are finite numbers of moderate size."""
    _, block, tsize = GGML_TYPES[int(qtype)]
    raw = rng.integers(0, 256, (n_blocks, tsize)).astype(np.uint8)
    for at in F16_AT.get(qtype.name, []):
        vals = (rng.standard_normal(n_blocks) * 0.01).astype("<f2")
        raw[:, at:at + 2] = vals.view(np.uint8).reshape(n_blocks, 2)
    if qtype.name == "IQ1_M":  # d's 16 bits are the top nibbles of the 4 scale words
        d = (rng.standard_normal(n_blocks) * 0.01).astype("<f2").view("<u2").astype(np.uint16)
        words = raw[:, 48:56].copy().view("<u2") & np.uint16(0x0FFF)
        for k in range(4):
            words[:, k] |= ((d >> (4 * k)) & 15) << 12
        raw[:, 48:56] = words.view(np.uint8)
    return raw


def write(path: Path, tensors: list[tuple[str, np.ndarray, Any, tuple[int, ...]]]) -> Path:
    w = gguf.GGUFWriter(str(path), "llama")
    for name, data, qtype, _shape in tensors:
        w.add_tensor(name, data, raw_shape=data.shape, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def same_bits(got: np.ndarray, want: np.ndarray) -> bool:
    return got.dtype == np.float32 and np.array_equal(
        got.view(np.uint32), np.asarray(want, np.float32).view(np.uint32))


def test_every_type_the_package_dequantizes_is_decoded() -> None:
    plain = {"F32", "F16", "BF16", "F64", "I8", "I16", "I32", "I64"}
    dequantizable = []
    for qtype in Q:
        if qtype.name in plain or qtype not in gguf.GGML_QUANT_SIZES:
            continue
        _, tsize = gguf.GGML_QUANT_SIZES[qtype]
        try:
            gguf.quants.dequantize(np.zeros((1, tsize), np.uint8), qtype)
        except NotImplementedError:
            continue
        dequantizable.append(qtype.name)
    assert len(dequantizable) >= 22  # the 23 of gguf 0.19 (NVFP4 from 0.18 on)
    assert sorted(dequantizable) == sorted(set(dequantizable) & set(DECODED))
    assert set(DECODED) == set(DECODERS)


@pytest.mark.parametrize("tname", DECODED)
@pytest.mark.parametrize("n_blocks", [1, 2, 7, 33])
def test_decoders_on_blocks(tname: str, n_blocks: int) -> None:
    rng = np.random.default_rng([sum(map(ord, tname)), n_blocks])
    qtype = Q[tname]
    for raw in (random_blocks(rng, qtype, n_blocks),
                rng.integers(0, 256, random_blocks(rng, qtype, n_blocks).shape)
                .astype(np.uint8)):  # every fp16 pattern too: NaN, inf, subnormal
        with np.errstate(all="ignore"):
            want = gguf.quants.dequantize(raw, qtype)
            got = DECODERS[tname](raw)
        assert got.shape == want.shape
        assert same_bits(got, want), tname


@pytest.mark.parametrize("tname", DECODED)
@pytest.mark.parametrize("rows,blocks", [(1, 1), (3, 2), (2, 5)])
def test_dequantize_bit_for_bit(tmp_path: Path, tname: str, rows: int, blocks: int) -> None:
    rng = np.random.default_rng([sum(map(ord, tname)), rows, blocks])
    qtype = Q[tname]
    _, block, tsize = GGML_TYPES[int(qtype)]
    cols = blocks * block
    tensors = []
    # random bytes: every code pattern
    raw = random_blocks(rng, qtype, rows * blocks).reshape(rows, blocks * tsize)
    tensors.append(("rand", raw, qtype, (rows, cols)))
    try:  # and real data through gguf's own quantizer, where it has one
        x = (rng.standard_normal((rows, cols)) * rng.uniform(0.01, 3)).astype(np.float32)
        tensors.append(("quant", gguf.quants.quantize(x, qtype), qtype, (rows, cols)))
    except (NotImplementedError, gguf.quants.QuantError):
        pass
    p = write(tmp_path / f"{tname}.gguf", tensors)
    ck = open_checkpoint(str(p))
    by = {t.name: t for t in ck.tensors()}
    reader = gguf.GGUFReader(str(p))
    assert len(reader.tensors) == len(tensors)
    for rt in reader.tensors:
        want = gguf.quants.dequantize(np.asarray(rt.data), rt.tensor_type).reshape(-1)
        t = by[rt.name]
        assert t.dtype == tname and t.skip is None and t.shape == (rows, cols)
        assert same_bits(t.read(), want), (tname, rt.name)
        n = rows * cols
        for a, b in [(0, 1), (5, block + 7), (block - 1, 3 * block + 1), (n - 3, n)]:
            if a < b <= n:
                assert same_bits(t.read(a, b), want[a:b]), (tname, rt.name, a, b)


QUANTIZERS = [t for t in DECODED if t in ("Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "TQ1_0",
                                          "TQ2_0", "MXFP4")]


@pytest.mark.parametrize("tname", QUANTIZERS)
def test_package_quantizer_blocks(tname: str) -> None:
    """Blocks as the package's own quantizer writes them (real scales, real codes)."""
    rng = np.random.default_rng(sum(map(ord, tname)))
    qtype = Q[tname]
    _, block, _ = GGML_TYPES[int(qtype)]
    x = (rng.standard_normal((4, 4 * max(block, 256))) * 0.7).astype(np.float32)
    q = gguf.quants.quantize(x, qtype)
    want = gguf.quants.dequantize(q, qtype)
    got = DECODERS[tname](q.reshape(-1, GGML_TYPES[int(qtype)][2])).reshape(want.shape)
    assert same_bits(got, want)


def test_grid_tables_are_the_packages() -> None:
    for name, (cls_name, dtype) in {
        "IQ2XXS_GRID": ("IQ2_XXS", np.uint8), "IQ2XS_GRID": ("IQ2_XS", np.uint8),
        "IQ2S_GRID": ("IQ2_S", np.uint8), "IQ3XXS_GRID": ("IQ3_XXS", np.uint8),
        "IQ3S_GRID": ("IQ3_S", np.uint8), "IQ1S_GRID": ("IQ1_S", np.int8),
    }.items():
        cls = getattr(gguf.quants, cls_name)
        cls.init_grid()
        want = np.asarray(cls.grid, np.float32).reshape(cls.grid_shape)
        ours = np.frombuffer(bytes.fromhex("".join(getattr(ggml_grids, name))), dtype)
        assert getattr(ggml_grids, f"{name}_SHAPE") == tuple(cls.grid_shape)
        assert np.array_equal(ours.reshape(cls.grid_shape).astype(np.float32), want), name
    assert bytes.fromhex("".join(ggml_grids.KSIGNS)) == bytes(gguf.quants.IQ2_XXS.ksigns)
    assert ggml_grids.KSIGNS_SHAPE == (128, 1)


def test_undecoded_types_are_still_skipped(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    _, _, tsize = GGML_TYPES[int(Q.Q8_K)]
    raw = rng.integers(0, 256, (1, 2 * tsize)).astype(np.uint8)
    p = write(tmp_path / "q8k.gguf", [("q8k", raw, Q.Q8_K, (1, 512))])
    t = next(open_checkpoint(str(p)).tensors())
    assert t.skip == "quantized GGUF type Q8_K (not decoded yet)"
    assert t.read is None or t.skip is not None


def _one_tensor_gguf(dims: list[int], gtype: int, data: bytes) -> bytes:
    """A minimal GGUF v3 file (ggml docs/gguf.md) holding one tensor."""
    name = b"w"
    head = b"GGUF" + struct.pack("<IQQ", 3, 1, 0)
    info = (struct.pack("<Q", len(name)) + name + struct.pack("<I", len(dims))
            + struct.pack(f"<{len(dims)}Q", *dims) + struct.pack("<IQ", gtype, 0))
    body = head + info
    body += b"\x00" * (-len(body) % 32)
    return body + data


@pytest.mark.parametrize("tname", [t for t in DECODED if t not in
                                   ("Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K",
                                    "Q6_K", "MXFP4")])
def test_partial_row_is_refused(tmp_path: Path, tname: str) -> None:
    gtype = int(Q[tname])
    _, block, tsize = GGML_TYPES[gtype]
    p = tmp_path / "partial.gguf"
    p.write_bytes(_one_tensor_gguf([block + block // 2, 2], gtype, b"\x00" * (4 * tsize)))
    with pytest.raises(CheckpointError) as e:
        open_checkpoint(str(p))
    assert str(e.value) == (f"{p}: tensor 'w': innermost dimension {block + block // 2} is "
                            f"not a multiple of the {tname} block size ({block})")
