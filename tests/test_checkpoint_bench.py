"""benchmarks/checkpoint_bench.py: its numpy + ml_dtypes baseline (an independent oracle,
written from the published formulas) agrees with ``precli compare CKPT`` on small
checkpoints, including exact ties (a per-tensor amax of 63/64 makes amax / 448 and
amax / 2688 short, so many bf16 values divide exactly onto e4m3fn / e2m1 midpoints)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

pytest.importorskip("ml_dtypes")

ROOT = Path(__file__).resolve().parent.parent
RECIPES = "e4m3fn:tensor,int8:channel,nvfp4"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up there
    try:
        spec.loader.exec_module(mod)
    finally:
        del sys.modules[name]
    return mod


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    sys.path.insert(0, str(ROOT / "benchmarks"))  # for its `from bench_common import ...`
    try:
        return _load("checkpoint_bench")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def _bf16(x: np.ndarray) -> bytes:
    u = x.astype(np.float32).view(np.uint32)
    u = u + (np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1)))
    return (u >> np.uint32(16)).astype("<u2").tobytes()


def _write(path: Path, tensors: list[tuple[str, np.ndarray]]) -> None:
    header: dict[str, object] = {}
    blobs, off = [], 0
    for name, a in tensors:
        b = _bf16(a)
        header[name] = {"dtype": "BF16", "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(len(text).to_bytes(8, "little") + text + b"".join(blobs))


def _run(argv: list[str], out: Path) -> None:
    with open(out, "wb") as f:
        subprocess.run(argv, stdout=f, check=True, cwd=ROOT)


def _compare(bench: ModuleType, ckpt: Path, tmp: Path) -> tuple[Path, Path]:
    base_py = tmp / "baseline.py"
    base_py.write_text(bench.BASELINE)
    pre, base = tmp / "p.ndjson", tmp / "b.ndjson"
    _run([sys.executable, "-m", "precli", "compare", str(ckpt), "--small", "--formats", RECIPES,
          "--output", "ndjson"], pre)
    _run([sys.executable, str(base_py), str(ckpt), "", RECIPES], base)
    return pre, base


def test_baseline_agrees_on_ties_and_edges(bench: ModuleType, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    w = rng.standard_normal((40, 72)) * 0.02
    w[0, 0] = 63 / 64  # amax: amax / 448 = 9 * 2**-12 and amax / 2688 = 3 * 2**-13
    # values whose quotient by 9 * 2**-12 is exactly an e4m3fn midpoint (k / 9 * 2**j)
    w[1, :8] = np.array([9, 27, 45, 63, 81, 99, 117, 135]) * 2.0**-12 * (17 / 16)
    w[2] = 0.0  # an all-zero row: int8 channel scale 1
    w[3, 64:] = 0.0  # an all-zero nvfp4 block (72 = 4 x 16 + 8: partial last block)
    w[4, :16] = 1e-30  # underflows everywhere
    v = 1 + rng.standard_normal(50) * 0.05  # a 1-D tensor: one row, one channel
    ckpt = tmp_path / "t.safetensors"
    _write(ckpt, [("w", w), ("norm", v), ("big", rng.standard_normal((17, 33)) * 100)])
    pre, base = _compare(bench, ckpt, tmp_path)
    assert bench.agree(pre, base, "ties")
    recs = [json.loads(s) for s in base.read_text().splitlines()]
    assert len(recs) == 3 * 3 + 3  # every tensor x recipe, then the summaries
    w_e4 = next(r for r in recs if r["tensor"] == "w" and r["format"] == "e4m3fn:tensor")
    assert w_e4["scale_min"] == 9 * 2.0**-12


def test_baseline_agrees_on_generated_checkpoint(bench: ModuleType, tmp_path: Path) -> None:
    gen = _load("gen_checkpoint")
    ckpt = tmp_path / "q.safetensors"
    assert gen.main(["--quick", str(ckpt)]) == 0
    pre, base = _compare(bench, ckpt, tmp_path)
    assert bench.agree(pre, base, "quick")
    # the check can fail: one count off, or one float beyond the tolerance
    lines = base.read_text().splitlines()
    r = json.loads(lines[5])
    r["underflow"] += 1
    bad = tmp_path / "bad.ndjson"
    bad.write_text("\n".join([*lines[:5], json.dumps(r), *lines[6:]]) + "\n")
    assert not bench.agree(pre, bad, "bad count")
    r = json.loads(lines[5])
    r["rmse"] *= 1 + 1e-6
    bad.write_text("\n".join([*lines[:5], json.dumps(r), *lines[6:]]) + "\n")
    assert not bench.agree(pre, bad, "bad float")
