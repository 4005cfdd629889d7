"""The host family: this machine. A native build runs behind a pseudo-terminal, its
stdin/stdout on the master side, and pyserial reads the slave side like any serial port."""

from __future__ import annotations

from pathlib import Path

from ..board import Board
from ..links import Link, PtyProcess
from .base import Family


class HostFamily(Family):
    """The firmware as a native program of this machine (gcc), its console a pty."""

    name = "host"
    native = True
    image_name = "firmware"

    def runner(self, board: Board) -> str:
        return "the host binary"

    def open_image(self, board: Board, image: Path, project: Path) -> Link:
        log = project / "build" / "board.log"
        return PtyProcess([str(image)], log, what="the host firmware")
