"""`monitor()`: read a board's TFLE records into a Session until it is done."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import TFLiteEdgeError, check_runs
from .port import DEFAULT_BAUD, DEFAULT_TIMEOUT, open_port, port_name, read_records
from .records import Record
from .session import Session

if TYPE_CHECKING:  # pyserial is imported when a port is opened, not with the package
    import serial


def monitor(
    port: str | serial.SerialBase,
    *,
    baud: int = DEFAULT_BAUD,
    runs: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    out: str | Path | None = None,
    on_record: Callable[[Record], None] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> Session:
    """Read a board's TFLE records until `done` (or `ready`, or `runs` complete runs).

    `port` is a device path or pyserial URL (opened at `baud` and closed again), or an open
    port (left open, so `send_input` can follow). A run counts as complete once its `out`
    record arrived. `timeout` is how long the board may stay silent; `out` is a JSONL file
    each record is appended to as it arrives.
    """
    check_runs(runs, optional=True)
    if out is not None and not Path(out).parent.is_dir():
        raise TFLiteEdgeError(
            f"cannot write the record log {out}: folder {Path(out).parent} does not exist"
        )
    own = isinstance(port, (str, Path))
    if not own and not hasattr(port, "read_until"):
        raise TFLiteEdgeError(
            f"port must be a device path, a pyserial URL or an open serial port, found "
            f"{type(port).__name__}; e.g. /dev/ttyUSB0 or socket://localhost:4000"
        )
    ser = open_port(str(port), baud) if own else port
    session = Session(port=port_name(ser))

    def take(record: Record) -> None:
        session.add(record)
        if on_record:
            on_record(record)

    def finished(record: Record) -> bool:
        if record.kind in ("done", "ready"):
            return True
        if runs is None or record.kind != "out" or len(session.runs) < runs:
            return False
        return record["i"] == session.runs[runs - 1]["i"]

    try:
        read_records(
            ser,
            until=finished,
            timeout=timeout,
            jsonl=out,
            on_record=take,
            on_garbled=session.garbled.append,
            on_line=on_line,
        )
    finally:
        if own:
            ser.close()
    if runs is not None:
        keep = {r["i"] for r in session.runs[:runs]}
        session.runs = session.runs[:runs]
        session.layers = [r for r in session.layers if r["i"] in keep]
        session.outs = [r for r in session.outs if r["i"] in keep]
    return session
