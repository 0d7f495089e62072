"""compare's recipes against independent references written here (issue 8, "Tests").

* scaled FP8 (e4m3fn / e5m2 x tensor / channel / group / block x fp32 / bf16 / fp16 /
  ue8m0 scales): a numpy + ml_dtypes reference (scale = amax / fmax in the scale format,
  q = ml_dtypes cast of x / scale, dequant = q * scale), statistics the straightforward
  numpy way;
* row-wise MX (floor and rceil) and NVFP4, integer groups (GPTQ / AWQ asymmetric), int8
  per channel, uint8 quint8: the exact Fraction reference of tests/recipe_ref.py, written
  from the spec formulas;
* bits_per_value by hand; --min-sqnr against a selection done here;
* a Hypothesis property: quantize_tile equals the exact reference, ties included.

No expected value is copied from precli's output.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import oracle
import pytest
import recipe_ref as ref
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from precli.array.recipes import Context, parse_recipe, quantize_tile
from precli.cli.app import app
from precli.model.stats import compare_array

runner = CliRunner()
ENV = {"COLUMNS": "200", "NO_COLOR": "1"}
F = Fraction


def cli(*args: str, input: bytes | None = None) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args), env=ENV, input=input)
    return r.exit_code, r.stdout, r.stderr


def records(stats: list[Any]) -> list[dict[str, Any]]:
    return [s.to_record() for s in stats]


def check_stats(rec: dict[str, Any], want: dict[str, Any], label: str) -> None:
    """precli's record against a reference's statistics: counts and max_abs_error exactly
    (both are correctly rounded from exact values), sums to a relative 1e-12."""
    for k in ("count", "nan_in", "lost", "overflow", "underflow", "exact_fraction"):
        if k in want:
            assert rec[k] == want[k], f"{label}: {k} is {rec[k]!r}, reference {want[k]!r}"
    for k in ("max_abs_error", "mean_abs_error", "rmse", "max_rel_error", "sqnr_db"):
        if k not in want:
            continue
        got, exp = rec[k], want[k]
        if isinstance(exp, str) or exp is None or isinstance(got, str) or got is None:
            assert got == exp, f"{label}: {k} is {got!r}, reference {exp!r}"
        elif k == "max_abs_error":
            assert got == exp, f"{label}: {k} is {got!r}, reference {exp!r}"
        elif k == "sqnr_db":
            assert got == pytest.approx(exp, abs=1e-9), f"{label}: {k} {got!r} vs {exp!r}"
        else:
            assert got == pytest.approx(exp, rel=1e-12), f"{label}: {k} {got!r} vs {exp!r}"


def test_reference_maxima_agree_with_the_oracle_tables() -> None:
    for name, mx in ref.FMAX.items():
        if name == "fp32":
            assert mx == oracle.ieee_max(8, 23)
        else:
            assert oracle.table(name).max == mx, name
    for name in ("e4m3fn", "e5m2"):
        assert float(ml_dtypes.finfo(getattr(ml_dtypes, f"float8_{name}")).max) == ref.FMAX[name]


# ------------------------------------------------------------ scaled FP8: ml_dtypes

ML = {"e4m3fn": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2}
SFMT = {"fp32": np.float32, "fp16": np.float16, "bf16": ml_dtypes.bfloat16}


def ml_scale(amax: float, elem: str, sfmt: str) -> float:
    """scale = amax / fmax stored in the scale format (numpy / ml_dtypes)."""
    if amax == 0:
        return 1.0
    q = amax / float(ref.FMAX[elem])
    if sfmt == "ue8m0":
        m, e = math.frexp(q)
        k = e - 1 if m == 0.5 else e  # ceil(log2 q)
        return math.ldexp(1.0, max(k, -127))
    s = float(np.array([q]).astype(SFMT[sfmt])[0])
    if s == 0:
        s = float(np.finfo(SFMT[sfmt]).smallest_subnormal)
    # ml_dtypes rounds float64 through float32 (double rounding): make sure this scale is
    # the correctly rounded one, or the reference would be wrong, not precli
    assert F(s) == ref.store_scale(sfmt, F(amax) / ref.FMAX[elem]), (amax, elem, sfmt)
    return s


def ml_elements(x: np.ndarray, s: np.ndarray, elem: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(dequant, overflow, lanes redone exactly): q = ml_dtypes cast of x / s, saturating.

    ml_dtypes casts float64 through float32; a lane whose quotient lies within 2**-20 of
    an element rounding boundary is redone with the exact oracle instead."""
    dt = ML[elem]
    fmax = float(ref.FMAX[elem])
    w = x / s

    def cast(v: np.ndarray) -> np.ndarray:
        return np.clip(v, -fmax, fmax).astype(np.float32).astype(dt).astype(np.float64)

    with np.errstate(over="ignore", invalid="ignore"):
        q = cast(w)
        raw = w.astype(np.float32).astype(dt).astype(np.float64)
    over = ~np.isfinite(raw)
    near = (cast(w * (1 - 2.0**-20)) != cast(w * (1 + 2.0**-20)))
    for idx in zip(*np.nonzero(near), strict=True):
        v, o = ref.round_float(elem, F(float(x[idx])) / F(float(s[idx])), saturate=True)
        q[idx] = float(v)
        over[idx] = o
    return q * s, over, int(near.sum())


