"""The esp-idf family: Espressif boards on a serial port, an ESP-IDF project built and
flashed with `idf.py`, then reached on the port the user names (--port)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import BoardError, ToolchainError
from ..board import Board
from ..links import Link
from .base import Family, ProjectWriter, log_tail, require_tools


class EspIdfFamily(Family):
    """ESP32-class boards: an ESP-IDF project, `idf.py build flash`, the board's own port."""

    name = "esp-idf"
    physical = True
    makefile = False
    deletes_oversized_image = False  # idf.py flashes its .bin, not the ELF measured here

    def compile(
        self, project: Path, board: Board, *, jobs: int, args: tuple[str, ...] = ()
    ) -> tuple[Path, str]:
        """`idf.py build` on a rendered ESP-IDF project; the app's ELF."""
        require_tools(board, [board.toolchain])
        proc = subprocess.run(
            ["idf.py", "-C", str(project), "build"], capture_output=True, text=True, check=False
        )
        log = proc.stdout + proc.stderr
        if proc.returncode != 0:
            raise ToolchainError(
                f"idf.py build failed in {project}:\n{log_tail(log)}", tool="idf.py"
            )
        elves = sorted((project / "build").glob("*.elf"))
        if not elves:
            raise ToolchainError(
                f"idf.py build wrote no .elf into {project / 'build'}", tool="idf.py"
            )
        return elves[0], log

    def model_dir(self, project: Path) -> Path:
        return project / "main"

    def project_files(self, job: Any, runtime: ProjectWriter, stage: Path) -> dict[str, str]:
        return runtime.esp_idf_project(job, stage)

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
        stage(f"building and flashing with {board.toolchain}")
        if shutil.which(board.toolchain) is None:
            raise ToolchainError(
                f"board {board.name} is built and flashed with ESP-IDF's {board.toolchain}, "
                f"which is not on PATH; {board.install_hint}",
                tool=board.toolchain,
            )
        if not port:
            raise BoardError(
                f"board {board.name} is a physical board: pass its serial port, e.g. --port "
                "/dev/ttyUSB0 (ls /dev/ttyUSB* /dev/ttyACM* lists them; PORT=... for make flash)",
                board=board.name,
            )
        project = render()
        built = build(project)
        proc = subprocess.run(
            [board.toolchain, "-C", str(project), "-p", port, "flash"],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
            raise ToolchainError(
                f"{board.toolchain} flash to {port} failed:\n{tail}\ncheck the cable and the "
                "port, and hold BOOT while it connects if the board does not enter the "
                "bootloader",
                tool=board.toolchain,
            )
        return SerialPortLink(port), built, project

    def check_demo(self, board: Board, out_dir: str | Path) -> None:
        raise BoardError(
            f"board {board.name} is a physical board on a serial port, and the demo runs only "
            "on boards of this machine (qemu-*, host); make the model with `tflite-edge "
            f"demo --board {board.name} --out {out_dir} --convert-only`, then run it with "
            f"`tflite-edge flash --board {board.name} --model "
            f"{Path(out_dir) / 'digits_int8.tflite'} --port PORT`",
            board=board.name,
        )


class SerialPortLink(Link):
    """A physical board on a serial port: reset it through RTS (EN) once the port is open."""

    def __init__(self, url: str) -> None:
        self.url = url

    def start(self, port: Any) -> None:
        try:  # esptool's hard reset: EN low, then high, with IO0 left high
            port.dtr = False
            port.rts = True
            time.sleep(0.1)
            port.rts = False
        except (OSError, ValueError, AttributeError):
            pass  # a URL without modem lines (socket://): the board boots by itself
