"""The TFLE serial protocol (firmware/harness/PROTOCOL.md): parse records, read them from a port.

Every port is opened with `serial.serial_for_url()`, so a USB adapter (`/dev/ttyUSB0`), a
pseudo-terminal (`/dev/pts/3`, what QEMU and the host board give us), `loop://`,
`socket://host:port` and `rfc2217://host:port` all work the same way.

Lines that do not carry a TFLE record (boot ROM chatter, ESP-IDF logs, garbage at the wrong
baud rate) are ignored. A line that does carry one but cannot be parsed (unknown version or
kind, a missing or malformed field, a record cut short by a reset) is *garbled*:
`parse_line` raises ProtocolError for it, and `read_records` hands it to `on_garbled`,
writes it to the JSONL log with kind "garbled" and goes on reading, so that one bad line
never hides the good ones around it while still being reported.
"""

from __future__ import annotations

import json
import re
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .errors import ProtocolError, SerialError, TFLiteEdgeError, check_runs, check_timeout

if TYPE_CHECKING:  # pyserial is imported when a port is opened, not with the package
    import serial

VERSION = 1
DEFAULT_BAUD = 115200
DEFAULT_TIMEOUT = 30.0

# Required fields per record kind in version 1; a record may carry more (kept as found).
KINDS: dict[str, tuple[str, ...]] = {
    "hello": ("board", "runtime", "model", "ram", "flash", "clock_hz", "in_bytes", "out_bytes"),
    "run": ("i", "cycles", "us"),
    "layer": ("i", "idx", "op", "cycles"),
    "out": ("i", "crc32"),
    "done": ("runs",),
    "ready": (),
    "result": ("i", "cycles", "crc32", "hex"),
    "error": ("msg",),
    "in": ("n", "hex"),  # host to board; read back on loop:// and from boards that echo
}
INT_FIELDS = frozenset(
    {"i", "cycles", "us", "idx", "ram", "flash", "clock_hz", "in_bytes", "out_bytes", "runs", "n"}
)
HEX_FIELDS = frozenset({"crc32", "hex", "model"})

PYSERIAL_HINT = (
    "This error originates from pySerial. It is likely not a problem with tflite-edge, "
    "but with the port, the cable or the drivers."
)
# A line longer than this without a newline is noise (a wrong baud rate, a binary dump).
MAX_LINE = 64 * 1024
# How long one read may block, so that a timeout or Ctrl-C is noticed promptly.
POLL_S = 0.05

# No look-behind: a half line cut by a reset runs straight into the next record ("cycTFLE 1").
_RECORD_START = re.compile(rb"TFLE(?=[ \t])")
_KEY = re.compile(r"[a-z_][a-z0-9_]*\Z")
_DECIMAL = re.compile(r"[0-9]+\Z")
_HEXDIGITS = re.compile(r"[0-9a-fA-F]+\Z")


