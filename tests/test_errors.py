"""Library errors name the argument of the call; the CLI shows the flag a user typed."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import precli
from precli.cli.app import app
from precli.cli.options import OPTION_NAMES
from precli.errors import UsageError, arg, use_argument_names

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ["core", "array", "stream", "sources", "model"]
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")


def _raise_strings(node: ast.Raise) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant)
            and isinstance(n.value, str)]


@pytest.mark.parametrize("layer", LIBRARY)
def test_no_library_error_names_a_flag(layer: str) -> None:
    """Every `raise` of the library builds its message with arg(), never a literal flag."""
    found = []
    for path in sorted((ROOT / "precli" / layer).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise):
                for s in _raise_strings(node):
                    if FLAG.search(s):
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {s!r}")
    assert found == []


def test_an_argument_is_spelled_by_who_asks() -> None:
    e = UsageError(f"{arg('jobs')} must be at least 1, got 0")
    assert str(e) == "jobs must be at least 1, got 0"
    assert e.spelled(OPTION_NAMES) == "--jobs must be at least 1, got 0"
    assert e.arguments == ("jobs",)
    use_argument_names(OPTION_NAMES)
    try:
        assert str(e) == "--jobs must be at least 1, got 0"
    finally:
        use_argument_names({})
    assert str(e) == "jobs must be at least 1, got 0"


def test_the_api_names_arguments_and_the_cli_names_flags(tmp_path: Path) -> None:
    with pytest.raises(precli.PrecliError) as lib:
        precli.compare(np.zeros(4), ["int8"], granularity="channel")
    assert str(lib.value).startswith("granularity channel needs an array of 2 or more")
    np.save(tmp_path / "x.npy", np.zeros(4))
    r = CliRunner().invoke(app, ["compare", str(tmp_path / "x.npy"), "-F", "int8",
                                 "--granularity", "channel"], env={"NO_COLOR": "1"})
    assert r.exit_code == 2
    assert r.stderr == ("precli: error: --granularity channel needs an array of 2 or more "
                        "dimensions; a 1-D array has no channels\n")
    # the CLI's spelling does not outlive its run: the same process gets arguments again
    with pytest.raises(precli.PrecliError) as again:
        precli.compare(np.zeros(4), ["int8"], granularity="channel")
    assert str(again.value) == str(lib.value)
