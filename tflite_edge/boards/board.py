"""One board as its TOML file describes it (the data; its family holds the behaviour)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ToolchainError
from ..resources import firmware_dir


@dataclass(frozen=True)
class Board:
    """What tflite-edge knows of one board: CPU, budgets, toolchain, flashing and serial."""

    name: str
    description: str
    family: str  # a name of tflite_edge.boards.families (qemu, host, esp-idf)
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
    # TFLM's make arguments for this board's library (TARGET, TARGET_ARCH ...); None: TFLM is
    # not built with TFLM's Makefile for it (ESP-IDF has its own component).
    tflm_target: tuple[str, ...] | None = None
    tflm_kernels: str = "reference"  # the TFLM kernel set used when none is asked for
    # The CPU flags of a TFLM firmware's own objects when they must differ from the board's
    # (to match the float ABI of TFLM's library); empty: the board's own (board.mk).
    tflm_cpu_flags: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)

    def toolchain_present(self) -> bool:
        """True when the compiler (and the flasher, if any) are on PATH."""
        tools = [self.toolchain] + ([self.flasher] if self.flasher else [])
        return all(shutil.which(t) for t in tools)

    def require_toolchain(self) -> None:
        """Raise ToolchainError, saying what to install, when a tool of this board is missing."""
        for tool in [self.toolchain] + ([self.flasher] if self.flasher else []):
            if shutil.which(tool) is None:
                raise ToolchainError(
                    f"{tool} is not on PATH, and board {self.name} needs it; "
                    f"{self.install_hint or 'install it'}",
                    tool=tool,
                )

    def firmware_dir(self) -> Path:
        """firmware/boards/<name>/: the board support (board.mk, board.c, linker.ld)."""
        return firmware_dir() / "boards" / self.name
