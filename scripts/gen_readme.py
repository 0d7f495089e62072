"""Refresh the outputs of the ```console examples in README.md and docs/*.md from the program.

Each example is a line `$ COMMAND` followed by the output it prints. The commands run
through bash from the repository root, with the project's venv first on PATH, COLUMNS=120,
NO_COLOR=1 and stdout piped, so `--output table` examples render without colour at width
120. Examples run in order within a page; each page stands alone (a file an example reads
is written by an earlier example of the same page).

    uv run python scripts/gen_readme.py          # rewrite the outputs in every page
    uv run python scripts/gen_readme.py --check  # exit 1 if any page's outputs are stale
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
BLOCK = re.compile(r"```console\n(.*?)```", re.S)


def pages() -> list[Path]:
    """Every page whose examples run: README.md, then docs/*.md in name order."""
    return [README, *sorted(DOCS.glob("*.md"))]


def page_name(path: Path) -> str:
    """The page as a path from the repository root, with / separators (`docs/plan.md`)."""
    return path.relative_to(ROOT).as_posix()


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


def all_examples() -> list[tuple[str, str, str]]:
    """[(page, command, expected output)] of every page, pages in `pages()` order and the
    examples of a page in the order they appear (the order they must run in)."""
    return [(page_name(p), cmd, out) for p in pages() for cmd, out in examples(p.read_text())]


def render(block: str) -> str:
    parts = []
    for cmd, _ in parse(block):
        out, _rc = run(cmd)
        parts.append(f"$ {cmd}\n" + (out + "\n" if out else ""))
    return "".join(parts)


def refresh(text: str) -> str:
    """The page with every example's output replaced by what the program prints now."""
    return BLOCK.sub(lambda m: "```console\n" + render(m.group(1)) + "```", text)


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for path in pages():
        text = path.read_text()
        new = refresh(text)
        if new == text:
            continue
        stale.append(page_name(path))
        if not check:
            path.write_text(new)
    if check and stale:
        print(f"examples are stale in {', '.join(stale)}; run scripts/gen_readme.py",
              file=sys.stderr)
        return 1
    for name in [] if check else stale:
        print(f"updated {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
