"""Flash a model onto a board, read its measurements over serial, run inputs on it.

`flash()` renders the firmware project, builds it, puts it on the board and monitors the
serial port until the board has reported its timed runs; `run()` sends input tensors to a
flashed board and returns the raw outputs it sends back. Both go through `start()`, which
returns a `Device`: the booted board with its serial port open.

How a board is flashed and reached over serial is its family's business
(tflite_edge.boards.families: qemu, host, esp-idf); a runtime that needs no firmware on a
family says so (tflite_edge.runtimes: with `runtime="tflm"` the host board is the one C
harness with a model side that runs the tflite-micro interpreter in an embedded Python, behind
the same kind of pty, so TFLM and AOT figures come through the same monitor).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from .boards import DEFAULT_BOARD, Board, family_of, get_board
from .boards.links import Link
from .builder import BuildResult, build
from .data import split_samples
from .errors import (
    ArenaError,
    BoardError,
    DataError,
    OutputExistsError,
    ProtocolError,
    SerialError,
    TFLiteEdgeError,
    check_runs,
    check_timeout,
)
from .model import Model, load_model
from .model.reader import known_inputs
from .results import FlashResult
from .runtimes import AUTO, RuntimeOptions, choose_runtime, get_runtime, runtime_names

__all__ = ["Device", "FlashResult", "flash", "run", "start"]

RUNTIMES = runtime_names()
DEFAULT_TIMEOUT = 60.0  # seconds a board may stay silent while it boots and runs
# Error records after which a board will say nothing more.
FATAL_ERRORS = ("hard_fault", "fault", "unexpected_interrupt")
# TFLM's log line when an arena is too small: "Failed to resize buffer. Requested: 20464,
# available 19964, missing: 500" (and the same for tail or persistent memory).
_MISSING = re.compile(r"\bmissing: (\d+)")
ARENA_RETRIES = 3  # re-renders with the arena TFLM asked for, before giving up


# --------------------------------------------------------------------------- public API


def flash(
    model: str | Path | bytes | Model,
    *,
    board: str | Board = DEFAULT_BOARD,
    runtime: str = AUTO,
    port: str | None = None,
    runs: int = 10,
    profile: bool = True,
    out_dir: str | Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    jsonl: str | Path | IO[str] | None = None,
    on_record: Callable[[Any], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
    tflm_dir: str | Path | None = None,
    tflm_kernels: str | None = None,
) -> FlashResult:
    """Render, build and flash `model` on `board`, then read its timed runs over serial.

    `out_dir` keeps the rendered project and its build (a temporary folder otherwise);
    `timeout` is how long the board may stay silent; `jsonl` receives every record as it
    arrives; `port` is the serial port of a physical board (esp32, esp32s3). runtime "auto"
    takes aot when the AOT compiler handles every op, else tflm; `tflm_dir` is the
    tflite-micro tree TFLM is built from (default $TFLM_DIR), `tflm_kernels` its kernels.
    """
    with start(
        model,
        board=board,
        runtime=runtime,
        tflm_dir=tflm_dir,
        tflm_kernels=tflm_kernels,
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
    inputs: Any,
    *,
    board: str | Board = DEFAULT_BOARD,
    runtime: str = AUTO,
    port: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    out_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    tflm_dir: str | Path | None = None,
    tflm_kernels: str | None = None,
) -> np.ndarray:
    """Run each input (first axis) on the board; its raw outputs, stacked the same way.

    Inputs must have the model's input dtype (quantized int8 for an int8 model, float32 for
    a float one) and split into samples of its input shape; outputs have the model's output
    dtype and shape (N, *output_shape[1:]), exactly the bytes the board sent back. A model of
    several inputs takes one array per input (a list in order, or a dict by tensor name or
    position) and, like one of several outputs, gives a list of arrays, one per output.
    """
    m = load_model(model)
    xs = _samples(m, inputs)
    with start(
        m,
        board=board,
        runtime=runtime,
        tflm_dir=tflm_dir,
        tflm_kernels=tflm_kernels,
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
    family = family_of(b)
    if family.physical:
        raise BoardError(
            f"boot() runs images on emulated and host boards; board {b.name} is flashed by "
            f"{b.flasher}: use flash()",
            board=b.name,
        )
    m = load_model(model)
    link = family.open_image(b, built.image, built.project_dir)
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
    runtime: str = AUTO,
    port: str | None = None,
    runs: int = 10,
    profile: bool = True,
    out_dir: str | Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    jsonl: str | Path | IO[str] | None = None,
    on_record: Callable[[Any], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
    tflm_dir: str | Path | None = None,
    tflm_kernels: str | None = None,
) -> Device:
    """Flash and boot `model` on `board` and read its boot records; the Device stays open.

    Use it as a context manager (`with start(...) as device:`): `device.result` holds the
    FlashResult, `device.infer(xs)` runs inputs, and leaving the block stops the emulator or
    the host process.
    """
    b = get_board(board)
    if runtime != AUTO:
        get_runtime(runtime)  # an unknown runtime is refused with the known ones
    check_runs(runs)
    check_timeout(timeout)
    for name, fn in (("on_record", on_record), ("on_stage", on_stage)):
        if fn is not None and not callable(fn):
            raise TFLiteEdgeError(f"{name} must be a function or None, found {fn!r}")
    if jsonl is not None and not (isinstance(jsonl, (str, Path)) or hasattr(jsonl, "write")):
        raise TFLiteEdgeError(
            f"jsonl must be a path or an open text file for the record log, found {jsonl!r}"
        )
    if port is not None and not family_of(b).physical:
        raise BoardError(
            f"board {b.name} runs on this machine ({b.description}); --port is for physical "
            "boards (esp32, esp32s3). Leave it out, or read a running board with "
            "`tflite-edge monitor --port PORT`",
            board=b.name,
        )
    m = load_model(model)
    known_inputs(m)  # an input of a type the harness cannot feed fails here, before any build
    stage = on_stage or (lambda _msg: None)
    runtime, reason = choose_runtime(runtime, m)
    if reason:
        stage(f"runtime {reason}")
    options = RuntimeOptions(tflm_dir=tflm_dir, tflm_kernels=tflm_kernels)
    get_runtime(runtime).preflight(b, options)  # a missing TFLM tree, before any build
    work = _Workdir(out_dir)
    link: Link | None = None
    device: Device | None = None
    try:
        for attempt in range(ARENA_RETRIES + 1):
            link, built, project = _bring_up(
                m, b, runtime, options, port, runs, profile, work, stage
            )
            device = Device(m, b, runtime, link, work, timeout, jsonl, built, project)
            device.runtime_reason = reason
            stage(f"reading the boot records of {b.name} over serial")
            try:
                device.boot(on_record)
                return device
            except ArenaError as err:
                if err.missing is None or err.declared is None or attempt == ARENA_RETRIES:
                    raise
                # what it asked for, and a little more: the next allocation may be short too
                bigger = _round16(err.declared + err.missing + err.declared // 50)
                stage(f"TFLM on {b.name} asked for {err.missing} B more arena than measured on "
                      f"the host (its kernels' scratch): rebuilding with {bigger} B")  # fmt: skip
                device.close(keep_work=True)
                link = device = None
                options = RuntimeOptions(options.tflm_dir, options.tflm_kernels, bigger)
        raise AssertionError("unreachable")
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
        link: Link,
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
        self.runtime_reason: str | None = None  # why --runtime auto chose the runtime

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
            if record.kind == "error" and (record["msg"] in FATAL_ERRORS or not session.hello):
                return True  # a fault, or the model side's setup failed: nothing more comes
            return record.kind in ("done", "ready")

        other: list[str] = []  # what is not a record: TFLM's own log lines among them
        try:
            records = read_records(
                self.port,
                until=finished,
                timeout=self.timeout,
                jsonl=self._jsonl,
                on_record=take,
                on_garbled=session.garbled.append,
                on_line=other.append,
            )
        except SerialError as err:
            raise SerialError(f"{err}{self._link.diagnosis()}", port=err.port) from err
        except (OSError, serial.SerialException) as err:  # a pty hung up while configured
            raise self._vanished(err) from err
        last = records[-1]
        if last.kind == "error" and last["msg"] == "allocate_tensors_failed":
            raise self._arena_error(other)
        if last.kind == "error":
            watch = (
                f"`make -C {self._project} console` boots it with the console on your terminal"
                if self._project is not None and self._work.kept
                else "flash again with --out DIR to keep the project, then `make -C DIR console` "
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
            tflm_crc32s=_tflm_crc32s(self.model),
            tflm_arena=_tflm_arena(self.model),
            runtime_reason=self.runtime_reason,
        )
        return self.result

    def _arena_error(self, lines: list[str]) -> ArenaError:
        """allocate_tensors_failed: how much TFLM said it lacked ("missing: N") and what to do."""
        found = [int(m.group(1)) for m in map(_MISSING.search, lines) if m]
        missing = found[-1] if found else None
        declared = _declared_arena(self._project)
        lacks = f", {missing} B short" if missing is not None else ""
        return ArenaError(
            f"TFLM on {self.board.name} could not fit {self.model.name}'s tensors in its arena "
            f"of {declared if declared is not None else '?'} B{lacks} (optimized kernels ask "
            "for scratch buffers the host's reference kernels do not); render with a larger "
            "arena (render(..., tflm_arena_bytes=N)) or use --tflm-kernels reference",
            board=self.board.name,
            declared=declared,
            missing=missing,
        )

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
        in_bytes = sum(t.nbytes for t in self.model.input_tensors)
        out_bytes = sum(t.nbytes for t in self.model.output_tensors)
        counts = (len(self.model.inputs), len(self.model.outputs))
        said = (hello.get("inputs", counts[0]), hello.get("outputs", counts[1]))
        if (hello.get("in_bytes"), hello.get("out_bytes")) != (
            in_bytes,
            out_bytes,
        ) or said != counts:
            raise ProtocolError(
                f"the board takes {hello.get('in_bytes')} input and gives "
                f"{hello.get('out_bytes')} output bytes ({said[0]} inputs, {said[1]} outputs); "
                f"{self.model.name} has {in_bytes} and {out_bytes} ({counts[0]} and {counts[1]})",
                port=self._link.url,
            )

    @property
    def multi(self) -> bool:
        """More than one input or output: infer() takes and gives lists of arrays."""
        return len(self.model.inputs) > 1 or len(self.model.outputs) > 1

    def infer(
        self,
        inputs: Any,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> Any:
        """Send each input to the board and return its raw outputs, stacked (N, *out[1:]);
        several inputs go as one batch per input (list or dict), several outputs come back
        as a list of batches, one per output (protocol/tensors.py packs and unpacks them)."""
        import serial

        from .protocol import send_input
        from .protocol.tensors import input_layout, output_layout, pack, unpack

        xs = _samples(self.model, inputs)
        ins, outs_layout = input_layout(self.model), output_layout(self.model)
        out_bytes = sum(t.nbytes for t in outs_layout)
        n = len(xs[0])
        outs: list[list[np.ndarray]] = [[] for _ in outs_layout]
        for k in range(n):
            try:
                record = send_input(
                    self.port,
                    pack([x[k] for x in xs], ins),
                    timeout=self.timeout,
                    out_bytes=out_bytes,
                    jsonl=self._jsonl,
                )
            except SerialError as err:
                raise type(err)(f"{err}{self._link.diagnosis()}", port=err.port) from err
            except (OSError, serial.SerialException) as err:
                raise self._vanished(err) from err
            if self.result is not None:
                self.result.session.add(record)
            for j, y in enumerate(unpack(record.payload, outs_layout)):
                outs[j].append(y.reshape(outs_layout[j].shape[1:]))
            if progress is not None:
                progress(k + 1, n)
        stacked = [
            np.stack(o) if o else np.zeros((n, *t.shape[1:]), t.dtype)
            for o, t in zip(outs, outs_layout, strict=True)
        ]
        return stacked if self.multi else stacked[0]

    def close(self, *, keep_work: bool = False) -> None:
        """Close the port and stop the emulator or host process (idempotent); the temporary
        folder goes too, unless `keep_work` (the project is built again in it)."""
        try:
            if self.port is not None:
                self.port.close()
                self.port = None
        finally:
            self._link.close()
            if not keep_work:
                self._work.cleanup()

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _round16(n: int) -> int:
    return (n + 15) // 16 * 16


def _declared_arena(project: Path | None) -> int | None:
    """The arena a rendered TFLM project declared (its manifest), None if unknown."""
    try:
        return int(json.loads((project / "tflite-edge.json").read_text())["arena_bytes"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _tflm_arena(model: Model) -> dict[str, int] | None:
    """TFLM's arena for the model, measured with the interpreter (None if TFLM cannot run it)."""
    from .reference import measure_arena

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
        return Reference(model).output_crc32()
    except TFLiteEdgeError:
        return None


