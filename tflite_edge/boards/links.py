"""How a running board's serial console is reached: the Link interface, and the processes
behind a pseudo-terminal that host boards are (the native firmware: the AOT and TFLM host boards).

Every process started here runs in its own session and is recorded in LIVE until it is
stopped, so that nothing is left running, whatever ends the program.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from ..errors import ToolchainError

__all__ = ["LIVE", "Link", "PtyProcess", "stop_process", "tail"]


class Link:
    """How a board's serial console is reached, and how the board is started and stopped."""

    url: str = ""

    def start(self, port: Any) -> None:
        """Let the board run once its port is open."""

    def close(self) -> None:
        """Stop whatever runs the board (idempotent)."""

    def diagnosis(self) -> str:
        """What the board's runner said, to append to an error message ('' if nothing)."""
        return ""


LIVE: set[subprocess.Popen] = set()


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(LIVE):
        stop_process(proc, grace=0.5)


def stop_process(proc: subprocess.Popen, grace: float) -> None:
    """Terminate a process we started in its own session, and everything it started."""
    try:
        if proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        proc.wait(timeout=5.0)
    except (subprocess.TimeoutExpired, OSError):
        pass
    finally:
        LIVE.discard(proc)


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file ('' when it cannot be read)."""
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class PtyProcess(Link):
    """A program whose stdin/stdout are the master of a pseudo-terminal; the slave is the port.

    The slave is put in raw mode, so nothing the program writes is echoed back to it or
    translated, and the program starts only once the port is open: pyserial discards what
    is waiting in a port when it opens it.
    """

    def __init__(
        self, cmd: list[str], log: Path, *, what: str, env: dict[str, str] | None = None
    ) -> None:
        import tty

        self.cmd = cmd
        self.env = env or {}  # set for the program, over this process's environment
        self.what = what
        self.log = log
        self.proc: subprocess.Popen | None = None
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.url = os.ttyname(self._slave)

    def start(self, port: Any) -> None:
        env = {**os.environ, **self.env}
        self.log.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(self.log, "wb") as err:
                self.proc = subprocess.Popen(
                    self.cmd,
                    stdin=self._master,
                    stdout=self._master,
                    stderr=err,
                    env=env,
                    start_new_session=True,
                    close_fds=True,
                )
        except OSError as err:
            raise ToolchainError(
                f"cannot start {self.what} ({self.cmd[0]}): {err}", tool=self.cmd[0]
            ) from err
        finally:
            self._close_fds()  # the child holds the master; pyserial holds its own slave
        LIVE.add(self.proc)

    def _close_fds(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    def close(self) -> None:
        self._close_fds()
        if self.proc is not None:
            stop_process(self.proc, grace=2.0)

    def diagnosis(self) -> str:
        code = None
        if self.proc is not None:
            try:  # a vanished port usually means the program is exiting right now
                code = self.proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                code = None
        said = tail(self.log)
        if code is None and not said:
            return ""
        state = f"{self.what} exited with code {code}" if code is not None else self.what
        return f" ({state}{'; it said:' + chr(10) + said if said else ''})"
