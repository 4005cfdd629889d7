"""The host table: the AOT C compiled natively against the TFLM interpreter, same inputs.

Median wall time of interleaved runs, and (when Valgrind is installed) the instructions of one
invoke on each runtime, counted by callgrind.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import TFLiteEdgeError
from ..model import Model, known_input, load_model
from .documents import Run, document

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

    from ..reference import _capture_fd

    interp, _ = _capture_fd(2, lambda: runtime.Interpreter.from_bytes(model.data))
    return interp


def host_row(run: Run, name: str, path: Path) -> dict[str, Any]:
    """Time one model on both runtimes on the host and save its row (Valgrind counts follow)."""
    from ..compiler import build_host_runner, compile_aot

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
    doc = document(
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


def valgrind_counts(
    rows: list[tuple[str, Path, Path]], work: Path
) -> tuple[dict[str, dict] | None, str | None]:
    """({name: {"aot": Ir, "tflm": Ir}}, None) of one invoke on the known input, for rows of
    (name, model path, AOT output dir); (None, why) when Valgrind is missing or fails."""
    import sys

    from ..compiler import kernel_include_dir, kernel_sources

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