def numpy_stats(x: np.ndarray, deq: np.ndarray, over: np.ndarray) -> dict[str, Any]:
    """The statistics contract the straightforward way (finite inputs, nothing lost)."""
    x = x.reshape(-1).astype(np.float64)
    deq = deq.reshape(-1)
    assert np.isfinite(x).all() and np.isfinite(deq).all()
    err = np.abs(x - deq)
    nz = x != 0
    return {
        "count": x.size, "nan_in": 0, "lost": 0, "overflow": int(over.sum()),
        "underflow": int((nz & (deq == 0)).sum()),
        "exact_fraction": int((err == 0).sum()) / x.size,
        "max_abs_error": float(err.max()),
        "mean_abs_error": float(np.mean(err)),
        "rmse": math.sqrt(float(np.mean(err**2))),
        "max_rel_error": float((err[nz] / np.abs(x[nz])).max()),
        "sqnr_db": 10 * math.log10(float(np.sum(x**2)) / float(np.sum(err**2))),
    }


def ml_recipe(x: np.ndarray, elem: str, scaling: str, sfmt: str
              ) -> tuple[np.ndarray, np.ndarray, list[float], int]:
    """(dequant, overflow, scales, lanes redone) of a scaled FP8 recipe, on the matrix
    view of x (channel: per row of the view, i.e. per output channel)."""
    x64 = x.astype(np.float64)
    m = x64.reshape(-1, x.shape[-1])
    s = np.empty_like(m)
    scales: list[float] = []
    if scaling == "tensor":
        scales.append(ml_scale(float(np.abs(m).max()), elem, sfmt))
        s[:] = scales[0]
    elif scaling == "channel":
        for c in range(m.shape[0]):
            scales.append(ml_scale(float(np.abs(m[c]).max()), elem, sfmt))
            s[c] = scales[-1]
    else:
        if scaling.startswith("group"):
            br, bc = 1, int(scaling[5:])
        else:
            br, bc = (int(t) for t in scaling[5:].split("x"))
        for i0 in range(0, m.shape[0], br):
            for j0 in range(0, m.shape[1], bc):
                blk = m[i0:i0 + br, j0:j0 + bc]
                scales.append(ml_scale(float(np.abs(blk).max()), elem, sfmt))
                s[i0:i0 + br, j0:j0 + bc] = scales[-1]
    deq, over, redone = ml_elements(m, s, elem)
    return deq, over, scales, redone


@pytest.fixture(scope="module")
def fp8_data() -> np.ndarray:
    rng = np.random.default_rng(8)
    x = (rng.standard_normal((3, 8, 50)) * 0.05).astype(np.float32)
    x *= np.array([1.0, 30.0, 0.002], np.float32)[:, None, None]  # channels far apart
    x[0, 0, :4] = [2.5, -1.75, 1e-7, 0.0]  # outlier, an underflow, a zero
    x[1, 3, 10:45] = 0.0  # an all-zero group of 32 and part of a block
    x[2, 7, :] = np.float32(3e-6) * np.arange(50, dtype=np.float32)
    return x


SCALINGS = ("tensor", "channel", "group32", "block16x12")
SCALE_FMTS = ("fp32", "bf16", "fp16", "ue8m0")


