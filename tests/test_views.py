"""Matrix views: every tensor of a checkpoint compared as the matrix its runtime multiplies,
``[outputs, reduction]`` (precli.array.views, precli.model.viewing, precli.sources.onnx_graph).

The oracles are independent of precli: the matrix a runtime multiplies is built here with
numpy from the stored array (read back with the onnx package's ``numpy_helper`` or the
``safetensors`` package), transposed / reshaped by the operator definitions (ONNX MatMul
``Y = A @ B`` with B ``[K, N]``, Gemm ``transB``, Conv ``[M, C/g, k...]``, ConvTranspose
``[C, M/g, k...]``; PyTorch ``Linear`` / conv / stacked experts); the statistics come from
the exact Fraction reference of tests/recipe_ref.py with one channel per row of that
matrix; bits per value are counted here from the recipe definitions; the summary's weighted
SQNR and worst tensor are recomputed from the per-tensor records. No expected value is
copied from precli's output.
"""

from __future__ import annotations

import importlib.util
import json
import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import recipe_ref as ref
from test_recipes_oracle import check_stats
from typer.testing import CliRunner

from precli.cli.app import app

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

runner = CliRunner()
ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


def cli(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args), env=ENV)
    return r.exit_code, r.stdout, r.stderr


def compare_json(*args: str) -> list[dict[str, Any]]:
    code, out, err = cli("compare", *args, "-o", "json")
    assert code == 0, err
    recs: list[dict[str, Any]] = json.loads(out)
    return recs


def by_tensor(recs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["tensor"], r["format"]): r for r in recs if r["tensor"] is not None}


# ------------------------------------------------------------ storage, counted by hand

#: bits of one stored scale (zero point included, at the element width, for the asymmetric
#: integer groups GPTQ / AWQ pack), from the recipe definitions; and per-tensor extra bits
SCALE_BITS = {"int8:channel": 32, "int4:group128": 16 + 4, "int4:group32": 16 + 4,
              "e4m3fn:block16x16": 32, "mxfp4": 8, "nvfp4": 8}
ELEM_BITS = {"int8:channel": 8, "int4:group128": 4, "int4:group32": 4,
             "e4m3fn:block16x16": 8, "mxfp4": 4, "nvfp4": 4}
TENSOR_BITS = {"nvfp4": 32}
#: (rows, columns) of the tile one scale covers (None: one scale per row of the view)
TILE = {"int8:channel": None, "int4:group128": (1, 128), "int4:group32": (1, 32),
        "e4m3fn:block16x16": (16, 16), "mxfp4": (1, 32), "nvfp4": (1, 16)}


def nominal_bits(name: str, n: int) -> float:
    """The recipe's figure in whole tiles: element bits + scale bits / tile size (plus
    NVFP4's one fp32 tensor scale over the tensor's n values)."""
    tile = TILE[name]
    assert tile is not None
    return ELEM_BITS[name] + SCALE_BITS[name] / (tile[0] * tile[1]) \
        + TENSOR_BITS.get(name, 0) / n


def whole_tiles(name: str, rows: int, cols: int) -> bool:
    tile = TILE[name]
    return tile is None or (rows % tile[0] == 0 and cols % tile[1] == 0)


# ------------------------------------------------------------ the exact reference


def reference(name: str, m: np.ndarray) -> tuple[dict[str, Any], ref.Result]:
    """The reference statistics of recipe ``name`` on the matrix ``m`` a runtime multiplies
    (one channel per row)."""
    spec = ref.parse(name)
    m = np.asarray(m, np.float64)
    m = m.reshape(1, -1) if m.ndim == 1 else m  # a 1-D tensor is one row
    X = ref.exact_entries(m)
    ch = list(range(m.shape[0])) if spec.scaling == "channel" else None
    res = ref.quantize(spec, X, ch)
    return ref.stats(X, res), res


