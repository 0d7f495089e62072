"""precli diff: a checkpoint against itself is exact; against a quantized copy it reports
what the test computes independently (numpy statistics, ulp positions by searching the
format's grid of values from ml_dtypes), and what the test injected."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
import quant_fixtures as qf

from precli.model.diff import diff_checkpoints


def bf16_model(path: Path, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    ents = []
    vals = {}
    for name, a in tensors.items():
        b = a.astype(np.float32).astype(ml_dtypes.bfloat16)
        vals[name] = b.astype(np.float64)
        ents.append((name, "BF16", list(a.shape), b.view(np.uint16).astype("<u2").tobytes()))
    qf.write_st(path, ents)
    return vals


def grid_pos(grid: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Position on a sorted grid of non-negative values, linear between neighbours (past
    the last point: the last spacing continues), signed like v."""
    a = np.abs(v)
    k = np.clip(np.searchsorted(grid, a, side="right") - 1, 0, len(grid) - 2)
    pos = k + (a - grid[k]) / (grid[k + 1] - grid[k])
    return np.where(np.signbit(v), -pos, pos)


E4M3_GRID = np.unique(np.abs(np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn)
                             .astype(np.float64)))
E4M3_GRID = E4M3_GRID[np.isfinite(E4M3_GRID)]


def weights(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) * 0.05


def test_against_itself_is_exact(tmp_path: Path) -> None:
    p = tmp_path / "m.safetensors"
    bf16_model(p, {"a.weight": weights(1, (16, 32)), "norm": weights(2, (32,))})
    rep = diff_checkpoints(str(p), str(p))
    assert [t.name for t in rep.tensors] == ["a.weight", "norm"]
    for t in rep.tensors:
        r = t.record()
        assert r["max_abs_error"] == 0 and r["sqnr_db"] == "inf" and r["exact_fraction"] == 1
        assert r["element_format"] == "bf16" and r["ulp_max"] == 0 and r["within_1ulp"] == 1
    q = tmp_path / "q.safetensors"
    qf.write_st(q, qf.deepseek_clean(weights(3, (160, 256))))
    rep = diff_checkpoints(str(q), str(q))
    (t,) = rep.tensors
    assert t.dtype == "FP8-block128 (DeepSeek)" and t.record()["ulp_max"] == 0
    assert t.record()["rmse"] == 0


def stats(x: np.ndarray, q: np.ndarray) -> dict[str, float]:
    e = np.abs(x - q)
    return {"max_abs_error": float(e.max()), "rmse": float(np.sqrt(np.mean(e * e))),
            "sqnr_db": float(10 * np.log10(np.sum(x * x) / np.sum(e * e)))}


