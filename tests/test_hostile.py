"""Hostile input and failing outputs (issue 11 §4, §8): nothing silently wrong, a one-line
message with a documented exit status, bounded memory and linear time.

Each case asserts the message, the exit status and the record count; peak RSS (from GNU
time, which measures the precli process alone) where memory is the point.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

PRECLI = [sys.executable, "-m", "precli"]
GNU_TIME = "/usr/bin/time"
MIB = 1 << 20


def env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}


def sh(args: list[str], stdin: bytes | None = b"", **kw: object
       ) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*PRECLI, *args], input=stdin, capture_output=True, env=env(),
                          timeout=120, **kw)  # type: ignore[call-overload, no-any-return]


def sh_rss(args: list[str], stdin_cmd: str, out: str = "/dev/null") -> tuple[int, bytes, int]:
    """Run `stdin_cmd | precli args > out` under GNU time: (exit status, stderr, peak RSS
    in bytes of precli alone)."""
    if not os.access(GNU_TIME, os.X_OK):
        pytest.skip("needs GNU time for a per-process peak RSS")
    rss = subprocess.run(["mktemp"], capture_output=True, text=True).stdout.strip()
    cmd = (f"{stdin_cmd} | {GNU_TIME} -f %M -o {rss} {' '.join(PRECLI)} "
           f"{' '.join(args)} > {out}")
    p = subprocess.run(["bash", "-c", cmd], capture_output=True, env=env(), timeout=120)
    kb = int(Path(rss).read_text().split()[-1])
    os.unlink(rss)
    return p.returncode, p.stderr, kb * 1024


def one_error_line(err: bytes) -> str:
    lines = err.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("precli: error: ")
    assert "Traceback" not in lines[0] and "internal error" not in lines[0]
    return lines[0]


# ------------------------------------------------------------------ no value split


def test_a_long_line_is_never_cut(tmp_path: Path) -> None:
    """The audit's repro: 64 MiB of spaces then 12345 printed 12 and 345."""
    f = tmp_path / "f.txt"
    f.write_bytes(b" " * (64 * MIB - 2) + b"12345\n")
    r = sh(["encode", "--as", "fp32", "--input", str(f)])
    assert r.returncode == 0 and r.stdout == b"0x4640e400\n" and r.stderr == b""


def test_a_token_over_the_cap_is_one_error_record() -> None:
    big = b"7" * (3 * MIB)
    data = b"1\n2 " + big + b" 3\n4\n"
    r = sh(["encode", "-", "--as", "bf16", "-o", "ndjson"], stdin=data)
    recs = [json.loads(x) for x in r.stdout.splitlines()]
    assert r.returncode == 1
    assert [x.get("hex") for x in recs] == ["0x3f80", "0x4000", None, "0x4040", "0x4080"]
    line = one_error_line(r.stderr)
    assert line.startswith("precli: error: line 2 ('7777") and "(3,145,728 bytes)" in line
    assert "1,048,576-byte limit" in line and len(line) < 250
    assert len(recs[2]["input"]) < 300  # the record echoes only the start too
    # the same in plain and csv, and in decode
    r = sh(["encode", "-", "--as", "bf16"], stdin=data)
    assert r.stdout.split() == [b"0x3f80", b"0x4000", b"error", b"0x4040", b"0x4080"]
    r = sh(["decode", "-", "--from", "fp16", "-o", "csv"], stdin=b"0x3c00 " + big + b" 0x0\n")
    rows = r.stdout.decode().splitlines()
    assert r.returncode == 1 and len(rows) == 4 and "limit for one value; skipped" in rows[2]


def test_a_150_mb_token_streams_in_bounded_memory() -> None:
    status, err, rss = sh_rss(["encode", "--as", "bf16"],
                              "{ echo 1; head -c 150000000 /dev/zero | tr '\\0' 9; echo; echo 2; }")
    assert status == 1
    assert "(150,000,000 bytes)" in one_error_line(err)
    assert rss < 120 * MIB, rss / MIB


