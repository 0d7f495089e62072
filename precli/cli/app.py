"""Thin Typer layer: parse options, call the core, hand results to a writer."""

import sys
from collections.abc import Iterator
from typing import Annotated

import typer

from precli.cli import options
from precli.cli.clicks import (
    WORDS,
    PrecliCommand,
    PrecliGroup,
    ValuesCommand,
    complete_decode_input,
    complete_element_format,
    complete_format,
    complete_granularity,
    complete_input,
    complete_output,
    complete_round,
    complete_scheme,
)
from precli.cli.terminal import (
    detect_env,
)

app = typer.Typer(
    cls=PrecliGroup,
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Precision inspector for the number formats of ML and scientific computing.",
)


def _version(value: bool) -> None:
    if value:
        from precli.version import __version__

        typer.echo(f"precli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Precision inspector for the number formats of ML and scientific computing."""


OutputOpt = Annotated[
    str | None,
    typer.Option("--output", "-o", autocompletion=complete_output, metavar="MODE",
                 help="table | json | csv | plain | ndjson, and raw (packed codes) for encode "
                      "(default: table on a terminal, plain when piped)."),
]
TensorsOpt = Annotated[str | None, typer.Option(
    "--tensors", metavar="REGEX", help="Checkpoints: only tensors whose name matches.")]
ExcludeOpt = Annotated[str | None, typer.Option(
    "--exclude", metavar="REGEX", help="Checkpoints: leave out tensors whose name matches.")]
JobsOpt = Annotated[int, typer.Option(
    "--jobs", "-j", metavar="N", help="Checkpoints: tensors in N processes (same results).")]
ViewOpt = Annotated[list[str] | None, typer.Option(
    "--view", metavar="REGEX=ROWS:COLS", help="Checkpoints: see matching tensors as the "
    "matrix whose rows are these stored axes and whose columns (summed over, where groups "
    "run) are those, e.g. 'proj=1:0' for [K, N]; repeatable, the first match wins.")]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="No colour (NO_COLOR works too).")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")]


# ---------------------------------------------------------------- info


INFO_EXAMPLES = """Examples:

  precli info                          every format, then the block formats

  precli info fp16 bf16 --output json  exact facts as JSON

  precli info e2m1fn --values          every code of a small format"""


