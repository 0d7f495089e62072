"""Regenerate docs/compare-plot.svg: the real `precli compare --plot` output, exported by Rich.

    uv run python scripts/gen_plot_svg.py          # write the SVG
    uv run python scripts/gen_plot_svg.py --check  # exit 1 if it is stale

The data is fixed (seeded normals x 0.05 with a few outliers), the program runs as a
subprocess with FORCE_COLOR=1 at width 100, and its ANSI output is re-rendered into an
SVG with rich's Console.export_svg.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.text import Text

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "docs" / "compare-plot.svg"
WIDTH = 100


def render() -> str:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(200_000) * 0.05).astype(np.float32)
    x[:3] = [900.0, -3000.0, 1e-7]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "weights.npy"
        np.save(path, x)
        env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
        env.update(FORCE_COLOR="1", COLUMNS=str(WIDTH), TERM="xterm-256color")
        out = subprocess.run(
            [sys.executable, "-m", "precli", "compare", str(path), "--formats",
             "bf16,fp16,e5m2,e4m3fn,e3m2fn,e2m1fn", "--plot", "--output", "table"],
            capture_output=True, text=True, env=env, check=True, cwd=ROOT).stdout
    out = out.replace(str(path), "weights.npy")
    con = Console(record=True, width=WIDTH, force_terminal=True, color_system="truecolor",
                  file=open(os.devnull, "w"))  # noqa: SIM115
    con.print(Text.from_ansi(out), end="")
    return con.export_svg(title="precli compare weights.npy --plot")


def main() -> int:
    svg = render()
    if "--check" in sys.argv[1:]:
        if not SVG.exists() or SVG.read_text() != svg:
            print("docs/compare-plot.svg is stale; run scripts/gen_plot_svg.py", file=sys.stderr)
            return 1
        return 0
    SVG.parent.mkdir(exist_ok=True)
    SVG.write_text(svg)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