def test_dev_zero_as_text_is_bounded_and_quiet() -> None:
    """NUL bytes are not whitespace: one endless token, skipped as it streams."""
    status, err, rss = sh_rss(["encode", "--as", "fp16"], "head -c 100000000 /dev/zero")
    assert status == 1 and len(err) < 450 and rss < 120 * MIB  # 60 NULs echo as \\x00


def test_a_million_digit_literal_is_decided_exactly() -> None:
    """Under the cap: decided exactly, and in linear-ish time."""
    t = time.perf_counter()
    r = sh(["encode", "-", "--as", "fp32"], stdin=b"1." + b"3" * 999_990 + b"\n")
    assert r.returncode == 0 and r.stdout == b"0x3faaaaab\n"
    r = sh(["encode", "-", "--as", "fp16", "-o", "json"],
           stdin=b"0." + b"0" * 500_000 + b"1\n")
    assert json.loads(r.stdout)[0]["flags"] == ["inexact", "underflow"]
    assert time.perf_counter() - t < 30


# ------------------------------------------------------------------ linear time


def test_crlf_and_many_values_a_line_with_a_bad_value_are_linear() -> None:
    data = b"1.5\r\n" * 300_000 + b"bad\r\n" + b"2 3 4 5\r\n" * 100_000
    t = time.perf_counter()
    r = sh(["encode", "-", "--as", "fp16"], stdin=data)
    dt = time.perf_counter() - t
    assert r.returncode == 1 and len(r.stdout.split()) == 300_000 + 1 + 400_000
    assert one_error_line(r.stderr) == \
        "precli: error: line 300001 ('bad'): not a number: 'bad'"
    assert dt < 20, dt  # was quadratic: minutes


def test_a_line_without_newline_is_linear() -> None:
    data = b"1.5 " * (4 * MIB // 4) + b"zz"
    t = time.perf_counter()
    r = sh(["encode", "-", "--as", "bf16"], stdin=data)
    assert r.returncode == 1 and len(r.stdout.split()) == MIB + 1
    assert "line 1 ('zz')" in one_error_line(r.stderr)
    assert time.perf_counter() - t < 20


# ------------------------------------------------------------------ messages


def test_bad_text_is_echoed_truncated() -> None:
    bad = "x" * 100_000
    r = sh(["encode", "-", "--as", "fp16"], stdin=bad.encode() + b"\n")
    line = one_error_line(r.stderr)
    assert r.returncode == 1 and len(line) < 300 and "(100,000 characters)" in line
    r = sh(["encode", bad, "--as", "fp16"])
    assert r.returncode == 1 and len(one_error_line(r.stderr)) < 300
    r = sh(["decode", "0x" + "f" * 10_000, "--from", "fp16"])
    assert r.returncode == 1 and len(one_error_line(r.stderr)) < 400


# ------------------------------------------------------------------ outputs that fail


@pytest.mark.parametrize("mode", ["plain", "json", "ndjson", "csv", "table", "raw"])
def test_full_disk_is_reported(mode: str) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "wb") as full:
        r = subprocess.run([*PRECLI, "encode", "-", "--as", "fp16", "-o", mode],
                           input=b"1\n2\n", stdout=full, stderr=subprocess.PIPE, env=env(),
                           timeout=60)
    assert r.returncode == 1
    assert one_error_line(r.stderr) == \
        "precli: error: cannot write output: No space left on device"


def test_full_disk_with_arguments_and_info() -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    for args in (["encode", "1", "--as", "fp16", "-o", "json"], ["info", "fp16"],
                 ["decode", "0x3c00", "--from", "fp16"]):
        with open("/dev/full", "wb") as full:
            r = subprocess.run([*PRECLI, *args], stdout=full, stderr=subprocess.PIPE,
                               env=env(), timeout=60)
        assert r.returncode == 1 and b"cannot write output" in r.stderr


def test_closed_stdout_is_reported() -> None:
    r = subprocess.run(["bash", "-c", " ".join(PRECLI) + " encode 1 --as fp16 >&-"],
                       capture_output=True, env=env(), timeout=60)
    assert r.returncode == 1
    assert one_error_line(r.stderr) == "precli: error: cannot write output: stdout is closed"


