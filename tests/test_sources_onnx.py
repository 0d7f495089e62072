"""precli.sources for ONNX: models built with the onnx package, values checked against
onnx.numpy_helper.to_array (and ml_dtypes for the float8 / bfloat16 / float4 codes)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

from precli.errors import ExitStatus
from precli.sources import CheckpointError, detect, open_checkpoint
from precli.sources.read import forget_maps

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def model_with(inits: list[Any]) -> Any:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    node = helper.make_node("Identity", ["x"], ["y"])
    graph = helper.make_graph([node], "g", [x], [y], initializer=inits)
    m = helper.make_model(graph, producer_name="precli-test")
    helper.set_model_props(m, {"author": "tests"})
    return m


def as_f32(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind in "fiub" and a.dtype.itemsize <= 8 and a.dtype.names is None \
            and a.dtype.type.__module__ == "numpy":
        return a
    return a.astype(np.float32)


def same(got: np.ndarray, want: np.ndarray) -> None:
    want = as_f32(want).reshape(-1)
    assert got.dtype == want.dtype or (got.dtype == np.float32), (got.dtype, want.dtype)
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    nan = np.isnan(w)
    assert np.array_equal(np.isnan(g), nan)
    assert np.array_equal(g[~nan], w[~nan])
    assert np.array_equal(np.signbit(g[~nan]), np.signbit(w[~nan]))


def initializers() -> list[Any]:
    rng = np.random.default_rng(4)
    f = rng.standard_normal((3, 4)).astype(np.float32)
    f[0, :3] = [np.inf, -0.0, np.nan]
    out = [
        numpy_helper.from_array(f, "raw.float"),
        numpy_helper.from_array(f.astype(np.float16), "raw.float16"),
        numpy_helper.from_array(f.astype(np.float64), "raw.double"),
        numpy_helper.from_array(np.arange(-5, 5, dtype=np.int8), "raw.int8"),
        numpy_helper.from_array(np.arange(10, dtype=np.uint8), "raw.uint8"),
        numpy_helper.from_array(np.arange(4, dtype=np.int64), "raw.int64"),
        helper.make_tensor("typed.float", TensorProto.FLOAT, [3, 4], f.reshape(-1).tolist()),
        helper.make_tensor("typed.double", TensorProto.DOUBLE, [5], [1.5, -2, 0, 1e300, 3]),
        helper.make_tensor("typed.float16", TensorProto.FLOAT16, [2, 3],
                           np.array([1, -2, 0.5, 65504, -0.0, 3.14], np.float16)),
        helper.make_tensor("typed.int8", TensorProto.INT8, [4], [-128, -1, 0, 127]),
        helper.make_tensor("typed.int64", TensorProto.INT64, [3], [-(2**40), 0, 2**62]),
        helper.make_tensor("empty", TensorProto.FLOAT, [0, 3], []),
    ]
    vals = [0.0, -0.0, 1.0, -1.5, 448.0, 3.0e-3, 240.0, 0.1, 57344.0, -2.0]
    for code, dt in [(TensorProto.BFLOAT16, "bfloat16"),
                     (TensorProto.FLOAT8E4M3FN, "e4m3fn"),
                     (TensorProto.FLOAT8E4M3FNUZ, "e4m3fnuz"),
                     (TensorProto.FLOAT8E5M2, "e5m2"),
                     (TensorProto.FLOAT8E5M2FNUZ, "e5m2fnuz")]:
        out.append(helper.make_tensor(f"typed.{dt}", code, [len(vals)], vals))
        out.append(_raw_copy(out[-1], f"raw.{dt}"))
    fp4 = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.5, -6.0, 1.0]  # odd count
    if hasattr(TensorProto, "FLOAT4E2M1"):
        out.append(helper.make_tensor("typed.float4", TensorProto.FLOAT4E2M1, [11], fp4))
        out.append(_raw_copy(out[-1], "raw.float4"))
    return out


def _raw_copy(t: Any, name: str) -> Any:
    """The same tensor with its elements in raw_data (what exporters write)."""
    a = numpy_helper.to_array(t)
    r = numpy_helper.from_array(a, name)
    assert r.HasField("raw_data")
    return r


def test_initializers_match_numpy_helper(tmp_path: Path) -> None:
    inits = initializers()
    p = tmp_path / "m.onnx"
    onnx.save(model_with(inits), str(p))
    assert detect(str(p)) == "onnx"
    ck = open_checkpoint(str(p))
    assert ck.kind == "onnx" and ck.errors == []
    assert ck.metadata["producer_name"] == "precli-test"
    assert ck.metadata["author"] == "tests"
    assert ck.metadata["ir_version"] == str(onnx.load(str(p)).ir_version)
    ours = {t.name: t for t in ck.tensors()}
    assert list(ours) == [i.name for i in inits]
    for init in inits:
        t = ours[init.name]
        want = numpy_helper.to_array(init)
        assert t.shape == tuple(init.dims)
        assert t.dtype == TensorProto.DataType.Name(init.data_type)
        same(t.read(), want)
        if t.numel > 4:
            same(t.read(1, 4), want.reshape(-1)[1:4])
    fmts = {n: (t.format, t.skip) for n, t in ours.items()}
    assert fmts["raw.float"] == ("fp32", None)
    assert fmts["typed.bfloat16"] == ("bf16", None)
    assert fmts["raw.e4m3fn"] == ("e4m3fn", None)
    assert fmts["typed.e5m2fnuz"] == ("e5m2fnuz", None)
    assert fmts["raw.int8"] == ("int8", "integer tensor (INT8)")
    assert fmts["raw.uint8"] == ("uint8", "integer tensor (UINT8)")
    if "raw.float4" in fmts:
        assert fmts["raw.float4"] == ("e2m1fn", None)
    # raw_data and packed float_data are views of the map
    assert not ours["raw.float"].read().flags.owndata
    assert not ours["typed.float"].read().flags.owndata


def test_float8_values_against_ml_dtypes(tmp_path: Path) -> None:
    """Every one of the 256 codes, stored raw, against ml_dtypes' decoding."""
    inits = []
    kinds = {"FLOAT8E4M3FN": ml_dtypes.float8_e4m3fn, "FLOAT8E5M2": ml_dtypes.float8_e5m2,
             "FLOAT8E4M3FNUZ": ml_dtypes.float8_e4m3fnuz,
             "FLOAT8E5M2FNUZ": ml_dtypes.float8_e5m2fnuz}
    codes = np.arange(256, dtype=np.uint8)
    for name in kinds:
        t = TensorProto(name=name, data_type=getattr(TensorProto, name), dims=[256])
        t.raw_data = codes.tobytes()
        inits.append(t)
        t2 = TensorProto(name=name + ".int32", data_type=getattr(TensorProto, name), dims=[256])
        t2.int32_data.extend(int(c) for c in codes)
        inits.append(t2)
    p = tmp_path / "f8.onnx"
    onnx.save(model_with(inits), str(p))
    for t in open_checkpoint(str(p)).tensors():
        want = codes.view(kinds[t.dtype]).astype(np.float32)
        same(t.read(), want)


