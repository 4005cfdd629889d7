"""The tflm runtime: TensorFlow Lite Micro's interpreter with an exact op resolver and a
measured arena. On a Cortex-M board the project builds TFLM from a checkout (TFLM_DIR); on
an ESP-IDF board it uses espressif/esp-tflite-micro; on the host the board is tflite-edge's
one C harness with a model side that runs the interpreter of the tflite-micro package in an
embedded CPython (firmware/models/tfle_model_python.c, tflite_edge.runtimes.tflm_board).
"""

from __future__ import annotations

import os
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..boards.board import Board
from ..boards.families import family_of
from ..boards.families.base import require_tools
from ..boards.links import Link, PtyProcess
from ..errors import BoardError, ToolchainError
from ..resources import firmware_dir
from .base import Runtime, prefixed

# TFLM's cortex_m_generic TARGET_ARCH for each Cortex-M core ("+fp" added for hard-float boards).
TFLM_TARGET_ARCH = {
    "cortex-m3": "cortex-m3",
    "cortex-m4": "cortex-m4",
    "cortex-m7": "cortex-m7",
    "cortex-m33": "cortex-m33",
    "cortex-m55": "cortex-m55",
}
# The host board: the model side (firmware/models/) calls load() and invoke() of this module.
BOARD_MODULE = "tflite_edge.runtimes.tflm_board"
HOST_MODEL_HEADER = "tfle_host_model.h"
HOST_BOARD_FILES = ("Makefile", HOST_MODEL_HEADER, "tfle_input.h", "tfle_input.c")


class TflmRuntime(Runtime):
    """TensorFlow Lite Micro: the model as a C array, interpreted on the board."""

    name = "tflm"
    summary = "TensorFlow Lite Micro"
    interprets = True
    c_array_cpp = True

    def makefile_project(self, job: Any, stage: Path) -> dict[str, str]:
        files = job.tflm_sources()
        files["Makefile"] = job.render("tflm/Makefile.j2", **make_context(job))
        return files

    def esp_idf_project(self, job: Any, stage: Path) -> dict[str, str]:
        files = prefixed("main/", job.tflm_sources())
        files.update(prefixed("main/", job.esp_harness_sources()))
        srcs = sorted(Path(rel).name for rel in files if rel.endswith((".c", ".cc")))
        files.update(job.esp_project(srcs))
        return files

    def board_process(
        self,
        board: Board,
        model: Any,
        runs: int,
        where: Path,
        check_dir: Callable[[list[str]], None],
    ) -> Link | None:
        family = family_of(board)
        if not family.native:
            return None
        # On this machine the board is the one C harness with a model side that runs the
        # interpreter of the tflite-micro package: the same records, behind the same kind of
        # pty, so TFLM and AOT figures come through the same monitor.
        model_file = f"{model.c_identifier()}.tflite"
        check_dir([model_file, *HOST_BOARD_FILES, "build"])
        require_tools(board, ["make", board.toolchain])
        python = python_embedding()
        where.mkdir(parents=True, exist_ok=True)
        model_path = (where / model_file).resolve()
        model_path.write_bytes(model.data)
        for rel, text in host_board_files(board, model, runs, model_path, python).items():
            (where / rel).write_text(text)
        image, _ = family.compile(where, board, jobs=2)
        log = where / "build" / "board.log"
        return PtyProcess([str(image)], log, what="the TFLM host board", env=python.env)

    def preflight(self, board: Board) -> None:
        family = family_of(board)
        if family.native:
            require_tools(board, ["make", board.toolchain])
            python_embedding()
        elif family.makefile:
            check_tflm_dir(board.name)


def make_context(job: Any) -> dict[str, Any]:
    """The context of templates/tflm/Makefile.j2."""
    b = job.board
    host = family_of(b).native
    arch = TFLM_TARGET_ARCH.get(b.cpu)
    if not host and arch is None:
        raise BoardError(
            f"board {b.name} has CPU {b.cpu}, for which tflite-edge knows no TFLM "
            f"cortex_m_generic TARGET_ARCH (known: {', '.join(TFLM_TARGET_ARCH)})",
            board=b.name,
        )
    if arch in ("cortex-m4", "cortex-m7") and "-mfloat-abi=hard" in b.cflags:
        arch += "+fp"  # TFLM's library must use the board's float ABI to link with it
    return {
        "firmware": firmware_dir().as_posix(),
        "runs": job.runs,
        "profile": int(job.profile),
        "host": host,
        "target_arch": arch or "",
        "kernels": "" if host else "cmsis_nn",
    }