CLOSED_PIPE = [
    (["encode", "-", "--as", "fp16", "-o", "table"], "seq"),
    (["encode", "-", "--as", "fp16", "-o", "plain"], "seq"),
    (["encode", "-", "--as", "fp16", "-o", "json"], "seq"),
    (["encode", "-", "--as", "fp16", "-o", "ndjson"], "seq"),
    (["encode", "-", "--as", "fp16", "-o", "csv"], "seq"),
    (["decode", "-", "--from", "fp16", "-o", "table"], "hex"),
    (["decode", "-", "--from", "fp16", "-o", "ndjson"], "hex"),
    (["decode", "-", "--from", "fp16", "-o", "plain"], "hex"),
    (["info", "-o", "table"], None),
    (["info", "--values", "e4m3fn", "-o", "csv"], None),
    (["compare", "0.1", "-o", "table"], None),
]


@pytest.mark.parametrize("args,feed", CLOSED_PIPE)
def test_a_closed_pipe_is_quiet_and_exits_0(args: list[str], feed: str | None) -> None:
    """`| head -2`, the same status in every mode and command."""
    if shutil.which("head") is None:
        pytest.skip("no head")
    src = {"seq": "seq 1 30000 |",
           "hex": "seq 1 30000 | awk '{printf \"0x%x\\n\", $1}' |",
           None: ""}[feed]
    cmd = f"{src} {' '.join(PRECLI)} {' '.join(args)} | head -2 > /dev/null; " \
          "echo ${PIPESTATUS[@]}"
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, env=env(), timeout=60)
    status = r.stdout.split()[-2]  # precli's, before head's
    assert status == b"0" and r.stderr == b"", (r.stdout, r.stderr)


# ------------------------------------------------------------------ input files


def test_npy_files_that_are_not_usable_are_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty.npy"
    empty.write_bytes(b"")
    z = tmp_path / "a.npz"
    np.savez(z, a=np.arange(3.0))
    ok = tmp_path / "ok.npy"
    np.save(ok, np.arange(100.0))
    trunc = tmp_path / "trunc.npy"
    trunc.write_bytes(ok.read_bytes()[:200])
    head = tmp_path / "head.npy"
    head.write_bytes(ok.read_bytes()[:50])
    text = tmp_path / "text.npy"
    text.write_text("hello\n")
    pick = tmp_path / "obj.npy"
    np.save(pick, np.array([1, "a"], object), allow_pickle=True)
    cases = [
        (empty, "is empty (0 bytes), not a .npy file"),
        (z, "is a .npz archive"),
        (trunc, "is truncated: its header promises 100 values (800 bytes) but 72 bytes follow"),
        (head, "damaged or truncated .npy header"),
        (text, "is not a .npy file"),
        (pick, "holds Python objects (pickled data)"),
        (tmp_path / "missing.npy", "No such file or directory"),
    ]
    for path, msg in cases:
        r = sh(["encode", "--as", "bf16", "--input", str(path), "--input-format", "npy"])
        assert r.returncode == 2 and r.stdout == b""
        assert msg in one_error_line(r.stderr), (path, r.stderr)


@pytest.mark.parametrize("dt", [">f2", ">f4", ">f8", ">i4", "<f4"])
def test_big_endian_npy_is_read(tmp_path: Path, dt: str) -> None:
    vals = np.array([1.5, -2.25, 0.1, 65504, 3e-5])
    p = tmp_path / "be.npy"
    np.save(p, vals.astype(dt) if dt[1] != "i" else np.array([1, -7, 300], dt))
    r = sh(["encode", "--as", "fp32", "--input", str(p), "--input-format", "npy"])
    native = np.load(p).astype(np.float64).astype(np.float32).view(np.uint32)
    assert r.returncode == 0
    assert r.stdout.decode().split() == [f"0x{c:08x}" for c in native.tolist()]


def test_empty_npy_array_gives_no_records(tmp_path: Path) -> None:
    p = tmp_path / "z.npy"
    np.save(p, np.zeros(0, np.float32))
    r = sh(["encode", "--as", "fp16", "--input", str(p), "--input-format", "npy", "-o", "json"])
    assert r.returncode == 0 and json.loads(r.stdout) == []


