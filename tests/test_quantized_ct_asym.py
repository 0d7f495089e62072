"""compressed-tensors pack-quantized int4 with zero points (asymmetric): read as a logical
tensor, checked and diffed. Fixtures: tests/quant_fixtures.py (pack_to_int32 and the min-max
rule written from the reference's formulas, values checked with Fractions), never precli's
readers."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import quant_fixtures as qf
from test_sources_quantized import check_reads, logical

from precli.model.check import check_checkpoint
from precli.model.diff import diff_checkpoints
from precli.sources import open_checkpoint


def random_qzs(rng: np.random.Generator, n: int, k: int, groups: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    q = rng.integers(-8, 8, (n, k))
    z = rng.integers(-8, 8, (n, groups))
    s = rng.uniform(1e-3, 1e-2, (n, groups))
    return q, z, s


def write(tmp_path: Path, ents: list[qf.Entry], config: dict[str, Any] | None = None,
          extra: bool = True) -> Path:
    more = [("norm", "F32", [4], np.ones(4, "<f4").tobytes())] if extra else []
    p = qf.write_st(tmp_path / "m.safetensors", ents + more)
    if config is not None:
        (tmp_path / "config.json").write_text(json.dumps({"quantization_config": config}))
    return p


# ------------------------------------------------------------------ reading


def test_packing_matches_the_reference_docstring() -> None:
    """pack_to_int32's own example (num_bits 8: [1, 2] -> 33409), scaled to 4 bits by
    hand: [1, 2] -> nibbles 9, 10 -> 0xa9; and a zero-point column packs down the rows."""
    assert qf.pack_rows(np.array([[1, 2]])) == [0xA9]
    assert qf.pack_rows(np.array([[-8] * 7 + [7]])) == [0xF0000000]
    assert qf.pack_cols(np.array([[1], [2], [-8]])) == [0x0A9]


@pytest.mark.parametrize("n,k,groups,sdt,zp,dtype", [
    (16, 64, 4, "F16", "packed", "INT4-group16 asym (compressed-tensors)"),
    (13, 64, 2, "BF16", "packed", "INT4-group32 asym (compressed-tensors)"),
    (9, 70, 1, "F32", "packed", "INT4-channel asym (compressed-tensors)"),
    (13, 48, 3, "F16", "int8", "INT4-group16 asym (compressed-tensors)"),
])
def test_reads_exact_values(tmp_path: Path, n: int, k: int, groups: int, sdt: str, zp: str,
                            dtype: str) -> None:
    rng = np.random.default_rng(n * k)
    q, z, s = random_qzs(rng, n, k, groups)
    s = s.astype(qf.SCALE_DTYPES[sdt]).astype(np.float64)
    expect = qf.ct_dequant(q, z, s)
    ents = qf.ct_asym_entries(q, z, s, sdt, zp)
    t = logical(write(tmp_path, ents, qf.ct_config(k // groups if groups > 1 else None)),
                "l.weight")
    assert t.dtype == dtype and t.element == "int4" and t.format is None
    assert t.shape == (n, k) and t.option("zero_point") == zp
    assert t.nbytes == sum(len(e[3]) for e in ents)  # zero points at their stored width
    zbytes = len(ents[3][3])
    assert zbytes == (4 * -(-n // 8) * groups if zp == "packed" else n * groups)
    check_reads(t, expect, rng)
    el, sc = t.decompose()
    g = k // groups
    assert np.array_equal(el, (q - np.repeat(z, g, axis=1)).reshape(-1))
    assert np.array_equal(sc, np.repeat(s, g, axis=1).reshape(-1))
    assert np.array_equal(t.zero_points(3, 9), z[3:9])


def test_reads_without_a_config(tmp_path: Path) -> None:
    """The zero point tensor alone says asymmetric."""
    rng = np.random.default_rng(1)
    q, z, s = random_qzs(rng, 8, 32, 2)
    s = s.astype(np.float16).astype(np.float64)
    t = logical(write(tmp_path, qf.ct_asym_entries(q, z, s)), "l.weight")
    assert t.dtype == "INT4-group16 asym (compressed-tensors)"
    assert np.array_equal(t.read(), qf.ct_dequant(q, z, s).reshape(-1))


def test_activation_order_g_idx(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    q, z, s = random_qzs(rng, 10, 64, 4)
    s = s.astype(np.float16).astype(np.float64)
    gidx = rng.permutation(np.arange(64) // 16)
    expect = qf.ct_dequant(q, z, s, gidx)
    p = write(tmp_path, qf.ct_asym_entries(q, z, s, g_idx=gidx),
              qf.ct_config(16, actorder="group"))
    t = logical(p, "l.weight")
    assert t.part("g_idx") is not None
    check_reads(t, expect, rng)
    assert check_checkpoint(str(p)).findings == []  # no drift check under a permutation


def test_symmetric_still_reads(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ents, expect = qf.ct_pack_quantized(rng, 12, 64, 4)
    t = logical(write(tmp_path, ents, qf.ct_config(16, symmetric=True)), "l.weight")
    assert t.dtype == "INT4-group16 (compressed-tensors)" and t.zero_points(0, 2) is None
    assert np.array_equal(t.read(), expect.reshape(-1))


# ------------------------------------------------------------------ malformed families


def layout_errors(p: Path) -> list[str]:
    ck = open_checkpoint(str(p))
    return [str(e) for e in ck.errors]


def _base(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    q, z, s = random_qzs(rng, 12, 64, 4)
    return q, z, s.astype(np.float16).astype(np.float64)


def bad_case(case: str) -> tuple[list[qf.Entry], dict[str, Any] | None]:
    q, z, s = _base(np.random.default_rng(4))
    ents = qf.ct_asym_entries(q, z, s)
    cfg = qf.ct_config(16)
    zp = "l.weight_zero_point"
    if case == "zp-shape":  # unpacked rows stored as I32
        return qf.replace(ents, zp, qf._i32([int(v) & 0xFFFFFFFF for v in z.reshape(-1)]),
                          [12, 4]), cfg
    if case == "zp-dtype":
        return qf.replace(ents, zp, z.astype("<f2").tobytes(), [12, 4], "F16"), cfg
    if case == "zp-range":
        zz = z.copy()
        zz[5, 2], zz[7, 0] = 9, -9
        return qf.replace(ents, zp, zz.astype(np.int8).tobytes(), [12, 4], "I8"), cfg
    if case == "zp-missing":
        return [e for e in ents if e[0] != zp], cfg
    if case == "group-size":
        return ents, qf.ct_config(32)
    if case == "num-bits":
        return ents, qf.ct_config(16, num_bits=8)
    if case == "g-idx":
        return ents + [("l.weight_g_idx", "I32", [64],
                        np.full(64, 4, "<i4").tobytes())], qf.ct_config(16, actorder="group")
    if case == "g-idx-missing":
        return ents, qf.ct_config(16, actorder="group")
    raise AssertionError(case)


BAD = {
    "zp-shape": "l.weight_zero_point: packed-size: expected I32 weight_zero_point of shape "
                "[2, 4] (12 rows x 4 groups, eight rows to a word); found shape [12, 4]",
    "zp-dtype": "l.weight_zero_point: layout: expected I32 zero points packed eight to a "
                "word along the output rows, or I8 zero points; found F16 [12, 4]",
    "zp-range": "l.weight_zero_point: layout: expected int4 zero points in [-8, 7]; found 2 "
                "of 48 outside, first at [5, 2]: 9",
    "zp-missing": "l.weight_packed: layout: expected a weight_zero_point beside it (the "
                  "config says symmetric: false); found none",
    "group-size": "l.weight_scale: packed-size: expected weight_scale of shape [12, 2] (64 "
                  "input columns in groups of 32, the config's group_size); found F16 [12, 4]",
    "num-bits": "l.weight_packed: layout: expected num_bits 4 (precli reads 4-bit "
                "pack-quantized); found num_bits 8 in the config",
    "g-idx": "l.weight_g_idx: layout: expected group indices in [0, 4); found 64 of 64 "
             "outside, first at [0]: 4",
    "g-idx-missing": "l.weight_packed: layout: expected a weight_g_idx beside it (the config "
                     "says actorder: group); found none",
}


@pytest.mark.parametrize("case", list(BAD))
def test_malformed_family_is_one_line(tmp_path: Path, case: str) -> None:
    ents, cfg = bad_case(case)
    p = write(tmp_path, ents, cfg)
    (msg,) = layout_errors(p)
    tensor, _, tail = BAD[case].split(": ", 2)
    assert msg.endswith(f"tensor '{tensor}': {tail}") and "\n" not in msg
    rep = check_checkpoint(str(p))
    assert [f.line() for f in rep.findings] == [BAD[case]]
    names = {t.name for t in open_checkpoint(str(p)).tensors()}
    assert "l.weight_packed" in names and "l.weight" not in names  # left as raw tensors


# ------------------------------------------------------------------ check


def weights(seed: int, shape: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape) * rng.uniform(0.01, 0.1, shape[-1:])
    w[0, :16] = np.abs(w[0, :16])  # one all-positive group (lo = 0, z = -8)
    w[1, 16:32] = 0.0  # one all-zero group (s = eps, z = -8)
    return w


def clean(w: np.ndarray, g: int, sdt: str = "F32"
          ) -> tuple[list[qf.Entry], np.ndarray, np.ndarray, np.ndarray]:
    q, z, s = qf.ct_minmax(w, g, sdt)
    return qf.ct_asym_entries(q, z, s, sdt), q, z, s


def predicted_drift(q: np.ndarray, z: np.ndarray, s: np.ndarray, sdt: str
                    ) -> tuple[int, int]:
    """(groups whose scale or zero point moves, codes that move) when the min-max rule is
    run again, exactly, on the dequantized values (an all-zero group: zero point only)."""
    n, k = q.shape
    ng = s.shape[1]
    g = k // ng
    groups = codes = 0
    for r in range(n):
        for j in range(ng):
            fs = Fraction(float(s[r, j]))
            v = [(int(c) - int(z[r, j])) * fs for c in q[r, j * g:(j + 1) * g]]
            lo, hi = min(min(v), Fraction(0)), max(max(v), Fraction(0))
            if hi == lo:  # the rule's zero point is -8, its codes all -8
                if z[r, j] != -8:
                    groups += 1
                    codes += int(np.count_nonzero(q[r, j * g:(j + 1) * g] != -8))
                continue
            s2 = Fraction(float(qf.SCALE_DTYPES[sdt](float((hi - lo) / 15))))
            z2 = qf.rhe(min(max(-8 - lo / s2, Fraction(-8)), Fraction(7)))
            if s2 != fs or z2 != z[r, j]:
                groups += 1
                for c, x in zip(q[r, j * g:(j + 1) * g], v, strict=True):
                    codes += qf.rhe(min(max(x / s2 + z2, Fraction(-8)), Fraction(7))) != c
    return groups, codes


def test_clean_fixture_passes(tmp_path: Path) -> None:
    ents, q, z, s = clean(weights(5, (24, 64)), 16)
    assert z[0, 0] == -8 and z[1, 1] == -8 and s[1, 1] == 2.0**-23
    rep = check_checkpoint(str(write(tmp_path, ents, qf.ct_config(16))))
    assert rep.findings == [] and rep.errors == []
    (t,) = [t for t in rep.tensors if t.name == "l.weight"]
    assert t.dtype == "INT4-group16 asym (compressed-tensors)"
    assert t.blocks == 24 * 4 and t.drifted == 0
    assert predicted_drift(q, z, s, "F32") == (0, 0)


def test_no_config_no_declared_recipe(tmp_path: Path) -> None:
    """Without a config there is no declared recipe: drift is not assessed."""
    ents, *_ = clean(weights(5, (24, 64)), 16)
    rep = check_checkpoint(str(write(tmp_path, ents)))
    (t,) = [t for t in rep.tensors if t.name == "l.weight"]
    assert t.blocks is None and rep.findings == []


def test_requant_drift_when_codes_were_halved(tmp_path: Path) -> None:
    """Three groups' codes moved to half their distance from the zero point, the scale and
    zero point kept (a quantizer that rescaled the codes but not the stored scale): the
    values are half what they should be, and re-encoding moves those groups."""
    ents, q, z, s = clean(weights(6, (16, 64)), 16)
    bad = q.copy()
    for r, j in ((2, 0), (5, 3), (11, 1)):
        seg = bad[r, j * 16:(j + 1) * 16]
        bad[r, j * 16:(j + 1) * 16] = (seg - z[r, j]) // 2 + z[r, j]
    want_groups, want_codes = predicted_drift(bad, z, s, "F32")
    assert want_groups == 3 and want_codes > 0
    p = write(tmp_path, qf.ct_asym_entries(bad, z, s, "F32"), qf.ct_config(16))
    c = [f.line() for f in check_checkpoint(str(p)).findings]
    assert c == [f"l.weight: requant-drift: expected re-encoding with int4:group16:fp32 "
                 f"(asymmetric min-max) gives the stored scales, zero points and codes; found "
                 f"scale or zero point moves in 3 of 64 groups (4.69%), codes move for "
                 f"{want_codes} of 1024 elements"]


def test_requant_drift_zero_point_of_a_zero_group(tmp_path: Path) -> None:
    """An all-zero group has no scale to re-derive, but the rule still fixes its zero
    point (-8): a zero group stored with codes and zero point -3 drifts (its values are
    still 0). Zero point -2 under codes -3 makes the values -eps: a live group whose
    re-derived scale is eps / 15."""
    ents, q, z, s = clean(weights(5, (24, 64)), 16)
    for zv, values in ((-3, 0.0), (-2, -(2.0**-23))):
        zz, qq = z.copy(), q.copy()
        zz[1, 1] = zv
        qq[1, 16:32] = -3
        p = write(tmp_path, qf.ct_asym_entries(qq, zz, s, "F32"), qf.ct_config(16))
        assert np.all(logical(p, "l.weight").read(80, 96) == values)
        g, codes = predicted_drift(qq, zz, s, "F32")
        (f,) = check_checkpoint(str(p)).findings
        assert g == 1 and codes == 16
        assert f.found == ("scale or zero point moves in 1 of 96 groups (1.04%), codes move "
                           "for 16 of 1536 elements")


@pytest.mark.parametrize("sdt", ["F16", "BF16"])
def test_rtn_with_rounded_scales_drifts_where_predicted(tmp_path: Path, sdt: str) -> None:
    """The min-max rule run from a 16-bit stored scale: where the top code rounds to 6
    instead of 7 the dequantized values no longer re-derive the scale. precli reports
    exactly the groups an independent exact re-run finds."""
    w = weights(7, (64, 128))
    ents, q, z, s = clean(w, 16, sdt)
    groups, codes = predicted_drift(q, z, s, sdt)
    assert groups > 0 or sdt == "F16"  # bf16 (8 bits): 6 of 512 groups with this seed
    rep = check_checkpoint(str(write(tmp_path, ents, qf.ct_config(16))))
    (t,) = [t for t in rep.tensors if t.name == "l.weight"]
    assert t.blocks == 64 * 8 and t.drifted == groups
    # a share this small is what the rounded scale explains: a note, not a finding
    assert rep.findings == []
    assert groups <= 0.02 * 64 * 8
    if groups:
        (n,) = [n for n in t.notes if "requant-drift" in n]
        assert f"codes move for {codes} of 8192 elements" in n
        assert n.startswith(f"l.weight: requant-drift within what a {sdt.lower()} scale")


def test_many_moved_groups_with_a_16_bit_scale_are_a_finding(tmp_path: Path) -> None:
    """Beyond what rounding the scale explains (2% of groups), drift is a finding again."""
    w = weights(7, (64, 128))
    _, q, z, s = clean(w, 16, "BF16")
    bad = q.copy()
    for r in range(16):  # a quarter of the rows: codes halved toward the zero point
        bad[r] = (bad[r] - np.repeat(z[r], 16)) // 2 + np.repeat(z[r], 16)
    groups, codes = predicted_drift(bad, z, s, "BF16")
    assert groups > 0.02 * 64 * 8
    p = write(tmp_path, qf.ct_asym_entries(bad, z, s, "BF16"), qf.ct_config(16))
    (f,) = check_checkpoint(str(p)).findings
    assert f.check == "requant-drift" and f"in {groups} of 512 groups" in f.found


# ------------------------------------------------------------------ diff


def test_diff_against_original(tmp_path: Path) -> None:
    w = weights(8, (16, 64))
    o = qf.write_st(tmp_path / "o.safetensors", [("l.weight", "F64", [16, 64],
                                                  w.astype("<f8").tobytes())])
    ents, q, z, s = clean(w, 16, "F16")
    qd = tmp_path / "q"
    qd.mkdir()
    qp = write(qd, ents, qf.ct_config(16), extra=False)
    rep = diff_checkpoints(str(o), str(qp))
    (r,) = [t.record() for t in rep.tensors]
    deq = qf.ct_dequant(q, z, s)
    e = np.abs(w - deq)
    assert r["dtype"] == "INT4-group16 asym (compressed-tensors)"
    assert r["element_format"] == "int4" and r["original_dtype"] == "F64"
    assert r["max_abs_error"] == float(e.max())
    assert r["rmse"] == pytest.approx(float(np.sqrt(np.mean(e * e))), rel=1e-12)
    # ulps on the integer grid: |x / s - (q - z)|
    sfull = np.repeat(s, 16, axis=1)
    d = np.abs(w / sfull - (q - np.repeat(z, 16, axis=1)))
    assert r["ulp_max"] == pytest.approx(float(d.max()), rel=1e-12)
    assert r["within_half_ulp"] == np.count_nonzero(d <= 0.5) / d.size
    assert r["within_1ulp"] == 1
    self_rep = diff_checkpoints(str(qp), str(qp))
    (r2,) = [t.record() for t in self_rep.tensors]
    assert r2["max_abs_error"] == 0 and r2["ulp_max"] == 0


# ------------------------------------------------------------------ the commands


def precli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "precli", *args], capture_output=True,
                          text=True, timeout=120)


def test_cli_compare_plan_check_diff(tmp_path: Path) -> None:
    w = weights(9, (16, 64))
    o = qf.write_st(tmp_path / "o.safetensors", [("l.weight", "F64", [16, 64],
                                                  w.astype("<f8").tobytes())])
    ents, q, z, s = clean(w, 16)
    qd = tmp_path / "q"
    qd.mkdir()
    qp = write(qd, ents, qf.ct_config(16), extra=False)
    dtype = "INT4-group16 asym (compressed-tensors)"
    p = precli("compare", str(qp), "-F", "bf16", "-o", "ndjson")
    assert p.returncode == 0, p.stderr
    (rec,) = [json.loads(x) for x in p.stdout.splitlines() if json.loads(x)["tensor"]]
    assert rec["tensor"] == "l.weight" and rec["dtype"] == dtype and rec["shape"] == [16, 64]
    p = precli("plan", str(qp), "-F", "bf16", "--bits", "16", "-o", "json")
    assert p.returncode == 0, p.stderr
    (pt,) = json.loads(p.stdout)["tensors"]
    assert pt["dtype"] == dtype and pt["recipe"] == "stored"
    assert pt["bits"] == 8 * sum(len(e[3]) for e in ents)  # zero points included
    p = precli("check", str(qp), "-o", "plain")
    assert p.returncode == 0 and p.stdout.endswith("checked 1 tensor (1 quantized): 0 "
                                                   "findings\n"), p.stdout + p.stderr
    zz = z.copy()
    zz[3, 1] = 9  # out of range: only the unpacked (I8) form can say it
    bd = tmp_path / "bad"
    bd.mkdir()
    bad = write(bd, qf.ct_asym_entries(q, zz, s, "F32", "int8"), qf.ct_config(16),
                extra=False)
    p = precli("check", str(bad), "-o", "plain")
    assert p.returncode == 1 and p.stdout.splitlines()[0] == (
        "l.weight_zero_point: layout: expected int4 zero points in [-8, 7]; found 1 of 64 "
        "outside, first at [3, 1]: 9")
    p = precli("diff", str(o), str(qp), "-o", "ndjson")
    assert p.returncode == 0, p.stderr
    recs = [json.loads(x) for x in p.stdout.splitlines()]
    assert [r["tensor"] for r in recs] == ["l.weight", None]
    assert recs[0]["dtype"] == dtype and recs[0]["within_1ulp"] == 1
