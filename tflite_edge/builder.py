"""Build a rendered firmware project and check the image against the board's memory budget.

`build(project_dir, board)` runs the project's Makefile (which includes firmware/Makefile)
with the board's toolchain, then reads what the linked image needs from the ELF itself:
flash is everything loaded into flash (vectors, code, constants, the initial values of
.data), RAM is .data + .bss + the stack. The Cortex-M images are linked against unbounded
memory regions (TFLE_UNBOUNDED=1), so a model that does not fit is reported here with a
needed/available table (BudgetError) instead of a linker error.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .boards import Board, family_of, get_board
from .errors import BudgetError, TFLiteEdgeError, ToolchainError
from .runtimes import RuntimeOptions, get_runtime, runtime_names

__all__ = ["BuildResult", "build", "elf_sections", "elf_symbols"]

MANIFEST = "tflite-edge.json"  # written by tflite_edge.render() into every project


@dataclass
class BuildResult:
    """A built firmware image and how much of the board's flash and RAM it takes."""

    project_dir: Path
    board: str
    image: Path  # build/firmware.elf (build/firmware for host)
    flash_bytes: int  # vectors, code, constants and .data's initial values
    ram_bytes: int  # .data + .bss + stack
    flash_budget: int  # the board's, 0 = no budget (host)
    ram_budget: int
    sections: dict[str, int] = field(default_factory=dict)  # allocated sections by name
    weight_bytes: int | None = None  # the model's constants (TFLE_WEIGHT_BYTES), if AOT
    arena_bytes: int | None = None  # the model's activation plan (TFLE_ARENA_BYTES), if AOT
    log: str = ""  # what make printed

    def budget_table(self) -> list[dict[str, Any]]:
        """One row per memory: needed, available (None without a budget), whether it fits."""
        return _table(self.flash_bytes, self.ram_bytes, self.flash_budget, self.ram_budget)

    def summary(self) -> str:
        """Where the image is and what it uses of the board."""
        lines = [f"built {self.image} for {self.board}"]
        lines += _format_table(self.budget_table(), self.weight_bytes, self.arena_bytes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready account of the build."""
        return {
            "board": self.board,
            "project_dir": str(self.project_dir),
            "image": str(self.image),
            "flash_bytes": self.flash_bytes,
            "ram_bytes": self.ram_bytes,
            "flash_budget": self.flash_budget,
            "ram_budget": self.ram_budget,
            "sections": dict(self.sections),
            "weight_bytes": self.weight_bytes,
            "arena_bytes": self.arena_bytes,
        }


def build(
    project_dir: str | Path,
    board: str | Board | None = None,
    *,
    jobs: int = 2,
    tflm_dir: str | Path | None = None,
    tflm_kernels: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> BuildResult:
    """Compile and link a rendered project for `board`; BudgetError when it does not fit.

    `board` defaults to the one the project was rendered for (its tflite-edge.json). A TFLM
    project builds against `tflm_dir` (else the tree it was rendered with, else $TFLM_DIR)
    with `tflm_kernels` (else the rendered kernel set), linking TFLM's library from the cache
    (built the first time, said through `progress`).
    ToolchainError when the compiler is missing or the build fails (with the compiler's
    messages); an image over budget is deleted, so that nothing flashes it by mistake.
    """
    project = Path(project_dir)
    if not (project / "Makefile").is_file():
        raise TFLiteEdgeError(
            f"{project} is not a firmware project (no Makefile in it); render one first: "
            "tflite-edge render MODEL.tflite --board BOARD -o DIR"
        )
    b = get_board(board if board is not None else _rendered_board(project))
    family = family_of(b)  # how the board's projects are built: make, idf.py ...
    manifest = _manifest(project)
    args: list[str] = []
    if manifest.get("runtime") in runtime_names():  # its library, prepared before make
        options = RuntimeOptions(tflm_dir=tflm_dir, tflm_kernels=tflm_kernels)
        runtime = get_runtime(manifest["runtime"])
        args = runtime.make_args(project, b, manifest, options, jobs=jobs, progress=progress)
    image, log = family.compile(project, b, jobs=jobs, args=tuple(args))
    flash, ram, sections = image_usage(image)
    weight, arena = _model_figures(family.model_dir(project))
    result = BuildResult(
        project_dir=project,
        board=b.name,
        image=image,
        flash_bytes=flash,
        ram_bytes=ram,
        flash_budget=b.flash_bytes,
        ram_budget=b.ram_bytes,
        sections=sections,
        weight_bytes=weight,
        arena_bytes=arena,
        log=log,
    )
    table = result.budget_table()
    if not all(row["fits"] for row in table):
        if family.deletes_oversized_image:
            image.unlink()
        raise BudgetError(
            _budget_message(project, b, table, weight, arena), board=b.name, table=table
        )
    return result


# --------------------------------------------------------------------------- sizes


def image_usage(image: str | Path) -> tuple[int, int, dict[str, int]]:
    """(flash bytes, RAM bytes, allocated sections by name) of a linked image.

    For a tflite-edge Cortex-M image the linker script's own symbols give the exact extents
    (flash: up to the end of .data's load image; RAM: up to the top of the stack section).
    Any other ELF (the host binary) is summed by section type, as `size` does.
    """
    sections = elf_sections(image)
    alloc = {s["name"]: s["size"] for s in sections if s["alloc"]}
    symbols = elf_symbols(image, names=_EXTENT_SYMBOLS)
    if set(symbols) == set(_EXTENT_SYMBOLS):
        flash = symbols["__flash_end"] - symbols["TFLE_FLASH_ORIGIN"]
        ram = symbols["__stack_top"] - symbols["TFLE_RAM_ORIGIN"]
        return flash, ram, alloc
    flash = sum(s["size"] for s in sections if s["alloc"] and not s["nobits"])
    ram = sum(s["size"] for s in sections if s["alloc"] and (s["write"] or s["nobits"]))
    return flash, ram, alloc


_EXTENT_SYMBOLS = ("TFLE_FLASH_ORIGIN", "TFLE_RAM_ORIGIN", "__flash_end", "__stack_top")

_SHF_WRITE, _SHF_ALLOC = 0x1, 0x2
_SHT_SYMTAB, _SHT_NOBITS = 2, 8


def _elf_header(data: bytes, path: Path) -> tuple[str, bool, int, int, int, int]:
    if data[:4] != b"\x7fELF":
        raise ToolchainError(f"{path} is not an ELF file", tool="make")
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        (shoff,) = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 0x3A)
    else:
        (shoff,) = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 0x2E)
    return end, is64, shoff, shentsize, shnum, shstrndx


def _raw_sections(data: bytes, path: Path) -> tuple[str, bool, list[dict[str, int]]]:
    end, is64, shoff, shentsize, shnum, shstrndx = _elf_header(data, path)
    fmt = end + ("IIQQQQIIQQ" if is64 else "IIIIIIIIII")
    raw = []
    for k in range(shnum):
        name, typ, flags, addr, off, size, link, info, align, entsize = struct.unpack_from(
            fmt, data, shoff + k * shentsize
        )
        raw.append(
            {
                "name_off": name,
                "type": typ,
                "flags": flags,
                "addr": addr,
                "offset": off,
                "size": size,
                "link": link,
                "entsize": entsize,
            }
        )
    names = raw[shstrndx] if shstrndx < len(raw) else None
    for s in raw:
        s["name"] = _cstr(data, names["offset"] + s["name_off"]) if names else ""
    return end, is64, raw


def _cstr(data: bytes, at: int) -> str:
    return data[at : data.index(b"\0", at)].decode("ascii", "replace")


def elf_sections(image: str | Path) -> list[dict[str, Any]]:
    """The sections of an ELF file: name, address, size and whether they are allocated,
    writable, or take no file space (.bss)."""
    path = Path(image)
    _, _, raw = _raw_sections(path.read_bytes(), path)
    return [
        {
            "name": s["name"],
            "addr": s["addr"],
            "size": s["size"],
            "alloc": bool(s["flags"] & _SHF_ALLOC),
            "write": bool(s["flags"] & _SHF_WRITE),
            "nobits": s["type"] == _SHT_NOBITS,
        }
        for s in raw
        if s["name"]
    ]


def elf_symbols(image: str | Path, names: tuple[str, ...] | None = None) -> dict[str, int]:
    """Symbol values from an ELF file's .symtab (only `names`, when given)."""
    path = Path(image)
    data = path.read_bytes()
    end, is64, raw = _raw_sections(data, path)
    found: dict[str, int] = {}
    wanted = set(names) if names is not None else None
    for sec in raw:
        if sec["type"] != _SHT_SYMTAB or sec["link"] >= len(raw):
            continue
        strtab = raw[sec["link"]]["offset"]
        step = sec["entsize"] or (24 if is64 else 16)
        for off in range(sec["offset"], sec["offset"] + sec["size"], step):
            if is64:
                name, _info, _other, _shndx, value, _size = struct.unpack_from(
                    end + "IBBHQQ", data, off
                )
            else:
                name, value, _size, _info, _other, _shndx = struct.unpack_from(
                    end + "IIIBBH", data, off
                )
            if name == 0:
                continue
            sym = _cstr(data, strtab + name)
            if wanted is None or sym in wanted:
                found[sym] = value
    return found


# --------------------------------------------------------------------------- budget


def _table(flash: int, ram: int, flash_budget: int, ram_budget: int) -> list[dict[str, Any]]:
    rows = []
    for memory, needed, budget in (("flash", flash, flash_budget), ("RAM", ram, ram_budget)):
        available = budget or None
        rows.append(
            {
                "memory": memory,
                "needed": needed,
                "available": available,
                "fits": available is None or needed <= available,
            }
        )
    return rows


def _format_table(table: list[dict[str, Any]], weight: int | None, arena: int | None) -> list[str]:
    lines = [f"  {'memory':<6}  {'needed':>11}  {'available':>11}  {'over by':>11}"]
    for row in table:
        avail = row["available"]
        over = row["needed"] - avail if avail is not None and not row["fits"] else None
        part = weight if row["memory"] == "flash" else arena
        lines.append(
            f"  {row['memory']:<6}  {row['needed']:>11,}  "
            f"{'no budget' if avail is None else format(avail, ','):>11}  "
            f"{'-' if over is None else format(over, ','):>11}"
            + (
                f"  (model {'weights' if row['memory'] == 'flash' else 'activations'} {part:,} B)"
                if part is not None
                else ""
            )
        )
    return lines


def _budget_message(
    project: Path, b: Board, table: list[dict[str, Any]], weight: int | None, arena: int | None
) -> str:
    over = " and ".join(r["memory"] for r in table if not r["fits"])
    what = _rendered_model(project)
    lines = [
        f"{f'model {what}' if what else f'the firmware in {project}'} does not fit {b.name} "
        f"({b.description}): it needs more {over} than the board has (bytes):"
    ]
    lines += _format_table(table, weight, arena)
    lines.append(
        "pick a board with more memory (tflite-edge boards lists them, e.g. --board qemu-m4), "
        "or make the model smaller: prune it (tflite-edge convert --sparsity 0.75; the AOT "
        "compiler stores sparse weights compactly) or use fewer or narrower layers"
    )
    return "\n".join(lines)


def _model_figures(project: Path) -> tuple[int | None, int | None]:
    """TFLE_WEIGHT_BYTES and TFLE_ARENA_BYTES from the project's tfle_model.h, if any."""
    header = project / "tfle_model.h"
    if not header.is_file():
        return None, None
    text = header.read_text(errors="replace")
    found = {}
    for key in ("TFLE_WEIGHT_BYTES", "TFLE_ARENA_BYTES"):
        m = re.search(rf"#define\s+{key}\s+(\d+)", text)
        found[key] = int(m.group(1)) if m else None
    return found["TFLE_WEIGHT_BYTES"], found["TFLE_ARENA_BYTES"]


# --------------------------------------------------------------------------- helpers


def _manifest(project: Path) -> dict[str, Any]:
    """The project's tflite-edge.json ({} when there is none or it is unreadable)."""
    try:
        doc = json.loads((project / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _rendered_board(project: Path) -> str:
    manifest = project / MANIFEST
    try:
        return str(json.loads(manifest.read_text())["board"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise TFLiteEdgeError(
            f"cannot tell which board {project} is for ({manifest} is missing or unreadable: "
            f"{err}); pass the board (tflite-edge build DIR --board BOARD)"
        ) from err


def _rendered_model(project: Path) -> str | None:
    try:
        return str(json.loads((project / MANIFEST).read_text())["model"]["name"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
