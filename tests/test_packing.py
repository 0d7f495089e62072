"""Outputs a deployment can use (issue 11 §7): tf32 containers, packed sub-byte codes,
binary and .npy code input, ml_dtypes' opaque .npy, block-format raw layout.

Oracles: ml_dtypes casts from float32 (no double rounding), numpy bit views, and bytes
packed by hand in this file (ONNX / PyTorch: first element in the least significant bits).
"""

from __future__ import annotations

import struct
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from typer.testing import CliRunner

from precli.cli.app import app
from precli.core.formats import get_format
from precli.stream import packing

runner = CliRunner()
ENV = {"COLUMNS": "100", "NO_COLOR": "1", "FORCE_COLOR": None}


def run(args: list[str], data: bytes | str | None = None) -> tuple[int, bytes, str]:
    r = runner.invoke(app, args, input=data, env=ENV)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout_bytes, r.stderr


def exact_values(args: list[str], data: bytes | None = None) -> np.ndarray:
    """The `exact` column of a csv run, as float64 (the stored values, exactly)."""
    import csv
    import io

    code, out, err = run([*args, "-o", "csv"], data)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out.decode())))
    return np.array([float(r["exact"]) for r in rows], np.float64)


# ------------------------------------------------------------------ tf32


def test_tf32_raw_is_the_fp32_container() -> None:
    vals = [1.0, -1.0, 3.140625, 0.5 + 2**-10, 2.0**-126, 2.0**-136, float("inf"), -0.0]
    code, out, err = run(["encode", *map(repr, vals), "--as", "tf32", "--output", "raw"])
    assert code == 0, err
    # each value is a tf32 value, so its container is its float32 bit pattern
    assert out == np.array(vals, np.float32).view("<u4").tobytes()
    assert out[:4] == bytes.fromhex("0000803f")  # 0x3f800000, little-endian


def test_tf32_container_round_trip_and_low_bits_refused() -> None:
    rng = np.random.default_rng(1)
    f32 = rng.standard_normal(1000).astype(np.float32)
    code, raw, _ = run(["encode", "-", "--input-format", "f32", "--as", "tf32", "-o", "raw"],
                       f32.tobytes())
    assert code == 0
    c = np.frombuffer(raw, "<u4")
    # oracle: RNE of float32 to 10 mantissa bits, by integer arithmetic on the bit pattern
    b = f32.view("<u4").astype(np.uint64)
    want = ((b + 0xFFF + ((b >> 13) & 1)) >> 13) << 13
    assert np.array_equal(c, want.astype(np.uint32))
    got = exact_values(["decode", "-", "--input-format", "u32", "--from", "tf32"], raw)
    assert np.array_equal(got, c.view(np.float32).astype(np.float64))
    bad = np.array([0x3F800000, 0x3F800001], "<u4").tobytes()
    code, out, err = run(["decode", "-", "--input-format", "u32", "--from", "tf32"], bad)
    assert code == 1 and out.split() == [b"1", b"error"]
    assert "low 13 bits" in err and "--from fp32" in err


# ------------------------------------------------------------------ --pack


def hand_pack(codes: list[int], bits: int) -> bytes:
    """The ONNX layout written out: an integer bit stream, element i at bit i*bits, padded
    to whole groups (4-bit: 2 per byte; 2-bit: 4 per byte; 6-bit: 4 in 3 bytes)."""
    per = {4: (2, 1), 2: (4, 1), 6: (4, 3)}[bits]
    out = b""
    for g in range(0, len(codes), per[0]):
        word = 0
        for i, c in enumerate(codes[g:g + per[0]]):
            word |= c << (i * bits)
        out += word.to_bytes(per[1], "little")
    return out


