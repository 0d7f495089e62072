"""Quantized ONNX weights read back as one logical tensor each, paired through the graph.

An ONNX model stores a quantized weight as several initializers (or Constant values): the
integer (or float8 / float4) elements, a scale, often a zero point. The node that consumes
them says how they belong together. Each family becomes one :class:`QuantTensor` (as
:mod:`precli.sources.quantized` does for safetensors): ``read`` gives the dequantized values
the way onnxruntime computes them, ``decompose`` the element values ``q - z`` and the
effective scale exactly (float64), and ``parts`` the raw tensors for ``precli check``; the
raw tensors are not listed on their own.

The families (``W`` stands for any name):

* **QDQ** (``quantize_static`` QDQ format, and any exporter): ``DequantizeLinear(x,
  x_scale[, x_zero_point])`` whose ``x`` is stored, of INT8, UINT8, INT16, UINT16, INT32,
  INT4, UINT4, FLOAT8E4M3FN / E4M3FNUZ / E5M2 / E5M2FNUZ or FLOAT4E2M1; per tensor (one
  scale), per axis (``axis``, default 1: a 1-D scale as long as that axis) or blocked
  (``block_size``, opset 21: the scale has the weight's rank, that axis
  ``ceil(d / block_size)`` long). The logical tensor takes the view its output's consumer
  gives (:mod:`precli.sources.onnx_graph`).
* **QOperator**: the weight inputs (w, w_scale, w_zero_point) of ``QLinearConv`` (3, 4, 5;
  per output channel: axis 0), ``QLinearMatMul`` (3, 4, 5; per column: the last axis),
  com.microsoft ``QGemm`` (3, 4, 5; per output: axis 0 with ``transB``, else 1),
  ``MatMulIntegerToFloat`` (1, 3, 5) and ``DynamicQuantizeMatMul`` (1, 2, 3).
* **Dynamic** (``quantize_dynamic``): ``MatMulInteger`` / ``ConvInteger`` read the weight
  ``W_quantized`` (input 1) and its zero point ``W_zero_point`` (input 3); the scale is
  not their input but ``W_scale``, which a ``Mul`` multiplies into the activation's scale
  after the integer product. It is paired by that name. (``quantize_dynamic`` transposes a
  ``Gemm``'s ``transB`` weight into ``W_Transposed_quantized`` ``[K, N]``.)
* **MatMulNBits** (com.microsoft; ``MatMulNBitsQuantizer``): B ``[N, k_blocks, blob]`` uint8,
  ``bits`` (2, 4 or 8) wide codes, ``8 / bits`` to a byte, the first in the low bits;
  ``scales`` ``[N * k_blocks]``; ``zero_points`` packed the same way ``[N *
  ceil(k_blocks * bits / 8)]`` uint8, or of the scales' type ``[N * k_blocks]``, and
  ``2^(bits - 1)`` when absent; ``g_idx`` ``[K]`` (the block of each input column) when
  given. Logical shape ``[N, K]`` (rows are outputs; the view sums over K, the last axis).

**Names.** The logical tensor is named after the float weight it stands for: the stored
element tensor's name with a ``_quantized`` suffix removed (onnxruntime writes ``W``'s
elements as ``W_quantized``, scale ``W_scale``, zero point ``W_zero_point``), or for
MatMulNBits a ``_Q{bits}`` suffix (``W_Q4``); the element tensor's own name when there is no
such suffix or another tensor already has the shorter name.

**Values.** onnxruntime's DequantizeLinear (CPU, checked bit for bit in the tests):
integers ``float32(int32(x) - int32(zero_point)) * float32(scale)`` in float32 (int32
wraps), then rounded to the scale's type (float16: from float32; bfloat16, which
onnxruntime's CPU kernel does not implement: round to nearest even); float8 / float4
elements ``(float32(x) - float32(zero_point)) * scale`` the same way. MatMulNBits: ``(q -
z) * s`` exact, rounded once to the scale's type. ``decompose`` is exact: ``q - z``
(integers, not wrapped) and the scale.

Whatever precli cannot read as a family stays listed as raw tensors: a scale the graph
computes (not stored) or an element type precli does not dequantize (INT2, UINT2) sets the
raw tensor's ``skip`` reason; parts that do not fit together (shapes, types) are one
:class:`~precli.sources.quantized.LayoutError` each, which ``precli check`` reports as a
finding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from precli.array.views import View, last_axis
from precli.sources.base import CheckpointError, Tensor
from precli.sources.onnx_graph import Node, consumers, graph_view, uses_of, view_for
from precli.sources.quantized import LayoutError, Logical, QuantTensor

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["ELEMENTS", "pair_graph"]

#: ONNX element type -> precli format of the stored elements
ELEMENTS = {
    "INT8": "int8", "UINT8": "uint8", "INT16": "int16", "UINT16": "uint16", "INT32": "int32",
    "INT4": "int4", "UINT4": "uint4", "FLOAT8E4M3FN": "e4m3fn", "FLOAT8E4M3FNUZ": "e4m3fnuz",
    "FLOAT8E5M2": "e5m2", "FLOAT8E5M2FNUZ": "e5m2fnuz", "FLOAT4E2M1": "e2m1fn",
}
_SCALES = {"FLOAT": "fp32", "FLOAT16": "fp16", "BFLOAT16": "bf16"}

# op -> (weight input, scale input, zero point input, per-channel axis of the weight:
# an int, or "transB" for QGemm)
_QOPS: dict[str, tuple[int, int, int, int | str]] = {
    "QLinearConv": (3, 4, 5, 0),
    "QLinearMatMul": (3, 4, 5, -1),
    "QGemm": (3, 4, 5, "transB"),
    "MatMulIntegerToFloat": (1, 3, 5, -1),
    "DynamicQuantizeMatMul": (1, 2, 3, -1),
}
_DYNAMIC = {"MatMulInteger": -1, "ConvInteger": 0}
# int32 bias inputs whose scale is the product of two others at run time
_BIASES = {"QLinearConv": 8, "QGemm": 6}


@dataclass
class _Family:
    op: str  # "QDQ" or the consuming op
    elements: Tensor
    scales: Tensor
    zeros: Tensor | None
    axis: int  # the per-channel axis (any sign); unused per tensor
    block: int  # block_size, 0 when not blocked
    uses: tuple[str, ...]
    view: View | None
    options: list[tuple[str, str]] = field(default_factory=list)


def pair_graph(tensors: list[Tensor], nodes: list[Node]
               ) -> tuple[list[Tensor], list[CheckpointError]]:
    """The tensors with each quantized family replaced by one logical tensor (at the place
    of its elements), and the families whose parts do not fit together."""
    by = {t.name: t for t in tensors}
    cons = consumers(nodes)
    families: dict[str, _Family] = {}
    nbits: dict[str, tuple[Node, Tensor]] = {}
    skips: dict[str, str] = {}

    def stored(name: str) -> Tensor | None:
        return by.get(name) if name else None

    def arg(n: Node, i: int) -> str:
        return n.inputs[i] if i < len(n.inputs) else ""

    for n in nodes:
        if n.op == "DequantizeLinear" and n.domain in ("", "ai.onnx", "com.microsoft"):
            x = stored(arg(n, 0))
            if x is None or x.name in families:
                continue
            s = stored(arg(n, 1))
            if s is None:
                skips[x.name] = (f"quantized (DequantizeLinear), but its scale "
                                 f"{arg(n, 1)!r} is computed by the graph, not stored")
                continue
            u = cons.get(n.outputs[0], []) if n.outputs else []
            families[x.name] = _Family("QDQ", x, s, stored(arg(n, 2)), n.attr("axis", 1),
                                       n.attr("block_size", 0), uses_of(u),
                                       graph_view(len(x.shape), u, cons))
        elif n.op in _QOPS:
            wi, si, zi, ax = _QOPS[n.op]
            w = stored(arg(n, wi))
            if w is None or w.name in families:
                continue
            s = stored(arg(n, si))
            if s is None:
                skips[w.name] = (f"quantized ({n.op}), but its scale {arg(n, si)!r} is "
                                 "computed by the graph, not stored")
                continue
            axis = (0 if n.attr("transB", 0) else 1) if ax == "transB" else int(ax)
            families[w.name] = _Family(n.op, w, s, stored(arg(n, zi)), axis, 0, (n.op,),
                                       view_for(n, wi, len(w.shape)))
        elif n.op in _DYNAMIC:
            w = stored(arg(n, 1))
            if w is None or w.name in families:
                continue
            base = _strip(w.name, "_quantized")
            s = stored(base + "_scale") if base else None
            if s is None:
                skips[w.name] = (f"quantized ({n.op}) without a stored scale "
                                 f"{(base or w.name) + '_scale'!r} beside it")
                continue
            families[w.name] = _Family(n.op, w, s, stored(arg(n, 3)), _DYNAMIC[n.op], 0,
                                       (n.op,), view_for(n, 1, len(w.shape)))
        elif n.op == "MatMulNBits" and n.domain == "com.microsoft":
            b = stored(arg(n, 1))
            if b is not None and b.name not in nbits:
                nbits[b.name] = (n, b)
        if n.op in _BIASES:
            bias = stored(arg(n, _BIASES[n.op]))
            if bias is not None and bias.dtype == "INT32":
                skips.setdefault(bias.name, f"quantized bias of {n.op} (INT32; its scale, "
                                 "input scale times weight scale, is known only at run time)")

    used: dict[str, Tensor | None] = {}  # raw name -> its logical tensor (on elements)
    errors: list[CheckpointError] = []

    def take(q: QuantTensor) -> None:
        for role, p in q.parts:
            if role == "elements" or p.name not in used:
                used[p.name] = q if role == "elements" else None

    for fam in families.values():
        try:
            q = _linear(fam, by)
        except LayoutError as e:
            errors.append(e)
            continue
        if isinstance(q, str):
            skips[fam.elements.name] = q
            continue
        take(q)
    for n, b in nbits.values():
        try:
            q = _nbits(n, b, by, [stored(arg(n, i)) for i in (2, 3, 4)])
        except LayoutError as e:
            errors.append(e)
            continue
        if isinstance(q, str):
            skips[b.name] = q
            continue
        take(q)
    out: list[Tensor] = []
    for t in tensors:
        if t.name in used:
            lt = used[t.name]
            if lt is not None:
                out.append(lt)
        elif t.name in skips:
            out.append(replace(t, skip=skips[t.name]))
        else:
            out.append(t)
    return out, errors


def _strip(name: str, suffix: str) -> str | None:
    return name[: -len(suffix)] if name.endswith(suffix) and len(name) > len(suffix) else None


def _name(raw: str, by: dict[str, Tensor], suffix: str) -> str:
    short = _strip(raw, suffix)
    return short if short is not None and short not in by else raw


def _shape(t: Tensor) -> str:
    return f"{t.dtype} {list(t.shape)}"


# ------------------------------------------------------------------ DequantizeLinear


def _linear(f: _Family, by: dict[str, Tensor]) -> QuantTensor | str:
    x, s, z = f.elements, f.scales, f.zeros
    elem = ELEMENTS.get(x.dtype)
    if elem is None:
        return (f"quantized ({f.op}) with {x.dtype} elements, which precli does not "
                "dequantize")
    if s.dtype not in _SCALES:
        raise LayoutError(s, "layout", "a FLOAT, FLOAT16 or BFLOAT16 scale", s.dtype)
    if z is not None and z.dtype != x.dtype:
        raise LayoutError(z, "layout", f"a zero point of the weight's type ({x.dtype}, "
                          f"{x.name})", z.dtype)
    if z is not None and tuple(z.shape) != tuple(s.shape) and not (z.numel == s.numel == 1):
        raise LayoutError(z, "packed-size", f"a zero point shaped like its scale "
                          f"{list(s.shape)} ({s.name})", f"shape {list(z.shape)}")
    shape = tuple(x.shape)
    nd = len(shape)
    opts: list[tuple[str, str]] = [("onnx", f.op), ("out", _SCALES[s.dtype])]
    if f.block > 0:
        a = f.axis + nd if f.axis < 0 else f.axis
        if not 0 <= a < nd:
            raise LayoutError(x, "layout", f"axis in [{-nd}, {nd}) for a {nd}-D weight",
                              f"axis {f.axis}")
        want = tuple(-(-d // f.block) if i == a else d for i, d in enumerate(shape))
        if tuple(s.shape) != want:
            raise LayoutError(s, "packed-size", f"block scales of shape {list(want)} "
                              f"(weight {list(shape)} in blocks of {f.block} along axis "
                              f"{a})", _shape(s))
        gran, kind = f"block{f.block}", "block"
        opts += [("axis", str(a)), ("block_size", str(f.block))]
    elif s.numel == 1 and len(s.shape) <= 1:
        gran, kind, a = "tensor", "tensor", 0
    else:
        a = f.axis + nd if f.axis < 0 else f.axis
        if len(s.shape) != 1 or not 0 <= a < nd or s.shape[0] != shape[a]:
            axis_len = f"{shape[a]}, weight axis {a}" if 0 <= a < nd else f"axis {f.axis}"
            raise LayoutError(s, "packed-size", f"one scale, or a 1-D scale per channel "
                              f"({axis_len} of {list(shape)})", _shape(s))
        gran, kind = "channel", "axis"
        opts.append(("axis", str(a)))
    if elem.startswith("e") and z is not None:
        opts.append(("zero_range", "0:0"))  # float8 / float4: the zero point is 0
    parts: list[tuple[str, Tensor]] = [("elements", x), ("scales", s)]
    if z is not None:
        parts.append(("zeros", z))
    name = _name(x.name, by, "_quantized")
    dtype = f"{x.dtype}-{gran} (ONNX {f.op})"
    block = _block(shape, kind, a, f.block)
    reader = _Linear(x.path, 0, shape, tuple(parts), block, tuple(opts))
    return QuantTensor(name, dtype, shape, None, None, sum(p.nbytes for _, p in parts),
                       x.path, reader, layout="onnx-linear", element=elem,
                       parts=tuple(parts), block=block, options=tuple(opts), view=f.view,
                       uses=f.uses)


def _block(shape: tuple[int, ...], kind: str, axis: int, size: int) -> tuple[int, int]:
    """(rows, cols) one scale covers, counted in the [prod(shape[:-1]), shape[-1]] matrix
    ``precli check`` walks (a per-axis or blocked scale along a middle axis covers rows
    that are not adjacent; the count is what matters there)."""
    if not shape:
        return 1, 1
    rows, cols = math.prod(shape[:-1]), shape[-1]
    last = axis == len(shape) - 1
    if kind == "tensor":
        return max(rows, 1), max(cols, 1)
    if kind == "axis":
        return (max(rows, 1), 1) if last else (max(rows // max(shape[axis], 1), 1), cols)
    return (1, size) if last else (size, 1)


def _f64(a: Any) -> npt.NDArray[np.float64]:
    import numpy as np

    with np.errstate(invalid="ignore"):
        return np.asarray(a, dtype=np.float64)


def _to_out(v: npt.NDArray[np.float64], out: str) -> npt.NDArray[Any]:
    """Exact products rounded once to float32 (a float32 multiply of float32 operands),
    then to the output type as onnxruntime converts a float."""
    import numpy as np

    with np.errstate(over="ignore", invalid="ignore"):
        f = v.astype(np.float32)
    if out == "fp16":
        with np.errstate(over="ignore", invalid="ignore"):
            return f.astype(np.float16)
    if out == "bf16":
        u = f.view(np.uint32)
        r = (u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) \
            & np.uint32(0xFFFF0000)
        r = np.where(np.isnan(f), u | np.uint32(0x00400000), r) & np.uint32(0xFFFF0000)
        out_bf: npt.NDArray[Any] = r.astype(np.uint32).view(np.float32)
        return out_bf
    return f


@dataclass(frozen=True)
class _Linear(Logical):
    """ONNX DequantizeLinear: ``(x - zero_point) * scale`` with one scale per tensor, per
    channel along ``axis`` or per ``block_size`` run along it (options)."""

    def _index(self, start: int, stop: int) -> npt.NDArray[np.intp] | None:
        """The flat index of the scale of each element of [start, stop); None for one
        scale."""
        import numpy as np

        o = dict(self.options)
        if "axis" not in o:
            return None
        a = int(o["axis"])
        shape = self.shape
        idx = np.arange(start, stop, dtype=np.int64)
        inner = math.prod(shape[a + 1:])
        if "block_size" not in o:
            return ((idx // inner) % shape[a]).astype(np.intp)
        b = int(o["block_size"])
        coords = list(np.unravel_index(idx, shape))
        coords[a] = coords[a] // b
        sshape = tuple(-(-d // b) if i == a else d for i, d in enumerate(shape))
        return np.ravel_multi_index(tuple(coords), sshape).astype(np.intp)

    def _scale_zero(self, start: int, stop: int
                    ) -> tuple[npt.NDArray[Any], npt.NDArray[Any] | None]:
        import numpy as np

        i = self._index(start, stop)
        s = np.asarray(self.p("scales").read())
        zt = dict(self.parts).get("zeros")
        z = np.asarray(zt.read()) if zt is not None else None
        if i is None:
            n = stop - start
            return np.repeat(s.reshape(-1)[:1], n), (None if z is None else
                                                    np.repeat(z.reshape(-1)[:1], n))
        return s.reshape(-1)[i], (None if z is None else z.reshape(-1)[i])

    def decompose(self, start: int, stop: int
                  ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        x = _f64(self.p("elements").read(start, stop))
        s, z = self._scale_zero(start, stop)
        if z is not None:
            x = x - _f64(z)
        return x, _f64(s)

    def read(self, start: int, stop: int) -> npt.NDArray[Any]:
        import numpy as np

        q = np.asarray(self.p("elements").read(start, stop))
        s, z = self._scale_zero(start, stop)
        with np.errstate(invalid="ignore", over="ignore"):
            if q.dtype.kind in "iu":
                d = q.astype(np.int64) - (0 if z is None else z.astype(np.int64))
                d = (d + (1 << 31)) % (1 << 32) - (1 << 31)  # int32 arithmetic wraps
                f = d.astype(np.float32)
            else:
                f = q.astype(np.float32) - (np.float32(0) if z is None
                                            else z.astype(np.float32))
            return _to_out(f.astype(np.float64) * s.astype(np.float32).astype(np.float64),
                           dict(self.options)["out"])


# ------------------------------------------------------------------ MatMulNBits


def _nbits(n: Node, b: Tensor, by: dict[str, Tensor], rest: list[Tensor | None]
           ) -> QuantTensor | str:
    s, z, g = rest
    bits = n.attr("bits", 4)
    k, nn, bs = n.attr("K", 0), n.attr("N", 0), n.attr("block_size", 0)
    if bits not in (2, 4, 8):
        return f"quantized (MatMulNBits) with {bits}-bit codes, which precli does not read"
    if s is None:
        return "quantized (MatMulNBits), but its scales are computed by the graph, not stored"
    if k <= 0 or nn <= 0 or bs <= 0:
        raise LayoutError(b, "layout", "MatMulNBits attributes K, N and block_size > 0",
                          f"K {k}, N {nn}, block_size {bs}")
    kb = -(-k // bs)
    blob = bs * bits // 8
    if b.dtype != "UINT8" or b.numel != nn * kb * blob or (len(b.shape) == 3 and tuple(
            b.shape) != (nn, kb, blob)):
        raise LayoutError(b, "packed-size", f"UINT8 B of shape {[nn, kb, blob]} (N {nn}, "
                          f"{kb} blocks of {bs} {bits}-bit codes)", _shape(b))
    if s.dtype not in _SCALES or s.numel != nn * kb:
        raise LayoutError(s, "packed-size", f"float scales of {nn * kb} values (N {nn} x "
                          f"{kb} blocks)", _shape(s))
    parts: list[tuple[str, Tensor]] = [("elements", b), ("scales", s)]
    # onnxruntime's symmetric quantizer stores signed scales (the block's value of largest
    # magnitude over -2^(bits-1)): a negative scale is no finding here
    opts: list[tuple[str, str]] = [("onnx", "MatMulNBits"), ("bits", str(bits)),
                                   ("out", _SCALES[s.dtype]), ("scale_sign", "any")]
    if z is not None:
        if z.dtype == "UINT8":
            zrow = -(-kb * bits // 8)
            if z.numel != nn * zrow:
                raise LayoutError(z, "packed-size", f"UINT8 zero points of {nn * zrow} bytes "
                                  f"(N {nn} x {kb} blocks, {8 // bits} to a byte)", _shape(z))
            opts.append(("zero_point", "packed"))
        elif z.dtype == s.dtype:
            if z.numel != nn * kb:
                raise LayoutError(z, "packed-size", f"{z.dtype} zero points of {nn * kb} "
                                  f"values (N {nn} x {kb} blocks)", _shape(z))
            opts.append(("zero_point", "float"))
            opts.append(("zero_range", "-inf:inf"))  # finite
        else:
            raise LayoutError(z, "layout", f"UINT8 (packed) zero points or the scales' type "
                              f"({s.dtype})", z.dtype)
        parts.append(("zeros", z))
    if g is not None:
        if g.numel != k or g.dtype not in ("INT32", "INT64"):
            raise LayoutError(g, "packed-size", f"INT32 g_idx of {k} entries", _shape(g))
        parts.append(("g_idx", g))
    name = _name(b.name, by, f"_Q{bits}")
    if name == b.name:
        name = _name(b.name, by, "_quantized")
    shape = (nn, k)
    dtype = f"UINT{bits}-block{bs} (ONNX MatMulNBits)"
    reader = _NBits(b.path, 0, shape, tuple(parts), (1, bs), tuple(opts))
    return QuantTensor(name, dtype, shape, None, None, sum(p.nbytes for _, p in parts),
                       b.path, reader, layout="onnx-nbits", element=f"uint{bits}",
                       parts=tuple(parts), block=(1, bs), options=tuple(opts),
                       view=last_axis(2, "onnx MatMulNBits [N, K]"), uses=("MatMulNBits",))


@dataclass(frozen=True)
class _NBits(Logical):
    """com.microsoft MatMulNBits: logical [N, K] = (q - z) * s per block of ``block[1]``
    input columns (see the module docstring)."""

    def decompose(self, start: int, stop: int
                  ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        import numpy as np

        from precli.sources.read import unpack_ints

        nn, k = self.shape
        if stop <= start:
            return np.zeros(0, np.float64), np.zeros(0, np.float64)
        o = dict(self.options)
        bits, bs = int(o["bits"]), self.block[1]
        kb = -(-k // bs)
        r0, r1 = start // k, (stop - 1) // k + 1
        rows = r1 - r0
        row_bytes = kb * bs * bits // 8
        raw = np.asarray(self.p("elements").read(r0 * row_bytes, r1 * row_bytes), np.uint8)
        q = unpack_ints(raw, bits, False).reshape(rows, -1)[:, :k].astype(np.float64)
        sv = _f64(self.p("scales").read(r0 * kb, r1 * kb)).reshape(rows, kb)
        zt = dict(self.parts).get("zeros")
        if zt is None:
            zv = np.full((rows, kb), float(1 << (bits - 1)))
        elif o.get("zero_point") == "packed":
            zrow = -(-kb * bits // 8)
            zr = np.asarray(zt.read(r0 * zrow, r1 * zrow), np.uint8)
            zv = unpack_ints(zr, bits, False).reshape(rows, -1)[:, :kb].astype(np.float64)
        else:
            zv = _f64(zt.read(r0 * kb, r1 * kb)).reshape(rows, kb)
        gi = dict(self.parts).get("g_idx")
        if gi is not None:
            cg = np.asarray(gi.read(0, k), np.int64)
            if cg.size and (cg.min() < 0 or cg.max() >= kb):
                raise CheckpointError(gi.path, f"expected block indices in [0, {kb}); found "
                                      f"{int(cg.min())}..{int(cg.max())}", gi.name)
        else:
            cg = np.arange(k, dtype=np.int64) // bs
        x = q - zv[:, cg]
        s = sv[:, cg]
        a, b = start - r0 * k, stop - r0 * k
        return x.reshape(-1)[a:b], s.reshape(-1)[a:b]

    def read(self, start: int, stop: int) -> npt.NDArray[Any]:
        import numpy as np

        x, s = self.decompose(start, stop)
        with np.errstate(invalid="ignore", over="ignore"):
            return _to_out(x * s, dict(self.options)["out"])
