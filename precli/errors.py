"""Domain errors. The library raises these; the CLI maps them to one-line messages and exit
codes.

A library error names the *argument* of the call that was wrong, as the library spells it
(``jobs must be at least 1, got 0``), never a command-line flag: the message is built with
:func:`arg`, and ``str(error)`` shows the argument's name. The CLI shows the same error
with each option's own spelling in its place (``--jobs must be at least 1, got 0``): it
names its options once, with :func:`use_argument_names`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum

_MARK = "\x1f"  # ASCII unit separator: never typed into an argument


_SPELLING: dict[str, str] = {}


def use_argument_names(names: Mapping[str, str]) -> None:
    """How every error of this process spells the arguments it names (the CLI passes its
    option names once at start-up, so that errors raised anywhere, worker processes
    included, read ``--jobs``); empty, the default, keeps the library's own names."""
    _SPELLING.clear()
    _SPELLING.update(names)


def arg(name: str) -> str:
    """An argument's name inside an error message (``f"{arg('jobs')} must be ..."``)."""
    return f"{_MARK}{name}{_MARK}"


class ExitStatus(IntEnum):
    OK = 0
    DATA_ERROR = 1
    USAGE_ERROR = 2
    INTERRUPTED = 130


class PrecliError(Exception):
    """Base class: a message meant for the user, and the exit code it maps to."""

    exit_code: ExitStatus = ExitStatus.DATA_ERROR

    def __str__(self) -> str:
        return self.spelled(_SPELLING)

    @property
    def arguments(self) -> tuple[str, ...]:
        """The arguments the message names."""
        return tuple(super().__str__().split(_MARK)[1::2])

    def spelled(self, names: Mapping[str, str]) -> str:
        """The message with each named argument spelled as ``names`` says; arguments
        missing from ``names`` keep their own name."""
        parts = super().__str__().split(_MARK)  # text, argument, text, argument, ..., text
        parts[1::2] = [names.get(a, a) for a in parts[1::2]]
        return "".join(parts)


class UsageError(PrecliError):
    exit_code = ExitStatus.USAGE_ERROR


class UnknownFormatError(UsageError):
    """A format name that is neither registered nor a valid custom eXmY spec."""


class InvalidFormatSpecError(UsageError):
    """A custom eXmY spec whose parameters are out of bounds."""


class ValueParseError(PrecliError):
    """Text that is not a number (encode) or not a code (decode)."""


class NotRepresentableError(PrecliError):
    """An input the target format cannot hold in any way (e.g. NaN into fp4)."""


class CodeRangeError(PrecliError):
    """A code wider than the format."""
