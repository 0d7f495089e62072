"""``precli diff ORIGINAL QUANTIZED``: did my conversion do what I think? Pure, never prints.

Tensors are matched by name after the quantized checkpoint's families are grouped into
logical tensors (:mod:`precli.sources.quantized` documents the mapping: e.g. DeepSeek
``X.weight`` + ``X.weight_scale_inv`` -> ``X.weight``; gpt-oss ``X_blocks`` + ``X_scales``
-> ``X``; AWQ / GPTQ ``X.qweight`` ... -> ``X.weight`` in PyTorch's [out, in] orientation;
onnxruntime's ``W_quantized`` -> ``W``), so the names of the original model line up. Shapes
must agree.

When names differ (a safetensors model against its ONNX export), a tensor left unmatched
is paired **by value shape**: with the one unmatched original whose matrix view
(:mod:`precli.array.views`: ``[outputs, reduction]``, e.g. ``[out, in]`` for a PyTorch
``Linear`` and for an ONNX ``MatMul`` weight stored ``[in, out]``) has the same rows and
columns, when that candidate is the only one either way. Such a pair is compared in view
order, and its record says how it was made (``paired``: ``name`` or ``view``) and the
original's name.

A Hugging Face checkpoint against llama.cpp's GGUF of it (either side the GGUF, whose
``general.architecture`` is one of :data:`precli.model.ggufnames.GGUF_NAMES`, e.g. llama):
a tensor left unmatched by name is paired by llama.cpp's renaming (``model.embed_tokens.weight``
<-> ``token_embd.weight``, ``model.layers.N.self_attn.q_proj.weight`` <->
``blk.N.attn_q.weight``, ...; ``paired``: ``gguf-name``), and the rows of the LLaMA query /
key projections are compared after llama.cpp's head permutation
(:func:`precli.model.ggufnames.permute_rows`, with the GGUF's head counts) is applied to
the Hugging Face side.

Per matched tensor: the compare statistics of the quantized values against the original
(:class:`precli.model.stats.ErrorTally`: count, lost, exact share, max / mean abs error, RMSE,
max relative error, SQNR), and the **ulp distance in the quantized element format**.

The ulp distance of an element is ``|pos(x / s) - pos(c)|``: ``c`` is the stored element
(an e4m3 / e2m1 value, or ``q - z`` of an int4 layout), ``s`` its effective scale, ``x``
the original, and ``pos`` the position on the element format's grid of representable
values, linear between neighbours (for a float format with p mantissa bits and minimum
exponent emin, ``pos(v) = (e - emin) 2^p + |v| 2^(p - e)`` with ``e = max(floor(log2 |v|),
emin)``, signed like v; for integers ``pos(v) = v``). A correctly rounded element is within
1/2 ulp, a faithfully rounded one within 1. Plain float tensors are measured in their own
stored format (scale 1). ``x / s`` is one float64 division (exact when s is a power of
two; otherwise within 2^-53 relative).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from precli.array.views import View
from precli.model.ggufnames import GGUF_NAMES, gguf_name, permute_rows, permuted_heads
from precli.model.pool import check_jobs, run_tensors, select_tensors
from precli.model.stats import ErrorTally, json_number
from precli.model.viewing import tensor_view
from precli.sources import Checkpoint, Tensor, open_checkpoint
from precli.sources.quantized import QuantTensor

__all__ = ["DIFF_KEYS", "DiffReport", "diff_checkpoints", "diff_tensor", "grid_position",
           "pair_by_view"]

F64 = npt.NDArray[np.float64]

#: The keys of a diff record, in order (the summary record has tensor null).
DIFF_KEYS: tuple[str, ...] = (
    "tensor", "dtype", "original_dtype", "shape", "params", "skip", "count", "nan_in", "lost",
    "underflow", "exact_fraction", "max_abs_error", "mean_abs_error", "rmse", "max_rel_error",
    "sqnr_db", "element_format", "ulp_max", "ulp_mean", "within_half_ulp", "within_1ulp",
    "paired", "original",
)

CHUNK = 1 << 18


def grid_position(fmt_name: str, v: F64) -> F64:
    """Position of each value on the grid of a format's representable values (see the
    module docstring); integers: the value itself."""
    from precli.core.formats import FloatFormat, get_format

    f = get_format(fmt_name)
    if not isinstance(f, FloatFormat):
        return v.astype(np.float64)
    p, emin = f.mantissa_bits, f.emin
    a = np.abs(v)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        _, e2 = np.frexp(a)  # a = m 2^e2, m in [0.5, 1): floor(log2 a) = e2 - 1
        e = np.where(a == 0, emin, np.maximum(e2.astype(np.int64) - 1, emin))
        pos = (e - emin).astype(np.float64) * 2.0**p + np.ldexp(a, (p - e).astype(np.int32))
    out: F64 = np.where(np.signbit(v), -pos, pos)
    return out


@dataclass
class _Ulp:
    n: int = 0
    within_half: int = 0
    within_1: int = 0
    max: float = 0.0
    sums: list[float] = field(default_factory=list)  # per-chunk fsums (fixed chunks)

    def add(self, d: F64) -> None:
        d = d[np.isfinite(d)]
        if not d.size:
            return
        self.n += d.size
        self.within_half += int(np.count_nonzero(d <= 0.5))
        self.within_1 += int(np.count_nonzero(d <= 1.0))
        self.max = max(self.max, float(d.max()))
        self.sums.append(math.fsum(d.tolist()))

    def record(self) -> dict[str, Any]:
        if not self.n:
            return {"ulp_max": None, "ulp_mean": None, "within_half_ulp": None,
                    "within_1ulp": None, "_n": 0, "_half": 0, "_one": 0}
        return {"ulp_max": json_number(self.max),
                "ulp_mean": math.fsum(self.sums) / self.n,
                "within_half_ulp": self.within_half / self.n,
                "within_1ulp": self.within_1 / self.n,
                "_n": self.n, "_half": self.within_half, "_one": self.within_1}


@dataclass
class TensorDiff:
    name: str
    dtype: str
    original_dtype: str | None
    shape: tuple[int, ...]
    params: int
    skip: str | None
    stats: dict[str, Any]
    element_format: str | None
    ulp: dict[str, Any]
    paired: str | None = None  # "name" | "view" | "gguf-name" (None: unmatched)
    original: str | None = None  # the original's name

    def record(self) -> dict[str, Any]:
        rec: dict[str, Any] = {"tensor": self.name, "dtype": self.dtype,
                               "original_dtype": self.original_dtype,
                               "shape": list(self.shape), "params": self.params,
                               "skip": self.skip}
        rec.update({k: self.stats.get(k) for k in DIFF_KEYS[6:16]})
        rec["element_format"] = self.element_format
        rec.update({k: self.ulp.get(k) for k in DIFF_KEYS[17:21]})
        rec["paired"] = self.paired
        rec["original"] = self.original
        return rec


@dataclass
class DiffReport:
    original: str
    quantized: str
    tensors: list[TensorDiff]
    only_original: list[str]
    errors: list[str]
    summary: dict[str, Any]

    def records(self) -> list[dict[str, Any]]:
        return [t.record() for t in self.tensors] + [self.summary]


def _in_view(read: Callable[[int, int], Any], shape: tuple[int, ...], view: View | None
             ) -> Callable[[int, int], Any]:
    """A flat ``read(start, stop)`` in the view's order (rows first): the stored order when
    the view is a plain reshape, else the tensor read whole and transposed once. Works for
    readers returning one array or a tuple of arrays (``decompose``)."""
    if view is None or view.in_place:
        return read
    cache: list[Any] = []

    def flat(a: Any) -> Any:
        return np.ascontiguousarray(view.arranged(np.asarray(a).reshape(shape))).reshape(-1)

    def get(a: int, b: int) -> Any:
        if not cache:
            whole = read(0, math.prod(shape))
            cache.append(tuple(flat(x) for x in whole) if isinstance(whole, tuple)
                         else flat(whole))
        w = cache[0]
        return tuple(x[a:b] for x in w) if isinstance(w, tuple) else w[a:b]

    return get


def _permuted(read: Callable[[int, int], Any], shape: tuple[int, ...], n_head: int,
              inverse: bool) -> Callable[[int, int], Any]:
    """A flat ``read(start, stop)`` of the tensor with its rows permuted as llama.cpp
    permutes LLaMA's q / k rows (read whole once)."""
    cache: list[Any] = []

    def get(a: int, b: int) -> Any:
        if not cache:
            whole = np.asarray(read(0, math.prod(shape))).reshape(shape)
            cache.append(permute_rows(whole, n_head, inverse=inverse).reshape(-1))
        return cache[0][a:b]

    return get


