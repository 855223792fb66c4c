"""The package's layout rules (docs/architecture.md): the import-linter contracts of pyproject.toml,
no import cycle, a light `import vaelab`, and no imports that need `noqa: E402`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "vaelab"


def test_the_dependency_contracts_hold(capsys, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)  # import-linter reads pyproject.toml from the working directory
    code = lint_imports(no_cache=True)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "3 kept, 0 broken" in out


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_takes_part_in_an_import_cycle() -> None:
    graph = grimp.build_graph("vaelab", cache_dir=None)
    assert _cycles(graph) == []


def test_import_vaelab_loads_neither_torch_nor_matplotlib_nor_music21() -> None:
    code = ("import sys, vaelab; heavy = [m for m in ('torch', 'matplotlib', 'music21', 'mido', 'sklearn') "
            "if m in sys.modules]; print(','.join(heavy))")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("name", ["load_dataset", "build_model", "fit", "load", "evaluate", "latent", "plots",
                                  "RunDir", "metrics", "TrainConfig"])
def test_every_public_name_resolves(name: str) -> None:
    import vaelab

    assert name in vaelab.__all__ and getattr(vaelab, name) is not None


def test_no_import_needs_a_noqa_e402() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in SRC.rglob("*.py") if "noqa: E402" in p.read_text()]
    assert offenders == []


def test_modules_stay_under_400_lines() -> None:
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}
