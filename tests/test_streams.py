"""Pipelines: stdin / files / binary input, the bulk path against the exact path, errors
in streams, closed pipes."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import gmpy2
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from precli.core.exact import parse_number
from precli.core.formats import get_format
from precli.core.rounding import ROUND_MODES, round_value
from precli.core.values import EncodeOptions
from precli.stream import batches as bulk

PRECLI = [sys.executable, "-m", "precli"]


def sh(args: list[str], stdin: bytes = b"", **kw: object) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([*PRECLI, *args], input=stdin, capture_output=True, env=env,
                          timeout=120, **kw)  # type: ignore[call-overload, no-any-return]


def scalar_codes(fmt_name: str, texts: list[str], mode: str = "nearest-even",
                 saturate: bool = False, seed: int | None = None) -> list[int | None]:
    from precli.core.rounding import stochastic_bits
    from precli.errors import PrecliError

    fmt = get_format(fmt_name)
    out: list[int | None] = []
    for i, t in enumerate(texts):
        try:
            rand = stochastic_bits(seed, i) if mode == "stochastic" else None
            out.append(round_value(fmt, parse_number(t), mode, saturate=saturate, rand=rand).code)
        except PrecliError:
            out.append(None)
    return out


def bulk_codes(fmt_name: str, texts: list[str], mode: str = "nearest-even",
               saturate: bool = False, seed: int | None = None) -> list[int | None]:
    fmt = get_format(fmt_name)
    data = ("\n".join(texts) + "\n").encode()
    opts = EncodeOptions(mode=mode, saturate=saturate, seed=seed)
    out: list[int | None] = []
    for b in bulk.text_batches(io.BytesIO(data), chunk=64):  # tiny chunks: many batches
        enc = bulk.encode_batch(fmt, b, opts)
        out += [None if i in enc.errors else int(c) for i, c in enumerate(enc.codes.tolist())]
    return out


# ------------------------------------------------------------ double rounding traps


def mpfr_round(text: str, prec: int, emin: int, emax: int, rnd: int) -> float:
    """MPFR's correctly rounded value of decimal text in a binary format (subnormals on)."""
    ctx = gmpy2.context(precision=prec, emin=emin, emax=emax, subnormalize=True, round=rnd)
    with ctx:
        return float(gmpy2.mpfr(text))


# MPFR exponents: value = m * 2^e with m in [0.5, 1): emin = fmt_emin - M, emax = fmt_emax + 1
MPFR = {"bf16": (8, -126 - 7 + 1 - 1, 128), "fp16": (11, -14 - 10 + 1 - 1, 16)}


def traps(fmt_name: str) -> list[str]:
    """Decimals whose float64 parse lands exactly on a target midpoint (or value) although
    the decimal itself is a hair above or below it."""
    prec = MPFR[fmt_name][0]
    out = []
    rng = np.random.default_rng(5)
    for _ in range(60):
        k = int(rng.integers(-12, 12))
        m = int(rng.integers(1 << (prec - 1), 1 << prec))
        mid = Fraction(2 * m + 1, 2) * Fraction(2) ** (k - prec + 1)  # a midpoint
        on = Fraction(m) * Fraction(2) ** (k - prec + 1)  # a representable value
        for base in (mid, on):
            d = _decimal(base)
            for tail in ("000000000000000000001", "999999999999999999999"):
                if tail.startswith("9"):
                    t = _decimal(base - Fraction(1, 10**40))
                else:
                    t = d + ("" if "." in d else ".") + tail
                assert float(t) == float(base)  # float64 cannot see the difference
                out += [t, "-" + t]
    return out


def _decimal(x: Fraction) -> str:
    from precli.core.exact import exact_decimal

    if x.denominator & (x.denominator - 1) == 0:
        return exact_decimal(x)
    return f"{x.numerator * 10**45 // x.denominator}e-45"


@pytest.mark.parametrize("fmt_name", ["bf16", "fp16"])
@pytest.mark.parametrize("mode, rnd", [
    ("nearest-even", gmpy2.RoundToNearest), ("toward-zero", gmpy2.RoundToZero),
    ("up", gmpy2.RoundUp), ("down", gmpy2.RoundDown)])  # fmt: skip
