"""The same-board table: one model on one emulated board three times, as the user would flash it
(flash()): our AOT runtime, TFLM with its reference kernels and TFLM with CMSIS-NN, the TFLM
firmware built against a TFLM tree. Instructions per inference and per MAC, the image's flash
and RAM from the linked ELF, the RAM each runtime reports on the device (AOT's static plan,
TFLM's arena_used_bytes()) and the output CRC32 of each, beside the TFLM interpreter's.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ..errors import TFLiteEdgeError
from ..model import load_model
from ..model.macs import count_macs
from .documents import Run, board_model_document
from .emulated import tflm_facts
from .flashing import flash_measured
from .plan import SAME_BOARD_RUNTIMES


def _tflm_library(run: Run, board: str, kernels: str, tflm_dir: str | Path) -> str | None:
    """None when TFLM's library for the board and kernel set is in the cache (built now if it
    is not), else why it cannot be built; a failure is kept for the rest of the run."""
    key = (board, kernels)
    if key not in run.tflm_libraries:
        from ..boards import get_board
        from ..runtimes.tflm import board_library

        try:
            board_library(get_board(board), kernels, tflm_dir, progress=run.progress)
            run.tflm_libraries[key] = None
        except TFLiteEdgeError as e:
            run.tflm_libraries[key] = str(e)
    return run.tflm_libraries[key]


def _ratio(num: int | None, den: int | None) -> float | None:
    return num / den if num is not None and den else None


def same_board_row(
    run: Run, board: str, name: str, path: Path, *, source: str, tflm_dir: str | Path
) -> dict[str, Any]:
    """Flash one model on one board with AOT, TFLM reference and TFLM + CMSIS-NN; save its row.

    A runtime that cannot be built or measured (TFLM's library failing to build for the board,
    say) gets its error message in the row instead of figures; the run goes on.
    """
    from ..boards import get_board

    model = load_model(path)
    b = get_board(board)
    macs = count_macs(model)
    interpreter = tflm_facts(run, model)["output_crc32"]
    base = run.work / "same_board" / board / name
    if base.exists():
        shutil.rmtree(base)
    measured: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    for key, runtime, kernels, _label in SAME_BOARD_RUNTIMES:
        try:
            if kernels is not None:
                why = _tflm_library(run, board, kernels, tflm_dir)
                if why is not None:
                    raise TFLiteEdgeError(why)
            flashed = flash_measured(
                run, model, board, base / key, runtime=runtime, tflm_kernels=kernels,
                tflm_dir=tflm_dir if kernels is not None else None,
            )  # fmt: skip
        except TFLiteEdgeError as e:
            errors[key] = str(e)
            measured[key] = {"runtime": runtime, "kernels": kernels, "error": str(e)}
            continue
        instr = flashed["instructions"]["median"]
        measured[key] = {
            "runtime": runtime,
            "kernels": kernels,
            **flashed,
            "instructions_per_mac": instr / macs if macs else None,
            "output_matches_interpreter": flashed["output_crc32"] == interpreter,
        }
    medians = {k: (v.get("instructions") or {}).get("median") for k, v in measured.items()}
    aot = SAME_BOARD_RUNTIMES[0][0]  # the ratios' denominator
    crcs = [v.get("output_crc32") for v in measured.values()]
    complete = None not in crcs
    crc_equal = len(set(crcs)) == 1 if complete else None
    doc = board_model_document(
        "same_board",
        b,
        model,
        name,
        source,
        macs,
        **measured,
        ratios={k: _ratio(medians[k], medians[aot]) for k in measured if k != aot},
        crc_equal=crc_equal,
        tflm_output_crc32=interpreter,
        crc_equals_interpreter=crc_equal and crcs[0] == interpreter if complete else None,
        errors=errors,
    )
    return run.save(doc)