def _tflm_crc32s(model: Model) -> list[str] | None:
    """Several outputs: the CRC32 of each of TFLM's outputs on the known inputs (None for one
    output, or if TFLM cannot run the model)."""
    from .reference import Reference, crc32

    if len(model.outputs) < 2:
        return None
    try:
        return [crc32(np.ascontiguousarray(y).tobytes()) for y in Reference(model).known_outputs()]
    except TFLiteEdgeError:
        return None


def _samples(model: Model, inputs: Any) -> list[np.ndarray]:
    """One batch (N, *sample shape) per model input, as it came: a transposed or flattened
    array is refused."""
    from .protocol.tensors import feeds

    if len(model.inputs) == 1 and isinstance(inputs, np.ndarray):
        t = model.input_tensors[0]
        xs = np.asarray(inputs)
        if xs.dtype != t.dtype:
            raise DataError(
                f"inputs have dtype {xs.dtype}, model {model.name!r} takes {np.dtype(t.dtype)}; "
                + (
                    "quantize them with the input tensor's scale and zero point first"
                    if np.issubdtype(t.dtype, np.integer)
                    else f"pass {np.dtype(t.dtype)} values"
                )
            )
        return [np.ascontiguousarray(split_samples(model, xs, what="inputs"))]
    return feeds(model, inputs)


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
    options: RuntimeOptions,
    port: str | None,
    runs: int,
    profile: bool,
    work: _Workdir,
    stage: Callable[[str], None],
) -> tuple[Link, BuildResult | None, Path | None]:
    process = get_runtime(runtime).board_process(
        b, m, runs, work.path, lambda ours: _check_own_files(work, ours), options
    )
    if process is not None:  # the runtime itself is the board: nothing to build
        return process, None, None
    return family_of(b).bring_up(
        b,
        runtime,
        port=port,
        render=lambda: _render(m, b, runtime, options, runs, profile, work),
        build=lambda project: build(
            project,
            b,
            tflm_dir=options.tflm_dir,
            tflm_kernels=options.tflm_kernels,
            progress=stage,
        ),  # fmt: skip
        stage=stage,
    )


def _check_own_files(work: _Workdir, ours: list[str]) -> None:
    """A kept out_dir may hold only the files named (those a board process writes there)."""
    if work.kept and work.path.is_dir():
        foreign = sorted(f.name for f in work.path.iterdir() if f.name not in ours)
        if foreign:
            raise _foreign_out_dir(work.path, ", ".join(foreign[:3]))


def _render(
    m: Model,
    b: Board,
    runtime: str,
    options: RuntimeOptions,
    runs: int,
    profile: bool,
    work: _Workdir,
) -> Path:
    from .project import render

    project = work.path
    try:
        render(m, board=b, runtime=runtime, out_dir=project, runs=runs, profile=profile,
               name=m.name, tflm_dir=options.tflm_dir, tflm_kernels=options.tflm_kernels,
               tflm_arena_bytes=options.tflm_arena_bytes)  # fmt: skip
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