def check_record(rec: dict[str, Any], name: str, m: np.ndarray, label: str) -> ref.Result:
    """A per-tensor record against the reference on the matrix m, storage included."""
    want, res = reference(name, m)
    check_stats(rec, want, label)
    n = m.size
    assert rec["scale_count"] == len(res.scales), label
    bits = (n * ELEM_BITS[name] + len(res.scales) * SCALE_BITS[name]
            + TENSOR_BITS.get(name, 0)) / n
    assert rec["bits_per_value"] == bits, label
    # the tile counting above is the reference's own: it must match tiles counted by hand
    tile = TILE[name]
    r, c = m.shape
    assert len(res.scales) == (r if tile is None else -(-r // tile[0]) * -(-c // tile[1]))
    if tile is not None:
        whole = whole_tiles(name, r, c)
        assert (rec["bits_per_value"] == nominal_bits(name, n)) is whole, label
        assert (rec["note"] is None) is whole, f"{label}: note {rec['note']!r}"
    else:
        assert rec["note"] is None, label
    return res


# ------------------------------------------------------------ 1. ONNX graph views

ONNX_RECIPES = ["int8:channel", "int4:group128", "e4m3fn:block16x16", "mxfp4", "nvfp4"]


def _varied(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """Normal values whose rows (output channels) differ in scale by up to 1,000x."""
    m = rng.standard_normal((rows, cols)) * 10.0 ** rng.uniform(-1.5, 1.5, (rows, 1))
    return (m * 0.05).astype(np.float32)


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(31)
    mm = _varied(rng, 48, 256).T.copy()  # MatMul B [K=256, N=48]
    gt = _varied(rng, 64, 192)  # Gemm transB=1: B [N=64, K=192]
    gn = _varied(rng, 24, 384).T.copy()  # Gemm transB=0: B [K=384, N=24]
    cv = _varied(rng, 32, 144).reshape(32, 16, 3, 3)  # Conv W [M=32, C=16, 3, 3]
    # ConvTranspose W [C=16, M=8, 3, 3]: output channel m is W[:, m]
    ct = _varied(rng, 8, 144).reshape(8, 16, 3, 3).transpose(1, 0, 2, 3).copy()
    f = TensorProto.FLOAT
    nodes = [
        helper.make_node("MatMul", ["x_mm", "mm.B"], ["y_mm"]),
        helper.make_node("Gemm", ["x_gt", "gemm_t.B"], ["y_gt"], transB=1),
        helper.make_node("Gemm", ["x_gn", "gemm_n.B"], ["y_gn"], transB=0),
        helper.make_node("Conv", ["x_cv", "conv.W"], ["y_cv"], pads=[1, 1, 1, 1]),
        helper.make_node("ConvTranspose", ["x_ct", "convt.W"], ["y_ct"]),
    ]
    inputs = [helper.make_tensor_value_info("x_mm", f, [2, 256]),
              helper.make_tensor_value_info("x_gt", f, [2, 192]),
              helper.make_tensor_value_info("x_gn", f, [2, 384]),
              helper.make_tensor_value_info("x_cv", f, [1, 16, 6, 6]),
              helper.make_tensor_value_info("x_ct", f, [1, 16, 6, 6])]
    outputs = [helper.make_tensor_value_info(y, f, shape) for y, shape in
               (("y_mm", [2, 48]), ("y_gt", [2, 64]), ("y_gn", [2, 24]),
                ("y_cv", [1, 32, 6, 6]), ("y_ct", [1, 8, 8, 8]))]
    inits = [numpy_helper.from_array(a, nm) for a, nm in
             ((mm, "mm.B"), (gt, "gemm_t.B"), (gn, "gemm_n.B"), (cv, "conv.W"),
              (ct, "convt.W"))]
    g = helper.make_graph(nodes, "views", inputs, outputs, initializer=inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model, full_check=True)
    p = tmp_path_factory.mktemp("onnx") / "model.onnx"
    onnx.save(model, str(p))
    return p


#: initializer -> (the matrix its operator multiplies, from the stored array; the view
#: [rows, cols]; what decided it)
ONNX_VIEWS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "mm.B": (lambda w: w.T, "onnx MatMul B [K, N]"),
    "gemm_t.B": (lambda w: w, "onnx Gemm B [N, K] (transB)"),
    "gemm_n.B": (lambda w: w.T, "onnx Gemm B [K, N]"),
    "conv.W": (lambda w: w.reshape(w.shape[0], -1), "onnx Conv W [M, C/g, k...]"),
    "convt.W": (lambda w: w.transpose(1, 0, 2, 3).reshape(w.shape[1], -1),
                "onnx ConvTranspose W [C, M/g, k...]"),
}


def test_onnx_weights_are_compared_as_the_matrix_their_operator_multiplies(
        onnx_model: Path) -> None:
    recs = compare_json(str(onnx_model), "-F", ",".join(ONNX_RECIPES))
    got = by_tensor(recs)
    stored = {i.name: numpy_helper.to_array(i)
              for i in onnx.load(str(onnx_model)).graph.initializer}
    assert {t for t, _ in got} == set(ONNX_VIEWS)
    notes: dict[str, set[str]] = {}
    for tname, (to_matrix, source) in ONNX_VIEWS.items():
        m = to_matrix(stored[tname])
        for name in ONNX_RECIPES:
            rec = got[(tname, name)]
            label = f"{tname} {name}"
            assert rec["skip"] is None, label
            assert rec["shape"] == list(stored[tname].shape), label
            assert rec["view"] == list(m.shape), label
            assert rec["view_from"] == source, label
            check_record(rec, name, m, label)
            if rec["note"] is not None:
                notes.setdefault(tname, set()).add(name)
    # the shapes were chosen so that both sides of the rule are exercised: 144 conv columns
    # are not whole groups of 128 or MX blocks of 32; 8 ConvTranspose rows and 24 Gemm
    # rows are not whole 16x16 blocks; 192 columns end in half a group of 128
    assert notes == {"conv.W": {"int4:group128", "mxfp4"},
                     "convt.W": {"int4:group128", "mxfp4", "e4m3fn:block16x16"},
                     "gemm_t.B": {"int4:group128"},
                     "gemm_n.B": {"e4m3fn:block16x16"}}


def test_onnx_reference_tells_the_views_apart(onnx_model: Path) -> None:
    # the oracle can fail: on the stored layout (not the operator's matrix) the reference
    # gives other statistics than the ones precli must report
    stored = {i.name: numpy_helper.to_array(i)
              for i in onnx.load(str(onnx_model)).graph.initializer}
    got = by_tensor(compare_json(str(onnx_model), "-F", "int8:channel,int4:group128"))
    for tname, wrong in (("mm.B", stored["mm.B"]), ("gemm_n.B", stored["gemm_n.B"]),
                         ("convt.W", stored["convt.W"].reshape(16, -1))):
        for name in ("int8:channel", "int4:group128"):
            bad, _ = reference(name, wrong)
            assert got[(tname, name)]["rmse"] != pytest.approx(bad["rmse"], rel=1e-6), \
                (tname, name)


def test_onnx_user_rule_beats_the_graph_and_jobs_change_nothing(onnx_model: Path) -> None:
    stored = {i.name: numpy_helper.to_array(i)
              for i in onnx.load(str(onnx_model)).graph.initializer}
    names = "int8:channel,int4:group128,nvfp4"
    recs = compare_json(str(onnx_model), "-F", names, "--view", r"^mm\.B$=0:1")
    got = by_tensor(recs)
    for name in names.split(","):
        rec = got[("mm.B", name)]  # [K, N] as stored: 256 rows of 48
        assert rec["view"] == [256, 48] and rec["view_from"] == "user"
        check_record(rec, name, stored["mm.B"], f"mm.B {name} (user)")
        rec = got[("convt.W", name)]  # untouched by the rule: the graph's view
        assert rec["view_from"] == "onnx ConvTranspose W [C, M/g, k...]"
    # transposing views read the tensor whole: two processes give the same records
    one = compare_json(str(onnx_model), "-F", names)
    two = compare_json(str(onnx_model), "-F", names, "--jobs", "2")
    assert one == two


# ------------------------------------------------------------ 2. PyTorch conventions

ST_RECIPES = ["int8:channel", "int4:group32"]
CONV = "model.layers.0.conv.weight"
EXPERTS = "model.layers.0.mlp.experts.w1"
#: stacked experts whose trailing axes are short enough for a conv kernel: the name decides
SMALL_EXPERTS = "model.layers.0.mlp.experts.w3"
LINEAR = "model.layers.0.proj.weight"


@pytest.fixture(scope="module")
def st_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(32)
    tensors = {
        CONV: _varied(rng, 32, 144).reshape(32, 16, 3, 3),
        EXPERTS: _varied(rng, 4 * 24, 64).reshape(4, 24, 64),
        SMALL_EXPERTS: _varied(rng, 8 * 16, 16).reshape(8, 16, 16),
        LINEAR: _varied(rng, 24, 64),
    }
    p = tmp_path_factory.mktemp("st") / "model.safetensors"
    save_file(tensors, str(p))
    return p


def _stored_st(p: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(p))


PYTORCH_VIEWS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    CONV: (lambda w: w.reshape(w.shape[0], -1), "pytorch conv"),
    EXPERTS: (lambda w: w.reshape(-1, w.shape[-1]), "pytorch stacked"),
    SMALL_EXPERTS: (lambda w: w.reshape(-1, w.shape[-1]), "pytorch stacked"),
    LINEAR: (lambda w: w, "pytorch linear"),
}


def _check_views(recs: list[dict[str, Any]], stored: dict[str, np.ndarray],
                 views: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]]) -> None:
    got = by_tensor(recs)
    for tname, (to_matrix, source) in views.items():
        m = to_matrix(stored[tname])
        for name in ST_RECIPES:
            rec = got[(tname, name)]
            label = f"{tname} {name} ({source})"
            assert rec["view"] == list(m.shape) and rec["view_from"] == source, label
            check_record(rec, name, m, label)