def test_double_rounding_traps_through_stdin(fmt_name: str, mode: str, rnd: int) -> None:
    texts = traps(fmt_name)
    prec, emin, emax = MPFR[fmt_name]
    r = sh(["encode", "-", "--as", fmt_name, "--round", mode, "--output", "raw"],
           stdin=("\n".join(texts) + "\n").encode())
    assert r.returncode == 0, r.stderr
    got = np.frombuffer(r.stdout, np.uint16)
    want_vals = np.array([mpfr_round(t, prec, emin, emax, rnd) for t in texts], np.float32)
    if fmt_name == "bf16":
        want = want_vals.astype(ml_dtypes.bfloat16).view(np.uint16)  # exact: already bf16
    else:
        want = want_vals.astype(np.float16).view(np.uint16)
    assert got.tolist() == want.tolist()
    # and a naive float64 route really would have been wrong on some of them
    naive = np.array([float(t) for t in texts], np.float32)
    if fmt_name == "bf16" and mode == "nearest-even":
        assert (naive.astype(ml_dtypes.bfloat16).view(np.uint16) != want).any()


# ------------------------------------------------------------ bulk == scalar

FORMATS = ["bf16", "fp16", "e4m3fn", "e5m2", "e4m3fnuz", "e2m1fn", "e3m2fn", "e8m0fnu", "tf32",
           "nf4", "e6m9", "e3m3fnuz", "uint8", "int32", "fp64",
           "fp32", "int8", "uint4", "e3m4"]  # fmt: skip
DET_MODES = [m for m in ROUND_MODES if m != "stochastic"]

decimal_text = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=-1e6, max_value=1e6).map(lambda x: f"{x:.25g}"),
    st.tuples(st.integers(-10**20, 10**20), st.integers(-60, 40)).map(lambda t: f"{t[0]}e{t[1]}"),
    st.sampled_from(["0x1.8p+1", "-0", "abc", "1e999999999", "-1e-999999999", "nan", "-inf",
                     "464", "465", "3", "2.5", "-2.5", "0.5"]),
)  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(texts=st.lists(decimal_text, min_size=1, max_size=40), fmt_name=st.sampled_from(FORMATS),
       mode=st.sampled_from(ROUND_MODES), saturate=st.booleans())  # fmt: skip
def test_bulk_equals_scalar(texts: list[str], fmt_name: str, mode: str, saturate: bool) -> None:
    seed = 11 if mode == "stochastic" else None
    assert bulk_codes(fmt_name, texts, mode, saturate, seed) == scalar_codes(
        fmt_name, texts, mode, saturate, seed)


@pytest.mark.parametrize("fmt_name", ["bf16", "e4m3fn", "fp16", "int8"])
@pytest.mark.parametrize("mode", DET_MODES)
def test_bulk_equals_scalar_on_normals(fmt_name: str, mode: str) -> None:
    rng = np.random.default_rng(1)
    texts = [f"{v:.17g}" for v in rng.standard_normal(3000) * 100]
    texts += [str(int(v)) for v in rng.integers(-300, 300, 200)]
    assert bulk_codes(fmt_name, texts, mode) == scalar_codes(fmt_name, texts, mode)


# ------------------------------------------------------------ errors in streams


def test_bad_lines_in_the_middle_keep_their_place() -> None:
    r = sh(["encode", "-", "--as", "fp16"], stdin=b"1\nabc\n2\n\n3 oops 4\n")
    assert r.returncode == 1
    assert r.stdout.decode().split() == ["0x3c00", "error", "0x4000", "0x4200", "error", "0x4400"]
    assert r.stderr.decode().splitlines() == [
        "precli: error: line 2 ('abc'): not a number: 'abc'",
        "precli: error: line 5 ('oops'): not a number: 'oops'",
    ]
    r = sh(["encode", "-", "--as", "fp16", "-o", "ndjson"], stdin=b"1\nabc\n2\n")
    recs = [json.loads(x) for x in r.stdout.splitlines()]
    assert recs[1] == {"input": "abc", "error": "not a number: 'abc'"} and len(recs) == 3
    r = sh(["encode", "-", "--as", "fp16", "-o", "csv"], stdin=b"1\nabc\n")
    rows = r.stdout.decode().splitlines()
    assert rows[2].startswith("abc,") and rows[2].endswith(",not a number: 'abc'")


