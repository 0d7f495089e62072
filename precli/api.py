"""The functions of ``import precli`` (re-exported there lazily; use them as ``precli.encode``
and so on). Each is a thin client of the library modules the CLI runs: it checks and
converts its arguments, calls them, and returns their result objects. Nothing heavy is
imported at module load: numpy comes with the first array or checkpoint call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import os
    from collections.abc import Mapping, Sequence
    from fractions import Fraction
    from typing import SupportsFloat, TypeAlias

    import numpy as np
    import numpy.typing as npt

    from precli.array.recipes import Recipe
    from precli.core.exact import ExactValue
    from precli.core.formats import BlockFormat, FloatFormat, Format, IntFormat, TableFormat
    from precli.core.values import CodeInfo, EncodeResult
    from precli.model.analyze import ModelReport
    from precli.model.check import CheckReport
    from precli.model.diff import DiffReport
    from precli.model.plan import Plan
    from precli.model.stats import CompareStats
    from precli.sources.base import Checkpoint

    #: A format: its name (or alias, or eXmY spec), or its record.
    FormatLike: TypeAlias = str | FloatFormat | IntFormat | TableFormat
    #: A value: its text (read exactly), or a number (taken at its exact value; numpy
    #: scalars too).
    Number: TypeAlias = str | int | float | Fraction | SupportsFloat

__all__ = [
    "PlanResult",
    "analyze",
    "block_format",
    "block_formats",
    "check",
    "compare",
    "decode",
    "decode_array",
    "diff",
    "encode",
    "encode_array",
    "format",
    "formats",
    "open_checkpoint",
    "plan",
    "round_array",
]


# ------------------------------------------------------------------ formats


def format(name: str) -> Format:  # shadows the builtin here: precli.format("fp16")
    """The record of an element format: a name, an alias (``"half"``, ``"torch.bfloat16"``)
    or a custom ``eXmY[fn|fnuz]`` spec, case-insensitive.

    A :class:`FloatFormat`, :class:`IntFormat` or :class:`TableFormat` (nf4); their numbers
    are exact (``Fraction``): ``format("fp16").max == 65504``, ``.eps``, ``.bits``, ...
    Raises :class:`UnknownFormatError` (with suggestions), or :class:`UsageError` for a
    block format's name (see :func:`block_format`)."""
    from precli.core.formats import get_format, is_block_format
    from precli.errors import UsageError

    if isinstance(name, str) and is_block_format(name):
        raise UsageError(f"{name} is a block-scaled format: precli.block_format({name!r}) "
                         "has its record")
    return get_format(_text(name, "name"))


def formats() -> tuple[Format, ...]:
    """Every built-in element format, in the order ``precli info`` lists them."""
    from precli.core.formats import builtin_formats

    return builtin_formats()


def block_format(name: str) -> BlockFormat:
    """The record of a block-scaled format (``mxfp4``, ``mxfp8``, ``nvfp4``, ...): element
    and scale formats, ``block_size``, ``bits``, ``max``. UnknownFormatError otherwise."""
    from precli.core.formats import get_block_format

    return get_block_format(_text(name, "name"))


def block_formats() -> tuple[BlockFormat, ...]:
    """Every built-in block-scaled format (OCP MX and NVFP4)."""
    from precli.core.formats import block_formats as builtin

    return builtin()


# ------------------------------------------------------------------ values


