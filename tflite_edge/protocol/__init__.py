"""The TFLE serial protocol (firmware/harness/PROTOCOL.md), host side.

records.py parses and formats the protocol lines, port.py opens ports and reads records from
them (and sends inputs), session.py files what a board said, monitor.py reads a board until
it is done, tensors.py packs a model's inputs into the bytes of one `in` command and unpacks
a `result` into one array per output (several inputs and outputs, any element type).
"""

from __future__ import annotations

from .monitor import monitor
from .port import (
    DEFAULT_BAUD,
    DEFAULT_TIMEOUT,
    MAX_LINE,
    POLL_S,
    PYSERIAL_HINT,
    open_port,
    port_name,
    read_records,
    send_input,
)
from .records import (
    HEX_FIELDS,
    INT_FIELDS,
    KINDS,
    VERSION,
    Garbled,
    Record,
    format_record,
    parse_line,
)
from .session import Session
from .tensors import IoTensor, input_layout, output_layout, pack, unpack

__all__ = [
    "IoTensor",
    "input_layout",
    "output_layout",
    "pack",
    "unpack",
    "DEFAULT_BAUD",
    "DEFAULT_TIMEOUT",
    "HEX_FIELDS",
    "INT_FIELDS",
    "KINDS",
    "MAX_LINE",
    "POLL_S",
    "PYSERIAL_HINT",
    "VERSION",
    "Garbled",
    "Record",
    "Session",
    "format_record",
    "monitor",
    "open_port",
    "parse_line",
    "port_name",
    "read_records",
    "send_input",
]