def check_tflm_dir(board: str) -> None:
    """ToolchainError unless TFLM_DIR names a tflite-micro checkout (what the TFLM project's
    Makefile stops on, but only at build time)."""
    makefile = "tensorflow/lite/micro/tools/make/Makefile"
    tflm_dir = os.environ.get("TFLM_DIR", "").strip()
    if not tflm_dir:
        raise ToolchainError(
            f"--runtime tflm on {board} builds TensorFlow Lite Micro from your checkout, and "
            "TFLM_DIR is not set; clone https://github.com/tensorflow/tflite-micro and export "
            "TFLM_DIR=/path/to/tflite-micro, or use --runtime aot",
            tool="make",
        )
    if not (Path(tflm_dir) / makefile).is_file():
        raise ToolchainError(
            f"TFLM_DIR={tflm_dir} is not a tflite-micro checkout (it has no {makefile}); set "
            "TFLM_DIR to the root of a clone of https://github.com/tensorflow/tflite-micro",
            tool="make",
        )


# --------------------------------------------------------------------------- the host board


@dataclass(frozen=True)
class PythonEmbedding:
    """How a C program embeds the running interpreter: its headers, its shared library and
    the environment in which it finds the packages this process finds."""

    include: str  # the folder of Python.h
    libdir: str
    lib: str  # -l<lib>: python3.11
    env: dict[str, str]  # PYTHONHOME and PYTHONPATH for the program


def python_embedding() -> PythonEmbedding:
    """The running interpreter, for the host TFLM board; ToolchainError when its headers or
    its shared library (libpython) are missing."""
    what = f"--runtime tflm on the host embeds this Python ({sys.executable}) in the board"
    version = sysconfig.get_config_var("LDVERSION") or sysconfig.get_config_var("VERSION")
    include = sysconfig.get_config_var("INCLUDEPY") or sysconfig.get_paths()["include"]
    if not (Path(include) / "Python.h").is_file():
        raise ToolchainError(
            f"{what} and needs its C headers, but {include} has no Python.h; install them "
            f"(e.g. apt-get install python{version}-dev) or use --runtime aot",
            tool="python3-config",
        )
    so = f"libpython{version}.so"
    libdirs = [sysconfig.get_config_var(k) or "" for k in ("LIBDIR", "LIBPL")]
    multiarch = sysconfig.get_config_var("MULTIARCH")
    if multiarch and libdirs[0]:
        libdirs.insert(1, os.path.join(libdirs[0], multiarch))
    libdir = next((d for d in libdirs if d and (Path(d) / so).exists()), None)
    if libdir is None:
        raise ToolchainError(
            f"{what} and needs its shared library {so}, which is in none of "
            f"{', '.join(d for d in libdirs if d)}; install it (e.g. apt-get install "
            f"libpython{version}-dev, or a Python built with --enable-shared) or use "
            "--runtime aot",
            tool="python3-config",
        )
    # The tflite_edge this process runs first, then every folder of this process's sys.path:
    # the board imports the same modules, the venv's packages included.
    ours = str(Path(__file__).resolve().parents[2])
    path = [ours] + [p for p in sys.path if p and p != ours and os.path.exists(p)]
    home = sys.base_prefix
    if sys.base_exec_prefix != sys.base_prefix:
        home += os.pathsep + sys.base_exec_prefix
    env = {"PYTHONHOME": home, "PYTHONPATH": os.pathsep.join(path)}
    return PythonEmbedding(include, libdir, f"python{version}", env)


def host_board_files(
    board: Board, model: Any, runs: int, model_path: Path, python: PythonEmbedding
) -> dict[str, str]:
    """The project of the host TFLM board: a Makefile that builds the harness with the
    embedded-Python model side through firmware/Makefile, the model header, the known input."""
    from ..templating import environment, known_input_context

    env = environment()
    common = {
        "version": __version__,
        "label": model.c_identifier(),
        "sha256": model.sha256,
        "sha8": model.sha256[:8],
        "board": board.name,
    }

    def render(template: str, **context: Any) -> str:
        return env.get_template(template).render(**common, **context)

    known = known_input_context(model, HOST_MODEL_HEADER)
    header = {
        "header": HOST_MODEL_HEADER,
        "input_bytes": model.input_tensors[0].nbytes,
        "output_bytes": model.output_tensors[0].nbytes,
        "num_layers": len(model.operators),
        "model_path": c_string(str(model_path)),
        "module": BOARD_MODULE,
    }
    make = {
        "firmware": firmware_dir().as_posix(),
        "runs": runs,
        "header": HOST_MODEL_HEADER,
        "model_file": model_path.name,
        "python_include": python.include,
        "python_libdir": python.libdir,
        "python_lib": python.lib,
    }
    return {
        "Makefile": render("tflm/host_Makefile.j2", **make),
        HOST_MODEL_HEADER: render("tflm/host_model.h.j2", **header),
        "tfle_input.h": render("project/tfle_input.h.j2", **known),
        "tfle_input.c": render("project/tfle_input.c.j2", **known),
    }


def c_string(text: str) -> str:
    """A C string literal of `text`: its UTF-8 bytes, all but plain printable ASCII in octal."""
    plain = {b for b in range(0x20, 0x7F)} - set(b'"\\?')
    return '"' + "".join(chr(b) if b in plain else f"\\{b:03o}" for b in text.encode()) + '"'
