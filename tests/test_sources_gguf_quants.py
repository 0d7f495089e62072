"""GGUF quantized types: precli's decoded values equal the gguf package's
``gguf.quants.dequantize`` bit for bit, for every type precli decodes.

Blocks come from gguf's own ``quantize`` where it has one, and otherwise (the K types) are
random bytes with finite fp16 scales: every bit pattern of the codes is exercised."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from precli.sources import open_checkpoint
from precli.sources.gguf import DECODED, GGML_TYPES

gguf = pytest.importorskip("gguf")
Q = gguf.GGMLQuantizationType



def random_blocks(rng: np.random.Generator, qtype: Any, n_blocks: int) -> np.ndarray:
    """Random block bytes whose fp16 fields are finite numbers of moderate size."""
    _, block, tsize = GGML_TYPES[int(qtype)]
    raw = rng.integers(0, 256, (n_blocks, tsize)).astype(np.uint8)
    f16_at = {"Q8_0": [0], "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2],
              "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [tsize - 2]}.get(qtype.name, [])
    for at in f16_at:
        vals = (rng.standard_normal(n_blocks) * 0.01).astype("<f2")
        raw[:, at:at + 2] = vals.view(np.uint8).reshape(n_blocks, 2)
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


@pytest.mark.parametrize("tname", DECODED)
def test_dequantize_bit_for_bit(tmp_path: Path, tname: str) -> None:
    rng = np.random.default_rng(sum(map(ord, tname)))
    qtype = Q[tname]
    _, block, tsize = GGML_TYPES[int(qtype)]
    rows, cols = 3, 2 * max(block, 256)
    tensors = []
    # random bytes: every code pattern
    raw = random_blocks(rng, qtype, rows * cols // block).reshape(rows, cols // block * tsize)
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
    for rt in reader.tensors:
        want = gguf.quants.dequantize(np.asarray(rt.data), rt.tensor_type).reshape(-1)
        t = by[rt.name]
        assert t.dtype == tname and t.skip is None and t.shape == (rows, cols)
        got = t.read()
        assert got.dtype == np.float32
        assert np.array_equal(got.view(np.uint32), want.astype(np.float32).view(np.uint32)), \
            (tname, rt.name)
        for a, b in [(0, 1), (5, block + 7), (block - 1, 3 * block + 1), (cols - 3, cols + 5)]:
            assert np.array_equal(t.read(a, b).view(np.uint32),
                                  want[a:b].astype(np.float32).view(np.uint32))


def test_undecoded_types_are_still_skipped(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    raw = random_blocks(rng, Q.Q2_K, 2).reshape(1, -1)
    p = write(tmp_path / "q2.gguf", [("q2", raw, Q.Q2_K, (1, 512))])
    t = next(open_checkpoint(str(p)).tensors())
    assert t.skip == "quantized GGUF type Q2_K (not decoded yet)"
