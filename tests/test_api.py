"""The Python API (``import precli``): its page of examples runs, it imports nothing heavy
until asked, and a notebook-style session agrees with independent oracles (numpy,
ml_dtypes, the safetensors package)."""

from __future__ import annotations

import ast
import doctest
import math
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

import precli

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "python-api.md"

# ------------------------------------------------------------------ the docs page

_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)

#: numpy's default print options, pinned: the page's outputs are numpy's own printing.
_PRINT = dict(precision=8, threshold=1000, edgeitems=3, linewidth=75, suppress=False,
              nanstr="nan", infstr="inf", sign="-", floatmode="maxprec", legacy=False)


def _page_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, source) of every ```python block of the page."""
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in _BLOCK.finditer(text)]


def run_page(text: str, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int, str]:
    """Run every python block of a page as doctests, in order, sharing one namespace (as a
    reader's session would), in ``cwd``. Returns (failed, tried, report)."""
    monkeypatch.chdir(cwd)
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    globs: dict[str, Any] = {"__name__": "python_api_page"}
    report: list[str] = []
    with np.printoptions(**_PRINT):  # type: ignore[arg-type]
        for line, src in _page_blocks(text):
            test = parser.get_doctest(src, globs, f"{PAGE.name}:{line}", str(PAGE), line)
            runner.run(test, out=report.append, clear_globs=False)
            globs = test.globs  # DocTest copies its globals: carry them to the next block
    failed, tried = runner.summarize(verbose=False)
    return failed, tried, "".join(report)


def test_every_python_block_of_the_page_is_an_example() -> None:
    blocks = _page_blocks(PAGE.read_text())
    assert len(blocks) >= 10
    for line, src in blocks:
        assert src.lstrip().startswith(">>> "), f"{PAGE.name}:{line}: not a doctest block"


def test_the_page_shows_every_function() -> None:
    text = PAGE.read_text()
    functions = [n for n in precli.__all__ if n[0].islower() and not n.startswith("_")]
    assert len(functions) == 15
    for name in functions:
        assert re.search(rf"precli\.{name}\(", text), name
    assert (ROOT / "precli" / "py.typed").is_file()  # the types ship with the package


def test_the_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    failed, tried, report = run_page(PAGE.read_text(), tmp_path, monkeypatch)
    assert tried >= 60
    assert failed == 0, report


def test_the_python_examples_of_every_other_page_run(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """README's and every docs page's ```python blocks are doctests too (console examples
    are run by tests/test_docs.py)."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    tried_readme = 0
    for page in pages:
        if page == PAGE:
            continue
        for _, src in _page_blocks(page.read_text()):
            assert src.lstrip().startswith(">>> "), f"{page.name}: a python block is no doctest"
        failed, tried, report = run_page(page.read_text(), tmp_path, monkeypatch)
        assert failed == 0, f"{page.name}:\n{report}"
        if page.name == "README.md":
            tried_readme = tried
    assert tried_readme >= 4