def test_deepseek_copy_and_injected_codes(tmp_path: Path) -> None:
    orig = tmp_path / "orig.safetensors"
    vals = bf16_model(orig, {"l.weight": weights(4, (160, 256)),
                             "norm": np.ones(8), "lm_head.weight": weights(5, (4, 8))})
    ents = qf.deepseek_clean(vals["l.weight"])
    codes = np.frombuffer(ents[0][3], np.uint8).reshape(160, 256).copy()
    s = np.frombuffer(ents[1][3], "<f4").reshape(2, 2).astype(np.float64)
    rng = np.random.default_rng(6)
    hits = rng.choice(160 * 256, 5, replace=False)
    bumped = codes.copy().reshape(-1)
    for h in hits:  # one code step away from zero: 1 ulp in e4m3 (none is at 448 here)
        assert bumped[h] & 0x7F < 0x7E
        bumped[h] += 1
    far_clean = None
    for name, c in (("clean", codes), ("bumped", bumped.reshape(160, 256))):
        q = tmp_path / f"{name}.safetensors"
        qf.write_st(q, qf.replace(ents, "l.weight", c.tobytes()) + [
            ("norm", "BF16", [8], np.ones(8, np.float32).astype(ml_dtypes.bfloat16)
             .view(np.uint16).tobytes())])
        rep = diff_checkpoints(str(orig), str(q))
        by = {t.name: t.record() for t in rep.tensors}
        assert rep.summary["only_original"] == ["lm_head.weight"]
        r = by["l.weight"]
        assert r["dtype"] == "FP8-block128 (DeepSeek)" and r["original_dtype"] == "BF16"
        x = vals["l.weight"]
        el = c.view(ml_dtypes.float8_e4m3fn).astype(np.float64)
        sfull = np.repeat(np.repeat(s, 128, 0), 128, 1)[:160, :256]
        want = stats(x, el * sfull)
        assert r["max_abs_error"] == want["max_abs_error"]
        assert r["rmse"] == pytest.approx(want["rmse"], rel=1e-12)
        assert r["sqnr_db"] == pytest.approx(want["sqnr_db"], rel=1e-12)
        d = np.abs(grid_pos(E4M3_GRID, x / sfull) - grid_pos(E4M3_GRID, el))
        assert r["ulp_max"] == pytest.approx(float(d.max()), rel=1e-12)
        assert r["within_half_ulp"] == np.count_nonzero(d <= 0.5) / d.size
        assert r["within_1ulp"] == np.count_nonzero(d <= 1) / d.size
        far = int(np.count_nonzero(d > 0.5))
        if far_clean is None:
            # the fixture (like DeepSeek's kernel) rounds x / s to float32 first, where
            # quotients near an e4m3 tie snap onto it: those land a hair past 1/2 ulp
            far_clean = far
            assert r["ulp_max"] < 0.501 and r["within_1ulp"] == 1
        else:
            assert far == far_clean + 5 and 0.5 < r["ulp_max"] <= 1.501
        assert by["norm"]["max_abs_error"] == 0


def test_int4_ulps_are_integer_steps(tmp_path: Path) -> None:
    """AWQ: the grid is the integers; the original is the dequantized weight plus a known
    offset per element in steps of the scale."""
    rng = np.random.default_rng(7)
    ents, w = qf.int4_groups(rng, 64, 32, 16, "awq")  # w: [32, 64] logical values
    q = qf.write_st(tmp_path / "q.safetensors", ents)
    # original = stored + 0.25 * scale on every element, + 1.5 * scale on three
    scales = np.frombuffer(ents[2][3], "<f2").astype(np.float64).reshape(4, 32)
    sfull = np.repeat(scales, 16, 0).T  # [32, 64]
    off = np.full(w.shape, 0.25)
    off.reshape(-1)[[3, 100, 2000]] = 1.5
    orig = w + off * sfull
    qf.write_st(tmp_path / "o.safetensors", [("l.weight", "F64", [32, 64],
                                             orig.astype("<f8").tobytes())])
    rep = diff_checkpoints(str(tmp_path / "o.safetensors"), str(q))
    (r,) = [t.record() for t in rep.tensors]
    assert r["element_format"] == "uint4" and r["dtype"] == "INT4-group16 (AWQ)"
    assert r["within_1ulp"] == (2048 - 3) / 2048 and r["ulp_max"] == pytest.approx(1.5)


