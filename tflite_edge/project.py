"""Render a .tflite model into a firmware project: a C array, a TFLM project, or an AOT project.

Every file comes from a jinja2 template in templates/ with a small, flat, already computed
context, so the same inputs give byte-identical files. The project is rendered into a temporary
directory next to `out_dir` and moved into place only when every file is written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .boards import DEFAULT_BOARD, Board, family_of, get_board
from .errors import OutputExistsError, TFLiteEdgeError, check_runs
from .files import default_mode
from .model import Model, c_identifier, load_model
from .model.reader import known_inputs
from .model.shapes import as_tflm_runs_it
from .resources import firmware_dir
from .runtimes import AUTO, RuntimeOptions, choose_runtime, get_runtime
from .runtimes.base import FIRMWARE_COPY
from .templating import environment, known_input_context

MANIFEST = "tflite-edge.json"

# TFLM aligns the start of the arena to 16 bytes (MicroArenaBufferAlignment); an arena buffer
# that is not aligned loses up to that much.
ARENA_ALIGN = 16
# Optimized kernels (CMSIS-NN on Cortex-M, ESP-NN on ESP32) ask for scratch buffers that the
# host's reference kernels do not. Measured on qemu-m55 (CMSIS-NN's Helium paths), KWS uses
# 12.7% more than the host's figure and ad01 10.1%: 20% covers the models here and keeps
# the arena under 125% of the measurement; when a board still asks for more, flash() reads
# how much from TFLM and builds again with it.
SCRATCH_SHARE = 0.20

# What a build leaves in a project directory; a re-render may remove it with the project.
BUILD_OUTPUTS = ("build", "managed_components", "sdkconfig", "sdkconfig.old", "dependencies.lock")

# espressif/esp-tflite-micro 1.3.7 and later pass the channel count to ESP-NN's conv kernels.
ESP_TFLITE_MICRO = ("espressif/esp-tflite-micro", "^1.3.7")
ESP_MAIN_STACK = 8192

_C_ARRAY_PER_LINE = 12
_HEX_BYTE = [f"0x{b:02x}" for b in range(256)]


@dataclass(frozen=True)
class ArenaSize:
    """The TFLM arena a project declares: the measured allocation plus a stated margin."""

    measured: int
    head: int
    tail: int
    align_margin: int
    scratch_margin: int

    @property
    def margin(self) -> int:
        return self.align_margin + self.scratch_margin

    @property
    def bytes(self) -> int:
        return self.measured + self.margin


def arena_size(measured: int, head: int = 0, tail: int = 0) -> ArenaSize:
    """The arena to declare for a TFLM allocation of `measured` bytes (measured on the host)."""
    scratch = _round_up(int(np.ceil(measured * SCRATCH_SHARE)), ARENA_ALIGN)
    return ArenaSize(measured, head, tail, ARENA_ALIGN, scratch)


def _round_up(n: int, to: int) -> int:
    return (n + to - 1) // to * to


@dataclass
class RenderResult:
    """What render() wrote, and what the model costs on the chosen runtime."""

    out_dir: Path
    files: list[str]  # paths relative to out_dir, sorted; the manifest included
    runtime: str
    board: str
    model_name: str
    model_sha256: str
    ops: list[str]
    c_array_only: bool = False
    tflm_arena: Any = None  # tflite_edge.reference.Arena as measured, or None if TFLM cannot run it
    arena: ArenaSize | None = None  # tflm: the declared arena and its margin
    ram_bytes: int | None = None  # aot: the static activation plan
    weight_bytes: int | None = None  # aot: constants in flash
    code_bytes: int | None = None  # aot: compiled code of model + kernels, when measurable
    notes: list[str] = field(default_factory=list)
    runtime_reason: str | None = None  # why --runtime auto chose this runtime
    tflm_kernels: str | None = None  # tflm: the kernel set the project builds TFLM with

    @property
    def arena_bytes(self) -> int | None:
        return self.arena.bytes if self.arena is not None else None

    def summary(self) -> str:
        """Where the files went, the op list, and the memory figures."""
        if self.c_array_only:
            lines = [f"rendered the C array into {self.out_dir}:"]
        else:
            what = f"{self.runtime.upper()} project for {self.board}"
            if self.tflm_kernels:
                what += f" ({self.tflm_kernels} kernels)"
            lines = [f"rendered {what} into {self.out_dir}:"]
        if self.runtime_reason:
            lines.insert(0, f"runtime {self.runtime_reason}")
        ours = [f for f in self.files if not f.startswith(FIRMWARE_COPY + "/")]
        lines += [f"  {f}" for f in ours]
        if len(ours) < len(self.files):
            lines.append(
                f"  {FIRMWARE_COPY}/ ({len(self.files) - len(ours)} files: tflite-edge's harness, "
                "board support and build, so that the project stands alone)"
            )
        lines.append(f"ops ({len(self.ops)}): {', '.join(self.ops)}")
        t = self.tflm_arena
        tflm = (
            f"TFLM arena {t.total} B measured ({t.head} B activations + {t.tail} B bookkeeping)"
            if t is not None
            else "TFLM arena: not measurable (TFLM cannot run this model)"
        )
        if self.arena is not None:
            a = self.arena
            lines.append(
                f"{'TFLM arena to declare' if self.c_array_only else 'arena'}: {a.bytes} B = "
                f"measured {a.measured} B + margin {a.margin} B "
                f"({a.align_margin} B alignment, {a.scratch_margin} B kernel scratch)"
            )
            lines.append(tflm)
        elif self.ram_bytes is not None:
            lines.append(f"ram_bytes: {self.ram_bytes} B (static activation plan)")
            code = (
                f"{self.code_bytes} B (model + kernels at -O2, before linking the harness)"
                if self.code_bytes is not None
                else "not measured (no compiler for this board here)"
            )
            lines.append(f"flash: weights {self.weight_bytes} B, code {code}")
            lines.append(f"beside it: {tflm}")
        else:
            lines.append(tflm)
        lines += self.notes
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready account (what `tflite-edge render --json` prints)."""
        t = self.tflm_arena
        return {
            "out_dir": str(self.out_dir),
            "files": list(self.files),
            "runtime": self.runtime,
            "board": self.board,
            "model": {"name": self.model_name, "sha256": self.model_sha256},
            "c_array_only": self.c_array_only,
            "ops": list(self.ops),
            "arena_bytes": self.arena_bytes,
            "arena_margin": self.arena.margin if self.arena is not None else None,
            "tflm_arena": (
                {"total": t.total, "head": t.head, "tail": t.tail} if t is not None else None
            ),
            "ram_bytes": self.ram_bytes,
            "weight_bytes": self.weight_bytes,
            "code_bytes": self.code_bytes,
            "runtime_reason": self.runtime_reason,
            "tflm_kernels": self.tflm_kernels,
        }


