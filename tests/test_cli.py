"""The CLI as users see it: outputs, JSON schema, flags, errors and exit codes."""

from __future__ import annotations

import csv
import io
import json
import struct
import subprocess
import sys
import time
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from typer.testing import CliRunner

from precli import __version__
from precli.cli.app import app
from precli.core.formats import builtin_formats

runner = CliRunner()
ENV = {"COLUMNS": "100", "NO_COLOR": "1", "FORCE_COLOR": None}


def run(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args), env={**ENV, **(env or {})})
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def js(*args: str) -> object:
    code, out, err = run(*args, "--output", "json")
    assert code == 0, err
    return json.loads(out)


RESULT_KEYS = [
    "input", "format", "round", "hex", "bits", "sign", "exponent", "mantissa", "class",
    "value", "exact", "shortest", "abs_error", "rel_error", "ulp_error", "ulp", "prev", "next",
    "flags",
]  # fmt: skip
INFO_KEYS = {
    "name", "aliases", "bits", "sign_bits", "exponent_bits", "mantissa_bits", "bias", "max",
    "min", "smallest_normal", "smallest_subnormal", "eps", "resolution", "decimal_digits",
    "has_inf", "has_nan", "has_negative_zero", "finite_values",
}  # fmt: skip


# ------------------------------------------------------------------ info


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and out.strip() == f"precli {__version__}"


def test_info_json_schema_every_builtin() -> None:
    recs = js("info")
    assert isinstance(recs, list)
    assert [r["name"] for r in recs] == [f.name for f in builtin_formats()]
    for r in recs:
        floats = {"max", "min", "smallest_normal", "smallest_subnormal", "eps", "resolution"}
        assert set(r) == INFO_KEYS | {f"{k}_exact" for k in floats}
        for k in floats:
            if r[k] is None:
                assert r[f"{k}_exact"] is None
            else:  # the float is the exact twin rounded to nearest
                assert r[k] == float(Fraction(r[f"{k}_exact"]))


def test_info_json_fp16_matches_numpy_finfo() -> None:
    r = js("info", "fp16")
    fi = np.finfo(np.float16)
    assert isinstance(r, dict)
    assert r["max"] == float(fi.max) and r["min"] == float(fi.min)
    assert r["smallest_normal"] == float(fi.smallest_normal)
    assert r["smallest_subnormal"] == float(fi.smallest_subnormal)
    assert r["eps"] == float(fi.eps) and r["decimal_digits"] == fi.precision
    # numpy stores resolution in the type itself (float16(0.001)); precli gives 10^-digits exactly
    assert r["resolution"] == 10.0**-fi.precision == 1e-3
    assert r["max_exact"] == "65504"
    assert r["smallest_subnormal_exact"] == "0.000000059604644775390625"  # 2^-24 = 5^24/10^24
    # 2^16 codes minus 2 x 2^10 with exponent all ones, minus one for -0
    assert r["finite_values"] == 2**16 - 2 * 2**10 - 1
    assert r["has_inf"] and r["has_nan"] and r["has_negative_zero"]


def test_info_json_int_and_nf4_null_what_does_not_apply() -> None:
    r = js("info", "int8")
    assert isinstance(r, dict)
    assert (r["max"], r["min"], r["bias"], r["eps"]) == (127.0, -128.0, None, None)
    assert r["finite_values"] == 256 and r["smallest_normal_exact"] is None
    n = js("info", "nf4")
    assert isinstance(n, dict) and n["max"] == 1.0 and n["min"] == -1.0 and n["finite_values"] == 16


def test_info_e6m9_json() -> None:
    r = js("info", "e6m9")
    assert isinstance(r, dict)
    # bias 2^5-1 = 31; max exponent field 62 -> 2^31 * (2 - 2^-9)
    assert r["bias"] == 31 and r["bits"] == 16
    assert r["max_exact"] == str((2**10 - 1) * 2 ** (31 - 9))
    assert r["smallest_subnormal"] == 2.0 ** (1 - 31 - 9)