def encode(value: Number, fmt: FormatLike, *, rounding: str = "nearest-even",
           saturate: bool = False, scale: Number | None = None, zero_point: int | None = None,
           seed: int | None = None) -> EncodeResult:
    """Round one value into a format, once, from its exact value (``precli encode``).

    ``value``: text is read exactly as written (``"0.1"`` is one tenth; hex floats,
    ``"inf"``, ``"nan"`` too); an int or Fraction is exact; a float is its exact binary
    value (``0.1`` is 0.1000000000000000055...), as are numpy float scalars.
    ``rounding``: nearest-even (rne), nearest-away (rna), toward-zero (rz), up (ru),
    down (rd), odd, stochastic (``seed`` makes it reproducible). ``saturate``: overflow
    clamps to ±max instead of becoming inf / NaN. ``scale`` / ``zero_point``: integer
    and nf4 quantization, ``q = round(x / scale) + zero_point``.

    Returns an :class:`EncodeResult`: ``.info`` (a :class:`CodeInfo`: ``.code``, ``.hex``,
    ``.bits``, ``.value``, ``.exact``, ...), ``.flags``, and the exact ``.abs_error``,
    ``.rel_error``, ``.ulp_error`` (Fractions, None when undefined)."""
    from precli.core.rounding import resolve_round_mode
    from precli.core.values import EncodeOptions, encode_exact

    f = _element_format(fmt, "encode")
    mode = resolve_round_mode(_text(rounding, "rounding"))
    _check_seed(seed, mode)
    _check_quantization(f, scale, zero_point)
    text, x = _exact_input(value, "value")
    opts = EncodeOptions(mode=mode, saturate=saturate, zero_point=zero_point, seed=seed,
                         scale=None if scale is None else _positive(scale))
    return encode_exact(f, text, x, opts)


def decode(code: int | str, fmt: FormatLike, *, scale: Number | None = None,
           zero_point: int | None = None) -> CodeInfo:
    """What a code means in a format (``precli decode``): an int (``0x3c00``) or text
    (``"0x3c00"``, ``"0b0011110000000000"``, ``"0 01111 0000000000"``).

    Returns a :class:`CodeInfo`: ``.value`` (text), ``.exact``, ``.stored`` (the exact
    value: ``.stored.value`` is a Fraction for finite codes), ``.cls`` (normal, subnormal,
    zero, inf, nan, integer), ``.sign`` / ``.exponent`` / ``.mantissa`` fields, ``.ulp``,
    the neighbours ``.prev`` / ``.next`` and ``.formula``. ``scale`` / ``zero_point``
    dequantize integer and nf4 codes: ``(q - zero_point) * scale``. A code wider than the
    format raises :class:`CodeRangeError`."""
    import operator

    from precli.core.values import describe_code, parse_code
    from precli.errors import CodeRangeError, UsageError

    f = _element_format(fmt, "decode")
    _check_quantization(f, scale, zero_point)
    if isinstance(code, str):
        c = parse_code(f, code)
    else:
        try:
            c = operator.index(code)
        except TypeError:
            raise UsageError(f"code must be an int or its text, not {type(code).__name__}"
                             ) from None
        if c < 0:
            raise CodeRangeError(f"code {c} is negative; codes are unsigned bit patterns")
        c = parse_code(f, hex(c))  # the library's range check and message
    return describe_code(f, c, None if scale is None else _positive(scale), zero_point)


def round_array(x: npt.ArrayLike, fmt: FormatLike, *, rounding: str = "nearest-even",
                saturate: bool = False, seed: int | None = None) -> npt.NDArray[np.float64]:
    """Every element of an array rounded into a format, as float64 values (exact: every
    value of a format of 32 bits or fewer is a float64). Same shape as ``x``.

    ``x``: float16 / float32 / float64 (the values themselves, so a float32 array is not
    double-rounded), or integers of up to 53 bits. Rounding and saturation as for
    :func:`encode`, bit for bit (stochastic: lane ``j`` draws value number ``j`` of the
    seed's stream). A NaN into a format without NaN (fp4, fp6, int, nf4) has no value: it
    comes back NaN. Block formats (``"mxfp4"``, ``"nvfp4"``) give the dequantized values of
    their spec's scaling (blocks along the last axis; nearest-even and saturating: no
    options)."""
    import numpy as np

    from precli.array import codec

    a = _float_array(x, "round_array")
    bf = _block_or_none(fmt)
    if bf is not None:
        from precli.array.recipes import block_quantize

        _block_options(bf.name, rounding, saturate, seed)
        return block_quantize(bf, a).dequant
    f = _element_format(fmt, "round_array")
    mode = _mode(rounding, seed)
    codes, invalid = codec.round_array(f, a, mode, saturate=saturate, seed=seed)
    values = _decode(f, codes)
    if invalid.any():
        values[invalid] = np.nan
    return values


