"""Flashing a model for a table: as the user would (flash()), or stage by stage, timed."""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from ..errors import TFLiteEdgeError
from ..model import Model
from .documents import Run


def _instructions(values: list[int]) -> dict[str, Any]:
    return {
        "min": min(values),
        "median": int(statistics.median_low(values)),
        "max": max(values),
        "runs": len(values),
        "identical": len(set(values)) == 1,
    }


def _flashed(result: Any) -> dict[str, Any]:
    """What the tables take from a flasher.FlashResult: instructions and image sizes."""
    doc = result.to_dict()
    if not doc["cycles_all"] or not doc["output_crc32"]:
        raise TFLiteEdgeError(
            f"{doc['board']} reported no timed run or no output CRC for {doc['model']}; "
            "flash it by hand (tflite-edge flash) to see what it printed"
        )
    return {
        "instructions": _instructions([int(c) for c in doc["cycles_all"]]),
        "output_crc32": doc["output_crc32"],
        "image_flash_bytes": doc["image_flash_bytes"],
        "image_ram_bytes": doc["image_ram_bytes"],
        "device_ram_bytes": doc.get("ram_bytes"),  # hello `ram`: AOT plan, TFLM arena used
        "tflm_kernels": doc.get("tflm_kernels"),
    }


def flash_measured(
    run: Run,
    model: Model,
    board: str,
    where: Path,
    *,
    runtime: str = "aot",
    tflm_kernels: str | None = None,
    tflm_dir: str | Path | None = None,
) -> dict[str, Any]:
    """flash() the model on the board as the user would: render, build, boot, read serial.

    runtime "tflm" builds TFLM's firmware against the tree tflm_dir with tflm_kernels.
    """
    from ..flasher import flash

    if where.exists():
        shutil.rmtree(where)
    result = flash(
        model, board=board, runtime=runtime, runs=run.plan.emulated_runs, profile=False,
        out_dir=where, tflm_dir=tflm_dir, tflm_kernels=tflm_kernels,
    )  # fmt: skip
    return _flashed(result)


def flash_staged(
    run: Run, model: Model, board: str, where: Path, *, sparse: bool | None
) -> dict[str, Any]:
    """The stages of flash() one by one, timed: render, build, boot and read over serial.

    sparse=True/False recompiles the rendered project's model C dense or sparse before the
    build (flash() always takes compile_aot's "auto" choice); `boot()` then runs the image.
    """
    from ..boards import get_board
    from ..builder import build
    from ..compiler import compile_aot
    from ..flasher import boot
    from ..project import render

    b = get_board(board)
    if where.exists():
        shutil.rmtree(where)
    t0 = time.perf_counter()
    render(model, board=b, runtime="aot", out_dir=where, runs=run.plan.emulated_runs,
           profile=False, name=model.name)  # fmt: skip
    if sparse is not None:
        compile_aot(model, where, sparse=sparse, name=model.name)
    t1 = time.perf_counter()
    built = build(where, b)
    t2 = time.perf_counter()
    result = boot(model, built)
    t3 = time.perf_counter()
    flashed = _flashed(result)
    flashed["stages"] = [
        {"stage": "render", "what": "render(): AOT C, known input, Makefile",
         "seconds": t1 - t0},
        {"stage": "build", "what": "build(): make with arm-none-eabi-gcc -O2, link, budget check",
         "seconds": t2 - t1},
        {"stage": "flash + measure",
         "what": f"QEMU {board} booted, {flashed['instructions']['runs']} timed runs read over "
                 "serial (pty)",
         "seconds": t3 - t2},
    ]  # fmt: skip
    return flashed
