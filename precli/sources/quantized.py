"""Quantized checkpoint layouts: elements + scales read back as one logical tensor.

A quantized checkpoint stores one weight as several raw tensors (packed codes, scales, zero
points, a global scale). :func:`group` finds those families among a checkpoint's tensors and
replaces each by one :class:`QuantTensor`: the same Tensor surface (``name``, ``shape``,
``read(start, stop)``, ``chunks()``), a stored ``dtype`` naming the layout (e.g.
``"FP8-block128x128 (DeepSeek)"``), the element format (``element``; ``format`` is None,
since the values are not numbers of one format), and its ``parts`` (role -> raw Tensor)
for ``precli check``. The other tensors pass through unchanged.

Values are the dequantized values, computed exactly in float64 (every product below fits
float64's 53 bits) except where a layout divides (compressed-tensors NVFP4): there the value
is the exact quotient correctly rounded to float64 (exact when the global scale is a power
of two).

The layouts and their name mapping (``X`` is any prefix, e.g. ``model.layers.0.mlp.up_proj``):

* **FP8 128x128 blocks, DeepSeek-V3** (deepseek-ai/DeepSeek-V3 ``inference/kernel.py``,
  ``weight_dequant``: ``y = x * s`` per block): ``X.weight`` (F8_E4M3, [M, N]) +
  ``X.weight_scale_inv`` (F32, [ceil(M/bm), ceil(N/bn)]) -> ``X.weight``. The block is
  ``quantization_config.weight_block_size`` of a ``config.json`` beside the checkpoint
  (default 128x128); ``scale_fmt: "ue8m0"`` there declares power-of-two scales.
* **MXFP4, gpt-oss** (openai/gpt-oss ``gpt_oss/torch/weights.py``): ``X_blocks`` (U8,
  [..., G, 16]: two e2m1 codes per byte, the first in the low nibble) + ``X_scales`` (U8,
  [..., G]: E8M0, value 2^(s - 127); 0xff is NaN per the OCP MX spec) -> ``X``, shape
  [..., G * 32]. (gpt-oss's own names ``X.blocks`` / ``X.scales`` are read the same way.)
* **NVFP4, NVIDIA ModelOpt** (NVIDIA/Model-Optimizer
  ``modelopt/torch/quantization/qtensor/nvfp4_tensor.py``): ``X.weight`` (U8, [M, N/2]
  packed e2m1, low nibble first) + ``X.weight_scale`` (F8_E4M3, [M, N/16]) +
  ``X.weight_scale_2`` (F32 scalar, amax / (6 * 448)) -> ``X.weight``, value
  ``x * s * s2``.
* **NVFP4, compressed-tensors** (neuralmagic/compressed-tensors
  ``src/compressed_tensors/compressors/quantized_compressors/nvfp4_quantized.py``):
  ``X.weight_packed`` (U8 [M, N/2]) + ``X.weight_scale`` (F8_E4M3 [M, N/16]) +
  ``X.weight_global_scale`` (F32, the reciprocal of ModelOpt's ``weight_scale_2``) ->
  ``X.weight``, value ``x * s / g``.
* **AWQ** (casper-hansen/AutoAWQ GEMM layout; the nibble order as tested in vllm
  ``tests/kernels/test_awq_triton.py``): ``X.qweight`` (I32 [K, N/8]) + ``X.qzeros`` (I32
  [K/g, N/8]) + ``X.scales`` (F16 [K/g, N]) -> ``X.weight`` of shape [N, K] (PyTorch's
  Linear orientation, so it lines up with the original ``X.weight``); column ``8j + i`` of a
  word row is the nibble at bit ``4 * [0, 4, 1, 5, 2, 6, 3, 7][i]``; value ``(q - z) * s``.
* **GPTQ v1 / v2** (ModelCloud/GPTQModel): ``X.qweight`` (I32 [K/8, N], input row ``8r + i``
  in bits ``4i``) + ``X.qzeros`` (I32 [K/g, N/8], column ``8j + i`` in bits ``4i``) +
  ``X.scales`` (F16 [K/g, N]) + optional ``X.g_idx`` (I32 [K]) -> ``X.weight`` [N, K]; v1
  stores each zero point minus one (so ``z = stored + 1``), v2 (``checkpoint_format:
  "gptq_v2"`` in the quantization config) stores it as is; value ``(q - z) * s``.
  AWQ and GPTQ are told apart by their shapes (AWQ: ``scales`` is 8x wider than
  ``qweight``; GPTQ: as wide).
* **int4 pack-quantized, compressed-tensors** (neuralmagic/compressed-tensors
  ``src/compressed_tensors/compressors/quantized_compressors/pack_quantized.py``,
  ``pack_to_int32`` / ``unpack_from_int32``; the value as ``dequantize`` in
  ``src/compressed_tensors/quantization/lifecycle/forward.py``): ``X.weight_packed`` (I32
  [N, ceil(K/8)], element ``8j + i`` of a row at bits ``4i`` of word j, stored as ``q + 8``,
  padded with zero bits) + ``X.weight_scale`` ([N, K/g], or [N, 1] per channel) +
  ``X.weight_shape`` ([N, K]) -> ``X.weight`` [N, K]; value ``(q - z) * s``. Asymmetric
  checkpoints add ``X.weight_zero_point``: since compressed-tensors 0.9.4 (PR #296) I32
  [ceil(N/8), K/g], packed by ``pack_to_int32(..., packed_dim=0)`` down the output rows (row
  ``8j + i`` at bits ``4i`` of word row j, stored as ``z + 8``); before, I8 [N, K/g] as
  ``calculate_qparams`` made it (z in [-8, 7]). Both are read. (compressed-tensors itself
  could only decompress packed zero points from PR #463, Oct 2025.) An optional
  ``X.weight_g_idx`` (I32 [K], activation order) maps column c to group ``g_idx[c]``; a -1
  in it means column order, as in ``forward.py``. Symmetric: z = 0. ``(q - z) * s`` is exact
  in float64: |q - z| <= 15 (4 bits) times a scale of at most 24 significant bits
  (f16 / bf16 / f32); compressed-tensors' own ``dequantize`` rounds it to the scale's dtype.
  The config's ``config_groups.*.weights`` (``num_bits``, ``symmetric``, ``strategy``,
  ``group_size``, ``actorder``, ``observer``) are checked against the tensors when one set
  applies to every pack-quantized group; asymmetric with the ``minmax`` observer declares
  the rule ``precli check`` re-derives (option ``recipe``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from precli.sources.base import Checkpoint, CheckpointError, Tensor
from precli.sources.read import Reader

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["LAYOUTS", "LayoutError", "Logical", "QuantTensor", "group_checkpoint",
           "pair_tensors", "read_config"]

#: layout key -> the stored dtype text a logical tensor reports
LAYOUTS = {
    "fp8-block": "FP8-block{b} (DeepSeek)",
    "mxfp4": "MXFP4 (gpt-oss)",
    "nvfp4-modelopt": "NVFP4 (ModelOpt)",
    "nvfp4-ct": "NVFP4 (compressed-tensors)",
    "awq": "INT4-group{g} (AWQ)",
    "pack-quantized": "INT4-group{g}[ asym] (compressed-tensors)",
    "gptq": "INT4-group{g} (GPTQ {v})",
}

AWQ_ORDER = (0, 4, 1, 5, 2, 6, 3, 7)  # logical column i of a word <- nibble AWQ_ORDER[i]


@dataclass(frozen=True)
class QuantTensor(Tensor):
    """A logical tensor of a quantized layout (see the module docstring; the ONNX layouts
    are in :mod:`precli.sources.onnx_quant`).

    ``layout``: a key of :data:`LAYOUTS`; ``parts``: (role, raw tensor) pairs, roles
    ``elements``, ``scales``, ``global_scale``, ``zeros``, ``g_idx``; ``block``: the
    (rows, cols) one scale covers in the logical matrix; ``options``: layout facts
    (``scale_fmt`` "ue8m0", ``gptq`` "v1" / "v2"; pack-quantized: ``zero_point`` "packed" /
    "int8", ``recipe`` "minmax" when the config declares it)."""

    layout: str = ""
    element: str = ""  # precli format of the stored elements (format is None: the values
    # are elements times scales, not numbers of that format)
    parts: tuple[tuple[str, Tensor], ...] = ()
    block: tuple[int, int] = (1, 1)
    options: tuple[tuple[str, str], ...] = ()

    def decompose(self, start: int = 0, stop: int | None = None
                  ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(element values, effective scale) of flat elements [start, stop) (integer
        layouts: q - z and s); the value is their product."""
        assert isinstance(self._reader, Logical)
        return self._reader.decompose(start, self.numel if stop is None else stop)

    def zero_points(self, r0: int, r1: int) -> npt.NDArray[np.float64] | None:
        """The stored zero points of logical rows [r0, r1), [rows, groups] (layouts that
        keep them by row, e.g. compressed-tensors pack-quantized), None otherwise."""
        assert isinstance(self._reader, Logical)
        return self._reader.zeros(r0, r1)

    def part(self, role: str) -> Tensor | None:
        for r, t in self.parts:
            if r == role:
                return t
        return None

    def option(self, key: str) -> str | None:
        return dict(self.options).get(key)