# --------------------------------------------------------------------------- public entry


def render(
    tflite: str | Path | bytes | Model,
    *,
    board: str | Board = DEFAULT_BOARD,
    runtime: str = AUTO,
    out_dir: str | Path,
    runs: int = 10,
    profile: bool = True,
    c_array_only: bool = False,
    force: bool = False,
    name: str | None = None,
    tflm_dir: str | Path | None = None,
    tflm_kernels: str | None = None,
    tflm_arena_bytes: int | None = None,
) -> RenderResult:
    """Render a firmware project (or only the C array) for `board` and `runtime` into out_dir.

    runtime "auto" takes aot when the AOT compiler handles every op of the model, else tflm
    (the result says which and why). tflm_dir is the tflite-micro tree a TFLM project builds
    against (default $TFLM_DIR); tflm_kernels its kernel set (default: the board's);
    tflm_arena_bytes the arena it declares (default: TFLM's allocation measured on the host
    plus a margin for optimized kernels' scratch; flash() raises it when the board asks).

    An out_dir that holds files this function did not write is refused (OutputExistsError)
    unless force=True, which writes our files into it and leaves the others alone; a directory
    rendered before (it has our manifest) is replaced as a whole.
    """
    b = get_board(board)
    if runtime != AUTO:
        get_runtime(runtime)  # an unknown runtime is refused with the known ones
    check_runs(runs)
    model = _load(tflite, name)
    out = Path(out_dir)
    mode, previous = _inspect_out_dir(out, force)

    runtime, reason = choose_runtime(runtime, model)
    if tflm_arena_bytes is not None and (
        not isinstance(tflm_arena_bytes, int) or isinstance(tflm_arena_bytes, bool)
        or tflm_arena_bytes <= 0
    ):  # fmt: skip
        raise TFLiteEdgeError(
            f"tflm_arena_bytes must be a positive number of bytes, found {tflm_arena_bytes!r}"
        )
    options = RuntimeOptions(tflm_dir, tflm_kernels, tflm_arena_bytes)
    job = _Job(model, b, runtime, runs, profile, c_array_only, options)
    job.reason = reason
    job.prepare()  # every check that can fail on the model, before touching the disk
    with _staging(out) as stage:
        job.write(stage)
        files = sorted(_walk(stage) | {MANIFEST})
        _write_text(stage / MANIFEST, job.manifest(files))
        _commit(stage, out, mode, previous)
    return job.result(out, files)


