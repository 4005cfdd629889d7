"""Object sizes read from the ELF sections (tflite_edge.builder.elf_sections) are the numbers
`arm-none-eabi-size -A` prints for the same relocatable object."""

from __future__ import annotations

import subprocess

import pytest

from tflite_edge.benchmark import object_sizes
from tflite_edge.benchmark import sizes as sizes_module
from tflite_edge.boards import boards_of


def _size_a(path) -> dict[str, int]:
    """The sizes as the suite used to take them: `size -A`, summed by section prefix."""
    table = subprocess.run(
        ["arm-none-eabi-size", "-A", str(path)], capture_output=True, text=True, check=True
    ).stdout
    sizes = {"code": 0, "constants": 0, "data": 0, "bss": 0}
    for line in table.splitlines():
        parts = line.split()
        if len(parts) < 2 or not parts[1].isdigit():
            continue
        name, n = parts[0], int(parts[1])
        if name.startswith(".text"):
            sizes["code"] += n
        elif name.startswith(".rodata"):
            sizes["constants"] += n
        elif name.startswith(".data"):
            sizes["data"] += n
        elif name.startswith(".bss") or name.startswith("COMMON"):
            sizes["bss"] += n
    sizes["flash"] = sizes["code"] + sizes["constants"] + sizes["data"]
    return sizes


@pytest.mark.parametrize("board", sorted(boards_of("qemu")))
def test_object_sizes_equal_size_minus_a(tmp_path, models_dir, monkeypatch, board):
    from tflite_edge.compiler import compile_aot

    compile_aot(models_dir / "kws_ref_model.tflite", tmp_path / "model")
    linked = []
    real = sizes_module.elf_sections

    def keep(path):  # the linked object lives in a temp folder: measure it while it exists
        linked.append(_size_a(path))
        return real(path)

    monkeypatch.setattr(sizes_module, "elf_sections", keep)
    sizes = object_sizes(tmp_path / "model", board)
    assert [sizes] == linked
    assert sizes["code"] > 0 and sizes["constants"] > 0 and sizes["bss"] > 0