@app.command(cls=PrecliCommand, epilog=INFO_EXAMPLES)
def info(
    formats: Annotated[list[str] | None, typer.Argument(
        click_type=WORDS, metavar="[FORMAT]...", autocompletion=complete_format,
        help="Format names, aliases or custom eXmY[fn|fnuz] specs; none lists every format.",
    )] = None,
    values: Annotated[bool, typer.Option("--values", help="List every code with its value "
                                                          "(formats of 8 bits or fewer).")] = False,
    blocks_only: Annotated[bool, typer.Option(
        "--blocks", help="List the block-scaled formats (mxfp4, nvfp4, ...) instead.")] = False,
    output: OutputOpt = None,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show formats: every built-in one as a table, or the named ones in detail."""
    from precli.cli.info import run_info

    env = detect_env(no_color)
    run_info(options.info_request(formats, values, blocks_only, env, output), env)


# ---------------------------------------------------------------- encode / decode


InputOpt = Annotated[str | None, typer.Option(
    "--input", "-i", metavar="FILE", help="Read values from FILE instead of stdin.")]
InputFormatOpt = Annotated[str, typer.Option(
    "--input-format", metavar="FMT", autocompletion=complete_input,
    help="text (default; one per line or whitespace-separated), f16 / f32 / f64 (raw "
         "little-endian), npy (with --input).")]
StrictOpt = Annotated[bool, typer.Option(
    "--strict", help="Stop at the first bad value (default: report it, go on, exit 1).")]


ENCODE_EXAMPLES = """Examples:

  precli encode 3.14 --as tf32 --output table   one value in detail

  seq 1 5 | precli encode --as e4m3fn -o ndjson  a stream, one record per line

  precli encode 0.5 1 3 --as fp4 -o raw --pack > w.bin  packed nibbles"""


@app.command(cls=ValuesCommand, epilog=ENCODE_EXAMPLES)
def encode(
    values: Annotated[list[str] | None, typer.Argument(
        click_type=WORDS, metavar="[VALUE]...",
        help="Decimal, hex-float (0x1.8p+1), inf or nan; negative values need no '--'. '-' "
             "(or none, with stdin piped) reads stdin.",
    )] = None,
    to: Annotated[str, typer.Option("--as", "-a", metavar="FORMAT", autocompletion=complete_format,
                                     help="Target format (required): a name, alias, "
                                          "eXmY[fn|fnuz], or a block format (mxfp4, nvfp4).",
                                     )] = "",
    round_mode: Annotated[str, typer.Option(
        "--round", "-r", metavar="MODE", autocompletion=complete_round,
        help="nearest-even (rne), nearest-away (rna), toward-zero (rz), up (ru), down (rd), "
             "odd, stochastic.")] = "nearest-even",
    saturate: Annotated[bool, typer.Option("--saturate", help="Clamp overflow to ±max.")] = False,
    scale: Annotated[str | None, typer.Option(
        "--scale", metavar="S", help="Integer/nf4 quantization scale: q = round(x/S) + Z.")] = None,
    zero_point: Annotated[int | None, typer.Option(
        "--zero-point", metavar="Z", help="Integer quantization zero-point.")] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", metavar="N", help="Seed for --round stochastic (reproducible draws).")] = None,
    input_file: InputOpt = None,
    input_format: InputFormatOpt = "text",
    dtype: Annotated[str | None, typer.Option(
        "--dtype", metavar="FORMAT", autocompletion=complete_element_format,
        help="Element format of an opaque .npy (ml_dtypes saves bfloat16 / float8 as |V2 / "
             "|V1): --dtype bf16.")] = None,
    pack: Annotated[bool, typer.Option(
        "--pack", help="With --output raw, pack sub-byte codes: two 4-bit per byte (first in "
                       "the low nibble), four 2-bit per byte, four 6-bit in three bytes.")
    ] = False,
    strict: StrictOpt = False,
    output: OutputOpt = None,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show what values become when stored in a format."""
    req = options.encode_request(values, to, round_mode, saturate, scale, zero_point, seed,
                                 input_file, input_format, dtype, pack, strict, output,
                                 no_color)
    if req.block is not None:
        from precli.cli.streams import encode_blocks

        raise typer.Exit(encode_blocks(req.block, list(req.values), req.source, output,
                                       no_color, pack))
    fmt, opts = req.fmt, req.opts
    assert fmt is not None and opts is not None  # an element format's request has both
    if req.source is not None:
        from precli.cli.streams import stream_encode

        raise typer.Exit(stream_encode(fmt, opts, req.source, output, no_color, strict, pack,
                                       dtype))
    from precli.cli.values import run_values
    from precli.core.values import encode_text

    raise typer.Exit(run_values(req.values, lambda text, i: encode_text(fmt, text, opts, i),
                                output, no_color, plain_key="hex", strict=strict,
                                quantized=scale is not None or zero_point is not None))


DECODE_EXAMPLES = """Examples:

  precli decode 0x7e --from e4m3fn          448

  precli decode "0 10000 1001001000" --from fp16 --output table

  precli decode --input w.bin --from fp4 --input-format packed"""


@app.command(cls=ValuesCommand, epilog=DECODE_EXAMPLES)
def decode(
    codes: Annotated[list[str] | None, typer.Argument(
        click_type=WORDS, metavar="[CODE]...",
        help="0x hex, 0b binary, or a bit string with _ / space / . separators "
             "('0 10000 1001001000'). '-' reads stdin.")] = None,
    frm: Annotated[str, typer.Option("--from", "-f", metavar="FORMAT",
                                      autocompletion=complete_element_format,
                                      help="Source format (required).")] = "",
    scale: Annotated[str | None, typer.Option(
        "--scale", metavar="S", help="Dequantize integer/nf4 codes: (q - Z) × S.")] = None,
    zero_point: Annotated[int | None, typer.Option("--zero-point", metavar="Z")] = None,
    input_file: InputOpt = None,
    input_format: Annotated[str, typer.Option(
        "--input-format", metavar="FMT", autocompletion=complete_decode_input,
        help="text (default), u8 / u16 / u32 / u64 (raw little-endian codes; tf32 as fp32 "
             "containers), packed (the --pack layout), npy (integer or ml_dtypes |V codes, "
             "with --input).")] = "text",
    strict: StrictOpt = False,
    output: OutputOpt = None,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show what codes mean in a format."""
    req = options.decode_request(codes, frm, scale, zero_point, input_file, input_format,
                                 strict, output, no_color)
    if req.source is not None:
        from precli.cli.streams import stream_decode

        raise typer.Exit(stream_decode(req.fmt, req.scale, req.zero_point, req.source, output,
                                       no_color, strict))
    from precli.cli.values import run_values
    from precli.core.values import decode_text

    fmt, s = req.fmt, req.scale
    raise typer.Exit(run_values(req.codes, lambda text, i: decode_text(fmt, text, s, zero_point),
                                output, no_color, plain_key="value", strict=strict,
                                raw_ok=False,
                                quantized=scale is not None or zero_point is not None))


COMPARE_EXAMPLES = """Examples:

  precli compare 3.14                       one value in every common format

  precli compare fp16 bf16 tf32             formats side by side

  precli compare w.npy -F e4m3fn,e4m3fn:tensor,int4:group128,nvfp4  recipes side by side"""


@app.command(cls=ValuesCommand, epilog=COMPARE_EXAMPLES)
def compare(
    args: Annotated[list[str] | None, typer.Argument(
        click_type=WORDS, metavar="VALUE | FORMAT... | FILE",
        autocompletion=complete_format,
        help="A number: that value in every format. Format names: the formats side by "
             "side. A .npy / raw / text file or '-': what casting the array costs.")] = None,
    formats: Annotated[list[str] | None, typer.Option(
        "--formats", "-F", metavar="RECIPES",
        help="Comma-separated formats or recipes FORMAT[:SCALING[:SCALEFMT]] (e4m3fn:tensor, "
             "int4:group128, e4m3fn:block128x128:ue8m0, mxfp4:rceil); repeatable.")] = None,
    round_mode: Annotated[str, typer.Option(
        "--round", "-r", metavar="MODE", autocompletion=complete_round,
        help="Rounding mode (as for encode).")] = "nearest-even",
    saturate: Annotated[bool, typer.Option("--saturate", help="Clamp overflow to ±max.")] = False,
    input_file: InputOpt = None,
    input_format: Annotated[str | None, typer.Option(
        "--input-format", metavar="FMT", autocompletion=complete_input,
        help="npy (default for *.npy), f32, f64, f16 or text.")] = None,
    scheme: Annotated[str | None, typer.Option(
        "--scheme", metavar="symmetric|asymmetric", autocompletion=complete_scheme,
        help="Integer scales (default: asymmetric for integer groups, symmetric otherwise).")
    ] = None,
    granularity: Annotated[str, typer.Option(
        "--granularity", metavar="tensor|channel", autocompletion=complete_granularity,
        help="Scales of bare integer names: per tensor or per channel (along --axis).")
    ] = "tensor",
    axis: Annotated[int | None, typer.Option(
        "--axis", metavar="N",
        help="Blocking axis of groups, blocks, MX, NVFP4 and nf4 (default: the last); with "
             "--granularity channel, the channel axis (default 0).")] = None,
    block_size: Annotated[int | None, typer.Option(
        "--block-size", metavar="N", help="nf4 absmax block size (bitsandbytes uses 64).")] = None,
    min_sqnr: Annotated[float | None, typer.Option(
        "--min-sqnr", metavar="DB", help="Mark the cheapest recipe (bits per value) that "
        "reaches DB dB SQNR without losing values; exit 1 if none does.")] = None,
    tensors: TensorsOpt = None,
    exclude: ExcludeOpt = None,
    jobs: JobsOpt = 1,
    show_all: Annotated[bool, typer.Option(
        "--all", help="Checkpoints: list every tensor in the table view.")] = False,
    view: ViewOpt = None,
    small: Annotated[bool, typer.Option(
        "--small", help="Checkpoints: also compare 1-D tensors and tensors under 1,024 "
        "values (set aside by default, as deployments keep them).")] = False,
    plot: Annotated[bool, typer.Option(
        "--plot", help="Histogram of the input's magnitudes against each format's range.")
    ] = False,
    output: OutputOpt = None,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Compare formats: one value in each, formats side by side, or an array cast to each."""
    env = detect_env(no_color)
    array_only = [o for o, on in (("--plot", plot), ("--scheme", scheme is not None),
                                  ("--granularity", granularity != "tensor"),
                                  ("--axis", axis is not None),
                                  ("--block-size", block_size is not None),
                                  ("--min-sqnr", min_sqnr is not None),
                                  ("--tensors", tensors is not None),
                                  ("--exclude", exclude is not None), ("--jobs", jobs != 1),
                                  ("--all", show_all), ("--view", bool(view)),
                                  ("--small", small)) if on]
    req = options.compare_request(args, formats, round_mode, saturate, input_file, array_only)
    if req.kind == "formats":
        from precli.cli.info import compare_formats

        compare_formats(list(req.formats), env, output)
        return
    if req.kind == "values":
        from precli.cli.values import compare_values

        assert req.opts is not None
        raise typer.Exit(compare_values(req.items, req.formats, req.opts, env, output))
    from precli.cli.arrays import compare_array_command
    from precli.cli.options import CheckpointOptions
    from precli.core.rounding import resolve_round_mode

    arr = options.array_options(req.names, resolve_round_mode(round_mode), saturate, scheme,
                                granularity, axis, block_size, min_sqnr, plot, env, output)
    raise typer.Exit(compare_array_command(
        req.path, input_format, arr, env, CheckpointOptions(tensors, exclude, jobs,
                                                                    show_all, tuple(view or ()),
                                                                    small)))


CHECK_EXAMPLES = """Examples:

  precli check model.safetensors            lint every tensor; exit 1 on findings

  precli check ./model-dir -o ndjson -j 2   one record per finding, then a summary"""


CHECK_HELP = (
    "Lint a (quantized) checkpoint: bad scales, shapes, NaN, drift; exit 1 on findings.\n\n"
    "Checks scales (NaN, inf, zero, negative, not a power of two where the layout needs one), "
    "shapes, saturation, NaN elements and requantization drift. One line per finding; exit 1 "
    "if there is any.")


@app.command(cls=PrecliCommand, epilog=CHECK_EXAMPLES, help=CHECK_HELP)
def check(
    checkpoint: Annotated[str, typer.Argument(
        metavar="CKPT", help="A checkpoint: .safetensors (or a sharded directory / index), "
        ".gguf, .onnx, .npz.")],
    tensors: TensorsOpt = None,
    exclude: ExcludeOpt = None,
    jobs: JobsOpt = 1,
    output: OutputOpt = None,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Lint a (quantized) checkpoint: bad scales, shapes, NaN, drift; exit 1 on findings."""
    from precli.cli.checkpoints import check_command
    from precli.cli.terminal import detect_env

    raise typer.Exit(check_command(checkpoint, tensors, exclude, jobs, detect_env(no_color),
                                   output))


DIFF_EXAMPLES = """Examples:

  precli diff bf16/model.safetensors fp8/model.safetensors    per tensor, then a summary

  precli diff orig/ quant/ -o ndjson --tensors 'layers\\.0\\.'"""


DIFF_HELP = (
    "Compare a converted checkpoint with its original, tensor by tensor.\n\n"
    "Error statistics of each tensor and the ulp distance in the quantized element format, "
    "then a summary.")


@app.command(cls=PrecliCommand, epilog=DIFF_EXAMPLES, help=DIFF_HELP)
def diff(
    original: Annotated[str, typer.Argument(metavar="ORIGINAL",
                                            help="The checkpoint before conversion.")],
    quantized: Annotated[str, typer.Argument(
        metavar="QUANTIZED", help="The converted checkpoint (quantized layouts are grouped "
        "into logical tensors named like the original's).")],
    tensors: TensorsOpt = None,
    exclude: ExcludeOpt = None,
    jobs: JobsOpt = 1,
    output: OutputOpt = None,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Compare a converted checkpoint with its original, tensor by tensor."""
    from precli.cli.checkpoints import diff_command
    from precli.cli.terminal import detect_env

    raise typer.Exit(diff_command(original, quantized, tensors, exclude, jobs,
                                  detect_env(no_color), output))

# ---------------------------------------------------------------- plan


PLAN_EXAMPLES = """Examples:

  precli plan m.safetensors -F bf16,e4m3fn:tensor,nvfp4 --bits 5.5   at most 5.5 bits/param

  precli plan m.gguf -F bf16,mxfp4 --size 4GB --emit llama-quantize  llama.cpp arguments

  precli plan m.safetensors -F nvfp4 --min-sqnr 20 --keep 'lm_head=stored' -o json"""


def complete_emit(incomplete: str) -> Iterator[str]:
    return (m for m in ("llama-quantize", "yaml") if m.startswith(incomplete))


def complete_objective(incomplete: str) -> Iterator[str]:
    return (m for m in ("error", "worst") if m.startswith(incomplete))


@app.command(cls=PrecliCommand, epilog=PLAN_EXAMPLES)
def plan(
    checkpoint: Annotated[str, typer.Argument(
        click_type=WORDS, metavar="CHECKPOINT",
        help="A safetensors file or sharded model directory, .gguf, .onnx, .npz or .npy.")],
    formats: Annotated[list[str] | None, typer.Option(
        "--formats", "-F", metavar="RECIPES",
        help="Comma-separated recipes to choose from (as for compare); repeatable.")] = None,
    bits: Annotated[str | None, typer.Option(
        "--bits", metavar="B", help="Budget: at most B bits per parameter on average, "
        "scales included.")] = None,
    size: Annotated[str | None, typer.Option(
        "--size", metavar="SIZE", help="Budget: at most SIZE bytes for the planned tensors "
        "(4GB = 4e9 bytes, 4GiB = 4*2^30).")] = None,
    min_sqnr: Annotated[float | None, typer.Option(
        "--min-sqnr", metavar="DB", help="Every tensor at least DB dB SQNR (alone: the "
        "smallest such plan; with --bits/--size: a floor).")] = None,
    keep: Annotated[list[str] | None, typer.Option(
        "--keep", metavar="REGEX=RECIPE", help="Pin the tensors whose name matches to a "
        "recipe of --formats, or 'stored'; repeatable, the first match wins.")] = None,
    default_pins: Annotated[bool, typer.Option(
        "--default-pins/--no-default-pins", help="Keep 1-D tensors (norms, biases) in their "
        "stored precision.")] = True,
    offer_stored: Annotated[bool, typer.Option(
        "--stored/--no-stored", help="Offer keeping a tensor as stored when its stored "
        "format is not in --formats.")] = True,
    objective: Annotated[str, typer.Option(
        "--objective", metavar="error|worst", autocompletion=complete_objective,
        help="error: least total error energy (default); worst: the highest worst-tensor "
             "SQNR, then the least error.")] = "error",
    scheme: Annotated[str | None, typer.Option(
        "--scheme", metavar="symmetric|asymmetric", autocompletion=complete_scheme,
        help="Integer recipes' scales (as for compare; q8_0 is int8:group32 symmetric).")
    ] = None,
    tensors: TensorsOpt = None,
    exclude: ExcludeOpt = None,
    jobs: JobsOpt = 1,
    view: ViewOpt = None,
    emit: Annotated[str | None, typer.Option(
        "--emit", metavar="KIND", autocompletion=complete_emit,
        help="llama-quantize: --tensor-type arguments; yaml: a tensor -> recipe map.")] = None,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", autocompletion=complete_output, metavar="MODE",
        help="table | json | csv | plain (default: table on a terminal, plain when piped).")
    ] = None,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Choose one recipe per tensor under a size or quality budget (exact, data-free)."""
    from precli.cli.checkpoints import plan_command
    from precli.cli.options import CheckpointOptions

    env = detect_env(no_color)
    req = options.plan_request(checkpoint, formats, bits, size, min_sqnr, keep, default_pins,
                               offer_stored, objective, scheme, emit,
                               CheckpointOptions(tensors, exclude, jobs,
                                                 views=tuple(view or ())), env, output)
    raise typer.Exit(plan_command(req, env))


def main() -> None:
    _only_the_command_run(sys.argv[1:])
    app()


def _only_the_command_run(argv: list[str]) -> None:
    """Register only the subcommand being run: typer builds click parameters for every
    command on each start (3.7 ms for all four, 0.4 ms for one, measured), and that is a
    tenth of precli's own startup. Help, version and shell completion keep them all."""
    import os

    if not argv or argv[0].startswith("-") or any(
        k.startswith("_PRECLI_COMPLETE") for k in os.environ
    ):
        return
    cmds = app.registered_commands
    chosen = [c for c in cmds if c.callback is not None and c.callback.__name__ == argv[0]]
    if chosen:
        cmds[:] = chosen


if __name__ == "__main__":
    main()
