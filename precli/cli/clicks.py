"""The click that typer 0.28 vendors, reached through typer's public names only.

typer 0.28 carries its own copy of click (its exceptions are not the `click` package's), and
exports only some of it. Everything precli needs of it is taken here, once, from public
attributes: the exception classes from the ancestry of ``typer.BadParameter``, the parameter
types from ``typer.core.types``, and the completion classes from ``typer.completion``.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import types as click_types  # type: ignore[attr-defined]

__all__ = ["ClickException", "StringParamType", "UsageError", "completion_init",
           "is_no_args_help"]

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