def diff_tensor(orig: Tensor, quant: Tensor, views: tuple[View, View] | None = None,
                how: str | None = None, permute: tuple[int, bool] | None = None
                ) -> TensorDiff:
    """Statistics and ulp distances of one quantized tensor against its original;
    ``views``: compare them element by element in these views' order (a pair made by
    value shape), else in stored order; ``permute``: ``(n_head, inverse)``, compare against
    the original's rows permuted as llama.cpp permutes LLaMA's q / k rows
    (:func:`precli.model.ggufnames.permute_rows`)."""
    skip = None
    if views is None and orig.shape != quant.shape:
        skip = f"shape {list(quant.shape)} differs from the original's {list(orig.shape)}"
    elif orig.skip is not None or quant.skip is not None:
        skip = orig.skip or quant.skip
    elif permute is not None and (not orig.shape or orig.shape[0] % (2 * permute[0])):
        skip = (f"{orig.shape[0] if orig.shape else 0} rows are not a multiple of 2 x "
                f"{permute[0]} heads (llama.cpp's q / k row permutation)")
    how = how or ("name" if views is None else "view")
    elfmt: str | None = None
    if skip is None:
        if isinstance(quant, QuantTensor):
            elfmt = quant.element
        elif quant.format is not None and quant.format.startswith(("fp", "bf", "e")):
            elfmt = quant.format
    if skip is not None:
        return TensorDiff(quant.name, quant.dtype, orig.dtype, quant.shape, quant.numel, skip,
                          {}, None, {}, how, orig.name)
    ov, qv = views if views is not None else (None, None)
    read_o = _in_view(orig.read if permute is None else
                      _permuted(orig.read, orig.shape, *permute), orig.shape, ov)
    read_q = _in_view(quant.read, quant.shape, qv)
    parts = _in_view(quant.decompose, quant.shape, qv) if isinstance(quant, QuantTensor) \
        else None
    # values as the runtime computes them where it rounds the product (onnxruntime's
    # float32 DequantizeLinear, compressed-tensors' divide); else the exact product
    rounded = isinstance(quant, QuantTensor) and (
        quant.option("global") == "divide" or quant.option("onnx") is not None)
    tally = ErrorTally()
    ulp = _Ulp()
    n = quant.numel
    for a in range(0, n, CHUNK):
        b = min(n, a + CHUNK)
        with np.errstate(invalid="ignore"):
            x = np.asarray(read_o(a, b), np.float64)
        if parts is not None:
            el, s = parts(a, b)
            with np.errstate(invalid="ignore", over="ignore"):
                q = el * s
            if rounded:
                q = np.asarray(read_q(a, b), np.float64)
            with np.errstate(all="ignore"):
                t = x / s
        else:
            with np.errstate(invalid="ignore"):
                q = np.asarray(read_q(a, b), np.float64)
            el, t = q, x
        tally.add(x, q)
        if elfmt is not None:
            with np.errstate(invalid="ignore"):
                d = np.abs(grid_position(elfmt, t) - grid_position(elfmt, el))
            ulp.add(d)
    return TensorDiff(quant.name, quant.dtype, orig.dtype, quant.shape, n, None,
                      tally.record(), elfmt, ulp.record() if elfmt else {}, how, orig.name)


