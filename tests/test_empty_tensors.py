"""A spec-valid empty tensor with huge declared dimensions (issue 18 audit items 1 and 2):
every command reports it as empty, and memory stays bounded by the data present (the
per-channel arrays were sized from the declared rows: 'array is too big', or 5.6 GB)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import quant_fixtures as qf

LIMIT = 2 << 30  # address space for the child: far below what sizing by rows would need


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "precli", *args], cwd=cwd,
                          capture_output=True, text=True, preexec_fn=_limit)


def make(path: Path) -> np.ndarray:
    w = np.arange(64 * 64, dtype=np.float32).reshape(64, 64) / 4096
    qf.write_st(path, [("empty", "F32", [2**62, 0], b""),
                       ("big0", "F32", [50_000_000, 0], b""),
                       ("w", "F32", [64, 64], w.tobytes())])
    return w


def test_compare_check_plan_diff_report_empty_tensors(tmp_path: Path) -> None:
    make(tmp_path / "z.safetensors")
    p = run("compare", "z.safetensors", "--small", "-F", "int8:channel,int4:group32,nvfp4,"
            "e4m3fn:channel,mxfp4", "-o", "json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    recs = json.loads(p.stdout)
    for name in ("empty", "big0"):
        mine = [r for r in recs if r["tensor"] == name]
        assert len(mine) == 5
        assert all(r["count"] == 0 and r["params"] == 0 and r["scale_count"] == 0
                   and r["bits_per_value"] is None for r in mine), mine
    assert sum(1 for r in recs if r["tensor"] == "w") == 5
    p = run("check", "z.safetensors", cwd=tmp_path)
    assert p.returncode == 0 and "checked 3 tensors" in p.stdout, p.stderr
    p = run("diff", "z.safetensors", "z.safetensors", "-o", "json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    d = {r["tensor"]: r for r in json.loads(p.stdout)}
    assert d["empty"]["count"] == 0 and d["w"]["within_half_ulp"] == 1.0
    p = run("plan", "z.safetensors", "-F", "bf16,nvfp4", "--bits", "8", "-o", "json",
            cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert [t["tensor"] for t in json.loads(p.stdout)["tensors"]] == ["w"]
