"""The benchmark suite behind `make bench`: every figure measured in the same run as its reference.

Four tables, each row written to `<out>/<table>-<row>.json` as soon as it is measured (an
interrupted run loses nothing), then `BENCHMARKS.md` regenerated from those files:

1. emulated boards: instructions per inference read over serial from QEMU, MACs counted from
   the model, AOT RAM and flash beside the real TFLM arena, and the MLPerf Tiny published
   latencies next to our instruction count turned into an estimate at 120 MHz;
2. host: the AOT C compiled natively against the TFLM interpreter of the tflite-micro package,
   same inputs, median wall time of many runs (and Valgrind instruction counts when present);
3. compression: the digits CNN as float, int8 PTQ, int8 QAT and pruned 50/75/90 % with PQAT,
   each compiled dense and sparse;
4. pipeline: wall time of each stage from a Keras model to a flashed image on qemu-m4.

Instruction counts, byte sizes and accuracies are deterministic (seeded training with TF op
determinism, QEMU -icount); a re-run is compared with the results it replaces.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError, TFLiteEdgeError, ToolchainError
from .files import write_atomic, write_json
from .model import Model, known_input, load_model

SUITE = "tflite-edge-bench"
SCHEMA_VERSION = 1
TABLES = ("emulated", "host", "compression", "pipeline")
DEFAULT_BOARDS = ("qemu-m4", "qemu-m7", "qemu-m55")
PIPELINE_BOARD = "qemu-m4"
COMPRESSION_BOARD = "qemu-m4"
MAC_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")

# Published on-board latency (ms) of the MLPerf Tiny models, quoted from the reference models'
# README (../shared/models/README.md), which cites MLPerf Tiny v0.5 results. Data, not ours:
# every one was measured on a NUCLEO-L4R5ZI (Cortex-M4 at 120 MHz).
PUBLISHED_SOURCE = (
    "MLPerf Tiny v0.5 inference results (NUCLEO-L4R5ZI, Arm Cortex-M4 @ 120 MHz), as quoted in "
    "../shared/models/README.md"
)
PUBLISHED_CLOCK_HZ = 120_000_000
PUBLISHED_STACKS = ("TFLM reference", "X-CUBE-AI 9.0", "Plumerai")
PUBLISHED_MS: dict[str, dict[str, float]] = {
    "kws_ref_model": {"TFLM reference": 181.9, "X-CUBE-AI 9.0": 43.19, "Plumerai": 47.78},
    "ad01_int8": {"TFLM reference": 10.05, "X-CUBE-AI 9.0": 5.26, "Plumerai": 4.05},
}


@dataclass(frozen=True)
class Plan:
    """How much a run measures: the full suite or the smoke version the tests run."""

    smoke: bool
    emulated_runs: int  # inferences per flash (instruction counts repeat exactly; >1 shows it)
    host_runs: int  # timed invocations per runtime in the host table
    train_epochs: int  # float digits CNN
    prune_epochs: int  # convert(epochs=...)
    fine_tune_epochs: int  # convert(fine_tune_epochs=...)
    sparsities: tuple[float, ...]  # the pruned variants of the compression table
    qat: bool  # include the int8 QAT (unpruned) variant
    demo_sparsity: float  # the pruned variant that is "the digits demo model"


FULL = Plan(False, 5, 200, 12, 4, 2, (0.5, 0.75, 0.9), True, 0.75)
SMOKE = Plan(True, 2, 20, 2, 1, 1, (0.5,), False, 0.5)
SMOKE_MODELS = ("hello_world_int8.tflite",)


# --------------------------------------------------------------------------- results


@dataclass
class BenchResult:
    """What a bench run measured and where it wrote it."""

    out_dir: Path
    markdown: Path
    files: list[Path]
    docs: list[dict[str, Any]]
    determinism: dict[str, Any] = field(default_factory=dict)

    def table(self, name: str) -> list[dict[str, Any]]:
        """The rows of one table (emulated, host, compression, pipeline)."""
        return [d for d in self.docs if d.get("table") == name]

    def summary(self) -> str:
        """One line per table and the determinism check."""
        lines = [f"wrote {len(self.files)} result files to {self.out_dir} and {self.markdown}"]
        for name in TABLES:
            lines.append(f"  {name}: {len(self.table(name))} rows")
        d = self.determinism
        if d.get("compared"):
            verdict = "identical" if not d["differences"] else f"{len(d['differences'])} differ"
            lines.append(
                f"  against the previous results: {d['compared']} deterministic figures, {verdict}"
            )
        return "\n".join(lines)


# --------------------------------------------------------------------------- MAC counting


def count_macs(model: str | Path | bytes | Model) -> int:
    """Multiply-accumulates of one inference over CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED."""
    return sum(row["macs"] for row in macs_by_op(model))


def macs_by_op(model: str | Path | bytes | Model) -> list[dict[str, Any]]:
    """MACs of each CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED operator, from tensor shapes.

    conv: every output element sums kh * kw * (input channels per group) products;
    depthwise: kh * kw per output element; fully connected: the weights' input width per output.
    """
    m = load_model(model)
    rows = []
    for op in m.operators:
        if op.op not in MAC_OPS:
            continue
        out = m.tensors[op.outputs[0]]
        w = m.tensors[op.inputs[1]]
        outputs = int(np.prod(out.shape, dtype=np.int64))
        if op.op == "CONV_2D":
            per_output = int(np.prod(w.shape[1:], dtype=np.int64))  # [out_c, kh, kw, in_c/group]
        elif op.op == "DEPTHWISE_CONV_2D":
            per_output = int(w.shape[1] * w.shape[2])  # [1, kh, kw, in_c * multiplier]
        else:
            per_output = int(w.shape[-1])  # [units, in_features]
        rows.append({"op_index": op.index, "op": op.op, "macs": outputs * per_output})
    return rows


# --------------------------------------------------------------------------- machine facts


def _first_line(cmd: list[str]) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (proc.stdout or proc.stderr).strip()
    return text.splitlines()[0] if text else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """The machine and tool versions a run used (for the report's header)."""
    from importlib import metadata

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    from . import __version__

    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "tflite_edge": __version__,
        "qemu": _first_line(["qemu-system-arm", "--version"]),
        "arm_gcc": _first_line(["arm-none-eabi-gcc", "--version"]),
        "gcc": _first_line(["gcc", "--version"]),
        "valgrind": _first_line(["valgrind", "--version"]),
        "tensorflow": version("tensorflow-cpu") or version("tensorflow"),
        "tflite_micro": version("tflite-micro") or version("tflite_micro"),
    }


