"""A real trained model no one here wrote: the PaddleOCR (PP-OCRv4 / mobile v2.0) ONNX
models shipped inside the rapidocr-onnxruntime wheel (a dev dependency; see pyproject.toml
for why its own runtime dependencies are not installed). Every initializer precli reads
must equal what the onnx package's own reader gives."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from precli.sources import detect, open_checkpoint

onnx = pytest.importorskip("onnx")
from onnx import numpy_helper  # noqa: E402


def shipped_models() -> list[Path]:
    # find the package's files without importing it (it would import opencv/onnxruntime)
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        return []
    root = Path(next(iter(spec.submodule_search_locations)))
    return sorted(root.glob("models/*.onnx"))


MODELS = shipped_models()


@pytest.mark.skipif(not MODELS, reason="rapidocr-onnxruntime (dev dependency shipping "
                    "trained ONNX models) is not installed; run `uv sync`")
@pytest.mark.parametrize("path", MODELS, ids=[p.name for p in MODELS])
def test_every_initializer_matches_onnx(path: Path) -> None:
    assert detect(str(path)) == "onnx"
    ck = open_checkpoint(str(path))
    assert ck.errors == []
    model = onnx.load(str(path))
    # the oracle's list: initializers and Constant-node tensors, in the order the file
    # holds them (a serialized GraphProto writes its nodes before its initializers)
    want_list = [(n.output[0], a.t) for n in model.graph.node if n.op_type == "Constant"
                 for a in n.attribute if a.name == "value"]
    want_list += [(i.name, i) for i in model.graph.initializer]
    ours = list(ck.tensors())
    assert [t.name for t in ours] == [name for name, _ in want_list]
    assert len(ours) > 10
    floats = 0
    for t, (_, proto) in zip(ours, want_list, strict=True):
        want = numpy_helper.to_array(proto)
        assert t.shape == want.shape
        assert t.dtype == onnx.TensorProto.DataType.Name(proto.data_type)
        got = t.read()
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want.reshape(-1))
        if t.skip is None:
            floats += t.numel
    assert floats > 100_000  # the weights, not just shape constants
    assert ck.metadata["ir_version"] == str(model.ir_version)
