r"""Command-line options: every cross-option rule, once, turning options into frozen
requests; and how the library's argument names are spelled as flags.

The library's errors name the argument of the call (``jobs must be at least 1``); the CLI
shows the flag a user typed (``--jobs must be at least 1``). OPTION_NAMES is the one place
that knows both spellings; ``PrecliGroup.main`` installs it for the run.

The requests are :class:`precli.cli.Record`\ s: typed as NamedTuples, made without exec.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from precli.errors import UsageError
from precli.record import Record

if TYPE_CHECKING:
    from fractions import Fraction

    from precli.array.recipes import Recipe
    from precli.cli.terminal import OutputEnv
    from precli.core.formats import BlockFormat, Format
    from precli.core.values import EncodeOptions
    from precli.model.analyze import ModelReport
    from precli.model.plan import Budget
#: library argument name -> command-line flag
OPTION_NAMES: dict[str, str] = {
    "axis": "--axis",
    "bits": "--bits",
    "block_size": "--block-size",
    "dtype": "--dtype",
    "emit": "--emit",
    "exclude": "--exclude",
    "formats": "--formats",
    "granularity": "--granularity",
    "include": "--tensors",
    "input": "--input",
    "input_format": "--input-format",
    "jobs": "--jobs",
    "keep": "--keep",
    "min_sqnr": "--min-sqnr",
    "objective": "--objective",
    "output": "--output",
    "pack": "--pack",
    "rounding": "--round",
    "scheme": "--scheme",
    "scale": "--scale",
    "size": "--size",
    "values": "--values",
    "views": "--view",
    "zero_point": "--zero-point",
}


# ====================================================================== requests

# ------------------------------------------------------------------ encode / decode

class StreamSource(Record):
    """Where encode / decode read a stream of values from."""

    input_format: str  # text, f16, f32, f64, npy (encode); u8 ... packed, npy (decode)
    path: str | None  # a file, or None for stdin
    text: str | None = None  # the command-line values themselves, as one text stream


class EncodeRequest(Record):
    values: tuple[str, ...]
    output: str | None
    no_color: bool
    strict: bool
    pack: bool
    fmt: Format | None = None  # an element format ...
    block: BlockFormat | None = None  # ... or a block-scaled one
    opts: EncodeOptions | None = None  # (element formats)
    source: StreamSource | None = None  # None: the values themselves, one at a time
    dtype: str | None = None


class DecodeRequest(Record):
    codes: tuple[str, ...]
    fmt: Format
    scale: Fraction | None
    zero_point: int | None
    source: StreamSource | None
    output: str | None
    no_color: bool
    strict: bool


# ------------------------------------------------------------------ info

class InfoRequest(Record):
    mode: str
    named: bool  # formats were named (else: every built-in one)
    values: bool  # list every code
    formats: tuple[Format, ...] = ()  # element formats
    blocks: tuple[BlockFormat, ...] = ()  # block-scaled formats
    overview: bool = False  # --blocks: the block formats' overview table


# ------------------------------------------------------------------ compare, plan

class CompareRequest(Record):
    kind: str  # "formats" (side by side), "values" (numbers in formats) or "array"
    items: tuple[str, ...]
    names: tuple[str, ...] | None  # --formats
    formats: tuple[Format, ...] = ()  # kind formats / values
    opts: EncodeOptions | None = None  # (kind values)
    path: str = "-"  # kind array: a file, a checkpoint or '-'


class ArrayOptions(Record):
    """compare FILE's options, checked: the recipes resolved, the output mode decided."""

    recipes: tuple[Recipe, ...]
    out_mode: str
    mode: str  # rounding mode
    saturate: bool
    channel: bool
    axis: int | None
    min_sqnr: float | None
    plot: bool
    # no recipe named: what a checkpoint gets instead (deployment recipes), and why the
    # options given cannot apply to them (raised only if the input is a checkpoint)
    checkpoint_recipes: tuple[Recipe, ...] = ()
    checkpoint_refusal: str | None = None


class CheckpointOptions(Record):
    """Tensor selection, worker processes and the full list (compare, plan)."""

    include: str | None = None
    exclude: str | None = None
    jobs: int = 1
    show_all: bool = False
    views: tuple[str, ...] = ()  # REGEX=ROWS:COLS rules, first match wins
    small: bool = False  # compare: 1-D and small tensors too


