"""precli.sources: checkpoint readers, checked against independent oracles.

Oracles: the ``safetensors`` package (it writes the files of every dtype its numpy API
knows, reads them back, and must accept the files these tests write by hand), ml_dtypes
(the values of BF16 / FP8 / FP6 / FP4 / E8M0 codes), and the packing rules written out
here from the specs (F4: first element in the low nibble; F6: LSB-first bit stream), with
plain Python integers rather than numpy bit tricks.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from precli.errors import ExitStatus, UsageError
from precli.sources import CheckpointError, Tensor, detect, open_checkpoint
from precli.sources.read import forget_maps

safetensors = pytest.importorskip("safetensors")
from safetensors import safe_open  # noqa: E402
from safetensors.numpy import load_file, save_file  # noqa: E402

# ------------------------------------------------------------------ writing by hand


def write_st(path: Path, entries: list[tuple[str, str, list[int], bytes]],
             metadata: dict[str, str] | None = None, *, pad: bool = True) -> Path:
    """A safetensors file from (name, dtype, shape, raw bytes), laid out as the spec says:
    8-byte little-endian header length, JSON header, data; offsets contiguous."""
    header: dict[str, Any] = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    off = 0
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    return write_raw_header(path, json.dumps(header).encode(),
                            b"".join(e[3] for e in entries), pad=pad)


def write_raw_header(path: Path, text: bytes, data: bytes, *, pad: bool = True,
                     length: int | None = None) -> Path:
    if pad:
        text += b" " * ((-len(text)) % 8)
    n = len(text) if length is None else length
    path.write_bytes(struct.pack("<Q", n) + text + data)
    return path


def pack_f4(codes: list[int]) -> bytes:
    """Two codes per byte, the first in the low nibble (PyTorch float4_e2m1fn_x2, ONNX)."""
    assert len(codes) % 2 == 0
    return bytes(codes[i] | (codes[i + 1] << 4) for i in range(0, len(codes), 2))


def pack_f6(codes: list[int]) -> bytes:
    """A little-endian bit stream: code i at bits 6i..6i+5 (onnx.proto's FLOAT6 rule)."""
    v = 0
    for i, c in enumerate(codes):
        v |= c << (6 * i)
    return v.to_bytes(-(-6 * len(codes) // 8), "little")


def f32_bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Same values, NaN for NaN, and the same sign on zeros."""
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    nan = np.isnan(a)
    if not np.array_equal(nan, np.isnan(b)):
        return False
    return bool(np.array_equal(a[~nan], b[~nan])
                and np.array_equal(np.signbit(a[~nan]), np.signbit(b[~nan])))


def only(path: Path | str) -> Tensor:
    ts = list(open_checkpoint(str(path)).tensors())
    assert len(ts) == 1
    return ts[0]


def err(path: Path | str) -> CheckpointError:
    with pytest.raises(CheckpointError) as ei:
        ck = open_checkpoint(str(path))
        for t in ck.tensors():
            t.read()
    e = ei.value
    assert e.exit_code == ExitStatus.DATA_ERROR
    assert "\n" not in str(e)
    return e


# ------------------------------------------------------------- safetensors: package


NUMPY_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I8": np.int8, "I16": np.int16, "I32": np.int32, "I64": np.int64,
    "U8": np.uint8, "U16": np.uint16, "U32": np.uint32, "U64": np.uint64,
    "BOOL": np.bool_,
}  # fmt: skip

FORMATS = {
    "F64": "fp64", "F32": "fp32", "F16": "fp16", "I8": "int8", "I16": "int16",
    "I32": "int32", "I64": "int64", "U8": "uint8", "U16": "uint16", "U32": "uint32",
    "U64": "uint64", "BOOL": None,
}  # fmt: skip


def test_every_numpy_dtype_the_package_writes(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    arrays: dict[str, np.ndarray] = {}
    for st_name, dt in NUMPY_DTYPES.items():
        if dt == np.bool_:
            a = rng.integers(0, 2, (3, 5)).astype(bool)
        elif np.issubdtype(dt, np.integer):
            info = np.iinfo(dt)
            a = rng.integers(info.min, info.max, (3, 5), dtype=dt, endpoint=True)
        else:
            a = rng.standard_normal((3, 5)).astype(dt)
            a[0, :3] = [np.inf, -0.0, np.nan]
        arrays[f"t.{st_name}"] = a
    arrays["scalar"] = np.array(2.5, np.float32)
    arrays["empty"] = np.zeros((0, 4), np.float32)
    p = tmp_path / "m.safetensors"
    save_file(arrays, str(p), metadata={"format": "np", "who": "test"})
    ck = open_checkpoint(str(p))
    assert ck.kind == "safetensors" and ck.errors == []
    assert ck.metadata == {"format": "np", "who": "test"}
    oracle = load_file(str(p))
    with safe_open(str(p), framework="np") as f:
        order = list(f.keys())
    seen = {}
    for t in ck.tensors():
        seen[t.name] = t
        want = oracle[t.name]
        assert t.shape == want.shape
        assert t.nbytes == want.nbytes
        got = t.read()
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want.reshape(-1))
        assert not got.flags.writeable and not got.flags.owndata  # a view of the map
    assert set(seen) == set(order)
    for st_name in NUMPY_DTYPES:
        t = seen[f"t.{st_name}"]
        assert t.dtype == st_name and t.format == FORMATS[st_name]
        if st_name.startswith(("I", "U")):
            assert t.skip == f"integer tensor ({st_name})"
        elif st_name == "BOOL":
            assert t.skip == "bool mask"
        else:
            assert t.skip is None
    assert seen["scalar"].shape == () and seen["scalar"].numel == 1
    assert seen["empty"].read().size == 0
    assert ck.stored_bytes == sum(a.nbytes for a in arrays.values())
    # file order = offset order
    offsets = []
    header = json.loads(p.read_bytes()[8 : 8 + struct.unpack("<Q", p.read_bytes()[:8])[0]])
    for t in ck.tensors():
        offsets.append(header[t.name]["data_offsets"][0])
    assert offsets == sorted(offsets)


def test_complex_is_listed_and_skipped(tmp_path: Path) -> None:
    p = tmp_path / "c.safetensors"
    save_file({"z": np.array([1 + 2j, 3 - 1j], np.complex64)}, str(p))
    t = only(p)
    assert (t.dtype, t.format, t.skip, t.nbytes) == ("C64", None, "complex tensor (C64)", 16)
    with pytest.raises(CheckpointError, match=r"tensor 'z': cannot read C64 elements"):
        t.read()


def test_reads_are_ranges_in_row_major_order(tmp_path: Path) -> None:
    a = np.arange(2 * 3 * 7, dtype=np.float32).reshape(2, 3, 7) / 8
    p = tmp_path / "r.safetensors"
    save_file({"x": a}, str(p))
    t = only(p)
    flat = a.reshape(-1)
    for s, e in [(0, 0), (0, 1), (5, 17), (40, 42), (0, 42)]:
        np.testing.assert_array_equal(t.read(s, e), flat[s:e])
    np.testing.assert_array_equal(np.concatenate(list(t.chunks(5))), flat)
    with pytest.raises(ValueError):
        t.read(3, 43)


# ------------------------------------------------- safetensors: formats numpy cannot hold

ML_DTYPES = {
    "BF16": ml_dtypes.bfloat16,
    "F8_E4M3": ml_dtypes.float8_e4m3fn,
    "F8_E5M2": ml_dtypes.float8_e5m2,
    "F8_E4M3FNUZ": ml_dtypes.float8_e4m3fnuz,
    "F8_E5M2FNUZ": ml_dtypes.float8_e5m2fnuz,
    "F8_E8M0": ml_dtypes.float8_e8m0fnu,
}
PRECLI = {"BF16": "bf16", "F8_E4M3": "e4m3fn", "F8_E5M2": "e5m2", "F8_E4M3FNUZ": "e4m3fnuz",
          "F8_E5M2FNUZ": "e5m2fnuz", "F8_E8M0": "e8m0fnu", "F6_E2M3": "e2m3fn",
          "F6_E3M2": "e3m2fn", "F4": "e2m1fn"}


@pytest.mark.parametrize("dtype", list(ML_DTYPES))
def test_byte_formats_decode_like_ml_dtypes(tmp_path: Path, dtype: str) -> None:
    mdt = ML_DTYPES[dtype]
    if dtype == "BF16":
        rng = np.random.default_rng(7)
        codes = np.concatenate([np.arange(0, 65536, 1, dtype=np.uint16)[::7],
                                rng.integers(0, 65536, 5000, dtype=np.uint16),
                                np.array([0x7F80, 0xFF80, 0x7FC1, 0xFFC1, 0x8000, 0x0001],
                                         np.uint16)])
        raw = codes.astype("<u2").tobytes()
    else:
        codes = np.arange(256, dtype=np.uint8)
        raw = codes.tobytes()
    shape = [len(codes)]
    p = write_st(tmp_path / "f.safetensors", [("w", dtype, shape, raw)])
    with safe_open(str(p), framework="np") as f:  # the reference parser accepts the file
        assert f.get_slice("w").get_shape() == shape
        assert f.get_slice("w").get_dtype() == dtype
    t = only(p)
    assert (t.dtype, t.format, t.skip, t.shape, t.nbytes) == (dtype, PRECLI[dtype], None,
                                                              tuple(shape), len(raw))
    got = t.read()
    assert got.dtype == np.float32
    want = codes.view(mdt).astype(np.float32)
    assert f32_bits_equal(got, want)
    # an unaligned range too
    assert f32_bits_equal(t.read(3, 100), want[3:100])


@pytest.mark.parametrize("dtype, mdt", [("F6_E2M3", ml_dtypes.float6_e2m3fn),
                                        ("F6_E3M2", ml_dtypes.float6_e3m2fn),
                                        ("F4", ml_dtypes.float4_e2m1fn)])
def test_packed_formats_decode_like_ml_dtypes(tmp_path: Path, dtype: str, mdt: Any) -> None:
    bits = 4 if dtype == "F4" else 6
    rng = np.random.default_rng(3)
    codes = list(range(1 << bits)) + [int(c) for c in rng.integers(0, 1 << bits, 64)]
    raw = pack_f4(codes) if bits == 4 else pack_f6(codes)
    assert len(raw) == len(codes) * bits // 8
    shape = [len(codes) // 4, 4]
    p = write_st(tmp_path / "p.safetensors", [("q", dtype, shape, raw)])
    with safe_open(str(p), framework="np") as f:
        assert f.get_slice("q").get_shape() == shape
        assert f.get_slice("q").get_dtype() == dtype
    t = only(p)
    assert (t.format, t.nbytes, t.shape) == (PRECLI[dtype], len(raw), tuple(shape))
    # ml_dtypes holds a sub-byte value in the low bits of one byte per element
    want = np.array(codes, np.uint8).view(mdt).astype(np.float32)
    assert f32_bits_equal(t.read(), want)
    for s, e in [(1, 2), (1, 6), (2, 7), (3, 3), (5, 77), (len(codes) - 1, len(codes))]:
        assert f32_bits_equal(t.read(s, e), want[s:e]), (s, e)


def test_packed_sizes_must_be_whole_bytes(tmp_path: Path) -> None:
    p = write_st(tmp_path / "o.safetensors", [("odd", "F4", [3], b"\x00\x00")])
    e = err(p)
    assert str(e) == (f"{p}: tensor 'odd': shape [3] holds 3 F4 elements of 4 bits: not a "
                      "whole number of bytes")
    p = write_st(tmp_path / "s.safetensors", [("six", "F6_E2M3", [2, 3], b"\x00" * 5)])
    assert str(err(p)) == (f"{p}: tensor 'six': shape [2, 3] holds 6 F6_E2M3 elements of 6 "
                           "bits: not a whole number of bytes")
    p = write_st(tmp_path / "s2.safetensors", [("six", "F6_E2M3", [2, 4], b"\x00" * 5)])
    assert str(err(p)) == (f"{p}: tensor 'six': shape [2, 4] of F6_E2M3 needs 6 bytes but "
                           "offsets [0, 5) hold 5")
    # 6 bits x 4 elements = 3 bytes: accepted
    p = write_st(tmp_path / "ok.safetensors", [("six", "F6_E3M2", [4], b"\x00" * 3)])
    assert only(p).numel == 4


# ------------------------------------------------------------------- sharded models


def make_sharded(d: Path, *, extra: dict[str, str] | None = None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    arrays = {f"layer.{i}.w": rng.standard_normal((4, 3)).astype(np.float32) for i in range(4)}
    save_file({k: arrays[k] for k in ("layer.0.w", "layer.1.w")}, str(d / "m-00001.safetensors"))
    save_file({k: arrays[k] for k in ("layer.2.w", "layer.3.w")}, str(d / "m-00002.safetensors"))
    wmap = {"layer.0.w": "m-00001.safetensors", "layer.1.w": "m-00001.safetensors",
            "layer.2.w": "m-00002.safetensors", "layer.3.w": "m-00002.safetensors",
            **(extra or {})}
    (d / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": 192}, "weight_map": wmap}))
    return arrays


def test_a_config_json_nested_too_deep_does_not_stop_the_checkpoint(tmp_path: Path) -> None:
    """A config.json nested 100,000 deep beside a valid checkpoint was an internal
    RecursionError; like any config that does not parse, it is now ignored."""
    save_file({"w": np.ones((2, 3), np.float32)}, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    ck = open_checkpoint(str(tmp_path / "model.safetensors"))
    assert [t.name for t in ck.tensors()] == ["w"] and ck.errors == []


def test_a_shard_name_with_a_nul_byte_is_one_named_error(tmp_path: Path) -> None:
    """It was an internal error "embedded null byte" and the healthy tensors were lost."""
    make_sharded(tmp_path, extra={"ghost.w": "m-00003\x00.safetensors"})
    ck = open_checkpoint(str(tmp_path))
    assert [t.name for t in ck.tensors()] == ["layer.0.w", "layer.1.w", "layer.2.w",
                                              "layer.3.w"]
    assert [str(e) for e in ck.errors] == [
        f"{tmp_path / 'model.safetensors.index.json'}: tensor 'ghost.w': shard name "
        "'m-00003\\x00.safetensors' holds a NUL byte; it maps 1 tensor(s)"]


def test_sharded_directory_and_index_file(tmp_path: Path) -> None:
    arrays = make_sharded(tmp_path)
    for where in (tmp_path, tmp_path / "model.safetensors.index.json"):
        assert detect(str(where)) == "safetensors-sharded"
        ck = open_checkpoint(str(where))
        assert ck.kind == "safetensors-sharded" and ck.errors == []
        assert ck.metadata == {"total_size": "192"}
        names = [t.name for t in ck.tensors()]
        assert names == ["layer.0.w", "layer.1.w", "layer.2.w", "layer.3.w"]
        for t in ck.tensors():
            np.testing.assert_array_equal(t.read(), arrays[t.name].reshape(-1))
            assert os.path.basename(t.path) == ("m-00001.safetensors" if t.name in
                                                ("layer.0.w", "layer.1.w")
                                                else "m-00002.safetensors")
        assert ck.stored_bytes == 4 * 12 * 4


def test_sharded_missing_shard_keeps_healthy_tensors(tmp_path: Path) -> None:
    make_sharded(tmp_path)
    os.remove(tmp_path / "m-00002.safetensors")
    ck = open_checkpoint(str(tmp_path))
    assert [t.name for t in ck.tensors()] == ["layer.0.w", "layer.1.w"]
    idx = tmp_path / "model.safetensors.index.json"
    assert [str(e) for e in ck.errors] == [
        f"{idx}: tensor 'layer.2.w': shard 'm-00002.safetensors' is missing; it holds 2 "
        "tensor(s) of the index"]
    assert ck.errors[0].exit_code == ExitStatus.DATA_ERROR


def test_sharded_damaged_shard_is_named(tmp_path: Path) -> None:
    make_sharded(tmp_path)
    shard = tmp_path / "m-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:-5])
    ck = open_checkpoint(str(tmp_path))
    assert [t.name for t in ck.tensors()] == ["layer.0.w", "layer.1.w"]
    (e,) = ck.errors
    assert str(e).startswith(f"{shard}: tensor 'layer.3.w': offsets [48, 96) run past the "
                             "data (91 bytes")


def test_sharded_disagreements(tmp_path: Path) -> None:
    make_sharded(tmp_path, extra={"ghost": "m-00001.safetensors"})
    # a tensor in two shards: shard 2 also holds layer.0.w
    rng = np.random.default_rng(0)
    save_file({"layer.0.w": rng.standard_normal((4, 3)).astype(np.float32),
               "layer.2.w": rng.standard_normal((4, 3)).astype(np.float32),
               "layer.3.w": rng.standard_normal((4, 3)).astype(np.float32),
               "stray": np.zeros(2, np.float32)}, str(tmp_path / "m-00002.safetensors"))
    ck = open_checkpoint(str(tmp_path))
    assert [t.name for t in ck.tensors()] == ["layer.0.w", "layer.1.w", "layer.2.w",
                                              "layer.3.w"]
    s1, s2 = tmp_path / "m-00001.safetensors", tmp_path / "m-00002.safetensors"
    assert sorted(str(e) for e in ck.errors) == sorted([
        f"{s1}: tensor 'ghost': is mapped to this shard by the index but the shard does not "
        "hold it",
        f"{s2}: tensor 'layer.0.w': is also in this shard; the index maps it to "
        "'m-00001.safetensors'",
        f"{s2}: tensor 'stray': is in this shard but not in the index's weight_map",
    ])


def test_sharded_refuses_escaping_shard_paths(tmp_path: Path) -> None:
    d = tmp_path / "model"
    d.mkdir()
    save_file({"a": np.zeros(2, np.float32)}, str(tmp_path / "outside.safetensors"))
    (d / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"a": "../outside.safetensors"}}))
    ck = open_checkpoint(str(d))
    assert list(ck.tensors()) == []
    assert [e.reason for e in ck.errors] == [
        "shard '../outside.safetensors' is outside the index's directory (refused); it maps "
        "1 tensor(s)"]


def test_directory_cases(tmp_path: Path) -> None:
    e = err(tmp_path)
    assert str(e) == (f"{tmp_path}: is a directory with no .safetensors file and no "
                      "*.safetensors.index.json")
    save_file({"a": np.ones(2, np.float32)}, str(tmp_path / "one.safetensors"))
    ck = open_checkpoint(str(tmp_path))
    assert ck.kind == "safetensors" and [t.name for t in ck.tensors()] == ["a"]
    (tmp_path / "bad.safetensors.index.json").write_text('{"weight_map": 3}')
    assert str(err(tmp_path)) == (f"{tmp_path / 'bad.safetensors.index.json'}: index has no "
                                  "\"weight_map\" mapping tensor names to shard files")


# ------------------------------------------------------------- malformed safetensors


def good_header(**over: Any) -> dict[str, Any]:
    h: dict[str, Any] = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                         "b": {"dtype": "F16", "shape": [2, 2], "data_offsets": [8, 16]}}
    h.update(over)
    return h


def st_with(tmp_path: Path, header: dict[str, Any], data: bytes = bytes(16),
            name: str = "m.safetensors") -> Path:
    return write_raw_header(tmp_path / name, json.dumps(header).encode(), data)


MALFORMED = [
    ("overlap", good_header(b={"dtype": "F16", "shape": [2, 2], "data_offsets": [4, 12]}),
     bytes(12), "tensor 'b': offsets [4, 12) overlap tensor 'a' ([0, 8))"),
    ("hole", good_header(b={"dtype": "F16", "shape": [2, 2], "data_offsets": [10, 18]}),
     bytes(18), "tensor 'b': offsets [10, 18) leave a hole of 2 byte(s) after tensor 'a'"),
    ("hole at start", {"a": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}},
     bytes(12), "tensor 'a': offsets [4, 12) leave a hole of 4 byte(s) at the start of the data"),
    ("past end", good_header(), bytes(15),
     "tensor 'b': offsets [8, 16) run past the data (15 bytes; truncated?)"),
    ("reversed", good_header(b={"dtype": "F16", "shape": [2, 2], "data_offsets": [16, 8]}),
     bytes(16), "tensor 'b': offsets [16, 8) end before they begin"),
    ("shape vs bytes", good_header(b={"dtype": "F16", "shape": [2, 3], "data_offsets": [8, 16]}),
     bytes(16), "tensor 'b': shape [2, 3] of F16 needs 12 bytes but offsets [8, 16) hold 8"),
    ("unknown dtype", good_header(b={"dtype": "F12", "shape": [4], "data_offsets": [8, 16]}),
     bytes(16), "tensor 'b': unknown dtype 'F12' (safetensors dtypes: F64, F32, F16, BF16, "
     "F8_E4M3, F8_E5M2, F8_E4M3FNUZ, F8_E5M2FNUZ, F8_E8M0, F6_E2M3, F6_E3M2, F4, I8, I16, "
     "I32, I64, U8, U16, U32, U64, BOOL, C64)"),
    ("negative dim", good_header(b={"dtype": "F16", "shape": [-2, -2], "data_offsets": [8, 16]}),
     bytes(16), "tensor 'b': shape [-2, -2] is not a list of non-negative integers"),
    ("float dim", good_header(b={"dtype": "F16", "shape": [2.0, 2], "data_offsets": [8, 16]}),
     bytes(16), "tensor 'b': shape [2.0, 2] is not a list of non-negative integers"),
    ("bool dim", good_header(b={"dtype": "F16", "shape": [True, 4], "data_offsets": [8, 16]}),
     bytes(16), "tensor 'b': shape [true, 4] is not a list of non-negative integers"),
    ("offsets shape", good_header(b={"dtype": "F16", "shape": [4], "data_offsets": [8]}),
     bytes(16), "tensor 'b': data_offsets [8] is not a pair of non-negative integers"),
    ("no dtype", good_header(b={"shape": [4], "data_offsets": [8, 16]}),
     bytes(16), "tensor 'b': entry has no 'dtype'"),
    ("entry not object", good_header(b=[1, 2]), bytes(16),
     "tensor 'b': entry is JSON list, not an object with dtype, shape and data_offsets"),
    ("trailing bytes", good_header(), bytes(20),
     "4 byte(s) after the last tensor: the offsets cover 16 of the data's 20 bytes"),
    ("bad metadata", good_header(__metadata__={"a": 1}), bytes(16),
     "__metadata__ must map strings to strings"),
]


@pytest.mark.parametrize("case, header, data, message", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_header_entries(tmp_path: Path, case: str, header: dict[str, Any],
                                  data: bytes, message: str) -> None:
    p = st_with(tmp_path, header, data)
    assert str(err(p)) == f"{p}: {message}"


def test_malformed_framing(tmp_path: Path) -> None:
    p = tmp_path / "m.safetensors"
    p.write_bytes(b"\x10\x00\x00")
    assert str(err(p)) == (f"{p}: file is 3 bytes: too short for the 8-byte header length "
                           "(truncated?)")
    write_raw_header(p, b'{"a":1}', b"", length=1000)
    assert str(err(p)) == f"{p}: header length 1,000 runs past the end of the file (16 bytes; " \
        "truncated?)"
    write_raw_header(p, b"{}", b"", length=100_000_001)
    assert str(err(p)) == (f"{p}: header length 100,000,001 exceeds the safetensors limit of "
                           "100,000,000 bytes (not a safetensors file, or damaged)")
    write_raw_header(p, b'{"a": {"dtype": "F32",', b"")
    assert str(err(p)) == (f"{p}: header is not valid JSON (Expecting property name enclosed "
                           "in double quotes at line 1 column 25)")
    write_raw_header(p, b"{\xff}", b"")
    assert str(err(p)) == f"{p}: header is not UTF-8 (byte 9)"
    write_raw_header(p, b'{"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}, '
                     b'"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}', b"")
    assert str(err(p)) == f"{p}: tensor 'a': appears twice in the header"
    write_raw_header(p, b"[1, 2]", b"", pad=False)
    p.write_bytes(struct.pack("<Q", 6) + b"{1, 2]")
    assert "header is not valid JSON" in str(err(p))
    # an empty file with the extension
    p.write_bytes(b"")
    assert str(err(p)) == f"{p}: file is 0 bytes: too short for the 8-byte header length " \
        "(truncated?)"


def test_truncated_real_file(tmp_path: Path) -> None:
    p = tmp_path / "t.safetensors"
    save_file({"w.q": np.zeros((5, 2), np.float32), "w.k": np.zeros(3, np.float32)}, str(p))
    data = p.read_bytes()
    p.write_bytes(data[:-12])
    assert str(err(p)) == (f"{p}: tensor 'w.q': offsets [12, 52) run past the data (40 bytes; "
                           "truncated?)")


def test_empty_header_is_an_empty_checkpoint(tmp_path: Path) -> None:
    p = write_raw_header(tmp_path / "e.safetensors", b"{}", b"")
    ck = open_checkpoint(str(p))
    assert list(ck.tensors()) == [] and ck.stored_bytes == 0


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_headers_only_raise_checkpoint_errors(tmp_path: Path, data: Any) -> None:
    """Mutated headers and bodies: a clean CheckpointError or a consistent checkpoint."""
    dtypes = ["F32", "F16", "BF16", "F4", "F6_E2M3", "F8_E4M3", "I64", "BOOL", "C64", "X"]
    entry = st.fixed_dictionaries({
        "dtype": st.sampled_from(dtypes),
        "shape": st.lists(st.integers(-2, 6) | st.floats(0, 3) | st.booleans(), max_size=3),
        "data_offsets": st.lists(st.integers(-1, 40), min_size=0, max_size=3),
    })
    header = data.draw(st.dictionaries(st.text(max_size=3), entry | st.integers(), max_size=4))
    text = json.dumps(header).encode()
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(0, len(text)))
        text = text[:cut] + data.draw(st.binary(max_size=3)) + text[cut:]
    body = data.draw(st.binary(max_size=48))
    length = data.draw(st.none() | st.integers(0, 200))
    p = write_raw_header(tmp_path / "fz.safetensors", text, body, length=length)
    forget_maps()
    try:
        ck = open_checkpoint(str(p))
    except CheckpointError as e:
        assert str(e).startswith(f"{p}: ") and "\n" not in str(e)
        return
    for t in ck.tensors():
        if t.format is not None:
            assert len(t.read()) == t.numel


# ------------------------------------------------------------------------ detection


def test_pickles_are_refused_never_loaded(tmp_path: Path) -> None:
    import pickle

    p = tmp_path / "model.bin"
    p.write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=4))
    e = err(p)
    assert str(e).startswith(f"{p}: is a pickle (protocol 4), e.g. a PyTorch checkpoint: "
                             "precli never unpickles; convert it to safetensors")
    # a PyTorch zip checkpoint (torch.save's default): a zip holding data.pkl
    z = tmp_path / "model.pt"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps([1], protocol=2))
        zf.writestr("archive/data/0", b"\x00" * 8)
    e = err(z)
    assert str(e).startswith(f"{z}: is a PyTorch checkpoint (a zip holding "
                             "'archive/data.pkl'): precli never unpickles")


def test_unknown_content(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("hello world, not a model")
    assert str(err(p)) == (f"{p}: is not a checkpoint precli reads (starts with 'hello wo'); it "
                           "reads safetensors, GGUF, ONNX, .npz and .npy files, and sharded "
                           "safetensors directories")
    b = tmp_path / "weights.bin"
    b.write_bytes(bytes([1, 2, 3, 250, 0, 0, 0, 9, 9]))
    assert str(err(b)).startswith(f"{b}: is not a checkpoint precli reads (starts with 01 02 "
                                  "03 fa 00 00 00 09); if it is a PyTorch pickle:")
    g = tmp_path / "m.gguf"
    g.write_bytes(b"GGML\x00\x00")
    assert str(err(g)) == f"{g}: does not start with the GGUF magic (found 'GGML')"
    e = tmp_path / "empty"
    e.write_bytes(b"")
    assert str(err(e)) == f"{e}: is empty"
    with pytest.raises(UsageError, match="no such file or directory"):
        open_checkpoint(str(tmp_path / "nope.safetensors"))


def test_detection_ignores_the_extension(tmp_path: Path) -> None:
    p = tmp_path / "weights.npy"  # a safetensors file with the wrong name
    save_file({"a": np.ones(3, np.float32)}, str(p))
    assert detect(str(p)) == "safetensors"
    assert only(p).read().tolist() == [1.0, 1.0, 1.0]


# --------------------------------------------------------------------------- memory


def test_large_bf16_file_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """A 200 MB BF16 tensor read in 1M-element chunks: anonymous memory grows by far less
    than the file (mapped pages count in RSS, not in RssAnon)."""
    p = tmp_path / "big.safetensors"
    n = 100 * (1 << 20)  # 100 Mi elements = 200 MiB
    header = json.dumps({"w": {"dtype": "BF16", "shape": [n], "data_offsets": [0, 2 * n]}})
    text = header.encode() + b" " * ((-len(header)) % 8)
    with open(p, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        block = np.full(1 << 20, 0x3F80, "<u2").tobytes()  # 1.0
        for _ in range(n >> 20):
            f.write(block)
    script = f"""
import resource
def anon():
    for line in open('/proc/self/status'):
        if line.startswith('RssAnon:'):
            return int(line.split()[1]) // 1024
from precli.sources import open_checkpoint
import numpy as np
(t,) = open_checkpoint({str(p)!r}).tensors()
before = anon()
peak = before
total = 0.0
for c in t.chunks(1 << 20):
    total += float(c.sum(dtype=np.float64))
    peak = max(peak, anon())
assert total == {n}.0, total
print(peak - before)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    grew = int(out.stdout.strip())
    assert grew < 40, f"RssAnon grew by {grew} MiB reading a 200 MiB file"


# ------------------------------------------------------------------- odds and ends


def test_importing_the_readers_costs_no_numpy() -> None:
    out = subprocess.run([sys.executable, "-c", "import sys, precli.sources; "
                          "print('numpy' in sys.modules)"], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_tensors_pickle_for_worker_processes(tmp_path: Path) -> None:
    import pickle

    p = write_st(tmp_path / "k.safetensors", [("w", "BF16", [3], bytes([0, 0x3F, 0x80, 0x3F,
                                                                        0x00, 0xC0]))])
    t = only(p)
    t2 = pickle.loads(pickle.dumps(t))
    assert t2 == t and t2.read().tolist() == [0.5, 1.0, -2.0]


def test_benchmark_generator_quick(tmp_path: Path) -> None:
    import importlib.util

    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("gen_checkpoint",
                                                  root / "benchmarks" / "gen_checkpoint.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = gen  # dataclasses look their module up there
    try:
        spec.loader.exec_module(gen)
    finally:
        del sys.modules[spec.name]
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    assert gen.main(["--quick", str(a)]) == 0
    assert gen.main(["--quick", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()  # deterministic
    ck = open_checkpoint(str(a))
    with safe_open(str(a), framework="np") as f:  # the reference parser accepts it
        names = list(f.keys())
        assert all(f.get_slice(k).get_dtype() == "BF16" for k in names)
    ts = {t.name: t for t in ck.tensors()}
    assert set(ts) == set(names) and len(ts) == 2 + 12 * 2
    raw = a.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    for name, t in ts.items():
        b0, b1 = header[name]["data_offsets"]
        want = np.frombuffer(raw[8 + n + b0 : 8 + n + b1], "<u2").view(
            ml_dtypes.bfloat16).astype(np.float32)
        assert f32_bits_equal(t.read(), want)
        x = want.astype(np.float64)
        if name.endswith("norm.weight"):
            assert abs(x.mean() - 1) < 0.02
        elif t.numel > 10_000:
            assert 0.015 < x.std() < 0.03, name
    down = ts["model.layers.0.mlp.down_proj.weight"].read().reshape(128, 352)
    col_amax = np.abs(down).max(axis=0)
    assert (col_amax > 5 * np.median(col_amax)).sum() >= 2  # the outlier channels