def test_info_several_formats_json_is_array() -> None:
    recs = js("info", "fp16", "bf16", "tf32")
    assert isinstance(recs, list) and [r["name"] for r in recs] == ["fp16", "bf16", "tf32"]
    tf32 = recs[2]
    assert tf32["max"] == 3.4011621342146535e38 and tf32["bits"] == 19


def test_info_detail_table_fp16() -> None:
    code, out, _ = run("info", "fp16", "--output", "table")
    assert code == 0
    for piece in [
        "sign(1) exponent(5) mantissa(10)",
        "(-1)^s × 2^(e - 15) × (1 + m/2^10)",
        "(-1)^s × 2^(1 - 15) × (m/2^10)",
        "2^-14",
        "2^-24",
        "65504",
        "0 11110 1111111111 → 2^15 × (1 + 1023/1024) = 65504",
        "+inf 0x7c00",
        "0x7e00",
        "0x8000",
        "63,487",
    ]:
        assert piece in out, piece


def test_info_overview_table_fits_width() -> None:
    for width in (60, 80, 100, 120):
        code, out, _ = run("info", "--output", "table", env={"COLUMNS": str(width)})
        assert code == 0
        assert max(len(line) for line in out.splitlines()) <= width
        assert "e4m3fn" in out and "448" in out
    code, out, _ = run("info", "--output", "table", env={"COLUMNS": "120"})
    for header in ("bytes", "bias", "min normal", "min subnorm", "digits", "resolution"):
        assert header in out


def test_info_piped_default_is_plain_tsv() -> None:
    code, out, _ = run("info", "fp16")
    lines = out.splitlines()
    assert lines[0].split("\t")[0] == "name" and lines[1].split("\t")[0] == "fp16"


def test_info_values_lists_every_code() -> None:
    code, out, _ = run("info", "e2m1fn", "--values", "--output", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["value"] for r in rows[:8]] == ["0", "0.5", "1", "1.5", "2", "3", "4", "6"]
    assert len(rows) == 16 and rows[8]["value"] == "-0"
    code, _, err = run("info", "fp16", "--values")
    assert code == 2 and "8 bits or fewer" in err


def test_unknown_format_message_and_exit_code() -> None:
    code, out, err = run("info", "fp17")
    assert code == 2 and out == ""
    assert err.startswith("precli: error: unknown format 'fp17'; did you mean fp16, ")
    assert err.endswith("?\n") and err.count("\n") == 1
    code, _, err = run("encode", "1", "--as", "bfloat17")
    assert code == 2 and "unknown format 'bfloat17'" in err and "bfloat16" in err


@pytest.mark.parametrize(
    "spec, text",
    [("e99m2", "at most 64"), ("e20m2", "exponent bits must be 1..15"),
     ("e1m3", "at least 2 exponent bits"), ("e5m0", "1 mantissa bit")],
)  # fmt: skip
def test_custom_format_bounds(spec: str, text: str) -> None:
    code, _, err = run("info", spec)
    assert code == 2 and text in err and err.count("\n") == 1


# ------------------------------------------------------------------ encode


def f16_bits(x: float) -> int:
    return int(np.array([x], np.float64).astype(np.float16).view(np.uint16)[0])


def test_done_when_encode_examples() -> None:
    r = js("encode", "0.1", "--as", "fp16")
    assert isinstance(r, dict) and r["hex"] == "0x2e66" == f"0x{f16_bits(0.1):04x}"
    # toward-zero keeps the top 10 mantissa bits of 3.14: exact Fraction check
    r = js("encode", "3.14", "--as", "tf32", "--round", "toward-zero")
    assert isinstance(r, dict) and r["exact"] == "3.138671875"
    assert Fraction(r["exact"]) == Fraction(int(Fraction(314, 100) * 2**9), 2**9)
    r = js("encode", "465", "--as", "e4m3fn")
    assert isinstance(r, dict) and r["value"] == "nan" and r["class"] == "nan"
    assert r["flags"] == ["inexact", "overflow", "nan"]
    r = js("encode", "465", "--as", "e4m3fn", "--saturate")
    assert isinstance(r, dict) and r["value"] == "448" and "saturated" in r["flags"]
    r = js("decode", "0x7b", "--from", "e5m2")
    assert isinstance(r, dict) and r["value"] == "57344"
    assert float(np.array([0x7B], np.uint8).view(ml_dtypes.float8_e5m2)[0]) == 57344.0