# --------------------------------------------------------------------------- the rendering job


class _Job:
    def __init__(
        self,
        model: Model,
        board: Board,
        runtime: str,
        runs: int,
        profile: bool,
        c_array_only: bool,
        options: RuntimeOptions | None = None,
    ) -> None:
        self.model = model
        self.options = options or RuntimeOptions()
        self.facts: dict[str, Any] = {}  # what the runtime decided, for the manifest
        self.reason: str | None = None
        self.board = board
        self.runtime = runtime
        self.rt = get_runtime(runtime)  # what the runtime renders (tflite_edge.runtimes)
        self.runs = runs
        self.profile = profile
        self.c_array_only = c_array_only
        self.ident = c_identifier(model.name)
        self.label = _label(model.name)
        self.tflm_arena = None
        self.arena: ArenaSize | None = None
        self.methods: list[str] = []
        self.aot = None
        self.code_bytes: int | None = None
        self.notes: list[str] = []
        self._env = environment()

    # -- checks and measurements that need no output directory

    def prepare(self) -> None:
        from . import reference

        if self.rt.interprets and not self.c_array_only:
            self.methods = reference.resolver_methods(self.model)  # UnsupportedOpError names the op
            # In a child process: TFLM trusts the flatbuffer, a bad one must not kill us.
            measured = reference.measure_arena(self.model)
            self.tflm_arena = measured
            self.arena = arena_size(measured.total, measured.head, measured.tail)
            extra = self.rt.arena_extra(self.model, self.board, self.options)
            if extra:  # what the board's kernels are known to need beyond the measurement
                a = self.arena
                self.arena = ArenaSize(
                    a.measured, a.head, a.tail, a.align_margin, a.scratch_margin + extra
                )
            given = self.options.tflm_arena_bytes
            if given is not None:  # the scratch margin becomes what was asked beyond
                a = self.arena
                scratch = _round_up(given, ARENA_ALIGN) - a.measured - a.align_margin
                self.arena = ArenaSize(a.measured, a.head, a.tail, a.align_margin, scratch)
                self.notes.append(f"note: arena {self.arena.bytes} B as asked (tflm_arena_bytes)")
        else:
            try:
                self.tflm_arena = reference.measure_arena(self.model)
            except TFLiteEdgeError as err:
                self.notes.append(f"note: no TFLM arena for comparison: {err}")
        if self.c_array_only:
            if self.tflm_arena is not None:  # the arena to declare beside the array in a TFLM app
                t = self.tflm_arena
                self.arena = arena_size(t.total, t.head, t.tail)
            return
        known_inputs(self.model)  # an input of a type the harness cannot feed fails here

    # -- rendering

    def common(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "label": self.label,
            "sha256": self.model.sha256,
            "sha8": self.model.sha256[:8],
            "board": self.board.name,
        }

    def render(self, template: str, **context: Any) -> str:
        return self._env.get_template(template).render(**self.common(), **context)

    def write(self, stage: Path) -> None:
        if self.c_array_only:
            files = self.c_array(cpp=self.rt.c_array_cpp)
        else:  # the board's family picks the project's layout, the runtime fills it
            files = family_of(self.board).project_files(self, self.rt, stage)
        for rel, text in files.items():
            _write_text(stage / rel, text)

    def c_array(self, *, cpp: bool) -> dict[str, str]:
        data = as_tflm_runs_it(self.model).data  # the shapes TFLM must be given
        lines = [
            ", ".join(map(_HEX_BYTE.__getitem__, data[i : i + _C_ARRAY_PER_LINE]))
            for i in range(0, len(data), _C_ARRAY_PER_LINE)
        ]
        ctx = {
            "array": self.array_name,
            "guard": f"TFLE_{self.ident.upper()}_MODEL_DATA_H",
            "header": "model_data.h",
            "lines": lines,
            "length": len(data),
        }
        source = "model_data.cc" if cpp else "model_data.c"
        return {
            "model_data.h": self.render("c_array/model_data.h.j2", **ctx),
            source: self.render(f"c_array/{source}.j2", **ctx),
        }

    @property
    def array_name(self) -> str:
        return f"g_{self.ident}_model"

    def known_input_files(self, settings_header: str) -> dict[str, str]:
        ctx = known_input_context(self.model, settings_header)
        return {
            "tfle_input.h": self.render("project/tfle_input.h.j2", **ctx),
            "tfle_input.c": self.render("project/tfle_input.c.j2", **ctx),
        }

    def tflm_sources(self) -> dict[str, str]:
        a = self.arena
        assert a is not None
        m = self.model
        from .protocol.tensors import input_layout, output_layout

        settings = {
            "inputs": input_layout(m),
            "outputs": output_layout(m),
            "input_bytes": sum(t.nbytes for t in m.input_tensors),
            "output_bytes": sum(t.nbytes for t in m.output_tensors),
            "num_layers": len(m.operators),
            "runs": self.runs,
            "profile": int(self.profile),
            "measured": a.measured,
            "head": a.head,
            "tail": a.tail,
            "margin": a.margin,
            "align_margin": a.align_margin,
            "scratch_margin": a.scratch_margin,
            "arena_bytes": a.bytes,
        }
        files = self.c_array(cpp=True)
        files.update(self.known_input_files("model_settings.h"))
        files["model_settings.h"] = self.render("tflm/model_settings.h.j2", **settings)
        files["op_resolver.h"] = self.render("tflm/op_resolver.h.j2", methods=self.methods)
        files["main.cc"] = self.render(
            "tflm/main.cc.j2",
            array=self.array_name,
            inputs=settings["inputs"],
            outputs=settings["outputs"],
        )
        return files

    def esp_project(self, srcs: list[str], *, aot: bool = False) -> dict[str, str]:
        b = self.board
        ctx = {
            "idf_target": b.idf_target or b.name,
            "project_name": f"tfle_{self.ident}",
            "srcs": sorted(srcs),
            "include_dirs": ["."],
            "dependencies": [] if aot else [ESP_TFLITE_MICRO],
            # The AOT harness takes its settings from the command line (firmware/Makefile).
            "definitions": [
                f'TFLE_BOARD_NAME=\\"{b.name}\\"',
                'TFLE_RUNTIME_NAME=\\"aot\\"',
                f"TFLE_RUNS={self.runs}",
                *(["TFLE_PROFILE=1"] if self.profile else []),
            ]
            if aot
            # The TFLM model side names its model API header; the harness yields between runs.
            else [
                'TFLE_MODEL_HEADER=\\"model_settings.h\\"',
                f'TFLE_KERNELS_NAME=\\"{self.facts.get("tflm_kernels", b.tflm_kernels)}\\"',
                "TFLE_BOARD_YIELD=1",
            ],
            "cpu_mhz": b.clock_hz // 1_000_000,
            "main_stack": ESP_MAIN_STACK,
            "baud": b.baud,
        }
        return {
            "CMakeLists.txt": self.render("esp_idf/CMakeLists.txt.j2", **ctx),
            "sdkconfig.defaults": self.render("esp_idf/sdkconfig.defaults.j2", **ctx),
            "main/CMakeLists.txt": self.render("esp_idf/main_CMakeLists.txt.j2", **ctx),
            "main/idf_component.yml": self.render("esp_idf/idf_component.yml.j2", **ctx),
        }

    def firmware_copy(self, *, kernels: bool) -> dict[str, str]:
        """firmware/ as a Makefile project needs it, under tfle/: the build (Makefile), the
        harness, the board's support (and the AOT kernels), so that the project builds on its
        own wherever it is moved."""
        src = firmware_dir()
        parts = ["Makefile", "harness/*.[ch]", f"boards/{self.board.name}/*"]
        parts += [] if family_of(self.board).native else ["boards/common/*"]
        parts += ["kernels/*.[ch]"] if kernels else []
        files = {}
        for pattern in parts:
            for path in sorted(src.glob(pattern)):
                if path.is_file():
                    files[f"{FIRMWARE_COPY}/{path.relative_to(src).as_posix()}"] = path.read_text()
        return files

    def esp_harness_sources(self) -> dict[str, str]:
        """The harness and the ESP board functions, copied so that the ESP-IDF project stands
        alone."""
        harness = firmware_dir() / "harness"
        files = {src.name: src.read_text() for src in sorted(harness.glob("*.[ch]"))}
        in_bytes = sum(t.nbytes for t in self.model.input_tensors)  # every input, packed
        rx = max(1024, 2 * in_bytes + 256)
        files["tfle_board_esp.c"] = self.render("esp_idf/tfle_board_esp.c.j2", rx_buffer=rx)
        return files

    def esp_aot_sources(self) -> dict[str, str]:
        """The harness, the ESP board functions and the kernels of an AOT ESP-IDF project."""
        from .compiler import kernel_include_dir

        files = self.esp_harness_sources()
        for src in sorted(kernel_include_dir().glob("*.[ch]")):
            files[src.name] = src.read_text()
        return files

    def compile_aot(self, where: Path):
        from .compiler import compile_aot

        where.mkdir(parents=True, exist_ok=True)
        return compile_aot(self.model, where, profile=self.profile, name=self.label)

    # -- the manifest and the result

    def manifest(self, files: list[str]) -> str:
        doc = {
            "generator": "tflite-edge",
            "version": __version__,
            "model": {"name": self.label, "sha256": self.model.sha256},
            "board": self.board.name,
            "runtime": self.runtime,
            "c_array_only": self.c_array_only,
            "files": [f for f in files if f != MANIFEST],
        }
        if self.arena is not None:
            doc["arena_bytes"] = self.arena.bytes
            doc["tflm_arena_measured"] = self.arena.measured
        doc.update(self.facts)
        if self.aot is not None:
            doc["ram_bytes"] = self.aot.ram_bytes
            doc["weight_bytes"] = self.aot.weight_bytes
            doc["code_bytes"] = self.code_bytes
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"

    def result(self, out: Path, files: list[str]) -> RenderResult:
        return RenderResult(
            out_dir=out,
            files=files,
            runtime=self.runtime,
            board=self.board.name,
            model_name=self.label,
            model_sha256=self.model.sha256,
            ops=self.model.ops,
            c_array_only=self.c_array_only,
            tflm_arena=self.tflm_arena,
            arena=self.arena,
            ram_bytes=self.aot.ram_bytes if self.aot is not None else None,
            weight_bytes=self.aot.weight_bytes if self.aot is not None else None,
            code_bytes=self.code_bytes,
            runtime_reason=self.reason,
            tflm_kernels=self.facts.get("tflm_kernels"),
            notes=self.notes,
        )


