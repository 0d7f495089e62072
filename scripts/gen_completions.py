"""Regenerate completions/ from the real CLI (Typer's completion sources).

    uv run python scripts/gen_completions.py          # write the files
    uv run python scripts/gen_completions.py --check  # exit 1 if any file is stale
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"bash": "precli.bash", "zsh": "_precli", "fish": "precli.fish"}


def generate(shell: str) -> str:
    env = {**os.environ, "_PRECLI_COMPLETE": f"source_{shell}"}
    # run as the console script would be: prog name "precli"
    code = "import sys; sys.argv[0] = 'precli'; from precli.cli.app import main; main()"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    if not out.strip():
        raise SystemExit(f"no completion script produced for {shell}")
    return out


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for shell, name in TARGETS.items():
        path = ROOT / "completions" / name
        text = generate(shell)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"stale completions: {', '.join(stale)}; run scripts/gen_completions.py",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
