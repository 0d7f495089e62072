"""The house's plan, checked: no import circles, no private names across modules, layers.

The layers contract itself is import-linter's (pyproject.toml, run by .ci/run); these
checks cover what it does not: a circle inside one layer, and private names."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "precli"


def _modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        parts = p.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def test_no_module_imports_a_module_that_imports_it_back() -> None:
    g = grimp.build_graph("precli")  # imports inside functions count: they run too
    circles = []
    for m in sorted(g.modules):
        for b in g.find_modules_directly_imported_by(m):
            if b.startswith("precli") and b != m:
                chain = g.find_shortest_chain(importer=b, imported=m)
                if chain:
                    circles.append(f"{m} -> {' -> '.join(chain)}")
    assert circles == []


def test_no_module_imports_another_modules_private_name() -> None:
    mods = _modules()
    found = []
    for name, path in sorted(mods.items()):
        tree = ast.parse(path.read_text())
        aliases: dict[str, str] = {}  # local name -> precli module it stands for
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    if full in mods:
                        aliases[a.asname or a.name] = full
                    elif (a.name.startswith("_") and not a.name.startswith("__")
                          and node.module != name):
                        found.append(f"{name}: from {node.module} import {a.name}")
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname and a.name in mods:
                        aliases[a.asname] = a.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                found.append(f"{name}: {node.value.id}.{node.attr}")
    assert found == []


def test_no_private_functions_of_numpy_or_typer() -> None:
    bad = []
    for path in PKG.rglob("*.py"):
        text = path.read_text()
        for word in ("_read_array_header", "typer._", "np.lib._", "numpy.lib._", "np._"):
            if word in text:
                bad.append(f"{path.relative_to(ROOT)}: {word}")
    assert bad == []


@pytest.mark.parametrize("layer", ["core", "errors"])
def test_the_exact_core_loads_without_numpy(layer: str) -> None:
    mods = [m for m in _modules() if m == f"precli.{layer}" or m.startswith(f"precli.{layer}.")]
    code = ("import sys\n" + "".join(f"import {m}\n" for m in mods)
            + "print(sorted(m for m in ('numpy', 'rich', 'typer') if m in sys.modules))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert p.stdout.strip() == "[]"
