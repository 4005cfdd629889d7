"""The board registry: one TOML file per board in this folder, validated on load."""

from __future__ import annotations

import shutil
import tomllib
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path

from ..errors import BoardError
from ..resources import boards_dir

FAMILIES = ("qemu", "host", "esp-idf")


@dataclass(frozen=True)
class Board:
    """What tflite-edge knows of one board: CPU, budgets, toolchain, flashing and serial."""

    name: str
    description: str
    family: str  # qemu | host | esp-idf
    cpu: str  # e.g. cortex-m4
    clock_hz: int  # nominal clock, for estimates only on emulated boards
    flash_bytes: int  # 0 = no budget (host)
    ram_bytes: int
    toolchain: str  # the compiler command: arm-none-eabi-gcc, gcc, idf.py
    emulated: bool = False
    cflags: tuple[str, ...] = ()
    qemu_machine: str | None = None
    qemu_cpu: str | None = None
    idf_target: str | None = None
    baud: int = 115200
    flasher: str = ""  # the command that puts an image on the board (qemu-system-arm, idf.py)
    install_hint: str = ""  # what to install when the toolchain is missing
    # What the harness's `cycles` count on this board (shown beside every latency figure).
    cycles_unit: str = "cycles"
    # QEMU boards run with -icount shift=N (one instruction = 2^N ns of virtual time); the
    # board's cycle source in firmware/boards/<name>/board.mk assumes the same N.
    qemu_icount_shift: int = 6
    extra: dict = field(default_factory=dict)

    def toolchain_present(self) -> bool:
        """True when the compiler (and the flasher, if any) are on PATH."""
        tools = [self.toolchain] + ([self.flasher] if self.flasher else [])
        return all(shutil.which(t) for t in tools)

    def require_toolchain(self) -> None:
        """Raise ToolchainError, saying what to install, when a tool of this board is missing."""
        from ..errors import ToolchainError

        for tool in [self.toolchain] + ([self.flasher] if self.flasher else []):
            if shutil.which(tool) is None:
                raise ToolchainError(
                    f"{tool} is not on PATH, and board {self.name} needs it; "
                    f"{self.install_hint or 'install it'}",
                    tool=tool,
                )

    def firmware_dir(self) -> Path:
        from ..resources import firmware_dir

        return firmware_dir() / "boards" / self.name


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
    if raw["family"] not in FAMILIES:
        raise BoardError(
            f"board {raw['name']}: family {raw['family']!r} is not one of {', '.join(FAMILIES)}",
            board=path.stem,
        )
    for key in ("clock_hz", "flash_bytes", "ram_bytes"):
        if not isinstance(raw[key], int) or raw[key] < 0:
            raise BoardError(
                f"board {raw['name']}: {key} must be a non-negative integer, found {raw[key]!r}",
                board=path.stem,
            )
    if raw["family"] == "qemu" and not raw.get("qemu_machine"):
        raise BoardError(f"board {raw['name']}: a qemu board needs qemu_machine", board=path.stem)
    shift = raw.get("qemu_icount_shift", 6)
    if not isinstance(shift, int) or not 0 <= shift <= 10:
        raise BoardError(
            f"board {raw['name']}: qemu_icount_shift must be an integer from 0 to 10, "
            f"found {shift!r}",
            board=path.stem,
        )
    if "cflags" in raw:
        raw["cflags"] = tuple(raw["cflags"])
    return Board(**raw)


@cache
def boards() -> dict[str, Board]:
    """Every known board, by name."""
    return {p.stem: _load(p) for p in sorted(boards_dir().glob("*.toml"))}


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