def test_strict_stops_at_first_bad_value() -> None:
    r = sh(["encode", "-", "--as", "fp16", "--strict"], stdin=b"1\nabc\n2\n")
    assert r.returncode == 1 and r.stdout == b"0x3c00\n"
    r = sh(["encode", "1", "x", "2", "--as", "fp16", "--strict"])
    assert r.returncode == 1 and r.stdout == b"0x3c00\n"


def test_decode_stream_with_errors() -> None:
    r = sh(["decode", "-", "--from", "e4m3fn"], stdin=b"0x7e\n0x100\n0x80\n")
    assert r.returncode == 1
    assert r.stdout.decode().split() == ["448", "error", "-0"]
    assert "line 2 ('0x100'): code 0x100 does not fit e4m3fn (8 bits)" in r.stderr.decode()


def test_head_closing_the_pipe_is_quiet() -> None:
    p = subprocess.run(
        f"yes 0.1 | {sys.executable} -m precli encode - --as fp16 | head -3; "
        "echo \"status ${PIPESTATUS[1]}\"",
        shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=60)
    assert p.stdout == "0x2e66\n0x2e66\n0x2e66\nstatus 0\n"
    assert p.stderr == ""
    bindir = Path(sys.executable).parent
    p = subprocess.run(f"{bindir}/precli info --output csv | head -1", shell=True,
                       capture_output=True, text=True, timeout=60)
    assert p.stderr == "" and p.stdout.startswith("name,")


# ------------------------------------------------------------ binary I/O


def test_raw_f32_round_trip_matches_ml_dtypes(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.standard_normal(50_000).astype(np.float32) * 100,
                        np.array([0, -0.0, np.inf, -np.inf, 3e38, 1e-45], np.float32)])
    src = tmp_path / "x.f32"
    x.astype("<f4").tofile(src)
    r = sh(["encode", "--input", str(src), "--input-format", "f32", "--as", "bf16", "-o", "raw"])
    assert r.returncode == 0, r.stderr
    got = np.frombuffer(r.stdout, "<u2")
    assert got.tolist() == x.astype(ml_dtypes.bfloat16).view(np.uint16).tolist()
    r = sh(["encode", "-", "--input-format", "f32", "--as", "e4m3fn", "-o", "raw", "--saturate"],
           stdin=x.tobytes())
    want = np.clip(x, -448, 448).astype(ml_dtypes.float8_e4m3fn).view(np.uint8)
    assert np.frombuffer(r.stdout, np.uint8).tolist() == want.tolist()


def test_raw_widths() -> None:
    for fmt, dt in (("e4m3fn", np.uint8), ("fp16", np.uint16), ("tf32", np.uint32),
                    ("fp64", np.uint64)):
        r = sh(["encode", "-", "--as", fmt, "-o", "raw"], stdin=b"1\n2\n")
        assert len(r.stdout) == 2 * np.dtype(dt).itemsize


