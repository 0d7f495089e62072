"""Names people type (issue 11 §5): library dtype spellings, trap notes, suggestions."""

from __future__ import annotations

import re
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from typer.testing import CliRunner

from precli.cli.app import app
from precli.core.formats import all_names, builtin_formats, get_format, name_note
from precli.errors import UnknownFormatError

runner = CliRunner()
ENV = {"COLUMNS": "100", "NO_COLOR": "1", "FORCE_COLOR": None}


def run(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args), env=ENV)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


# ml_dtypes' own type names, with the library prefix and without: finfo is the oracle.
ML_DTYPES_FLOATS = [
    "bfloat16", "float8_e3m4", "float8_e4m3", "float8_e4m3b11fnuz", "float8_e4m3fn",
    "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu", "float6_e2m3fn",
    "float6_e3m2fn", "float4_e2m1fn",
]  # fmt: skip


TORCH_FLOATS = {"bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz",
                "float8_e5m2fnuz", "float8_e8m0fnu"}  # the ml_dtypes names torch also has


@pytest.mark.parametrize("prefix,name", [
    (p, n) for p in ("", "ml_dtypes.", "jnp.", "torch.") for n in ML_DTYPES_FLOATS
    if p != "torch." or n in TORCH_FLOATS])
def test_ml_dtypes_names_resolve_to_the_format_with_that_finfo(name: str, prefix: str) -> None:
    fi = ml_dtypes.finfo(getattr(ml_dtypes, name))
    f = get_format(prefix + name)
    assert f.bits == fi.bits
    assert float(f.max) == float(fi.max)
    assert float(f.smallest_normal) == float(fi.smallest_normal)  # type: ignore[union-attr]


@pytest.mark.parametrize("name,dtype", [
    ("np.float16", np.float16), ("np.float32", np.float32), ("np.float64", np.float64),
    ("numpy.half", np.float16), ("np.single", np.float32), ("np.double", np.float64),
    ("np.float_", np.float64), ("f16", np.float16), ("f32", np.float32), ("f64", np.float64),
    ("torch.float16", np.float16), ("torch.half", np.float16), ("torch.float", np.float32),
    ("torch.float32", np.float32), ("torch.double", np.float64), ("torch.float64", np.float64),
    ("TORCH.FLOAT16", np.float16), ("tf.float32", np.float32),
])  # fmt: skip
def test_numpy_and_torch_float_names(name: str, dtype: type) -> None:
    fi = np.finfo(dtype)
    f = get_format(name)
    assert f.bits == fi.bits and float(f.max) == float(fi.max)
    assert float(f.eps) == float(fi.eps)  # type: ignore[union-attr]


@pytest.mark.parametrize("name,dtype", [
    ("torch.int8", np.int8), ("np.uint8", np.uint8), ("torch.int16", np.int16),
    ("jnp.uint32", np.uint32), ("np.int64", np.int64),
])  # fmt: skip
def test_integer_dtype_names(name: str, dtype: type) -> None:
    ii = np.iinfo(dtype)
    f = get_format(name)
    assert (f.min, f.max) == (Fraction(ii.min), Fraction(ii.max))


@pytest.mark.parametrize("name,bits,mx", [
    ("torch.float4_e2m1fn_x2", 4, 6), ("onnx.TensorProto.FLOAT4E2M1", 4, 6),
    ("FLOAT8E4M3FN", 8, 448), ("float8e5m2", 8, 57344), ("FLOAT6E3M2", 6, 28),
    ("float6e2m3", 6, Fraction(15, 2)), ("fp6", 6, Fraction(15, 2)),
    ("float4_e2m1fn", 4, 6), ("jnp.int4", 4, 7), ("torch.uint4", 4, 15),
])  # fmt: skip
def test_other_spellings(name: str, bits: int, mx: Fraction) -> None:
    f = get_format(name)
    assert (f.bits, f.max) == (bits, mx)


def test_every_name_maps_to_one_format_and_bare_float_is_ambiguous() -> None:
    seen: dict[str, str] = {}
    for f in builtin_formats():
        for n in (f.name, *f.aliases):
            assert n not in seen, (n, seen.get(n), f.name)
            seen[n] = f.name
            assert get_format(n) is f
    assert len(seen) == len(all_names())
    with pytest.raises(UnknownFormatError, match="did you mean"):
        get_format("float")


