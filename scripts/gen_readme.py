"""Refresh the outputs of the README's ```console examples from the real program.

Each example is a line `$ COMMAND` followed by the output it prints. The commands run
through bash with the project's venv first on PATH, COLUMNS=120, NO_COLOR=1 and stdout
piped, so `--output table` examples render without colour at width 120.

    uv run python scripts/gen_readme.py          # rewrite the outputs in README.md
    uv run python scripts/gen_readme.py --check  # exit 1 if any output is stale
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"```console\n(.*?)```", re.S)


def example_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    bindir = str(Path(sys.executable).parent)
    env.update(COLUMNS="120", NO_COLOR="1", PATH=bindir + os.pathsep + env.get("PATH", ""),
               TERM="dumb", PYTHONIOENCODING="utf-8")
    return env


def run(cmd: str) -> tuple[str, int]:
    p = subprocess.run(["bash", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, env=example_env(), cwd=ROOT, stdin=subprocess.DEVNULL,
                       timeout=120)
    out = p.stdout
    out = "\n".join(line.rstrip() for line in out.splitlines())
    return out.strip("\n"), p.returncode


def parse(block: str) -> list[tuple[str, str]]:
    """[(command, expected output)] from one console block."""
    items: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            items.append((line[2:], []))
        elif items:
            items[-1][1].append(line.rstrip())
    return [(c, "\n".join(o).strip("\n")) for c, o in items]


def examples(text: str) -> list[tuple[str, str]]:
    return [ex for m in BLOCK.finditer(text) for ex in parse(m.group(1))]


def render(block: str) -> str:
    parts = []
    for cmd, _ in parse(block):
        out, _rc = run(cmd)
        parts.append(f"$ {cmd}\n" + (out + "\n" if out else ""))
    return "".join(parts)


def main() -> int:
    text = README.read_text()
    new = BLOCK.sub(lambda m: "```console\n" + render(m.group(1)) + "```", text)
    if "--check" in sys.argv[1:]:
        if new != text:
            print("README examples are stale; run scripts/gen_readme.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