@pytest.mark.parametrize("elem", ["e4m3fn", "e5m2"])
def test_scaled_fp8_against_ml_dtypes(fp8_data: np.ndarray, elem: str) -> None:
    names = [f"{elem}:{sc}:{sf}" for sc in SCALINGS for sf in SCALE_FMTS]
    got = records(compare_array(names, fp8_data))
    redone_total = 0
    for name, rec in zip(names, got, strict=True):
        _, sc, sf = name.split(":")
        canon = name[: -len(":fp32")] if sf == "fp32" else name
        assert rec["format"] == canon
        deq, over, scales, redone = ml_recipe(fp8_data, elem, sc, sf)
        redone_total += redone
        check_stats(rec, numpy_stats(fp8_data, deq, over), name)
        assert rec["scale_count"] == len(scales), name
        assert rec["scale_min"] == min(scales) and rec["scale_max"] == max(scales), name
        assert rec["scale_format"] == sf and rec["scale_nan"] == 0
        assert rec["scale"] == (scales[0] if sc == "tensor" else None), name
        assert rec["scaling"] == sc.rstrip("0123456789x"), name
        assert rec["block"] == {"group32": [1, 32], "block16x12": [16, 12]}.get(sc), name
        n = fp8_data.size
        assert rec["bits_per_value"] == (8 * n + len(scales) * (8 if sf == "ue8m0" else 32
                                         if sf == "fp32" else 16)) / n, name
    # the ml_dtypes path must have decided the vast majority of lanes itself
    assert redone_total < 0.01 * fp8_data.size * len(names)


def test_scaled_fp8_via_cli_json(tmp_path: Path, fp8_data: np.ndarray) -> None:
    p = tmp_path / "w.npy"
    np.save(p, fp8_data)
    names = ["e4m3fn:tensor", "e4m3fn:channel", "e4m3fn:block16x12:ue8m0", "e5m2:group32:bf16"]
    code, out, err = cli("compare", str(p), "--formats", ",".join(names), "--output", "json")
    assert code == 0, err
    recs = json.loads(out)
    assert [r["format"] for r in recs] == names
    for name, rec in zip(names, recs, strict=True):
        parts = name.split(":")
        deq, over, _, _ = ml_recipe(fp8_data, parts[0], parts[1],
                                    parts[2] if len(parts) > 2 else "fp32")
        check_stats(rec, numpy_stats(fp8_data, deq, over), name)


def test_scale_rounded_down_then_elements_overflow_and_saturate() -> None:
    # an fp16 scale in fp16's subnormal range rounds far: amax / 448 = 1.4 * 2**-24 is
    # stored as 2**-24, so amax / s = 627.2 rounds past 464 (the e4m3fn midpoint between
    # 448 and the virtual 480): an overflow, saturated to 448 (not lost). With 1.02 the
    # quotient 456.96 rounds back to 448: no overflow.
    for k, overflows in ((1.4, 1), (1.02, 0)):
        amax = 448 * k * 2.0**-24
        x = np.array([amax, amax / 2, -amax / 3, 0.0])
        rec = compare_array(["e4m3fn:tensor:fp16"], x)[0].to_record()
        assert rec["scale"] == 2.0**-24
        X = ref.exact_entries(ref.matrix(x))
        want = ref.stats(X, ref.quantize(ref.parse("e4m3fn:tensor:fp16"), X))
        assert want["overflow"] == overflows and want["lost"] == 0
        check_stats(rec, want, f"k {k}")


# ------------------------------------------------------------ exact reference helpers