def encode_array(x: npt.ArrayLike, fmt: FormatLike, *, rounding: str = "nearest-even",
                 saturate: bool = False, seed: int | None = None
                 ) -> npt.NDArray[np.unsignedinteger[Any]]:
    """The codes of :func:`round_array`: unsigned integers of the smallest dtype that holds
    the format's bits (uint8 for fp8 / fp4, uint16 for fp16 / bf16, uint32 for tf32 as its
    19-bit code), same shape as ``x``; ``decode_array(codes, fmt)`` gives the values back.
    A NaN into a format without NaN has no code: :class:`NotRepresentableError`."""
    import numpy as np

    from precli.array import codec
    from precli.errors import NotRepresentableError

    a = _float_array(x, "encode_array")
    f = _element_format(fmt, "encode_array")
    codes, invalid = codec.round_array(f, a, _mode(rounding, seed), saturate=saturate,
                                       seed=seed)
    if invalid.any():
        where = tuple(int(i) for i in np.argwhere(invalid)[0])
        raise NotRepresentableError(
            f"{int(invalid.sum())} value(s) cannot be stored in {f.name} (NaN into a format "
            f"without NaN), the first at index {where[0] if len(where) == 1 else where}")
    return codes


def decode_array(codes: npt.ArrayLike, fmt: FormatLike) -> npt.NDArray[np.float64]:
    """The float64 value of every code of an integer array (NaN codes give NaN), same
    shape; codes wider than the format raise :class:`CodeRangeError`."""
    import numpy as np

    from precli.errors import UsageError

    a = np.asarray(codes)
    if a.size == 0 and a.dtype.kind not in "ui":
        a = a.astype(np.uint64)
    if a.dtype.kind not in "ui":
        raise UsageError(f"codes must be an integer array, not {a.dtype}")
    return _decode(_element_format(fmt, "decode_array"), a)


# ------------------------------------------------------------------ arrays


def compare(x: npt.ArrayLike, recipes: str | Sequence[str] | None = None, *,
            rounding: str = "nearest-even", saturate: bool = False, scheme: str | None = None,
            granularity: str = "tensor", axis: int | None = None, block_size: int = 64,
            seed: int | None = None) -> list[CompareStats]:
    """What storing an array under each recipe costs (``precli compare FILE -F ...``): one
    :class:`CompareStats` per recipe, in order (``.rmse``, ``.sqnr_db``, ``.max_abs_error``,
    ``.lost``, ``.bits_per_value``, ...; ``.to_record()`` is the JSON record of
    ``precli compare -o json``).

    ``recipes``: formats or recipes ``FORMAT[:SCALING[:SCALEFMT]]`` (``"bf16"``,
    ``"e4m3fn:tensor"``, ``"int4:group128"``, ``"nvfp4"``), a list or one comma-separated
    string; None: the CLI's default formats. ``rounding`` / ``saturate`` / ``seed`` apply
    to plain casts; ``scheme`` (symmetric / asymmetric), ``granularity`` (tensor / channel,
    along ``axis``) and ``block_size`` (nf4) say what bare integer names and nf4 mean;
    ``axis`` is otherwise the blocking axis (default: the last)."""
    from precli.model.stats import compare_array

    return compare_array(_recipe_names(recipes), x, scheme=_scheme(scheme),
                         granularity=granularity, axis=axis, block_size=block_size,
                         mode=_text(rounding, "rounding"), saturate=saturate, seed=seed)


# ------------------------------------------------------------------ checkpoints


def open_checkpoint(path: str | os.PathLike[str], kind: str | None = None, *,
                    raw: bool = False) -> Checkpoint:
    """Open a checkpoint (safetensors file or sharded directory, GGUF, ONNX, .npz, .npy),
    memory-mapped, never unpickled. ``.tensors()`` iterates its :class:`Tensor` records
    (``.name``, ``.dtype``, ``.shape``, ``.format``, ``.read(start, stop)``: flat elements,
    decoded exactly). Quantized layouts (codes + scales) are grouped into one logical
    tensor each unless ``raw``. Damaged files raise :class:`CheckpointError`."""
    from precli.sources import open_checkpoint as open_any

    return open_any(_path(path), kind, raw=raw)