def test_safetensors_by_pytorch_conventions(st_model: Path) -> None:
    recs = compare_json(str(st_model), "-F", ",".join(ST_RECIPES))
    _check_views(recs, _stored_st(st_model), PYTORCH_VIEWS)


def test_safetensors_user_views(st_model: Path) -> None:
    stored = _stored_st(st_model)
    # naming the stacked view explicitly changes nothing but what decided it
    recs = compare_json(str(st_model), "-F", ",".join(ST_RECIPES), "--view", "w1=0,1:2")
    _check_views(recs, stored, {
        **PYTORCH_VIEWS, EXPERTS: (lambda w: w.reshape(-1, w.shape[-1]), "user")})
    # rules that transpose: the experts reduce over their middle axis, the Linear is
    # [in, out]; the first matching rule wins (the second w1 rule is never used), and the
    # conv, matched by none, keeps its convention
    recs = compare_json(str(st_model), "-F", ",".join(ST_RECIPES),
                        "--view", r"experts\.w1=0,2:1", "--view", "w1=0,1:2",
                        "--view", r"proj\.weight$=1:0")
    _check_views(recs, stored, {
        CONV: PYTORCH_VIEWS[CONV], SMALL_EXPERTS: PYTORCH_VIEWS[SMALL_EXPERTS],
        EXPERTS: (lambda w: w.transpose(0, 2, 1).reshape(-1, w.shape[1]), "user"),
        LINEAR: (lambda w: w.T, "user"),
    })


