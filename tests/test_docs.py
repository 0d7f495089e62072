"""The README's examples run, and their outputs are the real program's; completions are fresh."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


gen_readme = _load("gen_readme")
EXAMPLES = gen_readme.examples((ROOT / "README.md").read_text())


def test_readme_has_examples_of_every_command() -> None:
    cmds = " ".join(c for c, _ in EXAMPLES)
    for sub in ("precli info", "precli encode", "precli decode"):
        assert sub in cmds


def test_quick_start_is_exactly_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Quick start", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    assert block.strip().splitlines() == ["uv run precli info fp16", "uv run pytest"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "\nuv run pytest\n" in ci


@pytest.mark.parametrize("cmd, expected", EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_readme_example(cmd: str, expected: str) -> None:
    out, rc = gen_readme.run(cmd)
    assert out == expected, f"README example is stale or broken: {cmd}"
    if "echo \"exit $?\"" not in cmd:
        assert rc == 0, f"{cmd} exited {rc}"


def test_completions_are_fresh() -> None:
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_completions.py"), "--check"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_format_names_complete() -> None:
    import os

    env = {**os.environ, "_PRECLI_COMPLETE": "complete_bash", "COMP_WORDS": "precli info b",
           "COMP_CWORD": "2"}
    code = "import sys; sys.argv[0] = 'precli'; from precli.cli.app import main; main()"
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    offered = p.stdout.split()
    assert "bf16" in offered and "bfloat16" in offered
    assert all(o.startswith("b") for o in offered)


def test_plot_svg_is_fresh() -> None:
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_plot_svg.py"), "--check"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