def analyze(path: str | os.PathLike[str], recipes: str | Sequence[str] | None = None, *,
            include: str | None = None, exclude: str | None = None, jobs: int = 1,
            rounding: str = "nearest-even", saturate: bool = False,
            scheme: str | None = None, block_size: int = 64, small: bool = False,
            views: Mapping[str, str] | None = None) -> ModelReport:
    """Every tensor of a checkpoint under each recipe (``precli compare CKPT -F ...``):
    a :class:`ModelReport` with ``.tensors`` (per tensor: ``.stats``, one
    :class:`CompareStats` per recipe, or ``.skip``, why it cannot be cast), the model-wide
    ``.summary`` (one CompareStats per recipe), ``.records()`` (the JSON records) and
    ``.errors`` (tensors that could not be read; the others are still reported).

    ``recipes`` default to the deployment recipes
    (:data:`precli.array.recipes.DEPLOYMENT_RECIPES`). ``include`` / ``exclude``: regular
    expressions searched in tensor names; ``jobs``: worker processes (same results).
    1-D tensors and tensors under 1,024 values are set aside unless ``small``. Each
    tensor is seen as the matrix its runtime multiplies (``view`` in its records);
    ``views`` maps a regular expression to ``"ROWS:COLS"`` stored axes to say otherwise
    (e.g. ``{"proj": "1:0"}`` for a ``[K, N]`` weight)."""
    from precli.array.recipes import DEPLOYMENT_RECIPES
    from precli.model.analyze import analyze as analyze_checkpoint
    from precli.model.viewing import parse_view_rules

    path = _path(path)
    found = _recipes(list(DEPLOYMENT_RECIPES) if recipes is None else recipes, scheme,
                     block_size)
    rules = parse_view_rules([f"{k}={v}" for k, v in (views or {}).items()])
    return analyze_checkpoint(path, found, include=include, exclude=exclude, jobs=jobs,
                              mode=_text(rounding, "rounding"), saturate=saturate,
                              small=small, views=rules)


def plan(path: str | os.PathLike[str], recipes: str | Sequence[str] | None = None, *,
         bits: float | str | Fraction | None = None, size: int | str | None = None,
         min_sqnr: float | None = None, keep: Mapping[str, str] | Sequence[str] = (),
         default_pins: bool = True, stored: bool = True, objective: str = "error",
         scheme: str | None = None, include: str | None = None, exclude: str | None = None,
         jobs: int = 1, views: Mapping[str, str] | None = None) -> PlanResult:
    """One recipe per tensor under a budget (``precli plan``), exact and data-free.

    Budget: ``bits`` (average bits per parameter, scales included; ``5.5`` or ``"11/2"``),
    or ``size`` (bytes: an int or ``"4GB"`` / ``"4GiB"``), and / or ``min_sqnr`` (dB, every
    tensor). ``keep``: pins, ``{regex: recipe}`` or ``["regex=recipe", ...]`` (``"stored"``
    keeps a tensor as stored); ``default_pins``: 1-D tensors keep their stored precision;
    ``stored``: offer keeping a tensor as stored; ``objective``: ``"error"`` (least total
    error energy) or ``"worst"`` (best worst-tensor SQNR). ``recipes`` default to the
    deployment recipes; ``views`` as for :func:`analyze`.

    Returns a :class:`PlanResult`. Raises :class:`PlanError` when the budget cannot be met
    or a tensor cannot be read."""
    from collections.abc import Mapping

    from precli.array.recipes import DEPLOYMENT_RECIPES, Defaults, parse_recipe
    from precli.errors import UsageError
    from precli.model import plan as planner
    from precli.model.analyze import analyze as analyze_checkpoint
    from precli.model.viewing import parse_view_rules

    path = _path(path)
    budget = planner.Budget(
        bits=None if bits is None else planner.parse_bits(str(bits)),
        size=None if size is None else planner.parse_size(str(size)),
        min_sqnr=None if min_sqnr is None else float(min_sqnr))
    planner.check_objective(objective, budget)  # before the checkpoint is read
    defaults = Defaults(scheme=_scheme(scheme))
    found = _recipes(list(DEPLOYMENT_RECIPES) if recipes is None else recipes, scheme)
    pins = [f"{k}={v}" for k, v in keep.items()] if isinstance(keep, Mapping) else list(keep)
    rules = [planner.parse_keep(_text(k, "keep"), lambda t: parse_recipe(t, defaults).text)
             for k in pins]
    seen = parse_view_rules([f"{k}={v}" for k, v in (views or {}).items()])
    report = analyze_checkpoint(path, found, include=include, exclude=exclude, jobs=jobs,
                                small=True, views=seen)
    if report.errors:
        raise planner.PlanError(f"cannot plan {path}: {len(report.errors)} tensor(s) or "
                                f"file(s) could not be read ({report.errors[0]}); a plan must "
                                "cover them all")
    if not report.tensors:
        raise UsageError(f"no tensor of {path} matches include / exclude")
    made = planner.make_plan(report, found, budget, rules, objective, default_pins, stored)
    return PlanResult(made, report, found)


