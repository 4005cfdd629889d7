"""The emulated table: instructions per inference read from QEMU, beside TFLM's arena and output."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ..model import Model, load_model
from ..model.macs import count_macs
from .documents import Run, board_model_document
from .flashing import flash_measured
from .plan import PUBLISHED_CLOCK_HZ, PUBLISHED_MS
from .sizes import object_sizes


def tflm_facts(run: Run, model: Model) -> dict[str, Any]:
    """The TFLM interpreter's arena and output CRC32 on the known input, on the host (cached per
    model sha256: the emulated and same-board tables share them)."""
    cache = run.tflm_cache
    if model.sha256 not in cache:
        from ..reference import Reference

        ref = Reference(model)
        arena = ref.arena()
        cache[model.sha256] = {
            "arena": {"total": arena.total, "activations": arena.activations, "tail": arena.tail},
            "output_crc32": ref.output_crc32(),
        }
    return cache[model.sha256]


def emulated_row(run: Run, board: str, name: str, path: Path, *, source: str) -> dict[str, Any]:
    """Measure one model on one emulated board and save its row."""
    from ..boards import get_board
    from ..compiler import compile_aot

    model = load_model(path)
    b = get_board(board)
    where = run.work / "emulated" / board / name
    if where.exists():
        shutil.rmtree(where)
    macs = count_macs(model)
    aot = compile_aot(model, where / "model", sparse="auto")
    sizes = object_sizes(where / "model", board)
    flashed = flash_measured(run, model, board, where / "board")
    tflm = tflm_facts(run, model)
    instr = flashed["instructions"]["median"]
    arena = tflm["arena"]
    doc = board_model_document(
        "emulated",
        b,
        model,
        name,
        source,
        macs,
        instructions=flashed["instructions"],
        instructions_per_mac=instr / macs if macs else None,
        aot_ram_bytes=aot.ram_bytes,
        weight_bytes=aot.weight_bytes,
        object=sizes,
        code_bytes=sizes["code"],
        image_flash_bytes=flashed["image_flash_bytes"],
        image_ram_bytes=flashed["image_ram_bytes"],
        tflm_arena=arena,
        ram_ratio=aot.ram_bytes / arena["total"] if arena["total"] else None,
        ram_ratio_activations=aot.ram_bytes / arena["activations"]
        if arena["activations"]
        else None,
        output_crc32=flashed["output_crc32"],
        tflm_output_crc32=tflm["output_crc32"],
        bit_exact=flashed["output_crc32"] == tflm["output_crc32"],
        estimate_ms_at_120mhz=instr / PUBLISHED_CLOCK_HZ * 1e3,
        published_ms=PUBLISHED_MS.get(name),
    )
    return run.save(doc)