def test_external_data(tmp_path: Path) -> None:
    inits = initializers()
    p = tmp_path / "ext.onnx"
    onnx.save_model(model_with(inits), str(p), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="ext.data", size_threshold=0)
    loaded = onnx.load(str(p))  # the oracle, loading the external data itself
    ck = open_checkpoint(str(p))
    assert ck.errors == []
    ours = {t.name: t for t in ck.tensors()}
    n_external = 0
    for init in loaded.graph.initializer:
        t = ours[init.name]
        same(t.read(), numpy_helper.to_array(init))
        if t.path.endswith("ext.data"):
            n_external += 1
    assert n_external >= 10
    # the external file is gone: each tensor that lived there is one error, others remain
    os.remove(tmp_path / "ext.data")
    forget_maps()
    ck = open_checkpoint(str(p))
    assert len(ck.errors) == n_external
    e = ck.errors[0]
    assert e.exit_code == ExitStatus.DATA_ERROR
    assert str(e) == f"{p}: tensor 'raw.float': external data file 'ext.data' is missing"
    assert len(ck) == len(inits) - n_external


def set_external(t: Any, **kv: str) -> None:
    t.data_location = TensorProto.EXTERNAL
    del t.external_data[:]
    for k, v in kv.items():
        e = t.external_data.add()
        e.key, e.value = k, v