# ------------------------------------------------------------------ decoding


@dataclass(frozen=True)
class Logical(Reader):
    """Base of the layout decoders: ``parts`` as in :class:`QuantTensor`; ``shape`` the
    logical shape."""

    shape: tuple[int, ...] = ()
    parts: tuple[tuple[str, Tensor], ...] = ()
    block: tuple[int, int] = (1, 1)
    options: tuple[tuple[str, str], ...] = ()

    def p(self, role: str) -> Tensor:
        for r, t in self.parts:
            if r == role:
                return t
        raise KeyError(role)  # pragma: no cover

    @property
    def cols(self) -> int:
        return self.shape[-1] if self.shape else 1

    def read(self, start: int, stop: int) -> npt.NDArray[np.float64]:
        """The logical values of flat elements [start, stop): element * scale."""
        import numpy as np

        x, s = self.decompose(start, stop)
        with np.errstate(invalid="ignore", over="ignore"):
            out: npt.NDArray[np.float64] = x * s
        return out

    def decompose(self, start: int, stop: int
                  ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(element values, effective scale) of flat elements [start, stop): the value is
        element * scale (compressed-tensors NVFP4: scale = s / g correctly rounded)."""
        raise NotImplementedError  # pragma: no cover

    def zeros(self, r0: int, r1: int) -> npt.NDArray[np.float64] | None:
        return None


def _f64(a: Any) -> npt.NDArray[np.float64]:
    import numpy as np

    with np.errstate(invalid="ignore"):
        return np.asarray(a, dtype=np.float64)


@dataclass(frozen=True)
class _BlockFP8(Logical):
    """DeepSeek-V3: e4m3fn elements times one fp32 scale per (bm x bn) block."""

    def decompose(self, start: int, stop: int
                  ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        import numpy as np

        n = self.cols
        bm, bn = self.block
        x = _f64(self.p("elements").read(start, stop))
        idx = np.arange(start, stop, dtype=np.int64)
        r, c = idx // n, idx % n
        st = self.p("scales")
        sc = st.shape[-1]
        srow0, srow1 = int(r[0]) // bm if len(r) else 0, (int(r[-1]) // bm + 1) if len(r) else 0
        s = _f64(st.read(srow0 * sc, srow1 * sc))
        return x, s[(r // bm - srow0) * sc + c // bn]


@dataclass(frozen=True)
class _Packed4Scaled(Logical):
    """Packed e2m1 pairs (first element in the low nibble) with one scale per run of
    ``block[1]`` consecutive elements (flat index // block): gpt-oss MXFP4 (E8M0 scales)
    and NVFP4 (e4m3 scales and a global scale)."""

    def read(self, start: int, stop: int) -> npt.NDArray[np.float64]:
        import numpy as np

        x, sv = self._parts(start, stop)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            out = x * sv
            gt = dict(self.parts).get("global_scale")
            if gt is not None:
                gs = float(_f64(gt.read(0, 1))[0])
                out = out / gs if dict(self.options).get("global") == "divide" else out * gs
        return out

    def decompose(self, start: int, stop: int
                  ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        import numpy as np

        x, sv = self._parts(start, stop)
        gt = dict(self.parts).get("global_scale")
        if gt is not None:
            gs = float(_f64(gt.read(0, 1))[0])
            with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                sv = sv / gs if dict(self.options).get("global") == "divide" else sv * gs
        return x, sv

    def _parts(self, start: int, stop: int
               ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        import numpy as np

        from precli.sources.read import pair_lut

        g = self.block[1]
        b0, b1 = start // 2, (stop + 1) // 2
        raw = np.asarray(self.p("elements").read(b0, b1), dtype=np.uint8)
        x = pair_lut("e2m1fn")[raw].reshape(-1)[start - 2 * b0: stop - 2 * b0]
        s0, s1 = start // g, (stop - 1) // g + 1 if stop > start else start // g
        st = self.p("scales")
        if st.dtype == "U8":  # E8M0 codes
            from precli.sources.read import lut

            sv = _f64(lut("e8m0fnu")[np.asarray(st.read(s0, s1), dtype=np.uint8)])
        else:
            sv = _f64(st.read(s0, s1))
        idx = np.arange(start, stop, dtype=np.int64) // g - s0
        return _f64(x), sv[idx]


@dataclass(frozen=True)
class _Int4Groups(Logical):
    """AWQ / GPTQ: logical [N, K] (out, in) = ((q - z) * s) transposed from the stored
    [K, N] orientation; a read of rows [n0, n1) decodes columns n0..n1 of the stored
    matrices."""

    def decompose(self, start: int, stop: int
                  ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        import numpy as np

        N, K = self.shape  # noqa: N806
        if stop <= start:
            return np.zeros(0, np.float64), np.zeros(0, np.float64)
        n0, n1 = start // K, (stop - 1) // K + 1
        q, s = self._columns(n0, n1)  # [K, n1 - n0] each
        a, b = start - n0 * K, stop - n0 * K
        return q.T.reshape(-1)[a:b], s.T.reshape(-1)[a:b]

    def _columns(self, n0: int, n1: int
                 ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        import numpy as np

        kind = dict(self.options)["kind"]
        g = self.block[1]
        qw, qz, sc = self.p("elements"), self.p("zeros"), self.p("scales")
        N, K = self.shape  # noqa: N806
        w0, w1 = n0 // 8, (n1 - 1) // 8 + 1
        shifts4 = np.arange(8, dtype=np.uint32) * 4
        if kind == "awq":
            order = np.array(AWQ_ORDER, dtype=np.uint32) * 4
            words = _rows_cols(qw, K, qw.shape[1], w0, w1)  # [K, w]
            q = (words[:, :, None] >> order[None, None, :]) & 15
            q = q.reshape(K, -1)[:, n0 - 8 * w0: n1 - 8 * w0]
            zw = _rows_cols(qz, qz.shape[0], qz.shape[1], w0, w1)
            z = ((zw[:, :, None] >> order[None, None, :]) & 15).reshape(qz.shape[0], -1)
            z = z[:, n0 - 8 * w0: n1 - 8 * w0]
        else:
            words = _rows_cols(qw, qw.shape[0], N, n0, n1)  # [K/8, n]
            q = ((words[:, None, :] >> shifts4[None, :, None]) & 15).reshape(-1, n1 - n0)[:K]
            zw = _rows_cols(qz, qz.shape[0], qz.shape[1], w0, w1)
            z = ((zw[:, :, None] >> shifts4[None, None, :]) & 15).reshape(qz.shape[0], -1)
            z = z[:, n0 - 8 * w0: n1 - 8 * w0]
            if dict(self.options).get("gptq") != "v2":
                z = z + 1
        s = _f64(_rows_cols(sc, sc.shape[0], N, n0, n1))
        gi = dict(self.parts).get("g_idx")
        if gi is not None:
            gidx = np.asarray(gi.read(0, K), dtype=np.int64)
            if gidx.size and (gidx.min() < 0 or gidx.max() >= s.shape[0]):
                raise CheckpointError(gi.path, f"expected group indices in [0, {s.shape[0]})"
                                      f"; found {int(gidx.min())}..{int(gidx.max())}", gi.name)
        else:
            gidx = np.arange(K, dtype=np.int64) // g
        return q.astype(np.float64) - z[gidx].astype(np.float64), s[gidx]


@dataclass(frozen=True)
class _PackQuantized(Logical):
    """compressed-tensors pack-quantized int4: [out, in] codes packed eight to an int32
    along the input dimension (element 8k + i at bits 4i of word k), stored unsigned with
    an offset of 8 (u = q + 8); one scale (and, asymmetric, one zero point) per group of
    ``block[1]`` inputs (a group of the whole row for channel scales), or per
    ``weight_g_idx[c]`` when that is stored. Value ``(q - z) * s``, z = 0 when symmetric.
    Zero points (option ``zero_point``): ``packed``, eight to an int32 along the output
    rows (row 8j + i at bits 4i of word row j, stored as z + 8), or ``int8``, one I8 each
    (compressed-tensors before 0.9.4)."""

    def decompose(self, start: int, stop: int
                  ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        import numpy as np

        rows, k = self.shape
        if stop <= start:
            return np.zeros(0, np.float64), np.zeros(0, np.float64)
        r0, r1 = start // k, (stop - 1) // k + 1
        wp, sc = self.p("elements"), self.p("scales")
        words = wp.shape[1]
        w = np.ascontiguousarray(wp.read(r0 * words, r1 * words)).view(np.uint32)
        u = (w.reshape(r1 - r0, words, 1) >> (np.arange(8, dtype=np.uint32) * 4)) & 15
        q = u.reshape(r1 - r0, -1)[:, :k].astype(np.float64) - 8.0
        ng = sc.shape[1]
        gi = dict(self.parts).get("g_idx")
        cg = np.asarray(gi.read(0, k), np.int64) if gi is not None else \
            np.arange(k, dtype=np.int64) // self.block[1]
        sv = _f64(sc.read(r0 * ng, r1 * ng)).reshape(r1 - r0, ng)
        s = sv[:, cg]
        zt = dict(self.parts).get("zeros")
        if zt is not None:
            q = q - self._zeros(zt, r0, r1, ng)[:, cg]  # exact: integers in [-15, 15]
        a, b = start - r0 * k, stop - r0 * k
        return q.reshape(-1)[a:b], s.reshape(-1)[a:b]

    def zeros(self, r0: int, r1: int) -> npt.NDArray[np.float64] | None:
        zt = dict(self.parts).get("zeros")
        return None if zt is None else self._zeros(zt, r0, r1, self.p("scales").shape[1])

    def _zeros(self, zt: Tensor, r0: int, r1: int, ng: int) -> npt.NDArray[np.float64]:
        """Zero points of rows [r0, r1), [r1 - r0, groups], as float64."""
        import numpy as np

        if dict(self.options).get("zero_point") == "packed":
            w0, w1 = r0 // 8, (r1 - 1) // 8 + 1
            zw = np.ascontiguousarray(zt.read(w0 * ng, w1 * ng)).view(np.uint32)
            nib = (zw.reshape(w1 - w0, 1, ng)
                   >> (np.arange(8, dtype=np.uint32) * 4)[None, :, None]) & 15
            return nib.reshape(-1, ng)[r0 - 8 * w0: r1 - 8 * w0].astype(np.float64) - 8.0
        return _f64(zt.read(r0 * ng, r1 * ng)).reshape(r1 - r0, ng)


def _rows_cols(t: Tensor, rows: int, width: int, c0: int, c1: int) -> npt.NDArray[Any]:
    """Columns [c0, c1) of every row of a 2-D raw tensor, as uint32 (ints) or the values."""
    import numpy as np

    whole = t.read(0, rows * width).reshape(rows, width)[:, c0:c1]
    if whole.dtype.kind in "iu":
        return np.ascontiguousarray(whole).view(np.uint32) if whole.dtype.itemsize == 4 \
            else whole.astype(np.uint32)
    return whole


# ------------------------------------------------------------------ grouping


def read_config(path: str) -> dict[str, Any]:
    """The ``quantization_config`` of a ``config.json`` beside the checkpoint (or a
    ``quantize_config.json``, AutoGPTQ's), {} when there is none or it does not parse."""
    base = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    for name, key in (("config.json", "quantization_config"), ("quantize_config.json", None)):
        p = os.path.join(base, name)
        try:
            with open(p, "rb") as f:
                obj = json.loads(f.read(10_000_000))
        except (OSError, ValueError, RecursionError):  # unreadable, not JSON, nested too deep
            continue
        if isinstance(obj, dict):
            q = obj.get(key) if key else obj
            if isinstance(q, dict):
                return q
    return {}


def group_checkpoint(ck: Checkpoint, config: dict[str, Any] | None = None) -> Checkpoint:
    """The checkpoint with each quantized family replaced by one logical tensor (at the
    place of its element tensor); a family whose parts do not fit together is left as raw
    tensors and named in ``errors``."""
    cfg = read_config(ck.path) if config is None else config
    tensors, errors = pair_tensors(list(ck.tensors()), cfg)
    return Checkpoint(ck.path, ck.kind, ck.metadata, tensors,
                      list(ck.errors) + errors)


def pair_tensors(tensors: list[Tensor], config: dict[str, Any] | None = None
          ) -> tuple[list[Tensor], list[CheckpointError]]:
    """Logical tensors for the quantized families in ``tensors`` (see the module
    docstring for the name mapping), in file order, and the families that do not fit."""
    cfg = config or {}
    by = {t.name: t for t in tensors}
    used: dict[str, QuantTensor | None] = {}  # raw name -> its logical tensor (on elements)
    errors: list[CheckpointError] = []
    logical: set[str] = set()  # the names of the logical tensors made so far
    for t in tensors:
        if t.name in used:
            continue
        try:
            q = _match(t, by, cfg)
        except CheckpointError as e:
            errors.append(e)
            continue
        if q is None:
            continue
        roles = dict(q.parts)
        if any(p.name in used for p in roles.values()):
            continue
        clash = by.get(q.name)
        if q.name in logical or (clash is not None and all(p is not clash
                                                           for _, p in q.parts)):
            what = "another quantized family's" if q.name in logical else "a stored tensor's"
            errors.append(CheckpointError(
                t.path, f"is {what} name and the logical name of the {q.dtype} family "
                f"{', '.join(repr(p.name) for _, p in q.parts)}: the family is reported as "
                "its raw tensors", q.name))
            continue
        logical.add(q.name)
        for role, p in q.parts:
            used[p.name] = q if role == "elements" else None
    out: list[Tensor] = []
    for t in tensors:
        if t.name not in used:
            out.append(t)
        elif used[t.name] is not None:
            q2 = used[t.name]
            assert q2 is not None
            out.append(q2)
    return out, errors


def _strip(name: str, suffix: str) -> str | None:
    return name[: -len(suffix)] if name.endswith(suffix) else None


def _match(t: Tensor, by: dict[str, Tensor], cfg: dict[str, Any]) -> QuantTensor | None:
    n = t.name
    # DeepSeek FP8 blocks
    if (x := _strip(n, "weight")) is not None and t.dtype == "F8_E4M3" \
            and (s := by.get(x + "weight_scale_inv")) is not None:
        return _fp8_block(t, s, n, cfg)
    # gpt-oss MXFP4
    for sb, ss in (("_blocks", "_scales"), (".blocks", ".scales")):
        if (x := _strip(n, sb)) is not None and t.dtype == "U8" \
                and (s := by.get(x + ss)) is not None and s.dtype == "U8":
            return _mxfp4(t, s, x)
    # NVFP4
    if (x := _strip(n, "weight")) is not None and t.dtype == "U8" \
            and (s := by.get(x + "weight_scale")) is not None \
            and (g := by.get(x + "weight_scale_2")) is not None:
        return _nvfp4(t, s, g, n, "nvfp4-modelopt")
    if (x := _strip(n, "weight_packed")) is not None and t.dtype == "U8" \
            and (s := by.get(x + "weight_scale")) is not None \
            and (g := by.get(x + "weight_global_scale")) is not None:
        return _nvfp4(t, s, g, x + "weight", "nvfp4-ct")
    # compressed-tensors pack-quantized int4
    if (x := _strip(n, "weight_packed")) is not None and t.dtype == "I32" \
            and (s := by.get(x + "weight_scale")) is not None \
            and (ws := by.get(x + "weight_shape")) is not None:
        return _pack_quantized(t, s, ws, by.get(x + "weight_zero_point"),
                               by.get(x + "weight_g_idx"), x + "weight", cfg)
    # AWQ / GPTQ
    if (x := _strip(n, "qweight")) is not None and t.dtype == "I32" \
            and (z := by.get(x + "qzeros")) is not None \
            and (s := by.get(x + "scales")) is not None:
        return _int4(t, z, s, by.get(x + "g_idx"), x + "weight", cfg)
    return None


class LayoutError(CheckpointError):
    """Raw tensors of a quantized family that do not fit together. ``check``: ``shape``
    (a dimension not divisible by the block / group), ``packed-size`` (a packed or scale
    tensor whose size does not match the logical shape) or ``layout`` (anything else)."""

    def __init__(self, t: Tensor, check: str, expected: str, found: str) -> None:
        self.check, self.expected, self.found = check, expected, found
        super().__init__(t.path, f"expected {expected}; found {found}", t.name)


def _fp8_block(w: Tensor, s: Tensor, name: str, cfg: dict[str, Any]) -> QuantTensor:
    from precli.array.recipes import MAX_GROUP, MAX_TILE

    bs = cfg.get("weight_block_size") or [128, 128]
    if not (isinstance(bs, list) and len(bs) == 2 and all(
            isinstance(b, int) and not isinstance(b, bool) and 1 <= b <= MAX_GROUP
            for b in bs) and bs[0] * bs[1] <= MAX_TILE):
        raise LayoutError(w, "layout", f"a weight_block_size (config.json) of two integers in "
                          f"[1, {MAX_GROUP:,}], at most {MAX_TILE:,} values a block",
                          f"{bs!r}")
    bm, bn = bs
    if len(w.shape) != 2:
        raise LayoutError(w, "layout", "a 2-D FP8 block weight", f"shape {list(w.shape)}")
    m, n = w.shape
    want = (-(-m // bm), -(-n // bn))
    if s.dtype not in ("F32", "BF16", "F16") or tuple(s.shape) != want:
        raise LayoutError(s, "packed-size", f"F32 scales of shape {list(want)} "
                          f"(weight {list(w.shape)} in {bm}x{bn} blocks)",
                          f"{s.dtype} {list(s.shape)}")
    opts = [("scale_fmt", str(cfg.get("scale_fmt")))] if cfg.get("scale_fmt") else []
    parts = (("elements", w), ("scales", s))
    b = f"{bm}" if bm == bn else f"{bm}x{bn}"
    return _make(name, LAYOUTS["fp8-block"].format(b=b), w.shape, "e4m3fn", "fp8-block",
                 parts, (bm, bn), tuple(opts), _BlockFP8)


def _mxfp4(b: Tensor, s: Tensor, name: str) -> QuantTensor:
    if len(b.shape) < 2 or b.shape[-1] != 16:
        raise LayoutError(b, "packed-size", "MXFP4 blocks of shape [..., G, 16] (32 e2m1 "
                          "codes in 16 bytes)", f"shape {list(b.shape)}")
    if tuple(s.shape) != tuple(b.shape[:-1]):
        raise LayoutError(s, "packed-size", f"one E8M0 scale per block, shape "
                          f"{list(b.shape[:-1])}", f"shape {list(s.shape)}")
    shape = (*b.shape[:-2], b.shape[-2] * 32)
    return _make(name, LAYOUTS["mxfp4"], shape, "e2m1fn", "mxfp4",
                 (("elements", b), ("scales", s)), (1, 32), (), _Packed4Scaled)


def _nvfp4(w: Tensor, s: Tensor, g: Tensor, name: str, layout: str) -> QuantTensor:
    if len(w.shape) != 2:
        raise LayoutError(w, "layout", "2-D packed NVFP4 weights", f"shape {list(w.shape)}")
    m, half = w.shape
    n = 2 * half
    if n % 16:
        raise LayoutError(w, "shape", "columns a multiple of the NVFP4 block (16)",
                          f"{n} columns")
    if s.dtype != "F8_E4M3" or tuple(s.shape) != (m, n // 16):
        raise LayoutError(s, "packed-size", f"F8_E4M3 block scales of shape {[m, n // 16]} "
                          f"({m} x {n} in blocks of 16)", f"{s.dtype} {list(s.shape)}")
    if g.numel != 1 or g.dtype not in ("F32", "BF16", "F16"):
        raise LayoutError(g, "packed-size", "one F32 global scale",
                          f"{g.dtype} {list(g.shape)}")
    opts = (("global", "divide" if layout == "nvfp4-ct" else "multiply"),)
    return _make(name, LAYOUTS[layout], (m, n), "e2m1fn", layout,
                 (("elements", w), ("scales", s), ("global_scale", g)), (1, 16), opts,
                 _Packed4Scaled)


def _int4(qw: Tensor, qz: Tensor, sc: Tensor, gi: Tensor | None, name: str,
          cfg: dict[str, Any]) -> QuantTensor:
    if len(qw.shape) != 2 or len(qz.shape) != 2 or len(sc.shape) != 2:
        raise LayoutError(qw, "layout", "2-D qweight, qzeros and scales",
                          f"{list(qw.shape)}, {list(qz.shape)}, {list(sc.shape)}")
    method = str(cfg.get("quant_method", "")).lower()
    if sc.shape[1] == 8 * qw.shape[1] and method != "gptq":
        kind, k, n = "awq", qw.shape[0], sc.shape[1]
    elif sc.shape[1] == qw.shape[1] and method != "awq":
        kind, k, n = "gptq", qw.shape[0] * 8, sc.shape[1]
    else:
        raise LayoutError(qw, "packed-size", "AWQ qweight [K, N/8] with scales [K/g, N], "
                          "or GPTQ qweight [K/8, N] with scales [K/g, N]",
                          f"qweight {list(qw.shape)}, scales {list(sc.shape)}")
    if n % 8:
        raise LayoutError(sc, "shape", "output columns a multiple of 8 (one int32 of zero "
                          "points per 8)", f"{n} columns")
    if qz.dtype != "I32" or tuple(qz.shape) != (sc.shape[0], n // 8):
        raise LayoutError(qz, "packed-size", f"I32 qzeros of shape {[sc.shape[0], n // 8]}",
                          f"{qz.dtype} {list(qz.shape)}")
    if sc.dtype not in ("F16", "BF16", "F32"):
        raise LayoutError(sc, "layout", "F16 scales", sc.dtype)
    groups = sc.shape[0]
    gs = cfg.get("group_size")
    gsize = gs if isinstance(gs, int) and gs > 0 else (k // groups if groups else k)
    if (gi is None or kind == "awq") and (gsize <= 0 or groups * gsize != k or k % gsize):
        # (AWQ has no g_idx: its groups are in order, whatever tensor sits beside it)
        raise LayoutError(qw, "shape", f"{k} input rows in groups of {gsize} "
                          f"({-(-k // max(gsize, 1))} groups)", f"{groups} groups of scales")
    opts: list[tuple[str, str]] = [("kind", kind)]
    parts = [("elements", qw), ("zeros", qz), ("scales", sc)]
    if kind == "gptq":
        fmt = str(cfg.get("checkpoint_format", "gptq")).lower()
        opts.append(("gptq", "v2" if fmt == "gptq_v2" else "v1"))
        if gi is not None:
            if gi.numel != k or gi.dtype not in ("I32", "I64"):
                raise LayoutError(gi, "packed-size", f"I32 g_idx of {k} entries",
                                  f"{gi.dtype} {list(gi.shape)}")
            parts.append(("g_idx", gi))
    dtype = LAYOUTS[kind].format(g=gsize, v=dict(opts).get("gptq", ""))
    return _make(name, dtype, (n, k), "uint4", kind, tuple(parts), (1, gsize), tuple(opts),
                 _Int4Groups)


def ct_weight_args(cfg: dict[str, Any]) -> dict[str, Any] | None:
    """The ``weights`` quantization args of a compressed-tensors config's pack-quantized
    ``config_groups`` (format per group, else the top-level ``format``), when they all
    agree on the fields precli reads; None when there are none or they differ."""
    groups = cfg.get("config_groups")
    if not isinstance(groups, dict):
        return None
    found = []
    for grp in groups.values():
        if not isinstance(grp, dict):
            continue
        fmt = grp.get("format") or cfg.get("format")
        w = grp.get("weights")
        if fmt == "pack-quantized" and isinstance(w, dict):
            found.append(w)
    keys = ("num_bits", "symmetric", "strategy", "group_size", "observer", "actorder", "type")
    if len({json.dumps([w.get(k) for k in keys]) for w in found}) != 1:
        return None
    return found[0]


def _first_at(bad: npt.NDArray[Any], shape: tuple[int, ...]) -> list[int]:
    import numpy as np

    return [int(i) for i in np.unravel_index(int(np.argmax(bad)), shape)]


def _pack_quantized(wp: Tensor, sc: Tensor, ws: Tensor, zp: Tensor | None,
                    gi: Tensor | None, name: str, cfg: dict[str, Any]) -> QuantTensor:
    import numpy as np

    args = ct_weight_args(cfg) or {}
    if ws.numel != 2 or ws.dtype not in ("I64", "I32"):
        raise LayoutError(ws, "layout", "weight_shape of two integers",
                          f"{ws.dtype} {list(ws.shape)}")
    bits = args.get("num_bits", 4)
    if bits != 4:
        raise LayoutError(wp, "layout", "num_bits 4 (precli reads 4-bit pack-quantized)",
                          f"num_bits {bits!r} in the config")
    rows, k = (int(v) for v in np.asarray(ws.read(0, 2), np.int64))
    if rows < 0 or k < 0:
        raise LayoutError(ws, "layout", "weight_shape of two non-negative integers",
                          f"{[rows, k]}")
    if len(wp.shape) != 2 or tuple(wp.shape) != (rows, -(-k // 8)):
        raise LayoutError(wp, "packed-size", f"I32 weight_packed of shape "
                          f"{[rows, -(-k // 8)]} for weight_shape {[rows, k]}",
                          f"{wp.dtype} {list(wp.shape)}")
    if len(sc.shape) != 2 or sc.shape[0] != rows or sc.shape[1] < 1 or \
            sc.dtype not in ("F16", "BF16", "F32"):
        raise LayoutError(sc, "packed-size", f"float weight_scale of shape [{rows}, groups]",
                          f"{sc.dtype} {list(sc.shape)}")
    ng = sc.shape[1]
    strategy = args.get("strategy")
    gsz = args.get("group_size")
    if strategy == "group" and isinstance(gsz, int) and gsz > 0:
        if ng != -(-k // gsz):
            raise LayoutError(sc, "packed-size", f"weight_scale of shape {[rows, -(-k // gsz)]}"
                              f" ({k} input columns in groups of {gsz}, the config's "
                              "group_size)", f"{sc.dtype} {list(sc.shape)}")
        if k > gsz and k % gsz:
            raise LayoutError(wp, "shape", f"input columns a multiple of the group size {gsz}",
                              f"{k} columns")
    g = k if ng == 1 else (k // ng if k % ng == 0 else 0)
    if g == 0:
        raise LayoutError(sc, "shape", f"{k} input columns in {ng} equal groups",
                          f"{k} % {ng} = {k % ng}")
    asym = args.get("symmetric") is False and strategy in (None, "group", "channel")
    opts: list[tuple[str, str]] = []
    parts: list[tuple[str, Tensor]] = [("elements", wp), ("scales", sc), ("shape", ws)]
    if zp is None and asym:
        raise LayoutError(wp, "layout", "a weight_zero_point beside it (the config says "
                          "symmetric: false)", "none")
    if zp is not None:
        if zp.dtype == "I32":  # compressed-tensors >= 0.9.4: packed along the output rows
            kind, want = "packed", [-(-rows // 8), ng]
        elif zp.dtype == "I8":  # before: one int8 per group, as calculate_qparams made it
            kind, want = "int8", [rows, ng]
        else:
            raise LayoutError(zp, "layout", "I32 zero points packed eight to a word along "
                              "the output rows, or I8 zero points",
                              f"{zp.dtype} {list(zp.shape)}")
        if list(zp.shape) != want:
            raise LayoutError(zp, "packed-size", f"{zp.dtype} weight_zero_point of shape "
                              f"{want} ({rows} rows x {ng} groups"
                              f"{', eight rows to a word' if kind == 'packed' else ''})",
                              f"shape {list(zp.shape)}")
        if kind == "int8":
            z = np.asarray(zp.read(), np.int64).reshape(rows, ng)
            bad = (z < -8) | (z > 7)
            if bad.any():
                at = _first_at(bad, (rows, ng))
                raise LayoutError(zp, "layout", "int4 zero points in [-8, 7]",
                                  f"{int(bad.sum())} of {z.size} outside, first at {at}: "
                                  f"{int(z[at[0], at[1]])}")
        opts.append(("zero_point", kind))
        parts.append(("zeros", zp))
    act = args.get("actorder")
    if gi is not None:
        if gi.numel != k or gi.dtype not in ("I32", "I64"):
            raise LayoutError(gi, "packed-size", f"I32 weight_g_idx of {k} entries",
                              f"{gi.dtype} {list(gi.shape)}")
        gv = np.asarray(gi.read(0, k), np.int64)
        if not (gv == -1).any():  # a -1 means column order (compressed-tensors forward.py)
            bad = (gv < 0) | (gv >= ng)
            if bad.any():
                raise LayoutError(gi, "layout", f"group indices in [0, {ng})",
                                  f"{int(bad.sum())} of {k} outside, first at "
                                  f"[{int(np.argmax(bad))}]: {int(gv[int(np.argmax(bad))])}")
            parts.append(("g_idx", gi))
    elif act is True or act == "group":
        raise LayoutError(wp, "layout", "a weight_g_idx beside it (the config says "
                          "actorder: group)", "none")
    observer = args.get("observer")
    contiguous = all(r != "g_idx" for r, _ in parts)
    if asym and zp is not None and contiguous and (observer is None
                                                   or "minmax" in str(observer)):
        opts.append(("recipe", "minmax"))  # declared, and re-derivable by precli check
    tag = " asym" if zp is not None else ""
    dtype = f"INT4-group{g}{tag} (compressed-tensors)" if ng > 1 else \
        f"INT4-channel{tag} (compressed-tensors)"
    return _make(name, dtype, (rows, k), "int4", "pack-quantized", tuple(parts), (1, g),
                 tuple(opts), _PackQuantized)


def _make(name: str, dtype: str, shape: tuple[int, ...], fmt: str, layout: str,
          parts: tuple[tuple[str, Tensor], ...], block: tuple[int, int],
          options: tuple[tuple[str, str], ...], cls: type[Logical]) -> QuantTensor:
    first = parts[0][1]
    reader = cls(first.path, 0, tuple(shape), parts, block, options)
    nbytes = sum(p.nbytes for _, p in parts)
    return QuantTensor(name, dtype, tuple(shape), None, None, nbytes, first.path, reader,
                       layout, fmt, parts, block, options)