def test_pack_layout_by_hand() -> None:
    # e2m1fn 0.5 1 1.5 2 3 -> codes 1 2 3 4 5: 0x21 0x43 0x05 (odd tail: high nibble 0)
    code, out, _ = run(["encode", "0.5", "1", "1.5", "2", "3", "--as", "fp4", "-o", "raw",
                        "--pack"])
    assert code == 0 and out == bytes([0x21, 0x43, 0x05])
    # int2 -2 -1 0 1 1 -> codes 2 3 0 1 1: 2 | 3<<2 | 0<<4 | 1<<6 = 0x4e, then 0x01
    code, out, _ = run(["encode", "-2", "-1", "0", "1", "1", "--as", "int2", "-o", "raw",
                        "--pack"])
    assert code == 0 and out == bytes([0x4E, 0x01])
    # e3m2fn 28 -28 0.0625 1 -> codes 0x1f 0x3f 0x01 0x0c: word 0x0c13fdf... by hand:
    word = 0x1F | 0x3F << 6 | 0x01 << 12 | 0x0C << 18
    code, out, _ = run(["encode", "28", "-28", "0.0625", "1", "--as", "e3m2fn", "-o", "raw",
                        "--pack"])
    assert code == 0 and out == word.to_bytes(3, "little")
    # one fp6 value still takes a whole 3-byte group (ONNX: pad to a multiple of 4)
    code, out, _ = run(["encode", "1", "--as", "e3m2fn", "-o", "raw", "--pack"])
    assert code == 0 and out == (0x0C).to_bytes(3, "little")


@pytest.mark.parametrize("name,mltype", [
    ("e2m1fn", ml_dtypes.float4_e2m1fn), ("e3m2fn", ml_dtypes.float6_e3m2fn),
    ("e2m3fn", ml_dtypes.float6_e2m3fn), ("int4", ml_dtypes.int4), ("uint4", ml_dtypes.uint4),
    ("int2", ml_dtypes.int2), ("uint2", ml_dtypes.uint2),
])  # fmt: skip
def test_packed_codes_match_ml_dtypes(name: str, mltype: type) -> None:
    rng = np.random.default_rng(7)
    f = get_format(name)
    if f.kind == "int":
        x = rng.integers(int(f.min), int(f.max) + 1, 1001).astype(np.float32)
    else:
        x = (rng.standard_normal(1001) * float(f.max) / 3).astype(np.float32)
    codes = x.astype(mltype).view(np.uint8) & ((1 << f.bits) - 1)
    code, out, err = run(["encode", "-", "--input-format", "f32", "--as", name, "-o", "raw",
                          "--pack"], x.tobytes())
    assert code == 0, err
    assert out == hand_pack(codes.tolist(), f.bits)


SUBBYTE = ["e2m1fn", "e3m2fn", "e2m3fn", "nf4", "int4", "uint4", "int2", "uint2", "e2m1",
           "e3m2"]


def _canonical_codes(name: str) -> list[int]:
    """Every code except NaNs other than +NaN (decode shows nan; encode gives +NaN back)."""
    f = get_format(name)
    out = []
    for c in range(1 << f.bits):
        if f.kind == "float" and f.is_nan(c) and c != f.nan_code():
            continue
        out.append(c)
    return out


@pytest.mark.parametrize("name", SUBBYTE)
@pytest.mark.parametrize("tail", [0, 1])
def test_pack_round_trip_every_code(name: str, tail: int) -> None:
    f = get_format(name)
    codes = _canonical_codes(name)
    if tail:
        codes = codes[:-1] if len(codes) % 2 == 0 else codes  # an odd count: a padded tail
    text = "".join(f"0x{c:x}\n" for c in codes)
    rc, values, err = run(["decode", "-", "--from", name], text)
    assert rc == 0, err
    rc, packed, err = run(["encode", "-", "--as", name, "-o", "raw", "--pack"], values)
    assert rc == 0, err
    assert packed == hand_pack(codes, f.bits)
    rc, back, err = run(["decode", "-", "--from", name, "--input-format", "packed"], packed)
    assert rc == 0, err
    lines = back.decode().splitlines()
    n = len(codes)
    assert lines[:n] == values.decode().splitlines()
    zero = run(["decode", "0x0", "--from", name])[1].decode().strip()
    assert all(v == zero for v in lines[n:])  # padding slots are code 0
    assert len(lines) == len(packing.unpack_codes(packed, f.bits))


def test_pack_streams_across_batches() -> None:
    codes = np.random.default_rng(3).integers(0, 64, 100_003)
    data = b"".join(packing.pack_codes(codes[i:i + 7], 6) for i in range(0, 0, 7))  # noqa
    rc = packing.RawCodes(get_format("e3m2fn"), pack=True)
    out = b"".join(rc.write(codes[i:i + 4097]) for i in range(0, len(codes), 4097))
    out += rc.finish()
    assert data == b"" and out == hand_pack(codes.tolist(), 6)
    assert np.array_equal(packing.unpack_codes(out, 6)[:len(codes)], codes)


