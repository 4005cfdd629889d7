"""Flash a model onto a board, read its measurements over serial, run inputs on it.

`flash()` renders the firmware project, builds it, puts it on the board and monitors the
serial port until the board has reported its timed runs; `run()` sends input tensors to a
flashed board and returns the raw outputs it sends back. Both go through `start()`, which
returns a `Device`: the booted board with its serial port open.

How each family of boards is "flashed" and reached over serial:

- QEMU boards: `qemu-system-arm` starts paused (`-S`) with the console UART on a
  pseudo-terminal (`-serial pty`) and deterministic instruction counting (`-icount`); the pty
  is opened with pyserial *before* the CPU is released through QMP, so no byte is lost; QEMU
  is stopped with QMP `quit` (killed if it does not go) on success, error and Ctrl-C alike.
- `host`: the native build runs behind a pseudo-terminal, its stdin/stdout on the master
  side, and pyserial reads the slave side like any serial port. With `runtime="tflm"` the
  board is this module run as a program (`python -m tflite_edge.flasher tflm-board ...`):
  the real TFLM interpreter from the tflite-micro package speaking the same protocol behind
  the same kind of pty, so TFLM and AOT figures come through the same monitor.
- `esp32`, `esp32s3`: `idf.py build flash` on the rendered ESP-IDF project, then the port.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from .boards import DEFAULT_BOARD, Board, get_board
from .builder import BuildResult, build
from .errors import (
    BoardError,
    DataError,
    ModelError,
    OutputExistsError,
    ProtocolError,
    SerialError,
    TFLiteEdgeError,
    ToolchainError,
    check_runs,
    check_timeout,
)
from .model import Model, known_input, load_model
from .results import FlashResult

__all__ = ["Device", "FlashResult", "flash", "run", "start"]

RUNTIMES = ("aot", "tflm")
DEFAULT_TIMEOUT = 60.0  # seconds a board may stay silent while it boots and runs
QEMU = "qemu-system-arm"
# Error records after which a board will say nothing more.
FATAL_ERRORS = ("hard_fault", "fault", "unexpected_interrupt")
_HOST_CLOCK_HZ = 1_000_000_000  # the host boards count nanoseconds


# --------------------------------------------------------------------------- public API


def flash(
    model: str | Path | bytes | Model,
    *,
    board: str | Board = DEFAULT_BOARD,
    runtime: str = "aot",
    port: str | None = None,
    runs: int = 10,
    profile: bool = True,
    out_dir: str | Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    jsonl: str | Path | IO[str] | None = None,
    on_record: Callable[[Any], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> FlashResult:
    """Render, build and flash `model` on `board`, then read its timed runs over serial.

    `out_dir` keeps the rendered project and its build (a temporary folder otherwise);
    `timeout` is how long the board may stay silent; `jsonl` receives every record as it
    arrives; `port` is the serial port of a physical board (esp32, esp32s3).
    """
    with start(
        model,
        board=board,
        runtime=runtime,
        port=port,
        runs=runs,
        profile=profile,
        out_dir=out_dir,
        timeout=timeout,
        jsonl=jsonl,
        on_record=on_record,
        on_stage=on_stage,
    ) as device:
        return device.result


def run(
    model: str | Path | bytes | Model,
    inputs: np.ndarray,
    *,
    board: str | Board = DEFAULT_BOARD,
    runtime: str = "aot",
    port: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    out_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Run each input (first axis) on the board; its raw outputs, stacked the same way.

    Inputs must have the model's input dtype (quantized int8 for an int8 model) and split
    into samples of its input shape; outputs have the model's output dtype and shape
    (N, *output_shape[1:]), exactly the bytes the board sent back.
    """
    m = load_model(model)
    xs = _samples(m, inputs)
    with start(
        m,
        board=board,
        runtime=runtime,
        port=port,
        runs=1,
        profile=False,
        out_dir=out_dir,
        timeout=timeout,
    ) as device:
        return device.infer(xs, progress=progress)


