"""compare: one value in each format, formats side by side (the array form has its own)."""

from __future__ import annotations

import json
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from typer.testing import CliRunner

from precli.cli.app import app

runner = CliRunner()
ENV = {"COLUMNS": "120", "NO_COLOR": "1"}


def run(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args), env=ENV)
    return r.exit_code, r.stdout, r.stderr


def test_compare_value_default_formats_json() -> None:
    code, out, _ = run("compare", "3.14", "--output", "json")
    recs = json.loads(out)
    names = [r["format"] for r in recs]
    assert names == ["fp64", "fp32", "tf32", "fp16", "bf16", "e5m2", "e4m3fn", "e3m2fn",
                     "e2m3fn", "e2m1fn", "int8", "nf4"]
    by = {r["format"]: r for r in recs}
    # oracles: numpy / ml_dtypes casts of 3.14 (no double-rounding trap at this value)
    assert by["fp32"]["hex"] == f"0x{int(np.float32(3.14).view(np.uint32)):08x}"
    assert by["fp16"]["hex"] == f"0x{int(np.float16(3.14).view(np.uint16)):04x}"
    for name, dt in (("bf16", ml_dtypes.bfloat16), ("e4m3fn", ml_dtypes.float8_e4m3fn),
                     ("e5m2", ml_dtypes.float8_e5m2), ("e2m1fn", ml_dtypes.float4_e2m1fn)):
        want = Fraction(float(np.array([3.14], np.float32).astype(dt)[0]))
        assert Fraction(by[name]["exact"]) == want, name
    assert by["int8"]["value"] == "3" and "saturated" in by["nf4"]["flags"]


def test_compare_value_formats_option_and_errors_in_place() -> None:
    code, out, err = run("compare", "nan", "--formats", "fp16,fp4,int8", "--output", "ndjson")
    assert code == 1
    recs = [json.loads(x) for x in out.splitlines()]
    assert recs[0]["hex"] == "0x7e00"
    assert recs[1] == {"input": "nan", "error": "e2m1fn has no NaN: cannot encode nan"}
    assert "int8" in recs[2]["error"]
    assert err.count("\n") == 2


def test_compare_value_table() -> None:
    code, out, _ = run("compare", "0.1", "--output", "table")
    assert code == 0
    assert "0.1 in each format" in out and "0.0999755859375" in out  # fp16's stored value
    assert "inexact, underflow" in out  # 0.1 flushes to zero in fp4


def test_compare_formats_side_by_side() -> None:
    code, out, _ = run("compare", "fp16", "bf16", "tf32", "--output", "json")
    obj = json.loads(out)
    assert [f["name"] for f in obj["formats"]] == ["fp16", "bf16", "tf32"]
    notes = "\n".join(obj["notes"])
    # eps 2^-7 / 2^-10 = 8; fp32's exponent range for bf16 and tf32
    assert "fp16 has 8x finer eps than bf16" in notes
    assert "bf16 keeps fp32's exponent range" in notes
    assert "reaches 2^112x further than fp16" in notes
    code, out, _ = run("compare", "fp16", "bf16", "--output", "table")
    assert "65504" in out and "2^-24" in out and "fp16 has 8x finer eps than bf16" in out


def test_compare_bad_argument() -> None:
    code, _, err = run("compare", "3.14", "fp17x")
    assert code == 2 and "cannot compare 'fp17x'" in err


def _screen(args: list[str], width: int) -> str:
    from typer.testing import CliRunner

    from precli.cli.app import app

    r = CliRunner().invoke(app, args, env={"COLUMNS": str(width), "NO_COLOR": "1"})
    assert r.exit_code == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("width", [60, 80, 120])
def test_narrow_views_never_cut_or_split_numbers(width: int) -> None:
    import re

    out = _screen(["compare", "3.14", "-o", "table"], width)
    assert max(len(s) for s in out.splitlines()) <= width
    assert "…" not in out and "≈3.1400000000000001" in out  # never truncated
    if width < 120:
        assert "not shown at this width:" in out
    if width >= 80:
        assert "0x40091eb851eb851f" in out  # hex stays before flags, rel error, ulps
    fmts = _screen(["compare", "fp16", "bf16", "tf32", "e4m3fn", "-o", "table"], width)
    assert max(len(s) for s in fmts.splitlines()) <= width
    for num in ("≈3.3895e+38", "≈3.4012e+38", "65504", "inf nan -0"):
        assert num in fmts, (width, num)  # whole, on one line
    assert not re.search(r"\+\s*$", fmts, re.M)  # no number split at its exponent
    enc = _screen(["encode", "3.14", "--as", "fp32", "-o", "table"], width)
    assert "0 10000000 10010001111010111000011\n" in enc  # the bits are not split
    assert "sign(1) exponent(8) mantissa(23)" in enc
    nv = _screen(["info", "nvfp4", "-o", "table"], width)
    block = [s for s in nv.splitlines() if s.startswith("block")][0]
    rest = nv.splitlines()[nv.splitlines().index(block) + 1]
    assert rest.startswith(" ") or rest.startswith("bits per block")  # hanging indent