def test_npy_input_and_pickle_refused(tmp_path: Path) -> None:
    x = np.array([[0.1, 2.5], [-3.0, 1e5]], np.float64)
    np.save(tmp_path / "w.npy", x)
    r = sh(["encode", "--input", str(tmp_path / "w.npy"), "--input-format", "npy", "--as",
            "fp16"])
    with np.errstate(over="ignore"):  # 1e5 overflows fp16 to inf, as precli says too
        f16 = x.reshape(-1).astype(np.float16)
    want = [f"0x{int(c):04x}" for c in f16.view(np.uint16)]
    assert r.returncode == 0 and r.stdout.decode().split() == want
    bad = tmp_path / "evil.npy"
    np.save(bad, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    r = sh(["encode", "--input", str(bad), "--input-format", "npy", "--as", "fp16"])
    assert r.returncode == 2 and b"never loads pickles" in r.stderr
    assert pickle  # the object array above is a pickle inside a .npy


def test_stray_bytes_and_missing_file() -> None:
    r = sh(["encode", "-", "--input-format", "f32", "--as", "bf16"], stdin=b"\x00\x00\x80")
    assert r.returncode == 1 and b"stray byte" in r.stderr  # a data error
    r = sh(["encode", "--input", "/nonexistent/x", "--as", "bf16"])
    assert r.returncode == 2 and b"cannot read /nonexistent/x" in r.stderr


def test_ndjson_stream_from_binary_shows_input_in_its_type() -> None:
    x = np.array([0.1], np.float32)
    r = sh(["encode", "-", "--input-format", "f32", "--as", "bf16", "-o", "ndjson"],
           stdin=x.tobytes())
    rec = json.loads(r.stdout)
    assert rec["input"] == "0.1"  # float32's shortest repr
    # error against the float32 input exactly, not against decimal 0.1
    assert Fraction(rec["exact"]) - Fraction(float(x[0])) == Fraction(rec["abs_error"])


def test_unbounded_input_streams() -> None:
    p = subprocess.run(
        f"yes 2.5 | {sys.executable} -m precli encode --as int8 | head -2",
        shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=60)
    assert p.stdout == "0x02\n0x02\n"


def test_ctrl_c_ends_quietly_with_130() -> None:
    import signal
    import time

    p = subprocess.Popen([*PRECLI, "encode", "-", "--as", "fp16"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdin is not None and p.stdout is not None
    p.stdin.write(b"1\n")
    p.stdin.flush()
    assert p.stdout.readline() == b"0x3c00\n"  # streaming: output before input ends
    time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130
    assert b"Traceback" not in err


def test_qa_regressions(tmp_path: Path) -> None:
    """Found by a QA pass: huge literals, int64 .npy, float128, block-format options."""
    # a 1-million-digit integer (under the 1 MiB value cap) is overflow; a 5-million-digit
    # one is over the cap: one error record, and the stream goes on
    big = b"1\n" + b"1" * 1_000_000 + b"\n2\n" + b"1" * 5_000_000 + b"\n3\n"
    r = sh(["encode", "-", "--as", "fp16", "-o", "json"], stdin=big)
    recs = json.loads(r.stdout)
    assert r.returncode == 1
    assert [x.get("hex") for x in recs] == ["0x3c00", "0x7c00", "0x4000", None, "0x4200"]
    assert b"line 4 (" in r.stderr and b"(5,000,000 bytes)" in r.stderr
    # int64 values past 2^53 are exact inputs, not float64 roundings of them
    p = tmp_path / "i.npy"
    np.save(p, np.array([2**53 + 1, 2**63 - 1], "i8"))
    r = sh(["encode", "--input", str(p), "--input-format", "npy", "--as", "int64", "-o", "csv"])
    rows = r.stdout.decode().splitlines()[1:]
    assert rows[0].startswith(f"{2**53 + 1},int64") and rows[0].endswith(",,")  # no flags
    assert f"0x{2**63 - 1:016x}" in rows[1]
    r = sh(["encode", "--input", str(p), "--input-format", "npy", "--as", "fp64", "-o", "csv"])
    assert r.stdout.decode().splitlines()[1].endswith("inexact,")  # 2^53 + 1 is not an fp64
    q = tmp_path / "q.npy"
    np.save(q, np.array([0.1], np.longdouble))
    r = sh(["encode", "--input", str(q), "--input-format", "npy", "--as", "bf16"])
    if np.dtype(np.longdouble).itemsize > 8:
        assert r.returncode == 2 and b"not supported" in r.stderr
    r = sh(["encode", "1", "1.3", "--as", "mxfp4", "--round", "rz"])
    assert r.returncode == 2 and b"does not apply to mxfp4" in r.stderr
    r = sh(["decode", "0x1", "--from", "mxfp4"])
    assert r.returncode == 2 and b"--from e2m1fn" in r.stderr
