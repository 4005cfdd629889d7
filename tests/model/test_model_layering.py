"""model/, reference.py and optimize/ import only what sits below them, and no TensorFlow at
import time. Read from the source (every import statement, in functions too)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "tflite_edge"

# What each area may import inside tflite_edge (first component after `tflite_edge.`).
ALLOWED = {
    "model": {"errors", "files", "resources", "model", "reference"},
    "reference": {"errors", "files", "resources", "model"},
    "optimize": {"errors", "files", "resources", "model", "reference", "optimize"},
}
TENSORFLOW = {"tensorflow", "tf_keras", "keras", "tensorflow_model_optimization"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(absolute module, at module level) for every import statement in the file."""
    tree = ast.parse(path.read_text(), str(path))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if node.module is None:  # `from .. import reference`: the names are modules
                found += [(f"{mod}.{a.name}", id(node) in top) for a in node.names]
            else:
                found.append((mod, id(node) in top))
    return found


def _files(area: str) -> list[Path]:
    if area == "reference":
        return [PACKAGE / "reference.py"]
    return sorted((PACKAGE / area).glob("*.py"))


@pytest.mark.parametrize("area", sorted(ALLOWED))
def test_area_imports_only_what_lies_below_it(area):
    files = _files(area)
    assert files
    wrong = [
        f"{f.relative_to(ROOT)} imports {mod}"
        for f in files
        for mod, _ in _imports(f)
        if mod.startswith("tflite_edge.") and mod.split(".")[1] not in ALLOWED[area]
    ]
    assert wrong == []


@pytest.mark.parametrize("area", sorted(ALLOWED))
def test_area_imports_tensorflow_only_inside_functions(area):
    at_top = [
        f"{f.relative_to(ROOT)} imports {mod}"
        for f in _files(area)
        for mod, top in _imports(f)
        if top and mod.split(".")[0] in TENSORFLOW
    ]
    assert at_top == []


def test_importing_them_loads_no_tensorflow():
    code = (
        "import sys, tflite_edge.model.inspect, tflite_edge.reference, tflite_edge.optimize\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{sorted(TENSORFLOW)!r}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert proc.stdout.strip() == "[]"


def test_the_modules_of_these_areas_import_each_other_without_a_cycle():
    graph: dict[str, set[str]] = {}
    for area in ALLOWED:
        for f in _files(area):
            graph[_module_name(f)] = {m for m, _ in _imports(f) if m.startswith("tflite_edge.")}
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 2 or node not in graph:
            return
        assert state.get(node) != 1, f"import cycle: {' -> '.join([*path, node])}"
        state[node] = 1
        for nxt in sorted(graph[node]):
            visit(nxt, [*path, node])
        state[node] = 2

    for node in sorted(graph):
        visit(node, [])