def test_cli(tmp_path: Path) -> None:
    o = tmp_path / "o.safetensors"
    vals = bf16_model(o, {"l.weight": weights(8, (128, 128))})
    q = qf.write_st(tmp_path / "q.safetensors", qf.deepseek_clean(vals["l.weight"]))
    run = [sys.executable, "-m", "precli", "diff", str(o), str(q)]
    p = subprocess.run(run + ["-o", "ndjson"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    recs = [json.loads(x) for x in p.stdout.splitlines()]
    assert [r["tensor"] for r in recs] == ["l.weight", None]
    assert recs[0]["within_half_ulp"] == 1 and recs[1]["within_1ulp"] == 1
    p = subprocess.run(run + ["-o", "json", "-j", "2"], capture_output=True, text=True)
    assert json.loads(p.stdout) == recs
    p = subprocess.run(run[:-1] + [str(tmp_path / "nope")], capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.startswith("precli: error:")


def test_nothing_compared_is_an_error_and_says_why(tmp_path: Path) -> None:
    """A file against its export with no name in common said '0 tensors compared', exit 0;
    the summary sentence ended 'within 1 ulp: , within 1/2 ulp: '."""
    import os
    import subprocess
    import sys

    from safetensors.numpy import save_file

    # no name in common, and no matrix of the same shape to pair by value either
    save_file({"a": np.ones((4, 4), np.float32)}, str(tmp_path / "o.safetensors"))
    save_file({"b": np.ones((4, 5), np.float16)}, str(tmp_path / "q.safetensors"))
    p = subprocess.run([sys.executable, "-m", "precli", "diff", "o.safetensors", "q.safetensors",
                        "-o", "table"], cwd=tmp_path, capture_output=True, text=True,
                       env={**os.environ, "COLUMNS": "100", "NO_COLOR": "1"})
    assert p.returncode == 1
    assert p.stderr == ("precli: error: nothing compared: no tensor of q.safetensors could be "
                        "paired with one of o.safetensors (each is listed with the reason)\n")
    assert "0 tensors compared (0 values); no ulp figures" in p.stdout
    assert "within 1 ulp: ," not in p.stdout


def _sqnr(x: np.ndarray, q: np.ndarray) -> float:
    x64, q64 = x.astype(np.float64), q.astype(np.float64)
    return 10 * np.log10(float(np.sum(x64**2)) / float(np.sum((x64 - q64) ** 2)))


def test_safetensors_against_its_onnx_export_pairs_by_view(tmp_path: Path) -> None:
    """A PyTorch Linear [out, in] against an ONNX export that stores it as MatMul's B
    [in, out] in fp16 under another name: one candidate each way, compared transposed."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import save_file

    rng = np.random.default_rng(7)
    w = (rng.standard_normal((48, 256)) * 0.05).astype(np.float32)  # [out, in]
    e = (rng.standard_normal((100, 64)) * 0.5).astype(np.float32)  # an embedding: as is
    save_file({"fc.weight": w, "embed.weight": e}, str(tmp_path / "m.safetensors"))
    b = w.T.astype(np.float16)  # [in, out]
    nodes = [helper.make_node("MatMul", ["x", "onnx::MatMul_7"], ["y"]),
             helper.make_node("Gather", ["onnx::Gather_3", "ids"], ["z"])]
    g = helper.make_graph(
        nodes, "export",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [1, 256]),
         helper.make_tensor_value_info("ids", TensorProto.INT64, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [1, 48]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT16, [3, 64])],
        initializer=[numpy_helper.from_array(b, "onnx::MatMul_7"),
                     numpy_helper.from_array(e.astype(np.float16), "onnx::Gather_3")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(m, str(tmp_path / "m.onnx"))
    rep = diff_checkpoints(str(tmp_path / "m.safetensors"), str(tmp_path / "m.onnx"))
    by = {t.name: t.record() for t in rep.tensors}
    assert by["onnx::MatMul_7"]["paired"] == "view"
    assert by["onnx::MatMul_7"]["original"] == "fc.weight"
    assert by["onnx::Gather_3"]["original"] == "embed.weight"
    # the export is fp16 of the weight: within half an fp16 ulp everywhere, and the
    # statistics are numpy's on the transposed matrix
    r = by["onnx::MatMul_7"]
    assert r["within_half_ulp"] == 1.0 and r["element_format"] == "fp16"
    assert r["sqnr_db"] == pytest.approx(_sqnr(w, b.T), abs=1e-9)
    assert r["max_abs_error"] == float(np.max(np.abs(w.astype(np.float64) - b.T)))
    assert rep.summary["tensors"] == 2 and rep.summary["paired_by_view"] == 2
    assert rep.only_original == []


def test_onnx_float_against_its_onnxruntime_int8_copy(tmp_path: Path) -> None:
    """Every weight onnxruntime's quantize_dynamic quantized is paired (by name once the
    W_quantized family is read as W; the Gemm weight it stores transposed under a new name,
    by view) and gets its SQNR: numpy's, from the stored codes, scales and zero points."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from test_sources_onnx_quant import float_model

    src = float_model(tmp_path / "f.onnx")
    out = tmp_path / "q.onnx"
    quantize_dynamic(str(src), str(out), weight_type=QuantType.QInt8, per_channel=False)
    orig = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(src)).graph.initializer}
    st = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(out)).graph.initializer}
    rep = diff_checkpoints(str(src), str(out))
    by = {t.name: t for t in rep.tensors}
    quantized = [n for n in st if n.endswith("_quantized")]
    assert len(quantized) == 3
    for qn in quantized:
        base = qn[: -len("_quantized")]
        td = by[base]
        assert td.skip is None, td.skip
        want_orig = base.removesuffix("_Transposed")
        assert td.original == want_orig
        q = st[qn].astype(np.int32) - st[base + "_zero_point"].astype(np.int32)
        deq = q.astype(np.float32) * st[base + "_scale"].astype(np.float32)
        x = orig[want_orig]
        if deq.shape != x.shape:  # stored [K, N] for a Gemm transB weight [N, K]
            deq = deq.T
        assert td.record()["sqnr_db"] == pytest.approx(_sqnr(x, deq), abs=1e-9), base
        assert td.record()["count"] == x.size
    assert {t.paired for t in rep.tensors if t.skip is None} == {"name", "view"}


