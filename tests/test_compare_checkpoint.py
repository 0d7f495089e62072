"""compare on checkpoints: per-tensor records and the model-wide summary, checked against
what the `safetensors` / `gguf` / `onnx` packages read back, ml_dtypes casts and numpy
statistics written here."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from precli.model.stats import compare_array

sys.path.insert(0, str(Path(__file__).parent))
from test_sources import make_sharded, write_st  # noqa: E402


def precli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "precli", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def records(*args: str) -> tuple[list[dict[str, Any]], subprocess.CompletedProcess[str]]:
    p = precli(*args, "--output", "ndjson")
    return [json.loads(x) for x in p.stdout.splitlines()], p


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    """A small model: fp32 and fp16 weights, a bf16 weight written by hand (the package's
    numpy API cannot write bf16), a norm, an int64 index buffer, an outlier."""
    rng = np.random.default_rng(9)
    d = tmp_path_factory.mktemp("m")
    arrays = {
        "embed.weight": (rng.standard_normal((64, 40)) * 0.02).astype(np.float32),
        "layers.0.q.weight": (rng.standard_normal((48, 40)) * 0.05).astype(np.float16),
        "layers.0.norm.weight": (1 + rng.standard_normal(40) * 0.1).astype(np.float32),
        "layers.0.o.weight": (rng.standard_normal((40, 48)) * 0.05).astype(np.float32),
        "position_ids": np.arange(64, dtype=np.int64),
    }
    arrays["layers.0.o.weight"][3, 7] = 900.0  # past e4m3fn's max: lost in a raw cast
    path = d / "model.safetensors"
    save_file(arrays, str(path))
    bf = (rng.standard_normal((16, 40)) * 0.05).astype(ml_dtypes.bfloat16)
    bpath = d / "bf16.safetensors"
    write_st(bpath, [("w", "BF16", [16, 40], bf.tobytes())])
    return path, {**arrays, "bf16:w": bf}


def numpy_stats(x: np.ndarray, q: np.ndarray) -> dict[str, float]:
    x = x.astype(np.float64).ravel()
    q = q.astype(np.float64).ravel()
    e = np.abs(x - q)
    return {"max_abs_error": float(e.max()),
            "sqnr_db": 10 * math.log10(float(np.sum(x**2)) / float(np.sum(e**2)))}


def test_per_tensor_records_match_the_package_and_numpy(
        model: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, arrays = model
    loaded = load_file(str(path))  # the oracle reader
    recs, p = records("compare", "--small", str(path), "-F", "bf16,e4m3fn,e4m3fn:tensor")
    assert p.returncode == 0, p.stderr
    per = [r for r in recs if r["tensor"] is not None]
    assert [r["tensor"] for r in per if r["format"] == "bf16"] == [
        n for n in loaded if n != "position_ids"]
    for r in per:
        if r["skip"] is not None:
            continue
        x = loaded[r["tensor"]]
        assert r["shape"] == list(x.shape) and r["params"] == x.size
        assert r["dtype"] == {np.float32: "F32", np.float16: "F16"}[x.dtype.type]
        assert r["amax"] == float(np.abs(x).max())
        nz = np.abs(x[x != 0]).astype(np.float64)
        assert r["dynamic_range"] == pytest.approx(math.log2(nz.max() / nz.min()), rel=1e-12)
        # the same statistics as the array path on the package's own array
        (want,) = compare_array([r["format"]], x)
        for k, v in want.to_record().items():
            assert r[k] == v, (r["tensor"], r["format"], k)
        if r["format"] == "bf16":  # an independent oracle: ml_dtypes and numpy
            q = x.astype(np.float32).astype(ml_dtypes.bfloat16)
            st = numpy_stats(x, q)
            assert r["max_abs_error"] == st["max_abs_error"]
            assert r["sqnr_db"] == pytest.approx(st["sqnr_db"], rel=1e-12)
        assert r["bytes"] == math.ceil(r["bits_per_value"] * r["params"] / 8)
        assert r["stored_bytes"] == x.nbytes
    o = next(r for r in per if r["tensor"] == "layers.0.o.weight" and r["format"] == "e4m3fn")
    assert o["lost"] == 1 and o["sqnr_db"] == "-inf"  # 900 -> NaN in a raw e4m3fn cast
    skipped = [r for r in per if r["skip"] is not None]
    assert len(skipped) == 1 and skipped[0]["tensor"] == "position_ids"
    assert skipped[0]["format"] is None and "I64" in skipped[0]["skip"]


def test_summary_merges_every_tensor(model: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, _ = model
    loaded = {k: v for k, v in load_file(str(path)).items() if k != "position_ids"}
    recs, _ = records("compare", "--small", str(path), "-F", "bf16,e4m3fn,nvfp4")
    per = [r for r in recs if r["tensor"] is not None and r["skip"] is None]
    summary = {r["format"]: r for r in recs if r["tensor"] is None}
    assert list(summary) == ["bf16", "e4m3fn", "nvfp4"]
    params = sum(x.size for x in loaded.values())
    for name, s in summary.items():
        mine = [r for r in per if r["format"] == name]
        assert s["params"] == params and s["count"] == params
        for k in ("lost", "overflow", "underflow", "nan_in", "scale_count"):
            assert s[k] == sum(r[k] for r in mine), (name, k)
        assert s["bytes"] == sum(r["bytes"] for r in mine)
        assert s["stored_bytes"] == sum(x.nbytes for x in loaded.values())
    assert summary["e4m3fn"]["lost"] == 1 and summary["e4m3fn"]["rmse"] == "inf"
    # model-wide SQNR is over every value of every tensor: sum x^2 / sum err^2 (numpy)
    sig = err = 0.0
    for x in loaded.values():
        x32 = x.astype(np.float32)
        q = x32.astype(ml_dtypes.bfloat16).astype(np.float64)
        sig += float(np.sum(x32.astype(np.float64) ** 2))
        err += float(np.sum((x32.astype(np.float64) - q) ** 2))
    assert summary["bf16"]["sqnr_db"] == pytest.approx(10 * math.log10(sig / err), rel=1e-12)
    # nvfp4: one fp32 tensor scale per tensor, counted in the bits
    nv = [r for r in per if r["format"] == "nvfp4"]
    bits = sum(r["params"] * 4 + 8 * r["scale_count"] + 32 for r in nv)
    assert summary["nvfp4"]["bits_per_value"] == bits / params


def test_bf16_stored_is_exact_in_bf16(model: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, arrays = model
    recs, p = records("compare", "--small", str(path.parent / "bf16.safetensors"),
                      "-F", "bf16,fp16")
    assert p.returncode == 0, p.stderr
    r = recs[0]
    assert r["dtype"] == "BF16" and r["exact_fraction"] == 1.0 and r["sqnr_db"] == "inf"
    assert r["amax"] == float(np.abs(arrays["bf16:w"].astype(np.float64)).max())


def test_jobs_give_identical_results(model: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, _ = model
    args = ("compare", "--small", str(path), "-F", "bf16,e4m3fn:tensor,int4:group16,mxfp4,nvfp4")
    one = precli(*args, "-o", "ndjson")
    two = precli(*args, "-o", "ndjson", "--jobs", "2")
    assert one.returncode == two.returncode == 0
    assert one.stdout == two.stdout and one.stdout


def test_tensor_selection(model: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, _ = model
    recs, _ = records("compare", "--small", str(path), "-F", "bf16", "--tensors", r"^layers\.",
                      "--exclude", "norm")
    assert [r["tensor"] for r in recs] == ["layers.0.o.weight", "layers.0.q.weight", None]
    p = precli("compare", str(path), "--tensors", "nothing-matches")
    assert p.returncode == 2 and "no tensor" in p.stderr
    p = precli("compare", str(path), "--tensors", "(")
    assert p.returncode == 2 and "invalid --tensors pattern" in p.stderr


def test_table_view_summary_first(model: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, _ = model
    p = precli("compare", "--small", str(path), "-F", "bf16,e4m3fn,e4m3fn:tensor", "-o", "table")
    out = p.stdout
    assert p.returncode == 0
    assert out.index("4 of 5 tensors") < out.index("SQNR by tensor")
    assert "position_ids (integer" in out or "position_ids" in out.split("skipped", 1)[1]
    assert "layers.0.o.weight (1 lost)" in out  # the worst e4m3fn tensor, said plainly
    full = precli("compare", "--small", str(path), "-F", "bf16", "-o", "table", "--all").stdout
    assert "SQNR of every tensor" in full and "embed.weight" in full


def test_sharded_model_with_a_damaged_shard(tmp_path: Path) -> None:
    make_sharded(tmp_path)
    recs, p = records("compare", "--small", str(tmp_path), "-F", "bf16")
    assert p.returncode == 0 and [r["tensor"] for r in recs][:4] == [
        f"layer.{i}.w" for i in range(4)]
    shard = tmp_path / "m-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:20])
    recs, p = records("compare", "--small", str(tmp_path / "model.safetensors.index.json"),
                      "-F", "bf16")
    assert p.returncode == 1
    assert {r["tensor"] for r in recs} == {"layer.0.w", "layer.1.w", None}  # healthy ones
    line = p.stderr.strip().splitlines()
    assert len(line) == 1 and "m-00002.safetensors" in line[0] and "Traceback" not in p.stderr


@pytest.mark.parametrize("case, data", [
    ("truncated", b"\x10\x00\x00"),
    ("header beyond the file", (1000).to_bytes(8, "little") + b"{}"),
    ("bad json", (8).to_bytes(8, "little") + b"{nope   "),
])
def test_malformed_files_fail_cleanly(tmp_path: Path, case: str, data: bytes) -> None:
    f = tmp_path / "bad.safetensors"
    f.write_bytes(data)
    p = precli("compare", str(f))
    assert p.returncode == 1, case
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.safetensors" in lines[0] and "Traceback" not in p.stderr


def test_pickles_are_refused(tmp_path: Path) -> None:
    import pickle

    f = tmp_path / "model.bin"
    f.write_bytes(pickle.dumps({"w": [1.0]}))
    p = precli("compare", str(f))
    assert p.returncode == 1 and "never unpickles" in p.stderr


def test_gguf_onnx_and_npz(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf", reason="the gguf package (dev dependency) writes GGUF")
    onnx = pytest.importorskip("onnx", reason="the onnx package (dev dependency) writes ONNX")
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(4)
    w = (rng.standard_normal((8, 32)) * 0.1).astype(np.float32)
    # GGUF: dims innermost-first on disk; precli reports numpy order
    gp = tmp_path / "m.gguf"
    wr = gguf.GGUFWriter(str(gp), "llama")
    wr.add_tensor("blk.0.w", w)
    q8 = gguf.quants.quantize(w, gguf.GGMLQuantizationType.Q8_0)
    wr.add_tensor("blk.0.q", q8, raw_shape=q8.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    recs, p = records("compare", "--small", str(gp), "-F", "bf16")
    assert p.returncode == 0, p.stderr
    by = {r["tensor"]: r for r in recs if r["tensor"]}
    assert by["blk.0.w"]["shape"] == [8, 32] and by["blk.0.w"]["dtype"] == "F32"
    assert by["blk.0.q"]["skip"] is None and by["blk.0.q"]["dtype"] == "Q8_0"
    deq = gguf.quants.dequantize(q8, gguf.GGMLQuantizationType.Q8_0)
    (want8,) = compare_array(["bf16"], deq)
    assert by["blk.0.q"]["sqnr_db"] == want8.sqnr_db
    (want,) = compare_array(["bf16"], w)
    assert by["blk.0.w"]["sqnr_db"] == want.sqnr_db
    # ONNX initializers
    op = tmp_path / "m.onnx"
    init = numpy_helper.from_array(w, "fc.weight")
    graph = helper.make_graph([], "g", [], [], initializer=[init])
    onnx.save(helper.make_model(graph), str(op))
    recs, p = records("compare", "--small", str(op), "-F", "bf16")
    assert p.returncode == 0, p.stderr
    assert recs[0]["tensor"] == "fc.weight" and recs[0]["sqnr_db"] == want.sqnr_db
    # npz
    zp = tmp_path / "m.npz"
    np.savez(zp, a=w, b=w[:2])
    recs, p = records("compare", "--small", str(zp), "-F", "bf16")
    assert p.returncode == 0 and [r["tensor"] for r in recs] == ["a", "b", None]
    assert recs[0]["sqnr_db"] == want.sqnr_db