def ref_record(name: str, x: np.ndarray, axis: int | None = None,
               scheme: str | None = None) -> tuple[dict[str, Any], ref.Result]:
    spec = ref.parse(name, scheme)
    m = ref.matrix(x, axis)
    X = ref.exact_entries(m)
    ch = None
    if spec.scaling == "channel":
        per = m.shape[0] // x.shape[0]
        ch = [i // per for i in range(m.shape[0])]
    res = ref.quantize(spec, X, ch)
    return ref.stats(X, res), res


def check_scales(rec: dict[str, Any], res: ref.Result, label: str) -> None:
    ok = [s for s in res.scales if s is not None]
    assert rec["scale_count"] == len(res.scales), label
    assert rec["scale_nan"] == len(res.scales) - len(ok), label
    if ok:
        assert rec["scale_min"] == float(min(ok)) and rec["scale_max"] == float(max(ok)), label
    if res.tensor_scale is not None:
        assert rec["tensor_scale"] == float(res.tensor_scale), label


# ------------------------------------------------------------ row-wise MX / NVFP4

BLOCK_NAMES = ["mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4", "mxint8",
               "mxfp8_e4m3:rceil", "mxfp6_e3m2:rceil", "mxfp6_e2m3:rceil", "mxfp4:rceil",
               "mxint8:rceil", "nvfp4"]  # fmt: skip


def rowwise_matrix(rows: int, cols: int, seed: int) -> np.ndarray:
    """Rows of very different magnitudes: a block crossing a row boundary would change
    the scales, so the statistics see the layout."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols))
    x *= (8.0 ** np.arange(rows))[:, None]
    x[0, min(5, cols - 1)] = -1.99609375 * 4  # mxint8 reaches -2.0 if it is the amax
    return x


@pytest.mark.parametrize(("shape", "axis"), [((5, 45), None), ((2, 3, 40), None),
                                             ((70, 3), 0), ((1, 33), None), ((37,), None)])
def test_rowwise_blocks_against_spec_reference(shape: tuple[int, ...], axis: int | None) -> None:
    ax = len(shape) - 1 if axis is None else axis
    view = rowwise_matrix(math.prod(shape) // shape[ax], shape[ax], 1)
    moved = [d for i, d in enumerate(shape) if i != ax] + [shape[ax]]
    x = np.moveaxis(view.reshape(moved), -1, ax)
    assert x.shape == shape and np.array_equal(ref.matrix(x, axis), view)
    got = records(compare_array(BLOCK_NAMES, x, axis=axis))
    for name, rec in zip(BLOCK_NAMES, got, strict=True):
        assert rec["format"] == name
        want, res = ref_record(name, x, axis)
        check_stats(rec, want, f"{name} {shape} axis={axis}")
        check_scales(rec, res, name)
        r, c = ref.matrix(x, axis).shape
        nb = -(-c // (16 if name == "nvfp4" else 32))
        bits = 4 if name.startswith(("mxfp4", "nvfp4")) else 6 if "fp6" in name else 8
        extra = 32 if name == "nvfp4" else 0
        assert rec["bits_per_value"] == (x.size * bits + r * nb * 8 + extra) / x.size, name


def test_rowwise_blocks_via_cli_with_axis(tmp_path: Path) -> None:
    x = rowwise_matrix(3, 70, 2).T.copy()  # (70, 3): blocks run down axis 0
    p = tmp_path / "a.npy"
    np.save(p, x)
    names = ["mxfp4", "mxfp4:rceil", "nvfp4", "mxint8"]
    code, out, err = cli("compare", str(p), "-F", ",".join(names), "--axis", "0",
                         "--output", "json")
    assert code == 0, err
    for name, rec in zip(names, json.loads(out), strict=True):
        want, res = ref_record(name, x, 0)
        check_stats(rec, want, name)
        check_scales(rec, res, name)


def test_rowwise_differs_from_flat_blocking() -> None:
    # the reference on the flattened array gives other answers: the test can tell
    x = rowwise_matrix(4, 40, 3)
    rec = compare_array(["mxfp4"], x)[0].to_record()
    flat, _ = ref_record("mxfp4", x.reshape(-1))
    rows, _ = ref_record("mxfp4", x)
    assert flat["rmse"] != pytest.approx(rows["rmse"], rel=1e-6)
    assert rec["rmse"] == pytest.approx(rows["rmse"], rel=1e-12)


def test_mx_and_nvfp4_hand_worked() -> None:
    # mxfp4, floor: amax 5 -> X = floor(log2 5) - 2 = 0, scale 1; 5 -> e2m1 tie between
    # 4 and 6 -> 4 (even mantissa); 0.25 -> tie 0 / 0.5 -> 0 (underflow); 2.9 -> 3.
    # rceil: X = ceil(log2(5 / 6)) = 0 as well. With amax 7: floor X = 0 -> 7 saturates to
    # 6 (overflow); rceil X = ceil(log2(7/6)) = 1 -> 7 / 2 = 3.5 -> 4 -> 8.
    x = np.array([5.0, 0.25, 2.9, -1.0])
    r = compare_array(["mxfp4"], x)[0].to_record()
    assert (r["underflow"], r["overflow"], r["max_abs_error"]) == (1, 0, 1.0)
    y = np.array([7.0, 1.0])
    fl, rc = (s.to_record() for s in compare_array(["mxfp4", "mxfp4:rceil"], y))
    assert (fl["overflow"], fl["max_abs_error"], fl["scale_max"]) == (1, 1.0, 1.0)
    assert (rc["overflow"], rc["max_abs_error"], rc["scale_max"]) == (0, 1.0, 2.0)
    # nvfp4: amax 2688 -> ts = 1; block amax 2688 / 6 = 448 -> bs 448; 1000 / 448 = 2.23
    # -> e2m1 2 -> 896. Second block amax 3 -> 3 / 6 = 0.5 -> bs 0.5: 3 / 0.5 = 6 exact.
    z = np.array([2688.0, 1000.0] + [0.0] * 14 + [3.0, -1.25] + [0.0] * 14)
    n = compare_array(["nvfp4"], z)[0].to_record()
    assert n["tensor_scale"] == 1.0 and (n["scale_min"], n["scale_max"]) == (0.5, 448.0)
    # errors: |1000 - 896| = 104; -1.25 / 0.5 = -2.5 -> tie 2 / 3 -> 2 (even) -> -1.0
    assert n["max_abs_error"] == 104.0
    assert n["mean_abs_error"] == pytest.approx((104 + 0.25) / 32, rel=1e-15)
    # mxint8 (elements int8 * 2**-6): amax 1.99609375 -> X = floor(log2 amax) - 0 = 0;
    # -1.99609375 * 64 = -127.75 -> -128, i.e. -2.0 (the two's complement end, error
    # 2**-8); a symmetric clamp at -127/64 would cost 3 * 2**-8.
    m = compare_array(["mxint8"], np.array([-1.99609375, 1.0, 0.5]))[0].to_record()
    assert (m["max_abs_error"], m["overflow"], m["scale_max"]) == (2.0**-8, 0, 1.0)


# ------------------------------------------------------------ integers

def test_int4_group_gptq_awq_hand_worked() -> None:
    # one group of four: lo = -0.3, hi = 1.2 (float64 values, exact as Fractions)
    x = np.array([[-0.3, 0.0, 0.5, 1.2]])
    lo, hi = F(-0.3), F(1.2)
    s = ref.store_scale("fp16", (hi - lo) / 15)  # fp16(0.1) = 0.0999755859375
    assert s == F(1638, 16384)
    z = ref.rne(-8 - lo / s)  # -8 + 3.0007... = -4.9993 -> -5
    assert z == -5
    want = []
    for v in x[0]:
        q = min(max(ref.rne(F(v) / s) + z, -8), 7)
        want.append((q - z) * s)
    # 1.2 / s = 12.003 -> 12 - 5 = 7 (in range); 0.5 / s = 5.001 -> 5 + -5 = 0
    assert [ref.rne(F(v) / s) + z for v in x[0]] == [-8, -5, 0, 7]
    errs = [abs(F(v) - w) for v, w in zip(x[0], want, strict=True)]
    rec = compare_array(["int4:group4"], x)[0].to_record()
    assert rec["scheme"] == "asymmetric" and rec["scale_format"] == "fp16"
    assert rec["max_abs_error"] == float(max(errs))
    assert rec["scale_min"] == float(s)
    assert rec["bits_per_value"] == (4 * 4 + 16 + 4) / 4


@pytest.mark.parametrize("name", ["int4:group128", "int4:group32", "uint4:group64",
                                  "int8:group128:bf16", "int4:group16:fp32",
                                  "int8:channel", "int8:channel:fp16", "int8:tensor",
                                  "uint8:tensor", "uint8:channel", "int4:block8x16",
                                  "uint4:group32:ue8m0"])
def test_integer_recipes_against_reference(name: str) -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 300)) * np.array([0.01, 1, 3, 0.2, 10, 0.5])[:, None]
    x[1] = np.abs(x[1])  # a row with no negative value: the range is extended to 0
    x[2, :70] = 0.0  # an all-zero group
    x[3, 7] = 40.0  # an outlier
    rec = compare_array([name], x)[0].to_record()
    want, res = ref_record(name, x)
    check_stats(rec, want, name)
    check_scales(rec, res, name)
    spec = ref.parse(name)
    assert rec["scheme"] == spec.scheme
    if spec.scaling == "tensor":
        assert rec["scale"] == float(res.scales[0])
        assert rec["zero_point"] == res.zero_points[0]


@pytest.mark.parametrize("name", ["int4:group32", "uint8:tensor"])
def test_integer_recipes_on_3d_tensor_via_cli(tmp_path: Path, name: str) -> None:
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((3, 4, 50)) * 0.1).astype(np.float32)
    p = tmp_path / "t.npy"
    np.save(p, x)
    code, out, err = cli("compare", str(p), "-F", name, "--output", "json")
    assert code == 0, err
    want, res = ref_record(name, x)
    check_stats(json.loads(out)[0], want, name)


def test_uint8_symmetric_keeps_negative_values() -> None:
    # PyTorch quint8: zero point 128, scale = amax / 127.5, so -1 is representable
    x = np.array([-1.0, -0.5, 0.25, 1.0])
    for rec in (compare_array(["uint8:tensor"], x)[0].to_record(),
                compare_array(["uint8"], x, scheme="symmetric")[0].to_record()):
        assert rec["zero_point"] == 128
        assert rec["max_abs_error"] < 0.01  # clamping negatives to 0 would cost 1.0
        assert rec["scale"] == pytest.approx(1 / 127.5, rel=1e-7)
    # the bare (legacy) name keeps a float64 scale: hand-computed reference
    s = F(1) / F(255, 2)
    want = [(min(max(ref.rne(F(v) / s) + 128, 0), 255) - 128) * s for v in x]
    rec = compare_array(["uint8"], x, scheme="symmetric")[0].to_record()
    assert rec["max_abs_error"] == pytest.approx(float(max(abs(F(v) - w) for v, w in
                                                          zip(x, want, strict=True))), rel=1e-12)


# ------------------------------------------------------------ bits per value


@pytest.mark.parametrize(("name", "shape", "bits"), [
    ("mxfp4", (4, 64), 4.25),
    ("mxfp4", (3, 2, 96), 4.25),
    ("mxfp4", (5, 45), (225 * 4 + 10 * 8) / 225),  # 2 blocks per row, partial ones too
    ("nvfp4", (8, 64), 4.5 + 32 / 512),
    ("nvfp4", (3, 20), (60 * 4 + 6 * 8 + 32) / 60),
    ("int4:group128", (2, 256), 4 + 20 / 128),
    ("int4:group128", (3, 200), (600 * 4 + 6 * 20) / 600),
    ("e4m3fn:tensor", (10, 10), 8 + 32 / 100),
    ("e4m3fn:block128x128", (256, 256), 8 + 32 / 128**2),
    ("e4m3fn:block128x128:ue8m0", (130, 129), (130 * 129 * 8 + 4 * 8) / (130 * 129)),
    ("int8:channel", (16, 64), 8 + 32 / 64),
    ("e4m3fn", (7, 3), 8.0),
    ("bf16", (7, 3), 16.0),
])
def test_bits_per_value_by_hand(name: str, shape: tuple[int, ...], bits: float) -> None:
    rec = compare_array([name], np.ones(shape))[0].to_record()
    assert rec["bits_per_value"] == pytest.approx(bits, rel=1e-15)


# ------------------------------------------------------------ --min-sqnr


def test_min_sqnr_picks_the_cheapest_lossless_recipe(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    x = rng.standard_normal((16, 128)) * 0.05
    x[0, 0] = 1e5  # fp16 and raw e4m3fn lose it
    p = tmp_path / "m.npy"
    np.save(p, x)
    names = ["fp16", "bf16", "e4m3fn", "e4m3fn:channel", "int8:channel", "int4:group32",
             "mxfp4", "nvfp4", "mxfp8_e4m3"]
    refs = {n: ref_record(n, x)[0] for n in names if n not in ("fp16", "bf16")}
    refs["fp16"] = ref_record("fp16", x)[0]
    refs["bf16"] = ref_record("bf16", x)[0]
    assert refs["fp16"]["lost"] == 1 and refs["e4m3fn"]["lost"] == 1
    bits = {n: r["bits_per_value"] for n, r in
            zip(names, json.loads(cli("compare", str(p), "-F", ",".join(names),
                                      "--output", "json")[1]), strict=True)}
    for floor in (10.0, 25.0, 35.0, 45.0):
        ok = [n for n in names if refs[n]["lost"] == 0 and refs[n]["sqnr_db"] >= floor]
        best = min(ok, key=lambda n: (bits[n], -refs[n]["sqnr_db"], names.index(n)))
        code, out, err = cli("compare", str(p), "-F", ",".join(names), "--min-sqnr",
                             str(floor), "--output", "json")
        assert code == 0, err
        marked = [r["format"] for r in json.loads(out) if r["recommended"]]
        assert marked == [best], (floor, marked, best)
    # int4:group32 keeps everything but stays below 200 dB; fp16 and e4m3fn lose 1e5
    assert refs["int4:group32"]["sqnr_db"] < 200
    code, out, err = cli("compare", str(p), "-F", "fp16,e4m3fn,int4:group32",
                         "--min-sqnr", "200", "--output", "json")
    assert code == 1
    assert err.startswith("precli: error: ") and "200" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not any(r["recommended"] for r in json.loads(out))


# ------------------------------------------------------------ quantize_tile property

TILE_RECIPES = ["e4m3fn:group8", "e5m2:block2x4:bf16", "e2m1fn:group4:ue8m0",
                "e3m2fn:group5:fp16", "e4m3fn:block3x3:ue8m0", "int4:group8", "uint4:group6",
                "int8:group6:bf16", "int4:block2x3", "uint8:block3x3", "int8:group5:fp32",
                "mxfp4", "mxfp4:rceil", "mxfp6_e3m2", "mxfp6_e2m3:rceil", "mxfp8_e4m3",
                "mxfp8_e5m2:rceil", "mxint8", "mxint8:rceil", "nvfp4"]  # fmt: skip
ANCHORS = [448.0, 57344.0, 6.0, 28.0, 7.5, 7.0, 8.0, 15.0, 127.0, 255.0, 1.984375, 2688.0]


@st.composite
def tile_case(draw: st.DrawFn) -> tuple[str, np.ndarray, list[list[Fraction]]]:
    name = draw(st.sampled_from(TILE_RECIPES))
    rows = draw(st.integers(1, 4))
    cols = draw(st.integers(1, 36))
    base = 2.0 ** draw(st.integers(-14, 14)) * draw(st.sampled_from([1.0, 0.1, 3.0, 0.7]))
    elem = st.one_of(
        st.integers(-96, 96).map(lambda k: k / 16 * base),  # grid points and their ties
        st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32),
        st.sampled_from([0.0, -0.0, 1e-30]),
    )
    vals = draw(st.lists(elem, min_size=rows * cols, max_size=rows * cols))
    if draw(st.booleans()):  # an anchor makes the scale a round number: ties everywhere
        vals[draw(st.integers(0, len(vals) - 1))] = draw(st.sampled_from(ANCHORS)) * base * (
            -1 if draw(st.booleans()) else 1)
    x = np.array(vals, np.float64).reshape(rows, cols)
    exact = [[F(float(v)) for v in row] for row in x]
    if draw(st.booleans()):  # decimal-like inputs just off their float64 value
        tweak = draw(st.lists(st.sampled_from([0, 1, -1]), min_size=x.size, max_size=x.size))
        for k, t in enumerate(tweak):
            i, j = divmod(k, cols)
            if t and exact[i][j] != 0:
                exact[i][j] += t * abs(exact[i][j]) * F(1, 2**70)
    return name, x, exact


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tile_case())
def test_quantize_tile_equals_exact_reference(case: tuple[str, np.ndarray, list[list[Any]]]
                                              ) -> None:
    name, x, exact = case
    spec = ref.parse(name)
    res = ref.quantize(spec, exact)
    r = parse_recipe(name)
    ctx = Context(tensor_scale=float(res.tensor_scale)) if res.tensor_scale is not None else None
    differs = any(F(float(v)) != e for row, er in zip(x, exact, strict=True)
                  for v, e in zip(row, er, strict=True))
    got = quantize_tile(r, x, ctx, exact=(lambda i, j: exact[i][j]) if differs else None)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            want = res.values[i][j]
            g = float(got.dequant[i, j])
            if isinstance(want, Fraction):
                assert g == float(want) and F(g) == want, (name, i, j, exact[i][j], g, want)
                assert bool(got.overflow[i, j]) == res.overflow[i][j], (name, i, j)
            else:
                assert math.isnan(g), (name, i, j, g, want)
    assert got.scales is not None
    ws = [math.nan if s is None else float(s) for s in res.scales]
    np.testing.assert_array_equal(np.asarray(got.scales), np.asarray(ws), err_msg=name)


# recipe, anchors (put at the start of every group: they make the scale 1, nvfp4's block
# scale 448 with tensor scale 1, and integer zero points 0 / 128), element grid, unit
TIE_CASES = [
    ("mxfp4", [4.0], "e2m1fn", 1, 32), ("mxfp4:rceil", [6.0], "e2m1fn", 1, 32),
    ("mxfp6_e3m2", [16.0], "e3m2fn", 1, 32), ("mxfp6_e2m3:rceil", [7.5], "e2m3fn", 1, 32),
    ("mxfp8_e4m3", [256.0], "e4m3fn", 1, 32), ("mxfp8_e5m2", [32768.0], "e5m2", 1, 32),
    ("mxint8", [1.0], "int", F(1, 64), 32), ("nvfp4", [2688.0], "e2m1fn", 448, 16),
    ("e4m3fn:group8", [448.0], "e4m3fn", 1, 8), ("e2m1fn:group8:ue8m0", [6.0], "e2m1fn", 1, 8),
    ("e5m2:block2x8:bf16", [57344.0], "e5m2", 1, 8),
    ("int4:group8", [7.0, -8.0], "int", 1, 8), ("int8:group8:bf16", [127.0, -128.0], "int", 1, 8),
    ("uint8:block2x4", [127.5], "int", 1, 4),
]  # fmt: skip


@pytest.mark.parametrize(("name", "anchors", "grid", "unit", "cols"), TIE_CASES)
def test_quantize_tile_redoes_ties_of_inexact_inputs(name: str, anchors: list[float], grid: str,
                                                      unit: Any, cols: int) -> None:
    # every other value is an element tie in float64; the exact inputs sit 2**-80
    # (relative) above or below it: only exact rounding gets them right
    top = max(abs(a) for a in anchors)
    if grid == "int":
        mids = [(k + F(1, 2)) * unit for k in range(-300, 300)]
    else:
        g = oracle.table(grid).mags
        mids = [(a + b) / 2 * unit for a, b in zip(g, g[1:], strict=False)]
        mids += [-m for m in mids]
    lo_a, hi_a = (min(anchors), max(anchors)) if len(anchors) > 1 else (-top, top)
    mids = sorted(m for m in mids if lo_a < m < hi_a)
    row: list[Fraction] = []
    k = 0
    while len(row) < 4 * max(cols, 32):
        if len(row) % cols == 0:
            row += [F(a) for a in anchors]
        else:
            row.append(mids[(k * 7) % len(mids)])
            k += 1
    x = np.array([[float(v) for v in row]] * 2)
    exact = [[v * (1 + (-1) ** (i + j) * F(1, 2**80)) for j, v in enumerate(row)]
             for i in range(2)]
    for i in range(2):
        for j in range(len(row)):
            if j % cols < len(anchors):
                exact[i][j] = row[j]
    res = ref.quantize(ref.parse(name), exact)
    f64 = ref.quantize(ref.parse(name), ref.exact_entries(x))
    assert all(s == (448 if name == "nvfp4" else 1) for s in res.scales), res.scales[:3]
    assert sum(a != b for ra, rb in zip(res.values, f64.values, strict=True)
               for a, b in zip(ra, rb, strict=True)) >= 8, "no trap in this tile"
    ctx = Context(tensor_scale=float(res.tensor_scale)) if res.tensor_scale is not None else None
    got = quantize_tile(parse_recipe(name), x, ctx, exact=lambda i, j: exact[i][j])
    want = np.array([[float(v) for v in r] for r in res.values])
    np.testing.assert_array_equal(got.dequant, want, err_msg=name)


STATS_RECIPES = ["e4m3fn:tensor", "e5m2:tensor:ue8m0", "e4m3fn:channel:bf16", "int8:channel",
                 "int4:group8", "uint4:group5:bf16", "uint8:tensor", "e4m3fn:block2x3:fp16",
                 "int4:block3x4", "mxfp4", "mxfp6_e2m3:rceil", "mxint8", "nvfp4", "fp16",
                 "e4m3fn", "bf16", "e2m1fn:group3:ue8m0"]  # fmt: skip


@st.composite
def array_case(draw: st.DrawFn) -> tuple[list[str], np.ndarray, int | None, int]:
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 7), min_size=ndim, max_size=ndim)))
    n = math.prod(shape)
    scale = 2.0 ** draw(st.integers(-20, 20))
    vals = draw(st.lists(st.one_of(
        st.floats(-1e4, 1e4, allow_nan=False, width=32).map(lambda v: v * scale),
        st.integers(-40, 40).map(lambda k: k / 8 * scale),
        st.sampled_from([0.0, math.nan, math.inf, -math.inf, 1e5 * scale])),
        min_size=n, max_size=n))
    names = draw(st.lists(st.sampled_from(STATS_RECIPES), min_size=1, max_size=4, unique=True))
    if ndim == 1:
        names = [nm for nm in names if ":channel" not in nm] or ["mxfp4"]
    axis = draw(st.sampled_from([None, *range(ndim)]))
    chunk = draw(st.sampled_from([1, 3, 16, 1 << 15]))
    return names, np.array(vals, np.float64).reshape(shape), axis, chunk


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(array_case())
def test_compare_array_equals_reference_statistics(
        case: tuple[list[str], np.ndarray, int | None, int]) -> None:
    names, x, axis, chunk = case
    got = [s.to_record() for s in compare_array(names, x, axis=axis, chunk_size=chunk)]
    m = ref.matrix(x, axis)
    X = ref.exact_entries(m)
    # a channel is a row of the matrix view (an output channel); a 1-D array is one
    ch = list(range(m.shape[0])) if x.ndim > 1 else [0] * m.shape[0]
    for name, rec in zip(names, got, strict=True):
        spec = ref.parse(name)
        res = ref.quantize(spec, X, ch if spec.scaling == "channel" else None)
        Xr = X
        check_stats(rec, ref.stats(Xr, res), f"{name} {x.shape} axis={axis} chunk={chunk}")
        assert rec["scale_count"] == len(res.scales), name
        assert rec["scale_nan"] == sum(s is None for s in res.scales), name
