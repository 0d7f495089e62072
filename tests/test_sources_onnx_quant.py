"""Quantized ONNX models read as logical tensors (precli.sources.onnx_quant), and the views
the graph gives (precli.sources.onnx_graph).

The oracle is onnxruntime: every dequantized weight precli reads must equal, bit for bit,
what onnxruntime's DequantizeLinear (or MatMulNBits with an identity input) computes from
the same stored tensors. The quantized models are written by onnxruntime.quantization
(quantize_dynamic, quantize_static in QDQ and QOperator formats, MatMulNBitsQuantizer) from
float models built here and from the trained PaddleOCR models of the rapidocr wheel."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from precli.sources import open_checkpoint
from precli.sources.quantized import LayoutError, QuantTensor

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

RNG = np.random.default_rng(18)


# ------------------------------------------------------------------ oracles


def run_graph(nodes: list[Any], inits: list[Any], outputs: list[Any], feeds: dict[str, Any]
              | None = None, inputs: list[Any] | None = None, opset: int = 21) -> Any:
    g = helper.make_graph(nodes, "oracle", inputs or [], outputs, initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset),
                                            helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 10
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds or {})[0]


def ort_dequantize(x: Any, s: Any, z: Any | None, **attrs: int) -> np.ndarray:
    """onnxruntime's DequantizeLinear of stored tensors (TensorProtos)."""
    inits = [_renamed(x, "x"), _renamed(s, "s")] + ([_renamed(z, "z")] if z is not None else [])
    node = helper.make_node("DequantizeLinear", [i.name for i in inits], ["y"], **attrs)
    out = helper.make_tensor_value_info("y", s.data_type, None)
    return np.asarray(run_graph([node], inits, [out]))


def ort_nbits(node: Any, inits: dict[str, Any]) -> np.ndarray:
    """onnxruntime's MatMulNBits with A = I_K: Y = I @ W^T, so Y.T is the [N, K] weight."""
    at = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    k, n = at["K"], at["N"]
    stored = [inits[i] for i in node.input[1:] if i]
    nn = helper.make_node("MatMulNBits", ["A", *node.input[1:]], ["Y"],
                          domain="com.microsoft", **at)
    y = run_graph([nn], stored, [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [k, n])],
                  {"A": np.eye(k, dtype=np.float32)},
                  [helper.make_tensor_value_info("A", TensorProto.FLOAT, [k, k])])
    return np.ascontiguousarray(np.asarray(y).T)


def _renamed(t: Any, name: str) -> Any:
    c = TensorProto()
    c.CopyFrom(t)
    c.name = name
    return c


def bits_equal(got: np.ndarray, want: np.ndarray) -> None:
    want = np.asarray(want).reshape(-1)
    got = np.asarray(got).reshape(-1)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert np.array_equal(got.view(np.uint8), want.view(np.uint8)), \
        float(np.nanmax(np.abs(got.astype(np.float64) - want.astype(np.float64))))


def values_equal(got: np.ndarray, want: np.ndarray) -> None:
    """Equal values, NaN where NaN (the identity-product oracle of MatMulNBits sums a
    -0.0 with +0.0 products, so it cannot tell the sign of a zero)."""
    g = np.asarray(got).reshape(-1)
    w = np.asarray(want).reshape(-1)
    assert g.dtype == w.dtype
    assert np.array_equal(g, w, equal_nan=True)