@pytest.mark.parametrize("args,msg", [
    (["encode", "1", "--as", "fp16", "-o", "raw", "--pack"], "under 8 bits"),
    (["encode", "1", "--as", "fp4", "--pack"], "--output raw"),
    (["encode", "1", "--as", "fp4", "-o", "csv", "--pack"], "--output raw"),
    (["encode", "1", "--as", "mxfp8_e4m3", "-o", "raw", "--pack"], "under 8 bits"),
    (["decode", "-", "--from", "e4m3fn", "--input-format", "packed"], "under 8 bits"),
    (["decode", "-", "--from", "fp16", "--input-format", "u7"], "invalid --input-format"),
])  # fmt: skip
def test_pack_refusals(args: list[str], msg: str) -> None:
    code, out, err = run(args, b"\x00")
    assert code == 2 and out == b"" and msg in err and err.count("\n") == 1


def test_packed_stray_bytes_are_a_data_error() -> None:
    code, out, err = run(["decode", "-", "--from", "fp6", "--input-format", "packed"],
                         b"\x08\x44\x01\x08")
    assert code == 1 and len(out.split()) == 4 and "stray byte" in err


# ------------------------------------------------------------------ binary codes


@pytest.mark.parametrize("width,name,mltype", [
    ("u8", "e4m3fn", ml_dtypes.float8_e4m3fn), ("u8", "e5m2", ml_dtypes.float8_e5m2),
    ("u16", "bf16", ml_dtypes.bfloat16), ("u16", "fp16", np.float16),
    ("u32", "fp32", np.float32), ("u8", "e8m0fnu", ml_dtypes.float8_e8m0fnu),
])  # fmt: skip
def test_decode_binary_codes_matches_oracle(width: str, name: str, mltype: type) -> None:
    size = int(width[1:]) // 8
    rng = np.random.default_rng(5)
    raw = rng.integers(0, 1 << (8 * size), 3000, dtype=np.uint64).astype(f"<u{size}")
    got = exact_values(["decode", "-", "--from", name, "--input-format", width],
                       raw.tobytes())
    with np.errstate(invalid="ignore"):  # signalling NaN patterns widen quietly
        want = raw.view(mltype).astype(np.float64)
    assert np.array_equal(got, want, equal_nan=True)
    # records carry the code as read
    code, out, _ = run(["decode", "-", "--from", name, "--input-format", width, "-o",
                        "ndjson"], raw[:2].tobytes())
    import json

    recs = [json.loads(line) for line in out.splitlines()]
    assert [int(r["hex"], 16) for r in recs] == raw[:2].tolist()


def test_decode_wider_items_refuse_codes_that_do_not_fit() -> None:
    raw = np.array([0x3C00, 0x1FFFF], "<u4").tobytes()
    code, out, err = run(["decode", "-", "--from", "fp16", "--input-format", "u32"], raw)
    assert code == 1 and out.split() == [b"1", b"error"] and "does not fit fp16" in err


def test_decode_npy_of_codes(tmp_path: Path) -> None:
    p8, p16, pi8, pv = (tmp_path / n for n in ("a.npy", "b.npy", "c.npy", "d.npy"))
    np.save(p8, np.arange(256, dtype=np.uint8).reshape(16, 16))
    np.save(p16, np.array([0x3C00, 0xFC00, 0x0001], np.uint16))
    np.save(pi8, np.array([-3, 5], np.int8))
    vals = np.array([1.5, -2.0, 0.1], np.float32)
    np.save(pv, vals.astype(ml_dtypes.bfloat16))  # saved as opaque |V2
    got = exact_values(["decode", "--input", str(p8), "--input-format", "npy", "--from",
                        "e4m3fn"])
    want = np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn).astype(np.float64)
    assert np.array_equal(got, want, equal_nan=True)
    got = exact_values(["decode", "--input", str(p16), "--input-format", "npy", "--from",
                        "fp16"])
    assert got.tolist() == [1.0, float("-inf"), 2.0**-24]
    code, out, _ = run(["decode", "--input", str(pi8), "--input-format", "npy", "--from",
                        "int8"])
    assert code == 0 and out.split() == [b"-3", b"5"]
    code, out, _ = run(["decode", "--input", str(pv), "--input-format", "npy", "--from",
                        "bf16", "-o", "csv"])
    assert code == 0
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(out.decode())))
    want16 = vals.astype(ml_dtypes.bfloat16).view("<u2")
    assert [int(r["hex"], 16) for r in rows] == want16.tolist()
    code, out, err = run(["decode", "--input", str(pv), "--input-format", "npy", "--from",
                          "e4m3fn"])
    assert code == 2 and "|V2" in err


