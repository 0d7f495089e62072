"""ONNX models: the graph's initializers (and Constant tensors), read with a minimal
protobuf wire-format parser.

Only the fields needed are decoded (``onnx/onnx.proto``): ModelProto (ir_version 1,
producer 2/3, domain 4, model_version 5, graph 7, opset_import 8, metadata_props 14),
GraphProto (node 1, initializer 5, sparse_initializer 15; everything else is skipped by
length), NodeProto / AttributeProto (for Constant nodes) and TensorProto (dims 1,
data_type 2, segment 3, float_data 4, int32_data 5, string_data 6, int64_data 7, name 8,
raw_data 9, double_data 10, uint64_data 11, external_data 13, data_location 14). Why not
the ``onnx`` package: see pyproject.toml.

Where an initializer's elements are:

* ``raw_data``: fixed-width little-endian bytes (4-bit types two per byte, first element in
  the low nibble; 6-bit types an LSB-first bit stream) -- memory-mapped in place;
* ``float_data`` / ``double_data`` (packed fixed32 / fixed64): memory-mapped in place too;
* ``int32_data`` (packed varints): float16 / bfloat16 / float8 / float4 / float6 as their
  bit patterns (4-bit types two per value), and the small integer types -- decoded whole
  on first read (exporters use raw_data for anything large);
* external data (``data_location`` EXTERNAL; ``location`` relative to the model's
  directory, optional ``offset`` and ``length``): memory-mapped from that file. A location
  that escapes the model's directory is refused.

The tensors listed are the graph's initializers and the ``value`` tensors of its Constant
nodes (some exporters, e.g. paddle2onnx, store every weight that way; such a tensor is named
by the node's output), then those of every subgraph, in the order the file holds them. Two
tensors of one name are both listed, the second as ``name#2``. A problem with one
initializer (external file missing or too short, a byte count that does not match its
shape, a typed field of the wrong wire type) is one error in ``Checkpoint.errors``; the
others are still listed.

The nodes are read too (op type, domain, inputs, outputs, integer attributes): they give
each tensor its ``uses`` and ``view`` (:mod:`precli.sources.onnx_graph`) and pair quantized
weights into logical tensors (:mod:`precli.sources.onnx_quant`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from precli.sources.base import Checkpoint, CheckpointError, Tensor
from precli.sources.onnx_graph import Node
from precli.sources.read import (
    InMemory,
    Native,
    Reader,
    Varint,
    decode_codes,
    decode_varints,
    element_reader,
    mapped,
)

# data_type -> (name, bits per element, precli format, skip reason)
TYPES: dict[int, tuple[str, int, str | None, str | None]] = {
    1: ("FLOAT", 32, "fp32", None),
    2: ("UINT8", 8, "uint8", "integer tensor (UINT8)"),
    3: ("INT8", 8, "int8", "integer tensor (INT8)"),
    4: ("UINT16", 16, "uint16", "integer tensor (UINT16)"),
    5: ("INT16", 16, "int16", "integer tensor (INT16)"),
    6: ("INT32", 32, "int32", "integer tensor (INT32)"),
    7: ("INT64", 64, "int64", "integer tensor (INT64)"),
    8: ("STRING", 0, None, "string tensor"),
    9: ("BOOL", 8, None, "bool mask"),
    10: ("FLOAT16", 16, "fp16", None),
    11: ("DOUBLE", 64, "fp64", None),
    12: ("UINT32", 32, "uint32", "integer tensor (UINT32)"),
    13: ("UINT64", 64, "uint64", "integer tensor (UINT64)"),
    14: ("COMPLEX64", 64, None, "complex tensor (COMPLEX64)"),
    15: ("COMPLEX128", 128, None, "complex tensor (COMPLEX128)"),
    16: ("BFLOAT16", 16, "bf16", None),
    17: ("FLOAT8E4M3FN", 8, "e4m3fn", None),
    18: ("FLOAT8E4M3FNUZ", 8, "e4m3fnuz", None),
    19: ("FLOAT8E5M2", 8, "e5m2", None),
    20: ("FLOAT8E5M2FNUZ", 8, "e5m2fnuz", None),
    21: ("UINT4", 4, "uint4", "integer tensor (UINT4)"),
    22: ("INT4", 4, "int4", "integer tensor (INT4)"),
    23: ("FLOAT4E2M1", 4, "e2m1fn", None),
    24: ("FLOAT8E8M0", 8, "e8m0fnu", None),
    25: ("UINT2", 2, "uint2", "integer tensor (UINT2)"),
    26: ("INT2", 2, "int2", "integer tensor (INT2)"),
    27: ("FLOAT6E2M3", 6, "e2m3fn", None),
    28: ("FLOAT6E3M2", 6, "e3m2fn", None),
}

_MODEL_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}
_TYPED_FIELD = {"FLOAT": 4, "COMPLEX64": 4, "DOUBLE": 10, "COMPLEX128": 10, "INT64": 7,
                "UINT32": 11, "UINT64": 11, "STRING": 6}
_DATA_FIELDS = (4, 5, 6, 7, 10, 11)
_WIRE_NAMES = {0: "varint", 1: "fixed64", 2: "length-delimited", 5: "fixed32"}
_FIELD_NAMES = {4: "float_data", 5: "int32_data", 6: "string_data", 7: "int64_data",
                10: "double_data", 11: "uint64_data"}


class _Bad(Exception):
    """A protobuf structure that does not parse: (byte offset, what)."""


Buf = Any  # mmap.mmap | bytes: both index to int and slice to bytes


def _varint(buf: Buf, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Bad(pos, "a varint runs past its message" if pos >= end
                       else "a varint is longer than 10 bytes")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7


def _fields(buf: Buf, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, value or start, end) of each field in buf[start:end]; for
    length-delimited fields value is the start of the bytes and end their end."""
    pos = start
    while pos < end:
        at = pos
        key, pos = _varint(buf, pos, end)
        fno, wt = key >> 3, key & 7
        if fno == 0:
            raise _Bad(at, "field number 0")
        if wt == 0:
            v, pos = _varint(buf, pos, end)
            yield fno, 0, v, pos
        elif wt == 2:
            n, pos = _varint(buf, pos, end)
            if n > end - pos:
                raise _Bad(at, f"field {fno} is {n} bytes long but its message ends "
                           f"{end - pos} bytes later")
            yield fno, 2, pos, pos + n
            pos += n
        elif wt in (1, 5):
            size = 8 if wt == 1 else 4
            if pos + size > end:
                raise _Bad(at, f"field {fno} runs past its message")
            yield fno, wt, pos, pos + size
            pos += size
        else:
            raise _Bad(at, f"wire type {wt} (field {fno}) is not used by ONNX")