def stored_tensors(model: Any) -> dict[str, Any]:
    out = {i.name: i for i in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    out[n.output[0]] = a.t
    return out


def oracle_for(q: QuantTensor, model: Any) -> np.ndarray:
    """What onnxruntime computes for one logical tensor, from its parts and the node that
    consumes them in ``model``."""
    inits = stored_tensors(model)
    parts = {role: inits[t.name] for role, t in q.parts}
    el = q.part("elements")
    assert el is not None
    nodes = [n for n in model.graph.node if el.name in n.input]
    node = nodes[0]
    if node.op_type == "MatMulNBits":
        return ort_nbits(node, inits)
    attrs: dict[str, int] = {}
    if node.op_type == "DequantizeLinear":
        attrs = {a.name: a.i for a in node.attribute if a.name in ("axis", "block_size")}
    else:  # the per-channel axis of each consumer, as its spec defines it
        s = numpy_helper.to_array(parts["scales"])
        if s.size > 1:
            trans_b = any(a.name == "transB" and a.i for a in node.attribute)
            attrs["axis"] = {"ConvInteger": 0, "QLinearConv": 0, "MatMulInteger": 1,
                             "QLinearMatMul": 1, "QGemm": 0 if trans_b else 1}[node.op_type]
    return ort_dequantize(parts["elements"], parts["scales"], parts.get("zeros"), **attrs)


# ------------------------------------------------------------------ a float model


def float_model(path: Path) -> Path:
    """MatMul [K, N], Gemm transB [N, K], Conv [M, C, kh, kw] of realistic shapes."""
    w1 = RNG.standard_normal((256, 384)).astype(np.float32) * 0.05
    w2 = RNG.standard_normal((128, 384)).astype(np.float32) * 0.05
    wc = RNG.standard_normal((32, 16, 3, 3)).astype(np.float32) * 0.1
    inits = [numpy_helper.from_array(w1, "fc1.weight"), numpy_helper.from_array(w2, "fc2.weight"),
             numpy_helper.from_array(RNG.standard_normal(128).astype(np.float32), "fc2.bias"),
             numpy_helper.from_array(wc, "conv.weight"),
             numpy_helper.from_array(RNG.standard_normal(32).astype(np.float32), "conv.bias")]
    nodes = [helper.make_node("Conv", ["img", "conv.weight", "conv.bias"], ["c"],
                              pads=[1, 1, 1, 1]),
             helper.make_node("MatMul", ["x", "fc1.weight"], ["h"]),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "fc2.weight", "fc2.bias"], ["y"], transB=1)]
    f = TensorProto.FLOAT
    g = helper.make_graph(nodes, "float", [helper.make_tensor_value_info("img", f, [1, 16, 8, 8]),
                                           helper.make_tensor_value_info("x", f, [4, 256])],
                          [helper.make_tensor_value_info("y", f, [4, 128]),
                           helper.make_tensor_value_info("c", f, [1, 32, 8, 8])],
                          initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
    return path


def calibration(model_path: Path, n: int = 3) -> Any:
    from onnxruntime.quantization import CalibrationDataReader

    m = onnx.load(str(model_path))
    shapes = {}
    for i in m.graph.input:
        dims = [d.dim_value if d.dim_value > 0 else 1 for d in i.type.tensor_type.shape.dim]
        shapes[i.name] = dims

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.it = iter([{k: RNG.standard_normal(v).astype(np.float32)
                             for k, v in shapes.items()} for _ in range(n)])

        def get_next(self) -> Any:
            return next(self.it, None)

    return Reader()


def check_against_ort(path: Path, model: Any | None = None) -> list[QuantTensor]:
    """Every logical tensor of the model read bit for bit as onnxruntime dequantizes it;
    none of its raw parts listed on its own."""
    model = model if model is not None else onnx.load(str(path))
    ck = open_checkpoint(str(path))
    assert ck.errors == []
    names = [t.name for t in ck.tensors()]
    assert len(names) == len(set(names))
    quant = [t for t in ck.tensors() if isinstance(t, QuantTensor)]
    for q in quant:
        want = oracle_for(q, model)
        assert q.shape == want.shape, q.name
        same = values_equal if q.layout == "onnx-nbits" else bits_equal
        same(q.read(), want)
        if q.numel > 10:
            same(q.read(3, q.numel - 5), want.reshape(-1)[3:-5])
        x, s = q.decompose()
        with np.errstate(over="ignore", invalid="ignore"):
            exact = x * s
        close = np.isfinite(exact)
        np.testing.assert_allclose(exact[close], want.reshape(-1)[close].astype(np.float64),
                                   rtol=2 ** -10)
        for _, p in q.parts:
            assert p.name not in names
    return quant


# ------------------------------------------------------------------ onnxruntime's quantizers


def test_quantize_dynamic_pairs_every_weight(tmp_path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src = float_model(tmp_path / "f.onnx")
    for wt, pc in [(QuantType.QInt8, False), (QuantType.QUInt8, True)]:
        out = tmp_path / f"dyn_{wt.name}_{pc}.onnx"
        quantize_dynamic(str(src), str(out), weight_type=wt, per_channel=pc)
        quant = check_against_ort(out)
        by = {q.name: q for q in quant}
        # W_quantized -> W; the Gemm transB weight is stored transposed by the quantizer
        assert sorted(by) == ["conv.weight", "fc1.weight", "fc2.weight_Transposed"]
        assert by["fc1.weight"].shape == (256, 384)
        assert by["fc1.weight"].view is not None
        assert (by["fc1.weight"].view.rows, by["fc1.weight"].view.cols) == ((1,), (0,))
        assert by["fc1.weight"].uses == ("MatMulInteger",)
        assert by["conv.weight"].view is not None
        assert by["conv.weight"].view.cols == (1, 2, 3)
        elem = "INT8" if wt == QuantType.QInt8 else "UINT8"
        assert by["fc1.weight"].dtype == f"{elem}-{'channel' if pc else 'tensor'} " \
            "(ONNX MatMulInteger)"
        # the dequantized weight is the float weight, to within half a step
        orig = numpy_helper.to_array(onnx.load(str(src)).graph.initializer[0])
        x, s = by["fc1.weight"].decompose()
        err = np.abs(by["fc1.weight"].read().astype(np.float64) - orig.reshape(-1))
        assert np.all(err <= s * 0.5 + 1e-7)


@pytest.mark.parametrize("fmt", ["QDQ", "QOperator"])
def test_quantize_static_per_channel(tmp_path: Path, fmt: str) -> None:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    src = float_model(tmp_path / "f.onnx")
    out = tmp_path / f"{fmt}.onnx"
    quantize_static(str(src), str(out), calibration(src), quant_format=QuantFormat[fmt],
                    per_channel=True, weight_type=QuantType.QInt8)
    quant = check_against_ort(out)
    by = {q.name: q for q in quant}
    if fmt == "QDQ":
        # weights and the int32 biases the QDQ format dequantizes
        assert sorted(by) == ["conv.bias", "conv.weight", "fc1.weight", "fc2.bias",
                              "fc2.weight"]
        assert by["fc1.weight"].uses == ("MatMul",)  # the DequantizeLinear's consumer
        assert by["fc2.weight"].uses == ("Gemm",)
    else:
        assert sorted(by) == ["conv.weight", "fc1.weight", "fc2.weight"]
        ck = open_checkpoint(str(out))
        bias = {t.name: t for t in ck.tensors()}["conv.bias_quantized"]
        assert bias.skip is not None and "bias" in bias.skip
    v = by["fc1.weight"].view
    assert v is not None and (v.rows, v.cols) == ((1,), (0,))  # MatMul B [K, N]
    v = by["fc2.weight"].view
    assert v is not None and (v.rows, v.cols) == ((0,), (1,))  # Gemm transB [N, K]
    v = by["conv.weight"].view
    assert v is not None and (v.rows, v.cols) == ((0,), (1, 2, 3))
    assert by["fc1.weight"].dtype.startswith("INT8-channel")


@pytest.mark.parametrize("bits,sym", [(4, False), (4, True), (8, False), (2, False)])
def test_matmul_nbits(tmp_path: Path, bits: int, sym: bool) -> None:
    pytest.importorskip("onnx_ir")
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    src = float_model(tmp_path / "f.onnx")
    cfg = DefaultWeightOnlyQuantConfig(block_size=32, is_symmetric=sym, bits=bits)
    qz = MatMulNBitsQuantizer(onnx.load(str(src)), algo_config=cfg)
    qz.process()
    model = qz.model.model
    out = tmp_path / "nbits.onnx"
    onnx.save(model, str(out))
    quant = check_against_ort(out, model)
    (q,) = [t for t in quant if t.name == "fc1.weight"]
    assert q.shape == (384, 256)  # [N, K]
    assert q.dtype == f"UINT{bits}-block32 (ONNX MatMulNBits)"
    assert q.view is not None and q.view.cols == (1,)
    orig = numpy_helper.to_array(onnx.load(str(src)).graph.initializer[0]).T
    _, s = q.decompose()
    err = np.abs(q.read().astype(np.float64) - orig.reshape(-1))
    # symmetric: signed scales, and the top code of the opposite sign is clipped (one step)
    assert np.all(err <= np.abs(s) * (1.0 if sym else 0.5) + 1e-6)


# ------------------------------------------------------------------ every QDQ element type


QDQ_TYPES = ["INT8", "UINT8", "INT16", "UINT16", "INT4", "UINT4", "FLOAT8E4M3FN",
             "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ"]


def _elements(dtype: str, shape: tuple[int, ...]) -> Any:
    code = getattr(TensorProto, dtype)
    n = int(np.prod(shape))
    if dtype.startswith("FLOAT8"):
        import ml_dtypes

        mld = {"FLOAT8E4M3FN": ml_dtypes.float8_e4m3fn, "FLOAT8E4M3FNUZ": ml_dtypes.float8_e4m3fnuz,
               "FLOAT8E5M2": ml_dtypes.float8_e5m2,
               "FLOAT8E5M2FNUZ": ml_dtypes.float8_e5m2fnuz}[dtype]
        codes = RNG.integers(0, 256, n).astype(np.uint8)
        return numpy_helper.from_array(codes.view(mld).reshape(shape), "w_quantized")
    lo, hi = {"INT8": (-128, 127), "UINT8": (0, 255), "INT16": (-2**15, 2**15 - 1),
              "UINT16": (0, 2**16 - 1), "INT4": (-8, 7), "UINT4": (0, 15)}[dtype]
    vals = RNG.integers(lo, hi, n, endpoint=True)
    if dtype in ("INT4", "UINT4"):
        return helper.make_tensor("w_quantized", code, list(shape), vals.tolist())
    return numpy_helper.from_array(vals.astype(helper.tensor_dtype_to_np_dtype(code))
                                   .reshape(shape), "w_quantized")


def _zero(dtype: str, shape: tuple[int, ...]) -> Any:
    t = _elements(dtype, shape)
    if dtype.startswith("FLOAT8"):
        t = helper.make_tensor("w_zero_point", t.data_type, list(shape),
                               np.zeros(int(np.prod(shape)), np.float32).tolist())
    t.name = "w_zero_point"
    return t


def qdq_model(path: Path, x: Any, s: Any, z: Any | None, consumer: str, **attrs: int) -> Any:
    inits = [x, s] + ([z] if z is not None else [])
    dq = helper.make_node("DequantizeLinear", [i.name for i in inits], ["w"], **attrs)
    f = TensorProto.FLOAT
    if consumer == "MatMul":
        use = helper.make_node("MatMul", ["a", "w"], ["y"])
        a = helper.make_tensor_value_info("a", f, [2, list(x.dims)[0]])
    else:
        use = helper.make_node("Conv", ["a", "w"], ["y"])
        a = helper.make_tensor_value_info("a", f, [1, list(x.dims)[1], 6, 6])
    g = helper.make_graph([dq, use], "qdq", [a], [helper.make_tensor_value_info("y", f, None)],
                          initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 10
    onnx.save(m, str(path))
    return m


@pytest.mark.parametrize("dtype", QDQ_TYPES)
@pytest.mark.parametrize("gran", ["tensor", "axis", "block", "nozero"])
def test_qdq_every_type(tmp_path: Path, dtype: str, gran: str) -> None:
    shape = (64, 48)
    if gran in ("tensor", "nozero"):
        sshape: tuple[int, ...] = ()
        attrs: dict[str, int] = {}
    elif gran == "axis":
        sshape, attrs = (48,), {"axis": 1}
    else:
        sshape, attrs = (3, 48), {"axis": 0, "block_size": 24}  # ceil(64 / 24) = 3
    s = numpy_helper.from_array((np.exp(RNG.standard_normal(sshape) * 2) * 1e-2)
                                .astype(np.float32), "w_scale")
    z = None if gran == "nozero" else _zero(dtype, sshape)
    x = _elements(dtype, shape)
    path = tmp_path / "m.onnx"
    model = qdq_model(path, x, s, z, "MatMul", **attrs)
    (q,) = check_against_ort(path, model)
    assert q.name == "w"
    assert q.shape == shape
    v = q.view
    assert v is not None and (v.rows, v.cols) == ((1,), (0,))


def test_qdq_conv_fp16_scales_and_negative_axis(tmp_path: Path) -> None:
    x = _elements("INT8", (16, 8, 3, 3))
    s = numpy_helper.from_array((np.exp(RNG.standard_normal(16)) * 1e-2).astype(np.float16),
                                "w_scale")
    z = _zero("INT8", (16,))
    path = tmp_path / "m.onnx"
    model = qdq_model(path, x, s, z, "Conv", axis=-4)
    (q,) = check_against_ort(path, model)
    assert q.read().dtype == np.float16
    assert q.view is not None and q.view.cols == (1, 2, 3)


def test_fp4_elements_against_the_onnx_reference(tmp_path: Path) -> None:
    """onnxruntime has no CPU DequantizeLinear for FLOAT4E2M1: the onnx package's
    reference implementation is the oracle."""
    from onnx.reference import ReferenceEvaluator

    vals = RNG.choice([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.5, -1, -6], 64 * 32).astype(np.float32)
    x = helper.make_tensor("w_quantized", TensorProto.FLOAT4E2M1, [64, 32], vals.tolist())
    s = numpy_helper.from_array((np.exp(RNG.standard_normal((64, 2))) * 1e-2)
                                .astype(np.float32), "w_scale")
    path = tmp_path / "m.onnx"
    model = qdq_model(path, x, s, None, "MatMul", axis=1, block_size=16)
    ck = open_checkpoint(str(path))
    (q,) = ck.tensors()
    assert isinstance(q, QuantTensor) and q.element == "e2m1fn"
    dq = model.graph.node[0]
    g = helper.make_graph([dq], "g", [], [helper.make_tensor_value_info("w", 1, None)],
                          initializer=list(model.graph.initializer))
    want = ReferenceEvaluator(helper.make_model(
        g, opset_imports=[helper.make_opsetid("", 23)])).run(None, {})[0]
    bits_equal(q.read(), np.asarray(want, np.float32))


# ------------------------------------------------------------------ a real model


def ocr_models() -> list[Path]:
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        return []
    return sorted(Path(next(iter(spec.submodule_search_locations))).glob("models/*.onnx"))


def constants_to_initializers(m: Any) -> Any:
    """paddle2onnx stores every weight as a Constant node; onnxruntime's quantizers only
    quantize initializers (a Constant weight is quantized at run time instead)."""
    keep = []
    for n in m.graph.node:
        if n.op_type == "Constant" and [a.name for a in n.attribute] == ["value"]:
            t = TensorProto()
            t.CopyFrom(n.attribute[0].t)
            t.name = n.output[0]
            m.graph.initializer.append(t)
        else:
            keep.append(n)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    return m


@pytest.mark.skipif(not ocr_models(), reason="rapidocr-onnxruntime is not installed")
def test_real_ocr_model_quantized_dynamic(tmp_path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    (src,) = [p for p in ocr_models() if "rec" in p.name]
    m = constants_to_initializers(onnx.load(str(src)))
    f = tmp_path / "rec.onnx"
    onnx.save(m, str(f))
    out = tmp_path / "rec_int8.onnx"
    quantize_dynamic(str(f), str(out), weight_type=QuantType.QInt8, per_channel=True)
    quant = check_against_ort(out)
    kinds = {q.dtype for q in quant}
    n_matmul = sum(1 for n in m.graph.node if n.op_type == "MatMul"
                   and n.input[1] in {i.name for i in m.graph.initializer})
    n_conv = sum(1 for n in m.graph.node if n.op_type == "Conv")
    assert len(quant) == n_matmul + n_conv and n_matmul > 0 and n_conv > 0
    assert any("MatMulInteger" in k for k in kinds) and any("ConvInteger" in k for k in kinds)


@pytest.mark.skipif(not ocr_models(), reason="rapidocr-onnxruntime is not installed")
def test_real_ocr_model_quantized_static_qdq(tmp_path: Path) -> None:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    (src,) = [p for p in ocr_models() if "cls" in p.name]
    m = constants_to_initializers(onnx.load(str(src)))
    inp = m.graph.input[0]
    dims = [d.dim_value if d.dim_value > 0 else s
            for d, s in zip(inp.type.tensor_type.shape.dim, [1, 3, 48, 192], strict=True)]
    for d, v in zip(inp.type.tensor_type.shape.dim, dims, strict=True):
        d.dim_value = v
    f = tmp_path / "cls.onnx"
    onnx.save(m, str(f))
    out = tmp_path / "cls_qdq.onnx"
    quantize_static(str(f), str(out), calibration(f, 2), quant_format=QuantFormat.QDQ,
                    per_channel=True, weight_type=QuantType.QInt8)
    quant = check_against_ort(out)
    convs = [q for q in quant if q.uses == ("Conv",) and len(q.shape) == 4]
    assert len(convs) == sum(1 for n in m.graph.node if n.op_type == "Conv")
    assert all(q.view is not None and q.view.rows == (0,) for q in convs)


# ------------------------------------------------------------------ refusals


def test_parts_that_do_not_fit_are_one_named_error_and_stay_listed(tmp_path: Path) -> None:
    x = _elements("INT8", (8, 6))
    s = numpy_helper.from_array(np.ones(5, np.float32), "w_scale")  # axis 1 is 6 long
    path = tmp_path / "m.onnx"
    qdq_model(path, x, s, None, "MatMul", axis=1)
    ck = open_checkpoint(str(path))
    assert [t.name for t in ck.tensors()] == ["w_quantized", "w_scale"]
    (e,) = ck.errors
    assert isinstance(e, LayoutError) and e.check == "packed-size"
    assert str(e).startswith(f"{path}: tensor 'w_scale': expected one scale, or a 1-D scale")


def test_an_unreadable_family_is_skipped_with_a_reason(tmp_path: Path) -> None:
    x = helper.make_tensor("w_quantized", TensorProto.INT2, [8, 4], [0, 1, -2, -1] * 8)
    s = numpy_helper.from_array(np.float32(0.5), "w_scale")
    path = tmp_path / "m.onnx"
    qdq_model(path, x, s, None, "MatMul")
    ck = open_checkpoint(str(path))
    by = {t.name: t for t in ck.tensors()}
    assert sorted(by) == ["w_quantized", "w_scale"]
    assert by["w_quantized"].skip == ("quantized (QDQ) with INT2 elements, which precli does "
                                      "not dequantize")


def test_raw_keeps_the_stored_tensors(tmp_path: Path) -> None:
    x = _elements("INT8", (8, 6))
    s = numpy_helper.from_array(np.full(6, 0.25, np.float32), "w_scale")
    path = tmp_path / "m.onnx"
    qdq_model(path, x, s, None, "MatMul", axis=1)
    assert [t.name for t in open_checkpoint(str(path), raw=True).tensors()] == \
        ["w_quantized", "w_scale"]
    assert [t.name for t in open_checkpoint(str(path)).tensors()] == ["w"]


@pytest.mark.skipif(not ocr_models(), reason="rapidocr-onnxruntime is not installed")
def test_real_ocr_model_matmul_nbits_int4(tmp_path: Path) -> None:
    """The trained PP-OCRv4 recogniser's MatMul weights quantized to int4 by onnxruntime's
    MatMulNBitsQuantizer: every MatMulNBits weight is one logical tensor equal to what
    onnxruntime computes, and diff pairs each with its float original."""
    pytest.importorskip("onnx_ir")
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    from precli.model.diff import diff_checkpoints

    (src,) = [p for p in ocr_models() if "rec" in p.name]
    m = constants_to_initializers(onnx.load(str(src)))
    f = tmp_path / "rec.onnx"
    onnx.save(m, str(f))
    inits = {i.name for i in m.graph.initializer}
    matmuls = [n.input[1] for n in m.graph.node if n.op_type == "MatMul" and n.input[1] in inits]
    cfg = DefaultWeightOnlyQuantConfig(block_size=32, is_symmetric=False, bits=4)
    qz = MatMulNBitsQuantizer(onnx.load(str(f)), algo_config=cfg)
    qz.process()
    out = tmp_path / "rec_int4.onnx"
    onnx.save(qz.model.model, str(out))
    quant = check_against_ort(out, qz.model.model)
    nbits = [q for q in quant if "MatMulNBits" in q.dtype]
    assert len(nbits) == len(matmuls) > 0
    rep = diff_checkpoints(str(f), str(out))
    by = {t.name: t for t in rep.tensors}
    for q in nbits:
        td = by[q.name]
        assert td.skip is None and td.original in matmuls, (q.name, td.skip)
        rec = td.record()
        assert rec["count"] == q.numel and rec["sqnr_db"] > 10, q.name
