"""Hostile checkpoints of the issue 18 audit: each gives one error line naming the file and
the tensor, exit 1, and the healthy tensors still reported (or a correct answer), in
bounded memory and time."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from precli.sources import CheckpointError, open_checkpoint

PRECLI = [sys.executable, "-m", "precli"]
MIB = 1 << 20


def env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}


def sh(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*PRECLI, *args], input=b"", capture_output=True, env=env(),
                          timeout=timeout)


def error_lines(err: bytes) -> list[str]:
    lines = err.decode().splitlines()
    for line in lines:
        assert line.startswith("precli: error: "), lines
        assert "Traceback" not in line and "internal error" not in line, lines
    return lines


def npy_header(shape: tuple[int, ...], descr: str = "<f4", fortran: bool = False) -> bytes:
    """A version 1.0 .npy header declaring ``shape`` (no data)."""
    h = repr({"descr": descr, "fortran_order": fortran, "shape": shape}).encode()
    h += b" " * ((64 - (10 + len(h) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h


def npy_bytes(a: np.ndarray) -> bytes:
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


OK = np.arange(6, dtype=np.float32)


def write_npz(path: Path, members: list[tuple[str, bytes]], compress: bool = True) -> None:
    import warnings

    how = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of a duplicate name
        with zipfile.ZipFile(path, "w", how) as z:
            for name, data in members:
                z.writestr(name, data)


def names_in(out: bytes) -> list[str]:
    return [json.loads(x)["tensor"] for x in out.splitlines()
            if json.loads(x).get("tensor") is not None]


# ------------------------------------------------------------------ npz (items 2, 9-12)


@pytest.mark.parametrize("shape", [(10**9, 2), (10**12,)])
@pytest.mark.parametrize("compress", [True, False])
def test_npz_member_declaring_more_values_than_it_holds(tmp_path: Path,
                                                        shape: tuple[int, ...],
                                                        compress: bool) -> None:
    """Audit items 2 and 11: a few hundred bytes declaring 2e9 / 1e12 values allocated
    them (MemoryError after 17 s and 5 GB); now refused from the zip's sizes alone."""
    p = tmp_path / "m.npz"
    write_npz(p, [("ok.npy", npy_bytes(OK)), ("big.npy", npy_header(shape) + bytes(40))],
              compress)
    ck = open_checkpoint(str(p))
    assert [t.name for t in ck.tensors()] == ["ok"]
    n = 1
    for d in shape:
        n *= d
    assert [str(e) for e in ck.errors] == [
        f"{p}: tensor 'big': member holds 40 bytes of data but shape {list(shape)} of "
        f"float32 declares {n:,} values ({4 * n:,} bytes)"]
    r = sh(["compare", str(p), "--small", "-F", "bf16", "-o", "ndjson"], timeout=60)
    assert r.returncode == 1 and names_in(r.stdout) == ["ok"]
    assert len(error_lines(r.stderr)) == 1 and "tensor 'big'" in r.stderr.decode()


def test_npz_name_twice_is_a_named_error(tmp_path: Path) -> None:
    """Audit item 9: two members called a.npy listed as two tensors 'a' (one silently
    lost, and an internal reshape error in compare)."""
    p = tmp_path / "d.npz"
    write_npz(p, [("a.npy", npy_bytes(OK)), ("b.npy", npy_bytes(OK)),
                  ("a.npy", npy_bytes(np.ones(3, np.float32)))])
    ck = open_checkpoint(str(p))
    assert [t.name for t in ck.tensors()] == ["b"]
    assert [str(e) for e in ck.errors] == [
        f"{p}: tensor 'a': member name appears 2 times in the archive: which one is the "
        "tensor is ambiguous (numpy's np.load takes the last); none is read"]
    for cmd in (["compare", str(p), "--small", "-F", "bf16"], ["check", str(p)]):
        r = sh([*cmd, "-o", "ndjson"])
        assert r.returncode == 1 and "tensor 'a'" in error_lines(r.stderr)[0]


def raw_zip(path: Path, members: list[tuple[str, bytes, bytes]]) -> None:
    """A zip of (name, data, deflate stream of data) members, written by hand so that the
    stream can be damaged on purpose."""
    out, central = bytearray(), bytearray()
    for name, data, comp in members:
        crc, nb, off = zlib.crc32(data), name.encode(), len(out)
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(comp),
                           len(data), len(nb), 0) + nb + comp
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc,
                               len(comp), len(data), len(nb), 0, 0, 0, 0, 0, off) + nb
    n = len(members)
    path.write_bytes(bytes(out + central) + struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, n, n, len(central), len(out), 0))