# ------------------------------------------------------------------ options


@pytest.mark.parametrize("bad", ["abc", "1e", "-1", "0", "inf"])
def test_malformed_scale_is_a_usage_error(bad: str) -> None:
    for cmd in (["encode", "1", "--as", "int8"], ["decode", "0x1", "--from", "int8"]):
        r = sh([*cmd, f"--scale={bad}"])
        assert r.returncode == 2 and r.stdout == b""
        assert one_error_line(r.stderr).startswith(
            "precli: error: --scale must be a positive finite number, got ")


def test_decode_float_with_scale_is_refused_before_reading() -> None:
    """stdin stays open and empty: the refusal cannot depend on the data."""
    p = subprocess.Popen([*PRECLI, "decode", "-", "--from", "fp16", "--scale", "2", "-o", "json"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env())
    try:
        out, err = p.communicate(timeout=30)  # communicate closes stdin only at the end
    finally:
        p.kill()
    assert p.returncode == 2 and out == b""
    assert "apply to integer formats and nf4, not fp16" in one_error_line(err)
    r = sh(["decode", "0x1", "--from", "nf4", "--zero-point", "1"])
    assert r.returncode == 2 and "--zero-point applies to integer formats" in r.stderr.decode()


# ------------------------------------------------------------------ digits


@pytest.mark.parametrize("text", ["١٢", "１２", "1٢", "١"])
def test_non_ascii_digits_are_not_numbers(text: str) -> None:
    r = sh(["encode", text, "--as", "fp16"])
    assert r.returncode == 1 and r.stdout == b"error\n"
    assert "numbers are written with ASCII digits 0-9" in one_error_line(r.stderr)
    r = sh(["encode", "-", "--as", "fp16", "-o", "ndjson"], stdin=text.encode() + b"\n1\n")
    assert r.returncode == 1 and len(r.stdout.splitlines()) == 2
    r = sh(["decode", "0x" + text, "--from", "fp16"])
    assert r.returncode == 1 and "not a code" in one_error_line(r.stderr)


# ------------------------------------------------------------------ memory


@pytest.mark.parametrize("mode", ["ndjson", "csv", "json", "plain"])
def test_record_streams_are_memory_bounded(mode: str) -> None:
    status, err, rss = sh_rss(["encode", "-", "--as", "bf16", "-o", mode],
                              "yes 0.1 | head -n 150000")
    assert status == 0 and err == b"" and rss < 150 * MIB, rss / MIB


# ------------------------------------------------------------------ the reader, in process


def test_text_batches_never_split_a_token_whatever_the_chunking() -> None:
    """Random tokens (some over a small cap) and whitespace, read in random chunk sizes:
    every token comes back whole, in order, with its line number; long ones as one
    oversize record with their length."""
    import io
    import random

    from precli.stream import batches as bulk

    class Trickle(io.RawIOBase):  # read1 returns at most `n` bytes, like a pipe
        def __init__(self, data: bytes, rng: random.Random) -> None:
            self.data, self.pos, self.rng = data, 0, rng

        def read1(self, size: int = -1) -> bytes:
            k = self.rng.randint(1, max(1, min(size, 23)))
            out = self.data[self.pos:self.pos + k]
            self.pos += len(out)
            return out

        def readable(self) -> bool:
            return True

    rng = random.Random(11)
    cap = 10
    for _ in range(200):
        toks, seps, want = [], [], []
        line = 1
        for _ in range(rng.randint(0, 30)):
            t = "".join(rng.choice("0123456789.e-") for _ in range(rng.randint(1, 25)))
            sep = rng.choice([" ", "\n", "\r\n", "\t", "  \n\n"])
            toks.append(t)
            seps.append(sep)
            want.append((t if len(t) <= cap else None, len(t), line))
            line += sep.count("\n")
        data = "".join(t + s for t, s in zip(toks, seps, strict=True)).encode()
        if rng.random() < 0.3 and data:
            data = data.rstrip()  # no final newline
        got = []
        for b in bulk.text_batches(Trickle(data, rng), chunk=rng.randint(1, 16), max_token=cap):
            for i in range(len(b)):
                if b.oversize is not None:
                    got.append((None, b.oversize[1], b.lines[i]))
                else:
                    got.append((b.text(i), len(b.text(i)), b.lines[i]))
        assert got == want


def test_what_users_type_gets_a_useful_answer(tmp_path: Path) -> None:
    # decode given a decimal: it looks like a value, so say so and point to encode
    r = sh(["decode", "-", "--from", "fp16"], b"0.1\n")
    assert r.returncode == 1 and "looks like a value" in r.stderr.decode()
    assert "precli encode 0.1" in r.stderr.decode()
    # a UTF-8 byte order mark and CRLF line ends, as editors write them
    r = sh(["encode", "-", "--as", "fp16"], b"\xef\xbb\xbf1.5\r\n2\r\n")
    assert r.returncode == 0 and r.stdout.split() == [b"0x3e00", b"0x4000"]
    # a file name given as a value hints at --input
    npy = tmp_path / "small.npy"
    np.save(npy, np.array([1.5], np.float32))
    r = sh(["encode", str(npy), "--as", "fp16"])
    assert r.returncode == 1 and f"use --input {npy}" in r.stderr.decode()
    # --input of a .npy is read as .npy by its magic bytes, whatever --input-format says
    r = sh(["encode", "--input", str(npy), "--as", "fp16"])
    assert r.returncode == 0 and r.stdout.split() == [b"0x3e00"]


def test_decode_of_a_truncated_npy_is_one_usage_error(tmp_path: Path) -> None:
    """It was `internal error: ValueError: mmap length is greater than file size`."""
    p = tmp_path / "t.npy"
    np.save(p, np.arange(100, dtype=np.uint16))
    p.write_bytes(p.read_bytes()[:-10])
    r = sh(["decode", "--input", str(p), "--input-format", "npy", "--from", "bf16"])
    err = r.stderr.decode()
    assert r.returncode == 2 and r.stdout == b""
    assert err.count("\n") == 1 and "internal error" not in err and "cannot read" in err


@pytest.mark.parametrize("args", [["encode", "1", "--as"], ["encode", "-3", "--as"],
                                  ["decode", "0x3c00", "--from"]])
def test_an_option_missing_its_value_says_so(args: list[str]) -> None:
    """`encode 1 --as` took the `--` before the values as the format's name."""
    r = sh(args)
    opt = args[-1]
    assert r.returncode == 2
    assert r.stderr.decode() == (f"precli: error: Option '{opt}' requires an argument. "
                                 f"(see 'precli {args[0]} --help')\n")


def test_compare_names_a_format_once_in_its_error() -> None:
    r = sh(["compare", "nan", "-F", "fp4,fp16", "-o", "json"])
    assert r.returncode == 1
    assert r.stderr.decode() == "precli: error: 'nan': e2m1fn has no NaN: cannot encode nan\n"


def test_a_fifo_named_like_a_checkpoint_is_refused_not_waited_on(tmp_path: Path) -> None:
    """open() on a FIFO blocks until a writer comes: `check` used to hang forever."""
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    r = sh(["check", str(fifo)])
    assert r.returncode == 1
    assert r.stderr.decode() == (f"precli: error: {fifo}: is not a regular file (a FIFO, "
                                 "device or socket): checkpoints are memory-mapped files\n")


def test_jobs_far_past_the_cores_give_the_same_results(tmp_path: Path) -> None:
    """`--jobs 100000` forked every worker up front (killed at 30 s); workers are now
    capped by the work and the cores, and results do not depend on --jobs."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(7)
    save_file({f"w{i}": rng.standard_normal((64, 48)).astype(np.float32) for i in range(3)},
              str(tmp_path / "m.safetensors"))
    outs = []
    for jobs in ("1", "100000"):
        r = sh(["compare", str(tmp_path / "m.safetensors"), "-F", "bf16,int4:group16",
                "-o", "ndjson", "--jobs", jobs])
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout)
    assert outs[0] == outs[1] and outs[0].count(b"\n") >= 4
