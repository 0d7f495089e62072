"""precli.sources for GGUF: files from the gguf package's GGUFWriter, read back by its
GGUFReader as the oracle; malformed files written byte by byte from ggml's docs/gguf.md."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

from precli.errors import ExitStatus
from precli.sources import CheckpointError, detect, open_checkpoint
from precli.sources.read import forget_maps

gguf = pytest.importorskip("gguf")



def test_writer_files_match_reader(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    p = tmp_path / "m.gguf"
    w = gguf.GGUFWriter(str(p), "llama")
    w.add_uint32("llama.block_count", 2)
    w.add_string("general.name", "tiny")
    w.add_array("tokenizer.ggml.scores", [0.5, -1.0, 2.0])
    w.add_array("tokenizer.ggml.tokens", [f"t{i}" for i in range(100)])
    f32 = rng.standard_normal((3, 4, 8)).astype(np.float32)
    w.add_tensor("blk.0.f32", f32)
    w.add_tensor("blk.0.f16", rng.standard_normal((5, 6)).astype(np.float16))
    w.add_tensor("blk.0.f64", rng.standard_normal(7))
    bf = rng.standard_normal((2, 16)).astype(ml_dtypes.bfloat16).view(np.uint16)
    w.add_tensor("blk.0.bf16", bf, raw_shape=bf.shape,
                 raw_dtype=gguf.GGMLQuantizationType.BF16)
    w.add_tensor("blk.0.i32", np.arange(6, dtype=np.int32).reshape(2, 3))
    q = gguf.quants.quantize(rng.standard_normal((4, 64)).astype(np.float32),
                             gguf.GGMLQuantizationType.Q8_0)
    w.add_tensor("blk.0.q8", q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    assert detect(str(p)) == "gguf"
    ck = open_checkpoint(str(p))
    assert ck.kind == "gguf" and ck.errors == []
    assert ck.metadata["general.architecture"] == "llama"
    assert ck.metadata["general.name"] == "tiny"
    assert ck.metadata["llama.block_count"] == "2"
    assert ck.metadata["tokenizer.ggml.scores"] == "[0.5, -1.0, 2.0]"
    assert ck.metadata["tokenizer.ggml.tokens"] == "[100 string items]"
    reader = gguf.GGUFReader(str(p))
    ours = list(ck.tensors())
    assert [t.name for t in ours] == [t.name for t in reader.tensors]
    for t, r in zip(ours, reader.tensors, strict=True):
        assert t.dtype == r.tensor_type.name
        assert t.shape == tuple(int(d) for d in reversed(r.shape))  # numpy order
        assert t.nbytes == int(r.n_bytes)
        if t.dtype == "Q8_0":  # decoded (tests/test_sources_gguf_quants.py is thorough)
            assert (t.format, t.skip) == (None, None)
            want8 = gguf.quants.dequantize(np.asarray(r.data), r.tensor_type)
            np.testing.assert_array_equal(t.read(), want8.reshape(-1))
            continue
        want = np.asarray(r.data)
        if t.dtype == "BF16":
            want = want.view(ml_dtypes.bfloat16).astype(np.float32)
        assert want.shape == t.shape
        got = t.read()
        np.testing.assert_array_equal(got, want.reshape(-1))
        assert got.dtype == {"F32": np.float32, "F16": np.float16, "F64": np.float64,
                             "BF16": np.float32, "I32": np.int32}[t.dtype]
    fmts = {t.name: (t.format, t.skip) for t in ours}
    assert fmts["blk.0.f32"] == ("fp32", None)
    assert fmts["blk.0.bf16"] == ("bf16", None)
    assert fmts["blk.0.i32"] == ("int32", "integer tensor (I32)")
    np.testing.assert_array_equal(ours[0].read(5, 50), f32.reshape(-1)[5:50])


def test_custom_alignment(tmp_path: Path) -> None:
    p = tmp_path / "a.gguf"
    w = gguf.GGUFWriter(str(p), "llama")
    w.add_custom_alignment(64)
    w.add_tensor("a", np.ones(3, np.float32))
    w.add_tensor("b", np.full(5, 2.0, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    ck = open_checkpoint(str(p))
    assert ck.metadata["general.alignment"] == "64"
    assert [t.read().tolist() for t in ck.tensors()] == [[1.0] * 3, [2.0] * 5]


# ------------------------------------------------------------- hand-written files


def s(text: str) -> bytes:
    b = text.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_file(tensors: list[tuple[str, list[int], int, bytes]], *, version: int = 3,
              kv: bytes = b"", n_kv: int = 0, n_tensors: int | None = None,
              offsets: list[int] | None = None, align: int = 32) -> bytes:
    """GGUF bytes: (name, numpy-order shape, ggml type, data) per tensor."""
    out = b"GGUF" + struct.pack("<IQQ", version,
                                len(tensors) if n_tensors is None else n_tensors, n_kv) + kv
    data = b""
    offs = []
    for _, _, _, raw in tensors:
        data += b"\x00" * ((-len(data)) % align)
        offs.append(len(data))
        data += raw
    for i, (name, shape, gtype, _) in enumerate(tensors):
        dims = list(reversed(shape))
        off = offs[i] if offsets is None else offsets[i]
        out += s(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
        out += struct.pack("<IQ", gtype, off)
    out += b"\x00" * ((-len(out)) % align)
    return out + data


F32 = 0


def write(tmp_path: Path, data: bytes) -> Path:
    p = tmp_path / "m.gguf"
    p.write_bytes(data)
    return p


def msg(p: Path) -> str:
    with pytest.raises(CheckpointError) as ei:
        open_checkpoint(str(p))
    assert ei.value.exit_code == ExitStatus.DATA_ERROR
    assert "\n" not in str(ei.value)
    return str(ei.value)


def test_hand_written_file_reads(tmp_path: Path) -> None:
    vals = np.arange(6, dtype="<f4")
    p = write(tmp_path, gguf_file([("w", [2, 3], F32, vals.tobytes())],
                                  kv=s("k") + struct.pack("<I", 8) + s("v"), n_kv=1))
    (t,) = open_checkpoint(str(p)).tensors()
    assert t.shape == (2, 3) and t.read().tolist() == vals.tolist()
    r = gguf.GGUFReader(str(p))  # the oracle agrees the file is well formed
    assert r.tensors[0].data.shape == (2, 3)


def test_versions(tmp_path: Path) -> None:
    raw = np.zeros(2, "<f4").tobytes()
    assert len(list(open_checkpoint(str(write(tmp_path, gguf_file(
        [("w", [2], F32, raw)], version=2)))).tensors())) == 1
    for v in (1, 4, 77):
        p = write(tmp_path, gguf_file([("w", [2], F32, raw)], version=v))
        assert msg(p) == (f"{p}: GGUF version {v} is not supported (precli reads versions 2 "
                          "and 3)")
    big = bytearray(gguf_file([("w", [2], F32, raw)]))
    big[4:8] = struct.pack(">I", 3)
    p = write(tmp_path, bytes(big))
    assert msg(p) == f"{p}: is a big-endian GGUF (version 3); precli reads little-endian GGUF only"


def test_counts_that_cannot_fit(tmp_path: Path) -> None:
    p = write(tmp_path, gguf_file([], n_tensors=1 << 40))
    assert msg(p) == (f"{p}: header claims 1,099,511,627,776 tensors and 0 metadata entries, "
                      "which cannot fit in the file's 32 bytes (damaged?)")
    p = write(tmp_path, gguf_file([], n_kv=1 << 60))
    assert "metadata entries, which cannot fit" in msg(p)
    # a string length beyond the file
    p = write(tmp_path, gguf_file([], kv=struct.pack("<Q", 1 << 50) + b"abc", n_kv=1))
    assert msg(p) == (f"{p}: metadata key 0 at byte 32 needs 1125899906842624 bytes but the "
                      "file ends 32 bytes later (truncated?)")
    # an array count beyond the file
    kv = s("arr") + struct.pack("<IIQ", 9, 4, 1 << 40)
    p = write(tmp_path, gguf_file([], kv=kv, n_kv=1))
    assert msg(p) == (f"{p}: metadata 'arr' claims 1,099,511,627,776 uint32 items, more than "
                      "the file holds (damaged?)")
    kv = s("k") + struct.pack("<I", 99)
    p = write(tmp_path, gguf_file([], kv=kv + b"\x00" * 32, n_kv=1))
    assert msg(p) == f"{p}: metadata 'k' has unknown value type 99"


def test_tensor_problems(tmp_path: Path) -> None:
    raw = np.zeros(4, "<f4").tobytes()
    p = write(tmp_path, gguf_file([("w", [4], F32, raw)])[:-4])
    assert msg(p) == (f"{p}: tensor 'w': data [0, 16) of shape [4] F32 runs past the end of "
                      "the data (12 bytes; truncated?)")
    p = write(tmp_path, gguf_file([("w", [4], F32, raw)], offsets=[8]))
    assert msg(p) == f"{p}: tensor 'w': offset 8 is not a multiple of the alignment (32)"
    p = write(tmp_path, gguf_file([("w", [1, 1, 1, 1, 4], F32, raw)]))
    assert msg(p) == f"{p}: tensor 'w': has 5 dimensions (GGUF allows at most 4)"
    p = write(tmp_path, gguf_file([("w", [4], F32, raw), ("w", [4], F32, raw)]))
    assert msg(p) == f"{p}: tensor 'w': appears twice in the tensor infos"
    p = write(tmp_path, gguf_file([("a", [4], F32, raw), ("b", [4], F32, raw)],
                                  offsets=[0, 0]))
    assert msg(p) == f"{p}: tensor 'b': data [0, ...) overlaps tensor 'a' ([0, 16))"
    q8 = 8
    p = write(tmp_path, gguf_file([("q", [2, 40], q8, b"\x00" * 68)]))
    assert msg(p) == (f"{p}: tensor 'q': innermost dimension 40 is not a multiple of the Q8_0 "
                      "block size (32)")
    # cut inside the tensor infos
    whole = gguf_file([("w", [4], F32, raw)], kv=s("k") + struct.pack("<I", 8) + s("v"),
                      n_kv=1)
    p = write(tmp_path, whole[:63])
    assert msg(p) == (f"{p}: tensor 'w' dims at byte 59 needs 8 bytes but the file ends 4 "
                      "bytes later (truncated?)")


def test_unknown_ggml_type_is_listed_not_fatal(tmp_path: Path) -> None:
    raw = np.ones(8, "<f4").tobytes()
    p = write(tmp_path, gguf_file([("new", [32], 200, b"\x01" * 64), ("w", [8], F32, raw)]))
    a, b = open_checkpoint(str(p)).tensors()
    assert (a.dtype, a.format, a.skip, a.nbytes) == (
        "type 200", None, "unknown GGML type 200 (newer than precli)", 64)
    assert b.read().tolist() == [1.0] * 8


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_files_only_raise_checkpoint_errors(tmp_path: Path, data: Any) -> None:
    raw = np.arange(8, dtype="<f4").tobytes()
    kv = (s("general.alignment") + struct.pack("<II", 4, 32)
          + s("arr") + struct.pack("<IIQ", 9, 8, 2) + s("a") + s("bc"))
    good = bytearray(gguf_file([("w", [2, 4], F32, raw), ("h", [4], 1, raw[:8])], kv=kv,
                               n_kv=2))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(good) - 1))
        good[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(good)))
    p = write(tmp_path, bytes(good[:cut] if data.draw(st.booleans()) else good))
    forget_maps()
    try:
        ck = open_checkpoint(str(p), kind="gguf")
    except CheckpointError as e:
        assert str(e).startswith(f"{p}: ") and "\n" not in str(e)
        return
    for t in ck.tensors():
        if t.format is not None:
            assert len(t.read()) == t.numel


def test_a_block_type_with_no_dimensions_is_refused(tmp_path: Path) -> None:
    """A Q8_0 tensor with n_dims = 0 counted 1 value in 0 bytes: first at offset 0 it read
    the next tensor's bytes as its block, exit 0; last in the file an internal error."""
    q8 = 8
    block = np.zeros(34, np.uint8).tobytes()
    for tensors in ([("s", [], q8, b""), ("w", [32], q8, block)],
                    [("w", [32], q8, block), ("s", [], q8, b"")]):
        p = write(tmp_path, gguf_file(tensors))
        forget_maps()
        assert msg(p) == (f"{p}: tensor 's': has no dimensions, so it cannot hold Q8_0 "
                          "blocks of 32 values")


def test_metadata_arrays_nested_too_deep_are_one_named_error(tmp_path: Path) -> None:
    """A 36 KB file of arrays of arrays 3,000 deep was an internal RecursionError."""
    from precli.sources.gguf import MAX_ARRAY_DEPTH

    arr = 9
    kv = s("deep") + struct.pack("<I", arr) + struct.pack("<IQ", arr, 1) * 3000 + \
        struct.pack("<IQ", 4, 0)  # the innermost: an empty uint32 array
    p = write(tmp_path, gguf_file([], kv=kv, n_kv=1))
    assert msg(p) == (f"{p}: metadata 'deep' nests arrays deeper than {MAX_ARRAY_DEPTH} "
                      "levels")
