"""The board families: one module per family, each a class holding that family's behaviour,
found by the `family` value of a board's TOML file.

A new family is a module here with a Family subclass, and one line in _FAMILIES below.
"""

from __future__ import annotations

from ...errors import BoardError
from ..board import Board
from .base import Family
from .esp_idf import EspIdfFamily
from .host import HostFamily
from .qemu import QemuFamily

__all__ = ["Family", "family_names", "family_of", "get_family"]

# In this order in every message that lists them.
_FAMILIES: dict[str, Family] = {f.name: f for f in (QemuFamily(), HostFamily(), EspIdfFamily())}


def family_names() -> tuple[str, ...]:
    """The names a board file may give as its `family`."""
    return tuple(_FAMILIES)


def get_family(name: str) -> Family:
    """The family called `name`; BoardError listing the known ones otherwise."""
    try:
        return _FAMILIES[name]
    except (KeyError, TypeError):
        raise BoardError(
            f"unknown board family {name!r}; known families: {', '.join(_FAMILIES)}"
        ) from None


def family_of(board: Board) -> Family:
    """The behaviour of `board`'s family."""
    return get_family(board.family)