# ------------------------------------------------------------------ the table at 60/80/120

#: every column of the diff table and how the table writes its record's value
DIFF_CELLS = {
    "tensor": lambda r: r["tensor"],
    "dtype": lambda r: r["dtype"],
    "params": lambda r: f"{r['params']:,}",
    "SQNR dB": lambda r: r["sqnr_db"] if isinstance(r["sqnr_db"], str) else f"{r['sqnr_db']:.4g}",
    "max abs err": lambda r: f"{r['max_abs_error']:.4g}",
    "element": lambda r: r["element_format"],
    "max ulp": lambda r: f"{r['ulp_max']:.7g}",
    "≤½ ulp": lambda r: f"{100 * r['within_half_ulp']:.2f}%",
    "≤1 ulp": lambda r: f"{100 * r['within_1ulp']:.2f}%",
}
DIFF_NUMBERS = {"params": "params", "SQNR dB": "sqnr_db", "max abs err": "max_abs_error",
                "max ulp": "ulp_max", "≤½ ulp": "within_half_ulp", "≤1 ulp": "within_1ulp"}


@pytest.fixture(scope="module")
def hf_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[dict]]:
    """A float32 model with 20 Hugging Face names and its bf16-rounded copy; the ndjson
    records of diffing them."""
    from safetensors.numpy import save_file

    d = tmp_path_factory.mktemp("hfdiff")
    rng = np.random.default_rng(18)
    t = {}
    for layer in (9, 10, 11):
        for p, s in (("self_attn.q_proj", (256, 1024)), ("self_attn.k_proj", (64, 1024)),
                     ("self_attn.v_proj", (64, 1024)), ("self_attn.o_proj", (1024, 256)),
                     ("mlp.gate_proj", (512, 256)), ("mlp.up_proj", (512, 256))):
            t[f"model.layers.{layer}.{p}.weight"] = rng.standard_normal(s) * 0.02
    t["model.layers.11.input_layernorm.weight"] = np.ones(1024)
    t["model.embed_tokens.weight"] = rng.standard_normal((1024, 1024))
    o = d / "hf-model.safetensors"
    save_file({k: v.astype(np.float32) for k, v in t.items()}, str(o))
    q = d / "hf-model-bf16.safetensors"
    bf16_model(q, t)
    p = subprocess.run([sys.executable, "-m", "precli", "diff", str(o), str(q), "-o",
                        "ndjson"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return o, q, [json.loads(x) for x in p.stdout.splitlines()][:-1]


@pytest.mark.parametrize("how", ["pipe", "pipe-color", "tty", "tty-nocolor"])
@pytest.mark.parametrize("width", [60, 80, 120])
def test_table_fits_the_width_and_shows_what_ndjson_says(
        hf_pair: tuple[Path, Path, list[dict]], width: int, how: str) -> None:
    """Issue 18: at 80 columns the tensor column was folded to 5 characters, at 60 it was
    gone and numbers were cut ('131,0…', '100.…'). Now: no line wider than the terminal,
    every name in full (folded), every cell the record's value as the table writes it,
    the footnote naming each dropped column."""
    from table_text import number, parse_table, plain, run_on_tty, too_wide

    o, q, recs = hf_pair
    argv = ["diff", str(o), str(q)]
    if how.startswith("tty"):
        out, code = run_on_tty(argv, o.parent, width,
                               {"NO_COLOR": "1"} if how == "tty-nocolor" else None)
    else:
        env = {**os.environ, "COLUMNS": str(width)}
        env.pop("NO_COLOR" if how == "pipe-color" else "FORCE_COLOR", None)
        env.update({"FORCE_COLOR": "1"} if how == "pipe-color" else {"NO_COLOR": "1"})
        p = subprocess.run([sys.executable, "-m", "precli", *argv, "-o", "table"],
                           capture_output=True, text=True, env=env)
        out, code = p.stdout, p.returncode
    assert code == 0
    assert ("\x1b[" in out) == (how in ("pipe-color", "tty"))
    assert too_wide(out, width) == []
    assert "…" not in out
    t = parse_table(out, list(DIFF_CELLS))
    assert [r["tensor"] for r in t.rows] == [r["tensor"] for r in recs]
    assert {"tensor", "SQNR dB", "≤1 ulp"} <= set(t.headers)
    assert set(t.headers).isdisjoint(t.dropped)
    assert set(t.headers) | set(t.dropped) == set(DIFF_CELLS)
    assert (t.dropped == []) == (width == 120)
    for row, r in zip(t.rows, recs, strict=True):
        for h in t.headers:
            assert row[h] == DIFF_CELLS[h](r), (h, row, r)
            if h in DIFF_NUMBERS and row[h] != "inf":
                v = float(r[DIFF_NUMBERS[h]]) * (100 if h.startswith("≤") else 1)
                assert abs(number(row[h]) - v) <= 5e-3 * abs(v) + 5e-3
    lines = plain(out).splitlines()
    short = [str(x) if len(str(x)) <= width else x.name for x in (o, q)]
    title = " ".join(x.strip() for x in lines[:lines.index(next(
        x for x in lines if not x.strip()))])
    assert title == f"precli diff {short[0]} {short[1]}"


def test_skipped_tensor_reason_is_listed_under_a_narrow_table(tmp_path: Path) -> None:
    """A skipped row wrote 'skipped: <reason>' into the no-wrap SQNR column: at 60 columns
    the reason (and the column) was cut. Now the cell says 'skipped' and the reason is
    listed, whole, under the table."""
    from safetensors.numpy import save_file
    from table_text import parse_table, plain, too_wide

    name = "model.layers.0.self_attn.q_proj.weight"
    save_file({name: np.ones((4, 8), np.float32), "b": np.ones(3, np.float32)},
              str(tmp_path / "o.safetensors"))
    save_file({name: np.ones((4, 4), np.float32), "b": np.ones(3, np.float32)},
              str(tmp_path / "q.safetensors"))
    p = subprocess.run([sys.executable, "-m", "precli", "diff", "o.safetensors",
                        "q.safetensors", "-o", "table"], cwd=tmp_path, capture_output=True,
                       text=True, env={**os.environ, "COLUMNS": "60", "NO_COLOR": "1"})
    assert p.returncode == 0, p.stderr
    assert too_wide(p.stdout, 60) == [] and "…" not in p.stdout
    t = parse_table(p.stdout, list(DIFF_CELLS))
    assert [(r["tensor"], r["SQNR dB"]) for r in t.rows] == [("b", "inf"), (name, "skipped")]
    text = " ".join(plain(p.stdout).split())
    assert (f"skipped 1 tensor(s): {name} (shape [4, 4] differs from the original's "
            "[4, 8])") in text
