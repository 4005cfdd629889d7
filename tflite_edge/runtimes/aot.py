"""The aot runtime: tflite-edge's own ahead-of-time C compiler and int8 kernels, linked with
the firmware harness (firmware/harness, firmware/kernels)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from ..boards.board import Board
from ..boards.families import family_of
from .base import FIRMWARE_COPY_MAKE, Runtime, prefixed


class AotRuntime(Runtime):
    """The model compiled to C (tfle_model.c) and run by the harness, no interpreter."""

    name = "aot"
    summary = "tflite-edge's C compiler"

    def makefile_project(self, job: Any, stage: Path) -> dict[str, str]:
        job.aot = job.compile_aot(stage)
        job.code_bytes = code_bytes(job.board, stage, job.profile)
        files = job.known_input_files("tfle_model.h")
        files["Makefile"] = job.render("project/Makefile.j2", **make_context(job, stage))
        files.update(job.firmware_copy(kernels=True))
        return files

    def esp_idf_project(self, job: Any, stage: Path) -> dict[str, str]:
        job.aot = job.compile_aot(stage / "main")
        files = prefixed("main/", job.known_input_files("tfle_model.h"))
        files.update(prefixed("main/", job.esp_aot_sources()))
        srcs = {p.name for p in (stage / "main").glob("*.c")}
        srcs |= {Path(rel).name for rel in files if rel.endswith(".c")}
        files.update(job.esp_project(sorted(srcs), aot=True))
        return files


def make_context(job: Any, stage: Path) -> dict[str, Any]:
    """The context of templates/project/Makefile.j2."""
    srcs = sorted({p.name for p in stage.glob("*.c")} | {"tfle_input.c"})
    return {
        "firmware": FIRMWARE_COPY_MAKE,
        "runs": job.runs,
        "profile": int(job.profile),
        "host": family_of(job.board).native,
        "app_srcs": srcs,
    }


def code_bytes(board: Board, model_dir: Path, profile: bool) -> int | None:
    """Code of the compiled model and the kernels it calls, for the board's CPU (an estimate
    before the build: the harness and the C library are not included)."""
    from ..compiler import kernel_include_dir, kernel_sources

    family = family_of(board)
    cc = board.toolchain
    if not family.makefile or not cc.endswith("gcc") or shutil.which(cc) is None:
        return None
    size = cc[: -len("gcc")] + "size"
    flags = [*board.cflags, "-O2", "-std=gnu11", "-ffunction-sections", "-fdata-sections"]
    flags += ["-DTFLE_PROFILE=1"] if profile else []
    # A relocatable link that keeps only what tfle_model_invoke reaches.
    link = ["-nostdlib", "-Wl,-r", "-Wl,--gc-sections", "-Wl,-e,tfle_model_invoke"]
    link += ["-no-pie"] if family.native else []
    srcs = [str(p) for p in sorted(model_dir.glob("*.c"))] + [str(p) for p in kernel_sources()]
    with tempfile.TemporaryDirectory() as tmp:
        obj = Path(tmp) / "model.o"
        cmd = [cc, *flags, *link, f"-I{kernel_include_dir()}", f"-I{model_dir}", *srcs]
        built = subprocess.run([*cmd, "-o", str(obj)], capture_output=True, text=True)
        if built.returncode != 0 or shutil.which(size) is None:
            return None
        table = subprocess.run([size, "-A", str(obj)], capture_output=True, text=True).stdout
    return sum(
        int(parts[1])
        for parts in (line.split() for line in table.splitlines())
        if len(parts) >= 2 and parts[0].startswith(".text") and parts[1].isdigit()
    )