def corrupt_deflate(tmp_path: Path) -> Path:
    """A compressed member whose deflate stream holds an invalid block type halfway
    through its data (the header inflates fine)."""
    p = tmp_path / "z.npz"
    ok = npy_bytes(OK)
    bad = npy_bytes(np.random.default_rng(0).integers(0, 16, 200_000).astype(np.float32))
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    half = len(bad) // 2
    first = c.compress(bad[:half]) + c.flush(zlib.Z_FULL_FLUSH)  # ends on a byte boundary
    rest = c.compress(bad[half:]) + c.flush()
    raw_zip(p, [("ok.npy", ok, zlib.compress(ok)[2:-4]),
                ("bad.npy", bad, first + b"\x07" + rest[1:])])  # BTYPE 11: invalid
    return p


def test_npz_corrupt_deflate_stream_is_a_named_error(tmp_path: Path) -> None:
    """Audit item 10: an internal zlib error; now the member is named, the rest reported."""
    p = corrupt_deflate(tmp_path)
    ck = open_checkpoint(str(p))
    ts = {t.name: t for t in ck.tensors()}
    assert ts["ok"].read().tolist() == OK.tolist()
    with pytest.raises(CheckpointError) as ei:
        ts["bad"].read()
    assert str(ei.value) == (f"{p}: tensor 'bad': cannot decompress (Error -3 while "
                             "decompressing data: invalid block type)")
    for cmd in (["compare", str(p), "--small", "-F", "bf16"], ["check", str(p)],
                ["diff", str(p), str(p)]):
        r = sh([*cmd, "-o", "ndjson"])
        lines = error_lines(r.stderr)
        assert r.returncode == 1 and lines, (cmd, r.stderr)
        assert all(f"{p}: tensor 'bad': cannot decompress (" in x for x in lines), lines
        assert "invalid block type" in lines[0]


def test_npz_compressed_member_streams_exactly(tmp_path: Path) -> None:
    """Reads of a compressed member in any order give the stored values (forward reads
    inflate on, a backward read starts the stream over)."""
    p = tmp_path / "c.npz"
    a = np.random.default_rng(3).standard_normal(50_000).astype(">f4")
    np.savez_compressed(p, a=a, b=np.arange(10, dtype=np.int16))
    ta, tb = open_checkpoint(str(p)).tensors()
    want = a.astype(np.float32)
    for s, e in [(0, 10), (10, 30_000), (40_000, 50_000), (5, 7), (0, 50_000), (7, 7)]:
        np.testing.assert_array_equal(ta.read(s, e), want[s:e])
        assert tb.read(2, 5).tolist() == [2, 3, 4]  # another member in between