# --------------------------------------------------------------------------- writing results


def _doc(table: str, key: str, **fields: Any) -> dict[str, Any]:
    return {"suite": SUITE, "schema": SCHEMA_VERSION, "table": table, "key": key, **fields}


def _file_name(doc: dict[str, Any]) -> str:
    return f"{doc['table']}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', doc['key'])}.json"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def _write_json(path: Path, doc: dict[str, Any]) -> Path:
    """Write one JSON document atomically (temp file in the same folder, then a rename)."""
    return write_json(path, _jsonable(doc), parents=True)


def _write_text(path: Path, text: str) -> Path:
    return write_atomic(path, text, parents=True)


def load_results(out_dir: str | Path) -> list[dict[str, Any]]:
    """Every bench result document in out_dir (files that are not ours are ignored)."""
    docs = []
    for path in sorted(Path(out_dir).glob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(doc, dict) and doc.get("suite") == SUITE:
            doc["_file"] = path.name
            docs.append(doc)
    return docs


# Fields whose values must repeat exactly from one run to the next (per table).
_DETERMINISTIC = {
    "emulated": ("model_sha256", "macs", "instructions.median", "aot_ram_bytes",
                 "weight_bytes", "image_flash_bytes", "image_ram_bytes", "output_crc32",
                 "tflm_arena.total"),
    "host": ("model_sha256", "outputs_equal", "valgrind.aot", "valgrind.tflm"),
    "compression": ("tflite_sha256", "tflite_bytes", "accuracy", "dense.flash_bytes",
                    "sparse.flash_bytes", "dense.instructions", "sparse.instructions"),
    "pipeline": ("model_sha256",),
}  # fmt: skip


def _get(doc: dict[str, Any], dotted: str) -> Any:
    value: Any = doc
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def compare_runs(old: Iterable[dict], new: Iterable[dict]) -> dict[str, Any]:
    """Deterministic figures of two runs, row by row: how many compared, which differ."""
    before = {(d["table"], d["key"]): d for d in old if d.get("table") in _DETERMINISTIC}
    compared, differences = 0, []
    for d in new:
        prev = before.get((d.get("table"), d.get("key")))
        if prev is None:
            continue
        for f in _DETERMINISTIC[d["table"]]:
            a, b = _get(prev, f), _get(d, f)
            if a is None and b is None:
                continue
            compared += 1
            if a != b:
                differences.append(
                    {"table": d["table"], "row": d["key"], "field": f, "before": a, "now": b}
                )
    return {"compared": compared, "differences": differences}


# --------------------------------------------------------------------------- the run


class _Run:
    """One bench run: the plan, where files go, progress, and the documents written so far."""

    def __init__(self, out: Path, work: Path, plan: Plan, progress: Callable[[str], None]):
        self.out = out
        self.work = work
        self.plan = plan
        self.progress = progress
        self.docs: list[dict[str, Any]] = []
        self.files: list[Path] = []
        self.step = 0
        self.steps = 0

    def tick(self, message: str) -> None:
        self.step += 1
        self.progress(f"[{self.step}/{self.steps}] {message}")

    def save(self, doc: dict[str, Any]) -> dict[str, Any]:
        doc = {k: v for k, v in doc.items() if k != "_file"}
        path = _write_json(self.out / _file_name(doc), doc)
        doc = {**doc, "_file": path.name}
        self.docs = [d for d in self.docs if d.get("_file") != path.name] + [doc]
        if path not in self.files:
            self.files.append(path)
        return doc


def bench(
    *,
    out: str | Path = "bench/results",
    markdown: str | Path = "BENCHMARKS.md",
    boards: Iterable[str] = DEFAULT_BOARDS,
    smoke: bool = False,
    progress: Callable[[str], None] | None = None,
    models_dir: str | Path | None = None,
    work_dir: str | Path | None = None,
) -> BenchResult:
    """Run the benchmark suite; write one JSON per measured row into out, then the Markdown.

    smoke=True runs a small version (the first board, hello_world, a tiny compression grid)
    so the suite cannot rot. models_dir defaults to ../shared/models; build trees go to
    work_dir (default: a `work` folder next to out).
    """
    from .boards import get_board

    plan = SMOKE if smoke else FULL
    board_list = list(dict.fromkeys(boards))
    if not board_list:
        raise TFLiteEdgeError("no boards to benchmark; pass at least one, e.g. qemu-m4")
    if smoke:
        board_list = board_list[:1]
    for name in board_list:
        b = get_board(name)  # an unknown board fails before any work, with the known ones listed
        if not b.emulated:
            raise TFLiteEdgeError(
                f"board {name!r} is not emulated; the benchmark tables compare instruction "
                "counts from QEMU boards (qemu-m4, qemu-m7, qemu-m55)"
            )
    models = _reference_models(models_dir, smoke)
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm", "gcc"):
        if shutil.which(tool) is None:
            raise ToolchainError(
                f"{tool} is not on PATH; the benchmarks build and run firmware: "
                "apt-get install gcc gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm",
                tool=tool,
            )
    out_dir = Path(out)
    md_path = Path(markdown)
    # Absolute: the Valgrind runs start in a folder of their own.
    work = (Path(work_dir) if work_dir is not None else out_dir.parent / "work").resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise TFLiteEdgeError(f"output path {str(out_dir)!r} is a file; pass a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)

    # Results of an earlier run are the baseline of the determinism check, then removed so that
    # the tables only ever show figures of one run.
    previous = load_results(out_dir)
    for d in previous:
        (out_dir / d["_file"]).unlink(missing_ok=True)

    started = time.perf_counter()
    run = _Run(out_dir, work, plan, progress or (lambda _m: None))
    ref_models = [(p.stem, p) for p in models]
    demo_rows = 0 if smoke else 1
    emulated_steps = len(board_list) * (len(ref_models) + demo_rows)
    compression_steps = 1 + len(_variants(plan)) + 1  # training, variants, pipeline
    host_steps = len(ref_models) + demo_rows + 1  # one per model, then Valgrind
    run.steps = emulated_steps + compression_steps + host_steps
    run.save(
        _doc(
            "run",
            "run",
            smoke=smoke,
            boards=board_list,
            models=[name for name, _ in ref_models],
            plan=vars(plan),
            machine=machine_info(),
        )
    )

    with _deterministic_tf():
        for name, path in ref_models:
            for board in board_list:
                run.tick(f"emulated: {name} on {board}")
                _emulated_row(run, board, name, path, source=f"../shared/models/{path.name}")
        _write_text(md_path, render_markdown(run.docs))  # partial tables while the run goes on
        demo_path = _compression_and_pipeline(run)
        _write_text(md_path, render_markdown(run.docs))
    host_models = list(ref_models)
    if not smoke:
        demo_source = f"digits CNN pruned {plan.demo_sparsity:.0%} + PQAT, as in `make demo`"
        for board in board_list:
            run.tick(f"emulated: digits demo model on {board}")
            _emulated_row(run, board, "digits_demo", demo_path, source=demo_source)
        host_models.append(("digits_demo", demo_path))
    host_docs = []
    for name, path in host_models:
        run.tick(f"host: AOT (gcc -O2) vs TFLM interpreter, {name}")
        host_docs.append(_host_row(run, name, path))
    run.tick(
        "host: instruction counts under Valgrind"
        if shutil.which("valgrind")
        else "host: Valgrind not installed, no instruction counts"
    )
    counts, why = _valgrind_counts(
        [(name, path, run.work / "host" / name) for name, path in host_models], work
    )
    for d in host_docs:
        run.save({**d, "valgrind": counts[d["model"]] if counts else None, "valgrind_note": why})

    determinism = compare_runs(previous, run.docs)
    run.save(
        {
            **next(d for d in run.docs if d["table"] == "run"),
            "determinism": determinism,
            "wall_seconds": time.perf_counter() - started,
        }
    )
    md = _write_text(md_path, render_markdown(run.docs))
    return BenchResult(out_dir, md, sorted(run.files), run.docs, determinism)


def _reference_models(models_dir: str | Path | None, smoke: bool) -> list[Path]:
    where = Path(models_dir) if models_dir is not None else Path("..") / "shared" / "models"
    if not where.is_dir():
        raise DataError(
            f"reference models folder {str(where)!r} not found; run from the project root "
            "(next to ../shared/models) or pass models_dir (CLI --models-dir)"
        )
    paths = sorted(where.glob("*.tflite"))
    if smoke:
        paths = [p for p in paths if p.name in SMOKE_MODELS] or paths[:1]
    if not paths:
        raise DataError(f"no .tflite models in {str(where)!r}; expected the reference models")
    for path in paths:  # a corrupt model stops the run before earlier results are replaced
        load_model(path)
    return paths


class _deterministic_tf:
    """TF op determinism for the run (seeded training then repeats bit for bit), undone after."""

    def __init__(self) -> None:
        self.enabled = False

    @staticmethod
    def _config() -> Any:
        from .optimize import _tf

        _tf()  # sets the environment (legacy Keras, quiet logs) before TensorFlow loads
        from tensorflow.python.framework import config

        return config

    def __enter__(self) -> _deterministic_tf:
        config = self._config()
        if not config.is_op_determinism_enabled():
            config.enable_op_determinism()
            self.enabled = True
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self._config().disable_op_determinism()


# --------------------------------------------------------------------------- host table

HOST_INPUTS = 8  # distinct seeded inputs cycled through the timed runs
HOST_WARMUP = 5


def _host_inputs(model: Model, n: int) -> np.ndarray:
    """The known input first, then seeded random inputs over the whole int8 range."""
    x0 = known_input(model)
    t = model.input_tensors[0]
    info = np.iinfo(t.dtype)
    rng = np.random.default_rng(int(model.sha256[8:16], 16))
    rest = rng.integers(info.min, info.max + 1, size=(n - 1, *x0.shape), dtype=t.dtype)
    return np.concatenate([x0[None], rest])


def _tflm_interpreter(model: Model) -> Any:
    from tflite_micro.python.tflite_micro import runtime

    from .reference import _capture_fd

    interp, _ = _capture_fd(2, lambda: runtime.Interpreter.from_bytes(model.data))
    return interp


def _host_row(run: _Run, name: str, path: Path) -> dict[str, Any]:
    from .compiler import build_host_runner, compile_aot

    model = load_model(path)
    where = run.work / "host" / name
    if where.exists():
        shutil.rmtree(where)
    aot = compile_aot(model, where, sparse="auto")
    runner = build_host_runner(where, cflags=("-O2",))
    lib = ctypes.CDLL(str(runner.path))
    invoke = lib.tfle_model_invoke
    invoke.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    invoke.restype = ctypes.c_int
    interp = _tflm_interpreter(model)
    in_shape = tuple(int(s) for s in interp.get_input_details(0)["shape"])

    xs = np.ascontiguousarray(_host_inputs(model, HOST_INPUTS))
    out_aot = np.zeros((len(xs), runner.output_bytes), np.int8)
    out_tflm = np.zeros_like(out_aot)
    for i, x in enumerate(xs):
        if invoke(x.ctypes.data, out_aot[i].ctypes.data) != 0:
            raise TFLiteEdgeError(f"the host AOT build of {name} failed to invoke")
        interp.set_input(x.reshape(in_shape), 0)
        interp.invoke()
        out_tflm[i] = np.asarray(interp.get_output(0)).reshape(-1).view(np.int8)

    # Interleaved, so that load from elsewhere on the machine hits both runtimes alike; only the
    # invoke call itself is inside the timer (inputs are set before it starts).
    aot_ns: list[int] = []
    tflm_ns: list[int] = []
    out = np.zeros(runner.output_bytes, np.int8)
    clock = time.perf_counter_ns
    for i in range(HOST_WARMUP + run.plan.host_runs):
        x = xs[i % len(xs)]
        interp.set_input(x.reshape(in_shape), 0)
        t0 = clock()
        interp.invoke()
        t1 = clock()
        p_in, p_out = x.ctypes.data, out.ctypes.data
        t2 = clock()
        invoke(p_in, p_out)
        t3 = clock()
        if i >= HOST_WARMUP:
            tflm_ns.append(t1 - t0)
            aot_ns.append(t3 - t2)
    aot_us = statistics.median(aot_ns) / 1000
    tflm_us = statistics.median(tflm_ns) / 1000
    doc = _doc(
        "host",
        name,
        model=name,
        model_sha256=model.sha256,
        inputs=len(xs),
        runs=run.plan.host_runs,
        outputs_equal=bool(np.array_equal(out_aot, out_tflm)),
        aot_cflags="-O2",
        aot_ram_bytes=aot.ram_bytes,
        aot_median_us=aot_us,
        aot_min_us=min(aot_ns) / 1000,
        tflm_median_us=tflm_us,
        tflm_min_us=min(tflm_ns) / 1000,
        speedup=tflm_us / aot_us if aot_us > 0 else None,
        valgrind=None,
    )
    return run.save(doc)


# Valgrind (callgrind) counts the x86-64 instructions of one invoke on each runtime, when it is
# installed: the deterministic counterpart of the wall times. TFLM runs in one Python process
# over all models, a dump after each invoke separating them; the AOT model runs in a small C
# driver (callgrind does not see ctypes' libffi calls enter the function).
_TFLM_SCRIPT = r"""
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
for model_path, input_path in zip(*[iter(sys.argv[1:])] * 2):
    x = np.load(input_path)
    interp = runtime.Interpreter.from_bytes(open(model_path, "rb").read())
    interp.set_input(x.reshape(interp.get_input_details(0)["shape"]), 0)
    interp.invoke()
"""
_AOT_DRIVER = r"""
#include <stdint.h>
#include <stdio.h>
#include "tfle_model.h"
static int8_t input[TFLE_INPUT_BYTES], output[TFLE_OUTPUT_BYTES];
int main(int argc, char **argv) {
  FILE *f = argc > 1 ? fopen(argv[1], "rb") : NULL;
  if (!f || fread(input, 1, sizeof input, f) != sizeof input) return 3;
  fclose(f);
  int rc = tfle_model_invoke(input, output);
  fwrite(output, 1, sizeof output, stdout);
  return rc;
}
"""
_TFLM_INVOKE = "tflite::micro::MicroInterpreter::Invoke()"


class _ValgrindFailed(Exception):
    """A Valgrind count that could not be taken (the table then shows none, and why)."""


def _callgrind(cmd: list[str], toggle: str, out: Path, *, dump: bool = False) -> list[int]:
    """Ir counted inside `toggle` (one count per call with dump=True)."""
    for old in out.parent.glob(out.name + "*"):
        old.unlink()
    vg = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        "--collect-atstart=no",
        f"--toggle-collect={toggle}",
        *([f"--dump-after={toggle}"] if dump else []),
    ]
    # The AOT driver writes the raw output bytes: not text, and not needed here.
    proc = subprocess.run(
        [*vg, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        errors="replace", cwd=out.parent,
    )  # fmt: skip
    if proc.returncode != 0:
        raise _ValgrindFailed(
            f"{Path(cmd[0]).name} under callgrind exited with {proc.returncode}: "
            f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}"
        )
    files = (
        [out]
        if not dump
        else sorted(out.parent.glob(out.name + ".*"), key=lambda p: int(p.name.rsplit(".", 1)[1]))
    )
    counts = []
    for f in files:
        m = re.search(r"^summary:\s*(\d+)", f.read_text(errors="replace"), re.M)
        if m is None:
            raise _ValgrindFailed(f"callgrind wrote no summary into {f.name}")
        counts.append(int(m.group(1)))
    return counts


def _valgrind_counts(
    rows: list[tuple[str, Path, Path]], work: Path
) -> tuple[dict[str, dict] | None, str | None]:
    """({name: {"aot": Ir, "tflm": Ir}}, None) of one invoke on the known input, for rows of
    (name, model path, AOT output dir); (None, why) when Valgrind is missing or fails."""
    import sys

    from .compiler import kernel_include_dir, kernel_sources

    if shutil.which("valgrind") is None:
        return None, "Valgrind is not installed"
    where = work / "valgrind"
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    (where / "tflm_invoke.py").write_text(_TFLM_SCRIPT)
    (where / "aot_driver.c").write_text(_AOT_DRIVER)
    result: dict[str, dict] = {}
    tflm_args: list[str] = []
    try:
        for name, model_path, aot_dir in rows:
            model_path, aot_dir = Path(model_path).resolve(), Path(aot_dir).resolve()
            x = known_input(load_model(model_path))
            np.save(where / f"{name}.npy", x)
            (where / f"{name}.bin").write_bytes(x.tobytes())
            tflm_args += [str(model_path), str(where / f"{name}.npy")]
            exe = where / f"aot_{name}"
            build = subprocess.run(
                ["gcc", "-std=c99", "-O2", f"-I{aot_dir}", f"-I{kernel_include_dir()}",
                 str(where / "aot_driver.c"), str(aot_dir / "tfle_model.c"),
                 *map(str, kernel_sources()), "-o", str(exe), "-lm"],
                capture_output=True, text=True,
            )  # fmt: skip
            if build.returncode != 0:
                raise _ValgrindFailed(f"gcc could not build the AOT driver: {build.stderr[-500:]}")
            aot = _callgrind(
                [str(exe), str(where / f"{name}.bin")],
                "tfle_model_invoke",
                where / f"cg_aot_{name}.out",
            )
            result[name] = {"aot": aot[0]}
        tflm = _callgrind(
            [sys.executable, str(where / "tflm_invoke.py"), *tflm_args],
            _TFLM_INVOKE,
            where / "cg_tflm.out",
            dump=True,
        )
    except _ValgrindFailed as err:
        return None, str(err)
    if len(tflm) != len(rows):
        return None, f"callgrind counted {len(tflm)} TFLM invokes, expected {len(rows)}"
    for (name, _, _), count in zip(rows, tflm, strict=True):
        result[name]["tflm"] = count
    return result, None


# --------------------------------------------------------------------------- object sizes


def object_sizes(model_dir: str | Path, board: str = "qemu-m4") -> dict[str, int]:
    """Bytes of the compiled AOT model and the kernels it reaches, for the board's CPU.

    tfle_model.c is compiled with the firmware's flags (-O2, function/data sections) and linked
    relocatably with the kernel objects, keeping only what tfle_model_invoke reaches; `size -A`
    then splits code (.text), constants (.rodata: weights, biases, multipliers), initialised
    data and zeroed RAM (.bss, the activation arena). flash = code + constants + data.
    """
    from .boards import get_board
    from .compiler import kernel_include_dir, kernel_objects

    b = get_board(board)
    cc = b.toolchain
    if not cc.endswith("gcc") or shutil.which(cc) is None:
        raise ToolchainError(f"board {b.name} has no gcc toolchain on PATH ({cc})", tool=cc)
    size_tool = cc[: -len("gcc")] + "size"
    flags = (*b.cflags, "-O2", "-ffunction-sections", "-fdata-sections")
    model_dir = Path(model_dir)
    kernels = kernel_objects(cc, flags)
    with tempfile.TemporaryDirectory() as tmp:
        model_o = Path(tmp) / "tfle_model.o"
        linked = Path(tmp) / "linked.o"
        steps = [
            [cc, "-std=c99", *flags, f"-I{kernel_include_dir()}", f"-I{model_dir}", "-c",
             str(model_dir / "tfle_model.c"), "-o", str(model_o)],
            [cc, *flags, "-nostdlib", "-Wl,-r", "-Wl,--gc-sections", "-Wl,-e,tfle_model_invoke",
             str(model_o), *map(str, kernels), "-o", str(linked)],
        ]  # fmt: skip
        for cmd in steps:
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise ToolchainError(f"{cc} failed:\n{proc.stderr[-3000:]}", tool=cc)
        table = subprocess.run([size_tool, "-A", str(linked)], capture_output=True, text=True)
        if table.returncode != 0:
            raise ToolchainError(f"{size_tool} failed: {table.stderr[-2000:]}", tool=size_tool)
    sizes = {"code": 0, "constants": 0, "data": 0, "bss": 0}
    for line in table.stdout.splitlines():
        parts = line.split()
        if len(parts) < 2 or not parts[1].isdigit():
            continue
        name, n = parts[0], int(parts[1])
        if name.startswith(".text"):
            sizes["code"] += n
        elif name.startswith(".rodata"):
            sizes["constants"] += n
        elif name.startswith(".data"):
            sizes["data"] += n
        elif name.startswith(".bss") or name.startswith("COMMON"):
            sizes["bss"] += n
    sizes["flash"] = sizes["code"] + sizes["constants"] + sizes["data"]
    return sizes


# --------------------------------------------------------------------------- compression + pipeline


def _variants(plan: Plan) -> list[tuple[str, str, dict[str, Any]]]:
    """(key, label, convert() arguments) of each int8 variant of the compression table."""
    out = [("int8_ptq", "int8 PTQ", {"qat": False})]
    if plan.qat:
        out.append(("int8_qat", "int8 QAT", {}))
    for s in plan.sparsities:
        out.append((f"pruned{round(100 * s)}", f"int8 pruned {s:.0%} + PQAT", {"sparsity": s}))
    return out


def _compression_and_pipeline(run: _Run) -> Path:
    """Train the digits CNN once, convert every variant, measure each dense and sparse on the
    compression board; time the pipeline stages on the demo variant. Returns its .tflite."""
    from . import convert
    from .demo import digits_data, train_digits_cnn

    plan = run.plan
    train, test = digits_data()
    run.tick(f"training the float digits CNN ({plan.train_epochs} epochs)")
    t0 = time.perf_counter()
    float_model = train_digits_cnn(train, epochs=plan.train_epochs)
    train_s = time.perf_counter() - t0
    models = run.work / "models"
    models.mkdir(parents=True, exist_ok=True)
    demo_key = f"pruned{round(100 * plan.demo_sparsity)}"
    demo_path = models / f"digits_{demo_key}.tflite"
    convert_s: dict[str, float] = {}
    float_saved = False
    for order, (key, label, kwargs) in enumerate(_variants(plan), start=1):
        run.tick(
            f"compression: {label} (convert, compile dense and sparse, flash {COMPRESSION_BOARD})"
        )
        t0 = time.perf_counter()
        result = convert(
            float_model,
            train_data=train,
            validation_data=test,
            epochs=plan.prune_epochs,
            fine_tune_epochs=plan.fine_tune_epochs,
            **kwargs,
        )
        convert_s[key] = time.perf_counter() - t0
        m = result.metrics
        if not float_saved:
            # The float model's own row: Keras accuracy on the same test split, float .tflite.
            run.save(
                _doc(
                    "compression",
                    "float",
                    order=0,
                    variant="float",
                    label="float (Keras)",
                    accuracy=m["float_accuracy"],
                    accuracy_from="Keras float model, test split",
                    tflite_bytes=m["float_bytes"],
                    test_samples=m["eval_samples"],
                    train_epochs=plan.train_epochs,
                )
            )
            float_saved = True
        path = result.save(models / f"digits_{key}.tflite")
        model = load_model(path)
        doc = _doc(
            "compression",
            key,
            order=order,
            variant=key,
            label=label,
            method=m["method"],
            accuracy=m["int8_accuracy"],
            accuracy_from="TFLM interpreter (int8), test split",
            test_samples=m["eval_samples"],
            float_accuracy=m["float_accuracy"],
            sparsity=m["sparsity"],
            tflite_bytes=len(result.tflite),
            tflite_sha256=model.sha256,
            tflm_arena_bytes=m["arena_bytes"],
            macs=count_macs(model),
            board=COMPRESSION_BOARD,
        )
        for mode, sparse in (("dense", False), ("sparse", True)):
            doc[mode] = _aot_variant(run, model, key, mode, sparse)
        run.save(doc)

    if demo_path.exists():
        _pipeline(run, demo_path, train_s, convert_s[demo_key])
    return demo_path


def _aot_variant(run: _Run, model: Model, key: str, mode: str, sparse: bool) -> dict[str, Any]:
    """Compile one variant dense or sparse: object sizes, then instructions on the board."""
    from .compiler import compile_aot

    where = run.work / "compression" / key / mode
    if where.exists():
        shutil.rmtree(where)
    aot = compile_aot(model, where / "model", sparse=sparse)
    sizes = object_sizes(where / "model", COMPRESSION_BOARD)
    flashed = _flash_staged(run, model, COMPRESSION_BOARD, where / "board", sparse=sparse)
    return {
        "sparse_layers": len(aot.sparse_layers),
        "ram_bytes": aot.ram_bytes,
        "weight_bytes": aot.weight_bytes,
        "object": sizes,
        "flash_bytes": sizes["flash"],
        "instructions": flashed["instructions"]["median"],
        "instructions_identical": flashed["instructions"]["identical"],
        "image_flash_bytes": flashed["image_flash_bytes"],
        "output_crc32": flashed["output_crc32"],
    }


def _pipeline(run: _Run, model_path: Path, train_s: float, convert_s: float) -> dict[str, Any]:
    """Wall time of each stage from the Keras model to a flashed, measured image."""
    run.tick(f"pipeline: render, build, flash on {PIPELINE_BOARD}")
    model = load_model(model_path)
    flashed = _flash_staged(run, model, PIPELINE_BOARD, run.work / "pipeline", sparse=None)
    stages = [
        {"stage": "train", "what": f"float digits CNN, {run.plan.train_epochs} epochs",
         "seconds": train_s},
        {"stage": "optimize + convert",
         "what": f"convert(): prune {run.plan.demo_sparsity:.0%} ({run.plan.prune_epochs} epochs), "
                 f"PQAT ({run.plan.fine_tune_epochs} epochs), int8 conversion, TFLM accuracy",
         "seconds": convert_s},
        *flashed["stages"],
    ]  # fmt: skip
    doc = _doc(
        "pipeline",
        "pipeline",
        board=PIPELINE_BOARD,
        model=model_path.name,
        model_sha256=model.sha256,
        stages=stages,
        total_seconds=sum(s["seconds"] for s in stages),
        instructions=flashed["instructions"]["median"],
    )
    return run.save(doc)


# --------------------------------------------------------------------------- emulated table


def _crc32_hex(data: bytes) -> str:
    return f"{zlib.crc32(data) & 0xFFFFFFFF:08x}"


def _tflm_facts(run: _Run, model: Model) -> dict[str, Any]:
    """TFLM's arena and its output CRC on the known input (cached per model: host facts)."""
    cache = run.__dict__.setdefault("_tflm_cache", {})
    if model.sha256 not in cache:
        from .reference import Reference

        ref = Reference(model)
        arena = ref.arena()
        out = ref.run_one(known_input(model))
        cache[model.sha256] = {
            "arena": {"total": arena.total, "activations": arena.activations, "tail": arena.tail},
            "output_crc32": _crc32_hex(np.ascontiguousarray(out).tobytes()),
        }
    return cache[model.sha256]


def _emulated_row(run: _Run, board: str, name: str, path: Path, *, source: str) -> dict[str, Any]:
    from .boards import get_board
    from .compiler import compile_aot

    model = load_model(path)
    b = get_board(board)
    where = run.work / "emulated" / board / name
    if where.exists():
        shutil.rmtree(where)
    macs = count_macs(model)
    aot = compile_aot(model, where / "model", sparse="auto")
    sizes = object_sizes(where / "model", board)
    flashed = _flash(run, model, board, where / "board")
    tflm = _tflm_facts(run, model)
    instr = flashed["instructions"]["median"]
    arena = tflm["arena"]
    doc = _doc(
        "emulated",
        f"{board}-{name}",
        board=board,
        cpu=b.cpu,
        qemu_machine=b.qemu_machine,
        model=name,
        source=source,
        model_sha256=model.sha256,
        macs=macs,
        instructions=flashed["instructions"],
        instructions_per_mac=instr / macs if macs else None,
        aot_ram_bytes=aot.ram_bytes,
        weight_bytes=aot.weight_bytes,
        object=sizes,
        code_bytes=sizes["code"],
        image_flash_bytes=flashed["image_flash_bytes"],
        image_ram_bytes=flashed["image_ram_bytes"],
        tflm_arena=arena,
        ram_ratio=aot.ram_bytes / arena["total"] if arena["total"] else None,
        ram_ratio_activations=aot.ram_bytes / arena["activations"]
        if arena["activations"]
        else None,
        output_crc32=flashed["output_crc32"],
        tflm_output_crc32=tflm["output_crc32"],
        bit_exact=flashed["output_crc32"] == tflm["output_crc32"],
        estimate_ms_at_120mhz=instr / PUBLISHED_CLOCK_HZ * 1e3,
        published_ms=PUBLISHED_MS.get(name),
    )
    return run.save(doc)


# --------------------------------------------------------------------------- Markdown


def _n(v: Any, digits: int = 0) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "**no**"
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:,.{digits}f}"