def test_encode_json_contract() -> None:
    r = js("encode", "3.14", "--as", "tf32")
    assert isinstance(r, dict) and list(r) == RESULT_KEYS
    # numpy oracle: fp32 nearest of 3.14 then tf32 is the top 19 bits (3.14 is not near a tie)
    f32 = struct.unpack("<I", struct.pack("<f", 3.14))[0]
    assert r["hex"] == f"0x{(f32 + 0x1000) >> 13:05x}" == "0x20248"
    assert r["bits"] == f"{0x20248:019b}"
    assert (r["sign"], r["exponent"], r["mantissa"]) == (0, 128, 0x248)
    assert r["class"] == "normal" and r["exact"] == "3.140625" and r["value"] == "3.140625"
    assert r["shortest"] == "3.14"  # the shortest text that selects the code
    assert r["abs_error"] == float(Fraction("3.140625") - Fraction("3.14"))
    assert r["ulp"] == 2.0**-9 and r["ulp_error"] == pytest.approx(0.32)
    assert Fraction(r["prev"]) == Fraction(3.140625) - Fraction(1, 512)  # exact neighbours
    assert Fraction(r["next"]) == Fraction(3.140625) + Fraction(1, 512)


def test_encode_several_values_array_in_order() -> None:
    recs = js("encode", "0.1", "0.2", "0.3", "--as", "bf16")
    assert isinstance(recs, list) and [r["input"] for r in recs] == ["0.1", "0.2", "0.3"]
    for r in recs:  # ml_dtypes from float32 input is a correct oracle for these values
        b = np.array([float(r["input"])], np.float32).astype(ml_dtypes.bfloat16).view(np.uint16)
        assert r["hex"] == f"0x{int(b[0]):04x}"


@pytest.mark.parametrize(
    "args",
    [
        ["encode", "-3.14", "--as", "fp16"],
        ["encode", "--as", "fp16", "-3.14"],
        ["encode", "-3.14", "-o", "plain", "--as=fp16"],
    ],
)
def test_negative_values_are_values(args: list[str]) -> None:
    code, out, err = run(*args, "--output", "plain")
    assert code == 0, err
    assert out == f"0x{f16_bits(-3.14):04x}\n"


def test_negative_specials_and_mixed() -> None:
    code, out, _ = run("encode", "-inf", "-0", "--as", "bf16", "--output", "plain")
    assert out == "0xff80\n0x8000\n"
    code, out, _ = run("encode", "1", "-1e5", "--as", "tf32", "--output", "plain")
    assert code == 0 and out.splitlines()[0] == "0x1fc00"


