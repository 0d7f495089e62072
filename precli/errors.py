"""Domain errors. The core raises these; the CLI maps them to one-line messages and exit codes."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    DATA_ERROR = 1
    USAGE_ERROR = 2
    INTERRUPTED = 130


class PrecliError(Exception):
    """Base class: a message meant for the user, and the exit code it maps to."""

    exit_code: ExitStatus = ExitStatus.DATA_ERROR


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
