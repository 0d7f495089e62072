"""``precli check`` on ONNX models: quantized weights counted and their scales and zero
points linted (the findings of the safetensors layouts), and infinities in tensors the
graph uses only as masks or bounds reported as notes, not findings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from precli.model.check import check_checkpoint

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

F = TensorProto.FLOAT


def precli(*args: str) -> Any:
    return subprocess.run([sys.executable, "-m", "precli", *args], capture_output=True,
                          text=True, timeout=120)


def save(path: Path, nodes: list[Any], inits: list[Any], inputs: list[Any],
         opset: int = 21) -> Path:
    g = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", F, None)],
                          initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 10
    onnx.save(m, str(path))
    return path


def qdq(path: Path, scale: np.ndarray, x: Any | None = None, z: Any | None = None) -> Path:
    rng = np.random.default_rng(0)
    if x is None:
        x = numpy_helper.from_array(rng.integers(-127, 128, (16, 8)).astype(np.int8),
                                    "fc.weight_quantized")
    inits = [x, numpy_helper.from_array(scale, "fc.weight_scale")] + ([z] if z else [])
    nodes = [helper.make_node("DequantizeLinear", [i.name for i in inits], ["w"], axis=1),
             helper.make_node("MatMul", ["a", "w"], ["y"])]
    return save(path, nodes, inits, [helper.make_tensor_value_info("a", F, [2, 16])])


def test_quantized_onnx_weights_are_counted_and_their_scales_linted(tmp_path: Path) -> None:
    good = qdq(tmp_path / "good.onnx", np.full(8, 0.01, np.float32))
    p = precli("check", str(good))
    assert p.returncode == 0, p.stderr
    assert p.stdout.endswith("checked 1 tensor (1 quantized): 0 findings\n")
    s = np.full(8, 0.01, np.float32)
    s[2], s[5], s[6] = np.nan, 0.0, -0.01
    bad = qdq(tmp_path / "bad.onnx", s)
    p = precli("check", str(bad), "-o", "plain")
    assert p.returncode == 1
    lines = p.stdout.splitlines()
    assert lines[:3] == [
        "fc.weight: scale-nan: expected no NaN scale in fc.weight_scale (scales, FLOAT); "
        "found 1 of 8 NaN, first at [2]",
        "fc.weight: scale-zero: expected nonzero scales in fc.weight_scale (scales, FLOAT); "
        "found 1 of 8 zero, first at [5]",
        "fc.weight: scale-negative: expected positive scales in fc.weight_scale (scales, "
        "FLOAT); found 1 of 8 negative, first at [6]",
    ]
    # the NaN scale makes column 2 NaN after dequantization
    assert lines[3] == "fc.weight: nonfinite: expected finite weights; found 16 of 128 NaN or " \
        "infinite, first at [0, 2]"
    assert lines[-1].startswith("checked 1 tensor (1 quantized): 4 findings")


def test_float8_zero_points_must_be_zero(tmp_path: Path) -> None:
    import ml_dtypes

    x = numpy_helper.from_array(np.linspace(-4, 4, 128).astype(ml_dtypes.float8_e4m3fn)
                                .reshape(16, 8), "fc.weight_quantized")
    zv = np.zeros(8, np.float32)
    zv[4] = 0.5
    z = helper.make_tensor("fc.weight_zero_point", TensorProto.FLOAT8E4M3FN, [8], zv.tolist())
    rep = check_checkpoint(str(qdq(tmp_path / "m.onnx", np.full(8, 0.5, np.float32), x, z)))
    assert [(f.check, f.expected, f.found) for f in rep.findings] == [
        ("zero-point", "zero points 0 in fc.weight_zero_point",
         "1 of 8 not, first at [4]: 0.5")]


def test_matmul_nbits_signed_scales_are_no_finding(tmp_path: Path) -> None:
    """onnxruntime's symmetric MatMulNBits quantizer stores negative scales by design."""
    n, k, bs = 4, 32, 16
    b = numpy_helper.from_array(np.full((n, 2, 8), 0x98, np.uint8), "w_Q4")
    sc = numpy_helper.from_array(np.array([0.5, -0.5] * n, np.float32), "w_scales")
    node = helper.make_node("MatMulNBits", ["a", "w_Q4", "w_scales"], ["y"],
                            domain="com.microsoft", K=k, N=n, bits=4, block_size=bs)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("a", F, [1, k])],
                          [helper.make_tensor_value_info("y", F, None)], initializer=[b, sc])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21),
                                            helper.make_opsetid("com.microsoft", 1)])
    path = tmp_path / "nb.onnx"
    onnx.save(m, str(path))
    rep = check_checkpoint(str(path))
    assert rep.findings == [] and rep.summary()["quantized"] == 1
    (t,) = rep.tensors
    assert t.name == "w" and t.params == n * k


def bounds_model(path: Path, lo: float, weight_bad: float | None = None) -> Path:
    """y = Max(a @ W, lo) with lo a Constant (e.g. -inf: a bound, not a weight)."""
    w = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    if weight_bad is not None:
        w[1, 2] = weight_bad
    nodes = [helper.make_node("Constant", [], ["lo"],
                              value=numpy_helper.from_array(np.array([lo], np.float32))),
             helper.make_node("MatMul", ["a", "W"], ["h"]),
             helper.make_node("Max", ["h", "lo"], ["y"])]
    return save(path, nodes, [numpy_helper.from_array(w, "W")],
                [helper.make_tensor_value_info("a", F, [2, 4])], opset=17)


def test_an_infinite_bound_is_a_note_not_a_finding(tmp_path: Path) -> None:
    p = precli("check", str(bounds_model(tmp_path / "m.onnx", -np.inf)), "-o", "plain")
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines() == [
        "note: lo: 1 of 1 NaN or infinite, first at [0]; not a weight: used only by Max (a "
        "mask or a bound)",
        "checked 2 tensors (0 quantized): 0 findings"]
    # an infinity in the MatMul weight is still a finding
    rep = check_checkpoint(str(bounds_model(tmp_path / "w.onnx", -np.inf, np.inf)))
    assert [(f.tensor, f.check) for f in rep.findings] == [("W", "nonfinite")]
    # NaN is a finding wherever it is
    rep = check_checkpoint(str(bounds_model(tmp_path / "n.onnx", np.nan)))
    assert [(f.tensor, f.check) for f in rep.findings] == [("lo", "nonfinite")]