#: What :meth:`PlanResult.emit` writes.
_EMITS = ("llama-quantize", "yaml")


class PlanResult:
    """A plan and what it was made from.

    ``.plan``: the :class:`Plan` (``.items``, ``.solution``, ``.sweep`` of nearby budgets,
    ``.skipped``); ``.report``: the :class:`ModelReport` it was solved from; ``.recipes``:
    the recipes offered. ``.assignments``: tensor name -> recipe (``"stored"``: kept as
    stored); ``.totals``: params, bits, bits_per_value, bytes, weighted / worst SQNR, ...;
    ``.to_record()``: the JSON of ``precli plan -o json``; ``.emit(kind)``: the text of
    ``precli plan --emit llama-quantize`` or ``--emit yaml``."""

    __slots__ = ("plan", "recipes", "report")

    def __init__(self, plan: Plan, report: ModelReport, recipes: Sequence[Recipe]) -> None:
        self.plan = plan
        self.report = report
        self.recipes = list(recipes)

    @property
    def assignments(self) -> dict[str, str]:
        return {it.name: c.recipe
                for it, c in zip(self.plan.items, self.plan.solution.picks, strict=True)}

    @property
    def totals(self) -> dict[str, Any]:
        total: dict[str, Any] = self.to_record()["total"]
        return total

    def to_record(self) -> dict[str, Any]:
        from precli.model.plan import plan_record

        return plan_record(self.plan)

    def emit(self, kind: str = "llama-quantize") -> str:
        """``"llama-quantize"``: one ``--tensor-type 'REGEX=TYPE'`` argument per line
        (PlanError when a chosen recipe has no ggml type); ``"yaml"``: a tensor -> recipe
        map with the budget and totals as comments."""
        from precli.errors import UsageError
        from precli.model import plan as planner

        if kind == "yaml":
            return planner.yaml_map(self.plan)
        if kind == "llama-quantize":
            planner.check_ggml(self.recipes)
            return planner.llama_quantize_args(self.plan, self.recipes)[0]
        raise UsageError(f"cannot emit {kind!r}; choose {' or '.join(_EMITS)}")

    def __repr__(self) -> str:
        t = self.totals
        return (f"<PlanResult {self.plan.path}: {len(self.plan.items)} tensors, "
                f"{t['bits_per_value']:.4g} bits per parameter, {t['bytes']:,} bytes>")


def check(path: str | os.PathLike[str], *, include: str | None = None,
          exclude: str | None = None, jobs: int = 1) -> CheckReport:
    """Lint a (quantized) checkpoint (``precli check``): a :class:`CheckReport` with
    ``.findings`` (:class:`Finding`: tensor, check, expected, found), ``.tensors``,
    ``.summary()``, ``.records()`` and ``.errors``."""
    from precli.model.check import check_checkpoint

    return check_checkpoint(_path(path), include=include, exclude=exclude, jobs=jobs)