def test_the_page_test_can_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One expected output changed: the run reports exactly that example."""
    text = PAGE.read_text()
    good = "(Fraction(65504, 1), Fraction(1, 1024), 16)"
    assert text.count(good) == 1
    failed, _, report = run_page(text.replace(good, good.replace("65504", "65505")),
                                 tmp_path, monkeypatch)
    assert failed == 1
    assert "Fraction(65505, 1)" in report and "Fraction(65504, 1)" in report


# ------------------------------------------------------------------ the module itself


def _loaded_after(code: str) -> list[str]:
    """The modules of interest a fresh interpreter holds after running code, beyond those it
    holds at start-up (a sitecustomize may load some)."""
    probe = ("import sys\nprint(sorted(m for m in ('numpy', 'rich', 'typer', 'click', "
             "'typing') if m in sys.modules))")

    def run(src: str) -> set[str]:
        p = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True,
                           check=True, cwd=ROOT)
        return set(ast.literal_eval(p.stdout.strip().splitlines()[-1]))

    return sorted(run(code + "\n" + probe) - run(probe))


def test_import_loads_nothing_heavy() -> None:
    assert _loaded_after("import precli") == []


def test_format_facts_and_scalar_values_need_no_numpy() -> None:
    code = ("import precli\n"
            "assert precli.format('fp16').max == 65504\n"
            "assert precli.block_format('mxfp4').block_size == 32\n"
            "assert precli.encode('3.14', 'tf32').info.value == '3.140625'\n"
            "assert precli.decode(0x3c00, 'fp16').value == '1'\n"
            "assert issubclass(precli.UnknownFormatError, precli.PrecliError)")
    assert [m for m in _loaded_after(code) if m in ("numpy", "rich", "typer", "click")] == []


def test_arrays_load_numpy_but_never_rich_or_typer() -> None:
    code = "import precli\nprecli.compare([1.0, 2.5], ['bf16', 'nvfp4'])"
    loaded = _loaded_after(code)
    assert "numpy" in loaded and "rich" not in loaded and "typer" not in loaded


def test_dir_lists_all_and_every_name_resolves() -> None:
    names = dir(precli)
    assert set(precli.__all__) <= set(names)
    assert len(set(precli.__all__)) == len(precli.__all__)
    assert set(precli._LAZY) == set(precli.__all__)  # every public name, and only those
    for name in precli.__all__:
        assert getattr(precli, name) is not None, name
    for name in precli.__all__:
        if name[0].isupper() and name != "Format":
            assert isinstance(getattr(precli, name), type), name


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = precli.no_such_name
    assert not hasattr(precli, "round_tile")


def test_version_is_the_project_version() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert precli.__version__ == meta["project"]["version"]


# ------------------------------------------------------------------ a notebook session
#
# Only precli.* names below (plus the oracles): what a user would type.

BF16, E4M3, E5M2 = ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2
FP4, FP6 = ml_dtypes.float4_e2m1fn, ml_dtypes.float6_e3m2fn

ORACLES: dict[str, Any] = {"fp16": np.float16, "fp32": np.float32, "bf16": BF16,
                           "e4m3fn": E4M3, "e5m2": E5M2, "e2m1fn": FP4, "e3m2fn": FP6}


def _finfo(dt: Any) -> Any:
    if dt in (np.float16, np.float32):
        return np.finfo(dt)
    return ml_dtypes.finfo(dt)  # type: ignore[no-untyped-call]


def _rmse(x: np.ndarray, q: np.ndarray) -> float:
    e = x.astype(np.float64) - q.astype(np.float64)
    return math.sqrt(math.fsum((e * e).ravel().tolist()) / e.size)


@pytest.fixture
def sample() -> np.ndarray:
    """float32 values over every binade that matters, with zeros, signs and specials."""
    rng = np.random.default_rng(2024)
    mag = np.exp2(rng.uniform(-30, 20, 20000)) * rng.choice([-1, 1], 20000)
    x = np.concatenate([mag, [0.0, -0.0, np.inf, -np.inf, np.nan, 448.0, 464.0, 465.0,
                              65504.0, 65520.0, 3.140625]]).astype(np.float32)
    return x


def test_session_format_facts() -> None:
    for name, dt in ORACLES.items():
        f, fi = precli.format(name), _finfo(dt)
        assert isinstance(f, precli.FloatFormat) and f.smallest_subnormal is not None
        assert f.bits == fi.bits, name
        assert float(f.max) == float(fi.max), name
        assert float(f.eps) == float(fi.eps), name
        assert float(f.smallest_normal) == float(fi.smallest_normal), name
        assert float(f.smallest_subnormal) == float(fi.smallest_subnormal), name
    assert precli.format("fp16").max == 65504 and precli.format("half") == precli.format("fp16")
    assert isinstance(precli.format("e4m3fn"), precli.FloatFormat)
    assert isinstance(precli.format("int8"), precli.IntFormat)
    assert isinstance(precli.format("nf4"), precli.TableFormat)
    names = [f.name for f in precli.formats()]
    assert {"fp16", "bf16", "tf32", "e4m3fn", "e5m2", "e2m1fn", "nf4", "int4"} <= set(names)
    mx = precli.block_format("MXFP4")
    assert (mx.name, mx.block_size, mx.element, mx.scale) == ("mxfp4", 32, "e2m1fn", "e8m0fnu")
    assert {b.name for b in precli.block_formats()} >= {"mxfp4", "mxfp8_e4m3", "nvfp4"}


@pytest.mark.parametrize("name", ["fp16", "bf16", "e4m3fn", "e5m2"])
def test_session_encode_matches_the_oracles(name: str, sample: np.ndarray) -> None:
    """precli.encode of float32 values (their exact value) against the oracle's direct
    float32 cast: the same code, or NaN for NaN."""
    dt = ORACLES[name]
    pick = np.random.default_rng(7).choice(sample.size, 400, replace=False)
    xs = np.concatenate([sample[pick], sample[-11:]])
    with np.errstate(over="ignore"):
        want = xs.astype(dt)
    for x, w in zip(xs.tolist(), want, strict=True):
        r = precli.encode(x, name)
        if np.isnan(w):
            assert r.info.cls == "nan", (name, x)
            continue
        assert r.info.code == int(np.array(w).view(f"u{np.dtype(dt).itemsize}")), (name, x)
        if np.isinf(w):
            assert r.info.cls == "inf" and r.info.sign == int(w < 0), (name, x)
        else:
            assert r.info.stored.value == Fraction(float(w)), (name, x)


def test_session_encode_a_few_values_by_hand() -> None:
    r = precli.encode("3.14", "tf32", rounding="nearest-even", saturate=False)
    assert (r.info.code, r.info.value, r.flags) == (0x20248, "3.140625", ("inexact",))
    assert r.abs_error == abs(Fraction(314, 100) - Fraction(201, 64))
    assert precli.encode(Fraction(1, 3), "fp16").info.code == int(
        np.float16(1 / 3).view(np.uint16))
    assert precli.encode(np.float32(0.1), "bf16").info.code == int(
        np.array(np.float32(0.1)).astype(BF16).view(np.uint16))
    assert precli.encode(100000, "fp16").info.value == "inf"
    assert precli.encode(100000, "fp16", saturate=True).info.value == "65504"
    assert precli.encode("1.5", "e4m3fn", rounding="rd").info.value == "1.5"
    assert precli.encode("0.5", "int8", scale=Fraction(1, 8)).info.code == 4
    up = precli.encode("1.0001", "bf16", rounding="up").info.stored.value
    assert up == 1 + Fraction(1, 128)


def test_session_decode_every_8_bit_code_and_sampled_16_bit_codes() -> None:
    for name, dt, codes in (("e4m3fn", E4M3, range(256)), ("e5m2", E5M2, range(256)),
                            ("fp16", np.float16, range(0, 1 << 16, 97)),
                            ("bf16", BF16, range(0, 1 << 16, 89))):
        width = np.dtype(dt).itemsize
        with np.errstate(invalid="ignore"):
            vals = np.array(list(codes), f"u{width}").view(dt).astype(np.float64)
        for c, v in zip(codes, vals.tolist(), strict=True):
            info = precli.decode(c, name)
            if math.isnan(v):
                assert info.cls == "nan", (name, hex(c))
            elif math.isinf(v):
                assert info.cls == "inf" and info.value == ("inf" if v > 0 else "-inf")
            else:
                assert info.stored.value == Fraction(v), (name, hex(c))
        assert precli.decode(hex(codes[1]), name).code == codes[1]


@pytest.mark.parametrize("name", ["fp16", "bf16", "e4m3fn", "e5m2"])
def test_session_round_array_matches_ml_dtypes(name: str, sample: np.ndarray) -> None:
    dt = ORACLES[name]
    with np.errstate(over="ignore"):
        want = sample.astype(dt)
    got = precli.round_array(sample, name)
    assert got.dtype == np.float64 and got.shape == sample.shape
    np.testing.assert_array_equal(got, want.astype(np.float64))
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want.astype(np.float64)))
    ok = ~np.isnan(want.astype(np.float64))
    codes = precli.encode_array(sample[ok], name)
    np.testing.assert_array_equal(codes, want[ok].view(f"u{np.dtype(dt).itemsize}"))
    np.testing.assert_array_equal(precli.decode_array(codes, name), got[ok])


def test_session_round_array_small_formats_saturating(sample: np.ndarray) -> None:
    """fp4 / fp6 have no inf and no NaN: ml_dtypes clamps overflow, as saturate=True does."""
    x = sample[np.isfinite(sample)]
    for name in ("e2m1fn", "e3m2fn"):
        got = precli.round_array(x, name, saturate=True)
        np.testing.assert_array_equal(got, x.astype(ORACLES[name]).astype(np.float64))


def test_session_round_array_shapes_dtypes_and_nan() -> None:
    x = np.arange(24, dtype=np.float16).reshape(2, 3, 4) / 8
    assert precli.round_array(x, "e2m1fn").shape == (2, 3, 4)
    assert precli.encode_array(x, "fp4").dtype == np.uint8
    assert precli.encode_array(x, "fp16").dtype == np.uint16
    assert precli.encode_array([1.0], "tf32").dtype == np.uint32
    out = precli.round_array([np.nan, 1.0], "fp4")
    assert np.isnan(out[0]) and out[1] == 1.0
    ints = precli.round_array(np.array([1, 2**24 + 1], np.int64), "fp32")
    assert ints.tolist() == [1.0, 2.0**24]
    r = precli.round_array(np.full(64, 0.3), "e4m3fn", rounding="stochastic", seed=5)
    assert set(r.tolist()) == {0.28125, 0.3125}
    assert r[0] == float(precli.encode(0.3, "e4m3fn", rounding="stochastic", seed=5)
                         .info.stored.value)
    blocks = precli.round_array(np.linspace(-3, 3, 64).reshape(2, 32), "mxfp4")
    assert blocks.shape == (2, 32) and np.all(np.abs(blocks) <= 4)


def test_session_compare_against_numpy_and_ml_dtypes() -> None:
    rng = np.random.default_rng(11)
    x = rng.standard_normal((64, 256)).astype(np.float32)
    stats = precli.compare(x, ["bf16", "nvfp4", "int4:group128"])
    assert [s.format for s in stats] == ["bf16", "nvfp4", "int4:group128"]
    bf = stats[0]
    q = x.astype(BF16).astype(np.float64)
    e = np.abs(x.astype(np.float64) - q)
    assert bf.count == x.size and bf.lost == 0 and bf.bits_per_value == 16
    assert bf.max_abs_error == float(e.max())
    assert bf.rmse == pytest.approx(_rmse(x, q), rel=1e-12)
    sq = 10 * math.log10(math.fsum((x.astype(np.float64) ** 2).ravel().tolist())
                         / math.fsum((e * e).ravel().tolist()))
    assert bf.sqnr_db == pytest.approx(sq, rel=1e-12)
    assert bf.exact_fraction == pytest.approx(float(np.mean(e == 0)), abs=0)
    nv = stats[1]
    assert nv.bits_per_value == pytest.approx(4.5 + 32 / x.size)
    assert nv.rmse == pytest.approx(_rmse(x, precli.round_array(x, "nvfp4")), rel=1e-12)
    assert stats[2].bits_per_value == pytest.approx(4 + (16 + 4) / 128)
    rec = bf.to_record()
    assert rec["format"] == "bf16" and rec["rmse"] == bf.rmse
    assert [s.format for s in precli.compare(x, "bf16, fp16")] == ["bf16", "fp16"]
    assert len(precli.compare(x[:4, :4])) >= 10  # the CLI's default formats


@pytest.fixture
def model(tmp_path: Path) -> dict[str, Path | dict[str, np.ndarray]]:
    """A small float32 model written by the safetensors package, its fp16 conversion, and
    a copy with a NaN in one tensor."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(3)
    w = {"embed.weight": rng.standard_normal((32, 64)).astype(np.float32),
         "layers.0.q.weight": (0.05 * rng.standard_normal((64, 64))).astype(np.float32),
         "layers.0.norm.weight": (1 + 0.1 * rng.standard_normal(64)).astype(np.float32)}
    paths = {k: tmp_path / f"{k}.safetensors" for k in ("orig", "half", "broken")}
    save_file(w, str(paths["orig"]))
    save_file({k: v.astype(np.float16) for k, v in w.items()}, str(paths["half"]))
    bad = dict(w)
    bad["layers.0.q.weight"] = w["layers.0.q.weight"].copy()
    bad["layers.0.q.weight"][3, 5] = np.nan
    save_file(bad, str(paths["broken"]))
    return {**paths, "weights": w}


