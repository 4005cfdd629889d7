"""TFLE records (firmware/harness/PROTOCOL.md): the one parser and formatter of protocol lines.

A line that does not carry a TFLE record (boot ROM chatter, ESP-IDF logs, garbage at the wrong
baud rate) parses to None. A line that does carry one but cannot be parsed (unknown version or
kind, a missing or malformed field, a record cut short by a reset) is *garbled*: `parse_line`
raises ProtocolError for it, with the `Garbled` line attached as `err.garbled`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import ProtocolError

VERSION = 1

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
    | {"inputs", "outputs"}  # hello, from a model API that says how many (optional)
)
HEX_FIELDS = frozenset({"crc32", "hex", "model"})


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
    err = ProtocolError(f"garbled TFLE line {clip(raw)!r}: {reason}")
    err.garbled = Garbled(raw, reason, kind)
    raise err


def clip(text: str, n: int = 120) -> str:
    """`text` cut to `n` characters for a message (an ellipsis marks the cut)."""
    return text if len(text) <= n else text[: n - 3] + "..."
