"""precli check: a clean fixture of each layout passes; a corrupted fixture for each
finding is found. Fixtures: tests/quant_fixtures.py (published formulas, not precli's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest
import quant_fixtures as qf

from precli.model.check import check_checkpoint
from precli.sources.read import forget_maps


def weights(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) * rng.uniform(0.01, 0.1, shape[-1:])


def clean_entries(layout: str) -> list[qf.Entry]:
    if layout == "deepseek":
        return qf.deepseek_clean(weights(1, (160, 256)))
    if layout == "deepseek-ue8m0":
        return qf.deepseek_clean(weights(1, (160, 256)), ue8m0=True)
    if layout == "mxfp4":
        return qf.mxfp4_clean(weights(2, (2, 3, 64)))
    if layout == "nvfp4-modelopt":
        return qf.nvfp4_clean(weights(3, (8, 64)))
    if layout == "nvfp4-ct":
        return qf.nvfp4_clean(weights(3, (8, 64)), "ct")
    if layout == "awq":
        return qf.int4_groups(np.random.default_rng(4), 64, 32, 16, "awq")[0]
    if layout == "gptq":
        return qf.int4_groups(np.random.default_rng(4), 64, 32, 16, "gptq-v1")[0]
    if layout == "ct-int4":
        return qf.ct_pack_quantized(np.random.default_rng(4), 16, 64, 4)[0]
    raise AssertionError(layout)


def run(tmp_path: Path, entries: list[qf.Entry], config: dict[str, Any] | None = None
        ) -> Any:
    p = qf.write_st(tmp_path / "m.safetensors", entries + [
        ("norm", "F32", [4], np.ones(4, "<f4").tobytes())])
    if config is not None:
        (tmp_path / "config.json").write_text(json.dumps({"quantization_config": config}))
    return check_checkpoint(str(p))


UE8M0 = {"quant_method": "fp8", "weight_block_size": [128, 128], "scale_fmt": "ue8m0"}
LAYOUTS = ["deepseek", "deepseek-ue8m0", "mxfp4", "nvfp4-modelopt", "nvfp4-ct", "awq", "gptq",
           "ct-int4"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_clean_fixture_passes(tmp_path: Path, layout: str) -> None:
    rep = run(tmp_path, clean_entries(layout), UE8M0 if layout == "deepseek-ue8m0" else None)
    assert rep.findings == [] and rep.errors == [], [f.line() for f in rep.findings]
    q = [t for t in rep.tensors if t.dtype.endswith(")")]
    assert len(q) == 1
    if layout in ("deepseek", "deepseek-ue8m0", "mxfp4", "nvfp4-modelopt", "nvfp4-ct"):
        assert q[0].blocks and q[0].drifted == 0 and q[0].saturated is not None


def checks(rep: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in rep.findings:
        out.setdefault(f.check, []).append(f.line())
    return out


def f32(a: np.ndarray) -> bytes:
    return a.astype("<f4").tobytes()


def ds_scales(ents: list[qf.Entry]) -> np.ndarray:
    return np.frombuffer(ents[1][3], "<f4").copy()


def test_scale_nan_e4m3_bytes(tmp_path: Path) -> None:
    ents = clean_entries("nvfp4-modelopt")
    sc = bytearray(ents[1][3])
    sc[3], sc[9] = 0x7F, 0xFF
    c = checks(run(tmp_path, qf.replace(ents, "l.weight_scale", bytes(sc))))
    assert c["scale-nan"] == ["l.weight: scale-nan: expected no NaN scale in l.weight_scale "
                              "(scales, e4m3); found 2 of 32 NaN (bytes 0x7f/0xff), first at "
                              "[0, 3]"]
    assert "nonfinite" in c  # the block's weights are NaN too


def test_scale_nan_e8m0(tmp_path: Path) -> None:
    ents = clean_entries("mxfp4")
    sc = bytearray(ents[1][3])
    sc[5] = 0xFF
    c = checks(run(tmp_path, qf.replace(ents, "e.down_proj_scales", bytes(sc))))
    assert "6 NaN" not in c["scale-nan"][0] and "1 of 12 NaN (byte 0xff)" in c["scale-nan"][0]


@pytest.mark.parametrize("value,check", [(np.inf, "scale-inf"), (0.0, "scale-zero"),
                                         (-0.01, "scale-negative")])
def test_bad_fp32_scales(tmp_path: Path, value: float, check: str) -> None:
    ents = clean_entries("deepseek")
    s = ds_scales(ents)
    s[3] = value
    c = checks(run(tmp_path, qf.replace(ents, "l.weight_scale_inv", f32(s))))
    assert check in c and "l.weight_scale_inv" in c[check][0] and "first at [1, 1]" in c[check][0]


def test_global_scale_zero(tmp_path: Path) -> None:
    ents = clean_entries("nvfp4-ct")
    c = checks(run(tmp_path, qf.replace(ents, "l.weight_global_scale", f32(np.zeros(1)))))
    assert "l.weight_global_scale (global scale" in c["scale-zero"][0]


def test_scale_not_power_of_two_under_ue8m0(tmp_path: Path) -> None:
    ents = clean_entries("deepseek-ue8m0")
    s = ds_scales(ents)
    s[2] *= 1.5
    c = checks(run(tmp_path, qf.replace(ents, "l.weight_scale_inv", f32(s)), UE8M0))
    assert len(c["scale-pow2"]) == 1 and "1 of 4 are not, first at [1, 0]" in c["scale-pow2"][0]
    # without the config's ue8m0 the same scale is legal fp32
    rep = run(tmp_path, qf.replace(ents, "l.weight_scale_inv", f32(s)), {})
    assert "scale-pow2" not in checks(rep)


def test_shape_not_divisible(tmp_path: Path) -> None:
    ents = clean_entries("nvfp4-modelopt")  # 8 x 64 -> make it 8 x 56: not whole blocks
    w = ents[0][3]
    short = b"".join(w[r * 32: r * 32 + 28] for r in range(8))
    c = checks(run(tmp_path, qf.replace(ents, "l.weight", short, [8, 28])))
    assert c["shape"] == ["l.weight: shape: expected columns a multiple of the NVFP4 block "
                          "(16); found 56 columns"]


def test_group_shape_not_divisible(tmp_path: Path) -> None:
    ents = clean_entries("gptq")  # K = 64 in groups of 16; say group_size 24 in the config
    c = checks(run(tmp_path, ents, {"quant_method": "gptq", "group_size": 24}))
    assert "64 input rows in groups of 24" in c["shape"][0]


def test_packed_size_mismatch(tmp_path: Path) -> None:
    ents = clean_entries("mxfp4")
    c = checks(run(tmp_path, qf.replace(ents, "e.down_proj_blocks", ents[0][3][:-12],
                                        [2, 3, 2, 15])))
    assert c["packed-size"][0].startswith("e.down_proj_blocks: packed-size: expected MXFP4 "
                                          "blocks of shape [..., G, 16]")
    ents = clean_entries("deepseek")
    c = checks(run(tmp_path, qf.replace(ents, "l.weight_scale_inv", f32(np.ones(3)), [1, 3])))
    assert "expected F32 scales of shape [2, 2]" in c["packed-size"][0]


def test_saturation(tmp_path: Path) -> None:
    ents = clean_entries("nvfp4-modelopt")
    w = bytearray(ents[0][3])
    for i in range(0, 64):  # two rows of codes all at +-6
        w[i] = 0x77 if i % 3 else 0xFF
    rep = run(tmp_path, qf.replace(ents, "l.weight", bytes(w)))
    c = checks(rep)
    assert "at most 64: two per block, or 1%, of 32 blocks" in c["saturation"][0]


def test_nonfinite_weights(tmp_path: Path) -> None:
    ents = clean_entries("deepseek")
    w = bytearray(ents[0][3])
    w[300] = 0x7F  # e4m3fn NaN
    bad = np.ones(4, np.float32)
    bad[2] = np.inf
    rep = run(tmp_path, qf.replace(ents, "l.weight", bytes(w)) + [
        ("plain", "F32", [4], bad.tobytes())])
    c = checks(rep)
    assert c["nonfinite"] == [
        "l.weight: nonfinite: expected finite weights; found 1 of 40960 NaN or infinite, "
        "first at [1, 44]",
        "plain: nonfinite: expected finite weights; found 1 of 4 NaN or infinite, first at [2]"]


def test_requant_drift_when_only_the_scale_was_moved(tmp_path: Path) -> None:
    """The stored scale of one block doubled and its codes halved: the values barely move,
    but re-encoding gives a different scale."""
    ents = clean_entries("deepseek")
    s = ds_scales(ents)
    codes = np.frombuffer(ents[0][3], np.uint8).reshape(160, 256).copy()
    vals = codes.view(ml_dtypes.float8_e4m3fn).astype(np.float64)
    vals[:128, 128:] /= 2
    codes = qf.e4m3_round(vals).view(np.uint8)
    s[1] *= 2
    rep = run(tmp_path, qf.replace(qf.replace(ents, "l.weight", codes.tobytes()),
                                   "l.weight_scale_inv", f32(s)))
    c = checks(rep)
    assert len(c["requant-drift"]) == 1
    assert "scale moves in 1 of 4 blocks (25.00%)" in c["requant-drift"][0]


def test_requant_drift_mxfp4_scale_rounded_alone(tmp_path: Path) -> None:
    """A quantizer that rounded only the stored ue8m0 scale up: values 2x off, and the
    codes no longer reach the top binade, so re-encoding moves the scale."""
    ents = clean_entries("mxfp4")
    blocks = bytearray(ents[0][3])
    for i in range(16):  # block 0: halve every code's magnitude where e2m1 can
        lo, hi = blocks[i] & 15, blocks[i] >> 4
        half = {0: 0, 1: 0, 2: 1, 3: 1, 4: 2, 5: 3, 6: 4, 7: 5}
        blocks[i] = (half[lo & 7] | (lo & 8)) | ((half[hi & 7] | (hi & 8)) << 4)
    c = checks(run(tmp_path, qf.replace(ents, "e.down_proj_blocks", bytes(blocks))))
    assert "scale moves in 1 of 12 blocks" in c["requant-drift"][0]


@pytest.mark.parametrize("conv,text", [("modelopt", "ModelOpt: weight_scale_2 multiplied"),
                                       ("ct", "compressed-tensors: weight_global_scale")])
def test_nvfp4_convention_is_noted(tmp_path: Path, conv: str, text: str) -> None:
    rep = run(tmp_path, qf.nvfp4_clean(weights(3, (8, 64)), conv))
    notes = rep.summary()["notes"]
    assert len(notes) == 1 and text in notes[0]


def test_jobs_give_the_same_report(tmp_path: Path) -> None:
    ents = clean_entries("deepseek")
    s = ds_scales(ents)
    s[0] = np.nan
    p = qf.write_st(tmp_path / "m.safetensors", qf.replace(ents, "l.weight_scale_inv", f32(s))
                    + qf.mxfp4_clean(weights(2, (2, 3, 64))))
    a = check_checkpoint(str(p))
    forget_maps()
    b = check_checkpoint(str(p), jobs=2)
    assert a.records() == b.records() and a.findings




def precli(*args: str) -> Any:
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "precli", *args], capture_output=True,
                          text=True, timeout=120)


def test_cli_lines_records_and_exit_codes(tmp_path: Path) -> None:
    ents = clean_entries("nvfp4-modelopt")
    good = qf.write_st(tmp_path / "good.safetensors", ents)
    sc = bytearray(ents[1][3])
    sc[3] = 0x7F
    bad = qf.write_st(tmp_path / "bad.safetensors", qf.replace(ents, "l.weight_scale",
                                                               bytes(sc)))
    p = precli("check", str(good))
    assert p.returncode == 0 and p.stderr == ""
    assert p.stdout.endswith("checked 1 tensor (1 quantized): 0 findings\n")
    p = precli("check", str(bad), "-o", "plain")
    assert p.returncode == 1
    lines = p.stdout.splitlines()
    assert lines[0].startswith("l.weight: scale-nan: expected no NaN scale in l.weight_scale")
    assert lines[-1] == "checked 1 tensor (1 quantized): 2 findings (scale-nan 1, nonfinite 1)"
    p = precli("check", str(bad), "-o", "ndjson", "-j", "2")
    recs = [json.loads(x) for x in p.stdout.splitlines()]
    assert p.returncode == 1 and [r["check"] for r in recs] == ["scale-nan", "nonfinite",
                                                                 "summary"]
    assert recs[-1]["findings"] == 2 and recs[-1]["tensor"] is None
    p = precli("check", str(bad), "-o", "json")
    assert json.loads(p.stdout) == recs
    p = precli("check", str(tmp_path / "missing.safetensors"))
    assert p.returncode == 2 and p.stderr.startswith("precli: error: ") and \
        len(p.stderr.splitlines()) == 1
    p = precli("check", str(good), "--tensors", "nothing-matches")
    assert p.returncode == 2 and "no tensor" in p.stderr
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    p = precli("check", str(junk))
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "JSON" in p.stderr
