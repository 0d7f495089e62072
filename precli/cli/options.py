"""Command-line options: how the library's argument names are spelled as flags.

The library's errors name the argument of the call (``jobs must be at least 1``); the CLI
shows the flag a user typed (``--jobs must be at least 1``). This table is the one place
that knows both spellings; ``PrecliGroup.main`` installs it before any command runs.
"""

from __future__ import annotations

from typing import NamedTuple


class StreamSource(NamedTuple):
    """Where encode / decode read a stream of values from."""

    input_format: str  # text, f16, f32, f64, npy (encode); u8 ... packed, npy (decode)
    path: str | None  # a file, or None for stdin
    text: str | None = None  # the command-line values themselves, as one text stream

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
    "scale": "--scale",
    "size": "--size",
    "values": "--values",
    "zero_point": "--zero-point",
}