class PlanRequest(Record):
    path: str
    names: tuple[str, ...]
    budget: Budget
    keeps: tuple[str, ...]
    objective: str
    default_pins: bool
    offer_stored: bool
    scheme: str | None
    emit: str | None
    mode: str  # output mode, or "emit"
    ckpt: CheckpointOptions


# ====================================================================== shared rules
#
# Every cross-option rule of the command line is here, once: the Typer signatures in
# app.py hand their raw options to one function per command, which checks them in the
# order a user meets them and returns a frozen request for the command's body.


def block_format(name: str) -> BlockFormat | None:
    """The block-scaled format of that name, or None (regular formats resolve first)."""
    from precli.core.formats import get_block_format, get_format, is_block_format

    try:
        get_format(name)
        return None
    except UsageError:
        return get_block_format(name) if is_block_format(name) else None


def is_format(name: str) -> bool:
    from precli.core.formats import get_block_format, get_format

    try:
        get_format(name)
        return True
    except UsageError:
        try:
            get_block_format(name)
            return True
        except UsageError:
            return False


def is_number(text: str) -> bool:
    from precli.core.exact import parse_number
    from precli.errors import ValueParseError

    try:
        parse_number(text)
        return True
    except ValueParseError:
        return False


def _is_npy(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(6) == b"\x93NUMPY"
    except OSError:
        return False


def stream_source(values: list[str] | None, input_file: str | None,
                  input_format: str) -> StreamSource | None:
    """Where encode / decode read from when values come from a stream, else None."""
    from precli.cli.terminal import stdin_is_piped

    if input_file is not None:
        if values:
            raise UsageError("give values as arguments or --input FILE, not both")
        if input_format == "text" and _is_npy(input_file):
            return StreamSource("npy", input_file)  # the magic bytes decide, as compare does
        return StreamSource(input_format, input_file)
    if values == ["-"]:
        return StreamSource(input_format, None)
    if values and "-" in values:
        raise UsageError("'-' (read stdin) cannot be mixed with other values")
    if not values:
        if stdin_is_piped():
            return StreamSource(input_format, None)
        raise UsageError("no values given (pass them as arguments, '-' or pipe them in)")
    if input_format != "text":
        raise UsageError("--input-format applies to stdin ('-') or --input FILE")
    return None


def _pack_needs_raw(pack: bool, output: str | None) -> None:
    if pack and (output or "").lower() != "raw":
        raise UsageError("--pack applies to --output raw")


def recipe_names(formats: list[str] | None) -> list[str]:
    """--formats: comma-separated and repeatable."""
    return [n.strip() for f in formats or [] for n in f.split(",") if n.strip()]


# ====================================================================== info


def info_request(formats: list[str] | None, values: bool, blocks_only: bool, env: OutputEnv,
                 output: str | None) -> InfoRequest:
    from precli.cli.terminal import resolve_format
    from precli.core.formats import block_formats, builtin_formats

    mode = env.resolve_output(output, ("table", "json", "csv", "plain", "ndjson"))
    if blocks_only:
        if formats or values:
            raise UsageError("--blocks lists every block-scaled format; name one instead "
                             "(precli info mxfp4)")
        return InfoRequest(mode, False, False, blocks=tuple(block_formats()), overview=True)
    blocks = [b for b in (block_format(n) for n in formats or []) if b is not None]
    if blocks:
        if len(blocks) != len(formats or []):
            raise UsageError("show block-scaled formats (mxfp4, nvfp4, ...) in their own "
                             "`precli info` call")
        if values:
            raise UsageError("--values lists element formats; try `precli info "
                             f"{blocks[0].element} --values`")
        return InfoRequest(mode, True, False, blocks=tuple(blocks))
    fmts = [resolve_format(n) for n in formats] if formats else list(builtin_formats())
    return InfoRequest(mode, bool(formats), values, formats=tuple(fmts))


# ====================================================================== encode / decode


def encode_request(values: list[str] | None, to: str, round_mode: str, saturate: bool,
                   scale: str | None, zero_point: int | None, seed: int | None,
                   input_file: str | None, input_format: str, dtype: str | None, pack: bool,
                   strict: bool, output: str | None, no_color: bool) -> EncodeRequest:
    from precli.cli.terminal import resolve_format
    from precli.core.rounding import resolve_round_mode
    from precli.core.values import EncodeOptions, parse_scale

    if not to:
        raise UsageError("missing option '--as FORMAT' (see 'precli encode --help')")
    bfmt = block_format(to)
    if bfmt is not None:
        given = [o for o, on in (("--round", resolve_round_mode(round_mode) != "nearest-even"),
                                 ("--saturate", saturate), ("--scale", scale is not None),
                                 ("--zero-point", zero_point is not None),
                                 ("--seed", seed is not None)) if on]
        if dtype is not None:
            raise UsageError(f"--dtype does not apply to block formats ({bfmt.name})")
        _pack_needs_raw(pack, output)
        if pack and bfmt.element_format.bits >= 8:
            raise UsageError(f"--pack applies to formats under 8 bits; {bfmt.name}'s "
                             f"{bfmt.element} elements take whole bytes")
        if given:
            verb = "does" if len(given) == 1 else "do"
            raise UsageError(f"{', '.join(given)} {verb} not apply to {bfmt.name}: its block "
                             "scales and saturating nearest-even elements are fixed by its spec")
        src = stream_source(values if values else None, input_file, input_format) \
            if not values or values == ["-"] or input_file else None
        return EncodeRequest(tuple(values or []), output, no_color, strict, pack, block=bfmt,
                             source=src)
    fmt = resolve_format(to)
    if seed is not None and resolve_round_mode(round_mode) != "stochastic":
        raise UsageError("--seed applies to --round stochastic only")
    if seed is not None and not 0 <= seed < 1 << 64:
        raise UsageError(f"--seed must be in 0 .. 2^64 - 1, got {seed}")
    opts = EncodeOptions(mode=resolve_round_mode(round_mode), saturate=saturate,
                         scale=parse_scale(scale), zero_point=zero_point, seed=seed)
    if zero_point is not None and fmt.kind != "int":
        raise UsageError(f"--zero-point applies to integer formats, not {fmt.name}")
    if scale is not None and fmt.kind == "float":
        raise UsageError(f"--scale applies to integer formats and nf4, not {fmt.name}")
    if pack:
        from precli.stream.packing import check_packable

        _pack_needs_raw(pack, output)
        check_packable(fmt)
    src = stream_source(values, input_file, input_format)
    if src is None and (output or "").lower() == "raw":  # raw: the bulk writer's job
        src = StreamSource("text", None, "".join(v + "\n" for v in values or []))
    if dtype is not None and (src is None or src.input_format != "npy"):
        raise UsageError("--dtype names the element format of an opaque .npy "
                         "(--input-format npy --input FILE)")
    return EncodeRequest(tuple(values or []), output, no_color, strict, pack, fmt=fmt,
                         opts=opts, source=src, dtype=dtype)


def decode_request(codes: list[str] | None, frm: str, scale: str | None,
                   zero_point: int | None, input_file: str | None, input_format: str,
                   strict: bool, output: str | None, no_color: bool) -> DecodeRequest:
    from precli.cli.terminal import resolve_format
    from precli.core.values import parse_scale

    if not frm:
        raise UsageError("missing option '--from FORMAT' (see 'precli decode --help')")
    blk = block_format(frm)
    if blk is not None:
        raise UsageError(f"{blk.name} is block-scaled: decode its element codes with --from "
                         f"{blk.element} and its scales with --from {blk.scale}")
    fmt = resolve_format(frm)
    s = parse_scale(scale)
    if fmt.kind == "float" and (scale is not None or zero_point is not None):
        raise UsageError(f"--scale / --zero-point apply to integer formats and nf4, not "
                         f"{fmt.name}")  # refused before any input is read
    if zero_point is not None and fmt.kind != "int":
        raise UsageError(f"--zero-point applies to integer formats, not {fmt.name}")
    src = stream_source(codes, input_file, input_format)
    return DecodeRequest(tuple(codes or []), fmt, s, zero_point, src, output, no_color, strict)


# ====================================================================== compare


def compare_request(args: list[str] | None, formats: list[str] | None, round_mode: str,
                    saturate: bool, input_file: str | None, array_only: list[str]
                    ) -> CompareRequest:
    """Which of compare's three modes the arguments ask for. ``array_only`` names the
    array options given (refused for values and format names)."""
    from precli.core.formats import get_format
    from precli.core.rounding import resolve_round_mode
    from precli.core.values import DEFAULT_COMPARE_FORMATS, EncodeOptions

    items = args or []
    names = recipe_names(formats) or None
    blocks = [n for n in [*items, *(names or [])] if ":" in n or block_format(n) is not None]
    single = input_file is None and items and items != ["-"] and all(
        is_format(a) or is_number(a) for a in items)
    if single and array_only:
        raise UsageError(f"{', '.join(array_only)} appl{'ies' if len(array_only) == 1 else 'y'}"
                         " to an array (compare FILE); not to values or format names")
    tnames = tuple(names) if names else None
    if input_file is None and items and all(is_format(a) for a in items):
        if blocks:
            raise UsageError(f"{blocks[0]} is block-scaled: compare it on an array (compare "
                             f"FILE --formats {blocks[0]}), or see `precli info {blocks[0]}`")
        return CompareRequest("formats", tuple(items), tnames,
                              formats=tuple(get_format(a) for a in items))
    if input_file is None and items and items != ["-"] and all(is_number(a) for a in items):
        if blocks:
            raise UsageError(f"{blocks[0]} scales blocks or tensors: a single value has no "
                             f"block; compare an array (compare FILE --formats {blocks[0]})")
        fmts = tuple(get_format(n) for n in names or DEFAULT_COMPARE_FORMATS)
        opts = EncodeOptions(mode=resolve_round_mode(round_mode), saturate=saturate)
        return CompareRequest("values", tuple(items), tnames, formats=fmts, opts=opts)
    if input_file is None and not items:
        from precli.cli.terminal import stdin_is_piped

        if not stdin_is_piped():
            raise UsageError("give one number, format names, or one file (or '-', or pipe "
                             "values in) to compare")
        items = ["-"]
    if input_file is None and len(items) != 1:
        bad = next((a for a in items if not is_format(a) and not is_number(a)), None)
        raise UsageError(
            f"cannot compare {bad!r}: give one number, format names, or one file"
            if bad else "give one number, format names, or one file (or '-') to compare")
    return CompareRequest("array", tuple(items), tnames, path=input_file or items[0])


def array_options(names: tuple[str, ...] | None, mode: str, saturate: bool,
                  scheme: str | None, granularity: str, axis: int | None,
                  block_size: int | None, min_sqnr: float | None, plot: bool,
                  env: OutputEnv, output: str | None) -> ArrayOptions:
    from precli.array.intquant import check_granularity, check_scheme
    from precli.array.recipes import DEPLOYMENT_RECIPES, Defaults
    from precli.core.values import DEFAULT_COMPARE_FORMATS
    from precli.model.stats import resolve_recipes

    out_mode = env.resolve_output(output, ("table", "json", "csv", "plain", "ndjson"))
    if plot and out_mode != "table":
        raise UsageError(f"--plot draws a chart in the table view, not in --output {out_mode} "
                         "(add --output table)")
    check_granularity(granularity)
    if scheme is not None:
        check_scheme(scheme)
    channel = granularity == "channel"
    d = Defaults(scheme=scheme, granularity=granularity,
                 channel_axis=axis if axis is not None and channel else None,
                 block_size=64 if block_size is None else block_size)
    recipes = resolve_recipes(list(names or DEFAULT_COMPARE_FORMATS), d)
    _refuse_unused(recipes, saturate, scheme, channel, block_size, mode)
    ckpt: list[Recipe] = []
    refusal = None
    if not names:
        ckpt = resolve_recipes(list(DEPLOYMENT_RECIPES), d)
        try:
            _refuse_unused(ckpt, saturate, scheme, channel, block_size, mode)
        except UsageError as e:
            refusal = str(e)
    return ArrayOptions(tuple(recipes), out_mode, mode, saturate, channel, axis, min_sqnr,
                        plot, tuple(ckpt), refusal)


def _refuse_unused(recipes: Sequence[Recipe], saturate: bool, scheme: str | None, channel: bool,
                   block_size: int | None, mode: str) -> None:
    """Options that would change nothing are refused, as encode refuses them."""
    kinds = {r.kind for r in recipes}
    names = ", ".join(r.text for r in recipes)
    if saturate and "cast" not in kinds:
        raise UsageError(f"--saturate applies to plain casts; {names} scale first and always "
                         "saturate")
    if scheme is not None and not kinds & {"int", "legacy-int"}:
        raise UsageError(f"--scheme applies to integer recipes; none in {names}")
    if channel and "legacy-int" not in kinds:
        raise UsageError("--granularity applies to bare integer names (int8, uint4, ...); "
                         f"none in {names} (use a recipe such as e4m3fn:channel)")
    bare_table = any(r.kind == "table" and ":" not in r.text for r in recipes)
    if block_size is not None and not bare_table:
        raise UsageError(f"--block-size applies to bare nf4; none in {names} (use a recipe "
                         "such as nf4:group128)")
    if mode != "nearest-even" and "cast" not in kinds:
        raise UsageError(f"--round {mode} applies to plain casts; {names} round to "
                         "nearest-even (their published definitions)")


def checkpoint_rules(o: ArrayOptions) -> None:
    """compare CKPT: the options that only an array takes."""
    if o.checkpoint_refusal is not None:
        raise UsageError(o.checkpoint_refusal)
    if o.axis is not None:
        raise UsageError("--axis applies to one array; a checkpoint's tensors are seen the "
                         "way their runtime multiplies them (name others with --view "
                         "'REGEX=ROWS:COLS')")
    if o.plot:
        raise UsageError("--plot charts one array; compare one tensor saved as .npy")


def array_rules(ckpt: CheckpointOptions) -> None:
    """compare FILE on an array: the options that only a checkpoint takes."""
    if (ckpt.include or ckpt.exclude or ckpt.jobs != 1 or ckpt.show_all or ckpt.views
            or ckpt.small):
        raise UsageError("--tensors, --exclude, --jobs, --all, --view and --small apply to "
                         "checkpoints (safetensors, GGUF, ONNX, .npz); for one array use "
                         "--axis")


def nothing_compared(report: ModelReport) -> str | None:
    """compare CKPT: the one-line reason when tensors were selected but none compared (every
    one skipped or set aside), else None."""
    if report.compared or not report.tensors:
        return None
    from collections import Counter

    from precli.model.analyze import SET_ASIDE

    why = Counter(str(t.skip).split(" (")[0] if not str(t.skip).startswith(SET_ASIDE)
                  else "1-D or small, set aside" for t in report.tensors)
    reasons = "; ".join(f"{n} {k}" for k, n in why.most_common())
    hint = " (add --small to compare the set-aside ones)" if any(
        str(t.skip).startswith(SET_ASIDE) for t in report.tensors) else ""
    return (f"{report.path}: none of its {len(report.tensors):,} tensor(s) could be "
            f"compared: {reasons}{hint}")


def no_tensor_matches(path: str) -> UsageError:
    return UsageError(f"no tensor of {path} matches --tensors / --exclude")


# ====================================================================== plan

EMITS = ("llama-quantize", "yaml")


def plan_request(path: str, formats: list[str] | None, bits: str | None, size: str | None,
                 min_sqnr: float | None, keep: list[str] | None, default_pins: bool,
                 offer_stored: bool, objective: str, scheme: str | None, emit: str | None,
                 ckpt: CheckpointOptions, env: OutputEnv, output: str | None) -> PlanRequest:
    from precli.array.intquant import check_scheme
    from precli.array.recipes import DEPLOYMENT_RECIPES
    from precli.model.plan import Budget, check_objective, parse_bits, parse_size

    names = recipe_names(formats) or list(DEPLOYMENT_RECIPES)
    budget = Budget(bits=None if bits is None else parse_bits(bits),
                    size=None if size is None else parse_size(size), min_sqnr=min_sqnr)
    emit = None if emit is None else emit.lower()
    if emit is not None and emit not in EMITS:
        raise UsageError(f"invalid --emit {emit!r}; choose {' or '.join(EMITS)}")
    if emit is not None and output is not None:
        raise UsageError("--emit writes its own format; leave out --output")
    if scheme is not None:
        check_scheme(scheme)
    check_objective(objective, budget)
    mode = "emit" if emit else env.resolve_output(output, ("table", "json", "csv", "plain"))
    return PlanRequest(path, tuple(names), budget, tuple(keep or []), objective, default_pins,
                       offer_stored, scheme, emit, mode, ckpt)
