"""The compiler's layout: op families found, not listed; one registration per op and struct;
no import cycle; the parameter-struct schema and TFLM's quantization helpers."""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import numpy as np
import pytest

import tflite_edge.compiler as compiler
from tflite_edge.compiler import EMITTERS, kernel_include_dir, kernel_sources, ops, params
from tflite_edge.compiler.registry import register_op
from tflite_edge.model import quant

PACKAGE = Path(compiler.__file__).parent


def test_every_ops_module_is_loaded_and_registers_ops():
    """ops/__init__ imports every module of its folder; each registers at least one op."""
    names = {m.name for m in pkgutil.iter_modules(ops.__path__) if not m.name.startswith("_")}
    assert {m.__name__.rsplit(".", 1)[1] for m in ops.MODULES} == names
    owners = {e.fn.__module__.rsplit(".", 1)[1] for e in EMITTERS.values()}
    assert owners == names
    assert all(e.fn.__module__.startswith(f"{ops.__name__}.") for e in EMITTERS.values())


def test_an_op_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="CONV_2D is registered twice"):
        register_op("CONV_2D")(lambda ctx: "")
    assert EMITTERS["CONV_2D"].fn.__module__.endswith("ops.conv")


def test_a_struct_cannot_be_declared_twice_differently():
    fields = params.STRUCTS["tfle_pool_params"]
    assert params.declare_struct("tfle_pool_params", fields, header=params.CORE_HEADER)
    with pytest.raises(ValueError, match="declared twice"):
        params.declare_struct("tfle_pool_params", fields[:-1], header=params.CORE_HEADER)


def test_every_struct_header_is_a_kernel_header():
    for header in set(params.STRUCT_HEADERS.values()):
        assert (kernel_include_dir() / header).is_file(), header


def test_c_initializer_renders_every_field_kind():
    params.declare_struct(
        "tfle_test_params",
        [*params.ints("a b"), ("v", "i", 3), ("f", "f", 1), *params.pointers("p")],
        header=params.EXTRA_HEADER,
    )
    try:
        text = params.c_initializer(
            "tfle_test_params", {"a": -(2**31), "b": 7, "v": [1, -2, 3], "f": 0.5, "p": "k_x"}
        )
        assert text == "{(-2147483647 - 1), 7, {1, -2, 3}, 0x1.0000000000000p-1f, k_x}"
        with pytest.raises(ValueError, match="needs 3 values"):
            params.c_initializer(
                "tfle_test_params", {"a": 0, "b": 0, "v": [1], "f": 0.0, "p": "k_x"}
            )
    finally:
        del params.STRUCTS["tfle_test_params"], params.STRUCT_HEADERS["tfle_test_params"]


def _imports(path: Path, package: str) -> set[str]:
    """The tflite_edge modules one file imports (at module level or inside functions)."""
    is_pkg = path.name == "__init__.py"
    here = package if is_pkg else package.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = here.split(".")[: len(here.split(".")) - (node.level - 1)]
            mod = ".".join(base + ([node.module] if node.module else []))
            out.update(f"{mod}.{a.name}" for a in node.names)
            out.add(mod)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tflite_edge"):
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("tflite_edge"))
    return out


def _compiler_graph() -> dict[str, set[str]]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent.parent).with_suffix("").parts
        name = ".".join(rel[:-1] if rel[-1] == "__init__" else rel)
        modules[name] = path
    return {n: {d for d in _imports(p, n) if d in modules and d != n} for n, p in modules.items()}


def test_registry_knows_no_op_and_the_compiler_has_no_import_cycle():
    graph = _compiler_graph()
    assert not any(
        d.startswith("tflite_edge.compiler.ops") for d in graph["tflite_edge.compiler.registry"]
    )
    # the ops package is imported by the driver only
    users = {n for n, deps in graph.items() if "tflite_edge.compiler.ops" in deps}
    assert users == {"tflite_edge.compiler.compile"}, users
    state: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> None:
        state[n] = 1
        for d in graph[n]:
            assert state.get(d) != 1, " -> ".join([*path, n, d])
            if d not in state:
                visit(d, [*path, n])
        state[n] = 2

    for n in graph:
        if n not in state:
            visit(n, [])


def test_kernel_sources_are_found_not_listed():
    assert kernel_sources() == sorted(kernel_include_dir().glob("*.c"))


def test_tflite_round_is_half_away_from_zero():
    assert [quant.tflite_round(v) for v in (0.5, 1.5, -0.5, -1.5, 2.4, -2.6, 0.0)] == [
        1, 2, -1, -2, 2, -3, 0,
    ]  # fmt: skip


def test_multiplier_helpers_check_their_range():
    assert quant.quantize_multiplier(0.5) == (1 << 30, 0)
    assert quant.quantize_multiplier_smaller_than_one(0.25) == (1 << 30, -1)
    assert quant.quantize_multiplier_greater_than_one(3.0) == (3 << 29, 2)
    with pytest.raises(ValueError):
        quant.quantize_multiplier_smaller_than_one(3.0)
    with pytest.raises(ValueError):
        quant.quantize_multiplier_greater_than_one(0.25)
    assert quant.downscale_int16_multiplier(1 << 30) == 1 << 14
    assert quant.downscale_int16_multiplier(2**31 - 1) == 32767


def test_activation_range_and_input_radius():
    assert quant.activation_range("RELU6", np.int8, 6.0 / 255, -128) == (-128, 127)
    assert quant.activation_range(None, np.int8, 0.1, 3) == (-128, 127)
    with pytest.raises(ValueError, match="TANH"):
        quant.activation_range("TANH", np.int8, 0.1, 0)
    # CalculateInputRadius(4, 0, 31) = 15 * 2^27
    assert quant.calculate_input_radius(4, 0) == 15 << 27
    assert quant.calculate_input_radius(5, 30) == 31 * 2**26 // 2**30