Pair = tuple[Tensor, Tensor, tuple[View, View] | None, str, tuple[int, bool] | None]


def _work(args: Pair) -> TensorDiff:
    return diff_tensor(*args)


def _same_matrix(o: Tensor, q: Tensor) -> tuple[View, View] | None:
    """Both views, when the two tensors of one name are the same matrix but stored in
    another order (an ONNX MatMul weight [K, N] against MatMulNBits' [N, K], square ones
    included); None to compare in stored order (same layout, or views that disagree)."""
    if len(o.shape) < 2 or len(q.shape) < 2:
        return None
    ov, qv = tensor_view(o), tensor_view(q)
    if ov.matrix(o.shape) != qv.matrix(q.shape):
        return None
    if o.shape == q.shape and ov.order == qv.order and ov.split == qv.split:
        return None  # the same layout: stored order is view order
    return ov, qv


def pair_by_view(originals: Sequence[Tensor], quantized: Sequence[Tensor]
                 ) -> tuple[list[tuple[Tensor, Tensor, tuple[View, View]]], dict[str, str]]:
    """Pairs of unmatched tensors whose matrix views have the same rows and columns, when
    each is the other's only candidate; and, for each quantized tensor left alone, why."""
    def key(t: Tensor) -> tuple[int, int] | None:
        if t.skip is not None or len(t.shape) < 2:
            return None  # 1-D tensors of one length are too common to pair by shape
        return tensor_view(t).matrix(t.shape)

    by_o: dict[tuple[int, int], list[Tensor]] = {}
    for o in originals:
        k = key(o)
        if k is not None:
            by_o.setdefault(k, []).append(o)
    by_q: dict[tuple[int, int], list[Tensor]] = {}
    for q in quantized:
        k = key(q)
        if k is not None:
            by_q.setdefault(k, []).append(q)
    pairs: list[tuple[Tensor, Tensor, tuple[View, View]]] = []
    why: dict[str, str] = {}
    for k, qs in by_q.items():
        os_ = by_o.get(k, [])
        if len(qs) == 1 and len(os_) == 1:
            o, q = os_[0], qs[0]
            pairs.append((o, q, (tensor_view(o), tensor_view(q))))
        elif os_:
            for q in qs:
                why[q.name] = (f"not in the original by name, and {len(os_)} original(s) "
                               f"and {len(qs)} tensor(s) here share its view {list(k)}: "
                               "ambiguous")
    return pairs, why