def diff(original: str | os.PathLike[str], quantized: str | os.PathLike[str], *,
         include: str | None = None, exclude: str | None = None, jobs: int = 1) -> DiffReport:
    """A converted checkpoint against its original, tensor by tensor (``precli diff``): a
    :class:`DiffReport` with ``.tensors`` (:class:`TensorDiff`: ``.stats``, the error
    statistics, and ``.ulp``, the distance in the quantized element format),
    ``.summary``, ``.only_original``, ``.records()`` and ``.errors``."""
    from precli.model.diff import diff_checkpoints

    return diff_checkpoints(_path(original), _path(quantized), include=include,
                            exclude=exclude, jobs=jobs)


# ------------------------------------------------------------------ argument glue


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        from precli.errors import UsageError

        raise UsageError(f"{what} must be a string, not {type(value).__name__}")
    return value


def _path(path: str | os.PathLike[str]) -> str:
    import os

    p = os.fspath(path) if isinstance(path, str | os.PathLike) else None
    if not isinstance(p, str):
        from precli.errors import UsageError

        raise UsageError(f"path must be a str or os.PathLike, not {type(path).__name__}")
    return p


def _element_format(fmt: object, what: str) -> Format:
    """The element format named (or given as a record); block formats are refused."""
    from precli.core.formats import (
        FloatFormat,
        IntFormat,
        TableFormat,
        get_format,
        is_block_format,
    )
    from precli.errors import UsageError

    if isinstance(fmt, FloatFormat | IntFormat | TableFormat):
        return fmt
    name = _text(fmt, "fmt")
    if is_block_format(name):
        raise UsageError(f"{name} is block-scaled: {what}() takes element formats; "
                         f"round_array(x, {name!r}) gives its dequantized values and "
                         f"compare(x, [{name!r}]) its statistics")
    return get_format(name)


def _block_or_none(fmt: object) -> BlockFormat | None:
    from precli.core.formats import BlockFormat, get_block_format, is_block_format

    if isinstance(fmt, BlockFormat):
        return fmt
    if isinstance(fmt, str) and is_block_format(fmt):
        return get_block_format(fmt)
    return None


def _block_options(name: str, rounding: str, saturate: bool, seed: int | None) -> None:
    from precli.core.rounding import resolve_round_mode
    from precli.errors import UsageError

    given = [o for o, on in (("rounding", resolve_round_mode(_text(rounding, "rounding"))
                              != "nearest-even"), ("saturate", saturate),
                             ("seed", seed is not None)) if on]
    if given:
        raise UsageError(f"{', '.join(given)} cannot apply to {name}: its block scales and "
                         "saturating nearest-even elements are fixed by its spec")


def _mode(rounding: str, seed: int | None) -> str:
    from precli.core.rounding import resolve_round_mode

    mode = resolve_round_mode(_text(rounding, "rounding"))
    _check_seed(seed, mode)
    return mode


def _check_seed(seed: int | None, mode: str) -> None:
    from precli.errors import UsageError

    if seed is None:
        return
    if mode != "stochastic":
        raise UsageError("seed applies to rounding='stochastic' only")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 1 << 64:
        raise UsageError(f"seed must be an int in 0 .. 2**64 - 1, got {seed!r}")


def _check_quantization(f: Format, scale: object, zero_point: object) -> None:
    from precli.errors import UsageError

    if zero_point is not None and f.kind != "int":
        raise UsageError(f"zero_point applies to integer formats, not {f.name}")
    if zero_point is not None and (isinstance(zero_point, bool)
                                   or not isinstance(zero_point, int)):
        raise UsageError(f"zero_point must be an int, got {zero_point!r}")
    if scale is not None and f.kind == "float":
        raise UsageError(f"scale applies to integer formats and nf4, not {f.name}")


