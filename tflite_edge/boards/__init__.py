"""The board registry: one TOML file per board in this folder, validated on load.

A board's `family` names its behaviour in tflite_edge.boards.families (how it is built,
flashed and reached over serial); `family_of(board)` looks it up.
"""

from __future__ import annotations

import tomllib
from dataclasses import fields
from functools import cache
from pathlib import Path

from ..errors import BoardError
from ..resources import boards_dir
from .board import Board
from .families import Family, family_names, family_of, get_family

__all__ = ["DEFAULT_BOARD", "FAMILIES", "Board", "boards", "boards_of", "family_of", "get_board"]

FAMILIES = family_names()

_REQUIRED = (
    "name",
    "description",
    "family",
    "cpu",
    "clock_hz",
    "flash_bytes",
    "ram_bytes",
    "toolchain",
)


def _load(path: Path) -> Board:
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise BoardError(f"board file {path} is not valid TOML: {err}", board=path.stem) from err
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise BoardError(
            f"board file {path} lacks {', '.join(missing)}; every board file needs "
            f"{', '.join(_REQUIRED)}",
            board=path.stem,
        )
    known = {f.name for f in fields(Board)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise BoardError(
            f"board file {path} has unknown keys {', '.join(unknown)}; known keys are "
            f"{', '.join(sorted(known))}",
            board=path.stem,
        )
    if raw["name"] != path.stem:
        raise BoardError(f"board file {path} names itself {raw['name']!r}", board=path.stem)
    family = _family(raw, path)
    for key in ("clock_hz", "flash_bytes", "ram_bytes"):
        if not isinstance(raw[key], int) or raw[key] < 0:
            raise BoardError(
                f"board {raw['name']}: {key} must be a non-negative integer, found {raw[key]!r}",
                board=path.stem,
            )
    family.check(raw, path)  # the keys this family needs (a qemu board: qemu_machine)
    shift = raw.get("qemu_icount_shift", 6)
    if not isinstance(shift, int) or not 0 <= shift <= 10:
        raise BoardError(
            f"board {raw['name']}: qemu_icount_shift must be an integer from 0 to 10, "
            f"found {shift!r}",
            board=path.stem,
        )
    for key in ("cflags", "tflm_target", "tflm_cpu_flags"):
        if key in raw:
            if not isinstance(raw[key], list) or not all(isinstance(v, str) for v in raw[key]):
                raise BoardError(
                    f"board {raw['name']}: {key} must be a list of strings, found {raw[key]!r}",
                    board=path.stem,
                )
            raw[key] = tuple(raw[key])
    return Board(**raw)


def _family(raw: dict, path: Path) -> Family:
    name = raw["family"]
    if not isinstance(name, str) or name not in FAMILIES:
        raise BoardError(
            f"board {raw['name']}: family {name!r} is not one of {', '.join(FAMILIES)}",
            board=path.stem,
        )
    return get_family(name)


@cache
def boards() -> dict[str, Board]:
    """Every known board, by name."""
    return {p.stem: _load(p) for p in sorted(boards_dir().glob("*.toml"))}


def boards_of(family: str) -> dict[str, Board]:
    """The known boards of one family (e.g. every "qemu" board), by name."""
    wanted = get_family(family)
    return {name: b for name, b in boards().items() if family_of(b) is wanted}


def get_board(name: str | Board) -> Board:
    """The board called `name`; an unknown name is rejected with the list of known ones."""
    if isinstance(name, Board):
        return name
    known = boards()
    if name not in known:
        raise BoardError(
            f"unknown board {name!r}; known boards: {', '.join(known)} (see `tflite-edge boards`)",
            board=name,
        )
    return known[name]


DEFAULT_BOARD = "qemu-m4"