def _gguf_pairs(ock: Checkpoint, qck: Checkpoint, left: Sequence[Tensor],
                lonely: Sequence[Tensor]) -> tuple[list[Pair], dict[str, str]]:
    """Pairs by llama.cpp's renaming when exactly one side is a GGUF of an architecture in
    :data:`GGUF_NAMES`; and, for a quantized tensor so paired that cannot be compared,
    why."""
    if (ock.kind == "gguf") == (qck.kind == "gguf"):
        return [], {}
    gck = qck if qck.kind == "gguf" else ock
    arch = gck.metadata.get("general.architecture", "")
    if arch not in GGUF_NAMES:
        return [], {}
    pairs: list[Pair] = []
    why: dict[str, str] = {}
    if gck is qck:
        by_g: dict[str, Tensor] = {}
        for o in left:
            g = gguf_name(o.name, arch)
            if g is not None:
                by_g[g] = o
        found = [(by_g[q.name], q, q.name) for q in lonely if q.name in by_g]
    else:
        by_o = {o.name: o for o in left}
        found = []
        for q in lonely:
            g = gguf_name(q.name, arch)
            if g is not None and g in by_o:
                found.append((by_o[g], q, g))
    for o, q, g in found:
        try:
            n = permuted_heads(g, arch, gck.metadata)
        except ValueError as e:
            why[q.name] = str(e)
            continue
        perm = None if n is None else (n, gck is ock)
        pairs.append((o, q, _same_matrix(o, q), "gguf-name", perm))
    return pairs, why


def diff_checkpoints(original: str, quantized: str, *, include: str | None = None,
                     exclude: str | None = None, jobs: int = 1,
                     progress: Callable[[int, int], None] | None = None) -> DiffReport:
    check_jobs(jobs)
    ock = open_checkpoint(original)
    qck = open_checkpoint(quantized)
    errors = [str(e) for e in list(ock.errors) + list(qck.errors)]
    by = {t.name: t for t in ock.tensors()}
    selected = select_tensors(list(qck.tensors()), include, exclude)
    pairs: list[Pair] = []
    lonely: list[Tensor] = []
    for t in selected:
        o = by.get(t.name)
        if o is None:
            lonely.append(t)
        else:
            pairs.append((o, t, _same_matrix(o, t), "name", None))
    seen = {t.name for t in selected}
    left = [o for o in ock.tensors() if o.name not in seen]
    by_gguf, why_gguf = _gguf_pairs(ock, qck, left, lonely)
    pairs += by_gguf
    g_used = {p[0].name for p in by_gguf}
    g_q = {p[1].name for p in by_gguf} | set(why_gguf)
    by_view, why = pair_by_view([o for o in left if o.name not in g_used],
                                [q for q in lonely if q.name not in g_q])
    why.update(why_gguf)
    pairs += [(o, q, v, "view", None) for o, q, v in by_view]
    used = {o.name for o, _, _ in by_view} | g_used
    paired_q = {q.name for _, q, _ in by_view} | {p[1].name for p in by_gguf}
    unmatched = [TensorDiff(t.name, t.dtype, None, t.shape, t.numel,
                            why.get(t.name, "not in the original"), {}, None, {})
                 for t in lonely if t.name not in paired_q]
    only_original = [n for n in select_tensors(left, include, exclude)
                     if n.name not in used]
    results: dict[str, TensorDiff | str] = dict(run_tensors(
        [(p[1].name, p[1].nbytes, p) for p in pairs], _work, jobs,
        progress))
    tensors: list[TensorDiff] = []
    order = {t.name: i for i, t in enumerate(selected)}
    for td in unmatched:
        results[td.name] = td
    for name in sorted(results, key=lambda k: order[k]):
        r = results[name]
        if isinstance(r, str):
            errors.append(r)
        else:
            tensors.append(r)
    compared = [t for t in tensors if t.skip is None]
    ulps = [t for t in compared if t.ulp]
    summary: dict[str, Any] = dict.fromkeys(DIFF_KEYS)
    summary.update({"tensor": None, "params": sum(t.params for t in compared),
                    "count": sum(t.stats["count"] for t in compared)})
    summary["skip"] = None
    total = sum(t.ulp["_n"] for t in ulps)
    if total:
        summary["within_1ulp"] = sum(t.ulp["_one"] for t in ulps) / total
        summary["within_half_ulp"] = sum(t.ulp["_half"] for t in ulps) / total
        summary["ulp_max"] = max(t.ulp["ulp_max"] for t in ulps if t.ulp["_n"])
    summary["only_original"] = [t.name for t in only_original]
    summary["paired_by_view"] = sum(1 for t in compared if t.paired == "view")
    summary["tensors"] = len(compared)
    return DiffReport(original, quantized, tensors, [t.name for t in only_original], errors,
                      summary)