def bomb(path: Path, nbytes: int) -> None:
    """A compressed member of ``nbytes`` zeros (float32) in a ~2 MB file, written cheaply."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("ok.npy", npy_bytes(OK))
        with z.open("bomb.npy", "w", force_zip64=True) as f:
            f.write(npy_header((nbytes // 4,)))
            blk = bytes(16 * MIB)
            for _ in range(nbytes // len(blk)):
                f.write(blk)
            f.write(bytes(nbytes % len(blk)))


# Peak RSS of the precli process alone: VmHWM belongs to the process's own memory map,
# which exec replaces (getrusage's ru_maxrss keeps the parent's peak across vfork + exec).
RSS = ("import sys\n"
       "from precli.cli.app import main\n"
       "sys.argv = ['precli', *sys.argv[1:]]\n"
       "try:\n"
       "    main()\n"
       "except SystemExit as e:\n"
       "    code = e.code\n"
       "hwm = [x for x in open('/proc/self/status') if x.startswith('VmHWM:')][0]\n"
       "print('maxrss', hwm.split()[1], file=sys.stderr)\n"
       "sys.exit(code)\n")


def test_npz_bomb_streams_in_bounded_memory(tmp_path: Path) -> None:
    """Audit item 12: 400 MB inflated from 2 MB was inflated whole (431 MB peak RSS); it
    is now read through the zip stream a chunk at a time."""
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs /proc for the peak RSS of one process")
    p = tmp_path / "bomb.npz"
    bomb(p, 400_000_000)
    r = subprocess.run([sys.executable, "-c", RSS, "compare", str(p), "--small", "-F", "bf16", "-o",
                        "ndjson"], capture_output=True, env=env(), timeout=300)
    assert r.returncode == 0, r.stderr
    recs = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["params"] for x in recs if x.get("tensor") == "bomb"] == [100_000_000]
    kb = int(r.stderr.decode().split("maxrss")[-1])
    assert kb * 1024 < 300 * MIB, kb / 1024


# ------------------------------------------------------------------ quantized layouts


CMDS = [["compare", "--small", "-F", "bf16"], ["check"], ["diff", "SELF"],
        ["plan", "-F", "bf16,int8:channel", "--bits", "16"]]


def run_all(p: Path) -> list[tuple[int, list[str], bytes]]:
    """(exit status, error lines, stdout) of compare, check, diff and plan on ``p``."""
    out = []
    for cmd in CMDS:
        args = [str(p) if a == "SELF" else a for a in cmd]
        r = sh([args[0], str(p), *args[1:], "-o", "csv" if cmd[0] == "plan" else "ndjson"])
        out.append((r.returncode, error_lines(r.stderr), r.stdout))
    return out


PLAIN = ("F32", [4], np.ones(4, "<f4").tobytes())


@pytest.mark.parametrize("family", ["awq", "gpt-oss"])
def test_a_quantized_family_beside_a_plain_tensor_of_its_name(tmp_path: Path,
                                                              family: str) -> None:
    """Audit item 9: the logical tensor and the plain tensor were two records of one name
    with the same figures (one tensor silently missing). Now a named error, the family read
    as its raw tensors and the plain tensor as itself."""
    import quant_fixtures as qf

    rng = np.random.default_rng(0)
    if family == "awq":
        ents, _ = qf.int4_groups(rng, 128, 16, 32, "awq")
        name, dtype = "l.weight", "INT4-group32 (AWQ)"
    else:
        ents, _ = qf.gpt_oss(rng, (2,), 2, prefix="e.w")
        name, dtype = "e.w", "MXFP4 (gpt-oss)"
    p = qf.write_st(tmp_path / "m.safetensors", [*ents, (name, *PLAIN)])
    ck = open_checkpoint(str(p))
    assert sorted(t.name for t in ck.tensors()) == sorted([e[0] for e in ents] + [name])
    raws = ", ".join(repr(e[0]) for e in ents)
    assert [str(e) for e in ck.errors] == [
        f"{p}: tensor '{name}': is a stored tensor's name and the logical name of the "
        f"{dtype} family {raws}: the family is reported as its raw tensors"]
    for status, errs, _ in run_all(p):
        assert status == 1 and len(errs) >= 1 and f"tensor '{name}'" in errs[0]
    r = sh(["compare", str(p), "--small", "-F", "bf16", "-o", "ndjson"])
    assert names_in(r.stdout).count(name) == 1


def test_two_quantized_families_of_one_logical_name(tmp_path: Path) -> None:
    import quant_fixtures as qf

    rng = np.random.default_rng(1)
    awq, _ = qf.int4_groups(rng, 128, 16, 32, "awq", prefix="l.")
    oss, _ = qf.gpt_oss(rng, (2,), 2, prefix="l.weight")
    p = qf.write_st(tmp_path / "m.safetensors", [*awq, *oss])
    ck = open_checkpoint(str(p))
    assert len(ck.errors) == 1 and "another quantized family's name" in str(ck.errors[0])
    assert len({t.name for t in ck.tensors()}) == len(list(ck.tensors()))


def test_awq_groups_are_checked_even_beside_a_g_idx(tmp_path: Path) -> None:
    """Audit item 15: 3 scale groups for K = 128 and a stray g_idx skipped the group check
    (internal IndexError in compare, check, diff and plan)."""
    import quant_fixtures as qf

    rng = np.random.default_rng(2)
    k, n = 128, 16
    p = qf.write_st(tmp_path / "m.safetensors", [
        ("l.qweight", "I32", [k, n // 8], rng.integers(0, 2**31, (k, n // 8)).astype("<i4")
         .tobytes()),
        ("l.qzeros", "I32", [3, n // 8], rng.integers(0, 2**31, (3, 2)).astype("<i4")
         .tobytes()),
        ("l.scales", "F16", [3, n], np.full((3, n), 0.01, "<f2").tobytes()),
        ("l.g_idx", "I32", [k], (np.arange(k) // 43).astype("<i4").tobytes()),
        ("ok", *PLAIN)])
    ck = open_checkpoint(str(p))
    assert [str(e) for e in ck.errors] == [
        f"{p}: tensor 'l.qweight': expected 128 input rows in groups of 42 (4 groups); found "
        "3 groups of scales"]
    assert type(ck.errors[0]).__name__ == "LayoutError"
    for (status, errs, out), cmd in zip(run_all(p), CMDS, strict=True):
        assert status == 1, cmd
        assert errs or b'"tensor": "l.qweight", "check": "shape"' in out, (cmd, out)
        assert "IndexError" not in out.decode()


def test_compressed_tensors_negative_weight_shape(tmp_path: Path) -> None:
    """Audit item 16: weight_shape [8, -1] beside an empty packed tensor was an internal
    error in compare / check and `diff` exited 0 reporting -8 params."""
    import quant_fixtures as qf

    p = qf.write_st(tmp_path / "m.safetensors", [
        ("l.weight_packed", "I32", [8, 0], b""),
        ("l.weight_scale", "F16", [8, 1], np.ones(8, "<f2").tobytes()),
        ("l.weight_shape", "I64", [2], np.array([8, -1], "<i8").tobytes()),
        ("ok", *PLAIN)])
    ck = open_checkpoint(str(p))
    assert [str(e) for e in ck.errors] == [
        f"{p}: tensor 'l.weight_shape': expected weight_shape of two non-negative integers; "
        "found [8, -1]"]
    assert all(t.numel >= 0 for t in ck.tensors())
    for (status, errs, out), cmd in zip(run_all(p), CMDS, strict=True):
        assert status == 1, cmd
        assert errs or b'"check": "layout", "expected": "weight_shape of two non-negative' \
            in out, (cmd, out)
        assert b"-8" not in out


def test_fp8_block_size_out_of_range_in_config(tmp_path: Path) -> None:
    """Audit item 17: weight_block_size [2**40, 2**40] was accepted by compare and a usage
    error naming no file in check (exit 2); now a named error (exit 1) in every command."""
    import quant_fixtures as qf

    ents, _ = qf.deepseek(np.random.default_rng(3), 4, 4)
    p = qf.write_st(tmp_path / "m.safetensors", [*ents, ("ok", *PLAIN)])
    (tmp_path / "config.json").write_text(json.dumps(
        {"quantization_config": {"quant_method": "fp8", "weight_block_size": [2**40, 2**40]}}))
    ck = open_checkpoint(str(p))
    assert [str(e) for e in ck.errors] == [
        f"{p}: tensor 'l.weight': expected a weight_block_size (config.json) of two integers "
        "in [1, 65,536], at most 4,194,304 values a block; found [1099511627776, "
        "1099511627776]"]
    for (status, errs, out), cmd in zip(run_all(p), CMDS, strict=True):
        assert status == 1, cmd
        assert any(str(p) in e for e in errs) or b"weight_block_size" in out, (cmd, errs)


# ------------------------------------------------------------------ user patterns (item 22)


def long_name_file(tmp_path: Path) -> Path:
    import quant_fixtures as qf

    return qf.write_st(tmp_path / "m.safetensors", [("a" * 50_000 + "!", *PLAIN),
                                                    ("w", *PLAIN)])


@pytest.mark.parametrize("args", [
    ["compare", "-F", "bf16", "--tensors", "(a+)+$"],
    ["compare", "-F", "bf16", "--exclude", "(a|aa)*$"],
    ["check", "--tensors", "(a*)*$"],
    ["diff", "SELF", "--tensors", r"(\w+\.)*$"],
    ["plan", "-F", "bf16,int8:channel", "--bits", "16", "--keep", "(a+)+$=bf16"],
])
def test_a_catastrophic_pattern_is_refused_at_once(tmp_path: Path, args: list[str]) -> None:
    """Audit item 22: `--tensors '(a+)+$'` on a long tensor name ran past 30 s (exponential
    backtracking, and re has no time limit). Refused from the pattern's shape before any
    name is matched; the timeout is the proof (it would take longer than the universe)."""
    p = long_name_file(tmp_path)
    args = [str(p) if a == "SELF" else a for a in args]
    r = subprocess.run([*PRECLI, args[0], str(p), *args[1:]], capture_output=True, env=env(),
                       timeout=60)
    assert r.returncode == 2 and r.stdout == b""
    (line,) = error_lines(r.stderr)
    assert "repeats a group that holds a repeat or an alternation of its own" in line


def test_patterns_that_are_fine_are_not_refused(tmp_path: Path) -> None:
    from precli.errors import UsageError
    from precli.model.pool import name_pattern

    for ok in [r"layers\.0\.", r"(q|k|v)_proj", r"(\d+)?\.weight$", r"(a++)+$", r"(?>a+)+$",
               r"[\w.]+$", r"(ab){3}", r"lm_head|embed", r"(?:\.\d+){2}$"]:
        name_pattern(ok, "include")
    for bad in [r"(a+)+$", r"(a*)*", r"(a|ab)*", r"(\w+\.)*x", r"(?:(?:a)+b?)+", r"(a{1,3})+",
                r"(?=(a+)+)"]:
        with pytest.raises(UsageError):
            name_pattern(bad, "include")
    p = long_name_file(tmp_path)
    r = sh(["compare", str(p), "--small", "-F", "bf16", "--tensors", r"(a++)+!$", "-o", "ndjson"],
           timeout=60)
    assert r.returncode == 0 and names_in(r.stdout) == ["a" * 50_000 + "!"]


# ------------------------------------------------------------------ names in output (21)


HOSTILE = "x\x1b[2J\nfake: line"


@pytest.mark.parametrize("cmd", [["compare", "--small", "-F", "bf16", "--all"], ["check"],
                                 ["diff", "SELF"],
                                 ["plan", "-F", "bf16,int8:channel", "--bits", "16"]])
@pytest.mark.parametrize("mode", ["plain", "table", "csv"])
def test_names_are_escaped_in_every_output(tmp_path: Path, cmd: list[str], mode: str) -> None:
    """Audit item 21: a tensor name holding ESC codes and a newline reached plain, table and
    csv output raw (clearing the screen), and in plain output forged a line."""
    import quant_fixtures as qf

    ents, _ = qf.deepseek(np.random.default_rng(0), 4, 4, prefix=HOSTILE + ".")
    ents = [(n, d, s, b"\x7f" + r[1:] if d == "F8_E4M3" else r) for n, d, s, r in ents]
    p = qf.write_st(tmp_path / "m.safetensors", [*ents, (HOSTILE, "F32", [2, 4],
                                                          np.arange(8, dtype="<f4").tobytes())])
    args = [str(p) if a == "SELF" else a for a in cmd]
    r = subprocess.run([*PRECLI, args[0], str(p), *args[1:], "-o", mode], capture_output=True,
                       env={**env(), "COLUMNS": "200"}, timeout=120)
    out = r.stdout.decode()
    assert r.returncode in (0, 1), r.stderr
    assert "\x1b" not in out and "\x1b" not in r.stderr.decode()
    assert not any(line.startswith("fake: line") for line in out.splitlines())
    assert "x\\x1b[2J\\x0afake: line" in out  # shown, escaped
    if mode == "csv":
        import csv

        rows = list(csv.reader(io.StringIO(out)))
        assert all("\n" not in cell for row in rows for cell in row)
    r = sh([args[0], str(p), *args[1:], "-o", "ndjson" if cmd[0] != "plan" else "json"])
    assert HOSTILE in r.stdout.decode("utf-8").replace("\\u001b", "\x1b").replace("\\n", "\n")


def test_escape_controls_matches_the_yaml_emitter() -> None:
    from precli.core.exact import escape_controls
    from precli.model.plan import yaml_scalar

    assert escape_controls("model.layers.0.mlp.weight") == "model.layers.0.mlp.weight"
    assert escape_controls("a\tb\x7f\x85\u2028é\\x") == "a\\x09b\\x7f\\x85\\u2028é\\x"
    assert yaml_scalar(HOSTILE) == '"x\\x1b[2J\\x0afake: line"'
    assert yaml_scalar('a"b\\c') == '"a\\"b\\\\c"'


# ------------------------------------------------------------------ empty tensors (item 1)


HUGE = 2**62


def empty_files(tmp_path: Path) -> dict[str, Path]:
    """The same spec-valid zero-element tensors, (2**62, 0) and (0, 2**62), beside a
    healthy one, in each kind."""
    import quant_fixtures as qf

    out = {"safetensors": qf.write_st(tmp_path / "m.safetensors", [
        ("z", "F32", [HUGE, 0], b""), ("z2", "BF16", [0, HUGE], b""),
        ("z4", "F4", [HUGE, 0], b""), ("w", *PLAIN)])}
    for order in (False, True):  # C and Fortran order
        (tmp_path / f"z{order}.npy").write_bytes(npy_header((HUGE, 0), fortran=order))
    out["npy"] = tmp_path / "zFalse.npy"
    out["npy-fortran"] = tmp_path / "zTrue.npy"
    for compress in (True, False):
        p = tmp_path / f"m{int(compress)}.npz"
        write_npz(p, [("z.npy", npy_header((HUGE, 0))), ("z2.npy", npy_header((0, HUGE))),
                      ("f.npy", (tmp_path / "zTrue.npy").read_bytes()),
                      ("w.npy", npy_bytes(OK))], compress)
        out[f"npz-{compress}"] = p
    from onnx import TensorProto, helper, save

    g = helper.make_graph([], "g", [], [], initializer=[
        helper.make_tensor("z", TensorProto.FLOAT, [HUGE, 0], vals=b"", raw=True),
        helper.make_tensor("z2", TensorProto.FLOAT16, [0, HUGE], vals=b"", raw=True),
        helper.make_tensor("zi", TensorProto.FLOAT, [HUGE, 0], vals=[]),
        helper.make_tensor("w", TensorProto.FLOAT, [2], vals=[1.0, 2.0])])
    save(helper.make_model(g), str(tmp_path / "m.onnx"))
    out["onnx"] = tmp_path / "m.onnx"
    return out


def test_zero_element_tensors_with_a_huge_dimension_read_empty(tmp_path: Path) -> None:
    """Audit item 1 (readers): shape [2**62, 0] is spec-valid and holds nothing; every
    reader lists it with its shape and reads it as empty, allocating nothing (numpy's own
    .npy loader refused it as too big)."""
    for kind, p in empty_files(tmp_path).items():
        ck = open_checkpoint(str(p))
        assert ck.errors == [], kind
        ts = list(ck.tensors())
        empty = [t for t in ts if t.numel == 0]
        assert empty and all(HUGE in t.shape and 0 in t.shape for t in empty), kind
        for t in empty:
            assert t.nbytes == 0 and t.read().shape == (0,) and list(t.chunks()) == [], kind
        if kind != "npy" and kind != "npy-fortran":
            assert [t.read().tolist() for t in ts if t.numel] in ([OK.tolist()],
                                                                  [[1.0] * 4], [[1.0, 2.0]])
        small = [] if kind.startswith("npy") else ["--small"]  # (one array: no --small)
        r = sh(["compare", str(p), *small, "-F", "bf16", "-o", "ndjson"], timeout=60)
        assert r.returncode == 0 and r.stderr == b"", (kind, r.stderr)
        r = sh(["diff", str(p), str(p), "-o", "ndjson"], timeout=60)
        assert r.returncode == 0 and r.stderr == b"", (kind, r.stderr)


def test_an_empty_npy_with_a_huge_dimension_as_an_array(tmp_path: Path) -> None:
    """compare / encode of the .npy itself (the array reader): no values, exit 0."""
    p = empty_files(tmp_path)["npy"]
    for args in (["compare", str(p), "-F", "bf16,int8:channel", "-o", "ndjson"],
                 ["encode", "--input", str(p), "--as", "bf16"]):
        r = sh(args, timeout=60)
        assert r.returncode == 0 and r.stderr == b"", (args, r.stderr)


def test_interleaved_readers_of_one_member_each_keep_a_stream(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """`diff a.npz a.npz` reads a chunk of one member through two tensors in turn: one
    stream each, not a restart from the first byte for every chunk (quadratic: 92 s for a
    400 MB member)."""
    p = tmp_path / "c.npz"
    a = np.arange(100_000, dtype=np.float32)
    np.savez_compressed(p, a=a)
    inflated = [0]
    real = zipfile.ZipExtFile.read

    def counting(self: zipfile.ZipExtFile, n: int = -1) -> bytes:
        out = real(self, n)
        inflated[0] += len(out)
        return out

    (t1,) = open_checkpoint(str(p)).tensors()
    (t2,) = open_checkpoint(str(p)).tensors()
    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting)
    for s in range(0, 100_000, 1000):
        np.testing.assert_array_equal(t1.read(s, s + 1000), a[s:s + 1000])
        np.testing.assert_array_equal(t2.read(s, s + 1000), a[s:s + 1000])
    assert inflated[0] <= 2 * a.nbytes + 4096, inflated[0]  # each byte once per reader