def _signed(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def _text(buf: Buf, s: int, e: int) -> str:
    return bytes(buf[s:e]).decode("utf-8", "replace")


def looks_like_onnx(path: str, size: int) -> bool:
    """A protobuf ModelProto: every top-level field is well formed, the first is one of
    ModelProto's, the last ends at the end of the file, and there is a graph."""
    if size < 2:
        return False
    try:
        buf = mapped(path)
        first = True
        graph = False
        for fno, wt, _, _ in _fields(buf, 0, size):
            if first and _MODEL_FIELDS.get(fno) != wt:
                return False
            first = False
            graph |= fno == 7 and wt == 2
        return graph
    except (_Bad, OSError, ValueError):
        return False


def open_file(path: str, quantized: bool = True) -> Checkpoint:
    """The model's stored tensors with the graph's ``uses`` and ``view``; with
    ``quantized``, each quantized weight as one logical tensor
    (:mod:`precli.sources.onnx_quant`), else the raw tensors."""
    try:
        buf = mapped(path)
    except (OSError, ValueError) as e:
        raise CheckpointError(path, f"cannot read ({e})") from None
    try:
        return _parse_model(path, buf, quantized)
    except _Bad as e:
        at, what = e.args
        raise CheckpointError(path, f"is not a valid ONNX model: at byte {at}: {what}") \
            from None


def _parse_model(path: str, buf: Buf, quantized: bool = True) -> Checkpoint:
    meta: dict[str, str] = {}
    graph: tuple[int, int] | None = None
    opsets: list[str] = []
    for fno, wt, a, b in _fields(buf, 0, len(buf)):
        if fno == 1 and wt == 0:
            meta["ir_version"] = str(a)
        elif fno in (2, 3, 4) and wt == 2:
            meta[{2: "producer_name", 3: "producer_version", 4: "domain"}[fno]] = \
                _text(buf, a, b)
        elif fno == 5 and wt == 0:
            meta["model_version"] = str(_signed(a))
        elif fno == 7 and wt == 2:
            graph = (a, b)
        elif fno == 8 and wt == 2:
            dom, ver = "", 0
            for f2, w2, c, d in _fields(buf, a, b):
                if f2 == 1 and w2 == 2:
                    dom = _text(buf, c, d)
                elif f2 == 2 and w2 == 0:
                    ver = _signed(c)
            opsets.append(f"{dom or 'ai.onnx'}:{ver}")
        elif fno == 14 and wt == 2:
            k, v = _string_pair(buf, a, b)
            meta[k] = v
    if opsets:
        meta["opset_import"] = ", ".join(opsets)
    if graph is None:
        raise CheckpointError(path, "is an ONNX model without a graph")
    tensors: list[Tensor] = []
    errors: list[CheckpointError] = []
    found: list[_RawNode] = []
    _graph_tensors(path, buf, graph[0], graph[1], ("",), 0, tensors, errors, [0], found)
    tensors = _unique_names(tensors)
    nodes = _resolve(found, tensors)
    from precli.sources.onnx_graph import annotate

    tensors = annotate(tensors, nodes)
    if quantized:
        from precli.sources.onnx_quant import pair_graph

        tensors, more = pair_graph(tensors, nodes)
        errors += more
    return Checkpoint(path, "onnx", meta, tensors, errors)


def _unique_names(tensors: list[Tensor]) -> list[Tensor]:
    """Two tensors of one name (two initializers, or a Constant output named like an
    initializer) both stay: the second is ``name#2``, the third ``name#3``."""
    seen: dict[str, int] = {}
    taken = {t.name for t in tensors}
    out = []
    for t in tensors:
        k = seen.get(t.name, 0) + 1
        seen[t.name] = k
        if k == 1:
            out.append(t)
            continue
        new = f"{t.name}#{k}"
        while new in taken:
            k += 1
            new = f"{t.name}#{k}"
        taken.add(new)
        out.append(replace(t, name=new))
    return out


# (scope: the subgraph prefixes from the main graph inwards, op, domain, inputs, outputs,
# integer attributes, node name)
_RawNode = tuple[tuple[str, ...], str, str, list[str], list[str], dict[str, int], str]


def _resolve(found: list[_RawNode], tensors: list[Tensor]) -> list[Node]:
    """Nodes with their input and output names as the reader names tensors: a name a
    subgraph uses is its own (prefixed) value if it has one, else the enclosing graph's."""
    known = {t.name for t in tensors}
    for scope, _, _, _, outs, _, _ in found:
        known.update(scope[-1] + o for o in outs if o)

    def res(name: str, scope: tuple[str, ...]) -> str:
        if not name:
            return ""
        for p in reversed(scope):
            if p + name in known:
                return p + name
        return scope[-1] + name

    return [Node(op, dom, tuple(res(i, sc) for i in ins),
                 tuple(sc[-1] + o if o else "" for o in outs), ints, name)
            for sc, op, dom, ins, outs, ints, name in found]


#: If / Loop / Scan bodies nest graphs in node attributes; deeper than this is refused (real
#: models nest a few levels; protobuf itself stops near 33).
MAX_GRAPH_DEPTH = 16


def _graph_tensors(path: str, buf: Buf, a: int, b: int, scope: tuple[str, ...], depth: int,
                   tensors: list[Tensor], errors: list[CheckpointError], index: list[int],
                   nodes: list[_RawNode]) -> None:
    """The initializers, sparse initializers and Constant values of one GraphProto, then
    of every graph in its nodes' attributes (GRAPH and GRAPHS: If branches, Loop and Scan
    bodies) at any depth. A subgraph's tensors are named by their path:
    ``node/attribute/name`` (a node without a name is ``OpType#i``). Every node is
    appended to ``nodes`` with its scope."""
    prefix = scope[-1]
    node = 0
    for fno, wt, c, d in _fields(buf, a, b):
        if fno == 1 and wt == 2:  # a node: Constant values, and subgraphs in attributes
            nodes.append((scope, *_node(buf, c, d)))
            value = _constant_value(buf, c, d)
            if value is not None:
                out_name, e, f = value
                try:
                    tensors.append(_initializer(path, buf, e, f, index[0], out_name, prefix))
                except CheckpointError as err:
                    errors.append(err)
                index[0] += 1
            for label, e, f in _subgraphs(buf, c, d, node):
                if depth >= MAX_GRAPH_DEPTH:
                    raise CheckpointError(path, f"has subgraphs nested deeper than "
                                                f"{MAX_GRAPH_DEPTH} levels ({prefix}{label})")
                _graph_tensors(path, buf, e, f, (*scope, f"{prefix}{label}/"), depth + 1,
                               tensors, errors, index, nodes)
            node += 1
        elif fno == 5 and wt == 2:
            try:
                tensors.append(_initializer(path, buf, c, d, index[0], None, prefix))
            except CheckpointError as err:
                errors.append(err)
            index[0] += 1
        elif fno == 15 and wt == 2:
            t = _sparse(path, buf, c, d, index[0])
            tensors.append(replace(t, name=prefix + t.name) if prefix else t)
            index[0] += 1


def _subgraphs(buf: Buf, a: int, b: int, node: int) -> list[tuple[str, int, int]]:
    """(``node/attribute`` label, span) of each graph in a NodeProto's attributes
    (NodeProto: name 3, op_type 4, attribute 5; AttributeProto: name 1, g 6, graphs 11)."""
    name = op = ""
    found: list[tuple[str, list[tuple[int, int]]]] = []
    for fno, wt, c, d in _fields(buf, a, b):
        if wt != 2:
            continue
        if fno == 3:
            name = _text(buf, c, d)
        elif fno == 4:
            op = _text(buf, c, d)
        elif fno == 5:
            attr, spans = "", []
            for f2, w2, e, f in _fields(buf, c, d):
                if f2 == 1 and w2 == 2:
                    attr = _text(buf, e, f)
                elif f2 in (6, 11) and w2 == 2:
                    spans.append((e, f))
            if spans:
                found.append((attr, spans))
    label = name or f"{op or 'node'}#{node}"
    out = []
    for attr, spans in found:
        for j, (e, f) in enumerate(spans):
            out.append((f"{label}/{attr}" + (f"[{j}]" if len(spans) > 1 else ""), e, f))
    return out


def _node(buf: Buf, a: int, b: int
          ) -> tuple[str, str, list[str], list[str], dict[str, int], str]:
    """(op type, domain, inputs, outputs, integer attributes, name) of a NodeProto (input 1,
    output 2, name 3, op_type 4, attribute 5, domain 7; AttributeProto: name 1, i 3)."""
    op = domain = name = ""
    ins: list[str] = []
    outs: list[str] = []
    ints: dict[str, int] = {}
    for fno, wt, c, d in _fields(buf, a, b):
        if wt != 2:
            continue
        if fno == 1:
            ins.append(_text(buf, c, d))
        elif fno == 2:
            outs.append(_text(buf, c, d))
        elif fno == 3:
            name = _text(buf, c, d)
        elif fno == 4:
            op = _text(buf, c, d)
        elif fno == 7:
            domain = _text(buf, c, d)
        elif fno == 5:
            key, val = "", None
            for f2, w2, e, f in _fields(buf, c, d):
                if f2 == 1 and w2 == 2:
                    key = _text(buf, e, f)
                elif f2 == 3 and w2 == 0:
                    val = _signed(e)
            if key and val is not None:
                ints[key] = val
    return op, domain, ins, outs, ints, name


def _constant_value(buf: Buf, a: int, b: int) -> tuple[str | None, int, int] | None:
    """A Constant node's output name and the span of its ``value`` TensorProto (NodeProto:
    output 2, op_type 4, attribute 5, domain 7; AttributeProto: name 1, t 5), else None."""
    op = domain = ""
    output: str | None = None
    attrs: list[tuple[int, int]] = []
    for fno, wt, c, d in _fields(buf, a, b):
        if wt != 2:
            continue
        if fno == 4:
            op = _text(buf, c, d)
        elif fno == 2 and output is None:
            output = _text(buf, c, d)
        elif fno == 5:
            attrs.append((c, d))
        elif fno == 7:
            domain = _text(buf, c, d)
    if op != "Constant" or domain not in ("", "ai.onnx"):
        return None
    for c, d in attrs:
        name, span = "", None
        for fno, wt, e, f in _fields(buf, c, d):
            if fno == 1 and wt == 2:
                name = _text(buf, e, f)
            elif fno == 5 and wt == 2:
                span = (e, f)
        if name == "value" and span is not None:
            return output, span[0], span[1]
    return None


def _string_pair(buf: Buf, a: int, b: int) -> tuple[str, str]:
    k = v = ""
    for f, w, c, d in _fields(buf, a, b):
        if w == 2 and f == 1:
            k = _text(buf, c, d)
        elif w == 2 and f == 2:
            v = _text(buf, c, d)
    return k, v


class _Proto:
    """The TensorProto fields precli needs."""

    def __init__(self) -> None:
        self.dims: list[int] = []
        self.data_type = 0
        self.name: str | None = None
        self.raw: tuple[int, int] | None = None
        self.typed: dict[int, list[tuple[int, int, int]]] = {}  # field -> (wt, a, b)
        self.external: dict[str, str] = {}
        self.location = 0
        self.segment = False


def _tensor_proto(buf: Buf, a: int, b: int) -> _Proto:
    p = _Proto()
    for fno, wt, c, d in _fields(buf, a, b):
        if fno == 1:
            if wt == 0:
                p.dims.append(_signed(c))
            elif wt == 2:
                pos = c
                while pos < d:
                    v, pos = _varint(buf, pos, d)
                    p.dims.append(_signed(v))
        elif fno == 2 and wt == 0:
            p.data_type = c
        elif fno == 3:
            p.segment = True
        elif fno == 8 and wt == 2:
            p.name = _text(buf, c, d)
        elif fno == 9 and wt == 2:
            p.raw = (c, d)
        elif fno in _DATA_FIELDS:
            p.typed.setdefault(fno, []).append((wt, c, d))
        elif fno == 13 and wt == 2:
            key, val = _string_pair(buf, c, d)
            p.external[key] = val
        elif fno == 14 and wt == 0:
            p.location = c
    return p


def _sparse(path: str, buf: Buf, a: int, b: int, index: int) -> Tensor:
    name, dtype, dims = f"<sparse initializer {index}>", "UNDEFINED", []
    for fno, wt, c, d in _fields(buf, a, b):
        if fno == 1 and wt == 2:
            v = _tensor_proto(buf, c, d)
            name = v.name or name
            dtype = TYPES[v.data_type][0] if v.data_type in TYPES else f"type {v.data_type}"
        elif fno == 3 and wt == 0:
            dims.append(_signed(c))
        elif fno == 3 and wt == 2:
            pos = c
            while pos < d:
                x, pos = _varint(buf, pos, d)
                dims.append(_signed(x))
    return Tensor(name, dtype, tuple(dims), None, "sparse initializer (not read)", 0, path)


def _initializer(path: str, buf: Buf, a: int, b: int, index: int,
                 output: str | None = None, prefix: str = "") -> Tensor:
    """An initializer's TensorProto, or a Constant node's value (named by its output);
    ``prefix`` is the path of the subgraph it sits in."""
    p = _tensor_proto(buf, a, b)
    name = prefix + (output or p.name or f"<initializer {index}>")

    def bad(msg: str) -> CheckpointError:
        return CheckpointError(path, msg, name)

    if p.segment:
        raise bad("is segmented (TensorProto.segment), which precli does not read")
    info = TYPES.get(p.data_type)
    if info is None:
        raise bad(f"unknown data_type {p.data_type}")
    dtype, bits, fmt, skip = info
    if any(d < 0 for d in p.dims):
        raise bad(f"dims {p.dims} has a negative dimension")
    shape = tuple(p.dims)
    numel = 1
    for d in shape:
        numel *= d
    need = -(-numel * bits // 8)
    readable = fmt if skip is None or (fmt is not None and (
        bits >= 8 or dtype in ("INT4", "UINT4", "INT2", "UINT2"))) else None
    if dtype == "BOOL":
        readable = "bool"
    if p.location == 1:
        return _external(path, name, p, dtype, shape, fmt, skip, need, readable)
    if p.raw is not None:
        s, e = p.raw
        if dtype != "STRING" and e - s != need:
            raise bad(f"raw_data holds {e - s} bytes but dims {list(shape)} of {dtype} need "
                      f"{need}")
        return Tensor(name, dtype, shape, fmt, skip, e - s, path,
                      element_reader(path, s, readable, e - s))
    return _typed(path, buf, name, p, dtype, shape, fmt, skip, numel, readable)


def _external(path: str, name: str, p: _Proto, dtype: str, shape: tuple[int, ...],
              fmt: str | None, skip: str | None, need: int,
              readable: str | None) -> Tensor:
    def bad(msg: str) -> CheckpointError:
        return CheckpointError(path, msg, name)

    loc = p.external.get("location")
    if not loc:
        raise bad("external data without a location")
    if "\x00" in loc:  # no file is called that: os would raise ValueError
        raise bad(f"external data location {loc!r} holds a NUL byte")
    base = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    target = os.path.realpath(os.path.join(base, loc))
    if os.path.isabs(loc) or os.path.commonpath([base, target]) != base:
        raise bad(f"external data location {loc!r} is outside the model's directory "
                  "(refused)")
    try:
        offset = int(p.external.get("offset", "0"))
        length = int(p.external["length"]) if "length" in p.external else None
    except ValueError:
        raise bad(f"external data offset/length are not integers ({p.external.get('offset')!r}"
                  f", {p.external.get('length')!r})") from None
    if offset < 0 or (length is not None and length < 0):
        raise bad("external data offset/length are negative")
    ext = os.path.join(os.path.dirname(path), loc)
    try:
        size = os.path.getsize(ext)
    except OSError:
        raise bad(f"external data file {loc!r} is missing") from None
    if not os.path.isfile(ext):
        raise bad(f"external data location {loc!r} is not a file")
    if offset > size:
        raise bad(f"external data offset {offset} is past the end of {loc!r} ({size} bytes)")
    if length is None:
        length = size - offset
    if offset + length > size:
        raise bad(f"external data [{offset}, {offset + length}) runs past the end of {loc!r} "
                  f"({size} bytes)")
    if dtype == "STRING":
        raise bad("a STRING tensor cannot have external data")
    if length != need:
        raise bad(f"external data holds {length} bytes but dims {list(shape)} of {dtype} need "
                  f"{need}")
    return Tensor(name, dtype, shape, fmt, skip, length, ext,
                  element_reader(ext, offset, readable, length))


def _typed(path: str, buf: Buf, name: str, p: _Proto, dtype: str, shape: tuple[int, ...],
           fmt: str | None, skip: str | None, numel: int, readable: str | None) -> Tensor:
    def bad(msg: str) -> CheckpointError:
        return CheckpointError(path, msg, name)

    want = _TYPED_FIELD.get(dtype, 5)
    for f in p.typed:
        if f != want:
            raise bad(f"{_FIELD_NAMES[f]} holds data, but a {dtype} tensor keeps its elements "
                      f"in {_FIELD_NAMES[want]} or raw_data")
    segs = p.typed.get(want, [])
    nbytes = sum(d - c for _, c, d in segs)
    if not segs:
        if numel:
            raise bad(f"has no data (no raw_data, no {_FIELD_NAMES[want]}, no external data)")
        return Tensor(name, dtype, shape, fmt, skip, 0, path,
                      element_reader(path, 0, readable, 0) if readable else None)
    if dtype == "STRING":
        return Tensor(name, dtype, shape, fmt, skip, nbytes, path)
    fixed = {4: "<f4", 10: "<f8"}.get(want)
    per = 2 if dtype in ("COMPLEX64", "COMPLEX128") else 1
    how = _how(dtype, fmt)
    if fixed is not None:
        size = 4 if want == 4 else 8
        for wt, c, d in segs:
            if wt not in (2, 5 if size == 4 else 1):
                raise bad(f"{_FIELD_NAMES[want]} has wire type {wt} ("
                          f"{_WIRE_NAMES.get(wt, 'unknown')}); it holds fixed{8 * size} values")
            if (d - c) % size:
                raise bad(f"{_FIELD_NAMES[want]} has a run of {d - c} bytes, not a multiple of "
                          f"{size}")
        if len(segs) == 1 and segs[0][0] == 2:  # one packed run: map it in place
            _, c, d = segs[0]
            if (d - c) % size or (d - c) // size != per * numel:
                raise bad(f"{_FIELD_NAMES[want]} holds {(d - c) / size:g} values for "
                          f"{per * numel} elements")
            reader: Reader | None = Native(path, c, fixed) if per == 1 else None
            return Tensor(name, dtype, shape, fmt, skip, d - c, path, reader)
        vals = np.concatenate([np.frombuffer(bytes(buf[c:d]), fixed) for _, c, d in segs])
        if len(vals) != per * numel:
            raise bad(f"{_FIELD_NAMES[want]} holds {len(vals)} values for {per * numel} "
                      "elements")
        return Tensor(name, dtype, shape, fmt, skip, nbytes, path,
                      InMemory(path, 0, vals) if per == 1 else None)
    # varint fields
    if how is None:
        return Tensor(name, dtype, shape, fmt, skip, nbytes, path)
    per_value = 2 if how.startswith(("4:", "i4:")) else 1
    values = -(-numel // per_value)
    if len(segs) == 1 and segs[0][0] == 2:
        _, c, d = segs[0]
        raw = np.frombuffer(buf, np.uint8, d - c, c)
        count = int(np.count_nonzero(raw < 0x80))
        if d > c and raw[-1] >= 0x80:
            raise bad(f"{_FIELD_NAMES[want]} ends inside a varint")
        if count != values:
            raise bad(f"{_FIELD_NAMES[want]} holds {count} values for {numel} elements")
        return Tensor(name, dtype, shape, fmt, skip, d - c, path,
                      Varint(path, c, d - c, numel, how, name))
    codes: list[int] = []
    for wt, c, d in segs:
        if wt == 0:
            codes.append(c)
        elif wt == 2:
            if d > c and buf[d - 1] >= 0x80:
                raise bad(f"{_FIELD_NAMES[want]} ends inside a varint (a packed run cut "
                          "mid-value)")
            try:
                codes.extend(int(x) for x in decode_varints(np.frombuffer(bytes(buf[c:d]),
                                                                          np.uint8)))
            except (ValueError, IndexError):
                raise bad(f"{_FIELD_NAMES[want]} does not parse") from None
        else:
            raise bad(f"{_FIELD_NAMES[want]} has wire type {wt}")
    try:
        vals = decode_codes(how, np.array(codes, np.uint64), numel)
    except ValueError as e:
        raise bad(f"{_FIELD_NAMES[want]} {e}") from None
    return Tensor(name, dtype, shape, fmt, skip, nbytes, path, InMemory(path, 0, vals))


def _how(dtype: str, fmt: str | None) -> str | None:
    """How Varint decodes this type's int32_data / int64_data / uint64_data values."""
    if dtype == "FLOAT16":
        return "fp16"
    if dtype == "BFLOAT16":
        return "bf16"
    if dtype == "BOOL":
        return "bool"
    if dtype == "FLOAT4E2M1":
        return "4:e2m1fn"
    if dtype in ("UINT4", "INT4"):
        return f"i4:{fmt}"
    if fmt is None or dtype in ("UINT2", "INT2"):
        return None
    if fmt.startswith(("int", "uint")):
        return f"int:{fmt}"
    return fmt