def test_bad_value_keeps_its_place() -> None:
    code, out, err = run("encode", "1", "abc", "2", "--as", "fp16", "--output", "ndjson")
    assert code == 1
    recs = [json.loads(line) for line in out.splitlines()]
    assert recs[1] == {"input": "abc", "error": "not a number: 'abc'"}
    assert recs[0]["hex"] == "0x3c00" and recs[2]["hex"] == "0x4000"
    assert err == "precli: error: value 2 ('abc'): not a number: 'abc'\n"
    code, out, _ = run("encode", "1", "abc", "--as", "fp16", "--output", "plain")
    assert out == "0x3c00\nerror\n"
    code, out, _ = run("encode", "1", "abc", "--as", "fp16", "--output", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[1]["input"] == "abc" and rows[1]["hex"] == "" and rows[1]["error"]


def test_nan_into_fp4_is_an_error_not_zero() -> None:
    code, out, err = run("encode", "nan", "--as", "fp4", "--output", "plain")
    assert code == 1 and out == "error\n"
    assert "e2m1fn has no NaN" in err


def test_round_aliases_and_bad_mode() -> None:
    for alias, full in [("rne", "nearest-even"), ("rna", "nearest-away"), ("rz", "toward-zero"),
                        ("ru", "up"), ("rd", "down")]:
        a = js("encode", "0.1", "--as", "bf16", "--round", alias)
        b = js("encode", "0.1", "--as", "bf16", "--round", full)
        assert isinstance(a, dict) and isinstance(b, dict)
        assert a["hex"] == b["hex"] and a["round"] == full
    code, _, err = run("encode", "1", "--as", "fp16", "--round", "sideways")
    assert code == 2 and "unknown rounding mode 'sideways'" in err


def test_directed_rounding_brackets_value() -> None:
    up = js("encode", "0.1", "--as", "fp16", "--round", "up")
    down = js("encode", "0.1", "--as", "fp16", "--round", "down")
    assert isinstance(up, dict) and isinstance(down, dict)
    assert Fraction(down["exact"]) < Fraction(1, 10) < Fraction(up["exact"])
    assert int(up["hex"], 16) - int(down["hex"], 16) == 1


def test_stochastic_seed_reproducible() -> None:
    args = ["encode", *(["0.1"] * 40), "--as", "e4m3fn", "--round", "stochastic", "--seed", "7",
            "--output", "plain"]  # fmt: skip
    a, b = run(*args)[1], run(*args)[1]
    assert a == b and len(set(a.split())) == 2  # both neighbours appear over 40 draws


def test_extreme_exponents_answer_instantly() -> None:
    t = time.perf_counter()
    r = js("encode", "1e999999999", "1e-999999999", "-1e999999999", "--as", "fp32")
    assert time.perf_counter() - t < 2
    assert isinstance(r, list)
    assert [x["value"] for x in r] == ["inf", "0", "-inf"]
    assert r[1]["flags"] == ["inexact", "underflow"] and r[0]["abs_error"] is None


def test_e8m0_ties_documented_choice() -> None:
    rne = js("encode", "3", "--as", "e8m0fnu")
    rna = js("encode", "3", "--as", "e8m0fnu", "--round", "nearest-away")
    assert isinstance(rne, dict) and isinstance(rna, dict)
    assert (rne["value"], rne["hex"]) == ("2", "0x80")
    assert rna["value"] == "4"


def test_int_quantization() -> None:
    r = js("encode", "1.3", "--as", "int8", "--scale", "0.5", "--zero-point", "3")
    # q = round(1.3 / 0.5) + 3 = round(2.6) + 3 = 6; dequantized (6 - 3) * 0.5 = 1.5
    assert isinstance(r, dict) and r["hex"] == "0x06" and r["value"] == "1.5"
    assert r["scale"] == 0.5 and r["zero_point"] == 3
    r = js("encode", "300", "--as", "int8")
    assert isinstance(r, dict) and r["value"] == "127" and "saturated" in r["flags"]
    code, _, err = run("encode", "1", "--as", "fp16", "--scale", "2")
    assert code == 2 and "--scale" in err
    code, _, err = run("encode", "1", "--as", "int8", "--scale", "-2")
    assert code == 2 and "positive" in err


def test_tf32_container_in_table() -> None:
    code, out, _ = run("encode", "3.14", "--as", "tf32", "--output", "table")
    assert "fp32 container 0x40490000" in out and "0 10000000 1001001000" in out


def test_color_controls() -> None:
    args = ("encode", "3.14", "--as", "fp16", "--output", "table")
    _, out, _ = run(*args, env={"NO_COLOR": None, "FORCE_COLOR": "1"})
    assert "\x1b[" in out
    _, out, _ = run(*args, env={"NO_COLOR": "1"})
    assert "\x1b[" not in out
    _, out, _ = run(*args, "--no-color", env={"NO_COLOR": None, "FORCE_COLOR": "1"})
    assert "\x1b[" not in out


# ------------------------------------------------------------------ decode


@pytest.mark.parametrize(
    "text", ["0x4248", "0b0100001001001000", "0 10000 1001001000", "0_10000_1001001000",
             "0.10000.1001001000"],
)  # fmt: skip
def test_decode_input_forms(text: str) -> None:
    r = js("decode", text, "--from", "fp16")
    expect = float(np.array([0x4248], np.uint16).view(np.float16)[0])
    assert isinstance(r, dict) and r["exact"] == "3.140625" and float(r["exact"]) == expect
    assert r["formula"] if "formula" in r else True
    assert r["round"] is None and r["flags"] == []


def test_decode_errors() -> None:
    code, _, err = run("decode", "0x1ffff", "--from", "fp16")
    assert code == 1 and "code 0x1ffff does not fit fp16 (16 bits)" in err
    code, _, err = run("decode", "0101", "--from", "fp16")
    assert code == 1 and "has 4 bits; fp16 has 16" in err
    code, _, err = run("decode", "zz", "--from", "fp16")
    assert code == 1 and "not a code: 'zz'" in err
    code, _, err = run("decode", "0x40490000", "--from", "tf32")
    assert code == 1 and "--from fp32" in err


def test_decode_int_and_nf4() -> None:
    r = js("decode", "0xfd", "--from", "int8")
    assert isinstance(r, dict) and r["value"] == "-3" and r["class"] == "integer"
    r = js("decode", "0x3", "--from", "nf4")
    # NF4 values are float32 numbers with more than 17 digits: the value prints as the
    # float64 repr of that float32 (numpy's oracle); "shortest" keeps float32's shortest
    f32 = np.float32(-0.39491748809814453)
    assert isinstance(r, dict) and r["value"] == repr(float(f32))
    assert r["shortest"] == str(f32)


def test_decode_plain_prints_value() -> None:
    code, out, _ = run("decode", "0x7c00", "0xfc00", "0x7e00", "0x0001", "--from", "fp16")
    assert out.split() == ["inf", "-inf", "nan", "5.9604644775390625e-08"]  # 2^-24: 17 digits


# ------------------------------------------------------------------ process level


def _python(*code_args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *code_args], capture_output=True, text=True,
                          input=stdin, timeout=60)


