"""The layers hold: the library imports no stage or tool, stages import no tool and not each other, each stage is
layered (config and model under predict under its training half), the shipped product imports no research code
(import-linter, and what a run of ``pipeline.infer`` loads), and no module or package imports itself back through
others (imports inside functions count: grimp reads them all)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("spine", "pipeline", "detector", "segmenter", "keypoints")


def test_import_linter_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter not installed (pip install -e '.[test]')")
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def _graph():
    grimp = pytest.importorskip("grimp")
    return grimp.build_graph(*PACKAGES)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    import networkx as nx

    graph = nx.DiGraph([(a, b) for a, targets in edges.items() for b in targets if a != b])
    return [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]


def test_no_module_imports_itself_back():
    graph = _graph()
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    assert _cycles(edges) == []


def _package(module: str, packages: set[str]) -> str:
    """The unit a module belongs to: in the library, its subpackage or the module itself; elsewhere the package that
    holds it (a stage, each of its sub-packages, its training half, the pipeline), so that a stage and its
    sub-packages never import each other back."""
    parts = module.split(".")
    if parts[0] == "spine":
        second = ".".join(parts[:2])
        return second if second in packages else module
    return module if module in packages else module.rsplit(".", 1)[0]


def test_no_package_imports_itself_back():
    graph = _graph()
    subpackages = {m for m in graph.modules if any(other.startswith(m + ".") for other in graph.modules)}
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        for target in graph.find_modules_directly_imported_by(module):
            edges.setdefault(_package(module, subpackages), set()).add(_package(target, subpackages))
    assert _cycles(edges) == []


def test_ruff_passes():
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff not installed (pip install -e '.[test]')")
    done = subprocess.run([str(ruff), "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