# ------------------------------------------------------------ 3. the outlier summary

VAR = "model.bn.running_var"
WEIGHTS = ("model.a.weight", "model.b.weight")
SUM_RECIPES = ["int8:channel", "nvfp4"]


@pytest.fixture(scope="module")
def outlier_model(tmp_path_factory: pytest.TempPathFactory
                  ) -> tuple[Path, dict[str, np.ndarray]]:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(33)
    t = {w: (rng.standard_normal((64, 64)) * 0.02).astype(np.float32) for w in WEIGHTS}
    # a batch-norm variance: one value at 1e8, the rest just under half an int8 step of
    # 1e8 / 127, where they round to zero
    var = np.concatenate([[1e8], rng.uniform(0.3, 0.49, 23) * 1e8 / 127])
    t[VAR] = rng.permutation(var).astype(np.float32)
    p = tmp_path_factory.mktemp("outlier") / "model.safetensors"
    save_file(t, str(p))
    return p, t


def _pooled_sqnr(parts: list[tuple[np.ndarray, ref.Result]]) -> float:
    """The reference's SQNR over every value of several tensors (each quantized alone)."""
    X: list[list[Any]] = []
    vals: list[list[Any]] = []
    over: list[list[bool]] = []
    for m, res in parts:
        X += ref.exact_entries(np.asarray(m, np.float64).reshape(-1, m.shape[-1]))
        vals += res.values
        over += res.overflow
    out = ref.stats(X, ref.Result(vals, over))["sqnr_db"]
    assert isinstance(out, float)
    return out


