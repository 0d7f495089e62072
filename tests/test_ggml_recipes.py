"""ggml block types as recipes (q8_0, q4_0, q4_1, q5_0, q5_1): bit for bit against
gguf-py's reference quantizer (``gguf.quants``, a dev-only dependency and the oracle here),
their storage size against ``gguf.GGML_QUANT_SIZES``, and the CLI end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from precli.array.recipes import parse_recipe, quantize_tile
from precli.cli.app import app
from precli.errors import UsageError
from precli.model.plan import ggml_type
from precli.model.stats import compare_array

gguf = pytest.importorskip("gguf")
from gguf.quants import dequantize, quantize  # noqa: E402

TYPES = ("q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "tq2_0")


def qt(name: str) -> object:
    return gguf.GGMLQuantizationType[name.upper()]


def reference(name: str, x: np.ndarray) -> np.ndarray:
    """gguf-py's stored values as float64, shaped like x (rows along the last axis)."""
    t = qt(name)
    return np.asarray(dequantize(quantize(x, t), t), np.float64).reshape(x.shape)


def cases() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(20)
    out: list[tuple[str, np.ndarray]] = []
    for shape in ((32,), (64,), (3, 32), (8, 64), (5, 96), (2, 3, 128), (256,), (3, 512)):
        out.append((f"normal{shape}", rng.standard_normal(shape)))
    out.append(("t3", rng.standard_t(3, (16, 256)) * 0.02))
    out.append(("zeros", np.zeros((4, 64))))
    z = rng.standard_normal((4, 64))
    z[1, :32] = 0.0  # one all-zero block among live ones
    z[2, 32:] = 1.25  # a constant block
    out.append(("zero-block", z))
    h = rng.standard_normal((4, 64))
    h[0, 3] = 1e4  # one huge value
    h[1, 40] = -7e3  # a negative maximum
    h[2, 5], h[2, 6] = -3.0, 3.0  # a tie of magnitudes: the first one is the maximum
    h[3, :32] = -np.abs(h[3, :32])  # all negative
    out.append(("huge", h))
    # values on .5 boundaries of every type's grid: halves and quarter steps
    k = rng.integers(-16, 17, (6, 64)).astype(np.float64)
    out.append(("halves", k / 2 + 0.25 * rng.integers(0, 2, (6, 64))))
    out.append(("ints", rng.integers(-127, 128, (4, 64)).astype(np.float64)))
    out.append(("ties8", np.tile(np.arange(-8, 8) + 0.5, (2, 4))))
    # q8_0 ties: amax 127 gives d = 1, so x * (1/d) lands on k + 1/2 (away from zero)
    t = np.tile(np.concatenate([[127.0], np.arange(-15, 16) + 0.5]), (2, 2))
    out.append(("q8-ties", t))
    out.append(("q8-ties-neg", -t))
    # a large minimum and a tiny step: d * q + min rounds in float32 (q4_1 / q5_1)
    out.append(("offset", 1000 + rng.standard_normal((4, 64)) * 1e-3))
    # blocks of 256 (tq2_0): amax 1 gives 1/d = 1, so +-0.5 are ties (away from zero); an
    # all-zero block, a huge value, a negative maximum
    w = rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0, 0.25, -0.75], (4, 512))
    w[0, :256] = 0.0
    w[1, 7] = 1e4
    w[2, 300] = -50.0
    out.append(("ternary", w))
    out.append(("tiny", rng.standard_normal((2, 64)) * 1e-6))
    out.append(("fp16-subnormal-scale", rng.standard_normal((2, 64)) * 1e-8))
    out.append(("float32", rng.standard_normal((4, 64)).astype(np.float32)))
    return out


CASES = cases()


