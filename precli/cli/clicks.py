"""Click glue: the command classes that let negative numbers be values and turn every error
into one line and an exit code, and the click that typer 0.28 vendors, reached through
typer's public names only.

typer 0.28 carries its own copy of click (its exceptions are not the `click` package's), and
exports only some of it. Everything precli needs of it is taken here, once, from public
attributes: the exception classes from the ancestry of ``typer.BadParameter``, the parameter
types from ``typer.core.types``, and the completion classes from ``typer.completion``.
"""

from __future__ import annotations

import errno
import re
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.core import types as click_types  # type: ignore[attr-defined]

from precli.cli.options import OPTION_NAMES
from precli.cli.terminal import (
    NOTED,
    WRITE_ERRNOS,
    OutputError,
    PipeClosed,
    error_line,
    silence_stdout,
)
from precli.errors import ExitStatus, PrecliError, use_argument_names

__all__ = ["WORDS", "ClickException", "PrecliCommand", "PrecliGroup", "StringParamType",
           "UsageError", "ValuesCommand", "completion_init", "is_no_args_help"]

_ANCESTORS: dict[str, Any] = {c.__name__: c for c in typer.BadParameter.__mro__}
UsageError: type[Exception] = _ANCESTORS["UsageError"]
ClickException: type[Exception] = _ANCESTORS["ClickException"]
StringParamType: Any = click_types.StringParamType


def is_no_args_help(e: BaseException) -> bool:
    """Click's 'no arguments: show the help' (a UsageError whose message is the help)."""
    return type(e).__name__ == "NoArgsIsHelpError"


def completion_init() -> None:
    """Register typer's bash / zsh / fish / powershell completion classes."""
    from typer.completion import completion_init as init  # type: ignore[attr-defined]

    init()


# ---------------------------------------------------------------- click glue

# A token that is a negative number, not an option: -3.14, -.5, -1e5, -inf, -nan, -0x1p3
_NEGATIVE = re.compile(r"-(\d|\.\d|inf(inity)?$|nan$|0x)", re.IGNORECASE)


class PrecliCommand(TyperCommand):
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise PipeClosed from None


class ValuesCommand(PrecliCommand):
    """Lets negative numbers be values: `precli encode -3.14 --as fp16` needs no `--`.

    Options may come before or after the values; the arguments are reordered as
    `options -- values` before Click parses them."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        takes_value = set()
        for p in self.params:
            if getattr(p, "param_type_name", "") == "option" and not getattr(p, "is_flag", False):
                takes_value.update(p.opts)
                takes_value.update(p.secondary_opts)
        opts: list[str] = []
        values: list[str] = []
        it = iter(args)
        for a in it:
            if a == "--":
                values.extend(it)
                break
            if a.startswith("-") and a != "-" and not _NEGATIVE.match(a):
                opts.append(a)
                if "=" not in a and a in takes_value:
                    nxt = next(it, None)
                    if nxt is not None:
                        opts.append(nxt)
                    elif not ctx.resilient_parsing:  # (completion parses a dangling one)
                        # `encode 1 --as`: the option lacks its value (the value is not "--")
                        raise UsageError(f"Option '{a}' requires an argument.", ctx)
            else:
                values.append(a)
        return list(super().parse_args(ctx, [*opts, "--", *values] if values else opts))


class PrecliGroup(TyperGroup):
    """Runs the app and turns every error into one line on stderr plus an exit code."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:
        import os

        if any(k.startswith("_PRECLI_COMPLETE") for k in os.environ):
            completion_init()  # registers bash / zsh / fish / powershell completion classes
        argv = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in argv
        use_argument_names(OPTION_NAMES)  # library errors name flags, not arguments
        NOTED.clear()  # each note once per run
        try:
            if sys.stdout is None:  # started with stdout closed (`>&-`)
                raise OutputError("stdout is closed")
            try:
                rv = super().main(argv, prog_name or "precli", complete_var, False,
                                  windows_expand_args, **extra)
            except typer.Exit as e:  # a command's exit status: flush before it counts
                rv = e.exit_code
            code = rv if isinstance(rv, int) else 0
            sys.stdout.flush()  # a full disk shows here, not in the interpreter's last flush
        except (BrokenPipeError, PipeClosed):
            silence_stdout()
            code = int(ExitStatus.OK)
        except OSError as e:
            if debug:
                raise
            silence_stdout()
            if e.errno == errno.EPIPE:
                code = int(ExitStatus.OK)
            else:
                what = "cannot write output" if e.errno in WRITE_ERRNOS else "I/O error"
                error_line(f"{what}: {e.strerror or e}")
                code = int(ExitStatus.DATA_ERROR)
        except OutputError as e:
            error_line(f"cannot write output: {e}")
            code = int(ExitStatus.DATA_ERROR)
        except PrecliError as e:
            if debug:
                raise
            error_line(str(e))
            code = int(e.exit_code)
        except UsageError as e:
            ctx: Any = getattr(e, "ctx", None)
            if is_no_args_help(e):  # the help is its message (Rich's help printed itself)
                text = e.format_message()  # type: ignore[attr-defined]
                sys.stdout.write(text + "\n" if text else "")
            else:
                hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
                error_line(f"{e.format_message()}{hint}")  # type: ignore[attr-defined]
            code = int(ExitStatus.USAGE_ERROR)
        except ClickException as e:
            error_line(e.format_message())  # type: ignore[attr-defined]
            code = e.exit_code  # type: ignore[attr-defined]
        except (KeyboardInterrupt, typer.Abort):
            code = int(ExitStatus.INTERRUPTED)
        except Exception as e:  # a bug: one line unless --debug
            if debug:
                raise
            error_line(f"internal error: {type(e).__name__}: {e} (rerun with --debug for a "
                       "traceback)")
            code = int(ExitStatus.DATA_ERROR)
        use_argument_names({})  # a caller in the same process (a test, a notebook) gets the
        # library's own names again
        if standalone_mode:
            sys.exit(code)
        return code