def _weighted(recs: list[dict[str, Any]], fmt: str) -> float:
    """-10 log10 of the parameter-weighted mean noise-to-signal ratio of the records."""
    rs = [r for r in recs if r["tensor"] is not None and r["format"] == fmt
          and r["skip"] is None]
    num = math.fsum(r["params"] * 10 ** (-r["sqnr_db"] / 10) for r in rs)
    return -10 * math.log10(num / sum(r["params"] for r in rs))


def test_outlier_summary(outlier_model: tuple[Path, dict[str, np.ndarray]]) -> None:
    p, t = outlier_model
    refs = {(w, n): reference(n, t[w]) for w in (*WEIGHTS, VAR) for n in SUM_RECIPES}
    # by default the variance is set aside and the summary is the two weights'
    recs = compare_json(str(p), "-F", ",".join(SUM_RECIPES))
    got = by_tensor(recs)
    summ = {r["format"]: r for r in recs if r["tensor"] is None}
    (skipped,) = [r for r in recs if r["tensor"] == VAR]  # one record, no recipe's
    assert skipped["skip"].startswith("set aside"), skipped["skip"]
    assert skipped["format"] is None and skipped["sqnr_db"] is None
    assert skipped["view"] is None
    for n in SUM_RECIPES:
        for w in WEIGHTS:
            check_stats(got[(w, n)], refs[(w, n)][0], f"{w} {n}")
        pooled = _pooled_sqnr([(t[w], refs[(w, n)][1]) for w in WEIGHTS])
        assert summ[n]["params"] == 2 * 64 * 64
        assert summ[n]["sqnr_db"] == pytest.approx(pooled, abs=1e-9), n
        assert summ[n]["weighted_sqnr_db"] == pytest.approx(_weighted(recs, n), abs=1e-9)
    base = summ
    # with --small the variance is compared, as one row of 24 values
    recs = compare_json(str(p), "-F", ",".join(SUM_RECIPES), "--small")
    got = by_tensor(recs)
    summ = {r["format"]: r for r in recs if r["tensor"] is None}
    for n in SUM_RECIPES:
        v = got[(VAR, n)]
        assert v["skip"] is None and v["view"] == [1, 24] and v["view_from"] == "1-D"
        check_stats(v, refs[(VAR, n)][0], f"{VAR} {n}")
        pooled = _pooled_sqnr([(t[w], refs[(w, n)][1]) for w in (*WEIGHTS, VAR)])
        assert summ[n]["params"] == 2 * 64 * 64 + 24
        assert summ[n]["sqnr_db"] == pytest.approx(pooled, abs=1e-9), n
        weighted = _weighted(recs, n)
        assert summ[n]["weighted_sqnr_db"] == pytest.approx(weighted, abs=1e-9), n
        # 24 values of 8,216 cannot move the weighted figure off the weights' (0.1 dB)
        assert weighted == pytest.approx(base[n]["weighted_sqnr_db"], abs=0.1), n
        per = {r["tensor"]: r["sqnr_db"] for r in recs
               if r["tensor"] is not None and r["format"] == n}
        worst = min(per, key=lambda k: per[k])
        assert summ[n]["worst_tensor"] == worst, n
        assert summ[n]["worst_sqnr_db"] == per[worst], n
    # int8 per channel: the variance's 23 small values round to zero, its SQNR is far
    # below the weights', and it is the worst tensor; the pooled SQNR, dominated by its
    # 1e8, is dragged down with it while the weighted one is not
    v8 = refs[(VAR, "int8:channel")][0]
    assert v8["underflow"] == 23
    assert summ["int8:channel"]["worst_tensor"] == VAR
    assert summ["int8:channel"]["sqnr_db"] < base["int8:channel"]["sqnr_db"] - 5
    assert summ["int8:channel"]["sqnr_db"] < summ["int8:channel"]["weighted_sqnr_db"] - 5