def ref_stats(x: np.ndarray, d: np.ndarray) -> dict[str, float | int]:
    x = np.asarray(x, np.float64).ravel()
    d = d.ravel()
    e = np.abs(d - x)
    n = x.size
    return {
        "count": n,
        "lost": int(np.count_nonzero(~np.isfinite(d))),
        "underflow": int(np.count_nonzero((x != 0) & (d == 0))),
        "max_abs_error": float(e.max()),
        "mean_abs_error": math.fsum(e.tolist()) / n,
        "rmse": math.sqrt(math.fsum((e * e).tolist()) / n),
        "sqnr": (math.inf if e.max() == 0 else
                 10 * math.log10(math.fsum((x * x).tolist()) / math.fsum((e * e).tolist()))),
    }


@pytest.mark.parametrize("name", TYPES)
@pytest.mark.parametrize("label,x", CASES, ids=[c[0] for c in CASES])
def test_compare_matches_gguf(name: str, label: str, x: np.ndarray) -> None:
    if x.shape[-1] % parse_recipe(name).cols:
        with pytest.raises(UsageError, match="whole blocks"):
            compare_array([name], x)
        return
    ref = reference(name, x)
    # the stored values themselves, bit for bit
    mat = np.asarray(x, np.float64).reshape(-1, x.shape[-1])
    res = quantize_tile(parse_recipe(name), mat)
    assert np.array_equal(res.dequant, ref.reshape(mat.shape), equal_nan=True), label
    (s,) = compare_array([name], x)
    want = ref_stats(x, ref)
    assert (s.count, s.lost, s.underflow) == (want["count"], want["lost"], want["underflow"])
    assert s.max_abs_error == want["max_abs_error"]
    assert s.mean_abs_error == pytest.approx(want["mean_abs_error"], rel=1e-14)
    assert s.rmse == pytest.approx(want["rmse"], rel=1e-14)
    assert s.sqnr_db == pytest.approx(want["sqnr"], rel=1e-13)
    assert s.scale_count == x.size // parse_recipe(name).cols and s.scaling == "ggml"


@pytest.mark.parametrize("name", TYPES)
@pytest.mark.parametrize("label,x", CASES, ids=[c[0] for c in CASES])
def test_codes_and_scales_are_gguf_bytes(name: str, label: str, x: np.ndarray) -> None:
    """Codes and fp16 scales as gguf writes them, unpacked from its bytes."""
    if x.shape[-1] % parse_recipe(name).cols:
        return
    t = qt(name)
    blocks = quantize(x, t).reshape(-1, gguf.GGML_QUANT_SIZES[t][1])
    mat = np.asarray(x, np.float64).reshape(-1, x.shape[-1])
    res = quantize_tile(parse_recipe(name), mat)
    assert res.scales is not None
    codes = res.codes.reshape(-1, parse_recipe(name).cols)
    if name == "tq2_0":  # 2-bit codes, 4 per byte 32 apart, then d
        d = blocks[:, -2:].copy().view(np.float16).astype(np.float64).ravel()
        assert np.array_equal(res.scales, d, equal_nan=True)
        qs = blocks[:, :-2].reshape(-1, 2, 1, 32) >> np.array([0, 2, 4, 6], np.uint8)[:, None]
        assert np.array_equal(codes, (qs & 3).reshape(codes.shape))
        return
    d = blocks[:, :2].copy().view(np.float16).astype(np.float64).ravel()
    assert np.array_equal(res.scales, d, equal_nan=True)
    if name == "q8_0":
        assert np.array_equal(codes, blocks[:, 2:])
        return
    start = 4 if name.endswith("_1") else 2
    if name.startswith("q5"):
        qh = blocks[:, start:start + 4].copy().view(np.uint32).ravel()
        high = (qh[:, None] >> np.arange(32, dtype=np.uint32)) & 1
        start += 4
    else:
        high = np.zeros(codes.shape, np.uint32)
    qs = blocks[:, start:]
    low = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.uint32)
    assert np.array_equal(codes.astype(np.uint32), low | (high << 4))


def test_overflow_is_the_clamped_opposite_extreme() -> None:
    x = np.zeros(32)
    x[0], x[1] = 1.0, -1.0  # q4_0: d = 1/-8, -1 -> code 16, clamped to 15
    (a, b) = compare_array(["q4_0", "q4_1"], x)
    assert a.overflow == 1 and b.overflow == 0
    assert a.max_abs_error == 1 / 8


