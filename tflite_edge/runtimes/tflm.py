"""The tflm runtime: TensorFlow Lite Micro's interpreter with an exact op resolver and a
measured arena. On a Cortex-M board and on the host the project builds against a TFLM tree
(--tflm-dir or TFLM_DIR), with TFLM's library built once per board and kernel set
(tflite_edge.runtimes.tflm_tree); on an ESP-IDF board it uses espressif/esp-tflite-micro.
On the host without a TFLM tree the board is tflite-edge's one C harness with a model side
that runs the interpreter of the tflite-micro package in an embedded CPython
(firmware/models/tfle_model_python.c, tflite_edge.runtimes.tflm_board).
"""

from __future__ import annotations

import os
import shutil
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
from ..model.shapes import as_tflm_runs_it
from ..resources import firmware_dir
from .base import FIRMWARE_COPY_MAKE, Runtime, RuntimeOptions, prefixed
from .tflm_tree import KERNEL_SETS, check_kernels, find_tree, library, python_for_tflm

# The host board: the model side (firmware/models/) calls load() and invoke() of this module.
BOARD_MODULE = "tflite_edge.runtimes.tflm_board"
HOST_MODEL_HEADER = "tfle_host_model.h"
HOST_BOARD_FILES = ("Makefile", HOST_MODEL_HEADER, "tfle_input.h", "tfle_input.c")
CLONE = "https://github.com/tensorflow/tflite-micro"
# Cores with Helium (MVE), whose CMSIS-NN kernels keep per-output sums in persistent memory.
HELIUM = ("cortex-m55", "cortex-m85")


class TflmRuntime(Runtime):
    """TensorFlow Lite Micro: the model as a C array, interpreted on the board."""

    name = "tflm"
    summary = "TensorFlow Lite Micro"
    interprets = True
    c_array_cpp = True

    def makefile_project(self, job: Any, stage: Path) -> dict[str, str]:
        files = job.tflm_sources()
        files["Makefile"] = job.render("tflm/Makefile.j2", **make_context(job))
        files.update(job.firmware_copy(kernels=False))
        return files

    def esp_idf_project(self, job: Any, stage: Path) -> dict[str, str]:
        job.facts["tflm_kernels"] = kernel_set(job.board, job.options.tflm_kernels)
        files = prefixed("main/", job.tflm_sources())
        files.update(prefixed("main/", job.esp_harness_sources()))
        srcs = sorted(Path(rel).name for rel in files if rel.endswith((".c", ".cc")))
        files.update(job.esp_project(srcs))
        return files

    def kernels(self, board: Board, options: RuntimeOptions) -> str | None:
        return kernel_set(board, options.tflm_kernels)

    def arena_extra(self, model: Any, board: Board, options: RuntimeOptions) -> int:
        if kernel_set(board, options.tflm_kernels) != "cmsis_nn" or board.cpu not in HELIUM:
            return 0
        # CMSIS-NN's Helium FULLY_CONNECTED precomputes its kernel sums (one int32 per output)
        # into persistent memory at prepare time, which the host's reference kernels do not;
        # TFLM writes them without checking the allocation, so they must fit.
        extra = 0
        for op in model.operators:
            if op.op == "FULLY_CONNECTED" and len(op.inputs) > 1 and op.inputs[1] >= 0:
                filt = model.tensors[op.inputs[1]]
                if filt.is_constant and filt.shape:
                    extra += (filt.shape[0] * 4 + 15) // 16 * 16
        return extra

    def make_args(
        self,
        project: Path,
        board: Board,
        manifest: dict[str, Any],
        options: RuntimeOptions,
        *,
        jobs: int,
        progress: Callable[[str], None] | None,
    ) -> list[str]:
        if board.tflm_target is None or not family_of(board).makefile:
            return []
        given = options.tflm_dir or manifest.get("tflm_dir")
        kernels = kernel_set(board, options.tflm_kernels or manifest.get("tflm_kernels"))
        tree, lib = board_library(board, kernels, given, jobs=jobs, progress=progress)
        return [f"TFLM_DIR={tree}", f"TFLM_KERNELS={kernels}", f"TFLM_LIB={lib}"]

    def board_process(
        self,
        board: Board,
        model: Any,
        runs: int,
        where: Path,
        check_dir: Callable[[list[str]], None],
        options: RuntimeOptions,
    ) -> Link | None:
        family = family_of(board)
        if not family.native or given_tree(options) is not None:
            return None  # firmware built from the TFLM tree (on the host: natively)
        # No TFLM tree: the host board is the one C harness with a model side that runs the
        # interpreter of the tflite-micro package (TFLM compiled for this machine): the same
        # records, behind the same kind of pty, so TFLM and AOT figures come through the same
        # monitor.
        model_file = f"{model.c_identifier()}.tflite"
        check_dir([model_file, *HOST_BOARD_FILES, "build"])
        require_tools(board, ["make", board.toolchain])
        python = python_embedding()
        where.mkdir(parents=True, exist_ok=True)
        model_path = (where / model_file).resolve()
        model_path.write_bytes(as_tflm_runs_it(model).data)
        for rel, text in host_board_files(board, model, runs, model_path, python).items():
            (where / rel).write_text(text)
        image, _ = family.compile(where, board, jobs=2)
        log = where / "build" / "board.log"
        return PtyProcess([str(image)], log, what="the TFLM host board", env=python.env)

    def preflight(self, board: Board, options: RuntimeOptions) -> None:
        family = family_of(board)
        kernels = kernel_set(board, options.tflm_kernels)
        if family.native and given_tree(options) is None:
            require_tools(board, ["make", board.toolchain])
            python_embedding()
        elif family.makefile:
            tree = find_tree(options.tflm_dir, what=f"--runtime tflm on {board.name}")
            check_kernels(tree, kernels)
            python_for_tflm()


