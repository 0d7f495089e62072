"""precli.sources for .npy and .npz: values checked against numpy's own np.load."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from precli.errors import ExitStatus
from precli.sources import CheckpointError, detect, open_checkpoint
from precli.sources.read import DECODED_CACHE


def arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    return {
        "w": rng.standard_normal((4, 6)).astype(np.float32),
        "h": rng.standard_normal(7).astype(np.float16),
        "d": rng.standard_normal((2, 3, 2)),
        "fortran": np.asfortranarray(rng.standard_normal((3, 5)).astype(np.float32)),
        "big_endian": rng.standard_normal(5).astype(">f4"),
        "idx": np.arange(10, dtype=np.int64),
        "mask": np.array([True, False, True]),
        "z": np.array([1 + 1j], np.complex64),
        "s": np.array(["ab", "c"]),
        "scalar": np.array(3.5),
        "empty": np.zeros((0, 3), np.float32),
    }


EXPECT = {  # name -> (dtype text, format, skip)
    "w": ("float32", "fp32", None),
    "h": ("float16", "fp16", None),
    "d": ("float64", "fp64", None),
    "fortran": ("float32", "fp32", None),
    "big_endian": ("float32", "fp32", None),
    "idx": ("int64", "int64", "integer tensor (int64)"),
    "mask": ("bool", None, "bool mask"),
    "z": ("complex64", None, "complex tensor (complex64)"),
    "s": ("str64", None, "<U2 elements are not numbers"),
    "scalar": ("float64", "fp64", None),
    "empty": ("float32", "fp32", None),
}


def check(ck: Any, arrs: dict[str, np.ndarray]) -> None:
    got = {t.name: t for t in ck.tensors()}
    assert list(got) == list(arrs)
    for name, a in arrs.items():
        t = got[name]
        assert (t.dtype, t.format, t.skip) == EXPECT[name], name
        assert t.shape == a.shape and t.nbytes == a.nbytes
        if name in ("z", "s"):
            with pytest.raises(CheckpointError):
                t.read()
            continue
        flat = np.ascontiguousarray(a).reshape(-1)
        np.testing.assert_array_equal(t.read(), flat)
        assert t.read().dtype == flat.dtype.newbyteorder("=")
        if t.numel > 3:
            np.testing.assert_array_equal(t.read(1, 3), flat[1:3])
            np.testing.assert_array_equal(np.concatenate(list(t.chunks(2))), flat)


def test_npy_each_dtype(tmp_path: Path) -> None:
    for name, a in arrays().items():
        p = tmp_path / f"{name}.npy"
        np.save(p, a)
        assert detect(str(p)) == "npy"
        ck = open_checkpoint(str(p))
        assert ck.kind == "npy"
        check(ck, {name: np.load(p)})


def test_npy_native_reads_are_views(tmp_path: Path) -> None:
    p = tmp_path / "w.npy"
    np.save(p, np.arange(10, dtype=np.float32))
    (t,) = open_checkpoint(str(p)).tensors()
    r = t.read(2, 8)
    assert not r.flags.owndata and not r.flags.writeable


@pytest.mark.parametrize("compressed", [False, True])
def test_npz(tmp_path: Path, compressed: bool) -> None:
    arrs = arrays()
    p = tmp_path / "m.npz"
    (np.savez_compressed if compressed else np.savez)(p, **arrs)
    assert detect(str(p)) == "npz"
    ck = open_checkpoint(str(p))
    assert ck.kind == "npz" and ck.errors == []
    with np.load(p, allow_pickle=False) as oracle:
        check(ck, {k: oracle[k] for k in oracle.files})
    if not compressed:  # stored members are mapped in place
        t = next(t for t in ck.tensors() if t.name == "w")
        assert not t.read().flags.owndata
        assert DECODED_CACHE == {}


def test_npz_compressed_member_streamed_not_decompressed_whole(tmp_path: Path) -> None:
    p = tmp_path / "c.npz"
    a = np.arange(1000, dtype=np.float32)
    np.savez_compressed(p, a=a, b=a * 2)
    ta, tb = open_checkpoint(str(p)).tensors()
    parts = list(ta.chunks(100))
    assert len(DECODED_CACHE) == 0  # inflated a chunk at a time, never whole
    np.testing.assert_array_equal(np.concatenate(parts), a)
    np.testing.assert_array_equal(tb.read(), a * 2)
    f = tmp_path / "f.npz"  # Fortran order: inflated whole, one member at a time
    np.savez_compressed(f, a=np.asfortranarray(a.reshape(20, 50)))
    (tf,) = open_checkpoint(str(f)).tensors()
    np.testing.assert_array_equal(np.concatenate(list(tf.chunks(100))), a)
    assert len(DECODED_CACHE) == 1


def test_npy_object_array_is_refused_unpickled(tmp_path: Path) -> None:
    p = tmp_path / "o.npy"
    np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CheckpointError) as ei:
        open_checkpoint(str(p))
    assert str(ei.value).startswith(f"{p}: not a readable .npy without unpickling (")
    assert ei.value.exit_code == ExitStatus.DATA_ERROR
    z = tmp_path / "o.npz"
    np.savez(z, o=np.array([{"a": 1}], dtype=object), w=np.ones(2, np.float32))
    ts = {t.name: t for t in open_checkpoint(str(z)).tensors()}
    assert ts["o"].skip == "object array (reading it would need unpickling)"
    with pytest.raises(CheckpointError, match="tensor 'o': cannot read object"):
        ts["o"].read()
    assert ts["w"].read().tolist() == [1.0, 1.0]


def test_truncated_npy_and_npz(tmp_path: Path) -> None:
    p = tmp_path / "t.npy"
    np.save(p, np.zeros(100, np.float32))
    p.write_bytes(p.read_bytes()[:-8])
    with pytest.raises(CheckpointError) as ei:
        open_checkpoint(str(p))
    assert str(ei.value).startswith(f"{p}: not a readable .npy without unpickling (")
    z = tmp_path / "t.npz"
    np.savez(z, a=np.zeros(100, np.float32))
    z.write_bytes(z.read_bytes()[:200])
    with pytest.raises(CheckpointError) as ei:
        open_checkpoint(str(z))
    assert str(ei.value).startswith(f"{z}: is a damaged zip archive (")


def test_zip_without_arrays(tmp_path: Path) -> None:
    z = tmp_path / "x.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(CheckpointError) as ei:
        open_checkpoint(str(z))
    assert str(ei.value) == (f"{z}: is a zip archive with no .npy members (it holds "
                             "readme.txt); precli reads .npz archives")


def test_npz_member_size_mismatch(tmp_path: Path) -> None:
    z = tmp_path / "bad.npz"
    buf = tmp_path / "a.npy"
    np.save(buf, np.zeros(4, np.float32))
    data = buf.read_bytes()[:-4]  # header says 4 float32, data holds 3
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a.npy", data)
    ck = open_checkpoint(str(z))  # one error for the member; the other members listed
    assert list(ck.tensors()) == []
    assert [str(e) for e in ck.errors] == [f"{z}: tensor 'a': member holds 12 bytes of data "
                                           "but shape [4] of float32 declares 4 values (16 "
                                           "bytes)"]


def test_npy_format_3_0_header_is_read(tmp_path: Path) -> None:
    """Version 3.0 (a utf-8 header) through numpy's public readers only: the old path used
    numpy's private _read_array_header, which numpy 2 no longer has."""
    from precli.sources.npy import read_header

    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = tmp_path / "v3.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array(f, a, version=(3, 0))
    with open(path, "rb") as f:
        assert read_header(f) == ((2, 3), False, np.dtype(np.float32))
        assert f.read() == a.tobytes()
    ck = open_checkpoint(str(path))
    (t,) = list(ck.tensors())
    assert t.shape == (2, 3) and t.read().tolist() == a.reshape(-1).tolist()


def test_a_header_that_declares_fewer_values_than_the_data_is_refused(tmp_path: Path) -> None:
    """An .npy whose header shape is smaller than its data read the first values, exit 0."""
    from typer.testing import CliRunner

    from precli.cli.app import app

    p = tmp_path / "lie.npy"
    np.save(p, np.arange(12, dtype=np.float32))
    data = bytearray(p.read_bytes())
    i = data.index(b"(12,)")
    data[i:i + 5] = b"(6,) "  # same header length: numpy still parses it
    p.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"holds 24 byte\(s\) after the 6 values its "
                                              r"header declares \(shape \(6,\)\)"):
        open_checkpoint(str(p))
    r = CliRunner().invoke(app, ["compare", str(p), "-F", "bf16"], env={"NO_COLOR": "1"})
    assert r.exit_code == 2 and "holds 24 byte(s) after the 6 values" in r.stderr