@pytest.mark.parametrize("name", TYPES)
def test_bits_per_value_is_the_type_size(name: str) -> None:
    block, nbytes = gguf.GGML_QUANT_SIZES[qt(name)]
    r = parse_recipe(name)
    assert r.bits_per_value((4, 512)) == nbytes * 8 / block
    (s,) = compare_array([name], np.ones((2, 256)))
    assert s.bits_per_value == nbytes * 8 / block
    assert ggml_type(r) == name


def test_ragged_rows_and_scalings_are_refused() -> None:
    with pytest.raises(UsageError, match="whole blocks of 32"):
        compare_array(["q4_0"], np.ones((2, 48)))
    with pytest.raises(UsageError, match="takes no scaling"):
        parse_recipe("q8_0:group32")


def test_non_finite_block_is_nan_throughout() -> None:
    x = np.ones((1, 64))
    x[0, 3] = np.inf
    (s,) = compare_array(["q8_0"], x)
    assert s.lost == 31 and s.scale_nan == 1  # the inf itself is not finite to begin with


def make_model(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(7)
    t = {"a.weight": (rng.standard_normal((64, 128)) * 0.02).astype(np.float32),
         "b.weight": (rng.standard_t(3, (96, 64)) * 0.02).astype(np.float32),
         "norm.weight": (1 + 0.1 * rng.standard_normal(64)).astype(np.float32)}
    save_file(t, str(path))
    return t


def test_cli_compare_and_plan_end_to_end(tmp_path: Path) -> None:
    ck = tmp_path / "m.safetensors"
    data = make_model(ck)
    r = CliRunner().invoke(app, ["compare", str(ck), "-F", "q4_0,q8_0", "-o", "json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    recs = [x for x in (out if isinstance(out, list) else out["records"])
            if x.get("tensor") == "a.weight"]
    assert {x["format"] for x in recs} == {"q4_0", "q8_0"}
    for x in recs:
        ref = reference(x["format"], data["a.weight"])
        assert x["max_abs_error"] == float(np.abs(ref - data["a.weight"]).max())
    for bits, want in (("6", {"q4_0"}), ("9", {"q8_0"})):
        r = CliRunner().invoke(app, ["plan", str(ck), "--formats", "q4_0,q8_0", "--bits", bits,
                                     "--emit", "llama-quantize"])
        assert r.exit_code == 0, r.output
        types = {line.split("$=", 1)[0].split("^", 1)[1].replace("\\", ""):
                 line.rsplit("=", 1)[1].rstrip("'")
                 for line in r.stdout.splitlines() if line.startswith("--tensor-type")}
        assert types.pop("norm.weight") == "f32"  # 1-D: kept as stored
        assert set(types) == {"a.weight", "b.weight"}
        assert want <= set(types.values()) <= {"q4_0", "q8_0"}
        if bits == "9":
            assert set(types.values()) == {"q8_0"}


def test_a_ragged_tensor_in_a_checkpoint_is_one_named_error(tmp_path: Path) -> None:
    """One tensor whose rows are not whole ggml blocks is an error naming it (exit 1); the
    other tensors are still compared (the refusal stopped the whole run)."""
    import subprocess
    import sys

    from safetensors.numpy import save_file

    rng = np.random.default_rng(5)
    save_file({"a.weight": rng.standard_normal((64, 64)).astype(np.float32),
               "b.weight": rng.standard_normal((64, 48)).astype(np.float32)},
              str(tmp_path / "m.safetensors"))
    p = subprocess.run([sys.executable, "-m", "precli", "compare", "m.safetensors", "-F",
                        "q4_0", "-o", "json"], cwd=tmp_path, capture_output=True, text=True)
    assert p.returncode == 1
    assert p.stderr == ("precli: error: m.safetensors: tensor 'b.weight': q4_0 stores each "
                        "row in whole blocks of 32 values; these rows hold 48 (ggml refuses "
                        "such a tensor)\n")
    recs = json.loads(p.stdout)
    assert [r["tensor"] for r in recs] == ["a.weight", None]
