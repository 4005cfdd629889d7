"""The package's structure: no import cycles, board families and runtimes only compared inside
their registries, files short enough to read in one sitting."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "tflite_edge"
MAX_LINES = 750


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports_dynamically(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
    if name in ("walk_packages", "iter_modules"):
        return True
    if name != "import_module" or not node.args:
        return False
    # import_module("tensorflow") is not ours; f"{__name__}.x" or ".x" is
    arg = node.args[0]
    if isinstance(arg, ast.Constant):
        return str(arg.value).startswith((".", "tflite_edge"))
    return any(
        isinstance(n, ast.Name) and n.id in ("__name__", "__package__") for n in ast.walk(arg)
    )


def import_graph() -> dict[str, set[str]]:
    """module -> the tflite_edge modules it imports, at module level or inside functions."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node)
                # `from . import x` imports the submodule x when there is one
                targets = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in mods]
                targets = targets or [base]
            if _imports_dynamically(node):
                # importlib/pkgutil discovery (an op or family registry) loads the modules
                # below: edges to each of them, so a cycle through discovery is seen too
                below = name if is_package else name.rpartition(".")[0]
                targets = [m for m in mods if m.startswith(below + ".")]
            for t in targets:
                # importing a.b.c runs a/__init__ and a/b/__init__ too, but those are the
                # package's own business: an edge goes to the module named
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != name and t.startswith("tflite_edge"):
                    graph[name].add(t)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    # A package's __init__ that re-exports its submodules counts too: a submodule importing
    # names from its own package's __init__ closes a cycle.
    assert _cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_graph_sees_function_level_imports():
    graph = import_graph()
    # flash() imports the project renderer inside a function: the graph must see it
    assert any(t.startswith("tflite_edge.project") for t in graph["tflite_edge.flasher"])


# Where a board family or a runtime may be named in a comparison: their registries.
REGISTRIES = ("tflite_edge/boards/", "tflite_edge/runtimes/")
COMPARISON = re.compile(
    r"""(family|runtime)(\.name)?\s*(==|!=|\bin\b|\bnot in\b)\s*[("'\[]"""
    r"""|["'](aot|tflm|qemu|host|esp-idf)["']\s*(==|!=)\s*\w*(family|runtime)"""
)


def test_no_string_comparisons_on_family_or_runtime_outside_registries():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).as_posix()
        if rel.startswith(REGISTRIES):
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if COMPARISON.search(line.split("#")[0]):
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert offenders == []


def test_comparison_pattern_catches_the_usual_forms():
    for line in ('b.family == "qemu"', "runtime != 'aot'", 'b.family in ("qemu", "host")'):
        assert COMPARISON.search(line), line
    assert not COMPARISON.search("runtime = get_runtime(name)")


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.relative_to(PACKAGE).as_posix()
)
def test_module_short_enough_to_read(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE.parent)} has {lines} lines"
