"""Recipes: how a tensor is scaled and stored, ``FORMAT[:SCALING[:SCALEFMT]]``.

A recipe names an element format, how scales are shared (``SCALING``) and how each scale is
stored (``SCALEFMT``). It is parsed into a frozen :class:`Recipe`; everything that quantizes
data under a recipe goes through one public surface, :func:`quantize_tile`, so compare, plan
and check all agree. Pure numpy, never prints.

**Layout.** Every tensor is seen as a matrix: the *blocking axis* (the last axis, or
``--axis``) is the columns, and all other axes, flattened in row-major order, are the rows.
A 1-D array is one row. Groups and blocks tile that matrix, each row with its own partial
group at its end:

============== ==============================================================
``tensor``      one scale for the whole tensor
``channel``     one scale per index of the first axis (per output channel)
``group<N>``    one scale per N consecutive values of a row
``block<R>x<C>`` one scale per R x C tile (partial tiles at the right and bottom)
============== ==============================================================

Block formats (mxfp8_e4m3 ... mxfp4, mxint8, nvfp4) are recipes of their own, groups along
the rows of their spec's block size; nf4 is an absmax group of ``--block-size`` (64).
ggml's block types q8_0, q4_0, q4_1, q5_0, q5_1 and tq2_0 are recipes too, computed as
gguf-py quantizes them (:mod:`precli.array.ggml`); rows must hold whole blocks (32; 256).

**Scales.** For a float element format with max ``M`` the scale of a group is
``amax / M`` (amax over the group's finite values) stored in SCALEFMT: ``fp32`` / ``fp16`` /
``bf16`` round to nearest-even (saturating at the scale format's max, and at least its
smallest positive value), ``ue8m0`` rounds up to a power of two so nothing overflows
(DeepSeek-V3.1, torchao RCEIL), clamped below at 2**-127; a power above 2**127 cannot be
stored and makes the group NaN. An all-zero group gets scale 1. Integer formats use the
usual affine rules (see :func:`scale_exact`); their scales are stored the same way, and the
zero point is computed from the *stored* scale, so dequantization uses what a checkpoint
would hold. The MX and NVFP4 rules are in :func:`scale_exact`.

**Elements** are ``round(x / scale)`` into the element format, correctly rounded from the
exact quotient (nearest-even, saturating: a value still past the max after scaling is
clamped and counted as ``overflow``). The vectorized path divides in float64 and redoes
exactly, with Fractions, every lane whose float64 quotient lies within a few ulps of a
rounding boundary, so its codes are those of exact arithmetic (``tests/test_recipes.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from precli.array import codec
from precli.array.ggml import GGML_TYPES, ggml_blocks
from precli.array.intquant import int_bounds, int_codes
from precli.array.views import View, last_axis
from precli.core.exact import ExactValue, floor_log2
from precli.core.formats import (
    BlockFormat,
    FloatFormat,
    Format,
    IntFormat,
    TableFormat,
    get_block_format,
    get_format,
    is_block_format,
)
from precli.core.rounding import round_float, round_int, round_table, stochastic_bits
from precli.errors import UsageError, arg

__all__ = [
    "MAX_GROUP",
    "SCALE_FORMATS",
    "Context",
    "Recipe",
    "TileResult",
    "parse_recipe",
    "block_quantize",
    "group_params",
    "group_scales",
    "nvfp4_tensor_scale",
    "quantize_tile",
    "scale_exact",
    "scales_from_range",
]

F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

#: Scale storage formats a recipe may name, and their widths in bits.
SCALE_FORMATS: dict[str, int] = {"fp32": 32, "fp16": 16, "bf16": 16, "ue8m0": 8}
_SCALE_ALIASES = {"e8m0": "ue8m0", "e8m0fnu": "ue8m0", "float32": "fp32", "float16": "fp16",
                  "bfloat16": "bf16", "f32": "fp32", "f16": "fp16"}
#: Largest group / block side and tile (values): a scale per more values than this says
#: nothing a per-tensor scale does not, and bounds the memory one tile takes.
MAX_GROUP = 1 << 16
MAX_TILE = 1 << 22

_WINDOW = 2.0**-50  # relative: wider than every float64 rounding on the way to a quotient
_E8M0_MIN, _E8M0_MAX = -127, 127

_SCALING_RE = re.compile(r"^(tensor|channel|group(\d+)|block(\d+)x(\d+))$")


class Recipe(NamedTuple):
    """One way of storing a tensor.

    ``kind``: ``cast`` (the element format alone, no scale), ``float`` / ``int`` / ``table``
    (a scaled element format), ``mx`` or ``nvfp4`` (the block formats' own rules), ``ggml``
    (a ggml block type, named in ``rule``: :mod:`precli.array.ggml`), or
    ``legacy-int`` (a bare integer name: float64 scale and zero point from ``--scheme`` /
    ``--granularity``, as precli always did). ``rows`` x ``cols`` is the tile one scale
    covers (0 x 0 for tensor and channel scaling). ``scale_format`` is how a scale is
    stored: fp32 / fp16 / bf16 / ue8m0, ``e8m0`` (MX), ``e4m3fn`` (NVFP4 block scales, with
    an fp32 tensor scale), ``fp64`` (legacy integers) or ``none``."""

    text: str
    kind: str
    element: Format
    scaling: str
    rows: int
    cols: int
    scale_format: str
    scheme: str | None = None
    block: BlockFormat | None = None
    rule: str | None = None
    channel_axis: int | None = None

    @property
    def name(self) -> str:
        return self.text

    @property
    def needs_scan(self) -> bool:
        """Does it need the tensor's (or each channel's) range before quantizing?"""
        return self.scaling in ("tensor", "channel") or self.kind == "nvfp4"

    @property
    def element_bits(self) -> int:
        return self.element.bits

    @property
    def scale_bits(self) -> int:
        """Bits of one stored scale (and its zero point, for asymmetric integers: stored
        at the element width, as GPTQ / AWQ pack their qzeros)."""
        if self.scale_format == "none":
            return 0
        if self.kind == "ggml":
            return GGML_TYPES[self.rule or ""][1]
        sb = {"fp64": 64, "e8m0": 8, "e4m3fn": 8}.get(self.scale_format)
        bits = sb if sb is not None else SCALE_FORMATS[self.scale_format]
        if self.scheme == "asymmetric":
            bits += self.element.bits
        return bits

    @property
    def tensor_bits(self) -> int:
        """Extra bits per tensor (NVFP4's fp32 tensor scale)."""
        return 32 if self.kind == "nvfp4" else 0

    def scale_count(self, shape: tuple[int, ...], view: View | None = None) -> int:
        """How many scales a tensor of this shape stores, seen through ``view`` (default:
        reduce over the last axis)."""
        if self.scaling == "none":
            return 0
        n = math.prod(shape)
        if self.scaling == "tensor":
            return 1 if n else 0
        if not n:
            return 0
        vw = view if view is not None else last_axis(len(shape))
        if self.scaling == "channel":  # one per row of the view; a 1-D tensor is one channel
            if self.channel_axis is not None:
                return shape[self.channel_axis % len(shape)] if len(shape) > 1 else 1
            return vw.matrix(shape)[0] if len(shape) > 1 else 1
        r, c = vw.matrix(shape)
        return -(-r // self.rows) * -(-c // self.cols)

    def storage_bits(self, shape: tuple[int, ...], view: View | None = None) -> int:
        """Exact storage bits of a tensor of this shape, seen through ``view``: elements,
        scales (and zero points) at their stored width, and any per-tensor scale; 0 for an
        empty tensor."""
        n = math.prod(shape)
        if n == 0:
            return 0
        return (n * self.element_bits + self.scale_count(shape, view) * self.scale_bits
                + self.tensor_bits)

    def bits_per_value(self, shape: tuple[int, ...], view: View | None = None) -> float | None:
        """Storage bits per value, scales (and zero points) included at their stored width;
        None for an empty tensor."""
        n = math.prod(shape)
        return self.storage_bits(shape, view) / n if n else None

    def partial(self, shape: tuple[int, ...], view: View | None = None) -> str | None:
        """A note when the view's rows (or columns) do not hold whole blocks / groups, so
        the tensor pays more bits per value than the recipe's nominal figure; else None."""
        if not self.rows or not math.prod(shape):
            return None
        vw = view if view is not None else last_axis(len(shape))
        r, c = vw.matrix(shape)
        bits = self.bits_per_value(shape, vw)
        whole = self.element_bits + self.scale_bits / (self.rows * self.cols)
        if c % self.cols == 0 and r % self.rows == 0:
            return None
        what = f"group of {self.cols}" if self.rows == 1 else f"block {self.rows}x{self.cols}"
        if c % self.cols:  # (no commas: the note is one csv cell that cut can split)
            side = (f"rows of {c} values are shorter than a {what}" if c < self.cols else
                    f"rows of {c} values end in a partial {what}")
        else:
            side = f"{r} rows end in a partial {what}"
        return f"{side}: {bits:.4g} bits/value ({whole:.4g} in whole ones)"


def matrix_shape(shape: tuple[int, ...], axis: int | None = None) -> tuple[int, int]:
    """(rows, columns) of the matrix view: the blocking axis is the columns."""
    if not shape:
        return 1, 1
    ax = (len(shape) - 1) if axis is None else axis % len(shape)
    c = shape[ax]
    return math.prod(shape) // c if c else 0, c


# ------------------------------------------------------------------ parsing


class Defaults(NamedTuple):
    """What a bare name means (the compare options): ``scheme`` None means each recipe's
    own default (asymmetric for integer groups, symmetric otherwise)."""

    scheme: str | None = None
    granularity: str = "tensor"
    channel_axis: int | None = None  # None: one channel per row of the view
    block_size: int = 64


DEFAULTS = Defaults()

#: What compare and plan try on a checkpoint when no recipe is named: the ways models are
#: deployed (16-bit casts, FP8 with channel or 128x128 block scales, the MX and NVFP4 block
#: formats, INT8 per channel, INT4 in groups of 128, NF4). Unscaled casts stay available
#: by name.
DEPLOYMENT_RECIPES = (
    "bf16", "fp16", "e4m3fn:channel", "e4m3fn:block128x128", "mxfp8", "mxfp4", "nvfp4",
    "int8:channel", "int4:group128", "nf4",
)  # fmt: skip


def _check_side(n: int, what: str, text: str) -> int:
    if not 1 <= n <= MAX_GROUP:
        raise UsageError(f"{what} in {text!r} must be between 1 and {MAX_GROUP:,}")
    return n


def parse_recipe(text: str, defaults: Defaults | None = None) -> Recipe:
    """Parse ``FORMAT[:SCALING[:SCALEFMT]]`` (see the module docstring)."""
    defaults = defaults or DEFAULTS
    raw = text.strip()
    parts = [p.strip().lower() for p in raw.split(":")]
    if len(parts) > 3 or not all(parts):
        raise UsageError(f"cannot read recipe {text!r}: the form is FORMAT[:SCALING[:SCALEFMT]]"
                         " (e.g. e4m3fn:tensor, int4:group128, e4m3fn:block128x128:ue8m0)")
    fname = parts[0]
    if fname in GGML_TYPES:
        return _ggml_recipe(fname, parts[1:], text)
    if is_block_format(fname):
        return _block_recipe(get_block_format(fname), parts[1:], text)
    fmt = get_format(fname)
    if len(parts) == 1:
        return _bare(fmt, defaults)
    m = _SCALING_RE.match(parts[1])
    if m is None:
        raise UsageError(f"unknown scaling {parts[1]!r} in {text!r}; choose tensor, channel, "
                         "group<N> (e.g. group128) or block<R>x<C> (e.g. block128x128)")
    if isinstance(fmt, FloatFormat) and not fmt.signed:
        raise UsageError(f"{fmt.name} is a scale format, not an element format to scale")
    if isinstance(fmt, IntFormat) and fmt.bits > 32:
        raise UsageError(f"{fmt.name} elements are too wide to scale (at most 32 bits)")
    scaling = parts[1]
    rows = cols = 0
    if m.group(2):
        rows, cols = 1, _check_side(int(m.group(2)), "the group size", text)
        scaling = "group"
    elif m.group(3):
        rows = _check_side(int(m.group(3)), "the block height", text)
        cols = _check_side(int(m.group(4)), "the block width", text)
        if rows * cols > MAX_TILE:
            raise UsageError(f"blocks of {text!r} hold more than {MAX_TILE:,} values")
        scaling = "block"
    kind = "float" if isinstance(fmt, FloatFormat) else "int" if isinstance(
        fmt, IntFormat) else "table"
    scheme = None
    if kind == "int":
        scheme = defaults.scheme or ("asymmetric" if scaling == "group" else "symmetric")
    sdefault = "fp16" if kind == "int" and scaling == "group" else "fp32"
    sfmt = sdefault
    if len(parts) == 3:
        sfmt = _SCALE_ALIASES.get(parts[2], parts[2])
        if sfmt not in SCALE_FORMATS:
            raise UsageError(f"unknown scale format {parts[2]!r} in {text!r}; choose "
                             f"{', '.join(SCALE_FORMATS)}")
    spell = f"{fmt.name}:{parts[1]}" + (f":{sfmt}" if sfmt != sdefault else "")
    return Recipe(spell, kind, fmt, scaling, rows, cols, sfmt, scheme)


def _bare(fmt: Format, d: Defaults) -> Recipe:
    if isinstance(fmt, FloatFormat):
        return Recipe(fmt.name, "cast", fmt, "none", 0, 0, "none")
    if isinstance(fmt, IntFormat):
        scheme = d.scheme or "symmetric"
        if d.granularity == "channel":
            return Recipe(fmt.name, "legacy-int", fmt, "channel", 0, 0, "fp64", scheme,
                          channel_axis=d.channel_axis)
        return Recipe(fmt.name, "legacy-int", fmt, "tensor", 0, 0, "fp64", scheme)
    bs = _check_side(d.block_size, arg("block_size"), str(d.block_size))
    return Recipe(fmt.name, "table", fmt, "group", 1, bs, "fp32")


def _ggml_recipe(name: str, rest: list[str], text: str) -> Recipe:
    bits, _, block = GGML_TYPES[name]
    if rest:
        raise UsageError(f"{name} takes no scaling: it is ggml's block type (blocks of "
                         f"{block} along each row, fp16 scales), got {text!r}")
    known = {8: "int8", 4: "uint4", 2: "uint2"}
    elem: Format = get_format(known[bits]) if bits in known else IntFormat(
        name=f"uint{bits}", int_bits=bits, is_signed=False,
        description=f"{bits}-bit code of a ggml {name} block")
    return Recipe(name, "ggml", elem, "group", 1, block, "fp16", rule=name)


def _block_recipe(b: BlockFormat, rest: list[str], text: str) -> Recipe:
    if b.kind == "nvfp4":
        if rest:
            raise UsageError(f"{b.name} takes no scaling: its 16-value blocks, e4m3 block "
                             f"scales and fp32 tensor scale are fixed (got {text!r})")
        return Recipe(b.name, "nvfp4", b.element_format, "group", 1, b.block_size, "e4m3fn",
                      block=b)
    rule = "floor"
    if rest:
        if len(rest) > 1 or rest[0] not in ("floor", "rceil"):
            raise UsageError(f"{b.name} takes one scale rule: floor (OCP MX, the default) or "
                             f"rceil (round up, as cuBLAS / torchao), got {text!r}")
        rule = rest[0]
    spell = b.name if rule == "floor" else f"{b.name}:rceil"
    return Recipe(spell, "mx", b.element_format, "group", 1, b.block_size, "e8m0", block=b,
                  rule=rule)


# ------------------------------------------------------------------ scale rules


class Context(NamedTuple):
    """Per-tensor facts a recipe may need: the NVFP4 tensor scale, and for tensor /
    channel scaling the scale (and zero point) arrays from the first pass."""

    tensor_scale: float = 1.0
    scale: F64 | None = None
    zero_point: F64 | None = None


def _elem_max(r: Recipe) -> Fraction:
    if r.kind == "mx":
        assert r.block is not None
        return r.block.max
    return r.element.max


def _round_scale_exact(sfmt: str, q: Fraction) -> Fraction | None:
    """A positive exact quotient stored in a scale format (None: it cannot be stored)."""
    if sfmt == "ue8m0":
        k = floor_log2(q)
        if Fraction(2) ** k != q:
            k += 1
        if k > _E8M0_MAX:
            return None
        return Fraction(2) ** max(k, _E8M0_MIN)
    f = get_format(sfmt)
    assert isinstance(f, FloatFormat)
    v = round_float(f, ExactValue.of(q), saturate=True).stored.value
    return v if v > 0 else f.smallest_positive


def scale_exact(r: Recipe, lo: Fraction, hi: Fraction,
                tensor_scale: Fraction = Fraction(1)) -> tuple[Fraction | None, int]:
    """(scale, zero point) of one group from its finite range [lo, hi], exactly.

    ``None`` for the scale means it cannot be stored (the group becomes NaN). The rules:

    * float elements: ``amax / max`` in the scale format (module docstring).
    * integers, symmetric: ``amax / qmax`` (signed), and for unsigned formats PyTorch's
      quint8 convention: ``amax / ((qmax - qmin) / 2)`` with zero point
      ``(qmin + qmax + 1) // 2`` (128 for uint8). Asymmetric (GPTQ / AWQ):
      ``(max' - min') / (qmax - qmin)`` over the range extended to hold 0, zero point
      ``clamp(round_half_even(qmin - min' / scale))`` from the stored scale.
    * table formats (nf4): ``amax`` (values are in [-1, 1]), as bitsandbytes.
    * MX, rule floor (OCP MX v1.0 6.3): ``2**(floor(log2 amax) - emax_elem)``; rceil:
      ``2**ceil(log2(amax / elem_max))``. Below 2**-127 clamps to 2**-127 (an all-zero
      block too); above 2**127 is NaN (E8M0 0xff).
    * NVFP4: ``e4m3fn(amax / (6 * tensor_scale))``, nearest-even, saturating; 0 stays 0.
    """
    amax = max(-lo, hi, Fraction(0))
    if r.kind == "mx":
        assert r.block is not None
        if amax == 0:
            return Fraction(2) ** _E8M0_MIN, 0
        if r.rule == "floor":
            k = floor_log2(amax) - r.block.emax_elem
        else:
            q = amax / r.block.max
            k = floor_log2(q)
            if Fraction(2) ** k != q:
                k += 1
        if k > _E8M0_MAX:
            return None, 0
        return Fraction(2) ** max(k, _E8M0_MIN), 0
    if r.kind == "nvfp4":
        e4 = get_format("e4m3fn")
        assert isinstance(e4, FloatFormat)
        return round_float(e4, ExactValue.of(amax / (6 * tensor_scale)),
                           saturate=True).stored.value, 0
    sfmt = r.scale_format
    if r.kind in ("float", "table"):
        if amax == 0:
            return Fraction(1), 0
        return _round_scale_exact(sfmt, amax / _elem_max(r)), 0
    fmt = r.element
    assert isinstance(fmt, IntFormat)
    qmin, qmax = fmt.min_int, fmt.max_int
    if r.scheme == "symmetric":
        if amax == 0:
            return Fraction(1), (qmin + qmax + 1) // 2 if not fmt.signed else 0
        if fmt.signed:
            return _round_scale_exact(sfmt, amax / qmax), 0
        return (_round_scale_exact(sfmt, amax / Fraction(qmax - qmin, 2)),
                (qmin + qmax + 1) // 2)
    lo_, hi_ = min(lo, Fraction(0)), max(hi, Fraction(0))
    if hi_ == lo_:
        return Fraction(1), qmin
    s = _round_scale_exact(sfmt, (hi_ - lo_) / (qmax - qmin))
    if s is None:
        return None, 0
    return s, min(max(_rint(qmin - lo_ / s), qmin), qmax)


def _rint(t: Fraction) -> int:
    """round half to even."""
    f = math.floor(t)
    d = t - f
    if d > Fraction(1, 2) or (d == Fraction(1, 2) and f % 2):
        return f + 1
    return f


def _round_scale_vec(sfmt: str, q: F64) -> tuple[F64, Bool, Bool]:
    """Vectorized _round_scale_exact for positive float64 quotients: (scale, unstorable,
    suspect) where suspect lanes may differ from the exact rule (q within the window of a
    rounding boundary)."""
    if sfmt == "ue8m0":
        m, e = np.frexp(q)
        k = np.where(m == 0.5, e - 1, e).astype(np.int64)
        k = np.where(q == 0, _E8M0_MIN, k)  # a quotient below float64's range: clamped
        bad = k > _E8M0_MAX
        s = np.ldexp(1.0, np.clip(k, _E8M0_MIN, _E8M0_MAX))
        lo_m, lo_e = np.frexp(q * (1 - _WINDOW))
        hi_m, hi_e = np.frexp(q * (1 + _WINDOW))
        k_lo = np.where(lo_m == 0.5, lo_e - 1, lo_e)
        k_hi = np.where(hi_m == 0.5, hi_e - 1, hi_e)
        return s, bad, k_lo != k_hi
    f = get_format(sfmt)
    assert isinstance(f, FloatFormat)
    s = _round_float_vec(f, q, saturate=True)
    tiny = float(f.smallest_positive)
    s = np.where(s > 0, s, tiny)
    sus = _float_suspects(f, q, saturate=True)
    return s, np.zeros(q.shape, np.bool_), sus


def _round_float_vec(f: FloatFormat, q: F64, saturate: bool) -> F64:
    r = codec.round_array_with_flags(f, q, saturate=saturate)
    return codec.decode_array(f, r.codes)


def _float_suspects(f: Format, w: F64, saturate: bool = True) -> Bool:
    """Lanes whose nearest-even rounding into f could change within the relative window
    (the float64 value may sit on the wrong side of a rounding boundary)."""
    if isinstance(f, FloatFormat) and f.specials != "fnu":
        return _midpoint_suspects(f, w)
    d = np.abs(w) * _WINDOW
    with np.errstate(invalid="ignore", over="ignore"):
        a = codec.round_array(f, w - d, saturate=saturate)[0]
        b = codec.round_array(f, w + d, saturate=saturate)[0]
    return np.asarray((a != b) & np.isfinite(w), np.bool_)


def nvfp4_tensor_scale(amax: Fraction | float) -> float:
    """NVFP4's per-tensor scale, ModelOpt's rule: fp32(amax / (6 * 448)), correctly rounded
    from the exact quotient (amax over the finite values). amax 0 gives 1.0; a quotient
    outside fp32's range is clamped to [2**-149, fp32 max] (float64 inputs only)."""
    a = Fraction(amax)
    if a < 0:
        raise ValueError(f"amax must be >= 0, got {amax!r}")
    if a == 0:
        return 1.0
    f32 = get_format("fp32")
    assert isinstance(f32, FloatFormat)
    v = round_float(f32, ExactValue.of(a / 2688), saturate=True).stored.value
    return float(v) if v > 0 else 2.0**-149


def _midpoint_suspects(f: FloatFormat, w: F64) -> Bool:
    """:func:`_float_suspects` for a sign / exponent / mantissa format, without rounding:
    the rounding boundaries of nearest modes are the midpoints (k + 1/2) * ulp of each
    binade (the overflow threshold among them), so a lane is suspect when |w| / ulp lies
    within the relative window of a half-integer. Division by a power of two is exact."""
    aw = np.abs(w)
    with np.errstate(invalid="ignore"):
        _, e = np.frexp(aw)  # aw = m * 2**e, m in [0.5, 1): floor(log2 aw) = e - 1
        k = np.maximum(e.astype(np.int64) - 1, f.emin) - f.mantissa_bits
        t = np.ldexp(aw, -k)  # aw in ulps of its binade
        near = np.abs(t - np.floor(t) - 0.5) <= t * (2 * _WINDOW)
    return np.asarray(near & np.isfinite(w), np.bool_)


# ------------------------------------------------------------------ one tile


class TileResult(NamedTuple):
    """codes: the element codes (a NaN group holds 0s); dequant: the stored values as
    float64 (NaN where a group could not be stored or the input was NaN); overflow: values
    clamped to the element max; scales: the stored scale of every group of the tile, row
    by row (NaN where it could not be stored; before NVFP4's tensor scale), or None when
    the tile's scales come from the first pass."""

    codes: npt.NDArray[np.unsignedinteger]
    dequant: F64
    overflow: Bool
    scales: F64 | None


ExactFn = Callable[[int, int], Fraction]


def _pad(x: F64, rp: int, cp: int) -> F64:
    r, c = x.shape
    if (r, c) == (rp, cp):
        return x
    out = np.zeros((rp, cp), np.float64)
    out[:r, :c] = x
    return out


def _group_stats(r: Recipe, x: F64) -> tuple[F64, F64, F64, Bool, int, int]:
    """Per group of the tile: (lo, hi, amax) over finite values, any non-finite value,
    and the group grid shape."""
    rows, cols = x.shape
    gr = -(-rows // r.rows)
    gc = -(-cols // r.cols)
    xp = _pad(x, gr * r.rows, gc * r.cols).reshape(gr, r.rows, gc, r.cols)
    fin = np.isfinite(xp)
    lo = np.min(xp, axis=(1, 3), where=fin, initial=np.inf)
    hi = np.max(xp, axis=(1, 3), where=fin, initial=-np.inf)
    lo = np.where(np.isfinite(lo), lo, 0.0)
    hi = np.where(np.isfinite(hi), hi, 0.0)
    amax = np.maximum(-lo, hi)
    amax = np.maximum(amax, 0.0)
    bad = np.asarray(~fin.all(axis=(1, 3)), np.bool_)
    return (np.asarray(lo, np.float64), np.asarray(hi, np.float64),
            np.asarray(amax, np.float64), bad, gr, gc)


def _spread(g: npt.NDArray[Any], r: Recipe, shape: tuple[int, int]) -> npt.NDArray[Any]:
    """Group values broadcast back over the tile."""
    gr, gc = g.shape
    full = np.broadcast_to(g[:, None, :, None], (gr, r.rows, gc, r.cols))
    return full.reshape(gr * r.rows, gc * r.cols)[: shape[0], : shape[1]]


def _group_scales(r: Recipe, x: F64, ts: float, exact: ExactFn | None
                  ) -> tuple[F64, F64, Bool]:
    """(scale, zero point, group is NaN) per group of the tile."""
    lo, hi, amax, bad, gr, gc = _group_stats(r, x)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        scale, zp, unstorable, sus = scales_from_range(r, lo, hi, amax, ts)
    if sus.any():
        for gi, gj in zip(*np.nonzero(sus), strict=True):
            glo, ghi = _exact_extremes(r, x, int(gi), int(gj), lo[gi, gj], hi[gi, gj], exact)
            s, z = scale_exact(r, glo, ghi, Fraction(ts))
            unstorable[gi, gj] = s is None
            scale[gi, gj] = float(s) if s is not None else 1.0
            zp[gi, gj] = z
    if r.kind in ("mx", "nvfp4"):
        bad = bad | unstorable
    else:
        bad = unstorable
    return scale, zp, bad


def group_scales(r: Recipe, x: F64, ctx: Context | None = None) -> F64:
    """The stored scale of every group of a tile under a group / block / MX / NVFP4 recipe,
    row by row, NaN where it cannot be stored: :func:`quantize_tile`'s ``scales`` without
    rounding the elements (``precli check`` compares them with a checkpoint's)."""
    return group_params(r, x, ctx)[0]


def group_params(r: Recipe, x: F64, ctx: Context | None = None) -> tuple[F64, F64]:
    """:func:`group_scales` and the zero point of every group (integer recipes; 0 for the
    others), row by row."""
    ctx = ctx or Context()
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        gs, gz, gbad = _group_scales(r, x, ctx.tensor_scale, None)
    out: F64 = np.where(gbad, np.nan, gs).reshape(-1)
    zp: F64 = np.asarray(gz, np.float64).reshape(-1)
    return out, zp


def _exact_extremes(r: Recipe, x: F64, gi: int, gj: int, lo: float, hi: float,
                    exact: ExactFn | None) -> tuple[Fraction, Fraction]:
    """The exact finite range of one group. Rounding to float64 is monotonic, so the exact
    extremes are among the lanes whose float64 value is the float64 extreme."""
    if exact is None:
        return Fraction(lo), Fraction(hi)
    r0, c0 = gi * r.rows, gj * r.cols
    blk = x[r0: r0 + r.rows, c0: c0 + r.cols]
    lanes_lo = zip(*np.nonzero(blk == lo), strict=True)
    lanes_hi = zip(*np.nonzero(blk == hi), strict=True)
    exact_lo = min((exact(r0 + int(i), c0 + int(j)) for i, j in lanes_lo), default=Fraction(lo))
    exact_hi = max((exact(r0 + int(i), c0 + int(j)) for i, j in lanes_hi), default=Fraction(hi))
    return exact_lo, exact_hi


def scales_from_range(r: Recipe, lo: F64, hi: F64, amax: F64, ts: float
                      ) -> tuple[F64, F64, Bool, Bool]:
    """Vectorized :func:`scale_exact` over float64 ranges (``amax = max(-lo, hi, 0)``):
    (scale, zero point, unstorable, suspect). Suspect groups are those whose float64
    arithmetic may round differently from the exact rule: redo them with scale_exact."""
    zeros = np.zeros(amax.shape, np.float64)
    if r.kind == "mx":
        assert r.block is not None
        if r.rule == "floor":
            _, e = np.frexp(amax)
            k = e.astype(np.int64) - 1 - r.block.emax_elem
            m_lo = np.frexp(amax * (1 - _WINDOW))[1]
            m_hi = np.frexp(amax * (1 + _WINDOW))[1]
            sus = m_lo != m_hi
        else:
            q = amax / float(r.block.max)
            m, e = np.frexp(q)
            k = np.where(m == 0.5, e - 1, e).astype(np.int64)
            k = np.where(q == 0, _E8M0_MIN, k)  # below float64's range: clamped
            lo_m, lo_e = np.frexp(q * (1 - _WINDOW))
            hi_m, hi_e = np.frexp(q * (1 + _WINDOW))
            sus = np.where(lo_m == 0.5, lo_e - 1, lo_e) != np.where(hi_m == 0.5, hi_e - 1,
                                                                    hi_e)
        k = np.where(amax == 0, _E8M0_MIN, k)
        bad = k > _E8M0_MAX
        s = np.ldexp(1.0, np.clip(k, _E8M0_MIN, _E8M0_MAX))
        return s, zeros, bad, sus & (amax > 0)
    if r.kind == "nvfp4":
        e4 = get_format("e4m3fn")
        assert isinstance(e4, FloatFormat)
        q = amax / (6.0 * ts)
        s = _round_float_vec(e4, q, saturate=True)
        return s, zeros, np.zeros(amax.shape, np.bool_), _float_suspects(e4, q)
    if r.kind in ("float", "table"):
        q = amax / float(_elem_max(r))
        s, bad, sus = _round_scale_vec(r.scale_format, np.where(amax > 0, q, 1.0))
        s = np.where(amax > 0, s, 1.0)
        return s, zeros, bad & (amax > 0), sus & (amax > 0)
    fmt = r.element
    assert isinstance(fmt, IntFormat)
    qmin, qmax = float(fmt.min_int), float(fmt.max_int)
    if r.scheme == "symmetric":
        div = qmax if fmt.signed else (qmax - qmin) / 2
        zpv = 0.0 if fmt.signed else float((fmt.min_int + fmt.max_int + 1) // 2)
        q = amax / div
        s, bad, sus = _round_scale_vec(r.scale_format, np.where(amax > 0, q, 1.0))
        live = amax > 0
        return (np.where(live, s, 1.0), np.full(amax.shape, zpv), bad & live, sus & live)
    lo_ = np.minimum(lo, 0.0)
    hi_ = np.maximum(hi, 0.0)
    live = hi_ > lo_
    q = np.where(live, hi_ / (qmax - qmin) - lo_ / (qmax - qmin), 1.0)
    s, bad, sus = _round_scale_vec(r.scale_format, q)
    s = np.where(live, s, 1.0)
    t = qmin - lo_ / s
    zp = np.clip(np.rint(t), qmin, qmax)
    zp = np.where(live, zp, qmin)
    frac = np.abs(t - np.floor(t) - 0.5)
    sus = sus | (frac <= (np.abs(t) + abs(qmin) + 1.0) * _WINDOW * 16)
    return s, zp, bad & live, sus & live


def _round_elements(r: Recipe, w: F64, zp: F64 | float, saturate: bool, mode: str,
                    seed: int | None, start: int
                    ) -> tuple[npt.NDArray[np.unsignedinteger], F64, Bool, Bool]:
    """(codes, element values (q - zp for integers), overflow, invalid) of quotients w."""
    f = r.element
    if isinstance(f, IntFormat):
        qmin, qmax = int_bounds(f)
        invalid = np.isnan(w)
        with np.errstate(invalid="ignore"):
            q = np.rint(w) + zp
            over = (q > qmax) | (q < qmin)
            q = np.where(invalid, zp, np.clip(q, qmin, qmax))
        q = np.broadcast_to(q, w.shape)
        vals = np.asarray(q - zp, np.float64)
        return int_codes(f, q), vals, np.asarray(over & ~invalid, np.bool_), invalid
    rr = codec.round_array_with_flags(f, w, mode, saturate=saturate, seed=seed,
                                      start_index=start)
    vals = codec.decode_array(f, rr.codes)
    over = (rr.flags & codec.FLAG_BITS["overflow"]) != 0
    if rr.invalid.any():
        vals[rr.invalid] = np.nan
        if isinstance(f, TableFormat):  # no NaN code: NaN inputs hold the code of 0
            zero = [i for i, v in enumerate(f.values) if v == 0]
            rr.codes[rr.invalid] = zero[0] if zero else 0
    return rr.codes, vals, over, rr.invalid


def _element_exact(r: Recipe, t: Fraction, zp: int, saturate: bool, mode: str,
                   rand: int | None) -> tuple[int, float, bool]:
    """(code, element value (q - zp for integers), overflow) of one exact quotient."""
    f = r.element
    x = ExactValue.of(t)
    if isinstance(f, IntFormat):
        rr = round_int(f, x, "nearest-even", zero_point=zp)
        return rr.code, float(f.code_value(rr.code) - zp), "overflow" in rr.flags
    if isinstance(f, TableFormat):
        rr = round_table(f, x, "nearest-even")
    else:
        assert isinstance(f, FloatFormat)
        rr = round_float(f, x, mode, saturate=saturate, rand=rand)
    v = rr.stored
    val = (float(v.value) if v.is_finite else math.nan if v.kind == "nan"
           else (-math.inf if v.negative else math.inf))
    return rr.code, val, "overflow" in rr.flags


def quantize_tile(r: Recipe, x: F64, ctx: Context | None = None, *,
                  scale: F64 | None = None, zero_point: F64 | None = None,
                  exact: ExactFn | None = None, mode: str = "nearest-even",
                  saturate: bool = False, seed: int | None = None,
                  start_index: int | None = None) -> TileResult:
    """Quantize one tile (a 2-D float64 piece of the matrix view) under a recipe.

    Group and block recipes need the tile to start on a group boundary (rows a multiple of
    ``rows``, columns a multiple of ``cols``, as the walker in :mod:`precli.model.stats`
    cuts them); a tile may end anywhere (partial groups at the tensor's edges).
    Tensor / channel recipes take their ``scale`` / ``zero_point`` (broadcastable to x)
    from the first pass. ``exact(i, j)``, when given, returns the exact input of a lane
    whose float64 value is rounded (decimal text, big integers); without it the float64
    values are the inputs. ``mode``, ``saturate``, ``seed`` apply to plain casts
    (``start_index``: the flat index of x[0, 0] for stochastic draws, rows contiguous).
    """
    ctx = ctx or Context()
    if r.kind == "ggml":
        g = ggml_blocks(r.rule or "", x)
        return TileResult(g.codes, g.dequant, g.overflow, g.scales)
    if r.kind == "cast":
        s_eff: F64 | float = 1.0
        zp: F64 | float = 0.0
        scales = None
        bad = None
        sat = saturate
    else:
        sat = True
        mode = "nearest-even"
        if r.scaling in ("tensor", "channel"):
            assert scale is not None
            s_eff = np.broadcast_to(scale, x.shape)
            zp = 0.0 if zero_point is None else np.broadcast_to(zero_point, x.shape)
            scales = None
            bad = ~np.isfinite(s_eff)
        else:
            gs, gz, gbad = _group_scales(r, x, ctx.tensor_scale, exact)
            scales = np.where(gbad, np.nan, gs).reshape(-1)
            mult = gs * ctx.tensor_scale if r.kind == "nvfp4" else gs
            if r.kind == "mx" and r.block is not None and r.block.element_exp:
                mult = mult * 2.0**r.block.element_exp
            s_eff = _spread(mult, r, x.shape)
            zp = _spread(gz, r, x.shape) if r.kind == "int" else 0.0
            bad = _spread(gbad, r, x.shape)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        if r.kind == "nvfp4":
            live = s_eff > 0
            w = np.where(live, x / np.where(live, s_eff, 1.0), 0.0)
        else:
            w = x / s_eff
        if bad is not None:
            w = np.where(bad, 0.0, w)
        codes, vals, over, invalid = _round_elements(r, w, zp, sat, mode, seed,
                                                     start_index or 0)
    pow2 = r.kind in ("cast", "mx") or r.scale_format == "ue8m0"
    if not pow2 or exact is not None:
        _redo_exact(r, x, w, s_eff, zp, codes, vals, over, exact, sat, mode, seed,
                    start_index)
    with np.errstate(over="ignore", invalid="ignore"):
        deq = vals * s_eff
    if bad is not None and bad.any():
        deq = np.where(bad, np.nan, deq)
        over = over & ~bad
        codes = np.where(bad, 0, codes).astype(codes.dtype)
    if invalid.any():
        deq = np.where(invalid, np.nan, deq)
    return TileResult(codes, np.asarray(deq, np.float64), np.asarray(over, np.bool_), scales)


def _redo_exact(r: Recipe, x: F64, w: F64, s_eff: F64 | float, zp: F64 | float,
                codes: npt.NDArray[np.unsignedinteger], vals: F64, over: Bool,
                exact: ExactFn | None, sat: bool, mode: str, seed: int | None,
                start: int | None) -> None:
    """Redo, in exact arithmetic, the lanes whose float64 quotient may round differently
    from the exact one (in place)."""
    fin = np.isfinite(w)
    if isinstance(r.element, IntFormat):
        aw = np.abs(w)
        with np.errstate(invalid="ignore"):
            sus = fin & (np.abs(aw - np.floor(aw) - 0.5) <= aw * _WINDOW * 4)
    elif mode == "stochastic" and exact is not None:
        sus = fin.copy()
    else:
        sus = _float_suspects(r.element, np.where(fin, w, 0.0), sat) & fin
    if not sus.any():
        return
    cols = x.shape[1]
    sb = np.broadcast_to(s_eff, x.shape)
    zb = np.broadcast_to(zp, x.shape)
    if exact is None and mode == "nearest-even":
        sus = _settle_ties(r, x, w, sb, zb, sus, codes, vals, over, sat)
    for i, j in zip(*np.nonzero(sus), strict=True):
        ii, jj = int(i), int(j)
        t = exact(ii, jj) if exact is not None else Fraction(float(x[ii, jj]))
        rand = None
        if mode == "stochastic":
            rand = stochastic_bits(seed, (start or 0) + ii * cols + jj)
        c, v, o = _element_exact(r, t / Fraction(float(sb[ii, jj])), int(zb[ii, jj]), sat,
                                 mode, rand)
        codes[ii, jj] = c
        vals[ii, jj] = v
        over[ii, jj] = o


_SCALE_BITS = {"fp32": 24, "fp16": 11, "bf16": 8, "ue8m0": 1, "e8m0": 1, "none": 1,
               "e4m3fn": 28}  # significant bits of a stored scale (NVFP4: block x tensor)


def _settle_ties(r: Recipe, x: F64, w: F64, sb: F64, zb: F64, sus: Bool,
                 codes: npt.NDArray[np.unsignedinteger], vals: F64, over: Bool,
                 sat: bool) -> Bool:
    """Decide near-midpoint lanes without Fractions, where that is exact (in place).

    With a float64 input x and a scale s of few significant bits, the rounding boundary m
    nearest the float64 quotient times s is exact in float64 (its bits add up to at most
    53), so comparing |x| with m * s says on which side of m the exact quotient x / s lies:
    below, above, or on it (a true tie, which nearest-even decides). The lane is then
    re-rounded from a value strictly inside the right half. Returns the lanes it could
    not decide (tables, wide scales, float64 over- or underflow), left to exact arithmetic.
    """
    f = r.element
    if isinstance(f, FloatFormat) and f.specials != "fnu":
        mbits = f.mantissa_bits + 2
    elif isinstance(f, IntFormat):
        mbits = f.bits + 1
    else:
        return sus
    if _SCALE_BITS.get(r.scale_format, 53) + mbits > 53:
        return sus
    idx = np.nonzero(sus)
    wv, xv, sv, zv = w[idx], x[idx], sb[idx], zb[idx]
    aw = np.abs(wv)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        if isinstance(f, FloatFormat):
            _, e = np.frexp(aw)
            k = np.maximum(e.astype(np.int64) - 1, f.emin) - f.mantissa_bits
            mid = np.ldexp(np.floor(np.ldexp(aw, -k)) + 0.5, k)
            quarter = np.ldexp(0.25, k)
        else:
            mid = np.floor(aw) + 0.5
            quarter = np.full(aw.shape, 0.25)
        p = mid * sv  # exact: few bits times few bits
        ok = np.isfinite(p) & (np.abs(p) >= 2.0**-1000) & np.isfinite(xv)
        side = np.sign(np.abs(xv) - p)
        w2 = np.copysign(mid + side * quarter, wv)
    if not ok.any():
        return sus
    sel = tuple(a[ok] for a in idx)
    c2, v2, o2, _ = _round_elements(r, w2[ok], zv[ok], sat, "nearest-even", None, 0)
    codes[sel] = c2
    vals[sel] = v2
    over[sel] = o2
    rest = sus.copy()
    rest[sel] = False
    return rest


# ------------------------------------------------------------------ block formats


class BlockResult(NamedTuple):
    """A whole array in a block format (rows along the last axis). element_codes: shaped
    like x (a NaN block holds 0s); scale_codes / scales: one per block, row by row (E8M0
    0xff / E4M3 0x7f and NaN for a NaN block; NVFP4 block scales before the tensor scale);
    tensor_scale: NVFP4's fp32 tensor scale (1.0 for MX); dequant: the stored values (NaN
    throughout a NaN block); overflow: elements clamped to the element max."""

    element_codes: npt.NDArray[np.unsignedinteger]
    scale_codes: npt.NDArray[np.unsignedinteger]
    scales: F64
    tensor_scale: float
    dequant: F64
    overflow: Bool
    recipe: Recipe


def block_quantize(b: BlockFormat | str, x: npt.ArrayLike, *, rule: str = "floor",
                   exact: ExactFn | None = None) -> BlockResult:
    """Quantize an array (in memory) into a block format, blocks along each row of the
    last axis (a 1-D array is one row). ``exact(i, j)`` gives the exact value of element j
    of row i where the float64 array holds a rounded one (decimal text)."""
    bf = get_block_format(b) if isinstance(b, str) else b
    r = _block_recipe(bf, [] if rule == "floor" else [rule], bf.name)
    a = np.asarray(x, dtype=np.float64)
    shape = a.shape if a.ndim else (1,)
    mat = a.reshape(-1, shape[-1]) if shape[-1] else a.reshape(0, 0)
    ts = 1.0
    if r.kind == "nvfp4":
        fin = np.isfinite(mat)
        amax = float(np.max(np.abs(mat), where=fin, initial=0.0))
        am = Fraction(amax)
        if exact is not None and amax > 0:
            for i, j in zip(*np.nonzero(np.abs(mat) == amax), strict=True):
                am = max(am, abs(exact(int(i), int(j))))
        ts = nvfp4_tensor_scale(am)
    res = quantize_tile(r, mat, Context(tensor_scale=ts), exact=exact)
    scales = res.scales if res.scales is not None else np.zeros(0)
    sf = get_format(bf.scale)
    nan = np.isnan(scales)
    if r.kind == "mx":
        _, e = np.frexp(np.where(nan, 1.0, scales))
        scodes = (e.astype(np.int64) - 1 + 127).astype(np.uint64)
    else:
        scodes = codec.round_array(sf, np.where(nan, 0.0, scales), saturate=True)[0].astype(
            np.uint64)
    if nan.any():
        assert isinstance(sf, FloatFormat)
        scodes[nan] = sf.nan_code()
    return BlockResult(res.codes.reshape(shape), scodes.astype(codec.code_dtype(sf.bits)),
                       scales, ts, res.dequant.reshape(shape), res.overflow.reshape(shape), r)
