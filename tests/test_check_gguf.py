"""``precli check`` on GGUF block tensors: files written by the gguf package (GGUFWriter and
its own quantizer) are clean; an injected NaN d is one scale-nan finding naming the tensor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from precli.model.check import check_checkpoint

gguf = pytest.importorskip("gguf")
Q = gguf.GGMLQuantizationType


def write(path: Path, tensors: list[tuple[str, np.ndarray, Any]]) -> str:
    w = gguf.GGUFWriter(str(path), "llama")
    for name, data, qtype in tensors:
        w.add_tensor(name, data, raw_shape=data.shape, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return str(path)


def package_quantized(rng: np.random.Generator) -> list[tuple[str, np.ndarray, Any]]:
    out = []
    for qt in (Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.TQ1_0, Q.TQ2_0, Q.MXFP4):
        x = (rng.standard_normal((4, 512)) * 0.5).astype(np.float32)
        out.append((f"w.{qt.name}", gguf.quants.quantize(x, qt), qt))
    return out


def q4_k_blocks(rng: np.random.Generator, n: int) -> np.ndarray:
    raw = rng.integers(0, 256, (n, 144)).astype(np.uint8)
    d = np.abs(rng.standard_normal((n, 2)) * 0.01).astype("<f2")
    raw[:, 0:4] = d.view(np.uint8)
    return raw


def test_clean_package_files_pass(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    tensors = package_quantized(rng) + [("w.Q4_K", q4_k_blocks(rng, 4).reshape(2, -1), Q.Q4_K)]
    rep = check_checkpoint(write(tmp_path / "clean.gguf", tensors))
    assert rep.findings == [] and rep.errors == []
    assert rep.summary()["quantized"] == len(tensors)


def f16(v: float) -> np.ndarray:
    return np.array([v], "<f2").view(np.uint8)


@pytest.mark.parametrize("qt", ["Q8_0", "Q4_K"])
def test_nan_d_is_found(tmp_path: Path, qt: str) -> None:
    rng = np.random.default_rng(4)
    if qt == "Q8_0":
        data = gguf.quants.quantize(rng.standard_normal((4, 256)).astype(np.float32), Q.Q8_0)
        data[2, 34 * 5: 34 * 5 + 2] = f16(np.nan)  # row 2, block 5
        where, at = "d (block scale, fp16) of its Q8_0 blocks", "[2, 5]"
    else:
        data = q4_k_blocks(rng, 4).reshape(2, -1)
        data[1, 0:2] = f16(np.nan)  # row 1, block 0
        where, at = "d (super-block scale, fp16) of its Q4_K blocks", "[1, 0]"
    rep = check_checkpoint(write(tmp_path / "bad.gguf", [("blk.0.w", data, Q[qt])]))
    scale = [f for f in rep.findings if f.check.startswith("scale-")]
    assert [f.line() for f in scale] == [
        f"blk.0.w: scale-nan: expected no NaN scale in {where}; found 1 of "
        f"{data.size // (34 if qt == 'Q8_0' else 144)} NaN, first in block {at}"]
    assert {f.check for f in rep.findings} == {"scale-nan", "nonfinite"}


def test_negative_d_rule(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 256)).astype(np.float32)
    q40 = gguf.quants.quantize(x, Q.Q4_0)  # the package writes negative d itself
    assert (q40.reshape(-1, 18)[:, :2].copy().view("<f2") < 0).any()
    q80 = gguf.quants.quantize(x, Q.Q8_0)
    q80[0, 0:2] = f16(-0.01)
    rep = check_checkpoint(write(tmp_path / "neg.gguf",
                                 [("a", q40, Q.Q4_0), ("b", q80, Q.Q8_0)]))
    assert [(f.tensor, f.check) for f in rep.findings] == [("b", "scale-negative")]


def test_zero_d_is_a_note(tmp_path: Path) -> None:
    q = gguf.quants.quantize(np.zeros((1, 64), np.float32), Q.Q8_0)
    rep = check_checkpoint(write(tmp_path / "z.gguf", [("z", q, Q.Q8_0)]))
    assert rep.findings == []
    assert len(rep.tensors[0].notes) == 1 and "2 of 2 zero scales" in rep.tensors[0].notes[0]
