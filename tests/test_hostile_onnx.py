"""Hostile ONNX files (issue 18 audit items 6-9): each gives one error line naming the file
and the tensor, with the healthy tensors still reported, or a correct answer. The models are
raw protobuf bytes written here field by field (the onnx package would not write them)."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from precli.sources import open_checkpoint


def varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def field(no: int, wt: int, payload: bytes | int) -> bytes:
    key = varint(no << 3 | wt)
    if wt == 0:
        assert isinstance(payload, int)
        return key + varint(payload)
    assert isinstance(payload, bytes)
    if wt == 2:
        return key + varint(len(payload)) + payload
    return key + payload  # fixed32 / fixed64


def tensor(name: str, dtype: int, dims: list[int], *data: bytes) -> bytes:
    return (b"".join(field(1, 0, d) for d in dims) + field(2, 0, dtype)
            + field(8, 2, name.encode()) + b"".join(data))


def model(*initializers: bytes, nodes: tuple[bytes, ...] = ()) -> bytes:
    graph = b"".join(field(1, 2, n) for n in nodes) + b"".join(
        field(5, 2, t) for t in initializers)
    return field(1, 0, 8) + field(7, 2, graph)


def healthy() -> bytes:
    return tensor("ok", 1, [2], field(9, 2, np.array([1.5, -2], "<f4").tobytes()))


def one_error(path: Path) -> str:
    ck = open_checkpoint(str(path))
    assert [t.name for t in ck.tensors()] == ["ok"]
    assert ck.tensors().__next__().read().tolist() == [1.5, -2.0]
    (e,) = ck.errors
    msg = str(e)
    assert "\n" not in msg and msg.startswith(f"{path}: tensor 'w': ")
    p = subprocess.run([sys.executable, "-m", "precli", "check", str(path)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert msg in p.stderr
    return msg[len(f"{path}: tensor 'w': "):]


def test_6_float_data_as_varints_is_a_named_error(tmp_path: Path) -> None:
    p = tmp_path / "m.onnx"
    bad = tensor("w", 1, [2], field(4, 0, 7), field(4, 0, 9))
    p.write_bytes(model(healthy(), bad))
    assert one_error(p) == ("float_data has wire type 0 (varint); it holds fixed32 values")


def test_6_float_data_in_runs_of_4_and_3_bytes_is_a_named_error(tmp_path: Path) -> None:
    p = tmp_path / "m.onnx"
    raw = np.array([1.0, 2.0], "<f4").tobytes()
    bad = tensor("w", 1, [2], field(4, 2, raw[:4]), field(4, 2, raw[4:7]))
    p.write_bytes(model(healthy(), bad))
    assert one_error(p) == "float_data has a run of 3 bytes, not a multiple of 4"


def test_6_float_data_as_single_fixed32_values_is_read(tmp_path: Path) -> None:
    p = tmp_path / "m.onnx"
    ok = tensor("w", 1, [2], field(4, 5, struct.pack("<f", 0.25)),
                field(4, 5, struct.pack("<f", -3.0)))
    p.write_bytes(model(ok))
    (t,) = open_checkpoint(str(p)).tensors()
    assert t.read().tolist() == [0.25, -3.0]


def test_7_a_varint_cut_between_two_packed_runs_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "m.onnx"
    codes = varint(0x3C00) + varint(0xC000)  # float16 1.0, -2.0: two bytes, three bytes
    bad = tensor("w", 10, [2], field(5, 2, codes[:4]), field(5, 2, codes[4:]))
    p.write_bytes(model(healthy(), bad))
    assert one_error(p) == "int32_data ends inside a varint (a packed run cut mid-value)"
    # the same values split between whole varints are read
    good = tensor("ok", 10, [2], field(5, 2, codes[:2]), field(5, 2, codes[2:]))
    p.write_bytes(model(good))
    (t,) = open_checkpoint(str(p)).tensors()
    assert t.read().tolist() == [1.0, -2.0]


def test_8_external_offset_past_the_end_names_the_data_file(tmp_path: Path) -> None:
    (tmp_path / "w.bin").write_bytes(b"\x00" * 16)

    def kv(k: str, v: str) -> bytes:
        return field(13, 2, field(1, 2, k.encode()) + field(2, 2, v.encode()))

    bad = tensor("w", 1, [4], kv("location", "w.bin"), kv("offset", "1000"), field(14, 0, 1))
    p = tmp_path / "m.onnx"
    p.write_bytes(model(healthy(), bad))
    assert one_error(p) == "external data offset 1000 is past the end of 'w.bin' (16 bytes)"


def node(op: str, ins: list[str], outs: list[str], *attrs: bytes) -> bytes:
    return (b"".join(field(1, 2, i.encode()) for i in ins)
            + b"".join(field(2, 2, o.encode()) for o in outs) + field(4, 2, op.encode())
            + b"".join(field(5, 2, a) for a in attrs))


@pytest.mark.parametrize("how", ["two initializers", "constant and initializer"])
def test_9_two_tensors_of_one_name_are_both_reported(tmp_path: Path, how: str) -> None:
    a = tensor("w", 1, [2], field(9, 2, np.array([1, 2], "<f4").tobytes()))
    b = tensor("w", 1, [3], field(9, 2, np.array([3, 4, 5], "<f4").tobytes()))
    p = tmp_path / "m.onnx"
    if how == "two initializers":
        p.write_bytes(model(a, b))
        want = {"w": [1, 2], "w#2": [3, 4, 5]}
    else:
        value = field(1, 2, b"value") + field(5, 2, b) + field(20, 0, 4)
        p.write_bytes(model(a, nodes=(node("Constant", [], ["w"], value),)))
        want = {"w": [3, 4, 5], "w#2": [1, 2]}  # file order: nodes before initializers
    ck = open_checkpoint(str(p))
    assert ck.errors == []
    assert {t.name: t.read().tolist() for t in ck.tensors()} == want