def test_session_checkpoints(model: dict[str, Any]) -> None:
    from safetensors.numpy import load_file

    w: dict[str, np.ndarray] = model["weights"]
    orig, half = model["orig"], model["half"]

    ck = precli.open_checkpoint(orig)
    theirs = load_file(str(orig))
    assert [t.name for t in ck.tensors()] == list(theirs)
    for t in ck.tensors():
        assert t.shape == theirs[t.name].shape and t.format == "fp32"
        np.testing.assert_array_equal(t.read().reshape(t.shape), theirs[t.name])
    assert isinstance(ck, precli.Checkpoint) and len(ck) == 3

    rep = precli.analyze(str(orig), ["bf16", "e4m3fn:tensor"], small=True)
    assert isinstance(rep, precli.ModelReport) and rep.errors == []
    for tr in rep.tensors:
        x = w[tr.name]
        assert tr.stats[0].rmse == pytest.approx(_rmse(x, x.astype(BF16)), rel=1e-12)
    assert rep.summary[0].count == sum(v.size for v in w.values())
    assert precli.analyze(orig, "bf16", include="norm").tensors[0].skip == "set aside: 1-D"
    assert precli.analyze(orig, "bf16", include="norm",
                          small=True).tensors[0].name == "layers.0.norm.weight"

    assert precli.check(orig).findings == []
    found = precli.check(model["broken"]).findings
    assert [(f.tensor, f.check) for f in found] == [("layers.0.q.weight", "nonfinite")]

    d = precli.diff(orig, half)
    assert [t.name for t in d.tensors] == list(theirs)  # file order
    for td in d.tensors:
        rec = td.record()
        assert rec["element_format"] == "fp16" and rec["within_half_ulp"] == 1.0
        x = w[td.name]
        assert rec["rmse"] == pytest.approx(_rmse(x, x.astype(np.float16)), rel=1e-12)


