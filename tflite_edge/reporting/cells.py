"""Cells for the templates: every number reaches them as a finished string, every table as rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..results import Checked

NONE = "—"


def fmt_int(n: float | None) -> str:
    """A count with thousands separators (one decimal when not whole); a dash when absent."""
    if n is None:
        return NONE
    if float(n).is_integer():
        return f"{int(n):,}"
    return f"{n:,.1f}"


def fmt_kib(n: float | None) -> str:
    """Bytes in KiB, one decimal."""
    return NONE if n is None else f"{n / 1024:,.1f}"


def fmt_pct(x: float | None) -> str:
    """A fraction in percent, two decimals."""
    return NONE if x is None else f"{100 * x:.2f} %"


def fmt_us(x: float | None) -> str:
    """Microseconds, one decimal."""
    return NONE if x is None else f"{x:,.1f}"


def fmt_num(x: float | None) -> str:
    """Any number, six significant digits."""
    return NONE if x is None else f"{x:.6g}"


@dataclass(frozen=True)
class Table:
    """A table for the templates: header cells, rows of string cells, right-aligned columns."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]


def make_table(headers: list[str], rows: list[list[str]], numeric: list[bool]) -> Table:
    """A Table of string cells; `numeric` marks the right-aligned columns."""
    return Table(tuple(headers), tuple(tuple(r) for r in rows), tuple(numeric))


def facts_table(pairs: list[tuple[str, str]]) -> Table:
    """A two-column table of (name, value) facts, without headers."""
    return make_table(["", ""], [[k, v] for k, v in pairs], [False, False])


@dataclass(frozen=True)
class Image:
    """A PNG for the HTML: a data URI and its pixel size."""

    uri: str
    width: int
    height: int
    alt: str


def short(label: str, limit: int = 36) -> str:
    """A chart label that fits beside its bar (the tables keep the full text)."""
    return label if len(label) <= limit else label[: limit - 1] + "…"


def flash_label(f: Checked) -> str:
    """How a flash document is named in headings: board and runtime."""
    return f"{f.board} {f.runtime}"


def unit(f: Checked) -> tuple[str, str]:
    """What a flash document's latency numbers are: (cycles label, us label)."""
    if f.emulated:
        return "instructions (emulated)", "µs (estimate)"
    return "cycles", "µs"


def region(section: str) -> str:
    """Where a linker section lives: flash, RAM, both (initialised data), or other."""
    n = section.lower()
    if any(k in n for k in ("bss", "noinit", "heap", "stack")):
        return "RAM"
    if "rodata" in n or "flash" in n:
        return "flash"
    if "iram" in n or "data" in n:  # stored in flash, copied to RAM at boot
        return "flash + RAM"
    if any(k in n for k in ("text", "vector", "exidx", "extab", "_array")):
        return "flash"
    return "other"


def md_cell(value: Any) -> str:
    """Text safe inside a Markdown table cell: no pipes, no line breaks, no raw HTML."""
    text = " ".join(str(value).split())
    for ch in "\\|<>`*[]":
        text = text.replace(ch, "\\" + ch)
    return text
