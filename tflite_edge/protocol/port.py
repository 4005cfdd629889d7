"""Serial ports: open one, read TFLE records from it, send it an input tensor.

Every port is opened with `serial.serial_for_url()`, so a USB adapter (`/dev/ttyUSB0`), a
pseudo-terminal (`/dev/pts/3`, what QEMU and the host board give us), `loop://`,
`socket://host:port` and `rfc2217://host:port` all work the same way.

`read_records` hands each garbled TFLE line to `on_garbled`, writes it to the JSONL log with
kind "garbled" and goes on reading, so that one bad line never hides the good ones around it
while still being reported.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..errors import ProtocolError, SerialError, TFLiteEdgeError, check_timeout
from .records import Garbled, Record, clip, format_record, parse_line

if TYPE_CHECKING:  # pyserial is imported when a port is opened, not with the package
    import serial

DEFAULT_BAUD = 115200
DEFAULT_TIMEOUT = 30.0
PYSERIAL_HINT = (
    "This error originates from pySerial. It is likely not a problem with tflite-edge, "
    "but with the port, the cable or the drivers."
)
# A line longer than this without a newline is noise (a wrong baud rate, a binary dump).
MAX_LINE = 64 * 1024
# How long one read may block, so that a timeout or Ctrl-C is noticed promptly.
POLL_S = 0.05

# --------------------------------------------------------------------------- ports


def open_port(url: str, baud: int = DEFAULT_BAUD, timeout: float = POLL_S) -> serial.SerialBase:
    """Open a serial port or pyserial URL (`/dev/ttyUSB0`, a pty, `loop://`, `socket://...`).

    `timeout` is pyserial's per-read timeout. Raises SerialError with what to do when the
    port cannot be opened or the URL is not one pyserial understands.
    """
    import serial

    if not isinstance(baud, int) or baud <= 0:
        raise SerialError(f"baud rate must be a positive integer, found {baud!r}", port=url)
    try:
        return serial.serial_for_url(url, baudrate=baud, timeout=timeout)
    except ValueError as err:  # pyserial's message states the form it expected
        raise SerialError(
            f"cannot open serial port {url!r}: {err}; pass a device path (/dev/ttyUSB0, "
            "/dev/pts/N, COM3) or a pyserial URL (socket://HOST:PORT, rfc2217://HOST:PORT, "
            "loop://)",
            port=url,
        ) from err
    except (serial.SerialException, OSError) as err:
        raise SerialError(
            f"cannot open serial port {url!r}: {err}; check that the board is plugged in, "
            "that the port name is right (ls /dev/tty*), that no other program (a terminal, "
            "idf.py monitor) holds it, and that you may use it (the dialout group). "
            f"{PYSERIAL_HINT}",
            port=url,
        ) from err


def port_name(port: Any) -> str:
    """A name for `port` in messages: its URL or device path."""
    return str(getattr(port, "port", None) or getattr(port, "name", None) or port)


def read_records(
    port: serial.SerialBase,
    *,
    until: Callable[[Record], bool] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    jsonl: str | Path | IO[str] | None = None,
    on_record: Callable[[Record], None] | None = None,
    on_garbled: Callable[[Garbled], None] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> list[Record]:
    """Read TFLE records from an open port until `until(record)` is true; return them all.

    `until` defaults to stopping at a `done` record. `timeout` is how long the board may stay
    silent: SerialError when no record arrives for that many seconds. Each record (and each
    garbled line) is appended to `jsonl` (a path, opened in append mode, or an open text
    file) and flushed as it arrives, so an interrupted read loses nothing. `on_record` sees
    every record, `on_garbled` every garbled TFLE line, `on_line` every other line. Bytes
    are read up to the newline of the stopping record and no further, so the next call (or
    `send_input`) finds the rest. SerialError when the port vanishes (unplugged, the
    emulator stopped, the other end of a pty closed).
    """
    import serial

    check_timeout(timeout)
    stop = until or (lambda r: r.kind == "done")
    name = port_name(port)
    records: list[Record] = []
    garbled: list[Garbled] = []
    received = 0
    other_lines: list[str] = []
    buf = bytearray()
    existed = jsonl is not None and not hasattr(jsonl, "write") and Path(jsonl).exists()
    log, own_log = _open_log(jsonl)
    saved_timeout = port.timeout
    first = True
    try:
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:  # silence, or only noise and garbled lines
                raise _silence(name, timeout, records, garbled, received, other_lines)
            try:
                if first:  # a pty that hung up already fails here, as it would on a read
                    port.timeout = min(POLL_S, timeout)
                    first = False
                chunk = port.read_until(b"\n", MAX_LINE)
            except (serial.SerialException, OSError) as err:
                raise SerialError(
                    f"serial port {name} vanished while reading: {err}; was the board "
                    "unplugged or reset, or did the emulator stop? "
                    f"{len(records)} TFLE records were read before. {PYSERIAL_HINT}",
                    port=name,
                ) from err
            received += len(chunk)
            buf += chunk
            if not buf.endswith(b"\n"):
                if len(buf) >= MAX_LINE:
                    buf.clear()  # no newline in sight: noise, not a record
                continue
            line, buf = bytes(buf), bytearray()
            try:
                record = parse_line(line)
            except ProtocolError as err:
                bad = err.garbled
                garbled.append(bad)
                _log(log, bad.to_dict())
                if on_garbled:
                    on_garbled(bad)
                continue
            if record is None:
                text = line.rstrip(b"\r\n").decode("utf-8", "backslashreplace")
                other_lines.append(text)
                del other_lines[:-3]
                if on_line:
                    on_line(text)
                continue
            records.append(record)
            deadline = time.monotonic() + timeout
            _log(log, record.to_dict())
            if on_record:
                on_record(record)
            if stop(record):
                return records
    finally:
        if own_log and log is not None:
            empty = log.tell() == 0
            log.close()
            if empty and not existed:  # nothing was read: leave no empty log behind
                Path(log.name).unlink(missing_ok=True)
        try:
            port.timeout = saved_timeout
        except (serial.SerialException, OSError, ValueError):
            pass  # the port is gone; the error that says so is already on its way


def _open_log(jsonl: str | Path | IO[str] | None) -> tuple[IO[str] | None, bool]:
    if jsonl is None:
        return None, False
    if hasattr(jsonl, "write"):
        return jsonl, False  # type: ignore[return-value]
    path = Path(jsonl)
    try:
        return path.open("a", encoding="utf-8"), True
    except OSError as err:
        raise TFLiteEdgeError(
            f"cannot append the record log to {path}: {err}; pass a log file (monitor --out, "
            "flash --log) in an existing, writable folder"
        ) from err


def _log(log: IO[str] | None, doc: dict[str, Any]) -> None:
    if log is not None:
        log.write(json.dumps(doc, sort_keys=True) + "\n")
        log.flush()


def _silence(
    name: str,
    timeout: float,
    records: list[Record],
    garbled: list[Garbled],
    received: int,
    other: list[str],
) -> SerialError:
    if records:
        msg = (
            f"no TFLE record from {name} for {timeout:g} s after the last one "
            f"({records[-1].raw!r}, {len(records)} records read); the board may have hung, "
            "reset or finished without a done line; raise --timeout for a slow model"
        )
    else:
        msg = (
            f"no TFLE record from {name} in {timeout:g} s; check the baud rate, the port, "
            "that the board is flashed with tflite-edge firmware and running (press reset)"
        )
    if garbled:
        msg += (
            f"; {len(garbled)} TFLE lines could not be parsed, the last because "
            f"{garbled[-1].reason}"
        )
    elif received and not records:
        msg += (
            f"; {received} bytes arrived but none formed a TFLE line "
            "(a wrong baud rate looks like this)"
        )
        if other:
            msg += f", the last line was {clip(other[-1], 80)!r}"
    return SerialError(msg, port=name)


# --------------------------------------------------------------------------- host to board


def send_input(
    port: serial.SerialBase,
    data: bytes,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    out_bytes: int | None = None,
    jsonl: str | Path | IO[str] | None = None,
) -> Record:
    """Send one input tensor (`TFLE 1 in n=.. hex=..`) and return the board's `result` record.

    ProtocolError when the board answers with an `error` record, or with a `result` whose
    hex is malformed, whose CRC32 does not match its bytes, or whose length is not
    `out_bytes` (when given). SerialError on silence for `timeout` s or a vanished port.
    """
    import serial

    data = bytes(data)
    name = port_name(port)
    line = (format_record("in", n=len(data), hex=data.hex()) + "\n").encode("ascii")
    saved_write_timeout = port.write_timeout
    try:
        port.write_timeout = timeout  # a hung board stops reading; do not block forever
        port.write(line)
        port.flush()
    except (serial.SerialException, OSError) as err:
        raise SerialError(
            f"cannot write the input to {name}: {err}; is the board still connected and "
            f"reading? {PYSERIAL_HINT}",
            port=name,
        ) from err
    finally:
        try:
            port.write_timeout = saved_write_timeout
        except (serial.SerialException, OSError, ValueError):
            pass  # the port is gone; the error that says so is already on its way

    def refuse_garbled(bad: Garbled) -> None:
        if bad.kind in ("result", "error"):
            raise ProtocolError(
                f"the board's answer to an input of {len(data)} bytes is garbled: {bad.reason} "
                f"(line {clip(bad.raw)!r}); check the link (baud rate, cable)",
                port=name,
            )

    records = read_records(
        port,
        until=lambda r: r.kind in ("result", "error"),
        timeout=timeout,
        jsonl=jsonl,
        on_garbled=refuse_garbled,
    )
    answer = records[-1]
    if answer.kind == "error":
        raise ProtocolError(
            f"the board rejected an input of {len(data)} bytes: msg={answer['msg']}"
            f"{_ERROR_HINTS.get(answer['msg'], '')}",
            port=name,
        )
    payload = answer.payload
    crc = f"{zlib.crc32(payload):08x}"
    if crc != answer["crc32"]:
        raise ProtocolError(
            f"result i={answer['i']} says crc32={answer['crc32']} but its {len(payload)} "
            f"output bytes have crc32 {crc}; the line was damaged on the link",
            port=name,
        )
    if out_bytes is not None and len(payload) != out_bytes:
        raise ProtocolError(
            f"result i={answer['i']} carries {len(payload)} output bytes, expected "
            f"{out_bytes} (the board's out_bytes); is the board running this model?",
            port=name,
        )
    return answer


_ERROR_HINTS = {
    "bad_length": "; the board expects in_bytes input bytes (see its hello line): is it "
    "running this model?",
    "bad_hex": "; the command was damaged on the way to the board (check the baud rate)",
    "line_too_long": "; the input does not fit the board's command buffer",
}