def _pct(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{100 * v:.{digits}f} %"


def _md_table(headers: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    right = right if right is not None else set(range(1, len(headers)))
    align = ["---:" if i in right else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _header(run: dict[str, Any] | None) -> list[str]:
    m = (run or {}).get("machine", {})
    qemu = m.get("qemu") or "qemu-system-arm (version unknown)"
    qemu_short = re.sub(r"^QEMU emulator version ", "QEMU ", qemu).split(" (")[0]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`tflite-edge bench --out bench/results --markdown "
        "BENCHMARKS.md`) from the JSON files in `bench/results/`, one file per measured row; "
        "do not edit by hand. Every figure in a row was measured in the same run as the "
        "reference it is compared with.",
        "",
        f"- Machine: {m.get('cpus', '?')}-core {m.get('machine', '')} "
        f"({m.get('cpu_model', 'unknown CPU')}), {m.get('system', '')}; shared with other work, "
        "so wall times vary between runs, instruction counts and sizes do not.",
        f"- Emulation: {qemu_short} (`qemu-system-arm -icount shift=…`): every emulated "
        "instruction advances virtual time by a fixed step, so a latency on the emulated "
        "boards is an exact, repeatable instruction count, not silicon time.",
        f"- Tools: {m.get('arm_gcc') or 'arm-none-eabi-gcc'} and {m.get('gcc') or 'gcc'} at -O2; "
        f"TensorFlow {m.get('tensorflow') or '?'}; tflite-micro {m.get('tflite_micro') or '?'}; "
        f"{m.get('valgrind') or 'Valgrind not installed'}.",
    ]
    if run and run.get("wall_seconds") is not None:
        lines.append(
            f"- The whole run took {run['wall_seconds'] / 60:.1f} minutes of wall time "
            "(training, conversion, builds, QEMU and host runs)."
        )
    if run and run.get("smoke"):
        lines.append(
            "- **Smoke run** (`--smoke`): one board, one reference model, a tiny "
            "compression grid with few epochs. These are not the benchmark figures."
        )
    det = (run or {}).get("determinism")
    if det is not None:
        if not det.get("compared"):
            lines.append("- Determinism: no earlier results in the folder to compare with.")
        elif not det.get("differences"):
            lines.append(
                f"- Determinism: this run was compared with the results it replaced: "
                f"{det['compared']} instruction counts, byte sizes, hashes and accuracies, "
                "all identical."
            )
        else:
            diffs = "; ".join(
                f"{d['table']}/{d['row']} {d['field']}: {d['before']} -> {d['now']}"
                for d in det["differences"][:10]
            )
            lines.append(
                f"- Determinism: compared with the results it replaced, "
                f"{len(det['differences'])} of {det['compared']} figures differ: {diffs}."
            )
    return lines


def _emulated_section(rows: list[dict]) -> list[str]:
    out = ["", "## 1. Emulated boards: AOT on QEMU, beside the TFLM interpreter", ""]
    if not rows:
        return out + ["(no rows in this run)"]
    table = []
    for d in rows:
        i = d["instructions"]
        table.append([
            d["board"], f"`{d['model']}`", _n(d["macs"]), _n(i["median"]),
            _n(d["instructions_per_mac"], 2), _n(d["aot_ram_bytes"]),
            f"{_n(d['tflm_arena']['total'])} / {_n(d['tflm_arena']['activations'])}",
            f"{_n(d['ram_ratio'], 2)} / {_n(d['ram_ratio_activations'], 2)}",
            _n(d["weight_bytes"]), _n(d["code_bytes"]), _n(d["image_flash_bytes"]),
            _n(d["bit_exact"]),
        ])  # fmt: skip
    out.append(
        _md_table(
            [
                "board",
                "model",
                "MACs",
                "instructions / inference",
                "instr. / MAC",
                "AOT RAM (B)",
                "TFLM arena total / activations (B)",
                "AOT RAM / TFLM total / activations",
                "weights (B)",
                "code (B)",
                "image flash (B)",
                "output = TFLM",
            ],
            table,
            right=set(range(2, 12)),
        )  # fmt: skip
    )
    out += [
        "",
        "- *instructions / inference*: read over serial from the board (the harness's `run` "
        "records, median of the runs; under `-icount` every run counts the same). Emulated "
        "instructions, not cycles: QEMU does not model pipelines, caches or flash wait states.",
        "- *MACs*: multiply-accumulates of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED, "
        "counted from the model's tensor shapes (`tflite_edge.benchmark.count_macs`).",
        "- *AOT RAM*: the AOT compiler's static activation arena (`ram_bytes`); *TFLM arena*: "
        "the real allocation of the TFLM interpreter from the tflite-micro package for the "
        "same model (total = activations + interpreter bookkeeping), measured on the host.",
        "- *weights* and *code*: the AOT model compiled for the board's CPU with the kernels it "
        "calls (`.rodata` constants and `.text`); *image flash*: the whole linked firmware "
        "(harness, start-up code and C library included).",
        "- *output = TFLM*: the CRC32 of the board's output on the known input equals the CRC32 "
        "of the TFLM interpreter's output.",
    ]
    published = [d for d in rows if d.get("published_ms")]
    if published:
        out += ["", "### Beside the MLPerf Tiny published latencies", ""]
        table = []
        for d in published:
            p = d["published_ms"]
            table.append([
                f"`{d['model']}`", d["board"], _n(d["instructions"]["median"]),
                _n(d["estimate_ms_at_120mhz"], 2),
                *[_n(p.get(s), 2) for s in PUBLISHED_STACKS],
            ])  # fmt: skip
        out.append(
            _md_table(
                [
                    "model",
                    "our board",
                    "our instructions",
                    "our estimate at 120 MHz (ms)",
                    *[f"{s} (ms, published)" for s in PUBLISHED_STACKS],
                ],
                table,
                right=set(range(2, 4 + len(PUBLISHED_STACKS))),
            )  # fmt: skip
        )
        out += [
            "",
            f"Published figures: {PUBLISHED_SOURCE}; they are data quoted from that source, "
            "not measured here. *Our estimate* divides our emulated instruction count by "
            "120 MHz as if one instruction took one cycle: it is an **estimate**, not a "
            "measurement (a real Cortex-M4 spends more than one cycle on loads, multiplies "
            "and taken branches, and the NUCLEO's flash adds wait states).",
        ]
    return out


def _host_section(rows: list[dict]) -> list[str]:
    out = ["", "## 2. Host: AOT compiled natively vs the TFLM interpreter", ""]
    if not rows:
        return out + ["(no rows in this run)"]
    table = []
    for d in rows:
        vg = d.get("valgrind") or {}
        ratio = vg["tflm"] / vg["aot"] if vg.get("aot") else None
        table.append([
            f"`{d['model']}`", _n(d["runs"]), _n(d["aot_median_us"], 2),
            _n(d["tflm_median_us"], 2), _n(d["speedup"], 2), _n(vg.get("aot")),
            _n(vg.get("tflm")), _n(ratio, 2), _n(d["outputs_equal"]),
        ])  # fmt: skip
    out.append(
        _md_table(
            [
                "model",
                "runs",
                "AOT median (µs)",
                "TFLM median (µs)",
                "TFLM / AOT time",
                "AOT instructions (Valgrind)",
                "TFLM instructions (Valgrind)",
                "TFLM / AOT instructions",
                "outputs equal",
            ],
            table,
        )  # fmt: skip
    )
    out += [
        "",
        "- Both runtimes get the same inputs (the model's known input and seeded random ones, "
        "cycled); runs are interleaved so that load from elsewhere on the machine hits both "
        "alike. Each time covers the invoke call alone (`time.perf_counter_ns`), Python's call "
        "overhead included on both sides; the median is reported. Wall times vary from run "
        "to run; the ratio is the figure to read.",
        "- AOT: `tflite_edge.compile_aot()` C built with `gcc -O2` for x86-64. TFLM: the "
        "interpreter of the tflite-micro PyPI package (reference kernels, as built by that "
        "package).",
        "- *instructions (Valgrind)*: x86-64 instructions of one invoke on the known input, "
        "counted by callgrind: deterministic, unlike the times (`-` when they could not be "
        "taken).",
        "- *outputs equal*: AOT and TFLM outputs identical byte for byte on every input.",
    ]
    for note in sorted({d["valgrind_note"] for d in rows if d.get("valgrind_note")}):
        out.append(f"- No Valgrind counts in this run: {note}.")
    return out


def _compression_section(rows: list[dict]) -> list[str]:
    out = ["", "## 3. Compression: the digits CNN, float to pruned int8", ""]
    if not rows:
        return out + ["(no rows in this run)"]
    board = next((d.get("board") for d in rows if d.get("board")), COMPRESSION_BOARD)
    table = []
    for d in sorted(rows, key=lambda r: r.get("order", 0)):
        dense, sparse = d.get("dense") or {}, d.get("sparse") or {}
        table.append([
            d["label"], _pct(d.get("accuracy")), _pct(d.get("sparsity")), _n(d["tflite_bytes"]),
            _n(dense.get("flash_bytes")), _n(sparse.get("flash_bytes")),
            _n(dense.get("instructions")), _n(sparse.get("instructions")),
        ])  # fmt: skip
    out.append(
        _md_table(
            [
                "variant",
                "accuracy (test)",
                "weight sparsity",
                ".tflite (B)",
                "dense AOT flash (B)",
                "sparse AOT flash (B)",
                f"dense instructions ({board})",
                f"sparse instructions ({board})",
            ],
            table,
        )  # fmt: skip
    )
    tests = next((d.get("test_samples") for d in rows if d.get("test_samples")), None)
    out += [
        "",
        f"- *accuracy*: on the {tests or '?'} samples of the digits test split; float from the "
        "Keras model, int8 from the TFLM interpreter running the .tflite.",
        "- Every int8 variant starts from the same seeded float model; pruned variants use "
        "tfmot magnitude pruning then pruning-preserving QAT (PQAT).",
        "- *AOT flash*: `tfle_model.c` compiled with arm-none-eabi-gcc -O2 for Cortex-M4 and "
        "linked with only the kernels it calls (code + constants + data); *dense* keeps every "
        "weight, *sparse* encodes every weight matrix a sparse kernel handles as nonzero values "
        "with 8-bit position deltas (`compile_aot(sparse=True)`).",
        f"- *instructions*: per inference on {board}, read over serial.",
    ]
    return out


def _pipeline_section(rows: list[dict]) -> list[str]:
    out = ["", "## 4. Pipeline: from a Keras model to a flashed image", ""]
    if not rows:
        return out + ["(no rows in this run)"]
    d = rows[0]
    table = [[s["stage"], s["what"], _n(s["seconds"], 1)] for s in d["stages"]]
    table.append(["**total**", "", _n(d["total_seconds"], 1)])
    out.append(_md_table(["stage", "what", "wall time (s)"], table, right={2}))
    out += [
        "",
        f"Wall time on this machine for `{d['model']}` on {d['board']}: the public functions "
        "called one after the other, as `make demo` does. convert() does pruning, PQAT and the "
        "int8 conversion in one call, so they form one stage. Times vary with machine load.",
    ]
    return out


def render_markdown(docs: Iterable[dict[str, Any]]) -> str:
    """BENCHMARKS.md from the result documents of one run (see `load_results`)."""
    docs = list(docs)
    by = {t: [d for d in docs if d.get("table") == t] for t in (*TABLES, "run")}
    run = by["run"][0] if by["run"] else None
    board_order = {b: i for i, b in enumerate((run or {}).get("boards", []))}
    emulated = sorted(
        by["emulated"],
        key=lambda d: (d["model"] == "digits_demo", d["model"], board_order.get(d["board"], 99)),
    )
    host = sorted(by["host"], key=lambda d: (d["model"] == "digits_demo", d["model"]))
    lines = _header(run)
    lines += _emulated_section(emulated)
    lines += _host_section(host)
    lines += _compression_section(by["compression"])
    lines += _pipeline_section(by["pipeline"])
    return "\n".join(lines) + "\n"


def write_markdown(out_dir: str | Path, markdown: str | Path) -> Path:
    """Regenerate the Markdown file from the JSON results in out_dir."""
    docs = load_results(out_dir)
    if not docs:
        raise DataError(f"no benchmark results in {str(out_dir)!r}; run `tflite-edge bench` first")
    return _write_text(Path(markdown), render_markdown(docs))


# --------------------------------------------------------------------------- flashing


def _instructions(values: list[int]) -> dict[str, Any]:
    return {
        "min": min(values),
        "median": int(statistics.median_low(values)),
        "max": max(values),
        "runs": len(values),
        "identical": len(set(values)) == 1,
    }


def _flashed(result: Any) -> dict[str, Any]:
    """What the tables take from a flasher.FlashResult: instructions and image sizes."""
    doc = result.to_dict()
    if not doc["cycles_all"] or not doc["output_crc32"]:
        raise TFLiteEdgeError(
            f"{doc['board']} reported no timed run or no output CRC for {doc['model']}; "
            "flash it by hand (tflite-edge flash) to see what it printed"
        )
    return {
        "instructions": _instructions([int(c) for c in doc["cycles_all"]]),
        "output_crc32": doc["output_crc32"],
        "image_flash_bytes": doc["image_flash_bytes"],
        "image_ram_bytes": doc["image_ram_bytes"],
    }


def _flash(run: _Run, model: Model, board: str, where: Path) -> dict[str, Any]:
    """flash() the model on the board as the user would: render, build, boot, read serial."""
    from .flasher import flash

    if where.exists():
        shutil.rmtree(where)
    result = flash(
        model, board=board, runtime="aot", runs=run.plan.emulated_runs, profile=False,
        out_dir=where,
    )  # fmt: skip
    return _flashed(result)


def _flash_staged(
    run: _Run, model: Model, board: str, where: Path, *, sparse: bool | None
) -> dict[str, Any]:
    """The stages of flash() one by one, timed: render, build, boot and read over serial.

    sparse=True/False recompiles the rendered project's model C dense or sparse before the
    build (flash() always takes compile_aot's "auto" choice); `boot()` then runs the image.
    """
    from .boards import get_board
    from .builder import build
    from .compiler import compile_aot
    from .flasher import boot
    from .project import render

    b = get_board(board)
    if where.exists():
        shutil.rmtree(where)
    t0 = time.perf_counter()
    render(model, board=b, runtime="aot", out_dir=where, runs=run.plan.emulated_runs,
           profile=False, name=model.name)  # fmt: skip
    if sparse is not None:
        compile_aot(model, where, sparse=sparse, name=model.name)
    t1 = time.perf_counter()
    built = build(where, b)
    t2 = time.perf_counter()
    result = boot(model, built)
    t3 = time.perf_counter()
    flashed = _flashed(result)
    flashed["stages"] = [
        {"stage": "render", "what": "render(): AOT C, known input, Makefile",
         "seconds": t1 - t0},
        {"stage": "build", "what": "build(): make with arm-none-eabi-gcc -O2, link, budget check",
         "seconds": t2 - t1},
        {"stage": "flash + measure",
         "what": f"QEMU {board} booted, {flashed['instructions']['runs']} timed runs read over "
                 "serial (pty)",
         "seconds": t3 - t2},
    ]  # fmt: skip
    return flashed