def test_docs_format_table_lists_every_alias() -> None:
    from pathlib import Path

    text = Path(__file__).resolve().parent.parent.joinpath("docs", "formats.md").read_text()
    start = text.index("## Names and aliases")
    table = text[start:text.index("\n## ", start + 1)]
    words = set(re.findall(r"[A-Za-z0-9_.]+", table))
    missing = [n for f in builtin_formats() for n in (f.name, *f.aliases) if n not in words]
    assert not missing


# ------------------------------------------------------------------ trap notes


def _note_max(note: str, name: str) -> Fraction:
    m = re.search(rf"\b{re.escape(name)}\b[^;]*?\(max ([0-9.]+)", note)
    assert m, (note, name)
    return Fraction(m.group(1))


@pytest.mark.parametrize("typed,twin", [
    ("e4m3", "e4m3fn"), ("E4M3", "e4m3fn"), ("float8_e4m3", "e4m3fn"), ("e2m1", "e2m1fn"),
    ("e3m2", "e3m2fn"), ("e2m3", "e2m3fn"),
])  # fmt: skip
def test_trap_notes_state_both_maxima_correctly(typed: str, twin: str) -> None:
    note = name_note(typed)
    assert note is not None and twin in note
    # the maxima quoted in the note are the formats' real ones (computed independently)
    got, other = get_format(typed), get_format(twin)
    nums = [Fraction(x) for x in re.findall(r"\(max ([0-9.]+)", note)]
    assert nums == [got.max, other.max]
    assert got is not other


def test_fp6_note_says_which_ocp_format() -> None:
    note = name_note("fp6")
    assert note is not None and "e2m3fn" in note and "e3m2fn" in note
    assert _note_max(note, "e3m2fn") == get_format("e3m2fn").max == 28


@pytest.mark.parametrize("name", ["e4m3fn", "fp8", "fp4", "e2m1fn", "bf16", "fp6_e2m3"])
def test_no_note_for_unambiguous_names(name: str) -> None:
    assert name_note(name) is None
    code, _, err = run("encode", "1", "--as", name)
    assert code == 0 and err == ""


def test_encode_448_as_E4M3_warns_once_and_still_answers() -> None:
    code, out, err = run("encode", "448", "240", "--as", "E4M3")
    # the IEEE-like e4m3: 448 overflows to inf (0x78), 240 is its max (0x77); ml_dtypes agrees
    want = [int(np.array(v, np.float32).astype(ml_dtypes.float8_e4m3).view(np.uint8))
            for v in (448, 240)]
    assert code == 0 and out.split() == [f"0x{c:02x}" for c in want]
    assert err.count("\n") == 1 and err.startswith("precli: note: ") and "e4m3fn" in err


@pytest.mark.parametrize("args", [
    ("decode", "0x7", "--from", "e2m1"), ("info", "e2m1", "e2m1", "--output", "json"),
    ("encode", "1", "--as", "e2m1", "--output", "csv"),
])  # fmt: skip
def test_note_printed_once_per_run(args: tuple[str, ...]) -> None:
    code, _, err = run(*args)
    assert code == 0 and err.count("precli: note:") == 1 and "e2m1fn" in err


# ------------------------------------------------------------------ suggestions


@pytest.mark.parametrize("args,want", [
    (("info", "fp61"), "fp6"), (("encode", "1", "--as", "fp61"), "fp6"),
    (("decode", "0x1", "--from", "fp61"), "fp6"), (("encode", "1", "--as", "mxfp3"), "mxfp4"),
    (("info", "nvfp5"), "nvfp4"), (("decode", "0x1", "--from", "torch.bfloat61"), "bfloat16"),
])  # fmt: skip
def test_unknown_names_get_suggestions_including_block_formats(
    args: tuple[str, ...], want: str
) -> None:
    code, out, err = run(*args)
    assert code == 2 and out == ""
    assert err.startswith("precli: error: unknown") and "did you mean" in err and want in err
    assert err.count("\n") == 1


