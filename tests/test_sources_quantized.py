"""precli.sources.quantized: logical tensors of quantized layouts, against fixtures written
from the published formulas (tests/quant_fixtures.py), never from precli's readers."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import quant_fixtures as qf

from precli.sources import open_checkpoint
from precli.sources.quantized import QuantTensor


def logical(path: Path, name: str) -> QuantTensor:
    ck = open_checkpoint(str(path))
    assert ck.errors == [], ck.errors
    t = {t.name: t for t in ck.tensors()}[name]
    assert isinstance(t, QuantTensor)
    return t


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b)) and bool(
        np.array_equal(np.signbit(a), np.signbit(b)))


def check_reads(t: QuantTensor, expect: np.ndarray, rng: np.random.Generator) -> None:
    assert t.shape == expect.shape
    whole = t.read()
    assert same(whole, expect.reshape(-1))
    n = t.numel
    for _ in range(20):  # arbitrary ranges, including ones that cut blocks and rows
        a, b = sorted(rng.integers(0, n + 1, 2))
        assert same(t.read(int(a), int(b)), expect.reshape(-1)[a:b])
    got = np.concatenate(list(t.chunks(37)))
    assert same(got, expect.reshape(-1))


def test_deepseek_fp8_blocks(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ents, expect = qf.deepseek(rng, 200, 300)
    p = qf.write_st(tmp_path / "m.safetensors", ents + [("norm", "F32", [3],
                                                          np.ones(3, "<f4").tobytes())])
    t = logical(p, "l.weight")
    assert t.dtype == "FP8-block128 (DeepSeek)" and t.element == "e4m3fn" and t.format is None
    assert t.layout == "fp8-block" and t.block == (128, 128)
    check_reads(t, expect, rng)
    names = [x.name for x in open_checkpoint(str(p)).tensors()]
    assert names == ["l.weight", "norm"]  # the scale tensor is folded in
    raw = [x.name for x in open_checkpoint(str(p), raw=True).tensors()]
    assert raw == ["l.weight", "l.weight_scale_inv", "norm"]


def test_deepseek_block_size_and_scale_fmt_from_config(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    ents, expect = qf.deepseek(rng, 70, 40, b=32)
    p = qf.write_st(tmp_path / "m.safetensors", ents)
    (tmp_path / "config.json").write_text(json.dumps({"quantization_config": {
        "quant_method": "fp8", "weight_block_size": [32, 32], "scale_fmt": "ue8m0"}}))
    t = logical(p, "l.weight")
    assert t.dtype == "FP8-block32 (DeepSeek)" and t.option("scale_fmt") == "ue8m0"
    check_reads(t, expect, rng)


def test_gpt_oss_mxfp4(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ents, expect = qf.gpt_oss(rng, (2, 3), 4)
    p = qf.write_st(tmp_path / "m.safetensors", ents)
    t = logical(p, "e.gate_up_proj")
    assert t.dtype == "MXFP4 (gpt-oss)" and t.shape == (2, 3, 128)
    check_reads(t, expect, rng)


@pytest.mark.parametrize("convention,dtype", [("modelopt", "NVFP4 (ModelOpt)"),
                                              ("ct", "NVFP4 (compressed-tensors)")])
def test_nvfp4_both_conventions(tmp_path: Path, convention: str, dtype: str) -> None:
    rng = np.random.default_rng(4)
    ents, expect = qf.nvfp4(rng, 6, 64, convention)
    p = qf.write_st(tmp_path / "m.safetensors", ents)
    t = logical(p, "l.weight")
    assert t.dtype == dtype and t.shape == (6, 64)
    check_reads(t, expect, rng)


@pytest.mark.parametrize("kind,act", [("awq", False), ("gptq-v1", False), ("gptq-v2", False),
                                      ("gptq-v1", True)])
def test_int4_groups(tmp_path: Path, kind: str, act: bool) -> None:
    rng = np.random.default_rng(5)
    ents, expect = qf.int4_groups(rng, 64, 48, 16, kind, act_order=act)
    p = qf.write_st(tmp_path / "m.safetensors", ents)
    if kind == "gptq-v2":
        (tmp_path / "quantize_config.json").write_text(json.dumps(
            {"bits": 4, "group_size": 16, "checkpoint_format": "gptq_v2"}))
    t = logical(p, "l.weight")
    want = {"awq": "INT4-group16 (AWQ)", "gptq-v1": "INT4-group16 (GPTQ v1)",
            "gptq-v2": "INT4-group16 (GPTQ v2)"}[kind]
    assert t.dtype == want and t.shape == (48, 64)
    check_reads(t, expect, rng)


def test_logical_tensors_pickle(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    ents, expect = qf.gpt_oss(rng, (2,), 2)
    p = qf.write_st(tmp_path / "m.safetensors", ents)
    t = pickle.loads(pickle.dumps(logical(p, "e.gate_up_proj")))
    assert same(t.read(), expect.reshape(-1))


def test_family_that_does_not_fit_is_named(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    ents, _ = qf.deepseek(rng, 200, 300)
    name, _, _, _ = ents[1]
    bad = [ents[0], (name, "F32", [1, 3], np.ones(3, "<f4").tobytes())]
    p = qf.write_st(tmp_path / "m.safetensors", bad)
    ck = open_checkpoint(str(p))
    assert len(ck.errors) == 1
    msg = str(ck.errors[0])
    assert "l.weight_scale_inv" in msg and "[2, 3]" in msg and "[1, 3]" in msg
    assert [t.name for t in ck.tensors()] == ["l.weight", "l.weight_scale_inv"]


def test_compare_reads_logical_tensors(tmp_path: Path) -> None:
    """compare sees the logical tensor: a DeepSeek FP8 tensor stored under its own recipe
    is exact, and its dtype names the layout; the scale tensor is not listed."""
    import subprocess
    import sys

    rng = np.random.default_rng(8)
    w = rng.standard_normal((160, 256)) * 0.02
    p = qf.write_st(tmp_path / "m.safetensors", qf.deepseek_clean(w))
    out = subprocess.run([sys.executable, "-m", "precli", "compare", str(p), "-F",
                          "e4m3fn:block128x128,bf16", "-o", "ndjson"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    recs = [json.loads(x) for x in out.stdout.splitlines()]
    per = [r for r in recs if r["tensor"] is not None]
    assert {r["tensor"] for r in per} == {"l.weight"}
    assert per[0]["dtype"] == "FP8-block128 (DeepSeek)" and per[0]["shape"] == [160, 256]
    assert per[0]["exact_fraction"] == 1 and per[0]["sqnr_db"] == "inf"


@pytest.mark.parametrize("k,groups,dtype", [(64, 4, "INT4-group16 (compressed-tensors)"),
                                            (70, 1, "INT4-channel (compressed-tensors)")])
def test_compressed_tensors_pack_quantized(tmp_path: Path, k: int, groups: int,
                                           dtype: str) -> None:
    rng = np.random.default_rng(9)
    ents, expect = qf.ct_pack_quantized(rng, 12, k, groups)
    p = qf.write_st(tmp_path / "m.safetensors", ents)
    t = logical(p, "l.weight")
    assert t.dtype == dtype and t.element == "int4"
    check_reads(t, expect, rng)


def test_plan_costs_stored_quantized_tensors_by_their_bytes(tmp_path: Path) -> None:
    """A logical tensor has no element format: plan's "stored" choice costs its bytes,
    scales included (not 8 bits per value, not 0)."""
    from precli.model.analyze import analyze
    from precli.model.plan import STORED, build_items
    from precli.model.stats import resolve_recipes

    rng = np.random.default_rng(10)
    p = qf.write_st(tmp_path / "m.safetensors",
                    qf.deepseek_clean(rng.standard_normal((160, 256)) * 0.02))
    recipes = resolve_recipes(["int4:group128"])
    rep = analyze(str(p), recipes)
    items, skipped = build_items(rep.tensors, recipes, [], True, True)
    (it,) = items
    stored = next(c for c in it.choices if c.recipe == STORED)
    assert stored.bits == 8 * (160 * 256 + 4 * 2 * 2) and skipped == []