def test_external_data_refusals(tmp_path: Path) -> None:
    d = tmp_path / "model"
    d.mkdir()
    (tmp_path / "outside.bin").write_bytes(b"\x00" * 64)
    (d / "w.bin").write_bytes(b"\x00" * 40)
    cases = {
        "escape": {"location": "../outside.bin"},
        "absolute": {"location": str(tmp_path / "outside.bin")},
        "short": {"location": "w.bin", "offset": "32", "length": "16"},
        "size": {"location": "w.bin", "offset": "0", "length": "40"},
        "junk": {"location": "w.bin", "offset": "x"},
        "nul": {"location": "w.bin\x00.txt"},
        "ok": {"location": "w.bin", "offset": "8", "length": "16"},
    }
    inits = []
    for name, kv in cases.items():
        t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=[4])
        set_external(t, **kv)
        inits.append(t)
    p = d / "m.onnx"
    p.write_bytes(model_with(inits).SerializeToString())
    ck = open_checkpoint(str(p))
    assert [t.name for t in ck.tensors()] == ["ok"]
    assert next(ck.tensors()).read().tolist() == [0.0] * 4
    assert [str(e) for e in ck.errors] == [
        f"{p}: tensor 'escape': external data location '../outside.bin' is outside the "
        "model's directory (refused)",
        f"{p}: tensor 'absolute': external data location {str(tmp_path / 'outside.bin')!r} "
        "is outside the model's directory (refused)",
        f"{p}: tensor 'short': external data [32, 48) runs past the end of 'w.bin' (40 bytes)",
        f"{p}: tensor 'size': external data holds 40 bytes but dims [4] of FLOAT need 16",
        f"{p}: tensor 'junk': external data offset/length are not integers ('x', None)",
        f"{p}: tensor 'nul': external data location 'w.bin\\x00.txt' holds a NUL byte",
    ]


def test_malformed_models(tmp_path: Path) -> None:
    good = model_with([numpy_helper.from_array(np.ones(4, np.float32), "w")])
    data = good.SerializeToString()
    p = tmp_path / "m.onnx"
    p.write_bytes(data[: len(data) - 3])
    with pytest.raises(CheckpointError) as ei:
        open_checkpoint(str(p))
    assert str(ei.value).startswith(f"{p}: is not a valid ONNX model: at byte ")
    assert ei.value.exit_code == ExitStatus.DATA_ERROR
    # raw_data size not matching dims
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[5])
    t.raw_data = b"\x00" * 16
    p.write_bytes(model_with([t]).SerializeToString())
    ck = open_checkpoint(str(p))
    assert [str(e) for e in ck.errors] == [
        f"{p}: tensor 'w': raw_data holds 16 bytes but dims [5] of FLOAT need 20"]
    # unknown data type, negative dims, no data
    a = TensorProto(name="a", data_type=99, dims=[1])
    b = TensorProto(name="b", data_type=TensorProto.FLOAT, dims=[-1])
    c = TensorProto(name="c", data_type=TensorProto.FLOAT, dims=[3])
    d = TensorProto(name="d", data_type=TensorProto.FLOAT16, dims=[3])
    d.int32_data.extend([1, 2])
    e = TensorProto(name="e", data_type=TensorProto.FLOAT8E4M3FN, dims=[1])
    e.int32_data.extend([300])
    p.write_bytes(model_with([a, b, c, d, e]).SerializeToString())
    ck = open_checkpoint(str(p))
    assert [str(x) for x in ck.errors] == [
        f"{p}: tensor 'a': unknown data_type 99",
        f"{p}: tensor 'b': dims [-1] has a negative dimension",
        f"{p}: tensor 'c': has no data (no raw_data, no float_data, no external data)",
        f"{p}: tensor 'd': int32_data holds 2 values for 3 elements",
    ]
    (te,) = ck.tensors()
    with pytest.raises(CheckpointError) as ei:
        te.read()
    assert str(ei.value) == f"{p}: tensor 'e': int32_data: value 0x12c is not a 8-bit pattern"