def boot(
    model: str | Path | bytes | Model,
    built: BuildResult,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    jsonl: str | Path | IO[str] | None = None,
    on_record: Callable[[Any], None] | None = None,
) -> FlashResult:
    """Flash an image that `build()` already made (QEMU or host board) and read its timed runs.

    The render and build steps of `flash()` are skipped, so a caller can change the project
    between them (benchmarks compile the same model dense and sparse) or time each stage.
    """
    b = get_board(built.board)
    if b.family not in ("qemu", "host"):
        raise BoardError(
            f"boot() runs images on emulated and host boards; board {b.name} is flashed by "
            f"{b.flasher}: use flash()",
            board=b.name,
        )
    m = load_model(model)
    if b.family == "qemu":
        link: _Link = _Qemu(b, built.image)
    else:
        log = built.project_dir / "build" / "board.log"
        link = _PtyProcess([str(built.image)], log, what="the host firmware")
    device = Device(
        m, b, "aot", link, _Workdir(built.project_dir), timeout, jsonl, built, built.project_dir
    )
    try:
        return device.boot(on_record)
    finally:
        device.close()


def start(
    model: str | Path | bytes | Model,
    *,
    board: str | Board = DEFAULT_BOARD,
    runtime: str = "aot",
    port: str | None = None,
    runs: int = 10,
    profile: bool = True,
    out_dir: str | Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    jsonl: str | Path | IO[str] | None = None,
    on_record: Callable[[Any], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> Device:
    """Flash and boot `model` on `board` and read its boot records; the Device stays open.

    Use it as a context manager (`with start(...) as device:`): `device.result` holds the
    FlashResult, `device.infer(xs)` runs inputs, and leaving the block stops the emulator or
    the host process.
    """
    b = get_board(board)
    if runtime not in RUNTIMES:
        raise TFLiteEdgeError(
            f"unknown runtime {runtime!r}; known runtimes: {', '.join(RUNTIMES)} "
            "(aot: tflite-edge's C compiler, tflm: TensorFlow Lite Micro)"
        )
    check_runs(runs)
    check_timeout(timeout)
    for name, fn in (("on_record", on_record), ("on_stage", on_stage)):
        if fn is not None and not callable(fn):
            raise TFLiteEdgeError(f"{name} must be a function or None, found {fn!r}")
    if jsonl is not None and not (isinstance(jsonl, (str, Path)) or hasattr(jsonl, "write")):
        raise TFLiteEdgeError(
            f"jsonl must be a path or an open text file for the record log, found {jsonl!r}"
        )
    if port is not None and b.family != "esp-idf":
        raise BoardError(
            f"board {b.name} runs on this machine ({b.description}); --port is for physical "
            "boards (esp32, esp32s3). Leave it out, or read a running board with "
            "`tflite-edge monitor --port PORT`",
            board=b.name,
        )
    m = load_model(model)
    known_input(m)  # a model with float input fails here, before any build
    work = _Workdir(out_dir)
    link: _Link | None = None
    device: Device | None = None
    try:
        stage = on_stage or (lambda _msg: None)
        link, built, project = _bring_up(m, b, runtime, port, runs, profile, work, stage)
        device = Device(m, b, runtime, link, work, timeout, jsonl, built, project)
        stage(f"reading the boot records of {b.name} over serial")
        device.boot(on_record)
        return device
    except BaseException:
        if device is not None:
            device.close()  # the port, the emulator or process, the temporary folder
        else:
            if link is not None:
                link.close()
            work.cleanup()
        raise


# --------------------------------------------------------------------------- device


class Device:
    """A board running a flashed model, its serial port open (a context manager)."""

    def __init__(
        self,
        model: Model,
        board: Board,
        runtime: str,
        link: _Link,
        work: _Workdir,
        timeout: float,
        jsonl: str | Path | IO[str] | None,
        build: BuildResult | None,
        project: Path | None,
    ) -> None:
        self.model = model
        self.board = board
        self.runtime = runtime
        self.timeout = timeout
        self._link = link
        self._work = work
        self._jsonl = jsonl
        self._build = build
        self._project = project
        self.port: Any = None
        self.result: FlashResult | None = None

    def boot(self, on_record: Callable[[Any], None] | None = None) -> FlashResult:
        """Open the port, let the board run, read until it has reported its timed runs."""
        import serial

        from .protocol import Session, open_port, read_records

        try:
            self.port = open_port(self._link.url, self.board.baud)
        except SerialError as err:
            raise SerialError(f"{err}{self._link.diagnosis()}", port=err.port) from err
        self._link.start(self.port)
        session = Session(port=self._link.url)

        def take(record: Any) -> None:
            session.add(record)
            if on_record is not None:
                on_record(record)

        def finished(record: Any) -> bool:
            if record.kind == "error" and record["msg"] in FATAL_ERRORS:
                return True
            return record.kind in ("done", "ready")

        try:
            records = read_records(
                self.port,
                until=finished,
                timeout=self.timeout,
                jsonl=self._jsonl,
                on_record=take,
                on_garbled=session.garbled.append,
            )
        except SerialError as err:
            raise SerialError(f"{err}{self._link.diagnosis()}", port=err.port) from err
        except (OSError, serial.SerialException) as err:  # a pty hung up while configured
            raise self._vanished(err) from err
        last = records[-1]
        if last.kind == "error":
            watch = (
                f"`make -C {self._project} run` boots it with the console on your terminal"
                if self._project is not None and self._work.kept
                else "flash again with --out DIR to keep the project, then `make -C DIR run` "
                "boots it with the console on your terminal"
            )
            raise ProtocolError(
                f"{self.board.name} stopped with msg={last['msg']} while running "
                f"{self.model.name}{self._link.diagnosis()}; the firmware crashed: {watch}",
                port=self._link.url,
            )
        self._check_hello(session)
        self.result = FlashResult(
            board=self.board.name,
            runtime=self.runtime,
            model_name=self.model.name,
            model_sha256=self.model.sha256,
            emulated=self.board.emulated,
            cycles_unit=self.board.cycles_unit,
            session=session,
            port=self._link.url,
            build=self._build,
            project_dir=self._project,
            tflm_crc32=_tflm_crc32(self.model),
            tflm_arena=_tflm_arena(self.model),
        )
        return self.result

    def _vanished(self, err: Exception) -> SerialError:
        return SerialError(
            f"serial port {self._link.url} vanished: {err}{self._link.diagnosis()}",
            port=self._link.url,
        )

    def _check_hello(self, session: Any) -> None:
        hello = session.hello
        if not hello:
            raise ProtocolError(
                f"{self.board.name} reported runs but no hello line; is it running "
                "tflite-edge firmware?",
                port=self._link.url,
            )
        sha8 = self.model.sha256[:8]
        if hello.get("model") != sha8:
            raise ProtocolError(
                f"the board runs model {hello.get('model')}, not {self.model.name} ({sha8}); "
                "flashing did not take: flash again, or reset the board",
                port=self._link.url,
            )
        t_in, t_out = self.model.input_tensors[0], self.model.output_tensors[0]
        if (hello.get("in_bytes"), hello.get("out_bytes")) != (t_in.nbytes, t_out.nbytes):
            raise ProtocolError(
                f"the board takes {hello.get('in_bytes')} input and gives "
                f"{hello.get('out_bytes')} output bytes; {self.model.name} has "
                f"{t_in.nbytes} and {t_out.nbytes}",
                port=self._link.url,
            )

    def infer(
        self,
        inputs: np.ndarray,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Send each input to the board and return its raw outputs, stacked (N, *out[1:])."""
        import serial

        from .protocol import send_input

        xs = _samples(self.model, inputs)
        t_out = self.model.output_tensors[0]
        outs = []
        for k, x in enumerate(xs):
            try:
                record = send_input(
                    self.port,
                    x.tobytes(),
                    timeout=self.timeout,
                    out_bytes=t_out.nbytes,
                    jsonl=self._jsonl,
                )
            except SerialError as err:
                raise type(err)(f"{err}{self._link.diagnosis()}", port=err.port) from err
            except (OSError, serial.SerialException) as err:
                raise self._vanished(err) from err
            if self.result is not None:
                self.result.session.add(record)
            outs.append(np.frombuffer(record.payload, dtype=t_out.dtype))
            if progress is not None:
                progress(k + 1, len(xs))
        shape = (len(xs), *t_out.shape[1:])
        return np.stack(outs).reshape(shape) if outs else np.zeros(shape, t_out.dtype)

    def close(self) -> None:
        """Close the port and stop the emulator or host process (idempotent)."""
        try:
            if self.port is not None:
                self.port.close()
                self.port = None
        finally:
            self._link.close()
            self._work.cleanup()

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _tflm_arena(model: Model) -> dict[str, int] | None:
    """TFLM's arena for the model, measured with the interpreter (None if TFLM cannot run it)."""
    from .model.inspect import measure_arena

    try:
        a = measure_arena(model)
    except TFLiteEdgeError:
        return None
    return {"total": a.total, "head": a.head, "tail": a.tail}


def _tflm_crc32(model: Model) -> str | None:
    """CRC32 of the TFLM interpreter's output on the harness's known input (None if TFLM
    cannot run the model)."""
    from .reference import Reference

    try:
        out = Reference(model).run_one(known_input(model))
    except TFLiteEdgeError:
        return None
    return f"{zlib.crc32(out.tobytes()):08x}"


def _samples(model: Model, inputs: np.ndarray) -> np.ndarray:
    t = model.input_tensors[0]
    xs = np.asarray(inputs)
    if xs.dtype != t.dtype:
        raise DataError(
            f"inputs have dtype {xs.dtype}, model {model.name!r} takes {np.dtype(t.dtype)}; "
            "quantize them with the input tensor's scale and zero point first"
        )
    from .validation import split_samples

    # (N, *sample shape), as it came: a transposed or flattened array is refused
    return np.ascontiguousarray(split_samples(model, xs, what="inputs"))


# --------------------------------------------------------------------------- bring-up


class _Workdir:
    """out_dir when given (kept), else a temporary folder removed with the device."""

    def __init__(self, out_dir: str | Path | None) -> None:
        self._tmp = None if out_dir is not None else tempfile.mkdtemp(prefix="tflite-edge-")
        self.path = Path(out_dir) if out_dir is not None else Path(self._tmp)
        self.kept = out_dir is not None

    def cleanup(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def _bring_up(
    m: Model,
    b: Board,
    runtime: str,
    port: str | None,
    runs: int,
    profile: bool,
    work: _Workdir,
    stage: Callable[[str], None],
) -> tuple[_Link, BuildResult | None, Path | None]:
    if b.family == "esp-idf":
        stage(f"building and flashing with {b.toolchain}")
        return _bring_up_esp_idf(m, b, runtime, port, runs, profile, work)
    if b.family == "host" and runtime == "tflm":
        model_path = work.path / f"{m.c_identifier()}.tflite"
        log = work.path / "tflm-board.log"
        if work.kept and work.path.is_dir():
            foreign = sorted(
                f.name for f in work.path.iterdir() if f.name not in (model_path.name, log.name)
            )
            if foreign:
                raise _foreign_out_dir(work.path, ", ".join(foreign[:3]))
        work.path.mkdir(parents=True, exist_ok=True)
        model_path.write_bytes(m.data)
        cmd = [
            sys.executable,
            "-m",
            "tflite_edge.flasher",
            "tflm-board",
            str(model_path),
            "--runs",
            str(runs),
            "--board",
            b.name,
        ]
        return (
            _PtyProcess(cmd, log, what="the TFLM host board"),
            None,
            None,
        )
    if b.family == "qemu":
        for tool in (b.toolchain, QEMU):
            if shutil.which(tool) is None:
                raise ToolchainError(
                    f"{tool} is not on PATH, and board {b.name} needs it; {b.install_hint}",
                    tool=tool,
                )
    stage(f"rendering the {runtime} firmware for {b.name}")
    project = _render(m, b, runtime, runs, profile, work)
    stage(f"building with {b.toolchain}")
    built = build(project, b)
    where = "the host binary" if b.family == "host" else f"QEMU {b.qemu_machine}"
    stage(f"flashing: starting {where}")
    if b.family == "host":
        return (
            _PtyProcess(
                [str(built.image)], project / "build" / "board.log", what="the host firmware"
            ),
            built,
            project,
        )
    return _Qemu(b, built.image), built, project


def _render(m: Model, b: Board, runtime: str, runs: int, profile: bool, work: _Workdir) -> Path:
    from .project import render

    project = work.path
    try:
        render(m, board=b, runtime=runtime, out_dir=project, runs=runs, profile=profile,
               name=m.name)  # fmt: skip
    except OutputExistsError as err:
        raise _foreign_out_dir(project, err.found) from err
    return project


def _foreign_out_dir(out: Path, found: str) -> OutputExistsError:
    """flash()'s own advice for an out_dir holding other files (render's speaks of force)."""
    return OutputExistsError(
        f"output directory {str(out)!r} holds files tflite-edge did not write ({found}); "
        "flash does not write into it: pass an empty or new directory as out_dir (--out), "
        "or none to build in a temporary folder",
        path=str(out),
        found=found,
    )


def _bring_up_esp_idf(
    m: Model, b: Board, runtime: str, port: str | None, runs: int, profile: bool, work: _Workdir
) -> tuple[_Link, BuildResult | None, Path | None]:
    if shutil.which(b.toolchain) is None:
        raise ToolchainError(
            f"board {b.name} is built and flashed with ESP-IDF's {b.toolchain}, which is not "
            f"on PATH; {b.install_hint}",
            tool=b.toolchain,
        )
    if not port:
        raise BoardError(
            f"board {b.name} is a physical board: pass its serial port, e.g. --port "
            "/dev/ttyUSB0 (ls /dev/ttyUSB* /dev/ttyACM* lists them; PORT=... for make flash)",
            board=b.name,
        )
    project = _render(m, b, runtime, runs, profile, work)
    built = build(project, b)
    proc = subprocess.run(
        [b.toolchain, "-C", str(project), "-p", port, "flash"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise ToolchainError(
            f"{b.toolchain} flash to {port} failed:\n{tail}\ncheck the cable and the port, "
            "and hold BOOT while it connects if the board does not enter the bootloader",
            tool=b.toolchain,
        )
    return _SerialPort(port), built, project


# --------------------------------------------------------------------------- links


class _Link:
    """How a board's serial console is reached, and how the board is started and stopped."""

    url: str = ""

    def start(self, port: Any) -> None:
        """Let the board run once its port is open."""

    def close(self) -> None:
        """Stop whatever runs the board (idempotent)."""

    def diagnosis(self) -> str:
        """What the board's runner said, to append to an error message ('' if nothing)."""
        return ""


class _SerialPort(_Link):
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


_LIVE: set[subprocess.Popen] = set()


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(_LIVE):
        _stop_process(proc, grace=0.5)


def _stop_process(proc: subprocess.Popen, grace: float) -> None:
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
        _LIVE.discard(proc)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class _PtyProcess(_Link):
    """A program whose stdin/stdout are the master of a pseudo-terminal; the slave is the port.

    The slave is put in raw mode, so nothing the program writes is echoed back to it or
    translated, and the program starts only once the port is open: pyserial discards what
    is waiting in a port when it opens it.
    """

    def __init__(self, cmd: list[str], log: Path, *, what: str) -> None:
        import tty

        self.cmd = cmd
        self.what = what
        self.log = log
        self.proc: subprocess.Popen | None = None
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.url = os.ttyname(self._slave)

    def start(self, port: Any) -> None:
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
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
        _LIVE.add(self.proc)

    def _close_fds(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    def close(self) -> None:
        self._close_fds()
        if self.proc is not None:
            _stop_process(self.proc, grace=2.0)

    def diagnosis(self) -> str:
        code = None
        if self.proc is not None:
            try:  # a vanished port usually means the program is exiting right now
                code = self.proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                code = None
        said = _tail(self.log)
        if code is None and not said:
            return ""
        state = f"{self.what} exited with code {code}" if code is not None else self.what
        return f" ({state}{'; it said:' + chr(10) + said if said else ''})"


class _Qemu(_Link):
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
        _LIVE.add(self.proc)
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
                    f"controlled; it said:\n{_tail(self.log)}\ncommand: {' '.join(self.cmd)}",
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
                        f"{_tail(self.log)}",
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
                    f"{QEMU} closed its control socket; it said:\n{_tail(self.log)}", tool=QEMU
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
        _stop_process(self.proc, grace=3.0)
        shutil.rmtree(self._dir, ignore_errors=True)

    def diagnosis(self) -> str:
        said = _tail(self.log)
        code = self.proc.poll()
        if not said and code is None:
            return ""
        state = f"QEMU exited with code {code}" if code is not None else "QEMU"
        return f" ({state}{'; it said:' + chr(10) + said if said else ''})"


# --------------------------------------------------------------------------- TFLM host board


def _tflm_board(model_path: str, runs: int, board: str = "host") -> None:
    """Be a board: the TFLM interpreter speaking protocol v1 on stdin/stdout (a pty)."""
    from .protocol import VERSION, parse_line
    from .reference import Reference

    out = sys.stdout.buffer

    def emit(kind: str, **fields: Any) -> None:
        text = " ".join([f"TFLE {VERSION} {kind}", *(f"{k}={v}" for k, v in fields.items())])
        out.write(text.encode("ascii") + b"\n")
        out.flush()

    ref = Reference(model_path)
    m = ref.model
    t_in, t_out = m.input_tensors[0], m.output_tensors[0]
    arena = ref.arena()
    emit(
        "hello",
        board=board,
        runtime="tflm",
        model=m.sha256[:8],
        ram=arena.total,
        flash=len(m.data),
        clock_hz=_HOST_CLOCK_HZ,
        in_bytes=t_in.nbytes,
        out_bytes=t_out.nbytes,
    )

    def invoke(x: np.ndarray) -> tuple[bytes, int]:
        start = time.perf_counter_ns()
        y = ref.run_one(x)
        elapsed = time.perf_counter_ns() - start
        return np.ascontiguousarray(y).tobytes(), elapsed

    x = known_input(m)
    for i in range(runs):
        y, ns = invoke(x)
        emit("run", i=i, cycles=ns, us=round(ns / 1000))
        emit("out", i=i, crc32=f"{zlib.crc32(y):08x}")
    emit("done", runs=runs)
    emit("ready")
    answered = 0
    for line in sys.stdin.buffer:
        try:
            record = parse_line(line)
        except ProtocolError:
            emit("error", msg="bad_hex")
            continue
        if record is None or record.kind != "in":
            continue
        data = record.payload
        if record["n"] != t_in.nbytes or len(data) != t_in.nbytes:
            emit("error", msg="bad_length" if record["n"] != t_in.nbytes else "bad_hex")
            continue
        y, ns = invoke(np.frombuffer(data, dtype=t_in.dtype).reshape(t_in.shape))
        emit("result", i=answered, cycles=ns, crc32=f"{zlib.crc32(y):08x}", hex=y.hex())
        answered += 1


def _main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tflite_edge.flasher")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("tflm-board", help="the TFLM interpreter as a board on stdin/stdout")
    p.add_argument("model")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--board", default="host")
    args = parser.parse_args(argv)
    try:
        _tflm_board(args.model, args.runs, args.board)
    except (TFLiteEdgeError, ModelError) as err:
        print(f"tflm-board: error: {err}", file=sys.stderr)
        return 2
    except (BrokenPipeError, OSError):
        return 0  # the host closed the terminal
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