def board_library(
    board: Board,
    kernels: str,
    tflm_dir: str | Path | None,
    *,
    jobs: int = 2,
    progress: Callable[[str], None] | None = None,
) -> tuple[Path, Path]:
    """The TFLM tree (tflm_dir, else $TFLM_DIR) and TFLM's library for a Cortex-M board with
    `kernels`, from the cache, built the first time; ToolchainError when it cannot be."""
    tree = find_tree(tflm_dir, what=f"--runtime tflm on {board.name}")
    check_kernels(tree, kernels)
    lib = library(
        tree,
        tflm_args(board, kernels, toolchain_root(board)),
        board.toolchain,
        describe=f"{board.name} ({board.cpu}) with {kernels} kernels",
        jobs=jobs,
        progress=progress,
    )
    return tree, lib


def given_tree(options: RuntimeOptions) -> Path | None:
    """The TFLM tree of --tflm-dir or $TFLM_DIR (checked), None when neither is set."""
    if not (options.tflm_dir or os.environ.get("TFLM_DIR", "").strip()):
        return None
    return find_tree(options.tflm_dir)


def kernel_set(board: Board, asked: str | None) -> str:
    """The TFLM kernel set for `board`: `asked`, else the board's default (its TOML)."""
    if asked is None:
        return board.tflm_kernels
    if board.tflm_target is None:  # ESP-IDF: the component decides
        if asked != board.tflm_kernels:
            raise BoardError(
                f"board {board.name} builds TFLM with ESP-IDF's espressif/esp-tflite-micro "
                f"component, which uses {board.tflm_kernels} kernels; leave --tflm-kernels out",
                board=board.name,
            )
        return asked
    if asked not in KERNEL_SETS:
        raise BoardError(
            f"unknown TFLM kernel set {asked!r}; known: {', '.join(KERNEL_SETS)}",
            board=board.name,
        )
    return asked


def target_args(board: Board, root: str) -> list[str]:
    """TFLM's make arguments that choose `board`'s target (its TOML's tflm_target); `root` is
    the folder of the cross compiler (without it TFLM downloads a compiler of its own)."""
    assert board.tflm_target is not None
    native = family_of(board).native
    return [*board.tflm_target, *([] if native else [f"TARGET_TOOLCHAIN_ROOT={root}"])]


def tflm_args(board: Board, kernels: str, root: str) -> list[str]:
    """TFLM's make arguments for `board`'s library with `kernels` (the rendered Makefile
    builds the same: its target arguments, then these two)."""
    kernel_dir = [] if kernels == "reference" else [f"OPTIMIZED_KERNEL_DIR={kernels}"]
    return [*target_args(board, root), "BUILD_TYPE=release_with_logs", *kernel_dir]


def toolchain_root(board: Board) -> str:
    found = shutil.which(board.toolchain)
    if found is None:
        raise ToolchainError(
            f"{board.toolchain} is not on PATH, and board {board.name} needs it to build; "
            f"{board.install_hint or 'install it'}",
            tool=board.toolchain,
        )
    return str(Path(found).parent) + "/"


def make_context(job: Any) -> dict[str, Any]:
    """The context of templates/tflm/Makefile.j2 (and the manifest's TFLM facts)."""
    b = job.board
    host = family_of(b).native
    if b.tflm_target is None:
        raise BoardError(
            f"board {b.name} has no tflm_target in its board file: tflite-edge does not know "
            "how TFLM's Makefile builds for it",
            board=b.name,
        )
    kernels = kernel_set(b, job.options.tflm_kernels)
    tree = given_tree(job.options)
    if tree is not None:
        check_kernels(tree, kernels)
    else:
        job.notes.append(
            "note: no TFLM tree given (--tflm-dir or TFLM_DIR); build it with "
            "`make TFLM_DIR=/path/to/tflite-micro` or `tflite-edge build DIR --tflm-dir ...`"
        )
    job.facts.update(tflm_dir=str(tree) if tree else None, tflm_kernels=kernels)
    root = "" if host else "$(dir $(shell command -v $(CC)))"
    return {
        "firmware": FIRMWARE_COPY_MAKE,
        "runs": job.runs,
        "profile": int(job.profile),
        "host": host,
        "tflm_dir": str(tree) if tree else "",
        "kernels": kernels,
        "kernel_sets": KERNEL_SETS,
        "target_args": target_args(b, root),
        "log_callback": not host,
        "clone": CLONE,
        "cpu_flags": list(b.tflm_cpu_flags),
    }


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
        "num_inputs": len(model.inputs),
        "num_outputs": len(model.outputs),
        "output_sizes": [t.nbytes for t in model.output_tensors],
        "input_bytes": sum(t.nbytes for t in model.input_tensors),
        "output_bytes": sum(t.nbytes for t in model.output_tensors),
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