# --------------------------------------------------------------------------- helpers


def _load(tflite: str | Path | bytes | Model, name: str | None) -> Model:
    model = load_model(tflite, name=name)
    if name is not None and model.name != name:
        model = Model(model.data, name=name, path=model.path)
    return model


def _label(name: str) -> str:
    """The model's name as it may appear in a comment: no quotes, newlines or comment ends."""
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)[:80] or "model"


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # newline="\n": byte-identical files whatever the platform.
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def _walk(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()}


def _is_build_output(rel: str) -> bool:
    return rel.split("/", 1)[0] in BUILD_OUTPUTS


def _read_manifest(out: Path) -> list[str] | None:
    try:
        doc = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("generator") != "tflite-edge":
        return None
    files = doc.get("files")
    return [f for f in files if isinstance(f, str)] if isinstance(files, list) else None


def _inspect_out_dir(out: Path, force: bool) -> tuple[str, list[str]]:
    """How to put the new project in place: "new", "replace" (ours before) or "merge" (force)."""
    if not out.exists():
        return "new", []
    if not out.is_dir():
        raise OutputExistsError(
            f"output directory {str(out)!r} exists and is not a directory; pass another -o",
            path=str(out),
        )
    present = _walk(out)
    if not any(out.iterdir()):
        return "new", []
    if not present:  # only empty folders: nothing to lose, write into it
        return "merge", []
    previous = _read_manifest(out)
    ours = set(previous or []) | {MANIFEST}
    foreign = sorted(f for f in present if f not in ours and not _is_build_output(f))
    if previous is not None and not foreign:
        return "replace", previous
    if force:
        return "merge", previous or []
    shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
    raise OutputExistsError(
        f"output directory {str(out)!r} holds files tflite-edge did not write ({shown}); "
        "pass an empty or new directory, or force=True (render --force) to write into it "
        "anyway (files of the same name are overwritten, others are left alone)",
        path=str(out),
        found=shown,
    )


@contextmanager
def _staging(out: Path) -> Iterator[Path]:
    """A temporary directory next to out (same filesystem, so the final move is a rename)."""
    created: list[Path] = []
    parent = out.absolute().parent
    for p in [parent, *parent.parents]:
        if p.exists():
            break
        created.append(p)
    parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.render-", dir=parent))
    stage.chmod(default_mode(directory=True))  # it becomes out: not mkdtemp's 0700
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        for p in created:  # deepest first: leave no empty parents behind
            try:
                p.rmdir()
            except OSError:
                break
        raise
    shutil.rmtree(stage, ignore_errors=True)


def _commit(stage: Path, out: Path, mode: str, previous: list[str]) -> None:
    if mode == "new":
        if out.is_dir():
            out.rmdir()  # empty (checked); rename needs it gone
        os.rename(stage, out)
    elif mode == "replace":
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=stage.parent))
        old.rmdir()
        os.rename(out, old)
        try:
            os.rename(stage, out)
        except OSError:
            os.rename(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:  # merge: ours in, our stale files out, everything else left alone
        new = _walk(stage)
        for rel in sorted(new):
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage / rel, target)
        for rel in previous:
            if rel not in new and (out / rel).is_file():
                (out / rel).unlink()
