"""The qemu family: Cortex-M boards emulated by qemu-system-arm.

`qemu-system-arm` starts paused (`-S`) with the console UART on a pseudo-terminal (`-serial
pty`) and deterministic instruction counting (`-icount`); the pty is opened with pyserial
*before* the CPU is released through QMP, so no byte is lost; QEMU is stopped with QMP `quit`
(killed if it does not go) on success, error and Ctrl-C alike.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from ...errors import BoardError, TFLiteEdgeError, ToolchainError
from ..board import Board
from ..links import LIVE, Link, stop_process, tail
from .base import Family

QEMU = "qemu-system-arm"


class QemuFamily(Family):
    """Cortex-M boards under QEMU: built by firmware/Makefile, booted from the ELF image."""

    name = "qemu"

    def check(self, raw: dict[str, Any], path: Path) -> None:
        if not raw.get("qemu_machine"):
            raise BoardError(
                f"board {raw['name']}: a qemu board needs qemu_machine", board=path.stem
            )

    def bring_up_tools(self, board: Board) -> list[str]:
        return [board.toolchain, QEMU]

    def runner(self, board: Board) -> str:
        return f"QEMU {board.qemu_machine}"

    def open_image(self, board: Board, image: Path, project: Path) -> Link:
        return QemuLink(board, image)


class QemuLink(Link):
    """qemu-system-arm, paused at reset, console UART on a pty, controlled over QMP."""

    def __init__(self, board: Board, image: Path) -> None:
        self.board = board
        self._dir = Path(tempfile.mkdtemp(prefix="tfle-qemu-"))  # short: a socket path
        self.log = self._dir / "qemu.log"
        sock = self._dir / "qmp.sock"
        self.cmd = [
            QEMU,
            "-M",
            str(board.qemu_machine),
            "-display",
            "none",
            "-monitor",
            "none",
            "-serial",
            "pty",
            "-S",
            "-icount",
            f"shift={board.qemu_icount_shift},align=off,sleep=off",
            "-qmp",
            f"unix:{sock},server=on,wait=off",
            "-kernel",
            str(image),
        ]
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                self.cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        LIVE.add(self.proc)
        self._qmp: socket.socket | None = None
        self._reader: IO[str] | None = None
        try:
            self._connect(sock)
            self.url = self._pty()
        except BaseException:
            self.close()
            raise

    def _connect(self, sock: Path) -> None:
        deadline = time.monotonic() + 15.0
        while True:
            if self.proc.poll() is not None:
                raise ToolchainError(
                    f"{QEMU} exited with code {self.proc.returncode} before it could be "
                    f"controlled; it said:\n{tail(self.log)}\ncommand: {' '.join(self.cmd)}",
                    tool=QEMU,
                )
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(10.0)
                s.connect(str(sock))
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise ToolchainError(
                        f"{QEMU} did not open its control socket in 15 s; it said:\n"
                        f"{tail(self.log)}",
                        tool=QEMU,
                    ) from None
                time.sleep(0.02)
        self._qmp = s
        self._reader = s.makefile("r", encoding="utf-8")
        self._reply()  # the greeting
        self._command("qmp_capabilities")

    def _reply(self) -> dict[str, Any]:
        assert self._reader is not None
        while True:
            line = self._reader.readline()
            if not line:
                raise ToolchainError(
                    f"{QEMU} closed its control socket; it said:\n{tail(self.log)}", tool=QEMU
                )
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def _command(self, name: str) -> Any:
        assert self._qmp is not None
        self._qmp.sendall(json.dumps({"execute": name}).encode() + b"\n")
        reply = self._reply()
        if "error" in reply:
            raise ToolchainError(f"{QEMU} refused {name}: {reply['error']}", tool=QEMU)
        return reply.get("return")

    def _pty(self) -> str:
        for dev in self._command("query-chardev"):
            if dev.get("label") == "serial0" and str(dev.get("filename", "")).startswith("pty:"):
                return dev["filename"][len("pty:") :]
        raise ToolchainError(f"{QEMU} gave the board's UART no pseudo-terminal", tool=QEMU)

    def start(self, port: Any) -> None:
        self._command("cont")

    def close(self) -> None:
        if self.proc.poll() is None and self._qmp is not None:
            try:
                self._qmp.settimeout(2.0)
                self._command("quit")
            except (OSError, ValueError, TFLiteEdgeError):
                pass  # killed below
        for closing in (self._reader, self._qmp):
            try:
                if closing is not None:
                    closing.close()
            except OSError:
                pass
        self._reader = self._qmp = None
        stop_process(self.proc, grace=3.0)
        shutil.rmtree(self._dir, ignore_errors=True)

    def diagnosis(self) -> str:
        said = tail(self.log)
        code = self.proc.poll()
        if not said and code is None:
            return ""
        state = f"QEMU exited with code {code}" if code is not None else "QEMU"
        return f" ({state}{'; it said:' + chr(10) + said if said else ''})"