@dataclass(frozen=True)
class Record:
    """One TFLE record: its kind, its fields (decimal fields as int), the line and version."""

    kind: str
    fields: dict[str, Any]
    raw: str
    version: int = VERSION

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    @property
    def payload(self) -> bytes:
        """The bytes of the `hex` field (a `result` record's raw output, an `in` record's input)."""
        return bytes.fromhex(self.fields["hex"])

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict (one line of the JSONL log)."""
        return {"kind": self.kind, "version": self.version, "fields": self.fields, "raw": self.raw}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Record:
        """The record back from `to_dict()`."""
        return cls(doc["kind"], dict(doc["fields"]), doc["raw"], doc.get("version", VERSION))


@dataclass(frozen=True)
class Garbled:
    """A line that carries a TFLE record we could not parse, and why."""

    raw: str
    reason: str
    kind: str | None = None  # the record kind, when the line got that far

    def to_dict(self) -> dict[str, Any]:
        """The line as a JSON-ready dict, marked kind "garbled" in the JSONL log."""
        return {"kind": "garbled", "record_kind": self.kind, "reason": self.reason, "raw": self.raw}


# --------------------------------------------------------------------------- parsing


def parse_line(line: bytes | str) -> Record | None:
    """The TFLE record on `line`, None when it carries none; ProtocolError when it is garbled.

    The record may be preceded on the line by anything (a half line from before a reset, a
    log prefix); when several start on one line the last one counts, as it is the one that
    reached its newline. Decimal fields become ints; hex fields are lower-cased.
    """
    data = line.encode("utf-8", "replace") if isinstance(line, str) else bytes(line)
    data = data.rstrip(b"\r\n")
    starts = list(_RECORD_START.finditer(data))
    if not starts:
        return None
    text_bytes = data[starts[-1].start() :].rstrip(b"\r")
    raw = text_bytes.decode("ascii", "backslashreplace")
    bad = next((b for b in text_bytes if not (0x20 <= b < 0x7F or b == 0x09)), None)
    if bad is not None:
        _garbled(raw, f"byte 0x{bad:02x} is not printable ASCII (noise on the line?)")
    tokens = raw.split()
    if len(tokens) < 2:
        _garbled(raw, "no protocol version after TFLE (the line was cut short)")
    if not _DECIMAL.match(tokens[1]):
        _garbled(raw, f"protocol version {tokens[1]!r} is not a number")
    version = int(tokens[1])
    if version != VERSION:
        _garbled(
            raw,
            f"protocol version {version}, but this tflite-edge reads version {VERSION}; "
            "flash firmware built by this tflite-edge or upgrade tflite-edge",
        )
    if len(tokens) < 3:
        _garbled(raw, "no record kind after the version (the line was cut short)")
    kind = tokens[2]
    if kind not in KINDS:
        _garbled(raw, f"unknown record kind {kind!r}; version 1 has {', '.join(KINDS)}")
    fields: dict[str, Any] = {}
    for token in tokens[3:]:
        key, sep, value = token.partition("=")
        if not sep or not _KEY.match(key) or not (value or key == "hex"):  # hex= is 0 bytes
            _garbled(raw, f"{token!r} is not a key=value field", kind)
        if key in fields:
            _garbled(raw, f"field {key!r} appears twice", kind)
        fields[key] = _field_value(raw, kind, key, value)
    missing = [k for k in KINDS[kind] if k not in fields]
    if missing:
        _garbled(raw, f"{kind} record lacks {', '.join(missing)} (the line was cut short?)", kind)
    return Record(kind, fields, raw, version)


def format_record(kind: str, **fields: Any) -> str:
    """The protocol line (without newline) for a record: `TFLE 1 <kind> key=value ...`.

    For Python stand-ins of a board (the host TFLM runtime, tests); the line is checked by
    parsing it back, so a missing field or a value with a blank raises ProtocolError.
    """
    line = " ".join(["TFLE", str(VERSION), kind, *(f"{k}={v}" for k, v in fields.items())])
    parse_line(line)
    return line


def _field_value(raw: str, kind: str, key: str, value: str) -> Any:
    if key in INT_FIELDS:
        if not _DECIMAL.match(value):
            _garbled(raw, f"field {key}={value!r} is not a decimal number", kind)
        return int(value)
    if key in HEX_FIELDS:
        if value and not _HEXDIGITS.match(value):
            _garbled(raw, f"field {key}={value!r} is not hexadecimal", kind)
        if key == "crc32":
            if len(value) > 8:
                _garbled(raw, f"crc32={value!r} has more than 8 hex digits", kind)
            return value.lower().zfill(8)
        if key == "hex" and len(value) % 2:
            _garbled(raw, f"hex field has an odd number of digits ({len(value)})", kind)
        return value.lower()
    return int(value) if _DECIMAL.match(value) else value


def _garbled(raw: str, reason: str, kind: str | None = None) -> None:
    err = ProtocolError(f"garbled TFLE line {_clip(raw)!r}: {reason}")
    err.garbled = Garbled(raw, reason, kind)
    raise err


def _clip(text: str, n: int = 120) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


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
            msg += f", the last line was {_clip(other[-1], 80)!r}"
    return SerialError(msg, port=name)


# --------------------------------------------------------------------------- sessions


@dataclass
class Session:
    """What a board said during one monitor: hello, timed runs, layers, outputs, results."""

    port: str = ""
    hello: dict[str, Any] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    layers: list[dict[str, Any]] = field(default_factory=list)
    outs: list[dict[str, Any]] = field(default_factory=list)
    done: dict[str, Any] | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    garbled: list[Garbled] = field(default_factory=list)
    resets: int = 0  # hello lines after the first: the board rebooted while we listened

    def add(self, record: Record) -> None:
        """File one record; a `hello` after measurements means a reset and starts afresh."""
        kind, f = record.kind, dict(record.fields)
        if kind == "hello":
            if self.hello or self.runs or self.layers or self.outs or self.done:
                self.resets += 1
            self.hello = f
            self.runs, self.layers, self.outs, self.done = [], [], [], None
            self.results, self.errors = [], []
        elif kind == "run":
            self.runs.append(f)
        elif kind == "layer":
            self.layers.append(f)
        elif kind == "out":
            self.outs.append(f)
        elif kind == "done":
            self.done = f
        elif kind == "result":
            self.results.append(f)
        elif kind == "error":
            self.errors.append(f)

    @classmethod
    def from_records(cls, records: Iterable[Record | Garbled], port: str = "") -> Session:
        """A session built from records (and garbled lines) in the order they arrived."""
        session = cls(port=port)
        for item in records:
            if isinstance(item, Garbled):
                session.garbled.append(item)
            else:
                session.add(item)
        return session

    @classmethod
    def from_jsonl(cls, path: str | Path) -> Session:
        """A session read back from a JSONL record log written by `read_records`."""
        items: list[Record | Garbled] = []
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise TFLiteEdgeError(f"cannot read the record log {path}: {err}") from err
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
                if doc["kind"] == "garbled":
                    items.append(Garbled(doc["raw"], doc["reason"], doc.get("record_kind")))
                else:
                    items.append(Record.from_dict(doc))
            except (ValueError, KeyError, TypeError) as err:
                raise TFLiteEdgeError(
                    f"{path}:{n} is not a tflite-edge record log line ({err}); expected the "
                    "JSONL written by `tflite-edge monitor --out`"
                ) from err
        return cls.from_records(items, port=str(path))

    @property
    def clock_hz(self) -> int:
        """The board's nominal clock from its hello line (0 when unknown)."""
        return int(self.hello.get("clock_hz", 0) or 0)

    def latency(self) -> dict[str, Any]:
        """Run count and min/median/p90/max of the timed runs, in cycles and in us."""
        return {
            "runs": len(self.runs),
            "cycles": _stats([r["cycles"] for r in self.runs]),
            "us": _stats([r["us"] for r in self.runs if "us" in r]),
        }

    def layers_summary(self) -> list[dict[str, Any]]:
        """Per layer (by idx): op, runs seen, median cycles, share of the sum of the medians."""
        import numpy as np

        by_idx: dict[int, list[dict[str, Any]]] = {}
        for rec in self.layers:
            by_idx.setdefault(rec["idx"], []).append(rec)
        rows = []
        for idx in sorted(by_idx):
            recs = by_idx[idx]
            median = float(np.median([r["cycles"] for r in recs]))
            rows.append({"idx": idx, "op": recs[0]["op"], "runs": len(recs), "cycles": median})
        total = sum(r["cycles"] for r in rows)
        for row in rows:
            row["share"] = row["cycles"] / total if total else 0.0
        return rows

    @property
    def output_crc32(self) -> str | None:
        """The CRC32 of the output when every timed run agrees on it, else None."""
        crcs = {o["crc32"] for o in self.outs}
        return crcs.pop() if len(crcs) == 1 else None

    def table(self, emulated: bool | None = None) -> str:
        """A plain-text latency table: runs, min/median/p90/max in cycles and us, per layer.

        On emulated boards cycles are labelled as emulated instruction counts and us as an
        estimate at the board's nominal clock. `emulated=None` asks the board registry about
        the board named in the hello line.
        """
        if emulated is None:
            emulated = _board_is_emulated(self.hello.get("board"))
        lat = self.latency()
        h = self.hello
        head = (
            ", ".join(f"{k} {h[k]}" for k in ("board", "runtime", "model") if k in h)
            or f"unknown board (no hello line from {self.port or 'the port'})"
        )
        lines = [f"{head}: {lat['runs']} timed runs"]
        if h.get("ram") is not None or h.get("flash") is not None:
            lines.append(f"ram {h.get('ram', '?')} bytes, flash {h.get('flash', '?')} bytes")
        if lat["runs"]:
            mhz = f"{self.clock_hz / 1e6:g} MHz" if self.clock_hz else "the nominal clock"
            cyc = "cycles (emulated instruction counts)" if emulated else "cycles"
            us = f"us (estimate at {mhz})" if emulated else "us"
            width = max(len(cyc), len(us))
            cols = ("min", "median", "p90", "max")
            lines.append(f"{'':<{width}}  " + "  ".join(f"{c:>12}" for c in cols))
            for label, stats in ((cyc, lat["cycles"]), (us, lat["us"])):
                if stats is not None:
                    lines.append(
                        f"{label:<{width}}  " + "  ".join(f"{_num(stats[c]):>12}" for c in cols)
                    )
        else:
            lines.append("no timed runs were reported")
        layers = self.layers_summary()
        if layers:
            lines.append(f"per layer (median of the runs{', emulated' if emulated else ''}):")
            op_w = max(len("op"), *(len(r["op"]) for r in layers))
            lines.append(f"  {'idx':>4}  {'op':<{op_w}}  {'cycles':>12}  {'share':>6}")
            for r in layers:
                lines.append(
                    f"  {r['idx']:>4}  {r['op']:<{op_w}}  {_num(r['cycles']):>12}  "
                    f"{r['share']:>6.1%}"
                )
        if self.output_crc32:
            lines.append(f"output crc32 {self.output_crc32}")
        elif self.outs:
            lines.append(
                f"output crc32 differs between runs: {sorted({o['crc32'] for o in self.outs})}"
            )
        lines.extend(self.notes())
        return "\n".join(lines)

    def notes(self) -> list[str]:
        """Warnings a reader of the figures should see: resets, missing runs, garbled lines."""
        notes = []
        if self.resets:
            notes.append(
                f"note: the board reset {self.resets} time(s) while monitored; "
                "figures are from its last boot"
            )
        if self.done is not None and self.done.get("runs") != len(self.runs):
            notes.append(
                f"note: the board reported {self.done.get('runs')} runs but "
                f"{len(self.runs)} run lines arrived"
            )
        if self.garbled:
            notes.append(
                f"note: {len(self.garbled)} garbled TFLE line(s) ignored, the first: "
                f"{self.garbled[0].reason}"
            )
        return notes

    def to_dict(self) -> dict[str, Any]:
        """Everything in the session, plus latency and the layer summary, ready for JSON."""
        return {
            "port": self.port,
            "hello": self.hello,
            "emulated": _board_is_emulated(self.hello.get("board")),
            "latency": self.latency(),
            "layers_summary": self.layers_summary(),
            "output_crc32": self.output_crc32,
            "runs": self.runs,
            "layers": self.layers,
            "outs": self.outs,
            "done": self.done,
            "results": self.results,
            "errors": self.errors,
            "garbled": [asdict(g) for g in self.garbled],
            "resets": self.resets,
        }


def _stats(values: list[int]) -> dict[str, float | int] | None:
    if not values:
        return None
    import numpy as np

    a = np.asarray(values, dtype=np.float64)
    return {
        "min": int(min(values)),
        "median": float(np.median(a)),
        "p90": float(np.percentile(a, 90)),
        "max": int(max(values)),
    }


def _num(value: float | int) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _board_is_emulated(name: str | None) -> bool:
    if not name:
        return False
    try:
        from .boards import get_board

        return get_board(name).emulated
    except TFLiteEdgeError:
        return False  # a board this install does not know: label nothing as emulated


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
    line = f"TFLE {VERSION} in n={len(data)} hex={data.hex()}\n".encode("ascii")
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
                f"(line {_clip(bad.raw)!r}); check the link (baud rate, cable)",
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


# --------------------------------------------------------------------------- monitor


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