def _exact_input(value: object, what: str) -> tuple[str, ExactValue]:
    """(the text shown for a value, its exact value): text is parsed exactly, numbers are
    taken at their exact value (a float's binary value, not its shortest decimal)."""
    import numbers
    import sys
    from fractions import Fraction

    from precli.core.exact import ExactValue, exact_of_float, parse_number
    from precli.errors import UsageError

    if isinstance(value, str):
        return value, parse_number(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        raise UsageError(f"{what} must be a number or its text, not {type(value).__name__}")
    if isinstance(value, float):  # also numpy.float64
        v = float(value)
        return repr(v), exact_of_float(v)
    if isinstance(value, numbers.Rational):  # int, Fraction, numpy integers
        q = Fraction(int(value.numerator), int(value.denominator))
        return str(value), ExactValue.of(q)
    dec = sys.modules.get("decimal")
    if dec is not None and isinstance(value, dec.Decimal):
        return str(value), parse_number(str(value))
    if isinstance(value, numbers.Real):  # numpy float16 / float32 / longdouble scalars
        v = float(value)
        ratio = getattr(value, "as_integer_ratio", None)
        if v != v or v in (float("inf"), float("-inf")) or v == 0 or ratio is None:
            return str(value), exact_of_float(v)
        n, d = ratio()
        return str(value), ExactValue.of(Fraction(int(n), int(d)))
    raise UsageError(f"{what} must be a real number or its text, not {type(value).__name__}")


def _positive(scale: object) -> Fraction:
    from precli.core.exact import shown_text
    from precli.errors import UsageError

    text, x = _exact_input(scale, "scale")
    if x.kind != "finite" or x.negative or x.is_zero:
        raise UsageError(f"scale must be a positive finite number, got {shown_text(text)}")
    return x.magnitude


def _float_array(x: object, what: str) -> npt.NDArray[np.floating[Any]]:
    """float16 / float32 / float64 arrays as they are; integers of up to 53 bits (and
    bools) widened to float64, which is exact; anything else refused."""
    import numpy as np

    from precli.errors import UsageError

    a = np.asarray(x)
    if a.dtype in (np.float16, np.float32, np.float64):
        return a
    if a.dtype.kind == "b" or a.dtype.kind in "iu" and (
            a.size == 0 or max(-int(a.min()), int(a.max())) <= 1 << 53):
        return a.astype(np.float64)
    if a.dtype.kind in "iu":
        raise UsageError(f"{what}: integers beyond 2**53 are not float64 numbers; pass "
                         "them as a float array to round them first")
    raise UsageError(f"{what} takes float16, float32, float64 or integer arrays, not "
                     f"{a.dtype} (ml_dtypes arrays: .astype(np.float32) is exact)")


def _decode(f: Format, codes: npt.ArrayLike) -> npt.NDArray[np.float64]:
    from precli.array import codec
    from precli.errors import UsageError

    try:
        return codec.decode_array(f, codes)
    except ValueError as e:  # values float64 cannot hold: the scalar decode() can
        raise UsageError(str(e)) from None


def _scheme(scheme: str | None) -> str | None:
    """The library's rule for a scheme's name (the recipes themselves do not check it)."""
    from precli.array.intquant import check_scheme

    return None if scheme is None else check_scheme(scheme)


def _recipe_names(recipes: str | Sequence[str] | None) -> list[str]:
    if recipes is None:
        from precli.core.values import DEFAULT_COMPARE_FORMATS

        return list(DEFAULT_COMPARE_FORMATS)
    items = [recipes] if isinstance(recipes, str) else list(recipes)
    names = [n.strip() for r in items for n in _text(r, "recipes").split(",") if n.strip()]
    if not names:
        from precli.errors import UsageError

        raise UsageError("give at least one recipe (e.g. ['bf16', 'e4m3fn:tensor', 'nvfp4'])")
    return names


def _recipes(recipes: str | Sequence[str] | None, scheme: str | None,
             block_size: int = 64) -> list[Recipe]:
    from precli.array.recipes import Defaults
    from precli.model.stats import resolve_recipes

    return resolve_recipes(_recipe_names(recipes),
                           Defaults(scheme=_scheme(scheme), block_size=block_size))
