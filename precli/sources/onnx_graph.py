"""What an ONNX graph says about its stored tensors: who consumes each one (``Tensor.uses``)
and how the consumer multiplies it (``Tensor.view``).

The views, by consumer and input (stored axes; ``rows`` are what a kernel loops over,
``cols`` what one dot product sums over):

* ``MatMul`` B ``[K, N]``: rows (1,), cols (0,); batched ``[..., K, N]``: the batch axes and
  N are rows, K the column; a 1-D B ``[K]``: cols (0,). A ``[M, K]`` (or ``[..., M, K]``):
  the last axis. The same for ``MatMulInteger``, ``QLinearMatMul``, ``MatMulIntegerToFloat``
  and ``DynamicQuantizeMatMul`` (com.microsoft) on their A and B inputs.
* ``Gemm`` (and ``QGemm``) B: ``transB`` 0 as MatMul's B, 1 ``[N, K]``: the last axis; A:
  ``transA`` 0 the last axis, 1 ``[K, M]``: rows (1,), cols (0,).
* ``Conv`` (``ConvInteger``, ``QLinearConv``) W ``[M, C/g, k...]``: rows (0,), cols every
  other axis. ``ConvTranspose`` W ``[C, M/g, k...]``: rows (1,), cols (0, 2, ...).
* ``Gather`` data of 2-D (an embedding): ``axis`` 0 (the default) the last axis, 1 the
  first.
* ``LSTM`` / ``GRU`` / ``RNN`` W and R ``[directions, gates * hidden, input]``: the last
  axis.
* A tensor that a ``DequantizeLinear`` reads takes the view its output's consumers give
  (one step: a chain through ``Transpose`` / ``Reshape`` / ``Cast`` gives none).

A tensor used by several consumers whose views differ gets none (the caller falls back on
name and shape conventions, :func:`precli.array.views.guess_view`). Consumers that give no
view (an ``Add``, a ``Reshape``) do not take one away.

``uses`` lists the op types of every consumer, in graph order, once each. Tensors that a
graph consumes only through ops outside :data:`WEIGHT_OPS` (masks and bounds feeding
``Where``, ``Max``, ``Add``...) are not weights: ``precli check`` reports their infinities
as notes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from precli.array.views import View, last_axis
from precli.sources.base import Tensor

__all__ = ["WEIGHT_OPS", "Node", "annotate", "consumers", "is_weight", "view_for"]

#: Ops whose tensor inputs are weights or parameters (matrix and conv operands, embedding
#: tables, recurrent weights, normalisation scales, quantization scales): a non-finite
#: value there is a finding. A tensor used only by other ops is a mask or a bound.
WEIGHT_OPS = frozenset({
    "MatMul", "Gemm", "Conv", "ConvTranspose", "Gather", "GatherElements", "GatherND",
    "Einsum", "MatMulInteger", "ConvInteger", "QLinearMatMul", "QLinearConv", "QGemm",
    "MatMulIntegerToFloat", "DynamicQuantizeMatMul", "MatMulNBits", "MatMulBnb4",
    "GatherBlockQuantized", "QuantizeLinear", "DequantizeLinear", "LSTM", "GRU", "RNN",
    "Attention", "MultiHeadAttention", "QAttention", "BatchNormalization",
    "LayerNormalization", "SimplifiedLayerNormalization", "SkipLayerNormalization",
    "SkipSimplifiedLayerNormalization", "InstanceNormalization", "GroupNormalization",
    "RMSNormalization", "EmbedLayerNormalization", "PRelu", "FusedConv", "FusedMatMul",
    "FusedGemm", "NhwcConv",
})


def is_weight(uses: tuple[str, ...]) -> bool:
    """False only for a tensor the graph consumes, and only through ops outside
    :data:`WEIGHT_OPS`; True when its uses are unknown (no graph says otherwise)."""
    return not uses or any(u in WEIGHT_OPS for u in uses)


@dataclass(frozen=True)
class Node:
    """One NodeProto: op type, domain, input and output names (resolved to the names the
    reader gives tensors: a subgraph's own tensors carry its path), integer attributes."""

    op: str
    domain: str = ""
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    ints: dict[str, int] = field(default_factory=dict, compare=False)
    name: str = ""

    def attr(self, key: str, default: int) -> int:
        return self.ints.get(key, default)


def consumers(nodes: Iterable[Node]) -> dict[str, list[tuple[Node, int]]]:
    """Value name -> every (node, input index) that reads it."""
    out: dict[str, list[tuple[Node, int]]] = {}
    for n in nodes:
        for i, name in enumerate(n.inputs):
            if name:
                out.setdefault(name, []).append((n, i))
    return out


def _matmul_b(nd: int, op: str) -> View | None:
    if nd == 1:
        return View((), (0,), f"onnx {op} B [K]")
    if nd == 2:
        return View((1,), (0,), f"onnx {op} B [K, N]")
    if nd > 2:
        return View(tuple(range(nd - 2)) + (nd - 1,), (nd - 2,), f"onnx {op} B [..., K, N]")
    return None


def _matmul_a(nd: int, op: str) -> View | None:
    if nd == 0:
        return None
    return last_axis(nd, f"onnx {op} A [M, K]" if nd == 2 else f"onnx {op} A [..., K]")


#: op -> (A input, B input) of the matrix products
_PRODUCTS = {"MatMul": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3),
             "MatMulIntegerToFloat": (0, 1), "DynamicQuantizeMatMul": (0, 1),
             "FusedMatMul": (0, 1)}