# ------------------------------------------------------------------ info lists block formats


def test_info_table_has_a_second_table_of_block_formats() -> None:
    from precli.core.formats import block_formats

    code, out, _ = run("info", "--output", "table")
    assert code == 0
    head, tail = out.split("block-scaled formats", 1)
    assert "fp16" in head and "e2m1fn" in head
    for b in block_formats():
        assert re.search(rf"^ {b.name} ", tail, re.M), b.name
    assert "nvfp4" not in head


def test_info_blocks_records_and_plain_info_unchanged() -> None:
    import json

    from precli.core.formats import block_formats, effective_bits
    from precli.core.values import BLOCK_KEYS

    code, out, _ = run("info", "--blocks", "--output", "json")
    recs = json.loads(out)
    assert code == 0 and [r["name"] for r in recs] == [b.name for b in block_formats()]
    assert all(list(r) == list(BLOCK_KEYS) and r["kind"] in ("mx", "nvfp4") for r in recs)
    # bits per value by hand: element bits + scale bits / block size
    by = {r["name"]: r for r in recs}
    assert by["mxfp4"]["effective_bits"] == 4 + 8 / 32 == effective_bits(block_formats()[4])
    assert by["nvfp4"]["effective_bits"] == 4 + 8 / 16
    code, out, _ = run("info", "--output", "json")
    assert {r["name"] for r in json.loads(out)} == {f.name for f in builtin_formats()}
    code, out, _ = run("info", "--blocks", "--output", "csv")
    assert code == 0 and out.splitlines()[0] == ",".join(BLOCK_KEYS)
    assert len(out.splitlines()) == 1 + len(block_formats())
    code, _, err = run("info", "fp16", "--blocks")
    assert code == 2 and "--blocks" in err


@pytest.mark.parametrize("width", ["60", "80", "120"])
def test_block_table_fits_the_terminal(width: str) -> None:
    r = runner.invoke(app, ["info", "--blocks", "--output", "table"],
                      env={**ENV, "COLUMNS": width})
    assert r.exit_code == 0
    assert max(len(line.rstrip()) for line in r.stdout.splitlines()) <= int(width)
    assert "mxfp6_e2m3" in r.stdout


# ------------------------------------------------------------------ completions and help


def _complete(words: str, cword: int) -> list[str]:
    import os
    import subprocess
    import sys

    env = {**os.environ, "_PRECLI_COMPLETE": "complete_bash", "COMP_WORDS": words,
           "COMP_CWORD": str(cword)}
    code = "import sys; sys.argv[0] = 'precli'; from precli.cli.app import main; main()"
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=60)
    return p.stdout.split()


def test_completions_offer_block_formats_and_option_values() -> None:
    from precli.array.intquant import GRANULARITIES, SCHEMES

    assert {"mxfp4", "mxfp6", "mxfp6_e2m3"} <= set(_complete("precli encode 1 --as mxfp", 4))
    assert "nvfp4" in _complete("precli info nv", 2)
    assert _complete("precli decode --from mxfp", 3) == []  # decode takes element formats
    assert _complete("precli compare x --scheme ", 4) == list(SCHEMES)
    assert _complete("precli compare x --granularity ", 4) == list(GRANULARITIES)
    assert _complete("precli encode 1 --round ne", 4) == ["nearest-even", "nearest-away"]
    assert set(_complete("precli encode 1 --output ", 4)) == {
        "table", "json", "csv", "plain", "ndjson", "raw"}
    assert "packed" in _complete("precli decode - --input-format ", 4)


@pytest.mark.parametrize("cmd", ["info", "encode", "decode", "compare", "plan"])
def test_every_subcommand_help_ends_with_examples(cmd: str) -> None:
    code, out, _ = run(cmd, "--help")
    assert code == 0
    tail = out[out.rindex("Examples:"):]
    lines = [ln.strip() for ln in tail.splitlines()[1:] if ln.strip()]
    assert 2 <= len(lines) <= 3 and all(ln.startswith(("precli ", "seq ")) for ln in lines)
    assert "<str>" not in out and " TEXT " not in out