class _Words(StringParamType):  # type: ignore[misc]
    """A string argument whose help shows its metavar only, not a `<str>` type column."""

    def get_metavar(self, param: Any, ctx: Any = None) -> str:
        return ""


WORDS = _Words()


# ---------------------------------------------------------------- completion of option values


def complete_element_format(incomplete: str) -> Iterator[str]:
    from precli.core.formats import all_names

    low = incomplete.lower()
    return (n for n in all_names() if n.startswith(low))


def complete_format(incomplete: str) -> Iterator[str]:
    """Element formats, then the block-scaled ones (mxfp4, nvfp4, ...)."""
    from precli.core.formats import block_formats

    low = incomplete.lower()
    blocks = [n for b in block_formats() for n in (b.name, *b.aliases)]
    return (n for n in (*complete_element_format(incomplete), *blocks) if n.startswith(low))


#: The values of compare's --scheme and --granularity (precli.array.intquant.SCHEMES and
#: GRANULARITIES, spelled out here so completion and help need no numpy; a test checks).
SCHEMES = ("symmetric", "asymmetric")
GRANULARITIES = ("tensor", "channel")


def complete_scheme(incomplete: str) -> Iterator[str]:
    return (m for m in SCHEMES if m.startswith(incomplete.lower()))


def complete_granularity(incomplete: str) -> Iterator[str]:
    return (m for m in GRANULARITIES if m.startswith(incomplete.lower()))


def complete_round(incomplete: str) -> Iterator[str]:
    from precli.core.rounding import ROUND_ALIASES, ROUND_MODES

    return (m for m in (*ROUND_MODES, *ROUND_ALIASES) if m.startswith(incomplete.lower()))


def complete_output(incomplete: str) -> Iterator[str]:
    from precli.stream.writers import OUTPUT_MODES

    return (m for m in OUTPUT_MODES if m.startswith(incomplete))


def complete_input(incomplete: str) -> Iterator[str]:
    return (m for m in ("text", "f16", "f32", "f64", "npy") if m.startswith(incomplete))


def complete_decode_input(incomplete: str) -> Iterator[str]:
    return (m for m in ("text", "u8", "u16", "u32", "u64", "packed", "npy")
            if m.startswith(incomplete))
