"""Every page's examples run, and their outputs are the real program's; README.md is a front
page that links every docs/ page; every relative link and anchor resolves; completions and the
plot are fresh."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import unicodedata
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
# Examples run in this order: pages in order, and within a page in the order they appear (an
# example may read a file an earlier example of its page wrote).
EXAMPLES = gen_readme.all_examples()
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
COMMANDS = ("info", "encode", "decode", "compare", "plan", "check", "diff")


def test_readme_has_examples_of_every_command() -> None:
    cmds = " ".join(c for c, _ in gen_readme.examples(README.read_text()))
    for sub in COMMANDS:
        assert f"precli {sub} " in cmds, sub


def test_docs_have_examples_of_every_command() -> None:
    cmds = " ".join(c for page, c, _ in EXAMPLES if page.startswith("docs/"))
    for sub in COMMANDS:
        assert f"precli {sub} " in cmds, sub


def test_quick_start_is_exactly_two_commands() -> None:
    text = README.read_text()
    block = text.split("## Quick start", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    assert block.strip().splitlines() == ["uv run precli info fp16", "uv run pytest"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "\nuv run pytest\n" in ci


@pytest.mark.parametrize("page, cmd, expected", EXAMPLES,
                         ids=[f"{page}: {cmd}" for page, cmd, _ in EXAMPLES])
def test_example(page: str, cmd: str, expected: str) -> None:
    out, rc = gen_readme.run(cmd)
    assert out == expected, f"{page}: example is stale or broken: {cmd}"
    if "echo \"exit $?\"" not in cmd:
        assert rc == 0, f"{page}: {cmd} exited {rc}"


# ------------------------------------------------------------------ the pages as documents


def test_readme_is_a_front_page() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) < 250, f"README.md has {len(lines)} lines; move reference text to docs/"


def test_readme_links_every_docs_page() -> None:
    targets = {t.split("#", 1)[0] for t in _links(README.read_text())}
    missing = [p.relative_to(ROOT).as_posix() for p in DOCS
               if p.relative_to(ROOT).as_posix() not in targets]
    assert not missing, f"README.md does not link {missing}"


FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks (CommonMark: a fence closes on a line of the same
    character, at least as long, with no info string)."""
    out: list[str] = []
    fence = ""
    for line in text.splitlines():
        m = FENCE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                    and not m.group(2).strip():
                fence = ""
            continue
        if m:
            fence = m.group(1)
            continue
        out.append(line)
    return out


# A code span: a run of backticks, then the shortest text (not crossing a blank line) up to a
# run of the same length.
CODE_SPAN = re.compile(r"(`+)(?!`)(?:(?!\n[ \t]*\n).)*?(?<!`)\1(?!`)", re.S)


def _prose(text: str) -> str:
    """The text outside fenced code blocks and inline code spans."""
    return CODE_SPAN.sub("", "\n".join(_prose_lines(text)))


def _links(text: str) -> list[str]:
    """The targets of inline links and images outside code, external ones left out."""
    link = r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"
    targets = re.findall(link, _prose(text))
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t, re.I)]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text (markup dropped) lowercased, every character
    that is not a letter, digit, mark, connector, space or hyphen removed, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: their text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    keep = "".join(c for c in text.strip().lower()
                   if c in " -" or unicodedata.category(c)[0] in "LMN"
                   or unicodedata.category(c) == "Pc")
    return keep.replace(" ", "-")


def _anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    anchors: set[str] = set()
    for line in _prose_lines(text):
        m = re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        slug = _slug(m.group(1))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def test_slug_follows_github() -> None:
    assert _slug("Rounding modes (`--round`)") == "rounding-modes---round"
    assert _slug("`precli check`: lint a checkpoint") == "precli-check-lint-a-checkpoint"
    assert _slug("compare VALUE and compare FORMAT...") == "compare-value-and-compare-format"
    assert _anchors("# A\n## A\n```sh\n# not a heading\n```\n## A") == {"a", "a-1", "a-2"}


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_links_resolve(page: Path) -> None:
    broken = []
    for target in _links(page.read_text()):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target} (no file {dest.relative_to(ROOT)})")
        elif anchor and (dest.suffix != ".md" or anchor not in _anchors(dest.read_text())):
            broken.append(f"{target} (no heading for #{anchor} in {dest.relative_to(ROOT)})")
    assert not broken, f"{page.relative_to(ROOT)}: broken links: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_examples_are_inside_console_blocks(page: Path) -> None:
    """Every fence is closed, and no `$ precli` line sits outside a code block, where it
    would be neither rendered as an example nor run."""
    text = page.read_text()
    fences = [ln for ln in text.splitlines() if FENCE.match(ln)]
    assert len(fences) % 2 == 0, f"{page.relative_to(ROOT)}: a code fence is not closed"
    stray = [ln for ln in _prose_lines(text) if ln.startswith("$ ")]
    assert not stray, f"{page.relative_to(ROOT)}: example lines outside a code block: {stray}"


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
