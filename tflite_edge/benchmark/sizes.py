"""Object sizes: the compiled AOT model and the kernels it reaches, for a board's CPU."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from ..builder import elf_sections
from ..errors import ToolchainError


def object_sizes(model_dir: str | Path, board: str = "qemu-m4") -> dict[str, int]:
    """Bytes of the compiled AOT model and the kernels it reaches, for the board's CPU.

    tfle_model.c is compiled with the firmware's flags (-O2, function/data sections) and linked
    relocatably with the kernel objects, keeping only what tfle_model_invoke reaches; its ELF
    sections (read by tflite_edge.builder.elf_sections, the numbers `size -A` prints) then
    split code (.text), constants (.rodata: weights, biases, multipliers), initialised data and
    zeroed RAM (.bss, the activation arena). flash = code + constants + data.
    """
    from ..boards import get_board
    from ..compiler import kernel_include_dir, kernel_objects

    b = get_board(board)
    cc = b.toolchain
    if not cc.endswith("gcc") or shutil.which(cc) is None:
        raise ToolchainError(f"board {b.name} has no gcc toolchain on PATH ({cc})", tool=cc)
    flags = (*b.cflags, "-O2", "-ffunction-sections", "-fdata-sections")
    model_dir = Path(model_dir)
    kernels = kernel_objects(cc, flags)
    with tempfile.TemporaryDirectory() as tmp:
        model_o = Path(tmp) / "tfle_model.o"
        linked = Path(tmp) / "linked.o"
        steps = [
            [cc, "-std=c99", *flags, f"-I{kernel_include_dir()}", f"-I{model_dir}", "-c",
             str(model_dir / "tfle_model.c"), "-o", str(model_o)],
            [cc, *flags, "-nostdlib", "-Wl,-r", "-Wl,--gc-sections", "-Wl,-e,tfle_model_invoke",
             str(model_o), *map(str, kernels), "-o", str(linked)],
        ]  # fmt: skip
        for cmd in steps:
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise ToolchainError(f"{cc} failed:\n{proc.stderr[-3000:]}", tool=cc)
        sections = elf_sections(linked)
    sizes = {"code": 0, "constants": 0, "data": 0, "bss": 0}
    for s in sections:
        name, n = s["name"], s["size"]
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