def test_decode_npy_of_values_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "v.npy"
    np.save(p, np.array([1.0], np.float32))
    code, out, err = run(["decode", "--input", str(p), "--input-format", "npy", "--from",
                          "fp32"])
    assert code == 2 and "not codes" in err and out == b""


# ------------------------------------------------------------------ ml_dtypes .npy values


@pytest.mark.parametrize("dtype,mltype", [
    ("bf16", ml_dtypes.bfloat16), ("e4m3fn", ml_dtypes.float8_e4m3fn),
    ("torch.float8_e5m2", ml_dtypes.float8_e5m2),
])  # fmt: skip
def test_encode_opaque_npy_with_dtype(tmp_path: Path, dtype: str, mltype: type) -> None:
    rng = np.random.default_rng(11)
    x = rng.standard_normal(500).astype(np.float32).astype(mltype)
    p = tmp_path / "x.npy"
    np.save(p, x)
    # ml_dtypes writes '|V2' for bfloat16 and '<f1' (which numpy cannot load) for e5m2
    assert p.read_bytes()[10:40].count(b"V") + p.read_bytes()[10:40].count(b"f1") == 1
    code, out, err = run(["encode", "--input", str(p), "--input-format", "npy", "--as", "fp32",
                          "--dtype", dtype, "-o", "raw"])
    assert code == 0, err
    assert out == x.astype(np.float32).view("<u4").tobytes()  # exact widening


def test_opaque_npy_without_dtype_names_the_flag(tmp_path: Path) -> None:
    p = tmp_path / "x.npy"
    np.save(p, np.array([1.0], ml_dtypes.bfloat16))
    code, out, err = run(["encode", "--input", str(p), "--input-format", "npy", "--as", "fp16"])
    assert code == 2 and out == b"" and "--dtype" in err and "|V2" in err
    code, _, err = run(["encode", "--input", str(p), "--input-format", "npy", "--as", "fp16",
                        "--dtype", "e4m3fn"])
    assert code == 2 and "2-byte" in err
    q = tmp_path / "f.npy"
    np.save(q, np.array([1.0], np.float32))
    code, _, err = run(["encode", "--input", str(q), "--input-format", "npy", "--as", "fp16",
                        "--dtype", "bf16"])
    assert code == 2 and "opaque" in err
    code, _, err = run(["encode", "1", "--as", "fp16", "--dtype", "bf16"])
    assert code == 2 and "opaque" in err


# ------------------------------------------------------------------ block formats (pure)


def test_block_raw_layout_by_hand() -> None:
    el = [1, 2, 3, 4, 5]
    data = packing.block_raw_bytes(el, 4, [0x7F, 0x80], tensor_scale=0.5, pack=True)
    assert data == bytes([0x21, 0x43, 0x05, 0x7F, 0x80]) + struct.pack("<f", 0.5)
    e, s, t = packing.split_block_raw(data, 5, 4, 4, True, pack=True)
    assert e.tolist() == el and s.tolist() == [0x7F, 0x80] and t == 0.5
    data = packing.block_raw_bytes(el, 4, [0x7F], pack=False)
    assert data == bytes([1, 2, 3, 4, 5, 0x7F])
    with pytest.raises(ValueError):
        packing.split_block_raw(data, 5, 4, 4, False)


def test_nvfp4_tensor_scale_fields() -> None:
    f = packing.nvfp4_tensor_scale_fields(8.802004595054314e-05)
    assert f["tensor_scale_hex"] == "0x" + struct.pack(">f", 8.802004595054314e-05).hex()
    assert f["tensor_scale"] == float(np.float32(8.802004595054314e-05))