def test_python_dash_m_works() -> None:
    p = _python("-m", "precli", "encode", "0.1", "--as", "fp16")
    assert p.returncode == 0 and p.stdout == "0x2e66\n"


@pytest.mark.parametrize(
    "argv",
    [["encode", "3.14", "--as", "tf32", "--output", "json"], ["info", "fp16", "--output", "json"],
     ["info", "fp16", "--output", "table"], ["decode", "0x4248", "--from", "fp16"]],
)  # fmt: skip
def test_single_value_paths_do_not_import_numpy(argv: list[str]) -> None:
    code = (
        "import sys, atexit\n"
        "atexit.register(lambda: sys.stderr.write('NUMPY' if 'numpy' in sys.modules else 'OK'))\n"
        f"sys.argv = ['precli', *{argv!r}]\n"
        "from precli.cli.app import main\nmain()\n"
    )
    p = _python("-c", code)
    assert p.returncode == 0 and p.stderr.endswith("OK"), p.stderr


def test_no_traceback_on_internal_errors_without_debug() -> None:
    p = _python("-m", "precli", "encode", "1", "--as", "fp16", "--round", "nope")
    assert p.returncode == 2 and "Traceback" not in p.stderr and p.stderr.count("\n") == 1


def test_raw_output_of_argument_values_and_where_raw_is_refused() -> None:
    p = subprocess.run([sys.executable, "-m", "precli", "encode", "0.1", "1", "-3.14", "--as",
                        "fp16", "--output", "raw"], capture_output=True, timeout=60)
    assert p.returncode == 0
    raw = p.stdout
    want = np.array([0.1, 1, -3.14], np.float64).astype(np.float16).view("<u2").tobytes()
    assert raw == want
    for args in (["decode", "0x7e", "--from", "e4m3fn"], ["info", "fp16"]):
        code, _, err = run(*args, "--output", "raw")
        assert code == 2 and "invalid --output 'raw'" in err
