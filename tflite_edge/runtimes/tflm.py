"""The tflm runtime: TensorFlow Lite Micro's interpreter with an exact op resolver and a
measured arena. On a Cortex-M board the project builds TFLM from a checkout (TFLM_DIR); on
an ESP-IDF board it uses espressif/esp-tflite-micro; on the host the board is the
interpreter of the tflite-micro package itself (tflite_edge.runtimes.tflm_board)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..boards.board import Board
from ..boards.families import family_of
from ..boards.links import Link, PtyProcess
from ..errors import BoardError, ToolchainError
from ..resources import firmware_dir
from .base import Runtime, prefixed

# TFLM's cortex_m_generic TARGET_ARCH for each Cortex-M core ("+fp" added for hard-float boards).
TFLM_TARGET_ARCH = {
    "cortex-m3": "cortex-m3",
    "cortex-m4": "cortex-m4",
    "cortex-m7": "cortex-m7",
    "cortex-m33": "cortex-m33",
    "cortex-m55": "cortex-m55",
}
BOARD_PROGRAM = "tflite_edge.runtimes.tflm_board"  # the Python TFLM board, run with -m


class TflmRuntime(Runtime):
    """TensorFlow Lite Micro: the model as a C array, interpreted on the board."""

    name = "tflm"
    summary = "TensorFlow Lite Micro"
    interprets = True
    c_array_cpp = True

    def makefile_project(self, job: Any, stage: Path) -> dict[str, str]:
        files = job.tflm_sources()
        files["Makefile"] = job.render("tflm/Makefile.j2", **make_context(job))
        return files

    def esp_idf_project(self, job: Any, stage: Path) -> dict[str, str]:
        files = prefixed("main/", job.tflm_sources())
        files.update(prefixed("main/", job.esp_harness_sources()))
        srcs = sorted(Path(rel).name for rel in files if rel.endswith((".c", ".cc")))
        files.update(job.esp_project(srcs))
        return files

    def board_process(
        self,
        board: Board,
        model: Any,
        runs: int,
        where: Path,
        check_dir: Callable[[list[str]], None],
    ) -> Link | None:
        if not family_of(board).native:
            return None
        # On this machine the interpreter of the tflite-micro package is the board: the same
        # protocol behind the same kind of pty, so TFLM and AOT figures come through the same
        # monitor.
        model_path = where / f"{model.c_identifier()}.tflite"
        log = where / "tflm-board.log"
        check_dir([model_path.name, log.name])
        where.mkdir(parents=True, exist_ok=True)
        model_path.write_bytes(model.data)
        cmd = [
            sys.executable,
            "-m",
            BOARD_PROGRAM,
            "tflm-board",
            str(model_path),
            "--runs",
            str(runs),
            "--board",
            board.name,
        ]
        return PtyProcess(cmd, log, what="the TFLM host board")

    def preflight(self, board: Board) -> None:
        family = family_of(board)
        if family.makefile and not family.native:
            check_tflm_dir(board.name)


def make_context(job: Any) -> dict[str, Any]:
    """The context of templates/tflm/Makefile.j2."""
    b = job.board
    host = family_of(b).native
    arch = TFLM_TARGET_ARCH.get(b.cpu)
    if not host and arch is None:
        raise BoardError(
            f"board {b.name} has CPU {b.cpu}, for which tflite-edge knows no TFLM "
            f"cortex_m_generic TARGET_ARCH (known: {', '.join(TFLM_TARGET_ARCH)})",
            board=b.name,
        )
    if arch in ("cortex-m4", "cortex-m7") and "-mfloat-abi=hard" in b.cflags:
        arch += "+fp"  # TFLM's library must use the board's float ABI to link with it
    return {
        "firmware": firmware_dir().as_posix(),
        "runs": job.runs,
        "profile": int(job.profile),
        "host": host,
        "target_arch": arch or "",
        "kernels": "" if host else "cmsis_nn",
    }


def check_tflm_dir(board: str) -> None:
    """ToolchainError unless TFLM_DIR names a tflite-micro checkout (what the TFLM project's
    Makefile stops on, but only at build time)."""
    makefile = "tensorflow/lite/micro/tools/make/Makefile"
    tflm_dir = os.environ.get("TFLM_DIR", "").strip()
    if not tflm_dir:
        raise ToolchainError(
            f"--runtime tflm on {board} builds TensorFlow Lite Micro from your checkout, and "
            "TFLM_DIR is not set; clone https://github.com/tensorflow/tflite-micro and export "
            "TFLM_DIR=/path/to/tflite-micro, or use --runtime aot",
            tool="make",
        )
    if not (Path(tflm_dir) / makefile).is_file():
        raise ToolchainError(
            f"TFLM_DIR={tflm_dir} is not a tflite-micro checkout (it has no {makefile}); set "
            "TFLM_DIR to the root of a clone of https://github.com/tensorflow/tflite-micro",
            tool="make",
        )