def test_detection_by_content(tmp_path: Path) -> None:
    p = tmp_path / "model.bin"
    onnx.save(model_with([numpy_helper.from_array(np.ones(2, np.float32), "w")]), str(p))
    assert detect(str(p)) == "onnx"
    q = tmp_path / "junk.onnx"
    q.write_bytes(b"\x08\x07\x12\xff\xff\xff\xff\x0f")
    with pytest.raises(CheckpointError) as ei:
        open_checkpoint(str(q))
    assert str(ei.value) == (f"{q}: is not a valid ONNX model: at byte 2: field 2 is "
                             "4294967295 bytes long but its message ends 0 bytes later")


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_models_only_raise_checkpoint_errors(tmp_path: Path, data: Any) -> None:
    good = bytearray(model_with(initializers()[:12]).SerializeToString())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(good) - 1))
        good[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(good)))
    p = tmp_path / "fz.onnx"
    p.write_bytes(bytes(good[:cut] if data.draw(st.booleans()) else good))
    forget_maps()
    try:
        ck = open_checkpoint(str(p), kind="onnx")
        for t in ck.tensors():
            if t.format is not None or t.skip == "bool mask":
                assert len(t.read()) == t.numel
    except CheckpointError as e:
        assert str(e).startswith(f"{p}: ") and "\n" not in str(e)


# ------------------------------------------------------------------ subgraphs (If / Loop / Scan)


def _branch(name: str, val: float) -> onnx.GraphProto:
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.full((4, 3), val, np.float32), name=f"{name}_w")
    c = helper.make_node("Constant", [], [f"{name}_c"],
                         value=numpy_helper.from_array(np.arange(5, dtype=np.float32) * val))
    n = helper.make_node("Identity", [f"{name}_w"], [f"{name}_out"])
    return helper.make_graph(
        [c, n], name, [], [helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, [4, 3])],
        initializer=[w])


def _oracle_tensors(g: onnx.GraphProto, prefix: str = "") -> dict[str, np.ndarray]:
    """Every initializer and Constant value of a graph and its subgraphs, by the onnx
    package, named node/attribute/name (unnamed nodes: OpType#index)."""
    from onnx import numpy_helper

    out = {}
    for i, node in enumerate(g.node):
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    out[prefix + node.output[0]] = numpy_helper.to_array(a.t)
        label = node.name or f"{node.op_type}#{i}"
        for a in node.attribute:
            subs = [a.g] if a.HasField("g") else list(a.graphs)
            for j, sg in enumerate(subs):
                tag = f"{label}/{a.name}" + (f"[{j}]" if len(subs) > 1 else "")
                out.update(_oracle_tensors(sg, f"{prefix}{tag}/"))
    for t in g.initializer:
        out[prefix + t.name] = numpy_helper.to_array(t)
    return out


def test_weights_inside_if_branches_at_any_depth_are_read(tmp_path: Path) -> None:
    """A model whose weights sit in If branches (nested two deep) reported 0 tensors."""
    from onnx import TensorProto, helper, numpy_helper

    inner = helper.make_node("If", ["cond"], ["inner_out"], then_branch=_branch("tt", 1.0),
                             else_branch=_branch("te", 2.0))
    g_then = helper.make_graph(
        [inner], "then", [], [helper.make_tensor_value_info("inner_out", TensorProto.FLOAT,
                                                           [4, 3])],
        initializer=[numpy_helper.from_array(np.ones(7, np.float32), name="then_bias")])
    node = helper.make_node("If", ["cond"], ["y"], name="gate", then_branch=g_then,
                            else_branch=_branch("e", 3.0))
    g = helper.make_graph(
        [node], "main", [helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 3])],
        initializer=[numpy_helper.from_array(np.zeros(2, np.float32), name="top")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path = tmp_path / "branches.onnx"
    onnx.save(model, str(path))
    expected = _oracle_tensors(model.graph)
    assert len(expected) == 8
    ck = open_checkpoint(str(path))
    got = {t.name: t.read().reshape(t.shape) for t in ck.tensors()}
    assert ck.errors == [] and sorted(got) == sorted(expected)
    for name, arr in expected.items():
        assert got[name].dtype == arr.dtype and np.array_equal(got[name], arr), name
    assert "gate/then_branch/If#0/else_branch/te_w" in got


def test_subgraphs_nested_past_the_limit_are_one_named_error(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    from precli.sources.onnx import MAX_GRAPH_DEPTH

    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    leaf = _branch("leaf", 1.0)
    g = leaf
    for _ in range(MAX_GRAPH_DEPTH + 1):  # one branch nests, the other stays a leaf: linear
        node = helper.make_node("If", ["cond"], ["y"], then_branch=g, else_branch=leaf)
        g = helper.make_graph([node], "g", [], [out])
    path = tmp_path / "deep.onnx"
    onnx.save(helper.make_model(g), str(path))
    with pytest.raises(CheckpointError, match=f"nested deeper than {MAX_GRAPH_DEPTH} levels"):
        open_checkpoint(str(path))
