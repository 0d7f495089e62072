"""The recipe syntax and record contract of `compare` (issue 8), from the issue's text:
canonical spelling, refused recipes as one-line usage errors, zero error vs no input in
JSON, --min-sqnr counting zero error as infinite SQNR."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_recipes_oracle import cli


@pytest.fixture(scope="module")
def npy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("c") / "x.npy"
    np.save(p, np.linspace(-1, 1, 96, dtype=np.float32).reshape(3, 32))
    return p


@pytest.mark.parametrize(("given", "canonical"), [
    ("E4M3FN:Tensor:FP32", "e4m3fn:tensor"),
    ("e4m3fn:block2x16:e8m0", "e4m3fn:block2x16:ue8m0"),
    ("e4m3fn:channel:bfloat16", "e4m3fn:channel:bf16"),
    ("int4:group32:fp16", "int4:group32"),
    ("int4:group32:fp32", "int4:group32:fp32"),
    ("int8:channel:fp32", "int8:channel"),
    ("mxfp4:floor", "mxfp4"),
    ("mxfp4:rceil", "mxfp4:rceil"),
    ("mxfp8", "mxfp8_e4m3"),
    ("nvfp4", "nvfp4"),
])  # fmt: skip
def test_record_format_is_the_canonical_recipe(npy: Path, given: str, canonical: str) -> None:
    code, out, err = cli("compare", str(npy), "-F", given, "--output", "json")
    assert code == 0, err
    assert json.loads(out)[0]["format"] == canonical


@pytest.mark.parametrize("bad", [
    "e4m3fn:group0", "e4m3fn:foo", "e4m3fn:tensor:fp8", "nvfp4:tensor", "mxfp4:ceil",
    "e8m0fnu:tensor", "e4m3fn:tensor:fp32:x", "e4m3fn::fp32", "e4m3fn:block0x4",
    "e4m3fn:group99999999", "nosuchformat:tensor", "e4m3fn:tensor,e4m3fn:tensor:fp32",
])  # fmt: skip
def test_refused_recipes_are_one_line_usage_errors(npy: Path, bad: str) -> None:
    code, out, err = cli("compare", str(npy), "-F", bad, "--output", "json")
    assert code == 2, (bad, out, err)
    assert err.startswith("precli: error: ") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and "internal error" not in err


def test_channels_of_a_1d_array(tmp_path: Path) -> None:
    p = tmp_path / "v.npy"
    np.save(p, np.arange(1.0, 9.0))
    # --granularity channel along an axis a 1-D array lacks: refused
    code, _, err = cli("compare", str(p), "-F", "int8", "--granularity", "channel")
    assert code == 2 and err.startswith("precli: error: ")
    # a channel recipe treats a 1-D tensor (a norm, a bias) as one channel: one scale
    code, out, err = cli("compare", str(p), "-F", "e4m3fn:channel", "-o", "json")
    assert code == 0, err
    (r,) = json.loads(out)
    assert r["scale_count"] == 1 and r["scale"] == float(np.float32(8 / 448))


def test_no_finite_input_is_null_zero_error_is_inf(tmp_path: Path) -> None:
    p = tmp_path / "n.npy"
    np.save(p, np.array([np.nan, np.inf, -np.inf]))
    code, out, err = cli("compare", str(p), "-F", "fp16,e4m3fn:tensor,mxfp4", "--output",
                         "json")
    assert code == 0, err
    for r in json.loads(out):
        assert r["lost"] == 0 and r["nan_in"] == 1 and r["count"] == 3
        assert r["sqnr_db"] is None and r["max_abs_error"] is None, r
    q = tmp_path / "z.npy"
    np.save(q, np.array([0.5, -2.0, 0.0, 448.0]))
    code, out, err = cli("compare", str(q), "-F", "e4m3fn,e4m3fn:tensor:ue8m0", "--output",
                         "json")
    for r in json.loads(out):
        assert (r["sqnr_db"], r["max_abs_error"], r["exact_fraction"]) == ("inf", 0.0, 1.0)


def test_min_sqnr_counts_zero_error_as_infinite(tmp_path: Path) -> None:
    q = tmp_path / "z.npy"
    np.save(q, np.array([0.5, -2.0, 0.0, 448.0, 1.125]))
    # e4m3fn stores every value exactly (8 bits), e4m3fn:tensor also (8 + 32 / 5 bits)
    code, out, err = cli("compare", str(q), "-F", "bf16,e4m3fn:tensor,e4m3fn,mxfp4",
                         "--min-sqnr", "500", "--output", "json")
    assert code == 0, err
    assert [r["format"] for r in json.loads(out) if r["recommended"]] == ["e4m3fn"]


def test_json_ndjson_csv_carry_the_same_records(npy: Path) -> None:
    names = "e4m3fn:tensor,int4:group16,mxfp4:rceil,nvfp4,fp16,e4m3fn:block2x8:ue8m0"
    _, js, _ = cli("compare", str(npy), "-F", names, "--output", "json")
    _, nd, _ = cli("compare", str(npy), "-F", names, "--output", "ndjson")
    _, cs, _ = cli("compare", str(npy), "-F", names, "--output", "csv")
    recs = json.loads(js)
    assert [json.loads(line) for line in nd.splitlines()] == recs
    need = {"format", "lost", "bits_per_value", "scaling", "block", "scale_format", "scale",
            "scale_count", "scale_min", "scale_max", "tensor_scale", "sqnr_db"}
    assert need <= set(recs[0])
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(cs)))
    assert list(rows[0]) == list(recs[0])
    for row, rec in zip(rows, recs, strict=True):
        for k, v in rec.items():
            if isinstance(v, float):
                assert float(row[k]) == v, (k, row[k], v)
            elif isinstance(v, int) and not isinstance(v, bool):
                assert int(row[k]) == v, k
            elif v is None:
                assert row[k] == "", k
            elif isinstance(v, str):
                assert row[k] == v, k