def test_session_plan(model: dict[str, Any]) -> None:
    w: dict[str, np.ndarray] = model["weights"]
    params = sum(v.size for v in w.values())
    p = precli.plan(model["orig"], ["bf16", "mxfp4"], bits=8)
    assert isinstance(p, precli.PlanResult) and isinstance(p.plan, precli.Plan)
    assert set(p.assignments) == set(w)
    assert p.assignments["layers.0.norm.weight"] == "stored"  # a 1-D tensor keeps fp32
    per_value = {"bf16": 16, "mxfp4": 4 + 8 / 32, "stored": 32}
    bits = sum(per_value[p.assignments[k]] * v.size for k, v in w.items())
    t = p.totals
    assert t["bits"] == bits and t["params"] == params and bits <= 8 * params
    assert p.to_record()["total"] == t
    assert "--tensor-type '^embed\\.weight$=" in p.emit("llama-quantize")
    assert "layers.0.norm.weight: fp32" in p.emit("yaml").splitlines()
    assert p.assignments == precli.plan(model["orig"], "bf16,mxfp4", size=(8 * params) // 8,
                                        keep={}).assignments
    pinned = precli.plan(model["orig"], ["bf16", "mxfp4"], bits=9,
                         keep={"embed": "bf16"}).assignments
    assert pinned["embed.weight"] == "bf16"
    floor = precli.plan(model["orig"], ["bf16", "mxfp4"], min_sqnr=30).assignments
    assert floor["embed.weight"] == "bf16"


