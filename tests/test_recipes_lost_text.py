"""compare's lost values and its exact decimal input, against tests/recipe_ref.py (issue 8).

* lost values: fp16 overflow to inf, e4m3fn to NaN (a raw, non-saturating cast), a NaN or
  inf making an MX / NVFP4 block NaN, an MX shared scale past 2**127; JSON encodes
  infinite errors as "inf" / "-inf"; a recipe that loses values is never starred nor
  marked by --min-sqnr in the table;
* decimal text is rounded once, from the exact decimal: `compare -` and `encode` agree
  with the exact reference (and so with each other) on double-rounding traps, for every
  block format and the plain float formats; errors are measured against the exact input
  (decimal text, int64 past 2**53).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import oracle
import pytest
import recipe_ref as ref
from test_recipes_oracle import check_stats, cli

from precli.model.stats import compare_array

F = Fraction


def ref_stats(name: str, X: list[list[Any]]) -> tuple[dict[str, Any], ref.Result]:
    res = ref.quantize(ref.parse(name), X)
    return ref.stats(X, res), res


def entries(values: list[float]) -> list[list[Any]]:
    return ref.exact_entries(np.array([values], np.float64))


# ------------------------------------------------------------ lost values


def test_overflow_to_inf_and_nan_is_lost() -> None:
    x = [0.01] * 20 + [1e5]
    names = ["bf16", "fp16", "e4m3fn", "e5m2", "e4m3fn:tensor"]
    got = [s.to_record() for s in compare_array(names, np.array(x))]
    X = entries(x)
    for name, rec in zip(names, got, strict=True):
        want, _ = ref_stats(name, X)
        check_stats(rec, want, name)
    lost = {r["format"]: r["lost"] for r in got}
    assert lost == {"bf16": 0, "fp16": 1, "e4m3fn": 1, "e5m2": 1, "e4m3fn:tensor": 0}
    fp16 = got[1]
    assert fp16["overflow"] == 1
    assert [fp16[k] for k in ("max_abs_error", "mean_abs_error", "rmse", "max_rel_error",
                              "sqnr_db")] == ["inf", "inf", "inf", "inf", "-inf"]
    assert isinstance(got[0]["sqnr_db"], float)


def test_saturate_keeps_overflow_finite_not_lost() -> None:
    x = np.array([0.01] * 20 + [1e5])
    rec = compare_array(["fp16", "e4m3fn"], x, saturate=True)
    for r, fmax in zip(rec, (65504.0, 448.0), strict=True):
        assert (r.lost, r.overflow) == (0, 1)
        assert r.max_abs_error == 1e5 - fmax


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize("name", ["mxfp4", "mxfp8_e4m3", "mxint8:rceil", "nvfp4"])
def test_non_finite_input_makes_its_block_nan(name: str, bad: float) -> None:
    # 31 x 0.01, one bad value, then 32 x 0.5: the first block (two for nvfp4's 16s:
    # only the one holding the bad value) is NaN and its finite values are lost
    x = [0.01] * 31 + [bad] + [0.5] * 32
    rec = compare_array([name], np.array(x))[0].to_record()
    want, res = ref_stats(name, entries(x))
    check_stats(rec, want, name)
    bs = 16 if name == "nvfp4" else 32
    assert rec["lost"] == bs - 1 and rec["scale_nan"] == 1
    assert rec["nan_in"] == (1 if math.isnan(bad) else 0)
    assert rec["max_abs_error"] == "inf" and rec["sqnr_db"] == "-inf"
    assert sum(s is None for s in res.scales) == 1


def test_mx_shared_scale_past_e8m0_is_nan() -> None:
    # floor(log2 1e300) = 996: 2**(996 - emax) cannot be stored in E8M0 (max 2**127) ->
    # scale code 0xff, the whole block NaN, every finite value in it lost
    x = [1e300, 1.0] + [0.5] * 30 + [2.0] * 32
    names = ["mxfp4", "mxfp8_e5m2:rceil", "mxint8", "e4m3fn:group32:ue8m0",
             "e4m3fn:group32", "nvfp4"]
    got = [s.to_record() for s in compare_array(names, np.array(x))]
    X = entries(x)
    for name, rec in zip(names, got, strict=True):
        want, res = ref_stats(name, X)
        check_stats(rec, want, name)
    lost = {r["format"]: r["lost"] for r in got}
    # fp32 scales saturate (finite, overflowing elements); nvfp4's fp32 tensor scale too
    assert lost == {"mxfp4": 32, "mxfp8_e5m2:rceil": 32, "mxint8": 32,
                    "e4m3fn:group32:ue8m0": 32, "e4m3fn:group32": 0, "nvfp4": 0}
    assert got[0]["scale_nan"] == 1 and got[0]["scale_max"] == 2.0**-1  # 2 -> 2**(1-2)


def test_nvfp4_block_scale_zero_keeps_zero() -> None:
    # a block far below the tensor's amax: amax_b / (6 ts) under e4m3fn's half smallest
    # subnormal (2**-10) gives block scale 0, the block stores zeros (underflow, not lost)
    x = [2688.0] + [0.0] * 15 + [1e-4] * 16
    rec = compare_array(["nvfp4"], np.array(x))[0].to_record()
    want, res = ref_stats("nvfp4", entries(x))
    assert res.scales[1] == 0 and want["underflow"] == 16
    check_stats(rec, want, "nvfp4")


NAMES = {"bf16", "fp16", "e4m3fn", "e5m2", "nvfp4", "e4m3fn:tensor", "int4:group128", "mxfp4"}


def table_rows(out: str) -> dict[str, str]:
    """Table lines by recipe name (a leading ◆ marks the --min-sqnr pick)."""
    rows = {}
    for line in out.splitlines():
        parts = line.replace("◆", " ").split()
        if parts and parts[0] in NAMES:
            rows[parts[0]] = line
    return rows


def test_lossy_recipes_are_never_starred_nor_recommended(tmp_path: Path) -> None:
    p = tmp_path / "a.npy"
    np.save(p, np.array([0.01] * 20 + [1e5]))
    # fp16 / e4m3fn / e5m2 lose 1e5: cheapest and best in some columns, yet never marked
    for extra in ([], ["--min-sqnr", "20"]):
        code, out, err = cli("compare", str(p), "-F", "bf16,fp16,e4m3fn,e5m2", *extra,
                             "--output", "table")
        assert code == 0, err
        rows = table_rows(out)
        assert set(rows) == {"bf16", "fp16", "e4m3fn", "e5m2"}, out
        for lossy in ("fp16", "e4m3fn", "e5m2"):
            assert "★" not in rows[lossy] and "◆" not in rows[lossy], out
        if extra:
            assert "◆" in rows["bf16"], out
    # nothing but lossy recipes: no star anywhere, and no caption about stars
    code, out, err = cli("compare", str(p), "-F", "fp16,e4m3fn", "--output", "table")
    assert code == 0 and "★" not in out, out
    code, out, err = cli("compare", str(p), "-F", "fp16,e4m3fn", "--min-sqnr", "1",
                         "--output", "table")
    assert code == 1 and "◆" not in out and err.startswith("precli: error: ")


# ------------------------------------------------------------ decimal text, exactly


def to_text(q: Fraction) -> str:
    """q as decimal text: exact when its denominator is 2**a * 5**b, else 45 digits (the
    text is then the exact input, whatever it rounds from)."""
    d = q.denominator
    a = b = 0
    while d % 2 == 0:
        d //= 2
        a += 1
    while d % 5 == 0:
        d //= 5
        b += 1
    if d != 1:
        with localcontext() as c:
            c.prec = 45
            return format(Decimal(q.numerator) / Decimal(q.denominator), ".45g")
    n = max(a, b)
    digits = abs(q.numerator) * 10**n // q.denominator
    sign = "-" if q < 0 else ""
    if n == 0:
        return f"{sign}{digits}"
    s = str(digits).rjust(n + 1, "0")
    out = f"{sign}{s[:-n]}.{s[-n:]}"
    assert Fraction(out) == q
    return out


def midpoints(elem: str, lo: Fraction, hi: Fraction, n: int) -> list[Fraction]:
    """n midpoints between adjacent nonnegative grid values of elem, spread over [lo, hi]."""
    if elem in ref.INTS:
        grid = [F(k) for k in range(ref.INTS[elem][1] + 1)]
    else:
        grid = oracle.table(elem).mags
    mids = [(a + b) / 2 for a, b in zip(grid, grid[1:], strict=False) if lo <= (a + b) / 2 <= hi]
    step = max(1, len(mids) // n)
    return mids[::step][:n]


def traps(mids: list[Fraction], scale: Fraction) -> list[str]:
    """Each midpoint (times scale) just above and just below, by far less than float64's
    half ulp (so float64 lands on the tie), and off by 5/16 of a float32 ulp (so a float32
    detour lands on the tie), alternating signs."""
    out = []
    for i, m in enumerate(mids):
        v = m * scale
        tiny = F(1, 10**40)
        f32 = F(2) ** (ref.floor_log2(v) - 23) * F(5, 16)
        for d in (tiny, -tiny, f32, -f32):
            out.append(to_text(v + d if i % 2 == 0 else -(v + d)))
    return out


def exact_values(texts: list[str]) -> list[list[Any]]:
    return [[Fraction(t) for t in texts]]


# anchor (sets the scale to 1, or nvfp4's block scale to 448), element, element range
BLOCK_TRAPS = {
    "mxfp8_e4m3": ("256", "e4m3fn", 1, F(2**-9), F(255)),
    "mxfp8_e4m3:rceil": ("448", "e4m3fn", 1, F(2**-9), F(447)),
    "mxfp8_e5m2": ("32768", "e5m2", 1, F(2**-16), F(32767)),
    "mxfp6_e3m2": ("16", "e3m2fn", 1, F(2**-4), F(15)),
    "mxfp6_e2m3": ("4", "e2m3fn", 1, F(2**-3), F(3)),
    "mxfp4": ("4", "e2m1fn", 1, F(0), F(3)),
    "mxfp4:rceil": ("6", "e2m1fn", 1, F(0), F(5)),
    "mxint8": ("1", "int8", F(1, 64), F(0), F(63)),
    "nvfp4": ("2688", "e2m1fn", 448, F(0), F(5)),
}  # fmt: skip


def block_inputs(name: str) -> list[str]:
    anchor, elem, scale, lo, hi = BLOCK_TRAPS[name]
    size = 16 if name == "nvfp4" else 32
    vals = traps(midpoints(elem, lo, hi, 12), F(scale))
    out: list[str] = []
    for k in range(0, len(vals), size - 1):
        out += [anchor, *vals[k:k + size - 1]]
        out += ["0"] * (-len(out) % size)
    return out


@pytest.mark.parametrize("name", list(BLOCK_TRAPS))
def test_block_formats_text_rounds_once(name: str) -> None:
    texts = block_inputs(name)
    X = exact_values(texts)
    want, res = ref_stats(name, X)
    # the traps are real: float64 (or float32) input would round some lanes differently
    as_f64 = ref.quantize(ref.parse(name), ref.exact_entries(np.array([[float(t) for t in
                                                                        texts]])))
    assert sum(a != b for a, b in zip(as_f64.values[0], res.values[0], strict=True)) >= 4
    assert want["lost"] == 0
    # compare - : statistics against the exact decimals
    code, out, err = cli("compare", "-", "-F", name, "--output", "json",
                         input=("\n".join(texts) + "\n").encode())
    assert code == 0, err
    check_stats(json.loads(out)[0], want, f"compare - {name}")
    # encode VALUES --as F (block formats take rules only as recipes: floor here)
    if ":" in name:
        return
    code, out, err = cli("encode", *texts, "--as", name, "--output", "json")
    assert code == 0, err
    recs = json.loads(out)
    got = [Fraction(r["value"]) for r in recs]
    bad = [(t, g, w) for t, g, w in zip(texts, got, res.values[0], strict=True) if g != w]
    assert not bad, f"encode --as {name}: (input, got, exact) {bad[:4]}"


def test_issue_examples_text_exactness() -> None:
    code, out, _ = cli("encode", "4", "0.25000000000000000001", "--as", "mxfp4",
                       "--output", "json")
    assert [r["value"] for r in json.loads(out)] == ["4.0", "0.5"]
    code, out, _ = cli("encode", "2688", "112.00000000000000001", "--as", "nvfp4",
                       "--output", "json")
    assert [float(r["value"]) for r in json.loads(out)] == [2688.0, 224.0]
    code, out, err = cli("compare", "-", "-F", "e2m1fn", "--output", "json",
                         input=b"4\n0.25000000000000000001\n")
    rec = json.loads(out)[0]
    assert code == 0, err
    assert rec["underflow"] == 0
    assert rec["max_abs_error"] == float(F(1, 2) - F("0.25000000000000000001"))


PLAIN_TRAPS = {
    "e4m3fn": (F(2**-9), F(440)),
    "e5m2": (F(2**-16), F(57000)),
    "fp16": (F(2**-24), F(65000)),
    "bf16": (F(2**-100), F(2**100)),
    "e2m1fn": (F(0), F(5)),
    "e3m2fn": (F(2**-4), F(27)),
}


@pytest.mark.parametrize("name", list(PLAIN_TRAPS))
def test_plain_formats_text_rounds_once(name: str) -> None:
    lo, hi = PLAIN_TRAPS[name]
    if name == "bf16":  # a table of every bf16 value is large: pick midpoints by hand
        mids = [F(2) ** k * (1 + F(2 * j + 1, 2**8)) for k in (-90, -3, 0, 3, 60)
                for j in (0, 5, 127)]
    else:
        mids = midpoints(name, lo, hi, 16)
    texts = traps(mids, F(1))
    if name == "bf16":
        texts.append("9.03125027")  # float32 rounds it to the tie 9.03125
    X = exact_values(texts)
    want, res = ref_stats(name, X)
    # the traps are real: rounding the float64 (or the float32) of the text first differs
    for dt in (np.float64, np.float32):
        via = ref.quantize(ref.parse(name), ref.exact_entries(
            np.array([[float(dt(float(t))) for t in texts]])))
        assert sum(a != b for a, b in zip(via.values[0], res.values[0], strict=True)) >= 2
    code, out, err = cli("compare", "-", "-F", name, "--output", "json",
                         input=("\n".join(texts) + "\n").encode())
    assert code == 0, err
    check_stats(json.loads(out)[0], want, f"compare - {name}")
    code, out, err = cli("encode", *texts, "--as", name, "--output", "json")
    assert code == 0, err
    got = [Fraction(r["exact"]) for r in json.loads(out)]
    bad = [(t, g, w) for t, g, w in zip(texts, got, res.values[0], strict=True) if g != w]
    assert not bad, f"encode --as {name}: (input, got, exact) {bad[:4]}"


@pytest.mark.parametrize("name", ["e4m3fn:tensor", "e5m2:channel", "int4:group32",
                                  "e4m3fn:block1x8:ue8m0", "int8:tensor:bf16"])
def test_scaled_recipes_text_against_exact_reference(name: str) -> None:
    if name == "e5m2:channel":  # text is one row: a 1-D input is one channel
        code, out, err = cli("compare", "-", "-F", "e5m2:channel,e5m2:tensor", "-o", "json",
                             input=b"1\n2.00000000000000000001\n-3\n")
        assert code == 0, err
        ch, te = json.loads(out)
        assert ch["scale_count"] == 1 and ch["scale"] == te["scale"]
        assert {k: v for k, v in ch.items() if k not in ("format", "scaling")} == {
            k: v for k, v in te.items() if k not in ("format", "scaling")}
        return
    texts = traps(midpoints("e4m3fn", F(2**-6), F(440), 20), F(1, 7)) + ["64"]
    X = exact_values(texts)
    want, _ = ref_stats(name, X)
    code, out, err = cli("compare", "-", "-F", name, "--output", "json",
                         input=("\n".join(texts) + "\n").encode())
    assert code == 0, err
    check_stats(json.loads(out)[0], want, f"compare - {name}")


def test_text_errors_are_against_the_exact_decimal() -> None:
    code, out, err = cli("compare", "-", "-F", "fp64,fp32", "--output", "json",
                         input=b"0.1\n")
    assert code == 0, err
    fp64, fp32 = json.loads(out)
    assert fp64["exact_fraction"] == 0.0
    assert fp64["max_abs_error"] == float(abs(F("0.1") - F(0.1)))
    assert fp64["sqnr_db"] != "inf"
    assert fp32["max_abs_error"] == float(abs(F("0.1") - F(float(np.float32(0.1)))))
    # exact text stays exact: zero error is "inf" dB, not null
    code, out, err = cli("compare", "-", "-F", "fp64,bf16", "--output", "json",
                         input=b"0.5\n-3\n1024\n")
    for rec in json.loads(out):
        assert (rec["exact_fraction"], rec["max_abs_error"], rec["sqnr_db"]) == (1.0, 0.0, "inf")


def test_big_int64_npy_is_measured_exactly(tmp_path: Path) -> None:
    vals = [2**53 + 1, 2**60 + 3, -(2**62) - 5, 7]
    p = tmp_path / "i.npy"
    np.save(p, np.array(vals, np.int64))
    code, out, err = cli("compare", str(p), "-F", "fp64,bf16,fp32", "--output", "json")
    assert code == 0, err
    X = [[F(v) for v in vals]]
    for rec in json.loads(out):
        want, _ = ref_stats(rec["format"], X)
        check_stats(rec, want, rec["format"])
        assert rec["exact_fraction"] < 1
    fp64 = json.loads(out)[0]
    # 2**53 + 1 -> 2**53 (tie, even), 2**60 + 3 -> 2**60, -(2**62) - 5 -> -(2**62)
    assert fp64["max_abs_error"] == 5.0 and fp64["exact_fraction"] == 0.25
    u = tmp_path / "u.npy"
    np.save(u, np.array([2**64 - 1, 1], np.uint64))
    code, out, err = cli("compare", str(u), "-F", "fp64", "--output", "json")
    assert json.loads(out)[0]["max_abs_error"] == 1.0  # 2**64 - 1 -> 2**64


@pytest.mark.parametrize(("name", "texts"), [
    # exact amax / 448 is just above 1: ue8m0 rounds it up to 2 (float64 says 1)
    ("e4m3fn:tensor:ue8m0", ["448.00000000000000000001", "1", "-3.3"]),
    ("e4m3fn:group2:ue8m0", ["448.00000000000000000001", "1", "-3.3", "0.7"]),
    # floor(log2 amax) is 1, not 2, when amax is just below 4
    ("mxfp4", ["3.99999999999999999999", "1.75", "-0.25000000000000000001"]),
    # ceil(log2(amax / 6)) is 1, not 0, when amax is just above 6
    ("mxfp4:rceil", ["6.00000000000000000001", "2.5", "-1"]),
    ("mxint8", ["-0.99999999999999999999", "0.5", "0.25"]),
    # the zero point qmin - lo / s is -0.5 (int4) / 7.5 (uint4) in float64, just past it
    # exactly: round half even goes the other way
    ("int4:group4", ["-7.49999999999999999999", "7.5", "0.5", "1"]),
    ("uint4:group4", ["-7.49999999999999999999", "7.5", "0.5", "-1"]),
    ("nvfp4", ["2688.0000000000000001", "112.00000000000000001", "-0.5"]),
])  # fmt: skip
def test_scales_come_from_the_exact_decimal_range(name: str, texts: list[str]) -> None:
    X = exact_values(texts)
    want, res = ref_stats(name, X)
    via = ref.quantize(ref.parse(name), [[F(float(t)) for t in texts]])  # a real trap:
    assert (via.scales, via.zero_points, via.values) != (res.scales, res.zero_points,
                                                         res.values)
    code, out, err = cli("compare", "-", "-F", name, "--output", "json",
                         input=("\n".join(texts) + "\n").encode())
    assert code == 0, err
    rec = json.loads(out)[0]
    check_stats(rec, want, name)
    ok = [s for s in res.scales if s is not None]
    assert (rec["scale_min"], rec["scale_max"]) == (float(min(ok)), float(max(ok))), name


@pytest.mark.parametrize("chunk", [1, 5, 37, 64, 1000])
def test_statistics_do_not_depend_on_the_tile_size(chunk: int) -> None:
    rng = np.random.default_rng(11)
    x = rng.standard_normal((9, 50)) * (4.0 ** np.arange(9))[:, None]
    x[4, 7] = np.nan
    names = ["e4m3fn:tensor", "e4m3fn:channel", "int4:group8", "e5m2:block3x5:ue8m0",
             "mxfp4", "nvfp4", "uint8:block4x7", "int8:channel:bf16", "fp16"]
    got = [s.to_record() for s in compare_array(names, x, chunk_size=chunk)]
    X = ref.exact_entries(x)
    for name, rec in zip(names, got, strict=True):
        spec = ref.parse(name)
        res = ref.quantize(spec, X, list(range(9)) if spec.scaling == "channel" else None)
        check_stats(rec, ref.stats(X, res), f"{name} chunk {chunk}")
        assert rec["scale_count"] == len(res.scales), name


def test_channel_scales_are_the_view_rows_when_blocks_take_another_axis() -> None:
    # the reduction runs along axis 1: every other (axis 0, axis 2) pair is an output
    # channel, one scale each, as a quantizer of this matrix would keep them
    rng = np.random.default_rng(12)
    x = rng.standard_normal((4, 6, 5)) * np.array([0.01, 1, 100, 3])[:, None, None]
    names = ["e4m3fn:channel", "int8:channel", "e4m3fn:group4", "mxfp4"]
    got = [s.to_record() for s in compare_array(names, x, axis=1)]
    m = ref.matrix(x, 1)  # (4 * 5) x 6: rows are (axis 0, axis 2) pairs
    X = ref.exact_entries(m)
    for name, rec in zip(names, got, strict=True):
        spec = ref.parse(name)
        ch = list(range(20)) if spec.scaling == "channel" else None
        res = ref.quantize(spec, X, ch)
        check_stats(rec, ref.stats(X, res), name)
        assert rec["scale_count"] == len(res.scales), name


@pytest.mark.parametrize("name", [n for n in BLOCK_TRAPS if ":" not in n])
def test_block_encode_abs_error_is_against_the_exact_decimal(name: str) -> None:
    # plain `encode 1.00000000000000000001 --as fp16` reports abs_error 1e-20 and
    # `compare -` measures against the exact decimal: block encode must too (it stores
    # 4.00000000000000000001 as 4 in mxfp4: the error is 1e-20, not 0)
    anchor = BLOCK_TRAPS[name][0]
    texts = [anchor + (".00000000000000000001" if "." not in anchor else "00000000000000001"),
             *block_inputs(name)[1:]]
    code, out, err = cli("encode", *texts, "--as", name, "--output", "json")
    assert code == 0, err
    bad = []
    for t, r in zip(texts, json.loads(out), strict=True):
        want = float(abs(Fraction(t) - Fraction(r["value"])))
        if r["abs_error"] != want:
            bad.append((t, r["value"], r["abs_error"], want))
    assert not bad, f"encode --as {name}: (input, value, abs_error, exact error) {bad[:3]}"


@pytest.mark.parametrize("mag", [1e-300, 5e-324, 1e-40, 1e300])
def test_extreme_magnitudes_against_reference(mag: float) -> None:
    # scales clamp at the scale format's smallest value (2**-127 for ue8m0 / E8M0, the
    # smallest subnormal for fp32 / bf16, 2**-149 for nvfp4's tensor scale) or saturate
    x = [mag, -mag / 3, mag / 7, 0.0] * 8
    names = ["e4m3fn:tensor", "e4m3fn:tensor:ue8m0", "e4m3fn:group8:bf16", "int8:tensor",
             "int4:group8", "uint8:tensor", "mxfp4", "mxint8:rceil", "nvfp4", "fp16",
             "mxfp8_e4m3:rceil", "int8:group8:ue8m0"]
    got = [s.to_record() for s in compare_array(names, np.array(x))]
    X = entries(x)
    wrong = []
    for name, rec in zip(names, got, strict=True):
        want, res = ref_stats(name, X)
        check_stats(rec, want, f"{name} {mag}")
        ok = [s for s in res.scales if s is not None]
        if ok and (rec["scale_min"], rec["scale_max"]) != (float(min(ok)), float(max(ok))):
            wrong.append((name, rec["scale_min"], rec["scale_max"], float(min(ok))))
    # 5e-324 / 448 underflows float64 to 0: its ue8m0 / rceil scale is still 2**-127
    assert not wrong, f"reported scales (recipe, min, max, reference): {wrong}"


@pytest.mark.parametrize(("name", "vals"), [
    # float64 rounds 448 * 2**52 + 1 down to 448 * 2**52: ue8m0 would give 2**52, not 2**53
    ("e4m3fn:tensor:ue8m0", [448 * 2**52 + 1, 5, -(2**40)]),
    ("e4m3fn:group2:ue8m0", [448 * 2**52 + 1, 5, -(2**40), 3]),
    # floor(log2(2**62 - 1)) = 61; float64 says 2**62
    ("mxfp4", [2**62 - 1, 3 * 2**59, -(2**58) - 1]),
    ("mxfp8_e4m3:rceil", [448 * 2**52 + 1, 2**50 + 3]),
    ("nvfp4", [2688 * 2**50 + 1, 112 * 2**50 + 1, 7]),
    ("int8:tensor", [127 * 2**55 + 1, -(2**55) - 1, 2**54 + 3]),  # errors vs exact ints
])  # fmt: skip
def test_big_int64_scales_from_the_exact_range(tmp_path: Path, name: str,
                                               vals: list[int]) -> None:
    p = tmp_path / "i.npy"
    np.save(p, np.array(vals, np.int64))
    code, out, err = cli("compare", str(p), "-F", name, "--output", "json")
    assert code == 0, err
    rec = json.loads(out)[0]
    X = [[F(v) for v in vals]]
    want, res = ref_stats(name, X)
    check_stats(rec, want, name)
    ok = [s for s in res.scales if s is not None]
    assert (rec["scale_min"], rec["scale_max"]) == (float(min(ok)), float(max(ok))), name