_GEMMS = {"Gemm": (0, 1), "QGemm": (0, 3), "FusedGemm": (0, 1)}
_CONVS = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3, "FusedConv": 1, "NhwcConv": 1}


def view_for(node: Node, index: int, ndim: int) -> View | None:
    """The view that ``node`` gives the tensor at its input ``index`` (None: no view)."""
    op = node.op
    if op in _PRODUCTS:
        a, b = _PRODUCTS[op]
        return _matmul_b(ndim, op) if index == b else _matmul_a(ndim, op) if index == a \
            else None
    if op in _GEMMS and ndim == 2:
        a, b = _GEMMS[op]
        if index == b:
            return last_axis(2, f"onnx {op} B [N, K] (transB)") if node.attr("transB", 0) \
                else View((1,), (0,), f"onnx {op} B [K, N]")
        if index == a:
            return View((1,), (0,), f"onnx {op} A [K, M] (transA)") if node.attr("transA", 0) \
                else last_axis(2, f"onnx {op} A [M, K]")
        return None
    if op in _CONVS and index == _CONVS[op] and ndim >= 2:
        return View((0,), tuple(range(1, ndim)), f"onnx {op} W [M, C/g, k...]")
    if op == "ConvTranspose" and index == 1 and ndim >= 2:
        g = node.attr("group", 1)
        if isinstance(g, int) and g > 1:  # output gi*(M/g) + m sums W[gi*C/g:(gi+1)*C/g, m]
            return View((0, 2), (1,) + tuple(range(3, ndim + 1)),
                        "onnx ConvTranspose W [C, M/g, k...] (grouped)", g)
        return View((1,), (0,) + tuple(range(2, ndim)), "onnx ConvTranspose W [C, M/g, k...]")
    if op == "Gather" and index == 0 and ndim == 2:
        if node.attr("axis", 0) % 2 == 0:
            return last_axis(2, "onnx Gather data [tokens, dim]")
        return View((1,), (0,), "onnx Gather data [dim, tokens] (axis 1)")
    if op in ("LSTM", "GRU", "RNN") and index in (1, 2) and ndim == 3:
        return last_axis(3, f"onnx {op} W [directions, gates * hidden, input]")
    return None


def _agreed(views: list[View]) -> View | None:
    if not views or len({(v.rows, v.cols, v.split) for v in views}) != 1:
        return None
    return views[0]


def graph_view(ndim: int, uses: list[tuple[Node, int]],
               cons: dict[str, list[tuple[Node, int]]]) -> View | None:
    """The view the consumers ``uses`` agree on, following a DequantizeLinear one step to
    its output's consumers; None when there is none or they differ."""
    views = []
    for node, i in uses:
        if node.op == "DequantizeLinear" and i == 0 and node.outputs:
            v = _agreed([w for n2, j in cons.get(node.outputs[0], [])
                         if (w := view_for(n2, j, ndim)) is not None])
        else:
            v = view_for(node, i, ndim)
        if v is not None:
            views.append(v)
    return _agreed(views)


def uses_of(uses: list[tuple[Node, int]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n.op for n, _ in uses))


def annotate(tensors: list[Tensor], nodes: list[Node]) -> list[Tensor]:
    """The tensors with ``uses`` and ``view`` filled in from the graph."""
    cons = consumers(nodes)
    out = []
    for t in tensors:
        u = cons.get(t.name, [])
        if not u:
            out.append(t)
            continue
        out.append(replace(t, uses=uses_of(u), view=graph_view(len(t.shape), u, cons)))
    return out
