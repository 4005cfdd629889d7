"""What a runtime decides: what it renders into a project of each layout, what the firmware
needs measured first, and how it runs on a board family when that differs from building
firmware (TFLM on the host builds and starts its own board)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..boards.board import Board
from ..boards.links import Link

# The folder of a Makefile project that holds its copy of firmware/ (harness, board, kernels),
# and how the project's Makefile finds it: beside itself, wherever the project is moved.
FIRMWARE_COPY = "tfle"
FIRMWARE_COPY_MAKE = "$(TFLE_PROJECT)/" + FIRMWARE_COPY


@dataclass(frozen=True)
class RuntimeOptions:
    """What a user may choose of a runtime beyond its name (render/build/flash/run/validate)."""

    tflm_dir: str | Path | None = None  # --tflm-dir (else $TFLM_DIR)
    tflm_kernels: str | None = None  # --tflm-kernels (else the board's default)
    # The arena a TFLM firmware declares, instead of the host's measurement plus its margin.
    tflm_arena_bytes: int | None = None


class Runtime:
    """The code that runs the model on the board (`--runtime NAME`).

    The rendering methods get the renderer's job (tflite_edge.project's _Job): its model,
    board, runs, profile, and the helpers render(), c_array(), known_input_files(),
    tflm_sources(), esp_project(), esp_aot_sources() and compile_aot().
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""  # what it is, for the list of known runtimes
    # The firmware runs TFLM's interpreter: the project needs an op resolver and an arena
    # measured on the host, and a model TFLM cannot run is refused.
    interprets: ClassVar[bool] = False
    c_array_cpp: ClassVar[bool] = False  # the C array as model_data.cc (a C++ project)

    def makefile_project(self, job: Any, stage: Path) -> dict[str, str]:
        """The files of a Makefile project (built by firmware/Makefile), by relative path."""
        raise NotImplementedError

    def esp_idf_project(self, job: Any, stage: Path) -> dict[str, str]:
        """The files of an ESP-IDF project (built by idf.py), by relative path."""
        raise NotImplementedError

    def arena_extra(self, model: Any, board: Board, options: RuntimeOptions) -> int:
        """Arena bytes the board's kernels need beyond the host's measurement, when they can
        be computed from the model (an interpreter's; 0 otherwise)."""
        return 0

    def kernels(self, board: Board, options: RuntimeOptions) -> str | None:
        """The kernel set this runtime uses on `board` (None: its own, nothing to choose)."""
        return None

    def make_args(
        self,
        project: Path,
        board: Board,
        manifest: dict[str, Any],
        options: RuntimeOptions,
        *,
        jobs: int,
        progress: Callable[[str], None] | None,
    ) -> list[str]:
        """Extra arguments of the project's make, prepared before it runs (TFLM: its cached
        library); `manifest` is the project's tflite-edge.json."""
        return []

    def board_process(
        self,
        board: Board,
        model: Any,
        runs: int,
        where: Path,
        check_dir: Callable[[list[str]], None],
        options: RuntimeOptions,
    ) -> Link | None:
        """The board as a process of this machine, when this runtime needs no firmware on
        `board` (None: render, build and flash as the board's family does)."""
        return None

    def preflight(self, board: Board, options: RuntimeOptions) -> None:
        """Raise what a build for `board` would stop on, before anything is trained."""


def prefixed(prefix: str, files: dict[str, str]) -> dict[str, str]:
    """The same files under a folder of the project (main/ of an ESP-IDF project)."""
    return {prefix + rel: text for rel, text in files.items()}
