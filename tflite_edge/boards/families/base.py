"""What a board family decides: its TOML keys, its tools, how it builds, what project layout
it gets, how it is flashed and reached over serial, and what the demo needs of it.

The defaults are those of a board built by firmware/Makefile (a Makefile project); a family
overrides what differs. Nothing here imports the builder, the renderer or the flasher: they
call the family, passing what it needs (render and build as callables).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol

from ...errors import ToolchainError
from ..board import Board
from ..links import Link

# How many lines of compiler output a failed build shows.
LOG_TAIL = 40


class ProjectWriter(Protocol):
    """What a runtime renders for each project layout (see tflite_edge.runtimes)."""

    def makefile_project(self, job: Any, stage: Path) -> dict[str, str]: ...

    def esp_idf_project(self, job: Any, stage: Path) -> dict[str, str]: ...


class Family:
    """The behaviour shared by the boards of one family (`family = "..."` in their TOML)."""

    name: ClassVar[str] = ""
    # Built with this machine's own compiler and run here (no cross toolchain, no emulator).
    native: ClassVar[bool] = False
    # A physical board on a serial port: flashed by its own tool, reached with --port.
    physical: ClassVar[bool] = False
    # Built by firmware/Makefile from a Makefile project (else the family's own project).
    makefile: ClassVar[bool] = True
    image_name: ClassVar[str] = "firmware.elf"  # what make writes into build/
    # An image over the board's budget is deleted, so that nothing flashes it by mistake.
    deletes_oversized_image: ClassVar[bool] = True

    # -- the board file

    def check(self, raw: dict[str, Any], path: Path) -> None:
        """Raise BoardError when a board file of this family lacks a key the family needs."""

    # -- building

    def compile(
        self, project: Path, board: Board, *, jobs: int, args: tuple[str, ...] = ()
    ) -> tuple[Path, str]:
        """Build a rendered project, `args` on make's command line (the runtime's); (the
        image, what the build printed)."""
        require_tools(board, ["make", board.toolchain])
        cmd = ["make", "-C", str(project), f"-j{max(1, jobs)}", f"BOARD={board.name}"]
        cmd += ["TFLE_UNBOUNDED=1", *args]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"}, check=False
        )
        log = proc.stdout + proc.stderr
        if proc.returncode != 0:
            raise ToolchainError(_make_failure(project, board, log), tool="make")
        image = project / "build" / self.image_name
        if not image.is_file():
            raise ToolchainError(
                f"make succeeded in {project} but wrote no {image.relative_to(project)}; is the "
                "Makefile one that tflite_edge.render() wrote (it includes firmware/Makefile)?",
                tool="make",
            )
        return image, log

    def model_dir(self, project: Path) -> Path:
        """Where a rendered project keeps the model's sources (tfle_model.h)."""
        return project

    # -- rendering

    def project_files(self, job: Any, runtime: ProjectWriter, stage: Path) -> dict[str, str]:
        """The files of a project for this family, as the runtime renders them."""
        return runtime.makefile_project(job, stage)

    # -- flashing and serial

    def bring_up_tools(self, board: Board) -> list[str]:
        """The tools flash() checks for before it renders anything."""
        return []

    def runner(self, board: Board) -> str:
        """What runs a flashed image, for the progress line ("QEMU mps2-an386")."""
        raise NotImplementedError

    def open_image(self, board: Board, image: Path, project: Path) -> Link:
        """Start a built image (paused until its port is open); its serial link."""
        raise NotImplementedError

    def bring_up(
        self,
        board: Board,
        runtime: str,
        *,
        port: str | None,
        render: Callable[[], Path],
        build: Callable[[Path], Any],
        stage: Callable[[str], None],
    ) -> tuple[Link, Any, Path | None]:
        """Render, build and start the firmware: (its link, the BuildResult, the project)."""
        for tool in self.bring_up_tools(board):
            if shutil.which(tool) is None:
                raise ToolchainError(
                    f"{tool} is not on PATH, and board {board.name} needs it; {board.install_hint}",
                    tool=tool,
                )
        stage(f"rendering the {runtime} firmware for {board.name}")
        project = render()
        stage(f"building with {board.toolchain}")
        built = build(project)
        stage(f"flashing: starting {self.runner(board)}")
        return self.open_image(board, built.image, project), built, project

    # -- the demo

    def check_demo(self, board: Board, out_dir: str | Path) -> None:
        """Raise the error the demo would meet on this board, before it trains anything."""


def require_tools(board: Board, tools: list[str]) -> None:
    """ToolchainError, saying what to install, for the first of `tools` not on PATH."""
    for tool in tools:
        if shutil.which(tool) is None:
            raise ToolchainError(
                f"{tool} is not on PATH, and board {board.name} needs it to build; "
                f"{board.install_hint or 'install it'}",
                tool=tool,
            )


def log_tail(log: str) -> str:
    """The end of a build's output, as a failed build shows it."""
    return "\n".join(log.strip().splitlines()[-LOG_TAIL:])


def _make_failure(project: Path, board: Board, log: str) -> str:
    # A `$(error ...)` of a Makefile is the whole story (TFLM_DIR not set, unknown BOARD).
    stop = re.findall(r"^(?:\S*Makefile\S*|make(?:\[\d+\])?): \*\*\* (.+?)\.\s+Stop\.$", log, re.M)
    specific = [s for s in stop if not s.startswith("[")]
    if specific:
        return f"the build of {project} for {board.name} stopped: {specific[0]}"
    return (
        f"the build of {project} for {board.name} failed ({board.toolchain}); the end of its "
        f"output:\n{log_tail(log)}\nrun `make -C {project} V=1` to see every command"
    )