# ------------------------------------------------------------ 4. nothing compared


def _onnx_file(p: Path, arrays: dict[str, np.ndarray]) -> None:
    inits = [numpy_helper.from_array(a, k) for k, a in arrays.items()]
    g = helper.make_graph([], "g", [], [], initializer=inits)
    onnx.save(helper.make_model(g), str(p))


def _st_file(p: Path, arrays: dict[str, np.ndarray]) -> None:
    from safetensors.numpy import save_file

    save_file(arrays, str(p))


WRITERS = {"onnx": (_onnx_file, "model.onnx"), "safetensors": (_st_file, "model.safetensors")}


def _one_error(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("precli: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_only_integer_tensors_exit_1(tmp_path: Path, kind: str) -> None:
    write, fname = WRITERS[kind]
    p = tmp_path / fname
    rng = np.random.default_rng(34)
    write(p, {"ids": rng.integers(0, 1000, (8, 300)).astype(np.int64),
              "pos": np.arange(2048, dtype=np.int64)})
    for extra in ((), ("--small",)):
        code, out, err = cli("compare", str(p), "-F", "int8:channel", *extra)
        assert code == 1, (extra, out, err)
        line = _one_error(err)
        assert str(p) in line and "could be compared" in line, line
        assert "int" in line.lower(), line  # why: integer tensors
        assert "--small" not in line, line  # none was set aside: --small would not help


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_only_1d_tensors_exit_1_unless_small(tmp_path: Path, kind: str) -> None:
    write, fname = WRITERS[kind]
    p = tmp_path / fname
    rng = np.random.default_rng(35)
    arrays = {"norm.weight": rng.standard_normal(4096).astype(np.float32),
              "bias": rng.standard_normal(96).astype(np.float32)}
    write(p, arrays)
    code, out, err = cli("compare", str(p), "-F", "int8:channel,nvfp4")
    assert code == 1, (out, err)
    line = _one_error(err)
    assert str(p) in line and "set aside" in line and "--small" in line, line
    code, out, err = cli("compare", str(p), "-F", "int8:channel,nvfp4", "--small", "-o",
                         "json")
    assert code == 0, err
    got = by_tensor(json.loads(out))
    for k, a in arrays.items():
        for n in ("int8:channel", "nvfp4"):
            rec = got[(k, n)]
            assert rec["view"] == [1, a.size], (k, n)
            check_stats(rec, reference(n, a.reshape(1, -1))[0], f"{k} {n}")


# ------------------------------------------------------------ 5. a real OCR model


def _rec_model() -> Path | None:
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(next(iter(spec.submodule_search_locations))) / "models" / \
        "ch_PP-OCRv4_rec_infer.onnx"
    return p if p.is_file() else None


REC_MODEL = _rec_model()


def _graph_matrices(path: Path) -> dict[str, tuple[str, list[int]]]:
    """Weight name -> (op, [rows, cols] of the matrix it multiplies), from the onnx
    package's reading of the graph: Conv W [M, C/g, k...] -> [M, C/g * k...]; MatMul B
    [K, N] -> [N, K]. Only tensors whose every consumer agrees."""
    model = onnx.load(str(path))
    shapes = {i.name: list(i.dims) for i in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    shapes[n.output[0]] = list(a.t.dims)
    seen: dict[str, set[tuple[str, tuple[int, int]]]] = {}
    other: set[str] = set()
    for n in model.graph.node:
        for k, i in enumerate(n.input):
            if i not in shapes:
                continue
            s = shapes[i]
            if n.op_type == "Conv" and k == 1:
                seen.setdefault(i, set()).add(("Conv", (s[0], math.prod(s[1:]))))
            elif n.op_type == "MatMul" and k == 1 and len(s) == 2:
                seen.setdefault(i, set()).add(("MatMul", (s[1], s[0])))
            elif n.op_type in ("Conv", "MatMul", "Gemm"):
                other.add(i)
    return {k: (op, list(rc)) for k, v in seen.items() if len(v) == 1 and k not in other
            for op, rc in v}


@pytest.mark.skipif(REC_MODEL is None, reason="rapidocr-onnxruntime (dev dependency shipping "
                    "trained ONNX models) is not installed; run `uv sync`")
def test_real_ocr_model_pays_whole_groups_where_its_rows_hold_them() -> None:
    assert REC_MODEL is not None
    code, out, err = cli("compare", str(REC_MODEL), "-F", "int4:group128,nvfp4", "-o",
                         "ndjson")
    assert code == 0, err
    recs = [json.loads(ln) for ln in out.splitlines() if ln.strip()]
    mats = _graph_matrices(REC_MODEL)
    assert sum(op == "MatMul" for op, _ in mats.values()) >= 5
    assert sum(op == "Conv" for op, _ in mats.values()) >= 20
    checked = {"whole": 0, "partial": 0}
    ops = set()
    for rec in recs:
        if rec["tensor"] is None or rec["tensor"] not in mats or rec["skip"] is not None:
            continue
        op, (rows, cols) = mats[rec["tensor"]]
        label = f"{rec['tensor']} {rec['format']}"
        assert rec["view"] == [rows, cols], (label, rec["shape"])
        assert rec["view_from"].startswith(f"onnx {op} "), label
        group = {"int4:group128": 128, "nvfp4": 16}[rec["format"]]
        n = rows * cols
        assert rec["params"] == n
        # every scale counted by hand: one per group of each row, partial ones included
        scales = rows * -(-cols // group)
        assert rec["scale_count"] == scales, label
        assert rec["bits_per_value"] == (n * ELEM_BITS[rec["format"]] + scales * SCALE_BITS[
            rec["format"]] + TENSOR_BITS.get(rec["format"], 0)) / n, label
        if cols % group == 0:
            assert rec["bits_per_value"] == nominal_bits(rec["format"], n), label
            assert rec["note"] is None, (label, rec["note"])
            checked["whole"] += 1
        else:
            assert rec["bits_per_value"] > nominal_bits(rec["format"], n), label
            assert rec["note"] is not None, label
            checked["partial"] += 1
        ops.add(op)
    assert ops == {"Conv", "MatMul"}
    assert checked["whole"] >= 20 and checked["partial"] >= 1, checked
    summary = {r["format"]: r for r in recs if r["tensor"] is None}
    # 14.59 before views, when a 1x1 conv's 1-value rows each paid a whole fp16 group scale
    assert summary["int4:group128"]["bits_per_value"] < 4.3
    # the summary's bits are the compared tensors' exact bits, counted here
    comp = [r for r in recs if r["tensor"] is not None and r["skip"] is None
            and r["format"] == "int4:group128"]
    total = sum(Fraction(r["params"] * 4) + SCALE_BITS["int4:group128"] * r["scale_count"]
                for r in comp)
    want = float(total / sum(r["params"] for r in comp))
    assert summary["int4:group128"]["bits_per_value"] == pytest.approx(want, rel=1e-12)


# ------------------------------------------------------------ 6. --view errors


def test_view_rule_that_does_not_fit_a_tensor(st_model: Path) -> None:
    # the conv kernel has 4 axes; the rule names 2
    code, out, err = cli("compare", str(st_model), "-F", "int8:channel",
                         "--view", r"conv\.weight=1:0")
    assert code == 2, (out, err)
    line = _one_error(err)
    assert CONV in line, line
    # a rule naming an axis the tensor lacks
    code, out, err = cli("compare", str(st_model), "-F", "int8:channel",
                         "--view", "proj=2:0")
    assert code == 2, (out, err)
    assert LINEAR in _one_error(err)


@pytest.mark.parametrize("rule", ["proj", "=1:0", "proj=1;0", "proj=1:", "proj=0:0",
                                  "(unclosed=1:0", "proj=a:b"])
def test_malformed_view_rule(st_model: Path, rule: str) -> None:
    code, out, err = cli("compare", str(st_model), "-F", "int8:channel", "--view", rule)
    assert code == 2, (rule, out, err)
    line = _one_error(err)
    assert "view" in line, line


def test_view_on_one_array_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "a.npy"
    np.save(p, np.ones((4, 8), np.float32))
    code, out, err = cli("compare", str(p), "-F", "int8:channel", "--view", "a=1:0")
    assert code == 2, (out, err)
    line = _one_error(err)
    assert "--view" in line and "checkpoints" in line, line


@pytest.mark.parametrize("group, c, mg", [(64, 64, 1), (4, 16, 8)])
def test_grouped_conv_transpose_rows_are_its_output_channels(tmp_path: Path, group: int,
                                                             c: int, mg: int) -> None:
    """ConvTranspose W [C, M/g, k...] with group g: output channel gi*(M/g) + m sums over
    W[gi*C/g:(gi+1)*C/g, m, ...] only, so the matrix is [M, C/g * k...] (depthwise: one
    row per channel, summing the kernel window), not [M/g, C * k...]."""
    rng = np.random.default_rng(group)
    w = (rng.standard_normal((c, mg, 4, 4))
         * np.exp(rng.standard_normal((c, 1, 1, 1)))).astype(np.float32)
    node = helper.make_node("ConvTranspose", ["x", "W"], ["y"], group=group)
    g = helper.make_graph([node], "t", [helper.make_tensor_value_info(
        "x", onnx.TensorProto.FLOAT, [1, c, 8, 8])], [helper.make_tensor_value_info(
            "y", onnx.TensorProto.FLOAT, None)], initializer=[numpy_helper.from_array(w, "W")])
    path = tmp_path / "ct.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    m = w.reshape(group, c // group, mg, 16).transpose(0, 2, 1, 3).reshape(group * mg, -1)
    got = by_tensor(compare_json(str(path), "--small", "-F", "int8:channel,int4:group128"))
    for name in ("int8:channel", "int4:group128"):
        rec = got[("W", name)]
        assert rec["view"] == [group * mg, (c // group) * 16]
        assert rec["view_from"] == "onnx ConvTranspose W [C, M/g, k...] (grouped)"
        check_record(rec, name, m, f"grouped ConvTranspose {name}")