# ------------------------------------------------------------------ errors


def _raises(kind: type[BaseException], fn: Any, *args: Any, **kw: Any) -> str:
    with pytest.raises(kind) as e:
        fn(*args, **kw)
    assert isinstance(e.value, precli.PrecliError)
    return str(e.value)


def test_bad_arguments_raise_precli_errors(model: dict[str, Any], tmp_path: Path) -> None:
    x = np.ones(4, np.float32)
    for fn, args in ((precli.format, ("fp17",)), (precli.encode, ("1", "fp17")),
                     (precli.decode, (0, "fp17")), (precli.round_array, (x, "fp17")),
                     (precli.encode_array, (x, "fp17")), (precli.decode_array, ([0], "fp17")),
                     (precli.compare, (x, ["fp17"])), (precli.block_format, ("mxfp5",))):
        assert "fp17" in _raises(precli.UnknownFormatError, fn, *args) or fn is \
            precli.block_format
    _raises(precli.InvalidFormatSpecError, precli.format, "e99m2")
    _raises(precli.UsageError, precli.format, "mxfp4")  # a block format: block_format()
    _raises(precli.UsageError, precli.encode, "1", "nvfp4")
    _raises(precli.UsageError, precli.encode, "1", "fp16", rounding="sideways")
    _raises(precli.UsageError, precli.encode, "1", "fp16", seed=3)
    _raises(precli.UsageError, precli.encode, "1", "fp16", scale=2)
    _raises(precli.UsageError, precli.encode, "1", "nf4", zero_point=1)
    _raises(precli.UsageError, precli.encode, "1", "int8", scale=-1)
    _raises(precli.UsageError, precli.encode, [1.0], "fp16")
    _raises(precli.UsageError, precli.encode, 1, 16)
    _raises(precli.ValueParseError, precli.encode, "one", "fp16")
    _raises(precli.NotRepresentableError, precli.encode, "nan", "fp4")
    _raises(precli.CodeRangeError, precli.decode, 0x100, "e4m3fn")
    _raises(precli.CodeRangeError, precli.decode, -1, "e4m3fn")
    _raises(precli.ValueParseError, precli.decode, "0xzz", "e4m3fn")
    _raises(precli.UsageError, precli.decode, 1.5, "e4m3fn")
    _raises(precli.UsageError, precli.round_array, ["a"], "fp16")
    _raises(precli.UsageError, precli.round_array, np.array([2**60], np.int64), "fp32")
    _raises(precli.UsageError, precli.round_array, x, "nvfp4", saturate=True)
    _raises(precli.UsageError, precli.encode_array, x, "mxfp4")
    _raises(precli.NotRepresentableError, precli.encode_array, [np.nan], "int8")
    _raises(precli.UsageError, precli.decode_array, [0.5], "fp16")
    _raises(precli.CodeRangeError, precli.decode_array, [256], "e4m3fn")
    _raises(precli.UsageError, precli.compare, x, [])
    _raises(precli.UsageError, precli.compare, x, ["bf16", "bf16"])
    _raises(precli.UsageError, precli.compare, x, ["int4:group32"], scheme="skewed")
    _raises(precli.UsageError, precli.compare, x, ["nvfp4"], rounding="up")
    _raises(precli.UsageError, precli.compare, np.array(["a"]), ["bf16"])
    _raises(precli.UsageError, precli.open_checkpoint, tmp_path / "missing.safetensors")
    _raises(precli.UsageError, precli.open_checkpoint, 42)
    pickle = tmp_path / "model.pt"
    pickle.write_bytes(b"\x80\x04\x95" + bytes(40))
    _raises(precli.CheckpointError, precli.open_checkpoint, pickle)
    _raises(precli.CheckpointError, precli.analyze, pickle, ["bf16"])
    orig = model["orig"]
    _raises(precli.UsageError, precli.analyze, orig, ["bf16"], include="(")
    _raises(precli.PlanError, precli.plan, orig, ["bf16"], bits=2)
    _raises(precli.UsageError, precli.plan, orig, ["bf16"])  # no budget
    _raises(precli.UsageError, precli.plan, orig, ["bf16"], bits=8, size="1GB")
    _raises(precli.UsageError, precli.plan, orig, ["bf16"], bits="lots")
    _raises(precli.UsageError, precli.plan, orig, ["bf16"], bits=8, objective="best")
    _raises(precli.UsageError, precli.plan, orig, ["bf16"], bits=8, keep={"x": "fp8"})
    _raises(precli.UsageError, precli.plan, orig, ["bf16"], bits=8, exclude=".")
    p = precli.plan(orig, ["bf16", "e4m3fn:tensor"], bits=16)
    _raises(precli.UsageError, p.emit, "toml")
    _raises(precli.UsageError, p.emit, "llama-quantize")  # e4m3fn has no ggml type


def _iter_names() -> Iterator[str]:
    yield from precli.__all__


def test_every_error_class_is_a_precli_error() -> None:
    errors = [n for n in _iter_names() if n.endswith("Error")]
    assert len(errors) == 9
    for n in errors:
        assert issubclass(getattr(precli, n), precli.PrecliError), n
