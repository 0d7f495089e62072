"""The terminal: is stdout a TTY, colour or not (decided once, in :func:`detect_env`, and
passed down; tests inject their own :class:`OutputEnv`), consoles, the error and note
lines on stderr, a closed pipe."""

import errno
import os
import sys
from typing import IO, Any

from precli.errors import UsageError, arg
from precli.record import Record


class PipeClosed(Exception):
    """stdout's reader went away (`| head -1`): stop quietly."""


WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EBADF, errno.EROFS, errno.EIO,
                 errno.EAGAIN, errno.EINVAL, errno.ENXIO}


class OutputError(Exception):
    """stdout cannot be written (closed at start)."""


def error_line(msg: str) -> None:
    try:
        sys.stderr.write(f"precli: error: {msg}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass


def note_line(msg: str) -> None:
    try:
        sys.stderr.write(f"precli: note: {msg}\n")
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass


NOTED: set[str] = set()


def resolve_format(name: str) -> Any:
    """get_format, plus the name's trap note (e4m3 is not OCP e4m3fn, ...) once on stderr."""
    from precli.core.formats import get_format, name_note

    fmt = get_format(name)
    note = name_note(name)
    if note is not None and note not in NOTED:
        NOTED.add(note)
        note_line(note)
    return fmt


def silence_stdout() -> None:
    """After a write error, point stdout at devnull (dropping what is still buffered) so the
    interpreter's final flush is quiet."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def console(out: IO[str], color: bool) -> Any:
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:  # Rich's own exits 1: a closed pipe is quiet, 0
            raise PipeClosed

    return _Console(file=out, force_terminal=color, no_color=not color,
                   color_system="auto" if color else None, highlight=False, soft_wrap=False,
                   markup=False, emoji=False)


class OutputEnv(Record):
    stdout_isatty: bool
    color: bool

    def resolve_output(self, requested: str | None, allowed: tuple[str, ...] | None = None
                       ) -> str:
        """--output, or the default: table on a terminal, plain when piped."""
        if allowed is None:
            from precli.stream.writers import OUTPUT_MODES

            allowed = OUTPUT_MODES
        mode = requested.lower() if requested else ("table" if self.stdout_isatty else "plain")
        if mode not in allowed:
            raise UsageError(f"invalid {arg('output')} {requested!r}; choose one of "
                             f"{', '.join(allowed)}")
        return mode


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def detect_env(no_color: bool = False) -> OutputEnv:
    """Decide TTY-ness and colour once: --no-color > NO_COLOR > FORCE_COLOR > is a TTY."""
    tty = _isatty(sys.stdout)
    if no_color or os.environ.get("NO_COLOR"):
        color = False
    elif os.environ.get("FORCE_COLOR"):
        color = True
    else:
        color = tty
    return OutputEnv(stdout_isatty=tty, color=color)


def stdin_is_piped() -> bool:
    return not _isatty(sys.stdin)
