"""compare FILE through the CLI, info / encode of block-scaled formats."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from typer.testing import CliRunner

from precli.cli.app import app

runner = CliRunner()
ENV = {"COLUMNS": "120", "NO_COLOR": "1"}
KEYS = ["format", "count", "nan_in", "lost", "overflow", "underflow", "subnormal",
        "exact_fraction", "max_abs_error", "mean_abs_error", "rmse", "max_rel_error", "sqnr_db",
        "bits_per_value", "scaling", "block", "scale_format", "scheme", "scale", "zero_point",
        "scale_count", "scale_min", "scale_max", "scale_nan", "tensor_scale", "note",
        "recommended"]  # fmt: skip


def run(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args), env=ENV)
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((64, 96)) * 0.05).astype(np.float32)
    x[0, :4] = [1000.0, -70000.0, 1e-9, 0.0]  # overflow for fp8 / fp16, underflow, zero
    x[1, 0] = np.nan
    p = tmp_path_factory.mktemp("w") / "w.npy"
    np.save(p, x)
    return p, x


def numpy_stats(x: np.ndarray, q: np.ndarray, fmax: float) -> dict[str, float | int]:
    """The statistics contract, computed the straightforward way."""
    x = x.astype(np.float64).reshape(-1)
    q = q.astype(np.float64).reshape(-1)
    fin = np.isfinite(x)
    both = fin & np.isfinite(q)
    err = np.abs(x[both] - q[both])
    nz = both & (x != 0)
    return {
        "count": x.size,
        "nan_in": int(np.isnan(x).sum()),
        "overflow": int((fin & (np.abs(x) > fmax) & ~(np.abs(q) <= fmax)).sum()
                        + (fin & np.isfinite(q) & (np.abs(q) == fmax) & (np.abs(x) > fmax)).sum()),
        "underflow": int((fin & (x != 0) & (q == 0)).sum()),
        "max_abs_error": float(err.max()),
        "rmse": math.sqrt(float(np.mean(err**2))),
        "mean_abs_error": float(err.mean()),
        "exact_fraction": float((x[fin] == q[fin]).mean()),
        "max_rel_error": float((np.abs(x[nz] - q[nz]) / np.abs(x[nz])).max()),
        "sqnr_db": 10 * math.log10(float(np.sum(x[both] ** 2)) / float(np.sum(err**2))),
    }


def _casts(x: np.ndarray, saturate: bool) -> dict[str, tuple[np.ndarray, float]]:
    """The oracle casts: ml_dtypes / numpy from float32 (saturating: clamp first, which
    rounds the same as saturating after rounding, since clamped values are representable)."""
    out = {}
    for name, dt, fmax in (("bf16", ml_dtypes.bfloat16, 3.3895313892515355e38),
                           ("fp16", np.float16, 65504.0),
                           ("e4m3fn", ml_dtypes.float8_e4m3fn, 448.0),
                           ("e5m2", ml_dtypes.float8_e5m2, 57344.0)):
        src = np.clip(x, -fmax, fmax) if saturate else x
        with np.errstate(over="ignore"):
            out[name] = (src.astype(dt), fmax)
    return out


def test_compare_file_json_matches_numpy(weights: tuple[Path, np.ndarray]) -> None:
    path, x = weights
    code, out, err = run("compare", str(path), "--formats", "bf16,fp16,e4m3fn,e5m2",
                         "--output", "json")
    assert code == 0, err
    recs = {r["format"]: r for r in json.loads(out)}
    for r in recs.values():
        assert list(r) == KEYS
    fin = np.isfinite(x)
    for name, (q, _) in _casts(x, saturate=False).items():
        got = recs[name]
        lost = int((fin & ~np.isfinite(q.astype(np.float64))).sum())
        assert got["lost"] == lost, name
        if lost:  # a lost value makes every error infinite: said plainly, never hidden
            assert got["max_abs_error"] == got["rmse"] == got["mean_abs_error"] == "inf"
            assert got["sqnr_db"] == "-inf"
        else:
            want = numpy_stats(x, q, 0.0)
            assert got["sqnr_db"] == pytest.approx(want["sqnr_db"], rel=1e-9)
    # 1000 and -70000: e4m3fn (max 448, no inf) turns both into NaN, e5m2 (57344) sends
    # -70000 to -inf, fp16 (65504) too; bf16 keeps both
    assert recs["e4m3fn"]["lost"] == 2 and recs["fp16"]["lost"] == 1
    assert recs["e5m2"]["lost"] == 1 and recs["bf16"]["lost"] == 0
    assert recs["e4m3fn"]["overflow"] == 2 and recs["fp16"]["overflow"] == 1
    assert recs["bf16"]["overflow"] == 0


def test_compare_file_saturated_matches_numpy(weights: tuple[Path, np.ndarray]) -> None:
    path, x = weights
    code, out, err = run("compare", str(path), "--formats", "bf16,fp16,e4m3fn,e5m2",
                         "--saturate", "--output", "json")
    assert code == 0, err
    recs = {r["format"]: r for r in json.loads(out)}
    for name, (q, fmax) in _casts(x, saturate=True).items():
        want = numpy_stats(x, q, fmax)
        got = recs[name]
        assert got["lost"] == 0, name  # a saturated value is not lost: its error counts
        for k in ("count", "nan_in", "underflow"):
            assert got[k] == want[k], (name, k)
        for k in ("max_abs_error", "mean_abs_error", "rmse", "max_rel_error", "sqnr_db",
                  "exact_fraction"):
            assert got[k] == pytest.approx(want[k], rel=1e-9), (name, k)
    assert recs["e4m3fn"]["overflow"] == 2 and recs["e4m3fn"]["max_abs_error"] == 70000 - 448


def test_compare_file_int8_scale(weights: tuple[Path, np.ndarray]) -> None:
    path, x = weights
    code, out, _ = run("compare", str(path), "--formats", "int8", "--output", "json")
    (r,) = json.loads(out)
    absmax = float(np.nanmax(np.abs(x.astype(np.float64))))
    assert r["scale"] == pytest.approx(absmax / 127, rel=1e-15) and r["zero_point"] == 0
    assert r["scale_count"] == 1 and r["bits_per_value"] == 8 + 64 / x.size
    code, out, _ = run("compare", str(path), "--formats", "int8", "--granularity", "channel",
                       "--axis", "0", "--output", "json")
    (r,) = json.loads(out)
    assert r["scale"] is None and r["scale_count"] == 64
    rows = np.abs(np.where(np.isfinite(x), x, 0).astype(np.float64)).max(axis=1)
    assert r["scale_max"] == pytest.approx(rows.max() / 127, rel=1e-15)
    assert r["scale_min"] == pytest.approx(rows.min() / 127, rel=1e-15)


def test_compare_file_table_and_plot(weights: tuple[Path, np.ndarray]) -> None:
    path, _ = weights
    code, out, _ = run("compare", str(path), "--formats", "bf16,fp16,e4m3fn,e4m3fn:tensor",
                       "--plot", "--output", "table")
    assert code == 0
    assert "6,144 values" in out
    # fp16 and e4m3fn lose values: they show ∞ errors and never a star; the clean bf16
    # and scaled e4m3fn rows compete for the stars
    fp16 = next(line for line in out.splitlines() if line.lstrip().startswith("fp16"))
    assert "★" not in fp16 and "−∞" in fp16
    assert "★" in out and "★ best in its column among recipes that lose no value" in out
    assert "|x| by binade" in out and "2^9" in out  # 1000 lies in [2^9, 2^10)
    assert "×" in out  # 70000 is above e4m3fn's and fp16's max


def test_no_star_caption_without_a_star(weights: tuple[Path, np.ndarray]) -> None:
    path, _ = weights
    code, out, _ = run("compare", str(path), "--formats", "fp16,e4m3fn", "--output", "table")
    assert code == 0 and "★" not in out


def test_compare_text_stdin_and_raw(tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    p = subprocess.run([sys.executable, "-m", "precli", "compare", "-", "--formats", "fp16",
                        "--input-format", "text", "-o", "json"], input=b"0.1\n0.5\n1e6\n",
                       capture_output=True, env=env, timeout=60)
    (r,) = json.loads(p.stdout)
    assert r["count"] == 3 and r["overflow"] == 1 and r["lost"] == 1  # 1e6 -> inf
    raw = tmp_path / "x.f32"
    np.array([0.5, 1.5], "<f4").tofile(raw)
    code, out, _ = run("compare", "--input", str(raw), "--input-format", "f32", "--formats",
                       "e2m1fn", "-o", "json")
    assert json.loads(out)[0]["exact_fraction"] == 1.0


def test_compare_pickled_npy_refused(tmp_path: Path) -> None:
    bad = tmp_path / "evil.npy"
    np.save(bad, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    code, _, err = run("compare", str(bad))
    assert code == 2 and "never loads pickles" in err


def test_info_block_formats() -> None:
    code, out, _ = run("info", "mxfp4", "--output", "json")
    r = json.loads(out)
    # 32 four-bit elements + one 8-bit scale per block: 4 + 8/32 bits per value
    assert r["effective_bits"] == 4 + 8 / 32 and r["block_size"] == 32
    code, out, _ = run("info", "nvfp4", "--output", "table")
    assert "16 × e2m1fn" in out and "e4m3fn scale" in out and "4.5" in out


def test_encode_block_format_by_hand() -> None:
    code, out, _ = run("encode", "1", "2", "3", "100", "--as", "mxfp4", "--output", "ndjson")
    recs = [json.loads(x) for x in out.splitlines()]
    # amax 100: floor(log2 100) = 6, emax(e2m1) = 2 -> X = 2^4, E8M0 code 127 + 4 = 0x83;
    # 100 / 16 = 6.25 -> 6 -> 96; 3 / 16 = 0.1875 -> 0 (nearest e2m1 is 0)
    assert {r["scale_hex"] for r in recs} == {"0x83"}
    assert recs[3]["value"] == "96.0" and recs[2]["value"] == "0.0"


def precli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "precli", *args], input=stdin,
                          capture_output=True, env=env, timeout=60)


def test_compare_reads_piped_stdin_without_dash() -> None:
    p = precli("compare", "-F", "fp16", "-o", "json", stdin=b"0.5\n1e6\n")
    assert p.returncode == 0, p.stderr
    (r,) = json.loads(p.stdout)
    assert r["count"] == 2 and r["lost"] == 1


def test_compare_names_the_problem() -> None:
    code, _, err = run("compare", "fp61")
    assert code == 2 and "neither a file nor a known format" in err and "fp16" in err
    code, _, err = run("compare", "missing.npy")
    assert code == 2 and "no such file: missing.npy" in err


def test_compare_text_files_by_extension_and_content(tmp_path: Path) -> None:
    for name in ("v.txt", "v.csv", "values"):
        f = tmp_path / name
        f.write_text("0.5\n1.5\n")
        code, out, err = run("compare", str(f), "-F", "e2m1fn", "-o", "json")
        assert code == 0, err
        assert json.loads(out)[0]["exact_fraction"] == 1.0
    npy_named_txt = tmp_path / "a.txt"
    np.save(tmp_path / "a.npy", np.array([0.5], np.float32))
    (tmp_path / "a.npy").rename(npy_named_txt)  # the magic bytes decide, not the name
    code, out, _ = run("compare", str(npy_named_txt), "-F", "e2m1fn", "-o", "json")
    assert code == 0 and json.loads(out)[0]["count"] == 1
    bad = tmp_path / "b.npy"
    bad.write_bytes(b"")
    code, _, err = run("compare", str(bad))
    assert code == 1 and "does not start with the .npy magic" in err


def test_compare_refuses_options_that_change_nothing(weights: tuple[Path, np.ndarray]) -> None:
    path, _ = weights
    cases = [
        (["-F", "mxfp4", "--saturate"], "--saturate applies to plain casts"),
        (["-F", "fp16", "--block-size", "32"], "--block-size applies to bare nf4"),
        (["-F", "fp16", "--scheme", "asymmetric"], "--scheme applies to integer recipes"),
        (["-F", "e4m3fn:tensor", "--granularity", "channel"], "--granularity applies"),
        (["-F", "int4:group128", "--round", "up"], "applies to plain casts"),
        (["-F", "fp16", "--plot", "-o", "json"], "--plot draws a chart"),
        (["-F", "nf4", "--block-size", "100000"], "between 1 and 65,536"),
        (["-F", "e4m3fn:group0"], "between 1 and 65,536"),
        (["-F", "e4m3fn:rows"], "unknown scaling 'rows'"),
        (["-F", "e4m3fn:tensor:fp8"], "unknown scale format 'fp8'"),
        (["-F", "mxfp4:tensor"], "one scale rule"),
        (["-F", "nvfp4:rceil"], "takes no scaling"),
        (["-F", "e4m3fn:tensor,e4m3fn:TENSOR"], "listed twice"),
    ]
    for extra, msg in cases:
        code, _, err = run("compare", str(path), *extra)
        assert code == 2 and msg in err, (extra, err)
    for args in (["3.14", "--plot"], ["fp16", "bf16", "--min-sqnr", "30"]):
        code, _, err = run("compare", *args)
        assert code == 2 and "applies to an array" in err


def test_formats_option_accumulates(weights: tuple[Path, np.ndarray]) -> None:
    path, _ = weights
    code, out, _ = run("compare", str(path), "-F", "bf16", "-F", "fp16,e4m3fn:tensor", "-o",
                       "json")
    assert [r["format"] for r in json.loads(out)] == ["bf16", "fp16", "e4m3fn:tensor"]


def test_min_sqnr_marks_the_cheapest_clean_recipe(weights: tuple[Path, np.ndarray]) -> None:
    path, _ = weights
    recipes = "bf16,fp16,e4m3fn,e4m3fn:tensor,int4:group32,nvfp4"
    code, out, _ = run("compare", str(path), "-F", recipes, "--min-sqnr", "25", "-o", "json")
    recs = json.loads(out)
    ok = [r for r in recs if not r["lost"] and r["sqnr_db"] not in (None, "-inf")
          and (r["sqnr_db"] == "inf" or r["sqnr_db"] >= 25)]
    want = min(ok, key=lambda r: r["bits_per_value"])["format"]
    assert code == 0 and [r["format"] for r in recs if r["recommended"]] == [want]
    assert want != "e4m3fn"  # cheap, but it loses the 1000 and -70000
    code, out, _ = run("compare", str(path), "-F", recipes, "--min-sqnr", "25", "-o", "table")
    assert f"◆ {want}" in out and "◆ cheapest recipe reaching 25 dB" in out
    code, out, err = run("compare", str(path), "-F", "e4m3fn,nvfp4", "--min-sqnr", "90")
    assert code == 1 and "no recipe reaches 90 dB SQNR without losing values" in err


def test_table_fits_narrow_terminals_and_names_hidden_columns(
        weights: tuple[Path, np.ndarray]) -> None:
    path, _ = weights
    for width in (60, 80, 120):
        r = runner.invoke(app, ["compare", str(path), "-F", "bf16,e4m3fn:tensor,int4:group128",
                                "-o", "table"], env={"COLUMNS": str(width), "NO_COLOR": "1"})
        lines = r.stdout.splitlines()
        table = lines[: next(i for i, s in enumerate(lines) if s.startswith("scales"))]
        assert max(len(s) for s in table if "not shown" not in s) <= width, width
        for kept in ("recipe", "lost", "SQNR dB"):
            assert kept in r.stdout, (width, kept)
        if width < 120:
            assert "not shown at this width:" in r.stdout


def test_block_raw_layout_round_trips() -> None:
    from precli.stream.packing import split_block_raw

    vals = ["1", "2", "3", "-0.5", "100"]
    for name, bits, bs, nv in (("mxfp4", 4, 32, False), ("nvfp4", 4, 16, True),
                               ("mxfp8_e4m3", 8, 32, False)):
        recs = [json.loads(x) for x in precli("encode", *vals, "--as", name, "-o",
                                              "ndjson").stdout.splitlines()]
        for pack in ((False, True) if bits < 8 else (False,)):
            raw = precli("encode", *vals, "--as", name, "-o", "raw",
                         *(["--pack"] if pack else [])).stdout
            codes, scales, ts = split_block_raw(raw, len(vals), bits, bs, nv, pack)
            assert [f"0x{c:0{bits // 4}x}" for c in codes.tolist()] == [r["hex"] for r in recs]
            assert {f"0x{s:02x}" for s in scales.tolist()} == {r["scale_hex"] for r in recs}
            if nv:
                assert ts == recs[0]["tensor_scale"]
                # the fp32 bits of the tensor scale, as the record's hex says
                assert np.float32(ts).view(np.uint32) == int(recs[0]["tensor_scale_hex"], 16)
